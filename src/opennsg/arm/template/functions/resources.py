"""Resource functions: ``resourceId`` and its subscription/tenant/extension/management-group variants (a trailing
``/`` in a type is ignored, as ARM does), and the run-time ones — ``reference``, ``references``, ``list*``,
``providers``, ``pickZones`` — as typed placeholders unless the template itself declares the value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, want_str
from opennsg.arm.template.values import TemplateError, Unknown

if TYPE_CHECKING:
    from opennsg.arm.template.expressions import Call
    from opennsg.arm.template.scope import Scope


def split_type(name: str, resource_type: str) -> tuple[str, list[str]]:
    """``Ns/t1/t2`` -> (``Ns``, [t1, t2]); a trailing ``/`` and surrounding spaces are tolerated."""
    namespace, _, rest = resource_type.strip().strip("/").partition("/")
    types = [t for t in rest.split("/")]
    if not namespace or not rest or not all(types):
        raise TemplateError(
            f"Unable to evaluate template language function '{name}': '{resource_type}' is not a resource type "
            "('Namespace/type[/childType...]')."
        )
    return namespace, types


def type_path(name: str, resource_type: str, names: list[str]) -> str:
    """``Ns/t1/n1/t2/n2`` from the type and one name per type segment."""
    namespace, types = split_type(name, resource_type)
    if len(names) != len(types):
        raise TemplateError(
            f"Unable to evaluate template language function '{name}': the type '{resource_type.strip()}' requires "
            f"'{len(types)}' resource name argument(s); {len(names)} were given."
        )
    for n in names:
        if not n:
            raise TemplateError(f"Unable to evaluate template language function '{name}': a resource name is empty.")
    return f"{namespace}/" + "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))


def _strings(name: str, args: list[Any]) -> list[str]:
    return [want_str(name, args, i) for i in range(len(args))]


def _type_at(args: list[str]) -> int:
    return next((i for i, a in enumerate(args) if "/" in a.strip().strip("/")), -1)


@function("resourceId", 2, None, returns="string")
def _resource_id(scope: Scope, args: list[Any]) -> str:
    values = _strings("resourceId", args)
    at = _type_at(values)
    if at < 0 or at > 2:
        raise TemplateError(
            "Unable to evaluate template language function 'resourceId': the resource type ('Namespace/type') must "
            "be its first, second or third parameter (after the optional subscription id and resource group)."
        )
    context = scope.deployment.context
    subscription = values[0] if at == 2 else context.subscription_id
    group = values[at - 1] if at >= 1 else context.resource_group
    path = type_path("resourceId", values[at], values[at + 1 :])
    if group is None:
        return f"/subscriptions/{subscription}/providers/{path}"
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{path}"


@function("subscriptionResourceId", 2, None, returns="string")
def _subscription_resource_id(scope: Scope, args: list[Any]) -> str:
    values = _strings("subscriptionResourceId", args)
    at = _type_at(values)
    if at not in (0, 1):
        raise TemplateError("Unable to evaluate template language function 'subscriptionResourceId': no resource type.")
    subscription = values[0] if at == 1 else scope.deployment.context.subscription_id
    return (
        f"/subscriptions/{subscription}/providers/{type_path('subscriptionResourceId', values[at], values[at + 1 :])}"
    )


@function("tenantResourceId", 2, None, returns="string")
def _tenant_resource_id(scope: Scope, args: list[Any]) -> str:
    values = _strings("tenantResourceId", args)
    return f"/providers/{type_path('tenantResourceId', values[0], values[1:])}"


@function("managementGroupResourceId", 2, None, returns="string")
def _management_group_resource_id(scope: Scope, args: list[Any]) -> str:
    values = _strings("managementGroupResourceId", args)
    at = _type_at(values)
    if at not in (0, 1):
        raise TemplateError("Unable to evaluate template language function 'managementGroupResourceId': no type.")
    group = values[0] if at == 1 else scope.deployment.context.management_group
    if group is None:
        raise TemplateError(
            "The template function 'managementGroupResourceId' needs a management group: give it as the first "
            "parameter (the deployment is not at a management group's scope)."
        )
    path = type_path("managementGroupResourceId", values[at], values[at + 1 :])
    return f"/providers/Microsoft.Management/managementGroups/{group}/providers/{path}"


@function("extensionResourceId", 3, None, returns="string")
def _extension_resource_id(scope: Scope, args: list[Any]) -> str:
    values = _strings("extensionResourceId", args)
    base = values[0].rstrip("/")
    if not base.startswith("/"):
        raise TemplateError(
            f"Unable to evaluate template language function 'extensionResourceId': '{values[0]}' is not a resource id."
        )
    return f"{base}/providers/{type_path('extensionResourceId', values[1], values[2:])}"


@function("reference", 1, 3, lazy=True)
def _reference(scope: Scope, node: Call) -> Any:
    args = [arg.evaluate(scope) for arg in node.args]
    full = len(args) == 3 and isinstance(args[2], str) and args[2].casefold() == "full"
    return scope.deployment.reference(args[0], args[1] if len(args) > 1 else None, full, node.text)


@function("references", 1, 2)
def _references(scope: Scope, args: list[Any]) -> Any:
    full = len(args) == 2 and isinstance(args[1], str) and args[1].casefold() == "full"
    return scope.deployment.references(want_str("references", args, 0), full, "references(...)")


@function("resourceInfo", 1)
def _resource_info(scope: Scope, args: list[Any]) -> Any:
    return scope.deployment.resource_info(want_str("resourceInfo", args, 0), "resourceInfo(...)")


def list_function(scope: Scope, node: Call) -> Unknown:
    """``listKeys``, ``listSecrets``, ``list*``: a resource's secrets or run-time lists — only Azure knows them."""
    if not 2 <= len(node.args) <= 3:
        raise TemplateError(f"The template language function '{node.name}' expects 2 or 3 parameters.")
    for arg in node.args:
        arg.evaluate(scope)
    return Unknown(node.text, "object", f"{node.name}() returns values of a deployed resource")


@function("providers", 1, 2, returns="object")
def _providers(scope: Scope, args: list[Any]) -> Unknown:
    namespace = want_str("providers", args, 0)
    known: dict[str, Any] = {"namespace": namespace}
    if len(args) == 2:
        known["resourceType"] = want_str("providers", args, 1)
    text = "providers(" + ", ".join(f"'{a}'" for a in args) + ")"
    return Unknown(text, "object", "a resource provider's registration (api versions, locations)", known)


@function("pickZones", 3, 5, returns="array")
def _pick_zones(scope: Scope, args: list[Any]) -> Unknown:
    for i in range(3):
        want_str("pickZones", args, i)
    return Unknown(f"pickZones('{args[0]}', '{args[1]}', '{args[2]}')", "array", "the availability zones of a region")


def _zones(name: str, args: list[Any], kind: str) -> Unknown:
    for i in range(2):
        want_str(name, args, i)
    shown = ", ".join(repr(a) if isinstance(a, str) else "..." for a in args)
    return Unknown(f"{name}({shown})", kind, "the subscription's mapping of logical to physical availability zones")


@function("toLogicalZone", 3, returns="string")
def _to_logical_zone(scope: Scope, args: list[Any]) -> Unknown:
    return _zones("toLogicalZone", args, "string")


@function("toLogicalZones", 3, returns="array")
def _to_logical_zones(scope: Scope, args: list[Any]) -> Unknown:
    return _zones("toLogicalZones", args, "array")


@function("toPhysicalZone", 3, returns="string")
def _to_physical_zone(scope: Scope, args: list[Any]) -> Unknown:
    return _zones("toPhysicalZone", args, "string")


@function("toPhysicalZones", 3, returns="array")
def _to_physical_zones(scope: Scope, args: list[Any]) -> Unknown:
    return _zones("toPhysicalZones", args, "array")
