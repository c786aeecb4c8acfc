"""The run report's user segments and metric attribution (report.py calls these): where each batch
segment job wrote its segments, and which metric attribution reports on the POC's events and where."""

from __future__ import annotations

from typing import Any


def report_fields(run: dict[str, Any]) -> dict[str, Any]:
    """`batchSegments` (each job's output folder) and `metricAttribution` (its ARN, metrics and S3 path)."""
    attribution = run.get("metricAttribution")
    spec = (run.get("config") or {}).get("metricAttribution") or {}
    return {
        "batchSegments": [
            {"name": j["label"], "arn": j["arn"], "outputUri": j["outputUri"]}
            for s in run["solutions"]
            for j in s.get("segmentJobs") or []
        ],
        "metricAttribution": (
            {
                "arn": attribution["arn"],
                "metrics": [m["metricName"] for m in spec.get("metrics", [])],
                # "Publishing and viewing results": CloudWatch always; S3 reports when a path is given.
                "s3Path": spec.get("s3Path"),
            }
            if attribution and attribution.get("arn")
            else None
        ),
    }


def markdown(report: dict[str, Any]) -> list[str]:
    lines = [f"- user segments {j['name']}: {j['outputUri']}" for j in report.get("batchSegments") or []]
    attribution = report.get("metricAttribution")
    if attribution:
        where = "CloudWatch" + (f" and {attribution['s3Path']}" if attribution.get("s3Path") else "")
        lines.append(
            f"- metric attribution ({', '.join(attribution['metrics'])}, reported to {where}): {attribution['arn']}"
        )
    return lines


def parameters(report: dict[str, Any], path: str) -> dict[str, str]:
    params = {f"{path}/segment-output/{j['name']}": j["outputUri"] for j in report.get("batchSegments") or []}
    attribution = report.get("metricAttribution")
    if attribution:
        params[f"{path}/metric-attribution/arn"] = attribution["arn"]
        if attribution.get("s3Path"):
            params[f"{path}/metric-attribution/s3-path"] = attribution["s3Path"]
    return params
