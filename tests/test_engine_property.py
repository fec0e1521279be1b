"""Property: the engine's exact evaluator agrees with the reference evaluator on random topologies and flows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Topology
from reference import reference_decide
from strategies import topology_and_flows

CASES_PER_TOPOLOGY = 30


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topology_and_flows(max_flows=CASES_PER_TOPOLOGY))
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
