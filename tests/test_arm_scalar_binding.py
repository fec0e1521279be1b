"""JSON scalars read as Azure's resource providers bind them (Json.NET): any primitive token for a string (numbers as
written), a string of an integer for an integer, ``"true"``/``"false"`` for a boolean; the same answer from a
template, a plain ARM import and an API PUT. Objects and arrays where a scalar belongs stay refused, alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import API, SUB, TOKENS, auth, rid

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_paths
from opennsg.model.errors import OpenNsgError

NSG = rid("networkSecurityGroups", "nsg1")
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def rule(**given: Any) -> dict[str, Any]:
    """A rule as the published AzureStack template writes it, with ``given`` overriding its properties."""
    props: dict[str, Any] = {
        "protocol": "Tcp",
        "sourcePortRange": "*",
        "destinationPortRange": 8540,
        "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*",
        "access": "Allow",
        "priority": 100,
        "direction": "Inbound",
    }
    props.update(given)
    return {"name": "allow-8540", "properties": props}


def nsg_body(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"location": "westus", "properties": {"securityRules": list(rules)}}


def load_nsg(tmp_path: Path, body: dict[str, Any]) -> Any:
    path = tmp_path / "nsg.json"
    path.write_text(json.dumps({"id": NSG, "name": "nsg1", "type": "Microsoft.Network/networkSecurityGroups", **body}))
    return load_paths([path]).nsg(NSG)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    app = create_app(ServiceConfig(db_url=str(tmp_path_factory.mktemp("bind") / "bind.db"), tokens=TOKENS))
    with TestClient(app, headers=auth()) as client:
        client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{API}", json={"location": "westus"})
        yield client


def test_an_integer_port_is_the_port_it_writes(tmp_path: Path, service: TestClient) -> None:
    nsg = load_nsg(tmp_path, nsg_body(rule()))
    assert nsg.security_rules[0].destination_port_range == "8540"

    answer = service.put(f"{NSG}?{API}", json=nsg_body(rule()))
    assert answer.status_code in (200, 201), answer.text
    stored = service.get(f"{NSG}?{API}").json()
    assert stored["properties"]["securityRules"][0]["properties"]["destinationPortRange"] == "8540"


def test_numbers_in_a_string_array_and_a_boolean_for_a_string(tmp_path: Path) -> None:
    nsg = load_nsg(tmp_path, nsg_body(rule(destinationPortRange=None, destinationPortRanges=[80, "443", 8080])))
    assert nsg.security_rules[0].destination_port_ranges == ("80", "443", "8080")
    described = load_nsg(tmp_path, nsg_body(rule(description=True)))
    assert described.security_rules[0].description == "true"


def test_a_template_with_the_published_integer_port_deploys(tmp_path: Path) -> None:
    template = {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.Network/networkSecurityGroups",
                "apiVersion": "2023-09-01",
                "name": "nsg1",
                "location": "westus",
                "properties": {"securityRules": [rule()]},
            }
        ],
    }
    path = tmp_path / "azuredeploy.json"
    path.write_text(json.dumps(template))
    (nsg,) = load_paths([path]).nsgs.values()
    assert nsg.security_rules[0].destination_port_range == "8540"


@pytest.mark.parametrize("wrong", [{"port": 8540}, [8540]], ids=["object", "array"])
def test_an_object_or_array_for_a_string_is_refused_alike(wrong: Any, tmp_path: Path, service: TestClient) -> None:
    body = nsg_body(rule(destinationPortRange=wrong))
    with pytest.raises(OpenNsgError) as raised:
        load_nsg(tmp_path, body)
    loaded = [(e.code, e.message) for e in raised.value.errors]
    answer = service.put(f"{rid('networkSecurityGroups', 'wrong')}?{API}", json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    served = {error["code"], *(d["code"] for d in error.get("details", ()))}
    assert {code for code, _ in loaded} == served == {"InvalidRequestFormat"}
    assert any("destinationPortRange" in message and "must be a string" in message for _, message in loaded)


def test_a_string_of_an_integer_for_an_integer(tmp_path: Path, service: TestClient) -> None:
    """Published templates that deploy give ``"intervalInSeconds": "5"`` and ``"priority": "100"``-style strings."""
    nsg = load_nsg(tmp_path, nsg_body(rule(priority="100")))
    assert nsg.security_rules[0].priority == 100
    answer = service.put(f"{rid('networkSecurityGroups', 'textual')}?{API}", json=nsg_body(rule(priority=" 120 ")))
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["properties"]["securityRules"][0]["properties"]["priority"] == 120


def test_a_string_boolean_for_a_boolean(tmp_path: Path) -> None:
    body = nsg_body(rule())
    body["properties"]["flushConnection"] = "True"
    assert load_nsg(tmp_path, body).flush_connection is True


@pytest.mark.parametrize("wrong", ["one hundred", "1.5", True, 1.5, [100]], ids=["words", "fraction-text", "bool",
                                                                             "fraction", "array"])  # fmt: skip
def test_what_json_net_does_not_read_as_an_integer_is_refused(wrong: Any, tmp_path: Path) -> None:
    with pytest.raises(OpenNsgError) as raised:
        load_nsg(tmp_path, nsg_body(rule(priority=wrong)))
    assert any("'priority' must be an integer" in e.message for e in raised.value.errors)
