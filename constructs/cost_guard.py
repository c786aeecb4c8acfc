"""The cost guard: a small scheduled function (EventBridge Scheduler) that reports, or acts on, this
environment's idle, over-provisioned and expired campaigns and expired recommenders
(lambdas/poc_steps/cost_guard.py, cost_guard_recommenders.py).

Its role reaches only the campaigns of the POC's dataset group (`campaign/<group>-*`) and may stop only
its recommenders (`recommender/<group>-*`, as constructs/personalize_access.py scopes them); the List
operations and CloudWatch GetMetricData do not support resource-level permissions (Service
Authorization Reference, Amazon Personalize and Amazon CloudWatch), so the code scopes those reads to
the dataset group itself.

It also reports, and never changes, what still bills in this environment's other dataset groups (named
`<name_prefix>-...`, e.g. after `dataset_group.name` was renamed) with List calls only: no grant reaches
beyond `<group>-*`, since `<name_prefix>-*` would also cover an environment whose prefix extends this one
(tests/test_foundation_template.py; lambdas/poc_steps/cost_guard_leftovers.py).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge, acknowledge_wildcard_arn, cfn_of
from constructs.poc_function import PocFunction
from personalize_poc.schedules import COST_GUARD, schedule_name
from personalize_poc.settings import CostGuardSettings

CAMPAIGN_ACTIONS = ["personalize:DescribeCampaign", "personalize:UpdateCampaign", "personalize:DeleteCampaign"]
#: At expires_after_days, act mode stops the group's ACTIVE recommenders (reversible; never deletes them).
RECOMMENDER_ACTIONS = ["personalize:StopRecommender"]
LIST_ACTIONS = [
    "personalize:ListDatasetGroups",
    "personalize:ListSolutions",
    "personalize:ListCampaigns",
    "personalize:ListRecommenders",
]


class CostGuard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: CostGuardSettings,
        name_prefix: str,
        personalize_scope: str,
        topic: sns.ITopic,
        encryption_key: kms.IKey | None,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function: PocFunction | None = None
        if settings.mode == "off":
            return
        function = PocFunction(
            self,
            "Function",
            handler="poc_steps.cost_guard_handler.on_schedule",
            description="Reports or acts on idle, over-provisioned and expired campaigns of this POC",
            service_name=f"{name_prefix}-cost-guard",
            log_retention=log_retention,
            destroy_logs=destroy_logs,
            timeout=Duration.minutes(5),
            environment={
                "DATASET_GROUP_NAME": personalize_scope,
                "NAME_PREFIX": name_prefix,
                "TOPIC_ARN": topic.topic_arn,
                "GUARD_MODE": settings.mode,
                "IDLE_HOURS": str(settings.idle_hours),
                "USAGE_WINDOW_HOURS": str(settings.usage_window_hours),
                "LOWER_MIN_TPS": "true" if settings.lower_min_tps else "false",
                "EXPIRES_AFTER_DAYS": str(settings.expires_after_days or ""),
                "PRICE_PER_TPS_HOUR": "" if settings.price_per_tps_hour is None else f"{settings.price_per_tps_hour:g}",
            },
        )
        self.function = function
        self._grant(function, personalize_scope, topic, encryption_key)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            # Named, so `personalize-poc status` reads it back (GetSchedule) for its next run.
            schedule_name=schedule_name(name_prefix, COST_GUARD),
            schedule=scheduler.ScheduleExpression.expression(settings.schedule, TimeZone.of(settings.time_zone)),
            # The tick's own time (EventBridge Scheduler context attribute), not the invocation's: a
            # retried invocation judges the same hour.
            target=targets.LambdaInvoke(
                function.alias,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduledTime": scheduler.ContextAttribute.scheduled_time}
                ),
            ),
            description=f"Cost guard of {personalize_scope} ({settings.mode} mode)",
        )

    @staticmethod
    def _grant(function: PocFunction, personalize_scope: str, topic: sns.ITopic, key: kms.IKey | None) -> None:
        base = f"arn:{Aws.PARTITION}:personalize:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        campaigns, recommenders = f"{base}:campaign/{personalize_scope}-*", f"{base}:recommender/{personalize_scope}-*"
        function.add_to_role(
            iam.PolicyStatement(actions=CAMPAIGN_ACTIONS, resources=[campaigns]),
            iam.PolicyStatement(actions=RECOMMENDER_ACTIONS, resources=[recommenders]),
            iam.PolicyStatement(actions=[*LIST_ACTIONS, "cloudwatch:GetMetricData"], resources=["*"]),
        )
        function.add_to_role(iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]))
        if key is not None:
            # SNS developer guide, "Encryption at rest: Key management": publishers of a topic encrypted
            # with a customer managed key need kms:GenerateDataKey and kms:Decrypt on it (the AWS managed
            # key's policy already allows the account's publishers).
            function.add_to_role(
                iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn])
            )
        policy = cfn_of(function.role.node.find_child("DefaultPolicy"))
        acknowledge_wildcard_arn(
            policy,  # type: ignore[arg-type]
            campaigns,
            "Describes, updates and deletes the campaigns of this POC's dataset group only (named <group>-...).",
        )
        acknowledge_wildcard_arn(
            policy,  # type: ignore[arg-type]
            recommenders,
            "Stops the recommenders of this POC's dataset group only (named <group>-...), at expires_after_days.",
        )
        acknowledge(
            policy,  # type: ignore[arg-type]
            "AwsSolutions-IAM5[Resource::*]",
            "Personalize List* and CloudWatch GetMetricData take no resource-level permissions; the code lists "
            "campaigns from this POC's dataset group only. X-Ray (active tracing) needs * too.",
        )
