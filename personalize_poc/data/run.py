"""Start the POC workflow and follow an execution step by step (from Step Functions' history)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from personalize_poc.data import aws
from personalize_poc.data.errors import CliError, UsageError

RUNNING_STATUSES = ("RUNNING", "PENDING_REDRIVE")
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
STATUS_STYLES = {"SUCCEEDED": "green", "RUNNING": "cyan", "PENDING_REDRIVE": "cyan", "FAILED": "red",
                 "TIMED_OUT": "red", "ABORTED": "yellow"}
# Events that end a step badly: their details carry error and cause.
_STEP_FAILURES = ("TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed",
                  "LambdaFunctionFailed", "LambdaFunctionTimedOut", "LambdaFunctionStartFailed",
                  "LambdaFunctionScheduleFailed", "ActivityFailed", "ActivityTimedOut", "MapRunFailed")


def exit_code(status: str) -> int:
    return 1 if status in FAILED_STATUSES else 0


# The stack's two state machines, by the name users give them on the command line.
WORKFLOW_PARAMETERS = {"poc": aws.WORKFLOW_PARAMETER, "teardown": aws.TEARDOWN_PARAMETER}


def workflow_arn(session: Any, environment: Any, workflow: str = "poc") -> str:
    if workflow not in WORKFLOW_PARAMETERS:
        raise UsageError(f"--workflow must be one of {', '.join(WORKFLOW_PARAMETERS)}, not {workflow!r}")
    return aws.read_parameter(session, environment, WORKFLOW_PARAMETERS[workflow])


def execution_name(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"cli-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def start(session: Any, environment: Any, *, input_json: str = "{}", name: str | None = None,
          workflow: str = "poc") -> str:
    try:
        json.loads(input_json)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--input is not JSON: {exc.msg} at column {exc.colno}") from None
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name):
        raise UsageError("--name must be 1-80 letters, digits, '-' or '_'")
    arn = workflow_arn(session, environment, workflow)
    response = session.client("stepfunctions").start_execution(
        stateMachineArn=arn, name=name or execution_name(), input=input_json)
    return response["executionArn"]


def find_execution(sfn: Any, state_machine_arn: str) -> str | None:
    """The running execution if there is one, else the most recent one."""
    for status in ("RUNNING", None):
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": 1}
        if status:
            kwargs["statusFilter"] = status
        executions = sfn.list_executions(**kwargs).get("executions", [])
        if executions:
            return executions[0]["executionArn"]
    return None


@dataclass
class Step:
    """One state of the workflow, summed over its runs (a polling loop enters the same state often)."""

    name: str
    kind: str
    resource: str = ""
    runs: int = 0
    seconds: float = 0.0
    entered: dt.datetime | None = None  # of the run still open
    status: str = "running"
    error: str = ""


@dataclass
class Progress:
    execution: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.execution.get("status", "UNKNOWN")


def _resource(details: dict[str, Any]) -> str:
    resource = details.get("resource", "")
    kind = details.get("resourceType", "")
    parameters = details.get("parameters")
    if isinstance(parameters, str):
        try:
            function = json.loads(parameters).get("FunctionName")
        except (json.JSONDecodeError, AttributeError):
            function = None
        if function:
            resource = function
    short = resource.split(":function:")[-1] if ":function:" in resource else resource.rsplit(":", 1)[-1]
    return f"{kind}:{short}" if kind and short else short or kind


def steps_from_history(events: Iterable[dict[str, Any]], now: dt.datetime | None = None) -> list[Step]:
    """Fold state entered/exited and task events into one row per state, in order of first entry."""
    steps: dict[str, Step] = {}
    state_of: dict[int, str] = {}
    last_time: dt.datetime | None = None
    for event in events:
        kind: str = event["type"]
        stamp = event["timestamp"]
        last_time = stamp
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if kind.endswith("StateEntered"):
            name = details.get("name", "?")
            step = steps.setdefault(name, Step(name, kind.removesuffix("StateEntered")))
            step.runs += 1
            step.entered = stamp
            step.status = "running"
        elif kind.endswith("StateExited"):
            name = details.get("name", "?")
            exited = steps.get(name)
            if exited and exited.entered:
                exited.seconds += (stamp - exited.entered).total_seconds()
                exited.entered = None
                if exited.status == "running":
                    exited.status = "succeeded"
        else:
            name = state_of.get(event.get("previousEventId", -1), "")
        state_of[event["id"]] = name
        current = steps.get(name)
        if current is None:
            continue
        step = current
        if kind in ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"):
            step.resource = step.resource or _resource(details)  # the first run names it best
        elif kind in _STEP_FAILURES or kind == "ExecutionFailed" and step.kind == "Fail":
            step.status = "failed"
            step.error = details.get("error", "") or kind
    end = now or last_time
    for step in steps.values():
        if step.entered and end:  # still open: count the time so far
            step.seconds += max(0.0, (end - step.entered).total_seconds())
            if step.kind == "Fail":
                step.status = "failed"
    return list(steps.values())


def fetch(sfn: Any, execution_arn: str) -> Progress:
    execution = sfn.describe_execution(executionArn=execution_arn)
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn,
                                                                     includeExecutionData=False):
        events.extend(page.get("events", []))
    now = None if execution.get("stopDate") else dt.datetime.now(dt.UTC)
    return Progress(execution, steps_from_history(events, now))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s" if minutes else \
        f"{secs}s"


def render(progress: Progress) -> RenderableType:
    execution = progress.execution
    status = progress.status
    started = execution.get("startDate")
    stopped = execution.get("stopDate")
    elapsed = ((stopped or dt.datetime.now(dt.UTC)) - started).total_seconds() if started else 0.0
    title = Text.assemble(("Execution ", "bold"), execution.get("name", execution.get("executionArn", "")),
                          "  ", (status, f"bold {STATUS_STYLES.get(status, '')}"),
                          f"  {_duration(elapsed)}")
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("#", "Step", "Type", "Resource", "Runs", "Time", "Status"):
        table.add_column(column, justify="right" if column in ("#", "Runs", "Time") else "left")
    styles = {"succeeded": "green", "running": "cyan", "failed": "red"}
    for number, step in enumerate(progress.steps, start=1):
        table.add_row(str(number), step.name, step.kind, step.resource, str(step.runs),
                      _duration(step.seconds),
                      Text(step.status + (f" ({step.error})" if step.error else ""),
                           style=styles.get(step.status, "")))
    parts: list[RenderableType] = [title, table]
    if status in FAILED_STATUSES:
        error = execution.get("error") or status
        cause = execution.get("cause") or ""
        parts.append(Text.assemble(("Error: ", "bold red"), error))
        if cause:
            parts.append(Text.assemble(("Cause: ", "bold red"), cause))
    return Group(*parts)


def status(session: Any, environment: Any, *, execution_arn: str | None = None, watch: bool = False,
           interval: float = 5.0, console: Console | None = None,
           sleep: Callable[[float], None] | None = None, workflow: str = "poc") -> Progress:
    """Show an execution (running, else latest); with ``watch``, refresh until it ends."""
    console = console or Console()
    sleep = sleep or time.sleep
    sfn = session.client("stepfunctions")
    if execution_arn is None:
        state_machine = workflow_arn(session, environment, workflow)
        execution_arn = find_execution(sfn, state_machine)
        if execution_arn is None:
            raise CliError(f"no executions of {state_machine} yet: start one with "
                           f"'personalize-poc run start {environment.name}'")
    progress = fetch(sfn, execution_arn)
    if not watch or progress.status not in RUNNING_STATUSES:
        console.print(render(progress))
        return progress
    if not console.is_terminal:  # a log, not a screen: print each change of the step table once
        last = None
        while True:
            summary = [(s.name, s.runs, s.status) for s in progress.steps] + [progress.status]
            if summary != last:
                console.print(render(progress))
                last = summary
            if progress.status not in RUNNING_STATUSES:
                return progress
            sleep(interval)
            progress = fetch(sfn, execution_arn)
    with Live(render(progress), console=console, refresh_per_second=2) as live:
        while progress.status in RUNNING_STATUSES:
            sleep(interval)
            progress = fetch(sfn, execution_arn)
            live.update(render(progress))
    return progress
