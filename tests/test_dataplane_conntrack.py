"""Connection tracking alone, with a stub decision function: what stateful means, property-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from opennsg.dataplane.conntrack import ConnectionTable, Outcome, TcpFlag, flow_key
from opennsg.engine.flow import Flow
from opennsg.engine.ir import Verdict
from opennsg.flowlogs.formats import FlowState
from opennsg.model.enums import Access, Direction

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TIMEOUT = timedelta(minutes=4)
LOCALS = ("10.0.0.4", "fd00::4")
REMOTES = ("52.1.2.3", "2603:1000::9")


class CountingDecider:
    """Allows flows to even remote ports, denies odd ones; remembers every flow it was asked about."""

    def __init__(self) -> None:
        self.asked: list[Flow] = []

    def __call__(self, flow: Flow) -> Verdict:
        self.asked.append(flow)
        allowed = (
            (flow.remote_port or 0) % 2 == 0
            if flow.direction is Direction.OUTBOUND
            else (flow.local_port or 0) % 2 == 0
        )
        return Verdict(Access.ALLOW if allowed else Access.DENY, "securityRules/x", "/nsg", "/nic")


packets = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),  # address family
        st.integers(1000, 1003),  # local port
        st.integers(20, 23),  # remote port
        st.sampled_from(Direction),
        st.integers(0, 300),  # seconds since the previous packet
        st.sampled_from([6, 17]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(packets)
def test_verdict_is_decided_once_per_flow_and_returns_pass_until_idle(sequence: list) -> None:
    table = ConnectionTable(capacity=1000, idle_timeout=TIMEOUT)
    decide = CountingDecider()
    now = T0
    model: dict[tuple, tuple[Direction, datetime]] = {}  # key -> (initiator direction, last seen)
    for family, lport, rport, direction, gap, protocol in sequence:
        now += timedelta(seconds=gap)
        local, remote = (LOCALS[family], lport), (REMOTES[family], rport)
        src, dst = (remote, local) if direction is Direction.INBOUND else (local, remote)
        key = flow_key(direction, protocol, src, dst)
        model = {k: v for k, v in model.items() if v[1] + TIMEOUT > now}
        asked_before = len(decide.asked)
        result = table.process(key, direction, now, decide)
        if key in model:
            initiator = model[key][0]
            assert len(decide.asked) == asked_before  # tracked: no rule consulted, either way
            assert result.outcome is (Outcome.TRACKED if direction is initiator else Outcome.RETURN)
            model[key] = (initiator, now)
        else:
            assert len(decide.asked) == asked_before + 1
            assert result.outcome in (Outcome.NEW_ALLOWED, Outcome.DENIED)
            if result.outcome is Outcome.NEW_ALLOWED:
                model[key] = (direction, now)
        assert set(model) == {c.key for c in table.connections()}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=30), st.integers(0, 5_000))
def test_flow_log_counters_are_deltas_that_add_up(sizes: list[int], last_gap: int) -> None:
    """Whatever the timing, B + C… + E counters of one flow sum to everything it carried."""
    table = ConnectionTable(capacity=10, idle_timeout=TIMEOUT)
    key = flow_key(Direction.OUTBOUND, 6, ("10.0.0.4", 1000), ("52.1.2.3", 22))
    events = []
    now = T0
    for i, size in enumerate(sizes):
        direction = Direction.OUTBOUND if i % 3 else Direction.INBOUND
        events += table.process(key, direction, now, CountingDecider(), packets=1, size=size).events
        now += timedelta(seconds=200)
    events += table.advance(now + timedelta(seconds=last_gap) + TIMEOUT)
    assert events[0].state is FlowState.BEGIN and events[-1].state is FlowState.END
    assert all(e.state is FlowState.CONTINUING for e in events[1:-1])
    sent = sum(e.delta.bytes_sent for e in events)
    received = sum(e.delta.bytes_received for e in events)
    assert sent + received == sum(sizes)
    reports = [e.at for e in events if e.state is FlowState.CONTINUING]
    assert all(b - a == timedelta(minutes=5) for a, b in zip([T0, *reports], reports, strict=False))


def test_rst_on_the_first_packet_begins_and_ends_at_once() -> None:
    table = ConnectionTable(capacity=10, idle_timeout=TIMEOUT)
    key = flow_key(Direction.INBOUND, 6, ("52.1.2.3", 40000), ("10.0.0.4", 22))
    result = table.process(key, Direction.INBOUND, T0, CountingDecider(), frozenset({TcpFlag.RST}))
    assert result.outcome is Outcome.NEW_ALLOWED and len(table) == 0
    assert [e.state for e in result.events] == [FlowState.BEGIN, FlowState.END]


def test_ipv6_keys_are_canonical() -> None:
    one = flow_key(Direction.OUTBOUND, 17, ("FD00:0:0::4", 53000), ("2603:1000::9", 53))
    two = flow_key(Direction.INBOUND, 17, ("2603:1000:0::9", 53), ("fd00::4", 53000))
    assert one == two
