"""``opennsg simulate SCENARIO.yaml``: run a data-plane scenario, print each packet's fate, write flow logs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from opennsg.cli.common import (
    EXIT_EXPECTATION_FAILED,
    JsonOption,
    ServiceTagsOption,
    bad_input_exits,
    load_service_tags,
    print_json,
    stdout,
    writing_output,
)

ScenarioArgument = typer.Argument(..., help="Scenario YAML (see examples/scenarios/README.md).")
FlowLogsOutOption = typer.Option(
    None, "--flowlogs-out", help="Write the flow logs (Network Watcher blob layout) under this folder."
)
MaxFlowsOption = typer.Option(None, "--max-flows-per-nic", min=1, help="Flow table size per NIC (default 500,000).")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def simulate(
    scenario: Path = ScenarioArgument,
    flowlogs_out: Path | None = FlowLogsOutOption,
    max_flows_per_nic: int | None = MaxFlowsOption,
    service_tags: Path | None = ServiceTagsOption,
    json: bool = JsonOption,
) -> None:
    """Carry a scenario's traffic through the NSGs statefully; exit 1 when an `expect:` is not met."""
    from opennsg.dataplane.scenario import run_scenario

    with bad_input_exits(json):
        tags = load_service_tags(service_tags)
        run = run_scenario(scenario, max_flows_per_nic, tags)
    written = []
    if flowlogs_out is not None:
        with writing_output("--flowlogs-out", flowlogs_out, json):
            written = run.flow_logs.write(flowlogs_out)
    refused = {nic.name: run.network.table(nic).refused for nic in run.topology.nics.values()}
    summary = {
        "packets": sum(1 for e in run.events if e.delivered is not None),
        "delivered": sum(1 for e in run.events if e.delivered),
        "dropped": sum(1 for e in run.events if e.delivered is False),
        "expectationsFailed": run.expectations_failed,
        "refusedByFullFlowTable": {name: n for name, n in refused.items() if n},
        "flowLogFiles": [str(p) for p in written],
    }
    if json:
        print_json({"events": [e.to_json() for e in run.events], "summary": summary})
    else:
        table = Table(title=f"Scenario {scenario.name}", show_lines=False)
        for column in ("time", "step", "what", "fate", "why"):
            table.add_column(column, overflow="fold")
        for event in run.events:
            fate = {True: "[green]delivered[/]", False: "[red]dropped[/]", None: event.kind}[event.delivered]
            if event.expectation_failed:
                fate += " [bold red](unexpected)[/]"
            table.add_row(f"{event.at:%H:%M:%S}", str(event.step), event.description, fate, event.reason)
        stdout.print(table)
        stdout.print(
            f"{summary['delivered']} delivered, {summary['dropped']} dropped, "
            f"{summary['expectationsFailed']} expectation(s) failed"
            + (f"; flow logs: {len(written)} file(s) under {flowlogs_out}" if flowlogs_out else "")
        )
    if run.expectations_failed:
        raise typer.Exit(EXIT_EXPECTATION_FAILED)
