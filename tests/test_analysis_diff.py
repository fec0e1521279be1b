"""``opennsg diff``: the boxes are exactly the flows whose verdict changed (properties against ``Engine.verify``,
brute force over a small universe), witnesses verify, ``diff X X`` is empty; the command's exit codes and shapes."""

from __future__ import annotations

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
