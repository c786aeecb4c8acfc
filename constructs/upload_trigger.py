"""Optional: start the POC workflow when an upload is complete.

Not on the interactions file: the items, users and batch inputs of the same upload may still be on
their way, and the run would stop at the data gate or import the previous files. `personalize-poc data
upload` writes a marker, `imports/_upload-complete.json` (what it uploaded, with ETags), after every
other file; the rule matches that one key, so a run starts only once the whole upload is in the bucket.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge
from personalize_poc.data.aws import UPLOAD_MARKER_KEY


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.Bucket,
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
        self.marker_key = UPLOAD_MARKER_KEY
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Starts the POC workflow when an upload completes (s3://<bucket>/{UPLOAD_MARKER_KEY})",
            # S3 "Object Created" events (EventBridge): detail.bucket.name, detail.object.key.
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [UPLOAD_MARKER_KEY]}},
            ),
            targets=[
                targets.SfnStateMachine(
                    state_machine,
                    input=events.RuleTargetInput.from_object({"trigger": "upload", "key": UPLOAD_MARKER_KEY}),
                )
            ],
        )
