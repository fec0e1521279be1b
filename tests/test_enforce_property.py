"""Differential test of real enforcement: random topologies built as labs, real packets (TCP connects, UDP
datagrams, ICMP echoes) between their namespaces, and what the kernel delivered and counted compared with
``Engine.verify``: delivered iff every NIC on the path allows (and a route exists), and each NIC's per-rule
counters equal, rule for rule, the number of new flows the engine says that rule decided there.

Five examples of about 45 flows each: over 200 real packets per run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_address

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from labkit import Net, lab_name, needs_netns, running_lab
from opennsg.enforce import compile as compile_module
from opennsg.enforce.kernel import rule_counters
from opennsg.enforce.lab import Lab
from opennsg.enforce.probe import Probe, run_probes
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.engine.ir import Verdict
from opennsg.model import Access, Direction, Protocol, SecurityRule, Topology
from opennsg.model.ids import id_key

pytestmark = needs_netns

INTERNET = ("20.50.0.10", "2603:1000::10")
PUBLIC_IP = "20.60.0.4"
PORTS = (22, 80, 443, 8080)
ADDRESS_CHOICES = (
    "*", "*", "VirtualNetwork", "Internet", "10.7.1.0/24", "10.7.2.4", "10.7.1.5", "fd07:0:0:1::/64",
    "20.50.0.0/16", ("10.7.1.4", "10.7.2.0/24"), ("fd07:0:0:2::4", "20.50.0.10"),
)  # fmt: skip
DESTINATION_EXTRA = ("AzurePlatformDNS", "168.63.129.16")
PORT_CHOICES = ("*", "*", "22", "80", "20-90", "443-8080", ("22", "443"), ("80", "8000-8100"))
SOURCE_PORT_CHOICES = ("*", "*", "*", "41000-41030", "41031-65535")
NICS = (
    ("n1", "s1", ("10.7.1.4", "fd07:0:0:1::4")),
    ("n2", "s1", ("10.7.1.5", "fd07:0:0:1::5")),
    ("n3", "s2", ("10.7.2.4", "fd07:0:0:2::4")),
)


@st.composite
def rules(draw: st.DrawFn, name: str) -> tuple[SecurityRule, ...]:
    count = draw(st.integers(0, 6))
    priorities = sorted(draw(st.lists(st.integers(100, 4096), min_size=count, max_size=count, unique=True)))
    out = []
    for i, priority in enumerate(priorities):
        direction = draw(st.sampled_from([Direction.INBOUND, Direction.OUTBOUND]))
        source = draw(st.sampled_from(ADDRESS_CHOICES))
        destination = draw(st.sampled_from(ADDRESS_CHOICES + DESTINATION_EXTRA))
        ports = draw(st.sampled_from(PORT_CHOICES))
        out.append(
            SecurityRule(
                name=f"{name}r{i}",
                priority=priority,
                direction=direction,
                access=draw(st.sampled_from([Access.ALLOW, Access.DENY, Access.DENY])),
                protocol=draw(st.sampled_from([Protocol.TCP, Protocol.UDP, Protocol.ICMP, Protocol.ANY])),
                source_address_prefix=source if isinstance(source, str) else None,
                source_address_prefixes=source if isinstance(source, tuple) else (),
                source_port_range=draw(st.sampled_from(SOURCE_PORT_CHOICES)),
                destination_address_prefix=destination if isinstance(destination, str) else None,
                destination_address_prefixes=destination if isinstance(destination, tuple) else (),
                destination_port_range=ports if isinstance(ports, str) else None,
                destination_port_ranges=ports if isinstance(ports, tuple) else (),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Case:
    net: Net
    flows: tuple[tuple[str, str, str, int | None, int], ...]  # (protocol, source, destination, port, family)


def _valid_flow(flow: tuple[str, str, str, int, int]) -> tuple[str, str, str, int, int]:
    """Flows the lab can carry: never to oneself; from the Internet only to n1's public IPv4 address."""
    protocol, source, destination, port, family = flow
    if source == "internet":
        return protocol, source, "n1", port, 4
    return protocol, source, "internet" if destination == source else destination, port, family


@st.composite
def cases(draw: st.DrawFn) -> Case:
    net = Net()
    net.vnet("vnet", "10.7.0.0/16", "fd07::/48")
    pool = [net.nsg(f"g{i}", *draw(rules(f"g{i}"))) for i in range(3)]
    choice = st.sampled_from([None, *pool])
    net.subnet("vnet", "s1", "10.7.1.0/24", "fd07:0:0:1::/64", nsg=draw(choice))
    net.subnet("vnet", "s2", "10.7.2.0/24", "fd07:0:0:2::/64", nsg=draw(choice))
    for name, subnet, ips in NICS:
        net.nic(name, net.vnets["vnet"][1][int(subnet[1]) - 1].id, *ips, nsg=draw(choice),
                public=PUBLIC_IP if name == "n1" else None)  # fmt: skip
    endpoints = [n for n, _, _ in NICS]
    flow = st.tuples(
        st.sampled_from(["tcp", "tcp", "udp", "icmp"]),
        st.sampled_from([*endpoints, "internet"]),
        st.sampled_from([*endpoints, "internet", "platform"]),
        st.sampled_from(PORTS),
        st.sampled_from([4, 4, 6]),
    ).map(_valid_flow)
    flows = draw(st.lists(flow, min_size=40, max_size=48))
    return Case(net, tuple((p, s, d, None if p == "icmp" else port, fam) for p, s, d, port, fam in flows))


def _address(name: str, family: int) -> str:
    for nic, _, ips in NICS:
        if nic == name:
            return next(ip for ip in ips if ip_address(ip).version == family)
    raise KeyError(name)


def _mark(lab: Lab, nic_id: str, direction: Direction, verdict: Verdict) -> int:
    """The mark (counter) of the rule the engine reports."""
    for mark, ref in lab.rulesets[nic_id].rules.items():
        same_nsg = (ref.nsg_id and verdict.nsg_id and id_key(ref.nsg_id) == id_key(verdict.nsg_id)) or (
            ref.nsg_id is None and verdict.nsg_id is None
        )
        if (ref.rule_name, ref.access, ref.direction) == (verdict.rule_name, verdict.access, direction) and same_nsg:
            return mark
    raise AssertionError(f"no counter for {verdict.rule_name} at {nic_id}")


def _short(resource_id: str | None) -> str | None:
    return resource_id.rsplit("/", 1)[-1] if resource_id else None


def _describe(topology: Topology) -> str:
    """The NSGs and their associations, one line per rule: what a failure needs to be read."""
    lines = [f"subnet {s.name}: nsg={_short(s.network_security_group)}" for s in topology.subnets]
    lines += [f"nic {n.name}: nsg={_short(n.network_security_group)}" for n in topology.nics.values()]
    for nsg in topology.nsgs.values():
        for r in nsg.security_rules:
            lines.append(
                f"  {r.name} {r.priority} {r.direction.value} {r.access.value} {r.protocol.value} "
                f"src={r.source_addresses}:{r.source_ports} dst={r.destination_addresses}:{r.destination_ports}"
            )
    return "\n".join(lines)


@pytest.fixture(scope="module", autouse=True)
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Labs' state in a temporary folder; stages cut into blocks of two rules, so the block guards (which a
    real NSG meets past 32 rules) are what these random NSGs exercise."""
    os.environ["OPENNSG_LAB_DIR"] = str(tmp_path_factory.mktemp("labs"))
    block_size = compile_module.BLOCK_SIZE
    compile_module.BLOCK_SIZE = 2
    yield
    compile_module.BLOCK_SIZE = block_size


# No shrinking: every packet is real, and the failure message already lists each wrong flow with its verdicts.
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
)
@given(case=cases())
def test_kernel_verdicts_and_counters_equal_the_engine(case: Case) -> None:
    topology = case.net.topology()
    engine = Engine(topology)
    ids = {nic.name: nic.id for nic in topology.nics.values()}
    with running_lab(topology, lab_name("p"), collect=False) as lab:
        netns = {n.name: n.netns for n in lab.plan.nics}
        egress = {n.name: n.egress for n in lab.plan.nics}
        probes: list[Probe] = []
        expected: list[bool] = []
        counts: dict[str, Counter[int]] = {nic_id: Counter() for nic_id in ids.values()}
        retries: dict[str, Counter[int]] = {nic_id: Counter() for nic_id in ids.values()}
        explain: list[str] = []
        for index, (protocol, source, destination, port, family) in enumerate(case.flows):
            sport = 41000 + index if protocol != "icmp" else None
            number = {"tcp": 6, "udp": 17, "icmp": 1 if family == 4 else 58}[protocol]
            if source == "internet":
                remote = INTERNET[0]
                inbound = engine.verify(ids["n1"], Flow.make("Inbound", number, _address("n1", 4), port, remote, sport))
                open_ip = PUBLIC_IP in lab.plan.nic("n1").inbound_nat  # type: ignore[union-attr]
                probes.append(Probe(protocol, lab.plan.internet, netns["n1"], PUBLIC_IP, port, sport))  # type: ignore[arg-type]
                expected.append(open_ip and inbound.allowed)
                if open_ip:
                    _count(
                        counts, retries, ids["n1"], _mark(lab, ids["n1"], Direction.INBOUND, inbound), protocol, inbound
                    )
                explain.append(f"internet→n1 {protocol}/{port}: in={inbound.rule_name}")
                continue
            local = _address(source, family)
            if destination == "internet":
                remote = INTERNET[0 if family == 4 else 1]
                target_ns = lab.plan.internet
            elif destination == "platform":
                remote, target_ns = "168.63.129.16", lab.plan.fabric
                if family == 6:
                    local = _address(source, 4)
            else:
                remote, target_ns = _address(destination, family), netns[destination]
            outbound = engine.verify(ids[source], Flow.make("Outbound", number, local, sport, remote, port))
            _count(
                counts, retries, ids[source], _mark(lab, ids[source], Direction.OUTBOUND, outbound), protocol, outbound
            )
            delivered = outbound.allowed
            note = f"{source}→{destination} {protocol}/{port} {local}→{remote}: out={outbound.rule_name}"
            if destination == "internet":
                delivered = delivered and any(
                    ip_address(a).version == ip_address(local).version for a in egress[source]
                )
            elif destination != "platform":
                inbound = engine.verify(ids[destination], Flow.make("Inbound", number, remote, port, local, sport))
                note += f" in={inbound.rule_name}"
                if outbound.allowed:
                    mark = _mark(lab, ids[destination], Direction.INBOUND, inbound)
                    _count(counts, retries, ids[destination], mark, protocol, inbound)
                delivered = delivered and inbound.allowed
            probes.append(Probe(protocol, netns[source], target_ns, remote, port, sport))  # type: ignore[arg-type]
            expected.append(delivered)
            explain.append(note)
        got = run_probes(probes)
        wrong = [
            f"{explain[i]}: expected {expected[i]}, kernel {got[i]}" for i in range(len(got)) if got[i] != expected[i]
        ]
        assert not wrong, "\n".join([*wrong, _describe(topology)])
        for name, nic_id in ids.items():
            refs = lab.rulesets[nic_id].rules
            kernel = {m: n for m, n in rule_counters(netns[name]).items() if n}
            named = {m: f"{_short(refs[m].nsg_id)}:{refs[m].direction.value}:{refs[m].rule_name}" for m in refs}
            wrong_counts = [
                f"{named[m]}: kernel {kernel.get(m, 0)}, engine {counts[nic_id][m]}"
                f"{f' (+{retries[nic_id][m]} SYN retransmissions allowed)' if retries[nic_id][m] else ''}"
                for m in set(kernel) | set(+counts[nic_id])
                if not counts[nic_id][m] <= kernel.get(m, 0) <= counts[nic_id][m] + retries[nic_id][m]
            ]
            assert not wrong_counts, f"{name}:\n" + "\n".join([*wrong_counts, _describe(topology)])


def _count(
    counts: dict[str, Counter[int]], retries: dict[str, Counter[int]], nic_id: str, mark: int, protocol: str, v: Verdict
) -> None:
    """One new flow decided by ``mark`` at the NIC. A denied TCP connect may have its SYN retransmitted once when
    the machine is too loaded to close the probe within a second: that packet counts on the same rule."""
    counts[nic_id][mark] += 1
    if protocol == "tcp" and not v.allowed:
        retries[nic_id][mark] += 1
