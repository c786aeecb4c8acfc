"""IAM statements that confine a principal to this POC's Personalize resources.

Every Personalize resource the POC makes is its dataset group, `<scope>`, or named `<scope>-...`,
where the scope is the dataset group's name, `<name_prefix>-<dataset group>` (personalize_poc/
poc_definition.py). So ARNs `arn:<partition>:personalize:<region>:<account>:dataset-group/<scope>`,
`...:<kind>/<scope>-...` and `...:dataset/<scope>/<TYPE>` identify them.

Why not `*/<name_prefix>-*`: it also covers every environment whose prefix extends this one
(`ppoc-dev-*` covers `ppoc-dev-eu-...`). A separator no prefix may contain would end the ambiguity
(botocore's Personalize `Name` pattern allows '_', which prefixes may not), but names are joined with
'-' (poc_definition.py) and renaming every resource is a change of its own. Anchored on the dataset
group's name, another environment's resources match only when its prefix extends this one *and* its
dataset group's name completes this one's (prefix `ppoc-dev-eu` with group `retail-x` against
`ppoc-dev` with `eu-retail`); settings.py rejects prefixes that extend each other, the first condition.

Event tracker ARNs carry a service-generated id instead of the name, and the List* actions do not
support resource-level permissions; both are acknowledged where they are granted.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import IConstruct
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn


def poc_resource_arns(scope: str) -> list[str]:
    """ARNs of the POC's Personalize resources; ``scope`` is the dataset group's name."""
    base = f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [
        f"{base}:dataset-group/{scope}",
        f"{base}:*/{scope}-*",
        f"{base}:dataset/{scope}/*",
        f"{base}:event-tracker/*",
    ]


# What lambdas/poc_steps/ensure_recommender.py calls on a domain dataset group's recommenders; their ARNs
# are `recommender/<scope>-<name>`, inside poc_resource_arns (tests/test_iam_static.py checks both ways).
RECOMMENDER_ACTIONS = [
    "personalize:CreateRecommender",
    "personalize:DescribeRecommender",
    "personalize:UpdateRecommender",
    "personalize:StartRecommender",
    "personalize:DeleteRecommender",
]
RECOMMENDER_LIST_ACTIONS = ["personalize:ListRecommenders"]

# What lambdas/poc_steps/ensure_segments.py and ensure_attribution.py call: batch segment jobs
# (`batch-segment-job/<scope>-<name>-<version id>`) and the metric attribution (`metric-attribution/<scope>-
# attribution`), inside poc_resource_arns. ListMetricAttributionMetrics is granted with the List actions:
# nothing documents it taking resource-level permissions (tests/test_iam_static.py checks both ways).
SEGMENT_ATTRIBUTION_ACTIONS = [
    "personalize:CreateBatchSegmentJob",
    "personalize:DescribeBatchSegmentJob",
    "personalize:CreateMetricAttribution",
    "personalize:DescribeMetricAttribution",
    "personalize:UpdateMetricAttribution",
    "personalize:DeleteMetricAttribution",
]
SEGMENT_ATTRIBUTION_LIST_ACTIONS = [
    "personalize:ListBatchSegmentJobs",
    "personalize:ListMetricAttributions",
    "personalize:ListMetricAttributionMetrics",
]


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
    scope: str, actions: Sequence[str], *, list_actions: Sequence[str] = ()
) -> list[iam.PolicyStatement]:
    """``actions`` on the POC's resources (``scope``: the dataset group's name), ``list_actions`` on *."""
    statements = [iam.PolicyStatement(actions=list(actions), resources=poc_resource_arns(scope))]
    if list_actions:
        statements.append(iam.PolicyStatement(actions=list(list_actions), resources=["*"]))
    return statements


def acknowledge_poc_scope(policy_resource: IConstruct, scope: str, *, list_actions: Sequence[str] = ()) -> None:
    """Acknowledge the wildcards that `poc_statements` must use, each with its reason."""
    for arn in poc_resource_arns(scope):
        if "*" not in arn:
            continue
        reason = (
            "Scoped to this POC's resources by its dataset group's name (<name_prefix>-<group>); the names are "
            "chosen in the reviewed POC config and only exist after the workflow runs."
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
