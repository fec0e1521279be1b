"""The documented scenarios on real namespaces: statefulness (semantics §3.3), flushConnection (§7.6), peering and
routes, the platform exemption (§0), public IPs and egress (§12.2, §12.3), fail-closed apply, clean teardown."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labkit import Net, carries, host_network_state, lab_name, needs_netns, open_session, running_lab
from opennsg.arm import to_arm
from opennsg.cli.main import app
from opennsg.enforce.apply import apply_ruleset
from opennsg.enforce.compile import Ruleset, compile_policy
from opennsg.enforce.kernel import KernelError, list_ruleset, netns_exists, rule_counters
from opennsg.enforce.lab import lab_apply, lab_status
from opennsg.enforce.probe import Probe, run_probes
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Access, Direction, Protocol, SecurityRule, Topology
from opennsg.model.errors import OpenNsgError

pytestmark = needs_netns
runner = CliRunner()


@pytest.fixture(autouse=True)
def lab_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_LAB_DIR", str(tmp_path / "labs"))


def allow(name: str, priority: int, direction: str, protocol: str = "*", source: str = "*", port: str = "*",
          access: str = "Allow", destination: str = "*") -> SecurityRule:  # fmt: skip
    parsed_direction, parsed_access, parsed_protocol = (
        Direction.parse(direction),
        Access.parse(access),
        Protocol.parse(protocol),
    )
    assert isinstance(parsed_direction, Direction) and isinstance(parsed_access, Access)
    assert isinstance(parsed_protocol, Protocol)
    return SecurityRule(
        name=name,
        priority=priority,
        direction=parsed_direction,
        access=parsed_access,
        protocol=parsed_protocol,
        source_address_prefix=source,
        source_port_range="*",
        destination_address_prefix=destination,
        destination_port_range=port,
    )


def ssh_world(with_ssh_rule: bool, flush: bool = False) -> Topology:
    """Client ``a`` and server ``b``; b's NSG admits SSH from the subnet (when ``with_ssh_rule``), nothing else."""
    net = Net()
    net.vnet("vnet", "10.9.0.0/16")
    rules = [allow("deny-vnet", 200, "Inbound", access="Deny", source="VirtualNetwork")]
    if with_ssh_rule:
        rules.insert(0, allow("ssh", 100, "Inbound", "Tcp", "10.9.1.0/24", "22"))
    server_nsg = net.nsg("srv", *rules, flush=flush)
    subnet = net.subnet("vnet", "s1", "10.9.1.0/24")
    net.nic("a", subnet, "10.9.1.4")
    net.nic("b", subnet, "10.9.1.5", nsg=server_nsg)
    return net.topology()


def test_ssh_session_survives_deletion_of_its_allow_rule_while_new_ssh_is_refused() -> None:
    name = lab_name()
    with running_lab(ssh_world(True), name, collect=False) as lab:
        client, server = lab.plan.nic("a").netns, lab.plan.nic("b").netns  # type: ignore[union-attr]
        session = open_session(client, server, "10.9.1.5", 22)
        try:
            assert carries(session.client, session.server) and carries(session.server, session.client)
            _, flushed = lab_apply(name, [], ssh_world(False))
            assert flushed == {}
            assert carries(session.client, session.server), "the open session must survive the rule's deletion"
            assert carries(session.server, session.client)
            assert run_probes([Probe("tcp", client, server, "10.9.1.5", 22)]) == [False], "new SSH must be refused"
        finally:
            session.close()


def test_flush_connection_cuts_established_sessions_in_both_directions() -> None:
    name = lab_name()
    with running_lab(ssh_world(True, flush=True), name, collect=False) as lab:
        client, server = lab.plan.nic("a").netns, lab.plan.nic("b").netns  # type: ignore[union-attr]
        client_first = open_session(client, server, "10.9.1.5", 22)
        server_first = open_session(client, server, "10.9.1.5", 22)
        try:
            assert carries(client_first.client, client_first.server)
            assert carries(server_first.server, server_first.client)
            _, flushed = lab_apply(name, [], ssh_world(False, flush=True))
            server_id = lab.plan.nic("b").id  # type: ignore[union-attr]
            assert flushed.get(server_id, 0) >= 2
            assert not carries(client_first.client, client_first.server), "client → server after the flush"
            assert not carries(client_first.server, client_first.client), "server → client after the flush"
            assert not carries(server_first.server, server_first.client), "server sends first after the flush"
        finally:
            client_first.close()
            server_first.close()


def test_flush_connection_keeps_flows_the_new_rules_still_allow() -> None:
    name = lab_name()
    with running_lab(ssh_world(True, flush=True), name, collect=False) as lab:
        client, server = lab.plan.nic("a").netns, lab.plan.nic("b").netns  # type: ignore[union-attr]
        session = open_session(client, server, "10.9.1.5", 22)
        try:
            world = ssh_world(True, flush=True)
            nsg = next(iter(world.nsgs.values()))
            extra = allow("web", 150, "Inbound", "Tcp", "10.9.1.0/24", "80")
            changed = world.with_(nsgs=[type(nsg)(**{**_fields(nsg), "security_rules": (*nsg.security_rules, extra)})])
            _, flushed = lab_apply(name, [], changed)
            assert flushed.get(lab.plan.nic("b").id, 0) == 0  # type: ignore[union-attr]
            assert carries(session.client, session.server)
        finally:
            session.close()


def _fields(resource: object) -> dict[str, object]:
    return {f: getattr(resource, f) for f in resource.__dataclass_fields__}  # type: ignore[attr-defined]


def peered_world(state: str) -> Topology:
    net = Net()
    net.vnet("hub", "10.10.0.0/16")
    net.vnet("spoke", "10.20.0.0/16")
    net.peer("hub", "spoke", state)
    net.nic("h", net.subnet("hub", "s", "10.10.1.0/24"), "10.10.1.4")
    net.nic("s", net.subnet("spoke", "s", "10.20.1.0/24"), "10.20.1.4")
    return net.topology()


@pytest.mark.parametrize(("state", "reachable"), [("Connected", True), ("Disconnected", False)])
def test_peering_not_connected_means_no_path(state: str, reachable: bool) -> None:
    topology = peered_world(state)
    with running_lab(topology, collect=False) as lab:
        hub, spoke = lab.plan.nic("h").netns, lab.plan.nic("s").netns  # type: ignore[union-attr]
        got = run_probes([Probe("tcp", hub, spoke, "10.20.1.4", 443), Probe("icmp", spoke, hub, "10.10.1.4")])
        assert got == [reachable, reachable]


def test_lab_apply_follows_peering_changes_and_refuses_readdressed_nics() -> None:
    name = lab_name()
    with running_lab(peered_world("Disconnected"), name, collect=False) as lab:
        hub, spoke = lab.plan.nic("h").netns, lab.plan.nic("s").netns  # type: ignore[union-attr]
        assert run_probes([Probe("tcp", hub, spoke, "10.20.1.4", 443)]) == [False]
        lab_apply(name, [], peered_world("Connected"))
        assert run_probes([Probe("tcp", hub, spoke, "10.20.1.4", 443)]) == [True]
        readdressed = Net()
        readdressed.vnet("hub", "10.10.0.0/16")
        readdressed.nic("h", readdressed.subnet("hub", "s", "10.10.1.0/24"), "10.10.1.9")
        with pytest.raises(OpenNsgError) as refused:
            lab_apply(name, [], readdressed.topology())
        assert refused.value.errors[0].code == "LabTopologyChanged"
        assert run_probes([Probe("tcp", hub, spoke, "10.20.1.4", 443)]) == [True], "a refused apply changes nothing"


def test_return_traffic_of_an_outbound_connection_passes_without_an_inbound_rule() -> None:
    net = Net()
    net.vnet("vnet", "10.30.0.0/16")
    closed = net.nsg("closed", allow("deny-in", 100, "Inbound", access="Deny"))
    net.nic("vm", net.subnet("vnet", "s", "10.30.1.0/24"), "10.30.1.4", nsg=closed, public="20.61.0.4")
    topology = net.topology()
    with running_lab(topology, collect=False) as lab:
        vm = lab.plan.nic("vm").netns  # type: ignore[union-attr]
        session = open_session(vm, lab.plan.internet, "20.50.0.10", 443)
        try:
            assert carries(session.client, session.server) and carries(session.server, session.client)
        finally:
            session.close()
        assert run_probes([Probe("tcp", lab.plan.internet, vm, "20.61.0.4", 443)]) == [False]


def test_flow_to_the_platform_dns_address_is_allowed_without_rules() -> None:
    net = Net()
    net.vnet("vnet", "10.40.0.0/16")
    locked = net.nsg("locked", allow("deny-out", 100, "Outbound", access="Deny"))
    no_dns = net.nsg("nodns", allow("no-dns", 100, "Outbound", access="Deny", destination="AzurePlatformDNS"))
    subnet = net.subnet("vnet", "s", "10.40.1.0/24")
    net.nic("locked", subnet, "10.40.1.4", nsg=locked)
    net.nic("nodns", subnet, "10.40.1.5", nsg=no_dns)
    topology = net.topology()
    engine = Engine(topology)
    with running_lab(topology, collect=False) as lab:
        locked_ns, no_dns_ns = lab.plan.nic("locked").netns, lab.plan.nic("nodns").netns  # type: ignore[union-attr]
        fabric = lab.plan.fabric
        got = run_probes(
            [
                Probe("icmp", locked_ns, fabric, "168.63.129.16"),
                Probe("udp", locked_ns, fabric, "168.63.129.16", 53),
                Probe("tcp", locked_ns, lab.plan.internet, "20.50.0.10", 443),
                Probe("udp", no_dns_ns, fabric, "168.63.129.16", 53),
            ]
        )
        assert got == [True, True, False, False]
        verdict = engine.verify("locked", Flow.make("Outbound", "Udp", "10.40.1.4", 5353, "168.63.129.16", 53))
        assert verdict.rule_name == "PlatformRule_AzurePlatformDNS"
        nic_id = lab.plan.nic("locked").id  # type: ignore[union-attr]
        dns_mark = next(m for m, r in lab.rulesets[nic_id].rules.items() if r.rule_name == verdict.rule_name)
        assert rule_counters(locked_ns)[dns_mark] == 2


@pytest.mark.parametrize(("sku", "with_nsg", "open_"), [("Standard", False, False), ("Basic", False, True),
                                                        ("Standard", True, True)])  # fmt: skip
def test_internet_reaches_a_nic_only_through_an_open_public_ip(sku: str, with_nsg: bool, open_: bool) -> None:
    net = Net()
    net.vnet("vnet", "10.50.0.0/16")
    nsg = net.nsg("web", allow("web", 100, "Inbound", "Tcp", "Internet", "443")) if with_nsg else None
    net.nic("web", net.subnet("vnet", "s", "10.50.1.0/24"), "10.50.1.4", nsg=nsg, public="20.62.0.4", sku=sku)
    with running_lab(net.topology(), collect=False) as lab:
        web = lab.plan.nic("web").netns  # type: ignore[union-attr]
        got = run_probes(
            [
                Probe("tcp", lab.plan.internet, web, "20.62.0.4", 443),
                Probe("tcp", lab.plan.internet, web, "10.50.1.4", 443),
            ]
        )
        assert got == [open_, False], "a private address is never reachable from the Internet"


def test_egress_public_ip_nat_gateway_default_outbound_and_private_subnets() -> None:
    net = Net()
    net.vnet("vnet", "10.60.0.0/16")
    gateway = net.nat_gateway("nat", "20.63.0.9")
    net.nic("pip", net.subnet("vnet", "a", "10.60.1.0/24"), "10.60.1.4", public="20.63.0.4")
    net.nic("nat", net.subnet("vnet", "b", "10.60.2.0/24", nat_gateway=gateway), "10.60.2.4")
    net.nic("default", net.subnet("vnet", "c", "10.60.3.0/24"), "10.60.3.4")
    net.nic("private", net.subnet("vnet", "d", "10.60.4.0/24", private=True), "10.60.4.4")
    with running_lab(net.topology(), collect=False) as lab:
        egress = {n.name: n.egress.get(n.addresses[0]) for n in lab.plan.nics}
        assert egress == {"pip": "20.63.0.4", "nat": "20.63.0.9", "default": lab.plan.outbound_address, "private": None}
        names = ["pip", "nat", "default", "private"]
        probes = [Probe("tcp", lab.plan.nic(n).netns, lab.plan.internet, "20.50.0.10", 443) for n in names]  # type: ignore[union-attr]
        assert run_probes(probes) == [True, True, True, False]
        seen = _seen_sources(lab.plan.internet, [lab.plan.nic(n).netns for n in names[:3]])  # type: ignore[union-attr]
        assert seen == {"20.63.0.4", "20.63.0.9", lab.plan.outbound_address}, "egress never shows a private address"


def _seen_sources(internet: str, senders: list[str]) -> set[str]:
    import socket

    from labkit import socket_in  # the Internet's listener sees the translated source

    listener = socket_in(internet, socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 8443))
    listener.listen(8)
    listener.settimeout(2)
    seen: set[str] = set()
    try:
        for netns in senders:
            client = socket_in(netns, socket.AF_INET, socket.SOCK_STREAM)
            client.settimeout(2)
            client.connect(("20.50.0.10", 8443))
            conn, (address, _) = listener.accept()
            seen.add(address)
            conn.close()
            client.close()
    finally:
        listener.close()
    return seen


def test_udr_next_hop_none_drops_silently() -> None:
    net = Net()
    net.vnet("vnet", "10.70.0.0/16")
    table = net.route_table("rt", ("10.70.2.0/24", "None"))
    net.nic("a", net.subnet("vnet", "a", "10.70.1.0/24", route_table=table), "10.70.1.4")
    net.nic("b", net.subnet("vnet", "b", "10.70.2.0/24"), "10.70.2.4")
    with running_lab(net.topology(), collect=False) as lab:
        a, b = lab.plan.nic("a").netns, lab.plan.nic("b").netns  # type: ignore[union-attr]
        assert run_probes([Probe("tcp", a, b, "10.70.2.4", 22), Probe("tcp", b, a, "10.70.1.4", 22)]) == [False, True]


def test_the_host_namespace_is_never_touched_and_down_removes_everything() -> None:
    before = host_network_state()
    name = lab_name()
    with running_lab(ssh_world(True), name) as lab:
        namespaces = lab.plan.namespaces
        assert all(netns_exists(n) for n in namespaces)
        assert host_network_state() == before, "a lab must not add a link, address, route or rule to the host"
    assert not any(netns_exists(n) for n in namespaces)
    assert host_network_state() == before


def test_a_failing_test_body_still_tears_the_lab_down() -> None:
    with pytest.raises(RuntimeError), running_lab(ssh_world(True), collect=False) as lab:
        namespaces = lab.plan.namespaces
        raise RuntimeError("the test failed")
    assert not any(netns_exists(n) for n in namespaces)


def test_a_ruleset_that_fails_to_apply_leaves_the_previous_one_and_a_new_namespace_closed() -> None:
    topology = ssh_world(True)
    policy = Engine(topology).policy("b")
    good = compile_policy(policy)
    bogus = {"add": {"rule": {"family": "inet", "table": "opennsg", "chain": "missing", "expr": []}}}
    broken = Ruleset(good.nic_id, (*good.commands, bogus), good.rules)
    with running_lab(topology, collect=False) as lab:
        server = lab.plan.nic("b").netns  # type: ignore[union-attr]
        client = lab.plan.nic("a").netns  # type: ignore[union-attr]
        before = list_ruleset(server)
        with pytest.raises(KernelError):
            apply_ruleset(broken, server)
        assert list_ruleset(server) == before
        assert run_probes([Probe("tcp", client, server, "10.9.1.5", 22)]) == [True]
        os.system(f"ip netns add {lab.plan.name}-x")  # a NIC namespace that never had a ruleset
        try:
            with pytest.raises(KernelError):
                apply_ruleset(broken, f"{lab.plan.name}-x")
            closed = list_ruleset(f"{lab.plan.name}-x")
            assert closed is not None, "fail-closed: a namespace without a ruleset gets the drop-everything one"
            chains = [c["chain"] for c in closed["nftables"] if "chain" in c]
            assert {c["name"]: c.get("policy") for c in chains} == {"inbound": "drop", "outbound": "drop"}
        finally:
            os.system(f"ip netns delete {lab.plan.name}-x")


def _write(path: Path, topology: Topology) -> Path:
    resources = [to_arm(r, topology) for r in (*topology.nsgs.values(), *topology.vnets.values(),
                                              *topology.nics.values(), *topology.public_ips.values())]  # fmt: skip
    path.write_text(json.dumps(resources))
    return path


def test_cli_lab_up_status_apply_flowlogs_down(tmp_path: Path) -> None:
    name = lab_name("c")
    config = _write(tmp_path / "net.json", ssh_world(True))
    result = runner.invoke(app, ["lab", "up", str(config), "--name", name, "--json"])
    assert result.exit_code == 0, result.output
    try:
        up = json.loads(result.stdout)
        assert up["lab"] == name and set(up["internet"]) == {"netns", "addresses"}
        nics = up["nics"]
        assert {v["netns"] for v in nics.values()} == {f"{name}-n1", f"{name}-n2"}
        assert all(set(v) == {"netns", "addresses", "publicAddresses"} for v in nics.values())
        server = next(v for k, v in nics.items() if k.endswith("/b"))
        client = next(v for k, v in nics.items() if k.endswith("/a"))
        assert run_probes(
            [Probe("tcp", client["netns"], server["netns"], "10.9.1.5", 22),
             Probe("tcp", client["netns"], server["netns"], "10.9.1.5", 80)]
        ) == [True, False]  # fmt: skip

        status = runner.invoke(app, ["lab", "status", name, "--json"])
        assert status.exit_code == 0, status.output
        namespaces = json.loads(status.stdout)["namespaces"]
        assert all(n["present"] for n in namespaces)
        assert all(n["ruleset"]["applied"] for n in namespaces if n["role"] == "nic")

        bad = tmp_path / "bad.json"
        broken_rule = {"name": "r", "properties": {"priority": 5}}  # no direction, access, protocol; priority < 100
        bad.write_text(json.dumps([{"type": "Microsoft.Network/networkSecurityGroups", "name": "x",
                                    "properties": {"securityRules": [broken_rule]}}]))  # fmt: skip
        digest = lab_status(name)["namespaces"][3]["ruleset"]["digest"]
        refused = runner.invoke(app, ["lab", "apply", name, str(bad), "--json"])
        assert refused.exit_code == 2
        assert "error" in json.loads(refused.stderr)
        assert lab_status(name)["namespaces"][3]["ruleset"]["digest"] == digest

        applied = runner.invoke(
            app, ["lab", "apply", name, str(_write(tmp_path / "v2.json", ssh_world(False))), "--json"]
        )
        assert applied.exit_code == 0, applied.output
        assert run_probes([Probe("tcp", client["netns"], server["netns"], "10.9.1.5", 22)]) == [False]

        out = tmp_path / "logs"
        logs = runner.invoke(app, ["lab", "flowlogs", name, "--out", str(out), "--json"])
        assert logs.exit_code == 0, logs.output
        assert json.loads(logs.stdout)["flowTuples"] >= 4
        stats = runner.invoke(app, ["flowlogs", "stats", str(out), "--json"])
        assert stats.exit_code == 0, stats.output
        rules = json.dumps(json.loads(stats.stdout))
        assert "UserRule_ssh" in rules and "UserRule_deny-vnet" in rules
        replay = runner.invoke(app, ["flowlogs", "replay", "--config", str(tmp_path / "v2.json"), str(out), "--json"])
        assert replay.exit_code in (0, 1), replay.output
        assert "changed" in json.loads(replay.stdout)
    finally:
        down = runner.invoke(app, ["lab", "down", name, "--json"])
    assert down.exit_code == 0, down.output
    assert set(json.loads(down.stdout)["removed"]) == {f"{name}-fab", f"{name}-inet", f"{name}-n1", f"{name}-n2"}


def test_cli_enforce_in_a_namespace_and_dry_run(tmp_path: Path) -> None:
    config = _write(tmp_path / "net.json", ssh_world(True))
    dry = runner.invoke(app, ["enforce", str(config), "--nic", "b", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    document = json.loads(dry.stdout)
    assert document["nftables"][0] == {"add": {"table": {"family": "inet", "name": "opennsg"}}}
    netns = lab_name("e")
    os.system(f"ip netns add {netns}")
    try:
        done = runner.invoke(app, ["enforce", str(config), "--nic", "b", "--netns", netns, "--json"])
        assert done.exit_code == 0, done.output
        assert json.loads(done.stdout)["applied"] is True
        assert list_ruleset(netns) is not None
        missing = runner.invoke(app, ["enforce", str(config), "--nic", "nope", "--netns", netns, "--json"])
        assert missing.exit_code == 2
    finally:
        os.system(f"ip netns delete {netns}")
    absent = runner.invoke(app, ["enforce", str(config), "--nic", "b", "--netns", "no-such-ns", "--json"])
    assert absent.exit_code == 2 and json.loads(absent.stderr)["error"]["code"] == "NetnsNotFound"
