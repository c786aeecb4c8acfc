"""personalize-poc: the POC's command line (data preparation, upload, workflow runs).

Every bad input ends in one line on stderr and an exit status, never a traceback: 0 success, 1 a
problem with the data or the environment, 2 a usage error. Set PERSONALIZE_POC_DEBUG=1 to see the
traceback of an unexpected error.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from personalize_poc.data.errors import CliError, UsageError

app = typer.Typer(name="personalize-poc", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Amazon Personalize proof of concept: prepare data, upload it, run the workflow, ask for "
                       "recommendations.")
data_app = typer.Typer(no_args_is_help=True, help="Generate, validate and upload the POC's data.")
run_app = typer.Typer(no_args_is_help=True, help="Start the POC workflow and follow its progress.")
app.add_typer(data_app, name="data")
app.add_typer(run_app, name="run")

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


class DatasetType(StrEnum):
    interactions = "interactions"
    items = "items"
    users = "users"
    batch_input = "batch-input"


def _fail(message: str, code: int) -> typer.Exit:
    stderr.print(Text.assemble(("error: ", "bold red"), message))
    return typer.Exit(code)


def friendly_errors(command: F) -> F:
    """One line and an exit status instead of a traceback, for every command."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except CliError as exc:
            raise _fail(str(exc), exc.exit_code) from None
        except Exception as exc:
            from botocore.exceptions import BotoCoreError, ClientError

            from personalize_poc.data.aws import describe_aws_error

            if isinstance(exc, BotoCoreError | ClientError):
                raise _fail(describe_aws_error(exc), 1) from None
            if os.environ.get("PERSONALIZE_POC_DEBUG"):
                raise
            detail = str(exc).splitlines()[0] if str(exc) else ""
            raise _fail(f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
                        "(PERSONALIZE_POC_DEBUG=1 shows the traceback)", 1) from None

    return wrapper  # type: ignore[return-value]


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


# ------------------------------------------------------------------------------------------- data


@data_app.command("sample")
@friendly_errors
def sample(
    out: Annotated[Path, typer.Option("--out", help="Folder for the CSV files and .avsc schemas.",
                                      file_okay=False)],
    users: Annotated[int, typer.Option(min=1, help="Number of users.")] = 500,
    items: Annotated[int, typer.Option(min=1, help="Number of items.")] = 300,
    interactions: Annotated[int, typer.Option(min=0, help="Number of interactions.")] = 20_000,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: the same seed gives the same bytes.")] = 42,
    end: Annotated[str, typer.Option(help="Last day (UTC, YYYY-MM-DD, exclusive) of the 90-day window.")]
    = "2026-10-01",
) -> None:
    """Generate a synthetic, deterministic dataset (interactions, items, users) with Avro schemas."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from personalize_poc.data.sample import SampleSpec, generate

    try:
        end_date = dt.date.fromisoformat(end)
    except ValueError:
        raise UsageError(f"--end must be a date like 2026-10-01, not {end!r}") from None
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    spec = SampleSpec(users=users, items=items, interactions=interactions, seed=seed, end=end_date)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=stderr, transient=True,
                  disable=interactions < 1_000_000 or not stderr.is_terminal) as progress:
        task = progress.add_task("interactions", total=interactions)
        paths = generate(out, spec, progress=lambda rows: progress.advance(task, rows))
    table = Table(title=f"Sample data in {out}", title_justify="left")
    table.add_column("File")
    table.add_column("Size", justify="right")
    for path in paths:
        table.add_row(path.name, _human_bytes(path.stat().st_size))
    stdout.print(table)


@data_app.command("validate")
@friendly_errors
def validate(
    file: Annotated[Path, typer.Argument(help="The file to check: CSV, or JSON lines for --type batch-input.",
                                         exists=True, dir_okay=False, readable=True)],
    dataset_type: Annotated[DatasetType, typer.Option("--type", "-t", help="Which dataset the file is for, or "
                                                      "batch-input (a batch inference job's input; needs "
                                                      "--recipe).", case_sensitive=False)],
    schema: Annotated[Path | None, typer.Option(help="Avro schema (.avsc) to check columns and types "
                                                "against; without it only reserved fields are typed.",
                                                exists=True, dir_okay=False, readable=True)] = None,
    items: Annotated[Path | None, typer.Option(help="Items CSV: report interactions whose ITEM_ID is "
                                               "not in it (interactions only).", exists=True,
                                               dir_okay=False, readable=True)] = None,
    recipe: Annotated[str | None, typer.Option(help="The recipe of the solution the batch job uses (e.g. "
                                               "aws-sims): it decides the keys of each line (batch-input "
                                               "only).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    env: Annotated[str | None, typer.Option("--env", help="Environment (config/environments.yaml) whose POC "
                                            "definition has recommenders: an interactions file must hold "
                                            "the events each one's use case needs (e.g. 1000 View "
                                            "events).")] = None,
) -> None:
    """Check a CSV file (or a batch inference input) against Personalize's rules. Exit 0 valid (warnings
    allowed), 1 not, 2 usage."""
    from personalize_poc.data import validate as validator

    kind = dataset_type.value
    if dataset_type is DatasetType.batch_input:
        if schema is not None or items is not None or env is not None:
            raise UsageError("--schema, --items and --env apply to CSV datasets, not --type batch-input")
        report = validator.validate_batch_input(file, _batch_input_kind(recipe))
    else:
        if recipe is not None:
            raise UsageError("--recipe only applies to --type batch-input")
        validator.tune_malloc()
        if items is not None and kind != "interactions":
            raise UsageError("--items only applies to --type interactions")
        loaded_schema = validator.load_schema(schema) if schema else None
        item_ids = validator.load_item_ids(items) if items else None
        needs = _event_needs(env) if kind == "interactions" else []
        report = _validate_with_progress(validator, file, kind, loaded_schema, item_ids, needs)
    if as_json:
        print(validator.report_json(report))
    else:
        _print_report(report)
    raise typer.Exit(0 if report.valid else 1)


def _batch_input_kind(recipe: str | None) -> str:
    """users / items / user_items for the recipe, from the recipe table the POC definition uses."""
    from personalize_poc.poc_definition import RECIPES, batch_input_kind

    if not recipe:
        raise UsageError("--type batch-input needs --recipe (the solution's recipe, e.g. aws-sims)")
    try:
        kind = batch_input_kind(recipe)
    except KeyError:
        raise UsageError(f"unknown recipe {recipe!r}; supported: {', '.join(sorted(RECIPES))}") from None
    if kind is None:
        raise UsageError(f"recipe {recipe} has no batch inference")
    return kind


def _event_needs(env: str | None) -> list[Any]:
    """What the environment's recommenders need of each event type, from its POC definition read as
    synthesis reads it (personalize_poc.domain.event_needs); none without --env or recommenders."""
    if env is None:
        return []
    from personalize_poc.data import aws
    from personalize_poc.domain import event_needs
    from personalize_poc.poc_definition import PocConfigError, load_poc_definition

    environment = aws.load_environment(env)
    try:
        poc = load_poc_definition(environment.poc_config_path, environment.name_prefix)
    except PocConfigError as exc:
        raise CliError(str(exc)) from None
    return event_needs(poc.dataset_group.domain, poc.recommenders)


def _validate_with_progress(validator: Any, file: Path, kind: str, schema: Any, item_ids: Any,
                            event_needs: list[Any]) -> Any:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    big = file.stat().st_size > 50 * 1024 * 1024
    with Progress(SpinnerColumn(), TextColumn("checking {task.fields[name]}: {task.completed:,.0f} rows"),
                  TimeElapsedColumn(), console=stderr, transient=True,
                  disable=not (big and stderr.is_terminal)) as progress:
        task = progress.add_task("validate", total=None, name=file.name)
        return validator.validate_file(file, kind, schema=schema, item_ids=item_ids, event_needs=event_needs,
                                       progress=lambda rows: progress.advance(task, rows))


def _print_report(report: Any) -> None:
    stats = report.stats
    facts = [f"{report.rows:,} rows"]
    labels = (("users", "users"), ("active_users", "users with 2+ interactions"), ("items", "items"))
    for key, label in labels:
        if key in stats:
            facts.append(f"{stats[key]:,} {label}")
    if stats.get("event_types"):
        facts.append("events: " + ", ".join(f"{count:,} {name}" for name, count in stats["event_types"].items()))
    stdout.print(Text.assemble((f"{report.path}", "bold"), f" ({report.dataset_type}): ", ", ".join(facts)))
    if report.findings:
        table = Table(show_lines=False)
        table.add_column("Level", no_wrap=True)
        table.add_column("Code", no_wrap=True, min_width=max(len(f.code) for f in report.findings))
        table.add_column("Rows", justify="right", no_wrap=True)
        table.add_column("Lines", max_width=24, overflow="fold")
        table.add_column("Message", overflow="fold", ratio=1)
        for item in report.findings:
            style = "red" if item.level == "error" else "yellow"
            table.add_row(Text(item.level, style=style), item.code, f"{item.rows:,}" if item.rows else "",
                          ", ".join(f"{n:,}" for n in item.examples), item.message)
        stdout.print(table)
    verdict = ("valid", "bold green") if report.valid else ("NOT valid", "bold red")
    stdout.print(Text.assemble(verdict, f": {report.errors} error(s), {report.warnings} warning(s) "
                                        f"in {report.seconds:.1f} s"))


@data_app.command("upload")
@friendly_errors
def upload(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    files: Annotated[list[Path], typer.Argument(help="Files to upload.", exists=True, dir_okay=False,
                                                readable=True)],
    key_prefix: Annotated[str, typer.Option(help="Folder under imports/ (CSV files) or batch-input/ "
                                                 "(JSON lines).")] = "",
    marker: Annotated[bool, typer.Option(help="Write imports/_upload-complete.json after the files (it "
                                              "starts the workflow when auto_start_on_upload is on).")] = True,
) -> None:
    """Upload files to the environment's data bucket (multipart, with progress).

    CSV files (interactions, items, users) go under imports/, JSON lines (.jsonl, .json: batch
    inference inputs) under batch-input/. Last comes the marker imports/_upload-complete.json, listing
    what was uploaded with ETags: with auto_start_on_upload on, writing it starts the workflow, so the
    run sees the whole upload. Uploading with other tools? Write that marker last yourself.
    """
    from personalize_poc.data import aws
    from personalize_poc.data.upload import upload_files

    environment = aws.load_environment(env)
    for done in upload_files(environment, files, key_prefix=key_prefix, console=stderr, marker=marker):
        stdout.print(f"{done.uri}  ({_human_bytes(done.size)})")


class ExportDataset(StrEnum):
    interactions = "interactions"
    items = "items"
    users = "users"
    all = "all"


class IngestionMode(StrEnum):  # botocore IngestionMode
    BULK = "BULK"
    PUT = "PUT"
    ALL = "ALL"


@data_app.command("export")
@friendly_errors
def export(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    dataset: Annotated[ExportDataset, typer.Option(help="Which dataset of the POC to export.")] = ExportDataset.all,
    ingestion_mode: Annotated[IngestionMode, typer.Option(help="BULK: what import jobs brought in; PUT: what "
                                                          "came one by one (PutEvents, PutUsers, PutItems); ALL: "
                                                          "both. The service's default is PUT.")] = IngestionMode.ALL,
    timeout: Annotated[float, typer.Option(min=1, help="Minutes to wait before giving up watching (the job "
                                                       "goes on).")] = 180,
) -> None:
    """Export the POC's datasets (dataset export jobs) to the data bucket under exports/<job>/ and list
    the CSV files written. Exit 1 if a job fails."""
    from personalize_poc.data import aws
    from personalize_poc.data.export import run_exports

    environment = aws.load_environment(env)
    results = run_exports(aws.session_for(environment), environment, dataset=dataset.value,
                          ingestion_mode=ingestion_mode.value, timeout_minutes=timeout, console=stderr)
    failed = [r for r in results if r.status != "ACTIVE"]
    for result in results:
        if result.status == "ACTIVE":
            stdout.print(f"{result.dataset}: exported to {result.prefix_uri}", soft_wrap=True)
            for uri, size in result.objects:
                stdout.print(f"  {uri}  ({_human_bytes(size)})", soft_wrap=True)
    if failed:
        reasons = [f"export of {r.dataset} ({r.job_name}) {r.status}: {r.failure_reason or 'no reason given'}"
                   for r in failed]
        raise _fail("; ".join(reasons), 1)


@data_app.command("delete-users")
@friendly_errors
def delete_users(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    file: Annotated[Path, typer.Argument(help="CSV file with one column, header USER_ID, one user id a line.",
                                         exists=True, dir_okay=False, readable=True)],
    timeout: Annotated[float, typer.Option(min=1, help="Minutes to wait before giving up watching (the job "
                                                       "goes on; the service may take up to a day).")] = 1500,
    force: Annotated[bool, typer.Option("--force", help="Start even while imports, training or batch jobs of "
                                                        "the POC run (the guide advises against it).")] = False,
) -> None:
    """Delete the listed users and their data from the POC's dataset group (a data deletion job): checks
    FILE, uploads it under deletions/, waits, and reports what the service deleted. Exit 1 if it fails."""
    from personalize_poc.data import aws
    from personalize_poc.data import delete_users as deletion

    environment = aws.load_environment(env)
    result = deletion.delete_users(aws.session_for(environment), environment, file, timeout_minutes=timeout,
                                   console=stderr, force=force)
    if result.status != "COMPLETED":
        raise _fail(f"data deletion job {result.job_name} {result.status}: "
                    f"{result.failure_reason or 'no reason given'}", 1)
    stdout.print(f"{result.job_name} COMPLETED: {result.num_deleted} records deleted (as the service counts "
                 f"them) for {result.users:,} listed user ids")
    stdout.print(deletion.RETRAIN_NOTE.format(env=env))


# -------------------------------------------------------------------------------------------- run


@run_app.command("start")
@friendly_errors
def run_start(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    input_json: Annotated[str, typer.Option("--input", help="Execution input (JSON).")] = "{}",
    name: Annotated[str | None, typer.Option(help="Execution name (default: cli-<time>-<random>).")] = None,
    workflow: Annotated[str, typer.Option(help="Which state machine: poc (build) or teardown.")] = "poc",
) -> None:
    """Start the POC workflow (or, with --workflow teardown, the teardown); prints the execution ARN."""
    from personalize_poc.data import aws, run

    environment = aws.load_environment(env)
    arn = run.start(aws.session_for(environment), environment, input_json=input_json, name=name, workflow=workflow)
    stdout.print(arn, soft_wrap=True)


@run_app.command("status")
@friendly_errors
def run_status(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh until the execution ends.")] = False,
    execution: Annotated[str | None, typer.Option(help="Execution ARN (default: the running or latest "
                                                       "one).")] = None,
    interval: Annotated[float, typer.Option(min=1.0, help="Seconds between refreshes with --watch.")] = 5.0,
    workflow: Annotated[str, typer.Option(help="Which state machine: poc (build) or teardown.")] = "poc",
) -> None:
    """Show the latest (or running) execution step by step; exit 1 if it failed, timed out or aborted."""
    from personalize_poc.data import aws, run

    environment = aws.load_environment(env)
    progress = run.status(aws.session_for(environment), environment, execution_arn=execution, watch=watch,
                          interval=interval, console=stdout, workflow=workflow)
    raise typer.Exit(run.exit_code(progress.status))


@app.command("status")
@friendly_errors
def status(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
) -> None:
    """One screen: campaigns (TPS, utilization, idle time, TPS-hours billed per day), last runs, alarms in
    ALARM, schedules."""
    from personalize_poc import status as environment_status
    from personalize_poc.data import aws

    environment = aws.load_environment(env)
    now = dt.datetime.now(dt.UTC)
    gathered = environment_status.gather(aws.session_for(environment), environment, now)
    stdout.print(environment_status.render(gathered, now))


# -------------------------------------------------------------------------------------- recommend


@app.command("recommend")
@friendly_errors
def recommend(
    env: Annotated[str, typer.Argument(help="Environment name from config/environments.yaml.")],
    user: Annotated[str | None, typer.Option(help="Recommendations for this user from each user campaign and "
                                                  "recommender, side by side; with --item, the user looking at "
                                                  "the item (recommenders that need both).")] = None,
    item: Annotated[str | None, typer.Option(help="Items similar to this one (related-items campaigns).")] = None,
    rank: Annotated[str | None, typer.Option(help="Re-rank --items for this user (ranking campaigns).")] = None,
    items: Annotated[str | None, typer.Option(help="Comma-separated item ids to re-rank (with --rank).")] = None,
    campaign: Annotated[list[str] | None, typer.Option(help="Ask only this campaign (repeatable).")] = None,
    recommender: Annotated[list[str] | None, typer.Option(help="Ask only this recommender (repeatable).")] = None,
    filter_name: Annotated[str | None, typer.Option("--filter", help="Apply this filter of the POC.")] = None,
    param: Annotated[list[str] | None, typer.Option(help="A filter parameter, NAME=value or NAME=a,b "
                                                         "(repeatable).")] = None,
    num: Annotated[int, typer.Option(min=1, max=500, help="Recommendations per campaign.")] = 10,
    new_user: Annotated[bool, typer.Option(help="Ask for a user with no interactions (cold start).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Ask the deployed campaigns and recommenders: --user U, --item I [--user U] or --rank U --items a,b,c;
    with --filter NAME [--param K=V]. Item metadata comes from the items file the POC imported."""
    import json

    from personalize_poc import recommend as rec
    from personalize_poc.data import aws

    modes = {"user": user, "item": item, "rank": rank}
    given = [mode for mode, value in modes.items() if value is not None]
    viewer = user if given == ["user", "item"] else None  # --item I --user U: U looks at I
    if viewer is not None:
        given = ["item"]
    if len(given) != 1:
        raise UsageError("give exactly one of --user, --item or --rank (--item may add --user)")
    mode = given[0]
    if (mode == "rank") != (items is not None):
        raise UsageError("--items goes with --rank (the list to re-rank), and --rank needs it")
    params = {}
    for text in param or []:
        name, sep, value = text.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--param {text!r}: expected NAME=value")
        params[name] = value
    question = rec.Question(mode=mode, subject=str(modes[mode]),
                            items=tuple(i.strip() for i in (items or "").split(",") if i.strip()),
                            campaigns=tuple(campaign or ()), recommenders=tuple(recommender or ()),
                            user=viewer, filter=filter_name, params=params, num_results=num, new_user=new_user)
    if mode == "rank" and not question.items:
        raise UsageError("--items needs at least one item id")
    environment = aws.load_environment(env)
    answer = rec.recommend(aws.session_for(environment), environment, question)
    for name, reason in answer.skipped.items():
        stderr.print(f"recommender {name} skipped: {reason}", markup=False)
    if as_json:
        print(json.dumps(answer.as_json(), indent=2))
        return
    _print_answer(answer)


def _print_answer(answer: Any) -> None:
    question = answer.question
    viewer = f" for user {question.user}" if question.user else ""
    what = {"user": f"for user {question.subject}", "item": f"similar to item {question.subject}{viewer}",
            "rank": f"{len(question.items)} items ranked for user {question.subject}"}[question.mode]
    title = f"Recommendations {what}" + (f", filter {question.filter}" if question.filter else "")
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    columns = {**answer.results, **{f"{name} (recommender)": recs for name, recs in answer.recommenders.items()}}
    for name in columns:
        table.add_column(name, overflow="fold")
    depth = max((len(recs) for recs in columns.values()), default=0)
    for index in range(depth):
        cells = []
        for recs in columns.values():
            if index >= len(recs):
                cells.append("")
                continue
            found = recs[index]
            meta = " / ".join(found.metadata.values())
            score = f" {found.score:.4f}" if found.score is not None else ""
            cells.append(f"{found.item_id}{score}" + (f"\n{meta}" if meta else ""))
        table.add_row(str(index + 1), *cells)
    stdout.print(table)


def main() -> None:  # pragma: no cover - the console script calls `app` directly
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
