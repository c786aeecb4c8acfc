"""The Personalize double's batch segment jobs and metric attributions (a mixin of ``PersonalizeDouble``).

Service rules and their sources (STRICTER marks where the real behaviour is not documented and the
double takes the stricter side):

- Batch segment jobs (botocore ``CreateBatchSegmentJob``, ``BatchSegmentJob.status``: ``PENDING >
  IN PROGRESS > ACTIVE -or- CREATE FAILED``). Only a solution version of a USER_SEGMENTATION recipe
  (aws-item-affinity, aws-item-attribute-affinity; "USER_SEGMENTATION recipes") can run one: any other
  is InvalidInputException. The version must be ACTIVE, a filter too (ResourceInUseException). No
  Delete operation exists, so a job name is taken for good in the account and region (STRICTER: as
  import and batch inference jobs). At most 5 PENDING/IN PROGRESS segment jobs per region
  (LimitExceededException; STRICTER: the quota is not in the API). The service reads the input and
  writes ``<output path><input file name>.out`` with the passed role (``service_access``, as batch
  inference jobs). The input is read when the job is created: JSON lines with ``itemId``
  (Item-Affinity, at most 500 lines) or ``itemAttributes`` (Item-Attribute-Affinity, at most 10
  queries) ("Preparing input data for user segments", the recipe pages); a missing or malformed input
  ends the job CREATE FAILED with a failureReason (STRICTER than a synchronous error).
- Metric attributions (botocore ``CreateMetricAttribution``/``UpdateMetricAttribution``; "Guidelines and
  requirements for a metric attribution"): one per dataset group (a second is
  ResourceAlreadyExistsException, also while the first is being deleted: STRICTER); the dataset group
  ACTIVE; its interactions dataset with an EVENT_TYPE field; at most 10 metrics with unique names;
  expressions ``SAMPLECOUNT()`` or ``SUM(Interactions.<field>)``/``SUM(Items.<field>)`` of a numeric
  field of that dataset (MetricAttribute.expression; "Creating an Amazon Personalize metric
  attribution"), otherwise InvalidInputException naming the expression. Statuses ``CREATE PENDING >
  CREATE IN_PROGRESS > ACTIVE`` and, after an update, ``UPDATE PENDING > UPDATE IN_PROGRESS > ACTIVE``
  (the model documents no values: STRICTER, as other resources); Update and Delete only when ACTIVE or
  CREATE FAILED (ResourceInUseException); one update may not remove and add the same metric name
  (InvalidInputException, STRICTER: not documented either way). ``metricAttributionArn`` is optional in
  the model of Update and ListMetricAttributionMetrics; the double requires it (InvalidInputException,
  STRICTER). Describe has no metrics (botocore ``MetricAttribution``): ListMetricAttributionMetrics
  lists them. The service
  puts metrics to CloudWatch and (with an S3 path) reports to S3 with the role: ``service_access`` is
  asked for ``cloudwatch:PutMetricData`` and ``s3:PutObject`` under the path; a denial ends the
  attribution CREATE FAILED with a failureReason. A dataset group with a metric attribution cannot be
  deleted (ResourceInUseException, as with its other children).
"""

from __future__ import annotations

import functools
import json
import re
from types import ModuleType
from typing import Any

SEGMENT_JOB = "batch_segment_job"
ATTRIBUTION = "metric_attribution"
#: Simulated seconds (``double.durations`` may override them by these keys).
SEGMENT_DURATIONS = {
    SEGMENT_JOB: 30 * 60.0,
    ATTRIBUTION: 60.0,
    "metric_attribution_update": 60.0,
    "delete_metric_attribution": 60.0,
}
MAX_RUNNING_SEGMENT_JOBS = 5
SEGMENT_RECIPES = {"aws-item-affinity": ("itemId", 500), "aws-item-attribute-affinity": ("itemAttributes", 10)}
_NUMERIC = frozenset({"int", "long", "float", "double"})
_SUM = re.compile(r"SUM\(\s*(\w+)\.(\w+)\s*\)")
_SAMPLECOUNT = re.compile(r"SAMPLECOUNT\(\s*\)")
_DATASET_TYPES = {"Interactions": "INTERACTIONS", "Items": "ITEMS"}


@functools.cache
def _core() -> ModuleType:
    """tests.support.personalize_double, imported when first needed (it imports this module)."""
    from tests.support import personalize_double

    return personalize_double


class SegmentsMixin:
    """CreateBatchSegmentJob / DescribeBatchSegmentJob / ListBatchSegmentJobs and Create / Describe / List /
    Update / DeleteMetricAttribution, ListMetricAttributionMetrics. See the module docstring."""

    # ------------------------------------------------------------------ knobs
    def fail_segments(self, kind: str, reason: str, match: str | None = None, times: int = 1) -> None:
        """The next ``times`` resources of ``kind`` (``batch_segment_job`` or ``metric_attribution``) whose
        name or ARN matches ``match`` (if given) end CREATE FAILED with ``reason``."""
        if kind not in (SEGMENT_JOB, ATTRIBUTION):
            raise ValueError(f"unknown kind {kind!r}; known: {SEGMENT_JOB}, {ATTRIBUTION}")
        with self._lock:  # type: ignore[attr-defined]
            self._failures.append(_core()._Failure(kind, match, reason, times))  # type: ignore[attr-defined]

    def _segment_duration(self, key: str) -> float:
        base = self.durations.get(key, SEGMENT_DURATIONS[key])  # type: ignore[attr-defined]
        return float(base) * self._slow.get(key, 1.0)  # type: ignore[attr-defined]

    def _phases(self, key: str, now: float, first: str, second: str, final: str) -> Any:
        core = _core()
        duration = self._segment_duration(key)
        if duration <= 0:
            return core._Timeline([(now, final)])
        pending_until = now + duration * self.pending_fraction  # type: ignore[attr-defined]
        return core._Timeline([(now, first), (pending_until, second), (now + duration, final)])

    # ================================================================== batch segment jobs
    def _op_CreateBatchSegmentJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        core = _core()
        arn = self._arn(ctx.region, f"batch-segment-job/{p['jobName']}")  # type: ignore[attr-defined]
        self._unique(arn)  # type: ignore[attr-defined]
        version = self._get(p["solutionVersionArn"], "solution_version", ctx)  # type: ignore[attr-defined]
        recipe = str(version.body.get("recipeArn", "")).rsplit("/", 1)[-1]
        if recipe not in SEGMENT_RECIPES:
            raise core._invalid(
                f"Solution version {version.arn} uses {recipe or 'no recipe'}: batch segment jobs need a solution "
                "version trained with a USER_SEGMENTATION recipe."
            )
        if "filterArn" in p:
            self._require_active(self._get(p["filterArn"], "filter", ctx), ctx, "filter")  # type: ignore[attr-defined]
        self._require_active(version, ctx, "solution version")  # type: ignore[attr-defined]
        running = [j for j in self._alive(ctx, SEGMENT_JOB) if j.status(ctx.now) in core.IN_FLIGHT]  # type: ignore[attr-defined]
        if len(running) >= MAX_RUNNING_SEGMENT_JOBS:
            raise core._ApiError(
                "LimitExceededException",
                f"You have reached the quota of {MAX_RUNNING_SEGMENT_JOBS} pending or in progress batch segment "
                "jobs in this region.",
            )
        self._claim_name(SEGMENT_JOB, p["jobName"], ctx)  # type: ignore[attr-defined]
        body: dict[str, Any] = {
            "jobName": p["jobName"],
            "batchSegmentJobArn": arn,
            "solutionVersionArn": version.arn,
            "jobInput": p["jobInput"],
            "jobOutput": p["jobOutput"],
            "roleArn": p["roleArn"],
        }
        for key in ("filterArn", "numResults"):
            if key in p:
                body[key] = p[key]
        fail = self._take_failure(SEGMENT_JOB, [p["jobName"], arn])  # type: ignore[attr-defined]
        fail = fail or self._denied(p["roleArn"], core._batch_access(p, core._partition(ctx.region)))  # type: ignore[attr-defined]
        fail = fail or self._segment_input_problem(p["jobInput"]["s3DataSource"]["path"], recipe)
        timeline = self._phases(
            SEGMENT_JOB, ctx.now, core.PENDING, core.IN_PROGRESS, core.CREATE_FAILED if fail else core.ACTIVE
        )
        self._add(  # type: ignore[attr-defined]
            SEGMENT_JOB, arn, p["jobName"], ctx, body, parent=version.arn, tags=p.get("tags"),
            timeline=timeline, failure_reason=fail,
        )  # fmt: skip
        return {"batchSegmentJobArn": arn}

    def _segment_input_problem(self, uri: str, recipe: str) -> str | None:
        key, most = SEGMENT_RECIPES[recipe]
        try:
            data = self.read_object(uri)  # type: ignore[attr-defined]
        except Exception as exc:  # NoSuchKey/NoSuchBucket from S3
            return f"Input data not found at {uri} ({type(exc).__name__})."
        lines = [line for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
        if not lines:
            return f"Input file {uri} is empty."
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get(key), str):
                return f'Invalid input in {uri} line {number}: each line must be a JSON object with "{key}".'
        if len(lines) > most:
            return f"Input file {uri} has {len(lines)} lines; the {recipe} recipe accepts at most {most}."
        return None

    def _op_DescribeBatchSegmentJob(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._get(p["batchSegmentJobArn"], SEGMENT_JOB, ctx)  # type: ignore[attr-defined]
        return {"batchSegmentJob": self._view(res, ctx)}

    def _op_ListBatchSegmentJobs(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        version = p.get("solutionVersionArn")
        return self._listing(  # type: ignore[attr-defined]
            SEGMENT_JOB, ctx, p, "batchSegmentJobs", "ListBatchSegmentJobs",
            keep=lambda r: version is None or r.parent == version, view=self._view,
        )  # fmt: skip

    # ================================================================== metric attributions
    def _metric_problem(self, metrics: list[dict[str, Any]], group_arn: str) -> str | None:
        schemas = {k.upper(): v for k, v in self._group_schemas(group_arn).items()}  # type: ignore[attr-defined]
        if len(metrics) > 10:
            return f"A metric attribution can have at most 10 metrics, not {len(metrics)}."
        names = [m["metricName"] for m in metrics]
        if len(set(names)) != len(names):
            return "Metric names must be unique within a metric attribution."
        for metric in metrics:
            expression = metric["expression"].strip()
            if _SAMPLECOUNT.fullmatch(expression):
                continue
            match = _SUM.fullmatch(expression)
            if match is None or match.group(1) not in _DATASET_TYPES:
                return f"Invalid expression {expression}: use SAMPLECOUNT() or SUM(Interactions|Items.<column>)."
            dataset_type, column = _DATASET_TYPES[match.group(1)], match.group(2)
            if dataset_type not in schemas:
                return f"Invalid expression {expression}: the dataset group has no {match.group(1)} dataset."
            types = _field_types(schemas[dataset_type])
            if column not in types:
                return f"Invalid expression {expression}: column {column} is not in the {match.group(1)} schema."
            if not types[column] & _NUMERIC:
                return f"Invalid expression {expression}: column {column} is not numeric."
        return None

    def _attribution_access(self, output: dict[str, Any], region: str) -> list[tuple[str, str]]:
        checks = [("cloudwatch:PutMetricData", "*")]
        path = (output.get("s3DataDestination") or {}).get("path")
        if path:
            partition = _core()._partition(region)
            checks.append(("s3:PutObject", f"arn:{partition}:s3:::{path.removeprefix('s3://')}metrics.csv"))
        return checks

    def _op_CreateMetricAttribution(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        core = _core()
        arn = self._arn(ctx.region, f"metric-attribution/{p['name']}")  # type: ignore[attr-defined]
        self._unique(arn)  # type: ignore[attr-defined]
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)  # type: ignore[attr-defined]
        existing = self._children(group.arn, ATTRIBUTION)  # type: ignore[attr-defined]
        if existing:
            raise core._ApiError(
                "ResourceAlreadyExistsException",
                f"Dataset group {group.arn} already has metric attribution {existing[0].arn}; a dataset group "
                "can have one metric attribution.",
            )
        self._require_active(group, ctx, "dataset group")  # type: ignore[attr-defined]
        interactions = {k.upper(): v for k, v in self._group_schemas(group.arn).items()}.get("INTERACTIONS")  # type: ignore[attr-defined]
        if interactions is None or "EVENT_TYPE" not in _field_types(interactions):
            raise core._invalid("A metric attribution needs an Item interactions dataset with an EVENT_TYPE column.")
        problem = self._metric_problem(p["metrics"], group.arn)
        if problem:
            raise core._invalid(problem)
        body = {
            "name": p["name"],
            "metricAttributionArn": arn,
            "datasetGroupArn": group.arn,
            "metricsOutputConfig": p["metricsOutputConfig"],
            "_metrics": list(p["metrics"]),
        }
        fail = self._take_failure(ATTRIBUTION, [p["name"], arn])  # type: ignore[attr-defined]
        output = p["metricsOutputConfig"]
        fail = fail or self._denied(output["roleArn"], self._attribution_access(output, ctx.region))  # type: ignore[attr-defined]
        timeline = self._phases(
            ATTRIBUTION,
            ctx.now,
            core.CREATE_PENDING,
            core.CREATE_IN_PROGRESS,
            core.CREATE_FAILED if fail else core.ACTIVE,
        )
        self._add(ATTRIBUTION, arn, p["name"], ctx, body, parent=group.arn, timeline=timeline, failure_reason=fail)  # type: ignore[attr-defined]
        return {"metricAttributionArn": arn}

    def _attribution(self, p: dict[str, Any], ctx: Any) -> Any:
        if "metricAttributionArn" not in p:
            raise _core()._invalid("metricAttributionArn is required.")
        return self._get(p["metricAttributionArn"], ATTRIBUTION, ctx)  # type: ignore[attr-defined]

    def _op_DescribeMetricAttribution(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"metricAttribution": self._view(self._attribution(p, ctx), ctx)}

    def _op_ListMetricAttributions(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        return self._listing(  # type: ignore[attr-defined]
            ATTRIBUTION, ctx, p, "metricAttributions", "ListMetricAttributions",
            keep=lambda r: group is None or r.parent == group, view=self._view,
        )  # fmt: skip

    def _op_ListMetricAttributionMetrics(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        res = self._attribution(p, ctx)
        return self._page(list(res.body["_metrics"]), "metrics", p, "ListMetricAttributionMetrics")  # type: ignore[attr-defined]

    def _settled_or_busy(self, res: Any, ctx: Any, what: str) -> None:
        core = _core()
        status = res.status(ctx.now)
        if status not in (core.ACTIVE, core.CREATE_FAILED):
            raise core._in_use(f"Cannot {what} metric attribution {res.arn} while it is {status}.")

    def _op_UpdateMetricAttribution(self, p: dict[str, Any], ctx: Any) -> dict[str, Any]:
        core = _core()
        res = self._attribution(p, ctx)
        self._settled_or_busy(res, ctx, "update")
        metrics = {m["metricName"]: m for m in res.body["_metrics"]}
        both = set(p.get("removeMetrics", [])) & {m["metricName"] for m in p.get("addMetrics", [])}
        if both:  # STRICTER: the API does not say one call may remove and add a name
            raise core._invalid(f"Metrics {sorted(both)} are both removed and added in one update.")
        for name in p.get("removeMetrics", []):
            if name not in metrics:
                raise core._invalid(f"Metric {name} is not in metric attribution {res.arn}.")
            del metrics[name]
        for metric in p.get("addMetrics", []):
            if metric["metricName"] in metrics:
                raise core._invalid(f"Metric {metric['metricName']} is already in metric attribution {res.arn}.")
            metrics[metric["metricName"]] = metric
        problem = self._metric_problem(list(metrics.values()), res.parent)
        if problem:
            raise core._invalid(problem)
        output = p.get("metricsOutputConfig", res.body["metricsOutputConfig"])
        fail = self._denied(output["roleArn"], self._attribution_access(output, ctx.region))  # type: ignore[attr-defined]
        res.body["_metrics"] = list(metrics.values())
        res.body["metricsOutputConfig"] = output
        res.failure_reason = fail
        final = core.CREATE_FAILED if fail else core.ACTIVE
        update = self._phases("metric_attribution_update", ctx.now, "UPDATE PENDING", "UPDATE IN_PROGRESS", final)
        res.timeline.truncate(ctx.now)
        res.timeline.phases += update.phases
        return {"metricAttributionArn": res.arn}

    def _op_DeleteMetricAttribution(self, p: dict[str, Any], ctx: Any) -> None:
        core = _core()
        res = self._attribution(p, ctx)
        self._settled_or_busy(res, ctx, "delete")
        duration = self._segment_duration("delete_metric_attribution")
        if duration <= 0:
            self._remove(res.arn)  # type: ignore[attr-defined]
            return
        res.timeline.truncate(ctx.now)
        res.timeline.phases += [
            (ctx.now, core.DELETE_PENDING),
            (ctx.now + duration * self.pending_fraction, core.DELETE_IN_PROGRESS),  # type: ignore[attr-defined]
            (ctx.now + duration, core._GONE),
        ]


def _field_types(schema: str) -> dict[str, set[str]]:
    types: dict[str, set[str]] = {}
    for item in json.loads(schema).get("fields", []):
        kind = item["type"]
        names = {t for t in kind if isinstance(t, str)} if isinstance(kind, list) else {str(kind)}
        types[item["name"]] = names - {"null"}
    return types
