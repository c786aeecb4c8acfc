"""The Personalize double's dataset export and data deletion jobs, through boto3 (tests/support/
double_data_jobs.py): the service model's validation, the real status lifecycles, account-wide names,
the limits and the failure modes the commands must report."""

# ruff: noqa: F811  (the fixtures of test_cli_privacy.py, imported, are parameters here)

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.test_cli_privacy import (  # noqa: F401  (fixtures reused)
    BUCKET,
    KEY,
    REGION,
    ROLE,
    Deployed,
    cloud,
    deployed,
)


def _client() -> Any:
    return boto3.client("personalize", region_name=REGION)


def _dataset(deployed: Deployed, kind: str = "USERS") -> str:
    datasets = _client().list_datasets(datasetGroupArn=deployed.group_arn)["datasets"]
    return str(next(d["datasetArn"] for d in datasets if d["datasetType"].upper() == kind))


def _export(name: str, dataset: str, **extra: Any) -> str:
    params = {"jobName": name, "datasetArn": dataset, "roleArn": ROLE,
              "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/exports/{name}/"}}, **extra}  # fmt: skip
    return str(_client().create_dataset_export_job(**params)["datasetExportJobArn"])


def _deletion(name: str, group: str, location: str) -> str:
    return str(
        _client().create_data_deletion_job(
            jobName=name, datasetGroupArn=group, dataSource={"dataLocation": location}, roleArn=ROLE
        )["dataDeletionJobArn"]
    )


def _statuses(deployed: Deployed, describe: Any) -> list[str]:
    seen = [describe()["status"]]
    while deployed.double.seconds_until_settled() > 0:
        # 5 min steps: shorter than either job's IN_PROGRESS phase (95 % of 20 or 60 min)
        deployed.clock.advance(min(300.0, deployed.double.seconds_until_settled()))
        if describe()["status"] != seen[-1]:
            seen.append(describe()["status"])
    return seen


def test_an_export_moves_through_the_real_statuses_and_writes_a_schema_headed_csv(deployed: Deployed) -> None:
    arn = _export("x-export-1", _dataset(deployed), ingestionMode="BULK")

    def describe() -> dict[str, Any]:
        return dict(_client().describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])

    assert _statuses(deployed, describe) == ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"]
    body = deployed.s3.get_object(Bucket=BUCKET, Key="exports/x-export-1/part-00000.csv")["Body"].read().decode()
    lines = body.splitlines()
    assert lines[0] == "USER_ID,MEMBERSHIP,AGE_GROUP" and len(lines) == 1 + 60
    (listed,) = _client().list_dataset_export_jobs(datasetArn=describe()["datasetArn"])["datasetExportJobs"]
    assert listed["status"] == "ACTIVE" and listed["jobName"] == "x-export-1"


def test_an_export_of_put_data_only_has_a_header(deployed: Deployed) -> None:
    """The service's default ingestionMode is PUT (botocore); the POC's data came by import jobs (BULK)."""
    _export("x-export-put", _dataset(deployed))
    deployed.clock.advance(deployed.double.seconds_until_settled())
    _client().list_dataset_export_jobs()

    body = deployed.s3.get_object(Bucket=BUCKET, Key="exports/x-export-put/part-00000.csv")["Body"].read()
    assert body.decode().splitlines() == ["USER_ID,MEMBERSHIP,AGE_GROUP"]


def test_export_requests_are_checked_against_the_service_model(deployed: Deployed) -> None:
    dataset = _dataset(deployed)
    with pytest.raises(ClientError, match="ValidationException.*jobName"):
        _export("x" * 64, dataset)
    with pytest.raises(ClientError, match="ValidationException.*ingestionMode"):
        _export("x-export-mode", dataset, ingestionMode="EVERYTHING")
    with pytest.raises(ClientError, match="ValidationException.*kmsKeyArn"):
        _export("x-export-key", dataset, jobOutput={"s3DataDestination": {"path": "s3://b/x/", "kmsKeyArn": "k"}})


def test_job_names_are_taken_for_good_in_the_account(deployed: Deployed) -> None:
    """Export and deletion jobs have no Delete operation: a name used once cannot be used again."""
    _export("x-export-same", _dataset(deployed, "USERS"))
    deployed.clock.advance(deployed.double.seconds_until_settled())
    with pytest.raises(_client().exceptions.ResourceAlreadyExistsException):
        _export("x-export-same", _dataset(deployed, "INTERACTIONS"))


def test_one_export_in_flight_per_dataset(deployed: Deployed) -> None:
    dataset = _dataset(deployed)
    _export("x-export-a", dataset)
    with pytest.raises(_client().exceptions.ResourceInUseException):
        _export("x-export-b", dataset)


def test_a_deletion_counts_the_users_the_group_holds(deployed: Deployed) -> None:
    deployed.s3.put_object(Bucket=BUCKET, Key="deletions/a.csv", Body=b"USER_ID\nu001\nu002\nu001\nstranger\n")
    arn = _deletion("x-delete-1", deployed.group_arn, f"s3://{BUCKET}/deletions/a.csv")

    def describe() -> dict[str, Any]:
        return dict(_client().describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"])

    assert _statuses(deployed, describe) == ["PENDING", "IN_PROGRESS", "COMPLETED"]
    assert describe()["numDeleted"] == 2
    (listed,) = _client().list_data_deletion_jobs(datasetGroupArn=deployed.group_arn)["dataDeletionJobs"]
    assert listed["status"] == "COMPLETED" and "numDeleted" not in listed  # not in the summary shape


def test_a_deletion_folder_means_every_file_under_it(deployed: Deployed) -> None:
    for key, user in (("deletions/batch/a.csv", "u001"), ("deletions/batch/more/b.csv", "u002")):
        deployed.s3.put_object(Bucket=BUCKET, Key=key, Body=f"USER_ID\n{user}\n".encode())
    arn = _deletion("x-delete-folder", deployed.group_arn, f"s3://{BUCKET}/deletions/batch/")
    deployed.clock.advance(deployed.double.seconds_until_settled())

    assert _client().describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]["numDeleted"] == 2


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("deletions/missing.csv", None, "Input data not found"),
        ("deletions/two-columns.csv", b"USER_ID,ITEM_ID\nu001,i1\n", "single USER_ID column"),
        ("deletions/header-only.csv", b"USER_ID\n", "lists no user ids"),
        ("deletions/blank-id.csv", b'USER_ID\nu001\n""\n', "non-empty USER_ID"),
    ],
)
def test_a_deletion_of_a_missing_or_malformed_file_fails_with_a_reason(
    deployed: Deployed, key: str, body: bytes | None, reason: str
) -> None:
    if body is not None:
        deployed.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    arn = _deletion("x-delete-bad", deployed.group_arn, f"s3://{BUCKET}/{key}")
    deployed.clock.advance(deployed.double.seconds_until_settled())

    job = _client().describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]
    assert job["status"] == "FAILED" and reason in job["failureReason"]
    assert "numDeleted" not in job


def test_a_deletion_list_under_a_customer_key_fails(deployed: Deployed) -> None:
    """delete-records.html: the list of user ids can't use your own KMS key."""
    deployed.s3.put_object(Bucket=BUCKET, Key="deletions/k.csv", Body=b"USER_ID\nu001\n",
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=KEY)  # fmt: skip
    arn = _deletion("x-delete-kms", deployed.group_arn, f"s3://{BUCKET}/deletions/k.csv")
    deployed.clock.advance(deployed.double.seconds_until_settled())

    job = _client().describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]
    assert job["status"] == "FAILED" and "customer managed KMS key" in job["failureReason"]


def test_at_most_five_pending_deletions_per_dataset_group(deployed: Deployed) -> None:
    deployed.s3.put_object(Bucket=BUCKET, Key="deletions/a.csv", Body=b"USER_ID\nu001\n")
    for n in range(5):
        _deletion(f"x-delete-{n}", deployed.group_arn, f"s3://{BUCKET}/deletions/a.csv")
    with pytest.raises(_client().exceptions.LimitExceededException):
        _deletion("x-delete-5", deployed.group_arn, f"s3://{BUCKET}/deletions/a.csv")
