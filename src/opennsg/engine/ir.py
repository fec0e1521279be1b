"""The resolved form every evaluator reads: a NIC's NSG chain with tags and ASGs expanded to intervals.

``opennsg.engine.resolve`` builds a ``NicPolicy`` from a ``Topology``; the exact evaluator
(``opennsg.engine.evaluate``) and the compiled classifier (``opennsg.engine.compiled``) both decide
flows from it, so they cannot disagree about what a rule means — only about how fast they scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.chain import Chain, build_chain
from opennsg.model.enums import Access, Direction
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup, SecurityRule

Association = Literal["subnet", "networkInterface"]


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """A rule with every field as a set: protocols (None = all), addresses and ports as intervals.

    ``platform_tag`` is the AzurePlatform* tag named by ``destinationAddressPrefix``, if any: only such
    rules are consulted for platform-exempt flows (spec §0 "Platform exemption").
    """

    rule: SecurityRule
    protocols: frozenset[int] | None
    source: AddressSet
    source_ports: PortSet
    destination: AddressSet
    destination_ports: PortSet
    platform_tag: str | None = None

    @property
    def priority(self) -> int:
        return self.rule.priority

    @property
    def access(self) -> Access:
        return self.rule.access


@dataclass(frozen=True, slots=True)
class ResolvedNsg:
    """One NSG as it applies at one NIC, through one association (its subnet or the NIC itself)."""

    nsg: NetworkSecurityGroup
    applied_to: str
    association: Association
    inbound: tuple[ResolvedRule, ...]
    outbound: tuple[ResolvedRule, ...]

    def rules(self, direction: Direction) -> tuple[ResolvedRule, ...]:
        return self.inbound if direction is Direction.INBOUND else self.outbound


@dataclass(frozen=True, slots=True)
class NicPolicy:
    """Everything needed to decide any flow at one NIC."""

    nic: NetworkInterface
    subnet_nsg: ResolvedNsg | None
    nic_nsg: ResolvedNsg | None
    #: Local addresses of the NIC (its IP configurations' private IPs).
    local_addresses: AddressSet
    #: The per-NIC built-in tags (spec §0), kept for effective rules and the SMTP check.
    virtual_network: AddressSet
    internet: AddressSet
    #: Platform tags in force at this NIC and their addresses (LKM absent under forced tunnelling).
    platform_tags: dict[str, AddressSet]
    #: Outbound TCP 25 to Internet is blocked by the platform for this NIC's subscription.
    smtp_blocked: bool

    _inbound: Chain = field(init=False, repr=False, compare=False)
    _outbound: Chain = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inbound", build_chain(self, Direction.INBOUND))
        object.__setattr__(self, "_outbound", build_chain(self, Direction.OUTBOUND))

    def chain(self, direction: Direction) -> Chain:
        """The evaluation chain of this NIC for ``direction`` (``opennsg.engine.chain``), built once."""
        return self._inbound if direction is Direction.INBOUND else self._outbound


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """Per-field match results of one rule, in the shape of NSG diagnostics (spec §8.4)."""

    rule: SecurityRule
    protocol_matched: bool
    source_matched: bool
    source_port_matched: bool
    destination_matched: bool
    destination_port_matched: bool

    @property
    def matched(self) -> bool:
        return (
            self.protocol_matched
            and self.source_matched
            and self.source_port_matched
            and self.destination_matched
            and self.destination_port_matched
        )


@dataclass(frozen=True, slots=True)
class NsgEvaluation:
    """One stage of the chain as evaluated: which rule matched (None if none did; a stage without a match
    passes the flow on). ``nsg_id`` is the stage's resource (``Stage.resource_id``)."""

    nsg_id: str
    applied_to: str
    association: Association
    matched_rule: SecurityRule | None
    access: Access
    rule_results: tuple[RuleMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one flow: access, the deciding rule (IP-flow-verify naming), where it was decided."""

    access: Access
    rule_name: str | None
    nsg_id: str | None
    applied_to: str | None
    trace: tuple[NsgEvaluation, ...] = ()
    rule: SecurityRule | None = None

    @property
    def allowed(self) -> bool:
        return self.access is Access.ALLOW

    @property
    def log_rule_name(self) -> str | None:
        """The deciding rule in flow-log naming (``UserRule_``/``DefaultRule_``; platform names unchanged)."""
        if self.rule is not None:
            return self.rule.log_name
        return self.rule_name
