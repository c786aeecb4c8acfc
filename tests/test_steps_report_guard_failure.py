"""The run report (metrics, lift over the baseline, what gets published), the one-run guard, and the
failure message users receive."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.service_model import check_request, install_model_validation

# isort: split
from poc_steps import failure, guard, report
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.errors import RunAlreadyInProgress

ACCOUNT = "123456789012"
# The stack's parameter path for dev: f"/{name_prefix}/poc" (stacks/poc_stack.py).
PARAMETER_PATH = "/ppoc-dev/poc"


def arn(resource: str) -> str:
    return f"arn:aws:personalize:us-east-1:{ACCOUNT}:{resource}"


# --- report ------------------------------------------------------------------------------------------

METRICS = {
    "user-personalization": {
        "normalized_discounted_cumulative_gain_at_10": 0.25,
        "precision_at_10": 0.06,
        "mean_reciprocal_rank_at_25": 0.2,
        "coverage": 0.5,
    },
    "sims": {
        "normalized_discounted_cumulative_gain_at_10": 0.1,
        "precision_at_10": 0.05,
        "mean_reciprocal_rank_at_25": 0.1,
    },
    "popularity-baseline": {
        "normalized_discounted_cumulative_gain_at_10": 0.2,
        "precision_at_10": 0.05,
        "mean_reciprocal_rank_at_25": 0.0,
        "coverage": 0.01,
    },
}


def _solution(label: str, recipe: str, baseline: bool = False) -> dict[str, Any]:
    """One entry of the workflow's `solutions` output (the 'Solution output' Pass state)."""
    return {
        "name": f"ppoc-dev-{label}",
        "label": label,
        "recipe": recipe,
        "baseline": baseline,
        "solutionArn": arn(f"solution/ppoc-dev-{label}"),
        "versionArn": arn(f"solution/ppoc-dev-{label}/1a2b3c4d"),
        "campaigns": [{"label": label, "arn": arn(f"campaign/ppoc-dev-{label}")}] if not baseline else [],
        "batchJobs": [
            {
                "label": "up-batch",
                "arn": arn("batch-inference-job/ppoc-dev-up-batch-1a2b3c4d"),
                "outputUri": "s3://ppoc-dev-data/batch-output/user-personalization/1a2b3c4d/",
            }
        ]
        if label == "user-personalization"
        else [],
    }


SOLUTIONS = [
    _solution("user-personalization", "aws-user-personalization-v2"),
    _solution("sims", "aws-sims"),
    _solution("popularity-baseline", "aws-popularity-count", baseline=True),
]


@pytest.fixture
def personalize() -> Iterator[tuple[PersonalizeAdapter, Stubber]]:
    client = install_model_validation(
        boto3.client(
            "personalize",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    )
    with Stubber(client) as stub:
        yield PersonalizeAdapter(client), stub
        stub.assert_no_pending_responses()


def _metrics(
    adapter: PersonalizeAdapter, stub: Stubber, solutions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    for solution in solutions:
        stub.add_response(
            "get_solution_metrics",
            {
                "solutionVersionArn": solution["versionArn"],
                "metrics": METRICS[solution["label"]],
            },
            {"solutionVersionArn": solution["versionArn"]},
        )
    return report.collect_metrics(adapter, solutions)


def test_metrics_are_collected_per_trained_version(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    rows = _metrics(*personalize, SOLUTIONS)
    assert [(r["solution"], r["recipe"], r["baseline"]) for r in rows] == [
        ("user-personalization", "aws-user-personalization-v2", False),
        ("sims", "aws-sims", False),
        ("popularity-baseline", "aws-popularity-count", True),
    ]
    assert rows[0]["solutionVersionArn"] == SOLUTIONS[0]["versionArn"]
    assert rows[0]["metrics"] == METRICS["user-personalization"]


def test_lift_is_the_percentage_over_the_baseline(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    up, sims, baseline = _metrics(*personalize, SOLUTIONS)
    assert up["liftOverBaseline"]["normalized_discounted_cumulative_gain_at_10"] == 25.0
    assert up["liftOverBaseline"]["precision_at_10"] == 20.0
    assert up["liftOverBaseline"]["coverage"] == 4900.0
    assert sims["liftOverBaseline"]["normalized_discounted_cumulative_gain_at_10"] == -50.0
    # A baseline of 0 has no meaningful lift; the baseline has none over itself.
    assert up["liftOverBaseline"]["mean_reciprocal_rank_at_25"] is None
    assert baseline["liftOverBaseline"] is None


def test_without_a_baseline_there_is_no_lift(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    rows = _metrics(*personalize, SOLUTIONS[:2])
    assert [r["liftOverBaseline"] for r in rows] == [None, None]


def test_the_table_is_markdown_with_the_headline_metrics(
    personalize: tuple[PersonalizeAdapter, Stubber],
) -> None:
    table = report.render_table(_metrics(*personalize, SOLUTIONS))
    lines = table.splitlines()
    assert lines[0] == (
        "| solution | recipe | normalized_discounted_cumulative_gain_at_10 | precision_at_10 | "
        "mean_reciprocal_rank_at_25 | coverage |"
    )
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == (
        "| user-personalization | aws-user-personalization-v2 | 0.2500 (+25.0%) | 0.0600 (+20.0%) "
        "| 0.2000 | 0.5000 (+4900.0%) |"
    )
    assert lines[3] == "| sims | aws-sims | 0.1000 (-50.0%) | 0.0500 (+0.0%) | 0.1000 | n/a |"
    assert (
        lines[4]
        == "| popularity-baseline (baseline) | aws-popularity-count | 0.2000 | 0.0500 | 0.0000 | 0.0100 |"
    )
    assert all(line.count("|") == 7 for line in lines)


def _run(tracker: dict[str, Any] | None) -> dict[str, Any]:
    """The report Lambda's event, as the state machine builds it."""
    return {
        "execution": "arn:aws:states:us-east-1:123456789012:execution:ppoc-dev-poc-workflow:run-1",
        "datasetGroup": {"arn": arn("dataset-group/ppoc-dev-retail"), "state": "READY"},
        "solutions": SOLUTIONS,
        "filters": [
            {
                "name": "ppoc-dev-exclude-purchased",
                "label": "exclude-purchased",
                "arn": arn("filter/ppoc-dev-exclude-purchased"),
            }
        ],
        "eventTracker": tracker if tracker is not None else {},
    }


TRACKER = {"arn": arn("event-tracker/0f1e2d3c"), "trackingId": "0f1e2d3c-4b5a-6978"}


def _report(
    personalize: tuple[PersonalizeAdapter, Stubber], tracker: dict[str, Any] | None
) -> dict[str, Any]:
    return report.build_report(_run(tracker), _metrics(*personalize, SOLUTIONS), "2026-03-01T12:00:00+00:00")


def test_the_report_lists_what_was_built(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    built = _report(personalize, TRACKER)
    assert built["datasetGroupArn"] == arn("dataset-group/ppoc-dev-retail")
    assert built["campaigns"] == [
        {"name": "user-personalization", "arn": arn("campaign/ppoc-dev-user-personalization")},
        {"name": "sims", "arn": arn("campaign/ppoc-dev-sims")},
    ]
    assert built["filters"] == [
        {"name": "exclude-purchased", "arn": arn("filter/ppoc-dev-exclude-purchased")}
    ]
    assert built["batchInference"][0]["outputUri"].endswith("/1a2b3c4d/")
    assert json.loads(report.dumps(built)) == built


def test_the_markdown_report_reads_top_down(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    markdown = report.render_markdown(_report(personalize, TRACKER))
    assert markdown.startswith("# Personalize POC run report\n")
    assert "Dataset group: " + arn("dataset-group/ppoc-dev-retail") in markdown
    assert "| user-personalization | aws-user-personalization-v2 | 0.2500 (+25.0%)" in markdown
    assert f"- campaign sims: {arn('campaign/ppoc-dev-sims')}" in markdown
    assert f"- filter exclude-purchased: {arn('filter/ppoc-dev-exclude-purchased')}" in markdown
    assert "(tracking id 0f1e2d3c-4b5a-6978)" in markdown
    assert (
        "- batch inference up-batch: s3://ppoc-dev-data/batch-output/user-personalization/1a2b3c4d/"
        in markdown
    )


def test_without_an_event_tracker_the_report_says_nothing_of_one(
    personalize: tuple[PersonalizeAdapter, Stubber],
) -> None:
    built = _report(personalize, None)  # the 'No event tracker' state passes {}
    assert "event tracker" not in report.render_markdown(built)
    names = report.parameters_to_publish(
        built, PARAMETER_PATH, "s3://ppoc-dev-data/reports/run-1/report.json"
    )
    assert not any("event-tracker" in name for name in names)


def test_the_published_parameters(personalize: tuple[PersonalizeAdapter, Stubber]) -> None:
    uri = "s3://ppoc-dev-data/reports/run-1/report.json"
    params = report.parameters_to_publish(_report(personalize, TRACKER), PARAMETER_PATH, uri)
    assert params == {
        "/ppoc-dev/poc/dataset-group-arn": arn("dataset-group/ppoc-dev-retail"),
        "/ppoc-dev/poc/report-uri": uri,
        "/ppoc-dev/poc/campaigns/user-personalization": arn("campaign/ppoc-dev-user-personalization"),
        "/ppoc-dev/poc/campaigns/sims": arn("campaign/ppoc-dev-sims"),
        "/ppoc-dev/poc/filters/exclude-purchased": arn("filter/ppoc-dev-exclude-purchased"),
        "/ppoc-dev/poc/event-tracker/arn": TRACKER["arn"],
        "/ppoc-dev/poc/event-tracker/tracking-id": TRACKER["trackingId"],
        "/ppoc-dev/poc/batch-output/up-batch": "s3://ppoc-dev-data/batch-output/user-personalization/1a2b3c4d/",
        "/ppoc-dev/poc/solution-versions/user-personalization": SOLUTIONS[0]["versionArn"],
        "/ppoc-dev/poc/solution-versions/sims": SOLUTIONS[1]["versionArn"],
        "/ppoc-dev/poc/solution-versions/popularity-baseline": SOLUTIONS[2]["versionArn"],
    }
    for name, value in params.items():
        request = {"Name": name, "Value": value, "Type": "String", "Overwrite": True}
        assert check_request("ssm", "PutParameter", request) == [], name
        # SSM allows at most 15 levels in a hierarchy and only these characters in a name.
        assert name.count("/") <= 15
        assert all(c.isalnum() or c in "_.-/" for c in name), name


# --- guard -------------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:ppoc-dev-poc-workflow"


def _execution(name: str, started: datetime) -> dict[str, Any]:
    return {
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:ppoc-dev-poc-workflow:{name}",
        "stateMachineArn": MACHINE,
        "name": name,
        "status": "RUNNING",
        "startDate": started,
    }


def test_the_earliest_run_owns_the_poc() -> None:
    first, second = _execution("first", T0), _execution("second", T0 + timedelta(seconds=1))
    assert guard.earlier_run(first, [second, first]) is None
    assert guard.earlier_run(second, [second, first]) == first


def test_a_tie_is_broken_by_arn_the_same_way_for_both() -> None:
    a, b = _execution("a-run", T0), _execution("b-run", T0)
    assert guard.earlier_run(a, [a, b]) is None
    assert guard.earlier_run(b, [a, b]) == a


def test_a_lone_run_owns_the_poc() -> None:
    me = _execution("only", T0)
    assert guard.earlier_run(me, [me]) is None
    assert guard.earlier_run(me, []) is None


@pytest.fixture
def states() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("stepfunctions", region_name="us-east-1")
        yield client


def test_a_second_execution_stops_before_it_builds_anything(states: Any) -> None:
    machine = states.create_state_machine(
        name="ppoc-dev-poc-workflow",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/workflow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    first = states.start_execution(stateMachineArn=machine, name="first")["executionArn"]
    time.sleep(0.01)  # moto stamps start dates in milliseconds
    second = states.start_execution(stateMachineArn=machine, name="second")["executionArn"]

    assert guard.check_single_run(states, machine, first) == {"runningExecutions": 2}
    with pytest.raises(RunAlreadyInProgress) as raised:
        guard.check_single_run(states, machine, second)
    assert first in str(raised.value)
    assert "stops without changes" in str(raised.value)

    states.stop_execution(executionArn=first)
    assert guard.check_single_run(states, machine, second) == {"runningExecutions": 1}


def test_an_execution_the_listing_does_not_show_yet_is_described() -> None:
    client = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    earlier, me = _execution("earlier", T0), _execution("me", T0 + timedelta(seconds=2))
    with Stubber(client) as stub:
        stub.add_response(
            "list_executions",
            {"executions": [earlier]},
            {"stateMachineArn": MACHINE, "statusFilter": "RUNNING"},
        )
        stub.add_response("describe_execution", {**me, "input": "{}"}, {"executionArn": me["executionArn"]})
        with pytest.raises(RunAlreadyInProgress, match="earlier"):
            guard.check_single_run(client, MACHINE, me["executionArn"])
        stub.assert_no_pending_responses()


# --- failure -----------------------------------------------------------------------------------------


def _lambda_cause(error_type: str, message: str) -> str:
    """What Step Functions puts in Cause when a Lambda function raises."""
    return json.dumps(
        {
            "errorMessage": message,
            "errorType": error_type,
            "requestId": "0f1e2d3c",
            "stackTrace": ['  File "/var/task/poc_steps/ensure.py", line 30, in _failed\n'],
        }
    )


def test_a_lambda_error_is_unwrapped_into_error_and_cause() -> None:
    message = "solution version of ppoc-dev-sims ended CREATE FAILED: Insufficient data for training"
    described = failure.describe_failure(
        {"Error": "ResourceFailed", "Cause": _lambda_cause("ResourceFailed", message)}
    )
    assert described == {
        "error": "ResourceFailed",
        "cause": message,
        "subject": "Personalize POC run failed: ResourceFailed",
    }


def test_the_lambda_error_type_wins_over_a_generic_error_name() -> None:
    described = failure.describe_failure(
        {"Error": "States.TaskFailed", "Cause": _lambda_cause("ConfigConflict", "schema differs")}
    )
    assert (described["error"], described["cause"]) == ("ConfigConflict", "schema differs")


def test_a_plain_cause_passes_through() -> None:
    cause = (
        "campaign was not ready after 360 checks 60 s apart; "
        "see the resource's status in the Personalize console"
    )
    assert failure.describe_failure({"Error": "WaitTimedOut", "Cause": cause}) == {
        "error": "WaitTimedOut",
        "cause": cause,
        "subject": "Personalize POC run failed: WaitTimedOut",
    }


def test_json_without_an_error_message_passes_through() -> None:
    cause = json.dumps({"message": "Invalid parameter: Message too long"})
    assert (
        failure.describe_failure({"Error": "SNS.InvalidParameterException", "Cause": cause})["cause"] == cause
    )


def test_a_missing_cause_falls_back_to_the_error() -> None:
    assert failure.describe_failure({"Error": "States.Timeout"})["cause"] == "States.Timeout"
    assert failure.describe_failure({})["error"] == "States.Runtime"


@pytest.mark.parametrize("error_type", ["ResourceFailed", "X" * 300, "Quota" * 40])
def test_the_subject_fits_sns(error_type: str) -> None:
    """SNS refuses a Subject over 100 characters or with line breaks."""
    subject = failure.describe_failure(
        {"Error": "States.TaskFailed", "Cause": _lambda_cause(error_type, "boom")}
    )["subject"]
    assert 0 < len(subject) <= 100
    assert subject.isprintable()
    assert subject.startswith("Personalize POC run failed: ")
