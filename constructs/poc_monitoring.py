"""One environment's dashboard and alarms, from cdk-monitoring-constructs (no hand-written CloudWatch JSON).

The dashboard follows the POC definition: one section per campaign of the plan, so a campaign added to
the config appears at the next deploy. Every alarm notifies the environment's topic and its name starts
with `<name_prefix>-<environment>-`.

Personalize metrics (namespace AWS/Personalize) and their dimensions: developer guide, "Monitoring
Amazon Personalize with Amazon CloudWatch" / "CloudWatch metrics for Amazon Personalize":
- GetRecommendations / GetPersonalizedRanking: successful calls, dimension CampaignArn, Sum only;
- GetRecommendationsLatency / GetPersonalizedRankingLatency: milliseconds, dimension CampaignArn;
- DatasetImportJobExecutionTime: seconds, dimensions DatasetGroupArn, DatasetArn, DatasetImportJobArn;
- SolutionTrainingJobExecutionTime: seconds, dimensions SolutionArn, SolutionVersionArn.
Campaign, solution and dataset group ARNs are `<kind>/<name>` (API reference, each Create*), so the
workflow's names (personalize_poc/plan.py) give them before the resources exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)

from constructs import Construct
from constructs.poc_function import PocFunction
from constructs.readable_definition import one_field_per_line
from personalize_poc.settings import MonitoringSettings

NAMESPACE = "AWS/Personalize"
# Ranking campaigns answer GetPersonalizedRanking, the others GetRecommendations (developer guide above).
RANKING_RECIPES = ("aws-personalized-ranking", "aws-personalized-ranking-v2")
HOUR = Duration.hours(1)


def request_metric(recipe: str) -> str:
    return "GetPersonalizedRanking" if recipe in RANKING_RECIPES else "GetRecommendations"


class PocMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        name_prefix: str,
        settings: MonitoringSettings,
        plan: Mapping[str, Any],
        workflow: sfn.IStateMachine,
        teardown: sfn.IStateMachine,
        bucket: s3.IBucket,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.alarm_name_prefix = f"{name_prefix}-{environment}"
        self.dashboard_name = f"{name_prefix}-poc"
        self.facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=self.alarm_name_prefix,
                action=SnsAlarmActionStrategy(on_alarm_topic=topic),
                # One failed execution or step error in one 5-minute period is enough (the library's
                # default, 3 of 3, would never see a single failure).
                evaluation_periods=1,
                datapoints_to_alarm=1,
            ),
            dashboard_factory=DefaultDashboardFactory(
                self, "Dashboards", dashboard_name_prefix=self.dashboard_name, create_dashboard=True
            ),
        )
        self.facade.add_large_header(f"Personalize POC: {environment} ({name_prefix})")
        self._state_machines({"Workflow": workflow, "Teardown": teardown})
        self._steps(_step_functions(Stack.of(self)))
        for solution in plan["solutions"]:
            for campaign in solution["campaigns"]:
                self._campaign(campaign)
        self._training(plan)
        self.facade.monitor_s3_bucket(bucket=bucket, human_readable_name="Data bucket", alarm_friendly_name="Data")
        # A threshold change (a campaign's minProvisionedTPS) reads as a few lines in cdk diff.
        for child in self.node.find_all():
            if isinstance(child, cloudwatch.CfnDashboard):
                child.dashboard_body = one_field_per_line(child, child.dashboard_body)

    def _state_machines(self, machines: Mapping[str, sfn.IStateMachine]) -> None:
        """Executions started/succeeded/failed and duration; any failed, timed-out or aborted execution alarms."""
        for label, machine in machines.items():
            self.facade.monitor_step_function(
                state_machine=machine,
                human_readable_name=f"{label} state machine",
                alarm_friendly_name=label,
                add_failed_execution_count_alarm={"Failed": _any(f"{label}: an execution failed.")},
                add_timed_out_execution_count_alarm={"TimedOut": _any(f"{label}: an execution timed out.")},
                add_aborted_execution_count_alarm={"Aborted": _any(f"{label}: an execution was aborted.")},
            )

    def _steps(self, functions: Sequence[PocFunction]) -> None:
        """Errors, throttles, duration of every step function; errors of one step alarm."""
        for function in functions:
            label = function.node.path.removeprefix(f"{Stack.of(self).node.path}/").replace("/", "-")
            self.facade.monitor_lambda_function(
                lambda_function=function.function,
                human_readable_name=f"Step {label}",
                alarm_friendly_name=f"Step-{label}",
                add_fault_count_alarm={
                    "Errors": ErrorCountThreshold(
                        max_error_count=self.settings.step_errors_alarm_count - 1,
                        alarm_description_override=f"Step {label} raised {self.settings.step_errors_alarm_count} "
                        "or more errors in 5 minutes (throttling the workflow retries counts too).",
                    )
                },
            )

    def _campaign(self, campaign: Mapping[str, Any]) -> None:
        name, min_tps = str(campaign["name"]), int(campaign["minProvisionedTPS"])
        arn = Stack.of(self).format_arn(service="personalize", resource="campaign", resource_name=name)
        requests_name = request_metric(str(campaign["recipe"]))

        def metric(metric_name: str, statistic: str, period: Duration, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"CampaignArn": arn},
                statistic=statistic,
                period=period,
                label=label,
            )

        hourly = metric(requests_name, "Sum", HOUR, "requests per hour")
        idle_hours = self.settings.idle_alarm_hours
        groups = [
            CustomMetricGroup(
                title="Requests",
                metrics=[
                    CustomMetricWithAlarm(
                        metric=hourly,
                        alarm_friendly_name="Requests",
                        add_alarm={
                            "Idle": CustomThreshold(
                                threshold=1,
                                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                                evaluation_periods=idle_hours,
                                datapoints_to_alarm=idle_hours,
                                period=HOUR,
                                # No request publishes no data point: missing data is idleness.
                                treat_missing_data_override=cloudwatch.TreatMissingData.BREACHING,
                                additional_description=f"{name}: no {requests_name} requests for {idle_hours} h "
                                "(also before the campaign exists); it bills while it is active.",
                            )
                        },
                    )
                ],
            ),
            CustomMetricGroup(
                title="Latency (ms)",
                metrics=[
                    metric(f"{requests_name}Latency", "Average", Duration.minutes(5), "average"),
                    metric(f"{requests_name}Latency", "Maximum", Duration.minutes(5), "maximum"),
                ],
            ),
            CustomMetricGroup(
                title="Actual TPS (5-minute average) vs minProvisionedTPS",
                metrics=[
                    cloudwatch.MathExpression(
                        expression="requests / PERIOD(requests)",
                        using_metrics={"requests": metric(requests_name, "Sum", Duration.minutes(5), "requests")},
                        label="actual TPS",
                        period=Duration.minutes(5),
                    )
                ],
                horizontal_annotations=[cloudwatch.HorizontalAnnotation(value=min_tps, label="minProvisionedTPS")],
            ),
            self._utilization(campaign, hourly, min_tps),
        ]
        self.facade.monitor_custom(
            human_readable_name=f"Campaign {campaign['label']} ({name})",
            alarm_friendly_name=f"Campaign-{campaign['label']}",
            metric_groups=groups,
        )

    def _utilization(self, campaign: Mapping[str, Any], hourly: cloudwatch.Metric, min_tps: int) -> CustomMetricGroup:
        """Actual TPS as a share of min_provisioned_tps, hourly. Alarms only above the service minimum of 1
        TPS (botocore CreateCampaign.minProvisionedTPS, min 1): at 1 there is nothing to lower."""
        utilization = cloudwatch.MathExpression(
            expression=f"100 * (requests / PERIOD(requests)) / {min_tps}",
            using_metrics={"requests": hourly},
            label="utilization %",
            period=HOUR,
        )
        if min_tps <= 1:
            return CustomMetricGroup(title="Utilization (%)", metrics=[utilization])
        hours, percent = self.settings.utilization_alarm_hours, self.settings.utilization_alarm_percent
        return CustomMetricGroup(
            title="Utilization (%)",
            metrics=[
                CustomMetricWithAlarm(
                    metric=utilization,
                    alarm_friendly_name="Utilization",
                    add_alarm={
                        "Low": CustomThreshold(
                            threshold=percent,
                            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                            evaluation_periods=hours,
                            datapoints_to_alarm=hours,
                            period=HOUR,
                            # No traffic at all is the idle alarm's case, not this one.
                            treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                            additional_description=f"{campaign['name']}: under {percent}% of its "
                            f"minProvisionedTPS {min_tps} for {hours} h; lower min_provisioned_tps.",
                        )
                    },
                )
            ],
            horizontal_annotations=[cloudwatch.HorizontalAnnotation(value=percent, label="alarm below")],
        )

    def _training(self, plan: Mapping[str, Any]) -> None:
        """Durations of the last imports and trainings: SEARCH over the job ARNs, which carry data ids."""
        stack = Stack.of(self)
        group_arn = stack.format_arn(
            service="personalize", resource="dataset-group", resource_name=str(plan["datasetGroup"]["name"])
        )
        imports = _search(
            "DatasetImportJobExecutionTime",
            ["DatasetGroupArn", "DatasetArn", "DatasetImportJobArn"],
            {"DatasetGroupArn": group_arn},
            "import",
        )
        trainings = [
            _search(
                "SolutionTrainingJobExecutionTime",
                ["SolutionArn", "SolutionVersionArn"],
                {
                    "SolutionArn": stack.format_arn(
                        service="personalize", resource="solution", resource_name=str(solution["name"])
                    )
                },
                str(solution["name"]),
            )
            for solution in plan["solutions"]
        ]
        self.facade.monitor_custom(
            human_readable_name="Imports and training",
            alarm_friendly_name="Training",
            metric_groups=[
                CustomMetricGroup(title="Import duration (s)", metrics=[imports]),
                CustomMetricGroup(title="Training duration (s)", metrics=trainings),
            ],
        )


def _any(description: str) -> ErrorCountThreshold:
    """Alarms on the first one (count > 0)."""
    return ErrorCountThreshold(max_error_count=0, alarm_description_override=description)


def _search(
    metric_name: str, dimensions: list[str], values: Mapping[str, str], label: str
) -> cloudwatch.MathExpression:
    """Daily maximum of every job's metric under these dimension values (job ARNs are not known at synth)."""
    schema = ",".join([NAMESPACE, *dimensions])
    selected = " ".join(f'{key}="{value}"' for key, value in values.items())
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{schema}}} MetricName=\"{metric_name}\" {selected}', 'Maximum', 86400)",
        using_metrics={},
        label=label,
        period=Duration.days(1),
    )


def _step_functions(stack: Stack) -> list[PocFunction]:
    """Every workflow and teardown step of the stack, so a step added later is monitored too."""
    return [child for child in stack.node.find_all() if isinstance(child, PocFunction)]
