"""Long-running operations and the routes of resources stored under a parent, written once for the service.

Azure answers writes and actions as long-running operations: a PUT 201/200 with ``Azure-AsyncOperation``, a DELETE
202 with ``Location`` too (204 when there was nothing to delete), an action 202 whose result waits at ``Location``.
The service does the work before answering, so the operation is recorded as finished and the SDK's first poll
succeeds. ``StoredChild`` describes a resource kind kept one row each under a parent (a network manager's groups,
configurations and rules, a watcher's flow logs) and ``install_child_routes`` registers its PUT, GET, PATCH,
DELETE and list with these answers; each kind supplies only its own planning (``opennsg.api.planning``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from opennsg.api import planning
from opennsg.api.catalog import ModelKind
from opennsg.api.errors import ApiError, not_found
from opennsg.api.gateway import caller_of
from opennsg.api.http import check_name, json_body, json_response, lro_headers, page, preconditions, resource_response
from opennsg.api.linked import Caller
from opennsg.api.rendering import render
from opennsg.api.schemas import request_body
from opennsg.api.store import Change, Snapshot, Store
from opennsg.model.ids import ResourceId, id_key, name_of

# --- answers ---------------------------------------------------------------------------------------------------


def written(
    request: Request, snapshot: Snapshot, resource_id: str, created: bool, subscription: str, operation: str | None
) -> Response:
    """A PUT's answer: the stored resource as GET renders it, 201 when created, else 200; with ``operation``, the
    ``Azure-AsyncOperation`` of a long-running PUT at the resource's location."""
    row = snapshot.row(resource_id)
    assert row is not None
    rendered = render(snapshot, row)
    return written_body(request, rendered, created, subscription, str(rendered.get("location", "")), operation)


def written_body(
    request: Request,
    body: Mapping[str, Any],
    created: bool,
    subscription: str,
    location: str,
    operation: str | None,
) -> Response:
    """``written`` for a body rendered by the caller (a child resource, answered with its parent's location)."""
    headers = None if operation is None else lro_headers(request, subscription, location, operation, False)
    return resource_response(body, 201 if created else 200, headers)


def deleted(
    request: Request, subscription: str, existed: bool, location: str, operation: str, long_running: bool = True
) -> Response:
    """A DELETE's answer: 204 when nothing was there; else 202 naming the (finished) operation, or 200 for the kinds
    Azure deletes synchronously."""
    if not existed:
        return Response(status_code=204)
    if not long_running:
        return Response(status_code=200)
    return accepted(request, subscription, location, operation)


def accepted(
    request: Request, subscription: str, location: str, operation: str, body: Mapping[str, Any] | None = None
) -> Response:
    """202 Accepted with ``Azure-AsyncOperation`` (the status) and ``Location`` (the result) of ``operation``; with
    ``body``, that body too (a commit answers with itself)."""
    headers = lro_headers(request, subscription, location, operation, True)
    if body is not None:
        return json_response(body, 202, headers)
    return Response(status_code=202, headers=headers)


async def run_action(
    request: Request, store: Store, subscription: str, location: str, compute: Callable[[], Any]
) -> Response:
    """An action computed off the event loop (engine work), its result recorded for ``Location``, answered 202."""
    return answered(request, store, subscription, location, await run_in_threadpool(compute))


def answered(request: Request, store: Store, subscription: str, location: str, result: Any) -> Response:
    """An action's 202 for its computed ``result``, recorded for ``Location`` (a result computed on the event loop
    when it takes microseconds, so a thread hand-off would cost more than the work)."""
    operation = store.record(subscription, result)
    return accepted(request, subscription, location, operation)


# --- resources stored one row each under a parent --------------------------------------------------------------

PutPlan = Callable[[Snapshot, str, Mapping[str, Any], planning.Preconditions, Caller], Change[bool]]
DeletePlan = Callable[[Snapshot, str, planning.Preconditions], Change[bool]]


@dataclass(frozen=True, slots=True)
class StoredChild:
    """A resource kind stored one row each under a parent, its URLs, and the planning that is its own."""

    #: ARM type, e.g. ``Microsoft.Network/networkWatchers/flowLogs``.
    resource_type: str
    #: URL template of the top-level ancestor, e.g. ``…/networkWatchers/{networkWatcherName}``.
    ancestor: str
    #: URL segments from the ancestor down to the kind, e.g. ``("securityAdminConfigurations", "ruleCollections")``,
    #: and the path parameter naming the resource in each.
    segments: tuple[str, ...]
    parameters: tuple[str, ...]
    #: The ancestor's id from the path parameters (checking the subscription).
    ancestor_id: Callable[[Mapping[str, str]], str]
    #: 404 (the resource group, then each missing ancestor) unless the parent with this id is stored.
    require_parent: Callable[[Snapshot, str], object]
    #: Whether the topology holds the resource with this id (a row alone is not enough: rows outlive models).
    stored: Callable[[Snapshot, str], bool]
    put: PutPlan
    delete: DeletePlan
    #: The location a DELETE's operation is reported at, read before the delete.
    location: Callable[[Snapshot, str], str]
    #: Operation id prefix (``FlowLogs`` gives ``FlowLogs_CreateOrUpdate``), OpenAPI tags and request schema name.
    operation_prefix: str
    tags: tuple[str, ...]
    schema: str
    put_long_running: bool = True
    delete_long_running: bool = True
    #: The model kind whose tags a PATCH replaces; None when the kind has no PATCH.
    patch_kind: ModelKind | None = None
    page_size: int = 100

    @property
    def ancestor_parameters(self) -> tuple[str, ...]:
        return tuple(part[1:-1] for part in self.ancestor.split("/") if part.startswith("{"))

    def item_path(self) -> str:
        below = "".join(f"/{s}/{{{p}}}" for s, p in zip(self.segments, self.parameters, strict=True))
        return self.ancestor + below

    def resource_id(self, params: Mapping[str, str]) -> str:
        out = self.ancestor_id(params)
        for segment, parameter in zip(self.segments, self.parameters, strict=True):
            out += f"/{segment}/{params[parameter]}"
        return out

    def missing(self, snapshot: Snapshot, resource_id: str) -> ApiError:
        """The 404 of a GET: for the first missing ancestor, else for the resource itself."""
        parsed = ResourceId.parse(resource_id)
        assert parsed is not None and parsed.parent is not None
        self.require_parent(snapshot, str(parsed.parent))
        return not_found(parsed.type, "/".join(parsed.names), parsed.resource_group)


def install_child_routes(router: APIRouter, store: Store, kind: StoredChild) -> None:
    """PUT, GET, PATCH (when the kind has one), DELETE and list of ``kind``, answered as ARM answers them."""
    item = kind.item_path()
    collection = item.rsplit("/", 1)[0]

    async def put_item(request: Request, **path: str) -> Response:
        params = dict(request.path_params)
        subscription = params["subscriptionId"]
        rid = kind.resource_id(params)
        check_name(name_of(rid), kind.resource_type)
        body = await json_body(request)
        conditions = preconditions(request)
        caller = caller_of(request.scope)
        snapshot, change, operation = await store.write(
            lambda s: kind.put(s, rid, body, conditions, caller), subscription
        )
        long_running = operation if kind.put_long_running else None
        return written(request, snapshot, rid, bool(change.result), subscription, long_running)

    async def get_item(request: Request, **path: str) -> Response:
        rid = kind.resource_id(request.path_params)
        snapshot = store.snapshot
        row = snapshot.row(rid)
        if row is None or not kind.stored(snapshot, rid):
            raise kind.missing(snapshot, rid)
        return resource_response(render(snapshot, row))

    async def patch_item(request: Request, **path: str) -> Response:
        assert kind.patch_kind is not None
        patched = kind.patch_kind
        rid = kind.resource_id(request.path_params)
        parent = ResourceId.parse(rid)
        assert parent is not None and parent.parent is not None
        body = await json_body(request)
        conditions = preconditions(request)

        def plan(s: Snapshot) -> Change[bool]:
            kind.require_parent(s, str(parent.parent))
            row = s.row(rid)
            conditions.check(row.etag if row else None)
            return planning.patch_tags(s, patched, rid, body)

        snapshot, _, _ = await store.write(plan, request.path_params["subscriptionId"])
        row = snapshot.row(rid)
        assert row is not None
        return resource_response(render(snapshot, row))

    async def delete_item(request: Request, **path: str) -> Response:
        params = dict(request.path_params)
        subscription = params["subscriptionId"]
        rid = kind.resource_id(params)
        conditions = preconditions(request)
        location = kind.location(store.snapshot, rid)
        _, change, operation = await store.write(lambda s: kind.delete(s, rid, conditions), subscription)
        return deleted(request, subscription, bool(change.result), location, operation, kind.delete_long_running)

    async def list_items(request: Request, **path: str) -> Response:
        params = dict(request.path_params)
        parent = kind.ancestor_id(params)
        for segment, parameter in zip(kind.segments[:-1], kind.parameters[:-1], strict=True):
            parent += f"/{segment}/{params[parameter]}"
        snapshot = store.snapshot
        kind.require_parent(snapshot, parent)
        prefix = f"{id_key(parent)}/{kind.segments[-1].casefold()}/"
        folded_type = id_key(kind.resource_type)
        bodies = [
            render(snapshot, r)
            for r in snapshot.rows.values()
            if r.key.startswith(prefix) and "/" not in r.key[len(prefix) :] and id_key(r.type) == folded_type
        ]
        return json_response(page(request, bodies, lambda b: str(b["id"]).casefold(), kind.page_size))

    handlers: list[tuple[Callable[..., Any], str, str, str]] = [
        (put_item, "PUT", item, "CreateOrUpdate"),
        (get_item, "GET", item, "Get"),
    ]
    if kind.patch_kind is not None:
        handlers.append((patch_item, "PATCH", item, "UpdateTags"))
    handlers += [(delete_item, "DELETE", item, "Delete"), (list_items, "GET", collection, "List")]
    tags: list[str | Enum] = list(kind.tags)
    for handler, method, path, name in handlers:
        handler.__name__ = f"{kind.operation_prefix}_{name}"
        declared = [*kind.ancestor_parameters, *kind.parameters][: path.count("{")]
        _declare_path_parameters(handler, declared)
        extra = request_body(kind.schema if method == "PUT" else "tags") if method in ("PUT", "PATCH") else {}
        router.add_api_route(
            path, handler, methods=[method], tags=tags, operation_id=f"{kind.operation_prefix}_{name}", **extra
        )


def _declare_path_parameters(handler: Callable[..., Any], names: list[str]) -> None:
    """Publish the path parameters in the OpenAPI document (FastAPI reads them from the signature); the handler
    itself reads ``request.path_params``."""
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    declared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=str) for n in names]
    handler.__signature__ = inspect.Signature([request, *declared])  # type: ignore[attr-defined]


__all__ = ["StoredChild", "accepted", "answered", "deleted", "install_child_routes", "run_action", "written"]
