"""The ARM front door, as one pure-ASGI middleware (cheap on the hot path): canonical path casing, request ids,
structured request logs, the body size limit, bearer-token auth and the ``api-version`` check."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE

from opennsg.api.auth import Tokens
from opennsg.api.errors import ApiError
from opennsg.api.linked import Caller
from opennsg.model.validation import Code

if TYPE_CHECKING:
    from opennsg.api.dispatch import HotRoute, HotRoutes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
#: A stored resource's GET answer as sent (JSON bytes, ETag) by its path, or None.
Reader = Callable[[str], tuple[bytes, bytes | None] | None]
#: Where a request came in, as its ASGI scope says: scheme, server (host, port) and root path.
Origin = tuple[str | None, tuple[str, int | None] | None, str]
#: A request held to be answered at once: its canonical path, the hot route and the route's path parameters.
Held = tuple[str, "HotRoute", dict[str, str]]

log = logging.getLogger("opennsg.api.requests")


#: Where the gateway leaves the authenticated caller in the ASGI scope for the routes (``caller_of``).
CALLER_SCOPE_KEY = "opennsg.caller"

API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

#: Literal path segments in ARM's canonical casing; URLs may use any casing (ARM is case-insensitive).
VOCABULARY = {
    word.casefold(): word
    for word in (
        "subscriptions", "resourceGroups", "providers", "Microsoft.Network", "Microsoft.Compute", "Microsoft.Resources",
        "networkSecurityGroups", "securityRules", "defaultSecurityRules", "applicationSecurityGroups",
        "virtualNetworks", "subnets", "virtualNetworkPeerings", "networkInterfaces", "routeTables", "routes",
        "publicIPAddresses", "virtualMachines", "networkWatchers", "locations", "operations", "operationResults",
        "serviceTags", "ipConfigurations", "ipFlowVerify", "networkConfigurationDiagnostic", "securityGroupView",
        "effectiveNetworkSecurityGroups", "effectiveRouteTable", "CheckIPAddressAvailability",
    )
}  # fmt: skip


def canonical_path(path: str) -> str:
    """Literal segments (not names) of an ARM path in canonical casing: keywords sit at fixed positions."""
    parts = path.split("/")
    if len(parts) < 2 or parts[1].casefold() != "subscriptions":
        return path
    out = parts[:]
    out[1] = "subscriptions"
    i = 3  # after /subscriptions/{id}
    if i < len(parts) and parts[i].casefold() == "resourcegroups":
        out[i] = "resourceGroups"
        i += 2
    if i < len(parts) and parts[i].casefold() == "providers":
        out[i] = "providers"
        i += 1
        if i < len(parts):
            out[i] = VOCABULARY.get(parts[i].casefold(), parts[i])
            i += 1
        while i < len(parts):  # type, name, type, name, ... (a trailing action sits at a type position)
            out[i] = VOCABULARY.get(parts[i].casefold(), parts[i])
            i += 2
    return "/".join(out)


def subscription_of(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "subscriptions" and parts[2]:
        return parts[2]
    return None


#: Bits of a version-4 (random) UUID that are not random: the version nibble and the RFC 4122 variant.
_UUID4_FIXED = (0xF << 76) | (0x3 << 62)
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


def new_request_id() -> str:
    """A random (version 4) UUID for ``x-ms-request-id``, drawn from ``random``'s generator (reseeded in a forked
    child): a request id only needs to be unique, and ``uuid.uuid4`` costs a system call per request."""
    bits = (random.getrandbits(128) & ~_UUID4_FIXED) | _UUID4_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class RequestLine:
    """One request's structured log line (``requestId``, ``method``, ``path``, ``status``, ``durationMs``,
    ``client``: the JSON ``json.dumps`` makes of them), formatted only when a handler emits it."""

    __slots__ = ("client", "duration_ms", "method", "path", "request_id", "status")

    def __init__(self, request_id: str, method: str, path: str, status: int, duration_ms: float, client: str):
        self.request_id = request_id
        self.method = method
        self.path = path
        self.status = status
        self.duration_ms = duration_ms
        self.client = client

    def __str__(self) -> str:
        text = encode_basestring_ascii
        return (
            f'{{"requestId": {text(self.request_id)}, "method": {text(self.method)}, "path": {text(self.path)}, '
            f'"status": {self.status!r}, "durationMs": {self.duration_ms!r}, "client": {text(self.client)}}}'
        )


def _log_request(line: RequestLine) -> None:
    """``log.info(line)`` without the logging module's search of the call stack for the caller (a request log
    line's origin is always here)."""
    if log.isEnabledFor(logging.INFO):
        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))


@functools.lru_cache(maxsize=256)  # bounded: a hostile client may send any query
def api_version_of(query: bytes) -> str | None:
    """The first ``api-version`` value of a query string (as ``parse_qs`` reads it, blank values kept), or None;
    remembered (clients send the same query over and over)."""
    for part in query.decode("latin-1").split("&"):
        name, _, value = part.partition("=")
        if name == "api-version" or (("%" in name or "+" in name) and unquote_plus(name) == "api-version"):
            return unquote_plus(value)
    return None


class BodyTooLarge(Exception):
    """Raised from ``receive`` when a request body exceeds the limit."""


class BodyTimedOut(Exception):
    """Raised while buffering a body that has not arrived whole within the deadline (a slow or stalled client)."""


#: Seconds a request body may take to arrive, by default (``opennsg.api.server.ServerLimits.body_timeout``).
DEFAULT_BODY_TIMEOUT = 30.0


class Gateway:
    """Wraps the FastAPI app; answers 401/403/400/413 itself, in ARM's error envelope."""

    def __init__(
        self,
        app: App,
        tokens: Tokens,
        max_body: int,
        read: Reader | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
        hot: HotRoutes | None = None,
    ) -> None:
        self.app = app
        self.hot = hot
        self.tokens = tokens
        self.max_body = max_body
        self.read = read
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = new_request_id()
        path = canonical_path(scope["path"])
        scope["path"] = path
        scope["raw_path"] = path.encode("utf-8", "surrogateescape")
        status = 0

        async def send_logged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-ms-request-id", request_id.encode()))
                headers.append((b"x-ms-correlation-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            problem = self._refuse(scope, path)
            if problem is not None:
                await _send_error(send_logged, problem)
                return
            if scope["method"] == "GET" and self.read is not None and path.startswith("/subscriptions/"):
                found = self.read(path)
                if found is not None:  # fast path: a stored resource, straight from the snapshot
                    await _send_encoded(send_logged, *found)
                    return
            hot = self.hot.find(scope["method"], path) if self.hot is not None else None
            replay = await self._buffered(receive)
            if replay is None:  # the client hung up before sending the whole body: nothing to answer
                log.info(json.dumps({"requestId": request_id, "event": "client aborted the request body"}))
                return
            if hot is not None:  # the same endpoint FastAPI would call, without its route scan
                await self.hot.answer(hot[0], hot[1], scope, replay, send_logged)  # type: ignore[union-attr]
            else:
                await self.app(scope, replay, send_logged)
        except BodyTooLarge:
            if status == 0:
                await _send_error(send_logged, _too_large(self.max_body))
        except BodyTimedOut:
            log.info(json.dumps({"requestId": request_id, "event": "request body timed out"}))
            if status == 0:
                await _send_error(send_logged, _timed_out(self.body_timeout))
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            client = (scope.get("client") or ("", 0))[0]
            _log_request(RequestLine(request_id, scope["method"], path, status, duration_ms, client))

    def answer_at_once(
        self,
        method: str,
        raw_path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        client: str,
        body: bytes | None = None,
        origin: Origin = ("http", None, ""),
        held: Held | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """A GET of a stored resource, or a request a hot route answers at once (an operation's result in memory, a
        quick IP flow verify with its whole ``body``), answered on the spot by the server's protocol without an ASGI
        cycle: the status, headers and body ``__call__`` would send for the same request (logged as it logs it), or
        None for anything else (the request then goes through ``__call__``, which answers it in full). ``raw_path``
        is the ASGI scope's ``path``, ``client`` its client's host, ``origin`` its scheme, server and root path;
        ``held`` what ``may_answer_at_once`` found for this method and ``raw_path``, if it was asked."""
        if method not in ("GET", "POST") or (method == "POST") != (body is not None) or self.read is None:
            return None
        started = time.perf_counter()
        path = held[0] if held is not None else canonical_path(raw_path)
        scope: Scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": query}
        if not path.startswith("/subscriptions/") or self._refuse(scope, path):
            return None
        status = 200
        found = self.read(path) if body is None else None
        if found is not None:
            answer, content = _encoded_headers(*found), found[0]
        else:
            hot = held[1:] if held is not None else self.hot.find(method, path) if self.hot is not None else None
            if hot is None or hot[0].at_once is None:
                return None
            scope["scheme"], scope["server"], scope["root_path"] = origin
            response = hot[0].at_once(scope, body or b"", **hot[1])
            if response is None:
                return None
            status, answer, content = response.status_code, list(response.raw_headers), bytes(response.body)
            for _, value in answer:
                if HEADER_VALUE_RE.search(value):
                    return None  # uvicorn refuses to send it: the ASGI path fails as it fails
        request_id = new_request_id()
        encoded_id = request_id.encode()
        answer += [(b"x-ms-request-id", encoded_id), (b"x-ms-correlation-request-id", encoded_id)]
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        _log_request(RequestLine(request_id, method, path, status, duration_ms, client))
        return status, answer, content

    def may_answer_at_once(self, method: str, raw_path: str) -> Held | None:
        """The canonical path and the hot route of a request with a body to this path that may be answered at once (a
        hot route answers some at once), else None: the server's protocol then holds its body back for
        ``answer_at_once`` (given what was found here) rather than start the ASGI cycle."""
        if method != "POST" or self.hot is None or self.read is None:
            return None
        path = canonical_path(raw_path)
        hot = self.hot.find(method, path)
        return (path, *hot) if hot is not None and hot[0].at_once is not None else None

    def _refuse(self, scope: Scope, path: str) -> ApiError | None:
        length: bytes | None = None
        authorization = b""
        for name, value in scope.get("headers", ()):  # the last of each, as a dict of the headers holds
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                authorization = value
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return _too_large(self.max_body)
        if path in PUBLIC_PATHS or not path.startswith("/subscriptions"):
            return None
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        granted = self.tokens.subscriptions(token.strip()) if scheme.casefold() == "bearer" else None
        if granted is None:
            return ApiError(
                401,
                Code.AUTHENTICATION_FAILED,
                "Authentication failed. The 'Authorization' header is missing or does not carry a valid bearer token.",
                headers={"WWW-Authenticate": 'Bearer realm="opennsg"'},
            )
        scope[CALLER_SCOPE_KEY] = Caller(granted)
        subscription = subscription_of(path)
        if subscription is not None and not Tokens.allows(granted, subscription):
            return ApiError(
                403,
                Code.AUTHORIZATION_FAILED,
                f"The client does not have authorization to perform action on scope '/subscriptions/{subscription}' "
                "or the scope is invalid.",
            )
        version = api_version_of(scope.get("query_string", b""))
        if not version:
            return ApiError(
                400,
                Code.MISSING_API_VERSION,
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if not API_VERSION.match(version):
            return ApiError(
                400,
                Code.INVALID_API_VERSION,
                f"The api-version '{version}' is invalid. The supported versions have the form YYYY-MM-DD or "
                "YYYY-MM-DD-preview.",
            )
        return None

    async def _buffered(self, receive: Receive) -> Receive | None:
        """Read the whole body (at most ``max_body`` bytes, however it is sent: a chunked body declares no length)
        before the app runs, so an oversized body is a 413 and never reaches a handler half-read; a ``receive``
        that replays it. None when the client disconnects first."""
        chunks: list[bytes] = []
        received = 0
        try:
            async with asyncio.timeout(self.body_timeout):  # no task per receive, as wait_for would make
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    if message["type"] != "http.request":
                        continue
                    chunk = message.get("body", b"")
                    received += len(chunk)
                    if received > self.max_body:
                        raise BodyTooLarge
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            raise BodyTimedOut from None
        body: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        return replay


def caller_of(scope: Scope) -> Caller:
    """The caller the gateway authenticated; a request that did not pass it may act on nothing but its own path's
    subscription (the gateway refuses every other one)."""
    caller = scope.get(CALLER_SCOPE_KEY)
    if isinstance(caller, Caller):
        return caller
    subscription = subscription_of(scope.get("path", ""))
    return Caller(frozenset({subscription.casefold()} if subscription else ()))


def _timed_out(limit: float) -> ApiError:
    return ApiError(
        408,
        Code.REQUEST_TIMEOUT,
        f"The request body did not arrive within {limit:g} seconds.",
        headers={"Connection": "close"},
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(413, Code.REQUEST_ENTITY_TOO_LARGE, f"The request body exceeds the limit of {limit} bytes.")


def _encoded_headers(payload: bytes, etag: bytes | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if etag is not None:
        headers.append((b"etag", etag))
    return headers


async def _send_encoded(send: Send, payload: bytes, etag: bytes | None) -> None:
    headers = _encoded_headers(payload, etag)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _send_error(send: Send, error: ApiError) -> None:
    payload = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
