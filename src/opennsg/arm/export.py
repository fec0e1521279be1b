"""Model values -> ARM JSON as a GET returns it (no etag: the service adds it), and whole topologies as lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse import GATEWAY_PREFIXES_PROPERTY, IP_CONFIGURATION_TYPE, KIND_TYPES
from opennsg.model.defaults import default_security_rules
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    PublicIpAddress,
    Resource,
    RouteTable,
    SecurityRule,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.topology import Topology

SUCCEEDED = "Succeeded"

Exportable = Resource | SecurityRule | Subnet | VirtualNetworkPeering | Subscription


def _ref(resource_id: str | None) -> dict[str, str] | None:
    return {"id": resource_id} if resource_id else None


def _refs(ids: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _envelope(resource: Resource, kind: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": KIND_TYPES[kind],
        "location": resource.location,
        "tags": dict(resource.tags),
        "properties": {"provisioningState": SUCCEEDED, **_without_none(properties)},
    }


def rule_to_arm(rule: SecurityRule, nsg_id: str | None = None) -> dict[str, Any]:
    """A security rule (user or default). ARM echoes the unused plural fields as empty lists; so do we."""
    collection = "defaultSecurityRules" if rule.is_default else "securityRules"
    rule_id = rule.id or (f"{nsg_id}/{collection}/{rule.name}" if nsg_id else None)
    properties: dict[str, Any] = {
        "provisioningState": SUCCEEDED,
        "description": rule.description,
        "protocol": rule.protocol.value,
        "sourcePortRange": rule.source_port_range,
        "sourcePortRanges": list(rule.source_port_ranges),
        "destinationPortRange": rule.destination_port_range,
        "destinationPortRanges": list(rule.destination_port_ranges),
        "sourceAddressPrefix": rule.source_address_prefix,
        "sourceAddressPrefixes": list(rule.source_address_prefixes),
        "sourceApplicationSecurityGroups": _refs(rule.source_asgs) or None,
        "destinationAddressPrefix": rule.destination_address_prefix,
        "destinationAddressPrefixes": list(rule.destination_address_prefixes),
        "destinationApplicationSecurityGroups": _refs(rule.destination_asgs) or None,
        "access": rule.access.value,
        "priority": rule.priority,
        "direction": rule.direction.value,
    }
    return _without_none(
        {
            "id": rule_id,
            "name": rule.name,
            "type": f"{KIND_TYPES['networkSecurityGroups']}/{collection}",
            "properties": _without_none(properties),
        }
    )


def _nsg(nsg: NetworkSecurityGroup, topology: Topology | None) -> dict[str, Any]:
    defaults = nsg.default_security_rules or default_security_rules(nsg.id)
    properties: dict[str, Any] = {
        "resourceGuid": nsg.resource_guid,
        "flushConnection": nsg.flush_connection,
        "securityRules": [rule_to_arm(r, nsg.id) for r in nsg.security_rules],
        "defaultSecurityRules": [rule_to_arm(r, nsg.id) for r in defaults],
    }
    if topology is not None:
        subnets = topology.subnets_using_nsg(nsg.id)
        nics = topology.nics_using_nsg(nsg.id)
        properties["subnets"] = [{"id": s.id} for s in subnets] or None
        properties["networkInterfaces"] = [{"id": n.id} for n in nics] or None
    return _envelope(nsg, "networkSecurityGroups", properties)


def subnet_to_arm(subnet: Subnet) -> dict[str, Any]:
    prefixes = subnet.address_prefixes
    properties = {
        "provisioningState": SUCCEEDED,
        "addressPrefix": prefixes[0] if len(prefixes) == 1 else None,
        "addressPrefixes": list(prefixes) if len(prefixes) != 1 else None,
        "networkSecurityGroup": _ref(subnet.network_security_group),
        "routeTable": _ref(subnet.route_table),
    }
    return {
        "id": subnet.id,
        "name": subnet.name,
        "type": KIND_TYPES["subnets"],
        "properties": _without_none(properties),
    }


def peering_to_arm(peering: VirtualNetworkPeering) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": SUCCEEDED,
        "peeringState": peering.peering_state,
        "remoteVirtualNetwork": _ref(peering.remote_virtual_network),
        "remoteAddressSpace": {"addressPrefixes": list(peering.remote_address_space)},
        "allowVirtualNetworkAccess": peering.allow_virtual_network_access,
        "allowForwardedTraffic": peering.allow_forwarded_traffic,
        "allowGatewayTransit": peering.allow_gateway_transit,
        "useRemoteGateways": peering.use_remote_gateways,
        "peerCompleteVnets": peering.peer_complete_vnets,
        "enableOnlyIPv6Peering": peering.enable_only_ipv6_peering,
    }
    if peering.local_subnet_names or not peering.peer_complete_vnets:
        properties["localSubnetNames"] = list(peering.local_subnet_names)
    if peering.remote_subnet_names or not peering.peer_complete_vnets:
        properties["remoteSubnetNames"] = list(peering.remote_subnet_names)
    return {
        "id": peering.id,
        "name": peering.name,
        "type": KIND_TYPES["virtualNetworkPeerings"],
        "properties": _without_none(properties),
    }


def _vnet(vnet: VirtualNetwork) -> dict[str, Any]:
    properties = {
        "resourceGuid": vnet.resource_guid,
        "addressSpace": {"addressPrefixes": list(vnet.address_space)},
        "subnets": [subnet_to_arm(s) for s in vnet.subnets],
        "virtualNetworkPeerings": [peering_to_arm(p) for p in vnet.peerings],
        "flowTimeoutInMinutes": vnet.flow_timeout_in_minutes,
        GATEWAY_PREFIXES_PROPERTY: list(vnet.gateway_prefixes) or None,
    }
    return _envelope(vnet, "virtualNetworks", properties)


def _route_table(table: RouteTable) -> dict[str, Any]:
    routes = [
        {
            "id": f"{table.id}/routes/{route.name}",
            "name": route.name,
            "type": KIND_TYPES["routes"],
            "properties": _without_none(
                {
                    "provisioningState": SUCCEEDED,
                    "addressPrefix": route.address_prefix,
                    "nextHopType": route.next_hop_type,
                    "nextHopIpAddress": route.next_hop_ip_address,
                }
            ),
        }
        for route in table.routes
    ]
    properties = {"disableBgpRoutePropagation": table.disable_bgp_route_propagation, "routes": routes}
    return _envelope(table, "routeTables", properties)


def _ip_configuration(cfg: IpConfiguration) -> dict[str, Any]:
    properties = {
        "provisioningState": SUCCEEDED,
        "privateIPAddress": cfg.private_ip_address,
        "privateIPAddressVersion": cfg.private_ip_address_version,
        "subnet": _ref(cfg.subnet),
        "primary": cfg.primary,
        "publicIPAddress": _ref(cfg.public_ip_address),
        "applicationSecurityGroups": _refs(cfg.application_security_groups) or None,
        "loadBalancerBackendAddressPools": _refs(cfg.load_balancer_backend_address_pools) or None,
    }
    return {"id": cfg.id, "name": cfg.name, "type": IP_CONFIGURATION_TYPE, "properties": _without_none(properties)}


def _nic(nic: NetworkInterface) -> dict[str, Any]:
    properties = {
        "resourceGuid": nic.resource_guid,
        "ipConfigurations": [_ip_configuration(c) for c in nic.ip_configurations],
        "networkSecurityGroup": _ref(nic.network_security_group),
        "macAddress": nic.mac_address,
        "virtualMachine": _ref(nic.virtual_machine),
        "enableIPForwarding": nic.enable_ip_forwarding,
    }
    return _envelope(nic, "networkInterfaces", properties)


def _vm(vm: VirtualMachine) -> dict[str, Any]:
    nics: list[dict[str, Any]] = []
    for nic_id in vm.network_interfaces:
        entry: dict[str, Any] = {"id": nic_id}
        if vm.primary_network_interface is not None:
            entry["properties"] = {"primary": nic_id == vm.primary_network_interface}
        nics.append(entry)
    return _envelope(vm, "virtualMachines", {"networkProfile": {"networkInterfaces": nics}})


def _public_ip(address: PublicIpAddress) -> dict[str, Any]:
    properties = {"ipAddress": address.ip_address, "ipConfiguration": _ref(address.ip_configuration)}
    return _envelope(address, "publicIPAddresses", properties)


def subscription_to_arm(subscription: Subscription) -> dict[str, Any]:
    """``GET /subscriptions/{id}`` plus OpenNSG's SMTP properties (spec §0 "Outbound SMTP")."""
    out: dict[str, Any] = {
        "id": f"/subscriptions/{subscription.subscription_id}",
        "subscriptionId": subscription.subscription_id,
        "displayName": subscription.display_name,
        "state": "Enabled",
        "subscriptionPolicies": _without_none({"quotaId": subscription.quota_id}),
        "offerType": subscription.offer_type,
        "createdDate": subscription.created_date.isoformat() if subscription.created_date else None,
        "smtpExemption": subscription.smtp_exemption,
    }
    return _without_none(out)


def to_arm(resource: Exportable, topology: Topology | None = None) -> dict[str, Any]:
    """ARM JSON of one resource as a GET returns it; NSGs get ``subnets``/``networkInterfaces`` from ``topology``."""
    if isinstance(resource, SecurityRule):
        return rule_to_arm(resource)
    if isinstance(resource, Subnet):
        return subnet_to_arm(resource)
    if isinstance(resource, VirtualNetworkPeering):
        return peering_to_arm(resource)
    if isinstance(resource, Subscription):
        return subscription_to_arm(resource)
    if isinstance(resource, NetworkSecurityGroup):
        return _nsg(resource, topology)
    if isinstance(resource, VirtualNetwork):
        return _vnet(resource)
    if isinstance(resource, RouteTable):
        return _route_table(resource)
    if isinstance(resource, NetworkInterface):
        return _nic(resource)
    if isinstance(resource, VirtualMachine):
        return _vm(resource)
    if isinstance(resource, PublicIpAddress):
        return _public_ip(resource)
    if isinstance(resource, ApplicationSecurityGroup):
        return _envelope(resource, "applicationSecurityGroups", {"resourceGuid": resource.resource_guid})
    raise TypeError(f"cannot export {type(resource).__name__}")


def export_topology(topology: Topology) -> dict[str, Any]:
    """The whole topology as an ARM list ``{"value": [...]}`` that ``load_documents`` reads back unchanged."""
    resources: list[Exportable] = [
        *topology.subscriptions.values(),
        *topology.asgs.values(),
        *topology.route_tables.values(),
        *topology.nsgs.values(),
        *topology.vnets.values(),
        *topology.public_ips.values(),
        *topology.nics.values(),
        *topology.vms.values(),
    ]
    return {"value": [to_arm(r, topology) for r in resources]}


__all__ = ["export_topology", "peering_to_arm", "rule_to_arm", "subnet_to_arm", "subscription_to_arm", "to_arm"]
