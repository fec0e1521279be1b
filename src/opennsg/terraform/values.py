"""Terraform values in Python: null, bool, number, string, list, set, map/object, and *unknown*.

Numbers are ``int`` when integral, else ``float``. Sets are ``TfSet`` (a list kept deduplicated and, for strings,
sorted, which is how Terraform iterates them). Objects produced from blocks are ``BlockValue`` (a dict that
remembers the line of its block, so problems can point at it). ``Unknown`` stands for a value Terraform learns only
from Azure (after apply, or from a data source): it propagates through every operation and becomes an error only
where OpenNSG needs the value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opennsg.model.values import first_instance


class EvaluationError(Exception):
    """An expression that Terraform would reject, with the line it is on when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message, self.line = message, line
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value not known before apply. ``what`` names the expression (``azurerm_public_ip.web.ip_address``);
    ``reported`` marks values standing in for an error already reported (so it is not reported twice)."""

    what: str
    reason: str = "known only after apply"
    reported: bool = False


class TfSet(list[Any]):
    """A Terraform set: distinct elements in Terraform's iteration order (strings sorted)."""

    @classmethod
    def of(cls, items: Iterable[Any]) -> TfSet:
        distinct: list[Any] = []
        for item in items:
            if not any(equal(item, seen) for seen in distinct):
                distinct.append(item)
        if all(isinstance(item, str) for item in distinct):
            distinct.sort()
        return cls(distinct)


class BlockValue(dict[str, Any]):
    """A block's attributes, remembering the file and line of the block and of each argument written in it."""

    __slots__ = ("file", "line", "lines")

    def __init__(self, values: Mapping[str, Any], file: str, line: int, lines: Mapping[str, int] | None = None) -> None:
        super().__init__(values)
        self.file, self.line = file, line
        self.lines: Mapping[str, int] = lines or {}


def normal_number(value: int | float) -> int | float:
    """Terraform has one number type: integral values print and compare as integers."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, TfSet):
        return "set"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Unknown):
        return "unknown"
    return type(value).__name__


def equal(a: Any, b: Any) -> bool:
    """``==`` as Terraform means it: no conversions between bool, number and string."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        if isinstance(a, TfSet) != isinstance(b, TfSet) or len(a) != len(b):
            return False
        return all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and bool(a == b)


def first_unknown(value: Any) -> Unknown | None:
    """The first unknown anywhere inside a value (deep), or None."""
    return first_instance(value, Unknown)


def to_string(value: Any, what: str = "value") -> str:
    """A primitive as a string (interpolation, ``tostring``); collections and null are errors."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        number = normal_number(value)
        return str(number) if isinstance(number, int) else repr(number)
    if value is None:
        raise EvaluationError(f"{what} is null, where a string is required")
    raise EvaluationError(f"{what} is a {type_name(value)}, where a string is required")


def to_number(value: Any, what: str = "value") -> int | float:
    if is_number(value):
        return normal_number(value)
    if isinstance(value, str):
        try:
            return normal_number(float(value)) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            pass
    raise EvaluationError(f"{what} ({display(value)}) is not a number")


def to_bool(value: Any, what: str = "value") -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise EvaluationError(f"{what} ({display(value)}) is not a bool")


def display(value: Any) -> str:
    """A value as Terraform would print it in a message."""
    if isinstance(value, Unknown):
        return "(known after apply)"
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_json_value(value: Any) -> Any:
    """A value as plain JSON data (``jsonencode``)."""
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, float):
        return normal_number(value)
    return value
