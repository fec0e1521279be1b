"""IP flow verify for whole files: rows grouped by NIC and decided by each NIC's compiled classifier.

Exit rule for the CLI: ``BatchSummary.exit_code`` is 2 when any row was bad (each bad row still has its own
``{"error": {...}}`` output row, in place), else 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from opennsg.batch import parse
from opennsg.engine import Engine, FlowColumns, Verdict, halves
from opennsg.model.errors import OpenNsgError
from opennsg.model.topology import Topology
from opennsg.model.validation import Code
from opennsg.model.values import parse_address

if TYPE_CHECKING:
    from rich.progress import Progress

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
        self.numbers: npt.NDArray[np.int64] | None = None  # ``_Numbering.of``, once per dictionary

    def same(self, source: pa.Array) -> bool:
        """The same texts (pyarrow copies a row group's dictionary into each of its batches)."""
        return len(source) == len(self.source) and source.equals(self.source)


@dataclass(frozen=True, slots=True)
class _Field:
    """One column of a batch: its distinct texts and each row's index into them (``len(raw)`` for a null)."""

    dictionary: _Dictionary
    index: npt.NDArray[np.integer[Any]]  # Arrow's own indices where it can (no copy): int32, or narrower

    @classmethod
    def of(cls, column: pa.Array, previous: _Dictionary | None) -> _Field:
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        same = previous is not None and previous.same(encoded.dictionary)
        dictionary = previous if same and previous is not None else _Dictionary(encoded.dictionary)
        indices = encoded.indices
        if indices.null_count == 0:
            index = indices.to_numpy()
        elif indices.null_count == len(indices):  # an absent column (targetNicResourceId, mostly)
            index = np.full(len(indices), len(dictionary.raw), dtype=np.int32)
        else:
            index = pc.fill_null(indices, len(dictionary.raw)).to_numpy()
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

    def parse_texts(self, parser: Any) -> list[npt.NDArray[Any]]:
        """``parser`` over the distinct texts (vectorised, once per dictionary)."""
        dictionary = self.dictionary
        if dictionary.parsed is None:
            dictionary.parsed = list(parser(dictionary.values))
        return dictionary.parsed

    def parse(self, rows: npt.NDArray[np.intp], parser: Any) -> list[npt.NDArray[Any]]:
        """``parse_texts``, gathered for ``rows``."""
        index = self.index[rows]
        return [part[index] for part in self.parse_texts(parser)]


#: The fields parsed from their texts: by which parser, and the code of a text it refuses.
_PARSERS: tuple[tuple[str, Callable[[pa.Array], tuple[npt.NDArray[Any], ...]], str], ...] = (
    (parse.DIRECTION, parse.parse_direction, Code.INVALID_FLOW_DIRECTION),
    (parse.PROTOCOL, parse.parse_protocol, Code.INVALID_FLOW_PROTOCOL),
    (parse.LOCAL_IP, parse.parse_addresses, Code.INVALID_IP_ADDRESS),
    (parse.LOCAL_PORT, parse.parse_port, Code.INVALID_PORT),
    (parse.REMOTE_IP, parse.parse_addresses, Code.INVALID_IP_ADDRESS),
    (parse.REMOTE_PORT, parse.parse_port, Code.INVALID_PORT),
)


class _Numbering:
    """A field's texts numbered across batches (0: null, then in order first seen): a row's numbers mean the same
    texts whatever batch, and so whatever dictionary, it came in."""

    def __init__(self) -> None:
        self.known = pa.array([], pa.string())

    @property
    def bound(self) -> int:
        """Every number so far is below it."""
        return len(self.known) + 1

    def of(self, dictionary: _Dictionary) -> npt.NDArray[np.int64]:
        """The number of each text of ``dictionary`` (its null slot last: 0), numbering the new ones."""
        if dictionary.numbers is None:
            raw = dictionary.raw
            found = pc.fill_null(pc.index_in(raw, value_set=self.known), -1).to_numpy(zero_copy_only=False)
            valid = raw.is_valid().to_numpy(zero_copy_only=False)
            numbers = np.where(valid, found.astype(np.int64) + 1, 0)
            new = (found < 0) & valid
            numbers[new] = self.bound + np.arange(np.count_nonzero(new))
            self.known = pa.concat_arrays([self.known, raw.filter(pa.array(new))])
            dictionary.numbers = np.append(numbers, 0)
        return dictionary.numbers


#: The memo stops remembering (and numbering texts) once it holds this many rows (72 bytes each) or its numberings
#: this many texts: a file of any size is still decided in bounded memory, and one whose rows rarely repeat stops
#: paying for the memo after a batch or two.
MEMO_ROWS = 1 << 17
MEMO_TEXTS = 1 << 19


class _Memo:
    """The answers (verdict index, problem index) of the distinct rows decided so far, by their texts' numbers
    packed into one integer (``_Numbering``; repacked when a field's numbers need more bits): a flow file repeats
    flows across batches too (the bench's 2 M flows: ~11,500 distinct in each batch of 262,144, 16,000 in all)."""

    def __init__(self, fields: int) -> None:
        self.numbers = [np.zeros(0, dtype=np.int64) for _ in range(fields)]
        self.code = np.zeros(0, dtype=np.int32)
        self.problem = np.zeros(0, dtype=np.int32)
        self._widths: list[int] = []
        self._keys = np.zeros(0, dtype=np.int64)  # sorted
        self._order = np.zeros(0, dtype=np.intp)  # entry of each sorted key

    def _pack(self, numbers: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
        key = np.zeros(len(numbers[0]), dtype=np.int64)
        for width, column in zip(self._widths, numbers, strict=True):
            key <<= width
            key |= column
        return key

    def find(
        self, numbers: list[npt.NDArray[np.int64]], bounds: list[int]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(found, verdict index, problem index) of each row of ``numbers`` (``bounds``: each field's
        ``_Numbering.bound``); nothing is found when the numbers do not fit in 63 bits."""
        widths = [int(b - 1).bit_length() for b in bounds]
        n = len(numbers[0])
        if not len(self.code) or sum(widths) > 63:
            return np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int32), np.full(n, -1, dtype=np.int32)
        if widths != self._widths:
            self._widths = widths
            keys = self._pack(self.numbers)
            self._order = np.argsort(keys, kind="stable")
            self._keys = keys[self._order]
        key = self._pack(numbers)
        at = np.minimum(np.searchsorted(self._keys, key), len(self._keys) - 1)
        found = self._keys[at] == key
        entry = self._order[at]
        return found, np.where(found, self.code[entry], -1), np.where(found, self.problem[entry], -1)

    def add(
        self, numbers: list[npt.NDArray[np.int64]], code: npt.NDArray[np.int32], problem: npt.NDArray[np.int32]
    ) -> None:
        """Remember the answers of rows not found (their keys are packed at the next ``find``)."""
        self.numbers = [np.concatenate([old, new]) for old, new in zip(self.numbers, numbers, strict=True)]
        self.code = np.concatenate([self.code, code])
        self.problem = np.concatenate([self.problem, problem])
        self._widths = []


def _distinct_rows(
    indices: list[npt.NDArray[np.integer[Any]]], sizes: list[int]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32]]:
    """(one row of each distinct combination of ``indices``, each row's combination number), by hashing: the
    indices are packed into one integer key, in place (made dense again whenever the next field would overflow
    it)."""
    key = np.zeros(len(indices[0]), dtype=np.int64)
    bound = 1
    for index, size in zip(indices, sizes, strict=True):
        if bound * size >= 1 << 62:
            dense, bound = _dense(key)
            key = dense.astype(np.int64)
        key *= size
        key += index
        bound *= size
    inverse, count = _dense(key)
    representative = np.empty(count, dtype=np.intp)
    representative[inverse] = np.arange(inverse.size)
    return representative, inverse


def _dense(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int32], int]:
    """Each key's number among the distinct keys (first seen first) and how many there are."""
    encoded = pc.dictionary_encode(pa.array(key))
    return encoded.indices.to_numpy(), len(encoded.dictionary)


@dataclass(frozen=True, slots=True)
class Batch:
    """A batch of rows with what depends on it alone: its fields, their texts parsed (once per dictionary) and its
    distinct rows (``_distinct_rows``); Parquet's are worked out on the reader's thread while the batch before is
    decided (``read_ahead``)."""

    raw: parse.RawFlows
    fields: dict[str, _Field]
    distinct: npt.NDArray[np.intp]
    inverse: npt.NDArray[np.int32]

    @classmethod
    def of(cls, raw: parse.RawFlows, previous: dict[str, _Dictionary]) -> Batch:
        """``raw``'s batch; ``previous``: the batch before's dictionaries (a row group's, repeated in each of its
        batches, stays one ``_Dictionary``, parsed once)."""
        if len(raw) == 0:
            return cls(raw, {}, np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32))
        fields = {name: _Field.of(raw.columns[name], previous.get(name)) for name in parse.FIELDS}
        for name, parser, _ in _PARSERS:
            fields[name].parse_texts(parser)
        distinct, inverse = _distinct_rows([f.index for f in fields.values()], [f.size for f in fields.values()])
        return cls(raw, fields, distinct, inverse)

    def __len__(self) -> int:
        return len(self.raw)


def batches(raws: Iterable[parse.RawFlows]) -> Iterator[Batch]:
    """Each of ``raws`` as a ``Batch``."""
    previous: dict[str, _Dictionary] = {}
    for raw in raws:
        batch = Batch.of(raw, previous)
        previous = {name: field.dictionary for name, field in batch.fields.items()}
        yield batch


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
        self._numberings = {name: _Numbering() for name in parse.FIELDS}
        self._memo = _Memo(len(parse.FIELDS))

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

    def decide(self, given: parse.RawFlows | Batch) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """(verdict index, problem index) of every row of one batch.

        Rows with the same eight texts are the same question: each distinct row is checked and decided once, in
        the first batch that has it, and its answer is given to all its rows (real files repeat flows).
        """
        batch = given if isinstance(given, Batch) else Batch.of(given, self._dictionaries)
        if len(batch) == 0:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        raw, fields, distinct, inverse = batch.raw, batch.fields, batch.distinct, batch.inverse
        self._dictionaries = {name: field.dictionary for name, field in fields.items()}
        remembering = len(self._memo.code) < MEMO_ROWS and sum(n.bound for n in self._numberings.values()) < MEMO_TEXTS
        if remembering:
            numbers = [self._numberings[name].of(f.dictionary)[f.index[distinct]] for name, f in fields.items()]
            known, code, problem = self._memo.find(numbers, [self._numberings[name].bound for name in fields])
        else:
            known = np.zeros(distinct.size, dtype=bool)
            code, problem = np.full(distinct.size, -1, dtype=np.int32), np.full(distinct.size, -1, dtype=np.int32)
        new = np.flatnonzero(~known)
        rows = distinct[new]
        kind, nic_of, details, parsed = self._check(fields, rows)
        new_code = np.full(rows.size, -1, dtype=np.int32)
        new_problem = np.full(rows.size, -1, dtype=np.int32)
        self._classify(parsed, kind, nic_of, new_code)
        for k in np.flatnonzero(kind).tolist():
            check = _CHECKS[int(kind[k]) - 1]
            value = details.get(k)
            if value is None and check.field:
                value = fields[check.field].text(int(fields[check.field].index[rows[k]]))
            nic = self.nic_ids[nic_of[k]] if nic_of[k] >= 0 else ""
            new_problem[k] = self.problem(check.code, check.message.format(value=value, nic=nic))
        code[new], problem[new] = new_code, new_problem
        if remembering:
            self._memo.add([column[new] for column in numbers], new_code, new_problem)
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
        for field, parser, code in _PARSERS:
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
    """The whole file's answers, batch by batch: per row an index into ``verdicts`` (-1: bad row) and into
    ``problems`` (-1: a good row). Kept as the batches' own arrays: joining 2 M rows' (``code``, ``problem``) cost
    ~10-20 ms after the last batch, and the summary is counted from the batches (``counts``)."""

    codes: list[npt.NDArray[np.int32]]
    problem_rows: list[npt.NDArray[np.int32]]
    verdicts: list[Verdict]
    problems: list[tuple[str, str]]

    @property
    def code(self) -> npt.NDArray[np.int32]:
        return np.concatenate(self.codes) if self.codes else np.zeros(0, dtype=np.int32)

    @property
    def problem(self) -> npt.NDArray[np.int32]:
        return np.concatenate(self.problem_rows) if self.problem_rows else np.zeros(0, dtype=np.int32)

    def counts(self) -> tuple[int, int, int]:
        """(rows, allowed, bad rows)."""
        per_code = np.zeros(len(self.verdicts) + 1, dtype=np.int64)  # bad rows first, then each verdict's
        for code in self.codes:
            per_code += np.bincount(code + 1, minlength=per_code.size)
        allow = np.asarray([False] + [v.allowed for v in self.verdicts], dtype=bool)
        return int(per_code.sum()), int(per_code[allow].sum()), int(per_code[0])


def _decide_file(
    path: Path, engine: Engine, progress: Progress | None, sink: _VerdictSink | None, reading: ReadAhead | None
) -> Decided:
    """Every row of ``path`` decided (and, with ``sink``, handed to it batch after batch: the careful JSON reader
    taking over from the columnar one starts the sink again)."""
    reading = reading or read_ahead(path)
    try:
        return _decide_batches(reading, engine, progress, rows_hint(path), sink)
    except parse.NotSimpleJson:
        if sink is not None:
            sink.restart()
        return _decide_batches([parse.read_json(path)], engine, progress, None, sink)
    finally:
        reading.close()


def rows_hint(path: Path) -> int | None:
    if parse.file_format(path) == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return None


def _decide_batches(
    reading: Iterable[parse.RawFlows | Batch],
    engine: Engine,
    progress: Progress | None,
    total: int | None,
    sink: _VerdictSink | None = None,
) -> Decided:
    decider = FlowDecider(engine)
    decided = Decided([], [], decider.verdicts, decider.problems)
    task = progress.add_task("deciding flows", total=total) if progress is not None else None
    for batch in reading:
        code, problem = decider.decide(batch)
        decided.codes.append(code)
        decided.problem_rows.append(problem)
        if sink is not None:
            sink.add(code, problem, decider.verdicts, decider.problems)
        if progress is not None and task is not None:
            progress.advance(task, len(batch))
    return decided


#: Batches read ahead of the one being decided, at most: 4 of ``parse.BATCH_ROWS`` rows are ~30 MB of Parquet's
#: dictionary indices (a command starting to read before it loads its inputs has them ready when it starts deciding).
READ_AHEAD = 4


class ReadAhead:
    """The batches of a flows file, read on a worker thread ``READ_AHEAD`` at most ahead of their consumer (pyarrow's
    readers release the GIL); with ``prepare``, each as a ``Batch`` worked out there too. The reader is made on the
    thread, so every error of opening or reading the file surfaces where the batches are taken, in order, as reading
    in the consumer's thread would raise it."""

    def __init__(self, raws: Callable[[], Iterator[parse.RawFlows]], *, prepare: bool) -> None:
        self._queue: queue.Queue[tuple[parse.RawFlows | Batch | None, BaseException | None]] = queue.Queue(READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(raws, prepare), name="flows-reader", daemon=True)
        self._thread.start()

    def _read(self, raws: Callable[[], Iterator[parse.RawFlows]], prepare: bool) -> None:
        try:
            for batch in batches(raws()) if prepare else raws():
                self._queue.put((batch, None))
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._queue.put((None, exc))
            return
        self._queue.put((None, None))

    def __iter__(self) -> Iterator[parse.RawFlows | Batch]:
        try:
            while True:
                batch, error = self._queue.get()
                if error is not None:
                    raise error
                if batch is None:
                    return
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading (a consumer that stops early, or never starts) and wait for the worker to end."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.01)  # a worker blocked on a full queue puts, sees the stop, ends
        self._thread.join()


def read_ahead(path: Path) -> ReadAhead:
    """``path``'s batches (``parse.iter_flows``) read from now on, for ``verify_flows_file(reading=...)``: a command
    starting this before it loads its inputs has the first batches read while they load. Parquet's are worked out
    on the reader's thread (Arrow decodes them, the thread has time to spare); those of text files by the deciding
    thread, since reading them is the slowest stage (2 M JSON lines: ~1.1 CPU-s reading, ~0.2 deciding)."""
    return ReadAhead(lambda: parse.iter_flows(path), prepare=path.suffix.lower() in parse.PARQUET_SUFFIXES)


#: Output rows built and written at a time (Parquet: one row group each). Chunks start at multiples of it whatever
#: the batches were, so the file does not depend on how rows were read. A batch's worth: the writer starts after
#: the first batch, and what is left to write once the last batch is decided is at most that (2 M flows: 1 Mi-row
#: chunks left ~0.1 CPU-s of writing after the last decision, on the critical path).
WRITE_ROWS = 1 << 18

_VERDICT_FIELDS: dict[str, Any] = {
    "access": lambda v: v.access.value,
    "ruleName": lambda v: v.rule_name,
    "networkSecurityGroupId": lambda v: v.nsg_id,
    "appliedTo": lambda v: v.applied_to,
}


def _verdict_columns(
    verdicts: Sequence[Verdict], used: npt.NDArray[np.intp]
) -> dict[str, tuple[npt.NDArray[np.int32], pa.Array]]:
    """Per output column: each verdict's index into the distinct values the ``used`` verdicts have (-1: absent or
    unused), and those values, sorted: a chunk's dictionaries depend only on its own rows."""
    out: dict[str, tuple[npt.NDArray[np.int32], pa.Array]] = {}
    chosen = [verdicts[k] for k in used.tolist()]
    for name, value_of in _VERDICT_FIELDS.items():
        values = [value_of(v) for v in chosen]
        present = sorted({v for v in values if v is not None})
        position = {v: k for k, v in enumerate(present)}
        of_verdict = np.full(len(verdicts) + 1, -1, dtype=np.int32)
        of_verdict[used] = [position.get(v, -1) if v is not None else -1 for v in values]
        out[name] = (of_verdict, pa.array(present, pa.string()))
    return out


def _chunk_table(
    code: npt.NDArray[np.int32],
    problem: npt.NDArray[np.int32],
    verdicts: Sequence[Verdict],
    problems: Sequence[tuple[str, str]],
    *,
    parquet: bool,
    with_errors: bool,
) -> pa.Table:
    """One chunk of output rows: verdict columns (dictionary arrays over the chunk's distinct values when the writer
    keeps them, Parquet, so no per-row strings are built), and error columns when the file has a bad row."""
    used = np.flatnonzero(np.bincount(code[code >= 0], minlength=len(verdicts)))
    chunk: dict[str, pa.Array] = {}
    for name, (of_verdict, present) in _verdict_columns(verdicts, used).items():
        index = of_verdict[code]
        # Parquet cannot write a null inside a dictionary: absent values become null indices instead.
        encoded = pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0), present)
        chunk[name] = encoded if parquet else encoded.dictionary_decode()
    table = pa.table(chunk)
    if with_errors:
        which = pa.array(problem, mask=problem < 0)
        code_array = pa.array([c for c, _ in problems], pa.string()).take(which)
        message_array = pa.array([m for _, m in problems], pa.string()).take(which)
        if parquet:
            error = pa.StructArray.from_arrays(
                [code_array, message_array], ["code", "message"], mask=pa.array(problem < 0)
            )
            table = table.append_column("error", error)
        else:
            table = table.append_column("errorCode", code_array).append_column("errorMessage", message_array)
    return table


def _json_line(verdict: Verdict) -> str:
    body: dict[str, str] = {"access": verdict.access.value}
    if verdict.rule_name is not None:
        body["ruleName"] = verdict.rule_name
    if verdict.nsg_id is not None:
        body["networkSecurityGroupId"] = verdict.nsg_id
    if verdict.applied_to is not None:
        body["appliedTo"] = verdict.applied_to
    return json.dumps(body)


class _JsonLines:
    """One verdict's or problem's line per row, each distinct line built once."""

    def __init__(self) -> None:
        self._verdict_lines: list[str] = []
        self._problem_lines: list[str] = []

    def text(
        self,
        code: npt.NDArray[np.int32],
        problem: npt.NDArray[np.int32],
        verdicts: Sequence[Verdict],
        problems: Sequence[tuple[str, str]],
    ) -> str:
        self._verdict_lines.extend(_json_line(v) for v in verdicts[len(self._verdict_lines) :])
        self._problem_lines.extend(
            json.dumps({"error": {"code": c, "message": m}}) for c, m in problems[len(self._problem_lines) :]
        )
        lines = np.asarray(self._verdict_lines + self._problem_lines, dtype=object)
        which = np.where(code >= 0, code, len(self._verdict_lines) + problem)
        return "\n".join(lines[which].tolist()) + "\n" if len(which) else ""


class _VerdictSink:
    """The verdicts file, written chunk by chunk on a worker thread while later rows are decided (pyarrow's writers
    release the GIL), into a temporary file renamed over ``out`` when the whole file is written (a failed run
    leaves no half-written file). Rows are kept (two int32 per row) until the end: the error columns exist only
    when some row is bad, so the first bad row after chunks were written starts the file again with them."""

    def __init__(self, out: Path, kind: str) -> None:
        self.out = out
        self.kind = kind
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verdicts-writer")
        self._pending: Future[None] | None = None
        self._temporary: Path | None = None
        self._writer: pq.ParquetWriter | Any | None = None
        self._text: Any = None
        self.restart()

    def restart(self) -> None:
        """Forget every row (the careful reader starts the file again)."""
        self._wait()
        self._close_writer()
        self._code: list[npt.NDArray[np.int32]] = []
        self._problem: list[npt.NDArray[np.int32]] = []
        self._rows = 0
        self._written = 0  # rows handed to the writer
        self._with_errors = False
        self._json = _JsonLines()

    def add(
        self,
        code: npt.NDArray[np.int32],
        problem: npt.NDArray[np.int32],
        verdicts: Sequence[Verdict],
        problems: Sequence[tuple[str, str]],
    ) -> None:
        """Rows decided; whole chunks of ``WRITE_ROWS`` are written on (``verdicts`` and ``problems`` only grow)."""
        self._code.append(code)
        self._problem.append(problem)
        self._rows += len(code)
        if not self._with_errors and bool((problem >= 0).any()) and self.kind != "json":
            self._with_errors = True
            if self._written:  # the columns so far had no error fields: write them again with
                self._wait()
                self._close_writer()
                self._written = 0
        while self._rows - self._written >= WRITE_ROWS:
            self._write_next(WRITE_ROWS, verdicts, problems)

    def finish(self, verdicts: Sequence[Verdict], problems: Sequence[tuple[str, str]]) -> None:
        """Write the remaining rows, close the file and put it in place."""
        try:
            while self._rows > self._written or (self._rows == 0 and self._writer is None):
                self._write_next(min(WRITE_ROWS, self._rows - self._written), verdicts, problems)
                if self._rows == 0:
                    break
            self._wait()
            self._close_writer()
            if self._temporary is not None:
                os.replace(self._temporary, self.out)
                self._temporary = None
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Stop, removing the temporary file (a failed run)."""
        with contextlib.suppress(Exception):
            self._wait()
        self._pool.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self._close_writer()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None

    def _rows_between(self, start: int, stop: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """Rows ``start:stop`` from the batches' own arrays (the deciding loop holds them too: no second copy)."""
        codes: list[npt.NDArray[np.int32]] = []
        problems: list[npt.NDArray[np.int32]] = []
        offset = 0
        for code, problem in zip(self._code, self._problem, strict=True):
            low, high = max(start - offset, 0), min(stop - offset, len(code))
            if low < high:
                codes.append(code[low:high])
                problems.append(problem[low:high])
            offset += len(code)
        if not codes:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
        return np.concatenate(codes), np.concatenate(problems)

    def _write_next(self, rows: int, verdicts: Sequence[Verdict], problems: Sequence[tuple[str, str]]) -> None:
        code, problem = self._rows_between(self._written, self._written + rows)
        self._written += rows
        # built here, by the deciding thread, which has time to spare; the worker only encodes and writes (building
        # there too made it the slowest of the three threads: 2 M verdicts, ~0.05 of its ~0.17 CPU-s)
        chunk: str | pa.Table
        if self.kind == "json":
            chunk = self._json.text(code, problem, verdicts, problems)
        else:
            parquet = self.kind == "parquet"
            chunk = _chunk_table(code, problem, verdicts, problems, parquet=parquet, with_errors=self._with_errors)
        self._wait()
        self._pending = self._pool.submit(self._write, chunk)

    def _write(self, chunk: str | pa.Table) -> None:
        if self._temporary is None:
            self._temporary = self.out.with_name(f".{self.out.name}.{os.getpid()}.{id(self):x}.tmp")
        if isinstance(chunk, str):
            if self._text is None:
                self._text = self._temporary.open("w", encoding="utf-8")
            self._text.write(chunk)
            return
        table = chunk
        if self._writer is None:
            # no column statistics (min/max per page and row group): of verdict columns with a handful of values they
            # prune nothing, and computing them was a quarter of the write (2 M verdicts: 0.13-0.16 -> 0.09-0.10
            # CPU-s); without them, rows taken 1,024 at a time (pyarrow's default) cost what 65,536 did
            self._writer = (
                pq.ParquetWriter(self._temporary, table.schema, write_statistics=False)
                if self.kind == "parquet"
                else _csv_writer(self._temporary, table)
            )
        self._writer.write_table(table)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        text, self._text = self._text, None
        if writer is not None:
            writer.close()
        if text is not None:
            text.close()


def _csv_writer(path: Path, table: pa.Table) -> Any:
    import pyarrow.csv as pacsv

    return pacsv.CSVWriter(path, table.schema)


def _write_stdout(decided: Decided) -> None:
    """JSON lines on stdout, once every row is decided (the careful reader may start again: nothing is printed
    twice)."""
    text = _JsonLines()
    for start in range(0, len(decided.code), WRITE_ROWS):
        stop = start + WRITE_ROWS
        sys.stdout.write(text.text(decided.code[start:stop], decided.problem[start:stop], decided.verdicts,
                                   decided.problems))  # fmt: skip
    sys.stdout.flush()


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A progress bar on stderr (callers ask for one only when it is a terminal: a pipe or a log gets none, and
    pays for none)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

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
    reading: ReadAhead | None = None,
) -> BatchSummary:
    """Decide every flow of ``input_path`` (JSON lines, CSV or Parquet, by extension) and write the verdicts.

    Output rows follow input order, in the output file's format (JSON lines on stdout without a path). A bad
    input row yields ``{"error": {"code", "message"}}`` in its place (Parquet: an ``error`` struct column, CSV:
    ``errorCode``/``errorMessage`` columns). Raises ValueError for an unknown file type; ``OSError`` and
    pyarrow errors for unreadable files. With ``spark_master`` the rows are decided by Spark tasks on that master
    (``opennsg.batch.spark``), with the same output. ``disk_cache`` is ``Engine``'s (compiled programs kept on
    disk for later runs; None: unless ``OPENNSG_NO_CACHE`` is set); it is ignored when ``engine`` is given.
    ``reading``: ``read_ahead(input_path)``, started by the caller (it is closed here whatever happens).
    """
    started = time.perf_counter()
    out_format = parse.file_format(output_path) if output_path is not None else "json"
    parse.file_format(input_path)
    engine = engine or Engine(topology, disk_cache=disk_cache)
    sink = _VerdictSink(output_path, out_format) if output_path is not None else None
    try:
        with _progress(progress and sys.stderr.isatty() and _large(input_path)) as bar:
            if spark_master is None:
                decided = _decide_file(input_path, engine, bar, sink, reading)
            else:
                from opennsg.batch.spark import decide_file_on_spark

                decided = decide_file_on_spark(input_path, engine, bar, spark_master)
                if sink is not None:
                    sink.add(decided.code, decided.problem, decided.verdicts, decided.problems)
        if sink is not None:
            sink.finish(decided.verdicts, decided.problems)
        else:
            _write_stdout(decided)
    finally:
        if reading is not None:
            reading.close()
        if sink is not None:
            sink.abandon()
    flows, allowed, errors = decided.counts()
    return BatchSummary(
        flows=flows,
        allowed=allowed,
        denied=flows - errors - allowed,
        errors=errors,
        seconds=time.perf_counter() - started,
    )


def _large(path: Path) -> bool:
    """Worth a progress bar: ``PROGRESS_MIN_FLOWS`` rows (Parquet), or a text file that large (~100 bytes a row)."""
    hint = rows_hint(path) if path.is_file() else None
    if hint is not None:
        return hint >= PROGRESS_MIN_FLOWS
    return path.is_file() and path.stat().st_size >= PROGRESS_MIN_FLOWS * 100
