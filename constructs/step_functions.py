"""The workflow's Lambda functions, one role each, every grant scoped to this POC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge_object_prefixes, acknowledge_wildcard_arn, cfn_of
from constructs.personalize_access import (
    ActionGroup,
    acknowledge_poc_scope,
    key_statement,
    poc_statements,
    read_prefixes_statements,
)
from constructs.poc_function import PocFunction
from personalize_poc.plan import BATCH_INPUT_PREFIX, IMPORT_PREFIX, REPORTS_PREFIX

ENSURE_ACTIONS = [
    "personalize:CreateDatasetGroup",
    "personalize:DescribeDatasetGroup",
    "personalize:DeleteDatasetGroup",
    "personalize:CreateSchema",
    "personalize:DescribeSchema",
    "personalize:CreateDataset",
    "personalize:DescribeDataset",
    "personalize:DeleteDataset",
    "personalize:CreateDatasetImportJob",
    "personalize:DescribeDatasetImportJob",
    "personalize:CreateSolution",
    "personalize:DescribeSolution",
    "personalize:UpdateSolution",
    "personalize:DeleteSolution",
    "personalize:CreateSolutionVersion",
    "personalize:DescribeSolutionVersion",
    "personalize:CreateCampaign",
    "personalize:DescribeCampaign",
    # Weighs a new solution version against the one in service before moving a campaign (promotion.py).
    "personalize:GetSolutionMetrics",
    "personalize:UpdateCampaign",
    "personalize:DeleteCampaign",
    "personalize:CreateFilter",
    "personalize:DescribeFilter",
    "personalize:DeleteFilter",
    "personalize:CreateEventTracker",
    "personalize:DescribeEventTracker",
    "personalize:DeleteEventTracker",
    "personalize:CreateBatchInferenceJob",
    "personalize:DescribeBatchInferenceJob",
    "personalize:TagResource",
]
LIST_ACTIONS = [
    "personalize:ListDatasetGroups",
    "personalize:ListSchemas",
    "personalize:ListDatasets",
    "personalize:ListDatasetImportJobs",
    "personalize:ListSolutions",
    "personalize:ListSolutionVersions",
    "personalize:ListCampaigns",
    "personalize:ListFilters",
    "personalize:ListEventTrackers",
    "personalize:ListBatchInferenceJobs",
]


class PocStepFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        personalize_scope: str,
        bucket: s3.IBucket,
        personalize_role: iam.IRole,
        parameter_path: str,
        state_machine_name: str,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
        optional_groups: Sequence[ActionGroup],
    ) -> None:
        """``optional_groups``: the recommender, segment job and attribution actions the POC definition
        uses (personalize_access.action_groups_used); the ensure role gets those and no others."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        def function(construct_id: str, handler: str, description: str, **kwargs: Any) -> PocFunction:
            return PocFunction(
                self,
                construct_id,
                handler=f"poc_steps.handlers.{handler}",
                description=description,
                service_name=f"{name_prefix}-workflow",
                log_retention=log_retention,
                destroy_logs=destroy_logs,
                **kwargs,
            )

        self.ensure = function("Ensure", "ensure_handler", "Finds, creates or reuses a Personalize resource")
        policy = iam.Policy(self, "EnsurePersonalize", roles=[self.ensure.role])
        # The optional groups join the same two statements: no statement more per group in the template.
        actions = [*ENSURE_ACTIONS, *(a for group in optional_groups for a in group.actions)]
        list_actions = [*LIST_ACTIONS, *(a for group in optional_groups for a in group.list_actions)]
        policy.add_statements(
            *poc_statements(personalize_scope, actions, list_actions=list_actions),
            _pass_role(personalize_role),
            *read_prefixes_statements(bucket, [IMPORT_PREFIX]),
        )
        acknowledge_poc_scope(cfn_of(policy), personalize_scope, list_actions=list_actions)
        acknowledge_object_prefixes(
            cfn_of(policy),
            bucket,
            [IMPORT_PREFIX],  # type: ignore[arg-type]
            "Reads the ETag of uploaded import files to name one import job per data version.",
        )

        self.guard = function("Guard", "guard_handler", "Stops a second concurrent run of the POC workflow")
        state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        executions_arn = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.guard.add_to_role(
            iam.PolicyStatement(actions=["states:ListExecutions"], resources=[state_machine_arn]),
            iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions_arn]),
        )
        acknowledge_wildcard_arn(
            cfn_of(self.guard.role.node.find_child("DefaultPolicy")),
            executions_arn,
            "Describes executions of this POC's own state machine only (execution names are generated).",
        )

        self.validate = function(
            "Validate",
            "validate_handler",
            "Checks uploaded data before any import starts",
            timeout=Duration.minutes(2),
            memory_size=512,
        )
        self.validate.add_to_role(*read_prefixes_statements(bucket, [IMPORT_PREFIX, BATCH_INPUT_PREFIX]))
        acknowledge_object_prefixes(
            cfn_of(self.validate.role.node.find_child("DefaultPolicy")),
            bucket,
            [IMPORT_PREFIX, BATCH_INPUT_PREFIX],
            "Reads the uploaded import files and batch inputs, whose names the user chooses.",
        )

        self.report = function(
            "Report",
            "report_handler",
            "Writes the run report and publishes ARNs",
            timeout=Duration.minutes(2),
            environment={"PARAMETER_PATH": parameter_path},
        )
        parameters_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{parameter_path.lstrip('/')}/*"
        )
        self.report.add_to_role(
            *poc_statements(personalize_scope, ["personalize:GetSolutionMetrics"]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{REPORTS_PREFIX}*")]),
            iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[parameters_arn]),
        )
        report_policy = cfn_of(self.report.role.node.find_child("DefaultPolicy"))
        acknowledge_poc_scope(report_policy, personalize_scope)  # type: ignore[arg-type]
        acknowledge_object_prefixes(
            report_policy,
            bucket,
            [REPORTS_PREFIX],  # type: ignore[arg-type]
            "Writes one report folder per execution under reports/.",
        )
        acknowledge_wildcard_arn(
            report_policy,  # type: ignore[arg-type]
            parameters_arn,
            "Publishes one parameter per resource the run built, under this POC's own path.",
        )
        if bucket.encryption_key is not None:
            key_arn = bucket.encryption_key.key_arn
            self.ensure.add_to_role(key_statement(key_arn, encrypt=False))
            self.validate.add_to_role(key_statement(key_arn, encrypt=False))
            self.report.add_to_role(key_statement(key_arn, encrypt=True))

        self.failure = function("Failure", "failure_handler", "Turns a caught error into the message users read")

    def as_mapping(self) -> dict[str, PocFunction]:
        return {
            "ensure": self.ensure,
            "guard": self.guard,
            "validate": self.validate,
            "report": self.report,
            "failure": self.failure,
        }


def _pass_role(role: iam.IRole) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
    )
