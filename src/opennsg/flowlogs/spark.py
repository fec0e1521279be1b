"""Apache Spark for the bulk paths: flow-log replay here, and (``opennsg.batch.spark``) batch flow verification.

The driver (this process) loads the configuration once, exactly as the command was given it (ARM JSON, a
template with parameters, Terraform, service tags), and broadcasts the loaded topology, pickled: tasks need no
access to the configuration files. Each Python worker unpickles it once, keeps one ``Engine`` for it, and
compiles each NIC's classifier once for all the partitions it decides.

Workers run this interpreter (``sys.executable``, via ``PYSPARK_PYTHON`` unless that is set) with this copy of
``opennsg`` on their path, so a standalone cluster on this machine works outside an activated virtual environment;
on other machines the same interpreter path must hold the same packages (or set ``PYSPARK_PYTHON``).
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import os
import pickle
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import numpy as np
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


def spark_session(master: str) -> Any:
    """A Spark session on ``master`` (``local[N]``, ``spark://host:port``, …), reused while the master is the same.

    Spark allows one context per process: a session on another master is stopped first.
    """
    spark_sql = require("pyspark.sql", "spark", "Spark (--engine spark)")
    with _session_lock:
        active = spark_sql.SparkSession.getActiveSession()
        if active is not None:
            if active.sparkContext.master == master:
                return active
            active.stop()
        # Workers run this interpreter (its packages), not whatever `python3` the PATH finds outside the venv.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = spark_sql.SparkSession.builder.master(master).appName("opennsg")
        for key, value in _SESSION_CONFIG.items():
            builder = builder.config(key, value)
        builder = builder.config("spark.executorEnv.PYTHONPATH", _package_root())
        if _on_this_machine(master):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
        try:
            return builder.getOrCreate()
        except Exception as exc:  # pyspark raises its own runtime errors when the JVM or the master fails
            raise OpenNsgError(
                [
                    ArmError(
                        Code.SPARK_UNAVAILABLE,
                        f"Spark could not start a session on master '{master}': {exc}. Spark needs Java 17 or later "
                        f"(java on PATH or JAVA_HOME) and, for a cluster, a reachable master (--master, {MASTER_ENV}).",
                    )
                ]
            ) from None


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


#: Distinct flows decided per task (a task's share of one replay).
TASK_FLOWS = 1 << 18


#: The classifier's input columns, as shipped to tasks (a slice of the attributed distinct flows each).
_COLUMNS = tuple(FlowColumns.__dataclass_fields__)


def _classify_partition(
    payload: bytes, nic_keys: list[str], batches: Iterable[pa.RecordBatch]
) -> Iterator[list[Change]]:
    """Inside a task: decide each NIC's flows of each batch; send back only those whose decision changed."""
    for batch in batches:
        columns = FlowColumns(*(batch.column(name).to_numpy(zero_copy_only=False) for name in _COLUMNS))
        nics = np.asarray(batch.column("nic"), dtype=np.int32)
        rows = np.asarray(batch.column("row"), dtype=np.int64)
        logged_allow = np.asarray(batch.column("logged_allow").to_numpy(zero_copy_only=False), dtype=bool)
        changes: list[Change] = []
        for code in np.unique(nics).tolist():
            index = np.flatnonzero(nics == code)
            compiled = compiled_for(payload, nic_keys[code])
            verdicts = compiled.classify(columns.take(index), backend="numpy")
            allow = verdicts.allow.astype(bool)
            for position in np.flatnonzero(allow != logged_allow[index]):
                verdict = compiled.results[int(verdicts.result[position])]
                changes.append((int(rows[index[position]]), bool(allow[position]), verdict.log_rule_name))
        yield changes


def classify_with_spark(
    topology: Topology, flows: DistinctFlows, tuples: int, read: ReadStats, *, master: str = DEFAULT_MASTER
) -> ReplayResult:
    """The Spark twin of ``replay.classify_flows``: the distinct flows decided in Spark tasks on ``master``, in
    slices of ``TASK_FLOWS`` (at least one per core), sent as the classifier's numeric columns."""
    keys, codes = nic_codes(topology, flows)
    rows = np.flatnonzero(codes >= 0)
    columns = flows.columns().take(rows)
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
