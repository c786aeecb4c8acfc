"""The POC notebooks reach the notebook instance: converted at synth into one S3 asset, copied by the
lifecycle script at every start without overwriting a notebook the user has edited, readable by the
notebook's role (that object only); the role may start the teardown notebook 05 starts."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from constructs.notebook_delivery import DELIVERY_SCRIPT

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHIPPED = ["01-results.ipynb", "02-recommendations.ipynb", "03-real-time.ipynb", "04-batch.ipynb", "05-cleanup.ipynb"]


# --------------------------------------------------------------------------------------------------
# The delivery script, as the instance runs it
# --------------------------------------------------------------------------------------------------
def deliver(tmp_path: Path, home: Path, notebooks: dict[str, str]) -> str:
    archive = tmp_path / "asset.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, text in notebooks.items():
            bundle.writestr(name, text)
    done = subprocess.run(
        [sys.executable, "-", str(archive), str(home)],
        input=DELIVERY_SCRIPT,
        text=True,
        capture_output=True,
        check=True,
    )
    return done.stdout


def test_first_start_delivers_every_notebook(tmp_path: Path) -> None:
    home = tmp_path / "SageMaker"
    home.mkdir()
    deliver(tmp_path, home, {"01-results.ipynb": "v1", "02-recommendations.ipynb": "v1"})
    assert (home / "01-results.ipynb").read_text() == "v1"
    assert (home / "02-recommendations.ipynb").read_text() == "v1"


def test_a_new_version_replaces_an_untouched_notebook_and_never_an_edited_one(tmp_path: Path) -> None:
    home = tmp_path / "SageMaker"
    home.mkdir()
    deliver(tmp_path, home, {"01-results.ipynb": "v1", "02-recommendations.ipynb": "v1"})
    (home / "02-recommendations.ipynb").write_text("my edits")
    said = deliver(tmp_path, home, {"01-results.ipynb": "v2", "02-recommendations.ipynb": "v2"})
    assert (home / "01-results.ipynb").read_text() == "v2"  # untouched: updated
    assert (home / "02-recommendations.ipynb").read_text() == "my edits"  # edited: kept
    assert (home / "02-recommendations.shipped.ipynb").read_text() == "v2"  # the new one beside it
    assert "02-recommendations.ipynb was edited here: kept" in said
    # Later starts keep respecting the edit, and refresh the shipped copy beside it.
    deliver(tmp_path, home, {"01-results.ipynb": "v3", "02-recommendations.ipynb": "v3"})
    assert (home / "02-recommendations.ipynb").read_text() == "my edits"
    assert (home / "02-recommendations.shipped.ipynb").read_text() == "v3"
    assert (home / "01-results.ipynb").read_text() == "v3"


def test_a_deleted_notebook_comes_back(tmp_path: Path) -> None:
    home = tmp_path / "SageMaker"
    home.mkdir()
    deliver(tmp_path, home, {"01-results.ipynb": "v1"})
    (home / "01-results.ipynb").unlink()
    deliver(tmp_path, home, {"01-results.ipynb": "v1"})
    assert (home / "01-results.ipynb").read_text() == "v1"


# --------------------------------------------------------------------------------------------------
# The template
# --------------------------------------------------------------------------------------------------
def _template(synthesized: Any) -> dict[str, Any]:
    return json.loads(synthesized.environments["dev"].template_path.read_text())


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _asset(synthesized: Any) -> tuple[str, Path]:
    """(object key, staged folder) of the notebooks asset, from the stack's asset manifest."""
    path = synthesized.environments["dev"].template_path
    manifest = json.loads(next(path.parent.glob("*.assets.json")).read_text())
    for entry in manifest["files"].values():
        folder = path.parent / entry["source"]["path"]
        if folder.is_dir() and (folder / "01-results.ipynb").exists():
            (destination,) = entry["destinations"].values()
            return destination["objectKey"], folder
    raise AssertionError("no notebooks asset in the assembly")


def test_the_asset_holds_the_five_notebooks_without_outputs(synthesized: Any) -> None:
    _, folder = _asset(synthesized)
    assert sorted(p.name for p in folder.iterdir()) == SHIPPED
    for name in SHIPPED:
        notebook = json.loads((folder / name).read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert code and all(not c.get("outputs") and c.get("execution_count") is None for c in code), name
        assert notebook["metadata"]["kernelspec"]["name"] == "conda_python3"


def test_the_lifecycle_script_copies_the_asset_and_runs_the_delivery(synthesized: Any) -> None:
    key, _ = _asset(synthesized)
    (config,) = _resources(_template(synthesized), "AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    content = json.dumps(config["Properties"]["OnStart"][0]["Content"])
    assert key in content
    assert "aws s3 cp s3://" in content
    assert "/home/ec2-user/SageMaker ec2-user <<'DELIVER'" in content
    assert json.dumps(DELIVERY_SCRIPT.strip())[1:-1] in content


def _notebook_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    (role_id,) = [lid for lid in _resources(template, "AWS::IAM::Role") if lid.startswith("NotebookRole")]
    statements = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


ACCOUNT, REGION = "123456789012", "eu-west-1"
STATES = f"arn:aws:states:{REGION}:{ACCOUNT}"
PERSONALIZE = f"arn:aws:personalize:{REGION}:{ACCOUNT}"


def _resolve(value: Any, template: dict[str, Any]) -> str:
    """A policy resource as a plain ARN pattern (pseudo parameters and state machine Refs resolved)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_resolve(part, template) for part in parts)
    ref = value.get("Ref")
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
    if ref in pseudo:
        return pseudo[ref]
    resource = template["Resources"].get(ref, {})
    if resource.get("Type") == "AWS::StepFunctions::StateMachine":
        return f"{STATES}:stateMachine:{resource['Properties']['StateMachineName']}"
    return json.dumps(value)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(template: dict[str, Any], action: str, arn: str) -> bool:
    from fnmatch import fnmatchcase

    for statement in _notebook_statements(template):
        if statement["Effect"] != "Allow" or not any(fnmatchcase(action, a) for a in _as_list(statement["Action"])):
            continue
        if any(fnmatchcase(arn, _resolve(r, template)) for r in _as_list(statement["Resource"])):
            return True
    return False


def test_the_role_reads_only_the_notebooks_object_of_the_assets_bucket(synthesized: Any) -> None:
    key, _ = _asset(synthesized)
    template = _template(synthesized)
    reads = [
        _resolve(r, template)
        for s in _notebook_statements(template)
        if "s3:GetObject" in _as_list(s["Action"])
        for r in _as_list(s["Resource"])
    ]
    assets = [r for r in reads if key in r]
    assert len(assets) == 1 and assets[0].endswith(f"/{key}"), reads


@pytest.mark.parametrize(
    ("action", "arn"),
    [
        ("states:StartExecution", f"{STATES}:stateMachine:ppoc-dev-poc-teardown"),  # notebook 05
        ("states:DescribeExecution", f"{STATES}:execution:ppoc-dev-poc-teardown:0c4f"),
        ("personalize:GetRecommendations", f"{PERSONALIZE}:campaign/ppoc-dev-retail-user-personalization"),  # 02-04
        ("personalize:GetRecommendations", f"{PERSONALIZE}:filter/ppoc-dev-retail-category"),
        ("personalize:GetPersonalizedRanking", f"{PERSONALIZE}:campaign/ppoc-dev-retail-personalized-ranking"),
        ("personalize:PutEvents", f"{PERSONALIZE}:event-tracker/3a7fcb2d"),  # 03: tracker ARNs carry an id
    ],
)
def test_the_role_allows_what_the_notebooks_call(synthesized: Any, action: str, arn: str) -> None:
    assert _allows(_template(synthesized), action, arn)


def _notebook_calls(service: str) -> set[str]:
    """IAM actions of the `service` client calls in the shipped notebooks' source (botocore operation names)."""
    import re

    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    by_method = {xform_name(op): op for op in model.operation_names}
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(NOTEBOOKS.glob("*.py")))
    called = set(re.findall(r"\.([a-z_]+)\(", source)) | set(re.findall(r"get_paginator\([\"']([a-z_]+)", source))
    return {f"personalize:{by_method[m]}" for m in called if m in by_method}


def test_the_role_holds_exactly_the_personalize_actions_the_notebooks_call(synthesized: Any) -> None:
    """Nothing more (no Create/Update/Delete: the notebooks only read, query and send events) and nothing
    less; List actions come as personalize:List* (they take no resource-level scoping)."""
    called = set().union(*(_notebook_calls(s) for s in ("personalize", "personalize-runtime", "personalize-events")))
    held = {
        a
        for s in _notebook_statements(_template(synthesized))
        for a in _as_list(s["Action"])
        if a.startswith("personalize:")
    }
    assert "personalize:GetRecommendations" in called and "personalize:ListCampaigns" in called
    lists = {a for a in called if a.startswith("personalize:List")}
    assert held - {"personalize:List*"} == called - lists
    assert not lists or "personalize:List*" in held


def test_the_role_starts_no_other_state_machine_and_asks_no_other_campaign(synthesized: Any) -> None:
    template = _template(synthesized)
    assert not _allows(template, "states:StartExecution", f"{STATES}:stateMachine:ppoc-prod-poc-teardown")
    assert not _allows(template, "personalize:GetRecommendations", f"{PERSONALIZE}:campaign/other-poc")


def _length(value: Any) -> int:
    """Characters of a resolved template value, counting each token at a generous upper bound."""
    if isinstance(value, str):
        return len(value)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return len(separator) * max(len(parts) - 1, 0) + sum(_length(p) for p in parts)
    return 256  # a Ref, GetAtt or Sub: a name or an ARN


def test_the_lifecycle_script_fits_the_service_limit(synthesized: Any) -> None:
    """botocore sagemaker NotebookInstanceLifecycleHook.Content: base64 text of at most 16384 characters."""
    (config,) = _resources(_template(synthesized), "AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    script = config["Properties"]["OnStart"][0]["Content"]["Fn::Base64"]
    encoded = 4 * -(-_length(script) // 3)
    assert encoded <= 16384, f"lifecycle script is {encoded} base64 characters"
