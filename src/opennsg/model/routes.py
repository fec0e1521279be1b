"""A NIC's effective routes, as Network Watcher's effective route table names them (``EffectiveRoute``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RouteSource(StrEnum):
    DEFAULT = "Default"
    USER = "User"
    VIRTUAL_NETWORK_GATEWAY = "VirtualNetworkGateway"


class RouteState(StrEnum):
    ACTIVE = "Active"
    INVALID = "Invalid"


class NextHopType(StrEnum):
    """Next hops of effective routes: the user-route ones (``RouteNextHopType``) and the system-only ``VNetPeering``."""

    VNET_LOCAL = "VnetLocal"
    VNET_PEERING = "VNetPeering"
    VIRTUAL_NETWORK_GATEWAY = "VirtualNetworkGateway"
    INTERNET = "Internet"
    VIRTUAL_APPLIANCE = "VirtualAppliance"
    NONE = "None"

    @classmethod
    def parse(cls, text: str) -> NextHopType | None:
        folded = text.strip().casefold()
        return next((hop for hop in cls if hop.value.casefold() == folded), None)


@dataclass(frozen=True, slots=True)
class EffectiveRoute:
    """One route in force (or overridden: ``Invalid``) at a NIC."""

    source: RouteSource
    state: RouteState
    address_prefixes: tuple[str, ...]
    next_hop_type: NextHopType
    next_hop_ip_addresses: tuple[str, ...] = ()
    #: The user route's name; system routes have none.
    name: str | None = None
    disable_bgp_route_propagation: bool = False
