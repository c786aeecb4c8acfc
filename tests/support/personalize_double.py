"""A stateful, thread-safe stand-in for the Amazon Personalize control plane.

Product code reaches it through its normal client - ``boto3.client("personalize")`` created anywhere,
at any time - while ``double.installed()`` is active: the context manager patches
``botocore.client.BaseClient._make_api_call`` and hands every ``personalize`` call to the double;
every other service (S3, Step Functions, moto-mocked or not) goes to the original method untouched.

    from tests.support.personalize_double import FakeClock, PersonalizeDouble

    clock = FakeClock()
    double = PersonalizeDouble(clock=clock)
    with double.installed():
        arn = boto3.client("personalize").create_dataset_group(name="poc")["datasetGroupArn"]
        clock.advance(double.seconds_until_settled(arn))    # -> ACTIVE

What a call goes through (``_handle``):

1. recorded in ``double.calls`` as ``(OperationName, deep-copied params)``;
2. ``throttle()`` budget: ``ThrottlingException`` (HTTP 400), before anything else, as at the front door;
3. botocore's own ``ParamValidator`` (if the client has ``parameter_validation`` on): missing/unknown
   members and wrong types raise botocore's ``ParamValidationError`` - exactly what the real client
   raises before sending anything;
4. ``tests.support.service_model`` constraint checks (length, pattern, enum, ranges): a
   ``ClientError`` with code ``ValidationException``, HTTP 400, and AWS's wording
   ("1 validation error detected: Value '...' at 'name' failed to satisfy constraint: ...") -
   what the service answers for a request that passes client-side validation but not the model;
5. the operation, under one lock, against a simulated clock.

Answers are serialised to JSON and parsed by botocore's own ``json`` response parser with the
operation's output shape, so responses have exactly botocore's shapes and types (timestamps become
``datetime`` with ``tzlocal()``, ``ResponseMetadata`` is present). Errors are parsed the same way and
raised as ``client.exceptions.from_code(code)``, so ``except client.exceptions.ResourceInUseException``
works (codes the model does not define, such as ``ThrottlingException`` and ``ValidationException``,
are plain ``botocore.exceptions.ClientError`` - as with the real service). botocore's retry layer is
bypassed: a throttled call reaches the caller at once, as if the SDK's retries were exhausted.

Statuses are computed from ``clock() - createdAt`` (``CREATE PENDING`` for the first
``pending_fraction`` of the duration, then ``CREATE IN_PROGRESS``, then ``ACTIVE`` or
``CREATE FAILED``); deletions move through ``DELETE PENDING`` > ``DELETE IN_PROGRESS`` and then the
resource is gone (``ResourceNotFoundException``). Batch inference jobs use ``PENDING`` >
``IN PROGRESS`` > ``ACTIVE``; solution versions can be stopped (``CREATE STOPPING`` >
``CREATE STOPPED``).

Only the ``personalize`` control plane is simulated (not ``personalize-runtime``/``-events``);
operations outside the POC's set raise ``NotImplementedError`` so a gap is loud.

Service rules beyond the model (sources beside the code; STRICTER marks a choice where the real
behaviour is not documented and the double takes the stricter side):

- Names are unique per account and region per resource type, not per dataset group (each ARN is built
  from the name: ``arn:...:solution/<name>``, API reference of each Create*). A deleted resource's name
  is free again only once its deletion has finished (the resource exists, DELETE PENDING/IN_PROGRESS,
  until then). Dataset names too (STRICTER: their ARN is ``dataset/<group>/<TYPE>``).
- Dataset import jobs and batch inference jobs cannot be deleted (the API has no Delete operation for
  them): their names stay taken for good, even after their dataset group is gone (STRICTER: the service
  may forget them with the dataset group).
- Describe answers with defaults the caller did not send: a campaign's ``campaignConfig`` (for the
  User-Personalization recipes, ``itemExplorationConfig`` with explorationWeight 0.3 and
  explorationItemAgeCutOff 30, "Configuring exploration"), ``minProvisionedTPS`` 1; a solution's
  ``solutionConfig.autoTrainingConfig`` ``rate(7 days)`` when it trains automatically. STRICTER: which
  defaults the real service echoes is not documented field by field.
- Filter expressions come back normalised: keywords upper-case, runs of white space collapsed (STRICTER:
  the service may echo the text as sent).
- Import jobs read the object (``read_object``) and fail the way ``tests.support.import_data`` says
  (header vs schema, value types, 1000 interactions per import); training needs 1000 interactions and
  25 users with 2+ interactions, else the solution version ends CREATE FAILED with a failureReason.
- Where the service acts with the role passed to it (imports and batch jobs on S3, a dataset group's
  KMS key), ``service_access(role_arn, action, resource_arn)`` is asked first (if set); a
  ``PermissionError`` makes the job - or the dataset group - end CREATE FAILED with a failureReason
  naming the access problem (STRICTER than a synchronous AccessDenied: the caller must read the reason).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime as _dt
import functools
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import botocore.parsers
from botocore import xform_name
from botocore.validate import validate_parameters

from tests.support import service_rules
from tests.support.double_data_jobs import DataJobsMixin
from tests.support.double_recommenders import RECOMMENDER_DURATIONS, RecommendersMixin
from tests.support.double_segments import SEGMENT_DURATIONS, SegmentsMixin
from tests.support.import_data import ImportStats, check_import, training_shortfall
from tests.support.service_model import RequestValidationError, validate_operation_params
from tests.support.service_model import service_model as service_model_for

__all__ = [
    "ACTIVE",
    "CREATE_FAILED",
    "CREATE_IN_PROGRESS",
    "CREATE_PENDING",
    "CREATE_STOPPED",
    "CREATE_STOPPING",
    "DEFAULT_DURATIONS",
    "DEFAULT_QUOTAS",
    "DELETE_IN_PROGRESS",
    "DELETE_PENDING",
    "IN_PROGRESS",
    "KINDS",
    "PENDING",
    "QUOTA_NAMES",
    "RECIPES",
    "FakeClock",
    "PersonalizeDouble",
    "ResourceInfo",
    "scaled_clock",
]

# --------------------------------------------------------------------------------------------------
# Status strings (service model documentation)
# --------------------------------------------------------------------------------------------------
CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
DELETE_PENDING = "DELETE PENDING"
DELETE_IN_PROGRESS = "DELETE IN_PROGRESS"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
PENDING = "PENDING"  # batch inference jobs
IN_PROGRESS = "IN PROGRESS"  # batch inference jobs (note: a space, not an underscore)
_GONE = "<gone>"

IN_FLIGHT = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING, PENDING, IN_PROGRESS})
DELETING = frozenset({DELETE_PENDING, DELETE_IN_PROGRESS})

KINDS = (
    "dataset_group",
    "schema",
    "dataset",
    "dataset_import_job",
    "solution",
    "solution_version",
    "campaign",
    "filter",
    "event_tracker",
    "batch_inference_job",
    "recommender",
    "batch_segment_job",
    "metric_attribution",
)
#: Each kind's Describe call: (boto3 method, ARN parameter, result key).
DESCRIBE_OPERATIONS = {
    "schema": ("describe_schema", "schemaArn", "schema"),
    "dataset_group": ("describe_dataset_group", "datasetGroupArn", "datasetGroup"),
    "dataset": ("describe_dataset", "datasetArn", "dataset"),
    "dataset_import_job": ("describe_dataset_import_job", "datasetImportJobArn", "datasetImportJob"),
    "solution": ("describe_solution", "solutionArn", "solution"),
    "solution_version": ("describe_solution_version", "solutionVersionArn", "solutionVersion"),
    "campaign": ("describe_campaign", "campaignArn", "campaign"),
    "filter": ("describe_filter", "filterArn", "filter"),
    "event_tracker": ("describe_event_tracker", "eventTrackerArn", "eventTracker"),
    "batch_inference_job": ("describe_batch_inference_job", "batchInferenceJobArn", "batchInferenceJob"),
    "recommender": ("describe_recommender", "recommenderArn", "recommender"),
    "batch_segment_job": ("describe_batch_segment_job", "batchSegmentJobArn", "batchSegmentJob"),
    "metric_attribution": ("describe_metric_attribution", "metricAttributionArn", "metricAttribution"),
}

#: Simulated seconds per transition. Creation keys are the kinds; ``delete_<kind>`` for deletions;
#: ``campaign_update``/``solution_update`` for updates; ``solution_version_stop`` for STOPPING->STOPPED.
DEFAULT_DURATIONS: dict[str, float] = {
    "dataset_group": 30.0,
    "schema": 0.0,  # schemas have no status in the API: usable at once
    "dataset": 30.0,
    "dataset_import_job": 15 * 60.0,
    "solution": 30.0,
    "solution_version": 90 * 60.0,
    "campaign": 12 * 60.0,
    "filter": 90.0,
    "event_tracker": 60.0,
    "batch_inference_job": 30 * 60.0,
    "campaign_update": 10 * 60.0,
    "solution_update": 60.0,
    "solution_version_stop": 120.0,
    "auto_training_delay": 3600.0,  # first automatic training after a solution turns ACTIVE
    "delete_dataset_group": 60.0,
    "delete_schema": 0.0,
    "delete_dataset": 60.0,
    "delete_solution": 60.0,
    "delete_campaign": 120.0,
    "delete_filter": 30.0,
    "delete_event_tracker": 60.0,
    **RECOMMENDER_DURATIONS,  # tests/support/double_recommenders.py
    **SEGMENT_DURATIONS,  # tests/support/double_segments.py
}

#: Per-region quotas (the service's low defaults; all adjustable in the real service).
DEFAULT_QUOTAS: dict[str, int] = {
    "active_campaigns": 5,
    "concurrent_solution_versions": 20,
    "filters_per_dataset_group": 10,
    "concurrent_batch_inference_jobs": 5,
}
QUOTA_NAMES = {
    "active_campaigns": "Total number of active campaigns",
    "concurrent_solution_versions": "Total number of pending or in progress solution versions",
    "filters_per_dataset_group": "Maximum number of filters per dataset group",
    "concurrent_batch_inference_jobs": "Total number of pending or in progress batch inference jobs",
}

_DATASET_TYPES = {
    "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "ITEMS": ("ITEM_ID",),
    "USERS": ("USER_ID",),
    "ACTIONS": ("ACTION_ID",),
    "ACTION_INTERACTIONS": ("USER_ID", "ACTION_ID", "TIMESTAMP", "EVENT_TYPE"),
}


@dataclass(frozen=True)
class _Recipe:
    name: str
    recipe_type: str
    quality: float  # drives the deterministic metrics
    coverage: float
    description: str


#: Recipes the double knows (ListRecipes / DescribeRecipe / CreateSolution).
RECIPES: dict[str, _Recipe] = {
    r.name: r
    for r in (
        _Recipe("aws-user-personalization", "USER_PERSONALIZATION", 1.00, 0.41, "User-Personalization"),
        _Recipe("aws-user-personalization-v2", "USER_PERSONALIZATION", 1.06, 0.45, "User-Personalization-v2"),
        _Recipe("aws-personalized-ranking", "PERSONALIZED_RANKING", 0.97, 0.38, "Personalized-Ranking"),
        _Recipe("aws-personalized-ranking-v2", "PERSONALIZED_RANKING", 1.03, 0.40, "Personalized-Ranking-v2"),
        _Recipe("aws-sims", "RELATED_ITEMS", 0.90, 0.52, "SIMS (item-to-item similarities)"),
        _Recipe("aws-trending-now", "USER_PERSONALIZATION", 0.70, 0.06, "Trending-Now"),
        _Recipe("aws-popularity-count", "USER_PERSONALIZATION", 0.55, 0.012, "Popularity-Count"),
        _Recipe("aws-item-affinity", "USER_SEGMENTATION", 0.80, 0.30, "Item-Affinity (user segments)"),
        _Recipe("aws-item-attribute-affinity", "USER_SEGMENTATION", 0.75, 0.25, "Item-Attribute-Affinity"),
    )
}
_RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"
_FEATURE_TRANSFORMATION_ARN = "arn:aws:personalize:::feature-transformation/JSON-percentile-filtering"
_RECIPE_EPOCH = _dt.datetime(2019, 6, 10, tzinfo=_dt.UTC).timestamp()
#: Recipes with item exploration (CampaignConfig.itemExplorationConfig: "Provide itemExplorationConfig
#: data only if your solution uses the User-Personalization recipe"; v2 lists Exploration among its
#: recommendation reasons, "Recommendation reasons (User-Personalization-v2)").
EXPLORATION_RECIPES = frozenset({"aws-user-personalization", "aws-user-personalization-v2"})
#: "Configuring exploration": weight default 0.3; the age cut-off default is not documented (STRICTER: echoed).
EXPLORATION_DEFAULTS = {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"}
#: What the service does with a dataset group's customer key, through the passed role (KMS key policy
#: example in "Giving Amazon Personalize permission to use your AWS KMS key").
_KMS_ACTIONS = ("kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:ListGrants")

_DEFAULT_IMPORT_FAILURE = (
    "Input csv has rows that do not conform to the dataset schema. Please ensure all required data "
    "fields are present and that they are of the type specified in the schema."
)
_DEFAULT_TRAINING_FAILURE = (
    "Insufficient data to train a model: There should be at least 1000 interactions after filtering "
    "by event type and event value threshold."
)


# --------------------------------------------------------------------------------------------------
# Clocks
# --------------------------------------------------------------------------------------------------
class FakeClock:
    """A manual, thread-safe clock in seconds: ``clock()`` reads it, ``clock.advance(s)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            if now < self._now:
                raise ValueError("a clock does not run backwards")
            self._now = float(now)


def scaled_clock(factor: float) -> Callable[[], float]:
    """A clock running ``factor`` times faster than real time (for workflows that really sleep)."""
    origin = time.monotonic()
    return lambda: (time.monotonic() - origin) * factor


# --------------------------------------------------------------------------------------------------
# Internal records
# --------------------------------------------------------------------------------------------------
class _Timeline:
    """Statuses over simulated time: a list of (start, status), the current one being the last started."""

    def __init__(self, phases: list[tuple[float, str]]) -> None:
        self.phases = phases

    def _current(self, now: float) -> tuple[float, str]:
        current = self.phases[0]
        for phase in self.phases:
            if phase[0] <= now:
                current = phase
            else:
                break
        return current

    def status(self, now: float) -> str:
        return self._current(now)[1]

    def since(self, now: float) -> float:
        return self._current(now)[0]

    def settles_at(self) -> float:
        return self.phases[-1][0]

    def truncate(self, now: float) -> None:
        self.phases = [p for p in self.phases if p[0] <= now] or self.phases[:1]


@dataclass
class _Resource:
    kind: str
    arn: str
    name: str
    region: str
    created: float
    seq: int
    timeline: _Timeline
    body: dict[str, Any]
    parent: str | None = None
    failure_reason: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    updates: list[_Update] = field(default_factory=list)
    auto_trainings: int = 0  # automatic solution versions started (solutions only)
    auto_next: float | None = None  # when the next automatic training is due (solutions only)

    def status(self, now: float) -> str:
        return self.timeline.status(now)


@dataclass
class _Update:
    created: float
    timeline: _Timeline
    changes: dict[str, Any]
    failure_reason: str | None = None


@dataclass
class _Failure:
    kind: str
    match: str | None
    reason: str
    remaining: int


@dataclass(frozen=True)
class ResourceInfo:
    """A row of ``PersonalizeDouble.resources()``."""

    kind: str
    arn: str
    name: str
    status: str
    region: str
    parent: str | None


@dataclass
class _Ctx:
    region: str
    now: float


class _ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _not_found(arn: str) -> _ApiError:
    return _ApiError("ResourceNotFoundException", f"Resource Arn {arn} does not exist.")


def _in_use(message: str) -> _ApiError:
    return _ApiError("ResourceInUseException", message)


def _invalid(message: str) -> _ApiError:
    return _ApiError("InvalidInputException", message)


def _service_rule(check: Callable[..., None], *args: Any) -> None:
    """Run a tests/support/service_rules.py check; a refusal is the operation's InvalidInputException (model)."""
    try:
        check(*args)
    except service_rules.ServiceRuleError as exc:
        raise _invalid(str(exc)) from None


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --------------------------------------------------------------------------------------------------
# The double
# --------------------------------------------------------------------------------------------------
_INSTALL_LOCK = threading.Lock()
_installed_double: PersonalizeDouble | None = None


class PersonalizeDouble(DataJobsMixin, RecommendersMixin, SegmentsMixin):
    """Stateful Amazon Personalize control plane. See the module docstring.

    Args:
        clock: simulated seconds; statuses derive from it. Default ``time.time`` (real time).
        durations: overrides of ``DEFAULT_DURATIONS`` (seconds per transition).
        quotas: overrides of ``DEFAULT_QUOTAS``.
        account_id: account in ARNs and ``DescribeEventTracker.accountId``.
        pending_fraction: share of a duration spent in ``CREATE PENDING``/``DELETE PENDING``/``PENDING``.
        start_time: wall-clock datetime that ``clock()`` at construction maps to (reported timestamps
            are ``start_time + (clock() - clock_at_construction)``). Default: now.
        epoch: alternatively, the datetime that ``clock() == 0`` maps to (reported timestamps are
            ``epoch + clock()``), for a simulated clock that starts at 0 and is shared with other
            fakes. Overrides ``start_time``.
        strict_output: assert every response only uses members of the operation's output shape.
        auto_training: simulate automatic training: a solution with ``performAutoTraining`` (the
            service's default) gets an ``AUTOMATIC`` solution version ``auto_training_delay`` seconds
            after it turns ACTIVE (skipped if a manual version was created in that hour), then one
            every ``schedulingExpression`` (``rate(N days)``, default 7 days). Off by default.
    """

    def __init__(
        self,
        clock: Callable[[], float] | None = None,
        durations: Mapping[str, float] | None = None,
        quotas: Mapping[str, int] | None = None,
        account_id: str = "123456789012",
        pending_fraction: float = 0.05,
        start_time: _dt.datetime | None = None,
        strict_output: bool = True,
        epoch: _dt.datetime | None = None,
        auto_training: bool = False,
    ) -> None:
        unknown = set(durations or ()) - set(DEFAULT_DURATIONS)
        if unknown:
            raise ValueError(f"unknown duration keys {sorted(unknown)}; known: {sorted(DEFAULT_DURATIONS)}")
        unknown = set(quotas or ()) - set(DEFAULT_QUOTAS)
        if unknown:
            raise ValueError(f"unknown quota keys {sorted(unknown)}; known: {sorted(DEFAULT_QUOTAS)}")
        self.clock: Callable[[], float] = clock or time.time
        self.durations: dict[str, float] = {**DEFAULT_DURATIONS, **(durations or {})}
        self.quotas: dict[str, int] = {**DEFAULT_QUOTAS, **(quotas or {})}
        self.account_id = account_id
        self.pending_fraction = pending_fraction
        self.strict_output = strict_output
        self.auto_training = auto_training
        #: every call as (OperationName, params), in order, including throttled and rejected ones
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: GetSolutionMetrics: (version ARN, the recipe's deterministic metrics) -> the metrics answered
        self.solution_metrics: Callable[[str, dict[str, float]], dict[str, float]] | None = None
        self._lock = threading.RLock()
        if epoch is not None:
            self._t0, self._epoch0 = 0.0, epoch.timestamp()
        else:
            self._t0 = self.clock()
            self._epoch0 = (start_time or _dt.datetime.now(_dt.UTC)).timestamp()
        self._store: dict[str, _Resource] = {}
        self._seq = 0
        self._slow: dict[str, float] = {}
        self._throttles: dict[str, int] = {}
        self._failures: list[_Failure] = []
        #: Asked before the service acts on the customer's resources with a passed role:
        #: ``service_access(role_arn, action, resource_arn)`` raises PermissionError when denied.
        self.service_access: Callable[[str, str, str], None] | None = None
        #: Asked for every call before anything else (IAM of the caller, tests/rehearsal/iam.py): raises the
        #: botocore ClientError the service answers (AccessDeniedException) when the caller may not.
        self.caller_access: Callable[[Any, str, dict[str, Any]], None] | None = None
        #: Names of jobs that cannot be deleted, per (region, kind): taken for good once used.
        self._spent_names: dict[tuple[str, str], set[str]] = {}
        self._import_stats: dict[str, ImportStats] = {}  # what each import job brought in

    def read_object(self, uri: str) -> bytes:
        """The bytes of an ``s3://`` object an import job reads (moto's S3 when mocked). Replace it on
        the instance (``double.read_object = ...``) to serve data without S3."""
        import boto3

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read())

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[PersonalizeDouble]:
        """Route every ``personalize`` client call in the process to this double while active."""
        global _installed_double
        with _INSTALL_LOCK:
            if _installed_double is not None:
                raise RuntimeError("a PersonalizeDouble is already installed")
            original = botocore.client.BaseClient._make_api_call
            double = self

            def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
                if client.meta.service_model.service_name == "personalize":
                    return double._handle(client, operation_name, api_params)
                return original(client, operation_name, api_params)

            botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
            _installed_double = self
        try:
            yield self
        finally:
            with _INSTALL_LOCK:
                botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
                _installed_double = None

    # ------------------------------------------------------------------ fault injection & knobs
    def throttle(self, operation: str, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` (``CreateCampaign`` or ``create_campaign``)
        raise ``ThrottlingException``."""
        op = _api_name(operation)
        with self._lock:
            self._throttles[op] = self._throttles.get(op, 0) + times

    def fail_next(self, kind: str, reason: str, match: str | None = None, times: int = 1) -> None:
        """The next ``times`` resources of ``kind`` created (whose name, ARN or parent name/type
        matches ``match``, if given) end ``CREATE FAILED`` with ``failureReason=reason``."""
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {KINDS}")
        with self._lock:
            self._failures.append(_Failure(kind, match, reason, times))

    def fail_import(self, dataset: str, reason: str = _DEFAULT_IMPORT_FAILURE, times: int = 1) -> None:
        """The next import job into the dataset named ``dataset`` - or of that dataset type
        (``Interactions``/``ITEMS``/...), or with that dataset ARN - ends ``CREATE FAILED``."""
        self.fail_next("dataset_import_job", reason, match=dataset, times=times)

    def fail_next_import(self, reason: str = _DEFAULT_IMPORT_FAILURE) -> None:
        """The next import job, into any dataset, ends ``CREATE FAILED`` with ``reason``."""
        self.fail_next("dataset_import_job", reason)

    def fail_training(self, solution: str, reason: str = _DEFAULT_TRAINING_FAILURE, times: int = 1) -> None:
        """The next version of the solution named ``solution`` (or with that ARN) ends ``CREATE FAILED``."""
        self.fail_next("solution_version", reason, match=solution, times=times)

    def slow(self, key: str, factor: float) -> None:
        """Multiply a duration (a ``DEFAULT_DURATIONS`` key: ``campaign``, ``delete_campaign``...)
        for operations started from now on. ``slow("delete_campaign", 10)`` makes teardown crawl."""
        if key not in self.durations:
            raise ValueError(f"unknown duration key {key!r}; known: {sorted(self.durations)}")
        with self._lock:
            self._slow[key] = factor

    def set_quota(self, name: str, value: int) -> None:
        if name not in self.quotas:
            raise ValueError(f"unknown quota {name!r}; known: {sorted(self.quotas)}")
        with self._lock:
            self.quotas[name] = value

    # ------------------------------------------------------------------ inspection
    def status(self, arn: str) -> str | None:
        """Current status of ``arn`` (``ACTIVE`` for schemas), or None if it does not exist."""
        with self._lock:
            now = self.clock()
            self._sweep(now)
            res = self._store.get(arn)
            return None if res is None else res.status(now)

    def now_status(self, kind: str, arn: str) -> str | None:
        """``status(arn)``, asserting the resource (if any) is of ``kind``."""
        with self._lock:
            res = self._store.get(arn)
            if res is not None and res.kind != kind:
                raise ValueError(f"{arn} is a {res.kind}, not a {kind}")
            return self.status(arn)

    def resources(self, kind: str | None = None) -> list[ResourceInfo]:
        """Everything that exists now (including resources being deleted), oldest first."""
        with self._lock:
            now = self.clock()
            self._sweep(now)
            return [
                ResourceInfo(r.kind, r.arn, r.name, r.status(now), r.region, r.parent)
                for r in sorted(self._store.values(), key=lambda r: r.seq)
                if kind is None or r.kind == kind
            ]

    def arns(self, kind: str) -> list[str]:
        return [r.arn for r in self.resources(kind)]

    def call_count(self, operation: str) -> int:
        op = _api_name(operation)
        with self._lock:
            return sum(1 for name, _ in self.calls if name == op)

    def seconds_until_settled(self, arn: str | None = None) -> float:
        """Simulated seconds until ``arn`` (or every resource, update and deletion) reaches its
        final state; ``clock.advance(double.seconds_until_settled())`` finishes everything."""
        with self._lock:
            now = self.clock()
            if arn is None:
                resources = list(self._store.values())
            else:
                resources = [self._store[arn]] if arn in self._store else []
            ends = [now]
            for res in resources:
                ends.append(res.timeline.settles_at())
                ends.extend(u.timeline.settles_at() for u in res.updates)
            return max(ends) - now

    # ------------------------------------------------------------------ plumbing
    def _handle(self, client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        model = client.meta.service_model.operation_model(operation_name)
        with self._lock:
            self.calls.append((operation_name, copy.deepcopy(api_params)))
            throttled = self._throttles.get(operation_name, 0) > 0
            if throttled:
                self._throttles[operation_name] -= 1
        if self.caller_access is not None:
            self.caller_access(client, operation_name, api_params)
        if throttled:
            self._raise(client, model, _ApiError("ThrottlingException", "Rate exceeded"))
        if client.meta.config.parameter_validation and model.input_shape is not None:
            validate_parameters(api_params, model.input_shape)  # botocore's ParamValidationError
        try:
            validate_operation_params(model, api_params)
        except RequestValidationError as exc:
            self._raise(client, model, _ApiError("ValidationException", exc.aws_message))
        handler = getattr(self, f"_op_{operation_name}", None)
        if handler is None:
            raise NotImplementedError(f"PersonalizeDouble does not implement {operation_name}")
        with self._lock:
            now = self.clock()
            self._sweep(now)
            try:
                result = handler(copy.deepcopy(api_params), _Ctx(client.meta.region_name, now))
            except _ApiError as err:
                error = err
            else:
                error = None
        if error is not None:
            self._raise(client, model, error)
        return self._respond(model, result or {})

    def _http(self, status: int, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body).encode()
        request_id = str(uuid.uuid4())
        return {
            "status_code": status,
            "headers": {
                "x-amzn-requestid": request_id,
                "content-type": "application/x-amz-json-1.1",
                "content-length": str(len(payload)),
                "date": _dt.datetime.now(_dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
            },
            "body": payload,
        }

    def _respond(self, model: Any, result: dict[str, Any]) -> dict[str, Any]:
        if self.strict_output:
            _check_output(model.output_shape, result, model.name)
        parser = botocore.parsers.create_parser("json")
        parsed = parser.parse(self._http(200, result), model.output_shape)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        return parsed

    def _raise(self, client: Any, model: Any, error: _ApiError) -> None:
        parser = botocore.parsers.create_parser("json")
        body = {"__type": error.code, "message": error.message}
        parsed = parser.parse(self._http(error.status, body), model.output_shape)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        raise client.exceptions.from_code(error.code)(parsed, model.name)

    # ------------------------------------------------------------------ store helpers
    def _arn(self, region: str, suffix: str) -> str:
        return f"arn:{_partition(region)}:personalize:{region}:{self.account_id}:{suffix}"

    def _wall(self, t: float) -> float:
        return self._epoch0 + (t - self._t0)

    def _duration(self, key: str) -> float:
        return self.durations[key] * self._slow.get(key, 1.0)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _short_id(self, salt: str) -> str:
        return hashlib.sha256(f"{salt}#{self._seq}".encode()).hexdigest()[:8]

    def _timeline(
        self,
        key: str,
        now: float,
        fail_reason: str | None = None,
        pending: str = CREATE_PENDING,
        in_progress: str = CREATE_IN_PROGRESS,
    ) -> _Timeline:
        duration = self._duration(key)
        final = CREATE_FAILED if fail_reason else ACTIVE
        if duration <= 0:
            return _Timeline([(now, final)])
        return _Timeline(
            [(now, pending), (now + duration * self.pending_fraction, in_progress), (now + duration, final)]
        )

    def _take_failure(self, kind: str, candidates: Iterable[str | None]) -> str | None:
        names = {c.casefold() for c in candidates if c}
        for failure in self._failures:
            matches = failure.match is None or failure.match.casefold() in names
            if failure.kind == kind and failure.remaining > 0 and matches:
                failure.remaining -= 1
                return failure.reason
        return None

    def _add(
        self,
        kind: str,
        arn: str,
        name: str,
        ctx: _Ctx,
        body: dict[str, Any],
        *,
        parent: str | None = None,
        tags: list[dict[str, str]] | None = None,
        timeline: _Timeline | None = None,
        failure_reason: str | None = None,
    ) -> _Resource:
        res = _Resource(
            kind=kind,
            arn=arn,
            name=name,
            region=ctx.region,
            created=ctx.now,
            seq=self._next_seq(),
            timeline=timeline or self._timeline(kind, ctx.now, failure_reason),
            body=body,
            parent=parent,
            failure_reason=failure_reason,
            tags=list(tags or []),
        )
        self._store[arn] = res
        return res

    def _get(self, arn: str, kind: str, ctx: _Ctx) -> _Resource:
        res = self._store.get(arn)
        if res is None or res.kind != kind or res.region != ctx.region:
            raise _not_found(arn)
        return res

    def _unique(self, arn: str) -> None:
        if arn in self._store:
            raise _ApiError("ResourceAlreadyExistsException", f"Another resource with Arn {arn} already exists.")

    def _claim_name(self, kind: str, name: str, ctx: _Ctx) -> None:
        """Import and batch inference jobs cannot be deleted (no Delete operation in the API): a name
        used once stays taken, even when the job's parents are gone (STRICTER, see module docstring)."""
        spent = self._spent_names.setdefault((ctx.region, kind), set())
        if name in spent:
            raise _ApiError(
                "ResourceAlreadyExistsException",
                f"A {kind.replace('_', ' ')} named {name} already exists in this account.",
            )
        spent.add(name)

    def _denied(self, role_arn: str | None, checks: Iterable[tuple[str, str]]) -> str | None:
        """The failureReason when the service, acting with ``role_arn``, may not do one of ``checks``
        ((action, resource ARN) pairs); None when allowed or no checker is installed."""
        if self.service_access is None:
            return None
        for action, resource in checks:
            try:
                self.service_access(role_arn or "", action, resource)
            except PermissionError as denied:
                return (
                    f"Insufficient privileges: Amazon Personalize could not perform {action} on {resource} "
                    f"with role {role_arn or '(none)'}: {denied}"
                )
        return None

    def _require_active(self, res: _Resource, ctx: _Ctx, what: str = "") -> None:
        status = res.status(ctx.now)
        if status != ACTIVE:
            label = what or res.kind.replace("_", " ")
            raise _in_use(f"The {label} {res.arn} is not in ACTIVE state (status: {status}).")

    def _children(self, arn: str, *kinds: str) -> list[_Resource]:
        return [r for r in self._store.values() if r.parent == arn and (not kinds or r.kind in kinds)]

    def _alive(self, ctx: _Ctx, kind: str) -> list[_Resource]:
        return [r for r in self._store.values() if r.kind == kind and r.region == ctx.region]

    def _group_schemas(self, group_arn: str) -> dict[str, str]:
        """Schema JSON of each dataset of a group by dataset type, as service_rules reads the group."""
        datasets = self._children(group_arn, "dataset")
        return {d.body["datasetType"]: self._store[d.body["schemaArn"]].body["schema"] for d in datasets}

    def _sweep(self, now: float) -> None:
        """Bring the store up to ``now``: drop what finished deleting, start due automatic trainings."""
        for res in [r for r in self._store.values() if r.status(now) == _GONE]:
            self._remove(res.arn)
        if self.auto_training:
            for solution in [r for r in self._store.values() if r.kind == "solution"]:
                self._auto_train(solution, now)

    def _auto_train(self, solution: _Resource, now: float) -> None:
        phases = solution.timeline.phases
        active_at = next((start for start, status in phases if status == ACTIVE), None)
        if active_at is None:
            return
        if solution.auto_next is None:
            solution.auto_next = active_at + self._duration("auto_training_delay")
        period = 86400.0 * _rate_days(
            solution.body.get("solutionConfig", {}).get("autoTrainingConfig", {}).get("schedulingExpression")
        )
        while solution.auto_next <= now:
            due = solution.auto_next
            solution.auto_next = due + period
            if solution.status(due) != ACTIVE or not self._auto_training_on(solution, due):
                continue
            versions = self._children(solution.arn, "solution_version")
            if solution.auto_trainings == 0 and any(active_at <= v.created <= due for v in versions):
                solution.auto_trainings = 1  # a manual version within the hour skips the first one
                continue
            solution.auto_trainings += 1
            ctx = _Ctx(solution.region, due)
            try:
                self._interactions_ready(solution.body["datasetGroupArn"], ctx)
                fail = self._take_failure("solution_version", [solution.name, solution.arn])
                fail = fail or self._training_shortfall(solution, ctx)
            except _ApiError as exc:
                fail = exc.message
            self._new_version(solution, ctx, {"trainingMode": "AUTOTRAIN"}, "AUTOMATIC", fail)

    def _auto_training_on(self, solution: _Resource, at: float) -> bool:
        enabled = solution.body["performAutoTraining"]
        for update in solution.updates:
            if "performAutoTraining" in update.changes and update.timeline.status(at) == ACTIVE:
                enabled = update.changes["performAutoTraining"]
        return bool(enabled)

    def _remove(self, arn: str) -> None:
        self._store.pop(arn, None)
        for child in [r for r in self._store.values() if r.parent == arn]:
            if child.kind in ("dataset_import_job", "solution_version"):
                self._remove(child.arn)

    def _start_delete(self, res: _Resource, ctx: _Ctx) -> None:
        status = res.status(ctx.now)
        if status in IN_FLIGHT:
            raise _in_use(f"Resource {res.arn} is being created (status: {status}). Try again later.")
        if status in DELETING:
            raise _in_use(f"Resource {res.arn} is already being deleted (status: {status}).")
        duration = self._duration(f"delete_{res.kind}")
        if duration <= 0:
            self._remove(res.arn)
            return
        res.timeline.truncate(ctx.now)
        res.timeline.phases += [
            (ctx.now, DELETE_PENDING),
            (ctx.now + duration * self.pending_fraction, DELETE_IN_PROGRESS),
            (ctx.now + duration, _GONE),
        ]

    def _quota(self, name: str, used: int) -> None:
        limit = self.quotas[name]
        if used >= limit:
            raise _ApiError(
                "LimitExceededException",
                f"You have reached the quota '{QUOTA_NAMES[name]}' ({limit}) in this region. "
                "Delete unused resources or request a quota increase.",
            )

    # ------------------------------------------------------------------ views
    def _ts(self, t: float) -> float:
        return round(self._wall(t), 3)

    def _view(self, res: _Resource, ctx: _Ctx, *, with_status: bool = True) -> dict[str, Any]:
        """What Describe and List show: the body without the double's private `_` members, the times, the
        status and, where the model has the member, the failure reason."""
        view = copy.deepcopy({k: v for k, v in res.body.items() if not k.startswith("_")})
        status = res.status(ctx.now)
        view["creationDateTime"] = self._ts(res.created)
        view["lastUpdatedDateTime"] = self._ts(res.timeline.since(ctx.now) if with_status else res.created)
        if with_status:
            view["status"] = status
            # Datasets, solutions and event trackers have no failureReason member in the service model;
            # data deletion jobs fail as FAILED (botocore DataDeletionJob.status), the others CREATE FAILED.
            failed = status in (CREATE_FAILED, "FAILED")
            if failed and res.failure_reason and res.kind not in _NO_FAILURE_REASON:
                view["failureReason"] = res.failure_reason
        return view

    def _page(self, items: list[dict[str, Any]], key: str, params: Mapping[str, Any], op: str) -> dict[str, Any]:
        size = params.get("maxResults") or 100
        offset = 0
        token = params.get("nextToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                if decoded["op"] != op:
                    raise ValueError(op)
                offset = int(decoded["offset"])
            except (ValueError, KeyError, TypeError) as exc:
                raise _ApiError("InvalidNextTokenException", "The next token is invalid.") from exc
        members = _summary_members(op, key)
        page = [{k: v for k, v in item.items() if k in members} for item in items[offset : offset + size]]
        out: dict[str, Any] = {key: page}
        if offset + size < len(items):
            raw = json.dumps({"op": op, "offset": offset + size}).encode()
            out["nextToken"] = base64.urlsafe_b64encode(raw).decode()
        return out

    def _listing(
        self,
        kind: str,
        ctx: _Ctx,
        params: Mapping[str, Any],
        key: str,
        op: str,
        keep: Callable[[_Resource], bool] = lambda r: True,
        view: Callable[[_Resource, _Ctx], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        rows = sorted((r for r in self._alive(ctx, kind) if keep(r)), key=lambda r: r.seq, reverse=True)
        render = view or self._view
        return self._page([render(r, ctx) for r in rows], key, params, op)

    # ================================================================== operations
    # ---- dataset groups
    def _op_CreateDatasetGroup(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"dataset-group/{p['name']}")
        self._unique(arn)
        body = {"name": p["name"], "datasetGroupArn": arn}
        for key in ("roleArn", "kmsKeyArn", "domain"):
            if key in p:
                body[key] = p[key]
        fail = self._take_failure("dataset_group", [p["name"], arn])
        if "kmsKeyArn" in p:
            # The service uses the key with the passed role (CreateDatasetGroup: "roleArn - The ARN of the
            # IAM role that has permissions to access the KMS key").
            fail = fail or self._denied(p.get("roleArn"), ((a, p["kmsKeyArn"]) for a in _KMS_ACTIONS))
        self._add("dataset_group", arn, p["name"], ctx, body, tags=p.get("tags"), failure_reason=fail)
        out = {"datasetGroupArn": arn}
        if "domain" in p:
            out["domain"] = p["domain"]
        return out

    def _op_DescribeDatasetGroup(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"datasetGroup": self._view(self._get(p["datasetGroupArn"], "dataset_group", ctx), ctx)}

    def _op_ListDatasetGroups(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return self._listing("dataset_group", ctx, p, "datasetGroups", "ListDatasetGroups")

    def _op_DeleteDatasetGroup(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        blockers = self._children(
            res.arn, "dataset", "solution", "filter", "event_tracker", "recommender", "metric_attribution"
        )
        if blockers:
            kinds = sorted({b.kind.replace("_", " ") + "s" for b in blockers})
            raise _in_use(
                f"Dataset group {res.arn} still has {', '.join(kinds)}. Delete them before the dataset group."
            )
        self._start_delete(res, ctx)

    # ---- schemas
    def _op_CreateSchema(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        _service_rule(service_rules.check_create_schema, p)
        arn = self._arn(ctx.region, f"schema/{p['name']}")
        self._unique(arn)
        fields = _avro_fields(p["schema"])
        body = {"name": p["name"], "schemaArn": arn, "schema": p["schema"]}
        if "domain" in p:
            body["domain"] = p["domain"]
        res = self._add("schema", arn, p["name"], ctx, body)
        res.body["_fields"] = fields
        return {"schemaArn": arn}

    def _schema_view(self, res: _Resource, ctx: _Ctx) -> dict[str, Any]:
        return self._view(res, ctx, with_status=False)

    def _op_DescribeSchema(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"schema": self._schema_view(self._get(p["schemaArn"], "schema", ctx), ctx)}

    def _op_ListSchemas(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return self._listing("schema", ctx, p, "schemas", "ListSchemas", view=self._schema_view)

    def _op_DeleteSchema(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._get(p["schemaArn"], "schema", ctx)
        users = [r.arn for r in self._alive(ctx, "dataset") if r.body["schemaArn"] == res.arn]
        if users:
            raise _in_use(f"Schema {res.arn} is used by dataset(s) {', '.join(users)}.")
        self._start_delete(res, ctx)

    # ---- datasets
    def _op_CreateDataset(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        schema = self._get(p["schemaArn"], "schema", ctx)
        _service_rule(service_rules.check_create_dataset, p, schema.body["schema"])
        dataset_type = p["datasetType"].upper()
        if dataset_type not in _DATASET_TYPES:
            raise _invalid(f"Dataset type {p['datasetType']} is not one of {', '.join(_DATASET_TYPES)}.")
        missing = [f for f in _DATASET_TYPES[dataset_type] if f not in schema.body["_fields"]]
        if missing:
            raise _invalid(
                f"Schema {schema.arn} is not valid for a {dataset_type} dataset: "
                f"required field(s) {', '.join(missing)} missing."
            )
        if schema.body.get("domain") != group.body.get("domain"):
            raise _invalid(f"The domain of schema {schema.arn} does not match the dataset group's domain.")
        self._check_domain_dataset(schema, dataset_type, group.body.get("domain"))
        self._require_active(group, ctx, "dataset group")
        arn = self._arn(ctx.region, f"dataset/{group.name}/{dataset_type}")
        self._unique(arn)
        if any(d.name == p["name"] for d in self._alive(ctx, "dataset")):
            # STRICTER: dataset names unique per account, as every other named resource's.
            raise _ApiError("ResourceAlreadyExistsException", f"A dataset named {p['name']} already exists.")
        body = {
            "name": p["name"],
            "datasetArn": arn,
            "datasetGroupArn": group.arn,
            "datasetType": p["datasetType"],
            "schemaArn": schema.arn,
        }
        fail = self._take_failure("dataset", [p["name"], arn, dataset_type])
        self._add("dataset", arn, p["name"], ctx, body, parent=group.arn, tags=p.get("tags"), failure_reason=fail)
        return {"datasetArn": arn}

    def _op_DescribeDataset(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"dataset": self._view(self._get(p["datasetArn"], "dataset", ctx), ctx)}

    def _op_ListDatasets(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        return self._listing(
            "dataset", ctx, p, "datasets", "ListDatasets", keep=lambda r: group is None or r.parent == group
        )

    def _op_DeleteDataset(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._get(p["datasetArn"], "dataset", ctx)
        for job in self._children(res.arn, "dataset_import_job"):
            if job.status(ctx.now) in IN_FLIGHT:
                raise _in_use(f"Dataset {res.arn} has dataset import job {job.arn} in progress.")
        for solution in self._children(res.parent or "", "solution"):
            for version in self._children(solution.arn, "solution_version"):
                if version.status(ctx.now) in IN_FLIGHT:
                    raise _in_use(f"Dataset {res.arn} is in use by solution version {version.arn} in progress.")
        self._start_delete(res, ctx)

    # ---- dataset import jobs
    def _op_CreateDatasetImportJob(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"dataset-import-job/{p['jobName']}")
        self._unique(arn)
        dataset = self._get(p["datasetArn"], "dataset", ctx)
        self._require_active(dataset, ctx, "dataset")
        for job in self._children(dataset.arn, "dataset_import_job"):
            if job.status(ctx.now) in IN_FLIGHT:
                raise _in_use(f"Dataset {dataset.arn} already has dataset import job {job.arn} in progress.")
        self._claim_name("dataset_import_job", p["jobName"], ctx)
        body = {
            "jobName": p["jobName"],
            "datasetImportJobArn": arn,
            "datasetArn": dataset.arn,
            "dataSource": p["dataSource"],
            "importMode": p.get("importMode", "FULL"),
            "publishAttributionMetricsToS3": p.get("publishAttributionMetricsToS3", False),
        }
        if "roleArn" in p:
            body["roleArn"] = p["roleArn"]
        candidates = [
            p["jobName"],
            arn,
            dataset.name,
            dataset.arn,
            dataset.body["datasetType"],
            dataset.arn.rsplit("/", 1)[1],
        ]
        fail = self._take_failure("dataset_import_job", candidates)
        stats = ImportStats()
        if fail is None:
            fail, stats = self._read_import(dataset, p["dataSource"]["dataLocation"], p.get("roleArn"), ctx)
        self._add(
            "dataset_import_job",
            arn,
            p["jobName"],
            ctx,
            body,
            parent=dataset.arn,
            tags=p.get("tags"),
            failure_reason=fail,
        )
        self._import_stats[arn] = stats
        return {"datasetImportJobArn": arn}

    def _read_import(
        self, dataset: _Resource, uri: str, role_arn: str | None, ctx: _Ctx
    ) -> tuple[str | None, ImportStats]:
        """What the import job will end with: the service lists the bucket and reads the object with the
        passed role ("Giving Amazon Personalize access to Amazon S3 resources": s3:ListBucket and
        s3:GetObject), then checks the CSV against the dataset's schema (tests.support.import_data)."""
        partition = _partition(ctx.region)
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        denied = self._denied(
            role_arn,
            (
                ("s3:ListBucket", f"arn:{partition}:s3:::{bucket}"),
                ("s3:GetObject", f"arn:{partition}:s3:::{bucket}/{key}"),
            ),
        )
        if denied:
            return denied, ImportStats()
        try:
            data = self.read_object(uri)
        except Exception as exc:  # NoSuchKey, NoSuchBucket, AccessDenied from moto
            return f"Input data not found or not readable at {uri} ({exc}).", ImportStats()
        schema = self._store[dataset.body["schemaArn"]].body["schema"]
        return check_import(data, schema, dataset.body["datasetType"].upper())

    def _op_DescribeDatasetImportJob(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["datasetImportJobArn"], "dataset_import_job", ctx)
        return {"datasetImportJob": self._view(res, ctx)}

    def _op_ListDatasetImportJobs(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        dataset = p.get("datasetArn")
        return self._listing(
            "dataset_import_job",
            ctx,
            p,
            "datasetImportJobs",
            "ListDatasetImportJobs",
            keep=lambda r: dataset is None or r.parent == dataset,
        )

    # ---- solutions
    def _recipe(self, arn: str) -> _Recipe:
        name = arn[len(_RECIPE_ARN_PREFIX) :] if arn.startswith(_RECIPE_ARN_PREFIX) else ""
        if name not in RECIPES:
            raise _not_found(arn)
        return RECIPES[name]

    def _op_CreateSolution(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"solution/{p['name']}")
        self._unique(arn)
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        _service_rule(service_rules.check_create_solution, p, p.get("recipeArn"), self._group_schemas(group.arn))
        auto_ml = p.get("performAutoML", False)
        if "recipeArn" in p:
            self._recipe(p["recipeArn"])
        elif not auto_ml:
            raise _invalid("A recipeArn is required unless performAutoML is true.")
        self._require_active(group, ctx, "dataset group")
        body: dict[str, Any] = {
            "name": p["name"],
            "solutionArn": arn,
            "performHPO": p.get("performHPO", False),
            "performAutoML": auto_ml,
            "performAutoTraining": p.get("performAutoTraining", True),  # the service's default
            "performIncrementalUpdate": p.get("performIncrementalUpdate", False),
            "datasetGroupArn": group.arn,
        }
        for key in ("recipeArn", "eventType", "solutionConfig"):
            if key in p:
                body[key] = p[key]
        fail = self._take_failure("solution", [p["name"], arn])
        self._add("solution", arn, p["name"], ctx, body, parent=group.arn, tags=p.get("tags"), failure_reason=fail)
        return {"solutionArn": arn}

    def _version_summary(self, version: _Resource, ctx: _Ctx) -> dict[str, Any]:
        view = self._version_view(version, ctx)
        keys = (
            "solutionVersionArn",
            "status",
            "trainingMode",
            "trainingType",
            "creationDateTime",
            "lastUpdatedDateTime",
            "failureReason",
        )
        return {k: view[k] for k in keys if k in view}

    def _update_summary(self, update: _Update, ctx: _Ctx, changes: Iterable[str]) -> dict[str, Any]:
        status = update.timeline.status(ctx.now)
        out = {k: copy.deepcopy(update.changes[k]) for k in changes if k in update.changes}
        out.update(
            status=status,
            creationDateTime=self._ts(update.created),
            lastUpdatedDateTime=self._ts(update.timeline.since(ctx.now)),
        )
        if status == CREATE_FAILED and update.failure_reason:
            out["failureReason"] = update.failure_reason
        return out

    def _applied_updates(self, res: _Resource, ctx: _Ctx) -> dict[str, Any]:
        applied: dict[str, Any] = {}
        for update in res.updates:
            if update.timeline.status(ctx.now) == ACTIVE:
                applied.update(copy.deepcopy(update.changes))
        return applied

    def _solution_view(self, res: _Resource, ctx: _Ctx) -> dict[str, Any]:
        view = self._view(res, ctx)
        applied = self._applied_updates(res, ctx)
        for key in ("performAutoTraining", "performIncrementalUpdate"):
            if key in applied:
                view[key] = applied[key]
        if "solutionUpdateConfig" in applied:
            config = view.setdefault("solutionConfig", {})
            config.update(copy.deepcopy(applied["solutionUpdateConfig"]))
        if view["performAutoTraining"]:
            # Default schedule echoed (AutoTrainingConfig.schedulingExpression: "the default is every 7 days").
            auto = view.setdefault("solutionConfig", {}).setdefault("autoTrainingConfig", {})
            auto.setdefault("schedulingExpression", "rate(7 days)")
        versions = sorted(self._children(res.arn, "solution_version"), key=lambda r: r.seq)
        if versions:
            view["latestSolutionVersion"] = self._version_summary(versions[-1], ctx)
            if res.body["performAutoML"] and any(v.status(ctx.now) == ACTIVE for v in versions):
                view["autoMLResult"] = {"bestRecipeArn": _RECIPE_ARN_PREFIX + "aws-user-personalization"}
        if res.updates:
            view["latestSolutionUpdate"] = self._update_summary(
                res.updates[-1],
                ctx,
                ("solutionUpdateConfig", "performAutoTraining", "performIncrementalUpdate"),
            )
        return view

    def _op_DescribeSolution(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"solution": self._solution_view(self._get(p["solutionArn"], "solution", ctx), ctx)}

    def _op_ListSolutions(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        return self._listing(
            "solution",
            ctx,
            p,
            "solutions",
            "ListSolutions",
            keep=lambda r: group is None or r.parent == group,
        )

    def _op_UpdateSolution(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["solutionArn"], "solution", ctx)
        self._require_active(res, ctx, "solution")
        if res.updates and res.updates[-1].timeline.status(ctx.now) in IN_FLIGHT:
            raise _in_use(f"Solution {res.arn} already has an update in progress.")
        changes = {
            k: p[k] for k in ("performAutoTraining", "performIncrementalUpdate", "solutionUpdateConfig") if k in p
        }
        res.updates.append(_Update(ctx.now, self._timeline("solution_update", ctx.now), changes))
        return {"solutionArn": res.arn}

    def _op_DeleteSolution(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._get(p["solutionArn"], "solution", ctx)
        campaigns = [c.arn for c in self._alive(ctx, "campaign") if c.body["_solutionArn"] == res.arn]
        if campaigns:
            raise _in_use(f"Solution {res.arn} is in use by campaign(s) {', '.join(campaigns)}.")
        for version in self._children(res.arn, "solution_version"):
            if version.status(ctx.now) in IN_FLIGHT:
                raise _in_use(f"Solution {res.arn} has solution version {version.arn} in progress.")
        self._start_delete(res, ctx)

    # ---- solution versions
    def _interactions_ready(self, group_arn: str, ctx: _Ctx) -> None:
        datasets = [d for d in self._children(group_arn, "dataset") if d.body["datasetType"].upper() == "INTERACTIONS"]
        if not datasets:
            raise _invalid(f"Dataset group {group_arn} has no Item interactions dataset.")
        jobs = self._children(datasets[0].arn, "dataset_import_job")
        if any(j.status(ctx.now) == ACTIVE for j in jobs):
            return
        running = [j.arn for j in jobs if j.status(ctx.now) in IN_FLIGHT]
        if running:
            raise _in_use(f"Dataset import job {running[0]} is still in progress. Wait until it is ACTIVE.")
        raise _invalid(f"There is no imported data in the interactions dataset {datasets[0].arn}.")

    def _training_shortfall(self, solution: _Resource, ctx: _Ctx) -> str | None:
        """Why training fails for lack of data (limits.html minimums, tests.support.import_data): the
        interactions of the latest ACTIVE FULL import and the ACTIVE INCREMENTAL ones after it."""
        datasets = [
            d
            for d in self._children(solution.body["datasetGroupArn"], "dataset")
            if d.body["datasetType"].upper() == "INTERACTIONS"
        ]
        jobs = sorted(
            (j for d in datasets for j in self._children(d.arn, "dataset_import_job") if j.status(ctx.now) == ACTIVE),
            key=lambda j: j.seq,
        )
        full = [i for i, j in enumerate(jobs) if j.body["importMode"] == "FULL"]
        counted = jobs[full[-1] :] if full else jobs
        stats = [self._import_stats.get(j.arn, ImportStats()) for j in counted]
        return training_shortfall(stats, solution.body.get("eventType"))

    def _op_CreateSolutionVersion(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        solution = self._get(p["solutionArn"], "solution", ctx)
        versions = self._children(solution.arn, "solution_version")
        _service_rule(service_rules.check_create_solution_version, p, solution.body.get("recipeArn"), not versions)
        if "name" in p and any(v.body.get("name") == p["name"] for v in versions):
            raise _ApiError(
                "ResourceAlreadyExistsException",
                f"A solution version named {p['name']} already exists for solution {solution.arn}.",
            )
        self._require_active(solution, ctx, "solution")
        self._interactions_ready(solution.body["datasetGroupArn"], ctx)
        mode = p.get("trainingMode", "FULL")
        # CreateSolutionVersion.trainingMode: "The UPDATE option can only be used when you already have an
        # active solution version created from the input solution using the FULL option".
        if mode == "UPDATE" and not any(
            v.status(ctx.now) == ACTIVE and v.body["trainingMode"] == "FULL" for v in versions
        ):
            raise _invalid("trainingMode UPDATE needs an ACTIVE solution version trained with trainingMode FULL.")
        in_flight = [v for v in self._alive(ctx, "solution_version") if v.status(ctx.now) in IN_FLIGHT]
        self._quota("concurrent_solution_versions", len(in_flight))
        fail = self._take_failure("solution_version", [solution.name, solution.arn, p.get("name")])
        fail = fail or self._training_shortfall(solution, ctx)
        arn = self._new_version(solution, ctx, p, "MANUAL", fail)
        return {"solutionVersionArn": arn}

    def _new_version(
        self, solution: _Resource, ctx: _Ctx, p: Mapping[str, Any], training_type: str, fail: str | None
    ) -> str:
        arn = f"{solution.arn}/{self._short_id(solution.arn)}"
        body = {
            "solutionVersionArn": arn,
            "solutionArn": solution.arn,
            "trainingMode": p.get("trainingMode", "FULL"),
            "trainingType": training_type,
        }
        if "name" in p:
            body["name"] = p["name"]
        for key in (
            "performHPO",
            "performAutoML",
            "performIncrementalUpdate",
            "recipeArn",
            "eventType",
            "datasetGroupArn",
            "solutionConfig",
        ):
            if key in solution.body:
                body[key] = copy.deepcopy(solution.body[key])
        self._add(
            "solution_version",
            arn,
            p.get("name", arn.rsplit("/", 1)[1]),
            ctx,
            body,
            parent=solution.arn,
            tags=p.get("tags"),
            failure_reason=fail,
        )
        return arn

    def _version_view(self, res: _Resource, ctx: _Ctx) -> dict[str, Any]:
        view = self._view(res, ctx)
        status = view["status"]
        if status in (ACTIVE, CREATE_STOPPED):
            view["trainingHours"] = round((res.timeline.since(ctx.now) - res.created) / 3600.0, 3)
        return view

    def _op_DescribeSolutionVersion(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", ctx)
        return {"solutionVersion": self._version_view(res, ctx)}

    def _op_ListSolutionVersions(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        solution = p.get("solutionArn")
        if solution is not None:
            self._get(solution, "solution", ctx)
        return self._listing(
            "solution_version",
            ctx,
            p,
            "solutionVersions",
            "ListSolutionVersions",
            keep=lambda r: solution is None or r.parent == solution,
            view=self._version_view,
        )

    def _op_StopSolutionVersionCreation(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._get(p["solutionVersionArn"], "solution_version", ctx)
        status = res.status(ctx.now)
        if status == CREATE_PENDING:
            res.timeline.truncate(ctx.now)
            res.timeline.phases.append((ctx.now, CREATE_STOPPED))
        elif status == CREATE_IN_PROGRESS:
            res.timeline.truncate(ctx.now)
            res.timeline.phases += [
                (ctx.now, CREATE_STOPPING),
                (ctx.now + self._duration("solution_version_stop"), CREATE_STOPPED),
            ]
        else:
            raise _in_use(f"Solution version {res.arn} cannot be stopped in state {status}.")

    def _op_GetSolutionMetrics(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["solutionVersionArn"], "solution_version", ctx)
        self._require_active(res, ctx, "solution version")
        recipe_arn = res.body.get("recipeArn", _RECIPE_ARN_PREFIX + "aws-user-personalization")
        metrics = _metrics(RECIPES[recipe_arn[len(_RECIPE_ARN_PREFIX) :]])
        if self.solution_metrics is not None:  # a test's own figures for a version (better or worse)
            metrics = self.solution_metrics(res.arn, metrics)
        return {"solutionVersionArn": res.arn, "metrics": metrics}

    # ---- campaigns
    def _resolve_version(self, arn: str, ctx: _Ctx) -> _Resource:
        if arn.endswith("/$LATEST"):
            solution = self._get(arn[: -len("/$LATEST")], "solution", ctx)
            active = [v for v in self._children(solution.arn, "solution_version") if v.status(ctx.now) == ACTIVE]
            if not active:
                raise _in_use(f"Solution {solution.arn} has no ACTIVE solution version.")
            return max(active, key=lambda v: v.seq)
        return self._get(arn, "solution_version", ctx)

    def _op_CreateCampaign(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"campaign/{p['name']}")
        self._unique(arn)
        version = self._resolve_version(p["solutionVersionArn"], ctx)
        schemas = self._group_schemas(version.body["datasetGroupArn"])
        _service_rule(service_rules.check_create_campaign, p, version.body.get("recipeArn"), schemas)
        self._require_active(version, ctx, "solution version")
        used = [c for c in self._alive(ctx, "campaign") if c.status(ctx.now) != CREATE_FAILED]
        self._quota("active_campaigns", len(used))
        body: dict[str, Any] = {
            "name": p["name"],
            "campaignArn": arn,
            "solutionVersionArn": p["solutionVersionArn"],
            "minProvisionedTPS": p.get("minProvisionedTPS", 1),
            "_solutionArn": version.parent,
        }
        if "campaignConfig" in p:
            body["campaignConfig"] = p["campaignConfig"]
        fail = self._take_failure("campaign", [p["name"], arn])
        self._add("campaign", arn, p["name"], ctx, body, parent=version.arn, tags=p.get("tags"), failure_reason=fail)
        return {"campaignArn": arn}

    def _campaign_config_defaults(self, res: _Resource) -> dict[str, Any]:
        """What DescribeCampaign shows in campaignConfig when the caller did not set it (module docstring)."""
        version = self._store.get(res.parent or "")
        recipe = ((version.body.get("recipeArn") if version else None) or "").removeprefix(_RECIPE_ARN_PREFIX)
        defaults: dict[str, Any] = {"enableMetadataWithRecommendations": False, "syncWithLatestSolutionVersion": False}
        if recipe in EXPLORATION_RECIPES:
            defaults["itemExplorationConfig"] = dict(EXPLORATION_DEFAULTS)
        return defaults

    def _campaign_view(self, res: _Resource, ctx: _Ctx) -> dict[str, Any]:
        view = self._view(res, ctx)
        view.update(self._applied_updates(res, ctx))
        config = self._campaign_config_defaults(res)
        for key, value in (view.get("campaignConfig") or {}).items():
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
        view["campaignConfig"] = config
        if res.updates:
            view["latestCampaignUpdate"] = self._update_summary(
                res.updates[-1], ctx, ("solutionVersionArn", "minProvisionedTPS", "campaignConfig")
            )
        return view

    def _op_DescribeCampaign(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"campaign": self._campaign_view(self._get(p["campaignArn"], "campaign", ctx), ctx)}

    def _op_ListCampaigns(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        solution = p.get("solutionArn")
        return self._listing(
            "campaign",
            ctx,
            p,
            "campaigns",
            "ListCampaigns",
            keep=lambda r: solution is None or r.body["_solutionArn"] == solution,
            view=self._campaign_view,
        )

    def _op_UpdateCampaign(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["campaignArn"], "campaign", ctx)
        status = res.status(ctx.now)
        if status not in (ACTIVE, CREATE_FAILED):
            raise _in_use(f"Campaign {res.arn} must be ACTIVE or CREATE FAILED to be updated (status: {status}).")
        if res.updates and res.updates[-1].timeline.status(ctx.now) in IN_FLIGHT:
            raise _in_use(f"Campaign {res.arn} already has an update in progress.")
        changes = {k: p[k] for k in ("solutionVersionArn", "minProvisionedTPS", "campaignConfig") if k in p}
        if "solutionVersionArn" in changes:
            version = self._resolve_version(changes["solutionVersionArn"], ctx)
            self._require_active(version, ctx, "solution version")
            if version.parent != res.body["_solutionArn"]:
                res.body["_solutionArn"] = version.parent
        fail = self._take_failure("campaign", [res.name, res.arn])
        res.updates.append(
            _Update(ctx.now, self._timeline("campaign_update", ctx.now, fail), changes, failure_reason=fail)
        )
        return {"campaignArn": res.arn}

    def _op_DeleteCampaign(self, p: dict[str, Any], ctx: _Ctx) -> None:
        self._start_delete(self._get(p["campaignArn"], "campaign", ctx), ctx)

    # ---- filters
    def _op_CreateFilter(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"filter/{p['name']}")
        self._unique(arn)
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        _service_rule(service_rules.check_create_filter, p, self._group_schemas(group.arn))
        if not _FILTER_EXPRESSION.match(p["filterExpression"]):
            raise _invalid(
                "Invalid filter expression: it must start with INCLUDE or EXCLUDE, then ItemID, UserID or "
                "ActionID, then WHERE and a condition."
            )
        self._require_active(group, ctx, "dataset group")
        self._quota("filters_per_dataset_group", len(self._children(group.arn, "filter")))
        body = {
            "name": p["name"],
            "filterArn": arn,
            "datasetGroupArn": group.arn,
            "filterExpression": normalized_filter_expression(p["filterExpression"]),
        }
        fail = self._take_failure("filter", [p["name"], arn])
        self._add("filter", arn, p["name"], ctx, body, parent=group.arn, tags=p.get("tags"), failure_reason=fail)
        return {"filterArn": arn}

    def _op_DescribeFilter(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"filter": self._view(self._get(p["filterArn"], "filter", ctx), ctx)}

    def _op_ListFilters(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        # The output member really is "Filters" (capital F) in the service model.
        return self._listing(
            "filter", ctx, p, "Filters", "ListFilters", keep=lambda r: group is None or r.parent == group
        )

    def _op_DeleteFilter(self, p: dict[str, Any], ctx: _Ctx) -> None:
        self._start_delete(self._get(p["filterArn"], "filter", ctx), ctx)

    # ---- event trackers
    def _op_CreateEventTracker(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = self._get(p["datasetGroupArn"], "dataset_group", ctx)
        existing = self._children(group.arn, "event_tracker")
        if existing:
            raise _ApiError(
                "ResourceAlreadyExistsException",
                f"Dataset group {group.arn} already has event tracker {existing[0].arn}; "
                "only one is allowed per dataset group.",
            )
        if any(t.name == p["name"] for t in self._alive(ctx, "event_tracker")):
            raise _ApiError("ResourceAlreadyExistsException", f"An event tracker named {p['name']} already exists.")
        self._require_active(group, ctx, "dataset group")
        tracker_id = self._short_id(f"event-tracker:{group.arn}")
        arn = self._arn(ctx.region, f"event-tracker/{tracker_id}")
        tracking_id = str(uuid.uuid5(uuid.NAMESPACE_URL, arn + f"#{self._seq}"))
        body = {
            "name": p["name"],
            "eventTrackerArn": arn,
            "accountId": self.account_id,
            "trackingId": tracking_id,
            "datasetGroupArn": group.arn,
        }
        fail = self._take_failure("event_tracker", [p["name"], arn])
        self._add(
            "event_tracker",
            arn,
            p["name"],
            ctx,
            body,
            parent=group.arn,
            tags=p.get("tags"),
            failure_reason=fail,
        )
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def _op_DescribeEventTracker(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"eventTracker": self._view(self._get(p["eventTrackerArn"], "event_tracker", ctx), ctx)}

    def _op_ListEventTrackers(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        group = p.get("datasetGroupArn")
        return self._listing(
            "event_tracker",
            ctx,
            p,
            "eventTrackers",
            "ListEventTrackers",
            keep=lambda r: group is None or r.parent == group,
        )

    def _op_DeleteEventTracker(self, p: dict[str, Any], ctx: _Ctx) -> None:
        self._start_delete(self._get(p["eventTrackerArn"], "event_tracker", ctx), ctx)

    # ---- batch inference jobs
    def _op_CreateBatchInferenceJob(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        arn = self._arn(ctx.region, f"batch-inference-job/{p['jobName']}")
        self._unique(arn)
        version = self._get(p["solutionVersionArn"], "solution_version", ctx)
        if "filterArn" in p:
            self._require_active(self._get(p["filterArn"], "filter", ctx), ctx, "filter")
        expression = self._store[p["filterArn"]].body["filterExpression"] if "filterArn" in p else None
        _service_rule(service_rules.check_create_batch_inference_job, p, version.body.get("recipeArn"), expression)
        if version.body.get("recipeArn") == _RECIPE_ARN_PREFIX + "aws-trending-now":
            raise _invalid("You can't get batch recommendations with the Trending-Now recipe.")
        self._require_active(version, ctx, "solution version")
        running = [j for j in self._alive(ctx, "batch_inference_job") if j.status(ctx.now) in IN_FLIGHT]
        self._quota("concurrent_batch_inference_jobs", len(running))
        self._claim_name("batch_inference_job", p["jobName"], ctx)
        body: dict[str, Any] = {
            "jobName": p["jobName"],
            "batchInferenceJobArn": arn,
            "solutionVersionArn": version.arn,
            "numResults": p.get("numResults", 25),
            "jobInput": p["jobInput"],
            "jobOutput": p["jobOutput"],
            "roleArn": p["roleArn"],
            "batchInferenceJobMode": p.get("batchInferenceJobMode", "BATCH_INFERENCE"),
        }
        for key in ("filterArn", "batchInferenceJobConfig", "themeGenerationConfig"):
            if key in p:
                body[key] = p[key]
        fail = self._take_failure("batch_inference_job", [p["jobName"], arn])
        fail = fail or self._denied(p["roleArn"], _batch_access(p, _partition(ctx.region)))
        timeline = self._timeline("batch_inference_job", ctx.now, fail, pending=PENDING, in_progress=IN_PROGRESS)
        self._add(
            "batch_inference_job",
            arn,
            p["jobName"],
            ctx,
            body,
            parent=version.arn,
            tags=p.get("tags"),
            timeline=timeline,
            failure_reason=fail,
        )
        return {"batchInferenceJobArn": arn}

    def _op_DescribeBatchInferenceJob(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        res = self._get(p["batchInferenceJobArn"], "batch_inference_job", ctx)
        return {"batchInferenceJob": self._view(res, ctx)}

    def _op_ListBatchInferenceJobs(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        version = p.get("solutionVersionArn")
        return self._listing(
            "batch_inference_job",
            ctx,
            p,
            "batchInferenceJobs",
            "ListBatchInferenceJobs",
            keep=lambda r: version is None or r.parent == version,
        )

    # ---- recommenders: double_recommenders.py; batch segment jobs and metric attributions: double_segments.py.

    # ---- recipes
    def _recipe_view(self, recipe: _Recipe) -> dict[str, Any]:
        return {
            "name": recipe.name,
            "recipeArn": _RECIPE_ARN_PREFIX + recipe.name,
            "algorithmArn": f"arn:aws:personalize:::algorithm/{recipe.name}",
            "featureTransformationArn": _FEATURE_TRANSFORMATION_ARN,
            "status": ACTIVE,
            "description": recipe.description,
            "creationDateTime": _RECIPE_EPOCH,
            "recipeType": recipe.recipe_type,
            "lastUpdatedDateTime": _RECIPE_EPOCH,
        }

    def _op_ListRecipes(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        recipes = [] if "domain" in p else [self._recipe_view(r) for r in RECIPES.values()]
        return self._page(recipes, "recipes", p, "ListRecipes")

    def _op_DescribeRecipe(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"recipe": self._recipe_view(self._recipe(p["recipeArn"]))}

    # ---- tags
    def _tagged(self, arn: str, ctx: _Ctx) -> _Resource:
        res = self._store.get(arn)
        if res is None or res.region != ctx.region:
            raise _not_found(arn)
        return res

    def _op_TagResource(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._tagged(p["resourceArn"], ctx)
        new = {t["tagKey"]: t["tagValue"] for t in p["tags"]}
        res.tags = [t for t in res.tags if t["tagKey"] not in new] + [
            {"tagKey": k, "tagValue": v} for k, v in new.items()
        ]

    def _op_UntagResource(self, p: dict[str, Any], ctx: _Ctx) -> None:
        res = self._tagged(p["resourceArn"], ctx)
        res.tags = [t for t in res.tags if t["tagKey"] not in set(p["tagKeys"])]

    def _op_ListTagsForResource(self, p: dict[str, Any], ctx: _Ctx) -> dict[str, Any]:
        return {"tags": copy.deepcopy(self._tagged(p["resourceArn"], ctx).tags)}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
_FILTER_KEYWORDS = frozenset({"INCLUDE", "EXCLUDE", "WHERE", "IN", "NOT", "AND", "OR", "IF"})
_QUOTED = re.compile(r'("[^"]*")')


def normalized_filter_expression(expression: str) -> str:
    """How the double echoes a filter expression (STRICTER, module docstring): outside quoted values,
    runs of white space become one space and keywords are upper-cased."""
    parts = []
    for index, part in enumerate(_QUOTED.split(expression.strip())):
        if index % 2:
            parts.append(part)
            continue
        words = re.sub(r"\s+", " ", part).split(" ")
        parts.append(" ".join(w.upper() if w.upper() in _FILTER_KEYWORDS else w for w in words))
    return "".join(parts)


_FILTER_EXPRESSION = re.compile(r"^\s*(INCLUDE|EXCLUDE)\s+(ItemID|UserID|ActionID)\s+WHERE\s+\S", re.IGNORECASE)


def _batch_access(p: Mapping[str, Any], partition: str) -> list[tuple[str, str]]:
    """What a batch inference job does with its role ("Creating a batch inference job": the role reads
    the input and writes '<input file name>.out' under the output path; s3:ListBucket on both buckets)."""
    source = p["jobInput"]["s3DataSource"]["path"].removeprefix("s3://")
    target = p["jobOutput"]["s3DataDestination"]["path"].removeprefix("s3://")
    in_bucket, out_bucket = source.split("/", 1)[0], target.split("/", 1)[0]
    output = f"{target.rstrip('/')}/{source.rsplit('/', 1)[-1]}.out"
    return [
        ("s3:ListBucket", f"arn:{partition}:s3:::{in_bucket}"),
        ("s3:GetObject", f"arn:{partition}:s3:::{source}"),
        ("s3:ListBucket", f"arn:{partition}:s3:::{out_bucket}"),
        ("s3:PutObject", f"arn:{partition}:s3:::{output}"),
    ]


@functools.cache
def _api_names() -> dict[str, str]:
    model = service_model_for("personalize")
    names = {op: op for op in model.operation_names}
    names.update({xform_name(op): op for op in model.operation_names})
    return names


_NO_FAILURE_REASON = frozenset({"schema", "dataset", "solution", "event_tracker"})


@functools.cache
def _summary_members(operation: str, key: str) -> frozenset[str]:
    """Member names of the summary structure listed under ``key`` in ``operation``'s output."""
    output = service_model_for("personalize").operation_model(operation).output_shape
    return frozenset(output.members[key].member.members)


def _api_name(operation: str) -> str:
    """``CreateCampaign`` or ``create_campaign`` -> ``CreateCampaign``."""
    try:
        return _api_names()[operation]
    except KeyError:
        raise ValueError(f"personalize has no operation {operation!r}") from None


def _avro_fields(schema: str) -> set[str]:
    """Field names of an Avro record schema; InvalidInputException if it is not one."""
    try:
        parsed = json.loads(schema)
    except ValueError as exc:
        raise _invalid(f"The schema is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict) or parsed.get("type") != "record" or not isinstance(parsed.get("fields"), list):
        raise _invalid('The schema must be an Avro record: {"type": "record", "name": ..., "fields": [...]}.')
    names = set()
    for item in parsed["fields"]:
        if not isinstance(item, dict) or "name" not in item or "type" not in item:
            raise _invalid("Every schema field needs a name and a type.")
        names.add(item["name"])
    return names


#: Offline metrics of a user-personalization model of modest quality; scaled by recipe quality.
_BASE_METRICS = {
    "mean_reciprocal_rank_at_25": 0.2183,
    "normalized_discounted_cumulative_gain_at_5": 0.1874,
    "normalized_discounted_cumulative_gain_at_10": 0.2291,
    "normalized_discounted_cumulative_gain_at_25": 0.2806,
    "precision_at_5": 0.0912,
    "precision_at_10": 0.0748,
    "precision_at_25": 0.0519,
}


def _rate_days(expression: str | None) -> int:
    """Days in an auto-training ``rate(N days)`` expression (7 when absent, as in the service)."""
    match = re.fullmatch(r"rate\((\d+) days?\)", expression or "")
    return int(match.group(1)) if match else 7


def _metrics(recipe: _Recipe) -> dict[str, float]:
    """Deterministic GetSolutionMetrics values: better recipes score higher, Popularity-Count lowest."""
    metrics = {"coverage": recipe.coverage}
    metrics.update({k: round(v * recipe.quality, 4) for k, v in _BASE_METRICS.items()})
    return metrics


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (int, float),
}


def _check_output(shape: Any, value: Any, path: str) -> None:
    """Assert that the double only answers with members and types of the output shape."""
    if shape is None:
        assert not value, f"PersonalizeDouble bug: {path} has no output shape but returned {value!r}"
        return
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"PersonalizeDouble bug: {path} is not an object"
        for key, item in value.items():
            assert key in shape.members, f"PersonalizeDouble bug: {path}.{key} is not in {shape.name}"
            _check_output(shape.members[key], item, f"{path}.{key}")
    elif kind == "list":
        assert isinstance(value, list), f"PersonalizeDouble bug: {path} is not a list"
        for idx, item in enumerate(value):
            _check_output(shape.member, item, f"{path}[{idx}]")
    elif kind == "map":
        assert isinstance(value, dict), f"PersonalizeDouble bug: {path} is not a map"
        for key, item in value.items():
            _check_output(shape.value, item, f"{path}[{key!r}]")
    elif kind in _JSON_TYPES:
        ok = isinstance(value, _JSON_TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
        assert ok, f"PersonalizeDouble bug: {path} should be {kind}, got {type(value).__name__}"
