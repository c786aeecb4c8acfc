"""Domain dataset groups (ECOMMERCE, VIDEO_ON_DEMAND) and their recommenders, checked at synth time.

A dataset group created with `domain` takes schemas created with the same `domain` (botocore
CreateDatasetGroup.domain and CreateSchema.domain, enum `Domain`: ECOMMERCE | VIDEO_ON_DEMAND), whose
fields must meet the domain's requirements, and recommenders whose recipe is one of the domain's use
cases (botocore CreateRecommender.recipeArn: "the recipe (a Domain dataset group use case)").

Sources (Amazon Personalize developer guide):
- "ECOMMERCE datasets and schemas", "Item interactions dataset requirements (ECOMMERCE domain)",
  "Items dataset requirements (ECOMMERCE domain)": required fields and reserved keywords per dataset type.
- "VIDEO_ON_DEMAND datasets and schemas", "Items dataset requirements (VIDEO_ON_DEMAND domain)": the
  same for VIDEO_ON_DEMAND; "Reserved categorical string fields must have categorical set to true, while
  reserved string fields can't be categorical."
- "ECOMMERCE use cases", "VIDEO_ON_DEMAND use cases": each use case's recipe ARN, the datasets it trains
  on and its required event types ("At minimum, 1000 Watch events"); for all use cases 1000 interactions
  and 25 users with two or more.
Custom solutions and campaigns may be added to a domain dataset group as well ("Domain dataset groups":
"you can also add custom resources such as solutions ... to a Domain dataset group").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Domain = Literal["ECOMMERCE", "VIDEO_ON_DEMAND"]
RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"
#: Events a use case needs at least of (the use case pages: "At minimum, 1000 <type> events").
MIN_USE_CASE_EVENTS = 1000


@dataclass(frozen=True)
class UseCase:
    recipe: str  # the recipe name in its ARN, arn:aws:personalize:::recipe/<recipe>
    required_datasets: tuple[str, ...]  # "Datasets used when training: ... (required)"
    event_type: str | None  # "Required event types": the EVENT_TYPE value, None where any type counts
    personalized: bool  # recommendations for a user: item exploration applies (RecommenderConfig docs)

    @property
    def recipe_arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.recipe


# Keyed by the short names the POC definition uses; the recipe names are the guide's ARNs. Two versions of
# each page were read: the older one (awsdocs/amazon-personalize-developer-guide, doc_source/<page>.md) and
# the current one (docs.aws.amazon.com/personalize/latest/dg/<page>.html). Where they differ, or one is
# silent, the entry takes the STRICTER rule; each such entry says so.
_ECOMMERCE_PAGE = "https://docs.aws.amazon.com/personalize/latest/dg/ECOMMERCE-use-cases.html"
_VOD_PAGE = "https://docs.aws.amazon.com/personalize/latest/dg/VIDEO_ON_DEMAND-use-cases.html"
USE_CASES: dict[str, dict[str, UseCase]] = {
    "ECOMMERCE": {
        # Both versions: "Only Item interactions dataset (required)", "At minimum, 1000 View events".
        "most-viewed": UseCase("aws-ecomm-popular-items-by-views", ("interactions",), "View", False),
        # Both versions: interactions only, "At minimum, 1000 Purchase events".
        "best-sellers": UseCase("aws-ecomm-popular-items-by-purchases", ("interactions",), "Purchase", False),
        # Both versions: interactions only, "At minimum, 1000 Purchase events".
        "frequently-bought-together": UseCase(
            "aws-ecomm-frequently-bought-together", ("interactions",), "Purchase", False
        ),
        # Both versions: interactions only, "At minimum, 1000 View events" (Purchase recommended).
        "customers-who-viewed-x-also-viewed": UseCase(
            "aws-ecomm-customers-who-viewed-x-also-viewed", ("interactions",), "View", False
        ),
        # Older: "At minimum, 1000 View events"; current: "At minimum, 1000 events" (View and Purchase
        # recommended), items and users optional. STRICTER: 1000 View events.
        "recommended-for-you": UseCase("aws-ecomm-recommended-for-you", ("interactions",), "View", True),
    },
    "VIDEO_ON_DEMAND": {
        # Both versions: "Only Item interactions dataset (required)", "At minimum, 1000 Watch events".
        "because-you-watched-x": UseCase("aws-vod-because-you-watched-x", ("interactions",), "Watch", False),
        # Both versions: "Interactions (required)", "Items (required)". Older: "At minimum, 1000 Watch
        # events"; current: "At minimum, 1000 events of any type" (Watch and Click recommended).
        # STRICTER: 1000 Watch events.
        "more-like-x": UseCase("aws-vod-more-like-x", ("interactions", "items"), "Watch", False),
        # Both versions: interactions only, "At minimum, 1000 Watch events".
        "most-popular": UseCase("aws-vod-most-popular", ("interactions",), "Watch", False),
        # Current only (the older page has no Trending now): "Only Item interactions dataset (required)",
        # "At minimum, 1000 events of any type" - the 1000 interactions every use case needs.
        "trending-now": UseCase("aws-vod-trending-now", ("interactions",), None, False),
        # Older: "Interactions dataset and Items dataset", "At minimum, 1000 Watch events"; current:
        # interactions required, items and users optional, "At minimum, 1000 events" (Click and Watch
        # recommended). STRICTER: an items dataset and 1000 Watch events.
        "top-picks": UseCase("aws-vod-top-picks", ("interactions", "items"), "Watch", True),
    },
}
#: The page each domain's use cases come from, cited in messages about them.
USE_CASE_PAGES = {"ECOMMERCE": _ECOMMERCE_PAGE, "VIDEO_ON_DEMAND": _VOD_PAGE}

# Per domain and dataset type: fields the schema must have, as (Avro type, categorical); then reserved
# keywords, optional but of this type when present (nullable where the guide lists `null`).
_Field = tuple[str, bool, bool]  # (type, nullable, categorical)
# Both domains: the same interactions and users fields.
_DOMAIN_INTERACTIONS: dict[str, _Field] = {
    "USER_ID": ("string", False, False),
    "ITEM_ID": ("string", False, False),
    "TIMESTAMP": ("long", False, False),
    "EVENT_TYPE": ("string", False, False),
}
_DOMAIN_USERS: dict[str, _Field] = {"USER_ID": ("string", False, False)}
REQUIRED_DOMAIN_FIELDS: dict[str, dict[str, dict[str, _Field]]] = {
    "ECOMMERCE": {
        "interactions": _DOMAIN_INTERACTIONS,
        "items": {
            "ITEM_ID": ("string", False, False),
            "PRICE": ("float", False, False),
            "CATEGORY_L1": ("string", False, True),
        },
        "users": _DOMAIN_USERS,
    },
    "VIDEO_ON_DEMAND": {
        "interactions": _DOMAIN_INTERACTIONS,
        "items": {
            "ITEM_ID": ("string", False, False),
            "GENRES": ("string", False, True),
            "CREATION_TIMESTAMP": ("long", False, False),
        },
        "users": _DOMAIN_USERS,
    },
}
RESERVED_DOMAIN_FIELDS: dict[str, dict[str, dict[str, _Field]]] = {
    "ECOMMERCE": {
        "interactions": {
            "EVENT_VALUE": ("float", True, False),
            "IMPRESSION": ("string", True, False),
            "RECOMMENDATION_ID": ("string", True, False),
        },
        "items": {
            "CATEGORY_L2": ("string", True, True),
            "CATEGORY_L3": ("string", True, True),
            "PRODUCT_DESCRIPTION": ("string", True, False),
            "AGE_GROUP": ("string", True, True),
            "ADULT": ("string", True, True),
            "GENDER": ("string", True, True),
        },
        "users": {},
    },
    "VIDEO_ON_DEMAND": {
        "interactions": {
            "EVENT_VALUE": ("float", True, False),
            "IMPRESSION": ("string", True, False),
            "RECOMMENDATION_ID": ("string", True, False),
            "EVENT_ATTRIBUTION_SOURCE": ("string", True, False),
        },
        "items": {
            "PRICE": ("float", False, False),
            "DURATION": ("float", False, False),
            "GENRE_L2": ("string", True, True),
            "GENRE_L3": ("string", True, True),
            "AVERAGE_RATING": ("float", True, False),
            "PRODUCT_DESCRIPTION": ("string", True, False),
            "CONTENT_OWNER": ("string", True, True),
            "CONTENT_CLASSIFICATION": ("string", True, True),
        },
        "users": {"SUBSCRIPTION_MODEL": ("string", True, True)},
    },
}
# PRODUCT_DESCRIPTION is the guide's "textual string": textual, never categorical.
_TEXTUAL = frozenset({"PRODUCT_DESCRIPTION"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingColumns(_Strict):
    """botocore TrainingDataConfig: per dataset type, the columns to leave out of training (or the only
    ones to use). At most 3 dataset types, 50 columns each (the shape's map/list limits)."""

    excluded: dict[Literal["interactions", "items", "users"], Annotated[list[str], Field(max_length=50)]] = {}
    included: dict[Literal["interactions", "items", "users"], Annotated[list[str], Field(max_length=50)]] = {}


class RecommenderOptions(_Strict):
    """botocore RecommenderConfig, minus minRecommendationRequestsPerSecond (a field of its own)."""

    item_exploration_weight: Annotated[float | None, Field(ge=0, le=1)] = None
    exploration_item_age_cut_off: Annotated[int | None, Field(ge=1, le=3650)] = None
    enable_metadata_with_recommendations: bool = False
    training_columns: TrainingColumns = TrainingColumns()


class RecommenderConfig(_Strict):
    name: str
    use_case: str
    # botocore RecommenderConfig.minRecommendationRequestsPerSecond: min 1, "the default" 1; billed by it.
    min_recommendation_requests_per_second: Annotated[int, Field(ge=1)] = 1
    config: RecommenderOptions = RecommenderOptions()

    @field_validator("use_case")
    @classmethod
    def _known(cls, value: str) -> str:
        known = {name for cases in USE_CASES.values() for name in cases}
        if value not in known:
            raise ValueError(f"unknown use case '{value}'; the domains' use cases: {', '.join(sorted(known))}")
        return value


class DomainError(ValueError):
    """A domain rule broken; `field` names the POC definition's field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def use_case(domain: str, name: str) -> UseCase:
    return USE_CASES[domain][name]


@dataclass(frozen=True)
class EventNeed:
    """A recommender's use case needs ``minimum`` interactions whose EVENT_TYPE is ``event_type``."""

    recommender: str
    use_case: str
    event_type: str
    minimum: int
    page: str  # the use case page that says so


def event_needs(domain: str | None, recommenders: list[RecommenderConfig]) -> list[EventNeed]:
    """Per recommender whose use case requires an event type: what it needs ("At minimum, 1000 <type>
    events", the use case pages); empty for a custom dataset group or use cases where any type counts."""
    if domain is None:
        return []
    needs = []
    for recommender in recommenders:
        event_type = USE_CASES[domain][recommender.use_case].event_type
        if event_type is not None:
            needs.append(
                EventNeed(
                    recommender.name, recommender.use_case, event_type, MIN_USE_CASE_EVENTS, USE_CASE_PAGES[domain]
                )
            )
    return needs


def _members(field_type: Any) -> list[Any]:
    return field_type if isinstance(field_type, list) else [field_type]


def domain_schema_problem(schema: dict[str, Any], dataset_type: str, domain: str) -> str | None:
    """What the domain refuses in this (already custom-valid) schema, in one line; None if fine."""
    fields = {f["name"]: f for f in schema["fields"]}
    for name, (kind, _, categorical) in REQUIRED_DOMAIN_FIELDS[domain][dataset_type].items():
        if name not in fields:
            described = f"categorical {kind}" if categorical else kind
            return f"{domain} {dataset_type} schemas need the field {name} ({described})"
    specs = {**RESERVED_DOMAIN_FIELDS[domain][dataset_type], **REQUIRED_DOMAIN_FIELDS[domain][dataset_type]}
    for name, (kind, nullable, categorical) in specs.items():
        if name not in fields:
            continue
        members = _members(fields[name].get("type"))
        allowed = [[kind], [kind, "null"], ["null", kind]] if nullable else [[kind]]
        if members not in allowed:
            optional = f' (or ["null", "{kind}"])' if nullable else ""
            return f'field {name}: in {domain} {dataset_type} schemas its type must be "{kind}"{optional}'
        if bool(fields[name].get("categorical")) != categorical:
            should = "must be" if categorical else "cannot be"
            return f"field {name}: in {domain} schemas this field {should} categorical"
        if name in _TEXTUAL and not fields[name].get("textual"):
            return f"field {name}: in {domain} schemas this field must be textual"
    return None


def check_domain(
    domain: str | None,
    recommenders: list[RecommenderConfig],
    schemas: dict[str, dict[str, Any]],
    schema_fields: dict[str, str] | None = None,
) -> None:
    """Schemas against the domain (an error names ``schema_fields[type]``, the definition's field of that
    schema, else ``datasets.<type>.schema``); each recommender's use case in the domain, its datasets present, its
    options suited to it. Raises DomainError naming the field."""
    if domain is None:
        if recommenders:
            raise DomainError("recommenders", "recommenders need a domain dataset group (set dataset_group.domain)")
        return
    for dataset_type, schema in schemas.items():
        problem = domain_schema_problem(schema, dataset_type, domain)
        if problem:
            raise DomainError((schema_fields or {}).get(dataset_type, f"datasets.{dataset_type}.schema"), problem)
    for index, recommender in enumerate(recommenders):
        _check_recommender(domain, index, recommender, schemas)


def _check_recommender(
    domain: str, index: int, recommender: RecommenderConfig, schemas: dict[str, dict[str, Any]]
) -> None:
    field = f"recommenders[{index}]"
    cases = USE_CASES[domain]
    if recommender.use_case not in cases:
        raise DomainError(
            f"{field}.use_case",
            f"'{recommender.use_case}' is not a {domain} use case; {domain} has: {', '.join(sorted(cases))}",
        )
    case = cases[recommender.use_case]
    for needed in case.required_datasets:
        if needed not in schemas:
            raise DomainError(
                f"{field}.use_case",
                f"recommender '{recommender.name}' ({recommender.use_case}) trains on an {needed} dataset, which "
                f"the config does not define (datasets.{needed}; {USE_CASE_PAGES[domain]})",
            )
    options = recommender.config
    for name in ("item_exploration_weight", "exploration_item_age_cut_off"):
        # RecommenderConfig.itemExplorationConfig: "only if your recommenders generate personalized
        # recommendations for a user (not popular items or similar items)".
        if getattr(options, name) is not None and not case.personalized:
            raise DomainError(
                f"{field}.config.{name}",
                f"item exploration is only for use cases that recommend for a user, not {recommender.use_case}",
            )
    if options.enable_metadata_with_recommendations and "items" not in schemas:
        raise DomainError(
            f"{field}.config.enable_metadata_with_recommendations", "needs an items dataset with metadata columns"
        )
    for kind, listed in (
        ("excluded", options.training_columns.excluded),
        ("included", options.training_columns.included),
    ):
        for dataset_type, columns in listed.items():
            where = f"{field}.config.training_columns.{kind}.{dataset_type}"
            if dataset_type not in schemas:
                raise DomainError(where, f"the config defines no '{dataset_type}' dataset")
            names = {f["name"] for f in schemas[dataset_type]["fields"]}
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise DomainError(where, f"{', '.join(unknown)} not in the {dataset_type} schema")


def serving_config(options: Any) -> dict[str, Any]:
    """Item exploration and metadata in recommendations, as a campaign's CampaignConfig and a recommender's
    RecommenderConfig both take them (botocore shapes); ``options`` has the definition's field names."""
    config: dict[str, Any] = {}
    exploration: dict[str, str] = {}
    if options.item_exploration_weight is not None:
        exploration["explorationWeight"] = str(options.item_exploration_weight)
    if options.exploration_item_age_cut_off is not None:
        exploration["explorationItemAgeCutOff"] = str(options.exploration_item_age_cut_off)
    if exploration:
        config["itemExplorationConfig"] = exploration
    if options.enable_metadata_with_recommendations:
        config["enableMetadataWithRecommendations"] = True
    return config


def recommender_config(recommender: RecommenderConfig) -> dict[str, Any]:
    """The RecommenderConfig to send (botocore shape), with minRecommendationRequestsPerSecond."""
    options = recommender.config
    config: dict[str, Any] = {
        "minRecommendationRequestsPerSecond": recommender.min_recommendation_requests_per_second,
        **serving_config(options),
    }
    training: dict[str, Any] = {}
    api = {"interactions": "Interactions", "items": "Items", "users": "Users"}
    if options.training_columns.excluded:
        training["excludedDatasetColumns"] = {
            api[k]: list(v) for k, v in sorted(options.training_columns.excluded.items())
        }
    if options.training_columns.included:
        training["includedDatasetColumns"] = {
            api[k]: list(v) for k, v in sorted(options.training_columns.included.items())
        }
    if training:
        config["trainingDataConfig"] = training
    return config
