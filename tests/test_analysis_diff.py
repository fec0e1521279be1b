"""``opennsg diff``: the boxes are exactly the flows whose verdict changed (properties against ``Engine.verify``,
brute force over a small universe), witnesses verify, ``diff X X`` is empty; the command's exit codes and shapes."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from itertools import product
from pathlib import Path
from random import Random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from boxes import contains, sample, size, witness_flow
from opennsg.analysis import diff_topologies
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Access, Direction, NetworkSecurityGroup, Topology
from opennsg.model.errors import OpenNsgError
from opennsg.model.ids import id_key
from strategies import topology_and_flows

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _mutate(topology: Topology, data: st.DataObject) -> Topology:
    """One realistic edit: flip a rule's access, widen or move its destination ports, or delete it."""
    nsgs = sorted(topology.nsgs.values(), key=lambda n: n.id)
    candidates = [(n, r) for n in nsgs for r in n.security_rules]
    if not candidates:
        return topology
    nsg, rule = data.draw(st.sampled_from(candidates))
    kind = data.draw(st.sampled_from(["flip", "ports", "delete"]))
    if kind == "flip":
        changed = replace(rule, access=Access.DENY if rule.access is Access.ALLOW else Access.ALLOW)
    elif kind == "ports":
        lo = data.draw(st.integers(0, 65535))
        hi = data.draw(st.integers(lo, 65535))
        changed = replace(rule, destination_port_range=f"{lo}-{hi}", destination_port_ranges=())
    else:
        changed = None
    rules = tuple(changed if r is rule else r for r in nsg.security_rules if r is not rule or changed is not None)
    new_nsg: NetworkSecurityGroup = replace(nsg, security_rules=rules)
    return topology.with_(nsgs=[new_nsg if n.key == nsg.key else n for n in topology.nsgs.values()])


def _ported_flow(flow: Flow) -> bool:
    return not flow.has_ports or (flow.local_port is not None and flow.remote_port is not None)


@SETTINGS
@given(topology_and_flows(max_flows=15), st.data())
def test_boxes_are_exactly_the_changed_flows(tf: tuple[Topology, list[tuple[str, Flow]]], data: st.DataObject) -> None:
    topology, flows = tf
    changed = _mutate(topology, data)
    result = diff_topologies(topology, changed).to_json()
    old, new = Engine(topology), Engine(changed)
    changes = result["changes"]
    for nic_id, flow in flows:
        if not _ported_flow(flow):
            continue
        before, after = old.verify(nic_id, flow), new.verify(nic_id, flow)
        hits = [
            c
            for c in changes
            if id_key(c["nic"]) == id_key(nic_id) and c["direction"] == flow.direction.value and contains(c, flow)
        ]
        if before.access is after.access:
            assert hits == [], (flow, hits)
        else:
            assert len(hits) == 1, (flow, before, after)
            assert hits[0]["before"] == {"access": before.access.value, "ruleName": before.rule_name}
            assert hits[0]["after"] == {"access": after.access.value, "ruleName": after.rule_name}
    rnd = Random(0)
    for change in changes:
        assert change["flows"] == size(change) > 0
        nic_id, flow = witness_flow(change["witness"])
        assert contains(change, flow)
        for probe in [flow] + [sample(change, change["direction"], rnd) for _ in range(3)]:
            assert old.verify(nic_id, probe).access.value == change["before"]["access"]
            assert new.verify(nic_id, probe).access.value == change["after"]["access"]
    assert result["summary"]["changedFlows"] == sum(c["flows"] for c in changes)


@SETTINGS
@given(topology_and_flows(max_flows=1))
def test_diff_of_a_topology_with_itself_is_empty(tf: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    topology, _ = tf
    result = diff_topologies(topology, topology, rules=True)
    assert result.changes == ()
    assert result.added_nics == () and result.removed_nics == ()


def test_brute_force_over_a_small_universe(world) -> None:  # type: ignore[no-untyped-def]
    """Every flow of a small universe (addresses × ports × protocols) checked against the boxes' counts."""
    from conftest import rule

    remote = ["8.8.8.7", "8.8.8.8", "8.8.8.9", "10.0.1.5", "52.1.2.3"]
    ports = [21, 22, 23, 80, 443]
    old_nsg = world.nsg(
        "nsg",
        rule("ssh", 100, "Inbound", "Allow", "Tcp", "8.8.8.0/30", "*", "22"),
        rule("web", 200, "Inbound", "Allow", "*", "Internet", "*", ("80", "443")),
        rule("deny-dns", 300, "Inbound", "Deny", "Udp", "8.8.8.8", "*", "*"),
    )
    subnet = world.subnet("s", "10.0.1.0/24", nsg=old_nsg)
    world.nic("a", subnet, "10.0.1.4")
    before = world.topology()
    nsg = before.nsg(old_nsg)
    assert nsg is not None
    new_rules = (
        rule("ssh", 100, "Inbound", "Allow", "Tcp", "8.8.8.0/29", "*", "21-22"),
        rule("web", 200, "Inbound", "Allow", "Tcp", "Internet", "*", ("80", "443")),
    )
    ids = {r.name: f"{nsg.id}/securityRules/{r.name}" for r in new_rules}
    after = before.with_(nsgs=[replace(nsg, security_rules=tuple(replace(r, id=ids[r.name]) for r in new_rules))])
    result = diff_topologies(before, after).to_json()
    old, new = Engine(before), Engine(after)
    nic = next(iter(before.nics.values())).id
    for protocol, r_ip, l_port, r_port in product((6, 17, 1), remote, ports, (1024, 53)):
        flow = Flow.make("Inbound", protocol, "10.0.1.4", l_port, r_ip, r_port)
        differs = old.verify(nic, flow).access is not new.verify(nic, flow).access
        hits = [c for c in result["changes"] if c["direction"] == "Inbound" and contains(c, flow)]
        assert len(hits) == (1 if differs else 0), flow


def _write(tmp: Path, name: str, topology_json: dict[str, object]) -> Path:
    path = tmp / name
    path.write_text(json.dumps(topology_json, indent=2))
    return path


def test_cli_exit_codes_json_shape_and_markdown(tmp_path: Path) -> None:
    source = json.loads((EXAMPLES / "how-nsgs-filter-traffic.json").read_text())
    old = _write(tmp_path, "old.json", source)
    edited = json.loads(json.dumps(source))
    for resource in edited["value"]:
        if resource["type"].endswith("networkSecurityGroups") and resource["name"] == "NSG1":
            resource["properties"]["securityRules"][0]["properties"]["destinationPortRange"] = "22"
    new = _write(tmp_path, "new.json", edited)
    runner = CliRunner()
    same = runner.invoke(app, ["diff", str(old), str(old), "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["changes"] == []
    changed = runner.invoke(app, ["diff", str(old), str(new), "--json", "--markdown", str(tmp_path / "pr.md")])
    assert changed.exit_code == 3, changed.output
    body = json.loads(changed.stdout)
    assert set(body) == {"changes", "addedNics", "removedNics", "summary"}
    assert set(body["summary"]) == {"nics", "changedBoxes", "changedFlows", "opened", "closed"}
    first = body["changes"][0]
    for key in ("nic", "direction", "protocols", "localAddresses", "localPorts", "remoteAddresses", "remotePorts"):
        assert key in first
    assert set(first["witness"]) == {
        "targetResourceId",
        "direction",
        "protocol",
        "localIPAddress",
        "localPort",
        "remoteIPAddress",
        "remotePort",
    }
    opened = [c for c in body["changes"] if c["after"]["access"] == "Allow"]
    closed = [c for c in body["changes"] if c["after"]["access"] == "Deny"]
    assert opened and closed  # 22 opens at VM2 (NSG1 alone), 80 closes at VM1 and VM2
    assert all(c["direction"] == Direction.INBOUND.value for c in body["changes"])
    assert "opens" in (tmp_path / "pr.md").read_text()
    human = runner.invoke(app, ["diff", str(old), str(new)])
    assert human.exit_code == 3
    assert "Inbound TCP 22 from Internet: Deny → Allow (securityRules/Allow-Internet-HTTP-Inbound)" in human.stdout
    restricted = runner.invoke(app, ["diff", str(old), str(new), "--json", "--nic", "vm4-nic"])
    assert restricted.exit_code == 0 and json.loads(restricted.stdout)["changes"] == []
    bad = runner.invoke(app, ["diff", str(old), str(tmp_path / "missing.json"), "--json"])
    assert bad.exit_code == 2
    assert "error" in json.loads(bad.stderr)


def test_diff_plan_compares_prior_and_planned_state() -> None:
    plan = EXAMPLES / "terraform" / "three-tier" / "plan.json"
    runner = CliRunner()
    result = runner.invoke(app, ["diff", "--plan", str(plan), "--json"])
    assert result.exit_code in (0, 3), result.output
    body = json.loads(result.stdout)
    assert set(body) == {"changes", "addedNics", "removedNics", "summary"}
    from opennsg.terraform import load_plan

    prior, planned = load_plan(plan)
    assert (result.exit_code == 3) == bool(diff_topologies(prior, planned).changes)
    both = runner.invoke(app, ["diff", str(plan), str(plan), "--plan", str(plan)])
    assert both.exit_code == 2


def _move_nic(topology: Topology, data: st.DataObject) -> tuple[Topology, dict[str, tuple[str, str]]]:
    """One NIC moved into another subnet (of any VNet): each IP configuration gets an address there (of its family;
    one the subnet has no prefix of keeps its old one). Returns the topology after and, per configuration moved,
    (old address, new address)."""
    nics = sorted(topology.nics.values(), key=lambda n: n.id)
    nic = data.draw(st.sampled_from(nics))
    subnets = [s for v in sorted(topology.vnets.values(), key=lambda v: v.id) for s in v.subnets]
    others = [s for s in subnets if nic.subnet is None or id_key(s.id) != id_key(nic.subnet)] or subnets
    target = data.draw(st.sampled_from(others))
    moved: dict[str, tuple[str, str]] = {}
    configs = []
    for offset, cfg in enumerate(nic.ip_configurations):
        old = ipaddress.ip_address(cfg.private_ip_address or "")
        networks = [n for n in map(ipaddress.ip_network, target.address_prefixes) if n.version == old.version]
        if not networks:
            configs.append(cfg)
            continue
        new = str(networks[0].network_address + 200 + offset)
        moved[cfg.name] = (str(old), new)
        configs.append(replace(cfg, private_ip_address=new, subnet=target.id))
    changed = replace(nic, ip_configurations=tuple(configs))
    return topology.with_(nics=[changed if n.key == nic.key else n for n in topology.nics.values()]), moved


@SETTINGS
@given(topology_and_flows(max_flows=15), st.data())
def test_a_moved_nic_is_compared_at_its_new_addresses(
    tf: tuple[Topology, list[tuple[str, Flow]]], data: st.DataObject
) -> None:
    """Pairing by IP configuration: a flow at the old address before against the same flow at the new address
    after. Every witness verifies as stated on each side (``beforeWitness`` before, ``witness`` after), random flows
    in a box change as stated, and every drawn flow that changes lies in exactly one box."""
    topology, flows = tf
    changed, moved = _move_nic(topology, data)
    result = diff_topologies(topology, changed).to_json()
    old, new = Engine(topology), Engine(changed)
    new_address = {ipaddress.ip_address(a): ipaddress.ip_address(b) for a, b in moved.values()}
    rnd = Random(0)
    for change in result["changes"]:
        assert change["flows"] == size(change) > 0
        nic_id, after_flow = witness_flow(change["witness"])
        moved_from = change.get("beforeLocalAddresses")
        if moved_from is None:
            assert "beforeWitness" not in change
            before_flow = after_flow
        else:
            assert change["localAddresses"] != moved_from and len(moved_from) == 1
            _, before_flow = witness_flow(change["beforeWitness"])
            assert before_flow == replace(after_flow, local_ip=ipaddress.ip_address(moved_from[0]))
        assert contains(change, after_flow)
        assert old.verify(nic_id, before_flow).access.value == change["before"]["access"]
        assert new.verify(nic_id, after_flow).access.value == change["after"]["access"]
        assert old.verify(nic_id, before_flow).rule_name == change["before"]["ruleName"]
        assert new.verify(nic_id, after_flow).rule_name == change["after"]["ruleName"]
        for _ in range(3):
            probe = sample(change, change["direction"], rnd)
            earlier = probe if moved_from is None else replace(probe, local_ip=ipaddress.ip_address(moved_from[0]))
            assert old.verify(nic_id, earlier).access.value == change["before"]["access"]
            assert new.verify(nic_id, probe).access.value == change["after"]["access"]
    for nic_id, flow in flows:
        if not _ported_flow(flow):
            continue
        after_flow = replace(flow, local_ip=new_address.get(flow.local_ip, flow.local_ip))
        if after_flow.local_ip.version != after_flow.remote_ip.version:
            continue
        try:
            after = new.verify(nic_id, after_flow)
        except OpenNsgError:  # an address the NIC kept nowhere (not compared)
            continue
        before = old.verify(nic_id, flow)
        hits = [
            c
            for c in result["changes"]
            if id_key(c["nic"]) == id_key(nic_id) and c["direction"] == flow.direction.value and contains(c, after_flow)
        ]
        if before.access is after.access:
            assert hits == [], (flow, hits)
        else:
            assert len(hits) == 1, (flow, before, after)
            expected = None if after_flow.local_ip == flow.local_ip else [str(flow.local_ip)]
            assert hits[0].get("beforeLocalAddresses") == expected


def test_a_nic_moved_behind_an_nsg_closes_what_the_nsg_denies(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """web1 moves from subnet web (no NSG) into subnet app, whose NSG denies the Internet: what the Internet
    reached at its old address closes at its new one, and the human and Markdown output say where it was."""
    from conftest import rule

    nsg = world.nsg("nsg-app", rule("deny-internet", 100, "Inbound", "Deny", "*", "Internet", "*", "*"))
    web = world.subnet("web", "10.0.1.0/24")
    app_subnet = world.subnet("app", "10.0.2.0/24", nsg=nsg)
    world.nic("web1", web, "10.0.1.5")
    world.nic("app1", app_subnet, "10.0.2.4")
    before = world.topology()
    nic = next(n for n in before.nics.values() if n.name == "web1")
    subnet_id = next(s.id for v in before.vnets.values() for s in v.subnets if s.name == "app")
    cfg = replace(nic.ip_configurations[0], private_ip_address="10.0.2.5", subnet=subnet_id)
    after = before.with_(
        nics=[replace(nic, ip_configurations=(cfg,)) if n.key == nic.key else n for n in before.nics.values()]
    )
    result = diff_topologies(before, after)
    body = result.to_json()
    closed = [c for c in body["changes"] if c["nic"] == nic.id and c["after"]["access"] == "Deny"]
    assert closed and all(c["localAddresses"] == ["10.0.2.5"] for c in closed)
    assert all(c["beforeLocalAddresses"] == ["10.0.1.5"] for c in closed)
    probe = Flow.make("Inbound", "Tcp", "10.0.2.5", 443, "52.1.2.3", 50000)
    assert any(contains(c, probe) for c in closed)
    assert body["summary"]["closed"] > 0 and body["summary"]["nics"] == 1
    assert not [c for c in body["changes"] if c["nic"] != nic.id]  # app1 did not change
    from opennsg.arm.export import export_topology

    old_path, new_path = (
        _write(tmp_path, "old.json", export_topology(before)),
        _write(tmp_path, "new.json", export_topology(after)),
    )
    runner = CliRunner()
    cli = runner.invoke(app, ["diff", str(old_path), str(new_path), "--json"])
    assert cli.exit_code == 3, cli.output
    assert json.loads(cli.stdout)["summary"] == body["summary"]
    human = runner.invoke(app, ["diff", str(old_path), str(new_path), "--markdown", str(tmp_path / "pr.md")])
    assert human.exit_code == 3
    assert "from Internet at 10.0.2.5 (was 10.0.1.5): Allow → Deny (securityRules/deny-internet)" in human.stdout
    assert "(was 10.0.1.5)" in (tmp_path / "pr.md").read_text(encoding="utf-8")
