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
# # 04 · Batch recommendations
#
# The workflow ran a batch inference job for every `batch_inference` entry of the POC definition: one
# line of recommendations per line of input, written to the bucket. This notebook reads that output and
# compares it with what the campaign of the same solution answers in real time.

# %%
import json
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
outputs = {k.removeprefix("batch-output/"): v for k, v in params.items() if k.startswith("batch-output/")}
jobs = personalize.list_batch_inference_jobs()["batchInferenceJobs"]
display(pd.DataFrame(outputs.items(), columns=["batch job", "output"]).set_index("batch job"))

# %% [markdown]
# ## The output files
# Each line holds the input, the recommended items (and scores where the recipe gives them), and an
# error if that line failed.


# %%
def read_output(prefix: str) -> pd.DataFrame:
    bucket, _, key = prefix.removeprefix("s3://").partition("/")
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for entry in page.get("Contents", []):
            if entry["Key"].endswith(".out"):
                body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
                lines += [json.loads(line) for line in body.splitlines() if line.strip()]
    return pd.DataFrame(
        {
            "input": [json.dumps(line["input"]) for line in lines],
            "recommended": [(line.get("output") or {}).get("recommendedItems", []) for line in lines],
            "error": [line.get("error") for line in lines],
        }
    )


batches = {name: read_output(prefix) for name, prefix in outputs.items()}
for name, frame in batches.items():
    display(Markdown(f"**{name}**: {len(frame)} lines, {frame['error'].notna().sum()} with an error"))
    display(frame.head(5))

# %% [markdown]
# ## Batch against real time
# For the first users of the batch input, the top 10 of the batch output next to the top 10 the campaign
# of the same solution answers now, with the batch job's filter. Both come from the same solution
# version; real-time answers also see the events sent since (notebook 03), so small differences are
# expected.


# %%
def job_details(output_prefix: str) -> dict | None:
    for summary in jobs:
        job = personalize.describe_batch_inference_job(batchInferenceJobArn=summary["batchInferenceJobArn"])
        job = job["batchInferenceJob"]
        if output_prefix.startswith(job["jobOutput"]["s3DataDestination"]["path"].rstrip("/")):
            return job
    return None


for name, frame in batches.items():
    job = job_details(outputs[name])
    serving = [
        c
        for c, arn in campaigns.items()
        if personalize.describe_campaign(campaignArn=arn)["campaign"]["solutionVersionArn"]
        == (job or {}).get("solutionVersionArn")
    ]
    if job is None or not serving or frame.empty:
        display(Markdown(f"**{name}**: no campaign serves its solution version; nothing to compare."))
        continue
    overlaps = []
    for _, row in frame.head(5).iterrows():
        request = json.loads(row["input"])
        if "userId" not in request or "itemList" in request:
            continue
        extra = {"filterArn": job["filterArn"]} if job.get("filterArn") else {}
        live = runtime.get_recommendations(
            campaignArn=campaigns[serving[0]], userId=request["userId"], numResults=10, **extra
        )
        live_items = [r["itemId"] for r in live["itemList"]]
        batch_items = row["recommended"][:10]
        overlaps.append(
            {
                "user": request["userId"],
                "batch top 10": batch_items,
                "real-time top 10": live_items,
                "in both": len(set(batch_items) & set(live_items)),
            }
        )
    display(Markdown(f"**{name}** against campaign **{serving[0]}**"))
    display(pd.DataFrame(overlaps).set_index("user") if overlaps else pd.DataFrame())
