"""What the Personalize service role needs for a metric attribution, granted only when the POC has one.

"Guidelines and requirements for a metric attribution": "You must grant Amazon Personalize permission to
access and put data in CloudWatch" ("Giving Amazon Personalize access to CloudWatch") and, to publish
reports to Amazon S3, "give Amazon Personalize permission to write to your bucket" ("Giving Amazon
Personalize access to your Amazon S3 bucket": the role's policy and the bucket policy). CloudWatch
PutMetricData has no resource-level permissions (Service Authorization Reference, Amazon CloudWatch),
hence its `*`.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs.data_bucket import PERSONALIZE_PRINCIPAL
from constructs.nag_acknowledgments import acknowledge, acknowledge_object_prefixes, cfn_of
from personalize_poc.attribution import ATTRIBUTION_OUTPUT_PREFIX


def grant_metric_attribution(policy: iam.Policy, bucket: s3.IBucket, *, s3_reports: bool) -> None:
    """CloudWatch metrics and, with ``s3_reports``, PutObject under metric-attribution/ for the role in
    ``policy`` (the Personalize service role) and the Personalize principal in the bucket policy."""
    policy.add_statements(iam.PolicyStatement(actions=["cloudwatch:PutMetricData"], resources=["*"]))
    acknowledge(
        cfn_of(policy),
        "AwsSolutions-IAM5[Resource::*]",
        "cloudwatch:PutMetricData does not support resource-level permissions; Amazon Personalize sends the "
        "metric attribution's metrics to CloudWatch with this role.",
    )
    if not s3_reports:
        return
    reports = bucket.arn_for_objects(f"{ATTRIBUTION_OUTPUT_PREFIX}*")
    policy.add_statements(iam.PolicyStatement(actions=["s3:PutObject"], resources=[reports]))
    acknowledge_object_prefixes(
        cfn_of(policy),
        bucket,
        [ATTRIBUTION_OUTPUT_PREFIX],
        "Personalize writes the metric attribution's reports under metric-attribution/ with keys it chooses.",
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="PersonalizeWritesAttributionReports",
            principals=[iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)],
            actions=["s3:PutObject"],
            resources=[reports],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
