"""The cost guard: what to do about this POC's campaigns, decided from their age and traffic.

Pure logic: ``decide`` turns campaigns and their usage into actions; ``run`` applies them through an
adapter (``poc_steps.cost_guard_adapter``) and tells the owners. Only the environment's own dataset
group's campaigns are ever given to it (the adapter lists them from that group; the role allows nothing
else).

Billing (botocore CreateCampaign.minProvisionedTPS; developer guide, "Minimum provisioned TPS and
auto-scaling"): an ACTIVE campaign is billed for max(minProvisionedTPS, actual TPS) where actual TPS is
the average of requests per second within each 5-minute window. So
- an idle campaign bills ``minProvisionedTPS`` TPS-hours every hour: deleting it saves that much;
- lowering ``minProvisionedTPS`` from m to t (t at least the highest 5-minute average seen) saves up
  to m - t TPS-hours every hour while traffic stays below t.
Prices per TPS-hour are regional and tiered (Amazon Personalize pricing page), and no price list is
reachable from here: the report gives TPS-hours, and money only at the price the environment's owner
set (``cost_guard.price_per_tps_hour``, USD), said to be theirs.

Recommenders (domain dataset groups, poc_steps.cost_guard_recommenders) bill like campaigns. Past
``expires_after_days`` the guard stops them (StopRecommender: no billing, reversible) in either mode, as it
deletes expired campaigns in either mode: the deadline is the environment's own. Short of it, it reports
them as NOT WATCHED (no per-recommender request metric is documented, so idleness cannot be seen) and
never stops one for being idle.

Dataset groups this environment made earlier (a renamed ``dataset_group.name``) are reported as LEFT BEHIND
while something there bills, never changed (poc_steps.cost_guard_leftovers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from poc_steps.cost_guard_leftovers import LeftGroup, due, left_behind_lines
from poc_steps.cost_guard_recommenders import (
    Recommender,
    RecommenderStop,
    decide_stops,
    not_watched_lines,
    stop_lines,
)

ACTIVE = "ACTIVE"
#: botocore CreateCampaign.minProvisionedTPS: "Minimum value of 1".
MIN_TPS = 1
WINDOW_SECONDS = 300  # the billing window of actual TPS
DAY_HOURS = 24
#: The month of AWS price lists and the AWS Pricing Calculator: 730 hours.
MONTH_HOURS = 730


@dataclass(frozen=True)
class GuardSettings:
    mode: Literal["notify", "act"]
    idle_hours: int
    usage_window_hours: int
    lower_min_tps: bool
    expires_after_days: int | None
    price_per_tps_hour: float | None = None  # USD, the owner's figure for the region; None: TPS-hours only

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> GuardSettings:
        mode = env["GUARD_MODE"]
        if mode not in ("notify", "act"):
            raise ValueError(f"GUARD_MODE must be notify or act, not {mode!r}")
        expires = env.get("EXPIRES_AFTER_DAYS") or None
        price = env.get("PRICE_PER_TPS_HOUR") or None
        return cls(
            mode=mode,  # type: ignore[arg-type]
            idle_hours=int(env["IDLE_HOURS"]),
            usage_window_hours=int(env["USAGE_WINDOW_HOURS"]),
            lower_min_tps=env.get("LOWER_MIN_TPS", "true") == "true",
            expires_after_days=int(expires) if expires else None,
            price_per_tps_hour=float(price) if price else None,
        )


@dataclass(frozen=True)
class Campaign:
    """A campaign of the POC's dataset group with its recent traffic."""

    arn: str
    name: str
    status: str
    min_tps: int
    created: datetime
    update_in_progress: bool
    idle_window_requests: float  # requests over the last idle_hours
    peak_tps: float  # highest 5-minute average over the last usage_window_hours


@dataclass
class Action:
    kind: Literal["expired", "idle", "over_provisioned"]
    campaign: str
    arn: str
    why: str
    change: str
    new_min_tps: int | None  # None: delete the campaign
    tps_hours_saved_per_day: float
    applied: bool = False
    error: str | None = None

    @property
    def deletes(self) -> bool:
        return self.new_min_tps is None

    @property
    def tps_hours_saved_per_month(self) -> float:
        return self.tps_hours_saved_per_day / DAY_HOURS * MONTH_HOURS


@dataclass
class GuardReport:
    dataset_group: str
    mode: str
    checked: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    price_per_tps_hour: float | None = None
    not_watched: list[Recommender] = field(default_factory=list)  # ACTIVE recommenders: billing, not watched
    stops: list[RecommenderStop] = field(default_factory=list)  # ACTIVE recommenders past expires_after_days
    expires_after_days: int | None = None
    left_behind: list[LeftGroup] = field(default_factory=list)  # other groups of this environment, billing
    left_behind_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        monthly = sum(a.tps_hours_saved_per_month for a in self.actions if a.applied)
        return {
            "datasetGroup": self.dataset_group,
            "mode": self.mode,
            "checked": self.checked,
            "actions": [
                {
                    **asdict(a),
                    "tps_hours_saved_per_month": a.tps_hours_saved_per_month,
                    "usd_saved_per_month": self.usd(a),
                }
                for a in self.actions
            ],
            "notWatched": [
                {"recommender": r.name, "arn": r.arn, "minRps": r.min_rps, "rpsHoursPerDay": r.rps_hours_per_day}
                for r in self.not_watched
            ],
            "recommenderStops": [stop.as_dict() for stop in self.stops],
            "leftBehind": [group.as_dict() for group in self.left_behind],
            "leftBehindError": self.left_behind_error,
            "tpsHoursSavedPerDay": sum(a.tps_hours_saved_per_day for a in self.actions if a.applied),
            "tpsHoursSavedPerMonth": monthly,
            "usdSavedPerMonth": None
            if self.price_per_tps_hour is None
            else round(monthly * self.price_per_tps_hour, 2),
        }

    def usd(self, action: Action) -> float | None:
        """At the owner's price only (cost_guard.price_per_tps_hour): never a price the code made up."""
        if self.price_per_tps_hour is None:
            return None
        return round(action.tps_hours_saved_per_month * self.price_per_tps_hour, 2)


def decide(campaigns: Sequence[Campaign], settings: GuardSettings, now: datetime) -> list[Action]:
    """One action at most per campaign: expiry first, then idleness, then over-provisioning."""
    actions = []
    for campaign in campaigns:
        action = _decide_one(campaign, settings, now)
        if action is not None:
            actions.append(action)
    return actions


def _decide_one(campaign: Campaign, settings: GuardSettings, now: datetime) -> Action | None:
    # Only ACTIVE campaigns bill; one being created, updated or deleted is left to finish.
    if campaign.status != ACTIVE or campaign.update_in_progress:
        return None
    age = now - campaign.created
    full_day = campaign.min_tps * DAY_HOURS
    if settings.expires_after_days is not None and age >= timedelta(days=settings.expires_after_days):
        return Action(
            "expired",
            campaign.name,
            campaign.arn,
            f"created {_days(age)} ago; the POC's campaigns expire after {settings.expires_after_days} days "
            "(expires_after_days). Re-run the POC workflow to bring it back.",
            "delete the campaign",
            None,
            full_day,
        )
    if age >= timedelta(hours=settings.idle_hours) and campaign.idle_window_requests == 0:
        return Action(
            "idle",
            campaign.name,
            campaign.arn,
            f"no recommendation requests in the last {settings.idle_hours} h; it bills "
            f"{campaign.min_tps} TPS-hour(s) every hour while it exists",
            "delete the campaign",
            None,
            full_day,
        )
    target = max(MIN_TPS, math.ceil(campaign.peak_tps))
    seen_window = age >= timedelta(hours=settings.usage_window_hours)
    if settings.lower_min_tps and seen_window and target < campaign.min_tps:
        return Action(
            "over_provisioned",
            campaign.name,
            campaign.arn,
            f"minProvisionedTPS {campaign.min_tps} but at most {campaign.peak_tps:.2f} TPS (5-minute average) "
            f"in the last {settings.usage_window_hours} h",
            f"lower minProvisionedTPS {campaign.min_tps} -> {target}",
            target,
            (campaign.min_tps - target) * DAY_HOURS,
        )
    return None


def applies(action: Action, settings: GuardSettings) -> bool:
    """notify mode changes nothing, except an expiry the environment asked for (expires_after_days)."""
    return settings.mode == "act" or action.kind == "expired"


class GuardAdapter(Protocol):
    def campaigns(self, settings: GuardSettings, now: datetime) -> list[Campaign]: ...
    def recommenders(self) -> list[Recommender]: ...
    def left_behind(self) -> list[LeftGroup]: ...
    def delete_campaign(self, arn: str) -> None: ...
    def stop_recommender(self, arn: str) -> None: ...
    def set_min_tps(self, arn: str, min_tps: int) -> None: ...
    def notify(self, subject: str, message: str) -> None: ...


def run(adapter: GuardAdapter, settings: GuardSettings, dataset_group: str, now: datetime) -> GuardReport:
    campaigns = adapter.campaigns(settings, now)
    report = GuardReport(
        dataset_group=dataset_group,
        mode=settings.mode,
        checked=[c.name for c in campaigns],
        price_per_tps_hour=settings.price_per_tps_hour,
        expires_after_days=settings.expires_after_days,
    )
    active = [r for r in adapter.recommenders() if r.status == ACTIVE]
    report.stops = decide_stops(active, settings.expires_after_days, now)
    report.not_watched = [r for r in active if r.arn not in {stop.recommender.arn for stop in report.stops}]
    report.actions = decide(campaigns, settings, now)
    for action in report.actions:
        if not applies(action, settings):
            continue
        try:
            if action.deletes:
                adapter.delete_campaign(action.arn)
            else:
                adapter.set_min_tps(action.arn, int(action.new_min_tps or MIN_TPS))
            action.applied = True
        except Exception as error:  # noqa: BLE001  one campaign's failure must not hide the others
            action.error = f"{type(error).__name__}: {error}"
    _stop_all(adapter, report.stops)
    _find_left_behind(adapter, report)
    # A recommender billing for idle_hours or more is worth a line, like an idle campaign in notify mode;
    # so is a left-behind group where something has billed that long.
    billing = [r for r in report.not_watched if now - r.created >= timedelta(hours=settings.idle_hours)]
    if report.actions or report.stops or billing or due(report.left_behind, settings.idle_hours, now):
        adapter.notify(*message(report))
    return report


def _find_left_behind(adapter: GuardAdapter, report: GuardReport) -> None:
    """Reported only; a failure to look must not keep the guard from its own group's work."""
    try:
        report.left_behind = adapter.left_behind()
    except Exception as error:  # noqa: BLE001
        report.left_behind_error = f"{type(error).__name__}: {error}"


def _stop_all(adapter: GuardAdapter, stops: Sequence[RecommenderStop]) -> None:
    """Either mode, like a campaign's expiry: the environment asked for the deadline (expires_after_days)."""
    for stop in stops:
        try:
            adapter.stop_recommender(stop.recommender.arn)
            stop.applied = True
        except Exception as error:  # noqa: BLE001  one recommender's failure must not hide the others
            stop.error = f"{type(error).__name__}: {error}"


def message(report: GuardReport) -> tuple[str, str]:
    """(subject, body) for the owners: each action, what and why, and what it saves."""
    subject = f"Personalize POC {report.dataset_group}: cost guard {_summary(report)}"
    lines = [f"Cost guard ({report.mode} mode) for dataset group {report.dataset_group}:", ""]
    for action in report.actions:
        state = "DONE" if action.applied else f"FAILED ({action.error})" if action.error else "NOT DONE (notify)"
        lines.append(f"- {action.campaign}: {action.change} [{state}]")
        lines.append(f"  why: {action.why}")
        lines.append(f"  saves: {_saving(report, action)}")
    if any(a.kind == "over_provisioned" and a.applied for a in report.actions):
        lines += [
            "",
            "The next POC workflow run sets min_provisioned_tps from the POC definition again: change it there.",
        ]
    if report.stops:
        lines += ([""] if lines[-1] else []) + stop_lines(report.stops)
    if report.mode == "notify" and any(not a.applied and not a.error for a in report.actions):
        lines += ["", "Set cost_guard.mode: act in the environment's settings to let the guard do this itself."]
    if report.not_watched:
        lines += ([""] if lines[-1] else []) + not_watched_lines(report.not_watched, report.expires_after_days)
    if report.left_behind:
        lines += ([""] if lines[-1] else []) + left_behind_lines(report.left_behind)
    # botocore SNS Publish.Subject: ASCII, no line breaks, "less than 100 characters long".
    return subject[:99], "\n".join(lines)


def _summary(report: GuardReport) -> str:
    """What the guard did, or found to do, in a few words: campaigns, then recommenders."""
    parts = [part for part in (_campaigns_summary(report), _stops_summary(report)) if part]
    if report.left_behind:
        parts.append(f"{len(report.left_behind)} group(s) left behind")
    return " and ".join(parts) or f"{len(report.not_watched)} recommender(s) billing, not watched"


def _campaigns_summary(report: GuardReport) -> str:
    changed = sum(a.applied for a in report.actions)
    if changed:
        return f"changed {changed} campaign(s)"
    return f"found {len(report.actions)} campaign(s) to act on" if report.actions else ""


def _stops_summary(report: GuardReport) -> str:
    stopped = sum(s.applied for s in report.stops)
    if stopped or not report.stops:
        return f"stopped {stopped} recommender(s)" if stopped else ""
    return f"could not stop {len(report.stops)} recommender(s)"


def _saving(report: GuardReport, action: Action) -> str:
    hours = f"{action.tps_hours_saved_per_day:g} TPS-hours per day, {action.tps_hours_saved_per_month:g} per month"
    usd = report.usd(action)
    if usd is None:
        return f"{hours} (set cost_guard.price_per_tps_hour to see it in USD)"
    return f"{hours}, about {usd:,.2f} USD per month at your price_per_tps_hour of {report.price_per_tps_hour:g} USD"


def _days(age: timedelta) -> str:
    return f"{age.days} day(s)" if age.days else f"{age.total_seconds() / 3600:.0f} h"
