"""The command's entry points: ``--version``, ``python -m opennsg``, shell completion offered."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

import opennsg
from opennsg.cli.main import app


def test_version_flag_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"opennsg {opennsg.__version__}"


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opennsg", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"opennsg {opennsg.__version__}"


def test_help_offers_shell_completion() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "--install-completion" in result.stdout
