"""Sets of IP addresses and ports as merged integer intervals: what every rule field resolves to."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, summarize_address_range

from opennsg.model.pickling import quick_setstate
from opennsg.model.values import IPAddress, IPNetwork

V4_MAX = (1 << 32) - 1
V6_MAX = (1 << 128) - 1
Interval = tuple[int, int]


def merge_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, disjoint, non-adjacent closed intervals covering the same integers."""
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1][1] = hi
        else:
            out.append([lo, hi])
    return tuple((a, b) for a, b in out)


def subtract_intervals(base: tuple[Interval, ...], minus: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """``base`` minus ``minus``; both merged."""
    out: list[Interval] = []
    j = 0
    for lo, hi in base:
        cur = lo
        while j < len(minus) and minus[j][1] < cur:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] <= hi:
            mlo, mhi = minus[k]
            if mlo > cur:
                out.append((cur, mlo - 1))
            cur = max(cur, mhi + 1)
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return tuple(out)


def _contains(intervals: tuple[Interval, ...], value: int) -> bool:
    i = bisect_right(intervals, (value, 1 << 129)) - 1
    return i >= 0 and intervals[i][0] <= value <= intervals[i][1]


@quick_setstate  # read back often from the inputs cache
@dataclass(frozen=True, slots=True)
class AddressSet:
    """A set of IPv4 and IPv6 addresses: merged intervals per family."""

    v4: tuple[Interval, ...] = ()
    v6: tuple[Interval, ...] = ()

    @classmethod
    def any(cls) -> AddressSet:
        return cls(((0, V4_MAX),), ((0, V6_MAX),))

    @classmethod
    def of(cls, networks: Iterable[IPNetwork]) -> AddressSet:
        v4: list[Interval] = []
        v6: list[Interval] = []
        for net in networks:
            span = (int(net.network_address), int(net.broadcast_address))
            (v4 if isinstance(net, IPv4Network) else v6).append(span)
        return cls(merge_intervals(v4), merge_intervals(v6))

    @classmethod
    def of_spans(cls, spans: Iterable[tuple[int, int, int]]) -> AddressSet:
        """From (IP version, first, last) triples (``model.values.prefix_span``)."""
        v4: list[Interval] = []
        v6: list[Interval] = []
        for version, lo, hi in spans:
            (v4 if version == 4 else v6).append((lo, hi))
        return cls(merge_intervals(v4), merge_intervals(v6))

    def union(self, other: AddressSet) -> AddressSet:
        return AddressSet(merge_intervals(self.v4 + other.v4), merge_intervals(self.v6 + other.v6))

    @classmethod
    def union_all(cls, sets: Iterable[AddressSet]) -> AddressSet:
        """One merge over every set (a fold of ``union`` is quadratic for augmented rules and big tags)."""
        parts = [part for part in sets if not part.empty]
        if len(parts) == 1:
            return parts[0]  # already merged: a rule naming one big tag shares its set instead of copying it
        return cls(
            merge_intervals(span for part in parts for span in part.v4),
            merge_intervals(span for part in parts for span in part.v6),
        )

    def difference(self, other: AddressSet) -> AddressSet:
        return AddressSet(subtract_intervals(self.v4, other.v4), subtract_intervals(self.v6, other.v6))

    def contains(self, address: IPAddress) -> bool:
        value = int(address)
        return _contains(self.v4 if isinstance(address, IPv4Address) else self.v6, value)

    @property
    def empty(self) -> bool:
        return not self.v4 and not self.v6

    def networks(self) -> list[IPNetwork]:
        """The set as the fewest CIDRs (for effective rules' expanded prefixes)."""
        out: list[IPNetwork] = []
        for lo, hi in self.v4:
            out.extend(summarize_address_range(IPv4Address(lo), IPv4Address(hi)))
        for lo, hi in self.v6:
            out.extend(summarize_address_range(IPv6Address(lo), IPv6Address(hi)))
        return out

    @property
    def prefix_count(self) -> int:
        return len(self.v4) + len(self.v6)


@quick_setstate  # read back often from the inputs cache
@dataclass(frozen=True, slots=True)
class PortSet:
    """A set of ports 0–65535 as merged intervals."""

    intervals: tuple[Interval, ...]

    @classmethod
    def any(cls) -> PortSet:
        return cls(((0, 65535),))

    @classmethod
    def of(cls, ranges: Iterable[Interval]) -> PortSet:
        return cls(merge_intervals(ranges))

    def contains(self, port: int) -> bool:
        return _contains(self.intervals, port)


__all__ = ["AddressSet", "Interval", "PortSet", "merge_intervals", "subtract_intervals"]
