"""Boxes for people and programs: the common flow-set shape of every answer (``FlowBox``) and short descriptions.

A box's ``flows`` is the size of the cross product of its fields (protocols × local addresses × local ports ×
remote addresses × remote ports); for port-less protocols the port fields are ``0-65535`` and counted as such,
so the count is the same however the box is split. The witness is one flow of the box in IP flow verify's field
names, preferring well-known protocols and ports so that it reads like traffic someone would send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from opennsg.analysis.space import Box, Partition, Space
from opennsg.engine.addresses import Interval
from opennsg.engine.flow import PROTOCOL_NAMES
from opennsg.engine.ir import NicPolicy
from opennsg.model.enums import IANA_ICMP, IANA_TCP, IANA_UDP, PORTED_PROTOCOLS, Direction

#: Witness protocol preference: what a reviewer would try first.
PREFERRED_PROTOCOLS = (IANA_TCP, IANA_UDP, IANA_ICMP, 58, 50, 51)
PREFERRED_PORTS = (443, 22, 80, 3389, 53, 1433, 445, 8080)
#: A witness source port (the ephemeral range Linux uses), when the box allows it.
PREFERRED_SOURCE_PORTS = (49152, 50000, 60000, 1024)
_CANONICAL_PROTOCOL_ORDER = {p: i for i, p in enumerate(PREFERRED_PROTOCOLS)}


def _address(family: int, value: int) -> str:
    return str(IPv4Address(value) if family == 4 else IPv6Address(value))


def address_texts(family: int, intervals: tuple[Interval, ...]) -> list[str]:
    """Addresses as IPs, CIDRs (a range that is exactly one) or ``a-b`` ranges."""
    bits = 32 if family == 4 else 128
    out: list[str] = []
    for lo, hi in intervals:
        if lo == hi:
            out.append(_address(family, lo))
            continue
        size = hi - lo + 1
        if size & (size - 1) == 0 and lo % size == 0:
            out.append(f"{_address(family, lo)}/{bits - size.bit_length() + 1}")
        else:
            out.append(f"{_address(family, lo)}-{_address(family, hi)}")
    return out


def port_texts(intervals: tuple[Interval, ...]) -> list[str]:
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in intervals]


def protocol_texts(intervals: tuple[Interval, ...]) -> list[str]:
    """Named protocols by name (TCP, UDP, ICMP, ICMPv6, ESP, AH), the rest as IANA numbers and ranges."""
    named: list[int] = []
    rest: list[Interval] = []
    for lo, hi in intervals:
        start = lo
        for p in range(lo, hi + 1):
            if p in PROTOCOL_NAMES:
                if start < p:
                    rest.append((start, p - 1))
                named.append(p)
                start = p + 1
        if start <= hi:
            rest.append((start, hi))
    names = [PROTOCOL_NAMES[p] for p in sorted(named, key=lambda p: _CANONICAL_PROTOCOL_ORDER.get(p, 99))]
    return names + port_texts(tuple(rest))


def protocol_text(number: int) -> str:
    return PROTOCOL_NAMES.get(number, str(number))


@dataclass(frozen=True, slots=True)
class Witness:
    """One flow, as IP flow verify asks about it."""

    target_resource_id: str
    direction: Direction
    protocol: int
    local_ip: str
    local_port: int
    remote_ip: str
    remote_port: int

    def to_json(self) -> dict[str, str]:
        return {
            "targetResourceId": self.target_resource_id,
            "direction": self.direction.value,
            "protocol": protocol_text(self.protocol),
            "localIPAddress": self.local_ip,
            "localPort": str(self.local_port),
            "remoteIPAddress": self.remote_ip,
            "remotePort": str(self.remote_port),
        }


@dataclass(frozen=True, slots=True)
class FlowBox:
    """A set of flows at one NIC and direction, rendered (the shape every answer's boxes share)."""

    protocols: tuple[str, ...]
    local_addresses: tuple[str, ...]
    local_ports: tuple[str, ...]
    remote_addresses: tuple[str, ...]
    remote_ports: tuple[str, ...]
    flows: int
    witness: Witness

    def to_json(self) -> dict[str, Any]:
        return {
            "protocols": list(self.protocols),
            "localAddresses": list(self.local_addresses),
            "localPorts": list(self.local_ports),
            "remoteAddresses": list(self.remote_addresses),
            "remotePorts": list(self.remote_ports),
            "flows": self.flows,
            "witness": self.witness.to_json(),
        }


def _pick_port(partition: Partition, mask: int, preferred: tuple[int, ...]) -> int:
    return partition.pick(mask, preferred)


def witness(space: Space, box: Box, nic_id: str, direction: Direction) -> Witness:
    family = box[0]
    addresses = space.addresses(family)
    protocol = space.protocols.pick(box[1], PREFERRED_PROTOCOLS)
    inbound = direction is Direction.INBOUND
    local_preferred = PREFERRED_PORTS if inbound else PREFERRED_SOURCE_PORTS
    remote_preferred = PREFERRED_SOURCE_PORTS if inbound else PREFERRED_PORTS
    # A remote host rather than a network's first address (x.0), as a person would pick.
    lo, hi = addresses.first_interval(box[4])
    remote = lo + 1 if hi > lo else lo
    return Witness(
        nic_id,
        direction,
        protocol,
        _address(family, addresses.lowest(box[2])),
        _pick_port(space.ports, box[3], local_preferred),
        _address(family, remote),
        _pick_port(space.ports, box[5], remote_preferred),
    )


def flow_box(space: Space, box: Box, nic_id: str, direction: Direction) -> FlowBox:
    family = box[0]
    addresses = space.addresses(family)
    return FlowBox(
        tuple(protocol_texts(space.protocols.intervals(box[1]))),
        tuple(address_texts(family, addresses.intervals(box[2]))),
        tuple(port_texts(space.ports.intervals(box[3]))),
        tuple(address_texts(family, addresses.intervals(box[4]))),
        tuple(port_texts(space.ports.intervals(box[5]))),
        space.count(box),
        witness(space, box, nic_id, direction),
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """A box with its protocol and port fields rendered and its addresses left out (``remote`` kept when it is not
    one address): the boxes of NICs that no rule tells apart differ only in their addresses, so they share a shape
    and each is rendered by substituting its own (``box``)."""

    direction: Direction
    family: int
    protocols: tuple[str, ...]
    local_ports: tuple[str, ...]
    remote_ports: tuple[str, ...]
    #: Flows per local address and per remote address (protocols × local ports × remote ports).
    flows: int
    protocol: int
    local_port: int
    remote_port: int
    #: A remote set rendered with its size and witness address, or None when the remote is the caller's address.
    remote: tuple[tuple[str, ...], int, str] | None = None

    def box(self, nic_id: str, local: tuple[str, ...], remote: tuple[str, ...] = ()) -> FlowBox:
        """The box at ``nic_id`` with local addresses ``local`` (single IPs) and, unless the shape holds its remote
        set, remote addresses ``remote`` (single IPs)."""
        if self.remote is not None:
            remote_texts, remote_count, remote_ip = self.remote
        else:
            remote_texts, remote_count, remote_ip = remote, len(remote), remote[0]
        return FlowBox(
            self.protocols,
            local,
            self.local_ports,
            remote_texts,
            self.remote_ports,
            self.flows * len(local) * remote_count,
            Witness(nic_id, self.direction, self.protocol, local[0], self.local_port, remote_ip, self.remote_port),
        )


def shape_of(space: Space, box: Box, direction: Direction, keep_remote: bool) -> Shape:
    """The shape of a box whose local address is one address (``keep_remote``: render its remote set too)."""
    family = box[0]
    ports = space.ports
    sample = witness(space, box, "", direction)
    remote = None
    if keep_remote:
        addresses = space.addresses(family)
        remote = (tuple(address_texts(family, addresses.intervals(box[4]))), addresses.count(box[4]), sample.remote_ip)
    return Shape(
        direction,
        family,
        tuple(protocol_texts(space.protocols.intervals(box[1]))),
        tuple(port_texts(ports.intervals(box[3]))),
        tuple(port_texts(ports.intervals(box[5]))),
        space.protocols.count(box[1]) * ports.count(box[3]) * ports.count(box[5]),
        sample.protocol,
        sample.local_port,
        sample.remote_port,
        remote,
    )


def address_names(policy: NicPolicy) -> dict[tuple[str, ...], str]:
    """The built-in tags at a NIC as address lists, to name them in descriptions."""
    names: dict[tuple[str, ...], str] = {}
    for name, addresses in (("Internet", policy.internet), ("VirtualNetwork", policy.virtual_network)):
        for family, intervals in ((4, addresses.v4), (6, addresses.v6)):
            if intervals:
                names[tuple(address_texts(family, intervals))] = name
    names[("168.63.129.16",)] = "AzureLoadBalancer"
    return names


def ports_phrase(texts: tuple[str, ...] | list[str]) -> str:
    if list(texts) == ["0-65535"]:
        return "any port"
    shown = ", ".join(texts[:6])
    return shown + (f" (+{len(texts) - 6} more)" if len(texts) > 6 else "")


def addresses_phrase(texts: tuple[str, ...] | list[str], names: Mapping[tuple[str, ...], str] | None = None) -> str:
    if names and tuple(texts) in names:
        return names[tuple(texts)]
    if list(texts) in (["0.0.0.0/0"], ["::/0"]):
        return "any address"
    shown = ", ".join(texts[:3])
    return shown + (f" (+{len(texts) - 3} more)" if len(texts) > 3 else "")


def protocols_phrase(texts: tuple[str, ...] | list[str]) -> str:
    if len(texts) >= 6 and "TCP" in texts and "0" in texts:
        return "any protocol"
    return "/".join(texts)


def is_ported(space: Space, box: Box) -> bool:
    return all(p in PORTED_PROTOCOLS for lo, hi in space.protocols.intervals(box[1]) for p in range(lo, hi + 1))


def parse_ip(text: str) -> int:
    return int(ip_address(text))
