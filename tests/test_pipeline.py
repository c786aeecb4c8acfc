"""Issue 14: the optional delivery pipeline (settings `pipeline:`), synthesized with cdk-nag on (a finding
would fail synth) from a settings file with dev (this account) and prod (another account, approval)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from personalize_poc.settings import PROJECT_ROOT, SettingsError, load_environments, load_pipeline
from stacks.application import build_app

TOOLING, PROD_ACCOUNT, REGION = "111111111111", "222222222222", "eu-west-1"
CONNECTION = f"arn:aws:codeconnections:{REGION}:{TOOLING}:connection/12345678-1234-1234-1234-123456789012"
PIPELINE_SECTION = f"""
pipeline:
  connection_arn: {CONNECTION}
  repository: example-org/personalize-poc
  branch: release
  account: "{TOOLING}"
  region: {REGION}
  environments: [dev, prod]
"""


def _settings_file(folder: Path, pipeline: str = PIPELINE_SECTION) -> Path:
    text = (PROJECT_ROOT / "config" / "environments.yaml").read_text(encoding="utf-8")
    text = text.replace("\nprod:\n", f'\nprod:\n  account: "{PROD_ACCOUNT}"\n  region: {REGION}\n  approval: true\n')
    path = folder / "environments.yaml"
    path.write_text(text + pipeline, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pipeline_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("pipeline")
    outdir = folder / "cdk.out"
    # Only the pipeline (and the Stages inside it); cdk-nag on, as in `make synth`.
    build_app(outdir=str(outdir), environments_file=_settings_file(folder), only=[], with_pipeline=True).synth()
    return dict(json.loads((outdir / "Pipeline.template.json").read_text(encoding="utf-8")))


def _of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def _stages(template: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = _of_type(template, "AWS::CodePipeline::Pipeline").values()
    return list(pipeline["Properties"]["Stages"])


def _actions(template: dict[str, Any], stage: str) -> list[tuple[str, str, int]]:
    (found,) = [s for s in _stages(template) if s["Name"] == stage]
    return [(a["Name"], a["ActionTypeId"]["Category"], a["RunOrder"]) for a in found["Actions"]]


def _buildspec_commands(template: dict[str, Any], name_part: str) -> list[str]:
    (project,) = [r for lid, r in _of_type(template, "AWS::CodeBuild::Project").items() if name_part in lid]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return list(spec["phases"]["build"]["commands"])


def test_environments_deploy_in_the_listed_order_after_source_synth_and_self_mutation(
    pipeline_template: dict[str, Any],
) -> None:
    names = [stage["Name"] for stage in _stages(pipeline_template)]
    assert names[:3] == ["Source", "Build", "UpdatePipeline"]
    assert [name for name in names if name in ("dev", "prod")] == ["dev", "prod"]
    assert names.index("dev") < names.index("prod")


def test_source_is_the_connection_repository_and_branch(pipeline_template: dict[str, Any]) -> None:
    (source,) = _stages(pipeline_template)[0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == CONNECTION
    assert source["Configuration"]["FullRepositoryId"] == "example-org/personalize-poc"
    assert source["Configuration"]["BranchName"] == "release"


def test_synth_runs_the_readmes_own_commands(pipeline_template: dict[str, Any]) -> None:
    assert _buildspec_commands(pipeline_template, "BuildSynth") == ["make test", "make synth"]


def test_each_environment_is_rehearsed_before_it_deploys(pipeline_template: dict[str, Any]) -> None:
    for env in ("dev", "prod"):
        assert _buildspec_commands(pipeline_template, f"Rehearse{env}") == [f"make rehearse ENV={env}"]
        actions = _actions(pipeline_template, env)
        rehearse = next(order for name, _, order in actions if name.startswith("Rehearse"))
        deploys = [order for _, category, order in actions if category == "Deploy"]
        assert deploys and rehearse < min(deploys), actions


def test_approval_only_where_asked_after_the_rehearsal_before_the_deploy(pipeline_template: dict[str, Any]) -> None:
    assert not [a for a in _actions(pipeline_template, "dev") if a[1] == "Approval"]
    actions = _actions(pipeline_template, "prod")
    (approval,) = [order for _, category, order in actions if category == "Approval"]
    rehearse = next(order for name, _, order in actions if name.startswith("Rehearse"))
    deploys = [order for _, category, order in actions if category == "Deploy"]
    assert rehearse < approval < min(deploys), actions


def test_prod_deploys_cross_account_with_an_encrypted_artifact_store(pipeline_template: dict[str, Any]) -> None:
    deploy_roles = [
        json.dumps(a["RoleArn"])
        for stage in _stages(pipeline_template)
        if stage["Name"] == "prod"
        for a in stage["Actions"]
        if a["ActionTypeId"]["Category"] == "Deploy"
    ]
    assert deploy_roles and all(f":iam::{PROD_ACCOUNT}:role/cdk-" in role for role in deploy_roles)
    (key,) = _of_type(pipeline_template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True


def test_the_pipeline_template_is_cfn_lint_clean(pipeline_template: dict[str, Any]) -> None:
    """As tests/test_cfn_lint.py, W3005 aside (how CDK writes DependsOn), and one style preference: CDK
    Pipelines writes each deploy action's RoleArn as `Fn::Join` with an empty delimiter, which cfn-lint
    (E3703) would rather see as `Fn::Sub`; CloudFormation resolves both the same way."""
    matches = lint(json.dumps(pipeline_template), config=ManualArgs(regions=[REGION], ignore_checks=["W3005"]))
    findings = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]
    style = [f for f in findings if f.startswith("E3703 Prefer using Fn::Sub") and f.endswith("/RoleArn")]
    assert len(style) == 2, findings  # the two change-set (Prepare) actions
    assert not [f for f in findings if f not in style], findings


def test_no_pipeline_section_builds_no_pipeline() -> None:
    assert load_pipeline(PROJECT_ROOT / "config" / "environments.yaml") is None


def test_the_pipeline_section_is_not_an_environment(tmp_path: Path) -> None:
    path = _settings_file(tmp_path)
    assert list(load_environments(path)) == ["dev", "prod"]
    pipeline = load_pipeline(path)
    assert pipeline is not None and pipeline.environments == ["dev", "prod"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (PIPELINE_SECTION.replace("[dev, prod]", "[dev, staging]"), "unknown environment(s) staging"),
        (PIPELINE_SECTION.replace(CONNECTION, "arn:aws:s3:::bucket"), "not a CodeConnections connection ARN"),
        (PIPELINE_SECTION.replace("[dev, prod]", "[dev, dev]"), "listed twice: dev"),
    ],
)
def test_pipeline_settings_mistakes_are_one_line(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(SettingsError, match="^pipeline, field") as raised:
        load_pipeline(_settings_file(tmp_path, section))
    assert message in str(raised.value)
