"""The Spark paths (``verify --flows --engine spark``, ``flowlogs replay --engine spark``) against a real Spark
standalone cluster: a master and one worker started from the pyspark distribution, bound to loopback, with a PATH
that has no ``python3`` (the workers must run the driver's interpreter). One cluster and one driver session serve
every test of this module; without Java or pyspark they are skipped, saying which is missing.

The deciding inside the tasks (``opennsg.batch.spark``) is also property-tested in this process with a stand-in
context, so the renumbering of the tasks' answers is checked on many random files without a JVM.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opennsg.arm import load_paths
from opennsg.batch import parse, verify_flows_file
from opennsg.batch import spark as batch_spark
from opennsg.batch.parse import FIELDS
from opennsg.cli.main import app
from opennsg.flowlogs import spark as flowlogs_spark
from opennsg.model import Topology

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "how-nsgs-filter-traffic.json"
FLOWLOGS = Path(__file__).parent / "data" / "flowlogs"
runner = CliRunner()
#: What the master and worker scripts (bash) and the JVM need; deliberately no python3.
SHELL_TOOLS = ("java", "bash", "sh", "uname", "dirname", "basename", "ps", "readlink", "sed", "cat", "head", "tail",
               "grep", "nohup", "sleep", "mkdir", "rm", "ls", "tr", "cut", "awk", "find", "id", "hostname")  # fmt: skip
START_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_paths([EXAMPLE])


# --- flows files: good and bad rows of every kind (the same cases tests/test_batch.py checks one by one) ---------


def _nic(topology: Topology, name: str) -> tuple[str, str]:
    nic = next(n for n in topology.nics.values() if n.name == name)
    address = nic.ip_configurations[0].private_ip_address
    assert address is not None
    return nic.id, address


def _rows(topology: Topology) -> list[dict[str, Any]]:
    vm1_id, vm1 = _nic(topology, "vm1-nic")
    _, vm3 = _nic(topology, "vm3-nic")
    good = [
        {"targetResourceId": "vm1-nic", "direction": "Inbound", "protocol": "TCP", "localIPAddress": vm1,
         "localPort": "80", "remoteIPAddress": "8.8.8.8", "remotePort": "1234"},
        {"targetNicResourceId": vm1_id, "direction": "outbound", "protocol": "icmp", "localIPAddress": vm1,
         "localPort": "*", "remoteIPAddress": "1.1.1.1", "remotePort": ""},
        {"targetResourceId": "VM3", "direction": "Inbound", "protocol": "6", "localIPAddress": vm3,
         "localPort": "22", "remoteIPAddress": "10.0.0.9", "remotePort": "50000"},
        {"targetResourceId": "vm3-nic", "direction": "Outbound", "protocol": "TCP", "localIPAddress": vm3,
         "localPort": "1000", "remoteIPAddress": "93.184.216.34", "remotePort": "25"},
        {"targetResourceId": vm1_id.upper(), "direction": "Outbound", "protocol": "UDP", "localIPAddress": vm1,
         "localPort": "5353", "remoteIPAddress": "168.63.129.16", "remotePort": "53"},
    ]  # fmt: skip
    base = good[0]
    bad = [
        {**base, "targetResourceId": "no-such-vm"},
        {**base, "targetResourceId": None},
        {**base, "direction": "Sideways"},
        {**base, "protocol": "GRE"},
        {**base, "localIPAddress": "10.0.0.256"},
        {**base, "remotePort": "65536"},
        {**base, "remoteIPAddress": "2001:db8::1"},
        {**base, "localIPAddress": "10.9.9.9"},
    ]
    return good + bad


def _write(rows: list[dict[str, Any]], path: Path, row_group_size: int | None = None) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return
    columns = {f: pa.array([None if r.get(f) is None else str(r[f]) for r in rows], pa.string()) for f in FIELDS}
    table = pa.table(columns)
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=row_group_size)


# --- a stand-in Spark context: the same tasks, run here, their answers pickled as Spark sends them --------------


class _Rdd:
    def __init__(self, partitions: list[list[Any]]) -> None:
        self.partitions = partitions

    def mapPartitions(self, task: Callable[[Iterator[Any]], Iterable[Any]]) -> _Rdd:
        return _Rdd([pickle.loads(pickle.dumps(list(task(iter(p))))) for p in self.partitions])

    def collect(self) -> list[Any]:
        return [item for p in self.partitions for item in p]


class _Context:
    def __init__(self, parallelism: int) -> None:
        self.defaultParallelism = parallelism

    def broadcast(self, value: bytes) -> Any:
        return SimpleNamespace(value=value, unpersist=lambda: None)

    def parallelize(self, items: list[Any], slices: int) -> _Rdd:
        # Spark cuts a list into ``slices`` contiguous parts; the tasks must not depend on how.
        bounds = [len(items) * k // slices for k in range(slices + 1)]
        return _Rdd([pickle.loads(pickle.dumps(items[a:b])) for a, b in itertools.pairwise(bounds)])


_ROW_KINDS = st.integers(0, 12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(_ROW_KINDS, min_size=0, max_size=60),
    source=st.sampled_from(["jsonl", "csv", "parquet"]),
    target=st.sampled_from(["jsonl", "csv", "parquet"]),
    batch_rows=st.integers(1, 25),
    parallelism=st.integers(1, 3),
    broken_line=st.booleans(),
)
def test_tasks_answers_renumbered_give_the_single_process_bytes(
    topology: Topology,
    tmp_path_factory: pytest.TempPathFactory,
    kinds: list[int],
    source: str,
    target: str,
    batch_rows: int,
    parallelism: int,
    broken_line: bool,
) -> None:
    """Whatever the batches, waves and partitions, the Spark path's output is the single-process output, byte for
    byte: every batch decided apart by a fresh decider in a 'worker' (the topology through its broadcast pickle),
    its verdicts and problems renumbered into one table by the driver."""
    directory = tmp_path_factory.mktemp("spark-tasks")
    catalogue = _rows(topology)
    rows = [catalogue[k] for k in kinds]
    in_path = directory / f"in.{source}"
    _write(rows, in_path, row_group_size=max(1, batch_rows // 2))
    if source == "jsonl" and broken_line:  # the careful reader's path, with a row it cannot read
        in_path.write_text(in_path.read_text() + "{not json\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse, "BATCH_ROWS", batch_rows)
        patch.setattr(parse, "TEXT_BLOCK_BYTES", 4096)
        single = directory / f"single.{target}"
        verify_flows_file(topology, in_path, single, progress=False)
        patch.setattr(batch_spark, "spark_session", lambda master: SimpleNamespace(sparkContext=_Context(parallelism)))
        spread = directory / f"spark.{target}"
        summary = verify_flows_file(topology, in_path, spread, progress=False, spark_master="stand-in")
    assert spread.read_bytes() == single.read_bytes()
    assert summary.flows == len(rows) + (1 if source == "jsonl" and broken_line else 0)


def test_engine_spark_needs_a_flows_file_and_engine_is_checked(topology: Topology) -> None:
    result = runner.invoke(app, ["verify", str(EXAMPLE), "--engine", "spark", "--nic", "vm1-nic", "--json"])
    assert result.exit_code == 2 and "--flows" in result.output
    result = runner.invoke(app, ["verify", str(EXAMPLE), "--engine", "hadoop", "--flows", "x.jsonl", "--json"])
    assert result.exit_code == 2 and "local or spark" in result.output


# --- a real standalone cluster ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"the Spark {what} did not start:\n{path.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """The daemon and what it started (the worker's executor), by its process group — the daemon's own PID."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with one worker, and this process's Spark session on it."""
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'opennsg[spark]')")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (Spark needs it; CI installs default-jre-headless)")
    home = Path(pyspark.__file__).parent
    base = tmp_path_factory.mktemp("spark-cluster")
    tools = base / "bin"
    tools.mkdir()
    for name in SHELL_TOOLS:
        found = shutil.which(name)
        if found is not None:
            (tools / name).symlink_to(Path(found).resolve())
    env = {"PATH": str(tools), "HOME": str(base), "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(base / "logs"), "SPARK_CONF_DIR": str(base / "conf"), "LANG": "C.UTF-8"}  # fmt: skip
    (base / "conf").mkdir()
    master_port, master_ui, worker_port, worker_ui = (_free_port() for _ in range(4))
    url = f"spark://127.0.0.1:{master_port}"
    spark_class = str(home / "bin" / "spark-class")
    started: list[subprocess.Popen[bytes]] = []
    previous = {name: os.environ.get(name) for name in ("PATH", "PYSPARK_PYTHON", "SPARK_LOCAL_IP")}
    try:
        master_log = base / "master.log"
        with master_log.open("wb") as log:
            started.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                 "--port", str(master_port), "--webui-port", str(master_ui)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
        _wait_for(master_log, "I have been elected leader", started[0], "master")
        worker_log = base / "worker.log"
        with worker_log.open("wb") as log:
            started.append(subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                 "--port", str(worker_port), "--webui-port", str(worker_ui), "--cores", "2", "--memory", "1g",
                 "--work-dir", str(base / "work"), url],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
        _wait_for(worker_log, "Successfully registered with master", started[1], "worker")
        # The driver, too, outside an activated venv: no python3 on its PATH, no PYSPARK_PYTHON.
        os.environ["PATH"] = str(tools)
        os.environ.pop("PYSPARK_PYTHON", None)
        session = flowlogs_spark.spark_session(url)
        assert session.sparkContext.master == url
        yield url
    finally:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
        for process in reversed(started):
            _stop(process)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout


@pytest.mark.spark
def test_verify_flows_on_the_cluster_writes_the_single_process_bytes(
    cluster: str, topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every format in and out, good and bad rows, several batches per file and several waves: the cluster's
    output file is the single-process one byte for byte, and so is the summary."""
    monkeypatch.setattr(parse, "BATCH_ROWS", 40)
    monkeypatch.setattr(parse, "TEXT_BLOCK_BYTES", 4096)
    catalogue = _rows(topology)
    rows = [catalogue[(i * 7) % len(catalogue)] for i in range(400)]
    for source, target in (("parquet", "parquet"), ("csv", "csv"), ("jsonl", "jsonl"), ("parquet", "jsonl")):
        in_path = tmp_path / f"in.{source}"
        _write(rows, in_path, row_group_size=50)
        local = tmp_path / f"local-{source}.{target}"
        on_cluster = tmp_path / f"cluster-{source}.{target}"
        code_local, out_local = _cli("verify", str(EXAMPLE), "--flows", str(in_path), "--output", str(local), "--json")
        code, out = _cli("verify", str(EXAMPLE), "--flows", str(in_path), "--output", str(on_cluster), "--json",
                         "--engine", "spark", "--master", cluster)  # fmt: skip
        assert code == code_local == 2  # the bad rows are reported, in place
        assert on_cluster.read_bytes() == local.read_bytes(), (source, target)
        summary, summary_local = json.loads(out), json.loads(out_local)
        summary.pop("seconds"), summary_local.pop("seconds")
        assert summary == summary_local and summary["flows"] == len(rows)


@pytest.mark.spark
def test_verify_flows_to_stdout_and_the_master_from_the_environment(
    cluster: str, topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --output the verdict lines go to stdout; OPENNSG_SPARK_MASTER names the master."""
    in_path = tmp_path / "in.jsonl"
    _write(_rows(topology)[:5], in_path)
    _, local = _cli("verify", str(EXAMPLE), "--flows", str(in_path))
    monkeypatch.setenv(flowlogs_spark.MASTER_ENV, cluster)
    code, spread = _cli("verify", str(EXAMPLE), "--flows", str(in_path), "--engine", "spark")
    assert code == 0 and spread == local and len(spread.splitlines()) == 5


@pytest.mark.spark
def test_replay_on_the_cluster_gives_the_same_changes(cluster: str) -> None:
    args = ["flowlogs", "replay", "--config", str(FLOWLOGS / "configs" / "fabrikam-proposed.json"),
            str(FLOWLOGS / "nsg_v2.json"), str(FLOWLOGS / "nsg_v1.json"), "--json"]  # fmt: skip
    code_local, local = _cli(*args)
    code, spread = _cli(*args, "--engine", "spark", "--master", cluster)
    assert code == code_local == 0
    assert json.loads(spread) == json.loads(local) and json.loads(local)["changed"]


@pytest.mark.spark
def test_the_workers_run_the_drivers_interpreter(cluster: str) -> None:
    """The executor's Python workers are this interpreter, although no python3 is on any PATH involved."""
    context = flowlogs_spark.spark_session(cluster).sparkContext
    executables = set(context.parallelize(range(4), 2).map(lambda _: sys.executable).collect())
    assert executables == {sys.executable}
