"""Comparison, logical and numeric functions. ``if`` evaluates only the branch it takes (as ARM does), ``and`` /
``or`` stop at the first deciding value; integers are 64-bit and ``div``/``mod`` truncate toward zero (.NET)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, type_error, want_bool, want_int, want_str
from opennsg.arm.template.functions.arrays import arm_equal
from opennsg.arm.template.values import TemplateError, Unknown, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.expressions import Call
    from opennsg.arm.template.scope import Scope

_INT64 = (-(2**63), 2**63 - 1)


@function("equals", 2, unknown="deep", returns="bool")
def _equals(scope: Scope, args: list[Any]) -> bool:
    return arm_equal(args[0], args[1])


def _ordered(name: str, args: list[Any]) -> int:
    """-1, 0 or 1 comparing two integers or two strings (strings as .NET's invariant culture orders them)."""
    a, b = args
    if (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        ka, kb = (a.casefold(), a.swapcase()), (b.casefold(), b.swapcase())
        return (ka > kb) - (ka < kb)
    bad = 1 if isinstance(a, int | str) and not isinstance(a, bool) else 0
    raise type_error(name, bad, "Integer or String", args[bad])


@function("greater", 2, returns="bool")
def _greater(scope: Scope, args: list[Any]) -> bool:
    return _ordered("greater", args) > 0


@function("greaterOrEquals", 2, returns="bool")
def _greater_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _ordered("greaterOrEquals", args) >= 0


@function("less", 2, returns="bool")
def _less(scope: Scope, args: list[Any]) -> bool:
    return _ordered("less", args) < 0


@function("lessOrEquals", 2, returns="bool")
def _less_or_equals(scope: Scope, args: list[Any]) -> bool:
    return _ordered("lessOrEquals", args) <= 0


@function("coalesce", 1, None, lazy=True)
def _coalesce(scope: Scope, node: Call) -> Any:
    for arg in node.args:
        value = arg.evaluate(scope)
        if value is not None:
            return value
    return None


@function("if", 3, lazy=True)
def _if(scope: Scope, node: Call) -> Any:
    condition = node.args[0].evaluate(scope)
    if isinstance(condition, Unknown):
        return condition.typed(None)
    if not isinstance(condition, bool):
        raise type_error("if", 0, "Boolean", condition)
    return node.args[1 if condition else 2].evaluate(scope)


def _logical(scope: Scope, node: Call, name: str, deciding: bool) -> Any:
    pending: Unknown | None = None
    for i, arg in enumerate(node.args):
        value = arg.evaluate(scope)
        if isinstance(value, Unknown):
            pending = pending or value.typed("bool")
            continue
        if not isinstance(value, bool):
            raise type_error(name, i, "Boolean", value)
        if value is deciding:
            return bool(deciding)
    return pending if pending is not None else not deciding


@function("and", 1, None, lazy=True)
def _and(scope: Scope, node: Call) -> Any:
    return _logical(scope, node, "and", False)


@function("or", 1, None, lazy=True)
def _or(scope: Scope, node: Call) -> Any:
    return _logical(scope, node, "or", True)


@function("not", 1, returns="bool")
def _not(scope: Scope, args: list[Any]) -> bool:
    return not want_bool("not", args, 0)


@function("fail", 1)
def _fail(scope: Scope, args: list[Any]) -> Any:
    """Bicep's ``fail(message)``: the deployment stops with the template's own message, as in Azure."""
    message = want_str("fail", args, 0)
    raise TemplateError(f"The template stopped the deployment with fail(): {message}")


@function("true", 0)
def _true(scope: Scope, args: list[Any]) -> bool:
    return True


@function("false", 0)
def _false(scope: Scope, args: list[Any]) -> bool:
    return False


@function("bool", 1, returns="bool")
def _bool(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if isinstance(value, bool):
        return value
    if is_int(value):
        return bool(value != 0)
    if isinstance(value, str) and value.casefold() in {"true", "false"}:
        return value.casefold() == "true"
    raise TemplateError(f"The template language function 'bool' cannot convert '{value}' to a boolean.")


def _checked(name: str, value: int) -> int:
    if not _INT64[0] <= value <= _INT64[1]:
        raise TemplateError(f"The template language function '{name}' overflowed a 64-bit integer.")
    return value


def _operands(name: str, args: list[Any]) -> tuple[Any, Any]:
    for i, v in enumerate(args):
        if not is_int(v) and not isinstance(v, float):
            raise type_error(name, i, "Integer", v)
    return args[0], args[1]


@function("add", 2, returns="int")
def _add(scope: Scope, args: list[Any]) -> Any:
    a, b = _operands("add", args)
    return _checked("add", a + b) if is_int(a) and is_int(b) else a + b


@function("sub", 2, returns="int")
def _sub(scope: Scope, args: list[Any]) -> Any:
    a, b = _operands("sub", args)
    return _checked("sub", a - b) if is_int(a) and is_int(b) else a - b


@function("mul", 2, returns="int")
def _mul(scope: Scope, args: list[Any]) -> Any:
    a, b = _operands("mul", args)
    return _checked("mul", a * b) if is_int(a) and is_int(b) else a * b


@function("div", 2, returns="int")
def _div(scope: Scope, args: list[Any]) -> Any:
    a, b = _operands("div", args)
    if b == 0:
        raise TemplateError("The template language function 'div' cannot divide by zero.")
    if is_int(a) and is_int(b):
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b >= 0) else -quotient
    return a / b


@function("mod", 2, returns="int")
def _mod(scope: Scope, args: list[Any]) -> int:
    a, b = want_int("mod", args, 0), want_int("mod", args, 1)
    if b == 0:
        raise TemplateError("The template language function 'mod' cannot divide by zero.")
    remainder = abs(a) % abs(b)
    return remainder if a >= 0 else -remainder


@function("int", 1, returns="int")
def _int(scope: Scope, args: list[Any]) -> int:
    value = args[0]
    if is_int(value):
        return int(value)
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return _checked("int", int(value.strip()))
        except ValueError:
            pass
    raise TemplateError(f"The template language function 'int' cannot convert '{value}' to an integer.")


@function("float", 1, returns="float")
def _float(scope: Scope, args: list[Any]) -> float:
    value = args[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise TemplateError(f"The template language function 'float' cannot convert '{value}' to a number.")
