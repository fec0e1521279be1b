"""Reading flow files and parsing their string fields column by column (pyarrow compute and numpy).

Every check marks bad rows in an error-kind column instead of raising, so one bad row never stops a file; the
message for a bad row is only built (in Python) for the rows that have one.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from opennsg.engine import NO_PORT, PROTOCOL_NUMBERS, halves
from opennsg.model.files import check_regular_file, open_regular, read_text

TARGET = "targetResourceId"
TARGET_NIC = "targetNicResourceId"
DIRECTION = "direction"
PROTOCOL = "protocol"
LOCAL_IP = "localIPAddress"
LOCAL_PORT = "localPort"
REMOTE_IP = "remoteIPAddress"
REMOTE_PORT = "remotePort"
FIELDS = (TARGET, TARGET_NIC, DIRECTION, PROTOCOL, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT)
#: Every flow names these (and its target, by NIC or by VM).
REQUIRED_FIELDS = (DIRECTION, PROTOCOL, LOCAL_IP, LOCAL_PORT, REMOTE_IP, REMOTE_PORT)

JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_PATTERN = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"


def file_format(path: Path) -> str:
    """``json``, ``csv`` or ``parquet`` by extension; ValueError for anything else."""
    suffix = path.suffix.lower()
    for name, suffixes in (("json", JSON_SUFFIXES), ("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES)):
        if suffix in suffixes:
            return name
    raise ValueError(f"'{path}': unknown flow file type '{suffix}' (use .jsonl, .json, .csv or .parquet)")


#: Rows read and decided at a time: a file of any size is streamed through bounded memory.
BATCH_ROWS = 1 << 18
#: Bytes of CSV or JSON text parsed per block (pyarrow's readers; several blocks make one batch).
TEXT_BLOCK_BYTES = 1 << 20
#: Bytes of JSON lines cut (``_canonical_block``) or checked before pyarrow may read them at a time: 4 MiB read the
#: bench's 2 M lines in 0.92 CPU-s where 1 MiB took 1.24 (a block's numpy and Arrow calls, ~15 of them, cost per
#: call, and larger blocks repeat more lines).
CHECK_BLOCK_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class RawFlows:
    """The eight fields as string (or dictionary-of-string) columns, null when absent, and the rows that could not
    even be read (row number within this batch → message)."""

    columns: dict[str, pa.Array]
    unreadable: dict[int, str]

    def __len__(self) -> int:
        return len(self.columns[DIRECTION])


class NotSimpleJson(Exception):
    """The JSON lines file is not of the shape the columnar reader handles exactly; read it line by line."""


def _json_rows(path: Path) -> tuple[list[Any], dict[int, str]]:
    text = read_text(path)  # UTF-8 (a byte-order mark is no row's content) or UTF-16 with one
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            whole = json.loads(text)
        except (RecursionError, ValueError):  # read line by line: each bad line is reported as its row
            pass
        else:
            if isinstance(whole, list):
                return whole, {}
    rows: list[Any] = []
    unreadable: dict[int, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            unreadable[len(rows)] = f"Not a JSON object: {exc.msg} at column {exc.colno}."
            rows.append(None)
        except RecursionError:
            unreadable[len(rows)] = "Not a flow: the line nests arrays or objects too deeply."
            rows.append(None)
        except ValueError:  # an integer literal longer than Python converts
            unreadable[len(rows)] = f"Not a flow: a number has more than {sys.get_int_max_str_digits()} digits."
            rows.append(None)
    return rows, unreadable


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    try:
        return json.dumps(value)  # an array or object: reported as the row's bad value
    except (RecursionError, ValueError):
        return "(a nested value)"


def read_json(path: Path) -> RawFlows:
    """The careful reader: every line through ``json.loads`` (any shape, bad lines become error rows)."""
    rows, unreadable = _json_rows(path)
    columns: dict[str, list[str | None]] = {field: [] for field in FIELDS}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            unreadable.setdefault(i, "Each line must be a JSON object with the IP flow verify fields.")
            row = {}
        for field in FIELDS:
            columns[field].append(_scalar_text(row.get(field)))
    return RawFlows({f: _string_array(v) for f, v in columns.items()}, unreadable)


def _string_array(values: list[str | None]) -> pa.Array:
    """Arrow strings are UTF-8: a lone surrogate (JSON allows ``"\\ud800"``) is kept escaped, so that the row is
    reported as bad rather than the whole file."""
    try:
        return pa.array(values, type=pa.string())
    except UnicodeEncodeError:
        escaped = [v if v is None else v.encode("utf-8", "backslashreplace").decode("utf-8") for v in values]
        return pa.array(escaped, type=pa.string())


class FlowsFileError(ValueError):
    """A flows file that cannot be read as flows at all: its columns are missing or of the wrong type."""


def check_columns(path: Path, names: list[str]) -> None:
    """A CSV or Parquet file names its columns: one missing is the file's fault, not every row's."""
    missing = [f for f in REQUIRED_FIELDS if f not in names]
    if TARGET not in names and TARGET_NIC not in names:
        missing.insert(0, f"{TARGET} (or {TARGET_NIC})")
    if missing:
        raise FlowsFileError(
            f"'{path}' has no column {', '.join(missing)}; a flows file has the columns of IP flow verify: "
            f"{TARGET} or {TARGET_NIC}, {', '.join(REQUIRED_FIELDS)}."
        )


def _as_strings(table: pa.Table | pa.RecordBatch, path: Path) -> RawFlows:
    n = table.num_rows
    columns: dict[str, pa.Array] = {}
    for field in FIELDS:
        if field not in table.schema.names:
            columns[field] = pa.nulls(n, type=pa.string())
            continue
        column = table.column(field)
        if isinstance(column, pa.ChunkedArray):
            is_text = pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type)
            column = (column.unify_dictionaries() if is_text else column).combine_chunks()
        if pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type):
            pass  # kept dictionary-encoded: each distinct value is parsed once
        elif not pa.types.is_string(column.type):
            column = _cast_to_strings(column, field, path)
        if not pa.types.is_dictionary(column.type):
            # encoded here, on the reader's thread (Arrow releases the GIL), while the batch before is decided
            column = pc.dictionary_encode(column)
        columns[field] = column
    return RawFlows(columns, {})


def _cast_to_strings(column: pa.Array, field: str, path: Path) -> pa.Array:
    """Numbers and other scalars as text; lists, structs and maps are not flow fields."""
    wrong = FlowsFileError(f"'{path}': column {field} holds {column.type} values; a flow field is a string or number.")
    if pa.types.is_nested(column.type):
        raise wrong
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise wrong from None


def _regrouped(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
    """Small record batches joined into tables of at least ``BATCH_ROWS`` rows (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= BATCH_ROWS:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _csv_header(path: Path) -> list[str]:
    """The column names, as pyarrow's CSV reader reads the first line."""
    with path.open("rb") as handle:
        first = handle.readline(1 << 20)
    names: list[str] = pacsv.read_csv(pa.BufferReader(first)).column_names
    return names


def iter_csv(path: Path) -> Iterator[RawFlows]:
    check_regular_file(path)
    names = _csv_header(path)
    check_columns(path, names)
    options = pacsv.ConvertOptions(  # dictionary-encoded by the reader's threads: each distinct text parsed once
        column_types={f: pa.dictionary(pa.int32(), pa.string()) for f in FIELDS},
        strings_can_be_null=False,
        include_columns=[f for f in FIELDS if f in names],
    )
    reader = pacsv.open_csv(path, pacsv.ReadOptions(block_size=TEXT_BLOCK_BYTES), convert_options=options)
    for table in _regrouped(iter(reader)):
        yield _as_strings(table, path)


def iter_parquet(path: Path, row_groups: Sequence[int] | None = None) -> Iterator[RawFlows]:
    """Record batches of the eight fields, string columns kept dictionary-encoded as stored (each distinct value is
    then parsed once per batch, not once per row); only those of ``row_groups`` when given (Spark tasks' shares)."""
    check_regular_file(path)
    schema = pq.read_schema(path)
    check_columns(path, schema.names)
    present = [f for f in FIELDS if f in schema.names]
    strings = [f for f in present if pa.types.is_string(schema.field(f).type)]
    source = pq.ParquetFile(path, read_dictionary=strings)
    if source.metadata.num_rows == 0 or not present:
        yield _as_strings(source.read(columns=present), path)
        return
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=present, row_groups=row_groups):
        yield _as_strings(batch, path)


#: The JSON lines the columnar reader takes: the fields as strings, or ports (and protocol) as integers.
_JSON_SCHEMAS = tuple(
    pa.schema([(f, pa.int64() if f in numeric else pa.string()) for f in FIELDS])
    for numeric in ((), (LOCAL_PORT, REMOTE_PORT), (LOCAL_PORT, REMOTE_PORT, PROTOCOL))
)
#: What makes ``read_json`` and pyarrow read a JSON lines file differently: line breaks ``str.splitlines`` takes
#: besides ``\n`` and ``\r\n``, and two objects on one line (pyarrow reads two rows, ``read_json`` a bad one).
#: Everything else that differs (bad lines, repeated keys, mixed types) makes pyarrow raise. Arrays and nested
#: objects are left to ``read_json`` too: no flow field holds one, and pyarrow's parser recurses on nesting.
_OTHER_LINE_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


def _simple_lines(text: bytes) -> bool:
    """No other line breaks, no ``[``, and every line starts with ``{`` and holds no other (so one flat object a
    line: pyarrow's JSON reader crashes on some other shapes, e.g. a file holding ``null``). Each test is a scan
    at ``memchr`` or numpy speed; a blank or indented line sends the file to ``read_json`` too."""
    if b"[" in text or (b"\r" in text and text.count(b"\r") != text.count(b"\r\n")):
        return False
    if any(mark[-1:] in text and mark in text for mark in _OTHER_LINE_BREAKS):
        return False
    data = np.frombuffer(text, dtype=np.uint8)
    newlines = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], newlines + 1))
    starts = starts[starts < data.size]
    if not bool(np.all(data[starts] == ord("{"))):
        return False
    braces = np.flatnonzero(data == ord("{"))
    return braces.size == starts.size  # each line has one, at its start


def _blocks(path: Path) -> Iterator[memoryview]:
    """The file in pieces of about ``CHECK_BLOCK_BYTES`` cut at line ends, without copying: a read's bytes past its
    last line end are read again with the next (a carry sliced off and prepended copied each block three times; a
    line completed by ``readline``, once: 0.17-0.35 CPU-s of 391 MB, against 0.06 now)."""
    with open_regular(path) as handle:
        while block := handle.read(CHECK_BLOCK_BYTES):
            cut = block.rfind(b"\n") + 1
            if 0 < cut < len(block):
                handle.seek(cut - len(block), os.SEEK_CUR)
                yield memoryview(block)[:cut]
                continue
            if cut == 0 and len(block) == CHECK_BLOCK_BYTES:  # a line longer than a block: the rest of it
                block += handle.readline()
            yield memoryview(block)


#: The pieces of a canonical line split at its quotes: what may stand before the first key, between a key and its
#: value, between a value and the next key, and after the last value (JSON's spaces around each; a tab passes here
#: but ``_canonical_lines`` refuses any control character in the block, so a block with tabs goes to pyarrow).
_PUNCTUATION = tuple(
    re.compile(rf"^[ \t]*{mark}[ \t]*{end}$") for mark, end in (("{", ""), (":", ""), (",", ""), ("}", "\r?"))
)
#: What a key may not hold to be read as it stands: an escape, a control character (bad JSON).
_NOT_PLAIN = re.compile(r"[\x00-\x1f\\]")
_TEXT = pa.dictionary(pa.int32(), pa.string())


def _canonical_layout(line: bytes) -> list[bytes] | None:
    """The first line of a block split at its quotes, when it is ``{"key": "value", ...}`` with plain, distinct keys
    and JSON's punctuation between (``_canonical_block`` checks the values and every other line), else None."""
    pieces = line.split(b'"')
    if len(pieces) < 5 or len(pieces) % 4 != 1:
        return None
    try:
        texts = [p.decode() for p in pieces]
    except UnicodeDecodeError:
        return None
    keys = texts[1::4]
    if len(set(keys)) != len(keys) or any(_NOT_PLAIN.search(key) for key in keys):
        return None
    marks = [_PUNCTUATION[0], *itertools.chain.from_iterable((_PUNCTUATION[1], _PUNCTUATION[2]) for _ in keys)]
    marks[-1] = _PUNCTUATION[3]
    if not all(mark.match(piece) for mark, piece in zip(marks, texts[0::2], strict=True)):
        return None
    return pieces


def _same_segments(words: npt.NDArray[np.uint64], begin: npt.NDArray[np.intp], segment: bytes) -> bool:
    """Whether ``segment`` (8 bytes or more) stands at each of ``begin``: compared 8 bytes at a time (``words`` is the
    text seen as a little-endian word at every byte)."""
    at = np.array(sorted({*range(0, len(segment) - 7, 8), len(segment) - 8}), dtype=np.intp)
    expected = np.array([int.from_bytes(segment[a : a + 8], "little") for a in at], dtype=np.uint64)
    return bool(np.all(words[begin[:, None] + at] == expected))


def _utf8(text: bytes) -> bool:
    try:
        text.decode()
    except UnicodeDecodeError:
        return False
    return True


def _canonical_lines(text: bytes) -> pa.Table | None:
    """The flow fields of lines all shaped as its first (one flat object of strings without escapes, the
    same keys in the same order, the same punctuation), as dictionary-encoded strings cut out of the text at its
    quotes, never a Python string per value; None for a block of any other shape. Whatever it reads, ``json.loads``
    (and ``str.splitlines``) reads the same: no escape, no control character but the line ends, no other line break,
    valid UTF-8, and from each value's closing quote to the next one's opening quote the first line's bytes."""
    first_end = text.find(b"\n")
    layout = _canonical_layout(text[: first_end if first_end >= 0 else len(text)])
    if layout is None or len(text) < 8 or b"\\" in text:
        return None
    if not text.isascii() and (any(b in text for b in _OTHER_LINE_BREAKS[-3:]) or not _utf8(text)):
        return None
    line_breaks = text.count(b"\n")
    lines = line_breaks + (not text.endswith(b"\n"))
    returns = lines if layout[-1].endswith(b"\r") else 0
    data = np.frombuffer(text, dtype=np.uint8)
    if text.count(b"\r") != returns or np.count_nonzero(data < 0x20) != line_breaks + returns:
        return None
    width = len(layout) - 1  # quotes a line
    quotes = np.flatnonzero(data == ord('"'))
    if quotes.size != lines * width:
        return None
    grid = quotes.reshape(lines, width)
    opening, closing = b'"'.join(layout[:3]) + b'"', b'"' + layout[-1]
    if not text.startswith(opening) or text[quotes[-1] :] != closing + b"\n"[: text.endswith(b"\n")]:
        return None
    words = np.ndarray((len(text) - 7,), dtype="<u8", buffer=text, strides=(1,))
    segments = [  # from a value's closing quote to the next one's opening quote, and from a line's last to the next
        (grid[:, 4 * i - 1], grid[:, 4 * i + 2], b'"' + b'"'.join(layout[4 * i : 4 * i + 3]) + b'"')
        for i in range(1, width // 4)
    ]
    segments.append((grid[:-1, -1], grid[1:, 2], closing + b"\n" + opening))
    for begin, end, segment in segments:
        if len(segment) < 8 or bool(np.any(end - begin + 1 != len(segment))):
            return None
        if not _same_segments(words, begin, segment):
            return None
    # every piece from one quote to the next, its opening quote first: no copy of the text
    pieces = pa.StringArray.from_buffers(quotes.size - 1, pa.py_buffer(quotes.astype(np.int32)), pa.py_buffer(text))
    rows = np.arange(lines, dtype=np.int64) * width
    columns: dict[str, pa.Array] = {}
    for i, key in enumerate(layout[1::4]):
        field = key.decode()
        if field in FIELDS:
            quoted = pc.dictionary_encode(pieces.take(pa.array(rows + 4 * i + 2)))
            values = pc.utf8_slice_codeunits(quoted.dictionary, 1)  # the distinct values, their quote dropped
            columns[field] = pa.DictionaryArray.from_arrays(quoted.indices, values)
    return pa.table({f: columns.get(f, pa.nulls(lines, _TEXT)) for f in FIELDS})


def _canonical_block(text: memoryview) -> pa.Table | None:
    """``_canonical_lines`` of a block's distinct lines only (flow files repeat: the bench's have ~1 distinct line in
    5), spread back to every line: a line's bytes alone decide what it reads as."""
    data = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n")) + 1
    if data[-1] != ord("\n"):
        ends = np.append(ends, data.size)
    offsets = pa.py_buffer(np.concatenate(([0], ends)).astype(np.int32))
    lines = pc.dictionary_encode(pa.Array.from_buffers(pa.binary(), ends.size, [None, offsets, pa.py_buffer(text)]))
    distinct = lines.dictionary
    _, distinct_offsets, distinct_text = distinct.buffers()
    size = int(np.frombuffer(distinct_offsets, dtype=np.int32)[len(distinct)])
    table = _canonical_lines(distinct_text.slice(0, size).to_pybytes())
    if table is None:
        return None
    columns = {}
    for field in FIELDS:
        column = table.column(field).chunk(0)
        columns[field] = pa.DictionaryArray.from_arrays(column.indices.take(lines.indices), column.dictionary)
    return pa.table(columns)


def _pyarrow_json_block(text: bytes, path: Path) -> pa.Table:
    """A block ``_canonical_block`` does not take, through pyarrow's JSON reader with fields as strings or ports
    (and protocol) as integers; ``NotSimpleJson`` when none of these reads it."""
    for schema in _JSON_SCHEMAS:
        options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        try:
            table = pajson.read_json(pa.py_buffer(text), pajson.ReadOptions(block_size=TEXT_BLOCK_BYTES), options)
        except pa.ArrowInvalid:
            continue
        return pa.table(_as_strings(table, path).columns)
    raise NotSimpleJson


def iter_json(path: Path) -> Iterator[RawFlows]:
    """JSON lines, block by block: canonical ones split at their quotes (``_canonical_block``), others read by
    pyarrow when every line is one object with string (or integer port and protocol) fields; raises
    ``NotSimpleJson`` (possibly after some batches) when the file needs the careful reader."""
    check_regular_file(path)
    if path.stat().st_size == 0:
        raise NotSimpleJson
    pending: list[pa.Table] = []
    rows = 0
    try:
        for block in _blocks(path):
            table = _canonical_block(block)
            if table is None:
                text = bytes(block)
                if not _simple_lines(text):  # pyarrow's reader never sees a line that fails it
                    raise NotSimpleJson
                table = _pyarrow_json_block(text, path)
            pending.append(table)
            rows += pending[-1].num_rows
            if rows >= BATCH_ROWS:
                yield _as_strings(pa.concat_tables(pending), path)
                pending, rows = [], 0
    except OSError as exc:
        raise NotSimpleJson from exc
    if pending:
        yield _as_strings(pa.concat_tables(pending), path)


def iter_flows(path: Path) -> Iterator[RawFlows]:
    """The file's rows in batches (JSON lines: raises ``NotSimpleJson`` where ``read_json`` must be used)."""
    kind = file_format(path)
    if kind == "parquet":
        return iter_parquet(path)
    if kind == "csv":
        return iter_csv(path)
    return iter_json(path)


# --- field parsing -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encoded:
    """A column as its distinct trimmed values (null became "") and each row's index into them: every parser
    below runs once per distinct value, vectorised, and rows gather the results."""

    values: pa.Array
    index: npt.NDArray[np.intp]


def encode(column: pa.Array) -> Encoded:
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    dictionary = pc.cast(encoded.dictionary, pa.string())
    values = pa.concat_arrays([pc.fill_null(pc.utf8_trim_whitespace(dictionary), ""), pa.array([""], pa.string())])
    index = pc.fill_null(encoded.indices, len(dictionary)).to_numpy(zero_copy_only=False).astype(np.intp)
    return Encoded(values, index)


def parse_direction(text: pa.Array) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """0 inbound / 1 outbound, and which rows are valid."""
    lowered = pc.utf8_lower(text)
    inbound = pc.equal(lowered, "inbound").to_numpy(zero_copy_only=False)
    outbound = pc.equal(lowered, "outbound").to_numpy(zero_copy_only=False)
    return outbound.astype(np.uint8), inbound | outbound


def parse_protocol(text: pa.Array) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]:
    """IANA numbers from TCP, UDP, ICMP, ICMPv6, ESP, AH (any casing) or a number 0–255."""
    names = list(PROTOCOL_NUMBERS)
    numbers = np.asarray([PROTOCOL_NUMBERS[n] for n in names], dtype=np.int64)
    named = pc.index_in(pc.utf8_lower(text), value_set=pa.array(names)).to_numpy(zero_copy_only=False)
    named_ok = ~np.isnan(named.astype(np.float64))
    value, numeric_ok = _small_number(text, 3, 255)
    protocol = np.where(named_ok, numbers[np.nan_to_num(named, nan=0).astype(np.intp)], value)
    return protocol.astype(np.uint8), named_ok | numeric_ok


def _small_number(text: pa.Array, digits: int, limit: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    shaped = pc.match_substring_regex(text, rf"^[0-9]{{1,{digits}}}$").to_numpy(zero_copy_only=False)
    values = pc.cast(pc.if_else(pa.array(shaped), text, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    ok = shaped & (values <= limit)
    return np.where(ok, values, 0), ok


def parse_port(text: pa.Array) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """A port 0–65535, or ``NO_PORT`` for ``*`` or an empty field."""
    wildcard = pc.is_in(text, value_set=pa.array(["", "*"])).to_numpy(zero_copy_only=False)
    value, ok = _small_number(text, 5, 65535)
    return np.where(wildcard, NO_PORT, value).astype(np.int32), ok | wildcard


def parse_addresses(
    text: pa.Array,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """(is IPv6, high 64 bits, low 64 bits, valid): IPv4 by regex and split in pyarrow, IPv6 by ``ipaddress``
    (callers pass distinct values, so that is once per distinct IPv6 address)."""
    n = len(text)
    v4 = pc.match_substring_regex(text, IPV4_PATTERN).to_numpy(zero_copy_only=False)
    high = np.zeros(n, dtype=np.uint64)
    low = np.zeros(n, dtype=np.uint64)
    if v4.any():
        octets = pc.cast(pc.list_flatten(pc.split_pattern(pc.filter(text, pa.array(v4)), ".")), pa.uint64())
        quads = octets.to_numpy(zero_copy_only=False).reshape(-1, 4)
        low[v4] = (quads[:, 0] << 24) | (quads[:, 1] << 16) | (quads[:, 2] << 8) | quads[:, 3]
    v6 = np.zeros(n, dtype=bool)
    colon = pc.match_substring(text, ":").to_numpy(zero_copy_only=False) & ~v4
    for row in np.flatnonzero(colon).tolist():
        value = _v6_value(text[row].as_py())
        if value is not None:
            v6[row] = True
            high[row], low[row] = halves(value)
    return v6, high, low, v4 | v6


@functools.lru_cache(maxsize=1 << 16)
def _v6_value(text: str) -> int | None:
    """Memoised: each batch's dictionary repeats the IPv6 addresses of the batches before it."""
    try:
        return int(IPv6Address(text))
    except ValueError:
        return None
