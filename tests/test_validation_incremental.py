"""Re-validating an NSG after a write checks only the rules the write changed (``RuleChecks``): the verdict must be
exactly the whole-NSG validation's, on random NSGs (valid and invalid rules) and random edits."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from opennsg.model import (
    Access,
    ApplicationSecurityGroup,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    SecurityRule,
    ServiceTag,
    ServiceTags,
    Topology,
    default_security_rules,
)
from opennsg.model.ids import network_id
from opennsg.model.validation import validate_nsg, validate_topology
from opennsg.model.validation.nsg import RULE_CHECKS, AsgMembership, RuleChecks

SUB = "22222222-2222-2222-2222-222222222222"
ASGS = [network_id(SUB, "rg", "applicationSecurityGroups", f"asg{i}") for i in range(3)]
TAG_FILES = [
    None,
    ServiceTags.of([ServiceTag("Storage", ("20.60.0.0/16",), ("API", "NSG")), ServiceTag("Sql", ("20.1.0.0/16",), ())]),
    ServiceTags.of([ServiceTag("Sql", ("20.1.0.0/16",), ("NSG",))]),
]
PREFIXES = ["*", "10.0.0.0/8", "10.1.2.3", "fd00::/8", "Storage", "Sql", "VirtualNetwork", "Internet", "10.0.0.0/33"]
PORTS = ["*", "80", "1000-2000", "70000", "20-10", "443"]
NAMES = ["web", "WEB", "db", "ssh", "bad name!", "x" * 81, "r1", "r2"]

addresses = st.one_of(
    st.tuples(st.sampled_from(PREFIXES), st.just(()), st.just(())),
    st.tuples(st.none(), st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=3).map(tuple), st.just(())),
    st.tuples(st.none(), st.just(()), st.lists(st.sampled_from(ASGS), min_size=1, max_size=2).map(tuple)),
    st.tuples(st.sampled_from(PREFIXES), st.sampled_from([(), ("10.0.0.0/8",)]), st.sampled_from([(), (ASGS[0],)])),
)
ports = st.one_of(
    st.tuples(st.sampled_from(PORTS), st.just(())),
    st.tuples(st.none(), st.lists(st.sampled_from(PORTS), min_size=1, max_size=3).map(tuple)),
    st.tuples(st.none(), st.just(())),
)


@st.composite
def rules(draw: st.DrawFn) -> SecurityRule:
    source, destination = draw(addresses), draw(addresses)
    source_ports, destination_ports = draw(ports), draw(ports)
    name = draw(st.sampled_from(NAMES))
    return SecurityRule(
        name=name,
        priority=draw(st.sampled_from([100, 101, 4096, 99, 5000, 200])),
        direction=draw(st.sampled_from(list(Direction))),
        access=draw(st.sampled_from(list(Access))),
        protocol=draw(st.sampled_from(list(Protocol))),
        source_address_prefix=source[0],
        source_address_prefixes=source[1],
        source_asgs=source[2],
        destination_address_prefix=destination[0],
        destination_address_prefixes=destination[1],
        destination_asgs=destination[2],
        source_port_range=source_ports[0],
        source_port_ranges=source_ports[1],
        destination_port_range=destination_ports[0],
        destination_port_ranges=destination_ports[1],
        description=draw(st.sampled_from([None, "ok", "d" * 141])),
        is_default=draw(st.integers(0, 9)) == 0,
        id=draw(st.sampled_from([None, f"/subscriptions/{SUB}/x/securityRules/{name}"])),
    )


def nsg_named(name: str, rules: tuple[SecurityRule, ...]) -> NetworkSecurityGroup:
    nsg_id = network_id(SUB, "rg", "networkSecurityGroups", name)
    return NetworkSecurityGroup(nsg_id, name, "westus", {}, rules, default_security_rules(nsg_id))


def world(nsgs: list[NetworkSecurityGroup], asgs: int, spread: bool, tags: ServiceTags | None) -> Topology:
    """ASGs ``asg0..asg{asgs-1}`` exist; with ``spread`` asg0's members sit in two VNets (a rule naming it is
    refused)."""
    nics = [
        NetworkInterface(
            network_id(SUB, "rg", "networkInterfaces", f"nic{v}"),
            f"nic{v}",
            "westus",
            {},
            (
                IpConfiguration(
                    network_id(SUB, "rg", "networkInterfaces", f"nic{v}") + "/ipConfigurations/ip",
                    "ip",
                    f"10.{v}.0.4",
                    network_id(SUB, "rg", "virtualNetworks", f"vnet{v}") + "/subnets/s",
                    application_security_groups=(ASGS[0],),
                ),
            ),
        )
        for v in range(2 if spread else 1)
    ]
    groups = [ApplicationSecurityGroup(a, a.rsplit("/", 1)[1], "westus") for a in ASGS[:asgs]]
    return Topology.of(nsgs=nsgs, asgs=groups, nics=nics, service_tags=tags)


edits = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 20), rules()),
        st.tuples(st.just("delete"), st.integers(0, 20), st.none()),
        st.tuples(st.just("rename"), st.sampled_from(["nsg1", "nsg2", "bad name!"]), st.none()),
        st.tuples(st.just("tags"), st.integers(0, len(TAG_FILES) - 1), st.none()),
        st.tuples(st.just("asgs"), st.integers(0, len(ASGS)), st.booleans()),
    ),
    min_size=1,
    max_size=8,
)


def whole_nsg(nsg: NetworkSecurityGroup, topology: Topology) -> list[object]:
    """The verdict with every rule checked (no remembered rule)."""
    saved = RULE_CHECKS._known.copy()
    RULE_CHECKS.clear()
    try:
        return [(e.code, e.message, e.target, e.hint) for e in validate_nsg(nsg, topology)]
    finally:
        RULE_CHECKS._known.update(saved)


@settings(max_examples=150, deadline=None)
@given(st.lists(rules(), max_size=10), edits, st.integers(0, len(TAG_FILES) - 1))
def test_incremental_verdict_is_the_whole_nsg_validation(
    initial: list[SecurityRule], changes: list[tuple[str, object, object]], tags_index: int
) -> None:
    name, asgs, spread, tags = "nsg1", len(ASGS), False, TAG_FILES[tags_index]
    nsg = nsg_named(name, tuple(initial))
    topology = world([nsg], asgs, spread, tags)
    validate_nsg(nsg, topology)  # remembers the rules as the stored NSG's validation would
    for kind, where, what in changes:
        items = list(nsg.security_rules)
        if kind == "put" and isinstance(where, int) and isinstance(what, SecurityRule):
            if items and where < len(items):
                items[where] = what
            else:
                items.append(what)
        elif kind == "delete" and isinstance(where, int) and items:
            items.pop(where % len(items))
        elif kind == "rename" and isinstance(where, str):
            name = where
        elif kind == "tags" and isinstance(where, int):
            tags = TAG_FILES[where]
        elif kind == "asgs" and isinstance(where, int) and isinstance(what, bool):
            asgs, spread = where, what
        if kind == "rename":
            nsg = nsg_named(name, tuple(items))
        else:
            nsg = dataclasses.replace(nsg, security_rules=tuple(items))
        topology = world([nsg], asgs, spread, tags)
        incremental = [(e.code, e.message, e.target, e.hint) for e in validate_nsg(nsg, topology)]
        assert incremental == whole_nsg(nsg, topology)
        full = validate_topology(topology)
        RULE_CHECKS.clear()
        assert full == validate_topology(topology)


def web_rule(port: str) -> SecurityRule:
    return SecurityRule(
        "web", 100, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "*", (), (), "*", (), "*", (), (), port
    )


def unread() -> AsgMembership:
    raise AssertionError("a rule naming no ASG reads no membership")


def test_unchanged_rules_are_not_checked_again() -> None:
    checks = RuleChecks()
    rule = web_rule("80")
    nsg = nsg_named("nsg1", (rule,))
    topology = world([nsg], 0, False, None)
    first = checks.problems(nsg, rule, topology, unread)
    assert first == ()
    assert len(checks._known) == 1
    assert checks.problems(nsg, rule, topology, lambda: RuleChecks.__call__) is first  # type: ignore[arg-type,return-value]
    renamed = nsg_named("nsg2", (rule,))
    assert checks.problems(renamed, rule, topology, lambda: RuleChecks.__call__) == ()  # type: ignore[arg-type,return-value]


def test_the_memo_is_bounded() -> None:
    checks = RuleChecks(capacity=4)
    nsg = nsg_named("nsg1", ())
    topology = world([nsg], 0, False, None)
    for port in range(10):
        rule = web_rule(str(port + 1))
        checks.problems(nsg, rule, topology, unread)
        assert len(checks._known) <= 4
