"""``privateIPAllocationMethod``: Static keeps the address given, Dynamic gets the lowest free one of the subnet
(Azure keeps the first four and the last address of every subnet), on a PUT and on ``serve --import`` alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import SUB, TOKENS, auth, rid

from opennsg import arm
from opennsg.api import ServiceConfig, create_app
from opennsg.model import IpAllocationMethod, NetworkInterface

API = "api-version=2026-01-01"
VNET = rid("virtualNetworks", "vnet")
SUBNET = f"{VNET}/subnets/small"  # a /29: .0-.3 and .7 are Azure's, .4-.6 can be given out


def url(resource_id: str) -> str:
    return f"{resource_id}?{API}"


def nic(method: str | None = None, address: str | None = None, name: str = "ipconfig1") -> dict[str, Any]:
    properties: dict[str, Any] = {"subnet": {"id": SUBNET}}
    if method is not None:
        properties["privateIPAllocationMethod"] = method
    if address is not None:
        properties["privateIPAddress"] = address
    return {"location": "westus", "properties": {"ipConfigurations": [{"name": name, "properties": properties}]}}


VNET_BODY = {
    "location": "westus",
    "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "small", "properties": {"addressPrefix": "10.0.0.0/29"}}],
    },
}


def configuration(client: TestClient, name: str) -> dict[str, Any]:
    body = client.get(url(rid("networkInterfaces", name))).json()
    properties: dict[str, Any] = body["properties"]["ipConfigurations"][0]["properties"]
    return properties


def world(client: TestClient) -> None:
    assert client.put(url(f"/subscriptions/{SUB}/resourceGroups/rg1"), json={"location": "westus"}).status_code == 201
    assert client.put(url(VNET), json=VNET_BODY).status_code == 201


def test_dynamic_addresses_skip_azures_and_the_static_ones(client: TestClient) -> None:
    world(client)
    assert client.put(url(rid("networkInterfaces", "fixed")), json=nic("Static", "10.0.0.5")).status_code == 201
    assert client.put(url(rid("networkInterfaces", "a")), json=nic("Dynamic")).status_code == 201
    assert client.put(url(rid("networkInterfaces", "b")), json=nic()).status_code == 201
    answers = {name: configuration(client, name) for name in ("fixed", "a", "b")}
    assert {n: (c["privateIPAddress"], c["privateIPAllocationMethod"]) for n, c in answers.items()} == {
        "fixed": ("10.0.0.5", "Static"),
        "a": ("10.0.0.4", "Dynamic"),  # .0-.3 are Azure's
        "b": ("10.0.0.6", "Dynamic"),  # .5 is taken, .7 (the last) is Azure's
    }


def test_a_dynamic_address_stays_across_updates_and_is_freed_by_a_delete(client: TestClient) -> None:
    world(client)
    first, second = rid("networkInterfaces", "first"), rid("networkInterfaces", "second")
    assert client.put(url(first), json=nic()).status_code == 201
    assert client.put(url(second), json=nic()).status_code == 201
    assert client.put(url(second), json=nic()).status_code == 200  # the update sends no address again
    assert configuration(client, "second")["privateIPAddress"] == "10.0.0.5"
    assert client.delete(url(first)).status_code in (200, 202)
    assert client.put(url(rid("networkInterfaces", "third")), json=nic()).status_code == 201
    assert configuration(client, "third")["privateIPAddress"] == "10.0.0.4"


def test_static_without_an_address_is_refused_as_azure_does(client: TestClient) -> None:
    world(client)
    refused = client.put(url(rid("networkInterfaces", "n")), json=nic("Static"))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "PrivateIPAddressMissing"
    assert error["message"] == (
        "Private IP address is required when privateIPAllocationMethod is Static in IP configuration "
        f"{rid('networkInterfaces', 'n')}/ipConfigurations/ipconfig1."
    )
    unknown = client.put(url(rid("networkInterfaces", "n")), json=nic("Sometimes", "10.0.0.4"))
    assert unknown.status_code == 400 and "privateIPAllocationMethod" in unknown.json()["error"]["message"]


def test_serve_import_gives_dynamic_addresses_as_a_put_does(tmp_path: Path) -> None:
    documents = [
        {"id": VNET, "type": "Microsoft.Network/virtualNetworks", **VNET_BODY},
        *(
            {"id": rid("networkInterfaces", name), "type": "Microsoft.Network/networkInterfaces", **body}
            for name, body in (("dyn1", nic("Dynamic")), ("fixed", nic("Static", "10.0.0.4")), ("dyn2", nic()))
        ),
    ]
    source = tmp_path / "topology.json"
    source.write_text(json.dumps({"value": documents}))
    seed = arm.load_paths([source])
    config = ServiceConfig(db_url=str(tmp_path / "opennsg.db"), tokens=TOKENS)
    with TestClient(create_app(config, seed=seed), headers=auth()) as client:
        answers = {name: configuration(client, name) for name in ("dyn1", "fixed", "dyn2")}
    assert {n: (c["privateIPAddress"], c["privateIPAllocationMethod"]) for n, c in answers.items()} == {
        "dyn1": ("10.0.0.5", "Dynamic"),
        "fixed": ("10.0.0.4", "Static"),
        "dyn2": ("10.0.0.6", "Dynamic"),
    }


def test_the_method_is_read_and_exported() -> None:
    nic_id = rid("networkInterfaces", "n")
    static = arm.parse_resource("networkInterfaces", nic("static", "10.0.0.4"), nic_id)
    dynamic = arm.parse_resource("networkInterfaces", nic(None, "10.0.0.5"), nic_id)
    assert isinstance(static, NetworkInterface) and isinstance(dynamic, NetworkInterface)
    assert static.ip_configurations[0].private_ip_allocation_method is IpAllocationMethod.STATIC
    assert dynamic.ip_configurations[0].private_ip_allocation_method is None  # not given: Azure's default
    assert dynamic.ip_configurations[0].allocation_method is IpAllocationMethod.DYNAMIC
    exported = arm.to_arm(static)["properties"]["ipConfigurations"][0]["properties"]
    assert (exported["privateIPAllocationMethod"], exported["privateIPAddress"]) == ("Static", "10.0.0.4")
