"""OpenNSG compiled-classifier benchmark: ``python bench/run.py [--quick] [--stress] [--json FILE]``.

Per workload (10, 100 and 500 rules per direction, and 1,000 inbound: at most Azure's 1,000 rules per NSG; subnet
and NIC NSG; a 10,240-prefix service tag; augmented rules up to Azure's 4,000 prefixes per side) and per trace
(uniform, rule-hitting, Zipf; IPv4 and IPv6): compile time, compiled memory, single-flow p50/p99, batch flows/s on
1 and 2 threads, each next to the naive reference (``evaluate.decide``, a linear scan over rule objects) measured
in the same run. Then Parquet end to end. ``--stress`` adds 1,000 rules per direction (beyond Azure's limit).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import (
    NIC_V4,
    NIC_V6,
    rule_hitting_trace,
    to_flows,
    uniform_trace,
    workload,
    zipf_trace,
)

from opennsg.batch import verify_flows_file
from opennsg.engine import Engine
from opennsg.engine.compiled import FlowColumns, compile_policy, numba_available
from opennsg.engine.evaluate import decide
from opennsg.engine.ir import NicPolicy
from opennsg.model import Access, SecurityRule

SEED = 20261125


def _percentiles_us(samples_ns: list[int]) -> tuple[float, float, float]:
    arr = np.asarray(samples_ns, dtype=np.float64) / 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99)), float(arr.mean())


def _single(fn: Any, flows: list[Any]) -> tuple[float, float, float]:
    for f in flows[:200]:
        fn(f)
    samples: list[int] = []
    clock = time.perf_counter_ns
    for f in flows:
        t0 = clock()
        fn(f)
        samples.append(clock() - t0)
    return _percentiles_us(samples)


def _batch_rate(compiled: Any, cols: FlowColumns, threads: int, repeats: int) -> float:
    compiled.classify(cols.take(np.arange(min(len(cols), 1000))), threads=threads)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        compiled.classify(cols, threads=threads)
        best = min(best, time.perf_counter() - t0)
    return len(cols) / best


def _recompile_ms(policy: NicPolicy) -> float:
    """Change one rule (its access) of the NIC NSG and compile the changed policy."""
    nsg = policy.nic_nsg
    assert nsg is not None
    first = nsg.inbound[0]
    flipped = Access.DENY if first.access is Access.ALLOW else Access.ALLOW
    rule: SecurityRule = replace(first.rule, access=flipped)
    changed = replace(policy, nic_nsg=replace(nsg, inbound=(replace(first, rule=rule), *nsg.inbound[1:])))
    t0 = time.perf_counter()
    compile_policy(changed)
    return (time.perf_counter() - t0) * 1000


def bench_workload(rules: int, quick: bool, outbound: int | None = None) -> dict[str, Any]:
    w = workload(rules, SEED, outbound)
    t0 = time.perf_counter()
    policy = Engine(w.topology).policy(w.nic_id)
    resolve_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = compile_policy(policy)
    compile_s = time.perf_counter() - t0
    n_batch = 200_000 if quick else 2_000_000
    n_single = 2_000 if quick else 20_000
    n_naive = 300 if quick else 2_000
    traces = {
        "uniform": uniform_trace(n_batch, SEED),
        "rule-hitting": rule_hitting_trace(w.topology, n_batch, SEED),
        "zipf": zipf_trace(w.topology, n_batch, SEED),
    }
    out: dict[str, Any] = {
        "workload": w.name,
        "rules_per_direction": rules,
        "augmented_prefixes": w.augmented_prefixes,
        "resolve_s": resolve_s,
        "compile_s": compile_s,
        "recompile_one_rule_ms": _recompile_ms(policy),
        "compiled_mb": compiled.nbytes / 1e6,
        "traces": {},
    }
    for name, cols in traces.items():
        flows = to_flows(cols, n_single)
        disagreements = sum(  # the compiled path must agree with the reference on the benchmark too
            (g.access, g.rule_name, g.nsg_id) != (e.access, e.rule_name, e.nsg_id)
            for g, e in ((compiled.decide(f), decide(policy, f)) for f in flows[:n_naive])
        )
        p50, p99, _ = _single(compiled.decide, flows)
        n50, n99, naive_mean = _single(lambda f: decide(policy, f), flows[:n_naive])
        naive_rate = 1e6 / naive_mean
        repeats = 2 if quick else 3
        rate1 = _batch_rate(compiled, cols, 1, repeats)
        rate2 = _batch_rate(compiled, cols, 2, repeats)
        out["traces"][name] = {
            "flows": len(cols),
            "disagreements_with_decide": disagreements,
            "v6_share": float(cols.remote_v6.mean()),
            "single_p50_us": p50,
            "single_p99_us": p99,
            "naive_p50_us": n50,
            "naive_p99_us": n99,
            "single_speedup_p50": n50 / p50,
            "batch_1t_flows_s": rate1,
            "batch_2t_flows_s": rate2,
            "naive_flows_s": naive_rate,
            "batch_1t_vs_naive": rate1 / naive_rate,
            "batch_2t_vs_naive": rate2 / naive_rate,
        }
    return out


def bench_parquet(quick: bool) -> dict[str, Any]:
    """2 M (quick: 200 k) flows as IP-flow-verify string rows in Parquet → Parquet verdicts, end to end."""
    w = workload(500, SEED)  # 1,000 rules per NSG: Azure's limit
    n = 200_000 if quick else 2_000_000
    cols = uniform_trace(n, SEED + 5)
    g = np.random.default_rng(SEED)
    v4_remote = np.asarray(
        [f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}" for a in g.integers(1 << 24, 223 << 24, 65_536)]
    )
    v6_remote = np.asarray([f"2603:10{i % 100:02d}::{i:x}" for i in range(4096)])
    pick4 = g.integers(0, v4_remote.size, n)
    pick6 = g.integers(0, v6_remote.size, n)
    v6 = cols.remote_v6
    table = pa.table(
        {
            "targetResourceId": pa.array(np.full(n, w.topology.nic(w.nic_id).name)),  # type: ignore[union-attr]
            "direction": pa.array(np.where(cols.direction == 0, "Inbound", "Outbound")),
            "protocol": pa.array(np.where(cols.protocol == 6, "TCP", cols.protocol.astype(str))),
            "localIPAddress": pa.array(np.where(v6, NIC_V6, NIC_V4)),
            "localPort": pa.array(np.where(cols.local_port < 0, "*", cols.local_port.astype(str))),
            "remoteIPAddress": pa.array(np.where(v6, v6_remote[pick6], v4_remote[pick4])),
            "remotePort": pa.array(np.where(cols.remote_port < 0, "*", cols.remote_port.astype(str))),
        }
    )
    engine = Engine(w.topology, disk_cache=False)  # in this process: compiled once, kept in memory
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp, "flows.parquet"), Path(tmp, "verdicts.parquet")
        pq.write_table(table, source)
        verify_flows_file(w.topology, source, target, progress=False, engine=engine)  # warm: resolve, compile
        t0 = time.perf_counter()
        summary = verify_flows_file(w.topology, source, target, progress=False, engine=engine)
        seconds = time.perf_counter() - t0
    return {"flows": n, "seconds": seconds, "flows_s": n / seconds, "errors": summary.errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller traces (finishes in under a minute)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--stress", action="store_true", help="also the 1,000-rules-per-direction workload (beyond Azure's limit)"
    )
    args = parser.parse_args()
    console = Console(width=160)
    results: dict[str, Any] = {"quick": args.quick, "numba": numba_available(), "workloads": []}
    # Azure allows 1,000 rules per NSG: 500 per direction, or all 1,000 in one; the last is a labelled stress case.
    shapes: list[tuple[int, int | None]] = [(10, None), (100, None), (500, None), (1000, 0)]
    if args.stress:
        shapes.append((1000, None))
    for rules, outbound in shapes:
        label = f"{rules} inbound / {rules if outbound is None else outbound} outbound rules per NSG"
        console.print(f"[bold]workload: {label}[/]")
        results["workloads"].append(bench_workload(rules, args.quick, outbound))
    results["parquet_end_to_end"] = bench_parquet(args.quick)
    _print(console, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _print(console: Console, results: dict[str, Any]) -> None:
    table = Table(title=f"compiled classifier vs naive scan (numba: {results['numba']})")
    for col in (
        "workload", "trace", "compile s", "recompile ms", "MB", "p50 µs", "p99 µs", "naive p50 µs", "1t Mflows/s",
        "2t Mflows/s", "naive flows/s", "2t × naive",
    ):  # fmt: skip
        table.add_column(col, justify="right")
    for w in results["workloads"]:
        for name, t in w["traces"].items():
            table.add_row(
                w["workload"],
                name,
                f"{w['compile_s']:.3f}",
                f"{w['recompile_one_rule_ms']:.0f}",
                f"{w['compiled_mb']:.1f}",
                f"{t['single_p50_us']:.2f}",
                f"{t['single_p99_us']:.2f}",
                f"{t['naive_p50_us']:.0f}",
                f"{t['batch_1t_flows_s'] / 1e6:.2f}",
                f"{t['batch_2t_flows_s'] / 1e6:.2f}",
                f"{t['naive_flows_s']:.0f}",
                f"{t['batch_2t_vs_naive']:.0f}",
            )
    console.print(table)
    p = results["parquet_end_to_end"]
    console.print(
        f"Parquet end to end: {p['flows']:,} flows in {p['seconds']:.2f} s = {p['flows_s'] / 1e6:.2f} M flows/s"
    )


if __name__ == "__main__":
    main()
