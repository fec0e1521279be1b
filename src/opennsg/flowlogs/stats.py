"""What flow logs say at a glance: top talkers, allowed/denied flows over time, rules hit and rules never hit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opennsg.extras import require
from opennsg.flowlogs.reader import ReadStats
from opennsg.model.ids import resource_guid
from opennsg.model.topology import Topology


@dataclass(frozen=True, slots=True)
class Talker:
    src_ip: str
    dst_ip: str
    tuples: int
    bytes: int


@dataclass(frozen=True, slots=True)
class MinuteCount:
    minute: datetime
    allowed: int
    denied: int


@dataclass(frozen=True, slots=True)
class RuleHit:
    #: The NSG id (NSG logs, upper case as logged) or the flow log id with the ``aclID`` (VNet logs).
    source: str
    rule: str
    tuples: int


@dataclass(frozen=True, slots=True)
class FlowLogStats:
    top_talkers: tuple[Talker, ...]
    timeline: tuple[MinuteCount, ...]
    rules_hit: tuple[RuleHit, ...]
    #: ``(NSG id, rule in flow-log naming)`` of every rule no tuple names; None without a configuration.
    rules_never_hit: tuple[tuple[str, str], ...] | None
    read: ReadStats

    def to_json(self) -> dict[str, Any]:
        return {
            "topTalkers": [
                {"srcIP": t.src_ip, "dstIP": t.dst_ip, "tuples": t.tuples, "bytes": t.bytes} for t in self.top_talkers
            ],
            "timeline": [
                {"minute": m.minute.isoformat(), "allowed": m.allowed, "denied": m.denied} for m in self.timeline
            ],
            "rulesHit": [{"source": r.source, "rule": r.rule, "tuples": r.tuples} for r in self.rules_hit],
            "rulesNeverHit": None
            if self.rules_never_hit is None
            else [{"nsg": nsg, "rule": rule} for nsg, rule in self.rules_never_hit],
            "read": self.read.to_json(),
        }


def compute_stats(
    batches: Iterable[pa.RecordBatch], read: ReadStats, topology: Topology | None = None, top: int = 10
) -> FlowLogStats:
    """Aggregate the batches with Arrow as they stream by (memory grows with distinct talkers, not tuples)."""
    partial: dict[str, list[pa.Table]] = {"talkers": [], "timeline": [], "rules": []}
    for batch in batches:
        for name, table in _per_batch(pa.Table.from_batches([batch])).items():
            partial[name].append(table)
    talkers = _regroup(partial["talkers"], _TALKER_SCHEMA, ["src_ip", "dst_ip"], ["tuples", "bytes"])
    talkers = talkers.sort_by([("bytes", "descending"), ("tuples", "descending"), ("src_ip", "ascending"),
                               ("dst_ip", "ascending")]).slice(0, top)  # fmt: skip
    timeline = _regroup(partial["timeline"], _TIMELINE_SCHEMA, ["minute"], ["allowed", "denied"]).sort_by("minute")
    rules = _regroup(partial["rules"], _RULES_SCHEMA, ["resource_id", "acl_id", "rule"], ["tuples"])
    rules = rules.sort_by([("tuples", "descending"), ("resource_id", "ascending"), ("rule", "ascending")])
    hits = [tuple(row.values()) for row in rules.to_pylist()]
    rules_hit = tuple(
        RuleHit(resource if "/NETWORKSECURITYGROUPS/" in resource.upper() else f"{resource} aclID={acl}", rule, n)
        for resource, acl, rule, n in hits
    )
    never = _never_hit(topology, hits) if topology is not None else None
    return FlowLogStats(
        top_talkers=tuple(Talker(**row) for row in talkers.to_pylist()),
        timeline=tuple(MinuteCount(**row) for row in timeline.to_pylist()),
        rules_hit=rules_hit,
        rules_never_hit=never,
        read=read,
    )


def _never_hit(topology: Topology, hits: list[tuple[str, str, str, int]]) -> tuple[tuple[str, str], ...]:
    """Every NSG rule (user and default) that no tuple names: by NSG id (NSG logs) or NSG GUID (VNet ``aclID``)."""
    hit: set[tuple[str, str]] = set()
    for resource, acl, rule, _ in hits:
        hit.add((resource.casefold(), rule.casefold()))
        hit.add((acl.casefold(), rule.casefold()))
    unused: list[tuple[str, str]] = []
    for nsg in sorted(topology.nsgs.values(), key=lambda n: n.key):
        guid = resource_guid(nsg.id, nsg.resource_guid).casefold()
        for security_rule in (*nsg.security_rules, *nsg.default_security_rules):
            name = security_rule.log_name.casefold()
            if (nsg.key, name) not in hit and (guid, name) not in hit:
                unused.append((nsg.id, security_rule.log_name))
    return tuple(unused)


_TALKER_SCHEMA = pa.schema([("src_ip", pa.string()), ("dst_ip", pa.string()), ("tuples", pa.int64()),
                            ("bytes", pa.int64())])  # fmt: skip
_TIMELINE_SCHEMA = pa.schema([("minute", pa.timestamp("ms", tz="UTC")), ("allowed", pa.int64()),
                              ("denied", pa.int64())])  # fmt: skip
_RULES_SCHEMA = pa.schema([("resource_id", pa.string()), ("acl_id", pa.string()), ("rule", pa.string()),
                           ("tuples", pa.int64())])  # fmt: skip


def _text(table: pa.Table, name: str) -> pa.Array | pa.ChunkedArray:
    return pc.cast(table[name], pa.string())


def _per_batch(table: pa.Table) -> dict[str, pa.Table]:
    """One batch's talkers, minutes and rules, each already grouped (so partial tables stay small)."""
    traffic = pc.add(pc.fill_null(table["bytes_src_to_dst"], 0), pc.fill_null(table["bytes_dst_to_src"], 0))
    talkers = pa.table({"src_ip": _text(table, "src_ip"), "dst_ip": _text(table, "dst_ip"), "tuples": pa.nulls(
        table.num_rows, pa.int64()).fill_null(1), "bytes": pc.cast(traffic, pa.int64())})  # fmt: skip
    timeline = pa.table(
        {
            "minute": pc.floor_temporal(table["time"], unit="minute"),
            "allowed": pc.cast(pc.equal(table["decision"], "A"), pa.int64()),
            "denied": pc.cast(pc.equal(table["decision"], "D"), pa.int64()),
        }
    )
    rules = pa.table(
        {
            "resource_id": _text(table, "resource_id"),
            "acl_id": _text(table, "acl_id"),
            "rule": _text(table, "rule"),
            "tuples": pa.nulls(table.num_rows, pa.int64()).fill_null(1),
        }
    )
    return {
        "talkers": _grouped(talkers, ["src_ip", "dst_ip"], ["tuples", "bytes"]),
        "timeline": _grouped(timeline, ["minute"], ["allowed", "denied"]),
        "rules": _grouped(rules, ["resource_id", "acl_id", "rule"], ["tuples"]),
    }


def _grouped(table: pa.Table, keys: list[str], sums: list[str]) -> pa.Table:
    """Sum ``sums`` per distinct ``keys`` (null keys form a group, counts of no value are 0)."""
    out = table.group_by(keys, use_threads=False).aggregate([(column, "sum") for column in sums])
    return pa.table({**{k: out[k] for k in keys}, **{c: pc.fill_null(out[f"{c}_sum"], 0) for c in sums}})


def _regroup(parts: list[pa.Table], schema: pa.Schema, keys: list[str], sums: list[str]) -> pa.Table:
    if not parts:
        return schema.empty_table()
    return _grouped(pa.concat_tables([p.cast(schema) for p in parts]), keys, sums)


def plot_timeline(stats: FlowLogStats, png: Path) -> None:
    """Allowed and denied tuples per minute as stacked bars, a zero bar for every minute with no records.

    Bars, not lines: a line drawn across minutes with no records would invent a trend. Denied is dark and hatched,
    allowed light, so the two stay apart in greyscale.
    """
    matplotlib = require("matplotlib", "plot", "A flow-log chart (--png)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minute_list, allowed, denied = per_minute(stats.timeline)
    minutes = np.array(minute_list, dtype="datetime64[s]")
    figure, axes = plt.subplots(figsize=(10, 4))
    width = 50 / 86400  # 50 s of a day: bars a minute apart do not touch
    axes.bar(minutes, allowed, width=width, label="allowed", color="#c8c8c8", edgecolor="#404040", linewidth=0.4)
    axes.bar(
        minutes, denied, width=width, bottom=allowed, label="denied", color="#303030", hatch="///", edgecolor="white"
    )
    axes.set_xlabel("minute (UTC)")
    axes.set_ylabel("flow tuples per minute")
    axes.set_title("Flow log tuples per minute (UTC)")
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(png)
    plt.close(figure)


def per_minute(timeline: tuple[MinuteCount, ...]) -> tuple[list[datetime], list[int], list[int]]:
    """Every minute from the first to the last record, with zeros where nothing was logged."""
    if not timeline:
        return [], [], []
    counts = {m.minute.astimezone(UTC).replace(tzinfo=None): m for m in timeline}
    first, last = min(counts), max(counts)
    minutes = [first + timedelta(minutes=i) for i in range(int((last - first).total_seconds() // 60) + 1)]
    allowed = [counts[m].allowed if m in counts else 0 for m in minutes]
    denied = [counts[m].denied if m in counts else 0 for m in minutes]
    return minutes, allowed, denied
