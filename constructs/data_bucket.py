"""The POC's data bucket, its access-log bucket and the bucket policy for the Personalize service."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from personalize_poc.plan import BATCH_INPUT_PREFIX, BATCH_OUTPUT_PREFIX, DELETION_PREFIX, EXPORT_PREFIX, IMPORT_PREFIX

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"


class DataBucket(Construct):
    """Versioned, encrypted, TLS-only bucket for POC data; Personalize may read imports and batch
    input and write batch output, and only on behalf of this account."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        destroy_on_removal: bool,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if destroy_on_removal else RemovalPolicy.RETAIN

        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery does not support SSE-KMS targets
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,  # access logs are evidence: an overwrite or delete keeps the earlier version
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(30),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=destroy_on_removal,
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key,
            bucket_key_enabled=bool(encryption_key),
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=destroy_on_removal,
        )
        self._grant_personalize_service()

    def _grant_personalize_service(self) -> None:
        principal = iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)
        same_account = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
        # ListBucket on the whole bucket: the prefixes the service lists with (imports, batch input and
        # batch output) are not documented, and the guide's bucket policy grants it on the bucket
        # ("Giving Amazon Personalize access to Amazon S3 resources"; "Dataset export job permissions
        # requirements" asks for ListBucket on an output bucket too). Object access stays per prefix.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeListsBucket",
                principals=[principal],
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions=same_account,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeReadsImportAndBatchInput",
                principals=[principal],
                actions=["s3:GetObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{IMPORT_PREFIX}*"),
                    self.bucket.arn_for_objects(f"{BATCH_INPUT_PREFIX}*"),
                    # user id lists of data deletion jobs ("Deleting users": as for imports)
                    self.bucket.arn_for_objects(f"{DELETION_PREFIX}*"),
                ],
                conditions=same_account,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeWritesBatchOutput",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[
                    self.bucket.arn_for_objects(f"{BATCH_OUTPUT_PREFIX}*"),
                    # dataset export jobs ("Dataset export job permissions requirements": a bucket policy
                    # granting the Personalize principal PutObject and ListBucket)
                    self.bucket.arn_for_objects(f"{EXPORT_PREFIX}*"),
                ],
                conditions=same_account,
            )
        )
