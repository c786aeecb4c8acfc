"""Requests Amazon Personalize refuses, as pure functions on the request parameters the API receives.

The double (tests/support/personalize_double.py) calls these at the start of its Create* operations and turns a
ServiceRuleError into the operation's documented error (InvalidInputException in botocore's model for all of
them). They deliberately do not import personalize_poc: a rule the product forgets to check at synth still
fails the offline rehearsal here, as it would fail the real run.

Sources (developer guide pages unless a botocore shape is named):
- "Custom datasets and schemas": required fields, reserved keywords and their types, metadata fields;
  "Amazon Personalize endpoints and quotas": metadata field counts, one textual field per Items schema.
- "Filter expression structure and elements", "Guidelines and requirements" (filters), "Common error messages"
  (the service's wording: "Could not create filter. Invalid input symbol: ... Placeholders are not allowed
  with NOT_IN operator.").
- botocore: CampaignConfig.itemExplorationConfig, CreateSolutionVersion.trainingMode, CreateSolution.performAutoML.
- "Hyperparameters and HPO", "Preparing input data for batch recommendations" (no batch with Trending-Now),
  "Use case and recipe features" (User-Personalization-v2 handles exploration itself).

Keywords (INCLUDE, WHERE, IN ...) are read in any case, as the double echoes them upper-cased (its
normalized_filter_expression). Where the real behaviour is not documented, the stricter reading is modelled
(marked STRICTER below):
CreateFilter refuses a dataset the group does not have; IN/NOT IN take strings, comparisons numbers;
Popularity-Count and Trending-Now refuse performHPO.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from lark import Lark, Tree, UnexpectedInput


class ServiceRuleError(Exception):
    """The request would be refused; the message is in the service's style."""


_RECIPE_PREFIX = "arn:aws:personalize:::recipe/"
_EXPLORATION_RECIPES = {"aws-user-personalization"}
_UPDATE_RECIPES = {"aws-user-personalization", "aws-hrnn-coldstart"}
_NO_HPO_RECIPES = {
    "aws-user-personalization-v2",
    "aws-personalized-ranking-v2",
    "aws-popularity-count",
    "aws-trending-now",
}
_RELATED_ITEMS_RECIPES = {"aws-sims", "aws-similar-items"}
_NO_BATCH_RECIPES = {"aws-trending-now"}
_SEGMENTATION_RECIPES = {"aws-item-affinity", "aws-item-attribute-affinity"}

_TYPES = {"string", "int", "long", "float", "double", "boolean", "null"}
_NUMERIC = {"int", "long", "float", "double"}
_REQUIRED = {"INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"), "ITEMS": ("ITEM_ID",), "USERS": ("USER_ID",)}
# name -> (type, may be nullable); required fields and reserved keywords per dataset type.
_TYPED = {
    "INTERACTIONS": {
        "USER_ID": ("string", False),
        "ITEM_ID": ("string", False),
        "TIMESTAMP": ("long", False),
        "EVENT_TYPE": ("string", False),
        "EVENT_VALUE": ("float", True),
        "IMPRESSION": ("string", True),
        "RECOMMENDATION_ID": ("string", True),
        "EVENT_ATTRIBUTION_SOURCE": ("string", True),
    },
    "ITEMS": {"ITEM_ID": ("string", False), "CREATION_TIMESTAMP": ("long", False)},
    "USERS": {"USER_ID": ("string", False)},
}
_METADATA_RANGE = {"INTERACTIONS": (0, 5), "ITEMS": (1, 100), "USERS": (1, 25)}


def _recipe(recipe_arn: str) -> str:
    return recipe_arn.removeprefix(_RECIPE_PREFIX)


def _parsed(schema: str | Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(schema)) if isinstance(schema, str) else dict(schema)


def _types(field: Mapping[str, Any]) -> list[Any]:
    kind = field.get("type")
    return kind if isinstance(kind, list) else [kind]


# --- schemas and datasets ---------------------------------------------------------------------------------


def check_create_schema(params: Mapping[str, Any]) -> None:
    """CreateSchema: an Avro record whose fields use Personalize's types."""
    try:
        schema = json.loads(params["schema"])
    except ValueError as exc:
        raise ServiceRuleError(f"Invalid schema: not valid JSON ({exc.args[0]}).") from None
    if not isinstance(schema, dict) or schema.get("type") != "record" or not isinstance(schema.get("fields"), list):
        raise ServiceRuleError('Invalid schema: it must be an Avro record with "type": "record" and "fields".')
    for field in schema["fields"]:
        if not isinstance(field, dict) or "name" not in field:
            raise ServiceRuleError("Invalid schema: every field needs a name and a type.")
        types = _types(field)
        if not types or any(t not in _TYPES for t in types) or types == ["null"]:
            raise ServiceRuleError(
                f"Invalid schema: field {field['name']} has an unsupported type {field.get('type')}."
            )
        if (field.get("categorical") or field.get("textual")) and "string" not in types:
            raise ServiceRuleError(
                f"Invalid schema: only string fields can be categorical or textual ({field['name']})."
            )


def check_create_dataset(params: Mapping[str, Any], schema: str | Mapping[str, Any]) -> None:
    """CreateDataset: the schema must suit the dataset type (required fields, reserved types, metadata)."""
    dataset_type = str(params["datasetType"]).upper()
    if dataset_type not in _TYPED:
        return  # Actions datasets are outside this double's scope
    fields = _parsed(schema)["fields"]
    names = [f["name"] for f in fields]
    missing = [n for n in _REQUIRED[dataset_type] if n not in names]
    if missing:
        raise ServiceRuleError(
            f"The schema is missing required field(s) for a {dataset_type} dataset: {', '.join(missing)}."
        )
    for field in fields:
        if field.get("textual") and dataset_type != "ITEMS":
            raise ServiceRuleError(f"Only Items datasets support textual fields ({field['name']}).")
        typed = _TYPED[dataset_type].get(field["name"])
        if typed is None:
            continue
        expected, nullable = typed
        if sorted(_types(field)) not in ([[expected], sorted([expected, "null"])] if nullable else [[expected]]):
            raise ServiceRuleError(f"Field {field['name']} of a {dataset_type} dataset must be of type {expected}.")
        if field.get("categorical") and field["name"] not in _REQUIRED[dataset_type]:
            raise ServiceRuleError(f"Reserved field {field['name']} cannot be categorical.")
    metadata = [f for f in fields if f["name"] not in _TYPED[dataset_type]]
    low, high = _METADATA_RANGE[dataset_type]
    if len(metadata) > high:
        raise ServiceRuleError(
            f"A {dataset_type} dataset can have at most {high} metadata fields; the schema has {len(metadata)}."
        )
    usable = [f for f in metadata if set(_types(f)) & _NUMERIC or f.get("categorical") or f.get("textual")]
    if len(usable) < low:
        raise ServiceRuleError(f"A {dataset_type} dataset schema requires at least one metadata field.")
    if sum(1 for f in metadata if f.get("textual")) > 1:
        raise ServiceRuleError("An Items dataset can have at most 1 textual field.")


# --- filters ----------------------------------------------------------------------------------------------

_FILTER_GRAMMAR = r"""
start: expr ("|" expr)*
expr: ACTION TARGET "WHERE"i cond (("AND"i | "OR"i) cond)* ("IF"i ucond ("AND"i ucond)*)?
cond: DATASET "." NAME op
ucond: "CurrentUser" "." NAME op
op: IN_KW values -> in_op
  | "NOT"i "IN"i values -> not_in_op
  | CMP scalar -> cmp_op
IN_KW: "IN"i
values: "(" atom ("," atom)* ")" | item_ref
scalar: NUMBER | PARAM | "(" (NUMBER | PARAM) ")" | item_ref
atom: STRING | NUMBER | PARAM
item_ref: "CurrentItem" "." NAME
ACTION: "INCLUDE"i | "EXCLUDE"i
TARGET: "ItemID" | "UserID" | "ActionID"
DATASET: "Interactions" | "Items" | "Users" | "Actions" | "Action_Interactions"
CMP: "<=" | ">=" | "!=" | "=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
PARAM: /\$[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)/
%import common.WS
%ignore WS
"""


@functools.cache
def _filter_parser() -> Lark:
    return Lark(_FILTER_GRAMMAR, parser="lalr")


def _invalid_filter(detail: str) -> ServiceRuleError:
    return ServiceRuleError(f"Could not create filter. Invalid filter expression: {detail}")


def parse_filter_expression(expression: str) -> Tree[Any]:
    try:
        return _filter_parser().parse(expression)
    except UnexpectedInput as exc:
        raise _invalid_filter(f"unexpected input at column {getattr(exc, 'column', '?')}.") from None


def uses_current_item(expression: str) -> bool:
    return any(True for _ in parse_filter_expression(expression).find_data("item_ref"))


def check_create_filter(params: Mapping[str, Any], schemas_by_dataset_type: Mapping[str, Any]) -> None:
    """CreateFilter: the expression reads, and references fields of datasets the group has, as allowed."""
    tree = parse_filter_expression(params["filterExpression"])
    schemas = {
        kind.upper(): {f["name"]: f for f in _parsed(s)["fields"]} for kind, s in schemas_by_dataset_type.items()
    }
    used: set[tuple[str, str]] = set()
    for expr in tree.find_data("expr"):
        conds = [c for c in expr.children if isinstance(c, Tree)]
        first = str(conds[0].children[0])
        for cond in conds:
            dataset = "CurrentUser" if cond.data == "ucond" else str(cond.children[0])
            name = str(cond.children[-2])
            if cond.data == "cond" and dataset != first:
                raise _invalid_filter(
                    f"conditions chained with AND/OR must use the {first} dataset ({dataset}.{name})."
                )
            used.add((dataset, name))
            _check_filter_field(dataset, name, cond.children[-1], schemas)
    if len(used) > 10:
        raise _invalid_filter("a filter can use at most 10 distinct dataset fields.")


def _check_filter_field(dataset: str, name: str, op: Tree[Any], schemas: Mapping[str, Mapping[str, Any]]) -> None:
    kind = "USERS" if dataset == "CurrentUser" else dataset.upper()
    if kind not in schemas:  # STRICTER: documented only as "Invalid Expression"
        raise _invalid_filter(f"the dataset group has no {dataset} dataset.")
    if kind == "INTERACTIONS" and name != "EVENT_TYPE":
        raise _invalid_filter("item interactions can be filtered by EVENT_TYPE only.")
    field = schemas[kind].get(name)
    if field is None:
        raise _invalid_filter(f"{dataset}.{name} is not a field of the {dataset} dataset.")
    types = set(_types(field))
    if "boolean" in types or field.get("textual"):
        raise _invalid_filter(f"{dataset}.{name} is a boolean or textual field, which filters cannot use.")
    for ref in op.find_data("item_ref"):
        if str(ref.children[0]) not in schemas.get("ITEMS", {}):
            raise _invalid_filter(f"CurrentItem.{ref.children[0]} is not a field of the Items dataset.")
    tokens = [t for t in op.scan_values(lambda v: True)]
    params = [str(t) for t in tokens if getattr(t, "type", "") == "PARAM"]
    if op.data == "not_in_op" and params:
        raise ServiceRuleError(
            f"Could not create filter. Invalid input symbol: {params[0]}. "
            "Placeholders are not allowed with NOT_IN operator."
        )
    if any(str(t) == '"*"' for t in tokens) and (dataset, name) != ("Interactions", "EVENT_TYPE"):
        raise _invalid_filter('"*" can only be used with Interactions.EVENT_TYPE.')
    if op.data in ("in_op", "not_in_op") and "string" not in types:  # STRICTER
        raise _invalid_filter(f"IN and NOT IN need a string field; {dataset}.{name} is not one.")
    if op.data == "cmp_op" and not types & _NUMERIC:  # STRICTER
        raise _invalid_filter(f"comparison operators need a numeric field; {dataset}.{name} is not one.")


# --- solutions, versions, campaigns, batch jobs -----------------------------------------------------------


def check_create_solution(
    params: Mapping[str, Any], recipe_arn: str | None, schemas_by_dataset_type: Mapping[str, Any] | None = None
) -> None:
    recipe = _recipe(recipe_arn or "")
    if params.get("performHPO") and recipe in _NO_HPO_RECIPES:
        raise ServiceRuleError(f"performHPO is not supported for the recipe {recipe_arn}.")
    if "eventType" in params and schemas_by_dataset_type is not None:
        interactions = {k.upper(): v for k, v in schemas_by_dataset_type.items()}.get("INTERACTIONS")
        if interactions is not None and "EVENT_TYPE" not in {f["name"] for f in _parsed(interactions)["fields"]}:
            raise ServiceRuleError("eventType requires an EVENT_TYPE field in the Interactions dataset schema.")


def check_create_solution_version(params: Mapping[str, Any], recipe_arn: str | None, is_first: bool) -> None:
    if params.get("trainingMode", "FULL") != "UPDATE":
        return
    if _recipe(recipe_arn or "") not in _UPDATE_RECIPES:
        raise ServiceRuleError(
            "trainingMode UPDATE can only be used with the User-Personalization recipe "
            "or the legacy HRNN-Coldstart recipe."
        )
    if is_first:
        raise ServiceRuleError(
            "trainingMode UPDATE requires an active solution version created with trainingMode FULL."
        )


def check_create_campaign(
    params: Mapping[str, Any], recipe_arn: str | None, schemas_by_dataset_type: Mapping[str, Any] | None = None
) -> None:
    config = params.get("campaignConfig") or {}
    if config.get("itemExplorationConfig") and _recipe(recipe_arn or "") not in _EXPLORATION_RECIPES:
        raise ServiceRuleError(
            "itemExplorationConfig is only supported for solutions that use the User-Personalization recipe."
        )
    if config.get("enableMetadataWithRecommendations") and schemas_by_dataset_type is not None:
        items = {k.upper(): v for k, v in schemas_by_dataset_type.items()}.get("ITEMS")
        if items is None or not [f for f in _parsed(items)["fields"] if f["name"] != "ITEM_ID"]:
            raise ServiceRuleError(
                "enableMetadataWithRecommendations requires an Items dataset with a metadata column."
            )


def check_create_batch_inference_job(
    params: Mapping[str, Any], recipe_arn: str | None, filter_expression: str | None = None
) -> None:
    recipe = _recipe(recipe_arn or "")
    if recipe in _NO_BATCH_RECIPES:
        raise ServiceRuleError("You can't get batch recommendations with the Trending-Now recipe.")
    if recipe in _SEGMENTATION_RECIPES:
        # "USER_SEGMENTATION recipes": their solution versions serve batch segment jobs only.
        raise ServiceRuleError(f"A solution version of {recipe} (USER_SEGMENTATION) cannot run a batch inference job.")
    source = params["jobInput"]["s3DataSource"]["path"]
    destination = params["jobOutput"]["s3DataDestination"]["path"]
    for label, path in (("input", source), ("output", destination)):
        bucket, _, key = path.removeprefix("s3://").partition("/")
        if not path.startswith("s3://") or not bucket or not key:
            raise ServiceRuleError(f"Invalid S3 {label} path")
    if destination.rstrip("/") == source.rstrip("/"):
        raise ServiceRuleError("Invalid S3 output path: the output location must differ from the input.")
    if filter_expression is not None and uses_current_item(filter_expression) and recipe not in _RELATED_ITEMS_RECIPES:
        raise ServiceRuleError("Filters with CurrentItem can only be used with recipes that generate related items.")
