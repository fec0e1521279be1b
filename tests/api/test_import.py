"""`opennsg serve --import`: a topology from ARM JSON is stored as one validated write, then served and diagnosed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_paths
from opennsg.model.errors import OpenNsgError

from .conftest import TOKENS, auth

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "api-version=2024-05-01"


def _ip_flow_verify(client: TestClient, subscription: str, location: str, flow: dict[str, str]) -> dict[str, Any]:
    """Create a network watcher (and its resource group), run ipFlowVerify, follow the LRO; the answer's JSON."""
    group = f"/subscriptions/{subscription}/resourceGroups/NetworkWatcherRG"
    watcher = f"{group}/providers/Microsoft.Network/networkWatchers/nw"
    assert client.put(f"{group}?api-version=2021-04-01", json={"location": location}).status_code in (200, 201)
    assert client.put(f"{watcher}?{API}", json={"location": location}).status_code in (200, 201)
    answer = client.post(f"{watcher}/ipFlowVerify?{API}", json=flow)
    if answer.status_code == 202:
        answer = client.get(answer.headers["Location"])
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_imported_example_is_served_and_verified(sqlite_url: str) -> None:
    seed = load_paths([EXAMPLES / "how-nsgs-filter-traffic.json"])
    nic = next(n for n in seed.nics.values() if n.name.casefold() == "vm1-nic")
    sub = nic.subscription_id
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS), seed=seed), headers=auth()) as client:
        listed = client.get(f"/subscriptions/{sub}/providers/Microsoft.Network/networkSecurityGroups?{API}")
        assert listed.status_code == 200
        assert sorted(n["name"] for n in listed.json()["value"]) == ["NSG1", "NSG2"]
        group = client.get(f"/subscriptions/{sub}/resourcegroups/{nic.resource_group}?api-version=2021-04-01")
        assert group.status_code == 200
        flow = {
            "targetResourceId": nic.id,
            "direction": "Inbound",
            "protocol": "TCP",
            "localIPAddress": "10.0.1.4",
            "localPort": "22",
            "remoteIPAddress": "52.10.20.30",
            "remotePort": "50000",
        }
        answer = _ip_flow_verify(client, sub, nic.location, flow)
        assert answer == {"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"}


def test_invalid_import_applies_nothing(sqlite_url: str) -> None:
    seed = load_paths([EXAMPLES / "how-nsgs-filter-traffic.json"])
    nsg = next(iter(seed.nsgs.values()))
    clone = dataclasses.replace(nsg.security_rules[0], name="same-priority-twice")
    bad = seed.with_(nsgs=[dataclasses.replace(nsg, security_rules=(*nsg.security_rules, clone))])
    config = ServiceConfig(db_url=sqlite_url, tokens=TOKENS)
    with pytest.raises(OpenNsgError) as raised:
        create_app(config, seed=bad)
    assert "SecurityRuleConflict" in {e.code for e in raised.value.errors}
    with TestClient(create_app(config), headers=auth()) as client:
        listed = client.get(
            f"/subscriptions/{nsg.subscription_id}/providers/Microsoft.Network/networkSecurityGroups?{API}"
        )
        assert listed.json()["value"] == []


def test_imported_subscription_drives_the_smtp_policy(sqlite_url: str) -> None:
    """three-tier.json carries an Enterprise Agreement subscription: outbound TCP 25 is not blocked there (§0)."""
    seed = load_paths([EXAMPLES / "three-tier.json"])
    sub = next(iter(seed.subscriptions.values()))
    nic = next(n for n in seed.nics.values() if n.name == "nic-vm-web1")
    smtp = {
        "targetResourceId": nic.id,
        "direction": "Outbound",
        "protocol": "TCP",
        "localIPAddress": "10.1.1.4",
        "localPort": "50000",
        "remoteIPAddress": "52.10.20.30",
        "remotePort": "25",
    }
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS), seed=seed), headers=auth()) as client:
        shown = client.get(f"/subscriptions/{sub.subscription_id}?api-version=2022-12-01")
        assert shown.status_code == 200
        assert shown.json()["offerType"] == "EnterpriseAgreement"
        answer = _ip_flow_verify(client, sub.subscription_id, nic.location, smtp)
        assert answer == {"access": "Allow", "ruleName": "defaultSecurityRules/AllowInternetOutBound"}


def test_ip_flow_verify_on_a_vm_picks_the_nic_holding_the_local_ip(sqlite_url: str) -> None:
    """vm-web1 has two NICs; without targetNicResourceId Azure answers at the NIC with the local IP (semantics §8.1)."""
    seed = load_paths([EXAMPLES / "three-tier.json"])
    vm = next(v for v in seed.vms.values() if v.name == "vm-web1")
    sub = vm.subscription_id
    flow = {
        "targetResourceId": vm.id,
        "direction": "Inbound",
        "protocol": "TCP",
        "localIPAddress": "10.1.2.10",
        "localPort": "8080",
        "remoteIPAddress": "10.1.1.4",
        "remotePort": "50000",
    }
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS), seed=seed), headers=auth()) as client:
        answer = _ip_flow_verify(client, sub, vm.location, flow)
        # decided by nsg-app on snet-app (the backend NIC is in no ASG, so Allow-Web-To-App does not apply to it)
        assert answer == {"access": "Deny", "ruleName": "securityRules/Deny-VNet-Inbound"}
