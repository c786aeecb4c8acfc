"""What a rehearsal run did, in words and numbers.

* ``progress_lines``: a readable trace from the execution history (whose timestamps are simulated
  time): one line per status change of each Personalize resource the ensure steps report, plus the
  other steps (guard, data gate, report, notifications) and the end of the execution. For the
  teardown workflow: one line per change of each level (READY/WAITING, deleted, remaining), its steps
  labelled "delete".
* ``service_work`` / ``critical_path``: from the Personalize double, every resource the run created,
  when it was created and when it reached its final status, and the longest chain of dependent
  service work - dataset group -> dataset -> import -> solution -> solution version -> campaign /
  batch job (batch jobs also wait for their filter; filters and the event tracker hang off the
  dataset group; recommenders follow the imports of their group). Solutions are chained after the
  imports because the workflow orders them so (the
  service itself would accept a solution before any data). Resources that existed before the run
  count as ready at its start.
* ``summary``: resources per kind, simulated makespan against that critical path, state transitions
  (``*StateEntered`` events, what Step Functions bills) and Lambda invocations.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.rehearsal.harness import Rehearsal, Run
from tests.rehearsal.simclock import SIM_EPOCH
from tests.support.personalize_double import DESCRIBE_OPERATIONS, KINDS

DESCRIBE = DESCRIBE_OPERATIONS
KIND_ORDER = list(KINDS)
SETTLED = ("ACTIVE", "CREATE FAILED", "CREATE STOPPED")


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _sim(timestamp: Any) -> float:
    return float((timestamp - SIM_EPOCH).total_seconds())


# --------------------------------------------------------------------------------------------------
# Progress trace
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    at: float  # simulated seconds since the run started
    state: str
    resource: str
    status: str


def _task_of(events: dict[int, dict[str, Any]], event: dict[str, Any]) -> tuple[str, Any]:
    """(state name, Lambda input) of a Lambda outcome event, by walking previousEventId back."""
    payload: Any = None
    current = event
    for _ in range(6):
        current = events.get(current.get("previousEventId", 0), {})
        details = current.get("lambdaFunctionScheduledEventDetails")
        if details is not None:
            payload = json.loads(details.get("input") or "null")
        entered = current.get("stateEnteredEventDetails")
        if entered is not None:
            return entered["name"], payload
    return "?", payload


def steps(run: Run) -> list[Step]:
    events = {e["id"]: e for e in run.history}
    last: dict[str, str] = {}
    out: list[Step] = []
    for event in run.history:
        at = _sim(event["timestamp"]) - run.sim_start
        kind = event["type"]
        if kind in ("LambdaFunctionSucceeded", "LambdaFunctionFailed"):
            state, payload = _task_of(events, event)
            if _is_teardown(payload):
                state = _ENSURE_WORD.sub("delete", state)  # the teardown reuses the ensure-and-wait step
            if kind == "LambdaFunctionFailed":
                details = event["lambdaFunctionFailedEventDetails"]
                resource = _resource(payload)
                out.append(Step(at, state, resource, f"{details.get('error')}: {_cause(details.get('cause'))}"))
                last.pop(resource, None)
                continue
            output = json.loads(event["lambdaFunctionSucceededEventDetails"].get("output") or "null")
            if isinstance(payload, dict) and "kind" in payload and isinstance(output, dict):
                resource = _resource(payload)
                status = _teardown_status(output) if _is_teardown(payload) else str(output.get("status"))
                if output.get("waitingFor"):
                    status += f" (waiting for {output['waitingFor']})"
                if last.get(resource) != status:
                    last[resource] = status
                    out.append(Step(at, state, resource, status))
            else:
                out.append(Step(at, state, "", "done"))
        elif kind == "TaskSucceeded":
            name = _entered_name(events, event)
            out.append(Step(at, name, "", "published"))
        elif kind in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"):
            details = event.get("executionFailedEventDetails") or {}
            status = kind.removeprefix("Execution").upper()
            if details:
                status += f" {details.get('error')}: {_cause(details.get('cause'), 300)}"
            out.append(Step(at, "execution", "", status))
    return sorted(out, key=lambda step: step.at)  # history is in wall order; branches interleave


_ENSURE_WORD = re.compile(r"\bensure\b", re.IGNORECASE)


def _is_teardown(payload: Any) -> bool:
    """A teardown level's input: {kind: <level>, refs: {previouslyDeleted}} or the parameters step."""
    if not isinstance(payload, dict):
        return False
    return "previouslyDeleted" in (payload.get("refs") or {}) or payload.get("kind") == "parameters"


def _teardown_status(output: dict[str, Any]) -> str:
    """READY / WAITING with what the level has deleted so far and what it still waits for."""
    status = f"{output.get('state')}: {len(output.get('deleted') or [])} deleted"
    if output.get("remaining"):
        status += f", {output['remaining']} remaining"
        if output.get("notes"):
            status += f" ({_cause(output['notes'][0], 100)})"
    return status


def _entered_name(events: dict[int, dict[str, Any]], event: dict[str, Any]) -> str:
    current = event
    for _ in range(6):
        current = events.get(current.get("previousEventId", 0), {})
        if "stateEnteredEventDetails" in current:
            return str(current["stateEnteredEventDetails"]["name"])
    return "?"


def _resource(payload: Any) -> str:
    if not isinstance(payload, dict) or "kind" not in payload:
        return ""
    spec = payload.get("spec") or {}
    return f"{payload['kind']} {spec.get('name', '')}".strip()


def _cause(cause: Any, limit: int = 160) -> str:
    text = str(cause or "")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            text = str(parsed["errorMessage"])
    except ValueError:
        pass
    return text if len(text) <= limit else text[: limit - 1] + "…"


def progress_lines(run: Run) -> list[str]:
    rows = steps(run)
    state_width = max([len(s.state) for s in rows] + [4])
    resource_width = max([len(s.resource) for s in rows] + [8])
    return [f"{clock(s.at)}  {s.state:<{state_width}}  {s.resource:<{resource_width}}  {s.status}" for s in rows]


# --------------------------------------------------------------------------------------------------
# Service work and its critical path
# --------------------------------------------------------------------------------------------------
@dataclass
class Work:
    kind: str
    arn: str
    name: str
    status: str
    created: float  # simulated seconds
    settled: float | None  # when it reached its final status (None: still in progress)
    depends_on: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return 0.0 if self.settled is None else max(0.0, self.settled - self.created)


def service_work(rehearsal: Rehearsal) -> list[Work]:
    """Every Personalize resource in the double with its timing and dependencies (schemas have no
    status: ready when created)."""
    client = rehearsal.client("personalize")
    works: dict[str, Work] = {}
    infos = [r for r in rehearsal.double.resources() if r.kind in DESCRIBE]
    described: dict[str, dict[str, Any]] = {}
    for info in infos:
        operation, parameter, key = DESCRIBE[info.kind]
        body = getattr(client, operation)(**{parameter: info.arn})[key]
        described[info.arn] = body
        status = str(body.get("status", "ACTIVE"))  # schemas have none
        if "status" not in body:
            body["lastUpdatedDateTime"] = body["creationDateTime"]
        works[info.arn] = Work(
            kind=info.kind,
            arn=info.arn,
            name=info.name,
            status=status,
            created=_sim(body["creationDateTime"]),
            settled=_sim(body["lastUpdatedDateTime"]) if status in SETTLED else None,
        )
    by_kind: dict[str, list[Work]] = {}
    for work in works.values():
        by_kind.setdefault(work.kind, []).append(work)
    parents = {info.arn: info.parent for info in infos}
    for work in works.values():  # a version's own name is an id: say whose it is
        if work.kind == "solution_version" and parents.get(work.arn) in works:
            work.name = f"{works[parents[work.arn]].name}/{work.name}"  # type: ignore[index]
    for work in works.values():
        parent = parents.get(work.arn)
        if parent in works:
            work.depends_on.append(parent)
        body = described[work.arn]
        if work.kind in ("solution", "solution_version", "recommender"):
            group = body.get("datasetGroupArn") or (works[parent].depends_on[0] if parent in works else None)
            # Training (and, as the workflow orders it, the solution) comes after the imports of its group;
            # so does a recommender, which trains its own models.
            work.depends_on += [
                j.arn for j in by_kind.get("dataset_import_job", []) if _group_of(j, works, parents) == group
            ]
        if work.kind in ("batch_inference_job", "batch_segment_job") and body.get("filterArn") in works:
            work.depends_on.append(body["filterArn"])
    return sorted(works.values(), key=lambda w: (w.created, KIND_ORDER.index(w.kind)))


def _group_of(work: Work, works: dict[str, Work], parents: dict[str, str | None]) -> str | None:
    current: str | None = work.arn
    while current is not None and works.get(current) is not None and works[current].kind != "dataset_group":
        current = parents.get(current)
    return current


@dataclass(frozen=True)
class CriticalPath:
    seconds: float
    chain: list[Work]

    def describe(self) -> str:
        return " -> ".join(f"{w.kind.replace('_', ' ')} {w.name} ({clock(w.seconds)})" for w in self.chain)


def critical_path(works: list[Work], since: float = 0.0) -> CriticalPath:
    """Longest chain of dependent service work among resources created at or after ``since``."""
    by_arn = {w.arn: w for w in works}
    finish: dict[str, tuple[float, list[Work]]] = {}

    def longest(arn: str) -> tuple[float, list[Work]]:
        if arn in finish:
            return finish[arn]
        work = by_arn[arn]
        if work.created < since:  # existed before the run: ready at its start
            finish[arn] = (0.0, [])
            return finish[arn]
        before = max((longest(d) for d in work.depends_on if d in by_arn), key=lambda x: x[0], default=(0.0, []))
        finish[arn] = (before[0] + work.seconds, [*before[1], work])
        return finish[arn]

    best = max((longest(w.arn) for w in works), key=lambda x: x[0], default=(0.0, []))
    return CriticalPath(seconds=best[0], chain=best[1])


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------
@dataclass
class Summary:
    status: str
    makespan: float
    critical_path: CriticalPath
    resources: dict[str, Counter[str]]
    created_in_run: dict[str, int]
    state_transitions: int
    history_events: int
    lambda_invocations: Counter[str]
    lambda_errors: Counter[str]
    wait_states: int
    failed_attempts: int
    wall_seconds: float

    @property
    def ratio(self) -> float:
        return self.makespan / self.critical_path.seconds if self.critical_path.seconds else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "makespanSeconds": self.makespan,
            "criticalPathSeconds": self.critical_path.seconds,
            "makespanOverCriticalPath": round(self.ratio, 4),
            "criticalPath": [f"{w.kind}:{w.name}" for w in self.critical_path.chain],
            "resources": {k: dict(v) for k, v in self.resources.items()},
            "createdInRun": self.created_in_run,
            "stateTransitions": self.state_transitions,
            "historyEvents": self.history_events,
            "lambdaInvocations": dict(self.lambda_invocations),
            "lambdaInvocationsTotal": sum(self.lambda_invocations.values()),
            "lambdaErrors": dict(self.lambda_errors),
            "waitStates": self.wait_states,
            "failedLambdaAttempts": self.failed_attempts,
            "wallSeconds": round(self.wall_seconds, 2),
        }


def summarize(rehearsal: Rehearsal, run: Run) -> Summary:
    works = service_work(rehearsal)
    resources: dict[str, Counter[str]] = {}
    for info in rehearsal.double.resources():
        resources.setdefault(info.kind, Counter())[info.status] += 1
    created = Counter(w.kind for w in works if run.sim_start <= w.created <= run.sim_end)
    invocations = Counter(i.handler.rsplit(".", 1)[-1] for i in run.invocations)
    errors = Counter(f"{i.handler.rsplit('.', 1)[-1]}:{i.error_type}" for i in run.invocations if i.error_type)
    return Summary(
        status=run.status,
        makespan=run.makespan,
        critical_path=critical_path(works, since=run.sim_start),
        resources={k: resources[k] for k in KIND_ORDER if k in resources},
        created_in_run=dict(created),
        state_transitions=len(run.events(*_ENTERED)),
        history_events=len(run.history),
        lambda_invocations=invocations,
        lambda_errors=errors,
        wait_states=len(run.events("WaitStateEntered")),
        failed_attempts=len(run.events("LambdaFunctionFailed")),
        wall_seconds=run.wall_seconds,
    )


_ENTERED = (
    "PassStateEntered",
    "TaskStateEntered",
    "ChoiceStateEntered",
    "WaitStateEntered",
    "MapStateEntered",
    "ParallelStateEntered",
    "SucceedStateEntered",
    "FailStateEntered",
)


def summary_lines(summary: Summary) -> list[str]:
    lines = [f"Result: {summary.status}", "", "Resources in Personalize (kind: count by status):"]
    for kind, statuses in summary.resources.items():
        made = summary.created_in_run.get(kind, 0)
        states = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        lines.append(f"  {kind:<22} {sum(statuses.values()):>3}  ({states}; {made} created in this run)")
    cp = summary.critical_path
    lines += [
        "",
        f"Simulated makespan:  {clock(summary.makespan)}  ({summary.makespan:.0f} s)",
        f"Critical path:       {clock(cp.seconds)}  ({cp.seconds:.0f} s of service work)",
        f"Makespan / critical path: {summary.ratio:.3f}",
        f"  chain: {cp.describe() or '(nothing created)'}",
        "",
        f"State transitions:   {summary.state_transitions} (history events: {summary.history_events}, "
        f"Wait states: {summary.wait_states})",
        f"Lambda invocations:  {sum(summary.lambda_invocations.values())} "
        f"({', '.join(f'{k} {v}' for k, v in summary.lambda_invocations.most_common())})",
    ]
    if summary.lambda_errors:
        lines.append(
            f"  function errors ({summary.failed_attempts} failed attempts): "
            f"{', '.join(f'{k} x{v}' for k, v in summary.lambda_errors.items())}"
        )
    lines.append(f"Wall time:           {summary.wall_seconds:.1f} s")
    return lines
