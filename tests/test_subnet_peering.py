"""Subnet peering (``peerCompleteVnets: false``): only the listed local subnets gain anything, and only the listed
remote subnets' prefixes; ``enableOnlyIPv6Peering`` keeps IPv6 only — in the VirtualNetwork tag, IP flow verify and
effective routes (written from the REST API's subnet-peering example and the VirtualNetwork tag's definition)."""

from __future__ import annotations

import dataclasses
from ipaddress import ip_address

import pytest
from tests.conftest import rid
from tests.reference import reference_decide

from opennsg.analysis.reach import Reachability
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.engine.routes import next_hop
from opennsg.model import Direction, Topology
from opennsg.model.defaults import default_security_rules
from opennsg.model.resources import (
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Subnet,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.routes import NextHopType


def _estate(complete: bool, ipv6_only: bool = False, remote_known: bool = True) -> Topology:
    nsg = NetworkSecurityGroup(rid("networkSecurityGroups", "defaults"), "defaults", "westus", {}, (),
                               default_security_rules(rid("networkSecurityGroups", "defaults")))  # fmt: skip
    a_id, b_id = rid("virtualNetworks", "a"), rid("virtualNetworks", "b")
    a_subnets = tuple(
        Subnet(f"{a_id}/subnets/{n}", n, (p, v6), nsg.id)
        for n, p, v6 in (("Subnet1", "10.1.1.0/24", "fd01:0:0:1::/64"), ("Subnet3", "10.1.3.0/24", "fd01:0:0:3::/64"))
    )
    b_subnets = tuple(
        Subnet(f"{b_id}/subnets/{n}", n, (p, v6))
        for n, p, v6 in (("Subnet2", "10.2.2.0/24", "fd02:0:0:2::/64"), ("Subnet5", "10.2.5.0/24", "fd02:0:0:5::/64"))
    )
    peering = VirtualNetworkPeering(
        f"{a_id}/virtualNetworkPeerings/peer", "peer", b_id, ("10.2.0.0/16", "fd02::/48"),
        peer_complete_vnets=complete, local_subnet_names=("subnet1",), remote_subnet_names=("Subnet2",),
        enable_only_ipv6_peering=ipv6_only,
    )  # fmt: skip
    a = VirtualNetwork(a_id, "a", "westus", {}, ("10.1.0.0/16", "fd01::/48"), a_subnets, (peering,))
    b = VirtualNetwork(b_id, "b", "westus", {}, ("10.2.0.0/16", "fd02::/48"), b_subnets)
    nics = []
    for name, subnet, v4, v6 in (("in-listed", a_subnets[0], "10.1.1.4", "fd01:0:0:1::4"),
                                 ("in-other", a_subnets[1], "10.1.3.4", "fd01:0:0:3::4")):  # fmt: skip
        nic_id = rid("networkInterfaces", name)
        configs = (
            IpConfiguration(f"{nic_id}/ipConfigurations/v4", "v4", v4, subnet.id, primary=True),
            IpConfiguration(f"{nic_id}/ipConfigurations/v6", "v6", v6, subnet.id, "IPv6"),
        )
        nics.append(NetworkInterface(nic_id, name, "westus", {}, configs))
    return Topology.of(nsgs=[nsg], vnets=[a, b] if remote_known else [a], nics=nics)


def _inbound(topology: Topology, nic: str, local: str, remote: str) -> str | None:
    flow = Flow.make(Direction.INBOUND, 6, local, 443, remote, 50000)
    verdict = Engine(topology).verify(nic, flow)
    reference = reference_decide(topology, rid("networkInterfaces", nic), flow)
    assert (verdict.access.value, verdict.rule_name) == (reference.access, reference.rule_name)
    return verdict.rule_name


ALLOW, DENY = "defaultSecurityRules/AllowVnetInBound", "defaultSecurityRules/DenyAllInBound"


def test_subnet_peering_connects_only_the_listed_subnets() -> None:
    topology = _estate(complete=False)
    assert _inbound(topology, "in-listed", "10.1.1.4", "10.2.2.9") == ALLOW  # listed remote subnet
    assert _inbound(topology, "in-listed", "10.1.1.4", "10.2.5.9") == DENY  # remote subnet not listed
    assert _inbound(topology, "in-other", "10.1.3.4", "10.2.2.9") == DENY  # local subnet not listed
    assert _inbound(topology, "in-other", "10.1.3.4", "10.1.1.9") == ALLOW  # its own VNet still is


def test_whole_vnet_peering_connects_everything() -> None:
    topology = _estate(complete=True)
    assert _inbound(topology, "in-other", "10.1.3.4", "10.2.5.9") == ALLOW


def test_ipv6_only_peering_keeps_ipv6_prefixes() -> None:
    topology = _estate(complete=False, ipv6_only=True)
    assert _inbound(topology, "in-listed", "10.1.1.4", "10.2.2.9") == DENY
    assert _inbound(topology, "in-listed", "fd01:0:0:1::4", "fd02:0:0:2::9") == ALLOW
    assert _inbound(topology, "in-listed", "fd01:0:0:1::4", "fd02:0:0:5::9") == DENY


def test_without_the_remote_vnet_the_peerings_address_space_is_the_most_it_can_be() -> None:
    topology = _estate(complete=False, remote_known=False)
    assert _inbound(topology, "in-listed", "10.1.1.4", "10.2.5.9") == ALLOW
    assert _inbound(topology, "in-other", "10.1.3.4", "10.2.5.9") == DENY


@pytest.mark.parametrize(("nic", "peered"), [("in-listed", ("10.2.2.0/24", "fd02:0:0:2::/64")), ("in-other", None)])
def test_effective_routes_follow_the_subnet_peering(nic: str, peered: tuple[str, ...] | None) -> None:
    routes = Engine(_estate(complete=False)).effective_routes(nic)
    peering_routes = [r.address_prefixes for r in routes if r.next_hop_type is NextHopType.VNET_PEERING]
    assert peering_routes == ([peered] if peered else [])
    hop = next_hop(routes, ip_address("10.2.2.9"))
    assert hop is not None
    assert hop.next_hop_type is (NextHopType.VNET_PEERING if peered else NextHopType.NONE)


def _both_ways() -> Topology:
    """The estate with VNet b peered back (its Subnet2 to a's Subnet1) and a NIC in each of b's subnets."""
    topology = _estate(complete=False)
    a, b = (
        topology.vnets[rid("virtualNetworks", "a").casefold()],
        topology.vnets[rid("virtualNetworks", "b").casefold()],
    )
    back = VirtualNetworkPeering(
        f"{b.id}/virtualNetworkPeerings/back", "back", a.id, ("10.1.0.0/16", "fd01::/48"),
        peer_complete_vnets=False, local_subnet_names=("Subnet2",), remote_subnet_names=("Subnet1",),
    )  # fmt: skip
    b_with_nsg = VirtualNetwork(
        b.id, b.name, b.location, {}, b.address_space,
        tuple(dataclasses.replace(s, network_security_group=next(iter(topology.nsgs.values())).id) for s in b.subnets),
        (back,),
    )  # fmt: skip
    nics = list(topology.nics.values())
    for name, subnet, address in (("b2", b.subnets[0], "10.2.2.4"), ("b5", b.subnets[1], "10.2.5.4")):
        nic_id = rid("networkInterfaces", name)
        config = IpConfiguration(f"{nic_id}/ipConfigurations/v4", "v4", address, subnet.id, primary=True)
        nics.append(NetworkInterface(nic_id, name, "westus", {}, (config,)))
    return topology.with_(vnets=[topology.vnets[a.key], b_with_nsg], nics=nics)


def test_effective_rules_expand_the_virtual_network_tag_to_the_peered_subnets_only() -> None:
    engine = Engine(_estate(complete=False))

    def vnet_prefixes(nic: str) -> set[str]:
        groups = engine.effective_rules(nic)
        rule = next(r for g in groups for r in g.rules if r.rule.name == "AllowVnetInBound")
        return {str(n) for n in rule.source}

    assert {"10.2.2.0/24", "fd02:0:0:2::/64"} <= vnet_prefixes("in-listed")
    assert not any(p.startswith(("10.2.", "fd02:")) for p in vnet_prefixes("in-other"))
    assert "10.2.5.0/24" not in vnet_prefixes("in-listed")


def test_reachability_follows_the_subnet_peering() -> None:
    topology = _both_ways()
    matrix = Reachability(topology).matrix()

    def reachable(source: str, destination: str) -> object:
        return matrix.cells[(rid("networkInterfaces", source), rid("networkInterfaces", destination))].reachable

    assert reachable("b2", "in-listed") is True  # listed on both sides
    assert reachable("in-listed", "b2") is True
    assert reachable("b5", "in-listed") is False  # Subnet5 is not peered
    assert reachable("b2", "in-other") is False  # Subnet3 is not peered
    assert reachable("in-other", "in-listed") is True  # inside its own VNet as ever
