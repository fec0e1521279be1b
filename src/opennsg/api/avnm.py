"""Azure Virtual Network Manager in the service (semantics §11.1): the manager's child resources, ``commit``,
``listDeploymentStatus``, ``listActiveSecurityAdminRules`` and a VNet's
``listNetworkManagerEffectiveSecurityAdminRules``.

The network manager itself is an ordinary top-level resource (``catalog.MODEL_KINDS``). Its children — network groups,
static members, security admin configurations, rule collections, rules — are stored one row each, like ARM keeps
them, and validated with the rest of the topology on every write (``opennsg.model.validation``). A commit records
one deployment-status document per (manager, region); the topology reads them as ``deployment_statuses``, so the
engine applies a configuration exactly where it is deployed (semantics §11.6).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from opennsg.api import planning
from opennsg.api.catalog import AVNM_CHILD_KINDS, DEPLOYMENT_STATUS_TYPE, ModelKind
from opennsg.api.errors import ApiError, bad_request, group_not_found, not_found
from opennsg.api.http import (
    check_subscription,
    json_body,
    json_response,
    parse_json,
)
from opennsg.api.linked import Caller, authorize_references
from opennsg.api.lro import StoredChild, accepted, install_child_routes
from opennsg.api.schemas import request_body
from opennsg.api.store import Change, Document, Snapshot, Store
from opennsg.arm.export import admin_rule_properties, deployment_status_to_arm, effective_admin_rules_to_arm
from opennsg.engine.admin import admin_rules_for_vnet
from opennsg.model.avnm import (
    AdminRule,
    DeploymentState,
    DeploymentStatus,
    NetworkManager,
    StaticMember,
)
from opennsg.model.errors import ArmError
from opennsg.model.ids import ResourceId, id_key, name_of, network_id, resource_group_id
from opennsg.model.resources import Resource
from opennsg.model.topology import Topology
from opennsg.model.validation import Code, Message

MANAGERS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/networkManagers"
)
COMMIT_TYPES = ("SecurityAdmin", "Connectivity", "Routing")


@dataclass(frozen=True, slots=True)
class ChildRoute:
    """One AVNM child kind: its ARM kind and the URL segments from the manager down to it."""

    kind: ModelKind
    segments: tuple[str, ...]  # e.g. ("securityAdminConfigurations", "ruleCollections")
    lro_delete: bool

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(f"{segment}Name" for segment in self.segments)


def _route(kind: ModelKind, *segments: str, lro_delete: bool = True) -> ChildRoute:
    return ChildRoute(kind, segments, lro_delete)


_KINDS = {kind.arm_kind: kind for kind in AVNM_CHILD_KINDS}
CHILD_ROUTES = (
    _route(_KINDS["networkGroups"], "networkGroups"),
    _route(_KINDS["staticMembers"], "networkGroups", "staticMembers", lro_delete=False),
    _route(_KINDS["securityAdminConfigurations"], "securityAdminConfigurations"),
    _route(_KINDS["ruleCollections"], "securityAdminConfigurations", "ruleCollections"),
    _route(_KINDS["rules"], "securityAdminConfigurations", "ruleCollections", "rules"),
)


def manager_id(subscription: str, group: str, manager: str) -> str:
    check_subscription(subscription)
    return network_id(subscription, group, "networkManagers", manager)


def _require(snapshot: Snapshot, resource_id: str) -> Resource:
    """The stored manager or child with this id, or 404 naming the first one missing: the resource group, then each
    ancestor from the manager down."""
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None and parsed.resource_group is not None
    planning.require_group(snapshot, parsed.subscription, parsed.resource_group)
    found = _stored(snapshot.topology, resource_id)
    if found is None:
        if parsed.parent is not None:
            _require(snapshot, str(parsed.parent))
        raise _missing(resource_id)
    return found


def _require_parent(snapshot: Snapshot, resource_id: str) -> Resource:
    """The parent of a child id, or 404 naming the first missing ancestor (group, manager, ...)."""
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None and parsed.parent is not None
    return _require(snapshot, str(parsed.parent))


def _manager_location(snapshot: Snapshot, resource_id: str) -> str:
    """Where a child's operations are reported: its network manager's location."""
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None
    manager = ResourceId(
        parsed.subscription, parsed.resource_group, parsed.namespace, parsed.types[:1], parsed.names[:1]
    )
    found = snapshot.topology.network_manager(str(manager))
    return found.location if found is not None else ""


def _missing(resource_id: str) -> ApiError:
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None
    return not_found(parsed.type, "/".join(parsed.names), parsed.resource_group)


def _stored(topology: Topology, resource_id: str) -> Resource | None:
    key = id_key(resource_id)
    for kind in (*AVNM_CHILD_KINDS,):
        found: Resource | None = getattr(topology, kind.collection).get(key)
        if found is not None:
            return found
    return topology.network_manager(resource_id)


def put_child(
    snapshot: Snapshot,
    route: ChildRoute,
    resource_id: str,
    body: Mapping[str, Any],
    conditions: planning.Preconditions,
    caller: Caller,
) -> Change[bool]:
    """PUT of a network group, static member, configuration, rule collection or rule (200 updated, 201 created)."""
    parent = _require_parent(snapshot, resource_id)
    topology = snapshot.topology
    existing = _stored(topology, resource_id)
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row else None)
    model = planning.parse_model(route.kind.arm_kind, body, resource_id)
    model = dataclasses.replace(model, id=resource_id, name=name_of(resource_id))
    authorize_references(caller, model, existing, f"{route.kind.type}/write", resource_id)
    model = planning.keep_guid(model, existing)
    if isinstance(model, StaticMember) and model.region is None:
        member = ResourceId.parse(model.resource_id)  # a VNet, or a subnet of one
        vnet = topology.vnet(str(member.top)) if member is not None else None
        model = dataclasses.replace(model, region=vnet.location if vnet else getattr(parent, "location", None))
    new = planning.replace_models(topology, model)
    planning.check_topology(new)
    return Change(put=(model,), topology=new, result=existing is None)


def delete_child(snapshot: Snapshot, resource_id: str, conditions: planning.Preconditions) -> Change[bool]:
    """DELETE of a child and everything under it (a group's members, a configuration's collections and rules)."""
    _require_parent(snapshot, resource_id)
    existing = _stored(snapshot.topology, resource_id)
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row is not None and existing is not None else None)
    if existing is None:
        return Change(result=False)
    return planning.delete_resource_tree(snapshot, existing)


# --- commit and deployment status -------------------------------------------------------------------------------


def _texts(body: Mapping[str, Any], name: str, *, required: bool) -> list[str]:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(
                400, Code.MISSING_REQUIRED_PROPERTY, Message.MISSING_REQUIRED_PROPERTY.format(name=name, path=name)
            )
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(
            Message.INVALID_VALUE.format(name=name, path=name, expected="an array of strings", value=value)
        )
    return list(value)


def _region_key(region: str) -> str:
    return "".join(region.split()).casefold()


def status_document_id(manager: str, region: str) -> str:
    return f"{manager}/deploymentStatus/{_region_key(region)}"


def commit(snapshot: Snapshot, manager: NetworkManager, body: Mapping[str, Any]) -> Change[dict[str, Any]]:
    """``POST …/commit``: deploy (or, with no configurations, remove) the manager's security admin configuration in
    each target region. A manager deploys at most one security admin configuration per region (semantics §11.1)."""
    commit_type = body.get("commitType")
    if not isinstance(commit_type, str) or not commit_type.strip():
        raise ApiError(
            400,
            Code.MISSING_REQUIRED_PROPERTY,
            Message.MISSING_REQUIRED_PROPERTY.format(name="commitType", path="commitType"),
        )
    canonical = next((t for t in COMMIT_TYPES if t.casefold() == commit_type.strip().casefold()), None)
    if canonical is None:
        message = Message.INVALID_ENUM_VALUE.format(
            subject=f"Commit of network manager {manager.id}", property="commitType", value=commit_type,
            allowed=", ".join(COMMIT_TYPES), path="commitType",
        )  # fmt: skip
        raise ApiError(400, Code.INVALID_REQUEST_FORMAT, message)
    regions = _texts(body, "targetLocations", required=True)
    if not regions:
        raise bad_request("targetLocations must name at least one region.", Code.INVALID_REQUEST_FORMAT)
    configurations = _texts(body, "configurationIds", required=False)
    problems: list[ArmError] = []
    if canonical == "SecurityAdmin":
        for i, configuration in enumerate(configurations):
            found = snapshot.topology.security_admin_configuration(configuration)
            if found is None or id_key(found.network_manager_id) != manager.key:
                message = Message.INVALID_REFERENCE.format(referenced=configuration, referrer=manager.id)
                problems.append(ArmError(Code.INVALID_REFERENCE, message, f"configurationIds[{i}]"))
        if len({id_key(c) for c in configurations}) > 1:
            message = Message.CONFIGURATIONS_PER_REGION.format(
                manager_id=manager.id, count=len(configurations), region=", ".join(regions),
                configurations=", ".join(configurations),
            )  # fmt: skip
            problems.append(ArmError(Code.CONFIGURATIONS_PER_REGION, message, "configurationIds"))
    if problems:
        raise ApiError(400, problems[0].code, problems[0].message, problems)
    result = {
        "commitId": str(uuid.uuid4()),
        "targetLocations": regions,
        "configurationIds": configurations,
        "commitType": canonical,
    }
    if canonical != "SecurityAdmin":  # connectivity and routing configurations are not modelled
        return Change(result=result)
    now = datetime.now(UTC)
    kept = [
        s
        for s in snapshot.topology.deployment_statuses
        if not (
            s.network_manager_id
            and id_key(s.network_manager_id) == manager.key
            and _region_key(s.region) in {_region_key(r) for r in regions}
        )
    ]
    put: list[Document] = []
    removed: list[str] = []
    statuses: list[DeploymentStatus] = []
    for region in regions:
        document_id = status_document_id(manager.id, region)
        if not configurations:
            if snapshot.row(document_id) is not None:
                removed.append(document_id)
            continue
        status = DeploymentStatus(
            region=region,
            deployment_status=DeploymentState.DEPLOYED,
            configuration_ids=tuple(configurations),
            deployment_type="SecurityAdmin",
            commit_time=now,
            network_manager_id=manager.id,
        )
        statuses.append(status)
        put.append(Document(document_id, DEPLOYMENT_STATUS_TYPE, deployment_status_to_arm(status)))
    new = snapshot.topology.with_(deployment_statuses=(*kept, *statuses))
    planning.check_topology(new)
    return Change(put=tuple(put), delete=tuple(removed), topology=new, result=result)


def deployment_statuses(topology: Topology, manager: NetworkManager, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``listDeploymentStatus``: the manager's deployments, filtered by ``regions`` and ``deploymentTypes``."""
    regions = {_region_key(r) for r in _texts(body, "regions", required=False)}
    types = {t.casefold() for t in _texts(body, "deploymentTypes", required=False)}
    out = []
    for status in topology.deployment_statuses:
        if not status.network_manager_id or id_key(status.network_manager_id) != manager.key:
            continue
        if regions and _region_key(status.region) not in regions:
            continue
        if (
            types
            and not ({status.deployment_type.casefold()} | ({"adminpolicy"} if status.is_security_admin else set()))
            & types
        ):
            continue
        out.append(deployment_status_to_arm(status))
    return out


def rule_entry(topology: Topology, rule: AdminRule) -> dict[str, Any]:
    """A rule as the active and effective answers list it: with its configuration's and collection's context."""
    configuration = topology.security_admin_configuration(rule.configuration_id)
    collection = topology.admin_rule_collection(rule.rule_collection_id)
    groups = collection.applies_to_groups if collection else ()
    rule_groups = []
    for group_id in groups:
        group = topology.network_group(group_id)
        properties = {
            "provisioningState": "Succeeded",
            **({"description": group.description} if group and group.description else {}),
        }
        rule_groups.append({"id": group_id, "properties": properties})
    return {
        "id": rule.id,
        "configurationDescription": configuration.description if configuration else None,
        "ruleCollectionDescription": collection.description if collection else None,
        "ruleCollectionAppliesToGroups": [{"networkGroupId": g} for g in groups],
        "ruleGroups": rule_groups,
        "kind": rule.kind.value,
        "properties": admin_rule_properties(rule),
    }


def active_rules(topology: Topology, manager: NetworkManager, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``listActiveSecurityAdminRules``: per region asked, the rules of the configuration deployed there."""
    regions = _texts(body, "regions", required=False)
    out: list[dict[str, Any]] = []
    for status in topology.deployment_statuses:
        if not status.network_manager_id or id_key(status.network_manager_id) != manager.key:
            continue
        if status.deployment_status is not DeploymentState.DEPLOYED or not status.is_security_admin:
            continue
        if regions and _region_key(status.region) not in {_region_key(r) for r in regions}:
            continue
        for configuration_id in status.configuration_ids:
            for collection in topology.rule_collections_of(configuration_id):
                for rule in topology.admin_rules_of(collection.id):
                    entry = rule_entry(topology, rule)
                    commit_time = status.commit_time.isoformat().replace("+00:00", "Z") if status.commit_time else None
                    out.append({"region": status.region, "commitTime": commit_time, **entry})
    return out


def effective_admin_rules_answer(snapshot: Snapshot, vnet_id: str) -> list[dict[str, Any]]:
    """The VNet's effective admin rules: the imported answer when one was given for it (semantics §11.5 shape 2), else
    the rules the engine finds in force on the VNet (semantics §11.2), managers in evaluation order."""
    topology = snapshot.topology
    imported = topology.effective_admin_rules.get(id_key(vnet_id))
    if imported is not None:
        value: list[dict[str, Any]] = effective_admin_rules_to_arm(imported)["value"]
        return value
    return [
        rule_entry(topology, source.rule)
        for manager in admin_rules_for_vnet(topology, vnet_id)
        for source in manager.rules
    ]


def _skip_token_page(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """These POST list answers page with ``skipToken`` in the body; everything fits one page here."""
    return {"value": list(entries), "skipToken": ""}


# --- routes ----------------------------------------------------------------------------------------------------


def stored_child(route: ChildRoute) -> StoredChild:
    """The routes of one child kind: ARM's answers (``opennsg.api.lro``) over this module's planning."""
    return StoredChild(
        resource_type=route.kind.type,
        ancestor=MANAGERS + "/{networkManagerName}",
        segments=route.segments,
        parameters=route.parameters,
        ancestor_id=lambda p: manager_id(p["subscriptionId"], p["resourceGroupName"], p["networkManagerName"]),
        require_parent=_require,
        stored=lambda snapshot, rid: _stored(snapshot.topology, rid) is not None,
        put=lambda s, rid, body, conditions, caller: put_child(s, route, rid, body, conditions, caller),
        delete=delete_child,
        location=_manager_location,
        operation_prefix=route.kind.arm_kind[0].upper() + route.kind.arm_kind[1:],
        tags=(route.kind.arm_kind,),
        schema=route.kind.arm_kind,
        put_long_running=False,
        delete_long_running=route.lro_delete,
    )


class ManagerRoutes:
    """Registers the AVNM child routes and actions on the app."""

    def __init__(self, store: Store, effective_rules: Callable[[Snapshot, str], list[dict[str, Any]]]) -> None:
        self.store = store
        self.effective_rules = effective_rules
        self.router = APIRouter()

    def install(self, app: FastAPI) -> None:
        for route in CHILD_ROUTES:
            install_child_routes(self.router, self.store, stored_child(route))
        self._actions()
        app.include_router(self.router)

    def _manager(self, snapshot: Snapshot, subscription: str, group: str, name: str) -> NetworkManager:
        rid = manager_id(subscription, group, name)
        found = snapshot.topology.network_manager(rid)
        if found is None:
            if snapshot.row(resource_group_id(subscription, group)) is None:
                raise group_not_found(group)
            raise not_found("Microsoft.Network/networkManagers", name, group)
        return found

    def _actions(self) -> None:
        item = MANAGERS + "/{networkManagerName}"
        tags: list[str | Enum] = ["networkManagers"]
        store = self.store

        @self.router.post(
            item + "/commit", tags=tags, operation_id="NetworkManagerCommits_Post", **request_body("commit")
        )
        async def post_commit(
            request: Request, subscriptionId: str, resourceGroupName: str, networkManagerName: str
        ) -> Response:
            manager = self._manager(store.snapshot, subscriptionId, resourceGroupName, networkManagerName)
            body = await json_body(request)

            def plan(s: Snapshot) -> Change[dict[str, Any]]:
                current = self._manager(s, subscriptionId, resourceGroupName, networkManagerName)
                return commit(s, current, body)

            _, change, _ = await store.write(plan, subscriptionId)
            assert change.result is not None
            operation = store.record(subscriptionId, change.result)
            # the commit, as in Azure's 202 (and at Location)
            return accepted(request, subscriptionId, manager.location, operation, change.result)

        @self.router.post(item + "/listDeploymentStatus", tags=tags, operation_id="NetworkManagerDeploymentStatus_List")
        async def list_deployment_status(
            request: Request, subscriptionId: str, resourceGroupName: str, networkManagerName: str
        ) -> Response:
            snapshot = store.snapshot
            manager = self._manager(snapshot, subscriptionId, resourceGroupName, networkManagerName)
            body = await _optional_body(request)
            return json_response(_skip_token_page(deployment_statuses(snapshot.topology, manager, body)))

        @self.router.post(
            item + "/listActiveSecurityAdminRules", tags=tags, operation_id="ListActiveSecurityAdminRules"
        )
        async def list_active(
            request: Request, subscriptionId: str, resourceGroupName: str, networkManagerName: str
        ) -> Response:
            snapshot = store.snapshot
            manager = self._manager(snapshot, subscriptionId, resourceGroupName, networkManagerName)
            body = await _optional_body(request)
            return json_response(_skip_token_page(active_rules(snapshot.topology, manager, body)))

        vnet = (
            "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/"
            "virtualNetworks/{virtualNetworkName}/listNetworkManagerEffectiveSecurityAdminRules"
        )

        @self.router.post(vnet, tags=["virtualNetworks"], operation_id="ListNetworkManagerEffectiveSecurityAdminRules")
        async def list_effective(
            request: Request, subscriptionId: str, resourceGroupName: str, virtualNetworkName: str
        ) -> Response:
            check_subscription(subscriptionId)
            vnet_id = network_id(subscriptionId, resourceGroupName, "virtualNetworks", virtualNetworkName)
            snapshot = store.snapshot
            if snapshot.topology.vnet(vnet_id) is None:
                if snapshot.row(resource_group_id(subscriptionId, resourceGroupName)) is None:
                    raise group_not_found(resourceGroupName)
                raise not_found("Microsoft.Network/virtualNetworks", virtualNetworkName, resourceGroupName)
            await _optional_body(request)
            return json_response(_skip_token_page(self.effective_rules(snapshot, vnet_id)))


async def _optional_body(request: Request) -> dict[str, Any]:
    """These POSTs take an optional body (``regions``, ``deploymentTypes``, ``skipToken``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return parse_json(raw)


__all__ = [
    "CHILD_ROUTES",
    "ManagerRoutes",
    "active_rules",
    "commit",
    "deployment_statuses",
    "effective_admin_rules_answer",
]
