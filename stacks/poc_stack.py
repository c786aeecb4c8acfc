"""One environment's Personalize POC: data bucket, roles, notebook, workflows and their outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.attribution_access import grant_metric_attribution
from constructs.cost_guard import CostGuard
from constructs.data_bucket import DataBucket
from constructs.data_jobs_access import DataJobsAccess
from constructs.notebook import PocNotebook
from constructs.personalize_access import action_groups_used
from constructs.personalize_role import PersonalizeServiceRole
from constructs.poc_monitoring import PocMonitoring
from constructs.poc_workflow import PocWorkflow
from constructs.scheduled_refresh import ScheduledRefresh
from constructs.step_functions import PocStepFunctions
from constructs.teardown_workflow import TeardownOnDelete, TeardownWorkflow
from constructs.upload_trigger import UploadTrigger
from constructs.workflow_parts import allow_publishing_with_key
from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import PocDefinition
from personalize_poc.settings import EnvironmentSettings


class PersonalizePocStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: EnvironmentSettings,
        poc: PocDefinition,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=settings.stack_name,
            description=f"Amazon Personalize proof of concept ({settings.name})",
            **kwargs,
        )
        for tag_key, tag_value in settings.tags.items():
            Tags.of(self).add(tag_key, tag_value)
        prefix = settings.name_prefix
        destroy = settings.data_bucket_removal == "destroy"
        retention = _retention_name(settings.log_retention_days)
        key = kms.Key.from_key_arn(self, "CustomerKey", settings.kms_key_arn) if settings.kms_key_arn else None

        data = DataBucket(self, "Data", destroy_on_removal=destroy, encryption_key=key)
        personalize_role = PersonalizeServiceRole(self, "PersonalizeRole", bucket=data.bucket, encryption_key=key)
        if poc.metric_attribution is not None:  # the role reports the attribution's metrics (attribution_access.py)
            grant_metric_attribution(
                personalize_role.policy, data.bucket, s3_reports=poc.metric_attribution.publish_to_s3
            )
        self.data = data
        self.personalize_role = personalize_role

        parameter_path = f"/{prefix}"
        published_path = f"{parameter_path}/poc"
        ssm.StringParameter(
            self,
            "BucketNameParameter",
            parameter_name=f"{parameter_path}/bucket-name",
            string_value=data.bucket.bucket_name,
            description="Data bucket of the Personalize POC",
        )
        ssm.StringParameter(  # read by `personalize-poc data export` and `data delete-users`
            self,
            "PersonalizeRoleArnParameter",
            parameter_name=f"{parameter_path}/personalize-role-arn",
            string_value=personalize_role.role.role_arn,
            description="Role Amazon Personalize assumes for the POC's data (imports, exports, deletions)",
        )

        topic = sns.Topic(
            self,
            "Notifications",
            display_name=f"Personalize POC {settings.name}",
            master_key=key or kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        if settings.notification_email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.notification_email))
        self.topic = topic

        workflow_name = f"{prefix}-poc-workflow"
        plan = build_plan(
            poc,
            config_dir=settings.poc_config_path.parent,
            name_prefix=prefix,
            bucket_name=data.bucket.bucket_name,
            role_arn=personalize_role.role.role_arn,
            kms_key_arn=settings.kms_key_arn,
            tags=settings.tags,
        )
        # IAM scope of the Personalize resources: the dataset group's name (constructs/personalize_access.py).
        personalize_scope = str(plan["datasetGroup"]["name"])
        steps = PocStepFunctions(
            self,
            "Steps",
            name_prefix=prefix,
            personalize_scope=personalize_scope,
            bucket=data.bucket,
            personalize_role=personalize_role.role,
            parameter_path=published_path,
            state_machine_name=workflow_name,
            log_retention=retention,
            destroy_logs=destroy,
            optional_groups=action_groups_used(poc),  # recommenders, segment jobs, attribution: if used
        )
        workflow = PocWorkflow(
            self,
            "Workflow",
            state_machine_name=workflow_name,
            plan=plan,
            poc=poc,
            functions=steps.as_mapping(),
            topic=topic,
            log_retention=retention,
            destroy_logs=destroy,
        )
        self.workflow = workflow
        ssm.StringParameter(
            self,
            "WorkflowArnParameter",
            parameter_name=f"{parameter_path}/workflow-arn",
            string_value=workflow.state_machine.state_machine_arn,
            description="State machine that builds the Personalize POC",
        )
        teardown = TeardownWorkflow(
            self,
            "Teardown",
            state_machine_name=f"{prefix}-poc-teardown",
            name_prefix=prefix,
            plan=plan,
            parameter_path=published_path,
            failure_function=steps.failure,
            topic=topic,
            log_retention=retention,
            destroy_logs=destroy,
        )
        self.teardown = teardown
        TeardownOnDelete(
            self,
            "TeardownOnDelete",
            teardown=teardown,
            name_prefix=prefix,
            enabled=settings.teardown_on_destroy,
            log_retention=retention,
            destroy_logs=destroy,
        )
        ssm.StringParameter(
            self,
            "TeardownArnParameter",
            parameter_name=f"{parameter_path}/teardown-arn",
            string_value=teardown.state_machine.state_machine_arn,
            description="State machine that deletes every Personalize resource of the POC",
        )
        if key is not None:
            for publisher in (workflow.state_machine, teardown.state_machine):
                allow_publishing_with_key(publisher, key.key_arn)
        if settings.auto_start_on_upload:
            # Starts on the upload-complete marker the upload command writes last, not on a data file.
            UploadTrigger(self, "StartOnUpload", bucket=data.bucket, state_machine=workflow.state_machine)

        notebook = PocNotebook(
            self,
            "Notebook",
            notebook_name=f"{prefix}-notebook",
            instance_type=settings.notebook.instance_type,
            volume_size_gb=settings.notebook.volume_size_gb,
            idle_stop_minutes=settings.notebook.idle_stop_minutes,
            encryption_key=key,
            poc_settings={
                "environment": settings.name,
                "name_prefix": prefix,
                "bucket": data.bucket.bucket_name,
                "personalize_role_arn": personalize_role.role.role_arn,
                "parameter_path": parameter_path,
                "published_parameter_path": published_path,
                "workflow_arn": workflow.state_machine.state_machine_arn,
                "report_uri": f"s3://{data.bucket.bucket_name}/reports/latest/report.json",
            },
        )
        notebook.allow_poc_work(
            bucket=data.bucket,
            name_prefix=personalize_scope,  # what its Personalize grants are scoped to
            parameter_path=parameter_path,
        )
        notebook.allow_teardown(teardown.state_machine, f"{prefix}-poc-teardown")
        self.notebook = notebook
        self.data_jobs = DataJobsAccess(  # for whoever runs `personalize-poc data export / delete-users`
            self,
            "DataJobsAccess",
            name_prefix=prefix,
            personalize_scope=personalize_scope,
            bucket=data.bucket,
            personalize_role=personalize_role.role,
            parameter_path=parameter_path,
        )
        self.refresh = ScheduledRefresh(
            self, "Refresh", settings=settings.refresh, workflow=workflow.state_machine, name_prefix=prefix
        )
        self.cost_guard = CostGuard(
            self,
            "CostGuard",
            settings=settings.cost_guard,
            name_prefix=prefix,
            personalize_scope=personalize_scope,
            topic=topic,
            encryption_key=key,
            log_retention=retention,
            destroy_logs=destroy,
        )
        self.monitoring = PocMonitoring(
            self,
            "Monitoring",
            environment=settings.name,
            name_prefix=prefix,
            settings=settings.monitoring,
            plan=plan,
            workflow=workflow.state_machine,
            teardown=teardown.state_machine,
            bucket=data.bucket,
            topic=topic,
        )

        if key is not None:
            _encrypt_log_groups(self, key)

        CfnOutput(self, "DataBucketName", value=data.bucket.bucket_name, description="Upload POC data here")
        CfnOutput(self, "PersonalizeRoleArn", value=personalize_role.role.role_arn)
        CfnOutput(self, "NotebookRoleArn", value=notebook.role.role_arn)
        CfnOutput(self, "NotebookName", value=notebook.notebook_name)
        CfnOutput(self, "NotebookUrl", value=notebook.url)
        CfnOutput(
            self,
            "WorkflowArn",
            value=workflow.state_machine.state_machine_arn,
            description="Start a run: make run ENV=" + settings.name,
        )
        CfnOutput(
            self,
            "TeardownArn",
            value=teardown.state_machine.state_machine_arn,
            description="Delete the POC's Personalize resources: make teardown ENV=" + settings.name,
        )
        CfnOutput(self, "NotificationTopicArn", value=topic.topic_arn)
        CfnOutput(
            self,
            "PublishedParameterPath",
            value=published_path,
            description="SSM path where each run publishes the ARNs it built",
        )


def _encrypt_log_groups(stack: Stack, key: kms.IKey) -> None:
    """Every log group of the stack (functions, state machines, the teardown provider) uses the customer
    key when one is configured. CloudWatch Logs uses the key as logs.<region>.amazonaws.com, so the key
    policy must allow that principal (README, "Customer managed key")."""
    for child in stack.node.find_all():
        if isinstance(child, logs.CfnLogGroup) and child.kms_key_id is None:
            child.kms_key_id = key.key_arn


def _retention_name(days: int) -> Any:
    names = {
        1: "ONE_DAY",
        3: "THREE_DAYS",
        5: "FIVE_DAYS",
        7: "ONE_WEEK",
        14: "TWO_WEEKS",
        30: "ONE_MONTH",
        60: "TWO_MONTHS",
        90: "THREE_MONTHS",
        120: "FOUR_MONTHS",
        150: "FIVE_MONTHS",
        180: "SIX_MONTHS",
        365: "ONE_YEAR",
        400: "THIRTEEN_MONTHS",
        545: "EIGHTEEN_MONTHS",
        731: "TWO_YEARS",
        1096: "THREE_YEARS",
        1827: "FIVE_YEARS",
        2192: "SIX_YEARS",
        2557: "SEVEN_YEARS",
        2922: "EIGHT_YEARS",
        3288: "NINE_YEARS",
        3653: "TEN_YEARS",
    }
    return getattr(logs.RetentionDays, names[days])
