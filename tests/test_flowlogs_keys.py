"""Tuples straight to fold keys (``flowlogs.keys``): the canonical byte-buffer parse gives exactly the keys and
problems of the careful Arrow parse, in all three formats, with garbage, odd spellings and IPv6 mixed in; a tuple
whose two ends are of different IP versions is malformed either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opennsg.flowlogs import keys as keys_module
from opennsg.flowlogs import replay as replay_module
from opennsg.flowlogs.formats import ENCRYPTION_VALUES, LogFormat
from opennsg.flowlogs.keys import TEXT_KEY, TupleKeys, keys_of_batch, parse_bucket_keys
from opennsg.flowlogs.reader import FlowLogReader
from opennsg.flowlogs.replay import fold
from opennsg.flowlogs.tuples import Bucket, Group, parse_bucket

V4 = ["10.0.0.4", "52.1.2.3", "0.0.0.0", "255.255.255.255", "1.22.133.244"]
V6 = ["fd00::6", "FD00::6", "::ffff:10.0.0.4", "2001:db8::1"]
ends = st.one_of(
    st.tuples(st.sampled_from(V4), st.sampled_from(V4)), st.tuples(st.sampled_from(V6), st.sampled_from(V6))
)
counters = st.one_of(
    st.just(["", "", "", ""]),
    st.lists(st.integers(0, 10**17).map(str), min_size=4, max_size=4),
    st.lists(st.sampled_from(["", "0", "7", "12345"]), min_size=4, max_size=4),  # a mix: valid, not canonical
)


def tuple_of(fmt: LogFormat) -> st.SearchStrategy[str]:
    """A valid tuple of ``fmt``; most are canonical, some only valid (empty counters in a mix)."""
    seconds = st.integers(0, 10**10 - 1)
    port = st.integers(0, 65535).map(str)
    head = st.tuples(seconds, ends, port, port)
    if fmt is LogFormat.VNET:
        rest = st.tuples(st.integers(0, 255).map(str), st.sampled_from("IO"), st.sampled_from("BCED"),
                         st.sampled_from(sorted(ENCRYPTION_VALUES)), counters)  # fmt: skip
        return st.builds(lambda h, r: ",".join([str(h[0] * 1000), *h[1], h[2], h[3], *r[:4], *r[4]]), head, rest)
    protocol = st.sampled_from(["T", "U", "1", "50", "255", "999"])
    if fmt is LogFormat.NSG_V1:
        rest = st.tuples(protocol, st.sampled_from("IO"), st.sampled_from("AD"))
        return st.builds(lambda h, r: ",".join([str(h[0]), *h[1], h[2], h[3], *r]), head, rest)
    rest = st.tuples(protocol, st.sampled_from("IO"), st.sampled_from("AD"), st.sampled_from("BCE"), counters)
    return st.builds(lambda h, r: ",".join([str(h[0]), *h[1], h[2], h[3], *r[:4], *r[4]]), head, rest)


#: What may replace one field: garbage of every kind the checks look for, and odd spellings the patterns allow.
FIELD_EDITS = ["", "-1", "+1", " 1", "1 ", "01", "007", "0", "1.2", "x", "T", "D", "NX", "256", "65536", "1e3",
               "0x10", "\u0661", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "01.2.3.4", "fd00::zz", "fd00::1",
               "10.0.0.9", "::ffff:1.2.3.4", "99999999999999", "9" * 19, "1\n2", "A,B", "\"",
               "NX_FALLBACK", "TCP", "TT", "U1", "IO", "AA", "t", "i", "N", "NXX", "nx", "X", "_", "x1", "1x", "1.2.3.",
               ".1.2.3", "1.2.3.4a", "a.b.c.d", "1.2.3.04", "000.1.2.3", "1.2.3.256", "1:2", "::", ".", "1.2.3.4",
               "65535", "255", "1000", "9999999999999", "10000000000000", "999999999999999999"]  # fmt: skip


def edited(text: str, edit: tuple[int, str] | str | int | None) -> Any:
    if edit is None:
        return text
    if isinstance(edit, tuple):
        fields = text.split(",")
        index, value = edit
        fields[index % len(fields)] = value
        return ",".join(fields)
    if edit == "extra":
        return text + ",1"
    if edit == "missing":
        return text.rsplit(",", 1)[0]
    return edit  # a whole tuple replaced: "", 7 (not a string), None


edits = st.one_of(
    st.none(), st.none(), st.none(),
    st.tuples(st.integers(0, 12), st.sampled_from(FIELD_EDITS)),
    st.sampled_from(["extra", "missing", "", 7, None, "é,1"]),
)  # fmt: skip


def rows(keys: TupleKeys) -> list[tuple[Any, ...]]:
    """Each tuple's keys with codes replaced by the texts they stand for (codes are local to a bucket)."""

    def address(key: int) -> Any:
        return keys.texts[key - TEXT_KEY] if key >= TEXT_KEY else key

    return [(keys.macs[m], address(s), address(d), r)
            for m, s, d, r in zip(keys.mac.tolist(), keys.src.tolist(), keys.dst.tolist(), keys.rest.tolist(),
                                  strict=True)]  # fmt: skip


def bucket_of(fmt: LogFormat, groups: list[list[Any]]) -> Bucket:
    bucket = Bucket(fmt)
    for i, tuples in enumerate(groups):
        mac = ["000D3AF87856", "000D3A000001"][i % 2]
        bucket.add(Group("f.json", f"records[{i}].flowTuples", fmt, "nsg", "acl", mac, "rule"), tuples)
    return bucket


@settings(max_examples=150, deadline=None)
@given(st.data(), st.sampled_from(list(LogFormat)))
def test_canonical_keys_are_the_careful_keys(data: st.DataObject, fmt: LogFormat) -> None:
    """Whatever is mixed in, the bucket's keys and problems are those of the careful parse; a bucket of canonical
    tuples only is taken by the fast path itself (else the fast path would be dead code)."""
    drawn = data.draw(st.lists(st.lists(st.tuples(tuple_of(fmt), edits), min_size=1, max_size=6), min_size=1,
                               max_size=4))  # fmt: skip
    bucket = bucket_of(fmt, [[edited(t, e) for t, e in group] for group in drawn])
    keys, problems = parse_bucket_keys(bucket)
    table, careful_problems = parse_bucket(bucket)
    assert rows(keys) == rows(keys_of_batch(table))
    assert problems == careful_problems
    canonical = all(e is None and ":" not in t and ",," not in t and not t.endswith(",") and
                    (fmt is not LogFormat.VNET or t.split(",")[8] == "NX")
                    for group in drawn for t, e in group)  # fmt: skip
    if canonical:
        assert keys_module._canonical_keys(bucket) is not None


MIXED = {
    LogFormat.NSG_V1: "1542110377,10.0.0.4,fd00::1,443,80,T,I,A",
    LogFormat.NSG_V2: "1542110377,fd00::1,10.0.0.4,443,80,T,O,A,B,,,,",
    LogFormat.VNET: "1542110377000,10.0.0.4,2001:db8::1,443,80,6,I,B,NX,1,2,3,4",
}


@pytest.mark.parametrize("fmt", list(LogFormat))
@pytest.mark.parametrize("neighbours", [[], ["good"], ["good", "garbage"]])
def test_a_tuple_between_two_ip_versions_is_malformed(fmt: LogFormat, neighbours: list[str]) -> None:
    """The Engine refuses such a flow (and its classifier would decide it otherwise): the reader reports it as it
    reports garbage, alone, among good tuples or among garbage, as keys or as batches."""
    good = {LogFormat.NSG_V1: "1542110377,10.0.0.4,10.0.0.5,443,80,T,I,A",
            LogFormat.NSG_V2: "1542110377,fd00::1,fd00::2,443,80,T,O,A,B,,,,",
            LogFormat.VNET: "1542110377000,10.0.0.4,10.0.0.5,443,80,6,I,B,NX,1,2,3,4"}[fmt]  # fmt: skip
    tuples = [MIXED[fmt], *[good if n == "good" else "garbage" for n in neighbours]]
    bucket = bucket_of(fmt, [tuples])
    keys, problems = parse_bucket_keys(bucket)
    assert [p.position for p in problems][:1] == ["records[0].flowTuples[0]"]
    assert problems[0].message == f"malformed {fmt.value} tuple {MIXED[fmt]}"
    assert keys.num_rows == neighbours.count("good")
    table, careful = parse_bucket(bucket)
    assert careful == problems and table.num_rows == keys.num_rows


def test_a_mixed_tuple_in_a_file_is_reported_with_its_place(tmp_path: Path) -> None:
    record = {"category": "NetworkSecurityGroupFlowEvent", "resourceId": "/x/nsg", "systemId": "s",
              "properties": {"Version": 2, "flows": [{"rule": "r", "flows": [{"mac": "000D3AF87856", "flowTuples": [
                  "1542110377,10.0.0.4,10.0.0.5,443,80,T,I,A,B,,,,", MIXED[LogFormat.NSG_V2]]}]}]}}  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps({"records": [record]}))
    for read in ("keys", "batches"):
        reader = FlowLogReader([tmp_path])
        flows, seen = fold(reader.flow_keys() if read == "keys" else reader.batches())
        assert (seen, len(flows), reader.stats.malformed_tuples) == (1, 1, 1)
        assert reader.stats.problems[0].position == "records[0].properties.flows[0].flows[0].flowTuples[1]"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2)), max_size=60), st.booleans())
def test_grouping_survives_hash_collisions(drawn: list[tuple[int, int, int]], weighted: bool) -> None:
    """Distinct rows and counts are exact even when different rows hash alike (a hash that collides everywhere
    forces the column sort) or when their hashes differ only in the low bits the prefix sort drops (the whole
    hashes then sort them): the same as a plain count."""
    columns = tuple(np.array([r[k] for r in drawn], dtype=np.uint64) for k in range(3))
    weights = np.arange(1, len(drawn) + 1, dtype=np.int64) if weighted else None
    expected: dict[tuple[int, ...], int] = {}
    for i, row in enumerate(drawn):
        expected[row] = expected.get(row, 0) + (i + 1 if weighted else 1)
    exact_but_small = lambda columns: columns[0] + columns[1] * np.uint64(4) + columns[2] * np.uint64(16)  # noqa: E731
    for hashed in (replay_module._hashed, lambda columns: columns[0] & np.uint64(1), exact_but_small):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(replay_module, "_hashed", hashed)
            if not drawn:
                continue
            grouped = replay_module._group(columns, weights)
        got = {tuple(int(c[i]) for c in grouped.columns): int(grouped.count[i]) for i in range(grouped.count.size)}
        assert got == expected and grouped.count.size == len(expected)


def test_retaining_freed_memory_changes_no_result(tmp_path: Path) -> None:
    """The allocator setting the CLI's replay makes is harmless to call again (and a no-op off glibc)."""
    keys_module.retain_freed_memory()
    keys_module.retain_freed_memory()
    bucket = bucket_of(LogFormat.NSG_V1, [["1542110377,10.0.0.4,10.0.0.5,443,80,T,I,A"]])
    keys, problems = parse_bucket_keys(bucket)
    inbound_allowed_tcp = 443 | 80 << 16 | 6 << 32 | 1 << 49
    assert problems == [] and rows(keys) == [("000D3AF87856", 0x0A000004, 0x0A000005, inbound_allowed_tcp)]


GOOD = {
    LogFormat.NSG_V1: "1542110377,10.0.0.4,52.1.2.3,443,80,T,I,A",
    LogFormat.NSG_V2: "1542110377,10.0.0.4,52.1.2.3,443,80,U,O,D,E,1,2,3,4",
    LogFormat.VNET: "1542110377000,10.0.0.4,52.1.2.3,443,80,17,I,D,NX,1,2,3,4",
}


def test_every_field_edit_the_fast_path_takes_is_one_the_careful_path_takes_alike() -> None:
    """Each edit of each field of a good tuple, every format: whenever the fast path takes the bucket, the careful
    parse keeps every tuple too, with the same keys (the fast path never takes what the patterns refuse)."""
    taken = 0
    for fmt, good in GOOD.items():
        fields = good.split(",")
        for index in range(len(fields)):
            for value in FIELD_EDITS:
                spoiled = ",".join([*fields[:index], value, *fields[index + 1 :]])
                bucket = bucket_of(fmt, [[good, spoiled]])
                fast = keys_module._canonical_keys(bucket)
                if fast is None:
                    continue
                taken += 1
                table, problems = parse_bucket(bucket)
                assert problems == [] and rows(fast) == rows(keys_of_batch(table)), (fmt, index, value)
    assert taken > 20  # the canonical spellings among the edits ("0", "T", "NX", "10.0.0.9", ...)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(list(GOOD)),
    st.lists(st.tuples(st.integers(0, 12), st.sampled_from(FIELD_EDITS)), min_size=2, max_size=4),
)
def test_several_field_edits_the_fast_path_takes_are_taken_alike_by_the_careful_path(
    fmt: LogFormat, field_edits: list[tuple[int, str]]
) -> None:
    """Edits of several fields at once (the fast path counts a line's dots and letters, so one moved from a field to
    another keeps the counts): whenever the fast path takes the bucket, the careful parse keeps every tuple too,
    with the same keys."""
    fields = GOOD[fmt].split(",")
    for index, value in field_edits:
        fields[index % len(fields)] = value
    bucket = bucket_of(fmt, [[GOOD[fmt], ",".join(fields)]])
    fast = keys_module._canonical_keys(bucket)
    if fast is not None:
        table, problems = parse_bucket(bucket)
        assert problems == [] and rows(fast) == rows(keys_of_batch(table))


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 300_000), st.integers(1, 2**64 - 1), st.integers(0, 2**32))
def test_the_partitioned_hash_sort_sorts(size: int, distinct: int, seed: int) -> None:
    """The hash order (parts by top bits, each sorted apart from a size on) is a permutation that sorts the hashes,
    few distinct or all distinct; and a fold of that many rows counts each distinct row as a plain count does."""
    rng = np.random.default_rng(seed)
    mixed = rng.integers(0, distinct, size, dtype=np.uint64, endpoint=True) * np.uint64(0x9E3779B97F4A7C15)
    order, ordered = replay_module._hash_order(mixed)
    assert np.array_equal(np.sort(order), np.arange(size)) and bool((np.diff(mixed[order]) >= 0).all())
    assert np.array_equal(ordered, mixed[order])
    columns = (rng.integers(0, 3, size).astype(np.uint64), (mixed >> np.uint64(60)).astype(np.uint64))
    grouped = replay_module._group(columns, None)
    expected = np.unique(np.stack(columns, axis=1), axis=0, return_counts=True)
    got = sorted(zip(*(c.tolist() for c in grouped.columns), grouped.count.tolist(), strict=True))
    assert got == [(*row, count) for row, count in zip(expected[0].tolist(), expected[1].tolist(), strict=True)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 400), st.integers(0, 2**32), st.booleans(), st.booleans(), st.booleans())
def test_the_fold_through_two_words_groups_as_the_columns_do(
    size: int, seed: int, with_texts: bool, many_macs: bool, weighted: bool
) -> None:
    """The fold's keys packed into two words (IPv4 ends, MAC codes that fit) give the groups and counts of grouping
    the four columns themselves; keys that do not fit (address texts, MAC codes from 2 ** 14) take the columns."""
    rng = np.random.default_rng(seed)
    mac = rng.integers(0, 3, size).astype(np.int32) + (np.int32(1 << 14) if many_macs else np.int32(0))
    src = rng.integers(0, 4, size).astype(np.uint64) * np.uint64(0x01020304)
    dst = rng.integers(0, 2, size).astype(np.uint64) + (np.uint64(TEXT_KEY) if with_texts else np.uint64(0xFFFFFFFE))
    rest = rng.integers(0, 3, size).astype(np.uint64) << np.uint64(keys_module.ALLOW_BIT - 1)
    weights = rng.integers(1, 5, size).astype(np.int64) if weighted else None
    columns = (mac, src, dst, rest)

    def counts(grouped: Any) -> dict[tuple[int, ...], int]:
        assert [c.dtype for c in grouped.columns] == [c.dtype for c in columns]
        rows = zip(*(c.tolist() for c in grouped.columns), strict=True)
        return dict(zip(rows, grouped.count.tolist(), strict=True))

    assert counts(replay_module._group_flows(columns, weights)) == counts(replay_module._group(columns, weights))
