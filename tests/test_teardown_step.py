"""The teardown step's logic (lambdas/poc_steps/teardown.py) against the real boto3 Personalize client,
answered by the stateful Personalize double on a manual clock (SSM by moto): a busy resource
(ResourceInUseException) is reported pending and tried again, never counted as deleted; what is
already gone counts as success; each level reports exactly what it deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from personalize_poc.data import sample
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.personalize_double import FakeClock, PersonalizeDouble

# isort: split
from poc_steps import teardown
from poc_steps.adapter import PersonalizeAdapter

REGION = "eu-west-1"
PREFIX = "ppoc-td"
GROUP = f"{PREFIX}-retail"
DATASET = f"{GROUP}-interactions"
PLAN = {"datasetGroup": {"name": GROUP}, "datasets": [{"name": DATASET}]}
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def interactions_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("interactions")
    fitted = sample.generate_fitting(out, {"interactions": sample.SCHEMAS["interactions"]})
    return fitted.files["interactions"].read_bytes()


@dataclass
class Service:
    double: PersonalizeDouble
    clock: FakeClock
    client: Any
    adapter: PersonalizeAdapter

    def settle(self, arn: str | None = None) -> None:
        self.clock.advance(self.double.seconds_until_settled(arn))

    def level(self, name: str, attempt: int = 1, previously: list[str] | None = None) -> dict[str, Any]:
        return teardown.teardown_level(self.adapter, name, PLAN, attempt, previously or [])

    def until_ready(self, name: str) -> dict[str, Any]:
        """Poll a level as the state machine does (the clock moving on between polls) until READY."""
        outcome = self.level(name)
        for attempt in range(2, 50):
            if outcome["state"] == "READY":
                return outcome
            self.settle()
            outcome = self.level(name, attempt, outcome["deleted"])
        raise AssertionError(f"{name} never READY: {outcome}")


@pytest.fixture
def service(interactions_csv: bytes) -> Iterator[Service]:
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock)
    double.read_object = lambda uri: interactions_csv  # type: ignore[method-assign]
    with double.installed():
        client = boto3.client("personalize", **CREDENTIALS)
        yield Service(double, clock, client, PersonalizeAdapter(client))


@dataclass
class Built:
    group: str
    schema: str
    dataset: str
    solution: str
    version: str
    campaign: str = ""
    filter: str = ""


def build(service: Service, *, campaign: bool = True, train: bool = True) -> Built:
    """A small POC in the double: group, schema, interactions dataset and import, solution, version
    (trained unless ``train`` is False), a filter and a campaign (created, not yet ACTIVE)."""
    client = service.client
    group = client.create_dataset_group(name=GROUP)["datasetGroupArn"]
    service.settle(group)
    schema = client.create_schema(name=DATASET, schema=json.dumps(sample.SCHEMAS["interactions"]))["schemaArn"]
    dataset = client.create_dataset(name=DATASET, schemaArn=schema, datasetGroupArn=group, datasetType="Interactions")[
        "datasetArn"
    ]
    service.settle(dataset)
    job = client.create_dataset_import_job(
        jobName=f"{DATASET}-1",
        datasetArn=dataset,
        dataSource={"dataLocation": "s3://bucket/imports/interactions.csv"},
        roleArn="arn:aws:iam::123456789012:role/personalize",
    )["datasetImportJobArn"]
    service.settle(job)
    assert client.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["status"] == "ACTIVE"
    solution = client.create_solution(name=f"{PREFIX}-up", datasetGroupArn=group, recipeArn=RECIPE)["solutionArn"]
    service.settle(solution)
    version = client.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    built = Built(group, schema, dataset, solution, version)
    built.filter = client.create_filter(
        name=f"{PREFIX}-no-purchases",
        datasetGroupArn=group,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")',
    )["filterArn"]
    if train:
        service.settle(version)
        if campaign:
            built.campaign = client.create_campaign(name=f"{PREFIX}-up", solutionVersionArn=version)["campaignArn"]
    return built


def test_a_campaign_still_creating_is_pending_not_deleted(service: Service) -> None:
    built = build(service)
    assert service.double.status(built.campaign) in ("CREATE PENDING", "CREATE IN_PROGRESS")

    busy = service.level("campaigns")

    assert busy["state"] == "WAITING" and busy["remaining"] == 1
    assert busy["deleted"] == []  # the service refused: nothing was deleted
    assert any(built.campaign in note for note in busy["notes"])  # the service's reason, for the trace
    assert service.double.status(built.campaign) not in ("DELETE PENDING", "DELETE IN_PROGRESS")

    service.settle(built.campaign)  # ACTIVE now: the next poll deletes it
    deleting = service.level("campaigns", 2, busy["deleted"])
    assert deleting == {**deleting, "state": "WAITING", "deleted": [built.campaign], "remaining": 1}
    service.settle()
    done = service.level("campaigns", 3, deleting["deleted"])
    assert done == {"state": "READY", "attempt": 3, "deleted": [built.campaign], "remaining": 0, "notes": []}
    assert service.double.resources("campaign") == []


def test_the_dataset_group_is_busy_while_its_datasets_are_deleting(service: Service) -> None:
    built = build(service, campaign=False)
    for name in ("campaigns", "trackers_and_filters", "solution_versions", "solutions"):
        service.until_ready(name)
    datasets = service.level("datasets")
    assert datasets["deleted"] == [built.dataset] and datasets["state"] == "WAITING"

    group = service.level("dataset_group")  # its dataset is still DELETE PENDING / IN_PROGRESS

    assert group["state"] == "WAITING" and group["deleted"] == [] and group["remaining"] == 1
    assert group["notes"] and built.group in group["notes"][0]
    assert service.double.status(built.group) == "ACTIVE"


def test_training_in_progress_is_stopped_and_awaited(service: Service) -> None:
    built = build(service, train=False)
    service.clock.advance(600)  # CREATE IN_PROGRESS

    first = service.level("solution_versions")

    assert first["state"] == "WAITING" and first["deleted"] == [f"{built.version} (training stopped)"]
    assert service.double.call_count("StopSolutionVersionCreation") == 1
    second = service.level("solution_versions", 2, first["deleted"])  # CREATE STOPPING: waited, not stopped again
    assert second["state"] == "WAITING" and service.double.call_count("StopSolutionVersionCreation") == 1
    service.settle(built.version)
    assert service.level("solution_versions", 3, second["deleted"])["state"] == "READY"


def test_training_that_ends_before_the_stop_is_looked_at_again_not_counted(service: Service) -> None:
    built = build(service, train=False)
    service.clock.advance(600)

    class TrainingEndsFirst:
        """The version turns ACTIVE between the level's List and its Stop: the service refuses the Stop."""

        def __getattr__(self, name: str) -> Any:
            return getattr(service.client, name)

        def stop_solution_version_creation(self, **params: Any) -> Any:
            service.settle(built.version)
            return service.client.stop_solution_version_creation(**params)

    service.adapter.client = TrainingEndsFirst()

    outcome = service.level("solution_versions")

    assert outcome["state"] == "WAITING" and outcome["deleted"] == [] and built.version in outcome["notes"][0]
    service.adapter.client = service.client
    assert service.level("solution_versions", 2)["state"] == "READY"  # ACTIVE: nothing to stop any more


def test_every_level_reports_what_it_deleted(service: Service) -> None:
    built = build(service)
    service.settle(built.campaign)

    deleted = {name: service.until_ready(name)["deleted"] for name in teardown.ORDER}

    assert deleted == {
        "batch_jobs": [],
        "campaigns": [built.campaign],
        "trackers_and_filters": [built.filter],
        "solution_versions": [],
        "solutions": [built.solution],
        "datasets": [built.dataset],
        "dataset_group": [built.group],
        "schemas": [built.schema],
    }
    assert service.double.resources() == [r for r in service.double.resources() if r.kind == "dataset_import_job"]


def test_already_gone_counts_as_success_and_not_as_deleted(service: Service) -> None:
    built = build(service, campaign=False)

    class SomeoneElseDeletesFirst:
        """The filter goes (deleted in the console) between the level's List and its Delete."""

        def __getattr__(self, name: str) -> Any:
            return getattr(service.client, name)

        def delete_filter(self, **params: Any) -> Any:
            service.client.delete_filter(**params)
            service.settle()
            return service.client.delete_filter(**params)

    service.adapter.client = SomeoneElseDeletesFirst()

    outcome = service.level("trackers_and_filters")

    assert outcome == {"state": "READY", "attempt": 1, "deleted": [], "remaining": 0, "notes": []}
    assert service.double.resources("filter") == []
    assert service.level("trackers_and_filters", 2)["state"] == "READY"
    assert built.group in service.double.arns("dataset_group")


def test_a_teardown_of_nothing_is_ready_at_once(service: Service) -> None:
    for name in teardown.ORDER:
        assert service.level(name) == {"state": "READY", "attempt": 1, "deleted": [], "remaining": 0, "notes": []}
    assert not any(op.startswith(("Delete", "Stop")) for op, _ in service.double.calls)


# --------------------------------------------------------------------------------------------------
# Published parameters (SSM, by moto)
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", **CREDENTIALS)


def test_published_parameters_are_deleted_under_the_pocs_path_only(ssm: Any) -> None:
    names = [f"/{PREFIX}/poc/campaigns/c{i}" for i in range(12)]  # more than one DeleteParameters call
    for name in [*names, f"/{PREFIX}/other", "/another-poc/poc/x"]:
        ssm.put_parameter(Name=name, Value="arn", Type="String")

    deleted = teardown.delete_published_parameters(ssm, f"/{PREFIX}/poc")

    assert sorted(deleted) == sorted(names)
    left = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert sorted(left) == ["/another-poc/poc/x", f"/{PREFIX}/other"]


def test_a_parameter_gone_meanwhile_is_not_reported_deleted(ssm: Any) -> None:
    names = [f"/{PREFIX}/poc/a", f"/{PREFIX}/poc/b"]
    for name in names:
        ssm.put_parameter(Name=name, Value="arn", Type="String")

    class SomeoneElseDeletesOne:
        def __getattr__(self, name: str) -> Any:
            return getattr(ssm, name)

        def delete_parameters(self, Names: list[str]) -> Any:  # noqa: N803  (the API's spelling)
            ssm.delete_parameter(Name=names[0])
            return ssm.delete_parameters(Names=Names)

    assert teardown.delete_published_parameters(SomeoneElseDeletesOne(), f"/{PREFIX}/poc") == [names[1]]
    assert ssm.get_parameters_by_path(Path=f"/{PREFIX}", Recursive=True)["Parameters"] == []


@pytest.mark.parametrize("path", ["", "/", "poc"])
def test_no_parameter_path_fails_loudly(ssm: Any, path: str) -> None:
    """Without the POC's own path, the step must not delete everything, nor quietly nothing."""
    ssm.put_parameter(Name="/another-poc/poc/x", Value="arn", Type="String")

    with pytest.raises(ValueError, match="PARAMETER_PATH"):
        teardown.delete_published_parameters(ssm, path)

    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == ["/another-poc/poc/x"]


def test_the_teardown_function_without_parameter_path_fails(
    ssm: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from poc_steps import handlers

    monkeypatch.delenv("PARAMETER_PATH", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    ssm.put_parameter(Name=f"/{PREFIX}/poc/x", Value="arn", Type="String")

    with pytest.raises(Exception, match="PARAMETER_PATH"):
        handlers.teardown_handler.__wrapped__({"kind": "parameters", "spec": {}, "attempt": 1}, None)  # type: ignore[attr-defined]

    assert [p["Name"] for p in ssm.describe_parameters()["Parameters"]] == [f"/{PREFIX}/poc/x"]
