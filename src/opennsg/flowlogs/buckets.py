"""Tuples waiting to be parsed in bulk, gathered by format from many ``flowTuples`` lists: as strings (``Bucket``)
or as the places of their lists in a file's bytes (``RawBucket``), each list with the attributes it shares
(``Group``). No pyarrow here: a replay of compact files never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opennsg.flowlogs.formats import LogFormat
from opennsg.flowlogs.rawfile import RawFile

_BETWEEN = b'","'


@dataclass(frozen=True, slots=True)
class Group:
    """The tuples of one ``flowTuples`` list share these attributes; ``position`` locates the list."""

    file: str
    position: str
    fmt: LogFormat
    resource_id: str
    acl_id: str
    mac: str
    rule: str


class Bucket:
    """Tuples of one format waiting to be parsed in bulk, with the group each one came from."""

    def __init__(self, fmt: LogFormat) -> None:
        self.fmt = fmt
        self.tuples: list[str] = []
        self.groups: list[Group] = []
        self.counts: list[int] = []

    def add(self, group: Group, tuples: list[str]) -> None:
        self.groups.append(group)
        self.counts.append(len(tuples))
        self.tuples.extend(tuples)

    def __len__(self) -> int:
        return len(self.tuples)


class RawBucket:
    """Tuples of one format from one ``RawFile``, waiting to be parsed in bulk: where its lists are, not strings."""

    def __init__(self, fmt: LogFormat, raw: RawFile) -> None:
        self.fmt = fmt
        self.raw = raw
        self.groups: list[Group] = []
        self.counts: list[int] = []
        self.spans: list[int] = []  # each group's list, by number
        self.size = 0

    def add(self, group: Group, tuples: list[Any]) -> None:
        """A group's tuples: its list's number, as the skeleton has it (``[number]``)."""
        (span,) = tuples
        self.groups.append(group)
        self.counts.append(self.raw.counts[span])
        self.spans.append(span)
        self.size += self.raw.counts[span]

    def __len__(self) -> int:
        return self.size

    def buffer(self, pad: bytes = b"") -> bytes:
        """The strings of every list, each followed by ``","`` (the bytes between two strings of a list), between
        two ``pad``: one copy of them."""
        data = memoryview(self.raw.data)
        starts, ends, counts = self.raw.starts, self.raw.ends, self.raw.counts
        parts: list[bytes | memoryview] = [pad]
        for span in self.spans:
            if counts[span]:
                parts += (data[starts[span] : ends[span]], _BETWEEN)
        parts.append(pad)
        return b"".join(parts)

    def with_strings(self) -> Bucket:
        """The same tuples as a ``Bucket`` of strings, for the careful parse."""
        bucket = Bucket(self.fmt)
        for group, span in zip(self.groups, self.spans, strict=True):
            bucket.add(group, self.raw.strings(span))
        return bucket


__all__ = ["Bucket", "Group", "RawBucket"]
