"""The only module that talks to Personalize: boto3 calls, paginated look-ups by name, and the
translation of service errors into the workflow's retryable error names."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from poc_steps.errors import QuotaExceeded, ResourceBusy, Throttled

# Standard mode retries throttling inside the call first; Step Functions retries what remains.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, user_agent_extra="personalize-poc")

# For each kind: the List operation, its result key, the member with the name, the member with the ARN.
LISTINGS: dict[str, tuple[str, str, str, str]] = {
    "dataset_group": ("list_dataset_groups", "datasetGroups", "name", "datasetGroupArn"),
    "schema": ("list_schemas", "schemas", "name", "schemaArn"),
    "dataset": ("list_datasets", "datasets", "name", "datasetArn"),
    "import_job": ("list_dataset_import_jobs", "datasetImportJobs", "jobName", "datasetImportJobArn"),
    "solution": ("list_solutions", "solutions", "name", "solutionArn"),
    "solution_version": (
        "list_solution_versions",
        "solutionVersions",
        "solutionVersionArn",
        "solutionVersionArn",
    ),
    "campaign": ("list_campaigns", "campaigns", "name", "campaignArn"),
    "filter": ("list_filters", "Filters", "name", "filterArn"),
    "event_tracker": ("list_event_trackers", "eventTrackers", "name", "eventTrackerArn"),
    "batch_job": ("list_batch_inference_jobs", "batchInferenceJobs", "jobName", "batchInferenceJobArn"),
    "recommender": ("list_recommenders", "recommenders", "name", "recommenderArn"),
    "metric_attribution": ("list_metric_attributions", "metricAttributions", "name", "metricAttributionArn"),
    "segment_job": ("list_batch_segment_jobs", "batchSegmentJobs", "jobName", "batchSegmentJobArn"),
}

# For each kind: the Describe operation, its ARN parameter, and the result key.
DESCRIPTIONS: dict[str, tuple[str, str, str]] = {
    "dataset_group": ("describe_dataset_group", "datasetGroupArn", "datasetGroup"),
    "schema": ("describe_schema", "schemaArn", "schema"),
    "dataset": ("describe_dataset", "datasetArn", "dataset"),
    "import_job": ("describe_dataset_import_job", "datasetImportJobArn", "datasetImportJob"),
    "solution": ("describe_solution", "solutionArn", "solution"),
    "solution_version": ("describe_solution_version", "solutionVersionArn", "solutionVersion"),
    "campaign": ("describe_campaign", "campaignArn", "campaign"),
    "filter": ("describe_filter", "filterArn", "filter"),
    "event_tracker": ("describe_event_tracker", "eventTrackerArn", "eventTracker"),
    "batch_job": ("describe_batch_inference_job", "batchInferenceJobArn", "batchInferenceJob"),
    "segment_job": ("describe_batch_segment_job", "batchSegmentJobArn", "batchSegmentJob"),
    "metric_attribution": ("describe_metric_attribution", "metricAttributionArn", "metricAttribution"),
    "recommender": ("describe_recommender", "recommenderArn", "recommender"),
}


@contextlib.contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Map the service's busy/throttle/quota errors to names the state machine retries on."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code in ("ThrottlingException", "TooManyRequestsException"):
            raise Throttled(f"{what}: throttled by Personalize ({message})") from error
        if code == "LimitExceededException":
            raise QuotaExceeded(
                f"{what}: a Personalize quota is reached ({message}). Wait for running work to finish, remove "
                "unused resources, or ask for a higher quota in Service Quotas (service: Amazon Personalize)."
            ) from error
        if code == "ResourceInUseException":
            raise ResourceBusy(f"{what}: {message}") from error
        raise


class PersonalizeAdapter:
    def __init__(self, client: Any | None = None, s3_client: Any | None = None) -> None:
        self.client = client or boto3.client("personalize", config=_CLIENT_CONFIG)
        self._s3 = s3_client

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = boto3.client("s3", config=_CLIENT_CONFIG)
        return self._s3

    def object_etag(self, uri: str) -> str:
        """The ETag of an s3:// object: identifies the data version an import job reads."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return str(self.s3.head_object(Bucket=bucket, Key=key)["ETag"])

    def call(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        with translated_errors(what):
            return getattr(self.client, operation)(**params)  # type: ignore[no-any-return]

    def list_all(self, kind: str, **params: Any) -> list[dict[str, Any]]:
        operation, key, _, _ = LISTINGS[kind]
        items: list[dict[str, Any]] = []
        with translated_errors(f"listing {kind}s"):
            for page in self.client.get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
        return items

    def find(self, kind: str, name: str, **params: Any) -> dict[str, Any] | None:
        """The summary of the resource of this kind called `name`, or None."""
        _, _, name_key, _ = LISTINGS[kind]
        return next((item for item in self.list_all(kind, **params) if item.get(name_key) == name), None)

    def arn_of(self, kind: str, summary: dict[str, Any]) -> str:
        return str(summary[LISTINGS[kind][3]])

    def describe(self, kind: str, arn: str) -> dict[str, Any]:
        operation, param, key = DESCRIPTIONS[kind]
        return self.call(operation, f"describing {arn}", **{param: arn})[key]  # type: ignore[no-any-return]

    def is_missing(self, error: ClientError) -> bool:
        return error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
