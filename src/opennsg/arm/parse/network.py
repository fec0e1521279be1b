"""Virtual networks (subnets, peerings), route tables (routes), public IP addresses and NAT gateways."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.enums import IpAllocationMethod, PrivateEndpointNetworkPolicies
from opennsg.model.resources import (
    Delegation,
    NatGateway,
    PublicIpAddress,
    PublicIpDnsSettings,
    Route,
    RouteTable,
    ServiceEndpoint,
    Subnet,
    VirtualNetwork,
    VirtualNetworkEncryption,
    VirtualNetworkPeering,
)
from opennsg.model.validation import Code


def _address_prefixes(obj: Mapping[str, Any], reader: Reader, path: str) -> tuple[str, ...]:
    """``{"addressPrefixes": [...]}`` objects such as ``addressSpace`` and ``remoteAddressSpace``."""
    return reader.texts(obj, "addressPrefixes", path)


def parse_subnet(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> Subnet:
    props, pp = properties_of(body, path)
    plural = reader.texts(props, "addressPrefixes", pp)
    singular = reader.text(props, "addressPrefix", pp)
    return Subnet(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        address_prefixes=plural or ((singular,) if singular else ()),
        network_security_group=reader.reference(props, "networkSecurityGroup", pp),
        route_table=reader.reference(props, "routeTable", pp),
        nat_gateway=reader.reference(props, "natGateway", pp),
        private_endpoint_network_policies=reader.enum(
            props,
            "privateEndpointNetworkPolicies",
            pp,
            PrivateEndpointNetworkPolicies,
            Code.INVALID_PRIVATE_ENDPOINT_NETWORK_POLICIES,
            subject=f"Subnet {resource_id}",
        ),
        default_outbound_access=reader.optional_flag(props, "defaultOutboundAccess", pp),
        delegations=_delegations(props, reader, pp),
        application_gateway_ip_configurations=reader.references(props, "applicationGatewayIPConfigurations", pp),
        service_endpoints=_service_endpoints(props, reader, pp),
        service_endpoint_policies=reader.references(props, "serviceEndpointPolicies", pp),
    )


def _delegations(props: Mapping[str, Any], reader: Reader, path: str) -> tuple[Delegation, ...]:
    """Each delegation's name and ``serviceName`` (wrapped in ``properties`` by ARM, flattened by az)."""
    out: list[Delegation] = []
    for i, (item, ipath) in enumerate(reader.objects(props, "delegations", path)):
        inner, ip = properties_of(item, ipath)
        service = reader.text(inner, "serviceName", ip)
        if service:
            out.append(Delegation(reader.text(item, "name", ipath) or f"delegation{i + 1}", service))
    return tuple(out)


def _service_endpoints(props: Mapping[str, Any], reader: Reader, path: str) -> tuple[ServiceEndpoint, ...]:
    out: list[ServiceEndpoint] = []
    for item, ipath in reader.objects(props, "serviceEndpoints", path):
        service = reader.text(item, "service", ipath, required=True)
        if service:
            out.append(
                ServiceEndpoint(
                    service,
                    reader.texts(item, "locations", ipath),
                    reader.reference(item, "networkIdentifier", ipath),
                )
            )
    return tuple(out)


def _encryption(props: Mapping[str, Any], reader: Reader, path: str) -> VirtualNetworkEncryption | None:
    item = reader.object(props, "encryption", path)
    if item is None:
        return None
    ipath = f"{path}encryption."
    enabled = reader.get(item, "enabled")
    if enabled is None:
        reader.missing("enabled", f"{ipath}enabled")
    return VirtualNetworkEncryption(reader.flag(item, "enabled", ipath), reader.text(item, "enforcement", ipath))


def _bgp_community(props: Mapping[str, Any], reader: Reader, path: str) -> str | None:
    found = reader.object(props, "bgpCommunities", path)
    if found is None:
        return None
    return reader.text(found, "virtualNetworkCommunity", f"{path}bgpCommunities.", required=True)


def parse_peering(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> VirtualNetworkPeering:
    props, pp = properties_of(body, path)
    space = reader.object(props, "remoteAddressSpace", pp)
    return VirtualNetworkPeering(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        remote_virtual_network=reader.reference(props, "remoteVirtualNetwork", pp),
        remote_address_space=(
            _address_prefixes(space, reader, f"{pp}remoteAddressSpace.") if isinstance(space, Mapping) else ()
        ),
        peering_state=reader.text(props, "peeringState", pp) or "Connected",
        allow_virtual_network_access=reader.flag(props, "allowVirtualNetworkAccess", pp, default=True),
        allow_forwarded_traffic=reader.flag(props, "allowForwardedTraffic", pp),
        allow_gateway_transit=reader.flag(props, "allowGatewayTransit", pp),
        use_remote_gateways=reader.flag(props, "useRemoteGateways", pp),
        peer_complete_vnets=reader.flag(props, "peerCompleteVnets", pp, default=True),
        local_subnet_names=reader.texts(props, "localSubnetNames", pp),
        remote_subnet_names=reader.texts(props, "remoteSubnetNames", pp),
        enable_only_ipv6_peering=reader.flag(props, "enableOnlyIPv6Peering", pp),
    )


#: OpenNSG's own VNet property for on-premises prefixes behind the VNet's gateways (semantics §0 VirtualNetwork tag);
#: ARM has no such property on a VNet, so export writes it only when the model has some.
GATEWAY_PREFIXES_PROPERTY = "gatewayAddressPrefixes"


def parse_vnet(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> VirtualNetwork:
    props, pp = properties_of(body, path)
    space = reader.object(props, "addressSpace", pp)
    subnets = [
        parse_subnet(child.body, child.id, reader, child.path)
        for child in reader.children(resource_id, "subnets", props, pp)
    ]
    peerings = [
        parse_peering(child.body, child.id, reader, child.path)
        for child in reader.children(resource_id, "virtualNetworkPeerings", props, pp)
    ]
    return VirtualNetwork(
        **reader.tracked(body, resource_id, path),
        address_space=_address_prefixes(space, reader, f"{pp}addressSpace.") if isinstance(space, Mapping) else (),
        subnets=tuple(subnets),
        peerings=tuple(peerings),
        flow_timeout_in_minutes=reader.integer(props, "flowTimeoutInMinutes", pp),
        gateway_prefixes=reader.texts(props, GATEWAY_PREFIXES_PROPERTY, pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
        bgp_community=_bgp_community(props, reader, pp),
        encryption=_encryption(props, reader, pp),
    )


def parse_route(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> Route:
    props, pp = properties_of(body, path)
    return Route(
        name=reader.name(body, resource_id, path),
        address_prefix=reader.text(props, "addressPrefix", pp, required=True) or "",
        next_hop_type=reader.text(props, "nextHopType", pp, required=True) or "",
        next_hop_ip_address=reader.text(props, "nextHopIpAddress", pp),
    )


def parse_route_table(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> RouteTable:
    props, pp = properties_of(body, path)
    routes = [
        parse_route(child.body, child.id, reader, child.path)
        for child in reader.children(resource_id, "routes", props, pp)
    ]
    return RouteTable(
        **reader.tracked(body, resource_id, path),
        routes=tuple(routes),
        disable_bgp_route_propagation=reader.flag(props, "disableBgpRoutePropagation", pp),
    )


def allocation_method(
    props: Mapping[str, Any], name: str, reader: Reader, path: str, resource_id: str
) -> IpAllocationMethod | None:
    """``privateIPAllocationMethod`` / ``publicIPAllocationMethod``: ``Static`` or ``Dynamic``."""
    return reader.enum(
        props, name, path, IpAllocationMethod, Code.INVALID_REQUEST_FORMAT, subject=f"Resource {resource_id}"
    )


def parse_public_ip(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> PublicIpAddress:
    props, pp = properties_of(body, path)
    sku = reader.sku(body, path)
    header = reader.tracked(body, resource_id, path)
    return PublicIpAddress(
        **header,
        ip_address=reader.text(props, "ipAddress", pp),
        ip_configuration=reader.reference(props, "ipConfiguration", pp),
        sku_name=sku[0],
        sku_tier=sku[1],
        public_ip_address_version=reader.text(props, "publicIPAddressVersion", pp),
        nat_gateway=reader.reference(props, "natGateway", pp),
        zones=reader.texts(body, "zones", path),
        public_ip_allocation_method=allocation_method(props, "publicIPAllocationMethod", reader, pp, resource_id),
        idle_timeout_in_minutes=reader.integer(props, "idleTimeoutInMinutes", pp),
        dns_settings=_public_ip_dns(props, reader, pp, header["location"]),
    )


def _public_ip_dns(props: Mapping[str, Any], reader: Reader, path: str, location: str) -> PublicIpDnsSettings | None:
    """``dnsSettings``; without an ``fqdn``, the one Azure assigns to the label: ``<label>.<region>.cloudapp.azure.com``
    (a scoped label gets a hashed name Azure alone knows, so none is made up then)."""
    item = reader.object(props, "dnsSettings", path)
    if item is None:
        return None
    ipath = f"{path}dnsSettings."
    label = reader.text(item, "domainNameLabel", ipath)
    scope = reader.text(item, "domainNameLabelScope", ipath)
    fqdn = reader.text(item, "fqdn", ipath)
    if fqdn is None and label and not scope and location:
        fqdn = f"{label}.{location.replace(' ', '').casefold()}.cloudapp.azure.com"
    return PublicIpDnsSettings(label, scope, fqdn, reader.text(item, "reverseFqdn", ipath))


def parse_nat_gateway(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NatGateway:
    props, pp = properties_of(body, path)
    return NatGateway(
        **reader.tracked(body, resource_id, path),
        sku_name=reader.sku(body, path)[0],
        public_ip_addresses=(
            *reader.references(props, "publicIpAddresses", pp),
            *reader.references(props, "publicIpAddressesV6", pp),
        ),
        public_ip_prefixes=(
            *reader.references(props, "publicIpPrefixes", pp),
            *reader.references(props, "publicIpPrefixesV6", pp),
        ),
        subnets=reader.references(props, "subnets", pp),
        idle_timeout_in_minutes=reader.integer(props, "idleTimeoutInMinutes", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )
