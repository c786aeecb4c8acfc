"""Lambda entry points: parse the event, set up Powertools, call the logic. Nothing else."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from poc_steps import data_gate, ensure, failure, guard, polling, report, report_chart, teardown, teardown_trigger
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.errors import QuotaExceeded

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def ensure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{kind, spec, refs, attempt, waitedSeconds, polling} ->
    {arn, status, state: READY|WAITING, attempt, waitSeconds, waitedSeconds, timeoutError, timeoutCause, ...}"""
    attempt = int(event.get("attempt", 1))
    try:
        outcome = ensure.ensure(PersonalizeAdapter(), event["kind"], event["spec"], event.get("refs") or {}, attempt)
    except QuotaExceeded as error:
        # A quota (e.g. concurrent trainings) frees when other work finishes, which can take hours: wait
        # for it in the loop, visibly and up to the resource's timeout, not in an invisible Retry. The
        # attempt is not counted, so the next check is still the run's first call for this resource.
        outcome = {"arn": None, "status": None, "state": "WAITING", "attempt": attempt - 1, "quota": str(error)}
        if "promotion" in (event.get("refs") or {}):  # the campaign loop's carried decision (ensure_campaign)
            outcome["promotion"] = event["refs"]["promotion"]
    outcome.update(polling.loop_fields(event))
    outcome.update(_timeout_reason(event, outcome))
    logger.info("ensured", extra={"kind": event["kind"], "outcome": outcome})
    return outcome


def _timeout_reason(event: dict[str, Any], outcome: dict[str, Any]) -> dict[str, str]:
    """The error and cause the loop's Fail state reports if this check turns out to be the last."""
    kind, timeout = event["kind"], polling.describe_duration(int(outcome["timeoutSeconds"]))
    spec = event.get("spec") or {}
    what = f"{kind} {spec.get('name', '')}".strip()
    if outcome.get("quota"):
        return {
            "timeoutError": "QuotaExceeded",
            "timeoutCause": f"{what} waited {timeout} (its polling timeout) for a Personalize quota: "
            f"{outcome['quota']}",
        }
    status = outcome.get("status") or "not created yet"
    return {
        "timeoutError": "WaitTimedOut",
        "timeoutCause": f"{what} was not ready after {timeout} (its polling timeout; last status: {status}). "
        f"See it in the Personalize console; a longer wait is polling.{kind}.timeout_minutes in the POC config.",
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def guard_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{stateMachineArn, executionArn} -> raises RunAlreadyInProgress when another run owns the POC."""
    return guard.check_single_run(boto3.client("stepfunctions"), event["stateMachineArn"], event["executionArn"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def validate_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{config} -> raises DataValidationFailed naming each bad file."""
    return data_gate.validate_uploads(boto3.client("s3"), event["config"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def report_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Collects metrics, writes the run report to S3 and publishes what was built to SSM."""
    plan = event["config"]
    metrics = report.collect_metrics(PersonalizeAdapter(), event["solutions"])
    run_report = report.build_report(event, metrics, datetime.now(UTC).isoformat(timespec="seconds"))
    bucket = plan["bucket"]
    run_id = str(event.get("execution", "manual")).rsplit(":", 1)[-1]
    s3 = boto3.client("s3")
    keys = {}
    for folder in (f"{plan['reportPrefix']}{run_id}/", f"{plan['reportPrefix']}latest/"):
        s3.put_object(
            Bucket=bucket,
            Key=f"{folder}report.json",
            Body=report.dumps(run_report).encode(),
            ContentType="application/json",
        )
        s3.put_object(
            Bucket=bucket,
            Key=f"{folder}report.md",
            Body=report.render_markdown(run_report).encode(),
            ContentType="text/markdown",
        )
        s3.put_object(
            Bucket=bucket,
            Key=f"{folder}{report_chart.CHART_FILE}",
            Body=report_chart.render_svg(run_report).encode(),
            ContentType="image/svg+xml",
        )
        keys[folder] = f"s3://{bucket}/{folder}report.json"
    report_uri = keys[f"{plan['reportPrefix']}{run_id}/"]
    ssm = boto3.client("ssm")
    for name, value in report.parameters_to_publish(run_report, os.environ["PARAMETER_PATH"], report_uri).items():
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
    logger.info("report written", extra={"reportUri": report_uri})
    chart_uri = report_uri.rsplit("/", 1)[0] + f"/{report_chart.CHART_FILE}"
    notes = report.promotion_notes(run_report)
    return {"reportUri": report_uri, "table": f"{report.render_table(metrics)}{notes}\n\nChart: {chart_uri}"}


@logger.inject_lambda_context
def failure_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    """A caught {Error, Cause} -> {error, cause, subject} for the notification and the Fail state."""
    described = failure.describe_failure(event)
    logger.error("run failed", extra=described)
    return described


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
def teardown_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """{kind: level, spec: plan, refs: {previouslyDeleted}, attempt} -> {state, deleted, remaining, ...}"""
    level, attempt = event["kind"], int(event.get("attempt", 1))
    previous = (event.get("refs") or {}).get("previouslyDeleted") or []
    if level == "parameters":
        names = teardown.delete_published_parameters(boto3.client("ssm"), os.environ["PARAMETER_PATH"])
        return {"state": "READY", "attempt": attempt, "deleted": names, "remaining": 0, "notes": []}
    outcome = teardown.teardown_level(PersonalizeAdapter(), level, event["spec"], attempt, previous)
    outcome.update(polling.loop_fields(event))
    timeout = polling.describe_duration(int(outcome["timeoutSeconds"]))
    notes = "; ".join(str(n) for n in outcome.get("notes") or [])
    outcome["timeoutError"] = "WaitTimedOut"
    outcome["timeoutCause"] = (
        f"teardown level {level}: {outcome.get('remaining')} resource(s) still not deleted after {timeout} "
        f"(the level's timeout){': ' + notes if notes else ''}. See them in the Personalize console, then run "
        "the teardown again."
    )
    logger.info("teardown level", extra={"level": level, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(log_event=True)
def teardown_on_event_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return teardown_trigger.on_event(boto3.client("stepfunctions"), event)


@logger.inject_lambda_context(log_event=True)
def teardown_is_complete_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return teardown_trigger.is_complete(boto3.client("stepfunctions"), event)
