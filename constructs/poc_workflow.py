"""The POC workflow: a Standard state machine that builds every Personalize resource of the plan.

Order (independent work side by side):
    config -> one-run guard -> data gate -> dataset group -> datasets (parallel) -> [metric attribution] ->
        [ imports (parallel) -> per solution (parallel): solution -> training -> campaigns + batch jobs
                             [+ batch segment jobs]
                             (beside them, in a domain dataset group: recommenders (parallel)) ]
        [ filters (parallel) ]
        [ event tracker ]
    -> metrics report + published ARNs -> success notification
Any failure: described, notified, and the execution fails with the resource and the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct
from constructs.ensure_step import EnsureAndWait, add_step_retries
from constructs.poc_function import PocFunction
from constructs.workflow_parts import catch_notify_fail, logged_state_machine
from personalize_poc.poc_definition import PocDefinition

MAP_CONCURRENCY = 10


class PocWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine_name: str,
        plan: Mapping[str, Any],
        poc: PocDefinition,
        functions: Mapping[str, PocFunction],
        topic: sns.ITopic,
        log_retention: logs.RetentionDays,
        destroy_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self._poc = poc
        self._ensure = functions["ensure"].alias

        config = sfn.Pass(self, "POC config", result=sfn.Result.from_object(dict(plan)), result_path="$.config")
        guard = tasks.LambdaInvoke(
            self,
            "One run at a time",
            lambda_function=functions["guard"].alias,
            payload=sfn.TaskInput.from_object(
                {
                    "stateMachineArn": sfn.JsonPath.state_machine_id,
                    "executionArn": sfn.JsonPath.execution_id,
                }
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=sfn.JsonPath.DISCARD,
        )
        add_step_retries(guard)

        validate = tasks.LambdaInvoke(
            self,
            "Validate uploaded data",
            lambda_function=functions["validate"].alias,
            payload=sfn.TaskInput.from_object({"config": sfn.JsonPath.object_at("$.config")}),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.dataCheck",
        )
        add_step_retries(validate)

        dataset_group = self._ensure_and_wait(
            "Dataset group",
            "dataset_group",
            "$.config.datasetGroup",
            {"roleArn": "$.config.roleArn"},
            "$.datasetGroup",
        )
        datasets = self._map(
            "Datasets",
            "$.config.datasets",
            {
                "spec": "$$.Map.Item.Value",
                "datasetGroupArn": "$.datasetGroup.arn",
            },
            result_path="$.datasets",
        )
        datasets.item_processor(
            self._ensure_and_wait(
                "Dataset", "dataset", "$.spec", {"datasetGroupArn": "$.datasetGroupArn"}, "$.dataset"
            ).next(self._output("Dataset output", {"spec": "$.spec", "datasetArn": "$.dataset.arn"}))
        )

        imports = self._map(
            "Imports",
            "$.datasets",
            {
                "spec": "$$.Map.Item.Value.spec",
                "datasetArn": "$$.Map.Item.Value.datasetArn",
                "roleArn": "$.config.roleArn",
            },
            result_path="$.imports",
        )
        imports.item_processor(
            self._ensure_and_wait(
                "Import",
                "import_job",
                "$.spec",
                {"datasetArn": "$.datasetArn", "roleArn": "$.roleArn"},
                "$.importJob",
            ).next(self._output("Import output", {"arn": "$.importJob.arn", "completedAt": "$.importJob.completedAt"}))
        )

        solutions = self._map(
            "Solutions",
            "$.config.solutions",
            {
                "spec": "$$.Map.Item.Value",
                "datasetGroupArn": "$.datasetGroup.arn",
                "roleArn": "$.config.roleArn",
                "importsCompletedAt": "$.imports[*].completedAt",
            },
        )
        solutions.item_processor(self._solution_chain())

        filters = self._map(
            "Filters",
            "$.config.filters",
            {
                "spec": "$$.Map.Item.Value",
                "datasetGroupArn": "$.datasetGroup.arn",
            },
        )
        filters.item_processor(
            self._ensure_and_wait(
                "Filter", "filter", "$.spec", {"datasetGroupArn": "$.datasetGroupArn"}, "$.filter"
            ).next(
                self._output("Filter output", {"name": "$.spec.name", "label": "$.spec.label", "arn": "$.filter.arn"})
            )
        )

        tracker_wanted = sfn.Choice(self, "Event tracker wanted?")
        tracker = self._ensure_and_wait(
            "Event tracker",
            "event_tracker",
            "$.config.eventTracker",
            {"datasetGroupArn": "$.datasetGroup.arn"},
            "$.eventTracker",
        ).next(
            self._output(
                "Event tracker output",
                {"arn": "$.eventTracker.arn", "trackingId": "$.eventTracker.trackingId"},
            )
        )
        no_tracker = sfn.Pass(self, "No event tracker", result=sfn.Result.from_object({"arn": None}))
        tracker_wanted.when(sfn.Condition.boolean_equals("$.config.eventTracker.enabled", True), tracker)
        tracker_wanted.otherwise(no_tracker)

        recommend = bool(poc.recommenders)
        build = sfn.Parallel(
            self,
            "Train, filter, track",
            result_selector=(
                {"solutions.$": "$[0]", "filters.$": "$[1]", "eventTracker.$": "$[2]"}
                if not recommend
                # Branch 0 is {solutions, recommenders} here ("Train and recommend"). Only whole-branch
                # selections ("$[0]"): a path into an array element ("$[0].solutions") is not read
                # alike by every interpreter (moto wraps it in a list).
                else {"trained.$": "$[0]", "filters.$": "$[1]", "eventTracker.$": "$[2]"}
            ),
            result_path="$.built",
        )
        build.branch(imports.next(self._beside_recommenders(solutions) if recommend else solutions))
        build.branch(filters)
        build.branch(tracker_wanted)

        report = tasks.LambdaInvoke(
            self,
            "Report metrics and publish",
            lambda_function=functions["report"].alias,
            payload=sfn.TaskInput.from_object(
                {
                    "config": sfn.JsonPath.object_at("$.config"),
                    "execution": sfn.JsonPath.execution_id,
                    "datasetGroup": sfn.JsonPath.object_at("$.datasetGroup"),
                    "solutions": sfn.JsonPath.list_at(
                        "$.built.trained.solutions" if recommend else "$.built.solutions"
                    ),
                    "filters": sfn.JsonPath.list_at("$.built.filters"),
                    "eventTracker": sfn.JsonPath.object_at("$.built.eventTracker"),
                    **({"recommenders": sfn.JsonPath.list_at("$.built.trained.recommenders")} if recommend else {}),
                    **(
                        {"metricAttribution": sfn.JsonPath.object_at("$.metricAttribution")}
                        if poc.metric_attribution
                        else {}
                    ),
                }
            ),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path="$.report",
        )
        add_step_retries(report)
        notify_success = tasks.SnsPublish(
            self,
            "Notify success",
            topic=topic,
            subject="Personalize POC run succeeded",
            message=sfn.TaskInput.from_json_path_at(
                "States.Format('The Personalize POC {} is built. Run report: {}\n\n{}', "
                "$.config.datasetGroup.name, $.report.reportUri, $.report.table)"
            ),
            result_path=sfn.JsonPath.DISCARD,
        )

        run = sfn.Parallel(self, "Build the POC", output_path="$[0]")
        prepared = datasets.next(self._metric_attribution()) if poc.metric_attribution else datasets
        run.branch(validate.next(dataset_group).next(prepared).next(build).next(report).next(notify_success))

        catch_notify_fail(
            self,
            run,
            failure_function=functions["failure"],
            topic=topic,
            names=("Describe failure", "Notify failure", "POC run failed"),
        )
        definition = config.next(guard).next(run).next(sfn.Succeed(self, "POC built"))
        self.state_machine, self.log_group = logged_state_machine(
            self,
            state_machine_name=state_machine_name,
            definition=definition,
            timeout=Duration.days(5),
            log_retention=log_retention,
            destroy_logs=destroy_logs,
        )

    # --- building blocks -----------------------------------------------------------------------------

    def _ensure_and_wait(
        self,
        label: str,
        kind: str,
        spec_path: str,
        refs: Mapping[str, str],
        result_path: str,
        initial: Mapping[str, object] | None = None,
    ) -> EnsureAndWait:
        polling = self._poc.polling_for(kind)
        return EnsureAndWait(
            self,
            label,
            function=self._ensure,
            kind=kind,
            spec_path=spec_path,
            refs=refs,
            result_path=result_path,
            interval_seconds=polling.interval_seconds,
            timeout_seconds=polling.timeout_minutes * 60,
            initial=initial,
        )

    def _map(
        self, label: str, items_path: str, selector: Mapping[str, str], *, result_path: str | None = None
    ) -> sfn.Map:
        return sfn.Map(
            self,
            label,
            items_path=items_path,
            item_selector={name: _path(path) for name, path in selector.items()},
            max_concurrency=MAP_CONCURRENCY,
            result_path=result_path,
        )

    def _output(self, label: str, fields: Mapping[str, str]) -> sfn.Pass:
        return sfn.Pass(self, label, parameters={name: _path(path) for name, path in fields.items()})

    def _beside_recommenders(self, solutions: sfn.Map) -> sfn.Parallel:
        """A domain dataset group's recommenders (each trains its own models once the data is in) side by
        side with the custom solutions; output {solutions, recommenders}."""
        recommenders = self._map(
            "Recommenders",
            "$.config.recommenders",
            {"spec": "$$.Map.Item.Value", "datasetGroupArn": "$.datasetGroup.arn"},
        )
        recommenders.item_processor(
            self._ensure_and_wait(
                "Recommender", "recommender", "$.spec", {"datasetGroupArn": "$.datasetGroupArn"}, "$.recommender"
            ).next(
                self._output(
                    "Recommender output",
                    {
                        "label": "$.spec.label",
                        "useCase": "$.spec.useCase",
                        "arn": "$.recommender.arn",
                        "modelMetrics": "$.recommender.modelMetrics",
                    },
                )
            )
        )
        both = sfn.Parallel(
            self,
            "Train and recommend",
            result_selector={"solutions.$": "$[0]", "recommenders.$": "$[1]"},
        )
        both.branch(solutions)
        both.branch(recommenders)
        return both

    def _solution_chain(self) -> sfn.IChainable:
        solution = self._ensure_and_wait(
            "Solution", "solution", "$.spec", {"datasetGroupArn": "$.datasetGroupArn"}, "$.solution"
        )
        version = self._ensure_and_wait(
            "Training",
            "solution_version",
            "$.spec",
            {"solutionArn": "$.solution.arn", "importsCompletedAt": "$.importsCompletedAt"},
            "$.version",
        )
        campaigns = self._map(
            "Campaigns",
            "$.spec.campaigns",
            {
                "spec": "$$.Map.Item.Value",
                "solutionVersionArn": "$.version.arn",
            },
        )
        campaigns.item_processor(
            self._ensure_and_wait(
                "Campaign",
                "campaign",
                "$.spec",
                # The promotion decided by an earlier check of this loop, carried to the last one (the
                # update it started has run since), so the report names promoted campaigns too.
                {"solutionVersionArn": "$.solutionVersionArn", "promotion": "$.campaign.promotion"},
                "$.campaign",
                initial={"promotion": {"decision": "none"}},
            ).next(
                self._output(
                    "Campaign output",
                    {"label": "$.spec.label", "arn": "$.campaign.arn", "promotion": "$.campaign.promotion"},
                )
            )
        )
        batch_jobs = self._map(
            "Batch inference",
            "$.spec.batchJobs",
            {
                "spec": "$$.Map.Item.Value",
                "solutionVersionArn": "$.version.arn",
                "datasetGroupArn": "$.datasetGroupArn",
                "roleArn": "$.roleArn",
            },
        )
        batch_jobs.item_processor(
            self._ensure_and_wait(
                "Batch job",
                "batch_job",
                "$.spec",
                {
                    "solutionVersionArn": "$.solutionVersionArn",
                    "datasetGroupArn": "$.datasetGroupArn",
                    "roleArn": "$.roleArn",
                },
                "$.batchJob",
            ).next(
                self._output(
                    "Batch job output",
                    {"label": "$.spec.label", "arn": "$.batchJob.arn", "outputUri": "$.batchJob.outputUri"},
                )
            )
        )
        segments = bool(self._poc.batch_segments)
        deploy = sfn.Parallel(
            self,
            "Deploy solution",
            result_selector={
                "campaigns.$": "$[0]",
                "batchJobs.$": "$[1]",
                **({"segmentJobs.$": "$[2]"} if segments else {}),
            },
            result_path="$.deployed",
        )
        deploy.branch(campaigns)
        deploy.branch(batch_jobs)
        if segments:
            deploy.branch(self._segment_jobs())
        output = self._output(
            "Solution output",
            {
                "name": "$.spec.name",
                "label": "$.spec.label",
                "recipe": "$.spec.recipe",
                "baseline": "$.spec.baseline",
                "solutionArn": "$.solution.arn",
                "versionArn": "$.version.arn",
                "campaigns": "$.deployed.campaigns",
                "batchJobs": "$.deployed.batchJobs",
                **({"segmentJobs": "$.deployed.segmentJobs"} if segments else {}),
            },
        )
        return solution.next(version).next(deploy).next(output)

    def _segment_jobs(self) -> sfn.Map:
        """Batch segment jobs of a user-segmentation solution (personalize_poc/segments.py), like batch jobs."""
        jobs = self._map(
            "Batch segments",
            "$.spec.segmentJobs",
            {
                "spec": "$$.Map.Item.Value",
                "solutionVersionArn": "$.version.arn",
                "datasetGroupArn": "$.datasetGroupArn",
                "roleArn": "$.roleArn",
            },
        )
        jobs.item_processor(
            self._ensure_and_wait(
                "Segment job",
                "segment_job",
                "$.spec",
                {
                    "solutionVersionArn": "$.solutionVersionArn",
                    "datasetGroupArn": "$.datasetGroupArn",
                    "roleArn": "$.roleArn",
                },
                "$.segmentJob",
            ).next(
                self._output(
                    "Segment job output",
                    {"label": "$.spec.label", "arn": "$.segmentJob.arn", "outputUri": "$.segmentJob.outputUri"},
                )
            )
        )
        return jobs

    def _metric_attribution(self) -> EnsureAndWait:
        """The dataset group's one metric attribution (personalize_poc/attribution.py), before the imports:
        the service reports only on data imported after it exists ("Guidelines and requirements for a
        metric attribution")."""
        return self._ensure_and_wait(
            "Metric attribution",
            "metric_attribution",
            "$.config.metricAttribution",
            {"datasetGroupArn": "$.datasetGroup.arn", "roleArn": "$.config.roleArn"},
            "$.metricAttribution",
        )


def _path(path: str) -> Any:
    return sfn.JsonPath.string_at(path)
