"""Flow-log resources in the service (``…/networkWatchers/{nw}/flowLogs/{name}``): CRUD with ETags and long-running
operations, Azure's validation (the NSG flow-log retirement, targets, filters, record types), cascades, and the
official REST examples (``FlowLogs_*`` of Microsoft.Network 2026-01-01) replayed with every response checked against
the swagger's ``FlowLog`` schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import API, SUB, TOKENS, auth
from tests.realworld import REALWORLD, needs_realworld

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_documents
from opennsg.model.validation import Code, Message

NEW_API = "api-version=2026-01-01"
GROUP = f"/subscriptions/{SUB}/resourceGroups/rg1"
NET = f"{GROUP}/providers/Microsoft.Network"
WATCHER = f"{NET}/networkWatchers/nw"
STORAGE = f"{GROUP}/providers/Microsoft.Storage/storageAccounts/flowlogs"
VNET = f"{NET}/virtualNetworks/vnet"
SUBNET = f"{VNET}/subnets/app"
NIC = f"{NET}/networkInterfaces/nic"
NSG = f"{NET}/networkSecurityGroups/nsg"
SPECS = REALWORLD / "azure-rest-api-specs" / "network" / "2026-01-01"


def put(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.put(f"{path}?{NEW_API}", json=body, headers={**auth(), **headers})


def flow_log(target: str, **properties: Any) -> dict[str, Any]:
    return {"location": "westus", "properties": {"targetResourceId": target, "storageId": STORAGE, **properties}}


def estate(client: TestClient) -> None:
    writes: list[tuple[str, dict[str, Any]]] = [
        (GROUP, {"location": "westus"}),
        (NSG, {"location": "westus"}),
        (
            VNET,
            {
                "location": "westus",
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.0.0/24"}}],
                },
            },
        ),
        (
            NIC,
            {
                "location": "westus",
                "properties": {"ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": SUBNET}}}]},
            },
        ),
        (WATCHER, {"location": "westus"}),
    ]
    for path, body in writes:
        assert put(client, path, body).status_code in (200, 201), path


@pytest.fixture
def service(client: TestClient) -> TestClient:
    estate(client)
    return client


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_vnet_subnet_and_nic_flow_logs_are_created_read_listed_patched_and_deleted(service: TestClient) -> None:
    for name, target in (("on-vnet", VNET), ("on-subnet", SUBNET), ("on-nic", NIC)):
        created = put(service, f"{WATCHER}/flowLogs/{name}", flow_log(target, enabled=True, recordTypes="B,E"))
        assert created.status_code == 201, created.text
        status = service.get(_local(created.headers["Azure-AsyncOperation"]), headers=auth())
        assert status.json() == {"status": "Succeeded"}
        body = created.json()
        assert body["id"] == f"{WATCHER}/flowLogs/{name}"
        assert body["type"] == "Microsoft.Network/networkWatchers/flowLogs"
        assert body["properties"]["provisioningState"] == "Succeeded"
        assert body["properties"]["targetResourceGuid"]
        assert body["properties"]["format"] == {"type": "JSON", "version": 1}
        assert body["properties"]["retentionPolicy"] == {"days": 0, "enabled": False}
        assert created.headers["ETag"] == body["etag"]
    item = f"{WATCHER}/flowLogs/on-vnet"
    got = service.get(f"{item}?{NEW_API}", headers=auth())
    vnet_guid = service.get(f"{VNET}?{NEW_API}", headers=auth()).json()["properties"]["resourceGuid"]
    assert got.json()["properties"]["targetResourceGuid"] == vnet_guid
    assert got.status_code == 200 and got.json()["properties"]["recordTypes"] == "B,E"
    listed = service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json()["value"]
    assert sorted(f["name"] for f in listed) == ["on-nic", "on-subnet", "on-vnet"]

    etag = got.json()["etag"]
    stale = service.patch(f"{item}?{NEW_API}", json={"tags": {"a": "b"}}, headers={**auth(), "If-Match": '"nope"'})
    assert stale.status_code == 412
    patched = service.patch(f"{item}?{NEW_API}", json={"tags": {"a": "b"}}, headers={**auth(), "If-Match": etag})
    assert patched.status_code == 200 and patched.json()["tags"] == {"a": "b"}
    assert patched.json()["properties"]["recordTypes"] == "B,E", "a tags PATCH keeps everything else"
    assert patched.json()["etag"] != etag

    updated = put(service, item, flow_log(VNET, enabled=False))
    assert updated.status_code == 200 and updated.json()["properties"]["enabled"] is False
    deleted = service.delete(f"{item}?{NEW_API}", headers=auth())
    assert deleted.status_code == 202 and "Location" in deleted.headers and "Azure-AsyncOperation" in deleted.headers
    assert service.get(_local(deleted.headers["Location"]), headers=auth()).status_code == 204
    assert service.get(f"{item}?{NEW_API}", headers=auth()).status_code == 404
    assert service.delete(f"{item}?{NEW_API}", headers=auth()).status_code == 204


def test_creating_an_nsg_flow_log_is_refused_as_azure_refuses_it(service: TestClient) -> None:
    refused = put(service, f"{WATCHER}/flowLogs/nsg-log", flow_log(NSG, enabled=True))
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "NsgFlowLogCreationBlocked" == Code.NSG_FLOW_LOG_CREATION_BLOCKED
    assert error["message"] == Message.NSG_FLOW_LOG_CREATION_BLOCKED
    assert "creation of new NSG flow logs is blocked starting June 30, 2025" in error["message"]
    assert service.get(f"{WATCHER}/flowLogs/nsg-log?{NEW_API}", headers=auth()).status_code == 404
    # re-targeting a VNet flow log at an NSG creates an NSG flow log too
    assert put(service, f"{WATCHER}/flowLogs/moved", flow_log(VNET)).status_code == 201
    moved = put(service, f"{WATCHER}/flowLogs/moved", flow_log(NSG))
    assert moved.status_code == 400 and moved.json()["error"]["code"] == "NsgFlowLogCreationBlocked"


def test_an_existing_nsg_flow_log_may_still_be_updated(sqlite_url: str) -> None:
    seed = load_documents(
        [
            (
                "estate.json",
                [
                    {"id": NSG, "type": "Microsoft.Network/networkSecurityGroups", "location": "westus"},
                    {
                        "id": f"{WATCHER}/flowLogs/legacy",
                        "type": "Microsoft.Network/networkWatchers/flowLogs",
                        **flow_log(NSG, enabled=True, format={"type": "JSON", "version": 2}),
                    },
                ],
            )
        ]
    )
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS), seed)) as client:
        assert client.get(f"{WATCHER}?{NEW_API}", headers=auth()).status_code == 200, "import creates the watcher"
        item = f"{WATCHER}/flowLogs/legacy"
        assert client.get(f"{item}?{NEW_API}", headers=auth()).json()["properties"]["format"]["version"] == 2
        updated = put(client, item, flow_log(NSG, enabled=False, retentionPolicy={"days": 7, "enabled": True}))
        assert updated.status_code == 200, updated.text
        assert updated.json()["properties"]["retentionPolicy"] == {"days": 7, "enabled": True}


def test_invalid_flow_logs_are_refused_with_every_problem_and_nothing_stored(service: TestClient) -> None:
    body = flow_log(
        f"{VNET}/subnets/missing",
        storageId="not-an-id",
        format={"type": "JSON", "version": 3},
        retentionPolicy={"days": 400},
        enabledFilteringCriteria="DstPort=70000 || (Protocol=TCP)",
        recordTypes="B,X",
    )
    body["properties"]["storageId"] = "not-an-id"
    refused = put(service, f"{WATCHER}/flowLogs/bad", body)
    assert refused.status_code == 400
    details = refused.json()["error"]["details"]
    codes = [d["code"] for d in details]
    assert codes == [
        "InvalidResourceReference",
        "FlowLogInvalidStorageId",
        "FlowLogInvalidFormat",
        "FlowLogInvalidRetentionPolicy",
        "InvalidFilteringCriteria",
        "InvalidFilteringCriteria",
        "InvalidRecordTypes",
    ]
    messages = [d["message"] for d in details]
    assert "The filtering criteria is invalid at character 9: '70000' is not a valid DstPort value" in messages[4]
    assert "brackets are not supported" in messages[5]
    assert messages[6].startswith("recordTypes 'B,X' is invalid: 'X' is not one of B, C, E, D")
    assert service.get(f"{WATCHER}/flowLogs/bad?{NEW_API}", headers=auth()).status_code == 404

    other = put(service, f"{WATCHER}/flowLogs/bad", flow_log(f"{NET}/routeTables/rt"))
    assert other.status_code == 400 and other.json()["error"]["code"] == "FlowLogInvalidTargetResourceId"
    missing = put(service, f"{WATCHER}/flowLogs/bad", {"properties": {"enabled": True}})
    assert missing.status_code == 400
    assert {d["code"] for d in missing.json()["error"]["details"]} == {"MissingRequiredProperty"}
    wrong_type = put(service, f"{WATCHER}/flowLogs/bad", flow_log(VNET, format={"type": "CSV"}))
    assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "FlowLogInvalidFormat"


def test_missing_group_or_watcher_is_404(service: TestClient) -> None:
    elsewhere = f"/subscriptions/{SUB}/resourceGroups/none/providers/Microsoft.Network/networkWatchers/nw"
    assert put(service, f"{elsewhere}/flowLogs/f", flow_log(VNET)).json()["error"]["code"] == "ResourceGroupNotFound"
    no_watcher = f"{NET}/networkWatchers/other/flowLogs"
    for answer in (
        put(service, f"{no_watcher}/f", flow_log(VNET)),
        service.get(f"{no_watcher}/f?{NEW_API}", headers=auth()),
        service.get(f"{no_watcher}?{NEW_API}", headers=auth()),
        service.delete(f"{no_watcher}/f?{NEW_API}", headers=auth()),
    ):
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "ResourceNotFound"


def test_a_flow_log_goes_with_its_target_and_with_its_watcher(service: TestClient) -> None:
    for name, target in (("v", VNET), ("s", SUBNET), ("n", NIC)):
        assert put(service, f"{WATCHER}/flowLogs/{name}", flow_log(target)).status_code == 201
    assert service.delete(f"{NIC}?{NEW_API}", headers=auth()).status_code == 202
    names = {f["name"] for f in service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json()["value"]}
    assert names == {"v", "s"}
    assert service.delete(f"{VNET}/subnets/app?{NEW_API}", headers=auth()).status_code == 202
    names = {f["name"] for f in service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json()["value"]}
    assert names == {"v"}
    assert service.delete(f"{WATCHER}?{NEW_API}", headers=auth()).status_code == 202
    assert service.get(f"{WATCHER}/flowLogs/v?{NEW_API}", headers=auth()).status_code == 404
    assert put(service, WATCHER, {"location": "westus"}).status_code == 201
    assert service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json() == {"value": []}


def test_the_old_api_version_works_too(service: TestClient) -> None:
    answer = service.put(f"{WATCHER}/flowLogs/f?{API}", json=flow_log(VNET), headers=auth())
    assert answer.status_code == 201


# --- the official examples -------------------------------------------------------------------------------------

EXAMPLE_SUB = "subid"


def _swagger_schema(definition: str) -> dict[str, Any]:
    """The swagger's schema for a definition of networkWatcher.json with every ``$ref`` inlined (across files)."""
    documents: dict[str, Any] = {}

    def document(name: str) -> Any:
        if name not in documents:
            documents[name] = json.loads((SPECS / name).read_text(encoding="utf-8"))
        return documents[name]

    def resolve(value: Any, current: str, seen: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                file, _, pointer = ref.partition("#")
                target_file = Path(file).name if file else current
                key = f"{target_file}#{pointer}"
                if key in seen:
                    return {}
                node = document(target_file)
                for part in pointer.strip("/").split("/"):
                    node = node[part]
                return resolve(node, target_file, (*seen, key))
            return {k: resolve(v, current, seen) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, current, seen) for v in value]
        return value

    schema = resolve({"$ref": f"#/definitions/{definition}"}, "networkWatcher.json", ())
    assert isinstance(schema, dict)
    return schema


def _check(body: Any, definition: str) -> None:
    jsonschema.validate(body, _swagger_schema(definition))


def _example(name: str) -> dict[str, Any]:
    """An example with its placeholder subscription made a GUID (the service checks subscription ids)."""
    text = (SPECS / "examples" / name).read_text(encoding="utf-8").replace(f"/{EXAMPLE_SUB}/", f"/{SUB}/")
    example: dict[str, Any] = json.loads(text)
    example["parameters"]["subscriptionId"] = SUB
    return example


def _path(parameters: dict[str, Any], with_name: bool = True) -> str:
    base = (
        f"/subscriptions/{parameters['subscriptionId']}/resourceGroups/{parameters['resourceGroupName']}/providers/"
        f"Microsoft.Network/networkWatchers/{parameters['networkWatcherName']}/flowLogs"
    )
    return f"{base}/{parameters['flowLogName']}" if with_name else base


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """What a client writes of a flow log (read-only properties left out, the identities' ids included)."""
    properties = {k: v for k, v in body["properties"].items() if k not in ("provisioningState", "targetResourceGuid")}
    identity = body.get("identity") or {}
    users = sorted(identity.get("userAssignedIdentities", {}))
    written = {"type": identity.get("type"), "userAssignedIdentities": users}
    return {"location": body.get("location"), "properties": properties, "identity": written}


def _rehomed(body: dict[str, Any], collection: str) -> dict[str, Any]:
    """An example's response body as the resource it describes under the URL its request names (the examples'
    bodies carry other watcher names and ``name`` values)."""
    return {**body, "id": f"{collection}/{body['name']}", "name": body["name"]}


@pytest.fixture
def examples_service(sqlite_url: str) -> Iterator[TestClient]:
    """Each example's prerequisites, and the flow logs the GET/List/UpdateTags/Delete examples read, imported (they
    are NSG flow logs: created before the retirement, as their examples were)."""
    documents: list[dict[str, Any]] = []
    for name in ("NetworkWatcherFlowLogGet.json", "NetworkWatcherFlowLogList.json"):
        example = _example(name)
        bodies = example["responses"]["200"]["body"]
        collection = _path(example["parameters"], with_name=False)
        documents.extend(_rehomed(body, collection) for body in bodies.get("value", [bodies]))
    create = _example("NetworkWatcherFlowLogCreate.json")
    tags = _example("NetworkWatcherFlowLogUpdateTags.json")
    existing = tags["responses"]["200"]["body"]
    name = tags["parameters"]["flowLogName"]
    documents.append({**existing, "tags": {}, "id": _path(tags["parameters"]), "name": name})
    documents = list({d["id"].casefold(): d for d in documents}.values())
    # each target NSG in its flow log's region (a watcher records only its own region's resources)
    created = create["parameters"]["parameters"]
    regions = {created["properties"]["targetResourceId"]: created["location"]}
    regions |= {d["properties"]["targetResourceId"]: d.get("location") or "centraluseuap" for d in documents}
    for path, region in regions.items():
        documents.append({"id": path, "type": "Microsoft.Network/networkSecurityGroups", "location": region})
    seed = load_documents([("examples", documents)])
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS), seed)) as client:
        create_watcher = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/networkWatchers/nw1"
        assert put(client, create_watcher, {"location": "centraluseuap"}).status_code in (200, 201)
        yield client


@needs_realworld
def test_official_examples_replay_and_validate_against_the_swagger(examples_service: TestClient) -> None:
    client = examples_service
    version = "api-version=2026-01-01"

    get = _example("NetworkWatcherFlowLogGet.json")
    answer = client.get(f"{_path(get['parameters'])}?{version}", headers=auth())
    assert answer.status_code == 200
    _check(answer.json(), "FlowLog")
    assert _writable(answer.json()) == _writable(get["responses"]["200"]["body"]), "nothing the example holds is lost"

    listed = _example("NetworkWatcherFlowLogList.json")
    answer = client.get(f"{_path(listed['parameters'], with_name=False)}?{version}", headers=auth())
    assert answer.status_code == 200
    _check(answer.json(), "FlowLogListResult")
    wanted = listed["responses"]["200"]["body"]["value"]
    assert [_writable(v) for v in answer.json()["value"]] == [_writable(v) for v in wanted]

    tags = _example("NetworkWatcherFlowLogUpdateTags.json")
    path = _path(tags["parameters"])
    answer = client.patch(f"{path}?{version}", json=tags["parameters"]["parameters"], headers=auth())
    assert answer.status_code == 200
    _check(answer.json(), "FlowLog")
    assert answer.json()["tags"] == tags["responses"]["200"]["body"]["tags"]

    create = _example("NetworkWatcherFlowLogCreate.json")
    path, body = _path(create["parameters"]), create["parameters"]["parameters"]
    refused = client.put(f"{path}?{version}", json=body, headers=auth())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "NsgFlowLogCreationBlocked"
    _check(refused.json(), "ErrorResponse")
    vnet = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1"
    vnet_body = {"location": "centraluseuap", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}
    assert client.put(f"{vnet}?{version}", json=vnet_body, headers=auth()).status_code == 201
    as_vnet_log = json.loads(json.dumps(body).replace(body["properties"]["targetResourceId"], vnet))
    created = client.put(f"{path}?{version}", json=as_vnet_log, headers=auth())
    assert created.status_code == 201, created.text
    _check(created.json(), "FlowLog")
    expected = _writable(create["responses"]["201"]["body"])
    expected["properties"]["targetResourceId"] = vnet
    assert _writable(created.json()) == expected
    again = client.put(f"{path}?{version}", json=as_vnet_log, headers=auth())
    assert again.status_code == 200
    _check(again.json(), "FlowLog")

    delete = _example("NetworkWatcherFlowLogDelete.json")
    path = _path(delete["parameters"])
    assert client.delete(f"{path}?{version}", headers=auth()).status_code == 202
    assert client.delete(f"{path}?{version}", headers=auth()).status_code == 204


def _result(client: TestClient, answer: Any) -> Any:
    assert answer.status_code == 202, answer.text
    assert "Azure-AsyncOperation" in answer.headers
    return client.get(_local(answer.headers["Location"]), headers=auth()).json()


def test_configure_and_query_flow_log_status_act_on_the_flow_log_of_a_target(service: TestClient) -> None:
    query = f"{WATCHER}/queryFlowLogStatus?{NEW_API}"
    configure = f"{WATCHER}/configureFlowLog?{NEW_API}"
    nothing = _result(service, service.post(query, json={"targetResourceId": VNET}, headers=auth()))
    assert nothing == {"targetResourceId": VNET, "properties": {"storageId": "", "enabled": False}}

    settings = {"storageId": STORAGE, "enabled": True, "recordTypes": "B,E", "format": {"type": "JSON", "version": 2}}
    configured = _result(
        service, service.post(configure, json={"targetResourceId": VNET, "properties": settings}, headers=auth())
    )
    assert configured["targetResourceId"] == VNET
    assert configured["properties"]["recordTypes"] == "B,E" and configured["properties"]["enabled"] is True
    (created,) = service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json()["value"]
    assert created["name"] == "Microsoft.Networkrg1vnet", "named as Azure names the flow logs it makes"

    settings["enabled"] = False
    again = service.post(configure, json={"targetResourceId": VNET, "properties": settings}, headers=auth())
    assert _result(service, again)["properties"]["enabled"] is False
    listed = service.get(f"{WATCHER}/flowLogs?{NEW_API}", headers=auth()).json()["value"]
    assert [f["name"] for f in listed] == ["Microsoft.Networkrg1vnet"], "the target's flow log is updated in place"
    status = _result(service, service.post(query, json={"targetResourceId": VNET}, headers=auth()))
    assert status == _result(service, again)

    blocked = service.post(configure, json={"targetResourceId": NSG, "properties": settings}, headers=auth())
    assert blocked.status_code == 400 and blocked.json()["error"]["code"] == "NsgFlowLogCreationBlocked"
    bad_filter = {**settings, "enabledFilteringCriteria": "SrcPort=x"}
    refused = service.post(configure, json={"targetResourceId": NIC, "properties": bad_filter}, headers=auth())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidFilteringCriteria"
    missing = service.post(query, json={"targetResourceId": f"{NET}/networkInterfaces/none"}, headers=auth())
    assert missing.status_code == 404
    odd = service.post(query, json={"targetResourceId": f"{NET}/routeTables/rt"}, headers=auth())
    assert odd.status_code == 400 and odd.json()["error"]["code"] == "FlowLogInvalidTargetResourceId"
    assert service.post(query, json={}, headers=auth()).json()["error"]["code"] == "MissingRequiredProperty"


def test_a_flow_log_is_in_its_watchers_region_and_records_only_that_regions_resources(service: TestClient) -> None:
    """A network watcher is regional: its flow logs are created in its region and record resources of that region
    (Azure's docs; the code is ours, no public ARM error for these was found)."""
    elsewhere = put(service, f"{WATCHER}/flowLogs/east", {**flow_log(VNET), "location": "eastus"})
    assert elsewhere.status_code == 400
    assert elsewhere.json()["error"] == {
        "code": "FlowLogRegionMismatch",
        "message": Message.FLOW_LOG_WATCHER_REGION.format(
            flow_log_id=f"{WATCHER}/flowLogs/east", region="eastus", watcher_id=WATCHER, watcher_region="westus"
        ),
        "details": [],
    }
    spaced = put(service, f"{WATCHER}/flowLogs/spaced", {**flow_log(VNET), "location": "West US"})
    assert spaced.status_code in (200, 201)  # ARM compares regions without case or spaces
    east_vnet = f"{NET}/virtualNetworks/east"
    subnets = [{"name": "s", "properties": {"addressPrefix": "10.9.0.0/24"}}]
    body = {
        "location": "eastus",
        "properties": {"addressSpace": {"addressPrefixes": ["10.9.0.0/16"]}, "subnets": subnets},
    }
    assert put(service, east_vnet, body).status_code == 201
    for target in (east_vnet, f"{east_vnet}/subnets/s"):
        refused = put(service, f"{WATCHER}/flowLogs/far", flow_log(target))
        assert refused.status_code == 400, target
        error = refused.json()["error"]
        assert error["code"] == "FlowLogRegionMismatch", error
        assert error["message"] == (
            f"Flow log {WATCHER}/flowLogs/far is in region 'westus' but its target {target} is in 'eastus': a network "
            "watcher records only the resources of its own region."
        )
    assert service.get(f"{WATCHER}/flowLogs/far?{NEW_API}", headers=auth()).status_code == 404
