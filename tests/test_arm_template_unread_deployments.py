"""What a nested deployment OpenNSG does not read may create is unknown, not missing: references into the resource
group it lands in are not reported as ``InvalidResourceReference`` (the sql-2016-alwayson quick-start's NICs name
public IPs its linked ``StorageAccountVirtualNetworkPublicIP`` template creates), while references elsewhere still
are."""

from __future__ import annotations

from typing import Any

import pytest

from opennsg.arm.loader import load_documents
from opennsg.model.errors import OpenNsgError

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


SUBNET = "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'default')]"


def _nic(public_ip: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.Network/networkInterfaces",
        "apiVersion": "2023-09-01",
        "name": "nic",
        "location": "westus",
        "dependsOn": ["[resourceId('Microsoft.Network/virtualNetworks', 'vnet')]"],
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {
                        "subnet": {"id": SUBNET},
                        "publicIPAddress": {"id": public_ip},
                    },
                }
            ]
        },
    }


def _template(public_ip: str, deployment: dict[str, Any] | None) -> dict[str, Any]:
    vnet = {
        "type": "Microsoft.Network/virtualNetworks",
        "apiVersion": "2023-09-01",
        "name": "vnet",
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}],
        },
    }
    resources = [vnet, _nic(public_ip)] + ([deployment] if deployment is not None else [])
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": resources}


def _linked(resource_group: str | None = None) -> dict[str, Any]:
    deployment: dict[str, Any] = {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "publicIPs",
        "properties": {"mode": "Incremental", "templateLink": {"uri": "https://example.invalid/nested/pip.json"}},
    }
    if resource_group is not None:
        deployment["resourceGroup"] = resource_group
    return deployment


def _codes(template: dict[str, Any]) -> list[str]:
    try:
        load_documents([("azuredeploy.json", template)])
    except OpenNsgError as exc:
        return [e.code for e in exc.errors]
    return []


IN_GROUP = "[resourceId('Microsoft.Network/publicIPAddresses', 'made-by-linked')]"
OTHER_GROUP = "[resourceId('elsewhere', 'Microsoft.Network/publicIPAddresses', 'made-by-linked')]"


def test_without_an_unread_deployment_a_missing_public_ip_is_refused() -> None:
    assert _codes(_template(IN_GROUP, None)) == ["InvalidResourceReference"]


def test_a_public_ip_an_unread_linked_template_may_create_is_unknown_not_missing() -> None:
    assert _codes(_template(IN_GROUP, _linked())) == []


def test_the_unknown_covers_the_resource_group_the_unread_deployment_lands_in_only() -> None:
    assert _codes(_template(OTHER_GROUP, _linked())) == ["InvalidResourceReference"]
    assert _codes(_template(OTHER_GROUP, _linked("elsewhere"))) == []
    assert _codes(_template(IN_GROUP, _linked("elsewhere"))) == ["InvalidResourceReference"]


@pytest.mark.parametrize("field", ["networkSecurityGroup", "subnet"])
def test_every_reference_check_shares_the_unknown(field: str) -> None:
    """Not a special case for public IPs: a NIC's NSG or subnet the unread deployment may create is unknown too."""
    template = _template(IN_GROUP, _linked())
    nic = template["resources"][1]
    if field == "subnet":
        nic["properties"]["ipConfigurations"][0]["properties"]["subnet"] = {
            "id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'made-by-linked', 'default')]"
        }
    else:
        nic["properties"]["networkSecurityGroup"] = {
            "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'made-by-linked')]"
        }
    assert _codes(template) == []
    template["resources"].pop()
    assert _codes(template) == ["InvalidResourceReference"] * 2  # the public IP's and this one
