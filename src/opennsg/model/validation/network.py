"""The resources around NSGs: VNets and subnets, peerings, route tables, NICs, VMs, public IPs, private endpoints
and NAT gateways, with their addresses and limits (ARM refuses each of these on PUT; ``validate`` and
``serve --import`` refuse the same, through this one module)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import ip_address

from opennsg.model.addressing import configuration_span, is_platform_reserved
from opennsg.model.errors import ArmError
from opennsg.model.ids import id_key, is_fully_qualified_id
from opennsg.model.policy import (
    MAX_ASGS_PER_IP_CONFIGURATION,
    MAX_FLOW_TIMEOUT_MINUTES,
    MAX_IP_CONFIGURATIONS_PER_NIC,
    MIN_FLOW_TIMEOUT_MINUTES,
)
from opennsg.model.resources import IpConfiguration, NetworkInterface, RouteTable, VirtualNetwork
from opennsg.model.routes import NextHopType
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import TAG_LIKE, Finding, canonical_tag, reference
from opennsg.model.values import IPNetwork, has_host_bits, parse_address, parse_prefix

#: Next hop types a user route may name (``RouteNextHopType``); ``VNetPeering`` is a system route's only.
USER_ROUTE_NEXT_HOPS = tuple(hop for hop in NextHopType if hop is not NextHopType.VNET_PEERING)


def _prefix_problems(
    resource_id: str, prefixes: Sequence[str], target_of: str | None, list_target: str
) -> tuple[list[IPNetwork], list[ArmError]]:
    """The prefixes that parse, and an ``InvalidAddressPrefixFormat`` for each that does not (nor a host-bit-free
    network: ARM wants ``10.0.0.0/24``, not ``10.0.0.5/24``, in address spaces and subnet ranges)."""
    networks: list[IPNetwork] = []
    problems: list[ArmError] = []
    for j, text in enumerate(prefixes):
        target = target_of if target_of is not None and len(prefixes) == 1 else f"{list_target}[{j}]"
        network = parse_prefix(text) if "/" in text else None
        if network is None:
            message = Message.INVALID_ADDRESS_PREFIX_FORMAT.format(value=text, resource_id=resource_id)
            problems.append(ArmError(Code.INVALID_ADDRESS_PREFIX_FORMAT, message, target))
            continue
        if has_host_bits(text):
            message = Message.INVALID_CIDR_NOTATION.format(value=text, resource_id=resource_id, expected=network)
            problems.append(ArmError(Code.INVALID_CIDR_NOTATION, message, target))
        networks.append(network)
    return networks, problems


def vnet_findings(topology: Topology) -> Iterator[Finding]:
    for vnet in topology.vnets.values():
        timeout = vnet.flow_timeout_in_minutes
        if timeout is not None and not MIN_FLOW_TIMEOUT_MINUTES <= timeout <= MAX_FLOW_TIMEOUT_MINUTES:
            error = ArmError(
                Code.INVALID_FLOW_TIMEOUT,
                Message.INVALID_FLOW_TIMEOUT.format(vnet_id=vnet.id, value=timeout),
                "properties.flowTimeoutInMinutes",
            )
            yield Finding(vnet.id, error)
        spaces, problems = _prefix_problems(
            vnet.id, vnet.address_space, None, "properties.addressSpace.addressPrefixes"
        )
        gateway = _prefix_problems(vnet.id, vnet.gateway_prefixes, None, "properties.gatewayAddressPrefixes")[1]
        yield from (Finding(vnet.id, e) for e in (*problems, *gateway))
        yield from _subnet_findings(topology, vnet, spaces)
        yield from _peering_findings(vnet)


def _subnet_findings(topology: Topology, vnet: VirtualNetwork, spaces: list[IPNetwork]) -> Iterator[Finding]:
    """Each subnet's ranges (well formed, inside the VNet's address space, overlapping no other subnet) and
    references."""
    seen: list[IPNetwork] = []
    for i, subnet in enumerate(vnet.subnets):
        base = f"properties.subnets[{i}].properties"
        ranges, problems = _prefix_problems(
            subnet.id, subnet.address_prefixes, f"{base}.addressPrefix", f"{base}.addressPrefixes"
        )
        yield from (Finding(vnet.id, e) for e in problems)
        target = f"{base}.addressPrefix" if len(subnet.address_prefixes) == 1 else f"{base}.addressPrefixes"
        if spaces and any(not any(r.version == s.version and r.subnet_of(s) for s in spaces) for r in ranges):  # type: ignore[arg-type]
            message = Message.SUBNET_RANGE_OUTSIDE_VNET.format(subnet=subnet.name, vnet=vnet.name)
            yield Finding(vnet.id, ArmError(Code.SUBNET_RANGE_OUTSIDE_VNET, message, target))
        if any(r.version == o.version and r.overlaps(o) for r in ranges for o in seen):
            message = Message.SUBNET_RANGES_OVERLAP.format(subnet=subnet.name, vnet=vnet.name)
            yield Finding(vnet.id, ArmError(Code.SUBNET_RANGES_OVERLAP, message, target))
        seen.extend(ranges)
        nsg_id, rt_id = subnet.network_security_group, subnet.route_table
        yield from reference(
            subnet.id, nsg_id, topology.nsg(nsg_id) is not None, vnet.id, f"{base}.networkSecurityGroup.id"
        )
        yield from reference(
            subnet.id, rt_id, topology.route_table(rt_id) is not None, vnet.id, f"{base}.routeTable.id"
        )


def _peering_findings(vnet: VirtualNetwork) -> Iterator[Finding]:
    """A peering names another VNet by its full id (the remote VNet need not be loaded: it may be in a subscription
    the input does not hold), never its own VNet."""
    for i, peering in enumerate(vnet.peerings):
        remote = peering.remote_virtual_network
        target = f"properties.virtualNetworkPeerings[{i}].properties.remoteVirtualNetwork.id"
        yield from reference(peering.id, remote, True, vnet.id, target)
        if remote and is_fully_qualified_id(remote) and id_key(remote) == vnet.key:
            message = Message.PEERING_TO_ITSELF.format(peering_id=peering.id, vnet_id=vnet.id)
            yield Finding(vnet.id, ArmError(Code.PEERING_TO_ITSELF, message, target))


def route_table_findings(topology: Topology) -> Iterator[Finding]:
    for table in topology.route_tables.values():
        for i in range(len(table.routes)):
            yield from (Finding(table.id, e) for e in _route_problems(table, i, topology.service_tags))


def _route_problems(table: RouteTable, index: int, tags: ServiceTags | None) -> Iterator[ArmError]:
    """A user route: its prefix (a CIDR, or a service tag: routes take tags), next hop type, and the appliance's
    address for ``VirtualAppliance``."""
    route = table.routes[index]
    route_id = f"{table.id}/routes/{route.name}"
    base = f"properties.routes[{index}].properties"
    prefix = route.address_prefix
    if not _is_route_prefix(prefix, tags):
        message = Message.INVALID_ADDRESS_PREFIX_FORMAT.format(value=prefix, resource_id=route_id)
        yield ArmError(Code.INVALID_ADDRESS_PREFIX_FORMAT, message, f"{base}.addressPrefix")
    hop = NextHopType.parse(route.next_hop_type)
    if hop is None or hop is NextHopType.VNET_PEERING:
        message = Message.INVALID_ENUM_VALUE.format(
            subject=f"Route {route_id}",
            property="nextHopType",
            value=route.next_hop_type,
            allowed=", ".join(h.value for h in USER_ROUTE_NEXT_HOPS),
        )
        yield ArmError(Code.INVALID_NEXT_HOP_TYPE, message, f"{base}.nextHopType")
    address = route.next_hop_ip_address
    if address is not None and address.strip() and parse_address(address) is None:
        message = Message.INVALID_IP_ADDRESS.format(what="nextHopIpAddress", value=address, resource_id=route_id)
        yield ArmError(Code.INVALID_IP_ADDRESS, message, f"{base}.nextHopIpAddress")
    elif hop is NextHopType.VIRTUAL_APPLIANCE and not (address and address.strip()):
        message = Message.NEXT_HOP_IP_ADDRESS_REQUIRED.format(route_id=route_id)
        yield ArmError(Code.NEXT_HOP_IP_ADDRESS_REQUIRED, message, f"{base}.nextHopIpAddress")


def _is_route_prefix(text: str, tags: ServiceTags | None) -> bool:
    """A CIDR, or a service tag: one of the file's when a service tags file is loaded, else anything spelt like a
    tag (without the file no tag can be checked, and refusing every tagged route would refuse real route tables)."""
    if "/" in text:
        return parse_prefix(text) is not None
    if tags is not None:
        return canonical_tag(text, tags) is not None or tags.get(text.strip().casefold()) is not None
    return canonical_tag(text, None) is not None or TAG_LIKE.match(text) is not None


def nic_findings(topology: Topology) -> Iterator[Finding]:
    holders = _Holders()
    for nic in topology.nics.values():
        yield from _nic_limit_findings(nic)
        nsg_id = nic.network_security_group
        yield from reference(
            nic.id, nsg_id, topology.nsg(nsg_id) is not None, nic.id, "properties.networkSecurityGroup.id"
        )
        for i, cfg in enumerate(nic.ip_configurations):
            base = f"properties.ipConfigurations[{i}].properties"
            # ARM names the NIC as the referrer of what its IP configurations reference
            yield from reference(
                nic.id, cfg.subnet, topology.subnet(cfg.subnet) is not None, nic.id, f"{base}.subnet.id"
            )
            yield from (Finding(nic.id, e) for e in _private_address_problems(topology, cfg, base, holders))
            public_ip = cfg.public_ip_address
            yield from reference(
                nic.id, public_ip, topology.public_ip(public_ip) is not None, nic.id, f"{base}.publicIPAddress.id"
            )
            for j, asg_id in enumerate(cfg.application_security_groups):
                yield from reference(
                    nic.id,
                    asg_id,
                    topology.asg(asg_id) is not None,
                    nic.id,
                    f"{base}.applicationSecurityGroups[{j}].id",
                )
            frontend = cfg.gateway_load_balancer
            exists = frontend is not None and _frontend_exists(topology, frontend)
            yield from reference(nic.id, frontend, exists, nic.id, f"{base}.gatewayLoadBalancer.id")
            if len(cfg.application_security_groups) > MAX_ASGS_PER_IP_CONFIGURATION:
                message = Message.ASGS_PER_IP_CONFIGURATION.format(
                    ip_configuration_id=cfg.id,
                    count=len(cfg.application_security_groups),
                    limit=MAX_ASGS_PER_IP_CONFIGURATION,
                )
                target = f"{base}.applicationSecurityGroups"
                yield Finding(nic.id, ArmError(Code.ASGS_PER_IP_CONFIGURATION, message, target))


def _frontend_exists(topology: Topology, frontend_id: str) -> bool:
    """A load balancer's frontend IP configuration (its id is the load balancer's id and the frontend's name)."""
    parent, _, _ = id_key(frontend_id).rpartition("/frontendipconfigurations/")
    lb = topology.load_balancer(parent) if parent else None
    return lb is not None and lb.frontend(frontend_id) is not None


def _nic_limit_findings(nic: NetworkInterface) -> Iterator[Finding]:
    count = len(nic.ip_configurations)
    if count == 0:
        message = Message.NIC_WITHOUT_IP_CONFIGURATION.format(nic_id=nic.id)
        yield Finding(nic.id, ArmError(Code.NIC_WITHOUT_IP_CONFIGURATION, message, "properties.ipConfigurations"))
    elif count > MAX_IP_CONFIGURATIONS_PER_NIC:
        message = Message.IP_CONFIGURATIONS_PER_NIC.format(
            nic_id=nic.id, count=count, limit=MAX_IP_CONFIGURATIONS_PER_NIC
        )
        yield Finding(nic.id, ArmError(Code.IP_CONFIGURATIONS_PER_NIC, message, "properties.ipConfigurations"))


class _Holders:
    """Who holds which private addresses, per subnet: single addresses by value, blocks as spans (rare)."""

    def __init__(self) -> None:
        self.singles: dict[tuple[str, int, int], str] = {}  # (subnet key, version, address) -> IP configuration
        self.blocks: dict[str, list[tuple[int, int, int, str]]] = {}  # subnet key -> (version, first, last, holder)

    def claim(self, subnet_key: str, version: int, first: int, last: int, holder: str) -> str | None:
        """Record ``holder`` on the span; the other IP configuration already holding part of it, if any."""
        blocks = self.blocks.setdefault(subnet_key, [])
        other = next((h for v, f, e, h in blocks if v == version and f <= last and first <= e and h != holder), None)
        if first == last:
            kept = self.singles.setdefault((subnet_key, version, first), holder)
            return other or (kept if kept != holder else None)
        if other is None:
            other = next(
                (
                    h
                    for (key, v, value), h in self.singles.items()
                    if key == subnet_key and v == version and first <= value <= last and h != holder
                ),
                None,
            )
        blocks.append((version, first, last, holder))
        return other


def _private_address_problems(
    topology: Topology, cfg: IpConfiguration, base: str, holders: _Holders
) -> Iterator[ArmError]:
    """A static private address (or address block): an IP address, inside its subnet, aligned when a block, holding
    nothing Azure reserves, nothing another IP configuration holds."""
    text = cfg.private_ip_address
    if text is None or not text.strip():
        return
    target = f"{base}.privateIPAddress"
    address = parse_address(text)
    span = configuration_span(cfg)
    if address is None or span is None:
        message = Message.INVALID_PRIVATE_IP_ADDRESS_FORMAT.format(value=text, ip_configuration_id=cfg.id)
        yield ArmError(Code.INVALID_PRIVATE_IP_ADDRESS_FORMAT, message, target)
        return
    shown = cfg.private_ip_block or text
    version, first, last = span
    if first != int(address):
        aligned = f"{ip_address(first)}/{cfg.private_ip_address_prefix_length}"
        message = Message.PRIVATE_IP_BLOCK_NOT_ALIGNED.format(block=shown, ip_configuration_id=cfg.id, aligned=aligned)
        yield ArmError(Code.INVALID_PRIVATE_IP_ADDRESS_FORMAT, message, target)
    subnet = topology.subnet(cfg.subnet) if cfg.subnet else None
    if subnet is None:
        return  # no subnet to check against (a dangling one is reported as a reference)
    networks = [n for n in (parse_prefix(p) for p in subnet.address_prefixes) if n is not None]
    same_family = [n for n in networks if n.version == version]
    inside = next(
        (n for n in same_family if int(n.network_address) <= first and last <= int(n.broadcast_address)), None
    )
    if inside is None:
        if networks:  # a subnet without a usable range is reported on its own
            message = Message.PRIVATE_IP_NOT_IN_SUBNET.format(
                ip_configuration_id=cfg.id,
                address=shown,
                subnet_id=subnet.id,
                prefixes=", ".join(subnet.address_prefixes),
            )
            yield ArmError(Code.PRIVATE_IP_NOT_IN_SUBNET, message, target)
        return
    if is_platform_reserved(inside, ip_address(first)) or is_platform_reserved(inside, ip_address(last)):
        message = Message.PRIVATE_IP_IN_RESERVED_RANGE.format(
            ip_configuration_id=cfg.id, address=shown, subnet_id=subnet.id
        )
        yield ArmError(Code.PRIVATE_IP_IN_RESERVED_RANGE, message, target)
    other = holders.claim(subnet.key, version, first, last, cfg.id)
    if other is not None:
        message = Message.PRIVATE_IP_ALLOCATED.format(ip_configuration_id=cfg.id, address=shown, other=other)
        yield ArmError(Code.PRIVATE_IP_ALLOCATED, message, target)


def public_ip_findings(topology: Topology) -> Iterator[Finding]:
    for public_ip in topology.public_ips.values():
        text = public_ip.ip_address
        if text is not None and text.strip() and parse_address(text) is None:
            message = Message.INVALID_IP_ADDRESS.format(what="ipAddress", value=text, resource_id=public_ip.id)
            yield Finding(public_ip.id, ArmError(Code.INVALID_IP_ADDRESS, message, "properties.ipAddress"))


def vm_findings(topology: Topology) -> Iterator[Finding]:
    for vm in topology.vms.values():
        for i, nic_id in enumerate(vm.network_interfaces):
            target = f"properties.networkProfile.networkInterfaces[{i}].id"
            yield from reference(vm.id, nic_id, topology.nic(nic_id) is not None, vm.id, target)


def private_endpoint_findings(topology: Topology) -> Iterator[Finding]:
    for nic in topology.nics.values():
        endpoint = topology.private_endpoint_of_nic(nic.id)
        endpoint_id = endpoint.id if endpoint is not None else nic.private_endpoint
        if endpoint_id and nic.network_security_group:
            message = Message.NSG_ON_PRIVATE_ENDPOINT_NIC.format(
                nic_id=nic.id, endpoint_id=endpoint_id, nsg_id=nic.network_security_group
            )
            target = "properties.networkSecurityGroup.id"
            yield Finding(nic.id, ArmError(Code.NSG_ON_PRIVATE_ENDPOINT_NIC, message, target))
    for endpoint in topology.private_endpoints.values():
        subnet_id = endpoint.subnet
        exists = topology.subnet(subnet_id) is not None
        yield from reference(endpoint.id, subnet_id, exists, endpoint.id, "properties.subnet.id")
        for j, asg_id in enumerate(endpoint.application_security_groups):
            exists = topology.asg(asg_id) is not None
            target = f"properties.applicationSecurityGroups[{j}].id"
            yield from reference(endpoint.id, asg_id, exists, endpoint.id, target)
    for gateway in topology.nat_gateways.values():
        for j, public_ip in enumerate(gateway.public_ip_addresses):
            exists = topology.public_ip(public_ip) is not None
            target = f"properties.publicIpAddresses[{j}].id"
            yield from reference(gateway.id, public_ip, exists, gateway.id, target)
    for vnet in topology.vnets.values():
        for i, subnet in enumerate(vnet.subnets):
            nat_gateway = subnet.nat_gateway
            target = f"properties.subnets[{i}].properties.natGateway.id"
            exists = topology.nat_gateway(nat_gateway) is not None
            yield from reference(subnet.id, nat_gateway, exists, vnet.id, target)
