"""A customer managed policy with exactly what `personalize-poc data export` and `personalize-poc data
delete-users` call, to attach to the people (or the CI role) who run them instead of granting more.

What the commands call (personalize_poc/data/data_jobs.py, export.py, delete_users.py):
- ssm:GetParameter on the three parameters they read (bucket, Personalize role, dataset group);
- personalize:ListDatasets, and for delete-users' check of work in progress ListDatasetImportJobs,
  ListSolutions, ListSolutionVersions, ListBatchInferenceJobs, ListBatchSegmentJobs, ListRecommenders
  (List actions support no resource-level permissions: ``*``);
- personalize:CreateDatasetExportJob / DescribeDatasetExportJob and CreateDataDeletionJob /
  DescribeDataDeletionJob on the POC's jobs (named ``<dataset group>-...``), its datasets and its dataset
  group; personalize:TagResource for the environment's tags on them (Service Authorization Reference,
  "Actions, resources, and condition keys for Amazon Personalize": tags on a Create need TagResource);
- iam:PassRole on the Personalize role, only to personalize.amazonaws.com (every Create with a roleArn);
- s3:PutObject under deletions/ (the user id list; uploaded with SSE-S3, so no KMS permission) and
  s3:ListBucket for exports/ only (listing what an export wrote).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge, acknowledge_object_prefixes, acknowledge_wildcard_arn, cfn_of
from personalize_poc.plan import DELETION_PREFIX, EXPORT_PREFIX

JOB_ACTIONS = [
    "personalize:CreateDatasetExportJob",
    "personalize:DescribeDatasetExportJob",
    "personalize:CreateDataDeletionJob",
    "personalize:DescribeDataDeletionJob",
    "personalize:TagResource",
]
# List actions support no resource-level permissions. Beyond ListDatasets (export): what delete-users reads
# to find work in progress in the dataset group before it starts.
LIST_ACTIONS = [
    "personalize:ListDatasets",
    "personalize:ListDatasetImportJobs",
    "personalize:ListSolutions",
    "personalize:ListSolutionVersions",
    "personalize:ListBatchInferenceJobs",
    "personalize:ListBatchSegmentJobs",
    "personalize:ListRecommenders",
]
PARAMETERS = ("bucket-name", "personalize-role-arn", "poc/dataset-group-arn")


class DataJobsAccess(Construct):
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
    ) -> None:
        super().__init__(scope, construct_id)
        base = f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        jobs = [
            f"{base}:dataset-export-job/{personalize_scope}-*",
            f"{base}:data-deletion-job/{personalize_scope}-*",
            f"{base}:dataset/{personalize_scope}/*",
        ]
        parameters = [
            f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{parameter_path}/{name}"
            for name in PARAMETERS
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=f"{name_prefix}-data-jobs",
            description="personalize-poc data export / data delete-users: exactly what the two commands call",
            statements=[
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=parameters),
                iam.PolicyStatement(actions=LIST_ACTIONS, resources=["*"]),
                iam.PolicyStatement(
                    actions=JOB_ACTIONS, resources=[*jobs, f"{base}:dataset-group/{personalize_scope}"]
                ),
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[personalize_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{DELETION_PREFIX}*")]
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{EXPORT_PREFIX}*"]}},
                ),
            ],
        )
        resource = cfn_of(self.policy)
        for arn in jobs:
            acknowledge_wildcard_arn(
                resource, arn, "The commands name every job <dataset group>-<what>-<time>: new names on every run."
            )
        acknowledge(
            resource,
            "AwsSolutions-IAM5[Resource::*]",
            "Personalize List actions support no resource-level permissions in IAM; they only list names and status.",
        )
        acknowledge_object_prefixes(
            resource, bucket, [DELETION_PREFIX], "Each deletion list gets a new key under deletions/ (the job's name)."
        )
        CfnOutput(
            scope,
            "DataJobsPolicyArn",
            value=self.policy.managed_policy_arn,
            description="Attach to whoever runs personalize-poc data export / data delete-users",
        )
