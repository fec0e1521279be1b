"""Fixtures for the service tests: databases (SQLite file, PostgreSQL from OPENNSG_TEST_POSTGRES_URL), in-process
clients, and real uvicorn servers over TLS for the Azure SDK."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from opennsg.api import ServiceConfig, create_app
from opennsg.api.auth import Tokens
from opennsg.api.tls import self_signed

SUB = "00000000-0000-0000-0000-000000000001"
OTHER_SUB = "00000000-0000-0000-0000-000000000002"
TOKEN = "test-token-all"
LIMITED_TOKEN = "test-token-sub1"
API = "api-version=2024-05-01"
TOKENS = Tokens.of({TOKEN: ["*"], LIMITED_TOKEN: [SUB]})
POSTGRES_URL = os.environ.get("OPENNSG_TEST_POSTGRES_URL")


def postgres_database() -> str:
    """A new, empty database on the test PostgreSQL server; its URL."""
    assert POSTGRES_URL is not None
    name = f"opennsg_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(POSTGRES_URL is None, reason="OPENNSG_TEST_POSTGRES_URL is not set"),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "opennsg.db")
    return postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "opennsg.db")


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    """In-process client on a fresh SQLite database, authenticated with the all-subscriptions token."""
    with TestClient(create_app(ServiceConfig(db_url=sqlite_url, tokens=TOKENS)), headers=auth()) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    certificate: Path
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def start_server(certificate: tuple[Path, Path]) -> Iterator[Callable[..., RunningServer]]:
    """Start a real uvicorn server over TLS (in a thread) on a database; stopped at the end of the test."""
    running: list[RunningServer] = []

    def start(db: str, port: int | None = None, **config: Any) -> RunningServer:
        port = port or free_port()
        app = create_app(ServiceConfig(db_url=db, tokens=TOKENS, **config))
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                ssl_certfile=str(certificate[0]),
                ssl_keyfile=str(certificate[1]),
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        handle = RunningServer(f"https://127.0.0.1:{port}", certificate[0], server, thread)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()


# --- ARM JSON builders shared by the tests ------------------------------------------------------------------------


def rid(kind: str, name: str, group: str = "rg1", sub: str = SUB, provider: str = "Microsoft.Network") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{provider}/{kind}/{name}"


def rule_body(priority: int, *, direction: str = "Inbound", access: str = "Allow", port: str = "443") -> dict[str, Any]:
    return {
        "properties": {
            "protocol": "Tcp",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": port,
            "access": access,
            "priority": priority,
            "direction": direction,
        }
    }
