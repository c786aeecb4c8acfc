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
    version_arn = refs["solutionVersionArn"]
    version_id = version_arn.rsplit("/", 1)[-1]
    base = f"{spec['name']}-{version_id}"
    output = f"{spec['outputUri']}{version_id}/"
    filter_arn = None
    if spec.get("filterName"):
        found_filter = adapter.find("filter", spec["filterName"], datasetGroupArn=refs["datasetGroupArn"])
        if found_filter is None or found_filter.get("status") != "ACTIVE":
            # The filters branch creates it; wait here rather than fail the segment job.
            return core.result(None, "CREATE PENDING", attempt, waitingFor=spec["filterName"])
        filter_arn = adapter.arn_of("filter", found_filter)
    jobs = core._job_runs(adapter, "segment_job", base, solutionVersionArn=version_arn)
    current = core._current_run(jobs, attempt)
    if current is not None:
        arn = current["batchSegmentJobArn"]
        described = adapter.describe("segment_job", arn)
        return core._settle("batch segment job", current["jobName"], described, arn, attempt, outputUri=output)
    params: dict[str, Any] = {
        "jobName": core._next_run_name(base, jobs, f"batch segment job {base}"),
        "solutionVersionArn": version_arn,
        # botocore CreateBatchSegmentJob.numResults: users per line of input (at most 5 million).
        "numResults": spec["numResults"],
        "jobInput": {"s3DataSource": {"path": spec["inputUri"]}},
        "jobOutput": {"s3DataDestination": {"path": output}},
        "roleArn": refs["roleArn"],
        **core._tags(spec),
    }
    if filter_arn:
        params["filterArn"] = filter_arn
    arn = core._create(
        adapter,
        "create_batch_segment_job",
        f"starting batch segment job {base}",
        "batchSegmentJobArn",
        lambda: adapter.find("segment_job", params["jobName"], solutionVersionArn=version_arn),
        **params,
    )["batchSegmentJobArn"]
    return core.result(arn, "PENDING", attempt, outputUri=output)
