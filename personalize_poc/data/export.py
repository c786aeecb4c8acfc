"""`personalize-poc data export ENV`: dataset export jobs into the data bucket's exports/ prefix.

Amazon Personalize writes the export as CSV files with a header row of the schema's fields under the
output path ("Exporting a dataset", https://docs.aws.amazon.com/personalize/latest/dg/export-data.html);
the file layout under that path is not documented, so each job gets its own prefix,
``exports/<job name>/``, and the command lists what landed there once the job is ACTIVE.
Statuses: ``CREATE PENDING > CREATE IN_PROGRESS > ACTIVE -or- CREATE FAILED`` (botocore
``DatasetExportJob.status``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from personalize_poc.data import data_jobs
from personalize_poc.data.errors import CliError, UsageError
from personalize_poc.plan import EXPORT_PREFIX

DATASET_TYPES = {"interactions": "INTERACTIONS", "items": "ITEMS", "users": "USERS"}
INGESTION_MODES = ("BULK", "PUT", "ALL")  # botocore IngestionMode enum
TERMINAL = frozenset({"ACTIVE", "CREATE FAILED"})
OPERATION = "CreateDatasetExportJob"


@dataclass
class ExportResult:
    dataset: str
    job_name: str
    job_arn: str
    status: str
    prefix_uri: str
    failure_reason: str = ""
    objects: list[tuple[str, int]] = field(default_factory=list)  # (s3 URI, bytes)


def deployed_datasets(personalize: Any, group_arn: str) -> dict[str, str]:
    """The dataset group's datasets that can be exported: interactions / items / users -> ARN."""
    found: dict[str, str] = {}
    for page in personalize.get_paginator("list_datasets").paginate(datasetGroupArn=group_arn):
        for dataset in page["datasets"]:
            kind = dataset["datasetType"].upper()
            for name, api_type in DATASET_TYPES.items():
                if kind == api_type:
                    found[name] = dataset["datasetArn"]
    return found


def start_exports(session: Any, environment: Any, dataset: str, ingestion_mode: str,
                  console: Console) -> list[ExportResult]:
    """Start one export job per chosen dataset (``all``: every dataset of the POC), in parallel."""
    if ingestion_mode not in INGESTION_MODES:
        raise UsageError(f"--ingestion-mode must be one of {', '.join(INGESTION_MODES)}, not {ingestion_mode!r}")
    deployed = data_jobs.find_deployed(session, environment)
    personalize = session.client("personalize")
    datasets = deployed_datasets(personalize, deployed.dataset_group_arn)
    chosen = sorted(datasets) if dataset == "all" else [dataset]
    missing = [name for name in chosen if name not in datasets]
    if missing or not chosen:
        raise CliError(f"dataset group {deployed.group_name} has no {' / '.join(missing) or 'datasets'} dataset "
                       f"to export (it has: {', '.join(sorted(datasets)) or 'none'})")
    results = []
    for name in chosen:
        job = data_jobs.job_name(deployed.group_name, f"export-{name}", OPERATION)
        prefix = f"{EXPORT_PREFIX}{job}/"
        destination: dict[str, str] = {"path": deployed.uri(prefix)}
        if deployed.kms_key_arn:
            destination["kmsKeyArn"] = deployed.kms_key_arn
        params: dict[str, Any] = {"jobName": job, "datasetArn": datasets[name], "ingestionMode": ingestion_mode,
                                  "roleArn": deployed.role_arn, "jobOutput": {"s3DataDestination": destination}}
        if deployed.tags:
            params["tags"] = deployed.tag_list
        arn = personalize.create_dataset_export_job(**params)["datasetExportJobArn"]
        console.print(f"export {name}: started {job}")
        results.append(ExportResult(name, job, arn, "CREATE PENDING", deployed.uri(prefix)))
    return results


def run_exports(session: Any, environment: Any, *, dataset: str, ingestion_mode: str, timeout_minutes: float,
                console: Console) -> list[ExportResult]:
    """Start the exports, wait for them (bounded) and list the files each one wrote."""
    results = start_exports(session, environment, dataset, ingestion_mode, console)
    personalize = session.client("personalize")

    def describe(arn: str) -> dict[str, Any]:
        job: dict[str, Any] = personalize.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"]
        return job

    final = data_jobs.wait_for_jobs(describe, {r.dataset: r.job_arn for r in results}, TERMINAL,
                                    timeout_minutes=timeout_minutes, console=console, what="export")
    s3 = session.client("s3")
    for result in results:
        job = final[result.dataset]
        result.status = job["status"]
        result.failure_reason = job.get("failureReason", "")
        if result.status == "ACTIVE":
            result.objects = _listed(s3, result.prefix_uri)
    return results


def _listed(s3: Any, prefix_uri: str) -> list[tuple[str, int]]:
    bucket, _, prefix = prefix_uri.removeprefix("s3://").partition("/")
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [(f"s3://{bucket}/{item['Key']}", int(item["Size"])) for item in page.get("Contents", [])]
    return objects
