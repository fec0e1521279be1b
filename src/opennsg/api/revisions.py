"""Saved revisions: a named copy of the stored resources of the caller's subscriptions, kept to be compared later.

The store keeps no history (each write replaces rows), so "what changed since Monday?" needs a copy taken on
Monday. A revision holds the rows of the subscriptions its saver's token grants; it is shown to a token only when
the token grants every subscription whose resources it holds, so it cannot carry one tenant's rules to another.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select

from opennsg.api import db
from opennsg.api.store import Row, Store
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import ResourceId
from opennsg.model.topology import Topology

MAX_REVISIONS = 200  # kept at once; the oldest must be deleted before another is saved
MAX_LABEL = 200


@dataclass(frozen=True)
class RevisionInfo:
    id: str
    label: str
    created: datetime
    version: int
    resources: int


def _granted(grant: frozenset[str] | None, subscriptions: Sequence[str]) -> bool:
    return grant is None or "*" in grant or all(s in grant for s in subscriptions)


def _subscription(row: Row) -> str:
    parsed = ResourceId.parse(row.id)
    return parsed.subscription.casefold() if parsed else ""


class Revisions:
    """Revisions of one store's state, narrowed by the caller's grant (None: no authentication, everything)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, grant: frozenset[str] | None, label: str) -> RevisionInfo:
        label = label.strip()
        if not label or len(label) > MAX_LABEL:
            raise OpenNsgError(
                [ArmError(Code.INVALID_REVISION_LABEL, f"A revision needs a label of 1 to {MAX_LABEL} characters.")]
            )
        snapshot = self.store.snapshot
        rows = [r for r in snapshot.rows.values() if grant is None or "*" in grant or _subscription(r) in grant]
        subscriptions = sorted({_subscription(r) for r in rows})
        info = RevisionInfo(str(uuid.uuid4()), label, datetime.now(UTC), snapshot.version, len(rows))
        with self.store.engine.begin() as connection:
            count = connection.execute(select(func.count()).select_from(db.revisions)).scalar_one()
            if count >= MAX_REVISIONS:
                raise OpenNsgError(
                    [
                        ArmError(
                            Code.TOO_MANY_REVISIONS,
                            f"{MAX_REVISIONS} revisions are saved already; delete one before saving another.",
                        )
                    ]
                )
            connection.execute(
                insert(db.revisions).values(
                    id=info.id,
                    label=info.label,
                    created=info.created,
                    version=info.version,
                    subscriptions=subscriptions,
                    rows=[{"id": r.id, "type": r.type, "body": dict(r.body)} for r in rows],
                )
            )
        return info

    def list(self, grant: frozenset[str] | None) -> list[RevisionInfo]:
        """The revisions this grant may see, newest first."""
        columns = (db.revisions.c.id, db.revisions.c.label, db.revisions.c.created, db.revisions.c.version)
        out = []
        with self.store.engine.connect() as connection:
            query = select(*columns, db.revisions.c.subscriptions, func.json_array_length(db.revisions.c.rows))
            for r in connection.execute(query):
                if _granted(grant, r[4]):
                    out.append(RevisionInfo(r[0], r[1], _aware(r[2]), r[3], int(r[5])))
        return sorted(out, key=lambda i: (i.created, i.id), reverse=True)

    def topology(self, grant: frozenset[str] | None, revision_id: str) -> tuple[RevisionInfo, Topology]:
        """A revision's resources as a topology; ``RevisionNotFound`` when it does not exist or is not granted."""
        with self.store.engine.connect() as connection:
            found = connection.execute(select(db.revisions).where(db.revisions.c.id == revision_id)).mappings().first()
        _check_granted(grant, revision_id, found["subscriptions"] if found is not None else None)
        assert found is not None
        rows = {}
        for item in found["rows"]:
            row = Row(item["id"], item["type"], item["body"], "", found["version"])
            rows[row.key] = row
        snapshot = self.store.snapshot_of(found["version"], rows)
        info = RevisionInfo(found["id"], found["label"], _aware(found["created"]), found["version"], len(rows))
        return info, snapshot.topology

    def delete(self, grant: frozenset[str] | None, revision_id: str) -> None:
        """Delete a revision this grant may see (``RevisionNotFound`` otherwise); its rows are not read."""
        with self.store.engine.begin() as connection:
            query = select(db.revisions.c.subscriptions).where(db.revisions.c.id == revision_id)
            _check_granted(grant, revision_id, connection.execute(query).scalar_one_or_none())
            connection.execute(delete(db.revisions).where(db.revisions.c.id == revision_id))


def _check_granted(grant: frozenset[str] | None, revision_id: str, subscriptions: Sequence[str] | None) -> None:
    """A revision that does not exist and one the grant may not see are refused alike."""
    if subscriptions is None or not _granted(grant, subscriptions):
        raise OpenNsgError([ArmError(Code.REVISION_NOT_FOUND, f"There is no saved revision '{revision_id}'.")])


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
