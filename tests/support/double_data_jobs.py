"""The Personalize double's dataset export jobs and data deletion jobs (a mixin of ``PersonalizeDouble``).

Service rules and their sources (STRICTER marks where the real behaviour is not documented and the
double takes the stricter side):

- Statuses (botocore personalize model, ``DatasetExportJob.status`` and ``DataDeletionJob.status``):
  export ``CREATE PENDING > CREATE IN_PROGRESS > ACTIVE -or- CREATE FAILED``; deletion
  ``PENDING > IN_PROGRESS > COMPLETED -or- FAILED`` (an underscore here, unlike batch jobs' space).
- Neither job can be deleted (the API has no Delete operation for them): a job name, like an import job's,
  is taken for good in the account and region (STRICTER: the service may forget it with the dataset group).
  ARNs are ``dataset-export-job/<jobName>`` and ``data-deletion-job/<jobName>``.
- Export ("Exporting a dataset", export-data.html): the dataset must be ACTIVE; Action interactions and
  Actions datasets cannot be exported (InvalidInputException here, STRICTER: synchronous). The output is
  CSV with a header row of the schema's field names; ``ingestionMode`` defaults to PUT (botocore
  ``CreateDatasetExportJobRequest.ingestionMode``). The double exports BULK data (what the dataset's
  ACTIVE import jobs brought in: a FULL import replaces earlier data, an INCREMENTAL one adds to it); it
  holds no PUT data (no personalize-events), so PUT exports a header only (not documented). Rows of
  users removed by a COMPLETED deletion job are left out. One export in flight per dataset (STRICTER,
  as import jobs). The service writes with the passed role ("Dataset export job permissions
  requirements", export-permissions.html: s3:ListBucket and s3:PutObject, and the KMS key when one is
  given): ``service_access`` is asked, a denial ends the job CREATE FAILED naming the access problem.
  The layout under the output path is not documented: the double writes ``<path>/part-00000.csv``
  when the job is first seen ACTIVE (Describe or List).
- Deletion ("Deleting users and their data with a data deletion job", delete-records.html, and
  botocore ``CreateDataDeletionJob``): the input is CSV with a single USER_ID column; a ``dataLocation``
  ending in ``/`` means every object under that folder; at most 50 MB in all; at most 5 PENDING jobs per
  dataset group (LimitExceededException); the role needs s3:ListBucket and s3:GetObject, as for imports;
  an input encrypted with a customer managed KMS key is refused (the guide: you can't use your own KMS
  key for the list of user ids). A missing, empty or malformed input ends the job FAILED with a
  failureReason (STRICTER than a synchronous error). ``numDeleted`` ("the number of records deleted by
  a COMPLETED job") is counted here as the listed users the dataset group holds in its imported
  interactions or users data (what a "record" counts is not documented).
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

EXPORT_PENDING, EXPORT_IN_PROGRESS, EXPORTED, EXPORT_FAILED = (
    "CREATE PENDING",
    "CREATE IN_PROGRESS",
    "ACTIVE",
    "CREATE FAILED",
)
DELETION_PENDING, DELETION_IN_PROGRESS, DELETION_COMPLETED, DELETION_FAILED = (
    "PENDING",
    "IN_PROGRESS",
    "COMPLETED",
    "FAILED",
)
#: Simulated seconds per job (``double.durations`` may override them by these keys).
DATA_JOB_DURATIONS = {"dataset_export_job": 20 * 60.0, "data_deletion_job": 60 * 60.0}
DATA_JOB_KINDS = tuple(DATA_JOB_DURATIONS)
#: delete-records.html: "The maximum total size of your data deletion input file or files is 50 MB."
DELETION_INPUT_MAX_BYTES = 50 * 1024 * 1024
#: delete-records.html: "You can have up to 5 deletion jobs for a dataset group with a status of PENDING."
MAX_PENDING_DELETIONS = 5
#: export-data.html: data in Action interactions and Actions datasets can't be exported.
_NOT_EXPORTABLE = frozenset({"ACTIONS", "ACTION_INTERACTIONS"})


@functools.cache
def _core() -> ModuleType:
    """tests.support.personalize_double, imported when first needed (it imports this module)."""
    from tests.support import personalize_double

    return personalize_double


@dataclass
class _DataJobsState:
    exports_written: set[str] = field(default_factory=set)
    deleted_users: dict[str, set[str]] = field(default_factory=dict)  # group ARN -> users, once COMPLETED
    deletion_outcome: dict[str, tuple[set[str], int]] = field(default_factory=dict)  # job -> (users, count)


class DataJobsMixin:
    """CreateDatasetExportJob / DescribeDatasetExportJob / ListDatasetExportJobs and CreateDataDeletionJob /
    DescribeDataDeletionJob / ListDataDeletionJobs. See the module docstring for the rules."""

    # ------------------------------------------------------------------ knobs and inspection
    @property
    def _data_jobs(self) -> _DataJobsState:
        state = self.__dict__.get("_data_jobs_state")
        if state is None:
            state = self.__dict__["_data_jobs_state"] = _DataJobsState()
        return state

    def fail_data_job(self, kind: str, reason: str, match: str | None = None, times: int = 1) -> None:
        """The next ``times`` jobs of ``kind`` (``dataset_export_job`` or ``data_deletion_job``) whose name,
        ARN, dataset/dataset group name or dataset type matches ``match`` (if given) end failed with
        ``reason``."""
        if kind not in DATA_JOB_KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {DATA_JOB_KINDS}")
        with self._lock:  # type: ignore[attr-defined]
            self._failures.append(_core()._Failure(kind, match, reason, times))  # type: ignore[attr-defined]

    def deleted_users(self, dataset_group_arn: str) -> set[str]:
        """Users removed from the dataset group by data deletion jobs that are COMPLETED now."""
        with self._lock:  # type: ignore[attr-defined]
            self._settle_deletions(self.clock())  # type: ignore[attr-defined]
            return set(self._data_jobs.deleted_users.get(dataset_group_arn, set()))

    def write_object(self, uri: str, body: bytes) -> None:
        """Where an export job's output goes (moto's S3 when mocked). Replace it on the instance to keep
        output elsewhere."""
        import boto3

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)

    def _data_job_timeline(self, kind: str, now: float, fail: str | None) -> Any:
        core = _core()
        duration = self.durations.get(kind, DATA_JOB_DURATIONS[kind])  # type: ignore[attr-defined]
        duration *= self._slow.get(kind, 1.0)  # type: ignore[attr-defined]
        if kind == "dataset_export_job":
            phases = (EXPORT_PENDING, EXPORT_IN_PROGRESS, EXPORT_FAILED if fail else EXPORTED)
        else:
            phases = (DELETION_PENDING, DELETION_IN_PROGRESS, DELETION_FAILED if fail else DELETION_COMPLETED)
        pending_until = now + duration * self.pending_fraction  # type: ignore[attr-defined]
        return core._Timeline([(now, phases[0]), (pending_until, phases[1]), (now + duration, phases[2])])

    def _job_view(self, res: Any, ctx: Any) -> dict[str, Any]:
        view: dict[str, Any] = self._view(res, ctx)  # type: ignore[attr-defined]
        if res.kind == "data_deletion_job" and view["status"] == DELETION_COMPLETED:
            view["numDeleted"] = self._data_jobs.deletion_outcome.get(res.arn, (set(), 0))[1]
        return view

    # ================================================================== dataset export jobs
    def _op_CreateDatasetExportJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        core = _core()
        arn = self._arn(ctx.region, f"dataset-export-job/{p['jobName']}")  # type: ignore[attr-defined]
        self._unique(arn)  # type: ignore[attr-defined]
        dataset = self._get(p["datasetArn"], "dataset", ctx)  # type: ignore[attr-defined]
        dataset_type = dataset.body["datasetType"].upper()
        if dataset_type in _NOT_EXPORTABLE:
            raise core._invalid(f"Data in a {dataset_type} dataset can't be exported.")
        self._require_active(dataset, ctx, "dataset")  # type: ignore[attr-defined]
        for job in self._alive(ctx, "dataset_export_job"):  # type: ignore[attr-defined]
            if job.body["datasetArn"] == dataset.arn and job.status(ctx.now) in (EXPORT_PENDING, EXPORT_IN_PROGRESS):
                raise core._in_use(f"Dataset {dataset.arn} already has dataset export job {job.arn} in progress.")
        self._claim_name("dataset_export_job", p["jobName"], ctx)  # type: ignore[attr-defined]
        mode = p.get("ingestionMode", "PUT")  # botocore: "The default value is PUT."
        destination = p["jobOutput"]["s3DataDestination"]
        output_uri = f"{destination['path'].rstrip('/')}/part-00000.csv"
        body = {
            "jobName": p["jobName"],
            "datasetExportJobArn": arn,
            "datasetArn": dataset.arn,
            "ingestionMode": mode,
            "roleArn": p["roleArn"],
            "jobOutput": p["jobOutput"],
            "_output": output_uri,
        }
        candidates = [p["jobName"], arn, dataset.name, dataset.arn, dataset_type]
        fail = self._take_failure("dataset_export_job", candidates)  # type: ignore[attr-defined]
        fail = fail or self._denied(p["roleArn"], _export_access(output_uri, destination, ctx.region))  # type: ignore[attr-defined]
        if fail is None:
            self._settle_deletions(ctx.now)
            body["_data"] = self._export_rows(dataset, mode, ctx)
        timeline = self._data_job_timeline("dataset_export_job", ctx.now, fail)
        self._add(  # type: ignore[attr-defined]
            "dataset_export_job", arn, p["jobName"], ctx, body, parent=dataset.arn, tags=p.get("tags"),
            timeline=timeline, failure_reason=fail,
        )  # fmt: skip
        return {"datasetExportJobArn": arn}

    def _export_rows(self, dataset: Any, mode: str, ctx: Any) -> bytes:
        """The CSV the export writes: the schema's fields as header, then the BULK rows (see docstring)."""
        fields = [f["name"] for f in _schema_fields(self._store[dataset.body["schemaArn"]].body["schema"])]  # type: ignore[attr-defined]
        rows: list[dict[str, str]] = []
        if mode in ("BULK", "ALL"):
            imports = sorted(self._children(dataset.arn, "dataset_import_job"), key=lambda r: r.seq)  # type: ignore[attr-defined]
            for job in imports:
                if job.status(ctx.now) != _core().ACTIVE:
                    continue
                data = self.read_object(job.body["dataSource"]["dataLocation"])  # type: ignore[attr-defined]
                found = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
                rows = found if job.body.get("importMode", "FULL") == "FULL" else rows + found
        gone = self._data_jobs.deleted_users.get(dataset.parent or "", set())
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        for row in rows:
            if row.get("USER_ID") not in gone:
                writer.writerow([row.get(name, "") for name in fields])
        return out.getvalue().encode()

    def _write_finished_exports(self, ctx: Any) -> None:
        for job in self._alive(ctx, "dataset_export_job"):  # type: ignore[attr-defined]
            if job.status(ctx.now) == EXPORTED and job.arn not in self._data_jobs.exports_written:
                self.write_object(job.body["_output"], job.body["_data"])
                self._data_jobs.exports_written.add(job.arn)

    def _op_DescribeDatasetExportJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["datasetExportJobArn"], "dataset_export_job", ctx)  # type: ignore[attr-defined]
        self._write_finished_exports(ctx)
        return {"datasetExportJob": self._job_view(res, ctx)}

    def _op_ListDatasetExportJobs(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        self._write_finished_exports(ctx)
        dataset = p.get("datasetArn")
        return self._listing(  # type: ignore[attr-defined]
            "dataset_export_job", ctx, p, "datasetExportJobs", "ListDatasetExportJobs",
            keep=lambda r: dataset is None or r.parent == dataset, view=self._job_view,
        )  # fmt: skip

    # ================================================================== data deletion jobs
    def _op_CreateDataDeletionJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        core = _core()
        arn = self._arn(ctx.region, f"data-deletion-job/{p['jobName']}")  # type: ignore[attr-defined]
        self._unique(arn)  # type: ignore[attr-defined]
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)  # type: ignore[attr-defined]
        self._require_active(group, ctx, "dataset group")  # type: ignore[attr-defined]
        pending = [
            j
            for j in self._alive(ctx, "data_deletion_job")  # type: ignore[attr-defined]
            if j.parent == group.arn and j.status(ctx.now) == DELETION_PENDING
        ]
        if len(pending) >= MAX_PENDING_DELETIONS:
            raise core._ApiError(
                "LimitExceededException",
                f"Dataset group {group.arn} already has {MAX_PENDING_DELETIONS} data deletion jobs PENDING.",
            )
        location = p["dataSource"].get("dataLocation")
        if not location:
            raise core._invalid("dataSource.dataLocation is required for a data deletion job.")
        self._claim_name("data_deletion_job", p["jobName"], ctx)  # type: ignore[attr-defined]
        body = {
            "jobName": p["jobName"],
            "dataDeletionJobArn": arn,
            "datasetGroupArn": group.arn,
            "dataSource": p["dataSource"],
            "roleArn": p["roleArn"],
        }
        fail = self._take_failure("data_deletion_job", [p["jobName"], arn, group.name])  # type: ignore[attr-defined]
        users: set[str] = set()
        if fail is None:
            fail, users = self._read_deletion_input(location, p["roleArn"], ctx)
        known = self._known_users(group.arn)
        self._data_jobs.deletion_outcome[arn] = (users, len(users & known))
        timeline = self._data_job_timeline("data_deletion_job", ctx.now, fail)
        self._add(  # type: ignore[attr-defined]
            "data_deletion_job", arn, p["jobName"], ctx, body, parent=group.arn, tags=p.get("tags"),
            timeline=timeline, failure_reason=fail,
        )  # fmt: skip
        return {"dataDeletionJobArn": arn}

    def _read_deletion_input(self, location: str, role_arn: str, ctx: Any) -> tuple[str | None, set[str]]:
        """(failureReason or None, the user ids listed) for the deletion input at ``location``."""
        partition = _core()._partition(ctx.region)
        bucket, _, key = location.removeprefix("s3://").partition("/")
        checks = [("s3:ListBucket", f"arn:{partition}:s3:::{bucket}")]
        try:
            keys = _object_keys(bucket, key)
        except Exception as exc:  # NoSuchBucket from moto
            return f"Input data not found at {location} ({exc}).", set()
        if not keys:
            return f"Input data not found at {location}.", set()
        checks += [("s3:GetObject", f"arn:{partition}:s3:::{bucket}/{k}") for k in keys]
        denied = self._denied(role_arn, checks)  # type: ignore[attr-defined]
        if denied:
            return denied, set()
        import boto3

        s3 = boto3.client("s3")
        users: set[str] = set()
        total = 0
        for object_key in keys:
            head = s3.head_object(Bucket=bucket, Key=object_key)
            if head.get("ServerSideEncryption") == "aws:kms" and "alias/aws/" not in head.get("SSEKMSKeyId", ""):
                return (
                    f"Input s3://{bucket}/{object_key} is encrypted with a customer managed KMS key; a data "
                    "deletion job can't read it.",
                    set(),
                )
            total += int(head["ContentLength"])
            if total > DELETION_INPUT_MAX_BYTES:
                return f"Input data at {location} is larger than 50 MB in total.", set()
            problem, listed = _deletion_users(self.read_object(f"s3://{bucket}/{object_key}"))  # type: ignore[attr-defined]
            if problem:
                return f"s3://{bucket}/{object_key}: {problem}", set()
            users |= listed
        return None, users

    def _known_users(self, group_arn: str) -> set[str]:
        users: set[str] = set()
        for dataset in self._children(group_arn, "dataset"):  # type: ignore[attr-defined]
            for job in self._children(dataset.arn, "dataset_import_job"):  # type: ignore[attr-defined]
                stats = self._import_stats.get(job.arn)  # type: ignore[attr-defined]
                if stats is not None:
                    users |= {user for user, _event in stats.by_user_event}
        return users

    def _settle_deletions(self, now: float) -> None:
        for job in [r for r in self._store.values() if r.kind == "data_deletion_job"]:  # type: ignore[attr-defined]
            if job.status(now) == DELETION_COMPLETED:
                listed, _count = self._data_jobs.deletion_outcome.get(job.arn, (set(), 0))
                self._data_jobs.deleted_users.setdefault(job.parent or "", set()).update(listed)

    def _op_DescribeDataDeletionJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["dataDeletionJobArn"], "data_deletion_job", ctx)  # type: ignore[attr-defined]
        self._settle_deletions(ctx.now)
        return {"dataDeletionJob": self._job_view(res, ctx)}

    def _op_ListDataDeletionJobs(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        self._settle_deletions(ctx.now)
        group = p.get("datasetGroupArn")
        return self._listing(  # type: ignore[attr-defined]
            "data_deletion_job", ctx, p, "dataDeletionJobs", "ListDataDeletionJobs",
            keep=lambda r: group is None or r.parent == group, view=self._job_view,
        )  # fmt: skip


def _export_access(output_uri: str, destination: dict[str, Any], region: str) -> list[tuple[str, str]]:
    """What an export does with its role (export-permissions.html): list the bucket, put the output; use
    the KMS key given in the request ("Giving Amazon Personalize permission to use your AWS KMS key")."""
    partition = _core()._partition(region)
    path = output_uri.removeprefix("s3://")
    checks = [
        ("s3:ListBucket", f"arn:{partition}:s3:::{path.split('/', 1)[0]}"),
        ("s3:PutObject", f"arn:{partition}:s3:::{path}"),
    ]
    if destination.get("kmsKeyArn"):
        checks.append(("kms:GenerateDataKey", destination["kmsKeyArn"]))
    return checks


def _object_keys(bucket: str, key: str) -> list[str]:
    """The object ``key``, or every object under it when it names a folder (ends with ``/``)."""
    import boto3

    s3 = boto3.client("s3")
    if not key.endswith("/"):
        found = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
        return [key] if found and found[0]["Key"] == key else []
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        keys += [item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/")]
    return keys


def _deletion_users(data: bytes) -> tuple[str | None, set[str]]:
    """(problem or None, user ids) of one deletion input: CSV, a single USER_ID column, one id or more."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the file is not UTF-8 encoded CSV.", set()
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows or [cell.strip() for cell in rows[0]] != ["USER_ID"]:
        return "the file must be CSV with a single USER_ID column (header row USER_ID).", set()
    if any(len(row) != 1 or not row[0].strip() for row in rows[1:]):
        return "every row must hold exactly one non-empty USER_ID.", set()
    users = {row[0].strip() for row in rows[1:]}
    if not users:
        return "the file lists no user ids.", set()
    return None, users


def _schema_fields(schema: str) -> list[dict[str, Any]]:
    import json

    fields: list[dict[str, Any]] = json.loads(schema)["fields"]
    return fields
