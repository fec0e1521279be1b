"""AVNM security admin rules enforced by the kernel (semantics §11.3): Deny drops before the NSGs, AlwaysAllow delivers
past an NSG deny, Allow leaves the decision to the NSGs; each packet counted on the rule the engine reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from avnm_world import Avnm, topology_of
from conftest import World, rule
from labkit import needs_netns, running_lab
from opennsg.enforce.kernel import rule_counters
from opennsg.enforce.probe import Probe, run_probes
from opennsg.engine import Engine
from opennsg.engine.flow import Flow

pytestmark = needs_netns


def test_admin_rules_decide_before_the_nsgs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_LAB_DIR", str(tmp_path))
    world = World()
    nsg = world.nsg("web", rule("no-8080", 100, "Inbound", "Deny", "Tcp", "*", "*", "8080"))
    subnet = world.subnet("s1", "10.0.1.0/24", nsg=nsg)
    world.nic("a", subnet, "10.0.1.4")
    world.nic("b", subnet, "10.0.1.5")
    avnm = Avnm()
    avnm.simple(
        ("no-ssh", 10, "Inbound", "Deny", {"protocol": "Tcp", "destination_ports": ("22",)}),
        ("ops", 20, "Inbound", "AlwaysAllow", {"protocol": "Tcp", "destination_ports": ("8080",)}),
        ("web", 30, "Inbound", "Allow", {"protocol": "Tcp", "destination_ports": ("80",)}),
    )
    topology = topology_of(world, avnm)
    engine = Engine(topology)
    verdicts = {
        port: engine.verify("b", Flow.make("Inbound", "Tcp", "10.0.1.5", port, "10.0.1.4", 40000 + port))
        for port in (22, 8080, 80)
    }
    assert [v.rule_name for v in verdicts.values()] == [
        "securityAdminRules/no-ssh",
        "securityAdminRules/ops",
        "defaultSecurityRules/AllowVnetInBound",
    ]
    with running_lab(topology, collect=False) as lab:
        a, b = lab.plan.nic("a"), lab.plan.nic("b")
        assert a is not None and b is not None
        probes = [Probe("tcp", a.netns, b.netns, "10.0.1.5", port, 40000 + port) for port in verdicts]
        assert run_probes(probes) == [False, True, True]
        refs = lab.rulesets[b.id].rules
        counted = {
            refs[m].rule_name: n
            for m, n in rule_counters(b.netns).items()
            if n and refs[m].direction.value == "Inbound"
        }
        assert counted.get("securityAdminRules/no-ssh", 0) >= 1
        assert counted.get("securityAdminRules/ops") == 1
        assert counted.get("defaultSecurityRules/AllowVnetInBound") == 1
        assert "securityRules/no-8080" not in counted, "AlwaysAllow skips the NSGs"
