"""The hub-and-spoke example (examples/README.md): the README's questions, with and without the manager's file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opennsg.arm import load_paths
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Topology
from reference import reference_decide

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NETWORK = EXAMPLES / "hub-and-spoke.json"
MANAGER = EXAMPLES / "hub-and-spoke-avnm.json"


@pytest.fixture(scope="module")
def estate() -> Topology:
    topology = load_paths([NETWORK, MANAGER])
    if not topology.admin_rules or not topology.private_endpoints:
        pytest.skip("the ARM reader does not import AVNM resources and private endpoints yet (avnm-model's import)")
    return topology


def _answer(topology: Topology, nic: str, flow: Flow) -> tuple[str, str | None]:
    engine = Engine(topology)
    verdict = engine.verify(nic, flow)
    nic_id = engine.nic(nic).id
    reference = reference_decide(topology, nic_id, flow)
    assert (verdict.access.value, verdict.rule_name) == (reference.access, reference.rule_name)
    return verdict.access.value, verdict.rule_name


QUESTIONS = [
    # (NIC, flow, with the manager's rules, the NSGs alone)
    ("nic-vm-app1", ("Inbound", "TCP", "10.2.1.4", 9100, "10.0.1.4", 40000),
     ("Allow", "securityAdminRules/AlwaysAllowMonitoring"), ("Deny", "securityRules/deny-other-vnet-inbound")),
    ("nic-vm-web1", ("Inbound", "TCP", "10.1.1.4", 22, "52.1.2.3", 50000),
     ("Deny", "securityAdminRules/DenyHighRiskFromInternet"), ("Allow", "securityRules/allow-ssh-anywhere")),
    ("nic-vm-app1", ("Inbound", "TCP", "10.2.1.4", 8080, "10.0.2.4", 50000),
     ("Deny", "securityRules/deny-other-vnet-inbound"), ("Deny", "securityRules/deny-other-vnet-inbound")),
    ("nic-vm-app1", ("Inbound", "TCP", "10.2.1.4", 8080, "10.1.1.4", 50000),
     ("Allow", "securityRules/allow-app-from-web"), ("Allow", "securityRules/allow-app-from-web")),
    ("pe-blob-spoke1.nic", ("Inbound", "TCP", "10.1.2.5", 443, "10.1.1.4", 50000),
     ("Allow", "PlatformRule_PrivateEndpointNetworkPoliciesDisabled"), None),
    ("pe-blob-spoke2.nic", ("Inbound", "TCP", "10.2.2.5", 443, "10.1.1.4", 50000),
     ("Deny", "securityRules/deny-all-inbound"), None),
    ("pe-blob-spoke2.nic", ("Inbound", "TCP", "10.2.2.5", 443, "10.2.1.4", 50000),
     ("Allow", "securityRules/allow-https-from-app"), None),
]  # fmt: skip


@pytest.mark.parametrize(("nic", "flow", "with_manager", "nsgs_alone"), QUESTIONS)
def test_readme_questions(
    estate: Topology,
    nic: str,
    flow: tuple[str, str, str, int, str, int],
    with_manager: tuple[str, str],
    nsgs_alone: tuple[str, str] | None,
) -> None:
    parsed = Flow.make(*flow)
    assert _answer(estate, nic, parsed) == with_manager
    if nsgs_alone is not None:
        assert _answer(load_paths([NETWORK]), nic, parsed) == nsgs_alone


def test_private_subnet_has_no_egress(estate: Topology) -> None:
    args = ["verify", str(NETWORK), str(MANAGER), "--nic", "nic-vm-batch1", "--direction", "Outbound",
            "--local", "10.2.3.4:50000", "--remote", "52.1.2.3:443"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["access"], body["ruleName"], body["egress"]) == (
        "Allow",
        "defaultSecurityRules/AllowInternetOutBound",
        "none",
    )
    assert "no egress path" in CliRunner().invoke(app, args).output


def test_detail_shows_the_admin_stage_and_show_lists_the_admin_rules(estate: Topology) -> None:
    args = ["verify", str(NETWORK), str(MANAGER), "--nic", "nic-vm-web1", "--direction", "Inbound",
            "--local", "10.1.1.4:22", "--remote", "52.1.2.3:50000", "--detail"]  # fmt: skip
    body = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    (stage,) = body["evaluatedNetworkSecurityGroups"]
    assert stage["association"] == "networkManager" and stage["matchedRule"]["ruleName"] == "DenyHighRiskFromInternet"
    assert [r["name"] for r in stage["rulesEvaluationResult"]] == ["AlwaysAllowMonitoring", "DenyHighRiskFromInternet"]
    human = CliRunner().invoke(app, args).output
    assert "admin rules" in human and "DenyHighRiskFromInternet" in human
    shown = json.loads(CliRunner().invoke(app, ["show", str(NETWORK), str(MANAGER), "--json"]).output)
    (configuration,) = shown["securityAdminConfigurations"]
    rules = [r["name"] for c in configuration["ruleCollections"] for r in c["rules"]]
    assert rules == ["AlwaysAllowMonitoring", "DenyHighRiskFromInternet", "AllowAppFromVnets"]
    assert "AlwaysAllowMonitoring" in CliRunner().invoke(app, ["show", str(NETWORK), str(MANAGER)]).output
