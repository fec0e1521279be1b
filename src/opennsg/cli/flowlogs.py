"""``opennsg flowlogs replay|stats``: real NSG/VNet flow logs against a proposed configuration, and at a glance."""

from __future__ import annotations

import contextlib
import json as json_module
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer

from opennsg.cli import common
from opennsg.cli.common import (
    EXIT_BAD_INPUT,
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    fail,
    input_options,
    print_json,
    stderr,
    stdout,
    writing_output,
)
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import name_of

if TYPE_CHECKING:  # the reader pulls in pyarrow and numpy: imported when a flowlogs command runs
    from opennsg.flowlogs.filtering import FlowFilter
    from opennsg.flowlogs.reader import FlowLogReader, ReadStats

flowlogs_app = typer.Typer(help="Read NSG v1/v2 and VNet flow logs: replay them against a config, or summarise them.")
LogsArgument = typer.Argument(..., help="Flow log files (PT1H.json) or folders of them (blob layout).")
ReplayConfigOption = typer.Option(
    ..., "--config", help="The proposed configuration (ARM JSON or Terraform, plan JSON)."
)
EngineOption = typer.Option(
    "local",
    "--engine",
    help="local (this process, default) or spark (pyspark); 'duckdb' is a deprecated alias of local.",
)
MasterOption = typer.Option(
    None,
    "--master",
    envvar="OPENNSG_SPARK_MASTER",
    help="With --engine spark: the Spark master URL (spark://host:7077, local[4], …; default local[*]).",
)
FilterOption = typer.Option(
    None,
    "--filter",
    help="Only the tuples a VNet flow log filter selects (enabledFilteringCriteria syntax, "
    "e.g. 'DstPort=22,3389 && Direction=Inbound || Protocol=UDP').",
)
StatsConfigOption = typer.Option(None, "--config", help="Config whose rules never hit are listed.")
PngOption = typer.Option(None, "--png", help="Draw allowed/denied tuples per minute into this PNG.")
TopOption = typer.Option(10, "--top", min=1, help="How many top talkers.")
AllowProblemsOption = typer.Option(
    False,
    "--allow-problems",
    help="Exit 0 although some records or tuples could not be read (they are still listed on stderr).",
)
MAX_PROBLEMS_SHOWN = 20


def register(app: typer.Typer) -> None:
    app.add_typer(flowlogs_app, name="flowlogs")


def _report_problems(read: ReadStats) -> None:
    if not read.problems:
        return
    stderr.print(
        f"[yellow]{read.malformed_records} malformed record(s), {read.malformed_tuples} malformed tuple(s) skipped:[/]"
    )
    for problem in read.problems[:MAX_PROBLEMS_SHOWN]:
        stderr.print(f"  {problem.file} {problem.position}: {problem.message}", markup=False)
    if len(read.problems) > MAX_PROBLEMS_SHOWN:
        stderr.print(f"  … and {len(read.problems) - MAX_PROBLEMS_SHOWN} more (--json lists them all)")


def _reader(logs: list[Path]) -> FlowLogReader:
    """A reader over the logs given; no flow log file at all is bad input (an empty folder, a mistyped path)."""
    from opennsg.flowlogs.reader import FlowLogReader

    reader = FlowLogReader(logs)
    if not reader.files:
        shown = ", ".join(str(p) for p in logs)
        raise OpenNsgError([ArmError(Code.INVALID_FLOW_LOGS, f"No flow log files (*.json) under {shown}.", shown)])
    return reader


def _problems(read: ReadStats) -> list[ArmError]:
    return [ArmError(Code.INVALID_FLOW_LOGS, p.message, f"{p.file}: {p.position}") for p in read.problems]


def _unreadable(read: ReadStats) -> OpenNsgError | None:
    """Nothing readable is bad input whatever the flags: no tuple was read and something went wrong."""
    if read.tuples or not read.problems:
        return None
    summary = ArmError(Code.INVALID_FLOW_LOGS, f"No flow tuple could be read from {read.files} file(s).")
    return OpenNsgError([summary, *_problems(read)])


def _exit_on_problems(read: ReadStats, allow_problems: bool, as_json: bool) -> None:
    """Logs read in part: the answer stands, but the exit says it is partial unless ``--allow-problems``."""
    if not read.problems or allow_problems:
        return
    message = (
        f"{read.malformed_records} malformed record(s) and {read.malformed_tuples} malformed tuple(s) were skipped; "
        "the answer covers only what could be read (pass --allow-problems to accept that)."
    )
    if as_json:
        fail([ArmError(Code.INVALID_FLOW_LOGS, message), *_problems(read)], as_json)
    stderr.print(f"error {Code.INVALID_FLOW_LOGS}: {message}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


#: What ``"changed"`` holds while the rest of a replay's answer is encoded (replaced at its first place: the first key).
_CHANGED_PLACE = '"changed: encoded apart"'
#: Between two fields of a changed flow, as ``json.dumps(indent=2)`` writes them at that depth.
_FLOW_SEPARATOR = ",\n      "


def _print_replay_json(answer: dict[str, Any]) -> None:
    """``print_json`` of a replay's answer, the same text: its changed flows (one flat object each, thousands of them)
    are encoded by json's C encoder, with the separators that make them read as ``indent=2`` nests them (the Python
    encoder that ``indent`` takes spent ~20 µs a changed flow)."""
    changed = answer["changed"]
    if not changed:
        print_json(answer)
        return
    flows = ",\n    ".join(
        "{\n      " + json_module.dumps(flow, separators=(_FLOW_SEPARATOR, ": "), default=str)[1:-1] + "\n    }"
        for flow in changed
    )
    text = json_module.dumps({**answer, "changed": _CHANGED_PLACE[1:-1]}, indent=2, default=str)
    sys.stdout.write(text.replace(_CHANGED_PLACE, "[\n    " + flows + "\n  ]", 1) + "\n")


@contextlib.contextmanager
def _local_run(local: bool) -> Iterator[None]:
    """A local replay: the collector paused (it makes arrays, the skeleton's records and few other objects, none in
    cycles: passes over the cached topology's ~10^5 objects are work for nothing, ``prepared``), and pandas refused
    (pyarrow, if a bucket or a compile needs it, would import it on its first array: never used here)."""
    if not local:
        yield
        return
    from opennsg.cli import prepared
    from opennsg.extras import pandas_refused

    with prepared.collector_paused(), pandas_refused():
        yield


def _flow_filter(criteria: str | None) -> FlowFilter | None:
    """The ``--filter`` given, parsed (its module, and Arrow's compute functions it uses, imported only then)."""
    if criteria is None:
        return None
    from opennsg.flowlogs.filtering import FlowFilter

    return FlowFilter.parse(criteria)


@flowlogs_app.command()
@input_options
def replay(
    logs: list[Path] = LogsArgument,
    config: list[Path] = ReplayConfigOption,
    engine: str = EngineOption,
    master: str | None = MasterOption,
    criteria: str | None = FilterOption,
    inputs: InputOptions = NO_INPUTS,
    allow_problems: bool = AllowProblemsOption,
    json: bool = JsonOption,
) -> None:
    """Decide every logged flow against the proposed config; list the flows whose verdict would change."""
    from opennsg.flowlogs.replay import replay as run_replay

    if engine not in ("local", "spark", "duckdb"):
        raise typer.BadParameter("--engine is local or spark")
    if engine == "duckdb":
        stderr.print("[yellow]--engine duckdb is deprecated (it never used DuckDB): it means --engine local[/]")
    chosen: Literal["local", "spark"] = "spark" if engine == "spark" else "local"
    # every ending of a local replay has written its report: nothing is left for the interpreter's teardown
    common.end_at_once(chosen == "local")
    with bad_input_exits(json), _local_run(chosen == "local"):
        from opennsg.cli import prepared

        selected = _flow_filter(criteria)
        loaded = prepared.load(config, inputs)  # kept on disk by content, as verify's: a later replay skips loading
        topology = loaded.topology
        reader = _reader(logs)
        if chosen == "spark":  # Spark's tasks read, fold and decide the files themselves
            from opennsg.flowlogs.spark import DEFAULT_MASTER, replay_files_on_spark

            result = replay_files_on_spark(topology, reader.files, criteria, master=master or DEFAULT_MASTER)
        else:
            # Unfiltered, the tuples go straight to fold keys; a filter needs them as columns.
            if selected is None:
                from opennsg.flowlogs.keys import retain_freed_memory

                retain_freed_memory()
            logged = reader.flow_keys() if selected is None else selected.apply(reader.batches())
            decide_with = loaded.engine()
            result = run_replay(topology, logged, reader.stats, decide_with=decide_with)
            loaded.keep(decide_with)
        unreadable = _unreadable(result.read)
        if unreadable is not None:
            raise unreadable
    if json:
        _print_replay_json(result.to_json())
        _exit_on_problems(result.read, allow_problems, json)
        return
    from rich.table import Table  # (a --json answer draws none)

    _report_problems(result.read)
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for change in result.changed:
        key = (
            name_of(change.nic),
            change.new_rule or "(no NSG)",
            f"{change.logged_decision} → {change.new_decision}",
        )
        groups[key][0] += 1
        groups[key][1] += change.count
    table = Table(title=f"Verdict changes: {len(result.changed)} of {result.flows} flows ({result.tuples} tuples)")
    for column in ("NIC", "new rule", "change", "flows", "tuples"):
        table.add_column(column, justify="right" if column in ("flows", "tuples") else "left")
    for (nic, rule, what), (flows, tuples) in sorted(groups.items()):
        table.add_row(nic, rule, what, str(flows), str(tuples))
    stdout.print(table)
    if result.unattributed_flows:
        stdout.print(
            f"{result.unattributed_flows} flow(s) ({result.unattributed_tuples} tuples) match no NIC of the config."
        )
    _exit_on_problems(result.read, allow_problems, json)


@flowlogs_app.command()
@input_options
def stats(
    logs: list[Path] = LogsArgument,
    config: list[Path] | None = StatsConfigOption,
    png: Path | None = PngOption,
    top: int = TopOption,
    inputs: InputOptions = NO_INPUTS,
    allow_problems: bool = AllowProblemsOption,
    json: bool = JsonOption,
) -> None:
    """Top talkers, allowed/denied flows over time, rules hit and (with --config) rules never hit."""
    from opennsg.flowlogs.stats import compute_stats, plot_timeline

    with bad_input_exits(json):
        topology = inputs.load(config) if config else None
        reader = _reader(logs)
        result = compute_stats(reader.batches(), reader.stats, topology, top)
        unreadable = _unreadable(result.read)
        if unreadable is not None:
            raise unreadable
        if png:
            with writing_output("--png", png, json):
                plot_timeline(result, png)
    if json:
        print_json(result.to_json())
        _exit_on_problems(result.read, allow_problems, json)
        return
    from rich.table import Table

    _report_problems(result.read)
    talkers = Table(title="Top talkers")
    for column in ("source", "destination", "tuples", "bytes"):
        talkers.add_column(column)
    for t in result.top_talkers:
        talkers.add_row(t.src_ip, t.dst_ip, str(t.tuples), str(t.bytes))
    stdout.print(talkers)
    timeline = Table(title="Tuples per minute")
    for column in ("minute (UTC)", "allowed", "denied"):
        timeline.add_column(column)
    for m in result.timeline:
        timeline.add_row(f"{m.minute:%Y-%m-%d %H:%M}", str(m.allowed), str(m.denied))
    stdout.print(timeline)
    hits = Table(title="Rules hit")
    for column in ("logged by", "rule", "tuples"):
        hits.add_column(column, overflow="fold")
    for h in result.rules_hit:
        hits.add_row(name_of(h.source), h.rule, str(h.tuples))
    stdout.print(hits)
    if result.rules_never_hit is not None:
        never = Table(title="Rules never hit")
        never.add_column("NSG")
        never.add_column("rule")
        for nsg, rule in result.rules_never_hit:
            never.add_row(name_of(nsg), rule)
        stdout.print(never)
    if png:
        stdout.print(f"timeline drawn to {png}")
    _exit_on_problems(result.read, allow_problems, json)
