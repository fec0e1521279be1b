"""ARM templates (and Bicep's output) -> the resources Azure would deploy, with ids, expressions evaluated.

The whole template language: every function of Azure's template function reference (``functions/``), copy
loops of resources, properties, variables and outputs, conditions, children, ``existing`` resources,
user-defined functions and types, symbolic-name templates (languageVersion 2.0), nested deployments (inline or
linked from the file system) in inner or outer expression scope. What only a deployment knows
(``reference()``, ``list*()``, Key Vault secrets) is an ``Unknown`` placeholder: an error only when OpenNSG
needs it to decide flows. The deployment's scope comes from ``DeploymentContext`` (``--subscription``,
``--resource-group``, ``--location``); see docs/templates.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opennsg.arm.keys import lookup
from opennsg.arm.parse import Reader, kind_of_type
from opennsg.arm.template.context import (
    TEMPLATE_DEPLOYMENT_NAME,
    TEMPLATE_LOCATION,
    TEMPLATE_RESOURCE_GROUP,
    TEMPLATE_SUBSCRIPTION_ID,
    DeploymentContext,
)
from opennsg.arm.template.deploy import TemplateDeployment
from opennsg.arm.template.parameters import parameter_values, parse_cli_value
from opennsg.arm.template.values import TemplateError, Unknown, unknown_paths
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError


def is_template(data: Any) -> bool:
    """A deployment template: ``resources`` (an array, or an object of symbolic names) and ``$schema`` or
    ``contentVersion``."""
    if not isinstance(data, Mapping):
        return False
    resources = lookup(data, "resources")
    symbolic = isinstance(resources, Mapping) and lookup(data, "languageVersion") is not None
    return (isinstance(resources, list) or symbolic) and (
        lookup(data, "$schema") is not None or lookup(data, "contentVersion") is not None
    )


def is_parameters_file(data: Any) -> bool:
    """A deployment parameters file: ``{"parameters": {"x": {"value": ...}}}`` and no resources."""
    if not isinstance(data, Mapping) or lookup(data, "resources") is not None:
        return False
    params = lookup(data, "parameters")
    schema = lookup(data, "$schema")
    if isinstance(schema, str) and "deploymentparameters" in schema.casefold():
        return isinstance(params, Mapping)
    if isinstance(params, Mapping) and not params and lookup(data, "contentVersion") is not None:
        return True  # an empty parameters file (some are published with a template's $schema)
    return (
        isinstance(params, Mapping)
        and bool(params)
        and all(isinstance(v, Mapping) and ("value" in v or "reference" in v) for v in params.values())
    )


@dataclass(frozen=True, slots=True)
class TemplateResource:
    """One resource a template deploys, expressions evaluated, in the wrapped ARM shape with its id.

    ``unknowns`` maps JSON paths inside ``body`` to the placeholders found there."""

    path: str
    resource_type: str
    full_name: str
    resource_id: str
    body: Mapping[str, Any]
    unknowns: Mapping[str, Unknown] = field(default_factory=dict)

    def explain(self, problems: list[ArmError], since: int, where: str) -> None:
        """Problems reading this resource that come from a placeholder become one 'value needed' error each."""
        if not self.unknowns:
            return
        prefix = f"{where}{self.path}."
        seen: set[str] = set()
        for i in range(since, len(problems)):
            target = problems[i].target or ""
            if not target.startswith(prefix):
                continue
            relative = target[len(prefix) :]
            found = next(
                (
                    (p, u)
                    for p, u in self.unknowns.items()
                    if relative == p
                    or relative.startswith((p + ".", p + "["))
                    or p.startswith((relative + ".", relative + "["))
                ),
                None,
            )
            if found is None:
                continue
            path, unknown = found
            message = (
                f"The value at {path} of {self.resource_type} '{self.full_name}' is '{unknown.origin}': "
                f"{unknown.why}, and OpenNSG needs it to decide flows. Give the value itself (for example as a "
                "parameter value), or describe the deployed resource with its exported JSON instead."
            )
            problems[i] = ArmError(Code.DEPLOYMENT_TIME_VALUE_NEEDED, message, f"{prefix}{path}")
            if path in seen:
                problems[i] = ArmError("", "", None)
            seen.add(path)
        problems[since:] = [p for p in problems[since:] if p.code]


@dataclass(frozen=True)
class TemplateInputs:
    """What ``az deployment group create`` is told besides the template: the context and parameter values.

    ``parameters`` come from ``--parameters FILE`` (JSON values), ``cli_values`` from ``--parameter NAME=VALUE``
    (read as the declared type); both override a template's paired ``NAME.parameters.json``."""

    context: DeploymentContext = field(default_factory=DeploymentContext)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    cli_values: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Expansion:
    """What deploying a template gives: its resources, its outputs, the linked template files it read."""

    resources: list[TemplateResource]
    outputs: dict[str, Any]
    linked_files: set[Path]
    failed_ids: set[str] = field(default_factory=set)
    #: What users should know about the result (linked templates that could not be read, say).
    notes: list[str] = field(default_factory=list)
    #: Scopes where nested deployments whose resources are not read land (``TemplateDeployment.unread_scopes``).
    unread_scopes: set[str] = field(default_factory=set)


_COPY_SUFFIX = re.compile(r"\{copyIndex=\d+\}")


def _models(resource_type: str) -> bool:
    return kind_of_type(resource_type) is not None


def expand(
    template: Mapping[str, Any],
    reader: Reader,
    parameters: Mapping[str, Any] | None = None,
    *,
    context: DeploymentContext | None = None,
    source: Path | None = None,
) -> Expansion:
    """Deploy ``template`` (problems recorded in ``reader``, each once, at its JSON path)."""

    reported: set[tuple[str, str, str]] = set()

    def report(error: TemplateError) -> None:
        key = (error.code, error.message, _COPY_SUFFIX.sub("", error.path))
        if key not in reported:  # one root cause, once (not once per copy iteration)
            reported.add(key)
            reader.add(error.code, error.message, error.path, error.hint)

    scope = (context or DeploymentContext()).for_template(template)
    if scope.deployed_at is None:  # utcNow(): one time for the whole deployment, as in Azure
        scope = replace(scope, deployed_at=datetime.now(UTC).replace(microsecond=0))
    deployment = TemplateDeployment(template, scope, parameters or {}, report, _models, source=source)
    try:
        deployment.run()
    except RecursionError:  # JSON or resources nested deeper than Python evaluates: refused, never a crash
        report(
            TemplateError(
                "The template nests values, resources or nested deployments too deeply for OpenNSG to read.", ""
            )
        )
        return Expansion([], {}, deployment.linked_files)
    out: list[TemplateResource] = []
    for declared, _label in deployment.resources():
        body = dict(declared.body or {})
        body.update({"id": declared.resource_id, "type": declared.resource_type, "name": declared.short_name})
        unknowns: dict[str, Unknown] = {}
        unknown_paths(body, "", unknowns)
        out.append(
            TemplateResource(
                declared.path, declared.resource_type, declared.full_name, declared.resource_id, body, unknowns
            )
        )
    return Expansion(
        out,
        deployment.outputs,
        deployment.linked_files,
        deployment.failed_ids(),
        deployment.notes,
        deployment.unread_scopes(),
    )


def expand_template(
    template: Mapping[str, Any],
    reader: Reader,
    parameters: Mapping[str, Any] | None = None,
    *,
    context: DeploymentContext | None = None,
    source: Path | None = None,
) -> list[TemplateResource]:
    """The template's resources (children flattened out, nested deployments included)."""
    return expand(template, reader, parameters, context=context, source=source).resources


__all__ = [
    "TEMPLATE_DEPLOYMENT_NAME",
    "TEMPLATE_LOCATION",
    "TEMPLATE_RESOURCE_GROUP",
    "TEMPLATE_SUBSCRIPTION_ID",
    "DeploymentContext",
    "Expansion",
    "TemplateError",
    "TemplateInputs",
    "TemplateResource",
    "Unknown",
    "expand",
    "expand_template",
    "is_parameters_file",
    "is_template",
    "parameter_values",
    "parse_cli_value",
]
