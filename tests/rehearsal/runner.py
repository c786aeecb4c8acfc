"""`make rehearse`: synthesize (or reuse a fresh cdk.out), deploy into moto, upload the sample data,
run the POC workflow on simulated time, print the progress trace and the summary.

    python -m tests.rehearsal [--env dev] [--assembly cdk.out] [--quiet] [--json out.json]

Exits 1 if the execution does not succeed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: What a synthesized assembly is built from: if any is newer than cdk.out, synthesize again.
SOURCES = ("app.py", "cdk.json", "config", "constructs", "stacks", "lambdas", "personalize_poc")


def newest_source_mtime(root: Path = PROJECT_ROOT) -> float:
    newest = 0.0
    for name in SOURCES:
        path = root / name
        files = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
        )
        for file in files:
            if "__pycache__" not in file.parts and file.suffix != ".pyc":
                newest = max(newest, file.stat().st_mtime)
    return newest


def fresh_assembly(assembly: Path, env: str) -> bool:
    manifest = assembly / f"assembly-{env}" / "manifest.json"
    return manifest.exists() and manifest.stat().st_mtime >= newest_source_mtime()


def synthesize(outdir: Path) -> Path:
    """The app as `make synth` builds it (cdk-nag off: the rehearsal is not the gate for it)."""
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    from stacks.application import build_app

    build_app(outdir=str(outdir), nag=False).synth()
    return outdir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev", help="environment (stage) to rehearse (default: dev)")
    parser.add_argument(
        "--assembly",
        type=Path,
        default=PROJECT_ROOT / "cdk.out",
        help="cloud assembly to use if it is newer than the sources (default: cdk.out)",
    )
    parser.add_argument(
        "--task-seconds", type=float, default=0.0, help="simulated latency of each Lambda task (default: 0)"
    )
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument(
        "--teardown",
        action="store_true",
        help="after the POC run, run the teardown workflow and show that nothing is left",
    )
    args = parser.parse_args(argv)

    # moto logs every caught state failure with the whole parsed state machine; the trace says it better.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    from tests.rehearsal.harness import Rehearsal
    from tests.rehearsal.trace import progress_lines, summarize, summary_lines

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rehearsal-cdk-out-") as scratch:
        if fresh_assembly(args.assembly, args.env):
            assembly = args.assembly
            print(f"Using the synthesized assembly in {assembly}")
        else:
            print("Synthesizing (cdk.out is missing or older than the sources)...", flush=True)
            assembly = synthesize(Path(scratch))
        print(f"Deploying stage '{args.env}' into moto...", flush=True)
        with Rehearsal(assembly, args.env, task_seconds=args.task_seconds) as rehearsal:
            assert rehearsal.deployment is not None
            skipped = sorted(set(rehearsal.deployment.skipped.values()))
            print(
                f"  deployed {len(rehearsal.deployment.physical)} resources; not deployed (not needed "
                f"offline): {', '.join(skipped)}"
            )
            for reason in rehearsal.deployment.rejected.values():
                print(f"  state machine not deployed: {reason}")
            deployed_at = time.monotonic()
            uploaded = rehearsal.upload_sample_data()
            print(f"  uploaded the sample data: {', '.join(sorted(uploaded))}")
            print(f"Running {rehearsal.workflow_arn.rsplit(':', 1)[-1]} on simulated time...\n", flush=True)
            run = rehearsal.run()
            if not args.quiet:
                print("sim time  step / resource / status")
                print("\n".join(progress_lines(run)))
                print()
            summary = summarize(rehearsal, run)
            print("\n".join(summary_lines(summary)))
            print(
                f"Total wall time:     {time.monotonic() - started:.1f} s (synthesis/deployment "
                f"{deployed_at - started:.1f} s)"
            )
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
            if run.status != "SUCCEEDED":
                print(f"\nThe rehearsal FAILED: {run.error}: {run.cause}", file=sys.stderr)
                return 1
            if args.teardown:
                return _rehearse_teardown(rehearsal, quiet=args.quiet)
    return 0


def _rehearse_teardown(rehearsal: Any, *, quiet: bool) -> int:
    from tests.rehearsal.trace import clock, progress_lines

    assert rehearsal.deployment is not None
    prefix = rehearsal.plan["namePrefix"]
    arn = rehearsal.deployment.state_machine_named(f"{prefix}-poc-teardown")
    print(f"\nRunning {arn.rsplit(':', 1)[-1]} on simulated time...\n", flush=True)
    run = rehearsal.run(state_machine_arn=arn)
    if not quiet:
        print("sim time  step / resource / status")
        print("\n".join(progress_lines(run)))
        print()
    if run.status != "SUCCEEDED":
        print(f"The teardown FAILED: {run.error}: {run.cause}", file=sys.stderr)
        return 1
    deleted = json.loads(run.description["output"])["deleted"]
    print(f"Teardown:            {run.status} in {clock(run.makespan)} simulated")
    for level, arns in deleted.items():
        print(f"  {level:<22} {len(arns)} deleted")
    # Batch inference jobs are records of finished work: the API has no way to delete them.
    left = [
        r
        for r in rehearsal.double.resources()
        if r.name.startswith(prefix) and r.kind != "batch_inference_job"
    ]
    print(
        f"Left of this POC:    {len(left)} resources"
        + "".join(f"\n  {r.kind} {r.name} {r.status}" for r in left)
    )
    return 1 if left else 0
