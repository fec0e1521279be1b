"""What the lab builds, decided from the topology alone (no kernel): addresses, routes, NAT, egress.

Routing follows Azure (spec §12.3, §3.2 and the effective-routes model): from a NIC, a destination is chosen by
longest prefix among the system routes of its VNet (its address spaces; the remote address space of each
``Connected`` peering that allows virtual network access; ``0.0.0.0/0`` and ``::/0`` to the Internet) and the
user-defined routes of its subnet's route table (a UDR wins a tie). Next hop ``None`` drops silently; the VNet or
a peering delivers to the NIC holding the address; the Internet carries public destinations only through an
egress address (the NIC's public IP, else its subnet's NAT gateway, else default outbound access unless the
subnet is private) — a private destination or an appliance next hop (not modelled) gets ICMP unreachable.
Inbound from the Internet reaches a NIC only through a public IP (DNAT to the private address); a Standard SKU
public IP stays closed when no NSG applies to the NIC.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import Literal

from opennsg.dataplane.network import AZURE_MAC_PREFIX
from opennsg.flowlogs.writer import VnetFlowLog
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.resources import NetworkInterface, VirtualNetwork
from opennsg.model.topology import Topology
from opennsg.model.values import IPAddress, IPNetwork

#: Addresses the lab's Internet namespace holds when none are given (public, so the ``Internet`` tag covers them).
DEFAULT_INTERNET_ADDRESSES = ("20.50.0.10", "52.160.0.10", "2603:1000::10")
#: The lab-wide source address of default outbound access (spec §12.2: never the private address).
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
    #: For flow logs: the NIC's MAC (12 hex digits) and its VNet's flow log (id, GUID, target), when in a VNet.
    mac: str = ""
    vnet_flow_log: tuple[str, str, str] | None = None

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
                    "InvalidLabName",
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
            problems.append(ArmError("InvalidIPAddress", f"{what}: '{text}' is not an IP address.", text))
    if problems:
        raise OpenNsgError(problems)
    return out


def nic_mac(nic: NetworkInterface) -> str:
    """The NIC's MAC as flow logs print it; one derived from its id (Azure's OUI) when the JSON has none."""
    return nic.normalized_mac or f"{AZURE_MAC_PREFIX}{zlib.crc32(nic.key.encode()) & 0xFFFFFF:06X}"


def _vnet_flow_log(topology: Topology, nic: NetworkInterface) -> tuple[str, str, str] | None:
    vnet = _nic_vnet(topology, nic)
    if vnet is None:
        return None
    log = VnetFlowLog.for_vnet(vnet)
    return (log.flow_log_id, log.guid, log.target_resource_id)


def _nic_vnet(topology: Topology, nic: NetworkInterface) -> VirtualNetwork | None:
    subnet = topology.subnet(nic.subnet)
    return topology.vnet_of_subnet(subnet.id) if subnet else None


def _public_ip_open(topology: Topology, nic: NetworkInterface, public_ip_id: str) -> bool:
    """Basic public IPs are open; Standard (the default SKU) ones only when an NSG applies (spec §12.3)."""
    public = topology.public_ip(public_ip_id)
    if public is not None and not public.closed_by_default:
        return True
    subnet = topology.subnet(nic.subnet)
    return bool(nic.network_security_group or (subnet is not None and subnet.network_security_group))


def _nat_gateway_addresses(topology: Topology, nic: NetworkInterface) -> list[str]:
    """The public addresses of the NAT gateway on the NIC's subnet."""
    subnet = topology.subnet(nic.subnet)
    gateway = topology.nat_gateway(subnet.nat_gateway) if subnet is not None else None
    if gateway is None:
        return []
    found = (topology.public_ip(public_id) for public_id in gateway.public_ip_addresses)
    return [str(ip_address(p.ip_address)) for p in found if p is not None and p.ip_address]


def _default_outbound(topology: Topology, nic: NetworkInterface) -> bool:
    """Default outbound access, unless the subnet is private (``defaultOutboundAccess: false``, spec §12.2)."""
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
                        "DuplicatePrivateIpAddress",
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
                if _public_ip_open(topology, nic, cfg.public_ip_address):
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
                _vnet_flow_log(topology, nic),
            )
        )
    if problems:
        raise OpenNsgError(problems)
    plan = LabPlan(name, f"{name}-fab", f"{name}-inet", tuple(str(a) for a in internet), outbound_address, tuple(nics))
    routes = {nic.index: tuple(_routes_of(topology, plan, nic)) for nic in plan.nics}
    return LabPlan(
        plan.name, plan.fabric, plan.internet, plan.internet_addresses, plan.outbound_address, plan.nics, routes
    )


def _system_routes(topology: Topology, vnet: VirtualNetwork | None) -> list[tuple[IPNetwork, str, str | None]]:
    """(prefix, next hop, remote VNet key) of the VNet's system routes."""
    out: list[tuple[IPNetwork, str, str | None]] = [
        (ip_network("0.0.0.0/0"), "Internet", None),
        (ip_network("::/0"), "Internet", None),
    ]
    if vnet is None:
        return out
    for prefix in vnet.address_space:
        out.append((ip_network(prefix, strict=False), "VnetLocal", vnet.key))
    for peering in vnet.peerings:
        if not (peering.connected and peering.allow_virtual_network_access and peering.remote_virtual_network):
            continue
        remote = topology.vnet(peering.remote_virtual_network)
        spaces = peering.remote_address_space or (remote.address_space if remote else ())
        for prefix in spaces:
            out.append((ip_network(prefix, strict=False), "VNetPeering", id_key(peering.remote_virtual_network)))
    return out


def _user_routes(topology: Topology, nic: NetworkInterface) -> list[tuple[IPNetwork, str]]:
    subnet = topology.subnet(nic.subnet)
    table = topology.route_table(subnet.route_table) if subnet else None
    out: list[tuple[IPNetwork, str]] = []
    for route in table.routes if table else ():
        try:
            out.append((ip_network(route.address_prefix.strip(), strict=False), route.next_hop_type.casefold()))
        except ValueError:
            continue  # a service-tag prefix: not modelled in the lab's routing
    return out


def _choose(
    address: IPAddress,
    system: list[tuple[IPNetwork, str, str | None]],
    user: list[tuple[IPNetwork, str]],
) -> tuple[str, str | None]:
    """The next hop type (lower case) for ``address``, and the VNet it leads to: longest prefix, UDR wins ties."""
    best: tuple[int, int, str, str | None] | None = None
    for prefix, hop, vnet in system:
        if address.version == prefix.version and address in prefix:
            candidate = (prefix.prefixlen, 0, hop.casefold(), vnet)
            best = candidate if best is None or candidate[:2] > best[:2] else best
    for prefix, hop in user:
        if address.version == prefix.version and address in prefix:
            candidate = (prefix.prefixlen, 1, hop, None)
            best = candidate if best is None or candidate[:2] > best[:2] else best
    assert best is not None  # the default routes contain every address
    return best[2], best[3]


def _routes_of(topology: Topology, plan: LabPlan, source: LabNic) -> list[Route]:
    nic = topology.nics[id_key(source.id)]
    vnet = _nic_vnet(topology, nic)
    system = _system_routes(topology, vnet)
    user = _user_routes(topology, nic)
    routes: list[Route] = []
    for prefix, hop in user:  # UDRs towards the Internet side (destinations that are no NIC)
        if prefix.prefixlen == 0:
            continue
        if hop == "none":
            routes.append(Route(str(prefix), "blackhole"))
        elif hop != "internet" and hop != "vnetlocal":
            routes.append(Route(str(prefix), "unreachable"))
    for family, default in ((4, "0.0.0.0/0"), (6, "::/0")):
        hop, _ = _choose(ip_address(default.split("/")[0]), system, user)
        has_egress = any(ip_address(a).version == family for a in source.egress)
        if hop == "none":
            routes.append(Route(default, "blackhole"))
        elif hop == "internet" and has_egress:
            routes.append(Route(default, "internet"))
        else:
            routes.append(Route(default, "unreachable"))
    for target in plan.nics:
        if target.index == source.index:
            continue
        target_vnet = _nic_vnet(topology, topology.nics[id_key(target.id)])
        for text in target.addresses:
            address = ip_address(text)
            host = f"{address}/{address.max_prefixlen}"
            hop, leads_to = _choose(address, system, user)
            if hop == "none":
                routes.append(Route(host, "blackhole"))
            elif hop in ("vnetlocal", "vnetpeering") and target_vnet is not None:
                same = leads_to == target_vnet.key if leads_to else vnet is not None and vnet.key == target_vnet.key
                routes.append(Route(host, "deliver", target.link) if same else Route(host, "unreachable"))
            else:
                routes.append(Route(host, "unreachable"))
    return routes
