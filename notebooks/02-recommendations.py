# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: conda_python3
#     language: python
#     name: conda_python3
# ---


# %% [markdown]
# # 02 · Recommendations for real users
#
# The campaigns the workflow deployed, asked for real users of the POC's data: each user's recent history
# next to what every campaign recommends, with item metadata; the same for the recommenders of a domain
# dataset group; similar items (SIMS) for an item; a list re-ranked for a user; and every filter of the POC
# definition, with its parameters.
#
# Campaign, recommender and filter ARNs come from the SSM parameters the workflow published.

# %%
import io
import json
import re
from pathlib import Path

import boto3
import pandas as pd
from IPython.display import Markdown, display

config = json.loads(Path("poc-config.json").read_text())
s3 = boto3.client("s3")
ssm = boto3.client("ssm")
personalize = boto3.client("personalize")


def published(path: str = config["published_parameter_path"]) -> dict[str, str]:
    """The parameters the workflow published, by name under its path (campaigns/<name>, ...)."""
    found = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
        found.update({p["Name"][len(path) + 1 :]: p["Value"] for p in page["Parameters"]})
    return found


def read_s3(uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


params = published()


runtime = boto3.client("personalize-runtime")
group_arn = params["dataset-group-arn"]
campaigns = {k.removeprefix("campaigns/"): v for k, v in params.items() if k.startswith("campaigns/")}
filters = {k.removeprefix("filters/"): v for k, v in params.items() if k.startswith("filters/")}


def recipe_type(campaign_arn: str) -> str:
    version_arn = personalize.describe_campaign(campaignArn=campaign_arn)["campaign"]["solutionVersionArn"]
    version = personalize.describe_solution_version(solutionVersionArn=version_arn)["solutionVersion"]
    return personalize.describe_recipe(recipeArn=version["recipeArn"])["recipe"]["recipeType"]


kinds = {name: recipe_type(arn) for name, arn in campaigns.items()}
display(pd.DataFrame({"campaign": list(kinds), "recipe type": list(kinds.values())}).set_index("campaign"))

# %% [markdown]
# Item metadata and the users' histories come from the files the dataset group imported.


# %%
def imported(dataset_type: str) -> pd.DataFrame | None:
    for dataset in personalize.list_datasets(datasetGroupArn=group_arn)["datasets"]:
        if dataset["datasetType"].upper() != dataset_type:
            continue
        jobs = personalize.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]
        active = sorted((j for j in jobs if j["status"] == "ACTIVE"), key=lambda j: j["creationDateTime"])
        if active:
            job = personalize.describe_dataset_import_job(datasetImportJobArn=active[-1]["datasetImportJobArn"])
            return pd.read_csv(io.BytesIO(read_s3(job["datasetImportJob"]["dataSource"]["dataLocation"])))
    return None


interactions = imported("INTERACTIONS").sort_values("TIMESTAMP")
items = imported("ITEMS")
items = items.set_index("ITEM_ID") if items is not None else pd.DataFrame(index=interactions["ITEM_ID"].unique())
meta_columns = [c for c in items.columns if c not in ("CREATION_TIMESTAMP",)][:3]


def describe(item_id: str) -> str:
    if item_id not in items.index or not meta_columns:
        return item_id
    return f"{item_id} ({' / '.join(str(items.loc[item_id, c]) for c in meta_columns)})"


def padded(values: list[str], size: int = 5) -> list[str]:
    return (values + [""] * size)[:size]


def recommend(campaign: str, **request) -> list[str]:
    return [r["itemId"] for r in runtime.get_recommendations(campaignArn=campaigns[campaign], **request)["itemList"]]


# %% [markdown]
# ## A few users: recent history next to each campaign's recommendations
#
# Three users with long histories. Left: their last five interactions; right: the top five of every
# campaign that recommends for a user.

# %%
user_campaigns = [name for name, kind in kinds.items() if kind == "USER_PERSONALIZATION"]
users = interactions["USER_ID"].value_counts().index[:3]
for user in users if user_campaigns else []:  # a domain dataset group's recommenders: the next section
    recent = interactions[interactions["USER_ID"] == user].tail(5)
    events = recent["EVENT_TYPE"] if "EVENT_TYPE" in recent else [""] * len(recent)
    table = {"recent history": padded([f"{describe(i)} · {e}" for i, e in zip(recent["ITEM_ID"], events, strict=True)])}
    for name in user_campaigns:
        table[name] = padded([describe(i) for i in recommend(name, userId=str(user), numResults=5)])
    display(Markdown(f"### User `{user}`"))
    display(pd.DataFrame(table, index=range(1, 6)))

# %% [markdown]
# ## The recommenders of a domain dataset group, next to the same users' histories
#
# A domain dataset group (ECOMMERCE, VIDEO_ON_DEMAND) answers through recommenders, one per use case; the
# workflow published their ARNs under `recommenders/`. Every use case takes the user (`userId`); the
# "x" use cases (customers who viewed x, frequently bought together, because you watched x, more like x)
# also need an item (developer guide, "ECOMMERCE use cases" / "VIDEO_ON_DEMAND use cases", "GetRecommendations
# requirements"): the service answers InvalidInputException (botocore personalize-runtime GetRecommendations
# errors), and the recommender is asked again with the user's last item.

# %%
recommenders = {k.removeprefix("recommenders/"): v for k, v in params.items() if k.startswith("recommenders/")}
use_cases = {  # ListRecommenders' RecommenderSummary.recipeArn: recipe/aws-<domain>-<use case>
    r["recommenderArn"]: r["recipeArn"].rsplit("/", 1)[-1]
    for page in personalize.get_paginator("list_recommenders").paginate(datasetGroupArn=group_arn)
    for r in page["recommenders"]
}


def ask_recommender(arn: str, user: str, last_item: str) -> tuple[str, list[str]]:
    """(what it was asked for, its top five) for the user; with the user's last item when it needs one."""
    request = {"recommenderArn": arn, "userId": user, "numResults": 5}
    try:
        found = runtime.get_recommendations(**request)["itemList"]
        subject = "for the user"
    except runtime.exceptions.InvalidInputException:
        found = runtime.get_recommendations(itemId=last_item, **request)["itemList"]
        subject = f"after {last_item}"
    return subject, [r["itemId"] for r in found]


if not recommenders:
    print(f"No recommenders published under {config['published_parameter_path']}/recommenders: this POC has none.")
for user in users if recommenders else []:
    recent = interactions[interactions["USER_ID"] == user].tail(5)
    events = recent["EVENT_TYPE"] if "EVENT_TYPE" in recent else [""] * len(recent)
    table = {"recent history": padded([f"{describe(i)} · {e}" for i, e in zip(recent["ITEM_ID"], events, strict=True)])}
    for name, arn in recommenders.items():
        subject, found = ask_recommender(arn, str(user), str(recent["ITEM_ID"].iloc[-1]))
        table[f"{name} ({use_cases.get(arn, 'use case unknown')}, {subject})"] = padded([describe(i) for i in found])
    display(Markdown(f"### User `{user}`: recommenders"))
    display(pd.DataFrame(table, index=range(1, 6)))

# %% [markdown]
# ## Similar items (SIMS and other related-items recipes)
# Items that users who interacted with the chosen item also interacted with: "customers who viewed this
# also viewed".

# %%
item = interactions["ITEM_ID"].value_counts().index[0]
for name in [n for n, kind in kinds.items() if kind == "RELATED_ITEMS"]:
    display(Markdown(f"**{name}**: items similar to {describe(item)}"))
    display(pd.DataFrame({"similar item": [describe(i) for i in recommend(name, itemId=str(item), numResults=10)]}))

# %% [markdown]
# ## Re-ranking a list for a user (Personalized-Ranking)
# A page, a search result or a category listing shows items in a fixed order; a ranking campaign orders
# them for the user. Items the model never saw are appended at the end.

# %%
user = str(users[0])
candidates = list(interactions["ITEM_ID"].drop_duplicates().sample(10, random_state=7).astype(str))
for name in [n for n, kind in kinds.items() if kind == "PERSONALIZED_RANKING"]:
    ranked = runtime.get_personalized_ranking(campaignArn=campaigns[name], userId=user, inputList=candidates)
    order = [r["itemId"] for r in ranked["personalizedRanking"]]
    display(Markdown(f"**{name}** for user `{user}`"))
    display(pd.DataFrame({"as given": [describe(i) for i in candidates], "ranked": [describe(i) for i in order]}))

# %% [markdown]
# ## Every filter of the POC, with its parameters
# A filter keeps or removes items by interactions (e.g. what the user already purchased) or by item
# metadata. A `$PARAMETER` is filled at request time: string values go in double quotes, several values
# separated by commas (`"\"toys\",\"books\""`). An INCLUDE filter needs every parameter.

# %%
PARAMETER = re.compile(r"Items\.(\w+)\s+(?:NOT\s+)?IN\s+\(\s*\$(\w+)\s*\)")
user_campaign = user_campaigns[0] if user_campaigns else None
for name, filter_arn in filters.items():
    expression = personalize.describe_filter(filterArn=filter_arn)["filter"]["filterExpression"]
    values = {}
    for column, parameter in PARAMETER.findall(expression):
        example = items[column].value_counts().index[0] if column in items else "value"
        values[parameter] = f'"{example}"'
    display(Markdown(f"### `{name}`: `{expression}`" + (f" with {values}" if values else "")))
    if user_campaign is None:
        continue
    request = {"userId": user, "numResults": 5, "filterArn": filter_arn}
    if values:
        request["filterValues"] = values
    unfiltered = [describe(i) for i in recommend(user_campaign, userId=user, numResults=5)]
    filtered = [describe(i) for i in recommend(user_campaign, **request)]
    display(
        pd.DataFrame({"without the filter": padded(unfiltered), "with the filter": padded(filtered)}, index=range(1, 6))
    )
