"""Dataset schema rules of a Custom dataset group, checked at synth time so a bad schema never reaches the service.

Source: developer guide, "Custom datasets and schemas" (required fields, reserved keywords and their types,
metadata fields) and "Amazon Personalize endpoints and quotas" (metadata field counts, textual fields).
"""

from __future__ import annotations

import json
from typing import Any

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "interactions": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "items": ("ITEM_ID",),
    "users": ("USER_ID",),
}
# Avro primitive types Personalize accepts in dataset schemas ("Creating schema JSON files").
ALLOWED_AVRO_TYPES = {"string", "int", "long", "float", "double", "boolean", "null"}
NUMERIC_TYPES = {"int", "long", "float", "double"}

# Required fields and reserved keywords with the only type the service accepts; True: may be ["null", T].
_TYPED_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "interactions": {
        "USER_ID": ("string", False),
        "ITEM_ID": ("string", False),
        "TIMESTAMP": ("long", False),
        "EVENT_TYPE": ("string", False),
        "EVENT_VALUE": ("float", True),
        "IMPRESSION": ("string", True),
        "RECOMMENDATION_ID": ("string", True),
        "EVENT_ATTRIBUTION_SOURCE": ("string", True),
    },
    "items": {"ITEM_ID": ("string", False), "CREATION_TIMESTAMP": ("long", False)},
    "users": {"USER_ID": ("string", False)},
}
# Metadata fields (neither required nor reserved): (minimum, maximum) per dataset type. Quotas: interactions
# "Maximum number of metadata columns, excluding reserved fields ... 5"; users 25; items 100. "Users, Items,
# and Actions schemas require at least one metadata field."
METADATA_FIELDS: dict[str, tuple[int, int]] = {"interactions": (0, 5), "items": (1, 100), "users": (1, 25)}
MAX_TEXTUAL_FIELDS = 1  # quotas: "Maximum number of textual fields for an Items dataset"


def _members(field_type: Any) -> list[Any]:
    return field_type if isinstance(field_type, list) else [field_type]


def schema_problem(schema: Any, dataset_type: str) -> str | None:
    """The first thing the service would reject in this schema for this dataset type, in one line; None if fine."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return 'not an Avro record schema (needs "type": "record")'
    if not isinstance(schema.get("name"), str) or not isinstance(schema.get("fields"), list):
        return "an Avro record needs a 'name' and a list of 'fields'"
    names: list[str] = []
    for position, field in enumerate(schema["fields"]):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            return f"fields[{position}] needs a 'name'"
        problem = _field_problem(field, dataset_type)
        if problem:
            return problem
        names.append(field["name"])
    if len(set(names)) != len(names):
        return "field names repeat"
    missing = [f for f in REQUIRED_FIELDS[dataset_type] if f not in names]
    if missing:
        return f"{dataset_type} schemas need the field(s) {', '.join(missing)}"
    return _metadata_problem(schema["fields"], dataset_type)


def _field_problem(field: dict[str, Any], dataset_type: str) -> str | None:
    name, field_type = field["name"], field.get("type")
    members = _members(field_type)
    if not members or any(m not in ALLOWED_AVRO_TYPES for m in members) or members == ["null"]:
        return f"field {name}: type {json.dumps(field_type)} is not one of {sorted(ALLOWED_AVRO_TYPES - {'null'})}"
    if field.get("categorical") and "string" not in members:
        return f"field {name}: only string fields can be categorical"
    if field.get("textual") and (dataset_type != "items" or "string" not in members):
        return f"field {name}: only string fields of an items schema can be textual"
    typed = _TYPED_FIELDS[dataset_type].get(name)
    if typed is None:
        return None
    expected, nullable = typed
    allowed = [[expected], [expected, "null"], ["null", expected]] if nullable else [[expected]]
    if members not in allowed:
        optional = f' (or ["null", "{expected}"])' if nullable else ""
        return f'field {name}: a reserved {dataset_type} field, its type must be "{expected}"{optional}'
    if field.get("categorical") and name not in REQUIRED_FIELDS[dataset_type]:
        return f"field {name}: a reserved string field cannot be categorical"
    return None


def _metadata_problem(fields: list[dict[str, Any]], dataset_type: str) -> str | None:
    metadata = [f for f in fields if f["name"] not in _TYPED_FIELDS[dataset_type]]
    low, high = METADATA_FIELDS[dataset_type]
    if len(metadata) > high:
        return f"{len(metadata)} metadata fields; the service allows at most {high} in a {dataset_type} schema"
    usable = [f for f in metadata if _usable_metadata(f)]
    if len(usable) < low:
        kinds = (
            "a categorical or textual string, or a number"
            if dataset_type == "items"
            else "a categorical string or a number"
        )
        return f"{dataset_type} schemas need at least one metadata field besides the ids ({kinds})"
    textual = [f["name"] for f in metadata if f.get("textual")]
    if len(textual) > MAX_TEXTUAL_FIELDS:
        return f"textual fields {', '.join(textual)}: the service allows {MAX_TEXTUAL_FIELDS} per items schema"
    return None


def _usable_metadata(field: dict[str, Any]) -> bool:
    """A metadata field the service trains on: numeric, or a string marked categorical or textual."""
    members = set(_members(field.get("type")))
    return bool(members & NUMERIC_TYPES) or (
        "string" in members and bool(field.get("categorical") or field.get("textual"))
    )


def field_names(schema: dict[str, Any]) -> set[str]:
    return {f["name"] for f in schema["fields"]}
