"""Tear the POC down, level by level. Each level deletes what it can, and reports READY only when
nothing of that level is left; the state machine polls a level until it is READY, then moves on.

Resources are found from the dataset group itself (List calls), not from the config, so what was
added by hand in the notebook inside the POC's dataset group goes too. Already gone is success;
busy (ResourceInUseException) is simply tried again on the next poll.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from poc_steps.adapter import PersonalizeAdapter, translated_errors
from poc_steps.errors import ResourceBusy
from poc_steps.statuses import DELETING_STATUSES

IN_PROGRESS = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS", "PENDING", "IN PROGRESS", "IN_PROGRESS"})


class Level:
    """What one poll of one level did."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.remaining: list[str] = []
        self.notes: list[str] = []

    def delete(self, adapter: PersonalizeAdapter, operation: str, arn_param: str, arn: str, status: str | None) -> None:
        if status in DELETING_STATUSES:
            self.remaining.append(arn)
            return
        try:
            with translated_errors(f"deleting {arn}"):
                getattr(adapter.client, operation)(**{arn_param: arn})
        except ClientError as error:
            if not adapter.is_missing(error):
                raise
            return  # already gone
        except ResourceBusy as error:  # still creating, or children still going: next poll
            self.remaining.append(arn)
            self.notes.append(str(error))
            return
        self.deleted.append(arn)
        self.remaining.append(arn)  # deletion takes a while; it counts until List no longer shows it

    def result(self, attempt: int, previously_deleted: Iterable[str]) -> dict[str, Any]:
        deleted = sorted(set(previously_deleted) | set(self.deleted))
        return {
            "state": "WAITING" if self.remaining else "READY",
            "attempt": attempt,
            "deleted": deleted,
            "remaining": len(self.remaining),
            "notes": self.notes[:5],
        }


def _dataset_group_arn(adapter: PersonalizeAdapter, name: str) -> str | None:
    found = adapter.find("dataset_group", name)
    return adapter.arn_of("dataset_group", found) if found else None


def _solution_versions(adapter: PersonalizeAdapter, group_arn: str) -> list[dict[str, Any]]:
    versions = []
    for solution in adapter.list_all("solution", datasetGroupArn=group_arn):
        versions += adapter.list_all("solution_version", solutionArn=solution["solutionArn"])
    return versions


def batch_jobs(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    """Batch inference and batch segment jobs cannot be deleted or stopped: wait until none is running."""
    for version in _solution_versions(adapter, group_arn):
        for job in adapter.list_all("batch_job", solutionVersionArn=version["solutionVersionArn"]):
            if job["status"] in IN_PROGRESS:
                level.remaining.append(job["batchInferenceJobArn"])
        # Batch segment jobs cannot be deleted or stopped either (no Delete/Stop operation in the API).
        for job in adapter.list_all("segment_job", solutionVersionArn=version["solutionVersionArn"]):
            if job["status"] in IN_PROGRESS:
                level.remaining.append(job["batchSegmentJobArn"])


def campaigns(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    for solution in adapter.list_all("solution", datasetGroupArn=group_arn):
        for campaign in adapter.list_all("campaign", solutionArn=solution["solutionArn"]):
            level.delete(adapter, "delete_campaign", "campaignArn", campaign["campaignArn"], campaign.get("status"))
    for recommender in adapter.list_all("recommender", datasetGroupArn=group_arn):
        level.delete(
            adapter,
            "delete_recommender",
            "recommenderArn",
            recommender["recommenderArn"],
            recommender.get("status"),
        )


def trackers_and_filters(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    for tracker in adapter.list_all("event_tracker", datasetGroupArn=group_arn):
        level.delete(
            adapter,
            "delete_event_tracker",
            "eventTrackerArn",
            tracker["eventTrackerArn"],
            tracker.get("status"),
        )
    for item in adapter.list_all("filter", datasetGroupArn=group_arn):
        level.delete(adapter, "delete_filter", "filterArn", item["filterArn"], item.get("status"))
    for attribution in adapter.list_all("metric_attribution", datasetGroupArn=group_arn):
        level.delete(
            adapter,
            "delete_metric_attribution",
            "metricAttributionArn",
            attribution["metricAttributionArn"],
            attribution.get("status"),
        )


def solution_versions(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    """Training in progress is stopped (it bills until it ends) and awaited; versions go with their solution."""
    for version in _solution_versions(adapter, group_arn):
        arn, status = version["solutionVersionArn"], version["status"]
        if status in ("CREATE PENDING", "CREATE IN_PROGRESS"):
            try:
                with translated_errors(f"stopping {arn}"):
                    adapter.client.stop_solution_version_creation(solutionVersionArn=arn)
                level.deleted.append(f"{arn} (training stopped)")
            except ClientError as error:
                if not adapter.is_missing(error):
                    raise
            except ResourceBusy as error:  # it finished (or began stopping) since the List: look again next poll
                level.notes.append(str(error))
            level.remaining.append(arn)
        elif status == "CREATE STOPPING":
            level.remaining.append(arn)


def solutions(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    for solution in adapter.list_all("solution", datasetGroupArn=group_arn):
        level.delete(adapter, "delete_solution", "solutionArn", solution["solutionArn"], solution.get("status"))


def datasets(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    for dataset in adapter.list_all("dataset", datasetGroupArn=group_arn):
        level.delete(adapter, "delete_dataset", "datasetArn", dataset["datasetArn"], dataset.get("status"))


def dataset_group(adapter: PersonalizeAdapter, group_arn: str, level: Level, plan: dict[str, Any]) -> None:
    described = adapter.describe("dataset_group", group_arn)
    level.delete(adapter, "delete_dataset_group", "datasetGroupArn", group_arn, described.get("status"))


def schemas(adapter: PersonalizeAdapter, level: Level, plan: dict[str, Any]) -> None:
    """Only the schemas this POC made (named after its datasets); a schema still used elsewhere stays busy."""
    names = {dataset["name"] for dataset in plan["datasets"]}
    for schema in adapter.list_all("schema"):
        if schema["name"] in names:
            level.delete(adapter, "delete_schema", "schemaArn", schema["schemaArn"], None)


LEVELS: dict[str, Callable[[PersonalizeAdapter, str, Level, dict[str, Any]], None]] = {
    "batch_jobs": batch_jobs,
    "campaigns": campaigns,
    "trackers_and_filters": trackers_and_filters,
    "solution_versions": solution_versions,
    "solutions": solutions,
    "datasets": datasets,
    "dataset_group": dataset_group,
}
ORDER = [*LEVELS, "schemas"]


def teardown_level(
    adapter: PersonalizeAdapter,
    level_name: str,
    plan: dict[str, Any],
    attempt: int,
    previously_deleted: Iterable[str] = (),
) -> dict[str, Any]:
    level = Level()
    if level_name == "schemas":
        schemas(adapter, level, plan)
    else:
        group_arn = _dataset_group_arn(adapter, plan["datasetGroup"]["name"])
        if group_arn is not None:
            try:
                LEVELS[level_name](adapter, group_arn, level, plan)
            except ClientError as error:
                if not adapter.is_missing(error):  # the group vanished mid-level: nothing left here
                    raise
    return level.result(attempt, previously_deleted)


def delete_published_parameters(ssm: Any, path: str) -> list[str]:
    """Delete the parameters the POC workflow published under its own path (PARAMETER_PATH,
    /<name prefix>/poc); returns those deleted. A path that is not a POC's own (empty, the root, not
    absolute) fails: it would delete nothing, or every parameter of the account."""
    if not re.fullmatch(r"/[^/]+/[^/].*", path or ""):
        raise ValueError(
            f"PARAMETER_PATH must be the POC's own parameter path such as /<name prefix>/poc, got {path!r}"
        )
    names = [
        p["Name"]
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True)
        for p in page["Parameters"]
    ]
    deleted: list[str] = []
    for start in range(0, len(names), 10):  # DeleteParameters takes at most 10 names (SSM API reference)
        # InvalidParameters: already gone, which is success, but not this step's deletion.
        deleted += ssm.delete_parameters(Names=names[start : start + 10]).get("DeletedParameters", [])
    return deleted
