"""A template's resources: copy loops, conditions, nested and top-level children, ``existing`` resources,
symbolic names (languageVersion 2.0), ids under the deployment's scope, and ``dependsOn`` checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opennsg.arm.keys import has_key, lookup
from opennsg.arm.template.context import DeploymentContext
from opennsg.arm.template.functions.resources import split_type
from opennsg.arm.template.scope import Scope
from opennsg.arm.template.values import Suppressed, TemplateError, Unknown
from opennsg.model.codes import Code

_NOT_BODY = frozenset({"resources", "dependson", "copy", "condition", "existing", "name", "type", "comments"})
DEPLOYMENTS = "microsoft.resources/deployments"


@dataclass
class Declared:
    """One resource instance of the template (one per copy iteration), its identity evaluated."""

    path: str
    raw: Mapping[str, Any]
    scope: Scope
    resource_type: str
    full_name: str
    resource_id: str
    symbol: str | None
    loop: str | None
    index: int | None
    existing: bool
    deployed: bool
    body: dict[str, Any] | None = None
    failed: bool = False
    evaluating: bool = False
    nested: Any = None
    children: list[Declared] = field(default_factory=list)

    @property
    def short_name(self) -> str:
        return self.full_name.rsplit("/", 1)[-1]

    @property
    def is_deployment(self) -> bool:
        return self.resource_type.casefold() == DEPLOYMENTS


def resource_id(context: DeploymentContext, resource_type: str, full_name: str, scope_id: str | None) -> str:
    namespace, types = split_type("resourceId", resource_type)
    names = full_name.strip("/").split("/")
    if len(names) != len(types):
        raise TemplateError(
            f"The resource type '{resource_type}' has {len(types)} segment(s) but the name '{full_name}' has "
            f"{len(names)}: a child resource's name must be 'parent/child' (one name per type segment)."
        )
    pairs = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    if scope_id:
        return f"{scope_id.rstrip('/')}/providers/{namespace}/{pairs}"
    if context.resource_group is None:
        return f"/subscriptions/{context.subscription_id}/providers/{namespace}/{pairs}"
    return f"{context.resource_group_id}/providers/{namespace}/{pairs}"


class ResourceWalker:
    """Declares every resource instance of a template (phase one: identities, no bodies)."""

    def __init__(self, owner: Any, placement: DeploymentContext, prefix: str) -> None:
        self.owner = owner
        self.placement = placement
        self.prefix = prefix
        self.failed_names: set[str] = set()

    def declare(self, resources: Any, scope: Scope) -> list[Declared]:
        out: list[Declared] = []
        items: list[tuple[str, str | None, Any]]
        if isinstance(resources, Mapping):
            items = [(f"resources.{symbol}", symbol, item) for symbol, item in resources.items()]
        elif isinstance(resources, list):
            items = [(f"resources[{i}]", None, item) for i, item in enumerate(resources)]
        else:
            return out
        for path, symbol, item in items:
            out.extend(self._instances(f"{self.prefix}{path}", symbol, item, scope, None))
        return out

    def _instances(
        self, path: str, symbol: str | None, item: Any, scope: Scope, parent: Declared | None
    ) -> Iterator[Declared]:
        if not isinstance(item, Mapping):
            self.owner.report(TemplateError("A template resource must be a JSON object.", path))
            return
        if has_key(item, "import") or has_key(item, "extension"):
            self._mark_failed(item, symbol)  # dependsOn may name it
            return  # a Bicep extensibility resource (Kubernetes, Microsoft Graph): not an Azure resource
        loop = lookup(item, "copy")
        if loop is None:
            yield from self._one(path, symbol, item, scope, parent, None, None)
            return
        try:
            if not isinstance(loop, Mapping):
                raise TemplateError("A resource's 'copy' must be an object with 'name' and 'count'.", f"{path}.copy")
            name = lookup(loop, "name")
            if not isinstance(name, str) or not name:
                raise TemplateError("A resource copy loop needs a 'name'.", f"{path}.copy.name")
            count = scope.count(lookup(loop, "count"), f"{path}.copy.count")
            mode = scope.value(lookup(loop, "mode"), f"{path}.copy.mode")
            if mode is not None and (not isinstance(mode, str) or mode.casefold() not in {"serial", "parallel"}):
                raise TemplateError(f"The copy mode must be 'serial' or 'parallel', not {mode!r}.", f"{path}.copy.mode")
            batch = scope.value(lookup(loop, "batchSize"), f"{path}.copy.batchSize")
            if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
                raise TemplateError(
                    f"The copy batchSize must be a positive integer, not {batch!r}.", f"{path}.copy.batchSize"
                )
        except (Suppressed, TemplateError) as exc:
            if not isinstance(exc, Suppressed):
                self.owner.report(exc)
            self._mark_failed(item, symbol)
            loop_name = lookup(loop, "name") if isinstance(loop, Mapping) else None
            if isinstance(loop_name, str):
                self.failed_names.add(loop_name.casefold())
            return
        self.owner.loops[name.casefold()] = symbol
        for i in range(count):
            inner = scope.with_copy(name, i, default=True)
            yield from self._one(f"{path}{{copyIndex={i}}}", symbol, item, inner, parent, name, i)

    def _one(
        self,
        path: str,
        symbol: str | None,
        item: Mapping[str, Any],
        scope: Scope,
        parent: Declared | None,
        loop: str | None,
        index: int | None,
    ) -> Iterator[Declared]:
        try:
            condition = scope.value(lookup(item, "condition"), f"{path}.condition") if "condition" in item else True
            resource_type = scope.value(lookup(item, "type"), f"{path}.type")
            name = scope.value(lookup(item, "name"), f"{path}.name")
            existing = scope.value(lookup(item, "existing"), f"{path}.existing") is True
            scope_value = scope.value(lookup(item, "scope"), f"{path}.scope") if lookup(item, "scope") else None
        except Suppressed:
            self._mark_failed(item, symbol)
            return
        except TemplateError as exc:
            self.owner.report(exc)
            self._mark_failed(item, symbol)
            return
        if not isinstance(resource_type, str) or not resource_type.strip():
            self.owner.report(TemplateError("A template resource needs a string 'type'.", f"{path}.type"))
            return
        resource_type = resource_type.strip().strip("/")
        if parent is not None and "/" not in resource_type:
            resource_type = f"{parent.resource_type}/{resource_type}"
        if isinstance(name, Unknown) or isinstance(condition, Unknown):
            unknown = name if isinstance(name, Unknown) else condition
            assert isinstance(unknown, Unknown)
            if self.owner.models(resource_type) or resource_type.casefold() == DEPLOYMENTS:
                what = "name" if unknown is name else "condition"
                self.owner.report(
                    TemplateError(
                        f"The {what} of this {resource_type} resource is '{unknown.origin}': {unknown.why}, but "
                        "OpenNSG needs it to know the resource. Give the value itself (a parameter value).",
                        f"{path}.{what}",
                        Code.DEPLOYMENT_TIME_VALUE_NEEDED,
                    )
                )
            self._mark_failed(item, symbol)  # a resource OpenNSG does not model, named only at deployment
            return
        if name == "":
            written = lookup(item, "name")
            self.owner.report(
                TemplateError(
                    f"The name of this {resource_type} resource is empty ({written!r} evaluates to ''): Azure "
                    "refuses a resource without a name; give the values it is made of.",
                    f"{path}.name",
                )
            )
            return
        if not isinstance(name, str):
            self.owner.report(TemplateError("A template resource needs a string 'name'.", f"{path}.name"))
            return
        if not isinstance(condition, bool):
            self.owner.report(
                TemplateError(f"A condition must be true or false, not {condition!r}.", f"{path}.condition")
            )
            return
        full_name = name
        if parent is not None and name.count("/") < resource_type.count("/") - 1:
            full_name = f"{parent.full_name}/{name}"
        scope_id = self._scope_id(scope_value)
        try:
            rid = resource_id(self.placement, resource_type, full_name, scope_id)
        except TemplateError as exc:
            exc.path = exc.path or f"{path}.name"
            self.owner.report(exc)
            return
        deployed = condition and not existing and (parent is None or parent.deployed)
        declared = Declared(path, item, scope, resource_type, full_name, rid, symbol, loop, index, existing, deployed)
        yield declared
        children = lookup(item, "resources")
        if isinstance(children, list):
            for j, child in enumerate(children):
                for instance in self._instances(f"{path}.resources[{j}]", None, child, scope, declared):
                    declared.children.append(instance)
                    yield instance

    def _scope_id(self, value: Any) -> str | None:
        if isinstance(value, str) and value.startswith("/"):
            return value
        if isinstance(value, str) and value:
            target = self.owner.find(value)
            return target.resource_id if target is not None else None
        return None

    def _mark_failed(self, item: Mapping[str, Any], symbol: str | None) -> None:
        """A resource not declared (its identity failed, or is not known offline): what dependsOn may call it."""
        raw = lookup(item, "name")
        if isinstance(raw, str):
            self.failed_names.add(raw.casefold())
        if symbol is not None:
            self.failed_names.add(symbol.casefold())


def body_of(declared: Declared) -> dict[str, Any]:
    """Phase two: a resource's properties evaluated (in its copy iteration's scope)."""
    raw = {k: v for k, v in declared.raw.items() if k.casefold() not in _NOT_BODY}
    if declared.is_deployment:
        properties = lookup(raw, "properties")
        if isinstance(properties, Mapping):
            outer = {k: v for k, v in properties.items() if k.casefold() not in {"template", "parameters"}}
            raw = {**raw, "properties": outer}
    body = declared.scope.value(raw, declared.path)
    return body if isinstance(body, dict) else {}
