"""`make rehearse`: rehearse the environment's own POC definition offline - synthesize it (or reuse a
fresh cdk.out built from it), deploy into moto, upload data, run the POC workflow on simulated time,
print the progress trace and the summary.

    python -m tests.rehearsal [--env dev] [--poc FILE] [--data DIR] [--assembly cdk.out] [--quiet] [--json out.json]

``--poc FILE`` (make rehearse POC=config/poc-ecommerce.yaml) rehearses another POC definition with the
environment's settings, as if its ``poc_config`` named that file.

The environment comes from config/environments.yaml, or the file POC_ENVIRONMENTS_FILE names (as for
synth). The data is the user's files in DIR (each dataset's data_key, each batch job's input_key), or,
without DIR, data generated to fit the definition's schemas (tests/rehearsal/poc_data.py); the first
line of output says which. A bad definition or settings file is one line (as synth prints it), exit 1.
Exits 1 if the execution does not succeed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from personalize_poc.data.checks import SchemaError
from personalize_poc.poc_definition import PocConfigError
from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, EnvironmentSettings, SettingsError, load_environment
from tests.rehearsal.poc_data import DataError, RehearsalData, definition_plan, generated, given, upload

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: What a synthesized assembly is built from: if any is newer than cdk.out, synthesize again.
SOURCES = ("app.py", "cdk.json", "config", "constructs", "stacks", "lambdas", "personalize_poc")


def newest_source_mtime(root: Path = PROJECT_ROOT, extra: Sequence[Path] = ()) -> float:
    newest = 0.0
    for path in [*(root / name for name in SOURCES), *extra]:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.exists() else []
        for file in files:
            if "__pycache__" not in file.parts and file.suffix != ".pyc":
                newest = max(newest, file.stat().st_mtime)
    return newest


def fresh_assembly(
    assembly: Path, env: str, environments_file: Path = DEFAULT_ENVIRONMENTS_FILE, poc_config: Path | None = None
) -> bool:
    """cdk.out holds this environment and nothing it is built from is newer (the settings file and the
    POC definition's folder count too: they may live outside the project)."""
    manifest = assembly / f"assembly-{env}" / "manifest.json"
    extra = [environments_file, *([poc_config.parent] if poc_config else [])]
    return manifest.exists() and manifest.stat().st_mtime >= newest_source_mtime(extra=extra)


def synthesize(
    outdir: Path, environments_file: Path = DEFAULT_ENVIRONMENTS_FILE, only: list[str] | None = None
) -> Path:
    """The app as `make synth` builds it (cdk-nag off: the rehearsal is not the gate for it)."""
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    from stacks.application import build_app

    build_app(outdir=str(outdir), environments_file=environments_file, only=only, nag=False).synth()
    return outdir


def data_signature(plan: Mapping[str, Any]) -> Any:
    """What the rehearsal's data depends on: datasets (schema, key), filters, solutions' recipes and
    event types, batch inputs. Two plans that differ here were built from different definitions."""
    return json.dumps(
        {
            "datasets": [(d["type"], d["schema"], d["dataKey"]) for d in plan["datasets"]],
            "filters": [f["expression"] for f in plan["filters"]],
            "solutions": [
                (s["name"], s["recipe"], s.get("eventType"), [b["inputUri"].split("/", 3)[3] for b in s["batchJobs"]])
                for s in plan["solutions"]
            ],
        },
        sort_keys=True,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.rehearsal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="dev", help="environment (stage) to rehearse (default: dev)")
    parser.add_argument(
        "--data",
        type=Path,
        help="folder with your data files (default: generate data that fits the POC definition's schemas)",
    )
    parser.add_argument(
        "--assembly",
        type=Path,
        help="cloud assembly folder: reused if it holds this environment built from this definition, else "
        "synthesized into (default: cdk.out if newer than the sources, else a temporary folder)",
    )
    parser.add_argument(
        "--task-seconds", type=float, default=0.0, help="simulated latency of each Lambda task (default: 0)"
    )
    parser.add_argument(
        "--poc",
        type=Path,
        help="POC definition to rehearse instead of the environment's poc_config (e.g. config/poc-ecommerce.yaml)",
    )
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument("--json", type=Path, help="also write the summary as JSON here")
    parser.add_argument(
        "--teardown",
        action="store_true",
        help="after the POC run, run the teardown workflow and show that nothing is left",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, durations: Mapping[str, float] | None = None) -> int:
    """``durations``: the double's simulated durations (tests pass the harness's FAST_DURATIONS)."""
    args = _parser().parse_args(argv)
    environments_file = Path(os.environ.get("POC_ENVIRONMENTS_FILE") or DEFAULT_ENVIRONMENTS_FILE)
    with tempfile.TemporaryDirectory(prefix="rehearsal-env-") as env_scratch:
        if args.poc is not None:
            environments_file = with_poc(environments_file, args.env, args.poc, Path(env_scratch))
        return _main(args, environments_file, durations)


def with_poc(environments_file: Path, env: str, poc: Path, folder: Path) -> Path:
    """An environments file holding only ``env``, its settings unchanged but poc_config naming ``poc``."""
    import yaml

    raw = yaml.safe_load(environments_file.read_text(encoding="utf-8")) or {}
    settings = dict(raw.get(env) or {}) if isinstance(raw, dict) else {}
    settings["poc_config"] = str(poc.resolve())
    target = folder / "environments.yaml"
    target.write_text(yaml.safe_dump({env: settings}, sort_keys=False), encoding="utf-8")
    return target


def _main(args: argparse.Namespace, environments_file: Path, durations: Mapping[str, float] | None) -> int:
    try:
        settings = load_environment(args.env, environments_file)
        plan = definition_plan(settings)
    except SettingsError as error:
        print(f"Invalid settings: {error}", file=sys.stderr)
        return 1
    except PocConfigError as error:
        print(f"Invalid POC definition: {error}", file=sys.stderr)
        return 1
    # moto logs every caught state failure with the whole parsed state machine; the trace says it better.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as scratch:
        try:
            data = (
                given(plan, args.data, Path(scratch, "data")) if args.data else generated(plan, Path(scratch, "data"))
            )
        except DataError as error:
            print(f"Invalid data: {error}", file=sys.stderr)
            return 1
        except SchemaError as error:  # a schema the definition accepts but no CSV value generator fits
            print(f"Cannot generate data for this POC definition ({error}); give your files: DATA=dir", file=sys.stderr)
            return 1
        print(data.headline, flush=True)
        with _deployed(args, settings, environments_file, plan, Path(scratch, "cdk.out"), durations) as rehearsal:
            return _run(rehearsal, data, args, started)


@contextlib.contextmanager
def _deployed(
    args: argparse.Namespace,
    settings: EnvironmentSettings,
    environments_file: Path,
    plan: dict[str, Any],
    scratch: Path,
    durations: Mapping[str, float] | None,
) -> Iterator[Any]:
    """The environment's stack deployed into moto, from an assembly built from this definition."""
    from tests.rehearsal.harness import Rehearsal

    default = PROJECT_ROOT / "cdk.out"
    if args.assembly is not None:  # the user's folder: reuse it if it has the environment, else synthesize there
        target = args.assembly
        reuse = target if (target / f"assembly-{settings.name}" / "manifest.json").exists() else None
    else:
        target = scratch
        fresh = fresh_assembly(default, settings.name, environments_file, settings.poc_config_path)
        reuse = default if fresh else None
    for assembly in (reuse, None):
        if assembly is None:
            print(f"Synthesizing '{settings.name}' from {environments_file}...", flush=True)
            assembly = synthesize(target, environments_file, only=[settings.name])
        else:
            print(f"Using the synthesized assembly in {assembly}")
        print(f"Deploying stage '{settings.name}' into moto...", flush=True)
        with Rehearsal(assembly, settings.name, durations=durations, task_seconds=args.task_seconds) as rehearsal:
            if reuse is None or data_signature(rehearsal.plan) == data_signature(plan):
                yield rehearsal
                return
        print(f"  {assembly} was built from another POC definition")
        reuse = None


def _run(rehearsal: Any, data: RehearsalData, args: argparse.Namespace, started: float) -> int:
    from tests.rehearsal.trace import progress_lines, summarize, summary_lines

    assert rehearsal.deployment is not None
    skipped = sorted(set(rehearsal.deployment.skipped.values()))
    print(
        f"  deployed {len(rehearsal.deployment.physical)} resources; not deployed (not needed "
        f"offline): {', '.join(skipped)}"
    )
    for reason in rehearsal.deployment.rejected.values():
        print(f"  state machine not deployed: {reason}")
    deployed_at = time.monotonic()
    uploaded = upload(rehearsal.client("s3"), rehearsal.bucket, data)
    print(f"  uploaded {', '.join(uploaded)}")
    for line in data.details:
        print(f"    {line}")
    print(f"Running {rehearsal.workflow_arn.rsplit(':', 1)[-1]} on simulated time...\n", flush=True)
    run = rehearsal.run()
    if not args.quiet:
        print("sim time  step / resource / status")
        print("\n".join(progress_lines(run)))
        print()
    summary = summarize(rehearsal, run)
    print("\n".join(summary_lines(summary)))
    print(
        f"Total wall time:     {time.monotonic() - started:.1f} s (synthesis/deployment {deployed_at - started:.1f} s)"
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
    left = [r for r in rehearsal.double.resources() if r.name.startswith(prefix) and r.kind != "batch_inference_job"]
    print(f"Left of this POC:    {len(left)} resources" + "".join(f"\n  {r.kind} {r.name} {r.status}" for r in left))
    return 1 if left else 0
