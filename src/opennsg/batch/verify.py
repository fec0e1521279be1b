"""IP flow verify for whole files: rows grouped by NIC and decided by each NIC's compiled classifier.

Exit rule for the CLI: ``BatchSummary.exit_code`` is 2 when any row was bad (each bad row still has its own
``{"error": {...}}`` output row, in place), else 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import Progress

from opennsg.batch import parse
from opennsg.engine import Engine
from opennsg.engine.compiled import FlowColumns, get_compiled
from opennsg.engine.compiled.kernels import addresses_in
from opennsg.engine.compiled.tables import AddressTable
from opennsg.engine.ir import Verdict
from opennsg.model.errors import OpenNsgError
from opennsg.model.topology import Topology
from opennsg.model.values import parse_address

#: Files with at least this many rows show a progress bar (when asked for).
PROGRESS_MIN_FLOWS = 200_000
OUTPUT_FIELDS = ("access", "ruleName", "networkSecurityGroupId", "appliedTo")


@dataclass(frozen=True, slots=True)
class BatchSummary:
    flows: int
    allowed: int
    denied: int
    errors: int
    seconds: float

    @property
    def exit_code(self) -> int:
        """2 when any row was bad, else 0."""
        return 2 if self.errors else 0

    def to_json(self) -> dict[str, int | float]:
        return {
            "flows": self.flows,
            "allowed": self.allowed,
            "denied": self.denied,
            "errors": self.errors,
            "seconds": round(self.seconds, 6),
        }


@dataclass(frozen=True, slots=True)
class _Check:
    code: str
    field: str
    message: str  # formatted with the row's value of ``field``


_CHECKS = (
    _Check("InvalidJson", "", "{value}"),
    _Check("MissingRequiredProperty", parse.TARGET, "Each flow needs targetResourceId or targetNicResourceId."),
    _Check("NetworkInterfaceNotFound", parse.TARGET, "{value}"),
    _Check("InvalidDirection", parse.DIRECTION, "'{value}' is not a direction (Inbound or Outbound)."),
    _Check("InvalidProtocol", parse.PROTOCOL, "'{value}' is not a protocol name or number."),
    _Check("InvalidIpAddress", parse.LOCAL_IP, "'{value}' is not an IP address."),
    _Check("InvalidPort", parse.LOCAL_PORT, "'{value}' is not a port (0-65535 or '*')."),
    _Check("InvalidIpAddress", parse.REMOTE_IP, "'{value}' is not an IP address."),
    _Check("InvalidPort", parse.REMOTE_PORT, "'{value}' is not a port (0-65535 or '*')."),
    _Check("AddressFamilyMismatch", "", "Local and remote addresses are of different IP versions."),
    _Check("IpAddressNotOnNetworkInterface", parse.LOCAL_IP, "{value} is not a private IP address of {nic}."),
)
_CHECK_INDEX = {(c.code, c.field): i + 1 for i, c in enumerate(_CHECKS)}


class _Errors:
    """The first problem of every row, as an index into ``_CHECKS`` (0: none) plus free-text details."""

    def __init__(self, n: int) -> None:
        self.kind = np.zeros(n, dtype=np.int8)
        self.detail: dict[int, str] = {}

    def mark(self, code: str, field: str, bad: npt.NDArray[np.bool_]) -> None:
        self.kind[(self.kind == 0) & bad] = _CHECK_INDEX[(code, field)]

    def mark_rows(self, code: str, field: str, rows: npt.NDArray[np.intp], detail: dict[int, str]) -> None:
        fresh = rows[self.kind[rows] == 0]
        self.kind[fresh] = _CHECK_INDEX[(code, field)]
        for row in fresh.tolist():
            if row in detail:
                self.detail[row] = detail[row]

    def rows(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.kind)

    def error(self, row: int, raw: parse.RawFlows, nic_names: dict[int, str]) -> dict[str, str]:
        check = _CHECKS[int(self.kind[row]) - 1]
        value = self.detail.get(row)
        if value is None and check.field:
            value = raw.columns[check.field][row].as_py()
        return {"code": check.code, "message": check.message.format(value=value, nic=nic_names.get(row, ""))}


def _resolve_names(names: list[str], engine: Engine, nic_ids: list[str]) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each distinct target name/id → index into ``nic_ids`` (appending new NICs), or -1 with the error message."""
    resolved = np.full(len(names), -1, dtype=np.int64)
    messages = [""] * len(names)
    for k, name in enumerate(names):
        if not name:
            continue
        try:
            nic_id = engine.nic(name).id
        except OpenNsgError as exc:
            messages[k] = exc.errors[0].message
            continue
        if nic_id not in nic_ids:
            nic_ids.append(nic_id)
        resolved[k] = nic_ids.index(nic_id)
    return resolved, messages


def _targets(raw: parse.RawFlows, engine: Engine, errors: _Errors) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Each row's NIC (``targetNicResourceId``, else ``targetResourceId``) as an index into the returned NIC ids
    (-1 when unresolved)."""
    nic_ids: list[str] = []
    by_nic = parse.encode(raw.columns[parse.TARGET_NIC])
    by_vm = parse.encode(raw.columns[parse.TARGET])
    nic_names: list[str] = by_nic.values.to_pylist()
    vm_names: list[str] = by_vm.values.to_pylist()
    nic_resolved, nic_messages = _resolve_names(nic_names, engine, nic_ids)
    vm_resolved, vm_messages = _resolve_names(vm_names, engine, nic_ids)
    use_nic = (np.asarray([bool(n) for n in nic_names]))[by_nic.index]
    missing = ~use_nic & np.asarray([not n for n in vm_names])[by_vm.index]
    errors.mark("MissingRequiredProperty", parse.TARGET, missing)
    nic_of_row = np.where(use_nic, nic_resolved[by_nic.index], vm_resolved[by_vm.index])
    bad_rows = np.flatnonzero((nic_of_row < 0) & ~missing)
    details = {int(r): nic_messages[by_nic.index[r]] if use_nic[r] else vm_messages[by_vm.index[r]] for r in bad_rows}
    errors.mark_rows("NetworkInterfaceNotFound", parse.TARGET, bad_rows, details)
    return nic_of_row, nic_ids


def _retarget_multi_nic_vms(
    raw: parse.RawFlows,
    engine: Engine,
    nic_of_row: npt.NDArray[np.int64],
    nic_ids: list[str],
    local: tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
) -> None:
    """A VM target with several NICs (and no ``targetNicResourceId``) is verified at the NIC holding the row's local
    IP, as ``Engine.nic_for_flow`` does (semantics §8.1: Azure asks for the NIC only when it cannot tell)."""
    local_v6, local_high, local_low = local
    by_vm = parse.encode(raw.columns[parse.TARGET])
    by_nic = parse.encode(raw.columns[parse.TARGET_NIC])
    without_nic = np.asarray([not n for n in by_nic.values.to_pylist()])[by_nic.index]
    for k, name in enumerate(by_vm.values.to_pylist()):
        nics = engine.topology.vm_nics(name) if name else ()
        if len(nics) < 2:
            continue
        rows = np.flatnonzero((by_vm.index == k) & without_nic)
        for nic in nics:
            for config in nic.ip_configurations:
                address = parse_address(config.private_ip_address or "")
                if address is None:
                    continue
                value, v6 = int(address), address.version == 6
                high, low = np.uint64(value >> 64 if v6 else 0), np.uint64(value & ((1 << 64) - 1))
                hit = rows[(local_v6[rows] == v6) & (local_high[rows] == high) & (local_low[rows] == low)]
                if hit.size:
                    if nic.id not in nic_ids:
                        nic_ids.append(nic.id)
                    nic_of_row[hit] = nic_ids.index(nic.id)


@dataclass(frozen=True, slots=True)
class _Decided:
    """Per row, an index into ``verdicts`` (-1 for error rows)."""

    code: npt.NDArray[np.int64]
    verdicts: list[Verdict]
    errors: _Errors
    nic_names: dict[int, str]


def _decide(raw: parse.RawFlows, engine: Engine, progress: Progress | None) -> _Decided:
    n = len(raw)
    errors = _Errors(n)
    errors.mark_rows("InvalidJson", "", np.asarray(sorted(raw.unreadable), dtype=np.intp), raw.unreadable)
    nic_of_row, nic_ids = _targets(raw, engine, errors)
    encoded = {field: parse.encode(raw.columns[field]) for field in parse.FIELDS[2:]}

    def parsed(field: str, parser: Any) -> Any:
        column = encoded[field]
        return [part[column.index] for part in parser(column.values)]

    direction, direction_ok = parsed(parse.DIRECTION, parse.parse_direction)
    errors.mark("InvalidDirection", parse.DIRECTION, ~direction_ok)
    protocol, protocol_ok = parsed(parse.PROTOCOL, parse.parse_protocol)
    errors.mark("InvalidProtocol", parse.PROTOCOL, ~protocol_ok)
    local_v6, local_high, local_low, local_ok = parsed(parse.LOCAL_IP, parse.parse_addresses)
    errors.mark("InvalidIpAddress", parse.LOCAL_IP, ~local_ok)
    _retarget_multi_nic_vms(raw, engine, nic_of_row, nic_ids, (local_v6, local_high, local_low))
    local_port, local_port_ok = parsed(parse.LOCAL_PORT, parse.parse_port)
    errors.mark("InvalidPort", parse.LOCAL_PORT, ~local_port_ok)
    remote_v6, remote_high, remote_low, remote_ok = parsed(parse.REMOTE_IP, parse.parse_addresses)
    errors.mark("InvalidIpAddress", parse.REMOTE_IP, ~remote_ok)
    remote_port, remote_port_ok = parsed(parse.REMOTE_PORT, parse.parse_port)
    errors.mark("InvalidPort", parse.REMOTE_PORT, ~remote_port_ok)
    errors.mark("AddressFamilyMismatch", "", local_v6 != remote_v6)
    columns = FlowColumns(
        direction,
        protocol,
        local_v6,
        local_high,
        local_low,
        local_port,
        remote_v6,
        remote_high,
        remote_low,
        remote_port,
    )
    code = np.full(n, -1, dtype=np.int64)
    verdicts: list[Verdict] = []
    nic_names: dict[int, str] = {}
    candidates = np.flatnonzero(errors.kind == 0)
    order = candidates[np.argsort(nic_of_row[candidates], kind="stable")]
    groups = np.split(order, np.flatnonzero(np.diff(nic_of_row[order])) + 1) if order.size else []
    task = progress.add_task("deciding flows", total=len(order)) if progress else None
    flow_key = _flow_keys(encoded)
    for rows in groups:
        nic_id = nic_ids[int(nic_of_row[rows[0]])]
        policy = engine.policy(nic_id)
        # Real files repeat flows: decide each distinct flow once (rows with equal field texts are equal flows).
        first, inverse = _distinct(flow_key[rows])
        part = columns.take(rows[first])
        own = addresses_in(
            AddressTable.build([(0, policy.local_addresses)], 1), part.local_v6, part.local_high, part.local_low
        )
        foreign = rows[~own[inverse]]
        errors.mark_rows("IpAddressNotOnNetworkInterface", parse.LOCAL_IP, foreign, {})
        nic_names.update(dict.fromkeys(foreign.tolist(), nic_id))
        compiled = get_compiled(policy)
        distinct_code = np.full(len(first), -1, dtype=np.int64)
        distinct_code[own] = compiled.classify(part.take(np.flatnonzero(own))).result.astype(np.int64) + len(verdicts)
        keep = own[inverse]
        code[rows[keep]] = distinct_code[inverse][keep]
        verdicts.extend(compiled.results)
        if progress is not None and task is not None:
            progress.advance(task, len(rows))
    return _Decided(code, verdicts, errors, nic_names)


def _flow_keys(encoded: dict[str, parse.Encoded]) -> npt.NDArray[np.int64] | npt.NDArray[np.void]:
    """One key per row that is equal exactly when the rows' flow fields are the same texts: the fields' indices into
    their distinct values, packed into one integer when they fit (else one fixed-size record per row)."""
    fields = parse.FIELDS[2:]
    sizes = [len(encoded[f].values) for f in fields]
    if np.prod(np.asarray(sizes, dtype=np.float64)) < 2.0**62:
        key = np.zeros(len(encoded[fields[0]].index), dtype=np.int64)
        for field, size in zip(fields, sizes, strict=True):
            key = key * size + encoded[field].index.astype(np.int64)
        return key
    stacked = np.ascontiguousarray(np.stack([encoded[f].index.astype(np.int64) for f in fields], axis=1))
    return stacked.view(np.dtype((np.void, stacked.dtype.itemsize * len(fields)))).ravel()


def _distinct(keys: npt.NDArray[Any]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(position of each distinct key's first row, each row's distinct key number)."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first.astype(np.intp), inverse.reshape(-1).astype(np.intp)


def _verdict_table(decided: _Decided, dictionary: bool) -> pa.Table:
    """Output columns for the non-error rows (null elsewhere); as dictionary arrays over the distinct verdicts
    when the writer keeps them (Parquet), so no per-row strings are built."""
    values: dict[str, list[str | None]] = {
        "access": [v.access.value for v in decided.verdicts],
        "ruleName": [v.rule_name for v in decided.verdicts],
        "networkSecurityGroupId": [v.nsg_id for v in decided.verdicts],
        "appliedTo": [v.applied_to for v in decided.verdicts],
    }
    columns: dict[str, pa.Array] = {}
    for name, column in values.items():
        present = sorted({v for v in column if v is not None})
        position = {v: k for k, v in enumerate(present)}
        # Parquet cannot write a null inside a dictionary: absent values become null indices instead.
        of_verdict = np.asarray([position.get(v, -1) if v is not None else -1 for v in column] + [-1], dtype=np.int32)
        index = of_verdict[decided.code]
        encoded = pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0), pa.array(present, pa.string()))
        columns[name] = encoded if dictionary else encoded.dictionary_decode()
    return pa.table(columns)


def _error_list(decided: _Decided, raw: parse.RawFlows) -> dict[int, dict[str, str]]:
    return {int(r): decided.errors.error(int(r), raw, decided.nic_names) for r in decided.errors.rows()}


def _json_line(verdict: Verdict) -> str:
    body: dict[str, str] = {"access": verdict.access.value}
    if verdict.rule_name is not None:
        body["ruleName"] = verdict.rule_name
    if verdict.nsg_id is not None:
        body["networkSecurityGroupId"] = verdict.nsg_id
    if verdict.applied_to is not None:
        body["appliedTo"] = verdict.applied_to
    return json.dumps(body)


def _write_json(decided: _Decided, errors: dict[int, dict[str, str]], out: Path | None) -> None:
    lines = np.asarray([_json_line(v) for v in decided.verdicts] + [""], dtype=object)[decided.code]
    for row, error in errors.items():
        lines[row] = json.dumps({"error": error})
    text = "\n".join(lines.tolist()) + ("\n" if lines.size else "")
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out.write_text(text, encoding="utf-8")


def _with_errors(table: pa.Table, errors: dict[int, dict[str, str]], nested: bool) -> pa.Table:
    if not errors:
        return table
    codes: list[str | None] = [None] * table.num_rows
    messages: list[str | None] = [None] * table.num_rows
    for row, error in errors.items():
        codes[row], messages[row] = error["code"], error["message"]
    code_array, message_array = pa.array(codes, pa.string()), pa.array(messages, pa.string())
    if nested:
        mask = pa.array([c is None for c in codes])
        error_column = pa.StructArray.from_arrays([code_array, message_array], ["code", "message"], mask=mask)
        return table.append_column("error", error_column)
    return table.append_column("errorCode", code_array).append_column("errorMessage", message_array)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    with Progress(console=Console(stderr=True), transient=True) as bar:
        yield bar


def verify_flows_file(
    topology: Topology,
    input_path: Path,
    output_path: Path | None,
    *,
    progress: bool,
    engine: Engine | None = None,
) -> BatchSummary:
    """Decide every flow of ``input_path`` (JSON lines, CSV or Parquet, by extension) and write the verdicts.

    Output rows follow input order, in the output file's format (JSON lines on stdout without a path). A bad
    input row yields ``{"error": {"code", "message"}}`` in its place (Parquet: an ``error`` struct column, CSV:
    ``errorCode``/``errorMessage`` columns). Raises ValueError for an unknown file type; ``OSError`` and
    pyarrow errors for unreadable files.
    """
    started = time.perf_counter()
    out_format = parse.file_format(output_path) if output_path is not None else "json"
    raw = parse.read_flows(input_path)
    with _progress(progress and len(raw) >= PROGRESS_MIN_FLOWS) as bar:
        decided = _decide(raw, engine or Engine(topology), bar)
    errors = _error_list(decided, raw)
    if out_format == "json":
        _write_json(decided, errors, output_path)
    else:
        parquet = out_format == "parquet"
        table = _with_errors(_verdict_table(decided, dictionary=parquet), errors, nested=parquet)
        assert output_path is not None
        if parquet:
            pq.write_table(table, output_path)
        else:
            pacsv.write_csv(table, output_path)
    good = decided.code >= 0
    allow_codes = np.asarray([v.allowed for v in decided.verdicts] + [False], dtype=bool)
    allowed = int(allow_codes[decided.code[good]].sum())
    return BatchSummary(
        flows=len(raw),
        allowed=allowed,
        denied=int(good.sum()) - allowed,
        errors=len(errors),
        seconds=time.perf_counter() - started,
    )
