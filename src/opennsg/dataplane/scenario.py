"""Scenarios: a small YAML language of connections, packets, waits and configuration changes over time.

The language is documented in ``examples/scenarios/README.md``. A scenario is parsed whole first (every
problem reported at once, nothing run), then executed step by step on a ``Network`` with a manual clock;
each packet's fate and the reason for it become a ``ScenarioEvent``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import yaml

from opennsg.dataplane.clock import ManualClock
from opennsg.dataplane.conntrack import TcpFlag
from opennsg.dataplane.network import Endpoint, Network, Packet, PacketResult
from opennsg.engine import PROTOCOL_NAMES, parse_flow_protocol
from opennsg.flowlogs.formats import LogFormat
from opennsg.flowlogs.writer import FlowLogWriter
from opennsg.model.enums import IANA_TCP
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import MAX_JSON_DEPTH, InputError, check_depth, read_text
from opennsg.model.ids import id_key
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
#: Size of a control packet (SYN, FIN, RST, a UDP/ICMP probe of a connect): an IPv4 header and a TCP header.
CONTROL_PACKET_BYTES = 60
STEP_KINDS = (
    "connect", "send", "close", "packet", "wait", "probe", "delete-rule", "add-rule", "set-flush-connection",
    "associate", "asg-membership",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """One line of the scenario's story: a packet's fate, a wait, a configuration change, a probe."""

    at: datetime
    step: int
    kind: str
    description: str
    delivered: bool | None = None
    reason: str = ""
    expectation_failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.at.isoformat(),
            "step": self.step,
            "kind": self.kind,
            "description": self.description,
            "delivered": self.delivered,
            "reason": self.reason,
            "expectationFailed": self.expectation_failed,
        }


@dataclass(slots=True)
class _Connection:
    protocol: int
    client: Endpoint
    server: Endpoint
    #: Where the server really is (after DNAT / load balancing); replies come from here.
    actual: Endpoint


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: topology paths (resolved against the file's folder), start time, steps."""

    path: Path
    topology: tuple[Path, ...]
    start: datetime
    formats: frozenset[LogFormat]
    steps: tuple[Mapping[str, Any], ...]
    #: Whether ``flowLogs.formats`` was given: without it, a topology's flow-log resources choose the formats.
    formats_given: bool = True

    @classmethod
    def load(cls, path: Path) -> Scenario:
        try:
            document = yaml.safe_load(read_text(path))
            check_depth(document, path)
        except (InputError, yaml.YAMLError) as exc:
            raise OpenNsgError(
                [ArmError(Code.INVALID_SCENARIO, f"Cannot read the scenario: {exc}", str(path))]
            ) from None
        except RecursionError:
            message = f"Cannot read the scenario: {path} nests deeper than {MAX_JSON_DEPTH} levels."
            raise OpenNsgError([ArmError(Code.INVALID_SCENARIO, message, str(path))]) from None
        except ValueError:  # PyYAML converts integers with int(): over Python's digit limit it raises this
            digits = sys.get_int_max_str_digits()
            message = f"Cannot read the scenario: {path} has a number of more than {digits} digits."
            raise OpenNsgError([ArmError(Code.INVALID_SCENARIO, message, str(path))]) from None
        return cls.parse(document, path)

    @classmethod
    def parse(cls, document: Any, path: Path) -> Scenario:
        errors: list[ArmError] = []
        if not isinstance(document, dict):
            raise OpenNsgError([ArmError(Code.INVALID_SCENARIO, "A scenario is a YAML mapping.", str(path))])
        topology = document.get("topology")
        paths = [topology] if isinstance(topology, str) else topology
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            errors.append(
                ArmError(Code.INVALID_SCENARIO, "'topology' must name one or more JSON files or folders.", "topology")
            )
            paths = []
        start = document.get("start", datetime(2025, 1, 1, tzinfo=UTC))
        if isinstance(start, str):
            try:
                start = datetime.fromisoformat(start.replace("Z", "+00:00"))
            except ValueError:
                errors.append(ArmError(Code.INVALID_SCENARIO, f"'start' is not an ISO-8601 time: {start}", "start"))
        if not isinstance(start, datetime):
            errors.append(ArmError(Code.INVALID_SCENARIO, "'start' must be an ISO-8601 time.", "start"))
            start = datetime(2025, 1, 1, tzinfo=UTC)
        formats = document.get("flowLogs", {"formats": ["nsg2", "vnet"]})
        chosen = formats.get("formats") if isinstance(formats, dict) else None
        known = {f.value: f for f in LogFormat}
        if not isinstance(chosen, list) or any(f not in known for f in chosen):
            errors.append(
                ArmError(Code.INVALID_SCENARIO, f"'flowLogs.formats' lists some of {sorted(known)}.", "flowLogs")
            )
            chosen = []
        steps = document.get("steps")
        if not isinstance(steps, list) or not steps:
            errors.append(ArmError(Code.INVALID_SCENARIO, "'steps' must be a non-empty list.", "steps"))
            steps = []
        for i, step in enumerate(steps):
            kinds = [k for k in step if k in STEP_KINDS] if isinstance(step, dict) else []
            if len(kinds) != 1:
                errors.append(
                    ArmError(
                        Code.INVALID_SCENARIO, f"Each step has exactly one of: {', '.join(STEP_KINDS)}.", f"steps[{i}]"
                    )
                )
        if errors:
            raise OpenNsgError(errors)
        base = path.parent
        return cls(
            path=path,
            topology=tuple(base / p for p in paths),
            start=start if start.tzinfo else start.replace(tzinfo=UTC),
            formats=frozenset(known[f] for f in chosen),
            steps=tuple(steps),
            formats_given="flowLogs" in document,
        )


def parse_duration(value: Any) -> timedelta | None:
    """``90``, ``"90s"``, ``"5m"``, ``"1h"``, ``"250ms"``; None when it is none of these."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return timedelta(seconds=value) if value >= 0 else None
        match = _DURATION.match(str(value))
        if match is None:
            return None
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:  # longer than timedelta holds (about 2.7 million years)
        return None


@dataclass
class ScenarioRun:
    """Executes a scenario; ``events`` is its story, ``network`` and ``flow_logs`` its end state."""

    scenario: Scenario
    topology: Topology
    max_flows_per_nic: int | None = None
    events: list[ScenarioEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock = ManualClock(self.scenario.start)
        formats = self.scenario.formats
        if self.topology.flow_logs and not self.scenario.formats_given:
            formats = frozenset(LogFormat)  # each flow-log resource writes its own format (NSG v1/v2, VNet)
        self.flow_logs = FlowLogWriter(formats)
        extra = {} if self.max_flows_per_nic is None else {"max_flows_per_nic": self.max_flows_per_nic}
        self.network = Network(self.topology, clock=self.clock, flow_logs=self.flow_logs, **extra)
        self._connections: dict[str, _Connection] = {}
        self._step = 0

    @property
    def expectations_failed(self) -> int:
        return sum(1 for e in self.events if e.expectation_failed)

    def run(self) -> list[ScenarioEvent]:
        handlers: dict[str, Callable[[Any, Mapping[str, Any]], None]] = {
            "connect": self._connect,
            "send": self._send,
            "close": self._close,
            "packet": self._packet,
            "wait": self._wait,
            "probe": self._probe,
            "delete-rule": self._delete_rule,
            "add-rule": self._add_rule,
            "set-flush-connection": self._set_flush,
            "associate": self._associate,
            "asg-membership": self._asg_membership,
        }
        for i, step in enumerate(self.scenario.steps):
            self._step = i
            kind = next(k for k in step if k in handlers)
            try:
                handlers[kind](step[kind], step)
            except OpenNsgError as exc:
                raise OpenNsgError([replace(e, target=f"steps[{i}].{kind}") for e in exc.errors]) from None
            except (TypeError, ValueError, OverflowError) as exc:  # a value of the wrong type, or out of any range
                message = f"A value of this step has the wrong type or is out of range ({exc})."
                raise OpenNsgError([ArmError(Code.INVALID_SCENARIO, message, f"steps[{i}].{kind}")]) from None
        self.network.tick()
        return self.events

    # --- helpers -------------------------------------------------------------------------------

    def _fail(self, message: str) -> OpenNsgError:
        return OpenNsgError([ArmError(Code.INVALID_SCENARIO, message)])

    def _args(self, value: Any, *required: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self._fail("expects a mapping")
        missing = [k for k in required if k not in value]
        if missing:
            raise self._fail(f"needs {', '.join(missing)}")
        return value

    def _endpoint(self, text: Any) -> Endpoint:
        """``IP``, ``IP:port``, ``[IPv6]:port``, or a VM / NIC / load balancer name in place of the IP."""
        raw = str(text).strip()
        if raw.startswith("["):
            host, _, rest = raw[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else ""
        elif raw.count(":") == 1:
            host, _, port_text = raw.partition(":")
        else:
            host, port_text = raw, ""
        port = None
        if port_text:
            if not port_text.isdigit() or int(port_text) > 65535:
                raise self._fail(f"bad port in '{raw}'")
            port = int(port_text)
        return (self._address(host), port)

    def _address(self, host: str) -> str:
        try:
            return str(ip_address(host))
        except ValueError:
            pass
        nic = self.network.topology.find_nic(host)
        if nic is not None:
            cfg = nic.primary_ip_configuration
            if cfg is not None and cfg.private_ip_address:
                return str(ip_address(cfg.private_ip_address))
        for lb in self.network.load_balancers:
            if lb.name.casefold() == host.casefold():
                for front in lb.frontend_ip_configurations:
                    address = self.network.frontend_address(front)
                    if address:
                        return address
        raise self._fail(f"'{host}' is neither an IP address nor a VM, NIC or load balancer name")

    def _protocol(self, args: Mapping[str, Any]) -> int:
        protocol = parse_flow_protocol(str(args.get("protocol", "tcp")))
        if protocol is None:
            raise self._fail(f"unknown protocol '{args.get('protocol')}'")
        return protocol

    def _flags(self, args: Mapping[str, Any]) -> frozenset[TcpFlag]:
        names = args.get("flags", [])
        names = [names] if isinstance(names, str) else names
        try:
            return frozenset(TcpFlag(str(n).upper()) for n in names)
        except ValueError:
            raise self._fail(f"flags are among {[f.value for f in TcpFlag]}") from None

    def _record(self, kind: str, description: str, result: PacketResult | None, step: Mapping[str, Any]) -> None:
        delivered = result.delivered if result else None
        expected = step.get("expect")
        failed = expected is not None and delivered is not None and (expected == "delivered") != delivered
        reason = result.reason if result else ""
        if result and result.translated_to:
            reason = f"to {_show(result.translated_to)}: {reason}"
        self.events.append(ScenarioEvent(self.clock.now(), self._step, kind, description, delivered, reason, failed))

    def _transmit(self, kind: str, packet: Packet, step: Mapping[str, Any], record: bool = True) -> PacketResult:
        result = self.network.send(packet)
        if record:
            flags = "+".join(sorted(f.value for f in packet.flags))
            what = f"{_show(packet.source)} → {_show(packet.destination)} {_proto(packet.protocol)}"
            self._record(kind, f"{what} {flags}".strip(), result, step)
        return result

    # --- steps ---------------------------------------------------------------------------------

    def _connect(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "name", "from", "to")
        protocol = self._protocol(args)
        client, server = self._endpoint(args["from"]), self._endpoint(args["to"])
        if protocol == IANA_TCP and (client[1] is None or server[1] is None):
            raise self._fail("TCP connections need ports on both ends")
        conn = _Connection(protocol, client, server, server)
        self._connections[str(args["name"])] = conn
        syn = frozenset({TcpFlag.SYN}) if protocol == IANA_TCP else frozenset()
        size = CONTROL_PACKET_BYTES
        first = self._transmit(
            "connect", Packet(client[0], server[0], protocol, client[1], server[1], syn, 1, size), step
        )
        if not first.delivered:
            return
        conn.actual = first.translated_to or server
        synack = frozenset({TcpFlag.SYN, TcpFlag.ACK}) if protocol == IANA_TCP else frozenset()
        back = Packet(conn.actual[0], client[0], protocol, conn.actual[1], client[1], synack, 1, size)
        self._transmit("connect", back, step)
        if protocol == IANA_TCP:
            ack = frozenset({TcpFlag.ACK})
            self._transmit("connect", Packet(client[0], server[0], protocol, client[1], server[1], ack, 1, size), step)

    def _connection(self, args: Mapping[str, Any]) -> _Connection:
        conn = self._connections.get(str(args["connection"]))
        if conn is None:
            raise self._fail(f"no connection named '{args['connection']}'")
        return conn

    def _send(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "connection")
        conn = self._connection(args)
        packets = int(args.get("packets", 1))
        size = int(args.get("bytes", 100 * packets))
        flags = frozenset({TcpFlag.ACK}) if conn.protocol == IANA_TCP else frozenset()
        if args.get("direction", "forward") == "reply":
            packet = Packet(
                conn.actual[0], conn.client[0], conn.protocol, conn.actual[1], conn.client[1], flags, packets, size
            )
        else:
            packet = Packet(
                conn.client[0], conn.server[0], conn.protocol, conn.client[1], conn.server[1], flags, packets, size
            )
        self._transmit("send", packet, step)

    def _close(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "connection")
        conn = self._connection(args)
        size = CONTROL_PACKET_BYTES
        forward = Packet(conn.client[0], conn.server[0], conn.protocol, conn.client[1], conn.server[1], size=size)
        reply = Packet(conn.actual[0], conn.client[0], conn.protocol, conn.actual[1], conn.client[1], size=size)
        if args.get("how", "fin") == "rst":
            self._transmit("close", replace(forward, flags=frozenset({TcpFlag.RST})), step)
            return
        fin = frozenset({TcpFlag.FIN, TcpFlag.ACK})
        self._transmit("close", replace(forward, flags=fin), step)
        self._transmit("close", replace(reply, flags=fin), step)

    def _packet(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "from", "to")
        src, dst = self._endpoint(args["from"]), self._endpoint(args["to"])
        packets = int(args.get("packets", 1))
        packet = Packet(src[0], dst[0], self._protocol(args), src[1], dst[1], self._flags(args), packets,
                        int(args.get("bytes", 100 * packets)))  # fmt: skip
        self._transmit("packet", packet, step)

    def _wait(self, value: Any, step: Mapping[str, Any]) -> None:
        delta = parse_duration(value)
        if delta is None:
            raise self._fail(f"'{value}' is not a duration (like 30s, 5m, 1h)")
        try:
            self.clock.advance(delta)
        except OverflowError:
            raise self._fail(f"waiting {value} takes the clock past the year 9999") from None
        self.network.tick()
        self.events.append(ScenarioEvent(self.clock.now(), self._step, "wait", f"waited {value}"))

    def _probe(self, value: Any, step: Mapping[str, Any]) -> None:
        name = str(value)
        lb = next((b for b in self.network.load_balancers if b.name.casefold() == name.casefold()), None)
        if lb is None:
            raise self._fail(f"no load balancer named '{name}'")
        for probe in self.network.probe(lb):
            self._record("probe", f"{lb.name} probe {probe.probe} → {probe.nic}", probe.result, step)

    # --- configuration changes ------------------------------------------------------------------

    def _nsg(self, name: Any) -> NetworkSecurityGroup:
        topology = self.network.topology
        found = topology.nsg(str(name)) or next(
            (n for n in topology.nsgs.values() if n.name.casefold() == str(name).casefold()), None
        )
        if found is None:
            raise self._fail(f"no network security group named '{name}'")
        return found

    def _nic(self, name: Any) -> NetworkInterface:
        nic = self.network.topology.find_nic(str(name))
        if nic is None:
            raise self._fail(f"no network interface or VM named '{name}'")
        return nic

    def _apply(self, topology: Topology, description: str) -> None:
        from opennsg.model.validation import validate_topology

        problems = validate_topology(topology)
        if problems:
            raise OpenNsgError(problems)
        dropped = self.network.update(topology)
        reason = f"{len(dropped)} existing flow(s) dropped by flushConnection" if dropped else "existing flows kept"
        self.events.append(ScenarioEvent(self.clock.now(), self._step, "change", description, None, reason))

    def _replace_nsg(self, nsg: NetworkSecurityGroup) -> Topology:
        topology = self.network.topology
        return topology.with_(nsgs=[nsg if n.key == nsg.key else n for n in topology.nsgs.values()])

    def _delete_rule(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "nsg", "rule")
        nsg = self._nsg(args["nsg"])
        rule = nsg.rule(str(args["rule"]))
        if rule is None:
            raise self._fail(f"no rule '{args['rule']}' in {nsg.name}")
        kept = tuple(r for r in nsg.security_rules if r is not rule)
        self._apply(self._replace_nsg(replace(nsg, security_rules=kept)), f"delete rule {rule.name} of {nsg.name}")

    def _add_rule(self, value: Any, step: Mapping[str, Any]) -> None:
        from opennsg.arm import parse_resource
        from opennsg.model.resources import SecurityRule

        args = self._args(value, "nsg", "rule")
        nsg = self._nsg(args["nsg"])
        body = args["rule"]
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise self._fail("'rule' is an ARM security rule with a name and properties")
        rule = parse_resource("securityRules", dict(body), f"{nsg.id}/securityRules/{body['name']}")
        if not isinstance(rule, SecurityRule):
            raise self._fail("'rule' is not a security rule")
        others = tuple(r for r in nsg.security_rules if r.name.casefold() != rule.name.casefold())
        updated = replace(nsg, security_rules=(*others, rule))
        self._apply(self._replace_nsg(updated), f"add rule {rule.name} (priority {rule.priority}) to {nsg.name}")

    def _set_flush(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "nsg", "value")
        nsg = self._nsg(args["nsg"])
        flag = bool(args["value"])
        self._apply(self._replace_nsg(replace(nsg, flush_connection=flag)), f"flushConnection of {nsg.name} = {flag}")

    def _associate(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "nsg")
        nsg_id = self._nsg(args["nsg"]).id if args["nsg"] is not None else None
        label = args["nsg"] if nsg_id else "no NSG"
        topology = self.network.topology
        if "nic" in args:
            nic = self._nic(args["nic"])
            nics = [
                replace(n, network_security_group=nsg_id) if n.key == nic.key else n for n in topology.nics.values()
            ]
            self._apply(topology.with_(nics=nics), f"associate {label} with NIC {nic.name}")
            return
        if "subnet" not in args:
            raise self._fail("associate needs 'nic' or 'subnet' (vnet/subnet or a unique subnet name)")
        wanted = str(args["subnet"]).casefold()
        vnets = []
        hits = 0
        for vnet in topology.vnets.values():
            subnets = []
            for subnet in vnet.subnets:
                if wanted in (subnet.key, subnet.name.casefold(), f"{vnet.name}/{subnet.name}".casefold()):
                    subnet = replace(subnet, network_security_group=nsg_id)
                    hits += 1
                subnets.append(subnet)
            vnets.append(replace(vnet, subnets=tuple(subnets)))
        if hits != 1:
            raise self._fail(f"subnet '{args['subnet']}' matches {hits} subnets; use vnet/subnet or the id")
        self._apply(topology.with_(vnets=vnets), f"associate {label} with subnet {args['subnet']}")

    def _asg_membership(self, value: Any, step: Mapping[str, Any]) -> None:
        args = self._args(value, "nic")
        nic = self._nic(args["nic"])
        topology = self.network.topology

        def asg_id(name: Any) -> str:
            found = topology.asg(str(name)) or next(
                (a for a in topology.asgs.values() if a.name.casefold() == str(name).casefold()), None
            )
            if found is None:
                raise self._fail(f"no application security group named '{name}'")
            return found.id

        for key in ("add", "remove"):
            if not isinstance(args.get(key, []), list):
                raise self._fail(f"'{key}' lists application security group names")
        add = [asg_id(a) for a in args.get("add", [])]
        remove = {id_key(asg_id(a)) for a in args.get("remove", [])}
        configs = []
        for cfg in nic.ip_configurations:
            kept = [a for a in cfg.application_security_groups if id_key(a) not in remove]
            kept += [a for a in add if id_key(a) not in {id_key(k) for k in kept}]
            configs.append(replace(cfg, application_security_groups=tuple(kept)))
        updated = replace(nic, ip_configurations=tuple(configs))
        nics = [updated if n.key == nic.key else n for n in topology.nics.values()]
        self._apply(topology.with_(nics=nics), f"ASG membership of {nic.name}: +{len(add)} -{len(remove)}")


def _show(endpoint: Endpoint) -> str:
    host, port = endpoint
    host = f"[{host}]" if ":" in host and port is not None else host
    return host if port is None else f"{host}:{port}"


def _proto(protocol: int) -> str:
    return PROTOCOL_NAMES.get(protocol, str(protocol))


def run_scenario(
    path: Path, max_flows_per_nic: int | None = None, service_tags: ServiceTags | None = None
) -> ScenarioRun:
    """Load the scenario, its topology and load balancers, and run it."""
    from opennsg.arm import load_paths

    scenario = Scenario.load(path)
    topology = load_paths(list(scenario.topology), service_tags=service_tags)
    run = ScenarioRun(scenario, topology, max_flows_per_nic)
    run.run()
    return run
