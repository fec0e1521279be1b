"""The UI's HTTP surface, mounted at ``/ui`` on the service's FastAPI app or on the file viewer's own app.

- ``/ui/...`` pages: with authentication (the service) a shell without data that asks for the bearer token once and
  fetches its content; without (``opennsg ui`` on loopback) the page with its content in the first response.
- ``/ui/api/...`` data: HTML fragments and the token check. Under the service every one of them needs a valid bearer
  token, checked by the service's own ``Tokens`` (the same grants the ARM routes use).
- ``/ui/static/...`` and ``/favicon.ico``: the hand-written CSS, JS and icon shipped in the package.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from opennsg.api.auth import Tokens
from opennsg.api.errors import ApiError
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.ui import pages
from opennsg.ui.pages import BASE, Fragment
from opennsg.ui.source import Source, View

if TYPE_CHECKING:
    from opennsg.api.revisions import RevisionInfo, Revisions

NAVIGATION = (
    ("Topology", f"{BASE}/"),
    ("Verify", f"{BASE}/verify"),
    ("Reachability", f"{BASE}/reach"),
    ("Diff", f"{BASE}/diff"),
    ("Flow logs", f"{BASE}/flowlogs"),
)
MAX_UPLOAD = 64 * 1024 * 1024  # the file viewer's own limit; the service's gateway applies its body limit first


def _static_dir() -> str:
    return str(resources.files("opennsg.ui") / "static")


def _unauthenticated() -> ApiError:
    return ApiError(
        401,
        Code.AUTHENTICATION_FAILED,
        "Authentication failed. The 'Authorization' header is missing or does not carry a valid bearer token.",
        headers={"WWW-Authenticate": 'Bearer realm="opennsg"'},
    )


class UiRoutes:
    """Pages and data endpoints over a ``Source``; ``tokens`` None means no authentication (loopback file viewer)."""

    def __init__(self, source: Source, tokens: Tokens | None) -> None:
        self.source = source
        self.tokens = tokens
        self.router = APIRouter(include_in_schema=False)
        self._add_routes()

    # --- authentication -------------------------------------------------------------------------------

    def grant(self, request: Request) -> frozenset[str] | None:
        """The caller's subscriptions (None: everything, no authentication configured); 401 without a valid token."""
        if self.tokens is None:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        granted = self.tokens.subscriptions(token.strip()) if scheme.casefold() == "bearer" else None
        if granted is None:
            raise _unauthenticated()
        return granted

    def view(self, request: Request) -> View:
        return self.source.view(self.grant(request))

    # --- rendering ----------------------------------------------------------------------------------------

    def _page(self, request: Request, page: str, params: dict[str, str]) -> Fragment:
        view = self.view(request)
        return route_page(view, page, params)

    def _document(self, request: Request, page: str) -> HTMLResponse:
        """A whole page: the shell under authentication, the page with its content otherwise."""
        params = dict(request.query_params)
        if self.tokens is None:
            fragment = self._page(request, page, params)
            content, title, status = fragment.html, fragment.title, fragment.status
            origin = self.source.view(None).origin
        else:
            content, title, status, origin = None, "OpenNSG", 200, ""
        html = pages.env.get_template("base.html").render(
            base=BASE,
            title=title,
            content=content,
            auth=self.tokens is not None,
            navigation=NAVIGATION,
            current=_section(page),
            origin=origin,
        )
        return HTMLResponse(html, status, headers=_NO_STORE)

    def _add_routes(self) -> None:
        router = self.router

        @router.get(BASE, response_class=RedirectResponse)
        async def ui_root() -> RedirectResponse:
            return RedirectResponse(f"{BASE}/", 308)

        @router.get(f"{BASE}/", response_class=HTMLResponse)
        async def topology(request: Request) -> HTMLResponse:
            return self._document(request, "")

        @router.get(f"{BASE}/api/whoami")
        async def whoami(request: Request) -> JSONResponse:
            grant = self.grant(request)
            subscriptions = None if grant is None or "*" in grant else sorted(grant)
            return JSONResponse({"authenticated": grant is not None, "subscriptions": subscriptions}, headers=_NO_STORE)

        @router.get(f"{BASE}/api/page/{{page:path}}", response_class=HTMLResponse)
        async def fragment(request: Request, page: str) -> HTMLResponse:
            found = self._page(request, page, dict(request.query_params))
            return _fragment_response(found)

        @router.post(f"{BASE}/api/diff", response_class=HTMLResponse)
        async def diff(request: Request) -> HTMLResponse:
            return await self._posted(request, pages.diff_result)

        @router.get(f"{BASE}/api/revisions")
        async def revisions(request: Request) -> JSONResponse:
            view = self.view(request)
            found = view.revisions.list(view.visible_subscriptions) if view.revisions is not None else []
            return JSONResponse({"value": [_revision_json(r) for r in found]}, headers=_NO_STORE)

        @router.post(f"{BASE}/api/revisions")
        async def save_revision(request: Request) -> JSONResponse:
            view = self.view(request)
            body = await self._json_body(request)
            revisions = _revisions_of(view)
            label = body.get("label")
            if not isinstance(label, str):
                raise ApiError(400, Code.INVALID_REQUEST_FORMAT, "'label' must be a string.")
            try:
                saved = revisions.save(view.visible_subscriptions, label)
            except OpenNsgError as exc:
                raise _api_error(400, exc) from None
            return JSONResponse(_revision_json(saved), 201, headers=_NO_STORE)

        @router.delete(f"{BASE}/api/revisions/{{revision_id}}")
        async def delete_revision(request: Request, revision_id: str) -> Response:
            view = self.view(request)
            try:
                _revisions_of(view).delete(view.visible_subscriptions, revision_id)
            except OpenNsgError as exc:
                raise _api_error(404, exc) from None
            return Response(status_code=204, headers=_NO_STORE)

        @router.post(f"{BASE}/api/flowlogs", response_class=HTMLResponse)
        async def flowlogs(request: Request) -> HTMLResponse:
            return await self._posted(request, pages.flowlogs_upload)

        @router.get(f"{BASE}/{{page:path}}", response_class=HTMLResponse)
        async def any_page(request: Request, page: str) -> HTMLResponse:
            return self._document(request, page)

    async def _posted(self, request: Request, handler: Callable[[View, dict[str, Any]], Fragment]) -> HTMLResponse:
        view = self.view(request)  # authenticate before reading the body
        return _fragment_response(handler(view, await self._json_body(request)))

    async def _json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_UPLOAD:
            raise ApiError(
                413, Code.REQUEST_ENTITY_TOO_LARGE, f"The request body exceeds the limit of {MAX_UPLOAD} bytes."
            )
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, Code.INVALID_REQUEST_FORMAT, "Cannot parse the request: expected a JSON object.")
        return body


_NO_STORE = {"Cache-Control": "no-store"}


def _revision_json(revision: RevisionInfo) -> dict[str, Any]:
    return {
        "id": revision.id,
        "label": revision.label,
        "created": revision.created.isoformat(),
        "version": revision.version,
        "resources": revision.resources,
    }


def _revisions_of(view: View) -> Revisions:
    if view.revisions is None:
        raise ApiError(404, Code.NOT_FOUND, "Revisions are kept by the service only (opennsg serve).")
    return view.revisions


def _api_error(status: int, exc: OpenNsgError) -> ApiError:
    first = exc.errors[0]
    return ApiError(status, first.code, first.message)


def _fragment_response(fragment: Fragment) -> HTMLResponse:
    headers = {**_NO_STORE, "X-Page-Title": _header_safe(fragment.title)}
    return HTMLResponse(fragment.html, fragment.status, headers=headers)


def _header_safe(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _section(page: str) -> str:
    head = page.strip("/").split("/", 1)[0]
    return {"": "Topology", "nic": "Topology", "nsg": "Topology", "verify": "Verify", "reach": "Reachability"}.get(
        head, {"diff": "Diff", "flowlogs": "Flow logs"}.get(head, "")
    )


def route_page(view: View, page: str, params: dict[str, str]) -> Fragment:
    """The fragment of one UI address (``page`` is the path after ``/ui/``)."""
    head, _, rest = page.strip("/").partition("/")
    try:
        if head == "" and not rest:
            return pages.topology_page(view)
        if head == "nic" and rest:
            return pages.nic_page(view, rest)
        if head == "nsg" and rest:
            return pages.nsg_page(view, rest)
        if head == "verify" and not rest:
            return pages.verify_page(view, params)
        if head == "reach" and not rest:
            return pages.reach_page(view, params)
        if head == "diff" and not rest:
            return pages.diff_page(view)
        if head == "flowlogs" and not rest:
            return pages.flowlogs_page(view)
    except OpenNsgError as exc:
        return pages._problem("Cannot show this page", exc.errors, 400)
    return pages._problem("Not found", [ArmError(Code.NOT_FOUND, f"There is no page at {BASE}/{page}.")], 404)


def favicon_response() -> Response:
    icon = (resources.files("opennsg.ui") / "static" / "favicon.svg").read_bytes()
    return Response(icon, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


def mount(app: FastAPI, source: Source, tokens: Tokens | None) -> UiRoutes:
    """Add the UI to ``app``: pages and data at ``/ui``, assets at ``/ui/static``, the icon at ``/favicon.ico``."""
    routes = UiRoutes(source, tokens)
    app.mount(f"{BASE}/static", StaticFiles(directory=_static_dir()), name="ui-static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return favicon_response()

    app.include_router(routes.router)
    return routes
