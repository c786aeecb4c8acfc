"""What `data export` and `data delete-users` share: the deployed POC they act on, job names that never
collide, and a bounded wait for a Personalize job with progress on stderr.

The deployed POC is found as the other commands find it: SSM parameters the stack publishes
(``/<prefix>/bucket-name``, ``/<prefix>/personalize-role-arn``) and the one the workflow publishes after a
run (``/<prefix>/poc/dataset-group-arn``).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from personalize_poc.data import aws
from personalize_poc.data.errors import CliError
from personalize_poc.name_rules import name_rule

ROLE_PARAMETER = "personalize-role-arn"
DATASET_GROUP_PARAMETER = "poc/dataset-group-arn"
# Seconds between two Describe calls: short at first, then longer (at most 5 minutes), so a day-long
# deletion costs a few hundred calls, not thousands.
FIRST_INTERVAL, MAX_INTERVAL = 10.0, 300.0
# Patched by tests that run the wait on simulated time.
sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class DeployedPoc:
    bucket: str
    role_arn: str
    dataset_group_arn: str
    kms_key_arn: str | None
    tags: dict[str, str]

    @property
    def group_name(self) -> str:
        """The dataset group's name: the scope of the POC's Personalize names and IAM grants."""
        return self.dataset_group_arn.rsplit("/", 1)[-1]

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @property
    def tag_list(self) -> list[dict[str, str]]:
        return [{"tagKey": key, "tagValue": value} for key, value in sorted(self.tags.items())]


def find_deployed(session: Any, environment: Any) -> DeployedPoc:
    bucket = aws.read_parameter(session, environment, aws.BUCKET_PARAMETER)
    role_arn = aws.read_parameter(session, environment, ROLE_PARAMETER)
    try:
        group = aws.read_parameter(session, environment, DATASET_GROUP_PARAMETER)
    except CliError:
        raise CliError(
            f"no dataset group published for '{environment.name}' yet "
            f"({aws.parameter_name(environment, DATASET_GROUP_PARAMETER)}): run the workflow first "
            f"(personalize-poc run start {environment.name})"
        ) from None
    return DeployedPoc(bucket, role_arn, group, getattr(environment, "kms_key_arn", None) or None,
                       dict(getattr(environment, "tags", None) or {}))


def job_name(group_name: str, what: str, operation: str, now: dt.datetime | None = None) -> str:
    """``<dataset group>-<what>-<UTC time>-<4 hex>``: in the POC's name scope (its IAM grants cover
    ``<group>-*``), and new on every run. Export and deletion jobs cannot be deleted, so their names stay
    taken in the account for good. Checked against ``operation``'s jobName limit in botocore's model."""
    now = now or dt.datetime.now(dt.UTC)
    name = f"{group_name}-{what}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:4]}"
    limit, pattern = name_rule(operation)
    if len(name) > limit:
        raise CliError(f"the job name {name} is {len(name)} characters; {operation} allows {limit}: shorten the "
                       "dataset group name or the environment's name prefix")
    if not re.fullmatch(pattern, name):
        raise CliError(f"the job name {name} does not match {operation}'s pattern {pattern}")
    return name


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def wait_for_jobs(describe: Callable[[str], dict[str, Any]], arns: dict[str, str], terminal: frozenset[str], *,
                  timeout_minutes: float, console: Console, what: str) -> dict[str, dict[str, Any]]:
    """Describe each job (label -> ARN) until every one is in a ``terminal`` status or the bound passes.

    One line on stderr for each status change (a log stays readable); returns label -> last description.
    Past the bound: a CliError saying which jobs are still running and how to follow them."""
    started = monotonic()
    interval = FIRST_INTERVAL
    last: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    while True:
        for label, arn in arns.items():
            if label in last and last[label].get("status") in terminal:
                continue
            last[label] = describe(arn)
            status = str(last[label].get("status", "?"))
            if seen.get(label) != status:
                console.print(f"{what} {label}: {status} ({duration(monotonic() - started)})")
                seen[label] = status
        running = [label for label, job in last.items() if job.get("status") not in terminal]
        if not running:
            return last
        if monotonic() - started + interval > timeout_minutes * 60:
            raise CliError(f"{what} still running after {timeout_minutes:g} min ({', '.join(running)}): it goes on "
                           f"in the service; follow it with aws personalize describe-* on {arns[running[0]]}")
        sleep(interval)
        interval = min(MAX_INTERVAL, interval * 1.5)
