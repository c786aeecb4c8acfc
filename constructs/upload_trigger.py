"""Optional: start the POC workflow when new interactions data lands in the import prefix."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.Bucket,
        key: str,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        bucket.enable_event_bridge_notification()
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith("BucketNotificationsHandler"):
                acknowledge(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "aws-cdk-lib's singleton handler that switches on the bucket's EventBridge notifications at "
                    "deploy time; CDK owns its role and code.",
                )
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Starts the POC workflow when s3://<bucket>/{key} is written",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [key]}},
            ),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    input=events.RuleTargetInput.from_object(
                        {
                            "trigger": "upload",
                            "key": key,
                        }
                    ),
                )
            ],
        )
