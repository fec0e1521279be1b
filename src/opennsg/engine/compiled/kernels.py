"""The batch hot loop: a numba kernel, and a pure-numpy twin giving identical results when numba is missing.

Both compute, for every flow of one direction, the result code of ``program.PolicyProgram``. numba is used
when importable unless ``OPENNSG_NO_NUMBA=1``; ``backend=`` forces either path (the tests run both). numba is
imported, and its kernel loaded from the on-disk cache (``cache=True``), only when the numba path first runs:
both cost about half a second of CPU, which a command deciding a few flows should not pay.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from opennsg.engine.chain import Outcome
from opennsg.engine.compiled.columns import FlowColumns
from opennsg.engine.compiled.program import (
    FIRST_PLATFORM_RESULT,
    SMTP_RESULT,
    DirectionProgram,
    PolicyProgram,
)
from opennsg.engine.compiled.tables import AddressTable, PortTable
from opennsg.model.enums import IANA_TCP, IANA_UDP
from opennsg.model.policy import SMTP_PORT

Backend = Literal["auto", "numba", "numpy"]
#: ``Outcome`` values as plain ints (what a numba kernel can compare a uint8 with).
DROP = int(Outcome.DROP)
DELIVER = int(Outcome.DELIVER)
CANDIDATE = int(Outcome.CANDIDATE)
I32 = npt.NDArray[np.int32]

_DEBRUIJN = 0x03F79D71B4CB0A89
_DEBRUIJN_TABLE = np.zeros(64, dtype=np.int64)
for _i in range(64):
    _DEBRUIJN_TABLE[((_DEBRUIJN << _i) & ((1 << 64) - 1)) >> 58] = _i
#: Flows per numpy chunk: bounds the (flows × words) temporaries of the fallback.
NUMPY_CHUNK = 16384
#: Slots (log2) of each thread's memo of class tuple → chain result.
CACHE_BITS = 16
_GOLDEN = 0x9E3779B97F4A7C15
#: Below this many flows per thread, extra threads cost more than they save.
MIN_FLOWS_PER_THREAD = 50_000


#: With ``backend="auto"``, fewer flows than this are decided by numpy: numba's import and cached-kernel load
#: (~0.5 CPU-s) outweigh its gain over numpy (~0.3 µs a flow) below about a million flows.
NUMBA_MIN_FLOWS = 1_000_000


def _numba_disabled() -> bool:
    return os.environ.get("OPENNSG_NO_NUMBA", "") not in ("", "0")


def numba_available() -> bool:
    """numba is installed and not disabled (checked without importing it)."""
    return not _numba_disabled() and importlib.util.find_spec("numba") is not None


# --- scalar code, compiled by numba --------------------------------------------------------------------------


def _find4(starts: Any, index: Any, value: Any) -> int:
    """Index of the last start ≤ value (``starts[0]`` is 0), searched only inside the value's 16-bit block."""
    block = value >> np.uint64(16)
    lo: int = index[block]
    hi = index[block + np.uint64(1)] + 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if starts[mid] <= value:
            lo = mid
        else:
            hi = mid
    return lo


def _find128(high: Any, low: Any, vh: Any, vl: Any) -> int:
    lo = 0
    hi = high.size
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if high[mid] < vh or (high[mid] == vh and low[mid] <= vl):
            lo = mid
        else:
            hi = mid
    return lo


def _lowest_bit(x: Any, debruijn_table: Any) -> int:
    low = x & (~x + np.uint64(1))
    return int(debruijn_table[(low * np.uint64(_DEBRUIJN)) >> np.uint64(58)])


def _classify_loop(
    direction: int,
    start: int,
    stop: int,
    directions: Any,
    cols: Any,
    d: Any,
    platform: Any,
    platform_ports: Any,
    internet: Any,
    smtp_blocked: bool,
    result_allow: Any,
    key_shifts: Any,
    cache_keys: Any,
    cache_values: Any,
    debruijn_table: Any,
    out: Any,
) -> None:
    """Decide flows ``[start, stop)`` of one direction.

    The chain's answer depends only on the flow's field classes, so it is memoised per thread in a direct-mapped
    cache keyed by the packed classes (flows of platform-exempt traffic bypass it).

    Tuples are unpacked once, outside the per-flow loop: numba would otherwise reference-count every array in
    them for every flow, which costs more than the classification itself.
    """
    protocols, local_v6, local_high, local_low, local_port, remote_v6, remote_high, remote_low, remote_port = cols
    (
        bounds,
        bit_outcome,
        bit_result,
        unmatched_result,
        names_platform_exemption,
        protocol_classes,
        protocol_rows,
        src,
        dst,
        sport,
        dport,
        exempt_rows,
        summaries,
    ) = d
    s4, s4c, s6h, s6l, s6c, s_rows, s4i = src
    d4, d4c, d6h, d6l, d6c, d_rows, d4i = dst
    sp_direct, sp_rows, sp_ignored, sp_unknown = sport
    dp_direct, dp_rows, dp_ignored, dp_unknown = dport
    p4, p4c, p6h, p6l, p6c, p_rows, p4i = platform
    i4, i4c, i6h, i6l, i6c, i_rows, i4i = internet
    block, stage_masks, ps, ss, ds, sps, dps, es = summaries
    cache_on, sh_pc, sh_spc, sh_dpc, sh_sc = key_shifts
    inbound = direction == 0
    n_stages = bounds.size - 1
    n_tags = platform_ports.size
    for i in range(start, stop):
        if directions[i] != direction:
            continue
        proto = protocols[i]
        ported = proto in (IANA_TCP, IANA_UDP)
        if inbound:
            s_v6, s_h, s_l, s_port = remote_v6[i], remote_high[i], remote_low[i], remote_port[i]
            d_v6, d_h, d_l, d_port = local_v6[i], local_high[i], local_low[i], local_port[i]
        else:
            s_v6, s_h, s_l, s_port = local_v6[i], local_high[i], local_low[i], local_port[i]
            d_v6, d_h, d_l, d_port = remote_v6[i], remote_high[i], remote_low[i], remote_port[i]
        sc = s6c[_find128(s6h, s6l, s_h, s_l)] if s_v6 else s4c[_find4(s4, s4i, s_l)]
        dc = d6c[_find128(d6h, d6l, d_h, d_l)] if d_v6 else d4c[_find4(d4, d4i, d_l)]
        if not ported:
            spc = sp_ignored
            dpc = dp_ignored
        else:
            spc = sp_unknown if s_port < 0 else sp_direct[s_port]
            dpc = dp_unknown if d_port < 0 else dp_direct[d_port]
        pc = protocol_classes[proto]
        exempt = 0
        if not inbound and n_tags > 0:
            r_v6, r_h, r_l = remote_v6[i], remote_high[i], remote_low[i]
            tags = p_rows[p6c[_find128(p6h, p6l, r_h, r_l)] if r_v6 else p4c[_find4(p4, p4i, r_l)], 0]
            for t in range(n_tags):
                if (tags >> np.uint64(t)) & np.uint64(1):
                    need = platform_ports[t]
                    if need < 0 or (proto == IANA_TCP and remote_port[i] == need):
                        exempt = t + 1
                        break
        cached = cache_on and exempt == 0
        slot = np.int64(0)
        key = np.uint64(0)
        if cached:
            key = (
                (np.uint64(pc) << sh_pc)
                | (np.uint64(spc) << sh_spc)
                | (np.uint64(dpc) << sh_dpc)
                | (np.uint64(sc) << sh_sc)
                | np.uint64(dc)
            ) + np.uint64(1)
            slot = np.int64((key * np.uint64(_GOLDEN)) >> np.uint64(64 - CACHE_BITS))
        if cached and cache_keys[slot] == key:
            result = cache_values[slot]
        else:
            candidates = ps[pc] & ss[sc] & ds[dc] & sps[spc] & dps[dpc] & es[exempt]
            candidate = -1
            decided = -1
            for k in range(n_stages):
                found = -1
                pending = candidates & stage_masks[k]
                while pending != 0 and found < 0:
                    j = _lowest_bit(pending, debruijn_table)
                    pending &= pending - np.uint64(1)
                    for w in range(j * block, min((j + 1) * block, bounds[k + 1])):
                        x = (
                            protocol_rows[pc, w]
                            & sp_rows[spc, w]
                            & dp_rows[dpc, w]
                            & s_rows[sc, w]
                            & d_rows[dc, w]
                            & exempt_rows[exempt, w]
                        )
                        if x != 0:
                            found = w * 64 + _lowest_bit(x, debruijn_table)
                            break
                if found >= 0:
                    outcome = bit_outcome[found]
                    if outcome == CANDIDATE:
                        candidate = bit_result[found]
                    elif outcome in (DROP, DELIVER):
                        decided = bit_result[found]
                        break
            if decided >= 0:
                result = decided
            elif candidate >= 0:
                result = candidate
            elif exempt > 0 and names_platform_exemption:
                result = FIRST_PLATFORM_RESULT + exempt - 1
            else:
                result = unmatched_result
            if cached:
                cache_keys[slot] = key
                cache_values[slot] = result
        if result_allow[result] == 0:
            out[i] = result
            continue
        if smtp_blocked and not inbound and proto == IANA_TCP and remote_port[i] == SMTP_PORT:
            r_v6, r_h, r_l = remote_v6[i], remote_high[i], remote_low[i]
            if i_rows[i6c[_find128(i6h, i6l, r_h, r_l)] if r_v6 else i4c[_find4(i4, i4i, r_l)], 0] != 0:
                result = SMTP_RESULT
        out[i] = result


@functools.cache
def _numba_loop() -> Callable[..., None]:
    """The kernel compiled by numba (helpers inlined), imported and loaded on first use."""
    import numba

    globals()["_find128"] = numba.njit(inline="always", cache=True)(_find128)
    globals()["_find4"] = numba.njit(inline="always", cache=True)(_find4)
    globals()["_lowest_bit"] = numba.njit(inline="always", cache=True)(_lowest_bit)
    loop: Callable[..., None] = numba.njit(nogil=True, cache=True)(_classify_loop)
    return loop


def _columns_tuple(cols: FlowColumns) -> tuple[Any, ...]:
    return (
        cols.protocol,
        cols.local_v6,
        cols.local_high,
        cols.local_low,
        cols.local_port,
        cols.remote_v6,
        cols.remote_high,
        cols.remote_low,
        cols.remote_port,
    )


def _direction_tuple(d: DirectionProgram) -> tuple[Any, ...]:
    return (
        d.stage_bounds,
        d.bit_outcome,
        d.bit_result,
        d.unmatched_result,
        d.names_platform_exemption,
        d.protocol_classes,
        d.protocol_rows,
        d.source.as_tuple(),
        d.destination.as_tuple(),
        d.source_ports.as_tuple(),
        d.destination_ports.as_tuple(),
        d.exempt_rows,
        (d.block, d.stage_summary_masks, *d.summary_rows),
    )


def _classify_numba(program: PolicyProgram, cols: FlowColumns, out: I32, threads: int) -> None:
    """Run the kernel over ``threads`` contiguous slices at once (it releases the GIL)."""
    loop = _numba_loop()
    col_tuple = _columns_tuple(cols)
    directions = (
        (0, _direction_tuple(program.inbound)),
        (1, _direction_tuple(program.outbound)),
    )
    platform = program.platform.as_tuple()
    internet = program.internet.as_tuple()
    d_shifts = (program.inbound.key_shifts(), program.outbound.key_shifts())
    n = len(cols)

    def run(start: int, stop: int) -> None:
        for code, d in directions:
            cache_keys = np.zeros(1 << CACHE_BITS, dtype=np.uint64)
            cache_values = np.zeros(1 << CACHE_BITS, dtype=np.int32)
            loop(
                code,
                start,
                stop,
                cols.direction,
                col_tuple,
                d,
                platform,
                program.platform_ports,
                internet,
                program.smtp_blocked,
                program.result_allow,
                d_shifts[code],
                cache_keys,
                cache_values,
                _DEBRUIJN_TABLE,
                out,
            )

    slices = max(1, min(threads, n // MIN_FLOWS_PER_THREAD))
    if slices == 1:
        run(0, n)
        return
    cuts = [n * k // slices for k in range(slices + 1)]
    with ThreadPoolExecutor(max_workers=slices) as pool:
        for future in [pool.submit(run, a, b) for a, b in itertools.pairwise(cuts)]:
            future.result()


# --- the numpy twin ------------------------------------------------------------------------------------------


def _np_find128(high: npt.NDArray[np.uint64], low: npt.NDArray[np.uint64], vh: Any, vl: Any) -> npt.NDArray[np.intp]:
    """Vectorised ``_find128``: a binary search stepping every flow at once."""
    lo = np.zeros(vh.size, dtype=np.intp)
    hi = np.full(vh.size, high.size, dtype=np.intp)
    while True:
        active = hi - lo > 1
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        mid_c = np.minimum(mid, high.size - 1)
        le = (high[mid_c] < vh) | ((high[mid_c] == vh) & (low[mid_c] <= vl))
        lo = np.where(active & le, mid, lo)
        hi = np.where(active & ~le, mid, hi)


def _np_address_class(table: AddressTable, is_v6: Any, vh: Any, vl: Any) -> I32:
    out: I32 = table.v4_classes[np.searchsorted(table.v4_starts, vl, side="right") - 1]
    if is_v6.any():
        v6 = np.flatnonzero(is_v6)
        out[v6] = table.v6_classes[_np_find128(table.v6_high, table.v6_low, vh[v6], vl[v6])]
    return out


def _np_port_class(table: PortTable, ported: Any, port: Any) -> I32:
    found = table.direct[np.maximum(port, 0)]
    return np.where(ported, np.where(port >= 0, found, table.unknown), table.ignored).astype(np.int32)


def _np_lowest_bit(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    low = x & (~x + np.uint64(1))
    return (np.frexp(low.astype(np.float64))[1] - 1).astype(np.int64)


def _np_classify_chunk(program: PolicyProgram, d: DirectionProgram, inbound: bool, c: FlowColumns) -> I32:
    proto = c.protocol
    ported = (proto == IANA_TCP) | (proto == IANA_UDP)
    if inbound:
        sc = _np_address_class(d.source, c.remote_v6, c.remote_high, c.remote_low)
        dc = _np_address_class(d.destination, c.local_v6, c.local_high, c.local_low)
        sp, dp = c.remote_port, c.local_port
    else:
        sc = _np_address_class(d.source, c.local_v6, c.local_high, c.local_low)
        dc = _np_address_class(d.destination, c.remote_v6, c.remote_high, c.remote_low)
        sp, dp = c.local_port, c.remote_port
    spc = _np_port_class(d.source_ports, ported, sp)
    dpc = _np_port_class(d.destination_ports, ported, dp)
    pc = d.protocol_classes[proto]
    n = proto.size
    exempt = np.zeros(n, dtype=np.intp)
    if not inbound and program.platform_ports.size:
        tags = program.platform.rows[_np_address_class(program.platform, c.remote_v6, c.remote_high, c.remote_low), 0]
        for t in range(program.platform_ports.size - 1, -1, -1):
            need = int(program.platform_ports[t])
            ok = ((tags >> np.uint64(t)) & np.uint64(1)) != 0
            if need >= 0:
                ok &= (proto == IANA_TCP) & (c.remote_port == need)
            exempt = np.where(ok, t + 1, exempt)
    rows = np.arange(n)
    result = np.full(n, -1, dtype=np.int32)
    candidate = np.full(n, -1, dtype=np.int32)
    for k in range(d.stage_bounds.size - 1):
        w0, w1 = int(d.stage_bounds[k]), int(d.stage_bounds[k + 1])
        x = (
            d.protocol_rows[pc, w0:w1]
            & d.source_ports.rows[spc, w0:w1]
            & d.destination_ports.rows[dpc, w0:w1]
            & d.source.rows[sc, w0:w1]
            & d.destination.rows[dc, w0:w1]
            & d.exempt_rows[exempt, w0:w1]
        )
        nonzero = x != 0
        hit = nonzero.any(axis=1) & (result < 0)
        word = nonzero.argmax(axis=1)
        bit = (w0 + word) * 64 + _np_lowest_bit(x[rows, word])
        bit = np.where(hit, bit, 0)
        code = d.bit_result[bit]
        outcome = d.bit_outcome[bit]
        ends = hit & ((outcome == DROP) | (outcome == DELIVER))
        result = np.where(ends, code, result)
        candidate = np.where(hit & (outcome == CANDIDATE), code, candidate)
    undecided = result < 0
    fallback = np.where(
        exempt > 0 if d.names_platform_exemption else np.zeros(n, dtype=bool),
        FIRST_PLATFORM_RESULT + exempt - 1,
        d.unmatched_result,
    )
    result = np.where(undecided, np.where(candidate >= 0, candidate, fallback), result).astype(np.int32)
    if program.smtp_blocked and not inbound:
        allowed = program.result_allow[result] != 0  # an AlwaysAllow too: the SMTP block is the platform's
        candidates = allowed & (proto == IANA_TCP) & (c.remote_port == SMTP_PORT)
        if candidates.any():
            internet = program.internet.rows[
                _np_address_class(program.internet, c.remote_v6, c.remote_high, c.remote_low), 0
            ]
            result = np.where(candidates & (internet != 0), SMTP_RESULT, result).astype(np.int32)
    return result


def _classify_numpy(program: PolicyProgram, cols: FlowColumns, out: I32) -> None:
    for code, d in ((0, program.inbound), (1, program.outbound)):
        index = np.flatnonzero(cols.direction == code)
        for start in range(0, index.size, NUMPY_CHUNK):
            part = index[start : start + NUMPY_CHUNK]
            out[part] = _np_classify_chunk(program, d, code == 0, cols.take(part))


def classify_program(
    program: PolicyProgram, cols: FlowColumns, *, backend: Backend = "auto", threads: int | None = None
) -> I32:
    """Result code of every flow (see ``program``); ``threads`` (default: every CPU) applies to the numba path.

    ``auto`` takes numba for ``NUMBA_MIN_FLOWS`` flows or more, when it is available, else numpy."""
    out = np.empty(len(cols), dtype=np.int32)
    use_numba = backend == "numba" or (backend == "auto" and len(cols) >= NUMBA_MIN_FLOWS and numba_available())
    if use_numba:
        if not numba_available():
            raise RuntimeError("numba is not available (not installed, or OPENNSG_NO_NUMBA is set)")
        _classify_numba(program, cols, out, threads or os.cpu_count() or 1)
    else:
        _classify_numpy(program, cols, out)
    return out


def addresses_in(table: AddressTable, is_v6: Any, high: Any, low: Any) -> npt.NDArray[np.bool_]:
    """Vectorised membership in a one-bit ``AddressTable`` (e.g. a NIC's own addresses)."""
    rows = table.rows[_np_address_class(table, is_v6, high, low), 0]
    inside: npt.NDArray[np.bool_] = rows != 0
    return inside
