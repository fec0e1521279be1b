"""Private addresses in a subnet: which Azure reserves, which are in use, which are free.

Azure reserves five addresses of every subnet: the network address, the next three (default gateway and Azure DNS)
and, in IPv4, the broadcast address; the rest can be given to IP configurations.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from opennsg.model.ids import id_key
from opennsg.model.resources import Subnet
from opennsg.model.topology import Topology
from opennsg.model.values import IPAddress, IPNetwork, parse_prefix

#: Addresses Azure keeps at the start of every subnet (network address, gateway, two for DNS).
RESERVED_AT_START = 4


def subnet_networks(subnet: Subnet) -> list[IPNetwork]:
    return [n for n in (parse_prefix(p) for p in subnet.address_prefixes) if n is not None]


def is_platform_reserved(network: IPNetwork, address: IPAddress) -> bool:
    """One of the addresses of ``network`` that Azure keeps for itself."""
    offset = int(address) - int(network.network_address)
    last = network.num_addresses - 1
    return offset < RESERVED_AT_START or (network.version == 4 and offset == last)


def addresses_in_use(topology: Topology, subnet: Subnet, excluding_nic: str | None = None) -> set[str]:
    """Private addresses of the IP configurations in ``subnet`` (optionally not counting one NIC's own)."""
    used: set[str] = set()
    for nic in topology.nics.values():
        if excluding_nic is not None and nic.key == id_key(excluding_nic):
            continue
        for configuration in nic.ip_configurations:
            if configuration.private_ip_address and configuration.subnet and id_key(configuration.subnet) == subnet.key:
                used.add(str(ipaddress.ip_address(configuration.private_ip_address.strip())))
    return used


def free_addresses(
    subnet: Subnet, taken: Iterable[str], version: int = 4, start: IPAddress | None = None
) -> Iterator[str]:
    """Usable, untaken addresses of the subnet's prefixes of that IP version, lowest first (from ``start`` on)."""
    used = set(taken)
    for network in subnet_networks(subnet):
        if network.version != version:
            continue
        first = int(network.network_address) + RESERVED_AT_START
        end = int(network.broadcast_address) - (1 if network.version == 4 else 0)
        if start is not None and start.version == version:
            first = max(first, int(start))
        for value in range(first, end + 1):
            candidate = str(ipaddress.ip_address(value))
            if candidate not in used:
                yield candidate
