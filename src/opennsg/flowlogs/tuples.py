"""Flow tuples in bulk: the tuple strings of a format, gathered from many ``flowTuples`` lists, parsed into Arrow.

Arrow's CSV reader splits and converts a whole bucket at once; column-wise checks then confirm what the CSV
types leave open. Only when something is off is each tuple matched against its format's pattern, so that the
culprits are reported (file, list, index) and cost only themselves.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from opennsg.flowlogs.buckets import Bucket, Group
from opennsg.flowlogs.formats import ENCRYPTION_VALUES, LETTER_PROTOCOLS, LogFormat
from opennsg.flowlogs.problems import Problem
from opennsg.flowlogs.schema import SCHEMA

_IPV4 = r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_BYTE = r"(?:25[0-5]|2[0-4]\d|[01]?\d?\d)"  # 0-255, leading zeros allowed (as the int16 column reads them)
_IP = rf"(?:{_IPV4}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)"
_PORT = r"(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]?\d{1,4})"
_TIME_DIGITS = 13
#: Counters fit int64 with room to spare (a longer one is reported, not left to fail the whole bucket).
_COUNTER_DIGITS = 18
_COUNT = rf"\d{{0,{_COUNTER_DIGITS}}}"
_HEAD = rf"\d{{1,{_TIME_DIGITS}}},{_IP},{_IP},{_PORT},{_PORT}"
_TUPLE_PATTERNS = {
    LogFormat.NSG_V1: rf"^{_HEAD},(?:T|U|\d{{1,3}}),[IO],[AD]$",
    LogFormat.NSG_V2: rf"^{_HEAD},(?:T|U|\d{{1,3}}),[IO],[AD],[BCE],{_COUNT},{_COUNT},{_COUNT},{_COUNT}$",
    LogFormat.VNET: rf"^{_HEAD},{_BYTE},[IO],[BCED],(?:{'|'.join(sorted(ENCRYPTION_VALUES))}),"
    rf"{_COUNT},{_COUNT},{_COUNT},{_COUNT}$",
}
_FIELDS = {
    LogFormat.NSG_V1: ("ts", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "direction", "decision"),
    LogFormat.NSG_V2: ("ts", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "direction", "decision",
                       "state", "packets_src_to_dst", "bytes_src_to_dst", "packets_dst_to_src", "bytes_dst_to_src"),
    LogFormat.VNET: ("ts", "src_ip", "dst_ip", "src_port", "dst_port", "protocol", "direction", "state",
                     "encryption", "packets_src_to_dst", "bytes_src_to_dst", "packets_dst_to_src", "bytes_dst_to_src"),
}  # fmt: skip
_COUNTERS = ("packets_src_to_dst", "bytes_src_to_dst", "packets_dst_to_src", "bytes_dst_to_src")


class _Rows:
    """The tuple strings of a bucket still in play, with each one's group and index inside that group."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket
        self.lines: list[Any] = bucket.tuples
        counts = np.asarray(bucket.counts, dtype=np.int64)
        self.group_ids = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        self.index = np.arange(len(self.lines), dtype=np.int64) - starts[self.group_ids]

    def subset(self, keep: npt.NDArray[np.bool_]) -> _Rows:
        out = object.__new__(_Rows)
        out.bucket = self.bucket
        out.lines = [line for line, ok in zip(self.lines, keep.tolist(), strict=True) if ok]
        out.group_ids = self.group_ids[keep]
        out.index = self.index[keep]
        return out


def parse_bucket(bucket: Bucket) -> tuple[pa.Table, list[Problem]]:
    """Parse a bucket in bulk; only when the fast path finds something wrong is each tuple checked.

    Returns the tuples as a table and a problem for each tuple left out (touches no shared state, so it can
    run on a worker thread).
    """
    problems: list[Problem] = []
    rows = _Rows(bucket)
    try:
        joined = "\n".join(rows.lines)
    except TypeError:  # a tuple that is not a string
        rows = _drop(rows, np.fromiter((type(x) is str for x in rows.lines), dtype=bool), "non-string", problems)
        joined = "\n".join(rows.lines)
    table = _parse_tuples(bucket.fmt, joined, rows, bucket.groups)
    if table is None:
        texts = pa.array(rows.lines, pa.string())
        valid = pc.and_(pc.match_substring_regex(texts, _TUPLE_PATTERNS[bucket.fmt]), _ipv6_valid(texts))
        rows = _drop(rows, np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool), "malformed", problems)
        table = _parse_tuples(bucket.fmt, "\n".join(rows.lines), rows, bucket.groups, matched=True)
        if table is None:  # the patterns are stricter than the fast checks, so this cannot happen
            _drop(rows, np.zeros(len(rows.lines), dtype=bool), "unparseable", problems)
            table = SCHEMA.empty_table()
    return table, problems


def _drop(rows: _Rows, keep: npt.NDArray[np.bool_], what: str, problems: list[Problem]) -> _Rows:
    """Report the tuples not kept (file, group position, index in the group) and return the others."""
    for row in np.flatnonzero(~keep).tolist():
        group = rows.bucket.groups[int(rows.group_ids[row])]
        text = rows.lines[row] if isinstance(rows.lines[row], str) else repr(rows.lines[row])
        problems.append(
            Problem(group.file, f"{group.position}[{rows.index[row]}]", f"{what} {rows.bucket.fmt.value} tuple {text}")
        )
    return rows.subset(keep)


def _ipv6_valid(texts: pa.Array) -> pa.Array:
    """The tuple regex only shapes IPv6 loosely; check the (rare) tuples holding ':' exactly: both ends valid IPv6
    addresses (a flow between two IP versions is no flow the Engine could decide: reported as malformed)."""
    has_colon = pc.match_substring(texts, ":")
    if not pc.any(has_colon).as_py():
        return pc.invert(has_colon)
    out = np.ones(len(texts), dtype=bool)
    for row in np.flatnonzero(has_colon.to_numpy(zero_copy_only=False)):
        fields = str(texts[row]).split(",")
        out[row] = len(fields) > 2 and all(":" in fields[k] and _is_ip(fields[k]) for k in (1, 2))
    return pa.array(out)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _parse_tuples(
    fmt: LogFormat, joined: str, rows: _Rows, groups: list[Group], *, matched: bool = False
) -> pa.Table | None:
    """Tuple strings of one format into a batch (Arrow's CSV reader splits and converts them in bulk).

    Returns None when any tuple is off — wrong field count, a non-number, a value out of range, an unknown
    letter or an address that is not one — so the caller can find and report the culprits one by one.
    """
    count = len(rows.lines)
    if count == 0:
        return SCHEMA.empty_table()
    names = _FIELDS[fmt]
    types = {name: pa.string() for name in names}
    types.update({"ts": pa.int64(), "src_port": pa.int32(), "dst_port": pa.int32()})
    types.update({name: pa.int64() for name in _COUNTERS if name in names})
    if fmt is LogFormat.VNET:
        types["protocol"] = pa.int16()
    data = joined.encode()
    if not matched and _lenient_numbers(data):  # once every tuple matched its pattern, nothing is left to doubt
        return None
    try:  # a row of the wrong shape raises (no invalid-row handler: it would slow every row down)
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=list(names), block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                quote_char=False, double_quote=False, escape_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )  # fmt: skip
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != count or not _plausible(fmt, table):
        return None
    if fmt is LogFormat.VNET:
        protocol = table["protocol"]
        millis = table["ts"]
        decision = pc.if_else(pc.equal(table["state"], "D"), "D", "A")
    else:
        protocol = _nsg_protocol_numbers(table["protocol"])
        millis = pc.multiply(table["ts"], 1000)
        decision = table["decision"]
    nulls_text = pa.nulls(count, pa.string())
    nulls_int = pa.nulls(count, pa.int64())
    columns = {
        "file": _labels([g.file for g in groups], rows.group_ids),
        "format": _labels([fmt.value], np.zeros(count, dtype=np.int32)),
        "resource_id": _labels([g.resource_id for g in groups], rows.group_ids),
        "acl_id": _labels([g.acl_id for g in groups], rows.group_ids),
        "mac": _labels([g.mac for g in groups], rows.group_ids),
        "rule": _labels([g.rule for g in groups], rows.group_ids),
        "time": pc.cast(millis, pa.timestamp("ms", tz="UTC")),
        "src_ip": table["src_ip"],
        "dst_ip": table["dst_ip"],
        "src_port": table["src_port"],
        "dst_port": table["dst_port"],
        "protocol": protocol,
        "direction": table["direction"],
        "decision": decision,
        "state": table["state"] if "state" in names else nulls_text,
        "encryption": table["encryption"] if "encryption" in names else nulls_text,
    }
    for name in _COUNTERS:
        columns[name] = table[name] if name in names else nulls_int
    return pa.Table.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA)


_LETTERS = {
    "direction": ["I", "O"],
    "decision": ["A", "D"],
}
_STATES = {LogFormat.NSG_V2: ["B", "C", "E"], LogFormat.VNET: ["B", "C", "E", "D"]}
_IP_PATTERN = rf"^{_IP}$"
_NSG_PROTOCOL_PATTERN = r"^(?:T|U|\d{1,3})$"


#: Bytes scanned at a time by ``_lenient_numbers`` (its temporaries are a few times this, not of the whole bucket).
_SCAN_BYTES = 1 << 20


def _lenient_numbers(data: bytes) -> bool:
    """Whether the text holds what Arrow's number parsing forgives but the tuple patterns do not: signs
    (``-0``), blanks around numbers or a leading zero (``00443``). Letters and addresses hold none of them."""
    if b"-" in data or b" " in data or b"\t" in data:
        return True
    text = np.frombuffer(data, dtype=np.uint8)
    last = text.size - 1  # a leading zero at i needs a digit at i + 1
    for start in range(0, max(last, 0), _SCAN_BYTES):
        stop = min(start + _SCAN_BYTES, last)
        before = text[max(start - 1, 0) : stop - 1]
        field_start = (before == ord(",")) | (before == ord("\n"))
        if start == 0:
            field_start = np.concatenate(([True], field_start))
        zero = text[start:stop] == ord("0")
        if np.any(zero & (text[start + 1 : stop + 1] - ord("0") < 10) & field_start):
            return True
    return False


def _plausible(fmt: LogFormat, table: pa.Table) -> bool:
    """Column-wise checks of what the CSV types leave open (ranges, letters, address syntax)."""
    required = ["ts", "src_port", "dst_port"] + (["protocol"] if fmt is LogFormat.VNET else [])
    if any(table[name].null_count for name in required):  # an empty number reads as null
        return False
    checks = [
        pc.min(table["ts"]).as_py() >= 0 and pc.max(table["ts"]).as_py() < 10**_TIME_DIGITS,
        pc.min(table["src_port"]).as_py() >= 0 and pc.max(table["src_port"]).as_py() <= 65535,
        pc.min(table["dst_port"]).as_py() >= 0 and pc.max(table["dst_port"]).as_py() <= 65535,
    ]
    for name, allowed in _LETTERS.items():
        if name in table.column_names:
            checks.append(pc.all(pc.is_in(table[name], pa.array(allowed))).as_py())
    if fmt in _STATES:
        checks.append(pc.all(pc.is_in(table["state"], pa.array(_STATES[fmt]))).as_py())
    if fmt is LogFormat.VNET:
        checks.append(pc.min(table["protocol"]).as_py() >= 0 and pc.max(table["protocol"]).as_py() <= 255)
        checks.append(pc.all(pc.is_in(table["encryption"], pa.array(sorted(ENCRYPTION_VALUES)))).as_py())
    else:
        protocols = pc.unique(table["protocol"])  # a handful of values: check each once
        checks.append(pc.all(pc.match_substring_regex(protocols, _NSG_PROTOCOL_PATTERN)).as_py())
    for name in _COUNTERS:
        if name in table.column_names and table[name].null_count < len(table):
            checks.append(pc.min(table[name]).as_py() >= 0 and pc.max(table[name]).as_py() < 10**_COUNTER_DIGITS)
    if not all(checks):
        return False
    any_ipv6 = False
    for name in ("src_ip", "dst_ip"):
        distinct = pc.unique(table[name])  # addresses repeat a lot: check each once
        if not pc.all(pc.match_substring_regex(distinct, _IP_PATTERN)).as_py():
            return False
        colons = pc.match_substring(distinct, ":")
        if pc.any(colons).as_py():
            any_ipv6 = True
            if not all(_is_ip(text) for text in pc.filter(distinct, colons).to_pylist()):
                return False
    if any_ipv6:  # both ends of each tuple of one IP version
        same = pc.equal(pc.match_substring(table["src_ip"], ":"), pc.match_substring(table["dst_ip"], ":"))
        return bool(pc.all(same).as_py())
    return True


def _nsg_protocol_numbers(texts: pa.ChunkedArray) -> pa.Array:
    """NSG protocols (``T``, ``U`` or a number) as numbers, converting each distinct text once."""
    encoded = pc.dictionary_encode(texts).combine_chunks()
    numbers = encoded.dictionary
    for letter, number in LETTER_PROTOCOLS.items():
        numbers = pc.replace_substring(numbers, letter, str(number))
    return pc.take(pc.cast(numbers, pa.int16()), encoded.indices)


def _labels(per_group: list[str], group_ids: npt.NDArray[np.int32]) -> pa.DictionaryArray:
    """A per-tuple column of per-group strings, dictionary-encoded (each distinct string stored once)."""
    distinct: dict[str, int] = {}
    codes = np.fromiter(
        (distinct.setdefault(v, len(distinct)) for v in per_group), dtype=np.int32, count=len(per_group)
    )
    return pa.DictionaryArray.from_arrays(pa.array(codes[group_ids]), pa.array(list(distinct), pa.string()))
