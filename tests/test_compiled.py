"""The compiled classifier gives exactly the verdicts of ``evaluate.decide`` and of the reference evaluator.

Two sources of cases: the shared random topologies (``tests/strategies.py``, through ``resolve``), and NicPolicy-level
generators below that stress the tables directly: /0, /32, /128, adjacent and overlapping intervals, ports 0 and
65535, port-less protocols, platform tags and the SMTP block.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.reference import reference_decide
from tests.strategies import topology_and_flows

from opennsg.engine import Engine
from opennsg.engine.addresses import V4_MAX, V6_MAX, AddressSet, PortSet
from opennsg.engine.compiled import Backend, FlowColumns, clear_cache, compile_policy, get_compiled, numba_available
from opennsg.engine.evaluate import decide
from opennsg.engine.flow import Flow
from opennsg.engine.ir import Association, NicPolicy, ResolvedNsg, ResolvedRule, Verdict
from opennsg.model import Access, Direction, NetworkInterface, NetworkSecurityGroup, Protocol, SecurityRule, Topology
from opennsg.model.policy import PLATFORM_DNS_TAG, PLATFORM_IMDS_TAG, PLATFORM_LKM_TAG
from opennsg.model.values import parse_address, parse_prefix, prefix_span

BACKENDS: tuple[Backend, ...] = ("numba", "numpy") if numba_available() else ("numpy",)
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _key(v: Verdict) -> tuple[object, ...]:
    return (v.access, v.rule_name, v.nsg_id, v.applied_to, v.rule)


def _check_all_paths(policy: NicPolicy, flows: list[Flow]) -> None:
    compiled = compile_policy(policy)
    expected = [_key(decide(policy, f)) for f in flows]
    assert [_key(compiled.decide(f)) for f in flows] == expected
    columns = FlowColumns.from_flows(flows * 3)  # repeats exercise the kernel's memo of class tuples
    for backend in BACKENDS:
        batch = compiled.classify(columns, backend=backend, threads=2)
        assert [_key(compiled.results[r]) for r in batch.result] == expected * 3, backend
        assert [bool(a) for a in batch.allow] == [e[0] is Access.ALLOW for e in expected * 3]


@settings(max_examples=120, deadline=None, suppress_health_check=_SLOW_OK)
@given(topology_and_flows(max_flows=30, avnm=True))
def test_compiled_equals_decide_and_reference_on_random_topologies(
    case: tuple[Topology, list[tuple[str, Flow]]],
) -> None:
    topology, pairs = case
    engine = Engine(topology)
    by_nic: dict[str, list[Flow]] = defaultdict(list)
    for nic_id, flow in pairs:
        by_nic[nic_id].append(flow)
    for nic_id, flows in by_nic.items():
        policy = engine.policy(nic_id)
        _check_all_paths(policy, flows)
        compiled = get_compiled(policy)
        for flow in flows:
            got = compiled.decide(flow)
            ref = reference_decide(topology, nic_id, flow)
            assert (got.access.value, got.rule_name, got.nsg_id) == (ref.access, ref.rule_name, ref.nsg_id), flow


# --- NicPolicy-level generators with boundary values ---------------------------------------------------------

V4_EDGES = (
    0,
    1,
    0x0A000000,
    0x0A0000FF,
    0x0A000100,
    0xA83F8110,
    0xA9FEA9FE,
    0x14766DE0,
    0x7FFFFFFF,
    V4_MAX - 1,
    V4_MAX,
)
V6_EDGES = (0, 1, 1 << 64, (1 << 64) - 1, 0xFD00 << 112, (0xFD00 << 112) | 0xFFFF, V6_MAX - 1, V6_MAX)
PORT_EDGES = (0, 1, 24, 25, 26, 1687, 1688, 1689, 65534, 65535)
PROTOCOL_SETS = (None, frozenset({6}), frozenset({17}), frozenset({1, 58}), frozenset({50}), frozenset({51}))
FLOW_PROTOCOLS = (6, 17, 1, 58, 50, 51, 47, 0, 255)


def _span(draw: st.DrawFn, edges: tuple[int, ...], top: int) -> tuple[int, int]:
    a = draw(st.sampled_from(edges) | st.integers(0, top))
    b = draw(st.sampled_from(edges) | st.integers(0, top))
    return (min(a, b), max(a, b))


@st.composite
def address_sets(draw: st.DrawFn) -> AddressSet:
    if draw(st.integers(0, 9)) == 0:
        return AddressSet.any()
    v4 = [_span(draw, V4_EDGES, V4_MAX) for _ in range(draw(st.integers(0, 4)))]
    v6 = [_span(draw, V6_EDGES, V6_MAX) for _ in range(draw(st.integers(0, 2)))]
    return AddressSet().union(AddressSet(tuple(v4), tuple(v6)))  # union merges overlapping/adjacent spans


@st.composite
def port_sets(draw: st.DrawFn) -> PortSet:
    if draw(st.booleans()):
        return PortSet.any()
    return PortSet.of([_span(draw, PORT_EDGES, 65535) for _ in range(draw(st.integers(1, 3)))])


@st.composite
def resolved_nsgs(draw: st.DrawFn, name: str, association: Association) -> ResolvedNsg:
    nsg_id = f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/{name}"
    shared = draw(address_sets())  # reused by several rules, like a service tag
    per_direction: dict[Direction, tuple[ResolvedRule, ...]] = {}
    for direction in Direction:
        rules: list[ResolvedRule] = []
        count = draw(st.integers(0, 6))
        for k in range(count + 1):
            last = k == count
            platform = None if last else draw(st.sampled_from((None, None, PLATFORM_DNS_TAG, PLATFORM_LKM_TAG)))
            rule = SecurityRule(
                name=f"{direction.value[:2]}{k}",
                priority=65500 if last else 100 + k,
                direction=direction,
                access=Access.DENY if last else draw(st.sampled_from(Access)),
                protocol=Protocol.ANY,
                is_default=last,
            )
            rules.append(
                ResolvedRule(
                    rule,
                    None if last else draw(st.sampled_from(PROTOCOL_SETS)),
                    AddressSet.any() if last else draw(st.sampled_from((shared,)) | address_sets()),
                    PortSet.any() if last else draw(port_sets()),
                    AddressSet.any() if last else draw(st.sampled_from((shared,)) | address_sets()),
                    PortSet.any() if last else draw(port_sets()),
                    platform,
                )
            )
        per_direction[direction] = tuple(rules)
    nsg = NetworkSecurityGroup(nsg_id, name)
    return ResolvedNsg(
        nsg, f"{name}-target", association, per_direction[Direction.INBOUND], per_direction[Direction.OUTBOUND]
    )


@st.composite
def nic_policies(draw: st.DrawFn) -> NicPolicy:
    nic = NetworkInterface("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n", "n")
    tags = {
        PLATFORM_DNS_TAG: AddressSet(((0xA83F8110, 0xA83F8110),)),
        PLATFORM_IMDS_TAG: AddressSet(((0xA9FEA9FE, 0xA9FEA9FE),)),
    }
    if draw(st.booleans()):
        tags[PLATFORM_LKM_TAG] = AddressSet(((0x14766DE0, 0x14766DE0),))
    return NicPolicy(
        nic=nic,
        subnet_nsg=draw(st.none() | resolved_nsgs("subnet-nsg", "subnet")),
        nic_nsg=draw(st.none() | resolved_nsgs("nic-nsg", "networkInterface")),
        local_addresses=AddressSet.any(),
        virtual_network=AddressSet(((0x0A000000, 0x0AFFFFFF),)),
        internet=draw(address_sets()),
        platform_tags=tags,
        smtp_blocked=draw(st.booleans()),
    )


@st.composite
def flows(draw: st.DrawFn) -> Flow:
    v6 = draw(st.booleans())

    def address() -> IPv4Address | IPv6Address:
        if v6:
            return IPv6Address(draw(st.sampled_from(V6_EDGES) | st.integers(0, V6_MAX)))
        return IPv4Address(draw(st.sampled_from(V4_EDGES) | st.integers(0, V4_MAX)))

    def port() -> int | None:
        return draw(st.none() | st.sampled_from(PORT_EDGES) | st.integers(0, 65535))

    return Flow(
        draw(st.sampled_from(Direction)), draw(st.sampled_from(FLOW_PROTOCOLS)), address(), port(), address(), port()
    )


@settings(max_examples=300, deadline=None, suppress_health_check=_SLOW_OK)
@given(nic_policies(), st.lists(flows(), min_size=1, max_size=40))
def test_compiled_equals_decide_on_boundary_policies(policy: NicPolicy, cases: list[Flow]) -> None:
    _check_all_paths(policy, cases)


# --- cache, memory, backends ---------------------------------------------------------------------------------


@settings(max_examples=5, deadline=None)
@given(nic_policies())
def test_cache_reuses_by_version_and_by_content(policy: NicPolicy) -> None:
    clear_cache()
    first = get_compiled(policy)
    assert get_compiled(policy) is first  # the same object: found by identity
    assert get_compiled(replace(policy)) is first  # equal content, no version: same classifier
    assert get_compiled(policy, version="v1") is get_compiled(policy, version="v1")
    assert get_compiled(policy, version="v2") is not get_compiled(policy, version="v1")
    changed = replace(policy, smtp_blocked=not policy.smtp_blocked)
    assert get_compiled(changed) is not first
    assert first.nbytes > 0


@given(policy=nic_policies())
@settings(max_examples=3, deadline=None, suppress_health_check=_SLOW_OK, database=None)
def test_cache_stays_within_its_byte_budget(policy: NicPolicy) -> None:
    """The service compiles a NIC again after every write that changes it; superseded versions must not pile up
    (issue 9: memory grew while diagnostics ran concurrently with writes)."""
    from opennsg.engine.compiled import cache

    clear_cache()
    one = get_compiled(policy, version=0).nbytes
    budget = int(2.5 * one)
    original = cache.CACHE_BYTES
    cache.CACHE_BYTES = budget
    try:
        for version in range(1, 6):
            get_compiled(replace(policy, smtp_blocked=version % 2 == 0), version=version)
            assert cache.cached_bytes() <= budget
        newest = get_compiled(policy, version=5)
        assert get_compiled(policy, version=5) is newest  # the most recent stays cached
        assert cache.cached_bytes() <= budget
    finally:
        cache.CACHE_BYTES = original
        clear_cache()


def test_numpy_fallback_is_chosen_when_numba_is_disabled() -> None:
    script = (
        "from opennsg.engine.compiled import numba_available, FlowColumns, compile_policy\n"
        "from opennsg.engine.compiled.kernels import classify_program\n"
        "print(numba_available())\n"
    )
    env = {**os.environ, "OPENNSG_NO_NUMBA": "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- prefixes as the resolver reads them: the fast IPv4 spelling path against ``ipaddress`` ------------------------

_OCTETS = st.sampled_from(["0", "1", "01", "00", "9", "10", "99", "100", "199", "249", "250", "255", "256", "300", "a"])
_LENGTHS = st.sampled_from(["0", "8", "08", "9", "19", "24", "29", "30", "32", "33", "-1", "", " 24", "1e1", "٣"])


@st.composite
def _prefix_texts(draw: st.DrawFn) -> str:
    text = ".".join(draw(st.lists(_OCTETS, min_size=3, max_size=5)))
    if draw(st.booleans()):
        text += "/" + draw(_LENGTHS)
    return draw(st.sampled_from(["", " ", "\t"])) + text + draw(st.sampled_from(["", "", " "]))


def _reference_prefix(text: str) -> IPv4Network | IPv6Network | None:
    """``ipaddress`` on the text as Azure takes it: no surrounding space, ASCII, no zone id."""
    if not text or text.strip() != text or " " in text or not text.isascii() or "%" in text:
        return None
    try:
        return ip_network(text, strict=False)
    except ValueError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.one_of(_prefix_texts(), st.text(max_size=20), st.ip_addresses().map(str)))
def test_prefixes_parse_as_ipaddress_reads_them(text: str) -> None:
    """``parse_prefix`` reads common IPv4 spellings without ``ipaddress``; ``prefix_span`` (what the resolver uses,
    remembered) gives the same range. Both must agree with ``ipaddress`` on every text."""
    expected = _reference_prefix(text)
    got = parse_prefix(text)
    assert got == expected and type(got) is type(expected), text
    span = prefix_span(text)
    if expected is None:
        assert span is None
    else:
        assert span == (expected.version, int(expected.network_address), int(expected.broadcast_address))


def _reference_address(text: str) -> IPv4Address | IPv6Address | None:
    if not text.isascii() or "%" in text:
        return None
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.one_of(_prefix_texts(), st.text(max_size=20), st.ip_addresses().map(str)))
def test_addresses_parse_as_ipaddress_reads_them(text: str) -> None:
    """``parse_address`` reads a plain dotted quad without ``ipaddress``: the same address as ``ipaddress`` on every
    text (ASCII, no zone id, surrounding space allowed), and None where it refuses."""
    expected = _reference_address(text)
    got = parse_address(text)
    assert got == expected and type(got) is type(expected), text


def test_the_shared_classifier_answers_owns_from_its_own_policy() -> None:
    """Two policies of one NIC id with the same rules but other private IPs (a NIC re-addressed, or another
    topology in the same process) are two classifiers: ``owns`` must not answer from the first one's addresses."""
    from opennsg.arm import load_paths

    topology = load_paths([Path(__file__).resolve().parent.parent / "examples" / "how-nsgs-filter-traffic.json"])
    policy = Engine(topology).policy("VM1")
    moved = replace(policy, local_addresses=AddressSet.of([ip_network("10.0.1.99/32")]))
    flow = FlowColumns.from_flows([Flow.make("Inbound", "TCP", "10.0.1.99", 22, "52.10.20.30", 50000)])
    clear_cache()
    assert not get_compiled(policy).owns(flow).any()
    assert get_compiled(moved).owns(flow).all()
