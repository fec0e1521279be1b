"""Benchmark of `opennsg serve`: GET and rule-PUT throughput with p50/p99 latency under 32 concurrent clients, on
SQLite and (when a URL is given) PostgreSQL, plus IP flow verify from one client (latency) and from 32 (throughput).

    python bench/api_bench.py [--postgres postgresql://user@host:port/db] [--seconds 10] [--clients 32]
    python bench/api_bench.py --compare REF [--rounds 3] [--phases verify,verify32] [--seconds 5]

Starts `opennsg serve` as a subprocess on a loopback port (plain HTTP, bearer token) and drives it with a minimal
keep-alive HTTP/1.1 client on a bare asyncio protocol, so the load generator costs less CPU than the server it
measures (both share this machine; the client's CPU per request is printed beside the server's). Targets (issue
15): on SQLite >= 10,000 GET/s, >= 1,000 rule PUTs/s with p99 < 50 ms, >= 1,000 ipFlowVerify/s with p99 < 20 ms
(an ipFlowVerify is its POST and the GET of its result, as the SDK's poller sends them); on PostgreSQL >= 600 rule
PUTs/s. Each rate is judged twice: as measured (wall clock, which a loaded machine drags down) and as the server's
capacity per core (requests / server CPU seconds). Each phase runs for ``--seconds``; a verify phase comes after
unmeasured verifies (``VERIFY_WARM_UP``).

``--compare REF`` measures the code of a git ref (its ``src`` from ``git archive``) against this tree's, on SQLite:
two servers started side by side, each seeded alike, then the phases run ``--rounds`` times on each, interleaved
(before, after, after, before, ...: a machine's slow phase drags both alike); it prints every round and each side's
median, and the ratio after / before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

SUB = "00000000-0000-0000-0000-0000000000be"
TOKEN = "bench-token"
API = "api-version=2024-05-01"
GROUP = f"/subscriptions/{SUB}/resourceGroups/bench"
NSG = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg1"
WATCHER = f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw"
NIC = f"{GROUP}/providers/Microsoft.Network/networkInterfaces/nic1"
VNET = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/vnet1"
T = TypeVar("T")
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
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are no asyncio.Transport

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


def run_client(main: Coroutine[Any, Any, T]) -> T:
    """Run the load generator on uvloop when it is installed (uvicorn serves on it then too): the client shares the
    machine's cores with the server it measures, and asyncio's own loop costs it more CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(db: str, workdir: Path, source: Path | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """``opennsg serve`` on a free port, of the code in ``source`` (a ``src`` directory) or else as installed.

    A port ``free_port`` found may be taken by another process (a test suite starting servers) before the server,
    a second or so of imports later, binds it: then the server exits, or a connection reaches the other process's
    listener. So the server must answer a token only this start knows, and a server that exits is started again on
    another port."""
    log = workdir / "serve.log"
    for _ in range(5):
        probe = uuid.uuid4().hex
        tokens = workdir / "tokens.json"
        tokens.write_text(json.dumps({TOKEN: ["*"], probe: ["*"]}))
        port = free_port()
        entry = "from opennsg.cli.main import app; app()"
        command = [sys.executable, "-c", entry, "serve", "--port", str(port), "--db", db, "--tokens", str(tokens)]
        env = {**os.environ, "PYTHONPATH": str(source)} if source is not None else None
        with log.open("ab") as errors:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if answers_probe(port, probe):
                return process, port
            time.sleep(0.1)
        if process.poll() is None:
            process.kill()
            break
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"server did not start; its log ends:\n{tail}")


def answers_probe(port: int, probe: str) -> bool:
    """Whether the server on ``port`` accepts the token ``probe`` (a 404 for a resource group that is not there;
    another server answers 401, or nothing)."""
    request = (
        f"GET /subscriptions/{SUB}/resourcegroups/probe?{API} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {probe}\r\n"
    )
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(request.encode() + b"Connection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 404")
    except OSError:
        return False


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


async def flow_verify_latency(port: int, seconds: float) -> Result:
    """One client for ``seconds``: POST ipFlowVerify (202), then GET the Location result, as the SDK's poller does."""
    c = await Connection.open(port)
    latencies: list[float] = []
    errors = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        errors += not await verify_once(c, latencies)
    elapsed = time.perf_counter() - began
    c.close()
    return Result(VERIFY, len(latencies), elapsed, latencies, errors)


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


async def timed(pid: int, phase: Any) -> Result:
    """A phase's result with the server's and this process's CPU time over it."""
    before, client_before = cpu_seconds(pid), time.process_time()
    result: Result = await phase
    result.server_cpu = cpu_seconds(pid) - before
    result.client_cpu = time.process_time() - client_before
    return result


#: The phases, in the order they run: GET, rule PUT, ipFlowVerify from one client, from ``--clients``.
PHASES = ("get", "put", "verify", "verify32")


async def run_phase(name: str, port: int, pid: int, clients: int, seconds: float) -> Result:
    rule_path = f"{NSG}/securityRules/seed5?{API}"

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

    if name == "get":
        return await timed(pid, load(port, "GET rule", clients, seconds, lambda i, n: ("GET", rule_path, None, (200,))))
    if name == "put":
        return await timed(pid, load(port, "PUT rule", clients, seconds, put))
    await warm_up_verify(port)  # not measured (VERIFY_WARM_UP): a write since the last verify resolves anew
    if name == "verify":
        return await timed(pid, flow_verify_latency(port, seconds))
    return await timed(pid, concurrent_flow_verify(port, clients, seconds))


async def measure(port: int, pid: int, clients: int, seconds: float) -> list[Result]:
    await seed(port)
    return [await run_phase(name, port, pid, clients, seconds) for name in PHASES]


def run_backend(name: str, db: str, clients: int, seconds: float) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start_server(db, Path(workdir))
        try:
            results = run_client(measure(port, process.pid, clients, seconds))
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


def source_of(ref: str, into: Path) -> Path:
    """The ``src`` directory of a git ref of this repository, extracted into ``into``."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


async def interleaved(
    sides: dict[str, tuple[int, int]], phases: list[str], rounds: int, clients: int, seconds: float
) -> dict[str, dict[str, list[Result]]]:
    """Every phase ``rounds`` times on each side's server (port, pid), the sides' order reversed each round."""
    for port, _ in sides.values():
        await seed(port)
    results: dict[str, dict[str, list[Result]]] = {side: {phase: [] for phase in phases} for side in sides}
    order = list(sides)
    for round_ in range(rounds):
        for phase in phases:
            for side in order if round_ % 2 == 0 else order[::-1]:
                port, pid = sides[side]
                results[side][phase].append(await run_phase(phase, port, pid, clients, seconds))
    return results


def compare(ref: str, phases: list[str], rounds: int, clients: int, seconds: float) -> None:
    """``--compare``: the ref's code (before) against this tree's (after), on SQLite, interleaved."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        sources = {
            f"before ({ref})": source_of(ref, work),
            "after (this tree)": Path(__file__).resolve().parents[1] / "src",
        }
        servers: dict[str, subprocess.Popen[bytes]] = {}
        sides: dict[str, tuple[int, int]] = {}
        try:
            for index, (side, source) in enumerate(sources.items()):
                (work / str(index)).mkdir()
                process, port = start_server(str(work / str(index) / "bench.db"), work / str(index), source)
                servers[side] = process
                sides[side] = (port, process.pid)
            results = run_client(interleaved(sides, phases, rounds, clients, seconds))
        finally:
            for process in servers.values():
                process.terminate()
                process.wait(timeout=20)
    print(f"load average before the run: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'test':<38} {'side':<24} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'srv cpu ms':>10} {'errors':>6}")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for phase in phases:
        for side in sides:
            for result in results[side][phase]:
                r = result.row()
                print(
                    f"{r['test']:<38} {side:<24} {r['per_s']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8}"
                    f" {r['server_cpu_ms_per_request']:>10} {r['errors']:>6}"
                )
        for side in sides:
            rows = [result.row() for result in results[side][phase]]
            summary.setdefault(phase, {})[side] = {
                key: statistics.median(row[key] for row in rows)
                for key in ("per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
            }
        before, after = (summary[phase][side] for side in sides)
        name = results[next(iter(sides))][phase][0].name
        print(
            f"{name:<38} {'median after / before':<24} {after['per_s'] / before['per_s']:>9.2f}"
            f" {after['p50_ms'] / before['p50_ms']:>8.2f} {after['p99_ms'] / before['p99_ms']:>8.2f}"
            f" {after['server_cpu_ms_per_request'] / before['server_cpu_ms_per_request']:>10.2f}"
        )
    print(json.dumps({"compare": ref, "rounds": rounds, "seconds": seconds, "medians": summary}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("OPENNSG_TEST_POSTGRES_URL"), help="PostgreSQL server URL")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--compare", metavar="REF", help="measure this git ref's code against this tree's")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare: runs of each phase on each side")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"with --compare: comma-separated, of {', '.join(PHASES)}"
    )
    args = parser.parse_args()
    if args.compare:
        phases = args.phases.split(",")
        unknown = set(phases) - set(PHASES)
        if unknown:
            parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
        compare(args.compare, phases, args.rounds, args.clients, args.seconds)
        return
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
