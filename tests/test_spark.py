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
import subprocess
import sys
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
from opennsg.flowlogs.sparkcluster import StandaloneCluster, tools_without_python
from opennsg.model import Topology

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "how-nsgs-filter-traffic.json"
FLOWLOGS = Path(__file__).parent / "data" / "flowlogs"
runner = CliRunner()


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

    def map(self, function: Callable[[Any], Any]) -> _Rdd:
        return _Rdd([[function(item) for item in p] for p in self.partitions])

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


@pytest.mark.parametrize("config", sorted((FLOWLOGS / "configs").glob("*.json")), ids=lambda p: p.stem)
@pytest.mark.parametrize(("task_flows", "parallelism"), [(1, 1), (3, 2), (1 << 18, 3)])
def test_replay_tasks_give_the_local_changes(
    config: Path, task_flows: int, parallelism: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay's distinct flows cut into any number of task slices, each decided in a 'worker' against the broadcast
    topology: the same changes and totals as the local replay."""
    from opennsg.flowlogs.reader import FlowLogReader
    from opennsg.flowlogs.replay import replay

    topology = load_paths([config])
    logs = sorted(p for p in FLOWLOGS.glob("*.json") if p.name not in ("malformed.json", "truncated.json"))

    def replayed(**spark: Any) -> dict[str, Any]:
        reader = FlowLogReader(logs)
        return replay(topology, reader.batches(), reader.stats, **spark).to_json()

    local = replayed()
    monkeypatch.setattr(flowlogs_spark, "TASK_FLOWS", task_flows)
    monkeypatch.setattr(
        flowlogs_spark, "spark_session", lambda master: SimpleNamespace(sparkContext=_Context(parallelism))
    )
    assert replayed(engine="spark", spark_master="stand-in") == local and local["totals"]["flows"] > 0


# --- replay spread by file: each task reads, folds and decides its blobs; the driver merges -----------------------

_MACS = ("000D3AF87856", "00-0d-3a-f8-78-56", "000D3A000002")  # fabrikam's NIC (two spellings), a stranger's
_DAMAGE = ("none", "unknown record", "truncated", "missing", "not a flow log")
_CRITERIA = (None, "DstPort=22,443,65535 && Direction=Inbound || Protocol=UDP", "SrcIP=52.1.2.3")


def _replay_topology() -> Topology:
    """fabrikam's NIC (by MAC, HTTPS allowed) and a second NIC found by its local address 10.5.16.5, no NSG."""
    from tests.test_flowlogs import RG, SUB, fabrikam, inbound_allow

    from opennsg.model import IpConfiguration, NetworkInterface, Protocol
    from opennsg.model.ids import network_id

    topology = fabrikam(inbound_allow("allow-https", 100, Protocol.TCP, "443"))
    subnet = next(iter(topology.vnets.values())).subnets[0]
    nic_id = network_id(SUB, RG, "networkInterfaces", "vm2-nic")
    config = IpConfiguration(f"{nic_id}/ipConfigurations/c", "c", "10.5.16.5", subnet.id, primary=True)
    return topology.with_(nics=[*topology.nics.values(), NetworkInterface(nic_id, "vm2-nic", "eastus",
                                                                           ip_configurations=(config,))])  # fmt: skip


def _write_blob(path: Path, groups: list[list[Any]], mac: str, damage: str) -> None:
    """An NSG v2 blob of ``groups`` of tuples (some spoiled), damaged as told."""
    from tests.test_flowlogs_fast import write_log

    if damage == "missing":
        return
    write_log(path, groups, mac=mac)
    if damage == "unknown record":
        document = json.loads(path.read_text())
        document["records"].insert(len(document["records"]) // 2, {"category": "Unknown"})
        path.write_text(json.dumps(document))
    elif damage == "truncated":
        text = path.read_text()
        path.write_text(text[: len(text) * 2 // 3])
    elif damage == "not a flow log":
        path.write_text('{"value": []}')


def _blob_groups() -> st.SearchStrategy[list[list[Any]]]:
    from tests.test_flowlogs_fast import SPOIL, good_v2

    at_vm2 = good_v2.map(lambda t: t.replace("10.0.0.5", "10.5.16.5"))  # the second NIC's address
    spoiled = st.tuples(at_vm2, st.one_of(st.none(), st.none(), st.sampled_from(SPOIL)))
    groups = st.lists(st.lists(spoiled, min_size=1, max_size=6), min_size=1, max_size=4)
    return groups.map(lambda gs: [[t if spoil is None else spoil(t) for t, spoil in g] for g in gs])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    blobs=st.lists(st.tuples(_blob_groups(), st.sampled_from(_MACS), st.sampled_from(_DAMAGE)), min_size=1, max_size=5),
    criteria=st.sampled_from(_CRITERIA),
    parallelism=st.integers(1, 3),
    tasks_per_core=st.integers(1, 2),
    bucket=st.sampled_from([1, 2, 1 << 14]),
    visible=st.booleans(),
)
def test_replay_spread_by_file_gives_the_local_bytes(
    tmp_path_factory: pytest.TempPathFactory,
    blobs: list[tuple[list[list[Any]], str, str]],
    criteria: str | None,
    parallelism: int,
    tasks_per_core: int,
    bucket: int,
    visible: bool,
) -> None:
    """Blobs with garbage tuples, unknown records, truncated, missing and foreign files, read by 'tasks' a blob or
    a run of blobs each (as Spark cuts the list), folded, filtered and decided there, merged here — or, where the
    executors do not see the files, read here and only decided there: the replay's JSON is the local one, problems
    and their order included."""
    from opennsg.flowlogs.filtering import FlowFilter
    from opennsg.flowlogs.reader import FlowLogReader
    from opennsg.flowlogs.replay import replay

    directory = tmp_path_factory.mktemp("blobs")
    paths = []
    for k, (groups, mac, damage) in enumerate(blobs):
        paths.append(directory / f"h{k:02d}" / "PT1H.json")
        paths[-1].parent.mkdir()
        _write_blob(paths[-1], groups, mac, damage)
    topology = _replay_topology()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FlowLogReader.__init__, "__defaults__", (bucket,))  # several buckets per blob, or one
        reader = FlowLogReader([directory, *(p for p in paths if not p.exists())])
        batches = reader.batches() if criteria is None else FlowFilter.parse(criteria).apply(reader.batches())
        local = replay(topology, batches, reader.stats).to_json()
        patch.setattr(flowlogs_spark, "FILE_TASKS_PER_CORE", tasks_per_core)
        if not visible:
            patch.setattr(flowlogs_spark, "_files_visible", lambda context, wheres, stamps: False)
        patch.setattr(
            flowlogs_spark, "spark_session", lambda master: SimpleNamespace(sparkContext=_Context(parallelism))
        )
        spread = flowlogs_spark.replay_files_on_spark(topology, reader.files, criteria, master="stand-in")
    assert json.dumps(spread.to_json()) == json.dumps(local)


def test_each_blobs_problems_come_before_the_next_blobs(tmp_path: Path) -> None:
    """A blob's bad tuples are reported before the next blob's bad records (a task per blob reports them so)."""
    from tests.test_flowlogs_fast import write_log

    from opennsg.flowlogs.reader import FlowLogReader

    write_log(tmp_path / "a.json", [["1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,C,1,2,3,4", "bad"]])
    _write_blob(tmp_path / "b.json", [["also bad"]], _MACS[0], "unknown record")
    reader = FlowLogReader([tmp_path / "a.json", tmp_path / "b.json"])
    list(reader.batches())
    assert [(Path(p.file).name, p.position.split(".")[0]) for p in reader.stats.problems] == [
        ("a.json", "records[0]"), ("b.json", "records[0]"), ("b.json", "records[1]")
    ]  # fmt: skip


def test_a_master_that_does_not_answer_is_reported_at_once() -> None:
    """No JVM is started, nor a minute of Spark's own retries waited, for a master nobody listens at."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'opennsg[spark]')")
    from opennsg.flowlogs.sparkcluster import _free_port
    from opennsg.model.errors import OpenNsgError

    url = f"spark://127.0.0.1:{_free_port()}"
    with pytest.raises(OpenNsgError) as raised:
        flowlogs_spark.spark_session(url)
    error = raised.value.errors[0]
    assert error.code == "SparkUnavailable" and "No Spark master answers at 127.0.0.1:" in error.message


def test_a_daemon_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    """A cluster whose daemons find no Java fails with the daemon's log, at once, and leaves nothing running."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'opennsg[spark]')")
    from opennsg.flowlogs.sparkcluster import ClusterError

    tools = tools_without_python(tmp_path / "bin")
    (tools / "java").unlink(missing_ok=True)
    spark_cluster = StandaloneCluster(tmp_path / "cluster", path=str(tools))
    with pytest.raises(ClusterError, match="the Spark master did not start; its log"), spark_cluster:
        pass
    assert spark_cluster.process_groups == ()


def test_engine_spark_needs_a_flows_file_and_engine_is_checked(topology: Topology) -> None:
    result = runner.invoke(app, ["verify", str(EXAMPLE), "--engine", "spark", "--nic", "vm1-nic", "--json"])
    assert result.exit_code == 2 and "--flows" in result.output
    result = runner.invoke(app, ["verify", str(EXAMPLE), "--engine", "hadoop", "--flows", "x.jsonl", "--json"])
    assert result.exit_code == 2 and "local or spark" in result.output


@pytest.mark.parametrize("command", ["verify", "replay"])
def test_without_pyspark_both_commands_say_which_extra_and_exit_2(
    command: str, topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = tmp_path / "in.jsonl"
    _write(_rows(topology)[:2], flows)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import pyspark.sql now raises ImportError
    if command == "verify":
        args = ["verify", str(EXAMPLE), "--flows", str(flows)]
    else:
        args = ["flowlogs", "replay", "--config", str(FLOWLOGS / "configs" / "fabrikam-proposed.json"),
                str(FLOWLOGS / "nsg_v2.json")]  # fmt: skip
    result = runner.invoke(app, [*args, "--engine", "spark"])
    assert result.exit_code == 2 and "pip install 'opennsg[spark]'" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_missing_flows_file_fails_before_spark_starts(tmp_path: Path) -> None:
    """The file is opened first: no JVM is started (nor a master sought) for a file that is not there."""
    missing = tmp_path / "missing.parquet"
    args = ["verify", str(EXAMPLE), "--flows", str(missing), "--engine", "spark", "--master", "spark://127.0.0.1:9"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 2 and "FileNotFound" in result.output


# --- a real standalone cluster ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with one worker, and this process's Spark session on it; the daemons
    and the driver run with a PATH that has no python3, and without PYSPARK_PYTHON."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'opennsg[spark]')")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (Spark needs it; CI installs default-jre-headless)")
    base = tmp_path_factory.mktemp("spark-cluster")
    tools = str(tools_without_python(base / "bin"))
    previous = {name: os.environ.get(name) for name in ("PATH", "PYSPARK_PYTHON", "SPARK_LOCAL_IP")}
    spark_cluster = StandaloneCluster(base, workers=1, cores=2, memory="1g", path=tools)
    try:
        spark_cluster.start(wait_for_workers=False)  # the driver's JVM starts while the worker's does
        os.environ["PATH"] = tools
        os.environ.pop("PYSPARK_PYTHON", None)
        session = flowlogs_spark.spark_session(spark_cluster.url)  # returns once the worker runs an executor
        spark_cluster.wait_for_workers()
        assert session.sparkContext.master == spark_cluster.url
        yield spark_cluster.url
    finally:
        flowlogs_spark.stop_spark()  # the session and the driver's JVM
        spark_cluster.stop()
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
    """Good and bad rows, several batches per file and several waves: the cluster's output file is the
    single-process one byte for byte, and so is the summary."""
    monkeypatch.setattr(parse, "BATCH_ROWS", 70)  # 6 batches: two waves of tasks on the worker's two cores
    monkeypatch.setattr(parse, "TEXT_BLOCK_BYTES", 4096)
    catalogue = _rows(topology)
    rows = [catalogue[(i * 7) % len(catalogue)] for i in range(400)]
    # Row groups read on the worker, and batches read here and sent (the stand-in tests above cover the other pairs).
    for source, target in (("parquet", "parquet"), ("jsonl", "csv")):
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


def _garbled_blobs(directory: Path) -> list[Path]:
    """Three hourly blobs of FLOWLOGS' tuples: bad tuples in one, an unknown record in the next, a cut in the last."""
    from tests.test_flowlogs_fast import write_log

    good = ["1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,C,1,2,3,4",
            "1542110377,52.1.2.3,10.5.16.4,44931,22,T,I,A,B,,,,", "1542110377,52.1.2.3,10.5.16.5,44931,80,T,I,D,B,,,,",
            "1542110377,94.102.49.190,10.5.16.4,28746,443,U,I,D,B,,,,"]  # fmt: skip
    blobs = []
    for hour, damage in enumerate(("none", "unknown record", "truncated")):
        blobs.append(directory / f"h={hour:02d}" / "PT1H.json")
        blobs[-1].parent.mkdir(parents=True)
        groups = [[*good[hour:], "garbage", good[0].replace("443", "99999")], good[: hour + 1]]
        if damage == "none":
            write_log(blobs[-1], groups)
        else:
            _write_blob(blobs[-1], groups, _MACS[1], damage)
    return blobs


@pytest.mark.spark
def test_replay_on_the_cluster_reads_the_blobs_there_and_gives_the_local_bytes(
    cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task per blob (bad tuples, an unknown record, a cut file, FLOWLOGS' real-shaped logs) read and folded on
    the worker: the JSON and the table the local replay prints, byte for byte, with the same exit code."""
    from opennsg.arm.export import export_topology

    _garbled_blobs(tmp_path / "logs")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(export_topology(_replay_topology())))
    folded: list[int] = []
    merge = flowlogs_spark.merge_folded
    monkeypatch.setattr(flowlogs_spark, "merge_folded", lambda parts: folded.append(len(parts)) or merge(parts))
    logs = [str(tmp_path / "logs"), str(FLOWLOGS / "nsg_v2.json"), str(FLOWLOGS / "vnet.json")]
    for shown in (["--json"], []):
        args = ["flowlogs", "replay", "--config", str(config), *logs, *shown]
        local = runner.invoke(app, args)
        spread = runner.invoke(app, [*args, "--engine", "spark", "--master", cluster])
        assert (spread.exit_code, spread.stdout, spread.stderr) == (local.exit_code, local.stdout, local.stderr)
    assert local.exit_code == 2 and "garbage" in local.stderr and "truncated" in local.stderr
    assert folded == [5, 5]  # the driver merged one result per blob: the tasks read them


@pytest.mark.spark
def test_the_workers_run_the_drivers_interpreter(cluster: str) -> None:
    """The executor's Python workers are this interpreter, although no python3 is on any PATH involved."""
    context = flowlogs_spark.spark_session(cluster).sparkContext
    executables = set(context.parallelize(range(4), 2).map(lambda _: sys.executable).collect())
    assert executables == {sys.executable}


@pytest.mark.spark
def test_the_command_outside_any_venv_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    """``opennsg flowlogs replay --engine spark`` as its own process, started by the interpreter's path with no
    venv activated, no python3 on PATH and no PYSPARK_PYTHON: its output is the local replay's. Run last, it first
    stops this process's session and JVM (the worker's cores go to the command), checking that the JVM is gone."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    flowlogs_spark.stop_spark()
    assert gateway is None or gateway.proc.poll() is not None
    blobs = _garbled_blobs(tmp_path / "logs")
    args = ["flowlogs", "replay", "--config", str(FLOWLOGS / "configs" / "fabrikam-proposed.json"),
            str(tmp_path / "logs"), str(FLOWLOGS / "nsg_v1.json"), "--json", "--allow-problems"]  # fmt: skip
    local = runner.invoke(app, args)
    environment = {name: value for name, value in os.environ.items() if name not in ("VIRTUAL_ENV", "PYSPARK_PYTHON")}
    assert all(shutil.which(name, path=environment["PATH"]) is None for name in ("python", "python3"))
    process = subprocess.run([sys.executable, "-m", "opennsg", *args, "--engine", "spark", "--master", cluster],
                             env=environment, capture_output=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert process.returncode == local.exit_code == 0, process.stderr.decode()[-3000:]
    assert process.stdout.decode() == local.stdout and json.loads(local.stdout)["read"]["files"] == len(blobs) + 1
