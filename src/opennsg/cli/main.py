"""The ``opennsg`` command: validate, verify, effective, show — plus the commands other layers register."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from opennsg import __version__
from opennsg.cli import common
from opennsg.cli.common import (
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    input_options,
    print_json,
    report_problems,
    stdout,
)
from opennsg.cli.guard import GuardedGroup
from opennsg.model.enums import Access, Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import name_of
from opennsg.model.topology import Topology
from opennsg.model.validation import topology_notes
from opennsg.model.validation.codes import Code

# numpy's OpenBLAS starts a thread per CPU when numpy is imported (0.05-0.1 CPU-s of each command importing it, on
# two cores); nothing here multiplies matrices (the classifier's kernels are elementwise): one, unless chosen.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if TYPE_CHECKING:
    from rich.table import Table
    from typer.models import CommandInfo, TyperInfo

    from opennsg.batch import ReadAhead
    from opennsg.cli.prepared import Prepared

#: This module's own commands.
OWN_COMMANDS = ("validate", "verify", "effective", "show")
#: The outer layers' commands (the service, the data plane's scenarios, flow logs, the web UI, ...), by the module of
#: ``opennsg.cli`` whose ``register(app)`` adds them, in the order they are listed.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("serve", "token"),
    "simulate": ("simulate",),
    "flowlogs": ("flowlogs",),
    "terraform": ("export",),
    "servicetags": ("service-tags",),
    "routes": ("routes",),
    "enforce": ("enforce", "lab"),
    "ui": ("ui",),
    "analysis": ("diff", "lint", "reach"),
}


def modules_for(args: Sequence[str]) -> frozenset[str] | None:
    """The command modules a process running ``args`` needs: none for one of ``OWN_COMMANDS``, the one registering
    the command named first, or None for all of them (help, shell completion, a command no module has)."""
    if not args or any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None
    if args[0] in OWN_COMMANDS:
        return frozenset()
    for module, names in COMMAND_MODULES.items():
        if args[0] in names:
            return frozenset({module})
    return None


class _Command(typer.Typer):
    """The command as a process (``opennsg``, ``python -m opennsg``), which a command may end at once
    (``common.end_at_once``); tests call its click group instead, and go on.

    The modules of ``COMMAND_MODULES`` are imported and registered when typer first reads the commands: all of
    them, except in a process running one command (``__call__``), which imports only its own (importing every
    module, rich's tables among what they import, and building every command's options took ~40 ms of each
    start)."""

    def __init__(self, **kwargs: Any) -> None:
        self._unregistered: list[str] = []
        self._only: frozenset[str] | None = None
        super().__init__(**kwargs)

    @property
    def registered_commands(self) -> list[CommandInfo]:
        self._register()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[CommandInfo]) -> None:
        self._commands = value

    @property
    def registered_groups(self) -> list[TyperInfo]:
        self._register()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[TyperInfo]) -> None:
        self._groups = value

    def register_later(self, modules: Sequence[str]) -> None:
        """Register ``modules`` (of ``opennsg.cli``) when the commands are first read."""
        self._unregistered.extend(modules)

    def _register(self) -> None:
        wanted = [m for m in self._unregistered if self._only is None or m in self._only]
        self._unregistered = [m for m in self._unregistered if m not in wanted]  # registering reads them again
        for module in wanted:
            importlib.import_module(f"opennsg.cli.{module}").register(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        common.end_at_once(False)
        common.own_process(True)
        given = kwargs.get("args", args[0] if args else None)
        self._only = modules_for(sys.argv[1:] if given is None else list(given))
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            common.end_now(exc.code)
            raise
        finally:
            self._only = None
            common.own_process(False)


app = _Command(
    name="opennsg",
    cls=GuardedGroup,
    help="Azure Network Security Groups, exactly, outside Azure.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        stdout.print(f"opennsg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """Azure Network Security Groups, exactly, outside Azure."""


PathsArgument = typer.Argument(
    ...,
    help="ARM JSON files or directories (az -o json, ARM lists, templates), Terraform modules (.tf files or "
    "directories), terraform show -json plans and state.",
)


@app.command()
@input_options
def validate(
    paths: list[Path] = PathsArgument,
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """Check ARM JSON against Azure's validation rules and limits; report every problem at once."""
    input_notes: list[str] = []  # the placeholder subscription of Terraform ids, said with the answer
    with bad_input_exits(json):
        topology = inputs.load(paths, notes=input_notes)
    counts = {
        "networkSecurityGroups": len(topology.nsgs),
        "securityRules": sum(len(n.security_rules) for n in topology.nsgs.values()),
        "applicationSecurityGroups": len(topology.asgs),
        "virtualNetworks": len(topology.vnets),
        "subnets": sum(len(v.subnets) for v in topology.vnets.values()),
        "networkInterfaces": len(topology.nics),
        "virtualMachines": len(topology.vms),
        "routeTables": len(topology.route_tables),
        **avnm_counts(topology),
    }
    notes = [*input_notes, *topology_notes(topology)]
    if json:
        print_json({"valid": True, "resources": counts, "notes": notes})
        return
    from rich.table import Table

    table = Table(title="Valid", show_header=True)
    table.add_column("resource")
    table.add_column("count", justify="right")
    for kind, count in counts.items():
        table.add_row(kind, str(count))
    stdout.print(table)
    for note in notes:
        stdout.print(f"note: {note}", markup=False, highlight=False)


def avnm_counts(topology: Topology) -> dict[str, int]:
    """Counts of the AVNM and private-endpoint resources, only those present (NSG-only estates print as before)."""
    counts = {
        "privateEndpoints": len(topology.private_endpoints),
        "natGateways": len(topology.nat_gateways),
        "loadBalancers": len(topology.load_balancers),
        "networkManagers": len(topology.network_managers),
        "networkGroups": len(topology.network_groups),
        "staticMembers": len(topology.static_members),
        "securityAdminConfigurations": len(topology.security_admin_configurations),
        "ruleCollections": len(topology.admin_rule_collections),
        "securityAdminRules": len(topology.admin_rules),
        "deploymentStatuses": len(topology.deployment_statuses),
        "managementGroups": len(topology.management_groups),
        "effectiveAdminRuleAnswers": len(topology.effective_admin_rules),
    }
    return {k: v for k, v in counts.items() if v}


@app.command()
@input_options
def verify(
    paths: list[Path] = PathsArgument,
    nic: str | None = typer.Option(None, "--nic", help="NIC or VM, by name or ARM id."),
    direction: str | None = typer.Option(None, "--direction", help="Inbound or Outbound."),
    protocol: str = typer.Option("TCP", "--protocol", help="TCP, UDP, ICMP, ICMPv6, ESP, AH or an IP protocol number."),
    local: str | None = typer.Option(None, "--local", help="Local IP:PORT (the NIC's address)."),
    remote: str | None = typer.Option(None, "--remote", help="Remote IP:PORT."),
    flows: Path | None = typer.Option(None, "--flows", help="Flows file: JSON lines, CSV or Parquet (by extension)."),
    output: Path | None = typer.Option(None, "--output", help="With --flows: verdicts file (format by extension)."),
    flows_engine: str = typer.Option("local", "--engine", help="With --flows: local (this process, default) or spark."),
    master: str | None = typer.Option(
        None,
        "--master",
        envvar="OPENNSG_SPARK_MASTER",
        help="With --engine spark: the Spark master URL (spark://host:7077, local[4], …; default local[*]).",
    ),
    no_cache: bool = typer.Option(
        False,
        "--no-cache",
        help="Neither read nor store loaded inputs or (with --flows) compiled NSG programs in the cache directory "
        "(as OPENNSG_NO_CACHE=1); the verdicts are the same.",
    ),
    expect: str | None = typer.Option(None, "--expect", help="Allow or Deny: exit 1 when the verdict differs."),
    detail: bool = typer.Option(False, "--detail", help="Show every rule's per-field match result."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """IP flow verify: the verdict for a flow at a NIC, the rule and NSG that decided, and the chain evaluated."""
    from opennsg.engine.flow import Flow, parse_endpoint, parse_flow_protocol

    with bad_input_exits(json):
        if flows_engine not in ("local", "spark"):
            message = f"--engine must be local or spark, not '{flows_engine}'."
            raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, message)])
        if flows_engine == "spark" and flows is None:
            raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, "--engine spark decides a --flows FILE; give one.")])
        from opennsg.cli import prepared

        # every ending of a local verify has written its files and its report: nothing is left for the teardown
        common.end_at_once(flows_engine == "local")
        if flows is not None:
            # Spark's driver keeps the collector (py4j's objects); the local run makes arrays, not cycles, and
            # leaves the collector off when the process ends with it
            paused = prepared.collector_paused(resume=not common.ends_process())
            with paused if flows_engine == "local" else contextlib.nullcontext():
                _system_memory_pool()  # before anything imports pyarrow
                reading = None
                if flows_engine == "local":  # the first batches are read while the inputs load
                    from opennsg.batch import read_ahead

                    reading = read_ahead(flows)
                try:
                    _verify_flows(
                        prepared.load(paths, inputs, cache=not no_cache),
                        flows,
                        output,
                        json,
                        spark_master=_spark_master(master) if flows_engine == "spark" else None,
                        disk_cache=False if no_cache else None,
                        reading=reading,
                    )
                finally:
                    if reading is not None:
                        reading.close()
            return
        loaded = prepared.load(paths, inputs, cache=not no_cache)
        problems: list[ArmError] = []
        for flag, value in (("--nic", nic), ("--direction", direction), ("--local", local), ("--remote", remote)):
            if not value:
                problems.append(
                    ArmError(Code.MISSING_REQUIRED_PARAMETER, f"{flag} is required (or give --flows FILE).")
                )
        wanted = Access.parse(expect) if expect else None
        if expect and wanted is None:
            problems.append(ArmError(Code.INVALID_PARAMETER, f"--expect must be Allow or Deny, not '{expect}'."))
        parsed_direction = Direction.parse(direction) if direction else None
        if direction and parsed_direction is None:
            problems.append(
                ArmError(Code.INVALID_PARAMETER, f"--direction must be Inbound or Outbound, not '{direction}'.")
            )
        proto = parse_flow_protocol(protocol)
        if proto is None:
            problems.append(
                ArmError(Code.INVALID_PARAMETER, f"--protocol '{protocol}' is not a protocol name or number.")
            )
        if problems:
            raise OpenNsgError(problems)
        assert nic and local and remote and isinstance(parsed_direction, Direction) and proto is not None
        local_ip, local_port = parse_endpoint(local, "--local")
        remote_ip, remote_port = parse_endpoint(remote, "--remote")
        try:
            flow = Flow.make(parsed_direction, proto, local_ip, local_port, remote_ip, remote_port)
        except ValueError as exc:
            raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, f"Invalid flow: {exc}.")]) from None
        engine = loaded.engine()
        verdict = engine.verify(nic, flow, detail=detail)
        no_egress = engine.egress(nic, flow)
        outside = engine.outside_internet(nic, flow.remote_ip)
        loaded.keep(engine)
    from opennsg.arm.netwatcher import verdict_to_json

    result = verdict_to_json(verdict, detail)
    if no_egress is not None:
        result["egress"] = no_egress
    if outside is not None:
        result["notes"] = [str(outside)]
    if json:
        print_json(result)
    else:
        _print_verdict(result)
    if wanted is not None and verdict.access is not wanted:
        common.expectation_failed(
            f"expected {wanted.value}, got {verdict.access.value} ({verdict.rule_name or 'no rule'})",
            {"expected": wanted.value, "actual": verdict.access.value, "ruleName": verdict.rule_name},
            json,
        )


def _spark_master(given: str | None) -> str:
    from opennsg.flowlogs.spark import DEFAULT_MASTER

    return given or DEFAULT_MASTER


def _verify_flows(
    loaded: Prepared,
    flows: Path,
    output: Path | None,
    as_json: bool,
    *,
    spark_master: str | None = None,
    disk_cache: bool | None = None,
    reading: ReadAhead | None = None,
) -> None:
    """``--flows``: verdicts in input order; stdout carries only the verdict lines unless ``--output`` is given."""
    from opennsg.batch import verify_flows_file
    from opennsg.batch.parse import FlowsFileError
    from opennsg.extras import pyarrow_without_pandas
    from opennsg.model.files import InputError

    if spark_master is None:  # Spark's driver converts through pandas
        pyarrow_without_pandas()
    engine = loaded.engine(disk_cache=disk_cache)
    try:
        summary = verify_flows_file(
            loaded.topology,
            flows,
            output,
            progress=output is not None,
            engine=engine,
            spark_master=spark_master,
            reading=reading,
        )
    except InputError as exc:
        if exc.missing:
            raise OpenNsgError(
                [ArmError(Code.FILE_NOT_FOUND, f"Flows file {flows} does not exist.", str(flows))]
            ) from None
        raise OpenNsgError([ArmError(Code.INVALID_FLOWS_FILE, str(exc), str(flows))]) from None
    except FlowsFileError as exc:
        raise OpenNsgError([ArmError(Code.INVALID_FLOWS_FILE, str(exc), str(flows))]) from None
    except FileNotFoundError:
        raise OpenNsgError([ArmError(Code.FILE_NOT_FOUND, f"Flows file {flows} does not exist.", str(flows))]) from None
    except (OSError, ValueError) as exc:  # unknown extension, unreadable or malformed file (pyarrow raises these)
        raise OpenNsgError([ArmError(Code.INVALID_FLOWS_FILE, f"{flows}: {exc}", str(flows))]) from None
    loaded.keep(engine)
    if summary.errors:  # each bad row has its error in place in the output; stderr says the run was not clean
        message = (
            f"{summary.errors} of {summary.flows} flows could not be decided; each has its error in place in the "
            f"verdicts ({output or 'stdout'})."
        )
        report_problems([ArmError(Code.INVALID_FLOWS, message, str(flows))], as_json)
    if output is not None:
        if as_json:
            print_json(summary.to_json())
        else:
            stdout.print(
                f"{summary.flows} flows: {summary.allowed} allowed, {summary.denied} denied, "
                f"{summary.errors} bad rows, in {summary.seconds:.2f} s → {output}",
                markup=False,
            )
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _system_memory_pool() -> None:
    """Arrow's buffers from the C library's allocator, unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses: for a command
    streaming a file through short-lived batches, mimalloc (pyarrow's default) kept 40-80 MB more resident at the
    peak for the same CPU time (2 M flows: Parquet 323 -> 240 MB, CSV 310 -> 299, JSON lines 361 -> 318)."""
    import os

    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:
        return
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "system"  # read by Arrow when its first buffer is allocated
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())  # in case one already was


def _print_verdict(result: dict[str, Any]) -> None:
    colour = "green" if result["access"] == "Allow" else "red"
    stdout.print(f"[bold {colour}]{result['access']}[/]  {result.get('ruleName') or '(no NSG applies)'}")
    if result["networkSecurityGroupId"]:
        stdout.print(f"decided by {result['networkSecurityGroupId']}\napplied to {result['appliedTo']}", markup=False)
    if result.get("egress") == "none":
        stdout.print(
            "no egress path: the subnet is private (defaultOutboundAccess false) and has no NAT gateway, the NIC no "
            "public IP and no route leads to an appliance; the rules allow what the platform cannot send",
            markup=False,
        )
    for note in result.get("notes", ()):
        stdout.print(f"note: {note}", markup=False, highlight=False)
    for step in result["evaluatedNetworkSecurityGroups"]:
        matched = step["matchedRule"]
        stage = "admin rules" if step["association"] == "networkManager" else step["association"]
        stdout.print(
            f"  {stage:<16} {name_of(step['networkSecurityGroupId']):<24} "
            f"{matched['ruleName'] + ' → ' + matched['action'] if matched else '(no rule consulted matched)'}",
            markup=False,
        )
        if "rulesEvaluationResult" in step:
            from rich.table import Table

            table = Table(show_header=True, box=None, padding=(0, 1))
            for col in ("rule", "protocol", "source", "srcPort", "destination", "dstPort"):
                table.add_column(col)
            for r in step["rulesEvaluationResult"]:
                marks = [
                    "✓" if r[k] else "✗"
                    for k in (
                        "protocolMatched",
                        "sourceMatched",
                        "sourcePortMatched",
                        "destinationMatched",
                        "destinationPortMatched",
                    )
                ]
                table.add_row(r["name"], *marks)
            stdout.print(table)


@app.command()
@input_options
def effective(
    paths: list[Path] = PathsArgument,
    nic: str = typer.Option(..., "--nic", help="NIC or VM, by name or ARM id."),
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """Effective security rules of a NIC, in the shape of Azure's effectiveNetworkSecurityGroups (tags expanded)."""
    from opennsg.arm.netwatcher import effective_groups_to_arm
    from opennsg.engine import Engine

    with bad_input_exits(json):
        topology = inputs.load(paths)
        groups = effective_groups_to_arm(Engine(topology).effective_rules(nic), topology.service_tags)
    if json:
        print_json({"value": groups})
        return
    for group in groups:
        association = group["association"]
        where = next(iter(association.values()))["id"]
        table = _rule_table(f"{name_of(group['networkSecurityGroup']['id'])} on {name_of(where)}")
        for rule in group["effectiveSecurityRules"]:
            table.add_row(
                str(rule["priority"]),
                rule["direction"],
                rule["access"],
                rule["protocol"],
                rule["name"],
                _joined(rule, "sourceAddressPrefix"),
                _joined(rule, "sourcePortRange"),
                _joined(rule, "destinationAddressPrefix"),
                _joined(rule, "destinationPortRange"),
            )
        stdout.print(table)


def _rule_table(title: str) -> Table:
    """A table of rules whose cells wrap instead of truncating (names and prefixes must stay readable)."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("priority", "direction", "access", "protocol"):
        table.add_column(col, no_wrap=True)
    for col in ("name", "source", "srcPorts", "dest", "dstPorts"):
        table.add_column(col, overflow="fold")
    return table


def _joined(rule: dict[str, Any], singular: str) -> str:
    """A slot of an effective rule for people: its prefixes, its ports, or its ASGs by name."""
    plural = rule.get(singular + "es") or rule.get(singular + "s") or []
    if plural:
        return ", ".join(plural)
    if rule.get(singular):
        return str(rule[singular])
    side = "source" if singular.startswith("source") else "destination"
    return ", ".join(_short(a["id"]) for a in rule.get(f"{side}ApplicationSecurityGroups") or [])


@app.command()
@input_options
def show(
    paths: list[Path] = PathsArgument,
    inputs: InputOptions = NO_INPUTS,
    json: bool = JsonOption,
) -> None:
    """AVNM security admin configurations (evaluated first), then NSGs, with their rules and associations."""
    with bad_input_exits(json):
        topology = inputs.load(paths)
    nsgs: list[dict[str, Any]] = []
    for nsg in sorted(topology.nsgs.values(), key=lambda n: n.id.casefold()):
        nsgs.append(
            {
                "id": nsg.id,
                "name": nsg.name,
                "flushConnection": nsg.flush_connection,
                "subnets": [s.id for s in topology.subnets_using_nsg(nsg.id)],
                "networkInterfaces": [n.id for n in topology.nics_using_nsg(nsg.id)],
                "rules": [
                    {
                        "name": r.name,
                        "default": r.is_default,
                        "priority": r.priority,
                        "direction": r.direction.value,
                        "access": r.access.value,
                        "protocol": r.protocol.value,
                        "source": [*r.source_addresses, *r.source_asgs],
                        "sourcePorts": list(r.source_ports),
                        "destination": [*r.destination_addresses, *r.destination_asgs],
                        "destinationPorts": list(r.destination_ports),
                    }
                    for d in (Direction.INBOUND, Direction.OUTBOUND)
                    for r in nsg.rules(d)
                ],
            }
        )
    admin = _admin_configurations(topology)
    if json:
        print_json({"networkSecurityGroups": nsgs, "securityAdminConfigurations": admin})
        return
    _print_admin_configurations(admin)
    for item in nsgs:
        attached = [name_of(s) for s in item["subnets"]] + [f"{name_of(n)} (NIC)" for n in item["networkInterfaces"]]
        table = _rule_table(f"{item['name']}  →  {', '.join(attached) or 'not associated'}")
        for r in item["rules"]:
            _add_rule_row(table, r, r["source"], r["destination"], dim=r["default"])
        stdout.print(table)


def _admin_configurations(topology: Topology) -> list[dict[str, Any]]:
    """Every security admin configuration with its rule collections and rules (semantics §11.1), and where it is
    deployed: the regions of its ``Deployed`` status entries, or every region when its manager has none (§11.6)."""
    out: list[dict[str, Any]] = []
    for configuration in sorted(topology.security_admin_configurations.values(), key=lambda c: c.id.casefold()):
        manager_id = configuration.network_manager_id
        if topology.has_deployment_status(manager_id):
            regions = sorted(
                {
                    status.region
                    for status in topology.deployment_statuses
                    if topology.configuration_deployed(configuration.id, status.region)
                }
            )
            deployed: list[str] | str = regions
        else:
            deployed = "all regions (no deployment status given)"
        collections = []
        for collection in topology.rule_collections_of(configuration.id):
            rules = sorted(topology.admin_rules_of(collection.id), key=lambda r: (r.priority, r.name.casefold()))
            collections.append(
                {
                    "id": collection.id,
                    "name": collection.name,
                    "appliesToGroups": list(collection.applies_to_groups),
                    "rules": [
                        {
                            "name": r.name,
                            "priority": r.priority,
                            "direction": r.direction.value,
                            "access": r.access.value,
                            "protocol": r.protocol.value,
                            "sources": [i.address_prefix for i in r.sources] or ["*"],
                            "sourcePorts": list(r.source_port_ranges) or ["0-65535"],
                            "destinations": [i.address_prefix for i in r.destinations] or ["*"],
                            "destinationPorts": list(r.destination_port_ranges) or ["0-65535"],
                        }
                        for r in rules
                    ],
                }
            )
        out.append(
            {
                "id": configuration.id,
                "name": configuration.name,
                "networkManagerId": manager_id,
                "deployedIn": deployed,
                "applyOnNetworkIntentPolicyBasedServices": [
                    m.value for m in configuration.apply_on_network_intent_policy_based_services
                ],
                "ruleCollections": collections,
            }
        )
    return out


def _print_admin_configurations(configurations: list[dict[str, Any]]) -> None:
    for configuration in configurations:
        deployed = configuration["deployedIn"]
        where = deployed if isinstance(deployed, str) else ", ".join(deployed) or "not deployed"
        for collection in configuration["ruleCollections"]:
            groups = ", ".join(_short(g) for g in collection["appliesToGroups"]) or "no groups"
            title = (
                f"admin rules {_short(configuration['networkManagerId'])}/{configuration['name']}/"
                f"{collection['name']}  →  {groups}  (deployed: {where}; evaluated before NSGs)"
            )
            table = _rule_table(title)
            for r in collection["rules"]:
                _add_rule_row(table, r, r["sources"], r["destinations"])
            stdout.print(table)


def _add_rule_row(
    table: Table, rule: dict[str, Any], sources: list[str], destinations: list[str], dim: bool = False
) -> None:
    """One NSG or admin rule of ``show`` as a row of ``_rule_table``."""
    table.add_row(
        str(rule["priority"]),
        rule["direction"],
        rule["access"],
        rule["protocol"],
        rule["name"],
        ", ".join(_short(x) for x in sources),
        ", ".join(rule["sourcePorts"]),
        ", ".join(_short(x) for x in destinations),
        ", ".join(rule["destinationPorts"]),
        style="dim" if dim else None,
    )


def _short(value: str) -> str:
    """ASG ids shown by name."""
    return name_of(value) if value.startswith("/") else value


app.register_later(list(COMMAND_MODULES))

__all__ = ["app"]
