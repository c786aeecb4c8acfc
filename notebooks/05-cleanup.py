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
# # 05 · Clean up
#
# Campaigns bill every hour they exist; the event tracker bills per event; the rest bills once (imports,
# training, batch jobs) or is free while it sits. When the POC is over, the **teardown workflow** deletes
# every Personalize resource of the POC's dataset group, level by level, waiting for each level: batch
# jobs awaited, campaigns, event tracker and filters, training stopped, solutions, datasets, the dataset
# group, the schemas the POC made, and the parameters the workflow published. It is safe to run again.
#
# This notebook starts that workflow; it deletes nothing by hand. The stack itself (bucket, roles, this
# notebook instance) stays until `make destroy`, which runs the same teardown first.

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

stepfunctions = boto3.client("stepfunctions")
group_arn = params["dataset-group-arn"]
teardown_arn = ssm.get_parameter(Name=f"{config['parameter_path']}/teardown-arn")["Parameter"]["Value"]

# %% [markdown]
# ## What exists now in the POC's dataset group

# %%
solutions = personalize.list_solutions(datasetGroupArn=group_arn)["solutions"]
existing = {
    "campaigns": [
        c["name"] for s in solutions for c in personalize.list_campaigns(solutionArn=s["solutionArn"])["campaigns"]
    ],
    "filters": [f["name"] for f in personalize.list_filters(datasetGroupArn=group_arn)["Filters"]],
    "event trackers": [t["name"] for t in personalize.list_event_trackers(datasetGroupArn=group_arn)["eventTrackers"]],
    "solutions": [s["name"] for s in solutions],
    "datasets": [d["name"] for d in personalize.list_datasets(datasetGroupArn=group_arn)["datasets"]],
}
display(
    pd.DataFrame([(kind, ", ".join(names)) for kind, names in existing.items()], columns=["kind", "names"]).set_index(
        "kind"
    )
)

# %% [markdown]
# ## Start the teardown
# Set `CONFIRM_TEARDOWN = True` in the next cell and run it: nothing is deleted by running this notebook
# top to bottom as it ships.

# %% tags=["parameters"]
CONFIRM_TEARDOWN = False

# %%
if CONFIRM_TEARDOWN:
    execution_arn = stepfunctions.start_execution(stateMachineArn=teardown_arn)["executionArn"]
    region = stepfunctions.meta.region_name
    display(
        Markdown(
            f"Teardown started: `{execution_arn}`.\n\n"
            f"Follow it in the [Step Functions console](https://{region}.console.aws.amazon.com/states/home"
            f"?region={region}#/v2/executions/details/{execution_arn}) or with "
            f"`personalize-poc run status {config['environment']} --workflow teardown --watch`. Campaigns go "
            "first; the whole teardown takes minutes to an hour."
        )
    )
else:
    execution_arn = None
    display(Markdown("Teardown **not** started: set `CONFIRM_TEARDOWN = True` above to start it."))

# %%
if execution_arn:
    status = stepfunctions.describe_execution(executionArn=execution_arn)["status"]
    print(f"Teardown execution status now: {status}")
