"""The store's write path: a batch writes each changed row once, in its final state; operation records are answered
from memory while kept, exactly as the database would answer them."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from opennsg import arm
from opennsg.api.db import open_engine
from opennsg.api.store import Change, Document, Snapshot, Store
from opennsg.model import NetworkSecurityGroup, default_security_rules
from opennsg.model.ids import network_id

SUB = "00000000-0000-0000-0000-0000000000aa"
GROUP_TYPE = "Microsoft.Resources/resourceGroups"


def group(name: str, location: str = "westus") -> Document:
    return Document(f"/subscriptions/{SUB}/resourceGroups/{name}", GROUP_TYPE, {"location": location})


def nsg(name: str, flush: bool) -> NetworkSecurityGroup:
    nsg_id = network_id(SUB, "a", "networkSecurityGroups", name)
    return NetworkSecurityGroup(nsg_id, name, "westus", {}, (), default_security_rules(nsg_id), flush_connection=flush)


def stored(store: Store) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {key: (row.id, row.etag, dict(row.body)) for key, row in store.snapshot.rows.items()}


def test_a_batch_writes_the_final_state_of_each_row(tmp_path: Path) -> None:
    url = str(tmp_path / "store.db")
    store = Store(open_engine(url))

    def put(*items: Document | NetworkSecurityGroup, delete: tuple[str, ...] = ()) -> Any:
        def plan(snapshot: Snapshot) -> Change[bool]:
            models = [i for i in items if isinstance(i, NetworkSecurityGroup)]
            topology = snapshot.topology.with_(nsgs=[*snapshot.topology.nsgs.values(), *models]) if models else None
            return Change(put=items, delete=delete, topology=topology, result=True)

        return store.write(plan, SUB)

    async def batch() -> None:
        await asyncio.gather(
            put(group("a")),
            put(group("b")),
            put(group("a", "eastus")),  # updated twice in the batch: the last one is stored
            put(nsg("n1", False)),
            put(nsg("n1", True)),
            put(group("c")),
            put(delete=(group("c").id,)),  # created and deleted in the batch: never stored
            put(group("b", "northeurope")),
        )

    asyncio.run(batch())
    asyncio.run(put(delete=(group("b").id,)))
    asyncio.run(put(group("b", "westeurope")))  # deleted, then created again
    in_memory = stored(store)
    assert {row[2].get("location") for row in in_memory.values() if row[0].endswith("/a")} == {"eastus"}
    assert all(not row[0].endswith("/c") for row in in_memory.values())
    nsg_body = next(row[2] for row in in_memory.values() if row[0].endswith("/n1"))
    assert nsg_body == arm.to_arm(nsg("n1", True))
    reloaded = Store(open_engine(url))
    assert stored(reloaded) == in_memory
    assert reloaded.snapshot.version == store.snapshot.version


def test_operation_records_are_answered_from_memory_as_from_the_database(tmp_path: Path) -> None:
    url = str(tmp_path / "ops.db")
    store = Store(open_engine(url), operation_retention=timedelta(seconds=2))
    result = {"access": "Allow", "ruleName": "securityRules/web"}
    operation = store.record(SUB, result)
    assert store.recent_operation(SUB, operation) == ("Succeeded", result)  # readable before it is committed
    assert store.recent_operation(SUB.upper(), operation) == ("Succeeded", result)
    store.drain()
    assert store.operation(SUB, operation) == ("Succeeded", result)
    other = "00000000-0000-0000-0000-0000000000bb"
    assert store.recent_operation(other, operation) is None
    assert store.operation(other, operation) is None
    empty = store.record(SUB, None)
    store.drain()
    assert store.recent_operation(SUB, empty) == ("Succeeded", None) == store.operation(SUB, empty)
    restarted = Store(open_engine(url), operation_retention=timedelta(seconds=2))
    assert restarted.recent_operation(SUB, operation) is None  # not recorded by this process: the database knows
    assert restarted.operation(SUB, operation) == ("Succeeded", result)
    time.sleep(2.2)
    assert store.recent_operation(SUB, operation) is None
    assert store.operation(SUB, operation) is None


def test_memory_keeps_a_bounded_number_of_operations(tmp_path: Path, monkeypatch: Any) -> None:
    from opennsg.api import store as store_module

    monkeypatch.setattr(store_module, "RECENT_OPERATIONS", 3)
    store = Store(open_engine(str(tmp_path / "bounded.db")))
    ids = [store.record(SUB, {"n": n}) for n in range(5)]
    store.drain()
    assert [store.recent_operation(SUB, i) is not None for i in ids] == [False, False, True, True, True]
    assert all(store.operation(SUB, i) is not None for i in ids)


def _stall_the_writer(store: Store) -> tuple[threading.Thread, threading.Event]:
    """A write started on a thread of its own whose plan waits for the returned event: until it is set, the store's
    writer is busy with it. The thread is returned to be joined."""
    writing, release = threading.Event(), threading.Event()

    def slow_plan(snapshot: Snapshot) -> Change[None]:
        writing.set()
        release.wait(10)
        return Change(put=(group("slow"),))

    async def stalled_write() -> Any:
        return await store.write(slow_plan, SUB)

    writer = threading.Thread(target=asyncio.run, args=(stalled_write(),))
    writer.start()
    assert writing.wait(10)
    return writer, release


def test_an_operation_record_is_readable_at_once_and_committed_without_its_caller_waiting(tmp_path: Path) -> None:
    store = Store(open_engine(str(tmp_path / "stalled.db")))
    writer, release = _stall_the_writer(store)  # busy with a write, the writer commits nothing else meanwhile
    began = time.monotonic()
    operation = store.record(SUB, {"access": "Deny"})
    assert time.monotonic() - began < 1  # the record did not wait for the writer
    assert store.recent_operation(SUB, operation) == ("Succeeded", {"access": "Deny"})
    release.set()
    writer.join(10)
    store.drain()
    assert store.operation(SUB, operation) == ("Succeeded", {"access": "Deny"})
    assert Store(open_engine(str(tmp_path / "stalled.db"))).operation(SUB, operation) == (
        "Succeeded",
        {"access": "Deny"},
    )


def test_a_record_not_yet_in_the_database_is_never_forgotten(tmp_path: Path, monkeypatch: Any) -> None:
    from opennsg.api import store as store_module

    monkeypatch.setattr(store_module, "RECENT_OPERATIONS", 3)
    store = Store(open_engine(str(tmp_path / "kept.db")))
    writer, release = _stall_the_writer(store)
    ids = [store.record(SUB, {"n": n}) for n in range(5)]
    assert all(store.recent_operation(SUB, i) is not None for i in ids)  # beyond the bound: none is committed yet
    release.set()
    writer.join(10)
    store.drain()  # now memory keeps the newest three: the slow write's operation and the last two records
    assert [store.recent_operation(SUB, i) is not None for i in ids] == [False, False, False, True, True]
    assert all(store.operation(SUB, i) is not None for i in ids)
