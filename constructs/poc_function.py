"""A workflow step's Lambda function: its own role and log group, Powertools (vendored into the code
asset from the pinned distribution: constructs/lambda_asset.py), tracing, and an alias that the state
machine invokes (so its grant names one alias, not every version)."""

from __future__ import annotations

from aws_cdk import AssetHashType, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.lambda_asset import lambda_asset
from constructs.nag_acknowledgments import acknowledge, cfn_of

# The newest Lambda Python runtime in aws-cdk-lib 2.275.
RUNTIME = lambda_.Runtime.PYTHON_3_14


def log_group(scope: Construct, construct_id: str, *, retention: logs.RetentionDays, destroy: bool) -> logs.LogGroup:
    """An explicit log group with the environment's retention; kept after stack deletion unless `destroy`."""
    return logs.LogGroup(
        scope,
        construct_id,
        retention=retention,
        removal_policy=RemovalPolicy.DESTROY if destroy else RemovalPolicy.RETAIN,
    )


class PocFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        service_name: str,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
        environment: dict[str, str] | None = None,
        timeout: Duration | None = None,
        memory_size: int = 256,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "Logs", retention=log_retention, destroy=destroy_logs)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (Lambda)",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        code_folder, code_hash = lambda_asset()
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=lambda_.Code.from_asset(str(code_folder), asset_hash=code_hash, asset_hash_type=AssetHashType.CUSTOM),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout or Duration.minutes(1),
            memory_size=memory_size,
            environment={
                "POWERTOOLS_SERVICE_NAME": service_name,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self.alias = lambda_.Alias(self, "Live", alias_name="live", version=self.function.current_version)
        policy = cfn_of(self.role.node.find_child("DefaultPolicy"))
        acknowledge(
            policy,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) do not support resource-level permissions.",
        )

    def add_to_role(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_policy(statement)
