"""Entry point of the scheduled cost guard (EventBridge Scheduler invokes it): settings from the
function's environment, the guard's logic (poc_steps.cost_guard) over its adapter. Nothing else."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from poc_steps import cost_guard
from poc_steps.cost_guard_adapter import CostGuardAdapter

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def on_schedule(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{scheduledTime} -> {datasetGroup, mode, checked, actions: [{kind, campaign, why, change, applied, ...}], ...}"""
    settings = cost_guard.GuardSettings.from_environment(os.environ)
    group = os.environ["DATASET_GROUP_NAME"]
    adapter = CostGuardAdapter(
        group,
        os.environ["TOPIC_ARN"],
        personalize=boto3.client("personalize"),
        cloudwatch=boto3.client("cloudwatch"),
        sns=boto3.client("sns"),
        name_prefix=os.environ["NAME_PREFIX"],
    )
    report = cost_guard.run(adapter, settings, group, _scheduled_time(event)).as_dict()
    logger.info("cost guard", extra={"report": report})
    return report


def _scheduled_time(event: dict[str, Any]) -> datetime:
    """The schedule's tick (ISO 8601, e.g. 2026-11-02T09:00:00Z), or now when invoked by hand."""
    value = event.get("scheduledTime")
    if not value:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
