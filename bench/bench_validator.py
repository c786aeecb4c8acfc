"""Benchmark `personalize-poc data validate` against a plain pandas baseline.

    .venv/bin/python bench/bench_validator.py              # 25,000,000 interactions (~1.1 GB)
    .venv/bin/python bench/bench_validator.py --rows 1000000

Generates the interactions file with the sample generator if it is not under bench/data/ yet (both
folders are git-ignored) and removes it afterwards, saying so (the default file is about 1.1 GB);
``--keep-data`` keeps it for the next run (``make clean`` removes it). Then runs, each in its own
process so that time and peak memory are its own:

(a) the validator, as a user runs it: ``python -m personalize_poc.cli data validate --type interactions
    FILE --schema interactions.avsc --json``;
(b) the baseline: ``pandas.read_csv`` of the whole file and the same main checks (required columns,
    empty/over-long ids, types, timestamp units and range, exact duplicate rows, users with 2+
    interactions, distinct items).

Wall time is measured around the process; peak RSS and CPU time come from ``os.wait4`` (that child's
own rusage). Results go to bench/out/validator.json and a small table. Both sides must agree on the
row, user, item and duplicate counts, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
OUT = BENCH / "out"
MIB = 1024 * 1024


def ensure_data(rows: int, seed: int) -> Path:
    """The interactions file for this size and seed, generated once."""
    from personalize_poc.data.sample import SampleSpec, generate

    folder = DATA / f"interactions-{rows}-seed{seed}"
    path = folder / "interactions.csv"
    if not path.exists():
        spec = SampleSpec(users=max(500, rows // 25), items=max(300, rows // 250), interactions=rows,
                          seed=seed)
        print(f"generating {rows:,} interactions into {folder} ...", flush=True)
        started = time.perf_counter()
        generate(folder, spec, only=("interactions",))
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def measure(command: list[str]) -> dict[str, Any]:
    """Run a command; its wall time, CPU time, peak RSS, exit code and stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    return {"seconds": round(seconds, 2), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "exit_code": process.returncode,
            "stdout": stdout, "stderr": stderr}


def baseline(path: Path) -> dict[str, Any]:
    """Plain pandas: read the whole file, then the validator's main checks. Prints JSON counts."""
    import numpy as np
    import pandas as pd

    from personalize_poc.data import checks

    now = checks.now_seconds()
    latest = now + checks.FUTURE_LEEWAY_SECONDS
    frame = pd.read_csv(path)
    found: dict[str, int] = {}
    found["missing-column"] = len(checks.required_fields("interactions") - set(frame.columns))
    for column in ("USER_ID", "ITEM_ID"):
        text = frame[column].astype("string")
        lengths = text.str.len()
        found[f"empty-id:{column}"] = int((text.isna() | (lengths == 0)).sum())
        found[f"id-too-long:{column}"] = int((lengths > checks.ID_MAX_CHARS).sum())
    timestamps = pd.to_numeric(frame["TIMESTAMP"], errors="coerce")
    found["invalid-type:TIMESTAMP"] = int((timestamps.isna() & frame["TIMESTAMP"].notna()).sum())
    ok = timestamps.between(checks.EPOCH_MIN, latest)
    rest = ~ok & timestamps.notna()
    for scale, code in ((10**3, "timestamp-milliseconds"), (10**6, "timestamp-microseconds"),
                        (10**9, "timestamp-nanoseconds")):
        unit = rest & timestamps.between(checks.EPOCH_MIN * scale, latest * scale)
        found[code] = int(unit.sum())
        rest &= ~unit
    found["timestamp-out-of-range"] = int(rest.sum())
    values = pd.to_numeric(frame["EVENT_VALUE"], errors="coerce")
    found["invalid-type:EVENT_VALUE"] = int((frame["EVENT_VALUE"].notna() & ~np.isfinite(values)).sum())
    found["duplicate-row"] = int(frame.duplicated().sum())
    per_user = frame["USER_ID"].value_counts()
    return {"rows": len(frame), "users": int(len(per_user)), "active_users": int((per_user >= 2).sum()),
            "items": int(frame["ITEM_ID"].nunique()), "findings": found}


def _run_baseline_main(path: str) -> None:
    print(json.dumps(baseline(Path(path))))


def _table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Validating {result['rows']:,} interactions ({result['file_mib']:,.0f} MiB)",
                  title_justify="left")
    for column in ("", "wall s", "CPU s", "peak RSS MiB", "rows/s"):
        table.add_column(column, justify="left" if not column else "right")
    for name in ("validator", "baseline"):
        side = result.get(name)
        if side:
            table.add_row(name, f"{side['seconds']:.1f}", f"{side['cpu_seconds']:.1f}",
                          f"{side['peak_rss_mib']:,.0f}", f"{result['rows'] / side['seconds']:,.0f}")
    Console().print(table)
    if "speedup" in result:
        Console().print(f"speed-up {result['speedup']:.1f}x (CPU time {result['cpu_ratio']:.1f}x less), "
                        f"memory {result['memory_ratio']:.1f}x less (load average before: "
                        f"{result['machine']['loadavg_before'][0]:.2f}; other processes slow both sides)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=25_000_000, help="interactions in the file (default 25M)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-baseline", action="store_true", help="only time the validator")
    parser.add_argument("--out", type=Path, default=OUT / "validator.json")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the generated file under bench/data/ for the next run (default: remove it)")
    parser.add_argument("--baseline", metavar="FILE", help=argparse.SUPPRESS)  # the baseline's own process
    args = parser.parse_args(argv)
    if args.baseline:
        _run_baseline_main(args.baseline)
        return 0
    path = ensure_data(args.rows, args.seed)
    try:
        return _bench(args, path)
    finally:
        size = f"{path.stat().st_size / MIB:,.0f} MiB" if path.exists() else "?"
        if args.keep_data:
            print(f"kept {path.parent} ({size}) for the next run; make clean removes it")
        else:
            shutil.rmtree(path.parent, ignore_errors=True)
            print(f"removed the generated {path.parent} ({size}); --keep-data keeps it for the next run")


def _bench(args: argparse.Namespace, path: Path) -> int:
    schema = path.with_name("interactions.avsc")
    result: dict[str, Any] = {
        "rows": args.rows, "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "file_mib": round(path.stat().st_size / MIB, 1),
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg(),
                    "python": platform.python_version(), "platform": platform.platform()},
    }
    validator = measure([sys.executable, "-m", "personalize_poc.cli", "data", "validate", "--type",
                         "interactions", str(path), "--schema", str(schema), "--json"])
    report = json.loads(validator.pop("stdout") or "{}")
    validator["valid"] = report.get("valid")
    validator["stats"] = report.get("stats")
    validator["findings"] = {f["code"]: f["rows"] for f in report.get("findings", [])}
    if validator["exit_code"] not in (0, 1):
        print(validator["stderr"], file=sys.stderr)
        return 1
    validator.pop("stderr")
    result["validator"] = validator
    if not args.skip_baseline:
        base = measure([sys.executable, str(Path(__file__).resolve()), "--baseline", str(path)])
        if base["exit_code"] != 0:
            print(base["stderr"], file=sys.stderr)
            return 1
        counts = json.loads(base.pop("stdout"))
        base.pop("stderr")
        base.update(counts)
        result["baseline"] = base
        result["speedup"] = round(base["seconds"] / validator["seconds"], 2)
        result["cpu_ratio"] = round(base["cpu_seconds"] / validator["cpu_seconds"], 2)
        result["memory_ratio"] = round(base["peak_rss_mib"] / validator["peak_rss_mib"], 2)
        stats = validator["stats"] or {}
        agree = {key: (stats.get(key), counts[key]) for key in ("rows", "users", "active_users", "items")}
        agree["duplicate-row"] = (validator["findings"].get("duplicate-row", 0),
                                  counts["findings"]["duplicate-row"])
        result["counts_agree"] = all(a == b for a, b in agree.values())
        if not result["counts_agree"]:
            print(f"validator and baseline disagree: {agree}", file=sys.stderr)
    result["machine"]["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _table(result)
    print(f"wrote {args.out}")
    return 0 if result.get("counts_agree", True) else 1


if __name__ == "__main__":
    sys.exit(main())
