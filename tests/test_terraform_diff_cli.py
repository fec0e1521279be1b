"""``opennsg diff --plan PLAN.json`` on the plans a pull request makes: a rule added, shadowing flipped by a
priority, a NIC moved between subnets, an ASG association deleted. Exact boxes, witnesses and counts, ``--json``,
``--markdown FILE``; exit 3 when access changes, 0 when not, 2 on bad input."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from opennsg.cli.main import app

SUB = "5f1c0c3e-0000-4c2d-9e1f-2a3b4c5d6e7f"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
NET = f"{RG}/providers/Microsoft.Network"
APP1 = f"{NET}/networkInterfaces/app1"
WEB1 = f"{NET}/networkInterfaces/web1"
ASG = f"{NET}/applicationSecurityGroups/asg-web"


def rule(name: str, priority: int, port: str, access: str = "Allow", **extra: Any) -> dict[str, Any]:
    values = {
        "name": name, "priority": priority, "direction": "Inbound", "access": access, "protocol": "Tcp",
        "source_address_prefix": "10.0.1.0/24", "source_address_prefixes": [],
        "source_application_security_group_ids": [], "source_port_range": "*", "source_port_ranges": [],
        "destination_address_prefix": "*", "destination_address_prefixes": [],
        "destination_application_security_group_ids": [], "destination_port_range": port,
        "destination_port_ranges": [], "description": "",
    }  # fmt: skip
    values.update(extra)
    return values


#: nsg-app (on subnet app): 8080 from the web ASG, the rest of the VNet denied.
BASE = [
    rule("allow-web-8080", 100, "8080", source_address_prefix="", source_application_security_group_ids=[ASG]),
    rule("deny-vnet", 4000, "*", "Deny", source_address_prefix="VirtualNetwork", protocol="*"),
]


def _resource(address: str, values: dict[str, Any]) -> dict[str, Any]:
    kind, name = address.split("[")[0].split(".")[-2:]
    return {"address": address, "mode": "managed", "type": kind, "name": name, "values": values}


def _nic(name: str, subnet: str, address: str) -> dict[str, Any]:
    config = {
        "name": "ipconfig1", "primary": True, "private_ip_address": address,
        "private_ip_address_allocation": "Static", "private_ip_address_version": "IPv4",
        "subnet_id": f"{NET}/virtualNetworks/v/subnets/{subnet}",
    }  # fmt: skip
    values = {"id": f"{NET}/networkInterfaces/{name}", "name": name, "location": "westeurope"}
    return _resource(f"azurerm_network_interface.{name}", {**values, "resource_group_name": "rg",
                                                           "ip_configuration": [config]})  # fmt: skip


def network(rules: list[dict[str, Any]], web1_subnet: str = "web", asg: bool = True) -> list[dict[str, Any]]:
    """VNet v: subnet web (no NSG, web1 10.0.1.4 in asg-web) and subnet app (nsg-app, app1 10.0.2.4)."""
    group = {"name": "rg", "location": "westeurope", "id": RG}
    out = [
        _resource("azurerm_resource_group.rg", group),
        _resource("azurerm_application_security_group.web", {"id": ASG, "name": "asg-web", "location": "westeurope",
                                                              "resource_group_name": "rg"}),
        _resource("azurerm_network_security_group.app", {"id": f"{NET}/networkSecurityGroups/nsg-app",
                  "name": "nsg-app", "location": "westeurope", "resource_group_name": "rg", "security_rule": rules}),
        _resource("azurerm_virtual_network.v", {"id": f"{NET}/virtualNetworks/v", "name": "v", "location": "westeurope",
                  "resource_group_name": "rg", "address_space": ["10.0.0.0/16"]}),
    ]  # fmt: skip
    for name, prefix in (("web", "10.0.1.0/24"), ("app", "10.0.2.0/24")):
        out.append(
            _resource(f'azurerm_subnet.s["{name}"]', {"id": f"{NET}/virtualNetworks/v/subnets/{name}", "name": name,
                      "resource_group_name": "rg", "virtual_network_name": "v", "address_prefixes": [prefix]})
        )  # fmt: skip
    subnet = f"{NET}/virtualNetworks/v/subnets/app"
    association = {
        "id": subnet,
        "subnet_id": subnet,
        "network_security_group_id": f"{NET}/networkSecurityGroups/nsg-app",
    }
    out.append(_resource("azurerm_subnet_network_security_group_association.app", association))
    out.append(_nic("web1", web1_subnet, "10.0.1.4" if web1_subnet == "web" else "10.0.2.5"))
    out.append(_nic("app1", "app", "10.0.2.4"))
    if asg:
        member = {"id": f"{WEB1}|{ASG}", "network_interface_id": WEB1, "application_security_group_id": ASG}
        out.append(_resource("azurerm_network_interface_application_security_group_association.web1", member))
    return out


def plan_file(tmp_path: Path, prior: list[dict[str, Any]], planned: list[dict[str, Any]]) -> Path:
    data = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": prior}}},
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": [],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def diff(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["diff", *args])
    assert "Traceback" not in result.output
    text = result.stderr if result.exit_code == 2 else result.stdout  # errors go to stderr, as JSON with --json
    return result.exit_code, json.loads(text) if "--json" in args else text


def _in_ranges(value: int, ranges: list[str]) -> bool:
    for text in ranges:
        low, _, high = text.partition("-")
        if int(low) <= value <= int(high or low):
            return True
    return False


def _in_addresses(address: str, ranges: list[str]) -> bool:
    ip = ipaddress.ip_address(address)
    for text in ranges:
        if "/" in text:
            if ip in ipaddress.ip_network(text):
                return True
        else:
            low, _, high = text.partition("-")
            if ipaddress.ip_address(low) <= ip <= ipaddress.ip_address(high or low):
                return True
    return False


def covers(change: dict[str, Any], port: int, remote: str) -> bool:
    return _in_ranges(port, change["localPorts"]) and _in_addresses(remote, change["remoteAddresses"])


def test_a_plan_that_adds_a_rule(tmp_path: Path) -> None:
    added = rule("allow-ssh-from-web", 110, "22")
    path = plan_file(tmp_path, network(BASE), network([*BASE, added]))
    code, body = diff("--plan", str(path), "--json")
    assert code == 3
    (change,) = body["changes"]
    assert change == {
        "nic": APP1, "direction": "Inbound", "protocols": ["TCP"], "localAddresses": ["10.0.2.4"],
        "localPorts": ["22"], "remoteAddresses": ["10.0.1.0/24"], "remotePorts": ["0-65535"],
        "flows": 256 * 65536, "witness": change["witness"],
        "before": {"access": "Deny", "ruleName": "securityRules/deny-vnet"},
        "after": {"access": "Allow", "ruleName": "securityRules/allow-ssh-from-web"},
    }  # fmt: skip
    witness = change["witness"]
    assert (witness["targetResourceId"], witness["direction"], witness["protocol"]) == (APP1, "Inbound", "TCP")
    assert (witness["localIPAddress"], witness["localPort"]) == ("10.0.2.4", "22")
    assert _in_addresses(witness["remoteIPAddress"], ["10.0.1.0/24"])
    assert body["summary"] == {"nics": 1, "changedBoxes": 1, "changedFlows": 256 * 65536,
                               "opened": 256 * 65536, "closed": 0}  # fmt: skip
    assert (body["addedNics"], body["removedNics"]) == ([], [])
    # The witness really is decided so: verify on the plan's planned values agrees.
    verified = CliRunner().invoke(app, ["verify", str(path), "--nic", "app1", "--direction", "Inbound",
                                        "--local", "10.0.2.4:22", "--remote",
                                        f"{witness['remoteIPAddress']}:{witness['remotePort']}", "--json"])  # fmt: skip
    assert json.loads(verified.stdout)["ruleName"] == "securityRules/allow-ssh-from-web"


def test_a_plan_whose_priority_change_flips_shadowing(tmp_path: Path) -> None:
    deny = rule("deny-low-ports", 200, "20-30", "Deny", source_address_prefix="*")
    before = [deny, rule("allow-ssh", 300, "22"), *BASE]
    after = [deny, rule("allow-ssh", 150, "22"), *BASE]
    code, body = diff("--plan", str(plan_file(tmp_path, network(before), network(after))), "--json")
    assert code == 3
    (change,) = body["changes"]
    assert (change["nic"], change["localPorts"], change["remoteAddresses"], change["flows"]) == (
        APP1,
        ["22"],
        ["10.0.1.0/24"],
        256 * 65536,
    )
    assert change["before"] == {"access": "Deny", "ruleName": "securityRules/deny-low-ports"}
    assert change["after"] == {"access": "Allow", "ruleName": "securityRules/allow-ssh"}


def test_a_plan_that_deletes_an_asg_association(tmp_path: Path) -> None:
    path = plan_file(tmp_path, network(BASE), network(BASE, asg=False))
    code, body = diff("--plan", str(path), "--json")
    assert code == 3
    (change,) = body["changes"]
    assert change["nic"] == APP1
    assert (change["protocols"], change["localPorts"], change["remoteAddresses"], change["remotePorts"]) == (
        ["TCP"],
        ["8080"],
        ["10.0.1.4"],
        ["0-65535"],
    )
    assert change["flows"] == 65536
    assert change["before"] == {"access": "Allow", "ruleName": "securityRules/allow-web-8080"}
    assert change["after"] == {"access": "Deny", "ruleName": "securityRules/deny-vnet"}
    assert body["summary"]["closed"] == 65536 and body["summary"]["opened"] == 0
    assert change["witness"]["remoteIPAddress"] == "10.0.1.4"


def test_a_plan_that_moves_a_nic_between_subnets(tmp_path: Path) -> None:
    """web1 moves from subnet web (no NSG) into subnet app, behind nsg-app: inbound from the Internet closes."""
    path = plan_file(tmp_path, network(BASE), network(BASE, web1_subnet="app"))
    code, body = diff("--plan", str(path), "--json")
    assert code == 3
    closed = [c for c in body["changes"] if c["nic"] == WEB1 and c["after"]["access"] == "Deny"]
    assert any(covers(c, 443, "203.0.113.9") for c in closed)


def test_markdown_for_the_pull_request_and_the_human_table(tmp_path: Path) -> None:
    path = plan_file(tmp_path, network(BASE), network(BASE, asg=False))
    comment = tmp_path / "comment.md"
    code, text = diff("--plan", str(path), "--markdown", str(comment))
    assert code == 3
    assert "app1" in text and "Allow → Deny" in text and "65,536 flows" in text
    markdown = comment.read_text(encoding="utf-8")
    assert markdown.startswith("## OpenNSG: what this change opens and closes")
    assert "**0 flows opened, 65,536 closed** at 1 NIC(s)." in markdown
    (row,) = [line for line in markdown.splitlines() if line.startswith("| `app1`")]
    assert "🔴 closes" in row and "8080" in row and "10.0.1.4" in row and "| 65,536 |" in row
    assert "`10.0.1.4:" in row and "→ 10.0.2.4:8080`" in row


def test_a_plan_that_changes_no_access_exits_0(tmp_path: Path) -> None:
    renamed = [{**BASE[0], "description": "web tier to app tier"}, BASE[1]]
    path = plan_file(tmp_path, network(BASE), network(renamed))
    code, body = diff("--plan", str(path), "--json")
    assert (code, body["changes"], body["summary"]["changedBoxes"]) == (0, [], 0)
    comment = tmp_path / "comment.md"
    code, text = diff("--plan", str(path), "--markdown", str(comment))
    assert code == 0 and "No change in access at 2 NIC(s)." in text
    assert "No change in access at 2 NIC(s)." in comment.read_text(encoding="utf-8")


def test_a_new_nic_in_the_plan_is_listed_as_added(tmp_path: Path) -> None:
    planned = [*network(BASE), _nic("app2", "app", "10.0.2.6")]
    code, body = diff("--plan", str(plan_file(tmp_path, network(BASE), planned)), "--json")
    assert code == 0 and body["addedNics"] == [f"{NET}/networkInterfaces/app2"]


def test_bad_input_exits_2_with_an_arm_style_error(tmp_path: Path) -> None:
    arm = tmp_path / "arm.json"
    arm.write_text(json.dumps({"value": []}), encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": "1.2", "planned_values": ', encoding="utf-8")
    plan = plan_file(tmp_path, network(BASE), network(BASE))
    cases = {
        "not a plan": (["--plan", str(arm)], "TerraformInvalidPlan"),
        "no such file": (["--plan", str(tmp_path / "missing.json")], "FileNotFound"),
        "not JSON": (["--plan", str(broken)], "InvalidJson"),
        "both forms": (["--plan", str(plan), str(arm), str(arm)], "InvalidParameter"),
    }
    for what, (args, code) in cases.items():
        exit_code, body = diff(*args, "--json")
        assert exit_code == 2, what
        assert body["error"]["code"] == code or any(d["code"] == code for d in body["error"].get("details", [])), (
            what,
            body,
        )


def test_an_unknown_value_the_diff_needs_exits_2_naming_the_address(tmp_path: Path) -> None:
    planned = network(BASE)
    nic = next(r for r in planned if r["address"] == "azurerm_network_interface.app1")
    nic["values"]["ip_configuration"][0].pop("subnet_id")
    data = {
        "format_version": "1.2",
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": network(BASE)}}},
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": [
            {"address": "azurerm_network_interface.app1", "change": {"actions": ["update"],
             "after_unknown": {"ip_configuration": [{"subnet_id": True}]}}}
        ],
    }  # fmt: skip
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    code, body = diff("--plan", str(path), "--json")
    assert code == 2
    messages = [body["error"]["message"], *(d["message"] for d in body["error"].get("details", []))]
    assert any(
        m.startswith(f"{path}:") and 'azurerm_network_interface.app1: ip_configuration "ipconfig1": subnet_id' in m
        for m in messages
    ), messages
