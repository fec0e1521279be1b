"""``opennsg routes``: a NIC's effective route table, as Network Watcher's ``effectiveRouteTable`` answers it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from opennsg.cli.common import (
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    input_options,
    print_json,
    stdout,
)


def register(app: typer.Typer) -> None:
    @app.command()
    @input_options
    def routes(
        paths: list[Path] = typer.Argument(..., help="ARM JSON files, templates, Terraform inputs or directories."),
        nic: str = typer.Option(..., "--nic", help="NIC or VM, by name or ARM id."),
        inputs: InputOptions = NO_INPUTS,
        json: bool = JsonOption,
    ) -> None:
        """Effective routes of a NIC: system routes (VNet, peerings, Internet, None), overridden by user routes."""
        from opennsg.arm.routes import effective_route_table_to_arm
        from opennsg.engine import Engine

        with bad_input_exits(json):
            found = Engine(inputs.load(paths)).effective_routes(nic)
        if json:
            print_json(effective_route_table_to_arm(found))
            return
        table = Table(title=f"Effective routes of {nic}")
        for column in ("source", "state", "address prefixes", "next hop type", "next hop IP", "name"):
            table.add_column(column, overflow="fold")
        for route in found:
            table.add_row(
                route.source.value,
                route.state.value,
                ", ".join(route.address_prefixes),
                route.next_hop_type.value,
                ", ".join(route.next_hop_ip_addresses),
                route.name or "",
                style="dim" if route.state.value == "Invalid" else None,
            )
        stdout.print(table)
