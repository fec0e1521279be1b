"""Array functions (and those shared by strings, arrays and objects: ``contains``, ``length``, ``first``, ``last``,
``skip``, ``take``, ``union``, ``intersection``), with ARM's semantics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opennsg.arm.keys import has_key
from opennsg.arm.template.functions import function, type_error, want_int, want_list
from opennsg.arm.template.values import TemplateError, Unknown, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

MAX_RANGE = 10_000


def arm_equal(a: Any, b: Any) -> bool:
    """ARM's equality: deep, numbers by value (1 == 1.0), strings case-sensitive, booleans only equal booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(arm_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if len(a) != len(b):
            return False
        folded = {k.casefold(): v for k, v in b.items()}
        return all(k.casefold() in folded and arm_equal(v, folded[k.casefold()]) for k, v in a.items())
    return type(a) is type(b) and a == b


@function("array", 1, returns="array")
def _array(scope: Scope, args: list[Any]) -> list[Any]:
    value = args[0]
    return list(value) if isinstance(value, list) else [value]


@function("createArray", 0, None, unknown="none", returns="array")
def _create_array(scope: Scope, args: list[Any]) -> list[Any]:
    return list(args)


@function("contains", 2, unknown="deep", returns="bool")
def _contains(scope: Scope, args: list[Any]) -> bool:
    container, item = args
    if isinstance(container, str):
        if isinstance(item, list | dict) or item is None:
            raise type_error("contains", 1, "String", item)
        return str(item) in container
    if isinstance(container, list):
        return any(arm_equal(element, item) for element in container)
    if isinstance(container, dict):
        if not isinstance(item, str):
            raise type_error("contains", 1, "String", item)
        return has_key(container, item)
    raise type_error("contains", 0, "String, Array or Object", container)


@function("length", 1, returns="int")
def _length(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if isinstance(value, str | list | dict):
        return len(value)
    raise type_error("length", 0, "String, Array or Object", value)


@function("first", 1)
def _first(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[:1]
    if isinstance(value, list):
        return value[0] if value else None
    raise type_error("first", 0, "String or Array", value)


@function("last", 1)
def _last(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    if isinstance(value, str):
        return value[-1:]
    if isinstance(value, list):
        return value[-1] if value else None
    raise type_error("last", 0, "String or Array", value)


def _sequence(name: str, args: list[Any]) -> str | list[Any]:
    value = args[0]
    if not isinstance(value, str | list):
        raise type_error(name, 0, "String or Array", value)
    return value


@function("skip", 2)
def _skip(scope: Scope, args: list[Any]) -> Any:
    value, count = _sequence("skip", args), want_int("skip", args, 1)
    return value[max(count, 0) :]


@function("take", 2)
def _take(scope: Scope, args: list[Any]) -> Any:
    value, count = _sequence("take", args), want_int("take", args, 1)
    return value[: max(count, 0)]


def _numbers(name: str, args: list[Any]) -> list[int]:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        raise TemplateError(f"The template language function '{name}' needs at least one integer.")
    for i, v in enumerate(values):
        if isinstance(v, Unknown):
            raise _Placeholder(v)
        if not is_int(v) and not isinstance(v, float):
            raise type_error(name, i, "Integer", v)
    return list(values)


class _Placeholder(Exception):
    def __init__(self, value: Unknown) -> None:
        self.value = value


@function("max", 1, None, returns="int")
def _max(scope: Scope, args: list[Any]) -> Any:
    try:
        return max(_numbers("max", args))
    except _Placeholder as found:
        return found.value.typed("int")


@function("min", 1, None, returns="int")
def _min(scope: Scope, args: list[Any]) -> Any:
    try:
        return min(_numbers("min", args))
    except _Placeholder as found:
        return found.value.typed("int")


@function("range", 2, returns="array")
def _range(scope: Scope, args: list[Any]) -> list[int]:
    start, count = want_int("range", args, 0), want_int("range", args, 1)
    if count < 0 or count > MAX_RANGE:
        raise TemplateError(f"The template language function 'range': the count {count} must be from 0 to {MAX_RANGE}.")
    if start + count > 2_147_483_647:
        raise TemplateError("The template language function 'range': start + count must not exceed 2147483647.")
    return list(range(start, start + count))


@function("flatten", 1, returns="array")
def _flatten(scope: Scope, args: list[Any]) -> list[Any]:
    outer = want_list("flatten", args, 0)
    out: list[Any] = []
    for i, inner in enumerate(outer):
        if not isinstance(inner, list):
            raise TemplateError(
                f"The template language function 'flatten' expects an array of arrays; item {i} is not."
            )
        out.extend(inner)
    return out


def _merge(a: dict[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """union() of objects: later keys win, nested objects merge recursively (arrays do not)."""
    out = dict(a)
    folded = {k.casefold(): k for k in out}
    for key, value in b.items():
        existing_key = folded.get(key.casefold())
        existing = out.get(existing_key) if existing_key is not None else None
        if isinstance(existing, dict) and isinstance(value, Mapping):
            out[existing_key] = _merge(existing, value)  # type: ignore[index]
        else:
            if existing_key is not None:
                del out[existing_key]
            out[key] = value
            folded[key.casefold()] = key
    return out


def _all_same(name: str, args: list[Any]) -> type:
    if all(isinstance(a, list) for a in args):
        return list
    if all(isinstance(a, dict) for a in args):
        return dict
    bad = next(i for i, a in enumerate(args) if not isinstance(a, type(args[0])) or not isinstance(a, list | dict))
    raise type_error(name, bad, "Array" if isinstance(args[0], list) else "Object", args[bad])


@function("union", 1, None, unknown="top")
def _union(scope: Scope, args: list[Any]) -> Any:
    if _all_same("union", args) is list:
        out: list[Any] = []
        for a in args:
            for item in a:
                if not any(arm_equal(item, seen) for seen in out):
                    out.append(item)
        return out
    merged: dict[str, Any] = {}
    for a in args:
        merged = _merge(merged, a)
    return merged


@function("intersection", 2, None, unknown="deep")
def _intersection(scope: Scope, args: list[Any]) -> Any:
    if _all_same("intersection", args) is list:
        out: list[Any] = []
        for item in args[0]:
            if all(any(arm_equal(item, x) for x in other) for other in args[1:]) and not any(
                arm_equal(item, seen) for seen in out
            ):
                out.append(item)
        return out
    first = args[0]
    return {
        k: v
        for k, v in first.items()
        if all(has_key(o, k) and arm_equal(v, {x.casefold(): y for x, y in o.items()}[k.casefold()]) for o in args[1:])
    }


@function("distinct", 1, unknown="deep", returns="array")
def _distinct(scope: Scope, args: list[Any]) -> list[Any]:
    """The array without repeated values (ARM's deep equality), first occurrences kept in order."""
    out: list[Any] = []
    for item in want_list("distinct", args, 0):
        if not any(arm_equal(item, seen) for seen in out):
            out.append(item)
    return out
