"""Evaluation scope: parameters, variables (lazy, each root cause reported once), copy indices, lambda variables
and user-defined functions — and the deployment (context and resources) the resource functions ask."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opennsg.arm.keys import lookup
from opennsg.arm.template.expressions import Call, is_expression, parse, shown
from opennsg.arm.template.functions import REGISTRY, check_count, load_all
from opennsg.arm.template.values import Suppressed, TemplateError, Unknown, first_unknown

if TYPE_CHECKING:
    from opennsg.arm.template.context import DeploymentContext

load_all()
MAX_COPY = 800


class Deployment(Protocol):
    """What the resource and deployment functions need from the template being deployed."""

    context: DeploymentContext
    template: Mapping[str, Any]

    def reference(self, target: Any, api_version: Any, full: bool, text: str) -> Any: ...

    def references(self, symbol: str, full: bool, text: str) -> Any: ...

    def resource_info(self, symbol: str, text: str) -> Any: ...

    def report(self, error: TemplateError) -> None: ...


class _Variables:
    """A template's variables, each evaluated on first use; a failure is reported once and then suppressed."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw: dict[str, tuple[str, Any]] = {}
        self.loops: dict[str, tuple[str, Any]] = {}
        for name, value in raw.items():
            if name.casefold() == "copy" and isinstance(value, list):
                for i, spec in enumerate(value):
                    loop = lookup(spec, "name") if isinstance(spec, Mapping) else None
                    key = loop.casefold() if isinstance(loop, str) else f"copy[{i}]"
                    self.loops[key] = (str(loop), (i, spec))
            else:
                self.raw[name.casefold()] = (name, value)
        self.values: dict[str, Any] = {}
        self.failed: set[str] = set()
        self.resolving: set[str] = set()


class Scope:
    """Evaluates expressions; children share variables and add copy indices or lambda variables."""

    def __init__(
        self,
        deployment: Deployment,
        parameters: Mapping[str, Any],
        variables: Mapping[str, Any] | _Variables,
        functions: Mapping[str, Any],
        *,
        missing: frozenset[str] = frozenset(),
        in_function: bool = False,
    ) -> None:
        self.deployment = deployment
        self.parameters = {k.casefold(): v for k, v in parameters.items()}
        self.missing = missing
        self.variables = variables if isinstance(variables, _Variables) else _Variables(variables)
        self.functions = functions
        self.copy: dict[str, int] = {}
        self.default_loop: str | None = None
        self.lambdas: dict[str, Any] = {}
        self.in_function = in_function
        self.in_parameter_default = False
        self.resolver: Callable[[str], Any] | None = None
        self.path = ""

    def child(self) -> Scope:
        out = Scope.__new__(Scope)
        out.__dict__.update(self.__dict__)
        out.copy = dict(self.copy)
        out.lambdas = dict(self.lambdas)
        return out

    def with_copy(self, name: str, index: int, *, default: bool = False) -> Scope:
        out = self.child()
        out.copy[name.casefold()] = index
        if default:
            out.default_loop = name.casefold()
        return out

    # --- values ---

    def value(self, raw: Any, path: str, *, property_copy: bool = True) -> Any:
        """``raw`` with its expressions evaluated (and ``copy`` property loops expanded)."""
        if isinstance(raw, str):
            if is_expression(raw):
                return self.evaluate(raw[1:-1], path)
            if raw.startswith("[[") and raw.endswith("]"):
                return raw[1:]
            return raw
        if isinstance(raw, Mapping):
            out: dict[str, Any] = {}
            for key, item in raw.items():
                where = f"{path}.{key}" if path else key
                if property_copy and key.casefold() == "copy" and _is_property_loops(item):
                    for i, spec in enumerate(item):
                        name = lookup(spec, "name")
                        out[name] = self.property_loop(spec, f"{where}[{i}]", name)
                else:
                    out[key] = self.value(item, where, property_copy=property_copy)
            return out
        if isinstance(raw, list):
            return [self.value(item, f"{path}[{i}]", property_copy=property_copy) for i, item in enumerate(raw)]
        return raw

    def evaluate(self, text: str, path: str) -> Any:
        saved = self.path
        self.path = path
        try:
            return parse(text).evaluate(self)
        except TemplateError as exc:
            if not exc.path:
                exc.path = path
            raise
        except RecursionError:
            raise TemplateError(
                f"The expression '{shown(text)}' nests too deeply to evaluate (user functions or values calling "
                "each other too deep): simplify it.",
                path,
            ) from None
        finally:
            self.path = saved

    def count(self, raw: Any, path: str) -> int:
        """A copy loop's ``count``: an integer from 0 to 800 (ARM's limits)."""
        count = self.value(raw, path)
        if isinstance(count, Unknown):
            raise TemplateError(
                f"The copy count at {path} is '{count.origin}', known only when Azure deploys the template; "
                "give the count directly (a parameter value).",
                path,
            )
        if isinstance(count, bool) or not isinstance(count, int):
            raise TemplateError(f"The copy count must be an integer, not {count!r}.", path)
        if count < 0 or count > MAX_COPY:
            raise TemplateError(f"The copy count {count} is out of range: it must be from 0 to {MAX_COPY}.", path)
        return count

    def property_loop(self, spec: Mapping[str, Any], path: str, name: str) -> list[Any]:
        if lookup(spec, "input") is None:
            raise TemplateError(f"The property copy loop '{name}' needs an 'input'.", path)
        count = self.count(lookup(spec, "count"), f"{path}.count")
        item = lookup(spec, "input")
        return [self.with_copy(name, i).value(item, f"{path}.input") for i in range(count)]

    # --- functions ---

    def call(self, node: Call) -> Any:
        fn = REGISTRY.get(node.name.casefold())
        if fn is None:
            if node.name.casefold().startswith("list") and "." not in node.name:
                from opennsg.arm.template.functions.resources import list_function

                return list_function(self, node)
            return self.user_function(node)
        check_count(fn, len(node.args))
        if fn.lazy:
            return fn.impl(self, node)
        args = [arg.evaluate(self) for arg in node.args]
        if fn.unknown != "none":
            for arg in args:
                found = arg if isinstance(arg, Unknown) else first_unknown(arg) if fn.unknown == "deep" else None
                if found is not None:
                    return found.typed(fn.returns)
        return fn.impl(self, args)

    def user_function(self, node: Call) -> Any:
        namespace, _, member = node.name.partition(".")
        found = None
        if member:
            members = self.functions.get(namespace.casefold())
            found = members.get(member.casefold()) if members else None
        if found is None:
            raise TemplateError(
                f"The template function '{node.name}' is not valid: it is neither one of Azure's template "
                "functions nor a user-defined function of this template (see https://aka.ms/arm-functions)."
            )
        declared, output = found
        if len(declared) != len(node.args):
            raise TemplateError(
                f"The user-defined function '{node.name}' expects {len(declared)} parameter(s); "
                f"{len(node.args)} were given."
            )
        args = {name: arg.evaluate(self) for name, arg in zip(declared, node.args, strict=True)}
        inner = Scope(self.deployment, args, {}, self.functions, in_function=True)
        return inner.value(lookup(output, "value"), f"functions.{node.name}.output.value")

    # --- parameters and variables ---

    def parameter(self, name: str) -> Any:
        key = name.casefold()
        if key in self.parameters:
            return self.parameters[key]
        if self.resolver is not None:
            return self.resolver(name)
        if key in self.missing:
            raise Suppressed()
        raise TemplateError(f"The template parameter '{name}' is not declared in the template's 'parameters'.")

    def variable(self, name: str) -> Any:
        if self.in_function:
            raise TemplateError("User-defined functions cannot use variables(): pass the value as a parameter.")
        state, key = self.variables, name.casefold()
        if key in state.values:
            return state.values[key]
        if key in state.failed:
            raise Suppressed()
        if key in state.resolving:
            raise TemplateError(f"The template variable '{name}' refers to itself (a circular definition).")
        if key in state.loops:
            loop_name, (i, spec) = state.loops[key]
            where = f"variables.copy[{i}]"
            compute: Callable[[], Any] = lambda: self._root().property_loop(spec, where, loop_name)  # noqa: E731
        elif key in state.raw:
            declared, raw = state.raw[key]
            where = f"variables.{declared}"
            compute = lambda: self._root().value(raw, where)  # noqa: E731
        else:
            raise TemplateError(f"The template variable '{name}' is not declared in the template's 'variables'.")
        state.resolving.add(key)
        try:
            value = compute()
        except Suppressed:
            state.failed.add(key)
            raise
        except TemplateError as exc:
            state.failed.add(key)
            self.deployment.report(exc if exc.path else TemplateError(exc.message, where, exc.code))
            raise Suppressed() from None
        finally:
            state.resolving.discard(key)
        state.values[key] = value
        return value

    def _root(self) -> Scope:
        """Variables are evaluated without the copy indices of whoever asks for them first."""
        out = self.child()
        out.copy, out.default_loop, out.lambdas = {}, None, {}
        return out


def _is_property_loops(item: Any) -> bool:
    return (
        isinstance(item, list)
        and bool(item)
        and all(isinstance(spec, Mapping) and isinstance(lookup(spec, "name"), str) for spec in item)
        and all(lookup(spec, "input") is not None or lookup(spec, "count") is not None for spec in item)
    )


__all__ = ["MAX_COPY", "Deployment", "Scope"]
