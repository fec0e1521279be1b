"""Flow tuples straight to fold keys: a bucket's tuple strings parsed as one byte buffer by numpy, no Arrow table.

What replay needs of a tuple is what makes it a flow: its MAC, both addresses, both ports, protocol, direction and
logged decision, as integers (``TupleKeys``). A bucket's tuples are joined into one ASCII buffer, whose field ends
(commas, newlines), dots and letters are found and counted against the shape of a canonical tuple all at once;
numbers are then read back from their fields' ends, with no Python object per field. The buffer is taken only when
every tuple is canonical — IPv4, the shape ``tuples``' patterns describe without the leading zeros they forgive —
and anything else (garbage, IPv6, a rare spelling) goes the careful way (``tuples.parse_bucket``, then
``keys_of_batch``), which reports each culprit. Both ways give the same keys (tests/test_flowlogs_keys.py): the
careful one stays the definition.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from opennsg.flowlogs.buckets import RawBucket
from opennsg.flowlogs.formats import ENCRYPTION_VALUES, LogFormat

if TYPE_CHECKING:
    import pyarrow as pa

    from opennsg.flowlogs.buckets import Bucket
    from opennsg.flowlogs.problems import Problem

#: Address keys at and above this are not IPv4 numbers but ``TEXT_KEY`` + the index of the address's text (IPv6,
#: kept as logged: two spellings of one address are two flows, as two strings were).
TEXT_KEY = 1 << 32
#: ``rest``: source port, destination port (16 bits each), protocol (8), direction and logged decision (a bit each).
PORT_BITS, PROTOCOL_SHIFT, OUTBOUND_BIT, ALLOW_BIT = 16, 32, 48, 49


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


def parse_bucket_keys(bucket: Bucket | RawBucket) -> tuple[TupleKeys, list[Problem]]:
    """A bucket's keys and a problem for each tuple left out (no shared state: runs on worker threads)."""
    fast = _raw_canonical_keys(bucket) if isinstance(bucket, RawBucket) else _canonical_keys(bucket)
    if fast is not None:
        return fast, []
    from opennsg.flowlogs.tuples import parse_bucket

    table, problems = parse_bucket(bucket.with_strings() if isinstance(bucket, RawBucket) else bucket)
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
# A bucket is one buffer of lines. Its commas, dots and line ends are where the pieces of a line end (a field, or an
# address's octet): a canonical line has exactly as many of them as its format's pieces (``_pieces``), so they
# reshape into a grid of piece ends (kept a row a piece, so that each piece's values are contiguous: strided columns
# cost 3x), and each piece starts after its left neighbour's end. The dots and line ends are counted over the whole
# buffer and must be where the grid has them, so every other end is a comma. What the pieces hold is checked by
# counting: the bytes that are neither digits nor ends are exactly as many as the bytes of the letter fields, whose
# values are checked, so every other piece is digits alone, of the lengths its field allows. Numbers are then read
# from a word of eight bytes holding their piece (``_numbers``): a gather a number, no Python object per field; one
# of two digits or more must not start with a 0 (the careful path decides how such a number reads). A raw bucket's
# lines (``RawBucket.buffer``) each end with ``","``: the quotes and that comma are three ends, the two after the
# string's own end holding nothing.

_TIME_DIGITS, _PORT_DIGITS, _COUNTER_DIGITS, _OCTET_DIGITS = 13, 5, 18, 3
_COMMA, _NEWLINE, _DOT, _ZERO, _QUOTE = (ord(c) for c in ',\n.0"')
_FIELDS = {LogFormat.NSG_V1: 8, LogFormat.NSG_V2: 13, LogFormat.VNET: 13}
#: Pieces of a line: the time, four octets of each address, then a piece a field.
_TIME, _OCTETS, _DOTS = 0, slice(1, 9), [1, 2, 3, 5, 6, 7]
_SPORT, _DPORT, _PROTOCOL, _DIRECTION, _SEVENTH, _EIGHTH = range(9, 15)
_COUNTERS = slice(15, 19)
_DOTS_A_LINE = 6


def _letter_set(letters: bytes) -> npt.NDArray[np.bool_]:
    member = np.zeros(256, dtype=bool)
    member[np.frombuffer(letters, np.uint8)] = True
    return member


_DIRECTIONS, _VNET_STATES, _DECISIONS, _NSG_STATES, _NSG_PROTOCOLS = (
    _letter_set(b"IO"), _letter_set(b"BCED"), _letter_set(b"AD"), _letter_set(b"BCE"), _letter_set(b"TU")
)  # fmt: skip


def _pieces(fmt: LogFormat, raw: bool) -> int:
    """The ends in a canonical line of ``fmt``: its fields', its six dots, and a raw line's ``,"`` after its end."""
    return _FIELDS[fmt] + _DOTS_A_LINE + (2 if raw else 0)


def _lengths_allowed(fmt: LogFormat, raw: bool) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Each piece's shortest length in a canonical line of ``fmt``, and how many more bytes it may hold (counters:
    all four logged, or all four empty, which is checked apart; a raw line's two last pieces: nothing)."""
    shortest = [1] * 14
    longest = [_TIME_DIGITS] + [_OCTET_DIGITS] * 8 + [_PORT_DIGITS, _PORT_DIGITS, 3, 1, 1]
    if fmt is not LogFormat.NSG_V1:
        shortest += [1] + [0] * 4
        longest += [max(map(len, ENCRYPTION_VALUES)) if fmt is LogFormat.VNET else 1] + [_COUNTER_DIGITS] * 4
    if raw:
        shortest += [0, 0]
        longest += [0, 0]
    return np.array(shortest, np.int64)[:, None], (np.array(longest) - shortest).astype(np.uint64)[:, None]


#: What a buffer of lines starts and ends with: ``_PAD`` bytes that are no line, so that a word of eight bytes
#: around any byte of the lines is in the buffer.
_PAD = 8
_PAD_TEXT = "\0" * _PAD


def _canonical_keys(bucket: Bucket) -> TupleKeys | None:
    """The bucket's keys when every tuple is canonical, else None (the careful path then decides and reports)."""
    count = len(bucket.tuples)
    if count == 0:
        return _no_keys()
    try:
        data = (_PAD_TEXT + "\n".join(bucket.tuples) + "\n" + _PAD_TEXT).encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a tuple that is not a string, or not ASCII
        return None
    keys = _keys_of_lines(data, count, bucket.fmt, raw=False)
    return None if keys is None else _with_macs(bucket, *keys)


def _raw_canonical_keys(bucket: RawBucket) -> TupleKeys | None:
    """``_canonical_keys`` of a ``RawBucket``, read from its lists' bytes (no string made)."""
    count = len(bucket)
    if count == 0:
        return _no_keys()
    keys = _keys_of_lines(bucket.buffer(_PAD_TEXT.encode()), count, bucket.fmt, raw=True)
    return None if keys is None else _with_macs(bucket, *keys)


def _with_macs(
    bucket: Bucket | RawBucket, src: npt.NDArray[np.uint64], dst: npt.NDArray[np.uint64], rest: npt.NDArray[np.uint64]
) -> TupleKeys:
    """The keys with each tuple's MAC, its group's."""
    macs: dict[str, int] = {}
    group_macs = np.array([macs.setdefault(g.mac, len(macs)) for g in bucket.groups], dtype=np.int32)
    mac = np.repeat(group_macs, np.asarray(bucket.counts, dtype=np.int64))
    return TupleKeys(tuple(macs), mac, src, dst, rest, ())


def _keys_of_lines(
    data: bytes, count: int, fmt: LogFormat, raw: bool
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]] | None:
    """The addresses and ``rest`` of the ``count`` lines of ``data`` between its ``_PAD`` first and last bytes, each
    ended by a newline (raw: by ``","``), when all are canonical."""
    width, line_end = _pieces(fmt, raw), _QUOTE if raw else _NEWLINE
    padded = np.frombuffer(data, dtype=np.uint8)
    text = padded[_PAD:-_PAD]
    dot = text == _DOT
    at_line_end = text == line_end
    line_ends = [width - 3, width - 1] if raw else [width - 1]  # a raw line's closing and next opening quotes
    if np.count_nonzero(dot) != _DOTS_A_LINE * count or np.count_nonzero(at_line_end) != len(line_ends) * count:
        return None
    end = text == _COMMA
    end |= dot
    end |= at_line_end
    del dot, at_line_end
    flat_ends = np.flatnonzero(end)
    if flat_ends.size != count * width:
        return None
    others = text.size - flat_ends.size - np.count_nonzero((text - np.uint8(_ZERO)) < 10)  # neither digits nor ends
    del end
    ends = flat_ends.reshape(count, width).T.copy()  # a row a piece: each piece's values contiguous
    del flat_ends
    # The dots and line ends counted above, every one in its place: every other end is a comma.
    if not ((text[ends[_DOTS]] == _DOT).all() and (text[ends[line_ends]] == line_end).all()):
        return None
    lengths = np.empty_like(ends)  # a piece starts after the end before it (the first, after the line before)
    np.subtract(ends[1:], ends[:-1], out=lengths[1:])
    lengths[0, 0] = ends[0, 0] + 1
    np.subtract(ends[0, 1:], ends[-1, :-1], out=lengths[0, 1:])
    lengths -= 1
    shortest, spread = _lengths_allowed(fmt, raw)
    if ((lengths - shortest).view(np.uint64) > spread).any():
        return None  # shorter than the shortest wraps to a large unsigned number
    direction, seventh = text[ends[_DIRECTION] - 1], text[ends[_SEVENTH] - 1]  # one letter each
    letters = 2 * count  # the bytes of the letter fields checked below: the only non-digits the buffer may hold
    if fmt is LogFormat.VNET:
        eighth_ok = _encryption_known(text, ends[_EIGHTH] - lengths[_EIGHTH], lengths[_EIGHTH])
        letters += int(lengths[_EIGHTH].sum())
        letter_ok = _VNET_STATES[seventh].all()
    else:
        protocol_letter = text[ends[_PROTOCOL] - 1]
        lettered = _NSG_PROTOCOLS[protocol_letter] & (lengths[_PROTOCOL] == 1)
        letters += int(np.count_nonzero(lettered))
        letter_ok = _DECISIONS[seventh].all()
        eighth_ok = fmt is LogFormat.NSG_V1 or bool(_NSG_STATES[text[ends[_EIGHTH] - 1]].all())
        letters += 0 if fmt is LogFormat.NSG_V1 else count
    if not (eighth_ok and letter_ok and _DIRECTIONS[direction].all()) or others != letters:
        return None  # so every other field is digits alone ("TCP" is no NSG protocol)
    if fmt is not LogFormat.NSG_V1:
        empty = lengths[_COUNTERS] == 0
        if not (empty.all(axis=0) | ~empty.any(axis=0)).all():
            return None
    long_digits = [_TIME] if fmt is LogFormat.NSG_V1 else [_TIME, *range(_COUNTERS.start, _COUNTERS.stop)]
    if ((text[ends[long_digits] - lengths[long_digits]] == _ZERO) & (lengths[long_digits] > 1)).any():
        return None  # a number of 2 digits or more starting with 0: the careful path decides how it reads
    numbers = _numbers(padded, ends[_NUMBERS], lengths[_NUMBERS])
    if (numbers < np.take(_SMALLEST, lengths[_NUMBERS])).any():
        return None  # the same, of the numbers read (NSG's letter protocols have one byte: no smallest)
    octets, ports_protocol = numbers[: _OCTETS.stop - 1], numbers[_OCTETS.stop - 1 :]
    if (octets > 255).any() or (ports_protocol[:2] > 65535).any():
        return None
    protocol = ports_protocol[2]
    if fmt is LogFormat.VNET:
        if (protocol > 255).any():
            return None
        allow = seventh != ord("D")
    else:
        protocol = np.where(protocol_letter == ord("T"), 6, np.where(protocol_letter == ord("U"), 17, protocol))
        allow = seventh == ord("A")
    eight, sixteen, twenty_four = np.uint64(8), np.uint64(16), np.uint64(24)
    src = (octets[0] << twenty_four) | (octets[1] << sixteen) | (octets[2] << eight) | octets[3]
    dst = (octets[4] << twenty_four) | (octets[5] << sixteen) | (octets[6] << eight) | octets[7]
    rest = packed(ports_protocol[0], ports_protocol[1], protocol.astype(np.uint64, copy=False), direction == ord("O"),
                  allow)  # fmt: skip
    return src, dst, rest


#: The pieces read as numbers: the octets, both ports and the protocol (one gather for all: ``_numbers``).
_NUMBERS = slice(_OCTETS.start, _PROTOCOL + 1)
#: The smallest number of each length (0 up to one digit): a number below that of its length began with a 0.
_SMALLEST = np.array([0, 0, *(10 ** np.arange(1, 8))], dtype=np.uint64)
#: The bytes of a piece of each length in a word ending at its end (little-endian: the word's top bytes).
_KEPT = np.array([(-1 << (8 * (8 - n))) & (2**64 - 1) for n in range(9)], dtype=np.uint64)
_LOW_NIBBLES, _BYTE_PAIRS, _HALF_WORDS = (
    np.uint64(m) for m in (0x0F0F0F0F0F0F0F0F, 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF)
)


def _numbers(
    padded: npt.NDArray[np.uint8], ends: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]
) -> npt.NDArray[np.uint64]:
    """The numbers of the pieces ending at ``ends`` (``lengths`` digits, 1 to 5) of the text between ``padded``'s
    ``_PAD`` bytes, a gather each: of the words of eight bytes starting at every fourth byte (an unaligned view,
    which the gather copies whole: a quarter of a view of every byte's word), the one holding the piece (for up to
    5 digits, one of them does), shifted to end at the piece's end, its bytes before the piece cleared, and its
    digits combined in pairs, fours and eights by three multiplications (a letter there, NSG's T or U, reads as
    garbage the caller replaces)."""
    words = np.ndarray(shape=((padded.size - 8) // 4 + 1,), dtype="<u8", buffer=padded, strides=(4,))
    at = (ends + (_PAD - lengths)) >> 2  # the word starting at or before the piece's first byte, by 3 at most
    value = np.take(words, at)
    value <<= (np.uint64(8) - (ends + _PAD - (at << 2)).astype(np.uint64)) << np.uint64(3)  # the piece's end on top
    value &= np.take(_KEPT, lengths)
    value &= _LOW_NIBBLES
    value *= np.uint64(10 * 256 + 1)
    value >>= np.uint64(8)
    value &= _BYTE_PAIRS
    value *= np.uint64(100 * 65536 + 1)
    value >>= np.uint64(16)
    value &= _HALF_WORDS
    value *= np.uint64(10000 * 2**32 + 1)
    value >>= np.uint64(32)
    return value


def _encryption_known(
    text: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> bool:
    """VNet's encryption column: ``NX`` checked in bulk, any other value one by one."""
    nx = (lengths == 2) & (text[starts] == ord("N")) & (text[starts + 1] == ord("X"))
    others = np.flatnonzero(~nx)
    spelled = {
        text[s : s + n].tobytes() for s, n in zip(starts[others].tolist(), lengths[others].tolist(), strict=True)
    }
    return all(value.decode() in ENCRYPTION_VALUES for value in spelled)


__all__ = ["TEXT_KEY", "TupleKeys", "keys_of_batch", "packed", "parse_bucket_keys"]
