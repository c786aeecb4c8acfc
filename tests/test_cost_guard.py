"""The cost guard (lambdas/poc_steps/cost_guard*.py) against the real boto3 clients: Personalize answered
by the stateful double on a manual clock, CloudWatch metrics and the SNS topic by moto (request counts
put with put_metric_data, as the service publishes them: namespace AWS/Personalize, dimension
CampaignArn, one Sum per 5 minutes).

Scenarios: an idle campaign is reported and left alone in notify mode, deleted in act mode; a campaign
with traffic is left alone; an over-provisioned one is lowered toward its peak (never below 1) in act
mode only; expiry deletes the campaigns and nothing else, in either mode; another dataset group's idle
campaign is never touched or even looked at. Recommenders (pure logic): reported as not watched once they
have billed idle_hours; past expires_after_days stopped in either mode, a stopped one left alone. Left-behind
groups (a renamed dataset_group.name): what bills there is reported, never changed, once it has billed
idle_hours; another environment's groups are never reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from personalize_poc.data import sample
from personalize_poc.poc_definition import load_poc_definition
from tests.conftest import SynthesizedEnvironment, as_list, policy_statements, render
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.personalize_double import FakeClock, PersonalizeDouble

# isort: split
from poc_steps import cost_guard
from poc_steps.cost_guard import GuardSettings
from poc_steps.cost_guard_adapter import CostGuardAdapter
from poc_steps.cost_guard_leftovers import LeftGroup

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
START = datetime(2026, 11, 2, tzinfo=UTC)
PREFIX = "ppoc-cg"
GROUP = "ppoc-cg-retail"
OTHER_GROUP = "ppoc-cg-retail2"  # another POC whose name extends this one's
UP = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
RANKING = "arn:aws:personalize:::recipe/aws-personalized-ranking-v2"
HOUR = 3600


@pytest.fixture(scope="module")
def interactions_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("interactions")
    fitted = sample.generate_fitting(out, {"interactions": sample.SCHEMAS["interactions"]})
    return fitted.files["interactions"].read_bytes()


@dataclass
class World:
    double: PersonalizeDouble
    clock: FakeClock
    personalize: Any
    cloudwatch: Any
    topic_arn: str

    def now(self) -> datetime:
        return START + timedelta(seconds=self.clock())

    def settle(self, arn: str | None = None) -> None:
        self.clock.advance(self.double.seconds_until_settled(arn))

    def group(self, name: str, recipe: str = UP) -> tuple[str, str]:
        """A dataset group with an imported interactions dataset and one trained solution version."""
        client = self.personalize
        group = client.create_dataset_group(name=name)["datasetGroupArn"]
        self.settle(group)
        schema = client.create_schema(name=f"{name}-s", schema=json.dumps(sample.SCHEMAS["interactions"]))
        dataset = client.create_dataset(
            name=f"{name}-interactions",
            schemaArn=schema["schemaArn"],
            datasetGroupArn=group,
            datasetType="Interactions",
        )["datasetArn"]
        self.settle(dataset)
        job = client.create_dataset_import_job(
            jobName=f"{name}-import",
            datasetArn=dataset,
            dataSource={"dataLocation": "s3://bucket/imports/interactions.csv"},
            roleArn="arn:aws:iam::123456789012:role/personalize",
        )["datasetImportJobArn"]
        self.settle(job)
        solution = client.create_solution(name=f"{name}-sol", datasetGroupArn=group, recipeArn=recipe)["solutionArn"]
        self.settle(solution)
        version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        self.settle(version)
        return group, version

    def campaign(self, name: str, version: str, min_tps: int = 1) -> str:
        arn = self.personalize.create_campaign(name=name, solutionVersionArn=version, minProvisionedTPS=min_tps)
        self.settle(arn["campaignArn"])
        return str(arn["campaignArn"])

    def traffic(self, campaign_arn: str, per_window: float, hours: float, metric: str = "GetRecommendations") -> None:
        """Requests in every 5-minute window of the last ``hours`` (what the service publishes)."""
        windows = int(hours * 12)
        data = [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "CampaignArn", "Value": campaign_arn}],
                "Timestamp": self.now() - timedelta(minutes=5 * (i + 1)),
                "Value": per_window,
                "Unit": "Count",
            }
            for i in range(windows)
        ]
        for chunk in range(0, len(data), 500):
            self.cloudwatch.put_metric_data(Namespace="AWS/Personalize", MetricData=data[chunk : chunk + 500])

    def status(self, arn: str) -> str | None:
        return self.double.status(arn)

    def notifications(self) -> list[tuple[str, str]]:
        topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[self.topic_arn]
        return [(subject, message) for _, message, subject, *_ in topic.sent_notifications]

    def guard(
        self,
        mode: str,
        *,
        expires_after_days: int | None = None,
        price_per_tps_hour: float | None = None,
        name_prefix: str | None = None,
    ) -> dict[str, Any]:
        settings = GuardSettings(
            mode=mode,  # type: ignore[arg-type]
            idle_hours=24,
            usage_window_hours=24,
            lower_min_tps=True,
            expires_after_days=expires_after_days,
            price_per_tps_hour=price_per_tps_hour,
        )
        adapter = CostGuardAdapter(
            GROUP,
            self.topic_arn,
            personalize=self.personalize,
            cloudwatch=self.cloudwatch,
            sns=boto3.client("sns", **CREDENTIALS),
            name_prefix=name_prefix,
        )
        return cost_guard.run(adapter, settings, GROUP, self.now()).as_dict()


@pytest.fixture
def world(interactions_csv: bytes) -> Iterator[World]:
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock, start_time=START)
    double.read_object = lambda uri: interactions_csv  # type: ignore[method-assign]
    with mock_aws(), double.installed():
        topic = boto3.client("sns", **CREDENTIALS).create_topic(Name="poc-notifications")["TopicArn"]
        yield World(
            double,
            clock,
            boto3.client("personalize", **CREDENTIALS),
            boto3.client("cloudwatch", **CREDENTIALS),
            topic,
        )


def _actions(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["campaign"]: action for action in report["actions"]}


def test_idle_campaign_is_reported_and_left_alone_in_notify_mode(world: World) -> None:
    _, version = world.group(GROUP)
    idle = world.campaign(f"{GROUP}-idle", version)
    busy = world.campaign(f"{GROUP}-busy", version)
    world.clock.advance(25 * HOUR)
    world.traffic(busy, per_window=30, hours=25)

    report = world.guard("notify")

    assert set(report["checked"]) == {f"{GROUP}-idle", f"{GROUP}-busy"}
    action = _actions(report)[f"{GROUP}-idle"]
    assert (action["kind"], action["applied"]) == ("idle", False)
    assert action["tps_hours_saved_per_day"] == 24
    assert f"{GROUP}-busy" not in _actions(report)
    assert world.status(idle) == world.status(busy) == "ACTIVE"
    assert not [c for c in world.double.calls if c[0] in ("DeleteCampaign", "UpdateCampaign")]
    ((subject, message),) = world.notifications()
    assert GROUP in subject and f"{GROUP}-idle: delete the campaign [NOT DONE (notify)]" in message
    assert "no recommendation requests in the last 24 h" in message
    # No price set: TPS-hours only (24 a day, 730 in a 730-hour month), and how to get money.
    assert "saves: 24 TPS-hours per day, 730 per month (set cost_guard.price_per_tps_hour" in message
    assert action["usd_saved_per_month"] is None and report["usdSavedPerMonth"] is None


def test_with_the_owners_price_the_message_gives_money_at_that_price(world: World) -> None:
    _, version = world.group(GROUP)
    world.campaign(f"{GROUP}-idle", version, min_tps=2)
    world.clock.advance(25 * HOUR)

    report = world.guard("act", price_per_tps_hour=0.2)

    action = _actions(report)[f"{GROUP}-idle"]
    # 2 TPS x 730 hours = 1460 TPS-hours a month, x 0.2 USD.
    assert (action["tps_hours_saved_per_month"], action["usd_saved_per_month"]) == (1460, 292.0)
    assert report["usdSavedPerMonth"] == 292.0
    ((_, message),) = world.notifications()
    assert (
        "saves: 48 TPS-hours per day, 1460 per month, about 292.00 USD per month at your price_per_tps_hour " in message
    )
    assert "of 0.2 USD" in message


def test_idle_campaign_is_deleted_in_act_mode_and_one_with_traffic_stays(world: World) -> None:
    _, version = world.group(GROUP)
    idle = world.campaign(f"{GROUP}-idle", version)
    busy = world.campaign(f"{GROUP}-busy", version)
    world.clock.advance(25 * HOUR)
    world.traffic(busy, per_window=30, hours=25)

    report = world.guard("act")

    assert _actions(report)[f"{GROUP}-idle"]["applied"] is True
    assert report["tpsHoursSavedPerDay"] == 24
    world.settle(idle)
    assert world.status(idle) is None  # gone
    assert world.status(busy) == "ACTIVE"
    ((_, message),) = world.notifications()
    assert f"{GROUP}-idle: delete the campaign [DONE]" in message


def test_a_young_campaign_is_not_idle_yet(world: World) -> None:
    _, version = world.group(GROUP)
    world.campaign(f"{GROUP}-new", version)
    world.clock.advance(23 * HOUR)

    report = world.guard("act")

    assert report["actions"] == [] and report["checked"] == [f"{GROUP}-new"]
    assert world.notifications() == []


def test_over_provisioned_campaign_is_lowered_toward_its_peak_in_act_mode_only(world: World) -> None:
    _, version = world.group(GROUP, recipe=RANKING)
    ranking = world.campaign(f"{GROUP}-rank", version, min_tps=10)
    world.clock.advance(25 * HOUR)
    # 450 requests per 5 minutes = 1.5 TPS at the peak: the guard sets 2 (whole TPS, at least the peak).
    world.traffic(ranking, per_window=450, hours=25, metric="GetPersonalizedRanking")

    notified = world.guard("notify")
    action = _actions(notified)[f"{GROUP}-rank"]
    assert (action["kind"], action["new_min_tps"], action["applied"]) == ("over_provisioned", 2, False)
    assert action["tps_hours_saved_per_day"] == (10 - 2) * 24
    assert world.personalize.describe_campaign(campaignArn=ranking)["campaign"]["minProvisionedTPS"] == 10

    acted = world.guard("act")
    assert _actions(acted)[f"{GROUP}-rank"]["applied"] is True
    world.settle(ranking)
    assert world.personalize.describe_campaign(campaignArn=ranking)["campaign"]["minProvisionedTPS"] == 2


def test_an_over_provisioned_campaign_with_little_traffic_goes_to_one_never_below(world: World) -> None:
    _, version = world.group(GROUP)
    campaign = world.campaign(f"{GROUP}-up", version, min_tps=3)
    world.clock.advance(25 * HOUR)
    world.traffic(campaign, per_window=1, hours=25)

    action = _actions(world.guard("act"))[f"{GROUP}-up"]

    assert (action["new_min_tps"], action["tps_hours_saved_per_day"]) == (1, 48)


def test_expiry_deletes_the_campaigns_and_nothing_else_even_in_notify_mode(world: World) -> None:
    group, version = world.group(GROUP)
    busy = world.campaign(f"{GROUP}-busy", version)
    world.clock.advance(8 * 24 * HOUR)
    world.traffic(busy, per_window=30, hours=25)

    report = world.guard("notify", expires_after_days=7)

    action = _actions(report)[f"{GROUP}-busy"]
    assert (action["kind"], action["applied"]) == ("expired", True)
    world.settle()
    assert world.status(busy) is None
    solution = world.personalize.list_solutions(datasetGroupArn=group)["solutions"][0]["solutionArn"]
    assert world.status(group) == world.status(solution) == world.status(version) == "ACTIVE"
    deleting = {op for op, _ in world.double.calls if op.startswith("Delete") or op.startswith("Update")}
    assert deleting == {"DeleteCampaign"}
    ((_, message),) = world.notifications()
    assert "expire after 7 days" in message and "Re-run the POC workflow" in message


def test_another_dataset_groups_campaign_is_never_touched(world: World) -> None:
    _, mine = world.group(GROUP)
    _, theirs = world.group(OTHER_GROUP)
    own = world.campaign(f"{GROUP}-up", mine)
    foreign = world.campaign(f"{OTHER_GROUP}-up", theirs)
    world.clock.advance(30 * 24 * HOUR)  # both idle and past any expiry

    report = world.guard("act", expires_after_days=7)

    assert report["checked"] == [f"{GROUP}-up"]
    world.settle(own)
    assert world.status(own) is None
    assert world.status(foreign) == "ACTIVE"
    touched = [p.get("campaignArn") for op, p in world.double.calls if op in ("DescribeCampaign", "DeleteCampaign")]
    assert foreign not in touched


# ------------------------------------------------------------------------------------ left-behind groups

OLD_GROUP = f"{PREFIX}-shop"  # the group's name before dataset_group.name was renamed to "retail"


def test_a_renamed_groups_active_campaign_is_reported_with_its_tps_hours_and_left_active(world: World) -> None:
    _, mine = world.group(GROUP)
    _, old = world.group(OLD_GROUP)
    world.campaign(f"{GROUP}-up", mine)
    left = world.campaign(f"{OLD_GROUP}-up", old, min_tps=3)
    world.clock.advance(2 * 24 * HOUR)
    world.traffic(left, per_window=0, hours=30)  # idle, and past expiry: still never the guard's to change

    report = world.guard("act", expires_after_days=1, name_prefix=PREFIX)

    assert report["checked"] == [f"{GROUP}-up"]
    ((group,),) = [report["leftBehind"]]
    assert group["datasetGroup"] == OLD_GROUP
    # Its minProvisionedTPS (3) is not the guard's to read (DescribeCampaign stays on its own group): the floor.
    assert [(c["campaign"], c["atLeastTpsHoursPerDay"]) for c in group["campaigns"]] == [(f"{OLD_GROUP}-up", 24.0)]
    world.settle()
    assert world.status(left) == "ACTIVE"
    touched = [
        p.get("campaignArn")
        for op, p in world.double.calls
        if op in ("DescribeCampaign", "UpdateCampaign", "DeleteCampaign")
    ]
    assert left not in touched  # never changed, not even described (outside the role's scope)
    ((subject, message),) = world.notifications()  # one message for the run, with the expiry of its own campaign
    assert "1 group(s) left behind" in subject
    assert (
        f"- [LEFT BEHIND] {OLD_GROUP}: campaign {OLD_GROUP}-up (ACTIVE, minProvisionedTPS N >= 1), bills at least "
        "24 TPS-hours per day (N x 24)"
    ) in message
    assert f"aws personalize delete-campaign --campaign-arn {left}" in message


def test_another_environments_group_is_never_reported(world: World) -> None:
    _, mine = world.group(GROUP)
    for other in ("ppoc-cgx-retail", "ppoc-prod-retail", "ppoc-retail"):  # prefixes near, never `ppoc-cg-`
        _, version = world.group(other)
        world.campaign(f"{other}-up", version)
    world.campaign(f"{GROUP}-busy", mine)
    world.clock.advance(2 * 24 * HOUR)

    report = world.guard("notify", name_prefix=PREFIX)

    assert report["leftBehind"] == []
    ((_, message),) = world.notifications()  # only the own idle campaign
    assert "LEFT BEHIND" not in message


def test_no_billing_leftovers_no_extra_message(world: World) -> None:
    _, mine = world.group(GROUP)
    world.group(OLD_GROUP)  # an old group with nothing billing: a trained solution, no campaign
    busy = world.campaign(f"{GROUP}-busy", mine)
    world.clock.advance(2 * 24 * HOUR)
    world.traffic(busy, per_window=30, hours=30)

    report = world.guard("act", name_prefix=PREFIX)

    assert report["leftBehind"] == [] and report["actions"] == []
    assert world.notifications() == []


def test_a_young_left_behind_campaign_waits_for_idle_hours(world: World) -> None:
    _, old = world.group(OLD_GROUP)
    world.campaign(f"{OLD_GROUP}-up", old)
    world.clock.advance(23 * HOUR)

    report = world.guard("notify", name_prefix=PREFIX)

    assert [g["datasetGroup"] for g in report["leftBehind"]] == [OLD_GROUP]  # in the report already
    assert world.notifications() == []  # a message once it has billed idle_hours (24)


def test_nothing_built_means_nothing_to_do(world: World) -> None:
    report = world.guard("act", expires_after_days=1)

    assert report["actions"] == [] and report["checked"] == []
    assert world.notifications() == []


# ------------------------------------------------------------------------------------------ the handler


@dataclass
class _Context:
    function_name: str = "ppoc-cg-cost-guard"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:ppoc-cg-cost-guard"
    aws_request_id: str = "req-1"


def test_the_scheduled_function_reads_its_settings_and_reports(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from poc_steps import cost_guard_handler

    _, version = world.group(GROUP)
    idle = world.campaign(f"{GROUP}-idle", version)
    world.clock.advance(25 * HOUR)
    environment = {
        "DATASET_GROUP_NAME": GROUP,
        "NAME_PREFIX": PREFIX,
        "TOPIC_ARN": world.topic_arn,
        "GUARD_MODE": "notify",
        "IDLE_HOURS": "24",
        "USAGE_WINDOW_HOURS": "24",
        "LOWER_MIN_TPS": "true",
        "EXPIRES_AFTER_DAYS": "",
        "PRICE_PER_TPS_HOUR": "0.05",
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    tick = world.now().isoformat().replace("+00:00", "Z")  # as EventBridge Scheduler sends it

    report = cost_guard_handler.on_schedule({"scheduledTime": tick}, _Context())  # type: ignore[arg-type]

    assert report["mode"] == "notify" and report["datasetGroup"] == GROUP
    assert [(a["campaign"], a["kind"], a["applied"]) for a in report["actions"]] == [(f"{GROUP}-idle", "idle", False)]
    assert report["actions"][0]["usd_saved_per_month"] == 36.5  # 730 TPS-hours at the function's 0.05 USD
    assert world.status(idle) == "ACTIVE"


# ------------------------------------------------------------------------------------------ the template


def _cost_guard_resources(env: SynthesizedEnvironment) -> tuple[dict[str, Any], dict[str, Any]]:
    (function,) = [
        r
        for r in env.resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"]["Handler"] == "poc_steps.cost_guard_handler.on_schedule"
    ]
    (schedule,) = [r for r in env.resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    return function, schedule


def test_the_guard_runs_on_the_environment_schedule(poc_env: SynthesizedEnvironment) -> None:
    settings = poc_env.settings.cost_guard
    function, schedule = _cost_guard_resources(poc_env)
    props = schedule["Properties"]
    assert (props["ScheduleExpression"], props["ScheduleExpressionTimezone"]) == (settings.schedule, settings.time_zone)
    assert props["State"] == "ENABLED"
    assert props["Name"] == f"{poc_env.settings.name_prefix}-cost-guard", "status reads it back by this name"
    assert json.loads(props["Target"]["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    alias_ref = props["Target"]["Arn"]["Ref"]
    assert poc_env.resources[alias_ref]["Type"] == "AWS::Lambda::Alias"
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["GUARD_MODE"] == settings.mode
    assert variables["IDLE_HOURS"] == str(settings.idle_hours)
    assert variables["PRICE_PER_TPS_HOUR"] == (
        "" if settings.price_per_tps_hour is None else f"{settings.price_per_tps_hour:g}"
    )


def test_the_guards_role_changes_only_its_own_groups_campaigns(poc_env: SynthesizedEnvironment) -> None:
    function, _ = _cost_guard_resources(poc_env)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    group = load_poc_definition(poc_env.settings.poc_config_path, poc_env.settings.name_prefix).dataset_group.name
    scope = f"{poc_env.settings.name_prefix}-{group}"
    policies = {
        logical_id
        for logical_id, r in poc_env.resources.items()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    }
    statements = [s for logical_id, s in policy_statements(poc_env.template_json) if logical_id in policies]
    personalize: dict[str, list[str]] = {}
    for statement in statements:
        for action in as_list(statement["Action"]):
            if action.startswith("personalize:"):
                personalize[action] = [render(r) for r in as_list(statement["Resource"])]
    base = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>"
    campaigns = [f"{base}:campaign/{scope}-*"]
    assert {a: r for a, r in personalize.items() if not a.startswith("personalize:List")} == {
        "personalize:DescribeCampaign": campaigns,
        "personalize:UpdateCampaign": campaigns,
        "personalize:DeleteCampaign": campaigns,
        "personalize:StopRecommender": [f"{base}:recommender/{scope}-*"],
    }


def test_mode_off_deploys_no_guard() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_sns as sns

    from constructs.cost_guard import CostGuard
    from personalize_poc.settings import CostGuardSettings

    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    guard = CostGuard(
        stack,
        "CostGuard",
        settings=CostGuardSettings(mode="off"),
        name_prefix="ppoc-t",
        personalize_scope="ppoc-t-retail",
        topic=sns.Topic(stack, "T"),
        encryption_key=None,
        log_retention=logs.RetentionDays.ONE_WEEK,
        destroy_logs=True,
    )
    resources = app.synth().get_stack_by_name("Probe").template["Resources"]
    assert guard.function is None
    assert {r["Type"] for r in resources.values()} == {"AWS::SNS::Topic"}


class _RecommendersOnly:
    """A POC with recommenders and no campaigns, as the guard's adapter sees it (pure logic, no AWS)."""

    def __init__(self, *recommenders: cost_guard.Recommender) -> None:
        self.found = list(recommenders)
        self.sent: list[tuple[str, str]] = []
        self.stopped: list[str] = []

    def campaigns(self, settings: GuardSettings, now: datetime) -> list[cost_guard.Campaign]:
        return []

    def recommenders(self) -> list[cost_guard.Recommender]:
        return self.found

    def left_behind(self) -> list[LeftGroup]:
        return []

    def delete_campaign(self, arn: str) -> None:
        raise AssertionError("no campaign to delete")

    def set_min_tps(self, arn: str, min_tps: int) -> None:
        raise AssertionError("no campaign to change")

    def stop_recommender(self, arn: str) -> None:
        self.stopped.append(arn)

    def notify(self, subject: str, message: str) -> None:
        self.sent.append((subject, message))


def _recommender(name: str, hours_old: float, status: str = "ACTIVE", min_rps: int = 2) -> cost_guard.Recommender:
    created = START - timedelta(hours=hours_old)
    return cost_guard.Recommender(f"arn:aws:personalize:{REGION}:1:recommender/{name}", name, status, min_rps, created)


def test_recommenders_are_reported_not_watched_once_they_have_billed_idle_hours() -> None:
    settings = GuardSettings("act", idle_hours=24, usage_window_hours=24, lower_min_tps=True, expires_after_days=7)
    young = _RecommendersOnly(_recommender(f"{GROUP}-top", 2), _recommender(f"{GROUP}-stopped", 99, "INACTIVE"))
    old = _RecommendersOnly(_recommender(f"{GROUP}-top", 30), _recommender(f"{GROUP}-stopped", 99, "INACTIVE"))

    quiet = cost_guard.run(young, settings, GROUP, START).as_dict()
    told = cost_guard.run(old, settings, GROUP, START).as_dict()

    assert young.sent == [] and [r["recommender"] for r in quiet["notWatched"]] == [f"{GROUP}-top"]
    assert told["actions"] == [] and told["notWatched"][0]["rpsHoursPerDay"] == 48.0
    ((subject, body),) = old.sent
    assert subject == f"Personalize POC {GROUP}: cost guard 1 recommender(s) billing, not watched"
    assert f"- {GROUP}-top: ACTIVE, minRecommendationRequestsPerSecond 2, bills at least 48 RPS-hours" in body
    assert f"{GROUP}-stopped" not in body  # a stopped recommender does not bill
    assert "never stops one for being idle" in body
    assert "expires_after_days (7) stops each one that many days after its creation" in body
    assert young.stopped == old.stopped == []  # 30 hours old, idle or not: short of the 7-day deadline


def test_past_expiry_each_active_recommender_is_stopped_in_either_mode() -> None:
    """The deadline is the environment's own, as for campaigns (deleted at expiry in notify mode too)."""
    for mode in ("act", "notify"):
        world = _RecommendersOnly(
            _recommender(f"{GROUP}-top", 7 * 24, min_rps=3),  # exactly at the deadline
            _recommender(f"{GROUP}-young", 7 * 24 - 1),
            _recommender(f"{GROUP}-stopped", 30 * 24, "INACTIVE"),
            _recommender(f"{GROUP}-starting", 30 * 24, "START IN_PROGRESS"),
        )
        report = cost_guard.run(world, _settings(mode, expires_after_days=7), GROUP, START).as_dict()

        top = f"arn:aws:personalize:{REGION}:1:recommender/{GROUP}-top"
        assert world.stopped == [top], mode
        assert [(s["recommender"], s["applied"], s["rpsHoursSavedPerDay"]) for s in report["recommenderStops"]] == [
            (f"{GROUP}-top", True, 72.0)
        ]
        assert [r["recommender"] for r in report["notWatched"]] == [f"{GROUP}-young"]  # still only reported
        ((subject, body),) = world.sent
        assert subject == f"Personalize POC {GROUP}: cost guard stopped 1 recommender(s)"
        assert f"- {GROUP}-top: stop the recommender (StopRecommender) [DONE]" in body
        assert "the POC expires after 7 days" in body and "the next POC workflow run starts it again" in body
        assert "Set cost_guard.mode: act" not in body  # nothing was left undone


def test_without_expiry_no_recommender_is_ever_stopped() -> None:
    old = _RecommendersOnly(_recommender(f"{GROUP}-top", 365 * 24))

    report = cost_guard.run(old, _settings("act", expires_after_days=None), GROUP, START).as_dict()

    assert old.stopped == [] and report["recommenderStops"] == []
    assert [r["recommender"] for r in report["notWatched"]] == [f"{GROUP}-top"]


def test_a_stop_the_service_refuses_is_reported_and_the_others_still_stop() -> None:
    class Refusing(_RecommendersOnly):
        def stop_recommender(self, arn: str) -> None:
            if arn.endswith("-a"):
                raise RuntimeError("ResourceInUseException: not ACTIVE")
            super().stop_recommender(arn)

    world = Refusing(_recommender(f"{GROUP}-a", 9 * 24), _recommender(f"{GROUP}-b", 9 * 24))

    report = cost_guard.run(world, _settings("act", expires_after_days=7), GROUP, START).as_dict()

    assert world.stopped == [f"arn:aws:personalize:{REGION}:1:recommender/{GROUP}-b"]
    assert [(s["recommender"], s["applied"], bool(s["error"])) for s in report["recommenderStops"]] == [
        (f"{GROUP}-a", False, True),
        (f"{GROUP}-b", True, False),
    ]
    ((subject, body),) = world.sent
    assert subject.endswith("stopped 1 recommender(s)")
    assert f"- {GROUP}-a: stop the recommender (StopRecommender) [FAILED (RuntimeError: " in body


def _settings(mode: str, *, expires_after_days: int | None) -> GuardSettings:
    return GuardSettings(
        mode,  # type: ignore[arg-type]
        idle_hours=24,
        usage_window_hours=24,
        lower_min_tps=True,
        expires_after_days=expires_after_days,
    )
