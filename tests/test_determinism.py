"""Two synths of the same commit give byte-identical cloud assemblies, so `cdk diff` and the snapshot
show only real changes and asset hashes do not move on their own.

Both synths run `python app.py` (with the cdk-nag plugin and CDK's built-in template validation, as
`make synth` does, so this test also fails if either reports a finding) in separate processes
with different `CDK_OUTDIR`s. Every file is compared byte for byte; nothing is excluded, because no
file in the assembly is per-run today (manifests hold relative paths, there are no timestamps, and
Lambda assets exclude `__pycache__`). If a per-run file ever appears, exclude it here by name, with
the reason.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

PER_RUN_FILES: frozenset[str] = frozenset()


def _start_synth(outdir: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    # Exactly as `make synth` runs: the shipped settings, CDK's built-in template validation on.
    for variable in ("POC_ENVIRONMENTS_FILE", "CDK_VALIDATION"):
        env.pop(variable, None)
    return subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tree(root: Path) -> dict[str, Path]:
    return {
        str(path.relative_to(root)): path
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in PER_RUN_FILES
    }


def test_two_synths_are_byte_identical(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    runs = [_start_synth(first), _start_synth(second)]  # in parallel: half the wall time
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    first_tree, second_tree = _tree(first), _tree(second)
    assert any(name.endswith(".template.json") for name in first_tree), "synth wrote no templates"
    assert first_tree.keys() == second_tree.keys(), (
        f"only in first: {sorted(first_tree.keys() - second_tree.keys())}; "
        f"only in second: {sorted(second_tree.keys() - first_tree.keys())}"
    )
    different = [
        name for name in first_tree if not filecmp.cmp(first_tree[name], second_tree[name], shallow=False)
    ]
    assert not different, f"files that differ between two synths: {different}"
