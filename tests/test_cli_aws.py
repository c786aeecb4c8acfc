"""`personalize-poc data upload` and `run start/status` against moto (S3, SSM, Step Functions)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from boto3.s3.transfer import TransferConfig
from moto import mock_aws
from typer.testing import CliRunner

from personalize_poc.cli import app
from personalize_poc.data import aws, run
from personalize_poc.data.upload import object_key, upload_files

REGION = "eu-west-1"
ENV = SimpleNamespace(name="test", name_prefix="ppoc-test", region=REGION)
BUCKET = "ppoc-test-data-123456789012"
ROLE = "arn:aws:iam::123456789012:role/poc-workflow"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(aws, "load_environment", lambda name: ENV if name == "test" else aws_unknown(name))
    # Every botocore session in this process (ours, the test's, moto's) reads the service models once:
    # a command runs once per process in real use, here dozens of calls would parse them again each.
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args: _MODELS)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def aws_unknown(name: str) -> Any:
    raise aws.CliError(f"unknown environment '{name}'; known: test")


_MODELS = botocore.loaders.create_loader()


def deploy_bucket() -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/ppoc-test/bucket-name", Value=BUCKET,
                                                          Type="String")
    return s3


def deploy_workflow(definition: dict[str, Any]) -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name="ppoc-test-poc", definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/ppoc-test/workflow-arn", Value=arn,
                                                          Type="String")
    return arn


PASSING = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Next": "CheckData"},
    "CheckData": {"Type": "Pass", "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
FAILING = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Next": "DataGate"},
    "DataGate": {"Type": "Fail", "Error": "DataValidationFailed",
                 "Cause": "s3://bucket/imports/interactions.csv: missing-column: required column TIMESTAMP"}}}


def files(tmp_path: Path) -> list[Path]:
    paths = []
    for name in ("interactions.csv", "items.csv"):
        path = tmp_path / name
        path.write_text("USER_ID,ITEM_ID,TIMESTAMP\nu,i,1780000000\n")
        paths.append(path)
    return paths


# ------------------------------------------------------------------------------------------- upload


def test_upload_puts_files_under_the_import_prefix(cloud: None, tmp_path: Path) -> None:
    s3 = deploy_bucket()
    paths = files(tmp_path)
    code, stdout, _ = invoke("data", "upload", "test", *map(str, paths), "--key-prefix", "/2026-11/run1/")
    assert code == 0
    for path in paths:
        key = f"imports/2026-11/run1/{path.name}"
        assert f"s3://{BUCKET}/{key}" in stdout
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == path.read_bytes()


def test_upload_puts_batch_inputs_under_the_batch_input_prefix(cloud: None, tmp_path: Path) -> None:
    s3 = deploy_bucket()
    batch = tmp_path / "users.jsonl"
    batch.write_text('{"userId": "u1"}\n')
    code, stdout, _ = invoke("data", "upload", "test", str(batch))
    assert code == 0
    assert f"s3://{BUCKET}/batch-input/users.jsonl" in stdout
    assert s3.get_object(Bucket=BUCKET, Key="batch-input/users.jsonl")["Body"].read() == batch.read_bytes()


def test_upload_without_prefix_and_multipart(cloud: None, tmp_path: Path) -> None:
    s3 = deploy_bucket()
    big = tmp_path / "interactions.csv"
    big.write_bytes(b"x" * (6 * 1024 * 1024))
    small_parts = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    done, marker = upload_files(ENV, [big], config=small_parts)
    assert done.uri == f"s3://{BUCKET}/imports/interactions.csv"
    assert marker.uri == f"s3://{BUCKET}/imports/_upload-complete.json"
    head = s3.head_object(Bucket=BUCKET, Key="imports/interactions.csv")
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"].strip('"').endswith("-2")  # two parts


def test_upload_writes_the_upload_complete_marker_last(cloud: None, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The workflow's upload trigger starts on imports/_upload-complete.json: it must come after every
    file of the upload and say which objects (and which versions of them, by ETag) make the upload."""
    s3 = deploy_bucket()
    writes: list[str] = []
    session = boto3.session.Session(region_name=REGION)
    session.events.register("provide-client-params.s3.PutObject", lambda params, **_: writes.append(params["Key"]))
    session.events.register("provide-client-params.s3.CompleteMultipartUpload",
                            lambda params, **_: writes.append(params["Key"]))
    monkeypatch.setattr(aws, "session_for", lambda environment: session)
    batch = tmp_path / "users.jsonl"
    batch.write_text('{"userId": "u1"}\n')
    code, stdout, stderr = invoke("data", "upload", "test", *map(str, files(tmp_path)), str(batch))
    assert code == 0, stderr
    assert writes == ["imports/interactions.csv", "imports/items.csv", "batch-input/users.jsonl",
                      "imports/_upload-complete.json"]
    assert f"s3://{BUCKET}/imports/_upload-complete.json" in stdout
    marker = json.loads(s3.get_object(Bucket=BUCKET, Key="imports/_upload-complete.json")["Body"].read())
    assert [entry["key"] for entry in marker["uploaded"]] == writes[:-1]
    for entry in marker["uploaded"]:
        head = s3.head_object(Bucket=BUCKET, Key=entry["key"])
        assert (entry["etag"], entry["size"]) == (head["ETag"].strip('"'), head["ContentLength"])
    writes.clear()
    code, _, _ = invoke("data", "upload", "test", str(batch), "--no-marker")
    assert code == 0 and writes == ["batch-input/users.jsonl"]


def test_upload_help_says_where_each_file_goes() -> None:
    code, stdout, _ = invoke("data", "upload", "--help")
    assert code == 0
    text = " ".join(stdout.split())
    for where in ("under imports/", "under batch-input/", "imports/_upload-complete.json"):
        assert where in text, where


def test_upload_when_the_environment_is_not_deployed(cloud: None, tmp_path: Path) -> None:
    code, _, stderr = invoke("data", "upload", "test", str(files(tmp_path)[0]))
    assert code == 1
    assert "SSM parameter /ppoc-test/bucket-name not found" in stderr and "deployed" in stderr


def test_upload_usage_errors(cloud: None, tmp_path: Path) -> None:
    deploy_bucket()
    path = str(files(tmp_path)[0])
    assert invoke("data", "upload", "test", str(tmp_path / "nope.csv"))[0] == 2
    assert invoke("data", "upload", "test")[0] == 2
    code, _, stderr = invoke("data", "upload", "test", path, "--key-prefix", "a/../b")
    assert code == 2 and "'..'" in stderr
    code, _, stderr = invoke("data", "upload", "prod-typo", path)
    assert code == 1 and "unknown environment 'prod-typo'" in stderr


def test_upload_with_the_real_settings_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/environments.yaml's first environment, found through personalize_poc.settings."""
    from personalize_poc.settings import load_environments

    name, settings = next(iter(load_environments().items()))
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args: _MODELS)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": settings.region or REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        region = settings.region or REGION
        boto3.client("s3", region_name=region).create_bucket(
            Bucket="real-settings-bucket", CreateBucketConfiguration={"LocationConstraint": region})
        boto3.client("ssm", region_name=region).put_parameter(
            Name=f"/{settings.name_prefix}/bucket-name", Value="real-settings-bucket", Type="String")
        code, stdout, _ = invoke("data", "upload", name, str(files(tmp_path)[0]))
    assert code == 0
    assert "s3://real-settings-bucket/imports/interactions.csv" in stdout


def test_object_key() -> None:
    assert object_key(Path("/x/items.csv")) == "imports/items.csv"
    assert object_key(Path("items.csv"), " run-1/ ") == "imports/run-1/items.csv"


# ---------------------------------------------------------------------------------------------- run


def test_run_start_then_status_succeeded(cloud: None) -> None:
    state_machine = deploy_workflow(PASSING)
    code, stdout, _ = invoke("run", "start", "test", "--name", "first-run")
    assert code == 0
    assert stdout.strip() == state_machine.replace(":stateMachine:", ":execution:") + ":first-run"
    code, stdout, _ = invoke("run", "status", "test")
    assert code == 0
    assert "SUCCEEDED" in stdout
    for step in ("Prepare", "CheckData", "Done"):
        assert step in stdout


def test_run_status_failed_shows_error_and_cause(cloud: None) -> None:
    deploy_workflow(FAILING)
    code, stdout, _ = invoke("run", "start", "test", "--input", '{"reason": "test"}')
    assert code == 0 and ":execution:ppoc-test-poc:cli-" in stdout
    code, stdout, _ = invoke("run", "status", "test", "--watch")
    assert code == 1
    assert "FAILED" in stdout and "DataGate" in stdout
    assert "Error: DataValidationFailed" in stdout
    assert "missing-column" in stdout


def test_run_teardown_workflow_is_found_by_its_own_parameter(cloud: None) -> None:
    deploy_workflow(PASSING)
    teardown = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="ppoc-test-teardown", definition=json.dumps(PASSING), roleArn=ROLE)["stateMachineArn"]
    boto3.client("ssm", region_name=REGION).put_parameter(Name="/ppoc-test/teardown-arn", Value=teardown,
                                                          Type="String")
    code, stdout, _ = invoke("run", "start", "test", "--workflow", "teardown", "--name", "clean")
    assert code == 0 and stdout.strip() == teardown.replace(":stateMachine:", ":execution:") + ":clean"
    code, stdout, _ = invoke("run", "status", "test", "--workflow", "teardown")
    assert code == 0 and "SUCCEEDED" in stdout
    code, _, stderr = invoke("run", "status", "test")  # the build workflow has not run
    assert code == 1 and "no executions" in stderr
    code, _, stderr = invoke("run", "start", "test", "--workflow", "everything")
    assert code == 2 and "--workflow must be one of poc, teardown" in stderr


def test_run_errors(cloud: None) -> None:
    code, _, stderr = invoke("run", "start", "test")
    assert code == 1 and "/ppoc-test/workflow-arn not found" in stderr
    deploy_workflow(PASSING)
    code, _, stderr = invoke("run", "status", "test")
    assert code == 1 and "no executions" in stderr
    code, _, stderr = invoke("run", "start", "test", "--input", "{oops")
    assert code == 2 and "--input is not JSON" in stderr
    code, _, stderr = invoke("run", "start", "test", "--name", "has spaces")
    assert code == 2


def test_run_status_watch_follows_until_the_end(cloud: None, monkeypatch: pytest.MonkeyPatch) -> None:
    deploy_workflow(PASSING)
    start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    execution = {"executionArn": "arn:x", "name": "watched", "startDate": start}
    running = run.Progress({**execution, "status": "RUNNING"},
                           [run.Step("ImportInteractions", "Task", "lambda:invoke:ensure", 3, 42.0)])
    done = run.Progress({**execution, "status": "SUCCEEDED", "stopDate": start + dt.timedelta(minutes=5)},
                        [run.Step("ImportInteractions", "Task", "lambda:invoke:ensure", 4, 60.0,
                                  status="succeeded")])
    sequence = iter([running, running, done])
    monkeypatch.setattr(run, "fetch", lambda sfn, arn: next(sequence))
    monkeypatch.setattr(run.time, "sleep", lambda seconds: None)
    code, stdout, _ = invoke("run", "status", "test", "--watch", "--execution", "arn:x")
    assert code == 0
    assert stdout.count("RUNNING") == 1 and "SUCCEEDED" in stdout  # unchanged views are not repeated
    assert "ImportInteractions" in stdout and "5m00s" in stdout


def test_steps_from_history_folds_loops_resources_and_failures() -> None:
    t0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)

    def at(seconds: int) -> dt.datetime:
        return t0 + dt.timedelta(seconds=seconds)

    events = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": at(0)},
        {"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": at(0),
         "stateEnteredEventDetails": {"name": "Ensure"}},
        {"id": 3, "previousEventId": 2, "type": "TaskScheduled", "timestamp": at(0),
         "taskScheduledEventDetails": {"resourceType": "lambda", "resource": "invoke",
                                       "parameters": json.dumps({"FunctionName": "arn:aws:lambda:eu-west-1:1:"
                                                                                 "function:poc-ensure:live"})}},
        {"id": 4, "previousEventId": 3, "type": "TaskStateExited", "timestamp": at(10),
         "stateExitedEventDetails": {"name": "Ensure"}},
        {"id": 5, "previousEventId": 4, "type": "WaitStateEntered", "timestamp": at(10),
         "stateEnteredEventDetails": {"name": "Wait"}},
        {"id": 6, "previousEventId": 5, "type": "WaitStateExited", "timestamp": at(70),
         "stateExitedEventDetails": {"name": "Wait"}},
        {"id": 7, "previousEventId": 6, "type": "TaskStateEntered", "timestamp": at(70),
         "stateEnteredEventDetails": {"name": "Ensure"}},
        {"id": 8, "previousEventId": 7, "type": "TaskScheduled", "timestamp": at(70),
         "taskScheduledEventDetails": {"resourceType": "lambda", "resource": "invoke"}},
        {"id": 9, "previousEventId": 8, "type": "TaskFailed", "timestamp": at(75),
         "taskFailedEventDetails": {"error": "LimitExceededException", "cause": "too many"}},
    ]
    ensure, wait = run.steps_from_history(events, now=at(80))
    assert (ensure.name, ensure.kind, ensure.runs, ensure.status) == ("Ensure", "Task", 2, "failed")
    assert ensure.resource == "lambda:poc-ensure:live" and ensure.error == "LimitExceededException"
    assert ensure.seconds == 20.0  # 10 s, then 10 s still open at `now`
    assert (wait.runs, wait.seconds, wait.status) == (1, 60.0, "succeeded")


# ------------------------------------------------------------------------------------------- region


def test_run_start_honours_aws_region_before_aws_default_region(
    cloud: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As the AWS CLI does: AWS_REGION first, then AWS_DEFAULT_REGION, when the environment sets none."""
    state_machine = deploy_workflow(PASSING)  # in eu-west-1
    monkeypatch.setattr(aws, "load_environment", lambda name: SimpleNamespace(name="test", name_prefix="ppoc-test",
                                                                              region=None))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # no profile region either
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", REGION)
    code, stdout, stderr = invoke("run", "start", "test", "--name", "by-aws-region")
    assert code == 0, stderr
    assert stdout.strip() == state_machine.replace(":stateMachine:", ":execution:") + ":by-aws-region"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # AWS_REGION still wins
    code, stdout, stderr = invoke("run", "start", "test", "--name", "aws-region-wins")
    assert code == 0, stderr
    monkeypatch.delenv("AWS_REGION")  # only AWS_DEFAULT_REGION: us-east-1, where nothing is deployed
    code, _, stderr = invoke("run", "start", "test")
    assert code == 1 and "/ppoc-test/workflow-arn not found in us-east-1" in stderr
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code, _, stderr = invoke("run", "start", "test")
    assert code == 1 and "no AWS region" in stderr and "AWS_REGION" in stderr
