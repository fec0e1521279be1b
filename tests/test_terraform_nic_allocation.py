"""``private_ip_address_allocation``: read into the model's allocation method (HCL and plan), checked as Azure checks
``privateIPAllocationMethod`` (Static needs an address), and written back by export from the model's method."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from opennsg.arm import load_paths
from opennsg.model import OpenNsgError
from opennsg.model.enums import IpAllocationMethod
from opennsg.model.resources import IpConfiguration, NetworkInterface
from opennsg.model.topology import Topology
from opennsg.terraform import TerraformInputs
from opennsg.terraform.export import module_text

SUB = "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
NET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network"
SUBNET = f"{NET}/virtualNetworks/v/subnets/app"
STORAGE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s"

HEAD = f"""
provider "azurerm" {{
  subscription_id = "{SUB}"
  features {{}}
}}

resource "azurerm_virtual_network" "v" {{
  name                = "v"
  location            = "westeurope"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]
  subnet {{
    name             = "app"
    address_prefixes = ["10.0.1.0/24"]
  }}
}}
"""


def nic(name: str, *arguments: str) -> str:
    inner = "\n".join(f"    {a}" for a in arguments)
    return f"""
resource "azurerm_network_interface" "{name}" {{
  name                = "{name}"
  location            = "westeurope"
  resource_group_name = "rg"
  ip_configuration {{
    name      = "ipconfig1"
    subnet_id = "{SUBNET}"
{inner}
  }}
}}
"""


def module(tmp_path: Path, *blocks: str) -> Path:
    directory = tmp_path / "module"
    directory.mkdir(exist_ok=True)
    (directory / "main.tf").write_text(textwrap.dedent(HEAD + "".join(blocks)), encoding="utf-8")
    return directory


def configuration(topology: Topology, name: str) -> IpConfiguration:
    found = topology.nic(f"{NET}/networkInterfaces/{name}")
    assert found is not None
    return found.ip_configurations[0]


def test_the_allocation_method_is_the_models(tmp_path: Path) -> None:
    topology = load_paths(
        [
            module(
                tmp_path,
                nic("fixed", 'private_ip_address_allocation = "Static"', 'private_ip_address = "10.0.1.4"'),
                nic("picked", 'private_ip_address_allocation = "Dynamic"'),
                nic("held", 'private_ip_address_allocation = "Dynamic"', 'private_ip_address = "10.0.1.9"'),
                nic("unsaid", 'private_ip_address = "10.0.1.5"'),  # azurerm requires it: read as ARM's not given
            )
        ]
    )
    fixed, picked, held, unsaid = (configuration(topology, n) for n in ("fixed", "picked", "held", "unsaid"))
    assert (unsaid.private_ip_allocation_method, unsaid.private_ip_address) == (None, "10.0.1.5")
    assert (fixed.private_ip_allocation_method, fixed.private_ip_address) == (IpAllocationMethod.STATIC, "10.0.1.4")
    assert (picked.private_ip_allocation_method, picked.private_ip_address) == (IpAllocationMethod.DYNAMIC, None)
    assert (held.private_ip_allocation_method, held.private_ip_address) == (IpAllocationMethod.DYNAMIC, "10.0.1.9")


def test_static_without_an_address_and_bad_values_are_azures_errors_at_their_block(tmp_path: Path) -> None:
    directory = module(
        tmp_path,
        nic("empty", 'private_ip_address_allocation = "Static"'),
        nic("odd", 'private_ip_address_allocation = "Sticky"'),
    )
    with pytest.raises(OpenNsgError) as caught:
        load_paths([directory])
    found = {e.code: e for e in caught.value.errors}
    main = directory / "main.tf"
    blocks = [i for i, line in enumerate(main.read_text().splitlines(), 1) if line.strip() == "ip_configuration {"]
    missing = found["PrivateIPAddressMissing"]
    assert missing.target == f"{main}:{blocks[0]}"
    assert f"{NET}/networkInterfaces/empty/ipConfigurations/ipconfig1" in missing.message
    assert (
        'private_ip_address_allocation "Sticky" is not one of Static, Dynamic'
        in found["TerraformInvalidArgument"].message
    )
    assert found["TerraformInvalidArgument"].target == f"{main}:{blocks[1]}"
    assert len(caught.value.errors) == 2


def test_a_plan_with_a_dynamic_address_unknown_until_apply_is_read(tmp_path: Path) -> None:
    values = {
        "name": "later",
        "location": "westeurope",
        "resource_group_name": "rg",
        "ip_configuration": [
            {"name": "ipconfig1", "subnet_id": SUBNET, "private_ip_address_allocation": "Dynamic", "primary": True}
        ],
    }
    unknown = {"id": True, "ip_configuration": [{"private_ip_address": True}]}
    plan = {
        "format_version": "1.2",
        "planned_values": {
            "root_module": {
                "resources": [
                    {
                        "address": "azurerm_network_interface.later",
                        "mode": "managed",
                        "type": "azurerm_network_interface",
                        "name": "later",
                        "values": values,
                    }
                ]
            }
        },
        "resource_changes": [
            {
                "address": "azurerm_network_interface.later",
                "mode": "managed",
                "type": "azurerm_network_interface",
                "name": "later",
                "change": {"actions": ["create"], "before": None, "after": values, "after_unknown": unknown},
            }
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    found = load_paths([path], validate=False, terraform=TerraformInputs(subscription=SUB)).nic(
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/later"
    )
    assert found is not None
    assert found.ip_configurations[0].private_ip_allocation_method is IpAllocationMethod.DYNAMIC
    assert found.ip_configurations[0].private_ip_address is None


@pytest.mark.parametrize(
    ("method", "address", "written"),
    [
        (IpAllocationMethod.DYNAMIC, "10.0.1.7", "Dynamic"),  # the method given, not guessed from the address
        (IpAllocationMethod.STATIC, "10.0.1.7", "Static"),
        (None, "10.0.1.7", "Static"),  # not given (ARM): azurerm requires one; Static keeps the address
        (None, None, "Dynamic"),
    ],
)
def test_export_writes_the_models_method(
    method: IpAllocationMethod | None, address: str | None, written: str, tmp_path: Path
) -> None:
    base = load_paths([module(tmp_path, nic("n", 'private_ip_address_allocation = "Dynamic"'))])
    configured = IpConfiguration(
        f"{NET}/networkInterfaces/n/ipConfigurations/ipconfig1", "ipconfig1", address, SUBNET,
        primary=True, private_ip_allocation_method=method,
    )  # fmt: skip
    topology = base.with_(
        nics=[NetworkInterface(f"{NET}/networkInterfaces/n", "n", "westeurope", ip_configurations=(configured,))]
    )
    text = module_text(topology)
    assert f'private_ip_address_allocation = "{written}"' in text
    out = tmp_path / "out"
    out.mkdir()
    (out / "main.tf").write_text(text, encoding="utf-8")
    back = configuration(load_paths([out]), "n")
    assert back.private_ip_allocation_method is IpAllocationMethod(written)
    assert back.private_ip_address == address


def test_a_private_endpoints_nic_is_static_at_its_given_addresses(tmp_path: Path) -> None:
    endpoint = f"""
resource "azurerm_private_endpoint" "pe" {{
  name                = "pe"
  location            = "westeurope"
  resource_group_name = "rg"
  subnet_id           = "{SUBNET}"
  private_service_connection {{
    name                           = "c"
    private_connection_resource_id = "{STORAGE}"
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }}
  ip_configuration {{
    name               = "one"
    private_ip_address = "10.0.1.10"
    subresource_name   = "blob"
  }}
}}

resource "azurerm_private_endpoint" "free" {{
  name                = "free"
  location            = "westeurope"
  resource_group_name = "rg"
  subnet_id           = "{SUBNET}"
}}
"""
    topology = load_paths([module(tmp_path, endpoint)], validate=False)
    given, free = configuration(topology, "pe.nic"), configuration(topology, "free.nic")
    assert (given.private_ip_allocation_method, given.private_ip_address) == (IpAllocationMethod.STATIC, "10.0.1.10")
    assert (free.private_ip_allocation_method, free.private_ip_address) == (IpAllocationMethod.DYNAMIC, None)


def test_public_ip_allocation_zones_and_idle_timeout_are_read_and_written_back(tmp_path: Path) -> None:
    pips = """
resource "azurerm_public_ip" "zonal" {
  name                    = "zonal"
  location                = "westeurope"
  resource_group_name     = "rg"
  allocation_method       = "Static"
  sku                     = "Standard"
  zones                   = ["1", "2"]
  idle_timeout_in_minutes = 15
}
"""
    topology = load_paths([module(tmp_path, pips)])
    zonal = topology.public_ips[f"{NET}/publicIPAddresses/zonal".casefold()]
    assert (zonal.public_ip_allocation_method, zonal.zones, zonal.idle_timeout_in_minutes) == (
        IpAllocationMethod.STATIC,
        ("1", "2"),
        15,
    )
    basic = replace(zonal, id=f"{NET}/publicIPAddresses/basic", name="basic", sku_name="Basic", zones=())
    basic = replace(basic, public_ip_allocation_method=None, idle_timeout_in_minutes=None)
    text = module_text(topology.with_(public_ips=[zonal, basic]))
    assert re.search(r'allocation_method\s+= "Dynamic"', text)  # Azure's default for a Basic address, not always Static
    out = tmp_path / "out"
    out.mkdir()
    (out / "main.tf").write_text(text, encoding="utf-8")
    back = load_paths([out])
    assert back.public_ips[zonal.key] == zonal
    assert back.public_ips[basic.key].public_ip_allocation_method is IpAllocationMethod.DYNAMIC
