"""The flow space as atoms: per dimension, the classes of values that no set in play tells apart.

A dimension (IP protocol numbers 0–255, ports 0–65535, IPv4 or IPv6 addresses) is cut at every boundary of every
set the analysis will meet (rule fields, tags, the NICs' addresses, intents). Values whose membership in all those
sets is identical form one *class*; a set is then a bitmask over classes (a Python int), and a box — one set per
field — is five ints. Intersection is ``&``, difference ``& ~``, emptiness ``== 0``: first-match subtraction over
boxes costs a few integer operations per rule, however many prefixes a tag has. Counts are exact: each class knows
how many values it holds.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from opennsg.engine.addresses import V4_MAX, V6_MAX, Interval, merge_intervals

PROTOCOL_MAX = 255
PORT_MAX = 65535
IntervalSet = tuple[Interval, ...]
#: Masks with at most this many classes are read bit by bit; larger ones as numpy arrays.
_VECTOR_FROM = 48


def bits(mask: int) -> Iterator[int]:
    """Indices of the set bits of ``mask``, lowest first."""
    text = bin(mask)[:1:-1]
    start = text.find("1")
    while start != -1:
        yield start
        start = text.find("1", start + 1)


@dataclass(slots=True)
class Partition:
    """Atoms of one dimension ``[0, top]``, built from every set that will be asked about (``register`` first).

    ``freeze`` computes the classes; after it, ``mask`` answers only for sets whose boundaries were registered
    (others raise, since the answer would be wrong, not just slow).
    """

    top: int
    _sets: dict[IntervalSet, None] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)
    element_class: list[int] = field(default_factory=list)
    class_intervals: list[list[Interval]] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    full: int = 0
    _masks: dict[IntervalSet, int] = field(default_factory=dict)
    _boundaries: set[int] = field(default_factory=set)
    #: Identity caches (registered sets, masks by object): they hold the objects, so ids stay unique.
    _seen: dict[int, IntervalSet] = field(default_factory=dict)
    _by_id: dict[int, tuple[IntervalSet, int]] = field(default_factory=dict)
    #: Vector forms: the class of each elementary interval, and the classes' weights when they fit in int64.
    _element_class: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _weights: npt.NDArray[np.int64] | None = None

    def register(self, intervals: IntervalSet) -> None:
        if id(intervals) in self._seen:
            return  # the same object again (resolved tags are shared between rules): skip hashing it
        self._seen[id(intervals)] = intervals
        if intervals and intervals != ((0, self.top),):
            self._sets[intervals] = None

    def freeze(self) -> None:
        bounds = {0}
        for intervals in self._sets:
            for lo, hi in intervals:
                bounds.add(lo)
                if hi < self.top:
                    bounds.add(hi + 1)
        self.starts = sorted(bounds)
        self._boundaries = bounds
        index = {b: i for i, b in enumerate(self.starts)}
        delta = [0] * (len(self.starts) + 1)
        for k, intervals in enumerate(self._sets):
            bit = 1 << k
            for lo, hi in intervals:
                delta[index[lo]] += bit
                delta[index[hi + 1] if hi < self.top else len(self.starts)] -= bit
        classes: dict[int, int] = {}
        signature = 0
        element_class: list[int] = []
        class_intervals: list[list[Interval]] = []
        weights: list[int] = []
        ends = [*self.starts[1:], self.top + 1]
        for i, start in enumerate(self.starts):
            signature += delta[i]
            c = classes.get(signature)
            if c is None:
                c = classes[signature] = len(class_intervals)
                class_intervals.append([])
                weights.append(0)
            element_class.append(c)
            class_intervals[c].append((start, ends[i] - 1))
            weights[c] += ends[i] - start
        self.element_class = element_class
        self.class_intervals = class_intervals
        self.weights = weights
        self.full = (1 << len(weights)) - 1
        self._masks = {}
        self._by_id = {}
        self._element_class = np.asarray(element_class, dtype=np.int64)
        self._weights = np.asarray(weights, dtype=np.int64) if self.top <= V4_MAX else None

    @property
    def size(self) -> int:
        return len(self.weights)

    def mask(self, intervals: IntervalSet) -> int:
        """The classes making up ``intervals`` (registered before ``freeze``)."""
        if not intervals:
            return 0
        if intervals == ((0, self.top),):
            return self.full
        known = self._by_id.get(id(intervals))
        if known is not None and known[0] is intervals:
            return known[1]
        cached = self._masks.get(intervals)
        if cached is not None:
            self._by_id[id(intervals)] = (intervals, cached)
            return cached
        classes: set[int] = set()
        for lo, hi in intervals:
            if lo not in self._boundaries or (hi < self.top and hi + 1 not in self._boundaries):
                raise KeyError(f"interval {lo}-{hi} was not registered with this partition")
            i = bisect_right(self.starts, lo) - 1
            j = bisect_right(self.starts, hi)
            classes.update(self.element_class[i:j])
        mask = sum(1 << c for c in classes)
        self._masks[intervals] = mask
        self._by_id[id(intervals)] = (intervals, mask)
        return mask

    def _classes(self, mask: int) -> npt.NDArray[np.bool_]:
        """``mask`` as one boolean per class."""
        size = len(self.weights)
        raw = np.frombuffer(mask.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
        return np.unpackbits(raw, count=size, bitorder="little").astype(bool)

    def count(self, mask: int) -> int:
        """How many values ``mask`` holds (exact; IPv6 weights exceed int64, so they are summed as Python ints)."""
        if mask.bit_count() <= _VECTOR_FROM:
            weights = self.weights
            return sum(weights[c] for c in bits(mask))
        classes = self._classes(mask)
        if self._weights is not None:
            return int(self._weights[classes].sum())
        weights = self.weights
        return sum(weights[int(c)] for c in np.flatnonzero(classes))

    def intervals(self, mask: int) -> IntervalSet:
        """``mask`` as merged intervals: runs of consecutive elementary intervals whose class is in it."""
        if mask.bit_count() <= _VECTOR_FROM:
            return merge_intervals(span for c in bits(mask) for span in self.class_intervals[c])
        inside = self._classes(mask)[self._element_class].astype(np.int8)
        edges = np.diff(inside, prepend=np.int8(0), append=np.int8(0))
        first = np.flatnonzero(edges == 1)
        after = np.flatnonzero(edges == -1)
        starts, top = self.starts, self.top
        return tuple(
            (starts[int(i)], starts[int(j)] - 1 if j < len(starts) else top) for i, j in zip(first, after, strict=True)
        )

    def lowest(self, mask: int) -> int:
        """The smallest value in ``mask`` (classes are numbered in order of their first value)."""
        return self.first_interval(mask)[0]

    def first_interval(self, mask: int) -> Interval:
        """The lowest elementary interval of ``mask``."""
        return self.class_intervals[(mask & -mask).bit_length() - 1][0]

    def pick(self, mask: int, preferred: Iterable[int]) -> int:
        """A value in ``mask``: the first of ``preferred`` it holds, else its smallest."""
        for value in preferred:
            i = bisect_right(self.starts, value) - 1
            if i >= 0 and mask >> self.element_class[i] & 1:
                return value
        return self.lowest(mask)

    def value_mask(self, value: int) -> int:
        """The class holding ``value``."""
        return 1 << self.element_class[bisect_right(self.starts, value) - 1]


#: A box: (IP family, protocols, local addresses, local ports, remote addresses, remote ports), masks per field.
Box = tuple[int, int, int, int, int, int]
PROTOCOL, LOCAL, LOCAL_PORT, REMOTE, REMOTE_PORT = 1, 2, 3, 4, 5


@dataclass(slots=True)
class Space:
    """The four partitions of a run: protocols, ports (local and remote alike), IPv4 and IPv6 addresses."""

    protocols: Partition = field(default_factory=lambda: Partition(PROTOCOL_MAX))
    ports: Partition = field(default_factory=lambda: Partition(PORT_MAX))
    v4: Partition = field(default_factory=lambda: Partition(V4_MAX))
    v6: Partition = field(default_factory=lambda: Partition(V6_MAX))

    def addresses(self, family: int) -> Partition:
        return self.v4 if family == 4 else self.v6

    def freeze(self) -> None:
        for partition in (self.protocols, self.ports, self.v4, self.v6):
            partition.freeze()

    def partition(self, family: int, dim: int) -> Partition:
        if dim == PROTOCOL:
            return self.protocols
        if dim in (LOCAL_PORT, REMOTE_PORT):
            return self.ports
        return self.addresses(family)

    def count(self, box: Box) -> int:
        family = box[0]
        addresses = self.addresses(family)
        return (
            self.protocols.count(box[1])
            * addresses.count(box[2])
            * self.ports.count(box[3])
            * addresses.count(box[4])
            * self.ports.count(box[5])
        )


def intersect(a: Box, b: Box) -> Box | None:
    """``a ∩ b``, or None when empty (boxes of different families never meet)."""
    if a[0] != b[0]:
        return None
    p = a[1] & b[1]
    if not p:
        return None
    la = a[2] & b[2]
    if not la:
        return None
    lp = a[3] & b[3]
    if not lp:
        return None
    ra = a[4] & b[4]
    if not ra:
        return None
    rp = a[5] & b[5]
    if not rp:
        return None
    return (a[0], p, la, lp, ra, rp)


def subtract(a: Box, b: Box) -> list[Box]:
    """``a \\ b`` as disjoint boxes (at most five): field by field, the part of ``a`` outside ``b`` in that field
    and inside ``b`` in the fields before it."""
    if intersect(a, b) is None:
        return [a]
    out: list[Box] = []
    current = list(a)
    for dim in (PROTOCOL, REMOTE_PORT, REMOTE, LOCAL_PORT, LOCAL):
        outside = current[dim] & ~b[dim]
        if outside:
            piece = current.copy()
            piece[dim] = outside
            out.append((piece[0], piece[1], piece[2], piece[3], piece[4], piece[5]))
            current[dim] &= b[dim]
    return out


def subtract_all(boxes: Iterable[Box], minus: Iterable[Box]) -> list[Box]:
    """Every box of ``boxes`` minus every box of ``minus``."""
    rest = list(boxes)
    for b in minus:
        rest = [piece for a in rest for piece in subtract(a, b)]
        if not rest:
            break
    return rest


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Fewer boxes for the same disjoint union: two boxes equal in all fields but one become one box."""
    changed = True
    current = list(boxes)
    while changed and len(current) > 1:
        changed = False
        for dim in (REMOTE_PORT, LOCAL_PORT, REMOTE, LOCAL, PROTOCOL):
            groups: dict[tuple[int, ...], int] = {}
            merged: list[list[int]] = []
            for box in current:
                key = box[:dim] + box[dim + 1 :]
                at = groups.get(key)
                if at is None:
                    groups[key] = len(merged)
                    merged.append(list(box))
                else:
                    merged[at][dim] |= box[dim]
                    changed = True
            current = [(m[0], m[1], m[2], m[3], m[4], m[5]) for m in merged]
    return current
