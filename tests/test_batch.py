"""Batch IP flow verify over files: every format in and out, bad rows in place, names vs ids, order, and verdicts
identical to ``Engine.verify`` row by row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.strategies import topology_and_flows

from opennsg.arm import load_paths
from opennsg.batch import parse, verify_flows_file
from opennsg.batch import verify as batch_verify
from opennsg.batch.parse import FIELDS
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Topology
from opennsg.model.errors import OpenNsgError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "how-nsgs-filter-traffic.json"


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_paths([EXAMPLE])


def _nic(topology: Topology, name: str) -> tuple[str, str]:
    nic = next(n for n in topology.nics.values() if n.name == name)
    address = nic.ip_configurations[0].private_ip_address
    assert address is not None
    return nic.id, address


def _good_rows(topology: Topology) -> list[dict[str, Any]]:
    vm1_id, vm1_ip = _nic(topology, "vm1-nic")
    _, vm3_ip = _nic(topology, "vm3-nic")
    return [
        {"targetResourceId": "vm1-nic", "direction": "Inbound", "protocol": "TCP", "localIPAddress": vm1_ip,
         "localPort": "80", "remoteIPAddress": "8.8.8.8", "remotePort": "1234"},
        {"targetNicResourceId": vm1_id, "direction": "outbound", "protocol": "icmp", "localIPAddress": vm1_ip,
         "localPort": "*", "remoteIPAddress": "1.1.1.1", "remotePort": ""},
        {"targetResourceId": "VM3", "direction": "Inbound", "protocol": "6", "localIPAddress": vm3_ip,
         "localPort": "22", "remoteIPAddress": "10.0.0.9", "remotePort": "50000"},
        {"targetResourceId": "vm3-nic", "direction": "Outbound", "protocol": "TCP", "localIPAddress": vm3_ip,
         "localPort": "1000", "remoteIPAddress": "93.184.216.34", "remotePort": "25"},
        {"targetResourceId": vm1_id.upper(), "direction": "Outbound", "protocol": "UDP", "localIPAddress": vm1_ip,
         "localPort": "5353", "remoteIPAddress": "168.63.129.16", "remotePort": "53"},
    ]  # fmt: skip


def _bad_rows(topology: Topology) -> list[tuple[dict[str, Any], str]]:
    _, vm1_ip = _nic(topology, "vm1-nic")
    base = {"targetResourceId": "vm1-nic", "direction": "Inbound", "protocol": "TCP", "localIPAddress": vm1_ip,
            "localPort": "80", "remoteIPAddress": "8.8.8.8", "remotePort": "1"}  # fmt: skip
    return [
        ({**base, "targetResourceId": "no-such-vm"}, "NetworkInterfaceNotFound"),
        ({**base, "targetResourceId": None}, "MissingRequiredProperty"),
        ({**base, "direction": "Sideways"}, "InvalidDirection"),
        ({**base, "protocol": "GRE"}, "InvalidProtocol"),
        ({**base, "protocol": "256"}, "InvalidProtocol"),
        ({**base, "localIPAddress": "10.0.0.256"}, "InvalidIPAddress"),
        ({**base, "remoteIPAddress": "2001:db8::zz"}, "InvalidIPAddress"),
        ({**base, "localPort": "65536"}, "InvalidPort"),
        ({**base, "remotePort": "-1"}, "InvalidPort"),
        ({**base, "remoteIPAddress": "2001:db8::1"}, "AddressFamilyMismatch"),
        ({**base, "localIPAddress": "10.9.9.9"}, "IpAddressNotOnNetworkInterface"),
    ]


def _expected(topology: Topology, row: dict[str, Any]) -> dict[str, str]:
    engine = Engine(topology)
    target = row.get("targetNicResourceId") or row["targetResourceId"]
    flow = Flow.make(
        row["direction"], row["protocol"], row["localIPAddress"], row["localPort"], row["remoteIPAddress"],
        row["remotePort"],
    )  # fmt: skip
    verdict = engine.verify(target, flow)
    out = {"access": verdict.access.value}
    for key, value in (
        ("ruleName", verdict.rule_name),
        ("networkSecurityGroupId", verdict.nsg_id),
        ("appliedTo", verdict.applied_to),
    ):
        if value is not None:
            out[key] = value
    return out


def _write_input(rows: list[dict[str, Any]], path: Path) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return
    columns = {f: pa.array([None if r.get(f) is None else str(r[f]) for r in rows], pa.string()) for f in FIELDS}
    table = pa.table(columns)
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)


def _read_output(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    nulls = pacsv.ConvertOptions(strings_can_be_null=True)  # absent fields are written as empty, unquoted
    table = pacsv.read_csv(path, convert_options=nulls) if path.suffix == ".csv" else pq.read_table(path)
    out: list[dict[str, Any]] = []
    for row in table.to_pylist():
        if row.get("error") or row.get("errorCode"):
            error = row.get("error") or {"code": row["errorCode"], "message": row["errorMessage"]}
            out.append({"error": error})
        else:
            out.append({k: v for k, v in row.items() if v is not None and k in _OUTPUT_KEYS})
    return out


_OUTPUT_KEYS = ("access", "ruleName", "networkSecurityGroupId", "appliedTo")


@pytest.mark.parametrize("source", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("target", ["jsonl", "csv", "parquet"])
def test_every_format_in_and_out_matches_engine_and_keeps_order(
    topology: Topology, tmp_path: Path, source: str, target: str
) -> None:
    good = _good_rows(topology)
    bad = _bad_rows(topology)
    rows = [good[0], bad[0][0], *good[1:3], *(r for r, _ in bad[1:]), *good[3:]]
    codes = {id(r): code for r, code in bad}
    in_path, out_path = tmp_path / f"in.{source}", tmp_path / f"out.{target}"
    _write_input(rows, in_path)
    summary = verify_flows_file(topology, in_path, out_path, progress=False)
    output = _read_output(out_path)
    assert len(output) == len(rows)
    for row, got in zip(rows, output, strict=True):
        if id(row) in codes:
            assert got["error"]["code"] == codes[id(row)], (row, got)
            assert got["error"]["message"]
        else:
            assert got == _expected(topology, row), row
    assert summary.errors == len(bad)
    assert summary.flows == len(rows)
    assert summary.allowed + summary.denied == len(good)
    assert summary.exit_code == 2


def test_stdout_carries_exactly_the_json_lines(
    topology: Topology, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _good_rows(topology)
    in_path = tmp_path / "flows.jsonl"
    in_path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    summary = verify_flows_file(topology, in_path, None, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == [_expected(topology, r) for r in rows]
    assert summary.exit_code == 0 and summary.errors == 0


def test_unreadable_json_lines_become_error_rows_in_place(topology: Topology, tmp_path: Path) -> None:
    rows = _good_rows(topology)[:2]
    in_path, out_path = tmp_path / "flows.jsonl", tmp_path / "out.jsonl"
    in_path.write_text(json.dumps(rows[0]) + "\n{not json\n[1, 2]\n" + json.dumps(rows[1]) + "\n")
    summary = verify_flows_file(topology, in_path, out_path, progress=False)
    output = _read_output(out_path)
    assert [o.get("error", {}).get("code") for o in output] == [None, "InvalidJson", "InvalidJson", None]
    assert output[0] == _expected(topology, rows[0]) and output[3] == _expected(topology, rows[1])
    assert summary.exit_code == 2


def test_json_array_input_and_numeric_fields(topology: Topology, tmp_path: Path) -> None:
    rows = _good_rows(topology)
    numeric = {**rows[0], "localPort": 80, "remotePort": 1234, "protocol": 6}
    in_path, out_path = tmp_path / "flows.json", tmp_path / "out.jsonl"
    in_path.write_text(json.dumps([numeric, rows[1]]))
    verify_flows_file(topology, in_path, out_path, progress=False)
    assert _read_output(out_path) == [_expected(topology, rows[0]), _expected(topology, rows[1])]


def test_unknown_extension_is_rejected(topology: Topology, tmp_path: Path) -> None:
    path = tmp_path / "flows.txt"
    path.write_text("")
    with pytest.raises(ValueError, match="unknown flow file type"):
        verify_flows_file(topology, path, None, progress=False)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(topology_and_flows(max_flows=25, avnm=True))
def test_batch_equals_engine_verify_on_random_topologies(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[Topology, list[tuple[str, Flow]]]
) -> None:
    topology, pairs = case
    engine = Engine(topology)
    rows: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    for nic_id, flow in pairs:
        rows.append(
            {"targetNicResourceId": nic_id, "direction": flow.direction.value, "protocol": str(flow.protocol),
             "localIPAddress": str(flow.local_ip), "localPort": "*" if flow.local_port is None else flow.local_port,
             "remoteIPAddress": str(flow.remote_ip),
             "remotePort": "*" if flow.remote_port is None else flow.remote_port}
        )  # fmt: skip
        try:
            engine.verify(nic_id, flow)
        except OpenNsgError as exc:
            expected.append({"error": exc.errors[0].code})
            continue
        expected.append(_expected(topology, {**rows[-1], "targetResourceId": nic_id}))
    # every row again, in reverse: distinct rows are decided once and each repeat gets its own answer
    rows, expected = rows + rows[::-1], expected + expected[::-1]
    directory = tmp_path_factory.mktemp("batch")
    in_path, out_path = directory / "flows.parquet", directory / "out.jsonl"
    _write_input(rows, in_path)
    verify_flows_file(topology, in_path, out_path, progress=False)
    got = [{"error": o["error"]["code"]} if "error" in o else o for o in _read_output(out_path)]
    assert got == expected
    uncached = directory / "uncached.jsonl"
    verify_flows_file(topology, in_path, uncached, progress=False, disk_cache=False)
    assert uncached.read_bytes() == out_path.read_bytes()


def test_repeated_flows_are_decided_once_and_every_row_gets_its_own_verdict(topology: Topology, tmp_path: Path) -> None:
    """Real files repeat flows; deciding each distinct flow once must leave every row's answer (and its errors, and
    the NIC's own-address check) exactly as deciding the rows one by one."""
    _, vm1_ip = _nic(topology, "vm1-nic")
    good = _good_rows(topology)
    foreign = {**good[0], "localIPAddress": "10.0.1.99"}  # not VM1's address: an error row, repeated
    rows = [good[i % len(good)] for i in range(300)] + [foreign] * 7 + [good[0]] * 5
    source = tmp_path / "flows.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([(f, pa.string()) for f in FIELDS])), source)
    out = tmp_path / "verdicts.jsonl"
    verify_flows_file(topology, source, out, progress=False)
    answers = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(answers) == len(rows)
    engine = Engine(topology)
    for row, answer in zip(rows, answers, strict=True):
        if row is foreign:
            assert answer["error"]["code"] == "IpAddressNotOnNetworkInterface"
            continue
        target = row.get("targetResourceId") or row["targetNicResourceId"]
        local_port = None if row["localPort"] in ("*", "") else int(row["localPort"])
        remote_port = None if row["remotePort"] in ("*", "") else int(row["remotePort"])
        flow = Flow.make(row["direction"], row["protocol"], row["localIPAddress"], local_port,
                         row["remoteIPAddress"], remote_port)  # fmt: skip
        verdict = engine.verify(target, flow)
        assert (answer["access"], answer.get("ruleName")) == (verdict.access.value, verdict.rule_name)
    assert vm1_ip != "10.0.1.99"


# --- fast paths: streamed batches, distinct rows, columnar JSON lines — each must equal the careful path ---------


def _run(topology: Topology, source: Path, target: Path, monkeypatch: pytest.MonkeyPatch, **knobs: Any) -> bytes:
    """Verify ``source`` into ``target`` with module knobs set (batch sizes, careful JSON) and return its bytes."""
    with monkeypatch.context() as patch:
        if knobs.get("careful_json"):

            def refuse(path: Path) -> Any:
                raise parse.NotSimpleJson
                yield  # pragma: no cover - a generator, as the real reader

            patch.setattr(parse, "iter_json", refuse)
        if "batch_rows" in knobs:
            patch.setattr(parse, "BATCH_ROWS", knobs["batch_rows"])
            patch.setattr(parse, "TEXT_BLOCK_BYTES", max(4096, knobs["batch_rows"] * 40))
        if "write_rows" in knobs:
            patch.setattr(batch_verify, "WRITE_ROWS", knobs["write_rows"])
        if "memo_rows" in knobs:
            patch.setattr(batch_verify, "MEMO_ROWS", knobs["memo_rows"])
        verify_flows_file(topology, source, target, progress=False)
    return target.read_bytes()


def _mixed_rows(topology: Topology) -> list[dict[str, Any]]:
    good = _good_rows(topology)
    bad = [r for r, _ in _bad_rows(topology)]
    return [good[i % len(good)] if i % 3 else bad[i % len(bad)] for i in range(97)]


@pytest.mark.parametrize("source", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("target", ["jsonl", "csv", "parquet"])
def test_streamed_batches_write_the_same_bytes_as_one_batch(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, target: str
) -> None:
    """Rows are read, decided and written in batches; any batch size (a dictionary per Parquet row group, repeated
    verdicts and problems across batches) gives the very bytes one whole-file batch gives."""
    rows = _mixed_rows(topology)
    in_path = tmp_path / f"in.{source}"
    if source == "parquet":  # several row groups, each with its own dictionaries
        table = pa.Table.from_pylist(rows, schema=pa.schema([(f, pa.string()) for f in FIELDS]))
        pq.write_table(table, in_path, row_group_size=10)
    else:
        _write_input(rows, in_path)
    whole = _run(topology, in_path, tmp_path / f"whole.{target}", monkeypatch, batch_rows=1 << 20)
    for size in (1, 7, 64):
        parts = _run(topology, in_path, tmp_path / f"b{size}.{target}", monkeypatch, batch_rows=size, write_rows=size)
        if target == "parquet":  # row groups (and each one's dictionaries) follow the write size; the content not
            streamed, one = pq.read_table(tmp_path / f"b{size}.{target}"), pq.read_table(tmp_path / f"whole.{target}")
            assert streamed.schema == one.schema and streamed.to_pylist() == one.to_pylist()
        else:
            assert parts == whole, size
    assert len(_read_output(tmp_path / f"whole.{target}")) == len(rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rows_decided_in_earlier_batches_answer_as_deciding_every_batch_afresh(
    topology: Topology, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """A distinct row is decided in the first batch that has it and remembered by its texts (``_Memo``): rows met
    again in later batches, under other dictionaries (Parquet row groups), texts equal but for spaces or case (the
    same flow, another message), nulls and empty texts, read exactly as one whole-file batch reads them."""
    good = _good_rows(topology)
    bad = [r for r, _ in _bad_rows(topology)]
    variants = [{**good[0], "localPort": " 80"}, {**good[0], "direction": "INBOUND"}, {**good[1], "remotePort": None},
                {**bad[6], "remoteIPAddress": " 2001:db8::zz"}, {**good[2], "targetResourceId": ""}]  # fmt: skip
    pool = [*good, *bad, *variants]
    rows = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=60))
    directory = tmp_path_factory.mktemp("memo")
    one, parts = directory / "one.parquet", directory / "parts.parquet"
    table = pa.Table.from_pylist(rows, schema=pa.schema([(f, pa.string()) for f in FIELDS]))
    pq.write_table(table, one)  # one row group: one batch, nothing remembered
    pq.write_table(table, parts, row_group_size=data.draw(st.integers(1, 64)))
    size = data.draw(st.integers(1, 64))
    memo_rows = data.draw(st.sampled_from([batch_verify.MEMO_ROWS, 0, 3]))  # a full memo remembers no more
    with pytest.MonkeyPatch.context() as patch:
        whole = _run(topology, one, directory / "whole.jsonl", patch, batch_rows=1 << 20)
        streamed = _run(topology, parts, directory / "streamed.jsonl", patch, batch_rows=size, memo_rows=memo_rows)
    assert streamed == whole
    assert len(whole.splitlines()) == len(rows)


def test_the_memo_repacks_as_numbers_grow_and_finds_nothing_beyond_63_bits() -> None:
    import numpy as np

    memo = batch_verify._Memo(2)
    column = [np.array([1, 2], dtype=np.int64), np.array([3, 1], dtype=np.int64)]
    assert not memo.find(column, [3, 4])[0].any()  # nothing remembered yet
    memo.add(column, np.array([7, -1], dtype=np.int32), np.array([-1, 5], dtype=np.int32))
    asked = [np.array([2, 1, 9000], dtype=np.int64), np.array([1, 3, 3], dtype=np.int64)]
    found, code, problem = memo.find(asked, [9001, 4])  # the first field now needs 14 bits, not 2
    assert found.tolist() == [True, True, False]
    assert code.tolist() == [-1, 7, -1] and problem.tolist() == [5, -1, -1]
    assert not memo.find(asked, [1 << 40, 1 << 30])[0].any()  # 71 bits: every row is decided afresh


@pytest.mark.parametrize("target", ["jsonl", "csv", "parquet"])
def test_a_first_bad_row_after_written_chunks_gives_the_bytes_of_one_batch(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """The error columns exist only when a row is bad: a bad row first met after chunks were written starts the
    file again with them, and the file is the one deciding the whole input at once writes."""
    good = _good_rows(topology)
    rows = [good[i % len(good)] for i in range(50)] + [_bad_rows(topology)[0][0]] + good[:9]
    in_path = tmp_path / "in.parquet"
    _write_input(rows, in_path)
    whole = _run(topology, in_path, tmp_path / f"whole.{target}", monkeypatch, batch_rows=1 << 20, write_rows=8)
    streamed = _run(topology, in_path, tmp_path / f"streamed.{target}", monkeypatch, batch_rows=8, write_rows=8)
    assert streamed == whole
    assert len(_read_output(tmp_path / f"whole.{target}")) == len(rows)


def test_the_careful_reader_taking_over_late_restarts_the_written_file(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JSON lines file the columnar reader gives up on after some batches were written is written again, whole,
    from the careful reader's rows."""
    good = _good_rows(topology)
    lines = [json.dumps(good[i % len(good)]) for i in range(200)] + ['{"direction": ["Inbound"]}']
    in_path = tmp_path / "in.jsonl"
    in_path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(parse, "CHECK_BLOCK_BYTES", 4096)
    for target in ("jsonl", "parquet"):
        careful = _run(topology, in_path, tmp_path / f"careful.{target}", monkeypatch, careful_json=True, write_rows=16)
        late = _run(topology, in_path, tmp_path / f"late.{target}", monkeypatch, batch_rows=16, write_rows=16)
        assert late == careful
        assert len(_read_output(tmp_path / f"late.{target}")) == len(lines)


def test_a_failed_run_leaves_the_previous_output_and_no_temporary(
    topology: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _good_rows(topology)
    in_path = tmp_path / "in.parquet"
    _write_input([good[i % len(good)] for i in range(64)], in_path)
    out = tmp_path / "out.parquet"
    out.write_bytes(b"the previous verdicts")
    decide = batch_verify.FlowDecider.decide
    calls = []

    def failing(self: batch_verify.FlowDecider, batch: batch_verify.Batch) -> Any:
        calls.append(len(batch))
        if len(calls) == 3:
            raise OSError("the disk went away")
        return decide(self, batch)

    monkeypatch.setattr(batch_verify.FlowDecider, "decide", failing)
    monkeypatch.setattr(parse, "BATCH_ROWS", 8)
    monkeypatch.setattr(batch_verify, "WRITE_ROWS", 8)
    with pytest.raises(OSError, match="disk went away"):
        verify_flows_file(topology, in_path, out, progress=False)
    assert out.read_bytes() == b"the previous verdicts"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "out.parquet"]


_JSON_TEXTS = st.sampled_from(
    ["Inbound", "outbound", "TCP", "udp", "6", "80", "*", "", " 443 ", "10.0.0.4", "8.8.8.8", "2001:db8::1",
     "vm1-nic", "VM3", "no-such", "x\u2028y", "}{", "65536"]
)  # fmt: skip
_JSON_VALUES = st.one_of(
    _JSON_TEXTS, st.integers(-2, 70000), st.booleans(), st.none(), st.floats(allow_nan=False, width=32),
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.sampled_from(["a"]), st.integers(0, 3), max_size=1),
)  # fmt: skip


@st.composite
def _json_lines(draw: st.DrawFn, topology: Topology) -> bytes:
    """JSON lines files as users and tools write them, and as they should not: string or numeric fields, other
    types, missing and extra keys, repeated keys, blank lines, CRLF, a BOM, bad lines, two objects on a line."""
    vm1_id, vm1_ip = _nic(topology, "vm1-nic")
    base = {"targetResourceId": "vm1-nic", "direction": "Inbound", "protocol": "TCP", "localIPAddress": vm1_ip,
            "localPort": "80", "remoteIPAddress": "8.8.8.8", "remotePort": "1234"}  # fmt: skip
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 12))):
        row: dict[str, Any] = dict(base)
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            row[field] = draw(_JSON_VALUES)
        if draw(st.booleans()):
            row["targetNicResourceId"] = vm1_id
        line = json.dumps(row, ensure_ascii=draw(st.booleans()))
        odd = ["", "  ", "{not json", "[1, 2]", line + " " + line, line.replace(', "', ',\r"', 1), '{"a": 1, "a": 2}']
        line = draw(st.sampled_from([line, line, line, *odd]))
        lines.append(line)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_columnar_json_lines_equal_the_careful_reader(
    topology: Topology, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """pyarrow reads the simple JSON lines files; whatever it takes, the output is byte for byte what the careful
    (line by line ``json.loads``) reader gives, and whatever it would read differently goes to the careful one."""
    directory = tmp_path_factory.mktemp("jsonl")
    source = directory / "in.jsonl"
    source.write_bytes(data.draw(_json_lines(topology)))
    with pytest.MonkeyPatch.context() as patch:
        # the check hands pyarrow the file in pieces cut at line ends: small pieces test the cutting
        patch.setattr(parse, "CHECK_BLOCK_BYTES", data.draw(st.sampled_from([1, 7, 64, 1 << 22])))
        fast = _run(
            topology, source, directory / "fast.jsonl", patch, batch_rows=data.draw(st.sampled_from([2, 1 << 20]))
        )
        careful = _run(topology, source, directory / "careful.jsonl", patch, careful_json=True)
    assert fast == careful


def test_simple_json_lines_take_the_columnar_reader(topology: Topology, tmp_path: Path) -> None:
    """The shape Network Watcher and most tools write (one object a line, string or integer fields) is read by
    pyarrow, so the fast path is the one users get."""
    source = tmp_path / "in.jsonl"
    rows = [*_good_rows(topology), {**_good_rows(topology)[0], "localPort": 80, "remotePort": 1234}]
    source.write_text("".join(json.dumps(r) + "\r\n" for r in rows[:-1]))
    assert sum(len(b) for b in parse.iter_json(source)) == len(rows) - 1
    source.write_text("".join(json.dumps({**r, "localPort": 80, "remotePort": 1}) + "\n" for r in rows))
    assert sum(len(b) for b in parse.iter_json(source)) == len(rows)


#: Pieces of canonical-looking lines: JSON's punctuation with and without its spaces, and what is not (``\r``, other
#: whitespace, a doubled mark); values written raw between quotes (so escapes, quotes and control characters stay
#: as they are) or through ``json.dumps``; numbers, ``null``, repeated and missing keys, truncated lines.
_OPENINGS = st.sampled_from(["{", "{ ", "{\t", "{  ", "{\u00a0", "{{"])
_COLONS = st.sampled_from([":", ": ", " : ", ":\t", "::", ": \u2003"])
_COMMAS = st.sampled_from([",", ", ", " , ", ",\t", ",,", ""])
_CLOSINGS = st.sampled_from(["}", " }", "}\t", "} ", "}}", "},", ""])
_PLAIN_TEXTS = st.sampled_from(["Inbound", "TCP", "80", "*", "", "null", "10.0.0.4", "é", "\x7f", "a b", "ü✓"])
_RAW_TEXTS = st.one_of(
    _PLAIN_TEXTS,
    st.sampled_from(["a\\nb", 'a\\"b', "\\u0041", "\\", "\t", "{", "[", "\x00", "\u2028", "\x85", "\x1e"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=6),
)


@st.composite
def _canonical_line(draw: st.DrawFn, keys: list[str], messy: bool) -> str:
    """One line of ``keys``: as ``json.dumps`` writes plain strings, or (``messy``) with any of the odd pieces."""
    if not messy:
        return json.dumps({key: draw(_PLAIN_TEXTS) for key in keys}, ensure_ascii=False)
    if draw(st.integers(0, 4)) == 0:  # another shape of object: keys dropped, repeated or reordered
        keys = draw(st.lists(st.sampled_from([*keys, "direction"]), min_size=1, max_size=len(keys) + 1))
    members = []
    for key in keys:
        how = draw(st.integers(0, 9))
        if how == 0:
            value = json.dumps(draw(_JSON_VALUES), ensure_ascii=draw(st.booleans()))
        elif how == 1:
            value = json.dumps(draw(st.text(max_size=4)), ensure_ascii=draw(st.booleans()))
        else:
            value = '"' + draw(_RAW_TEXTS if how < 5 else _PLAIN_TEXTS) + '"'
        members.append(f'"{key}"{draw(_COLONS) if how == 2 else ": "}{value}')
    separator = draw(_COMMAS) if draw(st.integers(0, 3)) == 0 else ", "
    return draw(_OPENINGS) + separator.join(members) + draw(_CLOSINGS)


@st.composite
def _canonical_blocks(draw: st.DrawFn) -> bytes:
    """Blocks of lines of one set of keys (most of them as ``json.dumps`` writes them), BOM, CRLF, cut short."""
    keys = draw(st.permutations([*FIELDS[1:], draw(st.sampled_from(["targetResourceId", "extra", "dirección"]))]))
    keys = keys[: draw(st.integers(1, len(keys)))]
    odds = draw(st.sampled_from([0, 2, 8]))  # messy lines: none, one in five, most
    lines = draw(st.lists(st.integers(0, 9).map(lambda d: d < odds).flatmap(lambda m: _canonical_line(keys, m)),
                          min_size=1, max_size=8))  # fmt: skip
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    cut = draw(st.sampled_from([len(text), len(text), len(text), max(1, len(text) - draw(st.integers(1, 5)))]))
    return (draw(st.sampled_from(["", "", "", "\ufeff"])) + text[:cut]).encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_canonical_blocks())
def test_canonical_lines_read_as_json_loads_reads_them(tmp_path_factory: pytest.TempPathFactory, text: bytes) -> None:
    """Whatever block of lines the quote-splitting reader takes (blocks ``_simple_lines`` passes, as ``iter_json``
    gives it), every flow field is what ``json.loads`` reads, and no line is one ``json.loads`` rejects; everything
    else it leaves to the other readers."""
    if not parse._simple_lines(text):
        return
    table = parse._canonical_block(text)
    if table is None:
        return
    source = tmp_path_factory.mktemp("canonical") / "in.jsonl"
    source.write_bytes(text)
    careful = parse.read_json(source)
    assert careful.unreadable == {}
    assert table.num_rows == len(careful)
    for field in FIELDS:
        assert table.column(field).type == pa.dictionary(pa.int32(), pa.string())
        assert table.column(field).to_pylist() == careful.columns[field].to_pylist(), field


def test_canonical_json_lines_take_the_quote_splitting_reader(topology: Topology, tmp_path: Path) -> None:
    """What ``json.dumps`` writes for string fields (our writers, most exporters; UTF-8 as is, CRLF or not) is read
    without pyarrow's JSON reader, and the output is the careful reader's (lines of the same keys, block by block)."""
    named = [{**r, "note": "✓"} for r in _good_rows(topology) if "targetResourceId" in r]
    rows = [*named, {**named[0], "remoteIPAddress": "bücher"}] * 3
    source = tmp_path / "in.jsonl"
    for newline in ("\n", "\r\n"):
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + newline for r in rows), encoding="utf-8")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(parse, "CHECK_BLOCK_BYTES", 300)
            patch.setattr(parse, "_pyarrow_json_block", None)  # not called: a call would raise
            fast = _run(topology, source, tmp_path / "fast.jsonl", patch)
        careful = _run(topology, source, tmp_path / "careful.jsonl", pytest.MonkeyPatch(), careful_json=True)
        assert fast == careful


@pytest.mark.parametrize("before", [0, 50_000])
def test_json_lines_pyarrow_misreads_are_never_handed_to_it(topology: Topology, tmp_path: Path, before: int) -> None:
    """pyarrow's JSON reader dies (SIGSEGV) on a file starting with a ``null`` line, and reads a later one as a row
    of nulls: the check runs as pyarrow reads, so such a line, first or far into the file, reaches the careful
    reader only, and the output is the careful reader's. Run in a child: a crash cannot hide."""
    import subprocess
    import sys

    good = json.dumps(_good_rows(topology)[0])
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([good] * before + ["null", good]) + "\n")
    fast, careful = tmp_path / "fast.jsonl", tmp_path / "careful.jsonl"
    script = f"""
from pathlib import Path
from opennsg.arm import load_paths
from opennsg.batch import parse, verify_flows_file
topology = load_paths([Path({str(EXAMPLE)!r})])
parse.CHECK_BLOCK_BYTES = 4096
verify_flows_file(topology, Path({str(source)!r}), Path({str(fast)!r}), progress=False)
def careful(path):
    raise parse.NotSimpleJson
parse.iter_json = careful
verify_flows_file(topology, Path({str(source)!r}), Path({str(careful)!r}), progress=False)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert fast.read_bytes() == careful.read_bytes()
