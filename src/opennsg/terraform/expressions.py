"""Evaluating HCL expressions as Terraform does: templates, operators, conditionals, ``for``, splats, functions.

Names resolve through a ``Scope``: local names (``each``, ``count``, ``for`` variables, dynamic-block iterators)
first, then the module's resolver, which hands out ``Namespace`` objects (``var``, ``local``, ``module``,
resource types) whose attributes are evaluated lazily, on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from opennsg.terraform.functions import FUNCTIONS, LAZY_FUNCTIONS, SUPPORTED, call
from opennsg.terraform.syntax import Expression, HclSyntaxError, Node, line_of, parse_expression, subtrees
from opennsg.terraform.values import (
    BlockValue,
    EvaluationError,
    TfSet,
    Unknown,
    display,
    equal,
    is_number,
    normal_number,
    to_bool,
    to_number,
    to_string,
    type_name,
)


class Namespace:
    """A name whose attributes are looked up on demand (``var.x``, ``azurerm_subnet.app``, ``module.net``)."""

    def __init__(self, name: str, getter: Callable[[str], Any]) -> None:
        self.name, self.getter = name, getter

    def get(self, attribute: str) -> Any:
        return self.getter(attribute)


class ResourceValue(dict[str, Any]):
    """A resource instance as expressions see it: its arguments plus what OpenNSG computes (``id``).
    Attributes it does not have are computed by Azure: unknown, not an error."""

    __slots__ = ("address",)

    def __init__(self, values: Mapping[str, Any], address: str) -> None:
        super().__init__(values)
        self.address = address


@dataclass
class Scope:
    names: Mapping[str, Any]
    resolve: Callable[[str], Any]
    file: str = ""
    parent: Scope | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return self.resolve(name)

    def child(self, names: Mapping[str, Any]) -> Scope:
        return Scope(names, self.resolve, self.file, self)


def evaluate(expression: Expression, scope: Scope) -> Any:
    """An expression's value (raises ``EvaluationError`` with the line of the failing part)."""
    return _Evaluator(scope, expression.line).value(expression.node)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)


def unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match[1]
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE_RE.sub(one, text)


class _Evaluator:
    def __init__(self, scope: Scope, line: int) -> None:
        self.scope = scope
        self.line = line

    def fail(self, message: str, node: Node | None = None) -> EvaluationError:
        return EvaluationError(message, line_of(node, self.line) if node is not None else self.line)

    def value(self, node: Node, scope: Scope | None = None) -> Any:
        if scope is not None and scope is not self.scope:
            saved, self.scope = self.scope, scope
            try:
                return self.value(node)
            finally:
                self.scope = saved
        if isinstance(node, Token):
            raise self.fail(f"unexpected {node!s}", node)
        try:
            handler = getattr(self, f"_{node.data}")
        except AttributeError:
            raise self.fail(f"unsupported expression ({node.data})", node) from None
        try:
            return handler(node)
        except EvaluationError as exc:
            if exc.line is None:
                exc.line = line_of(node, self.line)
            raise

    # --- terms ---

    def _expr_term(self, node: Tree[Token]) -> Any:
        (inner,) = subtrees(node)
        return self.value(inner)

    def _int_lit(self, node: Tree[Token]) -> Any:
        return int(str(node.children[0]))

    def _float_lit(self, node: Tree[Token]) -> Any:
        return normal_number(float(str(node.children[0])))

    def _literal_value(self, node: Tree[Token]) -> Any:
        return {"true": True, "false": False, "null": None}[str(node.children[0])]

    def _identifier(self, node: Tree[Token]) -> Any:
        name = str(node.children[0])
        try:
            return self.scope.lookup(name)
        except KeyError:
            raise self.fail(f'unknown name "{name}"', node) from None

    def _tuple(self, node: Tree[Token]) -> Any:
        return [self.value(item) for item in subtrees(node)]

    def _object(self, node: Tree[Token]) -> Any:
        out: dict[str, Any] = {}
        for elem in subtrees(node):
            key_node, value_node = subtrees(elem)
            key = self._object_key(key_node)
            if isinstance(key, Unknown):
                return key
            out[key] = self.value(value_node)
        return out

    def _object_key(self, node: Tree[Token]) -> Any:
        (inner,) = node.children if isinstance(node.children[0], Token) else subtrees(node)
        if isinstance(inner, Token):
            return str(inner)
        if inner.data == "keyword":
            return str(inner.children[0])
        term = subtrees(inner)
        if inner.data == "expr_term" and len(term) == 1 and term[0].data == "identifier":
            return str(term[0].children[0])  # a bare name is the key itself, not a reference
        key = self.value(inner)
        return key if isinstance(key, Unknown) else to_string(key, "object key")

    # --- strings and templates ---

    def _string(self, node: Tree[Token]) -> Any:
        parts = [part.children[0] for part in subtrees(node)]
        return self._template(parts, 0, len(parts))[0]

    def _template(self, parts: list[Any], start: int, stop: int, until: tuple[str, ...] = ()) -> tuple[Any, int]:
        """Render ``parts[start:stop]`` up to a directive in ``until``; returns (text or unknown, index reached)."""
        out: list[str] = []
        unknown: Unknown | None = None
        i = start
        while i < stop:
            part = parts[i]
            if isinstance(part, Token):
                raw = str(part)
                if part.type == "ESCAPED_INTERPOLATION" or part.type == "ESCAPED_DIRECTIVE":
                    out.append(raw[1:])
                else:
                    out.append(unescape(raw))
                i += 1
                continue
            kind = part.data
            if kind in until:
                break
            if kind == "interpolation":
                (inner,) = subtrees(part)
                value = self.value(inner)
                if isinstance(value, Unknown):
                    unknown = unknown or value
                else:
                    out.append(to_string(value, f"the interpolation ${{{display(value)}}}"))
                i += 1
            elif kind == "template_if_start":
                (condition,) = subtrees(part)
                test = self.value(condition)
                then, i = self._template(parts, i + 1, stop, ("template_else", "template_endif"))
                otherwise: Any = ""
                if i < stop and parts[i].data == "template_else":
                    otherwise, i = self._template(parts, i + 1, stop, ("template_endif",))
                if i >= stop:
                    raise self.fail("%{if} without %{endif}", part)
                i += 1
                if isinstance(test, Unknown):
                    unknown = unknown or test
                    continue
                chosen = then if to_bool(test, "the %{if} condition") else otherwise
                if isinstance(chosen, Unknown):
                    unknown = unknown or chosen
                else:
                    out.append(chosen)
            elif kind == "template_for_start":
                *names, collection = subtrees(part)
                body_start = i + 1
                _, end = self._template_skip(parts, body_start, stop)
                items = self.value(collection)
                if isinstance(items, Unknown):
                    unknown = unknown or items
                else:
                    for key, item in _pairs(items, "the %{for} collection"):
                        bound = {str(names[-1].children[0]): item}
                        if len(names) == 2:
                            bound[str(names[0].children[0])] = key
                        saved, self.scope = self.scope, self.scope.child(bound)
                        try:
                            text, _ = self._template(parts, body_start, end, ("template_endfor",))
                        finally:
                            self.scope = saved
                        if isinstance(text, Unknown):
                            unknown = unknown or text
                        else:
                            out.append(text)
                i = end + 1
            else:
                raise self.fail(f"unexpected template directive ({kind})", part)
        return (unknown if unknown is not None else "".join(out)), i

    def _template_skip(self, parts: list[Any], start: int, stop: int) -> tuple[None, int]:
        """The index of the ``%{endfor}`` closing a loop body starting at ``start`` (nesting respected)."""
        depth = 0
        for i in range(start, stop):
            part = parts[i]
            if isinstance(part, Tree) and part.data == "template_for_start":
                depth += 1
            elif isinstance(part, Tree) and part.data == "template_endfor":
                if depth == 0:
                    return None, i
                depth -= 1
        raise self.fail("%{for} without %{endfor}")

    def _heredoc_template(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=False, node=node)

    def _heredoc_template_trim(self, node: Tree[Token]) -> Any:
        return self._heredoc(str(node.children[0]), trim=True, node=node)

    def _heredoc(self, raw: str, trim: bool, node: Node) -> Any:
        lines = raw.split("\n")
        body = lines[1:-2]  # after the <<EOT line, before the closing marker (the token ends with a newline)
        if trim:
            indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
            cut = min(indents, default=0)
            body = [line[cut:] for line in body]
        text = "\n".join(body) + ("\n" if body else "")
        return self._interpolate(text, node)

    def _interpolate(self, text: str, node: Node) -> Any:
        """``${...}`` in heredoc text (directives there are not supported and say so)."""
        out: list[str] = []
        unknown: Unknown | None = None
        i = 0
        while i < len(text):
            if text.startswith("$${", i) or text.startswith("%%{", i):
                out.append(text[i + 1 : i + 3])
                i += 3
                continue
            if text.startswith("%{", i):
                raise self.fail("template directives (%{...}) in heredocs are not supported; use a quoted string", node)
            if not text.startswith("${", i):
                out.append(text[i])
                i += 1
                continue
            end = _closing_brace(text, i + 2)
            if end < 0:
                raise self.fail("unterminated ${ in heredoc", node)
            try:
                inner = parse_expression(text[i + 2 : end], self.scope.file, line_of(node, self.line))
            except HclSyntaxError as exc:
                raise self.fail(exc.reason, node) from None
            value = self.value(inner.node)
            if isinstance(value, Unknown):
                unknown = unknown or value
            else:
                out.append(to_string(value, "an interpolation"))
            i = end + 1
        return unknown if unknown is not None else "".join(out)

    # --- operators ---

    def _conditional(self, node: Tree[Token]) -> Any:
        condition, then, otherwise = subtrees(node)
        test = self.value(condition)
        if isinstance(test, Unknown):
            return test
        return self.value(then if to_bool(test, "the condition") else otherwise)

    def _unary_op(self, node: Tree[Token]) -> Any:
        operator = str(node.children[0]).strip()
        operand = self.value(subtrees(node)[0])
        if isinstance(operand, Unknown):
            return operand
        if operator == "!":
            return not to_bool(operand, "the operand of !")
        return normal_number(-to_number(operand, "the operand of -"))

    def _binary_op(self, node: Tree[Token]) -> Any:
        left_node, term = subtrees(node)
        operator_node, right_node = subtrees(term)
        operator = str(operator_node.children[0]).strip()
        left = self.value(left_node)
        if operator in ("&&", "||") and not isinstance(left, Unknown):
            short = to_bool(left, f"the left operand of {operator}")
            if (operator == "&&" and not short) or (operator == "||" and short):
                return short
            right = self.value(right_node)
            return right if isinstance(right, Unknown) else to_bool(right, f"the right operand of {operator}")
        right = self.value(right_node)
        if isinstance(left, Unknown):
            return left
        if isinstance(right, Unknown):
            return right
        if operator == "==":
            return equal(left, right)
        if operator == "!=":
            return not equal(left, right)
        a, b = to_number(left, f"the left operand of {operator}"), to_number(right, f"the right operand of {operator}")
        if operator == "+":
            return normal_number(a + b)
        if operator == "-":
            return normal_number(a - b)
        if operator == "*":
            return normal_number(a * b)
        if operator in ("/", "%"):
            if b == 0:
                raise self.fail("division by zero", node)
            return normal_number(a / b) if operator == "/" else normal_number(a - b * int(a / b))
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[operator]

    # --- traversals ---

    def _get_attr_expr_term(self, node: Tree[Token]) -> Any:
        target, attr = subtrees(node)
        return self._attribute(self.value(target), str(subtrees(attr)[0].children[0]), node)

    def _index_expr_term(self, node: Tree[Token]) -> Any:
        target, index = subtrees(node)
        return self._index(self.value(target), self._index_key(index), node)

    def _index_key(self, index: Tree[Token]) -> Any:
        if index.data == "short_index":
            return int(str(index.children[-1]))
        (inner,) = subtrees(index)
        return self.value(inner)

    def _attribute(self, target: Any, name: str, node: Node) -> Any:
        if isinstance(target, Unknown):
            return Unknown(f"{target.what}.{name}", target.reason, target.reported)
        if isinstance(target, Namespace):
            return target.get(name)
        if isinstance(target, ResourceValue):
            return target[name] if name in target else Unknown(f"{target.address}.{name}")
        if isinstance(target, Mapping):
            if name in target:
                return target[name]
            raise self.fail(f'this object does not have an attribute named "{name}"', node)
        if target is None:
            raise self.fail(f'attempt to get attribute "{name}" from a null value', node)
        raise self.fail(f'a {type_name(target)} has no attribute "{name}"', node)

    def _index(self, target: Any, key: Any, node: Node) -> Any:
        if isinstance(target, Unknown):
            return Unknown(f"{target.what}[{display(key)}]", target.reason, target.reported)
        if isinstance(key, Unknown):
            return key
        if isinstance(target, Namespace):
            return target.get(to_string(key, "index"))
        if isinstance(target, TfSet):
            raise self.fail("elements of a set are not indexed; convert it with tolist() first", node)
        if isinstance(target, list):
            position = to_number(key, "the index")
            if not isinstance(position, int) or not 0 <= position < len(target):
                raise self.fail(f"the index {display(key)} is out of range for a list of {len(target)}", node)
            return target[position]
        if isinstance(target, Mapping):
            name = to_string(key, "the key")
            if name in target:
                return target[name]
            if isinstance(target, ResourceValue):
                return Unknown(f"{target.address}[{json.dumps(name)}]")
            raise self.fail(f'the given key "{name}" does not exist in this map', node)
        if target is None:
            raise self.fail("attempt to index a null value", node)
        raise self.fail(f"a {type_name(target)} cannot be indexed", node)

    def _attr_splat_expr_term(self, node: Tree[Token]) -> Any:
        return self._splat(node)

    def _full_splat_expr_term(self, node: Tree[Token]) -> Any:
        return self._splat(node)

    def _splat(self, node: Tree[Token]) -> Any:
        target_node, splat = subtrees(node)
        target = self.value(target_node)
        if isinstance(target, Unknown):
            return target
        items = [] if target is None else (list(target) if isinstance(target, list) else [target])
        out = []
        for item in items:
            current = item
            for step in subtrees(splat):
                if step.data == "get_attr":
                    current = self._attribute(current, str(subtrees(step)[0].children[0]), step)
                else:
                    current = self._index(current, self._index_key(step), step)
            out.append(current)
        return out

    # --- for expressions ---

    def _for_parts(self, node: Tree[Token]) -> tuple[list[str], Tree[Token], list[Tree[Token]], Tree[Token] | None]:
        intro, *rest = subtrees(node)
        *names, collection = subtrees(intro)
        condition = rest.pop() if rest and rest[-1].data == "for_cond" else None
        return [str(n.children[0]) for n in names], collection, rest, condition

    def _for_items(self, names: list[str], collection_node: Tree[Token], condition: Tree[Token] | None) -> Any:
        collection = self.value(collection_node)
        if isinstance(collection, Unknown):
            return collection
        chosen: list[Scope] = []
        for key, item in _pairs(collection, "the for expression's collection"):
            bound = {names[-1]: item}
            if len(names) == 2:
                bound[names[0]] = key
            scope = self.scope.child(bound)
            if condition is not None:
                test = self.value(subtrees(condition)[0], scope)
                if isinstance(test, Unknown):
                    return test
                if not to_bool(test, "the for expression's if clause"):
                    continue
            chosen.append(scope)
        return chosen

    def _for_tuple_expr(self, node: Tree[Token]) -> Any:
        names, collection, (body,), condition = self._for_parts(node)
        scopes = self._for_items(names, collection, condition)
        if isinstance(scopes, Unknown):
            return scopes
        return [self.value(body, scope) for scope in scopes]

    def _for_object_expr(self, node: Tree[Token]) -> Any:
        names, collection, bodies, condition = self._for_parts(node)
        key_node, value_node = bodies
        grouping = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in node.children)
        scopes = self._for_items(names, collection, condition)
        if isinstance(scopes, Unknown):
            return scopes
        out: dict[str, Any] = {}
        for scope in scopes:
            key = self.value(key_node, scope)
            if isinstance(key, Unknown):
                return key
            name = to_string(key, "a for expression's key")
            item = self.value(value_node, scope)
            if grouping:
                out.setdefault(name, []).append(item)
            elif name in out:
                raise self.fail(f'duplicate key "{name}" in a for expression (use ... to group values)', node)
            else:
                out[name] = item
        return out

    # --- functions ---

    def _function_call(self, node: Tree[Token]) -> Any:
        parts = subtrees(node)
        names = [p for p in parts if p.data == "identifier"]
        if len(names) > 1:
            qualified = "::".join(str(n.children[0]) for n in names)
            raise self.fail(f"provider function {qualified}() is not supported", node)
        name = str(names[0].children[0])
        arguments = next((p for p in parts if p.data == "arguments"), None)
        arg_nodes = subtrees(arguments) if arguments is not None else []
        expand = arguments is not None and any(
            isinstance(c, Token) and c.type == "ELLIPSIS" for c in arguments.children
        )
        if name in LAZY_FUNCTIONS:
            return self._lazy_call(name, arg_nodes, node)
        if name not in FUNCTIONS:
            raise self.fail(f"unknown function {name}(); supported: {', '.join(SUPPORTED)}", node)
        args = [self.value(a) for a in arg_nodes]
        if expand and args:
            last = args.pop()
            if isinstance(last, Unknown):
                return last
            if not isinstance(last, list):
                raise self.fail(f"the ... argument of {name}() must be a list", node)
            args.extend(last)
        try:
            return call(name, args)
        except EvaluationError as exc:
            raise self.fail(exc.message, node) from None

    def _lazy_call(self, name: str, arg_nodes: list[Tree[Token]], node: Node) -> Any:
        if name == "can":
            if len(arg_nodes) != 1:
                raise self.fail("can() takes exactly one argument", node)
            try:
                value = self.value(arg_nodes[0])
            except EvaluationError:
                return False
            return value if isinstance(value, Unknown) else True
        if not arg_nodes:
            raise self.fail("try() needs at least one argument", node)
        errors: list[str] = []
        for arg in arg_nodes:
            try:
                return self.value(arg)
            except EvaluationError as exc:
                errors.append(exc.message)
        raise self.fail(f"no expression given to try() succeeded: {'; '.join(errors)}", node)


def _pairs(collection: Any, what: str) -> list[tuple[Any, Any]]:
    """(key, value) pairs of a collection, as ``for`` iterates it: index/value, key/value (sorted), value/value."""
    if isinstance(collection, TfSet):
        return [(item, item) for item in collection]
    if isinstance(collection, list):
        return list(enumerate(collection))
    if isinstance(collection, Mapping):
        return [(key, collection[key]) for key in sorted(collection)]
    raise EvaluationError(f"{what} must be a list, set or map, not {type_name(collection)}")


def _closing_brace(text: str, start: int) -> int:
    depth, i, quoted = 0, start, False
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def block_value(values: Mapping[str, Any], file: str, line: int) -> BlockValue:
    return BlockValue(values, file, line)


__all__ = ["Namespace", "ResourceValue", "Scope", "evaluate", "is_number", "unescape"]
