"""Reading the files users name, safely: one place for every input reader (ARM JSON, flow files, flow logs,
service tags, scenarios).

A path that is not a regular file is refused before it is opened: a FIFO or a terminal would make the reader
wait forever, ``/dev/zero`` would fill the memory, and a loop of symbolic links can never be read. JSON is decoded
with every failure Python's decoder can raise turned into one ``InputError`` (nesting too deep for the
recursive decoder, integer literals over Python's 4,300-digit conversion limit, lone surrogates), and documents
nested deeper than ``MAX_JSON_DEPTH`` are refused before any recursive code walks them.
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

#: Deepest nesting of arrays and objects a document may have: Json.NET's default ``MaxDepth``. Real ARM
#: documents, templates, plans and flow logs stay under 15.
MAX_JSON_DEPTH = 64

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputError(ValueError):
    """A file that cannot be used as input; ``reason`` says why in words a user can act on."""

    def __init__(self, path: str | Path, reason: str, *, missing: bool = False, position: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        #: The file does not exist (callers report it as ARM's ``FileNotFound``).
        self.missing = missing
        #: ``LINE:COLUMN`` of a syntax error.
        self.position = position
        super().__init__(f"{self.path}: {reason}")


def _kind(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None)


def check_regular_file(path: str | Path) -> None:
    """Raise ``InputError`` unless ``path`` is (a symbolic link to) a regular file; nothing is opened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(path, "does not exist", missing=True) from None
    except OSError as exc:
        raise InputError(path, _os_reason(exc)) from None
    kind = _kind(mode)
    if kind is not None:
        raise InputError(path, f"is {kind}, not a regular file")


def open_regular(path: str | Path) -> IO[bytes]:
    """Open a regular file for reading in binary; ``InputError`` for anything else (checked before opening,
    and again on the open descriptor, so a file swapped for a FIFO in between is still refused)."""
    check_regular_file(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(path, "does not exist", missing=True) from None
    except OSError as exc:
        raise InputError(path, _os_reason(exc)) from None
    kind = _kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise InputError(path, f"is {kind}, not a regular file")
    return os.fdopen(fd, "rb")


def read_bytes(path: str | Path) -> bytes:
    """The whole content of a regular file (``InputError`` otherwise)."""
    with open_regular(path) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise InputError(path, _os_reason(exc)) from None


def decode_text(raw: bytes, path: str | Path) -> str:
    """Text from UTF-8 (with or without a byte order mark) or UTF-16 with one (Windows PowerShell 5 redirects
    write that); ``InputError`` naming the first byte that is not text (a JSON reader's words: every caller
    decodes JSON or CSV)."""
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reason = f"is not valid JSON: not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})"
        raise InputError(path, reason) from None


def read_text(path: str | Path) -> str:
    """A regular file's text (see ``decode_text``)."""
    return decode_text(read_bytes(path), path)


def parse_json(text: str, source: str | Path) -> Any:
    """A JSON document, or ``InputError`` saying what is wrong: syntax (with line and column), nesting deeper
    than ``MAX_JSON_DEPTH``, an integer literal too long to convert. An empty text is an error too."""
    if not text.strip():
        raise InputError(source, "is empty; expected a JSON document")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise InputError(source, reason, position=f"{exc.lineno}:{exc.colno}") from None
    except RecursionError:
        raise InputError(source, f"is not valid JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # int() refuses literals over sys.get_int_max_str_digits() digits
        raise InputError(source, f"is not valid JSON: {_int_reason(exc)}") from None
    check_depth(data, source)
    return data


def check_depth(data: Any, source: str | Path, limit: int = MAX_JSON_DEPTH) -> None:
    """``InputError`` when arrays and objects nest deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise InputError(source, f"is not valid JSON: nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def files_under(directory: Path, suffixes: tuple[str, ...]) -> Iterator[Path]:
    """Every entry under ``directory`` whose name ends in one of ``suffixes`` (compared case-insensitively),
    recursively and in sorted order. Symbolic links to directories are followed once: a link back up the tree is
    not walked again. Links are yielded even when they lead nowhere, so that the reader reports them."""
    seen: set[tuple[int, int]] = set()
    for root, dirs, names in os.walk(directory, followlinks=True):
        try:
            info = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        for name in sorted(names):
            if name.casefold().endswith(suffixes):
                yield Path(root) / name


def read_json_file(path: str | Path) -> Any:
    """A regular file's JSON document (``InputError`` for every way it can fail)."""
    return parse_json(read_text(path), path)


def _int_reason(exc: ValueError) -> str:
    message = str(exc)
    if "integer string conversion" in message:
        return f"an integer literal has more than {sys.get_int_max_str_digits()} digits"
    return message


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "is a loop of symbolic links"
    if exc.errno == errno.EACCES:
        return "cannot be read: permission denied"
    if exc.errno == errno.EISDIR:
        return "is a directory, not a regular file"
    return f"cannot be read: {exc.strerror or exc}"


def cache_dir() -> Path:
    """Where opennsg keeps what it downloads or computes for later runs (service tags, compiled programs):
    $OPENNSG_CACHE_DIR, else $XDG_CACHE_HOME/opennsg, else ~/.cache/opennsg."""
    explicit = os.environ.get("OPENNSG_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "opennsg"


__all__ = [
    "MAX_JSON_DEPTH",
    "InputError",
    "cache_dir",
    "check_depth",
    "check_regular_file",
    "decode_text",
    "files_under",
    "open_regular",
    "parse_json",
    "read_bytes",
    "read_json_file",
    "read_text",
]
