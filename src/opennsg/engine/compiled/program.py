"""Compiling a ``NicPolicy`` into tables: one set per direction, plus the platform and SMTP checks.

Result codes index ``CompiledPolicy.results``: 0 is "no stage decides" (Allow, no rule), 1 the outbound SMTP
block, then one ``PlatformRule_<Tag>`` per platform tag, then per direction its unmatched verdict (when the chain
names one) and every rule of its chain. The tables follow ``NicPolicy.chain``: stage by stage, rule bits in
priority order, each with its ``Outcome``.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from opennsg.engine.addresses import AddressSet
from opennsg.engine.chain import Chain, Stage
from opennsg.engine.compiled.columns import LOW64
from opennsg.engine.compiled.tables import I32, U64, AddressTable, PortTable, mask_row, protocol_rows, words_for
from opennsg.engine.evaluate import rule_verdict
from opennsg.engine.ir import NicPolicy, ResolvedRule, Verdict
from opennsg.model.enums import Access, Direction
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, PLATFORM_RULE_PREFIX, SMTP_RULE_NAME

NO_NSG_RESULT = 0
SMTP_RESULT = 1
FIRST_PLATFORM_RESULT = 2
NO_REQUIRED_PORT = -1


T = TypeVar("T")
S = TypeVar("S")


class _TableMemo:
    """Field tables of recent compiles, keyed by which set objects sit at which bits.

    An entry holds its set objects, so their ids stay unique while it lives: a field whose rules keep the same
    objects (every field of an unchanged rule, as the IR reuses them) is not rebuilt, and changing one rule
    recompiles only the fields it changed.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Any, list[Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, build: Callable[[list[tuple[int, S]], int], T], spans: list[tuple[int, S]], words: int) -> T:
        key = (build, words, tuple((bit, id(value)) for bit, value in spans))
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                table: T = found[0]
                return table
        table = build(spans, words)
        with self._lock:
            self._entries[key] = (table, [value for _, value in spans])
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return table


#: Both directions' four fields of the last eight compiled NICs (bounded: big tables take megabytes).
_memo = _TableMemo(64)


@dataclass(frozen=True, slots=True)
class DirectionProgram:
    """Tables deciding one direction's chain. Stage ``k`` owns words ``[stage_bounds[k], stage_bounds[k+1])``;
    bit ``b`` is a rule whose match has ``bit_outcome[b]`` (an ``opennsg.engine.chain.Outcome``)."""

    direction: Direction
    chain: Chain
    words: int
    #: The result code when no stage decides and no platform exemption names the flow.
    unmatched_result: int
    #: An exempt flow nothing decided is ``PlatformRule_<Tag>`` (``Chain.names_platform_exemption``).
    names_platform_exemption: bool
    stage_bounds: I32
    bit_outcome: npt.NDArray[np.uint8]
    bit_result: I32
    protocol_classes: I32
    protocol_rows: U64
    source: AddressTable
    destination: AddressTable
    source_ports: PortTable
    destination_ports: PortTable
    #: Row 0 admits every rule; row ``1 + t`` only the rules naming platform tag ``t`` (exempt flows).
    exempt_rows: U64
    #: Words per summary bit: bit ``j`` of a row's summary says whether words ``[j*block, (j+1)*block)`` are
    #: nonzero, so the kernel only loads the words where every field has a candidate rule.
    block: int
    #: Per stage of the chain, the summary bits of its words (stages start on block boundaries).
    stage_summary_masks: U64
    #: Summaries of the protocol, source, destination, source port, destination port and exempt rows.
    summary_rows: tuple[U64, U64, U64, U64, U64, U64]

    @property
    def nbytes(self) -> int:
        arrays = (self.stage_bounds, self.bit_outcome, self.bit_result, self.protocol_classes, self.protocol_rows)
        tables = (self.source, self.destination, self.source_ports, self.destination_ports)
        summaries = sum(a.nbytes for a in self.summary_rows)
        return sum(a.nbytes for a in arrays) + sum(t.nbytes for t in tables) + self.exempt_rows.nbytes + summaries

    def key_shifts(self) -> tuple[bool, int, int, int, int]:
        """Bit offsets packing (protocol, source port, destination port, source, destination) classes into one
        64-bit memo key, destination lowest; the flag is False when they do not fit."""
        widths = [
            max(1, (rows.shape[0] - 1).bit_length())
            for rows in (
                self.protocol_rows,
                self.source_ports.rows,
                self.destination_ports.rows,
                self.source.rows,
                self.destination.rows,
            )
        ]
        sh_sc = widths[4]
        sh_dpc = sh_sc + widths[3]
        sh_spc = sh_dpc + widths[2]
        sh_pc = sh_spc + widths[1]
        return (sh_pc + widths[0] <= 63, sh_pc, sh_spc, sh_dpc, sh_sc)


def summarize(rows: U64, block: int) -> U64:
    """Bit ``j`` of each row's summary: any of the row's words ``[j*block, (j+1)*block)`` is nonzero."""
    n, words = rows.shape
    padded = np.zeros((n, -(-words // block) * block), dtype=bool)
    padded[:, :words] = rows != 0
    nonzero = padded.reshape(n, -1, block).any(axis=2)
    weights = np.left_shift(np.uint64(1), np.arange(nonzero.shape[1], dtype=np.uint64))
    summary: U64 = (nonzero.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)
    return summary


def _direction_program(
    policy: NicPolicy, direction: Direction, platform_tags: tuple[str, ...], first_result: int, unmatched: int
) -> DirectionProgram:
    chain = policy.chain(direction)
    ordered = [stage.rules for stage in chain.stages]  # in priority order
    needed = [words_for(len(rules)) for rules in ordered]
    block = 1
    while sum(-(-n // block) for n in needed) > 64:
        block += 1
    bounds = [0]
    for n in needed:
        bounds.append(bounds[-1] + -(-n // block) * block)
    words = max(1, bounds[-1])
    placed: list[tuple[int, Stage, ResolvedRule]] = [
        (bounds[k] * 64 + j, stage, rule) for k, stage in enumerate(chain.stages) for j, rule in enumerate(stage.rules)
    ]
    bit_outcome = np.zeros(words * 64, dtype=np.uint8)
    bit_result = np.full(words * 64, -1, dtype=np.int32)
    outcomes = [o for stage in chain.stages for o in stage.outcomes]
    for n, ((bit, _, _), outcome) in enumerate(zip(placed, outcomes, strict=True)):
        bit_outcome[bit] = outcome
        bit_result[bit] = first_result + n
    protocol_classes, protocol_table = protocol_rows([(bit, r.protocols) for bit, _, r in placed], words)
    exempt = np.stack(
        [np.full(words, np.uint64(LOW64), dtype=np.uint64)]
        + [mask_row([bit for bit, _, r in placed if r.platform_tag == tag], words) for tag in platform_tags]
    )
    source = _memo.table(AddressTable.build, [(bit, r.source) for bit, _, r in placed], words)
    destination = _memo.table(AddressTable.build, [(bit, r.destination) for bit, _, r in placed], words)
    source_ports = _memo.table(PortTable.build, [(bit, r.source_ports.intervals) for bit, _, r in placed], words)
    destination_ports = _memo.table(
        PortTable.build, [(bit, r.destination_ports.intervals) for bit, _, r in placed], words
    )
    program = DirectionProgram(
        direction=direction,
        chain=chain,
        words=words,
        unmatched_result=unmatched,
        names_platform_exemption=chain.names_platform_exemption,
        stage_bounds=np.asarray(bounds, dtype=np.int32),
        bit_outcome=bit_outcome,
        bit_result=bit_result,
        protocol_classes=protocol_classes,
        protocol_rows=protocol_table,
        source=source,
        destination=destination,
        source_ports=source_ports,
        destination_ports=destination_ports,
        exempt_rows=exempt,
        block=block,
        stage_summary_masks=np.asarray(
            [((1 << (hi // block)) - 1) ^ ((1 << (lo // block)) - 1) for lo, hi in itertools.pairwise(bounds)],
            dtype=np.uint64,
        ),
        summary_rows=(
            summarize(protocol_table, block),
            summarize(source.rows, block),
            summarize(destination.rows, block),
            summarize(source_ports.rows, block),
            summarize(destination_ports.rows, block),
            summarize(exempt, block),
        ),
    )
    return program


@dataclass(frozen=True, slots=True)
class PolicyProgram:
    """Everything the kernels need for one NIC, and the verdict of every result code."""

    inbound: DirectionProgram
    outbound: DirectionProgram
    platform_tags: tuple[str, ...]
    #: Remote addresses of each platform tag (bit ``t`` of a one-word row = tag ``t``).
    platform: AddressTable
    #: The remote port a tag's exemption needs on TCP (KMS 1688), or ``NO_REQUIRED_PORT``.
    platform_ports: I32
    internet: AddressTable
    smtp_blocked: bool
    results: tuple[Verdict, ...]
    result_allow: npt.NDArray[np.uint8]

    @property
    def nbytes(self) -> int:
        return (
            self.inbound.nbytes
            + self.outbound.nbytes
            + self.platform.nbytes
            + self.internet.nbytes
            + self.platform_ports.nbytes
            + self.result_allow.nbytes
        )


@dataclass(frozen=True, slots=True)
class ResultNumbering:
    """The verdict of every result code, and where each direction's codes start: what a program's tables point
    into. It is cheap to rebuild from the policy, so a stored program keeps only its tables (``store``)."""

    results: tuple[Verdict, ...]
    #: Per direction (inbound, outbound): the code of its first rule, and of an Allow no stage decided.
    first_result: tuple[int, int]
    unmatched_result: tuple[int, int]

    @classmethod
    def of(cls, policy: NicPolicy) -> ResultNumbering:
        results: list[Verdict] = [
            Verdict(Access.ALLOW, None, None, None),
            Verdict(Access.DENY, SMTP_RULE_NAME, None, None),
        ]
        results += [Verdict(Access.ALLOW, f"{PLATFORM_RULE_PREFIX}{tag}", None, None) for tag in policy.platform_tags]
        first: list[int] = []
        unmatched: list[int] = []
        for direction in (Direction.INBOUND, Direction.OUTBOUND):
            chain = policy.chain(direction)
            unmatched.append(_unmatched_result(chain, results))
            first.append(len(results))
            for stage in chain.stages:
                results += [rule_verdict(stage, r, o) for r, o in zip(stage.rules, stage.outcomes, strict=True)]
        return cls(tuple(results), (first[0], first[1]), (unmatched[0], unmatched[1]))

    @property
    def result_allow(self) -> npt.NDArray[np.uint8]:
        return np.asarray([v.access is Access.ALLOW for v in self.results], dtype=np.uint8)


def build_program(policy: NicPolicy, numbering: ResultNumbering | None = None) -> PolicyProgram:
    """Compile ``policy``; every table is rebuilt (fast enough that one changed rule needs no incremental path)."""
    numbering = numbering or ResultNumbering.of(policy)
    platform_tags = tuple(policy.platform_tags)
    inbound, outbound = (
        _direction_program(policy, direction, platform_tags, numbering.first_result[k], numbering.unmatched_result[k])
        for k, direction in enumerate((Direction.INBOUND, Direction.OUTBOUND))
    )
    return PolicyProgram(
        inbound=inbound,
        outbound=outbound,
        platform_tags=platform_tags,
        platform=AddressTable.build(list(enumerate(policy.platform_tags.values())), 1),
        platform_ports=np.asarray(
            [KMS_PORT if tag == PLATFORM_LKM_TAG else NO_REQUIRED_PORT for tag in platform_tags], dtype=np.int32
        ),
        internet=AddressTable.build([(0, policy.internet if policy.smtp_blocked else AddressSet())], 1),
        smtp_blocked=policy.smtp_blocked,
        results=numbering.results,
        result_allow=numbering.result_allow,
    )


def _unmatched_result(chain: Chain, results: list[Verdict]) -> int:
    """The result code of an Allow no stage decided (``Chain.unmatched_rule_name``)."""
    if chain.unmatched_rule_name is None:
        return NO_NSG_RESULT
    results.append(Verdict(Access.ALLOW, chain.unmatched_rule_name, None, None))
    return len(results) - 1
