"""``opennsg reach``: the matrix agrees with ``Engine.verify_path`` flow by flow; intents' results, hops, witnesses
and counterexamples; routing (UDR None, appliances, peerings); the command's exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import ip_address, ip_network
from itertools import product
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from boxes import contains, size, witness_flow
from conftest import World, rid, rule
from opennsg.analysis.reach import Intent, Reachability
from opennsg.analysis.symbolic import CompiledPolicy, build_space, evaluate_boxes
from opennsg.arm import export_topology
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.addresses import AddressSet
from opennsg.engine.flow import Flow
from opennsg.engine.routes import effective_routes, next_hop
from opennsg.model import Direction, NetworkInterface, PublicIpAddress, Route, RouteTable, Topology
from opennsg.model.routes import NextHopType
from strategies import _flow_ports, topologies


def _world(world: World) -> Topology:
    web_nsg = world.nsg(
        "web",
        rule("https-in", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("deny-db-out", 100, "Outbound", "Deny", "Tcp", "*", "10.0.2.0/24", "22"),
    )
    db_nsg = world.nsg(
        "db",
        rule("sql-from-web", 100, "Inbound", "Allow", "Tcp", "10.0.1.0/24", "*", ("1433", "22")),
        rule("deny-vnet", 200, "Inbound", "Deny", "*", "VirtualNetwork", "*", "*"),
    )
    web = world.subnet("web", "10.0.1.0/24", nsg=web_nsg)
    db = world.subnet("db", "10.0.2.0/24", nsg=db_nsg)
    world.nic("web1", web, "10.0.1.4")
    world.nic("db1", db, "10.0.2.4")
    world.nic("db2", db, "10.0.2.5")
    topology = world.topology()
    web1 = next(n for n in topology.nics.values() if n.name == "web1")
    web1_ip = rid("publicIPAddresses", "web1-ip")
    configs = (replace(web1.ip_configurations[0], public_ip_address=web1_ip),)
    return topology.with_(
        nics=[replace(web1, ip_configurations=configs) if n is web1 else n for n in topology.nics.values()],
        public_ips=[PublicIpAddress(web1_ip, "web1-ip", "westus", {})],  # no SKU given: Standard, as in ARM
    )


def test_matrix_agrees_with_verify_path(world: World) -> None:
    topology = _world(world)
    matrix = Reachability(topology).matrix()
    engine = Engine(topology)
    nics = list(topology.nics.values())
    for source, destination in product(nics, nics):
        if source is destination:
            continue
        cell = matrix.cell(source.id, destination.id)
        assert cell is not None
        boxes = [b.to_json() for b in cell.allowed]
        for protocol, port in product(("TCP", "UDP", "ICMP"), (22, 443, 1433, 8080)):
            path = engine.verify_path(source.id, destination.id, protocol, None, 50000, None, port)
            src, dst = (
                source.ip_configurations[0].private_ip_address,
                destination.ip_configurations[0].private_ip_address,
            )
            inbound = Flow.make("Inbound", protocol, dst, port, src, 50000)
            assert any(contains(b, inbound) for b in boxes) == path.allowed, (source.name, destination.name, protocol)
    web1 = next(n for n in nics if n.name == "web1")
    db1 = next(n for n in nics if n.name == "db1")
    assert matrix.cell(web1.id, db1.id).summary == "TCP 1433; UDP —; ICMP —"  # type: ignore[union-attr]
    assert matrix.cell(web1.id, db1.id).reachable == "partial"  # type: ignore[union-attr]
    assert matrix.cell("Internet", web1.id).summary == "TCP 443; UDP —; ICMP —"  # type: ignore[union-attr]
    assert matrix.cell("Internet", db1.id).reachable is False  # type: ignore[union-attr]
    for cell in matrix.cells.values():
        for box in cell.allowed:
            nic_id, flow = witness_flow(box.to_json()["witness"])
            assert engine.verify(nic_id, flow).allowed


def test_intents_results_hops_and_witnesses(world: World) -> None:
    topology = _world(world)
    engine = Engine(topology)
    reach = Reachability(topology)
    db_subnet = rid("virtualNetworks", "vnet", "subnets", "db")
    results = reach.intents(
        [
            Intent("web to db sql", "web1", "db1", "TCP", ("1433",), expect="Reachable"),
            Intent("web to db ssh", "web1", "vm-db1", "TCP", ("22",)),
            Intent("web to db sql and ssh", "web1", "db1", "TCP", ("22", "1433")),
            Intent("db to db", "db1", "db2", "TCP", ("1433",)),
            Intent("internet to web", "Internet", "web1", "TCP", ("443",), expect="Reachable"),
            Intent("internet to db", "Internet", "db1", "TCP", ("443",)),
            Intent("web to subnet", "web1", db_subnet, "TCP", ("1433",)),
            Intent("web out", "web1", "Internet", "TCP", ("443",)),
            Intent("partner", "52.1.2.3", "web1", "TCP", ("443", "80")),
        ]
    )
    by_name = {r.name: r for r in results}
    assert by_name["web to db sql"].result == "Reachable" and not by_name["web to db sql"].expectation_failed
    ssh = by_name["web to db ssh"]
    assert ssh.result == "Unreachable"
    assert {(b.hop, b.rule) for b in ssh.blocked} == {("source-subnet", "securityRules/deny-db-out")}
    assert by_name["web to db sql and ssh"].result == "PartiallyReachable"
    db_to_db = by_name["db to db"]
    assert db_to_db.result == "Unreachable"
    assert {(b.hop, b.rule) for b in db_to_db.blocked} == {("destination-subnet", "securityRules/deny-vnet")}
    assert by_name["internet to web"].result == "Reachable"
    internet_db = by_name["internet to db"]
    assert internet_db.result == "Unreachable" and {b.hop for b in internet_db.blocked} == {"no-route"}
    assert by_name["web to subnet"].result == "Reachable"  # both NICs of the subnet
    assert by_name["web out"].result == "Reachable"
    assert by_name["partner"].result == "PartiallyReachable"
    for result in results:
        body = result.to_json()
        assert set(body) >= {"name", "result", "allowed", "blocked", "witness", "counterexample"}
        if body["witness"]:
            nic_id, flow = witness_flow(body["witness"])
            assert engine.verify(nic_id, flow).allowed, result.name
        for blocked in body["blocked"]:
            if blocked["hop"] in ("no-route", "no-egress", "appliance"):
                continue
            nic_id, flow = witness_flow(blocked["witness"])
            verdict = engine.verify(nic_id, flow)
            assert not verdict.allowed and verdict.rule_name == blocked["rule"], result.name


def test_routes_none_and_appliance(world: World) -> None:
    topology = _world(world)
    table = RouteTable(
        rid("routeTables", "rt"),
        "rt",
        routes=(Route("blackhole", "10.0.2.4/32", "None"), Route("nva", "10.0.2.5/32", "VirtualAppliance", "10.0.9.4")),
    )
    vnet = next(iter(topology.vnets.values()))
    subnets = tuple(replace(s, route_table=table.id) if s.name == "web" else s for s in vnet.subnets)
    topology = topology.with_(route_tables=[table], vnets=[replace(vnet, subnets=subnets)])
    results = Reachability(topology).intents(
        [
            Intent("blackholed", "web1", "db1", "TCP", ("1433",), expect="Reachable"),
            Intent("via nva", "web1", "db2", "TCP", ("1433",)),
        ]
    )
    assert results[0].result == "Unreachable" and results[0].expectation_failed
    assert {b.hop for b in results[0].blocked} == {"no-route"}
    assert results[1].result == "Indeterminate" and {b.hop for b in results[1].blocked} == {"appliance"}


def test_cli_matrix_html_intents_and_exit_codes(tmp_path: Path, world: World) -> None:
    topology_path = tmp_path / "t.json"
    topology_path.write_text(json.dumps(export_topology(_world(world))))
    runner = CliRunner()
    matrix = runner.invoke(app, ["reach", str(topology_path), "--json", "--html", str(tmp_path / "m.html")])
    assert matrix.exit_code == 0, matrix.output
    body = json.loads(matrix.stdout)
    assert body["sources"][0] == "Internet" and len(body["pairs"]) == 3 + 6
    page = (tmp_path / "m.html").read_text()
    assert page.count('data-reachable="') == 9 and "<script" not in page
    human = runner.invoke(app, ["reach", str(topology_path)])
    assert human.exit_code == 0 and "TCP 1433" in human.stdout
    intents = tmp_path / "intents.jsonl"
    intents.write_text(
        json.dumps(
            {
                "name": "sql",
                "source": "web1",
                "destination": "db1",
                "protocol": "TCP",
                "destinationPorts": ["1433"],
                "expect": "Reachable",
            }
        )
        + "\n"
        + json.dumps(
            {"name": "ssh", "source": "web1", "destination": "db1", "protocol": "TCP", "destinationPorts": ["22"]}
        )
        + "\n"
    )
    ok = runner.invoke(app, ["reach", str(topology_path), "--intents", str(intents), "--json"])
    assert ok.exit_code == 0, ok.output
    assert [r["result"] for r in json.loads(ok.stdout)["results"]] == ["Reachable", "Unreachable"]
    failing = tmp_path / "failing.json"
    failing.write_text(
        json.dumps(
            [
                {
                    "name": "ssh",
                    "source": "web1",
                    "destination": "db1",
                    "protocol": "TCP",
                    "destinationPorts": "22",
                    "expect": "Reachable",
                }
            ]
        )
    )
    assert runner.invoke(app, ["reach", str(topology_path), "--intents", str(failing)]).exit_code == 1
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"name": "x", "source": "nowhere", "destination": "db1", "protocol": "TCP", "destinationPorts": ["22"]},
                {"name": "y"},
            ]
        )
    )
    refused = runner.invoke(app, ["reach", str(topology_path), "--intents", str(bad), "--json"])
    assert refused.exit_code == 2 and "error" in json.loads(refused.stderr)


def test_public_ip_sku_and_private_subnet_egress(world: World) -> None:

    bare = world.subnet("bare", "10.0.3.0/24")
    world.nic("open", bare, "10.0.3.4")
    topology = world.topology()
    nic = next(iter(topology.nics.values()))
    ip_id = rid("publicIPAddresses", "pip")
    configs = (replace(nic.ip_configurations[0], public_ip_address=ip_id),)
    vnet = next(iter(topology.vnets.values()))

    def answer(sku: str, outbound_access: bool | None, nat: str | None) -> list[str]:
        subnets = tuple(replace(s, default_outbound_access=outbound_access, nat_gateway=nat) for s in vnet.subnets)
        t = topology.with_(
            nics=[replace(nic, ip_configurations=configs if sku else nic.ip_configurations)],
            public_ips=[PublicIpAddress(ip_id, "pip", "westus", {}, "52.9.9.9", sku_name=sku)] if sku else [],
            vnets=[replace(vnet, subnets=subnets)],
        )
        results = Reachability(t).intents(
            [
                Intent("in", "Internet", "open", "TCP", ("22",)),
                Intent("out", "open", "Internet", "TCP", ("443",)),
            ]
        )
        return [r.result + ":" + ",".join(sorted({b.hop for b in r.blocked})) for r in results]

    assert answer("Standard", None, None) == ["Unreachable:no-route", "Reachable:"]  # closed without an NSG
    assert answer("Basic", None, None) == ["Reachable:", "Reachable:"]
    assert answer("", False, None) == ["Unreachable:no-route", "Unreachable:no-egress"]  # private subnet
    assert answer("", False, rid("natGateways", "nat")) == ["Unreachable:no-route", "Reachable:"]


# --- every address of a NIC; the shared answers equal each pair's own -----------------------------------------


def test_secondary_and_ipv6_addresses_are_reached(world: World) -> None:
    """Pairs and intents use every IP configuration (secondary IPv4, IPv6), not the primary alone; the Internet
    reaches only the configuration behind the public IP."""
    nsg = world.nsg(
        "app",
        rule("secondary-only", 100, "Inbound", "Allow", "Tcp", "VirtualNetwork", "10.0.1.6", "8443"),
        rule("v6-ssh", 110, "Inbound", "Allow", "Tcp", "VirtualNetwork", "fd00:0:0:1::5", "22"),
        rule("web-from-internet", 120, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("deny-rest", 200, "Inbound", "Deny", "*", "*", "*", "*"),
    )
    subnet = world.subnet("app", "10.0.1.0/24", "fd00:0:0:1::/64", nsg=nsg)
    world.nic("client", subnet, "10.0.1.4", "fd00:0:0:1::4")
    world.nic("server", subnet, "10.0.1.5", "10.0.1.6", "fd00:0:0:1::5")
    topology = world.topology()
    server = next(n for n in topology.nics.values() if n.name == "server")
    configs = tuple(
        replace(c, public_ip_address=rid("publicIPAddresses", "pip")) if c.private_ip_address == "10.0.1.6" else c
        for c in server.ip_configurations
    )
    topology = topology.with_(
        nics=[replace(n, ip_configurations=configs) if n is server else n for n in topology.nics.values()],
        public_ips=[PublicIpAddress(rid("publicIPAddresses", "pip"), "pip", "westus", {})],
    )
    client = next(n for n in topology.nics.values() if n.name == "client")
    matrix = Reachability(topology).matrix()
    cell = matrix.cell(client.id, server.id)
    assert cell is not None and cell.summary == "TCP 22, 8443; UDP —; ICMP —"
    reached = {(b.local_addresses, tuple(b.local_ports)) for b in cell.allowed}
    assert reached == {(("10.0.1.6",), ("8443",)), (("fd00:0:0:1::5",), ("22",))}
    assert cell.flows == sum(size(b.to_json()) for b in cell.allowed)
    internet = matrix.cell("Internet", server.id)
    assert internet is not None and {b.local_addresses for b in internet.allowed} == {("10.0.1.6",)}
    (result,) = Reachability(topology).intents([Intent("ssh", "client", "server", "TCP", ("22",))])
    assert result.result == "PartiallyReachable"  # IPv6 reaches 22, IPv4 does not
    assert [b.local_addresses for b in result.allowed] == [("fd00:0:0:1::5",)]
    engine = Engine(topology)
    for box in (*cell.allowed, *result.allowed):
        nic_id, flow = witness_flow(box.to_json()["witness"])
        assert engine.verify(nic_id, flow).allowed


def _routed(topology: Topology, source: NetworkInterface, destination: str) -> bool:
    chosen = next_hop(effective_routes(topology, source), ip_address(destination))
    return chosen is not None and chosen.next_hop_type not in (NextHopType.NONE, NextHopType.VIRTUAL_APPLIANCE)


def _own_allowed_flows(topology: Topology, engine: Engine, source: NetworkInterface, dest: NetworkInterface) -> int:
    """The pair evaluated alone, on its own two policies, address pair by address pair (no sharing)."""
    total = 0
    src_policy, dst_policy = engine.policy(source.id), engine.policy(dest.id)
    for a in (c.private_ip_address for c in source.ip_configurations if c.private_ip_address):
        for b in (c.private_ip_address for c in dest.ip_configurations if c.private_ip_address):
            if ip_address(a).version != ip_address(b).version or not _routed(topology, source, b):
                continue
            points = [AddressSet.of([ip_network(a)]), AddressSet.of([ip_network(b)])]
            space = build_space([src_policy, dst_policy], extra=points)
            out_c, in_c = CompiledPolicy(space, src_policy), CompiledPolicy(space, dst_policy)
            family = ip_address(a).version
            addresses = space.addresses(family)
            la, lb = (addresses.mask(p.v4 if family == 4 else p.v6) for p in points)
            full = (space.protocols.full, space.ports.full)
            region = (family, full[0], la, full[1], lb, full[1])
            for box, _, decision in evaluate_boxes(out_c, Direction.OUTBOUND, [(region, None)]):
                if decision.allowed:
                    flipped = (family, box[1], box[4], box[5], box[2], box[3])
                    inbound = evaluate_boxes(in_c, Direction.INBOUND, [(flipped, None)])
                    total += sum(space.count(piece) for piece, _, d in inbound if d.allowed)
    return total


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), st.data())
def test_shared_answers_equal_each_pairs_own(topology: Topology, data: st.DataObject) -> None:
    """NICs of one chain and rule class share one answer per pair: it must be each pair's own — flow by flow
    (``verify_path`` with the pair's addresses, and the source's routes) and in size (the pair evaluated alone)."""
    matrix = Reachability(topology).matrix()
    engine = Engine(topology)
    nics = sorted(topology.nics.values(), key=lambda n: n.key)
    ports = st.sampled_from(_flow_ports(topology)) | st.integers(0, 65535)
    for source, dest in product(nics, nics):
        if source is dest:
            continue
        cell = matrix.cell(source.id, dest.id)
        assert cell is not None
        boxes = [b.to_json() for b in cell.allowed]
        assert cell.flows == sum(size(b) for b in boxes) == _own_allowed_flows(topology, engine, source, dest)
        assert cell.reachable is not False or not boxes
        for box in boxes:
            nic_id, flow = witness_flow(box["witness"])
            assert nic_id == dest.id and engine.verify(nic_id, flow).allowed
        pairs = [
            (a, b)
            for a in (c.private_ip_address for c in source.ip_configurations if c.private_ip_address)
            for b in (c.private_ip_address for c in dest.ip_configurations if c.private_ip_address)
            if ip_address(a).version == ip_address(b).version
        ]
        for _ in range(3 if pairs else 0):
            a, b = data.draw(st.sampled_from(pairs))
            protocol = data.draw(st.sampled_from([6, 17, 1, 58, 50]) | st.integers(0, 255))
            ported = protocol in (6, 17)
            sport, dport = (data.draw(ports), data.draw(ports)) if ported else (None, None)
            path = engine.verify_path(source.id, dest.id, protocol, a, sport, b, dport)
            inbound = Flow(Direction.INBOUND, protocol, ip_address(b), dport, ip_address(a), sport)
            expected = path.allowed and _routed(topology, source, b)
            assert any(contains(box, inbound) for box in boxes) == expected, (source.name, dest.name, a, b)


def test_json_shapes_of_lint_reach_and_intents(tmp_path: Path, world: World) -> None:
    """The top-level shapes CI pipelines parse stay as documented: ``lint --json`` ``{"findings"}``, ``reach --json``
    ``{"sources", "destinations", "pairs"}``, ``reach --intents --json`` ``{"results"}``; every box carries the
    issue's fields."""
    topology_path = tmp_path / "t.json"
    topology_path.write_text(json.dumps(export_topology(_world(world))))
    runner = CliRunner()
    box_keys = {"protocols", "localAddresses", "localPorts", "remoteAddresses", "remotePorts", "flows", "witness"}
    witness_keys = {
        "targetResourceId",
        "direction",
        "protocol",
        "localIPAddress",
        "localPort",
        "remoteIPAddress",
        "remotePort",
    }
    lint = json.loads(runner.invoke(app, ["lint", str(topology_path), "--json", "--fail-on", "none"]).stdout)
    assert set(lint) == {"findings"}
    for finding in lint["findings"]:
        assert {"ruleId", "level", "resource", "message", "relatedResources", "nics"} <= set(finding)
        assert set(finding) <= {"ruleId", "level", "resource", "message", "relatedResources", "nics", "witness"}
    streamed = runner.invoke(app, ["reach", str(topology_path), "--json"]).stdout
    matrix = json.loads(streamed)
    assert streamed == json.dumps(Reachability(_world(World())).matrix().to_json(), indent=2) + "\n"
    assert set(matrix) == {"sources", "destinations", "pairs"}
    for pair in matrix["pairs"]:
        assert set(pair) == {"source", "destination", "reachable", "summary", "flows", "allowed"}
        for box in pair["allowed"]:
            assert set(box) == box_keys and set(box["witness"]) == witness_keys
    intents = tmp_path / "i.json"
    intents.write_text(
        json.dumps(
            [
                {"name": "a", "source": "web1", "destination": "db1", "protocol": "TCP", "destinationPorts": ["22"]},
                {
                    "name": "b",
                    "source": "web1",
                    "destination": "db1",
                    "protocol": "TCP",
                    "destinationPorts": ["1433"],
                    "expect": "Reachable",
                },
            ]
        )
    )
    answer = json.loads(runner.invoke(app, ["reach", str(topology_path), "--intents", str(intents), "--json"]).stdout)
    assert set(answer) == {"results"}
    plain, expected = answer["results"]
    core = {"name", "result", "allowed", "blocked", "witness", "counterexample"}
    assert set(plain) == core and set(expected) == core | {"expect", "expectationMet"}
    for blocked in plain["blocked"]:
        assert set(blocked) == box_keys | {"rule", "hop"}


# --- the Internet through a load balancer ----------------------------------------------------------------------


def _load_balanced(world: World, rules: list[tuple[str, int, int]], sku: str, nsg: bool) -> tuple[Topology, str]:
    """web1 (no public IP of its own) in the backend pool of a public load balancer whose rules are
    (protocol, frontend port, backend port); the subnet's NSG (when ``nsg``) allows TCP 8080 and 22 from the
    Internet and denies the rest of it."""
    from opennsg.model import PublicIpAddress
    from opennsg.model.loadbalancer import (
        BackendAddressPool,
        FrontendIpConfiguration,
        LoadBalancer,
        LoadBalancingRule,
        TransportProtocol,
    )

    group = world.nsg(
        "web",
        rule("lb-8080", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "8080"),
        rule("ssh", 110, "Inbound", "Allow", "Tcp", "Internet", "*", "22"),
        rule("udp", 120, "Inbound", "Allow", "Udp", "Internet", "*", "*"),
        rule("deny-internet", 200, "Inbound", "Deny", "*", "Internet", "*", "*"),
    )
    subnet = world.subnet("web", "10.0.1.0/24", nsg=group if nsg else None)
    world.nic("web1", subnet, "10.0.1.4")
    topology = world.topology()
    lb_id = rid("loadBalancers", "lb")
    pool = f"{lb_id}/backendAddressPools/pool"
    front = f"{lb_id}/frontendIPConfigurations/front"
    inner = f"{lb_id}/frontendIPConfigurations/inner"
    pip = rid("publicIPAddresses", "lb-ip")
    lb = LoadBalancer(
        lb_id,
        "lb",
        "westus",
        {},
        sku=sku,
        frontend_ip_configurations=(
            FrontendIpConfiguration(front, "front", public_ip_address=pip),
            FrontendIpConfiguration(inner, "inner", private_ip_address="10.0.1.100", subnet=subnet),
        ),
        backend_address_pools=(BackendAddressPool(pool, "pool"),),
        load_balancing_rules=(
            *(
                LoadBalancingRule(f"{lb_id}/loadBalancingRules/r{i}", f"r{i}", front, pool, TransportProtocol(p), f, b)
                for i, (p, f, b) in enumerate(rules)
            ),
            # An internal frontend: the Internet cannot address it, whatever it carries.
            LoadBalancingRule(f"{lb_id}/loadBalancingRules/inner", "inner", inner, pool, TransportProtocol.TCP, 22, 22),
        ),
    )
    nic = next(iter(topology.nics.values()))
    configs = (replace(nic.ip_configurations[0], load_balancer_backend_address_pools=(pool,)),)
    topology = topology.with_(
        nics=[replace(nic, ip_configurations=configs)],
        load_balancers=[lb],
        public_ips=[PublicIpAddress(pip, "lb-ip", "westus", {}, "52.9.9.9", sku_name=sku)],
    )
    return topology, nic.id


def _carried(rules: list[tuple[str, int, int]], protocol: int, port: int) -> bool:
    """Written from the issue: a rule takes its protocol (All: TCP and UDP) to its backend port (0: every port)."""
    numbers = {"Tcp": {6}, "Udp": {17}, "All": {6, 17}}
    return any(protocol in numbers[p] and b in (0, port) for p, _, b in rules)


def test_internet_reaches_a_backend_only_through_its_load_balancer_rules(world: World) -> None:
    """Through a public frontend, the Internet reaches the backend NIC at the rule's backend port (TCP 80 → 8080),
    not at 22 (allowed by the NSG, but nothing carries it there); the rest is blocked as no-route. Every flow of a
    small universe is checked against the rules and ``Engine.verify``; every witness verifies."""
    cases = {
        ("Standard", True, (("Tcp", 80, 8080),)): "TCP 8080; UDP —; ICMP —",
        ("Standard", False, (("Tcp", 80, 8080),)): "TCP —; UDP —; ICMP —",  # Standard: closed without an NSG
        ("Basic", False, (("Tcp", 80, 8080), ("Udp", 53, 53))): "TCP 8080; UDP 53; ICMP —",
        ("Standard", True, (("All", 0, 0),)): "TCP 22, 8080; UDP ✓; ICMP —",  # HA ports
    }
    for (sku, nsg, lb_rules), summary in cases.items():
        fresh = World()
        topology, nic_id = _load_balanced(fresh, list(lb_rules), sku, nsg)
        cell = Reachability(topology).matrix().cell("Internet", nic_id)
        assert cell is not None and cell.summary == summary, (sku, nsg, lb_rules, cell and cell.summary)
        engine = Engine(topology)
        admits = nsg or sku == "Basic"
        for protocol, port in product((6, 17, 1), (22, 53, 80, 8080, 9000)):
            flow = Flow.make("Inbound", protocol, "10.0.1.4", port, "52.1.2.3", 50000)
            expected = admits and _carried(list(lb_rules), protocol, port) and engine.verify(nic_id, flow).allowed
            inside = [b for b in cell.allowed if contains(b.to_json(), flow)]
            assert len(inside) == (1 if expected else 0), (sku, nsg, lb_rules, flow)
        for box in cell.allowed:
            assert engine.verify(*witness_flow(box.to_json()["witness"])).allowed
        (result,) = Reachability(topology).intents([Intent("ssh", "Internet", "web1", "TCP", ("22", "8080"))])
        assert result.result in ("Reachable", "PartiallyReachable", "Unreachable")
        ssh = Flow.make("Inbound", "Tcp", "10.0.1.4", 22, "52.1.2.3", 50000)
        blocked_22 = [b for b in result.blocked if contains(b.to_json(), ssh)]
        if _carried(list(lb_rules), 6, 22) and admits:
            assert blocked_22 == [] and result.result == "Reachable"
        else:
            assert [b.hop for b in blocked_22] == ["no-route"]  # nothing carries 22 to the NIC (or lets it in)
        if lb_rules == (("Tcp", 80, 8080),) and admits:
            assert result.result == "PartiallyReachable"
            assert [b.local_ports for b in result.allowed] == [("8080",)]


def test_each_ip_configuration_is_reached_through_its_own_public_ip(world: World) -> None:
    """Without any NSG, a Basic public IP is open and a Standard one closed (semantics §12.3), per configuration:
    the Internet reaches the Basic one's address on every port and none of the Standard one's."""
    from opennsg.model import PublicIpAddress

    world.nic("two", world.subnet("bare", "10.0.3.0/24"), "10.0.3.4", "10.0.3.5")
    topology = world.topology()
    nic = next(iter(topology.nics.values()))
    basic, standard = rid("publicIPAddresses", "basic"), rid("publicIPAddresses", "standard")
    configs = (
        replace(nic.ip_configurations[0], public_ip_address=basic),
        replace(nic.ip_configurations[1], public_ip_address=standard),
    )
    topology = topology.with_(
        nics=[replace(nic, ip_configurations=configs)],
        public_ips=[
            PublicIpAddress(basic, "basic", "westus", {}, "52.9.9.9", sku_name="Basic"),
            PublicIpAddress(standard, "standard", "westus", {}, "52.9.9.10", sku_name="Standard"),
        ],
    )
    cell = Reachability(topology).matrix().cell("Internet", nic.id)
    assert cell is not None and cell.reachable == "partial"
    assert {b.local_addresses for b in cell.allowed} == {("10.0.3.4",)}
    assert cell.summary == "TCP ✓; UDP ✓; ICMP ✓"
    (result,) = Reachability(topology).intents([Intent("ssh", "Internet", "two", "TCP", ("22",))])
    assert result.result == "PartiallyReachable"
    assert [(b.box.local_addresses, b.hop) for b in result.blocked] == [(("10.0.3.5",), "no-route")]
