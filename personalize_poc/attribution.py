"""Metric attribution in the POC definition (`metric_attribution:`): reports on the impact of
recommendations, per event type, to CloudWatch and (optionally) the data bucket.

Sources (Amazon Personalize developer guide unless a botocore shape is named):
- botocore `CreateMetricAttribution`: `metrics` 1-10 `MetricAttribute`s (`eventType`, `metricName`,
  `expression`, each at most 256 characters); `metricsOutputConfig.roleArn` required,
  `s3DataDestination` optional. The operation has no `tags` member.
- botocore `MetricAttribute.expression`: "Available functions are SUM() or SAMPLECOUNT(). For SUM()
  functions, provide the dataset type (either Interactions or Items) and column to sum as a parameter".
- "Creating an Amazon Personalize metric attribution": "You can apply SUM() functions to only numeric
  columns of Items and Item interactions datasets" (and an Items column needs item metadata imported).
- "Guidelines and requirements for a metric attribution": the Item interactions dataset must have an
  EVENT_TYPE column; at most one metric attribution per dataset group, with at most 10 metrics; the
  role needs CloudWatch PutMetricData and, for S3 reports, write access to the bucket path; metrics
  cost CloudWatch money every month until the attribution is deleted.
- "Publishing and viewing results": PutEvents data and incremental bulk imports are reported to
  CloudWatch automatically; bulk imports to the S3 path when one is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from personalize_poc.poc_definition import PocDefinition

#: Where the S3 reports go in the data bucket (the Personalize role may write there).
ATTRIBUTION_OUTPUT_PREFIX = "metric-attribution/"
#: botocore CreateMetricAttribution.metrics (MetricAttributes max 10); the guide: at most 10 metrics.
MAX_METRICS = 10
_NUMERIC = frozenset({"int", "long", "float", "double"})
_SUM = re.compile(r"SUM\(\s*(\w+)\.(\w+)\s*\)")
_SAMPLECOUNT = re.compile(r"SAMPLECOUNT\(\s*\)")
_DATASETS = {"Interactions": "interactions", "Items": "items"}


class MetricConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=256)]
    event_type: Annotated[str, Field(min_length=1, max_length=256)]
    expression: Annotated[str, Field(min_length=1, max_length=256)]


class MetricAttributionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: Annotated[list[MetricConfig], Field(min_length=1, max_length=MAX_METRICS)]
    # CloudWatch gets the metrics whatever this says (the service sends them); this adds S3 reports.
    publish_to_s3: bool = True


def _field_types(schema: dict[str, Any]) -> dict[str, set[str]]:
    """Each field's Avro type names (a nullable union counts as its non-null types)."""
    types: dict[str, set[str]] = {}
    for item in schema.get("fields", []):
        kind = item["type"]
        names = {t for t in kind if isinstance(t, str)} if isinstance(kind, list) else {str(kind)}
        types[item["name"]] = names - {"null"}
    return types


def expression_problem(expression: str, schemas: dict[str, dict[str, Any]]) -> str | None:
    """What is wrong with a metric expression against the POC's schemas, or None."""
    text = expression.strip()
    if _SAMPLECOUNT.fullmatch(text):
        return None
    match = _SUM.fullmatch(text)
    if match is None:
        return f"'{expression}' is neither SAMPLECOUNT() nor SUM(Interactions.<field>) / SUM(Items.<field>)"
    dataset, column = match.groups()
    if dataset not in _DATASETS:
        return f"'{expression}': SUM() takes a column of Interactions or Items, not {dataset}"
    schema = schemas.get(_DATASETS[dataset])
    if schema is None:
        return f"'{expression}': the POC defines no {_DATASETS[dataset]} dataset"
    types = _field_types(schema)
    if column not in types:
        return f"'{expression}': the {_DATASETS[dataset]} schema has no field {column}"
    if not types[column] & _NUMERIC:
        return f"'{expression}': {column} is {'/'.join(sorted(types[column]))}; SUM() needs a numeric column"
    return None


def check_attribution(poc: PocDefinition, schemas: dict[str, dict[str, Any]]) -> None:
    """The attribution's metrics against the interactions (and items) schema, naming the field."""
    from personalize_poc.poc_definition import _FieldError

    config = poc.metric_attribution
    if config is None:
        return
    if "EVENT_TYPE" not in _field_types(schemas["interactions"]):
        # "Guidelines and requirements for a metric attribution": the interactions need an EVENT_TYPE column.
        raise _FieldError("metric_attribution", "the interactions schema has no EVENT_TYPE field to report on")
    seen: set[str] = set()
    for index, metric in enumerate(config.metrics):
        if metric.name in seen:
            raise _FieldError(f"metric_attribution.metrics[{index}].name", f"'{metric.name}' is used twice")
        seen.add(metric.name)
        problem = expression_problem(metric.expression, schemas)
        if problem:
            raise _FieldError(f"metric_attribution.metrics[{index}].expression", problem)


def attribution_plan(poc: PocDefinition, *, name: Callable[[], str], s3: str) -> dict[str, Any]:
    """The plan's `metricAttribution`: disabled when the definition has none (the workflow skips it)."""
    config = poc.metric_attribution
    if config is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "name": name(),
        "metrics": [
            {"eventType": m.event_type, "metricName": m.name, "expression": m.expression.strip()}
            for m in config.metrics
        ],
        # No tags: CreateMetricAttribution has no tags member (botocore).
        "s3Path": f"{s3}{ATTRIBUTION_OUTPUT_PREFIX}" if config.publish_to_s3 else None,
    }
