"""ARM's expression language: ``[fn(args).member['key'][0]]`` parsed once per text into a small tree.

Grammar (ARM's): string literals in single quotes (``''`` escapes a quote), integers, function calls (names are
case-insensitive; user-defined functions are ``namespace.name``), member access ``.name`` and ``[expr]``.
``true``, ``false`` and ``null`` are functions, not literals. Parsed trees are cached by text, so copy loops
evaluate the same expression many times without parsing it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.values import TemplateError

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<punct>[(),.\[\]?]))"
)


class Node:
    """One part of a parsed expression."""

    text: str

    def evaluate(self, scope: Scope) -> Any:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any
    text: str

    def evaluate(self, scope: Scope) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]
    text: str

    def evaluate(self, scope: Scope) -> Any:
        return scope.call(self)


@dataclass(frozen=True, slots=True)
class Member(Node):
    target: Node
    key: Node
    text: str
    safe: bool = False

    def evaluate(self, scope: Scope) -> Any:
        from opennsg.arm.template.functions.objects import member

        return member(self.target.evaluate(scope), self.key.evaluate(scope), self.text, safe=self.safe)


def is_expression(value: str) -> bool:
    """ARM evaluates a string that starts with ``[`` and ends with ``]``; ``[[`` escapes a literal ``[``."""
    return len(value) >= 2 and value[0] == "[" and value[-1] == "]" and value[1] != "["


_CACHE: dict[str, Node] = {}
#: ARM's limit on the characters of one template expression.
MAX_LENGTH = 24_576
#: How deep calls, indexes and parentheses may nest in one expression OpenNSG evaluates (real templates, Bicep's
#: output included, stay far below; deeper nesting is refused up front, never a crash).
MAX_DEPTH = 100


def shown(text: str) -> str:
    """An expression as error messages quote it: long ones cut, with their length."""
    return f"[{text}]" if len(text) <= 160 else f"[{text[:120]}...] ({len(text):,} characters)"


def parse(text: str) -> Node:
    """The tree of an expression (the text between the outer brackets), cached."""
    node = _CACHE.get(text)
    if node is None:
        node = _Parser(text).parse_all()
        if len(_CACHE) > 100_000:
            _CACHE.clear()
        _CACHE[text] = node
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        if len(text) > MAX_LENGTH:
            raise TemplateError(
                f"The template language expression '{shown(text)}' is longer than the {MAX_LENGTH:,} characters "
                "Azure allows in one expression: split it into variables."
            )
        pos = depth = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None:
                near = text[pos:].strip()
                near = near if len(near) <= 60 else f"{near[:60]}..."
                raise TemplateError(f"The expression '{shown(text)}' cannot be parsed near '{near}'.")
            kind = match.lastgroup or ""
            token = match.group(kind)
            if token in {"(", "["}:
                depth += 1
                if depth > MAX_DEPTH:
                    raise TemplateError(
                        f"The template language expression '{shown(text)}' nests calls, indexes or parentheses "
                        f"more than {MAX_DEPTH} levels deep, more than OpenNSG evaluates: split it into variables."
                    )
            elif token in {")", "]"}:
                depth -= 1
            self.tokens.append((kind, token, match.start(kind)))
            pos = match.end()
        self.pos = 0

    def fail(self, what: str) -> TemplateError:
        near = self.tokens[self.pos][1] if self.pos < len(self.tokens) else "the end"
        return TemplateError(f"The expression '{shown(self.text)}' is not valid: {what} (at {near!r}).")

    def peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.tokens[at][1] if at < len(self.tokens) else ""

    def kind(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.tokens[at][0] if at < len(self.tokens) else ""

    def parse_all(self) -> Node:
        if not self.tokens:
            raise TemplateError("The expression '[]' is empty.")
        node = self.parse_value()
        if self.pos != len(self.tokens):
            raise self.fail("unexpected text after the expression")
        return node

    def start(self) -> int:
        return self.tokens[self.pos][2] if self.pos < len(self.tokens) else len(self.text)

    def end(self) -> int:
        if self.pos == 0:
            return 0
        _kind, token, at = self.tokens[self.pos - 1]
        return at + len(token)

    def parse_value(self) -> Node:
        begin = self.start()
        kind, token = self.kind(), self.peek()
        node: Node
        if kind == "string":
            self.pos += 1
            node = Literal(token[1:-1].replace("''", "'"), token)
        elif kind == "number":
            self.pos += 1
            node = Literal(float(token) if "." in token else int(token), token)
        elif kind == "name":
            node = self.parse_call()
        else:
            raise self.fail("a function, string or number was expected")
        while self.peek() in {".", "[", "?"}:
            safe = False
            if self.peek() == "?":
                if self.peek(1) not in {".", "["}:
                    raise self.fail("'.' or '[' must follow '?'")
                safe = True
                self.pos += 1
            if self.peek() == ".":
                self.pos += 1
                if self.peek() == "?":  # obj.?name: a missing property is null
                    safe = True
                    self.pos += 1
                if self.kind() != "name":
                    raise self.fail("a property name must follow '.'")
                key: Node = Literal(self.peek(), self.peek())
                self.pos += 1
            else:
                self.pos += 1
                if self.peek() == "?":  # obj[?'name']
                    safe = True
                    self.pos += 1
                key = self.parse_value()
                if self.peek() != "]":
                    raise self.fail("']' expected after an index")
                self.pos += 1
            node = Member(node, key, self.text[begin : self.end()], safe)
        return node

    def parse_call(self) -> Node:
        begin = self.start()
        name = self.peek()
        self.pos += 1
        # user-defined functions are called as namespace.member(...)
        if self.peek() == "." and self.kind(1) == "name" and self.peek(2) == "(":
            name = f"{name}.{self.peek(1)}"
            self.pos += 2
        if self.peek() != "(":
            raise self.fail(f"'(' expected after '{name}'")
        self.pos += 1
        args: list[Node] = []
        while self.peek() != ")":
            if self.pos >= len(self.tokens):
                raise self.fail(f"')' expected to close the arguments of '{name}'")
            args.append(self.parse_value())
            if self.peek() == ",":
                self.pos += 1
                if self.peek() == ")":
                    raise self.fail("an argument must follow ','")
            elif self.peek() != ")":
                raise self.fail(f"',' or ')' expected in the arguments of '{name}'")
        self.pos += 1
        return Call(name, tuple(args), self.text[begin : self.end()])
