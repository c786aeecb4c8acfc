"""Stand-ins for the Amazon Personalize data plane: ``personalize-runtime`` (GetRecommendations,
GetPersonalizedRanking) and ``personalize-events`` (PutEvents), beside the control-plane double.

Installed like ``tests.support.personalize_double``: ``runtime.installed()`` patches
``botocore.client.BaseClient._make_api_call`` and answers calls of those two services only (every
other call goes on to whatever was installed before - the control-plane double, moto, botocore).
Install it after the control-plane double (it reads campaigns, filters, trackers and import jobs
through an ordinary ``personalize`` client, that is from the control-plane double).

    with PersonalizeDouble(...).installed(), RuntimeDouble().installed():
        boto3.client("personalize-runtime").get_recommendations(campaignArn=arn, userId="u1")

A request goes through botocore's ``ParamValidator`` and ``tests.support.service_model`` (length,
pattern, ranges of botocore's personalize-runtime / personalize-events models); answers are parsed by
botocore's ``rest-json`` parser with the operation's output shape, errors raised as the client's
modeled exceptions (``InvalidInputException``, ``ResourceNotFoundException``).

Recommendations are deterministic and derived from what the dataset group imported (the file of the
latest ACTIVE import job of each dataset, read through the control double's ``read_object``):

- User-Personalization (v1, v2): items that co-occur (interacted with by the same users) with the
  user's most recent items, recent ones weighted more, plus a small popularity term; a user with no
  history gets popular items (the service's cold start). Events sent with PutEvents join the history at
  once, so recommendations change (User-Personalization updates with real-time events: developer guide,
  "Recording real-time events to influence recommendations").
- Popularity-Count / Trending-Now: the most popular items of the training data; real-time events change
  nothing (the model is the training data's counts).
- SIMS / Similar-Items: items that co-occur with the given item, most first, the item itself excluded.
- Personalized-Ranking: the input list ordered by the User-Personalization score; items that were not
  in the training data are appended at the end in input order (API reference, GetPersonalizedRanking:
  "If an item was not included in the training dataset, the item is appended to the end of the reranked
  list").
- Scores only for User-Personalization and Personalized-Ranking, normalised to sum to 1 over the
  candidates (developer guide, "Recommendation scores": those recipes return scores; scores of all items
  sum to 1).

Service rules encoded here (sources beside the code; STRICTER where the guide does not say and the
double takes the stricter side):

- ``numResults`` default 25, at most 500; ``inputList`` at most 500 items (API reference of both
  operations; 50 with metadata, which the double does not return).
- A campaign must exist (ResourceNotFoundException) and be ACTIVE (STRICTER: InvalidInputException).
- A recommender likewise (a stopped one, INACTIVE, answers nothing: STRICTER); it needs ``userId`` and/or
  ``itemId`` as its use case says (``USE_CASE_MODELS``).
- GetRecommendations needs ``userId`` on a USER_PERSONALIZATION campaign and ``itemId`` on a
  RELATED_ITEMS one, and is refused on a PERSONALIZED_RANKING campaign; GetPersonalizedRanking only on
  PERSONALIZED_RANKING campaigns (developer guide, "Getting real-time recommendations" and "Getting a
  personalized ranking"; the wording of the errors is the double's, InvalidInputException).
- Filters: the filter must exist and be ACTIVE, and belong to the campaign's dataset group (STRICTER).
  ``filterValues`` names each ``$PARAMETER`` without ``$``; string values are quoted and comma
  separated (``"\\"shoes\\",\\"toys\\""``, developer guide "Filtering real-time recommendations";
  STRICTER: an unquoted string value is refused). Every parameter of an INCLUDE expression needs a value;
  an EXCLUDE expression with a parameter left out is not applied (same page). Interaction filters look
  at a user's 100 most recent interactions per event type (developer guide, "Filter expression
  elements"), real-time events included. Filters the double cannot evaluate (several conditions joined
  by AND/OR, ``IF CurrentUser``, ``CurrentItem``, user or action filters) raise NotImplementedError:
  a gap is loud.
- PutEvents: the tracking id must belong to an existing event tracker (STRICTER:
  ResourceNotFoundException; the service may accept and drop); ``properties`` must be a JSON object
  (API reference, Event.properties: "A string map of event-specific data ... in JSON format").

``write_batch_outputs()`` plays the batch inference jobs' output: for every ACTIVE job, one JSON line
per input line under the job's output path (``<input file name>.out``), in the service's form
``{"input": ..., "output": {"recommendedItems": [...], "scores": [...]}, "error": null}`` (developer
guide, "Batch inference job output"), from the same model as the real-time answers.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.client
import botocore.parsers
from botocore.validate import validate_parameters

from personalize_poc.filter_expression import Condition, Expression, parse_filter
from tests.support.service_model import RequestValidationError, validate_operation_params

SERVICES = ("personalize-runtime", "personalize-events")
_RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"
#: Recipe type per recipe (developer guide, "Choosing a recipe").
RECIPE_TYPES = {
    "aws-user-personalization": "USER_PERSONALIZATION",
    "aws-user-personalization-v2": "USER_PERSONALIZATION",
    "aws-popularity-count": "USER_PERSONALIZATION",
    "aws-trending-now": "USER_PERSONALIZATION",
    "aws-sims": "RELATED_ITEMS",
    "aws-similar-items": "RELATED_ITEMS",
    "aws-personalized-ranking": "PERSONALIZED_RANKING",
    "aws-personalized-ranking-v2": "PERSONALIZED_RANKING",
}
_POPULARITY_ONLY = {"aws-popularity-count", "aws-trending-now"}
#: A recommender's use case (its recipe): (model, needs userId, needs itemId, event type whose items the
#: service leaves out for the user). From the developer guide's "ECOMMERCE use cases" / "VIDEO_ON_DEMAND use
#: cases": "GetRecommendations requirements", and "automatically filters items the user purchased based on
#: the userId that you specify and Purchase events" (customers-who-viewed-x, recommended-for-you; "videos the
#: user watched" for because-you-watched-x, more-like-x, top-picks); trending-now's line unread: userId
#: required (STRICTER). Models: "user" as User-Personalization, "similar" as SIMS, "popular:<event type>" the
#: most interacted with items by that event type (any type when empty).
USE_CASE_MODELS: dict[str, tuple[str, bool, bool, str | None]] = {
    "aws-ecomm-popular-items-by-views": ("popular:View", True, False, None),
    "aws-ecomm-popular-items-by-purchases": ("popular:Purchase", True, False, None),
    "aws-ecomm-frequently-bought-together": ("similar", False, True, None),
    "aws-ecomm-customers-who-viewed-x-also-viewed": ("similar", True, True, "Purchase"),
    "aws-ecomm-recommended-for-you": ("user", True, False, "Purchase"),
    "aws-vod-because-you-watched-x": ("similar", True, True, "Watch"),
    "aws-vod-more-like-x": ("similar", True, True, "Watch"),
    "aws-vod-most-popular": ("popular:Watch", True, False, None),
    "aws-vod-trending-now": ("popular:", True, False, None),
    "aws-vod-top-picks": ("user", True, False, "Watch"),
}
DEFAULT_NUM_RESULTS = 25  # API reference, GetRecommendations.numResults: "The default is 25."
MAX_NUM_RESULTS = 500  # same page: "Otherwise, the maximum is 500." (50 with metadata)
MAX_INPUT_LIST = 500  # API reference, GetPersonalizedRanking.inputList (50 with metadata)
INTERACTIONS_PER_EVENT_TYPE = 100  # developer guide, "Filter expression elements" (Interactions)
#: The service's own reads (the rehearsal's fake account credentials, never a caller's role session).
_SERVICE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
_HISTORY_WINDOW = 50  # most recent items the double's User-Personalization looks at


class _ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def _invalid(message: str) -> _ApiError:
    return _ApiError("InvalidInputException", message)


def _not_found(arn: str) -> _ApiError:
    return _ApiError("ResourceNotFoundException", f"Resource Arn {arn} does not exist.", 404)


@dataclass
class _Event:
    item: str
    event_type: str
    at: float


@dataclass
class _GroupData:
    """What a dataset group imported, and the model the double derives from it."""

    history: dict[str, list[_Event]] = field(default_factory=lambda: defaultdict(list))
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    popularity: Counter[str] = field(default_factory=Counter)
    together: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    @property
    def known_items(self) -> list[str]:
        return sorted(set(self.popularity) | set(self.items))


class RuntimeDouble:
    """See the module docstring. ``read_object(uri) -> bytes`` reads imported files (default: the
    control double's reader, which the rehearsal points at moto's S3)."""

    def __init__(self, read_object: Callable[[str], bytes] | None = None) -> None:
        self.read_object = read_object
        #: every call as (OperationName, params), in order
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: Asked for each resource a call acts on, before anything else: ``caller_access(client, action,
        #: resource_arn)`` raises the botocore ClientError the service answers (AccessDeniedException) when
        #: the caller may not. Resources per the Service Authorization Reference (Amazon Personalize):
        #: GetRecommendations/GetPersonalizedRanking on the campaign and the filter, PutEvents on the tracker.
        self.caller_access: Callable[[Any, str, str], None] | None = None
        self._lock = threading.RLock()
        self._groups: dict[str, _GroupData] = {}
        self._live: dict[str, dict[str, list[_Event]]] = defaultdict(lambda: defaultdict(list))

    # ------------------------------------------------------------------ installation
    @contextlib.contextmanager
    def installed(self) -> Iterator[RuntimeDouble]:
        original = botocore.client.BaseClient._make_api_call
        double = self

        def _make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name in SERVICES:
                return double._handle(client, operation_name, api_params)
            return original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]

    def _handle(self, client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        model = client.meta.service_model.operation_model(operation_name)
        with self._lock:
            self.calls.append((operation_name, dict(api_params)))
        if client.meta.config.parameter_validation and model.input_shape is not None:
            validate_parameters(api_params, model.input_shape)  # botocore's ParamValidationError
        handler = getattr(self, f"_op_{operation_name}", None)
        if handler is None:
            raise NotImplementedError(f"RuntimeDouble does not implement {operation_name}")
        try:
            validate_operation_params(model, api_params)
        except RequestValidationError as exc:
            self._raise(client, model, _ApiError("ValidationException", exc.aws_message))
        if self.caller_access is not None:
            for action, resource in self._resources(operation_name, api_params, client.meta.region_name):
                self.caller_access(client, action, resource)
        try:
            with self._lock:
                result = handler(dict(api_params), client.meta.region_name)
        except _ApiError as error:
            self._raise(client, model, error)
        return self._respond(model, result or {})

    def _resources(self, operation: str, params: dict[str, Any], region: str) -> list[tuple[str, str]]:
        action = f"personalize:{operation}"
        if operation == "PutEvents":
            tracker = self._tracker(params["trackingId"], region)
            return [(action, tracker[0])] if tracker else []
        return [(action, params[key]) for key in ("campaignArn", "recommenderArn", "filterArn") if key in params]

    @staticmethod
    def _http(status: int, body: dict[str, Any], error: str | None = None) -> dict[str, Any]:
        headers = {"x-amzn-requestid": str(uuid.uuid4()), "content-type": "application/json"}
        if error:
            headers["x-amzn-errortype"] = error
        return {"status_code": status, "headers": headers, "body": json.dumps(body).encode()}

    def _respond(self, model: Any, result: dict[str, Any]) -> dict[str, Any]:
        parser = botocore.parsers.create_parser("rest-json")
        parsed = parser.parse(self._http(200, result), model.output_shape)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        return parsed

    def _raise(self, client: Any, model: Any, error: _ApiError) -> None:
        parser = botocore.parsers.create_parser("rest-json")
        response = self._http(error.status, {"message": error.message}, error.code)
        parsed = parser.parse(response, model.output_shape)
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
        raise client.exceptions.from_code(error.code)(parsed, model.name)

    # ------------------------------------------------------------------ the control plane, as a client sees it
    @staticmethod
    def _control(region: str) -> Any:
        """The control plane as the service itself reads it: outside any caller's role session."""
        return boto3.client(
            "personalize",
            region_name=region,
            **_SERVICE_CREDENTIALS,
        )

    def _tracker(self, tracking_id: str, region: str) -> tuple[str, str] | None:
        """(event tracker ARN, dataset group ARN) of the tracker with this tracking id."""
        control = self._control(region)
        for tracker in control.list_event_trackers()["eventTrackers"]:
            described = control.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"]
            if described.get("trackingId") == tracking_id:
                return described["eventTrackerArn"], described["datasetGroupArn"]
        return None

    def _active(self, kind: str, arn: str, region: str) -> dict[str, Any]:
        """Describe<Kind> of a campaign or recommender that must be ACTIVE to answer."""
        control = self._control(region)
        try:
            described = getattr(control, f"describe_{kind.lower()}")(**{f"{kind[0].lower()}{kind[1:]}Arn": arn})
        except control.exceptions.ResourceNotFoundException:
            raise _not_found(arn) from None
        resource = described[f"{kind[0].lower()}{kind[1:]}"]
        if resource.get("status") != "ACTIVE":
            raise _invalid(f"{kind} {arn} is not ACTIVE (status {resource.get('status')}).")
        return resource

    def _campaign(self, arn: str, region: str) -> tuple[str, str]:
        """(recipe name, dataset group ARN) of an ACTIVE campaign."""
        campaign = self._active("Campaign", arn, region)
        version = self._control(region).describe_solution_version(solutionVersionArn=campaign["solutionVersionArn"])
        recipe_arn = version["solutionVersion"]["recipeArn"]
        return recipe_arn.removeprefix(_RECIPE_ARN_PREFIX), version["solutionVersion"]["datasetGroupArn"]

    def _recommender(self, arn: str, region: str) -> tuple[str, str]:
        """(recipe name, dataset group ARN) of an ACTIVE recommender."""
        recommender = self._active("Recommender", arn, region)
        return recommender["recipeArn"].removeprefix(_RECIPE_ARN_PREFIX), recommender["datasetGroupArn"]

    def _filter(self, arn: str, group_arn: str, region: str) -> str:
        control = self._control(region)
        try:
            found = control.describe_filter(filterArn=arn)["filter"]
        except control.exceptions.ResourceNotFoundException:
            raise _not_found(arn) from None
        if found.get("status") != "ACTIVE":
            raise _invalid(f"Filter {arn} is not ACTIVE (status {found.get('status')}).")
        if found["datasetGroupArn"] != group_arn:  # STRICTER: the guide does not say
            raise _invalid(f"Filter {arn} does not belong to the campaign's dataset group {group_arn}.")
        return str(found["filterExpression"])

    def _data(self, group_arn: str, region: str) -> _GroupData:
        if group_arn not in self._groups:
            self._groups[group_arn] = self._load(group_arn, region)
        return self._groups[group_arn]

    def _load(self, group_arn: str, region: str) -> _GroupData:
        control = self._control(region)
        data = _GroupData()
        for dataset in control.list_datasets(datasetGroupArn=group_arn)["datasets"]:
            rows = self._imported_rows(control, dataset["datasetArn"])
            if dataset["datasetType"].upper() == "INTERACTIONS":
                for row in rows:
                    event = _Event(row["ITEM_ID"], row.get("EVENT_TYPE") or "", float(row.get("TIMESTAMP") or 0))
                    data.history[row["USER_ID"]].append(event)
            elif dataset["datasetType"].upper() == "ITEMS":
                data.items = {row["ITEM_ID"]: row for row in rows}
        for events in data.history.values():
            events.sort(key=lambda e: e.at)
            data.popularity.update(e.item for e in events)
            seen = sorted({e.item for e in events})
            for item in seen:
                counts = data.together[item]
                counts.update(seen)
                counts[item] -= 1
        return data

    def _imported_rows(self, control: Any, dataset_arn: str) -> list[dict[str, str]]:
        jobs = control.list_dataset_import_jobs(datasetArn=dataset_arn)["datasetImportJobs"]
        active = sorted((j for j in jobs if j["status"] == "ACTIVE"), key=lambda j: j["creationDateTime"])
        if not active:
            return []
        job = control.describe_dataset_import_job(datasetImportJobArn=active[-1]["datasetImportJobArn"])
        uri = job["datasetImportJob"]["dataSource"]["dataLocation"]
        text = self._read(uri).decode("utf-8")
        return list(csv.DictReader(io.StringIO(text)))

    def _read(self, uri: str) -> bytes:
        if self.read_object is not None:
            return self.read_object(uri)
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bytes(boto3.client("s3", **_SERVICE_CREDENTIALS).get_object(Bucket=bucket, Key=key)["Body"].read())

    # ------------------------------------------------------------------ the model
    def _history(self, group_arn: str, data: _GroupData, user: str | None) -> list[_Event]:
        if user is None:
            return []
        return [*data.history.get(user, []), *self._live[group_arn].get(user, [])]

    @staticmethod
    def _affinity(data: _GroupData, history: list[_Event]) -> dict[str, float]:
        """User-Personalization's score per item: co-occurrence with recent items, plus popularity."""
        top = max(data.popularity.values(), default=1)
        scores = {item: 0.05 * data.popularity[item] / top for item in data.known_items}
        recent = [e.item for e in reversed(history)][:_HISTORY_WINDOW]
        for rank, item in enumerate(recent):
            weight = 0.9**rank
            for other, count in data.together.get(item, Counter()).items():
                scores[other] = scores.get(other, 0.0) + weight * count / (1 + data.popularity[item])
            # A real-time event on an item the training never saw still makes it known.
            scores.setdefault(item, 0.0)
        return scores

    def _user_ranking(self, recipe: str, data: _GroupData, history: list[_Event]) -> dict[str, float]:
        if recipe in _POPULARITY_ONLY:
            return {item: float(data.popularity[item]) for item in data.known_items}
        return self._affinity(data, history)

    @staticmethod
    def _similar(data: _GroupData, item: str) -> dict[str, float]:
        together = data.together.get(item, Counter())
        top = max(data.popularity.values(), default=1)
        return {
            other: together[other] + 0.001 * data.popularity[other] / top for other in data.known_items if other != item
        }

    # ------------------------------------------------------------------ filters
    def _apply_filter(
        self,
        expression: str | None,
        values: dict[str, str],
        candidates: list[str],
        history: list[_Event],
        data: _GroupData,
    ) -> list[str]:
        if expression is None:
            return candidates
        kept = candidates
        for expr in parse_filter(expression).expressions:
            if expr.target != "ItemID" or expr.user_conditions or len(expr.conditions) != 1:
                raise NotImplementedError(f"RuntimeDouble cannot evaluate the filter {expression!r}")
            matches = self._matcher(expr, expr.conditions[0], values, history, data)
            if matches is None:  # an EXCLUDE with its parameter left out is not applied
                continue
            include = expr.action == "INCLUDE"
            kept = [item for item in kept if matches(item) == include]
        return kept

    def _matcher(
        self, expr: Expression, condition: Condition, values: dict[str, str], history: list[_Event], data: _GroupData
    ) -> Callable[[str], bool] | None:
        wanted: list[str] = []
        for value in condition.values:
            if value.kind == "current_item":
                raise NotImplementedError("RuntimeDouble cannot evaluate CurrentItem in a real-time filter")
            if value.kind == "param":
                name = value.text.removeprefix("$")
                if name not in values:
                    if expr.action == "INCLUDE":
                        # developer guide, "Filtering real-time recommendations": INCLUDE needs every value
                        raise _invalid(f"Filter values are missing for parameter(s) [{name}] of the filter.")
                    return None
                wanted += _filter_values(name, values[name])
            else:
                wanted.append(value.text)
        if condition.dataset == "Interactions":
            if condition.field != "EVENT_TYPE":
                raise NotImplementedError(
                    f"RuntimeDouble filters interactions by EVENT_TYPE only, not {condition.field}"
                )
            by_type: dict[str, list[str]] = defaultdict(list)
            for event in reversed(history):
                if len(by_type[event.event_type]) < INTERACTIONS_PER_EVENT_TYPE:
                    by_type[event.event_type].append(event.item)
            negate = condition.operator == "NOT IN"
            hit = {
                item
                for event_type, items in by_type.items()
                if ("*" in wanted or event_type in wanted) != negate
                for item in items
            }
            return hit.__contains__
        if condition.dataset == "Items":
            return lambda item: _compare(data.items.get(item, {}).get(condition.field), condition.operator, wanted)
        raise NotImplementedError(f"RuntimeDouble cannot evaluate filters on {condition.dataset}")

    # ------------------------------------------------------------------ operations
    def _request(self, p: dict[str, Any], region: str) -> tuple[str, str, _GroupData, list[_Event], str | None]:
        recipe, group_arn = self._campaign(p["campaignArn"], region)
        data = self._data(group_arn, region)
        history = self._history(group_arn, data, p.get("userId"))
        expression = self._filter(p["filterArn"], group_arn, region) if "filterArn" in p else None
        if "filterValues" in p and expression is None:
            raise _invalid("filterValues were given without a filterArn.")
        return recipe, group_arn, data, history, expression

    def _op_GetRecommendations(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        num = p.get("numResults", DEFAULT_NUM_RESULTS)
        if num > MAX_NUM_RESULTS:
            raise _invalid(f"numResults must be at most {MAX_NUM_RESULTS}, was {num}.")
        if "recommenderArn" in p:
            return self._from_recommender(p, region, num)
        if "campaignArn" not in p:
            raise _invalid("GetRecommendations needs a campaignArn or a recommenderArn.")
        recipe, _, data, history, expression = self._request(p, region)
        kind = RECIPE_TYPES.get(recipe)
        if kind == "PERSONALIZED_RANKING":
            raise _invalid(
                "GetRecommendations is not supported by a PERSONALIZED_RANKING campaign: use GetPersonalizedRanking."
            )
        if kind == "USER_PERSONALIZATION" and "userId" not in p:
            raise _invalid("userId is required for a campaign of a USER_PERSONALIZATION recipe.")
        if kind == "RELATED_ITEMS" and "itemId" not in p:
            raise _invalid("itemId is required for a campaign of a RELATED_ITEMS recipe.")
        scores = (
            self._similar(data, p["itemId"]) if kind == "RELATED_ITEMS" else self._user_ranking(recipe, data, history)
        )
        ordered = sorted(scores, key=lambda item: (-scores[item], item))
        kept = self._apply_filter(expression, p.get("filterValues", {}), ordered, history, data)[:num]
        with_scores = recipe in {"aws-user-personalization", "aws-user-personalization-v2"}
        return {"itemList": _item_list(kept, scores if with_scores else None), "recommendationId": _rec_id()}

    def _from_recommender(self, p: dict[str, Any], region: str, num: int) -> dict[str, Any]:
        recipe, group_arn = self._recommender(p["recommenderArn"], region)
        if recipe not in USE_CASE_MODELS:
            raise NotImplementedError(f"RuntimeDouble does not serve the use case {recipe}")
        model, needs_user, needs_item, seen_type = USE_CASE_MODELS[recipe]
        for needed, key in ((needs_user, "userId"), (needs_item, "itemId")):
            if needed and key not in p:
                raise _invalid(f"{key} is required for a recommender of the use case {recipe}.")
        data = self._data(group_arn, region)
        history = self._history(group_arn, data, p.get("userId"))
        expression = self._filter(p["filterArn"], group_arn, region) if "filterArn" in p else None
        if model == "similar":
            scores = self._similar(data, p["itemId"])
        elif model == "user":
            scores = self._affinity(data, history)
        else:
            wanted = model.removeprefix("popular:").lower()
            counts = Counter(
                e.item
                for events in data.history.values()
                for e in events
                if e.event_type.lower() == wanted or not wanted
            )
            scores = {item: float(counts[item]) for item in data.known_items}
        # The use case's own filter, before the request's; it too sees 100 interactions per event type at most.
        seen = [e.item for e in reversed(history) if seen_type and e.event_type.lower() == seen_type.lower()]
        left_out = set(seen[:INTERACTIONS_PER_EVENT_TYPE])
        ordered = sorted((i for i in scores if i not in left_out), key=lambda item: (-scores[item], item))
        kept = self._apply_filter(expression, p.get("filterValues", {}), ordered, history, data)[:num]
        return {"itemList": _item_list(kept, scores if model == "user" else None), "recommendationId": _rec_id()}

    def _op_GetPersonalizedRanking(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        if len(p["inputList"]) > MAX_INPUT_LIST:
            raise _invalid(f"inputList must have at most {MAX_INPUT_LIST} items, had {len(p['inputList'])}.")
        recipe, _, data, history, expression = self._request(p, region)
        if RECIPE_TYPES.get(recipe) != "PERSONALIZED_RANKING":
            raise _invalid("GetPersonalizedRanking needs a campaign of a PERSONALIZED_RANKING recipe.")
        scores = self._affinity(data, history)
        trained = set(data.popularity)
        inputs = list(dict.fromkeys(p["inputList"]))
        known = sorted((i for i in inputs if i in trained), key=lambda item: (-scores[item], item))
        ordered = known + [i for i in inputs if i not in trained]
        kept = self._apply_filter(expression, p.get("filterValues", {}), ordered, history, data)
        ranked = {i: scores.get(i, 0.0) if i in trained else 0.0 for i in kept}
        return {"personalizedRanking": _item_list(kept, ranked), "recommendationId": _rec_id()}

    def _op_PutEvents(self, p: dict[str, Any], region: str) -> None:
        tracker = self._tracker(p["trackingId"], region)
        if tracker is None:  # STRICTER: the service may accept and drop events for an unknown tracker
            raise _ApiError(
                "ResourceNotFoundException", f"No event tracker has the tracking id {p['trackingId']}.", 404
            )
        group_arn = tracker[1]
        for event in p["eventList"]:
            if "properties" in event:
                try:
                    properties = json.loads(event["properties"])
                except ValueError:
                    properties = None
                if not isinstance(properties, dict):
                    raise _invalid("Event properties must be a JSON object string.")
        user = p.get("userId") or p["sessionId"]
        for event in p["eventList"]:
            if "itemId" in event:
                sent = event["sentAt"]
                at = sent.timestamp() if isinstance(sent, _dt.datetime) else float(sent)
                self._live[group_arn][user].append(_Event(event["itemId"], event["eventType"], at))
        self._live[group_arn][user].sort(key=lambda e: e.at)

    # ------------------------------------------------------------------ batch inference output
    def write_batch_outputs(self, region: str) -> list[str]:
        """Write the output of every ACTIVE batch inference job (see the module docstring); returns the
        S3 URIs written."""
        control = self._control(region)
        s3 = boto3.client("s3", region_name=region, **_SERVICE_CREDENTIALS)
        written = []
        for summary in control.list_batch_inference_jobs()["batchInferenceJobs"]:
            if summary["status"] != "ACTIVE":
                continue
            job = control.describe_batch_inference_job(batchInferenceJobArn=summary["batchInferenceJobArn"])
            job = job["batchInferenceJob"]
            version = control.describe_solution_version(solutionVersionArn=job["solutionVersionArn"])
            recipe = version["solutionVersion"]["recipeArn"].removeprefix(_RECIPE_ARN_PREFIX)
            group_arn = version["solutionVersion"]["datasetGroupArn"]
            expression = None
            if job.get("filterArn"):
                expression = control.describe_filter(filterArn=job["filterArn"])["filter"]["filterExpression"]
            source = job["jobInput"]["s3DataSource"]["path"]
            lines = [json.loads(line) for line in self._read(source).decode().splitlines() if line.strip()]
            with self._lock:
                data = self._data(group_arn, region)
                out = [self._batch_line(recipe, group_arn, data, line, job["numResults"], expression) for line in lines]
            target = f"{job['jobOutput']['s3DataDestination']['path'].rstrip('/')}/{source.rsplit('/', 1)[-1]}.out"
            bucket, _, key = target.removeprefix("s3://").partition("/")
            s3.put_object(Bucket=bucket, Key=key, Body="".join(json.dumps(o) + "\n" for o in out).encode())
            written.append(target)
        return written

    def _batch_line(
        self, recipe: str, group_arn: str, data: _GroupData, line: dict[str, Any], num: int, expression: str | None
    ) -> dict[str, Any]:
        history = self._history(group_arn, data, line.get("userId"))
        kind = RECIPE_TYPES.get(recipe)
        if kind == "RELATED_ITEMS":
            scores = self._similar(data, line["itemId"])
        elif kind == "PERSONALIZED_RANKING":
            scores = {i: self._affinity(data, history).get(i, 0.0) for i in line["itemList"]}
        else:
            scores = self._user_ranking(recipe, data, history)
        ordered = sorted(scores, key=lambda item: (-scores[item], item))
        kept = self._apply_filter(expression, {}, ordered, history, data)[:num]
        output: dict[str, Any] = {"recommendedItems": kept}
        if kind != "RELATED_ITEMS" and recipe not in _POPULARITY_ONLY:
            output["scores"] = [s for _, s in _normalised(kept, scores)]
        return {"input": line, "output": output, "error": None}


def _filter_values(name: str, raw: str) -> list[str]:
    """``"\\"a\\",\\"b\\""`` -> ["a", "b"]; numbers may stand bare (developer guide, "Filtering real-time
    recommendations"). STRICTER: an unquoted non-numeric value is refused."""
    values = []
    for text in (p.strip() for p in _split_outside_quotes(raw)):
        if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
            values.append(text[1:-1])
        elif _is_number(text):
            values.append(text)
        else:
            raise _invalid(f'Filter value {text} of parameter {name} must be in double quotes ("{text}").')
    return values


def _split_outside_quotes(raw: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in raw:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _compare(actual: str | None, operator: str, wanted: list[str]) -> bool:
    if actual is None or actual == "":
        return False
    if operator == "IN":
        return actual in wanted
    if operator == "NOT IN":
        return actual not in wanted
    left, right = float(actual), float(wanted[0])
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[operator]


def _normalised(items: list[str], scores: dict[str, float]) -> list[tuple[str, float]]:
    total = sum(max(v, 0.0) for v in scores.values()) or 1.0
    return [(item, round(max(scores.get(item, 0.0), 0.0) / total, 7)) for item in items]


def _item_list(items: list[str], scores: dict[str, float] | None) -> list[dict[str, Any]]:
    if scores is None:
        return [{"itemId": item} for item in items]
    return [{"itemId": item, "score": score} for item, score in _normalised(items, scores)]


def _rec_id() -> str:
    return f"RID-{uuid.uuid4()}"[:40]


__all__ = ["RECIPE_TYPES", "SERVICES", "RuntimeDouble"]
