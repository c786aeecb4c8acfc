"""The workflow's data gate (`validate_handler`), called as the state machine calls it: with the plan built
from a POC definition (`{"config": plan}`), against S3 in moto.

The plan has three datasets (interactions, items, users: checked in that order) and three batch jobs
of three input kinds (User-Personalization `{"userId"}`, SIMS `{"itemId"}`, Personalized-Ranking
`{"userId", "itemList"}`). Each test breaks one object that is *not* the first one checked, so a gate
that looked only at the first dataset, or only at datasets, passes where these tests expect a failure.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
import yaml
from moto import mock_aws

from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)

# isort: split
from poc_steps import handlers
from poc_steps.errors import DataValidationFailed

from personalize_poc.data.sample import SampleSpec, generate
from personalize_poc.plan import build_plan
from personalize_poc.poc_definition import load_poc_definition
from tests.conftest import PROJECT_ROOT

REGION = "eu-west-1"
BUCKET = "ppoc-gate-data"
CONTEXT = SimpleNamespace(function_name="validate", function_version="1", memory_limit_in_mb=256,
                          invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:validate",
                          aws_request_id="gate-test")
BATCH_INPUTS = {
    "up-batch": ("users.jsonl", b'{"userId": "u1"}\n{"userId": "u2"}\n'),
    "sims-batch": ("items.jsonl", b'{"itemId": "i1"}\n{"itemId": "i2"}\n'),
    "ranking-batch": ("ranking.jsonl", b'{"userId": "u1", "itemList": ["i1", "i2"]}\n'),
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The shipped POC definition plus a SIMS and a Personalized-Ranking batch job."""
    folder = tmp_path_factory.mktemp("poc")
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", folder / "schemas")
    raw = yaml.safe_load((PROJECT_ROOT / "config" / "poc.yaml").read_text(encoding="utf-8"))
    solutions = {s["recipe"]: s["name"] for s in raw["solutions"]}
    raw["batch_inference"] = [
        {"name": name, "solution": solutions[recipe], "input_key": BATCH_INPUTS[name][0], "output_prefix": name}
        for name, recipe in (("up-batch", "aws-user-personalization-v2"), ("sims-batch", "aws-sims"),
                             ("ranking-batch", "aws-personalized-ranking-v2"))
    ]
    (folder / "poc.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    poc = load_poc_definition(folder / "poc.yaml", "ppoc-gate")
    return build_plan(poc, config_dir=folder, name_prefix="ppoc-gate", bucket_name=BUCKET,
                      role_arn="arn:aws:iam::123456789012:role/personalize", kms_key_arn=None)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate(folder, SampleSpec(users=60, items=60, interactions=2_000))
    return folder


@pytest.fixture(scope="module")
def bucket(plan: dict[str, Any]) -> Iterator[Any]:
    """moto S3 with the data bucket, for the whole module (starting moto per test costs more than the test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *args: _MODELS)  # parse models once
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": REGION, "POWERTOOLS_TRACE_DISABLED": "true"}.items():
            patch.setenv(key, value)
        with mock_aws():
            client = boto3.client("s3", region_name=REGION)
            client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
            yield client


@pytest.fixture
def s3(bucket: Any, plan: dict[str, Any], sample_dir: Path) -> Any:
    """The bucket with every file the plan reads, all good (again for each test)."""
    for dataset in plan["datasets"]:
        put(bucket, dataset["s3Uri"], (sample_dir / f"{dataset['type']}.csv").read_bytes())
    for job in batch_jobs(plan).values():
        put(bucket, job["inputUri"], BATCH_INPUTS[job["label"]][1])
    return bucket


_MODELS = botocore.loaders.create_loader()


def put(client: Any, uri: str, body: bytes) -> None:
    client.put_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"), Body=body)


def batch_jobs(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["label"]: job for solution in plan["solutions"] for job in solution["batchJobs"]}


def dataset(plan: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(d for d in plan["datasets"] if d["type"] == kind)


def gate(plan: dict[str, Any]) -> dict[str, Any]:
    return handlers.validate_handler({"config": plan}, CONTEXT)


def gate_failure(plan: dict[str, Any]) -> str:
    with pytest.raises(DataValidationFailed) as failure:
        gate(plan)
    return str(failure.value)


def test_the_plan_checks_more_than_one_dataset_and_every_batch_input_kind(plan: dict[str, Any]) -> None:
    """What the other tests rely on: a bad object that is not the first one checked."""
    assert [d["type"] for d in plan["datasets"]] == ["interactions", "items", "users"]
    kinds = {s["recipeType"] for s in plan["solutions"] if s["batchJobs"]}
    assert kinds == {"USER_PERSONALIZATION", "RELATED_ITEMS", "PERSONALIZED_RANKING"}


def test_good_uploads_pass_and_every_object_is_checked(s3: Any, plan: dict[str, Any]) -> None:
    result = gate(plan)
    expected = [d["s3Uri"] for d in plan["datasets"]] + [j["inputUri"] for j in batch_jobs(plan).values()]
    assert sorted(result["checked"]) == sorted(expected)


@pytest.mark.parametrize("kind", ["items", "users"])
def test_a_bad_header_in_a_later_dataset_stops_the_run(s3: Any, plan: dict[str, Any], kind: str) -> None:
    target = dataset(plan, kind)
    put(s3, target["s3Uri"], b"ID;NAME\nx;y\n")
    cause = gate_failure(plan)
    assert target["s3Uri"] in cause and "wrong-delimiter" in cause
    assert dataset(plan, "interactions")["s3Uri"] not in cause


def test_a_missing_later_dataset_and_a_bad_one_are_both_named(s3: Any, plan: dict[str, Any],
                                                              sample_dir: Path) -> None:
    users, items = dataset(plan, "users"), dataset(plan, "items")
    s3.delete_object(Bucket=BUCKET, Key=users["dataKey"])
    header, first, *rest = (sample_dir / "items.csv").read_text().splitlines()
    position = header.split(",").index("ITEM_ID")
    first = ",".join("" if i == position else v for i, v in enumerate(first.split(",")))
    put(s3, items["s3Uri"], "\n".join([header, first, *rest, ""]).encode())
    cause = gate_failure(plan)
    assert f"{users['s3Uri']} does not exist" in cause
    assert items["s3Uri"] in cause and "empty-id" in cause


def test_a_missing_batch_input_stops_the_run(s3: Any, plan: dict[str, Any]) -> None:
    job = batch_jobs(plan)["ranking-batch"]
    s3.delete_object(Bucket=BUCKET, Key=job["inputUri"].removeprefix(f"s3://{BUCKET}/"))
    cause = gate_failure(plan)
    assert f"{job['inputUri']} does not exist" in cause and '"itemList"' in cause


@pytest.mark.parametrize(
    ("label", "body", "code", "detail"),
    [
        # SIMS reads item ids: a users file (the classic copy-paste) is rejected, naming the key it lacks.
        ("sims-batch", b'{"userId": "u1"}\n', "batch-missing-key", '"itemId"'),
        ("up-batch", b'{"itemId": "i1"}\n', "batch-missing-key", '"userId"'),
        ("ranking-batch", b'{"userId": "u1"}\n', "batch-missing-key", '"itemList"'),
        ("ranking-batch", b'{"userId": "u1", "itemList": []}\n', "batch-invalid-item-list", "itemList"),
        ("up-batch", b'{"userId": "u1"}\n{"userId": 42}\n', "batch-invalid-id", "line 2"),
        ("up-batch", b"userId\nu1\n", "batch-not-json", "line 1"),
        ("sims-batch", b"\n\n", "batch-no-lines", '{"itemId": "i1"}'),
        ("up-batch", b'{"userId": "u1"}\n{"userId": "\xff"}\n', "invalid-utf8", "line 2"),
    ],
)
def test_batch_input_must_match_its_recipe(s3: Any, plan: dict[str, Any], label: str, body: bytes, code: str,
                                           detail: str) -> None:
    job = batch_jobs(plan)[label]
    put(s3, job["inputUri"], body)
    cause = gate_failure(plan)
    assert f"{job['inputUri']}: {code}:" in cause and detail in cause
    others = [j["inputUri"] for name, j in batch_jobs(plan).items() if name != label]
    assert not any(f"{uri}:" in cause for uri in others)


def test_a_batch_input_cut_by_the_sample_range_is_read_to_its_last_whole_line(s3: Any, plan: dict[str, Any]) -> None:
    """The gate reads the first MiB: the line the range cuts in two is not a bad line."""
    job = batch_jobs(plan)["up-batch"]
    body = b"".join(b'{"userId": "u%06d"}\n' % n for n in range(60_000))  # 22 bytes a line, 1.3 MB
    assert (1024 * 1024) % 22
    put(s3, job["inputUri"], body)
    assert job["inputUri"] in gate(plan)["checked"]


# -------------------------------------------- a domain POC: what its recommenders need of each event type


@pytest.fixture(scope="module")
def shop_plan() -> dict[str, Any]:
    """The ecommerce sample's plan (recommended-for-you, also-viewed: View; best-sellers: Purchase), its
    interactions dataset alone."""
    poc = load_poc_definition(PROJECT_ROOT / "config" / "poc-ecommerce.yaml", "ppoc-gate")
    plan = build_plan(poc, config_dir=PROJECT_ROOT / "config", name_prefix="ppoc-gate", bucket_name=BUCKET,
                      role_arn="arn:aws:iam::123456789012:role/personalize", kms_key_arn=None)
    return {**plan, "datasets": [dataset(plan, "interactions")]}


def shop_interactions(*, rows: int, views: int) -> bytes:
    """``views`` View events first, then Purchase events (60 users, 100 items, valid otherwise)."""
    lines = [f"u{n % 60},i{n % 100},{1_780_000_000 + n},{'View' if n < views else 'Purchase'},1.0\n"
             for n in range(rows)]
    return ("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n" + "".join(lines)).encode()


def test_an_interactions_file_read_whole_with_too_few_view_events_warns_and_the_run_goes_on(
        bucket: Any, shop_plan: dict[str, Any]) -> None:
    put(bucket, dataset(shop_plan, "interactions")["s3Uri"], shop_interactions(rows=2_000, views=999))

    result = gate(shop_plan)  # no DataValidationFailed: earlier imports or streamed events may make up for it

    uri = dataset(shop_plan, "interactions")["s3Uri"]
    assert [w.split(": ", 2)[1:] for w in result["warnings"] if w.startswith(uri)] == [
        ["use-case-few-events-uploaded", f"recommender ppoc-gate-shop-{name} ({case}) needs at least 1,000 View "
         "events; the file has 999, so unless the dataset holds more (earlier imports, the event tracker) its "
         "training ends CREATE FAILED"]
        for name, case in (("recommended-for-you", "recommended-for-you"),
                           ("also-viewed", "customers-who-viewed-x-also-viewed"))
    ]


def test_a_sample_of_a_larger_file_proves_no_shortfall_and_warns_of_none(
        bucket: Any, shop_plan: dict[str, Any]) -> None:
    # 40,000 rows (about 1.6 MB): the first MiB holds only View events, the Purchase events come later.
    body = shop_interactions(rows=40_000, views=39_000)
    assert len(body) > 1024 * 1024
    put(bucket, dataset(shop_plan, "interactions")["s3Uri"], body)

    assert gate(shop_plan)["warnings"] == []
