"""IAM statements that confine a principal to this POC's Personalize resources.

Every Personalize resource the POC makes is named `<name_prefix>-...`, so ARNs of the form
`arn:<partition>:personalize:<region>:<account>:<kind>/<name_prefix>-...` identify them. Event tracker
ARNs carry a service-generated id instead of the name, and the List* actions do not support
resource-level permissions; both are acknowledged where they are granted.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import IConstruct
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn


def poc_resource_arns(name_prefix: str) -> list[str]:
    base = f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [f"{base}:*/{name_prefix}-*", f"{base}:event-tracker/*"]


def recipe_arns() -> list[str]:
    return [f"arn:{Aws.PARTITION}:personalize:::recipe/*"]


def read_prefixes_statements(bucket: s3.IBucket, prefixes: Sequence[str]) -> list[iam.PolicyStatement]:
    """Read objects under these prefixes. ListBucket is limited to them too; without it a missing object
    reads as 403 instead of 404."""
    return [
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        ),
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        ),
    ]


def key_statement(key_arn: str, *, encrypt: bool) -> iam.PolicyStatement:
    """Explicit KMS actions for the customer key (grant_* helpers add wildcard actions)."""
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if encrypt else [])
    return iam.PolicyStatement(actions=actions, resources=[key_arn])


def poc_statements(
    name_prefix: str, actions: Sequence[str], *, list_actions: Sequence[str] = ()
) -> list[iam.PolicyStatement]:
    statements = [iam.PolicyStatement(actions=list(actions), resources=poc_resource_arns(name_prefix))]
    if list_actions:
        statements.append(iam.PolicyStatement(actions=list(list_actions), resources=["*"]))
    return statements


def acknowledge_poc_scope(policy_resource: IConstruct, name_prefix: str, *, list_actions: Sequence[str] = ()) -> None:
    """Acknowledge the wildcards that `poc_statements` must use, each with its reason."""
    for arn in poc_resource_arns(name_prefix):
        reason = (
            "Scoped to this POC's resources by the environment's name prefix; the names are chosen in the "
            "reviewed POC config and only exist after the workflow runs."
            if "event-tracker" not in arn
            else "Event tracker ARNs carry a service-generated id, not the name, so they cannot be scoped by "
            "prefix; the account's event trackers belong to the POC's dataset groups."
        )
        acknowledge_wildcard_arn(policy_resource, arn, reason)
    if list_actions:
        acknowledge(
            policy_resource,
            "AwsSolutions-IAM5[Resource::*]",
            f"{', '.join(sorted(list_actions))} do not support resource-level permissions in IAM.",
        )
        for action in list_actions:
            if action.endswith("*"):
                acknowledge(
                    policy_resource,
                    f"AwsSolutions-IAM5[Action::{action}]",
                    "Read-only listing; List actions cannot be scoped to resources anyway.",
                )
