"""The run report: offline metrics of every trained solution version, each compared with the
Popularity-Count baseline, plus where everything the run built can be found."""

from __future__ import annotations

import json
from typing import Any

from poc_steps import report_segments
from poc_steps.adapter import PersonalizeAdapter

# Metrics shown in the readable table, in this order (GetSolutionMetrics returns more; the JSON keeps all).
HEADLINE_METRICS = (
    "normalized_discounted_cumulative_gain_at_10",
    "precision_at_10",
    "mean_reciprocal_rank_at_25",
    "coverage",
)


def collect_metrics(adapter: PersonalizeAdapter, solutions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for solution in solutions:
        response = adapter.call(
            "get_solution_metrics",
            f"reading metrics of {solution['versionArn']}",
            solutionVersionArn=solution["versionArn"],
        )
        rows.append(
            {
                "solution": solution["label"],
                "recipe": solution["recipe"],
                "baseline": bool(solution.get("baseline")),
                "solutionVersionArn": solution["versionArn"],
                "metrics": {k: float(v) for k, v in sorted(response.get("metrics", {}).items())},
            }
        )
    baseline = next((row for row in rows if row["baseline"]), None)
    for row in rows:
        row["liftOverBaseline"] = (
            None
            if baseline is None or row is baseline
            else {name: _lift(value, baseline["metrics"].get(name)) for name, value in row["metrics"].items()}
        )
    return rows


def _lift(value: float, base: float | None) -> float | None:
    if base is None or base == 0:
        return None
    return round((value - base) / base * 100, 1)


def render_table(rows: list[dict[str, Any]]) -> str:
    header = ["solution", "recipe", *HEADLINE_METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["solution"] + (" (baseline)" if row["baseline"] else ""), row["recipe"]]
        for metric in HEADLINE_METRICS:
            value = row["metrics"].get(metric)
            lift = (row["liftOverBaseline"] or {}).get(metric)
            cell = "n/a" if value is None else f"{value:.4f}"
            if lift is not None:
                cell += f" ({lift:+.1f}%)"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def build_report(run: dict[str, Any], metrics: list[dict[str, Any]], generated_at: str) -> dict[str, Any]:
    return {
        "execution": run.get("execution"),
        "generatedAt": generated_at,
        "datasetGroupArn": run["datasetGroup"]["arn"],
        "solutions": metrics,
        "campaigns": [_campaign(c) for s in run["solutions"] for c in s.get("campaigns", [])],
        "filters": [{"name": f["label"], "arn": f["arn"]} for f in run.get("filters", [])],
        "eventTracker": run.get("eventTracker"),
        "batchInference": [
            {"name": b["label"], "arn": b["arn"], "outputUri": b["outputUri"]}
            for s in run["solutions"]
            for b in s.get("batchJobs", [])
        ],
        # A domain dataset group's recommenders with the model metrics DescribeRecommender gives.
        "recommenders": [
            {"name": r["label"], "useCase": r["useCase"], "arn": r["arn"], "modelMetrics": r.get("modelMetrics") or {}}
            for r in run.get("recommenders") or []
        ],
        **report_segments.report_fields(run),
    }


def _campaign(campaign: dict[str, Any]) -> dict[str, Any]:
    """Name and ARN, and the promotion decision when this run weighed a new version (promotion.py)."""
    decided = campaign.get("promotion") or {}
    weighed = {"promotion": decided} if decided.get("decision", "none") != "none" else {}
    return {"name": campaign["label"], "arn": campaign["arn"], **weighed}


def promotion_notes(report: dict[str, Any]) -> str:
    """For the notification: each campaign this run moved to its new version and each that kept the one in
    service instead, and why (the POC definition's promotion rule, lambdas/poc_steps/promotion.py)."""
    notes = []
    for campaign in report["campaigns"]:
        decided, name = campaign.get("promotion") or {}, campaign["name"]
        if decided.get("decision") == "promote":
            notes.append(f"\n- campaign {name} moved to its new version {decided['candidate']}: {decided['reason']}")
        elif decided.get("decision") == "keep":
            notes.append(f"\n- campaign {name} kept its version: {decided['reason']}")
    return "".join(notes)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Personalize POC run report",
        "",
        f"Execution: {report['execution']}  ",
        f"Generated: {report['generatedAt']}  ",
        f"Dataset group: {report['datasetGroupArn']}",
        "",
        "## Offline metrics (lift over the Popularity-Count baseline in brackets)",
        "",
        render_table(report["solutions"]),
        "",
        "## Deployed",
        "",
    ]
    lines += [f"- campaign {c['name']}: {c['arn']}" for c in report["campaigns"]]
    lines += [line for line in promotion_notes(report).splitlines() if line]
    lines += [f"- filter {f['name']}: {f['arn']}" for f in report["filters"]]
    if report.get("eventTracker"):
        lines.append(
            f"- event tracker: {report['eventTracker']['arn']} (tracking id {report['eventTracker'].get('trackingId')})"
        )
    lines += [f"- batch inference {b['name']}: {b['outputUri']}" for b in report["batchInference"]]
    lines += report_segments.markdown(report)
    lines += render_recommenders(report.get("recommenders") or [])
    return "\n".join(lines) + "\n"


def render_recommenders(recommenders: list[dict[str, Any]]) -> list[str]:
    """Markdown lines: each recommender, its use case and ARN, then its model metrics (as the service names them)."""
    if not recommenders:
        return []
    lines = ["", "## Recommenders (model metrics from DescribeRecommender)", ""]
    for recommender in recommenders:
        lines.append(f"- recommender {recommender['name']} ({recommender['useCase']}): {recommender['arn']}")
        metrics = recommender.get("modelMetrics") or {}
        lines += [f"  - {name}: {value:.4f}" for name, value in sorted(metrics.items())]
        if not metrics:
            lines.append("  - no model metrics reported")
    return lines


def parameters_to_publish(report: dict[str, Any], path: str, report_uri: str) -> dict[str, str]:
    """SSM parameters under the environment's path: what the notebook, the CLI and other stacks read."""
    params = {f"{path}/dataset-group-arn": report["datasetGroupArn"], f"{path}/report-uri": report_uri}
    for campaign in report["campaigns"]:
        params[f"{path}/campaigns/{campaign['name']}"] = campaign["arn"]
    for item in report["filters"]:
        params[f"{path}/filters/{item['name']}"] = item["arn"]
    if report.get("eventTracker"):
        params[f"{path}/event-tracker/arn"] = report["eventTracker"]["arn"]
        if report["eventTracker"].get("trackingId"):
            params[f"{path}/event-tracker/tracking-id"] = report["eventTracker"]["trackingId"]
    for job in report["batchInference"]:
        params[f"{path}/batch-output/{job['name']}"] = job["outputUri"]
    for row in report["solutions"]:
        params[f"{path}/solution-versions/{row['solution']}"] = row["solutionVersionArn"]
    for recommender in report.get("recommenders") or []:
        params[f"{path}/recommenders/{recommender['name']}"] = recommender["arn"]
    params.update(report_segments.parameters(report, path))
    return params


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=str)
