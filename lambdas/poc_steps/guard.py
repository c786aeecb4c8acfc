"""One run at a time per POC: a second execution started while one is building stops before it
creates anything (two runs would otherwise train the same solutions twice)."""

from __future__ import annotations

from typing import Any

from poc_steps.errors import RunAlreadyInProgress


def earlier_run(me: dict[str, Any], running: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The running execution that owns the POC: the earliest started (ties broken by ARN)."""
    others = [e for e in running if e["executionArn"] != me["executionArn"]]
    key = lambda e: (e["startDate"], e["executionArn"])  # noqa: E731
    owner = min([*others, me], key=key)
    return None if owner is me else owner


def check_single_run(states_client: Any, state_machine_arn: str, execution_arn: str) -> dict[str, Any]:
    running: list[dict[str, Any]] = []
    for page in states_client.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    ):
        running.extend(page["executions"])
    me = next((e for e in running if e["executionArn"] == execution_arn), None)
    if me is None:  # listing lags a just-started execution: describe it instead
        me = states_client.describe_execution(executionArn=execution_arn)
    owner = earlier_run(me, running)
    if owner is not None:
        raise RunAlreadyInProgress(
            f"execution {owner['executionArn']} is already building this POC; this one stops without changes. "
            "Wait for it to finish, or stop it, then start again."
        )
    return {"runningExecutions": len(running)}
