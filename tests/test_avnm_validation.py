"""Every validation error of AVNM resources and private endpoints (semantics §11, §12), all reported at once."""

from __future__ import annotations

from typing import Any

import pytest
from tests.avnm_arm import (
    COLLECTION,
    CONFIG,
    GROUP,
    NM,
    NSG,
    PE_NIC,
    SUBNET,
    VNET,
    az_collection,
    az_configuration,
    az_deploy_status,
    az_groups,
    az_manager,
    az_members,
    az_nat_and_ip,
    az_nsg,
    az_pe_nic,
    az_private_endpoint,
    az_rule,
    az_vnet,
)

from opennsg.arm import load_documents
from opennsg.model import OpenNsgError
from opennsg.model.errors import ArmError
from opennsg.model.validation import Code


def estate(
    *,
    rules: list[dict[str, Any]] | None = None,
    members: list[dict[str, Any]] | None = None,
    collections: list[dict[str, Any]] | None = None,
    extra: list[Any] | None = None,
    pe_nic: dict[str, Any] | None = None,
) -> list[tuple[str, Any]]:
    return [
        ("nm.json", az_manager()),
        ("groups.json", az_groups()),
        ("members.json", az_members() if members is None else members),
        ("config.json", az_configuration()),
        ("collections.json", [az_collection()] if collections is None else collections),
        ("rules.json", [az_rule("r1", 10)] if rules is None else rules),
        ("vnet.json", az_vnet()),
        ("nsg.json", az_nsg()),
        ("pe.json", az_private_endpoint()),
        ("pe-nic.json", pe_nic or az_pe_nic()),
        ("nat.json", az_nat_and_ip()),
        *(("extra.json", e) for e in extra or []),
    ]


def problems(docs: list[tuple[str, Any]]) -> list[ArmError]:
    with pytest.raises(OpenNsgError) as caught:
        load_documents(docs)
    return caught.value.errors


def codes(docs: list[tuple[str, Any]]) -> list[str]:
    return [p.code for p in problems(docs)]


def test_the_estate_itself_is_valid() -> None:
    topo = load_documents(estate())
    assert len(topo.admin_rules) == 1


@pytest.mark.parametrize("priority", [0, 4097, -1])
def test_admin_rule_priority_outside_1_to_4096(priority: int) -> None:
    (problem,) = problems(estate(rules=[az_rule("r1", priority)]))
    assert problem.code == Code.ADMIN_RULE_INVALID_PRIORITY == "SecurityAdminRuleInvalidPriority"
    assert f"Value provided: {priority} Allowed range 1-4096" in problem.message
    assert problem.target == "rules.json: [0].priority"


@pytest.mark.parametrize("priority", [1, 4096])
def test_admin_rule_priority_bounds_are_valid(priority: int) -> None:
    load_documents(estate(rules=[az_rule("r1", priority)]))


def test_admin_rule_priority_repeated_within_a_collection() -> None:
    (problem,) = problems(estate(rules=[az_rule("a", 10), az_rule("b", 10, direction="Outbound")]))
    assert problem.code == Code.ADMIN_RULE_PRIORITY_CONFLICT
    assert "b conflicts with rule a" in problem.message and problem.target == "rules.json: [1].priority"


def test_same_priority_in_two_collections_is_valid() -> None:
    other = {**az_collection(), "id": f"{CONFIG}/ruleCollections/other", "name": "other"}
    rule = az_rule("b", 10, id=f"{CONFIG}/ruleCollections/other/rules/b")
    load_documents(estate(collections=[az_collection(), other], rules=[az_rule("a", 10), rule]))


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("protocol", "Gre", Code.INVALID_ADMIN_RULE_PROTOCOL),
        ("protocol", "*", Code.INVALID_ADMIN_RULE_PROTOCOL),  # NSG spelling; admin rules say Any
        ("access", "Permit", Code.INVALID_ADMIN_RULE_ACCESS),
        ("direction", "Both", Code.INVALID_ADMIN_RULE_DIRECTION),
        ("kind", "Special", Code.INVALID_ADMIN_RULE_KIND),
    ],
)
def test_unknown_enumeration_values(field: str, value: str, code: str) -> None:
    (problem,) = problems(estate(rules=[az_rule("r1", 10, **{field: value})]))
    assert problem.code == code and f"Value provided: {value}." in problem.message
    assert problem.target == f"rules.json: [0].{field}"


def test_enumerations_are_case_insensitive() -> None:
    topo = load_documents(estate(rules=[az_rule("r1", 10, protocol="any", access="alwaysallow", direction="outbound")]))
    (rule,) = topo.admin_rules.values()
    assert (rule.protocol.value, rule.access.value, rule.direction.value) == ("Any", "AlwaysAllow", "Outbound")


def test_unknown_address_prefix_type() -> None:
    rule = az_rule("r1", 10, sources=[{"addressPrefix": "10.0.0.0/8", "addressPrefixType": "Cidr"}])
    (problem,) = problems(estate(rules=[rule]))
    assert problem.code == Code.INVALID_ADDRESS_PREFIX_TYPE
    assert problem.target == "rules.json: [0].sources[0].addressPrefixType"


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"addressPrefix": "10.0.0.300/24", "addressPrefixType": "IPPrefix"}, Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX),
        ({"addressPrefix": "Internet", "addressPrefixType": "IPPrefix"}, Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX),
        ({"addressPrefix": "NoSuchTag", "addressPrefixType": "ServiceTag"}, Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX),
        ({"addressPrefix": f"{NM}/networkGroups/missing", "addressPrefixType": "NetworkGroup"}, Code.INVALID_REFERENCE),
    ],
)
def test_bad_prefixes(item: dict[str, str], code: str) -> None:
    (problem,) = problems(estate(rules=[az_rule("r1", 10, destinations=[item])]))
    assert problem.code == code and problem.target == "rules.json: [0].destinations[0].addressPrefix"


def test_good_prefixes_of_every_type() -> None:
    sources = [
        {"addressPrefix": "*", "addressPrefixType": "IPPrefix"},
        {"addressPrefix": "192.0.2.7", "addressPrefixType": "IPPrefix"},
        {"addressPrefix": "10.0.0.0/8", "addressPrefixType": "IPPrefix"},
    ]
    destinations = [
        {"addressPrefix": "VirtualNetwork", "addressPrefixType": "ServiceTag"},
        {"addressPrefix": GROUP, "addressPrefixType": "NetworkGroup"},
    ]
    load_documents(estate(rules=[az_rule("r1", 10, sources=sources, destinations=destinations)]))


def test_sources_mixing_address_families() -> None:
    sources = [
        {"addressPrefix": "10.0.0.0/8", "addressPrefixType": "IPPrefix"},
        {"addressPrefix": "2001:db8::/32", "addressPrefixType": "IPPrefix"},
    ]
    (problem,) = problems(estate(rules=[az_rule("r1", 10, sources=sources)]))
    assert problem.code == Code.MIXED_FAMILIES and problem.target == "rules.json: [0].sources"


@pytest.mark.parametrize("port", ["70000", "*", "90-80", "http", ""])
def test_bad_ports(port: str) -> None:
    (problem,) = problems(estate(rules=[az_rule("r1", 10, sourcePortRanges=["1024-65535", port])]))
    assert problem.code == Code.ADMIN_RULE_INVALID_PORT_RANGE
    assert problem.target == "rules.json: [0].sourcePortRanges[1]"


def test_description_longer_than_140() -> None:
    (problem,) = problems(estate(rules=[az_rule("r1", 10, description="x" * 141)]))
    assert problem.code == Code.ADMIN_RULE_DESCRIPTION_TOO_LONG


def test_missing_required_properties_of_an_admin_rule() -> None:
    rule = az_rule("r1", 10)
    for name in ("protocol", "access", "priority", "direction"):
        del rule[name]
    found = problems(estate(rules=[rule]))
    assert {p.code for p in found} == {Code.MISSING_REQUIRED_PROPERTY}
    assert sorted(p.target or "" for p in found) == sorted(
        f"rules.json: [0].{n}" for n in ("protocol", "access", "priority", "direction")
    )


def test_an_admin_rule_without_kind_is_custom() -> None:
    rule = az_rule("r1", 10)
    del rule["kind"]
    (parsed,) = load_documents(estate(rules=[rule])).admin_rules.values()
    assert parsed.kind.value == "Custom"


def test_static_member_of_the_wrong_type() -> None:
    members = az_members()
    members[0]["resourceId"] = SUBNET  # into the VirtualNetwork group
    members[1]["resourceId"] = VNET  # into the Subnet group
    found = problems(estate(members=members))
    assert [p.code for p in found] == [Code.STATIC_MEMBER_TYPE_MISMATCH] * 2
    assert "not a virtual network" in found[0].message and "not a subnet" in found[1].message
    assert found[0].target == "members.json: [0].resourceId"


def test_rule_collection_referring_to_a_missing_group() -> None:
    collection = az_collection()
    collection["appliesToGroups"] = [{"networkGroupId": GROUP}, {"networkGroupId": f"{NM}/networkGroups/nope"}]
    (problem,) = problems(estate(collections=[collection]))
    assert problem.code == Code.RULE_COLLECTION_GROUP_NOT_FOUND
    assert problem.target == "collections.json: [0].appliesToGroups[1].networkGroupId"


def test_rule_collection_referring_to_a_group_of_another_manager() -> None:
    other_nm = {**az_manager(), "id": NM.replace("nm-corp", "nm-other"), "name": "nm-other"}
    other_group = {**az_groups()[0], "id": GROUP.replace("nm-corp", "nm-other")}
    collection = az_collection()
    collection["appliesToGroups"] = [{"networkGroupId": other_group["id"]}]
    (problem,) = problems(estate(collections=[collection], extra=[other_nm, other_group]))
    assert problem.code == Code.RULE_COLLECTION_GROUP_OF_OTHER_MANAGER


def test_two_configurations_of_one_manager_deployed_in_the_same_region() -> None:
    second = {**az_configuration(), "id": f"{NM}/securityAdminConfigurations/second", "name": "second"}
    status = az_deploy_status("westeurope")
    status["value"][0]["configurationIds"] = [CONFIG, second["id"]]
    (problem,) = problems(estate(extra=[second, status]))
    assert problem.code == Code.CONFIGURATIONS_PER_REGION
    assert "2 security admin configurations deployed in region westeurope" in problem.message


def test_two_configurations_in_different_regions_are_valid() -> None:
    second = {**az_configuration(), "id": f"{NM}/securityAdminConfigurations/second", "name": "second"}
    load_documents(
        estate(extra=[second, az_deploy_status("westeurope"), az_deploy_status("eastus", configuration=second["id"])])
    )


def test_nsg_on_a_private_endpoint_nic() -> None:
    (problem,) = problems(estate(pe_nic=az_pe_nic(networkSecurityGroup={"id": NSG})))
    assert problem.code == Code.NSG_ON_PRIVATE_ENDPOINT_NIC and PE_NIC in problem.message
    assert problem.target == "pe-nic.json: networkSecurityGroup.id"


def test_nsg_on_a_nic_known_as_private_endpoint_only_from_the_endpoint() -> None:
    nic = az_pe_nic(networkSecurityGroup={"id": NSG})
    del nic["privateEndpoint"]
    assert codes(estate(pe_nic=nic)) == [Code.NSG_ON_PRIVATE_ENDPOINT_NIC]


@pytest.mark.parametrize(
    ("document", "field", "code"),
    [
        ("groups", "memberType", Code.INVALID_MEMBER_TYPE),
        ("nm", "networkManagerScopeAccesses", Code.INVALID_SCOPE_ACCESS),
        ("config", "applyOnNetworkIntentPolicyBasedServices", Code.INVALID_NETWORK_INTENT_POLICY_SERVICE),
        ("vnet", "privateEndpointNetworkPolicies", Code.INVALID_PRIVATE_ENDPOINT_NETWORK_POLICIES),
    ],
)
def test_unknown_values_of_other_enumerations(document: str, field: str, code: str) -> None:
    docs = estate()
    data = dict(docs)
    if document == "groups":
        data["groups.json"][0][field] = "Everything"
    elif document == "nm":
        data["nm.json"][field] = ["SecurityAdmin", "Everything"]
    elif document == "config":
        data["config.json"][field] = ["Everything"]
    else:
        data["vnet.json"]["subnets"][0][field] = "Everything"
    (problem,) = problems(list(data.items()))
    assert problem.code == code and "Value provided: Everything." in problem.message


def test_children_without_their_parents() -> None:
    docs = [d for d in estate() if d[0] not in ("config.json", "collections.json")]
    found = problems(docs)
    assert [p.code for p in found] == [Code.INVALID_REFERENCE]
    assert COLLECTION in found[0].message


def test_every_problem_at_once_and_nothing_returned() -> None:
    members = az_members()
    members[0]["resourceId"] = SUBNET
    collection = az_collection()
    collection["appliesToGroups"].append({"networkGroupId": f"{NM}/networkGroups/nope"})
    rules = [
        az_rule("a", 0, protocol="Gre", sourcePortRanges=["99999"]),
        az_rule("b", 20, destinations=[{"addressPrefix": "10.0.0.300/24", "addressPrefixType": "IPPrefix"}]),
        az_rule("c", 20),
    ]
    found = codes(
        estate(
            rules=rules, members=members, collections=[collection], pe_nic=az_pe_nic(networkSecurityGroup={"id": NSG})
        )
    )
    assert sorted(found) == sorted(
        [
            Code.INVALID_ADMIN_RULE_PROTOCOL,  # rule a cannot be read, so its other problems wait for a fix
            Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX,
            Code.ADMIN_RULE_PRIORITY_CONFLICT,
            Code.STATIC_MEMBER_TYPE_MISMATCH,
            Code.RULE_COLLECTION_GROUP_NOT_FOUND,
            Code.NSG_ON_PRIVATE_ENDPOINT_NIC,
        ]
    )


def test_readable_rule_reports_priority_and_ports_together() -> None:
    found = codes(estate(rules=[az_rule("a", 0, sourcePortRanges=["99999"])]))
    assert sorted(found) == sorted([Code.ADMIN_RULE_INVALID_PRIORITY, Code.ADMIN_RULE_INVALID_PORT_RANGE])
