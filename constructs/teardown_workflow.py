"""The teardown workflow and the custom resource that runs it when the stack is deleted.

Levels, each polled until nothing of it is left before the next starts:
    running batch jobs awaited -> campaigns (and recommenders) -> event trackers, filters, metric
    attributions -> training stopped -> solutions -> datasets -> dataset group -> the POC's schemas
    -> published SSM parameters
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, CustomResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr

from constructs import Construct
from constructs.ensure_step import EnsureAndWait, add_step_retries
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn, cfn_of
from constructs.personalize_access import acknowledge_poc_scope, poc_statements
from constructs.poc_function import PocFunction, log_group
from constructs.workflow_parts import catch_notify_fail, logged_state_machine

# What lambdas/poc_steps/teardown.py calls (tests/test_iam_static.py checks both ways): it finds
# resources by List calls and describes only the dataset group.
# Every kind, whatever the POC definition has: the teardown lists what is in the dataset group (named in
# the plan), not what the definition names, so it meets what an earlier definition made (recommenders,
# segment jobs, an attribution since dropped from the config). The ensure role narrows
# (personalize_access.action_groups_used); this one must not, or those leftovers would stay and bill.
TEARDOWN_ACTIONS = [
    "personalize:DescribeDatasetGroup",
    "personalize:DeleteDatasetGroup",
    "personalize:DeleteSchema",
    "personalize:DeleteDataset",
    "personalize:DeleteSolution",
    "personalize:StopSolutionVersionCreation",
    "personalize:DeleteCampaign",
    "personalize:DeleteRecommender",
    "personalize:DeleteFilter",
    "personalize:DeleteEventTracker",
    "personalize:DeleteMetricAttribution",
]
TEARDOWN_LIST_ACTIONS = [
    "personalize:ListDatasetGroups",
    "personalize:ListSchemas",
    "personalize:ListDatasets",
    "personalize:ListSolutions",
    "personalize:ListSolutionVersions",
    "personalize:ListCampaigns",
    "personalize:ListRecommenders",
    "personalize:ListFilters",
    "personalize:ListEventTrackers",
    "personalize:ListMetricAttributions",
    "personalize:ListBatchInferenceJobs",
    "personalize:ListBatchSegmentJobs",
]
# (level, first poll interval seconds, timeout minutes): deletions take minutes; running batch jobs can
# take hours. Intervals grow with the time waited (lambdas/poc_steps/polling.py), so a slow level stays
# a bounded number of checks in the execution's history.
LEVELS: list[tuple[str, int, int]] = [
    ("batch_jobs", 60, 240),
    ("campaigns", 30, 60),
    ("trackers_and_filters", 15, 30),
    ("solution_versions", 30, 60),
    ("solutions", 15, 30),
    ("datasets", 15, 30),
    ("dataset_group", 15, 30),
    ("schemas", 10, 10),
]
# The provider framework allows at most two hours; the levels above normally take minutes.
TEARDOWN_ON_DELETE_TIMEOUT = Duration.hours(2)
# Every level can reach its own timeout (a Fail the Catch turns into a notification) before the
# execution's timeout, which nothing catches.
TEARDOWN_TIMEOUT = Duration.minutes(sum(minutes for _, _, minutes in LEVELS) + 60)


class TeardownWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        name_prefix: str,
        plan: Mapping[str, Any],
        parameter_path: str,
        failure_function: PocFunction,
        topic: sns.ITopic,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.state_machine_name = state_machine_name
        self.function = PocFunction(
            self,
            "Function",
            handler="poc_steps.handlers.teardown_handler",
            description="Deletes the POC's Personalize resources, one level at a time",
            service_name=f"{name_prefix}-teardown",
            log_retention=log_retention,
            destroy_logs=destroy_logs,
            environment={"PARAMETER_PATH": parameter_path},
        )
        policy = iam.Policy(self, "TeardownPersonalize", roles=[self.function.role])
        personalize_scope = str(plan["datasetGroup"]["name"])  # IAM scope (constructs/personalize_access.py)
        parameters_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{parameter_path.lstrip('/')}/*"
        )
        policy.add_statements(
            *poc_statements(personalize_scope, TEARDOWN_ACTIONS, list_actions=TEARDOWN_LIST_ACTIONS),
            iam.PolicyStatement(
                actions=["ssm:GetParametersByPath"],
                resources=[
                    stack.format_arn(service="ssm", resource="parameter", resource_name=parameter_path.lstrip("/")),
                ],
            ),
            iam.PolicyStatement(actions=["ssm:DeleteParameters"], resources=[parameters_arn]),
        )
        acknowledge_poc_scope(
            cfn_of(policy),
            personalize_scope,  # type: ignore[arg-type]
            list_actions=TEARDOWN_LIST_ACTIONS,
        )
        acknowledge_wildcard_arn(
            cfn_of(policy),
            parameters_arn,
            "Deletes the parameters the POC workflow published under its own path.",
        )

        teardown_plan = {
            "datasetGroup": {"name": plan["datasetGroup"]["name"]},
            "datasets": [{"name": d["name"]} for d in plan["datasets"]],
        }
        config = sfn.Pass(self, "Teardown config", result=sfn.Result.from_object(teardown_plan), result_path="$.config")
        chain: sfn.Chain | None = None
        for level, interval, timeout_minutes in LEVELS:
            step = EnsureAndWait(
                self,
                _title(level),
                function=self.function.alias,
                kind=level,
                spec_path="$.config",
                refs={"previouslyDeleted": f"$.levels.{level}.deleted"},
                result_path=f"$.levels.{level}",
                interval_seconds=interval,
                timeout_seconds=timeout_minutes * 60,
                initial={"deleted": []},
            )
            chain = step if chain is None else chain.next(step)  # type: ignore[assignment]
        parameters = tasks.LambdaInvoke(
            self,
            "Published parameters",
            lambda_function=self.function.alias,
            payload=sfn.TaskInput.from_object({"kind": "parameters", "spec": {}, "attempt": 1}),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.levels.parameters",
        )
        add_step_retries(parameters)
        summary = sfn.Pass(
            self,
            "Deleted",
            parameters={
                "deleted": {
                    level: sfn.JsonPath.string_at(f"$.levels.{level}.deleted")
                    for level, _, _ in [*LEVELS, ("parameters", 0, 0)]
                },
            },
        )
        assert chain is not None
        body = sfn.Parallel(self, "Tear down", output_path="$[0]")
        body.branch(chain.next(parameters).next(summary))

        catch_notify_fail(
            self,
            body,
            failure_function=failure_function,
            topic=topic,
            names=("Describe teardown failure", "Notify teardown failure", "Teardown failed"),
            subject="Personalize POC teardown failed",
        )
        self.state_machine, self.log_group = logged_state_machine(
            self,
            state_machine_name=state_machine_name,
            definition=config.next(body).next(sfn.Succeed(self, "Nothing left")),
            timeout=TEARDOWN_TIMEOUT,
            log_retention=log_retention,
            destroy_logs=destroy_logs,
        )


class TeardownOnDelete(Construct):
    """Stack deletion runs the teardown workflow and waits for it (opt out per environment)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        teardown: TeardownWorkflow,
        name_prefix: str,
        enabled: bool,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        on_event = PocFunction(
            self,
            "OnEvent",
            handler="poc_steps.handlers.teardown_on_event_handler",
            description="Starts the POC teardown when the stack is deleted",
            service_name=f"{name_prefix}-teardown",
            log_retention=log_retention,
            destroy_logs=destroy_logs,
        )
        is_complete = PocFunction(
            self,
            "IsComplete",
            handler="poc_steps.handlers.teardown_is_complete_handler",
            description="Reports whether the POC teardown has finished",
            service_name=f"{name_prefix}-teardown",
            log_retention=log_retention,
            destroy_logs=destroy_logs,
        )
        teardown.state_machine.grant_start_execution(on_event.role)
        state_machine_name = teardown.state_machine_name
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        is_complete.add_to_role(iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]))

        provider_logs = log_group(self, "ProviderLogs", retention=log_retention, destroy=destroy_logs)
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=on_event.alias,
            is_complete_handler=is_complete.alias,
            query_interval=Duration.minutes(1),
            total_timeout=TEARDOWN_ON_DELETE_TIMEOUT,
            log_group=provider_logs,
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::PersonalizePocTeardown",
            properties={
                "TeardownStateMachineArn": teardown.state_machine.state_machine_arn,
                "NamePrefix": name_prefix,
                "Enabled": "true" if enabled else "false",
            },
        )
        # Deleted before the teardown workflow, its functions and roles, which it needs to run.
        self.resource.node.add_dependency(teardown)
        self._acknowledge_provider(provider, executions_arn=executions, is_complete=is_complete)

    def _acknowledge_provider(self, provider: cr.Provider, *, executions_arn: str, is_complete: PocFunction) -> None:
        acknowledge_wildcard_arn(
            cfn_of(is_complete.role.node.find_child("DefaultPolicy")),
            executions_arn,
            "Follows the teardown executions of this POC's own state machine (names are generated).",
        )
        reason = (
            "Framework function generated by aws-cdk-lib's custom resource provider; CDK owns its "
            "runtime and policies, and it can only invoke this construct's two handler aliases."
        )
        for rule in (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AwsSolutions-IAM5[Resource::*]",
            "AwsSolutions-L1",
            "AwsSolutions-SF1",
            "AwsSolutions-SF2",
        ):
            acknowledge(provider, rule, reason)
        stack = Stack.of(self)
        for child in provider.node.find_all():
            if isinstance(child, lambda_.CfnFunction) and "framework" in child.node.path:
                logical_id = stack.resolve(stack.get_logical_id(child))
                acknowledge(
                    provider,
                    f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                    "The provider's waiter state machine invokes its own framework functions (any version).",
                )


def _title(level: str) -> str:
    return level.replace("_", " ").capitalize()
