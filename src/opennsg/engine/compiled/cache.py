"""Compiled classifiers shared by configuration version, so the service and the data plane reuse them."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from opennsg.engine.compiled.classifier import CompiledPolicy
from opennsg.engine.ir import NicPolicy

#: Compiled policies kept (least recently used dropped first).
CACHE_SIZE = 1024

_cache: OrderedDict[Hashable, CompiledPolicy] = OrderedDict()
_lock = threading.Lock()


def policy_key(policy: NicPolicy) -> Hashable:
    """Everything a verdict depends on, as a hashable value: equal keys compile to equal classifiers."""
    chain = tuple(
        (nsg.nsg.id, nsg.applied_to, nsg.association, nsg.inbound, nsg.outbound)
        for nsg in (policy.subnet_nsg, policy.nic_nsg)
        if nsg is not None
    )
    return (
        policy.nic.id,
        policy.subnet_nsg is not None,
        chain,
        policy.internet,
        tuple(policy.platform_tags.items()),
        policy.smtp_blocked,
    )


def get_compiled(policy: NicPolicy, version: Hashable | None = None) -> CompiledPolicy:
    """The compiled form of ``policy``, cached by ``(NIC id, version)`` or, without a version, by content."""
    key = (policy.nic.id, version) if version is not None else policy_key(policy)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    compiled = CompiledPolicy(policy)
    with _lock:
        _cache[key] = compiled
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def clear_cache() -> None:
    with _lock:
        _cache.clear()
