"""``NetworkWatchers_GetNextHop``: where a NIC sends a packet, from its effective routes (the one routing definition
the route table operation and ``opennsg routes`` use): the route's next hop type and address, and the route table
holding a user route (``System Route`` for Azure's own routes)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .conftest import API, SUB

BASE = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network"
WATCHER = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkWatchers/nw"
ROUTES = f"{BASE}/routeTables/rt"
NIC = f"{BASE}/networkInterfaces/nic1"
VM = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"


def _estate(client: TestClient) -> None:
    assert client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?api-version=2021-04-01", json={"location": "westus"})
    route = {"name": "to-fw", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
             "nextHopIpAddress": "10.0.1.4"}}  # fmt: skip
    assert (
        client.put(f"{ROUTES}?{API}", json={"location": "westus", "properties": {"routes": [route]}}).status_code == 201
    )
    subnets = [
        {"name": "app", "properties": {"addressPrefix": "10.0.0.0/24", "routeTable": {"id": ROUTES}}},
        {"name": "fw", "properties": {"addressPrefix": "10.0.1.0/24"}},
    ]
    vnet = {
        "location": "westus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets},
    }
    assert client.put(f"{BASE}/virtualNetworks/vnet1?{API}", json=vnet).status_code == 201
    configuration = {"name": "ip1", "properties": {"subnet": {"id": f"{BASE}/virtualNetworks/vnet1/subnets/app"},
                     "privateIPAddress": "10.0.0.4", "privateIPAllocationMethod": "Static"}}  # fmt: skip
    nic = {"location": "westus", "properties": {"ipConfigurations": [configuration]}}
    assert client.put(f"{NIC}?{API}", json=nic).status_code == 201
    profile = {"networkInterfaces": [{"id": NIC, "properties": {"primary": True}}]}
    assert client.put(f"{VM}?{API}", json={"location": "westus", "properties": {"networkProfile": profile}})
    assert client.put(f"{WATCHER}?{API}", json={"location": "westus"}).status_code == 201


def _next_hop(client: TestClient, **body: str) -> tuple[int, Any]:
    asked = {"targetResourceId": NIC, "sourceIPAddress": "10.0.0.4", **body}
    accepted = client.post(f"{WATCHER}/nextHop?{API}", json=asked)
    if accepted.status_code != 202:
        return accepted.status_code, accepted.json()
    return 200, client.get(accepted.headers["location"]).json()


def test_next_hop_follows_the_effective_routes(client: TestClient) -> None:
    _estate(client)
    assert _next_hop(client, destinationIPAddress="10.0.1.9") == (
        200,
        {"nextHopType": "VnetLocal", "routeTableId": "System Route"},
    )
    assert _next_hop(client, destinationIPAddress="52.10.20.30") == (
        200,
        {"nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4", "routeTableId": ROUTES},
    )
    assert _next_hop(client, destinationIPAddress="10.0.1.9", targetResourceId=VM)[1]["nextHopType"] == "VnetLocal"
    assert _next_hop(client, destinationIPAddress="2001:db8::1") == (
        200,
        {"nextHopType": "None", "routeTableId": "System Route"},
    )


def test_bad_next_hop_requests_are_refused(client: TestClient) -> None:
    _estate(client)
    status, body = _next_hop(client, destinationIPAddress="not-an-ip")
    assert status == 400 and "destinationIPAddress 'not-an-ip' is not an IP address" in body["error"]["message"]
    status, body = _next_hop(client, destinationIPAddress="10.0.1.9", sourceIPAddress="10.0.0.99")
    assert status == 400 and "is not an IP address of the network interface" in body["error"]["message"]
    status, body = _next_hop(client, sourceIPAddress="10.0.0.4")
    assert status == 400 and "destinationIPAddress" in body["error"]["message"]
    status, _ = _next_hop(client, destinationIPAddress="10.0.1.9", targetResourceId=NIC + "x")
    assert status == 404
