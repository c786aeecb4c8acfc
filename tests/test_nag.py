"""cdk-nag AwsSolutionsChecks on every stack: no unacknowledged finding, and every acknowledgment says
why, sits on a resource rather than a whole stack, and still matches something the resource grants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks

from tests.conftest import ENVIRONMENT_NAMES, KMS_ENVIRONMENT, SynthesizedEnvironment, as_list, render

ALL_ENVIRONMENTS = [*ENVIRONMENT_NAMES, KMS_ENVIRONMENT]
# Words that make a reason say nothing.
PLACEHOLDER_REASONS = re.compile(
    r"^(todo|tbd|n/?a|none|ok|okay|fine|suppress(ed)?|ignore[d]?|needed|required)\W*$", re.I
)
MIN_REASON_WORDS = 6


@dataclass(frozen=True)
class Acknowledgment:
    path: str
    rule: str
    reason: str
    construct: Any


def _env(request: pytest.FixtureRequest, name: str) -> SynthesizedEnvironment:
    if name == KMS_ENVIRONMENT:
        return request.getfixturevalue("kms_env")
    return request.getfixturevalue("synthesized").environments[name]


_acknowledgments: dict[Path, list[Acknowledgment]] = {}


def acknowledgments(env: SynthesizedEnvironment) -> list[Acknowledgment]:
    """Read from construct metadata, where `Validations.of(c).acknowledge(...)` records them (once per
    environment: walking the construct tree is many jsii calls)."""
    if env.template_path in _acknowledgments:
        return _acknowledgments[env.template_path]
    found = []
    for construct in env.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for key, reason in entry.data.items():
                found.append(
                    Acknowledgment(construct.node.path, key.removeprefix("Annotation::"), reason, construct)
                )
    _acknowledgments[env.template_path] = found
    return found


@pytest.mark.parametrize("name", ALL_ENVIRONMENTS)
def test_stack_has_no_unacknowledged_findings(request: pytest.FixtureRequest, name: str) -> None:
    env = _env(request, name)
    app = env.stack.node.root
    report = AwsSolutionsChecks(app).validate_scope(env.stack)
    if not report.success:
        lines = [
            f"{violation.rule_name}: {resource.construct_path}"
            for violation in report.violations
            for resource in violation.violating_resources
        ]
        pytest.fail(f"cdk-nag findings in {name}:\n" + "\n".join(sorted(lines)), pytrace=False)


def test_the_checks_do_report_findings() -> None:
    """Guards the test above: the pack flags a bare bucket in a stack of our own."""
    app = cdk.App()
    stack = cdk.Stack(app, "Bare")
    cdk.aws_s3.Bucket(stack, "Bucket")
    app.synth()
    report = AwsSolutionsChecks(app).validate_scope(stack)
    assert not report.success
    assert "AwsSolutions-S10" in {violation.rule_name for violation in report.violations}


@pytest.mark.parametrize("name", ALL_ENVIRONMENTS)
def test_every_acknowledgment_gives_a_reason(request: pytest.FixtureRequest, name: str) -> None:
    found = acknowledgments(_env(request, name))
    assert found, "no acknowledgments read: the metadata key or the walk is wrong"
    weak = [
        f"{ack.path} {ack.rule}: {ack.reason!r}"
        for ack in found
        if PLACEHOLDER_REASONS.match(ack.reason.strip())
        or len(ack.reason.split()) < MIN_REASON_WORDS
        or ack.rule.lower() in ack.reason.lower()
    ]
    assert not weak, "acknowledgments without a real reason:\n" + "\n".join(weak)


@pytest.mark.parametrize("name", ALL_ENVIRONMENTS)
def test_acknowledgments_sit_on_resources_not_scopes(request: pytest.FixtureRequest, name: str) -> None:
    broad = [
        f"{ack.path} {ack.rule}"
        for ack in acknowledgments(_env(request, name))
        if isinstance(ack.construct, cdk.Stack | cdk.Stage | cdk.App)
    ]
    assert not broad, "acknowledged on a whole stack/stage:\n" + "\n".join(broad)


_GRANULAR = re.compile(r"^AwsSolutions-IAM5\[(?P<kind>Resource|Action)::(?P<value>.+)\]$")


@pytest.mark.parametrize("name", ALL_ENVIRONMENTS)
def test_wildcard_acknowledgments_match_what_is_granted(request: pytest.FixtureRequest, name: str) -> None:
    """An IAM5 acknowledgment names one wildcard; it must still appear in the policy it sits on, or it
    is stale (and may hide the next wildcard someone adds under the same name)."""
    env = _env(request, name)
    stale = []
    checked = 0
    for ack in acknowledgments(env):
        granular = _GRANULAR.match(ack.rule)
        if not granular or not isinstance(ack.construct, cdk.CfnResource):
            continue
        properties = env.resources[env.stack.resolve(ack.construct.logical_id)]["Properties"]
        documents = [properties.get("PolicyDocument", {})]
        documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]  # role inline
        statements = [s for document in documents for s in as_list(document.get("Statement", []))]
        field = "Resource" if granular["kind"] == "Resource" else "Action"
        granted = {
            str(value)
            for s in statements
            if s["Effect"] == "Allow"
            for value in render(as_list(s.get(field)))
        }
        checked += 1
        if granular["value"] not in granted:
            stale.append(f"{ack.path} {ack.rule}")
    assert checked, "no IAM5 acknowledgments on policy resources were found"
    assert not stale, "acknowledgments that match nothing the policy grants:\n" + "\n".join(stale)
