"""``opennsg serve`` under abuse (issue 9): idle, slow and stalled connections are closed on deadlines, the number of
open connections is capped with idle ones making room, and ``/healthz`` keeps answering through it all. A real
uvicorn server on loopback with low limits, so each test takes about a second."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from tests.api.conftest import TOKEN, TOKENS, free_port

from opennsg.api import ServiceConfig, create_app
from opennsg.api.server import ServerLimits, server_config

LIMITS = ServerLimits(header_timeout=1.0, keep_alive_timeout=1, body_timeout=1.0, max_connections=16)


@dataclass
class Served:
    port: int
    server: uvicorn.Server

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return sock

    def open_connections(self) -> int:
        return len(self.server.server_state.connections)

    def busy_connections(self) -> int:
        return sum(1 for c in list(self.server.server_state.connections) if getattr(c, "busy", False))


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[ServerLimits], Served]]:
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def run(limits: ServerLimits) -> Served:
        config = ServiceConfig(db_url=str(tmp_path / "limits.db"), tokens=TOKENS, body_timeout=limits.body_timeout)
        port = free_port()
        server = uvicorn.Server(server_config(create_app(config), "127.0.0.1", port, limits, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return Served(port, server)

    yield run
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(start: Callable[[ServerLimits], Served]) -> Served:
    return start(LIMITS)


def _get(served: Served, path: str, token: str | None = None) -> tuple[int, bytes]:
    """One request on a new connection; (status, raw response)."""
    with served.connect() as sock:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n".encode())
        data = _read_all(sock)
    return int(data.split(b" ", 2)[1]), data


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response on a kept-alive connection: its head, then exactly Content-Length body bytes
    (a single recv may hold only part of it when the machine is busy)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    assert len(body) == length, "more bytes than one response"
    return head + b"\r\n\r\n" + body


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_healthz_answers_while_300_idle_connections_are_open(start: Callable[[ServerLimits], Served]) -> None:
    limits = ServerLimits(header_timeout=20.0, max_connections=16)  # idle ones make room long before they time out
    served = start(limits)
    idle = [served.connect() for _ in range(300)]
    try:
        started = time.monotonic()
        status, _ = _get(served, "/healthz")
        assert status == 200
        assert time.monotonic() - started < limits.header_timeout / 2
        assert served.open_connections() <= limits.max_connections
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_connection_is_closed_after_the_header_timeout(served: Served) -> None:
    with served.connect() as sock:
        assert _closed_by_server(sock, within=LIMITS.header_timeout + 2)


def test_a_slow_request_head_is_closed_at_the_deadline(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < LIMITS.header_timeout + 2:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed_by_server(sock, within=0.2):
                closed = True
                break
        assert closed and time.monotonic() - started < LIMITS.header_timeout + 2


def test_the_head_deadline_runs_from_the_end_of_the_last_response(start: Callable[[ServerLimits], Served]) -> None:
    """One timer per connection is moved along as requests come (``_await_head``): requests spaced over more than
    the header timeout are all answered, and the idle connection is closed a header timeout after the last one."""
    limits = ServerLimits(header_timeout=1.0, keep_alive_timeout=30, max_connections=16)
    served = start(limits)
    with served.connect() as sock:
        for _ in range(4):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.6)
        answered = time.monotonic() - 0.6
        assert _closed_by_server(sock, within=limits.header_timeout + 2)
        assert time.monotonic() - answered >= limits.header_timeout - 0.1


def test_a_stalled_body_is_a_408_in_arms_envelope(served: Served) -> None:
    with served.connect() as sock:
        path = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1?api-version=2024-05-01"
        head = f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n"
        sock.sendall(f"{head}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{".encode())
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b'"code":"RequestTimeout"' in data.replace(b" ", b"")


def test_when_every_connection_is_busy_a_new_one_is_answered_503_and_closed(served: Served) -> None:
    path = "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1?api-version=2024-05-01"
    head = f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n"
    busy = [served.connect() for _ in range(LIMITS.max_connections)]
    try:
        for sock in busy:  # a request each, whose body never comes: in progress until the body deadline
            sock.sendall(head.encode())
        deadline = time.monotonic() + 10
        while served.busy_connections() < LIMITS.max_connections:  # the server has read every head
            assert time.monotonic() < deadline
            time.sleep(0.01)
        status, data = _get(served, "/healthz")
        assert status == 503 and b"ServerBusy" in data and b"retry-after" in data.lower()
        deadline = time.monotonic() + LIMITS.body_timeout + 10
        while served.busy_connections():  # the stalled requests end (408 at the body deadline)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert _get(served, "/healthz")[0] == 200  # and the server is usable again
    finally:
        for sock in busy:
            sock.close()


def test_keep_alive_connections_serve_several_requests_before_going_idle(served: Served) -> None:
    with served.connect() as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")
        assert _closed_by_server(sock, within=LIMITS.keep_alive_timeout + 2)


def test_a_request_head_over_the_limit_is_a_431_in_arms_envelope(start: Callable[[ServerLimits], Served]) -> None:
    served = start(ServerLimits(max_header_bytes=4096, max_connections=16))
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        try:
            for _ in range(8):  # 8 KiB of headers, never ending the head
                sock.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the client has sent everything
        data = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 431"), data[:200]
    assert b'"code": "RequestHeaderFieldsTooLarge"' in data and b"connection: close" in data.lower()
    assert _get(served, "/healthz")[0] == 200
    with served.connect() as sock:  # a head just under the limit is served
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 3000 + b"\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200")


def test_the_server_parses_with_httptools_and_writes_each_response_at_once(served: Served) -> None:
    """A response's head and body reach the client in one segment (the client sees them together)."""
    with served.connect() as sock:
        sock.settimeout(30)  # how soon the answer comes is other tests' concern; this one checks its segments
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"}"), first
    protocols = {type(c).__mro__[1].__name__ for c in served.server.server_state.connections} | {
        served.server.config.http_protocol_class.__mro__[1].__name__
    }
    assert protocols == {"GuardedHttpToolsProtocol"}
