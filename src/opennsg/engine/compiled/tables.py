"""Lookup tables a compiled classifier is made of: per-field elementary intervals with rule bitsets.

Every rule of a direction's NSG chain gets one bit (each NSG starts on a 64-bit word boundary). For each
field the value space is cut into elementary intervals on which every rule's match is constant; intervals
with identical bitsets share one class row. A flow's matching rules are the AND of its field rows, and the
lowest set bit inside an NSG's words is that NSG's first match, because bits follow priority order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opennsg.engine.addresses import V6_MAX, AddressSet, Interval

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

V4_END = 1 << 32
PORT_END = 1 << 16
PROTOCOL_COUNT = 256
LOW64 = (1 << 64) - 1


def words_for(bits: int) -> int:
    """uint64 words needed for ``bits`` bits (at least one, so every row is addressable)."""
    return max(1, (bits + 63) // 64)


def _rows_from_spans(n_elements: int, first: I64, stop: I64, bit: I64, words: int) -> U64:
    """Bitset rows of ``n_elements`` elementary intervals where bit ``bit[i]`` covers elements ``[first[i], stop[i])``.

    Spans of one bit never overlap or touch (its intervals are merged), so XOR toggles at both ends,
    accumulated down the rows, set exactly the covered elements.
    """
    toggles = np.zeros((n_elements + 1, words), dtype=np.uint64)
    word = (bit >> 6).astype(np.intp)
    mask = np.left_shift(np.uint64(1), (bit & 63).astype(np.uint64))
    np.bitwise_xor.at(toggles, (first.astype(np.intp), word), mask)
    np.bitwise_xor.at(toggles, (stop.astype(np.intp), word), mask)
    rows: U64 = np.bitwise_xor.accumulate(toggles[:-1], axis=0)
    return rows


def _flatten(spans: Sequence[tuple[int, Sequence[Interval]]]) -> tuple[list[int], list[int], I64]:
    los: list[int] = []
    his: list[int] = []
    bits: list[int] = []
    for bit, intervals in spans:
        for lo, hi in intervals:
            los.append(lo)
            his.append(hi)
            bits.append(bit)
    return los, his, np.asarray(bits, dtype=np.int64)


def _numeric_elements(spans: Sequence[tuple[int, Sequence[Interval]]], end: int, words: int) -> tuple[U64, U64]:
    """Elementary interval starts and their rows for values in ``[0, end)``, ``end`` ≤ 2**32 (ports, IPv4)."""
    los, his, bits = _flatten(spans)
    lo = np.asarray(los, dtype=np.uint64)
    stop = np.asarray(his, dtype=np.uint64) + np.uint64(1)
    starts = np.unique(np.concatenate((np.zeros(1, dtype=np.uint64), lo, stop[stop < np.uint64(end)])))
    first = np.searchsorted(starts, lo).astype(np.int64)
    last = np.searchsorted(starts, stop).astype(np.int64)
    return starts, _rows_from_spans(starts.size, first, last, bits, words)


def _v6_elements(spans: Sequence[tuple[int, Sequence[Interval]]], words: int) -> tuple[list[int], U64]:
    """As ``_numeric_elements`` for 128-bit values: ranks are computed in Python, rows in numpy."""
    los, his, bits = _flatten(spans)
    points = sorted({0, *los, *(hi + 1 for hi in his if hi < V6_MAX)})
    rank = {value: i for i, value in enumerate(points)}
    first = np.asarray([rank[lo] for lo in los], dtype=np.int64)
    stop = np.asarray([rank.get(hi + 1, len(points)) for hi in his], dtype=np.int64)
    return points, _rows_from_spans(len(points), first, stop, bits, words)


def _classes(rows: U64) -> tuple[U64, I32]:
    """Distinct rows and each element's row index."""
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    return np.ascontiguousarray(unique), inverse.reshape(-1).astype(np.int32)


def _merge_runs(starts: U64, classes: I32) -> tuple[U64, I32]:
    """Join neighbouring elementary intervals of the same class, so searches are shorter."""
    keep = np.ones(classes.size, dtype=bool)
    keep[1:] = classes[1:] != classes[:-1]
    return np.ascontiguousarray(starts[keep]), np.ascontiguousarray(classes[keep])


def row_to_int(row: U64) -> int:
    """A bitset row as a Python int (bit i of the row is bit i of the int)."""
    return int.from_bytes(row.astype("<u8").tobytes(), "little")


@dataclass(frozen=True, slots=True)
class AddressTable:
    """One address field: IPv4 and IPv6 elementary intervals mapped to shared class rows."""

    v4_starts: U64
    v4_classes: I32
    v6_high: U64
    v6_low: U64
    v6_classes: I32
    rows: U64

    @classmethod
    def build(cls, sets: Sequence[tuple[int, AddressSet]], words: int) -> AddressTable:
        v4_starts, v4_rows = _numeric_elements([(b, s.v4) for b, s in sets], V4_END, words)
        v6_points, v6_rows = _v6_elements([(b, s.v6) for b, s in sets], words)
        rows, inverse = _classes(np.concatenate((v4_rows, v6_rows)))
        v4_starts, v4_classes = _merge_runs(v4_starts, inverse[: v4_rows.shape[0]])
        v6_all = inverse[v4_rows.shape[0] :]
        keep = np.ones(v6_all.size, dtype=bool)
        keep[1:] = v6_all[1:] != v6_all[:-1]
        v6_kept = [v for v, k in zip(v6_points, keep.tolist(), strict=True) if k]
        return cls(
            v4_starts,
            v4_classes,
            np.asarray([v >> 64 for v in v6_kept], dtype=np.uint64),
            np.asarray([v & LOW64 for v in v6_kept], dtype=np.uint64),
            np.ascontiguousarray(v6_all[keep]),
            rows,
        )

    def as_tuple(self) -> tuple[U64, I32, U64, U64, I32, U64]:
        """The arrays in the order the kernels take them."""
        return (self.v4_starts, self.v4_classes, self.v6_high, self.v6_low, self.v6_classes, self.rows)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.as_tuple())

    def python_lookup(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """IPv4 starts, IPv4 bitsets, IPv6 starts, IPv6 bitsets as Python lists (for ``bisect``)."""
        ints = [row_to_int(r) for r in self.rows]
        v6_starts = [(int(h) << 64) | int(lo) for h, lo in zip(self.v6_high, self.v6_low, strict=True)]
        return (
            [int(v) for v in self.v4_starts],
            [ints[c] for c in self.v4_classes],
            v6_starts,
            [ints[c] for c in self.v6_classes],
        )


@dataclass(frozen=True, slots=True)
class PortTable:
    """One port field, with two extra classes.

    ``ignored`` (every bit) serves flows whose protocol has no ports; ``unknown`` serves TCP/UDP flows without a
    port (``*``), which stand for every port and so match only rules whose ports cover 0–65535.
    """

    starts: U64
    classes: I32
    rows: U64
    ignored: int
    unknown: int

    @classmethod
    def build(cls, sets: Sequence[tuple[int, Sequence[Interval]]], words: int) -> PortTable:
        starts, element_rows = _numeric_elements(sets, PORT_END, words)
        every = np.full((1, words), np.uint64(LOW64), dtype=np.uint64)
        unknown = mask_row([bit for bit, intervals in sets if tuple(intervals) == ((0, PORT_END - 1),)], words)
        rows, inverse = _classes(np.concatenate((element_rows, every, unknown[None, :])))
        starts, classes = _merge_runs(starts, inverse[:-2])
        return cls(starts, classes, rows, int(inverse[-2]), int(inverse[-1]))

    def as_tuple(self) -> tuple[U64, I32, U64, int, int]:
        """The table in the order the kernels take it."""
        return (self.starts, self.classes, self.rows, self.ignored, self.unknown)

    @property
    def nbytes(self) -> int:
        return self.starts.nbytes + self.classes.nbytes + self.rows.nbytes

    def python_lookup(self) -> tuple[list[int], list[int], int, int]:
        """Starts, bitsets per interval, and the bitsets of port-less flows and of flows without a port."""
        ints = [row_to_int(r) for r in self.rows]
        return [int(v) for v in self.starts], [ints[c] for c in self.classes], ints[self.ignored], ints[self.unknown]


def protocol_rows(sets: Sequence[tuple[int, frozenset[int] | None]], words: int) -> tuple[I32, U64]:
    """Class of each protocol number 0–255 and the class rows; ``None`` means every protocol."""
    matrix = np.zeros((PROTOCOL_COUNT, words * 64), dtype=bool)
    for bit, protocols in sets:
        if protocols is None:
            matrix[:, bit] = True
        else:
            matrix[sorted(protocols), bit] = True
    packed = np.packbits(matrix, axis=1, bitorder="little").view("<u8").astype(np.uint64)
    rows, classes = _classes(packed)
    return classes, rows


def mask_row(bits: Sequence[int], words: int) -> U64:
    """A single bitset row with the given bits set."""
    row = np.zeros(words, dtype=np.uint64)
    for bit in bits:
        row[bit >> 6] |= np.uint64(1 << (bit & 63))
    return row
