"""The ecommerce sample (config/poc-ecommerce.yaml) rehearsed end to end, as `make rehearse
POC=config/poc-ecommerce.yaml` does: synthesized with the dev environment's settings, deployed into moto,
run on simulated time against the Personalize double with generated data - a domain dataset group, its
recommenders ACTIVE, reported with their metrics and published to SSM; a re-run creates nothing; the
teardown leaves nothing of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal
from tests.rehearsal.poc_data import generated, upload
from tests.rehearsal.runner import main, synthesize, with_poc
from tests.rehearsal.trace import summarize

pytestmark = pytest.mark.rehearsal

SAMPLE = PROJECT_ROOT / "config" / "poc-ecommerce.yaml"
PREFIX = "ppoc-dev"
#: Recommenders train their models before they serve: longer than a campaign, shorter than defaults here.
DURATIONS = {**FAST_DURATIONS, "recommender": 360}


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev stage synthesized from the ecommerce sample (once for this module)."""
    folder = tmp_path_factory.mktemp("ecommerce")
    environments = with_poc(DEFAULT_ENVIRONMENTS_FILE, "dev", SAMPLE, folder)
    return synthesize(folder / "cdk.out", environments, only=["dev"])


def test_the_ecommerce_sample_runs_end_to_end_reruns_creating_nothing_and_tears_down_to_nothing(
    assembly: Path, tmp_path: Path
) -> None:
    with Rehearsal(assembly, "dev", durations=DURATIONS) as rehearsal:
        upload(rehearsal.client("s3"), rehearsal.bucket, generated(rehearsal.plan, tmp_path))

        run = rehearsal.run()
        assert run.status == "SUCCEEDED", (run.error, run.cause)
        recommenders = {r.name: r.status for r in rehearsal.double.resources("recommender")}
        group = rehearsal.client("personalize").describe_dataset_group(
            datasetGroupArn=rehearsal.double.arns("dataset_group")[0]
        )["datasetGroup"]
        report = rehearsal.read_json("reports/latest/report.json")
        parameters = rehearsal.parameters(f"/{PREFIX}/poc")
        summary = summarize(rehearsal, run)
        created = rehearsal.create_calls()

        rerun = rehearsal.run()
        assert rerun.status == "SUCCEEDED", (rerun.error, rerun.cause)
        created_again = rehearsal.create_calls()

        assert rehearsal.deployment is not None
        teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"))
        deleted = json.loads(teardown.description["output"])["deleted"]
        left = [(r.kind, r.name) for r in rehearsal.double.resources() if r.name.startswith(PREFIX)]

    assert group["domain"] == "ECOMMERCE"
    assert recommenders == {
        "ppoc-dev-shop-recommended-for-you": "ACTIVE",
        "ppoc-dev-shop-also-viewed": "ACTIVE",
        "ppoc-dev-shop-best-sellers": "ACTIVE",
    }
    assert [(r["name"], r["useCase"]) for r in report["recommenders"]] == [
        ("recommended-for-you", "recommended-for-you"),
        ("also-viewed", "customers-who-viewed-x-also-viewed"),
        ("best-sellers", "best-sellers"),
    ]
    assert all(r["modelMetrics"].get("coverage") for r in report["recommenders"])
    assert {name.rsplit("/", 1)[1]: arn for name, arn in parameters.items() if "/recommenders/" in name} == {
        r["name"]: r["arn"] for r in report["recommenders"]
    }
    # Recommenders wait for the imports, then train side by side: the run is about its critical path.
    assert [w.kind for w in summary.critical_path.chain][-2:] == ["dataset_import_job", "recommender"]
    assert summary.ratio < 1.2
    assert created["CreateRecommender"] == 3 and "CreateSolution" not in created
    assert created_again == created  # the re-run found everything and created nothing
    assert teardown.status == "SUCCEEDED"
    assert sorted(deleted["campaigns"]) == sorted(r["arn"] for r in report["recommenders"])
    assert left == []


def test_a_poc_file_that_does_not_exist_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["--env", "dev", "--poc", str(tmp_path / "nope.yaml")])

    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [f"Invalid POC definition: {tmp_path / 'nope.yaml'}: POC definition not found"]
