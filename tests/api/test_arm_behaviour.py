"""ARM behaviour of the service, request by request (in-process client on SQLite): versions, auth, status codes,
ETags and preconditions, LRO headers, paging, casing, back-references, in-use deletes, errors, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import API, LIMITED_TOKEN, OTHER_SUB, SUB, TOKENS, auth, rid, rule_body

from opennsg.api import ServiceConfig, create_app
from opennsg.model.servicetags import ServiceTags

SAMPLE_TAGS = Path(__file__).resolve().parents[2] / "src" / "opennsg" / "data" / "sample-service-tags.json"


def url(resource_id: str, query: str = API) -> str:
    return f"{resource_id}?{query}" if query else resource_id


def group(client: TestClient, name: str = "rg1", sub: str = SUB) -> None:
    response = client.put(url(f"/subscriptions/{sub}/resourcegroups/{name}"), json={"location": "westus"})
    assert response.status_code in (200, 201), response.text


def nsg(client: TestClient, name: str, rules: list[dict[str, Any]] | None = None, **headers: str) -> Any:
    body = {"location": "westus", "properties": {"securityRules": rules or []}}
    return client.put(url(rid("networkSecurityGroups", name)), json=body, headers=headers)


def named_rule(name: str, priority: int, **kwargs: Any) -> dict[str, Any]:
    return {"name": name, **rule_body(priority, **kwargs)}


def vnet_body(nsg_id: str | None = None, subnets: tuple[str, ...] = ("app",)) -> dict[str, Any]:
    subnet_list = []
    for i, subnet in enumerate(subnets):
        properties: dict[str, Any] = {"addressPrefix": f"10.0.{i}.0/24"}
        if nsg_id:
            properties["networkSecurityGroup"] = {"id": nsg_id}
        subnet_list.append({"name": subnet, "properties": properties})
    return {
        "location": "westus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnet_list},
    }


def nic_body(subnet_id: str, address: str, nsg_id: str | None = None, asgs: tuple[str, ...] = ()) -> dict[str, Any]:
    config: dict[str, Any] = {"privateIPAddress": address, "subnet": {"id": subnet_id}, "primary": True}
    if asgs:
        config["applicationSecurityGroups"] = [{"id": a} for a in asgs]
    properties: dict[str, Any] = {"ipConfigurations": [{"name": "ipconfig1", "properties": config}]}
    if nsg_id:
        properties["networkSecurityGroup"] = {"id": nsg_id}
    return {"location": "westus", "properties": properties}


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- api-version, auth -----------------------------------------------------------------------------------------------


def test_api_version_is_required_and_any_dated_version_is_accepted(client: TestClient) -> None:
    path = f"/subscriptions/{SUB}/resourcegroups/rg1"
    missing = client.put(path, json={"location": "westus"})
    assert missing.status_code == 400 and error_code(missing) == "MissingApiVersionParameter"
    bad = client.put(f"{path}?api-version=latest", json={"location": "westus"})
    assert bad.status_code == 400 and error_code(bad) == "InvalidApiVersionParameter"
    assert client.put(f"{path}?api-version=2026-03-01", json={"location": "westus"}).status_code == 201
    assert client.get(f"{path}?api-version=2017-01-01-preview").status_code == 200


def test_bearer_token_required_and_scoped_to_subscriptions(client: TestClient) -> None:
    path = url(f"/subscriptions/{SUB}/resourcegroups/rg1")
    anonymous = client.get(path, headers={"Authorization": ""})
    assert anonymous.status_code == 401 and error_code(anonymous) == "AuthenticationFailed"
    assert "Bearer" in anonymous.headers["www-authenticate"]
    wrong = client.get(path, headers=auth("not-a-token"))
    assert wrong.status_code == 401
    other = url(f"/subscriptions/{OTHER_SUB}/resourcegroups/rg1")
    limited = client.put(other, json={"location": "westus"}, headers=auth(LIMITED_TOKEN))
    assert limited.status_code == 403 and error_code(limited) == "AuthorizationFailed"
    assert client.put(path, json={"location": "westus"}, headers=auth(LIMITED_TOKEN)).status_code == 201
    assert client.put(other, json={"location": "westus"}).status_code == 201  # the "*" token
    for public in ("/healthz", "/openapi.json"):
        assert client.get(public, headers={"Authorization": ""}).status_code == 200


# --- resource groups -------------------------------------------------------------------------------------------------


def test_resource_group_lifecycle(client: TestClient) -> None:
    path = f"/subscriptions/{SUB}/resourcegroups/rg1"
    created = client.put(url(path), json={"location": "westus", "tags": {"a": "b"}})
    assert created.status_code == 201
    body = created.json()
    assert body["id"] == f"/subscriptions/{SUB}/resourceGroups/rg1" and body["properties"]["provisioningState"]
    assert client.put(url(path), json={"location": "westus"}).status_code == 200
    assert client.head(url(path)).status_code == 204
    assert client.head(url(f"/subscriptions/{SUB}/resourcegroups/none")).status_code == 404
    listed = client.get(url(f"/subscriptions/{SUB}/resourcegroups")).json()["value"]
    assert [g["name"] for g in listed] == ["rg1"]
    assert client.get(url(f"/subscriptions/{SUB}")).json()["subscriptionId"] == SUB
    assert nsg(client, "nsg1").status_code == 201
    deleted = client.delete(url(path))
    assert deleted.status_code == 202 and "operationResults" in deleted.headers["location"]
    gone = client.get(url(path))
    assert gone.status_code == 404 and error_code(gone) == "ResourceGroupNotFound"
    missing_group = client.get(url(rid("networkSecurityGroups", "nsg1")))
    assert missing_group.status_code == 404 and error_code(missing_group) == "ResourceGroupNotFound"
    assert nsg(client, "nsg2").status_code == 404


def test_resource_group_with_resources_used_from_outside_is_not_deleted(client: TestClient) -> None:
    group(client, "rg1")
    group(client, "rg2")
    nsg_id = rid("networkSecurityGroups", "shared", group="rg1")
    assert client.put(url(nsg_id), json={"location": "westus"}).status_code == 201
    vnet_id = rid("virtualNetworks", "vnet", group="rg2")
    assert client.put(url(vnet_id), json=vnet_body(nsg_id)).status_code == 201
    refused = client.delete(url(f"/subscriptions/{SUB}/resourceGroups/rg1"))
    assert refused.status_code == 400 and error_code(refused) == "InUseNetworkSecurityGroupCannotBeDeleted"
    assert client.get(url(nsg_id)).status_code == 200


# --- NSGs, ETags, LRO ------------------------------------------------------------------------------------------------


def test_put_get_status_codes_etags_and_lro_headers(client: TestClient) -> None:
    group(client)
    created = nsg(client, "nsg1", [named_rule("https", 100)])
    assert created.status_code == 201
    body = created.json()
    assert created.headers["etag"] == body["etag"] and body["etag"].startswith('W/"')
    assert body["properties"]["provisioningState"] == "Succeeded"
    assert [r["name"] for r in body["properties"]["defaultSecurityRules"]] == [
        "AllowVnetInBound",
        "AllowAzureLoadBalancerInBound",
        "DenyAllInBound",
        "AllowVnetOutBound",
        "AllowInternetOutBound",
        "DenyAllOutBound",
    ]
    assert created.headers["retry-after"] == "1"
    status = client.get(created.headers["azure-asyncoperation"])
    assert status.status_code == 200 and status.json() == {"status": "Succeeded"}
    updated = nsg(client, "nsg1", [named_rule("https", 100), named_rule("ssh", 110, port="22")])
    assert updated.status_code == 200 and updated.json()["etag"] != body["etag"]
    got = client.get(url(rid("networkSecurityGroups", "nsg1")))
    assert got.json() == updated.json() and got.headers["etag"] == updated.headers["etag"]
    rule = client.get(url(rid("networkSecurityGroups", "nsg1") + "/securityRules/ssh"))
    assert rule.status_code == 200 and rule.json()["properties"]["destinationPortRange"] == "22"
    assert rule.json()["etag"] == got.json()["etag"]


def test_preconditions(client: TestClient) -> None:
    group(client)
    first = nsg(client, "nsg1", **{"If-None-Match": "*"})
    assert first.status_code == 201
    etag = first.headers["etag"]
    again = nsg(client, "nsg1", **{"If-None-Match": "*"})
    assert again.status_code == 412 and error_code(again) == "PreconditionFailed"
    stale = nsg(client, "nsg1", **{"If-Match": 'W/"00000000-0000-0000-0000-000000000000"'})
    assert stale.status_code == 412
    fresh = nsg(client, "nsg1", **{"If-Match": etag})
    assert fresh.status_code == 200
    assert nsg(client, "nsg1", **{"If-Match": etag}).status_code == 412  # the etag changed with the write
    assert nsg(client, "nsg2", **{"If-Match": "*"}).status_code == 412  # nothing to match
    rule_path = url(rid("networkSecurityGroups", "nsg1") + "/securityRules/r1")
    assert client.put(rule_path, json=rule_body(100), headers={"If-Match": "*"}).status_code == 412
    assert client.put(rule_path, json=rule_body(100), headers={"If-None-Match": "*"}).status_code == 201
    assert client.put(rule_path, json=rule_body(100), headers={"If-None-Match": "*"}).status_code == 412
    current = client.get(url(rid("networkSecurityGroups", "nsg1"))).headers["etag"]
    assert client.delete(url(rid("networkSecurityGroups", "nsg1")), headers={"If-Match": etag}).status_code == 412
    assert client.delete(url(rid("networkSecurityGroups", "nsg1")), headers={"If-Match": current}).status_code == 202


def test_validation_reports_every_problem_and_applies_nothing(client: TestClient) -> None:
    group(client)
    bad = nsg(
        client,
        "nsg1",
        [named_rule("a", 50), named_rule("b", 200, port="99999"), named_rule("c", 300), named_rule("d", 300)],
    )
    assert bad.status_code == 400
    codes = {d["code"] for d in bad.json()["error"]["details"]}
    assert {"SecurityRuleInvalidPriority", "SecurityRuleInvalidPortRange", "SecurityRuleConflict"} <= codes
    assert client.get(url(rid("networkSecurityGroups", "nsg1"))).status_code == 404

    assert nsg(client, "nsg1", [named_rule("a", 100)]).status_code == 201
    before = client.get(url(rid("networkSecurityGroups", "nsg1"))).json()
    conflict = client.put(url(rid("networkSecurityGroups", "nsg1") + "/securityRules/b"), json=rule_body(100))
    assert conflict.status_code == 400 and error_code(conflict) == "SecurityRuleConflict"
    assert client.get(url(rid("networkSecurityGroups", "nsg1"))).json() == before
    outbound = client.put(
        url(rid("networkSecurityGroups", "nsg1") + "/securityRules/b"), json=rule_body(100, direction="Outbound")
    )
    assert outbound.status_code == 201


def test_rule_crud_and_default_rules(client: TestClient) -> None:
    group(client)
    assert nsg(client, "nsg1").status_code == 201
    base = rid("networkSecurityGroups", "nsg1")
    created = client.put(url(base + "/securityRules/r1"), json=rule_body(100))
    assert created.status_code == 201
    assert created.json() == client.get(url(base + "/securityRules/r1")).json()  # PUT answers what GET reads
    assert client.put(url(base + "/securityRules/R1"), json=rule_body(101)).status_code == 200
    listed = client.get(url(base + "/securityRules")).json()["value"]
    assert [(r["name"], r["properties"]["priority"]) for r in listed] == [("r1", 101)]
    defaults = client.get(url(base + "/defaultSecurityRules")).json()["value"]
    assert len(defaults) == 6
    deny = client.get(url(base + "/defaultSecurityRules/denyallinbound")).json()
    assert deny["properties"]["priority"] == 65500 and deny["properties"]["access"] == "Deny"
    assert client.put(url(base + "/defaultSecurityRules/DenyAllInBound"), json=rule_body(100)).status_code == 405
    deleted = client.delete(url(base + "/securityRules/r1"))
    assert deleted.status_code == 202 and deleted.headers["location"]
    assert client.get(deleted.headers["location"]).status_code == 204
    assert client.delete(url(base + "/securityRules/r1")).status_code == 204
    missing = client.get(url(base + "/securityRules/r1"))
    assert missing.status_code == 404 and error_code(missing) == "ResourceNotFound"


def test_patch_tags_and_immutable_location(client: TestClient) -> None:
    group(client)
    etag = nsg(client, "nsg1", [named_rule("a", 100)]).headers["etag"]
    patched = client.patch(url(rid("networkSecurityGroups", "nsg1")), json={"tags": {"env": "prod"}})
    assert patched.status_code == 200 and patched.json()["tags"] == {"env": "prod"}
    assert patched.json()["etag"] != etag
    assert [r["name"] for r in patched.json()["properties"]["securityRules"]] == ["a"]
    moved = client.put(url(rid("networkSecurityGroups", "nsg1")), json={"location": "eastus"})
    assert moved.status_code == 400 and error_code(moved) == "InvalidResourceLocation"
    for scalar in (True, 7):  # read as Json.NET binds a string ("true", "7"): a move too, not a kept location
        not_a_text = client.put(url(rid("networkSecurityGroups", "nsg1")), json={"location": scalar})
        assert not_a_text.status_code == 400 and error_code(not_a_text) == "InvalidResourceLocation"
    assert client.get(url(rid("networkSecurityGroups", "nsg1"))).json()["location"] == "westus"
    no_location = client.put(url(rid("networkSecurityGroups", "nsg2")), json={"properties": {}})
    assert no_location.status_code == 400 and error_code(no_location) == "LocationRequired"


def test_case_insensitive_paths_and_names(client: TestClient) -> None:
    group(client, "RG1")
    assert nsg(client, "Nsg1").status_code == 201
    shouted = f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/rg1/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG1"
    got = client.get(url(shouted))
    assert got.status_code == 200
    assert got.json()["name"] == "Nsg1"  # the casing given at creation is kept
    lower = f"/subscriptions/{SUB}/resourcegroups/rg1/providers/microsoft.network/networksecuritygroups"
    assert [n["name"] for n in client.get(url(lower)).json()["value"]] == ["Nsg1"]
    assert nsg(client, "NSG1").status_code == 200  # same resource


def test_paging_with_top_and_next_link(client: TestClient) -> None:
    group(client)
    names = [f"asg{i}" for i in range(7)]
    for name in names:
        put = client.put(url(rid("applicationSecurityGroups", name)), json={"location": "westus"})
        assert put.status_code == 201
    seen: list[str] = []
    link: str | None = url(
        f"/subscriptions/{SUB}/providers/Microsoft.Network/applicationSecurityGroups", API + "&$top=3"
    )
    pages = 0
    while link:
        page = client.get(link).json()
        seen += [a["name"] for a in page["value"]]
        link = page.get("nextLink")
        pages += 1
    assert seen == sorted(names) and pages == 3
    bad_top = client.get(
        url(f"/subscriptions/{SUB}/providers/Microsoft.Network/applicationSecurityGroups", API + "&$top=x")
    )
    assert bad_top.status_code == 400


# --- references, back-references, in-use ----------------------------------------------------------------------------


def test_back_references_and_in_use_deletes(client: TestClient) -> None:
    group(client)
    nsg_id = rid("networkSecurityGroups", "nsg1")
    asg_id = rid("applicationSecurityGroups", "web")
    assert nsg(client, "nsg1").status_code == 201
    assert client.put(url(asg_id), json={"location": "westus"}).status_code == 201
    vnet_id = rid("virtualNetworks", "vnet1")
    assert client.put(url(vnet_id), json=vnet_body(nsg_id, ("app", "spare"))).status_code == 201
    nic_id = rid("networkInterfaces", "nic1")
    assert (
        client.put(url(nic_id), json=nic_body(vnet_id + "/subnets/app", "10.0.0.4", nsg_id, (asg_id,))).status_code
        == 201
    )

    properties = client.get(url(nsg_id)).json()["properties"]
    assert {s["id"].rsplit("/", 1)[-1] for s in properties["subnets"]} == {"app", "spare"}
    assert [n["id"].casefold() for n in properties["networkInterfaces"]] == [nic_id.casefold()]

    for path, code in (
        (nsg_id, "InUseNetworkSecurityGroupCannotBeDeleted"),
        (asg_id, "InUseApplicationSecurityGroupCannotBeDeleted"),
        (vnet_id + "/subnets/app", "InUseSubnetCannotBeDeleted"),
        (vnet_id, "InUseSubnetCannotBeDeleted"),
    ):
        refused = client.delete(url(path))
        assert refused.status_code == 400 and error_code(refused) == code, path
    shrink = client.put(url(vnet_id), json=vnet_body(nsg_id, ("spare",)))
    assert shrink.status_code == 400 and error_code(shrink) == "InUseSubnetCannotBeDeleted"
    assert client.delete(url(vnet_id + "/subnets/spare")).status_code == 202
    assert client.delete(url(nic_id)).status_code == 202
    for path in (asg_id, vnet_id, nsg_id):
        assert client.delete(url(path)).status_code == 202, path


def test_dangling_references_are_rejected(client: TestClient) -> None:
    group(client)
    vnet_id = rid("virtualNetworks", "vnet1")
    missing_nsg = rid("networkSecurityGroups", "nope")
    refused = client.put(url(vnet_id), json=vnet_body(missing_nsg))
    assert refused.status_code == 400 and error_code(refused) == "InvalidResourceReference"
    assert client.get(url(vnet_id)).status_code == 404
    assert client.put(url(vnet_id), json=vnet_body()).status_code == 201
    extra = client.put(url(vnet_id + "/subnets/extra"), json={"properties": {"addressPrefix": "10.0.9.0/24"}})
    assert extra.status_code == 201 and extra.json() == client.get(url(vnet_id + "/subnets/extra")).json()
    subnet = client.put(
        url(vnet_id + "/subnets/app"),
        json={"properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": missing_nsg}}},
    )
    assert subnet.status_code == 400 and error_code(subnet) == "InvalidResourceReference"
    nic = client.put(url(rid("networkInterfaces", "nic1")), json=nic_body(vnet_id + "/subnets/nope", "10.0.0.4"))
    assert nic.status_code == 400 and error_code(nic) == "InvalidResourceReference"


def test_peering_states_follow_both_sides(client: TestClient) -> None:
    group(client)
    a, b = rid("virtualNetworks", "a"), rid("virtualNetworks", "b")
    for vnet, space in ((a, "10.0.0.0/16"), (b, "10.1.0.0/16")):
        body = {"location": "westus", "properties": {"addressSpace": {"addressPrefixes": [space]}}}
        assert client.put(url(vnet), json=body).status_code == 201
    a_to_b = client.put(
        url(a + "/virtualNetworkPeerings/a-b"), json={"properties": {"remoteVirtualNetwork": {"id": b}}}
    )
    assert a_to_b.status_code == 201 and a_to_b.json()["properties"]["peeringState"] == "Initiated"
    b_to_a = client.put(
        url(b + "/virtualNetworkPeerings/b-a"), json={"properties": {"remoteVirtualNetwork": {"id": a}}}
    )
    assert b_to_a.json()["properties"]["peeringState"] == "Connected"
    assert b_to_a.json()["properties"]["remoteAddressSpace"]["addressPrefixes"] == ["10.0.0.0/16"]
    again = client.get(url(a + "/virtualNetworkPeerings/a-b")).json()["properties"]
    assert again["peeringState"] == "Connected" and again["remoteAddressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]
    assert client.delete(url(b + "/virtualNetworkPeerings/b-a")).status_code == 202
    assert client.get(url(a + "/virtualNetworkPeerings/a-b")).json()["properties"]["peeringState"] == "Disconnected"


def test_peering_options_and_subnet_peering_are_kept(client: TestClient) -> None:
    group(client)
    a, b = rid("virtualNetworks", "a"), rid("virtualNetworks", "b")
    for vnet, space in ((a, "10.0.0.0/16"), (b, "10.1.0.0/16")):
        body = {"location": "westus", "properties": {"addressSpace": {"addressPrefixes": [space]}}}
        assert client.put(url(vnet), json=body).status_code == 201
    options = {
        "allowVirtualNetworkAccess": True,
        "allowForwardedTraffic": True,
        "allowGatewayTransit": False,
        "useRemoteGateways": False,
        "peerCompleteVnets": False,
        "enableOnlyIPv6Peering": False,
        "localSubnetNames": ["Subnet1", "Subnet4"],
        "remoteSubnetNames": ["Subnet2"],
    }
    put = client.put(
        url(a + "/virtualNetworkPeerings/peer"), json={"properties": {"remoteVirtualNetwork": {"id": b}, **options}}
    )
    assert put.status_code == 201
    for answer in (put.json(), client.get(url(a + "/virtualNetworkPeerings/peer")).json()):
        assert {k: answer["properties"][k] for k in options} == options


# --- errors and limits -----------------------------------------------------------------------------------------------


def test_malformed_bodies_and_size_limit(sqlite_url: str) -> None:
    app = create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS, max_body=2048))
    with TestClient(app, headers=auth()) as client:
        path = url(f"/subscriptions/{SUB}/resourcegroups/rg1")
        for raw in (b"{not json", b"[1, 2]", b"", b'{"location": NaN}', b"[" * 100000):
            response = client.put(path, content=raw, headers={"Content-Type": "application/json"})
            assert response.status_code in (400, 413) and "error" in response.json(), raw[:20]
        too_big = client.put(path, json={"location": "westus", "tags": {"x": "y" * 4000}})
        assert too_big.status_code == 413 and error_code(too_big) == "RequestEntityTooLarge"
        invalid_sub = client.get("/subscriptions/not-a-guid/resourcegroups/rg1?" + API)
        assert invalid_sub.status_code == 400 and error_code(invalid_sub) == "InvalidSubscriptionId"
        unknown = client.get(url(f"/subscriptions/{SUB}/providers/Microsoft.Network/unknownThings"))
        assert unknown.status_code == 404 and "error" in unknown.json()
        group(client)
        wrong_types = client.put(
            url(rid("networkSecurityGroups", "n")),
            json={"location": "westus", "properties": {"securityRules": [{"name": 5, "properties": []}]}},
        )
        assert wrong_types.status_code == 400


# --- diagnostics over raw HTTP: the 202 + Location flow, and service tags --------------------------------------------


@pytest.fixture
def tagged_client(sqlite_url: str) -> Any:
    app = create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS, service_tags=ServiceTags.load(SAMPLE_TAGS)))
    with TestClient(app, headers=auth()) as client:
        yield client


def test_ip_flow_verify_long_running_operation_and_service_tags(tagged_client: TestClient) -> None:
    client = tagged_client
    group(client)
    group(client, "NetworkWatcherRG")
    assert nsg(client, "nsg1", [named_rule("https", 100)]).status_code == 201
    vnet_id = rid("virtualNetworks", "vnet1")
    assert client.put(url(vnet_id), json=vnet_body(rid("networkSecurityGroups", "nsg1"))).status_code == 201
    nic_id = rid("networkInterfaces", "nic1")
    assert client.put(url(nic_id), json=nic_body(vnet_id + "/subnets/app", "10.0.0.4")).status_code == 201
    watcher = rid("networkWatchers", "NetworkWatcher_westus", group="NetworkWatcherRG")
    assert client.put(url(watcher), json={"location": "westus"}).status_code == 201
    flow = {
        "targetResourceId": nic_id,
        "direction": "Inbound",
        "protocol": "TCP",
        "localIPAddress": "10.0.0.4",
        "localPort": "443",
        "remoteIPAddress": "52.10.20.30",
        "remotePort": "50000",
    }
    accepted = client.post(url(watcher + "/ipFlowVerify"), json=flow)
    assert accepted.status_code == 202
    assert client.get(accepted.headers["azure-asyncoperation"]).json() == {"status": "Succeeded"}
    result = client.get(accepted.headers["location"])
    assert result.json() == {"access": "Allow", "ruleName": "securityRules/https"}
    denied = client.post(url(watcher + "/ipFlowVerify"), json=flow | {"localPort": "8443"})
    assert client.get(denied.headers["location"]).json() == {
        "access": "Deny",
        "ruleName": "defaultSecurityRules/DenyAllInBound",
    }
    not_mine = client.post(url(watcher + "/ipFlowVerify"), json=flow | {"localIPAddress": "10.0.0.99"})
    assert not_mine.status_code == 400
    incomplete = client.post(url(watcher + "/ipFlowVerify"), json={"targetResourceId": nic_id})
    assert incomplete.status_code == 400
    no_target = client.post(url(watcher + "/ipFlowVerify"), json=flow | {"targetResourceId": nic_id + "x"})
    assert no_target.status_code == 404
    view = client.post(url(watcher + "/securityGroupView"), json={"targetResourceId": nic_id})
    assert view.status_code == 202
    assert "networkInterfaces" in client.get(view.headers["location"]).json()

    tags = client.get(url(f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus/serviceTags")).json()
    assert tags["type"] == "Microsoft.Network/serviceTags"
    assert len(tags["values"]) == len(ServiceTags.load(SAMPLE_TAGS).tags) > 0
    assert all("addressPrefixes" in value["properties"] for value in tags["values"])
    missing_op = client.get(url(f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus/operations/nope"))
    assert missing_op.status_code == 404


def test_route_tables_public_ips_and_vms_are_guarded_while_used(client: TestClient) -> None:
    group(client)
    table_id = rid("routeTables", "forced")
    route = {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.9.0.4"}
    routes = {"routes": [{"name": "default", "properties": route}]}
    table = client.put(url(table_id), json={"location": "westus", "properties": routes})
    assert table.status_code == 201 and table.json()["properties"]["routes"][0]["name"] == "default"
    vnet_id = rid("virtualNetworks", "vnet1")
    vnet = vnet_body()
    vnet["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": table_id}
    assert client.put(url(vnet_id), json=vnet).status_code == 201
    pip_id = rid("publicIPAddresses", "pip1")
    assert (
        client.put(url(pip_id), json={"location": "westus", "properties": {"ipAddress": "52.1.1.1"}}).status_code == 201
    )
    nic_id = rid("networkInterfaces", "nic1")
    nic = nic_body(vnet_id + "/subnets/app", "10.0.0.4")
    nic["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": pip_id}
    assert client.put(url(nic_id), json=nic).status_code == 201
    vm_id = rid("virtualMachines", "vm1", provider="Microsoft.Compute")
    vm = {"location": "westus", "properties": {"networkProfile": {"networkInterfaces": [{"id": nic_id}]}}}
    assert client.put(url(vm_id), json=vm).status_code == 201
    listed = client.get(url(f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines")).json()["value"]
    assert [v["name"] for v in listed] == ["vm1"]

    for path, code in (
        (table_id, "InUseRouteTableCannotBeDeleted"),
        (pip_id, "PublicIPAddressInUse"),
        (nic_id, "NicInUse"),
    ):
        refused = client.delete(url(path))
        assert refused.status_code == 400 and error_code(refused) == code, path
    for path in (vm_id, nic_id, pip_id, vnet_id, table_id):
        assert client.delete(url(path)).status_code == 202, path
    missing_nic = client.put(url(vm_id), json=vm)
    assert missing_nic.status_code == 400 and error_code(missing_nic) == "InvalidResourceReference"
