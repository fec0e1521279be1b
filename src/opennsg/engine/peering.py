"""What a VNet peering connects at one subnet: the remote prefixes a NIC there reaches (and counts as its
``VirtualNetwork`` tag).

A whole-VNet peering brings the remote VNet's address space (its ``remoteAddressSpace``) to every subnet. A subnet
peering (``peerCompleteVnets: false``) connects only its ``localSubnetNames`` to the remote VNet's
``remoteSubnetNames``: NICs in other local subnets gain nothing, and those in listed ones gain only the listed
remote subnets' prefixes (read from the remote VNet when the topology has it; otherwise the peering's
``remoteAddressSpace``, the most it can be). ``enableOnlyIPv6Peering`` keeps the IPv6 prefixes only. Only
``Connected`` peerings carry traffic.
"""

from __future__ import annotations

from opennsg.model.resources import Subnet, VirtualNetwork, VirtualNetworkPeering
from opennsg.model.topology import Topology
from opennsg.model.values import parse_prefix


def peering_prefixes(
    topology: Topology | None, peering: VirtualNetworkPeering, subnet: Subnet | None
) -> tuple[str, ...]:
    """The remote prefixes this peering connects to ``subnet`` (all subnets when ``subnet`` is None: VNet level)."""
    if not peering.connected:
        return ()
    if subnet is not None and not peering.peers_subnet(subnet.name):
        return ()
    prefixes = peering.remote_address_space
    if not peering.peer_complete_vnets:
        remote = topology.vnet(peering.remote_virtual_network) if topology is not None else None
        if remote is not None:
            wanted = {n.casefold() for n in peering.remote_subnet_names}
            prefixes = tuple(p for s in remote.subnets if s.name.casefold() in wanted for p in s.address_prefixes)
    if peering.enable_only_ipv6_peering:
        prefixes = tuple(p for p in prefixes if _is_ipv6(p))
    return prefixes


def peered_prefixes(topology: Topology | None, vnet: VirtualNetwork, subnet: Subnet | None) -> tuple[str, ...]:
    """Every remote prefix the VNet's peerings connect to ``subnet``."""
    return tuple(p for peering in vnet.peerings for p in peering_prefixes(topology, peering, subnet))


def _is_ipv6(prefix: str) -> bool:
    network = parse_prefix(prefix)
    return network is not None and network.version == 6
