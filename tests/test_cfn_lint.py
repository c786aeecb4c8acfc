"""cfn-lint on every synthesized template: no findings except W3005.

W3005 (a DependsOn already implied by a Ref/GetAtt) is how CDK writes templates, not something the
project controls; it is the only check ignored.

cfn-lint validates a state machine's definition (E3601) only when `DefinitionString` is a plain
string, and CDK writes an `Fn::Join` (it embeds ARNs and names of other resources). So each template
with a state machine is linted a second time with the definition resolved, using placeholder values
for the references, which puts the real ASL under E3601.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.conftest import ENVIRONMENT_NAMES, KMS_ENVIRONMENT, SynthesizedEnvironment

IGNORED = ["W3005"]
ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/stack/id",
    "AWS::NoValue": "",
}


def _env(request: pytest.FixtureRequest, name: str) -> SynthesizedEnvironment:
    if name == KMS_ENVIRONMENT:
        return request.getfixturevalue("kms_env")
    return request.getfixturevalue("synthesized").environments[name]


def _lint(path: Path) -> list[str]:
    return [str(match) for match in lint_file(path, config=ManualArgs(ignore_checks=IGNORED))]


@pytest.mark.parametrize("name", [*ENVIRONMENT_NAMES, KMS_ENVIRONMENT])
def test_template_is_lint_clean(request: pytest.FixtureRequest, name: str) -> None:
    findings = _lint(_env(request, name).template_path)
    assert not findings, "cfn-lint findings:\n" + "\n".join(findings)


def _arn(resources: dict[str, Any], logical_id: str) -> str:
    """A plausible ARN for a resource, enough for the ASL schema's ARN patterns."""
    kind = resources[logical_id]["Type"]
    service = kind.split("::")[1].lower()
    match kind:
        case "AWS::Lambda::Function" | "AWS::Lambda::Version" | "AWS::Lambda::Alias":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        case "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
        case "AWS::S3::Bucket":
            return f"arn:aws:s3:::{logical_id.lower()}"
        case "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{logical_id}"
        case "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
        case _:
            return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{logical_id}"


def resolve(value: Any, resources: dict[str, Any]) -> str:
    """Resolve the intrinsics CDK uses inside a state machine definition to placeholder strings."""
    if isinstance(value, str):
        return value
    (function, argument), *rest = value.items()
    assert not rest, f"unexpected intrinsic {value}"
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(resolve(part, resources) for part in parts)
    if function == "Ref":
        if argument in PSEUDO:
            return PSEUDO[argument]
        kind = resources[argument]["Type"]
        # Ref is the name for buckets, the ARN for the resources a definition calls.
        return argument.lower() if kind == "AWS::S3::Bucket" else _arn(resources, argument)
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return _arn(resources, logical_id) if attribute == "Arn" else f"{logical_id}-{attribute}".lower()
    raise AssertionError(f"no placeholder for {function} in a state machine definition")


@pytest.mark.parametrize("name", ENVIRONMENT_NAMES)
def test_resolved_state_machine_definitions_are_lint_clean(
    request: pytest.FixtureRequest, name: str, tmp_path: Path
) -> None:
    env = _env(request, name)
    template = json.loads(env.template_path.read_text(encoding="utf-8"))
    resources = template["Resources"]
    machines = [lid for lid, body in resources.items() if body["Type"] == "AWS::StepFunctions::StateMachine"]
    if not machines:
        pytest.skip(f"{name} has no state machine")
    resolved = copy.deepcopy(template)
    for lid in machines:
        definition = resolve(resources[lid]["Properties"]["DefinitionString"], resources)
        json.loads(definition)  # the resolved definition is JSON
        resolved["Resources"][lid]["Properties"]["DefinitionString"] = definition
    path = tmp_path / f"{name}-resolved.template.json"
    path.write_text(json.dumps(resolved), encoding="utf-8")
    findings = _lint(path)
    assert not findings, "cfn-lint findings in the resolved definition:\n" + "\n".join(findings)


def test_definition_check_is_active(tmp_path: Path) -> None:
    """Guards the test above: cfn-lint does flag a broken plain-string definition."""
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/machine",
                    "DefinitionString": json.dumps({"StartAt": "Go", "States": {"Go": {"Type": "Bogus"}}}),
                },
            }
        }
    }
    path = tmp_path / "broken.template.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    assert any("E3601" in finding for finding in _lint(path))
