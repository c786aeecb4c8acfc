"""A POC with batch segment jobs and a metric attribution, end to end offline: the synthesized workflow
builds them under the synthesized roles, publishes where the segments are, a re-run creates nothing,
and the teardown removes everything the POC made (segment jobs, which the API cannot delete, stay)."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cdk_nag import AwsSolutionsChecks

from personalize_poc.settings import PROJECT_ROOT
from tests.conftest import SynthesizedApp, policy_statements, synthesize
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal, sample_data_dir
from tests.test_segments import POC as DEFINITION

pytestmark = pytest.mark.rehearsal

ENV = "segs"
PREFIX = "ppoc-segs"
PARAMETERS = f"/{PREFIX}/poc"
#: Jobs the API cannot delete (import, batch inference and batch segment jobs): they stay after a teardown.
UNDELETABLE = {"dataset_import_job", "batch_inference_job", "batch_segment_job"}
#: tests/test_segments.py's definition without its item-recommending solution: segments, a UserID filter and
#: the attribution are what this rehearsal is about (fewer steps, less wall time).
#: Segment jobs as quick as FAST_DURATIONS' batch inference jobs (keys: tests/support/double_segments.py).
DURATIONS = {
    **FAST_DURATIONS,
    "batch_segment_job": 240.0,
    "metric_attribution": 20.0,
    "delete_metric_attribution": 20.0,
}
POC = {**DEFINITION, "solutions": [s for s in DEFINITION["solutions"] if s["name"] != "for-you"]}


@pytest.fixture(scope="module")
def synthesized_segments(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    folder = tmp_path_factory.mktemp("segments-poc")
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", folder / "schemas")
    (folder / "poc.yaml").write_text(yaml.safe_dump(POC, sort_keys=False))
    environments = {
        ENV: {"name_prefix": PREFIX, "data_bucket_removal": "destroy", "poc_config": str(folder / "poc.yaml")}
    }
    (folder / "environments.yaml").write_text(yaml.safe_dump(environments))
    return synthesize(folder / "environments.yaml", folder / "cdk.out")


@pytest.fixture(scope="module")
def assembly(synthesized_segments: SynthesizedApp) -> Path:
    return synthesized_segments.assembly_dir


@pytest.fixture
def rehearsal(assembly: Path) -> Iterator[Rehearsal]:
    with Rehearsal(assembly, ENV, durations=DURATIONS) as rehearsal:
        upload(rehearsal)
        yield rehearsal


def upload(rehearsal: Rehearsal) -> None:
    """The sample's interactions and items, and a segment input per job in its recipe's form."""
    sample = sample_data_dir()
    with (sample / "items.csv").open(newline="") as handle:
        items = list(csv.DictReader(handle))
    inputs = {
        "itemId": "".join(json.dumps({"itemId": i["ITEM_ID"]}) + "\n" for i in items[:20]),
        "itemAttributes": "".join(
            json.dumps({"itemAttributes": f'ITEMS.CATEGORY_L1 = "{c}"'}) + "\n"
            for c in sorted({i["CATEGORY_L1"] for i in items})[:10]
        ),
    }
    s3 = rehearsal.client("s3")
    for dataset in rehearsal.plan["datasets"]:
        key = dataset["s3Uri"].split("/", 3)[3]
        s3.put_object(Bucket=rehearsal.bucket, Key=key, Body=(sample / f"{dataset['type']}.csv").read_bytes())
    for solution in rehearsal.plan["solutions"]:
        for job in solution.get("segmentJobs", []):
            key = job["inputUri"].split("/", 3)[3]
            s3.put_object(Bucket=rehearsal.bucket, Key=key, Body=inputs[job["inputKey"]].encode())


def test_segments_and_attribution_are_built_published_rerun_and_torn_down(rehearsal: Rehearsal) -> None:
    built = rehearsal.run()
    assert built.status == "SUCCEEDED", built.cause

    jobs = rehearsal.double.resources("batch_segment_job")
    assert sorted((j.name.rsplit("-", 1)[0], j.status) for j in jobs) == [
        ("ppoc-segs-segs-category-fans", "ACTIVE"),
        ("ppoc-segs-segs-item-fans", "ACTIVE"),
    ]
    (attribution,) = rehearsal.double.resources("metric_attribution")
    assert (attribution.name, attribution.status) == ("ppoc-segs-segs-attribution", "ACTIVE")
    metrics = rehearsal.client("personalize").list_metric_attribution_metrics(metricAttributionArn=attribution.arn)
    assert {m["metricName"] for m in metrics["metrics"]} == {"purchases", "revenue", "clicked-value"}
    # The attribution exists before any import starts: the service reports only on data imported after it.
    operations = [op for op, _ in rehearsal.double.calls]
    assert operations.index("CreateMetricAttribution") < operations.index("CreateDatasetImportJob")
    published = rehearsal.parameters(PARAMETERS)
    version_of = {j.name.rsplit("-", 1)[0]: j.name.rsplit("-", 1)[1] for j in jobs}
    assert published[f"{PARAMETERS}/segment-output/item-fans"] == (
        f"s3://{rehearsal.bucket}/batch-output/segments/items/{version_of['ppoc-segs-segs-item-fans']}/"
    )
    assert published[f"{PARAMETERS}/metric-attribution/arn"] == attribution.arn
    report = rehearsal.read_json("reports/latest/report.json")
    assert {s["name"] for s in report["batchSegments"]} == {"item-fans", "category-fans"}

    creates_before = rehearsal.create_calls()
    again = rehearsal.run()
    assert again.status == "SUCCEEDED", again.cause
    assert rehearsal.create_calls() == creates_before  # a re-run creates nothing, segment jobs included
    assert rehearsal.double.call_count("UpdateMetricAttribution") == 0

    assert rehearsal.deployment is not None
    teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named(f"{PREFIX}-poc-teardown"))
    assert teardown.status == "SUCCEEDED", f"{teardown.error}: {teardown.cause}"
    left = [(r.kind, r.name) for r in rehearsal.double.resources() if r.kind not in UNDELETABLE]
    assert left == []
    assert rehearsal.parameters(PARAMETERS) == {}


def test_the_attribution_grants_are_in_the_template_and_nag_clean(synthesized_segments: SynthesizedApp) -> None:
    """The Personalize role may put CloudWatch metrics and write metric-attribution/ reports (the
    bucket policy lets the service principal write there too); cdk-nag has nothing unacknowledged."""
    env = synthesized_segments.environments[ENV]
    statements = [s for _, s in policy_statements(env.template_json)]
    actions = [a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert "cloudwatch:PutMetricData" in actions
    assert any(s.get("Sid") == "PersonalizeWritesAttributionReports" for s in statements)
    report = AwsSolutionsChecks(env.stack.node.root).validate_scope(env.stack)
    findings = [f"{v.rule_name}: {r.construct_path}" for v in report.violations for r in v.violating_resources]
    assert report.success, findings
