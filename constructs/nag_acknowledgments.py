"""cdk-nag acknowledgments, each on the narrowest construct with the reason it is acceptable."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def bucket_arn_reference(bucket: s3.IBucket) -> str:
    """How cdk-nag spells the bucket's ARN inside a finding id, e.g. `<DataBucketE6B0FAA8.Arn>`."""
    stack = cdk.Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
    return f"<{logical_id}.Arn>"


def acknowledge_object_prefixes(construct: IConstruct, bucket: s3.IBucket, prefixes: list[str], reason: str) -> None:
    """Object ARNs under a prefix need a trailing wildcard; acknowledge exactly those prefixes."""
    arn = bucket_arn_reference(bucket)
    for prefix in prefixes:
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::{arn}/{prefix}*]", reason)
