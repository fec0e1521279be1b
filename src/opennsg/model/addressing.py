"""Private addresses in a subnet: which Azure reserves, which are in use, which are free.

Azure reserves five addresses of every subnet: the network address, the next three (default gateway and Azure DNS)
and, in IPv4, the broadcast address; the rest can be given to IP configurations, one address each or, with
``privateIPAddressPrefixLength``, an aligned block (``/28`` IPv4, ``/80`` IPv6, ...) that holds no reserved address.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, insort
from collections.abc import Iterator

from opennsg.model.ids import id_key
from opennsg.model.resources import IpConfiguration, Subnet
from opennsg.model.topology import Topology
from opennsg.model.values import IPAddress, IPNetwork, parse_address, parse_prefix

#: Addresses Azure keeps at the start of every subnet (network address, gateway, two for DNS).
RESERVED_AT_START = 4


def subnet_networks(subnet: Subnet) -> list[IPNetwork]:
    return [n for n in (parse_prefix(p) for p in subnet.address_prefixes) if n is not None]


def is_platform_reserved(network: IPNetwork, address: IPAddress) -> bool:
    """One of the addresses of ``network`` that Azure keeps for itself."""
    offset = int(address) - int(network.network_address)
    last = network.num_addresses - 1
    return offset < RESERVED_AT_START or (network.version == 4 and offset == last)


def configuration_span(configuration: IpConfiguration) -> tuple[int, int, int] | None:
    """(IP version, first, last) of the addresses an IP configuration holds: its block when it has a prefix length,
    else its one address; None without a readable address."""
    text = configuration.private_ip_address
    address = parse_address(text) if text else None
    if address is None:
        return None
    length = configuration.private_ip_address_prefix_length
    bits = 32 if address.version == 4 else 128
    if length is None or not 0 < length <= bits:
        return address.version, int(address), int(address)
    size = 1 << (bits - length)
    start = int(address) & ~(size - 1)
    return address.version, start, start + size - 1


def configuration_holds(configuration: IpConfiguration, address: IPAddress) -> bool:
    """Whether ``address`` is the configuration's address or inside its block."""
    span = configuration_span(configuration)
    return span is not None and span[0] == address.version and span[1] <= int(address) <= span[2]


class UsedAddresses:
    """The addresses IP configurations hold in one subnet, single addresses and blocks alike (per IP version)."""

    def __init__(self) -> None:
        self._singles: dict[int, list[int]] = {4: [], 6: []}  # sorted
        self._blocks: dict[int, list[tuple[int, int]]] = {4: [], 6: []}

    def add(self, version: int, first: int, last: int) -> None:
        if first == last:
            insort(self._singles[version], first)
        else:
            self._blocks[version].append((first, last))

    def add_configuration(self, configuration: IpConfiguration) -> None:
        span = configuration_span(configuration)
        if span is not None:
            self.add(*span)

    def overlaps(self, version: int, first: int, last: int) -> bool:
        """Whether any address from ``first`` to ``last`` is held."""
        singles = self._singles[version]
        i = bisect_left(singles, first)
        if i < len(singles) and singles[i] <= last:
            return True
        return any(start <= last and first <= end for start, end in self._blocks[version])

    def holds(self, address: IPAddress) -> bool:
        return self.overlaps(address.version, int(address), int(address))


def addresses_in_use(topology: Topology, subnet: Subnet, excluding_nic: str | None = None) -> UsedAddresses:
    """What the IP configurations in ``subnet`` hold (optionally not counting one NIC's own)."""
    used = UsedAddresses()
    for nic in topology.nics.values():
        if excluding_nic is not None and nic.key == id_key(excluding_nic):
            continue
        for configuration in nic.ip_configurations:
            if configuration.subnet and id_key(configuration.subnet) == subnet.key:
                used.add_configuration(configuration)
    return used


def _usable(network: IPNetwork) -> tuple[int, int]:
    """The first and last address of ``network`` Azure lets IP configurations hold."""
    first = int(network.network_address) + RESERVED_AT_START
    return first, int(network.broadcast_address) - (1 if network.version == 4 else 0)


def free_addresses(
    subnet: Subnet, used: UsedAddresses, version: int = 4, start: IPAddress | None = None
) -> Iterator[str]:
    """Usable addresses of the subnet's prefixes of that IP version that nothing holds, lowest first (from
    ``start`` on)."""
    for network in subnet_networks(subnet):
        if network.version != version:
            continue
        first, last = _usable(network)
        if start is not None and start.version == version:
            first = max(first, int(start))
        for value in range(first, last + 1):
            if not used.overlaps(version, value, value):
                yield str(ipaddress.ip_address(value))


def free_block(subnet: Subnet, used: UsedAddresses, version: int, prefix_length: int) -> str | None:
    """The lowest aligned block of ``prefix_length`` in the subnet's prefixes of that IP version that holds no
    reserved address and nothing in use, as its first address; None when there is none."""
    bits = 32 if version == 4 else 128
    if not 0 < prefix_length <= bits:
        return None
    size = 1 << (bits - prefix_length)
    for network in subnet_networks(subnet):
        if network.version != version or network.prefixlen > prefix_length:
            continue
        usable_first, usable_last = _usable(network)
        block = int(network.network_address)
        while block + size - 1 <= int(network.broadcast_address):
            end = block + size - 1
            if block >= usable_first and end <= usable_last and not used.overlaps(version, block, end):
                return str(ipaddress.ip_address(block))
            block += size
    return None
