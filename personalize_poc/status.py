"""`personalize-poc status ENV`: one screen about a deployed environment - its campaigns with TPS,
utilization, idle time and what they bill per day, the last workflow and teardown runs, the alarms in
ALARM and the next run of each schedule (read back with EventBridge Scheduler GetSchedule).

Campaigns are the ones the workflow published (SSM `/<prefix>/poc/campaigns/<name>`); request counts
come from CloudWatch (developer guide, "CloudWatch metrics for Amazon Personalize": namespace
AWS/Personalize, dimension CampaignArn, GetRecommendations or GetPersonalizedRanking, Sum only).
A campaign bills max(minProvisionedTPS, actual TPS) every hour it is ACTIVE (botocore
CreateCampaign.minProvisionedTPS), so "per day" is given in TPS-hours; prices are regional and tiered,
so money is shown only at the owner's own `cost_guard.price_per_tps_hour` (USD).

Recommenders of a domain dataset group are the ones published under `/<prefix>/poc/recommenders/<name>`,
described with DescribeRecommender (status, recipeArn, recommenderConfig.minRecommendationRequestsPerSecond).
A recommender bills the greater of its minimum requests per hour and the actual requests while ACTIVE
(botocore CreateRecommender); the developer guide's CloudWatch metrics page documents request counts by
CampaignArn, not by recommender, so actual requests are shown as not watched and "per day" is the floor,
in RPS-hours (minRecommendationRequestsPerSecond x 24).

"Left behind": this environment's other dataset groups (named `<name_prefix>-...`, exactly, and not the current
one: e.g. after `dataset_group.name` was renamed) where a campaign or a recommender is ACTIVE, so bills, as the
cost guard reports them (lambdas/poc_steps/cost_guard_leftovers.py). The current group is the POC definition's
(what the deployed guard watches), else the one the last workflow run published (`/<prefix>/poc/dataset-group-arn`);
with neither, no group is called left behind. Another environment's groups never match: the settings refuse a
prefix that is another plus `-...` (personalize_poc/settings.py, _check_prefixes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from personalize_poc import schedules
from personalize_poc.data import aws

LOOKBACK_HOURS = 168  # how far back idle time is looked for
WINDOW = dt.timedelta(minutes=5)  # 5-minute sums: the service's billing window of actual TPS
RANKING_RECIPES = ("aws-personalized-ranking", "aws-personalized-ranking-v2")
RUNS_SHOWN = 3


@dataclass(frozen=True)
class CampaignStatus:
    name: str
    status: str
    min_tps: int
    tps_last_hour: float | None
    idle_hours: float | None  # since the last request; inf: none in the lookback; None: not known

    @property
    def utilization(self) -> float | None:
        return None if self.tps_last_hour is None else 100 * self.tps_last_hour / self.min_tps

    @property
    def tps_hours_per_day(self) -> float:
        billed = max(self.min_tps, self.tps_last_hour or 0.0)
        return billed * 24 if self.status == "ACTIVE" else 0.0


@dataclass(frozen=True)
class RecommenderStatus:
    name: str
    use_case: str
    status: str
    min_rps: int

    @property
    def rps_hours_per_day(self) -> float:
        """At least this (actual requests above the minimum are not watched); nothing unless ACTIVE."""
        return self.min_rps * 24.0 if self.status == "ACTIVE" else 0.0


@dataclass(frozen=True)
class LeftBehind:
    """A billing (ACTIVE) campaign or recommender in a dataset group the POC no longer uses."""

    group: str
    kind: str  # "campaign" | "recommender"
    name: str
    arn: str
    minimum: int  # minProvisionedTPS, or minRecommendationRequestsPerSecond

    @property
    def billed_per_day(self) -> str:
        unit = "TPS-h" if self.kind == "campaign" else "RPS-h"
        return f">= {self.minimum * 24:g} {unit}"


@dataclass(frozen=True)
class ScheduleStatus:
    what: str  # e.g. "cost guard (notify mode)"
    expression: str = ""  # as deployed; "" when nothing is deployed
    time_zone: str = "UTC"
    next_run: dt.datetime | None = None  # UTC
    note: str = ""  # why there is no next run: off, on demand, not deployed, disabled, ended

    def describe(self, now: dt.datetime) -> str:
        if not self.expression:
            return f"{self.what}: {self.note}"
        text = f"{self.what}: {self.expression} ({self.time_zone})"
        if self.next_run is None:
            return f"{text}, {self.note or 'no next run'}"
        local = self.next_run.astimezone(ZoneInfo(self.time_zone))
        return f"{text}, next run {local:%Y-%m-%d %H:%M} {self.time_zone} (in {_duration(self.next_run - now)})"


@dataclass
class EnvironmentStatus:
    environment: str
    campaigns: list[CampaignStatus] = field(default_factory=list)
    recommenders: list[RecommenderStatus] = field(default_factory=list)
    runs: list[tuple[str, str, str, dt.datetime, dt.datetime | None]] = field(default_factory=list)
    alarms: list[tuple[str, str]] = field(default_factory=list)
    schedules: list[ScheduleStatus] = field(default_factory=list)
    price_per_tps_hour: float | None = None  # USD, the owner's (cost_guard.price_per_tps_hour)
    left_behind: list[LeftBehind] = field(default_factory=list)

    def usd_per_day(self, campaign: CampaignStatus) -> float | None:
        return None if self.price_per_tps_hour is None else campaign.tps_hours_per_day * self.price_per_tps_hour


def gather(session: Any, environment: Any, now: dt.datetime) -> EnvironmentStatus:
    status = EnvironmentStatus(environment.name)
    status.campaigns = [
        _campaign(session, name, arn, now) for name, arn in _published(session, environment, "campaigns")
    ]
    status.recommenders = [
        _recommender(session, name, arn) for name, arn in _published(session, environment, "recommenders")
    ]
    sfn = session.client("stepfunctions")
    for label, suffix in (("workflow", aws.WORKFLOW_PARAMETER), ("teardown", aws.TEARDOWN_PARAMETER)):
        machine = aws.read_parameter(session, environment, suffix)
        for execution in sfn.list_executions(stateMachineArn=machine, maxResults=RUNS_SHOWN)["executions"]:
            status.runs.append(
                (label, execution["name"], execution["status"], execution["startDate"], execution.get("stopDate"))
            )
    cloudwatch = session.client("cloudwatch")
    prefix = f"{environment.name_prefix}-{environment.name}-"
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, StateValue="ALARM"):
        status.alarms += [(a["AlarmName"], a.get("StateReason", "")) for a in page["MetricAlarms"]]
    guard = getattr(environment, "cost_guard", None)
    status.price_per_tps_hour = getattr(guard, "price_per_tps_hour", None)
    status.schedules = _schedules(session, environment, now)
    current = _current_group(session, environment)
    status.left_behind = [] if current is None else _left_behind(session, environment.name_prefix, current)
    return status


def _current_group(session: Any, environment: Any) -> str | None:
    """The POC definition's dataset group (`<prefix>-<name>`), else the last run's (SSM), else None."""
    from personalize_poc.poc_definition import full_name, load_poc_definition

    try:
        definition = load_poc_definition(environment.poc_config_path, environment.name_prefix)
        return full_name(environment.name_prefix, definition.dataset_group.name)
    except Exception:  # noqa: BLE001  no readable definition here: the last run's group
        pass
    ssm = session.client("ssm")
    try:
        arn = ssm.get_parameter(Name=aws.parameter_name(environment, "poc/dataset-group-arn"))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return str(arn).rsplit("/", 1)[-1]


def _left_behind(session: Any, prefix: str, current: str) -> list[LeftBehind]:
    """ACTIVE campaigns (botocore Campaign.status: an update keeps ACTIVE) and ACTIVE recommenders (botocore
    RecommenderSummary.status) of the environment's other groups: what bills there."""
    personalize = session.client("personalize")
    found: list[LeftBehind] = []
    for group in _paged(personalize, "list_dataset_groups", "datasetGroups"):
        name, arn = group["name"], group["datasetGroupArn"]
        if name == current or not name.startswith(f"{prefix}-"):
            continue
        for solution in _paged(personalize, "list_solutions", "solutions", datasetGroupArn=arn):
            for c in _paged(personalize, "list_campaigns", "campaigns", solutionArn=solution["solutionArn"]):
                if c["status"] == "ACTIVE":
                    tps = personalize.describe_campaign(campaignArn=c["campaignArn"])["campaign"]["minProvisionedTPS"]
                    found.append(LeftBehind(name, "campaign", c["name"], c["campaignArn"], int(tps)))
        for r in _paged(personalize, "list_recommenders", "recommenders", datasetGroupArn=arn):
            if r["status"] == "ACTIVE":
                rps = (r.get("recommenderConfig") or {}).get("minRecommendationRequestsPerSecond", 1)
                found.append(LeftBehind(name, "recommender", r["name"], r["recommenderArn"], int(rps)))
    return found


def _paged(client: Any, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page[key]]


def _schedules(session: Any, environment: Any, now: dt.datetime) -> list[ScheduleStatus]:
    """The schedules the settings ask for, as deployed (their expression and time zone may differ from the
    working tree's until the next deploy)."""
    scheduler = session.client("scheduler")
    guard, refresh = getattr(environment, "cost_guard", None), getattr(environment, "refresh", None)
    found = []
    if guard is None or guard.mode == "off":
        found.append(ScheduleStatus("cost guard", note="off (cost_guard.mode)"))
    else:
        name = schedules.schedule_name(environment.name_prefix, schedules.COST_GUARD)
        found.append(_deployed(scheduler, f"cost guard ({guard.mode} mode)", name, now))
    if refresh is None or not refresh.schedule:
        found.append(ScheduleStatus("POC workflow", note="runs on demand (make run; refresh.schedule unset)"))
    else:
        name = schedules.schedule_name(environment.name_prefix, schedules.REFRESH)
        found.append(_deployed(scheduler, "POC workflow (refresh)", name, now))
    return found


def _deployed(scheduler: Any, what: str, name: str, now: dt.datetime) -> ScheduleStatus:
    """botocore scheduler GetSchedule: ScheduleExpression, ScheduleExpressionTimezone, State
    (ENABLED|DISABLED), StartDate/EndDate (optional), CreationDate."""
    try:
        got = scheduler.get_schedule(Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        return ScheduleStatus(what, note=f"schedule {name} not deployed (make deploy)")
    expression, zone = got["ScheduleExpression"], got.get("ScheduleExpressionTimezone") or "UTC"
    if got.get("State") == "DISABLED":
        return ScheduleStatus(what, expression, zone, note="disabled")
    start = got.get("StartDate")
    try:
        upcoming = schedules.next_run(
            expression, zone, max(now, start) if start else now, anchor=start or got.get("CreationDate")
        )
    except schedules.UnsupportedSchedule as error:
        return ScheduleStatus(what, expression, zone, note=f"next run not computed ({error})")
    end = got.get("EndDate")
    if upcoming is not None and end is not None and upcoming > end:
        upcoming = None
    return ScheduleStatus(what, expression, zone, upcoming, note="" if upcoming else "no run to come")


def _published(session: Any, environment: Any, kind: str) -> list[tuple[str, str]]:
    path = aws.parameter_name(environment, f"poc/{kind}")
    found = []
    for page in session.client("ssm").get_paginator("get_parameters_by_path").paginate(Path=path):
        found += [(p["Name"].rsplit("/", 1)[-1], p["Value"]) for p in page["Parameters"]]
    return sorted(found)


def _campaign(session: Any, name: str, arn: str, now: dt.datetime) -> CampaignStatus:
    personalize = session.client("personalize")
    try:
        campaign = personalize.describe_campaign(campaignArn=arn)["campaign"]
    except personalize.exceptions.ResourceNotFoundException:
        return CampaignStatus(name, "gone (deleted since the last run)", 1, None, None)
    version = personalize.describe_solution_version(solutionVersionArn=campaign["solutionVersionArn"])
    recipe = version["solutionVersion"].get("recipeArn", "").rsplit("/", 1)[-1]
    metric = "GetPersonalizedRanking" if recipe in RANKING_RECIPES else "GetRecommendations"
    windows = _requests(session.client("cloudwatch"), arn, metric, now)
    busy = [at for at, value in windows if value > 0]
    last_hour = sum(value for at, value in windows if at >= now - dt.timedelta(hours=1))
    # Sums are stamped at the start of their window: the last request came before its end.
    idle_seconds = (now - (max(busy) + WINDOW)).total_seconds() if busy else float("inf")
    idle = None if idle_seconds <= 0 else idle_seconds / 3600
    return CampaignStatus(name, campaign["status"], int(campaign.get("minProvisionedTPS", 1)), last_hour / 3600, idle)


def _recommender(session: Any, name: str, arn: str) -> RecommenderStatus:
    from personalize_poc.domain import RECIPE_ARN_PREFIX, USE_CASES

    personalize = session.client("personalize")
    try:
        recommender = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    except personalize.exceptions.ResourceNotFoundException:
        return RecommenderStatus(name, "-", "gone (deleted since the last run)", 1)
    recipe = recommender.get("recipeArn", "").removeprefix(RECIPE_ARN_PREFIX)
    cases = {case.recipe: short for domain in USE_CASES.values() for short, case in domain.items()}
    config = recommender.get("recommenderConfig") or {}
    status = recommender["status"]
    update = (recommender.get("latestRecommenderUpdate") or {}).get("status")
    if status == "ACTIVE" and update and update != "ACTIVE":
        status = f"ACTIVE (update {update})"
    return RecommenderStatus(
        name, cases.get(recipe, recipe), status, int(config.get("minRecommendationRequestsPerSecond", 1))
    )


def _requests(cloudwatch: Any, arn: str, metric: str, now: dt.datetime) -> list[tuple[dt.datetime, float]]:
    query = {
        "Id": "requests",
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/Personalize",
                "MetricName": metric,
                "Dimensions": [{"Name": "CampaignArn", "Value": arn}],
            },
            "Period": int(WINDOW.total_seconds()),
            "Stat": "Sum",
        },
    }
    series: list[tuple[dt.datetime, float]] = []
    start = now - dt.timedelta(hours=LOOKBACK_HOURS)
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=[query], StartTime=start, EndTime=now
    ):
        for result in page["MetricDataResults"]:
            series += list(zip(result["Timestamps"], result["Values"], strict=True))
    return series


def render(status: EnvironmentStatus, now: dt.datetime) -> RenderableType:
    campaigns = Table(title=f"Campaigns of {status.environment}", title_justify="left")
    for column in ("campaign", "status", "min TPS", "TPS (last h)", "utilization", "idle", "billed / day"):
        campaigns.add_column(column, justify="left" if column in ("campaign", "status") else "right")
    for c in status.campaigns:
        campaigns.add_row(
            c.name,
            c.status,
            str(c.min_tps),
            "-" if c.tps_last_hour is None else f"{c.tps_last_hour:.2f}",
            "-" if c.utilization is None else f"{c.utilization:.0f}%",
            _idle(c.idle_hours),
            _billed(c, status.usd_per_day(c)),
        )
    runs = Table(title="Last runs", title_justify="left")
    for column in ("workflow", "execution", "status", "started", "took"):
        runs.add_column(column)
    for workflow, name, state, started, stopped in status.runs:
        took = f"{((stopped or now) - started).total_seconds() / 60:.0f} min"
        runs.add_row(workflow, name, state, started.strftime("%Y-%m-%d %H:%M"), took)
    alarms = [Text(f"{name}: {reason}", style="red") for name, reason in status.alarms] or [Text("none")]
    price = (
        "Billed per day: TPS-hours (set cost_guard.price_per_tps_hour, USD from the Amazon Personalize pricing "
        "page for your region, to see money)"
        if status.price_per_tps_hour is None
        else f"Billed per day in USD at your cost_guard.price_per_tps_hour of {status.price_per_tps_hour:g}"
    )
    shown: list[RenderableType] = [campaigns, Text(price, style="dim")] if status.campaigns else []
    if status.recommenders:
        shown.append(_recommenders(status))
    shown = shown or [Text("No campaigns or recommenders published (run the POC workflow).")]
    if status.left_behind:
        shown.append(_left_behind_table(status))
    return Group(
        *shown,
        runs,
        Text("Alarms in ALARM:", style="bold"),
        *alarms,
        Text("Schedules:", style="bold"),
        *[Text(f"- {schedule.describe(now)}") for schedule in status.schedules],
    )


def _recommenders(status: EnvironmentStatus) -> Table:
    table = Table(
        title=f"Recommenders of {status.environment}",
        title_justify="left",
        caption="Requests per recommender are not in CloudWatch's documented metrics: billed / day is "
        "the floor, min RPS x 24 while ACTIVE (more if traffic is higher)",
        caption_justify="left",
    )
    for column in ("recommender", "use case", "status", "min RPS", "requests", "billed / day"):
        right = column in ("min RPS", "billed / day")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for r in status.recommenders:
        billed = f">= {r.rps_hours_per_day:g} RPS-h" if r.rps_hours_per_day else "0 RPS-h"
        table.add_row(r.name, r.use_case, r.status, str(r.min_rps), "not watched", billed)
    return table


def _left_behind_table(status: EnvironmentStatus) -> Table:
    table = Table(
        title="Left behind (billing in dataset groups the POC no longer uses)",
        title_justify="left",
        caption="The cost guard reports these and never changes them. Remove: aws personalize delete-campaign "
        "--campaign-arn ARN; aws personalize stop-recommender --recommender-arn ARN",
        caption_justify="left",
    )
    for column in ("dataset group", "kind", "name", "minimum", "billed / day"):
        table.add_column(column, justify="right" if column in ("minimum", "billed / day") else "left", overflow="fold")
    for left in status.left_behind:
        table.add_row(left.group, left.kind, left.name, str(left.minimum), left.billed_per_day)
    return table


def _billed(campaign: CampaignStatus, usd: float | None) -> str:
    hours = f"{campaign.tps_hours_per_day:g} TPS-h"
    return hours if usd is None else f"{hours}, {usd:,.2f} USD"


def _duration(delta: dt.timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _idle(hours: float | None) -> str:
    if hours is None or hours < 1:
        return "< 1 h"
    if hours == float("inf"):
        return f"> {LOOKBACK_HOURS} h"
    return f"{hours:.0f} h"
