"""Flow-log resources (semantics §9): their target, storage account, format and retention. The grammar of their
filters belongs to ``opennsg.flowlogs.filtering`` (checked where flow logs are written and by the service)."""

from __future__ import annotations

from collections.abc import Iterator

from opennsg.model.errors import ArmError
from opennsg.model.flowlog import FLOW_LOG_FORMAT_VERSIONS, MAX_RETENTION_DAYS, FlowLog
from opennsg.model.ids import ResourceId
from opennsg.model.resources import Resource, Subnet
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import Finding, reference

_STORAGE_ACCOUNT_TYPE = "microsoft.storage/storageaccounts"


def flow_log_findings(topology: Topology) -> Iterator[Finding]:
    """A flow log names an existing NSG, VNet, subnet or NIC, a storage account id, format JSON 1 or 2 and a
    retention of 0-365 days. Its filter's grammar belongs to ``opennsg.flowlogs.filtering`` (checked where flow
    logs are written and by the service)."""
    for flow_log in topology.flow_logs.values():
        target = flow_log.target_resource_id
        kind = flow_log.target_kind
        where = "properties.targetResourceId"
        if kind is None:
            message = Message.INVALID_FLOW_LOG_TARGET.format(flow_log_id=flow_log.id, target=target)
            yield Finding(flow_log.id, ArmError(Code.INVALID_FLOW_LOG_TARGET, message, where))
        else:
            found = topology.flow_log_target(flow_log)
            yield from reference(flow_log.id, target, found is not None, flow_log.id, where)
            if found is not None:
                yield from _region_findings(topology, flow_log, found, where)
        storage = ResourceId.parse(flow_log.storage_id)
        if storage is None or storage.type.casefold() != _STORAGE_ACCOUNT_TYPE or len(storage.types) != 1:
            message = Message.INVALID_FLOW_LOG_STORAGE.format(flow_log_id=flow_log.id, storage=flow_log.storage_id)
            yield Finding(flow_log.id, ArmError(Code.INVALID_FLOW_LOG_STORAGE, message, "properties.storageId"))
        if flow_log.format_version not in FLOW_LOG_FORMAT_VERSIONS:
            message = Message.INVALID_FLOW_LOG_FORMAT_VERSION.format(
                flow_log_id=flow_log.id,
                value=flow_log.format_version,
                allowed=", ".join(str(v) for v in FLOW_LOG_FORMAT_VERSIONS),
            )
            yield Finding(flow_log.id, ArmError(Code.INVALID_FLOW_LOG_FORMAT, message, "properties.format.version"))
        if not 0 <= flow_log.retention_days <= MAX_RETENTION_DAYS:
            message = Message.INVALID_FLOW_LOG_RETENTION.format(
                flow_log_id=flow_log.id, value=flow_log.retention_days, limit=MAX_RETENTION_DAYS
            )
            target_path = "properties.retentionPolicy.days"
            yield Finding(flow_log.id, ArmError(Code.INVALID_FLOW_LOG_RETENTION, message, target_path))


def same_region(a: str, b: str) -> bool:
    """ARM compares regions without case or spaces (``West Europe`` is ``westeurope``)."""
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def _region_findings(topology: Topology, flow_log: FlowLog, found: Resource | Subnet, where: str) -> Iterator[Finding]:
    """A network watcher records only its region's resources: the target (a subnet: its VNet) must be in the flow
    log's region (Azure's docs: the target and the flow log, like the watcher, share one region)."""
    holder = topology.vnet_of_subnet(found.id) if isinstance(found, Subnet) else found
    region = holder.location if holder is not None else ""
    if region and flow_log.location and not same_region(region, flow_log.location):
        message = Message.FLOW_LOG_TARGET_REGION.format(
            flow_log_id=flow_log.id, region=flow_log.location, target=flow_log.target_resource_id, target_region=region
        )
        yield Finding(flow_log.id, ArmError(Code.FLOW_LOG_REGION_MISMATCH, message, where))
