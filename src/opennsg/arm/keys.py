"""ARM property names compare case-insensitively (ARM, az and templates spell some differently): one lookup for
the resource readers and the template language alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def lookup(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` matching the key case-insensitively; None when there is no such key."""
    if name in obj:
        return obj[name]
    folded = name.casefold()
    for key, value in obj.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def has_key(obj: Mapping[str, Any], name: str) -> bool:
    """Whether ``obj`` has ``name`` as a key, compared case-insensitively."""
    folded = name.casefold()
    return name in obj or any(isinstance(k, str) and k.casefold() == folded for k in obj)
