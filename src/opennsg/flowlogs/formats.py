"""The three flow log formats of semantics §9 — NSG v1, NSG v2, VNet — as constants and tuple/record formatting.

Everything that is a fixed string of the wire format lives here, so writer and reader cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from opennsg.model.enums import IANA_TCP, IANA_UDP, Access, Direction
from opennsg.model.resources import normalize_mac as normalize_mac  # the flow-log modules' spelling of it

NSG_CATEGORY = "NetworkSecurityGroupFlowEvent"
NSG_OPERATION = "NetworkSecurityGroupFlowEvents"
NSG_CONTAINER = "insights-logs-networksecuritygroupflowevent"
VNET_CATEGORY = "FlowLogFlowEvent"
VNET_OPERATION = "FlowLogFlowEvent"
VNET_CONTAINER = "insights-logs-flowlogflowevent"
VNET_FLOW_LOG_VERSION = 4
#: Spec §9.2: ``aclID`` and ``rule`` when no NSG decided (no NSG on the path).
UNSPECIFIED = "unspecified"
#: Spec §9.2 encryption column; OpenNSG simulates no encryption.
DEFAULT_ENCRYPTION = "NX"
ENCRYPTION_VALUES = frozenset(
    {"X", "NX", "NX_HW_NOT_SUPPORTED", "NX_SW_NOT_READY", "NX_NOT_ACCEPTED", "NX_NOT_SUPPORTED", "NX_LOCAL_DST",
     "NX_FALLBACK"}
)  # fmt: skip
#: Spec §9.1: state C carries statistics every five minutes.
CONTINUATION_INTERVAL_SECONDS = 300

#: NSG logs name TCP and UDP by letter (semantics §9.1); OpenNSG writes any other protocol as its IANA number.
PROTOCOL_LETTERS = {IANA_TCP: "T", IANA_UDP: "U"}
LETTER_PROTOCOLS = {v: k for k, v in PROTOCOL_LETTERS.items()}


class FlowState(StrEnum):
    """Flow state column: Begin, Continuing, End, and (VNet logs only) Denied."""

    BEGIN = "B"
    CONTINUING = "C"
    END = "E"
    DENIED = "D"


class LogFormat(StrEnum):
    NSG_V1 = "nsg1"
    NSG_V2 = "nsg2"
    VNET = "vnet"


def direction_letter(direction: Direction) -> str:
    return "I" if direction is Direction.INBOUND else "O"


def decision_letter(access: Access) -> str:
    return "A" if access is Access.ALLOW else "D"


def format_time(moment: datetime) -> str:
    """UTC ISO-8601 with seven fractional digits (``2018-11-13T12:00:35.3899262Z``), semantics §9.1."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond * 10:07d}Z"


def parse_time(text: str) -> datetime:
    """The inverse of ``format_time``; accepts any number of fractional digits (Azure trims trailing ones)."""
    body = text.strip().removesuffix("Z")
    whole, _, fraction = body.partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return moment.replace(microsecond=micros)


@dataclass(frozen=True, slots=True)
class FlowTuple:
    """One flow tuple, format-neutral. ``source``/``destination`` are those of the flow's first packet.

    Counters are deltas since the previous tuple of the same flow, None where the format leaves them empty.
    """

    timestamp: datetime
    source_ip: str
    destination_ip: str
    source_port: int | None
    destination_port: int | None
    protocol: int
    direction: Direction
    access: Access
    state: FlowState
    packets_sent: int | None = None
    bytes_sent: int | None = None
    packets_received: int | None = None
    bytes_received: int | None = None
    encryption: str = DEFAULT_ENCRYPTION

    def _head(self, protocol: str, seconds: int) -> str:
        return (
            f"{seconds},{self.source_ip},{self.destination_ip},{_port(self.source_port)},"
            f"{_port(self.destination_port)},{protocol},{direction_letter(self.direction)}"
        )

    def nsg_v1(self) -> str:
        """``unixSeconds,src,dst,sport,dport,T|U,I|O,A|D`` (semantics §9.1)."""
        seconds = int(self.timestamp.timestamp())
        return f"{self._head(nsg_protocol(self.protocol), seconds)},{decision_letter(self.access)}"

    def nsg_v2(self) -> str:
        """v1 fields plus state and four counters, empty for Begin and denied tuples (semantics §9.1)."""
        state = FlowState.BEGIN if self.state is FlowState.DENIED else self.state
        if state is FlowState.BEGIN or self.access is Access.DENY:
            return f"{self.nsg_v1()},{state.value},,,,"
        return f"{self.nsg_v1()},{state.value},{self._counters()}"

    def vnet(self) -> str:
        """``epochMillis,src,dst,sport,dport,ianaProto,I|O,B|C|E|D,encryption,4 counters`` (semantics §9.2)."""
        millis = int(self.timestamp.timestamp() * 1000)
        state = FlowState.DENIED if self.access is Access.DENY else self.state
        return f"{self._head(str(self.protocol), millis)},{state.value},{self.encryption},{self._counters()}"

    def _counters(self) -> str:
        return (
            f"{self.packets_sent or 0},{self.bytes_sent or 0},{self.packets_received or 0},{self.bytes_received or 0}"
        )


def nsg_protocol(protocol: int) -> str:
    return PROTOCOL_LETTERS.get(protocol, str(protocol))


def _port(port: int | None) -> str:
    """Port-less protocols (ICMP, ESP, AH) are written with port 0."""
    return "0" if port is None else str(port)


def hour_path(moment: datetime) -> str:
    """The ``y=/m=/d=/h=/m=00`` part of a blob path (semantics §9.1, §9.2)."""
    utc = moment.astimezone(UTC)
    return f"y={utc.year:04d}/m={utc.month:02d}/d={utc.day:02d}/h={utc.hour:02d}/m=00"


def nsg_blob_path(nsg_id: str, moment: datetime, mac: str) -> str:
    """Relative blob path of an NSG flow log file, rooted at the container (semantics §9.1)."""
    resource = nsg_id.strip().rstrip("/").upper()
    return f"{NSG_CONTAINER}/resourceId={resource}/{hour_path(moment)}/macAddress={normalize_mac(mac)}/PT1H.json"


def vnet_blob_path(flow_log_id: str, moment: datetime, mac: str) -> str:
    """Relative blob path of a VNet flow log file (semantics §9.2)."""
    resource = flow_log_id.strip().rstrip("/").upper()
    return (
        f"{VNET_CONTAINER}/flowLogResourceID={resource}/{hour_path(moment)}/macAddress={normalize_mac(mac)}/PT1H.json"
    )
