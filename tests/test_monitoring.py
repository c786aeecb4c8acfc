"""Dashboard and alarms (constructs/poc_monitoring.py): what an operator of an environment would see.

The shipped environments are checked in their synthesized templates (session fixtures, no extra synth);
a POC definition with one more campaign, provisioned above 1 TPS, and non-default thresholds is checked
on the construct alone in a small stack (no Lambda assets, well under a second of synthesis).
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn

from constructs.poc_monitoring import PocMonitoring
from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import CampaignConfig, PocDefinition, load_poc_definition
from personalize_poc.settings import DEFAULT_POC_FILE, MonitoringSettings, SettingsError, parse_environment
from tests.conftest import SynthesizedEnvironment, render


def _alarms(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def _dashboard_body(resources: dict[str, Any]) -> tuple[str, str]:
    (dashboard,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    return dashboard["DashboardName"], str(render(dashboard["DashboardBody"]))


def _metric(alarm: dict[str, Any]) -> dict[str, Any]:
    (query,) = [m for m in alarm["Metrics"] if "MetricStat" in m]
    return query["MetricStat"]


def _campaigns(env: SynthesizedEnvironment) -> list[str]:
    poc = load_poc_definition(env.settings.poc_config_path, env.settings.name_prefix)
    return [c.name for c in poc.campaigns]


# ------------------------------------------------------------------------------ shipped environments


def test_every_alarm_notifies_the_topic_and_names_the_environment(poc_env: SynthesizedEnvironment) -> None:
    alarms = _alarms(poc_env.resources)
    prefix = f"{poc_env.settings.name_prefix}-{poc_env.name}-"
    (topic,) = [k for k, r in poc_env.resources.items() if r["Type"] == "AWS::SNS::Topic"]
    assert alarms
    for name, alarm in alarms.items():
        assert name.startswith(prefix), name
        assert alarm["AlarmActions"] == [{"Ref": topic}], name
        assert alarm["ActionsEnabled"] is True


@pytest.mark.parametrize("machine", ["Workflow", "Teardown"])
@pytest.mark.parametrize(
    ("outcome", "metric"),
    [("Failure", "ExecutionsFailed"), ("TimedOut", "ExecutionsTimedOut"), ("Aborted", "ExecutionsAborted")],
)
def test_a_single_failed_timed_out_or_aborted_execution_alarms(
    poc_env: SynthesizedEnvironment, machine: str, outcome: str, metric: str
) -> None:
    alarms = _alarms(poc_env.resources)
    (name,) = [n for n in alarms if n.startswith(f"{poc_env.settings.name_prefix}-{poc_env.name}-{machine}-{outcome}")]
    alarm = alarms[name]
    stat = _metric(alarm)
    assert stat["Metric"]["MetricName"] == metric and stat["Metric"]["Namespace"] == "AWS/States"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1), "one failure must be enough"
    (dimension,) = stat["Metric"]["Dimensions"]
    machine_id = dimension["Value"]["Ref"]
    assert poc_env.resources[machine_id]["Type"] == "AWS::StepFunctions::StateMachine"


def test_every_step_function_has_an_error_alarm(poc_env: SynthesizedEnvironment) -> None:
    """Every Lambda function the POC deploys (workflow and teardown steps, the teardown trigger)."""
    functions = {
        k
        for k, r in poc_env.resources.items()
        if r["Type"] == "AWS::Lambda::Function" and "POWERTOOLS_SERVICE_NAME" in json.dumps(r["Properties"])
    }
    alarmed = set()
    for alarm in _alarms(poc_env.resources).values():
        stat = _metric(alarm)
        if stat["Metric"]["MetricName"] == "Errors" and stat["Metric"]["Namespace"] == "AWS/Lambda":
            (dimension,) = stat["Metric"]["Dimensions"]
            alarmed.add(dimension["Value"]["Ref"])
            assert alarm["Threshold"] == poc_env.settings.monitoring.step_errors_alarm_count - 1
    assert functions and alarmed == functions


def test_every_campaign_has_an_idle_alarm_from_the_settings(poc_env: SynthesizedEnvironment) -> None:
    settings = poc_env.settings.monitoring
    idle = {n: a for n, a in _alarms(poc_env.resources).items() if n.endswith("-Idle")}
    arns = set()
    for alarm in idle.values():
        stat = _metric(alarm)
        assert stat["Metric"]["Namespace"] == "AWS/Personalize"
        assert stat["Metric"]["MetricName"] in {"GetRecommendations", "GetPersonalizedRanking"}
        assert (stat["Stat"], stat["Period"]) == ("Sum", 3600)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == settings.idle_alarm_hours
        assert alarm["TreatMissingData"] == "breaching", "a campaign with no requests publishes no data"
        arns.add(render(stat["Metric"]["Dimensions"][0]["Value"]))
    group = load_poc_definition(poc_env.settings.poc_config_path, poc_env.settings.name_prefix).dataset_group.name
    expected = {
        f"arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:campaign/"
        f"{poc_env.settings.name_prefix}-{group}-{name}"
        for name in _campaigns(poc_env)
    }
    assert arns == expected


def test_the_dashboard_covers_workflows_steps_campaigns_and_bucket(poc_env: SynthesizedEnvironment) -> None:
    name, body = _dashboard_body(poc_env.resources)
    assert name == f"{poc_env.settings.name_prefix}-poc"
    for machine in ("Workflow state machine", "Teardown state machine"):
        assert machine in body
    for metric in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "Throttles", "Duration"):
        assert metric in body, metric
    for campaign in _campaigns(poc_env):
        assert f"Campaign {campaign} (" in body
    for metric in ("GetRecommendationsLatency", "GetPersonalizedRankingLatency", "PERIOD(requests)"):
        assert metric in body, metric
    assert "DatasetImportJobExecutionTime" in body and "SolutionTrainingJobExecutionTime" in body
    assert "BucketSizeBytes" in body


# --------------------------------------------------------------------- the construct, its own definition


def _monitoring_template(poc: PocDefinition, settings: MonitoringSettings) -> dict[str, Any]:
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    plan = build_plan(
        poc,
        config_dir=DEFAULT_POC_FILE.parent,
        name_prefix="ppoc-t",
        bucket_name="bucket",
        role_arn="arn:aws:iam::123456789012:role/r",
        kms_key_arn=None,
        tags={},
    )
    machine = sfn.StateMachine(stack, "M", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P")))
    PocMonitoring(
        stack,
        "Monitoring",
        environment="test",
        name_prefix="ppoc-t",
        settings=settings,
        plan=plan,
        workflow=machine,
        teardown=machine,
        bucket=s3.Bucket(stack, "B"),
        topic=sns.Topic(stack, "T"),
    )
    template: dict[str, Any] = app.synth().get_stack_by_name("Probe").template
    return template["Resources"]


def _sample_with_campaign(min_tps: int) -> PocDefinition:
    poc = load_poc_definition(DEFAULT_POC_FILE, "ppoc-t")
    solution = poc.campaigns[0].solution
    extra = CampaignConfig(name="homepage", solution=solution, min_provisioned_tps=min_tps)
    return poc.model_copy(update={"campaigns": [*poc.campaigns, extra]})


def test_a_campaign_added_to_the_definition_gets_its_section_and_alarms() -> None:
    """Above 1 TPS a campaign also gets the utilization alarm, with the environment's thresholds."""
    settings = MonitoringSettings(idle_alarm_hours=48, utilization_alarm_percent=50, utilization_alarm_hours=12)
    resources = _monitoring_template(_sample_with_campaign(min_tps=5), settings)
    _, body = _dashboard_body(resources)
    assert "Campaign homepage (ppoc-t-" in body
    alarms = _alarms(resources)
    idle = alarms["ppoc-t-test-Campaign-homepage-Requests-Idle"]
    assert idle["EvaluationPeriods"] == idle["DatapointsToAlarm"] == 48
    low = alarms["ppoc-t-test-Campaign-homepage-Utilization-Low"]
    assert (low["ComparisonOperator"], low["Threshold"]) == ("LessThanThreshold", 50)
    assert low["EvaluationPeriods"] == low["DatapointsToAlarm"] == 12
    assert low["TreatMissingData"] == "notBreaching", "no traffic at all is the idle alarm's case"
    (expression,) = [m["Expression"] for m in low["Metrics"] if "Expression" in m]
    assert expression == "100 * (requests / PERIOD(requests)) / 5"
    # Campaigns at the service minimum of 1 TPS cannot be lowered: no utilization alarm for them.
    assert [n for n in alarms if n.endswith("-Utilization-Low")] == ["ppoc-t-test-Campaign-homepage-Utilization-Low"]


def test_a_definition_without_the_campaign_has_no_section_for_it() -> None:
    """The counterpart of the test above: sections come from the definition, not from a fixed list."""
    resources = _monitoring_template(load_poc_definition(DEFAULT_POC_FILE, "ppoc-t"), MonitoringSettings())
    _, body = _dashboard_body(resources)
    assert "Campaign homepage" not in body and "Campaign sims (" in body
    assert not [n for n in _alarms(resources) if "homepage" in n or n.endswith("-Utilization-Low")]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("idle_alarm_hours", 169, "less than or equal to 168"),
        ("utilization_alarm_percent", 0, "greater than or equal to 1"),
        ("step_errors_alarm_count", 0, "greater than or equal to 1"),
        ("unknown", 1, "Extra inputs are not permitted"),
    ],
)
def test_monitoring_settings_are_checked_at_synth(field: str, value: int, says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_environment("dev", {"name_prefix": "ppoc-dev", "monitoring": {field: value}})
    assert f"field 'monitoring.{field}'" in str(raised.value) and says in str(raised.value)
