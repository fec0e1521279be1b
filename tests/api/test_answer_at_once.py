"""A GET of a stored resource, or of an operation's result in memory, is answered by the server's protocol as soon
as its head is parsed, and a quick ipFlowVerify POST as soon as its body has arrived with its head, without an ASGI
cycle (``GuardedHttpToolsProtocol._answer_at_once``, ``Gateway.answer_at_once``): the bytes on the wire must be
those the ASGI path sends for the same request. Two real servers on one database, one with the gateway behind an
ASGI layer (so it answers nothing at once), get the same raw requests; their answers must match byte for byte but
for the date, the request ids and the operation ids."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api.conftest import API, OTHER_SUB, SUB, TOKEN, TOKENS, auth, free_port

from opennsg.api import ServiceConfig, create_app
from opennsg.api.gateway import Gateway
from opennsg.api.server import ServerLimits, server_config

GROUP = f"/subscriptions/{SUB}/resourceGroups/rg"
NSG = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg1"
VNET = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet1"
NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/nic1"
WATCHER = f"{GROUP}/providers/Microsoft.Network/networkWatchers/nw"
#: Stands for the result path of an ipFlowVerify the direct server answered (known once the servers run).
RESULT = "<the result of an ipFlowVerify>"
PATHS = [
    RESULT,
    RESULT.replace("result", "status"),
    RESULT + "x",
    NSG,
    f"{NSG}/securityRules/web",
    f"{NSG}/defaultSecurityRules/DenyAllInBound",
    VNET,
    f"{VNET}/subnets/app",
    GROUP,
    f"{NSG}/securityRules/missing",
    f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/absent",
    f"/subscriptions/{OTHER_SUB}/resourceGroups/rg",
    f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westus/operationResults/0123",
    "/healthz",
]
PER_REQUEST = re.compile(rb"(?im)^(date|x-ms-request-id|x-ms-correlation-request-id): .*$")
#: An operation's id in its Location and Azure-AsyncOperation URLs (random: each verify records a new operation).
OPERATION_ID = re.compile(rb"(?i)(/operations/|/operationResults/)[0-9a-f]{32}")


class Layer:
    """An ASGI layer around the gateway: with it the server answers every request the ASGI way."""

    def __init__(self, app: Gateway) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


@dataclass
class Servers:
    direct: int
    layered: int
    at_once: list[int]  # requests the direct server's gateway answered at once
    gateways: list[Gateway]  # the direct server's, the layered one's
    operations: dict[str, str]  # what RESULT and its variants stand for


def verified_on(port: int) -> str:
    """The path of the result of an ipFlowVerify the server at ``port`` answered (kept in its memory)."""
    flow = {
        "targetResourceId": NIC, "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.0.4",
        "localPort": "443", "remoteIPAddress": "10.5.1.1", "remotePort": "40000",
    }  # fmt: skip
    body = json.dumps(flow).encode()
    request = (
        f"POST {WATCHER}/ipFlowVerify?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = unmasked_exchange(port, request + body)
    assert answer.startswith(b"HTTP/1.1 202"), answer
    location = re.search(rb"(?im)^location: https?://[^/]+(/[^\r]*)", answer)
    assert location is not None, answer
    return location.group(1).decode()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    db = str(tmp_path_factory.mktemp("at-once") / "opennsg.db")
    with TestClient(create_app(ServiceConfig(db_url=db, tokens=TOKENS)), headers=auth()) as client:
        for path, body in [
            (GROUP, {"location": "westus"}),
            (NSG, {"location": "westus", "tags": {"é": "ü"}}),
            (
                f"{NSG}/securityRules/web",
                {
                    "properties": {
                        "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                        "destinationAddressPrefix": "*", "destinationPortRange": "443", "access": "Allow",
                        "priority": 100, "direction": "Inbound",
                    }
                },
            ),
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
            (WATCHER, {"location": "westus"}),
            (
                NIC,
                {
                    "location": "westus",
                    "properties": {
                        "ipConfigurations": [
                            {
                                "name": "ip",
                                "properties": {"privateIPAddress": "10.0.0.4", "subnet": {"id": f"{VNET}/subnets/app"}},
                            }
                        ]
                    },
                },
            ),
        ]:  # fmt: skip
            assert client.put(f"{path}?{API}", json=body).status_code in (200, 201)
    running: list[tuple[uvicorn.Server, threading.Thread]] = []
    counted: list[int] = []
    gateways: list[Gateway] = []

    def start(wrap: bool) -> int:
        gateway = create_app(ServiceConfig(db_url=db, tokens=TOKENS))
        gateways.append(gateway)
        if not wrap:
            answer = gateway.answer_at_once

            def counting(*args: Any) -> Any:
                found = answer(*args)
                if found is not None:
                    counted.append(1)
                return found

            gateway.answer_at_once = counting  # type: ignore[method-assign]
        port = free_port()
        app = Layer(gateway) if wrap else gateway
        server = uvicorn.Server(server_config(app, "127.0.0.1", port, ServerLimits(), lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.02)
        running.append((server, thread))
        return port

    direct, layered = start(False), start(True)
    for port in (direct, layered):  # the NIC's policy resolved, then compiled: from then on every verify is quick
        for _ in range(40):
            verified_on(port)
    result = verified_on(direct)
    status = result.replace("/operationResults/", "/operations/")
    get = f"GET {result} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    deadline = time.monotonic() + 10
    while not exchange(layered, get).startswith(b"HTTP/1.1 200"):  # the layered server reads it from the database
        assert time.monotonic() < deadline, "the operation record was not committed"
        time.sleep(0.05)
    operations = {RESULT: result.split("?")[0], PATHS[1]: status.split("?")[0], PATHS[2]: result.split("?")[0] + "x"}
    yield Servers(direct, layered, counted, gateways, operations)
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


def exchange(port: int, request: bytes, responses: int = 1, head_only: bool = False) -> bytes:
    """Send raw bytes on a new connection; the raw answer: ``responses`` whole responses, or all until the server
    closes, with the per-request headers and operation ids masked (and the server's port, which a Location names
    when the request has no Host)."""
    answer = masked(unmasked_exchange(port, request, responses, head_only))
    return answer.replace(b"127.0.0.1:%d/" % port, b"127.0.0.1:<port>/")


def unmasked_exchange(port: int, request: bytes, responses: int = 1, head_only: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        data = b""
        for _ in range(responses):
            data += read_response(sock, head_only)
    return data


def masked(answer: bytes) -> bytes:
    answer = PER_REQUEST.sub(lambda m: m.group(1) + b": <masked>", answer)
    return OPERATION_ID.sub(lambda m: m.group(1) + b"<operation>", answer)


def read_response(sock: socket.socket, head_only: bool) -> bytes:
    """One whole response (Content-Length bytes of body, none for HEAD), with the interim ones (``100 Continue``)
    before it; what arrived when the server closes first."""
    data = out = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return out + data
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        out += head + b"\r\n\r\n"
        if not re.match(rb"HTTP/1\.1 1\d\d ", head):
            break
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    length = 0 if head_only else int(fields.get(b"content-length", b"0"))
    while len(data) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return out + data


def recased(path: str, pattern: list[bool]) -> str:
    """ARM is case-insensitive: the path with some segments upper-cased."""
    parts = path.split("/")
    return "/".join(p.upper() if pattern[i % len(pattern)] else p for i, p in enumerate(parts))


requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "GET", "GET", "HEAD", "POST"]),
        "path": st.sampled_from(PATHS),
        "case": st.lists(st.booleans(), min_size=1, max_size=4),
        "slash": st.booleans(),
        "quoted": st.booleans(),
        "query": st.sampled_from([API, API, "", "api-version=bad", f"{API}&api-version=2020-01-01", f"x=1&{API}"]),
        "token": st.sampled_from([TOKEN, TOKEN, "test-token-sub1", "wrong", None]),
        "version": st.sampled_from(["1.1", "1.1", "1.1", "1.0"]),
        "extra": st.lists(
            st.sampled_from(
                [
                    b"Connection: close",
                    b"Connection: keep-alive",
                    b"Content-Length: 0",
                    b"X-Forwarded-For: 10.1.2.3",
                    b"X-Forwarded-Proto: https",
                    b"Expect: 100-continue",
                    b"Accept: application/json",
                ]
            ),
            max_size=3,
            unique=True,
        ),
    }
)


def raw_request(r: dict[str, Any], operations: dict[str, str]) -> bytes:
    path = recased(operations.get(r["path"], r["path"]), r["case"]) + ("/" if r["slash"] else "")
    if r["quoted"]:
        path = path.replace("/rg", "/r%67", 1)
    target = f"{path}?{r['query']}" if r["query"] else path
    lines = [f"{r['method']} {target} HTTP/{r['version']}".encode(), b"Host: 127.0.0.1"]
    if r["token"] is not None:
        lines.append(f"Authorization: Bearer {r['token']}".encode())
    lines += r["extra"]
    if r["method"] == "POST" and b"Content-Length: 0" not in r["extra"]:
        lines.append(b"Content-Length: 0")
    return b"\r\n".join(lines) + b"\r\n\r\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_fields=requests)
def test_every_answer_given_at_once_is_the_asgi_paths(servers: Servers, request_fields: dict[str, Any]) -> None:
    raw = raw_request(request_fields, servers.operations)
    head_only = request_fields["method"] == "HEAD"
    assert exchange(servers.direct, raw, head_only=head_only) == exchange(servers.layered, raw, head_only=head_only)


def test_pipelined_gets_are_answered_in_order_at_once(servers: Servers) -> None:
    get = f"GET {NSG}/securityRules/web?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    missing = get.replace("/web?", "/missing?")
    default_rule = get.replace("securityRules/web", "defaultSecurityRules/AllowVnetInBound")
    raw = (get + default_rule + missing + get).encode()
    before = len(servers.at_once)
    direct = exchange(servers.direct, raw, responses=4)
    assert direct == exchange(servers.layered, raw, responses=4)
    assert direct.count(b"HTTP/1.1 200") == 3 and direct.count(b"HTTP/1.1 404") == 1
    # the 404 goes the ASGI way, and the GET behind it waits for it there (answers keep the requests' order)
    assert len(servers.at_once) - before == 2


def test_an_operations_result_in_memory_is_answered_at_once(servers: Servers) -> None:
    result = servers.operations[RESULT]
    get = f"GET {result}?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    before = len(servers.at_once)
    direct = exchange(servers.direct, get)
    assert direct == exchange(servers.layered, get)  # from memory at once / from the database the ASGI way
    assert direct.startswith(b"HTTP/1.1 200") and b'"access": "Allow"' in direct
    assert len(servers.at_once) - before == 1


def test_a_read_that_fails_is_answered_as_the_asgi_path_answers_it(servers: Servers) -> None:
    def failing(path: str) -> Any:
        raise RuntimeError("a damaged row")

    get = f"GET {NSG}?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    reads = [gateway.read for gateway in servers.gateways]
    for gateway in servers.gateways:
        gateway.read = failing
    try:
        direct = exchange(servers.direct, get)
        assert direct == exchange(servers.layered, get)
    finally:
        for gateway, read in zip(servers.gateways, reads, strict=True):
            gateway.read = read
    assert direct.startswith(b"HTTP/1.1 500")


def test_a_kept_alive_connection_mixes_answers_at_once_with_asgi_ones(servers: Servers) -> None:
    get = f"GET {NSG}?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    put = (
        f"PUT {GROUP}/providers/Microsoft.Network/applicationSecurityGroups/asg?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 22\r\n\r\n"
        '{"location": "westus"}'
    ).encode()
    with socket.create_connection(("127.0.0.1", servers.direct), timeout=20) as sock:
        for request, status in [(get, b"200"), (put, b"20"), (get, b"200"), (get, b"200")]:
            sock.sendall(request)
            assert read_response(sock, False).startswith(b"HTTP/1.1 " + status)


def test_an_answer_at_once_is_logged_as_the_asgi_path_logs_it(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    get = f"GET {NSG.lower()}?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    lines = []
    for port in (servers.direct, servers.layered):
        with caplog.at_level(logging.INFO, logger="opennsg.api.requests"):
            caplog.clear()
            exchange(port, get)
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.01)
        [record] = caplog.records
        lines.append(re.sub(r'"(requestId|durationMs)": [^,]+', r'"\1": _', record.getMessage()))
    assert lines[0] == lines[1]
    assert f'"path": "{NSG}"' in lines[0] and '"status": 200' in lines[0]


FLOW = {
    "targetResourceId": NIC, "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.0.4",
    "localPort": "443", "remoteIPAddress": "10.5.1.1", "remotePort": "40000",
}  # fmt: skip
#: ipFlowVerify bodies: allowed, denied, at a NIC named twice, refused for each reason the action refuses.
BODIES = [
    json.dumps(FLOW).encode(),
    json.dumps(FLOW).encode(),
    json.dumps({**FLOW, "localPort": "22"}).encode(),
    json.dumps({**FLOW, "targetNicResourceId": NIC, "direction": "Outbound"}).encode(),
    json.dumps({**FLOW, "targetResourceId": NIC.upper()}, separators=(",", ":")).encode(),
    json.dumps({**FLOW, "remoteIPAddress": "not an address"}).encode(),
    json.dumps({**FLOW, "localPort": ""}).encode(),
    json.dumps({k: v for k, v in FLOW.items() if k != "protocol"}).encode(),
    json.dumps({**FLOW, "targetResourceId": NIC.replace("nic1", "absent")}).encode(),
    json.dumps({**FLOW, "targetResourceId": NIC.replace(SUB, OTHER_SUB)}).encode(),
    json.dumps({**FLOW, "targetResourceId": "not an id"}).encode(),
    json.dumps({**FLOW, "protocol": "\ud800"}).encode(),
    json.dumps([FLOW]).encode(),
    b'{"targetResourceId": ',
    b"NaN",
    b"",
]
WATCHERS = [
    WATCHER,
    WATCHER,
    WATCHER.replace("/nw", "/absent"),
    WATCHER.replace(SUB, OTHER_SUB),
    WATCHER.replace(SUB, "x"),
]

verifies = st.fixed_dictionaries(
    {
        "watcher": st.sampled_from(WATCHERS),
        "body": st.sampled_from(BODIES),
        "case": st.lists(st.booleans(), min_size=1, max_size=4),
        "slash": st.booleans(),
        "quoted": st.booleans(),
        "query": st.sampled_from([API, API, "", "api-version=bad", f"{API}&x=%zz", f"x=1&{API}"]),
        "token": st.sampled_from([TOKEN, TOKEN, "test-token-sub1", "wrong", None]),
        "version": st.sampled_from(["1.1", "1.1", "1.1", "1.0"]),
        "host": st.sampled_from([b"127.0.0.1", b"127.0.0.1", b"example.com:8443", b"[::1]:80", None]),
        "extra": st.lists(
            st.sampled_from(
                [
                    b"Connection: close",
                    b"Connection: keep-alive",
                    b"X-Forwarded-For: 10.1.2.3",
                    b"X-Forwarded-Proto: https",
                    b"Expect: 100-continue",
                    b"Transfer-Encoding: chunked",
                    b"Content-Type: text/plain",
                ]
            ),
            max_size=3,
            unique=True,
        ),
    }
)


def raw_verify(r: dict[str, Any]) -> bytes:
    path = recased(f"{r['watcher']}/ipFlowVerify", r["case"]) + ("/" if r["slash"] else "")
    if r["quoted"]:
        path = path.replace("/rg", "/r%67", 1)
    target = f"{path}?{r['query']}" if r["query"] else path
    lines = [f"POST {target} HTTP/{r['version']}".encode()]
    if r["host"] is not None:
        lines.append(b"Host: " + r["host"])
    if r["token"] is not None:
        lines.append(f"Authorization: Bearer {r['token']}".encode())
    lines += r["extra"]
    body: bytes = r["body"]
    if b"Transfer-Encoding: chunked" in r["extra"]:
        body = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_fields=verifies)
def test_every_verify_answered_at_once_is_the_asgi_paths(servers: Servers, request_fields: dict[str, Any]) -> None:
    raw = raw_verify(request_fields)
    assert exchange(servers.direct, raw) == exchange(servers.layered, raw)


def verify_request(body: bytes = BODIES[0]) -> bytes:
    return (
        f"POST {WATCHER}/ipFlowVerify?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_a_quick_verify_is_answered_at_once_and_its_result_can_be_read(servers: Servers) -> None:
    before = len(servers.at_once)
    with socket.create_connection(("127.0.0.1", servers.direct), timeout=20) as sock:
        sock.sendall(verify_request())
        answer = read_response(sock, False)
        assert answer.startswith(b"HTTP/1.1 202") and len(servers.at_once) - before == 1
        location = re.search(rb"(?im)^location: https?://[^/]+(/[^\r]*)", answer)
        assert location is not None
        sock.sendall(b"GET " + location.group(1) + f" HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        result = read_response(sock, False)
    assert result.startswith(b"HTTP/1.1 200") and result.endswith(b'{"access": "Allow"}')
    assert len(servers.at_once) - before == 2


def test_a_verify_whose_body_arrives_later_goes_the_asgi_way(servers: Servers) -> None:
    raw = verify_request()
    before = len(servers.at_once)
    answers = []
    for port in (servers.direct, servers.layered):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(raw[:-10])
            time.sleep(0.1)  # the head and part of the body are read first
            sock.sendall(raw[-10:])
            answers.append(masked(read_response(sock, False)))
    assert answers[0] == answers[1] and answers[0].startswith(b"HTTP/1.1 202")
    assert len(servers.at_once) == before


def test_pipelined_verifies_and_reads_are_answered_in_order(servers: Servers) -> None:
    get = f"GET {NSG}?{API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    denied = verify_request(BODIES[2])
    raw = verify_request() + get + denied + verify_request(b"{") + get + verify_request()
    direct = exchange(servers.direct, raw, responses=6)
    assert direct == exchange(servers.layered, raw, responses=6)
    assert [line.split(b" ")[1] for line in re.findall(rb"HTTP/1\.1 \d+", direct)] == [
        b"202", b"200", b"202", b"400", b"200", b"202",
    ]  # fmt: skip
