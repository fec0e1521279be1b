"""Replay on Apache Spark: the distinct flows are classified inside Spark tasks with the compiled classifier.

Arrow still folds the tuples into distinct flows in this process (that is cheap and streaming); Spark spreads the
classification. Topologies do not pickle (they hold read-only mappings), so each Python worker loads the
configuration from its ARM JSON paths once and caches the compiled policies — the paths must therefore be
readable where the tasks run (always true in local mode; use shared storage on a cluster).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from opennsg.engine.compiled import CompiledPolicy, compile_policy
from opennsg.engine.resolve import resolve_policy
from opennsg.extras import require
from opennsg.flowlogs.reader import ReadStats
from opennsg.flowlogs.replay import ReplayResult, attribute, build_result, flow_columns
from opennsg.model.topology import Topology

#: Local mode talks to itself only (driver on loopback, no web UI); big Arrow batches make few, fat tasks.
_LOCAL_CONFIG = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "200000",
}
_RESULT_SCHEMA = pa.schema([("row", pa.int64()), ("allow", pa.bool_()), ("rule", pa.string())])


@lru_cache(maxsize=4)
def _topology(paths: tuple[str, ...], service_tags: str | None) -> Topology:
    from opennsg.arm import load_paths
    from opennsg.model.servicetags import ServiceTags

    tags = ServiceTags.load(Path(service_tags)) if service_tags else None
    return load_paths([Path(p) for p in paths], service_tags=tags)


@lru_cache(maxsize=1024)
def _compiled(paths: tuple[str, ...], service_tags: str | None, nic_key: str) -> CompiledPolicy:
    topology = _topology(paths, service_tags)
    return compile_policy(resolve_policy(topology, topology.nics[nic_key]))


def _classify_partition(
    paths: tuple[str, ...], service_tags: str | None, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Inside a task: decide each NIC's flows of each batch; emit only those whose decision changed."""
    for batch in batches:
        table = pa.Table.from_batches([batch])
        nics = table["nic"].to_numpy(zero_copy_only=False)
        rows = table["row"].to_numpy(zero_copy_only=False)
        logged_allow = np.asarray(pc.equal(table["decision"], "A").to_numpy(zero_copy_only=False), dtype=bool)
        columns = flow_columns(table)
        out_rows: list[int] = []
        out_allow: list[bool] = []
        out_rule: list[str | None] = []
        for key in sorted(set(nics.tolist())):
            index = np.flatnonzero(nics == key)
            compiled = _compiled(paths, service_tags, key)
            verdicts = compiled.classify(columns.take(index), backend="numpy")
            allow = verdicts.allow.astype(bool)
            for position in np.flatnonzero(allow != logged_allow[index]):
                out_rows.append(int(rows[index[position]]))
                out_allow.append(bool(allow[position]))
                out_rule.append(compiled.results[int(verdicts.result[position])].log_rule_name)
        yield pa.RecordBatch.from_arrays(
            [pa.array(out_rows, pa.int64()), pa.array(out_allow, pa.bool_()), pa.array(out_rule, pa.string())],
            schema=_RESULT_SCHEMA,
        )


def classify_with_spark(
    config_paths: Sequence[Path],
    service_tags: Path | None,
    flows: pa.Table,
    tuples: int,
    read: ReadStats,
    *,
    master: str = "local[2]",
) -> ReplayResult:
    """The Spark twin of ``replay.classify_flows``; ``master`` is any Spark master URL."""
    spark_sql = require("pyspark.sql", "spark", "Replay on Spark (--engine spark)")

    paths = tuple(str(p.resolve()) for p in config_paths)
    tags = str(service_tags.resolve()) if service_tags else None
    topology = _topology(paths, tags)
    nics = attribute(topology, flows)
    unattributed = nics == ""
    attributed = flows.append_column("nic", pa.array(nics.tolist(), pa.string()))
    attributed = attributed.append_column("row", pa.array(np.arange(flows.num_rows), pa.int64()))
    attributed = attributed.filter(pa.array(~unattributed))
    # Workers run this interpreter (its packages), not whatever `python3` the PATH finds outside the venv.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = spark_sql.SparkSession.builder.master(master).appName("opennsg-replay")
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        for key, value in _LOCAL_CONFIG.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    frame: Any = spark.createDataFrame(attributed)

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return _classify_partition(paths, tags, batches)

    results = frame.mapInArrow(task, "row long, allow boolean, rule string").toArrow()
    changes = zip(results["row"].to_pylist(), results["allow"].to_pylist(), results["rule"].to_pylist(), strict=True)
    return build_result(topology, flows, nics, changes, tuples, read)
