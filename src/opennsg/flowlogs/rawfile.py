"""A flow log file read as bytes: its ``flowTuples`` lists cut out for numpy, only the rest decoded by ``json``.

Nearly all of a blob is its tuple strings; decoding them makes a Python ``str`` each, only for the parser to join
them into bytes again. Here each ``"flowTuples":[...]`` list is located in the file's bytes and checked to be a
plain list of strings (``"..."`` separated by single commas: no escape, no control character, no blank), so its
bytes are exactly the strings ``json`` would decode; the file with each list replaced by its number (the
skeleton: records, MACs, rules) is decoded by ``records.iter_records``, so each record's ``flowTuples`` is
``[number]``. Only a file with nothing unusual takes this way: not ASCII, a backslash anywhere, a list of anything
but plain strings, a ``flowTuples`` spelt other than ``"flowTuples":[``, or any problem decoding the skeleton, and
``read_raw`` answers None: the file is then read the careful way, which reports what is wrong where it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from opennsg.flowlogs.problems import ReadStats
from opennsg.flowlogs.records import iter_records
from opennsg.model.files import InputError, read_bytes

#: A bigger file is read the careful way, a chunk at a time: its bytes are held whole here (about as much again
#: as an hourly blob of a busy NIC, ~73 MB for 1 M tuples).
MAX_RAW_BYTES = 256 << 20
_KEY = b'"flowTuples":'
_QUOTE, _COMMA, _OPEN, _SPACE = ord('"'), ord(","), ord("["), 0x20


@dataclass(frozen=True, slots=True)
class RawFile:
    """A file's bytes, its tuple lists (``starts``/``ends``: each list's strings, from its first string's first
    byte to its last string's last one; ``counts``: how many strings) and its skeleton's records, in file order."""

    data: bytes
    starts: list[int]
    ends: list[int]
    counts: list[int]
    records: list[tuple[str, Any]]

    def strings(self, span: int) -> list[str]:
        """The tuple strings of one list, as ``json`` decodes them (the careful parse needs them)."""
        if not self.counts[span]:
            return []
        return self.data[self.starts[span] : self.ends[span]].decode("ascii").split('","')


def read_raw(path: Path) -> RawFile | None:
    """The file as a ``RawFile``, or None when it must be read the careful way (see the module's docstring)."""
    try:
        if path.stat().st_size > MAX_RAW_BYTES:
            return None
        data = read_bytes(path)
    except (OSError, InputError):
        return None
    if not data.isascii() or b"\\" in data:
        return None
    text = np.frombuffer(data, dtype=np.uint8)
    spans = _lists(data, text)
    if spans is None:
        return None
    starts, ends, counts = spans
    pieces, at = [], 0
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        inner = start - 1 if counts[index] else start  # the list's content: from after "[" to before "]"
        pieces += [data[at:inner], str(index).encode()]
        at = end + 1 if counts[index] else end
    pieces.append(data[at:])
    skeleton = b"".join(pieces)
    if skeleton.count(b"flowTuples") != len(starts):  # a list spelt otherwise, or the word elsewhere
        return None
    if np.count_nonzero(np.frombuffer(skeleton, np.uint8) < _SPACE) != np.count_nonzero(text < _SPACE):
        return None  # a control character inside a tuple string: JSON forbids it there
    scratch = ReadStats()
    records = list(iter_records(path, scratch, text=skeleton.decode("ascii")))
    if scratch != ReadStats():  # a record that does not decode, a truncated file: positions are the file's
        return None
    return RawFile(data, starts, ends, counts, records)


def _lists(data: bytes, text: npt.NDArray[np.uint8]) -> tuple[list[int], list[int], list[int]] | None:
    """Each ``"flowTuples":[...]`` list's strings (start, end, count), or None if one is not a plain list of
    strings: its content empty, or its first and last bytes quotes and, between its strings, exactly one comma."""
    brackets: list[int] = []
    closes: list[int] = []
    for bracket in np.flatnonzero(text == _OPEN).tolist():
        if bracket < len(_KEY) or data[bracket - len(_KEY) : bracket] != _KEY:
            continue
        close = data.find(b"]", bracket)
        if close < 0 or (closes and bracket < closes[-1]):  # lists do not overlap
            return None
        if close > bracket + 1 and (close - bracket < 3 or data[bracket + 1] != _QUOTE or data[close - 1] != _QUOTE):
            return None
        brackets.append(bracket)
        closes.append(close)
    if not brackets:
        return [], [], []
    bracket_at, close_at = np.array(brackets), np.array(closes)
    quotes = np.flatnonzero(text == _QUOTE)
    first = np.searchsorted(quotes, bracket_at + 1)
    in_list = np.searchsorted(quotes, close_at) - first  # from the list's first quote to its last
    if (in_list % 2).any():
        return None
    total = int(in_list.sum())
    before = np.cumsum(in_list) - in_list
    listed = quotes[np.arange(total) + np.repeat(first - before, in_list)]
    opening, closing = listed[0::2], listed[1::2]  # each string's quotes, list after list
    strings = in_list // 2
    followed = np.ones(closing.size, dtype=bool)  # by another string of the same list
    followed[(np.cumsum(strings) - 1)[strings > 0]] = False
    gap = closing[followed]
    if not ((opening[1:][followed[:-1]] == gap + 2).all() and (text[gap + 1] == _COMMA).all()):
        return None
    empty = strings == 0
    starts = np.where(empty, bracket_at + 1, bracket_at + 2)
    ends = np.where(empty, close_at, close_at - 1)
    return starts.tolist(), ends.tolist(), strings.tolist()


__all__ = ["MAX_RAW_BYTES", "RawFile", "read_raw"]
