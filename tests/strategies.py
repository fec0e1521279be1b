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
- ``subscriptions()``: None or a subscription with every SMTP-relevant combination (offer, quotaId, date).
- ``topology_and_flows(max_flows=20)``: a topology with a list of such pairs (the cheap way to get many cases).

Import them as ``from strategies import topology_and_flows`` (pytest puts ``tests/`` on ``sys.path`` through
``tests/conftest.py``); the matching oracle is ``from reference import reference_decide``.
Rule details come from a seeded ``random.Random`` per NSG (the seed is drawn, so failures replay and shrink
structurally); everything else is drawn by Hypothesis.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import date
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from random import Random

from hypothesis import strategies as st
from tests.reference import KMS_ADDRESSES, NOT_GLOBAL

from opennsg.engine.flow import Flow
from opennsg.model import (
    Access,
    AddressPrefixItem,
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    AdminRule,
    AdminRuleCollection,
    ApplicationSecurityGroup,
    Delegation,
    DeploymentState,
    DeploymentStatus,
    Direction,
    EffectiveAdminRule,
    GroupMemberType,
    IpConfiguration,
    ManagementGroup,
    NetworkGroup,
    NetworkIntentPolicyBasedService,
    NetworkInterface,
    NetworkManager,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PrivateEndpointNetworkPolicies,
    Protocol,
    Route,
    RouteTable,
    SecurityAdminConfiguration,
    SecurityRule,
    ServiceTag,
    ServiceTags,
    StaticMember,
    Subnet,
    Subscription,
    Topology,
    VirtualNetwork,
    VirtualNetworkPeering,
    VnetEffectiveAdminRules,
    default_security_rules,
)
from opennsg.model.ids import network_id

SUBSCRIPTION = "00000000-0000-0000-0000-00000000c0de"
RESOURCE_GROUP = "rg"

#: Addresses a rule or a flow is likely to care about, besides the topology's own.
PUBLIC_ANCHORS_V4 = ("8.8.8.8", "20.60.1.10", "52.1.2.3", "1.0.0.0", "255.255.255.255", "100.64.0.1", "192.168.1.1")
PUBLIC_ANCHORS_V6 = ("2603:1000::1", "2001:4860::8888", "2001:db8::1", "fe80::1", "::", "ffff::1")
#: The platform addresses of semantics §0 (DNS, IMDS, the KMS hosts), written here again rather than imported.
PLATFORM_PREFIXES = ("168.63.129.16/32", "169.254.169.254/32", *KMS_ADDRESSES)
PLATFORM_ANCHORS = tuple(p.split("/")[0] for p in PLATFORM_PREFIXES)
#: Spec §0 "Outbound SMTP": the offer types a subscription may declare.
OFFER_TYPES = (
    "EnterpriseAgreement", "EnterpriseDevTest", "PayAsYouGo", "MSDN", "AzurePass",
    "AzureInOpen", "Education", "FreeTrial", "CSP",
)  # fmt: skip
SMTP_TARGETS = ("8.8.8.8", "52.1.2.3", "20.60.1.10", "1.0.0.0", "100.64.0.1", "168.63.129.16")
PLATFORM_HOST_ANCHORS = ("168.63.129.16", "169.254.169.254", "168.63.129.17", "169.254.169.253")
TAGS_ANY_SIDE = (
    "*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "virtualnetwork", "INTERNET",
    "VIRTUAL_NETWORK", "AZURE_LOADBALANCER", "Storage", "storage.westus", "AzureCloud",
)  # fmt: skip
PLATFORM_TAG_SPELLINGS = ("AzurePlatformDNS", "azureplatformimds", "AzurePlatformLKM", "AZUREPLATFORMDNS")
RULE_PROTOCOL_WEIGHTS = (
    *[Protocol.ANY] * 3,
    *[Protocol.TCP] * 3,
    Protocol.UDP,
    Protocol.UDP,
    Protocol.ICMP,
    Protocol.ESP,
    Protocol.AH,
)
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


#: VNet i's IPv4 space is ``VNET_V4_BASES[i].0.0/16``; the third one is public address space, as some real VNets
#: use, so that ``Internet`` minus ``VirtualNetwork`` matters.
VNET_V4_BASES = ("10.0", "10.1", "52.1")


def _v4_space(vnet_index: int) -> str:
    return f"{VNET_V4_BASES[vnet_index]}.0.0/16"


def _v4_subnet(vnet_index: int, subnet_index: int) -> IPv4Network:
    return IPv4Network(f"{VNET_V4_BASES[vnet_index]}.{subnet_index}.0/24")


def _v6_subnet(vnet_index: int, subnet_index: int) -> IPv6Network:
    return IPv6Network(f"fd00:{vnet_index}:0:{subnet_index}::/64")


@st.composite
def subscriptions(draw: st.DrawFn) -> Subscription | None:
    """No subscription (PayAsYouGo assumed) in a quarter of the cases; else every SMTP-relevant combination."""
    if not draw(st.sampled_from([True, True, True, False])):
        return None
    offer = draw(st.sampled_from([*OFFER_TYPES, "EnterpriseDevTest", None, None, None]))
    quota = draw(
        st.sampled_from(
            [None, "EnterpriseAgreement_2014-09-01", "PayAsYouGo_2014-09-01", "MSDN_2014-09-01", "Sponsored_2016-01-01"]
        )
    )
    created = draw(st.sampled_from([None, date(2016, 1, 1), date(2017, 11, 14), date(2017, 11, 15), date(2024, 1, 1)]))
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
        space = (_v4_space(v),) + ((f"fd00:{v}::/48",) if dual[v] else ())
        peerings = tuple(
            VirtualNetworkPeering(
                f"{vnet_id}/virtualNetworkPeerings/to{o}",
                f"to{o}",
                _id("virtualNetworks", f"vnet{o}"),
                (_v4_space(o),) + ((f"fd00:{o}::/48",) if dual[o] else ()),
                draw(st.sampled_from(["Connected", "connected", "Initiated", "Disconnected"])),
                # subnet peering: only some local subnets, to some remote ones (s0..s2 exist or not)
                peer_complete_vnets=draw(st.sampled_from([True, True, False])),
                local_subnet_names=tuple(draw(st.lists(st.sampled_from(["s0", "S1", "s2"]), max_size=2, unique=True))),
                remote_subnet_names=tuple(draw(st.lists(st.sampled_from(["S0", "s1", "s2"]), max_size=2, unique=True))),
                enable_only_ipv6_peering=draw(st.sampled_from([False, False, True])),
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


def _anchors(
    vnets: list[VirtualNetwork], nics: list[NetworkInterface], local_only: bool = False
) -> tuple[list[str], list[str]]:
    """Addresses worth aiming prefixes (and flows) at: NIC IPs, subnet/VNet bases, and (unless ``local_only``)
    platform and public IPs."""
    v4: list[str] = [] if local_only else [*PUBLIC_ANCHORS_V4, *PLATFORM_ANCHORS]
    v6: list[str] = [] if local_only else list(PUBLIC_ANCHORS_V6)
    for vnet in vnets:
        for prefix in (*vnet.address_space, *(p for s in vnet.subnets for p in s.address_prefixes)):
            net = ipaddress.ip_network(prefix)
            (v4 if net.version == 4 else v6).extend([str(net.network_address), str(net.broadcast_address)])
    for nic in nics:
        for cfg in nic.ip_configurations:
            assert cfg.private_ip_address is not None
            (v4 if ":" not in cfg.private_ip_address else v6).append(cfg.private_ip_address)
    return v4, v6


# Rule details come from a seeded ``random.Random`` per NSG: drawing every field through Hypothesis would
# exhaust its per-example budget and bias the examples towards tiny NSGs. The seed is drawn, so failures replay.


def _prefix(rnd: Random, anchors: list[str], version: int) -> str:
    """An address or CIDR near an anchor, sometimes with host bits set."""
    base = rnd.choice(anchors)
    lengths = [0, 8, 16, 23, 24, 28, 31, 32] if version == 4 else [0, 32, 48, 64, 120, 127, 128]
    length = rnd.choice([None, *lengths])
    return base if length is None else f"{base}/{length}"


def _ports(rnd: Random, allow_any: bool = True) -> str:
    lo = rnd.choice(INTERESTING_PORTS) if rnd.random() < 0.7 else rnd.randint(0, 65535)
    kind = rnd.choice(["single", "range", "any"] if allow_any else ["single", "range"])
    if kind == "any":
        return "*"
    if kind == "single":
        return str(lo)
    hi = rnd.randint(lo, min(65535, lo + rnd.choice([0, 1, 10, 1000, 65535])))
    return f"{lo}-{hi}"


def _address_slot(
    rnd: Random, anchors: tuple[list[str], list[str]], asg_ids: list[str], destination: bool
) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(singular prefix, plural prefixes, ASG ids): exactly one of them supplied."""
    kinds = ["any", "tag", "tag", "prefix", "prefix", "prefixes", "asgs"]
    kind = rnd.choice(kinds if asg_ids else kinds[:-1])
    if kind == "any":
        return "*", (), ()
    if kind == "tag":
        return rnd.choice(TAGS_ANY_SIDE + PLATFORM_TAG_SPELLINGS if destination else TAGS_ANY_SIDE), (), ()
    if kind == "asgs":
        return None, (), tuple(rnd.sample(asg_ids, rnd.randint(1, min(2, len(asg_ids)))))
    version = rnd.choice([4, 6] if anchors[1] else [4])
    pool = anchors[0] if version == 4 else anchors[1]
    if kind == "prefix":
        return _prefix(rnd, pool, version), (), ()
    return None, tuple(dict.fromkeys(_prefix(rnd, pool, version) for _ in range(rnd.randint(1, 3)))), ()


def _port_slot(rnd: Random) -> tuple[str | None, tuple[str, ...]]:
    if rnd.random() < 0.5:
        return _ports(rnd), ()
    return None, tuple(_ports(rnd, allow_any=False) for _ in range(rnd.randint(1, 3)))


def _rule(
    rnd: Random,
    rule_id: str,
    priority: int,
    direction: Direction,
    anchors: tuple[list[str], list[str]],
    local_anchors: tuple[list[str], list[str]],
    asg_ids: list[str],
) -> SecurityRule:
    """A rule whose local side (destination of inbound rules, source of outbound ones) aims at the NICs."""
    inbound = direction is Direction.INBOUND
    src, srcs, src_asgs = _address_slot(rnd, anchors if inbound else local_anchors, asg_ids, destination=False)
    dst, dsts, dst_asgs = _address_slot(rnd, local_anchors if inbound else anchors, asg_ids, destination=True)
    sport, sports = _port_slot(rnd) if rnd.random() < 0.3 else ("*", ())
    dport, dports = _port_slot(rnd)
    return SecurityRule(
        name=rule_id.rsplit("/", 1)[-1],
        priority=priority,
        direction=direction,
        access=rnd.choice(list(Access)),
        protocol=rnd.choice(RULE_PROTOCOL_WEIGHTS),
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
        id=rule_id,
    )


@st.composite
def _nsg(
    draw: st.DrawFn,
    index: int,
    anchors: tuple[list[str], list[str]],
    local_anchors: tuple[list[str], list[str]],
    asg_ids: list[str],
) -> NetworkSecurityGroup:
    nsg_id = _id("networkSecurityGroups", f"nsg{index}")
    rnd = Random(draw(st.integers(0, 2**32 - 1)))
    rules: list[SecurityRule] = []
    for direction in Direction:
        count = draw(st.integers(0, 8))
        for k, priority in enumerate(sorted(rnd.sample(range(100, 4097), count))):
            rule_id = f"{nsg_id}/securityRules/{direction.value[:2].lower()}{k}"
            rules.append(_rule(rnd, rule_id, priority, direction, anchors, local_anchors, asg_ids))
    rnd.shuffle(rules)
    return NetworkSecurityGroup(
        nsg_id, f"nsg{index}", "westus", {}, tuple(rules), default_security_rules(nsg_id), draw(st.booleans())
    )


# --- AVNM security admin rules and private endpoints (semantics §11, §12) -------------------------------------

MG_ROOT = "/providers/Microsoft.Management/managementGroups/mg-root"
MG_CHILD = "/providers/Microsoft.Management/managementGroups/mg-child"
FOREIGN_SUBSCRIPTION = "99999999-0000-0000-0000-000000000000"
#: Names that keep admin rules away (semantics §11.2), written here again.
SPECIAL_SUBNET_NAMES = ("GatewaySubnet", "AzureFirewallSubnet", "AzureBastionSubnet", "RouteServerSubnet")
SPECIAL_DELEGATIONS = ("Microsoft.Sql/managedInstances", "Microsoft.Databricks/workspaces",
                       "Microsoft.Network/applicationGateways")  # fmt: skip
ADMIN_TAGS = ("Internet", "VirtualNetwork", "AzureLoadBalancer", "Storage", "AzureCloud")
ENDPOINT_POLICIES = (None, "Disabled", "Enabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled")


def _admin_items(
    rnd: Random, pool: tuple[list[str], list[str]], groups: list[str], destination: bool
) -> tuple[AddressPrefixItem, ...]:
    """0–2 sources or destinations: ``*``, prefixes near the anchors, service tags (platform ones as destinations),
    network groups of the manager."""
    out: list[AddressPrefixItem] = []
    for _ in range(rnd.choice([0, 1, 1, 1, 2])):
        kind = rnd.choice(["any", "prefix", "prefix", "tag", "group"] if groups else ["any", "prefix", "prefix", "tag"])
        if kind == "any":
            out.append(AddressPrefixItem("*", AddressPrefixType.IP_PREFIX))
        elif kind == "prefix":
            version = rnd.choice([4, 6] if pool[1] else [4])
            anchors = pool[0] if version == 4 else pool[1]
            out.append(AddressPrefixItem(_prefix(rnd, anchors, version), AddressPrefixType.IP_PREFIX))
        elif kind == "tag":
            tags = ADMIN_TAGS + PLATFORM_TAG_SPELLINGS if destination else ADMIN_TAGS
            out.append(AddressPrefixItem(rnd.choice(tags), AddressPrefixType.SERVICE_TAG))
        else:
            out.append(AddressPrefixItem(rnd.choice(groups), AddressPrefixType.NETWORK_GROUP))
    return tuple(out)


def _admin_rules(
    rnd: Random,
    collection_id: str,
    anchors: tuple[list[str], list[str]],
    local_anchors: tuple[list[str], list[str]],
    groups: list[str],
) -> list[AdminRule]:
    """Rules whose local side (destinations inbound, sources outbound) is usually any address or near the NICs."""
    rules = []
    # priorities from a small range, so that equal priorities across collections are common
    for k, priority in enumerate(rnd.sample(range(1, 12), rnd.randint(0, 5))):
        ports = [(), (), (_ports(rnd, allow_any=False),), (_ports(rnd, allow_any=False), _ports(rnd, allow_any=False))]
        direction = rnd.choice(list(Direction))
        remote = _admin_items(rnd, anchors, groups, direction is Direction.OUTBOUND)
        local = () if rnd.random() < 0.5 else _admin_items(rnd, local_anchors, groups, direction is Direction.INBOUND)
        sources, destinations = (remote, local) if direction is Direction.INBOUND else (local, remote)
        rules.append(
            AdminRule(
                id=f"{collection_id}/rules/r{k}", name=rnd.choice([f"r{k}", f"R{k}x", f"a{k}"]), priority=priority,
                direction=direction, access=rnd.choice(list(AdminAccess)), protocol=rnd.choice(list(AdminProtocol)),
                sources=sources, destinations=destinations,
                source_port_ranges=rnd.choice(ports[:3]), destination_port_ranges=rnd.choice(ports),
            )
        )  # fmt: skip
    return rules


@st.composite
def _avnm(
    draw: st.DrawFn,
    topology: Topology,
    anchors: tuple[list[str], list[str]],
    local_anchors: tuple[list[str], list[str]],
) -> Topology:
    """Managers (subscription- or management-group-scoped), groups of VNets or subnets, configurations (network
    intent modes), collections, admin rules (ties across collections), deployment statuses; special and delegated
    subnets; private endpoints with every ``privateEndpointNetworkPolicies``; sometimes a VNet's effective admin
    rules answer."""
    rnd = Random(draw(st.integers(0, 2**32 - 1)))
    vnets = list(topology.vnets.values())
    subnets = [s for v in vnets for s in v.subnets]
    managers, groups, members, configurations, collections, rules = [], [], [], [], [], []
    statuses: list[DeploymentStatus] = []
    for m in range(draw(st.sampled_from([1, 1, 2, 0]))):
        manager_id = _id("networkManagers", f"nm{m}")
        scope = rnd.choice(["sub", "sub", "mg-root", "mg-child", "foreign"])
        managers.append(
            NetworkManager(
                id=manager_id,
                name=f"nm{m}",
                location="westus",
                scope_subscriptions=(f"/subscriptions/{SUBSCRIPTION if scope == 'sub' else FOREIGN_SUBSCRIPTION}",)
                if scope in ("sub", "foreign")
                else (),
                scope_management_groups=(MG_ROOT if scope == "mg-root" else MG_CHILD,)
                if scope.startswith("mg")
                else (),
            )
        )
        group_ids = []
        for g in range(rnd.randint(1, 2)):
            group_id = f"{manager_id}/networkGroups/g{g}"
            by_subnet = rnd.random() < 0.35
            pool = [s.id for s in subnets] if by_subnet else [v.id for v in vnets]
            chosen = rnd.sample(pool, rnd.randint(0, len(pool)))
            if rnd.random() < 0.1 and not by_subnet and subnets:
                chosen.append(rnd.choice(subnets).id)  # a subnet in a VNet group: no effect
            groups.append(
                NetworkGroup(
                    id=group_id,
                    name=f"g{g}",
                    member_type=GroupMemberType.SUBNET
                    if by_subnet
                    else rnd.choice([GroupMemberType.VIRTUAL_NETWORK, None]),
                )
            )
            members += [
                StaticMember(id=f"{group_id}/staticMembers/m{i}", name=f"m{i}", resource_id=member)
                for i, member in enumerate(chosen)
            ]
            group_ids.append(group_id)
        for c in range(rnd.randint(1, 2)):
            configuration_id = f"{manager_id}/securityAdminConfigurations/cfg{c}"
            modes = rnd.choice(
                [
                    (),
                    (),
                    (NetworkIntentPolicyBasedService.NONE,),
                    (NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY,),
                    (NetworkIntentPolicyBasedService.ALL,),
                ]
            )
            configurations.append(
                SecurityAdminConfiguration(
                    id=configuration_id,
                    name=f"cfg{c}",
                    apply_on_network_intent_policy_based_services=modes,
                    resource_guid=f"00000000-0000-0000-{m:04d}-{c:012d}" if rnd.random() < 0.7 else None,
                )
            )
            if rnd.random() < 0.4:
                statuses.append(
                    DeploymentStatus(
                        region=rnd.choice(["westus", "West US", "eastus"]),
                        deployment_status=rnd.choice(
                            [DeploymentState.DEPLOYED, DeploymentState.DEPLOYED, DeploymentState.DEPLOYING]
                        ),
                        configuration_ids=(rnd.choice([configuration_id, f"cfg{c}"]),),
                    )
                )
            for k in rnd.sample(["rc-b", "rc-a", "rc-c"], rnd.randint(1, 2)):
                collection_id = f"{configuration_id}/ruleCollections/{k}"
                applies = tuple(rnd.sample(group_ids, rnd.randint(1, len(group_ids))))
                collections.append(AdminRuleCollection(id=collection_id, name=k, applies_to_groups=applies))
                rules += _admin_rules(rnd, collection_id, anchors, local_anchors, group_ids)
    management_groups = []
    if rnd.random() < 0.7:
        under = rnd.choice([SUBSCRIPTION, FOREIGN_SUBSCRIPTION])
        management_groups = [
            ManagementGroup(MG_ROOT, "mg-root", child_groups=(MG_CHILD,)),
            ManagementGroup(MG_CHILD, "mg-child", parent_id=MG_ROOT, subscriptions=(f"/subscriptions/{under}",)),
        ]
    # subnets admin rules skip, VNets with network intent policies, private endpoints
    new_vnets = []
    for vnet in vnets:
        new_subnets = []
        taken = {subnet.name.casefold() for subnet in vnet.subnets}  # a name is unique in its VNet, as Azure keeps it
        for subnet in vnet.subnets:
            roll = rnd.random()
            free = [name for name in SPECIAL_SUBNET_NAMES if name.casefold() not in taken]
            if roll < 0.1 and free:
                subnet = replace(subnet, name=rnd.choice(free))
                taken.add(subnet.name.casefold())
            elif roll < 0.2:
                subnet = replace(subnet, delegations=(Delegation("delegation1", rnd.choice(SPECIAL_DELEGATIONS)),))
            policies = rnd.choice(ENDPOINT_POLICIES)
            parsed = PrivateEndpointNetworkPolicies.parse(policies) if policies else None
            new_subnets.append(replace(subnet, private_endpoint_network_policies=parsed))
        new_vnets.append(replace(vnet, subnets=tuple(new_subnets)))
    nics = []
    endpoints = []
    for nic in topology.nics.values():
        if rnd.random() < 0.2:
            endpoint_id = _id("privateEndpoints", f"pe-{nic.name}")
            endpoints.append(
                PrivateEndpoint(
                    id=endpoint_id,
                    name=f"pe-{nic.name}",
                    location="westus",
                    subnet=nic.subnet,
                    network_interfaces=(nic.id,),
                )
            )
            # the endpoint's NIC names it, or only the endpoint lists the NIC (az prints either side alone)
            nic = replace(
                nic, network_security_group=None, private_endpoint=endpoint_id if rnd.random() < 0.5 else None
            )
        nics.append(nic)
    answers = []
    if rules and rnd.random() < 0.15:
        chosen = rnd.sample(rules, rnd.randint(1, len(rules)))
        answers.append(VnetEffectiveAdminRules(rnd.choice(vnets).id, tuple(EffectiveAdminRule(r) for r in chosen)))
    return topology.with_(
        vnets=new_vnets,
        nics=nics,
        private_endpoints=endpoints,
        network_managers=managers,
        network_groups=groups,
        static_members=members,
        security_admin_configurations=configurations,
        admin_rule_collections=collections,
        admin_rules=rules,
        deployment_statuses=statuses,
        management_groups=management_groups,
        effective_admin_rules=answers,
    )


# --- whole topologies ----------------------------------------------------------------------------


@st.composite
def topologies(draw: st.DrawFn, avnm: bool = False) -> Topology:
    """A random, valid NSG world (see the module docstring); with ``avnm``, AVNM admin rules and private endpoints
    too (``_avnm``)."""
    vnets, route_tables = draw(_network())
    asgs = [ApplicationSecurityGroup(_id("applicationSecurityGroups", f"asg{a}"), f"asg{a}") for a in range(3)]
    asg_ids = [a.id for a in asgs[: draw(st.integers(0, 3))]]
    nics = draw(_nics(vnets, asg_ids[:2]))  # asg2, when present, stays empty
    anchors = _anchors(vnets, nics)
    local_anchors = _anchors(vnets, nics, local_only=True)
    nsgs = [draw(_nsg(i, anchors, local_anchors, asg_ids)) for i in range(draw(st.sampled_from([2, 3, 1])))]
    nsg_choice = st.sampled_from([*(n.id for n in nsgs), *(n.id for n in nsgs), None])
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
    subscription = draw(subscriptions())
    topology = Topology.of(
        nsgs=nsgs,
        asgs=asgs,
        vnets=vnets,
        route_tables=route_tables,
        nics=nics,
        subscriptions=[subscription] if subscription else [],
        service_tags=draw(service_tags()),
    )
    return draw(_avnm(topology, anchors, local_anchors)) if avnm else topology


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


def _asg_members(topology: Topology, asgs: tuple[str, ...]) -> list[str]:
    """Private IPs of the IP configurations in any of ``asgs``."""
    wanted = {a.casefold() for a in asgs}
    return [
        cfg.private_ip_address
        for nic in topology.nics.values()
        for cfg in nic.ip_configurations
        if cfg.private_ip_address and wanted & {a.casefold() for a in cfg.application_security_groups}
    ]


def _within(address: IPv4Address | IPv6Address, text: str) -> bool:
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return network.version == address.version and address in network


def _flow_addresses(topology: Topology) -> tuple[list[str], list[str]]:
    texts: list[str] = [*NOT_GLOBAL, *PLATFORM_PREFIXES]
    for nsg in topology.nsgs.values():
        for rule in nsg.security_rules:
            texts += [*rule.source_addresses, *rule.destination_addresses]
    for admin in topology.admin_rules.values():
        texts += [i.address_prefix for i in (*admin.sources, *admin.destinations)]
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
    texts = [
        p for n in topology.nsgs.values() for r in n.security_rules for p in (*r.source_ports, *r.destination_ports)
    ]
    texts += [p for r in topology.admin_rules.values() for p in (*r.source_port_ranges, *r.destination_port_ranges)]
    for text in texts:
        if text != "*":
            lo, _, hi = text.partition("-")
            for edge in (int(lo), int(hi or lo)):
                ports |= {p for p in (edge - 1, edge, edge + 1) if 0 <= p <= 65535}
    return sorted(ports)


RULE_PROTOCOLS: dict[Protocol, list[int]] = {
    Protocol.TCP: [6],
    Protocol.UDP: [17],
    Protocol.ICMP: [1, 58],
    Protocol.ESP: [50],
    Protocol.AH: [51],
    Protocol.ANY: [6, 17, 1, 58, 50, 51, 47],
}


def _port_edges(texts: tuple[str, ...]) -> list[int]:
    edges: set[int] = set()
    for text in texts:
        if text != "*":
            lo, _, hi = text.partition("-")
            for edge in (int(lo), int(hi or lo)):
                edges |= {p for p in (edge - 1, edge, edge + 1) if 0 <= p <= 65535}
    return sorted(edges) or [0, 65535]


def _aimed_rules(topology: Topology) -> list[tuple[SecurityRule, list[NetworkInterface]]]:
    """Each user rule with the NICs whose chain holds its NSG (all NICs when none does)."""
    out = []
    for nsg in sorted(topology.nsgs.values(), key=lambda n: n.key):
        subnets = {s.key for s in topology.subnets_using_nsg(nsg.id)}
        holders = [
            n
            for n in topology.nics_using_nsg(nsg.id)
            + [n for n in topology.nics.values() if n.subnet and n.subnet.casefold() in subnets]
        ]
        for rule in nsg.security_rules:
            out.append((rule, holders or list(topology.nics.values())))
    return out


def flows_for(topology: Topology) -> st.SearchStrategy[tuple[str, Flow]]:
    """``(nic_id, Flow)`` at one of the topology's NICs, biased to rule, tag and port boundaries.

    Half of the flows are aimed at a user rule: its direction, a protocol it names, a NIC its NSG applies to,
    remote addresses at the edges of its remote-side prefixes, ports at the edges of its port ranges. A quarter
    go to platform addresses (DNS, IMDS, KMS, the tags file's AzurePlatformLKM, TCP 1688 and its neighbours) or
    to Internet TCP 25 and its neighbours.
    """
    remote_v4, remote_v6 = _flow_addresses(topology)
    ports = _flow_ports(topology)
    nics = sorted(topology.nics.values(), key=lambda n: n.key)
    aimed = _aimed_rules(topology)
    lkm = topology.service_tags.get("AzurePlatformLKM") if topology.service_tags else None
    lkm_edges = (a for p in (lkm.address_prefixes if lkm else ()) for a in _boundaries(p))
    kms_targets = sorted({*PLATFORM_ANCHORS, *lkm_edges} - set(PLATFORM_HOST_ANCHORS))
    port = st.sampled_from(ports) | st.integers(0, 65535)
    protocol = st.sampled_from([6, 6, 17, 17, 1, 58, 50, 51]) | st.integers(0, 255)

    admin_rules = sorted(topology.admin_rules.values(), key=lambda r: r.key)

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, Flow]:
        rule: SecurityRule | None = None
        modes = ["rule", "rule", "platform", "platform", "random"] if aimed else ["platform", "random"]
        mode = draw(st.sampled_from(modes + ["admin", "admin"] * bool(admin_rules)))
        if mode == "admin":
            admin = draw(st.sampled_from(admin_rules))
            return draw(_admin_aimed(admin, _reached_nics(topology, admin) or nics, ports))
        if mode == "platform":
            nic = draw(st.sampled_from(nics))
            v4 = ipaddress.ip_address(next(c.private_ip_address for c in nic.ip_configurations if c.private_ip_address))
            kind = draw(st.sampled_from(["smtp", "kms", "host"]))
            if kind == "smtp":
                target = draw(st.sampled_from(SMTP_TARGETS))
                smtp = Flow(
                    Direction.OUTBOUND,
                    6,
                    v4,
                    draw(port),
                    ipaddress.ip_address(target),
                    draw(st.sampled_from([25, 25, 25, 24, 26])),
                )
                return nic.id, smtp
            if kind == "kms":
                target = draw(st.sampled_from(kms_targets))
                kms = Flow(
                    Direction.OUTBOUND,
                    draw(st.sampled_from([6, 6, 6, 17])),
                    v4,
                    draw(port),
                    ipaddress.ip_address(target),
                    draw(st.sampled_from([1688, 1688, 1687, 1689])),
                )
                return nic.id, kms
            host = Flow(
                draw(st.sampled_from([Direction.OUTBOUND, Direction.OUTBOUND, Direction.INBOUND])),
                draw(st.sampled_from([6, 17, 1, 50])),
                v4,
                draw(port),
                ipaddress.ip_address(draw(st.sampled_from(PLATFORM_HOST_ANCHORS))),
                draw(port),
            )
            return nic.id, host if host.has_ports else replace(host, local_port=None, remote_port=None)
        if mode == "rule":
            rule, holders = draw(st.sampled_from(aimed))
            nic = draw(st.sampled_from(holders))
        else:
            nic = draw(st.sampled_from(nics))
        local_ips = [ipaddress.ip_address(c.private_ip_address) for c in nic.ip_configurations if c.private_ip_address]
        if rule is not None:
            inbound_rule = rule.direction is Direction.INBOUND
            local_side = rule.destination_addresses if inbound_rule else rule.source_addresses
            local_asgs = rule.destination_asgs if inbound_rule else rule.source_asgs
            inside = [ip for ip in local_ips if any(_within(ip, text) for text in local_side)]
            inside += [ip for ip in local_ips if str(ip) in _asg_members(topology, local_asgs)]
            local_ips = inside or local_ips
        local_ip = draw(st.sampled_from(local_ips))
        pool = remote_v4 if local_ip.version == 4 else remote_v6
        direction = draw(st.sampled_from(list(Direction)))
        proto = draw(protocol)
        remote_ports = local_ports = port
        if rule is not None:
            direction = rule.direction
            proto = draw(st.sampled_from(RULE_PROTOCOLS[rule.protocol]))
            inbound = direction is Direction.INBOUND
            remote_side = rule.source_addresses if inbound else rule.destination_addresses
            remote_asgs = rule.source_asgs if inbound else rule.destination_asgs
            near = [a for text in remote_side for a in _boundaries(text) if (":" in a) == (local_ip.version == 6)]
            near += [a for a in _asg_members(topology, remote_asgs) if (":" in a) == (local_ip.version == 6)]
            pool = near or pool
            remote_texts, local_texts = (
                (rule.source_ports, rule.destination_ports) if inbound else (rule.destination_ports, rule.source_ports)
            )
            remote_ports = st.sampled_from(_port_edges(remote_texts))
            local_ports = st.sampled_from(_port_edges(local_texts))
        top = (1 << (32 if local_ip.version == 4 else 128)) - 1
        remote = draw(st.sampled_from(pool) | st.integers(0, top).map(lambda v: str(ipaddress.ip_address(v))))
        if local_ip.version == 6 and ":" not in remote:
            remote = str(IPv6Address(int(IPv4Address(remote))))
        if proto in (6, 17):
            # A port-bearing flow without a port ("*" in IP flow verify) is rare but must be decided too.
            local_port: int | None = draw(local_ports) if draw(st.integers(0, 7)) else None
            remote_port: int | None = draw(remote_ports)
        else:
            local_port, remote_port = draw(st.sampled_from([(None, None), (80, 25)]))
        flow = Flow(direction, proto, local_ip, local_port, ipaddress.ip_address(remote), remote_port)
        return nic.id, flow

    return build()


def _reached_nics(topology: Topology, rule: AdminRule) -> list[NetworkInterface]:
    """NICs in a VNet or subnet that is a static member of a group the rule's collection applies to."""
    collection = topology.admin_rule_collections.get(rule.rule_collection_id.casefold())
    groups = {g.casefold() for g in (collection.applies_to_groups if collection else ())}
    members = {
        m.resource_id.casefold() for m in topology.static_members.values() if m.network_group_id.casefold() in groups
    }
    return [
        n
        for n in sorted(topology.nics.values(), key=lambda n: n.key)
        if n.subnet and (n.subnet.casefold() in members or n.subnet.casefold().rsplit("/", 2)[0] in members)
    ]


ADMIN_PROTOCOLS: dict[str, list[int]] = {
    "Tcp": [6], "Udp": [17], "Icmp": [1, 58], "Esp": [50], "Ah": [51], "Any": [6, 17, 1, 58, 50, 47],
}  # fmt: skip


@st.composite
def _admin_aimed(draw: st.DrawFn, rule: AdminRule, nics: list[NetworkInterface], ports: list[int]) -> tuple[str, Flow]:
    """A flow in an admin rule's direction and protocol, from and to the edges of its prefixes and port ranges, at
    one of ``nics`` (the caller passes those the rule's collection is likely to reach)."""
    nic = draw(st.sampled_from(nics))
    local_ips = [ipaddress.ip_address(c.private_ip_address) for c in nic.ip_configurations if c.private_ip_address]
    local_ip = draw(st.sampled_from(local_ips))
    inbound = rule.direction is Direction.INBOUND
    remote_side = rule.sources if inbound else rule.destinations
    near = [a for i in remote_side for a in _boundaries(i.address_prefix) if (":" in a) == (local_ip.version == 6)]
    fallback = "2603:1000::1" if local_ip.version == 6 else "52.1.2.3"
    remote = ipaddress.ip_address(draw(st.sampled_from(near or [fallback])))
    proto = draw(st.sampled_from(ADMIN_PROTOCOLS[rule.protocol.value]))
    remote_texts, local_texts = (
        (rule.source_port_ranges, rule.destination_port_ranges)
        if inbound
        else (rule.destination_port_ranges, rule.source_port_ranges)
    )
    if proto in (6, 17):
        local_port: int | None = draw(st.sampled_from(_port_edges(local_texts)) | st.sampled_from(ports))
        remote_port: int | None = draw(st.sampled_from(_port_edges(remote_texts)) | st.sampled_from(ports))
    else:
        local_port = remote_port = None
    return nic.id, Flow(rule.direction, proto, local_ip, local_port, remote, remote_port)


@st.composite
def topology_and_flows(
    draw: st.DrawFn, max_flows: int = 20, avnm: bool = False
) -> tuple[Topology, list[tuple[str, Flow]]]:
    """A topology (with AVNM admin rules and private endpoints when ``avnm``) and up to ``max_flows`` flows at its
    NICs."""
    topology = draw(topologies(avnm=avnm))
    flows = draw(st.lists(flows_for(topology), min_size=max(1, max_flows // 2), max_size=max_flows))
    return topology, flows
