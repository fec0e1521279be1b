"""The schema's migrations: a new database is created at the head without Alembic, with the very schema the
migrations make; one at an older revision is upgraded by Alembic; one already at the head is opened without Alembic
(``opennsg.api.db.HEAD_REVISION``, checked here against the migrations shipped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from opennsg.api import db

from .conftest import postgres_database

TABLES = {"resources", "operations", "revisions", "meta", "alembic_version"}


def alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgraded_by_alembic(url: str, revision: str) -> Engine:
    """A new database brought to ``revision`` by the migrations themselves."""
    engine = db.open_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    return engine


def schema(engine: Engine) -> dict[str, Any]:
    """Everything the database says about its tables (names, columns, keys, indexes) and the rows of the small ones
    the migrations seed or stamp."""
    with engine.connect() as connection:
        found = inspect(connection)
        tables = sorted(found.get_table_names())
        described: dict[str, Any] = {
            table: {
                "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                            for c in found.get_columns(table)],
                "primary key": found.get_pk_constraint(table),
                "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"])
                                  for i in found.get_indexes(table)),
                "unique": found.get_unique_constraints(table),
                "foreign keys": found.get_foreign_keys(table),
            }
            for table in tables
        }  # fmt: skip
        for table in ("meta", "alembic_version"):
            described[table]["rows"] = [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    return described


def test_head_revision_is_the_newest_migration_shipped() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [db.HEAD_REVISION]


def test_a_new_database_is_created_at_the_head_with_the_schema_the_migrations_make(db_url: str, tmp_path: Path) -> None:
    engine = db.open_engine(db_url)
    assert db.current_revision(engine) == []
    db.migrate(engine)
    assert db.current_revision(engine) == [db.HEAD_REVISION]
    assert set(inspect(engine).get_table_names()) == TABLES
    sqlite = db.is_sqlite(db.normalise_url(db_url))
    reference = str(tmp_path / "by-alembic.db") if sqlite else postgres_database()
    assert schema(engine) == schema(upgraded_by_alembic(reference, "head"))


def test_a_database_at_an_older_revision_is_upgraded_by_alembic(tmp_path: Path) -> None:
    engine = upgraded_by_alembic(str(tmp_path / "old.db"), "0001")
    assert db.current_revision(engine) == ["0001"]
    with engine.begin() as connection:
        connection.execute(text("UPDATE meta SET version = 7"))
    db.migrate(engine)
    assert db.current_revision(engine) == [db.HEAD_REVISION]
    assert set(inspect(engine).get_table_names()) == TABLES
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version FROM meta")).scalar_one() == 7  # kept, not seeded again


def test_a_database_with_tables_but_no_revision_is_left_to_alembic(tmp_path: Path) -> None:
    """Not created over: whatever is there is Alembic's to judge (here it fails, as it always did)."""
    engine = db.open_engine(str(tmp_path / "odd.db"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE resources (key TEXT)"))
    with pytest.raises(DBAPIError, match="resources"):
        db.migrate(engine)


def test_new_and_ready_databases_are_opened_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "ready.db"
    probe = (
        "import sys; from opennsg.api import db; db.migrate(db.open_engine(sys.argv[1])); "
        "print('alembic' in sys.modules)"
    )
    for start in ("new", "ready"):
        answer = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
        assert answer.stdout.strip() == "False", start


def test_upgrading_a_database_logs_nothing_below_warning(tmp_path: Path) -> None:
    """``opennsg serve`` logs at INFO: Alembic's "setup plugin ..." and "Running upgrade ..." lines were noise."""
    path = tmp_path / "old.db"
    upgraded_by_alembic(str(path), "0001").dispose()
    probe = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s'); "
        "from opennsg.api import db; engine = db.open_engine(sys.argv[1]); db.migrate(engine); "
        "print(db.current_revision(engine))"
    )
    answer = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert (answer.stdout.strip(), answer.stderr) == (f"['{db.HEAD_REVISION}']", "")
