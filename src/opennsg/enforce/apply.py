"""Applying a compiled NIC: atomically, fail-closed, and ``flushConnection`` on the kernel's connection table."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from opennsg.enforce.compile import RuleRef, Ruleset, compile_policy
from opennsg.enforce.conntrack import delete_flow, list_flows
from opennsg.enforce.kernel import fail_closed, nft_apply, table_present
from opennsg.engine.evaluate import decide
from opennsg.engine.flow import Flow
from opennsg.engine.ir import NicPolicy
from opennsg.model.enums import Direction


@dataclass(frozen=True, slots=True)
class AppliedNic:
    """What is in force at one NIC: the meaning of each mark, the stages' digests, the ruleset's digest."""

    nic_id: str
    rules: dict[int, RuleRef]
    stages: dict[str, tuple[str, bool]] = field(default_factory=dict)
    rule_count: int = 0
    digest: str = ""

    @classmethod
    def of(cls, ruleset: Ruleset) -> AppliedNic:
        digest = hashlib.sha256(json.dumps(ruleset.document(), sort_keys=True).encode()).hexdigest()[:16]
        return cls(ruleset.nic_id, ruleset.rules, ruleset.stages, ruleset.rule_count, digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "nicId": self.nic_id,
            "rules": {str(mark): ref.to_json() for mark, ref in self.rules.items()},
            "stages": {k: list(v) for k, v in self.stages.items()},
            "ruleCount": self.rule_count,
            "digest": self.digest,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AppliedNic:
        return cls(
            body["nicId"],
            {int(mark): RuleRef.from_json(ref) for mark, ref in body["rules"].items()},
            {k: (v[0], bool(v[1])) for k, v in body["stages"].items()},
            int(body["ruleCount"]),
            body["digest"],
        )


def apply_ruleset(ruleset: Ruleset, netns: str | None) -> AppliedNic:
    """One ``nft -j -f`` transaction. On failure the previous ruleset stays; a namespace that had none is closed
    (everything dropped) before the error is raised."""
    try:
        nft_apply(netns, ruleset.document())
    except Exception:
        if not table_present(netns):
            fail_closed(netns)
        raise
    return AppliedNic.of(ruleset)


def apply_policy(policy: NicPolicy, netns: str | None, compiled: Ruleset | None = None) -> AppliedNic:
    return apply_ruleset(compiled or compile_policy(policy), netns)


def flow_of(
    policy: NicPolicy, protocol: int, source: str, destination: str, sport: int | None, dport: int | None
) -> Flow:
    """The engine's view of a kernel flow at the NIC: outbound when the NIC sent its first packet."""
    if policy.local_addresses.contains(ip_address(source)):
        return Flow.make(Direction.OUTBOUND, protocol, source, sport, destination, dport)
    return Flow.make(Direction.INBOUND, protocol, destination, dport, source, sport)


def flush_denied(policy: NicPolicy, netns: str | None) -> int:
    """flushConnection: decide every tracked flow again under ``policy`` and remove those now denied."""
    removed = 0
    for flow in list_flows(netns):
        try:
            engine_flow = flow_of(
                policy, flow.protocol, flow.source, flow.destination, flow.source_port, flow.destination_port
            )
        except ValueError:
            continue
        if not policy.local_addresses.contains(engine_flow.local_ip):
            continue  # not this NIC's traffic (the namespace's own loopback, say)
        if not decide(policy, engine_flow).allowed:
            delete_flow(netns, flow)
            removed += 1
    return removed
