"""The per-request pieces of the gateway and the server's log handler that replaced slower library calls: each
gives exactly what the call it replaced gave."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, quote

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from opennsg.api.gateway import RequestLine, api_version_of, new_request_id
from opennsg.api.http import base_url
from opennsg.api.server import TurnBufferedHandler


@given(
    request_id=st.text(),
    method=st.text(),
    path=st.text(),
    status=st.integers(0, 999),
    duration=st.floats(0, 1e7, allow_nan=False).map(lambda d: round(d, 3)),
    client=st.text(),
)
def test_a_request_line_is_the_json_of_its_fields(
    request_id: str, method: str, path: str, status: int, duration: float, client: str
) -> None:
    line = RequestLine(request_id, method, path, status, duration, client)
    fields = {
        "requestId": request_id,
        "method": method,
        "path": path,
        "status": status,
        "durationMs": duration,
        "client": client,
    }
    assert str(line) == json.dumps(fields)


query_text = st.lists(st.sampled_from([*"api-version=&%+2D0;aé ", "%2D", "%3D", "%26", "%C3%A9", "%ZZ"])).map("".join)


@given(st.lists(st.tuples(query_text, query_text, st.booleans())), st.booleans())
def test_the_api_version_is_read_as_parse_qs_reads_it(parts: list[tuple[str, str, bool]], quoted: bool) -> None:
    pieces = [name + ("=" + value if with_value else "") for name, value, with_value in parts]
    if quoted:
        pieces.insert(len(pieces) // 2, "api-version=" + quote("2024-05-01"))
    raw = "&".join(pieces).encode()  # the query string as the ASGI scope holds it
    expected = parse_qs(raw.decode("latin-1"), keep_blank_values=True).get("api-version", [None])[0]
    assert api_version_of(raw) == expected


def test_request_ids_are_random_version_4_uuids() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_logged_in_one_turn_of_the_event_loop_are_written_together_in_order() -> None:
    stream = CountingStream()
    handler = TurnBufferedHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.turn_buffered")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:

        async def turns() -> None:
            for n in range(5):
                logger.info("first %d", n)
            assert stream.getvalue() == ""  # nothing written during the turn
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert stream.getvalue() == "".join(f"first {n}\n" for n in range(5))
            assert stream.writes == 1
            logger.info("pending")
            elsewhere = threading.Thread(target=logger.info, args=("from a thread",))
            elsewhere.start()
            elsewhere.join()
            assert stream.getvalue().endswith("pending\nfrom a thread\n")  # in order, written at once
            logger.info("last")

        asyncio.run(turns())
        handler.flush()  # what logging does at exit
        assert stream.getvalue().endswith("from a thread\nlast\n")
    finally:
        logger.removeHandler(handler)


@given(
    scheme=st.sampled_from(["http", "https"]),
    server=st.none()
    | st.tuples(st.sampled_from(["127.0.0.1", "::1", "host"]), st.sampled_from([80, 443, 8080])).flatmap(
        lambda pair: st.sampled_from([pair, list(pair)])  # ASGI servers give a tuple, Starlette's TestClient a list
    ),
    hosts=st.lists(st.tuples(st.sampled_from([b"host", b"x-host"]), st.binary(max_size=12)), max_size=3),
    root=st.sampled_from(["", "/r", "/r/"]),
    app_root=st.none() | st.sampled_from(["", "/app"]),
)
def test_the_remembered_base_url_is_starlettes(
    scheme: str,
    server: tuple[str, int] | list[Any] | None,
    hosts: list[tuple[bytes, bytes]],
    root: str,
    app_root: str | None,
) -> None:
    scope = {"type": "http", "scheme": scheme, "server": server, "path": "/subscriptions/x", "headers": hosts}
    scope.update({"root_path": root, "query_string": b"api-version=1"})
    if app_root is not None:
        scope["app_root_path"] = app_root
    assert base_url(Request(scope)) == str(Request(scope).base_url).rstrip("/")
