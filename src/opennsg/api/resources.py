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
    page,
    preconditions,
    resource_response,
)
from opennsg.api.lro import accepted, deleted, written, written_body
from opennsg.api.rendering import decorate_child, lookup, model_of, render
from opennsg.api.schemas import request_body
from opennsg.api.store import Change, Row, Snapshot, Store
from opennsg.model.ids import name_of, resource_group_id, subscription_of
from opennsg.model.ids import resource_id as arm_resource_id
from opennsg.model.resources import RouteTable, VirtualNetwork
from opennsg.model.validation import Code


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
            return written(request, snapshot, resource_id, bool(change.result), subscriptionId, None)

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
            return accepted(request, subscriptionId, location, operation)

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
            return written(request, snapshot, rid, bool(change.result), subscriptionId, operation)

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
            return deleted(request, subscriptionId, bool(change.result), location, operation)

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
            return written(request, snapshot, rid, bool(change.result), subscriptionId, None)

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
            return deleted(request, subscriptionId, bool(change.result), "", operation)

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
                return written_body(
                    request, found, bool(change.result), subscriptionId, parent_model.location, operation
                )

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
                row = snapshot.row(pid)
                location = str(row.body.get("location", "")) if row else ""
                return deleted(request, subscriptionId, bool(change.result), location, operation)

            handlers += [put_child, delete_child]
        for handler in handlers:
            handler.__name__ = f"{segment}_{handler.__name__}"
