"""``opennsg flowlogs replay|stats`` end to end, on hand-written logs and on logs the data plane wrote."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opennsg.cli import flowlogs as flowlogs_cli
from opennsg.cli.common import InputOptions, print_json
from opennsg.cli.main import app

DATA = Path(__file__).parent / "data" / "flowlogs"
CONFIGS = DATA / "configs"
SCENARIOS = Path(__file__).parent.parent / "examples" / "scenarios"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, list(args))
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}


def test_replay_json_lists_changed_flows_and_totals() -> None:
    code, body = invoke(
        "flowlogs", "replay", "--config", str(CONFIGS / "fabrikam-proposed.json"), str(DATA / "nsg_v2.json"), "--json"
    )
    assert code == 0
    changes = sorted((c["srcIP"], c["dstPort"], c["protocol"], c["loggedDecision"], c["newDecision"], c["newRule"],
                      c["count"]) for c in body["changed"])  # fmt: skip
    assert changes == [
        ("52.1.2.3", 22, "TCP", "Allow", "Deny", "DefaultRule_DenyAllInBound", 2),
        ("94.102.49.190", 443, "UDP", "Deny", "Allow", "UserRule_allow-udp-443", 1),
    ]
    assert all(c["nic"].endswith("/networkInterfaces/vm1-nic") for c in body["changed"])
    assert body["totals"] == {
        "tuples": 10, "flows": 9, "changedFlows": 2, "changedTuples": 3, "allowToDeny": 1, "denyToAllow": 1,
        "unattributedFlows": 0, "unattributedTuples": 0,
    }  # fmt: skip


def test_replay_keeps_its_loaded_config_and_answers_the_same_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proposed config is kept on disk by content as verify's inputs are (cli/prepared.py): the second replay
    reads it back (with the NIC policies the first resolved) and answers byte for byte the same."""
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_NO_CACHE", raising=False)
    args = [
        "flowlogs",
        "replay",
        "--config",
        str(CONFIGS / "fabrikam-proposed.json"),
        str(DATA / "nsg_v2.json"),
        "--json",
    ]
    first = runner.invoke(app, args)
    kept = list((tmp_path / "cache" / "inputs").glob("*.inputs"))

    def not_again(*_: object, **__: object) -> None:
        raise AssertionError("the config was loaded again")

    monkeypatch.setattr(InputOptions, "load", not_again)
    second = runner.invoke(app, args)
    assert first.exit_code == second.exit_code == 0 and len(kept) == 1
    assert second.stdout == first.stdout and json.loads(first.stdout)["totals"]["changedFlows"] == 2


def test_replay_human_form_groups_by_nic_and_rule() -> None:
    result = runner.invoke(
        app, ["flowlogs", "replay", "--config", str(CONFIGS / "fabrikam-proposed.json"), str(DATA / "nsg_v2.json")]
    )
    assert result.exit_code == 0
    assert "vm1-nic" in result.stdout and "UserRule_allow-udp-443" in result.stdout and "Allow → Deny" in result.stdout


def test_replay_reports_malformed_input_in_json_and_keeps_going() -> None:
    """Partly readable logs: the answer covers what could be read, and --allow-problems accepts that."""
    code, body = invoke("flowlogs", "replay", "--config", str(CONFIGS / "fabrikam-current.json"),
                        str(DATA / "malformed.json"), str(DATA / "truncated.json"),
                        "--json", "--allow-problems")  # fmt: skip
    assert code == 0
    read = body["read"]
    assert (read["files"], read["malformedRecords"], read["malformedTuples"]) == (2, 6, 4)
    assert {p["file"].rsplit("/", 1)[1] for p in read["problems"]} == {"malformed.json", "truncated.json"}
    assert body["totals"]["tuples"] == 3 + 9


def test_replay_with_a_missing_config_exits_2() -> None:
    result = runner.invoke(app, ["flowlogs", "replay", "--config", "/nonexistent.json", str(DATA), "--json"])
    assert result.exit_code == 2


def test_stats_json_and_png(tmp_path: Path) -> None:
    png = tmp_path / "timeline.png"
    config = str(CONFIGS / "fabrikam-current.json")
    code, body = invoke("flowlogs", "stats", str(DATA / "nsg_v2.json"), "--config", config, "--png", str(png), "--json",
                        "--top", "2")  # fmt: skip
    assert code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert body["topTalkers"][0] == {"srcIP": "10.5.16.4", "dstIP": "13.67.143.115", "tuples": 1, "bytes": 30986}
    assert len(body["topTalkers"]) == 2
    assert [(m["allowed"], m["denied"]) for m in body["timeline"]] == [(3, 0), (2, 3), (1, 1)]  # 11:59, 12:00, 12:01
    hit = {(h["rule"], h["tuples"]) for h in body["rulesHit"]}
    assert hit == {
        ("DefaultRule_DenyAllInBound", 4),
        ("DefaultRule_AllowInternetOutBound", 4),
        ("UserRule_allow-ssh", 2),
    }
    never = {r["rule"] for r in body["rulesNeverHit"]}
    assert "UserRule_allow-ssh" not in never and "DefaultRule_AllowVnetInBound" in never
    assert "DefaultRule_DenyAllInBound" not in never


def test_simulate_then_replay_the_written_logs(tmp_path: Path) -> None:
    """The data plane's logs read back cleanly; replayed against the config of their making, nothing changes."""
    scenario = tmp_path / "scenario"
    shutil.copytree(SCENARIOS, scenario)
    out = tmp_path / "logs"
    result = runner.invoke(app, ["simulate", str(scenario / "timeouts-and-asgs.yaml"), "--flowlogs-out", str(out)])
    assert result.exit_code == 0, result.stdout
    code, body = invoke("flowlogs", "replay", "--config", str(scenario / "topology.json"), str(out), "--json")
    assert code == 0 and body["read"]["problems"] == []
    # The scenario changed ASG memberships mid-way; against the starting config, web2's first attempt would
    # still be denied and its later connection (made after it joined web-servers) would now be denied.
    assert {(c["srcIP"], c["srcPort"], c["newDecision"]) for c in body["changed"]} == {("10.0.1.5", 41001, "Deny")}


_scalars = st.one_of(st.none(), st.integers(-(2**70), 2**70), st.text(max_size=12), st.booleans())
_flows = st.lists(st.dictionaries(st.text(min_size=1, max_size=8), _scalars, min_size=1, max_size=5), max_size=4)


_others = st.dictionaries(
    st.text(max_size=8), st.one_of(_scalars, st.lists(st.dictionaries(st.text(max_size=4), _scalars)))
)


@settings(max_examples=200, deadline=None)
@given(_flows, _others)
def test_a_replays_json_is_print_jsons_text(changed: list[dict[str, Any]], rest: dict[str, Any]) -> None:
    """The replay's answer with its changed flows encoded apart is ``print_json``'s text byte for byte (any
    strings: quotes, escapes, non-ASCII; none changed; other keys after them)."""
    answer = {"changed": changed, **{k: v for k, v in rest.items() if k != "changed"}}
    with contextlib.redirect_stdout(io.StringIO()) as fast:
        flowlogs_cli._print_replay_json(answer)
    with contextlib.redirect_stdout(io.StringIO()) as plain:
        print_json(answer)
    assert fast.getvalue() == plain.getvalue()
