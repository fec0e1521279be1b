"""A private endpoint PUT through the service creates the NIC Azure creates with it (semantics §12.1), so its
verdicts can be asked: the NIC sits in the endpoint's subnet at its static or next free address, names the endpoint,
cannot be deleted on its own, and goes with the endpoint."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import SUB, rid

API = "api-version=2026-01-01"
VNET = rid("virtualNetworks", "vnet")
NSG = rid("networkSecurityGroups", "deny-all")
PE = rid("privateEndpoints", "sql-pe")
WATCHER = rid("networkWatchers", "nw")


def put(client: TestClient, resource_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"{resource_id}?{API}", json=body)


def estate(client: TestClient, policies: str) -> None:
    assert client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{API}", json={"location": "westus"}).status_code < 300
    deny = {"name": "deny-all-in", "properties": {"protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "*", "access": "Deny", "priority": 100,
            "direction": "Inbound"}}  # fmt: skip
    assert put(client, NSG, {"location": "westus", "properties": {"securityRules": [deny]}}).status_code == 201
    subnet = {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": NSG},
              "privateEndpointNetworkPolicies": policies}  # fmt: skip
    vnet = {"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                                 "subnets": [{"name": "data", "properties": subnet}]}}  # fmt: skip
    assert put(client, VNET, vnet).status_code == 201
    assert put(client, WATCHER, {"location": "westus"}).status_code == 201


def endpoint(static_ip: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "subnet": {"id": f"{VNET}/subnets/data"},
        "privateLinkServiceConnections": [
            {"name": "sql", "properties": {"privateLinkServiceId": rid("privateLinkServices", "sql"), "groupIds": []}}
        ],
    }
    if static_ip:
        properties["ipConfigurations"] = [
            {"name": "static", "properties": {"privateIPAddress": static_ip, "groupId": "sqlServer", "memberName": "x"}}
        ]
    return {"location": "westus", "properties": properties}


def verdict(client: TestClient, nic_id: str, local_ip: str) -> dict[str, Any]:
    flow = {"targetResourceId": nic_id, "direction": "Inbound", "protocol": "TCP", "localIPAddress": local_ip,
            "localPort": "1433", "remoteIPAddress": "10.0.2.4", "remotePort": "50000"}  # fmt: skip
    accepted = client.post(f"{WATCHER}/ipFlowVerify?{API}", json=flow)
    assert accepted.status_code == 202, accepted.text
    answer: dict[str, Any] = client.get(accepted.headers["location"]).json()
    return answer


def test_the_endpoint_brings_its_nic_and_its_verdicts(client: TestClient) -> None:
    estate(client, "Disabled")
    created = put(client, PE, endpoint())
    assert created.status_code == 201, created.text
    [nic_ref] = created.json()["properties"]["networkInterfaces"]
    nic = client.get(f"{nic_ref['id']}?{API}").json()
    assert (
        nic["name"].startswith("sql-pe.nic.") and nic["properties"]["privateEndpoint"]["id"].casefold() == PE.casefold()
    )
    [configuration] = nic["properties"]["ipConfigurations"]
    assert configuration["properties"]["subnet"]["id"] == f"{VNET}/subnets/data"
    assert configuration["properties"]["privateIPAddress"] == "10.0.1.4"  # Azure keeps .0-.3 and the last
    # policies Disabled: the subnet's Deny-all does not apply to flows to the endpoint (semantics §12.1)
    assert verdict(client, nic_ref["id"], "10.0.1.4") == {
        "access": "Allow",
        "ruleName": "PlatformRule_PrivateEndpointNetworkPoliciesDisabled",
    }
    refused = client.delete(f"{nic_ref['id']}?{API}")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "NicInUse"
    again = put(client, PE, endpoint())  # an update keeps the NIC it has
    assert again.status_code == 200 and again.json()["properties"]["networkInterfaces"] == [nic_ref]
    assert client.delete(f"{PE}?{API}").status_code in (200, 202, 204)
    assert client.get(f"{nic_ref['id']}?{API}").status_code == 404


def test_policies_enabled_and_a_static_address_and_a_custom_nic_name(client: TestClient) -> None:
    estate(client, "Enabled")
    body = endpoint(static_ip="10.0.1.50")
    body["properties"]["customNetworkInterfaceName"] = "sql-pe-nic"
    created = put(client, PE, body)
    assert created.status_code == 201, created.text
    nic_id = rid("networkInterfaces", "sql-pe-nic")
    assert created.json()["properties"]["networkInterfaces"] == [{"id": nic_id}]
    nic = client.get(f"{nic_id}?{API}").json()
    assert nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.1.50"
    assert verdict(client, nic_id, "10.0.1.50") == {"access": "Deny", "ruleName": "securityRules/deny-all-in"}
