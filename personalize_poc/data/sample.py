"""Deterministic synthetic retail data in Amazon Personalize's bulk CSV format.

Same arguments and seed give byte-identical files. The shape is meant to look like real shop traffic:

* items: 8 top-level categories with sub-categories, category-dependent log-normal prices, creation
  dates in the two years before the interaction window;
* item popularity follows a Zipf-like law (a few items get most of the traffic), and each user has a
  favourite category that most of their browsing goes to;
* users have skewed activity (log-normal) and browse in sessions spread over ~90 days, busier in the
  evening and at weekends; events in a session are seconds to minutes apart;
* event types form a funnel: every ``click`` follows a ``view`` of the same item by the same user and
  every ``purchase`` follows a ``click``. EVENT_VALUE is the dwell time in seconds for views, 1 for
  clicks and the item's price for purchases.

Interactions are generated and written in chunks with vectorised numpy and Arrow's CSV writer, so 25
million rows take about a minute and a few hundred MB. Within a chunk rows are in time order; chunks each
cover the whole window (Personalize does not need the file sorted).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from personalize_poc.data.checks import SCHEMA_NAMESPACE

DEFAULT_USERS = 500
DEFAULT_ITEMS = 300
DEFAULT_INTERACTIONS = 20_000
DEFAULT_SEED = 42
DEFAULT_END = dt.date(2026, 10, 1)  # fixed, so that output does not depend on today's date
WINDOW_DAYS = 90
CHUNK_EVENTS = 1_000_000
# Users in the sample batch inference input (users.jsonl).
BATCH_INPUT_USERS = 200

CATEGORIES: dict[str, tuple[tuple[str, ...], float, float]] = {
    # L1: (L2 values, popularity weight, median price)
    "electronics": (("phones", "laptops", "audio", "cameras", "accessories"), 1.6, 120.0),
    "home": (("kitchen", "furniture", "decor", "bedding"), 1.2, 45.0),
    "fashion": (("women", "men", "shoes", "bags", "kids"), 1.8, 35.0),
    "beauty": (("skincare", "makeup", "fragrance"), 0.9, 22.0),
    "sports": (("fitness", "outdoor", "cycling", "team-sports"), 0.8, 40.0),
    "toys": (("games", "puzzles", "plush"), 0.6, 18.0),
    "books": (("fiction", "non-fiction", "children", "comics"), 0.9, 14.0),
    "grocery": (("snacks", "beverages", "pantry"), 0.7, 6.0),
}
MEMBERSHIPS = (("free", 0.62), ("standard", 0.28), ("premium", 0.10))
AGE_GROUPS = (("18-24", 0.16), ("25-34", 0.27), ("35-44", 0.22), ("45-54", 0.15), ("55-64", 0.10),
              ("65+", 0.05))
AGE_GROUP_UNKNOWN = 0.05  # share of users with no AGE_GROUP (the field is nullable)
CLICK_SHARE = 0.18
PURCHASE_SHARE = 0.04
FAVOURITE_CATEGORY_SHARE = 0.65
ZIPF_EXPONENT = 1.05
HOUR_WEIGHTS = np.array([2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 7, 8, 10, 12, 12, 10, 7, 4],
                        dtype=float)

SCHEMAS: dict[str, dict] = {
    "interactions": {
        "type": "record", "name": "Interactions", "namespace": SCHEMA_NAMESPACE,
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "EVENT_VALUE", "type": ["null", "float"]},
        ],
        "version": "1.0",
    },
    "items": {
        "type": "record", "name": "Items", "namespace": SCHEMA_NAMESPACE,
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "CATEGORY_L1", "type": "string", "categorical": True},
            {"name": "CATEGORY_L2", "type": "string", "categorical": True},
            {"name": "PRICE", "type": "float"},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    },
    "users": {
        "type": "record", "name": "Users", "namespace": SCHEMA_NAMESPACE,
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "MEMBERSHIP", "type": "string", "categorical": True},
            {"name": "AGE_GROUP", "type": ["null", "string"], "categorical": True},
        ],
        "version": "1.0",
    },
}


@dataclass(frozen=True)
class SampleSpec:
    users: int = DEFAULT_USERS
    items: int = DEFAULT_ITEMS
    interactions: int = DEFAULT_INTERACTIONS
    seed: int = DEFAULT_SEED
    end: dt.date = DEFAULT_END

    def __post_init__(self) -> None:
        for name in ("users", "items"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1")
        if self.interactions < 0:
            raise ValueError("--interactions must not be negative")
        if self.seed < 0:
            raise ValueError("--seed must not be negative")

    @property
    def window_end(self) -> int:
        return int(dt.datetime.combine(self.end, dt.time(), tzinfo=dt.UTC).timestamp())

    @property
    def window_start(self) -> int:
        return self.window_end - WINDOW_DAYS * 86_400


@dataclass(frozen=True)
class _Catalogue:
    ids: pa.Array  # strings
    category: np.ndarray  # int index into CATEGORIES
    price: np.ndarray  # float64, 2 decimals
    # sampling helpers: items ordered by category, cumulative in-category popularity offset by category
    by_category: np.ndarray
    category_cdf: np.ndarray
    global_cdf: np.ndarray
    category_weights: np.ndarray


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _ids(prefix: str, count: int) -> pa.Array:
    width = max(5, len(str(count)))
    return pa.array([f"{prefix}{number:0{width}d}" for number in range(1, count + 1)], pa.string())


def _pick(rng: np.random.Generator, choices: tuple[tuple[str, float], ...], size: int) -> np.ndarray:
    labels = np.array([c[0] for c in choices])
    weights = np.array([c[1] for c in choices])
    return labels[rng.choice(len(labels), size=size, p=weights / weights.sum())]


def _catalogue(spec: SampleSpec) -> tuple[_Catalogue, pa.Table]:
    rng = _rng(spec.seed, 1)
    names = list(CATEGORIES)
    weights = np.array([CATEGORIES[n][1] for n in names])
    weights = weights / weights.sum()
    category = rng.choice(len(names), size=spec.items, p=weights)
    l2_names = [CATEGORIES[n][0] for n in names]
    l2_count = np.array([len(values) for values in l2_names])
    l2_offset = np.concatenate([[0], np.cumsum(l2_count)[:-1]])
    l2_flat = np.array([value for values in l2_names for value in values])
    l2 = l2_flat[l2_offset[category] + (rng.random(spec.items) * l2_count[category]).astype(np.int64)]
    median = np.array([CATEGORIES[n][2] for n in names])[category]
    price = np.round(np.maximum(0.5, median * rng.lognormal(0.0, 0.6, spec.items)), 2)
    created = spec.window_start - rng.integers(3_600, 730 * 86_400, spec.items)
    # Zipf-like popularity over a random ranking of the items.
    popularity = 1.0 / np.power(rng.permutation(spec.items) + 1.0, ZIPF_EXPONENT)
    global_cdf = np.cumsum(popularity / popularity.sum())
    by_category = np.argsort(category, kind="stable")
    sorted_cat = category[by_category]
    sorted_pop = popularity[by_category]
    category_cdf = np.empty(spec.items)
    present = np.zeros(len(names))
    for c in range(len(names)):
        mask = sorted_cat == c
        if mask.any():
            present[c] = weights[c]
            category_cdf[mask] = c + np.cumsum(sorted_pop[mask] / sorted_pop[mask].sum())
    ids = _ids("item_", spec.items)
    table = pa.table({
        "ITEM_ID": ids,
        "CATEGORY_L1": np.array(names)[category],
        "CATEGORY_L2": l2.astype(str),
        "PRICE": price,
        "CREATION_TIMESTAMP": created.astype(np.int64),
    })
    cat = _Catalogue(ids, category, price, by_category, category_cdf, global_cdf, present / present.sum())
    return cat, table


def _users(spec: SampleSpec, catalogue: _Catalogue) -> tuple[pa.Array, np.ndarray, np.ndarray, pa.Table]:
    rng = _rng(spec.seed, 2)
    ids = _ids("user_", spec.users)
    membership = _pick(rng, MEMBERSHIPS, spec.users)
    age = _pick(rng, AGE_GROUPS, spec.users)
    age = np.where(rng.random(spec.users) < AGE_GROUP_UNKNOWN, "", age)
    activity = rng.lognormal(0.0, 1.1, spec.users)
    activity_cdf = np.cumsum(activity / activity.sum())
    favourite = rng.choice(len(CATEGORIES), size=spec.users, p=catalogue.category_weights)
    table = pa.table({"USER_ID": ids, "MEMBERSHIP": membership, "AGE_GROUP": age})
    return ids, activity_cdf, favourite, table


def _search(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _separate_repeats(user: np.ndarray, item: np.ndarray, kind: np.ndarray, ts: np.ndarray,
                      n_items: int) -> None:
    """Move events a second later until no two share user, item, type and second (in place).

    A user who views an item twice in a session can otherwise click it twice in the same second,
    which would be an exact duplicate row.
    """
    key = (user.astype(np.int64) * n_items + item) * 3 + kind
    for _ in range(50):
        order = np.lexsort((ts, key))
        same = (key[order][1:] == key[order][:-1]) & (ts[order][1:] == ts[order][:-1])
        if not same.any():
            return
        ts[order[1:][same]] += 1


@dataclass(frozen=True)
class _Events:
    """Interactions as index arrays, in time order: user/item index, epoch seconds, funnel level
    (0 view, 1 click, 2 purchase) and the event value."""

    user: np.ndarray
    item: np.ndarray
    ts: np.ndarray
    kind: np.ndarray
    value: np.ndarray


def _interaction_chunk(spec: SampleSpec, index: int, size: int, catalogue: _Catalogue, user_ids: pa.Array,
                       activity_cdf: np.ndarray, favourite: np.ndarray) -> pa.Table:
    events = _interaction_events(spec, index, size, catalogue, activity_cdf, favourite)
    return pa.table({
        "USER_ID": user_ids.take(events.user),
        "ITEM_ID": catalogue.ids.take(events.item),
        "TIMESTAMP": pa.array(events.ts),
        "EVENT_TYPE": pa.DictionaryArray.from_arrays(
            pa.array(events.kind), pa.array(["view", "click", "purchase"])).cast(pa.string()),
        "EVENT_VALUE": pa.array(events.value),
    })


def _interaction_events(spec: SampleSpec, index: int, size: int, catalogue: _Catalogue,
                        activity_cdf: np.ndarray, favourite: np.ndarray) -> _Events:
    rng = _rng(spec.seed, 3, index)
    n_purchase = int(round(size * PURCHASE_SHARE))
    n_click = int(round(size * CLICK_SHARE))
    n_view = size - n_click - n_purchase
    # Sessions of views: geometric lengths (mean ~6), each with one user and a start time.
    lengths = rng.geometric(1 / 6, size=n_view // 3 + 8)
    while lengths.sum() < n_view:
        lengths = np.concatenate([lengths, rng.geometric(1 / 6, size=n_view // 3 + 8)])
    ends = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(ends, n_view) + 1)
    lengths = lengths[:n_sessions].copy()
    lengths[-1] -= ends[n_sessions - 1] - n_view
    session_user = _search(activity_cdf, rng.random(n_sessions))
    first_weekday = dt.datetime.fromtimestamp(spec.window_start, dt.UTC).weekday()
    day_weights = np.where((first_weekday + np.arange(WINDOW_DAYS)) % 7 >= 5, 1.3, 1.0)
    day = rng.choice(WINDOW_DAYS, size=n_sessions, p=day_weights / day_weights.sum())
    hour = rng.choice(24, size=n_sessions, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    session_start = spec.window_start + day * 86_400 + hour * 3_600 + rng.integers(0, 3_600, n_sessions)
    session_start = np.minimum(session_start, spec.window_end - 4 * 3_600)
    # Views: time steps inside the session, items from the favourite category or the global popularity.
    view_session = np.repeat(np.arange(n_sessions), lengths)
    gaps = np.ceil(rng.exponential(45.0, n_view)).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cumulative = np.cumsum(gaps)
    offset = cumulative - (cumulative[first] - gaps[first])[view_session]
    view_ts = session_start[view_session] + offset
    view_user = session_user[view_session]
    from_favourite = rng.random(n_view) < FAVOURITE_CATEGORY_SHARE
    fav = favourite[view_user]
    in_category = catalogue.by_category[_search(catalogue.category_cdf, fav + rng.random(n_view))]
    overall = _search(catalogue.global_cdf, rng.random(n_view))
    view_item = np.where(from_favourite, in_category, overall)
    dwell = np.round(np.minimum(rng.lognormal(3.0, 0.9, n_view), 1_800.0), 1)
    # Funnel: clicks are a subset of views, purchases a subset of clicks, each a little later.
    clicked = np.sort(rng.choice(n_view, size=min(n_click, n_view), replace=False)) if n_view else \
        np.array([], dtype=np.int64)
    click_ts = view_ts[clicked] + 1 + np.ceil(rng.exponential(12.0, len(clicked))).astype(np.int64)
    bought = np.sort(rng.choice(len(clicked), size=min(n_purchase, len(clicked)), replace=False)) \
        if len(clicked) else np.array([], dtype=np.int64)
    purchase_ts = click_ts[bought] + 5 + np.ceil(rng.exponential(90.0, len(bought))).astype(np.int64)
    purchase_item = view_item[clicked][bought]
    user = np.concatenate([view_user, view_user[clicked], view_user[clicked][bought]])
    item = np.concatenate([view_item, view_item[clicked], purchase_item])
    ts = np.concatenate([view_ts, click_ts, purchase_ts]).astype(np.int64)
    kind = np.concatenate([np.zeros(n_view, np.int8), np.ones(len(clicked), np.int8),
                           np.full(len(bought), 2, np.int8)])
    value = np.concatenate([dwell, np.ones(len(clicked)), catalogue.price[purchase_item]])
    _separate_repeats(user, item, kind, ts, n_items=len(catalogue.ids))
    order = np.lexsort((kind, user, ts))
    return _Events(user[order], item[order], ts[order], kind[order], value[order])


def _write_csv(table: pa.Table, handle, header: bool) -> None:
    if header:
        handle.write((",".join(table.column_names) + "\n").encode())
    pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                      batch_size=65_536))


def write_schemas(out: Path) -> list[Path]:
    paths = []
    for name, schema in SCHEMAS.items():
        path = out / f"{name}.avsc"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_batch_input(path: Path, users_table: pa.Table, count: int = BATCH_INPUT_USERS) -> Path:
    """Input of the sample config's batch inference job (User-Personalization): one {"userId": ...} per line."""
    ids = users_table.column("USER_ID").to_pylist()[:count]
    path.write_text("".join(json.dumps({"userId": user_id}) + "\n" for user_id in ids), encoding="utf-8")
    return path


def generate(out: Path, spec: SampleSpec = SampleSpec(), *, only: tuple[str, ...] = ("users", "items",
             "interactions"), progress: Callable[[int], None] | None = None) -> list[Path]:
    """Write the CSV files (those in ``only``) and the three schemas into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    catalogue, items_table = _catalogue(spec)
    user_ids, activity_cdf, favourite, users_table = _users(spec, catalogue)
    written = []
    for name, table in (("users", users_table), ("items", items_table)):
        if name in only:
            path = out / f"{name}.csv"
            with path.open("wb") as handle:
                _write_csv(table, handle, header=True)
            written.append(path)
            if name == "users":
                written.append(write_batch_input(out / "users.jsonl", table))
    if "interactions" in only:
        path = out / "interactions.csv"
        tmp = path.with_suffix(".csv.partial")
        with tmp.open("wb") as handle:
            handle.write(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n")
            for index, start in enumerate(range(0, spec.interactions, CHUNK_EVENTS)):
                size = min(CHUNK_EVENTS, spec.interactions - start)
                chunk = _interaction_chunk(spec, index, size, catalogue, user_ids, activity_cdf, favourite)
                _write_csv(chunk, handle, header=False)
                if progress:
                    progress(size)
        tmp.replace(path)
        written.append(path)
    written.extend(write_schemas(out))
    return written


# --------------------------------------------------------------------------------------------------
# Data that fits a POC's own schemas (make rehearse of the user's definition, without their data)
# --------------------------------------------------------------------------------------------------
#: Big enough for the service's minimums (1000 interactions; 25 users with 2+ interactions) and the POC
#: guide's advice (more than 50 users, 50 items, 1500 interactions), small enough to make in a blink.
FIT_SPEC = SampleSpec(users=120, items=100, interactions=3_000)
#: The funnel's levels when the POC names no event types of its own (share of rows: ~78%, 18%, 4%).
DEFAULT_EVENT_TYPES = ("view", "click", "purchase")
FUNNEL_SHARES = (1 - CLICK_SHARE - PURCHASE_SHARE, CLICK_SHARE, PURCHASE_SHARE)
#: Personalize trains on at least 1000 interactions after filtering by the solution's event type
#: (developer guide, "Amazon Personalize data requirements"); a margin on top of it.
MIN_TRAINING_INTERACTIONS = 1_100
NULL_SHARE = 0.05  # of a nullable field that is not reserved
RANKING_LIST_LENGTH = 25  # items per user in a Personalized-Ranking batch input line
VOCABULARY_SIZE = 6  # generated values of a categorical field (besides those the POC names)
WORDS = ("soft", "classic", "bright", "compact", "durable", "light", "premium", "everyday", "smart",
         "vintage", "organic", "travel", "family", "outdoor", "quick", "gift")
#: Columns of the sample's own tables that a POC schema may reuse by name (string or numeric fields).
SAMPLE_COLUMNS = {"items": ("CATEGORY_L1", "CATEGORY_L2", "PRICE", "CREATION_TIMESTAMP"),
                  "users": ("MEMBERSHIP", "AGE_GROUP")}


@dataclass(frozen=True)
class FittedData:
    """What ``generate_fitting`` wrote: one CSV per dataset type and the row counts."""

    files: dict[str, Path]
    rows: dict[str, int]
    event_types: tuple[str, ...]


def event_type_names(named: Sequence[str], trained: Sequence[str] = ()) -> tuple[str, ...]:
    """The funnel's three level names, busiest first: event types solutions train on, then the defaults
    (view, click, purchase), the last of them not named anywhere giving way to other names ``named``
    (by the POC's filters) holds."""
    names = list(dict.fromkeys([*trained, *DEFAULT_EVENT_TYPES]))[:3]
    spare = [i for i, name in enumerate(names) if name not in trained and name not in named]
    extra = list(dict.fromkeys(n for n in named if n not in names))[: len(spare)]
    for slot, name in zip(spare[len(spare) - len(extra) :], extra, strict=True):
        names[slot] = name
    return tuple(names)


def fitting_spec(event_types: Sequence[str], trained: Sequence[str], spec: SampleSpec = FIT_SPEC) -> SampleSpec:
    """``spec`` with enough interactions that each event type a solution trains on has the minimum."""
    needed = spec.interactions
    for name in trained:
        if name in event_types:
            share = FUNNEL_SHARES[event_types.index(name)]
            needed = max(needed, int(np.ceil(MIN_TRAINING_INTERACTIONS / share)))
    return dataclasses.replace(spec, interactions=needed)


def generate_fitting(out: Path, schemas: Mapping[str, Mapping[str, Any]], *, spec: SampleSpec = FIT_SPEC,
                     values: Mapping[str, Sequence[str]] | None = None, trained_event_types: Sequence[str] = (),
                     names: Mapping[str, str] | None = None) -> FittedData:
    """Write a CSV per dataset type in ``schemas`` (Avro schemas as dicts) whose header and values fit
    that schema: the reserved fields as Personalize reads them, fields named like the sample's from its
    tables, any other field generated from its type. ``values`` gives values a field must use
    (``"interactions.EVENT_TYPE"``, ``"items.GENRE"`` -> values the POC's filters or solutions name);
    ``names`` the file name per dataset type (default ``<type>.csv``). Same arguments, same bytes."""
    values = dict(values or {})
    event_types = event_type_names(values.pop("interactions.EVENT_TYPE", ()), trained_event_types)
    spec = fitting_spec(event_types, trained_event_types, spec)
    catalogue, items_table = _catalogue(spec)
    user_ids, activity_cdf, favourite, users_table = _users(spec, catalogue)
    known: dict[str, dict[str, pa.Array]] = {
        "items": {name: items_table.column(name).combine_chunks() for name in items_table.column_names},
        "users": {name: users_table.column(name).combine_chunks() for name in users_table.column_names},
    }
    if "interactions" in schemas:
        events = _interaction_events(spec, 0, spec.interactions, catalogue, activity_cdf, favourite)
        with_types = any(f.get("name") == "EVENT_TYPE" for f in schemas["interactions"].get("fields", []))
        if not with_types:  # rows then differ only by time: keep user, item and second unique
            events = _without_types(events, len(catalogue.ids))
        known["interactions"] = _interaction_columns(events, catalogue, user_ids, event_types)
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    out.mkdir(parents=True, exist_ok=True)
    for dataset, schema in schemas.items():
        count = len(next(iter(known[dataset].values())))
        table = _fit_table(dataset, schema, known[dataset], count, spec, values, catalogue)
        path = out / (names or {}).get(dataset, f"{dataset}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write((",".join(table.column_names) + "\n").encode())
            pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        files[dataset], rows[dataset] = path, table.num_rows
    return FittedData(files, rows, event_types)


def _without_types(events: _Events, n_items: int) -> _Events:
    kind = np.zeros(len(events.ts), np.int8)
    ts = events.ts.copy()
    _separate_repeats(events.user, events.item, kind, ts, n_items=n_items)
    order = np.lexsort((events.user, ts))
    return _Events(events.user[order], events.item[order], ts[order], events.kind[order], events.value[order])


def _interaction_columns(events: _Events, catalogue: _Catalogue, user_ids: pa.Array,
                         event_types: Sequence[str]) -> dict[str, pa.Array]:
    ids = catalogue.ids.to_pylist()
    others = catalogue.by_category[(events.item + 7) % len(ids)]  # an unrelated item shown beside it
    impressions = [f"{ids[i]}|{ids[j]}" if i != j else ids[i]
                   for i, j in zip(events.item.tolist(), others.tolist(), strict=True)]
    return {
        "USER_ID": user_ids.take(events.user),
        "ITEM_ID": catalogue.ids.take(events.item),
        "TIMESTAMP": pa.array(events.ts),
        "EVENT_TYPE": pa.array(np.array(event_types)[events.kind]),
        "EVENT_VALUE": pa.array(events.value),
        "IMPRESSION": pa.array(impressions, pa.string()),
    }


def _fit_table(dataset: str, schema: Mapping[str, Any], known: Mapping[str, pa.Array], count: int,
               spec: SampleSpec, values: Mapping[str, Sequence[str]], catalogue: _Catalogue) -> pa.Table:
    from personalize_poc.data.checks import schema_fields

    columns: dict[str, pa.Array] = {}
    for name, avro in schema_fields(schema).items():
        column = _reuse(known.get(name), avro, values.get(f"{dataset}.{name}"))
        if column is None:
            rng = _rng(spec.seed, 7, zlib.crc32(f"{dataset}.{name}".encode()))
            column = _typed_column(name, avro, count, rng, spec, values.get(f"{dataset}.{name}", ()))
        columns[name] = column
    return pa.table(columns)


def _reuse(column: pa.Array | None, avro: Any, named: Sequence[str] | None) -> pa.Array | None:
    """A known column cast to the field's type, or None when it does not fit (or the POC names values)."""
    if column is None or named or avro.name == "boolean":
        return None
    is_text = pa.types.is_string(column.type)
    if is_text != (avro.name == "string"):
        return None
    if is_text:
        if not avro.nullable and pc.any(pc.equal(column, "")).as_py():
            return None
        return column
    if avro.name in ("int", "long"):
        rounded = pc.round(column) if pa.types.is_floating(column.type) else column
        return rounded.cast(pa.int32() if avro.name == "int" else pa.int64())
    return column.cast(pa.float64())


def _typed_column(name: str, avro: Any, count: int, rng: np.random.Generator, spec: SampleSpec,
                  named: Sequence[str]) -> pa.Array:
    """Values for a field the sample does not know, from its Avro type."""
    if avro.name == "string" and (avro.categorical or named):
        vocabulary = list(dict.fromkeys([*named, *(f"{name.lower()}_{n}" for n in range(1, VOCABULARY_SIZE + 1))]))
        weights = 1.0 / np.power(np.arange(1, len(vocabulary) + 1), ZIPF_EXPONENT)
        raw = np.array(vocabulary)[rng.choice(len(vocabulary), size=count, p=weights / weights.sum())]
    elif avro.name == "string" and avro.textual:
        raw = np.array([" ".join(rng.choice(WORDS, size=int(rng.integers(4, 10)))) for _ in range(count)])
    elif avro.name == "string":
        raw = np.char.add(f"{name.lower()}_", rng.integers(1, 1_000, count).astype(str))
    elif avro.name == "boolean":
        raw = np.where(rng.random(count) < 0.5, "true", "false")
    elif avro.name in ("int", "long") and "TIMESTAMP" in name.upper():
        raw = spec.window_start + rng.integers(0, WINDOW_DAYS * 86_400, count)
    elif avro.name in ("int", "long"):
        raw = rng.integers(0, 100, count)
    else:
        raw = np.round(rng.lognormal(2.0, 0.7, count), 2)
    mask = rng.random(count) < NULL_SHARE if avro.nullable else None
    array = pa.array(raw, mask=mask)
    return array.cast(pa.int32()) if avro.name == "int" else array


def sample_ids(spec: SampleSpec = FIT_SPEC) -> tuple[list[str], list[str]]:
    """The user ids and the item ids (most popular first) that ``generate_fitting`` writes for ``spec``."""
    catalogue, _ = _catalogue(spec)
    popularity = np.diff(np.concatenate([[0.0], catalogue.global_cdf]))
    items = catalogue.ids.take(pa.array(np.argsort(-popularity, kind="stable"))).to_pylist()
    return _ids("user_", spec.users).to_pylist(), items


def batch_input_lines(kind: str, users: Sequence[str], items: Sequence[str], *, count: int = BATCH_INPUT_USERS,
                      seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """Input lines of a batch inference job in the form its recipe reads (developer guide, "Preparing input
    data for batch recommendations"): ``userId`` (User-Personalization, Popularity-Count, Trending-Now),
    ``itemId`` (SIMS, Similar-Items: the first ``count`` of ``items``) or ``userId+itemList``
    (Personalized-Ranking: each user with a random list of ``items`` to rank)."""
    if kind == "userId":
        return [{"userId": user} for user in users[:count]]
    if kind == "itemId":
        return [{"itemId": item} for item in items[:count]]
    if kind == "userId+itemList":
        rng = _rng(seed, 8)
        size = min(RANKING_LIST_LENGTH, len(items))
        return [{"userId": user, "itemList": [items[int(i)] for i in rng.choice(len(items), size, replace=False)]}
                for user in users[:count]]
    raise ValueError(f"unknown batch input kind {kind!r}; one of userId, itemId, userId+itemList")


def write_batch_lines(path: Path, lines: Sequence[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path
