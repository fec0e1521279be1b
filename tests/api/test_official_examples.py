"""Microsoft's REST API examples (Microsoft.Network 2026-01-01) replayed against the service.

Every example whose operation the service routes is sent, with what it refers to created first through the API;
every response body (the initial one, and the final one of a long-running operation) must match the swagger's
response schema. The operations the service does not implement are listed here, so a new route shows up as a
failure until it leaves the list (and its examples are then replayed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import TOKENS, auth
from tests.api.official_examples import (
    SPEC,
    Example,
    documented_statuses,
    examples,
    replay,
    schema_problems,
)

from opennsg.api import ServiceConfig, create_app

pytestmark = pytest.mark.skipif(not SPEC.is_dir(), reason=f"the official REST API specification is not at {SPEC}")

#: Operations with examples that the service does not implement (operation ids of the swagger files).
NOT_IMPLEMENTED = frozenset(
    {
        "AddressPrefixSets_CreateOrUpdate",  # network manager IPAM: not modelled
        "AddressPrefixSets_Delete",
        "AddressPrefixSets_List",
        "FlowLogs_CreateOrUpdate",  # flow-log resources: issue #14, in progress
        "FlowLogs_Delete",
        "FlowLogs_Get",
        "FlowLogs_List",
        "FlowLogs_UpdateTags",
        "NetworkWatchers_GetFlowLogStatus",
        "NetworkWatchers_SetFlowLogConfiguration",
        "NetworkWatchers_GetNextHop",
        "ServiceTagInformation_List",
    }
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One in-process service for every example (each example works in a subscription of its own)."""
    database = Path(tmp_path_factory.mktemp("official")) / "opennsg.db"
    with TestClient(create_app(ServiceConfig(db_url=str(database), tokens=TOKENS)), headers=auth()) as client:
        yield client


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path).casefold()


@pytest.fixture(scope="module")
def routed(service: TestClient) -> frozenset[tuple[str, str]]:
    """(path template, method) of every operation the service publishes in its OpenAPI document."""
    document = service.get("/openapi.json").json()
    return frozenset((_template(path), method) for path, item in document["paths"].items() for method in item)


def implemented(example: Example, routed: frozenset[tuple[str, str]]) -> bool:
    return (_template(example.path), example.method) in routed


def test_the_not_implemented_operations_are_exactly_the_listed_ones(routed: frozenset[tuple[str, str]]) -> None:
    missing = {e.operation_id for e in examples() if not implemented(e, routed)}
    assert missing == NOT_IMPLEMENTED, (
        f"newly implemented (remove from NOT_IMPLEMENTED): {sorted(NOT_IMPLEMENTED - missing)}; "
        f"not implemented and not listed: {sorted(missing - NOT_IMPLEMENTED)}"
    )
    assert len(examples()) == len(list(SPEC.glob("examples/*.json"))), "every example file belongs to an operation"


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.name)
def test_every_response_matches_the_official_schema(
    example: Example, service: TestClient, routed: frozenset[tuple[str, str]]
) -> None:
    if not implemented(example, routed):
        assert example.operation_id in NOT_IMPLEMENTED
        pytest.skip(f"{example.operation_id} is not implemented")
    result = replay(service, example)
    assert not result.setup_failures, result.setup_failures
    problems: list[str] = []
    for exchange in result.exchanges:
        if exchange.status not in documented_statuses(example):
            problems.append(f"{exchange.label}: undocumented status {exchange.status}: {exchange.body}")
            continue
        problems += [
            f"{exchange.label} {exchange.status}: {p}" for p in schema_problems(example, exchange.status, exchange.body)
        ]
    assert not problems, "\n".join(problems)
