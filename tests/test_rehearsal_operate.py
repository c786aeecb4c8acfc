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
traffic is not, and nothing is changed. Redeployed in act mode (the function's GUARD_MODE, as
``cost_guard.mode: act`` sets it), it deletes the idle campaigns; with ``expires_after_days`` it deletes
every campaign and nothing else. Each time, a run of the POC workflow brings the campaigns back.
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
    for name in serving:  # the two better versions are named as promoted, with the version they moved to
        if name != worse:
            moved = f"campaign {name.removeprefix(built.plan['datasetGroup']['name'] + '-')} moved to its new version "
            assert f"{moved}{now_serving[name]}: " in message["message"]


# ------------------------------------------------------------------ act mode and expiry, then a re-run


def _redeploy_guard(rehearsal: Rehearsal, **variables: str) -> dict[str, str]:
    """The guard's settings as a redeploy would change them (its environment); returns the old ones."""
    client = rehearsal.client("lambda")
    name = _guard_function(rehearsal)
    old = client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    client.update_function_configuration(FunctionName=name, Environment={"Variables": {**old, **variables}})
    return dict(old)


def _invoke_guard(rehearsal: Rehearsal, **variables: str) -> dict[str, Any]:
    old = _redeploy_guard(rehearsal, **variables)
    try:
        response = rehearsal.client("lambda").invoke(
            FunctionName=_guard_function(rehearsal),
            Qualifier="live",
            Payload=json.dumps({"scheduledTime": _tick(rehearsal)}).encode(),
        )
    finally:
        rehearsal.client("lambda").update_function_configuration(
            FunctionName=_guard_function(rehearsal), Environment={"Variables": old}
        )
    report: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, report
    return report


def _settle(rehearsal: Rehearsal) -> None:
    rehearsal.clock.advance_world(rehearsal.double.seconds_until_settled() + 1)


def _campaigns(rehearsal: Rehearsal) -> dict[str, str]:
    return {r.name: r.status for r in rehearsal.double.resources("campaign")}


def _everything_but_campaigns(rehearsal: Rehearsal) -> dict[str, tuple[str, str]]:
    return {r.arn: (r.kind, r.status) for r in rehearsal.double.resources() if r.kind != "campaign"}


def _rerun_brings_back(rehearsal: Rehearsal, names: set[str]) -> None:
    """A POC workflow run recreates the deleted campaigns, and only them: nothing is imported or trained."""
    before = rehearsal.create_calls()

    run = rehearsal.run()

    assert run.status == "SUCCEEDED", run.cause
    created = {op: n - before.get(op, 0) for op, n in rehearsal.create_calls().items() if n != before.get(op, 0)}
    assert created == {"CreateCampaign": len(names)}, created
    assert {name: _campaigns(rehearsal).get(name) for name in names} == {name: "ACTIVE" for name in names}


def test_the_deployed_guard_in_act_mode_deletes_idle_campaigns_and_a_rerun_brings_them_back(built: Rehearsal) -> None:
    campaigns = {r.name: r.arn for r in built.double.resources("campaign") if r.status == "ACTIVE"}
    busy_name = next(name for name in campaigns if name.endswith("-user-personalization"))
    idle = set(campaigns) - {busy_name}
    built.clock.advance_world(25 * HOUR)
    _put_requests(built, campaigns[busy_name], per_window=60, hours=25)
    before = len(built.sns_messages())
    rest = _everything_but_campaigns(built)

    report = _invoke_guard(built, GUARD_MODE="act")

    assert report["mode"] == "act"
    assert {a["campaign"]: (a["kind"], a["applied"]) for a in report["actions"]} == {
        name: ("idle", True) for name in idle
    }
    _settle(built)
    assert _campaigns(built) == {busy_name: "ACTIVE"}
    assert _everything_but_campaigns(built) == rest
    (message,) = built.sns_messages()[before:]
    assert message["message"].count("delete the campaign [DONE]") == len(idle) and busy_name not in message["message"]

    _rerun_brings_back(built, idle)


def test_expiry_deletes_the_campaigns_only_and_a_rerun_brings_them_back(built: Rehearsal) -> None:
    """notify mode with expires_after_days: 1, two days on; traffic does not save a campaign from expiry."""
    campaigns = {r.name: r.arn for r in built.double.resources("campaign") if r.status == "ACTIVE"}
    assert len(campaigns) == 3
    built.clock.advance_world(2 * 24 * HOUR)
    for arn in campaigns.values():
        _put_requests(built, arn, per_window=60, hours=1)
    rest = _everything_but_campaigns(built)
    first_call = len(built.double.calls)
    before = len(built.sns_messages())

    report = _invoke_guard(built, EXPIRES_AFTER_DAYS="1")

    assert (report["mode"], sorted(report["checked"])) == ("notify", sorted(campaigns))
    assert {a["campaign"]: (a["kind"], a["applied"]) for a in report["actions"]} == {
        name: ("expired", True) for name in campaigns
    }
    changes = {op for op, _ in built.double.calls[first_call:] if not op.startswith(("List", "Describe", "Get"))}
    assert changes == {"DeleteCampaign"}
    _settle(built)
    assert _campaigns(built) == {}
    assert _everything_but_campaigns(built) == rest  # dataset group, datasets, solutions, versions, filters...
    (message,) = built.sns_messages()[before:]
    assert "expire after 1 days" in message["message"] and "Re-run the POC workflow" in message["message"]

    _rerun_brings_back(built, set(campaigns))
