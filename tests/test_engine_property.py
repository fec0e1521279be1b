"""Property: the engine's exact evaluator agrees with the reference evaluator on random topologies and flows."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace

from hypothesis import HealthCheck, given, settings

from netwatcher import diagnose_json, effective_json, security_group_view_json
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.engine.ir import rule_log_name
from opennsg.engine.platform import smtp_blocked
from opennsg.model import Subscription, Topology
from opennsg.model.enums import IANA_ICMP, IANA_TCP, IANA_UDP, Direction
from reference import reference_decide
from reference import smtp_blocked as reference_smtp_blocked
from strategies import subscriptions, topologies, topology_and_flows

CASES_PER_TOPOLOGY = 30


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topology_and_flows(max_flows=CASES_PER_TOPOLOGY, avnm=True))
def test_engine_equals_reference(case: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    topology, flows = case
    engine = Engine(topology)
    for nic_id, flow in flows:
        verdict = engine.verify(nic_id, flow)
        expected = reference_decide(topology, nic_id, flow)
        got = (verdict.access.value, verdict.rule_name, verdict.nsg_id)
        assert got == (expected.access, expected.rule_name, expected.nsg_id), (nic_id, flow)
        detailed = engine.verify(nic_id, flow, detail=True)
        assert (detailed.access, detailed.rule_name, detailed.nsg_id) == (
            verdict.access,
            verdict.rule_name,
            verdict.nsg_id,
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topology_and_flows(max_flows=10, avnm=True))
def test_single_flow_diagnostics_agree_with_verify(case: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    """A profile naming one source, one destination and one port is judged exactly like that flow with any source
    port (semantics §8.4 answered per rule; see ``opennsg.engine.diagnostics``)."""
    topology, flows = case
    engine = Engine(topology)
    for nic_id, flow in flows:
        if flow.protocol not in (IANA_TCP, IANA_UDP, IANA_ICMP) or (flow.has_ports and flow.destination[1] is None):
            continue
        source, _ = flow.source
        destination, destination_port = flow.destination
        inbound = flow.direction is Direction.INBOUND
        any_source_port = replace(flow, remote_port=None) if inbound else replace(flow, local_port=None)
        verdict = engine.verify(nic_id, any_source_port)
        profile = {
            "direction": flow.direction.value,
            "protocol": {IANA_TCP: "TCP", IANA_UDP: "UDP", IANA_ICMP: "ICMP"}[flow.protocol],
            "source": str(source),
            "destination": str(destination),
            "destinationPort": str(destination_port) if flow.has_ports else "*",
        }
        result = diagnose_json(engine, nic_id, profile)["networkSecurityGroupResult"]
        assert result["securityRuleAccessResult"] == reference_decide(topology, nic_id, any_source_port).access
        assert result["securityRuleAccessResult"] == verdict.access.value
        matched = [g.get("matchedRule", {}).get("ruleName") for g in result["evaluatedNetworkSecurityGroups"]]
        assert matched == [rule_log_name(s.matched_rule) if s.matched_rule else None for s in verdict.trace]


@settings(max_examples=500, deadline=None)
@given(subscriptions())
def test_smtp_block_equals_reference(subscription: Subscription | None) -> None:
    assert smtp_blocked(subscription) == reference_smtp_blocked(subscription)


PORT_RANGE = re.compile(r"^\d{1,5}-\d{1,5}$")
EFFECTIVE_KEYS = {"name", "protocol", "access", "priority", "direction", "sourcePortRanges", "destinationPortRanges"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topologies())
def test_views_are_well_formed_on_random_topologies(topology: Topology) -> None:
    """Effective rules and the security group view list every rule of the NIC's NSGs, in Azure's formats."""
    engine = Engine(topology)
    for nic in topology.nics.values():
        policy = engine.policy(nic.id)
        groups = effective_json(engine, nic.id)
        chain = [n for n in (policy.subnet_nsg, policy.nic_nsg) if n is not None]
        assert [g["networkSecurityGroup"]["id"] for g in groups] == [n.nsg.id for n in chain]
        for group, resolved in zip(groups, chain, strict=True):
            rules = group["effectiveSecurityRules"]
            assert len(rules) == len(resolved.inbound) + len(resolved.outbound)
            for rule in rules:
                assert set(rule) >= EFFECTIVE_KEYS
                assert rule["protocol"] in {"All", "Tcp", "Udp", "Icmp", "Esp", "Ah"}
                assert all(PORT_RANGE.match(p) for p in rule["sourcePortRanges"] + rule["destinationPortRanges"])
                for key in ("expandedSourceAddressPrefix", "expandedDestinationAddressPrefix"):
                    assert all(ipaddress.ip_network(p, strict=True) for p in rule[key])
            for tag, prefixes in group["tagMap"].items():
                assert isinstance(tag, str) and all(ipaddress.ip_network(p, strict=True) for p in prefixes)
        view = security_group_view_json(engine, nic.id)["networkInterfaces"][0]["securityRuleAssociations"]
        assert len(view["effectiveSecurityRules"]) == sum(len(g["effectiveSecurityRules"]) for g in groups)
        assert len(view["defaultSecurityRules"]) == (6 if chain else 0)
