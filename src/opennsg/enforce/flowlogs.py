"""``opennsg lab flowlogs``: the collector's kernel events → NSG and VNet flow logs (semantics §9), as the topology's
flow-log resources say (each VNet flow log with its filter and record types, NSG flow logs only where enabled, in
their version); without flow-log resources, NSG flow logs v2 for every NSG and a VNet flow log for every VNet.

A conntrack NEW event is a flow's Begin tuple, its DESTROY event the End tuple with the kernel's counters (original
direction = source to destination); the connection's mark names the rule that allowed it. A logged drop is a
Denied tuple naming the deny rule (its mark is the nflog prefix); a flow's retransmitted first packets within one
minute are one denied flow. Direction is the NIC's: outbound when the NIC sent the first packet. A flow still in a
NIC's connection table when the logs are written gets a Continuing tuple then, with the kernel's counters so far
(not one every five minutes: the logs are written once, when asked for).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from opennsg.enforce.compile import RuleRef
from opennsg.enforce.conntrack import KernelFlow, list_flows
from opennsg.enforce.kernel import netns_exists
from opennsg.enforce.lab import Lab, events_path
from opennsg.enforce.topology import LabNic
from opennsg.flowlogs.formats import FlowState, FlowTuple, LogFormat
from opennsg.flowlogs.writer import FlowLogEntry, FlowLogWriter
from opennsg.model.enums import PORTED_PROTOCOLS, Access, Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.validation.codes import Code

DENIED_DEDUPE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Flow:
    src: str
    dst: str
    sport: int | None
    dport: int | None
    protocol: int


def _flow(event: dict[str, Any]) -> _Flow:
    protocol = int(event.get("protocol", 0))
    ported = protocol in PORTED_PROTOCOLS
    return _Flow(
        str(ip_address(event["src"])),
        str(ip_address(event["dst"])),
        int(event["sport"]) if ported and "sport" in event else None,
        int(event["dport"]) if ported and "dport" in event else None,
        protocol,
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written as we read
        if isinstance(parsed, dict) and "nic" in parsed and "src" in parsed:
            events.append(parsed)
    return events


def lab_flow_entries(
    lab: Lab, events: list[dict[str, Any]], open_flows: dict[str, list[KernelFlow]] | None = None, now: float = 0.0
) -> list[FlowLogEntry]:
    """One flow-log entry per Begin, End and Denied event of the lab's NICs, and a Continuing one (counters so far)
    for each flow that began and is still in the NIC's connection table (``open_flows``, listed at ``now``)."""
    nics = {nic.id: nic for nic in lab.plan.nics}
    nsg_logs = lab.plan.nsg_flow_logs
    entries: list[FlowLogEntry] = []
    denied_at: dict[tuple[str, _Flow], float] = {}
    begun: dict[tuple[str, int], float] = {}
    for event in sorted(events, key=lambda e: float(e.get("time", 0))):
        nic = nics.get(str(event["nic"]))
        if nic is None:
            continue
        flow = _flow(event)
        kind = event.get("kind")
        at = float(event.get("time", 0))
        applied = lab.rulesets.get(nic.id)
        ref = applied.rules.get(int(event.get("mark", 0))) if applied else None
        if kind == "drop":
            key = (nic.id, flow)
            if at - denied_at.get(key, -DENIED_DEDUPE_SECONDS - 1) < DENIED_DEDUPE_SECONDS:
                continue
            denied_at[key] = at
            entries.append(_entry(nic, flow, at, FlowState.DENIED, Access.DENY, ref, None, nsg_logs))
        elif kind == "begin":
            if "id" in event:
                begun[(nic.id, int(event["id"]))] = at
            entries.append(_entry(nic, flow, at, FlowState.BEGIN, Access.ALLOW, ref, None, nsg_logs))
        elif kind == "end":
            begun.pop((nic.id, int(event.get("id", -1))), None)
            counters = (
                int(event.get("packets_orig", 0)),
                int(event.get("bytes_orig", 0)),
                int(event.get("packets_reply", 0)),
                int(event.get("bytes_reply", 0)),
            )
            entries.append(_entry(nic, flow, at, FlowState.END, Access.ALLOW, ref, counters, nsg_logs))
    for nic_id, flows in (open_flows or {}).items():
        nic = nics.get(nic_id)
        applied = lab.rulesets.get(nic_id)
        for kernel in flows:
            if nic is None or kernel.id is None or (nic_id, kernel.id) not in begun or kernel.counters is None:
                continue
            ref = applied.rules.get(kernel.mark) if applied else None
            flow = _Flow(
                kernel.source, kernel.destination, kernel.source_port, kernel.destination_port, kernel.protocol
            )
            entries.append(_entry(nic, flow, now, FlowState.CONTINUING, Access.ALLOW, ref, kernel.counters, nsg_logs))
    return entries


def _entry(
    nic: LabNic,
    flow: _Flow,
    at: float,
    state: FlowState,
    access: Access,
    ref: RuleRef | None,
    counters: tuple[int, int, int, int] | None,
    nsg_flow_logs: dict[str, int] | None,
) -> FlowLogEntry:
    direction = Direction.OUTBOUND if flow.src in nic.addresses else Direction.INBOUND
    sent = counters or (None, None, None, None)
    tuple_ = FlowTuple(
        datetime.fromtimestamp(at, UTC), flow.src, flow.dst, flow.sport, flow.dport, flow.protocol, direction,
        access, state, *sent,
    )  # fmt: skip
    log = nic.vnet_flow_log  # its filter and record types apply when the files are written (``VnetFlowLog.keeps``)
    if ref is not None and ref.stage_kind != "nsg":  # an admin rule: VNet flow logs only, under its configuration
        return FlowLogEntry(tuple_, nic.mac, None, None, ref.log_name, log, ref.acl_id, ref.acl_guid)
    nsg_id = ref.nsg_id if ref else None
    entry = FlowLogEntry(tuple_, nic.mac, nsg_id, ref.nsg_guid if ref else None, ref.log_name if ref else None, log)
    if nsg_flow_logs is not None:  # written as the flow-log resources say: only NSGs with an enabled NSG flow log
        version = nsg_flow_logs.get(id_key(nsg_id)) if nsg_id else None
        entry = replace(entry, nsg_logged=version is not None, nsg_version=version)
    return entry


def write_lab_flowlogs(name: str, out: Path) -> tuple[list[Path], int]:
    """Write the lab's flow logs under ``out``; returns the files written and the number of flow tuples."""
    lab = Lab.load(name)
    path = events_path(name)
    if not path.exists():
        raise OpenNsgError(
            [
                ArmError(
                    Code.FLOW_LOG_EVENTS_NOT_FOUND, f"Lab '{name}' has recorded no kernel events (no collector ran)."
                )
            ]
        )
    open_flows = {nic.id: list_flows(nic.netns) for nic in lab.plan.nics if netns_exists(nic.netns)}
    entries = lab_flow_entries(lab, read_events(path), open_flows, time.time())
    # with flow-log resources, each writes its own format (NSG v1 or v2, VNet), as in the data plane
    formats = (LogFormat.NSG_V2, LogFormat.VNET) if lab.plan.nsg_flow_logs is None else tuple(LogFormat)
    writer = FlowLogWriter(formats)
    writer.extend(entries)
    return writer.write(out), len(entries)
