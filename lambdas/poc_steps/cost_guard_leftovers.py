"""Dataset groups this environment made earlier and no longer uses: what still bills there, reported only.

Every name the workflow gives is `<name_prefix>-<group>-...` (personalize_poc/plan.py scoped_name), the
dataset group itself `<name_prefix>-<group>`. Renaming `dataset_group.name` in the POC definition makes a new
group and leaves the old one, its campaigns and recommenders billing: the guard and the teardown only look
at the current group. So the guard lists the account's dataset groups (ListDatasetGroups) and reports each
other group named `<name_prefix>-...` ("left behind") whose campaigns or recommenders bill.

Another environment's groups are never reported: the match is on `<name_prefix>-` exactly, and the settings
refuse two environments where one prefix is the other plus `-...` (personalize_poc/settings.py,
_check_prefixes), so `ppoc-dev-` never matches `ppoc-prod-...` nor, within one settings file, a `ppoc-dev-eu`
environment's groups.

Billing: an ACTIVE campaign bills at least minProvisionedTPS every hour (botocore
CreateCampaign.minProvisionedTPS); a campaign stays ACTIVE during an update (botocore Campaign.status lists no
update state; the update is in latestCampaignUpdate). An ACTIVE recommender bills at least
minRecommendationRequestsPerSecond every hour (botocore CreateRecommender, RecommenderConfig); one stopping,
stopped or starting is not counted (botocore RecommenderSummary.status).

A left-behind campaign's minProvisionedTPS is not in ListCampaigns' summary and the guard's role may not
describe it (poc_steps.cost_guard_adapter): the message gives the floor, 24 TPS-hours a day (minProvisionedTPS
is at least 1), and `personalize-poc status ENV` the actual figure.

The guard never deletes or stops anything there: the owner decides. The teardown workflow cannot be pointed at
another group (its dataset group name is fixed in the state machine, constructs/teardown_workflow.py "Teardown
config", and its role is scoped to the current group), so the message gives the AWS CLI commands instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from poc_steps.cost_guard_recommenders import Recommender

ACTIVE = "ACTIVE"
DAY_HOURS = 24
MIN_TPS = 1  # botocore CreateCampaign.minProvisionedTPS: "Minimum value of 1"


@dataclass(frozen=True)
class LeftCampaign:
    """botocore CampaignSummary: no minProvisionedTPS, and the guard may not describe it (see the adapter)."""

    arn: str
    name: str
    created: datetime

    @property
    def tps_hours_per_day(self) -> float:
        """At least: minProvisionedTPS is at least 1 (botocore CreateCampaign.minProvisionedTPS)."""
        return float(MIN_TPS * DAY_HOURS)


@dataclass(frozen=True)
class LeftGroup:
    """A dataset group of this environment that is not the current one, with what bills in it."""

    name: str
    campaigns: tuple[LeftCampaign, ...]
    recommenders: tuple[Recommender, ...]

    @property
    def oldest(self) -> datetime:
        return min(item.created for item in (*self.campaigns, *self.recommenders))

    def as_dict(self) -> dict[str, Any]:
        return {
            "datasetGroup": self.name,
            "campaigns": [
                {
                    "campaign": c.name,
                    "arn": c.arn,
                    "atLeastTpsHoursPerDay": c.tps_hours_per_day,
                }
                for c in self.campaigns
            ],
            "recommenders": [
                {"recommender": r.name, "arn": r.arn, "minRps": r.min_rps, "rpsHoursPerDay": r.rps_hours_per_day}
                for r in self.recommenders
            ],
        }


def is_left_behind(group: str, name_prefix: str, current: str) -> bool:
    """This environment's (`<name_prefix>-...`, exactly) and not the current group."""
    return group != current and group.startswith(f"{name_prefix}-")


def due(groups: Sequence[LeftGroup], idle_hours: int, now: datetime) -> list[LeftGroup]:
    """Worth a message, as a not-watched recommender is: once something there has billed idle_hours."""
    return [g for g in groups if now - g.oldest >= timedelta(hours=idle_hours)]


def left_behind_lines(groups: Sequence[LeftGroup]) -> list[str]:
    lines = ["Left behind (dataset groups of this environment that the POC no longer uses; left as they are):"]
    for group in groups:
        for c in group.campaigns:
            lines.append(
                f"- [LEFT BEHIND] {group.name}: campaign {c.name} (ACTIVE, minProvisionedTPS N >= {MIN_TPS}), "
                f"bills at least {c.tps_hours_per_day:g} TPS-hours per day (N x 24)"
            )
            lines.append(f"  remove: aws personalize delete-campaign --campaign-arn {c.arn}")
        for r in group.recommenders:
            lines.append(
                f"- [LEFT BEHIND] {group.name}: recommender {r.name} (minRecommendationRequestsPerSecond "
                f"{r.min_rps}), bills at least {r.rps_hours_per_day:g} RPS-hours per day"
            )
            lines.append(
                f"  stop (no billing, reversible): aws personalize stop-recommender --recommender-arn {r.arn}; "
                f"or delete: aws personalize delete-recommender --recommender-arn {r.arn}"
            )
    lines.append(
        "  The guard never deletes or stops these. The teardown workflow removes the current dataset group only; "
        "to tear an old group down whole, set dataset_group.name back to its name, deploy, and make teardown. "
        "personalize-poc status ENV shows each campaign's minProvisionedTPS (the guard's role may not read it)."
    )
    return lines
