"""Enumerations of the ARM NSG schema, parsed case-insensitively and emitted in canonical casing (§0, §1.2)."""

from __future__ import annotations

from enum import StrEnum


class CaseInsensitiveEnum(StrEnum):
    @classmethod
    def parse(cls, text: str) -> CaseInsensitiveEnum | None:
        """The member whose value equals ``text`` ignoring case, or None."""
        folded = text.strip().casefold()
        for member in cls:
            if member.value.casefold() == folded:
                return member
        return None


class Protocol(CaseInsensitiveEnum):
    """``SecurityRuleProtocol``; ``*`` is every IP protocol (semantics §0)."""

    TCP = "Tcp"
    UDP = "Udp"
    ICMP = "Icmp"
    ESP = "Esp"
    ANY = "*"
    AH = "Ah"


class Access(CaseInsensitiveEnum):
    ALLOW = "Allow"
    DENY = "Deny"


class Direction(CaseInsensitiveEnum):
    INBOUND = "Inbound"
    OUTBOUND = "Outbound"


class PrivateEndpointNetworkPolicies(CaseInsensitiveEnum):
    """A subnet's ``privateEndpointNetworkPolicies`` (semantics §12.1); absent means ``Disabled``."""

    ENABLED = "Enabled"
    DISABLED = "Disabled"
    NETWORK_SECURITY_GROUP_ENABLED = "NetworkSecurityGroupEnabled"
    ROUTE_TABLE_ENABLED = "RouteTableEnabled"

    @property
    def nsg_applies(self) -> bool:
        """Whether the subnet NSG filters traffic to private endpoints in the subnet."""
        return self in (
            PrivateEndpointNetworkPolicies.ENABLED,
            PrivateEndpointNetworkPolicies.NETWORK_SECURITY_GROUP_ENABLED,
        )


class IpAllocationMethod(CaseInsensitiveEnum):
    """``privateIPAllocationMethod`` / ``publicIPAllocationMethod``: an address the user chose, or Azure's pick."""

    STATIC = "Static"
    DYNAMIC = "Dynamic"


# IANA protocol numbers of the named protocols (flows carry numbers; rules carry names).
IANA_TCP = 6
IANA_UDP = 17
IANA_ICMP = 1
IANA_ICMPV6 = 58
IANA_ESP = 50
IANA_AH = 51

#: IP protocol numbers a rule protocol matches; None means every protocol (semantics §0 "`*` protocol").
#: ``Icmp`` covers ICMPv6 too, since an IPv6 rule with protocol Icmp is meant for ICMPv6 traffic.
RULE_PROTOCOL_NUMBERS: dict[Protocol, frozenset[int] | None] = {
    Protocol.TCP: frozenset({IANA_TCP}),
    Protocol.UDP: frozenset({IANA_UDP}),
    Protocol.ICMP: frozenset({IANA_ICMP, IANA_ICMPV6}),
    Protocol.ESP: frozenset({IANA_ESP}),
    Protocol.AH: frozenset({IANA_AH}),
    Protocol.ANY: None,
}

#: Protocols whose flows carry ports; port fields of a rule are ignored for every other protocol (semantics §0).
PORTED_PROTOCOLS = frozenset({IANA_TCP, IANA_UDP})
