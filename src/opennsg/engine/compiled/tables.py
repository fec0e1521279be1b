"""Lookup tables a compiled classifier is made of: per-field elementary intervals with rule bitsets.

Every rule of a direction's NSG chain gets one bit (each NSG starts on a 64-bit word boundary). For each
field the value space is cut into elementary intervals on which every rule's match is constant; intervals
with identical bitsets share one class row. A flow's matching rules are the AND of its field rows, and the
lowest set bit inside an NSG's words is that NSG's first match, because bits follow priority order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opennsg.engine.addresses import V6_MAX, AddressSet, Interval
from opennsg.engine.compiled.columns import LOW64, halves

U64 = npt.NDArray[np.uint64]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

V4_END = 1 << 32
PORT_END = 1 << 16
PROTOCOL_COUNT = 256


def words_for(bits: int) -> int:
    """uint64 words needed for ``bits`` bits (at least one, so every row is addressable)."""
    return max(1, (bits + 63) // 64)


def _rows_from_spans(n_elements: int, first: I64, stop: I64, column: I64, words: int) -> U64:
    """Bitset rows of ``n_elements`` elementary intervals where ``column[i]`` covers elements ``[first[i], stop[i])``.

    Spans of one column never overlap or touch (its intervals are merged), so XOR toggles at both ends,
    accumulated down the rows, set exactly the covered elements.
    """
    toggles = np.zeros((n_elements + 1, words), dtype=np.uint64)
    word = (column >> 6).astype(np.intp)
    mask = np.left_shift(np.uint64(1), (column & 63).astype(np.uint64))
    np.bitwise_xor.at(toggles, (first.astype(np.intp), word), mask)
    np.bitwise_xor.at(toggles, (stop.astype(np.intp), word), mask)
    rows: U64 = np.bitwise_xor.accumulate(toggles[:-1], axis=0)
    return rows


@dataclass(frozen=True, slots=True)
class _Columns:
    """Distinct interval sets of one field (rules sharing a tag share a set), and which set each bit uses."""

    sets: list[tuple[Interval, ...]]
    bits: I64
    set_of_bit: I64

    @classmethod
    def of(cls, spans: Sequence[tuple[int, tuple[Interval, ...]]]) -> _Columns:
        by_id: dict[int, int] = {}
        by_value: dict[tuple[Interval, ...], int] = {}
        sets: list[tuple[Interval, ...]] = []
        set_of_bit: list[int] = []
        for _, intervals in spans:
            k = by_id.get(id(intervals))
            if k is None:
                k = by_value.setdefault(intervals, len(sets))
                if k == len(sets):
                    sets.append(intervals)
                by_id[id(intervals)] = k
            set_of_bit.append(k)
        return cls(sets, np.asarray([b for b, _ in spans], dtype=np.int64), np.asarray(set_of_bit, dtype=np.int64))

    def flat(self, pick: Callable[[tuple[Interval, ...]], Sequence[Interval]]) -> tuple[U64, U64, I64]:
        """Every interval of every set as (lo, hi, set index) arrays; ``pick`` selects part of each set."""
        parts = [np.asarray(pick(s), dtype=np.uint64).reshape(-1, 2) for s in self.sets]
        column = np.repeat(np.arange(len(parts), dtype=np.int64), [p.shape[0] for p in parts])
        joined = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.uint64)
        return joined[:, 0].copy(), joined[:, 1].copy(), column

    def expand(self, set_rows: U64, words: int) -> U64:
        """Rows over sets → rows over rule bits (each bit takes its set's column)."""
        n_sets = len(self.sets)
        members = np.unpackbits(set_rows.view(np.uint8), axis=1, bitorder="little")[:, :n_sets].astype(bool)
        out = np.zeros((set_rows.shape[0], words * 64), dtype=bool)
        out[:, self.bits] = members[:, self.set_of_bit]
        packed: U64 = np.packbits(out, axis=1, bitorder="little").view("<u8").astype(np.uint64)
        return packed


def _numeric_elements(lo: U64, hi: U64, column: I64, end: int, words: int) -> tuple[U64, U64]:
    """Elementary interval starts and their rows for values in ``[0, end)``, ``end`` ≤ 2**32 (ports, IPv4)."""
    stop = hi + np.uint64(1)
    starts = np.unique(np.concatenate((np.zeros(1, dtype=np.uint64), lo, stop[stop < np.uint64(end)])))
    first = np.searchsorted(starts, lo).astype(np.int64)
    last = np.searchsorted(starts, stop).astype(np.int64)
    return starts, _rows_from_spans(starts.size, first, last, column, words)


def _v6_elements(sets: Sequence[Sequence[Interval]], words: int) -> tuple[list[int], U64]:
    """As ``_numeric_elements`` for 128-bit values: ranks are computed in Python, rows in numpy."""
    los = [lo for s in sets for lo, _ in s]
    his = [hi for s in sets for _, hi in s]
    column = np.repeat(np.arange(len(sets), dtype=np.int64), [len(s) for s in sets])
    points = sorted({0, *los, *(hi + 1 for hi in his if hi < V6_MAX)})
    rank = {value: i for i, value in enumerate(points)}
    first = np.asarray([rank[lo] for lo in los], dtype=np.int64)
    stop = np.asarray([rank.get(hi + 1, len(points)) for hi in his], dtype=np.int64)
    return points, _rows_from_spans(len(points), first, stop, column, words)


def _classes(rows: U64) -> tuple[U64, I32]:
    """Distinct rows and each element's row index, by a hash table over the rows' bytes (pyarrow, no sort)."""
    import pyarrow as pa  # here: a process deciding with stored programs only (a replay) never needs pyarrow
    import pyarrow.compute as pc

    contiguous = np.ascontiguousarray(rows)
    as_binary = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(8 * rows.shape[1]), rows.shape[0], [None, pa.py_buffer(contiguous)]
    )
    inverse = pc.dictionary_encode(as_binary).indices.to_numpy().astype(np.int32)
    # Classes are numbered in order of first appearance: an element opens a class when it exceeds every earlier one.
    opens = np.ones(inverse.size, dtype=bool)
    opens[1:] = inverse[1:] > np.maximum.accumulate(inverse)[:-1]
    return np.ascontiguousarray(contiguous[opens]), inverse


def _merge_runs(starts: U64, classes: I32) -> tuple[U64, I32]:
    """Join neighbouring elementary intervals of the same class, so searches are shorter."""
    keep = np.ones(classes.size, dtype=bool)
    keep[1:] = classes[1:] != classes[:-1]
    return np.ascontiguousarray(starts[keep]), np.ascontiguousarray(classes[keep])


def row_to_int(row: U64) -> int:
    """A bitset row as a Python int (bit i of the row is bit i of the int)."""
    return int.from_bytes(row.astype("<u8").tobytes(), "little")


def v4_block_index(starts: U64) -> I32:
    """For each 16-bit block ``h`` (and one past the end), the interval holding ``h << 16``."""
    blocks = np.arange(V4_END // PORT_END + 1, dtype=np.uint64) << np.uint64(16)
    index: I32 = (np.searchsorted(starts, blocks, side="right") - 1).astype(np.int32)
    return index


@dataclass(frozen=True, slots=True)
class AddressTable:
    """One address field: IPv4 and IPv6 elementary intervals mapped to shared class rows."""

    v4_starts: U64
    v4_classes: I32
    v6_high: U64
    v6_low: U64
    v6_classes: I32
    rows: U64
    #: ``v4_index[h]``: the interval holding address ``h << 16``; an IPv4 search only spans
    #: ``[v4_index[h], v4_index[h + 1]]`` for its top 16 bits ``h`` (two or three steps, not fifteen).
    v4_index: I32

    @classmethod
    def build(cls, sets: Sequence[tuple[int, AddressSet]], words: int) -> AddressTable:
        v4_columns = _Columns.of([(b, s.v4) for b, s in sets])
        v6_columns = _Columns.of([(b, s.v6) for b, s in sets])
        lo, hi, column = v4_columns.flat(lambda s: s)
        v4_starts, v4_set_rows = _numeric_elements(lo, hi, column, V4_END, words_for(len(v4_columns.sets)))
        v6_points, v6_set_rows = _v6_elements(v6_columns.sets, words_for(len(v6_columns.sets)))
        v4_rows, v4_inverse = _classes(v4_set_rows)
        v6_rows, v6_inverse = _classes(v6_set_rows)
        rows, inverse = _classes(np.concatenate((v4_columns.expand(v4_rows, words), v6_columns.expand(v6_rows, words))))
        v4_starts, v4_classes = _merge_runs(v4_starts, inverse[v4_inverse])
        v6_all = inverse[v4_rows.shape[0] + v6_inverse]
        keep = np.ones(v6_all.size, dtype=bool)
        keep[1:] = v6_all[1:] != v6_all[:-1]
        v6_kept = [v for v, k in zip(v6_points, keep.tolist(), strict=True) if k]
        return cls(
            v4_starts,
            v4_classes,
            np.asarray([halves(v)[0] for v in v6_kept], dtype=np.uint64),
            np.asarray([halves(v)[1] for v in v6_kept], dtype=np.uint64),
            np.ascontiguousarray(v6_all[keep]),
            rows,
            v4_block_index(v4_starts),
        )

    def as_tuple(self) -> tuple[U64, I32, U64, U64, I32, U64, I32]:
        """The arrays in the order the kernels take them."""
        return (self.v4_starts, self.v4_classes, self.v6_high, self.v6_low, self.v6_classes, self.rows, self.v4_index)

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

    rows: U64
    ignored: int
    unknown: int
    #: The class of every port 0–65535: a port lookup is one load.
    direct: I32

    @classmethod
    def build(cls, sets: Sequence[tuple[int, Sequence[Interval]]], words: int) -> PortTable:
        columns = _Columns.of([(b, tuple(s)) for b, s in sets])
        lo, hi, column = columns.flat(lambda s: s)
        starts, set_rows = _numeric_elements(lo, hi, column, PORT_END, words_for(len(columns.sets)))
        unique_set_rows, element_class = _classes(set_rows)
        every = np.full((1, words), np.uint64(LOW64), dtype=np.uint64)
        unknown = mask_row([bit for bit, intervals in sets if tuple(intervals) == ((0, PORT_END - 1),)], words)
        rows, inverse = _classes(np.concatenate((columns.expand(unique_set_rows, words), every, unknown[None, :])))
        starts, classes = _merge_runs(starts, inverse[element_class])
        direct = classes[np.searchsorted(starts, np.arange(PORT_END, dtype=np.uint64), side="right") - 1]
        return cls(rows, int(inverse[-2]), int(inverse[-1]), direct)

    def as_tuple(self) -> tuple[I32, U64, int, int]:
        """The table in the order the kernels take it."""
        return (self.direct, self.rows, self.ignored, self.unknown)

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.direct.nbytes

    def python_lookup(self) -> tuple[list[int], int]:
        """The bitset of every port 0–65535 (an index, not a bisect), and that of flows without a port."""
        ints = [row_to_int(r) for r in self.rows]
        return [ints[c] for c in self.direct.tolist()], ints[self.unknown]


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
