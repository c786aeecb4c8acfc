"""The rehearsal's own machinery on small, hand-written state machines: simulated time in moto's
interpreter (overlapping Parallel branches, queued Map items, retry backoff), the Lambda seam's error
contract, and the CloudFormation resolver."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.rehearsal.cfn import Resolver, UnresolvableError, references
from tests.rehearsal.harness import _fake_credentials
from tests.rehearsal.lambda_seam import InProcessLambdas
from tests.rehearsal.sfn_quotas import MAX_PAYLOAD_BYTES, StepFunctionsQuotas
from tests.rehearsal.simclock import SIM_EPOCH, SimulatedTime

REGION = "eu-west-1"
pytestmark = pytest.mark.rehearsal
FUNCTION_CODE = '''
class Throttled(Exception):
    """Named like the workflow's retryable error."""


CALLS = []


def flaky(event, context):
    CALLS.append(event)
    if len(CALLS) <= event.get("failures", 0):
        raise Throttled(f"attempt {len(CALLS)}: slow down")
    return {"attempts": len(CALLS), "function": context.function_name}
'''


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("flaky_module.py", source)
    return buffer.getvalue()


class Interpreter:
    """moto with the simulated clock and the Lambda seam installed, plus one function."""

    def __init__(self, clock: SimulatedTime, lambdas: InProcessLambdas) -> None:
        self.clock = clock
        self.lambdas = lambdas
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        self.role = iam.create_role(RoleName="rehearsal-clock", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.function_arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="flaky",
            Runtime="python3.12",
            Role=self.role,
            Handler="flaky_module.flaky",
            Code={"ZipFile": _zip(FUNCTION_CODE)},
        )["FunctionArn"]

    def execute(self, definition: dict[str, Any], execution_input: dict[str, Any] | None = None) -> dict[str, Any]:
        arn = self.sfn.create_state_machine(
            name=f"m{time.monotonic_ns()}", definition=json.dumps(definition), roleArn=self.role
        )["stateMachineArn"]
        execution = self.sfn.start_execution(stateMachineArn=arn, name="run", input=json.dumps(execution_input or {}))[
            "executionArn"
        ]
        deadline = time.monotonic() + 30
        while (description := self.sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not end within 30 s of wall time"
            time.sleep(0.005)
        history = self.sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        description["history"] = history
        description["simSeconds"] = max((e["timestamp"] - SIM_EPOCH).total_seconds() for e in history)
        return description


@pytest.fixture
def interpreter() -> Iterator[Interpreter]:
    clock = SimulatedTime()
    lambdas = InProcessLambdas(sim_clock=clock)
    with (
        _fake_credentials(REGION),
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        clock.installed(),
        lambdas.installed(),
    ):
        yield Interpreter(clock, lambdas)


def wait(seconds: int) -> dict[str, Any]:
    return {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}}}


def test_parallel_waits_overlap_and_queued_map_items_add_up(interpreter: Interpreter) -> None:
    started = time.monotonic()
    result = interpreter.execute(
        {
            "StartAt": "Side by side",
            "States": {
                "Side by side": {
                    "Type": "Parallel",
                    "Branches": [wait(100), wait(300), wait(200)],
                    "ResultPath": None,
                    "Next": "One at a time",
                },
                "One at a time": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 1,
                    "ItemProcessor": wait(50),
                    "ResultPath": None,
                    "Next": "All at once",
                },
                "All at once": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "ItemProcessor": wait(70),
                    "End": True,
                },
            },
        },
        {"items": [1, 2, 3]},
    )

    assert result["status"] == "SUCCEEDED"
    # 300 (slowest branch) + 3 x 50 (queued) + 70 (concurrent): 520 simulated seconds, not 1,160.
    assert result["simSeconds"] == 300 + 3 * 50 + 70
    assert interpreter.clock.world() == 520
    assert interpreter.clock.waits == 3 + 3 + 3
    assert time.monotonic() - started < 20  # nothing slept for real


def test_retries_take_their_backoff_in_simulated_time_and_count_attempts(interpreter: Interpreter) -> None:
    retry = {"ErrorEquals": ["Throttled"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 3}
    result = interpreter.execute(
        {
            "StartAt": "Call",
            "States": {"Call": {"Type": "Task", "Resource": interpreter.function_arn, "Retry": [retry], "End": True}},
        },
        {"failures": 3},
    )

    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"]) == {"attempts": 4, "function": "flaky"}
    failed = [e for e in result["history"] if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["Throttled"] * 3
    assert result["simSeconds"] == 10 + 20 + 40
    assert interpreter.clock.retries == 3


def test_a_function_error_is_named_by_its_exception_class_and_exhausts_retries(
    interpreter: Interpreter,
) -> None:
    retry = {"ErrorEquals": ["Throttled"], "IntervalSeconds": 5, "BackoffRate": 1, "MaxAttempts": 2}
    result = interpreter.execute(
        {
            "StartAt": "Call",
            "States": {"Call": {"Type": "Task", "Resource": interpreter.function_arn, "Retry": [retry], "End": True}},
        },
        {"failures": 10},
    )

    assert result["status"] == "FAILED"
    assert result["error"] == "Throttled"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "Throttled" and cause["errorMessage"] == "attempt 3: slow down"
    assert result["simSeconds"] == 5 + 5
    assert [i.error_type for i in interpreter.lambdas.invocations] == ["Throttled"] * 3


# --------------------------------------------------------------------------------------------------
# CloudFormation intrinsics
# --------------------------------------------------------------------------------------------------
def resolver() -> Resolver:
    r = Resolver(
        region="eu-west-1",
        account="123456789012",
        stack_name="s",
        conditions={"IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
    )
    r.refs["Bucket"] = "my-bucket"
    r.attributes[("Role", "Arn")] = "arn:aws:iam::123456789012:role/r"
    r.placeholders.add("Notebook")
    return r


def test_resolver_handles_what_cdk_emits() -> None:
    r = resolver()
    assert (
        r.resolve({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", {"Ref": "Bucket"}, "/*"]]})
        == "arn:aws:s3:::my-bucket/*"
    )
    assert (
        r.resolve({"Fn::Sub": "cdk-${AWS::AccountId}-${AWS::Region}-${Bucket}-${Role.Arn}"})
        == "cdk-123456789012-eu-west-1-my-bucket-arn:aws:iam::123456789012:role/r"
    )
    assert r.resolve({"Fn::Sub": ["${X}/${!Literal}", {"X": {"Ref": "Bucket"}}]}) == "my-bucket/${Literal}"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    assert r.resolve({"Fn::If": ["IsProd", "big", {"Ref": "AWS::NoValue"}]}) is not None
    assert r.resolve({"A": {"Fn::If": ["IsProd", "big", {"Ref": "AWS::NoValue"}]}, "B": 1}) == {"B": 1}
    assert r.resolve({"Fn::GetAtt": ["Notebook", "NotebookInstanceName"]}).startswith("rehearsal-not-deployed:")


def test_resolver_fails_loudly_on_what_it_does_not_know() -> None:
    r = resolver()
    with pytest.raises(UnresolvableError, match="Ref Missing"):
        r.resolve({"Ref": "Missing"})
    with pytest.raises(UnresolvableError, match="Fn::GetAZs"):
        r.resolve({"Fn::GetAZs": ""})
    assert references({"Fn::Sub": "${Bucket.Arn}/${AWS::Region}", "X": [{"Ref": "Role"}]}) == {
        "Bucket",
        "Role",
    }


# --------------------------------------------------------------------------------------------------
# Step Functions quotas (tests/rehearsal/sfn_quotas.py), with a lowered history limit
# --------------------------------------------------------------------------------------------------
def _caught(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` inside a Parallel whose Catch (States.ALL) would record that it ran."""
    return {
        "StartAt": "Guarded",
        "States": {
            "Guarded": {
                "Type": "Parallel",
                "Branches": [body],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


@pytest.fixture
def quotas(interpreter: Interpreter) -> Iterator[StepFunctionsQuotas]:
    with StepFunctionsQuotas(max_history_events=60).installed() as installed:
        yield installed


def test_a_full_history_fails_the_execution_past_any_catch(
    interpreter: Interpreter, quotas: StepFunctionsQuotas
) -> None:
    forever = {
        "StartAt": "Check",
        "States": {
            "Check": {"Type": "Pass", "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Check"},
        },
    }
    result = interpreter.execute(_caught(forever))

    assert result["status"] == "FAILED"
    assert result["error"] == "States.Runtime"
    assert result["cause"] == "The execution reached the maximum number of history events (60)."
    assert len(result["history"]) == 60 and result["history"][-1]["type"] == "ExecutionFailed"
    assert not [e for e in result["history"] if e.get("stateEnteredEventDetails", {}).get("name") == "Caught"]
    assert quotas.peak(result["executionArn"]) == 60


def test_the_last_event_may_be_execution_succeeded(interpreter: Interpreter, quotas: StepFunctionsQuotas) -> None:
    # ExecutionStarted + 29 x (PassStateEntered, PassStateExited) + ExecutionSucceeded = 60 events.
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(28)}
    states["P28"] = {"Type": "Pass", "End": True}
    result = interpreter.execute({"StartAt": "P0", "States": states})

    assert result["status"] == "SUCCEEDED"
    assert len(result["history"]) == 60


def test_an_oversized_state_output_fails_the_execution_past_any_catch(
    interpreter: Interpreter, quotas: StepFunctionsQuotas
) -> None:
    big = {"StartAt": "Big", "States": {"Big": {"Type": "Pass", "Result": "x" * MAX_PAYLOAD_BYTES, "End": True}}}
    result = interpreter.execute(_caught(big))

    assert result["status"] == "FAILED"
    assert result["error"] == "States.DataLimitExceeded"
    assert "state 'Big'" in result["cause"] and "262,144" in result["cause"]
    assert not [e for e in result["history"] if e.get("stateEnteredEventDetails", {}).get("name") == "Caught"]


def test_a_payload_of_exactly_the_quota_passes(interpreter: Interpreter, quotas: StepFunctionsQuotas) -> None:
    fits = {
        "StartAt": "Fits",
        "States": {"Fits": {"Type": "Pass", "Result": "x" * (MAX_PAYLOAD_BYTES - 2), "End": True}},
    }
    result = interpreter.execute(fits)  # a JSON string: 262,142 characters and two quotes

    assert result["status"] == "SUCCEEDED"


def test_the_execution_timeout_runs_on_simulated_time_past_any_catch(
    interpreter: Interpreter, quotas: StepFunctionsQuotas
) -> None:
    slow = _caught(wait(200))
    slow["TimeoutSeconds"] = 100
    started = time.monotonic()
    result = interpreter.execute(slow)

    assert result["status"] == "TIMED_OUT"
    assert result["history"][-1]["type"] == "ExecutionTimedOut"
    assert not [e for e in result["history"] if e.get("stateEnteredEventDetails", {}).get("name") == "Caught"]
    assert time.monotonic() - started < 20  # simulated seconds, not wall seconds
