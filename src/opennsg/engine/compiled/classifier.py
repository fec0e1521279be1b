"""``CompiledPolicy``: one NIC's policy as tables, deciding single flows in Python and batches in a kernel."""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from opennsg.engine.chain import Outcome
from opennsg.engine.compiled.columns import FlowColumns
from opennsg.engine.compiled.kernels import Backend, addresses_in, classify_program
from opennsg.engine.compiled.program import (
    FIRST_PLATFORM_RESULT,
    SMTP_RESULT,
    DirectionProgram,
    PolicyProgram,
    build_program,
)
from opennsg.engine.compiled.tables import AddressTable, row_to_int
from opennsg.engine.flow import Flow
from opennsg.engine.ir import NicPolicy, Verdict
from opennsg.model.enums import IANA_TCP, PORTED_PROTOCOLS, Access, Direction
from opennsg.model.policy import SMTP_PORT
from opennsg.model.values import IPAddress

if TYPE_CHECKING:
    from opennsg.engine.compiled.store import ProgramStore


class _AddressLookup:
    """An ``AddressTable`` as Python lists: the bitset of the interval holding an address, via ``bisect``."""

    __slots__ = ("table", "v4_bits", "v4_starts", "v6_bits", "v6_starts")

    def __init__(self, table: AddressTable) -> None:
        self.table = table
        self.v4_starts, self.v4_bits, self.v6_starts, self.v6_bits = table.python_lookup()

    @classmethod
    def of(cls, table: AddressTable) -> _AddressLookup:
        """Shared per table object (tables are reused across compiles when their field did not change)."""
        with _lookups_lock:
            found = _lookups.get(id(table))
            if found is not None and found.table is table:
                return found
        lookup = cls(table)
        with _lookups_lock:
            _lookups[id(table)] = lookup
            while len(_lookups) > LOOKUP_MEMO_SIZE:
                _lookups.pop(next(iter(_lookups)))
        return lookup

    def bits(self, address: IPAddress) -> int:
        value = int(address)
        if isinstance(address, IPv4Address):
            return self.v4_bits[bisect_right(self.v4_starts, value) - 1]
        return self.v6_bits[bisect_right(self.v6_starts, value) - 1]


#: Python-side lookups kept for reuse (each holds its table, so ids cannot be recycled while cached).
LOOKUP_MEMO_SIZE = 32
_lookups: dict[int, _AddressLookup] = {}
_lookups_lock = threading.Lock()


class _DirectionLookup:
    """A ``DirectionProgram`` as Python ints: the single-flow path does a few bisects and big-int ANDs."""

    __slots__ = (
        "destination",
        "destination_port_direct",
        "destination_port_unknown",
        "exempt_masks",
        "names_platform_exemption",
        "outcomes",
        "protocol",
        "source",
        "source_port_direct",
        "source_port_unknown",
        "stage_masks",
        "unmatched",
        "verdicts",
    )

    def __init__(self, d: DirectionProgram, results: tuple[Verdict, ...]) -> None:
        protocol_ints = [row_to_int(r) for r in d.protocol_rows]
        self.protocol = [protocol_ints[c] for c in d.protocol_classes]
        self.source = _AddressLookup.of(d.source)
        self.destination = _AddressLookup.of(d.destination)
        self.source_port_direct, self.source_port_unknown = d.source_ports.python_lookup()
        self.destination_port_direct, self.destination_port_unknown = d.destination_ports.python_lookup()
        self.exempt_masks = [row_to_int(r) for r in d.exempt_rows]
        self.stage_masks = [
            ((1 << (int(hi) * 64)) - 1) ^ ((1 << (int(lo) * 64)) - 1)
            for lo, hi in zip(d.stage_bounds[:-1], d.stage_bounds[1:], strict=True)
        ]
        self.verdicts: dict[int, Verdict] = {
            bit: results[code] for bit, code in enumerate(d.bit_result.tolist()) if code >= 0
        }
        self.outcomes: dict[int, Outcome] = {bit: Outcome(int(d.bit_outcome[bit])) for bit in self.verdicts}
        self.unmatched = results[d.unmatched_result]
        self.names_platform_exemption = d.names_platform_exemption


@dataclass(frozen=True, slots=True)
class BatchVerdicts:
    """Per flow: ``allow`` (1 Allow, 0 Deny) and ``result``, an index into ``CompiledPolicy.results``."""

    allow: npt.NDArray[np.uint8]
    result: npt.NDArray[np.int32]


class CompiledPolicy:
    """Decides flows exactly as ``evaluate.decide`` does (property-tested), from precomputed tables."""

    def __init__(self, policy: NicPolicy, program: PolicyProgram | None = None) -> None:
        self.policy = policy
        #: ``program`` when given must be ``build_program(policy)``'s equal (``store`` reads it from disk).
        self.program: PolicyProgram = program if program is not None else build_program(policy)
        #: The verdict behind every result code (access, rule name, NSG id, association, rule).
        self.results: tuple[Verdict, ...] = self.program.results
        self._platform_ports = [int(p) for p in self.program.platform_ports]

    # The single-flow path's Python structures are built on its first use: a batch never needs them.
    @cached_property
    def _inbound(self) -> _DirectionLookup:
        return _DirectionLookup(self.program.inbound, self.results)

    @cached_property
    def _outbound(self) -> _DirectionLookup:
        return _DirectionLookup(self.program.outbound, self.results)

    @cached_property
    def _platform(self) -> _AddressLookup:
        return _AddressLookup(self.program.platform)

    @cached_property
    def _internet(self) -> _AddressLookup:
        return _AddressLookup(self.program.internet)

    def _exempt_tag(self, flow: Flow) -> int:
        """1 + index of the platform tag exempting this outbound flow, or 0 (semantics §0 "Platform exemption")."""
        tags = self._platform.bits(flow.remote_ip)
        for t, need in enumerate(self._platform_ports):
            if (tags >> t) & 1 and (need < 0 or (flow.protocol == IANA_TCP and flow.remote_port == need)):
                return t + 1
        return 0

    def decide(self, flow: Flow) -> Verdict:
        """The verdict of one flow (no trace), in plain Python."""
        inbound = flow.direction is Direction.INBOUND
        d = self._inbound if inbound else self._outbound
        if inbound:
            src, src_port, dst, dst_port = flow.remote_ip, flow.remote_port, flow.local_ip, flow.local_port
        else:
            src, src_port, dst, dst_port = flow.local_ip, flow.local_port, flow.remote_ip, flow.remote_port
        if flow.protocol in PORTED_PROTOCOLS:
            matches = (d.destination_port_unknown if dst_port is None else d.destination_port_direct[dst_port]) & (
                d.source_port_unknown if src_port is None else d.source_port_direct[src_port]
            )
            matches &= d.protocol[flow.protocol]
        else:
            matches = d.protocol[flow.protocol]
        if matches:  # address lookups inlined: this is the hot path
            table = d.source
            if isinstance(src, IPv4Address):
                matches &= table.v4_bits[bisect_right(table.v4_starts, int(src)) - 1]
            else:
                matches &= table.v6_bits[bisect_right(table.v6_starts, int(src)) - 1]
        if matches:
            table = d.destination
            if isinstance(dst, IPv4Address):
                matches &= table.v4_bits[bisect_right(table.v4_starts, int(dst)) - 1]
            else:
                matches &= table.v6_bits[bisect_right(table.v6_starts, int(dst)) - 1]
        exempt = 0 if inbound or not self._platform_ports else self._exempt_tag(flow)
        if exempt:
            matches &= d.exempt_masks[exempt]
        candidate: Verdict | None = None
        decided: Verdict | None = None
        for mask in d.stage_masks:
            hit = matches & mask
            if hit:
                bit = (hit & -hit).bit_length() - 1
                outcome = d.outcomes[bit]
                if outcome is Outcome.CANDIDATE:
                    candidate = d.verdicts[bit]
                elif outcome.ends_chain:
                    decided = d.verdicts[bit]
                    break
        if decided is not None:
            if decided.access is Access.DENY:
                return decided
            result = decided
        elif candidate is not None:
            result = candidate
        elif exempt and d.names_platform_exemption:
            result = self.results[FIRST_PLATFORM_RESULT + exempt - 1]
        else:
            result = d.unmatched
        if (
            self.program.smtp_blocked
            and not inbound
            and flow.protocol == IANA_TCP
            and flow.remote_port == SMTP_PORT
            and self._internet.bits(flow.remote_ip)
        ):
            return self.results[SMTP_RESULT]
        return result

    def classify(self, columns: FlowColumns, *, backend: Backend = "auto", threads: int | None = None) -> BatchVerdicts:
        """Decide every flow of ``columns``; ``backend`` forces numba or numpy, ``threads`` caps numba's."""
        result = classify_program(self.program, columns, backend=backend, threads=threads)
        return BatchVerdicts(self.program.result_allow[result], result)

    @cached_property
    def _own_addresses(self) -> AddressTable:
        return AddressTable.build([(0, self.policy.local_addresses)], 1)

    def owns(self, columns: FlowColumns) -> npt.NDArray[np.bool_]:
        """Per flow: its local IP is one of the NIC's private IPs (IP flow verify refuses a flow whose is not)."""
        return addresses_in(self._own_addresses, columns.local_v6, columns.local_high, columns.local_low)

    @property
    def nbytes(self) -> int:
        """Approximate memory of the compiled form: the numpy tables, and what the single-flow path's Python
        lists and ints take once built, estimated from the tables' shapes (without building them)."""
        python_side = 0
        for d in (self.program.inbound, self.program.outbound):
            int_bytes = 28 + 8 * d.words  # one Python int per bitset row
            entries = 256 + 2 * (1 << 16)  # protocols, and both port fields' direct lists
            for table in (d.source, d.destination):
                entries += 2 * (table.v4_starts.size + table.v6_high.size)
                python_side += (table.v4_starts.size + table.v6_high.size) * 36 + table.rows.shape[0] * int_bytes
            python_side += 8 * entries + int_bytes * (
                d.protocol_rows.shape[0] + d.source_ports.rows.shape[0] + d.destination_ports.rows.shape[0]
            )
        return self.program.nbytes + python_side


def compile_policy(policy: NicPolicy, store: ProgramStore | None = None) -> CompiledPolicy:
    """Compile one NIC's policy (tags, ASGs and augmented rules are already intervals in the IR); with ``store``,
    its tables are read from disk when an earlier process stored them (the same tables, ``store``)."""
    return CompiledPolicy(policy, store.program(policy) if store is not None else None)
