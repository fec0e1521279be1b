"""VNet flow-log filtering (``enabledFilteringCriteria``, ``recordTypes``): the documented examples, hypothesis-made
expressions against a straightforward interpreter, the columnar path against the scalar one, errors, the writer
and ``flowlogs replay --filter``."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opennsg.cli.main import app
from opennsg.flowlogs.filtering import FlowFilter, TupleView, parse_record_types
from opennsg.flowlogs.formats import FlowState, FlowTuple
from opennsg.flowlogs.writer import FlowLogEntry, FlowLogWriter, VnetFlowLog
from opennsg.model.enums import Access, Direction
from opennsg.model.errors import OpenNsgError

DATA = Path(__file__).parent / "data" / "flowlogs"


def view(**fields: Any) -> TupleView:
    base: dict[str, Any] = {
        "direction": "O",
        "src_ip": "10.0.0.4",
        "src_port": 50000,
        "dst_ip": "20.252.145.59",
        "dst_port": 443,
        "protocol": 6,
        "encryption": "NX",
        "record_type": "B",
    }
    base.update(fields)
    return TupleView(**base)


# --- the examples of Network Watcher's "Filter virtual network flow logs" -------------------------------------


@pytest.mark.parametrize(
    ("criteria", "kept", "dropped"),
    [
        ("dstip=20.252.145.59 || DstPort=54300-54400", [view(), view(dst_ip="1.1.1.1", dst_port=54350)],
         [view(dst_ip="1.1.1.1", dst_port=443)]),
        ("dstip=20.252.145.59 || DstPort=443", [view(dst_ip="1.1.1.1"), view(dst_port=80)],
         [view(dst_ip="1.1.1.1", dst_port=80)]),
        ("Direction=Inbound,Outbound", [view(direction="I"), view(direction="O")], []),
        ("SrcIP=192.168.1.1,2001:db8::1/64", [view(src_ip="192.168.1.1"), view(src_ip="2001:db8::ffff")],
         [view(src_ip="192.168.1.2"), view(src_ip="2001:db8:0:1::1")]),
        ("SrcPort=1024-65535,80,443", [view(src_port=1024), view(src_port=80)], [view(src_port=1023)]),
        ("DstIP=192.168.2.1,2001:db8::2/64", [view(dst_ip="192.168.2.1")], [view(dst_ip="192.168.2.2")]),
        ("DstPort=22,8080-8090", [view(dst_port=22), view(dst_port=8090)], [view(dst_port=8091)]),
        ("Protocol=TCP,UDP", [view(protocol=6), view(protocol=17)], [view(protocol=1)]),
        ("Encryption=NX_ALL", [view(encryption="NX"), view(encryption="NX_LOCAL_DST")], [view(encryption="X")]),
        ("RecordTypes=B,E", [view(record_type="B"), view(record_type="E")], [view(record_type="D")]),
    ],
)  # fmt: skip
def test_documented_examples(criteria: str, kept: list[TupleView], dropped: list[TupleView]) -> None:
    flow_filter = FlowFilter.parse(criteria)
    assert all(flow_filter.matches(v) for v in kept)
    assert not any(flow_filter.matches(v) for v in dropped)


def test_and_binds_tighter_than_or_and_everything_is_case_insensitive() -> None:
    flow_filter = FlowFilter.parse("protocol=udp || DSTPORT=22 && direction=INBOUND")
    assert flow_filter.matches(view(protocol=17, direction="O", dst_port=9))
    assert flow_filter.matches(view(dst_port=22, direction="I"))
    assert not flow_filter.matches(view(dst_port=22, direction="O"))


def test_not_equal_matches_none_of_the_values() -> None:
    flow_filter = FlowFilter.parse("DstPort!=22,3389")
    assert flow_filter.matches(view(dst_port=443))
    assert not flow_filter.matches(view(dst_port=3389))
    assert FlowFilter.parse("DstPort!=22").matches(view(protocol=1, dst_port=None))  # ICMP has no port


# --- errors -----------------------------------------------------------------------------------------------------


def _problems(criteria: str) -> list[str]:
    with pytest.raises(OpenNsgError) as caught:
        FlowFilter.parse(criteria)
    assert {e.code for e in caught.value.errors} == {"InvalidFilteringCriteria"}
    return [e.message for e in caught.value.errors]


@pytest.mark.parametrize(
    ("criteria", "says"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("(DstPort=22)", "brackets are not supported"),
        ("Port=22", "unknown field 'Port'"),
        ("DstPort 22", "expected '=' or '!=' after 'DstPort', found '22'"),
        ("DstPort==22", "expected a value for 'DstPort', found '='"),
        ("DstPort=22 &&", "expected a field name, found the end"),
        ("DstPort=22 & SrcPort=1", "at character 12"),
        ("DstPort=22,", "expected a value for 'DstPort', found the end"),
        ("DstPort=22 SrcPort=1", "expected '&&', '||' or the end after a condition, found 'SrcPort'"),
        ("DstPort=70000", "'70000' is not a valid DstPort value"),
        ("DstPort=9-8", "'9-8' is not a valid DstPort value"),
        ("SrcIP=10.0.0.300", "'10.0.0.300' is not a valid SrcIP value"),
        ("SrcIP=fe80::1%eth0", "not a valid SrcIP value"),
        ("Protocol=SCTPX", "not a valid Protocol value"),
        ("Direction=Both", "Inbound or Outbound"),
        ("Encryption=MAYBE", "NX_ALL"),
        ("RecordTypes=Z", "B, C, E or D"),
        ("DstPort=" + "1," * 600 + "1", "at most 1000 are allowed"),
    ],
)
def test_bad_criteria_are_refused_with_what_is_wrong_and_where(criteria: str, says: str) -> None:
    assert any(says in message for message in _problems(criteria))


def test_every_bad_value_is_reported_at_once() -> None:
    assert len(_problems("DstPort=70000 && SrcIP=nope || Protocol=x")) == 3


def test_record_types() -> None:
    assert parse_record_types("B, e") == {"B", "E"}
    assert parse_record_types("") == {"B", "C", "E", "D"}
    assert parse_record_types(None) == {"B", "C", "E", "D"}
    with pytest.raises(OpenNsgError) as caught:
        parse_record_types("B,X,Y")
    assert [e.code for e in caught.value.errors] == ["InvalidRecordTypes", "InvalidRecordTypes"]


# --- generated expressions against a straightforward interpreter -------------------------------------------------

FIELDS: dict[str, st.SearchStrategy[str]] = {
    "Direction": st.sampled_from(["Inbound", "Outbound"]),
    "SrcIP": st.sampled_from(["10.0.0.0/24", "10.0.0.4", "0.0.0.0/0", "2001:db8::/64", "52.1.0.0/16"]),
    "DstIP": st.sampled_from(["10.0.0.0/24", "20.252.145.59", "::/0", "2001:db8::/64", "52.1.0.0/16"]),
    "SrcPort": st.sampled_from(["0-1023", "50000", "1024-65535", "443"]),
    "DstPort": st.sampled_from(["22", "443", "80-90", "0-65535"]),
    "Protocol": st.sampled_from(["TCP", "UDP", "ICMP", "6", "17"]),
    "Encryption": st.sampled_from(["X", "NX", "NX_ALL", "NX_LOCAL_DST"]),
    "RecordTypes": st.sampled_from(["B", "C", "E", "D"]),
}
Expression = list[list[tuple[str, bool, list[str]]]]  # OR of ANDs of (field, negated, values)


@st.composite
def expressions(draw: st.DrawFn) -> Expression:
    def condition() -> tuple[str, bool, list[str]]:
        field = draw(st.sampled_from(sorted(FIELDS)))
        return field, draw(st.booleans()), draw(st.lists(FIELDS[field], min_size=1, max_size=3))

    return [[condition() for _ in range(draw(st.integers(1, 3)))] for _ in range(draw(st.integers(1, 3)))]


def render(expression: Expression, rng: st.DataObject) -> str:
    def spell(text: str) -> str:
        return rng.draw(st.sampled_from([text, text.lower(), text.upper()]))

    def space() -> str:
        return rng.draw(st.sampled_from(["", " ", "  "]))

    groups = []
    for group in expression:
        conditions = [
            f"{spell(field)}{space()}{'!=' if negated else '='}{space()}{','.join(spell(v) for v in values)}"
            for field, negated, values in group
        ]
        groups.append(f"{space()}&&{space()}".join(conditions))
    return f"{space()}||{space()}".join(groups)


def interpret(expression: Expression, flow: TupleView) -> bool:
    """What the documentation says, read literally."""

    def one(field: str, value: str) -> bool:
        if field == "Direction":
            return flow.direction == value[0].upper()
        if field in ("SrcIP", "DstIP"):
            address = ipaddress.ip_address(flow.src_ip if field == "SrcIP" else flow.dst_ip)
            network = ipaddress.ip_network(value, strict=False)
            return address.version == network.version and address in network
        if field in ("SrcPort", "DstPort"):
            port = flow.src_port if field == "SrcPort" else flow.dst_port
            low, _, high = value.partition("-")
            return port is not None and int(low) <= port <= int(high or low)
        if field == "Protocol":
            return flow.protocol == {"TCP": 6, "UDP": 17, "ICMP": 1}.get(value.upper()) or (
                value.isdigit() and flow.protocol == int(value)
            )
        if field == "Encryption":
            return flow.encryption.startswith("NX") if value.upper() == "NX_ALL" else flow.encryption == value.upper()
        return flow.record_type == value.upper()

    return any(all(any(one(f, v) for v in values) != negated for f, negated, values in group) for group in expression)


VIEWS = st.builds(
    TupleView,
    direction=st.sampled_from(["I", "O"]),
    src_ip=st.sampled_from(["10.0.0.4", "10.0.1.4", "52.1.2.3", "2001:db8::4", "2001:db9::1"]),
    src_port=st.sampled_from([0, 443, 1023, 1024, 50000, 65535, None]),
    dst_ip=st.sampled_from(["20.252.145.59", "10.0.0.9", "52.1.9.9", "2001:db8::9", "fe80::1"]),
    dst_port=st.sampled_from([22, 80, 85, 90, 91, 443, None]),
    protocol=st.sampled_from([1, 6, 17, 50]),
    encryption=st.sampled_from(["X", "NX", "NX_LOCAL_DST", "NX_FALLBACK"]),
    record_type=st.sampled_from(["B", "C", "E", "D"]),
)


@settings(max_examples=150, deadline=None)
@given(expression=expressions(), flows=st.lists(VIEWS, min_size=1, max_size=25), rng=st.data())
def test_generated_expressions_agree_with_the_interpreter(
    expression: Expression, flows: list[TupleView], rng: st.DataObject
) -> None:
    flow_filter = FlowFilter.parse(render(expression, rng))
    expected = [interpret(expression, f) for f in flows]
    assert [flow_filter.matches(f) for f in flows] == expected
    batch = pa.table(
        {
            "src_ip": [f.src_ip for f in flows],
            "dst_ip": [f.dst_ip for f in flows],
            "src_port": pa.array([f.src_port for f in flows], pa.int32()),
            "dst_port": pa.array([f.dst_port for f in flows], pa.int32()),
            "protocol": pa.array([f.protocol for f in flows], pa.int16()),
            "direction": [f.direction for f in flows],
            "decision": ["D" if f.record_type == "D" else "A" for f in flows],
            "state": ["B" if f.record_type == "D" else f.record_type for f in flows],  # NSG logs: denied = B + D
            "encryption": [f.encryption for f in flows],
        }
    )
    assert flow_filter.mask(batch).tolist() == expected


# --- where filters apply -----------------------------------------------------------------------------------------


def _tuple(port: int, access: Access, state: FlowState) -> FlowTuple:
    return FlowTuple(
        datetime(2026, 12, 1, 10, 0, tzinfo=UTC), "10.0.0.4", "52.1.2.3", 50000, port, 6, Direction.OUTBOUND,
        access, state,
    )  # fmt: skip


def test_the_writer_keeps_only_what_the_flow_log_selects() -> None:
    log = VnetFlowLog(
        "/subscriptions/s/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/nw/flowLogs/f",
        "guid",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
        criteria=FlowFilter.parse("DstPort=443"),
        record_types=parse_record_types("B,D"),
    )
    writer = FlowLogWriter()
    for port, access, state in [(443, Access.ALLOW, FlowState.BEGIN), (443, Access.ALLOW, FlowState.END),
                                (80, Access.ALLOW, FlowState.BEGIN), (443, Access.DENY, FlowState.BEGIN)]:  # fmt: skip
        writer.add(FlowLogEntry(_tuple(port, access, state), "00-0D-3A-00-00-01", None, None, "r", log))
    written = [
        t
        for document in writer.documents().values()
        if "flowRecords" in document["records"][0]
        for record in document["records"]
        for flow in record["flowRecords"]["flows"]
        for group in flow["flowGroups"]
        for t in group["flowTuples"]
    ]
    assert sorted(t.split(",")[7] for t in written) == ["B", "D"]
    assert all(t.split(",")[4] == "443" for t in written)


def test_replay_filter_selects_the_tuples_replayed(tmp_path: Path) -> None:
    config = next(iter(sorted((DATA / "configs").glob("*.json"))))
    logs = str(DATA / "nsg_v2.json")
    runner = CliRunner()
    everything = runner.invoke(app, ["flowlogs", "replay", logs, "--config", str(config), "--json"])
    assert everything.exit_code == 0, everything.output
    inbound = runner.invoke(
        app, ["flowlogs", "replay", logs, "--config", str(config), "--json", "--filter", "Direction=Inbound"]
    )
    assert inbound.exit_code == 0, inbound.output
    nothing = runner.invoke(
        app, ["flowlogs", "replay", logs, "--config", str(config), "--json", "--filter", "SrcIP=203.0.113.250"]
    )
    total, selected, none = (json.loads(r.stdout)["totals"]["tuples"] for r in (everything, inbound, nothing))
    assert 0 == none < selected < total
    bad = runner.invoke(app, ["flowlogs", "replay", logs, "--config", str(config), "--json", "--filter", "Port=1"])
    assert bad.exit_code == 2
    assert json.loads(bad.stderr)["error"]["code"] == "InvalidFilteringCriteria"


def test_the_old_engine_name_is_a_deprecated_alias_of_local() -> None:
    config = next(iter(sorted((DATA / "configs").glob("*.json"))))
    logs = str(DATA / "nsg_v2.json")
    runner = CliRunner()
    local = runner.invoke(app, ["flowlogs", "replay", logs, "--config", str(config), "--json"])
    old = runner.invoke(app, ["flowlogs", "replay", logs, "--config", str(config), "--json", "--engine", "duckdb"])
    assert old.exit_code == local.exit_code == 0
    assert json.loads(old.stdout) == json.loads(local.stdout)
    assert "deprecated" in old.stderr
