"""Whether a campaign moves to a newly trained solution version: only when the new version is not worse
than the one in service on the POC's primary offline metric (GetSolutionMetrics; higher is better for
every metric the POC definition allows), within an absolute tolerance. Pure logic; ensure.py asks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def decide(
    rule: Mapping[str, Any],
    serving: str,
    candidate: str,
    serving_metrics: Mapping[str, Any],
    candidate_metrics: Mapping[str, Any],
) -> dict[str, Any]:
    """{decision: promote|keep, metric, serving, candidate, servingValue, candidateValue, reason}"""
    metric, tolerance = str(rule["metric"]), float(rule.get("tolerance", 0.0))
    old, new = serving_metrics.get(metric), candidate_metrics.get(metric)
    decision: dict[str, Any] = {
        "metric": metric,
        "serving": serving,
        "candidate": candidate,
        "servingValue": old,
        "candidateValue": new,
    }
    if old is None or new is None:
        # Nothing to compare against (the service reports no such metric for one of them): deploy the new
        # version, as the workflow did before there was a rule, and say so.
        missing = serving if old is None else candidate
        return {**decision, "decision": "promote", "reason": f"{metric} not reported for {missing}; not compared"}
    if float(new) + tolerance < float(old):
        return {
            **decision,
            "decision": "keep",
            "reason": f"new version {candidate} scores {metric} {float(new):.4f}, worse than {float(old):.4f} "
            f"of {serving} in service (tolerance {tolerance:g}); the campaign keeps {serving}",
        }
    return {
        **decision,
        "decision": "promote",
        "reason": f"{metric} {float(new):.4f} vs {float(old):.4f} in service (tolerance {tolerance:g})",
    }
