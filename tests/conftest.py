"""Shared fixtures: ``world``, a small builder of topologies in Python for engine and conformance tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import settings

from opennsg.model import (
    Access,
    ApplicationSecurityGroup,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    Route,
    RouteTable,
    SecurityRule,
    ServiceTags,
    Subnet,
    Subscription,
    Topology,
    VirtualMachine,
    VirtualNetwork,
    default_security_rules,
)
from opennsg.model.enums import Direction
from opennsg.model.ids import network_id

# CI (``.ci/run`` sets OPENNSG_DERANDOMIZE) replays the same examples on every run, so a red build is reproducible
# and only a change can turn it red; developers' runs keep drawing new examples, which is how properties find bugs.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("OPENNSG_DERANDOMIZE"):
    settings.load_profile("ci")

# Each run keeps what opennsg caches (compiled programs, loaded inputs, service tags) in a directory of its own, so
# no run reads what an earlier run or the developer's own commands left in ~/.cache/opennsg; subprocesses inherit it.
if "OPENNSG_CACHE_DIR" not in os.environ:
    _run_cache = tempfile.mkdtemp(prefix="opennsg-test-cache-")
    os.environ["OPENNSG_CACHE_DIR"] = _run_cache
    atexit.register(shutil.rmtree, _run_cache, ignore_errors=True)

SUB = "00000000-0000-0000-0000-0000000000aa"


def rid(*type_name: str) -> str:
    return network_id(SUB, "rg", *type_name)


def rule(
    name: str,
    priority: int,
    direction: str,
    access: str,
    protocol: str = "*",
    source: str | tuple[str, ...] = "*",
    destination: str | tuple[str, ...] = "*",
    destination_ports: str | tuple[str, ...] = "*",
    source_ports: str = "*",
    source_asgs: tuple[str, ...] = (),
    destination_asgs: tuple[str, ...] = (),
) -> SecurityRule:
    """A user rule; a tuple for an address or port slot fills the plural field."""
    parsed_direction = Direction.parse(direction)
    parsed_access = Access.parse(access)
    parsed_protocol = Protocol.parse(protocol)
    assert isinstance(parsed_direction, Direction) and isinstance(parsed_access, Access)
    assert isinstance(parsed_protocol, Protocol)
    return SecurityRule(
        name=name,
        priority=priority,
        direction=parsed_direction,
        access=parsed_access,
        protocol=parsed_protocol,
        source_address_prefix=None if source_asgs or isinstance(source, tuple) else source,
        source_address_prefixes=source if isinstance(source, tuple) else (),
        source_asgs=source_asgs,
        source_port_range=source_ports,
        destination_address_prefix=None if destination_asgs or isinstance(destination, tuple) else destination,
        destination_address_prefixes=destination if isinstance(destination, tuple) else (),
        destination_asgs=destination_asgs,
        destination_port_range=None if isinstance(destination_ports, tuple) else destination_ports,
        destination_port_ranges=destination_ports if isinstance(destination_ports, tuple) else (),
    )


class World:
    """One VNet (10.0.0.0/16 and fd00::/48) with subnets, NICs (one VM each), NSGs and route tables."""

    def __init__(self) -> None:
        self.nsgs: dict[str, NetworkSecurityGroup] = {}
        self.subnets: list[Subnet] = []
        self.nics: list[NetworkInterface] = []
        self.vms: list[VirtualMachine] = []
        self.route_tables: list[RouteTable] = []
        self.asgs: list[ApplicationSecurityGroup] = []
        self.address_space: tuple[str, ...] = ("10.0.0.0/16", "fd00::/48")

    def asg(self, name: str) -> str:
        asg_id = rid("applicationSecurityGroups", name)
        self.asgs.append(ApplicationSecurityGroup(asg_id, name, "westus"))
        return asg_id

    def nsg(self, name: str, *rules: SecurityRule) -> str:
        nsg_id = rid("networkSecurityGroups", name)
        with_ids = tuple(replace(r, id=f"{nsg_id}/securityRules/{r.name}") for r in rules)
        self.nsgs[name] = NetworkSecurityGroup(nsg_id, name, "westus", {}, with_ids, default_security_rules(nsg_id))
        return nsg_id

    def route_table(self, name: str, next_hop: str) -> str:
        table_id = rid("routeTables", name)
        self.route_tables.append(RouteTable(table_id, name, routes=(Route("default", "0.0.0.0/0", next_hop),)))
        return table_id

    def subnet(self, name: str, *prefixes: str, nsg: str | None = None, route_table: str | None = None) -> str:
        subnet_id = rid("virtualNetworks", "vnet", "subnets", name)
        self.subnets.append(Subnet(subnet_id, name, prefixes, nsg, route_table))
        return subnet_id

    def nic(self, name: str, subnet: str, *ips: str, nsg: str | None = None, asgs: tuple[str, ...] = ()) -> str:
        nic_id = rid("networkInterfaces", name)
        vm_id = rid("virtualMachines", f"vm-{name}")
        configs = tuple(
            IpConfiguration(
                f"{nic_id}/ipConfigurations/ip{i}",
                f"ip{i}",
                ip,
                subnet,
                "IPv6" if ":" in ip else "IPv4",
                asgs,
                primary=i == 0,
            )
            for i, ip in enumerate(ips)
        )
        self.nics.append(NetworkInterface(nic_id, name, "westus", {}, configs, nsg, virtual_machine=vm_id))
        self.vms.append(VirtualMachine(vm_id, f"vm-{name}", "westus", {}, (nic_id,), nic_id))
        return nic_id

    def topology(self, subscription: Subscription | None = None, service_tags: ServiceTags | None = None) -> Topology:
        vnet = VirtualNetwork(
            rid("virtualNetworks", "vnet"), "vnet", "westus", {}, self.address_space, tuple(self.subnets)
        )
        return Topology.of(
            nsgs=self.nsgs.values(),
            asgs=self.asgs,
            vnets=[vnet],
            route_tables=self.route_tables,
            nics=self.nics,
            vms=self.vms,
            subscriptions=[subscription] if subscription else [],
            service_tags=service_tags,
        )


@pytest.fixture
def world() -> Iterator[World]:
    yield World()
