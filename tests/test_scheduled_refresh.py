"""Scheduled refresh (constructs/scheduled_refresh.py): EventBridge Scheduler starts the POC workflow on
the environment's schedule, in its time zone, with the input `run start` sends; nothing without one.
The run it starts on unchanged data creating nothing is rehearsed in tests/test_rehearsal_operate.py."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import AwsSolutionsChecks

from constructs.scheduled_refresh import ScheduledRefresh
from personalize_poc.settings import RefreshSettings, SettingsError, parse_environment
from tests.conftest import SynthesizedEnvironment, as_list, policy_statements, render


def _refresh_stack(settings: RefreshSettings) -> tuple[cdk.Stack, dict[str, Any]]:
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    machine = sfn.StateMachine(
        stack, "Workflow", definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(stack, "P"))
    )
    ScheduledRefresh(stack, "Refresh", settings=settings, workflow=machine, name_prefix="ppoc-t")
    return stack, app.synth().get_stack_by_name("Probe").template


def test_the_schedule_starts_the_workflow_in_its_time_zone() -> None:
    stack, template = _refresh_stack(RefreshSettings(schedule="cron(0 6 ? * MON *)", time_zone="Europe/Paris"))
    resources = template["Resources"]
    (schedule,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 6 ? * MON *)",
        "Europe/Paris",
    )
    assert schedule["Name"] == "ppoc-t-refresh", "status reads it back by this name"

    (machine,) = [k for k, r in resources.items() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert schedule["Target"]["Arn"] == {"Ref": machine}
    assert json.loads(schedule["Target"]["Input"]) == {}  # what `personalize-poc run start` sends
    role = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    policies = {
        k for k, r in resources.items() if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    }
    granted = [
        (action, render(statement["Resource"]))
        for logical_id, statement in policy_statements(template)
        if logical_id in policies
        for action in as_list(statement["Action"])
    ]
    assert granted == [("states:StartExecution", f"<{machine}>")]
    report = AwsSolutionsChecks(stack.node.root).validate_scope(stack)
    findings = [
        (v.rule_name, r.construct_path)
        for v in report.violations
        for r in v.violating_resources
        if r.construct_path.startswith("Probe/Refresh")  # the probe's bare state machine is not under test
    ]
    assert findings == []


def test_no_schedule_deploys_nothing() -> None:
    _, template = _refresh_stack(RefreshSettings())
    assert {r["Type"] for r in template["Resources"].values()} == {"AWS::IAM::Role", "AWS::StepFunctions::StateMachine"}


def test_the_shipped_environments_run_on_demand(poc_env: SynthesizedEnvironment) -> None:
    """Only the cost guard's schedule exists; none targets a state machine."""
    schedules = [r["Properties"] for r in poc_env.resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    for schedule in schedules:
        target = schedule["Target"]["Arn"]
        assert "Ref" in target and poc_env.resources[target["Ref"]]["Type"] == "AWS::Lambda::Alias"


@pytest.mark.parametrize(
    ("refresh", "says"),
    [
        ({"schedule": "every day"}, "is not an EventBridge Scheduler expression"),
        ({"schedule": "rate(2 day)"}, "is not an EventBridge Scheduler expression"),
        ({"schedule": "cron(0 6 * * ?)"}, "is not an EventBridge Scheduler expression"),
        ({"schedule": "rate(1 day)", "time_zone": "Paris"}, "is not an IANA time zone"),
    ],
)
def test_refresh_settings_are_checked_at_synth(refresh: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_environment("dev", {"name_prefix": "ppoc-dev", "refresh": refresh})
    assert "field 'refresh." in str(raised.value) and says in str(raised.value)
