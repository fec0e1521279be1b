"""Hostile input to the service: never a 5xx, nothing written by a refused or empty request (issue 9's cases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import API, SUB, rid, rule_body

from opennsg.engine.flow import Flow
from opennsg.model.values import parse_address, parse_port, parse_port_range, parse_prefix

GROUP = f"/subscriptions/{SUB}/resourceGroups/rg1"
NSG = rid("networkSecurityGroups", "nsg1")
WATCHER = rid("networkWatchers", "nw1")


@pytest.fixture
def seeded(client: TestClient) -> Iterator[TestClient]:
    assert client.put(f"{GROUP}?{API}", json={"location": "westus"}).status_code == 201
    nsg = {"location": "westus", "properties": {"securityRules": [{"name": "r1", **rule_body(100)}]}}
    assert client.put(f"{NSG}?{API}", json=nsg).status_code == 201
    assert client.put(f"{WATCHER}?{API}", json={"location": "westus"}).status_code == 201
    yield client


def etags(client: TestClient) -> dict[str, Any]:
    return {path: client.get(f"{path}?{API}").headers.get("etag") for path in (GROUP, NSG, WATCHER)}


@pytest.mark.parametrize(
    "body",
    [
        b'{"location": "\\ud800"}',
        b'{"location": "westus", "tags": {"\\udfff": "x"}}',
        b'{"location": "westus", "properties": {"securityRules": [{"name": "\\ud83d", "properties": {}}]}}',
    ],
)
def test_a_lone_surrogate_is_a_400_and_writes_nothing(seeded: TestClient, body: bytes) -> None:
    before = etags(seeded)
    answer = seeded.put(f"{NSG}?{API}", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "InvalidRequestFormat"
    assert etags(seeded) == before


def test_an_error_echoing_a_surrogate_from_the_path_still_renders(seeded: TestClient) -> None:
    answer = seeded.get(f"/subscriptions/{SUB}/resourceGroups/rg%ED%A0%80?{API}")
    assert answer.status_code < 500


def test_a_child_put_whose_body_names_another_child_writes_nothing(seeded: TestClient) -> None:
    before = seeded.get(f"{NSG}?{API}").json()
    answer = seeded.put(f"{NSG}/securityRules/r2?{API}", json={"name": "r1", **rule_body(200)})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "InvalidRequestFormat"
    assert seeded.get(f"{NSG}?{API}").json() == before


def test_a_chunked_body_over_the_limit_is_413(seeded: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"location": "westus", "tags": {"a": "'
        for _ in range(5):
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    before = etags(seeded)
    answer = seeded.put(f"{NSG}?{API}", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"]["code"] == "RequestEntityTooLarge"
    assert etags(seeded) == before


def test_deleting_a_missing_group_commits_nothing(seeded: TestClient) -> None:
    health = seeded.get("/healthz").json()["version"]
    answer = seeded.delete(f"/subscriptions/{SUB}/resourceGroups/nowhere?{API}")
    assert answer.status_code == 404
    assert seeded.delete(f"{rid('networkWatchers', 'nowhere')}?{API}").status_code == 204
    assert seeded.get("/healthz").json()["version"] == health


@pytest.mark.parametrize("path", [GROUP, WATCHER])
def test_if_match_is_honoured_when_deleting_groups_and_watchers(seeded: TestClient, path: str) -> None:
    stale = 'W/"00000000-0000-0000-0000-000000000000"'
    answer = seeded.delete(f"{path}?{API}", headers={"If-Match": stale})
    assert answer.status_code == 412, answer.text
    assert seeded.get(f"{path}?{API}").status_code == 200
    current = seeded.get(f"{path}?{API}").headers["etag"]
    assert seeded.delete(f"{path}?{API}", headers={"If-Match": current}).status_code == 202


@pytest.mark.parametrize("text", ["８０", "1_000", "+80", "-1", "٨٠", " 8 0 "])
def test_ports_need_ascii_digits(text: str) -> None:
    assert parse_port(text) is None
    assert parse_port_range(text) is None
    with pytest.raises(ValueError):
        Flow.make("Inbound", "TCP", "10.0.0.4", text, "1.2.3.4", "1000")


def test_protocol_numbers_need_ascii_digits() -> None:
    with pytest.raises(ValueError):
        Flow.make("Inbound", "６", "10.0.0.4", "80", "1.2.3.4", "1000")


@pytest.mark.parametrize("text", ["fe80::1%eth0", "fe80::1%1", "fe80::%eth0/64", "１.２.３.４", "10.0.0.1/2４"])
def test_addresses_with_zone_ids_or_foreign_digits_are_refused(text: str) -> None:
    assert parse_address(text) is None
    assert parse_prefix(text) is None


def test_ip_flow_verify_with_foreign_digits_is_a_400(seeded: TestClient) -> None:
    vnet = rid("virtualNetworks", "vnet1")
    body = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.0.0/24"}}],
        },
    }
    assert seeded.put(f"{vnet}?{API}", json=body).status_code == 201
    nic = rid("networkInterfaces", "nic1")
    nic_body = {
        "location": "westus",
        "properties": {
            "networkSecurityGroup": {"id": NSG},
            "ipConfigurations": [
                {"name": "c", "properties": {"privateIPAddress": "10.0.0.4", "subnet": {"id": f"{vnet}/subnets/app"}}}
            ],
        },
    }
    assert seeded.put(f"{nic}?{API}", json=nic_body).status_code == 201
    flow = {"targetResourceId": nic, "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.0.4",
            "localPort": "４４３", "remoteIPAddress": "52.1.2.3", "remotePort": "1_000"}  # fmt: skip
    answer = seeded.post(f"{WATCHER}/ipFlowVerify?{API}", json=flow)
    assert answer.status_code == 400, answer.text
