"""``opennsg enforce --service``: a NIC's namespace follows ``opennsg serve`` — re-applied within a second of a
rule change, and the last good ruleset kept while the service is unreachable."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

from labkit import SUB, needs_netns, running_lab
from opennsg.api.app import ServiceConfig, create_app
from opennsg.api.auth import Tokens
from opennsg.enforce.follow import FollowEvent, ServiceSource, follow
from opennsg.enforce.kernel import list_ruleset
from opennsg.enforce.probe import Probe, run_probes
from test_enforce_lab import ssh_world

pytestmark = needs_netns
TOKEN = "follow-token"
API = {"api-version": "2024-05-01"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_enforce_follows_the_service_and_keeps_the_last_good_ruleset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENNSG_LAB_DIR", str(tmp_path / "labs"))
    topology = ssh_world(True)
    port = _free_port()
    app = create_app(ServiceConfig(db_url=str(tmp_path / "db.sqlite"), tokens=Tokens.of({TOKEN: ["*"]})), topology)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    events: list[FollowEvent] = []
    stop = threading.Event()
    try:
        with running_lab(topology, collect=False) as lab:
            client, server_ns = lab.plan.nic("a").netns, lab.plan.nic("b").netns  # type: ignore[union-attr]
            nic_id = lab.plan.nic("b").id  # type: ignore[union-attr]
            source = ServiceSource(url, TOKEN, nic_id)
            follower = threading.Thread(
                target=follow, args=(source, nic_id, server_ns, None, 0.2, events.append, stop.is_set), daemon=True
            )
            follower.start()
            _wait(lambda: any(e.kind == "applied" for e in events), "the first apply")
            assert run_probes([Probe("tcp", client, server_ns, "10.9.1.5", 22)]) == [True]

            rule = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/srv"
            deleted = httpx.delete(f"{url}{rule}/securityRules/ssh", params=API, headers=_auth())
            assert deleted.status_code in (200, 202, 204), deleted.text
            changed_at = time.monotonic()
            _wait(lambda: sum(e.kind == "applied" for e in events) >= 2, "the re-apply after the change")
            assert time.monotonic() - changed_at < 1.5
            assert run_probes([Probe("tcp", client, server_ns, "10.9.1.5", 22)]) == [False]

            in_force = list_ruleset(server_ns)
            server.should_exit = True
            thread.join(timeout=10)
            _wait(lambda: any(e.kind == "unreachable" for e in events), "noticing the service is gone")
            assert list_ruleset(server_ns) == in_force, "the last good ruleset stays while the service is away"
            stop.set()
            follower.join(timeout=5)
            source.close()
    finally:
        stop.set()
        server.should_exit = True


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _wait(condition: object, what: str, timeout: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
