"""Engine lookups, errors, detail traces, VM-to-VM paths, effective rules, security group view and diagnostics."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import World, rule
from netwatcher import diagnose_json, effective_json, security_group_view_json
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import OpenNsgError, ServiceTag, ServiceTags

WEB, APP = "10.0.1.4", "10.0.2.4"


def three_tier() -> tuple[Engine, dict[str, str]]:
    """web (subnet NSG + NIC NSG, ASG web) and app (subnet NSG allowing web→app:8080 by ASG)."""
    world = World()
    web_asg = world.asg("asg-web")
    world.asg("asg-empty")
    app_asg = world.asg("asg-app")
    web_nsg = world.nsg(
        "web-nsg",
        rule("allow-https", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("deny-ssh-out", 110, "Outbound", "Deny", "Tcp", "*", "*", "22"),
    )
    nic_nsg = world.nsg("web-nic-nsg", rule("allow-rdp", 300, "Inbound", "Allow", "Tcp", "10.0.0.5/24", "*", "3389"))
    app_nsg = world.nsg(
        "app-nsg",
        rule(
            "allow-web",
            100,
            "Inbound",
            "Allow",
            "Tcp",
            "*",
            "*",
            "8080",
            source_asgs=(web_asg,),
            destination_asgs=(app_asg,),
        ),
        rule("deny-vnet", 200, "Inbound", "Deny", "*", "VirtualNetwork", "VirtualNetwork"),
        rule("storage", 300, "Outbound", "Allow", "Tcp", "*", "Storage", ("443", "10000-10005")),
    )
    web_subnet = world.subnet("web", "10.0.1.0/24", nsg=web_nsg)
    app_subnet = world.subnet("app", "10.0.2.0/24", nsg=app_nsg)
    ids = {
        "web": world.nic("web", web_subnet, WEB, nsg=nic_nsg, asgs=(web_asg,)),
        "app": world.nic("app", app_subnet, APP, asgs=(app_asg,)),
        "web_nsg": web_nsg,
        "app_nsg": app_nsg,
        "web_subnet": web_subnet,
        "nic_nsg": nic_nsg,
    }
    tags = ServiceTags.of([ServiceTag("Storage", ("20.60.0.0/16",), ("NSG",))])
    return Engine(world.topology(service_tags=tags)), ids


# --- lookups and errors -------------------------------------------------------------------------------


def test_lookup_by_name_id_and_vm() -> None:
    engine, ids = three_tier()
    assert engine.nic("web").id == ids["web"]
    assert engine.nic(ids["web"].upper()).id == ids["web"]
    assert engine.nic("vm-web").id == ids["web"]
    assert engine.policy("web") is engine.policy(ids["web"])  # cached


def test_unknown_nic_is_an_error() -> None:
    engine, _ = three_tier()
    with pytest.raises(OpenNsgError) as caught:
        engine.nic("nope")
    assert caught.value.errors[0].code == "NetworkInterfaceNotFound"


def test_local_ip_must_belong_to_the_nic_and_families_must_agree() -> None:
    engine, _ = three_tier()
    with pytest.raises(OpenNsgError) as caught:
        engine.verify("web", Flow.make("Inbound", "TCP", APP, 443, "fd00::9", 5000))
    assert [e.code for e in caught.value.errors] == ["IpAddressNotOnNetworkInterface", "AddressFamilyMismatch"]


def test_for_nic_ip() -> None:
    engine, ids = three_tier()
    found = engine.for_nic_ip(APP)
    assert found is not None and found.id == ids["app"]
    assert engine.for_nic_ip("10.9.9.9") is None
    with pytest.raises(OpenNsgError):
        engine.for_nic_ip("not-an-ip")


def test_unknown_tag_in_a_rule_is_reported() -> None:
    world = World()
    nsg = world.nsg(
        "nsg", rule("bad", 100, "Inbound", "Allow", "*", "NoSuchTag"), rule("bad2", 101, "Inbound", "Allow", "*", "Sql")
    )
    world.nic("nic", world.subnet("s", "10.0.1.0/24", nsg=nsg), WEB)
    with pytest.raises(OpenNsgError) as caught:
        Engine(world.topology()).policy("nic")
    assert [e.code for e in caught.value.errors] == ["SecurityRuleInvalidAddressPrefix"] * 2


def test_service_tag_without_nsg_feature_is_not_usable() -> None:
    world = World()
    nsg = world.nsg("nsg", rule("api-only", 100, "Outbound", "Allow", "*", "*", "ApiOnly"))
    world.nic("nic", world.subnet("s", "10.0.1.0/24", nsg=nsg), WEB)
    tags = ServiceTags.of([ServiceTag("ApiOnly", ("8.8.8.0/24",), ("API",))])
    with pytest.raises(OpenNsgError):
        Engine(world.topology(service_tags=tags)).policy("nic")


# --- verdicts and traces ------------------------------------------------------------------------------


def test_detail_lists_rules_up_to_the_matched_one() -> None:
    engine, ids = three_tier()
    verdict = engine.verify("web", Flow.make("Inbound", "TCP", WEB, 3389, "10.0.0.77", 5000), detail=True)
    assert verdict.access.value == "Allow" and verdict.rule_name == "securityRules/allow-rdp"
    subnet_step, nic_step = verdict.trace
    assert (subnet_step.nsg_id, subnet_step.association, subnet_step.applied_to) == (
        ids["web_nsg"],
        "subnet",
        ids["web_subnet"],
    )
    assert [r.rule.name for r in subnet_step.rule_results] == ["allow-https", "AllowVnetInBound"]
    first = subnet_step.rule_results[0]
    assert (first.protocol_matched, first.source_matched, first.destination_port_matched) == (True, False, False)
    assert subnet_step.rule_results[-1].matched
    assert [r.rule.name for r in nic_step.rule_results] == ["allow-rdp"]
    assert verdict.log_rule_name == "UserRule_allow-rdp"


def test_asg_rules_match_member_addresses_only() -> None:
    engine, _ = three_tier()
    allowed = engine.verify("app", Flow.make("Inbound", "TCP", APP, 8080, WEB, 40000))
    assert allowed.rule_name == "securityRules/allow-web"
    other = engine.verify("app", Flow.make("Inbound", "TCP", APP, 8080, "10.0.1.99", 40000))
    assert other.rule_name == "securityRules/deny-vnet"


def test_service_tag_and_augmented_ports() -> None:
    engine, _ = three_tier()
    for port, expected in (
        (443, "securityRules/storage"),
        (10005, "securityRules/storage"),
        (10006, "defaultSecurityRules/AllowInternetOutBound"),
    ):
        verdict = engine.verify("app", Flow.make("Outbound", "TCP", APP, 40000, "20.60.3.4", port))
        assert verdict.rule_name == expected, port


# --- VM to VM -----------------------------------------------------------------------------------------


def test_path_allowed_reports_destination_rule() -> None:
    engine, ids = three_tier()
    path = engine.verify_path("web", "app", "TCP", WEB, 40000, APP, 8080)
    assert path.allowed and path.decided_by == "destination"
    assert (path.rule_name, path.nsg_id) == ("securityRules/allow-web", ids["app_nsg"])
    assert path.outbound.rule_name == "defaultSecurityRules/AllowVnetOutBound"


def test_path_denied_at_source_and_at_destination() -> None:
    engine, ids = three_tier()
    ssh = engine.verify_path("web", "app", "TCP", None, 40000, None, 22)
    assert (ssh.access.value, ssh.decided_by, ssh.rule_name) == ("Deny", "source", "securityRules/deny-ssh-out")
    other_port = engine.verify_path("web", "app", "TCP", WEB, 40000, APP, 9000)
    assert (other_port.access.value, other_port.decided_by, other_port.nsg_id) == (
        "Deny",
        "destination",
        ids["app_nsg"],
    )
    assert other_port.rule_name == "securityRules/deny-vnet"
    assert other_port.outbound.allowed


def test_path_without_any_nsg() -> None:
    world = World()
    subnet = world.subnet("s", "10.0.1.0/24")
    world.nic("a", subnet, "10.0.1.4")
    world.nic("b", subnet, "10.0.1.5")
    path = Engine(world.topology()).verify_path("a", "b", "UDP", None, 1, None, 2)
    assert (path.access.value, path.rule_name, path.decided_by) == ("Allow", None, None)


# --- effective rules ------------------------------------------------------------------------------------


def _rules_by_name(group: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in group["effectiveSecurityRules"]}


def test_effective_rules_shape() -> None:
    engine, ids = three_tier()
    groups = effective_json(engine, "web")
    assert [g["networkSecurityGroup"]["id"] for g in groups] == [ids["web_nsg"], ids["nic_nsg"]]
    assert groups[0]["association"] == {"subnet": {"id": ids["web_subnet"]}}
    assert groups[1]["association"] == {"networkInterface": {"id": ids["web"]}}
    subnet_rules = _rules_by_name(groups[0])
    assert len(subnet_rules) == 2 + 6
    https = subnet_rules["securityRules/allow-https"]
    assert https["protocol"] == "Tcp"
    assert (https["sourcePortRange"], https["destinationPortRange"]) == ("0-65535", "443-443")
    assert (https["sourceAddressPrefix"], https["destinationAddressPrefix"]) == ("Internet", "0.0.0.0/0")
    assert (
        "10.0.0.0/8" not in https["expandedSourceAddressPrefix"] and "1.0.0.0/8" in https["expandedSourceAddressPrefix"]
    )
    assert https["expandedDestinationAddressPrefix"] == []
    assert (https["access"], https["priority"], https["direction"]) == ("Allow", 100, "Inbound")
    vnet_in = subnet_rules["defaultSecurityRules/AllowVnetInBound"]
    assert vnet_in["protocol"] == "All"
    assert set(vnet_in["expandedSourceAddressPrefix"]) >= {"10.0.0.0/16", "168.63.129.16/32", "fd00::/48"}
    assert set(groups[0]["tagMap"]) == {"Internet", "VirtualNetwork", "AzureLoadBalancer"}
    assert groups[0]["tagMap"]["AzureLoadBalancer"] == ["168.63.129.16/32"]
    rdp = _rules_by_name(groups[1])["securityRules/allow-rdp"]
    assert rdp["sourceAddressPrefix"] == "10.0.0.0/24"  # host bits cleared


def test_effective_rules_asgs_and_augmented() -> None:
    engine, _ = three_tier()
    (group,) = effective_json(engine, "app")
    rules = _rules_by_name(group)
    web = rules["securityRules/allow-web"]
    assert web["expandedSourceAddressPrefix"] == [f"{WEB}/32"]
    assert web["expandedDestinationAddressPrefix"] == [f"{APP}/32"]
    assert web["sourceApplicationSecurityGroups"][0]["id"].endswith("asg-web")
    storage = rules["securityRules/storage"]
    assert storage["destinationPortRanges"] == ["443-443", "10000-10005"] and "destinationPortRange" not in storage
    assert storage["expandedDestinationAddressPrefix"] == ["20.60.0.0/16"]


def test_security_group_view() -> None:
    engine, ids = three_tier()
    view = security_group_view_json(engine, "vm-web")
    (interface,) = view["networkInterfaces"]
    associations = interface["securityRuleAssociations"]
    assert interface["id"] == ids["web"]
    assert associations["networkInterfaceAssociation"]["id"] == ids["web"]
    assert [r["name"] for r in associations["networkInterfaceAssociation"]["securityRules"]] == ["allow-rdp"]
    assert associations["subnetAssociation"]["id"] == ids["web_subnet"]
    assert [r["name"] for r in associations["defaultSecurityRules"]][:3] == [
        "AllowVnetInBound",
        "AllowAzureLoadBalancerInBound",
        "DenyAllInBound",
    ]
    assert len(associations["effectiveSecurityRules"]) == 1 + 2 + 2 * 6


# --- diagnostics ----------------------------------------------------------------------------------------


def _profile(**overrides: str) -> dict[str, str]:
    base = {
        "direction": "Inbound",
        "protocol": "TCP",
        "source": "52.1.2.3",
        "destination": WEB,
        "destinationPort": "443",
    }
    return {**base, **overrides}


def test_diagnostics_shape_and_names() -> None:
    engine, ids = three_tier()
    result = diagnose_json(engine, "web", _profile())
    assert result["profile"] == _profile()
    nsg_result = result["networkSecurityGroupResult"]
    assert nsg_result["securityRuleAccessResult"] == "Deny"  # NIC NSG has no HTTPS allow
    subnet_group, nic_group = nsg_result["evaluatedNetworkSecurityGroups"]
    assert (subnet_group["networkSecurityGroupId"], subnet_group["appliedTo"]) == (ids["web_nsg"], ids["web_subnet"])
    assert subnet_group["matchedRule"] == {"ruleName": "UserRule_allow-https", "action": "Allow"}
    assert nic_group["matchedRule"] == {"ruleName": "DefaultRule_DenyAllInBound", "action": "Deny"}
    assert [r["name"] for r in nic_group["rulesEvaluationResult"]] == [
        "UserRule_allow-rdp",
        "DefaultRule_AllowVnetInBound",
        "DefaultRule_AllowAzureLoadBalancerInBound",
        "DefaultRule_DenyAllInBound",
    ]
    assert set(nic_group["rulesEvaluationResult"][0]) == {
        "name",
        "protocolMatched",
        "sourceMatched",
        "sourcePortMatched",
        "destinationMatched",
        "destinationPortMatched",
    }


def test_diagnostics_sets_match_only_when_covered() -> None:
    engine, _ = three_tier()
    # '*' source is wider than Internet: allow-https does not decide it, the default deny does.
    wide = diagnose_json(engine, "web", _profile(source="*"))["networkSecurityGroupResult"]
    assert wide["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"] == "DefaultRule_DenyAllInBound"
    # A tag profile inside the rule's tag is covered.
    vnet = diagnose_json(engine, "web", _profile(source="10.0.0.0/24", destinationPort="3389"))[
        "networkSecurityGroupResult"
    ]
    assert vnet["securityRuleAccessResult"] == "Allow"
    assert vnet["evaluatedNetworkSecurityGroups"][1]["matchedRule"]["ruleName"] == "UserRule_allow-rdp"
    icmp = diagnose_json(
        engine, "app", _profile(protocol="ICMP", source="VirtualNetwork", destination=APP, destinationPort="*")
    )
    assert (
        icmp["networkSecurityGroupResult"]["evaluatedNetworkSecurityGroups"][0]["matchedRule"]["ruleName"]
        == "UserRule_deny-vnet"
    )


def test_diagnostics_platform_rule() -> None:
    engine, _ = three_tier()
    result = diagnose_json(
        engine,
        "app",
        _profile(direction="Outbound", source=APP, destination="168.63.129.16", protocol="UDP", destinationPort="53"),
    )
    assert result["networkSecurityGroupResult"]["securityRuleAccessResult"] == "Allow"
    assert result["networkSecurityGroupResult"]["platformRule"] == "PlatformRule_AzurePlatformDNS"


def test_diagnostics_reports_every_bad_field() -> None:
    engine, _ = three_tier()
    with pytest.raises(OpenNsgError) as caught:
        diagnose_json(
            engine, "web", _profile(direction="Sideways", protocol="GRE", source="NoSuchTag", destinationPort="1-2")
        )
    assert {e.target for e in caught.value.errors} == {"direction", "protocol", "source", "destinationPort"}
    with pytest.raises(OpenNsgError) as missing:
        diagnose_json(engine, "web", {"direction": "Inbound"})
    assert {e.code for e in missing.value.errors} == {"MissingRequiredProperty"}


def test_dangling_references_are_reported_together() -> None:
    world = World()
    ghost_asg = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/ghost"
    nsg = world.nsg("nsg", rule("to-ghost", 100, "Inbound", "Allow", "*", "*", destination_asgs=(ghost_asg,)))
    subnet = world.subnet("s", "10.0.1.0/24", nsg=nsg)
    world.nic(
        "nic",
        subnet,
        WEB,
        nsg="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/gone",
    )
    with pytest.raises(OpenNsgError) as caught:
        Engine(world.topology()).policy("nic")
    assert [e.code for e in caught.value.errors] == ["InvalidResourceReference", "InvalidResourceReference"]
    assert any("ghost" in e.message for e in caught.value.errors) and any(
        "gone" in e.message for e in caught.value.errors
    )


def test_empty_asg_matches_nothing() -> None:
    world = World()
    empty = world.asg("empty")
    nsg = world.nsg("nsg", rule("deny-empty", 100, "Inbound", "Deny", "*", "*", source_asgs=(empty,)))
    world.nic("nic", world.subnet("s", "10.0.1.0/24", nsg=nsg), WEB)
    verdict = Engine(world.topology()).verify("nic", Flow.make("Inbound", "TCP", WEB, 22, "10.0.1.9", 5000))
    assert verdict.rule_name == "defaultSecurityRules/AllowVnetInBound"


def test_security_group_view_of_a_nic_without_nsg() -> None:
    engine, ids = three_tier()
    view = security_group_view_json(engine, ids["app"])
    (interface,) = view["networkInterfaces"]
    associations = interface["securityRuleAssociations"]
    assert "networkInterfaceAssociation" not in associations
    assert [r["name"] for r in associations["subnetAssociation"]["securityRules"]] == [
        "allow-web",
        "deny-vnet",
        "storage",
    ]


def test_rule_with_several_asgs_matches_members_of_any() -> None:
    world = World()
    first, second = world.asg("first"), world.asg("second")
    nsg = world.nsg("nsg", rule("from-both", 100, "Inbound", "Deny", "*", "*", source_asgs=(first, second)))
    subnet = world.subnet("s", "10.0.1.0/24", nsg=nsg)
    world.nic("target", subnet, WEB)
    world.nic("a", subnet, "10.0.1.10", asgs=(first,))
    world.nic("b", subnet, "10.0.1.11", asgs=(second,))
    engine = Engine(world.topology())
    for source in ("10.0.1.10", "10.0.1.11"):
        verdict = engine.verify("target", Flow.make("Inbound", "TCP", WEB, 22, source, 5000))
        assert verdict.rule_name == "securityRules/from-both", source
    other = engine.verify("target", Flow.make("Inbound", "TCP", WEB, 22, "10.0.1.12", 5000))
    assert other.rule_name == "defaultSecurityRules/AllowVnetInBound"


def test_verify_switches_to_the_compiled_classifier_without_changing_a_verdict() -> None:
    import dataclasses
    from pathlib import Path

    from opennsg.arm import load_paths
    from opennsg.engine import COMPILE_AFTER_VERIFIES, Engine
    from opennsg.engine.evaluate import decide
    from opennsg.engine.flow import Flow

    topology = load_paths([Path(__file__).resolve().parents[1] / "examples" / "three-tier.json"])
    engine = Engine(topology)
    flows = [
        Flow.make(direction, protocol, "10.1.3.4", port, remote, 50000)
        for direction in ("Inbound", "Outbound")
        for protocol in ("TCP", "UDP", "ICMP")
        for port in (22, 1433, 443)
        for remote in ("10.1.2.4", "10.1.1.4", "52.10.20.30", "168.63.129.16", "169.254.169.254")
    ]
    assert len(flows) > COMPILE_AFTER_VERIFIES
    policy = engine.policy("vm-db1")
    for flow in flows * 2:
        exact = decide(policy, flow)
        assert engine.verify("vm-db1", flow) == exact
        assert engine.verify("vm-db1", flow, trace=False) == dataclasses.replace(exact, trace=())


def test_engine_serves_the_data_plane_and_bulk_classifiers() -> None:
    """``decide`` is verify's scan without its checks; ``compile`` classifies columns with the same verdicts (the
    data plane's, replay's and Spark's interface; ``public_ip_admits`` is covered by the data plane's tests)."""
    import dataclasses

    from opennsg.engine.compiled import FlowColumns

    engine, ids = three_tier()
    flows = [
        Flow.make(direction, protocol, WEB, port, remote, 50000)
        for direction in ("Inbound", "Outbound")
        for protocol in ("TCP", "UDP")
        for port in (22, 443, 3389, 8080)
        for remote in (APP, "10.0.0.9", "20.60.1.1", "52.10.20.30")
    ]
    compiled = engine.compile("web")
    assert compiled is not engine.compile(ids["web"])  # built anew: bulk callers decide what to keep
    batch = compiled.classify(FlowColumns.from_flows(flows), backend="numpy")
    for position, flow in enumerate(flows):
        exact = engine.verify("web", flow)
        assert engine.decide("web", flow) == exact
        assert dataclasses.replace(compiled.results[int(batch.result[position])], trace=()) == dataclasses.replace(
            exact, trace=()
        )
        assert bool(batch.allow[position]) is exact.allowed
    assert {bool(a) for a in batch.allow} == {True, False}
