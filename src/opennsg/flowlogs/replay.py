"""Replay: every logged flow decided again against a proposed configuration, reporting the verdicts that change.

Tuples stream from the reader into Arrow's hash aggregation, which folds them into distinct flows per NIC (a
flow's B, C and E tuples count once per flow, with their number kept). Each flow belongs to the NIC whose MAC is
the record's (compared without separators, case-insensitively), else to the NIC holding its local address. The
compiled classifier then decides each NIC's flows in one vectorised call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from opennsg.engine import PROTOCOL_NAMES, Engine
from opennsg.engine.compiled import INBOUND_CODE, OUTBOUND_CODE, Backend, FlowColumns, halves
from opennsg.flowlogs.formats import normalize_mac
from opennsg.flowlogs.reader import SCHEMA, ReadStats
from opennsg.model.topology import Topology

#: ``local``: Arrow and the compiled classifier in this process; ``spark``: the same classification in Spark tasks.
ReplayEngine = Literal["local", "spark"]
#: Below this many flows at a NIC, numba's first-call cost (~7 s measured) outweighs its speed over numpy's
#: (~0.5 µs a flow).
NUMBA_MIN_FLOWS = 5_000_000
COMPILE_AHEAD = 32

#: What makes two tuples the same flow (a flow's B, C and E tuples share all of it).
FLOW_KEYS = ("mac", "direction", "protocol", "src_ip", "dst_ip", "src_port", "dst_port", "decision")
#: Tuples grouped in one Arrow aggregation: large enough that a log usually folds in one pass (no merge of partial
#: counts), small enough to bound memory (about 100 bytes a tuple).
FOLD_TUPLES = 1 << 21
_KEY_SCHEMA = pa.schema([SCHEMA.field(name) for name in FLOW_KEYS])
#: The distinct flows: their keys (the MAC as plain text), the NIC's end of the flow and the number of tuples.
FLOW_SCHEMA = pa.schema(
    [pa.field(name, pa.string() if name == "mac" else SCHEMA.field(name).type) for name in FLOW_KEYS]
    + [pa.field("local_ip", pa.string()), pa.field("n", pa.int64())]
)


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


def fold(batches: Iterable[pa.RecordBatch]) -> tuple[pa.Table, int]:
    """The distinct flows of the tuple batches with how many tuples each had, and the number of tuples seen.

    Batches are grouped ``FOLD_TUPLES`` at a time by Arrow's hash aggregation (measured faster than a DuckDB
    GROUP BY here: no copy of the strings into another engine); only when a log needs several groupings are
    their partial counts merged. ``local_ip`` (the NIC's end of the flow) is added once flows are distinct.
    """
    partials: list[pa.Table] = []
    pending: list[pa.RecordBatch] = []
    pending_tuples = seen = 0
    for batch in batches:
        seen += batch.num_rows
        pending.append(batch.select(list(FLOW_KEYS)))
        pending_tuples += batch.num_rows
        if pending_tuples >= FOLD_TUPLES:
            partials.append(_group(pa.Table.from_batches(pending, schema=_KEY_SCHEMA), "count_all"))
            pending, pending_tuples = [], 0
    if pending or not partials:
        partials.append(_group(pa.Table.from_batches(pending, schema=_KEY_SCHEMA), "count_all"))
    flows = partials[0] if len(partials) == 1 else _group(pa.concat_tables(partials), "sum")
    columns = [pc.cast(flows["mac"], pa.string())] + [flows[name] for name in FLOW_KEYS[1:]]
    local_ip = pc.if_else(pc.equal(flows["direction"], "O"), flows["src_ip"], flows["dst_ip"])
    return pa.Table.from_arrays([*columns, local_ip, flows["n"]], schema=FLOW_SCHEMA), seen


def _group(table: pa.Table, counting: Literal["count_all", "sum"]) -> pa.Table:
    """Distinct flow keys and ``n``, their tuple count (``count_all`` of tuples, or ``sum`` of partial counts)."""
    table = table.unify_dictionaries()  # batches of different formats or files label MACs differently
    if counting == "count_all":
        grouped = table.group_by(list(FLOW_KEYS)).aggregate([([], "count_all")])
        count = grouped["count_all"]
    else:
        grouped = table.group_by(list(FLOW_KEYS)).aggregate([("n", "sum")])
        count = grouped["n_sum"]
    return pa.Table.from_arrays([grouped[name] for name in FLOW_KEYS] + [count], names=[*FLOW_KEYS, "n"])


def replay(
    topology: Topology,
    batches: Iterable[pa.RecordBatch],
    read: ReadStats,
    *,
    engine: ReplayEngine = "local",
    spark_master: str | None = None,
) -> ReplayResult:
    """Decide every logged flow against ``topology``; report those whose decision differs from the log.

    ``engine="spark"`` classifies inside Spark tasks on ``spark_master`` (``opennsg.flowlogs.spark``).
    """
    flows, tuples = fold(batches)
    if engine == "spark":
        from opennsg.flowlogs.spark import DEFAULT_MASTER, classify_with_spark

        return classify_with_spark(topology, flows, tuples, read, master=spark_master or DEFAULT_MASTER)
    return classify_flows(topology, flows, tuples, read)


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


def attribute(topology: Topology, flows: pa.Table) -> npt.NDArray[np.object_]:
    """The NIC key of every flow (MAC first, then local IP); empty string where no NIC matches."""
    keys, codes = nic_codes(topology, flows)
    return np.array([*keys, ""], dtype=object)[codes]  # code -1 (no NIC) picks the trailing ""


def nic_codes(topology: Topology, flows: pa.Table) -> tuple[list[str], npt.NDArray[np.int32]]:
    """The NIC keys (sorted) and each flow's position among them, -1 where no NIC matches (MAC first, then
    local IP); integers compare much faster than the keys themselves."""
    by_mac, by_ip = nic_index(topology)
    keys = sorted({*by_mac.values(), *by_ip.values()})
    code_of = {key: code for code, key in enumerate(keys)}
    codes = np.full(flows.num_rows, -1, dtype=np.int32)
    for column, index in (("mac", by_mac), ("local_ip", by_ip)):
        if not index:
            continue
        found = pc.index_in(flows[column], value_set=pa.array(list(index), pa.string()))
        positions = np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        index_codes = np.array([code_of[key] for key in index.values()], dtype=np.int32)
        hit = (positions >= 0) & (codes < 0)
        codes[hit] = index_codes[positions[hit]]
    return keys, codes


def flow_columns(flows: pa.Table) -> FlowColumns:
    """The compiled classifier's input from distinct-flow rows (IPv4 vectorised, IPv6 one by one)."""
    outbound = np.asarray(pc.equal(flows["direction"], "O").to_numpy(zero_copy_only=False), dtype=bool)
    src_port = flows["src_port"].to_numpy(zero_copy_only=False).astype(np.int32)
    dst_port = flows["dst_port"].to_numpy(zero_copy_only=False).astype(np.int32)
    src_v6, src_hi, src_lo = _addresses(flows["src_ip"])
    dst_v6, dst_hi, dst_lo = _addresses(flows["dst_ip"])
    return FlowColumns(
        direction=np.where(outbound, OUTBOUND_CODE, INBOUND_CODE).astype(np.uint8),
        protocol=flows["protocol"].to_numpy(zero_copy_only=False).astype(np.uint8),
        local_v6=np.where(outbound, src_v6, dst_v6),
        local_high=np.where(outbound, src_hi, dst_hi),
        local_low=np.where(outbound, src_lo, dst_lo),
        local_port=np.where(outbound, src_port, dst_port).astype(np.int32),
        remote_v6=np.where(outbound, dst_v6, src_v6),
        remote_high=np.where(outbound, dst_hi, src_hi),
        remote_low=np.where(outbound, dst_lo, src_lo),
        remote_port=np.where(outbound, dst_port, src_port).astype(np.int32),
    )


def _addresses(
    column: pa.ChunkedArray | pa.Array,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """(is IPv6, high, low) per row: IPv4 split into octets by Arrow in bulk, the (rarer) IPv6 one by one."""
    texts = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    v6 = np.asarray(pc.match_substring(texts, ":").to_numpy(zero_copy_only=False), dtype=bool)
    high = np.zeros(len(texts), dtype=np.uint64)
    low = np.zeros(len(texts), dtype=np.uint64)
    v4_rows = np.flatnonzero(~v6)
    if v4_rows.size:
        v4 = texts.take(pa.array(v4_rows)) if v6.any() else texts
        octets = pc.cast(pc.list_flatten(pc.split_pattern(v4, ".")), pa.uint16()).to_numpy().reshape(-1, 4)
        octets = octets.astype(np.uint64)
        low[v4_rows] = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    for row in np.flatnonzero(v6).tolist():
        value = int(ipaddress.ip_address(texts[row].as_py()))
        high[row], low[row] = halves(value)
    return v6, high, low


def _backend(flows: int) -> Backend:
    return "auto" if flows >= NUMBA_MIN_FLOWS else "numpy"


def classify_flows(topology: Topology, flows: pa.Table, tuples: int, read: ReadStats) -> ReplayResult:
    """Decide the distinct flows NIC by NIC with the compiled classifier and collect the changes.

    The classifier's input columns are built on a worker thread (Arrow and numpy release the GIL) while the
    first ``COMPILE_AHEAD`` NICs' policies are resolved and compiled (pure Python) here; the bound keeps
    memory in check when the logs span thousands of NICs.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flow-columns") as pool:
        pending_columns = pool.submit(flow_columns, flows)
        keys, codes = nic_codes(topology, flows)
        engine = Engine(topology)
        present = np.unique(codes[codes >= 0]).tolist()  # in key order
        ahead = {code: engine.compile(topology.nics[keys[code]]) for code in present[:COMPILE_AHEAD]}
        columns = pending_columns.result()
    logged_allow = np.asarray(pc.equal(flows["decision"], "A").to_numpy(zero_copy_only=False), dtype=bool)
    changes: list[Change] = []
    for code in present:
        compiled = ahead.pop(code, None) or engine.compile(topology.nics[keys[code]])
        index = np.flatnonzero(codes == code)
        verdicts = compiled.classify(columns.take(index), backend=_backend(len(index)))
        allow = verdicts.allow.astype(bool)
        for position in np.flatnonzero(allow != logged_allow[index]):
            verdict = compiled.results[int(verdicts.result[position])]
            changes.append((int(index[position]), bool(allow[position]), verdict.log_rule_name))
    nics = np.array([*keys, ""], dtype=object)[codes]
    return build_result(topology, flows, nics, changes, tuples, read)


Change = tuple[int, bool, str | None]
"""A flow whose decision changed: its row among the distinct flows, the new access (allow?) and rule."""


def build_result(
    topology: Topology,
    flows: pa.Table,
    nics: npt.NDArray[np.object_],
    changes: Iterable[Change],
    tuples: int,
    read: ReadStats,
) -> ReplayResult:
    counts = flows["n"].to_numpy(zero_copy_only=False)
    unattributed = nics == ""
    changes = list(changes)
    rows = [row for row, _, _ in changes]
    columns = ["src_ip", "dst_ip", "src_port", "dst_port", "protocol", "direction", "decision"]
    info = flows.select(columns).take(pa.array(rows, pa.int64())).to_pydict()
    changed = [
        ChangedFlow(
            src_ip=info["src_ip"][i],
            dst_ip=info["dst_ip"][i],
            src_port=info["src_port"][i],
            dst_port=info["dst_port"][i],
            protocol=info["protocol"][i],
            direction="Outbound" if info["direction"][i] == "O" else "Inbound",
            logged_decision="Allow" if info["decision"][i] == "A" else "Deny",
            new_decision="Allow" if allow else "Deny",
            new_rule=rule,
            nic=topology.nics[nics[row]].id,
            count=int(counts[row]),
        )
        for i, (row, allow, rule) in enumerate(changes)
    ]
    return ReplayResult(
        changed=tuple(sorted(changed, key=lambda c: (c.nic, c.new_rule or "", -c.count, c.src_ip, c.src_port))),
        tuples=tuples,
        flows=flows.num_rows,
        unattributed_flows=int(unattributed.sum()),
        unattributed_tuples=int(counts[unattributed].sum()),
        read=read,
    )


__all__ = ["ChangedFlow", "ReplayResult", "build_result", "classify_flows", "fold", "replay"]
