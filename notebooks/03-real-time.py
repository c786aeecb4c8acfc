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
# # 03 · Real-time events
#
# The event tracker takes interactions as they happen (`PutEvents`). User-Personalization uses them at
# once: a new user who views a few items gets recommendations shaped by those views on the next request,
# without retraining. The popularity baseline does not change (its model is the training data's counts).
#
# The tracking id comes from the SSM parameters the workflow published.

# %%
import io
import json
import time
import uuid
from datetime import UTC, datetime
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
events = boto3.client("personalize-events")
group_arn = params["dataset-group-arn"]
tracking_id = params["event-tracker/tracking-id"]
campaigns = {k.removeprefix("campaigns/"): v for k, v in params.items() if k.startswith("campaigns/")}


def recipe_type(campaign_arn: str) -> str:
    version_arn = personalize.describe_campaign(campaignArn=campaign_arn)["campaign"]["solutionVersionArn"]
    version = personalize.describe_solution_version(solutionVersionArn=version_arn)["solutionVersion"]
    return personalize.describe_recipe(recipeArn=version["recipeArn"])["recipe"]["recipeType"]


campaign = next(name for name, arn in campaigns.items() if recipe_type(arn) == "USER_PERSONALIZATION")
print(f"Campaign {campaign}, event tracker {params['event-tracker/arn']}")

# %% [markdown]
# Item metadata, to see what the recommendations are about:


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


items = imported("ITEMS")
category = "CATEGORY_L1" if items is not None and "CATEGORY_L1" in items else None
items = items.set_index("ITEM_ID") if items is not None else None


def recommendations(user: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    answer = runtime.get_recommendations(campaignArn=campaigns[campaign], userId=user, numResults=10)
    return [r["itemId"] for r in answer["itemList"]], time.perf_counter() - started


def categories(item_ids: list[str]) -> pd.Series:
    if category is None:
        return pd.Series(dtype=int)
    return items.reindex(item_ids)[category].value_counts()


# %% [markdown]
# ## A new user, before any event
# A user Personalize has never seen gets what is popular (cold start).

# %%
user = f"notebook-user-{uuid.uuid4().hex[:8]}"
session_id = f"session-{uuid.uuid4().hex[:8]}"
before, latency_before = recommendations(user)
display(categories(before).to_frame("categories before"))

# %% [markdown]
# ## Send events: the user views a few items of one category

# %%
if category is not None:
    chosen = items[items[category] == items[category].value_counts().index[-1]].index[:4]
else:
    chosen = pd.Index(before[-4:])
started = time.perf_counter()
events.put_events(
    trackingId=tracking_id,
    userId=user,
    sessionId=session_id,
    eventList=[{"eventType": "view", "itemId": str(item), "sentAt": datetime.now(UTC)} for item in chosen],
)
put_latency = time.perf_counter() - started
print(f"Sent {len(chosen)} view events for {list(chosen)} in {put_latency * 1000:.0f} ms")

# %% [markdown]
# ## After the events

# %%
after, latency_after = recommendations(user)
display(pd.DataFrame({"before": before, "after": after}, index=range(1, len(before) + 1)))
display(pd.concat([categories(before).rename("before"), categories(after).rename("after")], axis=1).fillna(0))
changed = len(set(after) - set(before))
display(Markdown(f"**{changed} of {len(after)}** recommendations changed after {len(chosen)} events."))

# %% [markdown]
# ## What latency to expect
#
# Measured from this notebook (network round trip included):

# %%
display(
    pd.DataFrame(
        {
            "call": ["GetRecommendations (before)", "PutEvents", "GetRecommendations (after)"],
            "milliseconds": [round(latency_before * 1000), round(put_latency * 1000), round(latency_after * 1000)],
        }
    ).set_index("call")
)

# %% [markdown]
# From the same region, a campaign answers typically in tens of milliseconds; calls from a notebook
# add the network round trip. Events count for the user's next request; `minProvisionedTPS` (1 in
# this POC) is the throughput the campaign is billed for at least, so load tests belong on a campaign
# sized for them, not on the POC's. Events for users and items unknown to the model are kept too: the
# next training (a new solution version) learns from them.
