"""Benchmark of `opennsg serve`: GET and rule-PUT throughput with p50/p99 latency under 32 concurrent clients, on
SQLite and (when a URL is given) PostgreSQL, plus IP flow verify from one client (latency) and from 32 (throughput).

    python bench/api_bench.py [--postgres postgresql://user@host:port/db] [--seconds 10] [--clients 32]

Starts `opennsg serve` as a subprocess on a loopback port (plain HTTP, bearer token) and drives it with a minimal
keep-alive HTTP/1.1 client on a bare asyncio protocol, so the load generator costs less CPU than the server it
measures (both share this machine; the client's CPU per request is printed beside the server's). Targets (issue
15): on SQLite >= 10,000 GET/s, >= 1,000 rule PUTs/s with p99 < 50 ms, >= 1,000 ipFlowVerify/s with p99 < 20 ms
(an ipFlowVerify is its POST and the GET of its result, as the SDK's poller sends them); on PostgreSQL >= 600 rule
PUTs/s. Each rate is judged twice: as measured (wall clock, which a loaded machine drags down) and as the server's
capacity per core (requests / server CPU seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUB = "00000000-0000-0000-0000-0000000000be"
TOKEN = "bench-token"
API = "api-version=2024-05-01"
GROUP = f"/subscriptions/{SUB}/resourceGroups/bench"
NSG = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg1"
WATCHER = f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw"
NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/nic1"
VNET = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet1"
TARGETS = {"get_per_s": 10_000.0, "put_per_s": 1_000.0, "postgres_put_per_s": 600.0, "verify_per_s": 1_000.0}
VERIFY = "ipFlowVerify (POST + result GET)"
VERIFY_CONCURRENT = "ipFlowVerify, --clients (POST + GET)"
P99_TARGETS_MS = {"PUT rule": 50.0, VERIFY: 20.0, VERIFY_CONCURRENT: 20.0}


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: just enough protocol for JSON requests and Content-Length answers, on a
    bare asyncio protocol (a stream reader's line-by-line parsing cost more CPU than the server's whole answer, and
    the load generator shares the machine with the server it measures)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[None] | None = None
        self.closed = False

    @classmethod
    async def open(cls, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(lambda: cls(f"127.0.0.1:{port}"), "127.0.0.1", port)
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def _more(self) -> None:
        if self.closed:
            raise ConnectionError("the server closed the connection")
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        assert self.transport is not None
        self.transport.write(head.encode() + payload)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            await self._more()
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < end + 4 + length:
            await self._more()
        data = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        return status, headers, data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used: what the server spent, whatever else runs on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    def row(self) -> dict[str, Any]:
        return {
            "test": self.name,
            "requests": self.requests,
            "per_s": round(self.rate, 1),
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "errors": self.errors,
            "server_cpu_ms_per_request": round(self.server_cpu / self.requests * 1000, 3),
            "capacity_per_core_per_s": round(self.requests / self.server_cpu) if self.server_cpu else None,
            "client_cpu_ms_per_request": round(self.client_cpu / self.requests * 1000, 3),
        }


async def load(port: int, name: str, clients: int, seconds: float, make: Any) -> Result:
    """``clients`` connections each sending requests back to back for ``seconds``; ``make(i, n)`` gives one."""
    connections = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def run(index: int, connection: Connection) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            method, path, body, expected = make(index, n)
            started = time.perf_counter()
            status, _, _ = await connection.request(method, path, body)
            latencies.append(time.perf_counter() - started)
            if status not in expected:
                errors += 1
            n += 1

    began = time.perf_counter()
    await asyncio.gather(*(run(i, c) for i, c in enumerate(connections)))
    elapsed = time.perf_counter() - began
    for connection in connections:
        connection.close()
    return Result(name, len(latencies), elapsed, latencies, errors)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(db: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    tokens = workdir / "tokens.json"
    tokens.write_text(json.dumps({TOKEN: ["*"]}))
    port = free_port()
    entry = "from opennsg.cli.main import app; app()"
    command = [sys.executable, "-c", entry, "serve", "--port", str(port), "--db", db, "--tokens", str(tokens)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


async def seed(port: int) -> None:
    c = await Connection.open(port)
    for group in ("bench", "NetworkWatcherRG"):
        await c.request("PUT", f"/subscriptions/{SUB}/resourcegroups/{group}?{API}", {"location": "westus"})
    rules = [
        {
            "name": f"seed{i}",
            "properties": {
                "protocol": "Tcp", "sourceAddressPrefix": f"10.{i}.0.0/16", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": str(1000 + i), "access": "Allow",
                "priority": 100 + i, "direction": "Inbound",
            },
        }
        for i in range(20)
    ]  # fmt: skip
    status, _, body = await c.request(
        "PUT", f"{NSG}?{API}", {"location": "westus", "properties": {"securityRules": rules}}
    )
    assert status in (200, 201), body
    vnet = {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "app", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": NSG}}}
            ],
        },
    }
    assert (await c.request("PUT", f"{VNET}?{API}", vnet))[0] in (200, 201)
    nic = {
        "location": "westus",
        "properties": {
            "ipConfigurations": [
                {"name": "ip", "properties": {"privateIPAddress": "10.0.0.4", "subnet": {"id": f"{VNET}/subnets/app"}}}
            ]
        },
    }
    assert (await c.request("PUT", f"{NIC}?{API}", nic))[0] in (200, 201)
    assert (await c.request("PUT", f"{WATCHER}?{API}", {"location": "westus"}))[0] in (200, 201)
    c.close()


#: Verifies sent before the measured ones: the first resolves the NIC's policy and a later one compiles it (a NIC
#: asked about often; ``opennsg.engine.COMPILE_AFTER_VERIFIES``), one-off costs of each write version.
VERIFY_WARM_UP = 40


FLOW = {
    "targetResourceId": NIC, "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.0.4",
    "localPort": "1005", "remoteIPAddress": "10.5.1.1", "remotePort": "40000",
}  # fmt: skip


async def warm_up_verify(port: int) -> None:
    c = await Connection.open(port)
    for _ in range(VERIFY_WARM_UP):
        await c.request("POST", f"{WATCHER}/ipFlowVerify?{API}", FLOW)
    c.close()


async def flow_verify_latency(port: int, count: int) -> Result:
    """One client: POST ipFlowVerify (202), then GET the Location result, as the SDK's poller does."""
    c = await Connection.open(port)
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    for _ in range(count):
        errors += not await verify_once(c, latencies)
    elapsed = time.perf_counter() - began
    c.close()
    return Result(VERIFY, count, elapsed, latencies, errors)


async def verify_once(connection: Connection, latencies: list[float]) -> bool:
    """One ipFlowVerify POST and the GET of its result, its latency appended; whether it answered Allow as asked."""
    started = time.perf_counter()
    status, headers, _ = await connection.request("POST", f"{WATCHER}/ipFlowVerify?{API}", FLOW)
    result_status, _, body = await connection.request("GET", result_path(headers))
    latencies.append(time.perf_counter() - started)
    return status == 202 and result_status == 200 and json.loads(body).get("access") == "Allow"


def result_path(headers: dict[str, str]) -> str:
    location = headers.get("location", "")
    return "/" + location.split("/", 3)[3] if location.startswith("http") else location


async def concurrent_flow_verify(port: int, clients: int, seconds: float) -> Result:
    """``clients`` connections each POSTing ipFlowVerify and GETting its result back to back for ``seconds``; a
    request is one POST with its result GET (the rate is of verdicts delivered)."""
    connections = [await Connection.open(port) for _ in range(clients)]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def run(connection: Connection) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            errors += not await verify_once(connection, latencies)

    began = time.perf_counter()
    await asyncio.gather(*(run(c) for c in connections))
    elapsed = time.perf_counter() - began
    for connection in connections:
        connection.close()
    return Result(VERIFY_CONCURRENT, len(latencies), elapsed, latencies, errors)


async def measure(port: int, pid: int, clients: int, seconds: float) -> list[Result]:
    await seed(port)
    rule_path = f"{NSG}/securityRules/seed5?{API}"

    async def timed(phase: Any) -> Result:
        before, client_before = cpu_seconds(pid), time.process_time()
        result: Result = await phase
        result.server_cpu = cpu_seconds(pid) - before
        result.client_cpu = time.process_time() - client_before
        return result

    get = await timed(load(port, "GET rule", clients, seconds, lambda i, n: ("GET", rule_path, None, (200,))))

    def put(index: int, n: int) -> tuple[str, str, Any, tuple[int, ...]]:
        # each client rewrites its own rule with alternating ports: every request is a real, validated write
        body = {
            "properties": {
                "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": str(2000 + n % 1000), "access": "Allow",
                "priority": 1000 + index, "direction": "Inbound",
            }
        }  # fmt: skip
        return "PUT", f"{NSG}/securityRules/client{index}?{API}", body, (200, 201)

    put_result = await timed(load(port, "PUT rule", clients, seconds, put))
    await warm_up_verify(port)  # not measured (VERIFY_WARM_UP)
    verify = await timed(flow_verify_latency(port, 1000))
    concurrent = await timed(concurrent_flow_verify(port, clients, seconds))
    return [get, put_result, verify, concurrent]


def run_backend(name: str, db: str, clients: int, seconds: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start_server(db, Path(workdir))
        try:
            results = asyncio.run(measure(port, process.pid, clients, seconds))
        finally:
            process.terminate()
            process.wait(timeout=20)
    return [{"backend": name, **r.row()} for r in results]


def new_postgres_database(url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"opennsg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("OPENNSG_TEST_POSTGRES_URL"), help="PostgreSQL server URL")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as data:
        rows += run_backend("sqlite", str(Path(data) / "bench.db"), args.clients, args.seconds)
    if args.postgres:
        rows += run_backend("postgresql", new_postgres_database(args.postgres), args.clients, args.seconds)
    print(f"load average before the run: {load_before:.2f} on {os.cpu_count()} cores (client and server share them)")
    print(
        f"{'backend':<11} {'test':<38} {'requests':>9} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
        f" {'srv cpu ms':>10} {'per core/s':>10} {'client cpu ms':>13}"
    )
    for r in rows:
        print(
            f"{r['backend']:<11} {r['test']:<38} {r['requests']:>9} {r['per_s']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8}"
            f" {r['errors']:>6} {r['server_cpu_ms_per_request']:>10} {r['capacity_per_core_per_s']!s:>10}"
            f" {r['client_cpu_ms_per_request']:>13}"
        )
    verdicts: dict[str, bool] = {}
    rates = [
        ("sqlite", "GET rule", "get_per_s"),
        ("sqlite", "PUT rule", "put_per_s"),
        ("sqlite", VERIFY, "verify_per_s"),
        ("sqlite", VERIFY_CONCURRENT, "verify_per_s"),
        ("postgresql", "PUT rule", "postgres_put_per_s"),
    ]
    for backend, test, target in rates:
        row = next((r for r in rows if r["backend"] == backend and r["test"] == test), None)
        if row is None:
            continue
        goal = TARGETS[target]
        verdicts[f"{test} >= {goal:,.0f}/s ({backend}, measured)"] = row["per_s"] >= goal
        capacity = row["capacity_per_core_per_s"]
        verdicts[f"{test} >= {goal:,.0f}/s ({backend}, server capacity per core)"] = (capacity or 0) >= goal
    for test, limit in P99_TARGETS_MS.items():
        for row in (r for r in rows if r["backend"] == "sqlite" and r["test"] == test):
            verdicts[f"{test} p99 < {limit:g} ms (sqlite)"] = row["p99_ms"] < limit
    for target, met in verdicts.items():
        print(f"{'MET ' if met else 'MISSED'} {target}")
    print(json.dumps({"results": rows, "targets_met": verdicts}))


if __name__ == "__main__":
    main()
