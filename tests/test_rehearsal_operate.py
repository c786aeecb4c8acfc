"""Operating the POC, rehearsed on the sample POC after its workflow has built it.

A run on new data trains new versions and moves each campaign to its new version only when that is not
worse on the promotion metric; the notification names a campaign that kept its version, and why.

A run started the way the scheduled refresh starts it (constructs/scheduled_refresh.py: input ``{}``) on
unchanged data creates nothing: every Personalize call it makes is a List or Describe.

The deployed cost guard: after the sample POC's workflow has built its campaigns, the
synthesized function runs in-process under its own synthesized role (IAM enforced: Personalize,
CloudWatch GetMetricData and SNS Publish), with request counts in moto's CloudWatch and Personalize
played by the double, as EventBridge Scheduler would invoke it (its tick in ``scheduledTime``).

dev deploys the guard in notify mode: the idle campaigns are reported to the topic, the one with
traffic is not, and nothing is changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal

pytestmark = pytest.mark.rehearsal
HANDLER = "poc_steps.cost_guard_handler.on_schedule"
HOUR = 3600


def _cloudwatch_actions_by_iam_name(rehearsal: Rehearsal) -> None:
    """moto authorizes CloudWatch requests as ``monitoring:<Operation>`` (the endpoint's name); IAM's
    action is ``cloudwatch:<Operation>`` (Service Authorization Reference, Amazon CloudWatch). Until the
    rehearsal's IAM layer (tests/rehearsal/iam.py) maps it, translate here so the role's real grant is what
    is evaluated."""
    role_may = rehearsal.iam.role_may

    def translated(role_arn: str, action: str, *args: Any, **kwargs: Any) -> Any:
        if action.startswith("monitoring:"):
            action = "cloudwatch:" + action.removeprefix("monitoring:")
        return role_may(role_arn, action, *args, **kwargs)

    rehearsal.iam.role_may = translated  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def built(assembly_dir: Path) -> Iterator[Rehearsal]:
    with Rehearsal(assembly_dir, "dev", durations=FAST_DURATIONS) as rehearsal:
        _cloudwatch_actions_by_iam_name(rehearsal)
        rehearsal.upload_sample_data()
        assert rehearsal.run().status == "SUCCEEDED"
        yield rehearsal


def _guard_function(rehearsal: Rehearsal) -> str:
    assert rehearsal.deployment is not None
    client = rehearsal.client("lambda")
    (name,) = [
        n
        for n in rehearsal.deployment.functions.values()
        if client.get_function(FunctionName=n)["Configuration"]["Handler"] == HANDLER
    ]
    return name


def _tick(rehearsal: Rehearsal) -> str:
    return rehearsal.clock.timestamp(rehearsal.clock.world()).isoformat().replace("+00:00", "Z")


def _put_requests(rehearsal: Rehearsal, campaign_arn: str, per_window: float, hours: int) -> None:
    now = rehearsal.clock.timestamp(rehearsal.clock.world())
    data = [
        {
            "MetricName": "GetRecommendations",
            "Dimensions": [{"Name": "CampaignArn", "Value": campaign_arn}],
            "Timestamp": now - timedelta(minutes=5 * (i + 1)),
            "Value": per_window,
        }
        for i in range(hours * 12)
    ]
    cloudwatch = rehearsal.client("cloudwatch")
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace="AWS/Personalize", MetricData=data[start : start + 500])


def test_the_deployed_guard_reports_idle_campaigns_under_its_own_role(built: Rehearsal) -> None:
    campaigns = {r.name: r.arn for r in built.double.resources() if r.kind == "campaign" and r.status == "ACTIVE"}
    assert len(campaigns) == 3, campaigns
    busy_name = next(name for name in campaigns if name.endswith("-user-personalization"))
    built.clock.advance_world(25 * HOUR)
    _put_requests(built, campaigns[busy_name], per_window=60, hours=25)
    before = len(built.sns_messages())

    response = built.client("lambda").invoke(
        FunctionName=_guard_function(built),
        Qualifier="live",
        Payload=json.dumps({"scheduledTime": _tick(built)}).encode(),
    )
    report: dict[str, Any] = json.loads(response["Payload"].read())

    assert "FunctionError" not in response, report
    assert report["mode"] == "notify"
    assert sorted(report["checked"]) == sorted(campaigns)
    reported = {a["campaign"]: (a["kind"], a["applied"]) for a in report["actions"]}
    assert reported == {name: ("idle", False) for name in campaigns if name != busy_name}
    assert {r.name: r.status for r in built.double.resources() if r.kind == "campaign"} == {
        name: "ACTIVE" for name in campaigns
    }
    (message,) = built.sns_messages()[before:]
    assert "NOT DONE (notify)" in message["message"] and busy_name not in message["message"]


def test_a_scheduled_run_on_unchanged_data_creates_nothing(built: Rehearsal) -> None:
    first = len(built.double.calls)

    run = built.run(execution_input={})  # the scheduled refresh's input

    assert run.status == "SUCCEEDED", run.cause
    operations = {operation for operation, _ in built.double.calls[first:]}
    assert operations, "the run looked at the POC"
    assert {op for op in operations if not op.startswith(("List", "Describe", "Get"))} == set(), operations


def test_a_run_on_new_data_promotes_a_better_version_and_keeps_a_worse_one_out(built: Rehearsal) -> None:
    """New interactions (a changed object) are imported and trained on; the user-personalization campaign's
    new version scores worse on the promotion metric and is kept out, the others move to theirs."""
    serving = {
        c.name: built.client("personalize").describe_campaign(campaignArn=c.arn)["campaign"]["solutionVersionArn"]
        for c in built.double.resources("campaign")
    }
    worse = next(name for name in serving if name.endswith("-user-personalization"))
    solution_of_worse = serving[worse].rsplit("/", 1)[0]
    old_versions = set(serving.values())

    def metrics(arn: str, given: dict[str, float]) -> dict[str, float]:
        if arn in old_versions:
            return given
        factor = 0.5 if arn.startswith(f"{solution_of_worse}/") else 1.1
        return {
            **given,
            "normalized_discounted_cumulative_gain_at_25": given["normalized_discounted_cumulative_gain_at_25"]
            * factor,
        }

    built.double.solution_metrics = metrics
    (interactions,) = [d["s3Uri"] for d in built.plan["datasets"] if d["type"] == "interactions"]
    bucket, _, key = interactions.removeprefix("s3://").partition("/")
    s3 = built.client("s3")
    rows = s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines(keepends=True)
    s3.put_object(Bucket=bucket, Key=key, Body=b"".join(rows[:-1]))  # new data: one interaction fewer
    before = len(built.sns_messages())
    trained_before = built.create_calls().get("CreateSolutionVersion", 0)

    run = built.run()

    assert run.status == "SUCCEEDED", run.cause
    assert built.create_calls().get("CreateSolutionVersion", 0) - trained_before == len(built.plan["solutions"])
    now_serving = {
        c.name: built.client("personalize").describe_campaign(campaignArn=c.arn)["campaign"]["solutionVersionArn"]
        for c in built.double.resources("campaign")
    }
    assert now_serving[worse] == serving[worse]
    assert all(now_serving[name] != serving[name] for name in serving if name != worse)
    (message,) = built.sns_messages()[before:]
    label = worse.removeprefix(f"{built.plan['datasetGroup']['name']}-")
    assert f"campaign {label} kept its version" in message["message"]
    assert f"of {serving[worse]} in service" in message["message"]
    assert message["message"].count("kept its version") == 1
