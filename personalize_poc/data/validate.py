"""Streaming validator for Personalize bulk CSV files, fast enough for tens of millions of rows.

The rules, limits and finding codes are those of ``checks`` (the workflow's data gate,
``lambdas/poc_steps/data_checks.py``); this module applies them column-wise to Arrow record batches:

* the file is read with ``pyarrow.csv.open_csv`` in blocks (one reader thread), every column as text, so
  a bad value never stops the reader and memory stays bounded;
* two worker threads check the batches: types, empty ids, lengths and timestamps with Arrow compute
  kernels and numpy (Arrow and numpy release the GIL, so both cores work); results are merged in file
  order, so example line numbers are the first ones in the file;
* every row is reduced to a 64-bit hash of its typed values (the same notion of "same row" as
  ``checks.row_key``); duplicates are found by one sort of those hashes at the end (8 bytes a row);
* users and items are counted per batch (sorted id hashes) and merged by hash.

Findings carry *line numbers* as examples (header = line 1), like ``checks.check_rows``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import ctypes
import json
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from personalize_poc.data import checks
from personalize_poc.data.checks import AvroType, Finding, FindingCollector
from personalize_poc.data.errors import UsageError

# Arrow reads dozens of blocks ahead: 8 MiB blocks keep a 25M-row file near 850 MB peak RSS, and fewer,
# bigger batches cost less per row than 4 MiB ones (about 10% faster, 130 MB more).
BLOCK_SIZE = 8 << 20  # shared by the readers
MAX_BLOCK_SIZE = 256 << 20  # rows longer than a block are read again with bigger blocks, up to this
WORKERS = 2  # threads checking batches; Arrow and numpy release the GIL for the heavy work
# Interactions files above SPLIT_MIN_BYTES can be parsed as several byte ranges at once: worth it with
# more than 2 cores; on 2 cores one reader with bigger blocks measured faster.
READERS = 1
SPLIT_MIN_BYTES = 64 << 20
MIN_BLOCK_SIZE = 1 << 20
SNIFF_BYTES = 1 << 20
MAX_HEADER_BYTES = 1 << 20


@dataclass
class Report:
    path: str
    dataset_type: str
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return not checks.has_errors(self.findings)

    @property
    def errors(self) -> int:
        return sum(f.level == checks.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.level == checks.WARNING for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "dataset_type": self.dataset_type, "valid": self.valid, "rows": self.rows,
                "errors": self.errors, "warnings": self.warnings, "stats": self.stats,
                "seconds": round(self.seconds, 3), "findings": [f.to_dict() for f in self.findings]}


# ------------------------------------------------------------------------------------------- inputs


def load_schema(path: Path) -> dict[str, Any]:
    """Read an .avsc file; any problem is a one-line UsageError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read schema {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return checks.parse_schema_text(text)
    except checks.SchemaError as exc:
        raise UsageError(f"schema {path}: {exc}") from None


def load_item_ids(path: Path) -> pa.Array:
    """The distinct ITEM_IDs of an items CSV, for the unknown-item check."""
    try:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            include_columns=["ITEM_ID"], column_types={"ITEM_ID": pa.string()}, strings_can_be_null=False))
    except (OSError, pa.ArrowException) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read ITEM_ID from items file {path}: {detail}") from None
    return pc.unique(table.column("ITEM_ID").combine_chunks())


# ------------------------------------------------------------------------------------------ hashing

_U = np.uint64
_M1 = _U(0xBF58476D1CE4E5B9)
_ROW_MULTIPLIER = _U(0x9E3779B97F4A7C15)
_NULL_HASH = _U(0x2545F4914F6CDD1D)
_STRING_SEED, _INVALID_SEED = _U(0x51_7CC1_B727_220A), _U(0x6A09_E667_F3BC_C909)


_TAIL_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)


def _offsets(array: pa.Array) -> np.ndarray:
    """The value offsets of a string array (int64, relative to its data buffer)."""
    wide = array.type == pa.large_string()
    buffer = array.buffers()[1]
    offsets = np.frombuffer(buffer, dtype=np.int64 if wide else np.int32)
    return offsets[array.offset: array.offset + len(array) + 1]


_NUMPY_TYPES = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
                pa.uint8(): np.uint8, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
                pa.float64(): np.float64}


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numpy view of an Arrow array's values, nulls as 0/False.

    Read from the buffers directly: Arrow's own ``to_numpy`` imports pandas, half a second.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        array = array.fill_null(False if pa.types.is_boolean(array.type) else 0)
    if pa.types.is_boolean(array.type):
        bits = np.frombuffer(array.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little")[array.offset: array.offset + len(array)].view(bool)
    dtype = np.dtype(_NUMPY_TYPES[array.type])
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array),
                         offset=array.offset * dtype.itemsize)


_ARROW_TYPES = {np.dtype(v): k for k, v in _NUMPY_TYPES.items()}


def to_arrow(values: np.ndarray) -> pa.Array:
    """An Arrow array over a numpy array's memory (``pa.array`` would import pandas)."""
    values = np.ascontiguousarray(values)
    if values.dtype == bool:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(_ARROW_TYPES[values.dtype], len(values), [None, pa.py_buffer(values)])


def string_lengths(array: pa.Array) -> np.ndarray:
    """Byte length of every value of a string array."""
    return np.diff(_offsets(array)) if len(array) else np.zeros(0, np.int64)


def hash_strings(array: pa.Array, seed: np.uint64 = _STRING_SEED) -> np.ndarray:
    """A 64-bit hash per string: its length, then its 8-byte little-endian words (zero-padded).

    Each word step ``h = (h ^ word) * odd; h ^= h >> 32`` is a bijection of h, so two different strings
    of the same length never collide. Not mixed at the end: callers compare these for equality, and
    row hashes are mixed once they are complete. Words are read at any byte offset through a
    1-byte-stride uint64 view of the (zero-padded) data: one vector pass per word position.
    """
    count = len(array)
    if not count:
        return np.zeros(0, np.uint64)
    if array.type not in (pa.string(), pa.large_string()):
        array = array.cast(pa.large_string())
    raw_offsets = _offsets(array)
    lengths = np.diff(raw_offsets)
    shortest, longest = int(lengths.min()), int(lengths.max())
    first, last = int(raw_offsets[0]), int(raw_offsets[-1])
    data_buffer = array.buffers()[2]
    padded = np.zeros((last - first + 15) // 8 * 8, dtype=np.uint8)
    if data_buffer is not None and last > first:
        padded[: last - first] = np.frombuffer(data_buffer, dtype=np.uint8)[first:last]
    words = np.lib.stride_tricks.as_strided(padded.view(np.uint64), shape=(last - first + 1,), strides=(1,))
    if shortest == longest and shortest:  # fixed width (typical ids): strided copies, no index arrays
        hashes = np.full(count, seed + _U(longest), dtype=np.uint64)
        for position in range(0, longest, 8):
            word = words[position: position + count * longest: longest].copy()  # contiguous: fast ops
            if longest - position < 8:
                word &= _TAIL_MASKS[longest - position]
            hashes ^= word
            hashes *= _M1
            hashes ^= hashes >> _U(32)
        return hashes
    starts = raw_offsets[:-1].astype(np.int64) - first
    hashes = lengths.astype(np.uint64) + seed
    if longest <= 8:  # one word each (event types, short codes): a gather and a mask
        stepped = hashes ^ (words[starts] & _TAIL_MASKS[lengths])
        stepped *= _M1
        stepped ^= stepped >> _U(32)
        return stepped if shortest else np.where(lengths > 0, stepped, hashes)  # "" has no words
    subset: np.ndarray | None = None  # indices of the strings still longer than position; None: all
    for position in range(0, longest, 8):
        if subset is None and shortest <= position:
            subset = np.flatnonzero(lengths > position)
        elif subset is not None:
            subset = subset[lengths[subset] > position]
        if subset is None:
            word = words[starts + position]
            if shortest < position + 8:
                word &= _TAIL_MASKS[np.minimum(lengths - position, 8)]
            hashes ^= word
            hashes *= _M1
            hashes ^= hashes >> _U(32)
        else:
            word = words[starts[subset] + position] & _TAIL_MASKS[np.minimum(lengths[subset] - position, 8)]
            state = (hashes[subset] ^ word) * _M1
            hashes[subset] = state ^ (state >> _U(32))
    return hashes


class _HashCounter:
    """Counts of values by 64-bit hash: per-batch (hash, count) pairs, merged by sorting now and then."""

    def __init__(self) -> None:
        self._hashes: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._pending = 0

    def add(self, hashes: np.ndarray, counts: np.ndarray) -> None:
        self._hashes.append(hashes)
        self._counts.append(counts)
        self._pending += len(hashes)
        if self._pending > 2_000_000:
            self._compact()

    def _compact(self) -> None:
        if len(self._hashes) > 1:
            hashes = np.concatenate(self._hashes)
            counts = np.concatenate(self._counts)
            order = np.argsort(hashes)
            hashes, counts = hashes[order], counts[order]
            starts = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1])))
            self._hashes, self._counts = [hashes[starts]], [np.add.reduceat(counts, starts)]
        self._pending = 0

    def counts(self) -> np.ndarray:
        self._compact()
        return self._counts[0] if self._counts else np.zeros(0, np.int64)


# ------------------------------------------------------------------------------------------- header


@dataclass
class _Header:
    fields: list[str] | None  # None: the file cannot be read as CSV
    size: int
    length: int = 0  # bytes, with the line break
    has_rows: bool = False
    plain_sample: bool = False  # the first MiB is ASCII without any quote character


def _read_header(path: Path, collector: FindingCollector) -> _Header:
    """The header's fields, its length and whether anything follows it."""
    size = path.stat().st_size
    if size == 0:
        collector.add("empty-file")
        return _Header(None, size)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(b"\x1f\x8b") or head.startswith(b"PK\x03\x04") or b"\x00" in head:
        what = ("gzip-compressed" if head.startswith(b"\x1f\x8b") else
                "a zip archive" if head.startswith(b"PK\x03\x04") else "binary data")
        collector.add("binary-file", detail=what)
        return _Header(None, size)
    end = head.find(b"\n")
    if end < 0:
        if size > MAX_HEADER_BYTES:
            collector.add("parse-error", detail=f"no line break in the first {MAX_HEADER_BYTES:,} bytes")
            return _Header(None, size)
        end = len(head)
    line = head[:end].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        collector.add("invalid-utf8", detail=f"in the header, byte {exc.start + 1}")
        return _Header(None, size)
    fields = next(csv.reader([text]), [])
    plain = head.isascii() and b'"' not in head
    return _Header(fields, size, end + 1, has_rows=size > end + 1, plain_sample=plain)


# ------------------------------------------------------------------------------------------ reading


def first_invalid_utf8_line(path: Path, block_size: int = BLOCK_SIZE) -> int | None:
    """The line number (the header is line 1) of the first bytes that are not UTF-8, or None.

    Decodes whole lines a block at a time: a line break byte is never part of a multi-byte character."""
    line, carry = 1, b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(block_size)
            data = carry + block
            cut = len(data) if not block else data.rfind(b"\n") + 1
            whole, carry = data[:cut], data[cut:]
            try:
                whole.decode("utf-8")
            except UnicodeDecodeError as exc:
                return line + whole.count(b"\n", 0, exc.start)
            line += whole.count(b"\n")
            if not block:
                return None

_END = object()


def _split(path: Path, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of whole lines: the body [start, end) cut after line breaks into about equal parts."""
    bounds = [start]
    with path.open("rb") as handle:
        for part in range(1, parts):
            middle = start + (end - start) * part // parts
            handle.seek(middle)
            line_break = handle.read(MAX_HEADER_BYTES).find(b"\n")  # a bounded look for the next line
            cut = middle + line_break + 1
            if line_break >= 0 and bounds[-1] < cut < end:
                bounds.append(cut)
    bounds.append(end)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


# ----------------------------------------------------------------------------------------- columns


@dataclass
class _Column:
    name: str  # as in the file (no BOM)
    index: int
    avro: AvroType
    is_id: bool
    is_timestamp: bool
    checked: bool  # known to the schema (else only part of the duplicate key)


@dataclass
class _BatchResult:
    """What checking one batch found, merged into the whole file's results in file order."""

    rows: int
    hits: list[tuple[str, np.ndarray, _Column]] = field(default_factory=list)
    row_hash: np.ndarray | None = None

    def hit(self, code: str, mask: np.ndarray, column: _Column) -> None:
        if mask.any():
            self.hits.append((code, mask, column))


def _plain_text(array: pa.Array) -> bool:
    """Only ASCII and no quote character in the values of a string array."""
    offsets = _offsets(array)
    data = array.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return True
    values = np.frombuffer(data, dtype=np.uint8)[int(offsets[0]): int(offsets[-1])]
    return bool(values.max() < 0x80) and not bool((values == ord('"')).any())


def _lines(mask: np.ndarray, base: int, limit: int = checks.MAX_EXAMPLES) -> list[int]:
    """Record indices (0-based, whole file) of the first rows where mask is set."""
    return (np.flatnonzero(mask)[:limit] + base).tolist()


class _Validator:
    def __init__(self, path: Path, dataset_type: str, schema: dict[str, Any] | None,
                 item_ids: pa.Array | None, now: int, use_threads: bool,
                 progress: Callable[[int], None] | None, block_size: int, plain: bool = False) -> None:
        self.path, self.dataset_type, self.schema = path, dataset_type, schema
        self.item_ids, self.now, self.use_threads, self.progress = item_ids, now, use_threads, progress
        self.collector = FindingCollector()
        self.rows = 0
        self.row_hashes: list[np.ndarray] = []
        self.users = _HashCounter()
        self.items = _HashCounter()
        self.event_types: Counter[str] = Counter()  # interactions per EVENT_TYPE value, whole file
        self.count_lock = threading.Lock()
        self.ragged: list[int] = []  # line numbers of skipped rows (None-free when single-threaded)
        self.ragged_unknown = 0
        self.stopped = False
        self.block_size = block_size
        self.block_too_small = False
        self.row_not_utf8 = False
        # Plain text (ASCII, no quote character) parses the same without quote handling and UTF-8
        # validation, and faster. Assumed from the first MiB, checked on every batch: a batch that is
        # not plain, or a ragged row, stops the run and the file is read again with the full parser.
        self.plain = plain
        self.not_plain = False
        self.invalid_utf8_line: int | None = None

    # -- reading
    def _on_invalid_row(self, row: Any) -> str:
        if self.plain:  # maybe a quoted delimiter: only the full parser can tell
            self.not_plain = True
        if row.number is None or row.number < 0:
            self.ragged_unknown += 1
        else:  # numbered within the stream, which starts after the header line
            self.ragged.append(int(row.number) + 1)
        return "skip"

    def run(self, header: _Header) -> None:
        assert header.fields is not None
        clean = [header.fields[0].removeprefix("\ufeff"), *header.fields[1:]]
        fields = checks.effective_fields(self.schema, clean, self.dataset_type)
        seen: set[str] = set()
        columns = []
        for index, name in enumerate(clean):
            is_id, is_timestamp = checks.field_roles(name, self.dataset_type)
            known = name in fields and name not in seen
            seen.add(name)
            columns.append(_Column(name, index, fields.get(name, AvroType("string", nullable=True)), is_id,
                                   is_timestamp, known))
        if not header.has_rows:
            return
        internal = [f"c{index}" for index in range(len(clean))]
        # Interactions (no line breaks inside values) are read as two halves in parallel: one Arrow
        # reader parses in one thread, and parsing is half of the work.
        split = (self.use_threads and self.dataset_type == "interactions"
                 and header.size - header.length > SPLIT_MIN_BYTES)
        ranges = _split(self.path, header.length, header.size, READERS if split else 1)
        options = {
            "read_options": pacsv.ReadOptions(column_names=internal, use_threads=self.use_threads,
                                              block_size=max(self.block_size // len(ranges), MIN_BLOCK_SIZE)),
            "parse_options": pacsv.ParseOptions(invalid_row_handler=self._on_invalid_row,
                                                newlines_in_values=self.dataset_type != "interactions",
                                                quote_char=False if self.plain else '"'),
            "convert_options": pacsv.ConvertOptions(column_types={n: pa.string() for n in internal},
                                                    strings_can_be_null=False, check_utf8=not self.plain,
                                                    quoted_strings_can_be_null=False),
        }
        previous_hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        try:
            self._read(ranges, options, columns)
        finally:
            sys.unraisablehook = previous_hook

    def _unraisable(self, unraisable: Any) -> None:
        """Arrow decodes a bad row's text before our handler sees it; invalid UTF-8 fails there."""
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            self.row_not_utf8 = True
        else:  # pragma: no cover - not ours
            sys.__unraisablehook__(unraisable)

    def _read(self, ranges: list[tuple[int, int]], options: dict[str, Any], columns: list[_Column]) -> None:
        """A reader thread per byte range -> worker threads checking batches -> this thread merging
        the results in file order (the first range's batches, then the next range's)."""
        slots = threading.Semaphore(2 * WORKERS + len(ranges))  # batches read but not yet checked
        stop = threading.Event()
        outputs: list[queue.Queue[Any]] = [queue.Queue() for _ in ranges]
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="check")

        def produce(part: int, start: int, end: int) -> None:
            try:
                source = pa.OSFile(str(self.path)).get_stream(start, end - start)
                reader = pacsv.open_csv(source, **options)  # opening reads the first block
                while not stop.is_set():
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    while not slots.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    future = pool.submit(self._prepare, batch, columns)
                    future.add_done_callback(lambda _: slots.release())
                    outputs[part].put(future)
                outputs[part].put(_END)
            except BaseException as exc:  # handed to the merging thread, in order
                outputs[part].put(exc)

        readers = [threading.Thread(target=produce, args=(part, start, end), name=f"csv-reader-{part}",
                                    daemon=True) for part, (start, end) in enumerate(ranges)]
        for thread in readers:
            thread.start()
        try:
            for output in outputs:
                while True:
                    item = output.get()
                    if item is _END:
                        break
                    if isinstance(item, BaseException):
                        if not self.not_plain:
                            self._reading_failed(item)
                        return
                    self._apply(item.result())
                    if self.not_plain:
                        return
        finally:
            stop.set()
            for thread in readers:
                thread.join()
            pool.shutdown(wait=True, cancel_futures=True)

    def _reading_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, pa.ArrowException):
            raise exc
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "straddl" in message and self.block_size < MAX_BLOCK_SIZE:
            self.block_too_small = True  # a row longer than a block: read again, bigger blocks
        elif self.row_not_utf8 or "utf8" in message.lower() or "utf-8" in message.lower():
            # Arrow fails the whole block: find the line ourselves (an error path, so one more read is fine).
            line = first_invalid_utf8_line(self.path)
            if line is None:  # pragma: no cover - Arrow and Python disagree on what is UTF-8
                self.collector.add("invalid-utf8", detail=f"after line {self.rows + 1:,}")
            else:
                self.invalid_utf8_line = line  # a line number, not a record index: added by _stream
        else:
            self.collector.add("parse-error", detail=f"after line {self.rows + 1:,}: {message}")
        self.stopped = True

    # -- per batch, in a worker thread (shared state: only the id counters, under their lock)
    def _prepare(self, batch: pa.RecordBatch, columns: list[_Column]) -> _BatchResult:
        result = _BatchResult(batch.num_rows)
        if self.plain and not all(_plain_text(batch.column(column.index)) for column in columns):
            self.not_plain = True
            return result
        row_hash: np.ndarray | None = None
        for column in columns:
            values = self._column(batch.column(column.index), column, result)
            if row_hash is None:
                row_hash = values * _ROW_MULTIPLIER
            else:
                row_hash *= _ROW_MULTIPLIER
                row_hash += values
        result.row_hash = row_hash  # contributions are already spread over 64 bits: no final mix
        return result

    # -- merging, in order, in the calling thread
    def _apply(self, result: _BatchResult) -> None:
        base = self.rows
        for code, mask, column in result.hits:
            self._add(code, mask, base, column)
        if result.row_hash is not None:
            self.row_hashes.append(result.row_hash)
        self.rows += result.rows
        if self.progress:
            self.progress(result.rows)

    def _add(self, code: str, mask: np.ndarray, base: int, column: _Column) -> None:
        hits = int(np.count_nonzero(mask))
        if hits:
            self.collector.add(code, hits, _lines(mask, base),
                               **checks.value_message_args(code, column.name, column.avro))

    def _column(self, array: pa.Array, column: _Column, result: _BatchResult) -> np.ndarray:
        """Check one column of a batch; returns its per-row contribution to the row hash.

        ``valid`` None means every non-empty value is valid (the fast path of clean data).
        """
        avro = column.avro
        kind = avro.name
        lengths = string_lengths(array)
        longest = int(lengths.max()) if lengths.size else 0
        empty = (lengths == 0) if lengths.size and lengths.min() == 0 else None
        if column.checked and empty is not None:
            code = "empty-id" if column.is_id else (None if avro.nullable else "missing-value")
            if code:
                result.hit(code, empty, column)
        valid: np.ndarray | None = None
        parsed: np.ndarray | None = None
        if kind in checks.INTEGER_TYPES:
            valid, parsed = self._integers(array, lengths, longest, empty, kind)
        elif kind in checks.FLOAT_TYPES:
            valid, parsed = self._floats(array, empty)
        elif kind == "boolean":
            lowered = pc.utf8_lower(array)
            valid = to_numpy(pc.is_in(lowered, value_set=pa.array(checks.BOOLEAN_VALUES)))
            parsed = to_numpy(pc.equal(lowered, "true")).astype(np.uint64)
        invalid = None
        if valid is not None:
            invalid = ~valid if empty is None else ~valid & ~empty
            if not invalid.any():
                invalid = None
        if column.checked:
            if invalid is not None:
                result.hit("invalid-type", invalid, column)
            too_long = None
            if column.is_id and longest > checks.ID_MAX_CHARS:
                too_long = self._longer_than(array, lengths, checks.ID_MAX_CHARS)
                result.hit("id-too-long", too_long, column)
            if avro.categorical and longest > checks.CATEGORICAL_MAX_CHARS:
                mask = self._longer_than(array, lengths, checks.CATEGORICAL_MAX_CHARS)
                if too_long is not None:
                    mask &= ~too_long
                result.hit("categorical-too-long", mask, column)
            if column.is_timestamp and parsed is not None and kind in checks.INTEGER_TYPES:
                self._timestamps(parsed.view(np.int64), valid, column, result)
            if (column.name == "ITEM_ID" and self.item_ids is not None
                    and self.dataset_type == "interactions"):
                unknown = ~to_numpy(pc.is_in(array, value_set=self.item_ids))
                result.hit("unknown-item", unknown if empty is None else unknown & ~empty, column)
        if column.name == "EVENT_TYPE" and column.checked and self.dataset_type == "interactions":
            self._count_event_types(array)
        if parsed is None and column.is_id:  # ids: hash every row (fast for fixed-width ids)
            contribution = hash_strings(array)
            counted = self.dataset_type == "interactions" and column.name in ("USER_ID", "ITEM_ID")
            if column.checked and counted:
                present = contribution if empty is None else contribution[~empty]
                values, counts = np.unique(present, return_counts=True)
                with self.count_lock:  # order does not matter for counts: merge now, keep nothing
                    (self.users if column.name == "USER_ID" else self.items).add(values, counts)
        elif parsed is None and longest <= 24:  # short text: hashing every row beats encoding it
            contribution = hash_strings(array)
        elif parsed is None:  # other text, usually few distinct values: hash each distinct value once
            encoded = pc.dictionary_encode(array)
            contribution = hash_strings(encoded.dictionary)[to_numpy(encoded.indices)]
        else:  # the typed value's bits (row hashes only need equality); text where not valid
            contribution = parsed
            if invalid is not None:
                bad = np.flatnonzero(invalid)
                contribution = contribution.copy()
                contribution[bad] = hash_strings(array.take(to_arrow(bad)), _INVALID_SEED)
        if empty is not None:
            contribution = np.where(empty, _NULL_HASH, contribution)
        return contribution

    def _count_event_types(self, array: pa.Array) -> None:
        """Rows per EVENT_TYPE value: one hash-table pass in Arrow, a handful of distinct values merged."""
        counted = pc.value_counts(array)
        values = counted.field("values").to_pylist()
        counts = counted.field("counts").to_pylist()
        with self.count_lock:  # order does not matter for counts
            self.event_types.update(dict(zip(values, counts, strict=True)))

    @staticmethod
    def _longer_than(array: pa.Array, lengths: np.ndarray, limit: int) -> np.ndarray:
        mask = lengths > limit  # bytes >= characters: only these can be too long
        candidates = np.flatnonzero(mask)
        chars = to_numpy(pc.utf8_length(array.take(to_arrow(candidates))))
        mask[candidates] = chars > limit
        return mask

    @staticmethod
    def _integers(array: pa.Array, lengths: np.ndarray, longest: int, empty: np.ndarray | None,
                  kind: str) -> tuple[np.ndarray | None, np.ndarray]:
        """checks.INT_PATTERN and INT_RANGES without regular expressions; values as uint64 bits."""
        low, high = checks.INT_RANGES[kind]
        decimal_array = pc.ascii_is_decimal(array)
        if empty is None and longest <= 18 and pc.all(decimal_array).as_py():  # clean: digits that fit
            values = to_numpy(pc.cast(array, pa.int64()))
            if kind == "int" and (values.min() < low or values.max() > high):
                valid = (values >= low) & (values <= high)
                return valid, np.where(valid, values, 0).view(np.uint64)
            return None, values.view(np.uint64)
        valid = to_numpy(decimal_array).copy()
        text = array
        candidates = np.flatnonzero(~valid if empty is None else ~valid & ~empty)
        if candidates.size:  # an optional sign before the digits
            subset = array.take(to_arrow(candidates))
            signed = pc.or_(pc.starts_with(subset, "-"), pc.starts_with(subset, "+"))
            body_ok = pc.ascii_is_decimal(pc.utf8_slice_codeunits(subset, 1))
            valid[candidates[to_numpy(pc.and_(signed, body_ok))]] = True
            text = pc.utf8_ltrim(array, "+")
        values = np.zeros(len(array), dtype=np.int64)
        big = valid & (lengths > 18)  # may not fit in int64: checked one by one (rare)
        small = valid & ~big
        if small.any():
            source = text if small.all() else pc.if_else(to_arrow(small), text, "0")
            values = to_numpy(pc.cast(source, pa.int64())).copy()
            values[~small] = 0
        for position in np.flatnonzero(big):
            number = int(array[int(position)].as_py())
            if low <= number <= high:
                values[position] = number
            else:
                valid[position] = False
        if kind == "int":
            valid &= (values >= low) & (values <= high)
        values[~valid] = 0
        return valid, values.view(np.uint64)

    @staticmethod
    def _floats(array: pa.Array, empty: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
        """checks.FLOAT_PATTERN + finite; Arrow's parser accepts the same strings plus nan/inf forms."""
        source = array if empty is None else pc.if_else(to_arrow(empty), "0", array)
        try:
            values = to_numpy(pc.cast(source, pa.float64()))
            finite = np.isfinite(values)
            valid = finite if empty is None else finite & ~empty
        except pa.ArrowInvalid:
            pattern = "^" + checks.FLOAT_PATTERN.pattern + "$"
            syntax = to_numpy(pc.match_substring_regex(array, pattern))
            values = to_numpy(pc.cast(pc.if_else(to_arrow(syntax), array, "0"), pa.float64()))
            valid = syntax & np.isfinite(values)
        if valid.all():
            return None, (values + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
        return valid, np.where(valid, values + 0.0, 0.0).view(np.uint64)

    def _timestamps(self, values: np.ndarray, valid: np.ndarray | None, column: _Column,
                    result: _BatchResult) -> None:
        """checks.timestamp_code, vectorised."""
        latest = self.now + checks.FUTURE_LEEWAY_SECONDS
        if valid is None and values.size and values.min() >= checks.EPOCH_MIN and values.max() <= latest:
            return
        bad = (values < checks.EPOCH_MIN) | (values > latest)
        if valid is not None:
            bad &= valid
        if not bad.any():
            return
        rest = bad
        for scale, code in ((10**3, "timestamp-milliseconds"), (10**6, "timestamp-microseconds"),
                            (10**9, "timestamp-nanoseconds")):
            mask = rest & (values >= checks.EPOCH_MIN * scale) & (values <= latest * scale)
            result.hit(code, mask, column)
            rest &= ~mask
        result.hit("timestamp-out-of-range", rest, column)

    # -- whole file
    def duplicates(self) -> None:
        if not self.row_hashes:
            return
        release_memory()  # what reading left behind, before the one big sort
        everything = np.concatenate(self.row_hashes)
        everything.sort()
        repeated = everything[1:] == everything[:-1]
        total = int(np.count_nonzero(repeated))
        duplicated = np.unique(everything[1:][repeated]) if total else None
        del everything, repeated
        if duplicated is None:
            return
        examples: list[int] = []
        seen = np.zeros(0, dtype=np.uint64)
        base = 0
        for hashes in self.row_hashes:
            hits = np.flatnonzero(np.isin(hashes, duplicated))
            if hits.size:
                values = hashes[hits]
                _, first_index = np.unique(values, return_index=True)
                first = np.zeros(hits.size, dtype=bool)
                first[first_index] = True
                first &= ~np.isin(values, seen)
                examples.extend((hits[~first][: checks.MAX_EXAMPLES - len(examples)] + base).tolist())
                if len(examples) >= checks.MAX_EXAMPLES:
                    break
                seen = np.union1d(seen, values)
            base += len(hashes)
        self.collector.add("duplicate-row", total, examples)

    def line_of(self, record: int) -> int:
        """Line number of a record index, given the ragged lines that the reader skipped."""
        line = record + 2
        for skipped in self.ragged:
            if skipped <= line:
                line += 1
            else:
                break
        return line


def tune_malloc() -> None:
    """Keep glibc from returning and re-faulting the memory of each batch's temporaries.

    Per-batch numpy arrays of a few hundred KB sit around glibc's dynamic mmap/trim thresholds, so by
    default many are mmapped and unmapped (or the heap trimmed) batch after batch, and every reuse pays
    page faults: about a tenth of the validator's CPU time. Fixed thresholds keep them in the heap.
    Process-wide, so the command line calls it, not the library. No-op where glibc is absent.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def release_memory() -> None:
    """Give memory freed by Arrow's allocator and glibc back to the system (lower peak RSS later)."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def validate_file(path: Path, dataset_type: str, *, schema: dict[str, Any] | None = None,
                  item_ids: pa.Array | None = None, now: int | None = None,
                  progress: Callable[[int], None] | None = None,
                  event_needs: Sequence[checks.EventNeed] = ()) -> Report:
    """Validate one CSV file of a Personalize dataset; never raises for a bad file.

    ``event_needs`` (interactions): what the POC's recommenders need of each event type
    (personalize_poc.domain.event_needs); a shortfall in the whole file is an error per recommender."""
    started = time.perf_counter()
    path = Path(path)
    report = Report(str(path), dataset_type)
    collector = FindingCollector()
    if schema is not None:
        collector.extend(checks.check_schema(schema, dataset_type))
    try:
        header = _read_header(path, collector)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    report.stats["bytes"] = header.size
    if header.fields is not None:
        header_findings = checks.check_header(header.fields, schema, dataset_type)
        collector.extend(header_findings)
        if not any(f.code in checks.FATAL_HEADER_CODES for f in header_findings):
            _stream(path, dataset_type, schema, item_ids, now, progress, header, collector, report, event_needs)
    report.findings = collector.findings()
    report.seconds = time.perf_counter() - started
    return report


def _stream(path: Path, dataset_type: str, schema: dict[str, Any] | None, item_ids: pa.Array | None,
            now: int | None, progress: Callable[[int], None] | None, header: _Header,
            collector: FindingCollector, report: Report, event_needs: Sequence[checks.EventNeed] = ()) -> None:
    now = checks.now_seconds() if now is None else now
    block_size, use_threads, plain = BLOCK_SIZE, True, header.plain_sample
    while True:
        validator = _Validator(path, dataset_type, schema, item_ids, now, use_threads, progress, block_size,
                               plain)
        validator.run(header)
        if validator.not_plain:
            plain, progress = False, None
        elif validator.block_too_small:
            block_size *= 16
        elif validator.ragged_unknown and use_threads:  # only a single-threaded reader knows their lines
            use_threads, progress = False, None
        else:
            break
    validator.duplicates()
    for item in validator.collector.findings():
        lines = tuple(validator.line_of(record) for record in item.examples)
        collector.extend([Finding(item.level, item.code, item.message, item.rows, lines)])
    if validator.invalid_utf8_line is not None:
        line = validator.invalid_utf8_line
        collector.add("invalid-utf8", 1, (line,), detail=f"line {line:,}")
    if validator.ragged:
        expected = len(header.fields or [])
        collector.add("ragged-row", len(validator.ragged), validator.ragged, expected=expected)
    report.rows = validator.rows
    report.stats["rows"] = validator.rows
    if validator.stopped:
        return
    if dataset_type == "interactions":
        user_counts = validator.users.counts()
        item_counts = validator.items.counts()
        stats = {"users": int(user_counts.size), "active_users": int(np.count_nonzero(user_counts >= 2)),
                 "items": int(item_counts.size)}
        report.stats.update(stats)
        if "EVENT_TYPE" in (header.fields or []):
            report.stats["event_types"] = dict(validator.event_types.most_common())
        collector.extend(checks.check_volume(dataset_type, validator.rows, **stats))
        collector.extend(checks.check_use_case_events(event_needs, validator.event_types))
    else:
        collector.extend(checks.check_volume(dataset_type, validator.rows))


def validate_batch_input(path: Path, kind: str) -> Report:
    """Validate a batch inference input file (JSON lines) of this kind ("users", "items", "user_items":
    see ``checks.BATCH_INPUT_KEYS``), line by line; never raises for a bad file."""
    started = time.perf_counter()
    path = Path(path)
    report = Report(str(path), f"batch input, {kind}")
    not_utf8: list[int] = []

    def lines() -> Any:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    not_utf8.append(number)
                    yield ""  # reported as invalid-utf8 below, not as a bad line too

    try:
        findings, records = checks.check_batch_lines(lines(), kind)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    collector = FindingCollector()
    if not_utf8:
        collector.add("invalid-utf8", len(not_utf8), not_utf8, detail=f"line {not_utf8[0]:,}")
    collector.extend(findings)
    report.rows = records
    report.stats.update({"rows": records, "bytes": path.stat().st_size})
    report.findings = collector.findings()
    report.seconds = time.perf_counter() - started
    return report


def report_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)
