"""ARM CRUD routes: resource groups, the Microsoft.Network / Microsoft.Compute resources, their child resources."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from opennsg import arm
from opennsg.api import planning
from opennsg.api.catalog import MODEL_KINDS, NETWORK_WATCHER_TYPE, RESOURCE_GROUP_TYPE, ModelKind
from opennsg.api.errors import ApiError, group_not_found, not_found
from opennsg.api.gateway import caller_of
from opennsg.api.http import (
    check_group_name,
    check_name,
    check_subscription,
    json_body,
    json_response,
    lro_headers,
    page,
    preconditions,
    resource_response,
)
from opennsg.api.schemas import request_body
from opennsg.api.store import Change, Row, Snapshot, Store
from opennsg.model.ids import ResourceId, id_key, name_of, resource_group_id, subscription_of
from opennsg.model.ids import resource_id as arm_resource_id
from opennsg.model.resources import NetworkInterface, PublicIpAddress, Resource, RouteTable, VirtualNetwork
from opennsg.model.validation import Code

CHILD_LISTS = (
    "securityRules",
    "defaultSecurityRules",
    "subnets",
    "virtualNetworkPeerings",
    "routes",
    "ipConfigurations",
)
CHILD_KEYS = {name.casefold(): name for name in CHILD_LISTS}


def decorate_child(body: dict[str, Any], etag: str) -> dict[str, Any]:
    """A child resource shares its parent's etag (as in ARM) and reports provisioningState."""
    body["etag"] = etag
    body.setdefault("properties", {})["provisioningState"] = "Succeeded"
    return body


def decorate(body: dict[str, Any], etag: str) -> dict[str, Any]:
    """Add what ARM adds on the way out: the etag and provisioningState, on the resource and on its children."""
    decorate_child(body, etag)
    for collection in CHILD_LISTS:
        for child in body["properties"].get(collection) or []:
            if isinstance(child, dict):
                decorate_child(child, etag)
    return body


def render(snapshot: Snapshot, row: Row) -> dict[str, Any]:
    """The GET body of a stored resource (with back-references from the current topology)."""

    def build() -> dict[str, Any]:
        model = model_of(snapshot, row)
        if model is None:
            body = dict(row.body)
            body["etag"] = row.etag
            return body
        body = arm.to_arm(model, snapshot.topology)
        add_back_references(snapshot, model, body)
        add_defaults(model, body)
        return decorate(body, row.etag)

    return snapshot.rendered(row.key, build)


def add_back_references(snapshot: Snapshot, model: Resource, body: dict[str, Any]) -> None:
    """What ARM reports on a resource about those that use it: a route table's subnets, a subnet's NIC IP
    configurations, a NIC's VM, a public IP's IP configuration."""
    references = snapshot.references
    properties = body["properties"]
    if isinstance(model, RouteTable):
        subnets = references.subnets_by_route_table.get(model.key)
        if subnets:
            properties["subnets"] = [{"id": s} for s in subnets]
        else:  # no key at all, as ARM answers (the schema allows an array or nothing, never null)
            properties.pop("subnets", None)
    if isinstance(model, VirtualNetwork):
        for subnet in properties.get("subnets") or []:
            if isinstance(subnet, dict) and isinstance(subnet.get("id"), str):
                users = references.ip_configurations_by_subnet.get(id_key(subnet["id"]))
                if users:
                    subnet.setdefault("properties", {})["ipConfigurations"] = [{"id": u} for u in users]
    if isinstance(model, NetworkInterface) and model.virtual_machine is None:
        owner = references.virtual_machine_by_nic.get(model.key)
        if owner is not None:
            properties["virtualMachine"] = {"id": owner}
    if isinstance(model, PublicIpAddress) and model.ip_configuration is None:
        user = references.ip_configuration_by_public_ip.get(model.key)
        if user is not None:
            properties["ipConfiguration"] = {"id": user}


def add_defaults(model: Resource, body: dict[str, Any]) -> None:
    """What ARM answers for properties a request left out (export keeps only what was given, so files round-trip):
    a NIC IP configuration's allocation method, a public IP's allocation method, idle timeout and IP version."""
    properties = body["properties"]
    if isinstance(model, NetworkInterface):
        for configuration, rendered in zip(
            model.ip_configurations, properties.get("ipConfigurations") or [], strict=True
        ):
            rendered.setdefault("properties", {}).setdefault(
                "privateIPAllocationMethod", configuration.allocation_method.value
            )
    if isinstance(model, PublicIpAddress):
        properties.setdefault("publicIPAllocationMethod", model.allocation_method.value)
        properties.setdefault("idleTimeoutInMinutes", model.idle_timeout)
        properties.setdefault("publicIPAddressVersion", model.ip_version)


def model_of(snapshot: Snapshot, row: Row) -> Resource | None:
    return planning.model_in(snapshot.topology, row)


def lookup(snapshot: Snapshot, resource_id: str) -> dict[str, Any] | None:
    """The GET body of a stored resource or of a child inside one (rule, default rule, subnet, peering); None when
    there is none. Every successful GET goes through here (the gateway's fast path and the routes alike)."""
    row = snapshot.row(resource_id)
    if row is not None:
        return render(snapshot, row)
    child = ResourceId.parse(resource_id)
    if child is None or child.parent is None or child.types[-1].casefold() not in CHILD_KEYS:
        return None
    parent = snapshot.row(str(child.parent))
    if parent is None:
        return None
    items = render(snapshot, parent).get("properties", {}).get(CHILD_KEYS[child.types[-1].casefold()]) or []
    folded = child.name.casefold()
    return next((c for c in items if isinstance(c, dict) and str(c.get("name", "")).casefold() == folded), None)


class Routes:
    """Registers every CRUD route on the app; each handler reads the published snapshot or writes through the store."""

    def __init__(self, store: Store, page_size: int) -> None:
        self.store = store
        self.page_size = page_size
        self.router = APIRouter()

    def install(self, app: FastAPI) -> None:
        self._groups()
        for kind in MODEL_KINDS:
            self._top_level(kind)
        self._watchers()
        self._children(MODEL_KINDS[0], "securityRules", "security_rules", "securityRules", writable=True)
        self._children(MODEL_KINDS[0], "defaultSecurityRules", "default_security_rules", "", writable=False)
        vnets = next(k for k in MODEL_KINDS if k.collection == "vnets")
        self._children(vnets, "subnets", "subnets", "subnets", writable=True)
        self._children(vnets, "virtualNetworkPeerings", "peerings", "virtualNetworkPeerings", writable=True)
        route_tables = next(k for k in MODEL_KINDS if k.collection == "route_tables")
        self._children(route_tables, "routes", "routes", "routes", writable=True)
        nics = next(k for k in MODEL_KINDS if k.collection == "nics")
        self._children(nics, "ipConfigurations", "ip_configurations", "", writable=False)
        app.include_router(self.router)

    # --- helpers ---------------------------------------------------------------------------------------------------

    async def _write(
        self, plan: Callable[[Snapshot], Change[bool]], subscription: str
    ) -> tuple[Snapshot, Change[bool], str]:
        return await self.store.write(plan, subscription)

    def _list(self, request: Request, rows: list[Row]) -> Response:
        snapshot = self.store.snapshot
        bodies = [render(snapshot, row) for row in rows]
        return json_response(page(request, bodies, lambda b: str(b["id"]).casefold(), self.page_size))

    def _group_rows(self, snapshot: Snapshot, subscription: str, group: str, resource_type: str) -> list[Row]:
        check_subscription(subscription)
        if snapshot.row(resource_group_id(subscription, group)) is None:
            raise group_not_found(group)
        folded_type, folded_group, folded_sub = resource_type.casefold(), group.casefold(), subscription.casefold()
        return [
            r
            for r in snapshot.rows.values()
            if r.type.casefold() == folded_type
            and r.group_key == folded_group
            and r.parsed.subscription.casefold() == folded_sub
        ]

    def _subscription_rows(self, snapshot: Snapshot, subscription: str, resource_type: str) -> list[Row]:
        check_subscription(subscription)
        folded_type, folded_sub = resource_type.casefold(), subscription.casefold()
        return [
            r
            for r in snapshot.rows.values()
            if r.type.casefold() == folded_type and r.parsed.subscription.casefold() == folded_sub
        ]

    # --- resource groups -------------------------------------------------------------------------------------------

    def _groups(self) -> None:
        base = "/subscriptions/{subscriptionId}/resourceGroups"
        item = base + "/{resourceGroupName}"
        tags: list[str | Enum] = ["resourceGroups"]

        @self.router.put(item, tags=tags, operation_id="ResourceGroups_CreateOrUpdate", **request_body("group"))
        async def put_group(request: Request, subscriptionId: str, resourceGroupName: str) -> Response:
            check_subscription(subscriptionId)
            check_group_name(resourceGroupName)
            body = await json_body(request)
            conditions = preconditions(request)
            resource_id = resource_group_id(subscriptionId, resourceGroupName)
            snapshot, change, _ = await self._write(
                lambda s: planning.put_document(s, resource_id, RESOURCE_GROUP_TYPE, body, conditions), subscriptionId
            )
            row = snapshot.row(resource_id)
            assert row is not None
            return resource_response(render(snapshot, row), 201 if change.result else 200)

        @self.router.get(item, tags=tags, operation_id="ResourceGroups_Get")
        async def get_group(subscriptionId: str, resourceGroupName: str) -> Response:
            check_subscription(subscriptionId)
            snapshot = self.store.snapshot
            row = snapshot.row(resource_group_id(subscriptionId, resourceGroupName))
            if row is None:
                raise group_not_found(resourceGroupName)
            return resource_response(render(snapshot, row))

        @self.router.head(item, tags=tags, operation_id="ResourceGroups_CheckExistence")
        async def head_group(subscriptionId: str, resourceGroupName: str) -> Response:
            check_subscription(subscriptionId)
            found = self.store.snapshot.row(resource_group_id(subscriptionId, resourceGroupName)) is not None
            return Response(status_code=204 if found else 404)

        @self.router.delete(item, tags=tags, operation_id="ResourceGroups_Delete")
        async def delete_group(request: Request, subscriptionId: str, resourceGroupName: str) -> Response:
            check_subscription(subscriptionId)
            snapshot = self.store.snapshot
            group = snapshot.row(resource_group_id(subscriptionId, resourceGroupName))
            location = str(group.body.get("location", "")) if group else ""
            conditions = preconditions(request)

            def plan(s: Snapshot) -> Change[bool]:
                row = s.row(resource_group_id(subscriptionId, resourceGroupName))
                conditions.check(row.etag if row else None)
                return planning.delete_group(s, subscriptionId, resourceGroupName)

            _, change, operation = await self._write(plan, subscriptionId)
            if not change.result:
                raise group_not_found(resourceGroupName)
            return Response(status_code=202, headers=lro_headers(request, subscriptionId, location, operation, True))

        @self.router.patch(item, tags=tags, operation_id="ResourceGroups_Update", **request_body("group"))
        async def patch_group(request: Request, subscriptionId: str, resourceGroupName: str) -> Response:
            check_subscription(subscriptionId)
            body = await json_body(request)
            conditions = preconditions(request)
            resource_id = resource_group_id(subscriptionId, resourceGroupName)
            if self.store.snapshot.row(resource_id) is None:
                raise group_not_found(resourceGroupName)
            snapshot, _, _ = await self._write(
                lambda s: planning.patch_document_tags(s, resource_id, body, conditions), subscriptionId
            )
            row = snapshot.row(resource_id)
            assert row is not None
            return resource_response(render(snapshot, row))

        @self.router.get(base, tags=tags, operation_id="ResourceGroups_List")
        async def list_groups(request: Request, subscriptionId: str) -> Response:
            return self._list(
                request, self._subscription_rows(self.store.snapshot, subscriptionId, RESOURCE_GROUP_TYPE)
            )

        @self.router.get("/subscriptions/{subscriptionId}", tags=["subscriptions"], operation_id="Subscriptions_Get")
        async def get_subscription(subscriptionId: str) -> Response:
            check_subscription(subscriptionId)
            snapshot = self.store.snapshot
            imported = snapshot.row(f"/subscriptions/{subscriptionId}")
            if imported is not None:
                return json_response(dict(imported.body))
            if not self._subscription_rows(snapshot, subscriptionId, RESOURCE_GROUP_TYPE):
                raise ApiError(
                    404, Code.SUBSCRIPTION_NOT_FOUND, f"The subscription '{subscriptionId}' could not be found."
                )
            return json_response(
                {
                    "id": f"/subscriptions/{subscriptionId}",
                    "subscriptionId": subscriptionId,
                    "displayName": subscriptionId,
                    "state": "Enabled",
                    "subscriptionPolicies": {"quotaId": "PayAsYouGo_2014-09-01"},
                }
            )

    # --- top-level network/compute resources ----------------------------------------------------------------------

    def _top_level(self, kind: ModelKind) -> None:
        group_base = f"/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/{kind.type}"
        item = group_base + "/{resourceName}"
        tags: list[str | Enum] = [kind.segment]
        op = kind.segment[0].upper() + kind.segment[1:]

        def resource_id(subscription: str, group: str, name: str) -> str:
            check_subscription(subscription)
            check_name(name, kind.type)
            return arm_resource_id(subscription, group, kind.type, name)

        @self.router.put(item, tags=tags, operation_id=f"{op}_CreateOrUpdate", **request_body(kind.arm_kind))
        async def put_item(
            request: Request, subscriptionId: str, resourceGroupName: str, resourceName: str
        ) -> Response:
            rid = resource_id(subscriptionId, resourceGroupName, resourceName)
            body = await json_body(request)
            conditions = preconditions(request)
            caller = caller_of(request.scope)
            snapshot, change, operation = await self._write(
                lambda s: planning.put_resource(
                    s, kind, rid, body, conditions, caller, request.query_params.get("api-version")
                ),
                subscriptionId,
            )
            row = snapshot.row(rid)
            assert row is not None
            rendered = render(snapshot, row)
            headers = lro_headers(request, subscriptionId, str(rendered.get("location", "")), operation, False)
            return resource_response(rendered, 201 if change.result else 200, headers)

        @self.router.get(item, tags=tags, operation_id=f"{op}_Get")
        async def get_item(subscriptionId: str, resourceGroupName: str, resourceName: str) -> Response:
            rid = resource_id(subscriptionId, resourceGroupName, resourceName)
            snapshot = self.store.snapshot
            row = snapshot.row(rid)
            if row is None:
                if snapshot.row(resource_group_id(subscriptionId, resourceGroupName)) is None:
                    raise group_not_found(resourceGroupName)
                raise not_found(kind.type, resourceName, resourceGroupName)
            return resource_response(render(snapshot, row))

        @self.router.patch(item, tags=tags, operation_id=f"{op}_UpdateTags", **request_body("tags"))
        async def patch_item(
            request: Request, subscriptionId: str, resourceGroupName: str, resourceName: str
        ) -> Response:
            rid = resource_id(subscriptionId, resourceGroupName, resourceName)
            body = await json_body(request)
            conditions = preconditions(request)

            def plan(s: Snapshot) -> Change[bool]:
                row = s.row(rid)
                conditions.check(row.etag if row else None)
                return planning.patch_tags(s, kind, rid, body)

            snapshot, _, _ = await self._write(plan, subscriptionId)
            row = snapshot.row(rid)
            assert row is not None
            return resource_response(render(snapshot, row))

        @self.router.delete(item, tags=tags, operation_id=f"{op}_Delete")
        async def delete_item(
            request: Request, subscriptionId: str, resourceGroupName: str, resourceName: str
        ) -> Response:
            rid = resource_id(subscriptionId, resourceGroupName, resourceName)
            conditions = preconditions(request)
            before = self.store.snapshot.row(rid)
            location = str(before.body.get("location", "")) if before else ""

            def plan(s: Snapshot) -> Change[bool]:
                row = s.row(rid)
                conditions.check(row.etag if row else None)
                return planning.delete_resource(s, kind, rid)

            _, change, operation = await self._write(plan, subscriptionId)
            if not change.result:
                return Response(status_code=204)
            return Response(status_code=202, headers=lro_headers(request, subscriptionId, location, operation, True))

        @self.router.get(group_base, tags=tags, operation_id=f"{op}_List")
        async def list_in_group(request: Request, subscriptionId: str, resourceGroupName: str) -> Response:
            return self._list(
                request, self._group_rows(self.store.snapshot, subscriptionId, resourceGroupName, kind.type)
            )

        @self.router.get(
            f"/subscriptions/{{subscriptionId}}/providers/{kind.type}", tags=tags, operation_id=f"{op}_ListAll"
        )
        async def list_all(request: Request, subscriptionId: str) -> Response:
            return self._list(request, self._subscription_rows(self.store.snapshot, subscriptionId, kind.type))

        for handler in (put_item, get_item, patch_item, delete_item, list_in_group, list_all):
            handler.__name__ = f"{kind.segment}_{handler.__name__}"

    # --- network watchers (the resource itself; its actions live in watcher.py) -----------------------------------

    def _watchers(self) -> None:
        group_base = (
            f"/subscriptions/{{subscriptionId}}/resourceGroups/{{resourceGroupName}}/providers/{NETWORK_WATCHER_TYPE}"
        )
        item = group_base + "/{networkWatcherName}"
        tags: list[str | Enum] = ["networkWatchers"]

        def watcher_id(subscription: str, group: str, name: str) -> str:
            check_subscription(subscription)
            check_name(name, NETWORK_WATCHER_TYPE)
            return arm_resource_id(subscription, group, NETWORK_WATCHER_TYPE, name)

        @self.router.put(item, tags=tags, operation_id="NetworkWatchers_CreateOrUpdate", **request_body("group"))
        async def put_watcher(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            rid = watcher_id(subscriptionId, resourceGroupName, networkWatcherName)
            body = await json_body(request)
            conditions = preconditions(request)

            def plan(s: Snapshot) -> Change[bool]:
                planning.require_group(s, subscriptionId, resourceGroupName)
                return planning.put_document(s, rid, NETWORK_WATCHER_TYPE, body, conditions)

            snapshot, change, _ = await self._write(plan, subscriptionId)
            row = snapshot.row(rid)
            assert row is not None
            return resource_response(render(snapshot, row), 201 if change.result else 200)

        @self.router.get(item, tags=tags, operation_id="NetworkWatchers_Get")
        async def get_watcher(subscriptionId: str, resourceGroupName: str, networkWatcherName: str) -> Response:
            rid = watcher_id(subscriptionId, resourceGroupName, networkWatcherName)
            snapshot = self.store.snapshot
            row = snapshot.row(rid)
            if row is None:
                raise not_found(NETWORK_WATCHER_TYPE, networkWatcherName, resourceGroupName)
            return resource_response(render(snapshot, row))

        @self.router.patch(item, tags=tags, operation_id="NetworkWatchers_UpdateTags", **request_body("tags"))
        async def patch_watcher(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            rid = watcher_id(subscriptionId, resourceGroupName, networkWatcherName)
            body = await json_body(request)
            conditions = preconditions(request)
            snapshot, _, _ = await self._write(
                lambda s: planning.patch_document_tags(s, rid, body, conditions), subscriptionId
            )
            row = snapshot.row(rid)
            assert row is not None
            return resource_response(render(snapshot, row))

        @self.router.delete(item, tags=tags, operation_id="NetworkWatchers_Delete")
        async def delete_watcher(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            rid = watcher_id(subscriptionId, resourceGroupName, networkWatcherName)
            conditions = preconditions(request)

            def plan(s: Snapshot) -> Change[bool]:
                row = s.row(rid)
                conditions.check(row.etag if row else None)
                return planning.delete_document(s, rid)

            _, change, operation = await self._write(plan, subscriptionId)
            if not change.result:
                return Response(status_code=204)
            return Response(status_code=202, headers=lro_headers(request, subscriptionId, "", operation, True))

        @self.router.get(group_base, tags=tags, operation_id="NetworkWatchers_List")
        async def list_watchers(request: Request, subscriptionId: str, resourceGroupName: str) -> Response:
            snapshot = self.store.snapshot
            return self._list(
                request, self._group_rows(snapshot, subscriptionId, resourceGroupName, NETWORK_WATCHER_TYPE)
            )

        @self.router.get(
            "/subscriptions/{subscriptionId}/providers/Microsoft.Network/networkWatchers",
            tags=tags,
            operation_id="NetworkWatchers_ListAll",
        )
        async def list_all_watchers(request: Request, subscriptionId: str) -> Response:
            return self._list(
                request, self._subscription_rows(self.store.snapshot, subscriptionId, NETWORK_WATCHER_TYPE)
            )

    # --- child resources -------------------------------------------------------------------------------------------

    def _children(self, kind: ModelKind, segment: str, collection: str, arm_kind: str, writable: bool) -> None:
        group_path = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
        parent_path = f"{group_path}/providers/{kind.type}/{{parentName}}"
        base = f"{parent_path}/{segment}"
        item = base + "/{childName}"
        tags: list[str | Enum] = [segment]
        op = segment[0].upper() + segment[1:]

        def parent_id(subscription: str, group: str, parent: str) -> str:
            check_subscription(subscription)
            return arm_resource_id(subscription, group, kind.type, parent)

        def rendered_parent(snapshot: Snapshot, pid: str, group: str) -> dict[str, Any]:
            row = snapshot.row(pid)
            if row is None:
                if snapshot.row(resource_group_id(subscription_of(pid) or "", group)) is None:
                    raise group_not_found(group)
                raise not_found(kind.type, name_of(pid), group)
            return render(snapshot, row)

        def children(parent: dict[str, Any]) -> list[dict[str, Any]]:
            items = parent.get("properties", {}).get(segment) or []
            return [c for c in items if isinstance(c, dict)]

        @self.router.get(item, tags=tags, operation_id=f"{op}_Get")
        async def get_child(subscriptionId: str, resourceGroupName: str, parentName: str, childName: str) -> Response:
            pid = parent_id(subscriptionId, resourceGroupName, parentName)
            snapshot = self.store.snapshot
            found = lookup(snapshot, f"{pid}/{segment}/{childName}")
            if found is None:
                rendered_parent(snapshot, pid, resourceGroupName)  # 404 for a missing group or parent
                raise not_found(f"{kind.type}/{segment}", f"{parentName}/{childName}", resourceGroupName)
            return resource_response(found)

        @self.router.get(base, tags=tags, operation_id=f"{op}_List")
        async def list_children(
            request: Request, subscriptionId: str, resourceGroupName: str, parentName: str
        ) -> Response:
            pid = parent_id(subscriptionId, resourceGroupName, parentName)
            parent = rendered_parent(self.store.snapshot, pid, resourceGroupName)
            return json_response(
                page(request, children(parent), lambda c: str(c.get("id", "")).casefold(), self.page_size)
            )

        handlers: list[Callable[..., Any]] = [get_child, list_children]
        if writable:

            @self.router.put(item, tags=tags, operation_id=f"{op}_CreateOrUpdate", **request_body(arm_kind))
            async def put_child(
                request: Request, subscriptionId: str, resourceGroupName: str, parentName: str, childName: str
            ) -> Response:
                pid = parent_id(subscriptionId, resourceGroupName, parentName)
                check_name(childName, f"{kind.type}/{segment}")
                body = await json_body(request)
                conditions = preconditions(request)
                caller = caller_of(request.scope)
                snapshot, change, operation = await self._write(
                    lambda s: planning.put_child(
                        s, kind, pid, collection, arm_kind, childName, body, conditions, caller
                    ),
                    subscriptionId,
                )
                row = snapshot.row(pid)
                parent_model = model_of(snapshot, row) if row is not None else None
                assert row is not None and parent_model is not None
                if isinstance(parent_model, RouteTable | VirtualNetwork):  # back-references come with the parent
                    found = lookup(snapshot, f"{pid}/{segment}/{childName}")
                    assert found is not None
                else:  # the child alone: cheaper than the parent
                    child = next(
                        c for c in getattr(parent_model, collection) if c.name.casefold() == childName.casefold()
                    )
                    found = decorate_child(arm.to_arm(child), row.etag)
                headers = lro_headers(request, subscriptionId, parent_model.location, operation, False)
                return resource_response(found, 201 if change.result else 200, headers)

            @self.router.delete(item, tags=tags, operation_id=f"{op}_Delete")
            async def delete_child(
                request: Request, subscriptionId: str, resourceGroupName: str, parentName: str, childName: str
            ) -> Response:
                pid = parent_id(subscriptionId, resourceGroupName, parentName)
                conditions = preconditions(request)

                def plan(s: Snapshot) -> Change[bool]:
                    row = s.row(pid)
                    parent = planning.parent_of(s, kind, pid)
                    exists = any(c.name.casefold() == childName.casefold() for c in getattr(parent, collection))
                    conditions.check(row.etag if row is not None and exists else None)
                    return planning.delete_child(s, kind, pid, collection, childName)

                snapshot, change, operation = await self._write(plan, subscriptionId)
                if not change.result:
                    return Response(status_code=204)
                row = snapshot.row(pid)
                location = str(row.body.get("location", "")) if row else ""
                return Response(
                    status_code=202, headers=lro_headers(request, subscriptionId, location, operation, True)
                )

            handlers += [put_child, delete_child]
        for handler in handlers:
            handler.__name__ = f"{segment}_{handler.__name__}"
