"""One environment's Personalize POC: data bucket, roles, notebook, workflows and their outputs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.data_bucket import DataBucket
from constructs.notebook import PocNotebook
from constructs.personalize_role import PersonalizeServiceRole
from personalize_poc.settings import EnvironmentSettings


class PersonalizePocStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings, **kwargs) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=settings.stack_name,
            description=f"Amazon Personalize proof of concept ({settings.name})",
            **kwargs,
        )
        for key, value in settings.tags.items():
            Tags.of(self).add(key, value)
        prefix = settings.name_prefix
        key = kms.Key.from_key_arn(self, "CustomerKey", settings.kms_key_arn) if settings.kms_key_arn else None

        data = DataBucket(
            self, "Data", destroy_on_removal=settings.data_bucket_removal == "destroy", encryption_key=key
        )
        personalize_role = PersonalizeServiceRole(self, "PersonalizeRole", bucket=data.bucket, encryption_key=key)
        self.data = data
        self.personalize_role = personalize_role

        parameter_path = f"/{prefix}"
        ssm.StringParameter(
            self,
            "BucketNameParameter",
            parameter_name=f"{parameter_path}/bucket-name",
            string_value=data.bucket.bucket_name,
            description="Data bucket of the Personalize POC",
        )

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
            },
        )
        notebook.allow_poc_work(
            bucket=data.bucket,
            personalize_role=personalize_role.role,
            name_prefix=prefix,
            parameter_path=parameter_path,
        )
        self.notebook = notebook


        CfnOutput(self, "DataBucketName", value=data.bucket.bucket_name, description="Upload POC data here")
        CfnOutput(self, "PersonalizeRoleArn", value=personalize_role.role.role_arn)
        CfnOutput(self, "NotebookRoleArn", value=notebook.role.role_arn)
        CfnOutput(self, "NotebookName", value=notebook.notebook_name)
        CfnOutput(self, "NotebookUrl", value=notebook.url)
