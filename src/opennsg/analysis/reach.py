"""Who can reach whom: the NIC-to-NIC matrix and reachability intents, exactly, over protocols and ports.

A path from a NIC to a NIC is the source NIC's outbound chain (remote = the destination's address), then the
destination NIC's inbound chain (remote = the source's address), as ``Engine.verify_path`` decides one flow; here
both legs are evaluated over every protocol and port at once. Routing is the source NIC's effective routes
(``engine.routes``: the VNet, ``Connected`` peerings, gateways, user routes): no route or next hop ``None`` blocks
(``no-route``); a virtual appliance ends the path there (``appliance``, result ``Indeterminate``). ``Internet``
reaches a NIC's IP configuration through a public IP on it (every protocol and port), or through a public load
balancer frontend whose rule sends a frontend port to the configuration's backend pool (the rule's protocol, its
backend port, as the NSGs see the translated flow; HA ports: every port) — each public IP only as
``engine.egress.public_ip_admits`` says (a Standard SKU one only when some NSG applies, semantics §12.3). What no
public IP or rule carries is blocked before any NSG (``no-route``). A
NIC reaches the Internet through its public IP, a NAT gateway on its subnet, or default outbound access, which a
private subnet lacks (semantics §12.2: ``no-egress``).

Legs are cached: a leg's answer depends only on the NIC's NSGs and VNet (its policy) and on which rule-relevant
class its local and remote addresses fall in, so NICs that no rule tells apart share one evaluation.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any, Literal

from opennsg.analysis.render import FlowBox, Shape, shape_of
from opennsg.analysis.space import Box, Space, intersect, merge_boxes, subtract_all
from opennsg.analysis.symbolic import (
    CompiledPolicy,
    Decision,
    build_space,
    evaluate_boxes,
    register_addresses,
    register_policy,
)
from opennsg.engine import Engine
from opennsg.engine.addresses import V4_MAX, V6_MAX, AddressSet, PortSet
from opennsg.engine.egress import public_ip_admits
from opennsg.engine.flow import parse_flow_protocol
from opennsg.engine.ir import NicPolicy
from opennsg.engine.routes import effective_routes, next_hop
from opennsg.model.codes import Code
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import InputError, parse_json, read_text
from opennsg.model.ids import id_key, name_of
from opennsg.model.loadbalancer import TransportProtocol
from opennsg.model.resources import IpConfiguration, NetworkInterface, Subnet
from opennsg.model.routes import EffectiveRoute, NextHopType
from opennsg.model.topology import Topology
from opennsg.model.values import parse_port_range, parse_prefix

Hop = Literal[
    "source-admin",
    "source-nic",
    "source-subnet",
    "destination-admin",
    "destination-subnet",
    "destination-nic",
    "no-route",
    "no-egress",
    "appliance",
]
Result = Literal["Reachable", "PartiallyReachable", "Unreachable", "Indeterminate"]
INTERNET = "Internet"
_HOPS: dict[tuple[str, str | None], Hop] = {
    ("source", "subnet"): "source-subnet",
    ("source", "networkInterface"): "source-nic",
    ("source", "networkManager"): "source-admin",
    ("destination", "subnet"): "destination-subnet",
    ("destination", "networkInterface"): "destination-nic",
    ("destination", "networkManager"): "destination-admin",
}


def _hop(leg: str, decision: Decision) -> Hop:
    if decision.association is None:
        return "no-egress" if leg == "source" else "destination-nic"  # platform filters: SMTP block outbound
    return _HOPS.get((leg, decision.association), "source-nic" if leg == "source" else "destination-nic")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One side of an intent: NICs of the topology, or addresses outside it (``Internet``, a CIDR, a subnet)."""

    label: str
    nics: tuple[NetworkInterface, ...] = ()
    addresses: AddressSet | None = None
    internet: bool = False
    #: The subnet whose prefixes ``addresses`` are (an empty subnet), for routing.
    subnet: Subnet | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    source: str
    destination: str
    protocol: str
    destination_ports: tuple[str, ...]
    source_ports: tuple[str, ...] = ("0-65535",)
    expect: str | None = None


@dataclass(frozen=True, slots=True)
class BlockedBox:
    box: FlowBox
    rule: str | None
    hop: Hop

    def to_json(self) -> dict[str, Any]:
        return {**self.box.to_json(), "rule": self.rule, "hop": self.hop}


@dataclass(frozen=True, slots=True)
class IntentResult:
    name: str
    result: Result
    allowed: tuple[FlowBox, ...]
    blocked: tuple[BlockedBox, ...]
    expect: str | None = None

    @property
    def expectation_failed(self) -> bool:
        return self.expect is not None and self.expect.casefold() != self.result.casefold()

    @property
    def allowed_flows(self) -> int:
        return sum(b.flows for b in self.allowed)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "result": self.result,
            "allowed": [b.to_json() for b in self.allowed],
            "blocked": [b.to_json() for b in self.blocked],
            "witness": self.allowed[0].witness.to_json() if self.allowed else None,
            "counterexample": self.blocked[0].box.witness.to_json() if self.blocked else None,
        }
        if self.expect is not None:
            out["expect"] = self.expect
            out["expectationMet"] = not self.expectation_failed
        return out


class Cell:
    """One source → destination pair of the matrix. Its boxes are rendered when first read (``allowed``): a
    matrix of 200 NICs has 40,000 pairs, most of them shared answers that only a reader of that pair needs spelled
    out."""

    __slots__ = ("_allowed", "_render", "blocked_hops", "destination", "flows", "reachable", "source", "summary")

    def __init__(
        self,
        source: str,
        destination: str,
        reachable: bool | Literal["partial"],
        summary: str,
        allowed: tuple[FlowBox, ...] | Callable[[], tuple[FlowBox, ...]],
        blocked_hops: tuple[Hop, ...] = (),
        flows: int | None = None,
    ) -> None:
        self.source = source
        self.destination = destination
        self.reachable = reachable
        self.summary = summary
        self.blocked_hops = blocked_hops
        self._allowed: tuple[FlowBox, ...] | None = None if callable(allowed) else allowed
        self._render = allowed if callable(allowed) else None
        self.flows = flows if flows is not None else sum(b.flows for b in self.allowed)

    @property
    def allowed(self) -> tuple[FlowBox, ...]:
        if self._allowed is None:
            assert self._render is not None
            self._allowed = self._render()
            self._render = None
        return self._allowed

    def to_json(self) -> dict[str, Any]:
        # Rendered for this call only when not read before: writing a whole matrix keeps one pair's boxes at a time.
        boxes = self._allowed if self._allowed is not None else self._render() if self._render else ()
        return {
            "source": self.source,
            "destination": self.destination,
            "reachable": self.reachable,
            "summary": self.summary,
            "flows": self.flows,
            "allowed": [b.to_json() for b in boxes],
        }


@dataclass(frozen=True, slots=True)
class Matrix:
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def cell(self, source: str, destination: str) -> Cell | None:
        return self.cells.get((source, destination))

    def label(self, resource: str) -> str:
        return self.names.get(resource, name_of(resource))

    def to_json(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "destinations": list(self.destinations),
            "pairs": [c.to_json() for c in self.cells.values()],
        }

    def json_chunks(self) -> Iterator[str]:
        """``json.dumps(self.to_json(), indent=2)``, piece by piece: a large matrix is written without holding
        every pair's boxes at once."""
        head = json.dumps({"sources": list(self.sources), "destinations": list(self.destinations)}, indent=2)
        yield head[:-2] + ',\n  "pairs": ['
        for i, cell in enumerate(self.cells.values()):
            text = json.dumps(cell.to_json(), indent=2).replace("\n", "\n    ")
            yield ("," if i else "") + "\n    " + text
        yield "\n  ]\n}" if self.cells else "]\n}"


def nic_addresses(nic: NetworkInterface) -> tuple[str, ...]:
    """Every private IP of the NIC (IPv4 and IPv6, the primary configuration's first), canonically written: a flow
    may use any of them."""
    ordered = sorted(nic.ip_configurations, key=lambda c: not c.primary)
    return tuple(dict.fromkeys(str(ip_address(c.private_ip_address)) for c in ordered if c.private_ip_address))


#: The IANA protocols a load-balancing rule carries (``LoadBalancingRule.carries``).
_LB_PROTOCOLS = {TransportProtocol.TCP: (6,), TransportProtocol.UDP: (17,), TransportProtocol.ALL: (6, 17)}


def _point(text: str) -> AddressSet:
    return AddressSet.of([ip_network(text)])


def _family_part(addresses: AddressSet, family: int) -> AddressSet:
    return AddressSet(addresses.v4, ()) if family == 4 else AddressSet((), addresses.v6)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A shape of an answer and what became of its flows: allowed, or blocked by ``rule`` at ``hop``."""

    shape: Shape
    allowed: bool
    rule: str | None = None
    hop: Hop | None = None


def _products(pairs: Iterable[tuple[str, str]]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(local, remote) address pairs as few products local-addresses × remote-addresses (disjoint, same union)."""
    by_remote: dict[str, dict[str, None]] = {}
    for local, remote in pairs:
        by_remote.setdefault(remote, {})[local] = None
    by_locals: dict[tuple[str, ...], list[str]] = {}
    for remote, locals_ in by_remote.items():
        by_locals.setdefault(tuple(locals_), []).append(remote)
    return [(locals_, tuple(remotes)) for locals_, remotes in by_locals.items()]


class _RouteMap:
    """One subnet's routing as address intervals with one next hop each: between consecutive boundaries of the
    routes' prefixes every address lies in the same prefixes, so ``next_hop`` of the interval's first address is
    every address's (asked once per interval, not once per destination)."""

    def __init__(self, routes: tuple[EffectiveRoute, ...]) -> None:
        self.routes = routes
        self.starts: dict[int, list[int]] = {}
        self.hops: dict[int, list[Hop | None]] = {}
        for family, top in ((4, V4_MAX), (6, V6_MAX)):
            bounds = {0}
            for route in routes:
                for text in route.address_prefixes:
                    network = parse_prefix(text)
                    if network is not None and network.version == family:
                        bounds.add(int(network.network_address))
                        if int(network.broadcast_address) < top:
                            bounds.add(int(network.broadcast_address) + 1)
            starts = sorted(bounds)
            make = IPv4Address if family == 4 else IPv6Address
            self.starts[family] = starts
            self.hops[family] = [self._decide(next_hop(routes, make(start))) for start in starts]

    @staticmethod
    def _decide(chosen: EffectiveRoute | None) -> Hop | None:
        if chosen is None or chosen.next_hop_type is NextHopType.NONE:
            return "no-route"
        if chosen.next_hop_type is NextHopType.VIRTUAL_APPLIANCE:
            return "appliance"
        return None

    def hop(self, address: IPv4Address | IPv6Address) -> Hop | None:
        starts = self.starts[address.version]
        return self.hops[address.version][bisect_right(starts, int(address)) - 1]


# --- the legs --------------------------------------------------------------------------------------------


class Reachability:
    """Reachability questions over one topology (``matrix()`` and ``intents(...)``).

    NICs with the same chain (same subnet, NIC NSG, subscription, and whether they are private endpoints) differ
    only in their addresses; an address's class in the rules' space says what the chain can tell of it. A pair's
    answer is therefore computed once per (chain, class) of each side and rendered for each pair by substituting
    its addresses (``render.Shape``); that the shared answer equals the per-pair one is property-tested.
    """

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.engine = Engine(topology)
        self.nics = sorted(topology.nics.values(), key=lambda n: n.id.casefold())
        self._representative: dict[tuple[object, ...], NicPolicy] = {}
        self._routes: dict[str, _RouteMap] = {}
        self._parsed: dict[str, IPv4Address | IPv6Address] = {}
        self._keys: dict[str, tuple[object, ...]] = {}
        self._addresses = {nic.id: nic_addresses(nic) for nic in self.nics}
        for nic in self.nics:
            key = self._policy_key(nic)
            if key not in self._representative:
                self._representative[key] = self.engine.policy(nic.id)

    def _policy_key(self, nic: NetworkInterface) -> tuple[object, ...]:
        """What a NIC's chain depends on besides its addresses: its subnet (subnet NSG, VNet and its peerings,
        routes, admin rules, endpoint policies), its own NSG, its subscription (SMTP) and whether it is a private
        endpoint's."""
        key = self._keys.get(nic.id)
        if key is None:
            key = self._keys[nic.id] = (
                id_key(nic.subnet) if nic.subnet else None,
                id_key(nic.network_security_group) if nic.network_security_group else None,
                nic.subscription_id.casefold(),
                self.topology.is_private_endpoint_nic(nic.id),
            )
        return key

    def _space(self, addresses: Iterable[AddressSet], ports: Iterable[PortSet], protocols: Iterable[int]) -> None:
        """Two spaces: one fine enough to evaluate (every NIC address its own class), one with only the rules'
        boundaries, whose classes tell which addresses a leg cannot tell apart (the cache key)."""
        policies = list(self._representative.values())
        extra = list(addresses)
        ports = [*ports, *(PortSet.of([(p, p)]) for p in self._backend_ports())]
        protocols = {*protocols, 6, 17}
        self.rule_space = build_space(policies, extra, ports)
        space = Space()
        for policy in policies:
            register_policy(space, policy)
        for nic in self.nics:
            for address in self._addresses[nic.id]:
                register_addresses(space, _point(address))
        for addresses_set in extra:
            register_addresses(space, addresses_set)
        for port_set in ports:
            space.ports.register(port_set.intervals)
        for number in protocols:
            space.protocols.register(((number, number),))
        space.freeze()
        self.space = space
        self.compiled = {key: CompiledPolicy(space, policy) for key, policy in self._representative.items()}
        self._legs: dict[tuple[object, ...], list[tuple[Box, Decision]]] = {}
        self._outcomes: dict[tuple[object, ...], tuple[_Outcome, ...]] = {}
        self._classes: dict[str, int] = {}
        self._summaries: dict[tuple[int, ...], str] = {}
        self._shapes: dict[tuple[object, ...], Shape] = {}

    def _shape(self, box: Box, direction: Direction, keep_remote: bool) -> Shape:
        """``render.shape_of``, remembered: pieces of different address pairs share their protocol and port fields."""
        key = (direction, box[0], box[1], box[3], box[5], box[4] if keep_remote else None)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = shape_of(self.space, box, direction, keep_remote)
        return shape

    def _leg(
        self, nic: NetworkInterface, direction: Direction, local: str, remote: AddressSet, region: Box
    ) -> list[tuple[Box, Decision]]:
        """The NIC's chain over ``region`` (local = ``local``, remote ⊆ ``remote``), pieces with decisions."""
        family = region[0]
        remote_key, point = self._remote_key(family, remote)
        key = (
            self._policy_key(nic),
            direction,
            family,
            self._class_of_point(local),
            remote_key,
            region[1],
            region[3],
            region[5],
        )
        cached = self._legs.get(key)
        if cached is None:
            compiled = self.compiled[self._policy_key(nic)]
            pieces = evaluate_boxes(compiled, direction, [(region, None)])
            cached = self._legs[key] = [(box, decision) for box, _, decision in pieces]
        # A point is never split, so a cached answer for another address of the same class carries over.
        return [
            ((family, box[1], region[2], box[3], region[4] if point else box[4], box[5]), decision)
            for box, decision in cached
        ]

    def _class_of_point(self, address: str) -> int:
        known = self._classes.get(address)
        if known is None:
            value = self._ip(address)
            known = self._classes[address] = self.rule_space.addresses(value.version).value_mask(int(value))
        return known

    def _remote_key(self, family: int, remote: AddressSet) -> tuple[tuple[int, ...], bool]:
        """Single remote addresses are keyed by their rule-space class, other sets by value."""
        intervals = remote.v4 if family == 4 else remote.v6
        if len(intervals) == 1 and intervals[0][0] == intervals[0][1]:
            return (self.rule_space.addresses(family).value_mask(intervals[0][0]),), True
        return tuple(x for span in intervals for x in span), False

    def _box(self, family: int, protocols: int, local: AddressSet, lports: int, remote: AddressSet, rports: int) -> Box:
        addresses = self.space.addresses(family)
        local_mask = addresses.mask(local.v4 if family == 4 else local.v6)
        remote_mask = addresses.mask(remote.v4 if family == 4 else remote.v6)
        return (family, protocols, local_mask, lports, remote_mask, rports)

    # --- routing --------------------------------------------------------------------------------------

    def route(self, source: NetworkInterface, destination: str) -> Hop | None:
        """Why the source's effective routes (``engine.routes``) cannot carry a flow to ``destination``: ``no-route``
        (no route, or next hop ``None``), ``appliance`` (a virtual appliance takes it); None when they can."""
        subnet_key = id_key(source.subnet or "")
        table = self._routes.get(subnet_key)
        if table is None:
            table = self._routes[subnet_key] = _RouteMap(effective_routes(self.topology, source))
        return table.hop(self._ip(destination))

    def _ip(self, text: str) -> IPv4Address | IPv6Address:
        known = self._parsed.get(text)
        if known is None:
            known = self._parsed[text] = ip_address(text)
        return known

    def has_public_ip(self, nic: NetworkInterface) -> bool:
        return any(cfg.public_ip_address for cfg in nic.ip_configurations)

    def _backend_ports(self) -> set[int]:
        """Every load-balancing rule's backend port (0, HA ports, is every port: nothing to register)."""
        return {
            rule.backend_port
            for lb in self.topology.load_balancers.values()
            for rule in lb.load_balancing_rules
            if rule.backend_port
        }

    def _load_balanced(self, nic: NetworkInterface, cfg: IpConfiguration) -> list[tuple[tuple[int, ...], int, bool]]:
        """(IANA protocols, backend port or 0 for all, admitted) of each rule of a public load balancer frontend
        sending flows to a backend pool of ``cfg``; admitted: the frontend's public IP lets them in
        (``public_ip_admits``)."""
        out: list[tuple[tuple[int, ...], int, bool]] = []
        for pool in cfg.load_balancer_backend_address_pools:
            lb = self.topology.load_balancer_of_pool(pool)
            if lb is None:
                continue
            for rule in lb.load_balancing_rules:
                if id_key(rule.backend_address_pool) != id_key(pool):
                    continue
                frontend = lb.frontend(rule.frontend_ip_configuration)
                if frontend is None or frontend.public_ip_address is None:
                    continue  # an internal frontend: the Internet cannot address it
                admitted = public_ip_admits(self.topology, nic, frontend.public_ip_address)
                out.append((_LB_PROTOCOLS[rule.protocol], rule.backend_port, admitted))
        return out

    def internet_regions(self, nic: NetworkInterface) -> list[tuple[str, int, int, Hop | None]]:
        """How the Internet reaches each of the NIC's IP configurations before any NSG (semantics §12.3), as disjoint
        (local address, protocols mask, local ports mask, hop) pieces of the whole protocol × port space: hop None
        where a public IP on the configuration or a public load balancer rule carries the flows (and admits them),
        ``no-route`` elsewhere. Configurations the Internet cannot address (no public IP, no public frontend) are
        left out, unless none can be: then every address is one blocked piece, so that the answer says why."""
        space = self.space
        protocols, ports = space.protocols, space.ports
        whole: Box = (0, protocols.full, 1, ports.full, 1, 1)
        out: list[tuple[str, int, int, Hop | None]] = []
        for cfg in sorted(nic.ip_configurations, key=lambda c: not c.primary):
            if not cfg.private_ip_address:
                continue
            address = str(ip_address(cfg.private_ip_address))
            if cfg.public_ip_address and public_ip_admits(self.topology, nic, cfg.public_ip_address):
                out.append((address, protocols.full, ports.full, None))
                continue
            rules = self._load_balanced(nic, cfg)
            if not cfg.public_ip_address and not rules:
                continue
            carried: list[Box] = []
            for numbers, port, admitted in rules:
                if admitted:
                    mask = protocols.mask(tuple((n, n) for n in numbers))
                    box: Box = (0, mask, 1, ports.full if port == 0 else ports.value_mask(port), 1, 1)
                    carried.extend(subtract_all([box], carried))
            out.extend((address, box[1], box[3], None) for box in carried)
            out.extend((address, box[1], box[3], "no-route") for box in subtract_all([whole], carried))
        if not out:
            out = [(address, protocols.full, ports.full, "no-route") for address in self._addresses[nic.id]]
        return out

    def egress(self, nic: NetworkInterface) -> Hop | None:
        """``no-egress`` when the NIC has no way out to the Internet: no public IP on it, no NAT gateway on its
        subnet, and a private subnet (``defaultOutboundAccess: false``, semantics §12.2); else None."""
        subnet = self.topology.subnet(nic.subnet)
        if self.has_public_ip(nic) or subnet is None or subnet.nat_gateway:
            return None
        return None if subnet.has_default_outbound_access else "no-egress"

    # --- NIC to NIC -----------------------------------------------------------------------------------

    def _combination(
        self,
        source: NetworkInterface,
        src_ip: str,
        destination: NetworkInterface,
        dst_ip: str,
        protocols: int,
        sports: int,
        dports: int,
    ) -> tuple[_Outcome, ...]:
        """One source address to one destination address (same family), as shapes: shared by every pair of
        addresses with the same chains, classes and route."""
        routed = self.route(source, dst_ip)
        family = self._ip(src_ip).version
        key = (
            family,  # classes are numbered per family: equal masks of two families are different classes
            self._policy_key(source),
            self._class_of_point(src_ip),
            self._policy_key(destination),
            self._class_of_point(dst_ip),
            routed,
            protocols,
            sports,
            dports,
        )
        cached = self._outcomes.get(key)
        if cached is not None:
            return cached
        src, dst = _point(src_ip), _point(dst_ip)
        outbound_region = self._box(family, protocols, src, sports, dst, dports)
        out: list[_Outcome] = []
        if routed is not None:
            out.append(_Outcome(self._shape(outbound_region, Direction.OUTBOUND, False), False, None, routed))
            self._outcomes[key] = tuple(out)
            return self._outcomes[key]
        # Both legs over the whole region, once each (their answers are shared by many pairs), then met piece by
        # piece: a flow is allowed when the source's outbound chain and the destination's inbound chain allow it.
        passed: list[Box] = []
        for out_box, out_decision in self._leg(source, Direction.OUTBOUND, src_ip, dst, outbound_region):
            if out_decision.allowed:
                passed.append((family, out_box[1], out_box[4], out_box[5], out_box[2], out_box[3]))
            else:
                shape = self._shape(out_box, Direction.OUTBOUND, False)
                out.append(_Outcome(shape, False, out_decision.rule_name, _hop("source", out_decision)))
        if passed:
            inbound_region = (family, protocols, outbound_region[4], dports, outbound_region[2], sports)
            met: dict[Decision, list[Box]] = {}
            for in_box, in_decision in self._leg(destination, Direction.INBOUND, dst_ip, src, inbound_region):
                for flipped in passed:
                    hit = intersect(flipped, in_box)
                    if hit is not None:
                        met.setdefault(in_decision, []).append(hit)
            for in_decision, boxes in met.items():
                hop = None if in_decision.allowed else _hop("destination", in_decision)
                for box in merge_boxes(boxes):
                    shape = self._shape(box, Direction.INBOUND, False)
                    out.append(
                        _Outcome(shape, in_decision.allowed, None if hop is None else in_decision.rule_name, hop)
                    )
        cached = self._outcomes[key] = tuple(out)
        return cached

    def _parts(
        self, source: NetworkInterface, destination: NetworkInterface, protocols: int, sports: int, dports: int
    ) -> list[tuple[tuple[_Outcome, ...], str, str]]:
        """The shared answers for every (source address, destination address) pair of one family."""
        parts: list[tuple[tuple[_Outcome, ...], str, str]] = []
        for src_ip in self._addresses[source.id]:
            for dst_ip in self._addresses[destination.id]:
                if (":" in src_ip) == (":" in dst_ip):
                    outcomes = self._combination(source, src_ip, destination, dst_ip, protocols, sports, dports)
                    parts.append((outcomes, src_ip, dst_ip))
        return parts

    def _pair(
        self, source: NetworkInterface, destination: NetworkInterface, protocols: int, sports: int, dports: int
    ) -> tuple[list[FlowBox], list[BlockedBox], bool]:
        """Allowed and blocked boxes over every address of both NICs (destination-inbound view; blocked at the
        source: source-outbound view), and whether an appliance took some."""
        parts = self._parts(source, destination, protocols, sports, dports)
        allowed, blocked = self._render_parts(source.id, destination.id, parts)
        return allowed, blocked, any(o.hop == "appliance" for outcomes, _, _ in parts for o in outcomes)

    def _render_parts(
        self, source_id: str, destination_id: str, parts: list[tuple[tuple[_Outcome, ...], str, str]]
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        if len(parts) == 1:  # the usual case: one address per NIC and family
            outcomes, src_ip, dst_ip = parts[0]
            items = [(o, (dst_ip,), (src_ip,)) for o in outcomes]
            return self._render(source_id, destination_id, items, outbound=(src_ip, dst_ip))
        grouped: dict[_Outcome, list[tuple[str, str]]] = {}
        for outcomes, src_ip, dst_ip in parts:
            for outcome in outcomes:
                grouped.setdefault(outcome, []).append((dst_ip, src_ip))
        return self._render_grouped(source_id, destination_id, grouped)

    def _render(
        self,
        source_id: str,
        destination_id: str,
        items: Iterable[tuple[_Outcome, tuple[str, ...], tuple[str, ...]]],
        outbound: tuple[str, str],
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        """Outcomes as boxes: inbound shapes at the destination (local = its address), outbound ones at the source
        (local = ``outbound[0]``, remote = ``outbound[1]``)."""
        allowed: list[FlowBox] = []
        blocked: list[BlockedBox] = []
        for outcome, local, remote in items:
            shape = outcome.shape
            if shape.direction is Direction.INBOUND:
                box = shape.box(destination_id, local, remote)
            else:
                box = shape.box(source_id, (outbound[0],), (outbound[1],))
            if outcome.allowed:
                allowed.append(box)
            else:
                blocked.append(BlockedBox(box, outcome.rule, outcome.hop or "destination-nic"))
        return allowed, blocked

    def _render_grouped(
        self, source_id: str, destination_id: str, grouped: dict[_Outcome, list[tuple[str, str]]]
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        """Outcomes of several address pairs (inbound view: (destination address, source address)), each merged
        into few boxes over several addresses."""
        allowed: list[FlowBox] = []
        blocked: list[BlockedBox] = []
        for outcome, pairs in grouped.items():
            shape = outcome.shape
            inbound = shape.direction is Direction.INBOUND
            oriented = pairs if inbound else [(src, dst) for dst, src in pairs]
            nic_id = destination_id if inbound else source_id
            for local, remote in _products(oriented):
                box = shape.box(nic_id, local, remote)
                if outcome.allowed:
                    allowed.append(box)
                else:
                    blocked.append(BlockedBox(box, outcome.rule, outcome.hop or "destination-nic"))
        return allowed, blocked

    def _from_addresses(
        self,
        remote: AddressSet,
        destination: NetworkInterface,
        protocols: int,
        sports: int,
        dports: int,
        hop: Hop | None,
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        """Flows from the addresses ``remote`` to every address of the NIC of their family."""
        grouped: dict[_Outcome, list[tuple[str, str]]] = {}
        for local in self._addresses[destination.id]:
            for outcome in self._address_leg(
                destination, Direction.INBOUND, local, remote, protocols, dports, sports, hop
            ):
                grouped.setdefault(outcome, []).append((local, ""))
        return self._render_sets(destination.id, grouped)

    def _from_internet(
        self, remote: AddressSet, destination: NetworkInterface, protocols: int, sports: int, dports: int
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        """Flows from Internet addresses ``remote`` to the NIC, through what carries them (``internet_regions``)."""
        grouped: dict[_Outcome, list[tuple[str, str]]] = {}
        for local, region_protocols, region_ports, hop in self.internet_regions(destination):
            p, lp = region_protocols & protocols, region_ports & dports
            if not p or not lp:
                continue
            for outcome in self._address_leg(destination, Direction.INBOUND, local, remote, p, lp, sports, hop):
                grouped.setdefault(outcome, []).append((local, ""))
        return self._render_sets(destination.id, grouped)

    def _to_addresses(
        self, source: NetworkInterface, remote: AddressSet, protocols: int, sports: int, dports: int, hop: Hop | None
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        """Flows from every address of the NIC to the addresses ``remote`` of their family."""
        grouped: dict[_Outcome, list[tuple[str, str]]] = {}
        for local in self._addresses[source.id]:
            for outcome in self._address_leg(source, Direction.OUTBOUND, local, remote, protocols, sports, dports, hop):
                grouped.setdefault(outcome, []).append((local, ""))
        return self._render_sets(source.id, grouped)

    def _address_leg(
        self,
        nic: NetworkInterface,
        direction: Direction,
        local: str,
        remote: AddressSet,
        protocols: int,
        local_ports: int,
        remote_ports: int,
        hop: Hop | None,
    ) -> tuple[_Outcome, ...]:
        """One leg between one NIC address and a set of remote addresses (of its family), as shapes keeping the
        remote set; shared by the NIC addresses of one chain and class."""
        family = ip_address(local).version
        part = _family_part(remote, family)
        key = (
            "set",
            family,
            self._policy_key(nic),
            direction,
            self._class_of_point(local),
            self._remote_key(family, part)[0],
            hop,
            protocols,
            local_ports,
            remote_ports,
        )
        cached = self._outcomes.get(key)
        if cached is not None:
            return cached
        region = self._box(family, protocols, _point(local), local_ports, part, remote_ports)
        out: list[_Outcome] = []
        leg = "destination" if direction is Direction.INBOUND else "source"
        if region[4] and hop is not None:
            out.append(_Outcome(self._shape(region, direction, True), False, None, hop))
        elif region[4]:
            for box, decision in self._leg(nic, direction, local, part, region):
                shape = self._shape(box, direction, True)
                if decision.allowed:
                    out.append(_Outcome(shape, True))
                else:
                    out.append(_Outcome(shape, False, decision.rule_name, _hop(leg, decision)))
        cached = self._outcomes[key] = tuple(out)
        return cached

    def _render_sets(
        self, nic_id: str, grouped: dict[_Outcome, list[tuple[str, str]]]
    ) -> tuple[list[FlowBox], list[BlockedBox]]:
        allowed: list[FlowBox] = []
        blocked: list[BlockedBox] = []
        for outcome, pairs in grouped.items():
            box = outcome.shape.box(nic_id, tuple(dict.fromkeys(local for local, _ in pairs)))
            if outcome.allowed:
                allowed.append(box)
            else:
                blocked.append(BlockedBox(box, outcome.rule, outcome.hop or "destination-nic"))
        return allowed, blocked

    def internet_of(self, nic: NetworkInterface) -> AddressSet:
        return self.compiled[self._policy_key(nic)].policy.internet

    # --- the matrix -----------------------------------------------------------------------------------

    def matrix(self) -> Matrix:
        self._space((), (), ())
        space = self.space
        full = (space.protocols.full, space.ports.full, space.ports.full)
        cells: dict[tuple[str, str], Cell] = {}
        names = {n.id: n.name for n in self.nics}
        for destination in self.nics:
            internet = self.internet_of(destination)
            allowed, blocked = self._from_internet(internet, destination, *full)
            cells[(INTERNET, destination.id)] = self._cell(INTERNET, destination.id, allowed, blocked)
        for source in self.nics:
            for destination in self.nics:
                if source is not destination:
                    cells[(source.id, destination.id)] = self._pair_cell(source, destination, *full)
        return Matrix((INTERNET, *(n.id for n in self.nics)), tuple(n.id for n in self.nics), cells, names)

    def _cell(self, source: str, destination: str, allowed: list[FlowBox], blocked: list[BlockedBox]) -> Cell:
        reachable: bool | Literal["partial"] = False if not allowed else True if not blocked else "partial"
        return Cell(source, destination, reachable, summarize(allowed), tuple(allowed), tuple(b.hop for b in blocked))

    def _pair_cell(
        self, source: NetworkInterface, destination: NetworkInterface, protocols: int, sports: int, dports: int
    ) -> Cell:
        """A pair's cell from its shared answers: reachability, flows and summary without rendering a box."""
        parts = self._parts(source, destination, protocols, sports, dports)
        outcomes = [o for part, _, _ in parts for o in part]
        any_allowed = any(o.allowed for o in outcomes)
        any_blocked = not all(o.allowed for o in outcomes)
        reachable: bool | Literal["partial"] = False if not any_allowed else True if not any_blocked else "partial"
        shared = tuple(id(part) for part, _, _ in parts)
        summary = self._summaries.get(shared)
        if summary is None:
            summary = self._summaries[shared] = summarize(self._render_parts(source.id, destination.id, parts)[0])

        def render() -> tuple[FlowBox, ...]:
            return tuple(self._render_parts(source.id, destination.id, parts)[0])

        return Cell(
            source.id,
            destination.id,
            reachable,
            summary,
            render,
            tuple(o.hop for o in outcomes if not o.allowed and o.hop is not None),
            sum(o.shape.flows for o in outcomes if o.allowed),
        )

    # --- intents --------------------------------------------------------------------------------------

    def endpoint(self, text: str) -> Endpoint:
        topology = self.topology
        name = text.strip()
        if name.casefold() == INTERNET.casefold():
            return Endpoint(INTERNET, internet=True)
        if "/subnets/" in name.casefold():
            subnet = topology.subnet(name)
            if subnet is None:
                raise _bad(f"Subnet '{name}' is not in the topology.")
            members = tuple(n for n in self.nics if n.subnet and id_key(n.subnet) == subnet.key)
            prefixes = [p for p in (parse_prefix(x) for x in subnet.address_prefixes) if p is not None]
            return Endpoint(name, members, AddressSet.of(prefixes) if not members else None, subnet=subnet)
        network = parse_prefix(name)
        if network is not None:
            holder = self.engine.for_nic_ip(name) if network.num_addresses == 1 else None
            if holder is not None:
                return Endpoint(name, (holder,))
            return Endpoint(name, addresses=AddressSet.of([network]))
        nic = topology.find_nic(name)
        if nic is None:
            raise _bad(f"'{name}' names no NIC, VM or subnet of the topology, and is not Internet or an IP/CIDR.")
        return Endpoint(name, (nic,))

    def intents(self, intents: Sequence[Intent]) -> list[IntentResult]:
        problems: list[ArmError] = []
        prepared: list[tuple[Intent, Endpoint, Endpoint, frozenset[int] | None, PortSet, PortSet]] = []
        for intent in intents:
            try:
                source, destination = self.endpoint(intent.source), self.endpoint(intent.destination)
                protocols = _protocols(intent.protocol)
                dports = _ports(intent.destination_ports, "destinationPorts")
                sports = _ports(intent.source_ports, "sourcePorts")
                if not source.nics and not destination.nics:
                    raise _bad("One side of an intent must be a NIC, VM or subnet with NICs of the topology.")
            except OpenNsgError as exc:
                problems.extend(
                    ArmError(e.code, f"Intent '{intent.name}': {e.message}", intent.name) for e in exc.errors
                )
                continue
            prepared.append((intent, source, destination, protocols, sports, dports))
        if problems:
            raise OpenNsgError(problems)
        extra = [e.addresses for _, s, d, *_ in prepared for e in (s, d) if e.addresses is not None]
        numbers = {p for *_, protocols, _, _ in prepared if protocols for p in protocols}
        self._space(extra, [p for *_, s, d in prepared for p in (s, d)], numbers)
        return [self._answer(*item) for item in prepared]

    def _answer(
        self,
        intent: Intent,
        source: Endpoint,
        destination: Endpoint,
        protocols: frozenset[int] | None,
        sports: PortSet,
        dports: PortSet,
    ) -> IntentResult:
        space = self.space
        pmask = (
            space.protocols.full
            if protocols is None
            else space.protocols.mask(tuple((p, p) for p in sorted(protocols)))
        )
        smask = space.ports.mask(sports.intervals)
        dmask = space.ports.mask(dports.intervals)
        allowed: list[FlowBox] = []
        blocked: list[BlockedBox] = []
        indeterminate = False
        if source.nics and destination.nics:
            for s in source.nics:
                for d in destination.nics:
                    if s is d:
                        continue
                    a, b, appliance = self._pair(s, d, pmask, smask, dmask)
                    allowed += a
                    blocked += b
                    indeterminate = indeterminate or appliance
        elif destination.nics:
            for d in destination.nics:
                remote, hop, from_internet = self._inbound_remote(source, d)
                if from_internet:
                    a, b = self._from_internet(remote, d, pmask, smask, dmask)
                else:
                    a, b = self._from_addresses(remote, d, pmask, smask, dmask, hop)
                allowed += a
                blocked += b
        else:
            for s in source.nics:
                remote, hop = self._outbound_remote(s, destination)
                if hop == "appliance":
                    indeterminate = True
                a, b = self._to_addresses(s, remote, pmask, smask, dmask, hop)
                allowed += a
                blocked += b
        result: Result
        if indeterminate:
            result = "Indeterminate"
        elif not allowed:
            result = "Unreachable"
        elif blocked:
            result = "PartiallyReachable"
        else:
            result = "Reachable"
        return IntentResult(intent.name, result, tuple(allowed), tuple(blocked), intent.expect)

    def _inbound_remote(self, source: Endpoint, destination: NetworkInterface) -> tuple[AddressSet, Hop | None, bool]:
        """The remote addresses of flows from ``source`` to the NIC, what blocks them before any NSG, and whether they
        come from the Internet (then ``internet_regions`` says what reaches the NIC)."""
        internet = self.internet_of(destination)
        if source.internet:
            return internet, None, True
        assert source.addresses is not None
        if source.addresses.difference(internet).empty:
            return source.addresses, None, True
        policy = self.compiled[self._policy_key(destination)].policy
        inside = source.subnet is not None or source.addresses.difference(policy.virtual_network).empty
        return source.addresses, None if inside else "no-route", False

    def _outbound_remote(self, source: NetworkInterface, destination: Endpoint) -> tuple[AddressSet, Hop | None]:
        internet = self.internet_of(source)
        if destination.internet:
            return internet, self.egress(source)
        assert destination.addresses is not None
        if destination.addresses.difference(internet).empty:
            return destination.addresses, self.egress(source)
        first = next(iter(destination.addresses.networks()), None)
        return destination.addresses, self.route(
            source, str(first.network_address)
        ) if first is not None else "no-route"


def _bad(message: str) -> OpenNsgError:
    return OpenNsgError([ArmError(Code.INVALID_INTENT, message)])


def _protocols(text: str) -> frozenset[int] | None:
    folded = str(text).strip().casefold()
    if folded in ("*", "any", "all"):
        return None
    if folded == "icmp":
        return frozenset({1, 58})
    number = parse_flow_protocol(str(text))
    if number is None:
        raise _bad(f"protocol '{text}' is not TCP, UDP, ICMP, ICMPv6, ESP, AH, * or an IP protocol number.")
    return frozenset({number})


def _ports(texts: Sequence[str], what: str) -> PortSet:
    ranges = []
    for text in texts:
        parsed = parse_port_range(str(text))
        if parsed is None:
            raise _bad(f"{what}: '{text}' is not a port, a range 'lo-hi' or *.")
        ranges.append(parsed)
    if not ranges:
        raise _bad(f"{what} is empty.")
    return PortSet.of(ranges)


def read_intents(path: Path) -> list[Intent]:
    """Intents from a JSON array or JSON lines; every problem reported at once."""
    try:
        text = read_text(path)
    except InputError as exc:
        code = Code.FILE_NOT_FOUND if exc.missing else Code.INVALID_JSON
        raise OpenNsgError([ArmError(code, f"Intents file {exc}.", str(path))]) from None
    problems: list[ArmError] = []
    items: list[Any] = []
    stripped = text.strip()
    if not stripped:
        raise OpenNsgError([ArmError(Code.INVALID_INTENT, f"Intents file {path} holds no intents.", str(path))])
    if stripped.startswith("["):
        try:
            loaded = parse_json(stripped, path)
        except InputError as exc:
            raise OpenNsgError([ArmError(Code.INVALID_JSON, f"Intents file {exc}.", str(path))]) from None
        items = list(loaded)
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(parse_json(line, f"{path}, line {number},"))
            except InputError as exc:
                problems.append(ArmError(Code.INVALID_JSON, f"Intents file {exc}."))
    intents: list[Intent] = []
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            problems.append(ArmError(Code.INVALID_INTENT, f"Intent #{index} is not a JSON object."))
            continue
        missing = [k for k in ("name", "source", "destination", "protocol", "destinationPorts") if k not in item]
        if missing:
            problems.append(
                ArmError(
                    Code.MISSING_REQUIRED_PROPERTY,
                    f"Intent #{index} lacks {', '.join(missing)}.",
                    str(item.get("name")),
                )
            )
            continue
        expect = item.get("expect")
        if expect is not None and str(expect).casefold() not in ("reachable", "unreachable", "partiallyreachable"):
            problems.append(
                ArmError(
                    Code.INVALID_INTENT,
                    f"Intent '{item['name']}': expect must be Reachable or Unreachable, not '{expect}'.",
                )
            )
            continue
        intents.append(
            Intent(
                str(item["name"]),
                str(item["source"]),
                str(item["destination"]),
                str(item["protocol"]),
                _string_list(item["destinationPorts"]),
                _string_list(item.get("sourcePorts", ["0-65535"])),
                str(expect) if expect is not None else None,
            )
        )
    if problems:
        raise OpenNsgError(problems)
    return intents


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return tuple(part.strip() for part in str(value).split(","))


def summarize(allowed: Sequence[FlowBox]) -> str:
    """ "TCP 22, 443; UDP —; ICMP ✓": per protocol, the destination ports some flow reaches (✓ all, — none)."""
    from opennsg.engine.addresses import merge_intervals

    parts: list[str] = []
    for name in ("TCP", "UDP"):
        spans: list[tuple[int, int]] = []
        for box in allowed:
            if name in box.protocols:
                for text in box.local_ports:
                    lo, _, hi = text.partition("-")
                    spans.append((int(lo), int(hi or lo)))
        merged = merge_intervals(spans)
        if not merged:
            parts.append(f"{name} —")
        elif merged == ((0, 65535),):
            parts.append(f"{name} ✓")
        else:
            shown = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged]
            parts.append(f"{name} " + ", ".join(shown[:8]) + (f" (+{len(shown) - 8})" if len(shown) > 8 else ""))
    icmp = any("ICMP" in box.protocols or "ICMPv6" in box.protocols for box in allowed)
    parts.append(f"ICMP {'✓' if icmp else '—'}")
    return "; ".join(parts)


__all__ = ["Cell", "Intent", "IntentResult", "Matrix", "Reachability", "read_intents", "summarize"]
