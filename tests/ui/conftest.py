"""Fixtures for the UI tests: the service and the file viewer on real loopback servers, and Debian's Chromium
driven by Playwright (no browser download: ``executable_path``)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from opennsg.api import ServiceConfig, create_app
from opennsg.api.auth import Tokens
from opennsg.arm import load_paths
from opennsg.ui import create_file_app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOW_NSGS_FILTER = EXAMPLES / "how-nsgs-filter-traffic.json"
THREE_TIER = EXAMPLES / "three-tier.json"
FLOWLOG_DATA = ROOT / "tests" / "data" / "flowlogs"
THREE_TIER_SUBSCRIPTION = "8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
TOKEN = "ui-test-token-all"
THREE_TIER_TOKEN = "ui-test-token-three-tier"
NOBODY_TOKEN = "ui-test-token-no-subscription"
TOKENS = Tokens.of({TOKEN: ["*"], THREE_TIER_TOKEN: [THREE_TIER_SUBSCRIPTION], NOBODY_TOKEN: []})
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run(app: Any, port: int) -> Server:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("UI test server did not start")
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``opennsg serve`` holding two subscriptions (the two examples), plain HTTP on loopback."""
    db = tmp_path_factory.mktemp("ui-service") / "opennsg.db"
    seed = load_paths([HOW_NSGS_FILTER, THREE_TIER])
    # Built off this thread: Playwright's sync API keeps an event loop running here, and the seed import runs its own.
    with ThreadPoolExecutor(1) as pool:
        app = pool.submit(create_app, ServiceConfig(db_url=str(db), tokens=TOKENS), seed).result()
    server = run(app, free_port())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def viewer_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder as users have it: the configuration and its flow logs side by side."""
    folder = tmp_path_factory.mktemp("ui-files")
    shutil.copy(HOW_NSGS_FILTER, folder / "network.json")
    (folder / "logs").mkdir()
    shutil.copy(FLOWLOG_DATA / "nsg_v2.json", folder / "logs" / "PT1H.json")
    return folder


@pytest.fixture(scope="module")
def viewer(viewer_files: Path) -> Iterator[Server]:
    """``opennsg ui`` over a folder holding the how-NSGs-filter example and flow logs."""
    port = free_port()
    server = run(create_file_app([viewer_files], port=port), port)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


class Console:
    """Everything a page reports as wrong: console errors, uncaught exceptions, failed and 4xx/5xx requests
    (a request the browser cancels because the test moved to the next page is not a failure)."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"exception: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: self.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def _failed(self, request: Any) -> None:
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.url} {request.failure}")


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """``open_page(viewport=..., color_scheme=...)`` → (page, console); contexts are closed after the test."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int] = DESKTOP, color_scheme: str = "light") -> tuple[Any, Console]:
        context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page, Console(page)

    yield make
    for context in contexts:
        context.close()
