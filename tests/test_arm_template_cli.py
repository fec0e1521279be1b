"""Template options on every command that reads inputs: ``routes`` and ``serve --import`` take ``--parameters``,
``--parameter``, ``--resource-group`` and ``--location`` like ``validate``; without a required value they refuse,
naming every missing parameter and how to pass it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.api.conftest import API, free_port
from typer.testing import CliRunner

from opennsg.cli.main import app

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
NET = "Microsoft.Network"


def network_template() -> dict[str, Any]:
    """A VNet, a subnet with an NSG and a NIC, named by two parameters that have no default."""
    vnet_id = "[resourceId('Microsoft.Network/virtualNetworks', parameters('vnetName'))]"
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {"vnetName": {"type": "string"}, "nicName": {"type": "string"}},
        "resources": [
            {
                "type": f"{NET}/networkSecurityGroups",
                "apiVersion": "2023-09-01",
                "name": "nsg",
                "location": "[resourceGroup().location]",
                "properties": {"securityRules": []},
            },
            {
                "type": f"{NET}/virtualNetworks",
                "apiVersion": "2023-09-01",
                "name": "[parameters('vnetName')]",
                "location": "[resourceGroup().location]",
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                    "subnets": [
                        {
                            "name": "app",
                            "properties": {
                                "addressPrefix": "10.1.0.0/24",
                                "networkSecurityGroup": {
                                    "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"
                                },
                            },
                        }
                    ],
                },
            },
            {
                "type": f"{NET}/networkInterfaces",
                "apiVersion": "2023-09-01",
                "name": "[parameters('nicName')]",
                "location": "[resourceGroup().location]",
                "properties": {
                    "ipConfigurations": [
                        {
                            "name": "ipconfig1",
                            "properties": {
                                "privateIPAllocationMethod": "Static",
                                "privateIPAddress": "10.1.0.4",
                                "subnet": {"id": f"[concat({vnet_id[1:-1]}, '/subnets/app')]"},
                            },
                        }
                    ]
                },
            },
        ],
    }


def write_template(tmp_path: Path) -> Path:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(network_template()))
    return path


def test_routes_takes_the_template_options(tmp_path: Path) -> None:
    template = write_template(tmp_path)
    parameters = tmp_path / "values.json"
    parameters.write_text(json.dumps({"parameters": {"vnetName": {"value": "hub"}}}))
    runner = CliRunner()
    args = ["routes", str(template), "--nic", "web-nic", "--json", "--parameters", str(parameters)]
    result = runner.invoke(app, [*args, "--parameter", "nicName=web-nic", "--resource-group", "prod"])
    assert result.exit_code == 0, result.stderr
    routes = json.loads(result.stdout)["value"]
    assert ["10.1.0.0/16"] in [r["addressPrefix"] for r in routes]


def test_routes_names_every_missing_parameter_and_how_to_pass_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["routes", str(write_template(tmp_path)), "--nic", "web-nic", "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert "'vnetName'" in error["message"] and "'nicName'" in error["message"]
    assert "--parameters FILE" in error["message"] and "--parameter NAME=VALUE" in error["message"]
    assert error["target"].endswith("network.json: parameters")  # one root cause, reported once


def test_serve_imports_a_template_with_its_options(tmp_path: Path) -> None:
    template = write_template(tmp_path)
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from opennsg.cli.main import app; app()",
        "serve",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "opennsg.db"),
        "--json",
        "--import",
        str(template),
        "--parameter",
        "vnetName=hub",
        "--parameter",
        "nicName=web-nic",
        "--resource-group",
        "prod",
        "--location",
        "westeurope",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = next(iter(json.loads((tmp_path / "opennsg.db.tokens.json").read_text())))
        sub = "00000000-0000-0000-0000-000000000000"
        url = f"http://127.0.0.1:{port}/subscriptions/{sub}/resourceGroups/prod/providers/{NET}/virtualNetworks/hub"
        got = httpx.get(f"{url}?{API}", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert got.status_code == 200, got.text
        assert got.json()["location"] == "westeurope"
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_serve_refuses_a_template_import_without_its_parameters(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from opennsg.cli.main import app; app()", "serve", "--json"]
    command += ["--db", str(tmp_path / "x.db"), "--import", str(write_template(tmp_path)), "--parameter", "nicName=n"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    error = json.loads(result.stderr)["error"]
    assert "'vnetName'" in error["message"] and "'nicName'" not in error["message"]
