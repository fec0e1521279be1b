"""Optional extras: a missing one is exit 2 with the install line, never a traceback; the chart's minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opennsg.cli.main import app
from opennsg.flowlogs.stats import MinuteCount, per_minute

DATA = Path(__file__).parent / "data" / "flowlogs"


def test_stats_png_without_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    png = tmp_path / "chart.png"
    logs = [DATA / "nsg_v1.json"]
    assert logs, "the flow-log fixtures are missing"
    result = CliRunner().invoke(app, ["flowlogs", "stats", str(logs[0]), "--png", str(png), "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "MissingOptionalDependency"
    assert "pip install 'opennsg[plot]'" in error["message"]
    assert not png.exists()


def test_chart_minutes_have_zeros_where_nothing_was_logged() -> None:
    def at(minute: int) -> datetime:
        return datetime(2026, 12, 1, 10, minute, tzinfo=UTC)

    minutes, allowed, denied = per_minute((MinuteCount(at(1), 5, 1), MinuteCount(at(4), 2, 0)))
    assert [m.minute for m in minutes] == [1, 2, 3, 4]
    assert allowed == [5, 0, 0, 2]
    assert denied == [1, 0, 0, 0]
    assert per_minute(()) == ([], [], [])


def _run_fresh(script: str, *args: str, env: dict[str, str] | None = None) -> None:
    """Run ``script`` in a fresh interpreter (this one may have imported pandas already); it must succeed."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr


def test_pyarrow_without_pandas_keeps_pandas_out_until_asked_for() -> None:
    """The batch commands' pyarrow never imports pandas (installed by the dev extra); a later explicit
    conversion still can. A fresh interpreter: this one may have imported pandas already."""
    pytest.importorskip("pandas")
    script = (
        "import sys\n"
        "from opennsg.extras import pyarrow_without_pandas\n"
        "pyarrow_without_pandas()\n"
        "import pyarrow as pa\n"
        "table = pa.table({'a': pa.array(['x', None])})\n"
        "assert 'pandas' not in sys.modules, 'pyarrow imported pandas'\n"
        "assert table.to_pandas()['a'].tolist()[0] == 'x' and 'pandas' in sys.modules\n"
    )
    _run_fresh(script)


def test_refuse_pandas_keeps_a_servers_first_compiled_policy_from_importing_it() -> None:
    """``opennsg serve`` refuses pandas for its life: compiling a policy (pyarrow underneath) imports no pandas."""
    pytest.importorskip("pandas")
    script = (
        "import sys\n"
        "from opennsg.extras import refuse_pandas\n"
        "refuse_pandas(); refuse_pandas()\n"
        "from opennsg import arm\n"
        "from opennsg.engine import Engine\n"
        "topology = arm.load_paths([sys.argv[1]])\n"
        "engine = Engine(topology)\n"
        "engine.compile(next(iter(topology.nics.values())))\n"
        "assert 'pyarrow' in sys.modules and 'pandas' not in sys.modules\n"
    )
    example = Path(__file__).parent.parent / "examples" / "three-tier.json"
    # A program stored by an earlier test would be read back without pyarrow: compile for real.
    environment = {**os.environ, "OPENNSG_NO_CACHE": "1"}
    _run_fresh(script, str(example), env=environment)


@pytest.mark.parametrize("command", ["verify", "replay"])
def test_engine_spark_without_pyspark_names_the_extra(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # makes `import pyspark` raise ImportError
    topology = Path(__file__).parents[1] / "examples" / "three-tier.json"
    flows = tmp_path / "flows.jsonl"
    flows.write_text(
        json.dumps({"targetNicResourceId": "web1", "direction": "Inbound", "protocol": "TCP",
                    "localIpAddress": "10.0.1.4", "localPort": "443", "remoteIpAddress": "52.1.2.3",
                    "remotePort": "50000"}) + "\n"
    )  # fmt: skip
    if command == "verify":
        args = ["verify", str(topology), "--flows", str(flows), "--engine", "spark", "--json"]
    else:
        config = DATA / "configs" / "fabrikam-current.json"
        args = ["flowlogs", "replay", str(DATA / "nsg_v2.json"), "--config", str(config), "--engine", "spark", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "MissingOptionalDependency", error
    assert "pip install 'opennsg[spark]'" in error["message"]


def test_pandas_refused_while_a_replay_runs_and_only_then() -> None:
    """A local replay refuses pandas while it runs (pyarrow, first used inside, then works without it) and leaves
    the process as it was: after it, pandas imports (a test process's later tests may need it)."""
    pytest.importorskip("pandas")
    script = (
        "import sys\n"
        "from opennsg.extras import pandas_refused\n"
        "with pandas_refused():\n"
        "    with pandas_refused():\n"
        "        import pyarrow as pa\n"
        "        table = pa.table({'a': pa.array(['x', None])})\n"
        "    try:\n"
        "        import pandas\n"
        "    except ModuleNotFoundError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError('pandas imported inside the outer pandas_refused')\n"
        "assert 'pandas' not in sys.modules, 'pyarrow imported pandas'\n"
        "import pandas\n"
        "assert table.to_pandas()['a'].tolist()[0] == 'x'\n"
    )
    _run_fresh(script)
