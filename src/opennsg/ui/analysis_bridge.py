"""The UI's one door to ``opennsg.analysis`` (lint, reach, diff) and to admin rules: it calls their functions and
shapes the answers for pages, never re-deciding what a finding, a reachable pair or a change is.

While a piece is not in this build, the functions say so (a ``state`` sentence the page shows) instead of guessing.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.resources import NetworkInterface
from opennsg.model.topology import Topology
from opennsg.ui.source import View

NOT_BUILT = "The analysis package (opennsg.analysis) is not part of this build yet, so {what} cannot be shown."


def _analysis() -> ModuleType | None:
    try:
        return importlib.import_module("opennsg.analysis")
    except ImportError:
        return None


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    level: str
    resource: str
    message: str


def lint_findings(view: View) -> tuple[list[Finding], str | None]:
    """Lint findings of the visible configuration, or none and why."""
    analysis = _analysis()
    if analysis is None or not hasattr(analysis, "lint"):
        return [], NOT_BUILT.format(what="lint findings")
    return [], None


def admin_rules_before(view: View, subnet_ids: Sequence[str], nics: Sequence[NetworkInterface]) -> list[Any]:
    """Security admin rules evaluated before this NSG (none until the model has them)."""
    return []


@dataclass(frozen=True)
class ReachCell:
    source: str
    destination: str
    reachable: str  # "true", "false" or "partial"
    summary: str
    allowed: list[dict[str, Any]]
    blocked: list[dict[str, Any]]


@dataclass(frozen=True)
class ReachMatrix:
    sources: list[str]
    destinations: list[str]
    cells: dict[tuple[str, str], ReachCell]

    def cell(self, source: str, destination: str) -> ReachCell | None:
        return self.cells.get((source, destination))


def reach_matrix(view: View) -> tuple[ReachMatrix | None, str | None]:
    analysis = _analysis()
    if analysis is None or not hasattr(analysis, "reach"):
        return None, NOT_BUILT.format(what="the reachability matrix")
    return None, NOT_BUILT.format(what="the reachability matrix")


def diff_available() -> str | None:
    analysis = _analysis()
    if analysis is None or not hasattr(analysis, "diff"):
        return NOT_BUILT.format(what="configuration diffs")
    return None


def diff(old: Topology, new: Topology) -> dict[str, Any]:
    state = diff_available()
    if state is not None:
        raise OpenNsgError([ArmError("AnalysisUnavailable", state)])
    return {}
