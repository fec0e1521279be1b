"""Export: ARM JSON as a GET returns it, and a round trip back to an equal Topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from opennsg.arm import export_topology, load_documents, load_paths, parse_resource, to_arm
from opennsg.model import Subnet, Topology, default_security_rules
from opennsg.model.validation import validate_topology
from strategies import topologies

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILTER = EXAMPLES / "how-nsgs-filter-traffic.json"
THREE_TIER = EXAMPLES / "three-tier.json"


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topologies())
def test_export_then_import_gives_an_equal_topology(topology: Topology) -> None:
    exported = through_json(export_topology(topology))
    assert load_documents([("export", exported)], topology.service_tags, validate=False) == topology
    if not validate_topology(topology):
        assert load_documents([("export", exported)], topology.service_tags) == topology


def test_examples_round_trip() -> None:
    for path in (FILTER, THREE_TIER):
        topology = load_paths([path])
        assert load_documents([("export", through_json(export_topology(topology)))]) == topology


def test_nsg_as_a_get_returns_it() -> None:
    topology = load_paths([FILTER])
    nsg1 = next(n for n in topology.nsgs.values() if n.name == "NSG1")
    body = to_arm(nsg1, topology)
    assert set(body) == {"id", "name", "type", "location", "tags", "properties"}
    assert body["type"] == "Microsoft.Network/networkSecurityGroups"
    props = body["properties"]
    assert props["provisioningState"] == "Succeeded"
    assert props["flushConnection"] is False
    assert [r["name"] for r in props["defaultSecurityRules"]] == [r.name for r in default_security_rules()]
    assert props["defaultSecurityRules"][0]["id"] == f"{nsg1.id}/defaultSecurityRules/AllowVnetInBound"
    assert props["defaultSecurityRules"][0]["type"] == "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
    assert props["subnets"] == [{"id": s.id} for s in topology.subnets_using_nsg(nsg1.id)]
    assert "networkInterfaces" not in props  # NSG1 is on Subnet1 only
    assert "subnets" not in to_arm(nsg1)["properties"]  # no topology, no back-references
    nsg2 = next(n for n in topology.nsgs.values() if n.name == "NSG2")
    assert [r["id"] for r in to_arm(nsg2, topology)["properties"]["networkInterfaces"]] == sorted(
        n.id for n in topology.nics_using_nsg(nsg2.id)
    )


def test_rule_echoes_unused_plural_fields_as_empty_lists() -> None:
    nsg1 = next(n for n in load_paths([FILTER]).nsgs.values() if n.name == "NSG1")
    rule = to_arm(nsg1.security_rules[0])
    assert rule == {
        "id": f"{nsg1.id}/securityRules/Allow-Internet-HTTP-Inbound",
        "name": "Allow-Internet-HTTP-Inbound",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {
            "provisioningState": "Succeeded",
            "description": "Allow HTTP (TCP 80) from the Internet",
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "sourcePortRanges": [],
            "destinationPortRange": "80",
            "destinationPortRanges": [],
            "sourceAddressPrefix": "Internet",
            "sourceAddressPrefixes": [],
            "destinationAddressPrefix": "*",
            "destinationAddressPrefixes": [],
            "access": "Allow",
            "priority": 100,
            "direction": "Inbound",
        },
    }


def test_each_resource_reads_back_through_parse_resource() -> None:
    topology = load_paths([THREE_TIER])
    kinds = [
        ("networkSecurityGroups", topology.nsgs),
        ("applicationSecurityGroups", topology.asgs),
        ("virtualNetworks", topology.vnets),
        ("routeTables", topology.route_tables),
        ("networkInterfaces", topology.nics),
        ("virtualMachines", topology.vms),
        ("publicIPAddresses", topology.public_ips),
    ]
    for kind, collection in kinds:
        for resource in collection.values():
            assert parse_resource(kind, through_json(to_arm(resource)), resource.id) == resource
    for subnet in topology.subnets:
        assert parse_resource("subnets", through_json(to_arm(subnet)), subnet.id) == subnet
    for vnet in topology.vnets.values():
        for peering in vnet.peerings:
            assert parse_resource("virtualNetworkPeerings", through_json(to_arm(peering)), peering.id) == peering
    for nsg in topology.nsgs.values():
        for rule in nsg.security_rules:
            assert parse_resource("securityRules", through_json(to_arm(rule)), rule.id or "") == rule


def test_subnet_prefix_field_follows_the_count() -> None:
    one = to_arm(Subnet("/s/v/subnets/a", "a", ("10.0.0.0/24",)))["properties"]
    two = to_arm(Subnet("/s/v/subnets/b", "b", ("10.0.1.0/24", "fd00::/64")))["properties"]
    assert (one.get("addressPrefix"), one.get("addressPrefixes")) == ("10.0.0.0/24", None)
    assert (two.get("addressPrefix"), two.get("addressPrefixes")) == (None, ["10.0.1.0/24", "fd00::/64"])


def test_subscription_shape() -> None:
    (subscription,) = load_paths([THREE_TIER]).subscriptions.values()
    assert to_arm(subscription) == {
        "id": f"/subscriptions/{subscription.subscription_id}",
        "subscriptionId": subscription.subscription_id,
        "displayName": "Contoso Production",
        "state": "Enabled",
        "subscriptionPolicies": {"quotaId": "EnterpriseAgreement_2014-09-01"},
        "offerType": "EnterpriseAgreement",
        "createdDate": "2019-03-01",
        "smtpExemption": False,
    }
