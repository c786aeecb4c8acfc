"""Offline rehearsal of the synthesized POC workflow: moto runs the state machine, the deployed Lambda
asset runs in-process, the Personalize double plays the service, Wait states take simulated time.

Durations are shortened (two or three polls per resource) so that each run takes a few seconds of
wall time; `make rehearse` and bench/bench_orchestration.py use the double's realistic defaults.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.rehearsal.harness import CONFIG_STATE, FAST_DURATIONS, Rehearsal, Run, hold
from tests.rehearsal.trace import summarize

# Thread exceptions fail these tests (pyproject.toml's filterwarnings), except moto's stopped-branch one.
pytestmark = pytest.mark.rehearsal

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "ppoc-dev"
PARAMETER_PATH = f"/{PREFIX}/poc"
FAST = FAST_DURATIONS
#: What the sample POC (config/poc.yaml) builds.
SAMPLE_POC = {
    "dataset_group": 1,
    "schema": 3,
    "dataset": 3,
    "dataset_import_job": 3,
    "solution": 4,
    "solution_version": 4,
    "campaign": 3,
    "filter": 2,
    "event_tracker": 1,
    "batch_inference_job": 1,
}
SAMPLE_CREATES = {
    "CreateDatasetGroup": 1,
    "CreateSchema": 3,
    "CreateDataset": 3,
    "CreateDatasetImportJob": 3,
    "CreateSolution": 4,
    "CreateSolutionVersion": 4,
    "CreateCampaign": 3,
    "CreateFilter": 2,
    "CreateEventTracker": 1,
    "CreateBatchInferenceJob": 1,
}
Rehearsed = tuple[Rehearsal, Run, dict[str, int]]
SOLUTIONS = {"user-personalization", "sims", "personalized-ranking", "popularity-baseline"}


def resources(rehearsal: Rehearsal) -> Counter[str]:
    return Counter(r.kind for r in rehearsal.double.resources())


def statuses(rehearsal: Rehearsal) -> Counter[str]:
    return Counter(r.status for r in rehearsal.double.resources())


def failures(run: Run, error: str) -> int:
    return sum(1 for d in run.failed_tasks() if d.get("error") == error)


def failure_messages(rehearsal: Rehearsal) -> list[dict[str, Any]]:
    return [m for m in rehearsal.sns_messages() if (m["subject"] or "").startswith("Personalize POC run failed")]


@pytest.fixture
def rehearsal(assembly_dir: Path) -> Iterator[Rehearsal]:
    with Rehearsal(assembly_dir, "dev", durations=FAST) as rehearsal:
        rehearsal.upload_sample_data()
        yield rehearsal


# --------------------------------------------------------------------------------------------------
# Happy path, and a second run of the same POC
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="class")  # ends with TestSamplePoc: one double/moto may be installed at a time
def rehearsed(assembly_dir: Path) -> Iterator[Rehearsed]:
    """The sample POC rehearsed once; the tests of TestSamplePoc read what it left behind."""
    with Rehearsal(assembly_dir, "dev", durations=FAST) as rehearsal:
        rehearsal.upload_sample_data()
        run = rehearsal.run()
        yield rehearsal, run, rehearsal.create_calls()


class TestSamplePoc:
    def test_succeeds_and_every_resource_is_active(self, rehearsed: Rehearsed) -> None:
        rehearsal, run, creates = rehearsed
        assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
        assert resources(rehearsal) == SAMPLE_POC
        assert set(statuses(rehearsal)) == {"ACTIVE"}
        assert creates == SAMPLE_CREATES

    def test_report_has_metrics_for_every_solution(self, rehearsed: Rehearsed) -> None:
        rehearsal, run, _ = rehearsed
        execution_id = run.arn.rsplit(":", 1)[-1]
        report = rehearsal.read_json(f"reports/{execution_id}/report.json")
        assert rehearsal.read_json("reports/latest/report.json") == report
        assert f"reports/{execution_id}/report.md" in rehearsal.keys("reports/")
        rows = {row["solution"]: row for row in report["solutions"]}
        assert set(rows) == SOLUTIONS
        for row in rows.values():
            assert row["metrics"]["normalized_discounted_cumulative_gain_at_10"] > 0
        assert rows["popularity-baseline"]["baseline"] is True
        # Every real recipe is compared with the Popularity-Count baseline, and beats it in the double.
        assert rows["user-personalization"]["liftOverBaseline"]["normalized_discounted_cumulative_gain_at_10"] > 0
        assert {c["name"] for c in report["campaigns"]} == {
            "user-personalization",
            "sims",
            "personalized-ranking",
        }
        assert report["batchInference"][0]["outputUri"].startswith(f"s3://{rehearsal.bucket}/batch-output/")

    def test_publishes_what_it_built_to_ssm(self, rehearsed: Rehearsed) -> None:
        rehearsal, run, _ = rehearsed
        parameters = rehearsal.parameters(PARAMETER_PATH)
        (group_arn,) = rehearsal.double.arns("dataset_group")
        assert parameters[f"{PARAMETER_PATH}/dataset-group-arn"] == group_arn
        assert parameters[f"{PARAMETER_PATH}/report-uri"].endswith(f"{run.arn.rsplit(':', 1)[-1]}/report.json")
        assert {n.rsplit("/", 1)[-1] for n in parameters if "/campaigns/" in n} == {
            "user-personalization",
            "sims",
            "personalized-ranking",
        }
        assert {n.rsplit("/", 1)[-1] for n in parameters if "/solution-versions/" in n} == SOLUTIONS
        assert {n.rsplit("/", 1)[-1] for n in parameters if "/filters/" in n} == {
            "exclude-purchased",
            "category",
        }
        assert parameters[f"{PARAMETER_PATH}/event-tracker/arn"] in rehearsal.double.arns("event_tracker")
        assert parameters[f"{PARAMETER_PATH}/event-tracker/tracking-id"]

    def test_every_state_payload_fits_the_step_functions_limit(self, rehearsed: Rehearsed) -> None:
        _, run, _ = rehearsed
        largest = max(
            len(details[field].encode())
            for event in run.history
            for details in event.values()
            if isinstance(details, dict)
            for field in ("input", "output")
            if isinstance(details.get(field), str)
        )
        assert largest < 256 * 1024  # Step Functions fails a state whose input/output exceeds 256 KiB

    def test_notifies_success(self, rehearsed: Rehearsed) -> None:
        rehearsal, _, _ = rehearsed
        (message,) = rehearsal.sns_messages()
        assert message["subject"] == "Personalize POC run succeeded"
        assert "ppoc-dev-retail" in message["message"] and "popularity-baseline (baseline)" in message["message"]

    def test_simulated_makespan_is_the_critical_path(self, rehearsed: Rehearsed) -> None:
        rehearsal, run, _ = rehearsed
        summary = summarize(rehearsal, run)
        chain = [w.kind for w in summary.critical_path.chain]
        assert chain == [
            "dataset_group",
            "dataset",
            "dataset_import_job",
            "solution",
            "solution_version",
            "batch_inference_job",
        ]
        # Parallel branches overlap: the run takes its critical path (polls land on the durations here).
        assert summary.critical_path.seconds == 20 + 20 + 120 + 20 + 240 + 240
        assert summary.makespan == pytest.approx(summary.critical_path.seconds, abs=1)
        assert summary.lambda_invocations["ensure_handler"] > 30
        assert summary.state_transitions > summary.lambda_invocations.total()

    def test_rerun_after_success_creates_nothing(self, rehearsed: Rehearsed) -> None:
        rehearsal, first, creates = rehearsed
        second = rehearsal.run()
        assert second.status == "SUCCEEDED", f"{second.error}: {second.cause}"
        assert rehearsal.create_calls() == creates
        assert resources(rehearsal) == SAMPLE_POC
        # Everything is found ACTIVE on the first look: one ensure call per resource, no waiting.
        assert second.sim_start >= first.sim_end
        assert len(second.events("WaitStateEntered")) == 0

    def test_new_data_is_imported_trained_and_deployed(self, rehearsed: Rehearsed) -> None:
        """Runs after the re-run above (same rehearsal): the interactions file changes."""
        rehearsal, _, creates = rehearsed
        uri = next(d["s3Uri"] for d in rehearsal.plan["datasets"] if d["type"] == "interactions")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        s3 = rehearsal.client("s3")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read() + b"user_1,item_1,1759000000,view,3.0\n"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        rehearsal.clock.advance_world(86_400)  # a day later

        run = rehearsal.run()
        assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
        new = {op: n - creates.get(op, 0) for op, n in rehearsal.create_calls().items() if n != creates.get(op, 0)}
        # The changed file is imported again, every solution retrained, the batch job rerun on the new
        # version; campaigns are updated in place, not recreated.
        assert new == {"CreateDatasetImportJob": 1, "CreateSolutionVersion": 4, "CreateBatchInferenceJob": 1}
        assert rehearsal.double.call_count("UpdateCampaign") == 3
        latest = {r.parent: r.arn for r in rehearsal.double.resources("solution_version")}
        campaigns = rehearsal.client("personalize")
        for arn in rehearsal.double.arns("campaign"):
            campaign = campaigns.describe_campaign(campaignArn=arn)["campaign"]
            assert campaign["status"] == "ACTIVE"
            assert campaign["solutionVersionArn"] in latest.values()

    def test_every_resource_the_run_creates_carries_the_environment_tags(self, rehearsed: Rehearsed) -> None:
        rehearsal, _, _ = rehearsed
        personalize = rehearsal.client("personalize")
        created = [r for r in rehearsal.double.resources() if r.kind != "schema"]  # CreateSchema takes no tags
        assert {r.kind for r in created} == set(SAMPLE_POC) - {"schema"}
        for resource in created:
            tags = personalize.list_tags_for_resource(resourceArn=resource.arn)["tags"]
            assert tags == _environment_tags(), f"{resource.kind} {resource.name}"

    def test_a_renamed_dataset_group_is_built_beside_the_old_one_which_stays_untouched(
        self, rehearsed: Rehearsed
    ) -> None:
        """`cdk deploy` after renaming dataset_group.name, then a run: a second POC beside the first (names
        are unique per account; they used to collide with the first POC's solutions)."""
        rehearsal, _, _ = rehearsed
        personalize = rehearsal.client("personalize")
        old_campaigns = {
            arn: personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"]
            for arn in rehearsal.double.arns("campaign")
        }
        updates_before = rehearsal.double.call_count("UpdateCampaign")
        deployed = rehearsal.plan  # the synthesized definition drops null members; so must the comparison
        assert {k: deployed[k] for k in _plan_for(rehearsal, "retail")} == _without_nulls(
            _plan_for(rehearsal, "retail")
        )
        rehearsal.double.set_quota("active_campaigns", 6)

        with _deployed_plan(rehearsal, _plan_for(rehearsal, "retail-b")):
            run = rehearsal.run()

        assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
        assert sorted(r.name for r in rehearsal.double.resources("dataset_group")) == [
            "ppoc-dev-retail",
            "ppoc-dev-retail-b",
        ]
        assert resources(rehearsal)["campaign"] == 6 and resources(rehearsal)["solution"] == 8
        for arn, version in old_campaigns.items():
            assert personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"] == version
        assert rehearsal.double.call_count("UpdateCampaign") == updates_before

    def test_a_run_after_teardown_on_the_same_data_builds_everything_again(self, rehearsed: Rehearsed) -> None:
        """Import and batch jobs cannot be deleted, so their names stay taken: the rebuild must not reuse
        them (it failed with ResourceAlreadyExistsException on the first import)."""
        rehearsal, _, _ = rehearsed
        assert rehearsal.deployment is not None
        imports_before = rehearsal.create_calls()["CreateDatasetImportJob"]
        teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"))
        assert teardown.status == "SUCCEEDED", f"{teardown.error}: {teardown.cause}"
        assert [r.name for r in rehearsal.double.resources("dataset_group")] == ["ppoc-dev-retail-b"]

        again = rehearsal.run()

        assert again.status == "SUCCEEDED", f"{again.error}: {again.cause}"
        assert rehearsal.create_calls()["CreateDatasetImportJob"] == imports_before + 3
        groups = {r.arn: r.name for r in rehearsal.double.resources("dataset_group")}
        assert sorted(groups.values()) == ["ppoc-dev-retail", "ppoc-dev-retail-b"]


# --------------------------------------------------------------------------------------------------
# Failures, and the re-run that resumes
# --------------------------------------------------------------------------------------------------
def test_failed_import_ends_failed_naming_the_dataset_and_the_reason(rehearsal: Rehearsal) -> None:
    """The gate checked the items file; it is replaced before its import starts (a second upload during the
    run) by one whose header does not match the schema. The import reads what is there then, fails, and
    the run ends with the service's failureReason."""
    items = next(d for d in rehearsal.plan["datasets"] if d["type"] == "items")
    bucket, _, key = items["s3Uri"].removeprefix("s3://").partition("/")
    s3 = rehearsal.client("s3")
    good = s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def upload_with_another_header(invocation: Any) -> None:
        if invocation.event.get("kind") == "import_job" and invocation.event["spec"]["type"] == "items":
            rehearsal.before_invoke.remove(upload_with_another_header)
            header, _, rows = good.partition(b"\n")
            s3.put_object(Bucket=bucket, Key=key, Body=header.replace(b"CATEGORY_L1", b"CATEGORY") + b"\n" + rows)

    rehearsal.before_invoke.append(upload_with_another_header)
    run = rehearsal.run()

    reason = "Input CSV is missing the following columns: [CATEGORY_L1]"
    assert run.status == "FAILED"
    assert run.error == "ResourceFailed"
    assert items["name"] in (run.cause or "") and reason in (run.cause or "")
    assert "CREATE FAILED" in (run.cause or "")
    (message,) = failure_messages(rehearsal)
    assert message["subject"] == "Personalize POC run failed: ResourceFailed"
    assert reason in message["message"]
    assert resources(rehearsal)["solution"] == 0  # training never starts on partial data

    # The good file is uploaded again: a re-run imports it, once.
    s3.put_object(Bucket=bucket, Key=key, Body=good)
    resumed = rehearsal.run()
    assert resumed.status == "SUCCEEDED", f"{resumed.error}: {resumed.cause}"
    assert rehearsal.create_calls() == {**SAMPLE_CREATES, "CreateDatasetImportJob": 4}
    jobs = [r.name for r in rehearsal.double.resources("dataset_import_job")]
    assert len([j for j in jobs if j.startswith(f"{items['name']}-")]) == 2


def test_bad_data_stops_at_the_gate_before_any_personalize_call(rehearsal: Rehearsal) -> None:
    s3 = rehearsal.client("s3")
    interactions = next(d for d in rehearsal.plan["datasets"] if d["type"] == "interactions")
    bucket, _, key = interactions["s3Uri"].removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=b"USER_ID;ITEM_ID;TIMESTAMP\nu1;i1;1700000000\n")
    run = rehearsal.run()

    assert run.status == "FAILED"
    assert run.error == "DataValidationFailed"
    assert interactions["s3Uri"] in (run.cause or "")
    assert rehearsal.double.calls == []
    assert len(failure_messages(rehearsal)) == 1


def test_failed_training_ends_failed_and_a_rerun_resumes_without_duplicates(rehearsal: Rehearsal) -> None:
    reason = "Insufficient data to train a model: There should be at least 1000 interactions."
    rehearsal.double.fail_training("ppoc-dev-retail-sims", reason)
    failed = rehearsal.run()
    assert failed.status == "FAILED"
    assert failed.error == "ResourceFailed"
    assert "ppoc-dev-retail-sims" in (failed.cause or "") and reason in (failed.cause or "")
    assert len(failure_messages(rehearsal)) == 1

    resumed = rehearsal.run()
    assert resumed.status == "SUCCEEDED", f"{resumed.error}: {resumed.cause}"
    creates = rehearsal.create_calls()
    # One of everything; only the failed training was started again.
    assert creates == {**SAMPLE_CREATES, "CreateSolutionVersion": 5}
    assert statuses(rehearsal) == Counter({"ACTIVE": sum(SAMPLE_POC.values()), "CREATE FAILED": 1})


def test_throttling_is_retried_and_survived(rehearsal: Rehearsal) -> None:
    rehearsal.double.throttle("CreateSolution", times=3)
    rehearsal.double.throttle("DescribeSolutionVersion", times=4)
    run = rehearsal.run()

    assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
    assert failures(run, "Throttled") == 7
    assert resources(rehearsal) == SAMPLE_POC
    assert rehearsal.double.call_count("CreateSolution") == 4 + 3


def test_campaign_quota_is_waited_for_until_it_frees(rehearsal: Rehearsal) -> None:
    """LimitExceededException is waited for in the loop (no failed task): once the quota frees, the run
    goes on. A quota that never frees is tests/test_rehearsal_limits.py's."""
    rehearsal.double.set_quota("active_campaigns", 2)
    seen: list[float] = []

    def quota_increase_lands(invocation: Any) -> None:
        if isinstance(invocation.result, dict) and invocation.result.get("quota") and not seen:
            seen.append(invocation.sim_time)
            rehearsal.double.set_quota("active_campaigns", 5)

    rehearsal.after_invoke.append(quota_increase_lands)
    run = rehearsal.run()

    assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
    assert seen, "no campaign waited for the quota"
    assert failures(run, "QuotaExceeded") == 0
    assert resources(rehearsal)["campaign"] == 3
    retried = [i for i in run.invocations if i.event.get("kind") == "campaign" and i.sim_time > seen[0]]
    assert len(retried) > 1


# --------------------------------------------------------------------------------------------------
# One run at a time
# --------------------------------------------------------------------------------------------------
def test_a_second_concurrent_start_stops_without_duplicating_work(rehearsal: Rehearsal) -> None:
    release = threading.Event()
    rehearsal.before_invoke.append(
        hold(
            release,
            lambda i: str(i.execution_arn).endswith(":first") and i.event.get("kind") == "dataset_group",
        )
    )
    first_arn = rehearsal.start(name="first")
    # The first run is RUNNING (held before its first ensure): a second start must stop at the guard.
    second = rehearsal.finish(rehearsal.start(name="second"), 0.0, rehearsal.clock.world())
    try:
        assert second.status == "FAILED"
        assert second.error == "RunAlreadyInProgress"
        assert first_arn in (second.cause or "")
        assert rehearsal.create_calls() == {}
    finally:
        release.set()
    first = rehearsal.finish(first_arn, 0.0, 0.0)
    assert first.status == "SUCCEEDED", f"{first.error}: {first.cause}"
    assert rehearsal.create_calls() == SAMPLE_CREATES


# --------------------------------------------------------------------------------------------------
# A leaner POC: interactions only
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def interactions_only_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stacks.application import build_app

    folder = tmp_path_factory.mktemp("interactions-only")
    (folder / "schemas").mkdir()
    shutil.copy(PROJECT_ROOT / "config" / "schemas" / "interactions.avsc", folder / "schemas")
    poc = yaml.safe_load((PROJECT_ROOT / "config" / "poc.yaml").read_text())
    poc["datasets"] = {"interactions": poc["datasets"]["interactions"]}
    poc["filters"] = [f for f in poc["filters"] if "Items." not in f["expression"]]
    (folder / "poc.yaml").write_text(yaml.safe_dump(poc))
    environments = yaml.safe_load((PROJECT_ROOT / "config" / "environments.yaml").read_text())
    lean = {**environments["dev"], "name_prefix": "ppoc-lean", "poc_config": str(folder / "poc.yaml")}
    (folder / "environments.yaml").write_text(yaml.safe_dump({"lean": lean}))
    outdir = folder / "cdk.out"
    build_app(outdir=str(outdir), environments_file=folder / "environments.yaml", only=["lean"], nag=False).synth()
    return outdir


def test_a_poc_without_items_and_users_datasets_runs(interactions_only_assembly: Path) -> None:
    with Rehearsal(interactions_only_assembly, "lean", durations=FAST) as rehearsal:
        uploaded = rehearsal.upload_sample_data()
        assert [u.rsplit("/", 1)[-1] for u in uploaded] == ["interactions.csv", "users.jsonl"]
        run = rehearsal.run()

        assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
        kinds = resources(rehearsal)
        assert kinds["dataset"] == 1 and kinds["dataset_import_job"] == 1 and kinds["filter"] == 1
        assert kinds["solution_version"] == 4 and kinds["campaign"] == 3
        report = rehearsal.read_json("reports/latest/report.json")
        assert {row["solution"] for row in report["solutions"]} == SOLUTIONS
        assert json.loads(rehearsal.definition()["States"]["POC config"]["Result"]["datasets"][0]["schema"])


# --------------------------------------------------------------------------------------------------
# Real-AWS fidelity (issue 9): names the account keeps, a second POC beside the first, what the import reads
# --------------------------------------------------------------------------------------------------
def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _environment_tags() -> list[dict[str, str]]:
    environments = yaml.safe_load((PROJECT_ROOT / "config" / "environments.yaml").read_text())
    return [{"tagKey": k, "tagValue": v} for k, v in sorted(environments["dev"]["tags"].items())]


def _plan_for(rehearsal: Rehearsal, group: str) -> dict[str, Any]:
    """The plan a synth of the sample POC with this dataset group name embeds (this deployment's bucket, role)."""
    from personalize_poc.plan import build_plan
    from personalize_poc.poc_definition import load_poc_definition

    poc = load_poc_definition(PROJECT_ROOT / "config" / "poc.yaml", PREFIX)
    renamed = poc.model_copy(update={"dataset_group": poc.dataset_group.model_copy(update={"name": group})})
    return build_plan(
        renamed,
        config_dir=PROJECT_ROOT / "config",
        name_prefix=PREFIX,
        bucket_name=rehearsal.bucket,
        role_arn=rehearsal.plan["roleArn"],
        kms_key_arn=None,
        tags={t["tagKey"]: t["tagValue"] for t in _environment_tags()},
    )


@contextlib.contextmanager
def _deployed_plan(rehearsal: Rehearsal, plan: dict[str, Any]) -> Iterator[None]:
    """The workflow redeployed with another embedded plan (all a config change alters), then restored."""
    sfn = rehearsal.client("stepfunctions")
    original = sfn.describe_state_machine(stateMachineArn=rehearsal.workflow_arn)["definition"]
    definition = json.loads(original)
    definition["States"][CONFIG_STATE]["Result"].update(plan)
    sfn.update_state_machine(stateMachineArn=rehearsal.workflow_arn, definition=json.dumps(definition))
    try:
        yield
    finally:
        sfn.update_state_machine(stateMachineArn=rehearsal.workflow_arn, definition=original)
