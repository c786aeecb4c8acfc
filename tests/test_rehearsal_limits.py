"""Step Functions limits, rehearsed: the workflow's history stays bounded whatever the service's
durations (25,000 events fail an execution with no Catch and no notification), every wait loop ends at
its configured timeout with an error that names the resource and the timeout, and a quota is waited for
in the loop for as long as the resource's timeout allows.

The quotas themselves are enforced by the harness (tests/rehearsal/sfn_quotas.py). Durations are
simulated: a 40-hour training takes seconds of wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from personalize_poc.poc_definition import DEFAULT_POLLING
from stacks.application import build_app
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal, Run
from tests.rehearsal.sfn_quotas import MAX_HISTORY_EVENTS
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)

# isort: split
from poc_steps import polling

pytestmark = pytest.mark.rehearsal

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ppoc-dev"
HOUR = 3600
#: Events of one check of a wait loop: task entered, Lambda scheduled/started/succeeded, task exited,
#: Choice entered/exited, Wait entered/exited.
EVENTS_PER_CHECK = 9
TEN = "ten"
RECIPES = ["aws-user-personalization-v2", "aws-sims", "aws-personalized-ranking-v2", "aws-popularity-count"]
#: The scenario of issue 9: ten solutions training 40 hours each, imports of 20 hours.
LONG = {**FAST_DURATIONS, "solution_version": 40 * HOUR, "dataset_import_job": 20 * HOUR}


def failure_messages(rehearsal: Rehearsal, subject: str) -> list[str]:
    return [m["message"] for m in rehearsal.sns_messages() if (m["subject"] or "").startswith(subject)]


def checks(run: Run, kind: str) -> list[Any]:
    return [i for i in run.invocations if isinstance(i.event, dict) and i.event.get("kind") == kind]


# --------------------------------------------------------------------------------------------------
# The polling rule (pure)
# --------------------------------------------------------------------------------------------------
def test_first_checks_come_at_the_configured_interval_then_the_wait_grows_up_to_the_cap() -> None:
    times = polling.check_times(120, 48 * HOUR)
    waits = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert waits[:11] == [120] * 11  # quick resources are seen as promptly as with fixed intervals
    assert waits[11] > 120 and all(b >= a for a, b in zip(waits[:-1], waits[1:-1], strict=False))
    assert max(waits) == polling.MAX_WAIT_SECONDS
    assert times[-1] == 48 * HOUR  # the last check is at the timeout: the bound is the configured one
    # A resource is noticed at most a tenth of the time waited (or the cap) after it is ready.
    for done_at in (25 * 60, 90 * 60, 7 * HOUR, 40 * HOUR):
        seen = next(t for t in times if t >= done_at)
        assert seen - done_at <= max(120, min(polling.MAX_WAIT_SECONDS, polling.GROWTH * seen))


def test_every_kind_has_a_bounded_number_of_checks_far_below_fixed_intervals() -> None:
    for kind, settings in DEFAULT_POLLING.items():
        timeout = settings.timeout_minutes * 60
        grown = polling.worst_case_checks(settings.interval_seconds, timeout)
        assert grown <= 100, kind  # <= 900 events per resource, even one that runs to its timeout
        assert grown <= settings.max_attempts, kind
    # Training at its 48-hour timeout: 1,440 checks (12,960 events) at a fixed 120 s.
    training = DEFAULT_POLLING["solution_version"]
    assert training.max_attempts * EVENTS_PER_CHECK > 12_000
    assert polling.worst_case_checks(120, 48 * HOUR) * EVENTS_PER_CHECK < 1_000


def test_the_wait_never_passes_the_timeout_and_is_a_positive_integer() -> None:
    assert polling.next_wait_seconds(60, 600, 590) == 10
    assert polling.next_wait_seconds(60, 600, 600) == 1
    assert polling.next_wait_seconds(3600, 7 * 24 * HOUR, 0) == 3600
    assert polling.loop_fields({"waitedSeconds": 1200, "polling": {"intervalSeconds": 60, "timeoutSeconds": 3600}}) == {
        "waitedSeconds": 1200,
        "waitSeconds": 120,
        "timeoutSeconds": 3600,
    }


# --------------------------------------------------------------------------------------------------
# Ten solutions training 40 hours each, imports of 20 hours
# --------------------------------------------------------------------------------------------------
def synthesize_ten_solutions(folder: Path) -> Path:
    """The sample POC with ten solutions (one campaign, one batch job) as environment ``ten``; returns
    the cloud assembly (also used by bench/bench_orchestration.py)."""
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", folder / "schemas", dirs_exist_ok=True)
    poc = yaml.safe_load((PROJECT_ROOT / "config" / "poc.yaml").read_text(encoding="utf-8"))
    poc["solutions"] = [
        {"name": f"s{i:02d}-{recipe.removeprefix('aws-')}", "recipe": recipe}
        for i, recipe in ((i, RECIPES[i % len(RECIPES)]) for i in range(10))
    ]
    personalization = [s["name"] for s in poc["solutions"] if s["recipe"] == RECIPES[0]]
    poc["campaigns"] = [{"name": "c-personalization", "solution": personalization[0], "min_provisioned_tps": 1}]
    poc["batch_inference"][0]["solution"] = personalization[1]
    (folder / "poc.yaml").write_text(yaml.safe_dump(poc), encoding="utf-8")
    environments = yaml.safe_load((PROJECT_ROOT / "config" / "environments.yaml").read_text(encoding="utf-8"))
    ten = {**environments["dev"], "name_prefix": "ppoc-ten", "poc_config": str(folder / "poc.yaml")}
    (folder / "environments.yaml").write_text(yaml.safe_dump({TEN: ten}), encoding="utf-8")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    outdir = folder / "cdk.out"
    build_app(outdir=str(outdir), environments_file=folder / "environments.yaml", only=[TEN], nag=False).synth()
    return outdir


@pytest.fixture(scope="module")
def ten_solutions_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_ten_solutions(tmp_path_factory.mktemp("ten-solutions"))


def test_ten_forty_hour_trainings_keep_the_history_bounded(ten_solutions_assembly: Path) -> None:
    """Before the redesign (fixed intervals) this execution reached 25,000 events after 15 simulated
    hours, still importing, and failed with States.Runtime: no Catch, no notification."""
    with Rehearsal(ten_solutions_assembly, TEN, durations=LONG) as rehearsal:
        rehearsal.upload_sample_data()
        arn = rehearsal.start()
        description = rehearsal.wait(arn, timeout=900)  # the history itself is not fetched: 10k events
        peak = rehearsal.sfn_quotas.peak(arn)
        print(f"\n10 solutions x 40 h training, 20 h imports: peak history {peak} events")

        assert description["status"] == "SUCCEEDED", f"{description.get('error')}: {description.get('cause')}"
        assert peak < MAX_HISTORY_EVENTS
        assert Counter(r.status for r in rehearsal.double.resources("solution_version")) == {"ACTIVE": 10}
        trainings = Counter(
            i.event["refs"]["solutionArn"]
            for i in rehearsal.lambdas.invocations
            if isinstance(i.event, dict) and i.event.get("kind") == "solution_version"
        )
        assert len(trainings) == 10
        # Each 40-hour training is a bounded number of checks: the rule's worst case at 48 hours.
        assert max(trainings.values()) <= polling.worst_case_checks(120, 48 * HOUR)
        assert rehearsal.clock.world() > 60 * HOUR


# --------------------------------------------------------------------------------------------------
# Timeouts: a resource that never gets ready ends the loop, names itself and its timeout, notifies
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="class")
def stuck(assembly_dir: Path) -> Iterator[tuple[Rehearsal, Run, Run]]:
    """The build waits for a dataset group that takes longer than its 30-minute timeout; then, with the
    group ACTIVE, the teardown waits for its deletion longer than the level's 30 minutes."""
    with Rehearsal(assembly_dir, "dev", durations=FAST_DURATIONS) as rehearsal:
        rehearsal.upload_sample_data()
        rehearsal.double.slow("dataset_group", 50 * 60 / FAST_DURATIONS["dataset_group"])
        build = rehearsal.run()
        rehearsal.clock.advance_world(HOUR)
        rehearsal.double.slow("delete_dataset_group", 50.0)  # 50 minutes
        assert rehearsal.deployment is not None
        teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"))
        yield rehearsal, build, teardown


class TestTimeouts:
    def test_the_build_fails_naming_the_resource_and_its_timeout(self, stuck: tuple[Rehearsal, Run, Run]) -> None:
        rehearsal, build, _ = stuck
        assert build.status == "FAILED"
        assert build.error == "WaitTimedOut"
        assert f"dataset_group {PREFIX}-retail was not ready after 30 min" in (build.cause or "")
        assert "CREATE IN_PROGRESS" in (build.cause or "")
        # It gave up at the configured timeout, having checked with growing intervals.
        polls = checks(build, "dataset_group")
        assert polls[-1].sim_time - polls[0].sim_time == pytest.approx(30 * 60, abs=1)
        assert len(polls) == polling.worst_case_checks(10, 30 * 60)
        (message,) = failure_messages(rehearsal, "Personalize POC run failed")
        assert f"dataset_group {PREFIX}-retail was not ready after 30 min" in message

    def test_the_teardown_fails_naming_the_level_and_its_timeout(self, stuck: tuple[Rehearsal, Run, Run]) -> None:
        rehearsal, _, teardown = stuck
        assert teardown.status == "FAILED"
        assert teardown.error == "WaitTimedOut"
        assert "teardown level dataset_group: 1 resource(s) still not deleted after 30 min" in (teardown.cause or "")
        (message,) = failure_messages(rehearsal, "Personalize POC teardown failed")
        assert "dataset_group" in message and "30 min" in message


# --------------------------------------------------------------------------------------------------
# Quotas: waited for in the loop, up to the resource's timeout, then explained
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quota_bound(assembly_dir: Path) -> Iterator[tuple[Rehearsal, Run]]:
    """One training at a time, three hours each (the last waits nine hours for the quota), and two
    active campaigns for three: the third campaign's quota never frees."""
    durations = {**FAST_DURATIONS, "solution_version": 3 * HOUR}
    with Rehearsal(assembly_dir, "dev", durations=durations) as rehearsal:
        rehearsal.upload_sample_data()
        rehearsal.double.set_quota("concurrent_solution_versions", 1)
        rehearsal.double.set_quota("active_campaigns", 2)
        yield rehearsal, rehearsal.run()


class TestQuotas:
    def test_training_waits_hours_for_the_concurrent_training_quota(self, quota_bound: tuple[Rehearsal, Run]) -> None:
        """The old quota Retry gave up after about 45 minutes and failed the run here."""
        rehearsal, run = quota_bound
        assert Counter(r.status for r in rehearsal.double.resources("solution_version")) == {"ACTIVE": 4}
        waited = [i for i in checks(run, "solution_version") if isinstance(i.result, dict) and i.result.get("quota")]
        assert waited and "Total number of pending or in progress solution versions" in waited[0].result["quota"]
        assert max(i.sim_time for i in waited) - min(i.sim_time for i in waited) > 8 * HOUR
        # Visible in the execution as checks of the loop, not as failed attempts of a Retry.
        assert not [d for d in run.failed_tasks() if d.get("error") == "QuotaExceeded"]
        succeeded = run.events("LambdaFunctionSucceeded")
        outputs = [json.loads(e["lambdaFunctionSucceededEventDetails"]["output"]) for e in succeeded]
        assert any(o.get("quota") for o in outputs)

    def test_a_quota_that_never_frees_fails_at_the_timeout_saying_which_quota(
        self, quota_bound: tuple[Rehearsal, Run]
    ) -> None:
        rehearsal, run = quota_bound
        assert run.status == "FAILED"
        assert run.error == "QuotaExceeded"
        cause = run.cause or ""
        assert "waited 6 h (its polling timeout)" in cause
        assert "Total number of active campaigns" in cause and "Service Quotas" in cause
        assert Counter(r.status for r in rehearsal.double.resources("campaign")) == {"ACTIVE": 2}
        (message,) = failure_messages(rehearsal, "Personalize POC run failed")
        assert "Total number of active campaigns" in message
