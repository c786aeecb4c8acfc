"""Domain dataset groups at synth time (issue 13 item 1): the ecommerce sample loads and plans as the
workflow needs it; a bad domain schema, an unknown or foreign use case, options a use case does not take
and a custom group with recommenders each fail as one line naming the field. No synthesis here."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from personalize_poc.domain import event_needs
from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import PocConfigError, load_poc_definition
from personalize_poc.settings import PROJECT_ROOT

SAMPLE = PROJECT_ROOT / "config" / "poc-ecommerce.yaml"
ROLE = "arn:aws:iam::123456789012:role/r"


def plan_of(path: Path, prefix: str = "ppoc-dev") -> dict[str, Any]:
    poc = load_poc_definition(path, prefix)
    return build_plan(poc, config_dir=path.parent, name_prefix=prefix, bucket_name="b", role_arn=ROLE, kms_key_arn=None)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the ecommerce sample and its schemas to change."""
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", tmp_path / "schemas")
    shutil.copy(SAMPLE, tmp_path / "poc.yaml")
    return tmp_path


def change(folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    path = folder / "poc.yaml"
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw))
    return path


def change_schema(folder: Path, name: str, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    path = folder / "schemas" / name
    schema = json.loads(path.read_text())
    edit(schema["fields"])
    path.write_text(json.dumps(schema))


def test_the_ecommerce_sample_plans_recommenders_with_their_use_case_recipes() -> None:
    plan = plan_of(SAMPLE)

    assert plan["datasetGroup"]["domain"] == "ECOMMERCE"
    assert {d["type"]: d["domain"] for d in plan["datasets"]} == {
        "interactions": "ECOMMERCE",
        "items": "ECOMMERCE",
        "users": "ECOMMERCE",
    }
    assert [(r["name"], r["recipeArn"], r["recommenderConfig"]) for r in plan["recommenders"]] == [
        (
            "ppoc-dev-shop-recommended-for-you",
            "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
            {"minRecommendationRequestsPerSecond": 1},
        ),
        (
            "ppoc-dev-shop-also-viewed",
            "arn:aws:personalize:::recipe/aws-ecomm-customers-who-viewed-x-also-viewed",
            {"minRecommendationRequestsPerSecond": 1},
        ),
        (
            "ppoc-dev-shop-best-sellers",
            "arn:aws:personalize:::recipe/aws-ecomm-popular-items-by-purchases",
            {"minRecommendationRequestsPerSecond": 1},
        ),
    ]
    assert plan["solutions"] == []


def test_a_custom_plan_is_as_before_without_domain_or_recommenders() -> None:
    plan = plan_of(PROJECT_ROOT / "config" / "poc.yaml")

    assert "domain" not in plan["datasetGroup"] and "recommenders" not in plan
    assert all("domain" not in d for d in plan["datasets"])


def test_recommender_options_become_the_recommender_config(sample: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["recommenders"][0].update(
            min_recommendation_requests_per_second=3,
            config={
                "item_exploration_weight": 0.5,
                "enable_metadata_with_recommendations": True,
                "training_columns": {"excluded": {"items": ["GENDER"]}},
            },
        )

    plan = plan_of(change(sample, edit))

    assert plan["recommenders"][0]["recommenderConfig"] == {
        "minRecommendationRequestsPerSecond": 3,
        "itemExplorationConfig": {"explorationWeight": "0.5"},
        "enableMetadataWithRecommendations": True,
        "trainingDataConfig": {"excludedDatasetColumns": {"Items": ["GENDER"]}},
    }


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "items schema without PRICE": (
        lambda f: change_schema(f, "ecommerce-items.avsc", lambda fields: fields.pop(1)),
        "field 'datasets.items.schema_file': ECOMMERCE items schemas need the field PRICE (float)",
    ),
    "CATEGORY_L1 not categorical": (
        lambda f: change_schema(f, "ecommerce-items.avsc", lambda fields: fields[2].pop("categorical")),
        "field 'datasets.items.schema_file': field CATEGORY_L1: in ECOMMERCE schemas this field must be categorical",
    ),
    "interactions without EVENT_TYPE": (
        lambda f: change_schema(f, "ecommerce-interactions.avsc", lambda fields: fields.pop(3)),
        "field 'datasets.interactions.schema_file': ECOMMERCE interactions schemas need the field EVENT_TYPE (string)",
    ),
    "reserved GENDER not categorical": (
        lambda f: change_schema(f, "ecommerce-items.avsc", lambda fields: fields[4].pop("categorical")),
        "field 'datasets.items.schema_file': field GENDER: in ECOMMERCE schemas this field must be categorical",
    ),
    "unknown use case": (
        lambda f: change(f, lambda raw: raw["recommenders"][1].update(use_case="people-also-bought")),
        "field 'recommenders[1].use_case': unknown use case 'people-also-bought'",
    ),
    "a VIDEO_ON_DEMAND use case in ECOMMERCE": (
        lambda f: change(f, lambda raw: raw["recommenders"][0].update(use_case="top-picks")),
        "field 'recommenders[0].use_case': 'top-picks' is not a ECOMMERCE use case",
    ),
    "recommenders in a custom dataset group": (
        lambda f: change(f, lambda raw: raw["dataset_group"].pop("domain")),
        "field 'recommenders': recommenders need a domain dataset group",
    ),
    "unknown domain": (
        lambda f: change(f, lambda raw: raw["dataset_group"].update(domain="RETAIL")),
        "field 'dataset_group.domain': Input should be 'ECOMMERCE' or 'VIDEO_ON_DEMAND'",
    ),
    "item exploration on a popularity use case": (
        lambda f: change(f, lambda raw: raw["recommenders"][2].update(config={"item_exploration_weight": 0.3})),
        "field 'recommenders[2].config.item_exploration_weight': item exploration is only for use cases",
    ),
    "a training column the schema lacks": (
        lambda f: change(
            f, lambda raw: raw["recommenders"][0].update(config={"training_columns": {"excluded": {"items": ["SIZE"]}}})
        ),
        "field 'recommenders[0].config.training_columns.excluded.items': SIZE not in the items schema",
    ),
    "requests per second below the minimum": (
        lambda f: change(f, lambda raw: raw["recommenders"][0].update(min_recommendation_requests_per_second=0)),
        "field 'recommenders[0].min_recommendation_requests_per_second': Input should be greater than or equal to 1",
    ),
    "a name too long with the prefix and group": (
        lambda f: change(f, lambda raw: raw["recommenders"][0].update(name="r" * 60)),
        "field 'recommenders[0].name': 'ppoc-dev-shop-rrrr",
    ),
    "two recommenders with one name": (
        lambda f: change(f, lambda raw: raw["recommenders"][1].update(name="best-sellers")),
        "field 'recommenders[2].name': 'best-sellers' is used twice",
    ),
    "no solution and no recommender": (
        lambda f: change(f, lambda raw: raw.update(recommenders=[])),
        "field 'solutions': at least 1 solution is required",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_domain_definition_fails_at_synth_naming_the_field(sample: Path, case: str) -> None:
    breaks, expected = CASES[case]
    breaks(sample)

    with pytest.raises(PocConfigError) as raised:
        load_poc_definition(sample / "poc.yaml", "ppoc-dev")

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{sample / 'poc.yaml'}: {expected}"), message


def test_custom_solutions_may_join_recommenders_in_a_domain_group(sample: Path) -> None:
    def edit(raw: dict[str, Any]) -> None:
        raw["solutions"] = [{"name": "sims", "recipe": "aws-sims"}]
        raw["campaigns"] = [{"name": "sims", "solution": "sims"}]

    plan = plan_of(change(sample, edit))

    assert [s["name"] for s in plan["solutions"]] == ["ppoc-dev-shop-sims"]
    assert len(plan["recommenders"]) == 3


VOD_ITEMS = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def write_vod_poc(folder: Path, items: dict[str, Any] | None, recommenders: list[dict[str, str]]) -> Path:
    """A VIDEO_ON_DEMAND definition with these recommenders, with an items dataset or without one."""
    datasets: dict[str, Any] = {
        "interactions": {"schema_file": "schemas/ecommerce-interactions.avsc", "data_key": "i.csv"}
    }
    if items is not None:
        (folder / "vod-items.avsc").write_text(json.dumps(items))
        datasets["items"] = {"schema_file": "vod-items.avsc", "data_key": "items.csv"}
    raw = {
        "dataset_group": {"name": "films", "domain": "VIDEO_ON_DEMAND"},
        "datasets": datasets,
        "recommenders": recommenders,
    }
    (folder / "poc.yaml").write_text(yaml.safe_dump(raw))
    return folder / "poc.yaml"


VOD_RECOMMENDERS = [{"name": "more-like", "use_case": "more-like-x"}, {"name": "top", "use_case": "top-picks"}]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (VOD_ITEMS, None),
        (
            None,
            "field 'recommenders[0].use_case': recommender 'more-like' (more-like-x) trains on an items dataset, "
            "which the config does not define (datasets.items; "
            "https://docs.aws.amazon.com/personalize/latest/dg/VIDEO_ON_DEMAND-use-cases.html)",
        ),
        (
            {
                **VOD_ITEMS,
                "fields": [*VOD_ITEMS["fields"][:1], *VOD_ITEMS["fields"][2:], {"name": "PRICE", "type": "float"}],
            },
            "field 'datasets.items.schema_file': VIDEO_ON_DEMAND items schemas need the field GENRES",
        ),
    ],
    ids=["fits", "no items dataset", "items without GENRES"],
)
def test_a_video_on_demand_group_checks_its_own_use_cases_and_schemas(
    sample: Path, items: dict[str, Any] | None, expected: str | None
) -> None:
    path = write_vod_poc(sample, items, VOD_RECOMMENDERS)

    if expected is None:
        plan = plan_of(path)
        assert [r["recipeArn"] for r in plan["recommenders"]] == [
            "arn:aws:personalize:::recipe/aws-vod-more-like-x",
            "arn:aws:personalize:::recipe/aws-vod-top-picks",
        ]
        return
    with pytest.raises(PocConfigError) as raised:
        load_poc_definition(path, "ppoc-dev")
    assert str(raised.value).startswith(f"{path}: {expected}"), str(raised.value)


def test_top_picks_without_an_items_dataset_fails_at_synth_naming_the_recommender_and_the_dataset(
    sample: Path,
) -> None:
    # The older "VIDEO_ON_DEMAND use cases" page requires "Interactions dataset and Items dataset" for Top
    # picks for you; the current one calls items optional: the stricter rule holds.
    path = write_vod_poc(
        sample, None, [{"name": "popular", "use_case": "trending-now"}, {"name": "top", "use_case": "top-picks"}]
    )

    with pytest.raises(PocConfigError) as raised:
        load_poc_definition(path, "ppoc-dev")

    assert str(raised.value).startswith(
        f"{path}: field 'recommenders[1].use_case': recommender 'top' (top-picks) trains on an items dataset, "
        "which the config does not define"
    ), str(raised.value)


def test_trending_now_needs_only_interactions_of_any_event_type(sample: Path) -> None:
    # Current "VIDEO_ON_DEMAND use cases" page, Trending now: "Only Item interactions dataset (required)",
    # "At minimum, 1000 events of any type" (the older page has no Trending now).
    path = write_vod_poc(sample, None, [{"name": "popular", "use_case": "trending-now"}])
    poc = load_poc_definition(path, "ppoc-dev")

    assert [r["recipeArn"] for r in plan_of(path)["recommenders"]] == [
        "arn:aws:personalize:::recipe/aws-vod-trending-now"
    ]
    assert event_needs(poc.dataset_group.domain, poc.recommenders) == []


def test_each_recommender_needs_1000_events_of_its_use_cases_type_where_the_guide_names_one(sample: Path) -> None:
    ecommerce = load_poc_definition(SAMPLE, "ppoc-dev")
    vod = load_poc_definition(
        write_vod_poc(sample, VOD_ITEMS, [*VOD_RECOMMENDERS, {"name": "trending", "use_case": "trending-now"}]),
        "ppoc-dev",
    )

    assert [
        (n.recommender, n.use_case, n.event_type, n.minimum)
        for n in event_needs(ecommerce.dataset_group.domain, ecommerce.recommenders)
    ] == [
        ("recommended-for-you", "recommended-for-you", "View", 1000),
        ("also-viewed", "customers-who-viewed-x-also-viewed", "View", 1000),
        ("best-sellers", "best-sellers", "Purchase", 1000),
    ]
    # more-like-x and top-picks: the older page's "1000 Watch events" over the current "1000 events".
    assert [(n.recommender, n.event_type) for n in event_needs(vod.dataset_group.domain, vod.recommenders)] == [
        ("more-like", "Watch"),
        ("top", "Watch"),
    ]
    custom = load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", "ppoc-dev")
    assert event_needs(custom.dataset_group.domain, custom.recommenders) == []
