"""`personalize-poc status ENV` against moto (SSM, Step Functions, CloudWatch) and the Personalize double:
what an operator reads on the one screen."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws
from rich.console import Console
from typer.testing import CliRunner

from personalize_poc import cli
from personalize_poc import status as environment_status
from personalize_poc.cli import app
from personalize_poc.data import aws
from tests.support.personalize_double import FakeClock, PersonalizeDouble
from tests.test_cost_guard import (
    CREDENTIALS,
    GROUP,
    REGION,
    World,
    interactions_csv,  # noqa: F401  (the module-scoped fixture, reused)
)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
GUARD = SimpleNamespace(mode="notify", schedule="rate(1 hour)", time_zone="UTC", price_per_tps_hour=None)
REFRESH = SimpleNamespace(schedule="cron(0 6 ? * 2 *)", time_zone="Europe/Paris")
ENV = SimpleNamespace(name="test", name_prefix="ppoc-cg", region=REGION, cost_guard=GUARD, refresh=REFRESH)
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def deployed(interactions_csv: bytes, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # noqa: F811
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(aws, "load_environment", lambda name: ENV)
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock, start_time=NOW - dt.timedelta(days=2))
    double.read_object = lambda uri: interactions_csv  # type: ignore[method-assign]
    with mock_aws(), double.installed():
        yield World(double, clock, boto3.client("personalize", **CREDENTIALS),
                    boto3.client("cloudwatch", **CREDENTIALS), "")  # fmt: skip


def _publish(world: World) -> dict[str, str]:
    """What the stack and a workflow run leave in SSM, two campaigns, one with traffic, and two alarms."""
    ssm, sfn = boto3.client("ssm", **CREDENTIALS), boto3.client("stepfunctions", **CREDENTIALS)
    role = "arn:aws:iam::123456789012:role/sfn"
    for suffix in ("workflow", "teardown"):
        arn = sfn.create_state_machine(name=f"ppoc-cg-poc-{suffix}", definition=PASS, roleArn=role)["stateMachineArn"]
        ssm.put_parameter(Name=f"/ppoc-cg/{suffix}-arn", Value=arn, Type="String")
        if suffix == "workflow":
            sfn.start_execution(stateMachineArn=arn, name="cli-build-1")
    _, version = world.group(GROUP)
    campaigns = {"idle": world.campaign(f"{GROUP}-idle", version, min_tps=2),
                 "busy": world.campaign(f"{GROUP}-busy", version)}  # fmt: skip
    for name, arn in campaigns.items():
        ssm.put_parameter(Name=f"/ppoc-cg/poc/campaigns/{name}", Value=arn, Type="String")
    data = [{"MetricName": "GetRecommendations", "Dimensions": [{"Name": "CampaignArn", "Value": campaigns["busy"]}],
             "Timestamp": NOW - dt.timedelta(minutes=10 * (i + 1)), "Value": 360.0} for i in range(5)]  # fmt: skip
    world.cloudwatch.put_metric_data(Namespace="AWS/Personalize", MetricData=data)
    scheduler = boto3.client("scheduler", **CREDENTIALS)
    target = {"Arn": "arn:aws:lambda:eu-west-1:123456789012:function:f", "RoleArn": role}
    scheduler.create_schedule(Name="ppoc-cg-cost-guard", ScheduleExpression="rate(1 hour)", Target=target,
                              ScheduleExpressionTimezone="UTC", FlexibleTimeWindow={"Mode": "OFF"})  # fmt: skip
    scheduler.create_schedule(Name="ppoc-cg-refresh", ScheduleExpression="cron(0 6 ? * 2 *)", Target=target,
                              ScheduleExpressionTimezone="Europe/Paris",
                              FlexibleTimeWindow={"Mode": "OFF"})  # fmt: skip
    for alarm in ("ppoc-cg-test-Campaign-idle-Requests-Idle", "ppoc-other-test-Workflow-Failure-Count-Failed"):
        world.cloudwatch.put_metric_alarm(
            AlarmName=alarm, MetricName="GetRecommendations", Namespace="AWS/Personalize", Statistic="Sum",
            Period=3600, EvaluationPeriods=1, Threshold=1, ComparisonOperator="LessThanThreshold",
        )  # fmt: skip
        world.cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="no requests for 24 h")
    return campaigns


def test_status_gathers_campaigns_runs_alarms_and_schedule(deployed: World) -> None:
    _publish(deployed)

    gathered = environment_status.gather(boto3.session.Session(region_name=REGION), ENV, NOW)

    by_name = {c.name: c for c in gathered.campaigns}
    busy, idle = by_name["busy"], by_name["idle"]
    assert (busy.status, busy.min_tps) == ("ACTIVE", 1)
    assert busy.idle_hours == pytest.approx(5 / 60)  # the last 5-minute window with requests ended 5 min ago
    assert busy.tps_last_hour == pytest.approx(5 * 360 / 3600)  # the last hour's requests per second
    assert busy.utilization == pytest.approx(50)
    assert idle.idle_hours == float("inf") and idle.tps_last_hour == 0
    assert idle.tps_hours_per_day == 48  # billed at its minProvisionedTPS 2 every hour
    assert [(w, n) for w, n, *_ in gathered.runs] == [("workflow", "cli-build-1")]
    assert gathered.alarms == [("ppoc-cg-test-Campaign-idle-Requests-Idle", "no requests for 24 h")]
    guard, refresh = gathered.schedules
    created = boto3.client("scheduler", **CREDENTIALS).get_schedule(Name="ppoc-cg-cost-guard")["CreationDate"]
    # rate(1 hour) starts at its creation (NOW, taken at import, is earlier), then hourly; the refresh cron runs
    # on Mondays at 06:00 in Paris.
    assert (guard.what, guard.expression, guard.next_run) == ("cost guard (notify mode)", "rate(1 hour)", created)
    later = environment_status.gather(
        boto3.session.Session(region_name=REGION), ENV, created + dt.timedelta(minutes=90)
    ).schedules[0]
    assert later.next_run == created + dt.timedelta(hours=2)
    assert refresh.next_run is not None and refresh.next_run > NOW
    paris = refresh.next_run.astimezone(ZoneInfo("Europe/Paris"))
    assert (paris.strftime("%a %H:%M"), refresh.next_run - NOW <= dt.timedelta(days=7)) == ("Mon 06:00", True)


def test_without_a_price_status_bills_in_tps_hours_and_with_one_in_usd(deployed: World) -> None:
    _publish(deployed)
    session = boto3.session.Session(region_name=REGION)

    plain = environment_status.gather(session, ENV, NOW)
    priced_env = SimpleNamespace(
        **{**vars(ENV), "cost_guard": SimpleNamespace(**{**vars(GUARD), "price_per_tps_hour": 0.2})}
    )
    priced = environment_status.gather(session, priced_env, NOW)

    idle = {c.name: c for c in priced.campaigns}["idle"]
    assert plain.usd_per_day(idle) is None
    assert priced.usd_per_day(idle) == pytest.approx(48 * 0.2)  # minProvisionedTPS 2 x 24 h at 0.2 USD
    console = Console(width=160, record=True)
    console.print(environment_status.render(priced, NOW))
    assert "48 TPS-h, 9.60 USD" in console.export_text()
    console.print(environment_status.render(plain, NOW))
    assert "set cost_guard.price_per_tps_hour" in console.export_text()


def test_a_schedule_not_deployed_says_so(deployed: World) -> None:
    found = environment_status._schedules(boto3.session.Session(region_name=REGION), ENV, NOW)  # none created

    assert [s.note for s in found] == [
        "schedule ppoc-cg-cost-guard not deployed (make deploy)",
        "schedule ppoc-cg-refresh not deployed (make deploy)",
    ]


def test_status_command_prints_one_screen(deployed: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish(deployed)
    # A 160-column console: rich fixes a console's width when COLUMNS and LINES are set as the module is
    # imported (pytest-xdist workers set 80x24), so setting COLUMNS here would not reach it.
    monkeypatch.setattr(cli, "stdout", Console(width=160, highlight=False, soft_wrap=False))

    result = CliRunner().invoke(app, ["status", "test"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("busy", "idle", "50%", "> 168 h", "48 TPS-h", "cli-build-1",
                 "ppoc-cg-test-Campaign-idle-Requests-Idle", "cost guard (notify mode): rate(1 hour) (UTC), next run",
                 "POC workflow (refresh): cron(0 6 ? * 2 *) (Europe/Paris), next run"):  # fmt: skip
        assert text in out, text
    assert "ppoc-other" not in out
    assert len(out.splitlines()) < 40, "one screen"


def test_status_of_an_environment_not_deployed_is_one_line(deployed: World) -> None:
    result = CliRunner().invoke(app, ["status", "test"])

    assert result.exit_code == 1
    assert "/ppoc-cg/workflow-arn not found" in result.stderr and "Traceback" not in result.output


def test_status_shows_what_bills_in_a_group_left_behind_and_never_another_environments(deployed: World) -> None:
    campaigns = _publish(deployed)  # the current group, GROUP, as the last run published it
    groups = deployed.personalize.list_dataset_groups()["datasetGroups"]
    (current,) = [g["datasetGroupArn"] for g in groups if g["name"] == GROUP]
    boto3.client("ssm", **CREDENTIALS).put_parameter(
        Name="/ppoc-cg/poc/dataset-group-arn", Value=current, Type="String"
    )
    _, old = deployed.group("ppoc-cg-shop")  # the group before dataset_group.name was renamed
    left = deployed.campaign("ppoc-cg-shop-up", old, min_tps=3)
    _, foreign = deployed.group("ppoc-cgx-shop")  # another environment's, a prefix near this one's
    deployed.campaign("ppoc-cgx-shop-up", foreign)

    gathered = environment_status.gather(boto3.session.Session(region_name=REGION), ENV, NOW)

    assert [(x.group, x.kind, x.name, x.arn, x.minimum) for x in gathered.left_behind] == [
        ("ppoc-cg-shop", "campaign", "ppoc-cg-shop-up", left, 3)
    ]
    assert set(campaigns.values()).isdisjoint(x.arn for x in gathered.left_behind)
    console = Console(width=160, record=True)
    console.print(environment_status.render(gathered, NOW))
    text = console.export_text()
    assert "Left behind" in text and "ppoc-cg-shop-up" in text and ">= 72 TPS-h" in text
    assert "ppoc-cgx" not in text
