"""A plan's module source, when the plan sits in its root module's directory: what the plan's JSON leaves out.

Terraform's ``configuration`` section lists only the references of each expression, and no ``locals`` at all: a
value unknown until apply written ``local.app_subnet_id``, ``each.value.subnet`` or
``azurerm_subnet.spoke["${each.key}/pe"].id`` cannot be resolved from the JSON alone. CI directories hold the
module beside its ``plan.json``; then the expression is read from the ``.tf`` files and evaluated over the plan's
own values (resource instances by address, ``variables``, ``each``/``count`` from the instance's index), so it
gives the id the referenced resource will get. Only values the plan leaves unknown are computed this way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opennsg.terraform.expressions import Namespace, ResourceValue, Scope, evaluate
from opennsg.terraform.module import Config, module_files, read_config
from opennsg.terraform.syntax import Block, Body, HclSyntaxError, parse_expression
from opennsg.terraform.values import EvaluationError, TfSet, Unknown, first_unknown

#: ``module.a["x"].module.b[0].`` -> ("a", '"x"'), ("b", "0")
_CALL = re.compile(r'module\.([^.\[]+)(?:\[((?:"[^"]*")|[^\]]*)\])?\.')


class Instance(Protocol):
    """What the scope needs of a plan resource: its address parts and its values as they are resolved so far."""

    address: str
    module: str
    type: str
    name: str
    index: Any
    values: dict[str, Any]


def has_module_source(directory: Path) -> bool:
    return directory.is_dir() and bool(module_files(directory))


@dataclass
class SourceModules:
    """The root module at ``directory`` and its local child modules, evaluated over a plan's values."""

    directory: Path
    configuration: Mapping[str, Any]
    variables: Mapping[str, Any]
    instances: Callable[[], Sequence[Instance]]
    _configs: dict[str, Config | None] = field(default_factory=dict)
    _locals: dict[tuple[str, str], Any] = field(default_factory=dict)
    _busy: set[tuple[str, str]] = field(default_factory=set)
    _by_name: dict[tuple[str, str, str], list[Instance]] | None = None

    def _named(self, prefix: str, resource_type: str, name: str) -> list[Instance]:
        if self._by_name is None:
            self._by_name = {}
            for instance in self.instances():
                self._by_name.setdefault((instance.module, instance.type, instance.name), []).append(instance)
        return self._by_name.get((prefix, resource_type, name), [])

    # --- modules ---

    def config(self, prefix: str) -> Config | None:
        """The module a plan address prefix (``""``, ``module.net[0].``) is an instance of."""
        if prefix not in self._configs:
            self._configs[prefix] = self._read(prefix)
        return self._configs[prefix]

    def _read(self, prefix: str) -> Config | None:
        calls = _CALL.findall(prefix)
        if not calls:
            return read_config(self.directory, module_files(self.directory), [])
        parent_prefix = prefix[: prefix.rfind("module.")]
        parent = self.config(parent_prefix)
        block = parent.modules.get(calls[-1][0]) if parent else None
        source = block.body.attributes.get("source") if block else None
        if parent is None or source is None:
            return None
        try:
            path = evaluate(source.expression, Scope({}, _constants_only))
        except EvaluationError:
            return None
        directory = parent.directory / str(path)
        return read_config(directory, module_files(directory), []) if has_module_source(directory) else None

    # --- evaluation ---

    def attribute(self, instance: Instance, path: Sequence[str | int]) -> Any:
        """The value of one argument of a resource instance (``("ip_configuration", 0, "subnet_id")``), computed
        from its expression; an ``Unknown`` when it cannot be."""
        config = self.config(instance.module)
        block = config.resources.get((instance.type, instance.name)) if config else None
        if block is None or not path:
            return Unknown(instance.address)
        try:
            scope = self._instance_scope(instance.module, block, instance.index)
            body, names = block.body, scope
            steps = list(path)
            while len(steps) > 1:
                kind, position = steps.pop(0), steps.pop(0)
                if not isinstance(kind, str) or not isinstance(position, int):
                    return Unknown(instance.address)
                expanded = list(self._nested(body, kind, names))
                if position >= len(expanded):
                    return Unknown(instance.address)
                body, names = expanded[position]
            attribute = body.attributes.get(str(steps[0]))
            if attribute is None:
                return Unknown(instance.address)
            return _plain(evaluate(attribute.expression, names))
        except (EvaluationError, _Cycle):
            return Unknown(instance.address)

    def reference(self, text: str, instance: Instance) -> Any:
        """A reference as the configuration lists it (``local.subnets["app"]``), evaluated where it is written."""
        config = self.config(instance.module)
        block = config.resources.get((instance.type, instance.name)) if config else None
        try:
            expression = parse_expression(text, block.file if block else "", block.line if block else 0)
            scope = (
                self._instance_scope(instance.module, block, instance.index)
                if block
                else self._module_scope(instance.module)
            )
            return _plain(evaluate(expression, scope))
        except (HclSyntaxError, EvaluationError, _Cycle):
            return Unknown(text)

    def _nested(self, body: Body, kind: str, scope: Scope) -> Iterator[tuple[Body, Scope]]:
        """The nested blocks of one kind in order, ``dynamic`` ones expanded (with their iterator in scope)."""
        for nested in body.blocks:
            if nested.kind == kind:
                yield nested.body, scope
            elif nested.kind == "dynamic" and nested.labels[:1] == (kind,):
                attributes = nested.body.attributes
                contents = nested.body.blocks_of("content")
                if "for_each" not in attributes or len(contents) != 1:
                    continue
                items = evaluate(attributes["for_each"].expression, scope)
                iterator = attributes["iterator"].expression.text if "iterator" in attributes else kind
                for key, value in _pairs(items):
                    yield contents[0].body, scope.child({iterator: {"key": key, "value": value}})

    def _module_scope(self, prefix: str) -> Scope:
        config = self.config(prefix)
        return Scope({}, lambda name: self._name(prefix, name, config), "")

    def _instance_scope(self, prefix: str, block: Block, index: Any) -> Scope:
        scope = self._module_scope(prefix)
        attributes = block.body.attributes
        if "count" in attributes and isinstance(index, int):
            return scope.child({"count": {"index": index}})
        if "for_each" in attributes and index is not None:
            items = evaluate(attributes["for_each"].expression, scope)
            value = dict(_pairs(items)).get(index, Unknown(f"each.value of {block.title}"))
            return scope.child({"each": {"key": index, "value": value}})
        return scope

    def _name(self, prefix: str, name: str, config: Config | None) -> Any:
        if name == "local":
            return Namespace("local", lambda local: self._local(prefix, local))
        if name == "var":
            return Namespace("var", lambda variable: self._variable(prefix, variable))
        if name == "module":
            return Namespace("module", lambda call: self._module(prefix, call))
        if name == "data":
            raise EvaluationError("a data source is read from Azure")
        if config is not None and any(t == name for t, _ in config.resources):
            return Namespace(name, lambda resource: self._resources(prefix, name, resource))
        raise KeyError(name)

    def _local(self, prefix: str, name: str) -> Any:
        key = (prefix, name)
        if key in self._locals:
            return self._locals[key]
        config = self.config(prefix)
        found = config.locals.get(name) if config else None
        if found is None:
            raise EvaluationError(f'reference to undeclared local value "{name}"')
        if key in self._busy:
            raise _Cycle
        self._busy.add(key)
        try:
            value = evaluate(found[0].expression, self._module_scope(prefix))
        finally:
            self._busy.discard(key)
        if first_unknown(value) is None:  # the plan's values fill in pass by pass: keep only what is final
            self._locals[key] = value
        return value

    def _variable(self, prefix: str, name: str) -> Any:
        calls = _CALL.findall(prefix)
        if not calls:
            given = self.variables.get(name)
            if isinstance(given, Mapping) and "value" in given:
                return given["value"]
            raise EvaluationError(f"no value for var.{name} in the plan")
        parent_prefix = prefix[: prefix.rfind("module.")]
        parent = self.config(parent_prefix)
        call = parent.modules.get(calls[-1][0]) if parent else None
        if call is not None and name in call.body.attributes:
            scope = self._module_scope(parent_prefix)
            key = _index_value(calls[-1][1])
            if "count" in call.body.attributes and isinstance(key, int):
                scope = scope.child({"count": {"index": key}})
            elif "for_each" in call.body.attributes and key is not None:
                items = dict(_pairs(evaluate(call.body.attributes["for_each"].expression, scope)))
                scope = scope.child({"each": {"key": key, "value": items.get(key)}})
            return evaluate(call.body.attributes[name].expression, scope)
        child = self.config(prefix)
        declared = child.variables.get(name) if child else None
        if declared is not None and "default" in declared.body.attributes:
            return evaluate(declared.body.attributes["default"].expression, Scope({}, _constants_only))
        raise EvaluationError(f"no value for var.{name} of {prefix.rstrip('.')}")

    def _module(self, prefix: str, name: str) -> Any:
        base = f"{prefix}module.{name}"
        keys = sorted(
            {
                _index_value(found[1])
                for found in (
                    _CALL.match(i.module[len(prefix) :]) for i in self.instances() if i.module.startswith(prefix)
                )
                if found and found[1] == name and found[2]
            },
            key=str,
        )

        def outputs(child_prefix: str) -> Namespace:
            def output(output_name: str) -> Any:
                config = self.config(child_prefix)
                block = config.outputs.get(output_name) if config else None
                if block is None or "value" not in block.body.attributes:
                    raise EvaluationError(f'module {child_prefix.rstrip(".")} has no output "{output_name}"')
                return evaluate(block.body.attributes["value"].expression, self._module_scope(child_prefix))

            return Namespace(child_prefix.rstrip("."), output)

        if not keys:
            return outputs(f"{base}.")
        if all(isinstance(k, int) for k in keys):
            return [outputs(f"{base}[{k}].") for k in sorted(keys)]
        return {k: outputs(f"{base}[{json.dumps(k)}].") for k in keys}

    def _resources(self, prefix: str, resource_type: str, name: str) -> Any:
        base = f"{prefix}{resource_type}.{name}"
        found = self._named(prefix, resource_type, name)
        single = [i for i in found if i.address == base]
        if single:
            return ResourceValue(single[0].values, base)
        if found and all(isinstance(i.index, int) for i in found):
            return [ResourceValue(i.values, i.address) for i in sorted(found, key=lambda i: i.index)]
        if found:
            return {str(i.index): ResourceValue(i.values, i.address) for i in found}
        return Unknown(base)


class _Cycle(Exception):
    """Locals that refer to each other (reported by ``validate`` of the module; here the value stays unknown)."""


def _constants_only(name: str) -> Any:
    raise EvaluationError(f'"{name}" cannot be referenced here')


def _pairs(items: Any) -> list[tuple[Any, Any]]:
    if isinstance(items, TfSet):
        return [(item, item) for item in items]
    if isinstance(items, Mapping):
        return [(k, items[k]) for k in sorted(items)]
    if isinstance(items, list):
        return list(enumerate(items))
    return []


def _index_value(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _plain(value: Any) -> Any:
    """Evaluated values as plan JSON holds them (sets and block values as lists and dicts)."""
    if isinstance(value, Mapping) and not isinstance(value, ResourceValue):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


__all__ = ["Instance", "SourceModules", "has_module_source"]
