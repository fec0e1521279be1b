"""Whether an outbound flow to the internet has a way out (§12.2, §12.3): a separate question from the verdict.

IP flow verify answers what the rules say; a VM in a private subnet (``defaultOutboundAccess: false``) may be
allowed by every rule and still have no egress path. It has one when its subnet has a NAT gateway, one of its IP
configurations has a public IP, or the subnet's route table sends the destination to an appliance or a gateway
(the longest matching route). Load balancer outbound rules are not modelled (``LoadBalancer`` carries none), so a
VM relying on one is reported without a path. Inbound, the internet reaches a NIC through a public IP only when
``public_ip_admits`` (a Standard SKU one is closed while no NSG applies).
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Literal

from opennsg.engine.flow import Flow
from opennsg.engine.ir import NicPolicy
from opennsg.model.enums import Direction
from opennsg.model.resources import NetworkInterface, Route, Subnet
from opennsg.model.topology import Topology

#: The value of ``egress`` in ``opennsg verify --json`` when there is no egress path.
NO_EGRESS: Literal["none"] = "none"
#: Next hops that carry internet-bound traffic somewhere else than the default outbound access.
FORWARDING_NEXT_HOPS = frozenset({"virtualappliance", "virtualnetworkgateway"})


def _longest_route(routes: tuple[Route, ...], flow: Flow) -> Route | None:
    best: tuple[int, Route] | None = None
    for route in routes:
        try:
            network = ip_network(route.address_prefix.strip(), strict=False)
        except ValueError:
            continue
        inside = network.version == flow.remote_ip.version and flow.remote_ip in network
        if inside and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, route)
    return best[1] if best else None


def _routed_to_appliance(topology: Topology, subnet: Subnet, flow: Flow) -> bool:
    table = topology.route_table(subnet.route_table)
    route = _longest_route(table.routes, flow) if table else None
    return route is not None and route.next_hop_type.casefold() in FORWARDING_NEXT_HOPS


def egress(topology: Topology, policy: NicPolicy, flow: Flow) -> Literal["none"] | None:
    """``"none"`` when ``flow`` leaves for an Internet address from a private subnet with no NAT gateway, no public
    IP on the NIC and no route to an appliance; None when there is a path or the question does not arise."""
    if flow.direction is not Direction.OUTBOUND or not policy.internet.contains(flow.remote_ip):
        return None
    subnet = topology.subnet(policy.nic.subnet)
    if subnet is None or subnet.has_default_outbound_access or subnet.nat_gateway:
        return None
    if any(cfg.public_ip_address for cfg in policy.nic.ip_configurations):
        return None
    if _routed_to_appliance(topology, subnet, flow):
        return None
    return NO_EGRESS


def public_ip_admits(topology: Topology, nic: NetworkInterface, public_ip_id: str) -> bool:
    """Inbound from the internet through this public IP reaches the NIC's NSGs (semantics §12.3): a Basic SKU one is
    open; a Standard one (the default SKU) only while an NSG applies at the NIC or at its subnet."""
    public = topology.public_ip(public_ip_id)
    if public is not None and not public.closed_by_default:
        return True
    subnet = topology.subnet(nic.subnet)
    return bool(nic.network_security_group or (subnet is not None and subnet.network_security_group))
