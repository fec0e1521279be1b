"""``opennsg export``: any input (ARM, Terraform, plans) written back as ARM JSON or as an azurerm module."""

from __future__ import annotations

import json as json_module
from pathlib import Path

import typer

from opennsg.cli.common import (
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    input_options,
    print_json,
    stdout,
    writing_output,
)
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError

FORMATS = ("terraform", "arm")


def register(app: typer.Typer) -> None:
    app.command(name="export")(export)


def _split(paths: list[Path], output: Path | None) -> tuple[list[Path], Path]:
    """Inputs and the output directory: ``--output``, else (as ``cp SRC... DEST``) the one path that does not
    exist yet or is an empty directory, else the last path."""
    if output is not None:
        return paths, output
    if len(paths) < 2:
        raise OpenNsgError(
            [
                ArmError(
                    Code.MISSING_REQUIRED_PARAMETER, "Give the inputs and the output directory: export INPUT... DIR."
                )
            ]
        )
    fresh = [p for p in paths if not p.exists() or (p.is_dir() and not any(p.iterdir()))]
    chosen = fresh[0] if len(fresh) == 1 else paths[-1]
    return [p for p in paths if p is not chosen], chosen


@input_options
def export(
    paths: list[Path] = typer.Argument(..., help="Inputs (ARM JSON, Terraform modules, plan/state JSON), then DIR."),
    output_format: str = typer.Option("terraform", "--format", help="terraform (an azurerm module) or arm (JSON)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Output directory (default: the last path)."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """Write the network as an equivalent azurerm Terraform module (main.tf) or as ARM JSON (topology.json)."""
    from opennsg.arm import export_topology
    from opennsg.terraform.export import export_module

    with bad_input_exits(json):
        if output_format not in FORMATS:
            message = f"--format must be one of {', '.join(FORMATS)}, not '{output_format}'."
            raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, message)])
        sources, directory = _split(paths, output)
        if directory.exists() and not directory.is_dir():
            raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, f"{directory} exists and is not a directory.")])
        topology = inputs.load(sources)
        with writing_output("DIR", directory, json):
            if output_format == "terraform":
                written = export_module(topology, directory)
            else:
                directory.mkdir(parents=True, exist_ok=True)
                written = directory / "topology.json"
                written.write_text(json_module.dumps(export_topology(topology), indent=2) + "\n", encoding="utf-8")
    counts = {
        "networkSecurityGroups": len(topology.nsgs),
        "applicationSecurityGroups": len(topology.asgs),
        "virtualNetworks": len(topology.vnets),
        "routeTables": len(topology.route_tables),
        "networkInterfaces": len(topology.nics),
        "virtualMachines": len(topology.vms),
        "publicIPAddresses": len(topology.public_ips),
    }
    if json:
        print_json({"format": output_format, "files": [str(written)], "resources": counts})
    else:
        stdout.print(f"wrote {written} ({sum(counts.values())} resources, {output_format})", markup=False)
