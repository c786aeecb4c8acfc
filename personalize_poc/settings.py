"""Per-environment settings: typed, validated at synth time, loaded from config/environments.yaml."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from personalize_poc.strict_yaml import load_strict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENVIRONMENTS_FILE = PROJECT_ROOT / "config" / "environments.yaml"
DEFAULT_POC_FILE = PROJECT_ROOT / "config" / "poc.yaml"

# SageMaker notebook instance types all look like ml.<family>.<size>; the exact list changes often.
_NOTEBOOK_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,18}[a-z0-9]$")
_ACCOUNT = re.compile(r"^\d{12}$")
# aws-cdk-lib core/lib/stage.js (InvalidStageName): each environment becomes a Stage named after it.
_STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
# CloudWatch Logs only accepts these retention values.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class SettingsError(Exception):
    """A settings problem, phrased as one line a user can act on."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotebookSettings(_Strict):
    instance_type: str = "ml.t3.medium"
    volume_size_gb: Annotated[int, Field(ge=5, le=16384)] = 10
    # The lifecycle configuration stops the instance after this many idle minutes.
    idle_stop_minutes: Annotated[int, Field(ge=5, le=1440)] = 60

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not _NOTEBOOK_TYPE.match(value):
            raise ValueError(f"'{value}' is not a SageMaker notebook instance type such as ml.t3.medium")
        return value


# CloudWatch PutMetricAlarm (botocore model, Period): with a period of an hour or more, Period x
# EvaluationPeriods may not exceed 604,800 s (7 days). The campaign alarms evaluate hourly periods.
MAX_ALARM_HOURS = 168


class MonitoringSettings(_Strict):
    """Dashboard and alarms (constructs/poc_monitoring.py); every alarm notifies the environment's topic."""

    # A campaign with no recommendation requests for this many hours is idle (and still billing).
    idle_alarm_hours: Annotated[int, Field(ge=1, le=MAX_ALARM_HOURS)] = 24
    # Actual TPS below this share of min_provisioned_tps for utilization_alarm_hours hours in a row.
    utilization_alarm_percent: Annotated[int, Field(ge=1, le=100)] = 30
    utilization_alarm_hours: Annotated[int, Field(ge=1, le=MAX_ALARM_HOURS)] = 6
    # Errors of one workflow step (Lambda function) within 5 minutes that raise its alarm.
    step_errors_alarm_count: Annotated[int, Field(ge=1)] = 1


# EventBridge Scheduler user guide, "Schedule types": rate(<value> <unit>) (a value of 1 takes the
# singular unit, more the plural) and cron(<6 fields>), evaluated in the schedule's IANA time zone.
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$")


def _schedule_expression(value: str) -> str:
    rate = _RATE.match(value)
    if rate and int(rate.group(1)) >= 1 and (int(rate.group(1)) == 1) == (not rate.group(2).endswith("s")):
        return value
    if not rate and _CRON.match(value):
        return value
    raise ValueError(
        f"'{value}' is not an EventBridge Scheduler expression such as 'rate(1 hour)', 'rate(6 hours)' or "
        "'cron(0 6 * * ? *)'"
    )


def _time_zone(value: str) -> str:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone such as 'UTC' or 'Europe/Paris'") from None
    return value


class CostGuardSettings(_Strict):
    """The scheduled cost guard (constructs/cost_guard.py, lambdas/poc_steps/cost_guard.py)."""

    # off: not deployed; notify: reports what it would do; act: does it (deletes idle campaigns, lowers
    # minProvisionedTPS). Expiry deletes in notify mode too: setting expires_after_days asks for it.
    mode: Literal["off", "notify", "act"] = "notify"
    schedule: str = "rate(1 hour)"
    time_zone: str = "UTC"
    idle_hours: Annotated[int, Field(ge=1, le=720)] = 24
    # How far back the peak 5-minute TPS is looked for before lowering minProvisionedTPS.
    usage_window_hours: Annotated[int, Field(ge=1, le=720)] = 24
    lower_min_tps: bool = True
    # Each campaign is deleted this many days after its creation; re-running the workflow recreates it.
    expires_after_days: Annotated[int | None, Field(ge=1, le=3650)] = None
    # USD per TPS-hour of a campaign in the environment's region, copied by the owner from the Amazon
    # Personalize pricing page (regional and tiered; the code ships no price). Set, the guard's messages
    # and `personalize-poc status` give money too; unset, TPS-hours only.
    price_per_tps_hour: Annotated[float | None, Field(gt=0, le=1000)] = None

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return _schedule_expression(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _time_zone(value)


class RefreshSettings(_Strict):
    """Scheduled refresh (constructs/scheduled_refresh.py): EventBridge Scheduler starts the POC workflow.
    A run on unchanged data reuses everything (import jobs are named after the data's ETag); new data is
    imported and trained on."""

    schedule: str | None = None  # unset: the workflow runs on demand only
    time_zone: str = "UTC"

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else _schedule_expression(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _time_zone(value)


class EnvironmentSettings(_Strict):
    name: str
    name_prefix: str
    account: str | None = None
    region: str | None = None
    notebook: NotebookSettings = NotebookSettings()
    data_bucket_removal: Literal["destroy", "retain"] = "retain"
    kms_key_arn: str | None = None
    notification_email: str | None = None
    tags: dict[str, str] = {}
    poc_config: str = "config/poc.yaml"
    teardown_on_destroy: bool = True
    auto_start_on_upload: bool = False
    log_retention_days: int = 30
    monitoring: MonitoringSettings = MonitoringSettings()
    cost_guard: CostGuardSettings = CostGuardSettings()
    refresh: RefreshSettings = RefreshSettings()
    # With a pipeline: a manual approval before this environment's Stage deploys.
    approval: bool = False

    @field_validator("name_prefix")
    @classmethod
    def _name_prefix(cls, value: str) -> str:
        if not _NAME_PREFIX.match(value):
            raise ValueError(
                f"'{value}' must be 3-20 characters of lowercase letters, digits and '-', "
                "start with a letter and end with a letter or digit"
            )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise ValueError(f"'{value}' is not an AWS account id (12 digits)")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return value
        regions = _personalize_regions()
        if value not in regions:
            raise ValueError(f"Amazon Personalize is not offered in '{value}' (offered in: {', '.join(regions)})")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.match(value):
            raise ValueError(f"'{value}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<uuid>)")
        return value

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {LOG_RETENTION_DAYS}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' must be 1-128 characters and not start with 'aws:'")
            if len(tag_value) > 256:
                raise ValueError(f"tag '{key}' value is longer than 256 characters")
        return value

    @model_validator(mode="after")
    def _kms_region(self) -> EnvironmentSettings:
        if self.kms_key_arn and self.region and f":kms:{self.region}:" not in self.kms_key_arn:
            raise ValueError(f"kms_key_arn: must be a key in the environment's region {self.region}")
        return self

    @property
    def stack_name(self) -> str:
        return f"{self.name_prefix}-personalize-poc"

    @property
    def poc_config_path(self) -> Path:
        path = Path(self.poc_config)
        return path if path.is_absolute() else PROJECT_ROOT / path


# CodeConnections (and its former name, CodeStar Connections) connection ARNs.
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
PIPELINE_KEY = "pipeline"


class PipelineSettings(_Strict):
    """The optional `pipeline:` section: a self-mutating CDK pipeline deploying `environments` in order."""

    connection_arn: str
    repository: str
    branch: str = "main"
    account: str | None = None
    region: str | None = None
    environments: Annotated[list[str], Field(min_length=1)]

    @field_validator("connection_arn")
    @classmethod
    def _connection(cls, value: str) -> str:
        if not _CONNECTION_ARN.match(value):
            raise ValueError(
                f"'{value}' is not a CodeConnections connection ARN "
                "(arn:aws:codeconnections:<region>:<account>:connection/<uuid>)"
            )
        return value

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(f"'{value}' is not a repository id of the form owner/name")
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        return EnvironmentSettings._account(value)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return EnvironmentSettings._region(value)

    @field_validator("environments")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"environment(s) listed twice: {', '.join(repeated)}")
        return value


@functools.cache
def _personalize_regions() -> tuple[str, ...]:
    import botocore.session

    return tuple(sorted(botocore.session.get_session().get_available_regions("personalize")))


def _field_path(error: Any) -> str:
    parts = [str(part) for part in error["loc"] if part != "[key]"]
    return ".".join(parts) or "(top level)"


def _message(error: Any) -> str:
    """pydantic's wording, except where YAML typing is the real cause: an unquoted number or true/false."""
    value = error.get("input")
    if error["type"] == "string_type" and isinstance(value, int | float | bool):
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        key = " (a tag key)" if "[key]" in error["loc"] else ""
        kind = "true/false" if isinstance(value, bool) else "a number"
        return f'YAML reads {shown}{key} as {kind}, not text; quote it: "{shown}"'
    return str(error["msg"]).removeprefix("Value error, ")


def parse_environment(name: str, raw: Any) -> EnvironmentSettings:
    """Validate one environment's raw mapping; errors become one SettingsError line."""
    if not _STAGE_NAME.match(name):
        raise SettingsError(
            f"environment '{name}': not usable as a CDK stage name; start with a letter and use only "
            "letters, digits, '-', '_' and '.'"
        )
    if not isinstance(raw, dict):
        got = "nothing" if raw is None else type(raw).__name__
        raise SettingsError(f"environment '{name}': expected a mapping of settings, got {got}")
    try:
        return EnvironmentSettings.model_validate({**raw, "name": name})
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = _message(first)
        field = _field_path(first)
        if not first["loc"] and ": " in message:  # cross-field checks name their field first
            field, message = message.split(": ", 1)
        raise SettingsError(f"environment '{name}', field '{field}': {message}{more}") from None


def _check_prefixes(environments: dict[str, EnvironmentSettings]) -> None:
    """Prefixes must differ, and none may extend another: IAM scopes each environment to `<prefix>-*`, which
    for `ppoc-dev` also matches every resource of an environment prefixed `ppoc-dev-eu` (issue 9)."""
    seen: dict[str, str] = {}
    for env in environments.values():
        if env.name_prefix in seen:
            raise SettingsError(
                f"environment '{env.name}', field 'name_prefix': '{env.name_prefix}' is already used by "
                f"environment '{seen[env.name_prefix]}'; prefixes must differ so resources do not collide"
            )
        seen[env.name_prefix] = env.name
    for prefix, name in seen.items():
        for other_prefix, other_name in seen.items():
            if other_prefix.startswith(f"{prefix}-"):
                raise SettingsError(
                    f"environment '{other_name}', field 'name_prefix': '{other_prefix}' extends the prefix "
                    f"'{prefix}' of environment '{name}', whose IAM scope '{prefix}-*' would cover it; "
                    "choose prefixes where neither is the other plus '-...'"
                )


def _read(path: Path) -> dict[Any, Any]:
    try:
        raw = load_strict(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"environment settings file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(raw, dict) or not [name for name in raw if name != PIPELINE_KEY]:
        raise SettingsError(f"{path}: expected a mapping of environment name to settings")
    return raw


def load_environments(path: Path = DEFAULT_ENVIRONMENTS_FILE) -> dict[str, EnvironmentSettings]:
    """Every environment of the file (the `pipeline:` section is not one)."""
    raw = _read(path)
    environments = {str(name): parse_environment(str(name), body) for name, body in raw.items() if name != PIPELINE_KEY}
    _check_prefixes(environments)
    return environments


def load_pipeline(path: Path = DEFAULT_ENVIRONMENTS_FILE) -> PipelineSettings | None:
    """The `pipeline:` section, or None when the file has none (no pipeline is built)."""
    raw = _read(path).get(PIPELINE_KEY)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SettingsError(f"pipeline: expected a mapping of settings, got {type(raw).__name__}")
    try:
        pipeline = PipelineSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(f"pipeline, field '{_field_path(first)}': {_message(first)}") from None
    known = load_environments(path)
    unknown = [name for name in pipeline.environments if name not in known]
    if unknown:
        raise SettingsError(
            f"pipeline, field 'environments': unknown environment(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return pipeline


def load_environment(name: str, path: Path = DEFAULT_ENVIRONMENTS_FILE) -> EnvironmentSettings:
    environments = load_environments(path)
    if name not in environments:
        raise SettingsError(f"unknown environment '{name}'; known: {', '.join(environments)}")
    return environments[name]
