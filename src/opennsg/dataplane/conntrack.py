"""Connection tracking at one NIC: what makes NSGs stateful (semantics §3.3, §0 "Flow idle timeout", §5).

A flow's verdict is decided once, at its first packet, by an injected decision function; packets of a tracked
flow — both ways — pass without rules. TCP flows end at RST or once both sides sent FIN; every flow ends after
its idle timeout. The table holds at most ``capacity`` flows: beyond it new flows are refused and counted.
Flow-log events (Begin, Continuing every five minutes, End, Denied) come out with counters as deltas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from opennsg.engine import Flow, Verdict
from opennsg.flowlogs.formats import CONTINUATION_INTERVAL_SECONDS, FlowState
from opennsg.model.enums import IANA_TCP, Direction
from opennsg.model.values import parse_address

CONTINUATION_INTERVAL = timedelta(seconds=CONTINUATION_INTERVAL_SECONDS)

Decide = Callable[[Flow], Verdict]


class TcpFlag(StrEnum):
    SYN = "SYN"
    ACK = "ACK"
    FIN = "FIN"
    RST = "RST"


class ConnState(StrEnum):
    SYN_SENT = "syn-sent"
    ESTABLISHED = "established"
    CLOSING = "closing"
    ACTIVE = "active"
    """UDP, ICMP echo and other protocols: a pseudo-connection that lives until its idle timeout."""


class Outcome(StrEnum):
    """What tracking made of one packet at one NIC."""

    NEW_ALLOWED = "new flow allowed"
    DENIED = "new flow denied"
    TRACKED = "tracked flow"
    RETURN = "return traffic of a tracked flow"
    REFUSED = "refused: flow table full"


@dataclass(frozen=True, slots=True)
class FlowKey:
    """A flow seen from the NIC: its 5-tuple with the local end first (so both directions share the key)."""

    protocol: int
    local_ip: str
    local_port: int | None
    remote_ip: str
    remote_port: int | None


@dataclass(frozen=True, slots=True)
class Counters:
    """Packets and bytes from the flow's initiator to its responder ("sent") and back ("received")."""

    packets_sent: int = 0
    bytes_sent: int = 0
    packets_received: int = 0
    bytes_received: int = 0

    def plus(self, forward: bool, packets: int, size: int) -> Counters:
        if forward:
            return replace(self, packets_sent=self.packets_sent + packets, bytes_sent=self.bytes_sent + size)
        return replace(
            self, packets_received=self.packets_received + packets, bytes_received=self.bytes_received + size
        )

    def minus(self, earlier: Counters) -> Counters:
        return Counters(
            self.packets_sent - earlier.packets_sent,
            self.bytes_sent - earlier.bytes_sent,
            self.packets_received - earlier.packets_received,
            self.bytes_received - earlier.bytes_received,
        )


@dataclass(frozen=True, slots=True)
class Connection:
    key: FlowKey
    #: Direction of the first packet, seen from this NIC: the flow's direction in rules and flow logs.
    direction: Direction
    verdict: Verdict
    created: datetime
    last_seen: datetime
    state: ConnState
    fin_from: frozenset[Direction] = frozenset()
    counters: Counters = Counters()
    #: Counters at the last flow-log tuple; the next tuple carries the difference.
    logged: Counters = Counters()
    #: Time of the last Continuing tuple (None: none yet).
    reported_at: datetime | None = None

    @property
    def flow(self) -> Flow:
        """The flow as the engine decides it (direction and ends as at the first packet)."""
        k = self.key
        return Flow.make(self.direction, k.protocol, k.local_ip, k.local_port, k.remote_ip, k.remote_port)

    @property
    def next_report(self) -> datetime:
        """When the next Continuing tuple is due: every five minutes after the flow began."""
        return (self.reported_at or self.created) + CONTINUATION_INTERVAL


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """A flow-log tuple to write: state, time, the connection and the counters since its previous tuple."""

    state: FlowState
    at: datetime
    connection: Connection
    delta: Counters


@dataclass(frozen=True, slots=True)
class TrackResult:
    outcome: Outcome
    verdict: Verdict | None
    connection: Connection | None
    events: tuple[FlowEvent, ...]


def flow_key(direction: Direction, protocol: int, src: tuple[str, int | None], dst: tuple[str, int | None]) -> FlowKey:
    """The key of a packet crossing the NIC in ``direction`` (outbound: source is local)."""
    local, remote = (dst, src) if direction is Direction.INBOUND else (src, dst)
    return FlowKey(protocol, _canonical_ip(local[0]), local[1], _canonical_ip(remote[0]), remote[1])


def _canonical_ip(text: str) -> str:
    address = parse_address(text)
    if address is None:
        raise ValueError(f"not an IP address: {text!r}")
    return str(address)


class ConnectionTable:
    """The flows tracked at one NIC (at most ``capacity``), with their idle timeout."""

    def __init__(self, capacity: int, idle_timeout: timedelta) -> None:
        self.capacity = capacity
        self.idle_timeout = idle_timeout
        self.refused = 0
        self._flows: dict[FlowKey, Connection] = {}

    def __len__(self) -> int:
        return len(self._flows)

    def connections(self) -> tuple[Connection, ...]:
        return tuple(self._flows.values())

    def get(self, key: FlowKey) -> Connection | None:
        return self._flows.get(key)

    def process(
        self,
        key: FlowKey,
        direction: Direction,
        now: datetime,
        decide: Decide,
        flags: frozenset[TcpFlag] = frozenset(),
        packets: int = 1,
        size: int = 0,
    ) -> TrackResult:
        """Track one packet (or ``packets`` packets totalling ``size`` bytes) crossing the NIC."""
        events = list(self.advance(now))
        existing = self._flows.get(key)
        if existing is not None:
            forward = existing.direction is direction
            conn = replace(existing, last_seen=now, counters=existing.counters.plus(forward, packets, size))
            conn = _tcp_transition(conn, direction, flags) if key.protocol == IANA_TCP else conn
            if (conn.state is ConnState.CLOSING and len(conn.fin_from) == 2) or TcpFlag.RST in flags:
                del self._flows[key]
                events.append(_end(conn, now))
            else:
                self._flows[key] = conn
            return TrackResult(Outcome.TRACKED if forward else Outcome.RETURN, conn.verdict, conn, tuple(events))
        flow = Flow.make(direction, key.protocol, key.local_ip, key.local_port, key.remote_ip, key.remote_port)
        verdict = decide(flow)
        state = ConnState.ACTIVE if key.protocol != IANA_TCP else ConnState.SYN_SENT
        conn = Connection(key, direction, verdict, now, now, state, counters=Counters().plus(True, packets, size))
        if not verdict.allowed:
            events.append(FlowEvent(FlowState.DENIED, now, conn, Counters()))
            return TrackResult(Outcome.DENIED, verdict, conn, tuple(events))
        if len(self._flows) >= self.capacity:
            self.refused += 1
            return TrackResult(Outcome.REFUSED, verdict, None, tuple(events))
        events.append(FlowEvent(FlowState.BEGIN, now, conn, Counters()))
        if key.protocol == IANA_TCP and TcpFlag.RST in flags:
            events.append(_end(conn, now))
        else:
            self._flows[key] = conn
        return TrackResult(Outcome.NEW_ALLOWED, verdict, conn, tuple(events))

    def advance(self, now: datetime) -> list[FlowEvent]:
        """Continuing tuples due by ``now`` and End tuples of flows idle past their timeout."""
        events: list[FlowEvent] = []
        for key, conn in list(self._flows.items()):
            expires = conn.last_seen + self.idle_timeout
            current = conn
            while current.next_report <= min(now, expires):
                at = current.next_report
                events.append(FlowEvent(FlowState.CONTINUING, at, current, current.counters.minus(current.logged)))
                current = replace(current, logged=current.counters, reported_at=at)
            if expires <= now:
                del self._flows[key]
                events.append(_end(current, expires))
            elif current is not conn:
                self._flows[key] = current
        return events

    def reevaluate(self, now: datetime, decide: Decide) -> list[FlowEvent]:
        """flushConnection: decide every tracked flow again; flows now denied end here (their End is logged)."""
        events = self.advance(now)
        for key, conn in list(self._flows.items()):
            verdict = decide(conn.flow)
            if verdict.allowed:
                self._flows[key] = replace(conn, verdict=verdict)
            else:
                del self._flows[key]
                events.append(_end(conn, now))
        return events


def _end(conn: Connection, at: datetime) -> FlowEvent:
    return FlowEvent(FlowState.END, at, conn, conn.counters.minus(conn.logged))


def _tcp_transition(conn: Connection, direction: Direction, flags: frozenset[TcpFlag]) -> Connection:
    """SYN → (any reply) established → FIN seen → closing; both FINs or an RST end the flow (caller)."""
    if TcpFlag.FIN in flags:
        return replace(conn, state=ConnState.CLOSING, fin_from=conn.fin_from | {direction})
    if conn.state is ConnState.SYN_SENT and direction is not conn.direction:
        return replace(conn, state=ConnState.ESTABLISHED)
    return conn
