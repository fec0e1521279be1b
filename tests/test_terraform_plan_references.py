"""Values a plan leaves unknown until apply, resolved to the ids the resources will get: through the references the
``configuration`` section lists (count/for_each instances by key, module outputs, module inputs) and, where those
are not enough (``local.*``, ``each.value``, ``x[each.value.k]``), through the module's ``.tf`` files beside the
plan. What cannot be resolved stays an error naming the plan's file, line and resource address."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from opennsg.arm import load_paths
from opennsg.model import OpenNsgError, Topology

SUB = "5f1c0c3e-0000-4c2d-9e1f-2a3b4c5d6e7f"
NET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network"
SUBNETS = {"web": "10.0.1.0/24", "app": "10.0.2.0/24"}

MAIN_TF = (
    """
provider "azurerm" {
  subscription_id = "SUBSCRIPTION"
  features {}
}

locals {
  app_subnet_id = azurerm_subnet.s["app"].id
  nics = {
    web1 = { subnet = "web", ip = "10.0.1.4" }
    app1 = { subnet = "app", ip = "10.0.2.4" }
  }
}

resource "azurerm_virtual_network" "v" {
  name                = "v"
  location            = "westeurope"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "s" {
  for_each             = { web = "10.0.1.0/24", app = "10.0.2.0/24" }
  name                 = each.key
  resource_group_name  = "rg"
  virtual_network_name = azurerm_virtual_network.v.name
  address_prefixes     = [each.value]
}

resource "azurerm_network_interface" "n" {
  for_each            = local.nics
  name                = each.key
  location            = "westeurope"
  resource_group_name = "rg"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.s[each.value.subnet].id
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.ip
  }
}

resource "azurerm_network_interface" "solo" {
  name                = "solo"
  location            = "westeurope"
  resource_group_name = "rg"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = local.app_subnet_id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.2.10"
  }
}
"""
).replace("SUBSCRIPTION", SUB)


def _instance(address: str, values: dict[str, Any], index: Any = None) -> dict[str, Any]:
    own = re.sub(r"^(module\.[^.\[]+(\[[^\]]+\])?\.)+", "", address)  # without the module path
    kind, name = own.split("[")[0].split(".")
    out = {"address": address, "mode": "managed", "type": kind, "name": name, "values": values}
    if index is not None:
        out["index"] = index
    return out


def _nic(address: str, name: str, ip: str, index: Any = None) -> dict[str, Any]:
    config = {"name": "ipconfig1", "private_ip_address_allocation": "Static", "private_ip_address": ip}
    return _instance(
        address,
        {"name": name, "location": "westeurope", "resource_group_name": "rg", "ip_configuration": [config]},
        index,
    )


def _refs(*references: str) -> dict[str, Any]:
    return {"references": list(references)}


def _nic_expressions(subnet: dict[str, Any]) -> dict[str, Any]:
    return {"name": _refs("each.key"), "ip_configuration": [{"subnet_id": subnet}]}


def _plan(instances: list[dict[str, Any]], configuration: list[dict[str, Any]], **root: Any) -> dict[str, Any]:
    """A creation plan: every id unknown, every NIC's subnet_id unknown (its subnet is created too)."""
    changes = []
    for instance in instances:
        unknown: dict[str, Any] = {"id": True}
        if instance["type"] == "azurerm_network_interface":
            unknown["ip_configuration"] = [{"subnet_id": True, "id": True}]
        changes.append(
            {
                "address": instance["address"],
                "type": instance["type"],
                "name": instance["name"],
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": instance["values"],
                    "after_unknown": unknown,
                },
            }
        )
    provider = {"azurerm": {"name": "azurerm", "expressions": {"subscription_id": {"constant_value": SUB}}}}
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": instances, **root.pop("planned", {})}},
        "resource_changes": changes,
        "configuration": {"provider_config": provider, "root_module": {"resources": configuration, **root}},
    }


def _root_plan() -> dict[str, Any]:
    instances = [
        _instance(
            "azurerm_virtual_network.v",
            {"name": "v", "location": "westeurope", "resource_group_name": "rg", "address_space": ["10.0.0.0/16"]},
        ),
        *(
            _instance(
                f'azurerm_subnet.s["{k}"]',
                {"name": k, "resource_group_name": "rg", "virtual_network_name": "v", "address_prefixes": [p]},
                k,
            )
            for k, p in SUBNETS.items()
        ),
        _nic('azurerm_network_interface.n["web1"]', "web1", "10.0.1.4", "web1"),
        _nic('azurerm_network_interface.n["app1"]', "app1", "10.0.2.4", "app1"),
        _nic("azurerm_network_interface.solo", "solo", "10.0.2.10"),
    ]
    configuration = [
        {"address": "azurerm_virtual_network.v", "type": "azurerm_virtual_network", "name": "v", "expressions": {}},
        {
            "address": "azurerm_subnet.s",
            "type": "azurerm_subnet",
            "name": "s",
            "expressions": {
                "virtual_network_name": _refs("azurerm_virtual_network.v.name", "azurerm_virtual_network.v")
            },
        },
        {
            "address": "azurerm_network_interface.n",
            "type": "azurerm_network_interface",
            "name": "n",
            "expressions": _nic_expressions(_refs("azurerm_subnet.s", "each.value.subnet", "each.value")),
        },
        {
            "address": "azurerm_network_interface.solo",
            "type": "azurerm_network_interface",
            "name": "solo",
            "expressions": {"ip_configuration": [{"subnet_id": _refs("local.app_subnet_id")}]},
        },
    ]
    return _plan(instances, configuration)


def _write(directory: Path, files: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        text = json.dumps(content, indent=2) if not isinstance(content, str) else textwrap.dedent(content)
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def _subnets_of_nics(topology: Topology) -> dict[str, str]:
    return {n.name: (n.subnet or "").rsplit("/", 1)[-1] for n in topology.nics.values()}


def test_locals_and_each_value_resolve_through_the_module_beside_the_plan(tmp_path: Path) -> None:
    directory = _write(tmp_path / "module", {"main.tf": MAIN_TF, "plan.json": _root_plan()})
    planned = load_paths([directory / "plan.json"])
    assert _subnets_of_nics(planned) == {"web1": "web", "app1": "app", "solo": "app"}
    assert _subnets_of_nics(planned) == _subnets_of_nics(load_paths([directory]))  # as the module itself says
    solo = planned.find_nic("solo")
    assert solo is not None and solo.subnet == f"{NET}/virtualNetworks/v/subnets/app"


def test_without_the_module_what_only_it_says_is_an_error_naming_the_address(tmp_path: Path) -> None:
    path = _write(tmp_path / "ci", {"plan.json": _root_plan()}) / "plan.json"
    with pytest.raises(OpenNsgError) as caught:
        load_paths([path])
    messages = [e.message for e in caught.value.errors]
    text = path.read_text().splitlines()
    for address in ('azurerm_network_interface.n[\\"web1\\"]', "azurerm_network_interface.solo"):
        line = next(i for i, t in enumerate(text, 1) if f'"address": "{address}"' in t)
        shown = address.replace('\\"', '"')
        assert any(
            m.startswith(f'{path}:{line}: {shown}: ip_configuration "ipconfig1": subnet_id') for m in messages
        ), (
            address,
            messages,
        )
    assert all("keep the plan JSON in its module's directory" in m for m in messages)
    assert len(messages) == 3


def test_count_and_for_each_instances_by_the_referrer_s_key_or_a_literal_index(tmp_path: Path) -> None:
    """``x[count.index].id`` is listed as ``x`` and ``count.index``: the instance with the referrer's index;
    ``x[1].id`` and ``x["app"].id`` name their instance. No module source needed."""
    instances = [
        _instance(
            "azurerm_virtual_network.v",
            {"name": "v", "location": "westeurope", "resource_group_name": "rg", "address_space": ["10.0.0.0/16"]},
        ),
        *(
            _instance(
                f"azurerm_subnet.list[{i}]",
                {
                    "name": f"s{i}",
                    "resource_group_name": "rg",
                    "virtual_network_name": "v",
                    "address_prefixes": [f"10.0.{i}.0/24"],
                },
                i,
            )
            for i in range(3)
        ),
        *(_nic(f"azurerm_network_interface.c[{i}]", f"c{i}", f"10.0.{i}.4", i) for i in range(3)),
        _nic("azurerm_network_interface.fixed", "fixed", "10.0.1.9"),
    ]
    configuration = [
        {
            "address": "azurerm_network_interface.c",
            "type": "azurerm_network_interface",
            "name": "c",
            "expressions": {"ip_configuration": [{"subnet_id": _refs("azurerm_subnet.list", "count.index")}]},
        },
        {
            "address": "azurerm_network_interface.fixed",
            "type": "azurerm_network_interface",
            "name": "fixed",
            "expressions": {
                "ip_configuration": [
                    {"subnet_id": _refs("azurerm_subnet.list[1].id", "azurerm_subnet.list[1]", "azurerm_subnet.list")}
                ]
            },
        },
    ]
    path = _write(tmp_path, {"plan.json": _plan(instances, configuration)}) / "plan.json"
    assert _subnets_of_nics(load_paths([path])) == {"c0": "s0", "c1": "s1", "c2": "s2", "fixed": "s1"}


def test_module_outputs_of_for_each_module_instances(tmp_path: Path) -> None:
    """``module.spoke["a"].subnet_id``, an output of one instance of a for_each module, resolves from the
    configuration alone: the output's references, followed inside that instance."""
    children = []
    for key, octet in (("a", 1), ("b", 2)):
        prefix = f'module.spoke["{key}"].'
        children.append(
            {
                "address": f'module.spoke["{key}"]',
                "resources": [
                    _instance(
                        f"{prefix}azurerm_virtual_network.v",
                        {
                            "name": f"v-{key}",
                            "location": "westeurope",
                            "resource_group_name": "rg",
                            "address_space": [f"10.{octet}.0.0/16"],
                        },
                    ),
                    _instance(
                        f"{prefix}azurerm_subnet.s",
                        {
                            "name": "s",
                            "resource_group_name": "rg",
                            "virtual_network_name": f"v-{key}",
                            "address_prefixes": [f"10.{octet}.1.0/24"],
                        },
                    ),
                ],
            }
        )
    instances = [
        _nic("azurerm_network_interface.a", "a", "10.1.1.4"),
        _nic("azurerm_network_interface.b", "b", "10.2.1.4"),
    ]
    module = {
        "resources": [
            {
                "address": "azurerm_subnet.s",
                "type": "azurerm_subnet",
                "name": "s",
                "expressions": {
                    "virtual_network_name": _refs("azurerm_virtual_network.v.name", "azurerm_virtual_network.v")
                },
            },
        ],
        "outputs": {"subnet_id": {"expression": _refs("azurerm_subnet.s.id", "azurerm_subnet.s")}},
    }
    configuration = [
        {
            "address": f"azurerm_network_interface.{k}",
            "type": "azurerm_network_interface",
            "name": k,
            "expressions": {
                "ip_configuration": [
                    {"subnet_id": _refs(f'module.spoke["{k}"].subnet_id', f'module.spoke["{k}"]', "module.spoke")}
                ]
            },
        }
        for k in ("a", "b")
    ]
    call = {"source": "./spoke", "module": module, "expressions": {"vnet_name": _refs("each.key")}}
    plan = _plan(instances, configuration, module_calls={"spoke": call}, planned={"child_modules": children})
    for child in children:  # the module's resources are created too: their ids are unknown
        for r in child["resources"]:
            change = {"actions": ["create"], "after": r["values"], "after_unknown": {"id": True}}
            plan["resource_changes"].append({"address": r["address"], "type": r["type"], "change": change})
    path = _write(tmp_path, {"plan.json": plan}) / "plan.json"
    subnets = {n.name: n.subnet for n in load_paths([path]).nics.values()}
    assert subnets == {"a": f"{NET}/virtualNetworks/v-a/subnets/s", "b": f"{NET}/virtualNetworks/v-b/subnets/s"}


def test_module_outputs_computed_from_the_source_beside_the_plan(tmp_path: Path) -> None:
    """An output the references cannot pin (``{for k, s in azurerm_subnet.s : k => s.id}``) is computed from the
    child module's ``.tf`` files when the plan sits in the root module."""
    child = """
    variable "space" {
      type = string
    }

    resource "azurerm_virtual_network" "v" {
      name                = "v"
      location            = "westeurope"
      resource_group_name = "rg"
      address_space       = [var.space]
    }

    resource "azurerm_subnet" "s" {
      for_each             = toset(["web", "app"])
      name                 = each.key
      resource_group_name  = "rg"
      virtual_network_name = azurerm_virtual_network.v.name
      address_prefixes     = [cidrsubnet(var.space, 8, each.key == "web" ? 1 : 2)]
    }

    output "subnet_ids" {
      value = { for k, s in azurerm_subnet.s : k => s.id }
    }
    """
    root = f"""
    provider "azurerm" {{
      subscription_id = "{SUB}"
      features {{}}
    }}

    module "net" {{
      source = "./net"
      space  = "10.0.0.0/16"
    }}

    resource "azurerm_network_interface" "app1" {{
      name                = "app1"
      location            = "westeurope"
      resource_group_name = "rg"

      ip_configuration {{
        name                          = "ipconfig1"
        subnet_id                     = module.net.subnet_ids["app"]
        private_ip_address_allocation = "Static"
        private_ip_address            = "10.0.2.4"
      }}
    }}
    """
    prefix = "module.net."
    resources = [
        _instance(
            f"{prefix}azurerm_virtual_network.v",
            {"name": "v", "location": "westeurope", "resource_group_name": "rg", "address_space": ["10.0.0.0/16"]},
        ),
        *(
            _instance(
                f'{prefix}azurerm_subnet.s["{k}"]',
                {"name": k, "resource_group_name": "rg", "virtual_network_name": "v", "address_prefixes": [p]},
                k,
            )
            for k, p in SUBNETS.items()
        ),
    ]
    configuration = [
        {
            "address": "azurerm_network_interface.app1",
            "type": "azurerm_network_interface",
            "name": "app1",
            "expressions": {
                "ip_configuration": [
                    {"subnet_id": _refs('module.net.subnet_ids["app"]', "module.net.subnet_ids", "module.net")}
                ]
            },
        },
    ]
    module = {"outputs": {"subnet_ids": {"expression": _refs("azurerm_subnet.s")}}, "resources": []}
    plan = _plan(
        [_nic("azurerm_network_interface.app1", "app1", "10.0.2.4")],
        configuration,
        module_calls={"net": {"source": "./net", "module": module}},
        planned={"child_modules": [{"address": "module.net", "resources": resources}]},
    )
    for r in resources:
        change = {"actions": ["create"], "after": r["values"], "after_unknown": {"id": True}}
        plan["resource_changes"].append({"address": r["address"], "type": r["type"], "change": change})
    elsewhere = _write(tmp_path / "ci", {"plan.json": plan}) / "plan.json"
    with pytest.raises(OpenNsgError):  # several subnets: the references alone cannot say which
        load_paths([elsewhere])
    directory = _write(tmp_path / "module", {"main.tf": root, "net/main.tf": child, "plan.json": plan})
    (nic,) = load_paths([directory / "plan.json"]).nics.values()
    assert nic.subnet == f"{NET}/virtualNetworks/v/subnets/app"
