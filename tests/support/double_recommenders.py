"""The Personalize double's recommenders and domain dataset groups (a mixin of PersonalizeDouble).

Operations: CreateRecommender, DescribeRecommender, ListRecommenders, UpdateRecommender, DeleteRecommender,
StopRecommender, StartRecommender - requests validated against botocore's model by the double's front door
(tests/support/service_model.py), then these rules:

- Lifecycle (botocore Recommender.status): CREATE PENDING > CREATE IN_PROGRESS > ACTIVE -or- CREATE FAILED;
  STOP PENDING > STOP IN_PROGRESS > INACTIVE > START PENDING > START IN_PROGRESS > ACTIVE;
  DELETE PENDING > DELETE IN_PROGRESS > gone. An update (UpdateRecommender) runs beside the ACTIVE
  recommender as ``latestRecommenderUpdate`` (RecommenderUpdateSummary.status: CREATE PENDING > CREATE
  IN_PROGRESS > ACTIVE -or- CREATE FAILED) and applies
  its config when ACTIVE ("The recommender uses the previous configuration until the update completes").
- Names are account-wide (ARN ``recommender/<name>``); a deleted name is free once deletion finished.
- A recommender needs a Domain dataset group (CreateRecommender: "You create recommenders for a Domain
  dataset group") whose domain is the recipe's; an unknown recipe, a recipe of another domain, a custom
  dataset group: InvalidInputException. STRICTER: the service's exact error for each is not documented.
- The use case's datasets must exist ("Datasets used when training ... (required)", the use case pages);
  the interactions dataset needs an ACTIVE import (an import still running: ResourceInUseException).
- Too little data ends the recommender CREATE FAILED with a failureReason: fewer than 1000 interactions or
  25 users with 2+ (all use cases), fewer than 1000 events of the use case's required type ("At minimum,
  1000 View events"). STRICTER: the 25-users rule is counted on the required event type alone too.
- itemExplorationConfig only for use cases that recommend for a user (RecommenderConfig docs: "not popular
  items or similar items"): InvalidInputException (STRICTER: the service may ignore it).
- Update, stop: only when ACTIVE (ResourceInUseException otherwise; STRICTER where undocumented); start:
  only when INACTIVE. Delete while creating, stopping, starting or deleting: ResourceInUseException.
- DescribeRecommender echoes the defaults of recommenderConfig (minRecommendationRequestsPerSecond 1,
  enableMetadataWithRecommendations false; STRICTER) and, when ACTIVE, ``modelMetrics`` (deterministic per
  use case).
- Domain schemas: a dataset of a domain dataset group needs the domain's required fields (the "... dataset
  requirements (ECOMMERCE / VIDEO_ON_DEMAND domain)" pages), checked at CreateDataset, where the dataset
  type is known (CreateSchema has none).

Sources for the use cases: developer guide, "ECOMMERCE use cases" and "VIDEO_ON_DEMAND use cases"
(recipe ARNs, datasets, required event types). The use case table is read from personalize_poc/domain.py
(``USE_CASES``) rather than copied, so the double and the product's checks (synth, ``data validate``)
cannot drift apart; the domain fields (DOMAIN_FIELDS) stay a separate copy, as tests/support/service_rules.py
is: a field rule the product forgets still fails here.
"""

from __future__ import annotations

import copy
import functools
from types import ModuleType
from typing import Any

from personalize_poc.domain import MIN_USE_CASE_EVENTS, USE_CASES
from tests.support.import_data import ImportStats, training_shortfall

_PREFIX = "arn:aws:personalize:::recipe/"
#: recipe -> (domain, required dataset types, required event type or None, recommends for a user), from the
#: product's own table (personalize_poc/domain.py, which cites the use case pages and takes the stricter of
#: their two versions): the rehearsal fails a recommender for the same shortfall `data validate` reports.
DOMAIN_RECIPES: dict[str, tuple[str, tuple[str, ...], str | None, bool]] = {
    case.recipe: (domain, tuple(d.upper() for d in case.required_datasets), case.event_type, case.personalized)
    for domain, cases in USE_CASES.items()
    for case in cases.values()
}
#: Required fields of a domain's datasets (the domain dataset requirements pages).
DOMAIN_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "ECOMMERCE": {
        "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"),
        "ITEMS": ("ITEM_ID", "PRICE", "CATEGORY_L1"),
        "USERS": ("USER_ID",),
    },
    "VIDEO_ON_DEMAND": {
        "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"),
        "ITEMS": ("ITEM_ID", "GENRES", "CREATION_TIMESTAMP"),
        "USERS": ("USER_ID",),
    },
}
_CONFIG_DEFAULTS = {"minRecommendationRequestsPerSecond": 1, "enableMetadataWithRecommendations": False}
ACTIVE = "ACTIVE"
_BUSY = frozenset(
    {
        "CREATE PENDING",
        "CREATE IN_PROGRESS",
        "STOP PENDING",
        "STOP IN_PROGRESS",
        "START PENDING",
        "START IN_PROGRESS",
        "DELETE PENDING",
        "DELETE IN_PROGRESS",
    }
)
#: Simulated seconds per transition (keys of the double's DEFAULT_DURATIONS).
RECOMMENDER_DURATIONS = {
    "recommender": 2 * 3600.0,  # trains its models before it serves
    "recommender_update": 60 * 60.0,
    "recommender_stop": 5 * 60.0,
    "recommender_start": 10 * 60.0,
    "delete_recommender": 120.0,
}


@functools.cache
def _core() -> ModuleType:
    """tests.support.personalize_double, imported when first needed (it imports this module)."""
    from tests.support import personalize_double

    return personalize_double


class RecommendersMixin:
    """Recommender operations of PersonalizeDouble (which provides the store, clock and helpers)."""

    # ---- domain datasets
    def _check_domain_dataset(self: Any, schema: Any, dataset_type: str, domain: str | None) -> None:
        if not domain:
            return
        required = DOMAIN_FIELDS[domain].get(dataset_type, ())
        missing = [f for f in required if f not in schema.body["_fields"]]
        if missing:
            raise _core()._invalid(
                f"Schema {schema.arn} is not valid for a {domain} {dataset_type} dataset: "
                f"required field(s) {', '.join(missing)} missing."
            )

    # ---- recommenders
    def _op_CreateRecommender(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"recommender/{p['name']}")
        self._unique(arn)
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        recipe = p["recipeArn"].removeprefix(_PREFIX) if p["recipeArn"].startswith(_PREFIX) else None
        if recipe not in DOMAIN_RECIPES:
            raise _core()._invalid(f"Recipe {p['recipeArn']} is not a use case of a domain: no recommender can use it.")
        domain, datasets, event_type, personalized = DOMAIN_RECIPES[recipe]
        if group.body.get("domain") != domain:
            raise _core()._invalid(
                f"The recipe {p['recipeArn']} is a {domain} use case; dataset group {group.arn} is "
                f"{'a ' + group.body['domain'] + ' domain' if group.body.get('domain') else 'a Custom'} dataset group."
            )
        config = copy.deepcopy(p.get("recommenderConfig") or {})
        if "itemExplorationConfig" in config and not personalized:
            raise _core()._invalid(f"itemExplorationConfig is not supported for the recipe {p['recipeArn']}.")
        self._require_active(group, ctx, "dataset group")
        present = {d.body["datasetType"].upper() for d in self._children(group.arn, "dataset")}
        missing = [d for d in datasets if d not in present]
        if missing:
            raise _core()._invalid(
                f"Dataset group {group.arn} has no {', '.join(missing)} dataset, which {recipe} needs."
            )
        self._interactions_ready(group.arn, ctx)
        fail = self._take_failure("recommender", [p["name"], arn]) or self._use_case_shortfall(group, event_type, ctx)
        body = {
            "name": p["name"],
            "recommenderArn": arn,
            "datasetGroupArn": group.arn,
            "recipeArn": p["recipeArn"],
            "recommenderConfig": config,
        }
        self._add("recommender", arn, p["name"], ctx, body, parent=group.arn, tags=p.get("tags"), failure_reason=fail)
        return {"recommenderArn": arn}

    def _use_case_shortfall(self: Any, group: Any, event_type: str | None, ctx: Any) -> str | None:
        """The failureReason for too little data (the use case pages' minimums), or None."""
        datasets = [d for d in self._children(group.arn, "dataset") if d.body["datasetType"].upper() == "INTERACTIONS"]
        jobs = sorted(
            (j for d in datasets for j in self._children(d.arn, "dataset_import_job") if j.status(ctx.now) == "ACTIVE"),
            key=lambda j: j.seq,
        )
        full = [i for i, j in enumerate(jobs) if j.body["importMode"] == "FULL"]
        stats = [self._import_stats.get(j.arn, ImportStats()) for j in (jobs[full[-1] :] if full else jobs)]
        reason = training_shortfall(stats, None) or (training_shortfall(stats, event_type) if event_type else None)
        if reason and event_type and not training_shortfall(stats, None):
            reason += f" This use case needs at least {MIN_USE_CASE_EVENTS} {event_type} events."
        return reason  # type: ignore[no-any-return]

    def _recommender_view(self: Any, res: Any, ctx: Any) -> dict[str, Any]:
        view = self._view(res, ctx)
        config = {**_CONFIG_DEFAULTS, **view.get("recommenderConfig", {})}
        for update in res.updates:
            if update.timeline.status(ctx.now) == ACTIVE:
                config = {**_CONFIG_DEFAULTS, **copy.deepcopy(update.changes["recommenderConfig"])}
        view["recommenderConfig"] = config
        if res.updates:
            view["latestRecommenderUpdate"] = self._update_summary(res.updates[-1], ctx, ("recommenderConfig",))
        if view["status"] == ACTIVE:
            view["modelMetrics"] = _model_metrics(res.body["recipeArn"])
        return view  # type: ignore[no-any-return]

    def _op_DescribeRecommender(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"recommender": self._recommender_view(self._get(p["recommenderArn"], "recommender", ctx), ctx)}

    def _op_ListRecommenders(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        return self._listing(  # type: ignore[no-any-return]
            "recommender",
            ctx,
            p,
            "recommenders",
            "ListRecommenders",
            keep=lambda r: group is None or r.parent == group,
            view=self._recommender_view,
        )

    def _op_UpdateRecommender(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["recommenderArn"], "recommender", ctx)
        self._require_active(res, ctx, "recommender")
        if res.updates and res.updates[-1].timeline.status(ctx.now) in _core().IN_FLIGHT:
            raise _core()._in_use(f"Recommender {res.arn} already has an update in progress.")
        recipe = res.body["recipeArn"].removeprefix(_PREFIX)
        if "itemExplorationConfig" in p["recommenderConfig"] and not DOMAIN_RECIPES[recipe][3]:
            raise _core()._invalid(f"itemExplorationConfig is not supported for the recipe {res.body['recipeArn']}.")
        fail = self._take_failure("recommender", [res.name, res.arn])
        timeline = self._timeline("recommender_update", ctx.now, fail)
        res.updates.append(
            _core()._Update(ctx.now, timeline, {"recommenderConfig": copy.deepcopy(p["recommenderConfig"])}, fail)
        )
        return {"recommenderArn": res.arn}

    def _op_DeleteRecommender(self: Any, p: dict[str, Any], ctx: Any) -> None:
        res = self._get(p["recommenderArn"], "recommender", ctx)
        status = res.status(ctx.now)
        if status in _BUSY:
            raise _core()._in_use(f"Recommender {res.arn} is {status}. Try again later.")
        self._start_delete(res, ctx)

    def _op_StopRecommender(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["recommenderArn"], "recommender", ctx)
        # botocore StopRecommender: "Stops a recommender that is ACTIVE"; the error for another status is not
        # documented, ResourceInUseException (one of the operation's modelled errors) is the stricter guess.
        self._require_active(res, ctx, "recommender")
        self._move(res, ctx, "recommender_stop", ("STOP PENDING", "STOP IN_PROGRESS", "INACTIVE"))
        return {"recommenderArn": res.arn}

    def _op_StartRecommender(self: Any, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["recommenderArn"], "recommender", ctx)
        status = res.status(ctx.now)
        if status != "INACTIVE":
            raise _core()._in_use(f"Recommender {res.arn} is not INACTIVE (status: {status}).")
        self._move(res, ctx, "recommender_start", ("START PENDING", "START IN_PROGRESS", ACTIVE))
        return {"recommenderArn": res.arn}

    def _move(self: Any, res: Any, ctx: Any, key: str, statuses: tuple[str, str, str]) -> None:
        duration = self._duration(key)
        res.timeline.truncate(ctx.now)
        res.timeline.phases += [
            (ctx.now, statuses[0]),
            (ctx.now + duration * self.pending_fraction, statuses[1]),
            (ctx.now + duration, statuses[2]),
        ]


def _model_metrics(recipe_arn: str) -> dict[str, float]:
    """Deterministic modelMetrics of an ACTIVE recommender (names as GetSolutionMetrics spells them)."""
    seed = sum(recipe_arn.encode()) % 17
    return {
        "coverage": round(0.30 + seed / 100, 4),
        "mean_reciprocal_rank_at_25": round(0.18 + seed / 200, 4),
        "normalized_discounted_cumulative_gain_at_10": round(0.20 + seed / 200, 4),
        "precision_at_10": round(0.06 + seed / 500, 4),
    }
