"""``opennsg serve`` as a user starts it: a token is made on first start (0600, kept beside the database), a
self-signed certificate is generated, and the Azure-style endpoint answers over HTTPS; a restart reuses the token."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.api.conftest import API, SUB, free_port

ENTRY = "from opennsg.cli.main import app; app()"


def serve(db: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", ENTRY, "serve", "--port", str(port), "--db", str(db), "--json", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_up(port: int, cert: Path, process: subprocess.Popen[str]) -> ssl.SSLContext:
    """Poll /healthz until the server answers; the certificate may still be being written at first."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            context = ssl.create_default_context(cafile=str(cert))
            if httpx.get(f"https://127.0.0.1:{port}/healthz", verify=context, timeout=2).status_code == 200:
                return context
        except (OSError, ssl.SSLError, httpx.HTTPError):
            time.sleep(0.1)
    raise AssertionError("opennsg serve did not come up")


def stop(process: subprocess.Popen[str]) -> tuple[dict[str, Any], str]:
    process.terminate()
    out, err = process.communicate(timeout=20)
    return json.loads(out), err


def test_serve_creates_token_and_certificate_and_reuses_them(tmp_path: Path) -> None:
    db = tmp_path / "state" / "opennsg.db"
    port = free_port()
    first = serve(db, port, "--tls-self-signed")
    cert = db.parent / "tls" / "opennsg-cert.pem"
    context = wait_until_up(port, cert, first)
    token_file = Path(f"{db}.tokens.json")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = next(iter(json.loads(token_file.read_text())))
    headers = {"Authorization": f"Bearer {token}"}
    put = httpx.put(
        f"https://127.0.0.1:{port}/subscriptions/{SUB}/resourcegroups/rg1?{API}",
        json={"location": "westus"},
        headers=headers,
        verify=context,
    )
    assert put.status_code == 201
    pem = cert.read_bytes()
    info, log = stop(first)
    assert info["token"] == token and info["url"] == f"https://127.0.0.1:{port}"
    assert info["certificate"] == str(cert)
    logged = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(entry["method"] == "PUT" and entry["status"] == 201 for entry in logged)  # structured request logs

    second = serve(db, port, "--tls-self-signed")
    context = wait_until_up(port, cert, second)
    got = httpx.get(
        f"https://127.0.0.1:{port}/subscriptions/{SUB}/resourcegroups/rg1?{API}", headers=headers, verify=context
    )
    assert got.status_code == 200
    info, _ = stop(second)
    assert "token" not in info  # the existing token file was used
    assert cert.read_bytes() == pem  # and the existing certificate


def test_serve_rejects_half_tls_options(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", ENTRY, "serve", "--db", str(tmp_path / "x.db"), "--tls-cert", "c.pem", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert json.loads(result.stderr)["error"]["code"] == "InvalidTlsOptions"


def test_token_command_shows_and_rotates_the_all_subscriptions_token(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from opennsg.cli.main import app

    db = tmp_path / "opennsg.db"
    token_file = Path(f"{db}.tokens.json")
    token_file.write_text(json.dumps({"old-all": ["*"], "team-a": ["sub-a"]}))
    runner = CliRunner()
    shown = runner.invoke(app, ["token", "--db", str(db), "--json"])
    assert shown.exit_code == 0, shown.output
    assert {g["token"]: g["subscriptions"] for g in json.loads(shown.stdout)["grants"]} == {
        "old-all": ["*"],
        "team-a": ["sub-a"],
    }
    assert runner.invoke(app, ["token", "--db", str(db), "--value"]).stdout.strip() == "old-all"
    rotated = runner.invoke(app, ["token", "--db", str(db), "--rotate", "--json"])
    assert rotated.exit_code == 0, rotated.output
    grants = json.loads(token_file.read_text())
    assert "old-all" not in grants and grants["team-a"] == ["sub-a"]
    new = runner.invoke(app, ["token", "--db", str(db), "--value"]).stdout.strip()
    assert grants[new] == ["*"] and len(new) >= 32
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    missing = runner.invoke(app, ["token", "--db", str(tmp_path / "none.db"), "--json"])
    assert missing.exit_code == 2
    assert json.loads(missing.stderr)["error"]["code"] == "FileNotFound"


def test_serve_names_the_imported_subscriptions_and_answers_an_index(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "how-nsgs-filter-traffic.json"
    db = tmp_path / "opennsg.db"
    port = free_port()
    process = serve(db, port, "--import", str(example))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    index = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    page = httpx.get(f"http://127.0.0.1:{port}/", headers={"Accept": "text/html"}, timeout=5)
    info, _ = stop(process)
    subscriptions = {
        resource["id"].split("/")[2] for resource in json.loads(example.read_text())["value"] if "id" in resource
    }
    assert set(info["subscriptions"]) == subscriptions
    assert index.status_code == 200
    assert index.json()["links"]["openapi"] == "/openapi.json"
    assert index.json()["links"]["docs"] == "/docs"
    assert index.json()["links"]["ui"] == "/ui/" and info["ui"] == f"http://127.0.0.1:{port}/ui/"
    assert page.headers["content-type"].startswith("text/html") and 'href="/docs"' in page.text
