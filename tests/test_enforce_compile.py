"""What the compiler emits and what the lab plans, checked without a kernel (no root needed)."""

from __future__ import annotations

import json

import pytest

from labkit import Net
from opennsg.enforce.compile import RuleRef, compile_policy
from opennsg.enforce.topology import plan_lab
from opennsg.engine import Engine
from opennsg.model import Direction, SecurityRule
from opennsg.model.errors import OpenNsgError
from test_enforce_lab import allow, peered_world


def _world() -> Net:
    net = Net()
    net.vnet("vnet", "10.5.0.0/16", "fd05::/48")
    augmented = SecurityRule(
        name="augmented",
        priority=120,
        direction=Direction.INBOUND,
        access=allow("x", 100, "Inbound").access,
        protocol=allow("x", 100, "Inbound", "Tcp").protocol,
        source_address_prefixes=("10.5.1.0/24", "10.5.3.0/24", "20.1.0.0/16"),
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_ranges=("22", "8000-8100"),
    )
    nsg = net.nsg(
        "web",
        allow("from-internet", 100, "Inbound", "Tcp", "Internet", "443"),
        allow("also-internet", 110, "Inbound", "Udp", "Internet", "53"),
        augmented,
    )
    subnet = net.subnet("vnet", "s", "10.5.1.0/24", "fd05:0:0:1::/64", nsg=nsg)
    net.nic("web", subnet, "10.5.1.4", "fd05:0:0:1::4", nsg=nsg)
    return net


def _rules(document: dict[str, object], chain: str) -> list[list[dict[str, object]]]:
    commands = document["nftables"]
    assert isinstance(commands, list)
    return [
        c["add"]["rule"]["expr"] for c in commands if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == chain
    ]


def test_every_rule_of_the_chain_has_its_own_mark_and_meaning() -> None:
    topology = _world().topology()
    policy = Engine(topology).policy("web")
    ruleset = compile_policy(policy)
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        for stage in policy.chain(direction).stages:
            for rule, _ in stage.entries():
                found = [
                    ref
                    for ref in ruleset.rules.values()
                    if ref.rule_name == rule.rule.verify_name
                    and ref.direction is direction
                    and ref.nsg_id == stage.resource_id
                ]
                assert len(found) == 1, (direction, rule.rule.name)
                assert found[0].log_name == rule.rule.log_name
    marks = [ref.mark for ref in ruleset.rules.values()]
    assert len(marks) == len(set(marks))
    assert (
        RuleRef.from_json(json.loads(json.dumps(next(iter(ruleset.rules.values())).to_json())))
        in ruleset.rules.values()
    )


def test_established_flows_are_accepted_first_and_tags_are_shared_sets() -> None:
    document = compile_policy(Engine(_world().topology()).policy("web")).document()
    for chain in ("inbound", "outbound"):
        first = _rules(document, chain)[0]
        assert first[0] == {
            "match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}
        }
        assert first[1] == {"accept": None}
    commands = document["nftables"]
    assert isinstance(commands, list)
    sets = {c["add"]["set"]["name"]: c["add"]["set"] for c in commands if "set" in c.get("add", {})}
    assert "tag_Internet_4" in sets and sets["tag_Internet_4"]["flags"] == ["interval"]
    text = json.dumps(document)
    assert text.count('"@tag_Internet_4"') >= 4, "both Internet rules, in both stages, read the one set"
    concatenated = [s for s in sets.values() if isinstance(s["type"], list)]
    assert any(s["type"] == ["ipv4_addr", "inet_service"] and len(s["elem"]) == 6 for s in concatenated)


def test_lab_plan_routes_as_azure_does() -> None:
    for state, hop in (("Connected", "deliver"), ("Disconnected", "blackhole")):  # unpeered 10/8: next hop None
        plan = plan_lab(peered_world(state), "plan")
        hub = plan.nic("h")
        assert hub is not None
        route = next(r for r in plan.routes[hub.index] if r.prefix == "10.20.1.4/32")
        assert route.hop == hop
    net = Net()
    net.vnet("vnet", "10.6.0.0/16")
    table = net.route_table("rt", ("10.6.2.0/24", "None"), ("0.0.0.0/0", "VirtualAppliance"))
    net.nic("a", net.subnet("vnet", "a", "10.6.1.0/24", route_table=table), "10.6.1.4")
    net.nic("b", net.subnet("vnet", "b", "10.6.2.0/24"), "10.6.2.4")
    plan = plan_lab(net.topology(), "plan")
    a = plan.nic("a")
    assert a is not None
    routes = {r.prefix: r.hop for r in plan.routes[a.index]}
    assert routes["10.6.2.4/32"] == "blackhole"
    assert routes["0.0.0.0/0"] == "unreachable", "forced tunnelling to an appliance: no Internet in the lab"


def test_lab_names_and_duplicate_addresses_are_refused() -> None:
    with pytest.raises(OpenNsgError) as bad_name:
        plan_lab(_world().topology(), "Bad_Name")
    assert bad_name.value.errors[0].code == "InvalidLabName"
    net = Net()
    net.vnet("one", "10.7.0.0/16")
    net.vnet("two", "10.7.0.0/16")
    net.nic("x", net.subnet("one", "s", "10.7.1.0/24"), "10.7.1.4")
    net.nic("y", net.subnet("two", "s", "10.7.1.0/24"), "10.7.1.4")
    with pytest.raises(OpenNsgError) as duplicate:
        plan_lab(net.topology(), "dup")
    assert duplicate.value.errors[0].code == "DuplicatePrivateIpAddress"
