"""One table of error codes: ``opennsg.model.codes.Code`` is the only place a code is written. Every error the
source raises names its code through the table, so no code is spelt two ways or invented in passing. The scans read
the source itself, so a literal code added anywhere (a call, a default, a dict, a side table) fails them."""

from __future__ import annotations

import ast
from pathlib import Path

from opennsg.model.codes import Code

SOURCE = Path(__file__).resolve().parents[1] / "src" / "opennsg"
TABLE = SOURCE / "model" / "codes.py"
#: Which argument of each error constructor or reporting helper is the code.
CODE_ARGUMENT = {
    "ArmError": 0,
    "ApiError": 1,
    "bad_request": 1,
    "KernelError": 0,
    "TemplateError": 2,
    "Problem": 0,
    "Issue": 0,
    "_Check": 0,
    "_error": 1,
    "in_use_error": 0,
    "problem": 0,
    "add": 0,
    "_issue": 0,
    "_check": 0,
    "mark": 0,
    "ModelKind": 3,
}


def _table_values() -> set[str]:
    return {value for name, value in vars(Code).items() if name.isupper() and isinstance(value, str)}


def codes_in(source: str) -> list[tuple[int, str]]:
    """(line, code) of every string literal given as an error code in ``source``: a code argument of an error
    constructor, a ``code=`` keyword or default, or a value assigned to a name called ``code``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        given: ast.expr | None = None
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            position = CODE_ARGUMENT.get(name)
            if position is not None and len(node.args) > position:
                given = node.args[position]
            given = next((k.value for k in node.keywords if k.arg == "code"), given)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
            given = node.value
        elif isinstance(node, ast.arguments):
            positional = [*node.posonlyargs, *node.args]
            defaults = dict(zip(positional[len(positional) - len(node.defaults) :], node.defaults, strict=True))
            defaults.update({a: d for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None})
            given = next((d for a, d in defaults.items() if a.arg == "code"), None)
        candidates = [given.body, given.orelse] if isinstance(given, ast.IfExp) else [given]
        for candidate in candidates:
            if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str) and candidate.value:
                found.append((candidate.lineno, candidate.value))
    return sorted(found)


def table_values_in(source: str, values: set[str]) -> list[tuple[int, str]]:
    """(line, value) of every string literal of ``source`` that spells a code of the table, wherever it stands."""
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in values
    )


def _modules() -> list[tuple[str, str]]:
    return [
        (path.relative_to(SOURCE).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(SOURCE.rglob("*.py"))
        if path != TABLE
    ]


def test_no_module_gives_an_error_a_literal_code() -> None:
    literal = [f"{module}:{line} {code}" for module, source in _modules() for line, code in codes_in(source)]
    assert literal == [], "name these codes through opennsg.model.codes.Code (add the missing ones to the table)"


def test_no_module_spells_a_code_of_the_table() -> None:
    values = _table_values()
    spelt = [
        f"{module}:{line} {code}" for module, source in _modules() for line, code in table_values_in(source, values)
    ]
    assert spelt == [], "write Code.<NAME> instead of the code's text"


def test_the_table_spells_each_code_once() -> None:
    names = [name for name, value in vars(Code).items() if name.isupper()]
    values = [getattr(Code, name) for name in names]
    twice = sorted({v for v in values if values.count(v) > 1})
    assert twice == []


def test_the_scan_finds_codes_in_every_position() -> None:
    source = (
        'ArmError("Positional", "m")\n'
        'errors.ArmError(code="Keyword", message="m")\n'
        'ApiError(400, "Second", "m")\n'
        'bad_request("m", "Given")\n'
        'bad_request("m")\n'
        'ArmError(Code.INVALID_JSON, "m")\n'
        'code = "Assigned" if missing else "Otherwise"\n'
        'def f(message, code="Default"): pass\n'
        'KernelError("Kernel", "m")\n'
    )
    assert codes_in(source) == [
        (1, "Positional"),
        (2, "Keyword"),
        (3, "Second"),
        (4, "Given"),
        (7, "Assigned"),
        (7, "Otherwise"),
        (8, "Default"),
        (9, "Kernel"),
    ]


def test_the_scan_finds_a_code_of_the_table_outside_any_call() -> None:
    source = 'ENVELOPES = {"InvalidJson": ("InvalidRequestFormat", "Cannot parse.")}\nname = "Storage"\n'
    assert table_values_in(source, _table_values()) == [(1, "InvalidJson"), (1, "InvalidRequestFormat")]
