"""The template function registry: every function of Azure's template function reference, by category module.

Each function declares its argument count (checked before it runs, with ARM's message) and how placeholders
(``Unknown``) flow through it: ``top`` (any placeholder argument makes the result a placeholder), ``deep``
(also a placeholder anywhere inside an array/object argument — functions that look at content), ``none``
(the function handles placeholders itself, or is lazy and evaluates its own arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.values import TemplateError, arm_type, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.expressions import Call
    from opennsg.arm.template.scope import Scope

Eager = Callable[["Scope", list[Any]], Any]
Lazy = Callable[["Scope", "Call"], Any]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    impl: Callable[..., Any]
    min_args: int
    max_args: int | None
    lazy: bool
    unknown: str
    returns: str | None


REGISTRY: dict[str, Function] = {}


def function(
    name: str,
    min_args: int = 0,
    max_args: int | None = -1,
    *,
    lazy: bool = False,
    unknown: str = "top",
    returns: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``name``; ``max_args=-1`` means exactly ``min_args``, None means no upper bound."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        upper = min_args if max_args == -1 else max_args
        REGISTRY[name.casefold()] = Function(name, impl, min_args, upper, lazy, unknown, returns)
        return impl

    return register


def check_count(fn: Function, given: int) -> None:
    low, high = fn.min_args, fn.max_args
    if low <= given and (high is None or given <= high):
        return
    if high == low:
        expected = f"exactly {low} parameter(s)" if low else "no parameters"
    elif high is None:
        expected = f"at least {low} parameter(s)"
    else:
        expected = f"between {low} and {high} parameter(s)"
    raise TemplateError(f"The template language function '{fn.name}' expects {expected}; {given} were given.")


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")
_TYPES = {
    "string": (str,),
    "int": (int,),
    "bool": (bool,),
    "array": (list,),
    "object": (dict,),
}


def ordinal(i: int) -> str:
    return _ORDINALS[i] if i < len(_ORDINALS) else f"{i + 1}th"


def type_error(name: str, i: int, expected: str, value: Any) -> TemplateError:
    return TemplateError(
        f"The template language function '{name}' expects its {ordinal(i)} parameter to be of type "
        f"'{expected}'. The provided value is of type '{arm_type(value)}'."
    )


def want_str(name: str, args: list[Any], i: int) -> str:
    value = args[i]
    if not isinstance(value, str):
        raise type_error(name, i, "String", value)
    return value


def want_int(name: str, args: list[Any], i: int) -> int:
    value = args[i]
    if not is_int(value):
        raise type_error(name, i, "Integer", value)
    return int(value)


def want_bool(name: str, args: list[Any], i: int) -> bool:
    value = args[i]
    if not isinstance(value, bool):
        raise type_error(name, i, "Boolean", value)
    return value


def want_list(name: str, args: list[Any], i: int) -> list[Any]:
    value = args[i]
    if not isinstance(value, list):
        raise type_error(name, i, "Array", value)
    return value


def want_dict(name: str, args: list[Any], i: int) -> dict[str, Any]:
    value = args[i]
    if not isinstance(value, dict):
        raise type_error(name, i, "Object", value)
    return value


def load_all() -> None:
    """Import every category module (each registers its functions)."""
    from opennsg.arm.template.functions import (  # noqa: F401
        arrays,
        cidr,
        dates,
        deployment,
        hashing,
        lambdas,
        logic,
        objects,
        resources,
        strings,
    )
