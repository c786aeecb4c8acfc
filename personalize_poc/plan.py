"""Turns a validated POC definition into the workflow's input: full names, S3 URIs, API-shaped options.

The plan is embedded in the state machine definition (a Pass state), so any change to the POC
definition shows up in `cdk diff` of the workflow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from personalize_poc.poc_definition import (
    RECIPES,
    CampaignConfig,
    PocDefinition,
    SolutionConfig,
    dataset_name,
    full_name,
    resolve_schemas,
)

IMPORT_PREFIX = "imports/"
BATCH_INPUT_PREFIX = "batch-input/"
BATCH_OUTPUT_PREFIX = "batch-output/"
REPORTS_PREFIX = "reports/"
DATASET_TYPE_API = {"interactions": "Interactions", "items": "Items", "users": "Users"}


def _solution_config(solution: SolutionConfig) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if solution.algorithm_hyper_parameters:
        config["algorithmHyperParameters"] = dict(solution.algorithm_hyper_parameters)
    if solution.feature_transformation_parameters:
        config["featureTransformationParameters"] = dict(solution.feature_transformation_parameters)
    return config


def _campaign_config(campaign: CampaignConfig) -> dict[str, Any]:
    config: dict[str, Any] = {}
    exploration: dict[str, str] = {}
    if campaign.item_exploration_weight is not None:
        exploration["explorationWeight"] = str(campaign.item_exploration_weight)
    if campaign.exploration_item_age_cut_off is not None:
        exploration["explorationItemAgeCutOff"] = str(campaign.exploration_item_age_cut_off)
    if exploration:
        config["itemExplorationConfig"] = exploration
    if campaign.enable_metadata_with_recommendations:
        config["enableMetadataWithRecommendations"] = True
    return config


def build_plan(
    poc: PocDefinition,
    *,
    config_dir: Path,
    name_prefix: str,
    bucket_name: str,
    role_arn: str,
    kms_key_arn: str | None,
) -> dict[str, Any]:
    schemas = resolve_schemas(poc, config_dir)
    group = poc.dataset_group.name
    s3 = f"s3://{bucket_name}/"
    filters = {f.name: full_name(name_prefix, f.name) for f in poc.filters}
    plan: dict[str, Any] = {
        "namePrefix": name_prefix,
        "bucket": bucket_name,
        "roleArn": role_arn,
        "datasetGroup": {"name": full_name(name_prefix, group), "kmsKeyArn": kms_key_arn},
        "datasets": [
            {
                "type": kind,
                "datasetType": DATASET_TYPE_API[kind],
                "name": dataset_name(name_prefix, group, kind),
                "schema": json.dumps(schemas[kind], sort_keys=True, separators=(",", ":")),
                "dataKey": f"{IMPORT_PREFIX}{dataset.data_key}",
                "s3Uri": f"{s3}{IMPORT_PREFIX}{dataset.data_key}",
                "importMode": dataset.import_mode,
            }
            for kind, dataset in sorted(poc.datasets.items(), key=lambda item: item[0])
        ],
        "solutions": [],
        "filters": [
            {"name": filters[f.name], "label": f.name, "expression": f.expression} for f in poc.filters
        ],
        "eventTracker": {"enabled": poc.event_tracker, "name": full_name(name_prefix, f"{group}-tracker")},
        "reportPrefix": REPORTS_PREFIX,
    }
    for solution in poc.solutions:
        plan["solutions"].append(
            {
                "name": full_name(name_prefix, solution.name),
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
                "campaigns": [
                    {
                        "name": full_name(name_prefix, c.name),
                        "label": c.name,
                        "minProvisionedTPS": c.min_provisioned_tps,
                        "campaignConfig": _campaign_config(c),
                    }
                    for c in poc.campaigns
                    if c.solution == solution.name
                ],
                "batchJobs": [
                    {
                        "name": full_name(name_prefix, b.name),
                        "label": b.name,
                        "inputUri": f"{s3}{BATCH_INPUT_PREFIX}{b.input_key}",
                        "outputUri": f"{s3}{BATCH_OUTPUT_PREFIX}{b.output_prefix.rstrip('/')}/",
                        "numResults": b.num_results,
                        "filterName": filters[b.filter] if b.filter else None,
                    }
                    for b in poc.batch_inference
                    if b.solution == solution.name
                ],
            }
        )
    return plan
