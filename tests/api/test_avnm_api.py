"""The service's AVNM routes (§11.1), private endpoints, NAT gateways and defaultOutboundAccess (§12.2):
in-process on SQLite; the Azure SDK round trip is in test_avnm_sdk.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from tests.api.conftest import SUB, rid

NEW_API = "api-version=2026-01-01"
NM = rid("networkManagers", "nm")
GROUP = f"{NM}/networkGroups/spokes"
CONFIG = f"{NM}/securityAdminConfigurations/baseline"
COLLECTION = f"{CONFIG}/ruleCollections/guardrails"
VNET = rid("virtualNetworks", "spoke")


def put(client: TestClient, resource_id: str, body: dict[str, Any], api: str = NEW_API) -> Any:
    return client.put(f"{resource_id}?{api}", json=body)


def ok(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


def admin_rule(priority: int = 10, **properties: Any) -> dict[str, Any]:
    base = {
        "protocol": "Tcp",
        "access": "Deny",
        "direction": "Inbound",
        "priority": priority,
        "sources": [{"addressPrefixType": "ServiceTag", "addressPrefix": "Internet"}],
        "destinations": [{"addressPrefixType": "IPPrefix", "addressPrefix": "*"}],
        "sourcePortRanges": [],
        "destinationPortRanges": ["22"],
    }
    base.update(properties)
    return {"kind": "Custom", "properties": base}


def estate(client: TestClient) -> None:
    ok(client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{NEW_API}", json={"location": "westus"}))
    vnet = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.1.0/24"}}],
        },
    }
    ok(put(client, VNET, vnet))
    manager = {
        "location": "westus",
        "properties": {
            "networkManagerScopes": {"subscriptions": [f"/subscriptions/{SUB}"]},
            "networkManagerScopeAccesses": ["SecurityAdmin"],
        },
    }
    created = ok(put(client, NM, manager), 201)
    assert created["properties"]["provisioningState"] == "Succeeded" and created["etag"]
    ok(put(client, GROUP, {"properties": {"memberType": "VirtualNetwork"}}), 201)
    ok(put(client, f"{GROUP}/staticMembers/spoke", {"properties": {"resourceId": VNET}}), 201)
    ok(put(client, CONFIG, {"properties": {"applyOnNetworkIntentPolicyBasedServices": ["None"]}}), 201)
    ok(put(client, COLLECTION, {"properties": {"appliesToGroups": [{"networkGroupId": GROUP}]}}), 201)
    ok(put(client, f"{COLLECTION}/rules/deny-ssh", admin_rule()), 201)


def test_every_avnm_resource_put_get_list_with_etags(client: TestClient) -> None:
    estate(client)
    rule = ok(client.get(f"{COLLECTION}/rules/deny-ssh?{NEW_API}"))
    assert rule["kind"] == "Custom" and rule["type"].endswith("/ruleCollections/rules")
    assert rule["properties"]["destinationPortRanges"] == ["22"] and rule["etag"]
    member = ok(client.get(f"{GROUP}/staticMembers/spoke?{NEW_API}"))
    assert member["properties"]["resourceId"] == VNET and member["properties"]["region"] == "westus"
    configuration = ok(client.get(f"{CONFIG}?{NEW_API}"))
    assert configuration["properties"]["resourceGuid"]
    for collection, names in (
        (f"{NM}/networkGroups", ["spokes"]),
        (f"{GROUP}/staticMembers", ["spoke"]),
        (f"{NM}/securityAdminConfigurations", ["baseline"]),
        (f"{CONFIG}/ruleCollections", ["guardrails"]),
        (f"{COLLECTION}/rules", ["deny-ssh"]),
    ):
        assert [v["name"] for v in ok(client.get(f"{collection}?{NEW_API}"))["value"]] == names
    updated = client.put(
        f"{COLLECTION}/rules/deny-ssh?{NEW_API}", json=admin_rule(20), headers={"If-Match": rule["etag"]}
    )
    assert ok(updated, 200)["properties"]["priority"] == 20
    stale = client.put(
        f"{COLLECTION}/rules/deny-ssh?{NEW_API}", json=admin_rule(30), headers={"If-Match": rule["etag"]}
    )
    assert stale.status_code == 412
    listed = ok(client.get(f"/subscriptions/{SUB}/providers/Microsoft.Network/networkManagers?{NEW_API}"))
    assert [m["name"] for m in listed["value"]] == ["nm"]


def test_missing_parents_are_404(client: TestClient) -> None:
    estate(client)
    answer = put(
        client, f"{NM}/securityAdminConfigurations/nope/ruleCollections/rc", {"properties": {"appliesToGroups": []}}
    )
    assert answer.status_code == 404 and "securityAdminConfigurations/nm/nope" in answer.text
    assert client.get(f"{CONFIG}/ruleCollections/none?{NEW_API}").status_code == 404
    other = rid("networkManagers", "other")
    assert put(client, f"{other}/networkGroups/g", {"properties": {}}).status_code == 404


def test_invalid_admin_rules_are_refused_with_every_problem_and_nothing_stored(client: TestClient) -> None:
    estate(client)
    body = admin_rule(
        5000,
        sourcePortRanges=["99999"],
        destinations=[{"addressPrefixType": "IPPrefix", "addressPrefix": "300.0.0.0/8"}],
    )
    answer = put(client, f"{COLLECTION}/rules/bad", body)
    assert answer.status_code == 400
    codes = {d["code"] for d in answer.json()["error"]["details"]}
    assert codes == {
        "SecurityAdminRuleInvalidPriority",
        "SecurityAdminRuleInvalidPortRange",
        "SecurityAdminRuleInvalidAddressPrefix",
    }
    assert client.get(f"{COLLECTION}/rules/bad?{NEW_API}").status_code == 404
    unknown = put(client, f"{COLLECTION}/rules/bad", admin_rule(protocol="Gre"))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "SecurityAdminRuleInvalidProtocol"
    duplicate = put(client, f"{COLLECTION}/rules/again", admin_rule(10))
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "SecurityAdminRulePriorityConflict"


def test_static_member_type_and_missing_group_are_refused(client: TestClient) -> None:
    estate(client)
    wrong = put(client, f"{GROUP}/staticMembers/subnet", {"properties": {"resourceId": f"{VNET}/subnets/app"}})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "StaticMemberResourceTypeMismatch"
    missing = put(
        client, COLLECTION, {"properties": {"appliesToGroups": [{"networkGroupId": f"{NM}/networkGroups/x"}]}}
    )
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "RuleCollectionNetworkGroupNotFound"


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _poll_result(client: TestClient, response: Any) -> Any:
    assert response.status_code == 202, response.text
    status = client.get(_local(response.headers["Azure-AsyncOperation"]))
    assert status.json()["status"] == "Succeeded"
    return client.get(_local(response.headers["Location"]))


def test_commit_then_deployment_status_and_active_rules(client: TestClient) -> None:
    estate(client)
    body = {"targetLocations": ["westus"], "configurationIds": [CONFIG], "commitType": "SecurityAdmin"}
    result = _poll_result(client, client.post(f"{NM}/commit?{NEW_API}", json=body))
    assert result.json()["configurationIds"] == [CONFIG] and result.json()["commitId"]
    statuses = ok(client.post(f"{NM}/listDeploymentStatus?{NEW_API}", json={"regions": ["westus"]}))
    (status,) = statuses["value"]
    assert (status["region"], status["deploymentStatus"], status["configurationIds"]) == (
        "westus",
        "Deployed",
        [CONFIG],
    )
    assert status["deploymentType"] == "SecurityAdmin" and status["commitTime"]
    assert ok(client.post(f"{NM}/listDeploymentStatus?{NEW_API}", json={"regions": ["eastus"]}))["value"] == []
    active = ok(client.post(f"{NM}/listActiveSecurityAdminRules?{NEW_API}", json={"regions": ["westus"]}))
    (entry,) = active["value"]
    assert entry["id"] == f"{COLLECTION}/rules/deny-ssh" and entry["region"] == "westus"
    assert entry["ruleCollectionAppliesToGroups"] == [{"networkGroupId": GROUP}]
    # removing the deployment: a commit without configurations
    removal = {"targetLocations": ["westus"], "configurationIds": [], "commitType": "SecurityAdmin"}
    _poll_result(client, client.post(f"{NM}/commit?{NEW_API}", json=removal))
    assert ok(client.post(f"{NM}/listDeploymentStatus?{NEW_API}", json={}))["value"] == []


def test_commit_of_two_configurations_or_a_foreign_one_is_refused(client: TestClient) -> None:
    estate(client)
    second = f"{NM}/securityAdminConfigurations/second"
    ok(put(client, second, {"properties": {}}), 201)
    two = {"targetLocations": ["westus"], "configurationIds": [CONFIG, second], "commitType": "SecurityAdmin"}
    answer = client.post(f"{NM}/commit?{NEW_API}", json=two)
    assert (
        answer.status_code == 400
        and answer.json()["error"]["code"] == "MultipleSecurityAdminConfigurationsDeployedInRegion"
    )
    foreign = {
        "targetLocations": ["westus"],
        "configurationIds": [CONFIG.replace("/nm/", "/x/")],
        "commitType": "SecurityAdmin",
    }
    assert client.post(f"{NM}/commit?{NEW_API}", json=foreign).json()["error"]["code"] == "InvalidResourceReference"
    assert client.post(f"{NM}/commit?{NEW_API}", json={"targetLocations": ["westus"]}).status_code == 400


def test_deleting_a_manager_deletes_its_children_and_deployments(client: TestClient) -> None:
    estate(client)
    body = {"targetLocations": ["westus"], "configurationIds": [CONFIG], "commitType": "SecurityAdmin"}
    _poll_result(client, client.post(f"{NM}/commit?{NEW_API}", json=body))
    assert client.delete(f"{COLLECTION}/rules/deny-ssh?{NEW_API}").status_code == 202
    assert client.delete(f"{COLLECTION}/rules/deny-ssh?{NEW_API}").status_code == 204
    in_use = client.delete(f"{GROUP}?{NEW_API}")
    assert in_use.status_code == 400 and in_use.json()["error"]["code"] == "InUseNetworkGroupCannotBeDeleted"
    assert client.delete(f"{GROUP}/staticMembers/spoke?{NEW_API}").status_code == 200
    assert client.delete(f"{NM}?{NEW_API}").status_code == 202
    for gone in (NM, GROUP, CONFIG, COLLECTION):
        assert client.get(f"{gone}?{NEW_API}").status_code == 404
    recreated = {
        "location": "westus",
        "properties": {"networkManagerScopes": {"subscriptions": [f"/subscriptions/{SUB}"]}},
    }
    ok(put(client, NM, recreated), 201)
    assert ok(client.post(f"{NM}/listDeploymentStatus?{NEW_API}", json={}))["value"] == []


def test_vnet_effective_admin_rules_follow_deployment(client: TestClient) -> None:
    estate(client)
    answer = ok(client.post(f"{VNET}/listNetworkManagerEffectiveSecurityAdminRules?{NEW_API}", json={}))
    assert answer["skipToken"] == ""
    (entry,) = answer["value"]  # no deployment status yet: deployed everywhere (semantics §11.6)
    assert entry["id"] == f"{COLLECTION}/rules/deny-ssh" and entry["kind"] == "Custom"
    assert entry["ruleCollectionAppliesToGroups"] == [{"networkGroupId": GROUP}]
    elsewhere = {"targetLocations": ["eastus"], "configurationIds": [CONFIG], "commitType": "SecurityAdmin"}
    _poll_result(client, client.post(f"{NM}/commit?{NEW_API}", json=elsewhere))
    after = ok(client.post(f"{VNET}/listNetworkManagerEffectiveSecurityAdminRules?{NEW_API}", json={}))
    assert after["value"] == []  # deployed in eastus only; the VNet is in westus
    assert (
        client.post(
            f"{rid('virtualNetworks', 'nope')}/listNetworkManagerEffectiveSecurityAdminRules?{NEW_API}", json={}
        ).status_code
        == 404
    )


def _subnet(client: TestClient, vnet: str, api: str) -> Any:
    body = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.9.0.0/16"]},
            "subnets": [{"name": "a", "properties": {"addressPrefix": "10.9.1.0/24"}}],
        },
    }
    ok(put(client, vnet, body, api))
    return ok(client.get(f"{vnet}/subnets/a?{NEW_API}"))["properties"].get("defaultOutboundAccess")


def test_default_outbound_access_follows_the_api_version_of_the_creating_put(client: TestClient) -> None:
    ok(client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{NEW_API}", json={"location": "westus"}))
    assert _subnet(client, rid("virtualNetworks", "new"), "api-version=2025-07-01") is False
    assert _subnet(client, rid("virtualNetworks", "old"), "api-version=2024-05-01") is None  # default access kept
    # an existing VNet keeps its subnets' value when a later PUT (any version) leaves it out
    assert _subnet(client, rid("virtualNetworks", "new"), "api-version=2024-05-01") is False
    assert _subnet(client, rid("virtualNetworks", "old"), NEW_API) is None
    explicit = put(
        client,
        rid("virtualNetworks", "explicit"),
        {
            "location": "westus",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.8.0.0/16"]},
                "subnets": [
                    {"name": "a", "properties": {"addressPrefix": "10.8.1.0/24", "defaultOutboundAccess": True}}
                ],
            },
        },
    )
    assert ok(explicit)["properties"]["subnets"][0]["properties"]["defaultOutboundAccess"] is True


def test_private_endpoint_and_nat_gateway_routes(client: TestClient) -> None:
    estate(client)
    endpoint = {"location": "westus", "properties": {"subnet": {"id": f"{VNET}/subnets/app"}}}
    created = ok(put(client, rid("privateEndpoints", "pe"), endpoint), 201)
    assert created["properties"]["subnet"]["id"] == f"{VNET}/subnets/app"
    nat = ok(put(client, rid("natGateways", "nat"), {"location": "westus", "sku": {"name": "Standard"}}), 201)
    assert nat["sku"] == {"name": "Standard"}
    subnet = {
        "properties": {
            "addressPrefix": "10.0.1.0/24",
            "natGateway": {"id": rid("natGateways", "nat")},
            "privateEndpointNetworkPolicies": "Enabled",
        }
    }
    answer = ok(client.put(f"{VNET}/subnets/app?{NEW_API}", json=subnet))
    assert answer["properties"]["natGateway"]["id"] == rid("natGateways", "nat")
    assert answer["properties"]["privateEndpointNetworkPolicies"] == "Enabled"
    in_use = client.delete(f"{rid('natGateways', 'nat')}?{NEW_API}")
    assert in_use.status_code == 400 and in_use.json()["error"]["code"] == "InUseNatGatewayCannotBeDeleted"


def test_api_version_2026_01_01_is_the_newest_known(client: TestClient) -> None:
    assert client.get(f"/subscriptions/{SUB}/resourcegroups?{NEW_API}").status_code == 200
    assert client.get("/").json()["apiVersions"]["latest"] == "2026-01-01"
