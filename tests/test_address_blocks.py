"""An IP configuration with ``privateIPAddressPrefixLength`` holds its whole block (the REST API: "the service will
allocate a CIDR block instead of a single IP address"): IP flow verify accepts any address of the block as the
NIC's, the NIC is found by any of them, and an ASG naming the configuration holds the whole block — in the engine
and in the reference evaluator alike."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import rid
from tests.reference import reference_decide

from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Access, Direction, Protocol, Topology
from opennsg.model.defaults import default_security_rules
from opennsg.model.errors import OpenNsgError
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    SecurityRule,
    Subnet,
    VirtualNetwork,
)
from opennsg.model.validation import validate_topology

ASG = rid("applicationSecurityGroups", "pods")
NSG = rid("networkSecurityGroups", "nsg")
VNET = rid("virtualNetworks", "vnet")
SUBNET = f"{VNET}/subnets/app"
BLOCK_NIC, OTHER_NIC = rid("networkInterfaces", "node"), rid("networkInterfaces", "other")


def _estate() -> Topology:
    rules = (
        SecurityRule("web-to-pods", 100, Direction.INBOUND, Access.ALLOW, Protocol.TCP, source_address_prefix="*",
                     source_port_range="*", destination_asgs=(ASG,), destination_port_range="80"),
        SecurityRule("deny-vnet", 200, Direction.INBOUND, Access.DENY, Protocol.ANY, source_address_prefix="*",
                     source_port_range="*", destination_address_prefix="*", destination_port_range="*"),
    )  # fmt: skip
    nsg = NetworkSecurityGroup(NSG, "nsg", "westus", {}, rules, default_security_rules(NSG))
    vnet = VirtualNetwork(VNET, "vnet", "westus", {}, ("10.0.0.0/16",), (Subnet(SUBNET, "app", ("10.0.1.0/24",), NSG),))
    node = NetworkInterface(BLOCK_NIC, "node", "westus", {}, (
        IpConfiguration(f"{BLOCK_NIC}/ipConfigurations/primary", "primary", "10.0.1.4", SUBNET, primary=True),
        IpConfiguration(f"{BLOCK_NIC}/ipConfigurations/pods", "pods", "10.0.1.16", SUBNET,
                        application_security_groups=(ASG,), private_ip_address_prefix_length=28),
    ))  # fmt: skip
    other = NetworkInterface(OTHER_NIC, "other", "westus", {}, (
        IpConfiguration(f"{OTHER_NIC}/ipConfigurations/c", "c", "10.0.1.5", SUBNET, primary=True,
                        application_security_groups=(ASG,)),
    ))  # fmt: skip
    asg = ApplicationSecurityGroup(ASG, "pods", "westus", {})
    return Topology.of(nsgs=[nsg], vnets=[vnet], nics=[node, other], asgs=[asg])


TOPOLOGY = _estate()
ENGINE = Engine(TOPOLOGY)


def test_the_estate_is_valid() -> None:
    assert validate_topology(TOPOLOGY) == []


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=15), st.sampled_from([80, 443]), st.integers(min_value=0, max_value=255))
def test_every_address_of_the_block_is_the_nics_and_an_asg_member(offset: int, port: int, remote: int) -> None:
    local = f"10.0.1.{16 + offset}"
    flow = Flow.make(Direction.INBOUND, 6, local, port, f"10.0.2.{remote}", 40000)
    verdict = ENGINE.verify(BLOCK_NIC, flow)
    reference = reference_decide(TOPOLOGY, BLOCK_NIC, flow)
    assert (verdict.access.value, verdict.rule_name) == (reference.access, reference.rule_name)
    assert verdict.rule_name == ("securityRules/web-to-pods" if port == 80 else "securityRules/deny-vnet")
    assert ENGINE.for_nic_ip(local) is not None and ENGINE.for_nic_ip(local).id == BLOCK_NIC  # type: ignore[union-attr]


def test_the_primary_address_is_no_asg_member_and_outside_addresses_are_not_the_nics() -> None:
    primary = Flow.make(Direction.INBOUND, 6, "10.0.1.4", 80, "10.0.2.9", 40000)
    verdict, reference = ENGINE.verify(BLOCK_NIC, primary), reference_decide(TOPOLOGY, BLOCK_NIC, primary)
    assert verdict.rule_name == reference.rule_name == "securityRules/deny-vnet"
    assert ENGINE.for_nic_ip(ip_address("10.0.1.32")) is None
    with pytest.raises(OpenNsgError):
        ENGINE.verify(BLOCK_NIC, Flow.make(Direction.INBOUND, 6, "10.0.1.32", 80, "10.0.2.9", 40000))


def test_an_overlapping_block_is_refused() -> None:
    overlapping = NetworkInterface(rid("networkInterfaces", "late"), "late", "westus", {}, (
        IpConfiguration(rid("networkInterfaces", "late") + "/ipConfigurations/c", "c", "10.0.1.0", SUBNET,
                        primary=True, private_ip_address_prefix_length=26),
    ))  # fmt: skip
    codes = {e.code for e in validate_topology(TOPOLOGY.with_(nics=[*TOPOLOGY.nics.values(), overlapping]))}
    assert {"PrivateIPAddressIsAllocated", "PrivateIPAddressInReservedRange"} <= codes


def _scanned_holders(topology: Topology, address: IPv4Address | IPv6Address) -> list[NetworkInterface]:
    """What ``for_nic_ip`` must find, the plain way: every NIC with the exact address, else every NIC whose block
    (the configuration's address widened to its prefix length) contains it."""
    exact = [
        nic
        for nic in topology.nics.values()
        for c in nic.ip_configurations
        if c.private_ip_address and ip_address(c.private_ip_address) == address
    ]
    if exact:
        return exact
    return [
        nic
        for nic in topology.nics.values()
        if any(
            c.private_ip_address and c.private_ip_address_prefix_length is not None
            and address in ip_network(f"{c.private_ip_address}/{c.private_ip_address_prefix_length}", strict=False)
            for c in nic.ip_configurations
        )
    ]  # fmt: skip


_configurations = st.lists(
    st.one_of(
        st.tuples(st.just(4), st.integers(0, 63), st.one_of(st.none(), st.integers(26, 32))),
        st.tuples(st.just(6), st.integers(0, 63), st.one_of(st.none(), st.integers(122, 128))),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_configurations, min_size=1, max_size=6), st.integers(0, 63), st.sampled_from([4, 6]))
def test_the_address_index_finds_what_a_scan_of_every_nic_finds(
    nics: list[list[tuple[int, int, int | None]]], offset: int, version: int
) -> None:
    """Unvalidated estates (blocks may overlap, addresses repeat): the indexed lookup equals the scan, ambiguity
    included."""
    base = {4: "10.0.1.", 6: "fd00::"}

    def address(v: int, n: int) -> str:
        return f"{base[v]}{n}" if v == 4 else f"{base[v]}{n:x}"

    built = [
        NetworkInterface(rid("networkInterfaces", f"n{i}"), f"n{i}", "westus", {}, tuple(
            IpConfiguration(f"{rid('networkInterfaces', f'n{i}')}/ipConfigurations/c{j}", f"c{j}", address(v, n),
                            SUBNET, private_ip_address_version="IPv4" if v == 4 else "IPv6",
                            private_ip_address_prefix_length=length)
            for j, (v, n, length) in enumerate(configs)
        ))
        for i, configs in enumerate(nics)
    ]  # fmt: skip
    topology = TOPOLOGY.with_(nics=built)
    wanted = ip_address(address(version, offset))
    expected = _scanned_holders(topology, wanted)
    engine = Engine(topology)
    if len(expected) > 1:
        with pytest.raises(OpenNsgError) as raised:
            engine.for_nic_ip(wanted)
        assert raised.value.errors[0].message.startswith(f"{wanted} is a private IP of several NICs")
        assert ", ".join(n.name for n in expected) in raised.value.errors[0].message
    else:
        found = engine.for_nic_ip(wanted)
        assert (found.id if found else None) == (expected[0].id if expected else None)
