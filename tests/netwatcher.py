"""Network Watcher answers in Azure's JSON, as the service and the CLI render them: the engine's values through
``opennsg.arm.netwatcher`` (tests check the shapes users get)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.netwatcher import (
    diagnostic_result_to_arm,
    effective_groups_to_arm,
    parse_profile,
    security_group_view_to_arm,
)
from opennsg.engine import Engine


def effective_json(engine: Engine, nic: str) -> list[dict[str, Any]]:
    return effective_groups_to_arm(engine.effective_rules(nic), engine.topology.service_tags)


def security_group_view_json(engine: Engine, target: str) -> dict[str, Any]:
    return security_group_view_to_arm(engine.security_group_view(target), engine.topology.service_tags)


def diagnose_json(engine: Engine, nic: str, profile: Mapping[str, Any]) -> dict[str, Any]:
    parsed = parse_profile(profile, engine.topology.service_tags)
    result = diagnostic_result_to_arm(engine.diagnose(nic, parsed))
    return {"profile": dict(profile), "networkSecurityGroupResult": result}
