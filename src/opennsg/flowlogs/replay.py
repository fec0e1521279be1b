"""Replay: every logged flow decided again against a proposed configuration, reporting the verdicts that change.

Tuples stream from the reader as integer keys (an IPv4 address is its number, a MAC and any other address text a
code; ``keys``), so no string is held per tuple; a sort by a hash of the keys then counts distinct flows (a flow's
B, C and E tuples count once per flow, with their number kept). Each flow belongs
to the NIC whose MAC is the record's (compared without separators, case-insensitively), else to the NIC holding its
local address. The compiled classifier then decides each NIC's flows in one vectorised call.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from opennsg.engine import PROTOCOL_NAMES, Engine
from opennsg.engine.compiled import INBOUND_CODE, OUTBOUND_CODE, Backend, FlowColumns, halves
from opennsg.flowlogs.formats import normalize_mac
from opennsg.flowlogs.keys import ALLOW_BIT, OUTBOUND_BIT, PORT_BITS, PROTOCOL_SHIFT, TEXT_KEY, TupleKeys, keys_of_batch
from opennsg.flowlogs.reader import ReadStats
from opennsg.model.topology import Topology

if TYPE_CHECKING:
    import pyarrow as pa

    from opennsg.engine.compiled import BatchVerdicts, CompiledPolicy

#: ``local``: Arrow and the compiled classifier in this process; ``spark``: the same classification in Spark tasks.
ReplayEngine = Literal["local", "spark"]
#: Below this many flows at a NIC, numba's first-call cost (~7 s measured) outweighs its speed over numpy's
#: (~0.5 µs a flow).
NUMBA_MIN_FLOWS = 5_000_000
#: NICs compiled ahead of the one whose flows are being decided.
DECIDING = 2

#: Tuples grouped at once: large enough that a log usually folds in one pass (no merge of partial counts), small
#: enough to bound memory (28 bytes a tuple, and about as much again while grouping).
FOLD_TUPLES = 1 << 21


@dataclass(frozen=True, slots=True)
class DistinctFlows:
    """The distinct flows of the logs, one row each: numpy columns, with the texts their codes stand for."""

    mac: npt.NDArray[np.int32]  # index into ``macs``
    src: npt.NDArray[np.uint64]  # address keys (``TEXT_KEY``)
    dst: npt.NDArray[np.uint64]
    src_port: npt.NDArray[np.int32]
    dst_port: npt.NDArray[np.int32]
    protocol: npt.NDArray[np.uint8]
    outbound: npt.NDArray[np.bool_]
    logged_allow: npt.NDArray[np.bool_]
    count: npt.NDArray[np.int64]  # tuples folded into the flow
    macs: tuple[str, ...]  # normalised MACs, by code
    texts: tuple[str, ...]  # address texts that are not IPv4, by key - TEXT_KEY

    def __len__(self) -> int:
        return int(self.count.size)

    @property
    def local(self) -> npt.NDArray[np.uint64]:
        """The NIC's end of each flow (the source of an outbound flow, else the destination)."""
        return np.where(self.outbound, self.src, self.dst)

    def address_text(self, key: int) -> str:
        """An address key as the log wrote it."""
        if key >= TEXT_KEY:
            return self.texts[key - TEXT_KEY]
        return f"{key >> 24}.{(key >> 16) & 255}.{(key >> 8) & 255}.{key & 255}"

    def columns(self, rows: npt.NDArray[np.intp] | None = None) -> FlowColumns:
        """The compiled classifier's input, of every flow or of ``rows`` (IPv6 texts parsed once each)."""
        at = slice(None) if rows is None else rows  # (a slice: views of the columns, no copy)
        src, dst, out = self.src[at], self.dst[at], self.outbound[at]
        src_port, dst_port, protocol = self.src_port[at], self.dst_port[at], self.protocol[at]
        src_v6, src_high, src_low = self._halves(src)
        dst_v6, dst_high, dst_low = self._halves(dst)
        return FlowColumns(
            direction=np.where(out, OUTBOUND_CODE, INBOUND_CODE).astype(np.uint8),
            protocol=protocol,
            local_v6=np.where(out, src_v6, dst_v6),
            local_high=np.where(out, src_high, dst_high),
            local_low=np.where(out, src_low, dst_low),
            local_port=np.where(out, src_port, dst_port).astype(np.int32),
            remote_v6=np.where(out, dst_v6, src_v6),
            remote_high=np.where(out, dst_high, src_high),
            remote_low=np.where(out, dst_low, src_low),
            remote_port=np.where(out, dst_port, src_port).astype(np.int32),
        )

    def _halves(
        self, keys: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        v6 = keys >= TEXT_KEY
        high = np.zeros(keys.size, dtype=np.uint64)
        low = np.where(v6, np.uint64(0), keys).astype(np.uint64)
        if v6.any():
            codes = (keys[v6] - np.uint64(TEXT_KEY)).astype(np.int64)
            distinct, inverse = np.unique(codes, return_inverse=True)
            parsed = [halves(int(ipaddress.ip_address(self.texts[code]))) for code in distinct.tolist()]
            high[v6] = np.array([h for h, _ in parsed], dtype=np.uint64)[inverse]
            low[v6] = np.array([lo for _, lo in parsed], dtype=np.uint64)[inverse]
        return v6, high, low


@dataclass(frozen=True, slots=True)
class ChangedFlow:
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    protocol: int
    direction: str
    logged_decision: str
    new_decision: str
    new_rule: str | None
    nic: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "srcIP": self.src_ip,
            "dstIP": self.dst_ip,
            "srcPort": self.src_port,
            "dstPort": self.dst_port,
            "protocol": PROTOCOL_NAMES.get(self.protocol, str(self.protocol)),
            "direction": self.direction,
            "loggedDecision": self.logged_decision,
            "newDecision": self.new_decision,
            "newRule": self.new_rule,
            "nic": self.nic,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    changed: tuple[ChangedFlow, ...]
    tuples: int
    flows: int
    unattributed_flows: int
    unattributed_tuples: int
    read: ReadStats

    @property
    def changed_tuples(self) -> int:
        return sum(c.count for c in self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": [c.to_json() for c in self.changed],
            "totals": {
                "tuples": self.tuples,
                "flows": self.flows,
                "changedFlows": len(self.changed),
                "changedTuples": self.changed_tuples,
                "allowToDeny": sum(1 for c in self.changed if c.new_decision == "Deny"),
                "denyToAllow": sum(1 for c in self.changed if c.new_decision == "Allow"),
                "unattributedFlows": self.unattributed_flows,
                "unattributedTuples": self.unattributed_tuples,
            },
            "read": self.read.to_json(),
        }


class _Folder:
    """Tuple keys (``keys.TupleKeys``, or reader batches made into them) gathered ``FOLD_TUPLES`` at a time and
    grouped; MAC and address texts get codes that stay the same across buckets (each bucket codes its own)."""

    def __init__(self) -> None:
        self.macs: dict[str, int] = {}
        self.texts: dict[str, int] = {}
        self.partials: list[_Grouped] = []
        #: The keys waiting to be grouped, ``FOLD_TUPLES`` rows per column filled up to ``pending_tuples`` (made
        #: with ``np.empty``: a page is resident only once written, and grouping reads them with no copy): packed
        #: in two words (``_packed``: half the memory, no packing when grouped) when the keys fit them, else the
        #: four columns.
        self.pending: list[npt.NDArray[Any]] = []
        self.packed = False
        self.pending_tuples = 0
        self.seen = 0

    def add(self, part: pa.RecordBatch | TupleKeys) -> None:
        keys = part if isinstance(part, TupleKeys) else keys_of_batch(part)
        rows = keys.num_rows
        self.seen += rows
        if not rows:
            return
        mac_codes = np.array([self.macs.setdefault(mac, len(self.macs)) for mac in keys.macs], dtype=np.int32)
        columns = (mac_codes[keys.mac], self._global(keys.src, keys.texts), self._global(keys.dst, keys.texts),
                   keys.rest)  # fmt: skip
        fits = _fit(columns)
        if self.pending_tuples + rows > FOLD_TUPLES or (self.packed and not fits):
            self._group_pending()  # (keys that do not fit two words after some that did: grouped apart)
        if rows >= FOLD_TUPLES:
            self.partials.append(_group_flows(columns, None))
            return
        if not self.pending_tuples:
            self.packed = fits
            added = _packed(columns) if fits else columns
            self.pending = [np.empty(FOLD_TUPLES, dtype=column.dtype) for column in added]
        else:
            added = _packed(columns) if self.packed else columns
        for pending, column in zip(self.pending, added, strict=True):
            pending[self.pending_tuples : self.pending_tuples + rows] = column
        self.pending_tuples += rows

    def _global(self, addresses: npt.NDArray[np.uint64], texts: tuple[str, ...]) -> npt.NDArray[np.uint64]:
        """A bucket's address keys with its text codes made the fold's."""
        if not texts:
            return addresses
        codes = np.array([TEXT_KEY + self.texts.setdefault(text, len(self.texts)) for text in texts], np.uint64)
        text = addresses >= np.uint64(TEXT_KEY)
        out = addresses.copy()
        out[text] = codes[(addresses[text] - np.uint64(TEXT_KEY)).astype(np.int64)]
        return out

    def _group_pending(self) -> None:
        if self.pending_tuples:
            pending = tuple(column[: self.pending_tuples] for column in self.pending)
            self.partials.append(_grouped_packed(pending, None) if self.packed else _group_flows(pending, None))
            self.pending_tuples = 0

    def flows(self) -> DistinctFlows:
        self._group_pending()
        self.pending = []
        if not self.partials:
            empty = np.zeros(0, dtype=np.uint64)
            grouped = _Grouped((np.zeros(0, dtype=np.int32), empty, empty, empty), np.zeros(0, dtype=np.int64))
        elif len(self.partials) == 1:
            grouped = self.partials[0]
        else:
            merged = tuple(np.concatenate(parts) for parts in zip(*(p.columns for p in self.partials), strict=True))
            grouped = _group_flows(merged, np.concatenate([p.count for p in self.partials]))
        mac, src, dst, rest = grouped.columns
        port_mask = np.uint64((1 << PORT_BITS) - 1)
        return DistinctFlows(
            mac=mac.astype(np.int32),
            src=src.astype(np.uint64),
            dst=dst.astype(np.uint64),
            src_port=(rest & port_mask).astype(np.int32),
            dst_port=((rest >> np.uint64(PORT_BITS)) & port_mask).astype(np.int32),
            protocol=((rest >> np.uint64(PROTOCOL_SHIFT)) & np.uint64(255)).astype(np.uint8),
            outbound=((rest >> np.uint64(OUTBOUND_BIT)) & np.uint64(1)).astype(bool),
            logged_allow=((rest >> np.uint64(ALLOW_BIT)) & np.uint64(1)).astype(bool),
            count=grouped.count,
            macs=tuple(self.macs),
            texts=tuple(self.texts),
        )


def fold(parts: Iterable[pa.RecordBatch | TupleKeys]) -> tuple[DistinctFlows, int]:
    """The distinct flows of tuple batches or keys (``FlowLogReader.flow_keys``) with how many tuples each had, and
    the number of tuples seen.

    Each batch becomes integer keys at once (its strings are dropped with it); they are grouped ``FOLD_TUPLES`` at
    a time, and only when a log needs several groupings are their partial counts merged.
    """
    folder = _Folder()
    for part in parts:
        folder.add(part)
    return folder.flows(), folder.seen


@dataclass(frozen=True, slots=True)
class _Grouped:
    """Distinct rows of key columns, with how many tuples each stands for."""

    columns: tuple[npt.NDArray[Any], ...]
    count: npt.NDArray[np.int64]


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _hashed(columns: tuple[npt.NDArray[Any], ...]) -> npt.NDArray[np.uint64]:
    """A 64-bit mix of each row's keys (equal rows hash alike; ``_group`` checks that unequal ones did not)."""
    mixed = np.zeros(columns[0].size, dtype=np.uint64)
    for column in columns:
        mixed ^= column.astype(np.uint64)
        mixed *= _MIX
        mixed ^= mixed >> np.uint64(29)
    return mixed


#: Rows per part of a partitioned hash sort (``_hash_order``): a part's sort stays inside the CPU's caches.
_PART_ROWS = 1 << 12


def _hash_order(mixed: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
    """An order sorting ``mixed`` (uniform 64-bit hashes), and the hashes in it: rows dealt into parts by their top
    bits with one radix pass (numpy's stable sort of 16-bit keys), then each part sorted apart (1 M rows: ~55 ms, one
    argsort ~100 ms)."""
    parts_bits = min(16, max(0, int(mixed.size // _PART_ROWS).bit_length() - 1))
    if parts_bits < 4:
        order = np.argsort(mixed)
        return order, mixed[order]
    top = (mixed >> np.uint64(64 - parts_bits)).astype(np.uint16)
    order = np.argsort(top, kind="stable")
    bounds = np.searchsorted(top[order], np.arange((1 << parts_bits) + 1)).tolist()
    del top
    in_parts = mixed[order]
    for start, end in pairwise(bounds):
        if end - start > 1:
            part_order = np.argsort(in_parts[start:end])
            order[start:end] = order[start:end][part_order]
            in_parts[start:end] = in_parts[start:end][part_order]
    return order, in_parts


def _ordered(columns: tuple[npt.NDArray[Any], ...], order: npt.NDArray[np.intp]) -> Iterator[npt.NDArray[Any]]:
    """Each column in ``order``, one at a time (so only one sorted copy is held)."""
    for column in columns:
        yield column[order]


def _prefix_order(mixed: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
    """An order sorting the hashes' top bits, and those bits in it: each hash's low bits replaced by its row number
    and the words sorted as values (numpy's vectorised sort: 1 M rows ~7 ms, where ordering them by ``argsort`` or
    ``_hash_order`` takes ~37 ms). Rows of one key stay together; rows of two keys whose hashes share their top bits
    are told apart by ``_runs``."""
    row_bits = np.uint64(max(1, (mixed.size - 1).bit_length()))
    words = (mixed >> row_bits) << row_bits
    words |= np.arange(mixed.size, dtype=np.uint64)
    words.sort()
    order = (words & ((np.uint64(1) << row_bits) - np.uint64(1))).astype(np.intp)
    return order, words >> row_bits


def _runs(
    columns: tuple[npt.NDArray[Any], ...], order: npt.NDArray[np.intp], ordered: npt.NDArray[np.uint64]
) -> npt.NDArray[np.bool_] | None:
    """Where each run of equal hashes (``ordered``: the hashes in ``order``) starts, or None if a run holds two
    different rows."""
    first = np.empty(order.size, dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    continued = ~first[1:]  # rows in the same hash run as the row before them: they must equal it
    if any(
        ((ordered_column[1:] != ordered_column[:-1]) & continued).any() for ordered_column in _ordered(columns, order)
    ):
        return None
    return first


def _group(columns: tuple[npt.NDArray[Any], ...], weights: npt.NDArray[np.int64] | None) -> _Grouped:
    """The distinct rows of the key columns and their counts (of rows, or sums of ``weights``).

    Rows are sorted by a hash of their keys (one integer sort, much faster than sorting four columns): its top bits
    first (``_prefix_order``), the whole hash if two different rows share them, and if any two different rows
    hashed alike, which the check sees, by the columns themselves.
    """
    size = columns[0].size
    if size == 0:
        return _Grouped(columns, np.zeros(0, dtype=np.int64))
    mixed = _hashed(columns)
    order, ordered = _prefix_order(mixed)
    first = _runs(columns, order, ordered)
    if first is None:
        order, ordered = _hash_order(mixed)
        first = _runs(columns, order, ordered)
    del ordered, mixed
    if first is None:
        order = np.lexsort(columns[::-1])
        first = np.zeros(size, dtype=bool)
        first[0] = True
        for column in columns:
            ordered_column = column[order]
            first[1:] |= ordered_column[1:] != ordered_column[:-1]
    starts = np.flatnonzero(first)
    leaders = order[starts]
    if weights is None:
        count = np.diff(np.append(starts, size)).astype(np.int64)
    else:
        count = np.add.reduceat(weights[order], starts).astype(np.int64)
    return _Grouped(tuple(column[leaders] for column in columns), count)


#: The fold's keys in two words when they fit: source and destination (IPv4, 32 bits each) in one, the rest's bits
#: (below ``ALLOW_BIT``'s next) and the MAC code above them in the other.
_MAC_SHIFT = ALLOW_BIT + 1
_MAC_CODES = 1 << (64 - _MAC_SHIFT)


def _fit(columns: tuple[npt.NDArray[Any], ...]) -> bool:
    """Whether the fold's columns (MAC code, source, destination, rest) fit two words: IPv4 ends, fewer than
    ``_MAC_CODES`` MACs."""
    mac, src, dst, rest = columns
    text = np.uint64(TEXT_KEY)
    return bool(
        mac.size
        and src.max() < text
        and dst.max() < text
        and mac.max() < _MAC_CODES
        and rest.max() < np.uint64(1 << _MAC_SHIFT)
    )


def _packed(columns: tuple[npt.NDArray[Any], ...]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The two words of columns that fit them: source and destination, and the rest with the MAC code above it."""
    mac, src, dst, rest = columns
    return (src << np.uint64(32)) | dst, rest | (mac.astype(np.uint64) << np.uint64(_MAC_SHIFT))


def _unpacked(words: tuple[npt.NDArray[Any], ...]) -> tuple[npt.NDArray[Any], ...]:
    """The fold's four columns of ``_packed`` words."""
    ends, tail = words
    low = np.uint64((1 << 32) - 1)
    return ((tail >> np.uint64(_MAC_SHIFT)).astype(np.int32), ends >> np.uint64(32), ends & low,
            tail & np.uint64((1 << _MAC_SHIFT) - 1))  # fmt: skip


def _grouped_packed(words: tuple[npt.NDArray[Any], ...], weights: npt.NDArray[np.int64] | None) -> _Grouped:
    """``_group`` of keys packed in two words, its rows unpacked into the fold's four columns."""
    grouped = _group(words, weights)
    return _Grouped(_unpacked(grouped.columns), grouped.count)


def _group_flows(columns: tuple[npt.NDArray[Any], ...], weights: npt.NDArray[np.int64] | None) -> _Grouped:
    """``_group`` of the fold's columns (MAC code, source, destination, rest) through two words identifying a row
    whenever the keys fit them (``_fit``): half the gathers of checking hash runs; the same groups and counts, in
    another order (which no result depends on: ``build_result`` orders changes)."""
    if not _fit(columns):
        return _group(columns, weights)
    return _grouped_packed(_packed(columns), weights)


def replay(
    topology: Topology,
    batches: Iterable[pa.RecordBatch | TupleKeys],
    read: ReadStats,
    *,
    engine: ReplayEngine = "local",
    spark_master: str | None = None,
    decide_with: Engine | None = None,
) -> ReplayResult:
    """Decide every logged flow against ``topology``; report those whose decision differs from the log.

    ``engine="spark"`` classifies inside Spark tasks on ``spark_master`` (``opennsg.flowlogs.spark``). Locally,
    ``decide_with`` is the Engine over ``topology`` to use (one holding NIC policies kept from an earlier run).
    """
    flows, tuples = fold(batches)
    if engine == "spark":
        from opennsg.flowlogs.spark import DEFAULT_MASTER, classify_with_spark

        return classify_with_spark(topology, flows, tuples, read, master=spark_master or DEFAULT_MASTER)
    return classify_flows(topology, flows, tuples, read, decide_with=decide_with)


def nic_index(topology: Topology) -> tuple[dict[str, str], dict[str, str]]:
    """NIC keys by normalised MAC and by private IP address."""
    by_mac: dict[str, str] = {}
    by_ip: dict[str, str] = {}
    for nic in topology.nics.values():
        if nic.mac_address:
            by_mac[normalize_mac(nic.mac_address)] = nic.key
        for cfg in nic.ip_configurations:
            if cfg.private_ip_address:
                by_ip[str(ipaddress.ip_address(cfg.private_ip_address.strip()))] = nic.key
    return by_mac, by_ip


def nic_codes(topology: Topology, flows: DistinctFlows) -> tuple[list[str], npt.NDArray[np.int32]]:
    """The NIC keys (sorted) and each flow's position among them, -1 where no NIC matches (MAC first, then
    local IP); integers compare much faster than the keys themselves."""
    by_mac, by_ip = nic_index(topology)
    keys = sorted({*by_mac.values(), *by_ip.values()})
    code_of = {key: code for code, key in enumerate(keys)}
    mac_nic = np.array([code_of[by_mac[mac]] if mac in by_mac else -1 for mac in flows.macs], dtype=np.int32)
    codes = mac_nic[flows.mac] if mac_nic.size else np.full(len(flows), -1, dtype=np.int32)
    text_code = {text: TEXT_KEY + i for i, text in enumerate(flows.texts)}
    address_keys: list[int] = []
    address_nics: list[int] = []
    for address, key in by_ip.items():
        found = text_code.get(address) if ":" in address else int(ipaddress.IPv4Address(address))
        if found is not None:
            address_keys.append(found)
            address_nics.append(code_of[key])
    unmatched = np.flatnonzero(codes < 0)
    if address_keys and unmatched.size:
        order = np.argsort(np.array(address_keys, dtype=np.uint64))
        known = np.array(address_keys, dtype=np.uint64)[order]
        known_nics = np.array(address_nics, dtype=np.int32)[order]
        local = flows.local[unmatched]
        at = np.minimum(np.searchsorted(known, local), known.size - 1)
        hit = known[at] == local
        codes[unmatched[hit]] = known_nics[at[hit]]
    return keys, codes


def _backend(flows: int) -> Backend:
    return "auto" if flows >= NUMBA_MIN_FLOWS else "numpy"


def classify_flows(
    topology: Topology, flows: DistinctFlows, tuples: int, read: ReadStats, *, decide_with: Engine | None = None
) -> ReplayResult:
    """Decide the distinct flows NIC by NIC with the compiled classifier and collect the changes.

    A NIC's flows are decided on a worker thread (numpy releases the GIL: their columns are made there, from its
    rows alone) while the next NIC's policy is resolved and compiled (pure Python) here; at most ``DECIDING`` NICs
    are compiled and not yet collected, which keeps memory in check when the logs span thousands of NICs.
    """
    keys, codes = nic_codes(topology, flows)
    engine = decide_with or Engine(topology)
    present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(keys))).tolist()  # in key order
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(keys) + 1))
    changes: list[Change] = []
    deciding: deque[tuple[CompiledPolicy, npt.NDArray[np.intp], Future[BatchVerdicts]]] = deque()

    def collect() -> None:
        compiled, index, pending = deciding.popleft()
        verdicts = pending.result()
        allow = verdicts.allow.astype(bool)
        for position in np.flatnonzero(allow != flows.logged_allow[index]):
            verdict = compiled.results[int(verdicts.result[position])]
            changes.append((int(index[position]), bool(allow[position]), verdict.log_rule_name))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow-verdicts") as pool:
        for code in present:
            compiled = engine.compile(topology.nics[keys[code]])
            index = order[bounds[code] : bounds[code + 1]]
            deciding.append((compiled, index, pool.submit(_decide, compiled, flows, index)))
            if len(deciding) > DECIDING:
                collect()
        while deciding:
            collect()
    return build_result(topology, flows, keys, codes, changes, tuples, read)


def _decide(compiled: CompiledPolicy, flows: DistinctFlows, rows: npt.NDArray[np.intp]) -> BatchVerdicts:
    return compiled.classify(flows.columns(rows), backend=_backend(rows.size))


Change = tuple[int, bool, str | None]
"""A flow whose decision changed: its row among the distinct flows, the new access (allow?) and rule."""


def build_result(
    topology: Topology,
    flows: DistinctFlows,
    keys: list[str],
    codes: npt.NDArray[np.int32],
    changes: Iterable[Change],
    tuples: int,
    read: ReadStats,
) -> ReplayResult:
    """The changes as ``ChangedFlow``s, in a total order (NIC, new rule, most tuples first, then the flow itself),
    so any way of deciding the flows (local, Spark slices) gives the same result."""
    unattributed = codes < 0
    changed = []
    for row, allow, rule in changes:
        changed.append(
            ChangedFlow(
                src_ip=flows.address_text(int(flows.src[row])),
                dst_ip=flows.address_text(int(flows.dst[row])),
                src_port=int(flows.src_port[row]),
                dst_port=int(flows.dst_port[row]),
                protocol=int(flows.protocol[row]),
                direction="Outbound" if flows.outbound[row] else "Inbound",
                logged_decision="Allow" if flows.logged_allow[row] else "Deny",
                new_decision="Allow" if allow else "Deny",
                new_rule=rule,
                nic=topology.nics[keys[int(codes[row])]].id,
                count=int(flows.count[row]),
            )
        )
    return ReplayResult(
        changed=tuple(sorted(changed, key=_change_order)),
        tuples=tuples,
        flows=len(flows),
        unattributed_flows=int(unattributed.sum()),
        unattributed_tuples=int(flows.count[unattributed].sum()),
        read=read,
    )


def _change_order(c: ChangedFlow) -> tuple[Any, ...]:
    return (c.nic, c.new_rule or "", -c.count, c.src_ip, c.src_port, c.dst_ip, c.dst_port, c.protocol, c.direction,
            c.logged_decision)  # fmt: skip


__all__ = ["ChangedFlow", "DistinctFlows", "ReplayResult", "build_result", "classify_flows", "fold", "replay"]
