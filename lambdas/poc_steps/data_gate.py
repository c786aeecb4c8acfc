"""Checks what was uploaded before any import job starts: each dataset's object exists, its size fits the
import mode, its header matches the schema and a sample of rows parses; each batch inference input
exists and a sample of its lines has the keys its solution's recipe reads. A bad file stops the run
here, with a cause that names the file and the problem, instead of an import or batch job failing an
hour later.

A domain POC's recommenders need 1000 events of their use case's type. The gate reads only the first MiB,
so it never fails a run on event counts; when that MiB is the whole interactions file it warns (in the run
report) about each recommender the file alone cannot train. `personalize-poc data validate --env` counts
whole files before the upload."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from poc_steps import data_checks
from poc_steps.errors import DataValidationFailed
from poc_steps.segment_input import check_segment_input

SAMPLE_BYTES = 1024 * 1024  # the first MiB: header plus thousands of rows


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class _EventNeed:
    """A recommender's `requiredEvents` in the plan (personalize_poc/domain.py, the use case pages)."""

    recommender: str
    use_case: str
    event_type: str
    minimum: int


def _event_needs(plan: dict[str, Any]) -> list[_EventNeed]:
    return [
        _EventNeed(r["name"], r["useCase"], r["requiredEvents"]["eventType"], int(r["requiredEvents"]["minimum"]))
        for r in plan.get("recommenders", [])
        if r.get("requiredEvents")
    ]


def _use_case_warnings(header: list[str], rows: list[list[str]], needs: list[_EventNeed]) -> list[data_checks.Finding]:
    """Warnings only, and only for an object read whole: the recommender trains on the dataset, which
    may hold more interactions than this file (earlier imports, streamed events), so no run fails here."""
    counts: Counter[str] = Counter()
    if "EVENT_TYPE" in header:
        at = header.index("EVENT_TYPE")
        counts.update(row[at] for row in rows if len(row) > at)
    return data_checks.check_use_case_events(needs, counts, code="use-case-few-events-uploaded")


def check_dataset_object(
    s3: Any, dataset: dict[str, Any], event_needs: list[_EventNeed] | None = None
) -> list[data_checks.Finding]:
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
    if event_needs and dataset["type"] == "interactions" and size <= SAMPLE_BYTES:  # the whole file, not a sample
        findings += _use_case_warnings(header, sample, event_needs)
    return findings


def _sample_lines(body: bytes, truncated: bool) -> tuple[list[str], data_checks.Finding | None]:
    """The whole lines of a sample (the last one dropped when the range cut it), or an invalid-utf8
    finding on the line where the bad byte is."""
    if truncated and b"\n" in body:
        body = body[: body.rfind(b"\n") + 1]
    try:
        return body.decode("utf-8").splitlines(), None
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        return [], data_checks.finding("invalid-utf8", examples=(line,), detail=f"line {line}")


def check_batch_input(s3: Any, uri: str, recipe_type: str) -> list[data_checks.Finding]:
    """The batch job's input: it exists and the lines of its first MiB are what the recipe reads."""
    kind = data_checks.batch_input_kind(recipe_type)
    if kind is None:
        return [data_checks.finding("batch-no-batch-inference", recipe_type=recipe_type)]
    bucket, key = _split(uri)
    try:
        size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise DataValidationFailed(
                f"{uri} does not exist: upload the batch inference input (JSON lines, e.g. "
                f"{data_checks.BATCH_INPUT_EXAMPLES[kind]}) before the run"
            ) from None
        raise
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read() if size else b""
    truncated = size > SAMPLE_BYTES
    if truncated and b"\n" not in body:
        return []  # no whole line in the sample: nothing to judge by
    lines, bad_text = _sample_lines(body, truncated)
    if bad_text:
        return [bad_text]
    findings, _ = data_checks.check_batch_lines(lines, kind)
    return findings


def _describe(uri: str, item: data_checks.Finding) -> str:
    line = f"{uri}: {item.code}: {item.message}"
    if item.examples:
        line += f" (e.g. line {', '.join(str(n) for n in item.examples[:3])})"
    return line


def validate_uploads(s3: Any, plan: dict[str, Any]) -> dict[str, Any]:
    """Every dataset's object and every batch job's input; all problems in one failure."""
    targets: list[tuple[str, Callable[[], list[data_checks.Finding]]]] = [
        (dataset["s3Uri"], functools.partial(check_dataset_object, s3, dataset, _event_needs(plan)))
        for dataset in plan["datasets"]
    ]
    targets += [
        (job["inputUri"], functools.partial(check_batch_input, s3, job["inputUri"], solution["recipeType"]))
        for solution in plan["solutions"]
        for job in solution["batchJobs"]
    ]
    targets += [
        (job["inputUri"], functools.partial(check_segment_input, s3, job["inputUri"], job["inputKey"]))
        for solution in plan["solutions"]
        for job in solution.get("segmentJobs", [])
    ]
    problems: list[str] = []
    warnings: list[str] = []
    checked: list[str] = []
    for uri, check in targets:
        try:
            findings = check()
        except DataValidationFailed as missing:
            problems.append(str(missing))
            continue
        checked.append(uri)
        for item in findings:
            (problems if item.level == "error" else warnings).append(_describe(uri, item))
    if problems:
        raise DataValidationFailed("; ".join(problems))
    return {"checked": checked, "warnings": warnings}
