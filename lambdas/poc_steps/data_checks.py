"""Checks for Amazon Personalize bulk CSV data: the one place where the data rules live.

Pure standard library, so it runs in AWS Lambda without extra layers. The workflow's data gate reads an
uploaded object's header and a sample of rows and calls ``check_header``/``check_rows``/
``check_object_size`` before any import job starts. The ``personalize-poc data validate`` command reuses
the same schema parsing, required fields, limits, per-value rules and finding codes; its fast path is
vectorised but must give the same codes (tests compare the two on the same files).

Row numbers in findings are *line numbers* of the CSV file: the header is line 1, the first data row is
line 2 (values with embedded newlines make the two differ; Personalize data rarely has them).

Limits used, from the Amazon Personalize developer guide, "Amazon Personalize endpoints and quotas"
(https://docs.aws.amazon.com/personalize/latest/dg/limits.html) and the custom dataset schema pages
(item-dataset-requirements.html, user-dataset-requirements.html), checked 2026-11:

* minimum 1000 item interactions (per training, and per import job);
* minimum 25 unique users with at least 2 interactions each, and at least 1% of all users must have 2+;
* USER_ID / ITEM_ID values: at most 256 characters;
* categorical values: at most 1000 characters ("If you have an item with a categorical value with more
  than 1000 characters, your dataset import job will fail");
* bulk data per import job: 100 GB in FULL mode (interactions: up to 1 TB after a quota increase) and
  1 GB in INCREMENTAL mode (stated for interactions and users; items follow the same pattern). We read
  "GB" as 10**9 bytes, the stricter reading.

The POC guide's advice (more than 50 users, 50 items and 1500 interactions before a POC is worth
running) gives warnings, not errors.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ERROR: Literal["error"] = "error"
WARNING: Literal["warning"] = "warning"

DATASET_TYPES = ("interactions", "items", "users")
SCHEMA_NAMESPACE = "com.amazonaws.personalize.schema"

REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "interactions": frozenset({"USER_ID", "ITEM_ID", "TIMESTAMP"}),
    "items": frozenset({"ITEM_ID"}),
    "users": frozenset({"USER_ID"}),
}
ID_FIELDS: dict[str, tuple[str, ...]] = {
    "interactions": ("USER_ID", "ITEM_ID"),
    "items": ("ITEM_ID",),
    "users": ("USER_ID",),
}
TIMESTAMP_FIELDS: dict[str, tuple[str, ...]] = {
    "interactions": ("TIMESTAMP",),
    "items": ("CREATION_TIMESTAMP",),
    "users": (),
}
# Types of the reserved fields; used when no schema is given and to check a schema.
RESERVED_TYPES: dict[str, dict[str, str]] = {
    "interactions": {"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "long",
                     "EVENT_TYPE": "string", "EVENT_VALUE": "float", "IMPRESSION": "string",
                     "RECOMMENDATION_ID": "string", "EVENT_ATTRIBUTION_SOURCE": "string"},
    "items": {"ITEM_ID": "string", "CREATION_TIMESTAMP": "long"},
    "users": {"USER_ID": "string"},
}

ID_MAX_CHARS = 256
CATEGORICAL_MAX_CHARS = 1000
MIN_INTERACTIONS = 1000
MIN_ACTIVE_USERS = 25  # users with 2+ interactions
MIN_ACTIVE_USER_SHARE = 0.01
POC_MIN_USERS = 50  # the POC guide asks for *more than* these
POC_MIN_ITEMS = 50
POC_MIN_INTERACTIONS = 1500
FULL_IMPORT_MAX_BYTES = 100 * 10**9
INCREMENTAL_IMPORT_MAX_BYTES = 1 * 10**9
IMPORT_MODES = ("FULL", "INCREMENTAL")

EPOCH_MIN = 946_684_800  # 2000-01-01T00:00:00Z; earlier timestamps are implausible for POC data
FUTURE_LEEWAY_SECONDS = 86_400  # clocks differ; a day ahead is still "now"
INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# The vectorised validator implements these two patterns without regular expressions; keep in step.
INT_PATTERN = re.compile(r"[+-]?[0-9]+")
FLOAT_PATTERN = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
BOOLEAN_VALUES = ("true", "false")  # compared case-insensitively
PRIMITIVE_TYPES = ("int", "long", "float", "double", "string", "boolean")
INTEGER_TYPES = ("int", "long")
FLOAT_TYPES = ("float", "double")
MAX_EXAMPLES = 5
# Header problems after which the rows cannot be read meaningfully.
FATAL_HEADER_CODES = frozenset({"empty-header", "wrong-delimiter"})

# code -> (level, message template). Codes are stable: scripts and the workflow match on them.
CODES: dict[str, tuple[str, str]] = {
    "empty-file": (ERROR, "the file is empty"),
    "binary-file": (ERROR, "the file is not CSV text ({detail}); Personalize imports UTF-8 CSV files"),
    "invalid-utf8": (ERROR, "the file is not valid UTF-8 ({detail})"),
    "utf8-bom": (ERROR, "the file starts with a UTF-8 byte-order mark, which becomes part of the first "
                        "column name; save it as UTF-8 without BOM"),
    "parse-error": (ERROR, "the CSV cannot be parsed: {detail}"),
    "empty-header": (ERROR, "the header row is empty"),
    "wrong-delimiter": (ERROR, "the header is a single column containing {delimiter}; Personalize expects "
                               "comma-separated values"),
    "empty-column-name": (ERROR, "the header has an empty column name (column {position})"),
    "duplicate-column": (ERROR, "column {field} appears more than once in the header"),
    "missing-column": (ERROR, "required column {field} is missing"),
    "unknown-column": (ERROR, "column {field} is not a field of the schema"),
    "missing-schema-field": (ERROR, "schema field {field} is not nullable but has no column in the file"),
    "missing-optional-field": (WARNING, "schema field {field} (nullable) has no column in the file"),
    "schema-invalid": (ERROR, "the schema is not a valid Personalize schema: {detail}"),
    "schema-missing-field": (ERROR, "the schema lacks the required field {field}"),
    "schema-wrong-type": (ERROR, "schema field {field} must be of type {type}, not {actual}"),
    "schema-namespace": (WARNING, "the schema's namespace is {actual}, Personalize schemas use "
                                  + SCHEMA_NAMESPACE),
    "ragged-row": (ERROR, "rows do not have the header's {expected} fields"),
    "missing-value": (ERROR, "{field}: empty values in a field that is not nullable"),
    "empty-id": (ERROR, "{field}: empty ids"),
    "id-too-long": (ERROR, "{field}: ids longer than " + str(ID_MAX_CHARS) + " characters"),
    "invalid-type": (ERROR, "{field}: values that are not of type {type}"),
    "timestamp-milliseconds": (ERROR, "{field}: timestamps in milliseconds; Personalize expects Unix epoch "
                                      "seconds (divide by 1000)"),
    "timestamp-microseconds": (ERROR, "{field}: timestamps in microseconds; Personalize expects Unix epoch "
                                      "seconds (divide by 1000000)"),
    "timestamp-nanoseconds": (ERROR, "{field}: timestamps in nanoseconds; Personalize expects Unix epoch "
                                     "seconds (divide by 1000000000)"),
    "timestamp-out-of-range": (WARNING, "{field}: timestamps before 2000-01-01 or in the future"),
    "categorical-too-long": (ERROR, "{field}: categorical values longer than "
                                    + str(CATEGORICAL_MAX_CHARS) + " characters"),
    "duplicate-row": (WARNING, "rows that repeat an earlier row exactly; Personalize keeps only one"),
    "unknown-item": (WARNING, "ITEM_ID values that are not in the items file"),
    "no-rows": (ERROR, "the file has a header but no data rows"),
    "too-few-interactions": (ERROR, "{count} interactions; Personalize needs at least "
                                    + str(MIN_INTERACTIONS)),
    "too-few-active-users": (ERROR, "{count} users with 2 or more interactions; Personalize needs at least "
                                    + str(MIN_ACTIVE_USERS)),
    "low-active-user-share": (ERROR, "only {share} of users have 2 or more interactions; Personalize needs "
                                     "at least 1%"),
    "poc-few-users": (WARNING, "{count} users; the POC guide advises more than " + str(POC_MIN_USERS)),
    "poc-few-items": (WARNING, "{count} items; the POC guide advises more than " + str(POC_MIN_ITEMS)),
    "poc-few-interactions": (WARNING, "{count} interactions; the POC guide advises more than "
                                      + str(POC_MIN_INTERACTIONS)),
    "use-case-too-few-events": (ERROR, "recommender {recommender} ({use_case}) needs at least {minimum} "
                                       "{event_type} events; the file has {count}{hint}"),
    # The workflow's data gate, on an interactions object it read whole: other interactions may already be
    # in the dataset (earlier imports, the event tracker), so it cannot prove a shortfall.
    "use-case-few-events-uploaded": (WARNING, "recommender {recommender} ({use_case}) needs at least {minimum} "
                                              "{event_type} events; the file has {count}{hint}, so unless the "
                                              "dataset holds more (earlier imports, the event tracker) its "
                                              "training ends CREATE FAILED"),
    "object-too-large": (ERROR, "{size} is over the {limit} limit for a {mode} import; split the file"),
    "invalid-import-mode": (ERROR, "import mode {mode} is not one of FULL, INCREMENTAL"),
    # Batch inference input (JSON lines); see BATCH_INPUT_KEYS.
    "batch-no-lines": (ERROR, "the file has no input lines; each line is one JSON object like {example}"),
    "batch-not-json": (ERROR, "lines that are not one JSON object; each line must look like {example}"),
    "batch-missing-key": (ERROR, "lines without \"{key}\": this recipe's batch input lines look like {example}"),
    "batch-invalid-id": (ERROR, "{key}: values that are not a non-empty string of at most "
                                + str(ID_MAX_CHARS) + " characters"),
    "batch-invalid-item-list": (ERROR, "itemList: values that are not a non-empty list of item ids (strings of "
                                       "at most " + str(ID_MAX_CHARS) + " characters)"),
    "batch-no-batch-inference": (ERROR, "recipe type {recipe_type} has no batch inference"),
}

# Batch inference input: JSON lines, one object per line, whose keys depend on the recipe type (Amazon
# Personalize developer guide, "Preparing input data for batch recommendations"): USER_PERSONALIZATION
# recipes (and Popularity-Count) read {"userId"}, RELATED_ITEMS {"itemId"}, PERSONALIZED_RANKING
# {"userId", "itemList": [...]}; POPULAR_ITEMS (Trending-Now) has no batch inference. The workflow's
# plan carries each solution's recipeType; personalize_poc/recipes.py maps recipes to the same kinds
# (tests/test_data_checks.py checks that the two tables agree). Ids must be strings of at most 256
# characters (botocore personalize-runtime: userId/itemId max 256; the guide's examples quote every id:
# we reject numbers, the stricter reading).
BATCH_INPUT_KIND_BY_RECIPE_TYPE: dict[str, str] = {
    "USER_PERSONALIZATION": "users",
    "RELATED_ITEMS": "items",
    "PERSONALIZED_RANKING": "user_items",
}
BATCH_INPUT_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("userId",),
    "items": ("itemId",),
    "user_items": ("userId", "itemList"),
}
BATCH_INPUT_EXAMPLES: dict[str, str] = {
    "users": '{"userId": "u1"}',
    "items": '{"itemId": "i1"}',
    "user_items": '{"userId": "u1", "itemList": ["i1", "i2"]}',
}


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    code: str
    message: str
    rows: int = 0
    examples: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "message": self.message, "rows": self.rows,
                "examples": list(self.examples)}


@dataclass(frozen=True)
class AvroType:
    """One schema field: its primitive type and Personalize's attributes."""

    name: str  # int | long | float | double | string | boolean
    nullable: bool = False
    categorical: bool = False
    textual: bool = False


class SchemaError(ValueError):
    """The schema is not a Personalize Avro schema; the message is one line."""


def finding(code: str, rows: int = 0, examples: Iterable[int] = (), **fmt: Any) -> Finding:
    level, template = CODES[code]
    return Finding(level, code, template.format(**fmt), rows, tuple(examples)[:MAX_EXAMPLES])  # type: ignore[arg-type]


class FindingCollector:
    """Merges findings with the same code and message, adding row counts and keeping the first examples."""

    def __init__(self, max_examples: int = MAX_EXAMPLES) -> None:
        self.max_examples = max_examples
        self._items: dict[tuple[str, str], list[Any]] = {}

    def add(self, code: str, rows: int = 0, examples: Iterable[int] = (), **fmt: Any) -> None:
        level, template = CODES[code]
        message = template.format(**fmt)
        entry = self._items.setdefault((code, message), [level, 0, []])
        entry[1] += rows
        room = self.max_examples - len(entry[2])
        if room > 0:
            for line in examples:
                entry[2].append(int(line))
                room -= 1
                if not room:
                    break

    def extend(self, findings: Iterable[Finding]) -> None:
        for item in findings:
            level, template = CODES[item.code]
            entry = self._items.setdefault((item.code, item.message), [level, 0, []])
            entry[1] += item.rows
            entry[2].extend(item.examples[: max(0, self.max_examples - len(entry[2]))])

    def findings(self) -> list[Finding]:
        out = [Finding(level, code, message, rows, tuple(sorted(examples)))
               for (code, message), (level, rows, examples) in self._items.items()]
        return sorted(out, key=lambda f: f.level != ERROR)  # stable: errors first, else insertion order

    def __len__(self) -> int:
        return len(self._items)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.level != ERROR)


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.level == ERROR for f in findings)


def _check_dataset_type(dataset_type: str) -> None:
    if dataset_type not in DATASET_TYPES:
        raise ValueError(f"dataset type must be one of {', '.join(DATASET_TYPES)}, not {dataset_type!r}")


def required_fields(dataset_type: str) -> set[str]:
    """The columns a dataset of this type must have."""
    _check_dataset_type(dataset_type)
    return set(REQUIRED_FIELDS[dataset_type])


# --------------------------------------------------------------------------------------------- schema


def _field_type(name: str, spec: Any) -> tuple[str, bool]:
    """(primitive, nullable) of an Avro field type: "long", ["null", "string"], {"type": "int"}."""
    if isinstance(spec, dict):
        spec = spec.get("type")
    if isinstance(spec, str):
        if spec not in PRIMITIVE_TYPES:
            raise SchemaError(f"field {name}: type {spec!r} is not one of {', '.join(PRIMITIVE_TYPES)}")
        return spec, False
    if isinstance(spec, list):
        members = [m.get("type") if isinstance(m, dict) else m for m in spec]
        others = [m for m in members if m != "null"]
        if len(others) != 1 or len(members) - len(others) > 1:
            raise SchemaError(f"field {name}: a union must be one type and optionally \"null\", got {spec!r}")
        primitive, _ = _field_type(name, others[0])
        return primitive, "null" in members
    raise SchemaError(f"field {name}: type {spec!r} is not an Avro primitive or a union with \"null\"")


def schema_fields(schema: Mapping[str, Any]) -> dict[str, AvroType]:
    """Parse a Personalize Avro schema (a dict, as from json.load) into {field name: AvroType}."""
    if not isinstance(schema, Mapping):
        raise SchemaError(f"expected a JSON object, got {type(schema).__name__}")
    if schema.get("type") != "record":
        raise SchemaError(f"the top-level type must be \"record\", got {schema.get('type')!r}")
    fields = schema.get("fields")
    if not isinstance(fields, list) or not fields:
        raise SchemaError("\"fields\" must be a non-empty list")
    out: dict[str, AvroType] = {}
    for position, spec in enumerate(fields, start=1):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise SchemaError(f"field {position} has no name")
        name = spec["name"]
        if name in out:
            raise SchemaError(f"field {name} is defined twice")
        if "type" not in spec:
            raise SchemaError(f"field {name} has no type")
        primitive, nullable = _field_type(name, spec["type"])
        categorical = spec.get("categorical") is True
        textual = spec.get("textual") is True
        if (categorical or textual) and primitive != "string":
            raise SchemaError(f"field {name}: only string fields can be categorical or textual")
        out[name] = AvroType(primitive, nullable, categorical, textual)
    return out


def parse_schema_text(text: str) -> dict[str, Any]:
    """json.loads with a one-line SchemaError; Personalize stores schemas as JSON text."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    schema_fields(schema)
    return schema


def effective_fields(schema: Mapping[str, Any] | None, header: Iterable[str],
                     dataset_type: str) -> dict[str, AvroType]:
    """Fields to check: the schema's, or without a schema the reserved fields' types (others: strings)."""
    if schema is not None:
        return schema_fields(schema)
    reserved = RESERVED_TYPES[dataset_type]
    required = REQUIRED_FIELDS[dataset_type]
    return {name: AvroType(reserved.get(name, "string"), nullable=name not in required)
            for name in header}


def check_schema(schema: Mapping[str, Any], dataset_type: str) -> list[Finding]:
    """Is this a usable Personalize schema for the dataset type?"""
    _check_dataset_type(dataset_type)
    try:
        fields = schema_fields(schema)
    except SchemaError as exc:
        return [finding("schema-invalid", detail=str(exc))]
    findings = []
    reserved = RESERVED_TYPES[dataset_type]
    for name in sorted(REQUIRED_FIELDS[dataset_type]):
        if name not in fields:
            findings.append(finding("schema-missing-field", field=name))
    for name, avro in fields.items():
        expected = reserved.get(name)
        if expected and avro.name != expected and not (expected == "float" and avro.name == "double"):
            findings.append(finding("schema-wrong-type", field=name, type=expected, actual=avro.name))
    namespace = schema.get("namespace")
    if namespace != SCHEMA_NAMESPACE:
        findings.append(finding("schema-namespace", actual=repr(namespace)))
    return findings


# --------------------------------------------------------------------------------------------- header


def check_header(header: list[str], schema: Mapping[str, Any] | None, dataset_type: str) -> list[Finding]:
    """Column-level problems. ``schema`` None checks only the required columns."""
    _check_dataset_type(dataset_type)
    findings: list[Finding] = []
    if not header or all(not name.strip() for name in header):
        return [finding("empty-header")]
    if header[0].startswith("\ufeff"):
        findings.append(finding("utf8-bom"))
        header = [header[0].removeprefix("\ufeff"), *header[1:]]
    if len(header) == 1:
        for delimiter, label in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in header[0]:
                return [*findings, finding("wrong-delimiter", delimiter=label)]
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            findings.append(finding("empty-column-name", position=position))
        elif name in seen:
            findings.append(finding("duplicate-column", field=name))
        seen.add(name)
    for name in sorted(REQUIRED_FIELDS[dataset_type] - seen):
        findings.append(finding("missing-column", field=name))
    if schema is not None:
        fields = schema_fields(schema)
        for name in header:
            if name and name not in fields and name not in REQUIRED_FIELDS[dataset_type]:
                findings.append(finding("unknown-column", field=name))
        for name, avro in fields.items():
            if name in seen or name in REQUIRED_FIELDS[dataset_type]:
                continue
            findings.append(finding("missing-optional-field" if avro.nullable else "missing-schema-field",
                                    field=name))
    return findings


# ----------------------------------------------------------------------------------------- per value


def now_seconds() -> int:
    return int(time.time())


def timestamp_code(value: int, now: int) -> str | None:
    """Classify an epoch timestamp: None when plausible seconds, else the finding code."""
    latest = now + FUTURE_LEEWAY_SECONDS
    if EPOCH_MIN <= value <= latest:
        return None
    for scale, code in ((10**3, "timestamp-milliseconds"), (10**6, "timestamp-microseconds"),
                        (10**9, "timestamp-nanoseconds")):
        if EPOCH_MIN * scale <= value <= latest * scale:
            return code
    return "timestamp-out-of-range"


def field_roles(name: str, dataset_type: str) -> tuple[bool, bool]:
    """(is an id field, is a timestamp field) for this dataset type."""
    return name in ID_FIELDS[dataset_type], name in TIMESTAMP_FIELDS[dataset_type]


def parse_value(avro: AvroType, raw: str) -> tuple[bool, Any]:
    """(valid, parsed value) of a non-empty CSV value for its type; strings are always valid."""
    kind = avro.name
    if kind in INTEGER_TYPES:
        if not INT_PATTERN.fullmatch(raw):
            return False, None
        number = int(raw)
        low, high = INT_RANGES[kind]
        return (low <= number <= high), number
    if kind in FLOAT_TYPES:
        if not FLOAT_PATTERN.fullmatch(raw):
            return False, None
        real = float(raw)
        return math.isfinite(real), real + 0.0  # -0.0 and 0.0 are the same value
    if kind == "boolean":
        lowered = raw.lower()
        return lowered in BOOLEAN_VALUES, lowered == "true"
    return True, raw


def check_value(name: str, avro: AvroType, raw: str, dataset_type: str, now: int) -> str | None:
    """The finding code for one CSV value, or None. At most one code per value, in this order."""
    is_id, is_timestamp = field_roles(name, dataset_type)
    if raw == "":
        if is_id:
            return "empty-id"
        return None if avro.nullable else "missing-value"
    valid, value = parse_value(avro, raw)
    if not valid:
        return "invalid-type"
    if is_id and len(raw) > ID_MAX_CHARS:
        return "id-too-long"
    if avro.categorical and len(raw) > CATEGORICAL_MAX_CHARS:
        return "categorical-too-long"
    if is_timestamp and avro.name in INTEGER_TYPES:
        return timestamp_code(value, now)
    return None


def value_message_args(code: str, name: str, avro: AvroType) -> dict[str, Any]:
    return {"field": name, "type": avro.name} if code == "invalid-type" else {"field": name}


def row_key(values: list[str], avros: list[AvroType]) -> tuple[Any, ...]:
    """What makes two rows duplicates: equal typed values (1.0 == 1.00), raw text where not valid."""
    key: list[Any] = []
    for raw, avro in zip(values, avros, strict=True):
        if raw == "":
            key.append(None)
            continue
        valid, value = parse_value(avro, raw)
        key.append(value if valid else ("invalid", raw))
    return tuple(key)


def check_rows(rows: Iterable[list[str]], header: list[str], schema: Mapping[str, Any] | None,
               dataset_type: str, *, now: int | None = None, first_line: int = 2) -> list[Finding]:
    """Per-value problems in data rows (a sample or a whole small file) plus exact duplicates.

    Volume checks need the whole file: see ``check_volume``.
    """
    _check_dataset_type(dataset_type)
    now = now_seconds() if now is None else now
    header = [header[0].removeprefix("\ufeff"), *header[1:]] if header else []
    fields = effective_fields(schema, header, dataset_type)
    # Only columns known to the schema are type-checked (the first of duplicated names); unknown and
    # duplicated columns are reported by check_header.
    checked: list[tuple[int, str, AvroType]] = []
    for position, name in enumerate(header):
        if name in fields and name not in {c[1] for c in checked}:
            checked.append((position, name, fields[name]))
    avros = [fields.get(name, AvroType("string", nullable=True)) for name in header]
    collector = FindingCollector()
    seen: set[tuple[Any, ...]] = set()
    width = len(header)
    for line, row in enumerate(rows, start=first_line):
        if len(row) != width:
            collector.add("ragged-row", 1, (line,), expected=width)
            continue
        for position, name, avro in checked:
            code = check_value(name, avro, row[position], dataset_type, now)
            if code:
                collector.add(code, 1, (line,), **value_message_args(code, name, avro))
        key = row_key(row, avros)
        if key in seen:
            collector.add("duplicate-row", 1, (line,))
        else:
            seen.add(key)
    return collector.findings()


# ------------------------------------------------------------------------------------- whole dataset


def check_volume(dataset_type: str, rows: int, *, users: int | None = None, active_users: int | None = None,
                 items: int | None = None) -> list[Finding]:
    """Volume rules on whole-file counts: service minimums are errors, the POC guide's advice warnings.

    For interactions: ``users`` distinct users, ``active_users`` users with 2+ interactions, ``items``
    distinct items. For items: ``rows`` is the number of items.
    """
    _check_dataset_type(dataset_type)
    if rows == 0:
        return [finding("no-rows")]
    findings = []
    if dataset_type == "interactions":
        if rows < MIN_INTERACTIONS:
            findings.append(finding("too-few-interactions", count=f"{rows:,}"))
        if active_users is not None and active_users < MIN_ACTIVE_USERS:
            findings.append(finding("too-few-active-users", count=f"{active_users:,}"))
        if active_users is not None and users and active_users / users < MIN_ACTIVE_USER_SHARE:
            findings.append(finding("low-active-user-share", share=f"{active_users / users:.2%}"))
        if users is not None and users <= POC_MIN_USERS:
            findings.append(finding("poc-few-users", count=f"{users:,}"))
        if items is not None and items <= POC_MIN_ITEMS:
            findings.append(finding("poc-few-items", count=f"{items:,}"))
        if rows <= POC_MIN_INTERACTIONS:
            findings.append(finding("poc-few-interactions", count=f"{rows:,}"))
    elif dataset_type == "items" and rows <= POC_MIN_ITEMS:
        findings.append(finding("poc-few-items", count=f"{rows:,}"))
    return sort_findings(findings)


class EventNeed(Protocol):
    """What a recommender's use case needs (personalize_poc.domain.EventNeed)."""

    recommender: str
    use_case: str
    event_type: str
    minimum: int


def check_use_case_events(needs: Iterable[EventNeed], counts: Mapping[str, int],
                          code: str = "use-case-too-few-events") -> list[Finding]:
    """An error per recommender whose use case's event type has fewer events than it needs in the
    whole interactions file (``counts``: rows per EVENT_TYPE value). The needs come from the use case
    pages of the developer guide ("ECOMMERCE use cases", "VIDEO_ON_DEMAND use cases": "At minimum, 1000
    View events"), as personalize_poc/domain.py encodes them. Values are matched exactly (STRICTER: the
    guide does not say whether "view" counts as View); a value that differs only in case is named."""
    findings = []
    for need in needs:
        count = counts.get(need.event_type, 0)
        if count >= need.minimum:
            continue
        near = sorted(v for v in counts if v != need.event_type and v.lower() == need.event_type.lower())
        hint = "".join(f" ({counts[v]:,} are {v!r}: EVENT_TYPE values are matched exactly)" for v in near)
        findings.append(finding(code, recommender=need.recommender, use_case=need.use_case,
                                minimum=f"{need.minimum:,}", event_type=need.event_type, count=f"{count:,}",
                                hint=hint))
    return findings


def _gigabytes(size: int) -> str:
    return f"{size / 10**9:,.2f} GB" if size >= 10**7 else f"{size:,} bytes"


def check_object_size(size_bytes: int, import_mode: str) -> list[Finding]:
    """Bulk import size limits per import job: FULL 100 GB, INCREMENTAL 1 GB (see the module docstring)."""
    mode = str(import_mode).upper()
    if mode not in IMPORT_MODES:
        return [finding("invalid-import-mode", mode=repr(import_mode))]
    if size_bytes <= 0:
        return [finding("empty-file")]
    limit = FULL_IMPORT_MAX_BYTES if mode == "FULL" else INCREMENTAL_IMPORT_MAX_BYTES
    if size_bytes > limit:
        return [finding("object-too-large", size=_gigabytes(size_bytes), limit=_gigabytes(limit), mode=mode)]
    return []


# ----------------------------------------------------------------------------- batch inference input


def batch_input_kind(recipe_type: str) -> str | None:
    """"users", "items" or "user_items" for a recipe type; None when it has no batch inference."""
    return BATCH_INPUT_KIND_BY_RECIPE_TYPE.get(recipe_type)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_MAX_CHARS


def _batch_line_code(line: str, kind: str) -> tuple[str, dict[str, Any]] | None:
    """The finding code (and message arguments) for one non-blank line, or None."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return "batch-not-json", {"example": BATCH_INPUT_EXAMPLES[kind]}
    for key in BATCH_INPUT_KEYS[kind]:
        if key not in record:
            return "batch-missing-key", {"key": key, "example": BATCH_INPUT_EXAMPLES[kind]}
    for key in BATCH_INPUT_KEYS[kind]:
        value = record[key]
        if key == "itemList":
            if not isinstance(value, list) or not value or not all(_is_id(item) for item in value):
                return "batch-invalid-item-list", {}
        elif not _is_id(value):
            return "batch-invalid-id", {"key": key}
    return None


def check_batch_lines(lines: Iterable[str], kind: str, *, first_line: int = 1) -> tuple[list[Finding], int]:
    """(findings, number of input lines) for the lines of a batch inference input file of this kind.

    Blank lines are skipped. Examples are line numbers in the file (the first line is ``first_line``)."""
    if kind not in BATCH_INPUT_KEYS:
        raise ValueError(f"batch input kind must be one of {', '.join(BATCH_INPUT_KEYS)}, not {kind!r}")
    collector = FindingCollector()
    records = 0
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        records += 1
        problem = _batch_line_code(line, kind)
        if problem:
            code, fmt = problem
            collector.add(code, 1, (number,), **fmt)
    if not records:
        collector.add("batch-no-lines", example=BATCH_INPUT_EXAMPLES[kind])
    return collector.findings(), records
