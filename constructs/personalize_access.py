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

Recommenders, batch segment jobs and a metric attribution are optional in a POC definition: the roles that
create resources get their actions (`ActionGroup`) only when the definition has them. The teardown's role
holds the List and Delete actions of every kind whatever the definition says: it must remove what an
earlier definition made (constructs/teardown_workflow.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import IConstruct
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn
from personalize_poc.poc_definition import PocDefinition


def poc_resource_arns(scope: str) -> list[str]:
    """ARNs of the POC's Personalize resources; ``scope`` is the dataset group's name."""
    base = f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    return [
        f"{base}:dataset-group/{scope}",
        f"{base}:*/{scope}-*",
        f"{base}:dataset/{scope}/*",
        f"{base}:event-tracker/*",
    ]


@dataclass(frozen=True)
class ActionGroup:
    """The Personalize actions the ensure steps call on one kind of resource a POC definition may or may
    not have: ``actions`` on the POC's resources (inside poc_resource_arns), ``list_actions`` on ``*``."""

    kind: str  # the ensure step's kind (lambdas/poc_steps/ensure.py, ENSURE)
    actions: tuple[str, ...]
    list_actions: tuple[str, ...]


# What lambdas/poc_steps/ensure_recommender.py calls on a domain dataset group's recommenders; their ARNs
# are `recommender/<scope>-<name>` (tests/test_iam_static.py checks both ways).
RECOMMENDERS = ActionGroup(
    "recommender",
    (
        "personalize:CreateRecommender",
        "personalize:DescribeRecommender",
        "personalize:UpdateRecommender",
        "personalize:StartRecommender",
        "personalize:DeleteRecommender",
    ),
    ("personalize:ListRecommenders",),
)
# What lambdas/poc_steps/ensure_segments.py calls: batch segment jobs, `batch-segment-job/<scope>-<name>-
# <version id>`.
SEGMENT_JOBS = ActionGroup(
    "segment_job",
    ("personalize:CreateBatchSegmentJob", "personalize:DescribeBatchSegmentJob"),
    ("personalize:ListBatchSegmentJobs",),
)
# What lambdas/poc_steps/ensure_attribution.py calls: the metric attribution, `metric-attribution/<scope>-
# attribution`. ListMetricAttributionMetrics is granted with the List actions: nothing documents it taking
# resource-level permissions.
METRIC_ATTRIBUTION = ActionGroup(
    "metric_attribution",
    (
        "personalize:CreateMetricAttribution",
        "personalize:DescribeMetricAttribution",
        "personalize:UpdateMetricAttribution",
        "personalize:DeleteMetricAttribution",
    ),
    ("personalize:ListMetricAttributions", "personalize:ListMetricAttributionMetrics"),
)


def action_groups_used(poc: PocDefinition) -> list[ActionGroup]:
    """The optional groups whose resources this POC definition makes: what a creating role needs. A role
    that removes what an earlier definition made (the teardown) must not narrow by this."""
    used = [
        (RECOMMENDERS, bool(poc.recommenders)),
        (SEGMENT_JOBS, bool(poc.batch_segments)),
        (METRIC_ATTRIBUTION, poc.metric_attribution is not None),
    ]
    return [group for group, is_used in used if is_used]


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
