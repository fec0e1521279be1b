"""Each page of the UI as a server-rendered HTML fragment: what it shows, computed from a ``View``.

Pages are fragments so that the same renderer serves both set-ups: ``opennsg ui`` embeds them in the first
response, while under ``opennsg serve`` the page shell fetches them with the bearer token (a browser navigation
cannot carry an ``Authorization`` header, and the token must never be in a URL or a cookie).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from opennsg.arm.netwatcher import effective_groups_to_arm
from opennsg.engine.flow import Flow, parse_endpoint, parse_flow_protocol
from opennsg.engine.ir import Verdict
from opennsg.model.codes import Code
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import NetworkInterface, SecurityRule
from opennsg.model.topology import Topology
from opennsg.ui import analysis_bridge
from opennsg.ui.graph import layout
from opennsg.ui.source import View, documents_from_uploads

BASE = "/ui"
PROTOCOLS = ("TCP", "UDP", "ICMP", "ICMPv6", "ESP", "AH")
DIRECTIONS = ("Inbound", "Outbound")
#: Bars drawn per flow-log chart at most (a week of minutes); longer logs show their first week and say so.
MAX_MINUTES = 7 * 24 * 60

env = Environment(
    loader=PackageLoader("opennsg.ui", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Fragment:
    title: str
    html: Markup
    status: int = 200


def nic_href(view: View, nic: NetworkInterface) -> str:
    key = nic.name if view.unique_name(nic) else nic.id
    return f"{BASE}/nic/{quote(key, safe='')}"


def nsg_href(view: View, nsg_id: str) -> str:
    nsg = view.topology.nsg(nsg_id)
    key = nsg.name if nsg is not None and view.unique_name(nsg) else nsg_id
    return f"{BASE}/nsg/{quote(key, safe='')}"


def _render(template: str, title: str, status: int = 200, **values: Any) -> Fragment:
    html = env.get_template(template).render(title=title, base=BASE, **values)
    return Fragment(title, Markup(html), status)


def _problem(title: str, errors: Sequence[ArmError], status: int = 200) -> Fragment:
    return _render("problem.html", title, status, errors=list(errors))


def _linker(view: View) -> dict[str, Any]:
    """Helpers the templates use to link resources by the name users type, or by id when names repeat."""

    def nic_link(nic_id: str) -> str | None:
        nic = view.topology.nic(nic_id)
        return nic_href(view, nic) if nic is not None else None

    def nsg_link(nsg_id: str | None) -> str | None:
        return nsg_href(view, nsg_id) if nsg_id and view.topology.nsg(nsg_id) is not None else None

    return {"nic_link": nic_link, "nsg_link": nsg_link, "short": name_of}


# --- topology -----------------------------------------------------------------------------------------


def topology_page(view: View) -> Fragment:
    graph = layout(view.topology, lambda nic: nic_href(view, nic), lambda nsg_id: nsg_href(view, nsg_id))
    topology = view.topology
    counts = {
        "VNets": len(topology.vnets),
        "subnets": sum(len(v.subnets) for v in topology.vnets.values()),
        "NICs": len(topology.nics),
        "VMs": len({id_key(n.virtual_machine) for n in topology.nics.values() if n.virtual_machine}),
        "NSGs": len(topology.nsgs),
        "ASGs": len(topology.asgs),
        "peerings": sum(len(v.peerings) for v in topology.vnets.values()),
        "admin configurations": len(topology.security_admin_configurations),
        "private endpoints": len(topology.private_endpoints),
        "load balancers": len(topology.load_balancers),
    }
    return _render("topology.html", "Network map", graph=graph, counts=counts, view=view)


# --- NSG and NIC ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    rule: SecurityRule
    source: str
    source_ports: str
    destination: str
    destination_ports: str
    findings: tuple[analysis_bridge.Finding, ...]


def _slot(addresses: Sequence[str], asgs: Sequence[str]) -> str:
    return ", ".join([*addresses, *(name_of(a) for a in asgs)]) or "—"


def rule_rows(
    nsg_id: str, rules: Sequence[SecurityRule], findings: Mapping[str, list[analysis_bridge.Finding]]
) -> list[RuleRow]:
    return [
        RuleRow(
            r,
            _slot(r.source_addresses, r.source_asgs),
            ", ".join(r.source_ports) or "—",
            _slot(r.destination_addresses, r.destination_asgs),
            ", ".join(r.destination_ports) or "—",
            tuple(findings.get(id_key(r.id or f"{nsg_id}/{r.kind}/{r.name}"), [])),
        )
        for r in rules
    ]


def admin_rows(rules: Sequence[Any]) -> list[RuleRow]:
    """Security admin rules in the rules table's columns (sources and destinations are prefix items)."""

    def prefixes(items: Sequence[Any]) -> str:
        return ", ".join(str(getattr(i, "address_prefix", i)) for i in items) or "*"

    return [
        RuleRow(
            r,
            prefixes(r.sources),
            ", ".join(r.source_port_ranges) or "*",
            prefixes(r.destinations),
            ", ".join(r.destination_port_ranges) or "*",
            (),
        )
        for r in rules
    ]


def _ambiguous(what: str, name: str, links: list[tuple[str, str]]) -> Fragment:
    return _render("ambiguous.html", name, what=what, name=name, links=links)


def nsg_page(view: View, name: str) -> Fragment:
    found = view.nsgs_named(name)
    if not found:
        return _problem(
            name,
            [ArmError(Code.NETWORK_SECURITY_GROUP_NOT_FOUND, f"No network security group is named '{name}'.")],
            404,
        )
    if len(found) > 1:
        return _ambiguous("network security group", name, [(n.id, f"{BASE}/nsg/{quote(n.id, safe='')}") for n in found])
    nsg = found[0]
    findings, lint_state = analysis_bridge.lint_findings(view)
    by_rule: dict[str, list[analysis_bridge.Finding]] = {}
    for finding in findings:
        by_rule.setdefault(id_key(finding.resource), []).append(finding)
    groups = [
        ("Inbound", rule_rows(nsg.id, [r for r in nsg.rules(Direction.INBOUND) if not r.is_default], by_rule)),
        ("Outbound", rule_rows(nsg.id, [r for r in nsg.rules(Direction.OUTBOUND) if not r.is_default], by_rule)),
    ]
    defaults = rule_rows(
        nsg.id, [r for d in (Direction.INBOUND, Direction.OUTBOUND) for r in nsg.rules(d) if r.is_default], by_rule
    )
    subnets = view.topology.subnets_using_nsg(nsg.id)
    nics = view.topology.nics_using_nsg(nsg.id)
    admin = admin_rows(analysis_bridge.admin_rules_before(view, [s.id for s in subnets], nics))
    return _render(
        "nsg.html",
        nsg.name,
        nsg=nsg,
        groups=groups,
        defaults=defaults,
        admin=admin,
        subnets=subnets,
        nics=nics,
        nsg_findings=by_rule.get(nsg.key, []),
        lint_state=lint_state,
        **_linker(view),
    )


def _find_nic(view: View, name: str) -> NetworkInterface | Fragment:
    found = view.nics_named(name)
    if not found:
        message = f"No network interface is named '{name}'."
        return _problem(name, [ArmError(Code.NETWORK_INTERFACE_NOT_FOUND, message)], 404)
    if len(found) > 1:
        return _ambiguous("network interface", name, [(n.id, f"{BASE}/nic/{quote(n.id, safe='')}") for n in found])
    return found[0]


def nic_page(view: View, name: str) -> Fragment:
    nic = _find_nic(view, name)
    if isinstance(nic, Fragment):
        return nic
    policy = view.engine.policy(nic)
    groups = effective_groups_to_arm(view.engine.effective_rules(nic), view.topology.service_tags)
    topology = view.topology
    subnet = topology.subnet(nic.subnet)
    vnet = topology.vnet_of_subnet(nic.subnet) if nic.subnet else None
    chain = {
        d.value: [(stage.resource_id, stage.association, stage.applied_to) for stage in policy.chain(d).stages]
        for d in (Direction.INBOUND, Direction.OUTBOUND)
    }
    configs = []
    for cfg in nic.ip_configurations:
        pip = topology.public_ips.get(id_key(cfg.public_ip_address)) if cfg.public_ip_address else None
        configs.append(
            {
                "name": cfg.name,
                "ip": cfg.private_ip_address or "—",
                "primary": cfg.primary or len(nic.ip_configurations) == 1,
                "public": (pip.ip_address or pip.name)
                if pip
                else (name_of(cfg.public_ip_address) if cfg.public_ip_address else None),
                "asgs": [name_of(a) for a in cfg.application_security_groups],
            }
        )
    effective = [
        {
            "nsg": group["networkSecurityGroup"]["id"],
            "association": next(iter(group["association"])),
            "target": next(iter(group["association"].values()))["id"],
            "rules": [_effective_row(rule) for rule in group["effectiveSecurityRules"]],
        }
        for group in groups
    ]
    findings, lint_state = analysis_bridge.lint_findings(view)
    nic_findings = [f for f in findings if id_key(f.resource) == nic.key]
    first_ip = next((c.private_ip_address for c in nic.ip_configurations if c.private_ip_address), "")
    ask = f"{BASE}/verify?" + urlencode({"nic": nic.name if view.unique_name(nic) else nic.id, "local": f"{first_ip}:"})
    return _render(
        "nic.html",
        nic.name,
        nic=nic,
        subnet=subnet,
        vnet=vnet,
        configs=configs,
        chain=chain,
        effective=effective,
        ask=ask,
        smtp_blocked=policy.smtp_blocked,
        nic_findings=nic_findings,
        lint_state=lint_state,
        **_linker(view),
    )


def _effective_row(rule: Mapping[str, Any]) -> dict[str, Any]:
    def shown(singular: str, expanded: str | None = None) -> tuple[str, int]:
        values = (
            rule.get(singular + "es") or rule.get(singular + "s") or ([rule[singular]] if rule.get(singular) else [])
        )
        side = "source" if singular.startswith("source") else "destination"
        if not values:
            values = [name_of(a["id"]) for a in rule.get(f"{side}ApplicationSecurityGroups") or []]
        count = len(rule.get(expanded) or []) if expanded else 0
        return ", ".join(values) or "—", count

    source, source_expanded = shown("sourceAddressPrefix", "expandedSourceAddressPrefix")
    destination, destination_expanded = shown("destinationAddressPrefix", "expandedDestinationAddressPrefix")
    return {
        "name": rule["name"],
        "priority": rule["priority"],
        "direction": rule["direction"],
        "access": rule["access"],
        "protocol": rule["protocol"],
        "source": source,
        "source_expanded": source_expanded,
        "source_ports": shown("sourcePortRange")[0],
        "destination": destination,
        "destination_expanded": destination_expanded,
        "destination_ports": shown("destinationPortRange")[0],
    }


# --- verify ---------------------------------------------------------------------------------------------


def decide(view: View, params: Mapping[str, str]) -> tuple[NetworkInterface, Verdict, tuple[str, ...]]:
    """The verdict ``opennsg verify`` gives for the form's flow, with its notes; every problem of the form at once
    otherwise."""
    problems: list[ArmError] = []
    for field_name, label in (("nic", "NIC"), ("direction", "Direction"), ("local", "Local"), ("remote", "Remote")):
        if not params.get(field_name, "").strip():
            problems.append(ArmError(Code.MISSING_REQUIRED_PARAMETER, f"{label} is required."))
    direction = Direction.parse(params.get("direction", "")) if params.get("direction") else None
    if params.get("direction") and direction is None:
        problems.append(ArmError(Code.INVALID_PARAMETER, "Direction must be Inbound or Outbound."))
    protocol = parse_flow_protocol(params.get("protocol") or "TCP")
    if protocol is None:
        problems.append(
            ArmError(Code.INVALID_PARAMETER, f"Protocol '{params.get('protocol')}' is not a protocol name or number.")
        )
    nics = view.nics_named(params.get("nic", "").strip()) if params.get("nic", "").strip() else []
    if params.get("nic", "").strip() and len(nics) != 1:
        which = "is ambiguous: use the ARM id" if nics else "names no visible network interface"
        problems.append(ArmError(Code.NETWORK_INTERFACE_NOT_FOUND, f"'{params['nic']}' {which}."))
    endpoints = []
    for field_name, label in (("local", "Local"), ("remote", "Remote")):
        if params.get(field_name, "").strip():
            try:
                endpoints.append(parse_endpoint(params[field_name], label))
            except OpenNsgError as exc:
                problems.extend(exc.errors)
    if problems:
        raise OpenNsgError(problems)
    assert isinstance(direction, Direction) and protocol is not None
    (local_ip, local_port), (remote_ip, remote_port) = endpoints
    try:
        flow = Flow.make(direction, protocol, local_ip, local_port, remote_ip, remote_port)
    except ValueError as exc:
        raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, f"Invalid flow: {exc}.")]) from None
    nic = nics[0]
    outside = view.engine.outside_internet(nic, flow.remote_ip)
    return nic, view.engine.verify(nic, flow, detail=True), (str(outside),) if outside is not None else ()


def verify_page(view: View, params: Mapping[str, str]) -> Fragment:
    values = {
        "nic": params.get("nic", ""),
        "direction": params.get("direction", "Inbound"),
        "protocol": params.get("protocol", "TCP"),
        "local": params.get("local", ""),
        "remote": params.get("remote", ""),
    }
    canonical_protocol = {p.casefold(): p for p in PROTOCOLS}
    values["protocol"] = canonical_protocol.get(values["protocol"].casefold(), values["protocol"])
    canonical_direction = {d.casefold(): d for d in DIRECTIONS}
    values["direction"] = canonical_direction.get(values["direction"].casefold(), values["direction"])
    asked = any(params.get(k) for k in ("local", "remote"))
    verdict = errors = nic = None
    notes: tuple[str, ...] = ()
    if asked:
        try:
            nic, verdict, notes = decide(view, params)
        except OpenNsgError as exc:
            errors = exc.errors
    nics = [(n.name if view.unique_name(n) else n.id, n) for n in view.nics()]
    if values["nic"] and values["nic"] not in {key for key, _ in nics}:
        match = view.nics_named(values["nic"])
        if len(match) == 1:
            values["nic"] = match[0].name if view.unique_name(match[0]) else match[0].id
    return _render(
        "verify.html",
        "Ask about one flow",
        values=values,
        nics=nics,
        protocols=PROTOCOLS,
        directions=DIRECTIONS,
        verdict=verdict,
        notes=notes,
        errors=errors,
        checked=nic,
        **_linker(view),
    )


# --- reachability ---------------------------------------------------------------------------------------


def reach_page(view: View, params: Mapping[str, str]) -> Fragment:
    matrix, state = analysis_bridge.reach_matrix(view)
    selected = detail = None
    source, destination = params.get("source"), params.get("destination")
    if matrix is not None and source and destination:
        selected = matrix.cell(source, destination)
        detail = analysis_bridge.reach_detail(view, selected) if selected is not None else None
    return _render(
        "reach.html",
        "Who can reach whom",
        matrix=matrix,
        state=state,
        selected=selected,
        detail=detail,
        source=source,
        destination=destination,
        quote=quote,
        **_linker(view),
    )


# --- diff -------------------------------------------------------------------------------------------------


def diff_page(view: View) -> Fragment:
    revisions = view.revisions.list(view.visible_subscriptions) if view.revisions is not None else None
    return _render(
        "diff.html", "What changes", live=view.live, state=analysis_bridge.diff_available(), revisions=revisions
    )


def diff_result(view: View, body: Mapping[str, Any]) -> Fragment:
    """``{"old": files | "current" | {"revision": id}, "new": files | "current"}`` → what opens and what closes."""
    try:
        old = _diff_side(view, body.get("old"), "old")
        new = _diff_side(view, body.get("new"), "new")
        result = analysis_bridge.diff(old, new)
    except OpenNsgError as exc:
        return _problem("What changes", exc.errors)
    return _render("diff_result.html", "What changes", result=result)


def _diff_side(view: View, value: Any, side: str) -> Topology:
    """One side of a diff: uploaded files, the service's current state, or a saved revision (old side only)."""
    if value == "current" and view.live:
        return view.topology
    if isinstance(value, dict) and set(value) == {"revision"} and side == "old" and view.revisions is not None:
        if not isinstance(value["revision"], str):
            raise OpenNsgError([ArmError(Code.INVALID_REQUEST_FORMAT, "'revision' must be a revision id.")])
        return view.revisions.topology(view.visible_subscriptions, value["revision"])[1]
    return documents_from_uploads(_uploads(value, side), view.topology.service_tags)


def _uploads(value: Any, side: str) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) and isinstance(f.get("text"), str) for f in value
    ):
        raise OpenNsgError([ArmError(Code.INVALID_REQUEST_FORMAT, f"'{side}' must be a list of {{name, text}} files.")])
    return [(f["name"], f["text"]) for f in value]


# --- flow logs ----------------------------------------------------------------------------------------------


def flowlogs_page(view: View) -> Fragment:
    stats = _flow_stats(view, list(view.flow_logs)) if view.flow_logs else None
    return _render("flowlogs.html", "Traffic in flow logs", **_flow_values(stats), uploaded=False)


def flowlogs_upload(view: View, body: Mapping[str, Any]) -> Fragment:
    try:
        files = _uploads(body.get("logs"), "logs")
    except OpenNsgError as exc:
        return _problem("Traffic in flow logs", exc.errors)
    if not files:
        return _problem("Traffic in flow logs", [ArmError(Code.MISSING_FLOW_LOGS, "No flow log files were given.")])
    with tempfile.TemporaryDirectory(prefix="opennsg-ui-") as folder:
        paths = []
        for index, (name, text) in enumerate(files):
            path = Path(folder) / f"{index:04d}-{Path(name).name or 'log'}.json"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        stats = _flow_stats(view, paths)
    return _render("flowlogs_result.html", "Traffic in flow logs", **_flow_values(stats), uploaded=True)


def _flow_stats(view: View, paths: list[Path]) -> Any:
    from opennsg.flowlogs.reader import FlowLogReader
    from opennsg.flowlogs.stats import compute_stats

    reader = FlowLogReader(paths)
    return compute_stats(reader.batches(), reader.stats, view.topology if view.topology.nsgs else None, top=10)


@dataclass(frozen=True)
class Bar:
    x: float
    allowed_h: float
    denied_h: float
    label: str
    allowed: int
    denied: int


def _flow_values(stats: Any) -> dict[str, Any]:
    if stats is None:
        return {"stats": None}
    timeline = list(stats.timeline)
    minutes: list[tuple[Any, int, int]] = []
    if timeline:
        counts = {m.minute: (m.allowed, m.denied) for m in timeline}
        moment, last = timeline[0].minute, timeline[-1].minute
        while moment <= last and len(minutes) < MAX_MINUTES:
            allowed, denied = counts.get(moment, (0, 0))
            minutes.append((moment, allowed, denied))
            moment += timedelta(minutes=1)
    truncated = bool(timeline) and minutes[-1][0] < timeline[-1].minute
    peak = max([a + d for _, a, d in minutes] + [1])
    width = min(24.0, max(1.0, 960 / max(len(minutes), 1)))
    height = 160.0
    bars = [
        Bar(i * width, a / peak * height, d / peak * height, f"{m:%Y-%m-%d %H:%M}", a, d)
        for i, (m, a, d) in enumerate(minutes)
    ]
    never = stats.rules_never_hit
    return {
        "stats": stats,
        "bars": bars,
        "bar_width": width,
        "chart_width": max(len(bars) * width, 40.0),
        "chart_height": height,
        "peak": peak,
        "truncated": truncated,
        "first": minutes[0][0] if minutes else None,
        "last": minutes[-1][0] if minutes else None,
        "total_allowed": sum(a for _, a, _ in minutes),
        "total_denied": sum(d for _, _, d in minutes),
        "never": never,
        "short": name_of,
    }
