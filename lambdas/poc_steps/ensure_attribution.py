"""Ensure the dataset group's metric attribution: create it once, bring its metrics and output in line
with the POC definition (UpdateMetricAttribution), and report where it stands.

"Guidelines and requirements for a metric attribution": at most one per dataset group, so the one the
group has is reused whatever its name (one made by hand in the notebook is taken over, as the event
tracker is). Describe has no metrics (botocore MetricAttribution), ListMetricAttributionMetrics has them.
"""

from __future__ import annotations

from typing import Any

from poc_steps import ensure as core
from poc_steps.adapter import PersonalizeAdapter


def _output_config(spec: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """botocore MetricAttributionOutput: the role (required) and, for S3 reports, the bucket path."""
    config: dict[str, Any] = {"roleArn": role_arn}
    if spec.get("s3Path"):
        config["s3DataDestination"] = {"path": spec["s3Path"]}
    return config


def _metrics_of(adapter: PersonalizeAdapter, arn: str) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    paginator = adapter.client.get_paginator("list_metric_attribution_metrics")
    for page in paginator.paginate(metricAttributionArn=arn):
        metrics += page.get("metrics", [])
    return metrics


def _changes(
    current: list[dict[str, Any]], wanted: list[dict[str, Any]], described: dict[str, Any], output: dict[str, Any]
) -> dict[str, Any]:
    """UpdateMetricAttribution's parameters that bring the attribution closer to the config (empty: no change).
    A metric whose event type or expression changed is removed first and added back under its name by the
    next update: the API does not say it takes one name in removeMetrics and addMetrics at once (the double
    refuses it, the stricter reading)."""
    have = {m["metricName"]: m for m in current}
    want = {m["metricName"]: m for m in wanted}
    remove = sorted(n for n in have if n not in want or have[n] != want[n])
    add = [m for n, m in want.items() if n not in have]
    params: dict[str, Any] = {}
    if remove:
        params["removeMetrics"] = remove
    if add:
        params["addMetrics"] = add
    if (described.get("metricsOutputConfig") or {}) != output:
        params["metricsOutputConfig"] = output
    return params


def ensure_metric_attribution(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    output = _output_config(spec, refs["roleArn"])
    existing = adapter.list_all("metric_attribution", datasetGroupArn=group_arn)
    if not existing:
        created = core._create(
            adapter,
            "create_metric_attribution",
            f"creating metric attribution {name}",
            "metricAttributionArn",
            lambda: next(iter(adapter.list_all("metric_attribution", datasetGroupArn=group_arn)), None),
            # No tags: CreateMetricAttribution has no tags member (botocore).
            name=name,
            datasetGroupArn=group_arn,
            metrics=spec["metrics"],
            metricsOutputConfig=output,
        )
        return core.result(created["metricAttributionArn"], "CREATE PENDING", attempt)
    arn = adapter.arn_of("metric_attribution", existing[0])
    described = adapter.describe("metric_attribution", arn)
    unusable = core._unusable(
        adapter,
        "metric attribution",
        name,
        arn,
        described,
        attempt,
        "delete_metric_attribution",
        "metricAttributionArn",
    )
    if unusable:
        return unusable
    status = described["status"]
    if status == "ACTIVE":
        changes = _changes(_metrics_of(adapter, arn), spec["metrics"], described, output)
        if changes:
            adapter.call(
                "update_metric_attribution", f"updating metric attribution {name}", metricAttributionArn=arn, **changes
            )
            return core.result(arn, "UPDATE PENDING", attempt, updated=sorted(changes))
    return core._settle("metric attribution", name, described, arn, attempt)
