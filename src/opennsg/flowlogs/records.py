"""Flow log files as a stream of records: ``{"records": [...]}`` decoded a record at a time, never whole.

A record that cannot be decoded is reported — what is wrong, at its line and column — and the decoder goes on
at the next record; a truncated file is reported as such. Nothing here knows what a record means.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opennsg.flowlogs.problems import Problem, ReadStats
from opennsg.model.files import MAX_JSON_DEPTH, InputError, open_regular

_RECORDS_HEAD = re.compile(r'\s*\{\s*"records"\s*:\s*\[')
_SPACE = re.compile(r"\s*")
_RESYNC = re.compile(r"\}\s*,\s*\{")
_CHUNK = 1 << 22


def iter_records(path: Path, stats: ReadStats, text: str | None = None) -> Iterator[tuple[str, Any]]:
    """Yield ``(position, record)`` from ``{"records": [...]}`` reading a chunk at a time (of ``text`` instead
    of the file's, when given: ``rawfile``'s skeleton of it).

    A record that cannot be decoded is reported — as what is wrong, at its line and column — and skipped (the
    decoder resynchronises at the next ``},{``); a file that ends before its closing ``]}`` is reported as
    truncated. A UTF-8 byte order mark (files saved by Windows tools) is accepted.
    """
    file = str(path)
    decoder = json.JSONDecoder()
    handle: io.TextIOBase
    try:
        handle = (
            io.StringIO(text)
            if text is not None
            else io.TextIOWrapper(open_regular(path), encoding="utf-8-sig", errors="replace")
        )
    except InputError as exc:
        stats.problems.append(Problem(file, "file", exc.reason))
        return
    with handle:
        buffer = handle.read(_CHUNK)
        eof = len(buffer) < _CHUNK
        head = _RECORDS_HEAD.match(buffer)
        if head is None:
            if not eof:
                buffer += handle.read()
            yield from _records_of_whole_document(file, buffer, stats)
            return
        base, pos, index = 0, head.end(), 0
        comma = False  # a comma after the last record, not yet followed by the next record
        lines = _Lines()  # line and column of the buffer's start, for error positions
        while True:
            pos = _SPACE.match(buffer, pos).end()  # type: ignore[union-attr]
            if pos >= len(buffer) - 1 and not eof:
                more = handle.read(_CHUNK)
                eof = len(more) < _CHUNK
                lines.skip(buffer[:pos])
                buffer, base, pos = buffer[pos:] + more, base + pos, 0
                continue
            if pos >= len(buffer):
                stats.problems.append(Problem(file, f"char {base + pos}", f"file is truncated after {index} records"))
                return
            if buffer[pos] == "]":
                if comma:  # JSON allows none (a hand-edited file, most likely): placed as json places it, at the ]
                    line, column = lines.at(buffer, pos)
                    message = f"trailing comma in records at line {line}, column {column}"
                    stats.problems.append(Problem(file, f"records[{index}] (char {base + pos})", message))
                return
            if buffer[pos] == ",":
                if index == 0 or comma:
                    line, column = lines.at(buffer, pos)
                    message = f"malformed JSON: a comma where a record was expected at line {line}, column {column}"
                    stats.problems.append(Problem(file, f"records[{index}] (char {base + pos})", message))
                comma = True
                pos += 1
                continue
            if index > 0 and not comma:
                line, column = lines.at(buffer, pos)
                message = f"malformed JSON: Expecting ',' delimiter between records at line {line}, column {column}"
                stats.problems.append(Problem(file, f"records[{index}] (char {base + pos})", message))
            try:
                record, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if not eof:
                    more = handle.read(_CHUNK)
                    eof = len(more) < _CHUNK
                    lines.skip(buffer[:pos])
                    buffer, base, pos = buffer[pos:] + more, base + pos, 0
                    continue
                where = f"records[{index}] (char {base + pos})"
                stats.records += 1
                stats.malformed_records += 1
                if exc.pos >= len(buffer.rstrip()) or exc.msg.startswith("Unterminated string"):
                    stats.problems.append(Problem(file, where, f"file is truncated inside this record ({exc.msg})"))
                    return
                line, column = lines.at(buffer, exc.pos)
                stats.problems.append(
                    Problem(file, where, f"{_syntax_error(buffer, exc)} at line {line}, column {column}")
                )
                resync = _RESYNC.search(buffer, max(exc.pos, pos + 1))
                if resync is None:
                    return
                pos, index, comma = resync.end() - 1, index + 1, True  # resynchronised past the comma
                continue
            except (RecursionError, ValueError) as exc:  # nested too deep, or an integer too long to convert
                stats.records += 1
                stats.malformed_records += 1
                where = f"records[{index}] (char {base + pos})"
                stats.problems.append(Problem(file, where, f"malformed record: {_decode_failure(exc)}"))
                resync = _RESYNC.search(buffer, pos + 1)
                if resync is None:
                    return
                pos, index, comma = resync.end() - 1, index + 1, True  # resynchronised past the comma
                continue
            if _SURROGATE_ESCAPE.search(buffer, pos, end):
                record = _without_surrogates(record)
            yield f"records[{index}]", record
            index += 1
            pos, comma = end, False
            if pos > _CHUNK:
                lines.skip(buffer[:pos])
                buffer, base, pos = buffer[pos:], base + pos, 0


class _Lines:
    """Where the current buffer starts in the file, as a line and a column (1-based)."""

    def __init__(self) -> None:
        self.line = 1
        self.column = 1

    def skip(self, text: str) -> None:
        newlines = text.count("\n")
        if newlines:
            self.line += newlines
            self.column = len(text) - text.rfind("\n")
        else:
            self.column += len(text)

    def at(self, buffer: str, pos: int) -> tuple[int, int]:
        newlines = buffer.count("\n", 0, pos)
        if newlines:
            return self.line + newlines, pos - buffer.rfind("\n", 0, pos)
        return self.line, self.column + pos


_LIST_KEY = re.compile(r'"([^"\\]+)"\s*:\s*$')


def _syntax_error(text: str, exc: json.JSONDecodeError) -> str:
    """What a JSON syntax error is, in words a person fixing the file recognises (a trailing comma, mostly)."""
    before = text[: exc.pos].rstrip()
    if exc.msg.startswith("Expecting") and before.endswith(",") and text[exc.pos : exc.pos + 1] in ("]", "}"):
        opener = _opening_bracket(text, len(before) - 1)
        key = _LIST_KEY.search(text, 0, opener) if opener is not None else None
        inside = f" in {key.group(1)}" if key is not None else ""
        return f"trailing comma{inside}"
    return f"malformed JSON: {exc.msg}"


def _opening_bracket(text: str, pos: int) -> int | None:
    """The position of the ``[`` or ``{`` that encloses ``pos`` (strings skipped roughly: flow logs hold no
    brackets inside strings)."""
    depth = 0
    for i in range(pos, -1, -1):
        char = text[i]
        if char in "]}":
            depth += 1
        elif char in "[{":
            if depth == 0:
                return i
            depth -= 1
    return None


#: A JSON escape of a UTF-16 surrogate: decoded alone it is a string Arrow (UTF-8) cannot hold.
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89abcdefABCDEF]")


def _without_surrogates(record: Any) -> Any:
    """The record with lone surrogates replaced by U+FFFD (the value is then reported as malformed, if it must be
    an address or a letter, instead of failing the whole batch)."""
    try:
        text = json.dumps(record, ensure_ascii=False)
    except RecursionError:
        return None  # reported as a record that is not an object
    return json.loads(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def _decode_failure(exc: RecursionError | ValueError) -> str:
    """What a decoding failure other than a syntax error means: nesting too deep for the decoder, or an integer
    too long to convert (the reader walks records to a fixed depth, so no other limit is needed)."""
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    return f"an integer literal has more than {sys.get_int_max_str_digits()} digits"


def _records_of_whole_document(file: str, text: str, stats: ReadStats) -> Iterator[tuple[str, Any]]:
    """Files not starting with ``{"records": [`` (other key order, a bare list): decoded whole."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        what = _syntax_error(text, exc)
        where = f"at line {exc.lineno}, column {exc.colno}"
        stats.problems.append(Problem(file, f"char {exc.pos}", f"not a flow log file: {what} {where}"))
        return
    except (RecursionError, ValueError) as exc:
        stats.problems.append(Problem(file, "file", f"not a flow log file: {_decode_failure(exc)}"))
        return
    records = document.get("records") if isinstance(document, dict) else document
    if not isinstance(records, list):
        stats.problems.append(Problem(file, "file", "not a flow log file: no 'records' list"))
        return
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    for index, record in enumerate(records):
        yield f"records[{index}]", _without_surrogates(record) if surrogates else record
