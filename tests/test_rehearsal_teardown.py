"""Offline rehearsal of the synthesized teardown workflow and of the custom resource that runs it on
stack deletion (same harness as test_rehearsal.py: moto + in-process Lambdas + the Personalize double
on simulated time)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal, Run, hold
from tests.rehearsal.trace import progress_lines, steps

pytestmark = pytest.mark.rehearsal

PREFIX = "ppoc-dev"
PARAMETER_PATH = f"/{PREFIX}/poc"
FAST = FAST_DURATIONS
#: Batch inference jobs cannot be deleted through the API (they are records of finished work).
UNDELETABLE = {"batch_inference_job"}
LEVELS = [
    "batch_jobs",
    "campaigns",
    "trackers_and_filters",
    "solution_versions",
    "solutions",
    "datasets",
    "dataset_group",
    "schemas",
    "parameters",
]


def teardown(rehearsal: Rehearsal) -> Run:
    assert rehearsal.deployment is not None
    return rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"))


def left_of_this_poc(rehearsal: Rehearsal) -> list[tuple[str, str, str]]:
    return [
        (r.kind, r.name, r.status)
        for r in rehearsal.double.resources()
        if r.kind not in UNDELETABLE and r.name.startswith(PREFIX)
    ]


def deleted(run: Run) -> dict[str, list[str]]:
    return dict(json.loads(run.description["output"])["deleted"])


@pytest.fixture
def rehearsal(assembly_dir: Path) -> Iterator[Rehearsal]:
    with Rehearsal(assembly_dir, "dev", durations=FAST) as rehearsal:
        rehearsal.upload_sample_data()
        yield rehearsal


def test_teardown_after_a_full_run_removes_the_poc_and_spares_another(rehearsal: Rehearsal) -> None:
    built = rehearsal.run()
    assert built.status == "SUCCEEDED", built.cause
    personalize = rehearsal.client("personalize")
    (group_arn,) = rehearsal.double.arns("dataset_group")
    # Made by hand in the notebook inside the POC's dataset group (named within the POC's IAM scope, the
    # dataset group's name, as the notebook role allows): goes too.
    by_hand = f"{rehearsal.plan['datasetGroup']['name']}-by-hand"
    personalize.create_filter(
        name=by_hand,
        datasetGroupArn=group_arn,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")',
    )
    # Another POC in the same account: stays.
    other = personalize.create_dataset_group(name="other-poc-retail")["datasetGroupArn"]
    assert rehearsal.parameters(PARAMETER_PATH)

    run = teardown(rehearsal)

    assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
    assert left_of_this_poc(rehearsal) == []
    assert [r.arn for r in rehearsal.double.resources("dataset_group")] == [other]
    removed = deleted(run)
    assert set(removed) == set(LEVELS)
    assert len(removed["campaigns"]) == 3
    assert any(arn.endswith(f"filter/{by_hand}") for arn in removed["trackers_and_filters"])
    assert len(removed["schemas"]) == 3 and removed["dataset_group"] == [group_arn]
    assert rehearsal.parameters(PARAMETER_PATH) == {}
    # The trace (make rehearse-teardown) says what each level did, as deletions.
    trace = progress_lines(run)
    assert not any(line.endswith("None") or re.search(r"\bensure\b", line) for line in trace), trace
    assert any(re.search(r"\bdelete\s+campaigns\s+READY: 3 deleted$", line) for line in trace), trace
    assert any(re.search(r"\bdelete\s+campaigns\s+WAITING: 3 deleted, 3 remaining", line) for line in trace), trace
    # Level by level: every campaign deletion was asked for before the first solution deletion.
    operations = [op for op, _ in rehearsal.double.calls]
    assert max(i for i, op in enumerate(operations) if op == "DeleteCampaign") < operations.index("DeleteSolution")
    assert (
        operations.index("DeleteSolution")
        < operations.index("DeleteDataset")
        < operations.index("DeleteDatasetGroup")
        < operations.index("DeleteSchema")
    )


def test_teardown_twice_second_finds_nothing(rehearsal: Rehearsal) -> None:
    assert rehearsal.run().status == "SUCCEEDED"
    assert teardown(rehearsal).status == "SUCCEEDED"
    calls_before = len(rehearsal.double.calls)

    again = teardown(rehearsal)

    assert again.status == "SUCCEEDED", again.cause
    assert all(arns == [] for arns in deleted(again).values())
    new_operations = {op for op, _ in rehearsal.double.calls[calls_before:]}
    assert not any(op.startswith(("Delete", "Stop")) for op in new_operations)


def test_teardown_of_a_half_built_poc(rehearsal: Rehearsal) -> None:
    sims = next(s["name"] for s in rehearsal.plan["solutions"] if s["label"] == "sims")
    rehearsal.double.fail_training(sims, reason="Not enough interactions for SIMS")
    failed = rehearsal.run()
    assert failed.status == "FAILED"
    assert rehearsal.double.resources("campaign") or rehearsal.double.resources("solution")

    run = teardown(rehearsal)

    assert run.status == "SUCCEEDED", run.cause
    assert left_of_this_poc(rehearsal) == []


def test_teardown_while_solution_versions_are_training(rehearsal: Rehearsal) -> None:
    release = threading.Event()
    # Hold the POC run's training polls: its solution versions stay in progress meanwhile.
    rehearsal.before_invoke.append(
        hold(release, lambda i: i.event.get("kind") == "solution_version" and i.event.get("attempt", 1) > 1)
    )
    building = rehearsal.start(name="building")
    deadline = time.monotonic() + 60
    while len(rehearsal.double.resources("solution_version")) < 4:
        assert time.monotonic() < deadline, "the POC run never started training"
        time.sleep(0.01)
    try:
        run = teardown(rehearsal)
    finally:
        release.set()
    rehearsal.wait(building)

    assert run.status == "SUCCEEDED", run.cause
    assert rehearsal.double.call_count("StopSolutionVersionCreation") == 4
    assert len(deleted(run)["solution_versions"]) == 4
    assert left_of_this_poc(rehearsal) == []


def test_teardown_waits_for_a_slow_campaign_deletion(assembly_dir: Path) -> None:
    slow = {**FAST, "delete_campaign": 40 * 60}
    with Rehearsal(assembly_dir, "dev", durations=slow) as rehearsal:
        rehearsal.upload_sample_data()
        assert rehearsal.run().status == "SUCCEEDED"

        run = teardown(rehearsal)

        assert run.status == "SUCCEEDED", run.cause
        assert left_of_this_poc(rehearsal) == []
        # The campaigns level waited the 40 minutes out, and the next levels started only after it.
        trace = steps(run)
        ready = next(s.at for s in trace if s.resource == "campaigns" and s.status.startswith("READY"))
        assert ready >= 40 * 60
        later = [s for s in trace if s.resource in ("trackers_and_filters", "solutions", "datasets")]
        assert later and min(s.at for s in later) >= ready


# --------------------------------------------------------------------------------------------------
# The custom resource (provider framework handlers) that runs the teardown on stack deletion
# --------------------------------------------------------------------------------------------------
def _handler_function(rehearsal: Rehearsal, handler: str) -> str:
    assert rehearsal.deployment is not None
    client = rehearsal.client("lambda")
    for name in rehearsal.deployment.functions.values():
        if client.get_function(FunctionName=name)["Configuration"]["Handler"] == f"poc_steps.handlers.{handler}":
            return name
    raise KeyError(handler)


def _invoke(rehearsal: Rehearsal, handler: str, event: dict[str, Any]) -> dict[str, Any]:
    response = rehearsal.client("lambda").invoke(
        FunctionName=_handler_function(rehearsal, handler),
        Qualifier="live",
        Payload=json.dumps(event).encode(),
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def _event(rehearsal: Rehearsal, request_type: str, enabled: bool = True) -> dict[str, Any]:
    assert rehearsal.deployment is not None
    return {
        "RequestType": request_type,
        "RequestId": f"req-{request_type.lower()}",
        "ResourceType": "Custom::PersonalizePocTeardown",
        "PhysicalResourceId": f"{PREFIX}-teardown-on-delete",
        "ResourceProperties": {
            "TeardownStateMachineArn": rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"),
            "NamePrefix": PREFIX,
            "Enabled": "true" if enabled else "false",
        },
    }


def _teardown_executions(rehearsal: Rehearsal) -> list[dict[str, Any]]:
    assert rehearsal.deployment is not None
    arn = rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown")
    return list(rehearsal.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"])


def test_custom_resource_create_update_and_opted_out_delete_change_nothing(rehearsal: Rehearsal) -> None:
    assert rehearsal.run().status == "SUCCEEDED"
    for event in (
        _event(rehearsal, "Create"),
        _event(rehearsal, "Update"),
        _event(rehearsal, "Delete", False),
    ):
        response = _invoke(rehearsal, "teardown_on_event_handler", event)
        assert response == {"PhysicalResourceId": f"{PREFIX}-teardown-on-delete"}
        assert _invoke(rehearsal, "teardown_is_complete_handler", {**event, **response}) == {"IsComplete": True}
    assert _teardown_executions(rehearsal) == []
    assert len(rehearsal.double.resources("campaign")) == 3


def test_custom_resource_delete_drives_the_teardown_to_completion(rehearsal: Rehearsal) -> None:
    assert rehearsal.run().status == "SUCCEEDED"
    event = _event(rehearsal, "Delete")

    started = _invoke(rehearsal, "teardown_on_event_handler", event)
    execution_arn = started["Data"]["ExecutionArn"]
    polls = 0
    while True:  # what the provider framework's waiter does, minus its minute between queries
        polls += 1
        done = _invoke(rehearsal, "teardown_is_complete_handler", {**event, **started})
        if done["IsComplete"]:
            break
        assert polls < 10_000
        time.sleep(0.05)  # each poll is a whole Lambda invocation: polled faster, it slows the execution down

    assert [e["executionArn"] for e in _teardown_executions(rehearsal)] == [execution_arn]
    assert rehearsal.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"] == "SUCCEEDED"
    assert left_of_this_poc(rehearsal) == []


def test_teardown_without_its_parameter_path_fails_loudly(assembly_dir: Path) -> None:
    """The teardown function's own PARAMETER_PATH tells it which parameters are the POC's: without it the
    execution fails naming it, and no parameter is touched (not a quiet success that skipped them)."""
    with Rehearsal(assembly_dir, "dev", durations=FAST) as rehearsal:
        client = rehearsal.client("lambda")
        name = _handler_function(rehearsal, "teardown_handler")
        variables = client.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        del variables["PARAMETER_PATH"]
        client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        version = client.publish_version(FunctionName=name)["Version"]
        client.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
        rehearsal.client("ssm").put_parameter(Name=f"{PARAMETER_PATH}/campaigns/x", Value="arn", Type="String")

        run = teardown(rehearsal)

        assert run.status == "FAILED"
        assert "PARAMETER_PATH" in f"{run.error} {run.cause}"
        assert rehearsal.parameters(PARAMETER_PATH) == {f"{PARAMETER_PATH}/campaigns/x": "arn"}
