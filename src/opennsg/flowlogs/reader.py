"""Flow logs in: NSG v1/v2 and VNet flow log files, streamed into Arrow batches (semantics §9).

Files are decoded record by record (``{"records": [...]}`` is never loaded whole), tuples are parsed in bulk
by Arrow's CSV reader, and every problem — a truncated file, a malformed record, a bad tuple — is reported
with its file and position. Nothing is dropped silently and no input makes the reader crash.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from opennsg.flowlogs.formats import (
    ENCRYPTION_VALUES,
    LETTER_PROTOCOLS,
    NSG_CATEGORY,
    VNET_CATEGORY,
    LogFormat,
    normalize_mac,
)
from opennsg.model.files import MAX_JSON_DEPTH, InputError, files_under, open_regular

_LABEL = pa.dictionary(pa.int32(), pa.string())
#: Columns of every batch the reader yields (one row per flow tuple). What a whole ``flowTuples`` list shares
#: (file, format, NSG or flow log, ACL, MAC, rule) is dictionary-encoded: it costs nothing per tuple.
SCHEMA = pa.schema(
    [
        ("file", _LABEL),
        ("format", _LABEL),
        ("resource_id", _LABEL),
        ("acl_id", _LABEL),
        ("mac", _LABEL),
        ("rule", _LABEL),
        ("time", pa.timestamp("ms", tz="UTC")),
        ("src_ip", pa.string()),
        ("dst_ip", pa.string()),
        ("src_port", pa.int32()),
        ("dst_port", pa.int32()),
        ("protocol", pa.int16()),
        ("direction", pa.string()),
        ("decision", pa.string()),
        ("state", pa.string()),
        ("encryption", pa.string()),
        ("packets_src_to_dst", pa.int64()),
        ("bytes_src_to_dst", pa.int64()),
        ("packets_dst_to_src", pa.int64()),
        ("bytes_dst_to_src", pa.int64()),
    ]
)

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
_RECORDS_HEAD = re.compile(r'\s*\{\s*"records"\s*:\s*\[')
_SPACE = re.compile(r"\s*")
_RESYNC = re.compile(r"\}\s*,\s*\{")
_CHUNK = 1 << 22
_BATCH_TUPLES = 1 << 18  # small enough that parsing buckets overlaps decoding the next records
_PARSERS = 2  # buckets parsed at once (the measured machine has 2 cores)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the reader could not use, and where: a file and a position inside it."""

    file: str
    position: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "position": self.position, "message": self.message}


@dataclass(slots=True)
class ReadStats:
    files: int = 0
    records: int = 0
    tuples: int = 0
    malformed_records: int = 0
    malformed_tuples: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "tuples": self.tuples,
            "malformedRecords": self.malformed_records,
            "malformedTuples": self.malformed_tuples,
            "problems": [p.to_json() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class _Group:
    """The tuples of one ``flowTuples`` list share these attributes; ``position`` locates the list."""

    file: str
    position: str
    fmt: LogFormat
    resource_id: str
    acl_id: str
    mac: str
    rule: str


class _Bucket:
    """Tuples of one format waiting to be parsed in bulk, with the group each one came from."""

    def __init__(self, fmt: LogFormat) -> None:
        self.fmt = fmt
        self.tuples: list[str] = []
        self.groups: list[_Group] = []
        self.counts: list[int] = []

    def add(self, group: _Group, tuples: list[str]) -> None:
        self.groups.append(group)
        self.counts.append(len(tuples))
        self.tuples.extend(tuples)


def flow_log_files(paths: Iterable[Path]) -> list[Path]:
    """Every ``*.json`` under the given directories (sorted, so output is reproducible) and the files given
    (a path that is not a readable file is kept: reading it reports why)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(files_under(path, (".json",))))
        else:
            found.append(path)
    return found


class FlowLogReader:
    """Streams flow log files as Arrow record batches of ``SCHEMA``; ``stats`` fills in as batches are read."""

    def __init__(self, paths: Iterable[Path], batch_tuples: int = _BATCH_TUPLES) -> None:
        self.files = flow_log_files(paths)
        self.batch_tuples = batch_tuples
        self.stats = ReadStats()
        self._placed = 0  # tuple problems placed into stats.problems so far

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Batches in file order. Full buckets are parsed on worker threads (Arrow releases the GIL) while the
        next records are decoded here; problems still land in ``stats`` in file order."""
        buckets = {fmt: _Bucket(fmt) for fmt in LogFormat}
        in_flight: deque[_Parsing] = deque()
        with ThreadPoolExecutor(max_workers=_PARSERS, thread_name_prefix="flowlog-parse") as pool:

            def parse(bucket: _Bucket) -> Iterator[pa.RecordBatch]:
                if len(in_flight) == _PARSERS:
                    yield from self._finish(in_flight.popleft())
                in_flight.append(_Parsing(pool.submit(_parse_bucket, bucket), len(self.stats.problems), self._placed))

            for path in self.files:
                self.stats.files += 1
                for position, record in _iter_records(path, self.stats):
                    self.stats.records += 1
                    before = len(self.stats.problems)
                    self._collect(str(path), position, record, buckets)
                    if len(self.stats.problems) > before:
                        self.stats.malformed_records += 1
                    for fmt, bucket in buckets.items():
                        if len(bucket.tuples) >= self.batch_tuples:
                            yield from parse(bucket)
                            buckets[fmt] = _Bucket(fmt)
            for bucket in buckets.values():
                if bucket.tuples:
                    yield from parse(bucket)
            while in_flight:
                yield from self._finish(in_flight.popleft())

    def _finish(self, parsing: _Parsing) -> Iterator[pa.RecordBatch]:
        """Wait for a bucket's parse; its problems go where the bucket filled up, before later records'.

        Buckets finish in the order they filled; problems placed since this one started (by the buckets
        before it) moved its place along by their number.
        """
        table, problems = parsing.future.result()
        at = parsing.problems_at + self._placed - parsing.placed_before
        self.stats.problems[at:at] = problems
        self._placed += len(problems)
        self.stats.malformed_tuples += len(problems)
        self.stats.tuples += table.num_rows
        yield from table.to_batches()

    def read_all(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=SCHEMA)

    # --- records -------------------------------------------------------------------------------

    def _problem(self, file: str, position: str, message: str) -> None:
        self.stats.problems.append(Problem(file, position, message))

    def _collect(self, file: str, position: str, record: Any, buckets: dict[LogFormat, _Bucket]) -> None:
        if not isinstance(record, dict):
            self._problem(file, position, "record is not a JSON object")
            return
        category = record.get("category")
        if category == NSG_CATEGORY or ("properties" in record and category is None):
            self._collect_nsg(file, position, record, buckets)
        elif category == VNET_CATEGORY or ("flowRecords" in record and category is None):
            self._collect_vnet(file, position, record, buckets)
        else:
            self._problem(file, position, f"unknown record category {category!r}")

    def _collect_nsg(self, file: str, position: str, record: dict[str, Any], buckets: dict[LogFormat, _Bucket]) -> None:
        properties = record.get("properties")
        flows = properties.get("flows") if isinstance(properties, dict) else None
        version = properties.get("Version", properties.get("version")) if isinstance(properties, dict) else None
        resource_id = record.get("resourceId")
        if version not in (1, 2, "1", "2") or not isinstance(flows, list) or not isinstance(resource_id, str):
            self._problem(
                file, position, "NSG record lacks resourceId, properties.Version (1 or 2) or properties.flows"
            )
            return
        fmt = LogFormat.NSG_V1 if int(version) == 1 else LogFormat.NSG_V2
        system_id = str(record.get("systemId") or "")
        for i, rule_flows in enumerate(flows):
            where = f"{position}.properties.flows[{i}]"
            rule = rule_flows.get("rule") if isinstance(rule_flows, dict) else None
            per_mac = rule_flows.get("flows") if isinstance(rule_flows, dict) else None
            if not isinstance(rule, str) or not isinstance(per_mac, list):
                self._problem(file, where, "flow group lacks 'rule' or 'flows'")
                continue
            for j, mac_flows in enumerate(per_mac):
                inner = f"{where}.flows[{j}]"
                mac = mac_flows.get("mac") if isinstance(mac_flows, dict) else None
                tuples = mac_flows.get("flowTuples") if isinstance(mac_flows, dict) else None
                if not isinstance(mac, str) or not isinstance(tuples, list):
                    self._problem(file, inner, "flows entry lacks 'mac' or a 'flowTuples' list")
                    continue
                assert isinstance(tuples, list)
                group = _Group(file, f"{inner}.flowTuples", fmt, resource_id, system_id, normalize_mac(mac), rule)
                buckets[fmt].add(group, tuples)

    def _collect_vnet(
        self, file: str, position: str, record: dict[str, Any], buckets: dict[LogFormat, _Bucket]
    ) -> None:
        flow_records = record.get("flowRecords")
        flows = flow_records.get("flows") if isinstance(flow_records, dict) else None
        mac = record.get("macAddress")
        resource_id = record.get("flowLogResourceID")
        if not isinstance(flows, list) or not isinstance(mac, str) or not isinstance(resource_id, str):
            self._problem(file, position, "VNet record lacks flowLogResourceID, macAddress or flowRecords.flows")
            return
        for i, acl_flows in enumerate(flows):
            where = f"{position}.flowRecords.flows[{i}]"
            acl = acl_flows.get("aclID") if isinstance(acl_flows, dict) else None
            groups = acl_flows.get("flowGroups") if isinstance(acl_flows, dict) else None
            if not isinstance(acl, str) or not isinstance(groups, list):
                self._problem(file, where, "flows entry lacks 'aclID' or 'flowGroups'")
                continue
            for j, rule_group in enumerate(groups):
                inner = f"{where}.flowGroups[{j}]"
                rule = rule_group.get("rule") if isinstance(rule_group, dict) else None
                tuples = rule_group.get("flowTuples") if isinstance(rule_group, dict) else None
                if not isinstance(rule, str) or not isinstance(tuples, list):
                    self._problem(file, inner, "flow group lacks 'rule' or a 'flowTuples' list")
                    continue
                assert isinstance(tuples, list)
                group = _Group(file, f"{inner}.flowTuples", LogFormat.VNET, resource_id, acl, normalize_mac(mac), rule)
                buckets[LogFormat.VNET].add(group, tuples)

    # --- tuples --------------------------------------------------------------------------------


class _Rows:
    """The tuple strings of a bucket still in play, with each one's group and index inside that group."""

    def __init__(self, bucket: _Bucket) -> None:
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


@dataclass(frozen=True, slots=True)
class _Parsing:
    """A bucket being parsed: where its problems belong among those reported when it started, and how many
    tuple problems had been placed by then."""

    future: Future[tuple[pa.Table, list[Problem]]]
    problems_at: int
    placed_before: int


def _parse_bucket(bucket: _Bucket) -> tuple[pa.Table, list[Problem]]:
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
    """The tuple regex only shapes IPv6 loosely; check the (rare) tuples holding ':' exactly."""
    has_colon = pc.match_substring(texts, ":")
    if not pc.any(has_colon).as_py():
        return pc.invert(has_colon)
    out = np.ones(len(texts), dtype=bool)
    for row in np.flatnonzero(has_colon.to_numpy(zero_copy_only=False)):
        fields = str(texts[row]).split(",")
        out[row] = len(fields) > 2 and all(_is_ip(fields[k]) for k in (1, 2))
    return pa.array(out)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _parse_tuples(
    fmt: LogFormat, joined: str, rows: _Rows, groups: list[_Group], *, matched: bool = False
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
    for name in ("src_ip", "dst_ip"):
        distinct = pc.unique(table[name])  # addresses repeat a lot: check each once
        if not pc.all(pc.match_substring_regex(distinct, _IP_PATTERN)).as_py():
            return False
        colons = pc.match_substring(distinct, ":")
        if pc.any(colons).as_py() and not all(_is_ip(text) for text in pc.filter(distinct, colons).to_pylist()):
            return False
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


def _iter_records(path: Path, stats: ReadStats) -> Iterator[tuple[str, Any]]:
    """Yield ``(position, record)`` from ``{"records": [...]}`` reading a chunk at a time.

    A record that cannot be decoded is reported — as what is wrong, at its line and column — and skipped (the
    decoder resynchronises at the next ``},{``); a file that ends before its closing ``]}`` is reported as
    truncated. A UTF-8 byte order mark (files saved by Windows tools) is accepted.
    """
    file = str(path)
    decoder = json.JSONDecoder()
    try:
        handle = io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", errors="replace")
    except InputError as exc:
        stats.problems.append(Problem(file, "file", exc.reason))
        return
    with handle:
        buffer = handle.read(_CHUNK)
        eof = len(buffer) < _CHUNK
        head = _RECORDS_HEAD.match(buffer)
        if head is None:
            if not eof:
                buffer += handle.read()
            yield from _records_of_whole_document(file, buffer, stats)
            return
        base, pos, index = 0, head.end(), 0
        lines = _Lines()  # line and column of the buffer's start, for error positions
        while True:
            pos = _SPACE.match(buffer, pos).end()  # type: ignore[union-attr]
            if pos >= len(buffer) - 1 and not eof:
                more = handle.read(_CHUNK)
                eof = len(more) < _CHUNK
                lines.skip(buffer[:pos])
                buffer, base, pos = buffer[pos:] + more, base + pos, 0
                continue
            if pos >= len(buffer):
                stats.problems.append(Problem(file, f"char {base + pos}", f"file is truncated after {index} records"))
                return
            if buffer[pos] == "]":
                return
            if buffer[pos] == "," and index > 0:
                pos += 1
                continue
            try:
                record, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if not eof:
                    more = handle.read(_CHUNK)
                    eof = len(more) < _CHUNK
                    lines.skip(buffer[:pos])
                    buffer, base, pos = buffer[pos:] + more, base + pos, 0
                    continue
                where = f"records[{index}] (char {base + pos})"
                stats.records += 1
                stats.malformed_records += 1
                if exc.pos >= len(buffer.rstrip()) or exc.msg.startswith("Unterminated string"):
                    stats.problems.append(Problem(file, where, f"file is truncated inside this record ({exc.msg})"))
                    return
                line, column = lines.at(buffer, exc.pos)
                stats.problems.append(
                    Problem(file, where, f"{_syntax_error(buffer, exc)} at line {line}, column {column}")
                )
                resync = _RESYNC.search(buffer, max(exc.pos, pos + 1))
                if resync is None:
                    return
                pos, index = resync.end() - 1, index + 1
                continue
            except (RecursionError, ValueError) as exc:  # nested too deep, or an integer too long to convert
                stats.records += 1
                stats.malformed_records += 1
                where = f"records[{index}] (char {base + pos})"
                stats.problems.append(Problem(file, where, f"malformed record: {_decode_failure(exc)}"))
                resync = _RESYNC.search(buffer, pos + 1)
                if resync is None:
                    return
                pos, index = resync.end() - 1, index + 1
                continue
            if _SURROGATE_ESCAPE.search(buffer, pos, end):
                record = _without_surrogates(record)
            yield f"records[{index}]", record
            index += 1
            pos = end
            if pos > _CHUNK:
                lines.skip(buffer[:pos])
                buffer, base, pos = buffer[pos:], base + pos, 0


class _Lines:
    """Where the current buffer starts in the file, as a line and a column (1-based)."""

    def __init__(self) -> None:
        self.line = 1
        self.column = 1

    def skip(self, text: str) -> None:
        newlines = text.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(text) - text.rfind("\n")
        else:
            self.column += len(text)

    def at(self, buffer: str, pos: int) -> tuple[int, int]:
        newlines = buffer.count("\n", 0, pos)
        if newlines:
            return self.line + newlines, pos - buffer.rfind("\n", 0, pos)
        return self.line, self.column + pos


_LIST_KEY = re.compile(r'"([^"\\]+)"\s*:\s*$')


def _syntax_error(text: str, exc: json.JSONDecodeError) -> str:
    """What a JSON syntax error is, in words a person fixing the file recognises (a trailing comma, mostly)."""
    before = text[: exc.pos].rstrip()
    if exc.msg.startswith("Expecting") and before.endswith(",") and text[exc.pos : exc.pos + 1] in ("]", "}"):
        opener = _opening_bracket(text, len(before) - 1)
        key = _LIST_KEY.search(text, 0, opener) if opener is not None else None
        inside = f" in {key.group(1)}" if key is not None else ""
        return f"trailing comma{inside}"
    return f"malformed JSON: {exc.msg}"


def _opening_bracket(text: str, pos: int) -> int | None:
    """The position of the ``[`` or ``{`` that encloses ``pos`` (strings skipped roughly: flow logs hold no
    brackets inside strings)."""
    depth = 0
    for i in range(pos, -1, -1):
        char = text[i]
        if char in "]}":
            depth += 1
        elif char in "[{":
            if depth == 0:
                return i
            depth -= 1
    return None


#: A JSON escape of a UTF-16 surrogate: decoded alone it is a string Arrow (UTF-8) cannot hold.
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89abcdefABCDEF]")


def _without_surrogates(record: Any) -> Any:
    """The record with lone surrogates replaced by U+FFFD (the value is then reported as malformed, if it must be
    an address or a letter, instead of failing the whole batch)."""
    try:
        text = json.dumps(record, ensure_ascii=False)
    except RecursionError:
        return None  # reported as a record that is not an object
    return json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def _decode_failure(exc: RecursionError | ValueError) -> str:
    """What a decoding failure other than a syntax error means: nesting too deep for the decoder, or an integer
    too long to convert (the reader walks records to a fixed depth, so no other limit is needed)."""
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    return f"an integer literal has more than {sys.get_int_max_str_digits()} digits"


def _records_of_whole_document(file: str, text: str, stats: ReadStats) -> Iterator[tuple[str, Any]]:
    """Files not starting with ``{"records": [`` (other key order, a bare list): decoded whole."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        what = _syntax_error(text, exc)
        where = f"at line {exc.lineno}, column {exc.colno}"
        stats.problems.append(Problem(file, f"char {exc.pos}", f"not a flow log file: {what} {where}"))
        return
    except (RecursionError, ValueError) as exc:
        stats.problems.append(Problem(file, "file", f"not a flow log file: {_decode_failure(exc)}"))
        return
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list):
        stats.problems.append(Problem(file, "file", "not a flow log file: no 'records' list"))
        return
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    for index, record in enumerate(records):
        yield f"records[{index}]", _without_surrogates(record) if surrogates else record
