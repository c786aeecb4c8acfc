"""Exploring the POC against the rehearsal's end state (the sample POC built by the synthesized workflow,
moto + the Personalize double; campaigns answered by tests/support/runtime_double.py): the run report's
chart, and `personalize-poc recommend dev`, which finds everything through the SSM parameters the
workflow published."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from personalize_poc.cli import app
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal
from tests.support.runtime_double import RuntimeDouble

pytestmark = pytest.mark.rehearsal

PATH = "/ppoc-dev/poc"
runner = CliRunner()


@pytest.fixture(scope="module")
def explored(assembly_dir: Path) -> Iterator[tuple[Rehearsal, RuntimeDouble]]:
    """One rehearsal of the sample POC for the module; the runtime double serves its campaigns."""
    with Rehearsal(assembly_dir, "dev", durations=FAST_DURATIONS) as rehearsal:
        rehearsal.upload_sample_data()
        run = rehearsal.run()
        assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
        with RuntimeDouble(read_object=rehearsal.double.read_object).installed() as runtime:
            yield rehearsal, runtime


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["recommend", "dev", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def as_json(*args: str) -> dict[str, Any]:
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def items_csv(rehearsal: Rehearsal) -> dict[str, dict[str, str]]:
    import csv
    import io

    body = rehearsal.client("s3").get_object(Bucket=rehearsal.bucket, Key="imports/items.csv")["Body"].read()
    return {row["ITEM_ID"]: row for row in csv.DictReader(io.StringIO(body.decode()))}


def history(rehearsal: Rehearsal, user: str) -> list[tuple[str, str]]:
    body = rehearsal.client("s3").get_object(Bucket=rehearsal.bucket, Key="imports/interactions.csv")["Body"]
    rows = [line.split(",") for line in body.read().decode().splitlines()[1:]]
    return [(r[1], r[3]) for r in rows if r[0] == user]


SOLUTIONS = ("user-personalization", "sims", "personalized-ranking", "popularity-baseline")
SVG = "{http://www.w3.org/2000/svg}"


class TestReportChart:
    def test_the_run_writes_a_chart_naming_every_solution(self, explored: Any) -> None:
        rehearsal, _ = explored
        (run,) = rehearsal.runs
        execution_id = run.arn.rsplit(":", 1)[-1]
        s3 = rehearsal.client("s3")
        chart = s3.get_object(Bucket=rehearsal.bucket, Key=f"reports/{execution_id}/report.svg")
        assert chart["ContentType"] == "image/svg+xml"
        body = chart["Body"].read()
        assert s3.get_object(Bucket=rehearsal.bucket, Key="reports/latest/report.svg")["Body"].read() == body
        svg = ET.fromstring(body)  # well-formed, self-contained SVG
        assert svg.tag == f"{SVG}svg"
        labels = [t.text or "" for t in svg.iter(f"{SVG}text")]
        for solution in SOLUTIONS:
            assert any(label.startswith(solution) for label in labels), solution
        assert "popularity-baseline (baseline)" in labels
        # Four metric panels, one bar per solution in each.
        assert len(list(svg.iter(f"{SVG}rect"))) == 1 + 4 * len(SOLUTIONS)

    def test_the_success_notification_points_at_the_chart(self, explored: Any) -> None:
        rehearsal, _ = explored
        (run,) = rehearsal.runs
        execution_id = run.arn.rsplit(":", 1)[-1]
        (message,) = [m for m in rehearsal.sns_messages() if m["subject"] == "Personalize POC run succeeded"]
        assert f"Chart: s3://{rehearsal.bucket}/reports/{execution_id}/report.svg" in message["message"]


class TestUser:
    def test_each_user_campaign_answers_with_item_metadata(self, explored: Any) -> None:
        rehearsal, _ = explored
        answer = as_json("--user", "user_00001", "--num", "5")
        # Only the User-Personalization campaign answers --user in the sample (SIMS and ranking do not).
        assert list(answer["campaigns"]) == ["user-personalization"]
        recs = answer["campaigns"]["user-personalization"]
        assert len(recs) == 5
        catalog = items_csv(rehearsal)
        for rec in recs:
            assert rec["metadata"]["CATEGORY_L1"] == catalog[rec["itemId"]]["CATEGORY_L1"]
            assert 0 < rec["score"] < 1

    def test_the_table_shows_campaigns_side_by_side(self, explored: Any) -> None:
        code, out, err = invoke("--user", "user_00001", "--num", "3")
        assert code == 0, err
        assert "Recommendations for user user_00001" in out
        assert "user-personalization" in out
        assert out.count("item_") >= 3

    def test_different_users_get_different_recommendations(self, explored: Any) -> None:
        first = as_json("--user", "user_00001")["campaigns"]["user-personalization"]
        second = as_json("--user", "user_00002")["campaigns"]["user-personalization"]
        assert [r["itemId"] for r in first] != [r["itemId"] for r in second]

    def test_an_unknown_user_is_one_line(self, explored: Any) -> None:
        code, out, err = invoke("--user", "nobody")
        assert code == 1
        assert "user 'nobody' has no interactions in s3://" in err
        assert "--new-user" in err
        assert out == ""
        assert as_json("--user", "nobody", "--new-user")["campaigns"]["user-personalization"]

    def test_an_unknown_campaign_is_one_line(self, explored: Any) -> None:
        code, _, err = invoke("--user", "user_00001", "--campaign", "nope")
        assert code == 1
        assert "no campaign named 'nope' is deployed" in err
        assert "personalized-ranking, sims, user-personalization" in err

    def test_a_campaign_of_another_kind_is_a_usage_error(self, explored: Any) -> None:
        code, _, err = invoke("--user", "user_00001", "--campaign", "sims")
        assert code == 2
        assert "campaign 'sims' serves a RELATED_ITEMS recipe" in err


class TestFilters:
    def test_the_category_filter_keeps_only_that_category(self, explored: Any) -> None:
        rehearsal, _ = explored
        catalog = items_csv(rehearsal)
        answer = as_json("--user", "user_00001", "--filter", "category", "--param", "CATEGORY=toys")
        recs = answer["campaigns"]["user-personalization"]
        assert recs
        assert {catalog[r["itemId"]]["CATEGORY_L1"] for r in recs} == {"toys"}
        both = as_json("--user", "user_00001", "--filter", "category", "--param", "CATEGORY=toys,books", "--num", "50")
        assert {catalog[r["itemId"]]["CATEGORY_L1"] for r in both["campaigns"]["user-personalization"]} == {
            "toys",
            "books",
        }

    def test_exclude_purchased_drops_what_the_user_bought(self, explored: Any) -> None:
        rehearsal, _ = explored
        user = next(
            f"user_{n:05d}"
            for n in range(1, 120)
            if any(e == "purchase" for _, e in history(rehearsal, f"user_{n:05d}"))
        )
        bought = {item for item, event in history(rehearsal, user) if event == "purchase"}
        unfiltered = {r["itemId"] for r in as_json("--user", user, "--num", "100")["campaigns"]["user-personalization"]}
        assert bought & unfiltered  # the filter has something to remove
        filtered = as_json("--user", user, "--num", "100", "--filter", "exclude-purchased")
        assert not bought & {r["itemId"] for r in filtered["campaigns"]["user-personalization"]}

    def test_unknown_filter_and_parameters_are_one_line(self, explored: Any) -> None:
        code, _, err = invoke("--user", "user_00001", "--filter", "nope")
        assert code == 1
        assert "no filter named 'nope' is deployed (deployed: category, exclude-purchased)" in err
        code, _, err = invoke("--user", "user_00001", "--filter", "category")
        assert code == 2
        assert "filter 'category' needs --param CATEGORY=<value>" in err
        code, _, err = invoke("--user", "user_00001", "--filter", "category", "--param", "COLOR=red")
        assert code == 2
        assert "filter 'category' has no parameter COLOR (its parameters: CATEGORY)" in err


class TestItemAndRank:
    def test_similar_items_from_the_sims_campaign(self, explored: Any) -> None:
        answer = as_json("--item", "item_00001", "--num", "5")
        assert list(answer["campaigns"]) == ["sims"]
        similar = [r["itemId"] for r in answer["campaigns"]["sims"]]
        assert len(similar) == 5
        assert "item_00001" not in similar
        code, _, err = invoke("--item", "item_99999")
        assert code == 1
        assert "item 'item_99999' is in neither the items nor the interactions file" in err

    def test_rank_orders_the_given_items_for_the_user(self, explored: Any) -> None:
        given = ["item_00001", "item_00002", "item_00003", "item_00004", "brand-new-item"]
        answer = as_json("--rank", "user_00001", "--items", ",".join(given))
        ranked = [r["itemId"] for r in answer["campaigns"]["personalized-ranking"]]
        assert sorted(ranked) == sorted(given)
        assert ranked[-1] == "brand-new-item"  # not in the training data: appended at the end

    def test_usage_errors(self, explored: Any) -> None:
        assert invoke("--user", "user_00001", "--rank", "user_00001", "--items", "a")[0] == 2
        assert invoke("--item", "item_00001", "--rank", "user_00001", "--items", "a")[0] == 2
        assert invoke("--rank", "user_00001")[0] == 2
        assert invoke("--user", "user_00001", "--param", "CATEGORY=toys")[0] == 2


def test_real_time_events_change_the_recommendations(explored: Any) -> None:
    """What notebook 03 shows: a new user's events through the event tracker move their recommendations."""
    rehearsal, _ = explored
    tracking_id = rehearsal.parameters(PATH)[f"{PATH}/event-tracker/tracking-id"]
    before = [r["itemId"] for r in as_json("--user", "fresh", "--new-user")["campaigns"]["user-personalization"]]
    events = boto3.client("personalize-events", region_name=rehearsal.region)
    sent = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    events.put_events(
        trackingId=tracking_id,
        userId="fresh",
        sessionId="s-1",
        eventList=[{"eventType": "view", "itemId": f"item_{n:05d}", "sentAt": sent} for n in (10, 11, 12)],
    )
    after = [r["itemId"] for r in as_json("--user", "fresh", "--new-user")["campaigns"]["user-personalization"]]
    assert before != after
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        events.put_events(
            trackingId="not-a-tracker",
            sessionId="s-1",
            eventList=[{"eventType": "view", "itemId": "item_00001", "sentAt": sent}],
        )


class TestRuntimeDoubleRules:
    """The runtime double refuses what the service refuses (sources in tests/support/runtime_double.py)."""

    def runtime(self, rehearsal: Rehearsal) -> tuple[Any, dict[str, str]]:
        return boto3.client("personalize-runtime", region_name=rehearsal.region), rehearsal.parameters(PATH)

    def test_num_results_above_500(self, explored: Any) -> None:
        runtime, params = self.runtime(explored[0])
        arn = params[f"{PATH}/campaigns/user-personalization"]
        with pytest.raises(runtime.exceptions.InvalidInputException, match="at most 500"):
            runtime.get_recommendations(campaignArn=arn, userId="user_00001", numResults=501)
        assert len(runtime.get_recommendations(campaignArn=arn, userId="user_00001")["itemList"]) == 25

    def test_each_operation_needs_its_kind_of_campaign(self, explored: Any) -> None:
        runtime, params = self.runtime(explored[0])
        with pytest.raises(runtime.exceptions.InvalidInputException, match="PERSONALIZED_RANKING"):
            runtime.get_personalized_ranking(
                campaignArn=params[f"{PATH}/campaigns/user-personalization"], userId="user_00001", inputList=["a"]
            )
        with pytest.raises(runtime.exceptions.InvalidInputException, match="itemId is required"):
            runtime.get_recommendations(campaignArn=params[f"{PATH}/campaigns/sims"], userId="user_00001")

    def test_string_filter_values_are_quoted(self, explored: Any) -> None:
        runtime, params = self.runtime(explored[0])
        request = {
            "campaignArn": params[f"{PATH}/campaigns/user-personalization"],
            "userId": "user_00001",
            "filterArn": params[f"{PATH}/filters/category"],
        }
        with pytest.raises(runtime.exceptions.InvalidInputException, match="double quotes"):
            runtime.get_recommendations(filterValues={"CATEGORY": "toys"}, **request)
        assert runtime.get_recommendations(filterValues={"CATEGORY": '"toys"'}, **request)["itemList"]

    def test_put_events_limits(self, explored: Any) -> None:
        rehearsal, _ = explored
        events = boto3.client("personalize-events", region_name=rehearsal.region)
        tracking_id = rehearsal.parameters(PATH)[f"{PATH}/event-tracker/tracking-id"]
        sent = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        one = {"eventType": "view", "itemId": "item_00001", "sentAt": sent}
        with pytest.raises(ClientError, match="ValidationException"):  # eventList: 1 to 10 (model)
            events.put_events(trackingId=tracking_id, sessionId="s", eventList=[one] * 11)
        with pytest.raises(events.exceptions.InvalidInputException, match="JSON object"):
            events.put_events(trackingId=tracking_id, sessionId="s", eventList=[{**one, "properties": "price=3"}])


# --------------------------------------------------------------------------------------------------
# The notebooks, each top to bottom, in order (05 starts the teardown: it runs last)
# --------------------------------------------------------------------------------------------------
PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p.name for p in (PROJECT_ROOT / "notebooks").glob("[0-9][0-9]-*.py"))
#: What the notebook instance's lifecycle script writes to ~/SageMaker/poc-config.json (constructs/notebook.py).
CONFIG_KEYS = ("environment", "name_prefix", "bucket", "parameter_path", "published_parameter_path", "workflow_arn")


def notebook_role(rehearsal: Rehearsal) -> str:
    assert rehearsal.deployment is not None
    (name,) = [n for lid, n in rehearsal.deployment.of_type("AWS::IAM::Role").items() if lid.startswith("NotebookRole")]
    return str(rehearsal.client("iam").get_role(RoleName=name)["Role"]["Arn"])


def runtime_access(rehearsal: Rehearsal) -> Any:
    """The runtime double's IAM check of its caller, with the rehearsal's policy evaluator."""

    def check(client: Any, action: str, resource: str) -> None:
        role = rehearsal.iam.role_of_client(client)
        reason = None if role is None else rehearsal.iam.role_may(role, action, resource)
        if reason is not None:
            error = {"Error": {"Code": "AccessDeniedException", "Message": reason}}
            raise ClientError(error, action.split(":", 1)[1])  # type: ignore[arg-type]

    return check


@pytest.fixture(scope="module")
def notebook_home(explored: Any, tmp_path_factory: pytest.TempPathFactory, synthesized: Any) -> Path:
    """~/SageMaker as the instance has it: poc-config.json with this rehearsal's values; batch output
    written by the service (the runtime double plays the batch jobs' writes)."""
    rehearsal, runtime = explored
    runtime.write_batch_outputs(rehearsal.region)
    runtime.caller_access = runtime_access(rehearsal)
    lifecycle = json.dumps(
        synthesized.environments["dev"].template.find_resources("AWS::SageMaker::NotebookInstanceLifecycleConfig")
    )
    for key in CONFIG_KEYS:  # the notebooks read only what the instance really gets
        assert f'\\"{key}\\"' in lifecycle, key
    return notebook_config(rehearsal, tmp_path_factory.mktemp("SageMaker"))


def notebook_config(rehearsal: Rehearsal, home: Path) -> Path:
    """``home`` with the poc-config.json the lifecycle script writes, for this rehearsal's dev."""
    config = {
        "environment": "dev",
        "name_prefix": "ppoc-dev",
        "bucket": rehearsal.bucket,
        "parameter_path": "/ppoc-dev",
        "published_parameter_path": PATH,
        "workflow_arn": rehearsal.workflow_arn,
    }
    (home / "poc-config.json").write_text(json.dumps(config))
    return home


def run_as_notebook(
    rehearsal: Rehearsal, home: Path, notebook: str, monkeypatch: pytest.MonkeyPatch, inject: str | None = None
) -> float:
    """Run the notebook in ``home`` as on the instance: every call under the notebook's own role (moto for
    S3/SSM/Step Functions, the doubles for Personalize); a call the role does not allow raises and fails
    the notebook. Returns the wall seconds."""
    from tests.support.notebooks import run_notebook

    monkeypatch.chdir(home)
    for key, value in rehearsal.iam.credentials_for(notebook_role(rehearsal)).items():
        monkeypatch.setenv(key.upper(), value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3.client() in the notebook reads them afresh
    return run_notebook(PROJECT_ROOT / "notebooks" / notebook, inject=inject)


def test_the_five_notebooks_ship() -> None:
    assert NOTEBOOKS == ["01-results.py", "02-recommendations.py", "03-real-time.py", "04-batch.py", "05-cleanup.py"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(
    notebook: str, notebook_home: Path, explored: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    rehearsal, _ = explored
    inject = "CONFIRM_TEARDOWN = True" if notebook == "05-cleanup.py" else None
    seconds = run_as_notebook(rehearsal, notebook_home, notebook, monkeypatch, inject=inject)
    shown = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n{notebook}: {seconds:.2f} s")
    expected = {
        "01-results.py": "popularity-baseline (baseline)",  # the metrics table
        "02-recommendations.py": "PERSONALIZED_RANKING",  # each campaign's recipe type
        "03-real-time.py": "Sent 4 view events",
        "04-batch.py": "in both",  # batch against real time
        "05-cleanup.py": "ppoc-dev-retail-tracker",  # what exists before the teardown
    }
    assert expected[notebook] in shown
    if notebook == "02-recommendations.py":  # the sample's dataset group is custom: campaigns only
        assert "No recommenders published under /ppoc-dev/poc/recommenders: this POC has none." in shown
    monkeypatch.undo()  # the checks below run as the test, not as the notebook's role
    if notebook == "05-cleanup.py":
        teardown_arn = rehearsal.parameters("/ppoc-dev")["/ppoc-dev/teardown-arn"]
        sfn = rehearsal.client("stepfunctions")
        (execution,) = sfn.list_executions(stateMachineArn=teardown_arn)["executions"]
        assert rehearsal.wait(execution["executionArn"])["status"] == "SUCCEEDED"
        assert not [
            r for r in rehearsal.double.resources() if r.kind not in {"dataset_import_job", "batch_inference_job"}
        ]
