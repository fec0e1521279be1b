"""Spec §3.4 ("How NSGs filter traffic"): every outcome of the inbound, outbound and intra-subnet tables.

VM1 in Subnet1 (NSG1) with NIC NSG2, VM2 in Subnet1 without a NIC NSG, VM3 in Subnet2 (no NSG) with NSG2,
VM4 in Subnet3 with no NSG anywhere. The expectations below are the table rows, evaluated per variation.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from conftest import World, rule
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Topology

INTERNET_CLIENT = "52.10.20.30"
WEB_SERVER = "93.184.216.34"
IPS = {"vm1": "10.0.1.4", "vm2": "10.0.1.5", "vm3": "10.0.2.4", "vm4": "10.0.3.4"}


def scenario(nsg1_rules: tuple[object, ...] = (), nsg2_rules: tuple[object, ...] = ()) -> Topology:
    world = World()
    nsg1 = world.nsg("NSG1", *nsg1_rules)  # type: ignore[arg-type]
    nsg2 = world.nsg("NSG2", *nsg2_rules)  # type: ignore[arg-type]
    subnet1 = world.subnet("Subnet1", "10.0.1.0/24", nsg=nsg1)
    subnet2 = world.subnet("Subnet2", "10.0.2.0/24")
    subnet3 = world.subnet("Subnet3", "10.0.3.0/24")
    world.nic("vm1", subnet1, IPS["vm1"], nsg=nsg2)
    world.nic("vm2", subnet1, IPS["vm2"])
    world.nic("vm3", subnet2, IPS["vm3"], nsg=nsg2)
    world.nic("vm4", subnet3, IPS["vm4"])
    return world.topology()


ALLOW_80_IN = rule("Allow-80-Internet", 200, "Inbound", "Allow", "Tcp", "Internet", "*", "80")
DENY_80_OUT = rule("Deny-80-Out", 200, "Outbound", "Deny", "Tcp", "*", "*", "80")


def _name(verdict_nsg: str | None) -> str | None:
    return verdict_nsg.rsplit("/", 1)[-1] if verdict_nsg else None


@pytest.mark.parametrize(("nsg1_allows", "nsg2_allows"), list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("vm", ["vm1", "vm2", "vm3", "vm4"])
def test_inbound_internet_to_port_80(vm: str, nsg1_allows: bool, nsg2_allows: bool) -> None:
    topology = scenario((ALLOW_80_IN,) if nsg1_allows else (), (ALLOW_80_IN,) if nsg2_allows else ())
    verdict = Engine(topology).verify(vm, Flow.make("Inbound", "TCP", IPS[vm], 80, INTERNET_CLIENT, 50000))
    chain = {"vm1": [("NSG1", nsg1_allows), ("NSG2", nsg2_allows)], "vm2": [("NSG1", nsg1_allows)]}
    chain["vm3"] = [("NSG2", nsg2_allows)]
    chain["vm4"] = []
    steps = chain[vm]
    denier = next((name for name, allows in steps if not allows), None)
    if not steps:
        assert (verdict.access.value, verdict.rule_name, verdict.nsg_id) == ("Allow", None, None)
    elif denier is not None:
        assert verdict.access.value == "Deny"
        assert verdict.rule_name == "defaultSecurityRules/DenyAllInBound"
        assert _name(verdict.nsg_id) == denier
        # NSGs after the denying one are never evaluated.
        assert [_name(s.nsg_id) for s in verdict.trace] == [n for n, _ in steps][
            : [n for n, _ in steps].index(denier) + 1
        ]
    else:
        assert verdict.access.value == "Allow"
        assert verdict.rule_name == "securityRules/Allow-80-Internet"
        assert _name(verdict.nsg_id) == steps[-1][0]  # the Allow of the last NSG evaluated


@pytest.mark.parametrize(("nsg1_denies", "nsg2_denies"), list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("vm", ["vm1", "vm2", "vm3", "vm4"])
def test_outbound_to_internet_port_80(vm: str, nsg1_denies: bool, nsg2_denies: bool) -> None:
    topology = scenario((DENY_80_OUT,) if nsg1_denies else (), (DENY_80_OUT,) if nsg2_denies else ())
    verdict = Engine(topology).verify(vm, Flow.make("Outbound", "TCP", IPS[vm], 50000, WEB_SERVER, 80))
    chain = {
        "vm1": [("NSG2", nsg2_denies), ("NSG1", nsg1_denies)],  # NIC NSG first outbound
        "vm2": [("NSG1", nsg1_denies)],
        "vm3": [("NSG2", nsg2_denies)],
        "vm4": [],
    }[vm]
    denier = next((name for name, denies in chain if denies), None)
    if not chain:
        assert (verdict.access.value, verdict.rule_name, verdict.nsg_id) == ("Allow", None, None)
    elif denier is not None:
        assert (verdict.access.value, verdict.rule_name, _name(verdict.nsg_id)) == (
            "Deny",
            "securityRules/Deny-80-Out",
            denier,
        )
        assert (
            _name(verdict.trace[-1].nsg_id) == denier and len(verdict.trace) == [n for n, _ in chain].index(denier) + 1
        )
    else:
        assert (verdict.access.value, verdict.rule_name, _name(verdict.nsg_id)) == (
            "Allow",
            "defaultSecurityRules/AllowInternetOutBound",
            chain[-1][0],
        )


@pytest.mark.parametrize(("source", "destination"), [("vm1", "vm2"), ("vm2", "vm1")])
def test_intra_subnet_allowed_by_default(source: str, destination: str) -> None:
    engine = Engine(scenario())
    path = engine.verify_path(source, destination, "TCP", IPS[source], 40000, IPS[destination], 22)
    assert path.allowed
    assert path.outbound.rule_name == "defaultSecurityRules/AllowVnetOutBound"
    assert path.inbound.rule_name == "defaultSecurityRules/AllowVnetInBound"
    assert path.decided_by == "destination"


@pytest.mark.parametrize(("source", "destination"), [("vm1", "vm2"), ("vm2", "vm1")])
def test_intra_subnet_blocked_by_subnet_deny_all(source: str, destination: str) -> None:
    deny_all = (
        rule("Deny-All-In", 100, "Inbound", "Deny"),
        rule("Deny-All-Out", 100, "Outbound", "Deny"),
    )
    engine = Engine(scenario(deny_all))
    path = engine.verify_path(source, destination, "TCP", IPS[source], 40000, IPS[destination], 22)
    assert not path.allowed
    assert path.decided_by == "source"
    assert (path.rule_name, _name(path.nsg_id)) == ("securityRules/Deny-All-Out", "NSG1")
    assert path.inbound.rule_name == "securityRules/Deny-All-In"


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_FILES = ["how-nsgs-filter-traffic.json", "how-nsgs-filter-traffic.template.json"]
# (VM, deciding NSG for inbound Internet → 80, deciding NSG for inbound → 443 (denied), for outbound → Internet:80)
EXAMPLE_OUTCOMES = [("VM1", "NSG2", "NSG1", "NSG1"), ("VM2", "NSG1", "NSG1", "NSG1"), ("VM3", "NSG2", "NSG2", "NSG2")]


@pytest.mark.parametrize("name", EXAMPLE_FILES)
def test_bundled_example_matches_the_article(name: str) -> None:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"examples/{name} not written yet")
    from opennsg.arm import load_paths

    engine = Engine(load_paths([path]))
    for vm, http_nsg, https_nsg, out_nsg in EXAMPLE_OUTCOMES:
        nic = engine.nic(vm)
        local = nic.ip_configurations[0].private_ip_address
        assert local is not None
        http = engine.verify(nic, Flow.make("Inbound", "TCP", local, 80, INTERNET_CLIENT, 50000))
        assert (http.access.value, http.rule_name, _name(http.nsg_id)) == (
            "Allow",
            "securityRules/Allow-Internet-HTTP-Inbound",
            http_nsg,
        ), vm
        https = engine.verify(nic, Flow.make("Inbound", "TCP", local, 443, INTERNET_CLIENT, 50000))
        assert (https.access.value, https.rule_name, _name(https.nsg_id)) == (
            "Deny",
            "defaultSecurityRules/DenyAllInBound",
            https_nsg,
        ), vm
        out = engine.verify(nic, Flow.make("Outbound", "TCP", local, 50000, WEB_SERVER, 80))
        assert (out.access.value, out.rule_name, _name(out.nsg_id)) == (
            "Allow",
            "defaultSecurityRules/AllowInternetOutBound",
            out_nsg,
        ), vm
    vm4 = engine.nic("VM4")
    local = vm4.ip_configurations[0].private_ip_address
    assert local is not None
    for port in (80, 443):
        verdict = engine.verify(vm4, Flow.make("Inbound", "TCP", local, port, INTERNET_CLIENT, 50000))
        assert (verdict.access.value, verdict.rule_name, verdict.nsg_id) == ("Allow", None, None)
