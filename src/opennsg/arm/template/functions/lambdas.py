"""Lambda functions: ``lambda('x', ...)`` makes a function value, ``lambdaVariables('x')`` reads its argument;
``filter``, ``map``, ``reduce``, ``sort``, ``toObject``, ``groupBy`` and ``mapValues`` apply one."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, type_error, want_dict, want_list, want_str
from opennsg.arm.template.values import TemplateError, Unknown

if TYPE_CHECKING:
    from opennsg.arm.template.expressions import Call, Node
    from opennsg.arm.template.scope import Scope


@dataclass(frozen=True, slots=True)
class Lambda:
    parameters: tuple[str, ...]
    body: Node
    scope: Scope

    def __call__(self, *args: Any) -> Any:
        inner = self.scope.child()
        for name, value in zip(self.parameters, args, strict=False):
            inner.lambdas[name.casefold()] = value
        return self.body.evaluate(inner)


@function("lambda", 2, None, lazy=True)
def _lambda(scope: Scope, node: Call) -> Lambda:
    names = []
    for arg in node.args[:-1]:
        name = arg.evaluate(scope)
        if not isinstance(name, str):
            raise TemplateError("The parameters of 'lambda' must be string literals naming its variables.")
        names.append(name)
    return Lambda(tuple(names), node.args[-1], scope)


@function("lambdaVariables", 1)
def _lambda_variables(scope: Scope, args: list[Any]) -> Any:
    name = want_str("lambdaVariables", args, 0)
    if name.casefold() not in scope.lambdas:
        raise TemplateError(f"The lambda variable '{name}' is not defined here (lambdaVariables outside its lambda).")
    return scope.lambdas[name.casefold()]


def _fn(name: str, args: list[Any], i: int, arity: tuple[int, ...]) -> Lambda:
    value = args[i]
    if not isinstance(value, Lambda):
        raise type_error(name, i, "Lambda", value)
    if len(value.parameters) not in arity:
        expected = " or ".join(str(n) for n in arity)
        raise TemplateError(f"The lambda given to '{name}' must take {expected} parameter(s).")
    return value


def _call(fn: Lambda, item: Any, index: int) -> Any:
    return fn(item, index) if len(fn.parameters) == 2 else fn(item)


def _truth(name: str, value: Any) -> bool | Unknown:
    if isinstance(value, Unknown):
        return value
    if not isinstance(value, bool):
        raise TemplateError(f"The lambda given to '{name}' must return a boolean, not {value!r}.")
    return value


@function("filter", 2, unknown="top", returns="array")
def _filter(scope: Scope, args: list[Any]) -> Any:
    items, fn = want_list("filter", args, 0), _fn("filter", args, 1, (1, 2))
    out = []
    for i, item in enumerate(items):
        keep = _truth("filter", _call(fn, item, i))
        if isinstance(keep, Unknown):
            return keep.typed("array")
        if keep:
            out.append(item)
    return out


@function("map", 2, unknown="top", returns="array")
def _map(scope: Scope, args: list[Any]) -> list[Any]:
    items, fn = want_list("map", args, 0), _fn("map", args, 1, (1, 2))
    return [_call(fn, item, i) for i, item in enumerate(items)]


@function("reduce", 3, unknown="top")
def _reduce(scope: Scope, args: list[Any]) -> Any:
    items, fn = want_list("reduce", args, 0), _fn("reduce", args, 2, (2, 3))
    current = args[1]
    for i, item in enumerate(items):
        current = fn(current, item, i) if len(fn.parameters) == 3 else fn(current, item)
    return current


@function("sort", 2, unknown="top", returns="array")
def _sort(scope: Scope, args: list[Any]) -> Any:
    items, fn = want_list("sort", args, 0), _fn("sort", args, 1, (2,))

    def compare(a: Any, b: Any) -> int:
        before = _truth("sort", fn(a, b))
        if isinstance(before, Unknown):
            raise _Unsortable(before)
        if before:
            return -1
        after = _truth("sort", fn(b, a))
        return 1 if after is True else 0

    try:
        return sorted(items, key=functools.cmp_to_key(compare))
    except _Unsortable as exc:
        return exc.value.typed("array")


class _Unsortable(Exception):
    def __init__(self, value: Unknown) -> None:
        self.value = value


@function("toObject", 2, 3, unknown="top", returns="object")
def _to_object(scope: Scope, args: list[Any]) -> Any:
    items, key_fn = want_list("toObject", args, 0), _fn("toObject", args, 1, (1,))
    value_fn = _fn("toObject", args, 2, (1,)) if len(args) == 3 else None
    out: dict[str, Any] = {}
    for item in items:
        key = key_fn(item)
        if isinstance(key, Unknown):
            return key.typed("object")
        if not isinstance(key, str):
            raise TemplateError(f"The key lambda of 'toObject' must return a string, not {key!r}.")
        out[key] = value_fn(item) if value_fn else item
    return out


@function("groupBy", 2, unknown="top", returns="object")
def _group_by(scope: Scope, args: list[Any]) -> Any:
    items, key_fn = want_list("groupBy", args, 0), _fn("groupBy", args, 1, (1,))
    out: dict[str, list[Any]] = {}
    for item in items:
        key = key_fn(item)
        if isinstance(key, Unknown):
            return key.typed("object")
        if not isinstance(key, str):
            raise TemplateError(f"The key lambda of 'groupBy' must return a string, not {key!r}.")
        existing = next((k for k in out if k.casefold() == key.casefold()), key)
        out.setdefault(existing, []).append(item)
    return out


@function("mapValues", 2, unknown="top", returns="object")
def _map_values(scope: Scope, args: list[Any]) -> dict[str, Any]:
    obj: Mapping[str, Any] = want_dict("mapValues", args, 0)
    fn = _fn("mapValues", args, 1, (1,))
    return {k: fn(v) for k, v in obj.items()}
