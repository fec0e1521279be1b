"""OpenNSG analysis benchmark: ``python bench/analysis.py [--quick] [--json FILE]``.

Each exact answer next to the same question answered by brute force over a sampled space, in the same run:

- ``diff``: ``workload(500)`` of ``bench/run.py`` at Azure's limits (a 1,000-rule NSG on the subnet and another on
  the NIC, a 10,240-prefix tag, 4,000-prefix augmented rules, IPv4 and IPv6) against itself with 20 rules changed
  (goal ≤ 1 s, including resolving both configurations), and the same for ``workload(1000, outbound=0)`` (1,000
  inbound rules per NSG); brute force: sampled flows (uniform and rule-hitting) through ``evaluate.decide`` on both
  sides.
- ``lint``: the same two workloads (goal ≤ 1 s); brute force: sampled flows through ``decide`` with the trace,
  counting which user rules ever decide (a sample can only say "not seen yet", never "shadowed").
- ``reach``: 200 NICs in 20 subnets of 4 peered VNets, a 100-rule NSG per subnet drawn like the workload's
  (goal ≤ 10 s); the matrix, and the matrix with every pair's boxes rendered as ``reach --json`` prints them;
  brute force: ``Engine.verify_path`` on sampled pairs, protocols and ports.
- ``intents``: 1,000 intents over that network (goal ≤ 2 s); brute force: ``verify_path`` per intent port.

Each exact figure is wall-clock seconds, with the process's CPU seconds beside it (on a shared machine the wall
clock also counts other processes' turns). Peak memory is the process's maximum resident set size (goal ≤ 500 MB).
The sampled answers are checked against the exact ones (every sampled flow that changed lies in a reported box, and
no other), so the figures compare two answers to one question.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from workloads import PREFIX, _rule, rule_hitting_trace, to_flows, uniform_trace, workload

from boxes import address_ranges, port_ranges, protocol_ranges  # the tests' independent reading of box JSON
from opennsg.analysis.diff import diff_topologies
from opennsg.analysis.lint import lint_topology
from opennsg.analysis.reach import Intent, Reachability
from opennsg.engine import Engine
from opennsg.engine.evaluate import decide
from opennsg.model import (
    Access,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkPeering,
    default_security_rules,
)

SEED = 20261125
FULL_SPACE_V4 = 256 * (1 << 32) * 65536 * 65536  # flows at one local address, one direction, IPv4


def _changed(topology: Topology, count: int, seed: int) -> Topology:
    """``count`` rules edited across both NSGs: access flipped or destination ports moved."""
    rnd = random.Random(seed)
    nsgs = {n.key: n for n in topology.nsgs.values()}
    picks = rnd.sample([(n.key, i) for n in nsgs.values() for i in range(len(n.security_rules))], count)
    for key, index in picks:
        nsg = nsgs[key]
        rules = list(nsg.security_rules)
        rule = rules[index]
        if rnd.random() < 0.5:
            rules[index] = replace(rule, access=Access.DENY if rule.access is Access.ALLOW else Access.ALLOW)
        else:
            lo = rnd.randrange(1, 65000)
            rules[index] = replace(rule, destination_port_range=f"{lo}-{lo + 99}", destination_port_ranges=())
        nsgs[key] = replace(nsg, security_rules=tuple(rules))
    return topology.with_(nsgs=list(nsgs.values()))


class ParsedBox:
    """A box of the JSON output read back once (the test suite's parser), for many membership tests."""

    def __init__(self, box: dict[str, Any], direction: str | None = None) -> None:
        self.direction = direction or box.get("direction")
        self.v6 = ":" in box["localAddresses"][0]
        self.fields = (
            protocol_ranges(box["protocols"]),
            address_ranges(box["localAddresses"]),
            port_ranges(box["localPorts"]),
            address_ranges(box["remoteAddresses"]),
            port_ranges(box["remotePorts"]),
        )

    def __contains__(self, flow: Any) -> bool:
        if flow.direction.value != self.direction or (flow.local_ip.version == 6) != self.v6:
            return False
        values = (flow.protocol, int(flow.local_ip), flow.local_port or 0, int(flow.remote_ip), flow.remote_port or 0)
        return all(any(lo <= v <= hi for lo, hi in ranges) for v, ranges in zip(values, self.fields, strict=True))


def _timed(fn: Any) -> tuple[Any, float, float]:
    """The answer, wall-clock seconds and CPU seconds of this process."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_diff(quick: bool, rules: int = 500, outbound: int | None = None) -> dict[str, Any]:
    w = workload(rules, SEED, outbound)
    changed = _changed(w.topology, 20, SEED)
    result, seconds, cpu = _timed(lambda: diff_topologies(w.topology, changed))
    body = result.to_json()
    samples = 2_000 if quick else 20_000
    flows = to_flows(uniform_trace(samples // 2, SEED), samples // 2)
    flows += to_flows(rule_hitting_trace(changed, samples // 2, SEED + 1), samples // 2)
    old, new = Engine(w.topology), Engine(changed)
    old_policy, new_policy = old.policy(w.nic_id), new.policy(w.nic_id)
    t0 = time.perf_counter()
    differing = [f for f in flows if decide(old_policy, f).access is not decide(new_policy, f).access]
    brute_s = time.perf_counter() - t0
    parsed = [ParsedBox(c) for c in body["changes"]]
    in_boxes = [f for f in flows if any(f in box for box in parsed)]
    return {
        "workload": w.name,
        "goal_s": 1.0,
        "exact_s": seconds,
        "exact_cpu_s": cpu,
        "changed_boxes": body["summary"]["changedBoxes"],
        "changed_flows": body["summary"]["changedFlows"],
        "brute_sampled_flows": len(flows),
        "brute_s": brute_s,
        "brute_found_changed": len(differing),
        "sample_agrees_with_boxes": {id(f) for f in differing} == {id(f) for f in in_boxes},
        "brute_s_for_whole_space_years": brute_s / len(flows) * FULL_SPACE_V4 / 3.15e7,
    }


def bench_lint(quick: bool, rules: int = 500, outbound: int | None = None) -> dict[str, Any]:
    w = workload(rules, SEED, outbound)
    findings, seconds, cpu = _timed(lambda: lint_topology(w.topology))
    by_rule: dict[str, int] = {}
    for f in findings:
        by_rule[f.rule_id] = by_rule.get(f.rule_id, 0) + 1
    samples = 2_000 if quick else 20_000
    flows = to_flows(uniform_trace(samples // 2, SEED), samples // 2)
    flows += to_flows(rule_hitting_trace(w.topology, samples // 2, SEED + 1), samples // 2)
    policy = Engine(w.topology).policy(w.nic_id)
    t0 = time.perf_counter()
    seen: set[str] = set()
    for flow in flows:
        for step in decide(policy, flow).trace:
            if step.matched_rule is not None and step.matched_rule.id:
                seen.add(step.matched_rule.id.casefold())
    brute_s = time.perf_counter() - t0
    shadowed = {f.resource.casefold() for f in findings if f.rule_id == "shadowed-rule"}
    user_rules = sum(len(n.security_rules) for n in w.topology.nsgs.values())
    return {
        "workload": w.name,
        "goal_s": 1.0,
        "exact_s": seconds,
        "exact_cpu_s": cpu,
        "findings": by_rule,
        "brute_sampled_flows": len(flows),
        "brute_s": brute_s,
        "brute_rules_never_seen": user_rules - len(seen),
        "exact_shadowed": len(shadowed),
        "shadowed_seen_by_sample": len(shadowed & seen),  # must be 0
    }


def network(subnets_per_vnet: int = 5, nics_per_subnet: int = 10, rules: int = 100, seed: int = SEED) -> Topology:
    """4 fully peered VNets × ``subnets_per_vnet`` subnets × ``nics_per_subnet`` NICs, an NSG per subnet."""
    rnd = random.Random(seed)
    vnets: list[VirtualNetwork] = []
    nsgs: list[NetworkSecurityGroup] = []
    nics: list[NetworkInterface] = []
    spaces = [f"10.{v}.0.0/16" for v in range(4)]
    for v in range(4):
        vnet_id = f"{PREFIX}/virtualNetworks/vnet{v}"
        subnets = []
        for s in range(subnets_per_vnet):
            nsg_id = f"{PREFIX}/networkSecurityGroups/nsg-{v}-{s}"
            out = []
            for direction in Direction:
                for k in range(rules):
                    r = _rule(rnd, nsg_id, k, direction, 0)
                    if rnd.random() < 0.3:  # rules aimed at the other subnets, as real NSGs are
                        target = f"10.{rnd.randrange(4)}.{rnd.randrange(subnets_per_vnet)}.0/24"
                        if direction is Direction.INBOUND:
                            r = replace(r, source_address_prefix=target, source_address_prefixes=())
                        else:
                            r = replace(r, destination_address_prefix=target, destination_address_prefixes=())
                    out.append(r)
            nsgs.append(
                NetworkSecurityGroup(nsg_id, f"nsg-{v}-{s}", "westus", {}, tuple(out), default_security_rules(nsg_id))
            )
            subnet = Subnet(f"{vnet_id}/subnets/s{s}", f"s{s}", (f"10.{v}.{s}.0/24",), nsg_id)
            subnets.append(subnet)
            for n in range(nics_per_subnet):
                nic_id = f"{PREFIX}/networkInterfaces/nic-{v}-{s}-{n}"
                config = IpConfiguration(
                    f"{nic_id}/ipConfigurations/c", "c", f"10.{v}.{s}.{n + 4}", subnet.id, primary=True
                )
                nics.append(NetworkInterface(nic_id, f"nic-{v}-{s}-{n}", "westus", {}, (config,)))
        peerings = tuple(
            VirtualNetworkPeering(
                f"{vnet_id}/virtualNetworkPeerings/to{o}", f"to{o}", f"{PREFIX}/virtualNetworks/vnet{o}", (spaces[o],)
            )
            for o in range(4)
            if o != v
        )
        vnets.append(VirtualNetwork(vnet_id, f"vnet{v}", "westus", {}, (spaces[v],), tuple(subnets), peerings))
    return Topology.of(nsgs=nsgs, vnets=vnets, nics=nics, service_tags=workload(10, seed).topology.service_tags)


def bench_reach(quick: bool) -> dict[str, Any]:
    topology = network()
    matrix, seconds, cpu = _timed(lambda: Reachability(topology).matrix())
    # What ``reach --json`` does: the matrix, then every pair's boxes written out (streamed, as the CLI does).
    _, render_s, render_cpu = _timed(lambda: sum(map(len, Reachability(topology).matrix().json_chunks())))
    engine = Engine(topology)
    rnd = random.Random(SEED)
    nics = sorted(topology.nics.values(), key=lambda n: n.id)
    pairs = 100 if quick else 1_000
    probes = 0
    agree = 0
    t0 = time.perf_counter()
    for _ in range(pairs):
        a, b = rnd.sample(nics, 2)
        cell = matrix.cell(a.id, b.id)
        boxes = [ParsedBox(x.to_json(), "Inbound") for x in cell.allowed] if cell else []
        for _ in range(10):
            protocol = rnd.choice(("TCP", "UDP", "ICMP"))
            port = rnd.randrange(0, 65536)
            path = engine.verify_path(a.id, b.id, protocol, None, 50000, None, port)
            from opennsg.engine.flow import Flow

            inbound = Flow.make(
                "Inbound",
                protocol,
                b.ip_configurations[0].private_ip_address or "",
                port,
                a.ip_configurations[0].private_ip_address or "",
                50000,
            )
            probes += 1
            agree += any(inbound in x for x in boxes) == path.allowed
    brute_s = time.perf_counter() - t0
    per_probe = brute_s / probes
    whole = len(nics) * (len(nics) - 1) * 3 * 65536  # every pair, 3 protocols, every destination port
    return {
        "goal_s": 10.0,
        "nics": len(nics),
        "exact_s": seconds,
        "exact_cpu_s": cpu,
        "with_json_s": render_s,
        "with_json_cpu_s": render_cpu,
        "pairs": len(matrix.cells),
        "brute_probes": probes,
        "brute_s": brute_s,
        "brute_agrees": agree == probes,
        "brute_s_for_all_pairs_and_destination_ports": per_probe * whole,
    }


def bench_intents(quick: bool) -> dict[str, Any]:
    topology = network()
    rnd = random.Random(SEED + 3)
    nics = sorted(topology.nics.values(), key=lambda n: n.id)
    intents = []
    for i in range(1_000):
        a, b = rnd.sample(nics, 2)
        ports = tuple(
            sorted(
                {str(rnd.choice((22, 80, 443, 1433, 3389, 5432, 8080, rnd.randrange(1024, 65536)))) for _ in range(3)}
            )
        )
        intents.append(Intent(f"i{i}", a.name, b.name, rnd.choice(("TCP", "UDP")), ports))
    results, seconds, cpu = _timed(lambda: Reachability(topology).intents(intents))
    engine = Engine(topology)
    t0 = time.perf_counter()
    checked = intents[:100] if quick else intents
    agree = 0
    for intent, result in zip(checked, results, strict=False):
        verdicts = [
            engine.verify_path(intent.source, intent.destination, intent.protocol, None, 50000, None, int(p)).allowed
            for p in intent.destination_ports
        ]
        sampled = "Reachable" if all(verdicts) else "Unreachable" if not any(verdicts) else "PartiallyReachable"
        # a sample of one source port can see "Reachable" where some source port is blocked: compare what it can
        agree += sampled == result.result or (sampled == "Reachable" and result.result == "PartiallyReachable")
    brute_s = time.perf_counter() - t0
    return {
        "goal_s": 2.0,
        "intents": len(intents),
        "exact_s": seconds,
        "exact_cpu_s": cpu,
        "results": {r: sum(x.result == r for x in results) for r in ("Reachable", "PartiallyReachable", "Unreachable")},
        "brute_intents": len(checked),
        "brute_s_one_source_port": brute_s,
        "brute_agrees": agree == len(checked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller brute-force samples")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = {
        "diff": bench_diff(args.quick),
        "diff_1000_inbound": bench_diff(args.quick, 1000, 0),
        "lint": bench_lint(args.quick),
        "lint_1000_inbound": bench_lint(args.quick, 1000, 0),
        "reach": bench_reach(args.quick),
        "intents": bench_intents(args.quick),
    }
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console = Console(width=max(Console().width, 160))
    table = Table(title="OpenNSG analysis: exact answer vs brute force over a sample (same run)")
    for col in ("question", "exact s (cpu s)", "goal s", "brute-force sample", "brute s", "agrees", "notes"):
        table.add_column(col)
    for key in ("diff", "diff_1000_inbound"):
        d = figures[key]
        table.add_row(
            f"diff, 20 rules changed ({d['workload']})",
            f"{d['exact_s']:.2f} ({d['exact_cpu_s']:.2f})",
            "1",
            f"{d['brute_sampled_flows']} flows x 2 sides",
            f"{d['brute_s']:.2f}",
            str(d["sample_agrees_with_boxes"]),
            f"{d['changed_boxes']} boxes, {d['changed_flows']:.3e} flows; sample found {d['brute_found_changed']}; "
            f"whole IPv4 space by brute force: {d['brute_s_for_whole_space_years']:.1e} years",
        )
    for key in ("lint", "lint_1000_inbound"):
        lint = figures[key]
        table.add_row(
            f"lint ({lint['workload']})",
            f"{lint['exact_s']:.2f} ({lint['exact_cpu_s']:.2f})",
            "1",
            f"{lint['brute_sampled_flows']} flows",
            f"{lint['brute_s']:.2f}",
            str(lint["shadowed_seen_by_sample"] == 0),
            f"findings {lint['findings']}; sample never saw {lint['brute_rules_never_seen']} rules "
            f"(exact: {lint['exact_shadowed']} shadowed)",
        )
    r, i = figures["reach"], figures["intents"]
    table.add_row(
        f"reach matrix, {r['nics']} NICs",
        f"{r['exact_s']:.2f} ({r['exact_cpu_s']:.2f})",
        "10",
        f"{r['brute_probes']} probes",
        f"{r['brute_s']:.2f}",
        str(r["brute_agrees"]),
        f"{r['pairs']} pairs; with every box rendered as JSON: {r['with_json_s']:.2f} s "
        f"({r['with_json_cpu_s']:.2f} cpu); all pairs x ports by brute force: "
        f"{r['brute_s_for_all_pairs_and_destination_ports']:.0f} s",
    )
    table.add_row(
        f"{i['intents']} intents",
        f"{i['exact_s']:.2f} ({i['exact_cpu_s']:.2f})",
        "2",
        f"{i['brute_intents']} intents, 1 source port",
        f"{i['brute_s_one_source_port']:.2f}",
        str(i["brute_agrees"]),
        str(i["results"]),
    )
    console.print(table)
    console.print(f"peak memory (max RSS): {figures['peak_rss_mb']:.0f} MB (goal 500)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
