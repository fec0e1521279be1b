"""Saved revisions: the diff page compares one with the service's current state, and a revision is seen only by
tokens that grant every subscription whose resources it holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.ui.conftest import HOW_NSGS_FILTER, NOBODY_TOKEN, THREE_TIER, THREE_TIER_TOKEN, TOKEN, TOKENS

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_paths

NSG_WEB = (
    "/subscriptions/8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f/resourceGroups/rg-three-tier"
    "/providers/Microsoft.Network/networkSecurityGroups/nsg-web"
)
SSH_FROM_INTERNET = {
    "properties": {
        "priority": 200,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "sourceAddressPrefix": "Internet",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "22",
    }
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    seed = load_paths([HOW_NSGS_FILTER, THREE_TIER])
    with ThreadPoolExecutor(1) as pool:  # the seed import runs its own event loop
        app = pool.submit(create_app, ServiceConfig(db_url=str(tmp_path / "db.sqlite"), tokens=TOKENS), seed).result()
    with TestClient(app) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def diff_against(client: TestClient, token: str, revision: str) -> str:
    body = {"old": {"revision": revision}, "new": "current"}
    answer = client.post("/ui/api/diff", json=body, headers=bearer(token))
    assert answer.status_code == 200
    return answer.text


def test_a_saved_revision_against_the_current_state_shows_what_a_write_opened(client: TestClient) -> None:
    saved = client.post("/ui/api/revisions", json={"label": "before SSH"}, headers=bearer(THREE_TIER_TOKEN))
    assert saved.status_code == 201, saved.text
    revision = saved.json()
    assert revision["label"] == "before SSH" and revision["resources"] > 0
    nothing_yet = diff_against(client, THREE_TIER_TOKEN, revision["id"])
    assert 'data-opened="0"' in nothing_yet and 'data-closed="0"' in nothing_yet

    put = client.put(
        f"{NSG_WEB}/securityRules/Allow-Internet-SSH?api-version=2024-05-01",
        json=SSH_FROM_INTERNET,
        headers=bearer(THREE_TIER_TOKEN),
    )
    assert put.status_code in (200, 201), put.text
    changed = diff_against(client, THREE_TIER_TOKEN, revision["id"])
    opened = re.search(r'data-opened="(\d+)"', changed)
    assert opened is not None and int(opened.group(1)) > 0
    assert 'data-closed="0"' in changed and "securityRules/Allow-Internet-SSH" in changed and "nic-vm-web1" in changed

    page = client.get("/ui/api/page/diff", headers=bearer(THREE_TIER_TOKEN)).text
    assert 'data-testid="diff-revision"' in page and "before SSH" in page


def test_a_revision_is_seen_only_by_tokens_granting_all_it_holds(client: TestClient) -> None:
    mine = client.post("/ui/api/revisions", json={"label": "three tier"}, headers=bearer(THREE_TIER_TOKEN)).json()
    everything = client.post("/ui/api/revisions", json={"label": "all"}, headers=bearer(TOKEN)).json()
    listed = {
        token: [r["label"] for r in client.get("/ui/api/revisions", headers=bearer(token)).json()["value"]]
        for token in (TOKEN, THREE_TIER_TOKEN, NOBODY_TOKEN)
    }
    assert sorted(listed[TOKEN]) == ["all", "three tier"]
    assert listed[THREE_TIER_TOKEN] == ["three tier"] and listed[NOBODY_TOKEN] == []
    assert "RevisionNotFound" in diff_against(client, THREE_TIER_TOKEN, everything["id"])
    assert "RevisionNotFound" in diff_against(client, NOBODY_TOKEN, mine["id"])
    assert client.delete(f"/ui/api/revisions/{everything['id']}", headers=bearer(THREE_TIER_TOKEN)).status_code == 404
    assert client.get("/ui/api/revisions").status_code == 401
    assert client.post("/ui/api/revisions", json={"label": "x"}).status_code == 401
    assert client.delete(f"/ui/api/revisions/{mine['id']}", headers=bearer(THREE_TIER_TOKEN)).status_code == 204
    assert client.get("/ui/api/revisions", headers=bearer(THREE_TIER_TOKEN)).json()["value"] == []


def test_bad_revision_requests_are_refused_in_azure_style(client: TestClient) -> None:
    for body in ({"label": ""}, {"label": "x" * 201}, {"label": 3}, {}):
        answer = client.post("/ui/api/revisions", json=body, headers=bearer(TOKEN))
        assert answer.status_code == 400 and set(answer.json()["error"]) >= {"code", "message"}, body
    answer = client.post("/ui/api/revisions", content=b"[", headers=bearer(TOKEN))
    assert answer.status_code == 400
