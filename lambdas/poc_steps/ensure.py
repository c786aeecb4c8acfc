"""Ensure each Personalize resource: find it by name, create it if absent, reuse it if present, and
report where it stands. Called again on every poll of a wait loop, so every path is idempotent.

`attempt` is 1 on the first call of a run. Only then are failed leftovers of an earlier run replaced
(a failed import or training is retried); on later polls a failure ends the loop with the reason.

Every look-up is scoped to the dataset group (List* with datasetGroupArn, datasetArn, solutionArn or
solutionVersionArn): names are unique per account, and the plan puts the group in every name, so a
second POC beside this one is never found, reused or updated. Every create sends the environment's tags
(`spec["tags"]`, botocore `Tags` on each Create* that has the member).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from poc_steps import promotion
from poc_steps.adapter import PersonalizeAdapter
from poc_steps.errors import ConfigConflict, ResourceFailed
from poc_steps.statuses import DELETING_STATUSES, FAILED_STATUSES, state_of

MAX_RETRIES = 9
# CampaignConfig.itemExplorationConfig (botocore): "Provide itemExplorationConfig data only if your solution
# uses the User-Personalization recipe"; User-Personalization-v2 configures exploration itself.
EXPLORATION_RECIPES = frozenset({"aws-user-personalization"})
# Kinds whose Describe shape has no failureReason member (botocore Dataset, Solution, EventTracker), and
# the call whose CloudTrail record shows what was asked for.
_NO_REASON_IN_API = {"dataset": "CreateDataset", "solution": "CreateSolution", "event tracker": "CreateEventTracker"}


def result(arn: str | None, status: str, attempt: int, **extra: Any) -> dict[str, Any]:
    state = "WAITING" if status in DELETING_STATUSES else state_of(status)
    return {"arn": arn, "status": status, "state": state, "attempt": attempt, **extra}


def _failed(kind: str, name: str, described: dict[str, Any]) -> ResourceFailed:
    """The service's own failureReason; where the API has none, say so and where to look."""
    status = described.get("status")
    reason = described.get("failureReason")
    if not reason and status == "CREATE STOPPED":
        reason = "training was stopped (StopSolutionVersionCreation) before it finished"
    elif not reason and kind in _NO_REASON_IN_API:
        reason = (
            f"Personalize reports no failureReason for a {kind} (the API has none); check its configuration "
            f"and the {_NO_REASON_IN_API[kind]} call in CloudTrail"
        )
    return ResourceFailed(f"{kind} {name} ended {status}: {reason or 'no failureReason given'}")


def _tags(spec: dict[str, Any]) -> dict[str, Any]:
    """The `tags` parameter of a Create* call, when the environment has tags."""
    return {"tags": spec["tags"]} if spec.get("tags") else {}


def _settle(kind: str, name: str, described: dict[str, Any], arn: str, attempt: int, **extra: Any) -> dict[str, Any]:
    """Result for an existing resource; a failed one raises with the service's reason."""
    status = described["status"]
    if status in FAILED_STATUSES:
        raise _failed(kind, name, described)
    return result(arn, status, attempt, **extra)


def _replace_if_failed(
    adapter: PersonalizeAdapter,
    kind: str,
    name: str,
    arn: str,
    described: dict[str, Any],
    attempt: int,
    delete_operation: str,
    arn_param: str,
) -> dict[str, Any] | None:
    """On a run's first call, a named resource left failed by an earlier run is deleted so that the
    loop can create it again; on later calls its failure ends the run."""
    if described["status"] not in FAILED_STATUSES:
        return None
    if attempt > 1:
        raise _failed(kind, name, described)
    adapter.call(delete_operation, f"deleting failed {kind} {name}", **{arn_param: arn})
    return result(arn, "DELETE PENDING", attempt, replacing=True)


def _unusable(
    adapter: PersonalizeAdapter,
    kind: str,
    name: str,
    arn: str,
    described: dict[str, Any],
    attempt: int,
    delete_operation: str,
    arn_param: str,
) -> dict[str, Any] | None:
    """The check's answer for an existing resource that cannot be used as it is, else None: one being
    deleted is waited for (the next check creates it again), one left failed is replaced
    (`_replace_if_failed`)."""
    if described["status"] in DELETING_STATUSES:
        return result(arn, described["status"], attempt)
    return _replace_if_failed(adapter, kind, name, arn, described, attempt, delete_operation, arn_param)


def _create(
    adapter: PersonalizeAdapter, operation: str, what: str, arn_key: str, find_again: Any, **params: Any
) -> dict[str, Any]:
    """Create; if another writer won the race, return the winner's summary instead (same shape)."""
    try:
        return adapter.call(operation, what, **params)
    except adapter.client.exceptions.ResourceAlreadyExistsException:
        found = find_again()
        if found is None:
            raise
        return found  # type: ignore[no-any-return]


def _job_runs(adapter: PersonalizeAdapter, kind: str, base: str, **list_params: Any) -> list[dict[str, Any]]:
    """Jobs (imports, batch inference) are named `<base>` and, for retries after a failure, `<base>-rN`;
    oldest first."""
    runs = [
        j for j in adapter.list_all(kind, **list_params) if j["jobName"] == base or j["jobName"].startswith(f"{base}-r")
    ]
    return sorted(runs, key=lambda j: j["creationDateTime"])


def _current_run(runs: list[dict[str, Any]], attempt: int) -> dict[str, Any] | None:
    """The run to follow: the latest, unless it failed before this run started (then retry)."""
    latest = runs[-1] if runs else None
    if latest is not None and (latest["status"] not in FAILED_STATUSES or attempt > 1):
        return latest
    return None


def _next_run_name(base: str, runs: list[dict[str, Any]], what: str) -> str:
    if len(runs) > MAX_RETRIES:
        raise ResourceFailed(f"{what} failed {len(runs)} times; fix the cause before re-running")
    return base if not runs else f"{base}-r{len(runs)}"


def _timestamp(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


# --- dataset group ---------------------------------------------------------------------------------


def ensure_dataset_group(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name = spec["name"]
    found = adapter.find("dataset_group", name)
    if found is None:
        params: dict[str, Any] = {"name": name, **_tags(spec)}
        if spec.get("kmsKeyArn"):
            params.update(kmsKeyArn=spec["kmsKeyArn"], roleArn=refs["roleArn"])
        if spec.get("domain"):
            params["domain"] = spec["domain"]  # botocore CreateDatasetGroup.domain: a Domain dataset group
        try:
            arn = adapter.call("create_dataset_group", f"creating dataset group {name}", **params)["datasetGroupArn"]
        except adapter.client.exceptions.ResourceAlreadyExistsException:
            arn = adapter.arn_of("dataset_group", adapter.find("dataset_group", name) or {})
        return result(arn, "CREATE PENDING", attempt)
    arn = adapter.arn_of("dataset_group", found)
    described = adapter.describe("dataset_group", arn)
    if described.get("domain") != spec.get("domain"):
        # The domain is fixed at creation (no UpdateDatasetGroup in the API).
        raise ConfigConflict(
            f"dataset group {name} exists with domain {described.get('domain') or '(custom)'}, the config asks for "
            f"{spec.get('domain') or '(custom)'}; tear the POC down first (make teardown) or choose another name"
        )
    replaced = _replace_if_failed(
        adapter, "dataset group", name, arn, described, attempt, "delete_dataset_group", "datasetGroupArn"
    )
    return replaced or _settle("dataset group", name, described, arn, attempt)


# --- schema + dataset ------------------------------------------------------------------------------


def _ensure_schema(adapter: PersonalizeAdapter, name: str, schema: str, domain: str | None = None) -> str:
    found = adapter.find("schema", name)
    if found is None:
        # A domain dataset group's datasets take schemas of its domain (botocore CreateSchema.domain).
        params = {"name": name, "schema": schema, **({"domain": domain} if domain else {})}
        try:
            return str(adapter.call("create_schema", f"creating schema {name}", **params)["schemaArn"])
        except adapter.client.exceptions.ResourceAlreadyExistsException:
            found = adapter.find("schema", name) or {}
    arn = adapter.arn_of("schema", found)
    existing = adapter.describe("schema", arn)["schema"]
    if json.loads(existing) != json.loads(schema):
        raise ConfigConflict(
            f"schema {name} exists with different fields; schemas cannot be changed. Run the teardown "
            "workflow (make teardown) or choose another dataset group name."
        )
    return arn


def ensure_dataset(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    schema_arn = _ensure_schema(adapter, name, spec["schema"], spec.get("domain"))
    found = next(
        (
            d
            for d in adapter.list_all("dataset", datasetGroupArn=group_arn)
            if d.get("datasetType", "").upper() == spec["datasetType"].upper()
        ),
        None,
    )
    if found is None:
        try:
            arn = adapter.call(
                "create_dataset",
                f"creating dataset {name}",
                name=name,
                schemaArn=schema_arn,
                datasetGroupArn=group_arn,
                datasetType=spec["datasetType"],
                **_tags(spec),
            )["datasetArn"]
        except adapter.client.exceptions.ResourceAlreadyExistsException:
            arn = adapter.arn_of("dataset", adapter.find("dataset", name, datasetGroupArn=group_arn) or {})
        return result(arn, "CREATE PENDING", attempt, schemaArn=schema_arn)
    arn = adapter.arn_of("dataset", found)
    described = adapter.describe("dataset", arn)
    if described.get("schemaArn") != schema_arn:
        raise ConfigConflict(f"dataset {arn} uses schema {described.get('schemaArn')}, not {name}")
    replaced = _replace_if_failed(adapter, "dataset", name, arn, described, attempt, "delete_dataset", "datasetArn")
    return replaced or _settle("dataset", name, described, arn, attempt, schemaArn=schema_arn)


# --- import job ------------------------------------------------------------------------------------


def data_version_id(etag: str, dataset_arn: str, dataset_created: str) -> str:
    """A short, name-safe id of this data version in this dataset. Import jobs cannot be deleted, so their
    names stay taken after a teardown: the dataset's creation time makes the name of the same data in a
    re-created dataset (same name, same ARN) a new one. (Multipart ETags contain '-', hence the hash.)"""
    key = f"{dataset_arn}|{dataset_created}|{etag.strip(chr(34))}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def ensure_import_job(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    dataset_arn = refs["datasetArn"]
    created = adapter.describe("dataset", dataset_arn).get("creationDateTime")
    # Epoch seconds: the same in every Lambda, whatever time zone botocore parses the timestamp into.
    incarnation = f"{created.timestamp():.3f}" if isinstance(created, datetime) else str(created)
    base = f"{spec['name']}-{data_version_id(adapter.object_etag(spec['s3Uri']), dataset_arn, incarnation)}"
    jobs = _job_runs(adapter, "import_job", base, datasetArn=dataset_arn)
    current = _current_run(jobs, attempt)
    if current is not None:
        arn = current["datasetImportJobArn"]
        described = adapter.describe("import_job", arn)
        return _settle(
            "import job",
            current["jobName"],
            described,
            arn,
            attempt,
            completedAt=_timestamp(described.get("lastUpdatedDateTime")),
        )
    name = _next_run_name(base, jobs, f"import of {spec['s3Uri']}")
    arn = _create(
        adapter,
        "create_dataset_import_job",
        f"importing {spec['s3Uri']}",
        "datasetImportJobArn",
        lambda: adapter.find("import_job", name, datasetArn=dataset_arn),
        jobName=name,
        datasetArn=dataset_arn,
        dataSource={"dataLocation": spec["s3Uri"]},
        roleArn=refs["roleArn"],
        importMode=spec["importMode"],
        **_tags(spec),
    )["datasetImportJobArn"]
    return result(arn, "CREATE PENDING", attempt)


# --- solution + solution version -------------------------------------------------------------------


def ensure_solution(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    found = adapter.find("solution", name, datasetGroupArn=group_arn)
    if found is None:
        params: dict[str, Any] = {
            "name": name,
            "datasetGroupArn": group_arn,
            "recipeArn": spec["recipeArn"],
            "performHPO": spec["performHPO"],
            # Explicit on every create: the service otherwise retrains every 7 days and bills for it.
            "performAutoTraining": spec["performAutoTraining"],
            **_tags(spec),
        }
        if spec.get("eventType"):
            params["eventType"] = spec["eventType"]
        if spec.get("solutionConfig"):
            params["solutionConfig"] = spec["solutionConfig"]
        try:
            arn = adapter.call("create_solution", f"creating solution {name}", **params)["solutionArn"]
        except adapter.client.exceptions.ResourceAlreadyExistsException:
            arn = adapter.arn_of("solution", adapter.find("solution", name, datasetGroupArn=group_arn) or {})
        return result(arn, "CREATE PENDING", attempt)
    arn = adapter.arn_of("solution", found)
    described = adapter.describe("solution", arn)
    if described.get("recipeArn") != spec["recipeArn"]:
        raise ConfigConflict(
            f"solution {name} exists with recipe {described.get('recipeArn')}, the config asks for "
            f"{spec['recipeArn']}; rename the solution or tear the POC down first"
        )
    replaced = _replace_if_failed(adapter, "solution", name, arn, described, attempt, "delete_solution", "solutionArn")
    if replaced:
        return replaced
    update = described.get("latestSolutionUpdate") or {}
    latest_update = update.get("status")
    if latest_update in FAILED_STATUSES and attempt > 1:
        raise _failed("solution update of", name, update)  # SolutionUpdateSummary has a failureReason
    if latest_update and latest_update != "ACTIVE" and latest_update not in FAILED_STATUSES:
        return result(arn, latest_update, attempt)
    if described["status"] == "ACTIVE" and bool(described.get("performAutoTraining")) != spec["performAutoTraining"]:
        adapter.call(
            "update_solution",
            f"updating solution {name}",
            solutionArn=arn,
            performAutoTraining=spec["performAutoTraining"],
        )
        return result(arn, "UPDATE PENDING", attempt)
    return _settle("solution", name, described, arn, attempt)


def _newest(times: list[str | None]) -> datetime | None:
    parsed = [datetime.fromisoformat(t) for t in times if t]
    return max(parsed) if parsed else None


def ensure_solution_version(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    """Reuse the latest version when it is training or trained on the current data; otherwise train."""
    solution_arn, name = refs["solutionArn"], spec["name"]
    versions = sorted(
        adapter.list_all("solution_version", solutionArn=solution_arn), key=lambda v: v["creationDateTime"]
    )
    latest = versions[-1] if versions else None
    data_changed_at = _newest(refs.get("importsCompletedAt") or [])
    if latest is not None:
        fresh = data_changed_at is None or latest["creationDateTime"] >= data_changed_at
        usable = latest["status"] not in FAILED_STATUSES and fresh
        if attempt > 1 or usable:
            arn = latest["solutionVersionArn"]
            described = adapter.describe("solution_version", arn)
            return _settle(
                "solution version of",
                name,
                described,
                arn,
                attempt,
                trainingHours=described.get("trainingHours"),
            )
    arn = adapter.call(
        "create_solution_version",
        f"training solution {name}",
        solutionArn=solution_arn,
        trainingMode=_training_mode(spec["trainingMode"], versions),
        **_tags(spec),
    )["solutionVersionArn"]
    return result(arn, "CREATE PENDING", attempt)


def _training_mode(wanted: str, versions: list[dict[str, Any]]) -> str:
    """UPDATE only on top of an ACTIVE FULL version (CreateSolutionVersion.trainingMode: "The UPDATE option
    can only be used when you already have an active solution version created from the input solution
    using the FULL option"): the first training of a solution is FULL."""
    has_full = any(v.get("status") == "ACTIVE" and v.get("trainingMode") == "FULL" for v in versions)
    return wanted if wanted != "UPDATE" or has_full else "FULL"


# --- campaign --------------------------------------------------------------------------------------


def ensure_campaign(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    """Every outcome carries `promotion`: the decision when a new version was weighed against the one in
    service (promotion.py), else the one an earlier check of this loop made (the workflow hands it back in
    refs.promotion: the update it started has run since), else {"decision": "none"}; the workflow reports it."""
    outcome = _ensure_campaign(adapter, spec, refs, attempt)
    earlier = refs.get("promotion") or {}
    outcome.setdefault("promotion", earlier if earlier.get("decision") in ("promote", "keep") else {"decision": "none"})
    return outcome


def _ensure_campaign(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, version_arn = spec["name"], refs["solutionVersionArn"]
    config = _campaign_config(spec)
    # A solution version's ARN is its solution's ARN plus '/<id>': look among that solution's campaigns only.
    solution_arn = version_arn.rsplit("/", 1)[0]
    found = adapter.find("campaign", name, solutionArn=solution_arn)
    if found is None:
        params: dict[str, Any] = {
            "name": name,
            "solutionVersionArn": version_arn,
            "minProvisionedTPS": spec["minProvisionedTPS"],
            **_tags(spec),
        }
        if config:
            params["campaignConfig"] = config
        arn = _create(
            adapter,
            "create_campaign",
            f"creating campaign {name}",
            "campaignArn",
            lambda: _campaign_of(adapter, name, solution_arn),
            **params,
        )["campaignArn"]
        return result(arn, "CREATE PENDING", attempt)
    arn = adapter.arn_of("campaign", found)
    described = adapter.describe("campaign", arn)
    replaced = _replace_if_failed(adapter, "campaign", name, arn, described, attempt, "delete_campaign", "campaignArn")
    if replaced:
        return replaced
    update = described.get("latestCampaignUpdate") or {}
    if update.get("status") in FAILED_STATUSES and attempt > 1:
        raise _failed("campaign update of", name, update)
    if update.get("status") and state_of(update["status"]) == "WAITING":
        return result(arn, update["status"], attempt)
    settled = _settle("campaign", name, described, arn, attempt)
    serving = described.get("solutionVersionArn")
    weighed = None
    if settled["state"] == "READY" and serving and serving != version_arn and spec.get("promotion"):
        weighed = _weigh(adapter, spec["promotion"], serving, version_arn)
        if weighed["decision"] == "keep":
            version_arn = serving
    outdated = (
        serving != version_arn
        or described.get("minProvisionedTPS") != spec["minProvisionedTPS"]
        or not _covers(described.get("campaignConfig") or {}, config)
    )
    extra = {"promotion": weighed} if weighed else {}
    if settled["state"] == "READY" and outdated:
        params = {
            "campaignArn": arn,
            "solutionVersionArn": version_arn,
            "minProvisionedTPS": spec["minProvisionedTPS"],
        }
        if config:
            params["campaignConfig"] = config
        adapter.call("update_campaign", f"updating campaign {name}", **params)
        return result(arn, "UPDATE PENDING", attempt, **extra)
    return {**settled, **extra}


def _weigh(adapter: PersonalizeAdapter, rule: dict[str, Any], serving: str, candidate: str) -> dict[str, Any]:
    """The POC's promotion rule on both versions' offline metrics (botocore GetSolutionMetrics)."""
    metrics = {
        arn: adapter.call("get_solution_metrics", f"reading the metrics of {arn}", solutionVersionArn=arn).get(
            "metrics", {}
        )
        for arn in (serving, candidate)
    }
    return promotion.decide(rule, serving, candidate, metrics[serving], metrics[candidate])


def _campaign_config(spec: dict[str, Any]) -> dict[str, Any]:
    """The campaignConfig to send: item exploration only for the recipe that takes it."""
    config = dict(spec.get("campaignConfig") or {})
    if spec.get("recipe") not in EXPLORATION_RECIPES:
        config.pop("itemExplorationConfig", None)
    return config


def _covers(described: Any, wanted: Any) -> bool:
    """True when what Describe shows has every value the config sets. Describe also shows defaults the
    config leaves out (campaignConfig with the default itemExplorationConfig): those are not a change."""
    if isinstance(wanted, dict):
        return isinstance(described, dict) and all(_covers(described.get(k), v) for k, v in wanted.items())
    return bool(described == wanted)


def _campaign_of(adapter: PersonalizeAdapter, name: str, solution_arn: str) -> dict[str, Any]:
    """After ResourceAlreadyExistsException: the winner of a race on this solution, or a config conflict
    (campaign names are unique per account; the name is in use outside this solution)."""
    found = adapter.find("campaign", name, solutionArn=solution_arn)
    if found is None:
        raise ConfigConflict(
            f"campaign {name} exists, but not on solution {solution_arn}: campaign names are unique per account. "
            "Rename the campaign or tear the other POC down first."
        )
    return found


# --- filter ----------------------------------------------------------------------------------------


def ensure_filter(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    found = adapter.find("filter", name, datasetGroupArn=group_arn)
    if found is None:
        arn = _create(
            adapter,
            "create_filter",
            f"creating filter {name}",
            "filterArn",
            lambda: adapter.find("filter", name, datasetGroupArn=group_arn),
            name=name,
            datasetGroupArn=group_arn,
            filterExpression=spec["expression"],
            **_tags(spec),
        )["filterArn"]
        return result(arn, "CREATE PENDING", attempt)
    arn = adapter.arn_of("filter", found)
    described = adapter.describe("filter", arn)
    unusable = _unusable(adapter, "filter", name, arn, described, attempt, "delete_filter", "filterArn")
    if unusable:
        return unusable
    changed = _expression(described.get("filterExpression") or "") != _expression(spec["expression"])
    if changed and described["status"] == "ACTIVE":
        # Filters cannot be updated: replace it so the expression in the config is the one in use.
        adapter.call("delete_filter", f"replacing filter {name}", filterArn=arn)
        return result(arn, "DELETE PENDING", attempt, replacing=True)
    return _settle("filter", name, described, arn, attempt)


_FILTER_KEYWORDS = frozenset({"INCLUDE", "EXCLUDE", "WHERE", "IN", "NOT", "AND", "OR", "IF"})


def _expression(text: str) -> str:
    """A filter expression as the service may echo it: outside quoted values, white space collapsed and
    keywords upper-cased; so an echo that differs only in spelling is not mistaken for a change."""
    parts = text.strip().split('"')
    for index in range(0, len(parts), 2):  # even parts are outside quotes
        words = " ".join(parts[index].split()).split(" ")
        parts[index] = " ".join(w.upper() if w.upper() in _FILTER_KEYWORDS else w for w in words)
    return '"'.join(parts)


# --- event tracker ---------------------------------------------------------------------------------


def ensure_event_tracker(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    name, group_arn = spec["name"], refs["datasetGroupArn"]
    # One event tracker per dataset group: reuse whichever exists, even one made by hand.
    trackers = adapter.list_all("event_tracker", datasetGroupArn=group_arn)
    if not trackers:
        created = _create(
            adapter,
            "create_event_tracker",
            f"creating event tracker {name}",
            "eventTrackerArn",
            lambda: next(iter(adapter.list_all("event_tracker", datasetGroupArn=group_arn)), None),
            name=name,
            datasetGroupArn=group_arn,
            **_tags(spec),
        )
        return result(created["eventTrackerArn"], "CREATE PENDING", attempt, trackingId=created.get("trackingId"))
    arn = adapter.arn_of("event_tracker", trackers[0])
    described = adapter.describe("event_tracker", arn)
    unusable = _unusable(
        adapter, "event tracker", name, arn, described, attempt, "delete_event_tracker", "eventTrackerArn"
    )
    return unusable or _settle("event tracker", name, described, arn, attempt, trackingId=described.get("trackingId"))


# --- batch inference -------------------------------------------------------------------------------


def ensure_batch_job(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    return ensure_version_job(
        adapter,
        spec,
        refs,
        attempt,
        kind="batch_job",
        label="batch inference job",
        operation="create_batch_inference_job",
        arn_key="batchInferenceJobArn",
    )


def ensure_version_job(
    adapter: PersonalizeAdapter,
    spec: dict[str, Any],
    refs: dict[str, Any],
    attempt: int,
    *,
    kind: str,
    label: str,
    operation: str,
    arn_key: str,
) -> dict[str, Any]:
    """A job on one solution version (batch inference or batch segments): `<name>-<version id>`, output in
    the version's own folder, found again on a re-run; waits for its filter, which the filters branch makes."""
    version_arn = refs["solutionVersionArn"]
    version_id = version_arn.rsplit("/", 1)[-1]
    base = f"{spec['name']}-{version_id}"
    output = f"{spec['outputUri']}{version_id}/"
    filter_arn = None
    if spec.get("filterName"):
        found_filter = adapter.find("filter", spec["filterName"], datasetGroupArn=refs["datasetGroupArn"])
        if found_filter is None or found_filter.get("status") != "ACTIVE":
            return result(None, "CREATE PENDING", attempt, waitingFor=spec["filterName"])
        filter_arn = adapter.arn_of("filter", found_filter)
    jobs = _job_runs(adapter, kind, base, solutionVersionArn=version_arn)
    current = _current_run(jobs, attempt)
    if current is not None:
        arn = current[arn_key]
        described = adapter.describe(kind, arn)
        return _settle(label, current["jobName"], described, arn, attempt, outputUri=output)
    params: dict[str, Any] = {
        "jobName": _next_run_name(base, jobs, f"{label} {base}"),
        "solutionVersionArn": version_arn,
        # botocore CreateBatchInferenceJob / CreateBatchSegmentJob numResults: items per user, or users
        # per line of input (a segment job: at most 5 million).
        "numResults": spec["numResults"],
        "jobInput": {"s3DataSource": {"path": spec["inputUri"]}},
        "jobOutput": {"s3DataDestination": {"path": output}},
        "roleArn": refs["roleArn"],
        **_tags(spec),
    }
    if filter_arn:
        params["filterArn"] = filter_arn
    arn = _create(
        adapter,
        operation,
        f"starting {label} {base}",
        arn_key,
        lambda: adapter.find(kind, params["jobName"], solutionVersionArn=version_arn),
        **params,
    )[arn_key]
    return result(arn, "PENDING", attempt, outputUri=output)


def _ensure_recommender(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    from poc_steps.ensure_recommender import ensure_recommender  # its own module, built on this one's helpers

    return ensure_recommender(adapter, spec, refs, attempt)


def _ensure_segment_job(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    from poc_steps.ensure_segments import ensure_segment_job  # its own module, built on this one's helpers

    return ensure_segment_job(adapter, spec, refs, attempt)


def _ensure_metric_attribution(
    adapter: PersonalizeAdapter, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    from poc_steps.ensure_attribution import ensure_metric_attribution  # its own module, as above

    return ensure_metric_attribution(adapter, spec, refs, attempt)


ENSURE = {
    "dataset_group": ensure_dataset_group,
    "dataset": ensure_dataset,
    "import_job": ensure_import_job,
    "solution": ensure_solution,
    "solution_version": ensure_solution_version,
    "campaign": ensure_campaign,
    "filter": ensure_filter,
    "event_tracker": ensure_event_tracker,
    "batch_job": ensure_batch_job,
    "segment_job": _ensure_segment_job,
    "metric_attribution": _ensure_metric_attribution,
    "recommender": _ensure_recommender,
}


def ensure(
    adapter: PersonalizeAdapter, kind: str, spec: dict[str, Any], refs: dict[str, Any], attempt: int
) -> dict[str, Any]:
    try:
        return ENSURE[kind](adapter, spec, refs, attempt)
    except ClientError as error:
        if not adapter.is_missing(error):
            raise
        if error.operation_name.startswith("Describe"):
            # Listed a moment ago, gone now (deleted meanwhile): look again on the next poll.
            return result(None, "CREATE PENDING", attempt, note=str(error))
        raise ResourceFailed(f"{kind} {spec.get('name', '')}: a resource it needs does not exist ({error})") from error
