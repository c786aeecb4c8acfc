"""The one seam into moto's Lambda: run the deployed function's real handler in-process.

moto's ``LambdaFunction._invoke_lambda(self, event) -> (payload, errored, logs)`` normally starts a
Docker container. Here it unzips the function's deployed code (``self.code_bytes``: the CDK asset as
published), imports ``self.handler`` from it, and calls it with the function's environment variables
and a Lambda-like context. Everything around it stays moto's: aliases and versions, the Invoke API,
the ``X-Amz-Function-Error`` header, and Step Functions turning ``errorType`` into the state's error
name (so ``Retry``/``Catch`` on ``Throttled``, ``ResourceFailed``... match as in AWS).

Invocations are serialised (one at a time, under a lock): a handler sees process-wide state
(``os.environ``, ``sys.path``, ``sys.modules``) set for its function only. Every function of this app
shares one asset, hence one ``poc_steps`` package; code of another hash is imported separately and
swapped in ``sys.modules`` when it runs. The repository's own ``lambdas/`` is never what runs: the
modules are checked to come from the unzipped asset.

As in Lambda, each invocation sees exactly its function's environment: the function's own variables
plus the runtime's (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``, the role session's
``AWS_ACCESS_KEY_ID``...), nothing left over from another function and nothing of the test process.
``os.environ`` is per thread while the seam is installed (``_PerThreadEnviron``): the handler's thread
reads its function's variables, every other thread (moto's interpreter building its own clients) the
process's. The handler's boto3 clients carry the credentials of its function's role
(``credentials_for``, an ``sts:AssumeRole`` session), so IAM decides what it may do. A handler that runs
longer than its function's configured timeout fails as Lambda reports it (``Sandbox.Timedout``, "Task
timed out after N.00 seconds"), measured with ``wall_clock`` (a test may give a fake one). Memory: the
context and ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE`` report the configured size, and a handler during which
the process's peak resident memory grew by more than that size fails as ``Runtime.OutOfMemory`` (a
lower bound, one ``getrusage`` call: growth below an earlier peak goes unseen; tracing every allocation
would slow every handler down).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction

#: Seam-only variables: X-Ray is not running in the rehearsal (no daemon, and aws-xray-sdk is the Lambda
#: layer's, not ours). The function's own variables come on top.
SEAM_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "rehearsal"}
#: Variables every Python function sees in Lambda besides the per-function ones set in ``_run``
#: (Lambda developer guide, "Defined runtime environment variables").
RUNTIME_ENVIRONMENT = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
}


@dataclass
class Invocation:
    """One handler call, as the summary and the tests read it."""

    function_name: str
    handler: str
    event: Any
    sim_time: float
    execution_arn: str | None
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    wall_seconds: float = 0.0


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: int
    _deadline: float = field(default=0.0, repr=False)
    _clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


_INVOCATION = threading.local()  # per thread: the running invocation's log buffer


class _RoutingStream(io.TextIOBase):
    """Stands in for sys.stdout/stderr: a handler's output goes to its invocation's log buffer
    (returned to moto as the invocation's logs), everything else to the original stream."""

    def __init__(self, original: Any, local: threading.local) -> None:
        self._original = original
        self._local = local

    def write(self, text: str) -> int:
        buffer = getattr(self._local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self._original.write(text)

    def flush(self) -> None:
        if getattr(self._local, "buffer", None) is None:
            self._original.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", "utf-8")


class InProcessLambdas:
    """Installs the seam; records every invocation in ``invocations``.

    Args:
        sim_clock: simulated seconds now (recorded per invocation).
        execution_of_caller: the execution ARN of the Step Functions task calling (for the record).
        before_invoke: called before a handler runs, outside the invocation lock (a test can hold
            one execution here while another runs).
        credentials_for: role ARN -> boto3 credential arguments of a session of that role (None: the
            process's credentials, no IAM).
        wall_clock: seconds, for the timeout (default ``time.monotonic``).
        peak_memory_mb: the process's peak resident memory in MB, for the memory limit.
    """

    def __init__(
        self,
        *,
        sim_clock: Callable[[], float] = lambda: 0.0,
        execution_of_caller: Callable[[], str | None] = lambda: None,
        before_invoke: Callable[[Invocation], None] | None = None,
        after_invoke: Callable[[Invocation], None] | None = None,
        credentials_for: Callable[[str], dict[str, str]] | None = None,
        wall_clock: Callable[[], float] = time.monotonic,
        peak_memory_mb: Callable[[], float] | None = None,
    ) -> None:
        self.sim_clock = sim_clock
        self.execution_of_caller = execution_of_caller
        self.before_invoke = before_invoke
        self.after_invoke = after_invoke
        self.credentials_for = credentials_for
        self.wall_clock = wall_clock
        self.peak_memory_mb = peak_memory_mb or _peak_resident_mb
        self.invocations: list[Invocation] = []
        self._lock = threading.RLock()
        # Shared by every seam: a handler module imported under an earlier seam keeps the routing
        # stream of that time (Powertools binds its log handler once per service name).
        self._local = _INVOCATION
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._code_dirs: dict[str, Path] = {}
        self._modules: dict[Path, dict[str, ModuleType]] = {}
        self._active: Path | None = None
        self._stashed: dict[str, ModuleType] = {}
        self._environ: _PerThreadEnviron | None = None
        self._verified: set[tuple[Path, str]] = set()

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[InProcessLambdas]:
        seam = self
        original_invoke = LambdaFunction.__dict__["_invoke_lambda"]
        original_stdout, original_stderr = sys.stdout, sys.stderr

        def _invoke_lambda(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return seam.invoke(function, event)

        self._workdir = tempfile.TemporaryDirectory(prefix="rehearsal-lambda-")
        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign,assignment]
        original_client = boto3.client
        boto3.client = self._cached_client(original_client)  # type: ignore[assignment]
        sys.stdout = _RoutingStream(original_stdout, self._local)  # type: ignore[assignment]
        sys.stderr = _RoutingStream(original_stderr, self._local)  # type: ignore[assignment]
        original_environ = os.environ
        self._environ = _PerThreadEnviron(original_environ, self._local)
        os.environ = self._environ  # type: ignore[assignment]  # noqa: B003 - a Python-level view, by design
        try:
            yield self
        finally:
            LambdaFunction._invoke_lambda = original_invoke  # type: ignore[method-assign]
            boto3.client = original_client  # type: ignore[assignment]
            sys.stdout, sys.stderr = original_stdout, original_stderr
            os.environ = original_environ  # noqa: B003
            with self._lock:
                self._deactivate()
                sys.modules.update(self._stashed)
                self._stashed.clear()
            self._workdir.cleanup()

    def _cached_client(self, create: Callable[..., Any]) -> Callable[..., Any]:
        """``boto3.client`` for handlers, with clients kept per (service, region, config) like a warm
        Lambda container keeps module-level ones. Creating a client costs ~30 ms (most of a rehearsal's
        wall time otherwise); a cached client behaves the same (the double and moto see every call)."""
        cache: dict[tuple[Any, ...], Any] = {}
        lock = threading.Lock()

        def client(*args: Any, **kwargs: Any) -> Any:
            if not getattr(self._local, "in_handler", False):
                return create(*args, **kwargs)
            environ = self._local.environ
            # The function's role session, as the Lambda runtime's credentials provider gives it.
            credentials = {
                "aws_access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
                "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
                "aws_session_token": environ.get("AWS_SESSION_TOKEN"),
            }
            key = (
                args,
                tuple(sorted((k, id(v) if k == "config" else v) for k, v in kwargs.items())),
                environ.get("AWS_REGION"),
                credentials["aws_access_key_id"],
            )
            with lock:
                if key not in cache:
                    explicit = {k: v for k, v in credentials.items() if v is not None and k not in kwargs}
                    cache[key] = create(*args, **kwargs, **explicit)
                return cache[key]

        return client

    # ------------------------------------------------------------------ code
    def _code_dir(self, function: LambdaFunction) -> Path:
        key = function.code_sha_256 or function.function_name
        if key not in self._code_dirs:
            assert self._workdir is not None
            target = Path(self._workdir.name) / key.replace("/", "_").replace("+", "-")[:40]
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(target)
            self._code_dirs[key] = target
        return self._code_dirs[key]

    @staticmethod
    def _top_level_names(code_dir: Path) -> set[str]:
        names = {p.name for p in code_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
        names |= {p.stem for p in code_dir.glob("*.py")}
        return names

    def _deactivate(self) -> None:
        if self._active is None:
            return
        names = self._top_level_names(self._active)
        cache = self._modules.setdefault(self._active, {})
        for name in [n for n in sys.modules if n.split(".", 1)[0] in names]:
            cache[name] = sys.modules.pop(name)
        self._active = None

    def _activate(self, code_dir: Path) -> None:
        """Make ``code_dir``'s modules the ones ``import`` finds (its copy, never the repository's)."""
        if self._active == code_dir:
            return
        self._deactivate()
        names = self._top_level_names(code_dir)
        for name in [n for n in sys.modules if n.split(".", 1)[0] in names]:
            # Imported from elsewhere (the repository's lambdas/, by unit tests): set aside, restored on exit.
            self._stashed.setdefault(name, sys.modules.pop(name))
        sys.modules.update(self._modules.get(code_dir, {}))
        self._active = code_dir

    def _load_handler(self, code_dir: Path, handler: str) -> Callable[..., Any]:
        module_name, _, function_name = handler.rpartition(".")
        module = import_module(module_name)
        if (code_dir, module_name) not in self._verified:
            origin = Path(module.__file__ or "").resolve()
            if code_dir.resolve() not in origin.parents:
                raise AssertionError(f"{module_name} was imported from {origin}, not from the deployed code {code_dir}")
            self._verified.add((code_dir, module_name))
        return getattr(module, function_name)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ invocation
    def invoke(self, function: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        record = Invocation(
            function_name=function.function_name,
            handler=str(function.handler),
            event=event,
            sim_time=self.sim_clock(),
            execution_arn=self.execution_of_caller(),
        )
        if self.before_invoke is not None:
            self.before_invoke(record)
        started = time.monotonic()
        with self._lock:
            record.sim_time = self.sim_clock()
            payload, errored, logs = self._run(function, event, record)
            self.invocations.append(record)
        record.wall_seconds = time.monotonic() - started
        if self.after_invoke is not None:
            self.after_invoke(record)
        return payload, errored, logs

    def _run(self, function: LambdaFunction, event: Any, record: Invocation) -> tuple[str, bool, str]:
        code_dir = self._code_dir(function)
        request_id = str(uuid.uuid4())
        timeout = int(function.timeout)
        context = LambdaContext(
            function_name=function.function_name,
            function_version=str(function.version),
            invoked_function_arn=function.function_arn,
            memory_limit_in_mb=int(function.memory_size),
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{function.function_name}",
            log_stream_name=f"rehearsal/[{function.version}]{request_id.replace('-', '')}",
            timeout_seconds=timeout,
            _deadline=self.wall_clock() + timeout,
            _clock=self.wall_clock,
        )
        environment = self._environment_of(function, code_dir, context)
        buffer = io.StringIO()
        with _first_on_path(code_dir):
            self._activate(code_dir)
            self._local.buffer = buffer
            self._local.environ = environment
            self._local.in_handler = True
            try:
                handler = self._load_handler(code_dir, str(function.handler))
                started, peak_before = self.wall_clock(), self.peak_memory_mb()
                result = handler(event if event is not None else {}, context)
                if self.wall_clock() - started > timeout:
                    raise _Timeout(f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds")
                if self.peak_memory_mb() - peak_before > int(function.memory_size):
                    raise _OutOfMemory(f"RequestId: {request_id} Error: Runtime exited with error: signal: killed")
                try:
                    payload = json.dumps(result)  # as the Python runtime marshals: no default=str
                except (TypeError, ValueError) as error:
                    raise _MarshalError(f"Unable to marshal response: {error}") from error
                record.result = result
                errored = False
            except Exception as error:  # noqa: BLE001 - every exception is a function error, as in Lambda
                error_type = (
                    "Runtime.MarshalError"
                    if isinstance(error, _MarshalError)
                    else "Sandbox.Timedout"
                    if isinstance(error, _Timeout)
                    else "Runtime.OutOfMemory"
                    if isinstance(error, _OutOfMemory)
                    else type(error).__name__
                )
                record.error_type, record.error_message = error_type, str(error)
                payload = json.dumps(
                    {
                        "errorMessage": str(error),
                        "errorType": error_type,
                        "requestId": request_id,
                        "stackTrace": traceback.format_tb(error.__traceback__),
                    }
                )
                errored = True
            finally:
                self._local.buffer = None
                self._local.in_handler = False
                self._local.environ = None
        return payload, errored, buffer.getvalue()

    def _environment_of(self, function: LambdaFunction, code_dir: Path, context: LambdaContext) -> dict[str, str]:
        """Exactly what Lambda gives this function: the runtime's variables and the function's own."""
        environment = {
            **RUNTIME_ENVIRONMENT,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": context.log_stream_name,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "_HANDLER": str(function.handler),
            "LAMBDA_TASK_ROOT": str(code_dir),
            **SEAM_ENVIRONMENT,
        }
        if self.credentials_for is not None:
            credentials = self.credentials_for(str(function.role))
            environment["AWS_ACCESS_KEY_ID"] = credentials["aws_access_key_id"]
            environment["AWS_SECRET_ACCESS_KEY"] = credentials["aws_secret_access_key"]
            environment["AWS_SESSION_TOKEN"] = credentials["aws_session_token"]
        environment.update({k: str(v) for k, v in (function.environment_vars or {}).items()})
        return environment


class _MarshalError(Exception):
    """The handler's result is not JSON (Lambda's Runtime.MarshalError)."""


class _Timeout(Exception):
    """The handler ran past the function's timeout (Lambda's Sandbox.Timedout)."""


class _OutOfMemory(Exception):
    """The handler needed more than the function's memory (Lambda's Runtime.OutOfMemory)."""


def _peak_resident_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


class _PerThreadEnviron(MutableMapping[str, str]):
    """``os.environ`` while the seam is installed: inside a handler (its thread's ``environ`` set), exactly
    its function's variables; in every other thread the process's environment, untouched. Nothing is
    removed from the process's environment, so moto's interpreter threads can copy it at any time while
    handlers run (a key vanishing mid-copy would raise KeyError there)."""

    def __init__(self, process: MutableMapping[str, str], local: threading.local) -> None:
        self._process = process
        self._local = local

    def _current(self) -> MutableMapping[str, str]:
        environ = getattr(self._local, "environ", None)
        return self._process if environ is None else environ

    def __getitem__(self, key: str) -> str:
        return self._current()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._current()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())

    def copy(self) -> dict[str, str]:
        return dict(self._current())


@contextlib.contextmanager
def _first_on_path(directory: Path) -> Iterator[None]:
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)
