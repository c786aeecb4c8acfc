"""Step Functions quotas in the rehearsal, enforced as the service enforces them for Standard workflows,
so that a design that would die in AWS dies here too.

The quotas (AWS Step Functions developer guide, "Step Functions service quotas",
https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Quotas related to state
machine executions" and "Quotas related to task executions"):

* Maximum execution history size: 25,000 events in a single execution history; "if the execution
  history reaches this quota, the execution will fail" (a hard quota). The guide's best-practice page
  (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html) says how: at 24,999
  events the execution waits for the next event; if event 25,000 is ``ExecutionSucceeded`` the
  execution succeeds, otherwise ``ExecutionFailed`` is logged and the execution fails. The failure is
  the execution's, not a state's: no Retry or Catch sees it, so the workflow's failure notification
  never goes out. The guide does not name the error; executions that hit it report error
  ``States.Runtime`` with cause "The execution reached the maximum number of history events (25000)."
  (as quoted in github.com/loads/ardere/issues/86); modelled so.
* Maximum input or output size for a task, state, or execution: 262,144 bytes of data as a UTF-8
  encoded string; it "affects tasks (activity, Lambda function, or integrated service), state or
  execution output, and input data when scheduling a task, entering a state, or starting an
  execution". Exceeding it raises ``States.DataLimitExceeded`` ("Handling errors in Step Functions
  workflows", https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
  "a terminal error that cannot be caught by the States.ALL error type". Whether a Catch naming
  ``States.DataLimitExceeded`` explicitly would see it is not documented; the stricter side is
  modelled: no Catch sees it, the execution fails (the product's only Catch is ``States.ALL`` anyway).
* The state machine's ``TimeoutSeconds`` (the guide's "Maximum execution time", up to 1 year): an
  execution that runs longer fails with ``States.Timeout`` as ``TIMED_OUT``, which no Catch sees
  either. moto measures it in wall seconds; here it is simulated time (the event that crosses it is
  the last one recorded before ``ExecutionTimedOut``).

What is counted: every event moto's interpreter records in the execution's history, which is what
``GetExecutionHistory`` returns. Checked against the service's event types with moto 5.2.5 on the POC
workflow: moto records one history per execution in which inline Map iterations and Parallel branches
share the parent's history, as the service does - ``MapStateEntered/Started``,
``MapIterationStarted/Succeeded`` per item, ``MapStateSucceeded/Exited``; ``ParallelStateEntered/
Started/Succeeded/Exited``; ``TaskStateEntered``, ``LambdaFunctionScheduled/Started/Succeeded`` (the
events of a Lambda Resource ARN task), ``TaskStateExited``; ``Choice``/``Wait``/``Pass`` state
entered and exited; ``TaskScheduled/Started/Succeeded`` for service integrations (SNS). A poll of a
wait loop is 9 events (task 5, Choice 2, Wait 2), in AWS and here.

Enforcement happens while the execution runs (moto's ``EventManager.add_event``, the one place every
event passes; there is no public hook): past the limit the execution is failed at once, with the
service's error, and records nothing more - so a run that would exhaust its history stops where AWS
would stop it. moto is pinned (constraints.txt): re-check on every upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.stepfunctions.parser.api import (
    ExecutionFailedEventDetails,
    ExecutionTimedOutEventDetails,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

#: Step Functions service quotas (Standard workflows); see the module docstring for the sources.
MAX_HISTORY_EVENTS = 25_000
MAX_PAYLOAD_BYTES = 262_144
HISTORY_LIMIT_ERROR = "States.Runtime"
DATA_LIMIT_ERROR = "States.DataLimitExceeded"
_PAYLOAD_FIELDS = ("input", "output", "parameters")

_ROOT = "_rehearsal_quota_root"
_STICKY = "_rehearsal_quota_failure"
_LEDGER = "_rehearsal_quota_ledger"
_TIMEOUT = "_rehearsal_quota_timeout"
_TIMED_OUT = "_rehearsal_quota_timed_out"
TIMEOUT_ERROR = "States.Timeout"


@dataclass
class _Ledger:
    """One execution's history as the quotas see it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    events: int = 0
    last_id: int = 0
    closed: bool = False
    started: dt.datetime | None = None
    #: event id -> the state it belongs to (from the nearest *StateEntered up its previousEventId chain)
    state_of: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QuotaFailure:
    execution_arn: str
    error: str
    cause: str
    events: int


class StepFunctionsQuotas:
    """Counts and limits each execution's history and payloads. ``max_history_events`` and
    ``max_payload_bytes`` default to the service's quotas; tests of the machinery may lower them."""

    def __init__(
        self, *, max_history_events: int = MAX_HISTORY_EVENTS, max_payload_bytes: int = MAX_PAYLOAD_BYTES
    ) -> None:
        self.max_history_events = max_history_events
        self.max_payload_bytes = max_payload_bytes
        #: execution ARN -> events recorded in its history (the peak: a history only grows)
        self.history_events: dict[str, int] = {}
        #: executions this module failed, with why
        self.failures: list[QuotaFailure] = []
        self._lock = threading.Lock()
        self._record: Any = None  # moto's add_event (below the patches) while installed

    def peak(self, execution_arn: str) -> int:
        return self.history_events.get(execution_arn, 0)

    # ------------------------------------------------------------------ enforcement
    def _fail(self, manager: EventManager, ledger: _Ledger, error: str, cause: str) -> int:
        """Record ExecutionFailed as the last event and fail the whole execution (no Catch sees it).
        The caller holds ``ledger.lock``."""
        ref = getattr(manager, _ROOT, None)
        root: Environment | None = ref() if ref is not None else None
        details = ExecutionFailedEventDetails(error=error, cause=cause)
        if root is not None and self._record is not None:
            ledger.last_id = self._record(
                manager,
                root.event_history_context,
                HistoryEventType.ExecutionFailed,
                EventDetails(executionFailedEventDetails=details),
            )
            ledger.events += 1
        ledger.closed = True
        arn = _execution_arn(root)
        with self._lock:
            self.history_events[arn] = ledger.events
            self.failures.append(QuotaFailure(arn, error, cause, ledger.events))
        if root is not None:
            setattr(root, _STICKY, details)
            root.set_error(details)
        return ledger.last_id

    def _too_big(self, value: Any) -> int | None:
        """The UTF-8 size of a payload (a JSON text, or a value to encode as one) over the quota, else None;
        exactly the quota is allowed."""
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode("utf-8"))
        return size if size > self.max_payload_bytes else None

    def _data_limit_cause(self, what: str, state: str, size: int) -> str:
        return (
            f"The {what} of state '{state or '?'}' is {size:,} bytes, more than the {self.max_payload_bytes:,}-byte "
            "maximum input or output size of a task, state or execution (Step Functions service quota)."
        )

    def _oversized_input(self, event_details: Any) -> tuple[str, int] | None:
        """Inputs as recorded: entering a state, scheduling a task (after Parameters), starting."""
        if not isinstance(event_details, dict):
            return None
        for details in event_details.values():
            if isinstance(details, dict):
                for name in _PAYLOAD_FIELDS:
                    value = details.get(name)
                    if isinstance(value, str) and (size := self._too_big(value)) is not None:
                        return name, size
        return None

    def _verify_output(self, env: Environment, state: str, value: Any) -> None:
        """Replaces moto's own output check (a catchable error, and a Parallel branch crashes on it):
        the execution fails with States.DataLimitExceeded, as in the service."""
        size = self._too_big(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        if size is None:
            return
        ledger: _Ledger | None = getattr(env.event_manager, _LEDGER, None)
        if ledger is None:
            return
        with ledger.lock:
            if not ledger.closed:
                self._fail(env.event_manager, ledger, DATA_LIMIT_ERROR, self._data_limit_cause("output", state, size))

    def _add_event(
        self, record: Callable[[], int], manager: EventManager, context: Any, event_type: Any, event_details: Any
    ) -> int:
        ledger: _Ledger | None = getattr(manager, _LEDGER, None)
        if ledger is None:
            return record()
        with ledger.lock:
            if ledger.closed:
                return ledger.last_id  # the service records nothing after ExecutionFailed
            state = _state_name(event_details) or ledger.state_of.get(context.source_event_id, "")
            oversized = self._oversized_input(event_details)
            if oversized is not None:
                name, size = oversized
                return self._fail(manager, ledger, DATA_LIMIT_ERROR, self._data_limit_cause(name, state, size))
            if ledger.events >= self.max_history_events - 1 and event_type != HistoryEventType.ExecutionSucceeded:
                cause = f"The execution reached the maximum number of history events ({self.max_history_events})."
                return self._fail(manager, ledger, HISTORY_LIMIT_ERROR, cause)
            event_id = record()
            ledger.events += 1
            ledger.last_id = event_id
            if state:
                ledger.state_of[event_id] = state
            ref = getattr(manager, _ROOT, None)
            root = ref() if ref is not None else None
            count = ledger.events
            if root is not None and not str(getattr(event_type, "value", event_type)).startswith("Execution"):
                self._check_execution_time(manager, ledger, root)
            elif ledger.started is None:
                ledger.started = _last_event_time(manager)
        if root is not None:
            arn = _execution_arn(root)
            with self._lock:
                self.history_events[arn] = max(self.history_events.get(arn, 0), count)
        return event_id

    def _check_execution_time(self, manager: EventManager, ledger: _Ledger, root: Environment) -> None:
        """The caller holds ``ledger.lock``; the event just recorded tells the execution's time."""
        timeout = getattr(root, _TIMEOUT, None)
        now = _last_event_time(manager)
        if timeout is None or ledger.started is None or now is None:
            return
        if (now - ledger.started).total_seconds() <= timeout:
            return
        cause = f"The execution ran longer than its TimeoutSeconds ({timeout} s)."
        if self._record is not None:
            ledger.last_id = self._record(
                manager,
                root.event_history_context,
                HistoryEventType.ExecutionTimedOut,
                EventDetails(
                    executionTimedOutEventDetails=ExecutionTimedOutEventDetails(error=TIMEOUT_ERROR, cause=cause)
                ),
            )
            ledger.events += 1
        ledger.closed = True
        arn = _execution_arn(root)
        with self._lock:
            self.history_events[arn] = ledger.events
            self.failures.append(QuotaFailure(arn, TIMEOUT_ERROR, cause, ledger.events))
        setattr(root, _TIMED_OUT, True)
        root.set_timed_out()

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[StepFunctionsQuotas]:
        quotas = self
        originals: list[tuple[Any, str, Any]] = []

        def patch(owner: Any, name: str, value: Any) -> None:
            originals.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, value)

        original_init = Environment.__init__
        original_set_error = Environment.set_error
        original_add_event = EventManager.add_event
        self._record = original_add_event

        def init(env: Environment, *args: Any, **kwargs: Any) -> None:
            original_init(env, *args, **kwargs)
            # A frame replaces this manager with its parent's, so the manager keeps its execution's root.
            setattr(env.event_manager, _ROOT, weakref.ref(env))
            setattr(env.event_manager, _LEDGER, _Ledger())

        def set_error(env: Environment, error: ExecutionFailedEventDetails) -> None:
            # Once a quota failed the execution, later errors (branches unwinding) do not replace it.
            if not getattr(env, _TIMED_OUT, False):
                original_set_error(env, getattr(env, _STICKY, None) or error)

        original_program_eval = Program.eval

        def program_eval(program: Program, env: Environment) -> None:
            if not env.is_frame() and program.timeout_seconds is not None:
                setattr(env, _TIMEOUT, program.timeout_seconds.timeout_seconds)
            original_program_eval(program, env)

        def add_event(manager: EventManager, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
            def record() -> int:
                return int(original_add_event(manager, context, event_type, *args, **kwargs))

            details = kwargs.get("event_details", args[0] if args else None)
            return quotas._add_event(record, manager, context, event_type, details)

        def verify_state_output(state: Any, env: Environment, value: Any) -> None:
            quotas._verify_output(env, state.name, value)

        patch(Environment, "__init__", init)
        patch(Environment, "set_error", set_error)
        patch(Program, "eval", program_eval)
        patch(EventManager, "add_event", add_event)
        for owner in (CommonStateField, StateTaskLambda, StateTaskService):
            patch(owner, "_verify_size_quota", verify_state_output)
        try:
            yield self
        finally:
            for owner, name, value in reversed(originals):
                setattr(owner, name, value)
            self._record = None


def _last_event_time(manager: EventManager) -> dt.datetime | None:
    events = manager._history_event_list  # noqa: SLF001 - the list GetExecutionHistory returns
    if not events:
        return None
    stamp = events[-1]["timestamp"]
    if isinstance(stamp, dt.datetime):
        return stamp
    return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


def _state_name(event_details: Any) -> str | None:
    if isinstance(event_details, dict):
        entered = event_details.get("stateEnteredEventDetails")
        if isinstance(entered, dict) and entered.get("name"):
            return str(entered["name"])
    return None


def _execution_arn(env: Environment | None) -> str:
    if env is None:
        return "?"
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (KeyError, AttributeError):
        return "?"


def history_events(history: list[dict[str, Any]]) -> int:
    """Events in a history as GetExecutionHistory returned it (the execution's peak count)."""
    return len(history)


def payload_sizes(history: list[dict[str, Any]]) -> int:
    """The largest input/output/parameters payload in a history, in UTF-8 bytes."""
    return max(
        (
            len(details[name].encode("utf-8"))
            for event in history
            for details in event.values()
            if isinstance(details, dict)
            for name in _PAYLOAD_FIELDS
            if isinstance(details.get(name), str)
        ),
        default=0,
    )


__all__ = [
    "DATA_LIMIT_ERROR",
    "HISTORY_LIMIT_ERROR",
    "MAX_HISTORY_EVENTS",
    "MAX_PAYLOAD_BYTES",
    "QuotaFailure",
    "StepFunctionsQuotas",
    "history_events",
    "payload_sizes",
]
