"""The service's hottest operations answered without FastAPI's route scan and dependency solving.

FastAPI finds a route by trying every registered route in turn (about a millisecond per request with this
service's few hundred routes) and then builds each handler's arguments through its dependency machinery. For the
operations clients repeat at high rates (a rule PUT, IP flow verify and its operation result) the gateway calls the
SAME endpoint functions directly: ``HotRoutes`` takes them from the app's routes by operation id, matches a request
with those routes' own path patterns, and turns exceptions into answers with the app's own exception handlers. A
route is taken only when this is exactly what FastAPI would do: its endpoint is a coroutine taking nothing but the
request and its path parameters, its only dependencies are ones the gateway has already checked, and no route
registered before it could match the same requests (FastAPI's first match wins).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from opennsg.api.gateway import Receive, Scope, Send

#: Rule writes, IP flow verify and the result its poller reads: the requests a client repeats at high rates.
HOT_OPERATIONS = (
    "SecurityRules_CreateOrUpdate",
    "NetworkWatchers_IpFlowVerify",
    "Operations_GetResult",
    "Operations_GetStatus",
)


#: A hot route's answer computed on the spot (no await) from the request's scope, its whole body and its path
#: parameters, or None when only its endpoint can answer (it may raise then too); where given it must answer exactly
#: as the endpoint would (``Gateway.answer_at_once``).
AtOnce = Callable[..., Response | None]


@dataclass(frozen=True, slots=True)
class HotRoute:
    method: str
    pattern: re.Pattern[str]
    endpoint: Callable[..., Awaitable[Any]]
    takes_request: bool
    at_once: AtOnce | None = None


class HotRoutes:
    """Finds a hot route for a request and answers it as the FastAPI app would. When the app holds a kind of route
    this class cannot see into, it takes no route at all (every request then goes through FastAPI)."""

    def __init__(
        self,
        app: FastAPI,
        operation_ids: Iterable[str] = HOT_OPERATIONS,
        checked_by_gateway: Collection[Callable[..., Any]] = (),
        at_once: Mapping[str, AtOnce] | None = None,
    ) -> None:
        self.handlers = dict(app.exception_handlers)
        self.routes: list[HotRoute] = []
        entries = _entries(app.routes, "")
        if entries is None or any(d.dependency not in checked_by_gateway for d in app.router.dependencies):
            return
        wanted = set(operation_ids)
        for index, (prefix, route, extra) in enumerate(entries):
            if not isinstance(route, APIRoute) or route.operation_id not in wanted or prefix:
                continue
            if any(d.dependency not in checked_by_gateway for d in extra):
                continue
            hot = _hot(route, [e[:2] for e in entries[:index]], checked_by_gateway)
            if hot is not None:
                quick = (at_once or {}).get(route.operation_id or "")
                self.routes.extend(dataclasses.replace(h, at_once=quick) for h in hot)

    def find(self, method: str, path: str) -> tuple[HotRoute, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                match = route.pattern.match(path)
                if match is not None:
                    return route, match.groupdict()
        return None

    async def answer(self, route: HotRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_params"] = params
        request = Request(scope, receive)
        try:
            if route.takes_request:
                response = await route.endpoint(request, **params)
            else:
                response = await route.endpoint(**params)
            if not isinstance(response, Response):
                raise TypeError(f"a hot route's endpoint answered {type(response).__name__}, not a Response")
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[..., Awaitable[Response]] | None:
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                return handler  # type: ignore[no-any-return]
        return None


_Entry = tuple[str, BaseRoute, list[Any]]


def _entries(routes: Iterable[BaseRoute], prefix: str, extra: list[Any] | None = None) -> list[_Entry] | None:
    """Every route in the order FastAPI tries them, with the path prefix and dependencies of the routers that
    include it; None when some route is of a kind this cannot see into."""
    out: list[_Entry] = []
    for route in routes:
        if isinstance(route, Route | Mount):
            out.append((prefix, route, extra or []))
            continue
        included = getattr(route, "original_router", None)  # FastAPI's included router
        context = getattr(route, "include_context", None)
        inner_prefix = getattr(context, "prefix", None)
        if not isinstance(included, APIRouter) or not isinstance(inner_prefix, str):
            return None
        inner = _entries(
            included.routes, prefix + inner_prefix, [*(extra or []), *getattr(context, "dependencies", [])]
        )
        if inner is None:
            return None
        out.extend(inner)
    return out


def _hot(
    route: APIRoute, earlier: list[tuple[str, BaseRoute]], checked: Collection[Callable[..., Any]]
) -> list[HotRoute] | None:
    endpoint = route.endpoint
    if not inspect.iscoroutinefunction(endpoint):
        return None
    if any(dependency.call not in checked for dependency in route.dependant.dependencies):
        return None
    names = set(route.param_convertors)
    if any(route.param_convertors[name].regex != "[^/]+" for name in names):
        return None
    parameters = inspect.signature(endpoint).parameters
    takes_request = "request" in parameters
    if set(parameters) - {"request"} != names or (takes_request and next(iter(parameters)) != "request"):
        return None
    methods = route.methods or set()
    for prefix, other in earlier:
        if _may_match_the_same(prefix, other, route.path, methods):
            return None
    return [HotRoute(method, route.path_regex, endpoint, takes_request) for method in sorted(methods)]


def _may_match_the_same(prefix: str, other: BaseRoute, path: str, methods: set[str]) -> bool:
    """Whether a route tried earlier could take a request of this path template and these methods."""
    if isinstance(other, Mount):
        mount = prefix + other.path.rstrip("/")
        return not mount or path.startswith(mount + "/") or "{" in mount
    if not isinstance(other, Route):
        return True  # a kind of route this check does not know: assume the worst
    if other.methods is not None and not (other.methods & methods):
        return False
    mine, theirs = path.split("/"), (prefix + other.path).split("/")
    if any(":" in segment for segment in theirs):
        return True  # a convertor ({x:path}, ...) may span segments
    if len(mine) != len(theirs):
        return False
    return all(a == b or "{" in a or "{" in b for a, b in zip(mine, theirs, strict=True))
