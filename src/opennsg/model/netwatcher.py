"""What Network Watcher's views of a NIC answer (semantics §8), as values: effective security rules (§8.2), the
security group view (§8.3) and NSG diagnostics (§8.4). ``opennsg.engine`` computes them; ``opennsg.arm.netwatcher``
renders Azure's JSON for the service, the CLI and the UI."""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.model.avnm import AdminRule
from opennsg.model.enums import Direction
from opennsg.model.resources import SecurityRule
from opennsg.model.values import IPNetwork
from opennsg.model.verdict import Association, Verdict


@dataclass(frozen=True, slots=True)
class EffectiveRule:
    """A rule in force at a NIC, with the prefixes each side stands for there (tags, ASGs and network groups
    resolved for this NIC; ``*`` as every address)."""

    rule: SecurityRule | AdminRule
    source: tuple[IPNetwork, ...]
    destination: tuple[IPNetwork, ...]


@dataclass(frozen=True, slots=True)
class EffectiveGroup:
    """One resource of a NIC's chain — an NSG through its association, or a network manager's admin rules — with
    its inbound then outbound rules."""

    resource_id: str
    association: Association
    #: The subnet or NIC an NSG is associated with; the network manager itself for admin rules (semantics §11.4).
    associated_id: str
    rules: tuple[EffectiveRule, ...]


@dataclass(frozen=True, slots=True)
class SecurityGroupAssociation:
    """An NSG as associated with a subnet or a NIC, and its user rules."""

    applied_to: str
    nsg_id: str
    rules: tuple[SecurityRule, ...]


@dataclass(frozen=True, slots=True)
class NicSecurityView:
    """The security group view of one NIC (semantics §8.3)."""

    nic_id: str
    network_interface: SecurityGroupAssociation | None
    subnet: SecurityGroupAssociation | None
    #: The six default rules, of the first NSG that applies (None when no NSG does).
    default_rules_nsg_id: str | None
    default_rules: tuple[SecurityRule, ...]
    effective: tuple[EffectiveRule, ...]


@dataclass(frozen=True, slots=True)
class DiagnosticProfile:
    """An NSG diagnostics traffic profile as given (semantics §8.4): addresses are an IP, a CIDR, ``*`` or a tag;
    ``protocol`` is ``*``, TCP, UDP or ICMP; ``destination_port`` is ``*`` or one port."""

    direction: Direction
    protocol: str
    source: str
    destination: str
    destination_port: str


@dataclass(frozen=True, slots=True)
class DiagnosticResult:
    """The chain evaluated over a whole profile; ``notes`` say what a reader could not guess (OpenNSG's)."""

    verdict: Verdict
    notes: tuple[str, ...] = ()


__all__ = [
    "DiagnosticProfile",
    "DiagnosticResult",
    "EffectiveGroup",
    "EffectiveRule",
    "NicSecurityView",
    "SecurityGroupAssociation",
]
