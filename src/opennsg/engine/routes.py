"""A NIC's effective routes and the next hop of an address: Azure's system routes, overridden by user routes.

System routes (Azure's "Virtual network traffic routing"): each address prefix of the NIC's VNet goes to
``VnetLocal``; what each ``Connected`` peering connects to the NIC's subnet (``engine.peering``) to
``VNetPeering``; on-premises prefixes of
the VNet's gateways to ``VirtualNetworkGateway`` (unless the route table disables BGP route propagation);
``0.0.0.0/0`` (and ``::/0`` in a VNet with IPv6 space) to ``Internet``; and the private and shared ranges
10.0.0.0/8, 100.64.0.0/10, 172.16.0.0/12, 192.168.0.0/16 to ``None``. The subnet's route table adds user routes;
a user route with the same prefix as a system route makes that system route ``Invalid``. An address goes to the
longest matching active prefix; among equal prefixes a user route wins over a gateway route over a system route.
"""

from __future__ import annotations

from collections.abc import Iterable

from opennsg.engine.peering import peering_prefixes
from opennsg.model.resources import NetworkInterface, Route, RouteTable, Subnet, VirtualNetwork
from opennsg.model.routes import EffectiveRoute, NextHopType, RouteSource, RouteState
from opennsg.model.topology import Topology
from opennsg.model.values import IPAddress, IPNetwork, parse_prefix

#: Ranges Azure routes to ``None`` unless something more specific claims them (in the order Azure lists them).
UNROUTED_RANGES = ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16")
_PREFERENCE = {RouteSource.USER: 0, RouteSource.VIRTUAL_NETWORK_GATEWAY: 1, RouteSource.DEFAULT: 2}


def effective_routes(topology: Topology, nic: NetworkInterface) -> tuple[EffectiveRoute, ...]:
    """The routes of the NIC's (primary IP configuration's) subnet, in the order Network Watcher lists them."""
    primary = next(
        (c for c in nic.ip_configurations if c.primary), nic.ip_configurations[0] if nic.ip_configurations else None
    )
    subnet = topology.subnet(primary.subnet) if primary is not None else None
    vnet = topology.vnet_of_subnet(subnet.id) if subnet is not None else None
    table = topology.route_table(subnet.route_table) if subnet is not None else None
    user = tuple(_user_routes(table))
    overridden = {_normal(prefix) for route in user for prefix in route.address_prefixes}
    system = [
        route
        if not any(_normal(p) in overridden for p in route.address_prefixes)
        else EffectiveRoute(
            route.source, RouteState.INVALID, route.address_prefixes, route.next_hop_type, route.next_hop_ip_addresses
        )
        for route in _system_routes(topology, vnet, subnet, table)
    ]
    return (*system, *user)


def next_hop(routes: Iterable[EffectiveRoute], address: IPAddress) -> EffectiveRoute | None:
    """The route an address follows: longest active prefix, then user over gateway over system routes."""
    best: tuple[int, int] | None = None
    chosen: EffectiveRoute | None = None
    for route in routes:
        if route.state is not RouteState.ACTIVE:
            continue
        for text in route.address_prefixes:
            network = parse_prefix(text)
            if network is None or network.version != address.version or address not in network:
                continue
            rank = (network.prefixlen, -_PREFERENCE[route.source])
            if best is None or rank > best:
                best, chosen = rank, route
    return chosen


def _system_routes(
    topology: Topology, vnet: VirtualNetwork | None, subnet: Subnet | None, table: RouteTable | None
) -> Iterable[EffectiveRoute]:
    def default(prefixes: Iterable[str], hop: NextHopType, source: RouteSource = RouteSource.DEFAULT) -> EffectiveRoute:
        return EffectiveRoute(source, RouteState.ACTIVE, tuple(prefixes), hop)

    space = vnet.address_space if vnet is not None else ()
    for prefix in space:
        yield default((prefix,), NextHopType.VNET_LOCAL)
    for peering in vnet.peerings if vnet is not None else ():
        peered = peering_prefixes(topology, peering, subnet)
        if peered:
            yield default(peered, NextHopType.VNET_PEERING)
    propagate = table is None or not table.disable_bgp_route_propagation
    if vnet is not None and vnet.gateway_prefixes and propagate:
        yield default(vnet.gateway_prefixes, NextHopType.VIRTUAL_NETWORK_GATEWAY, RouteSource.VIRTUAL_NETWORK_GATEWAY)
    yield default(("0.0.0.0/0",), NextHopType.INTERNET)
    for prefix in UNROUTED_RANGES:
        yield default((prefix,), NextHopType.NONE)
    if any(_version(p) == 6 for p in space):
        yield default(("::/0",), NextHopType.INTERNET)


def _user_routes(table: RouteTable | None) -> Iterable[EffectiveRoute]:
    for route in table.routes if table is not None else ():
        hop = NextHopType.parse(route.next_hop_type)
        if hop is None:
            continue  # validation refuses unknown next hop types; an unvalidated one routes nothing
        yield EffectiveRoute(
            RouteSource.USER,
            RouteState.ACTIVE,
            (route.address_prefix,),
            hop,
            _next_hop_ips(route),
            route.name,
            table.disable_bgp_route_propagation if table is not None else False,
        )


def _next_hop_ips(route: Route) -> tuple[str, ...]:
    return (route.next_hop_ip_address,) if route.next_hop_ip_address else ()


def _normal(prefix: str) -> str:
    network = parse_prefix(prefix)
    return str(network) if network is not None else prefix.strip().casefold()


def _version(prefix: str) -> int | None:
    network: IPNetwork | None = parse_prefix(prefix)
    return network.version if network is not None else None


__all__ = ["UNROUTED_RANGES", "effective_routes", "next_hop"]
