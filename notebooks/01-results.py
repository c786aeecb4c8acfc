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
# # 01 · Results of the POC run
#
# The POC workflow trained every solution of the POC definition and wrote a run report to the data
# bucket. This notebook shows it: each solution's offline metrics against the **Popularity-Count
# baseline**, what the metrics mean, and what the data the models learned from looks like.
#
# Everything is found from `poc-config.json` (written beside this notebook when the instance starts) and
# the SSM parameters the workflow published; nothing needs pasting.

# %%
import io
import json
from pathlib import Path

import boto3
import pandas as pd
from IPython.display import SVG, Markdown, display

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
report = json.loads(read_s3(params["report-uri"]))
print(f"Environment {config['environment']}, dataset group {report['datasetGroupArn']}")
print(f"Run {report['execution']}, report generated {report['generatedAt']}")

# %% [markdown]
# ## Offline metrics, each solution against the baseline
#
# Personalize holds back the most recent interactions of a share of the users, asks each trained
# solution version to recommend for them, and compares the recommendations with what those users really
# did next. The baseline (Popularity-Count) recommends the most popular items to everybody: a solution
# worth deploying beats it clearly.

# %%
HEADLINE = {
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "precision_at_10": "precision@10",
    "mean_reciprocal_rank_at_25": "MRR@25",
    "coverage": "coverage",
}
rows = []
for row in report["solutions"]:
    entry = {"solution": row["solution"] + (" (baseline)" if row["baseline"] else ""), "recipe": row["recipe"]}
    for metric, label in HEADLINE.items():
        entry[label] = row["metrics"].get(metric)
        lift = (row.get("liftOverBaseline") or {}).get(metric)
        entry[f"{label} lift %"] = lift
    rows.append(entry)
metrics = pd.DataFrame(rows).set_index("solution")
display(metrics.round(4))

# %% [markdown]
# The same numbers as a chart (the workflow wrote it beside the report, `report.svg`):

# %%
chart_uri = params["report-uri"].rsplit("/", 1)[0] + "/report.svg"
display(SVG(data=read_s3(chart_uri)))

# %% [markdown]
# ### How to read the metrics
#
# - **NDCG@10** (normalized discounted cumulative gain): were the items the user really chose near the
#   top of the 10 recommendations? 1 is a perfect order; relevant items lower in the list count less.
# - **precision@10**: the share of the 10 recommendations the user really interacted with.
# - **MRR@25** (mean reciprocal rank): 1 divided by the position of the first relevant item in the top 25,
#   averaged over users. 0.5 means "on average the first hit is second".
# - **coverage**: the share of the catalogue that the solution recommends to anybody. Popularity has
#   very low coverage; a personalised solution should recommend much more of the catalogue.
#
# Offline metrics compare solutions trained on the same data; they are not a promise of online uplift.
# SIMS and Personalized-Ranking answer different questions (similar items, re-ranking a list), so
# compare them with the baseline with care. An A/B test with real traffic is the final judge.

# %%
best = metrics.drop(index=[s for s in metrics.index if s.endswith("(baseline)")])["NDCG@10"].idxmax()
display(Markdown(f"Highest NDCG@10 of the trained solutions: **{best}** ({metrics.loc[best, 'NDCG@10']:.4f})."))

# %% [markdown]
# ## The data the models learned from
#
# The files the dataset import jobs read, found from the dataset group itself.


# %%
def imported(dataset_type: str) -> pd.DataFrame | None:
    """The file of the latest ACTIVE import job of the dataset group's dataset of this type."""
    datasets = personalize.list_datasets(datasetGroupArn=report["datasetGroupArn"])["datasets"]
    for dataset in datasets:
        if dataset["datasetType"].upper() != dataset_type:
            continue
        jobs = personalize.list_dataset_import_jobs(datasetArn=dataset["datasetArn"])["datasetImportJobs"]
        active = sorted((j for j in jobs if j["status"] == "ACTIVE"), key=lambda j: j["creationDateTime"])
        if active:
            job = personalize.describe_dataset_import_job(datasetImportJobArn=active[-1]["datasetImportJobArn"])
            location = job["datasetImportJob"]["dataSource"]["dataLocation"]
            print(f"{dataset_type}: {location}")
            return pd.read_csv(io.BytesIO(read_s3(location)))
    return None


interactions = imported("INTERACTIONS")
items = imported("ITEMS")
interactions["time"] = pd.to_datetime(interactions["TIMESTAMP"], unit="s")
print(
    f"{len(interactions):,} interactions, {interactions['USER_ID'].nunique():,} users, "
    f"{interactions['ITEM_ID'].nunique():,} items, from {interactions['time'].min():%Y-%m-%d} "
    f"to {interactions['time'].max():%Y-%m-%d}"
)

# %% [markdown]
# ### Interactions over time
# A POC needs recent data: the service weighs recent behaviour, and evaluation holds back the latest
# interactions. Gaps or a sudden drop usually mean an export problem.

# %%
per_week = interactions.set_index("time").resample("W")["ITEM_ID"].count()
ax = per_week.plot(title="Interactions per week", figsize=(9, 3))
ax.set_ylabel("interactions")

# %% [markdown]
# ### Event types
# Solutions can train on one event type (`event_type` in the POC definition); filters can exclude, for
# example, what a user already purchased.

# %%
if "EVENT_TYPE" in interactions:
    display(interactions["EVENT_TYPE"].value_counts().to_frame("interactions"))

# %% [markdown]
# ### Item popularity: the long tail
# Most catalogues have a few very popular items and a long tail. The flatter the curve, the more a
# personalised solution can beat the popularity baseline.

# %%
popularity = interactions["ITEM_ID"].value_counts()
top_share = popularity.head(max(len(popularity) // 10, 1)).sum() / popularity.sum()
ax = popularity.reset_index(drop=True).plot(title="Interactions per item, most popular first", figsize=(9, 3))
ax.set_xlabel("item rank")
print(f"The top 10% of items account for {top_share:.0%} of the interactions.")
if items is not None and "CATEGORY_L1" in items:
    by_category = interactions.merge(items, on="ITEM_ID", how="left")["CATEGORY_L1"].value_counts()
    display(by_category.to_frame("interactions per category"))

# %% [markdown]
# ### Users' history lengths
# Personalize needs at least 25 users with 2 or more interactions (the POC guide advises many more). Users
# with long histories get the most personal recommendations.

# %%
history = interactions.groupby("USER_ID").size()
display(history.describe().to_frame("interactions per user").round(1))
ax = history.plot.hist(bins=30, title="Interactions per user", figsize=(9, 3))
ax.set_xlabel("interactions")
