"""VNet flow-log filtering: the ``enabledFilteringCriteria`` language and ``recordTypes`` of a flow-log resource.

Azure keeps only the flow tuples a flow log's filter selects, so replaying or writing logs as Azure would needs
the same predicate. The language (Network Watcher's "Filter virtual network flow logs"): conditions
``FIELD=VALUES`` or ``FIELD!=VALUES`` over ``Direction``, ``SrcIP``, ``SrcPort``, ``DstIP``, ``DstPort``,
``Protocol``, ``Encryption`` (``NX_ALL``: not encrypted for any reason) and ``RecordTypes``; ``VALUES`` is a
comma-separated list (any of them matches; ``!=`` matches none of them); conditions joined by ``&&`` and ``||``,
``&&`` binding tighter, no brackets; case-insensitive; at most 1,000 characters.

Each field's meaning is one scalar test (``Condition.test``); the columnar path over the reader's Arrow batches
applies that same test to each column's distinct values, so both paths cannot disagree.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from opennsg.flowlogs.formats import FlowTuple, decision_letter, direction_letter
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import FlowLog

MAX_CRITERIA_LENGTH = 1000
#: Flow states a VNet flow log can keep (``recordTypes``): Begin, Continue, End, Denied.
RECORD_TYPES = ("B", "C", "E", "D")
#: Encryption states of VNet flow tuples; ``NX_ALL`` in a filter stands for every ``NX`` one.
ENCRYPTION_STATES = (
    "X", "NX", "NX_HW_NOT_SUPPORTED", "NX_SW_NOT_READY", "NX_NOT_ACCEPTED", "NX_NOT_SUPPORTED", "NX_LOCAL_DST",
    "NX_FALLBACK",
)  # fmt: skip
_NOT_ENCRYPTED = "NX_ALL"
_PROTOCOL_NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "esp": 50, "ah": 51}
_DIRECTIONS = {"inbound": "I", "outbound": "O"}


class Field(StrEnum):
    DIRECTION = "Direction"
    SRC_IP = "SrcIP"
    SRC_PORT = "SrcPort"
    DST_IP = "DstIP"
    DST_PORT = "DstPort"
    PROTOCOL = "Protocol"
    ENCRYPTION = "Encryption"
    RECORD_TYPES = "RecordTypes"


_FIELDS = {f.value.casefold(): f for f in Field}
#: The reader's column (``opennsg.flowlogs.schema.SCHEMA``) that each field tests.
_COLUMNS = {
    Field.DIRECTION: "direction",
    Field.SRC_IP: "src_ip",
    Field.SRC_PORT: "src_port",
    Field.DST_IP: "dst_ip",
    Field.DST_PORT: "dst_port",
    Field.PROTOCOL: "protocol",
    Field.ENCRYPTION: "encryption",
}


@dataclass(frozen=True, slots=True)
class TupleView:
    """The parts of one flow tuple a filter can test, in the reader's spelling (``I``/``O``, IANA numbers)."""

    direction: str
    src_ip: str
    src_port: int | None
    dst_ip: str
    dst_port: int | None
    protocol: int
    encryption: str
    record_type: str

    @classmethod
    def of(cls, flow: FlowTuple) -> TupleView:
        return cls(
            direction_letter(flow.direction),
            flow.source_ip,
            flow.source_port,
            flow.destination_ip,
            flow.destination_port,
            flow.protocol,
            flow.encryption,
            record_type(decision_letter(flow.access), flow.state.value),
        )


@dataclass(frozen=True, slots=True)
class Condition:
    """``field = values`` (any matches) or ``field != values`` (none matches), values already parsed."""

    field: Field
    negated: bool
    values: tuple[Any, ...]

    def test(self, value: Any) -> bool:
        hit = value is not None and any(_matches(self.field, wanted, value) for wanted in self.values)
        return hit != self.negated


def _matches(field: Field, wanted: Any, value: Any) -> bool:
    if field in (Field.SRC_IP, Field.DST_IP):
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            return False
        return address.version == wanted.version and address in wanted
    if field in (Field.SRC_PORT, Field.DST_PORT):
        low, high = wanted
        return bool(low <= int(value) <= high)
    if field is Field.ENCRYPTION:
        text = str(value).upper()
        return text.startswith("NX") if wanted == _NOT_ENCRYPTED else text == wanted
    return bool(value == wanted)


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """An ``enabledFilteringCriteria`` expression: an OR of ANDs of conditions (``&&`` binds tighter)."""

    text: str
    any_of: tuple[tuple[Condition, ...], ...]

    @classmethod
    def parse(cls, text: str) -> FlowFilter:
        """Parse the expression; every problem found is reported at once (``InvalidFilteringCriteria``)."""
        return _Parser(text).parse()

    def matches(self, flow: TupleView) -> bool:
        """Would Azure keep this tuple?"""
        return any(all(c.test(_value_of(c.field, flow)) for c in conjunction) for conjunction in self.any_of)

    def mask(self, batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.bool_]:
        """The rows of a reader batch (``schema.SCHEMA``) the filter keeps."""
        cache: dict[Condition, npt.NDArray[np.bool_]] = {}
        keep = np.zeros(batch.num_rows, dtype=bool)
        for conjunction in self.any_of:
            both = np.ones(batch.num_rows, dtype=bool)
            for condition in conjunction:
                if condition not in cache:
                    cache[condition] = _column_test(condition, batch)
                both &= cache[condition]
            keep |= both
        return keep

    def apply(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """The batches with only the tuples the filter keeps."""
        for batch in batches:
            yield batch.filter(pa.array(self.mask(batch)))


def _value_of(field: Field, flow: TupleView) -> Any:
    if field is Field.RECORD_TYPES:
        return flow.record_type
    return getattr(flow, _COLUMNS[field])


def record_type(decision: str, state: str) -> str:
    """A tuple's record type: ``D`` when denied (NSG logs say so in the decision), else its flow state."""
    return "D" if decision.upper() == "D" or state.upper() == "D" else state.upper()


def _column_test(condition: Condition, batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.bool_]:
    """``condition.test`` on every row, computed once per distinct value of the column."""
    if condition.field is Field.RECORD_TYPES:
        decisions = batch.column("decision").to_pylist()
        states = batch.column("state").to_pylist()
        column = pa.array([record_type(d or "", s or "") for d, s in zip(decisions, states, strict=True)])
    else:
        column = batch.column(_COLUMNS[condition.field])
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    distinct = pc.unique(column)
    verdicts = pa.array([condition.test(v) for v in distinct.to_pylist()], pa.bool_())
    positions = pc.index_in(column, value_set=distinct)
    chosen = pc.take(verdicts, positions).fill_null(condition.negated)  # a missing value matches no value
    return np.asarray(chosen.to_numpy(zero_copy_only=False), dtype=bool)


def parse_record_types(text: str | None) -> frozenset[str]:
    """A flow log's ``recordTypes`` (``"B,E"``): the flow states kept; empty or absent = all of them."""
    if text is None or not text.strip():
        return frozenset(RECORD_TYPES)
    kept = set()
    bad = []
    for part in text.split(","):
        letter = part.strip().upper()
        if letter in RECORD_TYPES:
            kept.add(letter)
        else:
            bad.append(part.strip())
    if bad:
        raise OpenNsgError(
            [
                ArmError(
                    Code.INVALID_RECORD_TYPES,
                    f"recordTypes '{text}' is invalid: '{value}' is not one of B, C, E, D "
                    "(comma-separated; empty keeps every record type).",
                    "properties.recordTypes",
                )
                for value in bad
            ]
        )
    return frozenset(kept)


@dataclass(frozen=True, slots=True)
class Selection:
    """What a flow-log resource keeps: its filter (None keeps every tuple) and its record types."""

    criteria: FlowFilter | None
    record_types: frozenset[str]

    def keeps(self, flow: TupleView) -> bool:
        return flow.record_type in self.record_types and (self.criteria is None or self.criteria.matches(flow))


def selection_of(flow_log: FlowLog) -> Selection:
    """A flow log's ``enabledFilteringCriteria`` and ``recordTypes`` parsed; ``OpenNsgError`` with every problem of
    both (``InvalidFilteringCriteria``, ``InvalidRecordTypes``) when either is invalid. An absent or empty filter
    keeps everything, as ARM says ("If not specified, all network traffic will be logged")."""
    problems: list[ArmError] = []
    criteria: FlowFilter | None = None
    text = flow_log.enabled_filtering_criteria
    if text is not None and text.strip():
        try:
            criteria = FlowFilter.parse(text)
        except OpenNsgError as error:
            problems.extend(error.errors)
    record_types = frozenset(RECORD_TYPES)
    try:
        record_types = parse_record_types(flow_log.record_types)
    except OpenNsgError as error:
        problems.extend(error.errors)
    if problems:
        raise OpenNsgError(problems)
    return Selection(criteria, record_types)


# --- the parser ------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(?P<op>&&|\|\||!=|=|,)|(?P<word>[^\s&|!=,()]+)|(?P<bad>\S))")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "op", "word", "bad", "end"
    text: str
    column: int  # 1-based


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokens()
        self.at = 0
        self.problems: list[ArmError] = []

    def _tokens(self) -> list[_Token]:
        out = []
        for match in _TOKEN.finditer(self.text):
            kind = match.lastgroup or "bad"
            out.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        out.append(_Token("end", "", len(self.text) + 1))
        return out

    def _problem(self, message: str, column: int | None = None) -> None:
        where = f" at character {column}" if column is not None else ""
        self.problems.append(
            ArmError(
                Code.INVALID_FILTERING_CRITERIA,
                f"The filtering criteria is invalid{where}: {message}",
                "properties.enabledFilteringCriteria",
            )
        )

    def _fail(self) -> OpenNsgError:
        return OpenNsgError(self.problems)

    def parse(self) -> FlowFilter:
        if len(self.text) > MAX_CRITERIA_LENGTH:
            self._problem(f"it is {len(self.text)} characters long; at most {MAX_CRITERIA_LENGTH} are allowed.")
            raise self._fail()
        if not self.text.strip():
            self._problem("it is empty; give conditions such as 'DstPort=443 && Protocol=TCP'.")
            raise self._fail()
        any_of: list[tuple[Condition, ...]] = []
        conjunction: list[Condition] = []
        while True:
            condition = self._condition()
            if condition is None:
                raise self._fail()
            conjunction.append(condition)
            token = self.tokens[self.at]
            if token.kind == "end":
                break
            if token.text not in ("&&", "||"):
                self._problem(f"expected '&&', '||' or the end after a condition, found '{token.text}'.", token.column)
                raise self._fail()
            self.at += 1
            if token.text == "||":
                any_of.append(tuple(conjunction))
                conjunction = []
        any_of.append(tuple(conjunction))
        if self.problems:
            raise self._fail()
        return FlowFilter(self.text, tuple(any_of))

    def _condition(self) -> Condition | None:
        token = self.tokens[self.at]
        if token.kind != "word":
            found = "the end" if token.kind == "end" else f"'{token.text}'"
            brackets = " (brackets are not supported)" if token.text in ("(", ")") else ""
            self._problem(f"expected a field name, found {found}{brackets}.", token.column)
            return None
        field = _FIELDS.get(token.text.casefold())
        if field is None:
            known = ", ".join(f.value for f in Field)
            self._problem(f"unknown field '{token.text}'; the fields are {known}.", token.column)
            return None
        self.at += 1
        operator = self.tokens[self.at]
        if operator.text not in ("=", "!="):
            found = "the end" if operator.kind == "end" else f"'{operator.text}'"
            self._problem(f"expected '=' or '!=' after '{token.text}', found {found}.", operator.column)
            return None
        self.at += 1
        values: list[Any] = []
        while True:
            value = self.tokens[self.at]
            if value.kind != "word":
                found = "the end" if value.kind == "end" else f"'{value.text}'"
                self._problem(f"expected a value for '{token.text}', found {found}.", value.column)
                return None
            parsed = _VALUE_PARSERS[field](value.text)
            if parsed is None:
                self._problem(f"'{value.text}' is not a valid {field.value} value ({_EXPECTED[field]}).", value.column)
            else:
                values.append(parsed)
            self.at += 1
            if self.tokens[self.at].text != ",":
                break
            self.at += 1
        return Condition(field, operator.text == "!=", tuple(values))


def _direction(text: str) -> str | None:
    return _DIRECTIONS.get(text.casefold())


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "%" in text:
        return None  # zone ids name an interface, not an address
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _ports(text: str) -> tuple[int, int] | None:
    low, dash, high = text.partition("-")
    if not low.isascii() or not low.isdigit() or (dash and (not high.isascii() or not high.isdigit())):
        return None
    first, last = int(low), int(high) if dash else int(low)
    return (first, last) if 0 <= first <= last <= 65535 else None


def _protocol(text: str) -> int | None:
    if text.isascii() and text.isdigit():
        number = int(text)
        return number if number <= 255 else None
    return _PROTOCOL_NAMES.get(text.casefold())


def _encryption(text: str) -> str | None:
    upper = text.upper()
    return upper if upper in ENCRYPTION_STATES or upper == _NOT_ENCRYPTED else None


def _record_type(text: str) -> str | None:
    upper = text.upper()
    return upper if upper in RECORD_TYPES else None


_VALUE_PARSERS: dict[Field, Callable[[str], Any]] = {
    Field.DIRECTION: _direction,
    Field.SRC_IP: _network,
    Field.DST_IP: _network,
    Field.SRC_PORT: _ports,
    Field.DST_PORT: _ports,
    Field.PROTOCOL: _protocol,
    Field.ENCRYPTION: _encryption,
    Field.RECORD_TYPES: _record_type,
}
_EXPECTED = {
    Field.DIRECTION: "Inbound or Outbound",
    Field.SRC_IP: "an IPv4 or IPv6 address or CIDR",
    Field.DST_IP: "an IPv4 or IPv6 address or CIDR",
    Field.SRC_PORT: "a port 0-65535 or a range lo-hi",
    Field.DST_PORT: "a port 0-65535 or a range lo-hi",
    Field.PROTOCOL: "TCP, UDP, ICMP, ICMPv6, ESP, AH or a protocol number 0-255",
    Field.ENCRYPTION: f"one of {', '.join(ENCRYPTION_STATES)} or {_NOT_ENCRYPTED}",
    Field.RECORD_TYPES: "B, C, E or D",
}
