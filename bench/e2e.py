"""What users feel, end to end, each as a whole process: ``python bench/e2e.py [--flows N] [--tuples N] [--check]
[--python VENV/bin/python]`` (the measured processes run that interpreter: e.g. a default install's).

1. ``opennsg verify NET --flows IN --output out.parquet``: Azure's limit of 1,000 rules per NSG on the subnet and on
   the NIC (``workloads.workload(500)``, a 10,240-prefix service tag), N flows (default 2 M) with string fields as
   Network Watcher names them, Zipf-repeated, as Parquet (dictionary-encoded), CSV and JSON lines. Next to each: the
   naive scan (``evaluate.decide`` per flow) and the compiled kernel alone on the same flows, in this process.
2. ``opennsg flowlogs replay``: N tuples (default 1 M) of VNet and of NSG v2 flow logs; next to it, ``json.loads`` of
   the same files (the floor of any reader that decodes the JSON in Python). Baselines and ratios are per CPU-second.
3. Cold start: one ``opennsg verify`` flow; ``opennsg serve`` until ``/healthz`` answers, on an empty database and
   with the 1,000-rule workload imported; next to them, ``python -c pass`` and ``import numpy, pyarrow``.

Every process is timed by wall clock and by CPU time (user + system, from ``wait4``), with its peak RSS: the machine
may be shared, and CPU time is what load does not inflate. The measured processes keep their bytecode in the run's
temporary directory (``PYTHONPYCACHEPREFIX``; an installed package has it from ``pip install``), compiled by a
warm-up run first: with ``PYTHONDONTWRITEBYTECODE`` set, as some environments do, every process would compile every
module from source (~0.1-0.15 CPU-s) and the figures would measure that. ``--source-every-time`` measures that way.
``--check`` exits 1 when a figure misses its goal (issue #15); the memory goals are a regression guard.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flowlogs_bench
from workloads import NIC_V4, NIC_V6, to_flows, workload, zipf_trace

from opennsg.arm.export import export_topology
from opennsg.engine import Engine
from opennsg.engine.compiled import FlowColumns
from opennsg.engine.evaluate import decide

SEED = 20261125
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "how-nsgs-filter-traffic.json"
PROTOCOL_TEXT = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6", 50: "ESP"}
#: Issue #15's goals: (figure, at least / at most, value).
GOALS = {
    "parquet_flows_s": (">=", 3_000_000),
    "parquet_rss_mb": ("<=", 300),
    "csv_flows_s": (">=", 1_000_000),
    "jsonl_flows_s": (">=", 1_000_000),
    "vnet_tuples_s": (">=", 2_000_000),
    "vnet_rss_mb": ("<=", 250),
    "nsg2_tuples_s": (">=", 2_000_000),
    "nsg2_rss_mb": ("<=", 250),
    "verify_one_s": ("<=", 0.4),
    "serve_empty_s": ("<=", 2.0),
    "serve_1000_rules_s": ("<=", 5.0),
}


@dataclass(frozen=True, slots=True)
class Run:
    wall: float
    cpu: float
    rss_mb: float
    stdout: str


#: The interpreter the measured processes run (``--python``: e.g. a default install's venv, without numba or pandas).
PYTHON = sys.executable
#: Where the measured processes keep their bytecode (None: as this environment says).
PYCACHE: Path | None = None


def opennsg(*args: str) -> list[str]:
    return [PYTHON, "-m", "opennsg", *args]


def installed(module: str) -> bool:
    """Whether the measured interpreter can import ``module`` (what the install under test holds)."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([PYTHON, "-c", probe], check=False).returncode == 0


def measured_environment() -> dict[str, str]:
    """This process's environment, with the measured processes' bytecode kept in ``PYCACHE`` when it is set."""
    env = dict(os.environ)
    if PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def measured(args: list[str], cwd: Path | None = None, cache: Path | Literal[False] | None = None) -> Run:
    """Run ``args`` from a fresh probe interpreter, whose only child it is: the probe's RUSAGE_CHILDREN is then the
    process's own CPU time and peak RSS. ``cache``: its ``OPENNSG_CACHE_DIR`` (compiled programs kept on disk),
    False for ``OPENNSG_NO_CACHE=1``, None for this process's environment."""
    env = measured_environment()
    if cache is not None:
        env.pop("OPENNSG_NO_CACHE", None)
        if cache is False:
            env["OPENNSG_NO_CACHE"] = "1"
        else:
            env["OPENNSG_CACHE_DIR"] = str(cache)
    probe = (
        "import os, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "out, err = p.communicate()\n"
        "wall = time.perf_counter() - t\n"
        "import resource\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime,"
        " 'rss': u.ru_maxrss / 1024, 'out': out.decode(), 'err': err.decode()[-4000:]}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=cwd, check=True, env=env
    )
    figures = json.loads(result.stdout)
    if figures["rc"] not in (0, 2):  # verify exits 2 when a row is bad; the benchmark's rows are all good
        raise RuntimeError(f"{' '.join(args)} exited {figures['rc']}: {figures['err']}")
    return Run(figures["wall"], figures["cpu"], figures["rss"], figures["out"])


# --- 1. flow files ---------------------------------------------------------------------------------------------


def _dotted(values: np.ndarray) -> list[str]:
    return [f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}" for a in values.tolist()]


def flow_table(cols: FlowColumns, nic_name: str) -> pa.Table:
    """The trace as IP flow verify rows, every field a string as Network Watcher names it."""
    n = len(cols)
    v6 = cols.remote_v6
    remote = np.empty(n, dtype=object)
    remote[~v6] = _dotted(cols.remote_low[~v6])
    high, low = cols.remote_high[v6].tolist(), cols.remote_low[v6].tolist()
    remote[v6] = [str(IPv6Address((h << 64) | lo)) for h, lo in zip(high, low, strict=True)]
    protocols = np.asarray([PROTOCOL_TEXT.get(p, str(p)) for p in range(256)], dtype=object)
    return pa.table(
        {
            "targetResourceId": pa.array(np.full(n, nic_name)),
            "direction": pa.array(np.where(cols.direction == 0, "Inbound", "Outbound")),
            "protocol": pa.array(protocols[cols.protocol].tolist()),
            "localIPAddress": pa.array(np.where(v6, NIC_V6, NIC_V4)),
            "localPort": pa.array(np.where(cols.local_port < 0, "*", cols.local_port.astype(str))),
            "remoteIPAddress": pa.array(remote.tolist()),
            "remotePort": pa.array(np.where(cols.remote_port < 0, "*", cols.remote_port.astype(str))),
        }
    )


def write_jsonl(table: pa.Table, path: Path) -> None:
    names = table.column_names
    columns = [table.column(n).to_pylist() for n in names]
    with path.open("w", encoding="utf-8") as out:
        for row in zip(*columns, strict=True):
            out.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")


def bench_flows(tmp: Path, n: int) -> dict[str, Any]:
    w = workload(500, SEED)
    tags = w.topology.service_tags
    assert tags is not None
    net, tags_file = tmp / "net.json", tmp / "tags.json"
    net.write_text(json.dumps(export_topology(w.topology)))
    tags_file.write_text(json.dumps(tags.to_json()))
    cols = zipf_trace(w.topology, n, SEED)
    nic = w.topology.nic(w.nic_id)
    assert nic is not None
    table = flow_table(cols, nic.name)
    files = {"parquet": tmp / "flows.parquet", "csv": tmp / "flows.csv", "jsonl": tmp / "flows.jsonl"}
    pq.write_table(table, files["parquet"])
    pacsv.write_csv(table, files["csv"])
    write_jsonl(table, files["jsonl"])
    distinct = len({tuple(r.values()) for r in table.slice(0, min(n, 200_000)).to_pylist()})

    # baselines, in this process: the compiled kernel alone, and the naive scan
    engine = Engine(w.topology, disk_cache=False)
    policy = engine.policy(w.nic_id)
    compiled = engine.classifier(w.nic_id)
    compiled.classify(cols.take(np.arange(min(n, 1000))))
    best = float("inf")
    for _ in range(2):  # CPU time, one thread: what machine load does not inflate (the numpy kernel is 1 thread)
        started = time.process_time()
        compiled.classify(cols, threads=1)
        best = min(best, time.process_time() - started)
    kernel = n / best
    sample = to_flows(cols, 2000)
    started = time.process_time()
    for flow in sample:
        decide(policy, flow)
    naive = len(sample) / (time.process_time() - started)

    warm_up = tmp / "warm-up.jsonl"  # every module the measured commands import, compiled to bytecode once
    write_jsonl(table.slice(0, 1), warm_up)
    measured(opennsg("verify", str(net), "--service-tags", str(tags_file), "--flows", str(warm_up), "--output",
                     str(tmp / "warm-up.parquet")), cache=False)  # fmt: skip
    out: dict[str, Any] = {"flows": n, "distinct_in_first_200k": distinct, "kernel_flows_s": kernel,
                           "naive_flows_s": naive, "numba": installed("numba"), "pandas": installed("pandas"),
                           "python": PYTHON}  # fmt: skip
    # the command's fixed start-up: a one-flow file, with the program and inputs cached (the best of three), the
    # command as the flows' runs below give it (--json: the summary as JSON, no console)
    start_up = min((measured(opennsg("verify", str(net), "--service-tags", str(tags_file), "--flows", str(warm_up),
                                     "--output", str(tmp / "one.parquet"), "--json"), cache=tmp / "cache-one")
                    for _ in range(3)), key=lambda run: run.cpu)  # fmt: skip
    out["start_up_wall_s"], out["start_up_cpu_s"] = start_up.wall, start_up.cpu
    reference: bytes | None = None
    for kind, path in files.items():
        # Each format: first with an empty cache directory (the compile is paid and the program stored), then
        # again with that directory (the stored program is read), then without any cache (OPENNSG_NO_CACHE).
        cache = tmp / f"cache-{kind}"
        states: tuple[tuple[str, Path | Literal[False]], ...] = (("cold", cache), ("warm", cache), ("uncached", False))
        for state, directory in states:
            target = tmp / f"verdicts-{kind}-{state}.parquet"
            r = measured(opennsg("verify", str(net), "--service-tags", str(tags_file), "--flows", str(path),
                                 "--output", str(target), "--json"), cache=directory)  # fmt: skip
            summary = json.loads(r.stdout)
            assert summary["flows"] == n and summary["errors"] == 0, summary
            produced = target.read_bytes()
            reference = reference or produced
            name = kind if state == "warm" else f"{kind}_{state}"
            out[name] = {"wall_s": r.wall, "cpu_s": r.cpu, "rss_mb": r.rss_mb, "same_output": produced == reference,
                         "input_mb": path.stat().st_size / 1e6}  # fmt: skip
            out[f"{name}_flows_s"] = n / r.wall
            out[f"{name}_rss_mb"] = r.rss_mb
    return out


# --- 2. flow-log replay ----------------------------------------------------------------------------------------


def bench_flowlogs(tmp: Path, tuples: int) -> dict[str, Any]:
    proposed = tmp / "proposed.json"
    proposed.write_text(json.dumps(flowlogs_bench.config(8, 100, drop_one=True)))
    out: dict[str, Any] = {}
    for fmt in ("vnet", "nsg2"):
        logs = tmp / f"logs-{fmt}"
        count = flowlogs_bench.write_logs(logs, tuples, 8, 100, fmt=fmt)
        files = sorted(logs.rglob("*.json"))
        started = time.process_time()
        for file in files:
            json.loads(file.read_bytes())
        floor = count / (time.process_time() - started)
        one = tmp / f"one-{fmt}"
        flowlogs_bench.write_logs(one, 3, 1, 1, fmt=fmt)  # one flow: the command's fixed start-up
        # the better of two: the first run of a config also loads and compiles it into the caches
        start_up = min((measured(opennsg("flowlogs", "replay", str(one), "--config", str(proposed), "--json"))
                        for _ in range(2)), key=lambda run: run.cpu)  # fmt: skip
        r = measured(opennsg("flowlogs", "replay", str(logs), "--config", str(proposed), "--json"))
        result = json.loads(r.stdout)
        assert result["totals"]["tuples"] == count, result["totals"]
        out[fmt] = {"tuples": count, "mb": sum(f.stat().st_size for f in files) / 1e6, "wall_s": r.wall,
                    "cpu_s": r.cpu, "rss_mb": r.rss_mb, "json_loads_tuples_s": floor,
                    "start_up_wall_s": start_up.wall, "start_up_cpu_s": start_up.cpu}  # fmt: skip
        out[f"{fmt}_tuples_s"] = count / r.wall
        out[f"{fmt}_rss_mb"] = r.rss_mb
    return out


# --- 3. cold start ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_until_healthy(tmp: Path, name: str, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the server) from starting ``opennsg serve`` to its first 200 from ``/healthz``
    (loopback only); ``bench/cold_start.py`` measures with this too."""
    port = free_port()
    db = tmp / f"{name}.db"
    args = opennsg("serve", "--db", str(db), "--port", str(port), *extra)
    started = time.perf_counter()
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp, env=measured_environment()
    )
    try:
        while time.perf_counter() - started < 120:
            if process.poll() is not None:
                raise RuntimeError(f"{name}: serve exited {process.returncode}: {process.communicate()[1][-2000:]!r}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started, process_cpu_seconds(process.pid)
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"{name}: /healthz did not answer within 120 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_cold(tmp: Path) -> dict[str, Any]:
    def best(args: list[str]) -> Run:
        return min((measured(args, cwd=tmp) for _ in range(3)), key=lambda r: r.wall)

    python = best([PYTHON, "-c", "pass"])
    imports = best([PYTHON, "-c", "import numpy, pyarrow"])
    one = best(opennsg("verify", str(EXAMPLE), "--nic", "VM1", "--direction", "Inbound", "--protocol", "TCP",
                       "--local", "10.0.1.4:22", "--remote", "52.10.20.30:50000"))  # fmt: skip
    out: dict[str, Any] = {"python_s": python.wall, "numpy_pyarrow_s": imports.wall, "verify_one_s": one.wall,
                           "verify_one_cpu_s": one.cpu}  # fmt: skip
    out["serve_empty_s"] = min(serve_until_healthy(tmp, f"empty{k}")[0] for k in range(2))
    rules = ("--import", str(tmp / "net.json"), "--service-tags", str(tmp / "tags.json"))
    out["serve_1000_rules_s"] = min(serve_until_healthy(tmp, f"rules{k}", *rules)[0] for k in range(2))
    return out


# --- report ------------------------------------------------------------------------------------------------------


def _flat(results: dict[str, Any]) -> dict[str, float]:
    flat: dict[str, float] = {}
    for part in results.values():
        if isinstance(part, dict):
            flat.update({k: v for k, v in part.items() if isinstance(v, int | float) and not isinstance(v, bool)})
    return flat


def report(results: dict[str, Any]) -> list[str]:
    """Print the figures with their baselines and goals; return the goals missed."""
    f = results.get("flows")
    if f:
        print(f"verify --flows: {f['flows']:,} flows (distinct among the first 200k: {f['distinct_in_first_200k']:,}), "
              f"1,000 rules per NSG on subnet and NIC; measured install ({f['python']}): numba {f['numba']}, "
              f"pandas {f['pandas']}")  # fmt: skip
        print(f"  baselines in this process, per CPU-second: kernel alone {f['kernel_flows_s'] / 1e6:.2f} M flows, "
              f"naive scan {f['naive_flows_s']:,.0f} flows")  # fmt: skip
        print("  (warm: the compiled program read from the cache directory a first, cold run stored; uncached: "
              "OPENNSG_NO_CACHE=1)")  # fmt: skip
        print(f"  start-up (a one-flow file, warm): {f['start_up_wall_s']:.2f} s wall, {f['start_up_cpu_s']:.2f} CPU-s")
        for kind in [f"{k}{s}" for k in ("parquet", "csv", "jsonl") for s in ("_cold", "", "_uncached")]:
            k = f[kind]
            rate = f[f"{kind}_flows_s"]
            per_cpu = f["flows"] / k["cpu_s"]
            naive, kernel = per_cpu / f["naive_flows_s"], per_cpu / f["kernel_flows_s"]
            label = kind if "_" in kind else f"{kind}_warm"
            beyond = f["flows"] / max(k["cpu_s"] - f["start_up_cpu_s"], 1e-9) / 1e6
            print(f"  {label:16s} {k['input_mb']:4.0f} MB  wall {k['wall_s']:5.2f} s = {rate / 1e6:4.2f} M flows/s; "
                  f"CPU {k['cpu_s']:5.2f} s = {per_cpu / 1e6:4.2f} M flows per CPU-s (× naive {naive:,.0f}, "
                  f"÷ kernel alone {kernel:.2f}; beyond start-up {beyond:4.2f} M per CPU-s); peak RSS "
                  f"{k['rss_mb']:3.0f} MB; same output: {k['same_output']}")  # fmt: skip
    g = results.get("flowlogs", {})
    for fmt in ("vnet", "nsg2") if g else ():
        k = g[fmt]
        rate = g[f"{fmt}_tuples_s"]
        per_cpu = k["tuples"] / k["cpu_s"] / 1e6
        floor = per_cpu * 1e6 / k["json_loads_tuples_s"]
        beyond = k["tuples"] / max(k["cpu_s"] - k["start_up_cpu_s"], 1e-9) / 1e6
        print(f"flowlogs replay {fmt:4s}: {k['tuples']:,} tuples, {k['mb']:.0f} MB  wall {k['wall_s']:5.2f} s = "
              f"{rate / 1e6:4.2f} M tuples/s (CPU {k['cpu_s']:5.2f} s = {per_cpu:4.2f} M per CPU-s)  "
              f"÷ json.loads alone {floor:.2f}; peak RSS {k['rss_mb']:4.0f} MB; start-up (a one-flow log) "
              f"{k['start_up_wall_s']:.2f} s wall, {k['start_up_cpu_s']:.2f} CPU-s, beyond it {beyond:4.2f} M tuples "
              f"per CPU-s")  # fmt: skip
    if "cold" in results:
        c = results["cold"]
        print(f"cold start: verify one flow {c['verify_one_s']:.2f} s (CPU {c['verify_one_cpu_s']:.2f} s; python "
              f"alone {c['python_s']:.2f} s, import numpy+pyarrow {c['numpy_pyarrow_s']:.2f} s); serve → /healthz "
              f"{c['serve_empty_s']:.2f} s empty, {c['serve_1000_rules_s']:.2f} s with 1,000 rules a NSG")  # fmt: skip
    flat = _flat(results)
    missed = []
    for name, (op, goal) in GOALS.items():
        if name not in flat:
            continue
        ok = flat[name] >= goal if op == ">=" else flat[name] <= goal
        if not ok:
            missed.append(f"{name} = {flat[name]:,.2f} (goal {op} {goal:,})")
    print("goals missed: " + ("; ".join(missed) if missed else "none"))
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=2_000_000)
    parser.add_argument("--tuples", type=int, default=1_000_000)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start figures")
    parser.add_argument("--no-flowlogs", action="store_true", help="skip the flow-log replay figures")
    parser.add_argument("--no-flows", action="store_true", help="skip the verify --flows figures")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--python", default=sys.executable, help="the interpreter of the measured processes")
    parser.add_argument(
        "--source-every-time",
        action="store_true",
        help="keep this environment's bytecode settings (PYTHONDONTWRITEBYTECODE: every run compiles its modules)",
    )
    args = parser.parse_args()
    global PYTHON, PYCACHE
    PYTHON = args.python
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        PYCACHE = None if args.source_every_time else tmp / "pycache"
        results: dict[str, Any] = {} if args.no_flows else {"flows": bench_flows(tmp, args.flows)}
        if not args.no_flowlogs:
            results["flowlogs"] = bench_flowlogs(tmp, args.tuples)
        if not args.no_cold:
            results["cold"] = bench_cold(tmp)
    missed = report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
