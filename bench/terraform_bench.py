"""Reading a network at Azure's limits as Terraform, against the same network as ARM JSON (the baseline).

    python bench/terraform_bench.py [--rules 1000] [--repeat 3]

One NSG with ``--rules`` rules, 4,000 source prefixes in all (Azure's per-side limit), on a subnet with a NIC,
written four ways: an ARM list (exported by OpenNSG), an HCL module with a ``dynamic "security_rule"`` over a
local list, an HCL module with one ``azurerm_network_security_rule`` per rule (``for_each``), and a plan JSON.
Each is loaded (parse, evaluate, validate) ``--repeat`` times; the best time and its ratio to ARM are printed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from opennsg.arm import export_topology, load_paths

SUB = "00000000-0000-0000-0000-0000000000be"
NET = f"/subscriptions/{SUB}/resourceGroups/bench/providers/Microsoft.Network"


def rule_specs(count: int) -> list[dict[str, object]]:
    per_rule = max(1, 4000 // count)
    return [
        {
            "name": f"r{i}",
            "priority": 100 + i,
            "port": str(1000 + i),
            "sources": [
                f"10.{(i * per_rule + j) // 250 % 250}.{(i * per_rule + j) % 250}.0/24" for j in range(per_rule)
            ],
        }
        for i in range(count)
    ]


PROVIDER = f'provider "azurerm" {{\n  features {{}}\n  subscription_id = "{SUB}"\n}}\n'
BASE = """
locals {
  rules = jsondecode(file("${path.module}/rules.json"))
}
resource "azurerm_virtual_network" "v" {
  name                = "v"
  location            = "westeurope"
  resource_group_name = "bench"
  address_space       = ["192.168.0.0/16"]
}
resource "azurerm_subnet" "s" {
  name                 = "s"
  resource_group_name  = "bench"
  virtual_network_name = azurerm_virtual_network.v.name
  address_prefixes     = ["192.168.1.0/24"]
}
resource "azurerm_subnet_network_security_group_association" "s" {
  subnet_id                 = azurerm_subnet.s.id
  network_security_group_id = azurerm_network_security_group.nsg.id
}
resource "azurerm_network_interface" "nic" {
  name                = "nic"
  location            = "westeurope"
  resource_group_name = "bench"
  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.s.id
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(azurerm_subnet.s.address_prefixes[0], 4)
  }
}
"""
RULE_BODY = """
      priority                   = {v}.priority
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = {v}.port
      source_address_prefixes    = {v}.sources
      destination_address_prefix = "*"
"""
DYNAMIC = (
    PROVIDER
    + BASE
    + """
resource "azurerm_network_security_group" "nsg" {
  name                = "nsg"
  location            = "westeurope"
  resource_group_name = "bench"
  dynamic "security_rule" {
    for_each = local.rules
    content {
      name = security_rule.value.name
"""
    + RULE_BODY.format(v="security_rule.value")
    + "    }\n  }\n}\n"
)
STANDALONE = (
    PROVIDER
    + BASE
    + """
resource "azurerm_network_security_group" "nsg" {
  name                = "nsg"
  location            = "westeurope"
  resource_group_name = "bench"
}
resource "azurerm_network_security_rule" "r" {
  for_each                    = { for r in local.rules : r.name => r }
  name                        = each.key
  resource_group_name         = "bench"
  network_security_group_name = azurerm_network_security_group.nsg.name
"""
    + RULE_BODY.format(v="each.value")
    + "}\n"
)


def write_inputs(directory: Path, count: int) -> dict[str, Path]:
    specs = rule_specs(count)
    out: dict[str, Path] = {}
    for name, text in (("hcl-dynamic", DYNAMIC), ("hcl-standalone", STANDALONE)):
        module = directory / name
        module.mkdir()
        (module / "main.tf").write_text(text)
        (module / "rules.json").write_text(json.dumps(specs))
        out[name] = module
    topology = load_paths([out["hcl-dynamic"]])
    out["arm"] = directory / "arm.json"
    out["arm"].write_text(json.dumps(export_topology(topology)))
    nsg = next(iter(topology.nsgs.values()))
    rules = [
        {
            "name": r.name,
            "priority": r.priority,
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "Tcp",
            "source_port_range": "*",
            "source_port_ranges": [],
            "destination_port_range": r.destination_port_range,
            "destination_port_ranges": [],
            "source_address_prefix": "",
            "source_address_prefixes": list(r.source_address_prefixes),
            "destination_address_prefix": "*",
            "destination_address_prefixes": [],
            "description": "",
            "source_application_security_group_ids": [],
            "destination_application_security_group_ids": [],
        }
        for r in nsg.security_rules
    ]
    subnet_id = f"{NET}/virtualNetworks/v/subnets/s"
    resources = [
        {
            "address": "azurerm_network_security_group.nsg",
            "type": "azurerm_network_security_group",
            "name": "nsg",
            "values": {
                "id": nsg.id,
                "name": "nsg",
                "location": "westeurope",
                "resource_group_name": "bench",
                "security_rule": rules,
            },
        },
        {
            "address": "azurerm_virtual_network.v",
            "type": "azurerm_virtual_network",
            "name": "v",
            "values": {
                "id": f"{NET}/virtualNetworks/v",
                "name": "v",
                "resource_group_name": "bench",
                "address_space": ["192.168.0.0/16"],
                "subnet": [
                    {"id": subnet_id, "name": "s", "address_prefixes": ["192.168.1.0/24"], "security_group": nsg.id}
                ],
            },
        },
        {
            "address": "azurerm_network_interface.nic",
            "type": "azurerm_network_interface",
            "name": "nic",
            "values": {
                "id": f"{NET}/networkInterfaces/nic",
                "name": "nic",
                "resource_group_name": "bench",
                "ip_configuration": [
                    {
                        "name": "ipconfig1",
                        "subnet_id": subnet_id,
                        "private_ip_address": "192.168.1.4",
                        "private_ip_address_allocation": "Static",
                        "primary": True,
                    }
                ],
            },
        },
    ]
    out["plan"] = directory / "plan.json"
    out["plan"].write_text(
        json.dumps({"format_version": "1.2", "planned_values": {"root_module": {"resources": resources}}})
    )
    return out


def best(path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load_paths([path])
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        inputs = write_inputs(Path(scratch), args.rules)
        same = {k: load_paths([p]).nsgs for k, p in inputs.items()}
        assert all(v == same["arm"] for v in same.values()), "the four forms must give the same NSG"
        baseline = best(inputs["arm"], args.repeat)
        print(f"{args.rules} rules, 4,000 source prefixes; best of {args.repeat}")
        for name in ("arm", "plan", "hcl-dynamic", "hcl-standalone"):
            seconds = baseline if name == "arm" else best(inputs[name], args.repeat)
            print(f"  {name:<15} {seconds * 1000:8.1f} ms   x{seconds / baseline:5.2f} of ARM JSON")


if __name__ == "__main__":
    main()
