"""The ARM-compatible service: FastAPI app behind the ARM gateway, with the store it reads and writes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from opennsg import __version__
from opennsg.api.auth import Tokens
from opennsg.api.avnm import ManagerRoutes, effective_admin_rules_answer
from opennsg.api.db import open_engine
from opennsg.api.dispatch import HotRoutes
from opennsg.api.errors import ApiError
from opennsg.api.flowlogs_routes import FlowLogRoutes
from opennsg.api.gateway import DEFAULT_BODY_TIMEOUT, Gateway
from opennsg.api.planning import import_topology
from opennsg.api.rendering import encoded_lookup
from opennsg.api.resources import Routes
from opennsg.api.store import OPERATION_RETENTION, Store
from opennsg.api.watcher import Diagnostics
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.policy import DEFAULT_API_VERSION, LATEST_KNOWN_API_VERSION
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation import Code

log = logging.getLogger("opennsg.api")

DEFAULT_MAX_BODY = 4 * 1024 * 1024  # ARM accepts request bodies up to 4 MiB
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class ServiceConfig:
    db_url: str
    tokens: Tokens
    service_tags: ServiceTags | None = None
    max_body: int = DEFAULT_MAX_BODY
    page_size: int = DEFAULT_PAGE_SIZE
    #: How long operation results (LRO records) stay readable before they expire and are purged.
    operation_retention: timedelta = OPERATION_RETENTION
    #: Seconds a request body may take to arrive (a stalled upload is answered 408 and does not hold a worker).
    body_timeout: float = DEFAULT_BODY_TIMEOUT


async def api_version(
    version: Annotated[str, Query(alias="api-version", pattern=r"^\d{4}-\d{2}-\d{2}(-preview)?$")],
) -> str:
    """Documents the required ``api-version`` (the gateway has already checked it, with ARM's error codes)."""
    return version


class ArmJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: an error may echo any text of the request, and a lone UTF-16
    surrogate in it cannot be encoded as UTF-8 (that was a 500 while rendering a 400)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return ArmJSONResponse({"error": {"code": code, "message": message, "details": []}}, status, headers)


def build_fastapi(store: Store, config: ServiceConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(store.drain)  # operation records answered but not yet committed reach the database

    app = FastAPI(
        lifespan=lifespan,
        title="OpenNSG",
        version=__version__,
        description="Azure Resource Manager-compatible API for network security groups and Network Watcher.",
        dependencies=[],
    )
    versioned = [Depends(api_version)]
    routes = Routes(store, config.page_size)
    routes.router.dependencies = versioned
    routes.install(app)
    diagnostics = Diagnostics(store, config.service_tags)
    diagnostics.router.dependencies = versioned
    diagnostics.install(app)
    app.state.answers_at_once = diagnostics.at_once
    managers = ManagerRoutes(store, effective_admin_rules_answer)
    managers.router.dependencies = versioned
    managers.install(app)
    flow_logs = FlowLogRoutes(store, config.page_size)
    flow_logs.router.dependencies = versioned
    flow_logs.install(app)

    from opennsg.api.revisions import Revisions
    from opennsg.ui import StoreSource, mount

    mount(app, StoreSource(lambda: store.snapshot, Revisions(store)), config.tokens)

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        """Where to go from here: the API reference, the OpenAPI document, health, and the web UI when present."""
        links = {"docs": "/docs", "openapi": "/openapi.json", "health": "/healthz"}
        if any(getattr(route, "path", "").startswith("/ui") for route in app.routes):
            links["ui"] = "/ui/"
        if "text/html" not in request.headers.get("accept", ""):
            versions = {"default": DEFAULT_API_VERSION, "latest": LATEST_KNOWN_API_VERSION}
            return JSONResponse({"name": "OpenNSG", "version": __version__, "links": links, "apiVersions": versions})
        items = "".join(f'<li><a href="{href}">{name}</a></li>' for name, href in links.items())
        page = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>OpenNSG {__version__}</title>"
            f"<h1>OpenNSG {__version__}</h1><p>Azure's NSG verdicts, ARM-compatible.</p><ul>{items}</ul></html>"
        )
        return HTMLResponse(page)

    @app.get("/healthz", tags=["service"], operation_id="Service_Health")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": store.snapshot.version}

    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return ArmJSONResponse(exc.body(), exc.status, exc.headers or None)

    @app.exception_handler(OpenNsgError)
    async def on_invalid(_request: Request, exc: OpenNsgError) -> JSONResponse:
        error = ApiError.invalid(exc)
        return ArmJSONResponse(error.body(), error.status)

    @app.exception_handler(RequestValidationError)
    async def on_request_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return _error(400, Code.INVALID_REQUEST_FORMAT, f"Cannot parse the request: {problems[:500]}")

    @app.exception_handler(HTTPException)
    async def on_http(_request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return _error(404, Code.NOT_FOUND, "No route or resource type matches the request path.")
        if exc.status_code == 405:
            return _error(405, Code.METHOD_NOT_ALLOWED, "The HTTP method is not supported for this path.", exc.headers)
        return _error(exc.status_code, Code.BAD_REQUEST, str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return _error(500, Code.INTERNAL_SERVER_ERROR, "An unexpected error occurred; see the service log.")

    return app


def create_app(config: ServiceConfig, seed: Topology | None = None) -> Gateway:
    """The whole service as an ASGI app: opens (and migrates) the database and loads the current state.

    ``seed`` (``opennsg serve --import``) is written into the database first, as one validated write.
    """
    store = Store(open_engine(config.db_url), config.service_tags, config.operation_retention)
    if seed is not None:
        try:
            asyncio.run(store.write(lambda snapshot: import_topology(snapshot, seed), "import"))
        except ApiError as error:
            raise OpenNsgError(error.details or [ArmError(error.code, error.message)]) from None
    app = build_fastapi(store, config)
    hot = HotRoutes(app, checked_by_gateway=(api_version,), at_once=app.state.answers_at_once)
    return Gateway(
        app, config.tokens, config.max_body, lambda path: encoded_lookup(store.snapshot, path), config.body_timeout, hot
    )
