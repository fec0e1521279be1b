"""The CLI under hostile and careless input: never a traceback, never a hang, never exit 0 on garbage.

Each case is one that once crashed, hung or passed as success (issue #9): JSON nested thousands of levels deep,
integers over Python's 4,300-digit limit, ARM expressions nested 5,000 deep, symbolic link loops, FIFOs and
devices, Parquet flows with list columns, flows files without a required column, flow logs that are missing,
garbage, truncated or of the wrong schema, unwritable output paths, and usage errors under ``--json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from typer.testing import CliRunner

from opennsg.cli.main import app

ROOT = Path(__file__).parent.parent
TOPOLOGY = ROOT / "examples" / "three-tier.json"
TERRAFORM = ROOT / "examples" / "terraform" / "three-tier"
SCENARIOS = ROOT / "examples" / "scenarios"
FLOWLOGS = Path(__file__).parent / "data" / "flowlogs"
LOG = FLOWLOGS / "nsg_v2.json"
LOG_CONFIG = FLOWLOGS / "configs" / "fabrikam-current.json"
runner = CliRunner()
#: Seconds any run may take before it counts as a hang (the slowest honest run here takes well under one).
HANG_SECONDS = 20


@pytest.fixture(autouse=True)
def _no_cached_service_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_SERVICE_TAGS", raising=False)


@contextmanager
def hang_guard(seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail instead of waiting forever (a blocking open() is interrupted: the handler raises)."""

    def timeout(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"the command did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(*args: str | Path) -> Result:
    with hang_guard():
        return runner.invoke(app, [str(a) for a in args])


def assert_bad_input(result: Result, as_json: bool, *, code: str | None = None) -> dict[str, Any]:
    """Exit 2, no traceback anywhere, and (with --json) one ARM error document on stderr."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "InternalError" not in result.stderr, result.stderr
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:])
    if not as_json:
        assert result.stderr.strip()
        return {}
    error = json.loads(result.stderr)["error"]
    assert {"code", "message", "details"} <= error.keys()
    if code is not None:
        assert error["code"] == code, error
    return dict(error)


#: Every command that reads input files, with the bad file in each place a file is read.
def commands(bad: Path, out: Path) -> dict[str, list[str | Path]]:
    return {
        "validate": ["validate", bad],
        "show": ["show", bad],
        "verify": [
            "verify",
            bad,
            "--nic",
            "vm-web",
            "--direction",
            "Inbound",
            "--local",
            "10.0.1.4:443",
            "--remote",
            "1.2.3.4:5000",
        ],
        "effective": ["effective", bad, "--nic", "vm-web"],
        "routes": ["routes", bad, "--nic", "vm-web"],
        "lint": ["lint", bad],
        "reach": ["reach", bad],
        "diff-old": ["diff", bad, TOPOLOGY],
        "diff-new": ["diff", TOPOLOGY, bad],
        "export": ["export", bad, "--format", "arm", "-o", out],
        "verify-flows": ["verify", TOPOLOGY, "--flows", bad],
        "replay-logs": ["flowlogs", "replay", bad, "--config", LOG_CONFIG],
        "replay-config": ["flowlogs", "replay", LOG, "--config", bad],
        "stats-logs": ["flowlogs", "stats", bad],
        "stats-config": ["flowlogs", "stats", LOG, "--config", bad],
        "service-tags-diff": ["service-tags", "diff", bad, bad],
        "service-tags-flag": ["validate", TOPOLOGY, "--service-tags", bad],
        "parameters-file": ["validate", TOPOLOGY, "--parameters", bad],
        "var-file": ["validate", TERRAFORM, "--var-file", bad],
        "simulate": ["simulate", bad],
    }


COMMAND_NAMES = list(commands(Path("x"), Path("y")))


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def deep_array(tmp: Path) -> Path:
    return _write(tmp / "deep.json", "[" * 5000 + "]" * 5000)


def deep_object(tmp: Path) -> Path:
    return _write(tmp / "deep-object.json", '{"a":' * 1500 + "1" + "}" * 1500)


def deep_but_parseable(tmp: Path) -> Path:
    """Python's decoder reads 900 levels; what walks the result recursively must not get it."""
    return _write(tmp / "deep-900.json", '{"value": ' + "[" * 900 + "]" * 900 + "}")


def huge_integer(tmp: Path) -> Path:
    return _write(tmp / "huge-int.json", '{"records": [' + "9" * 5000 + "]}")


def json_null(tmp: Path) -> Path:
    return _write(tmp / "null.json", "null")


def binary(tmp: Path) -> Path:
    path = tmp / "binary.json"
    path.write_bytes(bytes(range(256)) * 8)
    return path


def self_link(tmp: Path) -> Path:
    link = tmp / "loop.json"
    link.symlink_to(link)
    return link


def linked_loops(tmp: Path) -> Path:
    """A folder holding a link back to itself and a self-referencing ``.json`` link."""
    folder = tmp / "loops"
    folder.mkdir()
    (folder / "up").symlink_to(folder)
    (folder / "self.json").symlink_to(folder / "self.json")
    return folder


def fifo(tmp: Path) -> Path:
    path = tmp / "pipe.json"
    os.mkfifo(path)
    return path


def empty_folder(tmp: Path) -> Path:
    folder = tmp / "empty"
    folder.mkdir()
    return folder


BAD_FILES: dict[str, Callable[[Path], Path]] = {
    "deep-array": deep_array,
    "deep-object": deep_object,
    "deep-but-parseable": deep_but_parseable,
    "huge-integer": huge_integer,
    "null": json_null,
    "binary": binary,
    "self-link": self_link,
    "link-loops": linked_loops,
    "fifo": fifo,
    "dev-zero": lambda _tmp: Path("/dev/zero"),
    "dev-null": lambda _tmp: Path("/dev/null"),
    "empty-folder": empty_folder,
    "missing": lambda tmp: tmp / "missing.json",
}


#: Every command gets these; the other kinds go to one command of each reader (the fuzzer covers the rest).
EVERY_COMMAND = ("deep-array", "huge-integer", "self-link", "fifo", "missing")
ONE_PER_READER = ("validate", "verify-flows", "stats-logs", "service-tags-flag", "var-file", "simulate")


@pytest.mark.parametrize(
    ("kind", "command"),
    [(k, c) for k in BAD_FILES for c in (COMMAND_NAMES if k in EVERY_COMMAND else ONE_PER_READER)],
)
def test_every_command_refuses_bad_files_cleanly(tmp_path: Path, kind: str, command: str) -> None:
    bad = BAD_FILES[kind](tmp_path)
    if kind == "empty-folder" and command in {"service-tags-flag", "var-file", "simulate", "verify-flows"}:
        pytest.skip("a folder is not a value of this option")
    args = commands(bad, tmp_path / "out")[command]
    assert_bad_input(run(*args, "--json"), as_json=True)


@pytest.mark.parametrize("kind", ["deep-array", "huge-integer", "self-link", "fifo", "dev-zero"])
def test_human_output_names_the_problem(tmp_path: Path, kind: str) -> None:
    bad = BAD_FILES[kind](tmp_path)
    result = run("validate", bad)
    assert_bad_input(result, as_json=False)
    reason = {
        "deep-array": "nested deeper than 64 levels",
        "huge-integer": "more than 4300 digits",
        "self-link": "loop of symbolic links",
        "fifo": "is a FIFO (named pipe), not a regular file",
        "dev-zero": "is a character device, not a regular file",
    }[kind]
    assert reason in " ".join(result.stderr.split())


def test_json_null_scalars_and_garbage_arrays_do_not_validate(tmp_path: Path) -> None:
    for text in ("null", "42", '"text"', "true", '[1, "x", null, [], true]', '[{"type": 5}]', "{}"):
        path = _write(tmp_path / "doc.json", text)
        error = assert_bad_input(run("validate", path, "--json"), as_json=True)
        assert str(path) in json.dumps(error), text


def test_an_arm_expression_nested_5000_deep_is_an_invalid_template(tmp_path: Path) -> None:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.Network/networkSecurityGroups",
                "apiVersion": "2023-09-01",
                "name": "[" + "concat(" * 5000 + "'a'" + ")" * 5000 + "]",
                "location": "eastus",
                "properties": {},
            }
        ],
    }
    path = _write(tmp_path / "template.json", json.dumps(template))
    for command in ("validate", "show", "lint"):
        assert_bad_input(run(command, path, "--json"), as_json=True, code="InvalidTemplate")


def test_a_folder_with_link_loops_reports_the_looping_file(tmp_path: Path) -> None:
    folder = linked_loops(tmp_path)
    (folder / "real.json").write_text(TOPOLOGY.read_text(encoding="utf-8"), encoding="utf-8")
    error = assert_bad_input(run("validate", folder, "--json"), as_json=True)
    assert "self.json is a loop of symbolic links" in json.dumps(error)


# --- flows files ------------------------------------------------------------------------------------------


def test_verify_flows_csv_without_a_required_column_names_it(tmp_path: Path) -> None:
    flows = _write(
        tmp_path / "flows.csv",
        "targetResourceId,direction,protocol,localIPAddress,localPort,remoteIPAddress\nvm-web,Inbound,TCP,10.0.1.4,443,1.2.3.4\n",
    )
    error = assert_bad_input(run("verify", TOPOLOGY, "--flows", flows, "--json"), as_json=True, code="InvalidFlowsFile")
    assert "remotePort" in error["message"] and "localPort," not in error["message"].split(";")[0]


def test_verify_flows_csv_without_a_target_column(tmp_path: Path) -> None:
    flows = _write(tmp_path / "flows.csv", "direction,protocol,localIPAddress,localPort,remoteIPAddress,remotePort\n")
    error = assert_bad_input(run("verify", TOPOLOGY, "--flows", flows, "--json"), as_json=True)
    assert "targetResourceId (or targetNicResourceId)" in error["message"]


@pytest.mark.parametrize(
    "column",
    [
        pa.array([["10.0.1.4"]]),  # a list
        pa.array([{"a": 1}]),  # a struct
        pa.array([[("k", "v")]], type=pa.map_(pa.string(), pa.string())),
        pa.array([b"\xff\xfe"], type=pa.binary()),  # bytes that are not text
    ],
    ids=["list", "struct", "map", "binary"],
)
def test_verify_flows_parquet_with_wrong_typed_columns(tmp_path: Path, column: pa.Array) -> None:
    flows = tmp_path / "flows.parquet"
    table = {
        "targetResourceId": pa.array(["vm-web"]),
        "direction": pa.array(["Inbound"]),
        "protocol": pa.array(["TCP"]),
        "localIPAddress": column,
        "localPort": pa.array([443]),
        "remoteIPAddress": pa.array(["1.2.3.4"]),
        "remotePort": pa.array([5000]),
    }
    pq.write_table(pa.table(table), flows)
    error = assert_bad_input(run("verify", TOPOLOGY, "--flows", flows, "--json"), as_json=True, code="InvalidFlowsFile")
    assert "localIPAddress" in error["message"]


def test_verify_flows_bad_rows_are_reported_on_stderr(tmp_path: Path) -> None:
    """Each bad row keeps its error in place in the verdicts; stderr says the run was not clean."""
    flows = _write(tmp_path / "flows.jsonl", "null\n" + "[" * 3000 + "\n" + '{"remotePort": ' + "9" * 5000 + "}\n")
    result = run("verify", TOPOLOGY, "--flows", flows, "--json")
    error = assert_bad_input(result, as_json=True, code="InvalidFlows")
    assert "3 of 3 flows" in error["message"]
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and all("error" in row for row in rows)


# --- flow logs: no false green ----------------------------------------------------------------------------


def _flow_log_commands(logs: Path) -> list[list[str | Path]]:
    return [["flowlogs", "replay", logs, "--config", LOG_CONFIG], ["flowlogs", "stats", logs]]


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing
        "garbage, not JSON",
        LOG.read_text(encoding="utf-8")[:700],  # truncated inside the first record
        '{"records": [{"category": "NetworkSecurityGroupFlowEvent", "properties": {"Version": 9}}]}',
        '{"records": 5}',
        '{"something": "else"}',
        '[{"category": "NetworkSecurityGroupFlowEvent"}]',
    ],
    ids=["missing", "garbage", "truncated", "wrong-version", "records-not-a-list", "wrong-schema", "bare-list"],
)
def test_unreadable_flow_logs_exit_2(tmp_path: Path, content: str | None) -> None:
    logs = tmp_path / "PT1H.json"
    if content is not None:
        logs.write_text(content, encoding="utf-8")
    for args in _flow_log_commands(logs):
        for as_json in (False, True):
            result = run(*args, *(["--json"] if as_json else []))
            assert_bad_input(result, as_json, code="InvalidFlowLogs" if content is not None else None)
            if as_json:
                assert result.stdout == ""


def test_an_empty_folder_of_flow_logs_exits_2(tmp_path: Path) -> None:
    for args in _flow_log_commands(empty_folder(tmp_path)):
        error = assert_bad_input(run(*args, "--json"), as_json=True, code="InvalidFlowLogs")
        assert "No flow log files" in error["message"]


def test_partly_readable_logs_exit_2_unless_problems_are_allowed(tmp_path: Path) -> None:
    partial = [FLOWLOGS / "malformed.json", LOG]
    for args in (["flowlogs", "replay", *partial, "--config", LOG_CONFIG], ["flowlogs", "stats", *partial]):
        strict = run(*args, "--json")
        error = assert_bad_input(strict, as_json=True, code="InvalidFlowLogs")
        assert "--allow-problems" in error["message"] and error["details"]
        assert json.loads(strict.stdout)["read"]["malformedRecords"] > 0  # the partial answer is still given
        human = run(*args)
        assert human.exit_code == 2 and "malformed" in human.stderr
        allowed = run(*args, "--json", "--allow-problems")
        assert allowed.exit_code == 0, allowed.output
        assert json.loads(allowed.stdout)["read"]["problems"]


def test_clean_logs_still_exit_0() -> None:
    for args in _flow_log_commands(LOG):
        assert run(*args, "--json").exit_code == 0


# --- output paths -----------------------------------------------------------------------------------------


def _unwritable(tmp: Path) -> Path:
    blocker = tmp / "a-file"
    blocker.write_text("", encoding="utf-8")
    return blocker / "below" / "out"  # below a regular file: no permission trick needed (tests may run as root)


def test_stats_png_to_an_unwritable_path(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    for as_json in (False, True):
        result = run("flowlogs", "stats", LOG, "--png", _unwritable(tmp_path).with_suffix(".png"),
                     *(["--json"] if as_json else []))  # fmt: skip
        assert_bad_input(result, as_json, code="CannotWriteOutput" if as_json else None)


def test_simulate_flowlogs_out_to_an_unwritable_path(tmp_path: Path) -> None:
    scenario = SCENARIOS / "timeouts-and-asgs.yaml"
    for as_json in (False, True):
        result = run("simulate", scenario, "--flowlogs-out", _unwritable(tmp_path), *(["--json"] if as_json else []))
        assert_bad_input(result, as_json, code="CannotWriteOutput" if as_json else None)


def test_export_and_diff_markdown_to_unwritable_paths(tmp_path: Path) -> None:
    assert_bad_input(run("export", TOPOLOGY, "--format", "arm", "-o", _unwritable(tmp_path), "--json"), True)
    other = tmp_path / "same.json"
    other.write_text(TOPOLOGY.read_text(encoding="utf-8"), encoding="utf-8")
    result = run("diff", TOPOLOGY, other, "--markdown", _unwritable(tmp_path), "--json")
    assert_bad_input(result, as_json=True, code="CannotWriteOutput")


# --- simulate ---------------------------------------------------------------------------------------------

ABSURD_STEPS = [
    "wait: 99999999999999999999999",
    "wait: 99999999999h",
    "wait: -5",
    "wait: .nan",
    'connect: {name: a, from: "web1-nic:99999999", to: "db1-nic:5432"}',
    'connect: {name: a, from: "web1-nic:1", to: "db1-nic:5432", protocol: 99999}',
    'packet: {from: "web1-nic:1", to: "db1-nic:5432", packets: 1e400}',
    'packet: {from: "web1-nic:1", to: "db1-nic:5432", bytes: [1]}',
    "asg-membership: {nic: web2-nic, add: 5}",
    "send: {connection: [1]}",
    "connect: 7",
]


@pytest.mark.parametrize("step", ABSURD_STEPS)
def test_simulate_absurd_numbers_and_types(tmp_path: Path, step: str) -> None:
    scenario = _write(
        tmp_path / "scenario.yaml",
        f'topology: {SCENARIOS / "topology.json"}\nstart: "9999-12-31T23:00:00Z"\nsteps:\n  - {step}\n',
    )
    assert_bad_input(run("simulate", scenario, "--json"), as_json=True, code="InvalidScenario")


def test_simulate_deep_and_huge_yaml(tmp_path: Path) -> None:
    for name, text in (("deep", "a: " + "[" * 3000 + "]" * 3000), ("huge", "a: " + "9" * 5000)):
        scenario = _write(tmp_path / f"{name}.yaml", text)
        assert_bad_input(run("simulate", scenario, "--json"), as_json=True, code="InvalidScenario")


# --- usage errors and the last resort ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate"], "MissingRequiredParameter"),
        (["verify", str(TOPOLOGY), "--bogus"], "InvalidParameter"),
        (["flowlogs", "stats", str(LOG), "--top", "zero"], "InvalidParameter"),
        (["flowlogs", "stats", str(LOG), "--top", "0"], "InvalidParameter"),
        (["effective", str(TOPOLOGY)], "MissingRequiredParameter"),
        (["no-such-command"], "InvalidCommandLine"),
    ],
)
def test_usage_errors_are_json_on_stderr_with_json(args: list[str], code: str) -> None:
    result = run(*args, "--json")
    assert_bad_input(result, as_json=True, code=code)
    assert result.stdout == ""
    human = run(*args)
    assert human.exit_code == 2 and "Traceback" not in human.output and "{" not in human.stderr[:1]


def test_an_unexpected_exception_is_an_internal_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from opennsg.cli import common

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(common, "load_inputs", broken)
    for as_json in (True, False):
        result = run("validate", TOPOLOGY, *(["--json"] if as_json else []))
        assert result.exit_code == 2 and "Traceback" not in result.output
        text = result.stderr if not as_json else json.loads(result.stderr)["error"]["message"]
        assert "Internal error, please report it" in text and "KeyError" in text
        if as_json:
            assert json.loads(result.stderr)["error"]["code"] == "InternalError"


def test_error_messages_keep_their_brackets(tmp_path: Path) -> None:
    """Rich markup must not eat ``[...]`` in messages (ARM expressions are written in brackets)."""
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [{"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2023-09-01",
                       "name": "[concat('a', ]", "location": "eastus", "properties": {}}],
    }  # fmt: skip
    path = _write(tmp_path / "t.json", json.dumps(template))
    result = run("validate", path)
    assert_bad_input(result, as_json=False)
    assert "'[concat('a', ]'" in result.stderr.replace("\n", "")


# --- a few real processes ---------------------------------------------------------------------------------


def _opennsg(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "opennsg", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_real_process_fifo_and_deep_json_and_usage_error(tmp_path: Path) -> None:
    pipe = fifo(tmp_path)
    deep = deep_array(tmp_path)
    done = _opennsg("validate", pipe, deep, "/dev/zero", "--json")  # a hang fails by the timeout
    assert done.returncode == 2 and "Traceback" not in done.stderr
    details = json.loads(done.stderr)["error"]["details"]
    assert [d["target"] for d in details] == [str(pipe), str(deep), "/dev/zero"]
    usage = _opennsg("verify", "--nonsense", "--json")
    assert usage.returncode == 2 and json.loads(usage.stderr)["error"]["code"] == "InvalidParameter"
    stats = _opennsg("flowlogs", "stats", tmp_path / "nothing-here")
    assert stats.returncode == 2 and "Traceback" not in stats.stderr


# --- found by the fuzzer (tests/test_cli_fuzz.py) ---------------------------------------------------------


def test_lone_surrogates_in_flow_logs_are_reported_not_crashed_on(tmp_path: Path) -> None:
    document = json.loads(LOG.read_text(encoding="utf-8"))
    record = document["records"][0]
    record["resourceId"] = "\ud800"
    record["properties"]["flows"][0]["rule"] = "\udfff"
    record["properties"]["flows"][0]["flows"][0]["flowTuples"][0] = "\ud800"
    logs = _write(tmp_path / "PT1H.json", json.dumps(document))
    error = assert_bad_input(run("flowlogs", "stats", logs, "--json"), as_json=True, code="InvalidFlowLogs")
    assert any("malformed" in d["message"] for d in error["details"])


@pytest.mark.parametrize("text", ["[]", '{"value": []}'])
def test_an_empty_network_is_linted_and_reached_cleanly(tmp_path: Path, text: str) -> None:
    empty = _write(tmp_path / "empty.json", text)
    for command in ("validate", "show", "lint", "reach"):
        result = run(command, empty, "--json")
        assert result.exit_code == 0, (command, result.output)
    assert json.loads(run("lint", empty, "--json").stdout) == {"findings": []}
