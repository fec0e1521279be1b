"""Load balancers are ordinary resources of the service: PUT/GET/list/DELETE, validated by the model's one
validation, referenced by NICs' backend pools and guarded against deletion while in use."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator
from tests.api.conftest import SUB, rid
from tests.api.official_examples import BASE, SPEC, registry, writable_differences

from realworld import needs_realworld

API = "api-version=2024-05-01"
VNET = rid("virtualNetworks", "vnet")
LB = rid("loadBalancers", "web-lb")
PIP = rid("publicIPAddresses", "lb-pip")


def put(client: TestClient, resource_id: str, body: dict[str, Any]) -> Any:
    return client.put(f"{resource_id}?{API}", json=body)


def load_balancer(probe_port: int = 8080, pool: str = "web") -> dict[str, Any]:
    return {
        "location": "westus",
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": PIP}}}],
            "backendAddressPools": [{"name": pool}],
            "probes": [{"name": "health", "properties": {"protocol": "Tcp", "port": probe_port}}],
            "loadBalancingRules": [
                {
                    "name": "http",
                    "properties": {
                        "frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/fe"},
                        "backendAddressPool": {"id": f"{LB}/backendAddressPools/{pool}"},
                        "probe": {"id": f"{LB}/probes/health"},
                        "protocol": "Tcp",
                        "frontendPort": 80,
                        "backendPort": 8080,
                    },
                }
            ],
        },
    }


def estate(client: TestClient) -> None:
    assert client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{API}", json={"location": "westus"}).status_code < 300
    vnet = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.1.0/24"}}],
        },
    }
    assert put(client, VNET, vnet).status_code == 201
    pip = {"location": "westus", "sku": {"name": "Standard"}, "properties": {"ipAddress": "20.2.2.2"}}
    assert put(client, PIP, pip).status_code == 201


def nic_in_pool(pool_id: str) -> dict[str, Any]:
    return {
        "location": "westus",
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {
                        "subnet": {"id": f"{VNET}/subnets/app"},
                        "privateIPAddress": "10.0.1.4",
                        "privateIPAllocationMethod": "Static",
                        "loadBalancerBackendAddressPools": [{"id": pool_id}],
                    },
                }
            ]
        },
    }


def test_put_get_list_and_delete(client: TestClient) -> None:
    estate(client)
    created = put(client, LB, load_balancer())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["type"] == "Microsoft.Network/loadBalancers" and body["sku"] == {"name": "Standard"}
    rule = body["properties"]["loadBalancingRules"][0]
    assert rule["id"] == f"{LB}/loadBalancingRules/http"
    assert rule["properties"]["backendAddressPool"]["id"] == f"{LB}/backendAddressPools/web"
    assert rule["properties"]["frontendPort"] == 80 and rule["properties"]["probe"]["id"] == f"{LB}/probes/health"
    got = client.get(f"{LB}?{API}").json()
    assert got["properties"] == body["properties"] and got["etag"] == body["etag"]
    listed = client.get(f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/loadBalancers?{API}")
    assert [lb["name"] for lb in listed.json()["value"]] == ["web-lb"]
    deleted = client.delete(f"{LB}?{API}")
    assert deleted.status_code in (200, 202, 204)
    assert client.get(f"{LB}?{API}").status_code == 404


def test_the_models_validation_refuses_bad_values_all_at_once(client: TestClient) -> None:
    estate(client)
    bad = load_balancer(probe_port=70000, pool="web")
    bad["properties"]["loadBalancingRules"][0]["properties"]["probe"] = {"id": f"{LB}/probes/missing"}
    answer = put(client, LB, bad)
    assert answer.status_code == 400
    error = answer.json()["error"]
    codes = sorted(d["code"] for d in error.get("details", [])) or [error["code"]]
    assert codes == ["InvalidResourceReference", "LoadBalancerInvalidPort"], error
    assert client.get(f"{LB}?{API}").status_code == 404  # nothing half-applied


def test_backend_pools_in_use_keep_the_load_balancer_and_its_public_ip(client: TestClient) -> None:
    estate(client)
    assert put(client, LB, load_balancer()).status_code == 201
    missing_pool = put(client, rid("networkInterfaces", "web1"), nic_in_pool(f"{LB}/backendAddressPools/nope"))
    assert missing_pool.status_code == 400
    error = missing_pool.json()["error"]
    assert error["code"] == "InvalidResourceReference" and error["details"][0]["target"].endswith(
        "#properties.ipConfigurations[0].properties.loadBalancerBackendAddressPools[0].id"
    )
    nic = put(client, rid("networkInterfaces", "web1"), nic_in_pool(f"{LB}/backendAddressPools/web"))
    assert nic.status_code == 201, nic.text
    in_use = client.delete(f"{LB}?{API}")
    assert in_use.status_code == 400 and in_use.json()["error"]["code"] == "InUseLoadBalancerCannotBeDeleted"
    pip_in_use = client.delete(f"{PIP}?{API}")
    assert pip_in_use.status_code == 400 and pip_in_use.json()["error"]["code"] == "PublicIPAddressInUse"
    assert client.delete(f"{rid('networkInterfaces', 'web1')}?{API}").status_code in (200, 202, 204)
    assert client.delete(f"{LB}?{API}").status_code in (200, 202, 204)


@needs_realworld
def test_answers_match_the_official_schema_and_drop_nothing_written(client: TestClient) -> None:
    """No official example exercises load balancers, so the official definition checks our own PUT and GET."""
    if not (SPEC / "loadBalancer.json").is_file():
        pytest.skip("the official loadBalancer.json is not in the shared material")
    estate(client)
    sent = load_balancer()
    validator = Draft4Validator({"$ref": f"{BASE}loadBalancer.json#/definitions/LoadBalancer"}, registry=registry())
    for answer in (put(client, LB, sent).json(), client.get(f"{LB}?{API}").json()):
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)]
        assert not problems, problems
        assert not writable_differences("loadBalancer.json", {"$ref": "#/definitions/LoadBalancer"}, sent, answer)
