"""The data gate's check of a batch segment job's input, before the job starts (data_gate.py).

"Preparing input data for user segments": one JSON object per line, `{"itemId": "<id>"}` for
Item-Affinity or `{"itemAttributes": "ITEMS.<field> = \\"<value>\\" [AND ...]"}` for
Item-Attribute-Affinity. The recipe pages set the size: Item-Affinity "can have a maximum of 500
items", Item-Attribute-Affinity "a maximum of 10 queries".
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from poc_steps.data_checks import Finding
from poc_steps.errors import DataValidationFailed

SAMPLE_BYTES = 1024 * 1024
EXAMPLES = {"itemId": '{"itemId": "105"}', "itemAttributes": '{"itemAttributes": "ITEMS.GENRE = \\"Comedy\\""}'}
MAX_LINES = {"itemId": 500, "itemAttributes": 10}


def _error(code: str, message: str, examples: list[int]) -> Finding:
    return Finding("error", code, message, len(examples), tuple(examples[:5]))


def check_segment_lines(lines: list[str], key: str) -> list[Finding]:
    """Problems of the lines of a segment input whose lines carry ``key`` (itemId or itemAttributes)."""
    example = EXAMPLES[key]
    bad_json: list[int] = []
    missing: list[int] = []
    records = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        records += 1
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            bad_json.append(number)
        elif not isinstance(record.get(key), str) or not record[key].strip():
            missing.append(number)
    findings = []
    if not records:
        findings.append(_error("segment-no-lines", f"the file has no input lines; each line looks like {example}", []))
    if bad_json:
        findings.append(_error("segment-not-json", f"lines that are not one JSON object like {example}", bad_json))
    if missing:
        findings.append(_error("segment-missing-key", f'lines without a non-empty "{key}", e.g. {example}', missing))
    if records > MAX_LINES[key]:
        findings.append(
            _error(
                "segment-too-many-lines",
                f"{records} input lines; this recipe takes at most {MAX_LINES[key]} per batch segment job",
                [],
            )
        )
    return findings


def check_segment_input(s3: Any, uri: str, key: str) -> list[Finding]:
    """The segment job's input exists and its first MiB is what the recipe reads."""
    bucket, _, object_key = uri.removeprefix("s3://").partition("/")
    try:
        size = int(s3.head_object(Bucket=bucket, Key=object_key)["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise DataValidationFailed(
                f"{uri} does not exist: upload the batch segment input (JSON lines, e.g. {EXAMPLES[key]}) "
                "before the run"
            ) from None
        raise
    body = (
        s3.get_object(Bucket=bucket, Key=object_key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")["Body"].read()
        if size
        else b""
    )
    if size > SAMPLE_BYTES:
        body = body[: body.rfind(b"\n") + 1]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return [_error("segment-invalid-utf8", "the file is not UTF-8 text", [])]
    return check_segment_lines(text.splitlines(), key)
