"""The Terraform functions networks use, with Terraform's semantics (argument types, errors, set order).

``try`` and ``can`` need their arguments unevaluated, so the evaluator implements them; every other function
gets evaluated arguments here. An argument that is unknown makes the result unknown (as in Terraform).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from opennsg.terraform.values import (
    EvaluationError,
    TfSet,
    Unknown,
    display,
    equal,
    first_unknown,
    is_number,
    normal_number,
    to_bool,
    to_json_value,
    to_number,
    to_string,
    type_name,
)

Function = Callable[..., Any]


def _list(value: Any, what: str) -> list[Any]:
    if isinstance(value, list):
        return value
    raise EvaluationError(f"{what} must be a list, set or tuple, not {type_name(value)}")


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    raise EvaluationError(f"{what} must be a map or object, not {type_name(value)}")


def _int(value: Any, what: str) -> int:
    number = to_number(value, what)
    if not isinstance(number, int):
        raise EvaluationError(f"{what} must be a whole number, not {display(value)}")
    return number


def _network(prefix: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    text = to_string(prefix, "prefix")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise EvaluationError(f'invalid CIDR expression "{text}"') from None


def cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    network = _network(prefix)
    bits, number = _int(newbits, "newbits"), _int(netnum, "netnum")
    new_length = network.prefixlen + bits
    if bits < 0 or new_length > network.max_prefixlen:
        raise EvaluationError(f"insufficient address space to extend prefix of {network.prefixlen} by {bits}")
    if not 0 <= number < 2**bits:
        raise EvaluationError(f"prefix extension of {bits} does not accommodate a subnet numbered {number}")
    base = int(network.network_address) + (number << (network.max_prefixlen - new_length))
    return str(ipaddress.ip_network((base, new_length)))


def cidrsubnets(prefix: Any, *newbits: Any) -> list[str]:
    """Consecutive subnets of the given sizes, each aligned to its own size (Terraform's allocation)."""
    network = _network(prefix)
    out: list[str] = []
    cursor = int(network.network_address)
    end = int(network.broadcast_address) + 1
    for raw in newbits:
        bits = _int(raw, "newbits")
        length = network.prefixlen + bits
        if bits < 1 or length > network.max_prefixlen:
            raise EvaluationError(f"would extend prefix to {length} bits, which is too long for {network}")
        size = 1 << (network.max_prefixlen - length)
        cursor = (cursor + size - 1) // size * size
        if cursor + size > end:
            raise EvaluationError(f"not enough remaining address space for a subnet with a prefix of {length} bits")
        out.append(str(ipaddress.ip_network((cursor, length))))
        cursor += size
    return out


def cidrhost(prefix: Any, hostnum: Any) -> str:
    network = _network(prefix)
    number = _int(hostnum, "hostnum")
    size = network.num_addresses
    index = number if number >= 0 else size + number
    if not 0 <= index < size:
        raise EvaluationError(f"prefix of {network.prefixlen} does not accommodate a host numbered {number}")
    return str(network.network_address + index)


def concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for i, item in enumerate(lists):
        out.extend(_list(item, f"argument {i + 1}"))
    return out


def merge(*maps: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(maps):
        if item is None:
            continue
        out.update(_map(item, f"argument {i + 1}"))
    return out


_MISSING = object()


def lookup(mapping: Any, key: Any, default: Any = _MISSING) -> Any:
    found = _map(mapping, "lookup's first argument")
    name = to_string(key, "key")
    if name in found:
        return found[name]
    if default is _MISSING:
        raise EvaluationError(f'the given key "{name}" does not exist in the map')
    return default


_VERB = re.compile(r"%(?:(%)|(?:\[(\d+)\])?([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z]))")


def format_(template: Any, *args: Any) -> str:
    """Terraform's ``format``: ``%s %d %f %q %v %t %x %X %o %b %e`` with flags, width, precision, ``%[n]``."""
    text = to_string(template, "format string")
    position = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        if match[1]:
            return "%"
        if match[2]:
            position = int(match[2]) - 1
        if position >= len(args):
            raise EvaluationError(f"format {text!r}: not enough arguments for {match[0]}")
        value = args[position]
        position += 1
        flags, width, precision, verb = match[3], match[4] or "", match[5], match[6]
        spec = flags.replace("#", "") + width + (f".{precision}" if precision else "")
        if verb == "s":
            return f"%{spec}s" % to_string(value)
        if verb == "v":
            shown = to_string(value) if not isinstance(value, list | Mapping) else json.dumps(to_json_value(value))
            return f"%{spec}s" % shown
        if verb == "q":
            return f"%{spec}s" % json.dumps(to_string(value))
        if verb == "t":
            return f"%{spec}s" % ("true" if to_bool(value) else "false")
        if verb in "dxXob":
            number = to_number(value)
            if not isinstance(number, int):
                raise EvaluationError(f"format {text!r}: {match[0]} needs a whole number, not {display(value)}")
            if verb == "b":
                return format(number, "b").rjust(int(width or 0), "0" if "0" in flags else " ")
            return f"%{flags}{width}{verb}" % number
        if verb in "feEgG":
            return f"%{spec}{verb}" % float(to_number(value))
        raise EvaluationError(f"format {text!r}: unsupported verb {match[0]}")

    return _VERB.sub(replace, text)


def formatlist(template: Any, *args: Any) -> list[str]:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise EvaluationError("formatlist: all list arguments must have the same length")
    count = lengths.pop() if lengths else 1
    return [format_(template, *(a[i] if isinstance(a, list) else a for a in args)) for i in range(count)]


def join(separator: Any, *lists: Any) -> str:
    items = [item for i, lst in enumerate(lists) for item in _list(lst, f"argument {i + 2}")]
    return to_string(separator, "separator").join(to_string(item, "element") for item in items)


def split(separator: Any, text: Any) -> list[str]:
    value = to_string(text, "string")
    return value.split(to_string(separator, "separator")) if value else [""]


def flatten(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(value, "flatten's argument"):
        if isinstance(item, list):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out


def distinct(value: Any) -> list[Any]:
    out: list[Any] = []
    for item in _list(value, "distinct's argument"):
        if not any(equal(item, seen) for seen in out):
            out.append(item)
    return out


def length(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | Mapping):
        return len(value)
    raise EvaluationError(f"length needs a string, list or map, not {type_name(value)}")


def element(value: Any, index: Any) -> Any:
    items = _list(value, "element's first argument")
    if not items:
        raise EvaluationError("cannot use element function with an empty list")
    return items[_int(index, "index") % len(items)]


def keys(value: Any) -> list[str]:
    return sorted(_map(value, "keys' argument"))


def values(value: Any) -> list[Any]:
    mapping = _map(value, "values' argument")
    return [mapping[k] for k in sorted(mapping)]


def tolist(value: Any) -> list[Any]:
    return list(_list(value, "tolist's argument"))


def toset(value: Any) -> TfSet:
    return TfSet.of(_list(value, "toset's argument"))


def tomap(value: Any) -> dict[str, Any]:
    return dict(_map(value, "tomap's argument"))


def coalesce(*args: Any) -> Any:
    for arg in args:
        if arg is not None and arg != "":
            return arg
    raise EvaluationError("no non-null, non-empty-string arguments")


def coalescelist(*args: Any) -> list[Any]:
    for arg in args:
        if _list(arg, "argument"):
            return list(arg)
    raise EvaluationError("no non-empty list arguments")


def contains(collection: Any, value: Any) -> bool:
    return any(equal(item, value) for item in _list(collection, "contains' first argument"))


def replace(text: Any, search: Any, replacement: Any) -> str:
    """``replace``: a ``/regex/`` search is a regular expression (``$1`` refers to groups), else literal."""
    value, pattern, substitute = to_string(text), to_string(search), to_string(replacement)
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            compiled = re.compile(pattern[1:-1])
        except re.error as exc:
            raise EvaluationError(f"invalid regular expression {pattern}: {exc}") from None
        python_style = re.sub(r"\$\{?(\d+)\}?", r"\\g<\1>", substitute.replace("\\", "\\\\"))
        return compiled.sub(python_style, value)
    return value.replace(pattern, substitute)


def jsonencode(value: Any) -> str:
    return json.dumps(to_json_value(value), separators=(",", ":"), ensure_ascii=False)


def jsondecode(text: Any) -> Any:
    try:
        decoded = json.loads(to_string(text))
    except json.JSONDecodeError as exc:
        raise EvaluationError(f"jsondecode: {exc.msg} at column {exc.colno}") from None
    return _numbers(decoded)


def _numbers(value: Any) -> Any:
    if isinstance(value, float):
        return normal_number(value)
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    return value


def range_(*args: Any) -> list[int | float]:
    numbers = [to_number(a) for a in args]
    start, limit, step = (
        (0, numbers[0], 1) if len(numbers) == 1 else (*numbers[:2], numbers[2] if len(numbers) > 2 else 1)
    )
    if step == 0:
        raise EvaluationError("range: step must not be zero")
    out: list[int | float] = []
    current = start
    while (current < limit) if step > 0 else (current > limit):
        out.append(normal_number(current))
        current += step
        if len(out) > 1024:
            raise EvaluationError("range: more than 1024 elements")
    return out


def zipmap(names: Any, items: Any) -> dict[str, Any]:
    keys_, values_ = _list(names, "keys"), _list(items, "values")
    if len(keys_) != len(values_):
        raise EvaluationError("zipmap: the keys and values lists must have the same length")
    return {to_string(k): v for k, v in zip(keys_, values_, strict=True)}


def substr(text: Any, offset: Any, size: Any) -> str:
    value, start, count = to_string(text), _int(offset, "offset"), _int(size, "length")
    if start < 0:
        start += len(value)
    return value[start:] if count == -1 else value[start : start + count]


def slice_(value: Any, start: Any, end: Any) -> list[Any]:
    items = _list(value, "slice's first argument")
    first, last = _int(start, "start index"), _int(end, "end index")
    if not 0 <= first <= last <= len(items):
        raise EvaluationError(f"slice: indexes {first}..{last} are outside the list of {len(items)}")
    return items[first:last]


def one(value: Any) -> Any:
    items = _list(value, "one's argument")
    if len(items) > 1:
        raise EvaluationError(f"one: must be a list of zero or one elements, not {len(items)}")
    return items[0] if items else None


def index(value: Any, wanted: Any) -> int:
    for i, item in enumerate(_list(value, "index's first argument")):
        if equal(item, wanted):
            return i
    raise EvaluationError(f"index: {display(wanted)} is not in the list")


def file(path: Any) -> str:
    """``file(path)``: a file's text, the path relative to the working directory (as Terraform reads it)."""
    name = to_string(path, "path")
    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise EvaluationError(f"cannot read {name}: {exc.strerror}") from None


def _compare_numbers(*args: Any) -> list[int | float]:
    flat = [to_number(a) for a in args]
    if not flat:
        raise EvaluationError("needs at least one number")
    return flat


def _tostring(value: Any) -> str | None:
    return None if value is None else to_string(value)


FUNCTIONS: Mapping[str, Function] = {
    "cidrsubnet": cidrsubnet,
    "cidrsubnets": cidrsubnets,
    "cidrhost": cidrhost,
    "concat": concat,
    "merge": merge,
    "lookup": lookup,
    "format": format_,
    "formatlist": formatlist,
    "join": join,
    "split": split,
    "flatten": flatten,
    "distinct": distinct,
    "length": length,
    "element": element,
    "keys": keys,
    "values": values,
    "tolist": tolist,
    "toset": toset,
    "tomap": tomap,
    "tostring": _tostring,
    "tonumber": lambda v: None if v is None else to_number(v),
    "tobool": lambda v: None if v is None else to_bool(v),
    "coalesce": coalesce,
    "coalescelist": coalescelist,
    "contains": contains,
    "lower": lambda s: to_string(s).lower(),
    "upper": lambda s: to_string(s).upper(),
    "trimspace": lambda s: to_string(s).strip(),
    "startswith": lambda s, p: to_string(s).startswith(to_string(p)),
    "endswith": lambda s, p: to_string(s).endswith(to_string(p)),
    "replace": replace,
    "jsonencode": jsonencode,
    "jsondecode": jsondecode,
    "range": range_,
    "zipmap": zipmap,
    "substr": substr,
    "slice": slice_,
    "one": one,
    "index": index,
    "compact": lambda v: [x for x in _list(v, "compact's argument") if x not in (None, "")],
    "reverse": lambda v: list(reversed(_list(v, "reverse's argument"))),
    "sort": lambda v: sorted(to_string(x) for x in _list(v, "sort's argument")),
    "max": lambda *a: normal_number(max(_compare_numbers(*a))),
    "min": lambda *a: normal_number(min(_compare_numbers(*a))),
    "abs": lambda n: normal_number(abs(to_number(n))),
    "file": file,
}

#: Functions whose result Terraform knows even when an argument is partly unknown: none of ours look inside.
LAZY_FUNCTIONS = frozenset({"try", "can"})
SUPPORTED = tuple(sorted({*FUNCTIONS, *LAZY_FUNCTIONS}))


def call(name: str, args: list[Any]) -> Any:
    """Apply a function; unknown arguments give an unknown result."""
    for arg in args:
        unknown = arg if isinstance(arg, Unknown) else None
        if unknown is None and name in {"jsonencode", "format", "join", "cidrsubnet", "cidrhost", "cidrsubnets"}:
            unknown = first_unknown(arg)
        if unknown is not None:
            return unknown
    try:
        return FUNCTIONS[name](*args)
    except TypeError as exc:
        if "argument" in str(exc):
            raise EvaluationError(f"wrong number of arguments to {name}()") from None
        raise
    except EvaluationError as exc:
        raise EvaluationError(f"{name}(): {exc.message}") from None


__all__ = ["FUNCTIONS", "LAZY_FUNCTIONS", "SUPPORTED", "call", "is_number"]
