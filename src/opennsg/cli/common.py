"""What every CLI command shares: loading inputs, ARM-style errors on stderr, --json output, exit codes."""

from __future__ import annotations

import atexit
import functools
import inspect
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from opennsg.model.errors import ArmError, ArmErrorResponse, OpenNsgError
from opennsg.model.files import cache_dir
from opennsg.model.servicetags import ServiceTags
from opennsg.model.validation.codes import Code

if TYPE_CHECKING:
    from rich.console import Console

    from opennsg.arm.template import TemplateInputs
    from opennsg.model.topology import Topology

EXIT_OK = 0
EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_INPUT = 2

# Piped output is read by people in pagers and logs, not an 80-column terminal: give tables room there.
PIPED_WIDTH = 200


class LazyConsole:
    """A rich ``Console`` made when first printed to: rich's console (~20 ms to import) is paid only by commands
    that print through it (``--json`` output never does)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)


stdout = LazyConsole(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
stderr = LazyConsole(stderr=True, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    """``rich.markup.escape``, imported when a message is printed with markup."""
    from rich.markup import escape

    return escape(text)


#: Set by a command that has written everything once it returns (``end_at_once``); read by ``end_now``.
_end_at_once = threading.Event()
#: Set while the command line runs as its own process (``opennsg``; tests call its click group instead).
_own_process = threading.Event()


def end_at_once(wanted: bool = True) -> None:
    """Let the process end right after this command, without the interpreter's teardown: freeing every module and
    object one by one, the collector's last pass over them first, took 0.15-0.3 CPU-s of a ``verify --flows`` run
    (~10^5 model objects, numpy's and pyarrow's modules) that does nothing for a command whose files are closed.
    Only for commands that leave no thread running and nothing to write after they return."""
    if wanted:
        _end_at_once.set()
    else:
        _end_at_once.clear()


def own_process(running: bool) -> None:
    """Whether the command line runs as its own process, which ends when its command returns (``end_now``)."""
    if running:
        _own_process.set()
    else:
        _own_process.clear()


def ends_process() -> bool:
    """Whether the process ends once this command returns: the command line runs as its own process and the
    command asked to end at once (``end_now`` may still find a thread running and leave it to the interpreter)."""
    return _own_process.is_set() and _end_at_once.is_set()


def end_now(code: object) -> None:
    """End the process with ``code`` (a ``SystemExit``'s) when the command asked for it (``end_at_once``), no other
    thread runs and the standard streams flush; else return, and the interpreter ends as usual. ``atexit``'s
    functions still run (a library's flush, a temporary directory's removal)."""
    if not _end_at_once.is_set() or threading.active_count() > 1 or not (code is None or isinstance(code, int)):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the interpreter reports it as it always has
        return
    atexit._run_exitfuncs()
    os._exit(code or 0)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(errors: OpenNsgError | list[ArmError] | ArmError, as_json: bool) -> NoReturn:
    """Report every problem ARM-style (code, message, details) and exit 2."""
    report_problems(errors, as_json)
    raise typer.Exit(EXIT_BAD_INPUT)


def report_problems(errors: OpenNsgError | list[ArmError] | ArmError, as_json: bool) -> None:
    """Every problem ARM-style on stderr: one JSON document with ``--json``, else a line per problem."""
    if isinstance(errors, OpenNsgError):
        response = errors.response
    elif isinstance(errors, ArmError):
        response = ArmErrorResponse.from_errors([errors])
    else:
        response = ArmErrorResponse.from_errors(errors)
    if as_json:
        sys.stderr.write(json.dumps(response.to_json(), indent=2) + "\n")
    else:
        stderr.print(f"[bold red]error[/] {escape(response.code)}: {escape(response.message)}", markup=True)
        if response.hint is not None:
            stderr.print(f"  hint: {response.hint}", markup=False)
        for detail in response.details:
            target = f" ({detail.target})" if detail.target else ""
            stderr.print(f"  - {detail.code}: {detail.message}{target}", markup=False)
            if detail.hint is not None:
                stderr.print(f"    hint: {detail.hint}", markup=False)


def expectation_failed(summary: str, detail: dict[str, Any], as_json: bool) -> NoReturn:
    """An ``--expect`` that was not met: say what was expected and what came (stderr), exit 1."""
    if as_json:
        sys.stderr.write(json.dumps({"expectationFailed": detail}) + "\n")
    else:
        stderr.print(f"[bold red]expectation not met[/]: {escape(summary)}", markup=True)
    raise typer.Exit(EXIT_EXPECTATION_FAILED)


@contextmanager
def bad_input_exits(as_json: bool) -> Iterator[None]:
    """Turn OpenNsgError raised inside the block into the ARM-style report and exit code 2."""
    try:
        yield
    except OpenNsgError as exc:
        fail(exc, as_json)


#: The code of an output file (``--png``, ``--output``, ``--flowlogs-out``, ...) that cannot be written.
CANNOT_WRITE_OUTPUT = "CannotWriteOutput"


@contextmanager
def writing_output(flag: str, path: Path, as_json: bool) -> Iterator[None]:
    """Writing a file the user named: one that cannot be written (no such folder, no permission, a full disk) is
    reported like bad input, exit 2."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(ArmError(CANNOT_WRITE_OUTPUT, f"Cannot write {path} ({flag}): {reason}.", str(path)), as_json)


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
ServiceTagsOption = typer.Option(
    None,
    "--service-tags",
    envvar="OPENNSG_SERVICE_TAGS",
    help="Azure 'Service Tags – Public' JSON file (only tags with networkFeatures NSG are usable); default: the "
    "file cached by 'opennsg service-tags update', if any.",
)


def cached_service_tags_path() -> Path:
    """The service tags file that 'opennsg service-tags update' writes and every command falls back to."""
    return cache_dir() / "ServiceTags_Public.json"


def service_tags_path(path: Path | None) -> Path | None:
    """The service tags file a command uses: the one given (flag or environment), else the cached download, else
    none."""
    if path is not None:
        return path
    cached = cached_service_tags_path()
    return cached if cached.is_file() else None


def load_service_tags(path: Path | None) -> ServiceTags | None:
    """The service tags of ``service_tags_path(path)``."""
    effective = service_tags_path(path)
    return ServiceTags.load(effective) if effective is not None else None


def print_notes(notes: Sequence[str]) -> None:
    """What loading the inputs said (placeholder subscriptions), on stderr."""
    for note in notes:
        stderr.print(f"[yellow]note[/] {escape(note)}", markup=True)


#: The deployment context of inputs that do not carry it themselves (Terraform modules and plans).
SubscriptionOption = typer.Option(
    None,
    "--subscription",
    envvar="OPENNSG_SUBSCRIPTION",
    help="Subscription id for resources whose input does not say it (Terraform: ids not in the plan/state win, "
    "then this, then the azurerm provider's literal subscription_id, then a placeholder).",
)
VarOption = typer.Option(None, "--var", help="Terraform input variable NAME=VALUE (repeatable; wins over files).")
VarFileOption = typer.Option(None, "--var-file", help="Terraform variables file (.tfvars or .tfvars.json; repeatable).")


def parse_variables(pairs: list[str] | None) -> dict[str, str]:
    """``--var NAME=VALUE`` pairs (a later one wins), every malformed pair reported at once."""
    out: dict[str, str] = {}
    problems: list[ArmError] = []
    for pair in pairs or ():
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            problems.append(ArmError(Code.INVALID_PARAMETER, f"--var '{pair}' must be NAME=VALUE."))
            continue
        out[name.strip()] = value
    if problems:
        raise OpenNsgError(problems)
    return out


def load_inputs(
    paths: list[Path],
    service_tags: Path | None,
    subscription: str | None = None,
    variables: list[str] | None = None,
    var_files: list[Path] | None = None,
    template: TemplateInputs | None = None,
    notes: list[str] | None = None,
) -> Topology:
    """Every input a command reads (ARM JSON, templates, Terraform modules, plans, state) as one validated
    Topology; raises OpenNsgError with every problem. Notes (placeholder subscriptions) go to ``notes`` when the
    command reports them itself (``validate --json``), else to stderr.
    ``template`` gives ARM templates their deployment context and parameter values."""
    from opennsg.arm import load_paths

    tags = load_service_tags(service_tags)
    terraform = None  # the default context; the Terraform reader is imported only when an input needs it
    if subscription or variables or var_files:
        from opennsg.terraform import TerraformInputs

        terraform = TerraformInputs(subscription, parse_variables(variables), tuple(var_files or ()))
    said: list[str] = []
    topology = load_paths(paths, service_tags=tags, terraform=terraform, notes=said, inputs=template)
    if notes is not None:
        notes.extend(said)
    else:
        print_notes(said)
    return topology


Registrar = Callable[[typer.Typer], None]


ResourceGroupOption = typer.Option(
    None, "--resource-group", help="Resource group templates deploy into: resourceGroup() (default opennsg-template)."
)
LocationOption = typer.Option(
    None, "--location", help="Location of the resource group and deployment: resourceGroup().location (default eastus)."
)
TemplateParametersOption = typer.Option(
    None,
    "--parameters",
    help="Deployment parameters file for the templates (repeatable; later files win). Key Vault references are read as "
    "values known only at deployment.",
)
TemplateParameterOption = typer.Option(
    None, "--parameter", help="NAME=VALUE for a template parameter (repeatable; arrays, objects, ints, bools as JSON)."
)


@dataclass(frozen=True, slots=True)
class InputOptions:
    """The options of every command that reads a network, declared once (``input_options``): service tags,
    Terraform's subscription and variables, ARM templates' parameters and deployment context."""

    service_tags: Path | None = None
    subscription: str | None = None
    variables: tuple[str, ...] = ()
    var_files: tuple[Path, ...] = ()
    parameters_files: tuple[Path, ...] = ()
    parameters: tuple[str, ...] = ()
    resource_group: str | None = None
    location: str | None = None

    def template(self) -> TemplateInputs:
        """The templates' deployment context and parameter values (raises OpenNsgError listing every problem)."""
        return template_inputs(
            list(self.parameters_files), list(self.parameters), self.subscription, self.resource_group, self.location
        )

    def load(self, paths: Sequence[Path], notes: list[str] | None = None) -> Topology:
        """The inputs as one validated Topology (raises OpenNsgError with every problem); ``notes`` as for
        ``load_inputs``."""
        return load_inputs(
            list(paths), self.service_tags, self.subscription, list(self.variables), list(self.var_files),
            self.template(), notes,
        )  # fmt: skip


#: The default a command's ``inputs`` parameter declares (``input_options`` replaces it by the options given).
NO_INPUTS = InputOptions()

#: (parameter name, annotation, typer option, InputOptions field) of each input option, in the order of --help.
_INPUT_OPTIONS: tuple[tuple[str, Any, Any, str], ...] = (
    ("service_tags", Path | None, ServiceTagsOption, "service_tags"),
    ("subscription", str | None, SubscriptionOption, "subscription"),
    ("var", list[str] | None, VarOption, "variables"),
    ("var_file", list[Path] | None, VarFileOption, "var_files"),
    ("parameters_file", list[Path] | None, TemplateParametersOption, "parameters_files"),
    ("parameter", list[str] | None, TemplateParameterOption, "parameters"),
    ("resource_group", str | None, ResourceGroupOption, "resource_group"),
    ("location", str | None, LocationOption, "location"),
)


def input_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the input options: it declares a parameter ``inputs: InputOptions``, typer sees the eight
    options in its place (before ``--json``), and the command receives them as one ``InputOptions``."""
    signature = inspect.signature(command)
    own = [p for p in signature.parameters.values() if p.name != "inputs"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
        for name, annotation, option, _field in _INPUT_OPTIONS
    ]
    at = next((i for i, p in enumerate(own) if p.name in ("json", "as_json")), len(own))
    parameters = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD else p
        for p in [*own[:at], *added, *own[at:]]
    ]

    @functools.wraps(command)
    def with_inputs(**kwargs: Any) -> None:
        values: dict[str, Any] = {}
        for name, _annotation, _option, field in _INPUT_OPTIONS:
            value = kwargs.pop(name)
            values[field] = tuple(value or ()) if field in _SEQUENCES else value
        command(**kwargs, inputs=InputOptions(**values))

    annotations = {k: v for k, v in command.__annotations__.items() if k != "inputs"}
    annotations.update({name: annotation for name, annotation, _option, _field in _INPUT_OPTIONS})
    with_inputs.__annotations__ = annotations
    with_inputs.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return with_inputs


_SEQUENCES = frozenset({"variables", "var_files", "parameters_files", "parameters"})


def template_inputs(
    parameters_files: list[Path] | None,
    parameter: list[str] | None,
    subscription: str | None,
    resource_group: str | None,
    location: str | None,
) -> TemplateInputs:
    """The deployment context and parameter values the options give (raises OpenNsgError listing every problem)."""
    from opennsg.arm.loader import read_json
    from opennsg.arm.template import DeploymentContext, TemplateInputs, is_parameters_file, parameter_values

    problems: list[ArmError] = []
    values: dict[str, Any] = {}
    for file in parameters_files or []:
        data = read_json(file, problems)
        if data is None:
            continue
        if not is_parameters_file(data):
            message = f'{file} is not a deployment parameters file ({{"parameters": {{"NAME": {{"value": ...}}}}}}).'
            problems.append(ArmError(Code.INVALID_PARAMETERS_FILE, message, str(file)))
            continue
        values.update(parameter_values(data))
    cli_values: dict[str, str] = {}
    for item in parameter or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(
                ArmError(Code.INVALID_PARAMETER, f"--parameter '{item}' must be NAME=VALUE.", "--parameter")
            )
            continue
        cli_values[name.strip()] = value
    if problems:
        raise OpenNsgError(problems)
    defaults = DeploymentContext()
    context = DeploymentContext(
        subscription_id=subscription or defaults.subscription_id,
        resource_group=resource_group or defaults.resource_group,
        location=location or defaults.location,
    )
    return TemplateInputs(context=context, parameters=values, cli_values=cli_values)
