"""Tests of the Personalize control-plane double and of model-based request validation.

Every test drives a real ``boto3`` Personalize client; time is a FakeClock, so nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import boto3
import botocore.client
import botocore.session
import pytest
from botocore.exceptions import ClientError, ParamValidationError
from botocore.stub import Stubber

from tests.support.personalize_double import (
    DEFAULT_DURATIONS,
    DESCRIBE_OPERATIONS,
    RECIPES,
    FakeClock,
    PersonalizeDouble,
)
from tests.support.service_model import (
    RequestValidationError,
    check_request,
    install_model_validation,
    java_pattern_to_python,
    model_validation,
    uninstall_model_validation,
    validate_request,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeRole"
RECIPE = "arn:aws:personalize:::recipe/"
INTERACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "EVENT_TYPE", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
        ],
        "version": "1.0",
    }
)
ITEMS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Items",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRE", "type": "string", "categorical": True},
        ],
        "version": "1.0",
    }
)


def interactions_csv(
    users: int = 30, per_user: int = 40, header: str = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"
) -> bytes:
    """Item interactions for INTERACTIONS_SCHEMA: enough to import and train (1000+, 25 users with 2+)."""
    rows = [header]
    for user in range(users):
        rows += [f"user_{user},item_{(user * 7 + n) % 50},view,{1_700_000_000 + n}" for n in range(per_user)]
    return ("\n".join(rows) + "\n").encode()


ITEMS_CSV = b"ITEM_ID,GENRE\nitem_1,drama\nitem_2,comedy\n"
INTERACTIONS_URI = "s3://poc-bucket/interactions.csv"
ITEMS_URI = "s3://poc-bucket/items.csv"


def arn(suffix: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:personalize:{region}:{account}:{suffix}"


def error_code(exc_info: pytest.ExceptionInfo[BaseException]) -> str:
    return exc_info.value.response["Error"]["Code"]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def objects() -> dict[str, bytes]:
    """The S3 objects import jobs read (the double's read_object), by URI."""
    return {INTERACTIONS_URI: interactions_csv(), ITEMS_URI: ITEMS_CSV}


def serve(double: PersonalizeDouble, objects: dict[str, bytes]) -> PersonalizeDouble:
    def read_object(uri: str) -> bytes:
        if uri not in objects:
            raise KeyError(f"NoSuchKey: {uri}")
        return objects[uri]

    double.read_object = read_object  # type: ignore[method-assign]
    return double


@pytest.fixture
def double(clock: FakeClock, objects: dict[str, bytes]):
    d = serve(PersonalizeDouble(clock=clock), objects)
    with d.installed():
        yield d


@pytest.fixture
def client(double: PersonalizeDouble):
    return boto3.client("personalize", region_name=REGION)


class Poc:
    """Builds the POC chain through the client, advancing the clock as a workflow would wait."""

    def __init__(self, client, double: PersonalizeDouble, clock: FakeClock) -> None:
        self.client, self.double, self.clock = client, double, clock

    def settle(self, resource_arn: str | None = None) -> None:
        self.clock.advance(self.double.seconds_until_settled(resource_arn))

    def group(self, name: str = "poc") -> str:
        group_arn = self.client.create_dataset_group(name=name)["datasetGroupArn"]
        self.settle(group_arn)
        return group_arn

    def interactions(self, group_arn: str, schema_name: str = "poc-interactions") -> str:
        schema_arn = self.client.create_schema(name=schema_name, schema=INTERACTIONS_SCHEMA)["schemaArn"]
        dataset_arn = self.client.create_dataset(
            name="interactions", schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType="Interactions"
        )["datasetArn"]
        self.settle(dataset_arn)
        return dataset_arn

    def import_job(
        self, dataset_arn: str, name: str = "import-1", settle: bool = True, uri: str = INTERACTIONS_URI, **extra
    ) -> str:
        job_arn = self.client.create_dataset_import_job(
            jobName=name,
            datasetArn=dataset_arn,
            dataSource={"dataLocation": uri},
            roleArn=ROLE,
            **extra,
        )["datasetImportJobArn"]
        if settle:
            self.settle(job_arn)
        return job_arn

    def solution(
        self, group_arn: str, name: str = "poc-user-personalization", recipe: str = "aws-user-personalization"
    ):
        solution_arn = self.client.create_solution(
            name=name, datasetGroupArn=group_arn, recipeArn=RECIPE + recipe, performAutoTraining=False
        )["solutionArn"]
        self.settle(solution_arn)
        return solution_arn

    def version(self, solution_arn: str, settle: bool = True, **extra) -> str:
        version_arn = self.client.create_solution_version(solutionArn=solution_arn, **extra)["solutionVersionArn"]
        if settle:
            self.settle(version_arn)
        return version_arn

    def trained(self, group_name: str = "poc", recipe: str = "aws-user-personalization") -> tuple[str, str, str]:
        """(dataset group, solution, ACTIVE solution version)."""
        group_arn = self.group(group_name)
        self.import_job(self.interactions(group_arn, f"{group_name}-interactions"), name=f"{group_name}-import")
        solution_arn = self.solution(group_arn, name=f"{group_name}-solution", recipe=recipe)
        return group_arn, solution_arn, self.version(solution_arn)

    def campaign(self, version_arn: str, name: str = "poc-campaign", settle: bool = True) -> str:
        campaign_arn = self.client.create_campaign(name=name, solutionVersionArn=version_arn)["campaignArn"]
        if settle:
            self.settle(campaign_arn)
        return campaign_arn

    def batch_job(self, version_arn: str, name: str = "batch-1", **extra) -> str:
        return self.client.create_batch_inference_job(
            jobName=name,
            solutionVersionArn=version_arn,
            jobInput={"s3DataSource": {"path": "s3://poc-bucket/batch/users.json"}},
            jobOutput={"s3DataDestination": {"path": "s3://poc-bucket/batch/out/"}},
            roleArn=ROLE,
            **extra,
        )["batchInferenceJobArn"]


@pytest.fixture
def poc(client, double: PersonalizeDouble, clock: FakeClock) -> Poc:
    return Poc(client, double, clock)


_DESCRIBE = DESCRIBE_OPERATIONS


def describe(client, kind: str, resource_arn: str) -> dict:
    method, param, key = _DESCRIBE[kind]
    return getattr(client, method)(**{param: resource_arn})[key]


def statuses_over(clock: FakeClock, duration: float, client, kind: str, resource_arn: str) -> list[str]:
    """Status at creation, just after the pending phase, just before the end, and at the end."""
    start = clock()
    seen = [describe(client, kind, resource_arn)["status"]]
    for target in (0.06 * duration, 0.99 * duration, duration):
        clock.set(start + target)
        seen.append(describe(client, kind, resource_arn)["status"])
    return seen


FULL_LIFE = ["CREATE PENDING", "CREATE IN_PROGRESS", "CREATE IN_PROGRESS", "ACTIVE"]


# ------------------------------------------------------------------------------------------------
# service_model: validation against botocore's model
# ------------------------------------------------------------------------------------------------
class TestServiceModelValidation:
    def test_dataset_group_name_of_64_characters_fails_max_63(self) -> None:
        validate_request("personalize", "CreateDatasetGroup", {"name": "a" * 63})
        with pytest.raises(RequestValidationError, match=r"CreateDatasetGroup\.name: length 64 > max 63"):
            validate_request("personalize", "CreateDatasetGroup", {"name": "a" * 64})

    def test_name_with_space_fails_pattern(self) -> None:
        with pytest.raises(RequestValidationError, match="does not match pattern") as exc:
            validate_request("personalize", "CreateDatasetGroup", {"name": "my group"})
        assert exc.value.violations[0].kind == "pattern"
        assert "Member must satisfy regular expression pattern" in exc.value.aws_message

    def test_bad_import_mode_enum_fails(self) -> None:
        params = {
            "jobName": "import-1",
            "datasetArn": arn("dataset/poc/INTERACTIONS"),
            "dataSource": {"dataLocation": "s3://bucket/data.csv"},
            "importMode": "PARTIAL",
        }
        with pytest.raises(RequestValidationError, match=r"CreateDatasetImportJob\.importMode: 'PARTIAL'"):
            validate_request("personalize", "CreateDatasetImportJob", params)
        validate_request("personalize", "CreateDatasetImportJob", {**params, "importMode": "INCREMENTAL"})

    def test_good_create_solution_passes(self) -> None:
        validate_request(
            "personalize",
            "CreateSolution",
            {
                "name": "poc-user-personalization",
                "datasetGroupArn": arn("dataset-group/poc"),
                "recipeArn": RECIPE + "aws-user-personalization-v2",
                "performHPO": False,
                "performAutoTraining": True,
                "solutionConfig": {
                    "algorithmHyperParameters": {"hidden_dimension": "64"},
                    "autoTrainingConfig": {"schedulingExpression": "rate(7 days)"},
                    "hpoConfig": {
                        "algorithmHyperParameterRanges": {
                            "integerHyperParameterRanges": [{"name": "bptt", "minValue": 16, "maxValue": 64}]
                        }
                    },
                },
                "tags": [{"tagKey": "project", "tagValue": "personalize-poc"}],
            },
        )

    def test_nested_violation_names_the_full_path(self) -> None:
        params = {
            "name": "s",
            "datasetGroupArn": arn("dataset-group/poc"),
            "solutionConfig": {
                "hpoConfig": {
                    "algorithmHyperParameterRanges": {
                        "categoricalHyperParameterRanges": [{"name": "x" * 300, "values": ["a"]}]
                    }
                },
                "autoTrainingConfig": {"schedulingExpression": "every week"},
            },
        }
        messages = [str(v) for v in check_request("personalize", "CreateSolution", params)]
        assert (
            "CreateSolution.solutionConfig.hpoConfig.algorithmHyperParameterRanges."
            "categoricalHyperParameterRanges[0].name: length 300 > max 256"
        ) in messages
        assert any("schedulingExpression: 'every week' does not match pattern" in m for m in messages)

    def test_required_unknown_and_type_errors(self) -> None:
        violations = check_request(
            "personalize", "CreateSolution", {"datasetGroupArn": 42, "bogus": 1, "performHPO": "yes"}
        )
        by_path = {v.path: v.kind for v in violations}
        assert by_path == {
            "CreateSolution.name": "required",
            "CreateSolution.datasetGroupArn": "type",
            "CreateSolution.bogus": "unknown",
            "CreateSolution.performHPO": "type",
        }

    def test_number_and_list_bounds(self) -> None:
        assert [str(v) for v in check_request("personalize", "ListDatasetGroups", {"maxResults": 0})] == [
            "ListDatasetGroups.maxResults: 0 < min 1"
        ]
        assert check_request("personalize", "ListDatasetGroups", {"maxResults": 101})[0].reason == "101 > max 100"
        assert check_request("personalize", "ListDatasetGroups", {"maxResults": True})[0].kind == "type"
        tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(201)]
        (violation,) = check_request("personalize", "CreateDatasetGroup", {"name": "g", "tags": tags})
        assert violation.path == "CreateDatasetGroup.tags" and violation.reason == "length 201 > max 200"
        (violation,) = check_request(
            "personalize",
            "CreateCampaign",
            {"name": "c", "solutionVersionArn": arn("x/y"), "minProvisionedTPS": 0},
        )
        assert violation.reason == "0 < min 1"

    def test_unicode_property_classes_in_tag_pattern(self) -> None:
        ok = {"name": "g", "tags": [{"tagKey": "équipe Ω 7", "tagValue": "données:été/2026"}]}
        assert check_request("personalize", "CreateDatasetGroup", ok) == []
        bad = {"name": "g", "tags": [{"tagKey": "cost#center", "tagValue": "x"}]}
        assert [v.kind for v in check_request("personalize", "CreateDatasetGroup", bad)] == ["pattern"]
        assert check_request("personalize", "ListSchemas", {"nextToken": "tökén"})[0].kind == "pattern"

    def test_java_pattern_translation(self) -> None:
        import re

        def full(pattern: str, text: str) -> bool:
            return re.fullmatch(java_pattern_to_python(pattern), text, re.ASCII) is not None

        assert full(r"\p{ASCII}{0,3}", "ab~") and not full(r"\p{ASCII}{0,3}", "é")
        assert full(r"\P{ASCII}+", "éü") and not full(r"\P{ASCII}+", "e")
        assert full(r"[\p{Alpha}\p{Digit}]+", "abC9") and not full(r"\p{Alpha}+", "ä")
        assert full(r"\p{Lu}\p{Ll}+", "Élan") and not full(r"\p{Lu}\p{Ll}+", "élan")
        assert full(r"\Qa.b\E", "a.b") and not full(r"\Qa.b\E", "axb")
        assert full(r"[a-c[x-z]]+", "abzx") and not full(r"[a-c[x-z]]+", "d")
        assert full(r"\d+", "42") and not full(r"\d+", "٤٢")  # Java's \d is ASCII-only

    def test_hook_on_a_stubbed_client(self) -> None:
        personalize = boto3.client("personalize", region_name=REGION)
        stubber = Stubber(personalize)
        stubber.add_response("create_dataset_group", {"datasetGroupArn": arn("dataset-group/ok")})
        stubber.add_response("create_dataset_group", {"datasetGroupArn": arn("dataset-group/" + "a" * 64)})
        with stubber, model_validation(personalize):
            with pytest.raises(RequestValidationError, match="length 64 > max 63"):
                personalize.create_dataset_group(name="a" * 64)
            assert personalize.create_dataset_group(name="ok")["datasetGroupArn"].endswith("/ok")
            install_model_validation(personalize)  # idempotent
            uninstall_model_validation(personalize)
            # without the hook only botocore validates, and it lets the too-long name through
            personalize.create_dataset_group(name="a" * 64)
        stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------------
# the double: plumbing
# ------------------------------------------------------------------------------------------------
class TestPlumbing:
    def test_install_patches_and_restores_make_api_call(self, clock: FakeClock) -> None:
        original = botocore.client.BaseClient._make_api_call
        before = boto3.client("personalize", region_name=REGION)  # created before installation
        double = PersonalizeDouble(clock=clock)
        with double.installed():
            assert botocore.client.BaseClient._make_api_call is not original
            assert before.list_dataset_groups()["datasetGroups"] == []
            with pytest.raises(RuntimeError, match="already installed"), PersonalizeDouble().installed():
                pass
        assert botocore.client.BaseClient._make_api_call is original
        assert double.calls == [("ListDatasetGroups", {})]

    def test_response_shapes_like_botocore(self, client, clock: FakeClock, double: PersonalizeDouble) -> None:
        created = client.create_dataset_group(name="poc", domain="ECOMMERCE")
        assert created["datasetGroupArn"] == arn("dataset-group/poc") and created["domain"] == "ECOMMERCE"
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 200
        group = client.describe_dataset_group(datasetGroupArn=created["datasetGroupArn"])["datasetGroup"]
        assert set(group) == {
            "name",
            "datasetGroupArn",
            "status",
            "creationDateTime",
            "lastUpdatedDateTime",
            "domain",
        }
        assert isinstance(group["creationDateTime"], dt.datetime) and group["creationDateTime"].tzinfo is not None
        assert abs(group["creationDateTime"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
        clock.advance(30)
        later = client.describe_dataset_group(datasetGroupArn=created["datasetGroupArn"])["datasetGroup"]
        assert later["lastUpdatedDateTime"] - later["creationDateTime"] == dt.timedelta(seconds=30)
        summary = client.list_dataset_groups()["datasetGroups"][0]
        assert set(summary) == {
            "name",
            "datasetGroupArn",
            "status",
            "creationDateTime",
            "lastUpdatedDateTime",
            "domain",
        }

    def test_region_and_account_come_from_client_and_constructor(self, clock: FakeClock) -> None:
        double = PersonalizeDouble(clock=clock, account_id="210987654321")
        with double.installed():
            eu = boto3.client("personalize", region_name="eu-west-1")
            group_arn = eu.create_dataset_group(name="poc")["datasetGroupArn"]
            assert group_arn == "arn:aws:personalize:eu-west-1:210987654321:dataset-group/poc"
            us = boto3.client("personalize", region_name=REGION)
            assert us.list_dataset_groups()["datasetGroups"] == []
            with pytest.raises(ClientError) as exc:
                us.describe_dataset_group(datasetGroupArn=group_arn)
            assert error_code(exc) == "ResourceNotFoundException"

    def test_reported_times_follow_the_simulated_clock(self) -> None:
        epoch = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        clock = FakeClock(start=100.0)
        with PersonalizeDouble(clock=clock, epoch=epoch).installed() as double:
            personalize = boto3.client("personalize", region_name=REGION)
            group_arn = personalize.create_dataset_group(name="poc")["datasetGroupArn"]
            clock.advance(double.seconds_until_settled())
            group = personalize.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]
        assert group["creationDateTime"] == epoch + dt.timedelta(seconds=100)
        assert group["lastUpdatedDateTime"] == epoch + dt.timedelta(seconds=130)
        assert double.seconds_until_settled("arn:aws:personalize:us-east-1:123456789012:schema/gone") == 0

    def test_validation_errors(self, client, double: PersonalizeDouble) -> None:
        with pytest.raises(ClientError) as exc:
            client.create_dataset_group(name="a" * 64)
        assert error_code(exc) == "ValidationException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert exc.value.response["Error"]["Message"] == (
            f"1 validation error detected: Value '{'a' * 64}' at 'name' failed to satisfy constraint: "
            "Member must have length less than or equal to 63"
        )
        with pytest.raises(ClientError, match="Member must satisfy enum value set: \\[FULL, INCREMENTAL\\]"):
            client.create_dataset_import_job(
                jobName="j",
                datasetArn=arn("dataset/poc/INTERACTIONS"),
                dataSource={"dataLocation": "s3://b/k"},
                importMode="SOMETIMES",
            )
        with pytest.raises(ParamValidationError, match="Missing required parameter"):
            client.create_dataset_group()
        assert double.resources() == []
        assert double.call_count("CreateDatasetGroup") == 2

    def test_other_services_pass_through_to_moto(self, double: PersonalizeDouble) -> None:
        from moto import mock_aws

        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket="poc-data")
            s3.put_object(Bucket="poc-data", Key="interactions.csv", Body=b"USER_ID,ITEM_ID,TIMESTAMP\n")
            body = s3.get_object(Bucket="poc-data", Key="interactions.csv")["Body"].read()
            assert body.startswith(b"USER_ID")
            # personalize still reaches the double, not moto (moto only knows schemas)
            group = boto3.client("personalize", region_name=REGION).create_dataset_group(name="g")
            assert double.status(group["datasetGroupArn"]) == "CREATE PENDING"
        assert [op for op, _ in double.calls] == ["CreateDatasetGroup"]

    def test_unimplemented_operation_is_loud(self, client) -> None:
        with pytest.raises(NotImplementedError, match="UpdateDataset"):
            client.update_dataset(datasetArn=arn("dataset/g/ITEMS"), schemaArn=arn("schema/s"))

    def test_thread_safety(self) -> None:
        inside, most = 0, 0
        gauge = threading.Lock()

        def slow_clock() -> float:
            """Sleeps (releasing the GIL) and records how many threads are inside the double at once."""
            nonlocal inside, most
            with gauge:
                inside += 1
                most = max(most, inside)
            time.sleep(0.002)
            with gauge:
                inside -= 1
            return 0.0

        double = PersonalizeDouble(clock=slow_clock)
        outcomes: list[str] = []
        start = threading.Barrier(6)

        personalize = boto3.client("personalize", region_name=REGION)  # clients are thread-safe

        def worker(i: int) -> None:
            start.wait()
            for name in (f"own-{i}", "shared-1", "shared-2"):
                try:
                    personalize.create_dataset_group(name=name)
                    outcomes.append("ok")
                except personalize.exceptions.ResourceAlreadyExistsException:
                    outcomes.append("exists")

        with double.installed():
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert most == 1  # the lock serialises every call
        assert sorted(outcomes) == ["exists"] * 10 + ["ok"] * 8
        assert len(double.resources("dataset_group")) == 8
        assert double.call_count("create_dataset_group") == 18


# ------------------------------------------------------------------------------------------------
# the double: lifecycles
# ------------------------------------------------------------------------------------------------
class TestLifecycles:
    def test_dataset_group_schema_dataset(self, client, clock: FakeClock) -> None:
        group_arn = client.create_dataset_group(name="poc")["datasetGroupArn"]
        assert statuses_over(clock, 30, client, "dataset_group", group_arn) == FULL_LIFE
        schema_arn = client.create_schema(name="poc-interactions", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        assert schema_arn == arn("schema/poc-interactions")
        schema = client.describe_schema(schemaArn=schema_arn)["schema"]
        assert "status" not in schema and json.loads(schema["schema"])["name"] == "Interactions"
        dataset_arn = client.create_dataset(
            name="interactions", schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType="Interactions"
        )["datasetArn"]
        assert dataset_arn == arn("dataset/poc/INTERACTIONS")
        assert statuses_over(clock, 30, client, "dataset", dataset_arn) == FULL_LIFE
        listed = client.list_datasets(datasetGroupArn=group_arn)["datasets"]
        assert [(d["datasetArn"], d["datasetType"], d["status"]) for d in listed] == [
            (dataset_arn, "Interactions", "ACTIVE")
        ]

    def test_import_job(self, client, poc: Poc, clock: FakeClock) -> None:
        dataset_arn = poc.interactions(poc.group())
        job_arn = poc.import_job(dataset_arn, settle=False, importMode="INCREMENTAL")
        assert job_arn == arn("dataset-import-job/import-1")
        assert statuses_over(clock, 15 * 60, client, "dataset_import_job", job_arn) == FULL_LIFE
        job = describe(client, "dataset_import_job", job_arn)
        assert job["importMode"] == "INCREMENTAL" and job["roleArn"] == ROLE and "failureReason" not in job
        assert job["dataSource"] == {"dataLocation": "s3://poc-bucket/interactions.csv"}
        (summary,) = client.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
        assert summary["importMode"] == "INCREMENTAL" and summary["status"] == "ACTIVE"

    def test_solution_and_version(self, client, poc: Poc, clock: FakeClock) -> None:
        group_arn = poc.group()
        poc.import_job(poc.interactions(group_arn))
        config = {
            "algorithmHyperParameters": {"hidden_dimension": "64"},
            "autoTrainingConfig": {"schedulingExpression": "rate(14 days)"},
        }
        solution_arn = client.create_solution(
            name="poc-up",
            datasetGroupArn=group_arn,
            recipeArn=RECIPE + "aws-user-personalization",  # UPDATE training (below) needs this recipe
            solutionConfig=config,
        )["solutionArn"]
        assert solution_arn == arn("solution/poc-up")
        assert statuses_over(clock, 30, client, "solution", solution_arn) == FULL_LIFE
        solution = describe(client, "solution", solution_arn)
        assert solution["solutionConfig"] == config
        assert solution["performAutoTraining"] is True  # the service's default when not given
        version_arn = poc.version(solution_arn, settle=False)
        version_id = version_arn.rsplit("/", 1)[1]
        assert version_arn == f"{solution_arn}/{version_id}" and len(version_id) == 8 and int(version_id, 16) >= 0
        assert statuses_over(clock, 90 * 60, client, "solution_version", version_arn) == FULL_LIFE
        version = describe(client, "solution_version", version_arn)
        assert version["trainingMode"] == "FULL" and version["trainingType"] == "MANUAL"
        assert version["trainingHours"] == pytest.approx(1.5) and version["solutionConfig"] == config
        assert describe(client, "solution", solution_arn)["latestSolutionVersion"]["solutionVersionArn"] == version_arn
        update = poc.version(solution_arn, trainingMode="UPDATE")
        listed = client.list_solution_versions(solutionArn=solution_arn)["solutionVersions"]
        assert [(v["solutionVersionArn"], v["trainingMode"]) for v in listed] == [
            (update, "UPDATE"),
            (version_arn, "FULL"),
        ]

    def test_campaign_and_update(self, client, poc: Poc, clock: FakeClock) -> None:
        _, solution_arn, version_arn = poc.trained()
        campaign_arn = poc.campaign(version_arn, settle=False)
        assert campaign_arn == arn("campaign/poc-campaign")
        assert statuses_over(clock, 12 * 60, client, "campaign", campaign_arn) == FULL_LIFE
        assert describe(client, "campaign", campaign_arn)["minProvisionedTPS"] == 1
        newer = poc.version(solution_arn)
        client.update_campaign(campaignArn=campaign_arn, solutionVersionArn=newer, minProvisionedTPS=2)
        campaign = describe(client, "campaign", campaign_arn)
        assert campaign["status"] == "ACTIVE" and campaign["solutionVersionArn"] == version_arn
        assert campaign["latestCampaignUpdate"]["status"] == "CREATE PENDING"
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.update_campaign(campaignArn=campaign_arn, minProvisionedTPS=3)
        poc.settle(campaign_arn)
        campaign = describe(client, "campaign", campaign_arn)
        assert campaign["solutionVersionArn"] == newer and campaign["minProvisionedTPS"] == 2
        assert campaign["latestCampaignUpdate"]["status"] == "ACTIVE"
        listed = client.list_campaigns(solutionArn=solution_arn)["campaigns"]
        assert [c["campaignArn"] for c in listed] == [campaign_arn]

    def test_filter_event_tracker_batch_job(self, client, poc: Poc, clock: FakeClock) -> None:
        group_arn, _, version_arn = poc.trained()
        expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")'
        filter_arn = client.create_filter(name="no-repeats", datasetGroupArn=group_arn, filterExpression=expression)[
            "filterArn"
        ]
        assert filter_arn == arn("filter/no-repeats")
        assert statuses_over(clock, 90, client, "filter", filter_arn) == FULL_LIFE
        assert describe(client, "filter", filter_arn)["filterExpression"] == expression
        assert client.list_filters(datasetGroupArn=group_arn)["Filters"][0]["filterArn"] == filter_arn

        tracker = client.create_event_tracker(name="poc-tracker", datasetGroupArn=group_arn)
        tracker_arn = tracker["eventTrackerArn"]
        tracker_id = tracker_arn.rsplit("/", 1)[1]
        assert tracker_arn == arn(f"event-tracker/{tracker_id}") and len(tracker_id) == 8
        assert statuses_over(clock, 60, client, "event_tracker", tracker_arn) == FULL_LIFE
        described = describe(client, "event_tracker", tracker_arn)
        assert described["trackingId"] == tracker["trackingId"] and described["accountId"] == ACCOUNT

        job_arn = poc.batch_job(version_arn, filterArn=filter_arn, numResults=50)
        assert job_arn == arn("batch-inference-job/batch-1")
        assert statuses_over(clock, 30 * 60, client, "batch_inference_job", job_arn) == [
            "PENDING",
            "IN PROGRESS",
            "IN PROGRESS",
            "ACTIVE",
        ]
        job = describe(client, "batch_inference_job", job_arn)
        assert (job["numResults"], job["filterArn"], job["batchInferenceJobMode"]) == (
            50,
            filter_arn,
            "BATCH_INFERENCE",
        )
        (summary,) = client.list_batch_inference_jobs(solutionVersionArn=version_arn)["batchInferenceJobs"]
        assert summary["solutionVersionArn"] == version_arn

    def test_recipes_and_metrics(self, client, poc: Poc) -> None:
        recipes = [r["recipeArn"] for r in client.list_recipes()["recipes"]]
        for name in (
            "aws-user-personalization",
            "aws-user-personalization-v2",
            "aws-sims",
            "aws-personalized-ranking",
            "aws-personalized-ranking-v2",
            "aws-popularity-count",
            "aws-trending-now",
        ):
            assert RECIPE + name in recipes
        recipe = client.describe_recipe(recipeArn=RECIPE + "aws-sims")["recipe"]
        assert recipe["recipeType"] == "RELATED_ITEMS" and recipe["status"] == "ACTIVE"
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.describe_recipe(recipeArn=RECIPE + "aws-no-such-recipe")

        group_arn, _, personalization = poc.trained()
        popularity = poc.version(poc.solution(group_arn, name="poc-popularity", recipe="aws-popularity-count"))
        metrics = client.get_solution_metrics(solutionVersionArn=personalization)["metrics"]
        assert set(metrics) == {
            "coverage",
            "mean_reciprocal_rank_at_25",
            "normalized_discounted_cumulative_gain_at_5",
            "normalized_discounted_cumulative_gain_at_10",
            "normalized_discounted_cumulative_gain_at_25",
            "precision_at_5",
            "precision_at_10",
            "precision_at_25",
        }
        baseline = client.get_solution_metrics(solutionVersionArn=popularity)["metrics"]
        assert all(baseline[k] < metrics[k] for k in metrics)
        assert client.get_solution_metrics(solutionVersionArn=personalization)["metrics"] == metrics
        assert len(RECIPES) >= 7


# ------------------------------------------------------------------------------------------------
# the double: rules of the service
# ------------------------------------------------------------------------------------------------
class TestRules:
    def test_unique_names(self, client, poc: Poc) -> None:
        group_arn, solution_arn, version_arn = poc.trained()
        attempts = [
            lambda: client.create_dataset_group(name="poc"),
            lambda: client.create_schema(name="poc-interactions", schema=INTERACTIONS_SCHEMA),
            lambda: poc.interactions(group_arn, "another-schema"),  # a second INTERACTIONS dataset
            lambda: poc.import_job(arn("dataset/poc/INTERACTIONS"), name="poc-import"),
            lambda: client.create_solution(
                name="poc-solution", datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-sims"
            ),
        ]
        poc.campaign(version_arn)
        attempts.append(lambda: poc.campaign(version_arn))
        client.create_event_tracker(name="tracker-1", datasetGroupArn=group_arn)
        attempts.append(lambda: client.create_event_tracker(name="tracker-2", datasetGroupArn=group_arn))
        for attempt in attempts:
            with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
                attempt()

    def test_missing_parents(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        missing_group = arn("dataset-group/nope")
        attempts = {
            "dataset group": lambda: client.create_dataset(
                name="d", schemaArn=arn("schema/x"), datasetGroupArn=missing_group, datasetType="Items"
            ),
            "schema": lambda: client.create_dataset(
                name="d", schemaArn=arn("schema/nope"), datasetGroupArn=group_arn, datasetType="Items"
            ),
            "dataset": lambda: poc.import_job(arn("dataset/poc/ITEMS")),
            "solution's group": lambda: client.create_solution(
                name="s", datasetGroupArn=missing_group, recipeArn=RECIPE + "aws-sims"
            ),
            "solution": lambda: client.create_solution_version(solutionArn=arn("solution/nope")),
            "solution version": lambda: poc.campaign(arn("solution/nope/0000abcd")),
            "batch solution version": lambda: poc.batch_job(arn("solution/nope/0000abcd")),
            "filter's group": lambda: client.create_filter(
                name="f",
                datasetGroupArn=missing_group,
                filterExpression="EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($g)",
            ),
            "describe": lambda: client.describe_campaign(campaignArn=arn("campaign/nope")),
        }
        for label, attempt in attempts.items():
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                attempt()
                pytest.fail(label)

    def test_parents_must_be_active(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        group_arn = client.create_dataset_group(name="young")["datasetGroupArn"]
        schema_arn = client.create_schema(name="s", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        with pytest.raises(client.exceptions.ResourceInUseException, match="not in ACTIVE state"):
            client.create_dataset(name="d", schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType="Interactions")
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.create_event_tracker(name="t", datasetGroupArn=group_arn)
        poc.settle(group_arn)
        dataset_arn = client.create_dataset(
            name="d", schemaArn=schema_arn, datasetGroupArn=group_arn, datasetType="Interactions"
        )["datasetArn"]
        with pytest.raises(client.exceptions.ResourceInUseException):
            poc.import_job(dataset_arn)
        poc.settle(dataset_arn)
        poc.import_job(dataset_arn, settle=False)
        with pytest.raises(client.exceptions.ResourceInUseException, match="in progress"):
            poc.import_job(dataset_arn, name="import-2")  # one import at a time per dataset
        poc.settle()
        solution_arn = client.create_solution(name="s", datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-sims")[
            "solutionArn"
        ]
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.create_solution_version(solutionArn=solution_arn)
        poc.settle(solution_arn)
        version_arn = poc.version(solution_arn, settle=False)
        with pytest.raises(client.exceptions.ResourceInUseException):
            poc.campaign(version_arn)
        with pytest.raises(client.exceptions.ResourceInUseException):
            poc.batch_job(version_arn)
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.get_solution_metrics(solutionVersionArn=version_arn)
        poc.settle(version_arn)
        assert double.status(poc.campaign(version_arn)) == "ACTIVE"

    def test_solution_version_needs_completed_interactions_import(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        solution_arn = poc.solution(group_arn)
        with pytest.raises(client.exceptions.InvalidInputException, match="no Item interactions dataset"):
            client.create_solution_version(solutionArn=solution_arn)
        dataset_arn = poc.interactions(group_arn)
        with pytest.raises(client.exceptions.InvalidInputException, match="no imported data"):
            client.create_solution_version(solutionArn=solution_arn)
        poc.import_job(dataset_arn, settle=False)
        with pytest.raises(client.exceptions.ResourceInUseException, match="still in progress"):
            client.create_solution_version(solutionArn=solution_arn)
        poc.settle()
        assert poc.version(solution_arn)
        with pytest.raises(client.exceptions.InvalidInputException, match="UPDATE"):
            client.create_solution_version(solutionArn=poc.solution(group_arn, name="fresh"), trainingMode="UPDATE")

    def test_input_checks(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        items_schema = client.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
        with pytest.raises(client.exceptions.InvalidInputException, match="USER_ID"):
            client.create_dataset(
                name="i", schemaArn=items_schema, datasetGroupArn=group_arn, datasetType="Interactions"
            )
        with pytest.raises(client.exceptions.InvalidInputException):
            client.create_schema(name="broken", schema="{not json")
        with pytest.raises(client.exceptions.InvalidInputException, match="filter expression"):
            client.create_filter(name="f", datasetGroupArn=group_arn, filterExpression="ItemID = 1")
        with pytest.raises(client.exceptions.InvalidInputException, match="recipeArn"):
            client.create_solution(name="s", datasetGroupArn=group_arn)
        _, _, trending = poc.trained("trend", recipe="aws-trending-now")
        with pytest.raises(client.exceptions.InvalidInputException, match="Trending-Now"):
            poc.batch_job(trending)

    def test_delete_blocked_by_children_then_cascade(self, client, poc: Poc, clock: FakeClock, double) -> None:
        group_arn, solution_arn, version_arn = poc.trained()
        dataset_arn = arn("dataset/poc/INTERACTIONS")
        schema_arn = arn("schema/poc-interactions")
        filter_arn = client.create_filter(
            name="f", datasetGroupArn=group_arn, filterExpression="EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($g)"
        )["filterArn"]
        tracker_arn = client.create_event_tracker(name="t", datasetGroupArn=group_arn)["eventTrackerArn"]
        campaign_arn = poc.campaign(version_arn, settle=False)
        blocked = [
            lambda: client.delete_dataset_group(datasetGroupArn=group_arn),
            lambda: client.delete_schema(schemaArn=schema_arn),
            lambda: client.delete_solution(solutionArn=solution_arn),
            lambda: client.delete_campaign(campaignArn=campaign_arn),  # still being created
            lambda: client.delete_filter(filterArn=filter_arn),  # still being created
        ]
        for attempt in blocked:
            with pytest.raises(client.exceptions.ResourceInUseException):
                attempt()
        poc.settle()

        client.delete_campaign(campaignArn=campaign_arn)
        assert describe(client, "campaign", campaign_arn)["status"] == "DELETE PENDING"
        with pytest.raises(client.exceptions.ResourceInUseException, match="already being deleted"):
            client.delete_campaign(campaignArn=campaign_arn)
        clock.advance(60)
        assert describe(client, "campaign", campaign_arn)["status"] == "DELETE IN_PROGRESS"
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.delete_solution(solutionArn=solution_arn)  # the campaign is not gone yet
        clock.advance(60)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            describe(client, "campaign", campaign_arn)

        client.delete_solution(solutionArn=solution_arn)
        client.delete_filter(filterArn=filter_arn)
        client.delete_event_tracker(eventTrackerArn=tracker_arn)
        client.delete_dataset(datasetArn=dataset_arn)
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.delete_dataset_group(datasetGroupArn=group_arn)  # children are deleting, not gone
        poc.settle()
        assert double.arns("solution_version") == [] and double.arns("dataset_import_job") == []
        client.delete_schema(schemaArn=schema_arn)  # schemas go at once
        client.delete_dataset_group(datasetGroupArn=group_arn)
        assert client.describe_dataset_group(datasetGroupArn=group_arn)["datasetGroup"]["status"] == "DELETE PENDING"
        poc.settle()
        assert double.resources() == []
        assert client.list_dataset_groups()["datasetGroups"] == []

    def test_delete_dataset_while_import_runs(self, client, poc: Poc) -> None:
        dataset_arn = poc.interactions(poc.group())
        poc.import_job(dataset_arn, settle=False)
        with pytest.raises(client.exceptions.ResourceInUseException, match="import job"):
            client.delete_dataset(datasetArn=dataset_arn)

    def test_quotas(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        double.set_quota("active_campaigns", 2)
        double.set_quota("concurrent_solution_versions", 1)
        double.set_quota("filters_per_dataset_group", 1)
        double.set_quota("concurrent_batch_inference_jobs", 1)
        group_arn, solution_arn, version_arn = poc.trained()
        poc.campaign(version_arn, name="c1", settle=False)
        poc.campaign(version_arn, name="c2", settle=False)
        with pytest.raises(client.exceptions.LimitExceededException, match="Total number of active campaigns"):
            poc.campaign(version_arn, name="c3")
        poc.version(solution_arn, settle=False)
        with pytest.raises(client.exceptions.LimitExceededException, match="pending or in progress solution versions"):
            poc.version(solution_arn)
        expression = "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($g)"
        client.create_filter(name="f1", datasetGroupArn=group_arn, filterExpression=expression)
        with pytest.raises(client.exceptions.LimitExceededException, match="filters per dataset group"):
            client.create_filter(name="f2", datasetGroupArn=group_arn, filterExpression=expression)
        poc.batch_job(version_arn, name="b1")
        with pytest.raises(client.exceptions.LimitExceededException, match="batch inference jobs"):
            poc.batch_job(version_arn, name="b2")
        poc.settle()
        poc.version(solution_arn, settle=False)  # the running one finished: room again
        poc.batch_job(version_arn, name="b2")


# ------------------------------------------------------------------------------------------------
# the double: fault injection
# ------------------------------------------------------------------------------------------------
class TestFaults:
    def test_throttle(self, client, double: PersonalizeDouble) -> None:
        double.throttle("CreateDatasetGroup", times=2)
        double.throttle("list_dataset_groups")
        for _ in range(2):
            with pytest.raises(ClientError) as exc:
                client.create_dataset_group(name="poc")
            assert error_code(exc) == "ThrottlingException"
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        client.create_dataset_group(name="poc")
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.list_dataset_groups()
        assert len(client.list_dataset_groups()["datasetGroups"]) == 1
        assert double.call_count("CreateDatasetGroup") == 3
        with pytest.raises(ValueError, match="no operation"):
            double.throttle("CreateWidget", 1)

    def test_fail_import(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        group_arn = poc.group()
        interactions = poc.interactions(group_arn)
        items_schema = client.create_schema(name="items", schema=ITEMS_SCHEMA)["schemaArn"]
        items = client.create_dataset(
            name="items", schemaArn=items_schema, datasetGroupArn=group_arn, datasetType="Items"
        )["datasetArn"]
        poc.settle(items)
        double.fail_import("Interactions", reason="Input CSV is missing the TIMESTAMP column.")
        assert double.status(poc.import_job(items, name="items-1", uri=ITEMS_URI)) == "ACTIVE"  # unaffected
        failed = poc.import_job(interactions, name="interactions-1")
        job = client.describe_dataset_import_job(datasetImportJobArn=failed)["datasetImportJob"]
        assert job["status"] == "CREATE FAILED" and job["failureReason"] == "Input CSV is missing the TIMESTAMP column."
        assert double.status(poc.import_job(interactions, name="interactions-2")) == "ACTIVE"  # one-shot
        double.fail_next_import(reason="Access denied to s3://poc-bucket")
        job_arn = poc.import_job(items, name="items-2", uri=ITEMS_URI)
        summary = client.list_dataset_import_jobs(datasetArn=items)["datasetImportJobs"][0]
        assert summary["datasetImportJobArn"] == job_arn and summary["status"] == "CREATE FAILED"
        assert summary["failureReason"] == "Access denied to s3://poc-bucket"

    def test_fail_training(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        group_arn, solution_arn, _ = poc.trained()
        double.fail_training("poc-solution", reason="Insufficient data to train a model.")
        failed = poc.version(solution_arn)
        version = client.describe_solution_version(solutionVersionArn=failed)["solutionVersion"]
        assert (
            version["status"] == "CREATE FAILED" and version["failureReason"] == "Insufficient data to train a model."
        )
        assert "trainingHours" not in version
        latest = client.describe_solution(solutionArn=solution_arn)["solution"]["latestSolutionVersion"]
        assert latest["status"] == "CREATE FAILED" and latest["failureReason"].startswith("Insufficient")
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.get_solution_metrics(solutionVersionArn=failed)
        with pytest.raises(client.exceptions.ResourceInUseException):
            poc.campaign(failed)
        assert double.status(poc.version(solution_arn)) == "ACTIVE"

    def test_stop_solution_version(self, client, poc: Poc, clock: FakeClock) -> None:
        _, solution_arn, active = poc.trained()
        pending = poc.version(solution_arn, settle=False)
        client.stop_solution_version_creation(solutionVersionArn=pending)
        assert describe(client, "solution_version", pending)["status"] == "CREATE STOPPED"
        running = poc.version(solution_arn, settle=False)
        clock.advance(600)
        client.stop_solution_version_creation(solutionVersionArn=running)
        assert describe(client, "solution_version", running)["status"] == "CREATE STOPPING"
        clock.advance(DEFAULT_DURATIONS["solution_version_stop"])
        stopped = describe(client, "solution_version", running)
        assert stopped["status"] == "CREATE STOPPED" and stopped["trainingHours"] == pytest.approx(720 / 3600, abs=1e-3)
        clock.advance(3 * 3600)
        assert describe(client, "solution_version", running)["status"] == "CREATE STOPPED"  # never resumes
        with pytest.raises(client.exceptions.ResourceInUseException):
            client.stop_solution_version_creation(solutionVersionArn=active)

    def test_slow_campaign_deletion_holds_the_quota(self, client, poc: Poc, clock: FakeClock, double) -> None:
        double.set_quota("active_campaigns", 1)
        double.slow("delete_campaign", 10)
        _, _, version_arn = poc.trained()
        campaign_arn = poc.campaign(version_arn)
        client.delete_campaign(campaignArn=campaign_arn)
        clock.advance(DEFAULT_DURATIONS["delete_campaign"] * 2)
        assert double.now_status("campaign", campaign_arn) == "DELETE IN_PROGRESS"
        with pytest.raises(client.exceptions.LimitExceededException):
            poc.campaign(version_arn, name="replacement")
        poc.settle(campaign_arn)
        assert double.status(campaign_arn) is None
        poc.campaign(version_arn, name="replacement")
        with pytest.raises(ValueError, match="unknown duration key"):
            double.slow("campaigns", 2)

    def test_fail_next_any_kind(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        _, _, version_arn = poc.trained()
        double.fail_next("campaign", "Not enough capacity", match="doomed")
        ok = poc.campaign(version_arn, name="fine")
        doomed = poc.campaign(version_arn, name="doomed")
        assert double.status(ok) == "ACTIVE"
        campaign = client.describe_campaign(campaignArn=doomed)["campaign"]
        assert campaign["status"] == "CREATE FAILED" and campaign["failureReason"] == "Not enough capacity"
        client.delete_campaign(campaignArn=doomed)  # a failed resource can be deleted

    def test_a_failed_solution_has_no_failure_reason_member(
        self, client, double: PersonalizeDouble, clock: FakeClock
    ) -> None:
        # The service model's Solution shape has no failureReason: the double must not invent one.
        double.fail_next("solution", "Internal error")
        group = client.create_dataset_group(name="fails")["datasetGroupArn"]
        clock.advance(double.seconds_until_settled(group))
        solution = client.create_solution(
            name="doomed", datasetGroupArn=group, recipeArn="arn:aws:personalize:::recipe/aws-sims"
        )["solutionArn"]
        clock.advance(double.seconds_until_settled(solution))
        described = client.describe_solution(solutionArn=solution)["solution"]
        assert described["status"] == "CREATE FAILED" and "failureReason" not in described


def test_automatic_training_when_simulated(clock: FakeClock, objects: dict[str, bytes]) -> None:
    double = serve(PersonalizeDouble(clock=clock, auto_training=True), objects)
    with double.installed():
        personalize = boto3.client("personalize", region_name=REGION)
        poc = Poc(personalize, double, clock)
        group_arn = poc.group()
        poc.import_job(poc.interactions(group_arn))

        def create(name: str, **extra) -> str:
            solution_arn = personalize.create_solution(
                name=name, datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-user-personalization", **extra
            )["solutionArn"]
            poc.settle(solution_arn)
            return solution_arn

        def versions(solution_arn: str) -> list[tuple[str, str]]:
            listed = personalize.list_solution_versions(solutionArn=solution_arn)["solutionVersions"]
            return [(v["trainingType"], v["trainingMode"]) for v in reversed(listed)]

        default = create("auto-by-default")  # performAutoTraining defaults to true
        manual_first = create("manual-first")
        every_two_days = create(
            "every-two-days", solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(2 days)"}}
        )
        off = create("off", performAutoTraining=False)
        poc.version(manual_first, settle=False)  # within the first hour: skips the first automatic run
        clock.advance(3600)
        assert versions(default) == [("AUTOMATIC", "AUTOTRAIN")]
        assert versions(manual_first) == [("MANUAL", "FULL")]
        assert versions(off) == []
        clock.advance(7 * 86400)
        assert len(versions(default)) == 2 and len(versions(manual_first)) == 2
        assert len(versions(every_two_days)) == 4 and versions(off) == []
        personalize.update_solution(solutionArn=default, performAutoTraining=False)
        clock.advance(7 * 86400)
        assert len(versions(default)) == 2  # switched off by the update
        assert len(versions(manual_first)) == 3


# ------------------------------------------------------------------------------------------------
# the double: pagination
# ------------------------------------------------------------------------------------------------
def test_paginators_follow_next_tokens(client, double: PersonalizeDouble) -> None:
    names = [f"group-{i}" for i in range(7)]
    for name in names:
        client.create_dataset_group(name=name)
    pages = list(client.get_paginator("list_dataset_groups").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["datasetGroups"]) for p in pages] == [3, 3, 1]
    assert [g["name"] for p in pages for g in p["datasetGroups"]] == names[::-1]  # newest first
    first = client.list_dataset_groups(maxResults=2)
    assert len(first["datasetGroups"]) == 2 and "nextToken" in first
    second = client.list_dataset_groups(maxResults=2, nextToken=first["nextToken"])
    assert second["datasetGroups"][0]["name"] == "group-4"
    with pytest.raises(client.exceptions.InvalidNextTokenException):
        client.list_schemas(nextToken=first["nextToken"])  # a token of another operation
    pages_of_two = -(-len(RECIPES) // 2)  # every recipe the double knows, two per page
    assert len(list(client.get_paginator("list_recipes").paginate(PaginationConfig={"PageSize": 2}))) == pages_of_two


# ------------------------------------------------------------------------------------------------
# the double is as strict as the service (issue 9): names, defaults, data, access
# ------------------------------------------------------------------------------------------------
def _teardown_group(client, poc: Poc, group_arn: str) -> None:
    """Deletes what a group holds (campaigns, solutions, datasets) and the group, waiting for each level."""
    for solution in client.list_solutions(datasetGroupArn=group_arn)["solutions"]:
        for campaign in client.list_campaigns(solutionArn=solution["solutionArn"])["campaigns"]:
            client.delete_campaign(campaignArn=campaign["campaignArn"])
    poc.settle()
    for solution in client.list_solutions(datasetGroupArn=group_arn)["solutions"]:
        client.delete_solution(solutionArn=solution["solutionArn"])
    for dataset in client.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        client.delete_dataset(datasetArn=dataset["datasetArn"])
    poc.settle()
    for schema in client.list_schemas()["schemas"]:
        client.delete_schema(schemaArn=schema["schemaArn"])
    client.delete_dataset_group(datasetGroupArn=group_arn)
    poc.settle()


class TestNames:
    def test_import_and_batch_job_names_stay_taken_after_their_group_is_deleted(self, client, poc: Poc) -> None:
        group_arn, _, version_arn = poc.trained()
        poc.batch_job(version_arn, name="batch-1")
        poc.settle()
        _teardown_group(client, poc, group_arn)
        assert client.list_dataset_groups()["datasetGroups"] == []

        group_arn = poc.group()  # the same names again: free, except the jobs'
        dataset_arn = poc.interactions(group_arn, "poc-interactions")
        with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
            poc.import_job(dataset_arn, name="poc-import")
        poc.import_job(dataset_arn, name="poc-import-2")
        version_arn = poc.version(poc.solution(group_arn, name="poc-solution"))
        with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
            poc.batch_job(version_arn, name="batch-1")

    def test_names_are_unique_per_account_not_per_dataset_group(self, client, poc: Poc) -> None:
        first, _, version_arn = poc.trained("first")
        second = poc.group("second")
        schema_arn = client.create_schema(name="second-interactions", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        poc.settle(
            client.create_dataset(
                name="second-interactions", schemaArn=schema_arn, datasetGroupArn=second, datasetType="Interactions"
            )["datasetArn"]
        )
        poc.campaign(version_arn, name="shared")
        client.create_filter(
            name="shared",
            datasetGroupArn=first,
            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
        )
        attempts = {
            "solution": lambda: poc.solution(second, name="first-solution"),
            "filter": lambda: client.create_filter(
                name="shared",
                datasetGroupArn=second,
                filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
            ),
            "dataset": lambda: client.create_dataset(
                name="interactions",  # the name of first's dataset
                schemaArn=arn("schema/first-interactions"),
                datasetGroupArn=second,
                datasetType="Interactions",
            ),
        }
        for what, attempt in attempts.items():
            with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
                attempt()
                pytest.fail(f"a second {what} named like the first one's was created")

    def test_a_name_is_free_again_only_once_its_deletion_has_finished(self, client, poc: Poc, clock: FakeClock) -> None:
        group_arn = poc.group("doomed")
        client.delete_dataset_group(datasetGroupArn=group_arn)
        assert describe(client, "dataset_group", group_arn)["status"] == "DELETE PENDING"
        with pytest.raises(client.exceptions.ResourceAlreadyExistsException):
            client.create_dataset_group(name="doomed")
        clock.advance(DEFAULT_DURATIONS["delete_dataset_group"])
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            describe(client, "dataset_group", group_arn)
        assert client.create_dataset_group(name="doomed")["datasetGroupArn"] == group_arn


class TestDescribeDefaults:
    def test_a_user_personalization_campaign_shows_default_exploration(self, client, poc: Poc) -> None:
        _, _, version_arn = poc.trained(recipe="aws-user-personalization-v2")
        campaign = describe(client, "campaign", poc.campaign(version_arn))
        assert campaign["minProvisionedTPS"] == 1
        assert campaign["campaignConfig"]["itemExplorationConfig"] == {
            "explorationWeight": "0.3",
            "explorationItemAgeCutOff": "30",
        }

    def test_a_campaign_merges_what_was_sent_with_the_defaults(self, client, poc: Poc) -> None:
        _, _, version_arn = poc.trained(recipe="aws-user-personalization")
        campaign_arn = client.create_campaign(
            name="explores",
            solutionVersionArn=version_arn,
            campaignConfig={"itemExplorationConfig": {"explorationWeight": "0.9"}},
        )["campaignArn"]
        config = describe(client, "campaign", campaign_arn)["campaignConfig"]
        assert config["itemExplorationConfig"] == {"explorationWeight": "0.9", "explorationItemAgeCutOff": "30"}

    def test_other_recipes_show_no_exploration(self, client, poc: Poc) -> None:
        _, _, version_arn = poc.trained(recipe="aws-sims")
        assert "itemExplorationConfig" not in describe(client, "campaign", poc.campaign(version_arn))["campaignConfig"]

    def test_an_auto_training_solution_shows_the_default_schedule(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        solution_arn = client.create_solution(name="auto", datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-sims")[
            "solutionArn"
        ]
        solution = describe(client, "solution", solution_arn)
        assert solution["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(7 days)"}

    def test_filter_expressions_come_back_normalised(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        poc.interactions(group_arn)
        filter_arn = client.create_filter(
            name="sloppy",
            datasetGroupArn=group_arn,
            filterExpression='exclude ItemID  where Interactions.EVENT_TYPE in ("Purchase  x")',
        )["filterArn"]
        assert (
            describe(client, "filter", filter_arn)["filterExpression"]
            == 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase  x")'
        )


class TestImportedData:
    def _import(self, poc: Poc, objects: dict[str, bytes], data: bytes) -> dict:
        objects["s3://poc-bucket/upload.csv"] = data
        job_arn = poc.import_job(poc.interactions(poc.group()), uri="s3://poc-bucket/upload.csv")
        return describe(poc.client, "dataset_import_job", job_arn)

    def test_a_header_without_a_required_field_fails_the_import(self, poc: Poc, objects: dict[str, bytes]) -> None:
        job = self._import(poc, objects, interactions_csv(header="USER_ID,ITEM_ID,EVENT_TYPE,TS"))
        assert job["status"] == "CREATE FAILED"
        assert job["failureReason"] == "Input CSV is missing the following columns: [TIMESTAMP]"

    def test_a_column_the_schema_does_not_know_fails_the_import(self, poc: Poc, objects: dict[str, bytes]) -> None:
        data = interactions_csv().replace(b"\n", b",x\n").replace(b"TIMESTAMP,x", b"TIMESTAMP,PRICE", 1)
        job = self._import(poc, objects, data)
        assert job["status"] == "CREATE FAILED" and "[PRICE]" in job["failureReason"]

    def test_a_value_of_the_wrong_type_fails_the_import(self, poc: Poc, objects: dict[str, bytes]) -> None:
        data = interactions_csv() + b"user_1,item_1,view,yesterday\n"
        job = self._import(poc, objects, data)
        assert job["status"] == "CREATE FAILED"
        assert job["failureReason"].startswith("Input csv has rows that do not conform to the dataset schema")
        assert "line 1202" in job["failureReason"]

    def test_empty_values_only_in_nullable_fields(self, poc: Poc, objects: dict[str, bytes]) -> None:
        from tests.support.import_data import check_import

        schema = json.dumps(
            {
                "type": "record",
                "name": "Items",
                "fields": [
                    {"name": "ITEM_ID", "type": "string"},
                    {"name": "GENRE", "type": ["null", "string"]},
                    {"name": "ON_SALE", "type": "boolean"},
                ],
            }
        )
        assert check_import(b"ITEM_ID,GENRE,ON_SALE\ni1,,true\ni2,drama,FALSE\n", schema, "ITEMS")[0] is None
        assert "(line 2)" in (check_import(b"ITEM_ID,GENRE,ON_SALE\ni1,drama,\n", schema, "ITEMS")[0] or "")
        assert "(line 3)" in (check_import(b"ITEM_ID,GENRE,ON_SALE\ni1,,true\ni2,x,yes\n", schema, "ITEMS")[0] or "")
        assert "quotation marks" in (check_import(b'"ITEM_ID",GENRE,ON_SALE\ni1,,true\n', schema, "ITEMS")[0] or "")

    def test_fewer_than_1000_interactions_fail_the_import(self, poc: Poc, objects: dict[str, bytes]) -> None:
        job = self._import(poc, objects, interactions_csv(users=30, per_user=33))
        assert job["status"] == "CREATE FAILED" and "990 interaction records" in job["failureReason"]

    def test_a_missing_object_fails_the_import(self, poc: Poc) -> None:
        job_arn = poc.import_job(poc.interactions(poc.group()), uri="s3://poc-bucket/nothing-here.csv")
        job = describe(poc.client, "dataset_import_job", job_arn)
        assert job["status"] == "CREATE FAILED" and "s3://poc-bucket/nothing-here.csv" in job["failureReason"]

    def test_training_needs_25_users_with_two_interactions(self, poc: Poc, objects: dict[str, bytes]) -> None:
        objects[INTERACTIONS_URI] = interactions_csv(users=20, per_user=60)  # 1200 interactions, 20 users
        _, solution_arn, version_arn = poc.trained()
        version = describe(poc.client, "solution_version", version_arn)
        assert version["status"] == "CREATE FAILED"
        assert "at least 25 users with at least 2 interactions each (found 20)" in version["failureReason"]
        listed = poc.client.describe_solution(solutionArn=solution_arn)["solution"]["latestSolutionVersion"]
        assert listed["failureReason"] == version["failureReason"]

    def test_training_counts_only_the_solutions_event_type(self, client, poc: Poc) -> None:
        group_arn = poc.group()
        poc.import_job(poc.interactions(group_arn))  # 1200 'view' interactions
        solution_arn = client.create_solution(
            name="purchases", datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-sims", eventType="purchase"
        )["solutionArn"]
        poc.settle(solution_arn)
        version = describe(client, "solution_version", poc.version(solution_arn))
        assert version["status"] == "CREATE FAILED" and "(found 0)" in version["failureReason"]


class TestServiceAccess:
    @pytest.fixture
    def asked(self, double: PersonalizeDouble) -> list[tuple[str, str, str]]:
        seen: list[tuple[str, str, str]] = []
        double.service_access = lambda role, action, resource: seen.append((role, action, resource))
        return seen

    def test_an_import_lists_the_bucket_and_reads_the_object_with_the_role(self, poc: Poc, asked: list) -> None:
        poc.import_job(poc.interactions(poc.group()))
        assert asked == [
            (ROLE, "s3:ListBucket", "arn:aws:s3:::poc-bucket"),
            (ROLE, "s3:GetObject", "arn:aws:s3:::poc-bucket/interactions.csv"),
        ]

    def test_a_batch_job_reads_its_input_and_writes_its_output_with_the_role(self, poc: Poc, asked: list) -> None:
        _, _, version_arn = poc.trained()
        asked.clear()
        poc.batch_job(version_arn)
        assert asked == [
            (ROLE, "s3:ListBucket", "arn:aws:s3:::poc-bucket"),
            (ROLE, "s3:GetObject", "arn:aws:s3:::poc-bucket/batch/users.json"),
            (ROLE, "s3:ListBucket", "arn:aws:s3:::poc-bucket"),
            (ROLE, "s3:PutObject", "arn:aws:s3:::poc-bucket/batch/out/users.json.out"),
        ]

    def test_a_dataset_group_with_a_key_uses_it_with_the_role(self, client, asked: list) -> None:
        key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        client.create_dataset_group(name="encrypted", kmsKeyArn=key, roleArn=ROLE)
        assert {action for _, action, _ in asked} == {
            "kms:DescribeKey",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:CreateGrant",
            "kms:ListGrants",
        }
        assert {(role, resource) for role, _, resource in asked} == {(ROLE, key)}

    def test_denied_access_fails_the_job_with_a_reason_naming_it(self, poc: Poc, double: PersonalizeDouble) -> None:
        def deny_reads(role: str, action: str, resource: str) -> None:
            if action == "s3:GetObject":
                raise PermissionError("not allowed by the role's policies")

        double.service_access = deny_reads
        job = describe(poc.client, "dataset_import_job", poc.import_job(poc.interactions(poc.group())))
        assert job["status"] == "CREATE FAILED"
        assert (
            "s3:GetObject" in job["failureReason"]
            and "arn:aws:s3:::poc-bucket/interactions.csv" in job["failureReason"]
        )
        assert ROLE in job["failureReason"]

    def test_a_denied_key_fails_the_dataset_group(self, client, poc: Poc, double: PersonalizeDouble) -> None:
        def deny(role: str, action: str, resource: str) -> None:
            raise PermissionError("key policy does not allow the role")

        double.service_access = deny
        key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        group_arn = client.create_dataset_group(name="encrypted", kmsKeyArn=key, roleArn=ROLE)["datasetGroupArn"]
        poc.settle(group_arn)
        group = describe(client, "dataset_group", group_arn)
        assert group["status"] == "CREATE FAILED" and "kms:" in group["failureReason"]


def test_failure_reasons_appear_exactly_where_the_model_has_the_member(client, poc: Poc, double) -> None:
    """Each kind failed once: Describe carries failureReason iff the service model's shape has it."""
    model = botocore.session.get_session().get_service_model("personalize")
    for kind in ("dataset_group", "dataset", "solution", "filter", "event_tracker"):
        double.fail_next(kind, f"{kind} broke")
    group_arn = client.create_dataset_group(name="broken")["datasetGroupArn"]
    poc.settle()
    described = {"dataset_group": describe(client, "dataset_group", group_arn)}
    healthy = poc.group("healthy")
    dataset_arn = client.create_dataset(
        name="d",
        schemaArn=client.create_schema(name="s", schema=INTERACTIONS_SCHEMA)["schemaArn"],
        datasetGroupArn=healthy,
        datasetType="Interactions",
    )["datasetArn"]
    solution_arn = client.create_solution(name="s", datasetGroupArn=healthy, recipeArn=RECIPE + "aws-sims")[
        "solutionArn"
    ]
    filter_arn = client.create_filter(
        name="f", datasetGroupArn=healthy, filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")'
    )["filterArn"]
    tracker_arn = client.create_event_tracker(name="t", datasetGroupArn=healthy)["eventTrackerArn"]
    poc.settle()
    for kind, resource_arn in (
        ("dataset", dataset_arn),
        ("solution", solution_arn),
        ("filter", filter_arn),
        ("event_tracker", tracker_arn),
    ):
        described[kind] = describe(client, kind, resource_arn)
    for kind, item in described.items():
        shape = model.operation_model(_DESCRIBE[kind][0].title().replace("_", "")).output_shape.members[
            _DESCRIBE[kind][2]
        ]
        assert item["status"] == "CREATE FAILED"
        assert ("failureReason" in item) == ("failureReason" in shape.members), kind


def test_every_create_with_tags_keeps_them_for_list_tags_for_resource(client, poc: Poc) -> None:
    tags = [{"tagKey": "project", "tagValue": "poc"}]
    group_arn = client.create_dataset_group(name="tagged", tags=tags)["datasetGroupArn"]
    poc.settle()
    solution_arn = client.create_solution(
        name="tagged", datasetGroupArn=group_arn, recipeArn=RECIPE + "aws-sims", tags=tags
    )["solutionArn"]
    for resource_arn in (group_arn, solution_arn):
        assert client.list_tags_for_resource(resourceArn=resource_arn)["tags"] == tags
