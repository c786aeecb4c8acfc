"""cdk-nag acknowledgments of the delivery pipeline's generated resources, each on its own policy or bucket,
with its reason. CDK Pipelines writes these grants itself (artifacts bucket and key, CodeBuild logs and
reports, the bootstrap roles it assumes); each wildcard is acknowledged exactly as cdk-nag spells it, so a
new kind of wildcard still fails synth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines

from constructs.nag_acknowledgments import acknowledge

# (what the wildcard is about, why it is acceptable), first match wins.
REASONS = (
    (
        "Action::s3:",
        "CDK Pipelines grants its actions read/write on the pipeline's own artifacts bucket only (grantReadWrite).",
    ),
    (
        "Action::kms:",
        "CDK Pipelines grants encrypt/decrypt on the pipeline's own artifacts key only (cross-account artifacts).",
    ),
    (
        "ArtifactsBucket",
        "Objects of the pipeline's own artifacts bucket: build outputs passed between its actions.",
    ),
    (
        ":log-group:/aws/codebuild/",
        "CodeBuild writes its build logs to log groups named after its project, created at build time.",
    ),
    (
        ":report-group/",
        "CodeBuild test reports of the pipeline's own projects, named after the project, created at build time.",
    ),
    (
        ":iam::",
        "Steps assume the CDK bootstrap roles (deploy, file publishing, lookup) of the target accounts, "
        "restricted by the aws-cdk:bootstrap-role tag condition CDK Pipelines adds.",
    ),
    (
        "Resource::*",
        "CloudFormation DescribeStacks and bootstrap-version reads of the self-mutation step take no resource ARN.",
    ),
)


def _spell(value: Any) -> str:
    """A resolved value as cdk-nag writes it in a finding id."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        return str(argument[0]).join(_spell(part) for part in argument[1])
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    if function == "Fn::Sub":  # the bootstrap roles' names; their template string has no wildcard
        return str(argument if isinstance(argument, str) else argument[0])
    raise ValueError(f"cannot spell {function} as cdk-nag does")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcards(document: Any) -> Iterator[str]:
    for statement in document.get("Statement", []):
        for action in _as_list(statement.get("Action", [])):
            if "*" in action:
                yield f"Action::{action}"
        for resource in _as_list(statement.get("Resource", [])):
            spelled = _spell(resource)
            if "*" in spelled:
                yield f"Resource::{spelled}"


def _reason(finding: str) -> str:
    for marker, reason in REASONS:
        if marker in finding:
            return reason
    raise ValueError(f"no reason known for the pipeline's wildcard {finding}; add one to REASONS")


def acknowledge_pipeline(pipeline: pipelines.CodePipeline) -> None:
    """After `build_pipeline()`: every wildcard of every generated policy, and the artifacts bucket's logs."""
    stack = cdk.Stack.of(pipeline)
    for construct in pipeline.node.find_all():
        if isinstance(construct, iam.CfnPolicy):
            for finding in sorted(set(_wildcards(stack.resolve(construct.policy_document)))):
                acknowledge(construct, f"AwsSolutions-IAM5[{finding}]", _reason(finding))
        elif isinstance(construct, s3.CfnBucket):
            acknowledge(
                construct,
                "AwsSolutions-S1",
                "The artifacts bucket holds only the build outputs CDK Pipelines passes between its own actions; "
                "each execution's actions are recorded in the pipeline's history and CloudTrail.",
            )
