"""The reader every ARM resource parser shares: case-insensitive property access, typed getters that collect every
problem (never only the first), the one child-collection iterator and the tracked-resource header."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple, TypedDict, TypeVar

from opennsg.arm.keys import lookup
from opennsg.model.enums import CaseInsensitiveEnum
from opennsg.model.errors import ArmError
from opennsg.model.ids import name_of
from opennsg.model.validation import Code, Message

E = TypeVar("E", bound=CaseInsensitiveEnum)
S = TypeVar("S")


def properties_of(body: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], str]:
    """The property bag and its path: ``properties`` when wrapped, the body itself when flattened by az."""
    inner = lookup(body, "properties")
    if isinstance(inner, Mapping):
        return inner, f"{path}properties."
    return body, path


class Child(NamedTuple):
    """One element of a child collection (``securityRules``, ``subnets``, ``probes``, ...)."""

    id: str  #: as given, else built under the parent from the child's name
    body: Mapping[str, Any]
    path: str
    properties: Mapping[str, Any]  #: ``properties`` when wrapped, the body itself when flattened by az
    properties_path: str


class Tracked(TypedDict):
    """The header of every top-level (tracked) resource, read the same way for each kind."""

    id: str
    name: str
    location: str
    tags: Mapping[str, str]


@dataclass
class Reader:
    """Collects every problem met while reading; ``where`` prefixes each target (a file name, say)."""

    where: str = ""
    problems: list[ArmError] = field(default_factory=list)
    #: Where each security rule read inside an NSG was (rule id key -> JSON path, flattened by az), so validation
    #: can point at the rule as written even when rules before it could not be read.
    rule_paths: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: Per object read: the object, its case-folded keys, and the (folded) names asked of it and not found.
    _folded: dict[int, tuple[Mapping[str, Any], dict[str, Any], set[str]]] = field(default_factory=dict, repr=False)
    #: Objects read since the last ``check_shape`` (their spelling not yet checked).
    _unchecked: list[int] = field(default_factory=list, repr=False)

    def get(self, obj: Mapping[str, Any], name: str) -> Any:
        """``lookup`` with each object's case-folded keys computed once (imports read many absent fields)."""
        if name in obj:
            return obj[name]
        entry = self._folded.get(id(obj))
        if entry is None or entry[0] is not obj:
            entry = (obj, {k.casefold(): v for k, v in obj.items() if isinstance(k, str)}, set())
            self._folded[id(obj)] = entry
            self._unchecked.append(id(obj))
        folded = name.casefold()
        if folded not in entry[1]:
            entry[2].add(folded)
        return entry[1].get(folded)

    def object(self, obj: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any] | None:
        """A nested object property (``addressSpace``, say); a value of another JSON type is reported."""
        value = self.get(obj, name)
        if value is None or isinstance(value, Mapping):
            return value
        self.invalid(name, f"{path}{name}", "an object", value)
        return None

    def check_shape(self, body: Mapping[str, Any], path: str) -> None:
        """What reading ``body`` would otherwise pass over silently, leaving an empty resource: a ``properties`` (at
        any depth) that is not an object, and properties spelt as the Python SDK's attributes (``ip_configurations``
        for ``ipConfigurations``), which ARM ignores: refused, so a body of snake_case keys is never stored empty."""
        pending: list[tuple[Any, str]] = [(body, path)]
        paths: dict[int, str] = {}
        while pending:
            value, where = pending.pop()
            if isinstance(value, list):
                pending.extend((item, f"{where.rstrip('.')}[{i}].") for i, item in enumerate(value))
                continue
            if not isinstance(value, Mapping):
                continue
            paths[id(value)] = where
            for key, inner in value.items():
                if not isinstance(key, str) or key.casefold() == "tags":
                    continue
                if key.casefold() == "properties" and inner is not None and not isinstance(inner, Mapping):
                    self.invalid(key, f"{where}{key}", "an object", inner)
                elif isinstance(inner, (Mapping, list)):
                    pending.append((inner, f"{where}{key}."))
        unchecked, self._unchecked = self._unchecked, []
        for key in unchecked:
            obj, _keys, asked = self._folded[key]
            where = paths.get(key, path)
            for name in obj:
                if isinstance(name, str) and "_" in name.strip("_") and _camel_folded(name) in asked:
                    shown = where.rstrip(".") or "the body"
                    message = Message.SDK_SPELLING.format(name=name, camel=_camel(name), path=shown)
                    self.add(Code.INVALID_REQUEST_FORMAT, message, f"{where}{name}")

    def add(self, code: str, message: str, path: str, hint: str | None = None) -> None:
        self.problems.append(ArmError(code, message, f"{self.where}{path.rstrip('.')}", hint))

    def invalid(self, name: str, path: str, expected: str, value: Any) -> None:
        self.add(
            Code.INVALID_REQUEST_FORMAT,
            Message.INVALID_VALUE.format(name=name, path=path, expected=expected, value=_show(value)),
            path,
        )

    def missing(self, name: str, path: str) -> None:
        self.add(Code.MISSING_REQUIRED_PROPERTY, Message.MISSING_REQUIRED_PROPERTY.format(name=name, path=path), path)

    # --- typed getters: None/absent means "not supplied" ---

    def _scalar(
        self,
        obj: Mapping[str, Any],
        name: str,
        path: str,
        bind: Callable[[Any], S | None],
        expected: str,
        required: bool = False,
    ) -> S | None:
        """``obj[name]`` bound as Json.NET binds it; absent is None (a problem when ``required``), unbindable is a
        problem and None."""
        value = self.get(obj, name)
        if value is None:
            if required:
                self.missing(name, f"{path}{name}")
            return None
        bound = bind(value)
        if bound is None:
            self.invalid(name, f"{path}{name}", expected, value)
        return bound

    def text(self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> str | None:
        return self._scalar(obj, name, path, bound_text, "a string", required)

    def texts(self, obj: Mapping[str, Any], name: str, path: str) -> tuple[str, ...]:
        value = self.get(obj, name)
        if value is None:
            return ()
        bound = [bound_text(v) for v in value] if isinstance(value, list) else [None]
        if any(b is None for b in bound):
            self.invalid(name, f"{path}{name}", "an array of strings", value)
            return ()
        return tuple(b for b in bound if b is not None)

    def enum(
        self,
        obj: Mapping[str, Any],
        name: str,
        path: str,
        enum: type[E],
        code: str,
        *,
        required: bool = False,
        subject: str = "",
    ) -> E | None:
        """An enumeration value matched case-insensitively; an unknown one is reported with ``code``."""
        raw = self.text(obj, name, path, required=required)
        if raw is None:
            return None
        member = enum.parse(raw)
        if member is None:
            allowed = ", ".join(m.value for m in enum)
            message = Message.INVALID_ENUM_VALUE.format(
                subject=subject, property=name, value=raw, allowed=allowed, path=f"{path}{name}"
            )
            self.add(code, message, f"{path}{name}")
            return None
        return member  # type: ignore[return-value]

    def enums(
        self, obj: Mapping[str, Any], name: str, path: str, enum: type[E], code: str, *, subject: str = ""
    ) -> tuple[E, ...]:
        """An array of enumeration values; unknown ones are reported with ``code``."""
        values = self.texts(obj, name, path)
        out: list[E] = []
        for i, raw in enumerate(values):
            member = enum.parse(raw)
            if member is None:
                allowed = ", ".join(m.value for m in enum)
                message = Message.INVALID_ENUM_VALUE.format(
                    subject=subject, property=name, value=raw, allowed=allowed, path=f"{path}{name}[{i}]"
                )
                self.add(code, message, f"{path}{name}[{i}]")
            else:
                out.append(member)  # type: ignore[arg-type]
        return tuple(out)

    def flag(self, obj: Mapping[str, Any], name: str, path: str, default: bool = False) -> bool:
        bound = self.optional_flag(obj, name, path)
        return default if bound is None else bound

    def optional_flag(self, obj: Mapping[str, Any], name: str, path: str) -> bool | None:
        """A boolean whose absence means something of its own (``defaultOutboundAccess``, say)."""
        return self._scalar(obj, name, path, bound_flag, "true or false")

    def integer(self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> int | None:
        return self._scalar(obj, name, path, bound_integer, "an integer", required)

    def reference(self, obj: Mapping[str, Any], name: str, path: str) -> str | None:
        """A ``{"id": ...}`` sub-resource reference."""
        value = self.get(obj, name)
        return None if value is None else self._ref(value, f"{path}{name}", name)

    def references(self, obj: Mapping[str, Any], name: str, path: str) -> tuple[str, ...]:
        value = self.get(obj, name)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.invalid(name, f"{path}{name}", "an array of references", value)
            return ()
        refs = (self._ref(item, f"{path}{name}[{i}]", name) for i, item in enumerate(value))
        return tuple(r for r in refs if r is not None)

    def _ref(self, value: Any, path: str, name: str) -> str | None:
        if not isinstance(value, Mapping):
            self.invalid(name, path, 'a reference {"id": ...}', value)
            return None
        ref = self.get(value, "id")
        if not isinstance(ref, str) or not ref.strip():
            self.add(Code.MISSING_REFERENCE_ID, Message.MISSING_REFERENCE_ID.format(path=path), path)
            return None
        return ref

    def objects(self, obj: Mapping[str, Any], name: str, path: str) -> list[tuple[Mapping[str, Any], str]]:
        """The objects of an array property, each with its path."""
        value = self.get(obj, name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.invalid(name, f"{path}{name}", "an array", value)
            return []
        out: list[tuple[Mapping[str, Any], str]] = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                out.append((item, f"{path}{name}[{i}]."))
            else:
                self.invalid(name, f"{path}{name}[{i}]", "an object", item)
        return out

    def tags(self, body: Mapping[str, Any], path: str) -> Mapping[str, str]:
        value = self.get(body, "tags")
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.invalid("tags", f"{path}tags", "an object of strings", value)
            return MappingProxyType({})
        return MappingProxyType(dict(value))

    def name(self, body: Mapping[str, Any], resource_id: str, path: str) -> str:
        given = self.text(body, "name", path)
        return given if given else name_of(resource_id)

    def tracked(self, body: Mapping[str, Any], resource_id: str, path: str) -> Tracked:
        """``id``, ``name``, ``location`` and ``tags``: spread into the model (``NetworkSecurityGroup(**header)``)."""
        return Tracked(
            id=resource_id,
            name=self.name(body, resource_id, path),
            location=self.text(body, "location", path) or "",
            tags=self.tags(body, path),
        )

    def children(self, parent_id: str, collection: str, props: Mapping[str, Any], path: str) -> Iterator[Child]:
        """Each object of the child collection ``collection``, with its id: the given ``id``, else the parent's id
        extended by ``/{collection}/{name}`` (a child without either is reported as missing its name). Lazy, so the
        problems of each child are reported in the order the children are written."""
        for item, ipath in self.objects(props, collection, path):
            child_id = self.text(item, "id", ipath)
            if not child_id:
                child_id = f"{parent_id}/{collection}/{self.text(item, 'name', ipath, required=True) or ''}"
            inner, inner_path = properties_of(item, ipath)
            yield Child(child_id, item, ipath, inner, inner_path)

    def sku(self, body: Mapping[str, Any], path: str) -> tuple[str | None, str | None]:
        """``sku: {name, tier}`` (top level in both ARM and az shapes)."""
        sku = self.get(body, "sku")
        if sku is None:
            return None, None
        if not isinstance(sku, Mapping):
            self.invalid("sku", f"{path}sku", "an object", sku)
            return None, None
        return self.text(sku, "name", f"{path}sku."), self.text(sku, "tier", f"{path}sku.")


#: What Json.NET's ``int.TryParse`` (``NumberStyles.Integer``) takes from a string: optional blanks and sign, digits.
_INTEGER_TEXT = re.compile(r"^[\t\n\x0b\x0c\r ]*[+-]?[0-9]+[\t\n\x0b\x0c\r ]*$", re.ASCII)


def bound_text(value: Any) -> str | None:
    """A JSON scalar read for a string property as Azure's resource providers read it: their Json.NET binding takes
    any primitive token for a string, numbers as written and booleans as ``true``/``false`` (a published template
    gives ``destinationPortRange: 8540`` and deploys). Objects, arrays and null are not strings: None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return None


def bound_integer(value: Any) -> int | None:
    """A JSON value read for an integer property as Json.NET binds it: an integer, or a string of one (published
    templates that deploy give ``"intervalInSeconds": "5"``). Booleans, fractions, objects and arrays: None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.match(value):
        return int(value)
    return None


def bound_flag(value: Any) -> bool | None:
    """A JSON value read for a boolean property as Json.NET binds it: a boolean, or the string ``true``/``false`` in
    any case (``bool.TryParse``, blanks around allowed). Anything else: None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    return None


def _camel(name: str) -> str:
    """``ip_configurations`` -> ``ipConfigurations`` (the Python SDK's attribute -> ARM's JSON name)."""
    head, *rest = name.strip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_folded(name: str) -> str:
    return _camel(name).casefold()


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
