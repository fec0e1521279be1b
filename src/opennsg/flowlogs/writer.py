"""Flow logs out: tuples collected into per-minute records and written as Network Watcher's blob tree (semantics §9).

The data plane decides *what* is logged (which NSG and rule decided, counters as deltas); this module only
groups and formats: one file per hour per NSG (or VNet flow log) per MAC, one record per minute in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opennsg.flowlogs.filtering import RECORD_TYPES, FlowFilter, Selection, TupleView, selection_of
from opennsg.flowlogs.formats import (
    NSG_CATEGORY,
    NSG_OPERATION,
    UNSPECIFIED,
    VNET_CATEGORY,
    VNET_FLOW_LOG_VERSION,
    VNET_OPERATION,
    FlowTuple,
    LogFormat,
    format_time,
    normalize_mac,
    nsg_blob_path,
    vnet_blob_path,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import FlowLog
from opennsg.model.ids import id_key, network_id, resource_guid
from opennsg.model.resources import NetworkInterface, VirtualNetwork
from opennsg.model.topology import Topology


@dataclass(frozen=True, slots=True)
class VnetFlowLog:
    """A VNet flow log resource (semantics §9.2): where its blobs go and what its records name."""

    flow_log_id: str
    guid: str
    target_resource_id: str
    #: ``enabledFilteringCriteria``: only the tuples it selects are written (None keeps all).
    criteria: FlowFilter | None = None
    #: ``recordTypes``: the flow states written (B, C, E, D; all by default).
    record_types: frozenset[str] = frozenset(RECORD_TYPES)

    def keeps(self, flow: FlowTuple) -> bool:
        """Would Azure write this tuple into this flow log (its filter and its record types)?"""
        view = TupleView.of(flow)
        return view.record_type in self.record_types and (self.criteria is None or self.criteria.matches(view))

    @classmethod
    def for_vnet(cls, vnet: VirtualNetwork, name: str | None = None) -> VnetFlowLog:
        """The flow log Network Watcher would hold for ``vnet`` (in NetworkWatcherRG, per region)."""
        region = vnet.location or "global"
        log_name = name or f"{vnet.name}-flowlog"
        watcher = ("networkWatchers", f"NetworkWatcher_{region}")
        flow_log_id = network_id(vnet.subscription_id, "NetworkWatcherRG", *watcher, "flowLogs", log_name)
        return cls(flow_log_id, resource_guid(flow_log_id, None), vnet.id)

    @classmethod
    def of_resource(cls, flow_log: FlowLog, selection: Selection) -> VnetFlowLog:
        """A flow-log resource as the writer uses it: its id, its target, its filter and record types."""
        return cls(
            flow_log.id,
            resource_guid(flow_log.id, None),
            flow_log.target_resource_id,
            selection.criteria,
            selection.record_types,
        )


@dataclass(frozen=True, slots=True)
class FlowLogResources:
    """What the flow-log resources of a topology record (semantics §9): at each NIC, the VNet flow log covering it
    (the most specific of NIC, subnet, VNet; written only when enabled, with its filter and record types); for
    each NSG, the version of the enabled NSG flow log on it (NSG flow logs keep every tuple: filtering is a VNet
    flow-log feature).

    ``of`` gives None for a topology without flow-log resources: then every VNet gets the flow log Network Watcher
    would hold for it and every NSG is logged, in the formats the caller chose (what OpenNSG wrote before it read
    flow-log resources)."""

    topology: Topology
    vnet_logs: dict[str, VnetFlowLog]  # flow-log id key -> its writer view
    nsg_versions: dict[str, int]  # NSG id key -> NSG flow-log format version

    @classmethod
    def of(cls, topology: Topology) -> FlowLogResources | None:
        """Raises ``OpenNsgError`` with every invalid filter or record types of the topology's flow logs."""
        if not topology.flow_logs:
            return None
        problems: list[ArmError] = []
        vnet_logs: dict[str, VnetFlowLog] = {}
        nsg_versions: dict[str, int] = {}
        for flow_log in sorted(topology.flow_logs.values(), key=lambda f: f.key):
            try:
                selection = selection_of(flow_log)
            except OpenNsgError as error:
                problems.extend(ArmError(e.code, e.message, f"{flow_log.id}#{e.target}") for e in error.errors)
                continue
            if flow_log.is_nsg_flow_log:
                if flow_log.enabled:
                    nsg_versions.setdefault(flow_log.target_key, flow_log.format_version)
            elif flow_log.enabled:
                vnet_logs[flow_log.key] = VnetFlowLog.of_resource(flow_log, selection)
        if problems:
            raise OpenNsgError(problems)
        return cls(topology, vnet_logs, nsg_versions)

    def vnet_log(self, nic: NetworkInterface) -> VnetFlowLog | None:
        """The VNet flow log writing this NIC's tuples; None when none covers it or the one that does is off."""
        covering = self.topology.vnet_flow_log_of_nic(nic)
        return self.vnet_logs.get(covering.key) if covering is not None else None

    def nsg_version(self, nsg_id: str | None) -> int | None:
        """The NSG flow-log version an NSG's tuples are written in; None when no enabled NSG flow log is on it."""
        return self.nsg_versions.get(id_key(nsg_id)) if nsg_id else None


@dataclass(frozen=True, slots=True)
class FlowLogEntry:
    """One tuple and where it belongs: the MAC of the NIC it was seen at and the NSG and rule that decided.

    ``nsg_id`` is None when no NSG decided (such flows appear in VNet flow logs only, as ``unspecified`` or, when an
    AVNM security admin rule decided, under ``acl_id``: its configuration, whose GUID is the ``aclID``, §11.4).
    """

    tuple: FlowTuple
    mac: str
    nsg_id: str | None
    nsg_guid: str | None
    rule: str | None
    vnet_flow_log: VnetFlowLog | None = None
    acl_id: str | None = None
    acl_guid: str | None = None
    #: Whether an NSG flow log writes this tuple, and in which version only (None: every NSG format written).
    nsg_logged: bool = True
    nsg_version: int | None = None

    @property
    def acl(self) -> str:
        """The VNet flow log ``aclID``: the deciding resource's GUID, else ``unspecified``."""
        if self.acl_id:
            return resource_guid(self.acl_id, self.acl_guid)
        return resource_guid(self.nsg_id, self.nsg_guid) if self.nsg_id else UNSPECIFIED


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class FlowLogWriter:
    """Collects entries; renders NSG v1/v2 and VNet flow log files as ``{relative blob path: document}``."""

    def __init__(self, formats: Iterable[LogFormat] = (LogFormat.NSG_V2, LogFormat.VNET)) -> None:
        self.formats = frozenset(formats)
        self._entries: list[FlowLogEntry] = []

    def add(self, entry: FlowLogEntry) -> None:
        self._entries.append(entry)

    def extend(self, entries: Iterable[FlowLogEntry]) -> None:
        self._entries.extend(entries)

    @property
    def entries(self) -> tuple[FlowLogEntry, ...]:
        return tuple(self._entries)

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every file's content, keyed by its blob path relative to the storage account."""
        out: dict[str, dict[str, Any]] = {}
        for fmt in sorted(self.formats):
            if fmt is LogFormat.VNET:
                out.update(self._vnet_documents())
            else:
                out.update(self._nsg_documents(1 if fmt is LogFormat.NSG_V1 else 2))
        return out

    def write(self, out_dir: Path) -> list[Path]:
        """Write the blob tree under ``out_dir``; v1 goes under ``v1/`` when v2 is written too (same blob paths)."""
        written: list[Path] = []
        for relative, document in sorted(self.documents().items()):
            target = out_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
            written.append(target)
        return written

    def _nsg_documents(self, version: int) -> dict[str, dict[str, Any]]:
        # file -> minute -> rule -> tuples; dicts keep first-seen order, records are sorted by minute.
        files: dict[str, dict[datetime, dict[str, list[str]]]] = {}
        heads: dict[str, tuple[str, str, str]] = {}
        for entry in self._entries:
            if entry.nsg_id is None or entry.rule is None or not entry.nsg_logged:
                continue
            if entry.nsg_version is not None and entry.nsg_version != version:
                continue
            mac = normalize_mac(entry.mac)
            path = nsg_blob_path(entry.nsg_id, entry.tuple.timestamp, mac)
            if version == 1 and LogFormat.NSG_V2 in self.formats and entry.nsg_version is None:
                path = f"v1/{path}"
            heads[path] = (entry.nsg_id, resource_guid(entry.nsg_id, entry.nsg_guid), mac)
            text = entry.tuple.nsg_v1() if version == 1 else entry.tuple.nsg_v2()
            minute = files.setdefault(path, {}).setdefault(_minute(entry.tuple.timestamp), {})
            minute.setdefault(entry.rule, []).append(text)
        out: dict[str, dict[str, Any]] = {}
        for path, minutes in files.items():
            nsg_id, guid, mac = heads[path]
            out[path] = {
                "records": [
                    {
                        "time": format_time(start + timedelta(minutes=1)),
                        "systemId": guid,
                        "category": NSG_CATEGORY,
                        "resourceId": nsg_id.strip().rstrip("/").upper(),
                        "operationName": NSG_OPERATION,
                        "properties": {
                            "Version": version,
                            "flows": [
                                {"rule": rule, "flows": [{"mac": mac, "flowTuples": tuples}]}
                                for rule, tuples in rules.items()
                            ],
                        },
                    }
                    for start, rules in sorted(minutes.items())
                ]
            }
        return out

    def _vnet_documents(self) -> dict[str, dict[str, Any]]:
        # file -> minute -> aclID -> rule -> tuples
        files: dict[str, dict[datetime, dict[str, dict[str, list[str]]]]] = {}
        heads: dict[str, tuple[VnetFlowLog, str]] = {}
        for entry in self._entries:
            log = entry.vnet_flow_log
            if log is None or not log.keeps(entry.tuple):
                continue
            mac = normalize_mac(entry.mac)
            path = vnet_blob_path(log.flow_log_id, entry.tuple.timestamp, mac)
            heads[path] = (log, mac)
            minute = files.setdefault(path, {}).setdefault(_minute(entry.tuple.timestamp), {})
            minute.setdefault(entry.acl, {}).setdefault(entry.rule or UNSPECIFIED, []).append(entry.tuple.vnet())
        out: dict[str, dict[str, Any]] = {}
        for path, minutes in files.items():
            log, mac = heads[path]
            out[path] = {
                "records": [
                    {
                        "time": format_time(start + timedelta(minutes=1)),
                        "flowLogVersion": VNET_FLOW_LOG_VERSION,
                        "flowLogGUID": log.guid,
                        "macAddress": mac,
                        "category": VNET_CATEGORY,
                        "flowLogResourceID": log.flow_log_id.strip().rstrip("/").upper(),
                        "targetResourceID": log.target_resource_id,
                        "operationName": VNET_OPERATION,
                        "flowRecords": {
                            "flows": [
                                {
                                    "aclID": acl,
                                    "flowGroups": [
                                        {"rule": rule, "flowTuples": tuples} for rule, tuples in groups.items()
                                    ],
                                }
                                for acl, groups in acls.items()
                            ]
                        },
                    }
                    for start, acls in sorted(minutes.items())
                ]
            }
        return out
