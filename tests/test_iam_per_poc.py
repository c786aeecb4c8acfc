"""Each role holds what its own POC can use: the ensure role gets the recommender, batch segment job and
metric attribution actions only when the POC definition has them (constructs/personalize_access.py), the
teardown role keeps every kind's List and Delete whatever the definition says (it must remove what an
earlier definition made). Checked on the dev sample (config/poc.yaml: none of the three), the ecommerce
sample (config/poc-ecommerce.yaml: recommenders) and the segments definition of tests/test_segments.py
(segment jobs and an attribution), the last two synthesized once in one app with dev's settings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from personalize_poc.settings import DEFAULT_ENVIRONMENTS_FILE, PROJECT_ROOT
from tests.conftest import SynthesizedApp, as_list, synthesize
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal
from tests.test_iam_static import (
    ENSURE_HANDLER,
    Package,
    findings,
    function_roles,
    granted_actions,
    kinds_invoked,
    load_package,
)
from tests.test_segments import POC as SEGMENTS_POC

ECOMMERCE_SAMPLE = PROJECT_ROOT / "config" / "poc-ecommerce.yaml"
#: What only a POC with recommenders, segment jobs or an attribution calls to create and change them.
CREATES = {
    "recommenders": {
        "personalize:CreateRecommender",
        "personalize:UpdateRecommender",
        "personalize:StartRecommender",
    },
    "segment jobs": {"personalize:CreateBatchSegmentJob"},
    "attribution": {"personalize:CreateMetricAttribution", "personalize:UpdateMetricAttribution"},
}
#: What the teardown calls to find and remove them (lambdas/poc_steps/teardown.py).
REMOVES = {
    "personalize:ListRecommenders",
    "personalize:DeleteRecommender",
    "personalize:ListBatchSegmentJobs",
    "personalize:ListMetricAttributions",
    "personalize:DeleteMetricAttribution",
}


@pytest.fixture(scope="module")
def others(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedApp:
    """`shop` (the ecommerce sample) and `segs` (segment jobs and an attribution), dev's settings otherwise."""
    folder = tmp_path_factory.mktemp("iam-per-poc")
    shutil.copytree(PROJECT_ROOT / "config" / "schemas", folder / "schemas")
    (folder / "segments.yaml").write_text(yaml.safe_dump(SEGMENTS_POC, sort_keys=False), encoding="utf-8")
    dev = yaml.safe_load(DEFAULT_ENVIRONMENTS_FILE.read_text(encoding="utf-8"))["dev"]
    environments = {
        "shop": {**dev, "name_prefix": "ppoc-shop", "poc_config": str(ECOMMERCE_SAMPLE)},
        "segs": {**dev, "name_prefix": "ppoc-segs", "poc_config": str(folder / "segments.yaml")},
    }
    (folder / "environments.yaml").write_text(yaml.safe_dump(environments), encoding="utf-8")
    return synthesize(folder / "environments.yaml", folder / "cdk.out")


@pytest.fixture(scope="module")
def templates(synthesized: SynthesizedApp, others: SynthesizedApp) -> dict[str, dict[str, Any]]:
    return {
        "dev": synthesized.environments["dev"].template_json,
        **{name: env.template_json for name, env in others.environments.items()},
    }


@pytest.fixture(scope="module")
def package() -> Package:
    return load_package()


def role_actions(template: dict[str, Any], handler: str) -> set[str]:
    (statements,) = [s for h, s in function_roles(template).values() if h == handler]
    return granted_actions(statements)


@pytest.mark.parametrize(
    ("environment", "used"),
    [("dev", set()), ("shop", {"recommenders"}), ("segs", {"segment jobs", "attribution"})],
)
def test_the_ensure_role_may_create_only_what_its_poc_definition_has(
    templates: dict[str, dict[str, Any]], environment: str, used: set[str]
) -> None:
    granted = role_actions(templates[environment], ENSURE_HANDLER)
    for group, actions in CREATES.items():
        if group in used:
            assert actions <= granted, f"{environment} has {group}: the ensure role must create them"
        else:
            assert not actions & granted, f"{environment} has no {group}: the ensure role holds {actions & granted}"


def test_the_teardown_role_removes_every_kind_whatever_the_definition_has(
    templates: dict[str, dict[str, Any]],
) -> None:
    """dev has none of them, yet an earlier definition of the same dataset group may have made some: its
    teardown role holds the same actions as the ecommerce one, whose rehearsal deletes recommenders under
    IAM (tests/test_rehearsal_ecommerce.py), and the segments one (tests/test_segments_rehearsal.py)."""
    teardown = "poc_steps.handlers.teardown_handler"
    held = {name: role_actions(template, teardown) for name, template in templates.items()}
    assert held["dev"] >= REMOVES
    assert held["dev"] == held["shop"] == held["segs"]


@pytest.mark.parametrize("environment", ["shop", "segs"])
def test_every_call_is_allowed_and_every_grant_is_used_with_the_optional_kinds(
    package: Package, templates: dict[str, dict[str, Any]], environment: str
) -> None:
    """tests/test_iam_static.py's check on the POCs whose workflows ask for recommenders, segment jobs and
    an attribution: their code paths are followed and must be allowed, both ways."""
    template = templates[environment]
    problems = findings(package, function_roles(template), kinds_invoked(template))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("environment", "action"),
    [
        ("shop", "personalize:StartRecommender"),
        ("segs", "personalize:DescribeBatchSegmentJob"),
        ("segs", "personalize:ListMetricAttributionMetrics"),
    ],
)
def test_an_optional_kinds_dropped_action_is_caught(
    package: Package, templates: dict[str, dict[str, Any]], environment: str, action: str
) -> None:
    template = templates[environment]
    roles = function_roles(template)
    narrowed = {
        lid: (handler, [{**s, "Action": [a for a in as_list(s["Action"]) if a != action]} for s in statements])
        for lid, (handler, statements) in roles.items()
    }
    problems = findings(package, narrowed, kinds_invoked(template))
    assert any(f"calls {action}, its role does not allow it" in p for p in problems), problems


@pytest.mark.rehearsal
def test_the_dev_teardown_removes_an_attribution_an_earlier_definition_made(assembly_dir: Path) -> None:
    """dev's definition has no metric attribution and its ensure role cannot make one; an earlier
    definition of the same dataset group did (made here by hand, named in the POC's scope). The teardown,
    under its synthesized role with IAM enforced, deletes it with the rest."""
    with Rehearsal(assembly_dir, "dev", durations=FAST_DURATIONS) as rehearsal:
        rehearsal.upload_sample_data()
        assert rehearsal.run().status == "SUCCEEDED"
        (group_arn,) = rehearsal.double.arns("dataset_group")
        earlier = f"{rehearsal.plan['datasetGroup']['name']}-attribution"
        rehearsal.client("personalize").create_metric_attribution(
            name=earlier,
            datasetGroupArn=group_arn,
            metrics=[{"eventType": "purchase", "metricName": "purchases", "expression": "SAMPLECOUNT()"}],
            metricsOutputConfig={"roleArn": rehearsal.plan["roleArn"]},
        )
        assert rehearsal.deployment is not None
        teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named("ppoc-dev-poc-teardown"))

        assert teardown.status == "SUCCEEDED", f"{teardown.error}: {teardown.cause}"
        removed = json.loads(teardown.description["output"])["deleted"]["trackers_and_filters"]
        assert any(arn.endswith(f"metric-attribution/{earlier}") for arn in removed), removed
        assert rehearsal.double.resources("metric_attribution") == []
