"""Upload data files to an environment's data bucket with a progress bar: CSV files under imports/,
batch inference inputs (JSON lines) under batch-input/, then the upload-complete marker, last."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from personalize_poc.data import aws, checks
from personalize_poc.data.errors import CliError, UsageError

MiB = 1024 * 1024
# Multipart above 16 MiB, 16 MiB parts: 10,000 parts (S3's maximum) cover 156 GiB, more than the
# 100 GB a FULL import job accepts.
TRANSFER_CONFIG = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB,
                                 max_concurrency=4, use_threads=True)


@dataclass(frozen=True)
class Uploaded:
    path: Path
    uri: str
    size: int


def object_key(path: Path, key_prefix: str = "") -> str:
    """imports/<key prefix>/<file name> for data files; batch inference inputs (.jsonl, .json) go under
    batch-input/ instead. The key prefix is a folder under either prefix."""
    prefix = key_prefix.strip().strip("/")
    if ".." in prefix.split("/"):
        raise UsageError(f"--key-prefix must not contain '..': {key_prefix!r}")
    root = aws.BATCH_INPUT_PREFIX if path.suffix.lower() in (".jsonl", ".json") else aws.IMPORT_PREFIX
    return f"{root}{prefix + '/' if prefix else ''}{path.name}"


def upload_files(environment: Any, paths: Iterable[Path], *, key_prefix: str = "", session: Any = None,
                 console: Console | None = None, config: TransferConfig = TRANSFER_CONFIG,
                 marker: bool = True) -> list[Uploaded]:
    """Upload each file with a multipart transfer, then (``marker``) the upload-complete marker; refuses
    files over the FULL import size limit before uploading anything."""
    console = console or Console(stderr=True)
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise UsageError(f"not a file: {path}")
        for problem in checks.check_object_size(path.stat().st_size, "FULL"):
            if problem.code != "empty-file":
                raise CliError(f"{path}: {problem.message}")
    keys = [object_key(path, key_prefix) for path in paths]
    session = session or aws.session_for(environment)
    bucket = aws.read_parameter(session, environment, aws.BUCKET_PARAMETER)
    s3 = session.client("s3")
    done: list[Uploaded] = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        for path, key in zip(paths, keys, strict=True):
            size = path.stat().st_size
            task = progress.add_task(path.name, total=size or 1)

            def advance(sent: int, task: Any = task) -> None:
                progress.advance(task, sent)

            s3.upload_file(str(path), bucket, key, Config=config, Callback=advance)
            progress.update(task, completed=size or 1)
            done.append(Uploaded(path, f"s3://{bucket}/{key}", size))
    if marker:
        done.append(write_marker(s3, bucket, [(key, item.size) for key, item in zip(keys, done, strict=True)]))
    return done


def write_marker(s3: Any, bucket: str, uploaded: list[tuple[str, int]]) -> Uploaded:
    """The upload-complete marker, written after every file of the upload: the object the workflow's
    upload trigger starts on. It lists what was uploaded with the ETags S3 holds now."""
    objects = []
    for key, size in uploaded:
        etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
        objects.append({"key": key, "etag": etag.strip('"'), "size": size})
    body = json.dumps({"uploaded": objects}, indent=2).encode()
    s3.put_object(Bucket=bucket, Key=aws.UPLOAD_MARKER_KEY, Body=body, ContentType="application/json")
    return Uploaded(Path(aws.UPLOAD_MARKER_KEY), f"s3://{bucket}/{aws.UPLOAD_MARKER_KEY}", len(body))
