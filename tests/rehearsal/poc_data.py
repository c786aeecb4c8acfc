"""The data a rehearsal runs on: the user's own files (``--data DIR``), or data generated to fit the
environment's POC definition - its schemas (field names, types, categorical and textual fields),
the event types its solutions and filters name, the values its filters name, and one batch input
per batch inference job (and per batch segment job) in the form that job's recipe reads.

Both come as ``RehearsalData``: object keys in the data bucket (``imports/...``, ``batch-input/...``,
as the plan reads them) mapped to local files, and one line that says which it is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personalize_poc.data import sample
from personalize_poc.domain import use_case
from personalize_poc.plan import BATCH_INPUT_PREFIX, IMPORT_PREFIX, build_plan
from personalize_poc.poc_definition import RECIPES, load_poc_definition
from personalize_poc.settings import EnvironmentSettings

#: Stand-ins for what only deployment knows; object keys do not depend on them.
PLACEHOLDER_BUCKET = "rehearsal-data"
PLACEHOLDER_ROLE = "arn:aws:iam::123456789012:role/rehearsal"

# `Items.GENRE IN ("Comedy", "Drama")`, `Interactions.EVENT_TYPE = "click"`: values a filter names.
_FILTER_VALUES = re.compile(
    r"\b(Interactions|Items|Users)\.([A-Za-z_][A-Za-z0-9_]*)\s*(?:NOT\s+)?(?:IN\s*\(([^)]*)\)|=\s*(\"[^\"]*\"))",
    re.IGNORECASE,
)
_LITERAL = re.compile(r"\"([^\"]*)\"")


class DataError(Exception):
    """The given data directory does not hold what the POC definition reads; one line."""


@dataclass(frozen=True)
class RehearsalData:
    headline: str  # one line: which data, and why
    objects: dict[str, Path]  # object key in the data bucket -> local file
    details: list[str] = field(default_factory=list)


def definition_plan(settings: EnvironmentSettings) -> dict[str, Any]:
    """The plan the stack embeds for this environment (bucket and role are placeholders). Raises
    PocConfigError for a bad definition, as synthesis would."""
    poc = load_poc_definition(settings.poc_config_path, settings.name_prefix)
    return build_plan(
        poc,
        config_dir=settings.poc_config_path.parent,
        name_prefix=settings.name_prefix,
        bucket_name=PLACEHOLDER_BUCKET,
        role_arn=PLACEHOLDER_ROLE,
        kms_key_arn=settings.kms_key_arn,
    )


def object_key(uri: str) -> str:
    return uri.removeprefix("s3://").partition("/")[2]


def batch_jobs(plan: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """Each batch inference job of the plan with the input form its recipe reads."""
    return [
        (job, RECIPES[solution["recipe"]].batch_input)
        for solution in plan["solutions"]
        for job in solution["batchJobs"]
    ]


def value_hints(plan: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """({"<dataset type>.<field>": values the filters name}, event types the solutions train on)."""
    values: dict[str, list[str]] = {}
    for item in plan["filters"]:
        for dataset, name, listed, single in _FILTER_VALUES.findall(item["expression"]):
            found = _LITERAL.findall(listed or single)
            values.setdefault(f"{dataset.lower()}.{name}", []).extend(found)
    trained = [s["eventType"] for s in plan["solutions"] if s.get("eventType")]
    # A domain's use cases need 1000+ events of their type ("At minimum, 1000 View events").
    domain = plan["datasetGroup"].get("domain")
    for recommender in plan.get("recommenders", []):
        event_type = use_case(domain, recommender["useCase"]).event_type
        if event_type:
            trained.append(event_type)
    return {k: list(dict.fromkeys(v)) for k, v in values.items()}, list(dict.fromkeys(trained))


def generated(plan: dict[str, Any], out: Path) -> RehearsalData:
    """Data that fits the plan's schemas, with a batch input per batch job (see the module docstring)."""
    schemas = {d["type"]: json.loads(d["schema"]) for d in plan["datasets"]}
    keys = {d["type"]: d["dataKey"] for d in plan["datasets"]}
    values, trained = value_hints(plan)
    fitted = sample.generate_fitting(
        out,
        schemas,
        values=values,
        trained_event_types=trained,
        names=keys,  # out/imports/<data_key>, out/batch-input/<input_key>: the bucket's layout
    )
    objects = {keys[kind]: path for kind, path in fitted.files.items()}
    users, items = sample.sample_ids(sample.fitting_spec(fitted.event_types, trained))
    details = [f"{keys[kind]}: {rows} rows" for kind, rows in fitted.rows.items()]
    if "interactions" in schemas and any(f["name"] == "EVENT_TYPE" for f in schemas["interactions"]["fields"]):
        details.append(f"event types: {', '.join(fitted.event_types)}")
    details += [_write_batch_input(job, kind, out, objects, users, items) for job, kind in batch_jobs(plan)]
    items_file = fitted.files.get("items")
    details += [_write_segment_input(job, out, objects, items, items_file, schemas) for job in segment_jobs(plan)]
    counts = ", ".join(f"{rows} {kind}" for kind, rows in fitted.rows.items())
    return RehearsalData(
        f"Data: generated to fit the POC's schemas ({counts}), as no DATA directory was given", objects, details
    )


def given(plan: dict[str, Any], data_dir: Path, out: Path) -> RehearsalData:
    """The user's files: each dataset's file at its data_key under ``data_dir``; a batch input missing
    there is made from the ids in their interactions file (and said so)."""
    if not data_dir.is_dir():
        raise DataError(f"--data {data_dir}: not a directory")
    objects: dict[str, Path] = {}
    for dataset in plan["datasets"]:
        relative = dataset["dataKey"].removeprefix(IMPORT_PREFIX)
        path = data_dir / relative
        if not path.is_file():
            raise DataError(
                f"--data {data_dir}: no {relative} for the {dataset['type']} dataset "
                f"(datasets.{dataset['type']}.data_key in the POC definition)"
            )
        objects[dataset["dataKey"]] = path
    details = [f"{key}: {path}" for key, path in objects.items()]
    missing = []
    for job, kind in batch_jobs(plan):
        path = data_dir / object_key(job["inputUri"]).removeprefix(BATCH_INPUT_PREFIX)
        if path.is_file():
            objects[object_key(job["inputUri"])] = path
            details.append(f"{object_key(job['inputUri'])}: {path}")
        else:
            missing.append((job, kind))
    segments_missing = []
    for job in segment_jobs(plan):
        path = data_dir / object_key(job["inputUri"]).removeprefix(BATCH_INPUT_PREFIX)
        if path.is_file():
            objects[object_key(job["inputUri"])] = path
            details.append(f"{object_key(job['inputUri'])}: {path}")
        else:
            segments_missing.append(job)
    if missing or segments_missing:
        interactions = objects[_dataset_key(plan, "interactions")]
        users, items = _ids_by_frequency(interactions)
        for job, kind in missing:
            details.append(_write_batch_input(job, kind, out, objects, users, items, f"ids in {interactions.name}"))
        schemas = {d["type"]: json.loads(d["schema"]) for d in plan["datasets"]}
        items_file = objects.get(_dataset_key(plan, "items")) if "items" in schemas else None
        for job in segments_missing:
            details.append(_write_segment_input(job, out, objects, items, items_file, schemas, "your files"))
    return RehearsalData(f"Data: your files in {data_dir}", objects, details)


def _dataset_key(plan: dict[str, Any], kind: str) -> str:
    return str(next(d["dataKey"] for d in plan["datasets"] if d["type"] == kind))


def _write_batch_input(
    job: dict[str, Any],
    kind: str,
    out: Path,
    objects: dict[str, Path],
    users: list[str],
    items: list[str],
    source: str = "generated ids",
) -> str:
    key = object_key(job["inputUri"])
    lines = sample.batch_input_lines(kind, users, items)
    if not lines:
        raise DataError(f"no ids in {source} to make {key} of")
    objects[key] = sample.write_batch_lines(out / key, lines)
    return f"{key}: {len(lines)} lines of {{{', '.join(lines[0])}}} for {job['label']} (made from {source})"


def segment_jobs(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Each batch segment job of the plan (personalize_poc/segments.py); its `inputKey` says the line form."""
    return [job for solution in plan["solutions"] for job in solution.get("segmentJobs", [])]


def _write_segment_input(
    job: dict[str, Any],
    out: Path,
    objects: dict[str, Path],
    items: list[str],
    items_file: Path | None,
    schemas: dict[str, Any],
    source: str = "generated data",
) -> str:
    """Item-Affinity: `{"itemId"}` lines of the most frequent items (at most 500); Item-Attribute-Affinity:
    `{"itemAttributes": "ITEMS.<field> = \\"<value>\\""}` for values of the items' first categorical field
    (at most 10 queries) ("Preparing input data for user segments")."""
    import csv

    key = object_key(job["inputUri"])
    if job["inputKey"] == "itemId":
        records = [{"itemId": item} for item in items[:50]]
    else:
        fields = schemas.get("items", {}).get("fields", [])
        categorical = next((f["name"] for f in fields if f.get("categorical")), None)
        values: list[str] = []
        if categorical and items_file is not None:
            with items_file.open(newline="", encoding="utf-8") as handle:
                values = list(dict.fromkeys(row[categorical] for row in csv.DictReader(handle) if row[categorical]))
        records = [{"itemAttributes": f'ITEMS.{categorical} = "{value}"'} for value in values[:10]]
    if not records:
        raise DataError(f"nothing in {source} to make {key} of (item ids, or a categorical items field)")
    path = out / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    objects[key] = path
    return f"{key}: {len(records)} lines of {{{next(iter(records[0]))}}} for {job['label']} (made from {source})"


def _ids_by_frequency(interactions: Path) -> tuple[list[str], list[str]]:
    """User ids and item ids of an interactions CSV, most frequent first."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            interactions,
            convert_options=pacsv.ConvertOptions(
                include_columns=["USER_ID", "ITEM_ID"],
                column_types={"USER_ID": "string", "ITEM_ID": "string"},
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError) as error:
        raise DataError(f"{interactions}: cannot read its USER_ID and ITEM_ID columns ({error})") from None

    def ranked(column: str) -> list[str]:
        counts = pc.value_counts(table.column(column).combine_chunks())
        pairs = sorted(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return [value for value, _ in pairs]

    return ranked("USER_ID"), ranked("ITEM_ID")


def upload(s3: Any, bucket: str, data: RehearsalData) -> list[str]:
    """Put each file at its key in the data bucket; returns the S3 URIs."""
    uris = []
    for key, path in sorted(data.objects.items()):
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        uris.append(f"s3://{bucket}/{key}")
    return uris
