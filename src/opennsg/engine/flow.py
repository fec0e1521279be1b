"""A flow as the engine sees it, from the point of view of one NIC (local) and its peer (remote)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from opennsg.model.enums import (
    IANA_AH,
    IANA_ESP,
    IANA_ICMP,
    IANA_ICMPV6,
    IANA_TCP,
    IANA_UDP,
    PORTED_PROTOCOLS,
    Direction,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.validation import Code
from opennsg.model.values import IPAddress, parse_address, parse_port

PROTOCOL_NUMBERS = {
    "tcp": IANA_TCP,
    "udp": IANA_UDP,
    "icmp": IANA_ICMP,
    "icmpv6": IANA_ICMPV6,
    "esp": IANA_ESP,
    "ah": IANA_AH,
}
PROTOCOL_NAMES = {v: k.upper() if k != "icmpv6" else "ICMPv6" for k, v in PROTOCOL_NUMBERS.items()}


def parse_flow_protocol(text: str | int) -> int | None:
    """TCP, UDP, ICMP, ICMPv6, ESP, AH (any casing) or an IP protocol number 0–255; None otherwise."""
    if isinstance(text, int):
        return text if 0 <= text <= 255 else None
    folded = text.strip().casefold()
    if folded in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[folded]
    if folded.isascii() and folded.isdigit() and int(folded) <= 255:
        return int(folded)
    return None


@dataclass(frozen=True, slots=True)
class Flow:
    """Direction is seen from the local NIC: inbound means remote → local (semantics §8.1 mapping)."""

    direction: Direction
    protocol: int
    local_ip: IPAddress
    local_port: int | None
    remote_ip: IPAddress
    remote_port: int | None

    @property
    def has_ports(self) -> bool:
        return self.protocol in PORTED_PROTOCOLS

    @property
    def source(self) -> tuple[IPAddress, int | None]:
        return (
            (self.remote_ip, self.remote_port)
            if self.direction is Direction.INBOUND
            else (
                self.local_ip,
                self.local_port,
            )
        )

    @property
    def destination(self) -> tuple[IPAddress, int | None]:
        return (
            (self.local_ip, self.local_port)
            if self.direction is Direction.INBOUND
            else (
                self.remote_ip,
                self.remote_port,
            )
        )

    @classmethod
    def make(
        cls,
        direction: Direction | str,
        protocol: int | str,
        local_ip: str | IPAddress,
        local_port: int | str | None,
        remote_ip: str | IPAddress,
        remote_port: int | str | None,
    ) -> Flow:
        """Convenience constructor from strings; raises ValueError on bad input."""
        d = direction if isinstance(direction, Direction) else Direction.parse(direction)
        p = parse_flow_protocol(protocol)
        lip = parse_address(local_ip) if isinstance(local_ip, str) else local_ip
        rip = parse_address(remote_ip) if isinstance(remote_ip, str) else remote_ip
        if not isinstance(d, Direction) or p is None or lip is None or rip is None:
            raise ValueError("invalid flow")
        return cls(d, p, lip, _port(local_port), rip, _port(remote_port))


def _port(value: int | str | None) -> int | None:
    if value is None or value == "*" or value == "":
        return None
    port = parse_port(value)
    if port is None:
        raise ValueError(f"not a port: {value!r}")
    return port


def parse_endpoint(text: str, what: str) -> tuple[str, str | None]:
    """``IP:PORT``, ``[IPv6]:PORT``, a bare IP (port-less protocols) or ``IP:*``, as IP flow verify's endpoints are
    written on the command line and in the web UI; ``what`` names the field in the error."""
    raw = text.strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif raw.count(":") == 1:
        host, _, port = raw.partition(":")
    else:
        host, port = raw, None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise OpenNsgError([ArmError(Code.INVALID_IP_ADDRESS, f"{what}: '{host}' is not an IP address.")]) from None
    return host, (port or None)
