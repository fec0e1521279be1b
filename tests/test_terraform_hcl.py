"""Terraform HCL: every supported function and construct evaluated as Terraform does, every error with file:line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from opennsg.arm import load_paths
from opennsg.model import OpenNsgError, Topology
from opennsg.terraform import PLACEHOLDER_SUBSCRIPTION, TerraformInputs
from opennsg.terraform.expressions import Scope, evaluate
from opennsg.terraform.syntax import parse_expression
from opennsg.terraform.values import EvaluationError, TfSet


def value(text: str, **names: Any) -> Any:
    def no_names(name: str) -> Any:
        raise KeyError(name)

    return evaluate(parse_expression(text, "test.tf", 1), Scope(names, no_names))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"),
        ('cidrsubnet("10.1.0.0/16", 4, 15)', "10.1.240.0/20"),
        ('cidrsubnet("fd00::/48", 16, 3)', "fd00:0:0:3::/64"),
        ('cidrsubnets("10.1.0.0/16", 4, 4, 8, 4)', ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"]),
        ('cidrhost("10.0.1.0/24", 4)', "10.0.1.4"),
        ('cidrhost("10.0.1.0/24", -2)', "10.0.1.254"),
        ("concat([1], [2, 3], [])", [1, 2, 3]),
        ("merge({a = 1, b = 2}, {b = 3}, null)", {"a": 1, "b": 3}),
        ('lookup({a = "x"}, "a", "d")', "x"),
        ('lookup({a = "x"}, "b", "d")', "d"),
        ('format("%s-%03d-%v-%q", "web", 7, true, "x")', 'web-007-true-"x"'),
        ('format("%.2f|%5s|%-3d|%%", 1.5, "ab", 4)', "1.50|   ab|4  |%"),
        ('join(",", ["a", "b"], ["c"])', "a,b,c"),
        ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
        ("flatten([[1, [2]], [], 3])", [1, 2, 3]),
        ('distinct(["a", "b", "a"])', ["a", "b"]),
        ('length("héllo")', 5),
        ("length({a = 1})", 1),
        ("element([1, 2, 3], 4)", 2),
        ("keys({b = 1, a = 2})", ["a", "b"]),
        ("values({b = 1, a = 2})", [2, 1]),
        ('tolist(toset(["b", "a", "b"]))', ["a", "b"]),
        ('tomap({a = "1"})', {"a": "1"}),
        ('try(local_missing.x, "fallback")', "fallback"),
        ('try(tonumber("x"), 7)', 7),
        ('coalesce("", null, "x")', "x"),
        ('contains(["a", "b"], "b")', True),
        ('contains([1], "1")', False),
        ('lower("ABC")', "abc"),
        ('upper("abc")', "ABC"),
        ('replace("a-b-c", "-", "_")', "a_b_c"),
        ('replace("web01", "/([a-z]+)(\\\\d+)/", "$2$1")', "01web"),
        ('jsonencode({a = [1, "x", true, null]})', '{"a":[1,"x",true,null]}'),
        ('jsondecode("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ('can(tonumber("12"))', True),
        ('can(tonumber("x"))', False),
        ("range(3)", [0, 1, 2]),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ("one([])", None),
        ('substr("network", 0, 3)', "net"),
        ("tostring(80)", "80"),
    ],
)
def test_function(expression: str, expected: Any) -> None:
    assert value(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a-${1 + 2}-b"', "a-3-b"),
        ('"%{if true}yes%{else}no%{endif}"', "yes"),
        ('"%{for x in ["a", "b"]}<${x}>%{endfor}"', "<a><b>"),
        ('"$${not} %%{this}"', "${not} %{this}"),
        ('"tab\\there \\u00e9"', "tab\there é"),
        ("true ? 1 : 2", 1),
        ('1 == 1 && "a" != "b" || false', True),
        ("10 / 4 * 2 - 1 % 3", 4),
        ("-(3) + 5", 2),
        ("!false", True),
        ('[for s in ["a", "b"] : upper(s) if s != "b"]', ["A"]),
        ("{for k, v in {a = 1, b = 2} : v => k}", {"1": "a", "2": "b"}),
        ('{for s in ["x", "y", "x"] : s => 1...}', {"x": [1, 1], "y": [1]}),
        ("[{n = 1}, {n = 2}][*].n", [1, 2]),
        ("[{n = [1]}].*.n[0]", [1]),
        ("{a = {b = [10, 20]}}.a.b[1]", 20),
        ('{"k-1" = 1}["k-1"]', 1),
        ("[1, 2, 3].1", 2),
    ],
)
def test_construct(expression: str, expected: Any) -> None:
    assert value(expression) == expected


def test_heredoc_and_sets() -> None:
    assert value("<<-EOT\n    hello ${name}\n      indented\n    EOT\n", name="you") == "hello you\n  indented\n"
    assert isinstance(value('toset(["b", "a"])'), TfSet)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("nosuch(1)", "unknown function nosuch()"),
        ('cidrsubnet("10.0.0.0/30", 8, 1)', "insufficient address space"),
        ('lookup({}, "x")', 'the given key "x" does not exist'),
        ('"a" + 1', "is not a number"),
        ("[1][5]", "out of range"),
        ('toset(["a"])[0]', "not indexed"),
    ],
)
def test_expression_errors(expression: str, message: str) -> None:
    with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        value(expression)


# --- modules -------------------------------------------------------------------------------------------------

NSG_MODULE = """
resource "azurerm_resource_group" "rg" {
  name     = "rg1"
  location = "westeurope"
}

resource "azurerm_network_security_group" "web" {
  name                = "nsg-web"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
%s
}
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return directory


def load(directory: Path, **inputs: Any) -> Topology:
    return load_paths([directory], terraform=TerraformInputs(**inputs))


def problems(directory: Path, **inputs: Any) -> list[str]:
    with pytest.raises(OpenNsgError) as caught:
        load(directory, **inputs)
    return [e.message for e in caught.value.errors]


def rule(name: str, priority: Any = 100, port: str = '"22"', extra: str = "") -> str:
    return f"""
  security_rule {{
    name                       = "{name}"
    priority                   = {priority}
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = {port}
    source_address_prefix      = "*"
    destination_address_prefix = "*"{extra}
  }}"""


def test_validation_problems_point_at_the_block_all_at_once(tmp_path: Path) -> None:
    body = rule("ssh", 42) + rule("web", 100, '"80"') + rule("dup", 100, '"81"')
    write(tmp_path, {"main.tf": NSG_MODULE % body})
    found = problems(tmp_path)
    main = tmp_path / "main.tf"
    assert found[0] == (
        f'{main}:12: security_rule "ssh": '
        "Security rule has invalid Priority. Value provided: 42 Allowed range 100-4096."
    )
    assert any(
        m.startswith(f'{main}:34: security_rule "dup": Security rule dup conflicts with rule web') for m in found
    )
    assert len(found) == 2


def test_variables_tfvars_var_files_and_vars_in_terraform_precedence(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": NSG_MODULE % rule("ssh", "var.priority", "var.port")
            + """
variable "priority" {
  type = number
}
variable "port" {
  type    = string
  default = "1"
}
variable "rules" {
  type    = list(object({ name = string, port = optional(number, 443) }))
  default = []
}
""",
            "terraform.tfvars": 'priority = "150"\nport = "2"\n',
            "b.auto.tfvars": "port = 3\n",
            "a.auto.tfvars": "port = 4\n",
            "extra.tfvars.json": json.dumps({"port": "5"}),
        },
    )
    (rule_,) = next(iter(load(tmp_path).nsgs.values())).security_rules
    assert (rule_.priority, rule_.destination_port_range) == (150, "3")  # b.auto.tfvars is read after a.auto.tfvars
    topology = load(tmp_path, var_files=(tmp_path / "extra.tfvars.json",))
    assert next(iter(topology.nsgs.values())).security_rules[0].destination_port_range == "5"
    topology = load(tmp_path, var_files=(tmp_path / "extra.tfvars.json",), variables={"port": "6", "priority": "200"})
    assert next(iter(topology.nsgs.values())).security_rules[0].priority == 200


def test_complex_var_values_are_parsed_as_hcl_and_converted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": NSG_MODULE
            % """
  dynamic "security_rule" {
    for_each = var.rules
    content {
      name                       = security_rule.value.name
      priority                   = 100 + security_rule.key
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = security_rule.value.port
      source_address_prefix      = "*"
      destination_address_prefix = "*"
    }
  }"""
            + """
variable "rules" {
  type = list(object({ name = string, port = optional(number, 443) }))
}
""",
        },
    )
    topology = load(tmp_path, variables={"rules": '[{ name = "a" }, { name = "b", port = "8080" }]'})
    rules = next(iter(topology.nsgs.values())).security_rules
    assert [(r.name, r.priority, r.destination_port_range) for r in rules] == [("a", 100, "443"), ("b", 101, "8080")]


def test_missing_and_undeclared_variables(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'variable "needed" {\n  type = string\n}\n'})
    assert problems(tmp_path)[0].startswith(f'{tmp_path / "main.tf"}:1: variable "needed": no value for required')
    assert any('no variable "other"' in m for m in problems(tmp_path, variables={"needed": "x", "other": "y"}))


def test_cycle_between_locals_names_file_line_and_chain(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'locals {\n  a = local.b\n  b = "${local.a}-x"\n  c = 1\n}\n'})
    (message,) = problems(tmp_path)
    assert message == f"{tmp_path / 'main.tf'}:2: local.a: cycle: local.a -> local.b -> local.a"


def test_unknown_function_data_source_remote_module_with_file_and_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": """
data "azurerm_subnet" "shared" {
  name = "shared"
}

module "remote" {
  source = "Azure/network/azurerm"
}

locals {
  bad = nosuch(1)
}

resource "azurerm_network_interface" "nic" {
  name                = "nic"
  location            = "westeurope"
  resource_group_name = "rg"
  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = data.azurerm_subnet.shared.id
    private_ip_address_allocation = "Dynamic"
  }
}
""",
        },
    )
    main = tmp_path / "main.tf"
    found = problems(tmp_path)
    assert any(m.startswith(f'{main}:7: module "remote": module source "Azure/network/azurerm"') for m in found)
    assert any(m.startswith(f"{main}:11: locals: in `nosuch(1)`: unknown function nosuch()") for m in found)
    data = next(m for m in found if "data source" in m)
    assert data.startswith(
        f'{main}:20: ip_configuration "ipconfig1": in `data.azurerm_subnet.shared.id`: data source '
        "data.azurerm_subnet.shared"
    )
    assert "(declared at" in data and "plan.json" in data


def test_unknown_after_apply_value_is_an_error_naming_the_expression(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": NSG_MODULE
            % rule("to-pip", extra="\n    destination_address_prefixes = [azurerm_public_ip.pip.ip_address]").replace(
                'destination_address_prefix = "*"', "destination_address_prefix = null"
            )
            + """
resource "azurerm_public_ip" "pip" {
  name                = "pip"
  location            = "westeurope"
  resource_group_name = "rg1"
  allocation_method   = "Static"
}
""",
        },
    )
    (message,) = problems(tmp_path)
    written = (tmp_path / "main.tf").read_text().splitlines()
    line = next(i for i, text in enumerate(written, 1) if "destination_address_prefixes = [" in text)
    assert line == 22  # the argument's own line, inside security_rule "to-pip" (line 12)
    assert message.startswith(f'{tmp_path / "main.tf"}:{line}: security_rule "to-pip": destination_address_prefixes')
    assert "azurerm_public_ip.pip.ip_address" in message and "known only after apply" in message


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'resource "x" "y" {\n  a = \n}\n'})
    (message,) = problems(tmp_path)
    assert message.startswith(f"{tmp_path / 'main.tf'}:2: column")


def test_modules_count_and_outputs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": """
provider "azurerm" {
  features {}
  subscription_id = "11111111-1111-1111-1111-111111111111"
}
module "net" {
  source = "./net"
  count  = 2
  name   = "vnet${count.index}"
  space  = cidrsubnet("10.0.0.0/8", 8, count.index)
}
resource "azurerm_network_security_group" "nsg" {
  name                = "nsg"
  location            = "westeurope"
  resource_group_name = "rg"
}
resource "azurerm_subnet_network_security_group_association" "a" {
  count                     = 2
  subnet_id                 = module.net[count.index].subnet_ids[0]
  network_security_group_id = azurerm_network_security_group.nsg.id
}
""",
            "net/main.tf": """
variable "name" {}
variable "space" {}
resource "azurerm_virtual_network" "v" {
  name                = var.name
  location            = "westeurope"
  resource_group_name = "rg"
  address_space       = [var.space]
}
resource "azurerm_subnet" "s" {
  count                = 2
  name                 = "s${count.index}"
  resource_group_name  = "rg"
  virtual_network_name = azurerm_virtual_network.v.name
  address_prefixes     = [cidrsubnet(var.space, 8, count.index)]
}
output "subnet_ids" {
  value = azurerm_subnet.s[*].id
}
""",
        },
    )
    topology = load(tmp_path)
    sub = "11111111-1111-1111-1111-111111111111"
    nsg_id = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg"
    assert {
        s.id.rsplit("/providers/", 1)[1]: (s.address_prefixes, s.network_security_group) for s in topology.subnets
    } == {
        "Microsoft.Network/virtualNetworks/vnet0/subnets/s0": (("10.0.0.0/24",), nsg_id),
        "Microsoft.Network/virtualNetworks/vnet0/subnets/s1": (("10.0.1.0/24",), None),
        "Microsoft.Network/virtualNetworks/vnet1/subnets/s0": (("10.1.0.0/24",), nsg_id),
        "Microsoft.Network/virtualNetworks/vnet1/subnets/s1": (("10.1.1.0/24",), None),
    }


def test_subscription_precedence_in_hcl(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": NSG_MODULE % ""})
    assert next(iter(load(tmp_path).nsgs.values())).subscription_id == PLACEHOLDER_SUBSCRIPTION
    assert next(iter(load(tmp_path, subscription="abc").nsgs.values())).subscription_id == "abc"
    write(tmp_path, {"provider.tf": 'provider "azurerm" {\n  subscription_id = "lit"\n  features {}\n}\n'})
    assert next(iter(load(tmp_path).nsgs.values())).subscription_id == "lit"
    assert next(iter(load(tmp_path, subscription="abc").nsgs.values())).subscription_id == "abc"


def test_standalone_resources_win_over_parent_attributes(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "main.tf": NSG_MODULE % (rule("ssh", 100) + rule("keep", 300))
            + """
resource "azurerm_network_security_rule" "ssh" {
  name                        = "SSH"
  priority                    = 200
  direction                   = "Inbound"
  access                      = "Deny"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_range      = "22"
  source_address_prefix       = "*"
  destination_address_prefix  = "*"
  resource_group_name         = "rg1"
  network_security_group_name = azurerm_network_security_group.web.name
}
resource "azurerm_virtual_network" "v" {
  name                = "v"
  location            = "westeurope"
  resource_group_name = "rg1"
  address_space       = ["10.0.0.0/16"]
  subnet {
    name             = "a"
    address_prefixes = ["10.0.1.0/24"]
    security_group   = azurerm_network_security_group.web.id
  }
}
resource "azurerm_subnet" "a" {
  name                 = "a"
  resource_group_name  = "rg1"
  virtual_network_name = "v"
  address_prefixes     = ["10.0.9.0/24"]
}
""",
        },
    )
    topology = load(tmp_path)
    nsg = next(iter(topology.nsgs.values()))
    assert sorted((r.name, r.priority, r.access.value) for r in nsg.security_rules) == [
        ("SSH", 200, "Deny"),
        ("keep", 300, "Allow"),
    ]
    (subnet,) = topology.subnets
    assert subnet.address_prefixes == ("10.0.9.0/24",)
