"""The disk cache of compiled programs (``opennsg.engine.compiled.store``): a hit is as good as a compile.

Hit, miss and no cache give the same tables and verdicts on random policies; a policy or code change is a miss;
a truncated, corrupted, foreign or mis-shaped file is a miss that is removed and rewritten; concurrent writers
leave one whole file; the directory stays within its bound; ``verify --flows`` writes the same bytes cached,
uncached and with ``--no-cache`` (which stores nothing).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_compiled import flows, nic_policies
from typer.testing import CliRunner

from opennsg.cli.main import app
from opennsg.engine import Engine, FlowColumns
from opennsg.engine.addresses import PortSet
from opennsg.engine.compiled import ProgramStore, clear_cache, compile_policy
from opennsg.engine.compiled import store as store_module
from opennsg.engine.compiled.store import program_arrays, program_digest
from opennsg.engine.evaluate import decide
from opennsg.engine.flow import Flow
from opennsg.engine.ir import NicPolicy

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "how-nsgs-filter-traffic.json"


def _same_tables(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def _verdicts(policy: NicPolicy, store: ProgramStore | None, cases: list[Flow]) -> list[tuple[object, ...]]:
    compiled = compile_policy(policy, store)
    batch = compiled.classify(FlowColumns.from_flows(cases), backend="numpy")
    return [
        (v.access, v.rule_name, v.nsg_id, v.applied_to, v.rule)
        for v in (compiled.results[int(code)] for code in batch.result)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(nic_policies(), st.lists(flows(), min_size=1, max_size=30))
def test_hit_miss_and_no_cache_give_the_same_tables_and_verdicts(policy: NicPolicy, cases: list[Flow]) -> None:
    expected = [(v.access, v.rule_name, v.nsg_id, v.applied_to, v.rule) for v in (decide(policy, f) for f in cases)]
    with tempfile.TemporaryDirectory() as directory:
        store = ProgramStore(Path(directory), min_seconds=0)
        path = store.path(program_digest(policy))
        assert _verdicts(policy, store, cases) == expected  # miss: compiled and written
        assert path.is_file()
        written = path.read_bytes()
        assert _verdicts(policy, store, cases) == expected  # hit: read back
        assert path.read_bytes() == written
        assert _verdicts(policy, None, cases) == expected  # no cache
        fresh = program_arrays(compile_policy(policy).program)
        assert _same_tables(program_arrays(compile_policy(policy, store).program), fresh)


@settings(max_examples=20, deadline=None)
@given(nic_policies())
def test_what_the_tables_depend_on_changes_the_digest(policy: NicPolicy) -> None:
    digest = program_digest(policy)
    assert program_digest(replace(policy)) == digest  # equal content, another object: the same digest
    assert program_digest(replace(policy, smtp_blocked=not policy.smtp_blocked)) != digest
    nsg = policy.nic_nsg or policy.subnet_nsg
    if nsg is not None and nsg.inbound:
        first = nsg.inbound[0]
        narrower = PortSet.of([(7, 7)]) if first.destination_ports != PortSet.of([(7, 7)]) else PortSet.of([(8, 8)])
        changed = replace(nsg, inbound=(replace(first, destination_ports=narrower), *nsg.inbound[1:]))
        moved = replace(policy, nic_nsg=changed) if policy.nic_nsg is not None else replace(policy, subnet_nsg=changed)
        assert program_digest(moved) != digest


def test_other_code_is_another_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Engine(_example_topology()).policy("VM1")
    digest = program_digest(policy)
    monkeypatch.setattr(store_module, "_fingerprint", b"another build of the engine")
    assert program_digest(policy) != digest


def _example_topology():  # type: ignore[no-untyped-def]
    from opennsg.arm import load_paths

    return load_paths([EXAMPLE])


def _damage_cases(data: bytes) -> dict[str, bytes]:
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    return {
        "truncated": data[: len(data) // 3],
        "flipped byte": bytes(flipped),
        "empty": b"",
        "foreign": b"not a program at all",
        "magic only": store_module.MAGIC,
    }


@pytest.mark.parametrize("case", ["truncated", "flipped byte", "empty", "foreign", "magic only"])
def test_a_damaged_file_is_a_miss_removed_and_rewritten(tmp_path: Path, case: str) -> None:
    policy = Engine(_example_topology()).policy("VM1")
    store = ProgramStore(tmp_path, min_seconds=0)
    good = program_arrays(compile_policy(policy, store).program)
    path = store.path(program_digest(policy))
    original = path.read_bytes()
    path.write_bytes(_damage_cases(original)[case])
    assert _same_tables(program_arrays(compile_policy(policy, store).program), good)
    assert path.read_bytes() == original  # rewritten whole


def test_a_whole_file_of_another_layout_is_a_miss(tmp_path: Path) -> None:
    """A file with a valid checksum whose arrays are not the expected ones (say, from a build whose fingerprint
    collided) is not used."""
    policy = Engine(_example_topology()).policy("VM1")
    store = ProgramStore(tmp_path, min_seconds=0)
    good = program_arrays(compile_policy(policy, store).program)
    digest = program_digest(policy)
    arrays = program_arrays(compile_policy(policy).program)
    del arrays["in.shape"]
    import hashlib

    payload = store_module.encode_arrays(arrays)
    store.path(digest).write_bytes(store_module.MAGIC + payload + hashlib.blake2b(payload, digest_size=32).digest())
    assert _same_tables(program_arrays(compile_policy(policy, store).program), good)


def test_concurrent_writers_leave_one_whole_file(tmp_path: Path) -> None:
    policy = Engine(_example_topology()).policy("VM1")
    store = ProgramStore(tmp_path, min_seconds=0)
    expected = program_arrays(compile_policy(policy).program)
    results: list[dict[str, np.ndarray]] = []
    barrier = threading.Barrier(6)

    def compile_once() -> None:
        barrier.wait()
        results.append(program_arrays(compile_policy(policy, store).program))

    threads = [threading.Thread(target=compile_once) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(_same_tables(r, expected) for r in results)
    assert [p.name for p in tmp_path.iterdir()] == [store.path(program_digest(policy)).name]  # no temporaries


def test_cheap_compiles_are_not_stored_and_the_directory_stays_bounded(tmp_path: Path) -> None:
    policy = Engine(_example_topology()).policy("VM1")
    ProgramStore(tmp_path, min_seconds=3600).program(policy)
    assert list(tmp_path.iterdir()) == []
    store = ProgramStore(tmp_path, min_seconds=0)
    store.program(policy)
    size = store.path(program_digest(policy)).stat().st_size
    bounded = ProgramStore(tmp_path, min_seconds=0, max_bytes=size)
    other = replace(policy, smtp_blocked=not policy.smtp_blocked)
    old = store.path(program_digest(policy))
    os.utime(old, (1, 1))  # the least recently used
    stale = tmp_path / ".tmp-dead-writer.program"
    stale.write_bytes(b"partial")
    os.utime(stale, (1, 1))
    bounded.program(other)
    assert sorted(p.name for p in tmp_path.iterdir()) == [bounded.path(program_digest(other)).name]


def test_a_compile_is_stored_when_it_was_slower_than_reading_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = Engine(_example_topology()).policy("VM1")
    store = ProgramStore(tmp_path)
    monkeypatch.setattr(store_module, "reading_seconds", lambda *_: 3600.0)
    store.program(policy)
    assert list(tmp_path.iterdir()) == []
    timed: list[float] = []

    def timing(*args: Any) -> float:
        timed.append(real_reading(*args))  # the real measurement runs on the stored bytes
        return 0.0

    monkeypatch.setattr(store_module, "reading_seconds", timing)
    store.program(policy)
    assert timed and timed[0] > 0
    assert _same_tables(program_arrays(store.program(policy)), program_arrays(compile_policy(policy).program))
    assert [p.name for p in tmp_path.iterdir()] == [store.path(program_digest(policy)).name]


real_reading = store_module.reading_seconds


def test_an_unwritable_directory_is_a_plain_compile(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    policy = Engine(_example_topology()).policy("VM1")
    assert _same_tables(
        program_arrays(ProgramStore(blocker / "compiled", min_seconds=0).program(policy)),
        program_arrays(compile_policy(policy).program),
    )


def test_engine_uses_the_users_cache_unless_told_not_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(store_module, "reading_seconds", lambda *_: 0.0)  # every compile stored
    topology = _example_topology()
    Engine(topology, disk_cache=False).compile("VM1")
    assert not (tmp_path / "compiled").exists()
    monkeypatch.setenv("OPENNSG_NO_CACHE", "1")
    Engine(topology).compile("VM1")
    assert not (tmp_path / "compiled").exists()
    monkeypatch.delenv("OPENNSG_NO_CACHE")
    Engine(topology).compile("VM1")
    assert len(list((tmp_path / "compiled").iterdir())) == 1


def test_verify_flows_writes_the_same_bytes_cached_uncached_and_with_no_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(cache))
    monkeypatch.setattr(store_module, "reading_seconds", lambda *_: 0.0)  # every compile stored
    rows = [
        {"targetResourceId": "VM1", "direction": d, "protocol": p, "localIPAddress": "10.0.1.4", "localPort": lp,
         "remoteIPAddress": r, "remotePort": "443"}
        for d in ("Inbound", "Outbound") for p in ("TCP", "UDP", "ICMP") for lp in ("22", "80", "*")
        for r in ("52.10.20.30", "10.0.2.4", "10.0.1.9")
    ]  # fmt: skip
    flows_file = tmp_path / "flows.jsonl"
    flows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()

    def run(*extra: str) -> bytes:
        clear_cache()  # each run as a new process: nothing compiled in memory
        out = tmp_path / "out.parquet"
        result = runner.invoke(app, ["verify", str(EXAMPLE), "--flows", str(flows_file), "--output", str(out), *extra])
        assert result.exit_code == 0, result.output
        return out.read_bytes()

    uncached = run("--no-cache")
    assert not (cache / "compiled").exists()
    miss = run()
    assert len(list((cache / "compiled").iterdir())) >= 1
    hit = run()
    assert uncached == miss == hit


def test_arrays_read_back_as_stored_and_other_bytes_are_refused() -> None:
    """Every dtype and shape a program holds (booleans, empty and 0-d arrays) comes back equal, writable and
    aligned; a cut or foreign payload raises one of the errors the store treats as a miss."""
    arrays: dict[str, np.ndarray] = {
        "words": np.arange(7, dtype=np.uint64),
        "flags": np.array([True, False, True]),
        "grid": np.arange(12, dtype=np.int32).reshape(3, 4),
        "none": np.zeros((0, 3), dtype=np.int16),
        "scalar": np.array(5, dtype=np.int64),
        "last": np.zeros(0, dtype=np.uint8),
    }
    payload = store_module.encode_arrays(arrays)
    back = store_module.decode_arrays(payload)
    assert _same_tables(back, arrays)
    assert all(a.shape == arrays[k].shape and a.flags.writeable and a.flags.aligned for k, a in back.items())
    for cut in range(len(payload)):
        try:
            store_module.decode_arrays(payload[:cut])
        except (KeyError, TypeError, ValueError):
            continue
        raise AssertionError(f"a payload cut at {cut} bytes was read")
    for foreign in (b"", b"\x02" + bytes(7) + b"{}", b"\x1a" + bytes(7) + b'[["a", "|O", [1], 0]]'):
        with pytest.raises((KeyError, TypeError, ValueError)):
            store_module.decode_arrays(foreign)
