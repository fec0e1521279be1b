"""The gateway answers the hottest operations (rule PUT, IP flow verify, operation status and result) by calling
their endpoints directly (``opennsg.api.dispatch``): every answer must be the one FastAPI's routing gives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from opennsg.api import ServiceConfig, create_app
from opennsg.api.dispatch import HOT_OPERATIONS, HotRoutes
from opennsg.api.gateway import Gateway

from .conftest import API, SUB, TOKENS, auth

GROUP = f"/subscriptions/{SUB}/resourceGroups/rg"
NSG = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg1"
VNET = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet1"
NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/nic1"
WATCHER = f"{GROUP}/providers/Microsoft.Network/networkWatchers/nw"
RANDOM = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{32}")
PER_REQUEST = {"x-ms-request-id", "x-ms-correlation-request-id", "date"}


def rule(priority: int, port: str = "80", **extra: Any) -> dict[str, Any]:
    properties = {
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": port,
        "access": "Allow",
        "priority": priority,
        "direction": "Inbound",
    }
    return {"properties": {**properties, **extra}}


FLOW = {
    "targetResourceId": NIC,
    "direction": "Inbound",
    "protocol": "TCP",
    "localIPAddress": "10.0.0.4",
    "localPort": "80",
    "remoteIPAddress": "10.5.1.1",
    "remotePort": "40000",
}


def scenario(client: TestClient) -> Iterator[tuple[str, Any]]:
    """Requests through every outcome of the hot routes; yields each answer, with random parts masked."""

    def answer(method: str, path: str, body: Any = None, raw: bytes | None = None, **headers: str) -> Any:
        response = client.request(method, path, json=body, content=raw, headers=headers)
        kept = {k: RANDOM.sub("<id>", v) for k, v in response.headers.items() if k not in PER_REQUEST}
        return response.status_code, kept, RANDOM.sub("<id>", response.text), response

    client.put(f"{GROUP}?{API}", json={"location": "westus"})
    client.put(f"{NSG}?{API}", json={"location": "westus", "properties": {"securityRules": []}})
    subnet = {"name": "app", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": NSG}}}
    vnet = {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [subnet]}
    client.put(f"{VNET}?{API}", json={"location": "westus", "properties": vnet})
    configuration = {"privateIPAddress": "10.0.0.4", "subnet": {"id": f"{VNET}/subnets/app"}}
    nic = {"ipConfigurations": [{"name": "ip", "properties": configuration}]}
    client.put(f"{NIC}?{API}", json={"location": "westus", "properties": nic})
    client.put(f"{WATCHER}?{API}", json={"location": "westus"})
    rules = f"{NSG}/securityRules"
    status, headers, text, created = answer("PUT", f"{rules}/web?{API}", rule(100))
    yield "create", (status, headers, text)
    etag = created.headers.get("etag", "")
    yield "update", answer("PUT", f"{rules}/WEB?{API}", rule(100, "443"))[:3]
    yield "if-match ok", answer("PUT", f"{rules}/web?{API}", rule(100, "8080"), **{"If-Match": "*"})[:3]
    yield "if-match stale", answer("PUT", f"{rules}/web?{API}", rule(100), **{"If-Match": etag})[:3]
    yield "if-none-match", answer("PUT", f"{rules}/web?{API}", rule(100), **{"If-None-Match": "*"})[:3]
    yield "priority conflict", answer("PUT", f"{rules}/other?{API}", rule(100))[:3]
    yield "invalid rule", answer("PUT", f"{rules}/bad?{API}", rule(5000, "99999", sourceAddressPrefixes=["x"]))[:3]
    yield "not json", answer("PUT", f"{rules}/web?{API}", raw=b"{nope")[:3]
    yield "name mismatch", answer("PUT", f"{rules}/web?{API}", {**rule(100), "name": "other"})[:3]
    network = "providers/Microsoft.Network/networkSecurityGroups"
    yield "bad name", answer("PUT", f"{rules}/bad%20name!?{API}", rule(300))[:3]
    yield "no nsg", answer("PUT", f"{GROUP}/{network}/x/securityRules/r?{API}", rule(1))[:3]
    elsewhere = f"/subscriptions/{SUB}/resourceGroups/none/{network}/nsg1/securityRules/r?{API}"
    yield "no group", answer("PUT", elsewhere, rule(1))[:3]
    malformed = f"/subscriptions/not-a-guid/resourceGroups/rg/{network}/nsg1/securityRules/r?{API}"
    yield "bad subscription", answer("PUT", malformed, rule(1))[:3]
    yield "no api-version", answer("PUT", f"{rules}/web", rule(100))[:3]
    status, headers, text, verified = answer("POST", f"{WATCHER}/ipFlowVerify?{API}", FLOW)
    yield "verify", (status, headers, text)
    result = verified.headers["location"].split("://", 1)[1].split("/", 1)[1]
    yield "verify result", answer("GET", f"/{result}")[:3]
    status_path = verified.headers["azure-asyncoperation"].split("://", 1)[1].split("/", 1)[1]
    yield "verify status", answer("GET", f"/{status_path}")[:3]
    yield "verify deny", answer("POST", f"{WATCHER}/ipFlowVerify?{API}", {**FLOW, "localPort": "22"})[:3]
    other_watcher = f"{GROUP}/providers/Microsoft.Network/networkWatchers/x/ipFlowVerify?{API}"
    yield "verify no watcher", answer("POST", other_watcher, FLOW)[:3]
    yield "verify bad body", answer("POST", f"{WATCHER}/ipFlowVerify?{API}", {**FLOW, "protocol": "Nope"})[:3]
    yield "verify no nic", answer("POST", f"{WATCHER}/ipFlowVerify?{API}", {**FLOW, "targetResourceId": NIC + "x"})[:3]
    location = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus"
    yield "unknown result", answer("GET", f"{location}/operationResults/{'0' * 32}?{API}")[:3]
    yield "unknown status", answer("GET", f"{location}/operations/{'0' * 32}?{API}")[:3]
    yield "rule back", answer("GET", f"{rules}/web?{API}")[:3]


def run(url: str, hot: bool) -> list[tuple[str, Any]]:
    gateway = create_app(ServiceConfig(db_url=url, tokens=TOKENS))
    assert isinstance(gateway, Gateway) and gateway.hot is not None
    if not hot:
        gateway.hot = None
    with TestClient(gateway, headers=auth()) as client:
        return list(scenario(client))


def test_every_hot_answer_is_fastapis(tmp_path: Path) -> None:
    direct = run(str(tmp_path / "hot.db"), hot=True)
    routed = run(str(tmp_path / "routed.db"), hot=False)
    assert [name for name, _ in direct] == [name for name, _ in routed]
    for (name, mine), (_, theirs) in zip(direct, routed, strict=True):
        assert mine == theirs, name
    statuses = {name: answer[0] for name, answer in direct}
    assert statuses["create"] == 201 and statuses["verify"] == 202 and statuses["if-match stale"] == 412
    assert statuses["invalid rule"] == 400 and statuses["no nsg"] == 404 and statuses["unknown result"] == 404


def test_the_hot_operations_are_taken(tmp_path: Path) -> None:
    gateway = create_app(ServiceConfig(db_url=str(tmp_path / "db.db"), tokens=TOKENS))
    assert isinstance(gateway, Gateway) and gateway.hot is not None
    assert len(gateway.hot.routes) == len(HOT_OPERATIONS)
    found = gateway.hot.find("PUT", f"{NSG}/securityRules/web")
    assert found is not None and found[1]["childName"] == "web"
    assert gateway.hot.find("GET", f"{NSG}/securityRules/web") is None
    assert gateway.hot.find("PUT", f"{NSG}/securityRules/web/extra") is None


def test_a_route_registered_earlier_that_could_match_keeps_fastapi_in_charge() -> None:
    app = FastAPI()

    @app.put("/subscriptions/{s}/things/{name}")
    async def first(s: str, name: str) -> dict[str, str]:
        return {"first": name}

    @app.put("/subscriptions/{s}/things/special", operation_id="Hot")
    async def second(s: str) -> dict[str, str]:
        return {"second": s}

    @app.get("/subscriptions/{s}/other", operation_id="Other")
    async def third(s: str) -> dict[str, str]:
        return {"third": s}

    assert HotRoutes(app, ("Hot",)).routes == []
    assert [r.method for r in HotRoutes(app, ("Other",)).routes] == ["GET"]


@pytest.mark.parametrize("kind", ["sync endpoint", "query parameter", "unchecked dependency"])
def test_routes_fastapi_must_prepare_are_not_taken(kind: str) -> None:
    app = FastAPI()

    async def guard() -> None:
        return None

    if kind == "sync endpoint":

        @app.get("/x/{a}", operation_id="Hot")
        def sync(a: str) -> dict[str, str]:
            return {"a": a}

    elif kind == "query parameter":

        @app.get("/x/{a}", operation_id="Hot")
        async def query(a: str, top: int = 5) -> dict[str, str]:
            return {"a": a}

    else:
        from fastapi import Depends

        @app.get("/x/{a}", operation_id="Hot", dependencies=[Depends(guard)])
        async def guarded(a: str) -> dict[str, str]:
            return {"a": a}

    assert HotRoutes(app, ("Hot",)).routes == []


def test_ip_flow_verify_runs_inline_once_the_nics_policy_is_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolving (the first verify of a snapshot) and compiling (the ``COMPILE_AFTER_VERIFIES``-th) go to a thread;
    every other verify is decided on the event loop. The answers are the same either way."""
    from opennsg.api import lro
    from opennsg.engine import COMPILE_AFTER_VERIFIES

    handed_off: list[int] = []
    to_thread = lro.run_in_threadpool

    async def counting(function: Any, *args: Any) -> Any:
        handed_off.append(len(answers))
        return await to_thread(function, *args)

    monkeypatch.setattr(lro, "run_in_threadpool", counting)
    answers: list[dict[str, Any]] = []
    with TestClient(create_app(ServiceConfig(db_url=str(tmp_path / "db.db"), tokens=TOKENS)), headers=auth()) as client:
        names = [name for name, _ in scenario(client)]  # builds the NIC and its NSG (one rule allowing port 443)
        assert "verify" in names
        handed_off.clear()
        for n in range(COMPILE_AFTER_VERIFIES + 8):
            port = "8080" if n % 2 else "22"
            verified = client.post(f"{WATCHER}/ipFlowVerify?{API}", json={**FLOW, "localPort": port})
            assert verified.status_code == 202
            result = verified.headers["location"].split("://", 1)[1].split("/", 1)[1]
            answers.append(client.get(f"/{result}").json())
    assert answers[0::2] == [{"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"}] * (
        len(answers) // 2
    )
    assert answers[1::2] == [{"access": "Allow", "ruleName": "securityRules/web"}] * (len(answers) // 2)
    # the scenario's two verifies of this NIC resolved its policy: only the compile is handed to a thread
    assert handed_off == [COMPILE_AFTER_VERIFIES - 1 - 2], handed_off
