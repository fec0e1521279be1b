"""Compiled classifiers shared by configuration version, so the service and the data plane reuse them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from opennsg.engine.chain import Stage
from opennsg.engine.compiled.classifier import CompiledPolicy
from opennsg.engine.ir import NicPolicy
from opennsg.model.enums import Direction

#: Compiled policies kept (least recently used dropped first); a 1,000-rule two-layer policy takes ~16 MB.
CACHE_SIZE = 64

_cache: OrderedDict[Hashable, CompiledPolicy] = OrderedDict()
#: The same ``NicPolicy`` object again (engines cache their policies) is found without hashing its content;
#: entries hold the policy, so its id cannot be reused while it is cached.
_by_identity: OrderedDict[int, tuple[NicPolicy, CompiledPolicy]] = OrderedDict()
_lock = threading.Lock()


def policy_key(policy: NicPolicy) -> Hashable:
    """Everything a verdict depends on, as a hashable value: equal keys compile to equal classifiers."""
    chains = tuple(
        (chain.unmatched_rule_name, tuple(_stage_key(stage) for stage in chain.stages))
        for chain in (policy.chain(Direction.INBOUND), policy.chain(Direction.OUTBOUND))
    )
    return (
        policy.nic.id,
        chains,
        policy.internet,
        tuple(policy.platform_tags.items()),
        policy.smtp_blocked,
    )


def _stage_key(stage: Stage) -> Hashable:
    """A stage by what its verdicts depend on (model rules themselves may hold unhashable tags)."""
    rules = tuple(
        (
            r.rule.verify_name, r.rule.id, r.priority, r.access.value, r.protocols, r.source, r.source_ports,
            r.destination, r.destination_ports, r.platform_tag,
        )
        for r in stage.rules
    )  # fmt: skip
    return (stage.kind, stage.resource_id, stage.applied_to, stage.association, stage.acl_id, stage.acl_guid,
            stage.outcomes, rules)  # fmt: skip


def get_compiled(policy: NicPolicy, version: Hashable | None = None) -> CompiledPolicy:
    """The compiled form of ``policy``, cached by ``(NIC id, version)`` or, without a version, by content."""
    if version is None:
        with _lock:
            same = _by_identity.get(id(policy))
            if same is not None and same[0] is policy:
                _by_identity.move_to_end(id(policy))
                return same[1]
    key = (policy.nic.id, version) if version is not None else policy_key(policy)
    with _lock:
        found = _cache.get(key)
    compiled = found if found is not None else CompiledPolicy(policy)
    with _lock:
        _cache[key] = compiled
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        if version is None:
            _by_identity[id(policy)] = (policy, compiled)
            while len(_by_identity) > CACHE_SIZE:
                _by_identity.popitem(last=False)
    return compiled


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _by_identity.clear()
