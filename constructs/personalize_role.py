"""The role Amazon Personalize assumes to read imports and batch input and write batch output."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.data_bucket import PERSONALIZE_PRINCIPAL
from constructs.nag_acknowledgments import acknowledge_object_prefixes, cfn_of
from personalize_poc.plan import BATCH_INPUT_PREFIX, BATCH_OUTPUT_PREFIX, DELETION_PREFIX, EXPORT_PREFIX, IMPORT_PREFIX

PERSONALIZE_ROLE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ListGrants"]


class PersonalizeServiceRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        encryption_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Personalize to import POC data and run batch inference",
            assumed_by=iam.ServicePrincipal(
                PERSONALIZE_PRINCIPAL,
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        policy = iam.Policy(self, "DataAccess", roles=[self.role])
        policy.add_statements(
            # The whole bucket: the prefixes the service lists with for imports, batch input and batch
            # output are not documented ("Giving Amazon Personalize access to Amazon S3 resources" grants
            # ListBucket on the bucket). Objects stay confined to their prefixes below.
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            # deletions/: the user id lists of `personalize-poc data delete-users` ("Deleting users": the
            # role needs GetObject and ListBucket, "the same as importing data").
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[
                    bucket.arn_for_objects(f"{prefix}*")
                    for prefix in (IMPORT_PREFIX, BATCH_INPUT_PREFIX, DELETION_PREFIX)
                ],
            ),
            # exports/: `personalize-poc data export` ("Dataset export job permissions requirements": the
            # role needs PutObject and ListBucket).
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in (BATCH_OUTPUT_PREFIX, EXPORT_PREFIX)],
            ),
        )
        if encryption_key is not None:
            # "Giving Amazon Personalize permission to use your AWS KMS key": the role's policy must allow
            # Decrypt, GenerateDataKey, DescribeKey and ListGrants (CreateGrant is needed in the key
            # policy only).
            policy.add_statements(
                iam.PolicyStatement(
                    actions=PERSONALIZE_ROLE_KEY_ACTIONS,
                    resources=[encryption_key.key_arn],
                )
            )
        self.policy = policy
        acknowledge_object_prefixes(
            cfn_of(policy),
            bucket,
            [IMPORT_PREFIX, BATCH_INPUT_PREFIX, BATCH_OUTPUT_PREFIX, DELETION_PREFIX, EXPORT_PREFIX],
            "Personalize reads every object under the import, batch-input and deletions prefixes and writes "
            "batch results and dataset exports under batch-output and exports; object keys are chosen by the "
            "user or the service, so a prefix wildcard is the narrowest grant.",
        )
