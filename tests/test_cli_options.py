"""The input options are defined once (``opennsg.cli.common.input_options``) and every command that reads a
network offers all of them, spelt and explained the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from opennsg.cli.main import app

ROOT = Path(__file__).parent.parent
TEMPLATE = ROOT / "examples" / "how-nsgs-filter-traffic.template.json"
INPUT_FLAGS = ("--service-tags", "--subscription", "--var", "--var-file", "--parameters", "--parameter",
               "--resource-group", "--location")  # fmt: skip
READING_COMMANDS = [("validate",), ("verify",), ("effective",), ("show",), ("routes",), ("lint",), ("reach",),
                    ("diff",), ("export",), ("serve",), ("flowlogs", "replay"), ("flowlogs", "stats")]  # fmt: skip


def _command(path: tuple[str, ...]) -> Any:
    """A (sub)command as typer builds it (recent typer carries its own copy of click: no isinstance checks)."""
    command: Any = typer.main.get_command(app)
    for name in path:
        found = command.get_command(command.context_class(command), name)
        assert found is not None, name
        command = found
    return command


def _options(command: Any) -> dict[str, tuple[str | None, bool]]:
    return {
        flag: (param.help, param.multiple)
        for param in command.params
        if param.param_type_name == "option"
        for flag in param.opts
    }


def test_every_reading_command_has_the_same_input_options() -> None:
    reference = _options(_command(("validate",)))
    for path in READING_COMMANDS:
        options = _options(_command(path))
        for flag in INPUT_FLAGS:
            assert options.get(flag) == reference[flag], (path, flag)
        assert options.get("--json") is not None, path


@pytest.mark.parametrize("command", [["lint"], ["reach"], ["show"], ["diff", str(TEMPLATE)]])
def test_template_options_reach_the_loader_of_every_command(command: list[str]) -> None:
    """A value for a parameter no template declares is the loader's InvalidTemplate, not a usage error."""
    args = [*command, str(TEMPLATE), "--parameter", "noSuchParameter=1", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["code"] == "InvalidTemplate"
