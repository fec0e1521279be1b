"""Flow logs in: NSG v1/v2 and VNet flow log files, streamed into Arrow batches (spec §9).

Files are decoded record by record (``{"records": [...]}`` is never loaded whole), tuples are parsed in bulk
by Arrow's CSV reader, and every problem — a truncated file, a malformed record, a bad tuple — is reported
with its file and position. Nothing is dropped silently and no input makes the reader crash.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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

#: Columns of every batch the reader yields (one row per flow tuple).
SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("format", pa.string()),
        ("resource_id", pa.string()),
        ("acl_id", pa.string()),
        ("mac", pa.string()),
        ("rule", pa.string()),
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
_IP = rf"(?:{_IPV4}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)"
_PORT = r"(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]?\d{1,4})"
_HEAD = rf"\d{{1,13}},{_IP},{_IP},{_PORT},{_PORT}"
_TUPLE_PATTERNS = {
    LogFormat.NSG_V1: rf"^{_HEAD},(?:T|U|\d{{1,3}}),[IO],[AD]$",
    LogFormat.NSG_V2: rf"^{_HEAD},(?:T|U|\d{{1,3}}),[IO],[AD],[BCE],\d*,\d*,\d*,\d*$",
    LogFormat.VNET: rf"^{_HEAD},\d{{1,3}},[IO],[BCED],(?:{'|'.join(sorted(ENCRYPTION_VALUES))}),\d*,\d*,\d*,\d*$",
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
_BATCH_TUPLES = 1 << 20


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
    """Every ``*.json`` under the given directories (sorted, so output is reproducible) and the files given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found


class FlowLogReader:
    """Streams flow log files as Arrow record batches of ``SCHEMA``; ``stats`` fills in as batches are read."""

    def __init__(self, paths: Iterable[Path], batch_tuples: int = _BATCH_TUPLES) -> None:
        self.files = flow_log_files(paths)
        self.batch_tuples = batch_tuples
        self.stats = ReadStats()

    def batches(self) -> Iterator[pa.RecordBatch]:
        buckets = {fmt: _Bucket(fmt) for fmt in LogFormat}
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
                        yield from self._flush(bucket)
                        buckets[fmt] = _Bucket(fmt)
        for bucket in buckets.values():
            yield from self._flush(bucket)

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
                if not isinstance(mac, str) or not _string_list(tuples):
                    self._problem(file, inner, "flows entry lacks 'mac' or a list of string 'flowTuples'")
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
                if not isinstance(rule, str) or not _string_list(tuples):
                    self._problem(file, inner, "flow group lacks 'rule' or a list of string 'flowTuples'")
                    continue
                assert isinstance(tuples, list)
                group = _Group(file, f"{inner}.flowTuples", LogFormat.VNET, resource_id, acl, normalize_mac(mac), rule)
                buckets[LogFormat.VNET].add(group, tuples)

    # --- tuples --------------------------------------------------------------------------------

    def _flush(self, bucket: _Bucket) -> Iterator[pa.RecordBatch]:
        if not bucket.tuples:
            return
        group_ids = np.repeat(np.arange(len(bucket.groups), dtype=np.int32), bucket.counts)
        lines = bucket.tuples
        texts = pa.array(lines, pa.string())
        valid = pc.and_(pc.match_substring_regex(texts, _TUPLE_PATTERNS[bucket.fmt]), _ipv6_valid(texts))
        if not pc.all(valid).as_py():
            self._report_bad_tuples(bucket, texts, valid, group_ids)
            mask = valid.to_numpy(zero_copy_only=False)
            lines = [line for line, ok in zip(lines, mask, strict=True) if ok]
            group_ids = group_ids[mask]
        self.stats.tuples += len(lines)
        if lines:
            yield _parse_tuples(bucket.fmt, lines, group_ids, bucket.groups)

    def _report_bad_tuples(self, bucket: _Bucket, texts: pa.Array, valid: pa.Array, group_ids: np.ndarray) -> None:
        starts = np.concatenate(([0], np.cumsum(bucket.counts)[:-1]))
        for row in np.flatnonzero(~valid.to_numpy(zero_copy_only=False)):
            group = bucket.groups[int(group_ids[row])]
            index = int(row - starts[group_ids[row]])
            self.stats.malformed_tuples += 1
            self.stats.problems.append(
                Problem(group.file, f"{group.position}[{index}]", f"malformed {bucket.fmt.value} tuple {texts[row]}")
            )


def _string_list(value: Any) -> bool:
    return isinstance(value, list) and all(type(item) is str for item in value)


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


def _parse_tuples(fmt: LogFormat, lines: list[str], group_ids: np.ndarray, groups: list[_Group]) -> pa.RecordBatch:
    """Validated tuple strings of one format into a batch: Arrow's CSV reader splits and converts them."""
    names = _FIELDS[fmt]
    types = {name: pa.string() for name in names}
    types.update({"ts": pa.int64(), "src_port": pa.int32(), "dst_port": pa.int32()})
    types.update({name: pa.int64() for name in _COUNTERS if name in names})
    raw = pa.BufferReader("\n".join(lines).encode())
    table = pacsv.read_csv(
        raw,
        read_options=pacsv.ReadOptions(column_names=list(names), block_size=1 << 24),
        parse_options=pacsv.ParseOptions(quote_char=False, double_quote=False, escape_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    rows = table.num_rows
    ids = pa.array(group_ids)
    protocol_text = table["protocol"]
    if fmt is not LogFormat.VNET:
        for letter, number in LETTER_PROTOCOLS.items():
            protocol_text = pc.replace_substring(protocol_text, letter, str(number))
    millis = table["ts"] if fmt is LogFormat.VNET else pc.multiply(table["ts"], 1000)
    decision = pc.if_else(pc.equal(table["state"], "D"), "D", "A") if fmt is LogFormat.VNET else table["decision"]
    nulls_text = pa.nulls(rows, pa.string())
    nulls_int = pa.nulls(rows, pa.int64())
    columns = {
        "file": _take([g.file for g in groups], ids),
        "format": pa.array([fmt.value] * rows, pa.string()),
        "resource_id": _take([g.resource_id for g in groups], ids),
        "acl_id": _take([g.acl_id for g in groups], ids),
        "mac": _take([g.mac for g in groups], ids),
        "rule": _take([g.rule for g in groups], ids),
        "time": pc.cast(millis, pa.timestamp("ms", tz="UTC")),
        "src_ip": table["src_ip"],
        "dst_ip": table["dst_ip"],
        "src_port": table["src_port"],
        "dst_port": table["dst_port"],
        "protocol": pc.cast(protocol_text, pa.int16()),
        "direction": table["direction"],
        "decision": decision,
        "state": table["state"] if "state" in names else nulls_text,
        "encryption": table["encryption"] if "encryption" in names else nulls_text,
    }
    for name in _COUNTERS:
        columns[name] = table[name] if name in names else nulls_int
    arrays = [_one_chunk(columns[f.name]).cast(f.type) for f in SCHEMA]
    return pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)


def _take(values: list[str], ids: pa.Array) -> pa.Array:
    return pa.array(values, pa.string()).take(ids)


def _one_chunk(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _iter_records(path: Path, stats: ReadStats) -> Iterator[tuple[str, Any]]:
    """Yield ``(position, record)`` from ``{"records": [...]}`` reading a chunk at a time.

    A record that cannot be decoded is reported and skipped (the decoder resynchronises at the next
    ``},{``); a file that ends before its closing ``]}`` is reported as truncated.
    """
    file = str(path)
    decoder = json.JSONDecoder()
    try:
        handle = path.open("r", encoding="utf-8", errors="replace")
    except OSError as exc:
        stats.problems.append(Problem(file, "file", f"cannot read: {exc.strerror}"))
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
        while True:
            pos = _SPACE.match(buffer, pos).end()  # type: ignore[union-attr]
            if pos >= len(buffer) - 1 and not eof:
                more = handle.read(_CHUNK)
                eof = len(more) < _CHUNK
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
                    buffer, base, pos = buffer[pos:] + more, base + pos, 0
                    continue
                where = f"records[{index}] (char {base + pos})"
                resync = _RESYNC.search(buffer, max(exc.pos, pos + 1))
                if resync is None:
                    stats.problems.append(Problem(file, where, f"file is truncated inside this record ({exc.msg})"))
                    stats.records += 1
                    stats.malformed_records += 1
                    return
                stats.problems.append(Problem(file, where, f"malformed JSON: {exc.msg}"))
                stats.records += 1
                stats.malformed_records += 1
                pos, index = resync.end() - 1, index + 1
                continue
            yield f"records[{index}]", record
            index += 1
            pos = end
            if pos > _CHUNK:
                buffer, base, pos = buffer[pos:], base + pos, 0


def _records_of_whole_document(file: str, text: str, stats: ReadStats) -> Iterator[tuple[str, Any]]:
    """Files not starting with ``{"records": [`` (other key order, a bare list): decoded whole."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        stats.problems.append(Problem(file, f"char {exc.pos}", f"not a flow log file: {exc.msg}"))
        return
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list):
        stats.problems.append(Problem(file, "file", "not a flow log file: no 'records' list"))
        return
    for index, record in enumerate(records):
        yield f"records[{index}]", record
