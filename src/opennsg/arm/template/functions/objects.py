"""Object functions and member access (``x.name``, ``x['name']``, ``x[0]``, the safe ``x.?name``), with ARM's
messages: a missing property lists the ones that exist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opennsg.arm.keys import has_key, lookup
from opennsg.arm.template.functions import function, type_error, want_dict, want_list, want_str
from opennsg.arm.template.values import TemplateError, Unknown, arm_type, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope


def member(value: Any, key: Any, text: str = "", *, safe: bool = False) -> Any:
    """``value[key]`` as ARM evaluates it (property names ignore case)."""
    if isinstance(key, Unknown):
        return key.typed(None)
    if isinstance(value, Unknown):
        return value.member(key)
    if value is None and safe:
        return None
    if isinstance(value, Mapping) and isinstance(key, str):
        if has_key(value, key):
            return lookup(value, key)
        if safe:
            return None
        available = ", ".join(str(k) for k in value)
        raise TemplateError(
            f"The language expression property '{key}' doesn't exist, available properties are "
            f"'{available}'" + (f" (in '{text}')." if text else ".")
        )
    elif isinstance(value, list) and is_int(key):
        if 0 <= key < len(value):
            return value[key]
        if safe:
            return None
        raise TemplateError(
            f"The language expression property array index '{key}' is out of bounds (the array has "
            f"{len(value)} item(s))" + (f" in '{text}'." if text else ".")
        )
    if safe:
        return None
    raise TemplateError(
        f"The language expression property '{key}' cannot be read from a value of type '{arm_type(value)}'"
        + (f" (in '{text}')." if text else ".")
    )


@function("createObject", 0, None, unknown="none", returns="object")
def _create_object(scope: Scope, args: list[Any]) -> dict[str, Any]:
    if len(args) % 2:
        raise TemplateError("The template language function 'createObject' expects an even number of parameters.")
    out: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        key = args[i]
        if isinstance(key, Unknown):
            raise TemplateError(f"A property name of createObject() is '{key.origin}', known only at deployment.")
        out[want_str("createObject", args, i)] = args[i + 1]
    return out


@function("items", 1, returns="array")
def _items(scope: Scope, args: list[Any]) -> list[dict[str, Any]]:
    obj = want_dict("items", args, 0)
    return [{"key": k, "value": obj[k]} for k in sorted(obj, key=lambda k: (k.casefold(), k))]


@function("objectKeys", 1, returns="array")
def _object_keys(scope: Scope, args: list[Any]) -> list[str]:
    return list(want_dict("objectKeys", args, 0))


@function("shallowMerge", 1, returns="object")
def _shallow_merge(scope: Scope, args: list[Any]) -> Any:
    out: dict[str, Any] = {}
    for i, item in enumerate(want_list("shallowMerge", args, 0)):
        if isinstance(item, Unknown):
            return item.typed("object")
        if not isinstance(item, dict):
            raise TemplateError(f"The template language function 'shallowMerge' expects objects; item {i} is not.")
        for key, value in item.items():
            for existing in [k for k in out if k.casefold() == key.casefold()]:
                del out[existing]
            out[key] = value
    return out


@function("null", 0)
def _null(scope: Scope, args: list[Any]) -> None:
    return None


@function("tryGet", 2, None, unknown="none")
def _try_get(scope: Scope, args: list[Any]) -> Any:
    value = args[0]
    for key in args[1:]:
        if value is None:
            return None
        if isinstance(value, Unknown) or isinstance(key, Unknown):
            return member(value, key)
        if isinstance(value, list) and isinstance(key, Mapping):
            key = _position(value, key)  # {"value": n, "fromEnd": true}: Bicep's arr[?^n]
            if key is None:
                return None
        if isinstance(value, Mapping) and not isinstance(key, str):
            raise type_error("tryGet", 1, "String", key)
        if isinstance(value, list) and not is_int(key):
            raise type_error("tryGet", 1, "Integer", key)
        if not isinstance(value, Mapping | list):
            raise type_error("tryGet", 0, "Object or Array", value)
        value = member(value, key, safe=True)
    return value


def _position(items: list[Any], spec: Mapping[str, Any]) -> int | None:
    """An index given as ``{"value": n, "fromEnd": bool}``; None when it is outside the array."""
    index, from_end = lookup(spec, "value"), lookup(spec, "fromEnd")
    if not is_int(index) or not isinstance(from_end, bool | None):
        raise type_error("tryGet", 1, "Integer", spec)
    position = len(items) - index if from_end else index
    return position if 0 <= position < len(items) else None


@function("tryIndexFromEnd", 2, unknown="top")
def _try_index_from_end(scope: Scope, args: list[Any]) -> Any:
    items = want_list("tryIndexFromEnd", args, 0)
    index = args[1]
    if not is_int(index):
        raise type_error("tryIndexFromEnd", 1, "Integer", index)
    return items[-index] if 1 <= index <= len(items) else None


@function("indexFromEnd", 2, unknown="top")
def _index_from_end(scope: Scope, args: list[Any]) -> Any:
    items = want_list("indexFromEnd", args, 0)
    index = args[1]
    if not is_int(index):
        raise type_error("indexFromEnd", 1, "Integer", index)
    if not 1 <= index <= len(items):
        raise TemplateError(f"The template language function 'indexFromEnd': index {index} is out of bounds.")
    return items[-index]
