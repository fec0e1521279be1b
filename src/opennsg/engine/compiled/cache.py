"""Compiled classifiers shared by configuration version, so the service and the data plane reuse them."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import TYPE_CHECKING

from opennsg.engine.chain import Stage
from opennsg.engine.compiled.classifier import CompiledPolicy, compile_policy
from opennsg.engine.compiled.store import code_fingerprint, program_digest
from opennsg.engine.ir import NicPolicy
from opennsg.model.enums import Direction

if TYPE_CHECKING:
    from opennsg.engine.compiled.store import ProgramStore

#: Compiled policies kept (least recently used dropped first), at most ``CACHE_SIZE`` of them and at most
#: ``CACHE_BYTES`` of their tables (``CompiledPolicy.nbytes``, ~5-6 MB each whatever the rule count: the port tables
#: cover all 65,536 ports). A count alone let the service hold 64 of them, one per superseded version of a NIC that
#: writes kept changing while diagnostics ran (issue 9's memory growth): the budget bounds that.
CACHE_SIZE = 64
CACHE_BYTES = 192 * 1024 * 1024

_cache: OrderedDict[Hashable, CompiledPolicy] = OrderedDict()
#: The same ``NicPolicy`` object again (engines cache their policies) is found without hashing its content;
#: entries hold the policy, so its id cannot be reused while it is cached.
_by_identity: OrderedDict[int, tuple[NicPolicy, CompiledPolicy]] = OrderedDict()
_lock = threading.Lock()
#: Bytes of the compiled policies held by either map (each counted once).
_held: dict[int, int] = {}


def policy_key(policy: NicPolicy) -> Hashable:
    """Everything a verdict depends on, as a digest computed once per policy (``NicPolicy.digest``: a policy read
    back from the inputs cache brings it along): equal keys compile to equal classifiers. It extends the stored
    program's digest (protocols, addresses, ports, chain shape, platform tags) with what the verdicts name."""
    return policy.digest(f"classifier:{code_fingerprint().hex()}", _policy_digest)


def _policy_digest(policy: NicPolicy) -> str:
    chains = tuple(
        (chain.unmatched_rule_name, tuple(_stage_key(stage) for stage in chain.stages))
        for chain in (policy.chain(Direction.INBOUND), policy.chain(Direction.OUTBOUND))
    )
    named = (policy.nic.id, policy.local_addresses, policy.internet, chains)  # ``owns`` answers from local_addresses
    digest = hashlib.blake2b(program_digest(policy).encode(), digest_size=20)
    digest.update(repr(named).encode())
    return digest.hexdigest()


def _stage_key(stage: Stage) -> Hashable:
    """A stage by what its verdicts name besides the program's content (model rules themselves may hold
    unhashable tags)."""
    rules = tuple((r.rule.verify_name, r.rule.id, r.priority, r.access.value) for r in stage.rules)
    return (stage.kind, stage.resource_id, stage.applied_to, stage.association, stage.acl_id, stage.acl_guid,
            stage.outcomes, rules)  # fmt: skip


def get_compiled(
    policy: NicPolicy, version: Hashable | None = None, store: ProgramStore | None = None
) -> CompiledPolicy:
    """The compiled form of ``policy``, cached by ``(NIC id, version)`` or, without a version, by content; a miss
    reads the tables from ``store`` (the disk) when it holds them."""
    if version is None:
        with _lock:
            same = _by_identity.get(id(policy))
            if same is not None and same[0] is policy:
                _by_identity.move_to_end(id(policy))
                return same[1]
    key = (policy.nic.id, version) if version is not None else policy_key(policy)
    with _lock:
        found = _cache.get(key)
    compiled = found if found is not None else compile_policy(policy, store)
    size = compiled.nbytes if found is None else 0
    with _lock:
        _cache[key] = compiled
        _cache.move_to_end(key)
        if size:
            _held[id(compiled)] = size
        if version is None:
            _by_identity[id(policy)] = (policy, compiled)
        _evict()
    return compiled


def _evict() -> None:
    """Drop least recently used entries until both bounds hold; a compiled policy no map holds is forgotten."""
    while len(_cache) > CACHE_SIZE or (len(_cache) > 1 and sum(_held.values()) > CACHE_BYTES):
        _key, gone = _cache.popitem(last=False)
        for identity in [i for i, (_policy, c) in _by_identity.items() if c is gone]:
            del _by_identity[identity]
        _held.pop(id(gone), None)
    while len(_by_identity) > CACHE_SIZE:
        _by_identity.popitem(last=False)
    alive = {id(c) for c in _cache.values()} | {id(c) for _p, c in _by_identity.values()}
    for identity in [i for i in _held if i not in alive]:
        del _held[identity]


def cached_bytes() -> int:
    """Bytes of compiled tables the cache holds now."""
    with _lock:
        return sum(_held.values())


def clear_cache() -> None:
    with _lock:
        _cache.clear()
        _by_identity.clear()
        _held.clear()
