"""Deployment and scope functions: ``parameters``, ``variables``, ``copyIndex``, ``deployment``, ``environment``,
``resourceGroup``, ``subscription``, ``tenant``, ``managementGroup`` (values from the deployment context)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opennsg.arm.keys import lookup
from opennsg.arm.template.context import AZURE_CLOUD
from opennsg.arm.template.functions import function, type_error, want_str
from opennsg.arm.template.values import TemplateError, Unknown, is_int

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope


@function("parameters", 1, unknown="top")
def _parameters(scope: Scope, args: list[Any]) -> Any:
    return scope.parameter(want_str("parameters", args, 0))


@function("variables", 1, unknown="top")
def _variables(scope: Scope, args: list[Any]) -> Any:
    return scope.variable(want_str("variables", args, 0))


@function("copyIndex", 0, 2, returns="int")
def _copy_index(scope: Scope, args: list[Any]) -> int:
    name: str | None = None
    offset = 0
    if args and isinstance(args[0], str):
        name = args[0]
        if len(args) == 2:
            if not is_int(args[1]):
                raise type_error("copyIndex", 1, "Integer", args[1])
            offset = args[1]
    elif args:
        if len(args) == 2 or not is_int(args[0]):
            raise type_error("copyIndex", 0, "String", args[0])
        offset = args[0]
    key = name.casefold() if name is not None else scope.default_loop
    if key is None or key not in scope.copy:
        where = f"the copy loop '{name}'" if name is not None else "a resource or output copy loop"
        raise TemplateError(
            f"The template function 'copyIndex' is not expected here: it is used outside {where} "
            "(copyIndex can be used only inside a copy loop, named when the loop is a property or variable loop)."
        )
    return scope.copy[key] + offset


@function("deployment", 0)
def _deployment(scope: Scope, args: list[Any]) -> dict[str, Any]:
    deployment = scope.deployment
    context = deployment.context
    template = deployment.template
    shown = {k: v for k, v in template.items() if k.casefold() in {"$schema", "contentversion", "metadata"}}
    properties: dict[str, Any] = {
        "template": copy.deepcopy(shown),
        "templateHash": Unknown("deployment().properties.templateHash", "string"),
        "parameters": {},
        "mode": "Incremental",
        "provisioningState": "Accepted",
    }
    link = getattr(deployment, "template_link", None)
    if link is not None:
        properties["templateLink"] = link
    out: dict[str, Any] = {
        "name": context.deployment_name,
        "properties": properties,
    }
    if context.resource_group is None:
        out["location"] = context.location
    return out


@function("deployer", 0)
def _deployer(scope: Scope, args: list[Any]) -> dict[str, Any]:
    """The principal running the deployment: known only to Azure."""
    why = "the identity that runs the deployment"
    return {
        "objectId": Unknown("deployer().objectId", "string", why),
        "tenantId": scope.deployment.context.tenant(),
        "userPrincipalName": Unknown("deployer().userPrincipalName", "string", why),
    }


@function("extensions", 1, returns="object")
def _extensions(scope: Scope, args: list[Any]) -> Unknown:
    """A Bicep extension's configuration (``extensions('k8s').config``): given to Azure at deployment."""
    name = want_str("extensions", args, 0)
    return Unknown(f"extensions('{name}')", "object", "the configuration of a Bicep extension, given at deployment")


@function("environment", 0)
def _environment(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return copy.deepcopy(AZURE_CLOUD)


@function("resourceGroup", 0)
def _resource_group(scope: Scope, args: list[Any]) -> dict[str, Any]:
    context = scope.deployment.context
    if context.resource_group is None:
        raise TemplateError(
            "The template function 'resourceGroup' is not expected at this location: the deployment is not at a "
            "resource group's scope (give --resource-group, or deploy the resources in a nested deployment)."
        )
    return context.resource_group_object()


@function("subscription", 0)
def _subscription(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.deployment.context.subscription_object()


@function("tenant", 0)
def _tenant(scope: Scope, args: list[Any]) -> dict[str, Any]:
    return scope.deployment.context.tenant_object()


@function("managementGroup", 0, 1)
def _management_group(scope: Scope, args: list[Any]) -> dict[str, Any]:
    name = want_str("managementGroup", args, 0) if args else scope.deployment.context.management_group
    if name is None:
        raise TemplateError(
            "The template function 'managementGroup' is not expected at this location: the deployment is not at a "
            "management group's scope."
        )
    return {
        "id": f"/providers/Microsoft.Management/managementGroups/{name}",
        "name": name,
        "type": "/providers/Microsoft.Management/managementGroups",
        "properties": {
            "tenantId": scope.deployment.context.tenant(),
            "displayName": Unknown("managementGroup().properties.displayName", "string"),
        },
    }


def parameter_types(template: dict[str, Any]) -> dict[str, Any]:
    """Declared parameter specs by name (used by deployment() callers)."""
    declared = lookup(template, "parameters")
    return dict(declared) if isinstance(declared, dict) else {}
