"""A Terraform root module evaluated as ``terraform plan`` would, as far as it can be without Azure.

Variables (type conversion, defaults, tfvars, ``--var-file``, ``--var``), locals (cycles reported), module calls
with local ``source`` paths, ``count`` / ``for_each``, ``dynamic`` blocks. Everything is lazy and memoized: a name
is evaluated when something first uses it, so evaluation order follows references (as Terraform's graph does)
and a cycle is found where it closes. Problems are collected, never raised: every one is reported at once.

The result is a list of ``Instance``: one per resource instance, with its evaluated arguments and nested blocks,
ready for ``opennsg.terraform.azurerm`` (which also reads plan JSON into the same shape).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lark import Token, Tree

from opennsg.model.codes import Code
from opennsg.model.files import InputError, read_json_file
from opennsg.terraform import azurerm
from opennsg.terraform.expressions import Namespace, ResourceValue, Scope, evaluate
from opennsg.terraform.syntax import (
    Attribute,
    Block,
    Body,
    Expression,
    HclSyntaxError,
    parse_expression,
    parse_file,
    subtrees,
)
from opennsg.terraform.values import (
    BlockValue,
    EvaluationError,
    TfSet,
    Unknown,
    display,
    first_unknown,
    to_bool,
    to_number,
    to_string,
    type_name,
)

PLAN_ADVICE = (
    "OpenNSG cannot know it without Azure: run `terraform plan -out plan.out && terraform show -json plan.out "
    "> plan.json` and give OpenNSG plan.json instead"
)
_META_BLOCKS = frozenset({"lifecycle", "provisioner", "connection", "timeouts"})
_META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a Terraform input: ``file:line: block: message``."""

    code: str
    file: str
    line: int
    context: str
    message: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def text(self) -> str:
        return f"{self.where}: {self.context}: {self.message}" if self.context else f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Instance:
    """One resource instance: type, address, evaluated values (nested blocks as lists of ``BlockValue``)."""

    type: str
    address: str
    values: Mapping[str, Any]
    file: str
    line: int

    @property
    def title(self) -> str:
        return self.address


@dataclass
class Inputs:
    """Variable values given from outside the module: ``--var NAME=VALUE`` (raw text) and ``--var-file`` files."""

    variables: Mapping[str, str] = field(default_factory=dict)
    var_files: Sequence[Path] = ()
    subscription: str | None = None


@dataclass
class Config:
    """One module's declarations, from all its ``.tf`` files."""

    directory: Path
    files: list[str] = field(default_factory=list)
    variables: dict[str, Block] = field(default_factory=dict)
    locals: dict[str, tuple[Attribute, str]] = field(default_factory=dict)
    outputs: dict[str, Block] = field(default_factory=dict)
    resources: dict[tuple[str, str], Block] = field(default_factory=dict)
    data: dict[tuple[str, str], Block] = field(default_factory=dict)
    modules: dict[str, Block] = field(default_factory=dict)
    providers: list[Block] = field(default_factory=list)


def _define(problems: list[Problem], table: dict[Any, Any], key: Any, value: Any, block: Block, what: str) -> None:
    if key in table:
        first = table[key]
        first_where = first.where if isinstance(first, Block) else f"{first[0].expression.file}:{first[0].line}"
        problems.append(
            Problem(
                Code.TERRAFORM_DUPLICATE,
                block.file,
                block.line,
                block.title,
                f"{what} is also defined at {first_where}",
            )
        )
    else:
        table[key] = value


def read_config(directory: Path, files: Sequence[Path], problems: list[Problem]) -> Config:
    config = Config(directory)
    for path in files:
        config.files.append(str(path))
        try:
            body = _parse(path)
        except HclSyntaxError as exc:
            problems.append(
                Problem(Code.TERRAFORM_SYNTAX, exc.file, exc.line, "", f"column {exc.column}: {exc.reason}")
            )
            continue
        except OSError as exc:
            problems.append(Problem(Code.TERRAFORM_SYNTAX, str(path), 0, "", f"cannot read: {exc.strerror}"))
            continue
        for block in body.blocks:
            labels = block.labels
            if block.kind == "variable" and len(labels) == 1:
                _define(problems, config.variables, labels[0], block, block, f'variable "{labels[0]}"')
            elif block.kind == "locals":
                for name, attribute in block.body.attributes.items():
                    if name in config.locals:
                        first, _ = config.locals[name]
                        problems.append(
                            Problem(
                                Code.TERRAFORM_DUPLICATE,
                                block.file,
                                attribute.line,
                                "locals",
                                f"local.{name} is also defined at {first.expression.file}:{first.line}",
                            )
                        )
                    else:
                        config.locals[name] = (attribute, block.file)
            elif block.kind == "output" and len(labels) == 1:
                _define(problems, config.outputs, labels[0], block, block, f'output "{labels[0]}"')
            elif block.kind == "resource" and len(labels) == 2:
                _define(problems, config.resources, labels, block, block, f"{labels[0]}.{labels[1]}")
            elif block.kind == "data" and len(labels) == 2:
                _define(problems, config.data, labels, block, block, f"data.{labels[0]}.{labels[1]}")
            elif block.kind == "module" and len(labels) == 1:
                _define(problems, config.modules, labels[0], block, block, f"module.{labels[0]}")
            elif block.kind == "provider":
                config.providers.append(block)
    return config


def _parse(path: Path) -> Body:
    if path.name.casefold().endswith(".tf.json"):
        raise HclSyntaxError(str(path), 1, 1, "Terraform JSON syntax (.tf.json) is not supported; write HCL (.tf)")
    return parse_file(path)


def module_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name.casefold().endswith((".tf", ".tf.json")))


# --- type constraints ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A ``type = ...`` constraint: kind plus element / attribute types (``optional`` defaults kept)."""

    kind: str  # any string number bool list set map tuple object
    element: TypeSpec | None = None
    attributes: tuple[tuple[str, TypeSpec, bool, Any], ...] = ()  # name, type, optional, default
    elements: tuple[TypeSpec, ...] = ()

    @property
    def primitive(self) -> bool:
        return self.kind in ("string", "number", "bool")


ANY = TypeSpec("any")


def parse_type(expression: Expression) -> TypeSpec:
    return _type(expression.node, expression)


def _type(node: Any, expression: Expression) -> TypeSpec:
    if isinstance(node, Tree) and node.data == "expr_term":
        (inner,) = subtrees(node)
        return _type(inner, expression)
    if isinstance(node, Tree) and node.data == "identifier":
        name = str(node.children[0])
        if name in ("any", "string", "number", "bool"):
            return TypeSpec(name)
    if isinstance(node, Tree) and node.data == "function_call":
        parts = subtrees(node)
        name = str(parts[0].children[0])
        args = subtrees(parts[1]) if len(parts) > 1 else []
        if name in ("list", "set", "map") and len(args) == 1:
            return TypeSpec(name, element=_type(args[0], expression))
        if name == "tuple" and len(args) == 1:
            items = _unwrap(args[0], "tuple")
            return TypeSpec("tuple", elements=tuple(_type(i, expression) for i in subtrees(items)))
        if name == "object" and len(args) == 1:
            obj = _unwrap(args[0], "object")
            attributes = []
            for elem in subtrees(obj):
                key_node, value_node = subtrees(elem)
                key = _key_name(key_node)
                optional = _unwrap_optional(value_node)
                if optional is None:
                    attributes.append((key, _type(value_node, expression), False, None))
                else:
                    type_node, default_node = optional
                    default: Any = (
                        evaluate(Expression(default_node, expression.file, expression.line, ""), _CONSTANT_SCOPE)
                        if default_node is not None
                        else None
                    )
                    attributes.append((key, _type(type_node, expression), True, default))
            return TypeSpec("object", attributes=tuple(attributes))
    raise EvaluationError(f"invalid type constraint {expression.text}", expression.line)


def _unwrap(node: Any, data: str) -> Any:
    while isinstance(node, Tree) and node.data == "expr_term":
        (node,) = subtrees(node)
    if not (isinstance(node, Tree) and node.data == data):
        raise EvaluationError(f"expected a {data} in a type constraint")
    return node


def _key_name(node: Tree[Token]) -> str:
    inner = subtrees(node)
    while inner and inner[0].data == "expr_term":
        inner = subtrees(inner[0])
    if inner and inner[0].data == "identifier":
        return str(inner[0].children[0])
    value = evaluate(Expression(node.children[0], "", 0, ""), _CONSTANT_SCOPE)
    return to_string(value)


def _unwrap_optional(node: Any) -> tuple[Any, Any] | None:
    """``optional(T)`` / ``optional(T, default)`` in an object type: (T node, default node or None)."""
    while isinstance(node, Tree) and node.data == "expr_term" and len(subtrees(node)) == 1:
        inner = subtrees(node)[0]
        if inner.data != "expr_term":
            node = inner
            break
        node = inner
    if isinstance(node, Tree) and node.data == "function_call" and str(subtrees(node)[0].children[0]) == "optional":
        args = subtrees(subtrees(node)[1])
        return args[0], (args[1] if len(args) > 1 else None)
    return None


def _no_names(name: str) -> Any:
    raise EvaluationError(f'"{name}" cannot be referenced here: only constant values are allowed')


_CONSTANT_SCOPE = Scope({}, _no_names)


def convert(value: Any, spec: TypeSpec, what: str) -> Any:
    """Convert a value to a type constraint as Terraform does (``"80"`` to ``80``, tuple to list, ...)."""
    if value is None or isinstance(value, Unknown) or spec.kind == "any":
        return value
    if spec.kind == "string":
        if isinstance(value, list | Mapping):
            raise EvaluationError(f"{what}: a string is required, not {type_name(value)}")
        return to_string(value, what)
    if spec.kind == "number":
        return to_number(value, what)
    if spec.kind == "bool":
        return to_bool(value, what)
    element = spec.element or ANY
    if spec.kind in ("list", "set"):
        if not isinstance(value, list):
            raise EvaluationError(f"{what}: a {spec.kind} is required, not {type_name(value)}")
        items = [convert(v, element, f"{what}[{i}]") for i, v in enumerate(value)]
        return TfSet.of(items) if spec.kind == "set" else items
    if spec.kind == "map":
        if not isinstance(value, Mapping):
            raise EvaluationError(f"{what}: a map is required, not {type_name(value)}")
        return {k: convert(v, element, f"{what}[{json.dumps(k)}]") for k, v in value.items()}
    if spec.kind == "tuple":
        if not isinstance(value, list) or len(value) != len(spec.elements):
            raise EvaluationError(f"{what}: a tuple of {len(spec.elements)} elements is required")
        return [convert(v, t, f"{what}[{i}]") for i, (v, t) in enumerate(zip(value, spec.elements, strict=True))]
    if not isinstance(value, Mapping):
        raise EvaluationError(f"{what}: an object is required, not {type_name(value)}")
    out: dict[str, Any] = {}
    for name, attribute_type, optional, default in spec.attributes:
        if name in value and value[name] is not None:
            out[name] = convert(value[name], attribute_type, f"{what}.{name}")
        elif optional or name in value:
            out[name] = convert(default, attribute_type, f"{what}.{name}") if optional else None
        else:
            raise EvaluationError(f'{what}: attribute "{name}" is required')
    return out


# --- evaluation ---------------------------------------------------------------------------------------------


class _Cycle(Exception):
    def __init__(self, chain: list[str]) -> None:
        self.chain = chain


@dataclass
class Context:
    """What every module instance of one root shares: the subscription, problems, results."""

    subscription: str
    problems: list[Problem] = field(default_factory=list)
    #: ``provider "azurerm" { alias = "x", subscription_id = "..." }``: resources with ``provider = azurerm.x``.
    aliases: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    reported: set[tuple[str, int, str]] = field(default_factory=set)

    def problem(self, code: str, file: str, line: int, context: str, message: str) -> None:
        key = (file, line, message)
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(Problem(code, file, line, context, message))


@dataclass
class _Input:
    """A variable's value from outside: a value, or an expression to evaluate in the caller's scope."""

    value: Any = None
    expression: Expression | None = None
    scope: Scope | None = None
    raw: str | None = None  # ``--var`` text, parsed according to the variable's type
    origin: str = ""


class ModuleInstance:
    def __init__(
        self, config: Config, context: Context, prefix: str, inputs: Mapping[str, _Input], caller: Block | None
    ) -> None:
        self.config, self.context, self.prefix, self.inputs = config, context, prefix, inputs
        self.memo: dict[str, Any] = {}
        self.children: dict[str, Config] = {}
        self.caller = caller
        self.namespaces: dict[str, Namespace] = {
            "var": Namespace("var", self.variable),
            "local": Namespace("local", self.local),
            "module": Namespace("module", self.module),
            "data": Namespace("data", self.data_type),
            "path": Namespace("path", self.path),
            "terraform": Namespace("terraform", self.terraform),
        }
        self.resource_types = {t for t, _ in config.resources}

    # --- names ---

    def resolve(self, name: str) -> Any:
        if name in self.namespaces:
            return self.namespaces[name]
        if name in self.resource_types:
            return Namespace(name, lambda resource: self.resource(name, resource))
        if name.startswith("azurerm_") or "_" in name:
            raise EvaluationError(f'reference to undeclared resource type "{name}" (no resource "{name}" block)')
        raise KeyError(name)

    def scope(self, file: str, names: Mapping[str, Any] | None = None) -> Scope:
        return Scope(dict(names or {}), self.resolve, file)

    def _memoized(self, key: str, compute: Callable[[], Any], file: str, line: int) -> Any:
        if key in self.memo:
            return self.memo[key]
        full = self.prefix + key
        if full in self.context.in_progress:
            chain = [*self.context.in_progress[self.context.in_progress.index(full) :], full]
            raise _Cycle(chain)
        self.context.in_progress.append(full)
        try:
            value = compute()
        except _Cycle as cycle:
            if cycle.chain[0] != full:
                raise
            self.context.problem(Code.TERRAFORM_CYCLE, file, line, key, "cycle: " + " -> ".join(cycle.chain))
            value = Unknown(full, "in a cycle", reported=True)
        finally:
            self.context.in_progress.pop()
        self.memo[key] = value
        return value

    def evaluate(self, expression: Expression, scope: Scope, context: str) -> Any:
        """An expression's value; a problem is recorded (and a reported unknown returned) when it fails."""
        try:
            return evaluate(expression, scope)
        except EvaluationError as exc:
            code = (
                Code.TERRAFORM_UNKNOWN_FUNCTION
                if exc.message.startswith("unknown function")
                else Code.TERRAFORM_EVALUATION
            )
            message = exc.message
            if message.startswith("data source"):
                code = Code.TERRAFORM_DATA_SOURCE
            if code != Code.TERRAFORM_EVALUATION and len(expression.text) <= 120:
                message = f"in `{expression.text}`: {message}"  # the expression as written, to find it by
            self.context.problem(code, expression.file, exc.line or expression.line, context, message)
            return Unknown(expression.text, "invalid", reported=True)

    # --- variables ---

    def variable(self, name: str) -> Any:
        block = self.config.variables.get(name)
        if block is None:
            raise EvaluationError(f'reference to undeclared input variable "{name}"')
        return self._memoized(f"var.{name}", lambda: self._variable_value(name, block), block.file, block.line)

    def _variable_value(self, name: str, block: Block) -> Any:
        attributes = block.body.attributes
        spec = ANY
        if "type" in attributes:
            try:
                spec = parse_type(attributes["type"].expression)
            except EvaluationError as exc:
                self.context.problem(
                    Code.TERRAFORM_EVALUATION, block.file, exc.line or block.line, block.title, exc.message
                )
        given = self.inputs.get(name)
        context = block.title
        if given is None:
            if "default" not in attributes:
                where = f"module.{self.caller.labels[0]}" if self.caller else "the root module"
                message = (
                    f"no value for required variable {name} of {where}: give it with --var {name}=VALUE, "
                    "--var-file or terraform.tfvars"
                    if self.caller is None
                    else f"no value for required variable {name}: set it in the module block at {self.caller.where}"
                )
                self.context.problem(Code.TERRAFORM_MISSING_VARIABLE, block.file, block.line, context, message)
                return Unknown(f"var.{name}", "missing", reported=True)
            value = self.evaluate(attributes["default"].expression, _CONSTANT_SCOPE, context)
        elif given.raw is not None:
            if "type" not in attributes or spec.primitive:
                value = given.raw
            else:
                try:
                    parsed = parse_expression(given.raw, given.origin, 0)
                    value = evaluate(parsed, _CONSTANT_SCOPE)
                except (HclSyntaxError, EvaluationError) as exc:
                    message = exc.reason if isinstance(exc, HclSyntaxError) else exc.message
                    self.context.problem(Code.TERRAFORM_EVALUATION, given.origin, 0, f"--var {name}", message)
                    return Unknown(f"var.{name}", "invalid", reported=True)
        elif given.expression is not None and given.scope is not None:
            caller_context = self.caller.title if self.caller else context
            value = self.evaluate(given.expression, given.scope, caller_context)
        else:
            value = given.value
        try:
            return convert(value, spec, f"var.{name}")
        except EvaluationError as exc:
            self.context.problem(Code.TERRAFORM_EVALUATION, block.file, block.line, context, exc.message)
            return Unknown(f"var.{name}", "invalid", reported=True)

    # --- locals, path, terraform, data ---

    def local(self, name: str) -> Any:
        found = self.config.locals.get(name)
        if found is None:
            raise EvaluationError(f'reference to undeclared local value "{name}"')
        attribute, file = found
        return self._memoized(
            f"local.{name}",
            lambda: self.evaluate(attribute.expression, self.scope(file), "locals"),
            file,
            attribute.line,
        )

    def path(self, name: str) -> Any:
        if name in ("module", "root", "cwd"):
            return str(self.config.directory)
        raise EvaluationError(f"path.{name} is not a path value (use path.module, path.root or path.cwd)")

    def terraform(self, name: str) -> Any:
        if name == "workspace":
            return "default"
        raise EvaluationError(f"terraform.{name} is not known")

    def data_type(self, data_type: str) -> Any:
        def named(name: str) -> Any:
            block = self.config.data.get((data_type, name))
            declared = f" (declared at {block.where})" if block else " (not declared)"
            raise EvaluationError(
                f"data source data.{data_type}.{name}{declared} is read from Azure at plan time; {PLAN_ADVICE}"
            )

        return Namespace(f"data.{data_type}", named)

    # --- resources ---

    def resource(self, resource_type: str, name: str) -> Any:
        block = self.config.resources.get((resource_type, name))
        if block is None:
            raise EvaluationError(f'reference to undeclared resource "{resource_type}.{name}"')
        return self._memoized(f"{resource_type}.{name}", lambda: self._resource_value(block), block.file, block.line)

    def _repetition(self, block: Block, scope: Scope) -> tuple[str, Any]:
        """("single", None), ("count", n) or ("for_each", {key: value}); ("error", unknown) when not known."""
        attributes = block.body.attributes
        if "count" in attributes and "for_each" in attributes:
            self.context.problem(
                Code.TERRAFORM_EVALUATION,
                block.file,
                block.line,
                block.title,
                "count and for_each are mutually exclusive",
            )
            return "error", Unknown(block.title, "invalid", reported=True)
        if "count" in attributes:
            expression = attributes["count"].expression
            count = self.evaluate(expression, scope, block.title)
            if isinstance(count, Unknown):
                self._unknown_meta(count, expression, block, "count")
                return "error", count
            try:
                number = to_number(count, "count")
            except EvaluationError as exc:
                self.context.problem(Code.TERRAFORM_EVALUATION, block.file, expression.line, block.title, exc.message)
                return "error", Unknown(block.title, "invalid", reported=True)
            if not isinstance(number, int) or number < 0:
                self.context.problem(
                    Code.TERRAFORM_EVALUATION,
                    block.file,
                    expression.line,
                    block.title,
                    f"count must be a whole number >= 0, not {display(count)}",
                )
                return "error", Unknown(block.title, "invalid", reported=True)
            return "count", number
        if "for_each" in attributes:
            expression = attributes["for_each"].expression
            items = self.evaluate(expression, scope, block.title)
            if isinstance(items, Unknown) or first_unknown(items) is not None:
                self._unknown_meta(first_unknown(items) or items, expression, block, "for_each")
                return "error", items
            if isinstance(items, TfSet):
                bad = [i for i in items if not isinstance(i, str)]
                if bad:
                    self.context.problem(
                        Code.TERRAFORM_EVALUATION,
                        block.file,
                        expression.line,
                        block.title,
                        "for_each over a set needs a set of strings",
                    )
                    return "error", Unknown(block.title, "invalid", reported=True)
                return "for_each", {item: item for item in items}
            if isinstance(items, Mapping):
                return "for_each", dict(items)
            self.context.problem(
                Code.TERRAFORM_EVALUATION,
                block.file,
                expression.line,
                block.title,
                f"for_each must be a map or a set of strings, not a {type_name(items)}; convert a list with toset()",
            )
            return "error", Unknown(block.title, "invalid", reported=True)
        return "single", None

    def _unknown_meta(self, value: Any, expression: Expression, block: Block, argument: str) -> None:
        if isinstance(value, Unknown) and not value.reported:
            self.context.problem(
                Code.TERRAFORM_UNKNOWN_VALUE,
                expression.file,
                expression.line,
                block.title,
                f"{argument} = {expression.text} depends on {value.what}, {value.reason}; {PLAN_ADVICE}",
            )

    def _resource_value(self, block: Block) -> Any:
        resource_type, name = block.labels
        scope = self.scope(block.file)
        mode, how = self._repetition(block, scope)
        base = f"{self.prefix}{resource_type}.{name}"
        if mode == "error":
            return how
        if mode == "single":
            return self._instance(block, base, scope)
        if mode == "count":
            return [self._instance(block, f"{base}[{i}]", scope.child({"count": {"index": i}})) for i in range(how)]
        return {
            key: self._instance(
                block, f"{base}[{json.dumps(key)}]", scope.child({"each": {"key": key, "value": value}})
            )
            for key, value in how.items()
        }

    def _instance(self, block: Block, address: str, scope: Scope) -> ResourceValue:
        resource_type = block.labels[0]
        values = self.body_values(block.body, scope, block.title, skip=_META_ARGUMENTS)
        provider = block.body.attributes.get("provider")
        alias = provider.expression.text.removeprefix("azurerm.") if provider is not None else None
        subscription = self.context.aliases.get(alias or "", self.context.subscription)
        computed = azurerm.computed_attributes(resource_type, values, subscription, address)
        lines = {name: attribute.line for name, attribute in block.body.attributes.items()}
        written = BlockValue({**values, **computed}, block.file, block.line, lines)
        self.context.instances.append(Instance(resource_type, address, written, block.file, block.line))
        return ResourceValue({**values, **computed}, address)

    def body_values(self, body: Body, scope: Scope, context: str, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
        """A block body's arguments and nested blocks (lists of ``BlockValue``, ``dynamic`` blocks expanded)."""
        values: dict[str, Any] = {}
        for name, attribute in body.attributes.items():
            if name not in skip:
                values[name] = self.evaluate(attribute.expression, scope, context)
        for nested in body.blocks:
            if nested.kind in _META_BLOCKS:
                continue
            if nested.kind == "dynamic" and nested.labels:
                values.setdefault(nested.labels[0], []).extend(self._dynamic(nested, scope))
                continue
            title = _nested_title(nested.kind, nested.body, scope)
            inner = self.body_values(nested.body, scope, title)
            lines = {name: attribute.line for name, attribute in nested.body.attributes.items()}
            values.setdefault(nested.kind, []).append(BlockValue(inner, nested.file, nested.line, lines))
        return values

    def _dynamic(self, block: Block, scope: Scope) -> list[BlockValue]:
        label = block.labels[0]
        attributes = block.body.attributes
        context = f'dynamic "{label}"'
        if "for_each" not in attributes:
            self.context.problem(
                Code.TERRAFORM_EVALUATION, block.file, block.line, context, "a dynamic block needs for_each"
            )
            return []
        iterator = attributes["iterator"].expression.text if "iterator" in attributes else label
        contents = block.body.blocks_of("content")
        if len(contents) != 1:
            self.context.problem(
                Code.TERRAFORM_EVALUATION, block.file, block.line, context, "a dynamic block needs one content block"
            )
            return []
        expression = attributes["for_each"].expression
        items = self.evaluate(expression, scope, context)
        if isinstance(items, Unknown):
            self._unknown_meta(items, expression, block, "for_each")
            return []
        if isinstance(items, (TfSet, list)):
            pairs = [(item if isinstance(items, TfSet) else i, item) for i, item in enumerate(items)]
        elif isinstance(items, Mapping):
            pairs = [(k, items[k]) for k in sorted(items)]
        else:
            self.context.problem(
                Code.TERRAFORM_EVALUATION,
                block.file,
                expression.line,
                context,
                f"for_each must be a collection, not {type_name(items)}",
            )
            return []
        out: list[BlockValue] = []
        (content,) = contents
        for key, value in pairs:
            inner_scope = scope.child({iterator: {"key": key, "value": value}})
            title = _nested_title(label, content.body, inner_scope)
            lines = {name: attribute.line for name, attribute in content.body.attributes.items()}
            inner = self.body_values(content.body, inner_scope, title)
            out.append(BlockValue(inner, content.file, content.line, lines))
        return out

    # --- module calls ---

    def module(self, name: str) -> Any:
        block = self.config.modules.get(name)
        if block is None:
            raise EvaluationError(f'reference to undeclared module "{name}"')
        return self._memoized(f"module.{name}", lambda: self._module_value(block), block.file, block.line)

    def _child_config(self, block: Block) -> Config | Unknown:
        name = block.labels[0]
        if name in self.children:
            return self.children[name]
        attributes = block.body.attributes
        if "source" not in attributes:
            self.context.problem(
                Code.TERRAFORM_EVALUATION, block.file, block.line, block.title, "a module block needs source"
            )
            return Unknown(block.title, "invalid", reported=True)
        source_expression = attributes["source"].expression
        source = self.evaluate(source_expression, _CONSTANT_SCOPE, block.title)
        if not isinstance(source, str):
            return Unknown(block.title, "invalid", reported=True)
        if not source.startswith(("./", "../")):
            self.context.problem(
                Code.TERRAFORM_REMOTE_MODULE,
                block.file,
                source_expression.line,
                block.title,
                f'module source "{source}" is not a local path (./ or ../): remote modules are not downloaded; '
                f"{PLAN_ADVICE}",
            )
            return Unknown(block.title, "remote", reported=True)
        directory = (self.config.directory / source).resolve()
        display_dir = Path(os.path.relpath(directory)) if directory.is_absolute() else directory
        if not directory.is_dir() or not module_files(directory):
            self.context.problem(
                Code.TERRAFORM_EVALUATION,
                block.file,
                source_expression.line,
                block.title,
                f'module source "{source}" is not a directory with .tf files',
            )
            return Unknown(block.title, "invalid", reported=True)
        config = read_config(display_dir, module_files(display_dir), self.context.problems)
        self.children[name] = config
        return config

    def _module_value(self, block: Block) -> Any:
        name = block.labels[0]
        config = self._child_config(block)
        if isinstance(config, Unknown):
            return config
        scope = self.scope(block.file)
        mode, how = self._repetition(block, scope)
        base = f"{self.prefix}module.{name}"
        if mode == "error":
            return how
        if mode == "single":
            return self._call(block, config, base, scope)
        if mode == "count":
            return [self._call(block, config, f"{base}[{i}]", scope.child({"count": {"index": i}})) for i in range(how)]
        return {
            key: self._call(
                block, config, f"{base}[{json.dumps(key)}]", scope.child({"each": {"key": key, "value": value}})
            )
            for key, value in how.items()
        }

    def _call(self, block: Block, config: Config, address: str, scope: Scope) -> Namespace:
        inputs = {}
        for arg, attribute in block.body.attributes.items():
            if arg in ("source", "version", "count", "for_each", "depends_on", "providers"):
                continue
            if arg not in config.variables:
                self.context.problem(
                    Code.TERRAFORM_UNDECLARED_VARIABLE,
                    block.file,
                    attribute.line,
                    block.title,
                    f'module {config.directory} has no variable "{arg}"',
                )
                continue
            inputs[arg] = _Input(expression=attribute.expression, scope=scope)
        child = ModuleInstance(config, self.context, address + ".", inputs, block)
        child.evaluate_all()

        def output(name: str) -> Any:
            found = config.outputs.get(name)
            if found is None:
                raise EvaluationError(f'module {address} has no output "{name}"')
            return child._output(name, found) if "value" in found.body.attributes else None

        return Namespace(address, output)

    # --- everything ---

    def evaluate_all(self) -> None:
        """Evaluate every declaration once (so every problem is found, used or not)."""
        for name in self.config.variables:
            self.variable(name)
        for name in self.config.locals:
            self.local(name)
        for resource_type, name in self.config.resources:
            self.resource(resource_type, name)
        for name in self.config.modules:
            self.module(name)
        if self.caller is None:
            for name, block in self.config.outputs.items():
                if "value" in block.body.attributes:
                    self._output(name, block)

    def _output(self, name: str, block: Block) -> Any:
        expression = block.body.attributes["value"].expression
        return self._memoized(
            f"output.{name}",
            lambda: self.evaluate(expression, self.scope(block.file), block.title),
            block.file,
            block.line,
        )


def _nested_title(kind: str, body: Body, scope: Scope) -> str:
    """``security_rule "ssh"``: a nested block named by its ``name`` argument when that is a plain value."""
    attribute = body.attributes.get("name")
    if attribute is not None:
        try:
            name = evaluate(attribute.expression, scope)
        except EvaluationError:
            name = None
        if isinstance(name, str):
            return f"{kind} {json.dumps(name)}"
    return kind


# --- the root module ----------------------------------------------------------------------------------------


def _tfvars(path: Path, problems: list[Problem]) -> dict[str, _Input]:
    """A ``.tfvars`` (HCL, constants only) or ``.tfvars.json`` file's values."""
    out: dict[str, _Input] = {}
    label = str(path)
    if path.name.casefold().endswith(".json"):
        try:
            data = read_json_file(path)
        except InputError as exc:
            problems.append(
                Problem(Code.TERRAFORM_SYNTAX, label, 0, "", f"not a readable JSON variables file: {exc.reason}")
            )
            return out
        if not isinstance(data, dict):
            problems.append(Problem(Code.TERRAFORM_SYNTAX, label, 0, "", "a JSON variables file must hold an object"))
            return out
        return {k: _Input(value=v, origin=label) for k, v in data.items()}
    try:
        body = parse_file(path)
    except HclSyntaxError as exc:
        problems.append(Problem(Code.TERRAFORM_SYNTAX, exc.file, exc.line, "", f"column {exc.column}: {exc.reason}"))
        return out
    except OSError as exc:
        problems.append(Problem(Code.TERRAFORM_SYNTAX, label, 0, "", f"cannot read: {exc.strerror}"))
        return out
    for name, attribute in body.attributes.items():
        try:
            out[name] = _Input(
                value=evaluate(attribute.expression, _CONSTANT_SCOPE), origin=f"{label}:{attribute.line}"
            )
        except EvaluationError as exc:
            problems.append(Problem(Code.TERRAFORM_EVALUATION, label, exc.line or attribute.line, name, exc.message))
    return out


def root_inputs(config: Config, given: Inputs, problems: list[Problem]) -> dict[str, _Input]:
    """Values in Terraform's precedence: TF_VAR_ environment, terraform.tfvars(.json), *.auto.tfvars(.json) in
    name order, then ``--var-file`` files, then ``--var`` (a later source wins)."""
    inputs: dict[str, _Input] = {}
    for key, raw in os.environ.items():
        if key.startswith("TF_VAR_") and key[7:] in config.variables:
            inputs[key[7:]] = _Input(raw=raw, origin=f"environment variable {key}")
    directory = config.directory
    automatic = [directory / "terraform.tfvars", directory / "terraform.tfvars.json"]
    automatic += sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.name.casefold().endswith((".auto.tfvars", ".auto.tfvars.json"))
    )
    for path in [*(p for p in automatic if p.is_file()), *given.var_files]:
        if not path.is_file():
            problems.append(Problem(Code.TERRAFORM_SYNTAX, str(path), 0, "", "the variables file does not exist"))
            continue
        inputs.update(_tfvars(path, problems))
    for name, raw in given.variables.items():
        if name not in config.variables:
            problems.append(
                Problem(
                    Code.TERRAFORM_UNDECLARED_VARIABLE,
                    f"--var {name}",
                    0,
                    "",
                    f'the root module declares no variable "{name}"',
                )
            )
            continue
        inputs[name] = _Input(raw=raw, origin=f"--var {name}")
    return inputs


def provider_subscriptions(config: Config, instance: ModuleInstance) -> dict[str, str]:
    """The ``azurerm`` provider blocks' ``subscription_id`` when known without Azure, by alias ("" for none)."""
    out: dict[str, str] = {}
    for block in config.providers:
        attributes = block.body.attributes
        if block.labels[:1] != ("azurerm",) or "subscription_id" not in attributes:
            continue
        try:
            value = evaluate(attributes["subscription_id"].expression, instance.scope(block.file))
            alias = (
                evaluate(attributes["alias"].expression, instance.scope(block.file)) if "alias" in attributes else ""
            )
        except EvaluationError:
            continue
        if isinstance(value, str) and value and isinstance(alias, str):
            out.setdefault(alias, value)
    return out


def evaluate_root(
    directory: Path, files: Sequence[Path], given: Inputs, placeholder: str
) -> tuple[list[Instance], list[Problem], str]:
    """Every resource instance of a root module (and its child modules), the problems, and the subscription used."""
    problems: list[Problem] = []
    config = read_config(directory, files, problems)
    inputs = root_inputs(config, given, problems)
    probe = ModuleInstance(config, Context(placeholder), "", inputs, None)
    providers = provider_subscriptions(config, probe)
    subscription = given.subscription or providers.pop("", None) or placeholder
    providers.pop("", None)
    context = Context(subscription, problems, aliases=providers)
    root = ModuleInstance(config, context, "", inputs, None)
    root.evaluate_all()
    return context.instances, context.problems, subscription


__all__ = ["PLAN_ADVICE", "Inputs", "Instance", "Problem", "evaluate_root", "module_files"]
