"""``opennsg serve``'s HTTP server under abuse: deadlines for each part of a request and a cap on connections.

uvicorn alone bounds neither a connection that never sends a request (or sends its head a byte at a time) nor the
number of open connections, so 300 idle sockets could exhaust a 256-descriptor limit and ``/healthz`` failed.
``GuardedH11Protocol`` is uvicorn's h11 protocol with

- a deadline for each request head (``header_timeout``), from the moment the connection opens or the previous
  response ends; a connection without a complete head by then is closed (idle keep-alive connections still close
  after uvicorn's ``timeout_keep_alive``);
- a cap on open connections (``max_connections``, by default well below the process's descriptor limit): when a
  new connection would exceed it, the oldest connection with no request in progress is closed to make room; only
  when every connection is busy is the newcomer answered ``503`` (with ``Retry-After``) and closed.

uvicorn's ``limit_concurrency`` is deliberately not used: it counts idle connections too, so idle sockets would make
every request, ``/healthz`` included, answer 503 (the failure this module prevents). The body's deadline is the
gateway's (``Gateway(body_timeout=...)``: a ``408`` in ARM's envelope).
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

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
    #: h11's bound on a request head (request line and headers), bytes.
    max_header_bytes: int = 64 * 1024


BUSY_BODY = json.dumps(
    {
        "error": {
            "code": Code.SERVER_BUSY,
            "message": "The server has reached its limit of open connections, all of them busy. Retry shortly.",
            "details": [],
        }
    }
).encode()
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b"connection: close\r\ncontent-length: " + str(len(BUSY_BODY)).encode() + b"\r\n\r\n" + BUSY_BODY
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request-head deadline and a connection cap (see the module docstring).
    ``limits`` is set on the subclass ``protocol_for`` makes."""

    limits: ServerLimits = ServerLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened_at = time.monotonic()
        self._head_deadline: asyncio.TimerHandle | None = None
        self._cycle_waited: Any = None

    @property
    def busy(self) -> bool:
        """A request is in progress (its head has arrived and its response is not complete)."""
        return self.cycle is not None and not self.cycle.response_complete and self._head_deadline is None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            log.warning(json.dumps({"event": "connection refused: every connection is busy"}))
            transport.write(BUSY_RESPONSE)
            transport.close()
            return
        self._await_head()

    def _make_room(self) -> bool:
        """Close the oldest connection that has no request in progress; False when there is none."""
        idle = [c for c in self.connections if c is not self and isinstance(c, GuardedH11Protocol) and not c.busy]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.opened_at)
        oldest.close_idle()
        self.connections.discard(oldest)
        return True

    def close_idle(self) -> None:
        self._cancel_head_deadline()
        if not self.transport.is_closing():
            self.transport.close()

    def _await_head(self) -> None:
        self._cancel_head_deadline()
        self._cycle_waited = self.cycle
        self._head_deadline = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_deadline is not None and self.cycle is not self._cycle_waited:
            self._cancel_head_deadline()  # a new request head has arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request's head (keep-alive idleness is uvicorn's own timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)


def protocol_for(limits: ServerLimits) -> type[GuardedH11Protocol]:
    return type("OpenNsgH11Protocol", (GuardedH11Protocol,), {"limits": limits})


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
        h11_max_incomplete_event_size=limits.max_header_bytes,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        log_level="warning",
        access_log=False,
        **extra,
    )


def run(app: Any, host: str, port: int, limits: ServerLimits, **tls: str | None) -> None:
    """Serve ``app`` until interrupted."""
    uvicorn.Server(server_config(app, host, port, limits, **tls)).run()
