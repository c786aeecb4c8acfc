"""The POC's exploration notebook: a SageMaker notebook instance that stops itself when idle."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Aws, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn, bucket_arn_reference, cfn_of
from constructs.notebook_delivery import NotebookDelivery
from constructs.personalize_access import acknowledge_poc_scope, key_statement, poc_statements, recipe_arns

# What the shipped notebooks (notebooks/*.py) call on the POC's own resources, and nothing more
# (tests/test_notebook_delivery.py derives the calls from the notebooks and compares). They only read
# and query: a team that wants to create or change resources from the notebook adds the actions here.
NOTEBOOK_PERSONALIZE_ACTIONS = [
    "personalize:DescribeBatchInferenceJob",
    "personalize:DescribeCampaign",
    "personalize:DescribeDatasetImportJob",
    "personalize:DescribeFilter",
    "personalize:DescribeSolutionVersion",
    "personalize:GetRecommendations",
    "personalize:GetPersonalizedRanking",
    "personalize:PutEvents",
]
NOTEBOOK_LIST_ACTIONS = ["personalize:List*"]

# Runs every five minutes from cron; stops the instance when no kernel has been busy for the
# configured time. Uses only the Python standard library and the AWS CLI present on the instance.
_IDLE_STOP_SCRIPT = r"""
import json, ssl, subprocess, sys, time, urllib.request
from datetime import datetime, timezone
IDLE_SECONDS = int(sys.argv[1]) * 60
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with urllib.request.urlopen("https://localhost:8443/api/sessions", context=ctx, timeout=10) as resp:
    sessions = json.load(resp)
now = datetime.now(timezone.utc)
def idle_for(kernel):
    if kernel.get("execution_state") == "busy":
        return 0
    last = datetime.strptime(kernel["last_activity"], "%Y-%m-%dT%H:%M:%S.%fz").replace(tzinfo=timezone.utc)
    return (now - last).total_seconds()
uptime = time.clock_gettime(time.CLOCK_BOOTTIME)
idle = min((idle_for(s["kernel"]) for s in sessions), default=uptime)
if idle >= IDLE_SECONDS:
    name = json.load(open("/opt/ml/metadata/resource-metadata.json"))["ResourceName"]
    subprocess.run(["aws", "sagemaker", "stop-notebook-instance", "--notebook-instance-name", name], check=True)
"""


class PocNotebook(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        notebook_name: str,
        instance_type: str,
        volume_size_gb: int,
        idle_stop_minutes: int,
        encryption_key: kms.IKey | None,
        poc_settings: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.notebook_name = notebook_name
        self.role = iam.Role(
            self,
            "Role",
            description=f"Notebook {notebook_name}: explores the Personalize POC",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="StopsItselfWhenIdle",
                actions=["sagemaker:StopNotebookInstance", "sagemaker:DescribeNotebookInstance"],
                resources=[
                    Stack.of(self).format_arn(
                        service="sagemaker", resource="notebook-instance", resource_name=notebook_name.lower()
                    )
                ],
            )
        )

        # The POC notebooks (notebooks/*.py as .ipynb), delivered at every start without overwriting edits.
        self.delivery = NotebookDelivery(self, "Notebooks", home="/home/ec2-user/SageMaker", owner="ec2-user")
        self.delivery.allow_read(self.role)

        settings_json = Fn.to_json_string(dict(poc_settings))
        on_start = "\n".join(
            [
                "#!/bin/bash",
                "set -euo pipefail",
                "cat > /home/ec2-user/SageMaker/poc-config.json <<'POCJSON'",
                settings_json,
                "POCJSON",
                "chown ec2-user:ec2-user /home/ec2-user/SageMaker/poc-config.json",
                *self.delivery.lifecycle_lines,
                "cat > /home/ec2-user/poc-idle-stop.py <<'IDLESTOP'",
                _IDLE_STOP_SCRIPT.strip(),
                "IDLESTOP",
                f"echo '*/5 * * * * root /usr/bin/python3 /home/ec2-user/poc-idle-stop.py {idle_stop_minutes}"
                " >> /var/log/poc-idle-stop.log 2>&1' > /etc/cron.d/poc-idle-stop",
            ]
        )
        self.lifecycle = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Lifecycle",
            notebook_instance_lifecycle_config_name=f"{notebook_name}-lifecycle",
            on_start=[
                sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                    content=Fn.base64(on_start)
                )
            ],
        )
        self.instance = sagemaker.CfnNotebookInstance(
            self,
            "Instance",
            notebook_instance_name=notebook_name,
            instance_type=instance_type,
            volume_size_in_gb=volume_size_gb,
            role_arn=self.role.role_arn,
            root_access="Disabled",
            direct_internet_access="Enabled",
            kms_key_id=encryption_key.key_arn if encryption_key else None,
            lifecycle_config_name=self.lifecycle.attr_notebook_instance_lifecycle_config_name,
            platform_identifier="notebook-al2023-v1",
            # IMDSv2 only: a session token is needed to read the role's credentials from the instance
            # metadata service (AWS::SageMaker::NotebookInstance InstanceMetadataServiceConfiguration;
            # MinimumInstanceMetadataServiceVersion "1" allows v1 and v2, "2" only v2).
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version="2"
            ),
        )
        acknowledge(
            self.instance,
            "AwsSolutions-SM1",
            "A POC notebook outside a VPC avoids NAT gateway and endpoint costs; it holds no network-reachable "
            "service and its role only reaches the POC's bucket and Personalize resources.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-SM3",
            "Without a VPC the notebook needs direct internet access to install the POC's Python packages.",
        )
        if encryption_key is None:
            acknowledge(
                self.instance,
                "AwsSolutions-SM2",
                "SageMaker encrypts the notebook's ML storage volume with an AWS managed key by default; set "
                "kms_key_arn in the environment to use a customer managed key instead.",
            )

    def allow_poc_work(self, *, bucket: s3.IBucket, name_prefix: str, parameter_path: str) -> None:
        """What the POC notebooks do: read POC data and reports, describe and query this POC's Personalize
        resources, send events, read the published parameters. Nothing account-wide, nothing they don't call."""
        policy = iam.Policy(self, "PocAccess", roles=[self.role])
        stack = Stack.of(self)
        parameters_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{parameter_path.lstrip('/')}/*"
        )
        policy.add_statements(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                resources=[
                    stack.format_arn(service="ssm", resource="parameter", resource_name=parameter_path.lstrip("/")),
                    parameters_arn,
                ],
            ),
            *poc_statements(
                name_prefix,
                NOTEBOOK_PERSONALIZE_ACTIONS,
                list_actions=NOTEBOOK_LIST_ACTIONS,
            ),
            iam.PolicyStatement(actions=["personalize:DescribeRecipe"], resources=recipe_arns()),
        )
        if bucket.encryption_key is not None:
            policy.add_statements(key_statement(bucket.encryption_key.key_arn, encrypt=False))
        resource = cfn_of(policy)
        acknowledge_poc_scope(resource, name_prefix, list_actions=NOTEBOOK_LIST_ACTIONS)  # type: ignore[arg-type]
        acknowledge(
            resource,  # type: ignore[arg-type]
            f"AwsSolutions-IAM5[Resource::{bucket_arn_reference(bucket)}/*]",
            "The notebooks upload data, read batch output and reports anywhere in the POC's own bucket.",
        )
        acknowledge_wildcard_arn(
            resource,  # type: ignore[arg-type]
            recipe_arns()[0],
            "Recipes are AWS-owned and read-only; the notebooks compare several of them.",
        )
        acknowledge_wildcard_arn(
            resource,  # type: ignore[arg-type]
            parameters_arn,
            "Reads the parameters this POC publishes under its own path (their names depend on the config).",
        )
        for action in NOTEBOOK_PERSONALIZE_ACTIONS:
            if action.endswith("*"):
                acknowledge(
                    resource,  # type: ignore[arg-type]
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "The notebook is the POC's hands-on environment (create, evaluate, clean up); every "
                    "action is confined to the POC's own resource ARNs.",
                )
        self.poc_policy = policy

    def allow_teardown(self, state_machine: sfn.IStateMachine, state_machine_name: str) -> None:
        """Notebook 05 starts the teardown workflow and reads the execution's status."""
        stack = Stack.of(self)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        policy = iam.Policy(
            self,
            "TeardownAccess",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine.state_machine_arn]),
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions]),
            ],
        )
        acknowledge_wildcard_arn(
            cfn_of(policy),
            executions,
            "Reads the status of this POC's own teardown executions; execution names are generated per run.",
        )

    @property
    def url(self) -> str:
        return f"https://{self.notebook_name}.notebook.{Aws.REGION}.sagemaker.aws/tree"
