"""Ensure a domain dataset group's recommender: find it by name in the group, create it if absent, update
its configuration in place when the POC definition changes it, start it again if it was stopped, and
report where it stands with the model metrics the service gives (DescribeRecommender
`recommender.modelMetrics`).

Statuses (botocore Recommender.status): CREATE PENDING > CREATE IN_PROGRESS > ACTIVE -or- CREATE FAILED;
STOP PENDING > STOP IN_PROGRESS > INACTIVE > START PENDING > START IN_PROGRESS > ACTIVE;
DELETE PENDING > DELETE IN_PROGRESS. An update shows in `latestRecommenderUpdate` (RecommenderUpdateSummary,
with its own status and failureReason); "while the update completes, you can still get recommendations"
(UpdateRecommender), so the loop waits for it, as for a campaign update.
"""

from __future__ import annotations

from typing import Any

from poc_steps.adapter import PersonalizeAdapter
from poc_steps.ensure import _covers, _create, _failed, _settle, _tags, _unusable, result
from poc_steps.errors import ConfigConflict
from poc_steps.statuses import FAILED_STATUSES, state_of

INACTIVE = "INACTIVE"  # stopped (StopRecommender): no billing, no recommendations


def ensure_recommender(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    found = adapter.find("recommender", name, datasetGroupArn=group_arn)
    if found is None:
        arn = _create(
            adapter,
            "create_recommender",
            f"creating recommender {name}",
            "recommenderArn",
            lambda: _recommender_of(adapter, name, group_arn),
            name=name,
            datasetGroupArn=group_arn,
            recipeArn=spec["recipeArn"],
            recommenderConfig=spec["recommenderConfig"],
            **_tags(spec),
        )["recommenderArn"]
        return result(arn, "CREATE PENDING", attempt)
    arn = adapter.arn_of("recommender", found)
    described = adapter.describe("recommender", arn)
    if described.get("recipeArn") != spec["recipeArn"]:
        raise ConfigConflict(
            f"recommender {name} exists with use case {described.get('recipeArn')}, the config asks for "
            f"{spec['recipeArn']}; rename the recommender or tear the POC down first"
        )
    unusable = _unusable(adapter, "recommender", name, arn, described, attempt, "delete_recommender", "recommenderArn")
    if unusable:
        return unusable
    status = described["status"]
    if status == INACTIVE:
        adapter.call("start_recommender", f"starting recommender {name}", recommenderArn=arn)
        return result(arn, "START PENDING", attempt)
    update = described.get("latestRecommenderUpdate") or {}
    if update.get("status") in FAILED_STATUSES and attempt > 1:
        raise _failed("recommender update of", name, update)
    if update.get("status") and state_of(update["status"]) == "WAITING":
        return result(arn, update["status"], attempt)
    settled = _settle("recommender", name, described, arn, attempt)
    if settled["state"] == "READY" and not _covers(described.get("recommenderConfig") or {}, spec["recommenderConfig"]):
        adapter.call(
            "update_recommender",
            f"updating recommender {name}",
            recommenderArn=arn,
            recommenderConfig=spec["recommenderConfig"],
        )
        return result(arn, "UPDATE PENDING", attempt)
    if settled["state"] == "READY":
        settled["modelMetrics"] = {k: float(v) for k, v in sorted((described.get("modelMetrics") or {}).items())}
    return settled


def _recommender_of(adapter: PersonalizeAdapter, name: str, group_arn: str) -> dict[str, Any]:
    """After ResourceAlreadyExistsException: the winner of a race in this group, or a config conflict
    (recommender names are unique per account: arn:...:recommender/<name>)."""
    found = adapter.find("recommender", name, datasetGroupArn=group_arn)
    if found is None:
        raise ConfigConflict(
            f"recommender {name} exists, but not in dataset group {group_arn}: recommender names are unique per "
            "account. Rename the recommender or tear the other POC down first."
        )
    return found
