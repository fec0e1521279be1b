"""Hypothesis strategies for random NSG worlds and flows, shared by every engine's property tests.

Public, stable names (other test modules import them):

- ``topologies()``: a random, valid ``Topology``: 1–3 VNets (IPv4, optionally dual-stack) with peerings in
  random states and optional gateway prefixes, subnets with optional route tables (some forcing tunnelling),
  NICs with several IP configurations and ASG memberships (some ASGs stay empty), 0–3 NSGs associated with
  subnets and NICs, rules with singular/plural prefixes, tags (built-in, classic spellings, platform, service
  tags from a small generated ``ServiceTags``), ASGs, augmented ports, every protocol, host bits, /0 /32 /128,
  and an optional subscription (offer type, quotaId, creation date, SMTP exemption).
- ``flows_for(topology)``: ``(nic_id, Flow)`` pairs at the topology's NICs, biased to rule boundaries
  (first/last address of every prefix and their neighbours, port range ends and their neighbours, 25, 1688).
- ``topology_and_flows(max_flows=20)``: a topology with a list of such pairs (the cheap way to get many cases).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import date
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from hypothesis import strategies as st

from opennsg.engine.flow import Flow
from opennsg.model import (
    Access,
    ApplicationSecurityGroup,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    Route,
    RouteTable,
    SecurityRule,
    ServiceTag,
    ServiceTags,
    Subnet,
    Subscription,
    Topology,
    VirtualNetwork,
    VirtualNetworkPeering,
    default_security_rules,
)
from opennsg.model.ids import network_id
from opennsg.model.policy import NOT_INTERNET_PREFIXES, OFFER_TYPES, PLATFORM_TAG_PREFIXES

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"
RESOURCE_GROUP = "rg"

#: Addresses a rule or a flow is likely to care about, besides the topology's own.
PUBLIC_ANCHORS_V4 = ("8.8.8.8", "20.60.1.10", "52.1.2.3", "1.0.0.0", "255.255.255.255", "100.64.0.1", "192.168.1.1")
PUBLIC_ANCHORS_V6 = ("2603:1000::1", "2001:4860::8888", "2001:db8::1", "fe80::1", "::", "ffff::1")
PLATFORM_ANCHORS = tuple(p.split("/")[0] for prefixes in PLATFORM_TAG_PREFIXES.values() for p in prefixes)
TAGS_ANY_SIDE = (
    "*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "virtualnetwork", "INTERNET",
    "VIRTUAL_NETWORK", "AZURE_LOADBALANCER", "Storage", "storage.westus", "AzureCloud",
)  # fmt: skip
PLATFORM_TAG_SPELLINGS = ("AzurePlatformDNS", "azureplatformimds", "AzurePlatformLKM", "AZUREPLATFORMDNS")
INTERESTING_PORTS = (0, 1, 22, 24, 25, 26, 80, 443, 1687, 1688, 1689, 3389, 65534, 65535)


def _id(*type_name: str) -> str:
    return network_id(SUBSCRIPTION, RESOURCE_GROUP, *type_name)


# --- service tags -------------------------------------------------------------------------------


@st.composite
def service_tags(draw: st.DrawFn) -> ServiceTags:
    """A small generated tags file: NSG-usable global and regional tags, one without the NSG feature."""
    storage_v4 = draw(st.sampled_from(["20.60.0.0/16", "20.60.0.0/14", "52.0.0.0/8"]))
    regional_v4 = draw(st.sampled_from(["20.60.1.0/24", "20.60.1.8/29"]))
    tags = [
        ServiceTag("Storage", (storage_v4, "2603:1000::/40"), ("API", "NSG", "UDR")),
        ServiceTag("Storage.WestUS", (regional_v4, "2603:1000:4::/48"), ("NSG",), region="westus"),
        ServiceTag("AzureCloud", ("20.0.0.0/8", "40.64.0.0/10"), ("API", "NSG")),
        ServiceTag("ApiOnly", ("8.8.8.0/24",), ("API",)),
    ]
    if draw(st.booleans()):
        tags.append(ServiceTag("AzurePlatformLKM", ("20.118.99.224/30", "23.102.135.246/32"), ("API",)))
    return ServiceTags.of(tags, change_number=1)


# --- network -------------------------------------------------------------------------------------


def _v4_subnet(vnet_index: int, subnet_index: int) -> IPv4Network:
    return IPv4Network(f"10.{vnet_index}.{subnet_index}.0/24")


def _v6_subnet(vnet_index: int, subnet_index: int) -> IPv6Network:
    return IPv6Network(f"fd00:{vnet_index}:0:{subnet_index}::/64")


@st.composite
def _subscription(draw: st.DrawFn) -> Subscription | None:
    if draw(st.booleans()):
        return None
    offer = draw(st.none() | st.sampled_from(OFFER_TYPES))
    quota = draw(
        st.none()
        | st.sampled_from(["EnterpriseAgreement_2014-09-01", "PayAsYouGo_2014-09-01", "MSDN_2014-09-01", "Sponsored_x"])
    )
    created = draw(
        st.none() | st.sampled_from([date(2016, 1, 1), date(2017, 11, 14), date(2017, 11, 15), date(2024, 1, 1)])
    )
    return Subscription(SUBSCRIPTION, quota, offer, created, draw(st.booleans()))


@st.composite
def _network(draw: st.DrawFn) -> tuple[list[VirtualNetwork], list[RouteTable]]:
    route_tables = [
        RouteTable(
            _id("routeTables", "rt-forced"),
            "rt-forced",
            routes=(Route("default", "0.0.0.0/0", "VirtualAppliance", "10.0.0.4"),),
        ),
        RouteTable(
            _id("routeTables", "rt-internet"), "rt-internet", routes=(Route("default", "0.0.0.0/0", "Internet"),)
        ),
    ]
    vnet_count = draw(st.integers(1, 3))
    dual = [draw(st.booleans()) for _ in range(vnet_count)]
    vnets: list[VirtualNetwork] = []
    for v in range(vnet_count):
        vnet_id = _id("virtualNetworks", f"vnet{v}")
        subnets = tuple(
            Subnet(
                f"{vnet_id}/subnets/s{s}",
                f"s{s}",
                (str(_v4_subnet(v, s)),) + ((str(_v6_subnet(v, s)),) if dual[v] else ()),
                route_table=draw(st.none() | st.sampled_from([rt.id for rt in route_tables])),
            )
            for s in range(draw(st.integers(1, 3)))
        )
        space = (f"10.{v}.0.0/16",) + ((f"fd00:{v}::/48",) if dual[v] else ())
        peerings = tuple(
            VirtualNetworkPeering(
                f"{vnet_id}/virtualNetworkPeerings/to{o}",
                f"to{o}",
                _id("virtualNetworks", f"vnet{o}"),
                (f"10.{o}.0.0/16",) + ((f"fd00:{o}::/48",) if dual[o] else ()),
                draw(st.sampled_from(["Connected", "connected", "Initiated", "Disconnected"])),
            )
            for o in range(vnet_count)
            if o != v and draw(st.booleans())
        )
        gateway = draw(st.sampled_from([(), (f"192.168.{v}.0/24",), (f"172.16.{v}.0/24", "fd10::/32")]))
        vnets.append(VirtualNetwork(vnet_id, f"vnet{v}", "westus", {}, space, subnets, peerings, None, gateway))
    return vnets, route_tables


@st.composite
def _nics(draw: st.DrawFn, vnets: list[VirtualNetwork], asg_ids: list[str]) -> list[NetworkInterface]:
    nics: list[NetworkInterface] = []
    next_host = 4
    for n in range(draw(st.integers(1, 4))):
        vnet = draw(st.sampled_from(vnets))
        subnet = draw(st.sampled_from(list(vnet.subnets)))
        nic_id = _id("networkInterfaces", f"nic{n}")
        configs: list[IpConfiguration] = []
        for c in range(draw(st.integers(1, 3))):
            networks = [ipaddress.ip_network(p) for p in subnet.address_prefixes]
            network = networks[0] if c == 0 else draw(st.sampled_from(networks))
            address = network.network_address + next_host
            next_host += 1
            configs.append(
                IpConfiguration(
                    f"{nic_id}/ipConfigurations/ip{c}",
                    f"ip{c}",
                    str(address),
                    subnet.id,
                    "IPv4" if network.version == 4 else "IPv6",
                    tuple(draw(st.lists(st.sampled_from(asg_ids), max_size=2, unique=True))) if asg_ids else (),
                    primary=c == 0,
                )
            )
        nics.append(NetworkInterface(nic_id, f"nic{n}", "westus", {}, tuple(configs)))
    return nics


# --- rules ---------------------------------------------------------------------------------------


def _anchors(vnets: list[VirtualNetwork], nics: list[NetworkInterface]) -> tuple[list[str], list[str]]:
    """Addresses worth aiming prefixes (and flows) at: NIC IPs, subnet/VNet bases, platform and public IPs."""
    v4: list[str] = [*PUBLIC_ANCHORS_V4, *PLATFORM_ANCHORS]
    v6: list[str] = list(PUBLIC_ANCHORS_V6)
    for vnet in vnets:
        for prefix in (*vnet.address_space, *(p for s in vnet.subnets for p in s.address_prefixes)):
            net = ipaddress.ip_network(prefix)
            (v4 if net.version == 4 else v6).extend([str(net.network_address), str(net.broadcast_address)])
    for nic in nics:
        for cfg in nic.ip_configurations:
            assert cfg.private_ip_address is not None
            (v4 if ":" not in cfg.private_ip_address else v6).append(cfg.private_ip_address)
    return v4, v6


@st.composite
def _prefix(draw: st.DrawFn, anchors: list[str], version: int) -> str:
    """An address or CIDR near an anchor, sometimes with host bits set."""
    base = draw(st.sampled_from(anchors))
    lengths = [0, 8, 16, 23, 24, 28, 31, 32] if version == 4 else [0, 32, 48, 64, 120, 127, 128]
    length = draw(st.none() | st.sampled_from(lengths))
    return base if length is None else f"{base}/{length}"


@st.composite
def _ports(draw: st.DrawFn) -> str:
    lo = draw(st.sampled_from(INTERESTING_PORTS) | st.integers(0, 65535))
    kind = draw(st.sampled_from(["single", "range", "any"]))
    if kind == "any":
        return "*"
    if kind == "single":
        return str(lo)
    hi = draw(st.integers(lo, min(65535, lo + draw(st.sampled_from([0, 1, 10, 1000, 65535])))))
    return f"{lo}-{hi}"


@st.composite
def _address_slot(
    draw: st.DrawFn, anchors: tuple[list[str], list[str]], asg_ids: list[str], destination: bool
) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(singular prefix, plural prefixes, ASG ids): exactly one of them supplied."""
    kind = draw(st.sampled_from(["tag", "prefix", "prefixes", "asgs"] if asg_ids else ["tag", "prefix", "prefixes"]))
    if kind == "tag":
        tags = TAGS_ANY_SIDE + PLATFORM_TAG_SPELLINGS if destination else TAGS_ANY_SIDE
        return draw(st.sampled_from(tags)), (), ()
    if kind == "asgs":
        return None, (), tuple(draw(st.lists(st.sampled_from(asg_ids), min_size=1, max_size=2, unique=True)))
    version = draw(st.sampled_from([4, 6]))
    pool = anchors[0] if version == 4 else anchors[1]
    if kind == "prefix":
        return draw(_prefix(pool, version)), (), ()
    return None, tuple(draw(st.lists(_prefix(pool, version), min_size=1, max_size=3, unique=True))), ()


@st.composite
def _port_slot(draw: st.DrawFn) -> tuple[str | None, tuple[str, ...]]:
    if draw(st.booleans()):
        return draw(_ports()), ()
    return None, tuple(draw(st.lists(_ports().filter(lambda p: p != "*"), min_size=1, max_size=3)))


@st.composite
def _rule(
    draw: st.DrawFn,
    name: str,
    priority: int,
    direction: Direction,
    anchors: tuple[list[str], list[str]],
    asg_ids: list[str],
) -> SecurityRule:
    src, srcs, src_asgs = draw(_address_slot(anchors, asg_ids, destination=False))
    dst, dsts, dst_asgs = draw(_address_slot(anchors, asg_ids, destination=True))
    sport, sports = draw(_port_slot())
    dport, dports = draw(_port_slot())
    return SecurityRule(
        name=name,
        priority=priority,
        direction=direction,
        access=draw(st.sampled_from(list(Access))),
        protocol=draw(st.sampled_from(list(Protocol))),
        source_address_prefix=src,
        source_address_prefixes=srcs,
        source_asgs=src_asgs,
        source_port_range=sport,
        source_port_ranges=sports,
        destination_address_prefix=dst,
        destination_address_prefixes=dsts,
        destination_asgs=dst_asgs,
        destination_port_range=dport,
        destination_port_ranges=dports,
    )


@st.composite
def _nsg(draw: st.DrawFn, index: int, anchors: tuple[list[str], list[str]], asg_ids: list[str]) -> NetworkSecurityGroup:
    nsg_id = _id("networkSecurityGroups", f"nsg{index}")
    rules: list[SecurityRule] = []
    for direction in Direction:
        priorities = draw(st.lists(st.integers(100, 4096), max_size=5, unique=True))
        for k, priority in enumerate(priorities):
            name = f"{direction.value[:2].lower()}{k}"
            rule = draw(_rule(name, priority, direction, anchors, asg_ids))
            rules.append(replace(rule, id=f"{nsg_id}/securityRules/{name}"))
    return NetworkSecurityGroup(
        nsg_id, f"nsg{index}", "westus", {}, tuple(rules), default_security_rules(nsg_id), draw(st.booleans())
    )


# --- whole topologies ----------------------------------------------------------------------------


@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    """A random, valid NSG world (see the module docstring)."""
    vnets, route_tables = draw(_network())
    asgs = [ApplicationSecurityGroup(_id("applicationSecurityGroups", f"asg{a}"), f"asg{a}") for a in range(3)]
    asg_ids = [a.id for a in asgs[: draw(st.integers(0, 3))]]
    nics = draw(_nics(vnets, asg_ids[:2]))  # asg2, when present, stays empty
    anchors = _anchors(vnets, nics)
    nsgs = [draw(_nsg(i, anchors, asg_ids)) for i in range(draw(st.integers(0, 3)))]
    nsg_choice = st.none() | st.sampled_from([n.id for n in nsgs]) if nsgs else st.none()
    vnets = [
        VirtualNetwork(
            v.id,
            v.name,
            v.location,
            {},
            v.address_space,
            tuple(Subnet(s.id, s.name, s.address_prefixes, draw(nsg_choice), s.route_table) for s in v.subnets),
            v.peerings,
            None,
            v.gateway_prefixes,
        )
        for v in vnets
    ]
    nics = [NetworkInterface(n.id, n.name, n.location, {}, n.ip_configurations, draw(nsg_choice)) for n in nics]
    subscription = draw(_subscription())
    return Topology.of(
        nsgs=nsgs,
        asgs=asgs,
        vnets=vnets,
        route_tables=route_tables,
        nics=nics,
        subscriptions=[subscription] if subscription else [],
        service_tags=draw(service_tags()),
    )


# --- flows ---------------------------------------------------------------------------------------


def _boundaries(text: str) -> list[str]:
    """First and last address of a prefix and their outside neighbours."""
    try:
        net = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return []
    top = (1 << net.max_prefixlen) - 1
    values = {int(net.network_address), int(net.broadcast_address)}
    values |= {v - 1 for v in values if v > 0} | {v + 1 for v in values if v < top}
    make = IPv4Address if net.version == 4 else IPv6Address
    return [str(make(v)) for v in sorted(values)]


def _flow_addresses(topology: Topology) -> tuple[list[str], list[str]]:
    texts: list[str] = [*NOT_INTERNET_PREFIXES, *(p for ps in PLATFORM_TAG_PREFIXES.values() for p in ps)]
    for nsg in topology.nsgs.values():
        for rule in nsg.security_rules:
            texts += [*rule.source_addresses, *rule.destination_addresses]
    for vnet in topology.vnets.values():
        texts += [*vnet.address_space, *vnet.gateway_prefixes]
        for peering in vnet.peerings:
            texts += peering.remote_address_space
    if topology.service_tags is not None:
        for tag in topology.service_tags.tags.values():
            texts += tag.address_prefixes
    v4, v6 = _anchors(list(topology.vnets.values()), list(topology.nics.values()))
    for text in texts:
        for address in _boundaries(text):
            (v6 if ":" in address else v4).append(address)
    return sorted(set(v4)), sorted(set(v6))


def _flow_ports(topology: Topology) -> list[int]:
    ports = set(INTERESTING_PORTS)
    for nsg in topology.nsgs.values():
        for rule in nsg.security_rules:
            for text in (*rule.source_ports, *rule.destination_ports):
                if text != "*":
                    lo, _, hi = text.partition("-")
                    for edge in (int(lo), int(hi or lo)):
                        ports |= {p for p in (edge - 1, edge, edge + 1) if 0 <= p <= 65535}
    return sorted(ports)


def flows_for(topology: Topology) -> st.SearchStrategy[tuple[str, Flow]]:
    """``(nic_id, Flow)`` at one of the topology's NICs, biased to rule, tag and port boundaries."""
    remote_v4, remote_v6 = _flow_addresses(topology)
    ports = _flow_ports(topology)
    nics = sorted(topology.nics.values(), key=lambda n: n.key)
    port = st.sampled_from(ports) | st.integers(0, 65535)
    protocol = st.sampled_from([6, 6, 17, 17, 1, 58, 50, 51]) | st.integers(0, 255)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, Flow]:
        nic = draw(st.sampled_from(nics))
        local_ip = ipaddress.ip_address(
            draw(st.sampled_from([c.private_ip_address for c in nic.ip_configurations if c.private_ip_address]))
        )
        if local_ip.version == 4:
            remote = draw(st.sampled_from(remote_v4) | st.integers(0, (1 << 32) - 1).map(lambda v: str(IPv4Address(v))))
        else:
            remote = draw(
                st.sampled_from(remote_v6) | st.integers(0, (1 << 128) - 1).map(lambda v: str(IPv6Address(v)))
            )
        proto = draw(protocol)
        ported = proto in (6, 17)
        if ported:
            # A port-bearing flow without a port ("*" in IP flow verify) is rare but must be decided too.
            local_port: int | None = draw(port) if draw(st.integers(0, 30)) else None
            remote_port: int | None = draw(port)
        else:
            local_port, remote_port = draw(st.sampled_from([(None, None), (80, 25)]))
        flow = Flow(
            draw(st.sampled_from(list(Direction))),
            proto,
            local_ip,
            local_port,
            ipaddress.ip_address(remote),
            remote_port,
        )
        return nic.id, flow

    return build()


@st.composite
def topology_and_flows(draw: st.DrawFn, max_flows: int = 20) -> tuple[Topology, list[tuple[str, Flow]]]:
    """A topology and up to ``max_flows`` flows at its NICs."""
    topology = draw(topologies())
    flows = draw(st.lists(flows_for(topology), min_size=1, max_size=max_flows))
    return topology, flows
