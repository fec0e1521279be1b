"""``VirtualNetworks_CheckIPAddressAvailability``: free, taken and platform-reserved addresses of a VNet."""

from __future__ import annotations

from fastapi.testclient import TestClient

from .conftest import API, SUB

BASE = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network"


def _network(client: TestClient) -> None:
    assert client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?api-version=2021-04-01", json={"location": "westus"})
    vnet = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.0.0/24"}}],
        },
    }
    assert client.put(f"{BASE}/virtualNetworks/vnet1?{API}", json=vnet).status_code == 201
    for name, address in (("nic1", "10.0.0.4"), ("nic2", "10.0.0.6")):
        nic = {
            "location": "westus",
            "properties": {
                "ipConfigurations": [
                    {
                        "name": "ip1",
                        "properties": {
                            "subnet": {"id": f"{BASE}/virtualNetworks/vnet1/subnets/app"},
                            "privateIPAddress": address,
                            "privateIPAllocationMethod": "Static",
                        },
                    }
                ]
            },
        }
        assert client.put(f"{BASE}/networkInterfaces/{name}?{API}", json=nic).status_code == 201


def _check(client: TestClient, address: str, vnet: str = "vnet1") -> tuple[int, dict[str, object]]:
    answer = client.get(f"{BASE}/virtualNetworks/{vnet}/CheckIPAddressAvailability?ipAddress={address}&{API}")
    return answer.status_code, answer.json()


def test_free_taken_and_reserved_addresses(client: TestClient) -> None:
    _network(client)
    assert _check(client, "10.0.0.10") == (200, {"available": True})
    assert _check(client, "10.0.0.4") == (
        200,
        {
            "available": False,
            "availableIPAddresses": ["10.0.0.5", "10.0.0.7", "10.0.0.8", "10.0.0.9", "10.0.0.10"],
            "isPlatformReserved": False,
        },
    )
    status, reserved = _check(client, "10.0.0.1")
    assert status == 200 and reserved["available"] is False and reserved["isPlatformReserved"] is True
    assert reserved["availableIPAddresses"] == ["10.0.0.5", "10.0.0.7", "10.0.0.8", "10.0.0.9", "10.0.0.10"]
    status, broadcast = _check(client, "10.0.0.255")
    assert status == 200 and broadcast == {"available": False, "availableIPAddresses": [], "isPlatformReserved": True}


def test_addresses_outside_every_subnet_and_garbage_are_refused(client: TestClient) -> None:
    _network(client)
    status, body = _check(client, "10.0.1.4")
    assert status == 400 and body["error"]["code"] == "PrivateIPAddressNotInAnySubnet"
    status, body = _check(client, "not-an-ip")
    assert status == 400 and body["error"]["code"] == "InvalidIPAddress"
    status, body = _check(client, "10.0.0.4", vnet="missing")
    assert status == 404
