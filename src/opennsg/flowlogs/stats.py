"""What flow logs say at a glance: top talkers, allowed/denied flows over time, rules hit and rules never hit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from opennsg.extras import require
from opennsg.flowlogs.formats import resource_guid
from opennsg.flowlogs.reader import ReadStats
from opennsg.model.topology import Topology

_CREATE = """
CREATE TABLE talkers (src_ip VARCHAR, dst_ip VARCHAR, tuples BIGINT, bytes BIGINT);
CREATE TABLE timeline (minute TIMESTAMPTZ, allowed BIGINT, denied BIGINT);
CREATE TABLE rules (resource_id VARCHAR, acl_id VARCHAR, rule VARCHAR, tuples BIGINT);
"""
_PER_BATCH = """
INSERT INTO talkers SELECT src_ip, dst_ip, count(*),
    sum(coalesce(bytes_src_to_dst, 0) + coalesce(bytes_dst_to_src, 0)) FROM batch GROUP BY ALL;
INSERT INTO timeline SELECT date_trunc('minute', time), count(*) FILTER (WHERE decision = 'A'),
    count(*) FILTER (WHERE decision = 'D') FROM batch GROUP BY ALL;
INSERT INTO rules SELECT resource_id, acl_id, rule, count(*) FROM batch GROUP BY ALL;
"""


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
    """Aggregate the batches in DuckDB as they stream by (memory grows with distinct talkers, not tuples)."""
    con = duckdb.connect()
    con.execute(_CREATE)
    for batch in batches:
        con.register("batch", batch)
        con.execute(_PER_BATCH)
        con.unregister("batch")
    talkers = con.execute(
        "SELECT src_ip, dst_ip, sum(tuples)::BIGINT, sum(bytes)::BIGINT FROM talkers GROUP BY ALL "
        "ORDER BY 4 DESC, 3 DESC, 1, 2 LIMIT ?",
        [top],
    ).fetchall()
    timeline = con.execute(
        "SELECT minute, sum(allowed)::BIGINT, sum(denied)::BIGINT FROM timeline GROUP BY ALL ORDER BY 1"
    ).fetchall()
    hits = con.execute(
        "SELECT resource_id, acl_id, rule, sum(tuples)::BIGINT FROM rules GROUP BY ALL ORDER BY 4 DESC, 1, 3"
    ).fetchall()
    rules_hit = tuple(
        RuleHit(resource if "/NETWORKSECURITYGROUPS/" in resource.upper() else f"{resource} aclID={acl}", rule, n)
        for resource, acl, rule, n in hits
    )
    never = _never_hit(topology, hits) if topology is not None else None
    return FlowLogStats(
        top_talkers=tuple(Talker(*row) for row in talkers),
        timeline=tuple(MinuteCount(*row) for row in timeline),
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
