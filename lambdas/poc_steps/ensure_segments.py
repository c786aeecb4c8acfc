"""Ensure a batch segment job: user segments from a user-segmentation solution version.

Batch segment jobs cannot be deleted (the API has no Delete operation) or renamed, so they follow the
batch inference jobs' naming (lambdas/poc_steps/ensure.py ensure_batch_job): `<name>-<version id>` and,
for a retry after a failure, `<name>-<version id>-rN`. A re-run on the same solution version finds its
job and creates nothing; a new solution version makes a new job, with its output in its own folder.
"""

from __future__ import annotations

from typing import Any

from poc_steps import ensure as core
from poc_steps.adapter import PersonalizeAdapter


def ensure_segment_job(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    return core.ensure_version_job(
        adapter,
        spec,
        refs,
        attempt,
        kind="segment_job",
        label="batch segment job",
        operation="create_batch_segment_job",
        arn_key="batchSegmentJobArn",
    )
