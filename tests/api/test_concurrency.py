"""50 concurrent writers on one NSG: optimistic concurrency with ETags loses no update and never stores a duplicate
priority (real server, real threads, SQLite and PostgreSQL)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from tests.api.conftest import API, SUB, RunningServer, auth, rid, rule_body

WRITERS = 50


def test_concurrent_writers_with_etags(db_url: str, start_server: Callable[..., RunningServer]) -> None:
    server = start_server(db_url)
    nsg_url = f"{server.url}{rid('networkSecurityGroups', 'shared')}?{API}"

    def client() -> httpx.Client:
        # Idle connections are dropped by the client well before the server's 5 s keep-alive timeout, so a request
        # is never sent on a socket the server is closing at that moment (a race of HTTP/1.1, not of the service).
        return httpx.Client(
            verify=ssl.create_default_context(cafile=server.certificate),
            headers=auth(),
            timeout=60,
            limits=httpx.Limits(keepalive_expiry=2.0),
        )

    with client() as setup:
        assert setup.put(f"{server.url}/subscriptions/{SUB}/resourcegroups/rg1?{API}", json={"location": "westus"})
        assert setup.put(nsg_url, json={"location": "westus"}).status_code == 201

    def writer(index: int) -> int:
        """Read the NSG, add my rule at the lowest free priority, write it back If-Match; retry on 412."""
        conflicts = 0
        with client() as http:
            while True:
                current = http.get(nsg_url)
                body: dict[str, Any] = current.json()
                rules = body["properties"]["securityRules"]
                used = {r["properties"]["priority"] for r in rules}
                priority = next(p for p in range(100, 4097) if p not in used)
                mine = {"name": f"writer{index}", **rule_body(priority)}
                update = {"location": "westus", "properties": {"securityRules": [*rules, mine]}}
                answer = http.put(nsg_url, json=update, headers={"If-Match": current.headers["etag"]})
                if answer.status_code == 200:
                    return conflicts
                assert answer.status_code == 412, answer.text
                conflicts += 1

    with ThreadPoolExecutor(WRITERS) as pool:
        conflicts = sum(pool.map(writer, range(WRITERS)))
    assert conflicts > 0  # the writers really did collide

    with client() as http:
        rules = http.get(nsg_url).json()["properties"]["securityRules"]
        assert sorted(r["name"] for r in rules) == sorted(f"writer{i}" for i in range(WRITERS))
        priorities = [r["properties"]["priority"] for r in rules]
        assert len(set(priorities)) == WRITERS

        # the same priority from many writers at once, without ETags: exactly one wins, the rest are refused
        def same_priority(index: int) -> int:
            with client() as racer:
                rule_url = f"{server.url}{rid('networkSecurityGroups', 'shared')}/securityRules/race{index}?{API}"
                return racer.put(rule_url, json=rule_body(4000)).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = sorted(pool.map(same_priority, range(20)))
        assert statuses == [201] + [400] * 19
        stored = [r["properties"]["priority"] for r in http.get(nsg_url).json()["properties"]["securityRules"]]
        assert stored.count(4000) == 1
