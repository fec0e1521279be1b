"""``opennsg ui PATH...``: the UI over files, read-only, no database, for this machine only.

Bound to loopback and without tokens, it refuses requests whose ``Host`` is not the address it was started on, so a
web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from opennsg.api.errors import ApiError
from opennsg.model.codes import Code
from opennsg.model.errors import OpenNsgError
from opennsg.model.servicetags import ServiceTags
from opennsg.ui.routes import mount
from opennsg.ui.source import FileSource

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class _HostCheck(BaseHTTPMiddleware):
    def __init__(self, app: object, port: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.allowed = {f"{name}:{port}" for name in LOOPBACK_NAMES} | set(LOOPBACK_NAMES if port == 80 else ())

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        host = request.headers.get("host", "").casefold()
        if host not in self.allowed:
            error = ApiError(
                421, Code.MISDIRECTED_REQUEST, "This OpenNSG viewer answers requests to its loopback address only."
            )
            return JSONResponse(error.body(), error.status)
        return await call_next(request)


def create_file_app(paths: Sequence[Path], service_tags: ServiceTags | None = None, port: int | None = None) -> FastAPI:
    """The viewer's ASGI app; raises ``OpenNsgError`` (every problem) when the files cannot be read."""
    source = FileSource(paths, service_tags)
    app = FastAPI(title="OpenNSG viewer", docs_url=None, redoc_url=None, openapi_url=None)
    mount(app, source, None)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", 307)

    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status, exc.headers or None)

    @app.exception_handler(OpenNsgError)
    async def on_invalid(_request: Request, exc: OpenNsgError) -> JSONResponse:
        error = ApiError.invalid(exc)
        return JSONResponse(error.body(), error.status)

    if port is not None:
        app.add_middleware(_HostCheck, port=port)
    return app
