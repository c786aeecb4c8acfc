"""What the Personalize double reads in an import: the CSV checked against the dataset's schema, and the
interaction counts that decide later whether a solution version can train.

Rules and sources (where the service's exact behaviour is not documented, the stricter side is taken and
marked STRICTER):

- The data is a CSV file whose first row holds the column headers, not enclosed in quotation marks
  ("Preparing and importing bulk data", https://docs.aws.amazon.com/personalize/latest/dg/data-prep-importing.html).
- The header names the schema's fields: every field whose type is not nullable must be a column, and
  every column must be a field of the schema (same page: "make sure you have the required fields for
  your dataset type and make sure that their names align"). STRICTER: a nullable field may be left out,
  a column the schema does not know fails the import (the service may ignore it).
- Values must have the schema's Avro type (long/int: integers; float/double: numbers; boolean: true or
  false; string: anything); an empty value is allowed only for a nullable field (``["null", T]``).
  STRICTER: every row is checked, and the first bad row fails the whole import.
- An Item interactions import needs at least 1000 records ("Minimum number of item interaction records
  per dataset import job, in FULL or INCREMENTAL import mode: 1000", Service quotas,
  https://docs.aws.amazon.com/personalize/latest/dg/limits.html).
- Training needs 1000 item interactions after any filtering by event type, and 25 users with at least 2
  interactions each (same page, "Minimum number of unique item interactions required to create a
  solution version" and "Minimum number of unique users, with at least 2 item interactions each");
  the solution version ends CREATE FAILED with a failureReason (CreateSolutionVersion, "If the status
  shows as CREATE FAILED, the response includes a failureReason key").
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MIN_INTERACTIONS = 1000  # limits.html: per import job, and again before training
MIN_USERS_WITH_TWO = 25  # limits.html: users with 2+ interactions, before training

ROW_FAILURE = (
    "Input csv has rows that do not conform to the dataset schema. Please ensure all required data fields "
    "are present and that they are of the type specified in the schema."
)
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class ImportStats:
    """Interaction records an import brought in, per (USER_ID, EVENT_TYPE or '')."""

    records: int = 0
    by_user_event: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # the Avro primitive type
    nullable: bool


def _fields(schema: str) -> list[_Field]:
    fields = []
    for item in json.loads(schema)["fields"]:
        kind = item["type"]
        nullable = isinstance(kind, list) and "null" in kind
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if isinstance(kind, dict):
            kind = kind.get("type", "string")
        fields.append(_Field(item["name"], str(kind), nullable))
    return fields


def _value_ok(value: str, spec: _Field) -> bool:
    if value == "":
        return spec.nullable
    if spec.kind in ("long", "int"):
        return bool(_INTEGER.match(value))
    if spec.kind in ("float", "double"):
        return bool(_NUMBER.match(value))
    if spec.kind == "boolean":
        return value.lower() in ("true", "false")
    return True


def check_import(data: bytes, schema: str, dataset_type: str) -> tuple[str | None, ImportStats]:
    """(failureReason or None, what the import brought in) for ``data`` imported into a dataset."""
    stats = ImportStats()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "Input file is not valid UTF-8 encoded CSV.", stats
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        return "Input csv is empty or has no header row.", stats
    if '"' in first_line:
        return "Input CSV header must not enclose column names in quotation marks.", stats
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader)]
    fields = {f.name: f for f in _fields(schema)}
    missing = [name for name, f in fields.items() if not f.nullable and name not in header]
    if missing:
        return f"Input CSV is missing the following columns: [{', '.join(missing)}]", stats
    unknown = [h for h in header if h not in fields]
    if unknown:
        return f"Input CSV has the following columns that are not in the schema: [{', '.join(unknown)}]", stats
    specs = [fields[h] for h in header]
    user_at = header.index("USER_ID") if "USER_ID" in header else None
    event_at = header.index("EVENT_TYPE") if "EVENT_TYPE" in header else None
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(specs) or not all(_value_ok(v, s) for v, s in zip(row, specs, strict=True)):
            return f"{ROW_FAILURE} (line {line})", stats
        stats.records += 1
        if user_at is not None:
            stats.by_user_event[(row[user_at], row[event_at] if event_at is not None else "")] += 1
    if dataset_type == "INTERACTIONS" and stats.records < MIN_INTERACTIONS:
        return (
            f"Input data has {stats.records} interaction records; an Item interactions import needs at least "
            f"{MIN_INTERACTIONS}.",
            stats,
        )
    return None, stats


def training_shortfall(imports: Iterable[ImportStats], event_type: str | None) -> str | None:
    """The failureReason of a training on these imports (after the solution's eventType filter), or None."""
    per_user: Counter[str] = Counter()
    for stats in imports:
        for (user, event), count in stats.by_user_event.items():
            if event_type is None or event == event_type:
                per_user[user] += count
    total = sum(per_user.values())
    if total < MIN_INTERACTIONS:
        return (
            "Insufficient data to train a model: There should be at least "
            f"{MIN_INTERACTIONS} interactions after filtering by event type and event value threshold "
            f"(found {total})."
        )
    active_users = sum(1 for count in per_user.values() if count >= 2)
    if active_users < MIN_USERS_WITH_TWO:
        return (
            "Insufficient data to train a model: There should be at least "
            f"{MIN_USERS_WITH_TWO} users with at least 2 interactions each (found {active_users})."
        )
    return None
