"""Template properties of the edges a user meets first: the notebook's instance metadata service, the
upload trigger, and the Lambda code that carries Powertools."""

from __future__ import annotations

import pytest
import yaml

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE
from tests.conftest import SynthesizedEnvironment, synthesize


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
