"""Unit tests of lambdas/poc_steps/data_checks.py, imported the way the Lambda imports it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)

# isort: split

from poc_steps import data_checks as dc

NOW = 1_790_000_000  # 2026-09-21
HEADER = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
SCHEMA = {
    "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
    "version": "1.0",
}
ITEMS_SCHEMA = {
    "type": "record", "name": "Items", "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": "string", "categorical": True},
        {"name": "RANK", "type": "int"},
        {"name": "ACTIVE", "type": ["null", "boolean"]},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
}


def codes(findings: list[dc.Finding]) -> dict[str, int]:
    return {f.code: f.rows for f in findings}


def by_code(findings: list[dc.Finding], code: str) -> dc.Finding:
    return next(f for f in findings if f.code == code)


def row(user: str = "u1", item: str = "i1", ts: str = "1780000000", event: str = "view",
        value: str = "1.5") -> list[str]:
    return [user, item, ts, event, value]


def test_module_uses_only_the_standard_library() -> None:
    tree = ast.parse(Path(dc.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_cli_uses_the_same_rules_file() -> None:
    from personalize_poc.data import checks

    assert Path(checks.__file__).resolve() == Path(dc.__file__).resolve()


def test_required_fields() -> None:
    assert dc.required_fields("interactions") == {"USER_ID", "ITEM_ID", "TIMESTAMP"}
    assert dc.required_fields("items") == {"ITEM_ID"}
    assert dc.required_fields("users") == {"USER_ID"}
    with pytest.raises(ValueError, match="dataset type"):
        dc.required_fields("events")


def test_schema_fields_parses_types_unions_and_attributes() -> None:
    fields = dc.schema_fields(ITEMS_SCHEMA)
    assert fields["ITEM_ID"] == dc.AvroType("string")
    assert fields["GENRE"] == dc.AvroType("string", categorical=True)
    assert fields["RANK"] == dc.AvroType("int")
    assert fields["ACTIVE"] == dc.AvroType("boolean", nullable=True)
    assert dc.schema_fields({"type": "record", "fields": [{"name": "A", "type": {"type": "long"}}]}) == {
        "A": dc.AvroType("long")}


@pytest.mark.parametrize(("schema", "message"), [
    ([], "JSON object"),
    ({"type": "enum", "fields": []}, "record"),
    ({"type": "record", "fields": []}, "non-empty"),
    ({"type": "record", "fields": [{"type": "string"}]}, "no name"),
    ({"type": "record", "fields": [{"name": "A"}]}, "no type"),
    ({"type": "record", "fields": [{"name": "A", "type": "map"}]}, "not one of"),
    ({"type": "record", "fields": [{"name": "A", "type": ["int", "string"]}]}, "union"),
    ({"type": "record", "fields": [{"name": "A", "type": "long", "categorical": True}]}, "categorical"),
    ({"type": "record", "fields": [{"name": "A", "type": "long"}, {"name": "A", "type": "long"}]}, "twice"),
])
def test_schema_fields_rejects_invalid_schemas(schema: object, message: str) -> None:
    with pytest.raises(dc.SchemaError, match=message):
        dc.schema_fields(schema)  # type: ignore[arg-type]


def test_parse_schema_text_reports_json_errors_on_one_line() -> None:
    with pytest.raises(dc.SchemaError, match="not JSON") as caught:
        dc.parse_schema_text("{not json")
    assert "\n" not in str(caught.value)


def test_check_schema() -> None:
    assert dc.check_schema(SCHEMA, "interactions") == []
    broken = {"type": "record", "name": "x", "fields": [{"name": "USER_ID", "type": "long"},
                                                         {"name": "ITEM_ID", "type": "string"}]}
    found = codes(dc.check_schema(broken, "interactions"))
    assert set(found) == {"schema-missing-field", "schema-wrong-type", "schema-namespace"}
    assert codes(dc.check_schema({"type": "record"}, "users")) == {"schema-invalid": 0}


def test_check_header_columns_against_schema() -> None:
    assert dc.check_header(HEADER, SCHEMA, "interactions") == []
    found = dc.check_header(["USER_ID", "TIMESTAMP", "EXTRA"], SCHEMA, "interactions")
    assert {f.code for f in found} == {"missing-column", "unknown-column", "missing-schema-field",
                                       "missing-optional-field"}
    assert by_code(found, "missing-column").message == "required column ITEM_ID is missing"
    assert by_code(found, "missing-optional-field").level == "warning"
    assert by_code(found, "missing-schema-field").message.startswith("schema field EVENT_TYPE")


def test_check_header_without_schema_checks_only_required_columns() -> None:
    assert dc.check_header(["USER_ID", "ITEM_ID", "TIMESTAMP", "ANYTHING"], None, "interactions") == []
    assert codes(dc.check_header(["ITEM_ID"], None, "users")) == {"missing-column": 0}


@pytest.mark.parametrize(("header", "code"), [
    (["USER_ID;ITEM_ID;TIMESTAMP"], "wrong-delimiter"),
    (["USER_ID\tITEM_ID\tTIMESTAMP"], "wrong-delimiter"),
    ([], "empty-header"),
    (["", ""], "empty-header"),
    (["USER_ID", "ITEM_ID", "TIMESTAMP", "USER_ID"], "duplicate-column"),
    (["USER_ID", "", "ITEM_ID", "TIMESTAMP"], "empty-column-name"),
    (["\ufeffUSER_ID", "ITEM_ID", "TIMESTAMP"], "utf8-bom"),
])
def test_check_header_structure(header: list[str], code: str) -> None:
    found = dc.check_header(header, None, "interactions")
    assert code in codes(found)
    if code == "utf8-bom":  # the BOM is named once, not again as a missing USER_ID
        assert "missing-column" not in codes(found)


def test_check_rows_clean_rows_have_no_findings() -> None:
    rows = [row(), row("u2"), row("u1", "i2", value=""), row("u3", ts="+1780000001")]
    assert dc.check_rows(rows, HEADER, SCHEMA, "interactions", now=NOW) == []


@pytest.mark.parametrize(("bad", "code"), [
    (row(user=""), "empty-id"),
    (row(item="x" * 257), "id-too-long"),
    (row(ts=""), "missing-value"),
    (row(ts="2026-09-01T10:00:00Z"), "invalid-type"),
    (row(ts="1.78e9"), "invalid-type"),
    (row(ts="0x6A1B2C3D"), "invalid-type"),
    (row(ts="99999999999999999999"), "invalid-type"),  # does not fit in a long
    (row(value="abc"), "invalid-type"),
    (row(value="nan"), "invalid-type"),
    (row(value="1e999"), "invalid-type"),
    (row(ts="1780000000000"), "timestamp-milliseconds"),
    (row(ts="1780000000000000"), "timestamp-microseconds"),
    (row(ts="1780000000000000000"), "timestamp-nanoseconds"),
    (row(ts="946684799"), "timestamp-out-of-range"),  # 1999-12-31
    (row(ts=str(NOW + 2 * 86_400)), "timestamp-out-of-range"),
    (row(ts="-5"), "timestamp-out-of-range"),
    (["u1", "i1", "1780000000"], "ragged-row"),
    ([*row(), "extra"], "ragged-row"),
])
def test_check_rows_codes(bad: list[str], code: str) -> None:
    found = dc.check_rows([row("u0"), bad], HEADER, SCHEMA, "interactions", now=NOW)
    assert [(f.code, f.rows, f.examples) for f in found] == [(code, 1, (3,))]
    assert found[0].level == dc.CODES[code][0]


def test_check_rows_item_types_and_categorical_length() -> None:
    header = ["ITEM_ID", "GENRE", "RANK", "ACTIVE", "CREATION_TIMESTAMP"]
    rows = [
        ["i1", "g" * 1000, "1", "true", "1780000000"],
        ["i2", "g" * 1001, "2", "FALSE", "1780000000"],
        ["i3", "comedy", "2147483648", "", "1780000000"],  # RANK overflows int
        ["i4", "comedy", "-2147483648", "yes", "1780000000000"],
    ]
    found = dc.check_rows(rows, header, ITEMS_SCHEMA, "items", now=NOW)
    assert sorted((f.code, f.message.split(":")[0], f.examples) for f in found) == [
        ("categorical-too-long", "GENRE", (3,)),
        ("invalid-type", "ACTIVE", (5,)),
        ("invalid-type", "RANK", (4,)),
        ("timestamp-milliseconds", "CREATION_TIMESTAMP", (5,)),
    ]


def test_check_rows_duplicates_compare_typed_values() -> None:
    rows = [row(value="1.5"), row(value="1.50"), row(value="+1.5e0"), row(value="2"), row(ts="01780000000")]
    found = dc.check_rows(rows, HEADER, SCHEMA, "interactions", now=NOW)
    assert [(f.code, f.rows, f.examples) for f in found] == [("duplicate-row", 3, (3, 4, 6))]


def test_check_rows_counts_all_rows_but_keeps_five_examples() -> None:
    rows = [row(user="") for _ in range(12)]
    finding = by_code(dc.check_rows(rows, HEADER, SCHEMA, "interactions", now=NOW), "empty-id")
    assert finding.rows == 12
    assert finding.examples == (2, 3, 4, 5, 6)


def test_check_rows_without_schema_types_the_reserved_fields() -> None:
    found = dc.check_rows([row(ts="soon", value="much"), ["u", "i", "1780000000", "", ""]],
                          HEADER, None, "interactions", now=NOW)
    assert {(f.code, f.message.split(":")[0]) for f in found} == {("invalid-type", "TIMESTAMP"),
                                                                  ("invalid-type", "EVENT_VALUE")}


def test_timestamp_code_boundaries() -> None:
    assert dc.timestamp_code(dc.EPOCH_MIN, NOW) is None
    assert dc.timestamp_code(NOW + dc.FUTURE_LEEWAY_SECONDS, NOW) is None
    assert dc.timestamp_code(NOW + dc.FUTURE_LEEWAY_SECONDS + 1, NOW) == "timestamp-out-of-range"
    assert dc.timestamp_code(dc.EPOCH_MIN * 1000, NOW) == "timestamp-milliseconds"
    assert dc.timestamp_code(dc.EPOCH_MIN * 10**6, NOW) == "timestamp-microseconds"


def test_check_volume_minimums_are_errors_and_poc_advice_warnings() -> None:
    assert dc.check_volume("interactions", 1501, users=51, active_users=51, items=51) == []
    found = dc.check_volume("interactions", 999, users=50, active_users=24, items=50)
    assert {(f.code, f.level) for f in found} == {
        ("too-few-interactions", "error"), ("too-few-active-users", "error"), ("poc-few-users", "warning"),
        ("poc-few-items", "warning"), ("poc-few-interactions", "warning")}
    assert codes(dc.check_volume("interactions", 1000, users=51, active_users=25, items=60)) == {
        "poc-few-interactions": 0}
    assert "low-active-user-share" in codes(dc.check_volume("interactions", 100_000, users=10_000,
                                                            active_users=30, items=100))
    assert codes(dc.check_volume("items", 0)) == {"no-rows": 0}
    assert codes(dc.check_volume("items", 50)) == {"poc-few-items": 0}
    assert dc.check_volume("users", 3) == []


def test_check_object_size_limits() -> None:
    gb = 10**9
    assert dc.check_object_size(100 * gb, "FULL") == []
    assert codes(dc.check_object_size(100 * gb + 1, "FULL")) == {"object-too-large": 0}
    assert dc.check_object_size(gb, "incremental") == []
    too_big = dc.check_object_size(gb + 1, "INCREMENTAL")
    assert codes(too_big) == {"object-too-large": 0}
    assert "INCREMENTAL" in too_big[0].message
    assert codes(dc.check_object_size(0, "FULL")) == {"empty-file": 0}
    assert codes(dc.check_object_size(10, "APPEND")) == {"invalid-import-mode": 0}


def test_findings_are_frozen_and_serialisable() -> None:
    finding = dc.finding("empty-id", 3, (2, 4), field="USER_ID")
    assert finding.to_dict() == {"level": "error", "code": "empty-id", "message": "USER_ID: empty ids",
                                 "rows": 3, "examples": [2, 4]}
    with pytest.raises(AttributeError):
        finding.rows = 4  # type: ignore[misc]
    assert dc.has_errors([finding])
    assert not dc.has_errors([dc.finding("duplicate-row", 1)])


# ----------------------------------------------------------------------------- batch inference input


def test_batch_input_kinds_agree_with_the_recipe_table() -> None:
    """The gate reads the kind from the plan's recipeType (the Lambda cannot import personalize_poc);
    the POC definition and the CLI read it from the recipe table. Both must say the same."""
    from personalize_poc.poc_definition import RECIPES, batch_input_kind

    for name, recipe in RECIPES.items():
        assert dc.batch_input_kind(recipe.recipe_type) == batch_input_kind(name), name


@pytest.mark.parametrize(
    ("kind", "lines", "codes"),
    [
        ("users", ['{"userId": "u1"}', "", '{"userId": "u2", "context": {"DEVICE": "phone"}}'], []),
        ("items", ['{"itemId": "i1"}'], []),
        ("user_items", ['{"userId": "u1", "itemList": ["i1", "i2"]}'], []),
        ("items", ['{"userId": "u1"}'], ["batch-missing-key"]),
        ("users", ['{"userId": ""}', '{"userId": 7}', '{"userId": "' + "u" * 257 + '"}'], ["batch-invalid-id"]),
        ("user_items", ['{"userId": "u1", "itemList": "i1"}'], ["batch-invalid-item-list"]),
        ("users", ["[1, 2]", "{oops"], ["batch-not-json"]),
        ("users", ["", "  "], ["batch-no-lines"]),
    ],
)
def test_batch_lines(kind: str, lines: list[str], codes: list[str]) -> None:
    findings, _ = dc.check_batch_lines(lines, kind)
    assert [f.code for f in findings] == codes
    assert all(f.level == "error" for f in findings)


def test_batch_lines_count_records_and_give_line_numbers() -> None:
    findings, records = dc.check_batch_lines(['{"itemId": "i1"}', "", '{"item": "i2"}'], "items")
    assert records == 2
    (finding,) = findings
    assert finding.examples == (3,) and '"itemId"' in finding.message and '{"itemId": "i1"}' in finding.message
