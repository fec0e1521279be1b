"""Batch verification and flow-log replay on Spark against the single-process path, same input, same run:

    python bench/spark_bench.py [--flows 10000000] [--master URL] [--workers 1] [--cores N] [--json FILE]
    python bench/spark_bench.py --replay [--tuples 10000000] [--blobs 10] [--format vnet|nsg2] [...]

Without ``--master`` a standalone cluster is started on this machine from the pyspark distribution (a master and
``--workers`` workers of ``--cores`` cores each, on loopback), and stopped (with the driver's JVM) at the end.

``verify --flows``: the workload is ``bench/e2e.py``'s: Azure's limit of 1,000 rules per NSG on the subnet and on
the NIC, a 10,240-prefix service tag, flows as Network Watcher names them (string fields, Zipf-repeated), written as
Parquet in row groups of 1 M (generation not timed). Timed, in this order:
1. the single-process path (``verify_flows_file``, as ``opennsg verify --flows``): wall and CPU seconds;
2. Spark start-up: the driver's JVM and session, then a warm-up file of two batches (executors start, each Python
   worker unpickles the topology and compiles the NIC's classifier) — reported, and excluded from the rate;
3. the Spark path (``--engine spark``) on the whole file: wall seconds, flows per second, and that rate per
   executor and per core, next to the single-process rate; with the cluster started here, also the CPU seconds
   of every process involved (this one, the driver's JVM, the daemons, the executor and its Python workers, from
   /proc), which a shared machine's load does not inflate. The two output files must be the same bytes.

``--replay``: ``bench/flowlogs_bench.py``'s logs, ``--blobs`` hourly blobs of one NIC each (10 × 1 M tuples by
default, ~73 MB each in the VNet format, about a third as many distinct flows as tuples) against a proposed config
where each NIC's NSG of 100 rules lost one (so verdicts change), written to a temporary folder (not timed, deleted
at the end). Timed: the local replay in this process (reader, fold, classify: wall and CPU seconds); Spark's start
(session, then a warm-up replay of small blobs: executors, Python workers, imports) excluded; then the replay spread
on Spark (``replay_files_on_spark``: a task per blob reads, folds and decides it, this process merges), with its
rate per executor and per core next to the single-process rate, the CPU seconds of every process of the cluster,
and this (driver) process's own. The two replays' JSON must be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flowlogs_bench
from e2e import SEED, flow_table
from workloads import workload, zipf_trace

from opennsg.batch import parse, verify_flows_file
from opennsg.flowlogs.spark import replay_files_on_spark, spark_session, stop_spark
from opennsg.flowlogs.sparkcluster import StandaloneCluster
from opennsg.model.topology import Topology

CHUNK_FLOWS = 1_000_000


def write_flows(topology: Topology, nic_name: str, path: Path, flows: int) -> None:
    """``flows`` rows in chunks of ``CHUNK_FLOWS`` (each its own Zipf draw over the same pool), one row group each."""
    writer: pq.ParquetWriter | None = None
    try:
        for k, start in enumerate(range(0, flows, CHUNK_FLOWS)):
            table = flow_table(zipf_trace(topology, min(CHUNK_FLOWS, flows - start), SEED + k), nic_name)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_seconds(daemons: tuple[int, ...]) -> float:
    """CPU seconds (user + system, with those of reaped children) used so far by this process and the cluster's
    daemons (``daemons``: their process ids) and every process below them, from /proc: the driver's JVM, the
    executors and their Python workers (pyspark's daemon puts those in a process group of their own), which a
    loaded machine does not inflate."""
    ticks = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        used[pid] = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    counted = {os.getpid(), *daemons}
    frontier = list(counted)
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in counted:
                counted.add(child)
                frontier.append(child)
    return sum(used.get(pid, 0) for pid in counted) / ticks


def _executors(context: Any) -> tuple[int, int]:
    """(executors, cores for tasks) of the session: local mode is one executor, the driver."""
    if context.master.startswith("local"):
        return 1, int(context.defaultParallelism)
    infos = context._jsc.sc().statusTracker().getExecutorInfos()  # the driver is listed too
    return max(1, len(infos) - 1), int(context.defaultParallelism)


def run(tmp: Path, flows: int, master: str, daemons: tuple[int, ...] = ()) -> dict[str, Any]:
    w = workload(500, SEED)
    nic = w.topology.nic(w.nic_id)
    assert nic is not None
    source, warmup = tmp / "flows.parquet", tmp / "warmup.parquet"
    started = time.perf_counter()
    write_flows(w.topology, nic.name, source, flows)
    write_flows(w.topology, nic.name, warmup, 2 * parse.BATCH_ROWS)
    generated = time.perf_counter() - started

    local_out, spark_out = tmp / "local.parquet", tmp / "spark.parquet"
    load_before = _load()
    wall, cpu = time.perf_counter(), time.process_time()
    single = verify_flows_file(w.topology, source, local_out, progress=False)
    single_wall, single_cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert single.flows == flows and single.errors == 0

    started = time.perf_counter()
    context = spark_session(master).sparkContext
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    verify_flows_file(w.topology, warmup, tmp / "warmup-out.parquet", progress=False, spark_master=master)
    warmup_s = time.perf_counter() - started
    executors, cores = _executors(context)

    load_spark = _load()
    started, cpu = time.perf_counter(), cpu_seconds(daemons)
    spread = verify_flows_file(w.topology, source, spark_out, progress=False, spark_master=master)
    spark_wall, spark_cpu = time.perf_counter() - started, cpu_seconds(daemons) - cpu
    assert spread.flows == flows
    rate = flows / spark_wall
    return {
        "flows": flows,
        "input_mb": source.stat().st_size / 1e6,
        "generate_s": generated,
        "master": master,
        "executors": executors,
        "cores": cores,
        "single_wall_s": single_wall,
        "single_cpu_s": single_cpu,
        "single_flows_s": flows / single_wall,
        "single_flows_per_cpu_s": flows / single_cpu,
        "load_single": load_before,
        "spark_session_s": session_s,
        "spark_warmup_s": warmup_s,
        "spark_wall_s": spark_wall,
        "spark_cpu_s": spark_cpu,
        "spark_cpu_of": "driver, its JVM and the cluster" if daemons else "the driver and its JVM only (--master)",
        "spark_flows_per_cpu_s": flows / spark_cpu,
        "spark_flows_s": rate,
        "spark_flows_s_per_executor": rate / executors,
        "spark_flows_s_per_core": rate / cores,
        "load_spark": load_spark,
        "same_output": spark_out.read_bytes() == local_out.read_bytes(),
        "same_summary": (spread.allowed, spread.denied, spread.errors)
        == (single.allowed, single.denied, single.errors),
    }


def _print_rates(r: dict[str, Any], unit: str, warmed: str, driver: str = "") -> None:
    """The single-process, start-up, Spark and CPU lines both reports share (``unit``: flows or tuples)."""
    print(f"  single process : wall {r['single_wall_s']:6.2f} s = {r[f'single_{unit}_s'] / 1e6:5.2f} M {unit}/s "
          f"(CPU {r['single_cpu_s']:.2f} s = {r[f'single_{unit}_per_cpu_s'] / 1e6:.2f} M {unit} per CPU-s; "
          f"load {r['load_single']})")  # fmt: skip
    print(f"  Spark start-up : session {r['spark_session_s']:.1f} s, warm-up (executors, workers, {warmed}) "
          f"{r['spark_warmup_s']:.1f} s — excluded below")  # fmt: skip
    ratio = r[f"spark_{unit}_s"] / r[f"single_{unit}_s"]
    print(f"  Spark          : wall {r['spark_wall_s']:6.2f} s = {r[f'spark_{unit}_s'] / 1e6:5.2f} M {unit}/s "
          f"(× single process {ratio:.2f}); per executor {r[f'spark_{unit}_s_per_executor'] / 1e6:.2f} M {unit}/s, "
          f"per core {r[f'spark_{unit}_s_per_core'] / 1e6:.2f} M {unit}/s (load {r['load_spark']})")  # fmt: skip
    per_cpu = r[f"spark_{unit}_per_cpu_s"]
    print(f"  Spark CPU      : {r['spark_cpu_s']:.2f} s ({r['spark_cpu_of']}) = {per_cpu / 1e6:.2f} M {unit} per "
          f"CPU-s (× single process {per_cpu / r[f'single_{unit}_per_cpu_s']:.2f}){driver}")  # fmt: skip


def report(r: dict[str, Any]) -> None:
    print(f"verify --flows on Spark: {r['flows']:,} flows ({r['input_mb']:.0f} MB Parquet, generated in "
          f"{r['generate_s']:.0f} s), 1,000 rules per NSG on subnet and NIC; master {r['master']}: "
          f"{r['executors']} executor(s), {r['cores']} core(s)")  # fmt: skip
    _print_rates(r, "flows", "compile")
    print(f"  same output bytes: {r['same_output']}, same summary: {r['same_summary']}")


def run_replay(
    tmp: Path, tuples: int, blobs: int, fmt: str, master: str, daemons: tuple[int, ...] = ()
) -> dict[str, Any]:
    from opennsg.arm import load_paths
    from opennsg.flowlogs.reader import FlowLogReader
    from opennsg.flowlogs.replay import replay

    proposed = tmp / "proposed.json"
    proposed.write_text(json.dumps(flowlogs_bench.config(blobs, 100, drop_one=True)))
    topology = load_paths([proposed])
    logs, warmup = tmp / "logs", tmp / "warmup"
    started = time.perf_counter()
    written = flowlogs_bench.write_logs(logs, tuples, blobs, 100, fmt=fmt)
    flowlogs_bench.write_logs(warmup, 300 * blobs, blobs, 100, fmt=fmt)
    generated = time.perf_counter() - started
    files = sorted(logs.rglob("*.json"))

    load_single = _load()
    wall, cpu = time.perf_counter(), time.process_time()
    reader = FlowLogReader(files)
    single = replay(topology, reader.batches(), reader.stats)
    single_wall, single_cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert single.tuples == written and not single.read.problems, single.read.to_json()

    started = time.perf_counter()
    context = spark_session(master).sparkContext
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    replay_files_on_spark(topology, sorted(warmup.rglob("*.json")), master=master)
    warmup_s = time.perf_counter() - started
    executors, cores = _executors(context)

    load_spark = _load()
    started, cpu, driver_cpu = time.perf_counter(), cpu_seconds(daemons), time.process_time()
    spread = replay_files_on_spark(topology, files, master=master)
    spark_wall, spark_cpu = time.perf_counter() - started, cpu_seconds(daemons) - cpu
    driver_cpu = time.process_time() - driver_cpu
    rate = written / spark_wall
    return {
        "tuples": written,
        "blobs": len(files),
        "format": fmt,
        "input_mb": sum(f.stat().st_size for f in files) / 1e6,
        "distinct_flows": single.flows,
        "changed_flows": len(single.changed),
        "generate_s": generated,
        "master": master,
        "executors": executors,
        "cores": cores,
        "single_wall_s": single_wall,
        "single_cpu_s": single_cpu,
        "single_tuples_s": written / single_wall,
        "single_tuples_per_cpu_s": written / single_cpu,
        "load_single": load_single,
        "spark_session_s": session_s,
        "spark_warmup_s": warmup_s,
        "spark_wall_s": spark_wall,
        "spark_cpu_s": spark_cpu,
        "spark_cpu_of": "driver, its JVM and the cluster" if daemons else "the driver and its JVM only (--master)",
        "spark_driver_cpu_s": driver_cpu,
        "spark_tuples_per_cpu_s": written / spark_cpu,
        "spark_tuples_s": rate,
        "spark_tuples_s_per_executor": rate / executors,
        "spark_tuples_s_per_core": rate / cores,
        "load_spark": load_spark,
        "same_output": json.dumps(spread.to_json()) == json.dumps(single.to_json()),
    }


def report_replay(r: dict[str, Any]) -> None:
    print(f"flowlogs replay on Spark: {r['tuples']:,} tuples in {r['blobs']} {r['format']} blobs ({r['input_mb']:.0f} "
          f"MB, generated in {r['generate_s']:.0f} s), {r['distinct_flows']:,} distinct flows, {r['changed_flows']:,} "
          f"changed; master {r['master']}: {r['executors']} executor(s), {r['cores']} core(s)")  # fmt: skip
    _print_rates(r, "tuples", "imports", f"; the driver's own {r['spark_driver_cpu_s']:.2f} s (merge, result)")
    print(f"  same replay JSON: {r['same_output']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--flows", type=int, default=10_000_000, help="verify --flows: flows in the file")
    parser.add_argument("--replay", action="store_true", help="flowlogs replay instead of verify --flows")
    parser.add_argument("--tuples", type=int, default=10_000_000, help="--replay: tuples in all the blobs")
    parser.add_argument("--blobs", type=int, default=10, help="--replay: blobs (one NIC's hour each)")
    parser.add_argument("--format", choices=("vnet", "nsg2"), default="vnet", help="--replay: flow log format")
    parser.add_argument("--master", help="a Spark master URL; without it a standalone cluster is started here")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2, help="cores per worker")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    def measure(tmp: Path, master: str, daemons: tuple[int, ...] = ()) -> dict[str, Any]:
        if args.replay:
            return run_replay(tmp, args.tuples, args.blobs, args.format, master, daemons)
        return run(tmp, args.flows, master, daemons)

    with tempfile.TemporaryDirectory(prefix="opennsg-spark-bench-") as directory:
        tmp = Path(directory)
        if args.master:
            try:
                results = measure(tmp, args.master)
            finally:
                stop_spark()  # the session and the driver's JVM
        else:
            with StandaloneCluster(tmp / "cluster", workers=args.workers, cores=args.cores) as cluster:
                try:
                    results = measure(tmp, cluster.url, cluster.process_groups)
                finally:
                    stop_spark()  # before the cluster stops: its executors are not lost under a live session
    (report_replay if args.replay else report)(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if not (results["same_output"] and results.get("same_summary", True)):
        sys.exit(1)


if __name__ == "__main__":
    main()
