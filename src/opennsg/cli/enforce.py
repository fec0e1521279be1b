"""``opennsg enforce`` (one NIC's chain as nftables on a host or in a namespace) and ``opennsg lab`` (a topology
rebuilt from network namespaces)."""

from __future__ import annotations

import json as jsonlib
import signal
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from opennsg.cli.common import (
    JsonOption,
    ServiceTagsOption,
    bad_input_exits,
    fail,
    load_inputs,
    load_service_tags,
    print_json,
    stderr,
    stdout,
)
from opennsg.model.errors import ArmError
from opennsg.model.validation.codes import Code

lab_app = typer.Typer(
    help="Rebuild a topology from Linux network namespaces: real packets, real nftables, Azure's verdicts.",
    no_args_is_help=True,
)
LabArgument = typer.Argument(..., help="The lab's name (1–10 lower-case letters or digits).")
PathsArgument = typer.Argument(..., help="ARM JSON files or directories (az -o json, ARM lists, templates).")


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
    app.command("enforce")(enforce)


def enforce(
    paths: list[Path] | None = typer.Argument(None, help="ARM JSON files or directories (not with --service)."),
    nic: str = typer.Option(..., "--nic", help="The NIC to enforce: name or ARM id (ARM id with --service)."),
    netns: str | None = typer.Option(None, "--netns", help="Network namespace to enforce in (default: this host's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the nftables JSON ruleset instead of applying it."),
    service: str | None = typer.Option(None, "--service", help="Follow an 'opennsg serve' URL: re-apply on change."),
    token: str | None = typer.Option(None, "--token", envvar="OPENNSG_TOKEN", help="Bearer token for --service."),
    interval: float = typer.Option(0.25, "--interval", min=0.05, help="With --service: seconds between polls."),
    once: bool = typer.Option(False, "--once", help="With --service: apply once and exit."),
    service_tags: Path | None = ServiceTagsOption,
    json: bool = JsonOption,
) -> None:
    """Enforce one NIC's chain (admin rules, subnet NSG, NIC NSG, platform rules) with nftables, atomically.

    A ruleset that fails to apply leaves the previous one in force (exit 2); a namespace that had none is closed.
    """
    from opennsg.enforce.apply import apply_ruleset
    from opennsg.enforce.compile import compile_policy
    from opennsg.enforce.kernel import netns_exists
    from opennsg.engine import Engine

    with bad_input_exits(json):
        if netns is not None and not netns_exists(netns):
            fail(ArmError(Code.NETNS_NOT_FOUND, f"There is no network namespace named '{netns}'.", netns), json)
        if service is not None:
            if paths:
                fail(ArmError(Code.INVALID_PARAMETER, "Give configuration PATHs or --service, not both."), json)
            if not token:
                fail(ArmError(Code.MISSING_REQUIRED_PARAMETER, "--service needs --token (or OPENNSG_TOKEN)."), json)
            _follow(service, token or "", nic, netns, interval, once, service_tags, dry_run, json)
            return
        if not paths:
            fail(ArmError(Code.MISSING_REQUIRED_PARAMETER, "Give configuration PATHs, or --service URL."), json)
        topology = load_inputs(paths or [], service_tags)
        engine = Engine(topology)
        target = engine.nic(nic)
        ruleset = compile_policy(engine.policy(target))
        if dry_run:
            print_json(ruleset.document())
            return
        applied = apply_ruleset(ruleset, netns)
    result = {"nic": target.id, "netns": netns, "applied": True, "rules": applied.rule_count, "digest": applied.digest}
    if json:
        print_json(result)
    else:
        where = f"namespace {netns}" if netns else "this host"
        stdout.print(f"Enforcing {target.name} in {where}: {applied.rule_count} nftables rules ({applied.digest}).")


def _follow(
    service: str,
    token: str,
    nic: str,
    netns: str | None,
    interval: float,
    once: bool,
    service_tags: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    from opennsg.enforce.follow import FollowEvent, ServiceSource, follow

    if dry_run:
        fail(ArmError(Code.INVALID_PARAMETER, "--dry-run cannot be combined with --service."), as_json)
    source = ServiceSource(service, token, nic)
    tags = load_service_tags(service_tags)
    stopping = {"stop": False, "applied": False}

    def on_signal(_signum: int, _frame: Any) -> None:
        stopping["stop"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def report(event: FollowEvent) -> None:
        if event.kind == "applied":
            stopping["applied"] = True
        if as_json:
            line: dict[str, Any] = {"event": event.kind, "message": event.message}
            if event.applied is not None:
                line.update({"nic": event.applied.nic_id, "rules": event.applied.rule_count})
                line["digest"] = event.applied.digest
            sys.stdout.write(jsonlib.dumps(line) + "\n")
            sys.stdout.flush()
        else:
            (stdout if event.kind == "applied" else stderr).print(event.message, markup=False)
        if once and event.kind in ("applied", "invalid", "unreachable"):
            stopping["stop"] = True

    try:
        follow(source, nic, netns, tags, interval, report, lambda: stopping["stop"])
    finally:
        source.close()
    if once and not stopping["applied"]:
        raise typer.Exit(2)


@lab_app.command("up")
def lab_up(
    paths: list[Path] = PathsArgument,
    name: str = typer.Option(..., "--name", help="The lab's name: its namespaces are NAME-fab, NAME-inet, NAME-n1…"),
    internet_address: list[str] = typer.Option(
        [], "--internet-address", help="An address of the lab's Internet (repeatable; default: a few public ones)."
    ),
    service_tags: Path | None = ServiceTagsOption,
    json: bool = JsonOption,
) -> None:
    """Build the lab: a namespace per NIC enforcing its chain, a fabric routing as Azure, an Internet."""
    from opennsg.enforce import lab as labs

    with bad_input_exits(json):
        topology = load_inputs(paths, service_tags)
        built = labs.lab_up(paths, name, topology, tuple(internet_address))
    if json:
        print_json(built.to_json())
        return
    table = Table(title=f"Lab {name}")
    for column in ("NIC", "namespace", "addresses", "public addresses", "rules"):
        table.add_column(column)
    for nic in built.plan.nics:
        applied = built.rulesets.get(nic.id)
        table.add_row(
            nic.name,
            nic.netns,
            ", ".join(nic.addresses),
            ", ".join(nic.public_addresses) or "-",
            str(applied.rule_count if applied else 0),
        )
    stdout.print(table)
    stdout.print(f"Internet: {built.plan.internet} ({', '.join(built.plan.internet_addresses)})")


@lab_app.command("apply")
def lab_apply(
    name: str = LabArgument,
    paths: list[Path] = PathsArgument,
    service_tags: Path | None = ServiceTagsOption,
    json: bool = JsonOption,
) -> None:
    """Re-compile after a configuration change and apply to every NIC; flushConnection ends flows now denied."""
    from opennsg.enforce import lab as labs

    with bad_input_exits(json):
        topology = load_inputs(paths, service_tags)
        updated, flushed = labs.lab_apply(name, paths, topology)
    nics = {
        nic.id: {
            "netns": nic.netns,
            "rules": updated.rulesets[nic.id].rule_count,
            "digest": updated.rulesets[nic.id].digest,
            "flushedConnections": flushed.get(nic.id, 0),
        }
        for nic in updated.plan.nics
    }
    if json:
        print_json({"lab": name, "nics": nics})
        return
    table = Table(title=f"Lab {name}: applied")
    for column in ("NIC", "namespace", "rules", "flushed connections"):
        table.add_column(column)
    for nic in updated.plan.nics:
        entry = nics[nic.id]
        table.add_row(nic.name, nic.netns, str(entry["rules"]), str(entry["flushedConnections"]))
    stdout.print(table)


@lab_app.command("down")
def lab_down(name: str = LabArgument, json: bool = JsonOption) -> None:
    """Remove every namespace (and so every link, route and ruleset) the lab created."""
    from opennsg.enforce import lab as labs

    with bad_input_exits(json):
        removed = labs.lab_down(name)
    if json:
        print_json({"lab": name, "removed": removed})
    else:
        stdout.print(f"Lab {name} removed ({len(removed)} namespaces).")


@lab_app.command("status")
def lab_status(name: str = LabArgument, json: bool = JsonOption) -> None:
    """Namespaces, rulesets in force and connection counts of a lab."""
    from opennsg.enforce import lab as labs

    with bad_input_exits(json):
        status = labs.lab_status(name)
    if json:
        print_json(status)
        return
    table = Table(title=f"Lab {name}")
    for column in ("namespace", "role", "present", "addresses", "ruleset", "connections"):
        table.add_column(column)
    for entry in status["namespaces"]:
        ruleset = entry.get("ruleset")
        shown = "-" if ruleset is None else (f"{ruleset['rules']} rules" if ruleset["applied"] else "[red]absent[/]")
        table.add_row(
            entry["netns"],
            entry["role"],
            "yes" if entry["present"] else "[red]no[/]",
            ", ".join(entry.get("addresses", [])) or "-",
            shown,
            str(entry["connections"]),
        )
    stdout.print(table)


@lab_app.command("flowlogs")
def lab_flowlogs(
    name: str = LabArgument,
    out: Path = typer.Option(..., "--out", help="Folder to write the flow logs under (Network Watcher blob layout)."),
    json: bool = JsonOption,
) -> None:
    """NSG flow logs v2 and VNet flow logs from the lab's kernel events (conntrack, logged drops)."""
    from opennsg.enforce.flowlogs import write_lab_flowlogs

    with bad_input_exits(json):
        written, tuples = write_lab_flowlogs(name, out)
    if json:
        print_json({"lab": name, "out": str(out), "files": [str(p) for p in written], "flowTuples": tuples})
    else:
        stdout.print(f"{tuples} flow tuples in {len(written)} files under {out}.")
