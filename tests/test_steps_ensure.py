"""The ensure steps against the real boto3 Personalize client, answered by botocore's Stubber.

Every request the code builds is checked three ways: botocore's own parameter validation, the full
service model (length, pattern, enum: `install_model_validation`), and the Stubber's expected
parameters, which are the exact request. Specs and refs come from the plan of the sample POC, so the
names are the ones a real deployment sends.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import load_poc_definition
from personalize_poc.settings import PROJECT_ROOT
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.service_model import RequestValidationError, install_model_validation

# isort: split
from poc_steps import statuses
from poc_steps.adapter import DESCRIPTIONS, LISTINGS, PersonalizeAdapter
from poc_steps.ensure import ENSURE, ensure, result
from poc_steps.errors import ConfigConflict, QuotaExceeded, ResourceBusy, ResourceFailed, Throttled

ACCOUNT = "123456789012"
BUCKET = "ppoc-dev-data"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ppoc-dev-personalize"
PLAN = build_plan(
    load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", "ppoc-dev"),
    config_dir=PROJECT_ROOT / "config",
    name_prefix="ppoc-dev",
    bucket_name=BUCKET,
    role_arn=ROLE_ARN,
    kms_key_arn=None,
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MODEL = botocore.session.get_session().get_service_model("personalize")
REASON = "Input CSV is missing the following columns: [TIMESTAMP]"


def arn(resource: str) -> str:
    return f"arn:aws:personalize:us-east-1:{ACCOUNT}:{resource}"


GROUP_ARN = arn("dataset-group/ppoc-dev-retail")
DATASET_ARN = arn("dataset/ppoc-dev-retail/INTERACTIONS")
SCHEMA_ARN = arn("schema/ppoc-dev-retail-interactions")
SOLUTION_ARN = arn("solution/ppoc-dev-retail-user-personalization")
VERSION_ARN = arn("solution/ppoc-dev-retail-user-personalization/1a2b3c4d")
CAMPAIGN_ARN = arn("campaign/ppoc-dev-retail-user-personalization")
FILTER_ARN = arn("filter/ppoc-dev-retail-exclude-purchased")
TRACKER_ARN = arn("event-tracker/0f1e2d3c")
ETAG = '"9b2cf535f27731c974343645a3985328"'
DATASET_CREATED = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
# Import jobs are named after the data (ETag) and the dataset's incarnation (ARN + creation time).
IMPORT_ID = f"{DATASET_ARN}|{DATASET_CREATED.timestamp():.3f}|{ETAG.strip(chr(34))}"
IMPORT_NAME = "ppoc-dev-retail-interactions-" + hashlib.sha256(IMPORT_ID.encode()).hexdigest()[:10]
IMPORT_ARN = arn(f"dataset-import-job/{IMPORT_NAME}")
BATCH_NAME = "ppoc-dev-retail-up-batch-1a2b3c4d"
BATCH_ARN = arn(f"batch-inference-job/{BATCH_NAME}")


# --- the stubbed service -----------------------------------------------------------------------------


@dataclass
class Service:
    """The Personalize and S3 stubs behind one adapter."""

    personalize: Stubber
    s3: Stubber
    adapter: PersonalizeAdapter

    def ok(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        self.personalize.add_response(operation, response, params)

    def error(self, operation: str, params: dict[str, Any] | None, code: str, message: str = "stubbed") -> None:
        self.personalize.add_client_error(
            operation,
            service_error_code=code,
            service_message=message,
            http_status_code=400,
            expected_params=params,
        )

    def etag(self, key: str = "imports/interactions.csv", etag: str = ETAG) -> None:
        """An import's first look-ups: the dataset (its creation time names the job) and the object's ETag."""
        dataset = {
            "name": DATASET_SPEC["name"],
            "datasetArn": DATASET_ARN,
            "datasetType": "INTERACTIONS",
            "status": "ACTIVE",
            "creationDateTime": DATASET_CREATED,
        }
        self.ok("describe_dataset", {"datasetArn": DATASET_ARN}, {"dataset": dataset})
        self.s3.add_response("head_object", {"ETag": etag, "ContentLength": 1}, {"Bucket": BUCKET, "Key": key})

    def ensure(self, kind: str, spec: dict[str, Any], refs: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
        outcome = ensure(self.adapter, kind, spec, refs, attempt)
        self.verify()
        return outcome

    def verify(self) -> None:
        """Every queued answer was asked for: the code made exactly the calls the test expects."""
        self.personalize.assert_no_pending_responses()
        self.s3.assert_no_pending_responses()


@pytest.fixture(scope="module")
def clients() -> tuple[Any, Any]:
    """Made once (a client takes a while to build); each test gets fresh Stubbers on them."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    personalize = install_model_validation(boto3.client("personalize", region_name="us-east-1", **credentials))
    s3 = install_model_validation(boto3.client("s3", region_name="us-east-1", **credentials))
    return personalize, s3


@pytest.fixture
def service(clients: tuple[Any, Any]) -> Iterator[Service]:
    personalize, s3 = clients
    with Stubber(personalize) as personalize_stub, Stubber(s3) as s3_stub:
        yield Service(personalize_stub, s3_stub, PersonalizeAdapter(personalize, s3))


# --- each kind: how it is looked up, created and described --------------------------------------------


@dataclass
class Kind:
    kind: str
    spec: dict[str, Any]
    refs: dict[str, Any]
    arn: str
    create_operation: str
    create_params: dict[str, Any]
    create_response: dict[str, Any]
    # Queue the calls that look the resource up and find nothing (and anything made before the create).
    absent: Callable[[Service], None]
    # Queue the calls that find it with this status (summary + description; extra fields for the latter).
    present: Callable[..., None]
    # After a ResourceAlreadyExistsException on create: the calls that find the winner of the race.
    refind: Callable[[Service], None] | None = None
    # What the result of a fresh create says.
    created_status: str = "CREATE PENDING"


def _summary(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "creationDateTime": T0, "lastUpdatedDateTime": T0, **fields}


def _has_failure_reason(shape: str) -> bool:
    return "failureReason" in MODEL.shape_for(shape).members


def _described(shape: str, status: str, reason: str | None, **fields: Any) -> dict[str, Any]:
    """A Describe result; the reason only where the service reports one (not for datasets, solutions,
    event trackers)."""
    described = _summary(status, **fields)
    if reason and _has_failure_reason(shape):
        described["failureReason"] = reason
    return described


DATASET_GROUP_SPEC = PLAN["datasetGroup"]
DATASET_SPEC = next(d for d in PLAN["datasets"] if d["type"] == "interactions")
SOLUTION_SPEC = PLAN["solutions"][0]
CAMPAIGN_SPEC = SOLUTION_SPEC["campaigns"][0]
FILTER_SPEC = next(f for f in PLAN["filters"] if f["label"] == "exclude-purchased")
TRACKER_SPEC = PLAN["eventTracker"]
BATCH_SPEC = SOLUTION_SPEC["batchJobs"][0]
IMPORTS_DONE_AT = T0 - timedelta(hours=1)


def _dataset_group_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    name = DATASET_GROUP_SPEC["name"]
    svc.ok("list_dataset_groups", {}, {"datasetGroups": [_summary(status, name=name, datasetGroupArn=GROUP_ARN)]})
    svc.ok(
        "describe_dataset_group",
        {"datasetGroupArn": GROUP_ARN},
        {"datasetGroup": _described("DatasetGroup", status, reason, name=name, datasetGroupArn=GROUP_ARN, **details)},
    )


def _schema_present(svc: Service) -> None:
    name = DATASET_SPEC["name"]
    svc.ok("list_schemas", {}, {"schemas": [{"name": name, "schemaArn": SCHEMA_ARN}]})
    svc.ok(
        "describe_schema",
        {"schemaArn": SCHEMA_ARN},
        {"schema": {"name": name, "schemaArn": SCHEMA_ARN, "schema": DATASET_SPEC["schema"]}},
    )


def _dataset_absent(svc: Service) -> None:
    name = DATASET_SPEC["name"]
    svc.ok("list_schemas", {}, {"schemas": []})
    svc.ok("create_schema", {"name": name, "schema": DATASET_SPEC["schema"]}, {"schemaArn": SCHEMA_ARN})
    svc.ok("list_datasets", {"datasetGroupArn": GROUP_ARN}, {"datasets": []})


def _dataset_summary(status: str) -> dict[str, Any]:
    return _summary(status, name=DATASET_SPEC["name"], datasetArn=DATASET_ARN, datasetType="INTERACTIONS")


def _dataset_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    _schema_present(svc)
    svc.ok("list_datasets", {"datasetGroupArn": GROUP_ARN}, {"datasets": [_dataset_summary(status)]})
    described = {
        "name": DATASET_SPEC["name"],
        "datasetArn": DATASET_ARN,
        "datasetType": "INTERACTIONS",
        "datasetGroupArn": GROUP_ARN,
        "schemaArn": SCHEMA_ARN,
        **details,
    }
    svc.ok(
        "describe_dataset",
        {"datasetArn": DATASET_ARN},
        {"dataset": _described("Dataset", status, reason, **described)},
    )


def _import_job_absent(svc: Service) -> None:
    svc.etag()
    svc.ok("list_dataset_import_jobs", {"datasetArn": DATASET_ARN}, {"datasetImportJobs": []})


def _import_job_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.etag()
    svc.ok(
        "list_dataset_import_jobs",
        {"datasetArn": DATASET_ARN},
        {"datasetImportJobs": [_summary(status, jobName=IMPORT_NAME, datasetImportJobArn=IMPORT_ARN)]},
    )
    svc.ok(
        "describe_dataset_import_job",
        {"datasetImportJobArn": IMPORT_ARN},
        {
            "datasetImportJob": _described(
                "DatasetImportJob",
                status,
                reason,
                jobName=IMPORT_NAME,
                datasetImportJobArn=IMPORT_ARN,
                datasetArn=DATASET_ARN,
                **details,
            )
        },
    )


def _solution_described(status: str, reason: str | None, **details: Any) -> dict[str, Any]:
    fields = {
        "name": SOLUTION_SPEC["name"],
        "solutionArn": SOLUTION_ARN,
        "recipeArn": SOLUTION_SPEC["recipeArn"],
        "datasetGroupArn": GROUP_ARN,
        "performAutoTraining": False,
        **details,
    }
    return _described("Solution", status, reason, **fields)


def _solution_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok(
        "list_solutions",
        {"datasetGroupArn": GROUP_ARN},
        {"solutions": [_summary(status, name=SOLUTION_SPEC["name"], solutionArn=SOLUTION_ARN)]},
    )
    svc.ok(
        "describe_solution",
        {"solutionArn": SOLUTION_ARN},
        {"solution": _solution_described(status, reason, **details)},
    )


def _version_summary(status: str, arn_: str = VERSION_ARN, created: datetime = T0) -> dict[str, Any]:
    return {
        "solutionVersionArn": arn_,
        "status": status,
        "creationDateTime": created,
        "lastUpdatedDateTime": created,
    }


def _version_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok(
        "list_solution_versions",
        {"solutionArn": SOLUTION_ARN},
        {"solutionVersions": [_version_summary(status)]},
    )
    svc.ok(
        "describe_solution_version",
        {"solutionVersionArn": VERSION_ARN},
        {
            "solutionVersion": _described(
                "SolutionVersion",
                status,
                reason,
                solutionVersionArn=VERSION_ARN,
                solutionArn=SOLUTION_ARN,
                **details,
            )
        },
    )


def _campaign_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    name = CAMPAIGN_SPEC["name"]
    svc.ok(
        "list_campaigns",
        {"solutionArn": SOLUTION_ARN},
        {"campaigns": [_summary(status, name=name, campaignArn=CAMPAIGN_ARN)]},
    )
    fields = {
        "name": name,
        "campaignArn": CAMPAIGN_ARN,
        "solutionVersionArn": VERSION_ARN,
        "minProvisionedTPS": CAMPAIGN_SPEC["minProvisionedTPS"],
        **details,
    }
    svc.ok(
        "describe_campaign",
        {"campaignArn": CAMPAIGN_ARN},
        {"campaign": _described("Campaign", status, reason, **fields)},
    )


def _filter_summary(status: str, name: str = FILTER_SPEC["name"], arn_: str = FILTER_ARN) -> dict[str, Any]:
    return _summary(status, name=name, filterArn=arn_, datasetGroupArn=GROUP_ARN)


def _filter_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok("list_filters", {"datasetGroupArn": GROUP_ARN}, {"Filters": [_filter_summary(status)]})
    fields = {
        "name": FILTER_SPEC["name"],
        "filterArn": FILTER_ARN,
        "datasetGroupArn": GROUP_ARN,
        "filterExpression": FILTER_SPEC["expression"],
        **details,
    }
    svc.ok(
        "describe_filter",
        {"filterArn": FILTER_ARN},
        {"filter": _described("Filter", status, reason, **fields)},
    )


def _tracker_present(
    svc: Service, status: str, reason: str | None = None, name: str = TRACKER_SPEC["name"], **details: Any
) -> None:
    svc.ok(
        "list_event_trackers",
        {"datasetGroupArn": GROUP_ARN},
        {"eventTrackers": [_summary(status, name=name, eventTrackerArn=TRACKER_ARN)]},
    )
    svc.ok(
        "describe_event_tracker",
        {"eventTrackerArn": TRACKER_ARN},
        {
            "eventTracker": _described(
                "EventTracker",
                status,
                reason,
                name=name,
                eventTrackerArn=TRACKER_ARN,
                trackingId="0f1e2d3c-tracking",
                datasetGroupArn=GROUP_ARN,
                **details,
            )
        },
    )


def _filter_ready_for_batch(svc: Service) -> None:
    svc.ok("list_filters", {"datasetGroupArn": GROUP_ARN}, {"Filters": [_filter_summary("ACTIVE")]})


def _batch_absent(svc: Service) -> None:
    _filter_ready_for_batch(svc)
    svc.ok("list_batch_inference_jobs", {"solutionVersionArn": VERSION_ARN}, {"batchInferenceJobs": []})


def _batch_summary(
    status: str, name: str = BATCH_NAME, arn_: str = BATCH_ARN, created: datetime = T0
) -> dict[str, Any]:
    return {
        "jobName": name,
        "batchInferenceJobArn": arn_,
        "status": status,
        "creationDateTime": created,
        "lastUpdatedDateTime": created,
        "solutionVersionArn": VERSION_ARN,
    }


def _batch_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    _filter_ready_for_batch(svc)
    svc.ok(
        "list_batch_inference_jobs",
        {"solutionVersionArn": VERSION_ARN},
        {"batchInferenceJobs": [_batch_summary(status)]},
    )
    svc.ok(
        "describe_batch_inference_job",
        {"batchInferenceJobArn": BATCH_ARN},
        {
            "batchInferenceJob": _described(
                "BatchInferenceJob",
                status,
                reason,
                jobName=BATCH_NAME,
                batchInferenceJobArn=BATCH_ARN,
                solutionVersionArn=VERSION_ARN,
                **details,
            )
        },
    )


BATCH_OUTPUT = f"s3://{BUCKET}/batch-output/user-personalization/1a2b3c4d/"
BATCH_CREATE = {
    "jobName": BATCH_NAME,
    "solutionVersionArn": VERSION_ARN,
    "numResults": 25,
    "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/batch-input/users.jsonl"}},
    "jobOutput": {"s3DataDestination": {"path": BATCH_OUTPUT}},
    "roleArn": ROLE_ARN,
    "filterArn": FILTER_ARN,
}
IMPORT_CREATE = {
    "jobName": IMPORT_NAME,
    "datasetArn": DATASET_ARN,
    "dataSource": {"dataLocation": f"s3://{BUCKET}/imports/interactions.csv"},
    "roleArn": ROLE_ARN,
    "importMode": "FULL",
}

KINDS: dict[str, Kind] = {
    "dataset_group": Kind(
        "dataset_group",
        DATASET_GROUP_SPEC,
        {"roleArn": ROLE_ARN},
        GROUP_ARN,
        "create_dataset_group",
        {"name": "ppoc-dev-retail"},
        {"datasetGroupArn": GROUP_ARN},
        absent=lambda svc: svc.ok("list_dataset_groups", {}, {"datasetGroups": []}),
        present=_dataset_group_present,
        refind=lambda svc: svc.ok(
            "list_dataset_groups",
            {},
            {"datasetGroups": [_summary("CREATE PENDING", name="ppoc-dev-retail", datasetGroupArn=GROUP_ARN)]},
        ),
    ),
    "dataset": Kind(
        "dataset",
        DATASET_SPEC,
        {"datasetGroupArn": GROUP_ARN},
        DATASET_ARN,
        "create_dataset",
        {
            "name": "ppoc-dev-retail-interactions",
            "schemaArn": SCHEMA_ARN,
            "datasetGroupArn": GROUP_ARN,
            "datasetType": "Interactions",
        },
        {"datasetArn": DATASET_ARN},
        absent=_dataset_absent,
        present=_dataset_present,
        refind=lambda svc: svc.ok(
            "list_datasets",
            {"datasetGroupArn": GROUP_ARN},
            {"datasets": [_dataset_summary("CREATE PENDING")]},
        ),
    ),
    "import_job": Kind(
        "import_job",
        DATASET_SPEC,
        {"datasetArn": DATASET_ARN, "roleArn": ROLE_ARN},
        IMPORT_ARN,
        "create_dataset_import_job",
        IMPORT_CREATE,
        {"datasetImportJobArn": IMPORT_ARN},
        absent=_import_job_absent,
        present=_import_job_present,
        refind=lambda svc: svc.ok(
            "list_dataset_import_jobs",
            {"datasetArn": DATASET_ARN},
            {"datasetImportJobs": [_summary("CREATE PENDING", jobName=IMPORT_NAME, datasetImportJobArn=IMPORT_ARN)]},
        ),
    ),
    "solution": Kind(
        "solution",
        SOLUTION_SPEC,
        {"datasetGroupArn": GROUP_ARN},
        SOLUTION_ARN,
        "create_solution",
        {
            "name": "ppoc-dev-retail-user-personalization",
            "datasetGroupArn": GROUP_ARN,
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
            "performHPO": False,
            "performAutoTraining": False,
        },
        {"solutionArn": SOLUTION_ARN},
        absent=lambda svc: svc.ok("list_solutions", {"datasetGroupArn": GROUP_ARN}, {"solutions": []}),
        present=_solution_present,
        refind=lambda svc: svc.ok(
            "list_solutions",
            {"datasetGroupArn": GROUP_ARN},
            {
                "solutions": [
                    _summary("CREATE PENDING", name="ppoc-dev-retail-user-personalization", solutionArn=SOLUTION_ARN)
                ]
            },
        ),
    ),
    "solution_version": Kind(
        "solution_version",
        SOLUTION_SPEC,
        {"solutionArn": SOLUTION_ARN, "importsCompletedAt": [IMPORTS_DONE_AT.isoformat()]},
        VERSION_ARN,
        "create_solution_version",
        {"solutionArn": SOLUTION_ARN, "trainingMode": "FULL"},
        {"solutionVersionArn": VERSION_ARN},
        absent=lambda svc: svc.ok("list_solution_versions", {"solutionArn": SOLUTION_ARN}, {"solutionVersions": []}),
        present=_version_present,
        refind=None,  # versions have no name: there is nothing to race for
    ),
    "campaign": Kind(
        "campaign",
        CAMPAIGN_SPEC,
        {"solutionVersionArn": VERSION_ARN},
        CAMPAIGN_ARN,
        "create_campaign",
        {"name": "ppoc-dev-retail-user-personalization", "solutionVersionArn": VERSION_ARN, "minProvisionedTPS": 1},
        {"campaignArn": CAMPAIGN_ARN},
        absent=lambda svc: svc.ok("list_campaigns", {"solutionArn": SOLUTION_ARN}, {"campaigns": []}),
        present=_campaign_present,
        refind=lambda svc: svc.ok(
            "list_campaigns",
            {"solutionArn": SOLUTION_ARN},
            {
                "campaigns": [
                    _summary("CREATE PENDING", name="ppoc-dev-retail-user-personalization", campaignArn=CAMPAIGN_ARN)
                ]
            },
        ),
    ),
    "filter": Kind(
        "filter",
        FILTER_SPEC,
        {"datasetGroupArn": GROUP_ARN},
        FILTER_ARN,
        "create_filter",
        {
            "name": "ppoc-dev-retail-exclude-purchased",
            "datasetGroupArn": GROUP_ARN,
            "filterExpression": 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
        },
        {"filterArn": FILTER_ARN},
        absent=lambda svc: svc.ok("list_filters", {"datasetGroupArn": GROUP_ARN}, {"Filters": []}),
        present=_filter_present,
        refind=lambda svc: svc.ok(
            "list_filters", {"datasetGroupArn": GROUP_ARN}, {"Filters": [_filter_summary("CREATE PENDING")]}
        ),
    ),
    "event_tracker": Kind(
        "event_tracker",
        TRACKER_SPEC,
        {"datasetGroupArn": GROUP_ARN},
        TRACKER_ARN,
        "create_event_tracker",
        {"name": "ppoc-dev-retail-tracker", "datasetGroupArn": GROUP_ARN},
        {"eventTrackerArn": TRACKER_ARN, "trackingId": "0f1e2d3c-tracking"},
        absent=lambda svc: svc.ok("list_event_trackers", {"datasetGroupArn": GROUP_ARN}, {"eventTrackers": []}),
        present=_tracker_present,
        refind=lambda svc: svc.ok(
            "list_event_trackers",
            {"datasetGroupArn": GROUP_ARN},
            {
                "eventTrackers": [
                    _summary("CREATE PENDING", name="ppoc-dev-retail-tracker", eventTrackerArn=TRACKER_ARN)
                ]
            },
        ),
    ),
    "batch_job": Kind(
        "batch_job",
        BATCH_SPEC,
        {"solutionVersionArn": VERSION_ARN, "datasetGroupArn": GROUP_ARN, "roleArn": ROLE_ARN},
        BATCH_ARN,
        "create_batch_inference_job",
        BATCH_CREATE,
        {"batchInferenceJobArn": BATCH_ARN},
        absent=_batch_absent,
        present=_batch_present,
        refind=lambda svc: svc.ok(
            "list_batch_inference_jobs",
            {"solutionVersionArn": VERSION_ARN},
            {"batchInferenceJobs": [_batch_summary("PENDING")]},
        ),
        created_status="PENDING",
    ),
}
# A domain dataset group's recommender (the ecommerce sample's plan; lambdas/poc_steps/ensure_recommender.py).
RECOMMENDER_SPEC = build_plan(
    load_poc_definition(PROJECT_ROOT / "config" / "poc-ecommerce.yaml", "ppoc-dev"),
    config_dir=PROJECT_ROOT / "config",
    name_prefix="ppoc-dev",
    bucket_name=BUCKET,
    role_arn=ROLE_ARN,
    kms_key_arn=None,
)["recommenders"][0]
RECOMMENDER_ARN = arn(f"recommender/{RECOMMENDER_SPEC['name']}")


def _recommender_summary(status: str) -> dict[str, Any]:
    return _summary(
        status,
        name=RECOMMENDER_SPEC["name"],
        recommenderArn=RECOMMENDER_ARN,
        datasetGroupArn=GROUP_ARN,
        recipeArn=RECOMMENDER_SPEC["recipeArn"],
    )


def _recommender_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok("list_recommenders", {"datasetGroupArn": GROUP_ARN}, {"recommenders": [_recommender_summary(status)]})
    fields = {
        "name": RECOMMENDER_SPEC["name"],
        "recommenderArn": RECOMMENDER_ARN,
        "datasetGroupArn": GROUP_ARN,
        "recipeArn": RECOMMENDER_SPEC["recipeArn"],
        "recommenderConfig": RECOMMENDER_SPEC["recommenderConfig"],
        **details,
    }
    svc.ok(
        "describe_recommender",
        {"recommenderArn": RECOMMENDER_ARN},
        {"recommender": _described("Recommender", status, reason, **fields)},
    )


KINDS["recommender"] = Kind(
    "recommender",
    RECOMMENDER_SPEC,
    {"datasetGroupArn": GROUP_ARN},
    RECOMMENDER_ARN,
    "create_recommender",
    {
        "name": "ppoc-dev-shop-recommended-for-you",
        "datasetGroupArn": GROUP_ARN,
        "recipeArn": "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you",
        "recommenderConfig": {"minRecommendationRequestsPerSecond": 1},
    },
    {"recommenderArn": RECOMMENDER_ARN},
    absent=lambda svc: svc.ok("list_recommenders", {"datasetGroupArn": GROUP_ARN}, {"recommenders": []}),
    present=_recommender_present,
    refind=lambda svc: svc.ok(
        "list_recommenders", {"datasetGroupArn": GROUP_ARN}, {"recommenders": [_recommender_summary("CREATE PENDING")]}
    ),
)
# A batch segment job of a user-segmentation solution (lambdas/poc_steps/ensure_segments.py) and the dataset
# group's metric attribution (ensure_attribution.py), as personalize_poc/segments.py and attribution.py plan them.
SEGMENT_SPEC = {
    "name": "ppoc-dev-retail-item-fans",
    "label": "item-fans",
    "recipe": "aws-item-affinity",
    "inputKey": "itemId",
    "inputUri": f"s3://{BUCKET}/batch-input/segment-items.jsonl",
    "outputUri": f"s3://{BUCKET}/batch-output/segments/items/",
    "numResults": 50,
    "filterName": None,
    "tags": [],
}
SEGMENT_NAME = "ppoc-dev-retail-item-fans-1a2b3c4d"
SEGMENT_ARN = arn(f"batch-segment-job/{SEGMENT_NAME}")


def _segment_summary(status: str) -> dict[str, Any]:
    return _summary(status, jobName=SEGMENT_NAME, batchSegmentJobArn=SEGMENT_ARN, solutionVersionArn=VERSION_ARN)


def _segment_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok(
        "list_batch_segment_jobs", {"solutionVersionArn": VERSION_ARN}, {"batchSegmentJobs": [_segment_summary(status)]}
    )
    fields = {"jobName": SEGMENT_NAME, "batchSegmentJobArn": SEGMENT_ARN, "solutionVersionArn": VERSION_ARN, **details}
    svc.ok(
        "describe_batch_segment_job",
        {"batchSegmentJobArn": SEGMENT_ARN},
        {"batchSegmentJob": _described("BatchSegmentJob", status, reason, **fields)},
    )


KINDS["segment_job"] = Kind(
    "segment_job",
    SEGMENT_SPEC,
    {"solutionVersionArn": VERSION_ARN, "datasetGroupArn": GROUP_ARN, "roleArn": ROLE_ARN},
    SEGMENT_ARN,
    "create_batch_segment_job",
    {
        "jobName": SEGMENT_NAME,
        "solutionVersionArn": VERSION_ARN,
        "numResults": 50,
        "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/batch-input/segment-items.jsonl"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/batch-output/segments/items/1a2b3c4d/"}},
        "roleArn": ROLE_ARN,
    },
    {"batchSegmentJobArn": SEGMENT_ARN},
    absent=lambda svc: svc.ok("list_batch_segment_jobs", {"solutionVersionArn": VERSION_ARN}, {"batchSegmentJobs": []}),
    present=_segment_present,
    refind=lambda svc: svc.ok(
        "list_batch_segment_jobs",
        {"solutionVersionArn": VERSION_ARN},
        {"batchSegmentJobs": [_segment_summary("PENDING")]},
    ),
    created_status="PENDING",
)
ATTRIBUTION_METRICS = [{"eventType": "purchase", "metricName": "revenue", "expression": "SUM(Items.PRICE)"}]
ATTRIBUTION_SPEC = {
    "enabled": True,
    "name": "ppoc-dev-retail-attribution",
    "metrics": ATTRIBUTION_METRICS,
    "s3Path": f"s3://{BUCKET}/metric-attribution/",
}
ATTRIBUTION_ARN = arn("metric-attribution/ppoc-dev-retail-attribution")
ATTRIBUTION_OUTPUT = {"roleArn": ROLE_ARN, "s3DataDestination": {"path": f"s3://{BUCKET}/metric-attribution/"}}


def _attribution_summary(status: str) -> dict[str, Any]:
    return _summary(status, name=ATTRIBUTION_SPEC["name"], metricAttributionArn=ATTRIBUTION_ARN)


def _attribution_present(svc: Service, status: str, reason: str | None = None, **details: Any) -> None:
    svc.ok(
        "list_metric_attributions",
        {"datasetGroupArn": GROUP_ARN},
        {"metricAttributions": [_attribution_summary(status)]},
    )
    fields = {
        "name": ATTRIBUTION_SPEC["name"],
        "metricAttributionArn": ATTRIBUTION_ARN,
        "datasetGroupArn": GROUP_ARN,
        "metricsOutputConfig": ATTRIBUTION_OUTPUT,
        **details,
    }
    svc.ok(
        "describe_metric_attribution",
        {"metricAttributionArn": ATTRIBUTION_ARN},
        {"metricAttribution": _described("MetricAttribution", status, reason, **fields)},
    )
    if status == "ACTIVE":  # what it reports now, against the config (Describe has no metrics)
        svc.ok(
            "list_metric_attribution_metrics",
            {"metricAttributionArn": ATTRIBUTION_ARN},
            {"metrics": ATTRIBUTION_METRICS},
        )


KINDS["metric_attribution"] = Kind(
    "metric_attribution",
    ATTRIBUTION_SPEC,
    {"datasetGroupArn": GROUP_ARN, "roleArn": ROLE_ARN},
    ATTRIBUTION_ARN,
    "create_metric_attribution",
    {
        "name": "ppoc-dev-retail-attribution",
        "datasetGroupArn": GROUP_ARN,
        "metrics": ATTRIBUTION_METRICS,
        "metricsOutputConfig": ATTRIBUTION_OUTPUT,
    },
    {"metricAttributionArn": ATTRIBUTION_ARN},
    absent=lambda svc: svc.ok("list_metric_attributions", {"datasetGroupArn": GROUP_ARN}, {"metricAttributions": []}),
    present=_attribution_present,
    refind=lambda svc: svc.ok(
        "list_metric_attributions",
        {"datasetGroupArn": GROUP_ARN},
        {"metricAttributions": [_attribution_summary("CREATE PENDING")]},
    ),
)
ALL_KINDS = list(KINDS)
# The status each kind shows while the service works on it.
IN_PROGRESS = {kind: "CREATE IN_PROGRESS" for kind in KINDS} | {
    "batch_job": "IN PROGRESS",
    "segment_job": "IN PROGRESS",
}


# --- every kind ---------------------------------------------------------------------------------------


def test_the_harness_rejects_what_the_service_would(service: Service) -> None:
    """Model validation is live: a request with a name the service refuses fails even when the stub
    expects exactly that request."""
    service.ok("list_dataset_groups", {}, {"datasetGroups": []})
    service.ok("create_dataset_group", {"name": "ppoc dev retail"}, {"datasetGroupArn": GROUP_ARN})
    with pytest.raises(RequestValidationError, match=r"CreateDatasetGroup\.name"):
        ensure(service.adapter, "dataset_group", {"name": "ppoc dev retail"}, {}, 1)


def test_every_kind_of_the_workflow_is_covered() -> None:
    assert set(ENSURE) == set(KINDS)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_missing_resource_is_created_with_the_exact_request(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.absent(service)
    service.ok(k.create_operation, k.create_params, k.create_response)
    outcome = service.ensure(kind, k.spec, k.refs)
    assert outcome["arn"] == k.arn
    assert outcome["status"] == k.created_status
    assert outcome["state"] == "WAITING"
    assert outcome["attempt"] == 1


def test_create_solution_sets_auto_training_explicitly_off() -> None:
    """The service's default is to retrain every 7 days and bill for it."""
    assert KINDS["solution"].create_params["performAutoTraining"] is False


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_an_active_resource_is_reused_without_a_create(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.present(service, "ACTIVE")
    outcome = service.ensure(kind, k.spec, k.refs, attempt=1)
    assert (outcome["arn"], outcome["status"], outcome["state"]) == (k.arn, "ACTIVE", "READY")


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("status_of", ["pending", "in progress"])
def test_a_resource_in_progress_is_waited_for(service: Service, kind: str, status_of: str) -> None:
    k = KINDS[kind]
    status = (
        IN_PROGRESS[kind]
        if status_of == "in progress"
        else ("PENDING" if kind in ("batch_job", "segment_job") else "CREATE PENDING")
    )
    k.present(service, status)
    outcome = service.ensure(kind, k.spec, k.refs, attempt=3)
    assert (outcome["arn"], outcome["status"], outcome["state"], outcome["attempt"]) == (
        k.arn,
        status,
        "WAITING",
        3,
    )


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_failed_resource_on_a_later_poll_ends_the_run_with_the_reason(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.present(service, "CREATE FAILED", REASON)
    with pytest.raises(ResourceFailed) as raised:
        ensure(service.adapter, kind, k.spec, k.refs, 2)
    service.verify()
    message = str(raised.value)
    assert "CREATE FAILED" in message
    operation, _, key = DESCRIPTIONS[kind]
    api_name = service.adapter.client.meta.method_to_api_mapping[operation]
    shape = MODEL.operation_model(api_name).output_shape.members[key].name
    # The service's reason where the API has one; otherwise a message that says the API has none.
    assert (REASON if _has_failure_reason(shape) else "reports no failureReason") in message


@pytest.mark.parametrize(
    "kind",
    [kind for kind, k in KINDS.items() if k.refind is not None],  # versions have no name
)
def test_a_create_that_loses_a_race_finds_the_winner(service: Service, kind: str) -> None:
    k = KINDS[kind]
    assert k.refind is not None
    k.absent(service)
    service.error(k.create_operation, k.create_params, "ResourceAlreadyExistsException")
    k.refind(service)
    outcome = service.ensure(kind, k.spec, k.refs)
    assert outcome["arn"] == k.arn
    assert outcome["state"] == "WAITING"


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_throttling_on_create_is_raised_as_throttled(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.absent(service)
    service.error(k.create_operation, k.create_params, "ThrottlingException", "Rate exceeded")
    with pytest.raises(Throttled, match="Rate exceeded"):
        ensure(service.adapter, kind, k.spec, k.refs, 1)
    service.verify()


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_a_quota_on_create_is_raised_as_quota_exceeded_with_what_to_do(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.absent(service)
    service.error(k.create_operation, k.create_params, "LimitExceededException", "Too many active campaigns")
    with pytest.raises(QuotaExceeded) as raised:
        ensure(service.adapter, kind, k.spec, k.refs, 1)
    service.verify()
    message = str(raised.value)
    assert "Too many active campaigns" in message
    assert "Service Quotas" in message


def test_throttling_while_listing_is_raised_as_throttled(service: Service) -> None:
    service.error("list_dataset_groups", {}, "ThrottlingException", "Rate exceeded")
    with pytest.raises(Throttled):
        ensure(service.adapter, "dataset_group", DATASET_GROUP_SPEC, {"roleArn": ROLE_ARN}, 1)
    service.verify()


def test_a_busy_resource_is_raised_as_resource_busy(service: Service) -> None:
    _filter_present(service, "ACTIVE", filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")')
    service.error("delete_filter", {"filterArn": FILTER_ARN}, "ResourceInUseException", "in use by a batch job")
    with pytest.raises(ResourceBusy, match="in use by a batch job"):
        ensure(service.adapter, "filter", FILTER_SPEC, {"datasetGroupArn": GROUP_ARN}, 1)
    service.verify()


def test_an_unrelated_service_error_is_not_disguised(service: Service) -> None:
    service.ok("list_dataset_groups", {}, {"datasetGroups": []})
    service.error("create_dataset_group", {"name": "ppoc-dev-retail"}, "InvalidInputException", "bad input")
    with pytest.raises(service.adapter.client.exceptions.InvalidInputException):
        ensure(service.adapter, "dataset_group", DATASET_GROUP_SPEC, {"roleArn": ROLE_ARN}, 1)
    service.verify()


def test_a_resource_deleted_between_list_and_describe_is_looked_for_again(service: Service) -> None:
    service.ok(
        "list_solutions",
        {"datasetGroupArn": GROUP_ARN},
        {"solutions": [_summary("ACTIVE", name=SOLUTION_SPEC["name"], solutionArn=SOLUTION_ARN)]},
    )
    service.error("describe_solution", {"solutionArn": SOLUTION_ARN}, "ResourceNotFoundException")
    outcome = service.ensure("solution", SOLUTION_SPEC, {"datasetGroupArn": GROUP_ARN})
    assert (outcome["arn"], outcome["state"]) == (None, "WAITING")


# --- failed leftovers on a run's first call ------------------------------------------------------------

DELETED_ON_FAILURE = {
    "recommender": ("delete_recommender", {"recommenderArn": RECOMMENDER_ARN}),
    "dataset_group": ("delete_dataset_group", {"datasetGroupArn": GROUP_ARN}),
    "dataset": ("delete_dataset", {"datasetArn": DATASET_ARN}),
    "solution": ("delete_solution", {"solutionArn": SOLUTION_ARN}),
    "campaign": ("delete_campaign", {"campaignArn": CAMPAIGN_ARN}),
    "filter": ("delete_filter", {"filterArn": FILTER_ARN}),
}


@pytest.mark.parametrize("kind", list(DELETED_ON_FAILURE))
def test_a_failed_leftover_is_deleted_so_the_loop_creates_it_again(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.present(service, "CREATE FAILED", REASON)
    operation, params = DELETED_ON_FAILURE[kind]
    service.ok(operation, params, {})
    outcome = service.ensure(kind, k.spec, k.refs, attempt=1)
    assert (outcome["arn"], outcome["status"], outcome["state"]) == (k.arn, "DELETE PENDING", "WAITING")
    assert outcome["replacing"] is True


@pytest.mark.parametrize("kind", list(DELETED_ON_FAILURE))
def test_a_leftover_being_deleted_is_waited_for(service: Service, kind: str) -> None:
    k = KINDS[kind]
    k.present(service, "DELETE IN_PROGRESS")
    outcome = service.ensure(kind, k.spec, k.refs, attempt=2)
    assert (outcome["status"], outcome["state"]) == ("DELETE IN_PROGRESS", "WAITING")


def test_a_failed_import_is_retried_under_a_suffixed_name(service: Service) -> None:
    service.etag()
    service.ok(
        "list_dataset_import_jobs",
        {"datasetArn": DATASET_ARN},
        {
            "datasetImportJobs": [
                _summary("CREATE FAILED", jobName=IMPORT_NAME, datasetImportJobArn=IMPORT_ARN, failureReason=REASON)
            ]
        },
    )
    retry_arn = arn(f"dataset-import-job/{IMPORT_NAME}-r1")
    service.ok(
        "create_dataset_import_job",
        {**IMPORT_CREATE, "jobName": f"{IMPORT_NAME}-r1"},
        {"datasetImportJobArn": retry_arn},
    )
    outcome = service.ensure("import_job", DATASET_SPEC, KINDS["import_job"].refs, attempt=1)
    assert (outcome["arn"], outcome["state"]) == (retry_arn, "WAITING")


def test_the_latest_retry_of_an_import_is_the_one_polled(service: Service) -> None:
    retry_arn = arn(f"dataset-import-job/{IMPORT_NAME}-r1")
    service.etag()
    service.ok(
        "list_dataset_import_jobs",
        {"datasetArn": DATASET_ARN},
        {
            "datasetImportJobs": [
                _summary(
                    "CREATE IN_PROGRESS",
                    jobName=f"{IMPORT_NAME}-r1",
                    datasetImportJobArn=retry_arn,
                    creationDateTime=T0 + timedelta(hours=1),
                ),
                _summary("CREATE FAILED", jobName=IMPORT_NAME, datasetImportJobArn=IMPORT_ARN),
                _summary(
                    "ACTIVE",
                    jobName="ppoc-dev-retail-interactions-0000000000",
                    datasetImportJobArn=arn("x/other"),
                ),
            ]
        },
    )
    service.ok(
        "describe_dataset_import_job",
        {"datasetImportJobArn": retry_arn},
        {
            "datasetImportJob": _summary(
                "CREATE IN_PROGRESS", jobName=f"{IMPORT_NAME}-r1", datasetImportJobArn=retry_arn
            )
        },
    )
    outcome = service.ensure("import_job", DATASET_SPEC, KINDS["import_job"].refs, attempt=2)
    assert (outcome["arn"], outcome["state"]) == (retry_arn, "WAITING")


def test_new_data_gets_a_new_import_job(service: Service) -> None:
    """The import job is named after the object's ETag: a new upload imports again, the same one does not."""
    service.etag(etag='"0000aaaa"')
    service.ok(
        "list_dataset_import_jobs",
        {"datasetArn": DATASET_ARN},
        {"datasetImportJobs": [_summary("ACTIVE", jobName=IMPORT_NAME, datasetImportJobArn=IMPORT_ARN)]},
    )
    new_id = IMPORT_ID.replace(ETAG.strip('"'), "0000aaaa")
    new_name = f"ppoc-dev-retail-interactions-{hashlib.sha256(new_id.encode()).hexdigest()[:10]}"
    service.ok(
        "create_dataset_import_job",
        {**IMPORT_CREATE, "jobName": new_name},
        {"datasetImportJobArn": arn(f"dataset-import-job/{new_name}")},
    )
    outcome = service.ensure("import_job", DATASET_SPEC, KINDS["import_job"].refs, attempt=1)
    assert outcome["arn"].endswith(new_name)


def test_a_finished_import_reports_when_it_completed(service: Service) -> None:
    _import_job_present(service, "ACTIVE")
    outcome = service.ensure("import_job", DATASET_SPEC, KINDS["import_job"].refs, attempt=1)
    assert outcome["completedAt"] == T0.isoformat()


def test_an_import_that_failed_ten_times_stops_retrying(service: Service) -> None:
    service.etag()
    jobs = [
        _summary(
            "CREATE FAILED",
            jobName=IMPORT_NAME + (f"-r{i}" if i else ""),
            datasetImportJobArn=arn(f"dataset-import-job/{IMPORT_NAME}-{i}"),
            creationDateTime=T0 + timedelta(minutes=i),
        )
        for i in range(10)
    ]
    service.ok("list_dataset_import_jobs", {"datasetArn": DATASET_ARN}, {"datasetImportJobs": jobs})
    with pytest.raises(ResourceFailed, match="failed 10 times"):
        ensure(service.adapter, "import_job", DATASET_SPEC, KINDS["import_job"].refs, 1)
    service.verify()


def test_a_failed_training_is_retrained(service: Service) -> None:
    service.ok(
        "list_solution_versions",
        {"solutionArn": SOLUTION_ARN},
        {"solutionVersions": [{**_version_summary("CREATE FAILED"), "failureReason": REASON}]},
    )
    new_version = arn("solution/ppoc-dev-retail-user-personalization/5e6f7a8b")
    service.ok(
        "create_solution_version",
        {"solutionArn": SOLUTION_ARN, "trainingMode": "FULL"},
        {"solutionVersionArn": new_version},
    )
    outcome = service.ensure("solution_version", SOLUTION_SPEC, KINDS["solution_version"].refs, attempt=1)
    assert (outcome["arn"], outcome["state"]) == (new_version, "WAITING")


def test_a_stopped_training_is_retrained_on_the_next_run(service: Service) -> None:
    service.ok(
        "list_solution_versions",
        {"solutionArn": SOLUTION_ARN},
        {"solutionVersions": [_version_summary("CREATE STOPPED")]},
    )
    service.ok(
        "create_solution_version",
        {"solutionArn": SOLUTION_ARN, "trainingMode": "FULL"},
        {"solutionVersionArn": VERSION_ARN},
    )
    assert service.ensure("solution_version", SOLUTION_SPEC, KINDS["solution_version"].refs)["state"] == "WAITING"


def test_a_version_trained_before_the_latest_import_is_retrained(service: Service) -> None:
    service.ok(
        "list_solution_versions",
        {"solutionArn": SOLUTION_ARN},
        {"solutionVersions": [_version_summary("ACTIVE", created=IMPORTS_DONE_AT - timedelta(days=1))]},
    )
    service.ok(
        "create_solution_version",
        {"solutionArn": SOLUTION_ARN, "trainingMode": "FULL"},
        {"solutionVersionArn": VERSION_ARN},
    )
    outcome = service.ensure("solution_version", SOLUTION_SPEC, KINDS["solution_version"].refs, attempt=1)
    assert (outcome["status"], outcome["state"]) == ("CREATE PENDING", "WAITING")


def test_the_newest_version_is_the_one_reused(service: Service) -> None:
    older = arn("solution/ppoc-dev-retail-user-personalization/00000000")
    service.ok(
        "list_solution_versions",
        {"solutionArn": SOLUTION_ARN},
        {
            "solutionVersions": [
                _version_summary("ACTIVE"),
                _version_summary("ACTIVE", arn_=older, created=T0 - timedelta(days=3)),
            ]
        },
    )
    service.ok(
        "describe_solution_version",
        {"solutionVersionArn": VERSION_ARN},
        {
            "solutionVersion": _described(
                "SolutionVersion", "ACTIVE", None, solutionVersionArn=VERSION_ARN, trainingHours=1.25
            )
        },
    )
    outcome = service.ensure("solution_version", SOLUTION_SPEC, KINDS["solution_version"].refs, attempt=1)
    assert (outcome["arn"], outcome["state"], outcome["trainingHours"]) == (VERSION_ARN, "READY", 1.25)


def test_a_failed_batch_job_is_retried_under_a_suffixed_name(service: Service) -> None:
    _filter_ready_for_batch(service)
    service.ok(
        "list_batch_inference_jobs",
        {"solutionVersionArn": VERSION_ARN},
        {"batchInferenceJobs": [_batch_summary("CREATE FAILED")]},
    )
    retry_arn = arn(f"batch-inference-job/{BATCH_NAME}-r1")
    service.ok(
        "create_batch_inference_job",
        {**BATCH_CREATE, "jobName": f"{BATCH_NAME}-r1"},
        {"batchInferenceJobArn": retry_arn},
    )
    outcome = service.ensure("batch_job", BATCH_SPEC, KINDS["batch_job"].refs, attempt=1)
    assert (outcome["arn"], outcome["state"], outcome["outputUri"]) == (retry_arn, "WAITING", BATCH_OUTPUT)


def test_a_failed_event_tracker_is_replaced_on_the_first_call(service: Service) -> None:
    _tracker_present(service, "CREATE FAILED", REASON)
    service.ok("delete_event_tracker", {"eventTrackerArn": TRACKER_ARN}, {})
    outcome = service.ensure("event_tracker", TRACKER_SPEC, {"datasetGroupArn": GROUP_ARN}, attempt=1)
    assert (outcome["state"], outcome.get("replacing")) == ("WAITING", True)


# --- kind-specific behaviour -----------------------------------------------------------------------------


def test_a_dataset_group_with_a_customer_key_passes_key_and_role(service: Service) -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
    service.ok("list_dataset_groups", {}, {"datasetGroups": []})
    service.ok(
        "create_dataset_group",
        {"name": "ppoc-dev-retail", "kmsKeyArn": key, "roleArn": ROLE_ARN},
        {"datasetGroupArn": GROUP_ARN},
    )
    outcome = service.ensure("dataset_group", {**DATASET_GROUP_SPEC, "kmsKeyArn": key}, {"roleArn": ROLE_ARN})
    assert outcome["arn"] == GROUP_ARN


def test_a_dataset_group_is_found_on_a_later_page(service: Service) -> None:
    other = [_summary("ACTIVE", name=f"team-{i}", datasetGroupArn=arn(f"dataset-group/team-{i}")) for i in range(3)]
    service.ok("list_dataset_groups", {}, {"datasetGroups": other, "nextToken": "page-2"})
    service.ok(
        "list_dataset_groups",
        {"nextToken": "page-2"},
        {"datasetGroups": [_summary("ACTIVE", name="ppoc-dev-retail", datasetGroupArn=GROUP_ARN)]},
    )
    service.ok(
        "describe_dataset_group",
        {"datasetGroupArn": GROUP_ARN},
        {"datasetGroup": _described("DatasetGroup", "ACTIVE", None, name="ppoc-dev-retail", datasetGroupArn=GROUP_ARN)},
    )
    assert service.ensure("dataset_group", DATASET_GROUP_SPEC, {"roleArn": ROLE_ARN})["state"] == "READY"


def test_an_existing_schema_is_reused_for_a_new_dataset(service: Service) -> None:
    _schema_present(service)
    service.ok("list_datasets", {"datasetGroupArn": GROUP_ARN}, {"datasets": []})
    service.ok("create_dataset", KINDS["dataset"].create_params, {"datasetArn": DATASET_ARN})
    outcome = service.ensure("dataset", DATASET_SPEC, {"datasetGroupArn": GROUP_ARN})
    assert (outcome["arn"], outcome["schemaArn"]) == (DATASET_ARN, SCHEMA_ARN)


def test_a_schema_with_other_fields_is_a_config_conflict(service: Service) -> None:
    name = DATASET_SPEC["name"]
    changed = json.loads(DATASET_SPEC["schema"])
    changed["fields"] = changed["fields"][:3]
    service.ok("list_schemas", {}, {"schemas": [{"name": name, "schemaArn": SCHEMA_ARN}]})
    service.ok(
        "describe_schema",
        {"schemaArn": SCHEMA_ARN},
        {"schema": {"name": name, "schemaArn": SCHEMA_ARN, "schema": json.dumps(changed)}},
    )
    with pytest.raises(ConfigConflict, match="teardown"):
        ensure(service.adapter, "dataset", DATASET_SPEC, {"datasetGroupArn": GROUP_ARN}, 1)
    service.verify()


def test_a_dataset_on_another_schema_is_a_config_conflict(service: Service) -> None:
    _schema_present(service)
    service.ok("list_datasets", {"datasetGroupArn": GROUP_ARN}, {"datasets": [_dataset_summary("ACTIVE")]})
    service.ok(
        "describe_dataset",
        {"datasetArn": DATASET_ARN},
        {
            "dataset": _described(
                "Dataset",
                "ACTIVE",
                None,
                name=DATASET_SPEC["name"],
                datasetArn=DATASET_ARN,
                schemaArn=arn("schema/hand-made"),
            )
        },
    )
    with pytest.raises(ConfigConflict, match="hand-made"):
        ensure(service.adapter, "dataset", DATASET_SPEC, {"datasetGroupArn": GROUP_ARN}, 1)
    service.verify()


def test_a_solution_with_another_recipe_is_a_config_conflict(service: Service) -> None:
    _solution_present(service, "ACTIVE", recipeArn="arn:aws:personalize:::recipe/aws-sims")
    with pytest.raises(ConfigConflict, match="aws-sims"):
        ensure(service.adapter, "solution", SOLUTION_SPEC, {"datasetGroupArn": GROUP_ARN}, 1)
    service.verify()


def test_a_solution_that_auto_trains_is_switched_off(service: Service) -> None:
    _solution_present(service, "ACTIVE", performAutoTraining=True)
    service.ok(
        "update_solution",
        {"solutionArn": SOLUTION_ARN, "performAutoTraining": False},
        {"solutionArn": SOLUTION_ARN},
    )
    outcome = service.ensure("solution", SOLUTION_SPEC, {"datasetGroupArn": GROUP_ARN})
    assert (outcome["status"], outcome["state"]) == ("UPDATE PENDING", "WAITING")


def test_a_solution_update_in_progress_is_waited_for_without_another_update(service: Service) -> None:
    _solution_present(
        service,
        "ACTIVE",
        performAutoTraining=True,
        latestSolutionUpdate={
            "status": "CREATE IN_PROGRESS",
            "performAutoTraining": False,
            "creationDateTime": T0,
        },
    )
    outcome = service.ensure("solution", SOLUTION_SPEC, {"datasetGroupArn": GROUP_ARN}, attempt=2)
    assert (outcome["status"], outcome["state"]) == ("CREATE IN_PROGRESS", "WAITING")


def test_a_solution_with_an_event_type_and_hyperparameters_sends_them(service: Service) -> None:
    poc = load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", "ppoc-dev")
    tuned = poc.solutions[0].model_copy(
        update={
            "event_type": "purchase",
            "perform_hpo": True,
            "algorithm_hyper_parameters": {"hidden_dimension": "128"},
            "feature_transformation_parameters": {"max_hist_length_percentile": "0.99"},
        }
    )
    plan = build_plan(
        poc.model_copy(update={"solutions": [tuned, *poc.solutions[1:]]}),
        config_dir=PROJECT_ROOT / "config",
        name_prefix="ppoc-dev",
        bucket_name=BUCKET,
        role_arn=ROLE_ARN,
        kms_key_arn=None,
    )
    KINDS["solution"].absent(service)
    service.ok(
        "create_solution",
        {
            **KINDS["solution"].create_params,
            "performHPO": True,
            "eventType": "purchase",
            "solutionConfig": {
                "algorithmHyperParameters": {"hidden_dimension": "128"},
                "featureTransformationParameters": {"max_hist_length_percentile": "0.99"},
            },
        },
        {"solutionArn": SOLUTION_ARN},
    )
    assert service.ensure("solution", plan["solutions"][0], {"datasetGroupArn": GROUP_ARN})["arn"] == SOLUTION_ARN


def test_a_campaign_with_item_exploration_sends_its_config(service: Service) -> None:
    poc = load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", "ppoc-dev")
    exploring = poc.campaigns[0].model_copy(
        update={
            "item_exploration_weight": 0.3,
            "exploration_item_age_cut_off": 30,
            "enable_metadata_with_recommendations": True,
            "min_provisioned_tps": 2,
        }
    )
    plan = build_plan(
        poc.model_copy(update={"campaigns": [exploring, *poc.campaigns[1:]]}),
        config_dir=PROJECT_ROOT / "config",
        name_prefix="ppoc-dev",
        bucket_name=BUCKET,
        role_arn=ROLE_ARN,
        kms_key_arn=None,
    )
    KINDS["campaign"].absent(service)
    service.ok(
        "create_campaign",
        {
            **KINDS["campaign"].create_params,
            "minProvisionedTPS": 2,
            "campaignConfig": {
                "itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
                "enableMetadataWithRecommendations": True,
            },
        },
        {"campaignArn": CAMPAIGN_ARN},
    )
    # Exploration is sent for the User-Personalization recipe (the sample's solution uses v2: see below).
    spec = {**plan["solutions"][0]["campaigns"][0], "recipe": "aws-user-personalization"}
    assert service.ensure("campaign", spec, {"solutionVersionArn": VERSION_ARN})["arn"] == CAMPAIGN_ARN


def test_exploration_is_sent_only_for_the_user_personalization_recipe(service: Service) -> None:
    """CampaignConfig.itemExplorationConfig: "only if your solution uses the User-Personalization recipe"."""
    exploring = {"itemExplorationConfig": {"explorationWeight": "0.5"}, "enableMetadataWithRecommendations": True}
    spec = {**CAMPAIGN_SPEC, "recipe": "aws-user-personalization-v2", "campaignConfig": exploring}
    KINDS["campaign"].absent(service)
    service.ok(
        "create_campaign",
        {**KINDS["campaign"].create_params, "campaignConfig": {"enableMetadataWithRecommendations": True}},
        {"campaignArn": CAMPAIGN_ARN},
    )
    assert service.ensure("campaign", spec, {"solutionVersionArn": VERSION_ARN})["arn"] == CAMPAIGN_ARN


def test_a_campaign_that_matches_is_not_updated(service: Service) -> None:
    """Keys the service adds to the described config (defaults) do not count as a change."""
    config = {"itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}}
    described = {**config, "enableMetadataWithRecommendations": False, "syncWithLatestSolutionVersion": False}
    _campaign_present(service, "ACTIVE", campaignConfig=described)
    outcome = service.ensure(
        "campaign", {**CAMPAIGN_SPEC, "campaignConfig": config}, {"solutionVersionArn": VERSION_ARN}
    )
    assert (outcome["status"], outcome["state"]) == ("ACTIVE", "READY")


def test_a_campaign_on_an_older_version_is_updated(service: Service) -> None:
    """... when the new version is not worse on the promotion metric (test_promotion.py has the rest)."""
    older = arn("solution/ppoc-dev-retail-user-personalization/00000000")
    _campaign_present(service, "ACTIVE", solutionVersionArn=older)
    for version, ndcg in ((older, 0.25), (VERSION_ARN, 0.25)):
        service.ok(
            "get_solution_metrics",
            {"solutionVersionArn": version},
            {"solutionVersionArn": version, "metrics": {"normalized_discounted_cumulative_gain_at_25": ndcg}},
        )
    service.ok(
        "update_campaign",
        {"campaignArn": CAMPAIGN_ARN, "solutionVersionArn": VERSION_ARN, "minProvisionedTPS": 1},
        {"campaignArn": CAMPAIGN_ARN},
    )
    outcome = service.ensure("campaign", CAMPAIGN_SPEC, {"solutionVersionArn": VERSION_ARN})
    assert (outcome["arn"], outcome["status"], outcome["state"]) == (
        CAMPAIGN_ARN,
        "UPDATE PENDING",
        "WAITING",
    )


def test_a_campaign_with_other_capacity_or_config_is_updated(service: Service) -> None:
    spec = {
        **CAMPAIGN_SPEC,
        "recipe": "aws-user-personalization",
        "minProvisionedTPS": 5,
        "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.3"}},
    }
    _campaign_present(service, "ACTIVE")
    service.ok(
        "update_campaign",
        {
            "campaignArn": CAMPAIGN_ARN,
            "solutionVersionArn": VERSION_ARN,
            "minProvisionedTPS": 5,
            "campaignConfig": spec["campaignConfig"],
        },
        {"campaignArn": CAMPAIGN_ARN},
    )
    assert service.ensure("campaign", spec, {"solutionVersionArn": VERSION_ARN})["state"] == "WAITING"


def test_a_campaign_update_in_progress_is_waited_for(service: Service) -> None:
    _campaign_present(
        service,
        "ACTIVE",
        solutionVersionArn=arn("solution/ppoc-dev-retail-user-personalization/00000000"),
        latestCampaignUpdate={"solutionVersionArn": VERSION_ARN, "status": "CREATE IN_PROGRESS"},
    )
    outcome = service.ensure("campaign", CAMPAIGN_SPEC, {"solutionVersionArn": VERSION_ARN}, attempt=2)
    assert (outcome["status"], outcome["state"]) == ("CREATE IN_PROGRESS", "WAITING")


def test_a_failed_campaign_update_ends_the_run_with_the_reason(service: Service) -> None:
    _campaign_present(
        service,
        "ACTIVE",
        latestCampaignUpdate={
            "solutionVersionArn": VERSION_ARN,
            "status": "CREATE FAILED",
            "failureReason": REASON,
        },
    )
    with pytest.raises(ResourceFailed, match=re.escape(REASON)):
        ensure(service.adapter, "campaign", CAMPAIGN_SPEC, {"solutionVersionArn": VERSION_ARN}, 2)
    service.verify()


def test_a_filter_with_another_expression_is_replaced(service: Service) -> None:
    _filter_present(service, "ACTIVE", filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("view")')
    service.ok("delete_filter", {"filterArn": FILTER_ARN}, {})
    outcome = service.ensure("filter", FILTER_SPEC, {"datasetGroupArn": GROUP_ARN})
    assert (outcome["status"], outcome["state"], outcome["replacing"]) == ("DELETE PENDING", "WAITING", True)


def test_a_replaced_filter_is_created_again_once_gone(service: Service) -> None:
    KINDS["filter"].absent(service)
    service.ok("create_filter", KINDS["filter"].create_params, {"filterArn": FILTER_ARN})
    assert service.ensure("filter", FILTER_SPEC, {"datasetGroupArn": GROUP_ARN}, attempt=3)["state"] == "WAITING"


def test_any_event_tracker_of_the_group_is_reused(service: Service) -> None:
    """One tracker per dataset group: a hand-made one is reused rather than failing on the quota."""
    _tracker_present(service, "ACTIVE", name="made-by-hand")
    outcome = service.ensure("event_tracker", TRACKER_SPEC, {"datasetGroupArn": GROUP_ARN})
    assert (outcome["arn"], outcome["state"], outcome["trackingId"]) == (
        TRACKER_ARN,
        "READY",
        "0f1e2d3c-tracking",
    )


@pytest.mark.parametrize("filter_status", [None, "CREATE PENDING", "CREATE IN_PROGRESS"])
def test_a_batch_job_waits_while_its_filter_is_not_active(service: Service, filter_status: str | None) -> None:
    filters = [] if filter_status is None else [_filter_summary(filter_status)]
    filters.append(
        _filter_summary("ACTIVE", name="ppoc-dev-retail-category", arn_=arn("filter/ppoc-dev-retail-category"))
    )
    service.ok("list_filters", {"datasetGroupArn": GROUP_ARN}, {"Filters": filters})
    outcome = service.ensure("batch_job", BATCH_SPEC, KINDS["batch_job"].refs, attempt=4)
    assert (outcome["arn"], outcome["state"], outcome["waitingFor"]) == (None, "WAITING", FILTER_SPEC["name"])


def test_a_batch_job_without_a_filter_does_not_look_for_one(service: Service) -> None:
    service.ok("list_batch_inference_jobs", {"solutionVersionArn": VERSION_ARN}, {"batchInferenceJobs": []})
    request = {key: value for key, value in BATCH_CREATE.items() if key != "filterArn"}
    service.ok("create_batch_inference_job", request, {"batchInferenceJobArn": BATCH_ARN})
    outcome = service.ensure("batch_job", {**BATCH_SPEC, "filterName": None}, KINDS["batch_job"].refs)
    assert outcome["arn"] == BATCH_ARN


def test_a_new_training_gets_its_own_batch_job(service: Service) -> None:
    """Batch jobs are named after the version: the job of an older training is not reused."""
    newer = arn("solution/ppoc-dev-retail-user-personalization/99999999")
    _filter_ready_for_batch(service)
    service.ok("list_batch_inference_jobs", {"solutionVersionArn": newer}, {"batchInferenceJobs": []})
    request = {
        **BATCH_CREATE,
        "jobName": "ppoc-dev-retail-up-batch-99999999",
        "solutionVersionArn": newer,
        "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/batch-output/user-personalization/99999999/"}},
    }
    service.ok("create_batch_inference_job", request, {"batchInferenceJobArn": arn("batch-inference-job/new")})
    refs = {**KINDS["batch_job"].refs, "solutionVersionArn": newer}
    assert service.ensure("batch_job", BATCH_SPEC, refs)["state"] == "WAITING"


# --- statuses -------------------------------------------------------------------------------------------


def _documented_statuses(shape_name: str) -> set[str]:
    """The status strings listed in the documentation of a shape's `status` member."""
    shape = MODEL.shape_for(shape_name)
    if shape.type_name != "structure" or "status" not in shape.members:
        return set()
    found: set[str] = set()
    for paragraph in re.findall(r"<p>(.*?)</p>", shape.members["status"].documentation or ""):
        text = html.unescape(paragraph).strip()
        if re.fullmatch(r"[A-Z_ ]+(?:(?:>|-or-)[A-Z_ ]+)*", text):
            found |= {part.strip() for part in re.split(r">|-or-", text)}
    return found


def _shapes_the_workflow_reads() -> set[str]:
    """Describe results (and the update summaries inside them) and List summaries of every kind the
    ensure loops poll. (Teardown lists recommenders too but only deletes; it never classifies them.)"""
    by_method = boto3.client("personalize", region_name="us-east-1").meta.method_to_api_mapping
    shapes: set[str] = set()
    kinds = set(ENSURE) | {"schema"}
    for operation, _, key in (DESCRIPTIONS[kind] for kind in kinds):
        described = MODEL.operation_model(by_method[operation]).output_shape.members[key]
        shapes.add(described.name)
        shapes |= {m.name for m in described.members.values() if m.type_name == "structure"}
    for operation, key, _, _ in (LISTINGS[kind] for kind in kinds):
        shapes.add(MODEL.operation_model(by_method[operation]).output_shape.members[key].member.name)
    return shapes


WORKFLOW_STATUSES = sorted(set().union(*(_documented_statuses(s) for s in _shapes_the_workflow_reads())))
EXPECTED_STATE = {"ACTIVE": "READY", "CREATE FAILED": "FAILED", "CREATE STOPPED": "FAILED"}


def test_the_documentation_lists_the_statuses_the_design_names() -> None:
    """The parser of the docs works: what OFFLINE-TESTING.md lists is all there."""
    assert {
        "CREATE PENDING",
        "CREATE IN_PROGRESS",
        "ACTIVE",
        "CREATE FAILED",
        "DELETE PENDING",
        "DELETE IN_PROGRESS",
        "CREATE STOPPING",
        "CREATE STOPPED",
        "PENDING",
        "IN PROGRESS",
    } <= set(WORKFLOW_STATUSES)


@pytest.mark.parametrize("status", WORKFLOW_STATUSES)
def test_every_documented_status_of_a_resource_the_workflow_polls_is_classified(status: str) -> None:
    assert statuses.state_of(status) in ("READY", "WAITING", "FAILED")
    # What the wait loop sees: deletions in progress are waited for (a failed leftover being replaced).
    assert result("arn", status, 1)["state"] == EXPECTED_STATE.get(status, "WAITING")


@pytest.mark.parametrize("status", ["DELETE FAILED", "UPDATE FAILED", "FAILED"])
def test_other_failed_statuses_are_terminal(status: str) -> None:
    assert statuses.state_of(status) == "FAILED"


@pytest.mark.parametrize("status", ["SOMETHING NEW", "active", ""])
def test_an_unknown_status_raises_rather_than_being_polled_forever(status: str) -> None:
    with pytest.raises(ValueError, match="unknown Personalize status"):
        statuses.state_of(status)


def test_documented_statuses_state_of_does_not_know_belong_to_resources_the_workflow_never_polls() -> None:
    """Every status anywhere in the docs: those `state_of` rejects are recommender and data deletion job
    statuses (STOP/START/INACTIVE, COMPLETED), which no ensure loop reads. Supporting recommenders in the
    workflow means classifying these first."""
    everything = set().union(*(_documented_statuses(name) for name in MODEL.shape_names))
    unknown = set()
    for status in everything:
        try:
            statuses.state_of(status)
        except ValueError:
            unknown.add(status)
    assert unknown.isdisjoint(WORKFLOW_STATUSES)
    polled_elsewhere = {
        name for name in MODEL.shape_names if unknown & _documented_statuses(name)
    } - _shapes_the_workflow_reads()
    assert {name.removesuffix("Summary") for name in polled_elsewhere} <= {"Recommender", "DataDeletionJob"}


# --- against the Personalize double: what the real service echoes, keeps and refuses -----------------
# The adapter's clients are real boto3 clients; Personalize is the stateful double (tests/support), S3 is
# moto. These cover what a stub cannot: names the account still holds, defaults Describe adds, data the
# service reads.

TAGS = {"project": "personalize-poc", "environment": "dev"}


def _plan(group: str = "retail") -> dict[str, Any]:
    poc = load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", "ppoc-dev")
    poc = poc.model_copy(update={"dataset_group": poc.dataset_group.model_copy(update={"name": group})})
    return build_plan(
        poc,
        config_dir=PROJECT_ROOT / "config",
        name_prefix="ppoc-dev",
        bucket_name=BUCKET,
        role_arn=ROLE_ARN,
        kms_key_arn=None,
        tags=TAGS,
    )


def _interactions_csv(users: int = 30, per_user: int = 40) -> bytes:
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE"]
    for user in range(users):
        rows += [f"user_{user},item_{(user * 7 + n) % 50},{1_700_000_000 + n},view," for n in range(per_user)]
    return ("\n".join(rows) + "\n").encode()


class World:
    """The double and moto's S3 behind one adapter, and the ensure loop as the workflow drives it."""

    def __init__(self, double: Any, clock: Any) -> None:
        self.double, self.clock = double, clock
        credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        self.personalize = boto3.client("personalize", **credentials)
        self.adapter = PersonalizeAdapter(self.personalize, boto3.client("s3", **credentials))

    def drive(self, kind: str, spec: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        """Ensure until READY (or a failure raises), advancing simulated time between polls."""
        for attempt in range(1, 30):
            outcome = ensure(self.adapter, kind, spec, refs, attempt)
            if outcome["state"] == "READY":
                return outcome
            self.clock.advance(max(self.double.seconds_until_settled(), 1.0))
        raise AssertionError(f"{kind} {spec.get('name')} never became READY")

    def group(self, plan: dict[str, Any]) -> dict[str, str]:
        """Dataset group, interactions dataset and its import: the refs later steps get."""
        group_arn = self.drive("dataset_group", plan["datasetGroup"], {"roleArn": ROLE_ARN})["arn"]
        spec = next(d for d in plan["datasets"] if d["type"] == "interactions")
        dataset_arn = self.drive("dataset", spec, {"datasetGroupArn": group_arn})["arn"]
        imported = self.drive("import_job", spec, {"datasetArn": dataset_arn, "roleArn": ROLE_ARN})
        return {"datasetGroupArn": group_arn, "datasetArn": dataset_arn, "importArn": imported["arn"]}

    def trained(self, plan: dict[str, Any], refs: dict[str, str], solution: dict[str, Any]) -> str:
        solution_arn = self.drive("solution", solution, {"datasetGroupArn": refs["datasetGroupArn"]})["arn"]
        return str(self.drive("solution_version", solution, {"solutionArn": solution_arn})["arn"])

    def teardown(self, group_arn: str) -> None:
        """What the teardown workflow does, for one group: campaigns, solutions, datasets, schemas, group."""
        client = self.personalize
        solutions = client.list_solutions(datasetGroupArn=group_arn)["solutions"]
        for solution in solutions:
            for campaign in client.list_campaigns(solutionArn=solution["solutionArn"])["campaigns"]:
                client.delete_campaign(campaignArn=campaign["campaignArn"])
        self.clock.advance(self.double.seconds_until_settled())
        for solution in solutions:
            client.delete_solution(solutionArn=solution["solutionArn"])
        for dataset in client.list_datasets(datasetGroupArn=group_arn)["datasets"]:
            client.delete_dataset(datasetArn=dataset["datasetArn"])
        self.clock.advance(self.double.seconds_until_settled())
        for schema in client.list_schemas()["schemas"]:
            client.delete_schema(schemaArn=schema["schemaArn"])
        client.delete_dataset_group(datasetGroupArn=group_arn)
        self.clock.advance(self.double.seconds_until_settled())


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    from moto import mock_aws

    from tests.support.personalize_double import FakeClock, PersonalizeDouble

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock, account_id=ACCOUNT)
    with mock_aws(), double.installed():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="imports/interactions.csv", Body=_interactions_csv())
        yield World(double, clock)


def test_the_same_data_is_imported_again_after_a_teardown(world: World) -> None:
    """Import jobs cannot be deleted: their names stay taken. A re-created dataset imports under a new name."""
    plan = _plan()
    first = world.group(plan)
    world.teardown(first["datasetGroupArn"])
    second = world.group(plan)
    assert second["datasetArn"] == first["datasetArn"]  # same name, same ARN: a new dataset all the same
    assert second["importArn"] != first["importArn"]
    assert world.double.status(second["importArn"]) == "ACTIVE"


def test_a_renamed_dataset_group_builds_beside_the_old_one(world: World) -> None:
    old_plan, new_plan = _plan("retail"), _plan("retail2")
    old = world.group(old_plan)
    old_version = world.trained(old_plan, old, old_plan["solutions"][0])
    old_campaign = world.drive(
        "campaign", old_plan["solutions"][0]["campaigns"][0], {"solutionVersionArn": old_version}
    )
    new = world.group(new_plan)
    new_version = world.trained(new_plan, new, new_plan["solutions"][0])
    new_campaign = world.drive(
        "campaign", new_plan["solutions"][0]["campaigns"][0], {"solutionVersionArn": new_version}
    )

    assert new_campaign["arn"] != old_campaign["arn"]
    described = world.personalize.describe_campaign(campaignArn=old_campaign["arn"])["campaign"]
    assert described["solutionVersionArn"] == old_version
    assert world.double.call_count("UpdateCampaign") == 0


def test_a_campaign_of_another_solution_is_never_updated(world: World) -> None:
    """Campaigns are looked up among this solution's campaigns: one with the same name elsewhere (made by
    hand, or by another POC) is a conflict to report, not a campaign to move onto this model."""
    plan = _plan()
    refs = world.group(plan)
    mine = world.trained(plan, refs, plan["solutions"][0])
    other = world.trained(plan, refs, plan["solutions"][1])
    spec = plan["solutions"][0]["campaigns"][0]
    foreign = world.personalize.create_campaign(name=spec["name"], solutionVersionArn=other)["campaignArn"]
    world.clock.advance(world.double.seconds_until_settled())

    with pytest.raises(ConfigConflict, match="campaign names are unique per account"):
        ensure(world.adapter, "campaign", spec, {"solutionVersionArn": mine}, 1)
    assert world.personalize.describe_campaign(campaignArn=foreign)["campaign"]["solutionVersionArn"] == other
    assert world.double.call_count("UpdateCampaign") == 0


def test_a_campaign_is_not_updated_again_when_describe_adds_defaults(world: World) -> None:
    plan = _plan()
    refs = world.group(plan)
    solution = {**plan["solutions"][0], "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization"}
    version = world.trained(plan, refs, solution)
    spec = {
        **solution["campaigns"][0],
        "recipe": "aws-user-personalization",
        "campaignConfig": {"itemExplorationConfig": {"explorationWeight": "0.5"}},
    }
    world.drive("campaign", spec, {"solutionVersionArn": version})
    again = ensure(world.adapter, "campaign", spec, {"solutionVersionArn": version}, 1)
    assert again["state"] == "READY"
    assert world.double.call_count("UpdateCampaign") == 0


def test_an_echoed_filter_expression_is_not_a_change(world: World) -> None:
    plan = _plan()
    group_arn = world.group(plan)["datasetGroupArn"]
    spec = {**plan["filters"][0], "expression": 'exclude ItemID where Interactions.EVENT_TYPE in ("purchase")'}
    world.drive("filter", spec, {"datasetGroupArn": group_arn})
    again = ensure(world.adapter, "filter", spec, {"datasetGroupArn": group_arn}, 1)
    assert again["state"] == "READY"
    assert world.double.call_count("DeleteFilter") == 0


def test_the_first_training_of_an_update_solution_is_full(world: World) -> None:
    """CreateSolutionVersion.trainingMode: UPDATE needs an ACTIVE version trained FULL first."""
    plan = _plan()
    refs = world.group(plan)
    solution = {**plan["solutions"][0], "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization"}
    solution["trainingMode"] = "UPDATE"
    solution_arn = world.drive("solution", solution, {"datasetGroupArn": refs["datasetGroupArn"]})["arn"]
    first = world.drive("solution_version", solution, {"solutionArn": solution_arn})
    trained_at = world.personalize.describe_solution_version(solutionVersionArn=first["arn"])["solutionVersion"]
    new_data = trained_at["creationDateTime"] + timedelta(days=1)  # an import finished after that training
    world.clock.advance(2 * 86_400)
    later = {"solutionArn": solution_arn, "importsCompletedAt": [new_data.isoformat()]}
    second = world.drive("solution_version", solution, later)
    modes = {
        v: world.personalize.describe_solution_version(solutionVersionArn=v)["solutionVersion"]["trainingMode"]
        for v in (first["arn"], second["arn"])
    }
    assert modes == {first["arn"]: "FULL", second["arn"]: "UPDATE"}


def test_everything_the_workflow_creates_carries_the_environment_tags(world: World) -> None:
    plan = _plan()
    refs = world.group(plan)
    solution = plan["solutions"][0]
    version = world.trained(plan, refs, solution)
    world.drive("campaign", solution["campaigns"][0], {"solutionVersionArn": version})
    world.drive("filter", plan["filters"][0], {"datasetGroupArn": refs["datasetGroupArn"]})
    world.drive("event_tracker", plan["eventTracker"], {"datasetGroupArn": refs["datasetGroupArn"]})
    expected = [{"tagKey": k, "tagValue": v} for k, v in sorted(TAGS.items())]
    created = [r for r in world.double.resources() if r.kind != "schema"]  # CreateSchema takes no tags
    assert {r.kind for r in created} >= {"dataset_group", "dataset_import_job", "solution_version", "campaign"}
    for resource in created:
        assert world.personalize.list_tags_for_resource(resourceArn=resource.arn)["tags"] == expected, resource.kind


def test_a_failed_solution_update_ends_the_run_with_the_services_reason(world: World) -> None:
    plan = _plan()
    refs = world.group(plan)
    spec = plan["solutions"][0]
    solution_arn = world.drive("solution", spec, {"datasetGroupArn": refs["datasetGroupArn"]})["arn"]
    world.personalize.update_solution(solutionArn=solution_arn, performAutoTraining=True)
    world.clock.advance(world.double.seconds_until_settled())
    res = world.double._store[solution_arn]  # the update failed in the service
    res.updates[-1].failure_reason = "Internal failure while updating the solution."
    res.updates[-1].timeline.phases[-1] = (res.updates[-1].timeline.phases[-1][0], "CREATE FAILED")
    with pytest.raises(ResourceFailed, match="Internal failure while updating the solution"):
        ensure(world.adapter, "solution", spec, {"datasetGroupArn": refs["datasetGroupArn"]}, 2)
