"""The POC definition: one reviewed file that says which Personalize resources the workflow builds.

Validated at synth time. Every error names the field (`solutions[1].recipe: ...`). Names are checked
against botocore's Personalize service model (length and pattern), after the environment's name prefix
is applied, so nothing reaches the service that it would refuse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalize_poc.attribution import MetricAttributionConfig, check_attribution
from personalize_poc.dataset_schema import ALLOWED_AVRO_TYPES, REQUIRED_FIELDS, schema_problem
from personalize_poc.domain import Domain, DomainError, RecommenderConfig, check_domain
from personalize_poc.filter_expression import MAX_FIELDS_PER_DATASET_GROUP, FilterSyntaxError, check_filter
from personalize_poc.name_rules import name_rule
from personalize_poc.recipes import BASELINE_RECIPE, RECIPES, Recipe, batch_input_kind, recipe_name
from personalize_poc.s3_keys import relative_key, relative_prefix
from personalize_poc.segments import (
    BatchSegmentConfig,
    check_segment_filters,
    check_segment_jobs,
    check_segmentation_solutions,
    filter_targets,
)
from personalize_poc.strict_yaml import load_strict

__all__ = [
    "ALLOWED_AVRO_TYPES",
    "BASELINE_RECIPE",
    "DEFAULT_POLLING",
    "RECIPES",
    "REQUIRED_FIELDS",
    "PocConfigError",
    "PocDefinition",
    "Recipe",
    "batch_input_kind",
    "dataset_name",
    "full_name",
    "import_job_name",
    "load_poc_definition",
    "resolve_schemas",
]

DatasetType = Literal["interactions", "items", "users"]

PollKind = Literal[
    "dataset_group",
    "dataset",
    "import_job",
    "solution",
    "solution_version",
    "campaign",
    "filter",
    "event_tracker",
    "batch_job",
    "recommender",
    "segment_job",
    "metric_attribution",
]


class PocConfigError(Exception):
    """A POC definition problem, as one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Polling(_Strict):
    interval_seconds: Annotated[int, Field(ge=1, le=3600)]
    timeout_minutes: Annotated[int, Field(ge=1, le=10080)]

    @model_validator(mode="after")
    def _interval_within_timeout(self) -> Polling:
        if self.interval_seconds >= self.timeout_minutes * 60:
            raise _FieldError(
                "interval_seconds",
                f"{self.interval_seconds} s is not shorter than the timeout ({self.timeout_minutes} min): "
                "the workflow would check once and give up",
            )
        return self

    @property
    def max_attempts(self) -> int:
        return max(1, -(-self.timeout_minutes * 60 // self.interval_seconds))


# Seconds for quick resources, minutes for training; timeouts well past the service's usual times.
DEFAULT_POLLING: dict[str, Polling] = {
    "dataset_group": Polling(interval_seconds=10, timeout_minutes=30),
    "dataset": Polling(interval_seconds=10, timeout_minutes=30),
    "import_job": Polling(interval_seconds=60, timeout_minutes=24 * 60),
    "solution": Polling(interval_seconds=10, timeout_minutes=30),
    "solution_version": Polling(interval_seconds=120, timeout_minutes=48 * 60),
    "campaign": Polling(interval_seconds=60, timeout_minutes=6 * 60),
    "filter": Polling(interval_seconds=15, timeout_minutes=60),
    "event_tracker": Polling(interval_seconds=15, timeout_minutes=60),
    "batch_job": Polling(interval_seconds=120, timeout_minutes=24 * 60),
    "segment_job": Polling(interval_seconds=120, timeout_minutes=24 * 60),
    "metric_attribution": Polling(interval_seconds=15, timeout_minutes=60),
    # A recommender trains its models before it turns ACTIVE: hours, like training.
    "recommender": Polling(interval_seconds=120, timeout_minutes=48 * 60),
}


class DatasetGroupConfig(_Strict):
    name: str
    # botocore CreateDatasetGroup.domain (enum Domain); omitted: a Custom dataset group.
    domain: Domain | None = None


class DatasetConfig(_Strict):
    schema_: Annotated[dict[str, Any] | None, Field(alias="schema")] = None
    schema_file: str | None = None
    data_key: Annotated[str, Field(min_length=1, max_length=900)]
    import_mode: Literal["FULL", "INCREMENTAL"] = "FULL"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_schema(self) -> DatasetConfig:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("give exactly one of 'schema' (inline Avro) or 'schema_file'")
        return self

    @field_validator("data_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return relative_key(value, "interactions.csv")


class SolutionConfig(_Strict):
    name: str
    recipe: str
    training_mode: Literal["FULL", "UPDATE"] = "FULL"
    perform_auto_training: bool = False
    perform_hpo: bool = False
    event_type: str | None = None
    algorithm_hyper_parameters: dict[str, str] = {}
    feature_transformation_parameters: dict[str, str] = {}
    # Accepted only as false: the workflow never sends performAutoML, so `true` would be a silent lie.
    auto_ml: bool = False

    @field_validator("recipe")
    @classmethod
    def _recipe(cls, value: str) -> str:
        short = recipe_name(value)
        if short not in RECIPES:
            raise ValueError(f"unknown recipe '{value}'; supported: {', '.join(sorted(RECIPES))}")
        return short

    @field_validator("auto_ml")
    @classmethod
    def _no_auto_ml(cls, value: bool) -> bool:
        if value:
            # botocore CreateSolution.performAutoML: "We don't recommend enabling automated machine learning."
            raise ValueError("AutoML is legacy and not supported here; name a recipe instead (remove auto_ml)")
        return value

    @model_validator(mode="after")
    def _recipe_accepts(self) -> SolutionConfig:
        recipe = RECIPES[self.recipe]
        if self.training_mode == "UPDATE" and not recipe.update_training:
            # botocore CreateSolutionVersion.trainingMode: UPDATE only with User-Personalization (or HRNN-Coldstart).
            raise _FieldError(
                "training_mode", f"UPDATE is only for aws-user-personalization, not {self.recipe}; use FULL"
            )
        if self.perform_hpo and not recipe.hpo:
            # Developer guide, "Hyperparameters and HPO" and the recipe pages (personalize_poc/recipes.py).
            raise _FieldError("perform_hpo", f"{self.recipe} does not take HPO (performHPO); set it to false")
        return self

    @property
    def is_baseline(self) -> bool:
        return self.recipe == BASELINE_RECIPE


class CampaignConfig(_Strict):
    name: str
    solution: str
    min_provisioned_tps: Annotated[int, Field(ge=1, le=500)] = 1
    item_exploration_weight: Annotated[float | None, Field(ge=0, le=1)] = None
    exploration_item_age_cut_off: Annotated[int | None, Field(ge=1, le=3650)] = None
    enable_metadata_with_recommendations: bool = False


class FilterConfig(_Strict):
    name: str
    expression: Annotated[str, Field(min_length=1, max_length=2500)]


class BatchInferenceConfig(_Strict):
    name: str
    solution: str
    input_key: Annotated[str, Field(min_length=1, max_length=900)]
    output_prefix: Annotated[str, Field(min_length=1, max_length=900)]
    num_results: Annotated[int, Field(ge=1, le=500)] = 25
    filter: str | None = None

    @field_validator("input_key")
    @classmethod
    def _input(cls, value: str) -> str:
        return relative_key(value, "users.jsonl")

    @field_validator("output_prefix")
    @classmethod
    def _output(cls, value: str) -> str:
        return relative_prefix(value, "user-personalization")


# GetSolutionMetrics names (developer guide, "Evaluating a solution version with metrics").
SOLUTION_METRICS = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)


class PromotionConfig(_Strict):
    """When a run trains a new solution version, a campaign moves to it only if it is not worse than the
    version in service on `metric` (offline metrics, higher is better), allowing `tolerance` (absolute)."""

    metric: Literal[SOLUTION_METRICS] = "normalized_discounted_cumulative_gain_at_25"  # type: ignore[valid-type]
    tolerance: Annotated[float, Field(ge=0, le=1)] = 0.0


class PocDefinition(_Strict):
    dataset_group: DatasetGroupConfig
    datasets: dict[DatasetType, DatasetConfig]
    solutions: list[SolutionConfig] = []
    recommenders: list[RecommenderConfig] = []
    campaigns: list[CampaignConfig] = []
    filters: list[FilterConfig] = []
    event_tracker: bool = False
    batch_inference: list[BatchInferenceConfig] = []
    batch_segments: list[BatchSegmentConfig] = []  # personalize_poc/segments.py
    metric_attribution: MetricAttributionConfig | None = None  # personalize_poc/attribution.py
    polling: dict[PollKind, Polling] = {}
    promotion: PromotionConfig = PromotionConfig()

    @model_validator(mode="after")
    def _references(self) -> PocDefinition:
        if "interactions" not in self.datasets:
            raise _FieldError("datasets", "an 'interactions' dataset is required")
        if self.recommenders and not self.dataset_group.domain:
            # CreateRecommender: "You create recommenders for a Domain dataset group".
            raise _FieldError("recommenders", "recommenders need a domain dataset group (set dataset_group.domain)")
        if not self.solutions and not (self.dataset_group.domain and self.recommenders):
            raise _FieldError(
                "solutions", "at least 1 solution is required (or, in a domain dataset group, a recommender)"
            )
        _unique("solutions", [s.name for s in self.solutions])
        _unique("recommenders", [r.name for r in self.recommenders])
        _unique("campaigns", [c.name for c in self.campaigns])
        _unique("filters", [f.name for f in self.filters])
        _unique("batch_inference", [b.name for b in self.batch_inference])
        for index, solution in enumerate(self.solutions):
            for needed in RECIPES[solution.recipe].required_datasets:
                if needed not in self.datasets:
                    raise _FieldError(
                        f"solutions[{index}].recipe",
                        f"recipe {solution.recipe} needs a '{needed}' dataset, which the config does not define",
                    )
        check_segmentation_solutions(self)
        self._check_campaigns()
        self._check_batch_jobs()
        check_segment_jobs(self)
        return self

    def _recipe_of(self, solution: str, field: str) -> str:
        recipes = {s.name: s.recipe for s in self.solutions}
        if solution not in recipes:
            raise _FieldError(field, f"no solution named '{solution}'")
        return recipes[solution]

    def _check_campaigns(self) -> None:
        for index, campaign in enumerate(self.campaigns):
            recipe = self._recipe_of(campaign.solution, f"campaigns[{index}].solution")
            for name in ("item_exploration_weight", "exploration_item_age_cut_off"):
                # botocore CampaignConfig.itemExplorationConfig: "only if your solution uses the
                # User-Personalization recipe"; User-Personalization-v2 configures exploration itself.
                if getattr(campaign, name) is not None and not RECIPES[recipe].item_exploration:
                    raise _FieldError(
                        f"campaigns[{index}].{name}",
                        f"item exploration is only for aws-user-personalization, not {recipe}",
                    )

    def _check_batch_jobs(self) -> None:
        filter_names = {f.name for f in self.filters}
        for index, job in enumerate(self.batch_inference):
            recipe = self._recipe_of(job.solution, f"batch_inference[{index}].solution")
            if batch_input_kind(recipe) is None:
                # "Preparing input data for batch recommendations": no batch recommendations with Trending-Now.
                raise _FieldError(f"batch_inference[{index}].solution", f"recipe {recipe} has no batch inference")
            if job.filter is not None and job.filter not in filter_names:
                raise _FieldError(f"batch_inference[{index}].filter", f"no filter named '{job.filter}'")

    def polling_for(self, kind: str) -> Polling:
        return self.polling.get(kind, DEFAULT_POLLING[kind])  # type: ignore[call-overload]


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _unique(field: str, names: list[str]) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            raise _FieldError(f"{field}[{index}].name", f"'{name}' is used twice")
        seen.add(name)


# ---------------------------------------------------------------------------------------------------
# Checks that need more than one model: schemas, filter expressions, names against the service model.




_NAME_FIELDS: list[tuple[str, str]] = [
    ("dataset_group", "CreateDatasetGroup"),
    ("solutions", "CreateSolution"),
    ("campaigns", "CreateCampaign"),
    ("filters", "CreateFilter"),
    ("batch_inference", "CreateBatchInferenceJob"),
    ("batch_segments", "CreateBatchSegmentJob"),
    ("recommenders", "CreateRecommender"),
]


def full_name(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def dataset_name(prefix: str, dataset_group: str, dataset_type: str) -> str:
    """Datasets and their schemas share this name; schemas are account-wide, hence the group in it."""
    return f"{prefix}-{dataset_group}-{dataset_type}"


def import_job_name(dataset: str, data_id: str, retry: int = 0) -> str:
    """One import job per data version (the object's ETag); a retry after a failure gets a suffix."""
    return f"{dataset}-{data_id}" + (f"-r{retry}" if retry else "")


def _scoped_name(prefix: str, group: str, name: str) -> str:
    """The name the workflow gives a solution, campaign, filter or batch job (personalize_poc/plan.py scoped_name)."""
    return full_name(prefix, f"{group}-{name}")


# What the workflow appends to job names (plan.py IMPORT_SUFFIX / BATCH_SUFFIX): '-<10 hex>-r9', '-<8 hex>-r9'.
_IMPORT_SUFFIX = len("-0123456789-r9")
_BATCH_SUFFIX = len("-01234567-r9")


def _check_names(poc: PocDefinition, prefix: str) -> None:
    """The names the workflow will send, against the service model's length and pattern, naming the field."""
    group = poc.dataset_group.name
    for field, operation in _NAME_FIELDS:
        limit, pattern = name_rule(operation)
        value = getattr(poc, field)
        entries = (
            [(field, full_name(prefix, value.name))]
            if not isinstance(value, list)
            else [(f"{field}[{i}]", _scoped_name(prefix, group, item.name)) for i, item in enumerate(value)]
        )
        suffix = _BATCH_SUFFIX if field in ("batch_inference", "batch_segments") else 0
        for label, name in entries:
            if len(name) + suffix > limit:
                extra = f" plus the {suffix}-character suffix the workflow appends" if suffix else ""
                raise _FieldError(
                    f"{label}.name",
                    f"'{name}' (with prefix and group){extra} is {len(name) + suffix} characters; "
                    f"the service allows {limit}",
                )
            if not re.fullmatch(pattern, name):
                raise _FieldError(f"{label}.name", f"'{name}' does not match the service's name pattern {pattern}")
    dataset_limit, _ = name_rule("CreateDatasetImportJob")
    longest = len(dataset_name(prefix, group, "interactions")) + _IMPORT_SUFFIX
    if longest > dataset_limit:
        raise _FieldError(
            "dataset_group.name",
            f"too long: the generated import job names ('{prefix}-{group}-interactions-<data id>-r9') would be "
            f"{longest} characters; the service allows {dataset_limit}",
        )


# ---------------------------------------------------------------------------------------------------


def _location(error: Any) -> str:
    parts: list[str] = []
    for part in error["loc"]:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def load_poc_definition(path: Path, name_prefix: str) -> PocDefinition:
    """Read, validate and cross-check a POC definition; every failure is a PocConfigError naming the field."""
    try:
        raw = load_strict(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PocConfigError(f"{path}: POC definition not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PocConfigError(f"{path}: cannot read the POC definition ({type(exc).__name__}: {exc})") from None
    except yaml.YAMLError as exc:
        raise PocConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, dict):
        raise PocConfigError(f"{path}: expected a mapping at the top level")
    try:
        poc = PocDefinition.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        field = _location(first)
        error = first.get("ctx", {}).get("error")
        if isinstance(error, _FieldError):
            field, message = ".".join(p for p in (field, error.field) if p), str(error).split(": ", 1)[1]
        where = f"field '{field}'" if field else "top level"
        raise PocConfigError(f"{path}: {where}: {message}") from None
    try:
        _cross_check(poc, resolve_schemas(poc, path.parent))
        _check_names(poc, name_prefix)
    except _FieldError as exc:
        raise PocConfigError(f"{path}: field '{exc.field}': {str(exc).split(': ', 1)[1]}") from None
    return poc


def _cross_check(poc: PocDefinition, schemas: dict[str, dict[str, Any]]) -> None:
    """Rules that need the schemas: filter expressions, event types, metadata with recommendations, the domain."""
    try:
        fields: dict[str, str] = {
            k: f"datasets.{k}.schema" + ("_file" if d.schema_file else "") for k, d in poc.datasets.items()
        }
        check_domain(poc.dataset_group.domain, poc.recommenders, schemas, fields)
    except DomainError as exc:
        raise _FieldError(exc.field, str(exc).split(": ", 1)[1]) from None
    check_attribution(poc, schemas)
    parsed = {}
    for index, item in enumerate(poc.filters):
        try:
            parsed[item.name] = check_filter(item.expression, schemas, filter_targets(poc))
        except (FilterSyntaxError, ValueError) as exc:
            raise _FieldError(f"filters[{index}].expression", str(exc)) from None
    used = set().union(*(p.fields for p in parsed.values())) if parsed else set()
    if len(used) > MAX_FIELDS_PER_DATASET_GROUP:
        # Filters "Guidelines and requirements": at most 20 distinct dataset fields across a group's filters.
        raise _FieldError(
            "filters", f"together use {len(used)} distinct dataset fields; the service allows 20 per dataset group"
        )
    check_segment_filters(poc, parsed)
    recipes = {s.name: s.recipe for s in poc.solutions}
    for index, job in enumerate(poc.batch_inference):
        if job.filter and parsed[job.filter].uses_current_item and not RECIPES[recipes[job.solution]].related_items:
            # "Guidelines and requirements": CurrentItem only where the recipe generates related items.
            raise _FieldError(
                f"batch_inference[{index}].filter",
                f"filter '{job.filter}' uses CurrentItem, which only related-items recipes (aws-sims, "
                f"aws-similar-items) accept, not {recipes[job.solution]}",
            )
    interaction_fields = {f["name"] for f in schemas["interactions"]["fields"]}
    for index, solution in enumerate(poc.solutions):
        if solution.event_type is not None and "EVENT_TYPE" not in interaction_fields:
            # botocore CreateSolution.eventType: "multiple event types (using an EVENT_TYPE schema field)".
            raise _FieldError(
                f"solutions[{index}].event_type", "the interactions schema has no EVENT_TYPE field to select from"
            )
    items = schemas.get("items")
    item_metadata = [f for f in (items or {}).get("fields", []) if f["name"] != "ITEM_ID"]
    for index, campaign in enumerate(poc.campaigns):
        if campaign.enable_metadata_with_recommendations and not item_metadata:
            # Developer guide, campaigns, "Item metadata in recommendations": "you must have an Items dataset
            # with a column of metadata".
            raise _FieldError(
                f"campaigns[{index}].enable_metadata_with_recommendations",
                "needs an items dataset with at least one metadata column",
            )


def resolve_schemas(poc: PocDefinition, base_dir: Path) -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for kind, dataset in poc.datasets.items():
        field = f"datasets.{kind}.schema" + ("_file" if dataset.schema_file else "")
        if dataset.schema_file is not None:
            schema_path = base_dir / dataset.schema_file
            try:
                schema = json.loads(schema_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise _FieldError(field, f"{schema_path} not found") from None
            except json.JSONDecodeError as exc:
                raise _FieldError(field, f"{schema_path} is not JSON ({exc.msg} at line {exc.lineno})") from None
        else:
            schema = dataset.schema_
        problem = schema_problem(schema, kind)
        if problem:
            raise _FieldError(field, problem)
        schemas[kind] = schema  # type: ignore[assignment]
    return schemas
