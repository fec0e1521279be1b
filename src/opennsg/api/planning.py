"""Write planning: each function turns a request into a ``Change`` against a snapshot, or raises ApiError.

The RESULTING state is what gets validated (an NSG PUT replaces its rules; a rule PUT is checked against the whole
NSG; a subnet association needs the NSG to exist), using the model's own validation; nothing here re-implements
NSG semantics. What is ARM's own bookkeeping lives here: preconditions (ETags), immutable locations, resource
GUIDs, peering states, and refusing to delete what is still in use.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from opennsg import arm
from opennsg.api.catalog import (
    NETWORK_WATCHER_TYPE,
    RESOURCE_GROUP_TYPE,
    STORED_COLLECTIONS,
    SUBSCRIPTION_TYPE,
    ModelKind,
)
from opennsg.api.errors import ApiError, bad_request, group_not_found, not_found
from opennsg.api.linked import Caller, authorize_references
from opennsg.api.store import Change, Document, Row, Snapshot, kind_of
from opennsg.arm.parse import lookup as arm_lookup
from opennsg.flowlogs.filtering import selection_of
from opennsg.model.addressing import free_addresses
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import FlowLog
from opennsg.model.ids import ResourceId, id_key, network_id
from opennsg.model.policy import PRIVATE_SUBNETS_API_VERSION
from opennsg.model.resources import (
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    Resource,
    Subnet,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.topology import Topology
from opennsg.model.validation import Code, tag_problems, validate_nsg, validate_topology

PEERING_INITIATED = "Initiated"
PEERING_CONNECTED = "Connected"
PEERING_DISCONNECTED = "Disconnected"


@dataclasses.dataclass(frozen=True, slots=True)
class Preconditions:
    """``If-Match`` / ``If-None-Match`` of the request (``*`` or an ETag), checked against the stored ETag."""

    if_match: str | None = None
    if_none_match: str | None = None

    def check(self, etag: str | None) -> None:
        if self.if_match is not None and (etag is None or not _etag_in(self.if_match, etag)):
            raise ApiError(
                412, Code.PRECONDITION_FAILED, "The condition specified using HTTP conditional header(s) is not met."
            )
        if self.if_none_match is not None and etag is not None and _etag_in(self.if_none_match, etag):
            raise ApiError(
                412, Code.PRECONDITION_FAILED, "The condition specified using HTTP conditional header(s) is not met."
            )


def _bare(etag: str) -> str:
    text = etag.strip()
    if text.startswith("W/"):
        text = text[2:]
    return text.strip('"')


def _etag_in(header: str, etag: str) -> bool:
    wanted = {_bare(part) for part in header.split(",") if part.strip()}
    return "*" in wanted or _bare(etag) in wanted


R = TypeVar("R", bound=Resource)


def group_id(subscription: str, group: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}"


def require_group(snapshot: Snapshot, subscription: str, group: str) -> Row:
    row = snapshot.row(group_id(subscription, group))
    if row is None:
        raise group_not_found(group)
    return row


def _parse(kind: str, body: Mapping[str, Any], resource_id: str) -> Any:
    try:
        return arm.parse_resource(kind, dict(body), resource_id)
    except OpenNsgError as error:
        raise ApiError.invalid(error) from None


def _invalid(errors: Iterable[ArmError]) -> None:
    problems = list(errors)
    if problems:
        raise ApiError.invalid(OpenNsgError(problems))


def _location(body: Mapping[str, Any], existing: Resource | Document | None) -> None:
    """A location is required on create and immutable afterwards (semantics §7.1)."""
    given = body.get("location")
    if existing is None:
        if not isinstance(given, str) or not given.strip():
            raise ApiError(400, Code.LOCATION_REQUIRED, "The location property is required for this definition.")
        return
    old = existing.location if isinstance(existing, Resource) else str(existing.body.get("location", ""))
    if isinstance(given, str) and old and given.replace(" ", "").casefold() != old.replace(" ", "").casefold():
        raise ApiError(
            400,
            Code.INVALID_RESOURCE_LOCATION,
            f"The resource already exists in location '{old}'. A resource with the same name cannot be created "
            f"in location '{given}'.",
        )


def _keep_guid(model: Resource, existing: Resource | None) -> Resource:
    """``resourceGuid`` is read-only: assigned on create, kept across updates."""
    if not hasattr(model, "resource_guid"):
        return model
    guid = getattr(existing, "resource_guid", None) or getattr(model, "resource_guid", None) or str(uuid.uuid4())
    changes: dict[str, Any] = {"resource_guid": guid}
    return dataclasses.replace(model, **changes)


def _current(topology: Topology, kind: ModelKind, resource_id: str) -> Resource | None:
    collection: Mapping[str, Resource] = getattr(topology, kind.collection)
    return collection.get(id_key(resource_id))


def _replace(topology: Topology, *models: Resource, removed: Iterable[str] = ()) -> Topology:
    """The topology with these models put (by id) and the ``removed`` ids dropped, touching only their collections."""
    gone = {id_key(r) for r in removed}
    touched: dict[str, dict[str, Resource]] = {}
    for model in models:
        collection = kind_of(model).collection
        touched.setdefault(collection, dict(getattr(topology, collection)))[model.key] = model
    for key in gone:
        parsed = ResourceId.parse(key)
        if parsed is None:
            continue
        for kind_collection in STORED_COLLECTIONS:
            current: Mapping[str, Resource] = getattr(topology, kind_collection)
            if key in current:
                touched.setdefault(kind_collection, dict(current)).pop(key, None)
    if not touched:
        return topology
    return topology.with_(**{name: list(items.values()) for name, items in touched.items()})


def _check_state(new: Topology, changed: Iterable[Resource]) -> None:
    """Validate the resulting state: each changed NSG in full, and the references/limits of the whole topology."""
    problems: list[ArmError] = []
    only_nsgs = True
    for model in changed:
        if isinstance(model, NetworkSecurityGroup):
            problems.extend(validate_nsg(model, new))
        else:
            only_nsgs = False
    if not only_nsgs:
        problems.extend(validate_topology(new))
    _invalid(problems)


def flow_log_selection_problems(flow_logs: Iterable[FlowLog]) -> list[ArmError]:
    """Every problem of the flow logs' ``enabledFilteringCriteria`` and ``recordTypes`` (their grammar is
    ``opennsg.flowlogs.filtering``), each pointing at its flow log."""
    problems: list[ArmError] = []
    for flow_log in flow_logs:
        try:
            selection_of(flow_log)
        except OpenNsgError as error:
            problems.extend(
                dataclasses.replace(e, target=f"{flow_log.id}#{e.target}" if e.target else flow_log.id)
                for e in error.errors
            )
    return problems


def orphaned_flow_logs(new: Topology, old: Topology) -> list[str]:
    """Flow logs whose target this change removes (an NSG, VNet, subnet or NIC deleted): they go with it, as
    Network Watcher deletes a flow log with the resource it records."""
    return [
        flow_log.id
        for flow_log in new.flow_logs.values()
        if new.flow_log_target(flow_log) is None and old.flow_log_target(flow_log) is not None
    ]


def _without_orphaned_flow_logs(new: Topology, old: Topology) -> tuple[Topology, tuple[str, ...]]:
    gone = orphaned_flow_logs(new, old)
    return (_replace(new, removed=gone), tuple(gone)) if gone else (new, ())


def sync_peerings(new: Topology, old: Topology) -> list[VirtualNetwork]:
    """Peering state and remoteAddressSpace follow both sides: Initiated until the remote VNet peers back, then
    Connected; Disconnected once a Connected remote side goes away. Returns the VNets that changed."""
    changed: list[VirtualNetwork] = []
    for vnet in new.vnets.values():
        old_vnet = old.vnet(vnet.id)
        before = {p.name.casefold(): p for p in old_vnet.peerings} if old_vnet else {}
        peerings: list[VirtualNetworkPeering] = []
        for peering in vnet.peerings:
            remote = new.vnet(peering.remote_virtual_network)
            reciprocal = remote is not None and any(
                p.remote_virtual_network and id_key(p.remote_virtual_network) == vnet.key for p in remote.peerings
            )
            previous = before.get(peering.name.casefold())
            was = previous.peering_state if previous is not None else PEERING_INITIATED
            if reciprocal:
                state = PEERING_CONNECTED
            elif was in (PEERING_CONNECTED, PEERING_DISCONNECTED):
                state = PEERING_DISCONNECTED
            else:
                state = PEERING_INITIATED
            space = remote.address_space if remote is not None else peering.remote_address_space
            peerings.append(dataclasses.replace(peering, peering_state=state, remote_address_space=space))
        if tuple(peerings) != vnet.peerings:
            changed.append(dataclasses.replace(vnet, peerings=tuple(peerings)))
    return changed


def _with_synced_peerings(new: Topology, old: Topology, models: list[Resource]) -> tuple[Topology, list[Resource]]:
    synced = sync_peerings(new, old)
    if not synced:
        return new, models
    by_key = {m.key: m for m in models}
    for vnet in synced:
        by_key[vnet.key] = vnet
    return _replace(new, *synced), list(by_key.values())


# --- top-level resources --------------------------------------------------------------------------------------------


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
    existing = _current(topology, kind, resource_id)
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row else None)
    _location(body, existing)
    model: Resource = _with_child_ids(_parse(kind.arm_kind, body, existing.id if existing else resource_id))
    authorize_references(caller, model, existing, f"{kind.type}/write", model.id)
    if existing is not None and not model.location:
        model = dataclasses.replace(model, location=existing.location)
    model = _keep_guid(model, existing)
    if isinstance(model, NetworkInterface):
        model = _with_dynamic_addresses(topology, _with_primary(model), existing)
    if isinstance(model, VirtualNetwork):
        model = with_outbound_access_defaults(model, existing, api_version)
    models: list[Resource] = [model]
    if isinstance(model, PrivateEndpoint):
        model, endpoint_nic = _with_endpoint_nic(topology, model, existing)
        models = [model] if endpoint_nic is None else [model, endpoint_nic]
    if isinstance(model, VirtualNetwork) and isinstance(existing, VirtualNetwork):
        kept = {s.key for s in model.subnets}
        _refuse_subnets_in_use(topology, [s for s in existing.subnets if s.key not in kept])
    new = _replace(topology, *models)
    if isinstance(model, VirtualNetwork):
        new, models = _with_synced_peerings(new, topology, models)
    new, orphans = _without_orphaned_flow_logs(new, topology)
    _check_state(new, models)
    return Change(put=tuple(models), delete=orphans, topology=new, result=existing is None)


def _with_endpoint_nic(
    topology: Topology, endpoint: PrivateEndpoint, existing: Resource | None
) -> tuple[PrivateEndpoint, NetworkInterface | None]:
    """A private endpoint owns a NIC that Azure creates with it (semantics §12.1): named by
    ``customNetworkInterfaceName`` or ``{endpoint}.nic.{guid}``, in the endpoint's subnet, at its static address or
    the next free one (its ASGs stay on the endpoint, as in Azure). An endpoint that exists keeps the NIC it has."""
    if isinstance(existing, PrivateEndpoint) and existing.network_interfaces:
        return dataclasses.replace(endpoint, network_interfaces=existing.network_interfaces), None
    if endpoint.subnet is None:
        return endpoint, None
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
    nic = _with_dynamic_addresses(topology, nic, topology.nic(nic_id))
    return dataclasses.replace(endpoint, network_interfaces=(nic_id,)), nic


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


#: Children held inside a resource's body: (attribute, URL segment). Their ids are read-only, derived from the
#: parent's id and the child's name (an id given in the body could name another resource, even in another
#: subscription).
NESTED_CHILDREN: dict[type, tuple[tuple[str, str], ...]] = {
    NetworkSecurityGroup: (("security_rules", "securityRules"),),
    VirtualNetwork: (("subnets", "subnets"), ("peerings", "virtualNetworkPeerings")),
    NetworkInterface: (("ip_configurations", "ipConfigurations"),),
}


def _with_child_ids(model: Resource) -> Resource:
    changes: dict[str, Any] = {}
    for attribute, segment in NESTED_CHILDREN.get(type(model), ()):
        children = getattr(model, attribute)
        changes[attribute] = tuple(
            dataclasses.replace(child, id=f"{model.id}/{segment}/{child.name}") for child in children
        )
    return dataclasses.replace(model, **changes) if changes else model


def _tags(body: Mapping[str, Any]) -> dict[str, str]:
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        message = "Cannot parse the request: 'tags' must map strings to strings."
        raise ApiError(400, Code.INVALID_REQUEST_FORMAT, message)
    return dict(tags)


def _with_primary(nic: NetworkInterface) -> NetworkInterface:
    """A NIC's only IP configuration is its primary one, as Azure reports it."""
    if len(nic.ip_configurations) != 1 or nic.ip_configurations[0].primary:
        return nic
    return dataclasses.replace(nic, ip_configurations=(dataclasses.replace(nic.ip_configurations[0], primary=True),))


def _with_dynamic_addresses(topology: Topology, nic: NetworkInterface, existing: Resource | None) -> NetworkInterface:
    """An IP configuration without a private address gets one, as Azure's Dynamic allocation does: the address it
    already had, else the lowest free one in its subnet (Azure reserves the first four and the last)."""
    before = (
        {(c.name.casefold(), id_key(c.subnet or "")): c.private_ip_address for c in existing.ip_configurations}
        if isinstance(existing, NetworkInterface)
        else {}
    )
    taken: dict[str, set[str]] = {}  # subnet key -> addresses in use there
    for other in [n for n in topology.nics.values() if n.key != nic.key] + [nic]:
        for c in other.ip_configurations:
            if c.private_ip_address and c.subnet:
                taken.setdefault(id_key(c.subnet), set()).add(c.private_ip_address)
    configurations: list[IpConfiguration] = []
    for configuration in nic.ip_configurations:
        address = configuration.private_ip_address or before.get(
            (configuration.name.casefold(), id_key(configuration.subnet or ""))
        )
        # a configuration asking for a block of addresses (privateIPAddressPrefixLength) gets no single address
        if address is None and configuration.subnet and configuration.private_ip_address_prefix_length is None:
            in_subnet = taken.setdefault(id_key(configuration.subnet), set())
            address = _free_address(
                topology.subnet(configuration.subnet), configuration.private_ip_address_version, in_subnet
            )
            if address is not None:
                in_subnet.add(address)
        configurations.append(dataclasses.replace(configuration, private_ip_address=address))
    return dataclasses.replace(nic, ip_configurations=tuple(configurations))


def _with_imported_dynamic_addresses(
    new: Topology, old: Topology, models: list[Resource]
) -> tuple[Topology, list[Resource]]:
    """Imported NICs get their Dynamic addresses as PUT NICs do, one NIC after another (each sees the addresses
    given before it; every static address of the import is already taken)."""
    out: list[Resource] = []
    for model in models:
        if isinstance(model, NetworkInterface):
            model = _with_dynamic_addresses(new, model, old.nics.get(model.key))
            new = _replace(new, model)
        out.append(model)
    return new, out


def _free_address(subnet: Subnet | None, version: str, taken: set[str]) -> str | None:
    """The lowest usable address of the subnet not in ``taken`` (None when the subnet is unknown or full)."""
    if subnet is None:
        return None
    return next(free_addresses(subnet, taken, 6 if version.casefold() == "ipv6" else 4), None)


def patch_tags(snapshot: Snapshot, kind: ModelKind, resource_id: str, body: Mapping[str, Any]) -> Change[bool]:
    """PATCH with a TagsObject: replaces the tags, nothing else."""
    existing = _current(snapshot.topology, kind, resource_id)
    if existing is None:
        raise _missing(resource_id)
    model = dataclasses.replace(existing, tags=_tags(body))
    _invalid(tag_problems(model.id, model.tags))
    return Change(put=(model,), topology=_replace(snapshot.topology, model), result=False)


def delete_resource(snapshot: Snapshot, kind: ModelKind, resource_id: str) -> Change[bool]:
    """DELETE; refuses while other resources still use it. Result: whether it existed. A private endpoint's NIC
    goes with it."""
    existing = _current(snapshot.topology, kind, resource_id)
    if existing is None:
        return Change(result=False)
    if isinstance(existing, PrivateEndpoint):
        owned = [
            n
            for n in snapshot.topology.nics.values()
            if n.private_endpoint and id_key(n.private_endpoint) == existing.key
        ]
        return _delete_models(snapshot, [existing, *owned], ())
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
    change = _delete_models(snapshot, models, documents)
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


def parse_model(kind: str, body: Mapping[str, Any], resource_id: str) -> Resource:
    """A PUT body as a model value; 400 with every problem when it cannot be read."""
    model = _parse(kind, body, resource_id)
    assert isinstance(model, Resource)
    return model


def keep_guid(model: R, existing: Resource | None) -> R:
    """``resourceGuid`` is read-only: assigned on create, kept across updates."""
    return _keep_guid(model, existing)  # type: ignore[return-value]


def replace_models(topology: Topology, *models: Resource) -> Topology:
    return _replace(topology, *models)


def check_topology(new: Topology) -> None:
    """400 with every problem of the resulting state (nothing is written then)."""
    _invalid(validate_topology(new))


def _delete_models(snapshot: Snapshot, models: list[Resource], documents: Iterable[str]) -> Change[bool]:
    topology = snapshot.topology
    gone = {m.key for m in models}
    _refuse_in_use(topology, models, gone)
    new = _replace(topology, removed=gone)
    synced = sync_peerings(new, topology)
    if synced:
        new = _replace(new, *synced)
    new, orphans = _without_orphaned_flow_logs(new, topology)
    orphans = tuple(o for o in orphans if id_key(o) not in gone)
    deleted = (*(m.id for m in models), *documents, *orphans)
    return Change(put=tuple(synced), delete=deleted, topology=new, result=True)


def _in_use(code: str, resource_id: str, users: Iterable[str]) -> ApiError:
    names = ", ".join(sorted(set(users)))
    return ApiError(
        400, code, f"Resource {resource_id} is in use by {names} and cannot be deleted.", (ArmError(code, names),)
    )


def _refuse_subnets_in_use(topology: Topology, subnets: Iterable[Subnet], gone: set[str] | None = None) -> None:
    for subnet in subnets:
        users = [
            cfg.id
            for nic in topology.nics.values()
            if gone is None or nic.key not in gone
            for cfg in nic.ip_configurations
            if cfg.subnet and id_key(cfg.subnet) == subnet.key
        ]
        if users:
            raise _in_use("InUseSubnetCannotBeDeleted", subnet.id, users)


def _refuse_in_use(topology: Topology, models: Iterable[Resource], gone: set[str]) -> None:
    """Deleting ``models`` (ids in ``gone``) must leave no reference from a resource that stays."""
    for model in models:
        kind = kind_of(model)
        users: list[str] = []
        if kind.collection == "nsgs":
            users = [s.id for s in topology.subnets_using_nsg(model.id) if id_key(s.vnet_id) not in gone]
            users += [n.id for n in topology.nics_using_nsg(model.id) if n.key not in gone]
        elif kind.collection == "asgs":
            users = [n.id for n in topology.nics_in_asg(model.id) if n.key not in gone]
            users += [
                nsg.id
                for nsg in topology.nsgs.values()
                if nsg.key not in gone
                and any(
                    model.key in {id_key(a) for a in (*r.source_asgs, *r.destination_asgs)} for r in nsg.security_rules
                )
            ]
        elif isinstance(model, VirtualNetwork):
            _refuse_subnets_in_use(topology, model.subnets, gone)
        elif kind.collection == "route_tables":
            users = [s.id for s in topology.subnets if s.route_table and id_key(s.route_table) == model.key]
            users = [u for u in users if id_key(u).rsplit("/", 2)[0] not in gone]
        elif kind.collection == "nics":
            users = [
                vm.id
                for vm in topology.vms.values()
                if vm.key not in gone and model.key in {id_key(n) for n in vm.network_interfaces}
            ]
            users += [
                e.id
                for e in topology.private_endpoints.values()
                if e.key not in gone and model.key in {id_key(n) for n in e.network_interfaces}
            ]
        elif kind.collection == "nat_gateways":
            users = [s.id for s in topology.subnets if s.nat_gateway and id_key(s.nat_gateway) == model.key]
            users = [u for u in users if id_key(u).rsplit("/", 2)[0] not in gone]
        elif kind.collection == "network_groups":
            users = [
                c.id
                for c in topology.admin_rule_collections.values()
                if c.key not in gone and model.key in {id_key(g) for g in c.applies_to_groups}
            ]
        elif kind.collection == "public_ips":
            users = [
                nic.id
                for nic in topology.nics.values()
                if nic.key not in gone
                and any(c.public_ip_address and id_key(c.public_ip_address) == model.key for c in nic.ip_configurations)
            ]
            users += [
                lb.id
                for lb in topology.load_balancers.values()
                if lb.key not in gone
                and any(f.public_ip_address and id_key(f.public_ip_address) == model.key
                        for f in lb.frontend_ip_configurations)
            ]  # fmt: skip
        elif kind.collection == "load_balancers":
            users = [
                nic.id
                for nic in topology.nics.values()
                if nic.key not in gone
                and any(
                    id_key(pool).startswith(f"{model.key}/")
                    for c in nic.ip_configurations
                    for pool in c.load_balancer_backend_address_pools
                )
            ]
        if users:
            raise _in_use(kind.in_use_code, model.id, users)


def _missing(resource_id: str) -> ApiError:
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None
    return not_found(parsed.type, parsed.name, parsed.resource_group)


# --- child resources: security rules, subnets, peerings (stored inside their parent) -------------------------------


def parent_of(snapshot: Snapshot, kind: ModelKind, parent_id: str) -> Resource:
    parsed = ResourceId.parse(parent_id)
    assert parsed is not None and parsed.resource_group is not None
    require_group(snapshot, parsed.subscription, parsed.resource_group)
    parent = _current(snapshot.topology, kind, parent_id)
    if parent is None:
        raise _missing(parent_id)
    return parent


def _children(parent: Resource, collection: str) -> tuple[Any, ...]:
    items: tuple[Any, ...] = getattr(parent, collection)
    return items


def _put_child(items: tuple[Any, ...], child: Any) -> tuple[tuple[Any, ...], bool]:
    folded = child.name.casefold()
    for i, item in enumerate(items):
        if item.name.casefold() == folded:
            return (*items[:i], dataclasses.replace(child, name=item.name), *items[i + 1 :]), False
    return (*items, child), True


def put_child(
    snapshot: Snapshot,
    kind: ModelKind,
    parent_id: str,
    collection: str,
    arm_kind: str,
    name: str,
    body: Mapping[str, Any],
    conditions: Preconditions,
    caller: Caller,
) -> Change[bool]:
    """PUT of a security rule, subnet, peering or route: the parent is re-validated as a whole."""
    given = arm_lookup(body, "name")
    if isinstance(given, str) and given.casefold() != name.casefold():
        raise bad_request(
            f"The resource name '{given}' in the request body does not match the name '{name}' in the request URI."
        )
    parent = parent_of(snapshot, kind, parent_id)
    items = _children(parent, collection)
    existing = next((c for c in items if c.name.casefold() == name.casefold()), None)
    conditions.check(snapshot.rows[parent.key].etag if existing is not None else None)
    segment = {
        "security_rules": "securityRules",
        "subnets": "subnets",
        "peerings": "virtualNetworkPeerings",
        "routes": "routes",
    }[collection]
    child_id = f"{parent.id}/{segment}/{existing.name if existing else name}"
    child = dataclasses.replace(_parse(arm_kind, body, child_id), name=existing.name if existing else name)
    authorize_references(caller, child, existing, f"{kind.type}/{segment}/write", child_id)
    if isinstance(child, Subnet) and isinstance(existing, Subnet) and child.default_outbound_access is None:
        child = dataclasses.replace(child, default_outbound_access=existing.default_outbound_access)
    new_items, created = _put_child(items, child)
    model = dataclasses.replace(parent, **{collection: new_items})  # type: ignore[arg-type]
    topology = snapshot.topology
    models: list[Resource] = [model]
    new = _replace(topology, model)
    if isinstance(model, VirtualNetwork):
        new, models = _with_synced_peerings(new, topology, models)
    _check_state(new, models)
    return Change(put=tuple(models), topology=new, result=created)


def delete_child(snapshot: Snapshot, kind: ModelKind, parent_id: str, collection: str, name: str) -> Change[bool]:
    parent = parent_of(snapshot, kind, parent_id)
    items = _children(parent, collection)
    existing = next((c for c in items if c.name.casefold() == name.casefold()), None)
    if existing is None:
        return Change(result=False)
    if isinstance(existing, Subnet):
        _refuse_subnets_in_use(snapshot.topology, [existing])
    model = dataclasses.replace(parent, **{collection: tuple(c for c in items if c is not existing)})  # type: ignore[arg-type]
    topology = snapshot.topology
    models: list[Resource] = [model]
    new = _replace(topology, model)
    if isinstance(model, VirtualNetwork):
        new, models = _with_synced_peerings(new, topology, models)
    new, orphans = _without_orphaned_flow_logs(new, topology)
    return Change(put=tuple(models), delete=orphans, topology=new, result=True)


# --- documents: resource groups, network watchers -----------------------------------------------------------------


def put_document(
    snapshot: Snapshot, resource_id: str, resource_type: str, body: dict[str, Any], conditions: Preconditions
) -> Change[bool]:
    """PUT of a resource the model does not know: stored as given, with ARM's read-only fields."""
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row else None)
    existing = Document(row.id, row.type, row.body) if row else None
    _location(body, existing)
    stored_id = row.id if row else resource_id
    _invalid(tag_problems(stored_id, _tags(body)))
    document = {
        "id": stored_id,
        "name": stored_id.rsplit("/", 1)[-1],
        "type": resource_type,
        "location": body["location"] if "location" in body else (existing.body.get("location") if existing else ""),
        "tags": body.get("tags") or {},
        "properties": {"provisioningState": "Succeeded"},
    }
    if resource_type == RESOURCE_GROUP_TYPE:
        managed_by = body.get("managedBy")
        if isinstance(managed_by, str):
            document["managedBy"] = managed_by
    return Change(put=(Document(stored_id, resource_type, document),), result=row is None)


def patch_document_tags(
    snapshot: Snapshot, resource_id: str, body: Mapping[str, Any], conditions: Preconditions
) -> Change[bool]:
    """PATCH of a resource group or network watcher: the tags are replaced when given, the rest is kept."""
    row = snapshot.row(resource_id)
    if row is None:
        raise _missing(resource_id)
    kept = {k: v for k, v in row.body.items() if k in ("location", "tags", "managedBy")}
    if "tags" in body:
        kept["tags"] = _tags(body)
    return put_document(snapshot, resource_id, row.type, kept, conditions)


def delete_group(snapshot: Snapshot, subscription: str, group: str) -> Change[bool]:
    """Deleting a resource group deletes everything in it, unless something outside still uses it."""
    row = snapshot.row(group_id(subscription, group))
    if row is None:
        return Change(result=False)
    group_key = group.casefold()
    models: list[Resource] = []
    documents: list[str] = [row.id]
    for stored in snapshot.rows.values():
        if stored.key == row.key or stored.parsed.subscription.casefold() != subscription.casefold():
            continue
        if stored.group_key != group_key:
            continue
        model = model_in(snapshot.topology, stored)
        if model is not None:
            models.append(model)
        else:
            documents.append(stored.id)
    return _delete_models(snapshot, models, documents)


def model_in(topology: Topology, row: Row) -> Resource | None:
    for collection in STORED_COLLECTIONS:
        found: Resource | None = getattr(topology, collection).get(row.key)
        if found is not None:
            return found
    return None


def delete_document(snapshot: Snapshot, resource_id: str) -> Change[bool]:
    """DELETE of a resource the model does not know, with the modelled children stored under it (a network
    watcher's flow logs)."""
    row = snapshot.row(resource_id)
    if row is None:
        return Change(result=False)
    prefix = row.key + "/"
    children = [r.id for r in snapshot.rows.values() if r.key.startswith(prefix)]
    if not children:
        return Change(delete=(row.id,), result=True)
    return Change(delete=(row.id, *children), topology=_replace(snapshot.topology, removed=children), result=True)


# --- bulk import ----------------------------------------------------------------------------------------------------


def import_topology(snapshot: Snapshot, imported: Topology) -> Change[int]:
    """Put every resource of an imported topology at once (``opennsg serve --import``), creating missing resource
    groups; the merged state is validated as a whole, so nothing is stored when anything is invalid.
    Result: the number of resources written."""
    models: list[Resource] = [
        *imported.asgs.values(),
        *imported.nsgs.values(),
        *imported.route_tables.values(),
        *imported.public_ips.values(),
        *imported.vnets.values(),
        *imported.nics.values(),
        *imported.vms.values(),
        *imported.nat_gateways.values(),
        *imported.private_endpoints.values(),
        *imported.flow_logs.values(),
    ]
    groups: dict[str, Document] = {}
    for model in models:
        parsed = ResourceId.parse(model.id)
        if parsed is None or parsed.resource_group is None:
            continue
        rg_id = group_id(parsed.subscription, parsed.resource_group)
        if snapshot.row(rg_id) is None and id_key(rg_id) not in groups:
            body = {
                "id": rg_id,
                "name": parsed.resource_group,
                "type": RESOURCE_GROUP_TYPE,
                "location": model.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            }
            groups[id_key(rg_id)] = Document(rg_id, RESOURCE_GROUP_TYPE, body)
    watchers: dict[str, Document] = {}
    for flow_log in imported.flow_logs.values():  # a flow log lives under its network watcher
        watcher = flow_log.network_watcher_id
        if snapshot.row(watcher) is None and id_key(watcher) not in watchers:
            body = {
                "id": watcher,
                "name": watcher.rsplit("/", 1)[-1],
                "type": NETWORK_WATCHER_TYPE,
                "location": flow_log.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            }
            watchers[id_key(watcher)] = Document(watcher, NETWORK_WATCHER_TYPE, body)
    subscriptions = [
        Document(f"/subscriptions/{sub.subscription_id}", SUBSCRIPTION_TYPE, arm.to_arm(sub))
        for sub in imported.subscriptions.values()
    ]
    new = _replace(snapshot.topology, *models).with_(
        subscriptions=[*snapshot.topology.subscriptions.values(), *imported.subscriptions.values()]
    )
    new, models = _with_imported_dynamic_addresses(new, snapshot.topology, models)
    new, models = _with_synced_peerings(new, snapshot.topology, models)
    _invalid([*validate_topology(new), *flow_log_selection_problems(imported.flow_logs.values())])
    return Change(
        put=(*groups.values(), *watchers.values(), *subscriptions, *models),
        topology=new,
        result=len(models) + len(subscriptions),
    )
