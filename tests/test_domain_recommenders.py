"""Recommenders of a domain dataset group: the ensure steps (lambdas/poc_steps/ensure.py,
ensure_recommender.py) and the teardown level against the real boto3 client, answered by the stateful
Personalize double on a manual clock. Specs come from the ecommerce sample's plan, so names and
requests are the ones a deployment sends."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.rehearsal.poc_data import generated
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.personalize_double import FakeClock, PersonalizeDouble
from tests.test_domain import SAMPLE, plan_of

# isort: split
from poc_steps import teardown
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.ensure import ensure
from poc_steps.errors import ConfigConflict, ResourceBusy, ResourceFailed

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/r"
PLAN = plan_of(SAMPLE)
RECOMMENDERS = {r["label"]: r for r in PLAN["recommenders"]}
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


class _S3:
    """What the import step asks S3: the object's ETag (its data version)."""

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's names)
        return {"ETag": f'"{Key}"'}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The rehearsal's generated data for the sample, by object key (View and Purchase events)."""
    made = generated(PLAN, tmp_path_factory.mktemp("ecommerce"))
    return {key: path.read_bytes() for key, path in made.objects.items()}


@dataclass
class Service:
    double: PersonalizeDouble
    clock: FakeClock
    client: Any
    adapter: PersonalizeAdapter

    def settle(self) -> None:
        self.clock.advance(self.double.seconds_until_settled())

    def ready(self, kind: str, spec: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        """Poll the ensure step as the state machine does until READY."""
        for attempt in range(1, 20):
            outcome = ensure(self.adapter, kind, spec, refs, attempt)
            if outcome["state"] == "READY":
                return outcome
            self.settle()
        raise AssertionError(f"{kind} {spec['name']} never READY: {outcome}")

    def creates(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.double.calls if name == operation]


@pytest.fixture
def service(data: dict[str, bytes]) -> Iterator[Service]:
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock)
    double.read_object = lambda uri: data[uri.split("/", 3)[3]]  # type: ignore[method-assign]
    with double.installed():
        client = boto3.client("personalize", **CREDENTIALS)
        yield Service(double, clock, client, PersonalizeAdapter(client, _S3()))


def build_group(service: Service, plan: dict[str, Any] = PLAN) -> str:
    """The sample's domain dataset group, its datasets and imports, all ACTIVE; returns the group ARN."""
    group = service.ready("dataset_group", plan["datasetGroup"], {"roleArn": ROLE})["arn"]
    for dataset in plan["datasets"]:
        arn = service.ready("dataset", dataset, {"datasetGroupArn": group})["arn"]
        service.ready("import_job", dataset, {"datasetArn": arn, "roleArn": ROLE})
    return str(group)


def test_a_domain_group_and_its_schemas_are_created_with_the_domain_and_recommenders_become_active(
    service: Service,
) -> None:
    group = build_group(service)
    spec = RECOMMENDERS["recommended-for-you"]

    first = ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 1)
    service.settle()
    done = ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 2)

    assert service.creates("CreateDatasetGroup")[0]["domain"] == "ECOMMERCE"
    assert {p["name"]: p.get("domain") for p in service.creates("CreateSchema")} == {
        "ppoc-dev-shop-interactions": "ECOMMERCE",
        "ppoc-dev-shop-items": "ECOMMERCE",
        "ppoc-dev-shop-users": "ECOMMERCE",
    }
    assert service.creates("CreateRecommender") == [
        {
            "name": "ppoc-dev-shop-recommended-for-you",
            "datasetGroupArn": group,
            "recipeArn": "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
            "recommenderConfig": {"minRecommendationRequestsPerSecond": 1},
        }
    ]
    assert (first["state"], first["status"]) == ("WAITING", "CREATE PENDING")
    assert (done["state"], done["status"]) == ("READY", "ACTIVE")
    assert set(done["modelMetrics"]) >= {"coverage", "normalized_discounted_cumulative_gain_at_10"}


def test_a_changed_config_updates_the_recommender_in_place_and_a_rerun_creates_nothing(service: Service) -> None:
    group = build_group(service)
    spec = RECOMMENDERS["recommended-for-you"]
    arn = service.ready("recommender", spec, {"datasetGroupArn": group})["arn"]
    calls = len(service.double.calls)

    again = service.ready("recommender", spec, {"datasetGroupArn": group})
    unchanged = [name for name, _ in service.double.calls[calls:] if not name.startswith(("List", "Describe"))]
    changed = {**spec, "recommenderConfig": {"minRecommendationRequestsPerSecond": 2}}
    updating = ensure(service.adapter, "recommender", changed, {"datasetGroupArn": group}, 1)
    settled = service.ready("recommender", changed, {"datasetGroupArn": group})

    assert again["arn"] == arn and unchanged == []
    assert (updating["state"], updating["status"]) == ("WAITING", "UPDATE PENDING")
    assert service.creates("UpdateRecommender") == [
        {"recommenderArn": arn, "recommenderConfig": {"minRecommendationRequestsPerSecond": 2}}
    ]
    assert settled["arn"] == arn and len(service.creates("CreateRecommender")) == 1
    described = service.client.describe_recommender(recommenderArn=arn)["recommender"]
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 2
    assert described["latestRecommenderUpdate"]["status"] == "ACTIVE"


def test_a_stopped_recommender_is_started_again(service: Service) -> None:
    group = build_group(service)
    spec = RECOMMENDERS["best-sellers"]
    arn = service.ready("recommender", spec, {"datasetGroupArn": group})["arn"]
    service.client.stop_recommender(recommenderArn=arn)
    service.settle()
    assert service.double.status(arn) == "INACTIVE"

    outcome = ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 1)
    service.settle()

    assert (outcome["state"], outcome["status"]) == ("WAITING", "START PENDING")
    assert service.double.status(arn) == "ACTIVE"


def test_too_few_events_of_the_use_case_type_fail_the_recommender_with_the_service_reason(
    service: Service, data: dict[str, bytes]
) -> None:
    # No Purchase events: best-sellers needs 1000 of them ("ECOMMERCE use cases").
    rows = list(csv.reader(io.StringIO(data["imports/ecommerce/interactions.csv"].decode())))
    kept = [rows[0]] + [row for row in rows[1:] if row[3] != "Purchase"]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(kept)
    service.double.read_object = lambda uri: (  # type: ignore[method-assign]
        text.getvalue().encode() if uri.endswith("interactions.csv") else data[uri.split("/", 3)[3]]
    )
    group = build_group(service)
    spec = RECOMMENDERS["best-sellers"]

    ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 1)
    service.settle()
    with pytest.raises(ResourceFailed) as failed:
        ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 2)

    assert "recommender ppoc-dev-shop-best-sellers ended CREATE FAILED" in str(failed.value)
    assert "at least 1000 Purchase events" in str(failed.value)


def test_a_recommender_before_the_import_is_active_is_busy(service: Service) -> None:
    group = service.ready("dataset_group", PLAN["datasetGroup"], {"roleArn": ROLE})["arn"]
    dataset = service.ready("dataset", PLAN["datasets"][0], {"datasetGroupArn": group})["arn"]
    ensure(service.adapter, "import_job", PLAN["datasets"][0], {"datasetArn": dataset, "roleArn": ROLE}, 1)

    with pytest.raises(ResourceBusy):
        ensure(service.adapter, "recommender", RECOMMENDERS["best-sellers"], {"datasetGroupArn": group}, 1)


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ("arn:aws:personalize:::recipe/aws-vod-top-picks", "is a VIDEO_ON_DEMAND use case"),
        ("arn:aws:personalize:::recipe/aws-ecomm-no-such-use-case", "is not a use case of a domain"),
        ("arn:aws:personalize:::recipe/aws-user-personalization-v2", "is not a use case of a domain"),
    ],
    ids=["other domain", "unknown", "custom recipe"],
)
def test_the_double_refuses_a_recipe_that_is_not_the_groups_use_case(
    service: Service, recipe: str, message: str
) -> None:
    group = build_group(service)

    with pytest.raises(ClientError) as refused:
        service.client.create_recommender(name="ppoc-dev-shop-x", datasetGroupArn=group, recipeArn=recipe)

    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert message in refused.value.response["Error"]["Message"]


def test_the_double_refuses_recommenders_in_a_custom_group_and_a_domain_schema_without_its_fields(
    service: Service,
) -> None:
    custom = service.client.create_dataset_group(name="ppoc-dev-custom")["datasetGroupArn"]
    shop = service.client.create_dataset_group(name="ppoc-dev-shop2", domain="ECOMMERCE")["datasetGroupArn"]
    without_price = {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY_L1", "type": "string", "categorical": True},
        ],
        "version": "1.0",
    }
    schema = service.client.create_schema(name="ppoc-dev-items", schema=json.dumps(without_price), domain="ECOMMERCE")
    service.settle()

    with pytest.raises(ClientError) as custom_group:
        service.client.create_recommender(
            name="ppoc-dev-x", datasetGroupArn=custom, recipeArn=RECOMMENDERS["best-sellers"]["recipeArn"]
        )
    with pytest.raises(ClientError) as no_price:
        service.client.create_dataset(
            name="ppoc-dev-shop2-items", schemaArn=schema["schemaArn"], datasetGroupArn=shop, datasetType="Items"
        )

    assert "a Custom dataset group" in custom_group.value.response["Error"]["Message"]
    assert no_price.value.response["Error"]["Code"] == "InvalidInputException"
    assert "PRICE" in no_price.value.response["Error"]["Message"]


def test_an_existing_custom_group_of_the_same_name_is_a_config_conflict(service: Service) -> None:
    service.client.create_dataset_group(name=PLAN["datasetGroup"]["name"])
    service.settle()

    with pytest.raises(ConfigConflict, match="exists with domain \\(custom\\), the config asks for ECOMMERCE"):
        ensure(service.adapter, "dataset_group", PLAN["datasetGroup"], {"roleArn": ROLE}, 1)


def test_the_teardown_deletes_recommenders_waits_for_one_still_creating_and_then_the_group(service: Service) -> None:
    group = build_group(service)
    active = service.ready("recommender", RECOMMENDERS["best-sellers"], {"datasetGroupArn": group})["arn"]
    creating = ensure(service.adapter, "recommender", RECOMMENDERS["also-viewed"], {"datasetGroupArn": group}, 1)
    plan = {"datasetGroup": PLAN["datasetGroup"], "datasets": [{"name": d["name"]} for d in PLAN["datasets"]]}

    first = teardown.teardown_level(service.adapter, "campaigns", plan, 1, [])
    with pytest.raises(ClientError) as blocked:
        service.client.delete_dataset_group(datasetGroupArn=group)
    deleted = first["deleted"]
    for attempt in range(2, 20):
        service.settle()
        outcome = teardown.teardown_level(service.adapter, "campaigns", plan, attempt, deleted)
        deleted = outcome["deleted"]
        if outcome["state"] == "READY":
            break

    assert first["deleted"] == [active] and first["state"] == "WAITING"  # the creating one: next poll
    assert "recommenders" in blocked.value.response["Error"]["Message"]
    assert outcome["state"] == "READY" and deleted == sorted([active, creating["arn"]])
    assert service.double.arns("recommender") == []
    for level in ("trackers_and_filters", "solution_versions", "solutions", "datasets", "dataset_group", "schemas"):
        for attempt in range(1, 20):
            if teardown.teardown_level(service.adapter, level, plan, attempt, [])["state"] == "READY":
                break
            service.settle()
    assert [r.kind for r in service.double.resources() if r.kind != "dataset_import_job"] == []


def test_the_double_fails_top_picks_as_the_product_rules_it_without_watch_events(
    service: Service, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The use case table is personalize_poc/domain.py's: top-picks needs 1000 Watch events (the older
    # "VIDEO_ON_DEMAND use cases" page; stricter than the current "1000 events"), so 3000 Click events fail it.
    from tests.test_domain import VOD_ITEMS, write_vod_poc

    folder = tmp_path_factory.mktemp("vod")
    shutil.copytree(SAMPLE.parent / "schemas", folder / "schemas")
    plan = plan_of(write_vod_poc(folder, VOD_ITEMS, [{"name": "top", "use_case": "top-picks"}]))
    made = {key: path.read_bytes() for key, path in generated(plan, folder / "data").objects.items()}
    rows = list(csv.reader(io.StringIO(made["imports/i.csv"].decode())))
    at = rows[0].index("EVENT_TYPE")
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([rows[0], *([*r[:at], "Click", *r[at + 1 :]] for r in rows[1:])])
    made["imports/i.csv"] = text.getvalue().encode()
    service.double.read_object = lambda uri: made[uri.split("/", 3)[3]]  # type: ignore[method-assign]
    group = build_group(service, plan)
    spec = plan["recommenders"][0]

    ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 1)
    service.settle()
    with pytest.raises(ResourceFailed) as failed:
        ensure(service.adapter, "recommender", spec, {"datasetGroupArn": group}, 2)

    assert f"recommender {spec['name']} ended CREATE FAILED" in str(failed.value)
    assert "at least 1000 Watch events" in str(failed.value)
