"""Issue 14: a reviewer changing one campaign's min_provisioned_tps (1 -> 2) reads the change in a few lines
naming the campaign, in `make plan-diff` and in `cdk diff`, and no Lambda version is replaced.

One extra synth of dev (no cdk-nag) from a copy of config/ with the TPS changed, compared with the
session's synth of the repository's own config."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from personalize_poc import plan_diff
from personalize_poc.settings import PROJECT_ROOT
from stacks.application import build_app
from tests.conftest import SynthesizedApp

CAMPAIGN = "user-personalization"


@pytest.fixture(scope="module")
def changed_assembly(synthesized: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dev synthesized with one campaign's min_provisioned_tps 1 -> 2 (nothing else differs)."""
    root = tmp_path_factory.mktemp("tps-change")
    config = root / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    poc = config / "poc.yaml"
    text = poc.read_text(encoding="utf-8")
    block = f"  - name: {CAMPAIGN}\n    solution: {CAMPAIGN}\n    min_provisioned_tps: 1\n"
    assert block in text, "config/poc.yaml's first campaign changed shape; adjust this test"
    poc.write_text(text.replace(block, block.replace("tps: 1", "tps: 2")), encoding="utf-8")
    environments = config / "environments.yaml"
    dev = environments.read_text(encoding="utf-8").split("\nprod:", 1)[0]
    environments.write_text(dev.replace("dev:\n", f"dev:\n  poc_config: {poc}\n", 1), encoding="utf-8")
    outdir = root / "cdk.out"
    build_app(outdir=str(outdir), environments_file=environments, nag=False).synth()
    return outdir


def _template(assembly: Path) -> dict[str, Any]:
    return plan_diff.assembly_template(assembly, "dev")


def test_plan_diff_names_the_campaign_and_field_in_a_few_lines(
    synthesized: SynthesizedApp, changed_assembly: Path
) -> None:
    lines = plan_diff.report(_template(synthesized.assembly_dir), _template(changed_assembly), old_label="cdk.out")
    text = "\n".join(lines)
    assert len(lines) <= 20, text
    assert f"~ solutions[{CAMPAIGN}].campaigns[{CAMPAIGN}].minProvisionedTPS: 1 -> 2" in text
    fields = [line for line in lines if line.startswith("  ~ solutions") or line.startswith("  + ")]
    assert len([line for line in fields if "solutions[" in line]) == 1, text
    assert "Lambda versions replaced: none" in text


def test_the_template_changes_only_what_follows_from_the_tps(
    synthesized: SynthesizedApp, changed_assembly: Path
) -> None:
    """The workflow's definition and the campaign's dashboard/alarms change; no Lambda function, version or
    alias does, nor the teardown workflow (it carries names only)."""
    changed = plan_diff.changed_resources(_template(synthesized.assembly_dir), _template(changed_assembly))
    kinds = {line.split()[1] for line in changed}
    assert not [kind for kind in kinds if kind.startswith("AWS::Lambda::")], changed
    machines = [line for line in changed if "AWS::StepFunctions::StateMachine" in line]
    assert len(machines) == 1 and "Workflow" in machines[0] and machines[0].endswith("DefinitionString"), changed


def _cdk_diff(new_assembly: Path, old_template: Path) -> str:
    """The CDK CLI's own diff against a template file: offline, no credentials."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for variable in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(variable, None)
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "diff", "--no-notices", "--no-color", "--app", str(new_assembly),
         "--template", str(old_template), "dev/PersonalizePoc"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result.stdout + result.stderr


def _section(diff: str, header: str) -> list[str]:
    """The lines of one resource's entry in `cdk diff` (up to the next resource or the end)."""
    lines = diff.splitlines()
    start = next(i for i, line in enumerate(lines) if header in line)
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\[[~+-]\]", lines[i])), len(lines))
    return [line for line in lines[start:end] if line.strip()]


def test_cdk_diff_shows_the_tps_change_on_its_own_lines(synthesized: SynthesizedApp, changed_assembly: Path) -> None:
    old_template = synthesized.environments["dev"].template_path
    diff = _cdk_diff(changed_assembly, old_template)
    section = _section(diff, "AWS::StepFunctions::StateMachine")
    shown = "\n".join(section)
    assert len(section) <= 20, shown
    removed = [line for line in section if "[-]" in line]
    added = [line for line in section if "[+]" in line]
    assert len(removed) == len(added) == 1, shown
    assert re.search(r'minProvisionedTPS\\": 1,', removed[0]) and re.search(r'minProvisionedTPS\\": 2,', added[0])
    assert f"retail-{CAMPAIGN}" in shown, "the campaign's name is in the diff's context lines"
    assert "AWS::Lambda::Version" not in diff
    # The dashboard's threshold line too: no line of the whole diff is a multi-kilobyte JSON string.
    longest = max(diff.splitlines(), key=len)
    assert len(longest) < 250, longest[:300]
    dashboard = "\n".join(_section(diff, "AWS::CloudWatch::Dashboard"))
    assert '[-] "\\"value\\": 1,",' in dashboard and '[+] "\\"value\\": 2,",' in dashboard, dashboard


def test_plan_diff_tells_items_apart_by_name() -> None:
    old = {"filters": [{"name": "a", "expression": "x"}, {"name": "b", "expression": "y"}]}
    new = {"filters": [{"name": "b", "expression": "y"}, {"name": "c", "expression": "z"}]}
    assert list(plan_diff.diff_values(old, new)) == [
        "- filters[a]",
        '+ filters[c]: {"expression": "z", "name": "c"}',
    ]


def test_plan_diff_main_compares_with_the_last_synth_offline(
    synthesized: SynthesizedApp, changed_assembly: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = plan_diff.main(
        ["dev", "--new-assembly", str(changed_assembly), "--old-assembly", str(synthesized.assembly_dir), "--offline"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("POC definition, working tree against the last synth")
    assert "minProvisionedTPS: 1 -> 2" in out


def test_the_pretty_definition_is_the_same_json(synthesized: SynthesizedApp) -> None:
    """The one-line-per-field rendering is only layout: every line joined gives the definition CDK's
    compact rendering gives (same states, same values)."""
    template = synthesized.environments["dev"].template_json
    plan = plan_diff.plan_from_template(template)
    assert plan["datasetGroup"]["name"].startswith("ppoc-dev-")
    (machine,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and "POC config" in json.dumps(r["Properties"]["DefinitionString"])
    ]
    separator, lines = machine["Properties"]["DefinitionString"]["Fn::Join"]
    assert separator == "\n" and len(lines) > 100  # one field per line, not one long string
