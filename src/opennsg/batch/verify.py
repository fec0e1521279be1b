"""IP flow verify for whole files: rows grouped by NIC and decided by each NIC's compiled classifier.

Exit rule for the CLI: ``BatchSummary.exit_code`` is 2 when any row was bad (each bad row still has its own
``{"error": {...}}`` output row, in place), else 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import Progress

from opennsg.batch import parse
from opennsg.engine import Engine, FlowColumns, Verdict, halves
from opennsg.model.errors import OpenNsgError
from opennsg.model.topology import Topology
from opennsg.model.validation import Code
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
    _Check(Code.INVALID_JSON, "", "{value}"),
    _Check(Code.MISSING_REQUIRED_PROPERTY, parse.TARGET, "Each flow needs targetResourceId or targetNicResourceId."),
    _Check(Code.NETWORK_INTERFACE_NOT_FOUND, parse.TARGET, "{value}"),
    _Check(Code.INVALID_FLOW_DIRECTION, parse.DIRECTION, "'{value}' is not a direction (Inbound or Outbound)."),
    _Check(Code.INVALID_FLOW_PROTOCOL, parse.PROTOCOL, "'{value}' is not a protocol name or number."),
    _Check(Code.INVALID_IP_ADDRESS, parse.LOCAL_IP, "'{value}' is not an IP address."),
    _Check(Code.INVALID_PORT, parse.LOCAL_PORT, "'{value}' is not a port (0-65535 or '*')."),
    _Check(Code.INVALID_IP_ADDRESS, parse.REMOTE_IP, "'{value}' is not an IP address."),
    _Check(Code.INVALID_PORT, parse.REMOTE_PORT, "'{value}' is not a port (0-65535 or '*')."),
    _Check(Code.ADDRESS_FAMILY_MISMATCH, "", "Local and remote addresses are of different IP versions."),
    _Check(Code.IP_ADDRESS_NOT_ON_NIC, parse.LOCAL_IP, "{value} is not a private IP address of {nic}."),
)
_CHECK_INDEX = {(c.code, c.field): i + 1 for i, c in enumerate(_CHECKS)}


def _check(code: str, field: str) -> int:
    return _CHECK_INDEX[(code, field)]


class _Dictionary:
    """The distinct texts of a column: as stored (``raw``, for messages), and trimmed with null as "" (``values``,
    for parsing, one more entry at the end for null rows), parsed once. Parquet batches of one row group share
    their dictionary, so it is parsed once per row group."""

    def __init__(self, source: pa.Array) -> None:
        self.source = source
        self.raw = pc.cast(source, pa.string())
        self.values = pa.concat_arrays(
            [pc.fill_null(pc.utf8_trim_whitespace(self.raw), ""), pa.array([""], pa.string())]
        )
        self.parsed: list[npt.NDArray[Any]] | None = None

    def same(self, source: pa.Array) -> bool:
        """The same texts (pyarrow copies a row group's dictionary into each of its batches)."""
        return len(source) == len(self.source) and source.equals(self.source)


@dataclass(frozen=True, slots=True)
class _Field:
    """One column of a batch: its distinct texts and each row's index into them (``len(raw)`` for a null)."""

    dictionary: _Dictionary
    index: npt.NDArray[np.int64]

    @classmethod
    def of(cls, column: pa.Array, previous: _Dictionary | None) -> _Field:
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        same = previous is not None and previous.same(encoded.dictionary)
        dictionary = previous if same and previous is not None else _Dictionary(encoded.dictionary)
        indices = encoded.indices
        if indices.null_count == 0:
            index = indices.to_numpy().astype(np.int64)
        elif indices.null_count == len(indices):  # an absent column (targetNicResourceId, mostly)
            index = np.full(len(indices), len(dictionary.raw), dtype=np.int64)
        else:
            index = pc.fill_null(indices, len(dictionary.raw)).to_numpy().astype(np.int64)
        return cls(dictionary, index)

    @property
    def size(self) -> int:
        return len(self.dictionary.values)

    def text(self, k: int) -> str | None:
        raw = self.dictionary.raw
        return None if k >= len(raw) else raw[k].as_py()

    def names(self) -> list[str]:
        values: list[str] = self.dictionary.values.to_pylist()
        return values

    def parse(self, rows: npt.NDArray[np.intp], parser: Any) -> list[npt.NDArray[Any]]:
        """``parser`` over the distinct texts (vectorised, once per dictionary), gathered for ``rows``."""
        dictionary = self.dictionary
        if dictionary.parsed is None:
            dictionary.parsed = list(parser(dictionary.values))
        index = self.index[rows]
        return [part[index] for part in dictionary.parsed]


def _distinct_rows(
    indices: list[npt.NDArray[np.int64]], sizes: list[int]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(one row of each distinct combination of ``indices``, each row's combination number), by hashing: the
    indices are packed into one integer key (made dense again whenever the next field would overflow it)."""
    key = np.zeros(len(indices[0]), dtype=np.int64)
    bound = 1
    for index, size in zip(indices, sizes, strict=True):
        if bound * size >= 1 << 62:
            key, bound = _dense(key)
        key = key * size + index
        bound *= size
    inverse, count = _dense(key)
    representative = np.empty(count, dtype=np.intp)
    representative[inverse] = np.arange(inverse.size)
    return representative, inverse.astype(np.intp)


def _dense(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    encoded = pc.dictionary_encode(pa.array(key))
    return encoded.indices.to_numpy().astype(np.int64), len(encoded.dictionary)


@dataclass(slots=True)
class _Outcome:
    """Per input row: an index into the verdicts (-1 for a bad row) and into the problems (-1 for a good row)."""

    code: list[npt.NDArray[np.int32]]
    problem: list[npt.NDArray[np.int32]]

    def joined(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        if not self.code:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        return np.concatenate(self.code), np.concatenate(self.problem)


class FlowDecider:
    """Decides batch after batch, remembering what does not depend on the batch: resolved target names, each NIC's
    compiled classifier and own addresses, the verdicts and the distinct problems (code, message) met so far."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.nic_ids: list[str] = []
        self._names: dict[str, tuple[int, str]] = {}
        self._first_verdict: dict[str, int] = {}
        self.verdicts: list[Verdict] = []
        self.problems: list[tuple[str, str]] = []
        self._problem_index: dict[tuple[str, str], int] = {}
        self._dictionaries: dict[str, _Dictionary] = {}

    def _nic_index(self, nic_id: str) -> int:
        if nic_id not in self._first_verdict:
            self.nic_ids.append(nic_id)
            self._first_verdict[nic_id] = -1
        return self.nic_ids.index(nic_id)

    def _resolve(self, name: str | None) -> tuple[int, str]:
        """A target name/id → (NIC index, "") or (-1, Azure's message)."""
        if not name:
            return -1, ""
        found = self._names.get(name)
        if found is None:
            try:
                found = (self._nic_index(self.engine.nic(name).id), "")
            except OpenNsgError as exc:
                found = (-1, exc.errors[0].message)
            self._names[name] = found
        return found

    def problem(self, code: str, message: str) -> int:
        key = (code, message)
        found = self._problem_index.get(key)
        if found is None:
            found = self._problem_index[key] = len(self.problems)
            self.problems.append(key)
        return found

    def decide(self, raw: parse.RawFlows) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(verdict index, problem index) of every row of one batch.

        Rows with the same eight texts are the same question: each distinct row is checked and decided once, and
        its answer is given to all its rows (real files repeat flows).
        """
        if len(raw) == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        fields = {name: _Field.of(raw.columns[name], self._dictionaries.get(name)) for name in parse.FIELDS}
        self._dictionaries = {name: field.dictionary for name, field in fields.items()}
        rows, inverse = _distinct_rows([f.index for f in fields.values()], [f.size for f in fields.values()])
        kind, nic_of, details, parsed = self._check(fields, rows)
        code = np.full(rows.size, -1, dtype=np.int32)
        problem = np.full(rows.size, -1, dtype=np.int32)
        self._classify(parsed, kind, nic_of, code)
        for k in np.flatnonzero(kind).tolist():
            check = _CHECKS[int(kind[k]) - 1]
            value = details.get(k)
            if value is None and check.field:
                value = fields[check.field].text(int(fields[check.field].index[rows[k]]))
            nic = self.nic_ids[nic_of[k]] if nic_of[k] >= 0 else ""
            problem[k] = self.problem(check.code, check.message.format(value=value, nic=nic))
        row_code, row_problem = code[inverse], problem[inverse]
        for row, message in raw.unreadable.items():
            row_code[row] = -1
            row_problem[row] = self.problem(Code.INVALID_JSON, message)
        return row_code, row_problem

    def _check(
        self, fields: dict[str, _Field], rows: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64], dict[int, str], FlowColumns]:
        """The first problem of each distinct row (0: none), its NIC index (-1: none), free-text details, and the
        parsed flows (meaningful where there is no problem)."""
        kind = np.zeros(rows.size, dtype=np.int8)
        details: dict[int, str] = {}

        def mark(code: str, field: str, bad: npt.NDArray[np.bool_]) -> None:
            kind[(kind == 0) & bad] = _check(code, field)

        nic_of = self._targets(fields, rows, kind, details)
        columns: dict[str, list[npt.NDArray[Any]]] = {}
        for field, parser, code in (
            (parse.DIRECTION, parse.parse_direction, Code.INVALID_FLOW_DIRECTION),
            (parse.PROTOCOL, parse.parse_protocol, Code.INVALID_FLOW_PROTOCOL),
            (parse.LOCAL_IP, parse.parse_addresses, Code.INVALID_IP_ADDRESS),
            (parse.LOCAL_PORT, parse.parse_port, Code.INVALID_PORT),
            (parse.REMOTE_IP, parse.parse_addresses, Code.INVALID_IP_ADDRESS),
            (parse.REMOTE_PORT, parse.parse_port, Code.INVALID_PORT),
        ):
            *values, ok = fields[field].parse(rows, parser)
            mark(code, field, ~ok)
            columns[field] = values
        (direction,), (protocol,) = columns[parse.DIRECTION], columns[parse.PROTOCOL]
        local_v6, local_high, local_low = columns[parse.LOCAL_IP]
        remote_v6, remote_high, remote_low = columns[parse.REMOTE_IP]
        (local_port,), (remote_port,) = columns[parse.LOCAL_PORT], columns[parse.REMOTE_PORT]
        flows = FlowColumns(
            direction, protocol, local_v6, local_high, local_low, local_port, remote_v6, remote_high, remote_low,
            remote_port,
        )  # fmt: skip
        self._retarget_multi_nic_vms(fields, rows, nic_of, flows)
        mark(Code.ADDRESS_FAMILY_MISMATCH, "", local_v6 != remote_v6)
        return kind, nic_of, details, flows

    def _targets(
        self, fields: dict[str, _Field], rows: npt.NDArray[np.intp], kind: npt.NDArray[np.int8], details: dict[int, str]
    ) -> npt.NDArray[np.int64]:
        """Each distinct row's NIC (``targetNicResourceId``, else ``targetResourceId``), marking the unresolved."""
        by_nic, by_vm = fields[parse.TARGET_NIC], fields[parse.TARGET]
        nic_names: list[str] = by_nic.names()
        vm_names: list[str] = by_vm.names()
        nic_k, vm_k = by_nic.index[rows], by_vm.index[rows]
        use_nic = np.asarray([bool(n) for n in nic_names])[nic_k]
        missing = ~use_nic & np.asarray([not n for n in vm_names])[vm_k]
        kind[missing] = _check(Code.MISSING_REQUIRED_PROPERTY, parse.TARGET)
        nic_of = np.full(rows.size, -1, dtype=np.int64)
        for names, ks, chosen in ((nic_names, nic_k, use_nic), (vm_names, vm_k, ~use_nic & ~missing)):
            for k in np.unique(ks[chosen]).tolist():
                index, message = self._resolve(names[k])
                hit = chosen & (ks == k)
                nic_of[hit] = index
                if index < 0:
                    kind[hit] = _check(Code.NETWORK_INTERFACE_NOT_FOUND, parse.TARGET)
                    details.update(dict.fromkeys(np.flatnonzero(hit).tolist(), message))
        return nic_of

    def _retarget_multi_nic_vms(
        self, fields: dict[str, _Field], rows: npt.NDArray[np.intp], nic_of: npt.NDArray[np.int64], flows: FlowColumns
    ) -> None:
        """A VM target with several NICs (and no ``targetNicResourceId``) is verified at the NIC holding the row's
        local IP, as ``Engine.nic_for_flow`` does (semantics §8.1: Azure asks for the NIC only when it cannot tell)."""
        local_v6, local_high, local_low = flows.local_v6, flows.local_high, flows.local_low
        by_vm, by_nic = fields[parse.TARGET], fields[parse.TARGET_NIC]
        without_nic = np.asarray([not n for n in by_nic.names()])[by_nic.index[rows]]
        vm_k = by_vm.index[rows]
        vm_names: list[str] = by_vm.names()
        for k in np.unique(vm_k[without_nic]).tolist():
            name = vm_names[k]
            nics = self.engine.topology.vm_nics(name) if name else ()
            if len(nics) < 2:
                continue
            candidates = np.flatnonzero((vm_k == k) & without_nic)
            for nic in nics:
                for config in nic.ip_configurations:
                    address = parse_address(config.private_ip_address or "")
                    if address is None:
                        continue
                    value, v6 = int(address), address.version == 6
                    high, low = (np.uint64(half) for half in halves(value))
                    at = candidates
                    hit = at[(local_v6[at] == v6) & (local_high[at] == high) & (local_low[at] == low)]
                    if hit.size:
                        nic_of[hit] = self._nic_index(nic.id)

    def _classify(
        self,
        columns: FlowColumns,
        kind: npt.NDArray[np.int8],
        nic_of: npt.NDArray[np.int64],
        code: npt.NDArray[np.int32],
    ) -> None:
        """Decide the distinct rows without a problem, NIC by NIC (marking local IPs that are not the NIC's own)."""
        candidates = np.flatnonzero(kind == 0)
        for nic in np.unique(nic_of[candidates]).tolist():
            nic_id = self.nic_ids[nic]
            at = candidates[nic_of[candidates] == nic]
            compiled = self.engine.classifier(nic_id)
            part = columns.take(at)
            mine = compiled.owns(part)
            kind[at[~mine]] = _check(Code.IP_ADDRESS_NOT_ON_NIC, parse.LOCAL_IP)
            if self._first_verdict[nic_id] < 0:
                self._first_verdict[nic_id] = len(self.verdicts)
                self.verdicts.extend(compiled.results)
            decided = at[mine]
            if decided.size:
                result = compiled.classify(part.take(np.flatnonzero(mine))).result
                code[decided] = result.astype(np.int32) + self._first_verdict[nic_id]


@dataclass(frozen=True, slots=True)
class Decided:
    """The whole file's answers: per row an index into ``verdicts`` (-1: bad row) and into ``problems``."""

    code: npt.NDArray[np.int32]
    problem: npt.NDArray[np.int32]
    verdicts: list[Verdict]
    problems: list[tuple[str, str]]


def _decide_file(path: Path, engine: Engine, progress: Progress | None) -> Decided:
    try:
        return _decide_batches(parse.iter_flows(path), engine, progress, rows_hint(path))
    except parse.NotSimpleJson:
        return _decide_batches(iter([parse.read_json(path)]), engine, progress, None)


def rows_hint(path: Path) -> int | None:
    if parse.file_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _decide_batches(
    batches: Iterator[parse.RawFlows], engine: Engine, progress: Progress | None, total: int | None
) -> Decided:
    decider = FlowDecider(engine)
    outcome = _Outcome([], [])
    task = progress.add_task("deciding flows", total=total) if progress is not None else None
    for raw in _read_ahead(batches):
        code, problem = decider.decide(raw)
        outcome.code.append(code)
        outcome.problem.append(problem)
        if progress is not None and task is not None:
            progress.advance(task, len(raw))
    code, problem = outcome.joined()
    return Decided(code, problem, decider.verdicts, decider.problems)


def _read_ahead(batches: Iterator[parse.RawFlows]) -> Iterator[parse.RawFlows]:
    """The batches, the next one read on a worker thread while this one is decided (pyarrow's readers release the
    GIL); one batch ahead at most, so memory stays bounded. The reader's exceptions surface here, in order."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flows-reader") as pool:
        pending = pool.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            yield batch


#: Output rows built and written at a time (Parquet: one row group each, as ``pq.write_table`` makes them).
WRITE_ROWS = 1 << 20


def _verdict_columns(decided: Decided) -> dict[str, tuple[npt.NDArray[np.int32], pa.Array]]:
    """Per output column: each verdict's index into the column's distinct values (-1: absent), and those values."""
    values: dict[str, list[str | None]] = {
        "access": [v.access.value for v in decided.verdicts],
        "ruleName": [v.rule_name for v in decided.verdicts],
        "networkSecurityGroupId": [v.nsg_id for v in decided.verdicts],
        "appliedTo": [v.applied_to for v in decided.verdicts],
    }
    out: dict[str, tuple[npt.NDArray[np.int32], pa.Array]] = {}
    for name, column in values.items():
        present = sorted({v for v in column if v is not None})
        position = {v: k for k, v in enumerate(present)}
        of_verdict = np.asarray([position.get(v, -1) if v is not None else -1 for v in column] + [-1], dtype=np.int32)
        out[name] = (of_verdict, pa.array(present, pa.string()))
    return out


def _table_chunks(decided: Decided, dictionary: bool, nested: bool) -> Iterator[pa.Table]:
    """The output as tables of ``WRITE_ROWS`` rows: verdict columns (dictionary arrays over the distinct values
    when the writer keeps them, Parquet, so no per-row strings are built), and error columns when any row is bad."""
    columns = _verdict_columns(decided)
    with_errors = bool((decided.problem >= 0).any())
    codes = pa.array([c for c, _ in decided.problems], pa.string())
    messages = pa.array([m for _, m in decided.problems], pa.string())
    for start in range(0, max(len(decided.code), 1), WRITE_ROWS):
        code = decided.code[start : start + WRITE_ROWS]
        chunk: dict[str, pa.Array] = {}
        for name, (of_verdict, present) in columns.items():
            index = of_verdict[code]
            # Parquet cannot write a null inside a dictionary: absent values become null indices instead.
            encoded = pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0), present)
            chunk[name] = encoded if dictionary else encoded.dictionary_decode()
        table = pa.table(chunk)
        if with_errors:
            problem = decided.problem[start : start + WRITE_ROWS]
            which = pa.array(problem, mask=problem < 0)
            code_array, message_array = codes.take(which), messages.take(which)
            if nested:
                error = pa.StructArray.from_arrays(
                    [code_array, message_array], ["code", "message"], mask=pa.array(problem < 0)
                )
                table = table.append_column("error", error)
            else:
                table = table.append_column("errorCode", code_array).append_column("errorMessage", message_array)
        yield table


def _json_line(verdict: Verdict) -> str:
    body: dict[str, str] = {"access": verdict.access.value}
    if verdict.rule_name is not None:
        body["ruleName"] = verdict.rule_name
    if verdict.nsg_id is not None:
        body["networkSecurityGroupId"] = verdict.nsg_id
    if verdict.applied_to is not None:
        body["appliedTo"] = verdict.applied_to
    return json.dumps(body)


def _write_json(decided: Decided, out: Path | None) -> None:
    """JSON lines (stdout without a path), written in chunks: one verdict's or problem's line per row."""
    lines = np.asarray(
        [_json_line(v) for v in decided.verdicts]
        + [json.dumps({"error": {"code": c, "message": m}}) for c, m in decided.problems],
        dtype=object,
    )
    which = np.where(decided.code >= 0, decided.code, len(decided.verdicts) + decided.problem)
    handle = sys.stdout if out is None else out.open("w", encoding="utf-8")
    try:
        for start in range(0, len(which), WRITE_ROWS):
            handle.write("\n".join(lines[which[start : start + WRITE_ROWS]].tolist()) + "\n")
        handle.flush()
    finally:
        if out is not None:
            handle.close()


def _write_table(decided: Decided, out: Path, kind: str) -> None:
    parquet = kind == "parquet"
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    try:
        for table in _table_chunks(decided, dictionary=parquet, nested=parquet):
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema) if parquet else pacsv.CSVWriter(out, table.schema)
            if table.num_rows or len(decided.code) == 0:
                writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


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
    spark_master: str | None = None,
    disk_cache: bool | None = None,
) -> BatchSummary:
    """Decide every flow of ``input_path`` (JSON lines, CSV or Parquet, by extension) and write the verdicts.

    Output rows follow input order, in the output file's format (JSON lines on stdout without a path). A bad
    input row yields ``{"error": {"code", "message"}}`` in its place (Parquet: an ``error`` struct column, CSV:
    ``errorCode``/``errorMessage`` columns). Raises ValueError for an unknown file type; ``OSError`` and
    pyarrow errors for unreadable files. With ``spark_master`` the rows are decided by Spark tasks on that master
    (``opennsg.batch.spark``), with the same output. ``disk_cache`` is ``Engine``'s (compiled programs kept on
    disk for later runs; None: unless ``OPENNSG_NO_CACHE`` is set); it is ignored when ``engine`` is given.
    """
    started = time.perf_counter()
    out_format = parse.file_format(output_path) if output_path is not None else "json"
    parse.file_format(input_path)
    with _progress(progress and _large(input_path)) as bar:
        if spark_master is None:
            decided = _decide_file(input_path, engine or Engine(topology, disk_cache=disk_cache), bar)
        else:
            from opennsg.batch.spark import decide_file_on_spark

            decided = decide_file_on_spark(
                input_path, engine or Engine(topology, disk_cache=disk_cache), bar, spark_master
            )
    if out_format == "json":
        _write_json(decided, output_path)
    else:
        assert output_path is not None
        _write_table(decided, output_path, out_format)
    good = decided.code >= 0
    allow_codes = np.asarray([v.allowed for v in decided.verdicts] + [False], dtype=bool)
    allowed = int(allow_codes[decided.code[good]].sum())
    return BatchSummary(
        flows=len(decided.code),
        allowed=allowed,
        denied=int(good.sum()) - allowed,
        errors=int((~good).sum()),
        seconds=time.perf_counter() - started,
    )


def _large(path: Path) -> bool:
    """Worth a progress bar: ``PROGRESS_MIN_FLOWS`` rows (Parquet), or a text file that large (~100 bytes a row)."""
    hint = rows_hint(path) if path.is_file() else None
    if hint is not None:
        return hint >= PROGRESS_MIN_FLOWS
    return path.is_file() and path.stat().st_size >= PROGRESS_MIN_FLOWS * 100
