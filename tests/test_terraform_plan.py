"""Plan and state JSON: planned values, prior state, after_unknown, configuration references, subscription
precedence, standalone resources over stale parent lists, errors naming the resource address; ``load_plan``
on the plans a pull request makes (a rule added, shadowing flipped by a priority, a NIC moved, an ASG dropped)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.arm import load_paths
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Access, Direction, OpenNsgError
from opennsg.terraform import PLACEHOLDER_SUBSCRIPTION, TerraformInputs, load_plan

SUB = "5f1c0c3e-0000-4c2d-9e1f-2a3b4c5d6e7f"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
NET = f"{RG}/providers/Microsoft.Network"


def rule(name: str, priority: int, port: str, access: str = "Allow", source: str = "*", **extra: Any) -> dict[str, Any]:
    values = {
        "access": access, "description": "", "direction": "Inbound", "name": name, "priority": priority,
        "protocol": "Tcp", "source_address_prefix": source, "source_address_prefixes": [],
        "source_application_security_group_ids": [], "source_port_range": "*", "source_port_ranges": [],
        "destination_address_prefix": "*", "destination_address_prefixes": [],
        "destination_application_security_group_ids": [], "destination_port_range": port,
        "destination_port_ranges": [],
    }  # fmt: skip
    values.update(extra)
    return values


def resource(address: str, values: dict[str, Any], index: Any = None) -> dict[str, Any]:
    kind, name = address.split("[")[0].split(".")[-2:]
    out = {"address": address, "mode": "managed", "type": kind, "name": name, "values": values}
    if index is not None:
        out["index"] = index
    return out


def network(rules: list[dict[str, Any]], nic_subnet: str = "web", asg: bool = True) -> list[dict[str, Any]]:
    """An NSG on subnet web; NIC web1 (10.0.1.4) in ``nic_subnet``; an ASG of web1 used by a rule."""
    subnets = {"web": "10.0.1.0/24", "app": "10.0.2.0/24"}
    out = [
        resource("azurerm_resource_group.rg", {"id": RG, "name": "rg", "location": "westeurope"}),
        resource("azurerm_application_security_group.web", {"id": f"{NET}/applicationSecurityGroups/asg-web",
                 "name": "asg-web", "location": "westeurope", "resource_group_name": "rg"}),
        resource("azurerm_network_security_group.web", {"id": f"{NET}/networkSecurityGroups/nsg-web", "name": "nsg-web",
                 "location": "westeurope", "resource_group_name": "rg", "security_rule": rules}),
        resource("azurerm_virtual_network.v", {"id": f"{NET}/virtualNetworks/v", "name": "v", "location": "westeurope",
                 "resource_group_name": "rg", "address_space": ["10.0.0.0/16"], "subnet": []}),
    ]  # fmt: skip
    for name, prefix in subnets.items():
        out.append(
            resource(f'azurerm_subnet.s["{name}"]', {"id": f"{NET}/virtualNetworks/v/subnets/{name}", "name": name,
                     "resource_group_name": "rg", "virtual_network_name": "v", "address_prefixes": [prefix]}, name)
        )  # fmt: skip
    subnet_id = f"{NET}/virtualNetworks/v/subnets/web"
    nsg_id = f"{NET}/networkSecurityGroups/nsg-web"
    association = {"id": subnet_id, "subnet_id": subnet_id, "network_security_group_id": nsg_id}
    out.append(resource("azurerm_subnet_network_security_group_association.web", association))
    address = "10.0.1.4" if nic_subnet == "web" else "10.0.2.4"
    out.append(
        resource("azurerm_network_interface.web1", {"id": f"{NET}/networkInterfaces/web1", "name": "web1",
                 "location": "westeurope", "resource_group_name": "rg", "ip_configuration": [
                     {"name": "ipconfig1", "primary": True, "private_ip_address": address,
                      "private_ip_address_allocation": "Dynamic", "private_ip_address_version": "IPv4",
                      "subnet_id": f"{NET}/virtualNetworks/v/subnets/{nic_subnet}"}]})
    )  # fmt: skip
    if asg:
        out.append(
            resource("azurerm_network_interface_application_security_group_association.web1",
                     {"network_interface_id": f"{NET}/networkInterfaces/web1",
                      "application_security_group_id": f"{NET}/applicationSecurityGroups/asg-web"})
        )  # fmt: skip
    return out


def plan(prior: list[dict[str, Any]] | None, planned: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": [],
    }
    if prior is not None:
        out["prior_state"] = {"format_version": "1.0", "values": {"root_module": {"resources": prior}}}
    out.update(extra)
    return out


def write(tmp_path: Path, data: dict[str, Any], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def inbound(engine: Engine, port: int, remote: str = "203.0.113.9", local: str = "10.0.1.4") -> tuple[Access, Any]:
    verdict = engine.verify("web1", Flow.make(Direction.INBOUND, 6, local, port, remote, 50000))
    return verdict.access, verdict.rule_name


BASE = [rule("allow-https", 100, "443")]


def test_plan_that_adds_a_rule(tmp_path: Path) -> None:
    path = write(tmp_path, plan(network(BASE), network([*BASE, rule("allow-ssh", 110, "22")])))
    prior, planned = load_plan(path)
    assert inbound(Engine(prior), 22) == (Access.DENY, "defaultSecurityRules/DenyAllInBound")
    assert inbound(Engine(planned), 22) == (Access.ALLOW, "securityRules/allow-ssh")
    assert inbound(Engine(planned), 443) == inbound(Engine(prior), 443)


def test_plan_that_flips_shadowing_by_a_priority(tmp_path: Path) -> None:
    before = [rule("deny-range", 200, "20-30", "Deny"), rule("allow-ssh", 300, "22")]
    after = [rule("deny-range", 200, "20-30", "Deny"), rule("allow-ssh", 150, "22")]
    prior, planned = load_plan(write(tmp_path, plan(network(before), network(after))))
    assert inbound(Engine(prior), 22) == (Access.DENY, "securityRules/deny-range")
    assert inbound(Engine(planned), 22) == (Access.ALLOW, "securityRules/allow-ssh")
    assert inbound(Engine(planned), 25) == (Access.DENY, "securityRules/deny-range")


def test_plan_that_moves_a_nic_between_subnets(tmp_path: Path) -> None:
    prior, planned = load_plan(write(tmp_path, plan(network(BASE), network(BASE, nic_subnet="app"))))
    assert inbound(Engine(prior), 8080) == (Access.DENY, "defaultSecurityRules/DenyAllInBound")
    assert inbound(Engine(planned), 8080, local="10.0.2.4") == (Access.ALLOW, None)  # no NSG on subnet app


def test_plan_that_deletes_an_asg_association(tmp_path: Path) -> None:
    asg_rule = rule("web-from-web", 100, "8080", source="", source_application_security_group_ids=[
        f"{NET}/applicationSecurityGroups/asg-web"])  # fmt: skip
    prior, planned = load_plan(write(tmp_path, plan(network([asg_rule]), network([asg_rule], asg=False))))
    assert inbound(Engine(prior), 8080, remote="10.0.1.4") == (Access.ALLOW, "securityRules/web-from-web")
    assert inbound(Engine(planned), 8080, remote="10.0.1.4") == (Access.ALLOW, "defaultSecurityRules/AllowVnetInBound")
    assert inbound(Engine(prior), 8080) != inbound(Engine(planned), 8080, remote="10.0.1.4")


def test_a_plan_is_read_at_its_planned_values_by_every_command(tmp_path: Path) -> None:
    path = write(tmp_path, plan(network(BASE), network([*BASE, rule("allow-ssh", 110, "22")])))
    result = CliRunner().invoke(
        app, ["verify", str(path), "--nic", "web1", "--direction", "Inbound", "--local", "10.0.1.4:22",
              "--remote", "203.0.113.9:5000", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ruleName"] == "securityRules/allow-ssh"


def test_unknown_ids_and_references_resolve_through_the_configuration(tmp_path: Path) -> None:
    planned = network(BASE)
    association = next(r for r in planned if r["type"] == "azurerm_subnet_network_security_group_association")
    association["values"] = {}
    nsg = next(r for r in planned if r["type"] == "azurerm_network_security_group")
    del nsg["values"]["id"]
    changes = [
        {"address": association["address"], "change": {"actions": ["create"], "after_unknown": {
            "id": True, "subnet_id": True, "network_security_group_id": True}}},
        {"address": nsg["address"], "change": {"actions": ["create"], "after_unknown": {"id": True}}},
    ]  # fmt: skip
    configuration = {"root_module": {"resources": [{
        "address": "azurerm_subnet_network_security_group_association.web",
        "expressions": {
            "subnet_id": {"references": ['azurerm_subnet.s["web"].id', 'azurerm_subnet.s["web"]', "azurerm_subnet.s"]},
            "network_security_group_id": {"references": ["azurerm_network_security_group.web.id",
                                                         "azurerm_network_security_group.web"]}}}]}}  # fmt: skip
    topology = load_paths([write(tmp_path, plan(None, planned, resource_changes=changes, configuration=configuration))])
    (subnet,) = [s for s in topology.subnets if s.name == "web"]
    # The NSG's unknown id is the one its name and resource group imply (the group's id names the subscription).
    assert subnet.network_security_group == f"{NET}/networkSecurityGroups/nsg-web"


def test_an_unknown_value_a_verdict_needs_names_the_resource_address(tmp_path: Path) -> None:
    planned = network(BASE)
    nic = next(r for r in planned if r["type"] == "azurerm_network_interface")
    del nic["values"]["ip_configuration"][0]["subnet_id"]
    changes = [{"address": nic["address"], "change": {"actions": ["update"], "after_unknown": {
        "ip_configuration": [{"subnet_id": True}]}}}]  # fmt: skip
    path = write(tmp_path, plan(None, planned, resource_changes=changes))
    with pytest.raises(OpenNsgError) as caught:
        load_paths([path])
    (error,) = caught.value.errors
    assert error.message.startswith(f"{path}:") and ': ip_configuration "ipconfig1": subnet_id' in error.message
    assert "azurerm_network_interface.web1" in error.message and "known only after apply" in error.message


def test_subscription_precedence_for_ids_a_plan_does_not_hold(tmp_path: Path) -> None:
    planned = [resource("azurerm_application_security_group.a", {"name": "a", "resource_group_name": "other"})]
    changes = [{"address": "azurerm_application_security_group.a", "change": {"after_unknown": {"id": True}}}]
    path = write(tmp_path, plan(None, planned, resource_changes=changes))
    (asg,) = load_paths([path]).asgs.values()
    assert asg.subscription_id == PLACEHOLDER_SUBSCRIPTION
    (asg,) = load_paths([path], terraform=TerraformInputs(subscription="given")).asgs.values()
    assert asg.subscription_id == "given"
    provider = {"provider_config": {"azurerm": {"name": "azurerm", "expressions": {
        "subscription_id": {"constant_value": "from-provider"}}}}}  # fmt: skip
    path = write(tmp_path, plan(None, planned, resource_changes=changes, configuration=provider))
    (asg,) = load_paths([path]).asgs.values()
    assert asg.subscription_id == "from-provider"
    (asg,) = load_paths([path], terraform=TerraformInputs(subscription="given")).asgs.values()
    assert asg.subscription_id == "given"
    known = copy.deepcopy(planned)
    known[0]["values"]["id"] = (
        "/subscriptions/known/resourceGroups/other/providers/Microsoft.Network/applicationSecurityGroups/a"
    )
    (asg,) = load_paths(
        [write(tmp_path, plan(None, known))], terraform=TerraformInputs(subscription="given")
    ).asgs.values()
    assert asg.subscription_id == "known"


def test_state_with_child_modules_and_count_instances(tmp_path: Path) -> None:
    asgs = [
        resource(f"module.app.azurerm_application_security_group.a[{i}]",
                 {"id": f"{NET}/applicationSecurityGroups/a{i}", "name": f"a{i}", "resource_group_name": "rg"}, i)
        for i in range(3)
    ]  # fmt: skip
    state = {"format_version": "1.0", "terraform_version": "1.9.5",
             "values": {"root_module": {"child_modules": [{"address": "module.app", "resources": asgs}]}}}  # fmt: skip
    assert sorted(a.name for a in load_paths([write(tmp_path, state)]).asgs.values()) == ["a0", "a1", "a2"]


def test_a_module_directory_does_not_read_its_plan_unless_named(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "azurerm_application_security_group" "a" {\n  name = "from-hcl"\n  location = "x"\n'
        '  resource_group_name = "rg"\n}\n'
    )
    asg = {"id": f"{NET}/applicationSecurityGroups/from-plan", "name": "from-plan"}
    write(tmp_path, plan(None, [resource("azurerm_application_security_group.b", asg)]))
    assert [a.name for a in load_paths([tmp_path]).asgs.values()] == ["from-hcl"]
    both = load_paths([tmp_path, tmp_path / "plan.json"])
    assert sorted(a.name for a in both.asgs.values()) == ["from-hcl", "from-plan"]


def test_load_plan_refuses_what_is_not_a_plan(tmp_path: Path) -> None:
    with pytest.raises(OpenNsgError, match="is not a Terraform plan"):
        load_plan(write(tmp_path, {"format_version": "1.0", "values": {"root_module": {}}}))
    with pytest.raises(OpenNsgError, match=r"format_version 2\.0 is not supported"):
        load_plan(write(tmp_path, plan(None, []) | {"format_version": "2.0"}))


# --- the command line --------------------------------------------------------------------------------------------

MODULE = """
variable "port" {
  type = number
}
resource "azurerm_network_security_group" "nsg" {
  name                = "nsg"
  location            = "westeurope"
  resource_group_name = "rg"
  security_rule {
    name                       = "in"
    priority                   = var.priority
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = var.port
    source_address_prefix      = "*"
    destination_address_prefix = "*"
  }
}
variable "priority" {
  default = 100
}
"""


def test_cli_options_subscription_var_and_var_file(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MODULE)
    (tmp_path / "prod.tfvars").write_text("port = 8443\n")
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(tmp_path), "--var-file", str(tmp_path / "prod.tfvars"), "--json"])
    assert result.exit_code == 0, result.output
    (nsg,) = json.loads(result.stdout)["networkSecurityGroups"]
    assert nsg["id"].startswith(f"/subscriptions/{PLACEHOLDER_SUBSCRIPTION}/")
    assert nsg["rules"][0]["destinationPorts"] == ["8443"]
    assert "placeholder subscription" in result.stderr
    result = runner.invoke(
        app, ["show", str(tmp_path), "--var", "port=22", "--subscription", "sub-1", "--var-file",
              str(tmp_path / "prod.tfvars"), "--json"],
    )  # fmt: skip
    (nsg,) = json.loads(result.stdout)["networkSecurityGroups"]
    assert nsg["id"].startswith("/subscriptions/sub-1/") and nsg["rules"][0]["destinationPorts"] == ["22"]
    assert "placeholder" not in result.stderr


def test_validate_json_says_the_placeholder_subscription_in_its_notes(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MODULE)
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--var", "port=22", "--json"])
    assert result.exit_code == 0, result.output
    (note,) = [n for n in json.loads(result.stdout)["notes"] if "placeholder subscription" in n]
    assert PLACEHOLDER_SUBSCRIPTION in note and "--subscription" in note
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--var", "port=22", "--subscription", "s", "--json"])
    assert not [n for n in json.loads(result.stdout)["notes"] if "placeholder" in n]


def test_cli_errors_are_arm_style_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MODULE)
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--var", "port=22", "--var", "priority=5", "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "SecurityRuleInvalidPriority"
    assert error["message"].startswith(f'{tmp_path / "main.tf"}:9: security_rule "in": Security rule has invalid')
    assert error["target"] == f"{tmp_path / 'main.tf'}:9"
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--json"])
    assert result.exit_code == 2 and "no value for required variable port" in result.stderr
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "--var", "port"])
    assert result.exit_code == 2 and "must be NAME=VALUE" in result.stderr


def test_cli_export_terraform_round_trip(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parent.parent / "examples" / "three-tier.json"
    out = tmp_path / "module"
    result = CliRunner().invoke(app, ["export", str(source), "--format", "terraform", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"] == [str(out / "main.tf")]
    again = CliRunner().invoke(app, ["show", str(out), "--json"])
    original = CliRunner().invoke(app, ["show", str(source), "--json"])
    assert json.loads(again.stdout) == json.loads(original.stdout)


def test_a_tfvars_path_is_a_var_file_and_tf_json_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MODULE)
    (tmp_path / "prod.tfvars").write_text("port = 8443\n")
    nsg = next(iter(load_paths([tmp_path, tmp_path / "prod.tfvars"]).nsgs.values()))
    assert nsg.security_rules[0].destination_port_range == "8443"
    (tmp_path / "extra.tf.json").write_text("{}")
    with pytest.raises(OpenNsgError, match=r"extra\.tf\.json:1: column 1: Terraform JSON syntax"):
        load_paths([tmp_path, tmp_path / "prod.tfvars"])
