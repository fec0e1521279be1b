"""Validation: every code and message (exact strings), every limit at and beyond its bound, all problems at once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opennsg.model import (
    Access,
    ApplicationSecurityGroup,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    SecurityRule,
    ServiceTag,
    ServiceTags,
    Subnet,
    Topology,
    VirtualMachine,
    VirtualNetwork,
    default_security_rules,
)
from opennsg.model.ids import network_id
from opennsg.model.policy import MAX_IP_CONFIGURATIONS_PER_NIC
from opennsg.model.validation import Code, canonical_tag, validate_nsg, validate_topology

SUB = "11111111-1111-1111-1111-111111111111"
NSG_ID = network_id(SUB, "rg", "networkSecurityGroups", "nsg1")
RULE_ID = f"{NSG_ID}/securityRules/r1"
TAGS = ServiceTags.of(
    [
        ServiceTag("Storage", ("20.60.0.0/16",), ("API", "NSG")),
        ServiceTag("Storage.WestUS", ("20.60.1.0/24",), ("NSG",), region="westus"),
        ServiceTag("ApiOnly", ("8.8.8.0/24",), ("API",)),
    ]
)


def rule(
    name: str = "r1", priority: int = 100, direction: Direction = Direction.INBOUND, **fields: object
) -> SecurityRule:
    base: dict[str, object] = {
        "source_address_prefix": "*",
        "destination_address_prefix": "*",
        "source_port_range": "*",
        "destination_port_range": "80",
    }
    base.update(fields)
    return SecurityRule(
        name=name,
        priority=priority,
        direction=direction,
        access=Access.ALLOW,
        protocol=Protocol.TCP,
        id=f"{NSG_ID}/securityRules/{name}",
        **base,  # type: ignore[arg-type]
    )


def nsg(*rules: SecurityRule, name: str = "nsg1") -> NetworkSecurityGroup:
    nsg_id = network_id(SUB, "rg", "networkSecurityGroups", name)
    return NetworkSecurityGroup(nsg_id, name, "westus", {}, tuple(rules), default_security_rules(nsg_id))


def problems(*rules: SecurityRule, topology: Topology | None = None) -> list[tuple[str, str, str | None]]:
    errors = validate_nsg(nsg(*rules), topology or Topology.of(service_tags=TAGS))
    return [(e.code, e.message, e.target) for e in errors]


def codes(*rules: SecurityRule, topology: Topology | None = None) -> list[str]:
    return [code for code, _, _ in problems(*rules, topology=topology)]


def test_a_plain_rule_and_the_default_rules_are_valid() -> None:
    assert problems(rule()) == []
    assert problems() == []


# --- priority ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("priority", [100, 101, 4095, 4096])
def test_priority_inside_the_range_is_accepted(priority: int) -> None:
    assert problems(rule(priority=priority)) == []


@pytest.mark.parametrize("priority", [0, 99, 4097, 65000, 65500, -1])
def test_priority_outside_the_range_is_rejected_with_the_documented_message(priority: int) -> None:
    assert problems(rule(priority=priority)) == [
        (
            "SecurityRuleInvalidPriority",
            f"Security rule has invalid Priority. Value provided: {priority} Allowed range 100-4096.",
            "properties.securityRules[0].properties.priority",
        )
    ]


def test_same_priority_and_direction_conflict_but_other_direction_is_fine() -> None:
    assert problems(rule("a", 200), rule("b", 200, Direction.OUTBOUND)) == []
    assert problems(rule("a", 200), rule("b", 300), rule("c", 200)) == [
        (
            "SecurityRuleConflict",
            "Security rule c conflicts with rule a. Rules cannot have the same Priority and Direction.",
            "properties.securityRules[2].properties.priority",
        )
    ]


# --- names and description ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "_", "A-b.c_d", "x" * 80, "rule_", "9lives"])
def test_valid_names(name: str) -> None:
    assert problems(rule(name)) == []


@pytest.mark.parametrize("name", ["", "x" * 81, "-a", "a-", "a.", "a b", "a/b", ".a", "ä"])
def test_invalid_rule_names(name: str) -> None:
    found = problems(rule(name))
    assert [(c, t) for c, _, t in found] == [("InvalidResourceName", "properties.securityRules[0].name")]
    assert found[0][1].startswith(f"Resource name {name} is invalid. The name can be up to 80 characters long.")


def test_invalid_nsg_name() -> None:
    errors = validate_nsg(nsg(name="bad name!"), Topology.of())
    assert [(e.code, e.target) for e in errors] == [("InvalidResourceName", "name")]


def test_description_up_to_140_characters() -> None:
    assert problems(rule(description="d" * 140)) == []
    assert problems(rule(description="d" * 141)) == [
        (
            "SecurityRuleDescriptionTooLong",
            f"Security rule {RULE_ID} has a description of 141 characters. The description is restricted to 140 "
            "characters.",
            "properties.securityRules[0].properties.description",
        )
    ]


# --- singular / plural exclusivity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "pair", "target"),
    [
        ({"source_port_ranges": ("1", "2")}, ("SourcePortRange", "SourcePortRanges"), "sourcePortRange"),
        ({"source_port_range": None}, ("SourcePortRange", "SourcePortRanges"), "sourcePortRange"),
        (
            {"destination_port_ranges": ("1",)},
            ("DestinationPortRange", "DestinationPortRanges"),
            "destinationPortRange",
        ),
        ({"destination_port_range": ""}, ("DestinationPortRange", "DestinationPortRanges"), "destinationPortRange"),
        ({"source_address_prefixes": ("10.0.0.0/8",)}, ("SourceAddressPrefix", "SourceAddressPrefixes"), None),
    ],
)
def test_both_or_neither_of_a_pair_is_a_parameter_conflict(
    fields: dict[str, object], pair: tuple[str, str], target: str | None
) -> None:
    field = target or (pair[0][0].lower() + pair[0][1:])
    assert problems(rule(**fields)) == [
        (
            "SecurityRuleParameterConflict",
            f"Security rule with Id {RULE_ID} must specify a non-empty value for either {pair[0]} or {pair[1]}, "
            "but not both.",
            f"properties.securityRules[0].properties.{field}",
        )
    ]


def test_an_empty_address_slot_uses_the_documented_two_field_message() -> None:
    assert problems(rule(destination_address_prefix=None)) == [
        (
            "SecurityRuleParameterConflict",
            f"Security rule with Id {RULE_ID} must specify a non-empty value for either DestinationAddressPrefix or "
            "DestinationAddressPrefixes, but not both.",
            "properties.securityRules[0].properties.destinationAddressPrefix",
        )
    ]


def test_rule_names_are_unique_per_nsg_ignoring_case() -> None:
    assert problems(rule("web", 100), rule("WEB", 200)) == [
        (
            "DuplicateSecurityRuleName",
            f"Network security group {NSG_ID} has more than one security rule named WEB. Rule names are unique "
            "within a network security group (compared case-insensitively).",
            "properties.securityRules[1].name",
        )
    ]


def test_asgs_are_the_third_alternative_of_an_address_slot() -> None:
    asg = ApplicationSecurityGroup(network_id(SUB, "rg", "applicationSecurityGroups", "web"), "web")
    topology = Topology.of(asgs=[asg], service_tags=TAGS)
    assert problems(rule(source_address_prefix=None, source_asgs=(asg.id,)), topology=topology) == []
    assert problems(rule(source_asgs=(asg.id,)), topology=topology) == [
        (
            "SecurityRuleParameterConflict",
            f"Security rule with Id {RULE_ID} must specify a non-empty value for either SourceAddressPrefix or "
            "SourceAddressPrefixes or SourceApplicationSecurityGroups, but not more than one of them.",
            "properties.securityRules[0].properties.sourceAddressPrefix",
        )
    ]


# --- ports ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["*", "0", "65535", "1000-2000", "80-80", "0-65535"])
def test_valid_port_ranges(value: str) -> None:
    assert problems(rule(destination_port_range=value)) == []
    if value != "*":
        assert problems(rule(destination_port_range=None, destination_port_ranges=(value, "22"))) == []


@pytest.mark.parametrize("value", ["any", "80,81", "636, 389", "65536", "2000-1000", "-1", "1-", "x-y", "80-65536"])
def test_invalid_port_range_uses_the_documented_message(value: str) -> None:
    expected = (
        "SecurityRuleInvalidPortRange",
        f"Security rule has invalid Port range. Value provided: {value}. Value should be an integer OR integer "
        "range with '-' delimiter. Valid range 0-65535.",
    )
    assert [(c, m) for c, m, _ in problems(rule(source_port_range=value))] == [expected]
    found = problems(rule(source_port_range=None, source_port_ranges=("22", value)))
    assert found == [(*expected, "properties.securityRules[0].properties.sourcePortRanges[1]")]


def test_star_inside_a_port_list_is_rejected() -> None:
    assert problems(rule(destination_port_range=None, destination_port_ranges=("80", "*"))) == [
        (
            "SecurityRuleParameterContainsInvalidPortRanges",
            f"Security rule parameter DestinationPortRanges for rule with Id {RULE_ID} contains invalid port ranges. "
            "'*' may only be used alone, in DestinationPortRange. Value provided: *.",
            "properties.securityRules[0].properties.destinationPortRanges[1]",
        )
    ]


# --- addresses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "10.0.0.0/8",
        "10.0.0.5/24",
        "10.1.2.3",
        "0.0.0.0/0",
        "2001:db8::/32",
        "::/0",
        "VirtualNetwork",
        "virtualnetwork",
        "Internet",
        "AzureLoadBalancer",
        "AZURE_LOADBALANCER",
        "VIRTUAL_NETWORK",
        "INTERNET",
        "AzurePlatformDNS",
        "AzurePlatformIMDS",
        "AzurePlatformLKM",
        "Storage",
        "storage.westus",
    ],
)
def test_accepted_singular_address_values(value: str) -> None:
    assert problems(rule(destination_address_prefix=value)) == []


@pytest.mark.parametrize("value", ["any", "Any", "192.168.0.0/34", "10.0.0", "NoSuchTag", "ApiOnly", " 10.0.0.1"])
def test_invalid_singular_address_values(value: str) -> None:
    assert problems(rule(source_address_prefix=value)) == [
        (
            "SecurityRuleInvalidAddressPrefix",
            f"Security rule {RULE_ID} has invalid Address prefix. Value provided: {value}",
            "properties.securityRules[0].properties.sourceAddressPrefix",
        )
    ]


def test_service_tags_need_a_tags_file() -> None:
    assert codes(rule(destination_address_prefix="Storage"), topology=Topology.of()) == [
        "SecurityRuleInvalidAddressPrefix"
    ]


@pytest.mark.parametrize("value", ["*", "VirtualNetwork", "Internet", "AzureLoadBalancer", "Storage", "ApiOnly"])
def test_tags_and_star_in_a_plural_prefix_field_are_unsupported(value: str) -> None:
    found = problems(rule(destination_address_prefix=None, destination_address_prefixes=("10.0.0.0/8", value)))
    assert found == [
        (
            "SecurityRuleParameterContainsUnsupportedValue",
            f"Security rule parameter DestinationAddressPrefix for rule with Id {RULE_ID} cannot specify existing "
            f"VIRTUALNETWORK, INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {value}.",
            "properties.securityRules[0].properties.destinationAddressPrefixes[1]",
        )
    ]


def test_garbage_in_a_plural_prefix_field_is_an_invalid_prefix() -> None:
    found = problems(rule(source_address_prefix=None, source_address_prefixes=("10.0.0.0/8", "10.0.0.0/33")))
    assert [(c, t) for c, _, t in found] == [
        ("SecurityRuleInvalidAddressPrefix", "properties.securityRules[0].properties.sourceAddressPrefixes[1]")
    ]


def test_one_service_tag_per_address_field_and_a_tag_on_each_side_is_fine() -> None:
    assert problems(rule(source_address_prefix="VirtualNetwork", destination_address_prefix="Storage")) == []
    assert codes(rule(source_address_prefix=None, source_address_prefixes=("Internet", "Storage"))) == [
        "SecurityRuleParameterContainsUnsupportedValue",
        "SecurityRuleParameterContainsUnsupportedValue",
    ]


def test_mixing_address_families_in_one_field() -> None:
    assert problems(rule(source_address_prefix=None, source_address_prefixes=("10.0.0.0/8", "fd00::/8"))) == [
        (
            "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies",
            f"Security rule {RULE_ID} cannot contain address prefixes from different address families: "
            "IPv4 prefix 10.0.0.0/8 and IPv6 prefix fd00::/8.",
            "properties.securityRules[0].properties.sourceAddressPrefixes",
        )
    ]
    assert problems(rule(source_address_prefix=None, source_address_prefixes=("fd00::/8", "fe80::1"))) == []


def test_canonical_tag_maps_spellings() -> None:
    assert canonical_tag("AZURE_LOADBALANCER", None) == "AzureLoadBalancer"
    assert canonical_tag("virtual_network", None) == "VirtualNetwork"
    assert canonical_tag("azureplatformlkm", None) == "AzurePlatformLKM"
    assert canonical_tag("STORAGE.WESTUS", TAGS) == "Storage.WestUS"
    assert canonical_tag("ApiOnly", TAGS) is None
    assert canonical_tag("Storage", None) is None


# --- ASGs ------------------------------------------------------------------------------------------------


def _asg_world(asg_count: int, vnets: int = 1) -> tuple[Topology, list[str]]:
    asgs = [
        ApplicationSecurityGroup(network_id(SUB, "rg", "applicationSecurityGroups", f"asg{i}"), f"asg{i}", "westus")
        for i in range(asg_count)
    ]
    networks = []
    nics = []
    for v in range(vnets):
        vnet_id = network_id(SUB, "rg", "virtualNetworks", f"vnet{v}")
        subnet = Subnet(f"{vnet_id}/subnets/s", "s", (f"10.{v}.0.0/24",))
        networks.append(VirtualNetwork(vnet_id, f"vnet{v}", "westus", {}, (f"10.{v}.0.0/16",), (subnet,)))
        nic_id = network_id(SUB, "rg", "networkInterfaces", f"nic{v}")
        cfg = IpConfiguration(f"{nic_id}/ipConfigurations/c", "c", f"10.{v}.0.4", subnet.id, "IPv4", (asgs[v].id,))
        nics.append(NetworkInterface(nic_id, f"nic{v}", "westus", {}, (cfg,)))
    return Topology.of(asgs=asgs, vnets=networks, nics=nics), [a.id for a in asgs]


def test_up_to_ten_asgs_per_rule_field() -> None:
    topology, ids = _asg_world(11)
    assert problems(rule(source_address_prefix=None, source_asgs=tuple(ids[:10])), topology=topology) == []
    assert problems(rule(destination_address_prefix=None, destination_asgs=tuple(ids)), topology=topology) == [
        (
            "NumberOfApplicationSecurityGroupsReferencedInSecurityRuleLimitReached",
            "A security rule may have up to 10 Application Security Group in the source or destination fields. "
            "The requested configuration has 11 in the DestinationApplicationSecurityGroups field.",
            "properties.securityRules[0].properties.destinationApplicationSecurityGroups",
        )
    ]


def test_unknown_asg_is_an_invalid_reference() -> None:
    missing = network_id(SUB, "rg", "applicationSecurityGroups", "ghost")
    assert problems(rule(source_address_prefix=None, source_asgs=(missing,))) == [
        (
            "InvalidResourceReference",
            not_found(missing, RULE_ID),
            "properties.securityRules[0].properties.sourceApplicationSecurityGroups[0].id",
        )
    ]


def test_asg_reference_is_case_insensitive() -> None:
    topology, ids = _asg_world(1)
    assert problems(rule(source_address_prefix=None, source_asgs=(ids[0].upper(),)), topology=topology) == []


def test_asgs_of_one_rule_must_share_a_vnet() -> None:
    topology, ids = _asg_world(2, vnets=2)
    found = problems(
        rule(
            source_address_prefix=None,
            source_asgs=(ids[0],),
            destination_address_prefix=None,
            destination_asgs=(ids[1],),
        ),
        topology=topology,
    )
    vnet0, vnet1 = (network_id(SUB, "rg", "virtualNetworks", f"vnet{v}") for v in (0, 1))
    assert found == [
        (
            "AllApplicationSecurityGroupsInSecurityRuleMustBeFromSameVnet",
            f"Security Rule {RULE_ID} has Application Security Groups (ASGs) from multiple virtual networks "
            f"({vnet0}, {vnet1}). All ASGs on the Security Rule must be from the same virtual network.",
            "properties.securityRules[0].properties",
        )
    ]
    same_vnet = problems(
        rule(
            source_address_prefix=None,
            source_asgs=(ids[0],),
            destination_address_prefix=None,
            destination_asgs=(ids[0],),
        ),
        topology=topology,
    )
    assert same_vnet == []


def test_up_to_100_distinct_asgs_per_nsg() -> None:
    topology, ids = _asg_world(101)

    def rules_using(count: int) -> list[SecurityRule]:
        return [
            rule(
                f"r{i}",
                100 + i,
                source_address_prefix=None,
                source_asgs=tuple(ids[j] for j in range(i * 10, min(count, i * 10 + 10))),
            )
            for i in range((count + 9) // 10)
        ]

    assert problems(*rules_using(100), topology=topology) == []
    assert problems(*rules_using(101), topology=topology) == [
        (
            "ApplicationSecurityGroupsPerNetworkSecurityGroupLimitReached",
            f"Network security group {NSG_ID} references 101 application security groups in its security rules. "
            "Up to 100 may be referenced.",
            "properties.securityRules",
        )
    ]


# --- NSG-wide limits ----------------------------------------------------------------------------------------


def test_up_to_1000_rules_per_nsg() -> None:
    many = [rule(f"r{i}", 100 + i // 2, Direction.INBOUND if i % 2 else Direction.OUTBOUND) for i in range(1000)]
    assert problems(*many) == []
    extra = rule("r1000", 4000, Direction.INBOUND)
    assert problems(*many, extra) == [
        (
            "SecurityRulesPerNetworkSecurityGroupLimitReached",
            f"Network security group {NSG_ID} has 1001 security rules. A network security group may have up to "
            "1000 security rules.",
            "properties.securityRules",
        )
    ]


def _prefixes(count: int, start: int = 0) -> tuple[str, ...]:
    return tuple(f"10.{(i >> 8) & 255}.{i & 255}.0/24" for i in range(start, start + count))


def _prefix_rules(source_plural: int, destination_plural: int) -> list[SecurityRule]:
    """Four rules: every field counts its entries; a tag or ``*`` counts as one."""
    return [
        rule("a", 100, source_address_prefix=None, source_address_prefixes=_prefixes(3000)),
        rule("b", 101, source_address_prefix=None, source_address_prefixes=_prefixes(source_plural, 3000)),
        rule("c", 102, source_address_prefix="Internet"),
        rule("d", 103, destination_address_prefix=None, destination_address_prefixes=_prefixes(destination_plural)),
    ]


def test_up_to_4000_prefixes_per_side_counting_every_field() -> None:
    assert problems(*_prefix_rules(998, 3997)) == []  # 3000 + 998 + 1 + 1 and 1 + 1 + 1 + 3997


@pytest.mark.parametrize(("source", "destination", "side"), [(999, 3997, "source"), (998, 3998, "destination")])
def test_one_prefix_beyond_4000_on_either_side(source: int, destination: int, side: str) -> None:
    assert problems(*_prefix_rules(source, destination)) == [
        (
            "AddressPrefixesPerNetworkSecurityGroupLimitReached",
            f"Network security group {NSG_ID} specifies 4001 {side} address prefixes in its security rules. "
            f"Up to 4000 IP addresses and ranges may be specified for the {side} of a network security group.",
            "properties.securityRules",
        )
    ]


def test_a_default_rule_among_the_user_rules_is_read_only() -> None:
    default = default_security_rules(NSG_ID)[0]
    assert problems(default)[0][:2] == (
        "DefaultSecurityRuleReadOnly",
        f"Default security rule AllowVnetInBound of network security group {NSG_ID} is read-only and cannot be "
        "changed.",
    )


def test_every_problem_of_an_nsg_is_reported_at_once() -> None:
    found = codes(
        rule("bad name", 50, source_port_range="x", description="d" * 141),
        rule("ok", 200, destination_address_prefix="any", destination_port_range=None),
        rule("dup", 200),
    )
    assert found == [
        "InvalidResourceName",
        "SecurityRuleInvalidPriority",
        "SecurityRuleDescriptionTooLong",
        "SecurityRuleInvalidPortRange",
        "SecurityRuleParameterConflict",
        "SecurityRuleInvalidAddressPrefix",
        "SecurityRuleConflict",
    ]


# --- the rest of a topology ----------------------------------------------------------------------------------


def _vnet(timeout: int | None = None, nsg_id: str | None = None, route_table: str | None = None) -> VirtualNetwork:
    vnet_id = network_id(SUB, "rg", "virtualNetworks", "vnet")
    subnet = Subnet(f"{vnet_id}/subnets/s", "s", ("10.0.0.0/24",), nsg_id, route_table)
    return VirtualNetwork(vnet_id, "vnet", "westus", {}, ("10.0.0.0/16",), (subnet,), (), timeout)


@pytest.mark.parametrize(("timeout", "ok"), [(None, True), (4, True), (30, True), (3, False), (31, False), (0, False)])
def test_flow_timeout_between_4_and_30_minutes(timeout: int | None, ok: bool) -> None:
    vnet = _vnet(timeout)
    errors = validate_topology(Topology.of(vnets=[vnet]))
    if ok:
        assert errors == []
    else:
        assert [(e.code, e.message, e.target) for e in errors] == [
            (
                "InvalidFlowTimeoutInMinutes",
                f"Virtual network {vnet.id} has invalid flowTimeoutInMinutes. Value provided: {timeout}. "
                "Allowed range 4-30.",
                f"{vnet.id}#properties.flowTimeoutInMinutes",
            )
        ]


def test_dangling_references_name_both_ends() -> None:
    ghost_nsg = network_id(SUB, "rg", "networkSecurityGroups", "ghost")
    ghost_rt = network_id(SUB, "rg", "routeTables", "ghost")
    ghost_subnet = network_id(SUB, "rg", "virtualNetworks", "vnet", "subnets", "ghost")
    ghost_asg = network_id(SUB, "rg", "applicationSecurityGroups", "ghost")
    ghost_nic = network_id(SUB, "rg", "networkInterfaces", "ghost")
    vnet = _vnet(nsg_id=ghost_nsg, route_table=ghost_rt)
    nic_id = network_id(SUB, "rg", "networkInterfaces", "nic")
    cfg = IpConfiguration(f"{nic_id}/ipConfigurations/c", "c", "10.0.0.4", ghost_subnet, "IPv4", (ghost_asg,))
    nic = NetworkInterface(nic_id, "nic", "westus", {}, (cfg,), ghost_nsg)
    vm_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    vm = VirtualMachine(vm_id, "vm", "westus", {}, (nic_id, ghost_nic))
    errors = validate_topology(Topology.of(vnets=[vnet], nics=[nic], vms=[vm]))
    subnet_id = vnet.subnets[0].id
    assert {(e.code, e.message, e.target) for e in errors} == {
        (
            "InvalidResourceReference",
            not_found(ghost_nsg, subnet_id),
            f"{vnet.id}#properties.subnets[0].properties.networkSecurityGroup.id",
        ),
        (
            "InvalidResourceReference",
            not_found(ghost_rt, subnet_id),
            f"{vnet.id}#properties.subnets[0].properties.routeTable.id",
        ),
        (
            "InvalidResourceReference",
            not_found(ghost_nsg, nic_id),
            f"{nic_id}#properties.networkSecurityGroup.id",
        ),
        (
            "InvalidResourceReference",
            not_found(ghost_subnet, nic_id),
            f"{nic_id}#properties.ipConfigurations[0].properties.subnet.id",
        ),
        (
            "InvalidResourceReference",
            not_found(ghost_asg, nic_id),
            f"{nic_id}#properties.ipConfigurations[0].properties.applicationSecurityGroups[0].id",
        ),
        (
            "InvalidResourceReference",
            not_found(ghost_nic, vm_id),
            f"{vm_id}#properties.networkProfile.networkInterfaces[1].id",
        ),
    }


def test_references_resolve_case_insensitively() -> None:
    nsg1 = nsg(rule())
    vnet = _vnet(nsg_id=nsg1.id.upper())
    assert validate_topology(Topology.of(nsgs=[nsg1], vnets=[vnet])) == []


def test_nics_of_one_asg_must_share_a_vnet() -> None:
    topology, ids = _asg_world(2, vnets=2)
    nic0, nic1 = sorted(topology.nics.values(), key=lambda n: n.name)
    moved = replace(
        nic1, ip_configurations=(replace(nic1.ip_configurations[0], application_security_groups=(ids[0],)),)
    )
    errors = validate_topology(topology.with_(nics=[nic0, moved]))
    vnet0, vnet1 = (network_id(SUB, "rg", "virtualNetworks", f"vnet{v}") for v in (0, 1))
    assert [(e.code, e.message, e.target) for e in errors] == [
        (
            "AllNetworkInterfacesInApplicationSecurityGroupMustBeFromSameVnet",
            f"Application security group {ids[0]} has members in multiple virtual networks ({vnet0}, {vnet1}). "
            "All IP configurations of an application security group must be in the same virtual network.",
            ids[0],
        )
    ]


def test_up_to_20_asgs_per_ip_configuration() -> None:
    topology, ids = _asg_world(21)
    nic = next(iter(topology.nics.values()))

    def with_asgs(count: int) -> Topology:
        cfg = replace(nic.ip_configurations[0], application_security_groups=tuple(ids[:count]))
        return topology.with_(nics=[replace(nic, ip_configurations=(cfg,))])

    assert validate_topology(with_asgs(20)) == []
    errors = validate_topology(with_asgs(21))
    cfg_id = nic.ip_configurations[0].id
    assert [(e.code, e.message) for e in errors] == [
        (
            "ApplicationSecurityGroupsPerIpConfigurationLimitReached",
            f"IP configuration {cfg_id} is a member of 21 application security groups. An IP configuration may be a "
            "member of up to 20.",
        )
    ]


def test_up_to_4000_ip_configurations_per_asg() -> None:
    topology, ids = _asg_world(1)
    nic = next(iter(topology.nics.values()))
    template = nic.ip_configurations[0]

    def with_members(count: int) -> Topology:
        """``count`` member IP configurations, on as many NICs as the per-NIC limit needs."""
        per_nic = MAX_IP_CONFIGURATIONS_PER_NIC
        nics = []
        for n in range(0, count, per_nic):
            nic_id = f"{nic.id}-{n}"
            configs = tuple(
                replace(template, id=f"{nic_id}/ipConfigurations/c{i}", name=f"c{i}", private_ip_address=None)
                for i in range(n, min(count, n + per_nic))
            )
            nics.append(replace(nic, id=nic_id, name=f"{nic.name}-{n}", ip_configurations=configs))
        return topology.with_(nics=nics)

    assert validate_topology(with_members(4000)) == []
    assert [(e.code, e.message) for e in validate_topology(with_members(4001))] == [
        (
            "IpConfigurationsPerApplicationSecurityGroupLimitReached",
            f"Application security group {ids[0]} has 4001 IP configurations. An application security group may "
            "have up to 4000.",
        )
    ]


@pytest.mark.parametrize(("kind", "limit"), [("nsgs", 5000), ("asgs", 3000)])
def test_region_limits_per_subscription(kind: str, limit: int) -> None:
    def make(count: int, location: str = "westus", sub: str = SUB) -> list[object]:
        if kind == "nsgs":
            return [
                NetworkSecurityGroup(
                    network_id(sub, "rg", "networkSecurityGroups", f"n{location}{i}"), f"n{i}", location
                )
                for i in range(count)
            ]
        return [
            ApplicationSecurityGroup(
                network_id(sub, "rg", "applicationSecurityGroups", f"a{location}{i}"), f"a{i}", location
            )
            for i in range(count)
        ]

    other_region = make(limit, "eastus")
    other_sub = make(1, "westus", "22222222-2222-2222-2222-222222222222")
    assert validate_topology(Topology.of(**{kind: [*make(limit), *other_region, *other_sub]})) == []  # type: ignore[arg-type]
    errors = validate_topology(Topology.of(**{kind: [*make(limit + 1), *other_region]}))  # type: ignore[arg-type]
    noun = "network security groups" if kind == "nsgs" else "application security groups"
    code = (
        "NetworkSecurityGroupsPerRegionLimitReached"
        if kind == "nsgs"
        else "ApplicationSecurityGroupsPerRegionLimitReached"
    )
    assert [(e.code, e.message) for e in errors] == [
        (
            code,
            f"Subscription {SUB} has {limit + 1} {noun} in region westus. Up to {limit} are allowed per region per "
            "subscription.",
        )
    ]


def test_validate_topology_targets_carry_the_resource_id() -> None:
    bad = nsg(rule(priority=1))
    errors = validate_topology(Topology.of(nsgs=[bad]))
    assert [e.target for e in errors] == [f"{bad.id}#properties.securityRules[0].properties.priority"]


def test_codes_are_unique_constants() -> None:
    values = [v for k, v in vars(Code).items() if k.isupper()]
    assert len(values) == len(set(values))


_FIELD_TEXT = st.text(alphabet="0123456789abcdefABCDEF:./-*, _xyzVirtualNetworkInternet", max_size=24)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.none() | _FIELD_TEXT,
    prefixes=st.lists(_FIELD_TEXT, max_size=3),
    port=st.none() | _FIELD_TEXT,
    ports=st.lists(_FIELD_TEXT, max_size=3),
    priority=st.integers(-10, 70000),
    name=_FIELD_TEXT,
)
def test_any_rule_text_gives_known_codes_and_never_crashes(
    prefix: str | None, prefixes: list[str], port: str | None, ports: list[str], priority: int, name: str
) -> None:
    candidate = rule(
        name,
        priority,
        source_address_prefix=prefix,
        source_address_prefixes=tuple(prefixes),
        destination_port_range=port,
        destination_port_ranges=tuple(ports),
    )
    known = {v for k, v in vars(Code).items() if k.isupper()}
    found = problems(candidate)
    assert {code for code, _, _ in found} <= known
    assert all(target and target.startswith("properties.securityRules[0]") for _, _, target in found)
    if not found:
        assert 100 <= priority <= 4096  # semantics §0: the user rule range
        assert bool(prefix) != bool(prefixes) and bool(port) != bool(ports)


@pytest.mark.parametrize("protocol", [Protocol.ICMP, Protocol.ESP, Protocol.AH])
def test_portless_protocols_with_numeric_ports_are_accepted(protocol: Protocol) -> None:
    assert problems(replace(rule(source_port_range="1000-2000"), protocol=protocol)) == []


def not_found(referenced: str, referrer: str) -> str:
    """ARM's InvalidResourceReference message, as real deployments report it."""
    return (
        f"Resource {referenced} referenced by resource {referrer} was not found. Please make sure that the "
        "referenced resource exists, and that both resources are in the same region."
    )
