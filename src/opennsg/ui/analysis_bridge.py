"""The UI's one door to ``opennsg.analysis`` (lint, reach, diff) and to the chain's admin stages: it calls their
functions and shapes the answers (their documented JSON shapes) for pages, never re-deciding what a finding, a
reachable pair or a change is.

While a piece is not in this build, the functions say so (a ``state`` sentence the page shows) instead of guessing.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from opennsg.model.codes import Code
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import NetworkInterface
from opennsg.model.topology import Topology
from opennsg.ui.source import View

NOT_BUILT = "The analysis package (opennsg.analysis) is not part of this build yet, so {what} cannot be shown."
INTERNET = "Internet"


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _function(module: str, name: str) -> Callable[..., Any] | None:
    found = _module(module)
    function = getattr(found, name, None) if found is not None else None
    return function if callable(function) else None


class _PerTopology:
    """Answers computed once per topology object (topologies are immutable; the service makes one per write)."""

    def __init__(self, size: int = 4) -> None:
        self._items: list[tuple[Topology, Any]] = []
        self._size = size
        self._lock = threading.Lock()

    def get(self, topology: Topology, compute: Callable[[], Any]) -> Any:
        with self._lock:
            for known, value in self._items:
                if known is topology:
                    return value
        value = compute()
        with self._lock:
            self._items = [(topology, value), *self._items][: self._size]
        return value


_LINT = _PerTopology()
_MATRIX = _PerTopology()


# --- lint ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    level: str
    resource: str
    message: str


def lint_findings(view: View) -> tuple[list[Finding], str | None]:
    """Lint findings of the configuration (``opennsg lint``'s), or none and why."""
    lint = _function("opennsg.analysis.lint", "lint_topology")
    if lint is None:
        return [], NOT_BUILT.format(what="lint findings")
    topology = view.engine.topology

    def compute() -> list[Finding]:
        return [_finding(f.to_json()) for f in lint(topology)]

    findings: list[Finding] = _LINT.get(topology, compute)
    return findings, None


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(str(data["ruleId"]), str(data["level"]), str(data["resource"]), str(data["message"]))


# --- admin rules ------------------------------------------------------------------------------------------------


def admin_rules_before(view: View, subnet_ids: Sequence[str], nics: Sequence[NetworkInterface]) -> list[Any]:
    """The security admin rules evaluated before this NSG wherever it applies: the chain's stages that are not NSGs,
    at every NIC the NSG filters (directly or through its subnets), in direction and priority order."""
    subnets = {id_key(s) for s in subnet_ids}
    filtered = {n.key: n for n in nics}
    for nic in view.topology.nics.values():
        if nic.subnet and id_key(nic.subnet) in subnets:
            filtered[nic.key] = nic
    rules: dict[str, Any] = {}
    for nic in filtered.values():
        policy = view.engine.policy(nic)
        for direction in (Direction.INBOUND, Direction.OUTBOUND):
            for stage in policy.chain(direction).stages:
                if stage.kind.value == "nsg":
                    continue
                for resolved in stage.rules:
                    rule = resolved.rule
                    rules.setdefault(id_key(getattr(rule, "id", None) or f"{stage.resource_id}/{rule.name}"), rule)
    order = {Direction.INBOUND: 0, Direction.OUTBOUND: 1}
    return sorted(rules.values(), key=lambda r: (order.get(r.direction, 2), r.priority, r.name))


# --- reachability -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxRow:
    """One flow set of an answer, as a table row."""

    at: str
    direction: str
    protocols: str
    local_ports: str
    remote: tuple[str, ...]
    remote_ports: str
    flows: int
    witness: str
    rule: str | None = None
    hop: str | None = None


@dataclass(frozen=True)
class ReachCell:
    source: str
    destination: str
    reachable: str  # "true", "false" or "partial"
    summary: str
    source_id: str
    destination_id: str


@dataclass(frozen=True)
class ReachDetail:
    allowed: list[BoxRow]
    blocked: list[BoxRow]


@dataclass(frozen=True)
class ReachMatrix:
    sources: list[str]
    destinations: list[str]
    cells: dict[tuple[str, str], ReachCell]

    def cell(self, source: str, destination: str) -> ReachCell | None:
        return self.cells.get((source, destination))


def _box_row(data: dict[str, Any], names: dict[str, str]) -> BoxRow:
    witness = data.get("witness") or {}
    target = str(witness.get("targetResourceId", ""))
    local = f"{witness.get('localIPAddress')}:{witness.get('localPort')}"
    remote = f"{witness.get('remoteIPAddress')}:{witness.get('remotePort')}"
    inbound = witness.get("direction") == "Inbound"
    example = (
        f"{witness.get('protocol')} {remote} → {local}" if inbound else f"{witness.get('protocol')} {local} → {remote}"
    )
    if not witness:
        example = ""
    return BoxRow(
        at=names.get(id_key(target), name_of(target)) if target else "",
        direction=str(witness.get("direction", "")),
        protocols=", ".join(data.get("protocols", [])),
        local_ports=", ".join(data.get("localPorts", [])),
        remote=tuple(data.get("remoteAddresses", [])),
        remote_ports=", ".join(data.get("remotePorts", [])),
        flows=int(data.get("flows", 0)),
        witness=example,
        rule=data.get("rule"),
        hop=data.get("hop"),
    )


def _reachable(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "partial"


def reach_matrix(view: View) -> tuple[ReachMatrix | None, str | None]:
    """``opennsg reach``'s matrix over the visible NICs (and the Internet), labelled by NIC name."""
    reachability = _function("opennsg.analysis.reach", "Reachability")
    if reachability is None:
        return None, NOT_BUILT.format(what="the reachability matrix")
    topology = view.engine.topology
    answer: dict[str, Any] = _MATRIX.get(topology, lambda: reachability(topology).matrix().to_json())
    visible = {n.key: n for n in view.topology.nics.values()}
    labels = {key: (nic.name if view.unique_name(nic) else nic.id) for key, nic in visible.items()}

    def label(endpoint: str) -> str | None:
        return INTERNET if endpoint == INTERNET else labels.get(id_key(endpoint))

    cells: dict[tuple[str, str], ReachCell] = {}
    for pair in answer.get("pairs", []):
        source, destination = label(pair["source"]), label(pair["destination"])
        if source is None or destination is None:
            continue
        cells[(source, destination)] = ReachCell(
            source, destination, _reachable(pair["reachable"]), str(pair.get("summary", "")), pair["source"],
            pair["destination"],
        )  # fmt: skip
    sources = [s for s in (label(s) for s in answer.get("sources", [])) if s is not None]
    destinations = [d for d in (label(d) for d in answer.get("destinations", [])) if d is not None]
    return ReachMatrix(sources, destinations, cells), None


def reach_detail(view: View, cell: ReachCell) -> ReachDetail:
    """The allowed and blocked flow sets of one pair, with the rule and hop that block each blocked set
    (``opennsg reach --intents`` for every protocol and port between the two)."""
    reach = _module("opennsg.analysis.reach")
    assert reach is not None
    topology = view.engine.topology
    intent = reach.Intent(f"{cell.source} → {cell.destination}", cell.source_id, cell.destination_id, "*", ("0-65535",))
    (result,) = reach.Reachability(topology).intents([intent])
    answer = result.to_json()
    names = {n.key: n.name for n in view.topology.nics.values()}
    return ReachDetail(
        [_box_row(b, names) for b in answer.get("allowed", [])],
        [_box_row(b, names) for b in answer.get("blocked", [])],
    )


# --- diff -----------------------------------------------------------------------------------------------------------


def diff_available() -> str | None:
    if _function("opennsg.analysis.diff", "diff_topologies") is None:
        return NOT_BUILT.format(what="configuration diffs")
    return None


def diff(old: Topology, new: Topology) -> dict[str, Any]:
    """``opennsg diff``'s answer, with its changes grouped per NIC (by name) for the page."""
    compute = _function("opennsg.analysis.diff", "diff_topologies")
    if compute is None:
        raise OpenNsgError([ArmError(Code.ANALYSIS_UNAVAILABLE, NOT_BUILT.format(what="configuration diffs"))])
    answer: dict[str, Any] = compute(old, new).to_json()
    names = {n.key: n.name for n in (*old.nics.values(), *new.nics.values())}
    by_nic: dict[str, list[dict[str, Any]]] = {}
    for change in answer.get("changes", []):
        by_nic.setdefault(names.get(id_key(change["nic"]), name_of(change["nic"])), []).append(change)
    answer["by_nic"] = sorted(by_nic.items())
    answer["addedNics"] = [name_of(n) for n in answer.get("addedNics", [])]
    answer["removedNics"] = [name_of(n) for n in answer.get("removedNics", [])]
    return answer
