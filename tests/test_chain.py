"""The chain definition: stage order per direction and each stage's meaning of a match (semantics §3.2)."""

from __future__ import annotations

from conftest import World, rule
from opennsg.engine import Engine
from opennsg.engine.chain import Outcome, StageKind, chain_resources
from opennsg.model.enums import Direction


def _policy() -> tuple[Engine, str, str, str]:
    world = World()
    subnet_nsg = world.nsg("subnet-nsg", rule("deny-ssh", 100, "Inbound", "Deny", "Tcp", "*", "*", "22"))
    nic_nsg = world.nsg("nic-nsg")
    subnet = world.subnet("app", "10.0.1.0/24", nsg=subnet_nsg)
    nic = world.nic("vm", subnet, "10.0.1.4", nsg=nic_nsg)
    return Engine(world.topology()), nic, subnet_nsg, nic_nsg


def test_inbound_meets_subnet_then_nic_and_outbound_the_reverse() -> None:
    engine, nic, subnet_nsg, nic_nsg = _policy()
    policy = engine.policy(nic)
    assert [s.resource_id for s in policy.chain(Direction.INBOUND).stages] == [subnet_nsg, nic_nsg]
    assert [s.resource_id for s in policy.chain(Direction.OUTBOUND).stages] == [nic_nsg, subnet_nsg]
    assert policy.chain(Direction.INBOUND) is policy.chain(Direction.INBOUND)  # built once per NIC and direction


def test_nsg_stage_meaning_deny_drops_allow_is_a_candidate() -> None:
    engine, nic, _, _ = _policy()
    stage = engine.policy(nic).chain(Direction.INBOUND).stages[0]
    assert stage.kind is StageKind.NSG
    by_name = {r.rule.name: o for r, o in stage.entries()}
    assert by_name["deny-ssh"] is Outcome.DROP
    assert by_name["AllowVnetInBound"] is Outcome.CANDIDATE
    assert by_name["DenyAllInBound"] is Outcome.DROP
    assert [r.priority for r in stage.rules] == sorted(r.priority for r in stage.rules)
    assert all(r.rule.direction is Direction.INBOUND for r in stage.rules)


def test_outcome_access_and_end() -> None:
    assert [o.ends_chain for o in Outcome] == [True, True, False, False]
    assert [o.access.value for o in Outcome] == ["Deny", "Allow", "Allow", "Allow"]


def test_resources_group_both_directions_in_inbound_order() -> None:
    engine, nic, subnet_nsg, nic_nsg = _policy()
    groups = chain_resources(engine.policy(nic))
    assert [g[0].resource_id for g in groups] == [subnet_nsg, nic_nsg]
    assert [[s.direction for s in g] for g in groups] == [[Direction.INBOUND, Direction.OUTBOUND]] * 2
