"""Plan and state JSON (``terraform show -json``, ``format_version`` 1.x; raw ``.tfstate`` version 4) -> instances.

A plan is read at its planned values (what the network is after apply); ``prior_state`` is what it is now.
Values unknown until apply are marked from ``after_unknown``; an unknown that the plan's ``configuration`` names
as a reference to another resource of the plan resolves to that resource's value (its id, mostly); an unknown
id is the ARM id the resource's name and resource group imply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opennsg.model.ids import subscription_of
from opennsg.terraform.azurerm import Source, computed_attributes, resource_id
from opennsg.terraform.origin import TfOrigin
from opennsg.terraform.planscope import Instance, SourceModules, has_module_source
from opennsg.terraform.values import Unknown, first_unknown


def is_plan_or_state(data: Any) -> bool:
    """``terraform show -json`` output (plan or state) or a raw state file."""
    if not isinstance(data, Mapping):
        return False
    if isinstance(data.get("format_version"), str) and any(
        k in data for k in ("planned_values", "resource_changes", "prior_state", "values", "terraform_version")
    ):
        return True
    return (
        isinstance(data.get("version"), int) and "terraform_version" in data and isinstance(data.get("resources"), list)
    )


def is_plan(data: Any) -> bool:
    return isinstance(data, Mapping) and ("planned_values" in data or "resource_changes" in data)


@dataclass
class _Located:
    """Finds the line of a resource's ``"address"`` in the file's text (JSON carries no positions)."""

    text: str
    cache: dict[str, int] = field(default_factory=dict)

    def line(self, address: str) -> int:
        if address not in self.cache:
            pattern = re.compile(r'"address"\s*:\s*' + re.escape(json.dumps(address)))
            found = pattern.search(self.text)
            self.cache[address] = self.text.count("\n", 0, found.start()) + 1 if found else 0
        return self.cache[address]


def _modules(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield module
    for child in module.get("child_modules") or ():
        if isinstance(child, Mapping):
            yield from _modules(child)


def _mark_unknown(values: Any, unknown: Any, path: str) -> Any:
    """``values`` with every ``after_unknown`` leaf that is true replaced by an ``Unknown`` naming its path."""
    if unknown is True:
        return Unknown(path)
    if isinstance(unknown, Mapping):
        base = dict(values) if isinstance(values, Mapping) else {}
        for key, flag in unknown.items():
            base[key] = _mark_unknown(base.get(key), flag, f"{path}.{key}")
        return base
    if isinstance(unknown, list):
        items = list(values) if isinstance(values, list) else []
        while len(items) < len(unknown):
            items.append({} if isinstance(unknown[len(items)], Mapping) else None)
        return [
            _mark_unknown(items[i], unknown[i], f"{path}[{i}]") if i < len(unknown) else items[i]
            for i in range(len(items))
        ]
    return values


_ADDRESS = re.compile(
    r"^(?P<module>(?:module\.[^.\[]+(?:\[[^\]]+\])?\.)*)(?P<type>[a-z0-9_]+)\.(?P<name>[^.\[]+)(?P<index>\[[^\]]+\])?"
)


@dataclass
class _Resource:
    address: str
    module: str  # "module.net[0]." or ""
    type: str
    name: str
    index: Any
    values: dict[str, Any]
    line: int


@dataclass
class PlanReader:
    """One plan or state document; ``read(which)`` gives the instances of ``planned`` or ``prior`` values."""

    data: Mapping[str, Any]
    label: str
    text: str
    subscription: str | None
    placeholder: str
    problems: list[str] = field(default_factory=list)
    #: The directory of the plan file: its module's ``.tf`` source, when there, fills in what the JSON leaves out.
    directory: Path | None = None
    source: SourceModules | None = None
    _expression_index: dict[tuple[str, str], Mapping[str, Any] | None] = field(default_factory=dict)

    def read(self, which: str) -> tuple[list[Source], str]:
        """Instances and the subscription used for ids not in the document."""
        located = _Located(self.text)
        resources = self._resources(which, located)
        if which == "planned" and self.directory is not None and has_module_source(self.directory):
            configuration = self.data.get("configuration")
            variables = self.data.get("variables")
            self.source = SourceModules(
                self.directory,
                configuration if isinstance(configuration, Mapping) else {},
                variables if isinstance(variables, Mapping) else {},
                lambda: resources,
            )
        subscription = self.subscription or self._provider_subscription() or self.placeholder
        groups = {
            str(r.values.get("name", "")).casefold(): r.values["id"]
            for r in resources
            if r.type == "azurerm_resource_group" and isinstance(r.values.get("id"), str)
        }
        by_address = {r.address: r for r in resources}
        for r in resources:
            sub = subscription
            group = r.values.get("resource_group_name")
            known_group = groups.get(group.casefold()) if isinstance(group, str) else None
            if isinstance(known_group, str):
                sub = subscription_of(known_group) or subscription
            if not (isinstance(r.values.get("id"), str) and r.values["id"]):
                self._resolve(r, by_address, which, only_names=True)
                rid = resource_id(r.type, r.values, sub, r.address)
                if rid is not None:
                    r.values["id"] = rid
            for key, value in computed_attributes(r.type, r.values, sub, r.address).items():
                if key != "id" and key in r.values and isinstance(r.values[key], list):
                    r.values[key] = [
                        _child_id(item, value_item) for item, value_item in zip(r.values[key], value, strict=False)
                    ]
        # References chain (an admin rule's id needs its collection's, which needs its configuration's ...):
        # resolve until nothing changes.
        for _ in range(len(resources) + 1):
            changed = False
            for r in resources:
                before = dict(r.values)
                self._resolve(r, by_address, which, only_names=False)
                if isinstance(r.values.get("id"), Unknown):
                    rid = resource_id(r.type, r.values, subscription, r.address)
                    if isinstance(rid, str):
                        r.values["id"] = rid
                changed = changed or r.values != before
            if not changed:
                break
        sources = [
            Source(r.type, r.address, r.values, TfOrigin(self.label, r.line, r.address, plan=True)) for r in resources
        ]
        return sources, subscription

    # --- documents ---

    def _root(self, which: str) -> Mapping[str, Any] | None:
        data = self.data
        if which == "prior":
            prior = data.get("prior_state")
            values = prior.get("values") if isinstance(prior, Mapping) else None
        elif "planned_values" in data:
            values = data.get("planned_values")
        else:
            values = data.get("values")
        root = values.get("root_module") if isinstance(values, Mapping) else None
        return root if isinstance(root, Mapping) else None

    def _resources(self, which: str, located: _Located) -> list[_Resource]:
        if isinstance(self.data.get("version"), int) and "resources" in self.data and "format_version" not in self.data:
            return self._raw_state() if which != "prior" else []
        unknowns: dict[str, Any] = {}
        afters: dict[str, Any] = {}
        for change in self.data.get("resource_changes") or ():
            if isinstance(change, Mapping) and isinstance(change.get("change"), Mapping):
                unknowns[str(change.get("address"))] = change["change"].get("after_unknown")
                afters[str(change.get("address"))] = change["change"]
        out: list[_Resource] = []
        root = self._root(which)
        if root is None and which == "planned" and afters:
            return self._from_changes(afters, located)
        if root is None:
            return out
        for module in _modules(root):
            for item in module.get("resources") or ():
                if not isinstance(item, Mapping) or item.get("mode", "managed") != "managed":
                    continue
                address = str(item.get("address", ""))
                values: Any = dict(item.get("values") or {})
                if which == "planned" and unknowns.get(address):
                    values = _mark_unknown(values, unknowns[address], address)
                matched = _ADDRESS.match(address)
                module_prefix = matched["module"] if matched else ""
                out.append(
                    _Resource(
                        address,
                        module_prefix,
                        str(item.get("type", "")),
                        str(item.get("name", "")),
                        item.get("index"),
                        values,
                        located.line(address),
                    )
                )
        return out

    def _from_changes(self, changes: Mapping[str, Any], located: _Located) -> list[_Resource]:
        """A plan without ``planned_values``: every non-deleted change's ``after``."""
        out = []
        for address, change in changes.items():
            if "delete" in (change.get("actions") or ()) and "create" not in (change.get("actions") or ()):
                continue
            matched = _ADDRESS.match(address)
            if not matched:
                continue
            values = _mark_unknown(dict(change.get("after") or {}), change.get("after_unknown"), address)
            out.append(
                _Resource(
                    address, matched["module"], matched["type"], matched["name"], None, values, located.line(address)
                )
            )
        return out

    def _raw_state(self) -> list[_Resource]:
        out = []
        for item in self.data.get("resources") or ():
            if not isinstance(item, Mapping) or item.get("mode", "managed") != "managed":
                continue
            module = f"{item['module']}." if item.get("module") else ""
            for instance in item.get("instances") or ():
                key = instance.get("index_key")
                index = "" if key is None else f"[{json.dumps(key)}]"
                address = f"{module}{item.get('type')}.{item.get('name')}{index}"
                out.append(
                    _Resource(
                        address,
                        module,
                        str(item.get("type")),
                        str(item.get("name")),
                        key,
                        dict(instance.get("attributes") or {}),
                        0,
                    )
                )
        return out

    def _provider_subscription(self) -> str | None:
        config = self.data.get("configuration")
        providers = config.get("provider_config") if isinstance(config, Mapping) else None
        if not isinstance(providers, Mapping):
            return None
        for key, provider in providers.items():
            if not isinstance(provider, Mapping) or (provider.get("name") or key) != "azurerm" or provider.get("alias"):
                continue
            expression = (provider.get("expressions") or {}).get("subscription_id")
            if isinstance(expression, Mapping) and isinstance(expression.get("constant_value"), str):
                return str(expression["constant_value"])
        return None

    # --- references from the configuration ---

    def _config_module(self, module_prefix: str) -> Mapping[str, Any] | None:
        config = self.data.get("configuration")
        current = config.get("root_module") if isinstance(config, Mapping) else None
        for call in re.findall(r"module\.([^.\[]+)(?:\[[^\]]+\])?\.", module_prefix):
            calls = current.get("module_calls") if isinstance(current, Mapping) else None
            found = calls.get(call) if isinstance(calls, Mapping) else None
            current = found.get("module") if isinstance(found, Mapping) else None
        return current if isinstance(current, Mapping) else None

    def _expressions(self, r: _Resource) -> Mapping[str, Any] | None:
        key = (r.module, f"{r.type}.{r.name}")
        if key not in self._expression_index:
            module = self._config_module(r.module)
            found: Mapping[str, Any] | None = None
            for item in (module.get("resources") or ()) if module is not None else ():
                if isinstance(item, Mapping) and item.get("address") == key[1]:
                    expressions = item.get("expressions")
                    found = expressions if isinstance(expressions, Mapping) else None
                    break
            self._expression_index[key] = found
        return self._expression_index[key]

    def _resolve(self, r: _Resource, by_address: Mapping[str, _Resource], which: str, only_names: bool) -> None:
        if which != "planned":
            return
        expressions = self._expressions(r)
        if expressions is None and self.source is None:
            return
        r.values = _Unknowns(self, r, by_address, only_names).replace(r.values, expressions, ())

    def _reference(
        self, references: list[str], r: _Resource, by_address: Mapping[str, _Resource], key: str = ""
    ) -> Any:
        """The value of the first reference that names something the plan knows (or None).

        The configuration lists references, not the expression: ``x[count.index].id`` is listed as ``x`` and
        ``count.index``, so the instance of ``x`` with the referrer's own key is meant; any other index into
        several instances is left unknown rather than guessed. A whole resource listed for an argument that
        takes an id (``*_id``, ``security_group``) is its id (the attribute is not listed after an index)."""
        by_index = any(ref in ("count.index", "each.key") for ref in references)
        takes_id = key.endswith(("_id", "_ids")) or key == "security_group"
        for reference in references:
            value = self._lookup(reference, r.module, r.index, by_address, depth=0, by_index=by_index)
            if isinstance(value, Mapping) and takes_id:
                value = value.get("id")
            if value is not None and not isinstance(value, Unknown | Mapping):
                return value
            if value is None and self.source is not None and reference.startswith("local."):
                found = self.source.reference(reference, self._instance(r))
                if first_unknown(found) is None and found is not None:
                    return found
        return None

    def _instance(self, r: _Resource) -> Instance:
        return r  # its values are read live: each pass of ``read`` resolves more of them

    def _references(self, references: list[str], count: int, r: _Resource, by_address: Mapping[str, _Resource]) -> Any:
        """A list of ``count`` unknowns from references: one resource each, in order, or one for all."""
        resources: list[str] = []
        for reference in references:
            matched = _ADDRESS.match(reference)
            if matched and not any(reference.startswith(done) for done in resources):
                base = matched[0]
                if not any(base.startswith(done) or done.startswith(base) for done in resources):
                    resources.append(base)
        if len(resources) == count:
            found = [self._reference([f"{base}.id", base], r, by_address) for base in resources]
            return found if all(v is not None for v in found) else None
        value = self._reference(references, r, by_address) if len(resources) == 1 else None
        return None if value is None else [value] * count

    def _lookup(
        self,
        reference: str,
        module: str,
        index: Any,
        by_address: Mapping[str, _Resource],
        depth: int,
        by_index: bool = False,
    ) -> Any:
        if depth > 8:
            return None
        if reference.startswith("var."):
            return self._variable(reference[4:], module, index, by_address, depth)
        if reference.startswith("module."):
            matched = re.match(r"^module\.([^.\[]+)(\[[^\]]+\])?\.([^.\[]+)", reference)
            if not matched:
                return None
            child = self._config_module(f"{module}module.{matched[1]}.")
            outputs = child.get("outputs") if isinstance(child, Mapping) else None
            output = outputs.get(matched[3]) if isinstance(outputs, Mapping) else None
            expression = output.get("expression") if isinstance(output, Mapping) else None
            refs = expression.get("references") if isinstance(expression, Mapping) else None
            prefix = f"{module}module.{matched[1]}{matched[2] or ''}."
            for ref in refs or ():
                found = self._lookup(ref, prefix, index, by_address, depth + 1)
                if found is not None and not isinstance(found, Unknown | Mapping):
                    return found
            return None
        matched = re.match(r"^([a-z0-9_]+)\.([^.\[]+)((?:\[[^\]]+\])?)((?:\.[^.\[]+)*)$", reference)
        if not matched or matched[1] in ("local", "each", "count", "path", "terraform", "data", "self"):
            return None
        base = f"{module}{matched[1]}.{matched[2]}"
        target = by_address.get(base + matched[3])
        if target is None and not matched[3]:
            candidates = [t for a, t in by_address.items() if a == base or a.startswith(base + "[")]
            same = [t for t in candidates if index is not None and t.index == index]
            if len(candidates) == 1:
                target = candidates[0]
            elif len(same) == 1 and by_index:
                target = same[0]  # ``x[count.index]`` / ``x[each.key]``: the instance with the referrer's key
        if target is None:
            return None
        value: Any = target.values
        for step in matched[4].split(".")[1:]:
            value = value.get(step) if isinstance(value, Mapping) else None
        return value

    def _variable(self, name: str, module: str, index: Any, by_address: Mapping[str, _Resource], depth: int) -> Any:
        """``var.x`` inside a child module: the module block's argument in its parent, followed."""
        calls = re.findall(r"(module\.[^.\[]+(?:\[[^\]]+\])?\.)", module)
        if not calls:
            return None
        parent_prefix = "".join(calls[:-1])
        call_name = re.match(r"module\.([^.\[]+)", calls[-1])
        parent = self._config_module(parent_prefix)
        module_calls = parent.get("module_calls") if isinstance(parent, Mapping) else None
        call = module_calls.get(call_name[1]) if isinstance(module_calls, Mapping) and call_name else None
        expressions = call.get("expressions") if isinstance(call, Mapping) else None
        expression = expressions.get(name) if isinstance(expressions, Mapping) else None
        if not isinstance(expression, Mapping):
            return None
        if "constant_value" in expression:
            return expression["constant_value"]
        for ref in expression.get("references") or ():
            value = self._lookup(ref, parent_prefix, index, by_address, depth + 1)
            if value is not None and not isinstance(value, Unknown | Mapping):
                return value
        return None


def _child_id(item: Any, computed: Any) -> Any:
    if (
        isinstance(item, Mapping)
        and isinstance(computed, Mapping)
        and not isinstance(item.get("id"), str)
        and isinstance(computed.get("id"), str)
    ):
        return {**item, "id": computed["id"]}
    return item


_NAME_KEYS = frozenset(
    {"name", "resource_group_name", "virtual_network_name", "network_security_group_name", "route_table_name"}
)


@dataclass
class _Unknowns:
    """Replaces a resource's unknown values by what the configuration's references (or, with the module source
    beside the plan, the expressions themselves) resolve to, where they do."""

    reader: PlanReader
    resource: _Resource
    by_address: Mapping[str, _Resource]
    only_names: bool

    def replace(self, values: Any, expressions: Any, path: tuple[str | int, ...]) -> Any:
        references = expressions.get("references") if isinstance(expressions, Mapping) else None
        key = next((str(step) for step in reversed(path) if isinstance(step, str)), "")
        if isinstance(values, Unknown):
            found = self._from_source(path)
            if found is None and isinstance(references, list):
                found = self.reader._reference(references, self.resource, self.by_address, key)
            return values if found is None else found
        if isinstance(values, list) and any(isinstance(v, Unknown) for v in values) and not _blocks(values):
            found = self._from_source(path)
            if found is None and isinstance(references, list):
                found = self.reader._references(references, len(values), self.resource, self.by_address)
            if not isinstance(found, list) or len(found) != len(values):
                return values
            return [found[i] if isinstance(v, Unknown) else v for i, v in enumerate(values)]
        if isinstance(values, Mapping):
            out = dict(values)
            for name, value in values.items():
                if not path and self.only_names and name not in _NAME_KEYS:
                    continue
                inner = expressions.get(name) if isinstance(expressions, Mapping) else None
                out[name] = self.replace(value, inner, (*path, name))
            return out
        if isinstance(values, list):
            return [
                self.replace(v, expressions[i] if isinstance(expressions, list) and i < len(expressions) else None,
                             (*path, i))
                for i, v in enumerate(values)
            ]  # fmt: skip
        return values

    def _from_source(self, path: tuple[str | int, ...]) -> Any:
        """The value computed from the module source, when it is there and gives a known value."""
        if self.reader.source is None or self.only_names:
            return None
        found = self.reader.source.attribute(self.reader._instance(self.resource), path)
        return None if first_unknown(found) is not None or found is None else found


def _blocks(values: list[Any]) -> bool:
    return any(isinstance(v, Mapping) for v in values)


__all__ = ["PlanReader", "is_plan", "is_plan_or_state"]
