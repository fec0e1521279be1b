"""Oracles independent of the analysis code: z3 (first match written as nested if-then-else over bit-vectors, from
the spec) answers "is there a flow allowed by A and denied by B?" for random rule sets; and every flow of random
topologies lies in exactly one piece of the symbolic evaluation, with ``Engine.verify``'s decision."""

from __future__ import annotations

import ipaddress
from random import Random

import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avnm_world import Avnm
from conftest import World, rule
from opennsg.analysis import diff_topologies
from opennsg.analysis.lint import lint_topology
from opennsg.analysis.symbolic import CompiledPolicy, build_space, evaluate_boxes
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import SecurityRule, Topology
from strategies import topology_and_flows

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
NIC_IP = "10.0.1.4"
VNET = ("10.0.0.0/16", "168.63.129.16/32")  # the VirtualNetwork tag of the World's VNet (semantics §0), IPv4
PROTOCOLS = {"Tcp": [6], "Udp": [17], "Icmp": [1, 58], "*": None}
PREFIXES = ("*", "8.8.8.0/24", "8.8.8.8", "10.0.0.0/16", "10.0.1.4", "52.0.0.0/8", "0.0.0.0/1")
PORTS = ("*", "22", "80", "20-25", "443", "1024-65535")


def _rules(rnd: Random, access_bias: float) -> list[SecurityRule]:
    out = []
    for k, priority in enumerate(sorted(rnd.sample(range(100, 200), rnd.randint(1, 6)))):
        out.append(
            rule(
                f"r{k}",
                priority,
                "Inbound",
                "Allow" if rnd.random() < access_bias else "Deny",
                rnd.choice(list(PROTOCOLS)),
                rnd.choice(PREFIXES),
                rnd.choice(("*", NIC_IP, "10.0.1.0/24")),
                rnd.choice(PORTS),
                rnd.choice(("*", "*", "1024-65535")),
            )
        )
    return out


def _in_prefix(var: z3.BitVecRef, text: str) -> z3.BoolRef:
    if text == "*":
        return z3.BoolVal(True)
    net = ipaddress.ip_network(text)
    mask = (0xFFFFFFFF << (32 - net.prefixlen)) & 0xFFFFFFFF
    return (var & mask) == int(net.network_address)


def _in_ports(var: z3.BitVecRef, text: str) -> z3.BoolRef:
    if text == "*":
        return z3.BoolVal(True)
    lo, _, hi = text.partition("-")
    return z3.And(z3.UGE(var, int(lo)), z3.ULE(var, int(hi or lo)))


def _allowed(rules: list[SecurityRule], proto: z3.BitVecRef, src, sport, dst, dport) -> z3.BoolRef:  # type: ignore[no-untyped-def]
    """First match, then the default rules (AllowVnetInBound, AllowAzureLoadBalancerInBound, DenyAllInBound)."""
    ported = z3.Or(proto == 6, proto == 17)
    verdict: z3.BoolRef = z3.Or(
        z3.And(z3.Or(*[_in_prefix(src, p) for p in VNET]), z3.Or(*[_in_prefix(dst, p) for p in VNET])),
        src == int(ipaddress.ip_address("168.63.129.16")),
    )
    for r in sorted(rules, key=lambda r: r.priority, reverse=True):
        numbers = PROTOCOLS[r.protocol.value]
        match = z3.And(
            z3.BoolVal(True) if numbers is None else z3.Or(*[proto == n for n in numbers]),
            _in_prefix(src, r.source_address_prefix or "*"),
            _in_prefix(dst, r.destination_address_prefix or "*"),
            z3.Or(z3.Not(ported), _in_ports(sport, r.source_port_range or "*")),
            z3.Or(z3.Not(ported), _in_ports(dport, r.destination_port_range or "*")),
        )
        verdict = z3.If(match, z3.BoolVal(r.access.value == "Allow"), verdict)
    return verdict


def _topology(rules: list[SecurityRule]) -> Topology:
    world = World()
    nsg = world.nsg("nsg", *rules)
    subnet = world.subnet("s", "10.0.1.0/24", nsg=nsg)
    world.nic("a", subnet, NIC_IP)
    return world.topology()


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_z3_agrees_on_whether_a_change_closes_or_opens_something(seed: int) -> None:
    rnd = Random(seed)
    a_rules, b_rules = _rules(rnd, 0.6), _rules(rnd, 0.4)
    before, after = _topology(a_rules), _topology(b_rules)
    summary = diff_topologies(before, after).summary()
    proto, sport, dport = z3.BitVec("p", 8), z3.BitVec("sp", 16), z3.BitVec("dp", 16)
    src, dst = z3.BitVec("src", 32), z3.BitVec("dst", 32)
    fixed = dst == int(ipaddress.ip_address(NIC_IP))
    allowed_a = _allowed(a_rules, proto, src, sport, dst, dport)
    allowed_b = _allowed(b_rules, proto, src, sport, dst, dport)
    for wanted, (x, y) in (("closed", (allowed_a, allowed_b)), ("opened", (allowed_b, allowed_a))):
        solver = z3.Solver()
        solver.add(fixed, x, z3.Not(y))
        exists = solver.check() == z3.sat
        assert exists == (summary[wanted] > 0), (wanted, a_rules, b_rules)
        if exists:
            model = solver.model()
            flow = Flow.make(
                "Inbound",
                model.eval(proto, model_completion=True).as_long(),
                NIC_IP,
                model.eval(dport, model_completion=True).as_long(),
                str(ipaddress.ip_address(model.eval(src, model_completion=True).as_long())),
                model.eval(sport, model_completion=True).as_long(),
            )
            nic = next(iter(before.nics.values())).id
            assert Engine(before).verify(nic, flow).allowed == (wanted == "closed")
            assert Engine(after).verify(nic, flow).allowed == (wanted == "opened")


@SETTINGS
@given(topology_and_flows(max_flows=20))
def test_every_flow_lies_in_one_piece_with_the_engines_decision(tf: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    _pieces_agree(tf)


def _pieces_agree(tf: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    topology, flows = tf
    engine = Engine(topology)
    cache: dict[tuple[str, str], object] = {}
    for nic_id, flow in flows:
        if flow.has_ports and (flow.local_port is None or flow.remote_port is None):
            continue
        policy = engine.policy(nic_id)
        key = (policy.nic.key, flow.direction.value)
        if key not in cache:
            space = build_space([policy])
            compiled = CompiledPolicy(space, policy)
            pieces = evaluate_boxes(compiled, flow.direction, [(b, None) for b in compiled.universes(flow.direction)])
            cache[key] = (space, pieces)
        space, pieces = cache[key]  # type: ignore[misc]
        family = flow.local_ip.version
        addresses = space.addresses(family)
        point = (
            family,
            space.protocols.value_mask(flow.protocol),
            addresses.value_mask(int(flow.local_ip)),
            space.ports.value_mask(flow.local_port or 0),
            addresses.value_mask(int(flow.remote_ip)),
            space.ports.value_mask(flow.remote_port or 0),
        )
        hits = [d for b, _, d in pieces if b[0] == family and all(b[i] & point[i] for i in range(1, 6))]
        verdict = engine.verify(nic_id, flow)
        assert len(hits) == 1, flow
        assert (hits[0].access, hits[0].rule_name, hits[0].nsg_id) == (
            verdict.access,
            verdict.rule_name,
            verdict.nsg_id,
        )


def test_rules_in_the_oracle_use_their_singular_fields() -> None:
    """The z3 encoding reads the singular fields: the generator must only fill those."""
    for r in _rules(Random(1), 0.5):
        assert r.source_address_prefixes == () and r.destination_port_ranges == ()
        assert r.source_address_prefix is not None and r.destination_port_range is not None


@SETTINGS
@given(topology_and_flows(max_flows=20, avnm=True))
def test_admin_rules_and_private_endpoints_decide_as_the_engine(tf: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    """The same property over topologies with AVNM admin rules and private endpoints (their chain stages)."""
    _pieces_agree(tf)


def test_an_exempt_flow_under_admin_rules_with_no_nsg_is_allowed_with_no_rule_name() -> None:
    """Semantics §0: with no NSG on the way, a platform-exempt flow nothing decided names no rule — also when
    admin rules are (found by the property above: the symbolic pieces said ``PlatformRule_AzurePlatformDNS``)."""
    world = World()
    nic = world.nic("app", world.subnet("app", "10.0.1.0/24"), NIC_IP)
    avnm = Avnm()
    avnm.simple(("deny-smtp", 10, "Outbound", "Deny", {"protocol": "Tcp", "destination_ports": ("25",)}))
    topology = avnm.onto(world.topology())
    flows = [(nic, Flow.make("Outbound", "TCP", NIC_IP, 50000, "168.63.129.16", port)) for port in (25, 53, 80)]
    for _, flow in flows:
        verdict = Engine(topology).verify(nic, flow)
        assert (verdict.access.value, verdict.rule_name, verdict.nsg_id) == ("Allow", None, None)
    _pieces_agree((topology, flows))


# --- lint's shadowed rules and their covering sets, by brute force -------------------------------------------


#: Fields that split one another (halves of a range, of a prefix), so that covers of several rules occur.
COVER_PREFIXES = ("*", "0.0.0.0/1", "128.0.0.0/1", "8.8.8.0/24", "8.8.8.0/25", "8.8.8.128/25", "10.0.0.0/16")
COVER_PORTS = ("*", "0-1023", "1024-65535", "20-25", "20-22", "23-25", "22", "443")


def _cover_rules(rnd: Random) -> list[SecurityRule]:
    priorities = sorted(rnd.sample(range(100, 200), rnd.randint(3, 12)))
    return [
        rule(
            f"r{k}",
            priority,
            "Inbound",
            rnd.choice(("Allow", "Deny")),
            rnd.choice(("Tcp", "Tcp", "Tcp", "*", "Udp")),
            rnd.choice(COVER_PREFIXES),
            rnd.choice(("*", NIC_IP)),
            rnd.choice(COVER_PORTS),
        )
        for k, priority in enumerate(priorities)
    ]


def _representatives() -> list[Flow]:
    """Inbound flows at NIC_IP, one at the start of every elementary interval the rules can tell apart (their
    prefixes' and ports' first values and the values after their last): every class of flows has one here."""
    addresses: set[str] = {"0.0.0.0"}
    for text in COVER_PREFIXES:
        if text != "*":
            net = ipaddress.ip_network(text)
            addresses.add(str(net.network_address))
            if int(net.broadcast_address) < 2**32 - 1:
                addresses.add(str(ipaddress.ip_address(int(net.broadcast_address) + 1)))
    ports: set[int] = {0}
    for text in COVER_PORTS:
        if text != "*":
            lo, _, hi = text.partition("-")
            ports.update({int(lo), int(hi or lo) + 1})
    ports.discard(65536)
    out = []
    for protocol in (6, 17, 1, 50):
        ported = protocol in (6, 17)
        for remote in sorted(addresses):
            for local_port in sorted(ports) if ported else [None]:
                out.append(Flow.make("Inbound", protocol, NIC_IP, local_port, remote, 50000 if ported else None))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32 - 1))
def test_shadowed_rules_and_their_irreducible_covers_by_brute_force(seed: int) -> None:
    """Over every class of flows: a rule lint calls shadowed is matched by no flow that no earlier rule matches,
    a rule it does not call shadowed wins some flow (or matches none), and ``relatedResources`` covers the rule
    (every flow it matches, some listed rule matches) irreducibly (each listed rule alone covers some of its flows)."""
    from reference import Reference, RefRule

    topology = _topology(_cover_rules(Random(seed)))
    nic_id = next(iter(topology.nics.values())).id
    nsg = next(iter(topology.nsgs.values()))
    oracle = Reference(topology, nic_id)
    flows = _representatives()
    by_name = {r.name: r for r in nsg.security_rules}
    matches = {r.name: [f for f in flows if oracle.rule_matches(RefRule.of(r), f)] for r in nsg.security_rules}
    findings = {f.resource.rsplit("/", 1)[-1]: f for f in lint_topology(topology) if f.rule_id == "shadowed-rule"}
    for name, matched in matches.items():
        rule_ = by_name[name]
        earlier = [r for r in nsg.security_rules if r.priority < rule_.priority]
        wins = [f for f in matched if not any(f in matches[e.name] for e in earlier)]
        assert (name in findings) == (bool(matched) and not wins), (name, nsg.security_rules)
        if name not in findings:
            continue
        cover = [by_name[c.rsplit("/", 1)[-1]] for c in findings[name].related_resources]
        assert cover and all(c.priority < rule_.priority for c in cover)
        assert all(any(f in matches[c.name] for c in cover) for f in matched), (name, cover)
        for c in cover:
            others = [o for o in cover if o is not c]
            assert any(not any(f in matches[o.name] for o in others) for f in matched if f in matches[c.name]), (
                name,
                c.name,
                cover,
            )
