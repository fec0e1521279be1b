"""The pages built on ``opennsg.analysis`` in a real browser: reachability cells agree with ``opennsg reach``, a cell
opens its allowed and blocked flows, the diff page answers as ``opennsg diff``, lint findings sit beside the rules
``opennsg lint`` reports them on. Skipped, saying why, while the analysis package is not in the build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.ui.conftest import FLOWLOG_DATA, HOW_NSGS_FILTER, THREE_TIER_TOKEN, Server
from typer.testing import CliRunner

from opennsg.cli.main import app as cli
from opennsg.model.ids import name_of

pytest.importorskip("opennsg.analysis.reach", reason="opennsg.analysis (issue 11) is not in this build")
pytest.importorskip("opennsg.analysis.lint", reason="opennsg.analysis (issue 11) is not in this build")
pytest.importorskip("opennsg.analysis.diff", reason="opennsg.analysis (issue 11) is not in this build")


def run_cli(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code in (0, 1, 3), result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_reach_cells_agree_with_opennsg_reach(viewer: Server, open_page: Any) -> None:
    expected = run_cli("reach", str(HOW_NSGS_FILTER))
    label = {p: name_of(p) if p != "Internet" else p for p in expected["sources"] + expected["destinations"]}
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/reach")
    cells = page.get_by_test_id("reach-matrix").locator("td[data-source]")
    shown = {
        (c["source"], c["destination"]): c["reachable"]
        for c in cells.evaluate_all("cells => cells.map(c => ({...c.dataset}))")
    }
    want = {
        (label[p["source"]], label[p["destination"]]): {True: "true", False: "false"}.get(p["reachable"], "partial")
        for p in expected["pairs"]
    }
    assert shown == want
    assert set(shown.values()) >= {"true", "false"} or "partial" in shown.values()
    source, destination = next(k for k, v in shown.items() if v == "partial" or v == "false")
    page.locator(f'td[data-source="{source}"][data-destination="{destination}"] a').click()
    page.get_by_test_id("reach-blocked").wait_for()
    assert page.get_by_test_id("reach-blocked").locator("tbody tr").count() >= 1
    assert console.problems == []


def test_diff_page_answers_as_opennsg_diff(viewer: Server, open_page: Any) -> None:
    old, new = FLOWLOG_DATA / "configs" / "fabrikam-current.json", FLOWLOG_DATA / "configs" / "fabrikam-proposed.json"
    expected = run_cli("diff", str(old), str(new))["summary"]
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/diff")
    page.get_by_test_id("diff-old").set_input_files(str(old))
    page.get_by_test_id("diff-new").set_input_files(str(new))
    page.get_by_test_id("diff-submit").click()
    summary = page.get_by_test_id("diff-summary")
    summary.wait_for()
    assert summary.get_attribute("data-opened") == str(expected["opened"])
    assert summary.get_attribute("data-closed") == str(expected["closed"])
    assert summary.get_attribute("data-changed-flows") == str(expected["changedFlows"])
    assert console.problems == []


def test_lint_findings_sit_beside_their_rules(viewer: Server, open_page: Any, tmp_path: Path) -> None:
    findings = run_cli("lint", str(HOW_NSGS_FILTER), "--fail-on", "none")
    items = findings.get("findings", findings) if isinstance(findings, dict) else findings
    page, console = open_page()
    for nsg in ("NSG1", "NSG2"):
        page.goto(f"{viewer.url}/ui/nsg/{nsg}")
        table = page.get_by_test_id("rules-table")
        for finding in items:
            parts = finding["resource"].split("/")
            if len(parts) > 2 and parts[-2] in ("securityRules", "defaultSecurityRules") and parts[-3] == nsg:
                row = table.locator(f'tr[data-rule="{parts[-1]}"]')
                assert row.locator(f'[data-finding="{finding["ruleId"]}"]').count() == 1, finding
    assert console.problems == []


def test_diff_page_saves_a_revision_and_compares_it_with_the_current_state(service: Server, open_page: Any) -> None:
    page, console = open_page()
    page.goto(f"{service.url}/ui/diff")
    page.get_by_test_id("token-input").fill(THREE_TIER_TOKEN)
    page.get_by_test_id("token-submit").click()
    page.get_by_test_id("revision-label").fill("browser baseline")
    page.get_by_test_id("revision-save").click()
    page.get_by_test_id("revision-list").get_by_text("browser baseline").wait_for()
    page.get_by_test_id("diff-old-revision").check()
    page.get_by_test_id("diff-new-current").check()
    page.get_by_test_id("diff-submit").click()
    summary = page.get_by_test_id("diff-summary")
    summary.wait_for()
    assert summary.get_attribute("data-opened") == "0" and summary.get_attribute("data-closed") == "0"
    assert console.problems == []
