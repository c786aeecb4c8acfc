"""Builds the cdk.App the same way for `cdk synth`, tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT, load_environments
from stacks.poc_stage import PersonalizePocStage


def cdk_json_context() -> dict[str, Any]:
    """Context from cdk.json: a bare cdk.App() outside the CLI does not read it."""
    return dict(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])


def build_app(
    *,
    outdir: str | None = None,
    environments_file: Path = DEFAULT_ENVIRONMENTS_FILE,
    only: list[str] | None = None,
    nag: bool = True,
) -> cdk.App:
    """One Stage per environment in the settings file; cdk-nag runs as a validation plugin so a new
    finding fails synth."""
    app = cdk.App(outdir=outdir, context=cdk_json_context())
    for name, settings in load_environments(environments_file).items():
        if only is None or name in only:
            PersonalizePocStage(app, name, settings=settings)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
