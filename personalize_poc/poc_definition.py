"""The POC definition: one reviewed file that says which Personalize resources the workflow builds.

Validated at synth time. Every error names the field (`solutions[1].recipe: ...`). Names are checked
against botocore's Personalize service model (length and pattern), after the environment's name prefix
is applied, so nothing reaches the service that it would refuse.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DatasetType = Literal["interactions", "items", "users"]

REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "interactions": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "items": ("ITEM_ID",),
    "users": ("USER_ID",),
}
# Avro primitive types Personalize accepts in dataset schemas.
ALLOWED_AVRO_TYPES = {"string", "int", "long", "float", "double", "boolean", "null"}


class Recipe(BaseModel):
    model_config = ConfigDict(frozen=True)
    recipe_type: Literal["USER_PERSONALIZATION", "RELATED_ITEMS", "PERSONALIZED_RANKING", "POPULAR_ITEMS"]
    required_datasets: tuple[str, ...] = ("interactions",)
    # The key each line of a batch inference input file carries.
    batch_input: Literal["userId", "itemId", "userId+itemList"]


RECIPES: dict[str, Recipe] = {
    "aws-user-personalization": Recipe(recipe_type="USER_PERSONALIZATION", batch_input="userId"),
    "aws-user-personalization-v2": Recipe(recipe_type="USER_PERSONALIZATION", batch_input="userId"),
    "aws-personalized-ranking": Recipe(recipe_type="PERSONALIZED_RANKING", batch_input="userId+itemList"),
    "aws-personalized-ranking-v2": Recipe(recipe_type="PERSONALIZED_RANKING", batch_input="userId+itemList"),
    "aws-sims": Recipe(recipe_type="RELATED_ITEMS", batch_input="itemId"),
    "aws-similar-items": Recipe(
        recipe_type="RELATED_ITEMS", required_datasets=("interactions", "items"), batch_input="itemId"
    ),
    "aws-popularity-count": Recipe(recipe_type="USER_PERSONALIZATION", batch_input="userId"),
    "aws-trending-now": Recipe(recipe_type="POPULAR_ITEMS", batch_input="userId"),
}
BASELINE_RECIPE = "aws-popularity-count"

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
]


class PocConfigError(Exception):
    """A POC definition problem, as one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Polling(_Strict):
    interval_seconds: Annotated[int, Field(ge=1, le=3600)]
    timeout_minutes: Annotated[int, Field(ge=1, le=10080)]

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
}


class DatasetGroupConfig(_Strict):
    name: str


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
        if value.startswith("/") or value.startswith("s3://") or ".." in value.split("/"):
            raise ValueError("a key relative to the bucket's imports/ prefix, e.g. 'interactions.csv'")
        return value


class SolutionConfig(_Strict):
    name: str
    recipe: str
    training_mode: Literal["FULL", "UPDATE"] = "FULL"
    perform_auto_training: bool = False
    perform_hpo: bool = False
    event_type: str | None = None
    algorithm_hyper_parameters: dict[str, str] = {}
    feature_transformation_parameters: dict[str, str] = {}
    auto_ml: bool = False

    @field_validator("recipe")
    @classmethod
    def _recipe(cls, value: str) -> str:
        short = value.rsplit("/", 1)[-1]
        if short not in RECIPES:
            raise ValueError(f"unknown recipe '{value}'; supported: {', '.join(sorted(RECIPES))}")
        return short

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


class PocDefinition(_Strict):
    dataset_group: DatasetGroupConfig
    datasets: dict[DatasetType, DatasetConfig]
    solutions: Annotated[list[SolutionConfig], Field(min_length=1)]
    campaigns: list[CampaignConfig] = []
    filters: list[FilterConfig] = []
    event_tracker: bool = False
    batch_inference: list[BatchInferenceConfig] = []
    polling: dict[PollKind, Polling] = {}

    @model_validator(mode="after")
    def _references(self) -> PocDefinition:
        if "interactions" not in self.datasets:
            raise _FieldError("datasets", "an 'interactions' dataset is required")
        _unique("solutions", [s.name for s in self.solutions])
        _unique("campaigns", [c.name for c in self.campaigns])
        _unique("filters", [f.name for f in self.filters])
        _unique("batch_inference", [b.name for b in self.batch_inference])
        solutions = {s.name: s for s in self.solutions}
        for index, solution in enumerate(self.solutions):
            for needed in RECIPES[solution.recipe].required_datasets:
                if needed not in self.datasets:
                    raise _FieldError(
                        f"solutions[{index}].recipe",
                        f"recipe {solution.recipe} needs a '{needed}' dataset, which the config does not define",
                    )
        for index, campaign in enumerate(self.campaigns):
            if campaign.solution not in solutions:
                raise _FieldError(f"campaigns[{index}].solution", f"no solution named '{campaign.solution}'")
            recipe = RECIPES[solutions[campaign.solution].recipe]
            exploring = campaign.item_exploration_weight is not None or campaign.exploration_item_age_cut_off
            if exploring and recipe.recipe_type != "USER_PERSONALIZATION":
                raise _FieldError(
                    f"campaigns[{index}].item_exploration_weight",
                    "item exploration only applies to User-Personalization recipes",
                )
        filter_names = {f.name for f in self.filters}
        for index, job in enumerate(self.batch_inference):
            if job.solution not in solutions:
                raise _FieldError(f"batch_inference[{index}].solution", f"no solution named '{job.solution}'")
            if job.filter is not None and job.filter not in filter_names:
                raise _FieldError(f"batch_inference[{index}].filter", f"no filter named '{job.filter}'")
        return self

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


def _schema_problem(schema: Any, dataset_type: str) -> str | None:
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return 'not an Avro record schema (needs "type": "record")'
    if not isinstance(schema.get("name"), str) or not isinstance(schema.get("fields"), list):
        return "an Avro record needs a 'name' and a list of 'fields'"
    names: list[str] = []
    for position, field in enumerate(schema["fields"]):
        if not isinstance(field, dict) or not isinstance(field.get("name"), str):
            return f"fields[{position}] needs a 'name'"
        name, field_type = field["name"], field.get("type")
        members = field_type if isinstance(field_type, list) else [field_type]
        if not members or any(m not in ALLOWED_AVRO_TYPES for m in members) or members == ["null"]:
            return f"field {name}: type {json.dumps(field_type)} is not one of {sorted(ALLOWED_AVRO_TYPES - {'null'})}"
        if field.get("categorical") and "string" not in members:
            return f"field {name}: only string fields can be categorical"
        names.append(name)
    if len(set(names)) != len(names):
        return "field names repeat"
    missing = [f for f in REQUIRED_FIELDS[dataset_type] if f not in names]
    if missing:
        return f"{dataset_type} schemas need the field(s) {', '.join(missing)}"
    timestamp = next((f for f in schema["fields"] if f["name"] == "TIMESTAMP"), None)
    if timestamp is not None and timestamp["type"] not in ("long", "int"):
        return "TIMESTAMP must be a long (epoch seconds)"
    return None


_FILTER = re.compile(r"^\s*(INCLUDE|EXCLUDE)\s+(ItemID|UserID)\s+WHERE\s+(.+)$", re.DOTALL)
_FILTER_FIELD = re.compile(r"\b(Interactions|Items|Users)\.([A-Za-z_][A-Za-z0-9_]*)")
_FILTER_DATASET = {"Interactions": "interactions", "Items": "items", "Users": "users"}


def _filter_problem(expression: str, fields: dict[str, set[str]]) -> str | None:
    conditions = [part.strip() for part in re.split(r"\|", expression) if part.strip()]
    for condition in conditions:
        if not _FILTER.match(condition):
            return f"'{condition}' does not read 'INCLUDE|EXCLUDE ItemID|UserID WHERE <dataset>.<field> ...'"
    references = _FILTER_FIELD.findall(expression)
    if not references:
        return "the expression references no dataset field such as Items.CATEGORY or Interactions.EVENT_TYPE"
    for dataset_label, field in references:
        dataset = _FILTER_DATASET[dataset_label]
        if dataset not in fields:
            return f"references {dataset_label}.{field} but the config defines no {dataset} dataset"
        if field not in fields[dataset]:
            return f"{dataset_label}.{field} is not a field of the {dataset} schema"
    return None


@functools.cache
def _personalize_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("personalize")


@functools.cache
def _name_rule(operation: str) -> tuple[int, str]:
    members = _personalize_model().operation_model(operation).input_shape.members
    shape = members["name"] if "name" in members else members["jobName"]
    return int(shape.metadata["max"]), shape.metadata["pattern"]


_NAME_FIELDS: list[tuple[str, str]] = [
    ("dataset_group", "CreateDatasetGroup"),
    ("solutions", "CreateSolution"),
    ("campaigns", "CreateCampaign"),
    ("filters", "CreateFilter"),
    ("batch_inference", "CreateBatchInferenceJob"),
]


def full_name(prefix: str, name: str) -> str:
    return f"{prefix}-{name}"


def dataset_name(prefix: str, dataset_group: str, dataset_type: str) -> str:
    """Datasets and their schemas share this name; schemas are account-wide, hence the group in it."""
    return f"{prefix}-{dataset_group}-{dataset_type}"


def import_job_name(dataset: str, data_id: str, retry: int = 0) -> str:
    """One import job per data version (the object's ETag); a retry after a failure gets a suffix."""
    return f"{dataset}-{data_id}" + (f"-r{retry}" if retry else "")


def _check_names(poc: PocDefinition, prefix: str) -> None:
    # Generated names add at most this many characters (import jobs: '-interactions-<12 hex>-r9').
    for field, operation in _NAME_FIELDS:
        limit, pattern = _name_rule(operation)
        value = getattr(poc, field)
        entries = (
            [(field, value)]
            if not isinstance(value, list)
            else [(f"{field}[{i}]", item) for i, item in enumerate(value)]
        )
        for label, entry in entries:
            name = full_name(prefix, entry.name)
            if len(name) > limit:
                raise _FieldError(
                    f"{label}.name",
                    f"'{name}' (with prefix) is {len(name)} characters; the service allows {limit}",
                )
            if not re.fullmatch(pattern, name):
                raise _FieldError(
                    f"{label}.name", f"'{name}' does not match the service's name pattern {pattern}"
                )
    dataset_limit, _ = _name_rule("CreateDatasetImportJob")
    longest = len(import_job_name(dataset_name(prefix, poc.dataset_group.name, "interactions"), "0" * 10, 9))
    if longest > dataset_limit:
        raise _FieldError(
            "dataset_group.name",
            f"too long: the generated import job names ('{prefix}-{poc.dataset_group.name}-interactions-<data id>"
            f"-r9') would be {longest} characters; the service allows {dataset_limit}",
        )
    batch_limit, _ = _name_rule("CreateBatchInferenceJob")
    for index, job in enumerate(poc.batch_inference):
        # The workflow appends the 8-character solution version id so each training gets its own job.
        if len(full_name(prefix, job.name)) + 9 > batch_limit:
            raise _FieldError(
                f"batch_inference[{index}].name",
                f"too long: with the prefix and the 9-character version suffix it exceeds {batch_limit}",
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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PocConfigError(f"{path}: POC definition not found") from None
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
        if isinstance(first.get("ctx", {}).get("error"), _FieldError):
            field, message = first["ctx"]["error"].field, str(first["ctx"]["error"]).split(": ", 1)[1]
        where = f"field '{field}'" if field else "top level"
        raise PocConfigError(f"{path}: {where}: {message}") from None
    try:
        schemas = resolve_schemas(poc, path.parent)
        fields = {kind: {f["name"] for f in schema["fields"]} for kind, schema in schemas.items()}
        for index, item in enumerate(poc.filters):
            problem = _filter_problem(item.expression, fields)
            if problem:
                raise _FieldError(f"filters[{index}].expression", problem)
        _check_names(poc, name_prefix)
    except _FieldError as exc:
        raise PocConfigError(f"{path}: field '{exc.field}': {str(exc).split(': ', 1)[1]}") from None
    return poc


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
                raise _FieldError(
                    field, f"{schema_path} is not JSON ({exc.msg} at line {exc.lineno})"
                ) from None
        else:
            schema = dataset.schema_
        problem = _schema_problem(schema, kind)
        if problem:
            raise _FieldError(field, problem)
        schemas[kind] = schema  # type: ignore[assignment]
    return schemas
