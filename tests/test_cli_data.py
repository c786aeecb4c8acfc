"""`personalize-poc data ...` through typer's CliRunner: exit codes, JSON, one-line errors, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personalize_poc.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-sample")
    code, stdout, _ = invoke("data", "sample", "--out", str(out), "--users", "150", "--items", "80",
                             "--interactions", "3000", "--seed", "5")
    assert code == 0
    assert "interactions.csv" in stdout
    return out


@pytest.mark.parametrize("command", [
    [], ["data"], ["run"], ["data", "sample"], ["data", "validate"], ["data", "upload"], ["run", "start"],
    ["run", "status"],
])
def test_help_everywhere(command: list[str]) -> None:
    code, stdout, _ = invoke(*command, "--help")
    assert code == 0
    assert "Usage:" in stdout


def test_sample_then_validate_passes(sample_dir: Path) -> None:
    for name in ("interactions", "items", "users"):
        args = ["data", "validate", "--type", name, str(sample_dir / f"{name}.csv"),
                "--schema", str(sample_dir / f"{name}.avsc")]
        if name == "interactions":
            args += ["--items", str(sample_dir / "items.csv")]
        code, stdout, _ = invoke(*args)
        assert code == 0, stdout
        assert "valid: 0 error(s)" in stdout


def test_validate_json_report(sample_dir: Path) -> None:
    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(sample_dir / "interactions.csv"),
                             "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["valid"] is True and report["rows"] == 3000 and report["findings"] == []
    assert set(report["stats"]) >= {"users", "active_users", "items"}


def test_sample_is_deterministic_through_the_cli(sample_dir: Path, tmp_path: Path) -> None:
    code, _, _ = invoke("data", "sample", "--out", str(tmp_path), "--users", "150", "--items", "80",
                        "--interactions", "3000", "--seed", "5")
    assert code == 0
    for path in sample_dir.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


CSV = "USER_ID,ITEM_ID,TIMESTAMP\n"


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty-file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary-file"),
    (b"USER_ID;ITEM_ID;TIMESTAMP\nu;i;1780000000\n", "wrong-delimiter"),
    (b"USER_ID,ITEM_ID\nu,i\n", "missing-column"),
    ((CSV + "u,i,1780000000\nu,i\n").encode(), "ragged-row"),
    ((CSV + "u,i,1780000000000\n").encode(), "timestamp-milliseconds"),
    ((CSV + "u,i,1780000000000000\n").encode(), "timestamp-microseconds"),
    ((CSV + "u,i,yesterday\n").encode(), "invalid-type"),
    ((CSV + ",i,1780000000\n").encode(), "empty-id"),
    ((CSV + "u,i,1780000000\n" * 3).encode(), "too-few-interactions"),
    (CSV.encode(), "no-rows"),
    ("USER_ID,ITEM_ID,TIMESTAMP\nü,\xff,1780000000\n".encode("latin-1"), "invalid-utf8"),
    ("USER_ID,ITEM_ID,TIMESTAMP\nü,\xff\n".encode("latin-1"), "invalid-utf8"),  # and ragged
])
def test_each_bad_input_has_its_code_and_exit_1(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "interactions.csv"
    path.write_bytes(content)
    exit_code, stdout, _ = invoke("data", "validate", "--type", "interactions", str(path), "--json")
    assert exit_code == 1
    report = json.loads(stdout)
    assert code in {f["code"] for f in report["findings"]}
    exit_code, stdout, _ = invoke("data", "validate", "--type", "interactions", str(path))
    assert exit_code == 1 and code in stdout and "NOT valid" in stdout


def test_warnings_only_still_exit_0(sample_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    text = (sample_dir / "interactions.csv").read_text()
    path.write_text(text + text.splitlines()[1] + "\n")  # one duplicate row: a warning
    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(path), "--json")
    assert code == 0
    assert [f["code"] for f in json.loads(stdout)["findings"]] == ["duplicate-row"]


def test_usage_errors_exit_2(sample_dir: Path, tmp_path: Path) -> None:
    data = str(sample_dir / "interactions.csv")
    bad_schema = tmp_path / "bad.avsc"
    bad_schema.write_text("{not json")
    cases = [
        (["data", "validate", "--type", "interactions", str(tmp_path / "missing.csv")], "does not exist"),
        (["data", "validate", "--type", "interactions", str(tmp_path)], "is a directory"),
        (["data", "validate", "--type", "events", data], "events"),
        (["data", "validate", data], "--type"),
        (["data", "validate", "--type", "interactions", data, "--schema", str(bad_schema)], "not JSON"),
        (["data", "validate", "--type", "users", str(sample_dir / "users.csv"), "--items", data],
         "--items only applies"),
        (["data", "sample", "--out", str(tmp_path / "x"), "--users", "0"], "--users"),
        (["data", "sample", "--out", str(tmp_path / "x"), "--end", "someday"], "--end"),
        (["data", "sample", "--out", data], "is a file"),
    ]
    for args, words in cases:
        code, stdout, stderr = invoke(*args)
        assert code == 2, (args, stdout, stderr)
        assert words in stderr, (args, stderr)


def test_unexpected_errors_are_one_line(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from personalize_poc.data import validate

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(validate, "validate_file", explode)
    code, _, stderr = invoke("data", "validate", "-t", "items", str(sample_dir / "items.csv"))
    assert code == 1
    assert stderr.strip() == ("error: unexpected RuntimeError: disk on fire (PERSONALIZE_POC_DEBUG=1 shows "
                              "the traceback)")


# ------------------------------------------------------------------------------- batch inference input


def test_validate_batch_input_by_recipe(sample_dir: Path, tmp_path: Path) -> None:
    """The sample's users.jsonl is right for User-Personalization and wrong for SIMS, which reads items."""
    users = str(sample_dir / "users.jsonl")
    code, stdout, _ = invoke("data", "validate", "--type", "batch-input", "--recipe", "aws-user-personalization-v2",
                             users)
    assert code == 0, stdout
    assert "valid: 0 error(s)" in stdout
    code, stdout, _ = invoke("data", "validate", "-t", "batch-input", "--recipe", "aws-sims", users, "--json")
    assert code == 1
    report = json.loads(stdout)
    assert [f["code"] for f in report["findings"]] == ["batch-missing-key"]
    assert '"itemId"' in report["findings"][0]["message"] and report["findings"][0]["examples"][0] == 1
    ranking = tmp_path / "ranking.jsonl"
    ranking.write_bytes(b'{"userId": "u1", "itemList": ["i1"]}\n{"userId": "u2", "itemList": "i1"}\n')
    code, stdout, _ = invoke("data", "validate", "-t", "batch-input", "--recipe",
                             "arn:aws:personalize:::recipe/aws-personalized-ranking-v2", str(ranking), "--json")
    assert code == 1
    (finding,) = json.loads(stdout)["findings"]
    assert finding["code"] == "batch-invalid-item-list" and finding["examples"] == [2]


@pytest.mark.parametrize(("args", "message"), [
    (["-t", "batch-input"], "needs --recipe"),
    (["-t", "batch-input", "--recipe", "aws-nope"], "unknown recipe 'aws-nope'"),
    (["-t", "batch-input", "--recipe", "aws-trending-now"], "has no batch inference"),
    (["-t", "users", "--recipe", "aws-sims"], "--recipe only applies to --type batch-input"),
])
def test_validate_batch_input_usage_errors(sample_dir: Path, args: list[str], message: str) -> None:
    code, _, stderr = invoke("data", "validate", *args, str(sample_dir / "users.jsonl"))
    assert code == 2 and message in " ".join(stderr.split())


# ---------------------------------------------- --env: what the POC definition's recommenders need


def interactions(path: Path, **counts: int) -> Path:
    """An otherwise valid interactions file with these many events per EVENT_TYPE."""
    types = [name for name, count in counts.items() for _ in range(count)]
    lines = [f"u{n % 60},i{n % 100},{1_780_000_000 + n},{kind}\n" for n, kind in enumerate(types)]
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n" + "".join(lines))
    return path


@pytest.fixture
def environments(monkeypatch: pytest.MonkeyPatch) -> None:
    """`shop` runs the ecommerce sample (recommended-for-you, also-viewed: View; best-sellers: Purchase),
    `custom` the custom sample (solutions, no recommenders)."""
    from personalize_poc.data import aws
    from personalize_poc.settings import PROJECT_ROOT, parse_environment

    pocs = {"shop": "config/poc-ecommerce.yaml", "custom": "config/poc.yaml"}
    known = {name: parse_environment(name, {"name_prefix": f"ppoc-{name}", "poc_config": str(PROJECT_ROOT / poc)})
             for name, poc in pocs.items()}
    monkeypatch.setattr(aws, "load_environment", lambda name: known[name])


def use_case_errors(stdout: str) -> list[str]:
    report = json.loads(stdout)
    return [f["message"] for f in report["findings"] if f["code"] == "use-case-too-few-events"]


def test_999_view_events_fail_each_recommender_that_needs_1000(environments: None, tmp_path: Path) -> None:
    path = interactions(tmp_path / "interactions.csv", View=999, Purchase=1000)

    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(path), "--env", "shop", "--json")
    text_code, text, _ = invoke("data", "validate", "-t", "interactions", str(path), "--env", "shop")

    assert code == text_code == 1
    assert use_case_errors(stdout) == [
        "recommender recommended-for-you (recommended-for-you) needs at least 1,000 View events; the file has 999",
        "recommender also-viewed (customers-who-viewed-x-also-viewed) needs at least 1,000 View events; the file "
        "has 999",
    ]
    assert "use-case-too-few-events" in text and "events: 1,000 Purchase, 999 View" in " ".join(text.split())


def test_1000_view_and_purchase_events_pass(environments: None, tmp_path: Path) -> None:
    path = interactions(tmp_path / "interactions.csv", View=1000, Purchase=1000)

    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(path), "--env", "shop", "--json")

    assert code == 0, stdout
    assert json.loads(stdout)["stats"]["event_types"] == {"View": 1000, "Purchase": 1000}


def test_a_purchase_shortfall_fails_best_sellers_alone(environments: None, tmp_path: Path) -> None:
    path = interactions(tmp_path / "interactions.csv", View=3000, Purchase=120)

    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(path), "--env", "shop", "--json")

    assert code == 1
    assert use_case_errors(stdout) == [
        "recommender best-sellers (best-sellers) needs at least 1,000 Purchase events; the file has 120"
    ]


@pytest.mark.parametrize("args", [["--env", "custom"], []], ids=["a POC without recommenders", "no --env"])
def test_without_recommenders_event_counts_fail_nothing(environments: None, tmp_path: Path, args: list[str]) -> None:
    path = interactions(tmp_path / "interactions.csv", View=10, Purchase=1490)

    code, stdout, _ = invoke("data", "validate", "-t", "interactions", str(path), *args, "--json")

    assert code == 0, stdout
    assert use_case_errors(stdout) == []


def test_env_usage_errors(environments: None, sample_dir: Path) -> None:
    code, _, stderr = invoke("data", "validate", "-t", "batch-input", "--recipe", "aws-sims", "--env", "shop",
                             str(sample_dir / "users.jsonl"))
    assert code == 2 and "--env apply to CSV datasets" in stderr
