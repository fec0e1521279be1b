"""``privateIPAllocationMethod``: Static keeps the address given, Dynamic gets the lowest free one of the subnet
(Azure keeps the first four and the last address of every subnet), on a PUT and on ``serve --import`` alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import SUB, TOKENS, auth, rid

from opennsg import arm
from opennsg.api import ServiceConfig, create_app
from opennsg.model import IpAllocationMethod, NetworkInterface
from opennsg.model.errors import OpenNsgError

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


# --- address blocks (privateIPAddressPrefixLength) and full subnets ------------------------------------------------

WIDE = f"{VNET}/subnets/wide"  # a /24 beside the /29
WIDE_VNET_BODY = {
    "location": "westus",
    "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [
            {"name": "small", "properties": {"addressPrefix": "10.0.0.0/29"}},
            {"name": "wide", "properties": {"addressPrefix": "10.0.1.0/24"}},
        ],
    },
}


def configurations(client: TestClient, name: str) -> list[dict[str, Any]]:
    body = client.get(url(rid("networkInterfaces", name))).json()
    return [c["properties"] for c in body["properties"]["ipConfigurations"]]


def block_nic(*lengths: int | None, subnet: str = WIDE) -> dict[str, Any]:
    """A NIC whose first configuration names the subnet and whose others ask for blocks (None: one address)."""
    items: list[dict[str, Any]] = []
    for i, length in enumerate(lengths):
        properties: dict[str, Any] = {"subnet": {"id": subnet}} if i == 0 else {}
        if length is not None:
            properties["privateIPAddressPrefixLength"] = length
        items.append({"name": f"c{i}", "properties": properties})
    return {"location": "westus", "properties": {"ipConfigurations": items}}


def test_a_prefix_length_allocates_the_lowest_aligned_free_block_of_the_subnet(client: TestClient) -> None:
    """As the official NetworkInterfaceCreate example answers: the primary at .4, a /28 at .16 (the block at .0
    holds Azure's addresses and .4), written ``<address>/<length>``, in the primary's subnet."""
    world(client)
    assert client.put(url(VNET), json=WIDE_VNET_BODY).status_code == 200
    assert client.put(url(rid("networkInterfaces", "pods")), json=block_nic(None, 28)).status_code == 201
    primary, block = configurations(client, "pods")
    assert primary["privateIPAddress"] == "10.0.1.4"
    assert (block["privateIPAddress"], block["privateIPAddressPrefixLength"]) == ("10.0.1.16/28", 28)
    assert block["subnet"]["id"] == WIDE and block["privateIPAllocationMethod"] == "Dynamic"
    # the next single address skips the block; the next block is the next aligned one
    assert client.put(url(rid("networkInterfaces", "more")), json=block_nic(None, 28, 30)).status_code == 201
    assert [c["privateIPAddress"] for c in configurations(client, "more")] == [
        "10.0.1.5",
        "10.0.1.32/28",
        "10.0.1.8/30",
    ]
    # kept across an update that sends no address
    assert client.put(url(rid("networkInterfaces", "pods")), json=block_nic(None, 28)).status_code == 200
    assert configurations(client, "pods")[1]["privateIPAddress"] == "10.0.1.16/28"


def test_a_static_block_must_be_aligned_free_and_clear_of_azures_addresses(client: TestClient) -> None:
    world(client)
    assert client.put(url(VNET), json=WIDE_VNET_BODY).status_code == 200
    assert client.put(url(rid("networkInterfaces", "one")), json=nic("Static", "10.0.0.5")).status_code == 201

    def static_block(address: str, subnet: str = WIDE) -> Any:
        properties: dict[str, Any] = {
            "subnet": {"id": subnet}, "privateIPAllocationMethod": "Static", "privateIPAddress": address,
            "privateIPAddressPrefixLength": int("".join(c for c in address.split("/")[1] if c.isdigit())),
        }  # fmt: skip
        body = {"location": "westus", "properties": {"ipConfigurations": [{"name": "b", "properties": properties}]}}
        return client.put(url(rid("networkInterfaces", "blocky")), json=body)

    codes = {
        "10.0.1.20/28": "InvalidPrivateIPAddressFormat",  # not aligned
        "10.0.1.0/28": "PrivateIPAddressInReservedRange",  # holds .0-.3
        "10.0.1.16/27x": "InvalidPrivateIPAddressFormat",
    }
    for address, code in codes.items():
        refused = static_block(address)
        assert refused.status_code == 400, address
        answered = {refused.json()["error"]["code"], *(d["code"] for d in refused.json()["error"]["details"])}
        assert code in answered, (address, refused.json())
    taken = static_block("10.0.0.4/30", SUBNET)  # .4-.7: holds .5 (another NIC's) and .7 (the broadcast)
    found = {d["code"] for d in taken.json()["error"]["details"]} | {taken.json()["error"]["code"]}
    assert {"PrivateIPAddressIsAllocated", "PrivateIPAddressInReservedRange"} <= found
    assert static_block("10.0.1.16/28").status_code == 201
    assert configurations(client, "blocky")[0]["privateIPAddress"] == "10.0.1.16/28"
    # a single address inside that block is another's
    body = nic("Static", "10.0.1.20")
    body["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"] = WIDE
    refused = client.put(url(rid("networkInterfaces", "inside")), json=body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "PrivateIPAddressIsAllocated"


def test_a_full_subnet_answers_azures_subnet_is_full(client: TestClient) -> None:
    world(client)
    for name in ("a", "b", "c"):  # .4, .5, .6
        assert client.put(url(rid("networkInterfaces", name)), json=nic()).status_code == 201
    refused = client.put(url(rid("networkInterfaces", "d")), json=nic())
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == (
        "SubnetIsFull",
        f"Subnet {SUBNET} with address prefix 10.0.0.0/29 does not have enough capacity for 1 IP addresses.",
    )
    assert client.get(url(rid("networkInterfaces", "d"))).status_code == 404  # nothing half-applied
    # a block that fits nowhere: a /28 in a /29
    world_block = client.put(url(rid("networkInterfaces", "e")), json=block_nic(28, subnet=SUBNET))
    assert world_block.status_code == 400
    assert "enough capacity for 16 IP addresses" in world_block.json()["error"]["message"]


def test_serve_import_refuses_every_full_subnet_at_once(tmp_path: Path) -> None:
    documents = [
        {"id": VNET, "type": "Microsoft.Network/virtualNetworks", **WIDE_VNET_BODY},
        *(
            {"id": rid("networkInterfaces", f"n{i}"), "type": "Microsoft.Network/networkInterfaces", **nic()}
            for i in range(5)
        ),
        {"id": rid("networkInterfaces", "big"), "type": "Microsoft.Network/networkInterfaces", **block_nic(None, 25)},
    ]
    source = tmp_path / "topology.json"
    source.write_text(json.dumps({"value": documents}))
    seed = arm.load_paths([source])
    config = ServiceConfig(db_url=str(tmp_path / "opennsg.db"), tokens=TOKENS)
    try:
        create_app(config, seed=seed)
    except OpenNsgError as error:
        full = [e for e in error.errors if e.code == "SubnetIsFull"]
    else:
        raise AssertionError("an import into full subnets was accepted")
    assert {e.target for e in full} == {
        f"{rid('networkInterfaces', 'n3')}#properties.ipConfigurations[0].properties.subnet.id",
        f"{rid('networkInterfaces', 'n4')}#properties.ipConfigurations[0].properties.subnet.id",
        f"{rid('networkInterfaces', 'big')}#properties.ipConfigurations[1].properties.subnet.id",
    }


def test_a_block_round_trips_through_arm_files() -> None:
    nic_id = rid("networkInterfaces", "n")
    body = {
        "location": "westus",
        "properties": {
            "ipConfigurations": [
                {
                    "name": "c",
                    "properties": {
                        "subnet": {"id": WIDE},
                        "privateIPAddress": "10.0.1.16/28",
                        "privateIPAddressPrefixLength": 28,
                    },
                }
            ]
        },
    }
    model = arm.parse_resource("networkInterfaces", body, nic_id)
    assert isinstance(model, NetworkInterface)
    cfg = model.ip_configurations[0]
    assert (cfg.private_ip_address, cfg.private_ip_address_prefix_length, cfg.private_ip_block) == (
        "10.0.1.16",
        28,
        "10.0.1.16/28",
    )
    assert arm.parse_resource("networkInterfaces", arm.to_arm(model), nic_id) == model
    for length in (27, None):  # the block form comes with its own length
        body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddressPrefixLength"] = length
        with pytest.raises(OpenNsgError) as refused:
            arm.parse_resource("networkInterfaces", body, nic_id)
        assert refused.value.errors[0].code == "InvalidPrivateIPAddressFormat"
