"""Apache Spark for the bulk paths: flow-log replay here, and (``opennsg.batch.spark``) batch flow verification.

The driver (this process) loads the configuration once, exactly as the command was given it (ARM JSON, a
template with parameters, Terraform, service tags), and broadcasts the loaded topology, pickled: tasks need no
access to the configuration files. Each Python worker unpickles it once, keeps one ``Engine`` for it, and
compiles each NIC's classifier once for all the partitions it decides.

A replay is spread by file (Azure writes one blob per resource and hour): each task reads its blobs with the same
reader as the local replay, folds their tuples into distinct flows and decides them; the driver merges the tasks'
distinct flows (summing the tuples of a flow logged in several blobs) and their read reports, in file order. When
the executors cannot see the files at the driver's paths, the driver reads and folds them and Spark only decides.

Workers run this interpreter (``sys.executable``, via ``PYSPARK_PYTHON`` unless that is set) with this copy of
``opennsg`` on their path, so a standalone cluster on this machine works outside an activated virtual environment;
on other machines the same interpreter path must hold the same packages (or set ``PYSPARK_PYTHON``). A master
that does not answer, or a cluster that grants no executor, is reported, not waited for.
"""

from __future__ import annotations

import atexit
import contextlib
import copyreg
import hashlib
import io
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from opennsg.engine import Engine
from opennsg.engine.compiled import CompiledPolicy, FlowColumns
from opennsg.extras import require
from opennsg.flowlogs.reader import ReadStats
from opennsg.flowlogs.replay import Change, DistinctFlows, ReplayResult, build_result, nic_codes
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.topology import Topology

#: The master when none is given: every core of this machine.
DEFAULT_MASTER = "local[*]"
#: The environment variable that names the master when ``--master`` is not given.
MASTER_ENV = "OPENNSG_SPARK_MASTER"
#: A command-line run needs no web UI or console progress of Spark's own.
_SESSION_CONFIG = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.python.worker.reuse": "true",
}
#: Masters on this machine: the driver binds to loopback so nothing listens beyond it.
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_session_lock = threading.Lock()


#: How long a master may take to answer a connection, and a cluster to grant the first executor (a loaded machine
#: starts an executor's JVM slowly); past these the command fails with ``SparkUnavailable`` instead of waiting.
CONNECT_TIMEOUT_S = 5.0
EXECUTOR_TIMEOUT_S = 120.0


def _unavailable(message: str) -> OpenNsgError:
    return OpenNsgError([ArmError(Code.SPARK_UNAVAILABLE, message)])


def spark_session(master: str) -> Any:
    """A Spark session on ``master`` (``local[N]``, ``spark://host:port``, …), reused while the master is the same.

    Spark allows one context per process: a session on another master is stopped first. A ``spark://`` master is
    first asked for a connection (Spark itself would retry for a minute and then fail with a stack trace), and
    the session is only returned once the cluster has granted an executor (else every job would wait forever).
    """
    spark_sql = require("pyspark.sql", "spark", "Spark (--engine spark)")
    with _session_lock:
        active = spark_sql.SparkSession.getActiveSession()
        if active is not None:
            if active.sparkContext.master == master:
                return active
            active.stop()
        _check_reachable(master)
        # Workers run this interpreter (its packages), not whatever `python3` the PATH finds outside the venv.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = spark_sql.SparkSession.builder.master(master).appName("opennsg")
        for key, value in _SESSION_CONFIG.items():
            builder = builder.config(key, value)
        builder = builder.config("spark.executorEnv.PYTHONPATH", _package_root())
        if _on_this_machine(master):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        atexit.unregister(stop_spark)  # registered once, however many sessions this process starts
        atexit.register(stop_spark)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # pyspark raises its own runtime errors when the JVM or the master fails
            stop_spark()
            raise _unavailable(
                f"Spark could not start a session on master '{master}': {_first_line(exc)}. Spark needs Java 17 "
                f"or later (java on PATH or JAVA_HOME) and, for a cluster, a reachable master (--master, "
                f"{MASTER_ENV})."
            ) from None
        if master.startswith("spark://"):
            _await_executor(session, master)
        return session


def _first_line(error: BaseException) -> str:
    """What went wrong, without the Java stack that follows it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("An error occurred while calling"):
        lines = lines[1:]  # py4j's preamble; the Java exception follows
    return lines[0].lstrip(": ") if lines else type(error).__name__


def _masters(master: str) -> list[tuple[str, int]]:
    """(host, port) of each master of ``spark://h1:p1,h2:p2`` (7077 when no port is given)."""
    found = []
    for part in master.split("://", 1)[-1].split(","):
        address = urlsplit(f"//{part}")
        if address.hostname:
            found.append((address.hostname, address.port or 7077))
    return found


def _check_reachable(master: str) -> None:
    """A ``spark://`` master that no connection reaches, said at once."""
    if not master.startswith("spark://"):
        return
    masters = _masters(master)
    for host, port in masters:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    where = ", ".join(f"{host}:{port}" for host, port in masters) or master
    raise _unavailable(
        f"No Spark master answers at {where} (master '{master}'): start one (sbin/start-master.sh, or "
        f"opennsg.flowlogs.sparkcluster.StandaloneCluster) or name another with --master or {MASTER_ENV}."
    )


def _await_executor(session: Any, master: str) -> None:
    """Wait until the cluster runs at least one executor for this session (unless executors come and go with
    dynamic allocation), or fail: a master with no worker free to run one would leave every job waiting."""
    context = session.sparkContext
    if context.getConf().get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        return
    deadline = time.monotonic() + EXECUTOR_TIMEOUT_S
    while time.monotonic() < deadline:
        if len(context._jsc.sc().statusTracker().getExecutorInfos()) > 1:  # the driver is listed too
            return
        time.sleep(0.2)
    stop_spark()
    raise _unavailable(
        f"The Spark master '{master}' granted no executor within {EXECUTOR_TIMEOUT_S:.0f} s: no worker is "
        "registered with it, or none has the cores and memory free (see the master's web UI or log)."
    )


def stop_spark() -> None:
    """Stop this process's Spark session and its JVM (the gateway process pyspark started), so that neither
    outlives the work: run at exit, and by the tests and benchmarks when they are done with a cluster."""
    spark_sql, pyspark = sys.modules.get("pyspark.sql"), sys.modules.get("pyspark")
    if spark_sql is None or pyspark is None:  # never imported: nothing to stop
        return
    with contextlib.suppress(Exception):
        active = spark_sql.SparkSession.getActiveSession()
        if active is not None:
            active.stop()
    context = pyspark.SparkContext
    with contextlib.suppress(Exception):
        if context._active_spark_context is not None:  # a session started on another thread
            context._active_spark_context.stop()
    gateway = context._gateway
    if gateway is None:
        return
    context._gateway = None
    context._jvm = None
    with contextlib.suppress(Exception):
        gateway.shutdown()
    process = getattr(gateway, "proc", None)
    if isinstance(process, subprocess.Popen):
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()  # the JVM exits when its stdin closes
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _package_root() -> str:
    """The folder holding this ``opennsg`` package (a source tree or site-packages): the workers import the same
    code as the driver."""
    return str(Path(__file__).resolve().parents[2])


def _on_this_machine(master: str) -> bool:
    if master.startswith("local"):
        return True
    hosts = [urlsplit(f"//{part}").hostname for part in master.split("://", 1)[-1].split(",")]
    return all(host in _LOOPBACK_HOSTS for host in hosts)


def _mapping_proxy(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


class _TopologyPickler(pickle.Pickler):
    """Topologies hold read-only mappings (``MappingProxyType``), which pickle cannot rebuild on its own."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[MappingProxyType] = lambda proxy: (_mapping_proxy, (dict(proxy),))


def topology_payload(topology: Topology) -> bytes:
    """The topology as bytes to broadcast (``engine_for`` rebuilds it in a worker)."""
    buffer = io.BytesIO()
    _TopologyPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(topology)
    return buffer.getvalue()


_engines: dict[str, Engine] = {}
_compiled: dict[tuple[str, str], CompiledPolicy] = {}


def engine_for(payload: bytes) -> Engine:
    """In a worker: the ``Engine`` of a broadcast topology, built once per worker process and topology."""
    digest = hashlib.sha256(payload).hexdigest()
    engine = _engines.get(digest)
    if engine is None:
        _engines.clear()  # a worker serves one command's topology at a time
        _compiled.clear()
        engine = _engines[digest] = Engine(pickle.loads(payload))
    return engine


def compiled_for(payload: bytes, nic_key: str) -> CompiledPolicy:
    """In a worker: the NIC's compiled classifier, compiled once per worker process for all its partitions."""
    digest = hashlib.sha256(payload).hexdigest()
    engine = engine_for(payload)
    found = _compiled.get((digest, nic_key))
    if found is None:
        found = _compiled[(digest, nic_key)] = engine.compile(engine.topology.nics[nic_key])
    return found


#: Distinct flows decided per task (a task's share of a replay whose logs the driver read).
TASK_FLOWS = 1 << 18
#: Tasks of a replay per core of the cluster, at most: a task per blob up to this, else runs of blobs per task
#: (whose distinct flows the task merges), so the driver collects a bounded number of partial results.
FILE_TASKS_PER_CORE = 4


#: The classifier's input columns, as shipped to tasks (a slice of the attributed distinct flows each).
_COLUMNS = tuple(FlowColumns.__dataclass_fields__)
#: A file as the driver saw it: (size, mtime in ns), or None when it cannot be read.
Stamp = tuple[int, int] | None


def file_stamp(path: str) -> Stamp:
    """(size, mtime) of a file, or None: a task reads a file itself only where it sees the driver's stamp."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _changes(
    payload: bytes,
    nic_keys: Sequence[str],
    nics: npt.NDArray[np.int32],
    columns: FlowColumns,
    logged_allow: npt.NDArray[np.bool_],
) -> Iterator[tuple[int, bool, str | None]]:
    """Each attributed flow decided at its NIC: (position, new access, rule) of those whose decision changed."""
    for code in np.unique(nics[nics >= 0]).tolist():
        index = np.flatnonzero(nics == code)
        compiled = compiled_for(payload, nic_keys[code])
        verdicts = compiled.classify(columns.take(index), backend="numpy")
        allow = verdicts.allow.astype(bool)
        for position in np.flatnonzero(allow != logged_allow[index]):
            verdict = compiled.results[int(verdicts.result[position])]
            yield int(index[position]), bool(allow[position]), verdict.log_rule_name


def _classify_partition(
    payload: bytes, nic_keys: list[str], batches: Iterable[pa.RecordBatch]
) -> Iterator[list[Change]]:
    """Inside a task: decide each NIC's flows of each batch; send back only those whose decision changed."""
    for batch in batches:
        columns = FlowColumns(*(batch.column(name).to_numpy(zero_copy_only=False) for name in _COLUMNS))
        nics = np.asarray(batch.column("nic"), dtype=np.int32)
        rows = np.asarray(batch.column("row"), dtype=np.int64)
        logged_allow = np.asarray(batch.column("logged_allow").to_numpy(zero_copy_only=False), dtype=bool)
        yield [(int(rows[at]), allow, rule) for at, allow, rule in _changes(payload, nic_keys, nics, columns,
                                                                             logged_allow)]  # fmt: skip


def classify_with_spark(
    topology: Topology, flows: DistinctFlows, tuples: int, read: ReadStats, *, master: str = DEFAULT_MASTER
) -> ReplayResult:
    """The Spark twin of ``replay.classify_flows``: the distinct flows decided in Spark tasks on ``master``, in
    slices of ``TASK_FLOWS`` (at least one per core), sent as the classifier's numeric columns."""
    keys, codes = nic_codes(topology, flows)
    rows = np.flatnonzero(codes >= 0)
    columns = flows.columns(rows)
    arrays = [pa.array(getattr(columns, name)) for name in _COLUMNS]
    arrays += [pa.array(codes[rows]), pa.array(rows), pa.array(flows.logged_allow[rows])]
    attributed = pa.Table.from_arrays(arrays, names=[*_COLUMNS, "nic", "row", "logged_allow"])
    if not attributed.num_rows:  # no flow at any NIC of the config: nothing to decide
        return build_result(topology, flows, keys, codes, (), tuples, read)
    context = spark_session(master).sparkContext
    slices = max(1, int(context.defaultParallelism), -(-attributed.num_rows // TASK_FLOWS))
    size = max(1, -(-attributed.num_rows // slices))
    batches = attributed.to_batches(max_chunksize=size)
    shared = context.broadcast(topology_payload(topology))
    try:
        rdd = context.parallelize(batches, len(batches))
        answers = rdd.mapPartitions(lambda part: _classify_partition(shared.value, keys, part)).collect()
    finally:
        shared.unpersist()
    changes = (change for changed in answers for change in changed)
    return build_result(topology, flows, keys, codes, changes, tuples, read)


# --- replay spread by file: read, fold and decide in the tasks, merge on the driver ------------------------------


@dataclass(frozen=True, slots=True)
class FoldedLogs:
    """Some flow log files read, folded into distinct flows and decided: what a task sends back. ``rule`` is per
    flow -1 where the decision is the logged one, else the index of the deciding rule's name in ``rules``."""

    first_file: int  # the position of the first of its files among the replay's files
    flows: DistinctFlows
    rule: npt.NDArray[np.int32]
    rules: tuple[str | None, ...]
    tuples: int  # tuples folded (those the filter kept)
    read: ReadStats

    def changes(self) -> Iterator[Change]:
        for row in np.flatnonzero(self.rule >= 0).tolist():
            yield row, not bool(self.flows.logged_allow[row]), self.rules[int(self.rule[row])]


def fold_and_decide(
    topology: Topology, payload: bytes, path: Path, label: str, criteria: str | None, first_file: int
) -> FoldedLogs:
    """One flow log file read, filtered, folded and decided as the local replay does; its problems name it by
    ``label`` (the path as the command was given it: a task opens the absolute path)."""
    from opennsg.flowlogs.filtering import FlowFilter
    from opennsg.flowlogs.reader import FlowLogReader
    from opennsg.flowlogs.replay import fold

    reader = FlowLogReader([path])
    batches: Iterable[pa.RecordBatch] = reader.batches()
    if criteria is not None:
        batches = FlowFilter.parse(criteria).apply(batches)
    flows, tuples = fold(batches)
    opened = str(path)
    reader.stats.problems[:] = [replace(p, file=label) if p.file == opened else p for p in reader.stats.problems]
    keys, nics = nic_codes(topology, flows)
    rule = np.full(len(flows), -1, dtype=np.int32)
    rules: dict[str | None, int] = {}
    for row, _, name in _changes(payload, keys, nics, flows.columns(), flows.logged_allow):
        rule[row] = rules.setdefault(name, len(rules))
    return FoldedLogs(first_file, flows, rule, tuple(rules), tuples, reader.stats)


#: The merge's own packing of a flow's small fields into one grouping key (ports 16 bits each, protocol 8,
#: direction and logged decision a bit each); nothing outside ``merge_folded`` sees it.
_SHIFTS = (0, 16, 32, 40, 41)


def merge_folded(parts: Sequence[FoldedLogs]) -> FoldedLogs:
    """The tasks' results as one, as if one reader had read all their files in order: MACs, address texts and
    rule names recoded into shared codes, a flow logged in several parts counted once with its tuples summed,
    the read reports added up and their problems kept in file order."""
    from opennsg.flowlogs.keys import TEXT_KEY

    ordered = sorted(parts, key=lambda part: part.first_file)
    if len(ordered) == 1:
        return ordered[0]
    macs: dict[str, int] = {}
    texts: dict[str, int] = {}
    rules: dict[str | None, int] = {}
    pieces: list[list[npt.NDArray[Any]]] = []
    for part in ordered:
        flows = part.flows
        mac_code = np.array([macs.setdefault(mac, len(macs)) for mac in flows.macs] + [0], dtype=np.int32)
        text_key = np.array([TEXT_KEY + texts.setdefault(t, len(texts)) for t in flows.texts] + [0], np.uint64)
        rule_code = np.array([rules.setdefault(name, len(rules)) for name in part.rules] + [-1], dtype=np.int32)

        def recoded(keys: npt.NDArray[np.uint64], text_key: npt.NDArray[np.uint64] = text_key) -> Any:
            text = keys >= np.uint64(TEXT_KEY)
            index = np.where(text, keys - np.uint64(TEXT_KEY), np.uint64(len(text_key) - 1)).astype(np.int64)
            return np.where(text, text_key[index], keys)

        fields: tuple[npt.NDArray[Any], ...] = (flows.src_port, flows.dst_port, flows.protocol, flows.outbound,
                                                flows.logged_allow)  # fmt: skip
        packed = np.zeros(len(flows), dtype=np.uint64)
        for column, shift in zip(fields, _SHIFTS, strict=True):
            packed |= column.astype(np.uint64) << np.uint64(shift)
        pieces.append([mac_code[flows.mac], recoded(flows.src), recoded(flows.dst), packed, flows.count,
                       rule_code[part.rule]])  # fmt: skip
    names = ["mac", "src", "dst", "small", "count", "rule"]
    table = pa.Table.from_arrays([pa.array(np.concatenate(column)) for column in zip(*pieces, strict=True)], names)
    grouped = table.group_by(names[:4]).aggregate([("count", "sum"), ("rule", "max")])
    small: npt.NDArray[np.uint64] = np.asarray(grouped["small"], dtype=np.uint64)

    def field(shift: int, bits: int) -> npt.NDArray[np.uint64]:
        value: npt.NDArray[np.uint64] = (small >> np.uint64(shift)) & np.uint64((1 << bits) - 1)
        return value

    merged = DistinctFlows(
        mac=np.asarray(grouped["mac"], dtype=np.int32),
        src=np.asarray(grouped["src"], dtype=np.uint64),
        dst=np.asarray(grouped["dst"], dtype=np.uint64),
        src_port=field(_SHIFTS[0], 16).astype(np.int32),
        dst_port=field(_SHIFTS[1], 16).astype(np.int32),
        protocol=field(_SHIFTS[2], 8).astype(np.uint8),
        outbound=field(_SHIFTS[3], 1).astype(bool),
        logged_allow=field(_SHIFTS[4], 1).astype(bool),
        count=np.asarray(grouped["count_sum"], dtype=np.int64),
        macs=tuple(macs),
        texts=tuple(texts),
    )
    read = ReadStats(
        files=sum(p.read.files for p in ordered),
        records=sum(p.read.records for p in ordered),
        tuples=sum(p.read.tuples for p in ordered),
        malformed_records=sum(p.read.malformed_records for p in ordered),
        malformed_tuples=sum(p.read.malformed_tuples for p in ordered),
        problems=[problem for p in ordered for problem in p.read.problems],
    )
    rule = np.asarray(grouped["rule_max"], dtype=np.int32)
    return FoldedLogs(ordered[0].first_file, merged, rule, tuple(rules), sum(p.tuples for p in ordered), read)


def _fold_files(
    payload: bytes, criteria: str | None, items: Iterable[tuple[int, str, str, Stamp]]
) -> Iterator[FoldedLogs]:
    """Inside a task: its files (position, label, absolute path, the driver's stamp), merged into one result."""
    topology = engine_for(payload).topology
    parts = []
    for index, label, where, stamp in items:
        if file_stamp(where) != stamp:
            raise RuntimeError(f"{where} on this Spark worker is not the file the driver saw (size and mtime differ)")
        parts.append(fold_and_decide(topology, payload, Path(where), label, criteria, index))
    if parts:
        yield merge_folded(parts)


def _files_visible(context: Any, wheres: list[str], stamps: list[Stamp]) -> bool:
    """Whether a task on every core sees each file at the driver's path with the driver's size and mtime (a
    cluster on this machine, or storage shared at the same path)."""
    cores = int(context.defaultParallelism)
    seen = context.parallelize(range(cores), cores).map(lambda _: [file_stamp(w) for w in wheres]).collect()
    return all(found == stamps for found in seen)


def replay_files_on_spark(
    topology: Topology, files: Sequence[Path], criteria: str | None = None, *, master: str = DEFAULT_MASTER
) -> ReplayResult:
    """``replay.replay`` of the flow log ``files`` (in this order; ``FlowLogReader.files``), spread on Spark by
    file: a task per file (``FILE_TASKS_PER_CORE`` per core at most, else runs of files) reads, filters with
    the ``criteria`` (a ``FlowFilter`` expression), folds and decides, and the driver merges. The result is the
    local replay's, byte for byte. Files the executors do not see as the driver does are read here instead."""
    from opennsg.flowlogs.replay import replay

    labels = [str(path) for path in files]
    wheres = [os.path.abspath(label) for label in labels]
    stamps = [file_stamp(where) for where in wheres]
    context = spark_session(master).sparkContext if files else None
    if context is None or not _files_visible(context, wheres, stamps):
        from opennsg.flowlogs.filtering import FlowFilter
        from opennsg.flowlogs.reader import FlowLogReader

        reader = FlowLogReader(files)
        batches: Iterable[pa.RecordBatch] = reader.batches()
        if criteria is not None:
            batches = FlowFilter.parse(criteria).apply(batches)
        return replay(topology, batches, reader.stats, engine="spark", spark_master=master)
    items = list(zip(range(len(files)), labels, wheres, stamps, strict=True))
    slices = min(len(items), FILE_TASKS_PER_CORE * int(context.defaultParallelism))
    shared = context.broadcast(topology_payload(topology))
    try:
        rdd = context.parallelize(items, slices)
        parts = rdd.mapPartitions(lambda part: _fold_files(shared.value, criteria, part)).collect()
    finally:
        shared.unpersist()
    folded = merge_folded(parts)
    keys, nics = nic_codes(topology, folded.flows)
    return build_result(topology, folded.flows, keys, nics, folded.changes(), folded.tuples, folded.read)
