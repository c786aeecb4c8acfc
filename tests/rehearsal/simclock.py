"""Simulated time for moto's Step Functions interpreter: Wait states and retry intervals take no wall
time, and every interpreter branch keeps its own logical clock.

moto runs ASL with LocalStack's interpreter. Each running branch owns an ``Environment`` frame: a
Parallel opens one inner frame per branch, a Map one frame per worker (whose items it runs one after
another) and one per item, and every Task evaluates in a frame of its own. So the clock lives on the
``Environment``:

* a frame starts at its parent's time (``as_inner_frame_of``); a new execution starts at the
  world's time, the furthest any branch has got;
* a Wait state and a retry interval add their seconds to the waiting frame's time (no sleep);
* a Map item starts when one of the Map's MaxConcurrency slots is free in simulated time (not when
  moto's worker thread picks it up);
* closing a frame (a branch, item, worker or task joins its parent) moves the parent to the max of its
  own and the child's time, so a Parallel or Map ends when its slowest branch does and parallel waits
  never add up - the simulated makespan is the workflow's critical path. A branch stopped because a
  sibling failed does not push its parent's time: in the real service it would have been stopped at
  the failure's time. (``sequential=True`` makes a join add its branches' durations instead: the
  baseline of a strictly sequential order, for the benchmark.);
* history events get the simulated time as their timestamp, so ``get_execution_history`` reads as the
  same run would in the real service;
* a Lambda task takes ``task_seconds`` (the invocation's latency; 0 by default);
* while a Lambda task runs, its frame is the thread's current frame: ``SimulatedTime.now()`` (the
  clock given to the Personalize double) answers that frame's time; elsewhere the world's time.

Limit, by design: branches are not synchronised with each other. Each runs as fast as moto's threads
go, so one branch may reach simulated hour 2 while a sibling is still at minute 5, and the double then
sees calls out of simulated-time order. Branches of this workflow share little (a batch job polls
until the filters branch's filter is ACTIVE; quotas count resources across branches), and the only
effect is that a branch may see another's resource a little early or late; the durations of each
branch, and so the makespan, do not depend on it.

Only moto internals that have no public hook are patched, each in one line below, and all are
restored on exit. moto is pinned (constraints.txt): re-check these on every moto upgrade.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (  # noqa: E501
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import (
    IterationWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

#: Simulated second 0: history timestamps and the double's reported datetimes are this plus sim seconds.
SIM_EPOCH = dt.datetime(2026, 11, 2, 9, 0, 0, tzinfo=dt.UTC)

_ATTR = "_rehearsal_sim_time"
_START = "_rehearsal_sim_start"
_SLOTS = "_rehearsal_map_slots"


class _MapSlots:
    """A Map's MaxConcurrency slots in simulated time. moto hands items to worker threads in wall-clock
    order (a quick worker may take a second item before another worker starts); an item starts when a
    slot is free in *simulated* time - at the Map's start while fewer items than slots run."""

    def __init__(self, slots: int, start: float) -> None:
        self._free = [start] * max(1, slots)
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:
            self._free.sort()
            return self._free.pop(0)

    def release(self, end: float) -> None:
        with self._lock:
            self._free.append(end)


_ENV_OF_CONTEXT = "_rehearsal_env"


class _RetrySleeper:
    """Stands in for the ``time`` module inside moto's retrier: a retry interval advances the retrying
    frame's simulated time instead of sleeping."""

    def __init__(self, clock: SimulatedTime) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        env = self._clock.current_env()
        if env is None:  # not reached through the patched retrier; keep moto's semantics, not its sleep
            self._clock.advance_world(seconds)
            return
        self._clock.advance(env, seconds)
        self._clock.retry_seconds += seconds
        self._clock.retries += 1


class SimulatedTime:
    """Logical clocks per interpreter frame plus the world's high-water mark. See the module docstring."""

    def __init__(self, start: float = 0.0, *, task_seconds: float = 0.0, sequential: bool = False) -> None:
        self._lock = threading.Lock()
        #: baseline mode: joining branches add their durations (as if run one after another)
        self.sequential = sequential
        #: simulated duration of one Lambda task (invocation latency); 0 makes polls instantaneous
        self.task_seconds = float(task_seconds)
        self._world = float(start)
        self._local = threading.local()
        #: totals, for the summary: simulated seconds spent in Wait states / retry intervals
        self.wait_seconds = 0.0
        self.waits = 0
        self.retry_seconds = 0.0
        self.retries = 0
        #: optional observer of every Wait: (frame time before, seconds)
        self.on_wait: Callable[[float, float], None] | None = None

    # ------------------------------------------------------------------ reading
    def world(self) -> float:
        with self._lock:
            return self._world

    def now(self) -> float:
        """The current thread's frame time inside a Lambda task or retry; the world's time elsewhere."""
        env = self.current_env()
        return self.time_of(env) if env is not None else self.world()

    def __call__(self) -> float:
        return self.now()

    def time_of(self, env: Environment) -> float:
        with self._lock:
            return float(getattr(env, _ATTR, self._world))

    def timestamp(self, seconds: float) -> dt.datetime:
        return SIM_EPOCH + dt.timedelta(seconds=seconds)

    # ------------------------------------------------------------------ moving
    def advance(self, env: Environment, seconds: float) -> None:
        with self._lock:
            value = float(getattr(env, _ATTR, self._world)) + max(0.0, float(seconds))
            setattr(env, _ATTR, value)
            self._world = max(self._world, value)

    def advance_world(self, seconds: float) -> None:
        """Let simulated time pass between executions (e.g. for resources to settle)."""
        with self._lock:
            self._world += max(0.0, float(seconds))

    def _join(self, parent: Environment, child: Environment) -> None:
        with self._lock:
            child_time = float(getattr(child, _ATTR, self._world))
            parent_time = float(getattr(parent, _ATTR, self._world))
            if self.sequential:
                child_start = float(getattr(child, _START, child_time))
                setattr(parent, _ATTR, parent_time + (child_time - child_start))
            else:
                setattr(parent, _ATTR, max(parent_time, child_time))
            self._world = max(self._world, float(getattr(parent, _ATTR)))

    # ------------------------------------------------------------------ current frame
    def current_env(self) -> Environment | None:
        return getattr(self._local, "env", None)

    @contextlib.contextmanager
    def running_in(self, env: Environment) -> Iterator[None]:
        previous = getattr(self._local, "env", None)
        self._local.env = env
        try:
            yield
        finally:
            self._local.env = previous

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[SimulatedTime]:
        clock = self
        originals: list[tuple[Any, str, Any]] = []

        def patch(owner: Any, name: str, value: Any) -> None:
            originals.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, value)

        original_init = Environment.__init__
        original_inner_frame = Environment.__dict__["as_inner_frame_of"].__func__
        original_close = Environment.close_frame
        original_add_event = EventManager.add_event
        original_retrier_body = retrier_decl.RetrierDecl._eval_body
        original_lambda = lambda_eval_utils.execute_lambda_function_integration
        original_map_body = InlineIterationComponent._eval_body
        original_eval_job = IterationWorker._eval_job

        def init(self: Environment, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            setattr(self, _ATTR, clock.world())  # a new execution starts at the world's time
            setattr(self.event_history_context, _ENV_OF_CONTEXT, weakref.ref(self))

        def as_inner_frame_of(cls: type, env: Environment, *args: Any, **kwargs: Any) -> Environment:
            frame = original_inner_frame(cls, env, *args, **kwargs)
            start = clock.time_of(env)
            setattr(frame, _ATTR, start)  # a branch starts at its parent's time
            setattr(frame, _START, start)
            return frame

        def close_frame(self: Environment, frame: Environment) -> None:
            # A branch stopped because a sibling failed would have stopped at the failure's time.
            if not isinstance(frame._program_state, ProgramStopped):
                clock._join(self, frame)
            original_close(self, frame)

        def wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
            if wait_seconds > 0 and env.is_running():
                before = clock.time_of(env)
                clock.advance(env, wait_seconds)
                clock.wait_seconds += wait_seconds
                clock.waits += 1
                if clock.on_wait is not None:
                    clock.on_wait(before, wait_seconds)

        def add_event(
            self: EventManager,
            context: Any,
            event_type: Any,
            event_details: Any = None,
            timestamp: Any = None,
            update_source_event_id: bool = True,
        ) -> int:
            if timestamp is None:
                ref = getattr(context, _ENV_OF_CONTEXT, None)
                env = ref() if ref is not None else None
                seconds = clock.time_of(env) if env is not None else clock.now()
                timestamp = clock.timestamp(seconds)
            return original_add_event(
                self, context, event_type, event_details, timestamp, update_source_event_id
            )

        def retrier_body(self: Any, env: Environment) -> None:
            with clock.running_in(env):
                original_retrier_body(self, env)

        def execute_lambda(env: Environment, *args: Any, **kwargs: Any) -> None:
            try:
                with clock.running_in(env):
                    original_lambda(env, *args, **kwargs)
            finally:
                clock.advance(env, clock.task_seconds)

        def map_body(self: Any, env: Environment) -> None:
            request = env.stack[-1]  # the Map's evaluation input: MaxConcurrency and the items
            items = len(request.input_items or [])
            concurrency = request.max_concurrency
            slots = items if concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else min(concurrency, items)
            setattr(env, _SLOTS, _MapSlots(slots, clock.time_of(env)))
            original_map_body(self, env)

        def eval_job(self: Any, env: Environment, job: Any) -> None:
            slots = getattr(self._env, _SLOTS, None)
            if slots is not None:
                start = slots.acquire()
                with clock._lock:
                    setattr(env, _ATTR, start)
                    setattr(env, _START, start)
            try:
                original_eval_job(self, env, job)
            finally:
                if slots is not None:
                    slots.release(clock.time_of(env))

        patch(Environment, "__init__", init)
        patch(Environment, "as_inner_frame_of", classmethod(as_inner_frame_of))
        patch(Environment, "close_frame", close_frame)
        patch(WaitFunction, "_wait_interval", wait_interval)
        patch(EventManager, "add_event", add_event)
        patch(retrier_decl.RetrierDecl, "_eval_body", retrier_body)
        patch(retrier_decl, "time", _RetrySleeper(clock))
        patch(lambda_eval_utils, "execute_lambda_function_integration", execute_lambda)
        patch(InlineIterationComponent, "_eval_body", map_body)
        patch(IterationWorker, "_eval_job", eval_job)
        try:
            yield self
        finally:
            for owner, name, value in reversed(originals):
                setattr(owner, name, value)
