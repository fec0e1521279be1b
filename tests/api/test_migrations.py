"""The schema's migrations: a new database is migrated to the head, and a database already at the head is opened
without Alembic (``opennsg.api.db.HEAD_REVISION``, checked here against the migrations shipped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from opennsg.api import db


def test_head_revision_is_the_newest_migration_shipped() -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [db.HEAD_REVISION]


def test_a_new_database_is_migrated_to_the_head(tmp_path: Path) -> None:
    engine = db.open_engine(str(tmp_path / "new.db"))
    assert db.current_revision(engine) == []
    db.migrate(engine)
    assert db.current_revision(engine) == [db.HEAD_REVISION]
    with engine.connect() as connection:
        assert {"resources", "operations", "revisions", "meta"} <= set(inspect(connection).get_table_names())


def test_opening_a_database_at_the_head_imports_no_alembic(tmp_path: Path) -> None:
    path = tmp_path / "ready.db"
    db.migrate(db.open_engine(str(path)))
    probe = (
        "import sys; from opennsg.api import db; db.migrate(db.open_engine(sys.argv[1])); "
        "print('alembic' in sys.modules)"
    )
    answer = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"


def test_migrating_a_new_database_logs_nothing_below_warning(tmp_path: Path) -> None:
    """``opennsg serve`` logs at INFO: Alembic's "setup plugin ..." and "Running upgrade ..." lines were noise."""
    probe = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s'); "
        "from opennsg.api import db; db.migrate(db.open_engine(sys.argv[1]))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "new.db")], capture_output=True, text=True, check=True
    )
    assert answer.stderr == ""
