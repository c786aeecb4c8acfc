"""Pieces both state machines (build and teardown) share: the failure path and the logged, traced
Standard state machine."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge, cfn_of
from constructs.poc_function import PocFunction, log_group
from constructs.readable_definition import LineByLineDefinition


def catch_notify_fail(
    scope: Construct,
    body: sfn.Parallel,
    *,
    failure_function: PocFunction,
    topic: sns.ITopic,
    names: tuple[str, str, str],
    subject: str | None = None,
) -> None:
    """Any error in `body`: described by the failure Lambda, published to the topic, and the execution
    fails with that error and cause. `names` are the three states' names; `subject` defaults to the
    failure Lambda's (which names the error)."""
    describe_name, notify_name, fail_name = names
    describe = tasks.LambdaInvoke(
        scope,
        describe_name,
        lambda_function=failure_function.alias,
        # An object, not from_json_path_at: with payload_response_only that renders "Parameters": "$.caught",
        # which Step Functions rejects (Parameters must be an object).
        payload=sfn.TaskInput.from_object(
            {"Error": sfn.JsonPath.string_at("$.caught.Error"), "Cause": sfn.JsonPath.string_at("$.caught.Cause")}
        ),
        payload_response_only=True,
        result_path="$.failure",
    )
    notify = tasks.SnsPublish(
        scope,
        notify_name,
        topic=topic,
        subject=subject or sfn.JsonPath.string_at("$.failure.subject"),
        message=sfn.TaskInput.from_json_path_at("$.failure.cause"),
        result_path=sfn.JsonPath.DISCARD,
    )
    failed = sfn.Fail(scope, fail_name, error_path="$.failure.error", cause_path="$.failure.cause")
    body.add_catch(describe.next(notify).next(failed), errors=["States.ALL"], result_path="$.caught")


def logged_state_machine(
    scope: Construct,
    *,
    state_machine_name: str,
    definition: sfn.IChainable,
    timeout: Duration,
    log_retention: logs.RetentionDays,
    destroy_logs: bool,
) -> tuple[sfn.StateMachine, logs.LogGroup]:
    """A Standard state machine with its own log group (ALL, with execution data) and X-Ray tracing."""
    logs_of_runs = log_group(scope, "Logs", retention=log_retention, destroy=destroy_logs)
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=state_machine_name,
        definition_body=LineByLineDefinition(definition),  # readable in cdk diff
        state_machine_type=sfn.StateMachineType.STANDARD,
        timeout=timeout,
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=logs_of_runs, level=sfn.LogLevel.ALL, include_execution_data=True),
    )
    acknowledge(
        cfn_of(state_machine.role.node.find_child("DefaultPolicy")),
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends) do not support "
        "resource-level permissions; Lambda invocations are granted on the 'live' aliases only.",
    )
    return state_machine, logs_of_runs


def allow_publishing_with_key(state_machine: sfn.StateMachine, key_arn: str) -> None:
    """A topic encrypted with a customer managed key: publishers need kms:GenerateDataKey* and
    kms:Decrypt on the key (SNS developer guide, "Encryption at rest: Key management", permissions for
    publishers). Without them every notification - success and failure - fails."""
    state_machine.add_to_role_policy(
        iam.PolicyStatement(actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=[key_arn])
    )
    acknowledge(
        cfn_of(state_machine.role.node.find_child("DefaultPolicy")),
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "SNS asks publishers of an encrypted topic for kms:GenerateDataKey* on the topic's key (one key only).",
    )
