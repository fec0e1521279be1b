"""Top-level resources: PUT (create or replace), PATCH of tags and DELETE, with what Azure does around them (a
private endpoint's NIC, subnets' default outbound access)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from opennsg.api.catalog import ModelKind
from opennsg.api.linked import Caller, authorize_references
from opennsg.api.planning.addresses import dynamic_addresses, with_primary
from opennsg.api.planning.bodies import check_location, keep_guid, tags_of, with_child_ids
from opennsg.api.planning.conditions import Preconditions
from opennsg.api.planning.flowlogs import without_orphaned_flow_logs
from opennsg.api.planning.in_use import refuse_in_use, refuse_subnets_in_use
from opennsg.api.planning.peerings import sync_peerings, with_synced_peerings
from opennsg.api.planning.state import (
    check_state,
    current,
    missing,
    model_in,
    parse_body,
    raise_invalid,
    replace_models,
    require_group,
)
from opennsg.api.store import Change, Snapshot
from opennsg.model.errors import ArmError
from opennsg.model.ids import ResourceId, id_key, network_id
from opennsg.model.policy import PRIVATE_SUBNETS_API_VERSION
from opennsg.model.resources import IpConfiguration, NetworkInterface, PrivateEndpoint, Resource, VirtualNetwork
from opennsg.model.topology import Topology
from opennsg.model.validation import tag_problems


def put_resource(
    snapshot: Snapshot,
    kind: ModelKind,
    resource_id: str,
    body: Mapping[str, Any],
    conditions: Preconditions,
    caller: Caller,
    api_version: str | None = None,
) -> Change[bool]:
    """PUT of a whole resource (create or replace). Result: whether it was created."""
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None and parsed.resource_group is not None
    require_group(snapshot, parsed.subscription, parsed.resource_group)
    topology = snapshot.topology
    existing = current(topology, kind, resource_id)
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row else None)
    check_location(body, existing)
    model: Resource = with_child_ids(parse_body(kind.arm_kind, body, existing.id if existing else resource_id))
    authorize_references(caller, model, existing, f"{kind.type}/write", model.id)
    if existing is not None and not model.location:
        model = dataclasses.replace(model, location=existing.location)
    model = keep_guid(model, existing)
    full_subnets: list[ArmError] = []
    if isinstance(model, NetworkInterface):
        model, full_subnets = dynamic_addresses(topology, with_primary(model), existing)
    if isinstance(model, VirtualNetwork):
        model = with_outbound_access_defaults(model, existing, api_version)
    models: list[Resource] = [model]
    if isinstance(model, PrivateEndpoint):
        model, endpoint_nic, full_subnets = _with_endpoint_nic(topology, model, existing)
        models = [model] if endpoint_nic is None else [model, endpoint_nic]
    if isinstance(model, VirtualNetwork) and isinstance(existing, VirtualNetwork):
        kept = {s.key for s in model.subnets}
        refuse_subnets_in_use(topology, [s for s in existing.subnets if s.key not in kept])
    new = replace_models(topology, *models)
    if isinstance(model, VirtualNetwork):
        new, models = with_synced_peerings(new, topology, models)
    new, orphans = without_orphaned_flow_logs(new, topology)
    check_state(new, models, full_subnets)
    return Change(put=tuple(models), delete=orphans, topology=new, result=existing is None)


def _with_endpoint_nic(
    topology: Topology, endpoint: PrivateEndpoint, existing: Resource | None
) -> tuple[PrivateEndpoint, NetworkInterface | None, list[ArmError]]:
    """A private endpoint owns a NIC that Azure creates with it (semantics §12.1): named by
    ``customNetworkInterfaceName`` or ``{endpoint}.nic.{guid}``, in the endpoint's subnet, at its static address or
    the next free one (its ASGs stay on the endpoint, as in Azure). An endpoint that exists keeps the NIC it has."""
    if isinstance(existing, PrivateEndpoint) and existing.network_interfaces:
        return dataclasses.replace(endpoint, network_interfaces=existing.network_interfaces), None, []
    if endpoint.subnet is None:
        return endpoint, None, []
    parsed = ResourceId.parse(endpoint.id)
    assert parsed is not None and parsed.resource_group is not None
    guid = uuid.uuid5(uuid.NAMESPACE_URL, endpoint.key)
    name = endpoint.custom_network_interface_name or f"{endpoint.name}.nic.{guid}"
    nic_id = network_id(parsed.subscription, parsed.resource_group, "networkInterfaces", name)
    configuration = IpConfiguration(
        id=f"{nic_id}/ipConfigurations/privateEndpointIpConfig.{guid}",
        name=f"privateEndpointIpConfig.{guid}",
        private_ip_address=next(iter(endpoint.private_ip_addresses), None),
        subnet=endpoint.subnet,
        primary=True,
    )
    nic = NetworkInterface(
        id=nic_id, name=name, location=endpoint.location, ip_configurations=(configuration,),
        private_endpoint=endpoint.id, resource_guid=str(guid),
    )  # fmt: skip
    nic, full_subnets = dynamic_addresses(topology, nic, topology.nic(nic_id))
    return dataclasses.replace(endpoint, network_interfaces=(nic_id,)), nic, full_subnets


def with_outbound_access_defaults(
    vnet: VirtualNetwork, existing: Resource | None, api_version: str | None
) -> VirtualNetwork:
    """``defaultOutboundAccess`` not given (semantics §12.2): a subnet keeps the value it had; the subnets of a VNet
    created with API version 2025-07-01 or later are private (``false``); otherwise it stays unset (``true``)."""
    before = {s.key: s for s in existing.subnets} if isinstance(existing, VirtualNetwork) else {}
    private = existing is None and (api_version or "")[:10] >= PRIVATE_SUBNETS_API_VERSION
    subnets = []
    for subnet in vnet.subnets:
        if subnet.default_outbound_access is None:
            previous = before.get(subnet.key)
            value = previous.default_outbound_access if previous is not None else (False if private else None)
            subnet = dataclasses.replace(subnet, default_outbound_access=value)
        subnets.append(subnet)
    return dataclasses.replace(vnet, subnets=tuple(subnets))


def patch_tags(snapshot: Snapshot, kind: ModelKind, resource_id: str, body: Mapping[str, Any]) -> Change[bool]:
    """PATCH with a TagsObject: replaces the tags, nothing else."""
    existing = current(snapshot.topology, kind, resource_id)
    if existing is None:
        raise missing(resource_id)
    model = dataclasses.replace(existing, tags=tags_of(body))
    raise_invalid(tag_problems(model.id, model.tags))
    return Change(put=(model,), topology=replace_models(snapshot.topology, model), result=False)


def delete_resource(snapshot: Snapshot, kind: ModelKind, resource_id: str) -> Change[bool]:
    """DELETE; refuses while other resources still use it. Result: whether it existed. A private endpoint's NIC
    goes with it."""
    existing = current(snapshot.topology, kind, resource_id)
    if existing is None:
        return Change(result=False)
    if isinstance(existing, PrivateEndpoint):
        owned = [
            n
            for n in snapshot.topology.nics.values()
            if n.private_endpoint and id_key(n.private_endpoint) == existing.key
        ]
        return delete_models(snapshot, [existing, *owned], ())
    return delete_resource_tree(snapshot, existing)


def delete_resource_tree(snapshot: Snapshot, model: Resource) -> Change[bool]:
    """DELETE of a resource with the child resources stored under it in rows of their own (a network manager's
    groups, configurations, ...), and the deployment records of configurations that go with it."""
    prefix = model.key + "/"
    models: list[Resource] = [model]
    documents: list[str] = []
    for row in snapshot.rows.values():
        if not row.key.startswith(prefix):
            continue
        child = model_in(snapshot.topology, row)
        if child is not None:
            models.append(child)
        else:
            documents.append(row.id)
    change = delete_models(snapshot, models, documents)
    gone = {m.key for m in models}
    if change.topology is None or not change.topology.deployment_statuses:
        return change
    kept = tuple(
        s
        for s in change.topology.deployment_statuses
        if not (s.network_manager_id and id_key(s.network_manager_id) in gone)
        and not any(id_key(c) in gone for c in s.configuration_ids)
    )
    return dataclasses.replace(change, topology=change.topology.with_(deployment_statuses=kept))


def delete_models(snapshot: Snapshot, models: list[Resource], documents: Iterable[str]) -> Change[bool]:
    topology = snapshot.topology
    gone = {m.key for m in models}
    refuse_in_use(topology, models, gone)
    new = replace_models(topology, removed=gone)
    synced = sync_peerings(new, topology)
    if synced:
        new = replace_models(new, *synced)
    new, orphans = without_orphaned_flow_logs(new, topology)
    orphans = tuple(o for o in orphans if id_key(o) not in gone)
    deleted = (*(m.id for m in models), *documents, *orphans)
    return Change(put=tuple(synced), delete=deleted, topology=new, result=True)
