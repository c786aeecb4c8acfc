"""Checks what was uploaded before any import job starts: the object exists, its size fits the import
mode, its header matches the schema and a sample of rows parses. A bad file stops the run here, with
a cause that names the file and the problem, instead of an import job failing an hour later."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from botocore.exceptions import ClientError

from poc_steps import data_checks
from poc_steps.errors import DataValidationFailed

SAMPLE_BYTES = 1024 * 1024  # the first MiB: header plus thousands of rows


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def check_dataset_object(s3: Any, dataset: dict[str, Any]) -> list[data_checks.Finding]:
    bucket, key = _split(dataset["s3Uri"])
    try:
        size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise DataValidationFailed(
                f"{dataset['s3Uri']} does not exist: upload the {dataset['type']} file first "
                f"(personalize-poc data upload <env> <file>)"
            ) from None
        raise
    findings = list(data_checks.check_object_size(size, dataset["importMode"]))
    if size == 0:
        return findings
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
    text = body.decode("utf-8", errors="replace")
    if size > SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # drop the row cut off by the range
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return findings
    schema = json.loads(dataset["schema"])
    header, sample = rows[0], rows[1:]
    findings += data_checks.check_header(header, schema, dataset["type"])
    if not data_checks.has_errors(findings):
        findings += data_checks.check_rows(sample, header, schema, dataset["type"])
    return findings


def check_batch_input(s3: Any, uri: str) -> str | None:
    bucket, key = _split(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError:
        return f"{uri} does not exist: upload the batch inference input (JSON lines) before the run"
    return None


def validate_uploads(s3: Any, plan: dict[str, Any]) -> dict[str, Any]:
    problems: list[str] = []
    warnings: list[str] = []
    for dataset in plan["datasets"]:
        for item in check_dataset_object(s3, dataset):
            line = f"{dataset['s3Uri']}: {item.code}: {item.message}"
            if item.examples:
                line += f" (e.g. line {', '.join(str(n) for n in item.examples[:3])})"
            (problems if item.level == "error" else warnings).append(line)
    for solution in plan["solutions"]:
        for job in solution["batchJobs"]:
            missing = check_batch_input(s3, job["inputUri"])
            if missing:
                problems.append(missing)
    if problems:
        raise DataValidationFailed("; ".join(problems))
    return {"checked": [d["s3Uri"] for d in plan["datasets"]], "warnings": warnings}
