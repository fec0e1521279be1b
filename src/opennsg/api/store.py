"""The service's state: an immutable in-memory snapshot of every stored resource, and atomic writes to the database.

Reads are served from the snapshot (and its caches: the Topology, the Engine, rendered JSON), so they never touch
the database. Writes go through one writer thread holding the database's write lock (``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` of the version row on PostgreSQL): it plans each change against the current
snapshot, writes every changed row and the new version, commits the writes queued meanwhile together (group
commit), and only then publishes the new snapshot and answers. If another process wrote in between, the snapshot is
reloaded first. Operation records (the results a client polls) are readable from memory as soon as they are made
and reach the database with the next batch, without their request waiting. One service process per database is the
supported set-up; several processes stay correct for writes but may serve stale reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar, Union

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from opennsg import arm
from opennsg.api import db
from opennsg.api.catalog import DEPLOYMENT_STATUS_TYPE, KIND_BY_TYPE, STORED_COLLECTIONS, SUBSCRIPTION_TYPE, ModelKind
from opennsg.api.references import BackReferences
from opennsg.arm.documents import parse_deployment_status
from opennsg.arm.parse import Reader
from opennsg.engine import Engine as NsgEngine
from opennsg.model.avnm import DeploymentStatus
from opennsg.model.ids import ResourceId, id_key, parent_id, resource_group_id, subscription_scope_id
from opennsg.model.resources import Resource
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology

T = TypeVar("T")
log = logging.getLogger("opennsg.api.store")
#: How long an operation's status and result stay readable (pollers read them within seconds or minutes); expired
#: rows are deleted at start-up and then at most every ``OPERATION_PURGE_INTERVAL`` while operations are recorded.
OPERATION_RETENTION = timedelta(hours=1)
OPERATION_PURGE_INTERVAL = timedelta(minutes=1)
MAX_BATCH = 64  # writes committed together at most (group commit)
#: Operations this process recorded that it answers from memory (status and result reads skip the database).
RECENT_OPERATIONS = 4096


# Statements built once (SQLAlchemy then reuses their compiled form): the write path runs them on every write.
_COLUMNS = ("id", "type", "subscription", "resource_group", "parent", "etag", "version", "body")
_LOCK_VERSION = select(db.meta.c.version).where(db.meta.c.id == 1).with_for_update()
_SET_VERSION = update(db.meta).where(db.meta.c.id == 1).values(version=bindparam("new_version"))
_UPDATE_ROW = (
    update(db.resources)
    .where(db.resources.c.key == bindparam("row_key"))
    .values({name: bindparam(name) for name in _COLUMNS})
)
_INSERT_ROW = insert(db.resources).values(key=bindparam("row_key"), **{name: bindparam(name) for name in _COLUMNS})
_INSERT_OPERATION = insert(db.operations)


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


class Row:
    """One stored resource: its ARM JSON (without etag and read-only back-references) and indexed columns.

    A row written by this process keeps the model it came from and renders its JSON only when asked (the database
    write at the end of a batch, or a reader of ``body``): a batch of writes to one NSG renders it once, not once
    per write.
    """

    __slots__ = ("_body", "_model", "_parsed", "etag", "id", "key", "type", "version")

    def __init__(
        self,
        id: str,
        type: str,
        body: Mapping[str, Any] | None,
        etag: str,
        version: int,
        model: Resource | None = None,
    ) -> None:
        if body is None and model is None:
            raise ValueError(f"row {id} needs a body or a model")
        self.id = id
        self.type = type
        self.etag = etag
        self.version = version
        self.key = id_key(id)
        self._body = body
        self._model = model
        self._parsed: ResourceId | None = None

    @property
    def body(self) -> Mapping[str, Any]:
        if self._body is None:
            assert self._model is not None
            self._body = arm.to_arm(self._model)  # the same JSON whichever thread renders it first
        return self._body

    @property
    def parsed(self) -> ResourceId:
        if self._parsed is None:
            parsed = ResourceId.parse(self.id)
            if parsed is None:
                raise ValueError(f"not an ARM id: {self.id}")
            self._parsed = parsed
        return self._parsed

    @property
    def group_key(self) -> str | None:
        group = self.parsed.resource_group
        return group.casefold() if group is not None else None


@dataclass(frozen=True, slots=True)
class Document:
    """A resource the model does not know (resource group, subscription, network watcher): JSON as is."""

    id: str
    type: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Change(Generic[T]):
    """What a write does: resources to store (model objects or documents), ids to delete, the resulting topology."""

    put: tuple[Resource | Document, ...] = ()
    delete: tuple[str, ...] = ()
    topology: Topology | None = None
    result: T | None = None


class Snapshot:
    """Every stored resource at one write version; immutable, with lazily built caches."""

    def __init__(self, version: int, rows: Mapping[str, Row], topology: Topology) -> None:
        self.version = version
        self.rows = rows
        self.topology = topology
        self._engine: NsgEngine | None = None
        self._rendered: dict[str, dict[str, Any]] = {}
        self._encoded: dict[str, tuple[bytes, bytes | None]] = {}
        self._lock = threading.Lock()

    def row(self, resource_id: str) -> Row | None:
        return self.rows.get(id_key(resource_id))

    @functools.cached_property
    def references(self) -> BackReferences:
        """Who uses what, for the back-references of GET bodies; built once."""
        return BackReferences.of(self.topology)

    @property
    def engine(self) -> NsgEngine:
        """The diagnostics engine over this snapshot's topology, built once."""
        with self._lock:
            if self._engine is None:
                self._engine = NsgEngine(self.topology)
            return self._engine

    def rendered(self, key: str, render: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The GET body of a resource, rendered once per snapshot (back-references depend on the whole state)."""
        cached = self._rendered.get(key)
        if cached is None:
            cached = render()
            self._rendered[key] = cached
        return cached

    def encoded(
        self, key: str, encode: Callable[[], tuple[bytes, bytes | None] | None]
    ) -> tuple[bytes, bytes | None] | None:
        """A GET answer as sent (JSON bytes and ETag), encoded once per snapshot; None (not kept) when there is
        none."""
        cached = self._encoded.get(key)
        if cached is None:
            cached = encode()
            if cached is not None:
                self._encoded[key] = cached
        return cached


def _model_of(row: Row) -> Resource | None:
    kind = KIND_BY_TYPE.get(row.type.casefold())
    if kind is None:
        return None
    resource = arm.parse_resource(kind.arm_kind, dict(row.body), row.id)
    if not isinstance(resource, Resource):
        raise TypeError(f"{row.id} is not a top-level resource")
    return resource


def _topology(
    models: Iterable[Resource],
    subscriptions: list[dict[str, Any]],
    service_tags: ServiceTags | None,
    statuses: Iterable[DeploymentStatus] = (),
) -> Topology:
    """Subscriptions are known only when imported (``serve --import``); without one the SMTP policy assumes
    PayAsYouGo (semantics §0)."""
    by_collection: dict[str, list[Resource]] = {collection: [] for collection in STORED_COLLECTIONS}
    for model in models:
        by_collection[kind_of(model).collection].append(model)
    known = arm.load_documents([("stored subscriptions", subscriptions)], validate=False).subscriptions
    return Topology.of(
        **by_collection,  # type: ignore[arg-type]
        subscriptions=known.values(),
        service_tags=service_tags,
        deployment_statuses=statuses,
    )


def _deployment_statuses(rows: Iterable[Row]) -> list[DeploymentStatus]:
    """The deployment records commits stored (``{manager}/deploymentStatus/{region}``), as model values."""
    out = []
    for row in rows:
        if row.type.casefold() != DEPLOYMENT_STATUS_TYPE.casefold():
            continue
        status = parse_deployment_status(dict(row.body), Reader(), "")
        if status is not None:
            out.append(dataclasses.replace(status, network_manager_id=parent_id(row.id)))
    return out


def kind_of(resource: Resource) -> ModelKind:
    parsed = ResourceId.parse(resource.id)
    if parsed is None:
        raise ValueError(f"not an ARM id: {resource.id}")
    kind = KIND_BY_TYPE.get(parsed.type.casefold())
    if kind is None:
        raise ValueError(f"not a stored model type: {parsed.type}")
    return kind


@dataclass(frozen=True, slots=True)
class _Records:
    """Wakes the writer for the operation records waiting to be stored (``Store.record``): queued once per batch of
    them, by the first, not once per record."""


@dataclass(frozen=True, slots=True)
class _Drain:
    """Resolved once everything queued before it is committed (``Store.drain``)."""


_Waiter = Union["asyncio.Future[Any]", "Future[Any]"]
_Queued = tuple[Callable[[Snapshot], Change[Any]] | _Records | _Drain, str, _Waiter | None]
#: What the writer answers one queued item: its waiter, its result, or the exception it failed with.
_Outcome = tuple[_Waiter | None, Any, BaseException | None]


def _settle(outcomes: list[_Outcome]) -> None:
    """Answer each waiter: a write's (an asyncio future) on its event loop, all of one loop's with one wake-up of
    that loop (a wake-up each cost a system call and a turn of the loop per write); a drain's directly."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        waiter = outcome[0]
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append(outcome)
        elif waiter is not None:
            _answer(outcome)
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for these answers any more
            loop.call_soon_threadsafe(_answer_all, answers)


def _answer_all(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        _answer(outcome)


def _answer(outcome: _Outcome) -> None:
    waiter, result, failure = outcome
    if waiter is None or waiter.done():  # a cancelled request (its client went away)
        return
    if failure is not None:
        waiter.set_exception(failure)
    else:
        waiter.set_result(result)


#: An operation record kept in memory: (subscription, casefolded), status, result, created.
_Operation = tuple[str, str, Any, datetime]
#: Seconds the writer waits for more operation records before committing a batch of nothing else (a write that
#: arrives meanwhile is committed at once, with them): one transaction for a burst of diagnostics, not one each. A
#: transaction's fixed cost (begin, the version read, commit) was half the writer's CPU per ipFlowVerify at 10 ms;
#: the records stay readable from memory meanwhile.
RECORD_LINGER = 0.05


class _RandomIds:
    """Unguessable ids (16 bytes from ``os.urandom``, as hex: as unguessable as uuid4's hex) cut from a buffer filled
    for 256 ids at a time: ``os.urandom`` releases the GIL for its system call, and the event loop then waited for
    the writer thread to give it back, longer than the rest of an ipFlowVerify's answer took. A forked child draws
    from a buffer of its own."""

    IDS_PER_FILL = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._at = b"", 0

    def next(self) -> str:
        with self._lock:
            if self._at >= len(self._buffer):
                self._buffer, self._at = os.urandom(16 * self.IDS_PER_FILL), 0
            at = self._at
            self._at = at + 16
            return self._buffer[at : at + 16].hex()


_operation_ids = _RandomIds()


def _operation_row(subscription: str, result: Any) -> dict[str, Any]:
    return {
        "id": _operation_ids.next(),
        "subscription": subscription.casefold(),
        "status": "Succeeded",
        "result": result,
        "created": datetime.now(UTC),
    }


class Store:
    """The database plus the published snapshot."""

    def __init__(
        self,
        engine: Engine,
        service_tags: ServiceTags | None = None,
        operation_retention: timedelta = OPERATION_RETENTION,
    ) -> None:
        self.engine = engine
        self.service_tags = service_tags
        self.operation_retention = operation_retention
        self._purge_lock = threading.Lock()
        self._next_purge = datetime.now(UTC)
        # Writes are serialised anyway: one writer thread takes them from a queue, without lock contention.
        self._queue: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        # In the order recorded (the oldest is forgotten first): an OrderedDict finds its oldest entry at once, where
        # a dict's first live entry lies past the holes its deletions leave (a scan of microseconds per record).
        self._recent: OrderedDict[str, _Operation] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._unstored: list[dict[str, Any]] = []  # operation records no commit has taken yet (``_recent_lock``)
        self._in_flight: set[str] = set()  # ids of the records not in the database yet: never forgotten meanwhile
        threading.Thread(target=self._writer, name="opennsg-writer", daemon=True).start()
        db.migrate(engine)
        with engine.begin() as connection:
            self._purge_operations(connection, datetime.now(UTC))
            self.snapshot = self._load(connection)

    def _load(self, connection: Connection) -> Snapshot:
        version = connection.execute(select(db.meta.c.version).where(db.meta.c.id == 1)).scalar_one()
        rows: dict[str, Row] = {}
        for r in connection.execute(select(db.resources)).mappings():
            row = Row(r["id"], r["type"], r["body"], r["etag"], r["version"])
            rows[row.key] = row
        return self.snapshot_of(version, rows)

    def snapshot_of(self, version: int, rows: Mapping[str, Row]) -> Snapshot:
        """The snapshot of these rows (the stored state, or a saved revision's copy of it)."""
        models = [m for m in (_model_of(row) for row in rows.values()) if m is not None]
        subscriptions = [dict(r.body) for r in rows.values() if r.type.casefold() == SUBSCRIPTION_TYPE.casefold()]
        topology = _topology(models, subscriptions, self.service_tags, _deployment_statuses(rows.values()))
        return Snapshot(version, MappingProxyType(dict(rows)), topology)

    async def write(self, plan: Callable[[Snapshot], Change[T]], subscription: str) -> tuple[Snapshot, Change[T], str]:
        """Plan against the current state and apply atomically; returns the new snapshot, the change, operation id.

        ``plan`` raises ApiError (nothing is applied) when the resulting state would be invalid. Writes queue for the
        writer thread, which commits whatever has queued up in one transaction (group commit): each plan still sees
        the state its predecessors left, and each gets its own write version.
        """
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put((plan, subscription, done))
        outcome: tuple[Snapshot, Change[T], str] = await done
        return outcome

    def _writer(self) -> None:
        while True:
            batch = [self._queue.get()]
            linger_until: float | None = None
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except queue.Empty:
                    if not all(isinstance(item[0], _Records) for item in batch):
                        break
                if linger_until is None:
                    linger_until = time.monotonic() + RECORD_LINGER
                remaining = linger_until - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[_Queued]) -> None:
        outcomes: list[_Outcome] = []
        with self._recent_lock:
            records, self._unstored = self._unstored, []
        if not records and all(isinstance(item[0], _Records) for item in batch):
            return  # their records were committed with an earlier batch
        try:
            with self.engine.begin() as connection:
                version = connection.execute(_LOCK_VERSION).scalar_one()
                stored = self.snapshot if version == self.snapshot.version else self._load(connection)
                current = stored
                written: dict[str, Row | None] = {}  # key -> the row at the end of the batch (None: deleted)
                operations: list[dict[str, Any]] = list(records)
                written_operations: list[dict[str, Any]] = []  # the writes' own (records are remembered already)
                for plan, subscription, done in batch:
                    if isinstance(plan, _Records):
                        continue
                    if isinstance(plan, _Drain):
                        outcomes.append((done, None, None))
                        continue
                    try:
                        change = plan(current)
                    except Exception as refused:  # the plan's own verdict (ApiError, OpenNsgError): only it fails
                        outcomes.append((done, None, refused))
                        continue
                    if not change.put and not change.delete:  # nothing to write (a DELETE of what is not there)
                        outcomes.append((done, (current, change, ""), None))
                        continue
                    current = self._apply(current, change, written)
                    operation = _operation_row(subscription, None)
                    operations.append(operation)
                    written_operations.append(operation)
                    outcomes.append((done, (current, change, operation["id"]), None))
                self._write_rows(connection, stored, written)
                if operations:
                    self._purge_if_due(connection)
                    connection.execute(_INSERT_OPERATION, operations)
                if current is not stored:
                    connection.execute(_SET_VERSION, {"new_version": current.version})
        except Exception as failure:  # the transaction failed: nothing of the batch was applied
            if records:
                log.warning("operation records not stored (they stay readable from this process's memory): %s", failure)
                self._landed(records)
            _settle([(done, None, failure) for _, _, done in batch if done is not None])
            return
        self.snapshot = current
        self._remember(written_operations)
        if records:
            self._landed(records)
        _settle(outcomes)

    def _landed(self, records: list[dict[str, Any]]) -> None:
        """These records' commit is over: from now on memory may forget them like any other."""
        with self._recent_lock:
            self._in_flight.difference_update(record["id"] for record in records)
            self._forget_beyond_bound()

    def _apply(self, current: Snapshot, change: Change[Any], written: dict[str, Row | None]) -> Snapshot:
        """The snapshot one change leads to; its rows are noted in ``written`` for the batch's database write."""
        new_version = current.version + 1
        rows = dict(current.rows)
        for resource_id in change.delete:
            key = id_key(resource_id)
            rows.pop(key, None)
            written[key] = None
        for item in change.put:
            row = self._row(item, new_version)
            rows[row.key] = row
            written[row.key] = row
        topology = change.topology if change.topology is not None else current.topology
        return Snapshot(new_version, MappingProxyType(rows), topology)

    @staticmethod
    def _write_rows(connection: Connection, stored: Snapshot, written: Mapping[str, Row | None]) -> None:
        """Write the batch's net effect: each changed row once, in its final state (the batch commits as one
        transaction, so no reader ever sees a state in between)."""
        deleted = [key for key, row in written.items() if row is None and key in stored.rows]
        updated: list[dict[str, Any]] = []
        inserted: list[dict[str, Any]] = []
        for key, row in written.items():
            if row is not None:
                (updated if key in stored.rows else inserted).append(_columns(row))
        if deleted:
            connection.execute(delete(db.resources).where(db.resources.c.key.in_(deleted)))
        if updated:
            connection.execute(_UPDATE_ROW, updated)
        if inserted:
            connection.execute(_INSERT_ROW, inserted)

    def _row(self, item: Resource | Document, version: int) -> Row:
        if isinstance(item, Document):
            return Row(item.id, item.type, dict(item.body), new_etag(), version)
        return Row(item.id, kind_of(item).type, None, new_etag(), version, model=item)

    def _purge_operations(self, connection: Connection, now: datetime) -> None:
        connection.execute(delete(db.operations).where(db.operations.c.created < now - self.operation_retention))
        self._next_purge = now + OPERATION_PURGE_INTERVAL

    def _purge_if_due(self, connection: Connection) -> None:
        """Delete expired operation records, at most every purge interval (called as records are written)."""
        now = datetime.now(UTC)
        if now >= self._next_purge and self._purge_lock.acquire(blocking=False):
            try:
                self._purge_operations(connection, now)
            finally:
                self._purge_lock.release()

    def _remember(self, operations: Iterable[dict[str, Any]]) -> None:
        with self._recent_lock:
            self._remember_locked(operations)

    def _remember_locked(self, operations: Iterable[dict[str, Any]]) -> None:
        for operation in operations:
            self._recent[operation["id"]] = (
                operation["subscription"],
                operation["status"],
                operation["result"],
                operation["created"],
            )
        self._forget_beyond_bound()

    def _forget_beyond_bound(self) -> None:
        while len(self._recent) > RECENT_OPERATIONS:
            oldest = next(iter(self._recent))
            if oldest in self._in_flight:  # only memory can answer it yet: kept (the bound waits for its commit)
                break
            del self._recent[oldest]

    def record(self, subscription: str, result: Any) -> str:
        """Keep the result of a completed action (IP flow verify, ...) for its operation-result URL; returns its id.

        The record is readable from this process's memory at once, so every answer a client is given can be polled;
        it reaches the database with the writer's next batch (within ``RECORD_LINGER`` when nothing else is
        written), without the caller waiting for that commit. A result is not a write: a crash before that commit
        loses only the record of an answer already given, never an acknowledged change.
        """
        row = _operation_row(subscription, result)
        with self._recent_lock:
            self._in_flight.add(row["id"])
            self._remember_locked((row,))
            self._unstored.append(row)
            first = len(self._unstored) == 1
        if first:  # the writer is woken once for a burst of records, and commits them together
            self._queue.put((_Records(), subscription, None))
        return str(row["id"])

    def drain(self) -> None:
        """Wait until everything queued so far (operation records included) is committed: at shutdown, and for
        readers of the database that must see the records this process has answered with."""
        done: Future[None] = Future()
        self._queue.put((_Drain(), "", done))
        done.result()

    def recent_operation(self, subscription: str, operation: str) -> tuple[str, Any] | None:
        """(status, result) of an operation this process recorded and still keeps in memory, else None (ask
        ``operation``, which reads the database)."""
        found = self._recent.get(operation)
        if found is None or found[0] != subscription.casefold():
            return None
        if found[3] < datetime.now(UTC) - self.operation_retention:
            return None
        return found[1], found[2]

    def operation(self, subscription: str, operation: str) -> tuple[str, Any] | None:
        """(status, result) of an operation of this subscription, or None when unknown."""
        with self.engine.begin() as connection:
            found = (
                connection.execute(
                    select(db.operations.c.status, db.operations.c.result).where(
                        db.operations.c.id == operation,
                        db.operations.c.subscription == subscription.casefold(),
                        db.operations.c.created >= datetime.now(UTC) - self.operation_retention,
                    )
                )
                .mappings()
                .first()
            )
        return (found["status"], found["result"]) if found else None


def _columns(row: Row) -> dict[str, Any]:
    """The row's values for the resources table."""
    return {
        "row_key": row.key,
        "id": row.id,
        "type": row.type,
        "subscription": row.parsed.subscription.casefold(),
        "resource_group": row.group_key,
        "parent": _parent_key(row),
        "etag": row.etag,
        "version": row.version,
        "body": dict(row.body),
    }


def _parent_key(row: Row) -> str | None:
    parsed = row.parsed
    if parsed.parent is not None:
        return id_key(str(parsed.parent))
    if parsed.namespace is not None and parsed.resource_group is not None:
        return id_key(resource_group_id(parsed.subscription, parsed.resource_group))
    if parsed.resource_group is not None:
        return id_key(subscription_scope_id(parsed.subscription))
    return None
