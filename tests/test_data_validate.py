"""The streaming validator (personalize_poc.data.validate): same codes as data_checks, bad files, batches."""

from __future__ import annotations

import collections
import csv
import gzip
import importlib.util
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from personalize_poc.data import checks
from personalize_poc.data import validate as v
from personalize_poc.data.sample import SCHEMAS, SampleSpec, generate
from tests.conftest import PROJECT_ROOT

NOW = 1_800_000_000  # 2027-01-15: after the sample window
HEADER = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
SCHEMA = SCHEMAS["interactions"]
VOLUME_CODES = {"too-few-interactions", "too-few-active-users", "low-active-user-share", "poc-few-users",
                "poc-few-items", "poc-few-interactions", "no-rows"}


def write_rows(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def summary(findings: list[checks.Finding], drop: set[str] = VOLUME_CODES) -> list[tuple]:
    return sorted((f.level, f.code, f.message, f.rows, f.examples) for f in findings if f.code not in drop)


def fast(path: Path, dataset_type: str = "interactions", **kwargs) -> v.Report:
    return v.validate_file(path, dataset_type, now=NOW, **kwargs)


def codes(report: v.Report) -> set[str]:
    return {f.code for f in report.findings}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, SampleSpec(users=200, items=120, interactions=5_000, seed=3))
    return out


BAD_ROWS = [
    ["u1", "i1", "1780000000", "view", "1.5"],
    ["u1", "i1", "1780000000", "view", "1.50"],  # duplicate by value
    ["", "i2", "1780000000", "view", ""],
    ["u2", "i2", "1780000000000", "view", "2"],
    ["u2", "i3", "1780000000000000", "click", "2"],
    ["u2", "i3", "1780000000000000000", "click", "2"],
    ["u3", "i3", "99", "click", "2"],
    ["u3", "i3", "abc", "click", "2"],
    ["u3", "i3", "+1780000001", "click", "nan"],
    ["u3", "i3", "-5", "click", "1e999"],
    ["u3", "i3", "99999999999999999999999", "click", "0x10"],
    ["u3", "x" * 300, "1780000002", "click", "-0.0"],
    ["u3", "i4", "1780000002", "click", "0.0"],
    ["u3", "i4", "1780000002", "click", "-0"],
    ["u4", "i4", "", "click", "1"],
    ["u4", "i4", "1780000003"],
    ["u4", "i4", "1780000003", "view", "1", "extra"],
    ["u5", "i5", "1780000003", "view", "+.5e1"],
    ["u5", "i5", "1780000003", "view", "5."],
    ["u5", "i5", "1780000003", "view", "1.2.3"],
    ["u5", "i5", "1780000003", "view", "Infinity"],
    ["u5", "i5", "1780000003", "view", " 1"],
]


@pytest.mark.parametrize("block_size", [v.BLOCK_SIZE, 64])
def test_same_findings_as_data_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      block_size: int) -> None:
    # 64-byte blocks: a batch per row or two, and rows longer than a block (read again, bigger blocks)
    monkeypatch.setattr(v, "BLOCK_SIZE", block_size)
    path = write_rows(tmp_path / "bad.csv", BAD_ROWS)
    expected = checks.check_rows(BAD_ROWS, HEADER, SCHEMA, "interactions", now=NOW)
    report = fast(path, schema=SCHEMA)
    assert summary(report.findings) == summary(expected)
    assert {"empty-id", "invalid-type", "timestamp-milliseconds", "timestamp-microseconds", "ragged-row",
            "timestamp-nanoseconds", "timestamp-out-of-range", "duplicate-row", "id-too-long",
            "missing-value"} <= codes(report)
    assert not report.valid


def test_fuzzed_numbers_parse_like_data_checks(tmp_path: Path) -> None:
    """Arrow's number parsing plus our masks accept exactly what checks.parse_value accepts."""
    rng = random.Random(5)
    alphabet = "0123456789+-.eExXnaif "
    rows = []
    for number in range(3_000):
        def fuzz() -> str:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
        ts = fuzz() if number % 3 else str(rng.randint(0, 2 * 10**18))
        rows.append([f"u{number % 40}", f"i{number % 7}", ts, "view", fuzz()])
    rows += rows[:50]  # and some duplicates
    path = write_rows(tmp_path / "fuzz.csv", rows)
    expected = checks.check_rows(rows, HEADER, SCHEMA, "interactions", now=NOW)
    assert summary(fast(path, schema=SCHEMA).findings) == summary(expected)


def test_items_and_users_types(tmp_path: Path) -> None:
    schema = {"type": "record", "name": "Items", "namespace": checks.SCHEMA_NAMESPACE, "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": ["null", "string"], "categorical": True},
        {"name": "RANK", "type": "int"},
        {"name": "ACTIVE", "type": ["null", "boolean"]},
        {"name": "CREATION_TIMESTAMP", "type": "long"}]}
    header = ["ITEM_ID", "GENRE", "RANK", "ACTIVE", "CREATION_TIMESTAMP"]
    rows = [["i1", "g" * 1000, "1", "true", "1780000000"], ["i2", "é" * 1001, "2", "FALSE", "1780000000"],
            ["i3", "", "2147483648", "", "1780000000"], ["i4", "a|b", "-2147483648", "yes", "1780000000000"],
            ["i5", "x", "7", "True", ""]]
    path = write_rows(tmp_path / "items.csv", rows, header)
    expected = checks.check_rows(rows, header, schema, "items", now=NOW)
    report = fast(path, "items", schema=schema)
    assert summary(report.findings) == summary(expected)
    assert {"categorical-too-long", "invalid-type", "timestamp-milliseconds",
            "missing-value"} <= codes(report)


def test_generated_sample_is_valid_with_matching_counts(sample_dir: Path) -> None:
    items = v.load_item_ids(sample_dir / "items.csv")
    report = fast(sample_dir / "interactions.csv", schema=SCHEMAS["interactions"], item_ids=items)
    assert report.valid and report.findings == []
    with (sample_dir / "interactions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    per_user = collections.Counter(r["USER_ID"] for r in rows)
    assert report.stats["rows"] == len(rows) == 5_000
    assert report.stats["users"] == len(per_user)
    assert report.stats["active_users"] == sum(1 for n in per_user.values() if n >= 2)
    assert report.stats["items"] == len({r["ITEM_ID"] for r in rows})
    assert report.stats["event_types"] == collections.Counter(r["EVENT_TYPE"] for r in rows)
    for name in ("items", "users"):
        assert fast(sample_dir / f"{name}.csv", name, schema=SCHEMAS[name]).findings == []


def test_small_batches_give_the_same_report(sample_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (sample_dir / "interactions.csv").read_text().splitlines(keepends=True)
    lines.append(lines[10])  # a duplicate of line 11, far away in another batch
    path = tmp_path / "interactions.csv"
    path.write_text("".join(lines))
    whole = fast(path, schema=SCHEMA)
    monkeypatch.setattr(v, "BLOCK_SIZE", 2048)
    batched = fast(path, schema=SCHEMA)
    assert whole.stats == batched.stats
    assert summary(whole.findings, set()) == summary(batched.findings, set())
    assert [(f.code, f.rows, f.examples) for f in batched.findings] == [("duplicate-row", 1, (len(lines),))]


def test_unknown_items(sample_dir: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.csv"
    items.write_text("ITEM_ID,PRICE\n" + "".join(f"item_{n:05d},1\n" for n in range(1, 61)))
    report = fast(sample_dir / "interactions.csv", item_ids=v.load_item_ids(items))
    finding = next(f for f in report.findings if f.code == "unknown-item")
    assert finding.level == "warning" and finding.rows > 0 and len(finding.examples) == 5
    assert report.valid  # a warning only


@pytest.mark.parametrize(("content", "code"), [
    (b"", "empty-file"),
    (b"\x00\x01\x02binary\x00", "binary-file"),
    # mtime=0: gzip writes the time of compression into its header, and the test id carries these bytes;
    # two xdist workers collecting a second apart would then disagree on the test's name.
    (gzip.compress(b"USER_ID,ITEM_ID,TIMESTAMP\nu,i,1780000000\n", mtime=0), "binary-file"),
    (b"PK\x03\x04zip", "binary-file"),
    (b"USER_ID,ITEM_\xff\xfeID,TIMESTAMP\n", "invalid-utf8"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i\xff,1780000000\n", "invalid-utf8"),
    (b"USER_ID;ITEM_ID;TIMESTAMP\nu1;i1;1780000000\n", "wrong-delimiter"),
    (b"USER_ID\tITEM_ID\tTIMESTAMP\nu1\ti1\t1780000000\n", "wrong-delimiter"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\n", "no-rows"),
    (b"USER_ID,ITEM_ID,TIMESTAMP", "no-rows"),
    (b"USER_ID,TIMESTAMP\nu1,1780000000\n", "missing-column"),
    (b"\xef\xbb\xbfUSER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1780000000\n", "utf8-bom"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\nu1,i1\nu2,i2,1780000000,x\n", "ragged-row"),
    (b"USER_ID,ITEM_ID,TIMESTAMP\nu1,\"i1,1780000000\nu2,i2,1780000000\n", None),
    (b"USER_ID,ITEM_ID,TIMESTAMP\n" + b"u1,i1,1780000000\n" * 3 + b"\n\n", "duplicate-row"),
    (b"\n\n\n", "empty-header"),
    (b"x" * (v.MAX_HEADER_BYTES + 10), "parse-error"),
])
def test_bad_files_give_findings_not_exceptions(tmp_path: Path, content: bytes, code: str | None) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    report = fast(path)
    assert not report.valid
    if code:
        assert code in codes(report), report.findings


def test_ragged_rows_are_reported_by_line_and_keep_later_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1780000000\nu1,i1\nu2,i2,1780000000\n,i3,1780000000\n")
    report = fast(path)
    assert {f.code: f.examples for f in report.findings if f.code in ("ragged-row", "empty-id")} == {
        "ragged-row": (3,), "empty-id": (5,)}


def test_crlf_line_endings_are_fine(sample_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes((sample_dir / "interactions.csv").read_bytes().replace(b"\n", b"\r\n"))
    assert fast(path, schema=SCHEMA).findings == []


def test_schema_and_items_file_errors_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.avsc"
    for text in ("{nope", '{"type": "record", "fields": []}', '["x"]'):
        bad.write_text(text)
        with pytest.raises(v.UsageError, match="schema"):
            v.load_schema(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(v.UsageError):
        v.load_schema(bad)
    items = tmp_path / "items.csv"
    items.write_text("ID,PRICE\n1,2\n")
    with pytest.raises(v.UsageError, match="ITEM_ID"):
        v.load_item_ids(items)


def test_hash_strings_is_consistent_across_slices_types_and_paths() -> None:
    """Fixed-width, short and general code paths must give every string the same hash."""
    import pyarrow as pa

    values = ["", "a", "ab", "ba", "view", "purchase", "a" * 8, "a" * 9, "user_000001", "user_000002", "é",
              "x" * 300]
    array = pa.array(values)
    hashes = v.hash_strings(array)
    assert len(set(hashes.tolist())) == len(values)
    assert (v.hash_strings(array.slice(3)) == hashes[3:]).all()
    assert (v.hash_strings(array.cast(pa.large_string())) == hashes).all()
    assert (v.hash_strings(array.take(pa.array([8, 0, 1]))) == hashes[[8, 0, 1]]).all()
    for value, expected in zip(values, hashes, strict=True):
        for company in ([], [""], ["ab"], ["y" * 20]):  # alone (fixed width), with short, with long
            assert v.hash_strings(pa.array([value, *company]))[0] == expected, (value, company)


@pytest.mark.parametrize("readers", [2, 3])
def test_parallel_readers_give_the_same_report(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               readers: int) -> None:
    """Big interactions files are parsed as byte ranges in parallel; results must not change."""
    lines = (sample_dir / "interactions.csv").read_text().splitlines(keepends=True)
    lines[4000] = "user_00001,item_00001,1780000000000,view,1\n"  # late in the file: in the last range
    lines.append(lines[10])  # duplicate of line 11, across ranges
    path = tmp_path / "interactions.csv"
    path.write_text("".join(lines))
    single = fast(path, schema=SCHEMA)
    monkeypatch.setattr(v, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(v, "READERS", readers)
    monkeypatch.setattr(v, "BLOCK_SIZE", 16384)  # several batches per range
    monkeypatch.setattr(v, "MIN_BLOCK_SIZE", 4096)
    parallel = fast(path, schema=SCHEMA)
    assert parallel.stats == single.stats
    assert summary(parallel.findings, set()) == summary(single.findings, set())
    assert {f.code: f.examples for f in parallel.findings} == {"timestamp-milliseconds": (4001,),
                                                               "duplicate-row": (len(lines),)}


@pytest.mark.parametrize(("late_line", "code"), [
    ('u9,"i,9",1780000000,view,1\n', None),  # a quoted delimiter: one value, not a ragged row
    ('u9,"i9",1780000000,view,1\n', None),  # quotes only
    ("u9,ié,1780000000,view,1\n", None),  # UTF-8, not ASCII
    ("u9,i\xff,1780000000,view,1\n", "invalid-utf8"),
    ("u9,i9,1780000000\n", "ragged-row"),
])
def test_plain_text_fast_path_falls_back_to_the_full_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            late_line: str, code: str | None) -> None:
    """Quote handling and UTF-8 checks are skipped when the start of the file is plain ASCII; anything
    else later in the file makes the validator read it again with the full parser."""
    monkeypatch.setattr(v, "SNIFF_BYTES", 200)  # "the start of the file" is the first 200 bytes here
    monkeypatch.setattr(v, "BLOCK_SIZE", 4096)
    monkeypatch.setattr(v, "MIN_BLOCK_SIZE", 4096)
    rows = [f"u{n % 30},i{n % 7},{1780000000 + n},view,1\n" for n in range(1500)]
    rows.insert(1200, late_line)
    path = tmp_path / "interactions.csv"
    path.write_bytes(("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n" + "".join(rows)).encode("utf-8",
                     "surrogateescape").replace("\xff".encode(), b"\xff"))
    runs: list[bool] = []
    original_run = v._Validator.run

    def spy(self: v._Validator, header: object) -> None:
        runs.append(self.plain)
        original_run(self, header)  # type: ignore[arg-type]

    monkeypatch.setattr(v._Validator, "run", spy)
    report = fast(path, schema=SCHEMA)
    assert runs[:2] == [True, False]  # fast path first, then the full parser
    found = {f.code: f for f in report.findings if f.code not in VOLUME_CODES}
    if code is None:
        assert found == {} and report.rows == 1501
    else:
        assert set(found) == {code}
    if code == "ragged-row":
        assert found[code].examples == (1202,)


@pytest.mark.parametrize("block_size", [v.BLOCK_SIZE, 4096])
def test_invalid_utf8_names_the_line_it_is_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               block_size: int) -> None:
    """Arrow rejects the whole block; the report must still say line 1,502, not "after line 1"."""
    monkeypatch.setattr(v, "BLOCK_SIZE", block_size)
    monkeypatch.setattr(v, "MIN_BLOCK_SIZE", 4096)
    rows = [b"u%d,i%d,%d,view,1\n" % (n % 30, n % 7, 1780000000 + n) for n in range(1, 1600)]
    rows[1499:1501] = ["u9,ié,1780000000,view,1\n".encode(), b"u9,i\xff,1780000000,view,1\n"]  # lines 1501, 1502
    path = tmp_path / "interactions.csv"
    path.write_bytes(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n" + b"".join(rows))
    assert path.read_bytes().split(b"\n")[1502 - 1].startswith(b"u9,i\xff")
    report = fast(path, schema=SCHEMA)
    (finding,) = [f for f in report.findings if f.code == "invalid-utf8"]
    assert finding.examples == (1502,) and "line 1,502" in finding.message
    assert v.first_invalid_utf8_line(path, block_size=64) == 1502


def test_bench_validator_removes_the_file_it_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`make bench` generated a 1.1 GB file and left it under bench/data/ without a word."""
    spec = importlib.util.spec_from_file_location("bench_validator", PROJECT_ROOT / "bench" / "bench_validator.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "DATA", tmp_path / "data")
    assert bench.main(["--rows", "2000", "--skip-baseline", "--out", str(tmp_path / "validator.json")]) == 0
    assert not list((tmp_path / "data").rglob("*.csv"))
    assert "removed the generated" in capsys.readouterr().out
    assert bench.main(["--rows", "2000", "--skip-baseline", "--keep-data", "--out", str(tmp_path / "v.json")]) == 0
    assert list((tmp_path / "data").rglob("interactions.csv"))
    assert "kept" in capsys.readouterr().out


# -------------------------------------------------------------------- use cases' event type minimums


@dataclass(frozen=True)
class Need:  # personalize_poc.domain.EventNeed's fields
    recommender: str
    use_case: str
    event_type: str
    minimum: int = 1000


def events_file(path: Path, **counts: int) -> Path:
    """Interactions with these many events per EVENT_TYPE, otherwise valid (60 users with 2+, 100 items)."""
    types = [name for name, count in counts.items() for _ in range(count)]
    rows = [[f"u{n % 60}", f"i{n % 100}", str(1_780_000_000 + n), kind, "1"] for n, kind in enumerate(types)]
    return write_rows(path, rows)


def test_event_types_are_counted_over_the_whole_file_in_any_batch_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = events_file(tmp_path / "i.csv", View=1200, Purchase=999, view=3)
    monkeypatch.setattr(v, "BLOCK_SIZE", 2048)  # many batches, checked by two workers

    report = fast(path, event_needs=[Need("shop-best-sellers", "best-sellers", "Purchase")])

    assert report.stats["event_types"] == {"View": 1200, "Purchase": 999, "view": 3}
    assert [f.message for f in report.findings if f.code == "use-case-too-few-events"] == [
        "recommender shop-best-sellers (best-sellers) needs at least 1,000 Purchase events; the file has 999"]


def test_a_value_differing_only_in_case_is_named_not_counted(tmp_path: Path) -> None:
    report = fast(events_file(tmp_path / "i.csv", view=1500), event_needs=[Need("for-you", "recommended-for-you",
                                                                                "View")])

    assert not report.valid
    assert [f.message for f in report.findings if f.level == checks.ERROR] == [
        "recommender for-you (recommended-for-you) needs at least 1,000 View events; the file has 0 (1,500 are "
        "'view': EVENT_TYPE values are matched exactly)"]


def test_without_needs_event_counts_decide_nothing(tmp_path: Path) -> None:
    report = fast(events_file(tmp_path / "i.csv", View=10, Purchase=1490))

    assert report.valid and report.stats["event_types"] == {"Purchase": 1490, "View": 10}


def test_the_data_the_rehearsal_makes_for_the_ecommerce_sample_meets_its_recommenders_needs(tmp_path: Path) -> None:
    from personalize_poc.domain import event_needs
    from personalize_poc.poc_definition import load_poc_definition
    from tests.rehearsal.poc_data import generated
    from tests.test_domain import SAMPLE, plan_of

    poc = load_poc_definition(SAMPLE, "ppoc-dev")
    made = generated(plan_of(SAMPLE), tmp_path)
    schema = json.loads((SAMPLE.parent / "schemas" / "ecommerce-interactions.avsc").read_text())

    report = fast(made.objects["imports/ecommerce/interactions.csv"], schema=schema,
                  event_needs=event_needs(poc.dataset_group.domain, poc.recommenders))

    assert report.valid, [f.message for f in report.findings]
    assert report.stats["event_types"]["View"] >= 1000 and report.stats["event_types"]["Purchase"] >= 1000
