"""Operation records (the results of long-running diagnostics) expire: unreadable after their retention, and purged
while the service runs, not only at start-up (issue 9: every diagnostic left a row behind)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from tests.api.conftest import API, SUB, TOKENS, auth
from tests.api.test_fuzz import ACTIONS, VALID_BODIES

from opennsg.api import ServiceConfig, create_app, db, store

RETENTION = timedelta(seconds=0.5)


def _operations(path: Path) -> int:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        count: int = connection.execute(select(func.count()).select_from(db.operations)).scalar_one()
    engine.dispose()
    return count


def _committed_soon(path: Path, count: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while _operations(path) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_operation_results_expire_and_are_purged_while_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "OPERATION_PURGE_INTERVAL", timedelta(0))
    path = tmp_path / "ops.db"
    app = create_app(ServiceConfig(db_url=str(path), tokens=TOKENS, operation_retention=RETENTION))
    with TestClient(app, headers=auth()) as client:
        for group in ("rg1", "NetworkWatcherRG"):
            client.put(f"/subscriptions/{SUB}/resourcegroups/{group}?{API}", json={"location": "westus"})
        for resource, body in VALID_BODIES:
            assert client.put(f"{resource}?{API}", json=body).status_code in (200, 201)
        action, body = ACTIONS[0]
        answers = [client.post(f"{action}?{API}", json=body) for _ in range(5)]
        assert all(a.status_code == 202 for a in answers)
        first = answers[0].headers["Azure-AsyncOperation"]
        assert client.get(first).json()["status"] == "Succeeded"
        assert _committed_soon(path, 5)  # records reach the database with the writer's next batch

        time.sleep(RETENTION.total_seconds() + 0.2)
        gone = client.get(first)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "OperationNotFound"
        latest = client.post(f"{action}?{API}", json=body)
        assert client.get(latest.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert _operations(path) == 1  # the expired rows were deleted by the last diagnostic's record
