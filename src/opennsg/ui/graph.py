"""The topology as a laid-out graph, computed here and drawn as inline SVG.

VNets are containers stacked in one column, each holding its subnets, each holding its NICs (with their VM or
private endpoint, private IPs, public IP and ASGs); NSGs sit in a column on the right with one edge per association
(subnet or NIC), ordered by where their targets are so edges cross little; AVNM security admin configurations
(evaluated before every NSG, semantics §11) head that column, with one edge per VNet they reach, then load balancers
with one edge per backend NIC (their probes come from ``AzureLoadBalancer``, which NSGs must allow); peerings are arcs
on the left between the VNets they join. Every position is computed in Python so the page needs no layout library
and tests can read the DOM: each NIC node is an HTML ``<a>`` carrying the NIC's name as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from opennsg.engine.admin import admin_rules_for, admin_rules_for_vnet
from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import NetworkInterface, Subnet, VirtualNetwork
from opennsg.model.topology import Topology

CHAR_WIDTH = 7.4  # average advance of the 13px UI font, for sizing boxes around names
NIC_MIN_WIDTH = 190.0
NIC_HEIGHT = 62.0
GAP = 14.0
SUBNET_HEADER = 38.0
VNET_HEADER = 46.0
NSG_WIDTH_MIN = 170.0
NSG_HEIGHT = 40.0
PEERING_MARGIN = 70.0  # room on the left for peering arcs
NSG_COLUMN_GAP = 130.0
MARGIN = 16.0
MAX_NIC_COLUMNS = 3


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def middle(self) -> float:
        return self.y + self.h / 2


@dataclass(frozen=True, slots=True)
class NicNode:
    box: Box
    name: str
    href: str
    detail: str
    chips: str
    nsg_name: str | None


@dataclass(frozen=True, slots=True)
class SubnetNode:
    box: Box
    name: str
    detail: str
    key: str


@dataclass(frozen=True, slots=True)
class VnetNode:
    box: Box
    name: str
    detail: str
    key: str
    loaded: bool = True


@dataclass(frozen=True, slots=True)
class NsgNode:
    box: Box
    name: str
    href: str
    detail: str
    index: int


@dataclass(frozen=True, slots=True)
class AdminNode:
    """A security admin configuration and the VNets its rules reach."""

    box: Box
    name: str
    detail: str
    index: int


@dataclass(frozen=True, slots=True)
class LoadBalancerNode:
    """A load balancer: its frontends and rules, with edges to the NICs of its backend pools."""

    box: Box
    name: str
    detail: str
    rules: str
    index: int


@dataclass(frozen=True, slots=True)
class Edge:
    path: str
    kind: str  # "association", "peering", "admin" or "backend"
    label: str
    label_x: float
    label_y: float
    group: int = -1  # the NSG an association edge belongs to (for highlighting)


@dataclass
class Graph:
    width: float = 0.0
    height: float = 0.0
    vnets: list[VnetNode] = field(default_factory=list)
    subnets: list[SubnetNode] = field(default_factory=list)
    nics: list[NicNode] = field(default_factory=list)
    nsgs: list[NsgNode] = field(default_factory=list)
    admins: list[AdminNode] = field(default_factory=list)
    load_balancers: list[LoadBalancerNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.vnets or self.nics or self.nsgs)


def _text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def _nic_detail(topology: Topology, nic: NetworkInterface) -> tuple[str, str]:
    ips = [c.private_ip_address for c in nic.ip_configurations if c.private_ip_address]
    publics = []
    for cfg in nic.ip_configurations:
        pip = topology.public_ips.get(id_key(cfg.public_ip_address)) if cfg.public_ip_address else None
        if pip is not None and pip.ip_address:
            publics.append(pip.ip_address)
        elif cfg.public_ip_address:
            publics.append(name_of(cfg.public_ip_address))
    vm = name_of(nic.virtual_machine) if nic.virtual_machine else None
    endpoint = topology.private_endpoint_of_nic(nic.id)
    owner = f"private endpoint {endpoint.name}" if endpoint is not None else (vm and f"VM {vm}")
    detail = " · ".join(part for part in (", ".join(ips), owner) if part)
    on_endpoint = endpoint.application_security_groups if endpoint is not None else ()
    asgs = sorted({name_of(a) for c in nic.ip_configurations for a in (*c.application_security_groups, *on_endpoint)})
    balancers = sorted(
        {
            balancer.name
            for c in nic.ip_configurations
            for pool in c.load_balancer_backend_address_pools
            if (balancer := topology.load_balancer_of_pool(pool)) is not None
        }
    )
    chips = " ".join([*(f"⇡{p}" for p in publics), *(f"⚖{b}" for b in balancers), *(f"#{a}" for a in asgs)])
    return detail, chips


def layout(topology: Topology, nic_href: Callable[[NetworkInterface], str], nsg_href: Callable[[str], str]) -> Graph:
    """Positions for every VNet, subnet, NIC and NSG, and the edges between them."""
    graph = Graph()
    nics_by_subnet: dict[str, list[NetworkInterface]] = {}
    unplaced: list[NetworkInterface] = []
    subnet_keys = {s.key for s in topology.subnets}
    for nic in sorted(topology.nics.values(), key=lambda n: n.name.casefold()):
        subnet_id = nic.subnet
        if subnet_id and id_key(subnet_id) in subnet_keys:
            nics_by_subnet.setdefault(id_key(subnet_id), []).append(nic)
        else:
            unplaced.append(nic)
    details = {nic.key: _nic_detail(topology, nic) for nic in topology.nics.values()}
    longest = max(
        [len(n.name) for n in topology.nics.values()]
        + [len(d) for d, _ in details.values()]
        + [len(c) for _, c in details.values()]
        + [0]
    )
    nic_width = max(NIC_MIN_WIDTH, longest * CHAR_WIDTH + 24)
    columns = max(1, min(MAX_NIC_COLUMNS, max([len(v) for v in nics_by_subnet.values()] + [len(unplaced), 1])))
    inner_width = columns * nic_width + (columns - 1) * GAP
    subnet_width = inner_width + 2 * GAP
    vnets = sorted(topology.vnets.values(), key=lambda v: v.name.casefold())
    header_text = max(
        [_text_width(_vnet_detail(v)) + _text_width(v.name) + 40 for v in vnets]
        + [_text_width(_subnet_detail(s)) + _text_width(s.name) + 40 for v in vnets for s in v.subnets]
        + [0]
    )
    subnet_width = max(subnet_width, header_text)
    vnet_width = subnet_width + 2 * GAP
    x0 = MARGIN + PEERING_MARGIN
    y = MARGIN
    targets: dict[str, tuple[float, float]] = {}  # association target key -> (right x, middle y)
    vnet_boxes: dict[str, Box] = {}
    nic_boxes: dict[str, Box] = {}

    def place_nics(nics: list[NetworkInterface], left: float, top: float) -> float:
        for index, nic in enumerate(nics):
            row, col = divmod(index, columns)
            box = Box(left + col * (nic_width + GAP), top + row * (NIC_HEIGHT + GAP), nic_width, NIC_HEIGHT)
            detail, chips = details[nic.key]
            nsg = name_of(nic.network_security_group) if nic.network_security_group else None
            graph.nics.append(NicNode(box, nic.name, nic_href(nic), detail, chips, nsg))
            targets[nic.key] = (box.right, box.y + 16)
            nic_boxes[nic.key] = box
        rows = (len(nics) + columns - 1) // columns
        return rows * NIC_HEIGHT + max(0, rows - 1) * GAP

    for vnet in vnets:
        top = y
        y += VNET_HEADER
        for subnet in sorted(vnet.subnets, key=lambda s: s.name.casefold()):
            members = nics_by_subnet.get(subnet.key, [])
            body = place_nics(members, x0 + 2 * GAP, y + SUBNET_HEADER) if members else 0.0
            height = SUBNET_HEADER + body + (GAP if members else 0.0)
            box = Box(x0 + GAP, y, subnet_width, height)
            graph.subnets.append(SubnetNode(box, subnet.name, _subnet_detail(subnet), subnet.key))
            targets[subnet.key] = (box.right, box.y + SUBNET_HEADER / 2)
            y += height + GAP
        if not vnet.subnets:
            y += GAP
        box = Box(x0, top, vnet_width, y - top)
        graph.vnets.append(VnetNode(box, vnet.name, _vnet_detail(vnet), vnet.key))
        vnet_boxes[vnet.key] = box
        y += 2 * GAP
    if unplaced:
        top = y
        y += VNET_HEADER
        body = place_nics(unplaced, x0 + GAP, y)
        box = Box(x0, top, vnet_width, VNET_HEADER + body + GAP)
        graph.vnets.append(VnetNode(box, "Not in a loaded subnet", "NICs whose subnet is not in the input", "", False))
        y = box.y + box.h + 2 * GAP
    remote = _remote_vnets(topology, vnets)
    for key, name in remote:
        box = Box(x0, y, max(vnet_width * 0.6, _text_width(name) + 40), VNET_HEADER)
        graph.vnets.append(VnetNode(box, name, "peered VNet, not in the input", key, False))
        vnet_boxes[key] = box
        y += VNET_HEADER + 2 * GAP
    _peerings(graph, vnets, vnet_boxes)
    content_right = x0 + vnet_width
    top = _admins(graph, topology, vnet_boxes, content_right + NSG_COLUMN_GAP)
    top = _load_balancers(graph, topology, nic_boxes, content_right + NSG_COLUMN_GAP, top)
    _nsgs(graph, topology, targets, content_right + NSG_COLUMN_GAP, nsg_href, top)
    column = [*(n.box for n in graph.nsgs), *(a.box for a in graph.admins), *(b.box for b in graph.load_balancers)]
    bottom = max([y] + [b.y + b.h + MARGIN for b in column])
    right = max([content_right + MARGIN] + [b.right + MARGIN for b in column])
    graph.width, graph.height = right, bottom
    return graph


def _vnet_detail(vnet: VirtualNetwork) -> str:
    return ", ".join(vnet.address_space)


def _subnet_detail(subnet: Subnet) -> str:
    parts = [", ".join(subnet.address_prefixes)]
    if subnet.route_table:
        parts.append(f"routes {name_of(subnet.route_table)}")
    return " · ".join(p for p in parts if p)


def _remote_vnets(topology: Topology, vnets: list[VirtualNetwork]) -> list[tuple[str, str]]:
    known = {v.key for v in vnets}
    remote: dict[str, str] = {}
    for vnet in vnets:
        for peering in vnet.peerings:
            if peering.remote_virtual_network and id_key(peering.remote_virtual_network) not in known:
                remote[id_key(peering.remote_virtual_network)] = name_of(peering.remote_virtual_network)
    return sorted(remote.items(), key=lambda kv: kv[1].casefold())


def _peerings(graph: Graph, vnets: list[VirtualNetwork], boxes: dict[str, Box]) -> None:
    """One arc per peered pair (both directions' states in its label), bulging left of the VNet column."""
    seen: dict[frozenset[str], list[str]] = {}
    for vnet in vnets:
        for peering in vnet.peerings:
            if not peering.remote_virtual_network:
                continue
            pair = frozenset({vnet.key, id_key(peering.remote_virtual_network)})
            seen.setdefault(pair, []).append(f"{peering.name}: {peering.peering_state}")
    for depth, (pair, labels) in enumerate(sorted(seen.items(), key=lambda kv: sorted(kv[0]))):
        ends = sorted((boxes[k] for k in pair if k in boxes), key=lambda b: b.y)
        if len(ends) != 2:
            continue
        a, b = ends
        ya, yb = a.y + VNET_HEADER / 2, b.y + VNET_HEADER / 2
        bulge = a.x - 18 - (depth % 3) * 16
        path = f"M{a.x:.1f},{ya:.1f} C{bulge - 30:.1f},{ya:.1f} {bulge - 30:.1f},{yb:.1f} {b.x:.1f},{yb:.1f}"
        graph.edges.append(Edge(path, "peering", "; ".join(sorted(labels)), bulge - 8, (ya + yb) / 2))


def _nsgs(
    graph: Graph,
    topology: Topology,
    targets: dict[str, tuple[float, float]],
    left: float,
    nsg_href: Callable[[str], str],
    top: float,
) -> None:
    uses: dict[str, list[tuple[str, float, float]]] = {}
    for subnet in topology.subnets:
        if subnet.network_security_group and subnet.key in targets:
            uses.setdefault(id_key(subnet.network_security_group), []).append((subnet.name, *targets[subnet.key]))
    for nic in topology.nics.values():
        if nic.network_security_group and nic.key in targets:
            uses.setdefault(id_key(nic.network_security_group), []).append((nic.name, *targets[nic.key]))

    def first_target(key: str) -> float:
        spots = uses.get(key)
        return min(y for _, _, y in spots) if spots else float("inf")

    nsgs = sorted(topology.nsgs.values(), key=lambda n: (first_target(n.key), n.name.casefold()))
    width = max([NSG_WIDTH_MIN] + [_text_width(n.name) + 40 for n in nsgs])
    y = top
    for index, nsg in enumerate(nsgs):
        spots = uses.get(nsg.key, [])
        wanted = sum(sy for _, _, sy in spots) / len(spots) - NSG_HEIGHT / 2 if spots else y
        y = max(y, wanted)
        box = Box(left, y, width, NSG_HEIGHT)
        rules = len(nsg.security_rules)
        detail = f"{rules} rule{'s' if rules != 1 else ''}" + ("" if spots else " · not associated")
        graph.nsgs.append(NsgNode(box, nsg.name, nsg_href(nsg.id), detail, index))
        for target, tx, ty in spots:
            mid = (tx + left) / 2
            path = f"M{left:.1f},{box.middle:.1f} C{mid:.1f},{box.middle:.1f} {mid:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"
            graph.edges.append(Edge(path, "association", f"{nsg.name} → {target}", mid, (box.middle + ty) / 2, index))
        y += NSG_HEIGHT + GAP


def _admins(graph: Graph, topology: Topology, vnet_boxes: dict[str, Box], left: float) -> float:
    """One node per security admin configuration in force somewhere, edges to the VNets it reaches (VNet-wide or
    through subnet groups); returns where the NSG column may start."""
    reach: dict[str, set[str]] = {}
    for vnet in topology.vnets.values():
        for applied in admin_rules_for_vnet(topology, vnet.id):
            for source in applied.rules:
                reach.setdefault(source.configuration_id, set()).add(vnet.key)
    for nic in topology.nics.values():
        home = topology.vnet_of_subnet(nic.subnet) if nic.subnet else None
        if home is None:
            continue
        for applied in admin_rules_for(topology, nic):
            for source in applied.rules:
                reach.setdefault(source.configuration_id, set()).add(home.key)
    y = MARGIN
    for index, configuration_id in enumerate(sorted(reach, key=lambda c: name_of(c).casefold())):
        configuration = topology.security_admin_configuration(configuration_id)
        name = configuration.name if configuration is not None else name_of(configuration_id)
        manager = name_of(id_key(configuration_id).split("/securityadminconfigurations/")[0])
        rules = sum(len(topology.admin_rules_of(c.id)) for c in topology.rule_collections_of(configuration_id))
        detail = f"admin rules · {manager} · {rules} rule{'s' if rules != 1 else ''}"
        box = Box(left, y, max(NSG_WIDTH_MIN, _text_width(max(name, detail, key=len)) + 40), NSG_HEIGHT + 6)
        graph.admins.append(AdminNode(box, name, detail, index))
        for key in sorted(reach[configuration_id]):
            target = vnet_boxes.get(key)
            if target is None:
                continue
            tx, ty = target.right, target.y + VNET_HEADER / 2
            mid = (tx + left) / 2
            path = f"M{left:.1f},{box.middle:.1f} C{mid:.1f},{box.middle:.1f} {mid:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"
            graph.edges.append(Edge(path, "admin", f"{name} → {name_of(key)}", mid, (box.middle + ty) / 2))
        y += box.h + GAP
    return y + (GAP if graph.admins else 0.0)


def _load_balancers(graph: Graph, topology: Topology, nic_boxes: dict[str, Box], left: float, top: float) -> float:
    """One node per load balancer below the admin configurations, an edge to the top of each NIC in one of its
    backend pools (so it does not cross the NICs beside it); returns where the NSG column may start."""
    members: dict[str, list[str]] = {}  # pool id key -> NIC keys
    for nic in topology.nics.values():
        for configuration in nic.ip_configurations:
            for pool in configuration.load_balancer_backend_address_pools:
                members.setdefault(id_key(pool), []).append(nic.key)
    y = top
    for index, balancer in enumerate(sorted(topology.load_balancers.values(), key=lambda b: b.name.casefold())):
        frontends = []
        for frontend in balancer.frontend_ip_configurations:
            public = topology.public_ips.get(id_key(frontend.public_ip_address)) if frontend.public_ip_address else None
            if public is not None and public.ip_address:
                frontends.append(f"⇡{public.ip_address}")
            elif frontend.public_ip_address:
                frontends.append(f"⇡{name_of(frontend.public_ip_address)}")
            else:
                frontends.append(frontend.private_ip_address or frontend.name)
        detail = f"load balancer · {balancer.sku} · " + (", ".join(frontends) or "no frontend")
        rules = ", ".join(
            f"{r.protocol.value.upper()} {r.frontend_port or 'all'}→{r.backend_port or 'all'}"
            for r in balancer.load_balancing_rules
        )
        width = max(NSG_WIDTH_MIN, _text_width(max(balancer.name, detail, rules, key=len)) + 40)
        box = Box(left, y, width, NSG_HEIGHT + (20 if rules else 6))
        graph.load_balancers.append(LoadBalancerNode(box, balancer.name, detail, rules, index))
        backends = sorted({key for pool in balancer.backend_address_pools for key in members.get(id_key(pool.id), [])})
        for key in backends:
            nic_box = nic_boxes.get(key)
            if nic_box is None:
                continue
            tx, ty = nic_box.x + nic_box.w / 2, nic_box.y
            path = f"M{left:.1f},{box.middle:.1f} C{tx:.1f},{box.middle:.1f} {tx:.1f},{ty - 40:.1f} {tx:.1f},{ty:.1f}"
            mid = (tx + left) / 2
            target = topology.nics[key].name
            graph.edges.append(Edge(path, "backend", f"{balancer.name} → {target}", mid, (box.middle + ty) / 2))
        y += box.h + GAP
    return y + (GAP if graph.load_balancers else 0.0)
