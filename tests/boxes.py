"""Test-side reading of the analysis' box JSON, written from the issue's shape with ``ipaddress`` only (no code
shared with ``opennsg.analysis``): membership of a flow, exact size, random flows inside a box."""

from __future__ import annotations

import ipaddress
from random import Random
from typing import Any

from opennsg.engine.flow import Flow
from opennsg.model import Direction

NAMES = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "ESP": 50, "AH": 51}


def protocol_ranges(texts: list[str]) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        if text.upper() in NAMES:
            n = NAMES[text.upper()]
            out.append((n, n))
        else:
            lo, _, hi = text.partition("-")
            out.append((int(lo), int(hi or lo)))
    return out


def address_ranges(texts: list[str]) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        if "/" in text:
            net = ipaddress.ip_network(text)
            out.append((int(net.network_address), int(net.broadcast_address)))
        elif "-" in text:
            lo, hi = text.split("-")
            out.append((int(ipaddress.ip_address(lo)), int(ipaddress.ip_address(hi))))
        else:
            v = int(ipaddress.ip_address(text))
            out.append((v, v))
    return out


def port_ranges(texts: list[str]) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        lo, _, hi = text.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def _in(ranges: list[tuple[int, int]], value: int) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def family(box: dict[str, Any]) -> int:
    first = box["localAddresses"][0].split("/")[0].split("-")[0]
    return ipaddress.ip_address(first).version


def contains(box: dict[str, Any], flow: Flow) -> bool:
    if family(box) != flow.local_ip.version:
        return False
    return (
        _in(protocol_ranges(box["protocols"]), flow.protocol)
        and _in(address_ranges(box["localAddresses"]), int(flow.local_ip))
        and _in(port_ranges(box["localPorts"]), flow.local_port or 0)
        and _in(address_ranges(box["remoteAddresses"]), int(flow.remote_ip))
        and _in(port_ranges(box["remotePorts"]), flow.remote_port or 0)
    )


def size(box: dict[str, Any]) -> int:
    total = 1
    for key, parse in (
        ("protocols", protocol_ranges),
        ("localAddresses", address_ranges),
        ("localPorts", port_ranges),
        ("remoteAddresses", address_ranges),
        ("remotePorts", port_ranges),
    ):
        total *= sum(hi - lo + 1 for lo, hi in parse(box[key]))
    return total


def _pick(rnd: Random, ranges: list[tuple[int, int]]) -> int:
    lo, hi = rnd.choice(ranges)
    return rnd.randint(lo, hi)


def sample(box: dict[str, Any], direction: str, rnd: Random) -> Flow:
    """A random flow inside the box."""
    v = family(box)
    make = ipaddress.IPv4Address if v == 4 else ipaddress.IPv6Address
    return Flow(
        Direction(direction),
        _pick(rnd, protocol_ranges(box["protocols"])),
        make(_pick(rnd, address_ranges(box["localAddresses"]))),
        _pick(rnd, port_ranges(box["localPorts"])),
        make(_pick(rnd, address_ranges(box["remoteAddresses"]))),
        _pick(rnd, port_ranges(box["remotePorts"])),
    )


def witness_flow(witness: dict[str, str]) -> tuple[str, Flow]:
    return witness["targetResourceId"], Flow.make(
        witness["direction"],
        witness["protocol"],
        witness["localIPAddress"],
        witness["localPort"],
        witness["remoteIPAddress"],
        witness["remotePort"],
    )
