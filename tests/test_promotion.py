"""Promotion (lambdas/poc_steps/promotion.py, ensure.py): a campaign moves to a newly trained solution
version only when it is not worse than the version in service on the POC's primary metric, within the
tolerance; otherwise it keeps the old one and the outcome says why (the workflow reports it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from personalize_poc.poc_definition import PromotionConfig
from tests.support import lambda_path  # noqa: F401  (puts lambdas/ on sys.path)
from tests.support.personalize_double import FakeClock, PersonalizeDouble
from tests.test_cost_guard import (
    CREDENTIALS,
    GROUP,
    START,
    World,
    interactions_csv,  # noqa: F401  (the module-scoped fixture, reused)
)

# isort: split
from poc_steps import promotion, report
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.ensure import ensure

NDCG = "normalized_discounted_cumulative_gain_at_25"
RULE = {"metric": NDCG, "tolerance": 0.0}


def test_a_worse_version_is_kept_out_with_the_reason() -> None:
    decided = promotion.decide(RULE, "v1", "v2", {NDCG: 0.30}, {NDCG: 0.25})
    assert decided["decision"] == "keep"
    assert "0.2500, worse than 0.3000 of v1" in decided["reason"] and "keeps v1" in decided["reason"]


@pytest.mark.parametrize(("new", "tolerance"), [(0.30, 0.0), (0.35, 0.0), (0.29, 0.02)])
def test_an_equal_better_or_tolerated_version_is_promoted(new: float, tolerance: float) -> None:
    rule = {"metric": NDCG, "tolerance": tolerance}
    assert promotion.decide(rule, "v1", "v2", {NDCG: 0.30}, {NDCG: new})["decision"] == "promote"


def test_a_metric_the_service_does_not_report_is_not_compared() -> None:
    decided = promotion.decide(RULE, "v1", "v2", {}, {NDCG: 0.1})
    assert decided["decision"] == "promote" and "not reported for v1" in decided["reason"]


def test_the_default_rule_is_ndcg_at_25_without_tolerance() -> None:
    assert PromotionConfig().model_dump() == {"metric": NDCG, "tolerance": 0.0}


# ------------------------------------------------------------------------- the ensure step, on the double


@pytest.fixture
def world(interactions_csv: bytes) -> Iterator[World]:  # noqa: F811
    clock = FakeClock()
    double = PersonalizeDouble(clock=clock, start_time=START)
    double.read_object = lambda uri: interactions_csv  # type: ignore[method-assign]
    with mock_aws(), double.installed():
        yield World(double, clock, boto3.client("personalize", **CREDENTIALS), None, "")


def _retrained(world: World, new_ndcg: float) -> tuple[str, str, str, dict[str, Any]]:
    """A campaign on version 1, then version 2 trained; version 2 scores `new_ndcg`, version 1 0.30."""
    _, first = world.group(GROUP)
    campaign = world.campaign(f"{GROUP}-up", first)
    second = world.personalize.create_solution_version(solutionArn=first.rsplit("/", 1)[0])["solutionVersionArn"]
    world.settle(second)
    world.double.solution_metrics = lambda arn, metrics: {**metrics, NDCG: new_ndcg if arn == second else 0.30}
    spec = {"name": f"{GROUP}-up", "recipe": "aws-user-personalization-v2", "minProvisionedTPS": 1, "promotion": RULE}
    return campaign, first, second, spec


def _serving(world: World, campaign: str) -> str:
    return str(world.personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"])


def test_the_campaign_keeps_its_version_when_the_new_one_is_worse(world: World) -> None:
    campaign, first, second, spec = _retrained(world, new_ndcg=0.20)

    outcome = ensure(PersonalizeAdapter(world.personalize), "campaign", spec, {"solutionVersionArn": second}, 1)

    assert outcome["state"] == "READY" and outcome["promotion"]["decision"] == "keep"
    assert f"worse than 0.3000 of {first}" in outcome["promotion"]["reason"]
    assert "UpdateCampaign" not in [op for op, _ in world.double.calls]
    assert _serving(world, campaign) == first


def test_the_campaign_moves_to_a_better_version(world: World) -> None:
    campaign, first, second, spec = _retrained(world, new_ndcg=0.35)
    adapter = PersonalizeAdapter(world.personalize)

    outcome = ensure(adapter, "campaign", spec, {"solutionVersionArn": second}, 1)
    assert (outcome["status"], outcome["promotion"]["decision"]) == ("UPDATE PENDING", "promote")
    world.settle()

    assert _serving(world, campaign) == second
    # The workflow hands the loop's earlier decision back (refs.promotion): the last check still reports it.
    settled = ensure(adapter, "campaign", spec, {"solutionVersionArn": second, "promotion": outcome["promotion"]}, 2)
    assert settled["state"] == "READY" and settled["promotion"] == outcome["promotion"]
    # A new run's loop starts from "none" and has nothing to weigh: the campaign already serves the version.
    again = ensure(adapter, "campaign", spec, {"solutionVersionArn": second, "promotion": {"decision": "none"}}, 1)
    assert again["state"] == "READY" and again["promotion"] == {"decision": "none"}


def test_the_notification_names_promoted_and_kept_campaigns() -> None:
    promoted = promotion.decide(RULE, "v1", "v2", {NDCG: 0.30}, {NDCG: 0.35})
    kept = promotion.decide(RULE, "v3", "v4", {NDCG: 0.30}, {NDCG: 0.20})
    campaigns = [
        {"name": "up", "arn": "a1", "promotion": promoted},
        {"name": "sims", "arn": "a2", "promotion": kept},
        {"name": "new", "arn": "a3"},  # created by this run: nothing weighed
    ]

    notes = report.promotion_notes({"campaigns": campaigns}).splitlines()

    assert notes == [
        "",
        "- campaign up moved to its new version v2: normalized_discounted_cumulative_gain_at_25 0.3500 vs 0.3000 "
        "in service (tolerance 0)",
        f"- campaign sims kept its version: {kept['reason']}",
    ]
