"""CIDR functions: ``parseCidr``, ``cidrSubnet``, ``cidrHost`` (IPv4 and IPv6), as Azure's reference defines them."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, want_int, want_str
from opennsg.arm.template.values import TemplateError

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(name: str, text: str) -> Network:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise TemplateError(f"The template language function '{name}': '{text}' is not a CIDR range.") from None


@function("parseCidr", 1, returns="object")
def _parse_cidr(scope: Scope, args: list[Any]) -> dict[str, Any]:
    net = _network("parseCidr", want_str("parseCidr", args, 0))
    first, last = net.network_address, net.broadcast_address
    if net.version == 4:
        usable = (first + 1, last - 1) if net.prefixlen < 31 else (first, last)
        return {
            "network": str(first),
            "netmask": str(net.netmask),
            "broadcast": str(last),
            "firstUsable": str(usable[0]),
            "lastUsable": str(usable[1]),
            "cidr": net.prefixlen,
        }
    return {
        "network": str(first),
        "netmask": str(net.netmask),
        "firstUsable": str(first),
        "lastUsable": str(last),
        "cidr": net.prefixlen,
    }


@function("cidrSubnet", 3, returns="string")
def _cidr_subnet(scope: Scope, args: list[Any]) -> str:
    net = _network("cidrSubnet", want_str("cidrSubnet", args, 0))
    new_prefix, index = want_int("cidrSubnet", args, 1), want_int("cidrSubnet", args, 2)
    if not net.prefixlen <= new_prefix <= net.max_prefixlen:
        raise TemplateError(
            f"The template language function 'cidrSubnet': the new prefix length {new_prefix} must be from "
            f"{net.prefixlen} to {net.max_prefixlen}."
        )
    size = 2 ** (net.max_prefixlen - new_prefix)
    count = 2 ** (new_prefix - net.prefixlen)
    if not 0 <= index < count:
        raise TemplateError(
            f"The template language function 'cidrSubnet': the subnet index {index} must be from 0 to {count - 1}."
        )
    start = int(net.network_address) + index * size
    return f"{ipaddress.ip_address(start) if net.version == 6 else ipaddress.IPv4Address(start)}/{new_prefix}"


@function("cidrHost", 2, returns="string")
def _cidr_host(scope: Scope, args: list[Any]) -> str:
    net = _network("cidrHost", want_str("cidrHost", args, 0))
    index = want_int("cidrHost", args, 1)
    offset = 1 if net.version == 4 and net.prefixlen < 31 else 0
    hosts = net.num_addresses - (2 if offset else 0)
    if not 0 <= index < hosts:
        raise TemplateError(
            f"The template language function 'cidrHost': the host index {index} must be from 0 to {hosts - 1}."
        )
    value = int(net.network_address) + offset + index
    return str(ipaddress.IPv4Address(value) if net.version == 4 else ipaddress.IPv6Address(value))
