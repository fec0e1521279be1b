"""``opennsg diff``, ``opennsg lint``, ``opennsg reach``: exact answers over the whole flow space.

Exit codes: diff 0 unchanged / 3 changed; lint 1 when a finding reaches ``--fail-on``; reach 1 when an intent's
``expect`` is not met; 2 on bad input everywhere.
"""

from __future__ import annotations

import json as jsonlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from opennsg.cli.common import (
    EXIT_EXPECTATION_FAILED,
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    input_options,
    load_service_tags,
    print_json,
    stdout,
    writing_output,
)
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import ResourceId, name_of
from opennsg.model.topology import Topology

EXIT_CHANGED = 3
FAIL_ON_LEVELS = ("error", "warning", "note", "none")


def register(app: typer.Typer) -> None:
    app.command("diff")(input_options(diff))
    app.command("lint")(input_options(lint))
    app.command("reach")(input_options(reach))


# --- diff ---------------------------------------------------------------------------------------------


def _load_plan(plan: Path, subscription: str | None, service_tags: Path | None) -> tuple[Topology, Topology]:
    """A Terraform plan's prior and planned state (``opennsg.terraform.load_plan``)."""
    from opennsg.terraform import load_plan

    return load_plan(plan, subscription=subscription, service_tags=load_service_tags(service_tags))


def diff(
    old: Path | None = typer.Argument(None, help="The configuration before: ARM JSON file or directory."),
    new: Path | None = typer.Argument(None, help="The configuration after."),
    plan: Path | None = typer.Option(
        None, "--plan", help="A Terraform plan JSON: compare its prior and planned state."
    ),
    nic: list[str] = typer.Option([], "--nic", help="Only this NIC or VM (name or ARM id); repeatable."),
    rules: bool = typer.Option(False, "--rules", help="Also report flows whose deciding rule changed."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write the changes as a Markdown PR comment."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """The exact set of flows whose access differs between two configurations (exit 3 when any does).

    A NIC is compared at each IP configuration: its address before with its address after (configurations paired
    by name, then by unchanged address). A NIC moved to another subnet is compared at its new address against its
    old one; such changes carry beforeLocalAddresses and a beforeWitness (the witness at the old address).
    """
    from opennsg.analysis.diff import diff_topologies

    with bad_input_exits(json):
        if plan is not None:
            if old is not None or new is not None:
                raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, "Give either OLD and NEW or --plan, not both.")])
            before, after = _load_plan(plan, inputs.subscription, inputs.service_tags)
        else:
            if old is None or new is None:
                raise OpenNsgError(
                    [ArmError(Code.MISSING_REQUIRED_PARAMETER, "Give OLD and NEW (or --plan PLAN.json).")]
                )
            problems: list[ArmError] = []
            loaded: list[Topology] = []
            for side in (old, new):
                try:
                    loaded.append(inputs.load([side]))
                except OpenNsgError as exc:
                    problems.extend(exc.errors)
            if problems:
                raise OpenNsgError(problems)
            before, after = loaded
        result = diff_topologies(before, after, nic, rules)
    lines = _diff_lines(result)
    if markdown is not None:
        with writing_output("--markdown", markdown, json):
            markdown.write_text(_diff_markdown(result, lines), encoding="utf-8")
    if json:
        print_json(result.to_json())
    else:
        _print_diff(result, lines)
    if result.changed:
        raise typer.Exit(EXIT_CHANGED)


def _describe(change: Any) -> str:
    from opennsg.analysis.render import addresses_phrase, ports_phrase, protocols_phrase

    box = change.box
    inbound = change.direction.value == "Inbound"
    protocols = protocols_phrase(box.protocols)
    service_ports = box.local_ports if inbound else box.remote_ports
    peer_ports = box.remote_ports if inbound else box.local_ports
    text = f"{change.direction.value} {protocols}"
    if list(service_ports) != ["0-65535"] or list(peer_ports) == ["0-65535"]:
        text += f" {ports_phrase(service_ports)}"
    if list(peer_ports) != ["0-65535"]:
        text += (
            f" (source ports {ports_phrase(peer_ports)})" if inbound else f" from port(s) {ports_phrase(peer_ports)}"
        )
    peer = addresses_phrase(box.remote_addresses, change.names)
    text += f" from {peer}" if inbound else f" to {peer}"
    if change.before_local is not None:
        text += f" at {', '.join(box.local_addresses)} (was {change.before_local})"
    return text


def _diff_lines(result: Any) -> dict[tuple[str, str], list[tuple[str, Any]]]:
    grouped: dict[tuple[str, str], list[tuple[str, Any]]] = defaultdict(list)
    for change in result.changes:
        before, after = change.before, change.after
        rule = after.rule_name or before.rule_name or "no NSG"
        verdict = f"{before.access.value} → {after.access.value}"
        if before.access is after.access:
            verdict = (
                f"{before.access.value}, now by {after.rule_name or 'no rule'} (was {before.rule_name or 'no rule'})"
            )
            line = f"{_describe(change)}: {verdict}"
        else:
            line = f"{_describe(change)}: {verdict} ({rule})"
        grouped[(change.nic, change.direction.value)].append((line, change))
    return grouped


def _print_diff(result: Any, lines: dict[tuple[str, str], list[tuple[str, Any]]]) -> None:
    if not result.changes:
        stdout.print(f"No change in access at {result.compared_nics} NIC(s).", markup=False)
    for (nic, _direction), items in lines.items():
        stdout.print(f"[bold]{name_of(nic)}[/]", markup=True)
        for line, change in items:
            colour = "green" if change.opened else "red" if change.closed else "yellow"
            mark = "+" if change.opened else "-" if change.closed else "~"
            stdout.print(f"  [{colour}]{mark}[/] ", end="", markup=True)
            stdout.print(f"{line}  [{change.box.flows:,} flows]", markup=False)
    for label, nics in (("added", result.added_nics), ("removed", result.removed_nics)):
        for n in nics:
            stdout.print(f"NIC {label}: {n}", markup=False)
    s = result.summary()
    stdout.print(
        f"{s['changedBoxes']} change(s) at {s['nics']} NIC(s): {s['opened']:,} flows opened, {s['closed']:,} closed.",
        markup=False,
    )


def _diff_markdown(result: Any, lines: dict[tuple[str, str], list[tuple[str, Any]]]) -> str:
    s = result.summary()
    out = ["## OpenNSG: what this change opens and closes", ""]
    if not result.changes:
        out.append(f"No change in access at {result.compared_nics} NIC(s).")
    else:
        out.append(f"**{s['opened']:,} flows opened, {s['closed']:,} closed** at {s['nics']} NIC(s).")
        out.append("")
        out.append("| NIC | change | flows | witness |")
        out.append("|---|---|---:|---|")
        for (nic, _direction), items in lines.items():
            for line, change in items:
                mark = "🟢 opens" if change.opened else "🔴 closes" if change.closed else "🟡 rule"
                w = change.box.witness
                flow = f"{w.remote_ip}:{w.remote_port} → {w.local_ip}:{w.local_port}"
                if change.direction.value == "Outbound":
                    flow = f"{w.local_ip}:{w.local_port} → {w.remote_ip}:{w.remote_port}"
                cell = line.replace("|", "\\|")
                out.append(f"| `{name_of(nic)}` | {mark}: {cell} | {change.box.flows:,} | `{flow}` |")
    for label, nics in (("Added", result.added_nics), ("Removed", result.removed_nics)):
        if nics:
            out.append("")
            out.append(f"{label} NICs: " + ", ".join(f"`{name_of(n)}`" for n in nics))
    return "\n".join(out) + "\n"


# --- lint ---------------------------------------------------------------------------------------------


def lint(
    paths: list[Path] = typer.Argument(..., help="ARM JSON files, templates, Terraform inputs or directories."),
    sarif: Path | None = typer.Option(None, "--sarif", help="Write the findings as SARIF 2.1.0 to this file."),
    fail_on: str = typer.Option(
        "error", "--fail-on", help="Exit 1 when a finding at or above: error|warning|note|none."
    ),
    disable: list[str] = typer.Option([], "--disable", help="Skip this rule id; repeatable."),
    enable: list[str] = typer.Option([], "--enable", help="Run this rule id even if disabled; repeatable."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """Shadowed, redundant, ineffective and dangerous rules, exposure to the Internet, platform needs."""
    from opennsg.analysis.lint import RULES, fails, lint_topology
    from opennsg.analysis.locate import Locator, input_files

    with bad_input_exits(json):
        problems: list[ArmError] = []
        if fail_on.casefold() not in FAIL_ON_LEVELS:
            problems.append(
                ArmError(
                    Code.INVALID_PARAMETER, f"--fail-on must be one of {', '.join(FAIL_ON_LEVELS)}, not '{fail_on}'."
                )
            )
        for flag, ids in (("--disable", disable), ("--enable", enable)):
            for rule_id in ids:
                if rule_id.casefold() not in RULES:
                    problems.append(
                        ArmError(
                            Code.INVALID_PARAMETER, f"{flag}: unknown rule id '{rule_id}' (known: {', '.join(RULES)})."
                        )
                    )
        if problems:
            raise OpenNsgError(problems)
        topology = inputs.load(paths)
        findings = lint_topology(topology, [d.casefold() for d in disable], [e.casefold() for e in enable])
    if sarif is not None:
        from opennsg.analysis.sarif import to_sarif

        log = to_sarif(findings, Locator.of(input_files(paths)))
        with writing_output("--sarif", sarif, json):
            sarif.write_text(jsonlib.dumps(log, indent=2) + "\n", encoding="utf-8")
    if json:
        print_json({"findings": [f.to_json() for f in findings]})
    else:
        _print_findings(findings)
    if fails(findings, fail_on.casefold()):
        raise typer.Exit(EXIT_EXPECTATION_FAILED)


def _print_findings(findings: Sequence[Any]) -> None:
    if not findings:
        stdout.print("No findings.")
        return
    table = Table(show_header=True)
    table.add_column("level", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("message", overflow="fold")
    colours = {"error": "red", "warning": "yellow", "note": "cyan"}
    for f in findings:
        table.add_row(f"[{colours[f.level]}]{f.level}[/]", f.rule_id, _short_resource(f.resource), f.message)
    stdout.print(table)
    counts = {level: sum(f.level == level for f in findings) for level in ("error", "warning", "note")}
    stdout.print(", ".join(f"{n} {level}(s)" for level, n in counts.items()), markup=False)


def _short_resource(resource: str) -> str:
    parsed = ResourceId.parse(resource)
    if parsed is not None and len(parsed.types) > 1 and parsed.types[-1].casefold() == "securityrules":
        return "/".join(parsed.names[-2:])
    return name_of(resource)


# --- reach --------------------------------------------------------------------------------------------


def reach(
    paths: list[Path] = typer.Argument(..., help="ARM JSON files, templates, Terraform inputs or directories."),
    intents: Path | None = typer.Option(None, "--intents", help="Reachability intents: JSON lines or a JSON array."),
    html: Path | None = typer.Option(None, "--html", help="Write the matrix as a self-contained HTML heatmap."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """Who can reach whom: the NIC-to-NIC matrix (and from the Internet), or answers to intents."""
    from opennsg.analysis.reach import Reachability, read_intents

    with bad_input_exits(json):
        topology = inputs.load(paths)
        analysis = Reachability(topology)
        if intents is not None:
            parsed = read_intents(intents)
            results = analysis.intents(parsed)
        else:
            matrix = analysis.matrix()
    if intents is not None:
        if json:
            print_json({"results": [r.to_json() for r in results]})
        else:
            _print_intents(results)
        if any(r.expectation_failed for r in results):
            raise typer.Exit(EXIT_EXPECTATION_FAILED)
        return
    if html is not None:
        from opennsg.analysis.report import matrix_html

        with writing_output("--html", html, json):
            html.write_text(matrix_html(matrix), encoding="utf-8")
    if json:
        for chunk in matrix.json_chunks():  # streamed: 200 NICs are 40,000 pairs
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    else:
        _print_matrix(matrix)


def _print_intents(results: Sequence[Any]) -> None:
    table = Table(show_header=True)
    for col in ("intent", "result", "expected", "allowed", "blocked by"):
        table.add_column(col, overflow="fold")
    for r in results:
        colour = {"Reachable": "green", "Unreachable": "red"}.get(r.result, "yellow")
        blocked = "; ".join(dict.fromkeys(f"{b.hop}: {b.rule or '-'}" for b in r.blocked))
        expected = r.expect or ""
        if r.expectation_failed:
            expected = f"[bold red]{expected} ✗[/]"
        table.add_row(r.name, f"[{colour}]{r.result}[/]", expected, str(r.allowed_flows), blocked)
    stdout.print(table)


def _print_matrix(matrix: Any) -> None:
    names = [matrix.label(n) for n in matrix.destinations]
    table = Table(show_header=True, title="Reachability (rows: source, columns: destination)")
    table.add_column("source", no_wrap=True)
    for name in names:
        table.add_column(name, overflow="fold")
    for source in matrix.sources:
        row = [matrix.label(source)]
        for destination in matrix.destinations:
            cell = matrix.cell(source, destination)
            if cell is None:
                row.append("")
                continue
            colour = "green" if cell.reachable is True else "red" if cell.reachable is False else "yellow"
            row.append(f"[{colour}]{cell.summary}[/]")
        table.add_row(*row)
    stdout.print(table)


__all__ = ["register"]
