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
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction

#: Lambda runtime variables that Powertools and boto3 read; the function's own variables come on top.
#: X-Ray is not running in the rehearsal (no daemon, and aws-xray-sdk is the Lambda layer's, not ours).
SEAM_ENVIRONMENT = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "rehearsal"}


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

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


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
    """

    def __init__(
        self,
        *,
        sim_clock: Callable[[], float] = lambda: 0.0,
        execution_of_caller: Callable[[], str | None] = lambda: None,
        before_invoke: Callable[[Invocation], None] | None = None,
        after_invoke: Callable[[Invocation], None] | None = None,
    ) -> None:
        self.sim_clock = sim_clock
        self.execution_of_caller = execution_of_caller
        self.before_invoke = before_invoke
        self.after_invoke = after_invoke
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
        self._environment = _EnvironmentKeeper()
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
        try:
            yield self
        finally:
            LambdaFunction._invoke_lambda = original_invoke  # type: ignore[method-assign]
            boto3.client = original_client  # type: ignore[assignment]
            sys.stdout, sys.stderr = original_stdout, original_stderr
            with self._lock:
                self._deactivate()
                sys.modules.update(self._stashed)
                self._stashed.clear()
                self._environment.restore()
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
            key = (
                args,
                tuple(sorted((k, id(v) if k == "config" else v) for k, v in kwargs.items())),
                os.environ.get("AWS_REGION"),
            )
            with lock:
                if key not in cache:
                    cache[key] = create(*args, **kwargs)
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
                raise AssertionError(
                    f"{module_name} was imported from {origin}, not from the deployed code {code_dir}"
                )
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
            _deadline=time.monotonic() + timeout,
        )
        environment = {
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            **SEAM_ENVIRONMENT,
            **{k: str(v) for k, v in (function.environment_vars or {}).items()},
        }
        buffer = io.StringIO()
        with self._environment.applied(environment), _first_on_path(code_dir):
            self._activate(code_dir)
            self._local.buffer = buffer
            self._local.in_handler = True
            try:
                handler = self._load_handler(code_dir, str(function.handler))
                result = handler(event if event is not None else {}, context)
                try:
                    payload = json.dumps(result)  # as the Python runtime marshals: no default=str
                except (TypeError, ValueError) as error:
                    raise _MarshalError(f"Unable to marshal response: {error}") from error
                record.result = result
                errored = False
            except Exception as error:  # noqa: BLE001 - every exception is a function error, as in Lambda
                error_type = (
                    "Runtime.MarshalError" if isinstance(error, _MarshalError) else type(error).__name__
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
        return payload, errored, buffer.getvalue()


class _MarshalError(Exception):
    """The handler's result is not JSON (Lambda's Runtime.MarshalError)."""


class _EnvironmentKeeper:
    """Sets a function's variables in ``os.environ`` for its invocation.

    Variables are never removed while the seam is installed (only overwritten by the next function's
    values): other threads of the interpreter build boto3 clients, which copy ``os.environ``, and a key
    vanishing mid-copy raises KeyError there. The original environment comes back on exit.
    """

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    @contextlib.contextmanager
    def applied(self, values: dict[str, str]) -> Iterator[None]:
        for name in values:
            self._saved.setdefault(name, os.environ.get(name))
        os.environ.update(values)
        yield

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()


@contextlib.contextmanager
def _first_on_path(directory: Path) -> Iterator[None]:
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)
