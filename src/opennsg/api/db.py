"""Persistence: one table of ARM resources (JSON plus indexed columns), one of operations, one write-version row,
and saved revisions.

The schema is created and upgraded by the Alembic migrations shipped in ``opennsg/api/migrations``; SQLite (WAL) by
default, PostgreSQL through psycopg 3. Writes are serialised on the ``meta`` row, so every write sees the state the
previous one committed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
    Column("key", String(1024), primary_key=True),  # the id, lower-cased (ARM ids are case-insensitive)
    Column("id", String(1024), nullable=False),
    Column("type", String(200), nullable=False, index=True),
    Column("subscription", String(100), nullable=False, index=True),
    Column("resource_group", String(200), nullable=True, index=True),  # lower-cased
    Column("parent", String(1024), nullable=True, index=True),  # lower-cased id of the parent (group or resource)
    Column("etag", String(100), nullable=False),
    Column("version", BigInteger, nullable=False),  # write version that last changed the row
    Column("body", JSON, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("subscription", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("result", JSON, nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
)

#: Saved revisions (``opennsg.api.revisions``): the stored resources of some subscriptions at one write version.
revisions = Table(
    "revisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("label", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("subscriptions", JSON, nullable=False),  # lower-cased subscription ids whose resources it holds
    Column("rows", JSON, nullable=False),  # [{"id", "type", "body"}]
)

meta = Table(
    "meta",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("note", Text, nullable=True),
)

MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest migration's revision: a database already there is not handed to Alembic at all (its import and
#: script scan cost a quarter of a second at every start). A test checks it against the migrations shipped.
HEAD_REVISION = "0002"
#: Alembic's own record of the revision a database is at, as Alembic makes it (its primary key's name too).
alembic_version = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
#: The rows the migrations seed: the write-version row, before any write.
SEED_ROWS = {meta: [{"id": 1, "version": 0}]}


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` (and ``postgres://``) and use the psycopg 3 driver; a bare path means SQLite."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for in-memory or other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def open_engine(url: str) -> Engine:
    """An engine whose transactions take the write lock up front on SQLite (``BEGIN IMMEDIATE``) and use WAL."""
    url = normalise_url(url)
    if not is_sqlite(url):
        return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    else:
        engine = create_engine(url, connect_args={"check_same_thread": False}, poolclass=StaticPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: object, _record: object) -> None:
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]  # let BEGIN below take effect
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def current_revision(engine: Engine) -> list[str]:
    """The revisions Alembic has recorded in this database (none before the first start)."""
    with engine.begin() as connection:
        return _revisions(connection, inspect(connection).get_table_names())


def _revisions(connection: Connection, tables: list[str]) -> list[str]:
    if alembic_version.name not in tables:
        return []
    return list(connection.execute(select(alembic_version.c.version_num)).scalars())


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration. A database with no tables yet is created at it directly (the
    tables of ``metadata`` and the migrations' seed rows, then stamped with the head revision, as Alembic's docs
    describe: Alembic's import and script scan cost ~0.2 s of a first ``serve``); one at an older revision is
    upgraded by Alembic. A test checks that both ways make the same schema."""
    if current_revision(engine) == [HEAD_REVISION] or _created_at_head(engine):
        return
    # Alembic logs each plugin it sets up (on import) and each step at INFO: noise in ``opennsg serve``'s log (which
    # logs requests at INFO); its warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _created_at_head(engine: Engine) -> bool:
    """Whether the database is at the head revision after creating its schema, in one transaction, if it had no
    tables at all (on SQLite the transaction holds the write lock: a second server starting at once waits, then
    finds the tables; elsewhere it fails as a second Alembic upgrade would)."""
    with engine.begin() as connection:
        tables = inspect(connection).get_table_names()
        if tables:
            return _revisions(connection, tables) == [HEAD_REVISION]
        metadata.create_all(connection)
        for table, rows in SEED_ROWS.items():
            connection.execute(insert(table), rows)
        alembic_version.create(connection)
        connection.execute(insert(alembic_version).values(version_num=HEAD_REVISION))
    return True
