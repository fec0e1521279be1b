"""A simulated network over a topology: packets between NICs, the Internet and load balancers, through NSGs.

Each NIC has its own connection table; a packet leaving a NIC meets that NIC's outbound chain, a packet
arriving meets the receiver's inbound chain (VM to VM: both, semantics §3.2). Inbound traffic to a NIC's public IP is
evaluated after translation to its private IP; traffic to a load balancer frontend goes to a backend NIC with the
client's source address kept (semantics §6); replies are translated back so the client's conntrack recognises them.
Addresses that belong to no NIC, public IP or frontend are "the Internet". Routing is not modelled: any NIC can
reach any address.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from opennsg.dataplane.clock import Clock
from opennsg.dataplane.conntrack import ConnectionTable, Decide, FlowEvent, Outcome, TcpFlag, flow_key
from opennsg.engine import Engine, NicPolicy, Verdict
from opennsg.flowlogs.formats import FlowState, FlowTuple
from opennsg.flowlogs.writer import FlowLogEntry, FlowLogResources, FlowLogWriter, VnetFlowLog
from opennsg.model.enums import IANA_TCP, Direction
from opennsg.model.ids import id_key
from opennsg.model.loadbalancer import FrontendIpConfiguration, LoadBalancer, LoadBalancingRule
from opennsg.model.policy import DEFAULT_FLOW_TIMEOUT_MINUTES, HOST_VIRTUAL_IP, MAX_FLOWS_PER_NIC
from opennsg.model.resources import NetworkInterface
from opennsg.model.topology import Topology
from opennsg.model.values import parse_address

#: Azure's OUI, used for NICs whose JSON carries no MAC address.
AZURE_MAC_PREFIX = "000D3A"
PROBE_SOURCE_PORT = 60000

Endpoint = tuple[str, int | None]


@dataclass(frozen=True, slots=True)
class Packet:
    """Packets on the wire at the sender (``packets`` of them totalling ``size`` bytes, headers included)."""

    source_ip: str
    destination_ip: str
    protocol: int
    source_port: int | None = None
    destination_port: int | None = None
    flags: frozenset[TcpFlag] = frozenset()
    packets: int = 1
    size: int = 0

    @property
    def source(self) -> Endpoint:
        return (self.source_ip, self.source_port)

    @property
    def destination(self) -> Endpoint:
        return (self.destination_ip, self.destination_port)


@dataclass(frozen=True, slots=True)
class Leg:
    """What one NIC's connection tracking and NSG chain made of the packet."""

    nic: str
    direction: Direction
    outcome: Outcome
    rule: str | None
    nsg_id: str | None

    @property
    def passed(self) -> bool:
        return self.outcome in (Outcome.NEW_ALLOWED, Outcome.TRACKED, Outcome.RETURN)


@dataclass(frozen=True, slots=True)
class PacketResult:
    at: datetime
    packet: Packet
    delivered: bool
    legs: tuple[Leg, ...]
    #: Where the packet was delivered after DNAT / load balancing, when that differs from its destination.
    translated_to: Endpoint | None = None
    #: The source the receiver saw after reply translation (load balancer or public IP replies).
    translated_from: Endpoint | None = None
    #: Why a packet that met no NSG was dropped.
    dropped_because: str | None = None

    @property
    def reason(self) -> str:
        """Why the packet was delivered or dropped, in a sentence."""
        parts = [self.dropped_because] if self.dropped_because else []
        for leg in self.legs:
            rule = f" by {leg.rule}" if leg.rule and leg.outcome in (Outcome.NEW_ALLOWED, Outcome.DENIED) else ""
            parts.append(f"{leg.nic} {leg.direction.value.lower()}: {leg.outcome.value}{rule}")
        return "; ".join(parts) or "no NSG on the path"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    load_balancer: str
    probe: str
    nic: str
    healthy: bool
    result: PacketResult


@dataclass(frozen=True, slots=True)
class _Route:
    """A destination resolved: the NIC that receives, the private address, and a NAT'ed front if any."""

    nic: NetworkInterface | None
    endpoint: Endpoint
    front: Endpoint | None
    #: A load balancer frontend with no healthy backend, or a closed public IP: the packet goes nowhere.
    unreachable: bool = False
    reason: str = "no load-balancing rule or healthy backend"


_CLOSED_PUBLIC_IP = (
    "{address} is a Standard public IP: closed while no NSG applies at its NIC or subnet (semantics §12.3)"
)


class Network:
    """The data plane over one topology; ``update`` swaps the configuration while flows keep running."""

    def __init__(
        self,
        topology: Topology,
        *,
        clock: Clock,
        max_flows_per_nic: int = MAX_FLOWS_PER_NIC,
        flow_logs: FlowLogWriter | None = None,
    ) -> None:
        self.clock = clock
        self.max_flows_per_nic = max_flows_per_nic
        self.flow_logs = flow_logs
        self._tables: dict[str, ConnectionTable] = {}
        #: (protocol, backend end, client end) → the frontend the client spoke to.
        self._nat: dict[tuple[int, Endpoint, Endpoint], Endpoint] = {}
        self._unhealthy: set[str] = set()
        self._install(topology)

    # --- configuration ---------------------------------------------------------------------------

    def _install(self, topology: Topology) -> None:
        self.topology = topology
        self._flow_log_resources = FlowLogResources.of(topology) if self.flow_logs is not None else None
        self.engine = Engine(topology)
        self._by_private: dict[str, tuple[NetworkInterface, str]] = {}
        self._by_public: dict[str, tuple[NetworkInterface, str, str]] = {}  # address -> (NIC, private IP, PIP id)
        for nic in topology.nics.values():
            for cfg in nic.ip_configurations:
                if not cfg.private_ip_address:
                    continue
                private = _canonical(cfg.private_ip_address)
                self._by_private[private] = (nic, private)
                public = topology.public_ips.get(id_key(cfg.public_ip_address)) if cfg.public_ip_address else None
                if public is not None and public.ip_address:
                    self._by_public[_canonical(public.ip_address)] = (nic, private, public.id)
        self._frontends: dict[str, list[tuple[LoadBalancer, LoadBalancingRule]]] = {}
        for lb in topology.load_balancers.values():
            for rule in lb.load_balancing_rules:
                front = lb.frontend(rule.frontend_ip_configuration)
                address = self.frontend_address(front) if front else None
                if address:
                    self._frontends.setdefault(address, []).append((lb, rule))

    @property
    def load_balancers(self) -> tuple[LoadBalancer, ...]:
        return tuple(self.topology.load_balancers.values())

    def frontend_address(self, front: FrontendIpConfiguration) -> str | None:
        """A frontend's IP: its private address, or that of its public IP resource."""
        if front.private_ip_address:
            return _canonical(front.private_ip_address)
        public_id = front.public_ip_address
        public = self.topology.public_ips.get(id_key(public_id)) if public_id else None
        return _canonical(public.ip_address) if public is not None and public.ip_address else None

    def update(self, topology: Topology) -> list[FlowEvent]:
        """Apply a new configuration. Tracked flows keep their verdicts — except at NICs where an NSG with
        ``flushConnection`` changed: their flows are decided again and those now denied are dropped
        (semantics §3.3). Returns the End events of dropped flows.
        """
        now = self.clock.now()
        self._advance(now)
        old = {key: self._policy_or_none(key) for key in self._tables}
        self._install(topology)
        dropped: list[FlowEvent] = []
        for key, table in list(self._tables.items()):
            nic = topology.nics.get(key)
            if nic is None:
                del self._tables[key]  # the NIC is gone, and its flows with it
                continue
            table.idle_timeout = self.idle_timeout(nic)  # the VNet's flowTimeoutInMinutes may have changed
            if not _flush_triggered(old[key], self.policy(nic)):
                continue
            events = table.reevaluate(now, self._decider(nic))
            self._log_events(nic, events)
            dropped.extend(e for e in events if e.state is FlowState.END)
        return dropped

    # --- lookups -------------------------------------------------------------------------------

    def policy(self, nic: NetworkInterface) -> NicPolicy:
        """The NIC's resolved NSG chain under the current configuration."""
        return self.engine.policy(nic)

    def _decider(self, nic: NetworkInterface) -> Decide:
        engine = self.engine
        return lambda flow: engine.decide(nic, flow)

    def _policy_or_none(self, key: str) -> NicPolicy | None:
        nic = self.topology.nics.get(key)
        return self.policy(nic) if nic is not None else None

    def table(self, nic: NetworkInterface) -> ConnectionTable:
        table = self._tables.get(nic.key)
        if table is None:
            table = ConnectionTable(self.max_flows_per_nic, self.idle_timeout(nic))
            self._tables[nic.key] = table
        return table

    def idle_timeout(self, nic: NetworkInterface) -> timedelta:
        """The VNet's ``flowTimeoutInMinutes`` (4–30), else 4 minutes (semantics §0)."""
        subnet = self.topology.subnet(nic.subnet)
        vnet = self.topology.vnet_of_subnet(subnet.id) if subnet else None
        minutes = vnet.flow_timeout_in_minutes if vnet and vnet.flow_timeout_in_minutes else None
        return timedelta(minutes=minutes or DEFAULT_FLOW_TIMEOUT_MINUTES)

    def mac_of(self, nic: NetworkInterface) -> str:
        return nic_mac(nic)

    # --- traffic -------------------------------------------------------------------------------

    def tick(self) -> None:
        """Bring every table to the clock's time: Continuing tuples, idle timeouts."""
        self._advance(self.clock.now())

    def _advance(self, now: datetime) -> None:
        for key, table in self._tables.items():
            events = table.advance(now)
            nic = self.topology.nics.get(key)
            if events and nic is not None:
                self._log_events(nic, events)

    def send(self, packet: Packet) -> PacketResult:
        """Carry ``packet`` from its sender to its receiver; every NIC on the way tracks and filters it."""
        now = self.clock.now()
        self._advance(now)
        legs: list[Leg] = []
        source = self._by_private.get(_canonical(packet.source_ip))
        src = (_canonical(packet.source_ip), packet.source_port)
        route = self._route(packet, src)
        if source is not None:
            # The sender's NSGs see the destination it addressed (a frontend, a public IP), not the backend.
            sent_to = (_canonical(packet.destination_ip), packet.destination_port)
            leg = self._leg(source[0], Direction.OUTBOUND, packet, src, sent_to, now)
            legs.append(leg)
            if not leg.passed:
                return PacketResult(now, packet, False, tuple(legs), _moved(route, packet))
        # A reply leaving a load-balanced backend (or a NIC reached by its public IP) carries the front address.
        seen_src = self._nat.get((packet.protocol, src, route.endpoint), src)
        if route.unreachable:
            return PacketResult(now, packet, False, tuple(legs), None, None, route.reason)
        if route.nic is not None:
            leg = self._leg(route.nic, Direction.INBOUND, packet, seen_src, route.endpoint, now)
            legs.append(leg)
            if not leg.passed:
                return PacketResult(now, packet, False, tuple(legs), _moved(route, packet), _changed(seen_src, src))
            if route.front is not None and leg.outcome is Outcome.NEW_ALLOWED:
                self._nat[(packet.protocol, route.endpoint, seen_src)] = route.front
        return PacketResult(now, packet, True, tuple(legs), _moved(route, packet), _changed(seen_src, src))

    def _route(self, packet: Packet, src: Endpoint) -> _Route:
        dst = (_canonical(packet.destination_ip), packet.destination_port)
        private = self._by_private.get(dst[0])
        if private is not None:
            return _Route(private[0], dst, None)
        public = self._by_public.get(dst[0])
        if public is not None:
            nic, address, public_ip_id = public
            if not self.engine.public_ip_admits(nic, public_ip_id):
                return _Route(None, dst, None, unreachable=True, reason=_CLOSED_PUBLIC_IP.format(address=dst[0]))
            return _Route(nic, (address, dst[1]), dst)
        frontends = self._frontends.get(dst[0], [])
        for lb, rule in frontends:
            if rule.carries(packet.protocol, dst[1]):
                backend = self._backend(lb, rule, packet, src, dst)
                if backend is not None:
                    port = dst[1] if rule.backend_port == 0 else rule.backend_port
                    return _Route(backend[0], (backend[1], port), dst)
        return _Route(None, dst, None, unreachable=bool(frontends))

    def _backend(
        self, lb: LoadBalancer, rule: LoadBalancingRule, packet: Packet, src: Endpoint, dst: Endpoint
    ) -> tuple[NetworkInterface, str] | None:
        """The backend a flow hashes to (5-tuple hash, so every packet of a flow lands on the same NIC)."""
        members = [m for m in self.pool_members(rule.backend_address_pool) if m[0].key not in self._unhealthy]
        if not members:
            return None
        digest = zlib.crc32(f"{packet.protocol}|{src}|{dst}".encode())
        return members[digest % len(members)]

    def pool_members(self, pool_id: str) -> list[tuple[NetworkInterface, str]]:
        key = id_key(pool_id)
        return [
            (nic, _canonical(cfg.private_ip_address))
            for nic in sorted(self.topology.nics.values(), key=lambda n: n.key)
            for cfg in nic.ip_configurations
            if cfg.private_ip_address and key in {id_key(p) for p in cfg.load_balancer_backend_address_pools}
        ]

    def _leg(
        self, nic: NetworkInterface, direction: Direction, packet: Packet, src: Endpoint, dst: Endpoint, now: datetime
    ) -> Leg:
        key = flow_key(direction, packet.protocol, src, dst)
        result = self.table(nic).process(
            key, direction, now, self._decider(nic), packet.flags, packet.packets, packet.size
        )
        self._log_events(nic, list(result.events))
        verdict: Verdict | None = result.verdict
        rule = verdict.log_rule_name if verdict else None
        return Leg(nic.name, direction, result.outcome, rule, verdict.nsg_id if verdict else None)

    def probe(self, lb: LoadBalancer) -> list[ProbeResult]:
        """Health probes from 168.63.129.16 to every backend of every probed rule; failures take backends out."""
        results: list[ProbeResult] = []
        for rule in lb.load_balancing_rules:
            probe = lb.probe(rule.probe)
            if probe is None:
                continue
            for nic, address in self.pool_members(rule.backend_address_pool):
                # Tcp, Http and Https probes all open a TCP connection; it is reset once answered.
                syn = Packet(
                    HOST_VIRTUAL_IP, address, IANA_TCP, PROBE_SOURCE_PORT, probe.port, frozenset({TcpFlag.SYN})
                )
                result = self.send(syn)
                if result.delivered:
                    self.send(replace(syn, flags=frozenset({TcpFlag.RST})))
                    self._unhealthy.discard(nic.key)
                else:
                    self._unhealthy.add(nic.key)
                results.append(ProbeResult(lb.name, probe.name, nic.name, result.delivered, result))
        return results

    # --- flow logs -------------------------------------------------------------------------------

    def _log_events(self, nic: NetworkInterface, events: list[FlowEvent]) -> None:
        if self.flow_logs is None or not events:
            return
        resources = self._flow_log_resources
        if resources is not None:
            vnet_log = resources.vnet_log(nic)
        else:
            subnet = self.topology.subnet(nic.subnet)
            vnet = self.topology.vnet_of_subnet(subnet.id) if subnet else None
            vnet_log = VnetFlowLog.for_vnet(vnet) if vnet else None
        mac = self.mac_of(nic)
        for event in events:
            conn = event.connection
            key = conn.key
            local, remote = (key.local_ip, key.local_port), (key.remote_ip, key.remote_port)
            src, dst = (remote, local) if conn.direction is Direction.INBOUND else (local, remote)
            delta = event.delta
            flow_tuple = FlowTuple(
                event.at, src[0], dst[0], src[1], dst[1], key.protocol, conn.direction, conn.verdict.access,
                event.state, delta.packets_sent, delta.bytes_sent, delta.packets_received, delta.bytes_received,
            )  # fmt: skip
            verdict = conn.verdict
            nsg_id = None if verdict.by_admin_rule else verdict.nsg_id
            nsg = self.topology.nsg(nsg_id)
            guid = nsg.resource_guid if nsg else None
            entry = FlowLogEntry(flow_tuple, mac, nsg_id, guid, verdict.log_rule_name, vnet_log)
            if resources is not None:  # written as the flow-log resources say (their NSG flow logs)
                version = resources.nsg_version(nsg_id)
                entry = replace(entry, nsg_logged=version is not None, nsg_version=version)
            if verdict.by_admin_rule:  # in VNet flow logs only, under its configuration (semantics §11.4)
                entry = replace(entry, acl_id=verdict.acl_id, acl_guid=verdict.acl_guid)
            self.flow_logs.add(entry)


def nic_mac(nic: NetworkInterface) -> str:
    """The NIC's MAC as flow logs print it; for a NIC whose JSON carries none, a stable one in Azure's OUI."""
    return nic.normalized_mac or f"{AZURE_MAC_PREFIX}{zlib.crc32(nic.key.encode()) & 0xFFFFFF:06X}"


def _flush_triggered(old: NicPolicy | None, new: NicPolicy) -> bool:
    """An NSG on the NIC's path has ``flushConnection`` and something about it changed: its rules, the flag
    itself (being turned on), its association, or the addresses its tags and ASGs stand for.
    """
    for slot in ("subnet_nsg", "nic_nsg"):
        current = getattr(new, slot)
        before = getattr(old, slot) if old is not None else None
        if current is not None and current.nsg.flush_connection and current != before:
            return True
    return False


def _moved(route: _Route, packet: Packet) -> Endpoint | None:
    return route.endpoint if route.front is not None else None


def _changed(seen: Endpoint, original: Endpoint) -> Endpoint | None:
    return seen if seen != original else None


def _canonical(text: str) -> str:
    address = parse_address(text)
    if address is None:
        raise ValueError(f"not an IP address: {text!r}")
    return str(address)
