"""`personalize-poc data delete-users ENV FILE`: a data deletion job for the users listed in FILE.

Rules (Amazon Personalize developer guide, "Deleting users and their data with a data deletion job",
https://docs.aws.amazon.com/personalize/latest/dg/delete-records.html, and botocore
``CreateDataDeletionJob``):

- the input is a CSV file with a single USER_ID column listing the users' ids; the input files may be
  50 MB in all;
- you can't use your own KMS key for the list of user ids: the file is uploaded with SSE-S3 even when the
  bucket's default is a customer key (the object's encryption, not the bucket's, is what can be set
  per upload; whether the service also refuses a bucket whose default is a customer key is not said);
- statuses ``PENDING > IN_PROGRESS > COMPLETED -or- FAILED``; ``numDeleted`` is "the number of records
  deleted by a COMPLETED job";
- no training, batch or import job of the dataset group should run when it starts ("If any training or
  import occurs, we can't guarantee that the users' data will be deleted from models"): the command
  refuses while one runs, unless --force;
- it can take up to a day; after it, Amazon Personalize no longer trains on the users' data, and models
  trained before keep it until new solution versions are trained and campaigns updated (the guide's
  guidelines: after the job completes, create new solution versions and update campaigns).

Ids are checked against the schema's limit for USER_ID (256 characters, ``checks.ID_MAX_CHARS``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from personalize_poc.data import data_jobs
from personalize_poc.data.checks import ID_MAX_CHARS
from personalize_poc.data.errors import CliError
from personalize_poc.plan import DELETION_PREFIX

MAX_INPUT_BYTES = 50 * 1024 * 1024  # delete-records.html: "The maximum total size ... is 50 MB."
TERMINAL = frozenset({"COMPLETED", "FAILED"})
OPERATION = "CreateDataDeletionJob"
RETRAIN_NOTE = (
    "Amazon Personalize no longer trains on these users' data. Solution versions trained before still "
    "hold it: train new ones and update the campaigns (personalize-poc run start {env}), as the guide's "
    "'Deleting users' page asks after a deletion job completes."
)


@dataclass
class DeletionResult:
    job_name: str
    job_arn: str
    input_uri: str
    users: int
    status: str
    num_deleted: int | None = None
    failure_reason: str = ""


def _read_input(path: Path) -> bytes:
    """The deletion file's bytes, read once (they are checked, then uploaded as they are)."""
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise CliError(f"{path}: {size:,} bytes; a data deletion job reads at most 50 MB")
    return path.read_bytes()


def user_ids_in(path: Path, body: bytes) -> list[str]:
    """The user ids of the deletion file ``path`` whose bytes are ``body``, or a CliError naming the first problem."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or [cell.strip() for cell in header] != ["USER_ID"]:
        shown = ",".join(header or []) or "(empty file)"
        raise CliError(f"{path}: line 1 must be the single column header USER_ID, found {shown!r}")
    users: list[str] = []
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != 1:
            raise CliError(f"{path}: line {line} has {len(row)} columns; the file must have only USER_ID")
        user = row[0].strip()
        if not user:
            raise CliError(f"{path}: line {line} has an empty USER_ID")
        if len(user) > ID_MAX_CHARS:
            raise CliError(f"{path}: line {line}: USER_ID is {len(user)} characters; at most {ID_MAX_CHARS}")
        users.append(user)
    if not users:
        raise CliError(f"{path}: lists no user ids (only the USER_ID header)")
    return users


# Statuses of work in progress (botocore docs of each resource's status): imports and training, batch jobs.
_RUNNING = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING", "PENDING", "IN PROGRESS"})


def work_in_progress(personalize: Any, group_arn: str) -> list[str]:
    """Import jobs, training (solution versions, recommenders being created) and batch inference and batch
    segment jobs of the dataset group that have not ended. The guide
    ("Deleting users", guidelines) asks that none run when a data deletion job starts: it can't guarantee
    that data used by training or imports meanwhile is deleted from models."""
    def pages(method: str, key: str, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in personalize.get_paginator(method).paginate(**params):
            found += page[key]
        return found

    busy = []
    for dataset in pages("list_datasets", "datasets", datasetGroupArn=group_arn):
        imports = pages("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset["datasetArn"])
        busy += [f"import job {j['jobName']} ({j['status']})" for j in imports if j["status"] in _RUNNING]
    versions = set()
    for solution in pages("list_solutions", "solutions", datasetGroupArn=group_arn):
        for version in pages("list_solution_versions", "solutionVersions", solutionArn=solution["solutionArn"]):
            versions.add(version["solutionVersionArn"])
            if version["status"] in _RUNNING:
                busy.append(f"training of {solution['name']} ({version['status']})")
    # Batch jobs of both kinds ("training jobs, batch jobs, or bulk or individual import operations"):
    # account-wide listings, filtered here to this group's solution versions.
    for method, key, label in (("list_batch_inference_jobs", "batchInferenceJobs", "batch inference job"),
                               ("list_batch_segment_jobs", "batchSegmentJobs", "batch segment job")):
        busy += [f"{label} {j['jobName']} ({j['status']})" for j in pages(method, key)
                 if j.get("solutionVersionArn") in versions and j["status"] in _RUNNING]
    # A domain group's recommenders train on its datasets while they are created (RecommenderSummary.status).
    busy += [f"training of recommender {r['name']} ({r['status']})"
             for r in pages("list_recommenders", "recommenders", datasetGroupArn=group_arn)
             if r["status"] in _RUNNING]
    return busy


def delete_users(session: Any, environment: Any, path: Path, *, timeout_minutes: float,
                 console: Console, force: bool = False) -> DeletionResult:
    body = _read_input(path)
    users = user_ids_in(path, body)
    deployed = data_jobs.find_deployed(session, environment)
    personalize = session.client("personalize")
    busy = work_in_progress(personalize, deployed.dataset_group_arn)
    if busy and not force:
        raise CliError(f"work in progress in {deployed.group_name}: {', '.join(busy)}; the guide asks that none "
                       "runs during a data deletion job (its data might stay in models): wait, or --force")
    for item in busy:
        console.print(f"warning: {item} is running; its data may stay in models (--force)")
    job = data_jobs.job_name(deployed.group_name, "delete-users", OPERATION)
    key = f"{DELETION_PREFIX}{job}.csv"
    # SSE-S3 on purpose: the guide says the list of user ids can't use your own KMS key.
    session.client("s3").put_object(Bucket=deployed.bucket, Key=key, Body=body,
                                    ContentType="text/csv", ServerSideEncryption="AES256")
    console.print(f"uploaded {len(set(users)):,} user ids to {deployed.uri(key)}")
    params: dict[str, Any] = {"jobName": job, "datasetGroupArn": deployed.dataset_group_arn,
                              "dataSource": {"dataLocation": deployed.uri(key)}, "roleArn": deployed.role_arn}
    if deployed.tags:
        params["tags"] = deployed.tag_list
    arn = personalize.create_data_deletion_job(**params)["dataDeletionJobArn"]
    console.print(f"delete-users: started {job}")

    def describe(job_arn: str) -> dict[str, Any]:
        found: dict[str, Any] = personalize.describe_data_deletion_job(dataDeletionJobArn=job_arn)["dataDeletionJob"]
        return found

    final = data_jobs.wait_for_jobs(describe, {job: arn}, TERMINAL, timeout_minutes=timeout_minutes,
                                    console=console, what="deletion")[job]
    return DeletionResult(job, arn, deployed.uri(key), len(set(users)), final["status"], final.get("numDeleted"),
                          final.get("failureReason", ""))
