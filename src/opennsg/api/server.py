"""``opennsg serve``'s HTTP server under abuse: deadlines for each part of a request and a cap on connections.

uvicorn alone bounds neither a connection that never sends a request (or sends its head a byte at a time), nor the
size of a request head on its httptools parser, nor the number of open connections, so 300 idle sockets could
exhaust a 256-descriptor limit and ``/healthz`` failed. ``GuardedHttpToolsProtocol`` is uvicorn's httptools
protocol (llhttp in C: a third of the CPU of a small GET went to the pure-Python h11 parser) with

- a deadline for each request head (``header_timeout``), from the moment the connection opens or the previous
  response ends; a connection without a complete head by then is closed (idle keep-alive connections still close
  after uvicorn's ``timeout_keep_alive``);
- a bound on a request head's size (``max_header_bytes``): a longer head is answered ``431`` and the connection
  closed;
- a cap on open connections (``max_connections``, by default well below the process's descriptor limit): when a
  new connection would exceed it, the oldest connection with no request in progress is closed to make room; only
  when every connection is busy is the newcomer answered ``503`` (with ``Retry-After``) and closed;
- the head and body of a response written to the socket together (one ``send`` instead of two);
- a GET of a stored resource (or of an operation's result in memory) answered as soon as its head is parsed, and
  a POST a hot route answers at once (a quick ipFlowVerify) as soon as its body has arrived, when it arrives in
  the same read as its head (else the request is released to the ASGI cycle with what has arrived), without an
  ASGI cycle (its task, its event, the middleware and the gateway's coroutine cost more than half of such a
  request's server CPU): ``Gateway.answer_at_once`` gives the very answer the ASGI path would; any other request,
  or one that proxy headers, a chunked body, ``Expect``, HTTP/1.0, ``Connection: close`` or a request still in
  progress on the connection would make different, goes the ASGI way.

uvicorn's ``limit_concurrency`` is deliberately not used: it counts idle connections too, so idle sockets would make
every request, ``/healthz`` included, answer 503 (the failure this module prevents). The body's deadline is the
gateway's (``Gateway(body_timeout=...)``: a ``408`` in ARM's envelope).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httptools
import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from opennsg.api.gateway import Gateway, Held
from opennsg.model.validation import Code

log = logging.getLogger("opennsg.api.server")

#: Descriptors kept free beside the connections (database, log files, the listening socket, TLS files, ...).
RESERVED_DESCRIPTORS = 64
DEFAULT_MAX_CONNECTIONS = 1024


def default_max_connections() -> int:
    """Connections that fit in this process's descriptor limit with room to spare."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(8, min(DEFAULT_MAX_CONNECTIONS, (soft - RESERVED_DESCRIPTORS) // 2))


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Deadlines (seconds) and the connection cap of ``opennsg serve``."""

    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    body_timeout: float = 30.0
    max_connections: int = field(default_factory=default_max_connections)
    #: The longest request head (request line and headers) accepted, bytes.
    max_header_bytes: int = 64 * 1024


def _refusal(status: str, code: str, message: str, extra_headers: bytes = b"") -> bytes:
    """A whole HTTP/1.1 response in ARM's error envelope that closes the connection."""
    body = json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n".encode()
        + extra_headers
        + b"connection: close\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


BUSY_RESPONSE = _refusal(
    "503 Service Unavailable",
    Code.SERVER_BUSY,
    "The server has reached its limit of open connections, all of them busy. Retry shortly.",
    b"retry-after: 1\r\n",
)


class CoalescingTransport:
    """The connection's transport with writes made during one turn of the event loop sent as one (uvicorn writes a
    response's head and its body separately: two system calls, and on loopback two wake-ups of the client). Every
    other call is the transport's own; closing sends what is pending first."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:  # asked several times per request: not through __getattr__
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request-head deadline and size bound and a connection cap (see the
    module docstring). ``limits`` is set on the subclass ``protocol_for`` makes."""

    limits: ServerLimits = ServerLimits()
    long_head_response: bytes = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened_at = time.monotonic()
        self._head_due: float | None = None  # loop time by which the awaited request head must be whole
        self._head_timer: asyncio.TimerHandle | None = None  # fires at or before ``_head_due``
        self._reading_head = True  # the bytes arriving now belong to a request head
        self._head_bytes = 0
        self._gateway = _gateway_of(self.app)
        self._answered_at_once = False  # the request being parsed was answered without an ASGI cycle
        self._held: bytearray | None = None  # the body so far of a request held back to be answered at once
        self._held_path = ""  # and its path
        self._held_route: Held | None = None  # and what the gateway found for it
        self._query = b""  # the query string of the request ``_plain_request`` last found plain

    @property
    def busy(self) -> bool:
        """A request is in progress (its head has arrived and its response is not complete)."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            log.warning(json.dumps({"event": "connection refused: every connection is busy"}))
            self.transport.write(BUSY_RESPONSE)
            self.transport.close()
            return
        self._await_head()

    def _make_room(self) -> bool:
        """Close the oldest connection that has no request in progress; False when there is none."""
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedHttpToolsProtocol) and not c.busy]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.opened_at)
        oldest.close_idle()
        self.connections.discard(oldest)
        return True

    def close_idle(self) -> None:
        self._stop_head_timer()
        if not self.transport.is_closing():
            self.transport.close()

    def _await_head(self) -> None:
        """The next request head must be whole within ``header_timeout``. The connection keeps one timer, moved only
        when it fires before the deadline, since the deadline is set and cleared for every request (a timer armed
        and cancelled each time cost more than parsing the head)."""
        self._head_due = self.loop.time() + self.limits.header_timeout
        if self._head_timer is None:
            self._head_timer = self.loop.call_at(self._head_due, self._head_timer_fired)

    def _cancel_head_deadline(self) -> None:
        self._head_due = None  # the timer, if armed, finds no deadline when it fires

    def _stop_head_timer(self) -> None:
        self._head_due = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timer_fired(self) -> None:
        self._head_timer = None
        if self._head_due is None:
            return  # no head awaited now: the next ``_await_head`` arms the timer again
        if self.loop.time() < self._head_due:  # the deadline moved since the timer was armed
            self._head_timer = self.loop.call_at(self._head_due, self._head_timer_fired)
            return
        self._head_due = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_long_head()
                return
        super().data_received(data)
        if self._held is not None:  # a held request whose body did not arrive whole with its head: the ASGI way
            self._release()

    def _refuse_long_head(self) -> None:
        self._cancel_head_deadline()
        if self.transport.is_closing():
            return
        log.info(json.dumps({"event": "request head too large", "limit": self.limits.max_header_bytes}))
        self.transport.write(self.long_head_response)
        self.transport.close()

    def on_message_begin(self) -> None:
        self._unset_keepalive_if_required()  # an answer at once to a pipelined request before it armed the timer
        super().on_message_begin()
        self._answered_at_once = False
        self._held = None

    def on_headers_complete(self) -> None:
        self._cancel_head_deadline()  # a request head has arrived whole
        self._reading_head = False
        self._head_bytes = 0
        method, path = self._plain_request()
        if method == "GET" and self._answer_at_once(method, path, None):
            self._answered_at_once = True
            self.on_response_complete()
            return
        held = None if method != "POST" or self._gateway is None else self._gateway.may_answer_at_once(method, path)
        if held is not None:  # answered at once if whole in this read, else released
            self._held, self._held_path, self._held_route = bytearray(), path, held
            return
        super().on_headers_complete()

    def _plain_request(self) -> tuple[str, str]:
        """The method and path (as the ASGI scope would hold it) of a request nothing about which, or about the
        connection, would make the ASGI path's answer differ from ``Gateway.answer_at_once``'s; ("", "") for
        any other."""
        if self._gateway is None or self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return "", ""
        parser = self.parser
        method = parser.get_method()
        if method not in (b"GET", b"POST") or parser.get_http_version() != "1.1" or not parser.should_keep_alive():
            return "", ""
        if parser.should_upgrade() or self.expect_100_continue:
            return "", ""
        for name, value in self.headers:
            if name in _ASGI_ONLY_HEADERS or (method == b"GET" and name == b"content-length" and value != b"0"):
                return "", ""
        parsed_url = httptools.parse_url(self.url)
        if b"%" in parsed_url.path or not parsed_url.path.isascii():
            return "", ""  # uvicorn's unquoting and its error for non-ASCII paths stay uvicorn's
        self._query = parsed_url.query or b""
        return method.decode(), self.root_path + parsed_url.path.decode("ascii")

    def _answer_at_once(self, method: str, path: str, body: bytes | None, held: Held | None = None) -> bool:
        """Answer a plain request (``_plain_request``) by ``Gateway.answer_at_once``; whether it was answered."""
        assert self._gateway is not None
        client = (self.client or ("", 0))[0]
        origin = (self.scheme, self.server, self.root_path)
        try:
            answer = self._gateway.answer_at_once(method, path, self._query, self.headers, client, body, origin, held)
        except Exception:  # in a parser callback it would be a 400: the ASGI path answers (or fails) as it would
            return False
        if answer is None:
            return False
        status, headers, content = answer
        lines = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *headers]:
            lines.extend([name, b": ", value, b"\r\n"])
        lines.extend([b"\r\n", content])
        self.transport.write(b"".join(lines))
        return True

    def _release(self) -> bool:
        """Send a held request the ASGI way: its cycle started as it would have been from its head, with the body
        that has arrived so far; whether it was (not on a connection closing meanwhile)."""
        held, self._held = self._held, None
        if held is None or self.transport.is_closing():
            return False
        super().on_headers_complete()
        if held:
            super().on_body(bytes(held))
        return True

    def on_body(self, body: bytes) -> None:
        if self._held is not None:
            self._held += body
        elif not self._answered_at_once:
            super().on_body(body)

    def on_message_complete(self) -> None:
        released = True
        if self._held is not None:
            if self._answer_at_once("POST", self._held_path, bytes(self._held), self._held_route):
                self._held = None
                self._answered_at_once = True
                self.on_response_complete()
            else:
                released = self._release()
        if released and not self._answered_at_once:
            super().on_message_complete()
        self._reading_head = True  # whatever follows is the next request's head

    def on_response_complete(self) -> None:
        super().on_response_complete()
        waiting = self.cycle is None or self.cycle.response_complete  # no pipelined request was started
        if waiting and not self.transport.is_closing():
            self._await_head()  # the next request's head (keep-alive idleness is uvicorn's own timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)


#: Request headers whose effect only the ASGI path gives: a body, and the proxy headers uvicorn's middleware reads.
_ASGI_ONLY_HEADERS = frozenset({b"transfer-encoding", b"x-forwarded-for", b"x-forwarded-proto"})


def _gateway_of(app: Any) -> Gateway | None:
    """The gateway the server runs, when nothing but uvicorn's proxy-headers middleware wraps it (any other layer
    must see every request, so then no request is answered at once)."""
    if isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    return app if isinstance(app, Gateway) else None


def protocol_for(limits: ServerLimits) -> type[GuardedHttpToolsProtocol]:
    long_head = _refusal(
        "431 Request Header Fields Too Large",
        Code.REQUEST_HEADER_FIELDS_TOO_LARGE,
        f"The request line and headers exceed the limit of {limits.max_header_bytes} bytes.",
    )
    return type("OpenNsgHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": limits, "long_head_response": long_head})


def server_config(
    app: Any,
    host: str,
    port: int,
    limits: ServerLimits,
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    **extra: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for the service with these limits (the tests start real servers with it too)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(limits),
        timeout_keep_alive=limits.keep_alive_timeout,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level="warning",
        access_log=False,
        **extra,
    )


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines logged on an event loop together, once per turn of the loop (one
    system call for the request lines of every request that turn answered, not one each); lines logged elsewhere
    (the writer thread, start-up) are written at once, after what is pending. ``flush`` (also at exit) writes
    whatever is pending."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._pending: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop's thread
            self.flush()
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        if not self._pending:
            loop.call_soon(self.flush)
        self._pending.append(line)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                text, self._pending = "".join(self._pending), []
                with contextlib.suppress(Exception):  # a broken log stream must not fail the requests it logs
                    self.stream.write(text)
            super().flush()


#: Young-generation collections at most every this many net allocations (Python's default is 700).
GC_YOUNG_THRESHOLD = 10_000
#: Seconds a thread holding the GIL keeps it while another waits (Python's default is 5 ms).
SWITCH_INTERVAL = 0.001


def settle_for_serving() -> None:
    """Tune the interpreter for a long-running server, once everything loaded at start-up is in memory.

    - The objects of start-up (modules, the app and its routes, the loaded state: over a hundred thousand) are
      moved out of the collector's sight (``gc.freeze``): every full collection scanned them all, about 0.1 CPU-s,
      three times in six seconds of rule PUTs, and each was a pause every request in flight waited out (PUT p99).
    - Young collections run less often: a write's objects mostly die by reference counting, not in cycles.
    - A shorter GIL switch interval: the writer thread releases the GIL for each SQLite call and then waited up to
      5 ms to take it back from the event loop, several times per batch of writes.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    sys.setswitchinterval(SWITCH_INTERVAL)


def run(app: Any, host: str, port: int, limits: ServerLimits, **tls: str | None) -> None:
    """Serve ``app`` until interrupted."""
    settle_for_serving()
    uvicorn.Server(server_config(app, host, port, limits, **tls)).run()
