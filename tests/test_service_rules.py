"""The service's refusals as the double plays them: each rule on its own (pure functions on request params), then
through boto3 against the double, where a refused request raises InvalidInputException like the real API."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support.personalize_double import FakeClock, PersonalizeDouble
from tests.support.service_rules import (
    ServiceRuleError,
    check_create_batch_inference_job,
    check_create_campaign,
    check_create_dataset,
    check_create_filter,
    check_create_schema,
    check_create_solution,
    check_create_solution_version,
)

RECIPE = "arn:aws:personalize:::recipe/"
INTERACTIONS = {
    "type": "record",
    "name": "Interactions",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
    ],
}
ITEMS = {
    "type": "record",
    "name": "Items",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": "string", "categorical": True},
        {"name": "PRICE", "type": "float"},
        {"name": "ON_SALE", "type": "boolean"},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
}
USERS = {
    "type": "record",
    "name": "Users",
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "TIER", "type": "string", "categorical": True}],
}
SCHEMAS = {"Interactions": json.dumps(INTERACTIONS), "Items": json.dumps(ITEMS), "Users": json.dumps(USERS)}
BATCH = {
    "jobInput": {"s3DataSource": {"path": "s3://bucket/batch-input/users.jsonl"}},
    "jobOutput": {"s3DataDestination": {"path": "s3://bucket/batch-output/up/"}},
}


def _schema(base: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> str:
    schema = copy.deepcopy(base)
    edit(schema)
    return json.dumps(schema)


def _field(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda schema: next(f for f in schema["fields"] if f["name"] == name).update(changes)


def _extra(count: int, avro_type: str = "int") -> Callable[[dict[str, Any]], None]:
    return lambda schema: schema["fields"].extend({"name": f"X{i}", "type": avro_type} for i in range(count))


# --- each rule: refused, with the service's words -----------------------------------------------------------

REFUSED: dict[str, tuple[Callable[[], None], str]] = {
    "schema not JSON": (lambda: check_create_schema({"schema": "{nope"}), "not valid JSON"),
    "schema with a decimal": (
        lambda: check_create_schema({"schema": _schema(ITEMS, _field("PRICE", type="decimal"))}),
        "unsupported type",
    ),
    "categorical number": (
        lambda: check_create_schema({"schema": _schema(ITEMS, _field("PRICE", categorical=True))}),
        "only string fields",
    ),
    "interactions without TIMESTAMP": (
        lambda: check_create_dataset(
            {"datasetType": "Interactions"},
            _schema(INTERACTIONS, lambda s: s.update(fields=s["fields"][:2])),
        ),
        "TIMESTAMP",
    ),
    "TIMESTAMP an int": (
        lambda: check_create_dataset(
            {"datasetType": "Interactions"}, _schema(INTERACTIONS, _field("TIMESTAMP", type="int"))
        ),
        "TIMESTAMP of a INTERACTIONS dataset must be of type long",
    ),
    "EVENT_VALUE a double": (
        lambda: check_create_dataset(
            {"datasetType": "Interactions"}, _schema(INTERACTIONS, _field("EVENT_VALUE", type="double"))
        ),
        "must be of type float",
    ),
    "EVENT_TYPE categorical": (
        lambda: check_create_dataset(
            {"datasetType": "Interactions"}, _schema(INTERACTIONS, _field("EVENT_TYPE", categorical=True))
        ),
        "cannot be categorical",
    ),
    "ITEM_ID nullable": (
        lambda: check_create_dataset(
            {"datasetType": "Items"}, _schema(ITEMS, _field("ITEM_ID", type=["null", "string"]))
        ),
        "ITEM_ID of a ITEMS dataset must be of type string",
    ),
    "users without metadata": (
        lambda: check_create_dataset({"datasetType": "Users"}, _schema(USERS, lambda s: s["fields"].pop())),
        "at least one metadata field",
    ),
    "6 interaction metadata fields": (
        lambda: check_create_dataset({"datasetType": "Interactions"}, _schema(INTERACTIONS, _extra(6))),
        "at most 5 metadata fields",
    ),
    "26 user metadata fields": (
        lambda: check_create_dataset({"datasetType": "Users"}, _schema(USERS, _extra(25))),
        "at most 25 metadata fields",
    ),
    "textual users field": (
        lambda: check_create_dataset({"datasetType": "Users"}, _schema(USERS, _field("TIER", textual=True))),
        "Only Items datasets support textual fields",
    ),
    "filter that does not parse": (
        lambda: check_create_filter({"filterExpression": "ItemID = 1"}, SCHEMAS),
        "Could not create filter. Invalid filter expression",
    ),
    "filter with NOT IN and a placeholder": (
        lambda: check_create_filter({"filterExpression": "EXCLUDE ItemID WHERE Items.GENRE NOT IN ($G)"}, SCHEMAS),
        "Invalid input symbol: $G. Placeholders are not allowed with NOT_IN operator.",
    ),
    "filter on a dataset the group lacks": (
        lambda: check_create_filter(
            {"filterExpression": 'INCLUDE ItemID WHERE Items.GENRE IN ("a")'}, {"Interactions": SCHEMAS["Interactions"]}
        ),
        "no Items dataset",
    ),
    "filter on an interaction field other than EVENT_TYPE": (
        lambda: check_create_filter({"filterExpression": "EXCLUDE ItemID WHERE Interactions.EVENT_VALUE > 2"}, SCHEMAS),
        "EVENT_TYPE only",
    ),
    "filter mixing datasets": (
        lambda: check_create_filter(
            {"filterExpression": 'INCLUDE ItemID WHERE Items.GENRE IN ("a") OR Interactions.EVENT_TYPE IN ("b")'},
            SCHEMAS,
        ),
        "must use the Items dataset",
    ),
    "filter on a boolean field": (
        lambda: check_create_filter({"filterExpression": 'INCLUDE ItemID WHERE Items.ON_SALE IN ("true")'}, SCHEMAS),
        "boolean or textual",
    ),
    "filter on a textual field": (
        lambda: check_create_filter({"filterExpression": 'INCLUDE ItemID WHERE Items.DESCRIPTION IN ("x")'}, SCHEMAS),
        "boolean or textual",
    ),
    "filter with * outside EVENT_TYPE": (
        lambda: check_create_filter({"filterExpression": 'INCLUDE ItemID WHERE Items.GENRE IN ("*")'}, SCHEMAS),
        '"*" can only be used with Interactions.EVENT_TYPE',
    ),
    "filter on an unknown field": (
        lambda: check_create_filter({"filterExpression": 'INCLUDE ItemID WHERE Items.COLOUR IN ("red")'}, SCHEMAS),
        "COLOUR is not a field",
    ),
    "HPO on User-Personalization-v2": (
        lambda: check_create_solution({"performHPO": True}, RECIPE + "aws-user-personalization-v2"),
        "performHPO is not supported",
    ),
    "eventType without EVENT_TYPE": (
        lambda: check_create_solution(
            {"eventType": "click"},
            RECIPE + "aws-sims",
            {"Interactions": _schema(INTERACTIONS, lambda s: s["fields"].pop(3))},
        ),
        "EVENT_TYPE field",
    ),
    "UPDATE on SIMS": (
        lambda: check_create_solution_version({"trainingMode": "UPDATE"}, RECIPE + "aws-sims", is_first=False),
        "only be used with the User-Personalization recipe",
    ),
    "UPDATE as the first version": (
        lambda: check_create_solution_version(
            {"trainingMode": "UPDATE"}, RECIPE + "aws-user-personalization", is_first=True
        ),
        "trainingMode FULL",
    ),
    "exploration on User-Personalization-v2": (
        lambda: check_create_campaign(
            {"campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}}},
            RECIPE + "aws-user-personalization-v2",
        ),
        "only supported for solutions that use the User-Personalization recipe",
    ),
    "metadata without items": (
        lambda: check_create_campaign(
            {"campaignConfig": {"enableMetadataWithRecommendations": True}},
            RECIPE + "aws-user-personalization",
            {"Interactions": SCHEMAS["Interactions"]},
        ),
        "requires an Items dataset",
    ),
    "batch on Trending-Now": (
        lambda: check_create_batch_inference_job(BATCH, RECIPE + "aws-trending-now"),
        "Trending-Now",
    ),
    "batch output equal to input": (
        lambda: check_create_batch_inference_job(
            {**BATCH, "jobOutput": {"s3DataDestination": {"path": "s3://bucket/batch-input/users.jsonl"}}},
            RECIPE + "aws-user-personalization",
        ),
        "Invalid S3 output path",
    ),
    "batch input without a key": (
        lambda: check_create_batch_inference_job(
            {**BATCH, "jobInput": {"s3DataSource": {"path": "s3://bucket"}}}, RECIPE + "aws-sims"
        ),
        "Invalid S3 input path",
    ),
    "CurrentItem filter on a user-personalization batch job": (
        lambda: check_create_batch_inference_job(
            BATCH, RECIPE + "aws-user-personalization-v2", "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE"
        ),
        "related items",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_the_service_refuses(case: str) -> None:
    call, words = REFUSED[case]
    with pytest.raises(ServiceRuleError) as raised:
        call()
    assert words in str(raised.value)


def test_what_the_poc_sends_passes() -> None:
    """The other side of each rule: valid requests like the workflow's go through."""
    check_create_schema({"schema": SCHEMAS["Items"]})
    for dataset_type in ("Interactions", "Items", "Users"):
        check_create_dataset({"datasetType": dataset_type}, SCHEMAS[dataset_type])
    check_create_dataset({"datasetType": "Interactions"}, _schema(INTERACTIONS, _extra(5, "float")))
    for expression in (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
        "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) AND Items.PRICE <= $PRICE IF CurrentUser.TIER IN ($T)",
        'INCLUDE ItemID WHERE Items.GENRE IN ("drama") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
    ):
        check_create_filter({"filterExpression": expression}, SCHEMAS)
    check_create_solution({"performHPO": True}, RECIPE + "aws-sims", SCHEMAS)
    check_create_solution({"eventType": "click"}, RECIPE + "aws-user-personalization-v2", SCHEMAS)
    check_create_solution_version({"trainingMode": "UPDATE"}, RECIPE + "aws-user-personalization", is_first=False)
    check_create_solution_version({"trainingMode": "FULL"}, RECIPE + "aws-sims", is_first=True)
    check_create_campaign(
        {"campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}}}, RECIPE + "aws-user-personalization"
    )
    check_create_campaign({"campaignConfig": {"enableMetadataWithRecommendations": True}}, RECIPE + "aws-sims", SCHEMAS)
    check_create_batch_inference_job(BATCH, RECIPE + "aws-sims", "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE")


# --- through boto3 against the double: the refusal is the operation's InvalidInputException --------------


@pytest.fixture
def personalize(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock)
    with double.installed():
        client = boto3.client("personalize", region_name="us-east-1")
        group = client.create_dataset_group(name="rules")["datasetGroupArn"]
        clock.advance(double.seconds_until_settled(group))
        schema = client.create_schema(name="rules-interactions", schema=SCHEMAS["Interactions"])["schemaArn"]
        dataset = client.create_dataset(
            name="rules-interactions", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
        )["datasetArn"]
        clock.advance(double.seconds_until_settled(dataset))
        yield client, group


def test_the_double_refuses_a_users_dataset_without_metadata(personalize: Any) -> None:
    client, group = personalize
    bare = json.dumps({"type": "record", "name": "Users", "fields": [{"name": "USER_ID", "type": "string"}]})
    schema = client.create_schema(name="rules-users", schema=bare)["schemaArn"]
    with pytest.raises(client.exceptions.InvalidInputException, match="requires at least one metadata field"):
        client.create_dataset(name="rules-users", schemaArn=schema, datasetGroupArn=group, datasetType="Users")


def test_the_double_refuses_a_placeholder_with_not_in_and_takes_the_in_form(personalize: Any) -> None:
    client, group = personalize
    with pytest.raises(client.exceptions.InvalidInputException, match="Placeholders are not allowed with NOT_IN"):
        client.create_filter(
            name="rules-not-in",
            datasetGroupArn=group,
            filterExpression="INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ($TYPE)",
        )
    created = client.create_filter(
        name="rules-in",
        datasetGroupArn=group,
        filterExpression="EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($TYPE)",
    )
    assert created["filterArn"].endswith("filter/rules-in")
