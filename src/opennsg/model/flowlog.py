"""Network Watcher flow-log resources (``Microsoft.Network/networkWatchers/flowLogs``, semantics §9) as values.

A flow log names what it records (``target_resource_id``: an NSG — the retiring NSG flow logs — or a virtual
network, a subnet or a network interface — VNet flow logs) and where it writes (``storage_id``, a storage account:
a type OpenNSG does not model, so only kept). ``enabled_filtering_criteria`` and ``record_types`` stay the text ARM
carries (their meaning is ``opennsg.flowlogs.filtering``); traffic analytics and the managed identity are kept as
the JSON given, so that nothing a client writes is lost.

Which flow log records a NIC's traffic (``covering_flow_log``): VNet flow logs may sit on the NIC, its subnet and its
VNet at once; the most specific one decides (NIC, then subnet, then VNet), enabled or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opennsg.model.enums import CaseInsensitiveEnum
from opennsg.model.ids import ResourceId, id_key, parent_id
from opennsg.model.resources import Resource

FLOW_LOG_TYPE = "Microsoft.Network/networkWatchers/flowLogs"
#: Versions of the NSG flow-log format (semantics §9.1); VNet flow logs have one format of their own.
FLOW_LOG_FORMAT_VERSIONS = (1, 2)
DEFAULT_FORMAT_VERSION = 1
#: ``retentionPolicy.days``: 0 keeps records forever; Network Watcher retains at most a year.
MAX_RETENTION_DAYS = 365


class FlowLogFormatType(CaseInsensitiveEnum):
    JSON = "JSON"


class TargetKind(StrEnum):
    """What a flow log's ``targetResourceId`` names."""

    NETWORK_SECURITY_GROUP = "Microsoft.Network/networkSecurityGroups"
    VIRTUAL_NETWORK = "Microsoft.Network/virtualNetworks"
    SUBNET = "Microsoft.Network/virtualNetworks/subnets"
    NETWORK_INTERFACE = "Microsoft.Network/networkInterfaces"

    @classmethod
    def of(cls, resource_id: str) -> TargetKind | None:
        parsed = ResourceId.parse(resource_id)
        if parsed is None or parsed.resource_group is None:
            return None
        folded = parsed.type.casefold()
        return next((kind for kind in cls if kind.value.casefold() == folded), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowLog(Resource):
    """One flow-log resource, ``…/networkWatchers/{nw}/flowLogs/{name}``."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    target_resource_id: str
    storage_id: str
    #: ``enabled``: absent means not enabled (ARM's default for the flag).
    enabled: bool = False
    format_type: FlowLogFormatType = FlowLogFormatType.JSON
    format_version: int = DEFAULT_FORMAT_VERSION
    retention_days: int = 0
    retention_enabled: bool = False
    enabled_filtering_criteria: str | None = None
    record_types: str | None = None
    #: ``flowAnalyticsConfiguration`` and ``identity`` as given (canonical JSON text), None when absent.
    flow_analytics_configuration: str | None = None
    identity: str | None = None

    @property
    def network_watcher_id(self) -> str:
        return parent_id(self.id)

    @property
    def target_kind(self) -> TargetKind | None:
        return TargetKind.of(self.target_resource_id)

    @property
    def is_nsg_flow_log(self) -> bool:
        return self.target_kind is TargetKind.NETWORK_SECURITY_GROUP

    @property
    def target_key(self) -> str:
        return id_key(self.target_resource_id)

    @property
    def workspace_resource_id(self) -> str | None:
        """The Log Analytics workspace traffic analytics writes to
        (``flowAnalyticsConfiguration.networkWatcherFlowAnalyticsConfiguration.workspaceResourceId``), if any."""
        configuration = thawed_json(self.flow_analytics_configuration)
        inner = (
            configuration.get("networkWatcherFlowAnalyticsConfiguration") if isinstance(configuration, dict) else None
        )
        workspace = inner.get("workspaceResourceId") if isinstance(inner, dict) else None
        return workspace if isinstance(workspace, str) and workspace.strip() else None


def frozen_json(value: Any) -> str | None:
    """A JSON value kept as canonical text (immutable, comparable); None stays None."""
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def thawed_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


__all__ = [
    "DEFAULT_FORMAT_VERSION",
    "FLOW_LOG_FORMAT_VERSIONS",
    "FLOW_LOG_TYPE",
    "MAX_RETENTION_DAYS",
    "FlowLog",
    "FlowLogFormatType",
    "TargetKind",
    "frozen_json",
    "thawed_json",
]
