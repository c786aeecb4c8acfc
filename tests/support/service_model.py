"""Request validation against botocore's service model, including the constraints botocore skips.

botocore's client-side ``ParamValidator`` checks required members, unknown members and types, but it
ignores the ``min``/``max``, ``pattern`` and ``enum`` traits that the service itself enforces. A test
that stubs a client (``botocore.stub.Stubber``) or talks to a double would therefore accept a request
the real service rejects - a 64-character dataset group name, a name with a space in it, a bogus
``importMode``. This module walks ``operation_model.input_shape`` and checks all of them.

Public API::

    validate_request("personalize", "CreateDatasetGroup", {"name": "x" * 64})  # raises
    check_request(...) -> list[Violation]                 # same walk, no raise
    validate_operation_params(operation_model, params)     # when you already hold a model
    install_model_validation(client) / uninstall_model_validation(client)
    with model_validation(client): ...                     # context-manager form

Errors are reported as ``RequestValidationError`` (a ``ValueError``) whose message lists every
violation with its parameter path, e.g.
``CreateDatasetGroup.name: length 64 > max 63``. ``RequestValidationError.violations`` keeps the
structured form; ``Violation.aws_message`` renders the wording AWS services use for a
``ValidationException`` ("Value '...' at 'name' failed to satisfy constraint: ...").

Patterns in botocore models are Java regular expressions. ``java_pattern_to_python`` translates the
differences that matter (``\\p{...}``/``\\P{...}`` classes including Unicode general categories and
POSIX names, ``\\h``, ``\\Q...\\E``, ``\\x{...}``, ``\\z``) and the result is matched with
``re.fullmatch`` under ``re.ASCII`` (Java's ``\\d``/``\\w``/``\\s`` are ASCII-only by default). The
Personalize model uses ``\\p{ASCII}``, ``\\p{L}``, ``\\p{Z}`` and ``\\p{N}``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import functools
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "RequestValidationError",
    "Violation",
    "check_request",
    "install_model_validation",
    "java_pattern_to_python",
    "model_validation",
    "operation_model",
    "service_model",
    "uninstall_model_validation",
    "validate_operation_params",
    "validate_request",
]


@dataclass(frozen=True)
class Violation:
    """One reason a request does not satisfy the model."""

    path: str  # "CreateSolution.solutionConfig.eventValueThreshold"
    kind: str  # required | unknown | type | length | pattern | enum | range | size | union
    reason: str  # "length 300 > max 256"
    value: Any = None
    constraint: str = ""  # AWS wording of the constraint, used by aws_message

    @property
    def member_path(self) -> str:
        """The path without the leading operation name (what AWS puts in its messages)."""
        return self.path.split(".", 1)[1] if "." in self.path else self.path

    @property
    def aws_message(self) -> str:
        """The phrase an AWS service uses in a ValidationException for this violation."""
        if self.kind in {"length", "pattern", "enum", "range", "size"}:
            return (
                f"Value {_short_repr(self.value)} at '{self.member_path}' "
                f"failed to satisfy constraint: {self.constraint}"
            )
        return f"{self.member_path}: {self.reason}"

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class RequestValidationError(ValueError):
    """A request violates its operation's input shape (types or min/max/pattern/enum constraints)."""

    def __init__(self, violations: list[Violation]):
        self.violations = list(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(f"{len(self.violations)} request validation error(s):\n{lines}")

    @property
    def aws_message(self) -> str:
        """``N validation error(s) detected: ...`` as an AWS service words a ValidationException."""
        n = len(self.violations)
        noun = "error" if n == 1 else "errors"
        return f"{n} validation {noun} detected: " + "; ".join(v.aws_message for v in self.violations)


def _short_repr(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"'{text}'"


# --------------------------------------------------------------------------------------------------
# Service models
# --------------------------------------------------------------------------------------------------
_session_lock = threading.Lock()


@functools.cache
def service_model(service_name: str) -> ServiceModel:
    """botocore's ServiceModel for ``service_name`` (cached, loaded once per process)."""
    with _session_lock:
        return botocore.session.get_session().get_service_model(service_name)


def operation_model(service_name: str, operation_name: str) -> OperationModel:
    """The botocore OperationModel for ``service_name``/``operation_name`` (API name, e.g. CreateSolution)."""
    return service_model(service_name).operation_model(operation_name)


# --------------------------------------------------------------------------------------------------
# Java -> Python regular expressions
# --------------------------------------------------------------------------------------------------
_ASCII_CLASSES = {
    # java.util.regex POSIX classes (US-ASCII only unless UNICODE_CHARACTER_CLASS is set)
    "ASCII": r"\x00-\x7f",
    "Lower": "a-z",
    "Upper": "A-Z",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"!-~",
    "Print": r" -~",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\f\r",
}
_HORIZONTAL_SPACE = r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000"


@functools.lru_cache(maxsize=1)
def _all_category_ranges() -> dict[str, tuple[tuple[int, int], ...]]:
    """Code point ranges per two-letter Unicode general category, computed once (~0.2 s)."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        bucket = ranges.setdefault(cat, [])
        if bucket and bucket[-1][1] == cp - 1:
            bucket[-1] = (bucket[-1][0], cp)
        else:
            bucket.append((cp, cp))
    return {cat: tuple(r) for cat, r in ranges.items()}


def _category_ranges(category: str) -> tuple[tuple[int, int], ...]:
    """Ranges whose general category is ``category`` (``Lu``) or starts with it (``L``), merged."""
    picked = sorted(r for cat, rs in _all_category_ranges().items() if cat.startswith(category) for r in rs)
    merged: list[tuple[int, int]] = []
    for lo, hi in picked:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _complement(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= sys.maxunicode:
        out.append((nxt, sys.maxunicode))
    return tuple(out)


def _ranges_to_class_body(ranges: tuple[tuple[int, int], ...]) -> str:
    def esc(cp: int) -> str:
        return f"\\U{cp:08x}"

    return "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges)


def _ascii_class_ranges(body: str) -> tuple[tuple[int, int], ...]:
    """Expand one of the _ASCII_CLASSES bodies into code point ranges."""
    chars = re.compile(f"[{body}]")
    ranges: list[tuple[int, int]] = []
    for cp in range(0x80):
        if chars.match(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return tuple(ranges)


def _property_class_body(name: str, negated: bool) -> str:
    """Class body (no brackets) for Java's \\p{name} (or \\P{name} when negated)."""
    key = name
    for prefix in ("Is", "general_category=", "gc="):
        if key.startswith(prefix) and key[len(prefix) :]:
            key = key[len(prefix) :]
    if key in _ASCII_CLASSES:
        if not negated:
            return _ASCII_CLASSES[key]
        return _ranges_to_class_body(_complement(_ascii_class_ranges(_ASCII_CLASSES[key])))
    if re.fullmatch(r"[A-Z][a-z]?", key):
        ranges = _category_ranges(key)
        if not ranges:
            raise ValueError(f"unknown Unicode category \\p{{{name}}}")
        return _ranges_to_class_body(_complement(ranges) if negated else ranges)
    raise ValueError(f"unsupported Java character property \\p{{{name}}}")


@functools.cache
def java_pattern_to_python(pattern: str) -> str:
    """Translate a Java (java.util.regex) pattern, as found in AWS models, to Python ``re`` syntax."""
    out: list[str] = []
    i, n = 0, len(pattern)
    class_depth = 0
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in "pP":
                negated = nxt == "P"
                if i + 2 < n and pattern[i + 2] == "{":
                    end = pattern.index("}", i + 3)
                    name = pattern[i + 3 : end]
                    i = end + 1
                else:
                    name = pattern[i + 2]
                    i += 3
                if class_depth:
                    out.append(_property_class_body(name, negated))
                else:
                    out.append(f"[{_property_class_body(name, negated)}]")
                continue
            if nxt == "h":
                out.append(_HORIZONTAL_SPACE if class_depth else f"[{_HORIZONTAL_SPACE}]")
                i += 2
                continue
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end == -1 else end
                out.append(re.escape(pattern[i + 2 : end]))
                i = end + 2
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.index("}", i + 3)
                out.append(f"\\U{int(pattern[i + 3 : end], 16):08x}")
                i = end + 1
                continue
            if nxt == "z":
                out.append(r"\Z")
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            if class_depth:
                # Java's nested class is a union: [a-z[0-9]] == [a-z0-9]. Flatten it.
                if pattern.startswith("[^", i):
                    raise ValueError(f"negated nested character classes are not supported: {pattern!r}")
                class_depth += 1
                i += 1
                continue
            class_depth += 1
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            continue
        if ch == "]" and class_depth:
            class_depth -= 1
            if class_depth == 0:
                out.append(ch)
            i += 1
            continue
        if class_depth and pattern.startswith("&&", i):
            raise ValueError(f"character class intersection is not supported: {pattern!r}")
        out.append(ch)
        i += 1
    return "".join(out)


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(java_pattern_to_python(pattern), re.ASCII)


# --------------------------------------------------------------------------------------------------
# The walk
# --------------------------------------------------------------------------------------------------
_TYPE_NAMES = {
    "structure": "dict",
    "list": "list",
    "map": "dict",
    "string": "str",
    "integer": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "timestamp": "datetime",
    "blob": "bytes",
}


def _type_ok(shape: Shape, value: Any) -> bool:
    t = shape.type_name
    if t in ("structure", "map"):
        return isinstance(value, Mapping)
    if t == "list":
        return isinstance(value, (list, tuple))
    if t == "string":
        return isinstance(value, str)
    if t in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if t in ("float", "double"):
        return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "timestamp":
        return isinstance(value, (_dt.datetime, _dt.date, str, int, float)) and not isinstance(value, bool)
    if t == "blob":
        return isinstance(value, (bytes, bytearray, str)) or hasattr(value, "read")
    return True  # document types and anything newer: accept


class _Walker:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def add(self, path: str, kind: str, reason: str, value: Any = None, constraint: str = "") -> None:
        self.violations.append(Violation(path, kind, reason, value, constraint))

    def walk(self, shape: Shape, value: Any, path: str) -> None:
        if value is None:
            return  # None for an optional member is dropped by serializers; required handled by caller
        if getattr(shape, "is_document_type", False):
            return
        if not _type_ok(shape, value):
            self.add(
                path,
                "type",
                f"expected {_TYPE_NAMES.get(shape.type_name, shape.type_name)} "
                f"({shape.name}), got {type(value).__name__}",
                value,
            )
            return
        getattr(self, f"_walk_{shape.type_name}", self._walk_scalar)(shape, value, path)

    # -- containers
    def _walk_structure(self, shape: Shape, value: Mapping[str, Any], path: str) -> None:
        members = shape.members
        for name in shape.required_members:
            if value.get(name) is None:
                self.add(f"{path}.{name}", "required", "missing required member")
        for key, item in value.items():
            if key not in members:
                self.add(f"{path}.{key}", "unknown", f"unknown member, must be one of: {', '.join(members)}")
                continue
            self.walk(members[key], item, f"{path}.{key}")
        if shape.metadata.get("union"):
            set_members = [k for k, v in value.items() if v is not None]
            if len(set_members) != 1:
                self.add(path, "union", f"exactly one member must be set, got {len(set_members)}")

    def _walk_list(self, shape: Shape, value: list[Any], path: str) -> None:
        self._check_size(shape, len(value), path, value, "length")
        for idx, item in enumerate(value):
            if item is None:
                self.add(f"{path}[{idx}]", "type", "list member must not be None")
                continue
            self.walk(shape.member, item, f"{path}[{idx}]")

    def _walk_map(self, shape: Shape, value: Mapping[Any, Any], path: str) -> None:
        self._check_size(shape, len(value), path, value, "size")
        for key, item in value.items():
            label = repr(key) if len(repr(key)) <= 42 else repr(key)[:38] + "...'"
            self.walk(shape.key, key, f"{path}[{label}](key)")
            self.walk(shape.value, item, f"{path}[{label}]")

    def _bounds(self, shape: Shape, measured: Any, path: str, value: Any, kind: str, what: str) -> None:
        """Check ``measured`` (a length, a size or the value itself) against the shape's min/max."""
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        label = f"{what} " if what != "value" else ""
        if lo is not None and measured < lo:
            constraint = f"Member must have {what} greater than or equal to {lo}"
            self.add(path, kind, f"{label}{measured} < min {lo}", value, constraint)
        if hi is not None and measured > hi:
            constraint = f"Member must have {what} less than or equal to {hi}"
            self.add(path, kind, f"{label}{measured} > max {hi}", value, constraint)

    def _check_size(self, shape: Shape, size: int, path: str, value: Any, what: str) -> None:
        self._bounds(shape, size, path, value, "size", what)

    # -- scalars
    def _walk_string(self, shape: Shape, value: str, path: str) -> None:
        self._bounds(shape, len(value), path, value, "length", "length")
        enum = shape.enum
        if enum and value not in enum:
            constraint = f"Member must satisfy enum value set: [{', '.join(enum)}]"
            self.add(path, "enum", f"{value!r} is not one of {list(enum)}", value, constraint)
        pattern = shape.metadata.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            constraint = f"Member must satisfy regular expression pattern: {pattern}"
            self.add(path, "pattern", f"{value!r} does not match pattern {pattern}", value, constraint)

    def _walk_blob(self, shape: Shape, value: Any, path: str) -> None:
        if isinstance(value, (bytes, bytearray, str)):
            self._bounds(shape, len(value), path, value, "length", "length")

    def _walk_scalar(self, shape: Shape, value: Any, path: str) -> None:
        if shape.type_name in ("integer", "long", "float", "double"):
            self._bounds(shape, value, path, value, "range", "value")


def _check(model: OperationModel, params: Mapping[str, Any]) -> list[Violation]:
    walker = _Walker()
    shape = model.input_shape
    if shape is None:
        for key in params:
            walker.add(f"{model.name}.{key}", "unknown", "operation takes no parameters")
        return walker.violations
    if not isinstance(params, Mapping):
        walker.add(model.name, "type", f"parameters must be a dict, got {type(params).__name__}")
        return walker.violations
    walker.walk(shape, params, model.name)
    return walker.violations


def check_request(service_name: str, operation_name: str, params: Mapping[str, Any]) -> list[Violation]:
    """Every way ``params`` violates the input shape of ``operation_name`` (empty when valid)."""
    return _check(operation_model(service_name, operation_name), params)


def validate_operation_params(model: OperationModel, params: Mapping[str, Any]) -> None:
    """Raise RequestValidationError if ``params`` does not satisfy ``model.input_shape``."""
    violations = _check(model, params)
    if violations:
        raise RequestValidationError(violations)


def validate_request(service_name: str, operation_name: str, params: Mapping[str, Any]) -> None:
    """Raise RequestValidationError if ``params`` would be rejected by the model's constraints.

    ``operation_name`` is the API name (``CreateDatasetGroup``), as in ``client.meta.method_to_api_mapping``.
    """
    validate_operation_params(operation_model(service_name, operation_name), params)


# --------------------------------------------------------------------------------------------------
# Client hook
# --------------------------------------------------------------------------------------------------
_HOOK_ID = "tests.support.service_model.validate"


def _before_parameter_build(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
    validate_operation_params(model, params)


def install_model_validation(client: Any) -> Any:
    """Validate every call made through ``client`` against the full model (min/max/pattern/enum too).

    Registers a ``before-parameter-build`` handler, which runs before botocore's own validation and
    before a ``Stubber`` answers, so stubbed handler tests reject what the real service would. A
    failing call raises ``RequestValidationError``. Idempotent; returns the client.
    """
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"before-parameter-build.{service_id}", _before_parameter_build, unique_id=_HOOK_ID
    )
    return client


def uninstall_model_validation(client: Any) -> None:
    """Undo ``install_model_validation``."""
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(
        f"before-parameter-build.{service_id}", _before_parameter_build, unique_id=_HOOK_ID
    )


@contextlib.contextmanager
def model_validation(client: Any) -> Iterator[Any]:
    """``with model_validation(client): ...`` - install for the duration of the block."""
    install_model_validation(client)
    try:
        yield client
    finally:
        uninstall_model_validation(client)
