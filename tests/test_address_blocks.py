"""An IP configuration with ``privateIPAddressPrefixLength`` holds its whole block (the REST API: "the service will
allocate a CIDR block instead of a single IP address"): IP flow verify accepts any address of the block as the
NIC's, the NIC is found by any of them, and an ASG naming the configuration holds the whole block — in the engine
and in the reference evaluator alike."""

from __future__ import annotations

from ipaddress import ip_address

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
