"""Parsing of the string values a rule carries: ports, port ranges, addresses and prefixes."""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

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


def parse_prefix(text: str) -> IPNetwork | None:
    """An IP address or CIDR (host bits allowed and cleared, semantics §0); None when it is neither."""
    candidate = text.strip()
    if not candidate or candidate != text or " " in candidate or not _plain(candidate):
        return None
    try:
        return ipaddress.ip_network(candidate, strict=False)
    except ValueError:
        return None


def has_host_bits(text: str) -> bool:
    """True for a CIDR like ``10.0.0.5/24`` whose host bits are set (accepted, reported by analysis)."""
    try:
        ipaddress.ip_network(text.strip(), strict=True)
    except ValueError:
        return parse_prefix(text) is not None
    return False


def parse_address(text: str) -> IPAddress | None:
    if not _plain(text):
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None
