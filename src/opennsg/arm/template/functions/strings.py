"""String functions (Azure's template function reference, "String functions"), with ARM's semantics:
``startsWith``/``endsWith``/``indexOf`` ignore case, ``contains``/``replace`` do not, ``format`` is .NET's."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import json5

from opennsg.arm.template.functions import function, type_error, want_int, want_list, want_str
from opennsg.arm.template.values import TemplateError, Unknown, is_int, to_text

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope


@function("concat", 0, None, unknown="none")
def concat(scope: Scope, args: list[Any]) -> Any:
    unknown = next((a for a in args if isinstance(a, Unknown)), None)
    if unknown is not None:
        return unknown.typed("array" if any(isinstance(a, list) for a in args) else "string")
    if args and all(isinstance(a, list) or a is None for a in args) and any(isinstance(a, list) for a in args):
        return [item for a in args if a is not None for item in a]
    out = []
    for i, a in enumerate(args):
        if isinstance(a, list | dict):
            raise TemplateError(
                "The template language function 'concat' expects all its parameters to be strings (or numbers) "
                f"or all to be arrays; the {i + 1}th is of type '{'Array' if isinstance(a, list) else 'Object'}'."
            )
        out.append(to_text(a))
    return "".join(out)


_FIELD = re.compile(r"\{\{|\}\}|\{(\d+)(?:,(-?\d+))?(?::([^}]*))?\}|\{|\}")


def dotnet_format(spec: str, value: Any) -> str:
    """A .NET standard/custom numeric format of an integer (N0, D3, X, #,##0 ...) or the value as text."""
    if spec and isinstance(value, int | float) and not isinstance(value, bool):
        code, digits = spec[0].upper(), spec[1:]
        if code in "NDXFP" and (digits == "" or digits.isdigit()):
            n = int(digits) if digits else None
            if code == "N":
                return f"{value:,.{2 if n is None else n}f}"
            if code == "D":
                return f"{int(value):0{n or 0}d}"
            if code == "X":
                text = f"{int(value):0{n or 0}x}"
                return text.upper() if spec[0] == "X" else text
            if code == "F":
                return f"{value:.{2 if n is None else n}f}"
            return f"{value * 100:,.{2 if n is None else n}f} %"
        if set(spec) <= set("#0,."):
            decimals = len(spec.split(".")[1]) if "." in spec else 0
            grouped = "," in spec.split(".")[0]
            text = f"{value:{',' if grouped else ''}.{decimals}f}"
            zeros = spec.split(".")[0].replace(",", "").count("0")
            whole, dot, frac = text.partition(".")
            sign = "-" if whole.startswith("-") else ""
            whole = whole.lstrip("-")
            if zeros > len(whole.replace(",", "")):
                whole = whole.rjust(zeros, "0") if not grouped else f"{int(value):0{zeros},d}"
            return f"{sign}{whole}{dot}{frac}"
    return to_text(value)


@function("format", 1, None)
def format_(scope: Scope, args: list[Any]) -> str:
    template = want_str("format", args, 0)
    values = args[1:]

    def field(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            raise TemplateError(f"The format string '{template}' of the function 'format' is not valid.")
        index = int(match.group(1))
        if index >= len(values):
            raise TemplateError(
                f"The format string '{template}' refers to argument {{{index}}}, but 'format' was given only "
                f"{len(values)} argument(s) after it."
            )
        text = dotnet_format(match.group(3) or "", values[index])
        width = int(match.group(2)) if match.group(2) else 0
        return text.ljust(-width) if width < 0 else text.rjust(width)

    return _FIELD.sub(field, template)


@function("base64", 1, returns="string")
def _base64(scope: Scope, args: list[Any]) -> str:
    return base64.b64encode(want_str("base64", args, 0).encode("utf-8")).decode("ascii")


def _decode64(name: str, text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise TemplateError(f"The template language function '{name}': '{text}' is not valid base64.") from None


@function("base64ToString", 1, returns="string")
def _base64_to_string(scope: Scope, args: list[Any]) -> str:
    return _decode64("base64ToString", want_str("base64ToString", args, 0))


@function("base64ToJson", 1)
def _base64_to_json(scope: Scope, args: list[Any]) -> Any:
    return parse_json("base64ToJson", _decode64("base64ToJson", want_str("base64ToJson", args, 0)))


def parse_json(name: str, text: str) -> Any:
    """JSON as ARM (Json.NET) reads it: strict JSON, else the lenient forms it accepts too — single-quoted strings,
    unquoted property names, comments, trailing commas (``json("{'a': 'b'}")`` is ``{"a": "b"}``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        strict = exc.msg
    except RecursionError:
        strict = "nested too deeply"
    try:
        return json5.loads(text)
    except (ValueError, RecursionError):
        raise TemplateError(
            f"The template language function '{name}': the text is not valid JSON ({strict})."
        ) from None


@function("json", 1)
def _json(scope: Scope, args: list[Any]) -> Any:
    return parse_json("json", want_str("json", args, 0))


@function("dataUri", 1, returns="string")
def _data_uri(scope: Scope, args: list[Any]) -> str:
    encoded = base64.b64encode(want_str("dataUri", args, 0).encode("utf-8")).decode("ascii")
    return f"data:text/plain;charset=utf8;base64,{encoded}"


@function("dataUriToString", 1, returns="string")
def _data_uri_to_string(scope: Scope, args: list[Any]) -> str:
    text = want_str("dataUriToString", args, 0)
    header, comma, data = text.partition(",")
    if not header.startswith("data:") or not comma:
        raise TemplateError(f"The template language function 'dataUriToString': '{text}' is not a data URI.")
    if header.endswith(";base64"):
        return _decode64("dataUriToString", data)
    return urllib.parse.unquote(data)


@function("empty", 1, unknown="top", returns="bool")
def empty(scope: Scope, args: list[Any]) -> bool:
    value = args[0]
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    raise type_error("empty", 0, "String, Array or Object", value)


def _two_strings(name: str, args: list[Any]) -> tuple[str, str]:
    return want_str(name, args, 0), want_str(name, args, 1)


@function("startsWith", 2, returns="bool")
def _starts_with(scope: Scope, args: list[Any]) -> bool:
    text, prefix = _two_strings("startsWith", args)
    return text.casefold().startswith(prefix.casefold())


@function("endsWith", 2, returns="bool")
def _ends_with(scope: Scope, args: list[Any]) -> bool:
    text, suffix = _two_strings("endsWith", args)
    return text.casefold().endswith(suffix.casefold())


def _index_of(name: str, args: list[Any], last: bool) -> int:
    haystack = args[0]
    if isinstance(haystack, list):
        matches = [i for i, item in enumerate(haystack) if item == args[1] and type(item) is type(args[1])]
        return (matches[-1] if last else matches[0]) if matches else -1
    text, needle = _two_strings(name, args)
    folded, wanted = text.casefold(), needle.casefold()
    return folded.rfind(wanted) if last else folded.find(wanted)


@function("like", 2, returns="bool")
def _like(scope: Scope, args: list[Any]) -> bool:
    """``input`` matches ``pattern``, where ``*`` stands for any text (case-insensitive)."""
    text, pattern = _two_strings("like", args)
    parts = (re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(".*".join(parts), text, re.IGNORECASE | re.DOTALL) is not None


@function("indexOf", 2, unknown="deep", returns="int")
def _index_of_first(scope: Scope, args: list[Any]) -> int:
    return _index_of("indexOf", args, False)


@function("lastIndexOf", 2, unknown="deep", returns="int")
def _last_index_of(scope: Scope, args: list[Any]) -> int:
    return _index_of("lastIndexOf", args, True)


@function("join", 2, returns="string")
def _join(scope: Scope, args: list[Any]) -> Any:
    items = want_list("join", args, 0)
    delimiter = want_str("join", args, 1)
    for item in items:
        if isinstance(item, Unknown):
            return item.typed("string")
        if isinstance(item, list | dict):
            raise TemplateError(
                "The template language function 'join' expects an array of strings, numbers or booleans."
            )
    return delimiter.join(to_text(item) for item in items)


@function("padLeft", 2, 3, returns="string")
def _pad_left(scope: Scope, args: list[Any]) -> str:
    value = args[0]
    if not isinstance(value, str) and not is_int(value):
        raise type_error("padLeft", 0, "String or Integer", value)
    total = want_int("padLeft", args, 1)
    pad = want_str("padLeft", args, 2) if len(args) == 3 else " "
    if len(pad) != 1:
        raise TemplateError("The template language function 'padLeft' expects a single padding character.")
    return to_text(value).rjust(total, pad)


@function("replace", 3, returns="string")
def _replace(scope: Scope, args: list[Any]) -> str:
    original = want_str("replace", args, 0)
    old, new = want_str("replace", args, 1), want_str("replace", args, 2)
    if not old:
        raise TemplateError("The template language function 'replace' cannot replace an empty string.")
    return original.replace(old, new)


@function("split", 2, returns="array")
def _split(scope: Scope, args: list[Any]) -> list[str]:
    text = want_str("split", args, 0)
    delimiters = args[1]
    if isinstance(delimiters, str):
        delimiters = [delimiters]
    if not isinstance(delimiters, list) or not all(isinstance(d, str) for d in delimiters):
        raise type_error("split", 1, "String or Array of strings", args[1])
    if not delimiters or any(d == "" for d in delimiters):
        return [text]
    pattern = "|".join(re.escape(d) for d in sorted(delimiters, key=len, reverse=True))
    return re.split(pattern, text)


@function("string", 1, unknown="deep", returns="string")
def _string(scope: Scope, args: list[Any]) -> str:
    return to_text(args[0])


@function("substring", 1, 3, returns="string")
def _substring(scope: Scope, args: list[Any]) -> str:
    text = want_str("substring", args, 0)
    start = want_int("substring", args, 1) if len(args) > 1 else 0
    length = want_int("substring", args, 2) if len(args) > 2 else len(text) - start
    if start < 0 or start > len(text):
        raise TemplateError(
            f"The template language function 'substring': the start index {start} is outside the string "
            f"'{text}' (length {len(text)})."
        )
    if length < 0 or start + length > len(text):
        raise TemplateError(
            f"The template language function 'substring': the index and length parameters ({start}, {length}) "
            f"must refer to a location within the string '{text}' (length {len(text)})."
        )
    return text[start : start + length]


@function("toLower", 1, returns="string")
def _to_lower(scope: Scope, args: list[Any]) -> str:
    return want_str("toLower", args, 0).lower()


@function("toUpper", 1, returns="string")
def _to_upper(scope: Scope, args: list[Any]) -> str:
    return want_str("toUpper", args, 0).upper()


@function("trim", 1, returns="string")
def _trim(scope: Scope, args: list[Any]) -> str:
    return want_str("trim", args, 0).strip()


@function("uri", 2, returns="string")
def _uri(scope: Scope, args: list[Any]) -> str:
    base, relative = want_str("uri", args, 0), want_str("uri", args, 1)
    if not urllib.parse.urlsplit(base).scheme:
        raise TemplateError(f"The template language function 'uri': '{base}' is not an absolute URI.")
    return urllib.parse.urljoin(base, relative)


@function("uriComponent", 1, returns="string")
def _uri_component(scope: Scope, args: list[Any]) -> str:
    return urllib.parse.quote(want_str("uriComponent", args, 0), safe="-_.~")


@function("uriComponentToString", 1, returns="string")
def _uri_component_to_string(scope: Scope, args: list[Any]) -> str:
    return urllib.parse.unquote(want_str("uriComponentToString", args, 0))


_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


@function("parseUri", 1, returns="object")
def _parse_uri(scope: Scope, args: list[Any]) -> dict[str, Any]:
    """An absolute URI's parts as .NET's ``Uri`` gives them: the port (the scheme's default when not written), the
    path from its ``/``, the query with its ``?``."""
    text = want_str("parseUri", args, 0)
    parts = urllib.parse.urlsplit(text)
    if not parts.scheme or not parts.hostname:
        raise TemplateError(f"The template language function 'parseUri': '{text}' is not an absolute URI.")
    try:
        port = parts.port
    except ValueError:
        raise TemplateError(f"The template language function 'parseUri': '{text}' has no valid port.") from None
    return {
        "scheme": parts.scheme,
        "host": parts.hostname,
        "port": port if port is not None else _DEFAULT_PORTS.get(parts.scheme.casefold(), -1),
        "path": parts.path or "/",
        "query": f"?{parts.query}" if parts.query else "",
    }


@function("buildUri", 1, unknown="deep", returns="string")
def _build_uri(scope: Scope, args: list[Any]) -> str:
    """The URI of ``parseUri``'s parts (``scheme`` and ``host`` required; a scheme's default port is left out)."""
    parts = args[0]
    if not isinstance(parts, dict):
        raise type_error("buildUri", 0, "Object", parts)
    scheme, host = parts.get("scheme"), parts.get("host")
    if not isinstance(scheme, str) or not scheme or not isinstance(host, str) or not host:
        raise TemplateError(
            "The template language function 'buildUri' needs the string properties 'scheme' and 'host'."
        )
    port = parts.get("port")
    shown_port = "" if port in (None, -1) or port == _DEFAULT_PORTS.get(scheme.casefold()) else f":{port}"
    path = str(parts.get("path") or "/")
    query = str(parts.get("query") or "")
    if query and not query.startswith("?"):
        query = f"?{query}"
    return f"{scheme}://{host}{shown_port}{path if path.startswith('/') else '/' + path}{query}"


def _only_in_defaults(scope: Scope, name: str) -> None:
    if not getattr(scope, "in_parameter_default", False):
        raise TemplateError(
            f"The template function '{name}' can be used only in the defaultValue of a parameter "
            "(Azure refuses it elsewhere)."
        )


#: Namespace of the stand-in GUIDs newGuid() gives (one per parameter default and deployment, reproducible).
_NEW_GUID_NAMESPACE = uuid.UUID("6f0c3c4e-2a63-5d0b-9a35-6f70656e6e73")


@function("newGuid", 0, returns="string")
def _new_guid(scope: Scope, args: list[Any]) -> str:
    """Azure makes a new GUID per deployment; OpenNSG makes one per deployment context and parameter, the same on
    every read (so ids and names made from it are stable between runs)."""
    _only_in_defaults(scope, "newGuid")
    context = scope.deployment.context
    where = f"{context.subscription_id}/{context.resource_group}/{context.deployment_name}/{scope.path}"
    return str(uuid.uuid5(_NEW_GUID_NAMESPACE, where))


@function("utcNow", 0, 1, returns="string")
def _utc_now(scope: Scope, args: list[Any]) -> str:
    """The deployment's time (``DeploymentContext.deployed_at``: the moment the template is read), in a .NET
    format (default ``yyyyMMddTHHmmssZ``, ARM's)."""
    from opennsg.arm.template.functions.dates import format_time

    _only_in_defaults(scope, "utcNow")
    fmt = want_str("utcNow", args, 0) if args else "yyyyMMddTHHmmssZ"
    moment = scope.deployment.context.deployed_at or datetime.now(UTC).replace(microsecond=0)
    return format_time(moment, fmt)
