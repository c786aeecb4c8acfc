"""Turns a validated POC definition into the workflow's input: full names, S3 URIs, API-shaped options.

The plan is embedded in the state machine definition (a Pass state), so any change to the POC
definition shows up in `cdk diff` of the workflow.

Names: Personalize names are unique per account and region per resource type (each ARN is built from the
name), so every name the workflow gives carries the prefix *and* the dataset group: renaming the group
builds a second POC beside the first instead of colliding with its solutions, filters and campaigns.
Every derived name is checked here against the service model's limit and pattern (botocore `Name`:
1-63 characters, `^[a-zA-Z0-9][a-zA-Z0-9\\-_]*`), including the suffixes the workflow appends to job names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from personalize_poc.attribution import attribution_plan
from personalize_poc.domain import MIN_USE_CASE_EVENTS, recommender_config, serving_config, use_case
from personalize_poc.name_rules import name_rule
from personalize_poc.poc_definition import (
    RECIPES,
    PocConfigError,
    PocDefinition,
    SolutionConfig,
    dataset_name,
    full_name,
    resolve_schemas,
)
from personalize_poc.segments import segment_jobs_plan

IMPORT_PREFIX = "imports/"
BATCH_INPUT_PREFIX = "batch-input/"
BATCH_OUTPUT_PREFIX = "batch-output/"
REPORTS_PREFIX = "reports/"
# Written by the service for `personalize-poc data export` / read by it for `data delete-users`.
EXPORT_PREFIX = "exports/"
DELETION_PREFIX = "deletions/"
DATASET_TYPE_API = {"interactions": "Interactions", "items": "Items", "users": "Users"}
# What the ensure steps append to job names: imports '-<10 hex>' and a retry '-r9'; batch jobs '-<8 hex>'
# and a retry '-r9' (lambdas/poc_steps/ensure.py).
IMPORT_SUFFIX = len("-0123456789-r9")
BATCH_SUFFIX = len("-01234567-r9")




def _checked(name: str, operation: str, field: str, suffix: int = 0) -> str:
    """`name`, if the service accepts it (and it with the suffix the workflow appends) in `operation`."""
    limit, pattern = name_rule(operation)
    if len(name) + suffix > limit:
        extra = f" plus the {suffix}-character suffix the workflow appends" if suffix else ""
        raise PocConfigError(
            f"field '{field}': the generated name '{name}'{extra} is {len(name) + suffix} characters; "
            f"{operation} allows {limit}. Shorten the name, the dataset group name or the name prefix."
        )
    if not re.fullmatch(pattern, name):
        raise PocConfigError(f"field '{field}': the generated name '{name}' does not match {pattern}")
    return name


def scoped_name(prefix: str, group: str, name: str) -> str:
    """Names of what the workflow builds inside a dataset group: unique to the environment and the group."""
    return full_name(prefix, f"{group}-{name}")


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    """The environment's tags in the shape every Personalize Create* takes (botocore `Tags`)."""
    return [{"tagKey": key, "tagValue": value} for key, value in sorted((tags or {}).items())]


def _solution_config(solution: SolutionConfig) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if solution.algorithm_hyper_parameters:
        config["algorithmHyperParameters"] = dict(solution.algorithm_hyper_parameters)
    if solution.feature_transformation_parameters:
        config["featureTransformationParameters"] = dict(solution.feature_transformation_parameters)
    return config


def build_plan(
    poc: PocDefinition,
    *,
    config_dir: Path,
    name_prefix: str,
    bucket_name: str,
    role_arn: str,
    kms_key_arn: str | None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    schemas = resolve_schemas(poc, config_dir)
    group = poc.dataset_group.name
    s3 = f"s3://{bucket_name}/"
    tag_list = _tags(tags)
    filters = {
        f.name: _checked(scoped_name(name_prefix, group, f.name), "CreateFilter", f"filters[{i}].name")
        for i, f in enumerate(poc.filters)
    }
    plan: dict[str, Any] = {
        "namePrefix": name_prefix,
        "bucket": bucket_name,
        "roleArn": role_arn,
        "tags": tag_list,
        "datasetGroup": {
            "name": _checked(full_name(name_prefix, group), "CreateDatasetGroup", "dataset_group.name"),
            "kmsKeyArn": kms_key_arn,
            **_domain(poc),
            "tags": tag_list,
        },
        "datasets": [
            {
                "type": kind,
                "datasetType": DATASET_TYPE_API[kind],
                "name": _checked(
                    dataset_name(name_prefix, group, kind),
                    "CreateDatasetImportJob",
                    "dataset_group.name",
                    IMPORT_SUFFIX,
                ),
                "schema": json.dumps(schemas[kind], sort_keys=True, separators=(",", ":")),
                "dataKey": f"{IMPORT_PREFIX}{dataset.data_key}",
                "s3Uri": f"{s3}{IMPORT_PREFIX}{dataset.data_key}",
                "importMode": dataset.import_mode,
                # A domain dataset group's schemas are created with its domain (botocore CreateSchema.domain).
                **_domain(poc),
                "tags": tag_list,
            }
            for kind, dataset in sorted(poc.datasets.items(), key=lambda item: item[0])
        ],
        "solutions": [],
        "filters": [
            {"name": filters[f.name], "label": f.name, "expression": f.expression, "tags": tag_list}
            for f in poc.filters
        ],
        "eventTracker": {
            "enabled": poc.event_tracker,
            "name": _checked(scoped_name(name_prefix, group, "tracker"), "CreateEventTracker", "dataset_group.name"),
            "tags": tag_list,
        },
        "reportPrefix": REPORTS_PREFIX,
    }
    if poc.metric_attribution:
        plan["metricAttribution"] = attribution_plan(
            poc,
            name=lambda: _checked(
                scoped_name(name_prefix, group, "attribution"), "CreateMetricAttribution", "dataset_group.name"
            ),
            s3=s3,
        )
    if poc.recommenders:
        plan["recommenders"] = _recommenders(poc, name_prefix, tag_list)
    for index, solution in enumerate(poc.solutions):
        plan["solutions"].append(
            {
                "name": _checked(
                    scoped_name(name_prefix, group, solution.name), "CreateSolution", f"solutions[{index}].name"
                ),
                "label": solution.name,
                "recipe": solution.recipe,
                "recipeArn": f"arn:aws:personalize:::recipe/{solution.recipe}",
                "recipeType": RECIPES[solution.recipe].recipe_type,
                "baseline": solution.is_baseline,
                "performAutoTraining": solution.perform_auto_training,
                "performHPO": solution.perform_hpo,
                "performAutoML": solution.auto_ml,
                "trainingMode": solution.training_mode,
                "eventType": solution.event_type,
                "solutionConfig": _solution_config(solution),
                "tags": tag_list,
                "campaigns": [
                    {
                        "name": _checked(
                            scoped_name(name_prefix, group, c.name), "CreateCampaign", f"campaigns[{i}].name"
                        ),
                        "label": c.name,
                        "recipe": solution.recipe,
                        "minProvisionedTPS": c.min_provisioned_tps,
                        "campaignConfig": serving_config(c),
                        # A newly trained version replaces the one in service only if not worse on it.
                        "promotion": {"metric": poc.promotion.metric, "tolerance": poc.promotion.tolerance},
                        "tags": tag_list,
                    }
                    for i, c in enumerate(poc.campaigns)
                    if c.solution == solution.name
                ],
                "batchJobs": [
                    {
                        "name": _checked(
                            scoped_name(name_prefix, group, b.name),
                            "CreateBatchInferenceJob",
                            f"batch_inference[{i}].name",
                            BATCH_SUFFIX,
                        ),
                        "label": b.name,
                        "inputUri": f"{s3}{BATCH_INPUT_PREFIX}{b.input_key}",
                        "outputUri": f"{s3}{BATCH_OUTPUT_PREFIX}{b.output_prefix.rstrip('/')}/",
                        "numResults": b.num_results,
                        "filterName": filters[b.filter] if b.filter else None,
                        "tags": tag_list,
                    }
                    for i, b in enumerate(poc.batch_inference)
                    if b.solution == solution.name
                ],
                **_segment_jobs(
                    poc,
                    solution.name,
                    name_of=lambda name, field: _checked(
                        scoped_name(name_prefix, group, name), "CreateBatchSegmentJob", field, BATCH_SUFFIX
                    ),
                    s3=s3,
                    input_prefix=BATCH_INPUT_PREFIX,
                    output_prefix=BATCH_OUTPUT_PREFIX,
                    filters=filters,
                    tags=tag_list,
                ),
            }
        )
    return plan


def _segment_jobs(poc: PocDefinition, solution: str, **kwargs: Any) -> dict[str, Any]:
    """`segmentJobs` of a solution (personalize_poc/segments.py), only in a POC that has batch segment jobs."""
    return {"segmentJobs": segment_jobs_plan(poc, solution, **kwargs)} if poc.batch_segments else {}


def _recommenders(poc: PocDefinition, name_prefix: str, tag_list: list[dict[str, str]]) -> list[dict[str, Any]]:
    """A domain dataset group's recommenders: use case recipe ARN and RecommenderConfig (personalize_poc/domain.py)."""
    domain = poc.dataset_group.domain
    assert domain is not None  # the definition's checks: recommenders only in a domain dataset group
    return [
        {
            "name": _checked(
                scoped_name(name_prefix, poc.dataset_group.name, r.name), "CreateRecommender", f"recommenders[{i}].name"
            ),
            "label": r.name,
            "useCase": r.use_case,
            "recipeArn": use_case(domain, r.use_case).recipe_arn,
            "recommenderConfig": recommender_config(r),
            "tags": tag_list,
            **_required_events(domain, r.use_case),
        }
        for i, r in enumerate(poc.recommenders)
    ]


def _required_events(domain: str, name: str) -> dict[str, Any]:
    """`requiredEvents` where the use case needs events of one type (the use case pages: "At minimum, 1000
    View events"), for the data gate's warning; nothing where any type counts."""
    event_type = use_case(domain, name).event_type
    return {"requiredEvents": {"eventType": event_type, "minimum": MIN_USE_CASE_EVENTS}} if event_type else {}


def _domain(poc: PocDefinition) -> dict[str, str]:
    """`domain` for a domain dataset group and its schemas; nothing for a custom one (plans stay as they were)."""
    return {"domain": poc.dataset_group.domain} if poc.dataset_group.domain else {}
