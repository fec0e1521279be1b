"""Where a resource is written: the file and 1-based line where its JSON object begins (for SARIF annotations).

The topology keeps no positions, so the input files are scanned again with a small JSON reader that records the
line of every object's ``{``. Rules are found by id, else by NSG name and rule name (ARM templates name rules
``nsg/rule`` or nest them in ``securityRules``), else by rule name alone when only one rule has it. Terraform
``.tf`` files are scanned for ``azurerm_network_security_group`` resources (and their ``security_rule`` blocks)
and ``azurerm_network_security_rule`` resources whose ``name`` is a literal: the line is the block's first line
(rules named by expressions, as in ``dynamic`` blocks, have no line of their own to point at).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opennsg.model.ids import ResourceId, id_key, name_of

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class _Reader:
    """JSON (RFC 8259) to Python values, noting each object's start line and its enclosing objects."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.objects: list[tuple[int, dict[str, Any], tuple[dict[str, Any], ...]]] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._stack: list[dict[str, Any]] = []

    def line(self, offset: int) -> int:
        lo, hi = 0, len(self._line_starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid
        return lo + 1

    def skip(self, i: int) -> int:
        m = _WHITESPACE.match(self.text, i)
        return m.end() if m else i

    def value(self, i: int) -> tuple[Any, int]:
        i = self.skip(i)
        ch = self.text[i : i + 1]
        if ch == "{":
            return self.obj(i)
        if ch == "[":
            return self.array(i)
        if ch == '"':
            return json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined,no-any-return]
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, i):
                return value, i + len(literal)
        m = _NUMBER.match(self.text, i)
        if not m:
            raise ValueError(f"unexpected character at line {self.line(i)}")
        return json.loads(m.group()), m.end()

    def obj(self, i: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        self.objects.append((self.line(i), out, tuple(self._stack)))
        self._stack.append(out)
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "}":
            self._stack.pop()
            return out, i + 1
        while True:
            i = self.skip(i)
            if self.text[i : i + 1] != '"':
                raise ValueError(f"expected a key at line {self.line(i)}")
            key, i = json.decoder.scanstring(self.text, i + 1)  # type: ignore[attr-defined]
            i = self.skip(i)
            if self.text[i : i + 1] != ":":
                raise ValueError(f"expected ':' at line {self.line(i)}")
            out[key], i = self.value(i + 1)
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == ",":
                i += 1
                continue
            if ch == "}":
                self._stack.pop()
                return out, i + 1
            raise ValueError(f"expected ',' or '}}' at line {self.line(i)}")

    def array(self, i: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self.skip(i + 1)
        if self.text[i : i + 1] == "]":
            return out, i + 1
        while True:
            item, i = self.value(i)
            out.append(item)
            i = self.skip(i)
            ch = self.text[i : i + 1]
            if ch == ",":
                i += 1
                continue
            if ch == "]":
                return out, i + 1
            raise ValueError(f"expected ',' or ']' at line {self.line(i)}")


def object_lines(text: str) -> list[tuple[int, dict[str, Any], tuple[dict[str, Any], ...]]]:
    """Every JSON object of ``text``: (start line, the object, its enclosing objects outermost first)."""
    reader = _Reader(text.lstrip("\ufeff"))
    reader.value(0)
    return reader.objects


@dataclass(frozen=True, slots=True)
class Location:
    path: Path
    line: int


def _is_rule(obj: dict[str, Any]) -> bool:
    """An NSG rule, nested (ARM: ``properties``) or flattened (``az ... -o json``)."""
    props = obj.get("properties")
    fields = props if isinstance(props, dict) else obj
    return "priority" in fields and "direction" in fields and "access" in fields


def _is_nsg(obj: dict[str, Any]) -> bool:
    kind = str(obj.get("type", "")).casefold()
    props = obj.get("properties")
    return kind.endswith("/networksecuritygroups") or (
        isinstance(props, dict) and "securityRules" in props and "addressSpace" not in props
    )


def _last(name: Any) -> str:
    return name_of(str(name)).casefold()


@dataclass(slots=True)
class Locator:
    """Resource id → where it is written, built from the input files."""

    by_id: dict[str, Location] = field(default_factory=dict)
    rules_by_name: dict[tuple[str, str], Location] = field(default_factory=dict)
    rule_names: dict[str, list[Location]] = field(default_factory=dict)
    nsgs_by_name: dict[str, Location] = field(default_factory=dict)

    @classmethod
    def of(cls, files: Iterable[Path]) -> Locator:
        locator = cls()
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
                if file.suffix.casefold() == ".tf":
                    locator._add_terraform(file, text)
                    continue
                objects = object_lines(text)
            except (OSError, ValueError, UnicodeDecodeError):
                continue
            for line, obj, parents in objects:
                locator._add(file, line, obj, parents)
        return locator

    def _add_terraform(self, file: Path, text: str) -> None:
        """NSGs and rules of a ``.tf`` file with literal names, at their blocks' first lines."""
        nsg_names: dict[str, str] = {}  # resource label -> literal name, for network_security_group_name references
        standalone: list[tuple[int, str, str]] = []  # (line, rule name, NSG name or reference)
        for block in _tf_blocks(text):
            if block.kind == "azurerm_network_security_group" and "name" in block.names:
                nsg = block.names["name"]
                nsg_names[block.label] = nsg
                self.nsgs_by_name.setdefault(nsg.casefold(), Location(file, block.line))
                for line, rule in block.rules:
                    where = Location(file, line)
                    self.rules_by_name.setdefault((nsg.casefold(), rule.casefold()), where)
                    self.rule_names.setdefault(rule.casefold(), []).append(where)
            elif block.kind == "azurerm_network_security_rule" and "name" in block.names:
                standalone.append((block.line, block.names["name"], block.names.get("network_security_group_name", "")))
            elif block.kind == "azurerm_network_security_group":
                for line, rule in block.rules:
                    self.rule_names.setdefault(rule.casefold(), []).append(Location(file, line))
        for line, rule, nsg in standalone:
            reference = re.fullmatch(r"azurerm_network_security_group\.([\w-]+)(?:\[[^\]]*\])?\.name", nsg)
            nsg = nsg_names.get(reference.group(1), "") if reference else nsg
            where = Location(file, line)
            if nsg:
                self.rules_by_name.setdefault((nsg.casefold(), rule.casefold()), where)
            self.rule_names.setdefault(rule.casefold(), []).append(where)

    def _add(self, file: Path, line: int, obj: dict[str, Any], parents: tuple[dict[str, Any], ...]) -> None:
        where = Location(file, line)
        if isinstance(obj.get("id"), str):
            self.by_id.setdefault(id_key(obj["id"]), where)
        if _is_rule(obj) and "name" in obj:
            rule = _last(obj["name"])
            nsg = next((p for p in reversed(parents) if _is_nsg(p)), None)
            raw = str(obj["name"])
            nsg_name = (
                _last(nsg.get("name", ""))
                if nsg is not None
                else (raw.rsplit("/", 2)[-2].casefold() if "/" in raw else "")
            )
            self.rules_by_name.setdefault((nsg_name, rule), where)
            self.rule_names.setdefault(rule, []).append(where)
        elif _is_nsg(obj) and "name" in obj:
            self.nsgs_by_name.setdefault(_last(obj["name"]), where)

    def find(self, resource: str) -> Location | None:
        found = self.by_id.get(id_key(resource))
        if found is not None:
            return found
        parsed = ResourceId.parse(resource)
        if parsed is None or not parsed.types or parsed.types[0].casefold() != "networksecuritygroups":
            return None
        nsg = parsed.names[0].casefold()
        if len(parsed.types) > 1 and parsed.types[1].casefold() == "securityrules":
            rule = parsed.names[1].casefold()
            hit = self.rules_by_name.get((nsg, rule))
            if hit is not None:
                return hit
            candidates = self.rule_names.get(rule, [])
            return candidates[0] if len(candidates) == 1 else None
        return self.nsgs_by_name.get(nsg)


@dataclass(slots=True)
class _TfBlock:
    kind: str  # the resource type, or "" for a block that is not a resource
    label: str
    line: int
    names: dict[str, str] = field(default_factory=dict)  # literal or reference arguments at the block's own level
    rules: list[tuple[int, str]] = field(default_factory=list)  # nested security_rule blocks with a literal name


_TF_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_TF_RESOURCE = re.compile(r'^\s*resource\s+"([\w-]+)"\s+"([\w-]+)"\s*\{')
_TF_NESTED_RULE = re.compile(r"^\s*security_rule\s*\{")
_TF_ARGUMENT = re.compile(r'^\s*(name|network_security_group_name)\s*=\s*(?:"([^"$]*)"|([\w.\[\]"-]+))\s*$')


def _tf_blocks(text: str) -> list[_TfBlock]:
    """Top-level resource blocks of HCL text, with their literal ``name`` arguments and nested ``security_rule``
    blocks (a line scanner: braces inside strings and comments are not counted)."""
    out: list[_TfBlock] = []
    current: _TfBlock | None = None
    nested: tuple[int, int] | None = None  # (line, depth) of an open security_rule block
    nested_name: str | None = None
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        # Strings masked (same length) so that braces and comment marks inside them are not taken for code.
        masked = _TF_STRING.sub(lambda m: '"' + "x" * (len(m.group()) - 2) + '"', raw)
        cut = min((i for i in (masked.find("#"), masked.find("//")) if i >= 0), default=len(raw))
        line, counted = raw[:cut], masked[:cut]
        if depth == 0:
            match = _TF_RESOURCE.match(line)
            current = _TfBlock(match.group(1), match.group(2), number) if match else None
        elif current is not None:
            argument = _TF_ARGUMENT.match(line)
            if argument is not None:
                value = argument.group(2) if argument.group(2) is not None else argument.group(3)
                if nested is not None and depth == nested[1] + 1 and argument.group(1) == "name":
                    nested_name = argument.group(2)
                elif nested is None and depth == 1:
                    current.names[argument.group(1)] = value
            elif nested is None and depth == 1 and _TF_NESTED_RULE.match(line):
                nested, nested_name = (number, depth), None
        depth += counted.count("{") - counted.count("}")
        if nested is not None and depth <= nested[1]:
            if current is not None and nested_name:
                current.rules.append((nested[0], nested_name))
            nested = None
        if depth <= 0:
            depth = 0
            if current is not None:
                out.append(current)
                current = None
    return out


def input_files(paths: Iterable[Path]) -> list[Path]:
    """The JSON and Terraform files ``load_paths`` reads from these paths."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.casefold() in (".json", ".tf")))
        else:
            out.append(path)
    return out
