"""Exploring and operating a domain dataset group's recommenders, rehearsed on the ecommerce sample
(config/poc-ecommerce.yaml) after its workflow has built them: `personalize-poc recommend dev` asks the
recommenders (answered by tests/support/runtime_double.py) and skips, in a line, the ones a question does
not fit; `personalize-poc status dev` lists them; notebook 02, under the notebook's role, shows them next to
users' histories; the deployed cost guard (its synthesized function under its own role) reports them as
billing and not watched short of expires_after_days (no request metric per recommender is documented, so it
cannot tell an idle one); past it, act mode stops them all and the next workflow run starts them again,
notify mode only says it would. One synth and one run of the sample for the
module (tests that change the state come last)."""

from __future__ import annotations

import csv
import functools
import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from personalize_poc import cli, settings
from personalize_poc.cli import app
from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal
from tests.rehearsal.poc_data import generated, upload
from tests.rehearsal.runner import synthesize, with_poc
from tests.support.runtime_double import RuntimeDouble
from tests.test_explore import notebook_config, run_as_notebook, runtime_access
from tests.test_rehearsal_operate import HOUR, _invoke_guard

pytestmark = pytest.mark.rehearsal

SAMPLE = PROJECT_ROOT / "config" / "poc-ecommerce.yaml"
DURATIONS = {**FAST_DURATIONS, "recommender": 360}
runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """The ecommerce sample built by its workflow in dev; the CLI reads dev from an environments file that
    points at the sample, and the runtime double serves the recommenders."""
    folder = tmp_path_factory.mktemp("shop")
    environments = with_poc(DEFAULT_ENVIRONMENTS_FILE, "dev", SAMPLE, folder)
    assembly = synthesize(folder / "cdk.out", environments, only=["dev"])
    with pytest.MonkeyPatch.context() as patch, Rehearsal(assembly, "dev", durations=DURATIONS) as rehearsal:
        patch.setattr(settings, "load_environment", functools.partial(settings.load_environment, path=environments))
        upload(rehearsal.client("s3"), rehearsal.bucket, generated(rehearsal.plan, folder / "data"))
        run = rehearsal.run()
        assert run.status == "SUCCEEDED", (run.error, run.cause)
        with RuntimeDouble(read_object=rehearsal.double.read_object).installed() as runtime:
            runtime.caller_access = runtime_access(rehearsal)  # checks calls under a role: the notebook's
            yield rehearsal


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["recommend", "dev", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def as_json(*args: str) -> tuple[dict[str, Any], str]:
    code, out, err = invoke(*args, "--json")
    assert code == 0, err
    return json.loads(out), err


def interactions(rehearsal: Rehearsal) -> list[dict[str, str]]:
    body = rehearsal.client("s3").get_object(Bucket=rehearsal.bucket, Key="imports/ecommerce/interactions.csv")
    return list(csv.DictReader(io.StringIO(body["Body"].read().decode())))


def test_a_user_question_asks_the_user_recommenders_and_skips_the_item_one(shop: Rehearsal) -> None:
    rows = interactions(shop)
    user = rows[0]["USER_ID"]

    answer, err = as_json("--user", user, "--num", "5")

    assert answer["campaigns"] == {}
    assert list(answer["recommenders"]) == ["recommended-for-you", "best-sellers"]
    assert all(len(recs) == 5 for recs in answer["recommenders"].values())
    # best-sellers are the items bought most often in the imported interactions
    bought = Counter(r["ITEM_ID"] for r in rows if r["EVENT_TYPE"] == "Purchase")
    top = [item for item, _ in bought.most_common(5)]
    assert [r["itemId"] for r in answer["recommenders"]["best-sellers"]] == top
    assert all(r["metadata"].get("CATEGORY_L1") for r in answer["recommenders"]["best-sellers"])
    assert list(answer["skipped"]) == ["also-viewed"]
    assert err.strip().splitlines() == [
        "recommender also-viewed skipped: customers-who-viewed-x-also-viewed recommends for an item: ask with --item"
    ]


def test_an_item_question_with_its_viewer_asks_customers_who_viewed_x(shop: Rehearsal) -> None:
    rows = interactions(shop)
    user, item = rows[0]["USER_ID"], rows[0]["ITEM_ID"]

    code, out, err = invoke("--item", item, "--user", user, "--num", "3")
    answer, _ = as_json("--item", item, "--user", user, "--num", "3")

    assert code == 0, err
    assert f"similar to item {item} for user {user}" in " ".join(out.split())
    assert "also-viewed (recommender)" in out
    assert list(answer["recommenders"]) == ["also-viewed"]
    also = [r["itemId"] for r in answer["recommenders"]["also-viewed"]]
    assert len(also) == 3 and item not in also
    assert set(answer["skipped"]) == {"recommended-for-you", "best-sellers"}


def test_questions_no_recommender_can_answer_are_one_line(shop: Rehearsal) -> None:
    item = interactions(shop)[0]["ITEM_ID"]

    code, out, err = invoke("--item", item)
    assert (code, out) == (1, "")
    assert "recommender also-viewed: customers-who-viewed-x-also-viewed needs the user as well as the item" in err

    code, _, err = invoke("--rank", "u", "--items", "a,b")
    assert code == 1 and "does not re-rank a list" in err

    code, _, err = invoke("--user", "u", "--recommender", "nope")
    assert code == 1 and "no recommender named 'nope' is deployed (deployed: also-viewed, best-sellers" in err


def test_a_filter_applies_to_recommenders(shop: Rehearsal) -> None:
    rows = interactions(shop)
    buyers = Counter(r["USER_ID"] for r in rows if r["EVENT_TYPE"] == "Purchase")
    # a filter looks at a user's 100 most recent interactions per event type: a buyer of fewer
    user = next(u for u, n in buyers.most_common() if n < 100)
    bought = {r["ITEM_ID"] for r in rows if r["USER_ID"] == user and r["EVENT_TYPE"] == "Purchase"}
    ask = ("--user", user, "--recommender", "best-sellers", "--num", "100")

    unfiltered, _ = as_json(*ask)
    filtered, _ = as_json(*ask, "--filter", "exclude-purchased")

    assert bought & {r["itemId"] for r in unfiltered["recommenders"]["best-sellers"]}
    assert not bought & {r["itemId"] for r in filtered["recommenders"]["best-sellers"]}
    assert list(filtered["recommenders"]) == ["best-sellers"] and filtered["skipped"] == {}
    # recommended-for-you leaves out what the user bought by itself (the use case's own filter)
    for_you, _ = as_json("--user", user, "--recommender", "recommended-for-you", "--num", "100")
    assert for_you["recommenders"]["recommended-for-you"]
    assert not bought & {r["itemId"] for r in for_you["recommenders"]["recommended-for-you"]}


def test_status_lists_the_recommenders_beside_the_campaigns(shop: Rehearsal, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 160-column console: rich fixes a console's width when COLUMNS and LINES are set as the module is
    # imported (pytest-xdist workers set 80x24), so setting COLUMNS here would not reach it.
    monkeypatch.setattr(cli, "stdout", Console(width=160, highlight=False, soft_wrap=False))

    result = runner.invoke(app, ["status", "dev"])

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.stdout.splitlines()]
    assert "Recommenders of dev" in lines
    for name, use_case in (
        ("recommended-for-you", "recommended-for-you"),
        ("also-viewed", "customers-who-viewed-x-also-viewed"),
        ("best-sellers", "best-sellers"),
    ):
        assert f"{name} {use_case} ACTIVE 1 not watched >= 24 RPS-h" in lines, lines
    assert "No campaigns" not in result.stdout  # the sample has recommenders only: no empty campaigns table


def test_notebook_02_shows_each_recommender_next_to_the_users_history(
    shop: Rehearsal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under the notebook's role (tests/test_explore.py): for three users, a table of their history next to
    every recommender's top five; the item use case is asked after the user's last item."""
    import pandas as pd

    # Every column in one line, as Jupyter's HTML table shows them (text output elides the middle ones).
    with pd.option_context("display.max_columns", None, "display.width", 10_000):
        run_as_notebook(shop, notebook_config(shop, tmp_path), "02-recommendations.py", monkeypatch)

    lines = capsys.readouterr().out.splitlines()
    use_cases = {
        "recommended-for-you": "aws-ecomm-recommended-for-you, for the user",
        "also-viewed": "aws-ecomm-customers-who-viewed-x-also-viewed, after item_",
        "best-sellers": "aws-ecomm-popular-items-by-purchases, for the user",
    }
    tables = [
        n for n, line in enumerate(lines) if line.lstrip().startswith("recent history") and "best-sellers" in line
    ]
    assert len(tables) == 3, lines
    for n in tables:
        for name, asked in use_cases.items():
            assert f"{name} ({asked}" in lines[n]
        for row in lines[n + 1 : n + 6]:  # five rows: an item of the history and one of every recommender
            assert row.count("item_") == 1 + len(use_cases), row
    assert not any(line.startswith("No recommenders") for line in lines)


def _recommenders(rehearsal: Rehearsal) -> dict[str, str]:
    return {r.name: r.status for r in rehearsal.double.resources("recommender")}


def _changes_since(rehearsal: Rehearsal, first_call: int) -> list[str]:
    return [op for op, _ in rehearsal.double.calls[first_call:] if not op.startswith(("List", "Describe", "Get"))]


def test_short_of_expiry_the_guard_reports_recommenders_as_not_watched_and_changes_nothing(shop: Rehearsal) -> None:
    names = set(_recommenders(shop))
    assert len(names) == 3
    quiet = len(shop.sns_messages())
    young = _invoke_guard(shop)  # just built: listed in the report, not yet worth a message
    assert len(young["notWatched"]) == 3 and len(shop.sns_messages()) == quiet
    shop.clock.advance_world(25 * HOUR)  # older than idle_hours (24), no traffic anywhere
    first_call, before = len(shop.double.calls), len(shop.sns_messages())

    notify = _invoke_guard(shop)
    act = _invoke_guard(shop, GUARD_MODE="act", EXPIRES_AFTER_DAYS="2")

    for report in (notify, act):
        assert report["actions"] == [] and report["checked"] == [] and report["recommenderStops"] == []
        assert {r["recommender"]: r["rpsHoursPerDay"] for r in report["notWatched"]} == {n: 24.0 for n in names}
    assert _changes_since(shop, first_call) == []
    assert _recommenders(shop) == {name: "ACTIVE" for name in names}
    messages = shop.sns_messages()[before:]
    assert [m["subject"] for m in messages] == [
        "Personalize POC ppoc-dev-shop: cost guard 3 recommender(s) billing, not watched"
    ] * 2
    for message in messages:
        assert message["message"].count("[NOT WATCHED]") == 3
        assert "never stops one for being idle" in message["message"]
    assert "expires_after_days (2) stops each one that many days after its creation" in messages[1]["message"]


@pytest.mark.parametrize("mode", ["notify", "act"])
def test_past_expiry_either_mode_stops_every_recommender_and_the_next_run_starts_them_again(
    shop: Rehearsal, mode: str
) -> None:
    """The deadline is the environment's own, as for campaigns (deleted at expiry in notify mode too)."""
    names = set(_recommenders(shop))
    first_call, before = len(shop.double.calls), len(shop.sns_messages())

    report = _invoke_guard(shop, GUARD_MODE=mode, EXPIRES_AFTER_DAYS="1")  # they are over a day old
    shop.clock.advance_world(shop.double.seconds_until_settled() + 1)

    assert sorted(_changes_since(shop, first_call)) == ["StopRecommender"] * 3
    assert _recommenders(shop) == {name: "INACTIVE" for name in names}
    assert {s["recommender"]: (s["applied"], s["error"]) for s in report["recommenderStops"]} == {
        n: (True, None) for n in names
    }
    (message,) = shop.sns_messages()[before:]
    assert message["subject"] == "Personalize POC ppoc-dev-shop: cost guard stopped 3 recommender(s)"
    for name in names:
        assert f"- {name}: stop the recommender (StopRecommender) [DONE]" in message["message"]
    assert "the next POC workflow run starts it again" in message["message"]
    # StopRecommender takes ACTIVE ones only, so the guard's next tick leaves the stopped ones alone
    personalize = shop.client("personalize")
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.stop_recommender(recommenderArn=report["recommenderStops"][0]["arn"])
    again = _invoke_guard(shop, GUARD_MODE=mode, EXPIRES_AFTER_DAYS="1")
    assert again["recommenderStops"] == [] and again["notWatched"] == []

    run = shop.run()

    assert run.status == "SUCCEEDED", run.cause
    assert _recommenders(shop) == {name: "ACTIVE" for name in names}


def test_a_recommender_stopped_as_the_guard_advises_is_started_by_the_next_run(shop: Rehearsal) -> None:
    stopped = next(r for r in shop.double.resources("recommender") if r.name.endswith("-best-sellers"))
    shop.client("personalize").stop_recommender(recommenderArn=stopped.arn)
    shop.clock.advance_world(shop.double.seconds_until_settled() + 1)
    assert _recommenders(shop)[stopped.name] == "INACTIVE"

    report = _invoke_guard(shop)
    run = shop.run()

    assert stopped.name not in {r["recommender"] for r in report["notWatched"]}  # a stopped one does not bill
    assert run.status == "SUCCEEDED", run.cause
    assert set(_recommenders(shop).values()) == {"ACTIVE"}
