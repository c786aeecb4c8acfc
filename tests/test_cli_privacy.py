"""`personalize-poc data export` and `data delete-users` against moto (S3, SSM, IAM) and the Personalize
double, on simulated time: what a user sees, what lands in the bucket, what the service is asked."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from personalize_poc.cli import app
from personalize_poc.data import aws, data_jobs
from personalize_poc.data.sample import SCHEMAS
from tests.support.personalize_double import FakeClock, PersonalizeDouble

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = "ppoc-test-data-123456789012"
GROUP = "ppoc-test-retail"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ppoc-test-personalize"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
USERS = [f"u{n:03d}" for n in range(60)]
runner = CliRunner()


@dataclass
class Deployed:
    double: PersonalizeDouble
    clock: FakeClock
    s3: Any
    group_arn: str
    environment: SimpleNamespace

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.double.calls if name == operation]


def invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


INTERACTIONS = _csv(
    [["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]]
    + [[USERS[n % 60], f"i{n % 40}", str(1_780_000_000 + n), "click", ""] for n in range(1200)]
)
USERS_CSV = _csv([["USER_ID", "MEMBERSHIP", "AGE_GROUP"]] + [[user, "gold", ""] for user in USERS])


_MODELS = botocore.loaders.create_loader()


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[PersonalizeDouble, FakeClock, SimpleNamespace]]:
    """moto and the double on simulated time (the commands' waits advance it), nothing deployed yet."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # Every client of the process reads the service models once (as test_cli_aws.py does).
    monkeypatch.setattr(botocore.session, "create_loader", lambda *args: _MODELS)
    environment = SimpleNamespace(name="test", name_prefix="ppoc-test", region=REGION, kms_key_arn=None, tags={})
    monkeypatch.setattr(aws, "load_environment", lambda name: environment)
    clock = FakeClock()
    monkeypatch.setattr(data_jobs, "sleep", clock.advance)
    monkeypatch.setattr(data_jobs, "monotonic", clock)
    double = PersonalizeDouble(clock=clock)
    with mock_aws(), double.installed():
        yield double, clock, environment


@pytest.fixture
def deployed(cloud: tuple[PersonalizeDouble, FakeClock, SimpleNamespace]) -> Deployed:
    """A deployed environment after one workflow run: bucket, role and dataset group published in SSM,
    interactions and users imported."""
    double, clock, environment = cloud
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=BUCKET, Key="imports/interactions.csv", Body=INTERACTIONS)
    s3.put_object(Bucket=BUCKET, Key="imports/users.csv", Body=USERS_CSV)
    group_arn = _build_group(double, clock)
    ssm = boto3.client("ssm", region_name=REGION)
    for name, value in {"bucket-name": BUCKET, "personalize-role-arn": ROLE,
                        "poc/dataset-group-arn": group_arn}.items():  # fmt: skip
        ssm.put_parameter(Name=f"/ppoc-test/{name}", Value=value, Type="String")
    return Deployed(double, clock, s3, group_arn, environment)


def _build_group(double: PersonalizeDouble, clock: FakeClock) -> str:
    personalize = boto3.client("personalize", region_name=REGION)
    group = personalize.create_dataset_group(name=GROUP)["datasetGroupArn"]
    clock.advance(double.seconds_until_settled(group))
    for kind, api in (("interactions", "Interactions"), ("users", "Users")):
        schema = personalize.create_schema(name=f"{GROUP}-{kind}", schema=json.dumps(SCHEMAS[kind]))["schemaArn"]
        dataset = personalize.create_dataset(name=f"{GROUP}-{kind}", schemaArn=schema, datasetGroupArn=group,
                                             datasetType=api)["datasetArn"]  # fmt: skip
        clock.advance(double.seconds_until_settled(dataset))
        job = personalize.create_dataset_import_job(
            jobName=f"{GROUP}-{kind}-import", datasetArn=dataset, roleArn=ROLE,
            dataSource={"dataLocation": f"s3://{BUCKET}/imports/{kind}.csv"},
        )["datasetImportJobArn"]  # fmt: skip
        clock.advance(double.seconds_until_settled(job))
        assert double.status(job) == "ACTIVE", double.resources("dataset_import_job")
    return str(group)


def _rows(s3: Any, uri: str) -> list[list[str]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return list(csv.reader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))


def _exported(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines() if line.startswith("  s3://")]


# ------------------------------------------------------------------------------------------- export


def test_export_writes_every_dataset_under_its_own_exports_prefix(deployed: Deployed) -> None:
    result = invoke("data", "export", "test")

    assert result.exit_code == 0, result.output
    files = _exported(result.stdout)
    assert len(files) == 2
    by_dataset = {uri.split("/")[4].split("-export-")[1].split("-")[0]: uri for uri in files}
    assert set(by_dataset) == {"interactions", "users"}
    for uri in files:
        assert uri.startswith(f"s3://{BUCKET}/exports/{GROUP}-export-")
    interactions = _rows(deployed.s3, by_dataset["interactions"])
    assert interactions[0] == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
    assert len(interactions) == 1 + 1200
    assert "CREATE IN_PROGRESS" in result.stderr and "ACTIVE" in result.stderr  # progress, on stderr
    (request, _) = deployed.calls("CreateDatasetExportJob")
    assert request["roleArn"] == ROLE and request["ingestionMode"] == "ALL"
    assert "kmsKeyArn" not in request["jobOutput"]["s3DataDestination"]


def test_export_reruns_get_new_job_names(deployed: Deployed) -> None:
    """Export jobs cannot be deleted and their names are account-wide: a second run must not collide."""
    first = invoke("data", "export", "test", "--dataset", "interactions")
    second = invoke("data", "export", "test", "--dataset", "interactions", "--ingestion-mode", "BULK")

    assert (first.exit_code, second.exit_code) == (0, 0), second.output
    names = [params["jobName"] for params in deployed.calls("CreateDatasetExportJob")]
    assert len(set(names)) == 2 and all(name.startswith(f"{GROUP}-export-interactions-") for name in names)
    assert _exported(first.stdout) != _exported(second.stdout)


def test_export_with_a_customer_key_encrypts_the_output_with_it(deployed: Deployed) -> None:
    deployed.environment.kms_key_arn = KEY
    deployed.environment.tags = {"project": "poc"}

    result = invoke("data", "export", "test", "--dataset", "users")

    assert result.exit_code == 0, result.output
    (request,) = deployed.calls("CreateDatasetExportJob")
    assert request["jobOutput"]["s3DataDestination"]["kmsKeyArn"] == KEY
    assert request["tags"] == [{"tagKey": "project", "tagValue": "poc"}]


def test_export_failure_is_reported_with_the_service_reason(deployed: Deployed) -> None:
    deployed.double.fail_data_job("dataset_export_job", "Dataset is empty.", match="USERS")

    result = invoke("data", "export", "test")

    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: export of users") and "CREATE FAILED: Dataset is empty." in line
    assert "interactions: exported to" in result.stdout  # the other export still reports its files


def test_export_of_a_dataset_the_poc_lacks_names_what_it_has(deployed: Deployed) -> None:
    result = invoke("data", "export", "test", "--dataset", "items")

    assert result.exit_code == 1
    assert "has no items dataset to export (it has: interactions, users)" in result.stderr
    assert not deployed.calls("CreateDatasetExportJob")


def test_export_before_any_run_says_to_run_the_workflow(deployed: Deployed) -> None:
    boto3.client("ssm", region_name=REGION).delete_parameter(Name="/ppoc-test/poc/dataset-group-arn")

    result = invoke("data", "export", "test")

    assert result.exit_code == 1
    assert "no dataset group published for 'test' yet" in result.stderr and "run start test" in result.stderr


# ------------------------------------------------------------------------------------------- delete-users


def test_delete_users_uploads_the_list_and_reports_what_the_service_deleted(deployed: Deployed, tmp_path: Path) -> None:
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\nu002\nnever-seen\n")

    result = invoke("data", "delete-users", "test", str(listed))

    assert result.exit_code == 0, result.output
    assert "COMPLETED: 2 records deleted" in result.stdout and "for 3 listed user ids" in result.stdout
    assert "train new ones and update the campaigns" in " ".join(result.stdout.split())
    (request,) = deployed.calls("CreateDataDeletionJob")
    assert request["datasetGroupArn"] == deployed.group_arn and request["roleArn"] == ROLE
    key = request["dataSource"]["dataLocation"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith(f"deletions/{GROUP}-delete-users-") and key.endswith(".csv")
    head = deployed.s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "AES256"  # never the customer key (guide: not supported)
    assert "PENDING" in result.stderr and "IN_PROGRESS" in result.stderr
    assert deployed.double.deleted_users(deployed.group_arn) == {"u001", "u002", "never-seen"}


def test_an_export_after_a_deletion_leaves_the_deleted_users_out(deployed: Deployed, tmp_path: Path) -> None:
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")
    assert invoke("data", "delete-users", "test", str(listed)).exit_code == 0

    result = invoke("data", "export", "test", "--dataset", "interactions")

    (uri,) = _exported(result.stdout)
    users = {row[0] for row in _rows(deployed.s3, uri)[1:]}
    assert "u001" not in users and "u002" in users


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "line 1 must be the single column header USER_ID, found '(empty file)'"),
        ("user_id\nu001\n", "line 1 must be the single column header USER_ID, found 'user_id'"),
        ("USER_ID,ITEM_ID\nu001,i1\n", "found 'USER_ID,ITEM_ID'"),
        ("USER_ID\n", "lists no user ids"),
        ("USER_ID\nu001\n \n", "line 3 has an empty USER_ID"),
        ("USER_ID\nu001,x\n", "line 2 has 2 columns"),
        ("USER_ID\n" + "u" * 257 + "\n", "line 2: USER_ID is 257 characters; at most 256"),
    ],
)
def test_a_bad_user_list_fails_locally_in_one_line(cloud: Any, tmp_path: Path, content: str, problem: str) -> None:
    """Checked before anything is asked of AWS: nothing is deployed here, so reaching AWS would fail
    with another message (the SSM parameter not found)."""
    double, _, _ = cloud
    listed = tmp_path / "forget.csv"
    listed.write_text(content)

    result = invoke("data", "delete-users", "test", str(listed))

    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {listed}: ") and problem in line
    assert not double.calls


def test_delete_users_failure_is_reported_with_the_service_reason(deployed: Deployed, tmp_path: Path) -> None:
    deployed.double.fail_data_job("data_deletion_job", "An internal error occurred.")
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    result = invoke("data", "delete-users", "test", str(listed))

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].endswith("FAILED: An internal error occurred.")
    assert "records deleted" not in result.stdout


def test_delete_users_waits_for_no_import_or_training_unless_forced(deployed: Deployed, tmp_path: Path) -> None:
    """The guide: no training, batch or import job should run while a data deletion job starts."""
    personalize = boto3.client("personalize", region_name=REGION)
    users = next(d for d in personalize.list_datasets()["datasets"] if d["datasetType"].upper() == "USERS")
    source = {"dataLocation": f"s3://{BUCKET}/imports/users.csv"}
    personalize.create_dataset_import_job(
        jobName=f"{GROUP}-users-import-2", datasetArn=users["datasetArn"], roleArn=ROLE, dataSource=source
    )
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    refused = invoke("data", "delete-users", "test", str(listed))
    forced = invoke("data", "delete-users", "test", str(listed), "--force")

    assert refused.exit_code == 1
    (line,) = refused.stderr.strip().splitlines()
    assert f"import job {GROUP}-users-import-2 (CREATE PENDING)" in line and "--force" in line
    assert forced.exit_code == 0, forced.output
    assert "warning: import job" in forced.stderr
    assert len(deployed.calls("CreateDataDeletionJob")) == 1  # the forced run's only


def test_delete_users_waits_for_a_batch_segment_job_of_the_group(deployed: Deployed, tmp_path: Path) -> None:
    """"batch jobs" in the guide's guideline are both kinds: a segment job reads the datasets' users too."""
    personalize = boto3.client("personalize", region_name=REGION)
    solution = personalize.create_solution(
        name=f"{GROUP}-segments", datasetGroupArn=deployed.group_arn,
        recipeArn="arn:aws:personalize:::recipe/aws-item-affinity",
    )["solutionArn"]  # fmt: skip
    deployed.clock.advance(deployed.double.seconds_until_settled(solution))
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    deployed.clock.advance(deployed.double.seconds_until_settled(version))
    deployed.s3.put_object(Bucket=BUCKET, Key="segments/input.jsonl", Body=b'{"itemId": "i1"}\n')
    personalize.create_batch_segment_job(
        jobName=f"{GROUP}-segments-1", solutionVersionArn=version, roleArn=ROLE,
        jobInput={"s3DataSource": {"path": f"s3://{BUCKET}/segments/input.jsonl"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{BUCKET}/segments/out/"}},
    )  # fmt: skip
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    refused = invoke("data", "delete-users", "test", str(listed))

    assert refused.exit_code == 1
    (line,) = refused.stderr.strip().splitlines()
    assert f"batch segment job {GROUP}-segments-1 (" in line and "--force" in line
    assert deployed.calls("CreateDataDeletionJob") == []


def test_the_wait_is_bounded(deployed: Deployed, tmp_path: Path) -> None:
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    started = deployed.clock()

    result = invoke("data", "delete-users", "test", str(listed), "--timeout", "30")  # the job takes 60 min

    assert result.exit_code == 1
    assert "deletion still running after 30 min" in result.stderr
    assert deployed.clock() - started <= 30 * 60


# ------------------------------------------------------------------------------------------- permissions


@dataclass(frozen=True)
class Policies:
    role_policy: dict[str, Any]  # the Personalize role's (constructs/personalize_role.py)
    bucket_statements: list[dict[str, Any]]  # the data bucket's (constructs/data_bucket.py)
    cli_policy: dict[str, Any]  # the data jobs policy for the CLI's user (constructs/data_jobs_access.py)


@pytest.fixture(scope="module")
def policies() -> Policies:
    """The synthesized policies, with the bucket's and the role's ARNs and the account filled in."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from constructs.data_bucket import DataBucket
    from constructs.data_jobs_access import DataJobsAccess
    from constructs.personalize_role import PersonalizeServiceRole
    from stacks.application import cdk_json_context
    from tests.conftest import render

    where = cdk.Environment(account=ACCOUNT, region=REGION)
    stack = cdk.Stack(cdk.App(context=cdk_json_context()), "Privacy", env=where)
    data = DataBucket(stack, "Data", destroy_on_removal=True, encryption_key=None)
    role = PersonalizeServiceRole(stack, "PersonalizeRole", bucket=data.bucket, encryption_key=None)
    DataJobsAccess(stack, "DataJobs", name_prefix="ppoc-test", personalize_scope=GROUP, bucket=data.bucket,
                   personalize_role=role.role, parameter_path="/ppoc-test")  # fmt: skip
    text = json.dumps(render(Template.from_stack(stack).to_json()["Resources"]))
    text = re.sub(r"<DataBucket[A-Za-z0-9]*\.Arn>", f"arn:aws:s3:::{BUCKET}", text)
    text = re.sub(r"<PersonalizeRole[A-Za-z0-9]*\.Arn>", ROLE, text)
    for pseudo, value in (("AccountId", ACCOUNT), ("Region", REGION), ("Partition", "aws")):
        text = text.replace(f"<AWS::{pseudo}>", value)
    resources = json.loads(text).values()

    def document(kind: str, mentioning: str = "") -> Any:
        (found,) = [
            r["Properties"]["PolicyDocument"] for r in resources if r["Type"] == kind and mentioning in json.dumps(r)
        ]
        return found

    bucket_policy = document("AWS::S3::BucketPolicy", "personalize.amazonaws.com")
    return Policies(document("AWS::IAM::Policy"), bucket_policy["Statement"], document("AWS::IAM::ManagedPolicy"))


def _role(name: str, principal: dict[str, str], policy: dict[str, Any]) -> str:
    iam = boto3.client("iam", region_name=REGION)
    trusted = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}
    trust = {"Version": "2012-10-17", "Statement": [trusted]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="Access", PolicyDocument=json.dumps(policy))
    return str(arn)


def _enforce(deployed: Deployed, policies: Policies, role_policy: dict[str, Any] | None = None) -> Any:
    """The rehearsal's IAM evaluator decides what Amazon Personalize may do with the role (the double's
    service_access hook): the role's policy and the bucket policy, as in AWS."""
    from tests.rehearsal.iam import RehearsalIam

    _role(ROLE.rsplit("/", 1)[1], {"Service": "personalize.amazonaws.com"}, role_policy or policies.role_policy)
    evaluator = RehearsalIam(ACCOUNT, REGION)
    evaluator.policies.bucket_policies[BUCKET] = policies.bucket_statements
    deployed.double.service_access = evaluator.service_access
    return evaluator


def test_the_personalize_role_and_bucket_policy_allow_exports_and_deletions(
    deployed: Deployed, policies: Policies, tmp_path: Path
) -> None:
    _enforce(deployed, policies)
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    exported = invoke("data", "export", "test", "--dataset", "users")
    deleted = invoke("data", "delete-users", "test", str(listed))

    assert exported.exit_code == 0, exported.output
    assert deleted.exit_code == 0, deleted.output


def test_without_the_export_grant_the_export_fails_naming_the_access_problem(
    deployed: Deployed, policies: Policies
) -> None:
    statements = policies.role_policy["Statement"]
    without = {**policies.role_policy, "Statement": [s for s in statements if "exports/" not in json.dumps(s)]}
    _enforce(deployed, policies, without)

    result = invoke("data", "export", "test", "--dataset", "users")

    assert result.exit_code == 1
    assert "CREATE FAILED: Insufficient privileges" in result.stderr and "s3:PutObject" in result.stderr


def _as_cli_user(deployed: Deployed, policies: Policies, monkeypatch: pytest.MonkeyPatch,
                 cli_policy: dict[str, Any]) -> Any:  # fmt: skip
    """The commands run with the credentials of a role that has only ``cli_policy``; moto checks S3 and
    SSM, the double's caller_access checks Personalize (and the PassRole it implies)."""
    evaluator = _enforce(deployed, policies)
    user = _role("ppoc-test-data-jobs-user", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, cli_policy)
    session = boto3.session.Session(**evaluator.credentials_for(user), region_name=REGION)
    monkeypatch.setattr(aws, "session_for", lambda environment: session)
    deployed.double.caller_access = evaluator.caller_access
    return evaluator


def test_the_data_jobs_policy_is_all_the_commands_need(
    deployed: Deployed, policies: Policies, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evaluator = _as_cli_user(deployed, policies, monkeypatch, policies.cli_policy)
    listed = tmp_path / "forget.csv"
    listed.write_text("USER_ID\nu001\n")

    with evaluator.enforced_in_moto():
        exported = invoke("data", "export", "test", "--dataset", "users")
        deleted = invoke("data", "delete-users", "test", str(listed))

    assert exported.exit_code == 0, exported.output
    assert deleted.exit_code == 0, deleted.output
    assert evaluator.denials == []


def test_without_pass_role_the_command_is_denied_in_one_line(
    deployed: Deployed, policies: Policies, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = [s for s in policies.cli_policy["Statement"] if s["Action"] != "iam:PassRole"]
    evaluator = _as_cli_user(deployed, policies, monkeypatch, {**policies.cli_policy, "Statement": statements})

    with evaluator.enforced_in_moto():
        result = invoke("data", "export", "test", "--dataset", "users")

    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "CreateDatasetExportJob failed: AccessDeniedException" in line and "iam:PassRole" in line
