"""Reading frozen, slotted dataclasses back from a pickle by their field names.

``dataclasses`` gives such a class a ``__setstate__`` that calls ``fields()`` for every object it restores: most of
the time of reading a cached network back (``cli.prepared``; 1,000 rules per NSG are ~10^4 rules and address and
port sets). ``quick_setstate`` replaces it by one over the names, computed once: the same fields, set the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_setstate(cls: type[T]) -> type[T]:
    """``cls`` (a frozen, slotted dataclass) restoring the state ``dataclasses``' own ``__getstate__`` gives: its
    fields' values, in the order of ``fields()``."""
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    set_field = object.__setattr__

    def __setstate__(self: T, state: Any) -> None:
        for name, value in zip(names, state, strict=False):  # as dataclasses' own: the state is of this class
            set_field(self, name, value)

    cls.__setstate__ = __setstate__  # type: ignore[attr-defined]
    return cls
