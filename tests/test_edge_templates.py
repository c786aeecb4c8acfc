"""Template properties of the edges a user meets first: the notebook's instance metadata service, the
upload trigger, and the Lambda code that carries Powertools."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from constructs.lambda_asset import pinned_versions
from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE
from tests.conftest import PROJECT_ROOT, SynthesizedApp, SynthesizedEnvironment, synthesize


def _of_type(env: SynthesizedEnvironment, resource_type: str) -> list[dict]:
    return [r for r in env.resources.values() if r["Type"] == resource_type]


# ---------------------------------------------------------------------------------------------- notebook


def test_notebook_requires_imdsv2(any_env: SynthesizedEnvironment) -> None:
    """With IMDSv1 allowed, anything that can make the instance send a plain GET (an SSRF in a notebook
    extension) can read the notebook role's credentials."""
    (notebook,) = _of_type(any_env, "AWS::SageMaker::NotebookInstance")
    config = notebook["Properties"].get("InstanceMetadataServiceConfiguration")
    assert config == {"MinimumInstanceMetadataServiceVersion": "2"}


# ------------------------------------------------------------------------------------- upload trigger


@pytest.fixture(scope="module")
def auto_start_env(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedEnvironment:
    """dev's shipped settings with auto_start_on_upload on (no shipped environment turns it on)."""
    raw = yaml.safe_load(DEFAULT_ENVIRONMENTS_FILE.read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("auto-start")
    environments_file = folder / "environments.yaml"
    environments_file.write_text(yaml.safe_dump({"auto": {**raw["dev"], "name_prefix": "ppoc-auto",
                                                           "auto_start_on_upload": True}}))
    return synthesize(environments_file, folder / "cdk.out").environments["auto"]


def test_upload_trigger_starts_on_the_upload_complete_marker_only(auto_start_env: SynthesizedEnvironment) -> None:
    """The interactions file may land before items, users and batch inputs: a rule on it starts a run
    that fails at the data gate or imports the previous files. The upload command writes the marker
    last (tests/test_cli_aws.py checks that side)."""
    (rule,) = _of_type(auto_start_env, "AWS::Events::Rule")
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": ["imports/_upload-complete.json"]}
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": auto_start_env.stack.get_logical_id(
        auto_start_env.stack.workflow.state_machine.node.default_child)}


def test_no_upload_trigger_unless_asked(poc_env: SynthesizedEnvironment) -> None:
    assert not poc_env.settings.auto_start_on_upload
    assert not _of_type(poc_env, "AWS::Events::Rule")


# ------------------------------------------------------------------------------------ function code

# What the Lambda Python runtime itself provides (boto3 and its dependencies); everything else must
# come from the asset.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
CLEAN_IMPORT = """
import json, sys
sys.path[:0] = sys.argv[1:3]
import wrapt.__wrapt__
from poc_steps import handlers
import aws_lambda_powertools, aws_xray_sdk
from aws_lambda_powertools.shared.version import VERSION
context = type("Context", (), {"function_name": "poc-validate", "function_version": "1",
                               "invoked_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:poc-validate",
                               "memory_limit_in_mb": 256, "aws_request_id": "req-1"})()
result = handlers.validate_handler({"config": {"datasets": [], "solutions": []}}, context)
print(json.dumps({"powertools": aws_lambda_powertools.__file__, "xray": aws_xray_sdk.__file__, "version": VERSION,
                  "wrapt_c": wrapt.__wrapt__._using_c_extension, "tracing": not handlers.tracer.disabled,
                  "result": result}))
"""


def _function_assets(env: SynthesizedEnvironment, assembly: Path) -> set[Path]:
    keys = {f["Properties"]["Code"]["S3Key"] for f in _of_type(env, "AWS::Lambda::Function")
            if f["Properties"].get("Runtime", "").startswith("python")}
    return {assembly / f"asset.{key.removesuffix('.zip')}" for key in keys}


def test_functions_carry_the_pinned_powertools_and_no_layer(synthesized: SynthesizedApp) -> None:
    """The tests' Powertools (requirements pin, constraints.txt) is the one the functions run: vendored into
    the code asset, not a public layer whose content nobody here can check."""
    pinned = pinned_versions()["aws-lambda-powertools"]
    requirements = (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert f"aws-lambda-powertools[tracer]=={pinned}\n" in requirements  # the pin, twice as the house asks
    assert importlib.metadata.version("aws-lambda-powertools") == pinned  # what the tests import
    for env in synthesized.environments.values():
        functions = [f for f in _of_type(env, "AWS::Lambda::Function") if "Layers" in f["Properties"]]
        assert not functions, "a function still uses a Lambda layer"
        (asset,) = _function_assets(env, synthesized.assembly_dir)  # one asset for every step
        metadata = (asset / f"aws_lambda_powertools-{pinned}.dist-info" / "METADATA").read_text()
        assert f"\nVersion: {pinned}\n" in metadata
        assert f'VERSION = "{pinned}"' in (asset / "aws_lambda_powertools" / "shared" / "version.py").read_text()
        assert not list(asset.rglob("__pycache__")) and not list(asset.rglob("*.so"))
        size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
        assert size < 5 * 1024 * 1024, f"the function asset grew to {size:,} bytes"


def test_handlers_run_from_the_asset_alone_with_tracing_on(synthesized: SynthesizedApp, tmp_path: Path) -> None:
    """In a fresh interpreter that sees only the asset and the Lambda runtime's own packages: the handler
    module, Powertools, X-Ray SDK and wrapt (its pure-Python fallback) all load from the asset."""
    (asset,) = _function_assets(synthesized.environments["dev"], synthesized.assembly_dir)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site_packages = Path(boto3.__file__).resolve().parent.parent
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site_packages / name)
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-1", "AWS_LAMBDA_FUNCTION_NAME": "poc-validate",
           "LAMBDA_TASK_ROOT": str(asset), "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
           "POWERTOOLS_SERVICE_NAME": "poc-validate", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    result = subprocess.run([sys.executable, "-I", "-S", "-c", CLEAN_IMPORT, str(asset), str(runtime)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(seen["powertools"]).is_relative_to(asset) and Path(seen["xray"]).is_relative_to(asset)
    assert seen["version"] == pinned_versions()["aws-lambda-powertools"]
    assert seen["wrapt_c"] is False and seen["tracing"] is True
    assert seen["result"] == {"checked": [], "warnings": []}


def test_synth_stops_when_the_installed_powertools_is_not_the_pinned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from constructs import built_folder, lambda_asset

    monkeypatch.setattr(lambda_asset, "pinned_versions", lambda: {"aws-lambda-powertools": "0.0.1"})
    monkeypatch.setattr(built_folder, "BUILD_ROOT", tmp_path)
    lambda_asset.lambda_asset.cache_clear()
    try:
        with pytest.raises(lambda_asset.VendoringError, match=r"constraints.txt pins 0.0.1: run `make setup`"):
            lambda_asset.lambda_asset()  # what every PocFunction asks for at synth
    finally:
        lambda_asset.lambda_asset.cache_clear()
    assert not list(tmp_path.iterdir())
