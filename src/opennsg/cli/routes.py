"""``opennsg routes``: a NIC's effective route table, as Network Watcher's ``effectiveRouteTable`` answers it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from opennsg.cli.common import (
    JsonOption,
    LocationOption,
    ResourceGroupOption,
    ServiceTagsOption,
    SubscriptionOption,
    TemplateParameterOption,
    TemplateParametersOption,
    VarFileOption,
    VarOption,
    bad_input_exits,
    print_json,
    stdout,
    template_inputs,
)


def register(app: typer.Typer) -> None:
    @app.command()
    def routes(
        paths: list[Path] = typer.Argument(..., help="ARM JSON files, templates, Terraform inputs or directories."),
        nic: str = typer.Option(..., "--nic", help="NIC or VM, by name or ARM id."),
        service_tags: Path | None = ServiceTagsOption,
        subscription: str | None = SubscriptionOption,
        var: list[str] | None = VarOption,
        var_file: list[Path] | None = VarFileOption,
        parameters_file: list[Path] | None = TemplateParametersOption,
        parameter: list[str] | None = TemplateParameterOption,
        resource_group: str | None = ResourceGroupOption,
        location: str | None = LocationOption,
        json: bool = JsonOption,
    ) -> None:
        """Effective routes of a NIC: system routes (VNet, peerings, Internet, None), overridden by user routes."""
        from opennsg.arm.routes import effective_route_table_to_arm
        from opennsg.cli.main import load_topology
        from opennsg.engine import Engine

        with bad_input_exits(json):
            template = template_inputs(parameters_file, parameter, subscription, resource_group, location)
            topology = load_topology(paths, service_tags, subscription, var, var_file, template)
            found = Engine(topology).effective_routes(nic)
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
