"""Shared by the enforcement tests: a small topology builder (VNets, peerings, public IPs, UDRs), labs that are
always torn down, and a snapshot of the host namespace to prove nothing of a lab reaches it."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from opennsg.enforce.kernel import socket_in
from opennsg.enforce.lab import Lab, lab_down, lab_up
from opennsg.model import (
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    VirtualNetworkPeering,
    default_security_rules,
)
from opennsg.model.ids import network_id
from opennsg.model.resources import NatGateway, PublicIpAddress

SUB = "00000000-0000-0000-0000-0000000e0f0c"

needs_netns = [
    pytest.mark.netns,
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("nft", "ip", "conntrack", "nsenter")),
        reason="needs root with nftables, iproute2, conntrack and nsenter",
    ),
]


def rid(*type_name: str) -> str:
    return network_id(SUB, "rg", *type_name)


@dataclass
class Net:
    """Builder: VNets with subnets, NICs (with optional public IPs), NSGs, route tables, peerings."""

    vnets: dict[str, tuple[tuple[str, ...], list[Subnet], list[VirtualNetworkPeering]]] = field(default_factory=dict)
    nsgs: dict[str, NetworkSecurityGroup] = field(default_factory=dict)
    nics: list[NetworkInterface] = field(default_factory=list)
    public_ips: list[PublicIpAddress] = field(default_factory=list)
    route_tables: list[RouteTable] = field(default_factory=list)
    nat_gateways: list[NatGateway] = field(default_factory=list)

    def vnet(self, name: str, *space: str) -> str:
        self.vnets[name] = (space, [], [])
        return rid("virtualNetworks", name)

    def subnet(
        self,
        vnet: str,
        name: str,
        *prefixes: str,
        nsg: str | None = None,
        route_table: str | None = None,
        nat_gateway: str | None = None,
        private: bool = False,
    ) -> str:
        subnet_id = rid("virtualNetworks", vnet, "subnets", name)
        self.vnets[vnet][1].append(
            Subnet(
                subnet_id,
                name,
                prefixes,
                nsg,
                route_table,
                nat_gateway,
                default_outbound_access=False if private else None,
            )
        )
        return subnet_id

    def nat_gateway(self, name: str, address: str) -> str:
        public_id = rid("publicIPAddresses", f"{name}-pip")
        self.public_ips.append(PublicIpAddress(public_id, f"{name}-pip", "westus", {}, address, sku_name="Standard"))
        gateway_id = rid("natGateways", name)
        self.nat_gateways.append(NatGateway(gateway_id, name, "westus", {}, "Standard", (public_id,)))
        return gateway_id

    def peer(self, a: str, b: str, state: str = "Connected") -> None:
        for local, remote in ((a, b), (b, a)):
            self.vnets[local][2].append(
                VirtualNetworkPeering(
                    rid("virtualNetworks", local, "virtualNetworkPeerings", f"to-{remote}"),
                    f"to-{remote}",
                    rid("virtualNetworks", remote),
                    self.vnets[remote][0],
                    state,
                )
            )

    def nsg(self, name: str, *rules: SecurityRule, flush: bool = False) -> str:
        nsg_id = rid("networkSecurityGroups", name)
        with_ids = tuple(replace(r, id=f"{nsg_id}/securityRules/{r.name}") for r in rules)
        self.nsgs[name] = NetworkSecurityGroup(
            nsg_id, name, "westus", {}, with_ids, default_security_rules(nsg_id), flush_connection=flush
        )
        return nsg_id

    def route_table(self, name: str, *routes: tuple[str, str]) -> str:
        table_id = rid("routeTables", name)
        self.route_tables.append(
            RouteTable(table_id, name, routes=tuple(Route(f"r{i}", p, hop) for i, (p, hop) in enumerate(routes)))
        )
        return table_id

    def nic(
        self,
        name: str,
        subnet: str,
        *ips: str,
        nsg: str | None = None,
        public: str | None = None,
        sku: str | None = None,
    ) -> str:
        nic_id = rid("networkInterfaces", name)
        public_id = None
        if public is not None:
            public_id = rid("publicIPAddresses", f"{name}-pip")
            self.public_ips.append(PublicIpAddress(public_id, f"{name}-pip", "westus", {}, public, sku_name=sku))
        configs = tuple(
            IpConfiguration(
                f"{nic_id}/ipConfigurations/ip{i}",
                f"ip{i}",
                ip,
                subnet,
                "IPv6" if ":" in ip else "IPv4",
                primary=i == 0,
                public_ip_address=public_id if i == 0 else None,
            )
            for i, ip in enumerate(ips)
        )
        self.nics.append(NetworkInterface(nic_id, name, "westus", {}, configs, nsg))
        return nic_id

    def topology(self) -> Topology:
        vnets = [
            VirtualNetwork(rid("virtualNetworks", name), name, "westus", {}, space, tuple(subnets), tuple(peerings))
            for name, (space, subnets, peerings) in self.vnets.items()
        ]
        return Topology.of(
            nsgs=self.nsgs.values(),
            vnets=vnets,
            nics=self.nics,
            public_ips=self.public_ips,
            route_tables=self.route_tables,
            nat_gateways=self.nat_gateways,
        )


def lab_name(prefix: str = "t") -> str:
    return f"{prefix}{secrets.token_hex(3)}"


@contextmanager
def running_lab(topology: Topology, name: str | None = None, **options: Any) -> Iterator[Lab]:
    """A lab that is removed whatever happens inside the block."""
    chosen = name or lab_name()
    lab = lab_up([], chosen, topology, **options)
    try:
        yield lab
    finally:
        lab_down(chosen)


def host_network_state() -> dict[str, Any]:
    """The host namespace's links, addresses, routes and rules (both families)."""

    def ip_json(*args: str) -> Any:
        out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
        return json.loads(out or "[]")

    links = sorted(
        (link["ifname"], link.get("link_type"), link.get("linkinfo", {}).get("info_kind"))
        for link in ip_json("-d", "link", "show")
    )
    routes = {
        family: sorted(json.dumps(r, sort_keys=True) for r in ip_json(family, "route", "show", "table", "all"))
        for family in ("-4", "-6")
    }
    rules = {family: sorted(json.dumps(r, sort_keys=True) for r in ip_json(family, "rule")) for family in ("-4", "-6")}
    return {"links": links, "routes": routes, "rules": rules}


@dataclass
class Session:
    """An established TCP connection between two namespaces (both ends non-blocking reads with a timeout)."""

    client: socket.socket
    server: socket.socket

    def close(self) -> None:
        self.client.close()
        self.server.close()


def open_session(client_ns: str, server_ns: str, address: str, port: int) -> Session:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    listener = socket_in(server_ns, family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    listener.listen(8)
    try:
        client = socket_in(client_ns, family, socket.SOCK_STREAM)
        client.settimeout(2)
        client.connect((address, port))
        listener.settimeout(2)
        server, _ = listener.accept()
    finally:
        listener.close()
    return Session(client, server)


def carries(sender: socket.socket, receiver: socket.socket, timeout: float = 0.6) -> bool:
    """Whether bytes sent on ``sender`` arrive at ``receiver`` within ``timeout``."""
    token = secrets.token_bytes(8)
    try:
        sender.send(token)
    except OSError:
        return False
    receiver.settimeout(timeout)
    try:
        return receiver.recv(64) == token
    except (TimeoutError, OSError):
        return False
