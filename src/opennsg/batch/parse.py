"""Reading flow files and parsing their string fields column by column (pyarrow compute and numpy).

Every check marks bad rows in an error-kind column instead of raising, so one bad row never stops a file; the
message for a bad row is only built (in Python) for the rows that have one.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from opennsg.engine.compiled import NO_PORT
from opennsg.engine.flow import PROTOCOL_NUMBERS
from opennsg.model.files import check_regular_file, read_text

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
_LOW64 = (1 << 64) - 1


def file_format(path: Path) -> str:
    """``json``, ``csv`` or ``parquet`` by extension; ValueError for anything else."""
    suffix = path.suffix.lower()
    for name, suffixes in (("json", JSON_SUFFIXES), ("csv", CSV_SUFFIXES), ("parquet", PARQUET_SUFFIXES)):
        if suffix in suffixes:
            return name
    raise ValueError(f"'{path}': unknown flow file type '{suffix}' (use .jsonl, .json, .csv or .parquet)")


@dataclass(frozen=True, slots=True)
class RawFlows:
    """The eight fields as string columns (null when absent), and the rows that could not even be read."""

    columns: dict[str, pa.Array]
    unreadable: dict[int, str]

    def __len__(self) -> int:
        return len(self.columns[DIRECTION])


def _json_rows(path: Path) -> tuple[list[Any], dict[int, str]]:
    text = read_text(path)
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
    rows, unreadable = _json_rows(path)
    columns: dict[str, list[str | None]] = {field: [] for field in FIELDS}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            unreadable.setdefault(i, "Each line must be a JSON object with the IP flow verify fields.")
            row = {}
        for field in FIELDS:
            columns[field].append(_scalar_text(row.get(field)))
    return RawFlows({f: pa.array(v, type=pa.string()) for f, v in columns.items()}, unreadable)


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


def _as_strings(table: pa.Table, path: Path) -> RawFlows:
    n = table.num_rows
    columns: dict[str, pa.Array] = {}
    for field in FIELDS:
        if field not in table.column_names:
            columns[field] = pa.nulls(n, type=pa.string())
            continue
        column = table.column(field)
        if pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type):
            column = column.unify_dictionaries()
        elif not pa.types.is_string(column.type):
            column = _cast_to_strings(column, field, path)
        columns[field] = column.combine_chunks()
    return RawFlows(columns, {})


def _cast_to_strings(column: pa.ChunkedArray, field: str, path: Path) -> pa.ChunkedArray:
    """Numbers and other scalars as text; lists, structs and maps are not flow fields."""
    wrong = FlowsFileError(f"'{path}': column {field} holds {column.type} values; a flow field is a string or number.")
    if pa.types.is_nested(column.type):
        raise wrong
    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise wrong from None


def read_csv(path: Path) -> RawFlows:
    check_regular_file(path)
    options = pacsv.ConvertOptions(column_types={f: pa.string() for f in FIELDS}, strings_can_be_null=False)
    table = pacsv.read_csv(path, convert_options=options)
    check_columns(path, table.column_names)
    return _as_strings(table, path)


def read_parquet(path: Path) -> RawFlows:
    check_regular_file(path)
    schema = pq.read_schema(path)
    check_columns(path, schema.names)
    present = [f for f in FIELDS if f in schema.names]
    strings = [f for f in present if pa.types.is_string(schema.field(f).type)]
    return _as_strings(pq.read_table(path, columns=present, read_dictionary=strings), path)


READERS: dict[str, Callable[[Path], RawFlows]] = {"json": read_json, "csv": read_csv, "parquet": read_parquet}


def read_flows(path: Path) -> RawFlows:
    return READERS[file_format(path)](path)


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
            high[row] = value >> 64
            low[row] = value & _LOW64
    return v6, high, low, v4 | v6


def _v6_value(text: str) -> int | None:
    try:
        return int(IPv6Address(text))
    except ValueError:
        return None
