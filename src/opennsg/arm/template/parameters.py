"""Template parameters: values from parameters files and ``--parameter``, defaults (which may use other
parameters, ``newGuid()`` and ``utcNow()``), ARM's checks (type, allowedValues, min/max), Key Vault references
as placeholders; every parameter without a value is reported at once."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opennsg.arm.keys import lookup
from opennsg.arm.template.values import Suppressed, TemplateError, Unknown, arm_type, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

_TYPES = {
    "string": "String",
    "securestring": "String",
    "int": "Integer",
    "bool": "Boolean",
    "object": "Object",
    "secureobject": "Object",
    "array": "Array",
}


def key_vault_placeholder(name: str, spec: Mapping[str, Any]) -> Unknown:
    secret = lookup(spec, "secretName")
    vault = lookup(lookup(spec, "keyVault") or {}, "id")
    return Unknown(
        f"Key Vault secret '{secret}' of {vault}", "string", f"parameter '{name}' is read from Key Vault by Azure"
    )


def parameter_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """A parameters file's values; Key Vault references become placeholders."""
    params = lookup(data, "parameters")
    out: dict[str, Any] = {}
    for name, spec in (params or {}).items():
        if not isinstance(spec, Mapping):
            continue
        if "reference" in spec and "value" not in spec:
            out[name] = key_vault_placeholder(name, lookup(spec, "reference") or {})
        else:
            out[name] = spec.get("value")
    return out


def parse_cli_value(text: str, declared_type: str | None) -> Any:
    """``--parameter NAME=VALUE``: VALUE read as the declared type (JSON for arrays, objects, ints and bools)."""
    kind = (declared_type or "string").casefold()
    if kind in {"string", "securestring"}:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def resolved_type(spec: Mapping[str, Any], definitions: Mapping[str, Any]) -> str | None:
    ref = lookup(spec, "$ref")
    seen = 0
    while isinstance(ref, str) and ref.startswith("#/definitions/") and seen < 32:
        target = lookup(definitions, ref.removeprefix("#/definitions/"))
        if not isinstance(target, Mapping):
            return None
        spec, ref, seen = target, lookup(target, "$ref"), seen + 1
    kind = lookup(spec, "type")
    return kind.casefold() if isinstance(kind, str) else None


def check_value(name: str, spec: Mapping[str, Any], value: Any, definitions: Mapping[str, Any]) -> str | None:
    """ARM's refusal of a parameter value, or None."""
    if isinstance(value, Unknown) or (value is None and lookup(spec, "nullable") is True):
        return None
    kind = resolved_type(spec, definitions)
    expected = _TYPES.get(kind or "")
    actual = arm_type(value)
    if expected is not None and not (expected == actual or (expected == "Integer" and is_int(value))):
        return (
            f"The provided value for the template parameter '{name}' is not valid: expected a value of type "
            f"'{expected}', but received a value of type '{actual}'."
        )
    allowed = lookup(spec, "allowedValues")
    if isinstance(allowed, list) and allowed:
        candidates = value if isinstance(value, list) else [value]
        folded = [a.casefold() if isinstance(a, str) else a for a in allowed]
        for item in candidates:
            probe = item.casefold() if isinstance(item, str) else item
            if probe not in folded:
                shown = ", ".join(json.dumps(a) for a in allowed)
                return (
                    f"The provided value '{item}' for the template parameter '{name}' is not valid: it is not "
                    f"one of the allowed values ({shown})."
                )
    low, high = lookup(spec, "minValue"), lookup(spec, "maxValue")
    if is_int(value) and is_int(low) and value < low:
        return f"The value {value} of the template parameter '{name}' is less than its minValue {low}."
    if is_int(value) and is_int(high) and value > high:
        return f"The value {value} of the template parameter '{name}' is more than its maxValue {high}."
    shortest, longest = lookup(spec, "minLength"), lookup(spec, "maxLength")
    if isinstance(value, str | list) and is_int(shortest) and len(value) < shortest:
        return f"The value of the template parameter '{name}' is shorter ({len(value)}) than its minLength {shortest}."
    if isinstance(value, str | list) and is_int(longest) and len(value) > longest:
        return f"The value of the template parameter '{name}' is longer ({len(value)}) than its maxLength {longest}."
    return None


def _has_default(spec: Mapping[str, Any]) -> bool:
    return any(k.casefold() == "defaultvalue" for k in spec)


def coerce(value: Any, kind: str | None) -> Any:
    """ARM converts a string holding an integer or boolean to a parameter of that type ("2" for an int)."""
    if isinstance(value, str) and kind == "int":
        try:
            return int(value.strip())
        except ValueError:
            return value
    if isinstance(value, str) and kind == "bool" and value.strip().casefold() in {"true", "false"}:
        return value.strip().casefold() == "true"
    return value


def no_value_message(names: list[str]) -> str:
    """Azure refuses a deployment while a parameter has no value: every such parameter, and how to give values."""
    if len(names) == 1:
        return (
            f"The template parameter '{names[0]}' has no value: give it in a parameters file (--parameters FILE), "
            f"with --parameter {names[0]}=VALUE, or as a defaultValue."
        )
    listed = ", ".join(f"'{n}'" for n in names)
    example = " ".join(f"--parameter {n}=VALUE" for n in names[:3]) + (" ..." if len(names) > 3 else "")
    return (
        f"The {len(names)} template parameters {listed} have no value: give them in a parameters file "
        f"(--parameters FILE) or one by one with --parameter NAME=VALUE ({example}), or as defaultValues."
    )


def _staging_hint(name: str, spec: Mapping[str, Any], error: TemplateError) -> str | None:
    """For the quickstart pattern ``_artifactsLocation`` defaulting to ``[deployment().properties.templateLink.uri]``:
    Azure gives ``templateLink`` only to a template deployed from a URI, so deployed from a file the parameter needs a
    value, and OpenNSG reads the linked templates from this template's folder."""
    default = lookup(spec, "defaultValue")
    if not (isinstance(default, str) and "templatelink" in default.casefold() and "templateLink" in error.message):
        return None
    return (
        f"Azure sets deployment().properties.templateLink only for a template deployed from a URI (--template-uri); "
        f"deployed from a file, '{name}' needs a value: --parameter {name}=https://<where the files are staged>/ "
        f"(any base URI works for OpenNSG: it reads each linked template from this template's folder, at the path "
        f"the link adds to that URI, e.g. nested/vnet.json)."
    )


class ParameterResolver:
    """Resolves every declared parameter once: given value, else default (evaluated on demand), else missing."""

    def __init__(
        self,
        declared: Mapping[str, Any],
        given: Mapping[str, Any],
        definitions: Mapping[str, Any],
        scope: Scope,
        prefix: str,
        report: Any,
    ) -> None:
        self.declared = {k.casefold(): (k, v) for k, v in declared.items()}
        self.given = {k.casefold(): v for k, v in given.items()}
        self.definitions = definitions
        self.scope = scope
        self.prefix = prefix
        self.report = report
        self.values: dict[str, Any] = {}
        self.failed: set[str] = set()
        self.active: set[str] = set()
        self.without_value: list[str] = []

    def resolve_all(self) -> tuple[dict[str, Any], frozenset[str]]:
        for name, _spec in self.declared.values():
            with contextlib.suppress(Suppressed):
                self.resolve(name)
        if self.without_value:
            self.report(TemplateError(no_value_message(self.without_value), self._where(self.without_value)))
        return dict(self.values), frozenset(self.failed)

    def _where(self, names: list[str]) -> str:
        return f"{self.prefix}parameters" + (f".{names[0]}" if len(names) == 1 else "")

    def resolve(self, name: str) -> Any:
        key = name.casefold()
        if key in self.values:
            return self.values[key]
        if key in self.failed:
            raise Suppressed()
        if key not in self.declared:
            raise TemplateError(f"The template parameter '{name}' is not declared in the template's 'parameters'.")
        if key in self.active:
            raise TemplateError(f"The default value of the template parameter '{name}' refers to itself.")
        declared_name, spec = self.declared[key]
        spec = spec if isinstance(spec, Mapping) else {}
        where = f"{self.prefix}parameters.{declared_name}"
        self.active.add(key)
        try:
            if key in self.given and (self.given[key] is not None or not _has_default(spec)):
                value = self.given[key]  # a null value in a parameters file means: use the default
            elif "defaultValue" in spec or any(k.casefold() == "defaultvalue" for k in spec):
                default_scope = self.scope.child()
                default_scope.in_parameter_default = True
                default_scope.resolver = self.resolve
                value = default_scope.value(lookup(spec, "defaultValue"), f"{where}.defaultValue")
            elif lookup(spec, "nullable") is True:
                value = None
            else:
                self.failed.add(key)
                self.without_value.append(declared_name)  # all of them are reported at once, by resolve_all
                raise Suppressed()
        except Suppressed:
            self.failed.add(key)
            raise
        except TemplateError as exc:
            self.failed.add(key)
            hint = exc.hint or _staging_hint(declared_name, spec, exc)
            self.report(TemplateError(exc.message, exc.path or where, exc.code, hint))
            raise Suppressed() from None
        finally:
            self.active.discard(key)
        value = coerce(value, resolved_type(spec, self.definitions))
        problem = check_value(declared_name, spec, value, self.definitions)
        if problem is not None:
            self.failed.add(key)
            self.report(TemplateError(problem, where))
            raise Suppressed()
        self.values[key] = value
        return value
