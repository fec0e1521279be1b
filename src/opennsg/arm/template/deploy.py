"""One deployment of a template: parameters, variables, user functions, resources (with nested deployments,
inline or linked by ``relativePath``/``uri`` from the file system), ``reference()`` and outputs.

Expressions of a nested deployment run in the outer template's scope (ARM's default) or, with
``expressionEvaluationOptions.scope: inner``, in its own with the parameters the outer one passes; its resources
land in the ``subscriptionId``/``resourceGroup`` it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opennsg.arm.keys import has_key, lookup
from opennsg.arm.template.context import DeploymentContext
from opennsg.arm.template.parameters import ParameterResolver, key_vault_placeholder
from opennsg.arm.template.resources import Declared, ResourceWalker, body_of
from opennsg.arm.template.scope import Scope
from opennsg.arm.template.values import Suppressed, TemplateError, Unknown
from opennsg.model.files import read_json_file

MAX_NESTING = 16


def user_functions(template: Mapping[str, Any]) -> dict[str, dict[str, tuple[list[str], Any]]]:
    """``functions`` section -> namespace -> member -> (parameter names, output)."""
    out: dict[str, dict[str, tuple[list[str], Any]]] = {}
    for entry in lookup(template, "functions") or []:
        if not isinstance(entry, Mapping):
            continue
        namespace = lookup(entry, "namespace")
        for name, spec in (lookup(entry, "members") or {}).items():
            if isinstance(namespace, str) and isinstance(spec, Mapping):
                names = [lookup(p, "name") for p in lookup(spec, "parameters") or [] if isinstance(p, Mapping)]
                output = lookup(spec, "output") or {}
                out.setdefault(namespace.casefold(), {})[name.casefold()] = ([str(n) for n in names], output)
    return out


class TemplateDeployment:
    """Deploys one template (the top one, or a nested/linked one) into a list of declared resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        context: DeploymentContext,
        given: Mapping[str, Any],
        report: Callable[[TemplateError], None],
        models: Callable[[str], bool],
        *,
        prefix: str = "",
        source: Path | None = None,
        placement: DeploymentContext | None = None,
        outer: Scope | None = None,
        depth: int = 0,
        template_link: Mapping[str, Any] | None = None,
        linked_files: set[Path] | None = None,
        notes: list[str] | None = None,
    ) -> None:
        self.template = template
        self.context = context
        self.placement = placement or context
        self.report_error = report
        self.models = models
        self.prefix = prefix
        self.source = source
        self.depth = depth
        self.template_link = template_link
        self.linked_files = linked_files if linked_files is not None else set()
        self.notes = notes if notes is not None else []
        #: Where nested deployments whose resources are not read land (their resource group, or subscription).
        self.unread_deployment_scopes: set[str] = set()
        self.loops: dict[str, str | None] = {}
        self.declared: list[Declared] = []
        self.outputs: dict[str, Any] = {}
        if outer is not None:
            self.scope = outer.child()
            self.scope.deployment = self
        else:
            self.scope = self._own_scope(given)

    def report(self, error: TemplateError) -> None:
        if not isinstance(error, Suppressed):
            self.report_error(error)

    def _own_scope(self, given: Mapping[str, Any]) -> Scope:
        variables = lookup(self.template, "variables")
        scope = Scope(self, {}, variables if isinstance(variables, Mapping) else {}, user_functions(self.template))
        declared = lookup(self.template, "parameters")
        declared = declared if isinstance(declared, Mapping) else {}
        known = {k.casefold() for k in declared}
        for name in given:
            if name.casefold() not in known:
                self.report(
                    TemplateError(
                        f"The parameter '{name}' is given a value but the template does not declare it "
                        "(Azure refuses undeclared parameters).",
                        f"{self.prefix}parameters",
                    )
                )
        definitions = lookup(self.template, "definitions")
        resolver = ParameterResolver(
            declared, given, definitions if isinstance(definitions, Mapping) else {}, scope, self.prefix, self.report
        )
        values, missing = resolver.resolve_all()
        scope.parameters, scope.missing = values, missing
        return scope

    # --- running ---

    def run(self) -> list[Declared]:
        walker = ResourceWalker(self, self.placement, self.prefix)
        self.declared = walker.declare(lookup(self.template, "resources"), self.scope)
        self.failed_names = walker.failed_names
        self._check_duplicates()
        for declared in self.declared:
            if declared.deployed:
                self.evaluate(declared)
        self._check_depends_on()
        self.outputs = self._outputs()
        return self.declared

    def evaluate(self, declared: Declared) -> dict[str, Any] | None:
        if declared.body is not None or declared.failed:
            return declared.body
        if declared.evaluating:
            return None
        declared.evaluating = True
        try:
            declared.body = body_of(declared)
            if declared.is_deployment:
                declared.nested = self._nested(declared)
        except Suppressed:
            declared.failed = True
        except TemplateError as exc:
            declared.failed = True
            self.report(exc)
        finally:
            declared.evaluating = False
        return declared.body

    def resources(self) -> list[tuple[Declared, str]]:
        """Every deployed resource, nested deployments' too, with the label prefix of the file it came from."""
        out: list[tuple[Declared, str]] = []
        for declared in self.declared:
            if not declared.deployed or declared.failed or declared.body is None:
                continue
            out.append((declared, ""))
            nested = declared.nested
            if isinstance(nested, TemplateDeployment):
                out.extend(nested.resources())
        return out

    def failed_ids(self) -> set[str]:
        """Ids of resources whose evaluation failed (their root cause is reported; references to them are not)."""
        out = {d.resource_id.casefold() for d in self.declared if d.failed}
        for d in self.declared:
            if isinstance(d.nested, TemplateDeployment):
                out |= d.nested.failed_ids()
        return out

    def unread_scopes(self) -> set[str]:
        """Scope ids (``/subscriptions/S[/resourceGroups/G]``, case-folded) where a nested deployment whose resources
        are not read lands: a linked template not on disk, one whose link or parameters are known only at
        deployment, or one that failed. What such a deployment creates is unknown, so references into these scopes
        cannot be called missing."""
        out = set(self.unread_deployment_scopes)
        for d in self.declared:
            if d.is_deployment and d.deployed and d.failed:
                out.add(_scope_id(self.placement))
            if isinstance(d.nested, TemplateDeployment):
                out |= d.nested.unread_scopes()
        return out

    def _check_duplicates(self) -> None:
        seen: dict[str, Declared] = {}
        for declared in self.declared:
            if not declared.deployed:
                continue
            key = declared.resource_id.casefold()
            if key in seen:
                self.report(
                    TemplateError(
                        f"The resource '{declared.resource_id}' is defined more than once in the template (also at "
                        f"{seen[key].path}); Azure refuses the deployment.",
                        declared.path,
                    )
                )
                declared.deployed = False
            else:
                seen[key] = declared

    # --- finding resources ---

    def find(self, target: str) -> Declared | None:
        """A resource of this template by symbolic name (``sym`` or ``sym[i]``), resource id or name."""
        text = target.strip()
        folded = text.casefold()
        symbol, _, rest = folded.partition("[")
        index = int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else None
        by_symbol = [d for d in self.declared if d.symbol is not None and d.symbol.casefold() == symbol]
        if by_symbol:
            if index is not None:
                return next((d for d in by_symbol if d.index == index), None)
            return by_symbol[0]
        for d in self.declared:
            if d.resource_id.casefold() == folded:
                return d
        if folded.startswith("/"):
            tail = folded.split("/providers/", 1)[-1]
            return next((d for d in self.declared if d.resource_id.casefold().endswith("/providers/" + tail)), None)
        named = [
            d
            for d in self.declared
            if d.full_name.casefold() == folded or f"{d.resource_type}/{d.full_name}".casefold() == folded
        ]
        return named[0] if len(named) >= 1 else None

    def reference(self, target: Any, api_version: Any, full: bool, text: str) -> Any:
        if isinstance(target, Unknown):
            return target.typed("object")
        if not isinstance(target, str):
            raise TemplateError("The template function 'reference' expects a resource name, id or symbolic name.")
        declared = self.find(target)
        if declared is None:
            return Unknown(text, "object", "the run-time state of a resource this template does not deploy")
        if declared.existing:
            return Unknown(text, "object", "the run-time state of an existing resource")
        body = self.evaluate(declared)
        if declared.is_deployment and isinstance(declared.nested, TemplateDeployment | Unknown):
            outputs = declared.nested.outputs if isinstance(declared.nested, TemplateDeployment) else declared.nested
            properties: Any = {"outputs": outputs, "provisioningState": "Succeeded"}
            return {"properties": properties, "id": declared.resource_id} if full else properties
        known: Mapping[str, Any] | None = None
        if body is not None:
            known = (
                dict(body, id=declared.resource_id, name=declared.short_name) if full else lookup(body, "properties")
            )
        return Unknown(
            text, "object", "the run-time state of a deployed resource", known if isinstance(known, Mapping) else None
        )

    def references(self, symbol: str, full: bool, text: str) -> Any:
        found = [d for d in self.declared if d.symbol is not None and d.symbol.casefold() == symbol.casefold()]
        if not found:
            raise TemplateError(
                f"The template function 'references' needs the symbolic name of a resource loop; '{symbol}' is none."
            )
        return [
            self.reference(f"{symbol}[{d.index}]" if d.index is not None else symbol, None, full, text) for d in found
        ]

    def resource_info(self, symbol: str, text: str) -> Any:
        declared = self.find(symbol)
        if declared is None:
            raise TemplateError(f"The template function 'resourceInfo' names '{symbol}', which is not a resource here.")
        api = lookup(declared.raw, "apiVersion")
        return {
            "id": declared.resource_id,
            "name": declared.short_name,
            "type": declared.resource_type,
            "apiVersion": api,
        }

    # --- dependsOn ---

    def _check_depends_on(self) -> None:
        known: set[str] = set()
        paths: list[str] = []
        for d in self.declared:
            interleaved = d.resource_id.split("/providers/", 1)[-1].casefold()
            paths.append(interleaved)
            known |= {d.resource_id.casefold(), d.full_name.casefold(), f"{d.resource_type}/{d.full_name}".casefold()}
            known.add(interleaved)
            if d.symbol:
                known.add(d.symbol.casefold())
        known |= set(self.loops)
        for d in self.declared:
            entries = lookup(d.raw, "dependsOn")
            if not isinstance(entries, list) or d.failed:
                continue
            for k, entry in enumerate(entries):
                where = f"{d.path}.dependsOn[{k}]"
                try:
                    target = d.scope.value(entry, where)
                except Suppressed:
                    continue
                except TemplateError as exc:
                    self.report(exc)
                    continue
                if isinstance(target, Unknown) or not isinstance(target, str):
                    continue
                folded = target.strip().strip("/").casefold()
                relative = folded.split("/providers/", 1)[-1]
                if folded in known or relative in known or self.find(target) is not None:
                    continue
                if any(relative.startswith(p + "/") for p in paths):
                    continue  # a sub-resource (an inline inboundNatRule, say) of a resource of the template
                symbol = target.partition("[")[0].strip().casefold()
                if symbol in self.failed_names or target.casefold() in self.failed_names:
                    continue  # names a resource whose own (empty, failed or run-time) name is reported where it is
                if target.rstrip().endswith("/") or "//" in target:
                    continue  # names a resource whose own (empty or failed) name is reported where it is
                self.report(
                    TemplateError(
                        f"The resource '{target}' named in dependsOn is not defined in the template (Azure refuses "
                        "the deployment): name a resource of this template by name, resource id or symbolic name.",
                        where,
                    )
                )

    # --- outputs ---

    def _outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, spec in (lookup(self.template, "outputs") or {}).items():
            if not isinstance(spec, Mapping):
                continue
            where = f"{self.prefix}outputs.{name}"
            try:
                if "condition" in spec and self.scope.value(lookup(spec, "condition"), f"{where}.condition") is False:
                    continue
                loop = lookup(spec, "copy")
                if isinstance(loop, Mapping):
                    count = self.scope.count(lookup(loop, "count"), f"{where}.copy.count")
                    value: Any = [
                        self.scope.with_copy(f"output:{name}", i, default=True).value(
                            lookup(loop, "input"), f"{where}.copy.input"
                        )
                        for i in range(count)
                    ]
                else:
                    value = self.scope.value(lookup(spec, "value"), f"{where}.value")
            except Suppressed:
                value = Unknown(f"outputs('{name}')", None, "an output that could not be evaluated")
            except TemplateError as exc:
                self.report(exc)
                value = Unknown(f"outputs('{name}')", None, "an output that could not be evaluated")
            out[name] = {"type": lookup(spec, "type"), "value": value}
        return out

    # --- nested deployments ---

    def _nested(self, declared: Declared) -> TemplateDeployment | Unknown | None:
        body = declared.body or {}
        properties = lookup(declared.raw, "properties")
        if not isinstance(properties, Mapping):
            return None
        if self.depth >= MAX_NESTING:
            raise TemplateError(f"Nested deployments go deeper than {MAX_NESTING} levels.", declared.path)
        evaluated = lookup(body, "properties") or {}
        path = f"{declared.path}.properties"
        options = lookup(evaluated, "expressionEvaluationOptions") or {}
        inner = isinstance(options, Mapping) and str(lookup(options, "scope") or "").casefold() == "inner"
        target = self.placement.at(_text(lookup(body, "subscriptionId")), _text(lookup(body, "resourceGroup")))
        target = DeploymentContext(
            target.subscription_id,
            target.resource_group,
            _text(lookup(body, "location")) or self.context.location,
            declared.short_name,
            target.management_group,
            target.tenant_id,
            target.deployed_at,
        )
        template, source, link, prefix = self._nested_template(declared, properties, evaluated, path)
        if template is None:
            self.unread_deployment_scopes.add(_scope_id(target))
            return Unknown(
                f"reference('{declared.short_name}').outputs",
                "object",
                "the outputs of a linked template not available offline",
            )
        given: dict[str, Any] | None = {}
        if inner or link is not None:
            given = self._nested_parameters(declared, properties, evaluated, path)
            if given is None:
                self.unread_deployment_scopes.add(_scope_id(target))
                return Unknown(
                    f"reference('{declared.short_name}').outputs",
                    "object",
                    "a linked parameters file not available offline",
                )
        elif lookup(properties, "parameters"):
            raise TemplateError(
                "A nested deployment evaluated in the outer scope cannot take 'parameters' (it uses the outer "
                "template's); set expressionEvaluationOptions.scope to 'inner' to pass parameters.",
                f"{path}.parameters",
            )
        nested = TemplateDeployment(
            template,
            target if (inner or link is not None) else self.context,
            given or {},
            self.report_error,
            self.models,
            prefix=prefix,
            source=source or self.source,
            placement=target,
            outer=None if (inner or link is not None) else self.scope,
            depth=self.depth + 1,
            template_link=link,
            linked_files=self.linked_files,
            notes=self.notes,
        )
        nested.run()
        return nested

    def _nested_template(
        self, declared: Declared, raw: Mapping[str, Any], evaluated: Mapping[str, Any], path: str
    ) -> tuple[Mapping[str, Any] | None, Path | None, Mapping[str, Any] | None, str]:
        inline = lookup(raw, "template")
        if isinstance(inline, Mapping):
            return inline, None, None, f"{path}.template."
        link = lookup(evaluated, "templateLink")
        if not isinstance(link, Mapping):
            raise TemplateError("A deployment needs properties.template or properties.templateLink.", path)
        relative, uri = lookup(link, "relativePath"), lookup(link, "uri")
        if isinstance(relative, Unknown) or isinstance(uri, Unknown):
            return None, None, None, ""
        file = self._local_file(relative, uri)
        if file is None:
            return self._not_on_disk(declared, link, relative, uri, f"{path}.templateLink")
        try:
            data = read_json_file(file)
        except (OSError, ValueError) as exc:
            raise TemplateError(f"The linked template {file} cannot be read: {exc}.", f"{path}.templateLink") from None
        if not isinstance(data, Mapping):
            raise TemplateError(f"The linked template {file} is not a template object.", f"{path}.templateLink")
        self.linked_files.add(file.resolve())
        shown = {
            "uri": uri if isinstance(uri, str) else file.as_uri(),
            "contentVersion": lookup(link, "contentVersion"),
        }
        return data, file, shown, f"{path}.templateLink -> {file.name}: "

    def _not_on_disk(
        self, declared: Declared, link: Mapping[str, Any], relative: Any, uri: Any, where: str
    ) -> tuple[None, None, None, str]:
        """A linked template OpenNSG cannot read: a missing ``relativePath`` file is refused (``az deployment``
        packs those files from beside the template and refuses a missing one); a ``uri`` or template spec that is
        not on disk is noted, its resources left out and its outputs known only at deployment."""
        base = self.source.parent if self.source is not None else None
        if isinstance(relative, str) and relative:
            if base is None:
                raise TemplateError(
                    f"The linked template '{relative}' (relativePath) is read beside the template's file, but this "
                    "template was not read from a file: give the template as a file path.",
                    where,
                )
            raise TemplateError(
                f"The linked template '{relative}' (relativePath) is not at {base / relative}: Azure refuses a "
                "deployment whose relativePath link is missing; put the file there.",
                where,
            )
        spec = lookup(link, "id")
        if isinstance(uri, str) and uri:
            what = f"'{uri}'"
        elif isinstance(spec, str) and spec:
            what = f"the template spec '{spec}'"
        else:
            raise TemplateError("A templateLink needs a 'uri', 'relativePath' or template spec 'id'.", where)
        folder = f" under {base}" if base is not None else ""
        self.notes.append(
            f"The nested deployment '{declared.short_name}' links {what}, which is not on disk{folder}: its "
            "resources are left out and its outputs are known only at deployment ("
            + (self._staged_at(uri) or "download it beside the template, in the folders of its URI path, to include it")
            + ")."
        )
        return None, None, None, ""

    def _staged_at(self, uri: Any) -> str | None:
        """Where to put a linked template staged at ``_artifactsLocation`` (the quickstart convention): its path
        under that location, in this template's folder; None when the link is not under it."""
        declared = lookup(self.template, "parameters")
        if not isinstance(uri, str) or not isinstance(declared, Mapping) or not has_key(declared, "_artifactsLocation"):
            return None
        try:
            location = self.scope.parameter("_artifactsLocation")
        except TemplateError:
            return None
        if not isinstance(location, str) or not location or not uri.startswith(location.rstrip("/")):
            return None
        relative = urlsplit(uri).path[len(urlsplit(location).path.rstrip("/")) :].lstrip("/")
        return (
            f"the template stages its linked templates at _artifactsLocation ('{location}'; any "
            "_artifactsLocationSasToken is ignored): put this one in the template's folder as "
            f"'{relative}' to include it"
        )

    def _local_file(self, relative: Any, uri: Any) -> Path | None:
        """A linked template on disk: ``relativePath`` beside this template, or the file a ``uri`` ends with
        (the longest tail of its path that exists under this template's folder)."""
        base = self.source.parent if self.source is not None else None
        if base is None:
            return None
        if isinstance(relative, str) and relative:
            candidate = (base / relative).resolve()
            return candidate if candidate.is_file() else None
        if isinstance(uri, str) and uri:
            parts = [p for p in urlsplit(uri).path.split("/") if p]
            for start in range(len(parts)):
                candidate = base.joinpath(*parts[start:])
                if candidate.is_file():
                    return candidate
        return None

    def _nested_parameters(
        self, declared: Declared, raw: Mapping[str, Any], evaluated: Mapping[str, Any], path: str
    ) -> dict[str, Any] | None:
        given: dict[str, Any] = {}
        link = lookup(evaluated, "parametersLink")
        if isinstance(link, Mapping):
            file = self._local_file(None, lookup(link, "uri"))
            if file is None:
                return None
            try:
                data = read_json_file(file)
            except (OSError, ValueError) as exc:
                raise TemplateError(
                    f"The linked parameters file {file} cannot be read: {exc}.", f"{path}.parametersLink"
                ) from None
            for name, spec in (lookup(data, "parameters") or {}).items():
                if isinstance(spec, Mapping):
                    given[name] = lookup(spec, "value")
        values = lookup(raw, "parameters")
        if isinstance(values, str):  # the whole object from an expression
            values = declared.scope.value(values, f"{path}.parameters")
        if isinstance(values, Mapping):
            for name, spec in values.items():
                where = f"{path}.parameters.{name}"
                from_expression = isinstance(spec, str)  # Bicep: if(cond, {"reference": ...}, {"value": ...})
                if from_expression:
                    spec = declared.scope.value(spec, where)
                if not isinstance(spec, Mapping):
                    raise TemplateError('A nested deployment\'s parameter must be {"value": ...}.', where)
                if has_key(spec, "reference") and not has_key(spec, "value"):
                    reference = lookup(spec, "reference")
                    given[name] = key_vault_placeholder(name, reference if isinstance(reference, Mapping) else {})
                elif from_expression:
                    given[name] = lookup(spec, "value")
                else:
                    given[name] = declared.scope.value(lookup(spec, "value"), f"{where}.value")
        return given


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _scope_id(context: DeploymentContext) -> str:
    """The resource group a deployment lands in, or its subscription for a deployment at subscription scope."""
    if context.resource_group is None:
        return f"/subscriptions/{context.subscription_id}".casefold()
    return context.resource_group_id.casefold()
