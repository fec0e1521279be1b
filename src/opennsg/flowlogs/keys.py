"""Flow tuples straight to fold keys: a bucket's tuple strings parsed as one byte buffer by numpy, no Arrow table.

What replay needs of a tuple is what makes it a flow: its MAC, both addresses, both ports, protocol, direction and
logged decision, as integers (``TupleKeys``). A bucket's tuples are joined into one ASCII buffer, whose runs of
digits and of letters are checked against the shape of a canonical tuple all at once; fields are then read at
fixed offsets, with no Python object per field. The buffer is taken only when every tuple is canonical — IPv4, the
shape ``tuples``' patterns describe without the leading zeros they forgive — and anything else (garbage, IPv6, a
rare spelling) goes the careful way (``tuples.parse_bucket``, then ``keys_of_batch``), which reports each culprit.
Both ways give the same keys (tests/test_flowlogs_keys.py): the careful one stays the definition.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from opennsg.flowlogs.formats import ENCRYPTION_VALUES, LogFormat

if TYPE_CHECKING:
    import pyarrow as pa

    from opennsg.flowlogs.schema import Problem
    from opennsg.flowlogs.tuples import Bucket

#: Address keys at and above this are not IPv4 numbers but ``TEXT_KEY`` + the index of the address's text (IPv6,
#: kept as logged: two spellings of one address are two flows, as two strings were).
TEXT_KEY = 1 << 32
#: ``rest``: source port, destination port (16 bits each), protocol (8), direction and logged decision (a bit each).
PORT_BITS, PROTOCOL_SHIFT, OUTBOUND_BIT, ALLOW_BIT = 16, 32, 48, 49

_FIELDS = {LogFormat.NSG_V1: 8, LogFormat.NSG_V2: 13, LogFormat.VNET: 13}
_TS, _SRC, _DST, _SPORT, _DPORT, _PROTOCOL, _DIRECTION = range(7)
_COUNTER_FIELDS = range(9, 13)
_TIME_DIGITS, _PORT_DIGITS, _COUNTER_DIGITS = 13, 5, 18
_COMMA, _NEWLINE, _DOT, _COLON, _ZERO = (ord(c) for c in ",\n.:0")
#: How the careful path shapes an address holding ':' (then ``ipaddress`` must accept it).
_IPV6_SHAPE = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


@dataclass(frozen=True, slots=True)
class TupleKeys:
    """One bucket's tuples as fold keys, with the texts its codes stand for (codes local to the bucket)."""

    macs: tuple[str, ...]  # normalised MACs
    mac: npt.NDArray[np.int32]  # per tuple, an index into ``macs``
    src: npt.NDArray[np.uint64]  # IPv4 number, or TEXT_KEY + an index into ``texts``
    dst: npt.NDArray[np.uint64]
    rest: npt.NDArray[np.uint64]  # see PORT_BITS
    texts: tuple[str, ...]  # address texts that are not IPv4

    @property
    def num_rows(self) -> int:
        return int(self.rest.size)


def packed(
    src_port: npt.NDArray[np.uint64],
    dst_port: npt.NDArray[np.uint64],
    protocol: npt.NDArray[np.uint64],
    outbound: npt.NDArray[np.bool_],
    allow: npt.NDArray[np.bool_],
) -> npt.NDArray[np.uint64]:
    """Ports, protocol, direction and logged decision in one integer (``PORT_BITS``)."""
    rest: npt.NDArray[np.uint64] = (
        src_port
        | (dst_port << np.uint64(PORT_BITS))
        | (protocol << np.uint64(PROTOCOL_SHIFT))
        | (outbound.astype(np.uint64) << np.uint64(OUTBOUND_BIT))
        | (allow.astype(np.uint64) << np.uint64(ALLOW_BIT))
    )
    return rest


#: glibc's ``mallopt`` parameters, and what the parser wants of them: its temporaries (a few MB per bucket) served
#: from the heap, and freed memory kept for the next bucket instead of being given back to the system each time.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: (A bucket works in about 20 MB: a 16 MB trim threshold still paid the faults; 128 MB cost 20 MB more peak RSS.)
_MMAP_THRESHOLD_BYTES, _TRIM_THRESHOLD_BYTES = 16 << 20, 32 << 20


def retain_freed_memory() -> None:
    """Have glibc keep freed memory for reuse (for a process that parses many buckets: the CLI's replay).

    By default each numpy temporary of more than 128 KiB is mapped fresh and unmapped when freed, so every bucket
    pays its pages' faults again: measured as half of the parse's CPU time. At most ``_TRIM_THRESHOLD_BYTES`` more
    stays mapped after a free (measured: +20 MB peak RSS on a 1 M-tuple replay). Does nothing on other C libraries.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # here: a replay's start-up need not pay for it elsewhere

    try:
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library the interpreter runs on
    except OSError:
        return
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)


def parse_bucket_keys(bucket: Bucket) -> tuple[TupleKeys, list[Problem]]:
    """A bucket's keys and a problem for each tuple left out (no shared state: runs on worker threads)."""
    fast = _canonical_keys(bucket)
    if fast is not None:
        return fast, []
    from opennsg.flowlogs.tuples import parse_bucket

    table, problems = parse_bucket(bucket)
    return keys_of_batch(table), problems


def keys_of_batch(batch: pa.RecordBatch | pa.Table) -> TupleKeys:
    """The keys of reader batches (``schema.SCHEMA``): the careful path's, and replay's of filtered batches."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(batch, pa.Table):
        if not batch.num_rows:
            return _no_keys()
        batch = batch.combine_chunks().to_batches()[0]
    outbound = _flags(pc.equal(batch.column("direction"), "O"))
    allow = _flags(pc.equal(batch.column("decision"), "A"))
    rest = packed(
        np.asarray(batch.column("src_port"), dtype=np.uint64),
        np.asarray(batch.column("dst_port"), dtype=np.uint64),
        np.asarray(batch.column("protocol"), dtype=np.uint64),
        outbound,
        allow,
    )
    column = batch.column("mac")
    labels = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    macs = tuple(labels.dictionary.to_pylist())
    mac = np.asarray(labels.indices, dtype=np.int32) if macs else np.zeros(batch.num_rows, np.int32)
    texts: dict[str, int] = {}
    src = _address_keys(batch.column("src_ip"), texts)
    dst = _address_keys(batch.column("dst_ip"), texts)
    return TupleKeys(macs, mac, src, dst, rest, tuple(texts))


def _flags(column: pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)


def _address_keys(column: pa.Array, texts: dict[str, int]) -> npt.NDArray[np.uint64]:
    """Address keys: IPv4 split into octets by Arrow in bulk, the (rarer) others coded one by one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    strings = column.cast(pa.string()) if not pa.types.is_string(column.type) else column
    other = _flags(pc.match_substring(strings, ":"))
    keys = np.empty(len(strings), dtype=np.uint64)
    v4_rows = np.flatnonzero(~other)
    if v4_rows.size:
        v4 = strings.take(pa.array(v4_rows)) if other.any() else strings
        octets = pc.cast(pc.list_flatten(pc.split_pattern(v4, ".")), pa.uint8()).to_numpy()
        octets = octets.reshape(-1, 4).astype(np.uint64)
        keys[v4_rows] = (octets[:, 0] << 24) | (octets[:, 1] << 16) | (octets[:, 2] << 8) | octets[:, 3]
    if other.any():
        rows = np.flatnonzero(other)
        keys[rows] = [TEXT_KEY + texts.setdefault(text, len(texts))
                      for text in strings.take(pa.array(rows)).to_pylist()]  # fmt: skip
    return keys


def _no_keys() -> TupleKeys:
    empty = np.zeros(0, dtype=np.uint64)
    return TupleKeys((), np.zeros(0, dtype=np.int32), empty, empty, empty, ())


# --- the canonical fast path -------------------------------------------------------------------------------------
#
# Every byte is a digit, a letter (or '_') or itself; runs of digits and runs of letters shrink to one symbol each
# ('d', 'L'), so a canonical VNet tuple reads ``d,d.d.d.d,d.d.d.d,d,d,d,L,L,L,d,d,d,d`` whatever its numbers. A
# bucket is one buffer: its symbols are compared at once with the template of each line's length, and each run's
# length (the distance to the next symbol) is checked against its field's. Fields are then found at fixed symbol
# offsets of their line, with no per-field search.

_DIGIT, _LETTER, _EITHER = ord("d"), ord("L"), ord("?")
_ANY_LENGTH = 1 << 30

_Template = tuple[bytes, tuple[int, ...]]  # symbols, and the longest run each may stand for


def _template(*parts: tuple[str, int]) -> _Template:
    symbols = b"".join(symbol.encode() for symbol, _ in parts)
    longest = tuple(length for symbol, length in parts for _ in symbol)
    return symbols, longest


def _templates(fmt: LogFormat) -> list[_Template]:
    """The shapes a canonical tuple of ``fmt`` has (counters all logged, or all empty as in Begin tuples)."""
    address = [("d", 3), (".", 1), ("d", 3), (".", 1), ("d", 3), (".", 1), ("d", 3)]
    protocol = ("d", 3) if fmt is LogFormat.VNET else ("?", 3)  # NSG: T, U or a number
    head = [("d", _TIME_DIGITS), (",", 1), *address, (",", 1), *address, (",", 1), ("d", _PORT_DIGITS), (",", 1),
            ("d", _PORT_DIGITS), (",", 1), protocol, (",", 1), ("L", 1), (",", 1)]  # fmt: skip
    if fmt is LogFormat.NSG_V1:
        return [_template(*head, ("L", 1), ("\n", 1))]
    tail = [("L", 1), (",", 1), ("L", 1 if fmt is LogFormat.NSG_V2 else _ANY_LENGTH), (",", 1)]
    counters = [("d", _COUNTER_DIGITS), (",", 1)] * 3 + [("d", _COUNTER_DIGITS)]
    return [_template(*head, *tail, *counters, ("\n", 1)), _template(*head, *tail, (",,,", 1), ("\n", 1))]


#: Symbol offsets inside a line: the eight octets, the ports and protocol, then the letters.
_OCTETS = (2, 4, 6, 8, 10, 12, 14, 16)
_PORTS_PROTOCOL = (18, 20, 22)
_DIRECTION_AT, _SEVENTH_AT, _EIGHTH_AT = 24, 26, 28


def _canonical_keys(bucket: Bucket) -> TupleKeys | None:
    """The bucket's keys when every tuple is canonical, else None (the careful path then decides and reports)."""
    count = len(bucket.tuples)
    if count == 0:
        return _no_keys()
    try:
        data = "\n".join(bucket.tuples).encode("ascii") + b"\n"
    except (TypeError, UnicodeEncodeError):  # a tuple that is not a string, or not ASCII
        return None
    text = np.frombuffer(data, dtype=np.uint8)
    digits = text - np.uint8(_ZERO)  # a digit's value; 10 or more (wrapped) for any other byte
    letter = ((text | np.uint8(32)) - np.uint8(ord("a")) < 26) | (text == ord("_"))
    run_class = (digits < 10).view(np.uint8) | (letter.view(np.uint8) << 1)  # 0: a byte of its own; 1, 2: runs
    del letter
    kept = np.empty(text.size, dtype=bool)
    kept[0] = True
    np.not_equal(run_class[1:], run_class[:-1], out=kept[1:])
    kept |= run_class == 0
    at = np.flatnonzero(kept)  # where each symbol's run starts
    del kept
    first = text[at]  # each run's first byte
    kind = run_class[at]
    del run_class
    symbols = np.where(kind == 1, np.uint8(_DIGIT), np.where(kind == 2, np.uint8(_LETTER), first))
    runs = np.empty(at.size, dtype=np.int64)
    runs[:-1] = at[1:] - at[:-1]
    runs[-1] = text.size - at[-1]
    line_ends = np.flatnonzero(symbols == ord("\n"))
    if line_ends.size != count:  # a tuple holding a newline
        return None
    line_starts = np.empty(count, dtype=np.int64)
    line_starts[0] = 0
    line_starts[1:] = line_ends[:-1] + 1
    if not _shaped(bucket.fmt, symbols, runs, line_starts, line_ends - line_starts + 1):
        return None
    if ((kind == 1) & (runs > 1) & (first == _ZERO)).any():  # leading zeros: the careful way
        return None
    fields = _Fields(text, digits, at, runs, line_starts)
    octets = fields.values(_OCTETS, 3)
    ports_protocol = fields.values(_PORTS_PROTOCOL, _PORT_DIGITS)
    if (octets > 255).any() or (ports_protocol[:, :2] > 65535).any():
        return None
    protocol = ports_protocol[:, 2]
    if bucket.fmt is LogFormat.VNET:
        if (protocol > 255).any():
            return None
    else:
        letter = fields.letters(_PORTS_PROTOCOL[2])
        protocol = np.where(letter == ord("T"), 6, np.where(letter == ord("U"), 17, protocol))
        at_protocol = line_starts + _PORTS_PROTOCOL[2]
        lettered = symbols[at_protocol] == _LETTER
        if (
            not np.isin(letter[lettered], np.frombuffer(b"TU", np.uint8)).all()
            or (runs[at_protocol[lettered]] > 1).any()
        ):
            return None  # one letter, T or U ("TCP" is no NSG protocol)
    direction = fields.letters(_DIRECTION_AT)
    seventh = fields.letters(_SEVENTH_AT)
    if not np.isin(direction, np.frombuffer(b"IO", np.uint8)).all():
        return None
    if bucket.fmt is LogFormat.VNET:
        if not np.isin(seventh, np.frombuffer(b"BCED", np.uint8)).all() or not fields.encryption_known(data):
            return None
        allow = seventh != ord("D")
    else:
        if not np.isin(seventh, np.frombuffer(b"AD", np.uint8)).all():
            return None
        state = fields.letters(_EIGHTH_AT) if bucket.fmt is LogFormat.NSG_V2 else np.zeros(0, np.uint8)
        if not np.isin(state, np.frombuffer(b"BCE", np.uint8)).all():
            return None
        allow = seventh == ord("A")
    places = np.array([24, 16, 8, 0] * 2, dtype=np.uint64)
    shifted = octets.astype(np.uint64) << places
    src = np.bitwise_or.reduce(shifted[:, :4], axis=1).astype(np.uint64)
    dst = np.bitwise_or.reduce(shifted[:, 4:], axis=1).astype(np.uint64)
    rest = packed(ports_protocol[:, 0].astype(np.uint64), ports_protocol[:, 1].astype(np.uint64),
                  protocol.astype(np.uint64), direction == ord("O"), allow)  # fmt: skip
    macs: dict[str, int] = {}
    group_macs = np.array([macs.setdefault(g.mac, len(macs)) for g in bucket.groups], dtype=np.int32)
    mac = np.repeat(group_macs, np.asarray(bucket.counts, dtype=np.int64))
    return TupleKeys(tuple(macs), mac, src, dst, rest, ())


def _shaped(
    fmt: LogFormat,
    symbols: npt.NDArray[np.uint8],
    runs: npt.NDArray[np.int64],
    line_starts: npt.NDArray[np.int64],
    line_lengths: npt.NDArray[np.int64],
) -> bool:
    """Whether every line's symbols are a template of ``fmt`` (the one of its length) with runs no longer than the
    template's fields allow."""
    templates = _templates(fmt)
    by_length = np.full(max(len(t) for t, _ in templates) + 2, -1, dtype=np.int64)  # the last: any longer line
    for number, (shape, _) in enumerate(templates):
        by_length[len(shape)] = number
    chosen = by_length[np.minimum(line_lengths, by_length.size - 1)]
    if (chosen < 0).any():
        return False
    offsets = np.cumsum([0] + [len(t) for t, _ in templates[:-1]])
    expected = np.frombuffer(b"".join(t for t, _ in templates), dtype=np.uint8)
    longest = np.array([n for _, lengths in templates for n in lengths], dtype=np.int64)
    if len(templates) == 1 or (chosen == chosen[0]).all():  # one shape: compare line by line in a grid
        shape, lengths = templates[int(chosen[0])]
        grid = symbols.reshape(-1, len(shape))
        want = np.frombuffer(shape, dtype=np.uint8)
        matches = (grid == want) | ((want == _EITHER) & ((grid == _DIGIT) | (grid == _LETTER)))
        return bool(matches.all() and (runs.reshape(-1, len(shape)) <= np.array(lengths)).all())
    template_at = np.repeat(offsets[chosen] - line_starts, line_lengths) + np.arange(symbols.size)
    want = expected[template_at]
    matches = (symbols == want) | ((want == _EITHER) & ((symbols == _DIGIT) | (symbols == _LETTER)))
    return bool(matches.all() and (runs <= longest[template_at]).all())


class _Fields:
    """The runs of a bucket's canonical lines: where each starts in the text and how long it is; a field is the
    run at a fixed symbol offset of its line."""

    def __init__(
        self,
        text: npt.NDArray[np.uint8],
        digits: npt.NDArray[np.uint8],
        at: npt.NDArray[np.int64],
        runs: npt.NDArray[np.int64],
        line_starts: npt.NDArray[np.int64],
    ) -> None:
        self.text = text
        self.digits = digits
        self.at = at
        self.runs = runs
        self.line_starts = line_starts

    def values(self, offsets: tuple[int, ...], longest: int) -> npt.NDArray[np.int64]:
        """The numbers at these symbol offsets (a row per line; runs of at most ``longest`` digits), read from each
        run's last digit back to the separator before it; a letter run there (NSG's T or U) reads as garbage the
        caller replaces."""
        ends = self.at[self.line_starts[:, None] + np.array(offsets) + 1] - 1  # a run ends where the next starts
        digit = self.digits[ends]
        total = digit.astype(np.int32)
        inside = np.ones(ends.shape, dtype=bool)
        for place in range(1, longest):
            digit = self.digits[ends - place]
            inside &= digit < 10
            total += (digit * inside).astype(np.int32) * 10**place
        values: npt.NDArray[np.int64] = total.astype(np.int64)
        return values

    def letters(self, offset: int) -> npt.NDArray[np.uint8]:
        """The first letter of each line's run at ``offset``."""
        letters: npt.NDArray[np.uint8] = self.text[self.at[self.line_starts + offset]]
        return letters

    def encryption_known(self, data: bytes) -> bool:
        """VNet's encryption column: ``NX`` checked in bulk, any other value one by one."""
        index = self.line_starts + _EIGHTH_AT
        starts, lengths = self.at[index], self.runs[index]
        nx = (lengths == 2) & (self.text[starts] == ord("N")) & (self.text[starts + 1] == ord("X"))
        others = np.flatnonzero(~nx)
        spelled = {data[s : s + n] for s, n in zip(starts[others].tolist(), lengths[others].tolist(), strict=True)}
        return all(value.decode() in ENCRYPTION_VALUES for value in spelled)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


__all__ = ["TEXT_KEY", "TupleKeys", "keys_of_batch", "packed", "parse_bucket_keys"]
