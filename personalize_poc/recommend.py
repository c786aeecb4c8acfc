"""`personalize-poc recommend`: ask the deployed campaigns and recommenders, side by side.

Everything is found from what the workflow published (README, "Where results land"): campaign,
recommender and filter ARNs under the SSM path ``/<prefix>/poc/``, the bucket under
``/<prefix>/bucket-name``; which campaign answers which question comes from the POC definition (each
campaign's solution's recipe type), which recommender answers from its use case (``USE_CASE_INPUTS``);
item metadata and the users and items that exist come from the files the POC imported
(``s3://<bucket>/imports/<data_key>``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from personalize_poc.data import aws
from personalize_poc.data.errors import CliError, UsageError

#: Which recipe type answers which question (personalize_poc/recipes.py: RECIPES[...].recipe_type).
MODES = {
    "user": ("USER_PERSONALIZATION", "--user", "a user-personalization or popularity recipe"),
    "item": ("RELATED_ITEMS", "--item", "a related-items recipe such as aws-sims"),
    "rank": ("PERSONALIZED_RANKING", "--rank", "a personalized-ranking recipe"),
}
_SKIPPED_METADATA = ("ITEM_ID", "CREATION_TIMESTAMP")


@dataclass(frozen=True)
class UseCaseInputs:
    """What GetRecommendations needs for a recommender of this use case."""

    subject: str  # "user" (userId) or "item" (itemId)
    needs_user: bool = False  # an item use case that also needs userId


#: Developer guide, "ECOMMERCE use cases" and "VIDEO_ON_DEMAND use cases", each use case's
#: "GetRecommendations requirements": most-viewed, best-sellers, recommended-for-you, most-popular,
#: top-picks "userId: Required, itemId: Not used"; frequently-bought-together "itemId: Required" (userId
#: only for a CurrentUser filter); customers-who-viewed-x-also-viewed, because-you-watched-x, more-like-x
#: "userId: Required, itemId: Required". trending-now's line was not read: userId required (STRICTER).
USE_CASE_INPUTS: dict[str, UseCaseInputs] = {
    "most-viewed": UseCaseInputs("user"),
    "best-sellers": UseCaseInputs("user"),
    "recommended-for-you": UseCaseInputs("user"),
    "frequently-bought-together": UseCaseInputs("item"),
    "customers-who-viewed-x-also-viewed": UseCaseInputs("item", needs_user=True),
    "because-you-watched-x": UseCaseInputs("item", needs_user=True),
    "more-like-x": UseCaseInputs("item", needs_user=True),
    "most-popular": UseCaseInputs("user"),
    "trending-now": UseCaseInputs("user"),
    "top-picks": UseCaseInputs("user"),
}


@dataclass(frozen=True)
class Question:
    mode: str  # user | item | rank
    subject: str  # the user or the item
    items: tuple[str, ...] = ()  # the list to re-rank (mode rank)
    campaigns: tuple[str, ...] = ()  # restrict to these campaigns (default: every one that answers)
    recommenders: tuple[str, ...] = ()  # restrict to these recommenders (default: every one that answers)
    user: str | None = None  # mode item: the user looking at the item (recommenders that need both)
    filter: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    num_results: int = 10
    new_user: bool = False


@dataclass
class Recommended:
    item_id: str
    score: float | None
    metadata: dict[str, str]


@dataclass
class Answer:
    question: Question
    results: dict[str, list[Recommended]]  # campaign name -> items in order
    metadata_columns: list[str]
    recommenders: dict[str, list[Recommended]] = field(default_factory=dict)  # recommender name -> items
    skipped: dict[str, str] = field(default_factory=dict)  # recommender name -> why it was not asked

    def as_json(self) -> dict[str, Any]:
        q = self.question
        return {
            "mode": q.mode,
            "user" if q.mode != "item" else "item": q.subject,
            **({"items": list(q.items)} if q.mode == "rank" else {}),
            **({"user": q.user} if q.mode == "item" and q.user else {}),
            "filter": q.filter,
            "filterValues": q.params,
            "campaigns": {
                name: [{"itemId": r.item_id, "score": r.score, "metadata": r.metadata} for r in recs]
                for name, recs in self.results.items()
            },
            "recommenders": {
                name: [{"itemId": r.item_id, "score": r.score, "metadata": r.metadata} for r in recs]
                for name, recs in self.recommenders.items()
            },
            "skipped": self.skipped,
        }


@dataclass
class Deployment:
    """What the environment's workflow built and published."""

    campaigns: dict[str, str]
    filters: dict[str, str]
    bucket: str
    recipe_types: dict[str, str]  # campaign name -> recipe type (from the POC definition)
    filter_expressions: dict[str, str]
    data_keys: dict[str, str]  # dataset type -> key under imports/
    recommenders: dict[str, str] = field(default_factory=dict)  # name -> ARN (published)
    use_cases: dict[str, str] = field(default_factory=dict)  # recommender name -> use case (POC definition)


def load_deployment(session: Any, environment: Any) -> Deployment:
    from personalize_poc.poc_definition import PocConfigError, load_poc_definition
    from personalize_poc.recipes import RECIPES, recipe_name

    try:
        poc = load_poc_definition(environment.poc_config_path, environment.name_prefix)
    except PocConfigError as exc:
        raise CliError(str(exc)) from None
    path = aws.parameter_name(environment, "poc")
    published = _parameters(session, path)
    campaigns = _under(published, f"{path}/campaigns/")
    recommenders = _under(published, f"{path}/recommenders/")
    if not campaigns and not recommenders:
        raise CliError(
            f"no campaign or recommender published under {path}/: has the POC workflow run in environment "
            f"'{environment.name}'? (personalize-poc run start {environment.name})"
        )
    recipes = {s.name: recipe_name(s.recipe) for s in poc.solutions}
    return Deployment(
        campaigns=campaigns,
        filters=_under(published, f"{path}/filters/"),
        bucket=aws.read_parameter(session, environment, aws.BUCKET_PARAMETER),
        recipe_types={c.name: RECIPES[recipes[c.solution]].recipe_type for c in poc.campaigns},
        filter_expressions={f.name: f.expression for f in poc.filters},
        data_keys={str(kind): d.data_key for kind, d in poc.datasets.items()},
        recommenders=recommenders,
        use_cases={r.name: r.use_case for r in poc.recommenders},
    )


def _parameters(session: Any, path: str) -> dict[str, str]:
    ssm = session.client("ssm")
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def _under(parameters: dict[str, str], prefix: str) -> dict[str, str]:
    return {name.removeprefix(prefix): value for name, value in parameters.items() if name.startswith(prefix)}


# ------------------------------------------------------------------------------------ checks


def campaigns_for(question: Question, deployment: Deployment) -> list[str]:
    """The campaigns that answer the question, in the order the POC definition lists them (none when only
    recommenders were named)."""
    recipe_type, option, _ = MODES[question.mode]
    for name in question.campaigns:
        if name not in deployment.campaigns:
            raise CliError(f"no campaign named '{name}' is deployed (deployed: {_names(deployment.campaigns)})")
        if deployment.recipe_types.get(name) != recipe_type:
            raise UsageError(
                f"campaign '{name}' serves a {deployment.recipe_types.get(name, 'unknown')} recipe, not {option} "
                f"({recipe_type})"
            )
    if question.recommenders and not question.campaigns:
        return []
    return list(question.campaigns) or [
        name for name in deployment.campaigns if deployment.recipe_types.get(name) == recipe_type
    ]


def recommenders_for(question: Question, deployment: Deployment) -> tuple[list[str], dict[str, str]]:
    """The recommenders that answer the question (POC definition order), and for each other one the
    reason it is skipped, in a line."""
    for name in question.recommenders:
        if name not in deployment.recommenders:
            raise CliError(f"no recommender named '{name}' is deployed (deployed: {_names(deployment.recommenders)})")
    if question.campaigns and not question.recommenders:
        return [], {}
    listed = [n for n in deployment.use_cases if n in deployment.recommenders]
    names = list(question.recommenders) or listed + [n for n in deployment.recommenders if n not in listed]
    asked: list[str] = []
    skipped: dict[str, str] = {}
    for name in names:
        reason = _cannot_answer(question, deployment.use_cases.get(name))
        if reason is None:
            asked.append(name)
        else:
            skipped[name] = reason
    return asked, skipped


def _cannot_answer(question: Question, use_case: str | None) -> str | None:
    inputs = USE_CASE_INPUTS.get(use_case or "")
    if inputs is None:
        return "its use case is not in the POC definition"
    if question.mode == "rank":
        return f"{use_case} does not re-rank a list (GetPersonalizedRanking serves campaigns only)"
    if inputs.subject != question.mode:
        wanted = "an item: ask with --item" if inputs.subject == "item" else "a user: ask with --user"
        return f"{use_case} recommends for {wanted}"
    if inputs.needs_user and question.user is None:
        return f"{use_case} needs the user as well as the item: add --user"
    return None


def _nothing_answers(question: Question, deployment: Deployment, skipped: dict[str, str]) -> CliError:
    _, option, example = MODES[question.mode]
    deployed = _names(deployment.campaigns)
    text = f"no deployed campaign answers {option}: it needs a campaign of {example} (deployed: {deployed})"
    if skipped:
        text += "; " + "; ".join(f"recommender {name}: {reason}" for name, reason in skipped.items())
    return CliError(text)


def filter_values(question: Question, deployment: Deployment) -> dict[str, str] | None:
    """The request's ``filterValues``: each parameter's values quoted and comma separated (developer
    guide, "Filtering real-time recommendations": ``"\\"value1\\",\\"value2\\""``)."""
    from personalize_poc.filter_expression import parse_filter

    if question.filter is None:
        if question.params:
            raise UsageError("--param needs --filter")
        return None
    if question.filter not in deployment.filters:
        raise CliError(f"no filter named '{question.filter}' is deployed (deployed: {_names(deployment.filters)})")
    parsed = parse_filter(deployment.filter_expressions.get(question.filter, ""))
    wanted: dict[str, str] = {}  # parameter -> INCLUDE/EXCLUDE
    for expression in parsed.expressions:
        for condition in (*expression.conditions, *expression.user_conditions):
            for value in condition.values:
                if value.kind == "param":
                    wanted.setdefault(value.text.removeprefix("$"), expression.action)
    unknown = sorted(set(question.params) - set(wanted))
    if unknown:
        takes = f"its parameters: {', '.join(sorted(wanted))}" if wanted else "it takes no parameters"
        raise UsageError(f"filter '{question.filter}' has no parameter {', '.join(unknown)} ({takes})")
    missing = [name for name, action in wanted.items() if action == "INCLUDE" and name not in question.params]
    if missing:
        raise UsageError(f"filter '{question.filter}' needs --param {missing[0]}=<value> (an INCLUDE filter)")
    return {name: ",".join(_quoted(v) for v in values.split(",")) for name, values in question.params.items()}


def _quoted(value: str) -> str:
    text = value.strip().replace('"', '\\"')
    return f'"{text}"'


def _names(found: dict[str, str]) -> str:
    return ", ".join(sorted(found)) or "none"


# ------------------------------------------------------------------------------------ imported data


class ImportedData:
    """The users and items the POC imported, read from the bucket on demand (streamed)."""

    def __init__(self, session: Any, deployment: Deployment) -> None:
        self._s3 = session.client("s3")
        self._deployment = deployment
        self._items: dict[str, dict[str, str]] | None = None

    def uri(self, dataset: str) -> str:
        return f"s3://{self._deployment.bucket}/{aws.IMPORT_PREFIX}{self._deployment.data_keys[dataset]}"

    def _rows(self, dataset: str) -> Iterator[dict[str, str]]:
        key = f"{aws.IMPORT_PREFIX}{self._deployment.data_keys[dataset]}"
        try:
            body = self._s3.get_object(Bucket=self._deployment.bucket, Key=key)["Body"]
        except self._s3.exceptions.NoSuchKey:
            return
        lines = (line.decode("utf-8") for line in body.iter_lines())
        yield from csv.DictReader(lines)

    @property
    def items(self) -> dict[str, dict[str, str]]:
        if self._items is None:
            rows = self._rows("items") if "items" in self._deployment.data_keys else iter(())
            self._items = {row["ITEM_ID"]: row for row in rows}
        return self._items

    def metadata(self, item_id: str) -> dict[str, str]:
        row = self.items.get(item_id, {})
        return {k: v for k, v in row.items() if k not in _SKIPPED_METADATA and v not in (None, "")}

    def has_user(self, user: str) -> bool:
        """Whether the interactions file has the user (stops at the first row of theirs)."""
        return any(row.get("USER_ID") == user for row in self._rows("interactions"))

    def has_item(self, item: str) -> bool:
        return item in self.items or any(row.get("ITEM_ID") == item for row in self._rows("interactions"))


# ------------------------------------------------------------------------------------ asking


def recommend(session: Any, environment: Any, question: Question) -> Answer:
    """Check the question against what was deployed, then ask each campaign and recommender that answers
    it; a recommender that cannot answer it is skipped, with the reason."""
    deployment = load_deployment(session, environment)
    campaigns = campaigns_for(question, deployment)
    recommenders, skipped = recommenders_for(question, deployment)
    if not campaigns and not recommenders:
        raise _nothing_answers(question, deployment, skipped)
    values = filter_values(question, deployment)
    data = ImportedData(session, deployment)
    _check_subject(question, data)
    runtime = session.client("personalize-runtime")
    results = {
        name: _ask(runtime, question, {"campaignArn": deployment.campaigns[name]}, data, deployment, values)
        for name in campaigns
    }
    answered = {}
    for name in recommenders:
        request: dict[str, Any] = {"recommenderArn": deployment.recommenders[name]}
        if question.mode == "item" and question.user is not None:
            request["userId"] = question.user
        answered[name] = _ask(runtime, question, request, data, deployment, values)
    found = [r for recs in (*results.values(), *answered.values()) for r in recs]
    columns = sorted({k for r in found for k in r.metadata})
    return Answer(question, results, columns, recommenders=answered, skipped=skipped)


def _ask(
    runtime: Any,
    question: Question,
    request: dict[str, Any],
    data: ImportedData,
    deployment: Deployment,
    values: dict[str, str] | None,
) -> list[Recommended]:
    if question.filter is not None:
        request["filterArn"] = deployment.filters[question.filter]
        if values:
            request["filterValues"] = values
    if question.mode == "rank":
        answer = runtime.get_personalized_ranking(userId=question.subject, inputList=list(question.items), **request)
        found = answer["personalizedRanking"]
    else:
        subject = {"itemId" if question.mode == "item" else "userId": question.subject}
        found = runtime.get_recommendations(numResults=question.num_results, **subject, **request)["itemList"]
    return [Recommended(r["itemId"], r.get("score"), data.metadata(r["itemId"])) for r in found]


def _check_subject(question: Question, data: ImportedData) -> None:
    if question.mode == "item":
        if not data.has_item(question.subject):
            raise CliError(
                f"item '{question.subject}' is in neither the items nor the interactions file "
                f"({data.uri('interactions')})"
            )
        if question.user is not None:
            _check_user(question.user, question, data)
        return
    _check_user(question.subject, question, data)


def _check_user(user: str, question: Question, data: ImportedData) -> None:
    if question.new_user or data.has_user(user):
        return
    raise CliError(
        f"user '{user}' has no interactions in {data.uri('interactions')}; Personalize would answer "
        "with popular items (pass --new-user to ask for a user with no history)"
    )
