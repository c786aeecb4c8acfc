"""Batch segment jobs and metric attribution (issue 13 items 2 and 3): the definition refuses what the
service would at synth time, naming the field; the Personalize double refuses what the service refuses;
the ensure steps create once, reuse on a re-run and update the attribution when its metrics change."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from tests.support import lambda_path  # noqa: F401

# isort: split
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.ensure import ensure

from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import PocConfigError, load_poc_definition
from personalize_poc.settings import PROJECT_ROOT
from tests.support.personalize_double import FakeClock, PersonalizeDouble

ROLE = "arn:aws:iam::123456789012:role/personalize"
BUCKET = "segments-bucket"
PREFIX = "ppoc-dev"
POC: dict[str, Any] = {
    "dataset_group": {"name": "segs"},
    "datasets": {
        "interactions": {"schema_file": "schemas/interactions.avsc", "data_key": "interactions.csv"},
        "items": {"schema_file": "schemas/items.avsc", "data_key": "items.csv"},
    },
    "solutions": [
        {"name": "item-fans", "recipe": "aws-item-affinity"},
        {"name": "category-fans", "recipe": "aws-item-attribute-affinity"},
        {"name": "for-you", "recipe": "aws-user-personalization-v2"},
    ],
    "filters": [{"name": "no-buyers", "expression": 'EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("purchase")'}],
    "batch_segments": [
        {"name": "item-fans", "solution": "item-fans", "input_key": "segment-items.jsonl", "output_prefix": "items"},
        {
            "name": "category-fans",
            "solution": "category-fans",
            "input_key": "segment-queries.jsonl",
            "output_prefix": "categories",
            "num_users": 100,
            "filter": "no-buyers",
        },
    ],
    "metric_attribution": {
        "metrics": [
            {"name": "purchases", "event_type": "purchase", "expression": "SAMPLECOUNT()"},
            {"name": "revenue", "event_type": "purchase", "expression": "SUM(Items.PRICE)"},
            {"name": "clicked-value", "event_type": "click", "expression": "SUM(Interactions.EVENT_VALUE)"},
        ]
    },
}


def load(tmp_path: Path, raw: dict[str, Any]) -> Any:
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", tmp_path / "schemas", dirs_exist_ok=True)
    path = tmp_path / "poc.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_poc_definition(path, PREFIX)


def plan_of(tmp_path: Path, raw: dict[str, Any] = POC) -> dict[str, Any]:
    poc = load(tmp_path, raw)
    return build_plan(poc, config_dir=tmp_path, name_prefix=PREFIX, bucket_name=BUCKET, role_arn=ROLE, kms_key_arn=None)


def changed(edit: Any) -> dict[str, Any]:
    raw = copy.deepcopy(POC)
    edit(raw)
    return raw


# --------------------------------------------------------------------------------------------------
# The definition, at synth time
# --------------------------------------------------------------------------------------------------
def test_the_plan_carries_segment_jobs_and_the_attribution(tmp_path: Path) -> None:
    plan = plan_of(tmp_path)

    jobs = {s["label"]: s.get("segmentJobs") for s in plan["solutions"]}
    assert jobs["for-you"] == []
    (fans,) = jobs["item-fans"]
    assert fans["name"] == "ppoc-dev-segs-item-fans"
    assert fans["inputKey"] == "itemId"
    assert fans["inputUri"] == f"s3://{BUCKET}/batch-input/segment-items.jsonl"
    assert fans["outputUri"] == f"s3://{BUCKET}/batch-output/segments/items/"
    assert fans["numResults"] == 25
    (categories,) = jobs["category-fans"]
    assert categories["inputKey"] == "itemAttributes"
    assert categories["numResults"] == 100
    assert categories["filterName"] == "ppoc-dev-segs-no-buyers"
    attribution = plan["metricAttribution"]
    assert attribution["name"] == "ppoc-dev-segs-attribution"
    assert attribution["s3Path"] == f"s3://{BUCKET}/metric-attribution/"
    assert attribution["metrics"][1] == {
        "eventType": "purchase",
        "metricName": "revenue",
        "expression": "SUM(Items.PRICE)",
    }


def test_a_poc_without_segments_or_attribution_plans_neither(tmp_path: Path) -> None:
    raw = changed(lambda r: (r.pop("batch_segments"), r.pop("metric_attribution"), r.pop("filters")))
    plan = plan_of(tmp_path, raw)
    assert "metricAttribution" not in plan
    assert all("segmentJobs" not in s for s in plan["solutions"])


@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        pytest.param(
            lambda r: r["batch_segments"][0].update(solution="for-you"),
            "batch_segments[0].solution",
            "aws-user-personalization-v2, not a user-segmentation recipe",
            id="segment-job-on-a-non-segmentation-recipe",
        ),
        pytest.param(
            lambda r: r["batch_segments"][1].update(filter="nope"),
            "batch_segments[1].filter",
            "no filter named 'nope'",
            id="unknown-filter",
        ),
        pytest.param(
            lambda r: r["batch_segments"][0].update(num_users=5_000_001),
            "batch_segments[0].num_users",
            "less than or equal to 5000000",
            id="more-users-than-a-segment-holds",
        ),
        pytest.param(
            lambda r: (
                r["filters"].append({"name": "cheap", "expression": "INCLUDE ItemID WHERE Items.PRICE < 10"})
                or r["batch_segments"][1].update(filter="cheap")
            ),
            "batch_segments[1].filter",
            "filter 'cheap' filters ItemID; user segments take UserID filters",
            id="item-filter-on-a-segment-job",
        ),
        pytest.param(
            lambda r: (r.pop("batch_segments"), r.pop("metric_attribution")),
            "filters[0].expression",
            "UserID filters do not apply to this POC's recipes",
            id="user-filter-without-segments",
        ),
        pytest.param(
            lambda r: r.setdefault("campaigns", []).append({"name": "fans", "solution": "item-fans"}),
            "campaigns[0].solution",
            "cannot be deployed in a campaign",
            id="campaign-on-a-segmentation-solution",
        ),
        pytest.param(
            lambda r: r["metric_attribution"]["metrics"][2].update(expression="SUM(Interactions.DISCOUNT)"),
            "metric_attribution.metrics[2].expression",
            "the interactions schema has no field DISCOUNT",
            id="expression-naming-an-unknown-field",
        ),
        pytest.param(
            lambda r: r["metric_attribution"]["metrics"][1].update(expression="SUM(Items.CATEGORY_L1)"),
            "metric_attribution.metrics[1].expression",
            "CATEGORY_L1 is string; SUM() needs a numeric column",
            id="sum-of-a-string-column",
        ),
        pytest.param(
            lambda r: r["metric_attribution"]["metrics"][0].update(expression="COUNT(*)"),
            "metric_attribution.metrics[0].expression",
            "neither SAMPLECOUNT() nor SUM(",
            id="unknown-function",
        ),
        pytest.param(
            lambda r: r["metric_attribution"]["metrics"].extend(r["metric_attribution"]["metrics"][:1]),
            "metric_attribution.metrics[3].name",
            "'purchases' is used twice",
            id="metric-name-twice",
        ),
        pytest.param(
            lambda r: r["metric_attribution"].update(
                metrics=[{"name": f"m{i}", "event_type": "click", "expression": "SAMPLECOUNT()"} for i in range(11)]
            ),
            "metric_attribution.metrics",
            "at most 10 items",
            id="more-than-10-metrics",
        ),
    ],
)
def test_a_mistake_fails_at_synth_naming_the_field(tmp_path: Path, edit: Any, field: str, says: str) -> None:
    with pytest.raises(PocConfigError) as raised:
        load(tmp_path, changed(edit))
    assert f"field '{field}'" in str(raised.value)
    assert says in str(raised.value)


# --------------------------------------------------------------------------------------------------
# The double and the ensure steps
# --------------------------------------------------------------------------------------------------
INTERACTIONS_SCHEMA = (PROJECT_ROOT / "config" / "schemas" / "interactions.avsc").read_text()
ITEMS_SCHEMA = (PROJECT_ROOT / "config" / "schemas" / "items.avsc").read_text()


class World:
    def __init__(self, double: PersonalizeDouble, clock: FakeClock, objects: dict[str, bytes]) -> None:
        self.double, self.clock, self.objects = double, clock, objects
        self.client = boto3.client("personalize", region_name="eu-west-1")

    def settle(self, arn: str | None = None) -> None:
        self.clock.advance(self.double.seconds_until_settled(arn) + 1)

    def group(self, name: str = "ppoc-dev-segs", *, with_event_type: bool = True) -> str:
        arn = self.client.create_dataset_group(name=name)["datasetGroupArn"]
        self.settle(arn)
        schema = INTERACTIONS_SCHEMA if with_event_type else INTERACTIONS_SCHEMA.replace("EVENT_TYPE", "KIND")
        for kind, text in (("Interactions", schema), ("Items", ITEMS_SCHEMA)):
            schema_arn = self.client.create_schema(name=f"{name}-{kind}", schema=text)["schemaArn"]
            self.client.create_dataset(
                name=f"{name}-{kind}", schemaArn=schema_arn, datasetGroupArn=arn, datasetType=kind
            )
        self.settle()
        return arn

    def version_of(self, group: str, recipe: str, name: str) -> str:
        """An ACTIVE solution version of ``recipe`` (training's data rules are not this file's subject)."""
        solution = self.client.create_solution(
            name=name, datasetGroupArn=group, recipeArn=f"arn:aws:personalize:::recipe/{recipe}"
        )["solutionArn"]
        self.settle(solution)
        res = self.double._store[solution]  # noqa: SLF001
        core = __import__("tests.support.personalize_double", fromlist=["_Ctx"])
        arn = self.double._new_version(res, core._Ctx("eu-west-1", self.clock()), {}, "MANUAL", None)  # noqa: SLF001
        self.settle(arn)
        return arn


@pytest.fixture
def world() -> Iterator[World]:
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock)
    objects: dict[str, bytes] = {
        f"s3://{BUCKET}/batch-input/segment-items.jsonl": b'{"itemId": "item_001"}\n{"itemId": "item_002"}\n',
        f"s3://{BUCKET}/batch-input/segment-queries.jsonl": b'{"itemAttributes": "ITEMS.CATEGORY_L1 = \\"shoes\\""}\n',
    }

    def read(uri: str) -> bytes:
        if uri not in objects:
            raise KeyError(uri)
        return objects[uri]

    double.read_object = read  # type: ignore[method-assign]
    with double.installed():
        yield World(double, clock, objects)


def segment_params(version: str, key: str = "segment-items.jsonl", name: str = "fans-1") -> dict[str, Any]:
    return {
        "jobName": name,
        "solutionVersionArn": version,
        "numResults": 25,
        "jobInput": {"s3DataSource": {"path": f"s3://{BUCKET}/batch-input/{key}"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{BUCKET}/batch-output/segments/items/"}},
        "roleArn": ROLE,
    }


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def test_a_segment_job_runs_pending_in_progress_active(world: World) -> None:
    version = world.version_of(world.group(), "aws-item-affinity", "ppoc-dev-segs-item-fans")
    arn = world.client.create_batch_segment_job(**segment_params(version))["batchSegmentJobArn"]

    seen = [world.client.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]["status"]]
    world.clock.advance(10 * 60)
    seen.append(world.client.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]["status"])
    world.settle(arn)
    seen.append(world.client.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]["status"])

    assert seen == ["PENDING", "IN PROGRESS", "ACTIVE"]
    (listed,) = world.client.list_batch_segment_jobs(solutionVersionArn=version)["batchSegmentJobs"]
    assert listed["jobName"] == "fans-1" and listed["status"] == "ACTIVE"


def test_the_double_refuses_what_the_service_refuses_for_segment_jobs(world: World) -> None:
    group = world.group()
    ranking = world.version_of(group, "aws-user-personalization-v2", "ppoc-dev-segs-for-you")
    fans = world.version_of(group, "aws-item-affinity", "ppoc-dev-segs-item-fans")

    with pytest.raises(ClientError) as raised:
        world.client.create_batch_segment_job(**segment_params(ranking))
    assert error_code(raised) == "InvalidInputException"
    assert "USER_SEGMENTATION" in str(raised.value)

    world.client.create_batch_segment_job(**segment_params(fans))
    world.settle()
    with pytest.raises(ClientError) as raised:  # a job name is taken for good: the API cannot delete jobs
        world.client.create_batch_segment_job(**segment_params(fans))
    assert error_code(raised) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as raised:  # the service model: numResults is an integer, roleArn a role
        world.client.create_batch_segment_job(**{**segment_params(fans, name="x"), "roleArn": "not-a-role"})
    assert error_code(raised) == "ValidationException"


@pytest.mark.parametrize(
    ("recipe", "body", "reason"),
    [
        ("aws-item-affinity", b'{"userId": "u1"}\n', 'JSON object with "itemId"'),
        ("aws-item-attribute-affinity", b'{"itemId": "i1"}\n', 'JSON object with "itemAttributes"'),
        (
            "aws-item-attribute-affinity",
            b"".join(b'{"itemAttributes": "ITEMS.PRICE = 1"}\n' for _ in range(11)),
            "at most 10",
        ),
        ("aws-item-affinity", None, "Input data not found"),
    ],
    ids=["wrong-key", "items-for-attributes", "11-queries", "missing-input"],
)
def test_a_bad_segment_input_ends_the_job_create_failed_with_a_reason(
    world: World, recipe: str, body: bytes | None, reason: str
) -> None:
    version = world.version_of(world.group(), recipe, "ppoc-dev-segs-fans")
    key = "bad.jsonl"
    if body is not None:
        world.objects[f"s3://{BUCKET}/batch-input/{key}"] = body
    arn = world.client.create_batch_segment_job(**segment_params(version, key))["batchSegmentJobArn"]
    world.settle(arn)

    job = world.client.describe_batch_segment_job(batchSegmentJobArn=arn)["batchSegmentJob"]
    assert job["status"] == "CREATE FAILED"
    assert reason in job["failureReason"]


def attribution_params(group: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "ppoc-dev-segs-attribution",
        "datasetGroupArn": group,
        "metrics": [{"eventType": "purchase", "metricName": "revenue", "expression": "SUM(Items.PRICE)"}],
        "metricsOutputConfig": {"roleArn": ROLE, "s3DataDestination": {"path": f"s3://{BUCKET}/metric-attribution/"}},
        **changes,
    }


def test_the_double_refuses_what_the_service_refuses_for_attributions(world: World) -> None:
    group = world.group()
    with pytest.raises(ClientError) as raised:
        world.client.create_metric_attribution(
            **attribution_params(
                group, metrics=[{"eventType": "x", "metricName": "m", "expression": "SUM(Interactions.DISCOUNT)"}]
            )
        )
    assert error_code(raised) == "InvalidInputException" and "DISCOUNT" in str(raised.value)

    arn = world.client.create_metric_attribution(**attribution_params(group))["metricAttributionArn"]
    with pytest.raises(ClientError) as raised:  # one per dataset group, whatever its name
        world.client.create_metric_attribution(**attribution_params(group, name="another"))
    assert error_code(raised) == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as raised:  # still being created
        world.client.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["revenue"])
    assert error_code(raised) == "ResourceInUseException"
    world.settle(arn)
    with pytest.raises(ClientError) as raised:  # the group cannot go while its attribution is there
        world.client.delete_dataset_group(datasetGroupArn=group)
    assert error_code(raised) == "ResourceInUseException"

    other = world.group("ppoc-dev-other", with_event_type=False)
    with pytest.raises(ClientError) as raised:
        world.client.create_metric_attribution(**attribution_params(other, name="other"))
    assert error_code(raised) == "InvalidInputException" and "EVENT_TYPE" in str(raised.value)

    third = world.group("ppoc-dev-third")
    with pytest.raises(ClientError) as raised:  # names are account-wide: the ARN is built from the name
        world.client.create_metric_attribution(**attribution_params(third))
    assert error_code(raised) == "ResourceAlreadyExistsException" and arn in str(raised.value)


def test_an_attribution_updates_and_deletes_through_its_lifecycle(world: World) -> None:
    group = world.group()
    arn = world.client.create_metric_attribution(**attribution_params(group))["metricAttributionArn"]
    world.settle(arn)

    world.client.update_metric_attribution(
        metricAttributionArn=arn,
        removeMetrics=["revenue"],
        addMetrics=[{"eventType": "click", "metricName": "clicks", "expression": "SAMPLECOUNT()"}],
    )
    during = world.client.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]["status"]
    world.settle(arn)
    after = world.client.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]["status"]
    metrics = world.client.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]

    assert (during, after) == ("UPDATE PENDING", "ACTIVE")
    assert [m["metricName"] for m in metrics] == ["clicks"]
    world.client.delete_metric_attribution(metricAttributionArn=arn)
    assert world.client.list_metric_attributions(datasetGroupArn=group)["metricAttributions"][0]["status"] == (
        "DELETE PENDING"
    )
    world.settle()
    assert world.client.list_metric_attributions(datasetGroupArn=group)["metricAttributions"] == []


def test_a_denied_role_ends_the_attribution_create_failed_naming_the_access(world: World) -> None:
    group = world.group()

    def service_access(role: str, action: str, resource: str) -> None:
        if action == "cloudwatch:PutMetricData":
            raise PermissionError("not allowed")

    world.double.service_access = service_access
    arn = world.client.create_metric_attribution(**attribution_params(group))["metricAttributionArn"]
    world.settle(arn)

    described = world.client.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert described["status"] == "CREATE FAILED"
    assert "cloudwatch:PutMetricData" in described["failureReason"]


def test_ensure_creates_one_segment_job_per_version_and_a_rerun_creates_nothing(world: World, tmp_path: Path) -> None:
    adapter = PersonalizeAdapter(world.client)
    group = world.group()
    version = world.version_of(group, "aws-item-affinity", "ppoc-dev-segs-item-fans")
    (spec,) = next(s for s in plan_of(tmp_path)["solutions"] if s["label"] == "item-fans")["segmentJobs"]
    refs = {"solutionVersionArn": version, "datasetGroupArn": group, "roleArn": ROLE}

    first = ensure(adapter, "segment_job", spec, refs, 1)
    world.settle()
    again = ensure(adapter, "segment_job", spec, refs, 1)  # a re-run of the workflow
    version_id = version.rsplit("/", 1)[-1]

    assert first["state"] == "WAITING" and again["state"] == "READY"
    assert again["arn"] == first["arn"]
    assert again["outputUri"] == f"s3://{BUCKET}/batch-output/segments/items/{version_id}/"
    assert world.double.call_count("CreateBatchSegmentJob") == 1
    (job,) = world.client.list_batch_segment_jobs()["batchSegmentJobs"]
    assert job["jobName"] == f"ppoc-dev-segs-item-fans-{version_id}"


def test_ensure_creates_the_attribution_once_and_updates_it_when_the_config_changes(
    world: World, tmp_path: Path
) -> None:
    adapter = PersonalizeAdapter(world.client)
    group = world.group()
    spec = plan_of(tmp_path)["metricAttribution"]
    refs = {"datasetGroupArn": group, "roleArn": ROLE}

    created = ensure(adapter, "metric_attribution", spec, refs, 1)
    world.settle()
    reused = ensure(adapter, "metric_attribution", spec, refs, 1)
    assert created["state"] == "WAITING" and reused["state"] == "READY"
    assert world.double.call_count("UpdateMetricAttribution") == 0

    wanted = changed(lambda r: r["metric_attribution"]["metrics"][1].update(expression="SUM(Interactions.EVENT_VALUE)"))
    new_spec = plan_of(tmp_path / "changed", wanted)["metricAttribution"]
    removing = ensure(adapter, "metric_attribution", new_spec, refs, 1)
    world.settle()
    adding = ensure(adapter, "metric_attribution", new_spec, refs, 2)  # the changed metric back, as configured
    world.settle()
    settled = ensure(adapter, "metric_attribution", new_spec, refs, 3)

    assert (removing["status"], adding["status"], settled["state"]) == ("UPDATE PENDING", "UPDATE PENDING", "READY")
    assert world.double.call_count("CreateMetricAttribution") == 1
    updates = [params for op, params in world.double.calls if op == "UpdateMetricAttribution"]
    assert [{k: v for k, v in u.items() if k != "metricAttributionArn"} for u in updates] == [
        {"removeMetrics": ["revenue"]},
        {
            "addMetrics": [
                {"eventType": "purchase", "metricName": "revenue", "expression": "SUM(Interactions.EVENT_VALUE)"}
            ]
        },
    ]
    metrics = world.client.list_metric_attribution_metrics(metricAttributionArn=settled["arn"])["metrics"]
    assert sorted(m["expression"] for m in metrics) == [
        "SAMPLECOUNT()",
        "SUM(Interactions.EVENT_VALUE)",
        "SUM(Interactions.EVENT_VALUE)",
    ]


def test_the_double_refuses_removing_and_adding_one_metric_name_in_one_update(world: World) -> None:
    arn = world.client.create_metric_attribution(**attribution_params(world.group()))["metricAttributionArn"]
    world.settle(arn)
    with pytest.raises(ClientError) as raised:
        world.client.update_metric_attribution(
            metricAttributionArn=arn,
            removeMetrics=["revenue"],
            addMetrics=[{"eventType": "purchase", "metricName": "revenue", "expression": "SAMPLECOUNT()"}],
        )
    assert error_code(raised) == "InvalidInputException"


# --------------------------------------------------------------------------------------------------
# Teardown: running segment jobs are waited for (they cannot be deleted or stopped); the attribution
# goes before the dataset group, which cannot go while it exists.
# --------------------------------------------------------------------------------------------------
def test_teardown_waits_for_a_running_segment_job_and_deletes_the_attribution_before_the_group(world: World) -> None:
    from poc_steps import teardown

    group = world.group()
    version = world.version_of(group, "aws-item-affinity", "ppoc-dev-segs-item-fans")
    job = world.client.create_batch_segment_job(**segment_params(version))["batchSegmentJobArn"]
    attribution = world.client.create_metric_attribution(**attribution_params(group))["metricAttributionArn"]
    world.settle(attribution)
    plan = {"datasetGroup": {"name": "ppoc-dev-segs"}, "datasets": []}
    adapter = PersonalizeAdapter(world.client)

    running = teardown.teardown_level(adapter, "batch_jobs", plan, 1)
    assert (running["state"], running["remaining"]) == ("WAITING", 1)
    assert world.double.status(job) in ("PENDING", "IN PROGRESS")
    world.settle(job)
    assert teardown.teardown_level(adapter, "batch_jobs", plan, 2)["state"] == "READY"

    deleting = teardown.teardown_level(adapter, "trackers_and_filters", plan, 1)
    assert deleting["state"] == "WAITING" and attribution in deleting["deleted"]
    world.settle()
    assert teardown.teardown_level(adapter, "trackers_and_filters", plan, 2)["state"] == "READY"
    assert world.client.list_metric_attributions(datasetGroupArn=group)["metricAttributions"] == []
    for level in ("solutions", "datasets", "dataset_group"):
        teardown.teardown_level(adapter, level, plan, 1)
        world.settle()
    assert world.double.resources("dataset_group") == []
    # The job stays (no Delete in the API), ACTIVE, its name taken for good.
    assert [(r.kind, r.status) for r in world.double.resources("batch_segment_job")] == [
        ("batch_segment_job", "ACTIVE")
    ]


# --------------------------------------------------------------------------------------------------
# The data gate's check of a segment job's input (lambdas/poc_steps/segment_input.py)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lines", "key", "codes"),
    [
        (['{"itemId": "i1"}', "", '{"itemId": "i2"}'], "itemId", []),
        (['{"itemAttributes": "ITEMS.CATEGORY_L1 = \\"shoes\\""}'], "itemAttributes", []),
        (['{"userId": "u1"}'], "itemId", ["segment-missing-key"]),
        (["itemId,i1"], "itemId", ["segment-not-json"]),
        ([], "itemAttributes", ["segment-no-lines"]),
        (
            [f'{{"itemAttributes": "ITEMS.PRICE = {n}"}}' for n in range(11)],
            "itemAttributes",
            ["segment-too-many-lines"],
        ),
        ([f'{{"itemId": "i{n}"}}' for n in range(501)], "itemId", ["segment-too-many-lines"]),
    ],
    ids=["items", "attributes", "wrong-key", "csv", "empty", "11-queries", "501-items"],
)
def test_the_data_gate_finds_what_a_segment_job_would_fail_on(lines: list[str], key: str, codes: list[str]) -> None:
    from poc_steps.segment_input import check_segment_lines

    findings = check_segment_lines(lines, key)
    assert [f.code for f in findings] == codes
    assert all(f.level == "error" for f in findings)


def test_the_data_gate_reads_every_segment_input_of_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from poc_steps import data_gate

    checked: list[tuple[str, str]] = []

    def check(s3: Any, uri: str, key: str) -> list[Any]:
        checked.append((uri.rsplit("/", 1)[-1], key))
        return []

    monkeypatch.setattr(data_gate, "check_segment_input", check)
    # No datasets and no batch inference jobs in this plan: the gate needs no S3 client for them.
    data_gate.validate_uploads(object(), {**plan_of(tmp_path), "datasets": []})

    assert sorted(checked) == [("segment-items.jsonl", "itemId"), ("segment-queries.jsonl", "itemAttributes")]


def test_make_rehearse_generates_a_segment_input_in_each_recipes_form(tmp_path: Path) -> None:
    """`make rehearse POC=...` of a POC with segment jobs: the generated data has their inputs."""
    from tests.rehearsal.poc_data import generated

    data = generated(plan_of(tmp_path / "definition"), tmp_path / "data")

    lines = {
        key: [json.loads(line) for line in data.objects[key].read_text().splitlines()]
        for key in ("batch-input/segment-items.jsonl", "batch-input/segment-queries.jsonl")
    }
    assert lines["batch-input/segment-items.jsonl"] and all(
        set(line) == {"itemId"} for line in lines["batch-input/segment-items.jsonl"]
    )
    queries = lines["batch-input/segment-queries.jsonl"]
    assert 0 < len(queries) <= 10
    assert all(set(q) == {"itemAttributes"} and q["itemAttributes"].startswith("ITEMS.CATEGORY_L1 = ") for q in queries)
    assert any("segment-queries.jsonl" in detail and "category-fans" in detail for detail in data.details)
