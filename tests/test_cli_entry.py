"""The command's entry points: ``--version``, ``python -m opennsg``, shell completion offered, a process ended at
once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from typer.testing import CliRunner

import opennsg
from opennsg.cli import common
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


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "how-nsgs-filter-traffic.json"
FLOW = {"targetResourceId": "VM1", "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.1.4",
        "localPort": "22", "remoteIPAddress": "52.10.20.30", "remotePort": "50000"}  # fmt: skip


def _opennsg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "opennsg", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def test_a_process_ended_at_once_has_written_everything_and_keeps_its_exit_code(tmp_path: Path) -> None:
    """``verify`` ends its process without the interpreter's teardown (``common.end_at_once``): stdout, stderr,
    the verdicts file and the exit code are what the command wrote, a bad row's exit 2 included."""
    flows = tmp_path / "flows.jsonl"
    lines = [json.dumps(FLOW)] * 3000 + ["not json"]
    flows.write_text("\n".join(lines) + "\n")
    printed = _opennsg("verify", str(EXAMPLE), "--flows", str(flows), "--json", cwd=tmp_path)
    assert printed.returncode == 2
    verdicts = [json.loads(line) for line in printed.stdout.splitlines()]
    assert len(verdicts) == 3001 and verdicts[0]["access"] == "Deny" and "error" in verdicts[-1]
    assert json.loads(printed.stderr)["error"]["code"] == "InvalidFlows"
    out = tmp_path / "verdicts.jsonl"
    written = _opennsg("verify", str(EXAMPLE), "--flows", str(flows), "--output", str(out), "--json", cwd=tmp_path)
    assert written.returncode == 2
    assert json.loads(written.stdout)["flows"] == 3001
    assert out.read_text() == printed.stdout
    one = ("verify", str(EXAMPLE), "--nic", "VM1", "--direction", "Inbound", "--local", "10.0.1.4:22", "--remote",
           "52.10.20.30:50000", "--json")  # fmt: skip
    expected = _opennsg(*one, "--expect", "Allow", cwd=tmp_path)
    assert expected.returncode == 1
    assert json.loads(expected.stderr)["expectationFailed"]["actual"] == "Deny"
    assert json.loads(expected.stdout)["access"] == "Deny"


def test_the_process_ends_as_usual_unless_asked_and_while_a_thread_runs() -> None:
    # A command run in this process by an earlier test (CliRunner: verify, flowlogs replay) may have asked to end
    # at once; left so, end_now(0) would end pytest itself, with exit code 0 and every later test unrun.
    common.end_at_once(False)
    common.end_now(0)  # not asked: returns
    common.end_at_once()
    try:
        release = threading.Event()
        worker = threading.Thread(target=release.wait)
        worker.start()
        try:
            common.end_now(0)  # another thread runs: returns
            common.end_now("a message")  # sys.exit("...") prints its message: returns
        finally:
            release.set()
            worker.join()
    finally:
        common.end_at_once(False)


def test_the_command_modules_table_names_what_each_module_registers() -> None:
    """``COMMAND_MODULES`` is how a process finds the one module its command needs: it must list exactly what each
    module's ``register`` adds, and with ``OWN_COMMANDS`` every command of the full group, in its order."""
    import importlib

    import typer

    from opennsg.cli.main import COMMAND_MODULES, OWN_COMMANDS

    for module, names in COMMAND_MODULES.items():
        alone = typer.Typer()
        alone.callback()(lambda: None)
        importlib.import_module(f"opennsg.cli.{module}").register(alone)
        assert sorted(typer.main.get_command(alone).commands) == sorted(names), module  # type: ignore[attr-defined]
    listed = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert listed == {*OWN_COMMANDS, *(n for names in COMMAND_MODULES.values() for n in names)}


def test_a_process_imports_only_the_command_module_it_runs() -> None:
    from opennsg.cli.main import modules_for

    assert modules_for(["verify", "net.json"]) == frozenset()
    assert modules_for(["lint", "net.json"]) == {"analysis"}
    assert modules_for(["flowlogs", "replay"]) == {"flowlogs"}
    for everything in ([], ["--help"], ["--version"], ["no-such-command"]):
        assert modules_for(everything) is None
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith('opennsg.cli.'))))\n"
        "from opennsg.cli.main import app\n"
        "app()\n"
    )
    args = ["verify", str(EXAMPLE), "--nic", "VM1", "--direction", "Inbound", "--local", "10.0.1.4:22", "--remote",
            "52.10.20.30:50000", "--json"]  # fmt: skip
    command = [sys.executable, "-c", probe, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().splitlines()[-1]
    assert "opennsg.cli.serve" not in loaded and "opennsg.cli.analysis" not in loaded, loaded
    assert json.loads("".join(done.stdout.strip().splitlines()[:-1]))["access"] == "Deny"


def test_serving_a_new_database_imports_neither_alembic_nor_cryptography(tmp_path: Path) -> None:
    """Start-up pays only for what it uses: a new database is created without Alembic, and TLS's library is loaded
    for ``--tls-self-signed`` alone (the server itself is replaced here by a report of what was imported)."""
    probe = (
        "import sys\n"
        "import opennsg.api.server as server\n"
        "server.run = lambda *a, **k: print('imported', 'alembic' in sys.modules, 'cryptography' in sys.modules)\n"
        "from opennsg.cli.main import app\n"
        "app()\n"
    )
    command = [sys.executable, "-c", probe, "serve", "--db", str(tmp_path / "new.db"), "--port", "0", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "imported False False"
