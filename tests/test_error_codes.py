"""One table of error codes: every code the source hands to ``ArmError``, ``ApiError`` or ``bad_request`` is a value
of ``Code``, so no code is spelt two ways or invented in passing. The engine, the data plane and the command line
name their codes through the table itself."""

from __future__ import annotations

import ast
from pathlib import Path

from opennsg.model.validation import Code

SOURCE = Path(__file__).resolve().parents[1] / "src" / "opennsg"
#: Which argument of each error constructor is the code.
CODE_ARGUMENT = {"ArmError": 0, "ApiError": 1, "bad_request": 1}
#: Packages and modules that write no code as a literal.
THROUGH_THE_TABLE = ("engine", "dataplane", "enforce", "cli/main.py", "cli/common.py", "api/watcher.py", "api/lro.py")


def codes_in(source: str) -> list[tuple[int, str]]:
    """(line, code) of every string literal given as an error code in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        position = CODE_ARGUMENT.get(name)
        if position is None:
            continue
        given = node.args[position] if len(node.args) > position else None
        given = next((k.value for k in node.keywords if k.arg == "code"), given)
        if isinstance(given, ast.Constant) and isinstance(given.value, str) and given.value:
            found.append((node.lineno, given.value))
    return sorted(found)


def literal_codes() -> list[tuple[str, int, str]]:
    """(module, line, code) of every literal error code of the source."""
    return [
        (path.relative_to(SOURCE).as_posix(), line, code)
        for path in sorted(SOURCE.rglob("*.py"))
        for line, code in codes_in(path.read_text(encoding="utf-8"))
    ]


def test_every_error_code_is_in_the_code_table() -> None:
    table = {value for name, value in vars(Code).items() if name.isupper()}
    unknown = [f"{module}:{line} {code}" for module, line, code in literal_codes() if code not in table]
    assert unknown == [], "add these codes to opennsg.model.validation.codes.Code (or use the table's spelling)"


def test_the_engine_data_plane_and_cli_name_codes_through_the_table() -> None:
    literal = [
        f"{module}:{line} {code}"
        for module, line, code in literal_codes()
        if any(module == part or module.startswith(f"{part}/") for part in THROUGH_THE_TABLE)
    ]
    assert literal == []


def test_the_scan_finds_codes_in_every_position() -> None:
    source = (
        'ArmError("Positional", "m")\n'
        'errors.ArmError(code="Keyword", message="m")\n'
        'ApiError(400, "Second", "m")\n'
        'bad_request("m", "Given")\n'
        'bad_request("m")\n'
        'ArmError(Code.INVALID_JSON, "m")\n'
    )
    assert codes_in(source) == [(1, "Positional"), (2, "Keyword"), (3, "Second"), (4, "Given")]
