"""Benchmark of real enforcement (issue 17): needs root with nftables, iproute2 and conntrack.

    python bench/enforce.py [--rules 1000] [--nics 20] [--seconds 3] [--rounds 3]

1. Compile and apply (one ``nft -j -f`` transaction) the chain of a NIC whose subnet NSG and NIC NSG hold ``--rules``
   rules each (Azure's limit: 1,000), augmented rules with several prefixes and port ranges among them; goal
   apply <= 200 ms. Baseline in the same run: applying the ruleset of a NIC with no NSG.
2. ``lab up`` of ``--nics`` NICs (two NSG layers of 50 rules each), goal <= 10 s; baseline: adding and deleting as
   many bare namespaces.
3. TCP connections per second (connect, then close) from one NIC to a server NIC enforcing the two 1,000-rule
   layers with the admitting rule last, against the same server with no ruleset at all; alternating rounds, medians;
   goal >= 80 % of unfiltered. Client and server run inside their namespaces (asyncio, 64 concurrent connects).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from random import Random

from opennsg.enforce.apply import apply_ruleset
from opennsg.enforce.compile import compile_policy
from opennsg.enforce.kernel import in_netns, run
from opennsg.enforce.lab import lab_down, lab_up
from opennsg.engine import Engine
from opennsg.model import (
    Access,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    default_security_rules,
)
from opennsg.model.ids import network_id

SUB = "00000000-0000-0000-0000-0000000be17c"
GOALS = {"apply_ms": 200.0, "lab_up_s": 10.0, "tcp_ratio": 0.80}
SERVER_PORT = 8080


def rid(*parts: str) -> str:
    return network_id(SUB, "bench", *parts)


def nsg_with(name: str, count: int, seed: int) -> NetworkSecurityGroup:
    """``count`` rules that never admit the benchmark's traffic, then (last) the one that does."""
    rng = Random(seed)
    nsg_id = rid("networkSecurityGroups", name)
    rules = []
    for i in range(count - 1):
        prefixes = tuple(f"172.{16 + rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(256)}/32"
                         for _ in range(rng.choice((1, 1, 3, 8))))  # fmt: skip
        ports = tuple(str(p) for p in rng.sample(range(1, 8000), rng.choice((1, 2))))
        rules.append(
            SecurityRule(
                name=f"r{i}",
                priority=100 + i,
                direction=Direction.INBOUND if i % 2 == 0 else Direction.OUTBOUND,
                access=rng.choice((Access.DENY, Access.ALLOW)),
                protocol=rng.choice((Protocol.TCP, Protocol.UDP, Protocol.ANY)),
                source_address_prefixes=prefixes,
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_ranges=ports,
                id=f"{nsg_id}/securityRules/r{i}",
            )
        )
    rules.append(
        SecurityRule(
            name="admit",
            priority=100 + count,
            direction=Direction.INBOUND,
            access=Access.ALLOW,
            protocol=Protocol.TCP,
            source_address_prefix="VirtualNetwork",
            source_port_range="*",
            destination_address_prefix="*",
            destination_port_range=str(SERVER_PORT),
            id=f"{nsg_id}/securityRules/admit",
        )
    )
    return NetworkSecurityGroup(nsg_id, name, "westus", {}, tuple(rules), default_security_rules(nsg_id))


def topology(nics: int, rules: int, filtered: set[int] | None = None) -> Topology:
    """One VNet; NIC i (1-based) in subnet ``enforced`` (both layers) unless ``filtered`` excludes it."""
    subnet_nsg, nic_nsg = nsg_with("subnet", rules, 1), nsg_with("nic", rules, 2)
    vnet_id = rid("virtualNetworks", "vnet")
    enforced = Subnet(f"{vnet_id}/subnets/enforced", "enforced", ("10.8.0.0/17",), subnet_nsg.id)
    plain = Subnet(f"{vnet_id}/subnets/plain", "plain", ("10.8.128.0/17",))
    vnet = VirtualNetwork(vnet_id, "vnet", "westus", {}, ("10.8.0.0/16",), (enforced, plain))
    interfaces = []
    for i in range(1, nics + 1):
        on = filtered is None or i in filtered
        subnet = enforced if on else plain
        address = f"10.8.{0 if on else 128}.{i + 3}"
        nic_id = rid("networkInterfaces", f"nic{i}")
        configs = (IpConfiguration(f"{nic_id}/ipConfigurations/ip", "ip", address, subnet.id, primary=True),)
        interfaces.append(NetworkInterface(nic_id, f"nic{i}", "westus", {}, configs, nic_nsg.id if on else None))
    return Topology.of(nsgs=[subnet_nsg, nic_nsg], vnets=[vnet], nics=interfaces)


def bench_apply(rules: int, repeats: int) -> dict[str, float]:
    world = topology(1, rules)
    engine = Engine(world)
    started, cpu = time.perf_counter(), time.process_time()
    ruleset = compile_policy(engine.policy("nic1"))
    compile_ms = (time.perf_counter() - started) * 1000
    compile_cpu_ms = (time.process_time() - cpu) * 1000
    bare = compile_policy(Engine(topology(1, rules, filtered=set())).policy("nic1"))
    netns = f"benchapply{os.getpid() % 10000}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        times, baseline, nft_cpu = [], [], []
        for _ in range(repeats):
            started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            apply_ruleset(ruleset, netns)
            times.append((time.perf_counter() - started) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            nft_cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
            started = time.perf_counter()
            apply_ruleset(bare, netns)
            baseline.append((time.perf_counter() - started) * 1000)
    finally:
        subprocess.run(["ip", "netns", "delete", netns], check=False)
    return {
        "nft_rules": ruleset.rule_count,
        "compile_ms": compile_ms,
        "compile_cpu_ms": compile_cpu_ms,
        "apply_ms": statistics.median(times),
        "apply_cpu_ms": statistics.median(nft_cpu),
        "baseline_apply_ms": statistics.median(baseline),
    }


def bench_lab_up(nics: int) -> dict[str, float]:
    world = topology(nics, 50)
    name = f"bl{os.getpid() % 10000}"
    started = time.perf_counter()
    lab_up([], name, world, collect=False)
    up_s = time.perf_counter() - started
    lab_down(name)
    names = [f"bb{os.getpid() % 1000}x{i}" for i in range(nics + 2)]
    started = time.perf_counter()
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns add {n}\n" for n in names), text=True, check=True)
    subprocess.run(["ip", "-batch", "-"], input="".join(f"netns delete {n}\n" for n in names), text=True, check=True)
    return {"lab_up_s": up_s, "baseline_bare_namespaces_s": time.perf_counter() - started}


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    async def main():
        async def handle(reader, writer):
            writer.close()
        server = await asyncio.start_server(handle, "0.0.0.0", int(sys.argv[1]), backlog=4096)
        print("ready", flush=True)
        await server.serve_forever()
    asyncio.run(main())
    """
)
CLIENT = textwrap.dedent(
    """
    import asyncio, sys, time
    async def main(host, port, seconds, concurrency):
        done = 0
        end = time.monotonic() + seconds
        async def worker():
            nonlocal done
            while time.monotonic() < end:
                reader, writer = await asyncio.open_connection(host, port)
                writer.close()
                await writer.wait_closed()
                done += 1
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(done / seconds)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
    """
)


def bench_tcp(rules: int, seconds: float, rounds: int) -> dict[str, float]:
    world = topology(3, rules, filtered={3})  # nic1: the client, nic2: a server with no rules, nic3: enforced
    name = f"bt{os.getpid() % 10000}"
    lab = lab_up([], name, world, collect=False)
    servers: list[subprocess.Popen[str]] = []
    try:
        by_name = {n.name: n for n in lab.plan.nics}
        for unfiltered in ("nic1", "nic2"):  # no ruleset at all: the path under test is the server's alone
            run(by_name[unfiltered].netns, ["nft", "delete", "table", "inet", "opennsg"])
        with tempfile.TemporaryDirectory() as scratch:
            server_py, client_py = Path(scratch, "server.py"), Path(scratch, "client.py")
            server_py.write_text(SERVER)
            client_py.write_text(CLIENT)
            for target in ("nic2", "nic3"):
                process = subprocess.Popen(
                    in_netns(by_name[target].netns, [sys.executable, str(server_py), str(SERVER_PORT)]),
                    stdout=subprocess.PIPE, text=True,
                )  # fmt: skip
                servers.append(process)
                assert process.stdout is not None and process.stdout.readline().strip() == "ready"
            rates: dict[str, list[float]] = {"nic2": [], "nic3": []}
            for _ in range(rounds):
                for target in ("nic3", "nic2"):
                    argv = [sys.executable, str(client_py), by_name[target].addresses[0], str(SERVER_PORT),
                            str(seconds), "64"]  # fmt: skip
                    out = subprocess.run(in_netns(by_name["nic1"].netns, argv), capture_output=True, text=True)
                    rates[target].append(float(out.stdout.strip() or 0))
    finally:
        for process in servers:
            process.kill()
        lab_down(name)
    enforced, unfiltered = statistics.median(rates["nic3"]), statistics.median(rates["nic2"])
    return {"enforced_conn_per_s": enforced, "unfiltered_conn_per_s": unfiltered, "tcp_ratio": enforced / unfiltered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--nics", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/enforce.py needs root (network namespaces and nftables)")
    os.environ.setdefault("OPENNSG_LAB_DIR", tempfile.mkdtemp(prefix="opennsg-bench-labs-"))
    results = {
        **bench_apply(args.rules, 5),
        **bench_lab_up(args.nics),
        **bench_tcp(args.rules, args.seconds, args.rounds),
    }
    results["load_average_1min"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"(load average {results['load_average_1min']:.1f} on {os.cpu_count()} CPUs)")

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    apply_ms, lab_s, ratio = results["apply_ms"], results["lab_up_s"], results["tcp_ratio"]
    print(f"apply, {args.rules}-rule subnet NSG + {args.rules}-rule NIC NSG ({results['nft_rules']:.0f} nft rules):")
    apply_cpu = results["apply_cpu_ms"]
    print(f"  compile {results['compile_ms']:.1f} ms (CPU {results['compile_cpu_ms']:.1f} ms)")
    print(f"  apply {apply_ms:.1f} ms wall, {apply_cpu:.1f} ms CPU of nft and the kernel (wall grows with load)")
    goal = GOALS["apply_ms"]
    print(f"  goal <= {goal:.0f} ms: wall {verdict(apply_ms <= goal)}, CPU {verdict(apply_cpu <= goal)}")
    print(f"  baseline (no NSG) {results['baseline_apply_ms']:.1f} ms: x{apply_ms / results['baseline_apply_ms']:.1f}")
    print(f"lab up, {args.nics} NICs: {lab_s:.2f} s, goal <= {GOALS['lab_up_s']:.0f} s: {verdict(lab_s <= 10)}")
    bare_s = results["baseline_bare_namespaces_s"]
    print(f"  baseline: {args.nics + 2} bare namespaces added and deleted in {bare_s:.2f} s")
    print(f"TCP connections/s: enforced {results['enforced_conn_per_s']:.0f}, "
          f"unfiltered {results['unfiltered_conn_per_s']:.0f}: {ratio:.0%}")  # fmt: skip
    print(f"  goal >= {GOALS['tcp_ratio']:.0%}: {verdict(ratio >= GOALS['tcp_ratio'])}")


if __name__ == "__main__":
    main()
