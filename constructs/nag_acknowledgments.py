"""cdk-nag acknowledgments, each on the narrowest construct with the reason it is acceptable."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from constructs import IConstruct


def cfn_of(construct: IConstruct) -> IConstruct:
    """The CloudFormation resource behind an L2 construct (where its nag findings are reported)."""
    child = construct.node.default_child
    if child is None:
        raise ValueError(f"{construct.node.path} has no CloudFormation resource")
    return child


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def bucket_arn_reference(bucket: s3.IBucket) -> str:
    """How cdk-nag spells the bucket's ARN inside a finding id, e.g. `<DataBucketE6B0FAA8.Arn>`."""
    stack = cdk.Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(cfn_of(bucket)))  # type: ignore[arg-type]
    return f"<{logical_id}.Arn>"


def acknowledge_object_prefixes(construct: IConstruct, bucket: s3.IBucket, prefixes: list[str], reason: str) -> None:
    """Object ARNs under a prefix need a trailing wildcard; acknowledge exactly those prefixes."""
    arn = bucket_arn_reference(bucket)
    for prefix in prefixes:
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::{arn}/{prefix}*]", reason)


def nag_spelling(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes a (possibly tokenized) value in a finding id: `Fn::Join` parts concatenated,
    pseudo parameters as `<AWS::Region>`, attributes as `<LogicalId.Attr>`."""
    resolved = cdk.Stack.of(scope).resolve(value)
    if isinstance(resolved, str):
        return resolved
    parts = resolved["Fn::Join"][1]
    spelled = []
    for part in parts:
        if isinstance(part, str):
            spelled.append(part)
        elif "Ref" in part:
            spelled.append(f"<{part['Ref']}>")
        else:
            logical_id, attribute = part["Fn::GetAtt"]
            spelled.append(f"<{logical_id}.{attribute}>")
    return "".join(spelled)


def acknowledge_wildcard_arn(construct: IConstruct, arn: str, reason: str) -> None:
    """Acknowledge IAM5 for exactly this wildcard resource, spelled as the stack renders it."""
    acknowledge(construct, f"AwsSolutions-IAM5[Resource::{nag_spelling(construct, arn)}]", reason)
