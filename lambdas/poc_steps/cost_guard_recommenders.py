"""The cost guard's recommenders (domain dataset groups): what it stops at expiry, what it only reports.

Billing (botocore CreateRecommender, RecommenderConfig.minRecommendationRequestsPerSecond): an ACTIVE
recommender bills the greater of that minimum and the actual requests, every hour. A stopped one does not:
"Stopping a recommender halts recommender billing and retraining" (developer guide, "Stopping a recommender",
stopping-starting-recommender; botocore StopRecommender: "Stops a recommender that is ACTIVE. Stopping a
recommender halts billing and automatic retraining for the recommender."). Stopping is reversible: the
recommender, its models and its configuration stay, and the POC workflow starts a stopped (INACTIVE) one
again on its next run (poc_steps.ensure_recommender).

Expiry needs no metric: it is the owner's deadline (``expires_after_days``). Each ACTIVE recommender at
least that many days old (from its creationDateTime) is stopped, in notify mode as in act mode, as expired
campaigns are deleted in both (poc_steps.cost_guard.applies). StopRecommender takes ACTIVE recommenders only
(its documentation above; botocore lists ResourceInUseException among its errors), so one being created,
stopped, started or deleted is left alone; a stop the service refuses is reported as FAILED and tried again
at the next tick. The deadline counts from creationDateTime, which a start does not change: one past it that
the next workflow run starts again is stopped again at the guard's next tick (the stricter side: nothing
documents whether a start moves lastUpdatedDateTime; raise expires_after_days to keep it).

Idleness is another matter: the guide's "CloudWatch metrics for Amazon Personalize" (cloudwatch-metrics,
and its source in awsdocs/amazon-personalize-developer-guide, doc_source/cloudwatch-metrics.md) gives
GetRecommendations and GetPersonalizedRanking the one dimension CampaignArn and names no recommender
dimension, so the guard cannot tell an idle recommender from a busy one: each ACTIVE recommender short of
the deadline is reported as NOT WATCHED with what it bills at least, never stopped for being idle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ACTIVE = "ACTIVE"
DAY_HOURS = 24

#: Why the guard does not stop a recommender for being idle (see the module docstring).
NOT_WATCHED = (
    "not watched: CloudWatch's documented Personalize request metrics are per campaign (CampaignArn), none "
    "per recommender, so the guard cannot tell an idle recommender from a busy one and never stops one for "
    "being idle"
)
#: What a stop does and undoes (developer guide, "Stopping a recommender"; poc_steps.ensure_recommender).
STOPPED_NOTE = (
    "A stopped recommender is not billed and keeps its models and configuration (developer guide, "
    '"Stopping a recommender": stopping "halts recommender billing and retraining"); the next POC workflow '
    "run starts it again."
)


@dataclass(frozen=True)
class Recommender:
    """A recommender of the POC's dataset group (ListRecommenders' summary)."""

    arn: str
    name: str
    status: str
    min_rps: int  # recommenderConfig.minRecommendationRequestsPerSecond
    created: datetime

    @property
    def rps_hours_per_day(self) -> float:
        return float(self.min_rps * DAY_HOURS)


@dataclass
class RecommenderStop:
    """An expired recommender to stop (StopRecommender)."""

    recommender: Recommender
    why: str
    applied: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        r = self.recommender
        return {
            "recommender": r.name,
            "arn": r.arn,
            "change": "stop the recommender (StopRecommender)",
            "why": self.why,
            "applied": self.applied,
            "error": self.error,
            "rpsHoursSavedPerDay": r.rps_hours_per_day,
        }


def decide_stops(
    recommenders: Sequence[Recommender], expires_after_days: int | None, now: datetime
) -> list[RecommenderStop]:
    """Each ACTIVE recommender at least ``expires_after_days`` old, to stop; none without a deadline."""
    if expires_after_days is None:
        return []
    deadline = timedelta(days=expires_after_days)
    return [
        RecommenderStop(
            r,
            f"created {_age(now - r.created)} ago; the POC expires after {expires_after_days} days "
            "(expires_after_days)",
        )
        for r in recommenders
        if r.status == ACTIVE and now - r.created >= deadline
    ]


def stop_lines(stops: Sequence[RecommenderStop]) -> list[str]:
    lines = ["Recommenders past the deadline:"]
    for stop in stops:
        r = stop.recommender
        state = "DONE" if stop.applied else f"FAILED ({stop.error})"
        lines.append(f"- {r.name}: stop the recommender (StopRecommender) [{state}]")
        lines.append(f"  why: {stop.why}")
        lines.append(
            f"  saves: at least {r.rps_hours_per_day:g} RPS-hours per day (minRecommendationRequestsPerSecond "
            f"{r.min_rps} x 24)"
        )
    lines.append(f"  {STOPPED_NOTE}")
    lines.append(
        "  It keeps its creation date: past the deadline, the guard stops it again at its next run "
        "(raise expires_after_days to keep it)."
    )
    return lines


def not_watched_lines(not_watched: Sequence[Recommender], expires_after_days: int | None) -> list[str]:
    lines = ["Recommenders, left as they are:"]
    for r in not_watched:
        lines.append(
            f"- {r.name}: ACTIVE, minRecommendationRequestsPerSecond {r.min_rps}, bills at least "
            f"{r.rps_hours_per_day:g} RPS-hours per day [NOT WATCHED]"
        )
    lines.append(f"  {NOT_WATCHED}.")
    if expires_after_days is not None:
        lines.append(f"  expires_after_days ({expires_after_days}) stops each one that many days after its creation.")
    lines.append(
        "  Stop one you no longer use with StopRecommender (the next POC workflow run starts it again), "
        "or tear the POC down (make teardown)."
    )
    return lines


def _age(age: timedelta) -> str:
    return f"{age.days} day(s)" if age.days else f"{age.total_seconds() / 3600:.0f} h"
