"""Parsing of the string values a rule carries (ports, port ranges, addresses and prefixes), and the deep walk of
the JSON-like values input readers build (ARM templates, Terraform) to find the placeholders inside them."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any, TypeVar

T = TypeVar("T")

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

MAX_PORT = 65535
#: ASCII digits only: ``\d`` and ``int()`` also take other scripts' digits (``８０``) and ``int()`` takes ``1_000``.
_PORT_RE = re.compile(r"^\s*([0-9]{1,5})\s*(?:-\s*([0-9]{1,5})\s*)?$", re.ASCII)


def parse_port_range(text: str) -> tuple[int, int] | None:
    """``*``, ``"80"`` or ``"1000-2000"`` as an inclusive (lo, hi); None when malformed, out of range or lo > hi."""
    if text.strip() == "*":
        return (0, MAX_PORT)
    m = _PORT_RE.match(text)
    if not m:
        return None
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) is not None else lo
    if lo > MAX_PORT or hi > MAX_PORT or lo > hi:
        return None
    return (lo, hi)


def parse_port(text: str | int) -> int | None:
    """One port 0-65535: an int, or text of ASCII digits (no sign, no ``_``, no other script's digits)."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 <= text <= MAX_PORT else None
    stripped = text.strip()
    if not 1 <= len(stripped) <= 5 or not stripped.isascii() or not stripped.isdigit():
        return None
    value = int(stripped)
    return value if value <= MAX_PORT else None


def _plain(text: str) -> bool:
    """ASCII without an IPv6 zone id (``fe80::1%eth0``): Azure's addresses carry neither."""
    return text.isascii() and "%" not in text


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: The common IPv4 spellings, each of which ``ipaddress`` reads the same way: dotted quad without leading zeros and
#: an optional decimal length 0–32 without leading zeros. Anything else takes the ``ipaddress`` path.
_IPV4_CIDR = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(?:/(3[0-2]|[12]?[0-9]))?", re.ASCII)
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}", re.ASCII)
_V4_ALL = (1 << 32) - 1


def _ipv4_span(text: str) -> tuple[int, int] | None:
    """(first, last) address of a plain IPv4 address or CIDR, or None when it is not one of the common spellings."""
    m = _IPV4_CIDR.fullmatch(text)
    if m is None:
        return None
    a, b, c, d, length = m.groups()
    value = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    host = _V4_ALL >> (32 if length is None else int(length))
    return value & ~host & _V4_ALL, value | host


def parse_prefix(text: str) -> IPNetwork | None:
    """An IP address or CIDR (host bits allowed and cleared, semantics §0); None when it is neither."""
    span = _ipv4_span(text)
    if span is not None:
        first, last = span
        return IPv4Network((first, 32 - (last - first).bit_length()))
    candidate = text.strip()
    if not candidate or candidate != text or " " in candidate or not _plain(candidate):
        return None
    try:
        return ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=1 << 17)
def prefix_span(text: str) -> tuple[int, int, int] | None:
    """``parse_prefix`` as (IP version, first address, last address) integers, remembered (a 10,000-prefix service
    tag is resolved for every NIC), without building ``ipaddress`` objects for the common IPv4 spellings."""
    span = _ipv4_span(text)
    if span is not None:
        return (4, *span)
    network = parse_prefix(text)
    if network is None:
        return None
    return network.version, int(network.network_address), int(network.broadcast_address)


def has_host_bits(text: str) -> bool:
    """True for a CIDR like ``10.0.0.5/24`` whose host bits are set (accepted, reported by analysis)."""
    try:
        ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        return parse_prefix(text) is not None
    return False


def parse_address(text: str) -> IPAddress | None:
    """An IPv4 or IPv6 address as ``ipaddress`` reads it (surrounding space allowed), or None; a plain dotted quad
    (the common spelling, which ``ipaddress`` reads the same way) without ``ipaddress``'s octet-by-octet parse."""
    if not _plain(text):
        return None
    stripped = text.strip()
    quad = _IPV4.fullmatch(stripped)
    if quad is not None:
        a, b, c, d = quad.groups()
        return IPv4Address((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d))
    try:
        return ipaddress.ip_address(stripped)
    except ValueError:
        return None


def first_instance(value: Any, kind: type[T]) -> T | None:
    """The first ``kind`` anywhere inside ``value``, depth first in written order through lists, tuples and mappings'
    values (a placeholder such as ``reference()``'s, or an unknown Terraform value), or None. Iterative, so a value
    nested as deep as a reader allows is walked without recursion."""
    if isinstance(value, kind):
        return value
    pending: list[Iterator[Any]] = [iter(_members(value))]
    while pending:
        item = next(pending[-1], _END)
        if item is _END:
            pending.pop()
        elif isinstance(item, kind):
            return item
        elif isinstance(item, list | tuple | Mapping):
            pending.append(iter(_members(item)))
    return None


_END = object()


def _members(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.values()
    if isinstance(value, list | tuple):
        return value
    return ()
