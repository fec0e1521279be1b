"""What every CLI command shares: loading inputs, ARM-style errors on stderr, --json output, exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from opennsg.model.errors import ArmError, ArmErrorResponse, OpenNsgError
from opennsg.model.servicetags import ServiceTags

EXIT_OK = 0
EXIT_EXPECTATION_FAILED = 1
EXIT_BAD_INPUT = 2

# Piped output is read by people in pagers and logs, not an 80-column terminal: give tables room there.
PIPED_WIDTH = 200
stdout = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(errors: OpenNsgError | list[ArmError] | ArmError, as_json: bool) -> NoReturn:
    """Report every problem ARM-style (code, message, details) and exit 2."""
    if isinstance(errors, OpenNsgError):
        response = errors.response
    elif isinstance(errors, ArmError):
        response = ArmErrorResponse.from_errors([errors])
    else:
        response = ArmErrorResponse.from_errors(errors)
    if as_json:
        sys.stderr.write(json.dumps(response.to_json(), indent=2) + "\n")
    else:
        stderr.print(f"[bold red]error[/] {response.code}: {response.message}", markup=True)
        if response.hint is not None:
            stderr.print(f"  hint: {response.hint}", markup=False)
        for detail in response.details:
            target = f" ({detail.target})" if detail.target else ""
            stderr.print(f"  - {detail.code}: {detail.message}{target}", markup=False)
            if detail.hint is not None:
                stderr.print(f"    hint: {detail.hint}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


def expectation_failed(summary: str, detail: dict[str, Any], as_json: bool) -> NoReturn:
    """An ``--expect`` that was not met: say what was expected and what came (stderr), exit 1."""
    if as_json:
        sys.stderr.write(json.dumps({"expectationFailed": detail}) + "\n")
    else:
        stderr.print(f"[bold red]expectation not met[/]: {summary}", markup=True)
    raise typer.Exit(EXIT_EXPECTATION_FAILED)


@contextmanager
def bad_input_exits(as_json: bool) -> Iterator[None]:
    """Turn OpenNsgError raised inside the block into the ARM-style report and exit code 2."""
    try:
        yield
    except OpenNsgError as exc:
        fail(exc, as_json)


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
ServiceTagsOption = typer.Option(
    None,
    "--service-tags",
    envvar="OPENNSG_SERVICE_TAGS",
    help="Azure 'Service Tags – Public' JSON file (only tags with networkFeatures NSG are usable); default: the "
    "file cached by 'opennsg service-tags update', if any.",
)


def cache_dir() -> Path:
    """Where downloaded files are kept: $OPENNSG_CACHE_DIR, else $XDG_CACHE_HOME/opennsg, else ~/.cache/opennsg."""
    explicit = os.environ.get("OPENNSG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opennsg"


def cached_service_tags_path() -> Path:
    """The service tags file that 'opennsg service-tags update' writes and every command falls back to."""
    return cache_dir() / "ServiceTags_Public.json"


def load_service_tags(path: Path | None) -> ServiceTags | None:
    """The service tags a command uses: the file given (flag or environment), else the cached download, else none."""
    if path is not None:
        return ServiceTags.load(path)
    cached = cached_service_tags_path()
    return ServiceTags.load(cached) if cached.is_file() else None


Registrar = Callable[[typer.Typer], None]
