"""ARM templates -> resources with ids, the common expressions resolved.

Supported: ``parameters()``, ``variables()``, ``resourceId()`` (optional subscription and resource group
arguments), ``concat()``, ``format()``, ``resourceGroup()`` and ``subscription()`` (with simple property access
such as ``resourceGroup().location``), string literals with ``''`` escaping, integers, nested calls, ``[[``
escaping, ``condition``, nested child resources and ``dependsOn`` (each entry must name a resource of the
template). Any other function is an ``InvalidTemplate`` error naming it and its JSON path.

A template has no subscription or resource group of its own: ids are built under the placeholders
``TEMPLATE_SUBSCRIPTION_ID`` / ``TEMPLATE_RESOURCE_GROUP`` and ``resourceGroup().location`` is
``TEMPLATE_LOCATION``, so references between the template's resources resolve consistently.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opennsg.arm.parse import Reader, lookup
from opennsg.model.validation import Code, Message

TEMPLATE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TEMPLATE_RESOURCE_GROUP = "opennsg-template"
TEMPLATE_LOCATION = "eastus"


def is_template(data: Any) -> bool:
    """A deployment template: an object with a ``resources`` array and a ``$schema`` or ``contentVersion``."""
    return (
        isinstance(data, Mapping)
        and isinstance(lookup(data, "resources"), list)
        and (lookup(data, "$schema") is not None or lookup(data, "contentVersion") is not None)
    )


def is_parameters_file(data: Any) -> bool:
    """A deployment parameters file: ``{"parameters": {"x": {"value": ...}}}`` and no resources."""
    if not isinstance(data, Mapping) or lookup(data, "resources") is not None:
        return False
    params = lookup(data, "parameters")
    schema = lookup(data, "$schema")
    if isinstance(schema, str) and "deploymentparameters" in schema.casefold():
        return isinstance(params, Mapping)
    return (
        isinstance(params, Mapping)
        and bool(params)
        and all(isinstance(v, Mapping) and ("value" in v or "reference" in v) for v in params.values())
    )


def parameter_values(data: Mapping[str, Any]) -> dict[str, Any]:
    params = lookup(data, "parameters")
    return {name: spec.get("value") for name, spec in params.items() if isinstance(spec, Mapping)}


@dataclass(frozen=True, slots=True)
class TemplateResource:
    """One resource of a template, expressions resolved, in the wrapped ARM shape with its id."""

    path: str
    resource_type: str
    full_name: str
    resource_id: str
    body: Mapping[str, Any]


class _TemplateError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- expressions --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),.\[\]]))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _TemplateError(Code.INVALID_TEMPLATE, f"Cannot parse the expression '[{text}]' near '{text[pos:]}'.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


SUPPORTED_FUNCTIONS = ("parameters", "variables", "resourceId", "concat", "format", "resourceGroup", "subscription")


class _Evaluator:
    """Evaluates template expressions against the template's parameters and variables."""

    def __init__(self, parameters: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
        self._parameters = {k.casefold(): v for k, v in parameters.items()}
        self._variables_raw = {k.casefold(): v for k, v in variables.items()}
        self._variables: dict[str, Any] = {}
        self._resolving: set[str] = set()
        self.path = ""
        self._functions: dict[str, Callable[[list[Any]], Any]] = {
            "parameters": self._fn_parameters,
            "variables": self._fn_variables,
            "resourceid": self._fn_resource_id,
            "concat": _fn_concat,
            "format": _fn_format,
            "resourcegroup": _fn_resource_group,
            "subscription": _fn_subscription,
        }

    def value(self, value: Any, path: str) -> Any:
        """``value`` with every expression string inside it evaluated."""
        if isinstance(value, str):
            if value.startswith("[[") and value.endswith("]"):
                return value[1:]
            if value.startswith("[") and value.endswith("]"):
                self.path = path
                return self.expression(value[1:-1])
            return value
        if isinstance(value, Mapping):
            return {k: self.value(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def expression(self, text: str) -> Any:
        tokens = _tokenize(text)
        result, pos = self._parse(tokens, 0)
        if pos != len(tokens):
            raise _TemplateError(Code.INVALID_TEMPLATE, f"Unexpected '{tokens[pos][1]}' in the expression '[{text}]'.")
        return result

    def _parse(self, tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
        if pos >= len(tokens):
            raise _TemplateError(Code.INVALID_TEMPLATE, "The expression ends too early.")
        kind, text = tokens[pos]
        if kind == "string":
            result: Any = text[1:-1].replace("''", "'")
            pos += 1
        elif kind == "number":
            result, pos = int(text), pos + 1
        elif kind == "name":
            result, pos = self._call(tokens, pos)
        else:
            raise _TemplateError(Code.INVALID_TEMPLATE, f"Unexpected '{text}' in an expression.")
        while pos < len(tokens) and tokens[pos][1] in {".", "["}:
            if tokens[pos][1] == ".":
                if pos + 1 >= len(tokens) or tokens[pos + 1][0] != "name":
                    raise _TemplateError(Code.INVALID_TEMPLATE, "A property name must follow '.'.")
                result, pos = _member(result, tokens[pos + 1][1]), pos + 2
            else:
                index, pos = self._parse(tokens, pos + 1)
                if pos >= len(tokens) or tokens[pos][1] != "]":
                    raise _TemplateError(Code.INVALID_TEMPLATE, "Missing ']' after an index.")
                result, pos = _member(result, index), pos + 1
        return result, pos

    def _call(self, tokens: list[tuple[str, str]], pos: int) -> tuple[Any, int]:
        name = tokens[pos][1]
        function = self._functions.get(name.casefold())
        if function is None:
            message = Message.UNSUPPORTED_FUNCTION.format(
                name=name, path=self.path, supported=", ".join(SUPPORTED_FUNCTIONS)
            )
            raise _TemplateError(Code.INVALID_TEMPLATE, message)
        if pos + 1 >= len(tokens) or tokens[pos + 1][1] != "(":
            raise _TemplateError(Code.INVALID_TEMPLATE, f"'(' expected after '{name}'.")
        pos += 2
        args: list[Any] = []
        while pos < len(tokens) and tokens[pos][1] != ")":
            value, pos = self._parse(tokens, pos)
            args.append(value)
            if pos < len(tokens) and tokens[pos][1] == ",":
                pos += 1
            elif pos >= len(tokens) or tokens[pos][1] != ")":
                raise _TemplateError(Code.INVALID_TEMPLATE, f"',' or ')' expected in the arguments of '{name}'.")
        if pos >= len(tokens):
            raise _TemplateError(Code.INVALID_TEMPLATE, f"Missing ')' after the arguments of '{name}'.")
        return function(args), pos + 1

    def _fn_parameters(self, args: list[Any]) -> Any:
        name = _single_string("parameters", args)
        if name.casefold() not in self._parameters:
            raise _TemplateError(Code.INVALID_TEMPLATE, f"The template parameter '{name}' is not found.")
        return self._parameters[name.casefold()]

    def _fn_variables(self, args: list[Any]) -> Any:
        name = _single_string("variables", args)
        key = name.casefold()
        if key in self._variables:
            return self._variables[key]
        if key not in self._variables_raw:
            raise _TemplateError(Code.INVALID_TEMPLATE, f"The template variable '{name}' is not found.")
        if key in self._resolving:
            raise _TemplateError(Code.INVALID_TEMPLATE, f"The template variable '{name}' refers to itself.")
        self._resolving.add(key)
        saved = self.path
        try:
            value = self.value(self._variables_raw[key], f"variables.{name}")
        finally:
            self._resolving.discard(key)
            self.path = saved
        self._variables[key] = value
        return value

    def _fn_resource_id(self, args: list[Any]) -> str:
        if not all(isinstance(a, str) for a in args):
            raise _TemplateError(Code.INVALID_TEMPLATE, "resourceId() takes string arguments.")
        type_at = next((i for i, a in enumerate(args) if "/" in a), None)
        if type_at is None or type_at > 2:
            raise _TemplateError(Code.INVALID_TEMPLATE, "resourceId() needs a resource type such as 'Ns/type'.")
        scope = args[:type_at]
        subscription = scope[0] if len(scope) == 2 else TEMPLATE_SUBSCRIPTION_ID
        group = scope[-1] if scope else TEMPLATE_RESOURCE_GROUP
        return build_id(args[type_at], args[type_at + 1 :], subscription, group)


def _single_string(function: str, args: list[Any]) -> str:
    if len(args) != 1 or not isinstance(args[0], str):
        raise _TemplateError(Code.INVALID_TEMPLATE, f"{function}() takes one string argument.")
    return args[0]


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping) and isinstance(key, str):
        found = lookup(value, key)
        if found is not None:
            return found
    elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
        return value[key]
    raise _TemplateError(Code.INVALID_TEMPLATE, f"The value has no property or index '{key}'.")


def _fn_concat(args: list[Any]) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    if all(isinstance(a, str | int) and not isinstance(a, bool) for a in args):
        return "".join(str(a) for a in args)
    raise _TemplateError(Code.INVALID_TEMPLATE, "concat() takes all strings (or numbers) or all arrays.")


def _fn_format(args: list[Any]) -> str:
    if not args or not isinstance(args[0], str):
        raise _TemplateError(Code.INVALID_TEMPLATE, "format() takes a format string first.")
    out: list[str] = []
    for literal, field_name, _spec, _conversion in string.Formatter().parse(args[0]):
        out.append(literal)
        if field_name is None:
            continue
        if not field_name.isdigit() or int(field_name) + 1 >= len(args):
            raise _TemplateError(Code.INVALID_TEMPLATE, f"format(): no argument for '{{{field_name}}}'.")
        out.append(str(args[int(field_name) + 1]))
    return "".join(out)


def _fn_resource_group(args: list[Any]) -> dict[str, Any]:
    if args:
        raise _TemplateError(Code.INVALID_TEMPLATE, "resourceGroup() takes no arguments.")
    return {
        "id": f"/subscriptions/{TEMPLATE_SUBSCRIPTION_ID}/resourceGroups/{TEMPLATE_RESOURCE_GROUP}",
        "name": TEMPLATE_RESOURCE_GROUP,
        "type": "Microsoft.Resources/resourceGroups",
        "location": TEMPLATE_LOCATION,
    }


def _fn_subscription(args: list[Any]) -> dict[str, Any]:
    if args:
        raise _TemplateError(Code.INVALID_TEMPLATE, "subscription() takes no arguments.")
    return {"id": f"/subscriptions/{TEMPLATE_SUBSCRIPTION_ID}", "subscriptionId": TEMPLATE_SUBSCRIPTION_ID}


def build_id(resource_type: str, names: list[str] | tuple[str, ...], subscription: str, group: str) -> str:
    """``/subscriptions/s/resourceGroups/g/providers/Ns/t1/n1/t2/n2`` from ``Ns/t1/t2`` and ``(n1, n2)``."""
    namespace, _, types_text = resource_type.strip().partition("/")
    types = types_text.split("/")
    if not namespace or len(types) != len(names) or not all(types):
        raise _TemplateError(
            Code.INVALID_TEMPLATE, f"Resource type '{resource_type}' needs {len(types)} name(s), got {list(names)}."
        )
    pairs = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{namespace}/{pairs}"


# --- resources ----------------------------------------------------------------------------------------


def expand_template(
    template: Mapping[str, Any], reader: Reader, parameters: Mapping[str, Any] | None = None
) -> list[TemplateResource]:
    """The template's resources (children flattened out), problems recorded in ``reader``."""
    values: dict[str, Any] = {}
    declared = lookup(template, "parameters") or {}
    given = {k.casefold(): v for k, v in (parameters or {}).items()}
    known = {k.casefold() for k in declared} if isinstance(declared, Mapping) else set()
    for name in parameters or {}:
        if name.casefold() not in known:
            message = f"The parameter '{name}' of the parameters file is not declared in the template."
            reader.add(Code.INVALID_TEMPLATE, message, "parameters")
    for name, spec in declared.items() if isinstance(declared, Mapping) else ():
        if name.casefold() in given:
            values[name] = given[name.casefold()]
        elif isinstance(spec, Mapping) and "defaultValue" in spec:
            try:
                defaults = _Evaluator(values, {})
                values[name] = defaults.value(spec["defaultValue"], f"parameters.{name}.defaultValue")
            except _TemplateError as exc:
                reader.add(exc.code, exc.message, f"parameters.{name}.defaultValue")
        else:
            message = f"The template parameter '{name}' has no value: give a defaultValue or a parameters file."
            reader.add(Code.INVALID_TEMPLATE, message, f"parameters.{name}")
    variables = lookup(template, "variables") or {}
    evaluator = _Evaluator(values, variables if isinstance(variables, Mapping) else {})
    out: list[TemplateResource] = []
    resources = lookup(template, "resources")
    for i, item in enumerate(resources if isinstance(resources, list) else []):
        out.extend(_expand(item, f"resources[{i}]", None, evaluator, reader))
    _check_depends_on(template, out, evaluator, reader)
    return out


def _expand(
    item: Any, path: str, parent: TemplateResource | None, evaluator: _Evaluator, reader: Reader
) -> Iterator[TemplateResource]:
    if not isinstance(item, Mapping):
        reader.invalid("resources", path, "an object", item)
        return
    try:
        body = evaluator.value({k: v for k, v in item.items() if k not in {"resources", "dependsOn"}}, path)
    except _TemplateError as exc:
        reader.add(exc.code, exc.message, evaluator.path or path)
        return
    if lookup(body, "copy") is not None:
        reader.add(Code.INVALID_TEMPLATE, "Resource copy loops are not supported.", f"{path}.copy")
        return
    if lookup(body, "condition") is False:
        return
    resource_type, name = lookup(body, "type"), lookup(body, "name")
    if not isinstance(resource_type, str) or not isinstance(name, str):
        reader.add(Code.INVALID_TEMPLATE, "A template resource needs a string 'type' and 'name'.", path)
        return
    full_type, full_name = resource_type, name
    if parent is not None and resource_type.count("/") == 0:
        full_type = f"{parent.resource_type}/{resource_type}"
        full_name = f"{parent.full_name}/{name}" if "/" not in name else name
    try:
        resource_id = build_id(full_type, full_name.split("/"), TEMPLATE_SUBSCRIPTION_ID, TEMPLATE_RESOURCE_GROUP)
    except _TemplateError as exc:
        reader.add(exc.code, exc.message, path)
        return
    wrapped = dict(body)
    wrapped.update({"id": resource_id, "type": full_type, "name": full_name.rsplit("/", 1)[-1]})
    resource = TemplateResource(path, full_type, full_name, resource_id, wrapped)
    yield resource
    children = lookup(item, "resources")
    for j, child in enumerate(children if isinstance(children, list) else []):
        yield from _expand(child, f"{path}.resources[{j}]", resource, evaluator, reader)


def _check_depends_on(
    template: Mapping[str, Any], resources: list[TemplateResource], evaluator: _Evaluator, reader: Reader
) -> None:
    """Each ``dependsOn`` entry must name a resource the template declares (by id, name or ``type/name``)."""
    known: set[str] = set()
    for r in resources:
        known |= {
            r.resource_id.casefold(),
            str(r.body["name"]).casefold(),
            f"{r.resource_type}/{r.body['name']}".casefold(),
        }
    pending: list[tuple[Any, str]] = []
    top = lookup(template, "resources")
    for i, item in enumerate(top if isinstance(top, list) else []):
        pending.append((item, f"resources[{i}]"))
    while pending:
        item, path = pending.pop()
        if not isinstance(item, Mapping):
            continue
        children = lookup(item, "resources")
        pending.extend(
            (c, f"{path}.resources[{j}]") for j, c in enumerate(children if isinstance(children, list) else [])
        )
        depends = lookup(item, "dependsOn")
        for k, entry in enumerate(depends if isinstance(depends, list) else []):
            where = f"{path}.dependsOn[{k}]"
            try:
                target = evaluator.value(entry, where)
            except _TemplateError as exc:
                reader.add(exc.code, exc.message, where)
                continue
            if not isinstance(target, str) or target.strip().casefold() not in known:
                reader.add(Code.INVALID_TEMPLATE, f"The resource '{target}' is not defined in the template.", where)


__all__ = [
    "SUPPORTED_FUNCTIONS",
    "TEMPLATE_LOCATION",
    "TEMPLATE_RESOURCE_GROUP",
    "TEMPLATE_SUBSCRIPTION_ID",
    "TemplateResource",
    "build_id",
    "expand_template",
    "is_parameters_file",
    "is_template",
    "parameter_values",
]
