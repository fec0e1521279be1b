"""``opennsg service-tags update`` / ``diff``, the cached file as every command's default, and the tag hint.

Downloads are served by a local HTTP server: a download page linking the week's file (as Microsoft's page does),
the file itself, and a Service Tag Discovery API answer behind a bearer token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.realworld import REALWORLD, needs_realworld
from typer.testing import CliRunner

from opennsg.cli.main import app

REAL_TAGS = REALWORLD / "service-tags"
TOKEN = "discovery-token"


def _tags_file(change_number: int, tags: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "changeNumber": change_number,
        "cloud": "Public",
        "values": [
            {
                "name": name,
                "id": name,
                "properties": {
                    "changeNumber": 1,
                    "region": "",
                    "systemService": name,
                    "addressPrefixes": prefixes,
                    "networkFeatures": ["NSG", "API"],
                },
            }
            for name, prefixes in tags.items()
        ],
    }


WEEKLY = _tags_file(77, {"Storage": ["20.38.96.0/19"], "Sql": ["13.65.31.249/32"]})
DISCOVERY = {"name": "Public", "type": "Microsoft.Network/serviceTags", **_tags_file(78, {"Storage": ["1.2.3.0/24"]})}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        host = f"http://{self.headers['Host']}"
        if self.path == "/details":
            link = f"{host}/download/7/1/D/ServiceTags_Public_20261130.json".replace(
                host, "https://download.microsoft.com"
            )
            page = f'<html><body><a href="{link}">click here</a></body></html>'
            self._send(200, "text/html; charset=utf-8", page.encode())
        elif self.path.endswith("ServiceTags_Public_20261130.json"):
            self._send(200, "application/octet-stream", json.dumps(WEEKLY).encode())
        elif "/serviceTags" in self.path:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, "application/json", b'{"error": {"code": "AuthenticationFailed"}}')
            else:
                self._send(200, "application/json", json.dumps(DISCOVERY).encode())
        elif self.path == "/garbage":
            self._send(200, "application/json", b"{not json")
        else:
            self._send(404, "text/plain", b"not found")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    # The page links download.microsoft.com as the real one does; send that host to the local server.
    import httpx

    real_get = httpx.get

    def local_get(url: str, **kwargs: Any) -> httpx.Response:
        return real_get(url.replace("https://download.microsoft.com", base), **kwargs)

    monkeypatch.setattr(httpx, "get", local_get)
    yield base
    httpd.shutdown()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_SERVICE_TAGS", raising=False)
    return tmp_path / "cache" / "ServiceTags_Public.json"


def _nsg_with_tag(path: Path, tag: str) -> Path:
    nsg = {
        "type": "Microsoft.Network/networkSecurityGroups",
        "id": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
        "Microsoft.Network/networkSecurityGroups/nsg1",
        "name": "nsg1",
        "location": "westeurope",
        "properties": {
            "securityRules": [
                {
                    "name": "to-storage",
                    "properties": {
                        "priority": 100,
                        "direction": "Outbound",
                        "access": "Allow",
                        "protocol": "Tcp",
                        "sourceAddressPrefix": "*",
                        "sourcePortRange": "*",
                        "destinationAddressPrefix": tag,
                        "destinationPortRange": "443",
                    },
                }
            ]
        },
    }
    path.write_text(json.dumps(nsg))
    return path


def test_update_follows_the_download_page_and_caches_the_file(server: str, cache: Path) -> None:
    result = CliRunner().invoke(app, ["service-tags", "update", "--url", f"{server}/details", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["changeNumber"] == 77
    assert answer["tags"] == 2
    assert answer["source"].endswith("ServiceTags_Public_20261130.json")
    assert json.loads(cache.read_text()) == WEEKLY


def test_update_from_the_discovery_api_sends_the_token(server: str, cache: Path) -> None:
    args = ["service-tags", "update", "--subscription", "sub1", "--endpoint", server, "--json"]
    refused = CliRunner().invoke(app, [*args, "--token", "wrong"])
    assert refused.exit_code == 2
    assert "HTTP 401" in refused.stderr
    assert not cache.exists()
    result = CliRunner().invoke(app, [*args, "--token", TOKEN])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changeNumber"] == 78


def test_discovery_api_without_a_token_says_how_to_get_one(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_ACCESS_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["service-tags", "update", "--subscription", "sub1"])
    assert result.exit_code == 2
    assert "az account get-access-token" in result.stderr


def test_a_bad_download_keeps_the_cached_file(server: str, cache: Path) -> None:
    assert CliRunner().invoke(app, ["service-tags", "update", "--url", f"{server}/details"]).exit_code == 0
    for url in (f"{server}/garbage", f"{server}/missing", "http://127.0.0.1:9/unreachable"):
        result = CliRunner().invoke(app, ["service-tags", "update", "--url", url, "--json"])
        assert result.exit_code == 2, url
        assert json.loads(result.stderr)["error"]["code"] == "ServiceTagsDownloadFailed"
        assert json.loads(cache.read_text()) == WEEKLY


def test_commands_use_the_cached_file_when_no_flag_is_given(server: str, cache: Path, tmp_path: Path) -> None:
    nsg = _nsg_with_tag(tmp_path / "nsg.json", "Storage")
    before = CliRunner().invoke(app, ["validate", str(nsg)])
    assert before.exit_code == 2
    assert CliRunner().invoke(app, ["service-tags", "update", "--url", f"{server}/details"]).exit_code == 0
    after = CliRunner().invoke(app, ["validate", str(nsg)])
    assert after.exit_code == 0, after.output


def test_an_unknown_tag_without_a_file_names_the_tag_the_file_and_the_flag(cache: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(_nsg_with_tag(tmp_path / "nsg.json", "Sql.WestEurope"))])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "'Sql.WestEurope' looks like a service tag" in message
    assert "Service Tags – Public" in message
    assert "--service-tags" in message
    assert "OPENNSG_SERVICE_TAGS" in message
    assert "opennsg service-tags update" in message
    as_json = CliRunner().invoke(app, ["validate", str(tmp_path / "nsg.json"), "--json"])
    error = json.loads(as_json.stderr)["error"]
    assert error["message"].endswith("has invalid Address prefix. Value provided: Sql.WestEurope")  # ARM's own text
    assert error["additionalInfo"][0]["type"] == "Hint"
    assert "--service-tags" in error["additionalInfo"][0]["info"]["message"]


def test_a_tag_missing_from_the_file_says_which_file(tmp_path: Path, cache: Path) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps(WEEKLY))
    nsg = _nsg_with_tag(tmp_path / "nsg.json", "Sql.WestEurope")
    result = CliRunner().invoke(app, ["validate", str(nsg), "--service-tags", str(tags)])
    assert result.exit_code == 2
    assert "is not a service tag of" in " ".join(result.stderr.split())


def test_diff_lists_tags_and_prefixes_added_and_removed(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    old.write_text(json.dumps(_tags_file(1, {"Storage": ["10.0.0.0/24", "10.0.1.0/24"], "Gone": ["1.1.1.1/32"]})))
    new.write_text(json.dumps(_tags_file(2, {"storage": ["10.0.1.0/24", "10.0.2.0/24"], "Fresh": ["2.2.2.2/32"]})))
    result = CliRunner().invoke(app, ["service-tags", "diff", str(old), str(new), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert [t["name"] for t in answer["addedTags"]] == ["Fresh"]
    assert [t["name"] for t in answer["removedTags"]] == ["Gone"]
    assert answer["changedTags"] == [
        {"name": "storage", "addedPrefixes": ["10.0.2.0/24"], "removedPrefixes": ["10.0.0.0/24"]}
    ]
    human = CliRunner().invoke(app, ["service-tags", "diff", str(old), str(new)])
    assert "Fresh" in human.stdout
    assert "1 → 2" in human.stdout


@needs_realworld
def test_diff_of_two_real_weekly_files(tmp_path: Path) -> None:
    old = REAL_TAGS / "ServiceTags_Public_20240701.json"
    new = REAL_TAGS / "ServiceTags_Public_20251028.json"
    result = CliRunner().invoke(app, ["service-tags", "diff", str(old), str(new), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["oldChangeNumber"], answer["newChangeNumber"]) == (313, 375)
    old_names = {v["name"].casefold() for v in json.loads(old.read_text())["values"]}
    new_names = {v["name"].casefold() for v in json.loads(new.read_text())["values"]}
    assert {t["name"].casefold() for t in answer["addedTags"]} == new_names - old_names
    assert {t["name"].casefold() for t in answer["removedTags"]} == old_names - new_names
    assert answer["changedTags"]
