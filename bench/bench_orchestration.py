#!/usr/bin/env python3
"""How close the POC workflow gets to the critical path of the service's own work, and what running
the same steps strictly one after another would cost.

Each scenario rehearses the sample POC offline (tests/rehearsal: the synthesized state machine in
moto, the Lambda asset in-process, the Personalize double) on simulated time, twice, each on a fresh
double:

* parallel - the product's definition, as deployed;
* sequential - the baseline: a test copy of the resolved definition with every Map at
  MaxConcurrency 1, run on a clock whose joins add up their branches (a Parallel's branches count one
  after another instead of side by side). Every step, poll and retry is the same as in the parallel
  run; only the overlap is gone. (Chaining the Parallel branches in ASL would need their outputs
  re-plumbed; adding the durations gives the same makespan, because the branches share nothing but
  the filter a batch job waits for, which the filters branch creates first either way.)

Figures per run: simulated makespan, the critical path (longest chain of dependent service work,
from the double's records), their ratio, the sum of all service work, state transitions
(*StateEntered events, what Step Functions bills), Lambda invocations, the peak history (events in
the execution's history; Step Functions fails an execution at 25,000) and wall time.

The goal for the ratio is 1 + polling.GROWTH: wait loops check at the configured interval first, then
every tenth of the time already waited (lambdas/poc_steps/polling.py, which keeps the history
bounded), so each resource may be noticed up to a tenth of its duration late.

Scenarios: "default" uses the double's realistic durations with instantaneous Lambda tasks;
"off-grid" stretches every duration by 13 % so that completions fall between polls, and gives each
Lambda task 1 s of latency - the polling overhead a real run sees. "ten-solutions-40h" is the history
scenario of issue 9 (tests/test_rehearsal_limits.py): ten solutions training 40 hours each, imports
of 20 hours, everything else at the tests' fast durations; run in parallel only (its goal is the
history: below 25,000 events, 10,000 wanted).

Writes bench/out/orchestration.json and prints a table. Usage: python bench/bench_orchestration.py
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.rehearsal.harness import Rehearsal  # noqa: E402
from tests.rehearsal.runner import fresh_assembly, synthesize  # noqa: E402
from tests.rehearsal.sfn_quotas import MAX_HISTORY_EVENTS  # noqa: E402
from tests.rehearsal.trace import clock, service_work, summarize  # noqa: E402
from tests.support import lambda_path  # noqa: E402, F401  (puts lambdas/ on sys.path)
from tests.support.personalize_double import DEFAULT_DURATIONS  # noqa: E402
from tests.test_rehearsal_limits import LONG, TEN, synthesize_ten_solutions  # noqa: E402

from poc_steps.polling import GROWTH  # noqa: E402  # isort: skip

OUT_FILE = PROJECT_ROOT / "bench" / "out" / "orchestration.json"
GOAL_RATIO = round(1 + GROWTH, 3)
HISTORY_GOAL = 10_000
SCENARIOS: dict[str, tuple[dict[str, float], float]] = {
    "default": (dict(DEFAULT_DURATIONS), 0.0),
    "off-grid": ({k: v * 1.13 for k, v in DEFAULT_DURATIONS.items()}, 1.0),
}
LONG_SCENARIO = "ten-solutions-40h"


def one_at_a_time(definition: dict[str, Any]) -> dict[str, Any]:
    """The test copy for the sequential baseline: every Map runs its items one by one."""
    result = copy.deepcopy(definition)

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if state.get("Type") == "Map":
                state["MaxConcurrency"] = 1
                processor = state.get("ItemProcessor") or state.get("Iterator") or {}
                walk(processor.get("States", {}))
            for branch in state.get("Branches", []):
                walk(branch.get("States", {}))

    walk(result["States"])
    return result


def rehearse(
    assembly: Path,
    durations: dict[str, float],
    task_seconds: float,
    sequential: bool,
    stage: str = "dev",
    timeout: float = 120.0,
) -> dict[str, Any]:
    # The sequential baseline runs a copy of the state machine, whose executions the guard's role may not
    # list (its policy names the product's state machine): IAM is off for that copy only.
    with Rehearsal(
        assembly,
        stage,
        durations=durations,
        task_seconds=task_seconds,
        sequential=sequential,
        enforce_iam=not sequential,
    ) as rehearsal:
        rehearsal.upload_sample_data()
        target = rehearsal.deploy_variant("sequential", one_at_a_time) if sequential else None
        run = rehearsal.run(state_machine_arn=target, timeout=timeout)
        if run.status != "SUCCEEDED":
            raise SystemExit(f"rehearsal failed: {run.error}: {run.cause}")
        summary = summarize(rehearsal, run)
        work = service_work(rehearsal)
        figures = summary.as_dict()
        figures["serviceWorkSumSeconds"] = sum(w.seconds for w in work)
        figures["peakHistoryEvents"] = run.history_events
        return figures


def main() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # moto logs each caught failure at length
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-orchestration-") as scratch:
        default_assembly = PROJECT_ROOT / "cdk.out"
        assembly = default_assembly if fresh_assembly(default_assembly, "dev") else synthesize(Path(scratch))
        for name, (durations, task_seconds) in SCENARIOS.items():
            parallel = rehearse(assembly, durations, task_seconds, sequential=False)
            sequential = rehearse(assembly, durations, task_seconds, sequential=True)
            results[name] = {
                "taskSeconds": task_seconds,
                "durations": durations,
                "parallel": parallel,
                "sequential": sequential,
                "speedupOverSequential": round(sequential["makespanSeconds"] / parallel["makespanSeconds"], 3),
                "meetsGoal": parallel["makespanOverCriticalPath"] <= GOAL_RATIO,
            }
        long_assembly = synthesize_ten_solutions(Path(scratch) / "ten")
        long_run = rehearse(long_assembly, dict(LONG), 0.0, sequential=False, stage=TEN, timeout=1800)
        results[LONG_SCENARIO] = {
            "taskSeconds": 0.0,
            "durations": dict(LONG),
            "parallel": long_run,
            "meetsGoal": long_run["peakHistoryEvents"] < min(HISTORY_GOAL, MAX_HISTORY_EVENTS),
        }
    report = {
        "goal": (
            f"parallel makespan / critical path <= {GOAL_RATIO}; {LONG_SCENARIO}: peak history < {HISTORY_GOAL} "
            f"events (Step Functions fails an execution at {MAX_HISTORY_EVENTS})"
        ),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "measuredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenarios": results,
    }
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps(report, indent=2) + "\n")

    header = (
        f"{'scenario':<17} {'order':<11} {'makespan':>9} {'crit.path':>9} {'ratio':>6} {'work sum':>9} "
        f"{'transitions':>11} {'lambdas':>7} {'history':>7} {'wall s':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, result in results.items():
        for order in ("parallel", "sequential"):
            if order not in result:
                continue
            r = result[order]
            print(
                f"{name:<17} {order:<11} {clock(r['makespanSeconds']):>9} "
                f"{clock(r['criticalPathSeconds']):>9} "
                f"{r['makespanOverCriticalPath']:>6.3f} {clock(r['serviceWorkSumSeconds']):>9} "
                f"{r['stateTransitions']:>11} {r['lambdaInvocationsTotal']:>7} {r['peakHistoryEvents']:>7} "
                f"{r['wallSeconds']:>7.1f}"
            )
        if name == LONG_SCENARIO:
            print(
                f"{'':<17} peak history {result['parallel']['peakHistoryEvents']} events; goal "
                f"(< {HISTORY_GOAL}) {'met' if result['meetsGoal'] else 'NOT met'}"
            )
            continue
        print(
            f"{'':<17} parallel is {result['speedupOverSequential']:.2f}x faster than sequential; goal "
            f"(ratio <= {GOAL_RATIO}) {'met' if result['meetsGoal'] else 'NOT met'}"
        )
    print(f"\nWrote {OUT_FILE.relative_to(PROJECT_ROOT)}")
    return 0 if all(r["meetsGoal"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
