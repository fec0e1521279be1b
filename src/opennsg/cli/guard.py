"""The ``opennsg`` command's outermost layer: the exit-code contract holds for every way a run can end.

Usage errors (an unknown option, a missing argument, a value of the wrong type) exit 2 like every other bad input,
and with ``--json`` they are the same ARM-style JSON on stderr as the commands' own errors, not a Rich box. Any
other exception that reaches this far is a bug of ours: it is reported as an internal error (distinct from bad
input, asking for a report) with exit 2, never as a traceback. ``OPENNSG_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from opennsg.cli.common import EXIT_BAD_INPUT, stderr
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, ArmErrorResponse

DEBUG_VARIABLE = "OPENNSG_DEBUG"
#: click's base exception as typer raises it (recent typer versions carry their own copy of click).
ClickException: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_INVALID = frozenset({"BadParameter", "NoSuchOption", "BadOptionUsage", "BadArgumentUsage"})


def wants_json(args: Sequence[str]) -> bool:
    """Whether ``--json`` is among the options (arguments after ``--`` are not options)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def usage_error(exc: Exception) -> ArmError:
    """A click usage error as an ARM error: a missing parameter, a bad value, or a command line that does not
    parse."""
    context = getattr(exc, "ctx", None)
    target = getattr(context, "command_path", None)
    kinds = {c.__name__ for c in type(exc).__mro__}
    if "MissingParameter" in kinds:
        code = Code.MISSING_REQUIRED_PARAMETER
    elif kinds & _INVALID:
        code = Code.INVALID_PARAMETER
    else:
        code = Code.INVALID_COMMAND_LINE
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    return ArmError(code, str(message), target)


def internal_error(exc: BaseException) -> ArmError:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ is not None else None
    place = f" (in {os.path.basename(where.filename)}:{where.lineno})" if where is not None else ""
    message = (
        "Internal error, please report it to the OpenNSG maintainers with the command line and its input: "
        f"{type(exc).__name__}: {exc}{place}. This is a bug in OpenNSG, not a problem of the input."
    )
    hint = f"Set {DEBUG_VARIABLE}=1 to see the traceback."
    return ArmError(Code.INTERNAL_ERROR, message, None, hint)


def _write_json_error(error: ArmError) -> None:
    body = ArmErrorResponse.from_errors([error]).to_json()
    sys.stderr.write(json.dumps(body, indent=2) + "\n")


class GuardedGroup(TyperGroup):
    """The root command group: every usage error exits 2 (JSON with ``--json``), and no exception escapes."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # a caller that handles exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = wants_json(argv)
        try:
            code = super().main(argv, prog_name, complete_var, False, **extra)
        except ClickException as exc:
            if as_json:
                _write_json_error(usage_error(exc))
            else:
                from typer import rich_utils

                rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
            sys.exit(EXIT_BAD_INPUT)
        except typer.Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(1)
        except Exception as exc:  # the last resort: each known cause is fixed where it arises
            if os.environ.get(DEBUG_VARIABLE):
                traceback.print_exc()
            error = internal_error(exc)
            if as_json:
                _write_json_error(error)
            else:
                stderr.print(f"error {error.code}: {error.message}", markup=False)
                stderr.print(f"  hint: {error.hint}", markup=False)
            sys.exit(EXIT_BAD_INPUT)
        sys.exit(code if isinstance(code, int) else 0)


__all__ = ["GuardedGroup", "internal_error", "usage_error", "wants_json"]
