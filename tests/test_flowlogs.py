"""Flow logs: every field of NSG v1/v2 and VNet logs, write → read round trips, malformed input, replay."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_dataplane import ALLOW_HTTP, CLIENT, DENY_OUT, handshake, world

from opennsg.dataplane.clock import ManualClock
from opennsg.dataplane.network import Network
from opennsg.flowlogs import records as records_module
from opennsg.flowlogs.formats import FlowState, FlowTuple, LogFormat, format_time, parse_time
from opennsg.flowlogs.reader import FlowLogReader
from opennsg.flowlogs.replay import replay
from opennsg.flowlogs.writer import FlowLogEntry, FlowLogWriter, VnetFlowLog
from opennsg.model import (
    Access,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    default_security_rules,
)
from opennsg.model.ids import network_id

DATA = Path(__file__).parent / "data" / "flowlogs"
NSG_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a"
AT = datetime(2024, 3, 5, 7, 9, 11, 250000, tzinfo=UTC)
VNET_LOG = VnetFlowLog(
    "/subscriptions/s1/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/"
    "NetworkWatcher_westeurope/flowLogs/vnet-log",
    "11111111-2222-3333-4444-555555555555",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet",
)


def flow_tuple(state: FlowState, access: Access = Access.ALLOW, protocol: int = 6) -> FlowTuple:
    return FlowTuple(
        AT, "10.0.0.4", "52.1.2.3", 40000, 443, protocol, Direction.OUTBOUND, access, state, 5, 500, 4, 4000
    )


def documents(*entries: FlowLogEntry, formats: set[LogFormat]) -> dict[str, dict]:
    writer = FlowLogWriter(formats)
    writer.extend(entries)
    return writer.documents()


def entry(t: FlowTuple, rule: str = "UserRule_web", mac: str = "00:0d:3a:f8:78:56") -> FlowLogEntry:
    return FlowLogEntry(t, mac, NSG_ID, "9e8f7a6b-0000-4000-8000-000000000001", rule, VNET_LOG)


def test_time_has_seven_fractional_digits_and_parses_back() -> None:
    assert format_time(AT) == "2024-03-05T07:09:11.2500000Z"
    assert parse_time("2018-11-13T12:00:35.3899262Z") == datetime(2018, 11, 13, 12, 0, 35, 389926, tzinfo=UTC)


def test_nsg_tuples_of_every_state_and_version() -> None:
    assert flow_tuple(FlowState.BEGIN).nsg_v1() == "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A"
    assert flow_tuple(FlowState.BEGIN).nsg_v2() == "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A,B,,,,"
    assert flow_tuple(FlowState.CONTINUING).nsg_v2() == "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A,C,5,500,4,4000"
    assert flow_tuple(FlowState.END).nsg_v2() == "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A,E,5,500,4,4000"
    denied = flow_tuple(FlowState.DENIED, Access.DENY, protocol=17)
    assert denied.nsg_v1() == "1709622551,10.0.0.4,52.1.2.3,40000,443,U,O,D"
    assert denied.nsg_v2() == "1709622551,10.0.0.4,52.1.2.3,40000,443,U,O,D,B,,,,"


def test_vnet_tuples_use_milliseconds_protocol_numbers_and_state_d() -> None:
    assert flow_tuple(FlowState.BEGIN).vnet() == "1709622551250,10.0.0.4,52.1.2.3,40000,443,6,O,B,NX,5,500,4,4000"
    denied = flow_tuple(FlowState.DENIED, Access.DENY, protocol=17)
    assert denied.vnet() == "1709622551250,10.0.0.4,52.1.2.3,40000,443,17,O,D,NX,5,500,4,4000"


def test_nsg_v2_record_fields_and_blob_path() -> None:
    docs = documents(
        entry(flow_tuple(FlowState.BEGIN)), entry(flow_tuple(FlowState.CONTINUING)), formats={LogFormat.NSG_V2}
    )
    [(path, doc)] = docs.items()
    assert path == (
        "insights-logs-networksecuritygroupflowevent/resourceId=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/"
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A/y=2024/m=03/d=05/h=07/m=00/macAddress=000D3AF87856/PT1H.json"
    )
    [record] = doc["records"]
    assert record == {
        "time": "2024-03-05T07:10:00.0000000Z",
        "systemId": "9e8f7a6b-0000-4000-8000-000000000001",
        "category": "NetworkSecurityGroupFlowEvent",
        "resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/NSG-A",
        "operationName": "NetworkSecurityGroupFlowEvents",
        "properties": {
            "Version": 2,
            "flows": [
                {
                    "rule": "UserRule_web",
                    "flows": [
                        {
                            "mac": "000D3AF87856",
                            "flowTuples": [
                                "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A,B,,,,",
                                "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A,C,5,500,4,4000",
                            ],
                        }
                    ],
                }
            ],
        },
    }


def test_nsg_v1_record_has_version_1_and_short_tuples() -> None:
    [(path, doc)] = documents(entry(flow_tuple(FlowState.BEGIN)), formats={LogFormat.NSG_V1}).items()
    assert path.startswith("insights-logs-networksecuritygroupflowevent/")
    record = doc["records"][0]
    assert record["properties"]["Version"] == 1
    assert record["properties"]["flows"][0]["flows"][0]["flowTuples"] == [
        "1709622551,10.0.0.4,52.1.2.3,40000,443,T,O,A"
    ]
    both = documents(entry(flow_tuple(FlowState.BEGIN)), formats={LogFormat.NSG_V1, LogFormat.NSG_V2})
    assert sorted(p.split("/")[0] for p in both) == ["insights-logs-networksecuritygroupflowevent", "v1"]


def test_vnet_record_fields_and_blob_path() -> None:
    unlogged = FlowLogEntry(flow_tuple(FlowState.BEGIN), "000d3af87856", None, None, None, VNET_LOG)
    docs = documents(entry(flow_tuple(FlowState.END)), unlogged, formats={LogFormat.VNET})
    [(path, doc)] = docs.items()
    assert path == (
        "insights-logs-flowlogflowevent/flowLogResourceID=/SUBSCRIPTIONS/S1/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/"
        "MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/VNET-LOG/y=2024/m=03/d=05/h=07/m=00/"
        "macAddress=000D3AF87856/PT1H.json"
    )
    [record] = doc["records"]
    assert {k: v for k, v in record.items() if k != "flowRecords"} == {
        "time": "2024-03-05T07:10:00.0000000Z",
        "flowLogVersion": 4,
        "flowLogGUID": "11111111-2222-3333-4444-555555555555",
        "macAddress": "000D3AF87856",
        "category": "FlowLogFlowEvent",
        "flowLogResourceID": VNET_LOG.flow_log_id.upper(),
        "targetResourceID": VNET_LOG.target_resource_id,
        "operationName": "FlowLogFlowEvent",
    }
    assert record["flowRecords"]["flows"] == [
        {
            "aclID": "9e8f7a6b-0000-4000-8000-000000000001",
            "flowGroups": [
                {
                    "rule": "UserRule_web",
                    "flowTuples": ["1709622551250,10.0.0.4,52.1.2.3,40000,443,6,O,E,NX,5,500,4,4000"],
                }
            ],
        },
        {
            "aclID": "unspecified",
            "flowGroups": [
                {
                    "rule": "unspecified",
                    "flowTuples": ["1709622551250,10.0.0.4,52.1.2.3,40000,443,6,O,B,NX,5,500,4,4000"],
                }
            ],
        },
    ]


def test_one_record_per_minute_and_one_file_per_hour() -> None:
    entries = [entry(flow_tuple(FlowState.BEGIN)), entry(flow_tuple(FlowState.BEGIN))]
    later = FlowTuple(AT + timedelta(minutes=2), "10.0.0.4", "52.1.2.3", 40001, 443, 6, Direction.OUTBOUND,
                      Access.ALLOW, FlowState.BEGIN)  # fmt: skip
    next_hour = FlowTuple(AT + timedelta(hours=1), "10.0.0.4", "52.1.2.3", 40002, 443, 6, Direction.OUTBOUND,
                          Access.ALLOW, FlowState.BEGIN)  # fmt: skip
    docs = documents(*entries, entry(later), entry(next_hour), formats={LogFormat.NSG_V2})
    assert sorted(re.search(r"h=(\d+)", p).group(1) for p in docs) == ["07", "08"]  # type: ignore[union-attr]
    seven = next(d for p, d in docs.items() if "h=07" in p)
    assert [r["time"] for r in seven["records"]] == ["2024-03-05T07:10:00.0000000Z", "2024-03-05T07:12:00.0000000Z"]


def test_hand_written_v2_log_reads_every_field() -> None:
    reader = FlowLogReader([DATA / "nsg_v2.json"])
    rows = reader.read_all().to_pylist()
    assert reader.stats.problems == [] and len(rows) == 10
    continuing = next(r for r in rows if r["state"] == "C")
    assert {k: v for k, v in continuing.items() if k != "file"} == {
        "format": "nsg2",
        "resource_id": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/FABRIKAMRG/PROVIDERS/"
        "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/FABRIAKMVM1-NSG",
        "acl_id": "a0fca5ce-022c-47b1-9735-89943b42f2fa",
        "mac": "000D3AF87856",
        "rule": "DefaultRule_AllowInternetOutBound",
        "time": datetime(2018, 11, 13, 11, 59, 39, tzinfo=UTC),
        "src_ip": "10.5.16.4",
        "dst_ip": "13.67.143.115",
        "src_port": 44931,
        "dst_port": 443,
        "protocol": 6,
        "direction": "O",
        "decision": "A",
        "state": "C",
        "encryption": None,
        "packets_src_to_dst": 30,
        "bytes_src_to_dst": 16978,
        "packets_dst_to_src": 24,
        "bytes_dst_to_src": 14008,
    }
    udp_denied = rows[0]
    assert (udp_denied["protocol"], udp_denied["decision"], udp_denied["state"]) == (17, "D", "B")
    assert udp_denied["packets_src_to_dst"] is None
    assert rows[-1]["mac"] == "000D3AF87856"  # written 00-0d-3a-f8-78-56 in the file


def test_hand_written_v1_and_vnet_logs() -> None:
    v1 = FlowLogReader([DATA / "nsg_v1.json"]).read_all().to_pylist()
    assert [(r["format"], r["rule"], r["decision"], r["state"]) for r in v1] == [
        ("nsg1", "DefaultRule_DenyAllInBound", "D", None),
        ("nsg1", "DefaultRule_DenyAllInBound", "D", None),
        ("nsg1", "UserRule_default-allow-rdp", "A", None),
    ]
    reader = FlowLogReader([DATA / "vnet.json"])
    vnet = reader.read_all().to_pylist()
    assert reader.stats.problems == []
    assert [(r["state"], r["decision"], r["encryption"], r["acl_id"][:8]) for r in vnet] == [
        ("B", "A", "NX", "00aa00aa"),
        ("E", "A", "NX", "00aa00aa"),
        ("D", "D", "NX", "00aa00aa"),
        ("D", "D", "NX_LOCAL_DST", "00aa00aa"),
        ("B", "A", "NX", "unspecif"),
    ]
    assert vnet[1]["time"] == datetime(2022, 9, 14, 9, 0, 3, 606000, tzinfo=UTC)
    assert (vnet[1]["packets_src_to_dst"], vnet[1]["bytes_dst_to_src"]) == (3, 1580)
    assert (vnet[3]["src_ip"], vnet[4]["protocol"]) == ("2001:db8::7", 1)


def test_malformed_records_and_tuples_are_reported_with_their_place() -> None:
    reader = FlowLogReader([DATA / "malformed.json"])
    table = reader.read_all()
    stats = reader.stats
    assert table.num_rows == 3  # two good v2 tuples of record 0, the v1 tuple of record 6
    assert (stats.records, stats.malformed_records, stats.malformed_tuples) == (7, 5, 4)
    places = {p.position: p.message for p in stats.problems}
    assert "records[0].properties.flows[0].flows[0].flowTuples[1]" in places  # 999.x address
    assert "records[0].properties.flows[0].flows[0].flowTuples[2]" in places  # port 70000
    assert "records[0].properties.flows[0].flows[0].flowTuples[3]" in places  # garbage
    assert "records[0].properties.flows[0].flows[0].flowTuples[4]" in places  # 12 fields
    assert "records[1]" in places and "records[4]" in places and "records[5]" in places
    assert any(p.startswith("records[3] (char") and "malformed JSON" in m for p, m in places.items())
    assert all(p.file.endswith("malformed.json") for p in stats.problems)


def test_truncated_file_keeps_complete_records_and_reports_the_cut() -> None:
    reader = FlowLogReader([DATA / "truncated.json"])
    assert reader.read_all().num_rows == 9
    [problem] = reader.stats.problems
    assert problem.position.startswith("records[1]") and "truncated" in problem.message


def test_file_cut_between_records_and_not_a_flow_log(tmp_path: Path) -> None:
    text = (DATA / "nsg_v1.json").read_text().rstrip()
    (tmp_path / "a.json").write_text(text[: -len("]}")])
    (tmp_path / "b.json").write_text("[1, 2")
    (tmp_path / "c.json").write_text('{"other": 1}')
    reader = FlowLogReader([tmp_path])
    assert reader.read_all().num_rows == 3
    messages = [(Path(p.file).name, p.message) for p in reader.stats.problems]
    assert messages[0] == ("a.json", "file is truncated after 1 records")
    assert messages[1][0] == "b.json" and messages[1][1].startswith("not a flow log file")
    assert messages[2] == ("c.json", "not a flow log file: no 'records' list")


def test_small_chunks_give_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    logs = sorted(DATA.glob("*.json"))
    expected = FlowLogReader(logs).read_all().sort_by("time").to_pylist()
    monkeypatch.setattr(records_module, "_CHUNK", 37)
    reader = FlowLogReader(logs)
    assert reader.read_all().sort_by("time").to_pylist() == expected


#: A flow's two ends, of one IP version (a tuple mixing them is malformed: tests/test_flowlogs_keys.py).
ends = st.one_of(
    st.tuples(st.ip_addresses(v=4).map(str), st.ip_addresses(v=4).map(str)),
    st.tuples(st.ip_addresses(v=6).map(str), st.ip_addresses(v=6).map(str)),
)
ports = st.integers(0, 65535)


@st.composite
def tuples(draw: st.DrawFn) -> FlowTuple:
    access = draw(st.sampled_from(Access))
    state = (
        FlowState.DENIED
        if access is Access.DENY
        else draw(st.sampled_from([FlowState.BEGIN, FlowState.CONTINUING, FlowState.END]))
    )
    counters = [draw(st.integers(0, 10**9)) for _ in range(4)]
    seconds = draw(st.integers(1_500_000_000, 1_900_000_000))
    millis = draw(st.integers(0, 999))
    return FlowTuple(
        datetime.fromtimestamp(seconds, UTC) + timedelta(milliseconds=millis),
        *draw(ends), draw(ports), draw(ports), draw(st.sampled_from([6, 17, 1, 50])),
        draw(st.sampled_from(Direction)), access, state, *counters,
    )  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.lists(tuples(), min_size=1, max_size=20))
def test_write_then_read_round_trip(tmp_path_factory: pytest.TempPathFactory, written: list[FlowTuple]) -> None:
    out = tmp_path_factory.mktemp("logs")
    writer = FlowLogWriter({LogFormat.NSG_V1, LogFormat.NSG_V2, LogFormat.VNET})
    writer.extend(entry(t, rule=f"UserRule_r{i % 3}") for i, t in enumerate(written))
    writer.write(out)
    reader = FlowLogReader([out])
    rows = reader.read_all().to_pylist()
    assert reader.stats.problems == []
    for fmt in ("nsg1", "nsg2", "vnet"):
        want = sorted((_expected_row(t, fmt, f"UserRule_r{i % 3}") for i, t in enumerate(written)), key=_row_key)
        got = sorted(({k: r[k] for k in want[0]} for r in rows if r["format"] == fmt), key=_row_key)
        assert got == want


def _row_key(row: dict) -> tuple:
    return tuple(v.timestamp() if isinstance(v, datetime) else str(v) for _, v in sorted(row.items()))


def _expected_row(t: FlowTuple, fmt: str, rule: str) -> dict:
    millis = int(t.timestamp.timestamp() * 1000) if fmt == "vnet" else int(t.timestamp.timestamp()) * 1000
    denied = t.access is Access.DENY
    v2_state = "B" if denied else t.state.value
    counters = [t.packets_sent, t.bytes_sent, t.packets_received, t.bytes_received]
    if fmt == "nsg1" or (fmt == "nsg2" and (denied or t.state is FlowState.BEGIN)):
        counters = [None] * 4
    return {
        "rule": rule,
        "time": datetime.fromtimestamp(millis / 1000, UTC),
        "src_ip": t.source_ip,
        "dst_ip": t.destination_ip,
        "src_port": t.source_port,
        "dst_port": t.destination_port,
        "protocol": t.protocol,
        "direction": "I" if t.direction is Direction.INBOUND else "O",
        "decision": "D" if denied else "A",
        "state": None
        if fmt == "nsg1"
        else (t.state.value if fmt == "vnet" and not denied else ("D" if fmt == "vnet" else v2_state)),
        "packets_src_to_dst": counters[0],
        "bytes_src_to_dst": counters[1],
        "packets_dst_to_src": counters[2],
        "bytes_dst_to_src": counters[3],
    }


# --- replay ---------------------------------------------------------------------------------------

SUB, RG = "00000000-0000-0000-0000-000000000000", "FabrikamRG"


def fabrikam(*rules: SecurityRule) -> Topology:
    """The VM of the hand-written v2 log: MAC 00-0D-3A-F8-78-56, 10.5.16.4, NSG FabriakmVM1-NSG on its NIC."""
    nsg_id = network_id(SUB, RG, "networkSecurityGroups", "FabriakmVM1-NSG")
    vnet_id = network_id(SUB, RG, "virtualNetworks", "vnet")
    subnet = Subnet(f"{vnet_id}/subnets/default", "default", ("10.5.16.0/24",))
    nic_id = network_id(SUB, RG, "networkInterfaces", "vm1-nic")
    cfg = IpConfiguration(f"{nic_id}/ipConfigurations/ipconfig1", "ipconfig1", "10.5.16.4", subnet.id, primary=True)
    return Topology.of(
        nsgs=[NetworkSecurityGroup(nsg_id, "FabriakmVM1-NSG", "eastus", security_rules=rules,
                                   default_security_rules=default_security_rules(nsg_id))],
        vnets=[VirtualNetwork(vnet_id, "vnet", "eastus", address_space=("10.5.0.0/16",), subnets=(subnet,))],
        nics=[NetworkInterface(nic_id, "vm1-nic", "eastus", ip_configurations=(cfg,), network_security_group=nsg_id,
                               mac_address="00-0D-3A-F8-78-56")],
    )  # fmt: skip


def inbound_allow(name: str, priority: int, protocol: Protocol, port: str) -> SecurityRule:
    return SecurityRule(name, priority, Direction.INBOUND, Access.ALLOW, protocol, source_address_prefix="*",
                        source_port_range="*", destination_address_prefix="*", destination_port_range=port)  # fmt: skip


def test_replay_against_the_logged_config_changes_nothing() -> None:
    reader = FlowLogReader([DATA / "nsg_v2.json"])
    result = replay(fabrikam(inbound_allow("allow-ssh", 100, Protocol.TCP, "22")), reader.batches(), reader.stats)
    assert result.changed == () and (result.tuples, result.flows) == (10, 9)


def test_replay_reports_flows_whose_verdict_changes() -> None:
    proposed = fabrikam(inbound_allow("allow-udp-443", 100, Protocol.UDP, "443"))  # allow-ssh dropped
    reader = FlowLogReader([DATA / "nsg_v2.json"])
    result = replay(proposed, reader.batches(), reader.stats)
    summary = [(c.src_ip, c.dst_port, c.logged_decision, c.new_decision, c.new_rule, c.count) for c in result.changed]
    assert sorted(summary) == [
        ("52.1.2.3", 22, "Allow", "Deny", "DefaultRule_DenyAllInBound", 2),
        ("94.102.49.190", 443, "Deny", "Allow", "UserRule_allow-udp-443", 1),
    ]
    body = result.to_json()
    assert set(body["changed"][0]) == {"srcIP", "dstIP", "srcPort", "dstPort", "protocol", "direction",
                                       "loggedDecision", "newDecision", "newRule", "nic", "count"}  # fmt: skip
    assert body["totals"]["changedFlows"] == 2 and body["totals"]["unattributedFlows"] == 0


def test_replay_attributes_by_mac_then_local_ip_and_counts_strangers() -> None:
    topology = fabrikam()
    vnet = next(iter(topology.vnets.values()))
    nic_id = network_id(SUB, RG, "networkInterfaces", "vm2-nic")
    cfg = IpConfiguration(f"{nic_id}/ipConfigurations/c", "c", "10.0.0.6", vnet.subnets[0].id, primary=True)
    vm2 = NetworkInterface(nic_id, "vm2-nic", "eastus", ip_configurations=(cfg,))  # no MAC, no NSG
    topology = topology.with_(nics=[*topology.nics.values(), vm2])
    reader = FlowLogReader([DATA / "nsg_v1.json", DATA / "vnet.json"])
    result = replay(topology, reader.batches(), reader.stats)
    by_nic = sorted((c.nic.rsplit("/", 1)[1], c.src_ip, c.new_decision, c.new_rule) for c in result.changed)
    assert by_nic == [
        ("vm1-nic", "123.134.179.17", "Deny", "DefaultRule_DenyAllInBound"),  # v1 file: same MAC as vm1
        ("vm2-nic", "198.51.100.7", "Allow", None),  # by local IP 10.0.0.6; no NSG allows everything
    ]
    # The IPv6 tuple's local address fd00::6 and MAC 112233445566 match no NIC.
    assert (result.unattributed_flows, result.unattributed_tuples, result.tuples) == (1, 1, 8)


def test_data_plane_logs_replay_cleanly_against_their_own_config(tmp_path: Path) -> None:
    """Simulate, write logs, read them back: the same config decides every logged flow the same way."""
    clock = ManualClock()
    writer = FlowLogWriter({LogFormat.NSG_V2, LogFormat.VNET})
    topology = world()
    net = Network(topology, clock=clock, flow_logs=writer)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    handshake(net, (CLIENT, 50001), ("10.0.1.4", 3389))
    handshake(net, ("10.0.2.4", 40000), ("10.0.1.5", 80))
    clock.advance(timedelta(minutes=7))
    net.tick()
    writer.write(tmp_path)
    reader = FlowLogReader([tmp_path])
    unchanged = replay(topology, reader.batches(), reader.stats)
    assert reader.stats.problems == [] and unchanged.changed == () and unchanged.unattributed_flows == 0
    reader = FlowLogReader([tmp_path])
    changed = replay(world(web_rules=(ALLOW_HTTP, DENY_OUT)), reader.batches(), reader.stats)
    assert {(c.dst_port, c.new_decision) for c in changed.changed} == {(22, "Deny")}
    assert json.loads(json.dumps(changed.to_json()))["totals"]["allowToDeny"] == len(changed.changed)


def test_odd_tuples_in_a_good_file_are_pinpointed(tmp_path: Path) -> None:
    good = "1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,C,1,2,3,4"
    odd = [
        good,
        7,  # not a string
        "",  # empty
        good + ",9",  # a field too many
        good.replace(",1,2,3,4", ",-1,2,3,4"),  # negative counter
        good.replace("10.5.16.4", "fe80::zz"),  # not an address
        good.replace(",T,", ",X,"),  # unknown protocol letter
        good.replace(",O,", ",Q,"),  # unknown direction
        good.replace("1542110377", "1542110378"),
    ]
    record = {"category": "NetworkSecurityGroupFlowEvent", "resourceId": "/R", "properties": {"Version": 2, "flows": [
        {"rule": "UserRule_a", "flows": [{"mac": "000D3AF87856", "flowTuples": odd}]}]}}  # fmt: skip
    (tmp_path / "PT1H.json").write_text(json.dumps({"records": [record]}))
    reader = FlowLogReader([tmp_path])
    table = reader.read_all()
    assert table["time"].to_pylist() == [datetime(2018, 11, 13, 11, 59, 37, tzinfo=UTC),
                                         datetime(2018, 11, 13, 11, 59, 38, tzinfo=UTC)]  # fmt: skip
    indices = sorted(int(p.position.rsplit("[", 1)[1].rstrip("]")) for p in reader.stats.problems)
    assert indices == [1, 2, 3, 4, 5, 6, 7]
    assert reader.stats.malformed_tuples == 7 and reader.stats.tuples == 2
    assert any("non-string" in p.message for p in reader.stats.problems)


def test_batches_stream_in_bounded_sizes() -> None:
    reader = FlowLogReader([DATA / "nsg_v2.json", DATA / "vnet.json"], batch_tuples=4)
    sizes = [b.num_rows for b in reader.batches()]
    assert sum(sizes) == 15 and len(sizes) >= 3


endpoints = st.sampled_from(["10.0.1.4", "10.0.1.5", "10.0.2.4", "52.1.2.3", "203.0.114.7", "168.63.129.16"])
destinations = st.one_of(endpoints, st.sampled_from(["20.1.1.1", "20.2.2.2"]))
traffic = st.lists(
    st.tuples(endpoints, destinations, st.sampled_from([6, 17, 1]), st.sampled_from([22, 80, 443, 8080, 25, 53]),
              st.integers(1024, 1030), st.sampled_from(["SYN", "ACK", "FIN", "RST"]), st.integers(0, 400)),
    min_size=1, max_size=25,
)  # fmt: skip


@settings(max_examples=10, deadline=None)
@given(traffic)
def test_any_simulated_traffic_replays_unchanged_against_its_own_config(
    tmp_path_factory: pytest.TempPathFactory, packets: list
) -> None:
    """Whatever the traffic, every flow the data plane logged is decided the same way when replayed."""
    from tests.test_dataplane import load_balancer

    from opennsg.dataplane.conntrack import TcpFlag
    from opennsg.dataplane.network import Packet

    clock = ManualClock()
    writer = FlowLogWriter({LogFormat.NSG_V1, LogFormat.NSG_V2, LogFormat.VNET})
    topology = world()
    net = Network(topology.with_(load_balancers=[load_balancer()]), clock=clock, flow_logs=writer)
    for src, dst, protocol, port, sport, flag, gap in packets:
        clock.advance(timedelta(seconds=gap))
        ported = protocol != 1
        net.send(Packet(src, dst, protocol, sport if ported else None, port if ported else None,
                        frozenset({TcpFlag(flag)}) if protocol == 6 else frozenset(), 1, 100))  # fmt: skip
    clock.advance(timedelta(minutes=10))
    net.tick()
    out = tmp_path_factory.mktemp("sim")
    writer.write(out)
    reader = FlowLogReader([out])
    result = replay(topology, reader.batches(), reader.stats)
    assert reader.stats.problems == []
    assert result.tuples == len(writer.entries) + 2 * sum(1 for e in writer.entries if e.nsg_id)  # VNet + v1 + v2
    assert result.changed == () and result.unattributed_tuples == 0


def _record(tuples: str) -> str:
    return (
        '{"time": "2026-12-01T10:00:00.0000000Z", "systemId": "g", "category": "NetworkSecurityGroupFlowEvent",'
        ' "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N",'
        ' "operationName": "NetworkSecurityGroupFlowEvents", "properties": {"Version": 2, "flows": [{"rule":'
        ' "UserRule_a", "flows": [{"mac": "000D3AF87856", "flowTuples": [' + tuples + "]}]}]}}"
    )


GOOD_TUPLE = '"1542110379,10.5.16.4,13.67.143.115,44931,443,T,O,A,B,,,,"'


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "PT1H.json"
    path.write_bytes(b"\xef\xbb\xbf" + ('{"records": [' + _record(GOOD_TUPLE) + "]}").encode())
    reader = FlowLogReader([path])
    assert reader.read_all().num_rows == 1
    assert reader.stats.problems == []


@pytest.mark.parametrize("layout", ["records-first", "other-key-order"])
def test_a_trailing_comma_is_reported_as_one_with_its_line_and_column(tmp_path: Path, layout: str) -> None:
    bad = _record(GOOD_TUPLE + ",")
    body = (
        ('{"records": [\n' + _record(GOOD_TUPLE) + ",\n" + bad + "\n]}")
        if layout == "records-first"
        else ('{"version": 1,\n "records": [\n' + bad + "\n]}")
    )
    path = tmp_path / "PT1H.json"
    path.write_text(body)
    reader = FlowLogReader([path])
    reader.read_all()
    [problem] = reader.stats.problems
    column = len(bad) - len("]}]}]}}") + 1  # the bad record is line 3 in both layouts
    assert f"trailing comma in flowTuples at line 3, column {column}" in problem.message
    assert "truncated" not in problem.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{RECORD},\n]}", "trailing comma in records at line 3, column 1"),
        ("{RECORD},,{RECORD}]}", "malformed JSON: a comma where a record was expected at line 2, column"),
        ("{RECORD} {RECORD}]}", "malformed JSON: Expecting ',' delimiter between records at line 2, column"),
    ],
)
def test_a_separator_problem_between_records_is_reported_where_it_is(tmp_path: Path, body: str, says: str) -> None:
    """The streaming reader checks the commas between records as JSON does (the records are read all the same)."""
    path = tmp_path / "PT1H.json"
    path.write_text('{"records": [\n' + body.replace("{RECORD}", _record(GOOD_TUPLE)))
    reader = FlowLogReader([path])
    rows = reader.read_all().num_rows
    [problem] = reader.stats.problems
    assert problem.message.startswith(says), problem.message
    assert rows == body.count("{RECORD}")
