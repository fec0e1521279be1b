"""Compiled programs kept on disk, so a later process deciding flows at an unchanged NIC pays no compile.

A program's tables depend only on what ``program_digest`` hashes: per direction the chain's shape (stages, rule
outcomes, the unmatched rule's name) and each rule's protocols, addresses, ports and platform tag; the platform
tags' addresses, the SMTP block and the Internet's addresses under it; and a fingerprint of the code that builds
and reads tables (every source file of ``opennsg.engine``, numpy's version, ``FORMAT``). Equal digests give equal
tables, so a hit is as good as a compile; anything else is a miss. The verdicts the result codes stand for are
rebuilt from the policy (``ResultNumbering``), never stored.

Files are written whole under a temporary name and renamed into place (readers see the old file or the new one;
concurrent writers of one digest write the same bytes), and carry a checksum: a truncated, corrupted or foreign
file is a miss, removed and rewritten. Only programs that compile slower than they read back are stored (a small
policy compiles faster than its file reads: ``reading_seconds``), and the directory is kept under ``max_bytes``,
least recently used first. ``OPENNSG_NO_CACHE=1`` (or ``verify --flows --no-cache``) turns it off; it lives in
``cache_dir()/compiled``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from opennsg.engine.addresses import AddressSet
from opennsg.engine.compiled.program import DirectionProgram, PolicyProgram, ResultNumbering, build_program
from opennsg.engine.compiled.tables import AddressTable, PortTable
from opennsg.engine.ir import NicPolicy
from opennsg.model.cachefiles import CHECKSUM_BYTES, CacheFiles, cache_disabled
from opennsg.model.enums import Direction
from opennsg.model.files import cache_dir

#: Bumped when the stored layout changes (the source fingerprint changes with any engine edit anyway).
FORMAT = 2
MAGIC = b"ONSGPRG2"
SUFFIX = ".program"
#: The directory's bound; the least recently used programs (by modification time, refreshed on a hit) go first.
MAX_BYTES = 512 * 1024 * 1024


_fingerprint_lock = threading.Lock()
_fingerprint: bytes | None = None


def code_fingerprint() -> bytes:
    """A digest of every source file of ``opennsg.engine`` (the tables' builders and readers), numpy's version and
    ``FORMAT``: a stored program from other code is never read."""
    global _fingerprint
    with _fingerprint_lock:
        if _fingerprint is None:
            digest = hashlib.blake2b(f"{FORMAT}:{np.__version__}".encode(), digest_size=32)
            engine_root = Path(__file__).resolve().parent.parent
            for source in sorted(engine_root.rglob("*.py")):
                digest.update(str(source.relative_to(engine_root)).encode() + b"\0" + source.read_bytes() + b"\0")
            _fingerprint = digest.digest()
        return _fingerprint


def program_digest(policy: NicPolicy) -> str:
    """The canonical content hash of everything ``build_program`` reads from ``policy`` (see the module), computed
    once per policy and code fingerprint (``NicPolicy.digest``)."""
    return policy.digest(f"program:{code_fingerprint().hex()}", _program_digest)


def _program_digest(policy: NicPolicy) -> str:
    memo: dict[int, str] = {}

    def intervals(value: tuple[tuple[int, int], ...]) -> str:
        found = memo.get(id(value))
        if found is None:
            found = memo[id(value)] = hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()
        return found

    def addresses(value: AddressSet) -> tuple[str, str]:
        return intervals(value.v4), intervals(value.v6)

    def direction(d: Direction) -> Hashable:
        chain = policy.chain(d)
        stages = tuple(
            (
                tuple(int(o) for o in stage.outcomes),
                tuple(
                    (
                        None if r.protocols is None else tuple(sorted(r.protocols)),
                        addresses(r.source),
                        intervals(r.source_ports.intervals),
                        addresses(r.destination),
                        intervals(r.destination_ports.intervals),
                        r.platform_tag,
                    )
                    for r in stage.rules
                ),
            )
            for stage in chain.stages
        )
        return (chain.unmatched_rule_name, chain.names_platform_exemption, stages)

    content = (
        direction(Direction.INBOUND),
        direction(Direction.OUTBOUND),
        tuple((tag, addresses(value)) for tag, value in policy.platform_tags.items()),
        policy.smtp_blocked,
        addresses(policy.internet) if policy.smtp_blocked else None,
    )
    digest = hashlib.blake2b(code_fingerprint(), digest_size=20)
    digest.update(repr(content).encode())
    return digest.hexdigest()


# --- tables to arrays and back -------------------------------------------------------------------------------

_ADDRESS_PARTS = ("v4_starts", "v4_classes", "v6_high", "v6_low", "v6_classes", "rows", "v4_index")
_DIRECTION_ARRAYS = ("stage_bounds", "bit_outcome", "bit_result", "protocol_classes", "protocol_rows", "exempt_rows",
                     "stage_summary_masks")  # fmt: skip


def _address_arrays(prefix: str, table: AddressTable) -> dict[str, npt.NDArray[np.generic]]:
    return {f"{prefix}.{part}": getattr(table, part) for part in _ADDRESS_PARTS}


def _address_table(prefix: str, arrays: dict[str, npt.NDArray[np.generic]]) -> AddressTable:
    return AddressTable(*(arrays[f"{prefix}.{part}"] for part in _ADDRESS_PARTS))  # type: ignore[arg-type]


def _port_arrays(prefix: str, table: PortTable) -> dict[str, npt.NDArray[np.generic]]:
    return {
        f"{prefix}.rows": table.rows,
        f"{prefix}.direct": table.direct,
        f"{prefix}.special": np.asarray([table.ignored, table.unknown], dtype=np.int64),
    }


def _port_table(prefix: str, arrays: dict[str, npt.NDArray[np.generic]]) -> PortTable:
    ignored, unknown = (int(v) for v in arrays[f"{prefix}.special"])
    return PortTable(arrays[f"{prefix}.rows"], ignored, unknown, arrays[f"{prefix}.direct"])  # type: ignore[arg-type]


def program_arrays(program: PolicyProgram) -> dict[str, npt.NDArray[np.generic]]:
    """Every table of ``program`` as named arrays (its verdicts excepted)."""
    out: dict[str, npt.NDArray[np.generic]] = {}
    for name, d in (("in", program.inbound), ("out", program.outbound)):
        out.update({f"{name}.{field}": getattr(d, field) for field in _DIRECTION_ARRAYS})
        out[f"{name}.shape"] = np.asarray([d.words, d.unmatched_result, d.block], dtype=np.int64)
        out.update(_address_arrays(f"{name}.source", d.source))
        out.update(_address_arrays(f"{name}.destination", d.destination))
        out.update(_port_arrays(f"{name}.source_ports", d.source_ports))
        out.update(_port_arrays(f"{name}.destination_ports", d.destination_ports))
        out.update({f"{name}.summary{k}": row for k, row in enumerate(d.summary_rows)})
    out.update(_address_arrays("platform", program.platform))
    out.update(_address_arrays("internet", program.internet))
    out["platform_ports"] = program.platform_ports
    return out


def program_from_arrays(
    policy: NicPolicy, numbering: ResultNumbering, arrays: dict[str, npt.NDArray[np.generic]]
) -> PolicyProgram:
    """The program ``program_arrays`` took apart, for ``policy`` (whose digest the arrays were stored under)."""
    directions = []
    for name, direction in (("in", Direction.INBOUND), ("out", Direction.OUTBOUND)):
        words, unmatched, block = (int(v) for v in arrays[f"{name}.shape"])
        chain = policy.chain(direction)
        summaries = tuple(arrays[f"{name}.summary{k}"] for k in range(6))
        directions.append(
            DirectionProgram(
                direction=direction,
                chain=chain,
                words=words,
                unmatched_result=unmatched,
                names_platform_exemption=chain.names_platform_exemption,
                source=_address_table(f"{name}.source", arrays),
                destination=_address_table(f"{name}.destination", arrays),
                source_ports=_port_table(f"{name}.source_ports", arrays),
                destination_ports=_port_table(f"{name}.destination_ports", arrays),
                block=block,
                summary_rows=summaries,  # type: ignore[arg-type]
                **{field: arrays[f"{name}.{field}"] for field in _DIRECTION_ARRAYS},  # type: ignore[arg-type]
            )
        )
    inbound, outbound = directions
    return PolicyProgram(
        inbound=inbound,
        outbound=outbound,
        platform_tags=tuple(policy.platform_tags),
        platform=_address_table("platform", arrays),
        platform_ports=arrays["platform_ports"],  # type: ignore[arg-type]
        internet=_address_table("internet", arrays),
        smtp_blocked=policy.smtp_blocked,
        results=numbering.results,
        result_allow=numbering.result_allow,
    )


# --- arrays to bytes and back ---------------------------------------------------------------------------------
#
# A stored program is one buffer: the length of a JSON index (8 bytes), the index (each array's name, dtype, shape
# and offset) and the arrays' bytes at offsets aligned for any dtype. Reading is a copy into one aligned buffer and a
# view per array (``np.load`` of a zip of ~80 members parsed a header per member: ~0.2 ms an array, 16 ms a
# program of 100 rules).

_ALIGNMENT = 64
_INDEX_LENGTH_BYTES = 8


def encode_arrays(arrays: dict[str, npt.NDArray[np.generic]]) -> bytes:
    """Named arrays (numbers and booleans) as one buffer ``decode_arrays`` reads back."""
    index: list[tuple[str, str, tuple[int, ...], int]] = []
    raws: list[bytes] = []
    size = 0
    for name, array in arrays.items():
        offset = -(-size // _ALIGNMENT) * _ALIGNMENT
        index.append((name, array.dtype.str, array.shape, offset))
        raws.append(np.ascontiguousarray(array).tobytes())
        size = offset + array.nbytes
    body = bytearray(size)
    for (_, _, _, offset), raw in zip(index, raws, strict=True):
        body[offset : offset + len(raw)] = raw
    header = json.dumps(index).encode()
    return len(header).to_bytes(_INDEX_LENGTH_BYTES, "little") + header + bytes(body)


def decode_arrays(payload: bytes) -> dict[str, npt.NDArray[np.generic]]:
    """The arrays of ``encode_arrays`` (writable, aligned); ValueError, TypeError or KeyError for any other bytes."""
    header_end = _INDEX_LENGTH_BYTES + int.from_bytes(payload[:_INDEX_LENGTH_BYTES], "little")
    index = json.loads(payload[_INDEX_LENGTH_BYTES:header_end])
    if not isinstance(index, list) or len(payload) < header_end:
        raise ValueError("not an array index")
    body = np.frombuffer(payload, dtype=np.uint8, offset=header_end).copy()  # aligned, writable
    arrays: dict[str, npt.NDArray[np.generic]] = {}
    for name, dtype_text, shape, offset in index:
        dtype = np.dtype(dtype_text)
        if dtype.hasobject or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"array {name!r} is not stored by value")
        count = int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)
    return arrays


def reading_seconds(policy: NicPolicy, numbering: ResultNumbering, payload: bytes) -> float:
    """How long reading ``payload`` back as ``policy``'s program takes (its checksum, the arrays, the program
    rebuilt; the file's bytes are in the page cache after a write): timed once, right after the compile, in the same
    process. A fixed threshold judged from the compile alone stored small programs whose first compile in a process
    was slowed by warm-up, though they compile faster than they read."""
    started = time.perf_counter()
    hashlib.blake2b(payload, digest_size=CHECKSUM_BYTES).digest()
    program_from_arrays(policy, numbering, decode_arrays(payload))
    return time.perf_counter() - started


# --- the directory ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgramStore:
    """A directory of compiled programs by ``program_digest``."""

    directory: Path
    #: Store a compile that took this long; None: one that took longer than reading it back (``reading_seconds``).
    min_seconds: float | None = None
    max_bytes: int = MAX_BYTES

    @classmethod
    def default(cls) -> ProgramStore | None:
        """``in_cache_dir()``, or None when ``OPENNSG_NO_CACHE`` turns caching off."""
        return None if cache_disabled() else cls.in_cache_dir()

    @classmethod
    def in_cache_dir(cls) -> ProgramStore:
        """The user's store: ``cache_dir()/compiled``."""
        return cls(cache_dir() / "compiled")

    @property
    def _files(self) -> CacheFiles:
        return CacheFiles(self.directory, SUFFIX, MAGIC, self.max_bytes)

    def path(self, digest: str) -> Path:
        return self._files.path(digest)

    def program(self, policy: NicPolicy) -> PolicyProgram:
        """``build_program(policy)``, read from the directory when it holds it, else built and (when that was slower
        than reading it back, or took ``min_seconds``) stored. Any failure to read or write makes it a plain compile,
        never an error."""
        digest = program_digest(policy)
        numbering = ResultNumbering.of(policy)
        arrays = self._read(digest)
        if arrays is not None:
            try:
                return program_from_arrays(policy, numbering, arrays)
            except (KeyError, TypeError, ValueError):  # a file of the right checksum but not our layout
                self._files.discard(digest)
        started = time.perf_counter()
        program = build_program(policy, numbering)
        compiling = time.perf_counter() - started
        payload = encode_arrays(program_arrays(program))
        if self.min_seconds is not None:
            slower = compiling >= self.min_seconds
        else:
            slower = compiling > reading_seconds(policy, numbering, payload)
        if slower:
            self._files.write(digest, payload)
        return program

    def _read(self, digest: str) -> dict[str, npt.NDArray[np.generic]] | None:
        payload = self._files.read(digest)
        if payload is None:
            return None
        try:
            return decode_arrays(payload)
        except (KeyError, TypeError, ValueError):
            self._files.discard(digest)
            return None

    def prune(self) -> None:
        """Remove the least recently used programs beyond ``max_bytes``, and temporaries left by dead writers."""
        self._files.prune()
