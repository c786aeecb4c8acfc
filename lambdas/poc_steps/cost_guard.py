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

Recommenders (domain dataset groups) bill like campaigns, the greater of minRecommendationRequestsPerSecond
and the actual requests, every hour they are ACTIVE (botocore CreateRecommender). But the guard cannot see
whether one is idle: the developer guide's "CloudWatch metrics for Amazon Personalize" (cloudwatch-metrics,
and its source in awsdocs/amazon-personalize-developer-guide, doc_source/cloudwatch-metrics.md) gives
GetRecommendations and GetPersonalizedRanking the one dimension CampaignArn and names no recommender
dimension. So, the stricter side: each ACTIVE recommender is reported as NOT WATCHED with what it bills at
least, and never stopped or deleted by the guard, in any mode (expiry included). Should the service
document a per-recommender request metric, idle recommenders could be stopped (StopRecommender: no
billing; the POC workflow starts a stopped one again, poc_steps.ensure_recommender).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

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


#: Why the guard leaves recommenders alone (see the module docstring).
NOT_WATCHED = (
    "not watched: CloudWatch's documented Personalize request metrics are per campaign (CampaignArn), none "
    "per recommender, so the guard cannot tell an idle recommender from a busy one and never stops one"
)


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
    expires_after_days: int | None = None

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
    def delete_campaign(self, arn: str) -> None: ...
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
    report.not_watched = [r for r in adapter.recommenders() if r.status == ACTIVE]
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
    # A recommender billing for idle_hours or more is worth a line, like an idle campaign in notify mode.
    due = [r for r in report.not_watched if now - r.created >= timedelta(hours=settings.idle_hours)]
    if report.actions or due:
        adapter.notify(*message(report))
    return report


def message(report: GuardReport) -> tuple[str, str]:
    """(subject, body) for the owners: each action, what and why, and what it saves."""
    done = [a for a in report.actions if a.applied]
    subject = f"Personalize POC {report.dataset_group}: cost guard " + (
        f"changed {len(done)} campaign(s)"
        if done
        else f"found {len(report.actions)} campaign(s) to act on"
        if report.actions
        else f"{len(report.not_watched)} recommender(s) billing, not watched"
    )
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
    if report.mode == "notify" and any(not a.applied for a in report.actions):
        lines += ["", "Set cost_guard.mode: act in the environment's settings to let the guard do this itself."]
    if report.not_watched:
        lines += ([""] if lines[-1] else []) + _not_watched_lines(report)
    # botocore SNS Publish.Subject: ASCII, no line breaks, "less than 100 characters long".
    return subject[:99], "\n".join(lines)


def _not_watched_lines(report: GuardReport) -> list[str]:
    lines = ["Recommenders, left as they are:"]
    for r in report.not_watched:
        lines.append(
            f"- {r.name}: ACTIVE, minRecommendationRequestsPerSecond {r.min_rps}, bills at least "
            f"{r.rps_hours_per_day:g} RPS-hours per day [NOT WATCHED]"
        )
    lines.append(f"  {NOT_WATCHED}.")
    if report.expires_after_days is not None:
        lines.append(f"  expires_after_days ({report.expires_after_days}) deletes campaigns only, not recommenders.")
    lines.append(
        "  Stop one you no longer use with StopRecommender (the next POC workflow run starts it again), "
        "or tear the POC down (make teardown)."
    )
    return lines


def _saving(report: GuardReport, action: Action) -> str:
    hours = f"{action.tps_hours_saved_per_day:g} TPS-hours per day, {action.tps_hours_saved_per_month:g} per month"
    usd = report.usd(action)
    if usd is None:
        return f"{hours} (set cost_guard.price_per_tps_hour to see it in USD)"
    return f"{hours}, about {usd:,.2f} USD per month at your price_per_tps_hour of {report.price_per_tps_hour:g} USD"


def _days(age: timedelta) -> str:
    return f"{age.days} day(s)" if age.days else f"{age.total_seconds() / 3600:.0f} h"
