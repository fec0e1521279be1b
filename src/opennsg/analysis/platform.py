"""``missing-platform-ports``: subnets of Azure platform services whose NSG lacks the rules the service needs.

Azure Bastion (the subnet named ``AzureBastionSubnet``) documents its NSG requirements: inbound TCP 443 from
``Internet`` (some sources suffice: users may restrict them), from ``GatewayManager`` and from
``AzureLoadBalancer``, TCP 8080/5701 within ``VirtualNetwork``; outbound TCP 22/3389 and 8080/5701 to
``VirtualNetwork``, 443 to ``AzureCloud``, 80 to ``Internet``. Each requirement is checked exactly with the subnet
NSG evaluated alone over the subnet's addresses; one naming a service tag the service tags file does not define is
skipped (it cannot be decided offline).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opennsg.analysis.symbolic import FAMILIES, CompiledPolicy, build_space, evaluate_boxes
from opennsg.engine import Engine
from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.resolve import resolve_policy, tag_set
from opennsg.model.enums import Direction
from opennsg.model.resources import IpConfiguration, NetworkInterface
from opennsg.model.topology import Topology
from opennsg.model.values import parse_prefix

if TYPE_CHECKING:
    from opennsg.analysis.lint import Finding

BASTION_SUBNET = "azurebastionsubnet"


@dataclass(frozen=True, slots=True)
class Requirement:
    direction: Direction
    ports: tuple[int, ...]
    remote_tag: str
    #: True: every address of the tag must be allowed; False: some address suffices.
    every: bool


BASTION_REQUIREMENTS = (
    Requirement(Direction.INBOUND, (443,), "Internet", every=False),
    Requirement(Direction.INBOUND, (443,), "GatewayManager", every=True),
    Requirement(Direction.INBOUND, (443,), "AzureLoadBalancer", every=True),
    Requirement(Direction.INBOUND, (8080, 5701), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, (22, 3389), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, (8080, 5701), "VirtualNetwork", every=True),
    Requirement(Direction.OUTBOUND, (443,), "AzureCloud", every=True),
    Requirement(Direction.OUTBOUND, (80,), "Internet", every=False),
)


def missing_platform_ports(topology: Topology, engine: Engine) -> Iterable[Finding]:
    from opennsg.analysis.lint import RULES, Finding

    del engine  # the subnet is analysed alone, whatever NICs it holds
    for vnet in topology.vnets.values():
        for subnet in vnet.subnets:
            if subnet.name.casefold() != BASTION_SUBNET or not subnet.network_security_group:
                continue
            nsg = topology.nsg(subnet.network_security_group)
            if nsg is None:
                continue
            probe = NetworkInterface(
                f"{subnet.id}/bastion",
                "bastion",
                vnet.location,
                {},
                (IpConfiguration(f"{subnet.id}/bastion/ipConfigurations/x", "x", None, subnet.id, primary=True),),
            )
            local = AddressSet.of(n for p in subnet.address_prefixes if (n := parse_prefix(p)) is not None)
            policy = dataclasses.replace(resolve_policy(topology, probe), local_addresses=local)
            tags = {r.remote_tag: tag_set(topology, probe, r.remote_tag) for r in BASTION_REQUIREMENTS}
            known = {name: s for name, s in tags.items() if s is not None}
            space = build_space(
                [policy],
                extra=known.values(),
                ports=[PortSet.of([(p, p)]) for r in BASTION_REQUIREMENTS for p in r.ports],
            )
            compiled = CompiledPolicy(space, policy)
            missing: list[str] = []
            for req in BASTION_REQUIREMENTS:
                remote = known.get(req.remote_tag)
                if remote is None:
                    continue
                for port in req.ports:
                    allowed, denied = 0, 0
                    for family in FAMILIES:
                        universe = compiled.universe(req.direction, family)
                        region = compiled.address_box(family, remote, compiled.tcp)
                        if universe is None or not region[4]:
                            continue
                        service = space.ports.value_mask(port)
                        inbound = req.direction is Direction.INBOUND
                        local_ports, remote_ports = (
                            (service, space.ports.full) if inbound else (space.ports.full, service)
                        )
                        region = (family, region[1], universe[2], local_ports, region[4], remote_ports)
                        for _box, _, decision in evaluate_boxes(compiled, req.direction, [(region, None)]):
                            if decision.allowed:
                                allowed += 1
                            else:
                                denied += 1
                    if (req.every and denied) or (not req.every and not allowed):
                        side = "from" if req.direction is Direction.INBOUND else "to"
                        missing.append(f"{req.direction.value} TCP {port} {side} {req.remote_tag}")
            if missing:
                yield Finding(
                    "missing-platform-ports",
                    RULES["missing-platform-ports"].level,
                    nsg.id,
                    f"Azure Bastion subnet {subnet.name} of {vnet.name}: NSG '{nsg.name}' does not allow "
                    + "; ".join(missing)
                    + " (required by Azure Bastion).",
                    (subnet.id,),
                    (),
                )


__all__ = ["BASTION_REQUIREMENTS", "missing_platform_ports"]
