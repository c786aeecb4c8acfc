"""The synthetic sample: deterministic, in Personalize's format, and shaped like real traffic."""

from __future__ import annotations

import collections
import csv
import json
import time
from pathlib import Path

import pytest

from personalize_poc.data import checks, sample
from personalize_poc.data.sample import SampleSpec, generate

FILES = (
    "interactions.csv", "items.csv", "users.csv", "users.jsonl", "interactions.avsc", "items.avsc", "users.avsc"
)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def default_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("default")
    started = time.perf_counter()
    generate(out)
    return out, time.perf_counter() - started


def test_default_sample_sizes_and_speed(default_sample: tuple[Path, float]) -> None:
    out, seconds = default_sample
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert len(read(out / "interactions.csv")) == 20_000
    assert len(read(out / "items.csv")) == 300
    assert len(read(out / "users.csv")) == 500
    assert seconds < 5  # about 0.3 s on an idle 2-core machine; generous for a busy one


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "CHUNK_EVENTS", 1_500)  # several chunks, as for big files
    spec = SampleSpec(users=80, items=60, interactions=4_000, seed=11)
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, spec)
    generate(second, spec)
    generate(other, SampleSpec(users=80, items=60, interactions=4_000, seed=12))
    for name in FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "interactions.csv").read_bytes() != (other / "interactions.csv").read_bytes()
    assert len(read(first / "interactions.csv")) == 4_000


def test_schemas_are_valid_personalize_schemas(default_sample: tuple[Path, float]) -> None:
    out, _ = default_sample
    for name in ("interactions", "items", "users"):
        schema = json.loads((out / f"{name}.avsc").read_text())
        assert schema["type"] == "record" and schema["namespace"] == checks.SCHEMA_NAMESPACE
        assert checks.check_schema(schema, name) == []
        header = next(csv.reader((out / f"{name}.csv").open()))
        assert header == [f["name"] for f in schema["fields"]]
    users = checks.schema_fields(json.loads((out / "users.avsc").read_text()))
    assert users["AGE_GROUP"] == checks.AvroType("string", nullable=True, categorical=True)
    items = checks.schema_fields(json.loads((out / "items.avsc").read_text()))
    assert items["CATEGORY_L1"].categorical and items["CATEGORY_L2"].categorical


def test_rows_pass_the_data_checks(default_sample: tuple[Path, float]) -> None:
    out, _ = default_sample
    now = 1_800_000_000
    for name in ("interactions", "items", "users"):
        schema = json.loads((out / f"{name}.avsc").read_text())
        with (out / f"{name}.csv").open(newline="") as handle:
            rows = list(csv.reader(handle))
        assert checks.check_header(rows[0], schema, name) == []
        assert checks.check_rows(rows[1:], rows[0], schema, name, now=now) == []


def test_interactions_look_like_shop_traffic(default_sample: tuple[Path, float]) -> None:
    out, _ = default_sample
    events = read(out / "interactions.csv")
    users = {r["USER_ID"] for r in read(out / "users.csv")}
    items = {r["ITEM_ID"]: r for r in read(out / "items.csv")}
    assert {e["USER_ID"] for e in events} <= users and {e["ITEM_ID"] for e in events} <= set(items)
    # funnel: view > click > purchase, each click follows a view, each purchase a click (same user+item)
    kinds = collections.Counter(e["EVENT_TYPE"] for e in events)
    assert kinds["view"] > kinds["click"] > kinds["purchase"] > 0
    first_seen: dict[tuple[str, str, str], int] = {}
    for e in events:
        key = (e["USER_ID"], e["ITEM_ID"], e["EVENT_TYPE"])
        first_seen[key] = min(first_seen.get(key, 2**62), int(e["TIMESTAMP"]))
    for (user, item, kind), ts in first_seen.items():
        before = {"click": "view", "purchase": "click"}.get(kind)
        if before:
            assert first_seen[(user, item, before)] < ts
    # values: dwell seconds for views, 1 for clicks, the item's price for purchases
    for e in events:
        if e["EVENT_TYPE"] == "click":
            assert float(e["EVENT_VALUE"]) == 1.0
        elif e["EVENT_TYPE"] == "purchase":
            assert float(e["EVENT_VALUE"]) == float(items[e["ITEM_ID"]]["PRICE"])
    # popularity skew: the top 10% of items get well over a third of the traffic
    per_item = sorted(collections.Counter(e["ITEM_ID"] for e in events).values(), reverse=True)
    assert sum(per_item[: len(items) // 10]) > 0.35 * len(events)
    # sessions over ~90 days; enough active users for Personalize
    stamps = [int(e["TIMESTAMP"]) for e in events]
    spec = SampleSpec()
    assert spec.window_start <= min(stamps) and max(stamps) <= spec.window_end
    assert max(stamps) - min(stamps) > 80 * 86_400
    per_user = collections.Counter(e["USER_ID"] for e in events)
    assert sum(n >= 2 for n in per_user.values()) > checks.POC_MIN_USERS
    assert len(set(map(tuple, (e.values() for e in events)))) == len(events)  # no exact duplicates


def test_items_and_users_attributes(default_sample: tuple[Path, float]) -> None:
    out, _ = default_sample
    items = read(out / "items.csv")
    assert {i["CATEGORY_L1"] for i in items} <= set(sample.CATEGORIES)
    assert all(i["CATEGORY_L2"] in sample.CATEGORIES[i["CATEGORY_L1"]][0] for i in items)
    assert all(float(i["PRICE"]) > 0 for i in items)
    users = read(out / "users.csv")
    assert {u["MEMBERSHIP"] for u in users} == {"free", "standard", "premium"}
    assert "" in {u["AGE_GROUP"] for u in users}  # nullable field, some users unknown


def test_spec_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="users"):
        SampleSpec(users=0)
    with pytest.raises(ValueError, match="interactions"):
        SampleSpec(interactions=-1)


def test_batch_input_lists_sample_users(default_sample: tuple[Path, float]) -> None:
    out, _ = default_sample
    users = {row["USER_ID"] for row in read(out / "users.csv")}
    lines = [json.loads(line) for line in (out / "users.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == sample.BATCH_INPUT_USERS
    assert all(set(line) == {"userId"} and line["userId"] in users for line in lines)


# --- data that fits a POC's own schemas (make rehearse without DATA) ---------------------------------
FILM_VIEWS = {
    "type": "record", "name": "Views", "namespace": checks.SCHEMA_NAMESPACE,
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "int"},
        {"name": "EVENT_VALUE", "type": "long"},
        {"name": "IMPRESSION", "type": ["null", "string"]},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
        {"name": "ON_SALE", "type": "boolean"},
    ],
}


def test_fitting_data_follows_the_schema_and_is_deterministic(tmp_path: Path) -> None:
    schemas = {"interactions": FILM_VIEWS, "users": sample.SCHEMAS["users"]}
    first = sample.generate_fitting(tmp_path / "a", schemas, values={"interactions.DEVICE": ["tv"]})
    again = sample.generate_fitting(tmp_path / "b", schemas, values={"interactions.DEVICE": ["tv"]})
    other = sample.generate_fitting(tmp_path / "c", schemas, spec=SampleSpec(users=120, items=100,
                                    interactions=3_000, seed=7))

    for kind, schema in schemas.items():
        assert first.files[kind].read_bytes() == again.files[kind].read_bytes()
        rows = list(csv.reader(first.files[kind].open(newline="")))
        assert rows[0] == [f["name"] for f in schema["fields"]]
        assert checks.check_rows(rows[1:], rows[0], schema, kind, now=1_800_000_000) == []
    assert first.files["interactions"].read_bytes() != other.files["interactions"].read_bytes()
    events = read(first.files["interactions"])
    assert len(events) == sample.FIT_SPEC.interactions
    # no EVENT_TYPE column: user, item and second alone keep the rows apart
    assert len({(e["USER_ID"], e["ITEM_ID"], e["TIMESTAMP"]) for e in events}) == len(events)
    assert "tv" in {e["DEVICE"] for e in events} and "" in {e["DEVICE"] for e in events}  # named; nullable
    assert {e["ON_SALE"] for e in events} == {"true", "false"}
    assert {u["MEMBERSHIP"] for u in read(first.files["users"])} == {"free", "standard", "premium"}  # the sample's


def test_trained_event_type_gets_enough_interactions(tmp_path: Path) -> None:
    fitted = sample.generate_fitting(tmp_path, {"interactions": sample.SCHEMAS["interactions"]},
                                     values={"interactions.EVENT_TYPE": ["purchase"]},
                                     trained_event_types=["click"])
    kinds = collections.Counter(e["EVENT_TYPE"] for e in read(fitted.files["interactions"]))
    assert fitted.event_types == ("click", "view", "purchase")
    assert kinds["click"] >= checks.MIN_INTERACTIONS and kinds["purchase"] > 0


def test_batch_input_lines_per_recipe_form() -> None:
    users, items = sample.sample_ids()
    assert sample.batch_input_lines("userId", users, items)[0] == {"userId": users[0]}
    assert sample.batch_input_lines("itemId", users, items)[0] == {"itemId": items[0]}
    ranked = sample.batch_input_lines("userId+itemList", users, items)
    assert len(ranked) == min(sample.BATCH_INPUT_USERS, len(users))
    assert all(len(set(line["itemList"])) == sample.RANKING_LIST_LENGTH for line in ranked)
    with pytest.raises(ValueError, match="itemList"):
        sample.batch_input_lines("sessionId", users, items)
