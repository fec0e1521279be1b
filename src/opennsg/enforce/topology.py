"""What the lab builds, decided from the topology alone (no kernel): addresses, routes, NAT, egress.

Routing is the NIC's effective route table (``engine.routes``: system routes of its VNet and ``Connected``
peerings, the private ranges to ``None``, the Internet, user routes over them; longest prefix wins). In the lab:
next hop ``None`` drops silently; ``VnetLocal`` and ``VNetPeering`` deliver to the NIC holding the address (the
peering must allow virtual network access); the Internet carries public destinations only through an egress
address (the NIC's public IP, else its subnet's NAT gateway, else default outbound access unless the subnet is
private, semantics §12.2, §12.3); appliances and gateways are not modelled, so such a next hop gets ICMP unreachable.
Inbound from the Internet reaches a NIC only through a public IP (DNAT to the private address); a Standard SKU
public IP stays closed when no NSG applies to the NIC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from typing import Literal

from opennsg.dataplane.network import nic_mac
from opennsg.engine.egress import public_ip_admits
from opennsg.engine.routes import effective_routes, next_hop
from opennsg.flowlogs.writer import FlowLogResources, VnetFlowLog
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.resources import NetworkInterface, VirtualNetwork
from opennsg.model.routes import NextHopType, RouteSource, RouteState
from opennsg.model.topology import Topology
from opennsg.model.validation import Code
from opennsg.model.values import IPAddress, parse_prefix

#: Addresses the lab's Internet namespace holds when none are given (public, so the ``Internet`` tag covers them).
DEFAULT_INTERNET_ADDRESSES = ("20.50.0.10", "52.160.0.10", "2603:1000::10")
#: The lab-wide source address of default outbound access (semantics §12.2: never the private address).
DEFAULT_OUTBOUND_ADDRESS = "20.254.0.1"
LAB_NAME_PATTERN = r"^[a-z][a-z0-9]{0,9}$"
Hop = Literal["deliver", "blackhole", "unreachable", "internet"]


@dataclass(frozen=True, slots=True)
class LabNic:
    """One NIC of the lab: its namespace, the fabric's side of its link, its addresses and its way out."""

    id: str
    name: str
    index: int
    netns: str
    link: str
    addresses: tuple[str, ...]
    public_addresses: tuple[str, ...]
    #: Public address → private address, for the public IPs that are open (DNAT in the fabric).
    inbound_nat: dict[str, str]
    #: Private address → the address its Internet traffic leaves with (absent: no egress).
    egress: dict[str, str]
    #: For flow logs: the NIC's MAC (12 hex digits) and the VNet flow log writing its tuples (the flow-log resource
    #: covering it, with its filter and record types; without flow-log resources, its VNet's default one).
    mac: str = ""
    vnet_flow_log: VnetFlowLog | None = None

    def to_json(self) -> dict[str, object]:
        return {"netns": self.netns, "addresses": list(self.addresses), "publicAddresses": list(self.public_addresses)}


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a NIC's table in the fabric: ``prefix`` → ``hop`` (``deliver`` through ``link``)."""

    prefix: str
    hop: Hop
    link: str | None = None


@dataclass(frozen=True, slots=True)
class LabPlan:
    name: str
    fabric: str
    internet: str
    internet_addresses: tuple[str, ...]
    outbound_address: str
    nics: tuple[LabNic, ...]
    #: Per NIC index: its routing table in the fabric.
    routes: dict[int, tuple[Route, ...]] = field(default_factory=dict)
    #: NSG id key -> the version its enabled NSG flow log writes; None: the topology has no flow-log resources, so
    #: every NSG is logged (in version 2), as the data plane does.
    nsg_flow_logs: dict[str, int] | None = None

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.fabric, self.internet, *(n.netns for n in self.nics))

    def nic(self, name_or_id: str) -> LabNic | None:
        key = id_key(name_or_id)
        for nic in self.nics:
            if id_key(nic.id) == key:
                return nic
        named = [n for n in self.nics if n.name.casefold() == name_or_id.casefold()]
        return named[0] if len(named) == 1 else None


def check_lab_name(name: str) -> None:
    if not re.fullmatch(LAB_NAME_PATTERN, name):
        raise OpenNsgError(
            [
                ArmError(
                    Code.INVALID_LAB_NAME,
                    f"Lab name '{name}' must be 1–10 lower-case letters or digits, starting with a letter (its "
                    "namespaces are named after it).",
                    name,
                )
            ]
        )


def _parse_addresses(texts: tuple[str, ...], what: str) -> list[IPAddress]:
    out: list[IPAddress] = []
    problems: list[ArmError] = []
    for text in texts:
        try:
            out.append(ip_address(text.strip()))
        except ValueError:
            problems.append(ArmError(Code.INVALID_IP_ADDRESS, f"{what}: '{text}' is not an IP address.", text))
    if problems:
        raise OpenNsgError(problems)
    return out


def _vnet_flow_log(topology: Topology, nic: NetworkInterface, resources: FlowLogResources | None) -> VnetFlowLog | None:
    """The VNet flow log writing the NIC's tuples: the one the flow-log resources say (None when none covers the NIC
    or it is off), else the default one of its VNet."""
    if resources is not None:
        return resources.vnet_log(nic)
    vnet = _nic_vnet(topology, nic)
    return VnetFlowLog.for_vnet(vnet) if vnet is not None else None


def _nic_vnet(topology: Topology, nic: NetworkInterface) -> VirtualNetwork | None:
    subnet = topology.subnet(nic.subnet)
    return topology.vnet_of_subnet(subnet.id) if subnet else None


def _nat_gateway_addresses(topology: Topology, nic: NetworkInterface) -> list[str]:
    """The public addresses of the NAT gateway on the NIC's subnet."""
    subnet = topology.subnet(nic.subnet)
    gateway = topology.nat_gateway(subnet.nat_gateway) if subnet is not None else None
    if gateway is None:
        return []
    found = (topology.public_ip(public_id) for public_id in gateway.public_ip_addresses)
    return [str(ip_address(p.ip_address)) for p in found if p is not None and p.ip_address]


def _default_outbound(topology: Topology, nic: NetworkInterface) -> bool:
    """Default outbound access, unless the subnet is private (``defaultOutboundAccess: false``, semantics §12.2)."""
    subnet = topology.subnet(nic.subnet)
    return subnet is None or subnet.has_default_outbound_access


def plan_lab(
    topology: Topology,
    name: str,
    internet_addresses: tuple[str, ...] = (),
    outbound_address: str = DEFAULT_OUTBOUND_ADDRESS,
) -> LabPlan:
    """Decide every namespace, address, NAT and route of the lab (raises ``OpenNsgError`` on what cannot be)."""
    check_lab_name(name)
    flow_logs = FlowLogResources.of(topology)  # what the flow-log resources record, their filters checked
    internet = _parse_addresses(internet_addresses or DEFAULT_INTERNET_ADDRESSES, "--internet-address")
    nics: list[LabNic] = []
    problems: list[ArmError] = []
    seen: dict[str, str] = {}
    for index, nic in enumerate(sorted(topology.nics.values(), key=lambda n: n.key), start=1):
        addresses: list[str] = []
        publics: list[str] = []
        inbound: dict[str, str] = {}
        egress: dict[str, str] = {}
        nat_gateway = _nat_gateway_addresses(topology, nic)
        for cfg in nic.ip_configurations:
            if not cfg.private_ip_address:
                continue
            private = str(ip_address(cfg.private_ip_address))
            if private in seen:
                problems.append(
                    ArmError(
                        Code.DUPLICATE_PRIVATE_IP_ADDRESS,
                        f"{private} is a private address of both {seen[private]} and {nic.id}: the lab cannot hold "
                        "both (Azure keeps them apart only across unconnected VNets).",
                        nic.id,
                    )
                )
                continue
            seen[private] = nic.id
            addresses.append(private)
            public = topology.public_ips.get(id_key(cfg.public_ip_address)) if cfg.public_ip_address else None
            public_address = str(ip_address(public.ip_address)) if public is not None and public.ip_address else None
            if public_address is not None and cfg.public_ip_address:
                publics.append(public_address)
                if public_ip_admits(topology, nic, cfg.public_ip_address):
                    inbound[public_address] = private
            version = ip_address(private).version
            same_family = [a for a in nat_gateway if ip_address(a).version == version]
            if public_address is not None and ip_address(public_address).version == version:
                egress[private] = public_address
            elif same_family:
                egress[private] = same_family[0]
            elif version == 4 and _default_outbound(topology, nic):
                egress[private] = outbound_address
        nics.append(
            LabNic(
                nic.id,
                nic.name,
                index,
                f"{name}-n{index}",
                f"n{index}",
                tuple(addresses),
                tuple(publics),
                inbound,
                egress,
                nic_mac(nic),
                _vnet_flow_log(topology, nic, flow_logs),
            )
        )
    if problems:
        raise OpenNsgError(problems)
    plan = LabPlan(name, f"{name}-fab", f"{name}-inet", tuple(str(a) for a in internet), outbound_address, tuple(nics))
    routes = {nic.index: tuple(_routes_of(topology, plan, nic)) for nic in plan.nics}
    nsg_flow_logs = dict(flow_logs.nsg_versions) if flow_logs is not None else None
    return replace(plan, routes=routes, nsg_flow_logs=nsg_flow_logs)


def _peered(topology: Topology, source: VirtualNetwork | None, target: VirtualNetwork | None) -> bool:
    """``Connected`` peering from ``source`` to ``target`` that allows virtual network access."""
    if source is None or target is None:
        return False
    return any(
        p.connected and p.allow_virtual_network_access and p.remote_virtual_network
        and id_key(p.remote_virtual_network) == target.key
        for p in source.peerings
    )  # fmt: skip


def _routes_of(topology: Topology, plan: LabPlan, source: LabNic) -> list[Route]:
    """The NIC's table in the fabric, from its effective routes (``engine.routes``, the one routing definition)."""
    nic = topology.nics[id_key(source.id)]
    vnet = _nic_vnet(topology, nic)
    effective = effective_routes(topology, nic)
    routes: list[Route] = []
    for entry in effective:  # user routes towards what is no NIC: None drops, appliances are not modelled
        if entry.source is not RouteSource.USER or entry.state is not RouteState.ACTIVE:
            continue
        for prefix in entry.address_prefixes:
            network = parse_prefix(prefix)
            if network is None or network.prefixlen == 0:
                continue
            if entry.next_hop_type is NextHopType.NONE:
                routes.append(Route(str(network), "blackhole"))
            elif entry.next_hop_type not in (NextHopType.INTERNET, NextHopType.VNET_LOCAL):
                routes.append(Route(str(network), "unreachable"))
    for family, default in ((4, "0.0.0.0"), (6, "::")):
        chosen = next_hop(effective, ip_address(default))
        hop = chosen.next_hop_type if chosen is not None else None
        has_egress = any(ip_address(a).version == family for a in source.egress)
        prefix = f"{default}/0"
        if hop is NextHopType.NONE:
            routes.append(Route(prefix, "blackhole"))
        elif hop is NextHopType.INTERNET and has_egress:
            routes.append(Route(prefix, "internet"))
        else:
            routes.append(Route(prefix, "unreachable"))
    for target in plan.nics:
        if target.index == source.index:
            continue
        target_vnet = _nic_vnet(topology, topology.nics[id_key(target.id)])
        for text in target.addresses:
            address = ip_address(text)
            host = f"{address}/{address.max_prefixlen}"
            chosen = next_hop(effective, address)
            hop = chosen.next_hop_type if chosen is not None else None
            same_vnet = vnet is not None and target_vnet is not None and vnet.key == target_vnet.key
            if hop is NextHopType.NONE:
                routes.append(Route(host, "blackhole"))
            elif (hop is NextHopType.VNET_LOCAL and same_vnet) or (
                hop is NextHopType.VNET_PEERING and _peered(topology, vnet, target_vnet)
            ):
                routes.append(Route(host, "deliver", target.link))
            else:  # the Internet, an appliance or a gateway (not modelled), or nothing: ICMP unreachable
                routes.append(Route(host, "unreachable"))
    return routes
