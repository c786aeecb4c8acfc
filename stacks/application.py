"""Builds the cdk.App the same way for `cdk synth`, tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT, load_environments, load_pipeline
from stacks.poc_stage import PersonalizePocStage

# Construct creation stack traces carry jsii's temporary paths into the cloud assembly, so two synths
# would differ. Set here: the CLI warns about a reserved `aws:` key in cdk.json's context.
NO_CREATION_STACK_TRACES = {"aws:cdk:disable-creation-stack-traces": True}


def cdk_json_context() -> dict[str, Any]:
    """Context from cdk.json: a bare cdk.App() outside the CLI does not read it."""
    return dict(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])


def build_app(
    *,
    outdir: str | None = None,
    environments_file: Path = DEFAULT_ENVIRONMENTS_FILE,
    only: list[str] | None = None,
    nag: bool = True,
    with_pipeline: bool | None = None,
) -> cdk.App:
    """One Stage per environment in the settings file; cdk-nag runs as a validation plugin so a new
    finding fails synth. The pipeline (settings `pipeline:`) is built with the whole app, or when
    `with_pipeline` asks for it."""
    app = cdk.App(outdir=outdir, context={**cdk_json_context(), **NO_CREATION_STACK_TRACES})
    environments = load_environments(environments_file)
    for name, settings in environments.items():
        if only is None or name in only:
            PersonalizePocStage(app, name, settings=settings)
    # The optional pipeline deploys the same Stages (its own instances) in the order its settings list.
    pipeline = load_pipeline(environments_file)
    if pipeline is not None and (only is None if with_pipeline is None else with_pipeline):
        from stacks.pipeline_stack import PocPipelineStack  # aws_cdk.pipelines loads only when used

        PocPipelineStack(app, "Pipeline", settings=pipeline, environments=environments)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
