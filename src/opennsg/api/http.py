"""Request and response helpers shared by the route modules: JSON bodies, ETags, LRO headers, paging."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from starlette.datastructures import QueryParams

from opennsg.api.errors import ApiError, bad_request
from opennsg.api.planning import Preconditions
from opennsg.model.policy import NAME_PATTERN
from opennsg.model.validation import Code

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
GROUP_NAME = re.compile(r"^[-\w._()]{0,89}[-\w_()]$")
RESOURCE_NAME = re.compile(NAME_PATTERN)
MAX_PAGE = 1000
RETRY_AFTER = "1"  # seconds; azure-core waits 30 s when Retry-After is absent or 0, and polls at once on 202


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: ``json.loads(raw, parse_constant=_reject_constant)``'s decoder, made once (``json.loads`` makes one per call when
#: given an option, a third of the cost of parsing a small body).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(raw: bytes) -> tuple[Any, str]:
    """``json.loads(raw, parse_constant=_reject_constant)`` (the same value, the same errors) and the text decoded."""
    text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    return _DECODER.decode(text), text


def parse_json(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or 400 InvalidRequestFormat."""
    if not raw.strip():
        raise bad_request("Cannot parse the request: the request body is empty.")
    try:
        data, text = _loads(raw)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"Cannot parse the request: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise bad_request("Cannot parse the request: the request body must be a JSON object.")
    if text.isascii() and "\\u" not in text:
        return data  # every text in it is ASCII: no lone surrogate
    where = _lone_surrogate(data, "")
    if where is not None:
        raise bad_request(f"Cannot parse the request: the text at '{where or 'the body'}' is not valid Unicode.")
    return data


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The path of the first text (key or value) holding a lone UTF-16 surrogate (``"\\ud800"``), else None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return where or "the body"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


async def json_body(request: Request) -> dict[str, Any]:
    return parse_json(await request.body())


def preconditions(request: Request) -> Preconditions:
    return Preconditions(request.headers.get("if-match"), request.headers.get("if-none-match"))


def check_subscription(subscription: str) -> None:
    if not GUID.match(subscription):
        raise ApiError(
            400,
            Code.INVALID_SUBSCRIPTION_ID,
            f"The provided subscription identifier '{subscription}' is malformed or invalid.",
        )


def check_group_name(group: str) -> None:
    if not GROUP_NAME.match(group) or group.endswith("."):
        raise ApiError(
            400,
            Code.INVALID_RESOURCE_GROUP,
            f"The provided resource group name '{group}' has these invalid characters or is too long.",
        )


def check_name(name: str, resource_type: str) -> None:
    if len(name) > 80 or not RESOURCE_NAME.match(name):
        raise ApiError(400, Code.INVALID_NAME, f"Resource name {name} is invalid for {resource_type}.")


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body).encode(), status, dict(headers or {}), media_type="application/json")


def resource_response(body: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    out = dict(headers or {})
    etag = body.get("etag")
    if isinstance(etag, str):
        out["ETag"] = etag
    return json_response(body, status, out)


def base_url(request: Request) -> str:
    """``str(request.base_url)`` without its trailing slash, remembered for the few parts of a request it depends on
    (clients send the same ones over and over; building it cost more than the rest of an ipFlowVerify's answer)."""
    scope = request.scope
    host = next((value for key, value in scope["headers"] if key == b"host"), None)
    root = scope.get("app_root_path", scope.get("root_path", ""))
    server = scope.get("server")  # a list in some clients' scopes (Starlette's TestClient): the key must hash
    return _base_url(scope.get("scheme", "http"), tuple(server) if server is not None else None, host, root)


@functools.lru_cache(maxsize=256)  # bounded: a hostile client may send any Host header
def _base_url(scheme: str, server: tuple[str, int] | None, host: bytes | None, root_path: str) -> str:
    headers = [(b"host", host)] if host is not None else []
    scope = {"type": "http", "scheme": scheme, "server": server, "path": "/", "headers": headers}
    scope["root_path"] = root_path
    return str(Request(scope).base_url).rstrip("/")


@functools.lru_cache(maxsize=256)  # bounded: a hostile client may send any query
def _api_version(query: bytes) -> str:
    """The ``api-version`` Starlette's ``request.query_params`` gives for this query string, remembered (clients send
    the same one over and over; parsing it cost more than the rest of an operation's links)."""
    return QueryParams(query).get("api-version", "")


def operation_urls(request: Request, subscription: str, location: str, operation: str) -> tuple[str, str]:
    """(Azure-AsyncOperation URL, Location URL) of an operation."""
    where, query = _operation_urls(base_url(request), subscription, location, request.scope.get("query_string", b""))
    return f"{where}/operations/{operation}?{query}", f"{where}/operationResults/{operation}?{query}"


@functools.lru_cache(maxsize=256)  # bounded: a hostile client may send any Host header or query
def _operation_urls(base: str, subscription: str, location: str, query_string: bytes) -> tuple[str, str]:
    """The operations' URL and query for these parts of a request, remembered (clients send the same ones over and
    over; quoting and encoding them cost more than the rest of an operation's links)."""
    # Path segments are percent-encoded: a stored location may hold any text, and headers must stay latin-1.
    segments = quote(subscription, safe=""), quote(location or "global", safe="")
    where = f"{base}/subscriptions/{segments[0]}/providers/Microsoft.Network/locations/{segments[1]}"
    return where, urlencode({"api-version": _api_version(query_string)})


def lro_headers(
    request: Request, subscription: str, location: str, operation: str, with_location: bool
) -> dict[str, str]:
    status_url, result_url = operation_urls(request, subscription, location, operation)
    headers = {"Azure-AsyncOperation": status_url, "Retry-After": RETRY_AFTER}
    if with_location:
        headers["Location"] = result_url
    return headers


def page(request: Request, items: Sequence[Any], key: Callable[[Any], str], default_size: int) -> dict[str, Any]:
    """``{"value": [...], "nextLink"?}``: items ordered by ``key``; ``$skipToken`` is the last key already sent."""
    top_text = request.query_params.get("$top")
    size = default_size
    if top_text is not None:
        if not top_text.isdigit() or not 1 <= int(top_text) <= MAX_PAGE:
            raise bad_request(f"The value of $top must be an integer between 1 and {MAX_PAGE}.", Code.INVALID_PARAMETER)
        size = int(top_text)
    after = request.query_params.get("$skipToken")
    ordered = sorted(items, key=key)
    if after:
        ordered = [item for item in ordered if key(item) > after]
    body: dict[str, Any] = {"value": ordered[:size]}
    if len(ordered) > size:
        params = {k: v for k, v in request.query_params.items() if k != "$skipToken"}
        params["$skipToken"] = key(ordered[size - 1])
        body["nextLink"] = f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"
    return body
