"""Import: every JSON shape (ARM, az, lists, subscriptions, directories), file errors, references, all at once."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from opennsg.arm import load_documents, load_paths, parse_resource
from opennsg.model import (
    Access,
    Direction,
    NetworkSecurityGroup,
    OpenNsgError,
    Protocol,
    SecurityRule,
    Subnet,
    default_security_rules,
)

AZ = Path(__file__).parent / "data" / "arm" / "az"
SUB = "9a8b7c6d-0000-4000-8000-123456789abc"
P = f"/subscriptions/{SUB}/resourceGroups/rg-az/providers/Microsoft.Network"
NSG_ID = f"{P}/networkSecurityGroups/nsg-az"


def errors_of(call: Any, *args: Any, **kwargs: Any) -> list[tuple[str, str, str | None]]:
    with pytest.raises(OpenNsgError) as raised:
        call(*args, **kwargs)
    return [(e.code, e.message, e.target) for e in raised.value.errors]


def wrapped_nsg(name: str = "nsg1", rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    nsg_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}"
    return {
        "id": nsg_id,
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westus",
        "properties": {"securityRules": rules if rules is not None else [wrapped_rule(nsg_id)]},
    }


def wrapped_rule(nsg_id: str, name: str = "allow-http", **overrides: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "protocol": "Tcp",
        "sourceAddressPrefix": "Internet",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "80",
        "access": "Allow",
        "priority": 100,
        "direction": "Inbound",
    }
    properties.update(overrides)
    return {"id": f"{nsg_id}/securityRules/{name}", "name": name, "properties": properties}


# --- the az shapes -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def az_topology() -> Any:
    return load_paths([AZ])


def test_az_directory_loads_every_resource(az_topology: Any) -> None:
    t = az_topology
    assert sorted(n.name for n in t.nsgs.values()) == ["nsg-az"]
    assert sorted(n.name for n in t.nics.values()) == ["nva-nic", "vm-az-nic"]
    assert [a.name for a in t.asgs.values()] == ["asg-web"]
    assert [r.name for r in t.route_tables.values()] == ["rt-az"]
    assert [v.name for v in t.vms.values()] == ["vm-az"]
    assert [p.ip_address for p in t.public_ips.values()] == ["203.0.113.50"]


def test_az_nsg_rules_are_flattened_and_normalised(az_topology: Any) -> None:
    nsg = az_topology.nsg(NSG_ID)
    assert nsg.default_security_rules == default_security_rules(nsg.id)
    assert nsg.tags == {"env": "dev"}
    ssh, web = nsg.security_rules
    assert ssh == SecurityRule(
        name="default-allow-ssh",
        priority=1000,
        direction=Direction.INBOUND,
        access=Access.ALLOW,
        protocol=Protocol.TCP,
        source_address_prefix="*",
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="22",
        id=f"{NSG_ID}/securityRules/default-allow-ssh",
    )
    assert (web.protocol, web.access, web.direction) == (Protocol.TCP, Access.ALLOW, Direction.INBOUND)
    assert web.source_address_prefixes == ("198.51.100.0/24", "203.0.113.7")
    assert web.destination_asgs == (f"{P}/applicationSecurityGroups/asg-web",)
    assert web.destination_port_ranges == ("80", "443", "8000-8080")
    assert web.description == "web and admin"


def test_az_vnet_and_separate_subnet_list_merge(az_topology: Any) -> None:
    vnet = az_topology.vnet(f"{P}/virtualNetworks/vnet-az")
    assert vnet.address_space == ("10.20.0.0/16", "fd00:20::/48")
    assert vnet.flow_timeout_in_minutes == 15
    assert [s.name for s in vnet.subnets] == ["default", "backend"]
    assert vnet.subnets[1] == Subnet(
        f"{P}/virtualNetworks/vnet-az/subnets/backend",
        "backend",
        ("10.20.2.0/24", "fd00:20:0:2::/64"),
        None,
        f"{P}/routeTables/rt-az",
    )
    (peering,) = vnet.peerings
    assert peering.remote_address_space == ("10.30.0.0/16",)
    assert peering.connected and peering.remote_virtual_network is not None


def test_az_nic_fields_in_sdk_camel_case(az_topology: Any) -> None:
    nic = az_topology.nic(f"{P}/networkInterfaces/vm-az-nic")
    v4, v6 = nic.ip_configurations
    assert (v4.private_ip_address, v4.primary, v4.public_ip_address) == (
        "10.20.1.4",
        True,
        f"{P}/publicIPAddresses/vm-az-ip",
    )
    assert (v6.private_ip_address, v6.private_ip_address_version) == ("fd00:20::4", "IPv6")
    assert nic.mac_address == "00-0D-3A-5C-7E-91"  # kept as given; the model normalises
    assert nic.normalized_mac == "000D3A5C7E91"
    assert az_topology.nic(f"{P}/networkInterfaces/nva-nic").enable_ip_forwarding is True


def test_az_vm_and_account(az_topology: Any) -> None:
    (vm,) = az_topology.vms.values()
    assert vm.network_interfaces == (f"{P}/networkInterfaces/vm-az-nic",)
    assert vm.primary_network_interface == f"{P}/networkInterfaces/vm-az-nic"
    (sub,) = az_topology.subscriptions.values()
    assert (sub.subscription_id, sub.display_name) == (SUB, "Contoso Dev")


def test_flattened_and_wrapped_shapes_give_the_same_model() -> None:
    flat = json.loads((AZ / "nsg-show.json").read_text())
    wrapped = {
        "id": flat["id"],
        "name": flat["name"],
        "type": flat["type"],
        "location": flat["location"],
        "tags": flat["tags"],
        "properties": {
            "resourceGuid": flat["resourceGuid"],
            "securityRules": [
                {
                    "id": r["id"],
                    "name": r["name"],
                    "properties": {k: v for k, v in r.items() if k not in {"id", "name"}},
                }
                for r in flat["securityRules"]
            ],
        },
    }
    assert load_documents([("wrapped", wrapped)], validate=False) == load_documents([("flat", flat)], validate=False)


def test_property_names_match_case_insensitively() -> None:
    doc = wrapped_nsg()
    rule = doc["properties"]["securityRules"][0]
    rule["Properties"] = {k.upper(): v for k, v in rule.pop("properties").items()}
    doc["PROPERTIES"] = doc.pop("properties")
    (nsg,) = load_documents([("x", doc)]).nsgs.values()
    assert nsg.security_rules[0].destination_port_range == "80"


# --- list shapes, files, directories ----------------------------------------------------------------------------


def test_single_array_and_value_list_shapes_are_equivalent(tmp_path: Path) -> None:
    one, two = wrapped_nsg("a"), wrapped_nsg("b")
    (tmp_path / "a.json").write_text(json.dumps(one))
    sub = tmp_path / "nested" / "deeper"
    sub.mkdir(parents=True)
    (sub / "b.json").write_text(json.dumps([two]))
    (sub / "notes.txt").write_text("not read: only *.json in directories")
    from_dir = load_paths([tmp_path])
    from_list = load_documents([("list", {"value": [one, two], "nextLink": None})])
    from_array = load_documents([("array", [one, two])])
    assert from_dir == from_list == from_array
    assert sorted(n.name for n in from_dir.nsgs.values()) == ["a", "b"]


def test_resources_of_unmodelled_types_are_skipped(az_topology: Any) -> None:
    storage = json.loads((AZ / "storage-account.json").read_text())
    assert load_documents([("s", storage)]).nsgs == {}


def test_a_resource_without_an_id_gets_a_placeholder_one() -> None:
    doc = wrapped_nsg()
    del doc["id"]
    doc["properties"]["securityRules"][0].pop("id")
    (nsg,) = load_documents([("x", doc)]).nsgs.values()
    assert nsg.id == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/opennsg-template/providers/"
        "Microsoft.Network/networkSecurityGroups/nsg1"
    )
    assert nsg.security_rules[0].id == f"{nsg.id}/securityRules/allow-http"


def test_subscription_get_shape() -> None:
    doc = {
        "id": f"/subscriptions/{SUB}",
        "subscriptionId": SUB,
        "displayName": "Contoso",
        "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "MSDN_2014-09-01"},
        "offerType": "EnterpriseDevTest",
        "createdDate": "2016-05-04T10:00:00Z",
        "smtpExemption": True,
    }
    (sub,) = load_documents([("s", doc)]).subscriptions.values()
    assert (sub.quota_id, sub.offer_type, sub.created_date, sub.smtp_exemption) == (
        "MSDN_2014-09-01",
        "EnterpriseDevTest",
        date(2016, 5, 4),
        True,
    )


# --- default rules ----------------------------------------------------------------------------------------------


def test_default_rules_are_recognised_never_duplicated_and_given_when_absent() -> None:
    flat = json.loads((AZ / "nsg-show.json").read_text())
    with_defaults = load_documents([("x", flat)], validate=False).nsg(NSG_ID)
    flat.pop("defaultSecurityRules")
    without = load_documents([("x", flat)], validate=False).nsg(NSG_ID)
    assert with_defaults == without
    assert len(with_defaults.default_security_rules) == 6


def test_default_rules_are_read_only() -> None:
    flat = json.loads((AZ / "nsg-show.json").read_text())
    flat["defaultSecurityRules"][2]["access"] = "Allow"
    flat["defaultSecurityRules"].append({**flat["defaultSecurityRules"][0], "name": "MyExtraDefault"})
    asgs = json.loads((AZ / "asg-list.json").read_text())
    found = errors_of(load_documents, [("nsg.json", flat), ("asgs.json", asgs)])
    assert found == [
        (
            "DefaultSecurityRuleReadOnly",
            f"Default security rule DenyAllInBound of network security group {NSG_ID} is read-only and cannot be "
            "changed.",
            "nsg.json: defaultSecurityRules[2]",
        ),
        (
            "DefaultSecurityRuleReadOnly",
            f"Default security rule MyExtraDefault of network security group {NSG_ID} is read-only and cannot be "
            "changed.",
            "nsg.json: defaultSecurityRules[6]",
        ),
    ]


def test_a_user_rule_named_like_a_default_rule_stays_a_user_rule() -> None:
    doc = wrapped_nsg()
    doc["properties"]["securityRules"][0]["name"] = "DenyAllInBound"
    doc["properties"]["securityRules"][0]["id"] = doc["id"] + "/securityRules/DenyAllInBound"
    (nsg,) = load_documents([("x", doc)]).nsgs.values()
    assert [(r.name, r.is_default, r.priority) for r in nsg.security_rules] == [("DenyAllInBound", False, 100)]
    assert len(nsg.default_security_rules) == 6


def test_a_user_rule_cannot_take_a_default_rule_priority() -> None:
    doc = wrapped_nsg()
    doc["properties"]["securityRules"][0]["properties"]["priority"] = 65500
    assert [c for c, _, _ in errors_of(load_documents, [("x", doc)])] == ["SecurityRuleInvalidPriority"]


# --- reading errors ------------------------------------------------------------------------------------------------


def test_missing_required_rule_properties_name_their_path() -> None:
    doc = wrapped_nsg()
    props = doc["properties"]["securityRules"][0]["properties"]
    for key in ("protocol", "access", "priority", "direction"):
        del props[key]
    found = errors_of(load_documents, [("f.json", doc)])
    assert [(c, t) for c, _, t in found] == [
        ("MissingRequiredProperty", f"f.json: properties.securityRules[0].properties.{key}")
        for key in ("protocol", "access", "direction", "priority")
    ]
    assert (
        found[0][1] == "Required property 'protocol' is missing. Path properties.securityRules[0].properties.protocol."
    )


def test_invalid_enum_values_and_types() -> None:
    doc = wrapped_nsg()
    rule_id = doc["properties"]["securityRules"][0]["id"]
    doc["properties"]["securityRules"][0]["properties"].update(
        {"protocol": "Gre", "access": "Permit", "direction": "Sideways", "priority": "one hundred"}
    )
    found = errors_of(load_documents, [("f.json", doc)])
    assert found == [
        (
            "SecurityRuleInvalidProtocol",
            f"Security rule {rule_id} has invalid Protocol. Value provided: Gre. Allowed values: Tcp, Udp, Icmp, Esp, "
            "*, Ah.",
            "f.json: properties.securityRules[0].properties.protocol",
        ),
        (
            "SecurityRuleInvalidAccess",
            f"Security rule {rule_id} has invalid Access. Value provided: Permit. Allowed values: Allow, Deny.",
            "f.json: properties.securityRules[0].properties.access",
        ),
        (
            "SecurityRuleInvalidDirection",
            f"Security rule {rule_id} has invalid Direction. Value provided: Sideways. Allowed values: Inbound, "
            "Outbound.",
            "f.json: properties.securityRules[0].properties.direction",
        ),
        (
            "InvalidRequestFormat",
            "Property 'priority' must be an integer. Path properties.securityRules[0].properties.priority. "
            "Value provided: one hundred.",
            "f.json: properties.securityRules[0].properties.priority",
        ),
    ]


def test_reference_without_id() -> None:
    doc = wrapped_nsg()
    props = doc["properties"]["securityRules"][0]["properties"]
    del props["sourceAddressPrefix"]
    props["sourceApplicationSecurityGroups"] = [{}]
    found = errors_of(load_documents, [("f.json", doc)])
    path = "properties.securityRules[0].properties.sourceApplicationSecurityGroups[0]"
    assert found[0] == ("MissingJsonReferenceId", f"Value for reference id is missing. Path {path}.", f"f.json: {path}")


def test_malformed_json_names_file_and_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "id": "x",\n  "name": \n}\n')
    assert errors_of(load_paths, [bad]) == [
        ("InvalidJson", f"{bad} is not valid JSON: Expecting value at line 4, column 1.", f"{bad}:4:1")
    ]


def test_non_json_empty_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    missing = tmp_path / "missing.json"
    found = errors_of(load_paths, [binary, empty, text, missing])
    assert found == [
        ("InvalidJson", f"{binary} is not valid JSON: not UTF-8 text (byte 0 is 0x89).", str(binary)),
        ("InvalidJson", f"{empty} is empty; expected a JSON document.", str(empty)),
        ("InvalidJson", f"{text} is not valid JSON: Expecting value at line 1, column 1.", f"{text}:1:1"),
        ("FileNotFound", f"{missing} does not exist.", str(missing)),
    ]


def test_a_document_of_the_wrong_kind() -> None:
    assert [c for c, _, _ in errors_of(load_documents, [("n", 42)])] == ["InvalidRequestFormat"]
    found = errors_of(load_documents, [("n", [{"name": "x"}])])
    assert found == [
        (
            "InvalidRequestFormat",
            "Cannot tell the resource type at [0]: it has neither a 'type' nor an ARM 'id'.",
            "n: [0]",
        )
    ]


# --- references, duplicates, all problems at once ---------------------------------------------------------------------


def test_dangling_references_name_both_ends_and_the_file() -> None:
    vnet = json.loads((AZ / "vnet-show.json").read_text())
    found = errors_of(load_documents, [("vnet.json", vnet)])
    subnet_id = f"{P}/virtualNetworks/vnet-az/subnets/default"
    assert found == [
        (
            "InvalidResourceReference",
            not_found(NSG_ID, subnet_id),
            "vnet.json: subnets[0].networkSecurityGroup.id",
        )
    ]


def test_a_child_without_its_parent() -> None:
    subnets = json.loads((AZ / "subnet-list.json").read_text())
    found = errors_of(load_documents, [("subnets.json", subnets[1:])])
    assert found == [
        (
            "InvalidResourceReference",
            not_found(f"{P}/virtualNetworks/vnet-az", f"{P}/virtualNetworks/vnet-az/subnets/backend"),
            "subnets.json: [0]",
        )
    ]


def test_the_same_resource_twice_must_agree() -> None:
    one = wrapped_nsg()
    assert load_documents([("a", one), ("b", copy.deepcopy(one))]).nsgs
    other = copy.deepcopy(one)
    other["properties"]["securityRules"][0]["properties"]["priority"] = 200
    found = errors_of(load_documents, [("a.json", one), ("b.json", other)])
    assert found == [
        (
            "ConflictingResourceDefinitions",
            f"Resource {one['id']} is defined more than once with different content (a.json and b.json).",
            "b.json",
        )
    ]


def test_separate_rule_resources_merge_into_their_nsg() -> None:
    nsg = wrapped_nsg(rules=[])
    rule = wrapped_rule(nsg["id"], "r2", priority=300)
    rule["type"] = "Microsoft.Network/networkSecurityGroups/securityRules"
    (loaded,) = load_documents([("nsg", nsg), ("rule", rule)]).nsgs.values()
    assert [r.name for r in loaded.security_rules] == ["r2"]


def test_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{")
    doc = wrapped_nsg()
    doc["properties"]["securityRules"][0]["properties"].update({"priority": 5, "destinationPortRange": "x"})
    (tmp_path / "b.json").write_text(json.dumps(doc))
    (tmp_path / "c.json").write_text(json.dumps(json.loads((AZ / "vnet-show.json").read_text())))
    found = errors_of(load_paths, [tmp_path])
    assert [(c, t.split(": ")[-1] if t else t) for c, _, t in found] == [
        ("InvalidJson", f"{tmp_path / 'a.json'}:1:2"),
        ("SecurityRuleInvalidPriority", "properties.securityRules[0].properties.priority"),
        ("SecurityRuleInvalidPortRange", "properties.securityRules[0].properties.destinationPortRange"),
        ("InvalidResourceReference", "subnets[0].networkSecurityGroup.id"),
    ]
    assert found[1][2] == f"{tmp_path / 'b.json'}: properties.securityRules[0].properties.priority"


def test_validation_can_be_deferred() -> None:
    doc = wrapped_nsg()
    doc["properties"]["securityRules"][0]["properties"]["priority"] = 5
    (nsg,) = load_documents([("x", doc)], validate=False).nsgs.values()
    assert nsg.security_rules[0].priority == 5


def test_service_tags_are_attached_and_used_by_validation() -> None:
    from opennsg.model import ServiceTag, ServiceTags

    tags = ServiceTags.of([ServiceTag("Storage", ("20.60.0.0/16",), ("NSG",))])
    doc = wrapped_nsg()
    doc["properties"]["securityRules"][0]["properties"]["destinationAddressPrefix"] = "Storage"
    assert load_documents([("x", doc)], tags).service_tags is tags
    assert [c for c, _, _ in errors_of(load_documents, [("x", doc)])] == ["SecurityRuleInvalidAddressPrefix"]


# --- parse_resource ---


def test_parse_resource_reads_one_resource_of_each_kind() -> None:
    nsg_body = wrapped_nsg()
    nsg = parse_resource("networkSecurityGroups", nsg_body, nsg_body["id"])
    assert isinstance(nsg, NetworkSecurityGroup) and len(nsg.default_security_rules) == 6
    rule_body = wrapped_rule(nsg_body["id"], "r9")
    rule = parse_resource("securityRules", {"properties": rule_body["properties"]}, rule_body["id"])
    assert isinstance(rule, SecurityRule) and (rule.name, rule.id) == ("r9", rule_body["id"])
    subnet = parse_resource(
        "subnets", {"properties": {"addressPrefix": "10.0.0.0/24"}}, f"{P}/virtualNetworks/v/subnets/s1"
    )
    assert subnet == Subnet(f"{P}/virtualNetworks/v/subnets/s1", "s1", ("10.0.0.0/24",))


def test_parse_resource_errors() -> None:
    assert errors_of(parse_resource, "applicationGateways", {}, "/x")[0][0] == "UnsupportedResourceType"
    found = errors_of(parse_resource, "SECURITYRULES", {"properties": {"protocol": "Tcp"}}, f"{NSG_ID}/securityRules/r")
    assert [t for _, _, t in found] == ["properties.access", "properties.direction", "properties.priority"]


def test_separate_default_rules_peerings_and_routes() -> None:
    """``az network nsg rule list --include-default``, ``vnet peering list`` and ``route-table route list``."""
    nsg = json.loads((AZ / "nsg-show.json").read_text())
    defaults = nsg.pop("defaultSecurityRules")
    vnet = json.loads((AZ / "vnet-show.json").read_text())
    peerings = vnet.pop("virtualNetworkPeerings")
    table = json.loads((AZ / "route-table-show.json").read_text())
    routes = table.pop("routes")
    names = ("nic-list.json", "asg-list.json", "public-ip-show.json", "subnet-list.json")
    rest = [json.loads((AZ / name).read_text()) for name in names]
    docs = [("nsg", nsg), ("defaults", defaults), ("vnet", vnet), ("peerings", peerings)]
    docs += [("rt", table), ("routes", routes), *((f"rest{i}", d) for i, d in enumerate(rest))]
    separate = load_documents(docs)
    together = load_paths([AZ])
    assert separate.nsgs == together.nsgs
    assert separate.vnets[next(iter(separate.vnets))].peerings == together.vnets[next(iter(together.vnets))].peerings
    assert separate.route_tables == together.route_tables


def test_a_changed_separate_default_rule_is_refused() -> None:
    nsg = json.loads((AZ / "nsg-show.json").read_text())
    defaults = nsg.pop("defaultSecurityRules")
    defaults[0]["priority"] = 100
    asgs = json.loads((AZ / "asg-list.json").read_text())
    found = errors_of(load_documents, [("nsg", nsg), ("defaults.json", defaults), ("asgs", asgs)])
    assert [(c, t) for c, _, t in found] == [("DefaultSecurityRuleReadOnly", "defaults.json: [0]")]


def test_vm_without_a_primary_flag_has_no_primary_nic() -> None:
    vm = json.loads((AZ / "vm-show.json").read_text())
    vm["networkProfile"]["networkInterfaces"][0].pop("primary")
    (loaded,) = load_documents([("vm", vm)], validate=False).vms.values()
    assert loaded.primary_network_interface is None
    assert loaded.network_interfaces == (f"{P}/networkInterfaces/vm-az-nic",)


def test_a_rule_naming_a_missing_asg_points_into_the_az_file() -> None:
    nsg = json.loads((AZ / "nsg-show.json").read_text())
    found = errors_of(load_documents, [("nsg.json", nsg)])
    rule_id = f"{NSG_ID}/securityRules/allow-web"
    assert found == [
        (
            "InvalidResourceReference",
            not_found(f"{P}/applicationSecurityGroups/asg-web", rule_id),
            "nsg.json: securityRules[1].destinationApplicationSecurityGroups[0].id",
        )
    ]


def test_nic_and_vm_references_point_into_their_files() -> None:
    nics = json.loads((AZ / "nic-list.json").read_text())
    vm = json.loads((AZ / "vm-show.json").read_text())
    vm["networkProfile"]["networkInterfaces"][0]["id"] = f"{P}/networkInterfaces/ghost"
    found = errors_of(load_documents, [("nics.json", nics[1:]), ("vm.json", vm)])
    assert [(c, t) for c, _, t in found] == [
        ("InvalidResourceReference", "nics.json: [0].ipConfigurations[0].subnet.id"),
        ("InvalidResourceReference", "vm.json: networkProfile.networkInterfaces[0].id"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_text_encodings_az_output_comes_in(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "asgs.json"
    path.write_text((AZ / "asg-list.json").read_text(), encoding=encoding)
    assert [a.name for a in load_paths([path]).asgs.values()] == ["asg-web"]


def not_found(referenced: str, referrer: str) -> str:
    """ARM's InvalidResourceReference message, as real deployments report it."""
    return (
        f"Resource {referenced} referenced by resource {referrer} was not found. Please make sure that the "
        "referenced resource exists, and that both resources are in the same region."
    )
