"""``opennsg lab``: an Azure topology rebuilt from network namespaces, each NIC enforcing its chain with nftables.

One namespace per NIC (its private addresses on ``eth0``), one fabric namespace routing between them as Azure
would (``topology.plan_lab``), one ``internet`` namespace. Every link is a veth pair created *inside* the lab's
namespaces (``ip -n FABRIC link add … peer … netns NIC``): nothing is ever linked to the host's namespace.
The fabric is also the host of the platform addresses (168.63.129.16, 169.254.169.254) and the NAT:
DNAT of open public IPs, SNAT of egress, hairpin between public IPs. Replies and DNAT'ed flows are routed by
the fabric's main table (marked), new flows from a NIC by that NIC's own table (``ip rule iif``).

State lives in ``$OPENNSG_LAB_DIR`` (default ``/run/opennsg/labs``), one JSON file per lab.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from opennsg.enforce.apply import AppliedNic, apply_policy, flush_denied
from opennsg.enforce.compile import RuleRef, Ruleset, compile_policy
from opennsg.enforce.conntrack import connection_count
from opennsg.enforce.kernel import KernelError, execute, netns_exists, run, table_present
from opennsg.enforce.topology import LabNic, LabPlan, plan_lab
from opennsg.engine import Engine
from opennsg.flowlogs.filtering import RECORD_TYPES, FlowFilter
from opennsg.flowlogs.writer import VnetFlowLog
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import InputError, read_json_file
from opennsg.model.policy import HOST_VIRTUAL_IP, IMDS_IP
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code

GATEWAY4 = "169.254.0.1"
GATEWAY6 = "fe80::1"
INTERNET_LINK4 = "169.254.0.2"
INTERNET_LINK6 = "fe80::2"
INTERNET_LINK = "inet"
#: Fabric routing: marked packets (replies, DNAT'ed flows) use the main table, the rest their sender's table.
MAIN_MARK = 1
FIRST_TABLE = 100
STATE_VERSION = 1
#: Namespace commands run side by side while a lab is built (each is a short process).
PARALLEL_COMMANDS = 8
COLLECTOR_START_TIMEOUT = 10.0

_NIC_SYSCTLS = (
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
    "net.ipv4.ping_group_range=0 2147483647",
)
_FABRIC_SYSCTLS = (
    *_NIC_SYSCTLS,
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv6.icmp.ratelimit=0",
)
_CONNTRACK_SYSCTLS = ("net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1")


def state_dir() -> Path:
    return Path(os.environ.get("OPENNSG_LAB_DIR", "/run/opennsg/labs"))


def state_path(name: str) -> Path:
    return state_dir() / f"{name}.json"


@dataclass(frozen=True, slots=True)
class Lab:
    """A lab as recorded: its plan, the inputs it was built from, what each NIC enforces."""

    plan: LabPlan
    paths: tuple[str, ...]
    rulesets: dict[str, AppliedNic]
    collector_pid: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented ``lab up --json`` answer."""
        return {
            "lab": self.plan.name,
            "nics": {nic.id: nic.to_json() for nic in self.plan.nics},
            "internet": {"netns": self.plan.internet, "addresses": list(self.plan.internet_addresses)},
        }

    def save(self) -> None:
        path = state_path(self.plan.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "version": STATE_VERSION,
            "plan": _plan_json(self.plan),
            "paths": list(self.paths),
            "rulesets": {key: applied.to_json() for key, applied in self.rulesets.items()},
            "collectorPid": self.collector_pid,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, name: str) -> Lab:
        path = state_path(name)
        try:
            body = read_json_file(path)
        except InputError as exc:
            if exc.missing:
                raise OpenNsgError([ArmError(Code.LAB_NOT_FOUND, f"There is no lab named '{name}'.", name)]) from None
            raise OpenNsgError([ArmError(Code.INVALID_JSON, f"The state of lab '{name}': {exc}.", name)]) from None
        return cls(
            _plan_from_json(body["plan"]),
            tuple(body["paths"]),
            {key: AppliedNic.from_json(value) for key, value in body["rulesets"].items()},
            body.get("collectorPid"),
        )


def _plan_json(plan: LabPlan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "fabric": plan.fabric,
        "internet": plan.internet,
        "internetAddresses": list(plan.internet_addresses),
        "outboundAddress": plan.outbound_address,
        "nics": [
            {
                "id": n.id,
                "name": n.name,
                "index": n.index,
                "netns": n.netns,
                "link": n.link,
                "addresses": list(n.addresses),
                "publicAddresses": list(n.public_addresses),
                "inboundNat": n.inbound_nat,
                "egress": n.egress,
                "mac": n.mac,
                "vnetFlowLog": _vnet_flow_log_json(n.vnet_flow_log),
            }
            for n in plan.nics
        ],
        "nsgFlowLogs": plan.nsg_flow_logs,
    }


def _plan_from_json(body: dict[str, Any]) -> LabPlan:
    nics = tuple(
        LabNic(
            n["id"],
            n["name"],
            n["index"],
            n["netns"],
            n["link"],
            tuple(n["addresses"]),
            tuple(n["publicAddresses"]),
            dict(n["inboundNat"]),
            dict(n["egress"]),
            n.get("mac", ""),
            _vnet_flow_log_from_json(n.get("vnetFlowLog")),
        )
        for n in body["nics"]
    )
    return LabPlan(
        body["name"],
        body["fabric"],
        body["internet"],
        tuple(body["internetAddresses"]),
        body["outboundAddress"],
        nics,
        nsg_flow_logs=body.get("nsgFlowLogs"),
    )


def _vnet_flow_log_json(log: VnetFlowLog | None) -> dict[str, Any] | None:
    if log is None:
        return None
    return {
        "id": log.flow_log_id,
        "guid": log.guid,
        "target": log.target_resource_id,
        "enabledFilteringCriteria": log.criteria.text if log.criteria is not None else None,
        "recordTypes": sorted(log.record_types),
    }


def _vnet_flow_log_from_json(body: Any) -> VnetFlowLog | None:
    """The NIC's VNet flow log as saved (its filter parsed again; a state saved before filters were kept holds
    ``[id, guid, target]``)."""
    if not body:
        return None
    if isinstance(body, list):
        return VnetFlowLog(*body)
    criteria = body.get("enabledFilteringCriteria")
    return VnetFlowLog(
        body["id"],
        body["guid"],
        body["target"],
        FlowFilter.parse(criteria) if criteria else None,
        frozenset(body.get("recordTypes") or RECORD_TYPES),
    )


# --- building ------------------------------------------------------------------------------------


def _ip_batch(netns: str | None, lines: Iterable[str]) -> None:
    """Run ``ip`` commands in one process per family (lines starting ``-6`` go to ``ip -6 -batch``, after)."""
    given = list(lines)
    for family, chosen in (
        (None, [line for line in given if not line.startswith("-6 ")]),
        ("-6", [line.removeprefix("-6 ") for line in given if line.startswith("-6 ")]),
    ):
        if not chosen:
            continue
        argv = ["ip", *((family,) if family else ()), *(("-n", netns) if netns else ()), "-batch", "-"]
        result = execute(argv, "\n".join(chosen) + "\n")
        if result.returncode != 0:
            raise KernelError(
                Code.LAB_BUILD_FAILED, f"ip -batch in {netns or 'the host'} failed: {result.stderr.strip()}"
            )


def _sysctl(netns: str, settings: Sequence[str]) -> None:
    """Set every setting at once; the conntrack ones exist only once the module is loaded (then retried alone)."""
    if run(netns, ["sysctl", "-q", "-w", *settings], check=False).returncode != 0:
        run(netns, ["sysctl", "-q", "-w", *(s for s in settings if s not in _CONNTRACK_SYSCTLS)])
        run(netns, ["sysctl", "-q", "-w", *(s for s in settings if s in _CONNTRACK_SYSCTLS)], check=False)


def _family(address: str) -> int:
    return ip_address(address).version


def _host(address: str) -> str:
    return f"{address}/{32 if _family(address) == 4 else 128}"


def _fabric_nft(plan: LabPlan) -> str:
    """NAT and the Internet's boundary, in the fabric (text syntax: a fixed, small table)."""
    maps: dict[str, list[tuple[str, str]]] = {"dnat4": [], "dnat6": [], "snat4": [], "snat6": []}
    for nic in plan.nics:
        for public, private in nic.inbound_nat.items():
            maps[f"dnat{_family(public)}"].append((public, private))
        for private, egress in nic.egress.items():
            maps[f"snat{_family(private)}"].append((private, egress))
    lines = ["table inet lab {"]
    for name, pairs in maps.items():
        kind = "ipv4_addr" if name.endswith("4") else "ipv6_addr"
        elements = f" elements = {{ {', '.join(f'{a} : {b}' for a, b in pairs)} }};" if pairs else ""
        lines.append(f"  map {name} {{ type {kind} : {kind};{elements} }}")
        keys = f" elements = {{ {', '.join(a for a, _ in pairs)} }};" if pairs else ""
        lines.append(f"  set {name}_keys {{ type {kind};{keys} }}")
    lines += [
        "  chain pre_mark { type filter hook prerouting priority -150;",
        f"    ct direction reply meta mark set {MAIN_MARK}",
        f"    ct mark {MAIN_MARK} meta mark set {MAIN_MARK}",
        "  }",
        "  chain pre_dnat { type nat hook prerouting priority dstnat;",
        f"    ip daddr @dnat4_keys ct mark set {MAIN_MARK} meta mark set {MAIN_MARK} dnat ip to ip daddr map @dnat4",
        f"    ip6 daddr @dnat6_keys ct mark set {MAIN_MARK} meta mark set {MAIN_MARK} dnat ip6 to ip6 daddr map @dnat6",
        "  }",
        "  chain post_snat { type nat hook postrouting priority srcnat;",
        f'    oifname "{INTERNET_LINK}" ip saddr @snat4_keys snat ip to ip saddr map @snat4',
        f'    oifname "{INTERNET_LINK}" ip6 saddr @snat6_keys snat ip6 to ip6 saddr map @snat6',
        f'    ct status dnat iifname != "{INTERNET_LINK}" ip saddr @snat4_keys snat ip to ip saddr map @snat4',
        f'    ct status dnat iifname != "{INTERNET_LINK}" ip6 saddr @snat6_keys snat ip6 to ip6 saddr map @snat6',
        "  }",
        "  chain forwarding { type filter hook forward priority filter; policy accept;",
        "    ct state established,related accept",
        f'    iifname "{INTERNET_LINK}" ct status dnat accept',
        f'    iifname "{INTERNET_LINK}" drop',
        f'    oifname "{INTERNET_LINK}" ip saddr != @snat4_keys drop',
        f'    oifname "{INTERNET_LINK}" ip6 saddr != @snat6_keys drop',
        "    ct status dnat meta nfproto ipv4 ip saddr != @snat4_keys drop",
        "    ct status dnat meta nfproto ipv6 ip6 saddr != @snat6_keys drop",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _route_line(route_prefix: str, hop: str, table: int, link: str | None) -> str:
    family = "-6 " if ":" in route_prefix else ""
    if hop == "deliver":
        return f"{family}route replace {route_prefix} dev {link} table {table}"
    if hop == "internet":
        via = INTERNET_LINK6 if family else INTERNET_LINK4
        return f"{family}route replace default via {via} dev {INTERNET_LINK} table {table}"
    return f"{family}route replace {hop} {route_prefix} table {table}"


def _fabric_lines(plan: LabPlan) -> list[str]:
    lines = [
        "link set lo up",
        f"addr add {HOST_VIRTUAL_IP}/32 dev lo",
        f"addr add {IMDS_IP}/32 dev lo",
        f"link add {INTERNET_LINK} type veth peer name eth0 netns {plan.internet}",
        f"addr add {GATEWAY4}/32 dev {INTERNET_LINK}",
        f"addr add {GATEWAY6}/64 dev {INTERNET_LINK} nodad",
        f"link set {INTERNET_LINK} up",
        f"route add {INTERNET_LINK4}/32 dev {INTERNET_LINK} scope link",
        f"route add default via {INTERNET_LINK4} dev {INTERNET_LINK}",
        f"-6 route add default via {INTERNET_LINK6} dev {INTERNET_LINK}",
        f"rule add fwmark {MAIN_MARK} lookup main pref 100",
        f"-6 rule add fwmark {MAIN_MARK} lookup main pref 100",
    ]
    for nic in plan.nics:
        lines += [
            f"link add {nic.link} type veth peer name eth0 netns {nic.netns}",
            f"addr add {GATEWAY4}/32 dev {nic.link}",
            f"addr add {GATEWAY6}/64 dev {nic.link} nodad",
            f"link set {nic.link} up",
        ]
    lines += _fabric_route_lines(plan)
    return lines


def _fabric_route_lines(plan: LabPlan, replace_tables: bool = False) -> list[str]:
    """Each NIC's own routing table in the fabric; when building (not ``replace_tables``), also the main table's
    route to each NIC and the rule sending a NIC's packets to its table. Replacing empties each table first."""
    lines: list[str] = []
    for nic in plan.nics:
        table = FIRST_TABLE + nic.index
        if replace_tables:
            lines += [f"route flush table {table}", f"-6 route flush table {table}"]
        else:
            for address in nic.addresses:
                family = "-6 " if _family(address) == 6 else ""
                lines.append(f"{family}route add {_host(address)} dev {nic.link}")
            lines.append(f"rule add iif {nic.link} lookup {table} pref 200")
            lines.append(f"-6 rule add iif {nic.link} lookup {table} pref 200")
        for route in plan.routes.get(nic.index, ()):
            lines.append(_route_line(route.prefix, route.hop, table, route.link))
    return lines


def _nic_lines(nic: LabNic) -> list[str]:
    lines = ["link set lo up"]
    for address in nic.addresses:
        lines.append(f"addr add {_host(address)} dev eth0" + (" nodad" if _family(address) == 6 else ""))
    lines += [
        "link set eth0 up",
        f"route add {GATEWAY4}/32 dev eth0 scope link",
        f"route add default via {GATEWAY4} dev eth0",
        f"-6 route add default via {GATEWAY6} dev eth0",
    ]
    return lines


def _internet_lines(plan: LabPlan) -> list[str]:
    """The Internet's addresses, the first of each family being the source of what it sends unbound."""
    lines = ["link set lo up", f"addr add {INTERNET_LINK4}/32 dev eth0", f"addr add {INTERNET_LINK6}/64 dev eth0 nodad"]
    for address in plan.internet_addresses:
        lines.append(f"addr add {_host(address)} dev eth0" + (" nodad" if _family(address) == 6 else ""))
    v4 = next((a for a in plan.internet_addresses if _family(a) == 4), None)
    v6 = next((a for a in plan.internet_addresses if _family(a) == 6), None)
    lines += [
        "link set eth0 up",
        f"route add {GATEWAY4}/32 dev eth0 scope link",
        f"route add default via {GATEWAY4} dev eth0" + (f" src {v4}" if v4 else ""),
        f"-6 route add default via {GATEWAY6} dev eth0" + (f" src {v6}" if v6 else ""),
    ]
    return lines


def _remove_namespaces(names: Iterable[str]) -> None:
    present = [n for n in names if netns_exists(n)]
    if present:
        subprocess.run(["ip", "-batch", "-"], input="".join(f"netns delete {n}\n" for n in present), check=False,
                       capture_output=True, text=True)  # fmt: skip


def lab_up(
    paths: Sequence[Path],
    name: str,
    topology: Topology,
    internet_addresses: tuple[str, ...] = (),
    collect: bool = True,
) -> Lab:
    """Build the lab; on any failure remove what was built and raise (nothing half-built stays)."""
    plan = plan_lab(topology, name, internet_addresses)
    if state_path(name).exists() or any(netns_exists(n) for n in plan.namespaces):
        raise OpenNsgError(
            [
                ArmError(
                    Code.LAB_ALREADY_EXISTS, f"A lab named '{name}' exists; remove it with 'opennsg lab down {name}'."
                )
            ]
        )
    engine = Engine(topology)
    policies = {nic.id: engine.policy(nic.id) for nic in plan.nics}  # bad references fail before anything is built
    rulesets: dict[str, AppliedNic] = {}
    try:
        _ip_batch(None, [f"netns add {n}" for n in plan.namespaces])
        with ThreadPoolExecutor(max_workers=PARALLEL_COMMANDS) as pool:
            settings = {n: _FABRIC_SYSCTLS if n == plan.fabric else _NIC_SYSCTLS for n in plan.namespaces}
            list(pool.map(lambda netns: _sysctl(netns, (*settings[netns], *_CONNTRACK_SYSCTLS)), plan.namespaces))
            # Each NIC's ruleset is in force before its link exists: no packet ever passes unfiltered.
            applied = pool.map(lambda nic: (nic.id, apply_policy(policies[nic.id], nic.netns)), plan.nics)
            rulesets = dict(applied)
            _ip_batch(plan.fabric, _fabric_lines(plan))
            batches = [(plan.internet, _internet_lines(plan)), *((n.netns, _nic_lines(n)) for n in plan.nics)]
            list(pool.map(lambda batch: _ip_batch(*batch), batches))
        run(plan.fabric, ["nft", "-f", "-"], stdin=_fabric_nft(plan))
        lab = Lab(plan, tuple(str(p) for p in paths), rulesets)
        if collect:
            lab = Lab(plan, lab.paths, rulesets, _start_collector(plan))
        lab.save()
        return lab
    except BaseException:
        _remove_namespaces(plan.namespaces)
        raise


def lab_apply(name: str, paths: Sequence[Path], topology: Topology) -> tuple[Lab, dict[str, int]]:
    """Re-compile every NIC and apply each atomically, then the fabric's routes and NAT (peerings, routes and public
    IPs may have changed); flows now denied end where ``flushConnection`` says so.

    Everything is compiled and planned before anything is applied, so bad input changes nothing. The NICs and their
    private addresses must stay those the lab was built with. Returns the lab and, per NIC, the connections flushed.
    """
    lab = Lab.load(name)
    plan = plan_lab(topology, name, lab.plan.internet_addresses, lab.plan.outbound_address)
    before = {(n.id.casefold(), n.addresses) for n in lab.plan.nics}
    after = {(n.id.casefold(), n.addresses) for n in plan.nics}
    if before != after:
        changed = sorted(nic_id for nic_id, _ in before ^ after)
        raise OpenNsgError(
            [
                ArmError(
                    Code.LAB_TOPOLOGY_CHANGED,
                    f"Network interface {nic_id} was added, removed or readdressed; 'lab apply' changes rules, "
                    f"routes and public IPs only: rebuild the lab ('opennsg lab down {name}', then 'lab up').",
                    nic_id,
                )
                for nic_id in dict.fromkeys(changed)
            ]
        )
    engine = Engine(topology)
    policies = {nic.id: engine.policy(nic.id) for nic in plan.nics}
    compiled = {nic_id: compile_policy(policy) for nic_id, policy in policies.items()}
    rulesets = dict(lab.rulesets)
    flushed: dict[str, int] = {}
    for nic in plan.nics:
        previous = lab.rulesets.get(nic.id)
        applied = apply_policy(policies[nic.id], nic.netns, compiled[nic.id])
        if previous is not None:  # flows begun under earlier rules still carry their marks: keep their meaning
            applied = replace(applied, rules={**previous.rules, **applied.rules})
        rulesets[nic.id] = applied
        if previous is not None and _flush_triggered(previous, compiled[nic.id]):
            flushed[nic.id] = flush_denied(policies[nic.id], nic.netns)
    run(plan.fabric, ["nft", "-f", "-"], stdin=f"table inet lab {{}}\ndelete table inet lab\n{_fabric_nft(plan)}")
    _ip_batch(plan.fabric, _fabric_route_lines(plan, replace_tables=True))
    updated = Lab(plan, tuple(str(p) for p in paths), rulesets, lab.collector_pid)
    updated.save()
    return updated, flushed


def _flush_triggered(previous: AppliedNic, new: Ruleset) -> bool:
    """A stage whose NSG has ``flushConnection`` changed what it enforces, or had the flag turned on (§3.3)."""
    for stage, (digest, flush) in new.stages.items():
        before = previous.stages.get(stage)
        if flush and (before is None or before[0] != digest or not before[1]):
            return True
    return False


def lab_down(name: str) -> list[str]:
    """Remove every namespace of the lab (and its state); returns the namespaces removed."""
    path = state_path(name)
    if path.exists():
        lab = Lab.load(name)
        names = list(lab.plan.namespaces)
        _stop_collector(lab.collector_pid)
    else:
        prefix = f"{name}-"
        names = sorted(p.name for p in Path("/run/netns").glob(f"{prefix}*")) if Path("/run/netns").exists() else []
        if not names:
            raise OpenNsgError([ArmError(Code.LAB_NOT_FOUND, f"There is no lab named '{name}'.", name)])
    present = [n for n in names if netns_exists(n)]
    _remove_namespaces(present)
    path.unlink(missing_ok=True)
    events = events_path(name)
    events.unlink(missing_ok=True)
    events.with_suffix(".log").unlink(missing_ok=True)
    return present


def lab_status(name: str) -> dict[str, Any]:
    lab = Lab.load(name)
    plan = lab.plan
    namespaces: list[dict[str, Any]] = []
    for netns, role, nic in (
        (plan.fabric, "fabric", None),
        (plan.internet, "internet", None),
        *((n.netns, "nic", n) for n in plan.nics),
    ):
        present = netns_exists(netns)
        entry: dict[str, Any] = {"netns": netns, "role": role, "present": present}
        if nic is not None:
            applied = lab.rulesets.get(nic.id)
            entry["nic"] = nic.id
            entry["addresses"] = list(nic.addresses)
            entry["publicAddresses"] = list(nic.public_addresses)
            entry["ruleset"] = {
                "applied": present and table_present(netns),
                "rules": applied.rule_count if applied else 0,
                "digest": applied.digest if applied else None,
            }
        entry["connections"] = connection_count(netns) if present else 0
        namespaces.append(entry)
    return {
        "lab": plan.name,
        "paths": list(lab.paths),
        "namespaces": namespaces,
        "collector": {"pid": lab.collector_pid, "running": _alive(lab.collector_pid)},
    }


def rule_of(lab: Lab, nic_id: str, mark: int) -> RuleRef | None:
    applied = lab.rulesets.get(nic_id)
    return applied.rules.get(mark) if applied else None


# --- flow-log collector process --------------------------------------------------------------------


def events_path(name: str) -> Path:
    return state_dir() / f"{name}.events.jsonl"


def _start_collector(plan: LabPlan) -> int:
    """A background process recording conntrack events and logged drops of every NIC namespace."""
    out = events_path(plan.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "opennsg.enforce.collector", str(out), *(f"{n.id}={n.netns}" for n in plan.nics)]
    before = out.stat().st_size if out.exists() else 0
    log = out.with_suffix(".log")
    with log.open("ab") as errors:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
    deadline = time.monotonic() + COLLECTOR_START_TIMEOUT
    while time.monotonic() < deadline:  # events before it listens would be lost: wait for its "ready" line
        if out.exists() and out.stat().st_size > before:
            return process.pid
        if process.poll() is not None:
            error = log.read_text(errors="replace")
            raise KernelError(Code.LAB_BUILD_FAILED, f"the flow-log collector did not start: {error.strip()[-2000:]}")
        time.sleep(0.02)
    process.kill()
    raise KernelError(Code.LAB_BUILD_FAILED, "the flow-log collector did not start in time")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stop_collector(pid: int | None) -> None:
    if pid and _alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
