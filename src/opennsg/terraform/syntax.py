"""HCL files -> blocks and attributes with their file and line (``python-hcl2`` parses; we keep its Lark tree).

Expressions stay unevaluated Lark trees: ``opennsg.terraform.expressions`` evaluates them in a scope, lazily,
because Terraform's meaning of an expression depends on what it references.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import hcl2
from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from opennsg.model.files import InputError, read_text

Node = Tree[Token] | Token


class HclSyntaxError(Exception):
    """A file HCL cannot parse: where and why."""

    def __init__(self, file: str, line: int, column: int, reason: str) -> None:
        self.file, self.line, self.column, self.reason = file, line, column, reason
        super().__init__(f"{file}:{line}:{column}: {reason}")


@dataclass(frozen=True, slots=True)
class Expression:
    """An expression as written: its tree, the file and line it starts on, and its source text (for messages)."""

    node: Node
    file: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    expression: Expression
    line: int


@dataclass(frozen=True, slots=True)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()

    def blocks_of(self, kind: str) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.kind == kind)


@dataclass(frozen=True, slots=True)
class Block:
    kind: str
    labels: tuple[str, ...]
    body: Body
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def title(self) -> str:
        """``resource "azurerm_subnet" "app"``, as Terraform names a block in its diagnostics."""
        return " ".join([self.kind, *(json.dumps(label) for label in self.labels)])


def is_tree(node: object, data: str | None = None) -> bool:
    return isinstance(node, Tree) and (data is None or node.data == data)


def subtrees(node: Tree[Token]) -> list[Tree[Token]]:
    """The child trees of a node that carry meaning (newlines and comments dropped)."""
    return [c for c in node.children if isinstance(c, Tree) and c.data != "new_line_or_comment"]


def line_of(node: Node, default: int = 0) -> int:
    if isinstance(node, Token):
        return node.line or default
    meta = node.meta
    return meta.line if not meta.empty else default


def _source(text: str, node: Node) -> str:
    if isinstance(node, Token):
        return str(node)
    meta = node.meta
    if meta.empty:
        return ""
    return " ".join(text[meta.start_pos : meta.end_pos].split())


def _string_literal(node: Tree[Token]) -> str:
    """A block label: ``"name"`` (no interpolation allowed there) or a bare identifier."""
    if node.data == "string":
        return (
            "".join(str(part.children[0]) for part in subtrees(node) if isinstance(part.children[0], Token))
            .encode()
            .decode("unicode_escape")
        )
    token = node.children[0]
    return str(token)


def _name(node: Tree[Token]) -> str:
    if node.data in ("identifier", "keyword", "literal_value"):
        return str(node.children[0])
    return _string_literal(node)


def parse_text(text: str, file: str) -> Body:
    """One HCL file's top-level body. Raises ``HclSyntaxError`` with the line and column of the problem."""
    try:
        tree = hcl2.parses_to_tree(text)
    except UnexpectedInput as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise HclSyntaxError(file, exc.line, exc.column, reason) from None
    (body,) = subtrees(tree)
    return _body(body, text, file)


def parse_file(path: Path) -> Body:
    try:
        text = read_text(path)
    except InputError as exc:
        raise HclSyntaxError(str(path), 1, 1, exc.reason) from None
    return parse_text(text, str(path))


def _body(node: Tree[Token], text: str, file: str) -> Body:
    attributes: dict[str, Attribute] = {}
    blocks: list[Block] = []
    for child in subtrees(node):
        if child.data == "attribute":
            name_node, value = subtrees(child)
            name = _name(name_node)
            line = line_of(child)
            if name in attributes:
                raise HclSyntaxError(
                    file, line, 1, f'attribute "{name}" is set twice (first at line {attributes[name].line})'
                )
            attributes[name] = Attribute(
                name, Expression(value, file, line_of(value, line), _source(text, value)), line
            )
        elif child.data == "block":
            parts = subtrees(child)
            *heads, inner = parts
            kind, labels = _name(heads[0]), tuple(_name(h) for h in heads[1:])
            blocks.append(Block(kind, labels, _body(inner, text, file), file, line_of(child)))
    return Body(attributes, tuple(blocks))


def parse_expression(text: str, file: str, line: int) -> Expression:
    """A stand-alone expression (``--var`` values of complex types, heredoc interpolations)."""
    wrapped = f"value = {text}"
    try:
        tree = hcl2.parses_to_tree(wrapped)
    except UnexpectedInput as exc:
        raise HclSyntaxError(file, line, max(1, exc.column - 8), f"cannot parse expression {text!r}") from None
    (body,) = subtrees(tree)
    (attribute,) = subtrees(body)
    _, value = subtrees(attribute)
    return Expression(value, file, line, text.strip())
