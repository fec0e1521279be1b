"""Quickstart templates that stage linked templates at ``_artifactsLocation``: deployed from a file, Azure has no
``deployment().properties.templateLink`` (the refusal names what to pass), and a linked URI not in the folder is
noted with the path to put it at."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opennsg.cli.main import app

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
STAGED = "https://raw.githubusercontent.com/example/templates/master/"


def write_quickstart(folder: Path, *, with_nested: bool) -> Path:
    template = {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "parameters": {
            "_artifactsLocation": {"type": "string", "defaultValue": "[deployment().properties.templateLink.uri]"},
            "_artifactsLocationSasToken": {"type": "securestring", "defaultValue": ""},
        },
        "resources": [
            {
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2022-09-01",
                "name": "network",
                "properties": {
                    "mode": "Incremental",
                    "templateLink": {
                        "uri": "[uri(parameters('_artifactsLocation'), concat('nested/nsg.json', "
                        "parameters('_artifactsLocationSasToken')))]"
                    },
                },
            }
        ],
    }
    (folder / "azuredeploy.json").write_text(json.dumps(template))
    if with_nested:
        (folder / "nested").mkdir()
        nested = {
            "$schema": SCHEMA,
            "contentVersion": "1.0.0.0",
            "resources": [
                {
                    "type": "Microsoft.Network/networkSecurityGroups",
                    "apiVersion": "2023-09-01",
                    "name": "staged-nsg",
                    "location": "westus",
                    "properties": {},
                }
            ],
        }
        (folder / "nested" / "nsg.json").write_text(json.dumps(nested))
    return folder / "azuredeploy.json"


def test_from_a_file_the_template_link_default_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    template = write_quickstart(tmp_path, with_nested=True)
    result = CliRunner().invoke(app, ["validate", "--json", str(template)])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "InvalidTemplate"
    assert "'templateLink' doesn't exist" in error["message"]
    assert error["target"].endswith("parameters._artifactsLocation.defaultValue")
    (hint,) = [i["info"]["message"] for i in error["additionalInfo"] if i["type"] == "Hint"]
    assert "--parameter _artifactsLocation=" in hint and "this template's folder" in hint


def test_given_a_location_the_linked_template_is_read_from_the_folder(tmp_path: Path) -> None:
    template = write_quickstart(tmp_path, with_nested=True)
    result = CliRunner().invoke(app, ["show", "--json", str(template), "--parameter", f"_artifactsLocation={STAGED}"])
    assert result.exit_code == 0, result.stderr
    assert "staged-nsg" in result.stdout


def test_a_staged_template_not_in_the_folder_is_noted_with_its_path(tmp_path: Path) -> None:
    template = write_quickstart(tmp_path, with_nested=False)
    args = ["validate", str(template), "--parameter", f"_artifactsLocation={STAGED}"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.stderr
    notes = " ".join(json.loads(result.stdout)["notes"])  # validate says the loader's notes with its answer
    assert f"stages its linked templates at _artifactsLocation ('{STAGED}'" in notes
    assert "in the template's folder as 'nested/nsg.json'" in notes
    human = CliRunner().invoke(app, args)
    assert human.exit_code == 0 and "note: The nested deployment 'network' links" in human.stdout
