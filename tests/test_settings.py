"""Environment settings are validated at synth time and every mistake is reported as one line that
names the environment and the field."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import yaml

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, SettingsError, load_environments
from tests.conftest import PROJECT_ROOT

SHIPPED = yaml.safe_load(DEFAULT_ENVIRONMENTS_FILE.read_text(encoding="utf-8"))


def _region_without_personalize() -> str:
    session = botocore.session.get_session()
    regions = set(session.get_available_regions("ec2")) - set(session.get_available_regions("personalize"))
    return sorted(regions)[0]


def _write(tmp_path: Path, environments: Any) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(yaml.safe_dump(environments, sort_keys=False), encoding="utf-8")
    return path


def _with(environment: str, field: str, value: Any) -> dict[str, Any]:
    """The shipped settings with one (possibly dotted) field of one environment replaced."""
    environments = copy.deepcopy(SHIPPED)
    target = environments[environment]
    *parents, leaf = field.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[leaf] = value
    return environments


def _error(tmp_path: Path, environments: Any) -> str:
    with pytest.raises(SettingsError) as raised:
        load_environments(_write(tmp_path, environments))
    message = str(raised.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


def test_shipped_environments_load() -> None:
    environments = load_environments()
    assert set(environments) >= {"dev", "prod"}
    for name, settings in environments.items():
        assert settings.name == name
        assert settings.stack_name == f"{settings.name_prefix}-personalize-poc"


BAD_VALUES = [
    pytest.param("dev", "name_prefix", "PPOC_Dev", "name_prefix", id="name-prefix-uppercase"),
    pytest.param("dev", "name_prefix", "p", "name_prefix", id="name-prefix-too-short"),
    pytest.param("dev", "name_prefix", "ppoc-dev-", "name_prefix", id="name-prefix-trailing-dash"),
    pytest.param("dev", "notebook.instance_type", "t3.medium", "notebook.instance_type", id="instance-type"),
    pytest.param("prod", "notebook.volume_size_gb", 2, "notebook.volume_size_gb", id="volume-too-small"),
    pytest.param("prod", "notebook.volume_size_gb", 20000, "notebook.volume_size_gb", id="volume-too-large"),
    pytest.param("dev", "notebook.idle_stop_minutes", 0, "notebook.idle_stop_minutes", id="idle-stop"),
    pytest.param("prod", "data_bucket_removal", "delete", "data_bucket_removal", id="removal-policy"),
    pytest.param("prod", "kms_key_arn", "arn:aws:kms:eu-west-1:123:key/abc", "kms_key_arn", id="kms-arn"),
    pytest.param("prod", "kms_key_arn", "alias/my-key", "kms_key_arn", id="kms-alias"),
    pytest.param("prod", "notification_email", "owners.example.com", "notification_email", id="email"),
    pytest.param("dev", "log_retention_days", 13, "log_retention_days", id="retention"),
    pytest.param("dev", "region", _region_without_personalize(), "region", id="region-without-personalize"),
    pytest.param("dev", "account", "12345", "account", id="account"),
    pytest.param("dev", "tags", {"aws:owner": "me"}, "tags", id="reserved-tag"),
    pytest.param("dev", "notebook.volume_size_gb", "ten", "notebook.volume_size_gb", id="wrong-type"),
    pytest.param("dev", "bucket_name", "my-bucket", "bucket_name", id="unknown-key"),
    pytest.param("dev", "notebook.gpu", True, "notebook.gpu", id="unknown-nested-key"),
]


@pytest.mark.parametrize(("environment", "field", "value", "named_field"), BAD_VALUES)
def test_bad_value_is_one_line_naming_environment_and_field(
    tmp_path: Path, environment: str, field: str, value: Any, named_field: str
) -> None:
    message = _error(tmp_path, _with(environment, field, value))
    assert f"environment '{environment}'" in message
    assert f"field '{named_field}'" in message


def test_kms_key_outside_the_environment_region_is_rejected(tmp_path: Path) -> None:
    environments = _with("prod", "region", "eu-west-1")
    environments["prod"]["kms_key_arn"] = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
    message = _error(tmp_path, environments)
    assert "environment 'prod'" in message
    assert "kms_key_arn" in message


def test_several_mistakes_are_counted_not_listed(tmp_path: Path) -> None:
    environments = _with("dev", "log_retention_days", 13)
    environments["dev"]["data_bucket_removal"] = "delete"
    message = _error(tmp_path, environments)
    assert message.endswith("(and 1 more)")


def test_duplicate_prefixes_are_rejected(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("prod", "name_prefix", SHIPPED["dev"]["name_prefix"]))
    assert "environment 'prod'" in message
    assert "field 'name_prefix'" in message
    assert "'dev'" in message


@pytest.mark.parametrize("body", [["ml.t3.medium"], "ppoc-dev", 42], ids=["list", "string", "number"])
def test_environment_that_is_not_a_mapping_is_rejected(tmp_path: Path, body: Any) -> None:
    message = _error(tmp_path, {**SHIPPED, "dev": body})
    assert "environment 'dev'" in message
    assert "mapping" in message


@pytest.mark.parametrize("content", ["- dev\n- prod\n", "", "just text\n"], ids=["list", "empty", "scalar"])
def test_file_that_is_not_a_mapping_of_environments_is_rejected(tmp_path: Path, content: str) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match="mapping") as raised:
        load_environments(path)
    assert "\n" not in str(raised.value)


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text("dev:\n  name_prefix: [ppoc-dev\n  notebook: {}\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid YAML") as raised:
        load_environments(path)
    assert "\n" not in str(raised.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_environments(tmp_path / "nowhere.yaml")


def _run_app(environments_file: Path, outdir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POC_ENVIRONMENTS_FILE": str(environments_file),
        "CDK_OUTDIR": str(outdir),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_app_reports_bad_settings_in_one_line_and_exits_1(tmp_path: Path) -> None:
    result = _run_app(_write(tmp_path, _with("prod", "notebook.volume_size_gb", 2)), tmp_path / "cdk.out")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Invalid settings: environment 'prod', field 'notebook.volume_size_gb':")
    assert not (tmp_path / "cdk.out" / "manifest.json").exists()


# --- fail fast: YAML typing, stage names, duplicate keys, overlapping prefixes (issue 10, issue 9) -------


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [("account", 123456789012, '"123456789012"'), ("tags.cost-centre", 42, '"42"'), ("tags.public", True, '"true"')],
    ids=["account-number", "tag-value-number", "tag-value-boolean"],
)
def test_an_unquoted_number_says_quote_it(tmp_path: Path, field: str, value: Any, shown: str) -> None:
    message = _error(tmp_path, _with("dev", field, value))
    assert f"field '{field}'" in message
    assert f"quote it: {shown}" in message
    assert "valid string" not in message


def test_a_bad_name_prefix_is_explained_in_words(tmp_path: Path) -> None:
    message = _error(tmp_path, _with("dev", "name_prefix", "PPOC_Dev"))
    assert "lowercase letters, digits and '-'" in message
    assert "^" not in message and "{" not in message  # no raw regular expression


@pytest.mark.parametrize("name", ["dev eu/1", "2024", "-dev", "dév"])
def test_an_environment_name_that_cannot_be_a_stage_name_is_one_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text(f"{name}:\n  name_prefix: ppoc-x\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="CDK stage name") as raised:
        load_environments(path)
    assert f"environment '{name}'" in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "dev:\n  name_prefix: ppoc-dev\nprod:\n  name_prefix: ppoc-prod\ndev:\n  name_prefix: ppoc-dev2\n",
        "dev:\n  name_prefix: ppoc-dev\n  log_retention_days: 14\n  log_retention_days: 30\n",
    ],
    ids=["environment", "field"],
)
def test_a_duplicate_key_is_an_error_with_both_lines(tmp_path: Path, text: str) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match="appears twice") as raised:
        load_environments(path)
    first, second = (1, 5) if text.count("dev:") == 2 else (3, 4)
    assert f"line {first} and line {second}" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_prefix_that_extends_another_is_rejected_naming_both_environments(tmp_path: Path) -> None:
    environments = _with("prod", "name_prefix", f"{SHIPPED['dev']['name_prefix']}-eu")
    message = _error(tmp_path, environments)
    assert "environment 'prod', field 'name_prefix'" in message
    assert "environment 'dev'" in message
    assert f"'{SHIPPED['dev']['name_prefix']}-*'" in message


def test_prefixes_that_only_share_a_start_are_fine(tmp_path: Path) -> None:
    """`ppoc-dev-*` does not match `ppoc-devx-...`: only a '-' continuation overlaps."""
    environments = _with("prod", "name_prefix", f"{SHIPPED['dev']['name_prefix']}x")
    assert set(load_environments(_write(tmp_path, environments))) == {"dev", "prod"}


def test_app_reports_a_bad_stage_name_in_one_line_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "environments.yaml"
    path.write_text("dev eu/1:\n  name_prefix: ppoc-dev\n", encoding="utf-8")
    result = _run_app(path, tmp_path / "cdk.out")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Invalid settings: environment 'dev eu/1': not usable as a CDK stage name; start with a letter and use "
        "only letters, digits, '-', '_' and '.'"
    ]
