"""Seeded benchmark workloads: NSG-shaped topologies (two layers, a 10k-prefix service tag, augmented rules)
and flow traces (uniform, rule-hitting, Zipf) as ``FlowColumns`` and as ``Flow`` objects."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

import numpy as np
import numpy.typing as npt

from opennsg.engine.compiled import FlowColumns
from opennsg.engine.flow import Flow
from opennsg.model import (
    Access,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    SecurityRule,
    ServiceTag,
    ServiceTags,
    Subnet,
    Topology,
    VirtualNetwork,
    default_security_rules,
)

PREFIX = "/subscriptions/00000000-0000-0000-0000-0000000be7c4/resourceGroups/bench/providers/Microsoft.Network"
NIC_V4 = "10.0.1.4"
NIC_V6 = "fd00:0:0:1::4"
BIG_TAG = "BenchBigTag"
BIG_TAG_PREFIXES = 10_240
PROTOCOL_MIX = (Protocol.TCP, Protocol.TCP, Protocol.TCP, Protocol.UDP, Protocol.ANY, Protocol.ICMP)
FLOW_PROTOCOLS = np.asarray([6, 6, 6, 6, 17, 17, 1, 58, 50], dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    rules_per_direction: int
    augmented_prefixes: int
    topology: Topology
    nic_id: str


def _v4_prefix(rnd: random.Random) -> str:
    length = rnd.choice((8, 12, 16, 20, 24, 24, 28, 32, 32))
    address = rnd.randrange(1 << 24, 223 << 24)
    return str(ipaddress.ip_network((address, length), strict=False))


def _v6_prefix(rnd: random.Random) -> str:
    length = rnd.choice((32, 48, 64, 128))
    return str(ipaddress.ip_network((rnd.getrandbits(128) | (0x2 << 124), length), strict=False))


def _remote_slot(rnd: random.Random, augmented: int) -> dict[str, object]:
    roll = rnd.random()
    if augmented:  # one address family per rule, as Azure requires
        return {"prefixes": tuple(_v4_prefix(rnd) for _ in range(augmented))}
    if roll < 0.1:
        return {"prefix": BIG_TAG}
    if roll < 0.25:
        return {"prefix": rnd.choice(("Internet", "VirtualNetwork", "AzureLoadBalancer", "*"))}
    if roll < 0.35:
        return {"prefix": _v6_prefix(rnd)}
    if roll < 0.6:
        return {"prefixes": tuple(_v4_prefix(rnd) for _ in range(rnd.randint(2, 12)))}
    return {"prefix": _v4_prefix(rnd)}


def _local_slot(rnd: random.Random) -> dict[str, object]:
    return {"prefix": rnd.choice(("*", "VirtualNetwork", "10.0.1.0/24", "10.0.1.4", "10.0.0.0/16", "fd00::/48"))}


def _ports(rnd: random.Random) -> dict[str, object]:
    roll = rnd.random()
    if roll < 0.2:
        return {"range": "*"}
    if roll < 0.6:
        return {"range": str(rnd.randrange(1, 65536))}
    if roll < 0.8:
        lo = rnd.randrange(1, 65000)
        return {"range": f"{lo}-{lo + rnd.randrange(1, 500)}"}
    return {"ranges": tuple(sorted({str(rnd.randrange(1, 65536)) for _ in range(rnd.randint(2, 8))}))}


def _rule(rnd: random.Random, nsg_id: str, k: int, direction: Direction, augmented: int) -> SecurityRule:
    remote = _remote_slot(rnd, augmented)
    local = _local_slot(rnd)
    source, destination = (remote, local) if direction is Direction.INBOUND else (local, remote)
    ports = _ports(rnd)
    name = f"{direction.value[:2].lower()}-{k}"
    return SecurityRule(
        name=name,
        priority=100 + k * 3,
        direction=direction,
        access=Access.ALLOW if rnd.random() < 0.6 else Access.DENY,
        protocol=rnd.choice(PROTOCOL_MIX),
        source_address_prefix=source.get("prefix"),  # type: ignore[arg-type]
        source_address_prefixes=source.get("prefixes", ()),  # type: ignore[arg-type]
        source_port_range="*" if rnd.random() < 0.95 else str(rnd.randrange(1024, 65536)),
        destination_address_prefix=destination.get("prefix"),  # type: ignore[arg-type]
        destination_address_prefixes=destination.get("prefixes", ()),  # type: ignore[arg-type]
        destination_port_range=ports.get("range"),  # type: ignore[arg-type]
        destination_port_ranges=ports.get("ranges", ()),  # type: ignore[arg-type]
        id=f"{nsg_id}/securityRules/{name}",
    )


#: Azure's limit of addresses and ranges per side (source, destination) across one NSG's rules.
PREFIXES_PER_SIDE = 4000


def _side_count(rules: list[SecurityRule], side: str) -> int:
    """Entries counted against the per-side limit: every singular value (tags and ``*`` too) or plural entry."""
    return sum(len(getattr(r, f"{side}_address_prefixes")) or 1 for r in rules)


def _nsg(rnd: random.Random, name: str, per_direction: dict[Direction, int], augmented: int) -> NetworkSecurityGroup:
    """Random rules, and per direction one augmented rule as large as the per-side limit leaves room for."""
    nsg_id = f"{PREFIX}/networkSecurityGroups/{name}"
    out: list[SecurityRule] = []
    for direction in Direction:
        out.extend(_rule(rnd, nsg_id, k, direction, 0) for k in range(per_direction[direction]))
    for direction, side in ((Direction.INBOUND, "source"), (Direction.OUTBOUND, "destination")):
        count = per_direction[direction]
        if count == 0:
            continue
        index = (0 if direction is Direction.INBOUND else per_direction[Direction.INBOUND]) + count // 2
        room = PREFIXES_PER_SIDE - (_side_count(out, side) - _side_count([out[index]], side))
        out[index] = _rule(rnd, nsg_id, count // 2, direction, max(2, min(augmented, room)))
    return NetworkSecurityGroup(nsg_id, name, "westus", {}, tuple(out), default_security_rules(nsg_id))


def big_tag(seed: int) -> ServiceTags:
    """A service tag of ``BIG_TAG_PREFIXES`` disjoint IPv4 /24s and /28s (synthetic, not Azure's)."""
    rnd = random.Random(seed)
    blocks = rnd.sample(range(1 << 16, 223 << 16), BIG_TAG_PREFIXES)
    prefixes = tuple(f"{IPv4Address(b << 8)}/{rnd.choice((24, 28))}" for b in blocks)
    return ServiceTags.of([ServiceTag(BIG_TAG, prefixes, ("NSG",))])


def workload(rules: int, seed: int = 7, outbound: int | None = None) -> Workload:
    """Two layers (subnet NSG + NIC NSG), ``rules`` inbound and ``outbound`` (default: as many) outbound rules each,
    the big tag in play, and augmented rules as large as Azure's 4,000-prefixes-per-side limit allows.

    Azure allows 1,000 rules per NSG: ``workload(500)`` and ``workload(1000, outbound=0)`` are at the limit; larger
    ones are beyond what Azure accepts (stress cases only).
    """
    out_rules = rules if outbound is None else outbound
    per_direction = {Direction.INBOUND: rules, Direction.OUTBOUND: out_rules}
    rnd = random.Random(seed * 1000 + rules * 7 + out_rules)
    augmented = min(PREFIXES_PER_SIDE, max(40, (rules + out_rules) * 2))
    subnet_nsg = _nsg(rnd, f"subnet-nsg-{rules}-{out_rules}", per_direction, augmented)
    nic_nsg = _nsg(rnd, f"nic-nsg-{rules}-{out_rules}", per_direction, augmented)
    vnet_id = f"{PREFIX}/virtualNetworks/vnet"
    subnet = Subnet(f"{vnet_id}/subnets/app", "app", ("10.0.1.0/24", "fd00:0:0:1::/64"), subnet_nsg.id)
    vnet = VirtualNetwork(vnet_id, "vnet", "westus", {}, ("10.0.0.0/16", "fd00::/48"), (subnet,))
    nic_id = f"{PREFIX}/networkInterfaces/nic-{rules}-{out_rules}"
    configs = (
        IpConfiguration(f"{nic_id}/ipConfigurations/v4", "v4", NIC_V4, subnet.id, "IPv4", primary=True),
        IpConfiguration(f"{nic_id}/ipConfigurations/v6", "v6", NIC_V6, subnet.id, "IPv6"),
    )
    nic = NetworkInterface(nic_id, f"nic-{rules}-{out_rules}", "westus", {}, configs, nic_nsg.id)
    topology = Topology.of(nsgs=[subnet_nsg, nic_nsg], vnets=[vnet], nics=[nic], service_tags=big_tag(seed))
    total = rules + out_rules
    label = f"{rules}/{out_rules} rules in/out x2 layers" + (" (beyond Azure's limit)" if total > 1000 else "")
    return Workload(label, rules, augmented, topology, nic_id)


# --- traces --------------------------------------------------------------------------------------------------


def _columns(
    direction: npt.NDArray[np.uint8],
    protocol: npt.NDArray[np.uint8],
    v6: npt.NDArray[np.bool_],
    remote_high: npt.NDArray[np.uint64],
    remote_low: npt.NDArray[np.uint64],
    local_port: npt.NDArray[np.int32],
    remote_port: npt.NDArray[np.int32],
) -> FlowColumns:
    nic6 = int(IPv6Address(NIC_V6))
    local_high = np.where(v6, np.uint64(nic6 >> 64), np.uint64(0)).astype(np.uint64)
    local_low = np.where(v6, np.uint64(nic6 & ((1 << 64) - 1)), np.uint64(int(IPv4Address(NIC_V4)))).astype(np.uint64)
    ported = (protocol == 6) | (protocol == 17)
    return FlowColumns(
        direction,
        protocol,
        v6,
        local_high,
        local_low,
        np.where(ported, local_port, -1).astype(np.int32),
        v6.copy(),
        np.where(v6, remote_high, 0).astype(np.uint64),
        remote_low,
        np.where(ported, remote_port, -1).astype(np.int32),
    )


def uniform_trace(n: int, seed: int) -> FlowColumns:
    """Random directions, protocols, public remote addresses (20% IPv6) and ports."""
    g = np.random.default_rng(seed)
    v6 = g.random(n) < 0.2
    high = g.integers(0x2000 << 48, 0x3FFF << 48, n, dtype=np.uint64)
    low4 = g.integers(1 << 24, 223 << 24, n, dtype=np.uint64)
    low = np.where(v6, g.integers(0, 2**63, n, dtype=np.uint64), low4).astype(np.uint64)
    protocol = FLOW_PROTOCOLS[g.integers(0, FLOW_PROTOCOLS.size, n)]
    protocol = np.where(v6 & (protocol == 1), 58, np.where(~v6 & (protocol == 58), 1, protocol)).astype(np.uint8)
    return _columns(
        g.integers(0, 2, n, dtype=np.uint8),
        protocol,
        v6,
        high,
        low,
        g.integers(0, 65536, n, dtype=np.int32),
        g.integers(0, 65536, n, dtype=np.int32),
    )


def rule_hitting_trace(topology: Topology, n: int, seed: int) -> FlowColumns:
    """Each flow aimed at one random user rule: remote address inside its remote prefixes, port in its range."""
    rnd = random.Random(seed)
    rules = [r for nsg in topology.nsgs.values() for r in nsg.security_rules]
    tag = topology.service_tags.get(BIG_TAG) if topology.service_tags else None
    tag_prefixes = tag.address_prefixes if tag else ()
    pool = min(n, 20_000)
    rows: list[tuple[int, int, bool, int, int, int]] = []
    for _ in range(pool):
        rule = rnd.choice(rules)
        inbound = rule.direction is Direction.INBOUND
        remote_texts = rule.source_addresses if inbound else rule.destination_addresses
        text = rnd.choice(remote_texts)
        if text == BIG_TAG:
            text = rnd.choice(tag_prefixes)
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            network = ipaddress.ip_network(_v4_prefix(rnd))
        address = int(network.network_address) + rnd.randrange(network.num_addresses)
        port_texts = rule.destination_ports if not inbound else ("*",)
        port_text = rnd.choice(port_texts) if port_texts else "*"
        lo, _, hi = port_text.partition("-")
        port = rnd.randrange(1, 65536) if lo == "*" else rnd.randint(int(lo), int(hi or lo))
        proto = {Protocol.TCP: 6, Protocol.UDP: 17, Protocol.ICMP: 1}.get(rule.protocol, 6)
        if network.version == 6 and proto == 1:
            proto = 58
        rows.append((0 if inbound else 1, proto, network.version == 6, address, port, rnd.randrange(1024, 65536)))
    pick = np.random.default_rng(seed).integers(0, pool, n)
    return _from_rows(rows, pick)


def _from_rows(rows: list[tuple[int, int, bool, int, int, int]], pick: npt.NDArray[np.int64]) -> FlowColumns:
    """Rows (direction, protocol, is IPv6, remote address, targeted port, other port) picked by ``pick``."""
    direction = np.asarray([r[0] for r in rows], dtype=np.uint8)[pick]
    protocol = np.asarray([r[1] for r in rows], dtype=np.uint8)[pick]
    v6 = np.asarray([r[2] for r in rows], dtype=bool)[pick]
    high = np.asarray([r[3] >> 64 for r in rows], dtype=np.uint64)[pick]
    low = np.asarray([r[3] & ((1 << 64) - 1) for r in rows], dtype=np.uint64)[pick]
    target = np.asarray([r[4] for r in rows], dtype=np.int32)[pick]
    other = np.asarray([r[5] for r in rows], dtype=np.int32)[pick]
    inbound = direction == 0
    local_port = np.where(inbound, target, other)
    remote_port = np.where(inbound, other, target)
    return _columns(direction, protocol, v6, high, low, local_port.astype(np.int32), remote_port.astype(np.int32))


def zipf_trace(topology: Topology, n: int, seed: int) -> FlowColumns:
    """Flow-log-like: a pool of distinct flows (half uniform, half rule-hitting) drawn with Zipf(1.1) popularity."""
    pool = 20_000
    uniform = uniform_trace(pool // 2, seed)
    hitting = rule_hitting_trace(topology, pool - pool // 2, seed + 1)
    both = concat(uniform, hitting)
    g = np.random.default_rng(seed)
    ranks = np.minimum(g.zipf(1.1, n) - 1, pool - 1)
    order = g.permutation(pool)
    return both.take(order[ranks])


def concat(a: FlowColumns, b: FlowColumns) -> FlowColumns:
    return FlowColumns(*(np.concatenate((getattr(a, f), getattr(b, f))) for f in FlowColumns.__slots__))


def to_flows(cols: FlowColumns, count: int) -> list[Flow]:
    """The first ``count`` flows as ``Flow`` objects (for the single-flow path and the naive reference)."""
    flows: list[Flow] = []
    for i in range(min(count, len(cols))):
        local = _address(bool(cols.local_v6[i]), int(cols.local_high[i]), int(cols.local_low[i]))
        remote = _address(bool(cols.remote_v6[i]), int(cols.remote_high[i]), int(cols.remote_low[i]))
        lp, rp = int(cols.local_port[i]), int(cols.remote_port[i])
        flows.append(
            Flow(
                Direction.INBOUND if cols.direction[i] == 0 else Direction.OUTBOUND,
                int(cols.protocol[i]),
                local,
                None if lp < 0 else lp,
                remote,
                None if rp < 0 else rp,
            )
        )
    return flows


def _address(v6: bool, high: int, low: int) -> IPv4Address | IPv6Address:
    return IPv6Address((high << 64) | low) if v6 else IPv4Address(low)
