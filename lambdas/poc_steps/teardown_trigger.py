"""Custom resource handlers (provider framework): stack deletion starts the teardown workflow and
waits for it, so `cdk destroy` leaves no billing Personalize resources behind."""

from __future__ import annotations

from typing import Any

TERMINAL_FAILURES = ("FAILED", "TIMED_OUT", "ABORTED")


def on_event(states: Any, event: dict[str, Any]) -> dict[str, Any]:
    props = event.get("ResourceProperties", {})
    physical_id = event.get("PhysicalResourceId") or f"{props.get('NamePrefix', 'poc')}-teardown-on-delete"
    if event["RequestType"] != "Delete" or str(props.get("Enabled", "true")).lower() != "true":
        return {"PhysicalResourceId": physical_id}
    started = states.start_execution(
        stateMachineArn=props["TeardownStateMachineArn"],
        name=f"stack-delete-{event['RequestId'][:36]}".replace("/", "-"),
        input='{"trigger": "stack-delete"}',
    )
    return {"PhysicalResourceId": physical_id, "Data": {"ExecutionArn": started["executionArn"]}}


def is_complete(states: Any, event: dict[str, Any]) -> dict[str, Any]:
    execution_arn = (event.get("Data") or {}).get("ExecutionArn")
    if event["RequestType"] != "Delete" or not execution_arn:
        return {"IsComplete": True}
    described = states.describe_execution(executionArn=execution_arn)
    status = described["status"]
    if status in TERMINAL_FAILURES:
        raise RuntimeError(
            f"teardown {execution_arn} ended {status}: {described.get('error', '')} {described.get('cause', '')}. "
            "Fix the cause (see the execution in the Step Functions console), run `make teardown`, then delete "
            "the stack again."
        )
    return {"IsComplete": status == "SUCCEEDED"}
