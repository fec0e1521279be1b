"""Every command the issue lists reads Terraform as it reads ARM: validate, verify, effective, show, lint, diff,
reach, serve --import and flowlogs replay --config, on the hub-and-spoke twins (a module, its plan) and with
``--subscription`` / ``--var`` where a module needs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MODULE = EXAMPLES / "terraform" / "hub-and-spoke"
PLAN = MODULE / "plan.json"
THREE_TIER = EXAMPLES / "terraform" / "three-tier"
THREE_TIER_SUBSCRIPTION = "8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
SUB = "5f0c2a8e-7d41-4b9a-9c3e-2b7f6a1d0e44"
NET = f"/subscriptions/{SUB}/resourceGroups/rg-network/providers/Microsoft.Network"
FLOWLOGS = Path(__file__).parent / "data" / "flowlogs"


def run(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    text = result.stderr if result.exit_code == 2 else result.stdout
    return result.exit_code, json.loads(text) if "--json" in args else text


@pytest.mark.parametrize("source", [MODULE, PLAN], ids=["hcl", "plan"])
def test_validate(source: Path) -> None:
    code, body = run("validate", str(source), "--json")
    assert code == 0, body
    flat = json.dumps(body)
    for kind, count in (("privateEndpoints", 2), ("securityAdminRules", 3), ("networkInterfaces", 7)):
        assert f'"{kind}": {count}' in flat, (kind, flat)


@pytest.mark.parametrize("source", [MODULE, PLAN], ids=["hcl", "plan"])
def test_verify_answers_the_readme_questions(source: Path) -> None:
    questions = [
        ("pe-blob-spoke1.nic", "Inbound", "10.1.2.5:443", "10.1.1.4:50000",
         ("Allow", "PlatformRule_PrivateEndpointNetworkPoliciesDisabled")),
        ("nic-vm-web1", "Inbound", "10.1.1.4:22", "52.1.2.3:50000",
         ("Deny", "securityAdminRules/DenyHighRiskFromInternet")),
        ("nic-vm-app1", "Inbound", "10.2.1.4:9100", "10.0.1.4:40000",
         ("Allow", "securityAdminRules/AlwaysAllowMonitoring")),
    ]  # fmt: skip
    for nic, direction, local, remote, expected in questions:
        code, body = run("verify", str(source), "--nic", nic, "--direction", direction, "--local", local,
                         "--remote", remote, "--json")  # fmt: skip
        assert code == 0 and (body["access"], body["ruleName"]) == expected, (nic, body)


def test_effective_lists_the_admin_rules_then_the_nsg() -> None:
    code, body = run("effective", str(MODULE), "--nic", "nic-vm-app1", "--json")
    assert code == 0
    groups = [entry["networkSecurityGroup"]["id"] for entry in body["value"]]
    assert groups[0].endswith("/networkManagers/nm-contoso")
    assert any(g.endswith("/networkSecurityGroups/nsg-spoke2-app") for g in groups)
    names = {rule["name"] for entry in body["value"] for rule in entry["effectiveSecurityRules"]}
    assert {"securityAdminRules/AlwaysAllowMonitoring", "securityRules/deny-other-vnet-inbound"} <= names


def test_show_prints_the_plan_s_nsgs_and_admin_rules() -> None:
    code, body = run("show", str(PLAN), "--json")
    assert code == 0
    assert sorted(n["name"] for n in body["networkSecurityGroups"]) == [
        "nsg-hub-mgmt", "nsg-spoke1-pe", "nsg-spoke1-web", "nsg-spoke2-app", "nsg-spoke2-batch", "nsg-spoke2-pe",
    ]  # fmt: skip
    assert "DenyHighRiskFromInternet" in json.dumps(body)


def test_lint_finds_the_exposed_endpoint_of_the_module() -> None:
    code, body = run("lint", str(MODULE), "--json", "--fail-on", "none")
    assert code == 0
    exposed = [f for f in body["findings"] if f["ruleId"] == "internet-exposed-port"]
    assert [f["resource"] for f in exposed] == [f"{NET}/networkInterfaces/pe-blob-spoke1.nic"]
    assert run("lint", str(MODULE), "--json", "--fail-on", "error")[0] == 1


def test_diff_between_the_arm_files_and_their_terraform_twin_finds_nothing(tmp_path: Path) -> None:
    arm = tmp_path / "arm"
    arm.mkdir()
    for name in ("hub-and-spoke.json", "hub-and-spoke-avnm.json"):
        shutil.copy(EXAMPLES / name, arm / name)
    code, body = run("diff", str(arm), str(MODULE), "--json")
    assert (code, body["changes"], body["summary"]["changedBoxes"]) == (0, [], 0)
    code, body = run("diff", str(MODULE), str(PLAN), "--json")
    assert (code, body["changes"]) == (0, [])


def test_diff_old_and_new_modules_with_variables(tmp_path: Path) -> None:
    """A module as it is and as a variable changes it: the location moves the deployment away."""
    code, body = run("diff", str(MODULE), str(MODULE), "--json", "--var", "location=westeurope")
    assert (code, body["changes"]) == (0, [])
    code, body = run("diff", str(MODULE), str(MODULE), "--json", "--var", "nosuch=1")
    assert code == 2 and "nosuch" in json.dumps(body)


def test_reach_matrix_from_the_plan() -> None:
    code, body = run("reach", str(PLAN), "--json")
    assert code == 0
    assert "Internet" in body["sources"]
    assert f"{NET}/networkInterfaces/nic-vm-web1" in body["sources"]


def test_lint_reach_and_diff_take_the_subscription_for_a_module_without_one() -> None:
    for command in (["lint", "--fail-on", "none"], ["reach"]):
        code, body = run(*command, str(THREE_TIER), "--subscription", THREE_TIER_SUBSCRIPTION, "--json")
        assert code == 0
        assert f"/subscriptions/{THREE_TIER_SUBSCRIPTION}/" in json.dumps(body)
    code, body = run(
        "diff", str(THREE_TIER), str(THREE_TIER / "plan.json"), "--subscription", THREE_TIER_SUBSCRIPTION, "--json"
    )
    assert code in (0, 3) and "error" not in body


def test_serve_imports_a_terraform_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve --import DIR``: the module's resources are in the database the service starts with."""
    from fastapi.testclient import TestClient

    from opennsg.api import server

    started: dict[str, Any] = {}
    monkeypatch.setattr(server, "run", lambda asgi, host, port, limits, **tls: started.update(app=asgi, port=port))
    db = tmp_path / "opennsg.db"
    code, info = run("serve", "--db", str(db), "--import", str(MODULE), "--port", "18099", "--json")
    assert code == 0 and SUB in info["subscriptions"]
    token = info["token"]
    with TestClient(started["app"], headers={"Authorization": f"Bearer {token}"}) as client:
        listed = client.get(
            f"/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups?api-version=2024-05-01"
        )
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["value"]) == 6
        endpoint = client.get(f"{NET}/privateEndpoints/pe-blob-spoke1?api-version=2024-05-01")
        assert endpoint.status_code == 200, endpoint.text


def test_serve_refuses_a_broken_module_before_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opennsg.api import server

    monkeypatch.setattr(server, "run", lambda *a, **k: pytest.fail("started"))
    broken = tmp_path / "module"
    broken.mkdir()
    (broken / "main.tf").write_text("locals {\n  a = nosuch(1)\n}\n", encoding="utf-8")
    code, body = run("serve", "--db", str(tmp_path / "db.sqlite"), "--import", str(broken), "--json")
    assert code == 2
    assert body["error"]["code"] == "TerraformUnknownFunction"
    assert body["error"]["target"] == f"{broken / 'main.tf'}:2"


def test_flowlogs_replay_against_a_terraform_config_matches_arm(tmp_path: Path) -> None:
    arm_config = FLOWLOGS / "configs" / "fabrikam-proposed.json"
    assert run("export", str(arm_config), str(tmp_path / "tf"), "--json")[0] == 0
    logs = str(FLOWLOGS / "nsg_v2.json")
    code, from_arm = run("flowlogs", "replay", "--config", str(arm_config), logs, "--json")
    assert code == 0
    code, from_terraform = run("flowlogs", "replay", "--config", str(tmp_path / "tf"), logs, "--json")
    assert code == 0
    assert from_terraform["totals"] == from_arm["totals"]
    assert from_terraform["totals"]["changedFlows"] == 2
    key = ("srcIP", "dstPort", "protocol", "loggedDecision", "newDecision", "newRule", "count")
    assert sorted(tuple(c[k] for k in key) for c in from_terraform["changed"]) == sorted(
        tuple(c[k] for k in key) for c in from_arm["changed"]
    )


NIC_USING = """
resource "azurerm_network_interface" "nic" {
  name                = "nic"
  location            = "westeurope"
  resource_group_name = "rg"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = %s
    private_ip_address_allocation = "Dynamic"
  }
}
"""
ISSUE_ERRORS = {
    "unknown function": (
        "locals {\n  prefix = nosuch(\"10.0.0.0/8\")\n}\n",
        2, "TerraformUnknownFunction", 'in `nosuch("10.0.0.0/8")`: unknown function nosuch()',
    ),
    "data source": (
        'data "azurerm_subnet" "shared" {\n  name = "shared"\n}\n' + NIC_USING % "data.azurerm_subnet.shared.id",
        12, "TerraformDataSourceNotSupported", "data source data.azurerm_subnet.shared (declared at",
    ),
    "remote module": (
        'module "network" {\n  source  = "Azure/network/azurerm"\n  version = "5.3.0"\n}\n',
        2, "TerraformRemoteModuleNotSupported", 'module source "Azure/network/azurerm" is not a local path',
    ),
    "unknown after apply": (
        'resource "azurerm_public_ip" "pip" {\n  name                = "pip"\n  location            = "westeurope"\n'
        '  resource_group_name = "rg"\n  allocation_method   = "Static"\n}\n'
        + NIC_USING.replace('"Dynamic"', '"Static"\n    private_ip_address = azurerm_public_ip.pip.ip_address')
        % '"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"',
        17, "TerraformValueUnknownUntilApply", "azurerm_public_ip.pip.ip_address is known only after apply",
    ),
    "cycle between locals": (
        "locals {\n  a = local.b\n  b = local.c\n  c = \"${local.a}/24\"\n}\n",
        2, "TerraformCycle", "cycle: local.a -> local.b -> local.c -> local.a",
    ),
}  # fmt: skip


@pytest.mark.parametrize("error", list(ISSUE_ERRORS))
def test_each_error_of_the_issue_names_file_line_and_expression(tmp_path: Path, error: str) -> None:
    text, line, code, message = ISSUE_ERRORS[error]
    (tmp_path / "main.tf").write_text(text, encoding="utf-8")
    exit_code, body = run("validate", str(tmp_path), "--json")
    assert exit_code == 2
    found = [body["error"], *body["error"]["details"]]
    target = f"{tmp_path / 'main.tf'}:{line}"
    assert any(e["code"] == code and e["target"] == target and message in e["message"] for e in found), found
    if error in ("data source", "remote module", "unknown after apply"):  # what only Azure knows
        assert any("plan.json" in e["message"] for e in found if e["code"] == code)
