"""Exact answers over the whole flow space: what a change opens or closes (``diff``), which rules are dead, redundant
or dangerous (``lint``), who can reach whom (``reach``). Built on the engine's resolved policies: every answer is
a set of boxes with exact flow counts and a witness, never a sample."""

from opennsg.analysis.diff import Change, DiffResult, diff_topologies
from opennsg.analysis.render import FlowBox, Witness
from opennsg.analysis.symbolic import Decision

__all__ = ["Change", "Decision", "DiffResult", "FlowBox", "Witness", "diff_topologies"]
