"""Service tags Azure accepts in NSG rules without publishing them (``CorpNetSaw``, ``CorpNetPublic``): a template or
import naming one is accepted, as Azure deploys it; a verdict where such a rule applies is a clear error naming the
tag (its prefixes are not public), unless a service tags file lists it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.cli.main import app

SUB = "00000000-0000-0000-0000-0000000000aa"
RG = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network"
NSG = f"{RG}/networkSecurityGroups/nsg1"
VNET = f"{RG}/virtualNetworks/vnet1"
NIC = f"{RG}/networkInterfaces/nic1"


def estate(source: str) -> list[dict[str, Any]]:
    rule = {
        "name": "rdp-from-saw",
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": "3389",
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": "Allow",
            "priority": 100,
            "direction": "Inbound",
        },
    }
    return [
        {"id": NSG, "name": "nsg1", "type": "Microsoft.Network/networkSecurityGroups", "location": "westus",
         "properties": {"securityRules": [rule]}},
        {"id": VNET, "name": "vnet1", "type": "Microsoft.Network/virtualNetworks", "location": "westus",
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                        "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
        {"id": NIC, "name": "nic1", "type": "Microsoft.Network/networkInterfaces", "location": "westus",
         "properties": {"networkSecurityGroup": {"id": NSG},
                        "ipConfigurations": [{"name": "ip1", "properties": {
                            "privateIPAddress": "10.0.0.4", "privateIPAllocationMethod": "Static",
                            "subnet": {"id": f"{VNET}/subnets/app"}}}]}},
    ]  # fmt: skip


def tags_file(path: Path, prefixes: list[str]) -> Path:
    path.write_text(
        json.dumps(
            {
                "changeNumber": 1,
                "cloud": "Public",
                "values": [
                    {"name": "CorpNetSaw", "id": "CorpNetSaw",
                     "properties": {"addressPrefixes": prefixes, "networkFeatures": ["NSG"]}},
                ],
            }
        )
    )  # fmt: skip
    return path


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))  # no cached service tags file
    monkeypatch.delenv("OPENNSG_SERVICE_TAGS", raising=False)
    return CliRunner()


def verify(runner: CliRunner, files: list[Path], *extra: str) -> Any:
    args = ["verify", "--json", *map(str, files), "--nic", "nic1", "--direction", "Inbound"]
    return runner.invoke(app, [*args, "--local", "10.0.0.4:3389", "--remote", "198.18.0.9:50000", *extra])


@pytest.mark.parametrize("spelling", ["CorpNetSaw", "corpnetpublic"])
def test_a_rule_naming_an_unpublished_tag_is_accepted(spelling: str, runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(estate(spelling)))
    result = runner.invoke(app, ["validate", "--json", str(path)])
    assert result.exit_code == 0, result.stderr


def test_a_verdict_where_it_applies_names_the_tag(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(estate("CorpNetSaw")))
    result = verify(runner, [path])
    assert result.exit_code == 2, result.stdout
    error = json.loads(result.stderr)["error"]
    problems = error["details"] or [error]
    assert {p["code"] for p in problems} == {"ServiceTagPrefixesUnknown"}
    assert "'CorpNetSaw'" in problems[0]["message"] and "--service-tags" in problems[0]["message"]


def test_a_service_tags_file_that_lists_it_gives_the_verdict(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(estate("CorpNetSaw")))
    listed = tags_file(tmp_path / "tags.json", ["198.18.0.0/24"])
    result = verify(runner, [path], "--service-tags", str(listed))
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["access"] == "Allow", answer
