"""Template values: JSON plus typed placeholders for what only a deployment knows, and the template error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opennsg.arm.keys import lookup
from opennsg.model.codes import Code
from opennsg.model.values import first_instance


class TemplateError(Exception):
    """One problem of a template: ARM's code, a message saying what to do, the JSON path (filled in by callers)."""

    def __init__(
        self, message: str, path: str = "", code: str = Code.INVALID_TEMPLATE, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.hint = hint  #: what the user can do, beside ARM's own message


class Suppressed(TemplateError):
    """A failure whose root cause was already reported (a broken variable, a missing parameter): not reported again."""

    def __init__(self) -> None:
        super().__init__("(already reported)")


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value only Azure knows at deployment time (``reference()``, ``list*()``, a Key Vault secret).

    It flows through expressions; it becomes an error only when a verdict needs it. ``origin`` is the expression that
    produced it, ``kind`` its ARM type when known (``string``, ``int``, ``bool``, ``array``, ``object``), ``known``
    the members a template already declares (``reference()`` of one of its own resources).
    """

    origin: str
    kind: str | None = None
    why: str = "its value is known only when Azure deploys the template"
    known: Mapping[str, Any] | list[Any] | None = field(default=None, compare=False)

    def member(self, key: Any) -> Any:
        suffix = f".{key}" if isinstance(key, str) and key.isidentifier() else f"[{key!r}]"
        found: Any = None
        if isinstance(self.known, Mapping) and isinstance(key, str):
            found = lookup(self.known, key)
        elif isinstance(self.known, list) and isinstance(key, int) and not isinstance(key, bool):
            found = self.known[key] if -len(self.known) <= key < len(self.known) else None
        if isinstance(found, Mapping | list):
            return Unknown(f"{self.origin}{suffix}", None, self.why, found)
        if found is not None:
            return found
        return Unknown(f"{self.origin}{suffix}", None, self.why)

    def typed(self, kind: str | None) -> Unknown:
        return Unknown(self.origin, kind, self.why)

    def __repr__(self) -> str:
        return f"<{self.kind or 'value'} known only at deployment: {self.origin}>"


def arm_type(value: Any) -> str:
    """ARM's type name of a value, as its error messages spell it."""
    if isinstance(value, Unknown):
        return (value.kind or "Any").capitalize()
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, Mapping):
        return "Object"
    if value is None:
        return "Null"
    return type(value).__name__


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def first_unknown(value: Any) -> Unknown | None:
    """The first placeholder anywhere inside ``value`` (deep), or None."""
    return first_instance(value, Unknown)


def unknown_paths(value: Any, path: str, out: dict[str, Unknown]) -> None:
    """Every placeholder inside ``value`` by its JSON path."""
    if isinstance(value, Unknown):
        out[path] = value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            unknown_paths(item, f"{path}[{i}]", out)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            unknown_paths(item, f"{path}.{key}" if path else str(key), out)


def to_text(value: Any) -> str:
    """ARM's string(): strings as they are, everything else as compact JSON."""
    import json

    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
