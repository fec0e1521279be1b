"""Flow log files read as bytes (``flowlogs.rawfile``) give exactly what decoding them with ``json`` gives: the same
keys, counts and problems at the same places, whatever the tuples hold; a file with anything unusual (escapes,
blanks, a BOM, a truncation, a list of other things than strings, a control character) is read the careful way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.test_flowlogs_keys import edited, edits, rows, tuple_of

from opennsg.flowlogs import reader as reader_module
from opennsg.flowlogs.formats import LogFormat
from opennsg.flowlogs.rawfile import RawFile, read_raw
from opennsg.flowlogs.reader import FlowLogReader, ReadStats

NSG_ID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a"
MACS = ["000D3AF87856", "00-0d-3a-00-00-01"]


def record(fmt: LogFormat, groups: list[list[Any]], mac: str) -> dict[str, Any]:
    """A record of ``fmt`` holding each group as one ``flowTuples`` list."""
    if fmt is LogFormat.VNET:
        return {"time": "2025-01-01T09:01:00Z", "category": "FlowLogFlowEvent", "macAddress": mac,
                "flowLogResourceID": "/X/FLOWLOGS/F", "flowRecords": {"flows": [{"aclID": "acl", "flowGroups": [
                    {"rule": f"r{i}", "flowTuples": g} for i, g in enumerate(groups)]}]}}  # fmt: skip
    version = 1 if fmt is LogFormat.NSG_V1 else 2
    return {"category": "NetworkSecurityGroupFlowEvent", "resourceId": NSG_ID, "systemId": "sys",
            "properties": {"Version": version, "flows": [{"rule": f"r{i}", "flows": [{"mac": mac, "flowTuples": g}]}
                                                         for i, g in enumerate(groups)]}}  # fmt: skip


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


#: Ways a whole file differs from Azure's compact JSON: each must be read as ``json`` reads it (careful way).
def _spoiled_list(text: str) -> str:
    return text.replace('"flowTuples":[', '"flowTuples":[1,', 1)


FILE_EDITS: dict[str, Any] = {
    "none": lambda text: text,
    "escaped": lambda text: text.replace('"r0"', '"r\\u0030"'),
    "json.dumps": lambda text: json.dumps(json.loads(text)),
    "indented": lambda text: json.dumps(json.loads(text), indent=1),
    "bom": lambda text: "\ufeff" + text,
    "non-ascii rule": lambda text: text.replace('"r0"', '"r\u00e9"'),
    "a number in a list": _spoiled_list,
    "a blank in a list": lambda text: text.replace('","', '", "', 1),
    "two commas in a list": lambda text: text.replace('","', '",,"', 1),
    "no comma in a list": lambda text: text.replace('","', '""', 1),
    "a nested list": lambda text: text.replace('"flowTuples":[', '"flowTuples":[[', 1),
    "a control character": lambda text: text.replace(",I,", ",I\t,", 1),
    "a raw newline": lambda text: text.replace(",I,", ",I\n,", 1),
    "spaced key": lambda text: text.replace('"flowTuples":[', '"flowTuples" :[', 1),
    "duplicate key": lambda text: text.replace('"flowTuples":[', '"flowTuples":["x"],"flowTuples":[', 1),
    "the word elsewhere": lambda text: text.replace('"r0"', '"flowTuples"', 1),
    "a bracket in a tuple": lambda text: text.replace(",I,", ",I],", 1),
    "records twice": lambda text: text[:-1] + ',"records":[]}',
    "trailing garbage": lambda text: text + "garbage",
    "trailing comma": lambda text: text.replace("}]}", "},]}", 1),
    "whitespace around records": lambda text: text.replace('{"records":[', '{ "records" : [\n', 1),
    "empty lists": lambda text: text.replace('"flowTuples":[', '"flowTuples":[],"x":[', 1),
    "not an object": lambda text: text.replace('{"records":[', '{"records":[7,', 1),
}


def read_keys(path: Path, batch_tuples: int) -> tuple[list[tuple[Any, ...]], ReadStats]:
    reader = FlowLogReader([path], batch_tuples=batch_tuples)
    keys = [row for part in reader.flow_keys() for row in rows(part)]
    return keys, reader.stats


def read_carefully(path: Path, batch_tuples: int) -> tuple[list[tuple[Any, ...]], ReadStats]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader_module, "read_raw", lambda path: None)
        return read_keys(path, batch_tuples)


@settings(max_examples=200, deadline=None)
@given(
    st.data(),
    st.sampled_from(list(LogFormat)),
    st.one_of(st.just("none"), st.sampled_from(list(FILE_EDITS))),
    st.integers(1, 40),
    st.one_of(st.none(), st.none(), st.integers(0, 10**6)),
)
def test_a_file_read_as_bytes_gives_what_json_gives(
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    fmt: LogFormat,
    edit: str,
    batch_tuples: int,
    cut: int | None,
) -> None:
    """Keys (in order), counts and problems (places, messages, order) are those of the careful reader, for any
    tuples (good, garbage, not strings), any file edit, cut anywhere (truncated) and any bucket size; a compact file
    of strings is read as bytes (else that path would be dead code)."""
    tuple_edits = st.none() if data.draw(st.booleans()) else edits  # all good, or garbage mixed in
    groups = data.draw(st.lists(st.lists(st.lists(st.tuples(tuple_of(fmt), tuple_edits), max_size=5), min_size=1,
                                         max_size=3), min_size=1, max_size=4))  # fmt: skip
    records: list[Any] = [record(fmt, [[edited(t, e) for t, e in g] for g in gs], MACS[i % 2])
                          for i, gs in enumerate(groups)]  # fmt: skip
    if data.draw(st.booleans()):
        records.insert(data.draw(st.integers(0, len(records))), {"category": "Unknown"})  # a record problem
    text = FILE_EDITS[edit](compact({"records": records}))
    if cut is not None:
        text = text[: cut % (len(text) + 1)]
    path = tmp_path_factory.mktemp("logs") / "PT1H.json"
    path.write_bytes(text.encode())
    assert read_keys(path, batch_tuples) == read_carefully(path, batch_tuples)
    strings_only = all(type(t) is str and t.isascii() and t.isprintable() and '"' not in t and "\\" not in t
                       for gs in groups for g in gs for t in (edited(t, e) for t, e in g))  # fmt: skip
    if edit == "none" and cut is None and strings_only:
        assert isinstance(read_raw(path), RawFile)


def test_a_list_of_strings_is_cut_out_where_json_finds_it(tmp_path: Path) -> None:
    """Empty lists, empty strings and commas inside strings: each list's strings are those ``json`` decodes, and
    the skeleton holds each list's number in its place."""
    lists = [[], [""], ["a,b", "", "c"], [","], ["", ""]]
    document = {"records": [{"flowTuples": items, "n": i} for i, items in enumerate(lists)]}
    path = tmp_path / "a.json"
    path.write_text(compact(document))
    raw = read_raw(path)
    assert raw is not None
    assert [raw.strings(i) for i in range(len(lists))] == lists
    assert [r for _, r in raw.records] == [{"flowTuples": [i], "n": i} for i in range(len(lists))]
    assert raw.counts == [len(items) for items in lists]


def test_the_benchmark_blob_is_read_as_bytes_with_the_careful_keys(tmp_path: Path) -> None:
    """Files as Azure writes them (compact; VNet and NSG v2, several buckets a file): read as bytes, the same keys."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import flowlogs_bench

    for fmt in ("vnet", "nsg2"):
        logs = tmp_path / fmt
        flowlogs_bench.write_logs(logs, 30_000, 2, 10, fmt=fmt)
        for path in sorted(logs.rglob("*.json")):
            assert read_raw(path) is not None
            assert read_keys(path, 4096) == read_carefully(path, 4096)


def test_a_file_too_big_to_hold_whole_is_read_the_careful_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded whatever the file's size: beyond ``MAX_RAW_BYTES`` a file streams through the careful
    reader (a chunk at a time), with the same keys; a missing file is the careful reader's to report."""
    from opennsg.flowlogs import rawfile

    tuples = ["1542110377,10.0.0.4,52.1.2.3,443,80,T,I,A,B,,,,"] * 3
    path = tmp_path / "PT1H.json"
    path.write_text(compact({"records": [record(LogFormat.NSG_V2, [tuples], MACS[0])]}))
    assert read_raw(path) is not None and read_raw(tmp_path / "missing.json") is None
    keys = read_keys(path, 16)
    monkeypatch.setattr(rawfile, "MAX_RAW_BYTES", path.stat().st_size - 1)
    assert read_raw(path) is None
    assert read_keys(path, 16) == keys == read_carefully(path, 16)
