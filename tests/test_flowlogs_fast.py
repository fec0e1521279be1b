"""Flow log fast paths give exactly what the careful paths give: bulk vs tuple-by-tuple parsing, pipelined
buckets vs one bucket, one fold vs merged partial folds."""

from __future__ import annotations

import json
from collections import Counter
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_flowlogs import RG, SUB, fabrikam, inbound_allow

from opennsg.engine import Engine, Flow
from opennsg.flowlogs import replay as replay_module
from opennsg.flowlogs import tuples as tuples_module
from opennsg.flowlogs.reader import FlowLogReader, ReadStats
from opennsg.flowlogs.replay import DistinctFlows, fold, replay
from opennsg.model import IpConfiguration, NetworkInterface, Protocol
from opennsg.model.enums import Direction
from opennsg.model.ids import network_id

NSG_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a"

#: A logged flow's two ends are of one IP version (a tuple mixing them is malformed: see test_flowlogs_keys).
address_pairs = st.one_of(
    st.tuples(*[st.sampled_from(["10.0.0.4", "10.0.0.5", "52.1.2.3", "0.0.0.0", "255.255.255.255"])] * 2),
    st.tuples(*[st.sampled_from(["fd00::6", "::1"])] * 2),
)
good_v2 = st.builds(
    lambda ts, ends, sport, dport, proto, direction, decision, state, counters: ",".join(
        [str(ts), *ends, str(sport), str(dport), proto, direction, decision, state, *counters]
    ),
    st.integers(0, 2_000_000_000), address_pairs, st.integers(0, 65535), st.integers(0, 65535),
    st.sampled_from(["T", "U", "1", "50"]), st.sampled_from("IO"), st.sampled_from("AD"), st.sampled_from("BCE"),
    st.lists(st.one_of(st.just(""), st.integers(0, 10**12).map(str)), min_size=4, max_size=4),
)  # fmt: skip


def with_field(index: int, value: str) -> Any:
    return lambda t: ",".join([*t.split(",")[:index], value, *t.split(",")[index + 1 :]])


#: Ways a tuple goes wrong, each caught by a different check of the fast path.
SPOIL = [
    with_field(1, "10.0.0.256"),  # octet out of range
    with_field(2, "fd00::zz"),  # not an IPv6 address
    lambda t: t + ",1",  # a field too many
    lambda t: t.rsplit(",", 1)[0],  # a field too few
    lambda t: "",  # empty
    with_field(0, "-5"),  # negative time
    with_field(5, "X"),  # unknown protocol letter
    with_field(3, "65536"),  # port out of range
    with_field(8, "Q"),  # unknown state
    with_field(9, "x"),  # counter not a number
    lambda t: 7,  # not a string
    with_field(4, "-0"),  # a sign
    with_field(4, " 443"),  # a blank
    with_field(3, "00443"),  # a port of more than five characters
    with_field(0, "15421103770000"),  # a time of more than 13 digits
    with_field(10, "9" * 20),  # a counter beyond int64
    with_field(3, ""),  # no port
    with_field(0, ""),  # no time
]
#: Unusual but allowed: each goes the careful way and must come out as the fast way would read it.
ODD_BUT_FINE = [with_field(9, "007"), with_field(4, "0443"), with_field(5, "06"), with_field(0, "0001542110377")]
entries = st.lists(st.tuples(good_v2, st.one_of(st.none(), st.sampled_from(range(len(SPOIL))))), min_size=1)


def write_log(path: Path, groups: list[list[Any]], mac: str = "000D3AF87856") -> None:
    records = [
        {"category": "NetworkSecurityGroupFlowEvent", "resourceId": NSG_ID, "systemId": "sys",
         "properties": {"Version": 2, "flows": [{"rule": "UserRule_a", "flows": [{"mac": mac, "flowTuples": g}]}]}}
        for g in groups
    ]  # fmt: skip
    path.write_text(json.dumps({"records": records}))


def read(paths: list[Path], batch_tuples: int) -> tuple[list[dict[str, Any]], ReadStats]:
    reader = FlowLogReader(paths, batch_tuples=batch_tuples)
    return reader.read_all().to_pylist(), reader.stats


@settings(max_examples=30, deadline=None)
@given(st.lists(entries, min_size=1, max_size=6), st.integers(1, 8))
def test_malformed_tuples_cost_only_themselves(
    tmp_path_factory: pytest.TempPathFactory, groups: list[list[tuple[str, int | None]]], batch_tuples: int
) -> None:
    """Bad tuples mixed in (careful path) leave exactly the rows of the good ones (fast path), each bad one
    reported at its place; small pipelined buckets and one big bucket agree on rows, problems and counts."""
    out = tmp_path_factory.mktemp("logs")
    spoiled = [[t if k is None else SPOIL[k](t) for t, k in g] for g in groups]
    write_log(out / "mixed.json", spoiled)
    write_log(out / "clean.json", [[t for t, k in g if k is None] for g in groups])
    clean_rows, clean = read([out / "clean.json"], 1 << 20)
    assert clean.problems == []
    for size in (batch_tuples, 1 << 20):
        rows, stats = read([out / "mixed.json"], size)
        assert [{**r, "file": ""} for r in rows] == [{**r, "file": ""} for r in clean_rows]
        bad = {f"records[{i}].properties.flows[0].flows[0].flowTuples[{j}]"
               for i, g in enumerate(groups) for j, (_, k) in enumerate(g) if k is not None}  # fmt: skip
        assert {p.position for p in stats.problems} == bad
        assert stats.malformed_tuples == len(bad) and stats.tuples == len(rows)
    pipelined, one_bucket = read([out / "mixed.json"], batch_tuples)[1], read([out / "mixed.json"], 1 << 20)[1]
    assert Counter(pipelined.problems) == Counter(one_bucket.problems)
    assert pipelined.records == one_bucket.records and pipelined.malformed_records == one_bucket.malformed_records


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(good_v2, st.one_of(st.none(), st.sampled_from(SPOIL + ODD_BUT_FINE))), min_size=1, max_size=12)
)
def test_each_tuple_fares_the_same_in_the_fast_and_the_careful_path(
    tmp_path_factory: pytest.TempPathFactory, drawn: list[tuple[str, Any]]
) -> None:
    """Alone (fast path unless the tuple itself is off) or next to garbage (every tuple checked on its own), a
    tuple is kept or reported alike."""
    out = tmp_path_factory.mktemp("logs")
    tuples = [t if edit is None else edit(t) for t, edit in drawn]
    outcomes = []
    for extra in ([], ["garbage"]):
        write_log(out / "a.json", [tuples + extra])
        rows, stats = read([out / "a.json"], 1 << 20)
        outcomes.append((rows, sorted(p.position for p in stats.problems if "garbage" not in p.message)))
    assert outcomes[0] == outcomes[1]


def test_problems_stay_in_file_order_while_buckets_parse_on_workers(tmp_path: Path) -> None:
    good = "1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,C,1,2,3,4"
    write_log(tmp_path / "a.json", [[good, "bad"], [good, good], ["bad", good], [good]])
    text = json.loads((tmp_path / "a.json").read_text())
    text["records"][1] = text["records"][3] = {"category": "Unknown"}
    (tmp_path / "a.json").write_text(json.dumps(text))
    # Records 0 and 2 each fill a bucket, parsed while the later records decode.
    _, stats = read([tmp_path / "a.json"], 2)
    tuples = "properties.flows[0].flows[0].flowTuples"
    expected = [f"records[0].{tuples}[1]", "records[1]", f"records[2].{tuples}[0]", "records[3]"]
    assert [p.position for p in stats.problems] == expected
    assert (stats.malformed_tuples, stats.malformed_records, stats.tuples) == (2, 2, 2)


def rows_of(flows: DistinctFlows) -> list[tuple[Any, ...]]:
    """The distinct flows as text, the way the log wrote them."""
    return sorted(
        (flows.macs[int(flows.mac[i])], "O" if flows.outbound[i] else "I", int(flows.protocol[i]),
         flows.address_text(int(flows.src[i])), flows.address_text(int(flows.dst[i])), int(flows.src_port[i]),
         int(flows.dst_port[i]), "A" if flows.logged_allow[i] else "D", flows.address_text(int(flows.local[i])),
         int(flows.count[i]))
        for i in range(len(flows))
    )  # fmt: skip


def test_fold_in_parts_equals_fold_in_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    good = "1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,{}"
    inbound = "1542110377,13.67.143.118,10.5.16.4,59831,443,T,I,D,B,,,,"
    write_log(tmp_path / "a.json", [[good.format(s) + ",1,2,3,4" for s in "BCE"], [inbound, inbound]])
    write_log(tmp_path / "b.json", [[good.format("C") + ",,,,"]], mac="00-0D-3A-00-00-01")
    whole, seen = fold(FlowLogReader([tmp_path]).batches())
    monkeypatch.setattr(replay_module, "FOLD_TUPLES", 2)
    parts, seen_in_parts = fold(FlowLogReader([tmp_path], batch_tuples=1).batches())
    assert (seen, seen_in_parts) == (6, 6)
    assert (
        rows_of(whole)
        == rows_of(parts)
        == [
            ("000D3A000001", "O", 6, "10.5.16.4", "13.67.143.118", 59831, 443, "A", "10.5.16.4", 1),
            ("000D3AF87856", "I", 6, "13.67.143.118", "10.5.16.4", 59831, 443, "D", "10.5.16.4", 2),
            ("000D3AF87856", "O", 6, "10.5.16.4", "13.67.143.118", 59831, 443, "A", "10.5.16.4", 3),
        ]
    )


def test_fold_of_nothing_is_no_flow() -> None:
    flows, seen = fold([])
    assert len(flows) == 0 and seen == 0 and rows_of(flows) == []


v4_ends = st.sampled_from(["10.0.0.4", "10.0.0.5", "52.1.2.3", "0.0.0.0", "255.255.255.255"])
v6_ends = st.sampled_from(["fd00::6", "FD00::6", "::ffff:10.0.0.4", "2001:db8::1"])
logged = st.tuples(
    st.sampled_from(["000D3AF87856", "00-0d-3a-00-00-01", "000D3A000002"]),
    st.one_of(st.tuples(v4_ends, v4_ends), st.tuples(v6_ends, v6_ends)),
    st.sampled_from([0, 1, 443, 65535]), st.sampled_from([0, 80, 65535]), st.sampled_from(["T", "U", "1", "255"]),
    st.sampled_from("IO"), st.sampled_from("AD"), st.sampled_from("BCE"),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(logged, min_size=1, max_size=8), min_size=1, max_size=5), st.integers(1, 4), st.integers(1, 9),
    st.sampled_from(["keys", "batches"]),
)  # fmt: skip
def test_fold_counts_what_a_counter_of_the_logged_texts_counts(
    tmp_path_factory: pytest.TempPathFactory,
    groups: list[list[tuple[Any, ...]]],
    batch: int,
    fold_tuples: int,
    read_as: str,
) -> None:
    """Integer keys (IPv4 numbers, codes for MACs and other address texts), in any buckets and partial groupings,
    read as keys (what replay reads) or as batches (filtered replay): the flows and counts a plain ``Counter`` of
    the logged texts gives, every address spelt as it was logged."""
    out = tmp_path_factory.mktemp("fold")
    for i, group in enumerate(groups):
        tuples = [f"1542110377,{s},{d},{sp},{dp},{p},{di},{de},{state},1,2,3,4"
                  for _, (s, d), sp, dp, p, di, de, state in group]  # fmt: skip
        write_log(out / f"{i}.json", [tuples], mac=group[0][0])
    expected: Counter[tuple[Any, ...]] = Counter()
    for group in groups:
        mac = group[0][0].replace("-", "").upper()
        for _, (s, d), sp, dp, p, di, de, _ in group:
            protocol = {"T": 6, "U": 17}.get(p, int(p) if p.isdigit() else 0)
            expected[(mac, di, protocol, s, d, sp, dp, de, s if di == "O" else d)] += 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(replay_module, "FOLD_TUPLES", fold_tuples)
        reader = FlowLogReader([out], batch_tuples=batch)
        flows, seen = fold(reader.flow_keys() if read_as == "keys" else reader.batches())
    assert seen == sum(expected.values())
    assert rows_of(flows) == sorted((*key, n) for key, n in expected.items())


@pytest.mark.parametrize("ahead", [0, 1])
def test_nics_compiled_while_others_are_decided_decide_the_same(monkeypatch: pytest.MonkeyPatch, ahead: int) -> None:
    """However many NICs are compiled ahead of the one being decided (``DECIDING``), the changes are the same."""
    from tests.test_flowlogs import DATA, RG, SUB, fabrikam

    from opennsg.model import IpConfiguration, NetworkInterface
    from opennsg.model.ids import network_id

    topology = fabrikam()
    vnet = next(iter(topology.vnets.values()))
    nic_id = network_id(SUB, RG, "networkInterfaces", "vm2-nic")
    cfg = IpConfiguration(f"{nic_id}/ipConfigurations/c", "c", "10.0.0.6", vnet.subnets[0].id, primary=True)
    topology = topology.with_(
        nics=[*topology.nics.values(), NetworkInterface(nic_id, "vm2-nic", "eastus", ip_configurations=(cfg,))]
    )

    def changes() -> list[tuple[str, str, str, str | None, int]]:
        reader = FlowLogReader([DATA / "nsg_v1.json", DATA / "vnet.json"])
        result = replay(topology, reader.batches(), reader.stats)
        return sorted((c.nic, c.src_ip, c.new_decision, c.new_rule, c.count) for c in result.changed)

    everything_ahead = changes()
    monkeypatch.setattr(replay_module, "DECIDING", ahead)
    assert changes() == everything_ahead and len({nic for nic, *_ in everything_ahead}) == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=48).map(lambda b: bytes(b"0123,\nA9"[x % 8] for x in b)), st.sampled_from([1, 2, 7, 1 << 20]))
def test_leading_zero_scan_in_blocks_equals_the_whole_text(data: bytes, block: int) -> None:
    """``_lenient_numbers`` scans the text in blocks (bounded temporaries); any block size finds exactly the
    leading zeros (a field starting ``0`` then a digit) a scan of the whole text finds."""
    text = data.decode()
    fields = [field for line in text.split("\n") for field in line.split(",")]
    expected = any(len(f) > 1 and f[0] == "0" and f[1].isdigit() for f in fields)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuples_module, "_SCAN_BYTES", block)
        assert tuples_module._lenient_numbers(data) == expected


remote_ips = st.sampled_from(["52.1.2.3", "52.1.2.4", "13.67.143.118", "10.5.16.9", "fd00::9", "2001:db8::7"])
local_ips = st.sampled_from(["10.5.16.4", "10.5.16.6", "10.5.16.7", "fd00::6"])  # vm1, vm2 (by IP), strangers
replayed_tuple = st.tuples(
    st.sampled_from(["000D3AF87856", "00-0D-3A-F8-78-56", "112233445566"]), local_ips, remote_ips,
    st.sampled_from([22, 443, 3389, 50000]), st.sampled_from([22, 443, 50000]), st.sampled_from(["T", "U", "1"]),
    st.sampled_from("IO"), st.sampled_from("AD"), st.sampled_from("BCE"),
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(replayed_tuple, min_size=1, max_size=10), min_size=1, max_size=4), st.integers(0, 2),
    st.sampled_from(["keys", "batches"]),
)  # fmt: skip
def test_replay_is_each_tuple_decided_on_its_own(
    tmp_path_factory: pytest.TempPathFactory, groups: list[list[tuple[Any, ...]]], variant: int, read_as: str
) -> None:
    """The fold into distinct flows, the integer keys and the vectorised classifier change nothing: the changes and
    totals are those of deciding every logged tuple alone with ``Engine.decide`` at the NIC its MAC, else its local
    address, names (IPv4 and IPv6, known and unknown MACs, NICs with and without a MAC)."""
    rules = [(), (inbound_allow("allow-ssh", 100, Protocol.TCP, "22"),),
             (inbound_allow("allow-udp", 100, Protocol.UDP, "443-50000"),)][variant]  # fmt: skip
    topology = fabrikam(*rules)
    vnet = next(iter(topology.vnets.values()))
    vm2_id = network_id(SUB, RG, "networkInterfaces", "vm2-nic")
    cfg = IpConfiguration(f"{vm2_id}/ipConfigurations/c", "c", "10.5.16.6", vnet.subnets[0].id, primary=True)
    topology = topology.with_(
        nics=[*topology.nics.values(), NetworkInterface(vm2_id, "vm2-nic", "eastus", ip_configurations=(cfg,))]
    )
    out = tmp_path_factory.mktemp("replay")
    for i, group in enumerate(groups):
        tuples = []
        for _, local, remote, local_port, remote_port, protocol, direction, decision, state in group:
            if (":" in local) != (":" in remote):  # a logged flow's ends are of one IP version
                remote = "fd00::9" if ":" in local else "52.1.2.4"
            src, dst, sport, dport = (local, remote, local_port, remote_port) if direction == "O" else \
                (remote, local, remote_port, local_port)  # fmt: skip
            tuples.append(f"1542110377,{src},{dst},{sport},{dport},{protocol},{direction},{decision},{state},,,,")
        write_log(out / f"{i}.json", [tuples], mac=group[0][0])
    reader = FlowLogReader([out])
    result = replay(topology, reader.flow_keys() if read_as == "keys" else reader.batches(), reader.stats).to_json()

    engine = Engine(topology)
    nic_by_mac = {nic.mac_address.replace("-", "").upper(): nic for nic in topology.nics.values() if nic.mac_address}
    nic_by_ip = {cfg.private_ip_address: nic for nic in topology.nics.values() for cfg in nic.ip_configurations}
    decided: dict[tuple[Any, ...], list[Any]] = {}
    strangers: Counter[tuple[Any, ...]] = Counter()
    for row in FlowLogReader([out]).read_all().to_pylist():
        outbound = row["direction"] == "O"
        local, remote = (row["src_ip"], row["dst_ip"]) if outbound else (row["dst_ip"], row["src_ip"])
        ports = (row["src_port"], row["dst_port"]) if outbound else (row["dst_port"], row["src_port"])
        key = (row["mac"], row["src_ip"], row["dst_ip"], row["src_port"], row["dst_port"], row["protocol"],
               row["direction"], row["decision"])  # fmt: skip
        nic = nic_by_mac.get(row["mac"]) or nic_by_ip.get(local)
        if nic is None:
            strangers[key] += 1
            continue
        flow = Flow(Direction.OUTBOUND if outbound else Direction.INBOUND, row["protocol"], ip_address(local),
                    ports[0], ip_address(remote), ports[1])  # fmt: skip
        verdict = engine.decide(nic, flow)
        entry = decided.setdefault(key, [nic.id, verdict.allowed, verdict.log_rule_name, 0])
        entry[3] += 1
    names = {6: "TCP", 17: "UDP", 1: "ICMP"}
    # Sorted by repr: a flow's new rule may be None where an otherwise equal flow's (at another NIC) is a name.
    expected = sorted((
        (src, dst, sport, dport, names[protocol], "Outbound" if direction == "O" else "Inbound",
         "Allow" if decision == "A" else "Deny", "Allow" if allowed else "Deny", rule, nic, count)
        for (_, src, dst, sport, dport, protocol, direction, decision), (nic, allowed, rule, count) in decided.items()
        if allowed != (decision == "A")
    ), key=repr)  # fmt: skip
    got = sorted((tuple(c.values()) for c in result["changed"]), key=repr)
    assert got == expected
    totals = result["totals"]
    assert totals["tuples"] == sum(len(g) for g in groups)
    assert totals["flows"] == len(decided) + len(strangers)
    assert (totals["unattributedFlows"], totals["unattributedTuples"]) == (len(strangers), strangers.total())


@pytest.mark.parametrize("read_as", ["flow_keys", "batches"])
def test_no_bucket_spans_two_files(tmp_path: Path, read_as: str) -> None:
    """A file's tuple problems come before the next file's record problems (its part-filled bucket is parsed at
    its end), so each file reports alone what it reports among others (as a Spark task per file reads it)."""
    good = "1542110377,10.5.16.4,13.67.143.118,59831,443,T,O,A,C,1,2,3,4"
    write_log(tmp_path / "a.json", [[good, "bad"]])
    write_log(tmp_path / "b.json", [[good]])
    text = json.loads((tmp_path / "b.json").read_text())
    text["records"].append({"category": "Unknown"})
    (tmp_path / "b.json").write_text(json.dumps(text))
    reader = FlowLogReader([tmp_path / "a.json", tmp_path / "b.json"])
    assert sum(part.num_rows for part in getattr(reader, read_as)()) == 2
    assert [(Path(p.file).name, p.position) for p in reader.stats.problems] == [
        ("a.json", "records[0].properties.flows[0].flows[0].flowTuples[1]"),
        ("b.json", "records[1]"),
    ]
    alone = FlowLogReader([tmp_path / "a.json"])
    list(getattr(alone, read_as)())
    assert alone.stats.problems == reader.stats.problems[:1]
