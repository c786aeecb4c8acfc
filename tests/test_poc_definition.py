"""The POC definition: the sample passes, every class of mistake fails at synth time with one line that
names the field, and the validated plan is what the synthesized state machine carries."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml

from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import PocConfigError, PocDefinition, batch_input_kind, load_poc_definition
from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT, load_environments
from tests.conftest import SynthesizedApp, logical_id, render

SAMPLE = PROJECT_ROOT / "config" / "poc.yaml"
SAMPLE_RAW: dict[str, Any] = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
SCHEMAS = {
    kind: json.loads((PROJECT_ROOT / "config" / "schemas" / f"{kind}.avsc").read_text(encoding="utf-8"))
    for kind in ("interactions", "items", "users")
}
PREFIX = "ppoc-dev"


def _name_limit(operation: str) -> int:
    model = botocore.session.get_session().get_service_model("personalize")
    return int(model.operation_model(operation).input_shape.members["name"].metadata["max"])


def _load(tmp_path: Path, raw: dict[str, Any], prefix: str = PREFIX) -> PocDefinition:
    """Write `raw` next to a copy of the sample schemas and load it the way synth does."""
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", tmp_path / "schemas", dirs_exist_ok=True)
    path = tmp_path / "poc.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_poc_definition(path, prefix)


def _inline_schema(kind: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """A mutation that replaces a dataset's schema_file by an edited inline copy of the sample schema."""

    def mutate(raw: dict[str, Any]) -> None:
        schema = copy.deepcopy(SCHEMAS[kind])
        edit(schema)
        dataset = raw["datasets"][kind]
        del dataset["schema_file"]
        dataset["schema"] = schema

    return mutate


def _drop_field(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda schema: schema.update(fields=[f for f in schema["fields"] if f["name"] != name])


def _set_field(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda schema: next(f for f in schema["fields"] if f["name"] == name).update(changes)


def _without_items(raw: dict[str, Any]) -> None:
    """No items dataset, and no filter on item metadata (which would need one)."""
    del raw["datasets"]["items"]
    raw["filters"] = [f for f in raw["filters"] if "Items." not in f["expression"]]


def _similar_items_without_items(raw: dict[str, Any]) -> None:
    _without_items(raw)
    raw["solutions"][1]["recipe"] = "aws-similar-items"


def _add_fields(count: int, avro_type: str) -> Callable[[dict[str, Any]], None]:
    return lambda schema: schema["fields"].extend({"name": f"EXTRA_{i}", "type": avro_type} for i in range(count))


def _add_textual(*names: str) -> Callable[[dict[str, Any]], None]:
    return lambda schema: schema["fields"].extend({"name": n, "type": "string", "textual": True} for n in names)


def _event_type_without_field(raw: dict[str, Any]) -> None:
    _inline_schema("interactions", _drop_field("EVENT_TYPE"))(raw)
    raw["filters"] = raw["filters"][1:]
    raw["batch_inference"][0].pop("filter")
    raw["solutions"][0]["event_type"] = "purchase"


def _metadata_without_items(raw: dict[str, Any]) -> None:
    _without_items(raw)
    raw["campaigns"][0]["enable_metadata_with_recommendations"] = True


def _filter_on_boolean(raw: dict[str, Any]) -> None:
    _inline_schema("items", lambda s: s["fields"].append({"name": "ON_SALE", "type": "boolean"}))(raw)
    raw["filters"][1]["expression"] = 'INCLUDE ItemID WHERE Items.ON_SALE IN ("true")'


def _filter_on_eleven_fields(raw: dict[str, Any]) -> None:
    _inline_schema("items", _add_fields(10, "int"))(raw)
    conditions = " AND ".join(f"Items.EXTRA_{i} > 0" for i in range(10))
    raw["filters"][1]["expression"] = f"INCLUDE ItemID WHERE Items.PRICE > 1 AND {conditions}"


# Each case: a mutation of the sample, the field the message must name, and a word of the explanation.
BAD_CONFIGS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "missing interactions dataset": (
        lambda raw: raw["datasets"].pop("interactions"),
        "'datasets'",
        "interactions",
    ),
    "schema and schema_file both": (
        lambda raw: raw["datasets"]["items"].update(schema=SCHEMAS["items"]),
        "'datasets.items'",
        "exactly one",
    ),
    "neither schema nor schema_file": (
        lambda raw: raw["datasets"]["items"].pop("schema_file"),
        "'datasets.items'",
        "exactly one",
    ),
    "schema is not a record": (
        _inline_schema("items", lambda s: s.update(type="enum")),
        "'datasets.items.schema'",
        "record",
    ),
    "schema file missing": (
        lambda raw: raw["datasets"]["users"].update(schema_file="schemas/nowhere.avsc"),
        "'datasets.users.schema_file'",
        "not found",
    ),
    "interactions without USER_ID": (
        _inline_schema("interactions", _drop_field("USER_ID")),
        "'datasets.interactions.schema'",
        "USER_ID",
    ),
    "interactions without ITEM_ID": (
        _inline_schema("interactions", _drop_field("ITEM_ID")),
        "'datasets.interactions.schema'",
        "ITEM_ID",
    ),
    "interactions without TIMESTAMP": (
        _inline_schema("interactions", _drop_field("TIMESTAMP")),
        "'datasets.interactions.schema'",
        "TIMESTAMP",
    ),
    "items without ITEM_ID": (
        _inline_schema("items", _drop_field("ITEM_ID")),
        "'datasets.items.schema'",
        "ITEM_ID",
    ),
    "users without USER_ID": (
        _inline_schema("users", _drop_field("USER_ID")),
        "'datasets.users.schema'",
        "USER_ID",
    ),
    "bad field type": (
        _inline_schema("items", _set_field("PRICE", type="decimal")),
        "'datasets.items.schema'",
        "PRICE",
    ),
    "categorical on a non-string": (
        _inline_schema("items", _set_field("PRICE", categorical=True)),
        "'datasets.items.schema'",
        "categorical",
    ),
    "unknown recipe": (
        lambda raw: raw["solutions"][1].update(recipe="aws-hrnn-coldstart-typo"),
        "'solutions[1].recipe'",
        "unknown recipe",
    ),
    "recipe needs an items dataset": (
        _similar_items_without_items,
        "'solutions[1].recipe'",
        "'items' dataset",
    ),
    "campaign of an unknown solution": (
        lambda raw: raw["campaigns"][2].update(solution="nope"),
        "'campaigns[2].solution'",
        "nope",
    ),
    "item exploration on SIMS": (
        lambda raw: raw["campaigns"][1].update(item_exploration_weight=0.3),
        "'campaigns[1].item_exploration_weight'",
        "only for aws-user-personalization",
    ),
    "item age cut-off on ranking": (
        lambda raw: raw["campaigns"][2].update(exploration_item_age_cut_off=30),
        "'campaigns[2].exploration_item_age_cut_off'",
        "only for aws-user-personalization",
    ),
    "batch job of an unknown solution": (
        lambda raw: raw["batch_inference"][0].update(solution="nope"),
        "'batch_inference[0].solution'",
        "nope",
    ),
    "batch job with an unknown filter": (
        lambda raw: raw["batch_inference"][0].update(filter="nope"),
        "'batch_inference[0].filter'",
        "nope",
    ),
    "duplicate solution": (
        lambda raw: raw["solutions"].append({"name": "sims", "recipe": "aws-sims"}),
        "'solutions[4].name'",
        "twice",
    ),
    "duplicate campaign": (
        lambda raw: raw["campaigns"].append({"name": "sims", "solution": "sims"}),
        "'campaigns[3].name'",
        "twice",
    ),
    "duplicate filter": (
        lambda raw: raw["filters"].append(dict(raw["filters"][0])),
        "'filters[2].name'",
        "twice",
    ),
    "duplicate batch job": (
        lambda raw: raw["batch_inference"].append(dict(raw["batch_inference"][0])),
        "'batch_inference[1].name'",
        "twice",
    ),
    "filter without WHERE": (
        lambda raw: raw["filters"][0].update(expression='EXCLUDE ItemID Interactions.EVENT_TYPE IN ("x")'),
        "'filters[0].expression'",
        "expected WHERE",
    ),
    "filter on a bad action": (
        lambda raw: raw["filters"][0].update(expression='DROP ItemID WHERE Interactions.EVENT_TYPE IN ("x")'),
        "'filters[0].expression'",
        "expected INCLUDE or EXCLUDE",
    ),
    "filter on a dataset not in the config": (
        lambda raw: raw["datasets"].pop("items"),
        "'filters[1].expression'",
        "items dataset, which the config does not define",
    ),
    "filter on an unknown field": (
        lambda raw: raw["filters"][1].update(expression="INCLUDE ItemID WHERE Items.COLOUR IN ($C)"),
        "'filters[1].expression'",
        "COLOUR",
    ),
    "name with a space": (
        lambda raw: raw["dataset_group"].update(name="my retail"),
        "'dataset_group.name'",
        "pattern",
    ),
    "campaign name too long with the prefix": (
        lambda raw: raw["campaigns"][0].update(name="c" * (_name_limit("CreateCampaign") - len(PREFIX))),
        "'campaigns[0].name'",
        "characters",
    ),
    "filter name too long with the prefix": (
        lambda raw: raw["filters"][1].update(name="f" * (_name_limit("CreateFilter") - len(PREFIX))),
        "'filters[1].name'",
        "characters",
    ),
    "dataset group name too long for its import jobs": (
        lambda raw: raw["dataset_group"].update(name="g" * 30),
        "'dataset_group.name'",
        "import job",
    ),
    "min_provisioned_tps 0": (
        lambda raw: raw["campaigns"][0].update(min_provisioned_tps=0),
        "'campaigns[0].min_provisioned_tps'",
        "greater than or equal to 1",
    ),
    "unknown top-level key": (lambda raw: raw.update(colour="blue"), "'colour'", "Extra inputs"),
    "unknown nested key (typo)": (
        lambda raw: raw["solutions"][0].update(perform_auto_trainin=True),
        "'solutions[0].perform_auto_trainin'",
        "Extra inputs",
    ),
    "no solutions": (lambda raw: raw.update(solutions=[]), "'solutions'", "at least 1"),
    # --- issue 10: what the service would refuse, caught at synth ---------------------------------------
    "USER_ID not a string": (
        _inline_schema("interactions", _set_field("USER_ID", type="long")),
        "'datasets.interactions.schema'",
        'USER_ID: a reserved interactions field, its type must be "string"',
    ),
    "TIMESTAMP an int": (
        _inline_schema("interactions", _set_field("TIMESTAMP", type="int")),
        "'datasets.interactions.schema'",
        'TIMESTAMP: a reserved interactions field, its type must be "long"',
    ),
    "EVENT_VALUE a double": (
        _inline_schema("interactions", _set_field("EVENT_VALUE", type="double")),
        "'datasets.interactions.schema'",
        'EVENT_VALUE: a reserved interactions field, its type must be "float"',
    ),
    "EVENT_TYPE categorical": (
        _inline_schema("interactions", _set_field("EVENT_TYPE", categorical=True)),
        "'datasets.interactions.schema'",
        "EVENT_TYPE: a reserved string field cannot be categorical",
    ),
    "CREATION_TIMESTAMP a string": (
        _inline_schema("items", _set_field("CREATION_TIMESTAMP", type="string")),
        "'datasets.items.schema'",
        'CREATION_TIMESTAMP: a reserved items field, its type must be "long"',
    ),
    "users schema without metadata": (
        _inline_schema("users", lambda s: s.update(fields=[{"name": "USER_ID", "type": "string"}])),
        "'datasets.users.schema'",
        "at least one metadata field",
    ),
    "items metadata the service cannot use": (
        _inline_schema(
            "items",
            lambda s: s.update(fields=[{"name": "ITEM_ID", "type": "string"}, {"name": "TITLE", "type": "string"}]),
        ),
        "'datasets.items.schema'",
        "at least one metadata field",
    ),
    "interactions with 6 metadata fields": (
        _inline_schema("interactions", _add_fields(6, "float")),
        "'datasets.interactions.schema'",
        "at most 5",
    ),
    "users with 26 metadata fields": (
        _inline_schema("users", _add_fields(24, "int")),
        "'datasets.users.schema'",
        "at most 25",
    ),
    "items with 101 metadata fields": (
        _inline_schema("items", _add_fields(98, "int")),  # the sample has 3 metadata fields
        "'datasets.items.schema'",
        "at most 100",
    ),
    "two textual item fields": (
        _inline_schema("items", _add_textual("DESCRIPTION", "SUMMARY")),
        "'datasets.items.schema'",
        "textual fields DESCRIPTION, SUMMARY",
    ),
    "textual on a users field": (
        _inline_schema("users", _set_field("MEMBERSHIP", textual=True, categorical=False)),
        "'datasets.users.schema'",
        "only string fields of an items schema can be textual",
    ),
    "exploration on User-Personalization-v2": (
        lambda raw: raw["campaigns"][0].update(item_exploration_weight=0.3),
        "'campaigns[0].item_exploration_weight'",
        "only for aws-user-personalization, not aws-user-personalization-v2",
    ),
    "exploration on Popularity-Count": (
        lambda raw: raw["campaigns"].append(
            {"name": "pop", "solution": "popularity-baseline", "exploration_item_age_cut_off": 30}
        ),
        "'campaigns[3].exploration_item_age_cut_off'",
        "not aws-popularity-count",
    ),
    "training mode UPDATE on User-Personalization-v2": (
        lambda raw: raw["solutions"][0].update(training_mode="UPDATE"),
        "'solutions[0].training_mode'",
        "UPDATE is only for aws-user-personalization",
    ),
    "HPO on User-Personalization-v2": (
        lambda raw: raw["solutions"][0].update(perform_hpo=True),
        "'solutions[0].perform_hpo'",
        "does not take HPO",
    ),
    "HPO on Popularity-Count": (
        lambda raw: raw["solutions"][3].update(perform_hpo=True),
        "'solutions[3].perform_hpo'",
        "aws-popularity-count does not take HPO",
    ),
    "auto_ml true (never sent)": (
        lambda raw: raw["solutions"][1].update(auto_ml=True),
        "'solutions[1].auto_ml'",
        "AutoML is legacy",
    ),
    "event_type without an EVENT_TYPE field": (
        _event_type_without_field,
        "'solutions[0].event_type'",
        "no EVENT_TYPE field",
    ),
    "metadata with recommendations without items": (
        _metadata_without_items,
        "'campaigns[0].enable_metadata_with_recommendations'",
        "needs an items dataset",
    ),
    "batch job on Trending-Now": (
        lambda raw: raw["solutions"][0].update(recipe="aws-trending-now"),
        "'batch_inference[0].solution'",
        "aws-trending-now has no batch inference",
    ),
    "batch output prefix climbing out": (
        lambda raw: raw["batch_inference"][0].update(output_prefix="../imports"),
        "'batch_inference[0].output_prefix'",
        "must stay inside its folder",
    ),
    "batch output prefix absolute": (
        lambda raw: raw["batch_inference"][0].update(output_prefix="/"),
        "'batch_inference[0].output_prefix'",
        "must stay inside its folder",
    ),
    "batch input key climbing out": (
        lambda raw: raw["batch_inference"][0].update(input_key="x/../../imports/users.csv"),
        "'batch_inference[0].input_key'",
        "must stay inside its folder",
    ),
    "data key with an empty segment": (
        lambda raw: raw["datasets"]["users"].update(data_key="a//users.csv"),
        "'datasets.users.data_key'",
        "must stay inside its folder",
    ),
    "CurrentItem filter on a user-personalization batch job": (
        lambda raw: raw["filters"][0].update(
            expression="INCLUDE ItemID WHERE Items.CATEGORY_L1 IN CurrentItem.CATEGORY_L1"
        ),
        "'batch_inference[0].filter'",
        "uses CurrentItem",
    ),
    "filter on an interaction field other than EVENT_TYPE": (
        lambda raw: raw["filters"][0].update(expression="EXCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3"),
        "'filters[0].expression'",
        "EVENT_TYPE only",
    ),
    "filter mixing datasets in one expression": (
        lambda raw: raw["filters"][1].update(
            expression='INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ($C) AND Interactions.EVENT_TYPE IN ("x")'
        ),
        "'filters[1].expression'",
        "chain another expression with '|'",
    ),
    "filter placeholder with NOT IN": (
        lambda raw: raw["filters"][1].update(expression="INCLUDE ItemID WHERE Items.CATEGORY_L1 NOT IN ($C)"),
        "'filters[1].expression'",
        "not allowed with NOT IN",
    ),
    "filter comparing a string field": (
        lambda raw: raw["filters"][1].update(expression="INCLUDE ItemID WHERE Items.CATEGORY_L1 > 3"),
        "'filters[1].expression'",
        "not a numeric field",
    ),
    "filter IN on a numeric field": (
        lambda raw: raw["filters"][1].update(expression='INCLUDE ItemID WHERE Items.PRICE IN ("3")'),
        "'filters[1].expression'",
        "not a string field",
    ),
    "filter of users (UserID)": (
        lambda raw: raw["filters"][1].update(expression="INCLUDE UserID WHERE Users.MEMBERSHIP IN ($M)"),
        "'filters[1].expression'",
        "UserID filters do not apply",
    ),
    "filter on Users in WHERE": (
        lambda raw: raw["filters"][1].update(expression="INCLUDE ItemID WHERE Users.MEMBERSHIP IN ($M)"),
        "'filters[1].expression'",
        "IF CurrentUser.MEMBERSHIP",
    ),
    "filter with * outside EVENT_TYPE": (
        lambda raw: raw["filters"][1].update(expression='INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("*")'),
        "'filters[1].expression'",
        '"*" is only for Interactions.EVENT_TYPE',
    ),
    "filter on a boolean field": (
        _filter_on_boolean,
        "'filters[1].expression'",
        "boolean fields cannot be filtered",
    ),
    "filter on an unknown CurrentUser field": (
        lambda raw: raw["filters"][1].update(
            expression="INCLUDE ItemID WHERE Items.PRICE < 10 IF CurrentUser.AGE > 18"
        ),
        "'filters[1].expression'",
        "AGE is not a field of the users schema",
    ),
    "filter with an unclosed list": (
        lambda raw: raw["filters"][1].update(expression='INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("a"'),
        "'filters[1].expression'",
        "expected ')' or ','",
    ),
    "filter with 11 fields": (
        _filter_on_eleven_fields,
        "'filters[1].expression'",
        "at most 10",
    ),
    "polling interval not shorter than its timeout": (
        lambda raw: raw.update(polling={"filter": {"interval_seconds": 3600, "timeout_minutes": 60}}),
        "'polling.filter.interval_seconds'",
        "not shorter than the timeout",
    ),
}


def test_the_sample_passes_for_every_shipped_environment() -> None:
    for settings in load_environments(DEFAULT_ENVIRONMENTS_FILE).values():
        poc = load_poc_definition(settings.poc_config_path, settings.name_prefix)
        assert [s.recipe for s in poc.solutions] == [
            "aws-user-personalization-v2",
            "aws-sims",
            "aws-personalized-ranking-v2",
            "aws-popularity-count",
        ]
        assert set(poc.datasets) == {"interactions", "items", "users"}


def test_an_unchanged_copy_of_the_sample_passes(tmp_path: Path) -> None:
    """The harness itself: without a mutation the copy loads, so each failure below is the mutation's."""
    assert _load(tmp_path, copy.deepcopy(SAMPLE_RAW)) == load_poc_definition(SAMPLE, PREFIX)


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_config_fails_with_one_line_naming_the_field(tmp_path: Path, case: str) -> None:
    mutate, field, explanation = BAD_CONFIGS[case]
    raw = copy.deepcopy(SAMPLE_RAW)
    mutate(raw)
    with pytest.raises(PocConfigError) as raised:
        _load(tmp_path, raw)
    message = str(raised.value)
    assert f"field {field}:" in message
    assert explanation in message
    assert "\n" not in message
    assert str(tmp_path / "poc.yaml") in message


def test_item_exploration_is_accepted_on_user_personalization(tmp_path: Path) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["solutions"][0]["recipe"] = "aws-user-personalization"
    raw["campaigns"][0].update(item_exploration_weight=0.3, exploration_item_age_cut_off=30)
    poc = _load(tmp_path, raw)
    assert poc.campaigns[0].item_exploration_weight == 0.3


# Examples from the developer guide ("Filter expressions", item recommendation examples), on the sample's fields.
GUIDE_FILTERS = [
    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
    'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
    "INCLUDE ItemID WHERE Items.PRICE <= $PRICE",
    "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE OR Items.PRICE != 0",
    'INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("watch") IF CurrentUser.MEMBERSHIP IN ("gold")',
    'INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("drama")'
    ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
]


@pytest.mark.parametrize("expression", GUIDE_FILTERS)
def test_filter_expressions_from_the_guide_are_accepted(tmp_path: Path, expression: str) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["filters"][1]["expression"] = expression
    assert _load(tmp_path, raw).filters[1].expression == expression


def test_a_current_item_filter_is_accepted_on_a_related_items_batch_job(tmp_path: Path) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["filters"].append({"name": "cheaper", "expression": "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE"})
    raw["batch_inference"].append(
        {
            "name": "sims-batch",
            "solution": "sims",
            "input_key": "items.jsonl",
            "output_prefix": "sims",
            "filter": "cheaper",
        }
    )
    assert _load(tmp_path, raw).batch_inference[1].filter == "cheaper"


def test_limits_are_inclusive(tmp_path: Path) -> None:
    """The boundaries of the count rules: 5 interaction metadata fields and 10 fields in one filter pass."""
    raw = copy.deepcopy(SAMPLE_RAW)
    _inline_schema("interactions", _add_fields(5, "float"))(raw)
    _inline_schema("items", _add_fields(9, "int"))(raw)
    conditions = " AND ".join(f"Items.EXTRA_{i} > 0" for i in range(9))
    raw["filters"][1]["expression"] = f"INCLUDE ItemID WHERE Items.PRICE > 1 AND {conditions}"
    assert len(_load(tmp_path, raw).filters) == 2


@pytest.mark.parametrize(
    ("recipe", "kind"),
    [
        ("aws-user-personalization", "users"),
        ("aws-user-personalization-v2", "users"),
        ("aws-popularity-count", "users"),
        ("arn:aws:personalize:::recipe/aws-sims", "items"),
        ("aws-similar-items", "items"),
        ("aws-personalized-ranking", "user_items"),
        ("aws-personalized-ranking-v2", "user_items"),
        ("aws-trending-now", None),
    ],
)
def test_batch_input_kind_per_recipe(recipe: str, kind: str | None) -> None:
    assert batch_input_kind(recipe) == kind


def test_a_duplicate_key_in_the_poc_definition_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "poc.yaml"
    path.write_text(SAMPLE.read_text(encoding="utf-8") + "\nevent_tracker: false\n", encoding="utf-8")
    with pytest.raises(PocConfigError, match=r"key 'event_tracker' appears twice \(line \d+ and line \d+\)") as raised:
        load_poc_definition(path, PREFIX)
    assert "\n" not in str(raised.value)


def test_names_up_to_the_service_limit_pass_with_the_prefix(tmp_path: Path) -> None:
    """The boundary of the 'too long' cases: exactly the service's maximum for the name the workflow sends
    (prefix and dataset group included) loads, and the plan built from it agrees; one more character fails."""
    raw = copy.deepcopy(SAMPLE_RAW)
    scope = f"{PREFIX}-{SAMPLE_RAW['dataset_group']['name']}-"
    raw["filters"][1]["name"] = "f" * (_name_limit("CreateFilter") - len(scope))
    plan = _plan(_load(tmp_path, raw), config_dir=tmp_path)
    assert len(plan["filters"][1]["name"]) == _name_limit("CreateFilter")
    raw["filters"][1]["name"] += "f"
    with pytest.raises(PocConfigError, match=r"field 'filters\[1\]\.name'.*characters"):
        _load(tmp_path, raw)


def test_a_schema_file_that_is_not_json_names_the_field(tmp_path: Path) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["datasets"]["users"]["schema_file"] = "schemas/broken.avsc"
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "broken.avsc").write_text('{"type": "record",', encoding="utf-8")
    with pytest.raises(PocConfigError, match=r"field 'datasets\.users\.schema_file': .* is not JSON") as raised:
        _load(tmp_path, raw)
    assert "\n" not in str(raised.value)


def test_a_yaml_syntax_error_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "poc.yaml"
    path.write_text("dataset_group:\n  name: [retail\nsolutions: : x\n", encoding="utf-8")
    with pytest.raises(PocConfigError, match="not valid YAML"):
        load_poc_definition(path, PREFIX)


def test_a_yaml_syntax_error_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "poc.yaml"
    path.write_text("dataset_group:\n  name: [retail\nsolutions: : x\n", encoding="utf-8")
    with pytest.raises(PocConfigError) as raised:
        load_poc_definition(path, PREFIX)
    assert "\n" not in str(raised.value)
    assert "line 2" in str(raised.value)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(PocConfigError, match="POC definition not found"):
        load_poc_definition(tmp_path / "nowhere.yaml", PREFIX)


def test_a_file_that_is_not_a_mapping_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "poc.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(PocConfigError, match="mapping"):
        load_poc_definition(path, PREFIX)


# --- the plan ----------------------------------------------------------------------------------------


def _plan(poc: PocDefinition, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "config_dir": SAMPLE.parent,
        "name_prefix": PREFIX,
        "bucket_name": "ppoc-dev-data",
        "role_arn": "arn:aws:iam::123456789012:role/ppoc-dev-personalize",
        "kms_key_arn": None,
    }
    return build_plan(poc, **{**arguments, **overrides})


def test_the_plan_turns_auto_training_off_explicitly_on_every_solution() -> None:
    plan = _plan(load_poc_definition(SAMPLE, PREFIX))
    assert len(plan["solutions"]) == len(SAMPLE_RAW["solutions"])
    for solution in plan["solutions"]:
        assert solution["performAutoTraining"] is False, solution["name"]


def test_auto_training_is_on_only_where_the_config_asks(tmp_path: Path) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["solutions"][0]["perform_auto_training"] = True
    plan = _plan(_load(tmp_path, raw))
    assert [s["performAutoTraining"] for s in plan["solutions"]] == [True, False, False, False]


def test_the_plan_carries_full_names_and_s3_uris() -> None:
    plan = _plan(load_poc_definition(SAMPLE, PREFIX))
    assert plan["datasetGroup"]["name"] == "ppoc-dev-retail"
    assert {d["name"] for d in plan["datasets"]} == {
        "ppoc-dev-retail-interactions",
        "ppoc-dev-retail-items",
        "ppoc-dev-retail-users",
    }
    interactions = next(d for d in plan["datasets"] if d["type"] == "interactions")
    assert interactions["s3Uri"] == "s3://ppoc-dev-data/imports/interactions.csv"
    assert json.loads(interactions["schema"]) == SCHEMAS["interactions"]
    (batch_job,) = plan["solutions"][0]["batchJobs"]
    assert batch_job["filterName"] == "ppoc-dev-retail-exclude-purchased"
    assert batch_job["outputUri"] == "s3://ppoc-dev-data/batch-output/user-personalization/"
    assert [s["baseline"] for s in plan["solutions"]] == [False, False, False, True]


def _without_nulls(value: Any) -> Any:
    """CDK leaves keys whose value is None out of a Pass state's Result."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_the_plan_is_embedded_in_the_synthesized_state_machine(synthesized: SynthesizedApp) -> None:
    """A change to the POC definition changes the template, so `cdk diff` shows it in review."""
    env = synthesized.environments["dev"]
    (definition,) = [
        r["Properties"]["DefinitionString"]
        for r in env.resources.values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and "POC config" in json.dumps(r["Properties"]["DefinitionString"])
    ]
    asl = json.loads(render(definition))
    embedded = asl["States"]["POC config"]
    assert embedded["Type"] == "Pass"
    assert embedded["ResultPath"] == "$.config"
    bucket = f"<{logical_id(env.stack.data.bucket)}>"
    role = f"<{logical_id(env.stack.personalize_role.role)}.Arn>"
    expected = build_plan(
        load_poc_definition(env.settings.poc_config_path, env.settings.name_prefix),
        config_dir=env.settings.poc_config_path.parent,
        name_prefix=env.settings.name_prefix,
        bucket_name=bucket,
        role_arn=role,
        kms_key_arn=env.settings.kms_key_arn,
        tags=env.settings.tags,
    )
    assert embedded["Result"] == _without_nulls(expected)


# --- python app.py -----------------------------------------------------------------------------------


def test_app_reports_a_bad_poc_definition_in_one_line_and_exits_1(tmp_path: Path) -> None:
    raw = copy.deepcopy(SAMPLE_RAW)
    raw["solutions"][2]["recipe"] = "aws-no-such-recipe"
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", tmp_path / "schemas")
    poc_file = tmp_path / "poc.yaml"
    poc_file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    environments = yaml.safe_load(DEFAULT_ENVIRONMENTS_FILE.read_text(encoding="utf-8"))
    environments_file = tmp_path / "environments.yaml"
    environments_file.write_text(
        yaml.safe_dump({"dev": {**environments["dev"], "poc_config": str(poc_file)}}), encoding="utf-8"
    )
    env = {
        **os.environ,
        "POC_ENVIRONMENTS_FILE": str(environments_file),
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Invalid POC definition: {poc_file}: field 'solutions[2].recipe': unknown recipe")
    assert not (tmp_path / "cdk.out" / "manifest.json").exists()


def test_a_poc_definition_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PocConfigError, match="cannot read the POC definition") as raised:
        load_poc_definition(tmp_path, PREFIX)
    assert "\n" not in str(raised.value)
