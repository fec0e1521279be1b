"""``missing-platform-ports``: subnets of Azure platform services whose NSG lacks the rules the service needs.

Azure Bastion (the subnet named ``AzureBastionSubnet``) and Application Gateway v2 (a subnet listing
``applicationGatewayIPConfigurations``: inbound TCP 65200-65535 from ``GatewayManager``, probes from
``AzureLoadBalancer``, outbound Internet) document their NSG requirements; Bastion's: inbound TCP 443 from
``Internet`` (some sources suffice: users may restrict them), from ``GatewayManager`` and from
``AzureLoadBalancer``, TCP 8080/5701 within ``VirtualNetwork``; outbound TCP 22/3389 and 8080/5701 to
``VirtualNetwork``, 443 to ``AzureCloud``, 80 to ``Internet``. Each requirement is checked exactly with the subnet
NSG evaluated alone over the subnet's addresses; one naming a service tag the service tags file does not define is
skipped (it cannot be decided offline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opennsg.analysis.symbolic import FAMILIES, CompiledPolicy, build_space, evaluate_boxes
from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.resolve import resolve_policy, tag_set
from opennsg.model.enums import IANA_TCP, Direction
from opennsg.model.resources import IpConfiguration, NetworkInterface, Subnet, VirtualNetwork
from opennsg.model.topology import Topology
from opennsg.model.values import parse_prefix

if TYPE_CHECKING:
    from opennsg.analysis.lint import Finding

BASTION_SUBNET = "azurebastionsubnet"


@dataclass(frozen=True, slots=True)
class Requirement:
    direction: Direction
    #: Service ports (destination ports: local inbound, remote outbound), each checked on its own.
    ports: tuple[tuple[int, int], ...]
    remote_tag: str
    #: True: every address of the tag must be allowed; False: some address suffices.
    every: bool
    protocol: int = IANA_TCP

    def describe(self, ports: tuple[int, int]) -> str:
        side = "from" if self.direction is Direction.INBOUND else "to"
        span = str(ports[0]) if ports[0] == ports[1] else f"{ports[0]}-{ports[1]}"
        what = "TCP" if self.protocol == IANA_TCP else "any protocol"
        return f"{self.direction.value} {what} {span} {side} {self.remote_tag}"


def _single(*ports: int) -> tuple[tuple[int, int], ...]:
    return tuple((p, p) for p in ports)


BASTION_REQUIREMENTS = (
    Requirement(Direction.INBOUND, _single(443), "Internet", every=False),
    Requirement(Direction.INBOUND, _single(443), "GatewayManager", every=True),
    Requirement(Direction.INBOUND, _single(443), "AzureLoadBalancer", every=True),
    Requirement(Direction.INBOUND, _single(8080, 5701), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, _single(22, 3389), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, _single(8080, 5701), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, _single(443), "AzureCloud", every=True),
    Requirement(Direction.OUTBOUND, _single(80), "Internet", every=False),
)
#: Application Gateway v2 (its subnet lists ``applicationGatewayIPConfigurations``): the infrastructure ports
#: 65200-65535 from ``GatewayManager``, the load balancer's probes, and outbound Internet access.
APPLICATION_GATEWAY_REQUIREMENTS = (
    Requirement(Direction.INBOUND, ((65200, 65535),), "GatewayManager", every=True),
    Requirement(Direction.INBOUND, ((0, 65535),), "AzureLoadBalancer", every=True, protocol=-1),
    Requirement(Direction.OUTBOUND, ((0, 65535),), "Internet", every=False, protocol=-1),
)


def _service(subnet: Subnet) -> tuple[str, tuple[Requirement, ...]] | None:
    if subnet.name.casefold() == BASTION_SUBNET:
        return "Azure Bastion", BASTION_REQUIREMENTS
    if subnet.application_gateway_ip_configurations:
        return "Application Gateway v2", APPLICATION_GATEWAY_REQUIREMENTS
    return None


def _missing(
    topology: Topology, vnet: VirtualNetwork, subnet: Subnet, requirements: Sequence[Requirement]
) -> list[str]:
    """The requirements the subnet's NSG, evaluated alone over the subnet's addresses, does not meet."""
    probe = NetworkInterface(
        f"{subnet.id}/platform",
        "platform",
        vnet.location,
        {},
        (IpConfiguration(f"{subnet.id}/platform/ipConfigurations/x", "x", None, subnet.id, primary=True),),
    )
    local = AddressSet.of(n for p in subnet.address_prefixes if (n := parse_prefix(p)) is not None)
    policy = dataclasses.replace(resolve_policy(topology, probe), local_addresses=local)
    tags = {r.remote_tag: tag_set(topology, probe, r.remote_tag) for r in requirements}
    known = {name: found for name, found in tags.items() if found is not None}
    space = build_space([policy], extra=known.values(), ports=[PortSet.of([p]) for r in requirements for p in r.ports])
    compiled = CompiledPolicy(space, policy)
    missing: list[str] = []
    for req in requirements:
        remote = known.get(req.remote_tag)
        if remote is None:
            continue  # a service tag the tags file does not define: cannot be decided offline
        protocols = compiled.tcp if req.protocol == IANA_TCP else None
        for ports in req.ports:
            allowed = denied = False
            for family in FAMILIES:
                universe = compiled.universe(req.direction, family)
                region = compiled.address_box(family, remote, protocols)
                if universe is None or not region[4]:
                    continue
                service = space.ports.mask((ports,))
                inbound = req.direction is Direction.INBOUND
                local_ports, remote_ports = (service, space.ports.full) if inbound else (space.ports.full, service)
                region = (family, region[1], universe[2], local_ports, region[4], remote_ports)
                for _box, _, decision in evaluate_boxes(compiled, req.direction, [(region, None)]):
                    allowed = allowed or decision.allowed
                    denied = denied or not decision.allowed
            if (req.every and denied) or (not req.every and not allowed):
                missing.append(req.describe(ports))
    return missing


def missing_platform_ports(topology: Topology) -> Iterable[Finding]:
    from opennsg.analysis.lint import RULES, Finding

    for vnet in topology.vnets.values():
        for subnet in vnet.subnets:
            service = _service(subnet)
            nsg = topology.nsg(subnet.network_security_group)
            if service is None or nsg is None:
                continue
            name, requirements = service
            missing = _missing(topology, vnet, subnet, requirements)
            if missing:
                yield Finding(
                    "missing-platform-ports",
                    RULES["missing-platform-ports"].level,
                    nsg.id,
                    f"{name} subnet {subnet.name} of {vnet.name}: NSG '{nsg.name}' does not allow "
                    + "; ".join(missing)
                    + f" (required by {name}).",
                    (subnet.id,),
                    (),
                )


__all__ = ["APPLICATION_GATEWAY_REQUIREMENTS", "BASTION_REQUIREMENTS", "missing_platform_ports"]
