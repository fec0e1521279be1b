"""The resolved form every evaluator reads: a NIC's NSG chain with tags and ASGs expanded to intervals.

``opennsg.engine.resolve`` builds a ``NicPolicy`` from a ``Topology``; the exact evaluator
(``opennsg.engine.evaluate``) and the compiled classifier (``opennsg.engine.compiled``) both decide
flows from it, so they cannot disagree about what a rule means — only about how fast they scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.chain import Chain, build_chain
from opennsg.model.avnm import AdminAccess
from opennsg.model.enums import Access, Direction, PrivateEndpointNetworkPolicies
from opennsg.model.pickling import quick_setstate
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup

# The evaluation's answers are model values (``opennsg.model.verdict``, rendered at the edges); they stay importable
# from here, beside the resolved form that produces them.
from opennsg.model.verdict import AnyRule, Association, NsgEvaluation, RuleMatch, Verdict, rule_log_name


@quick_setstate  # read back often from the inputs cache
@dataclass(frozen=True, slots=True)
class ResolvedRule:
    """A rule with every field as a set: protocols (None = all), addresses and ports as intervals.

    ``platform_tag`` is the AzurePlatform* tag named by ``destinationAddressPrefix`` (of an admin rule: its first
    ``ServiceTag`` destination naming one), if any: only such rules are consulted for platform-exempt flows
    (semantics §0 "Platform exemption").
    """

    rule: AnyRule
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
    def access(self) -> Access | AdminAccess:
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
class ResolvedAdmin:
    """One network manager's security admin rules as they apply at one NIC (semantics §11.2, §11.6): every rule
    collection of its configuration that reaches the NIC, as one list per direction in evaluation order."""

    manager_id: str
    #: The VNet they apply at (``appliedTo``).
    virtual_network_id: str
    #: The configuration deployed (its ``resourceGuid`` is the VNet flow logs' ``aclID``).
    configuration_id: str
    configuration_guid: str | None
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
    #: The per-NIC built-in tags (semantics §0), kept for effective rules and the SMTP check.
    virtual_network: AddressSet
    internet: AddressSet
    #: Platform tags in force at this NIC and their addresses (LKM absent under forced tunnelling).
    platform_tags: dict[str, AddressSet]
    #: Outbound TCP 25 to Internet is blocked by the platform for this NIC's subscription.
    smtp_blocked: bool
    #: The AVNM managers whose admin rules reach this NIC, in evaluation order (semantics §11).
    admin: tuple[ResolvedAdmin, ...] = ()
    #: For a private endpoint's NIC, its subnet's ``privateEndpointNetworkPolicies`` (semantics §12.1); else None.
    private_endpoint_policies: PrivateEndpointNetworkPolicies | None = None

    _inbound: Chain = field(init=False, repr=False, compare=False)
    _outbound: Chain = field(init=False, repr=False, compare=False)
    #: Content digests of this policy, each computed once (``digest``); pickled with it (``cli.prepared``).
    _digests: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_inbound", build_chain(self, Direction.INBOUND))
        object.__setattr__(self, "_outbound", build_chain(self, Direction.OUTBOUND))
        object.__setattr__(self, "_digests", {})

    def chain(self, direction: Direction) -> Chain:
        """The evaluation chain of this NIC for ``direction`` (``opennsg.engine.chain``), built once."""
        return self._inbound if direction is Direction.INBOUND else self._outbound

    def digest(self, kind: str, compute: Callable[[NicPolicy], str]) -> str:
        """``compute(self)``, remembered under ``kind`` (which names what it hashes and the code that does): the
        compiled classifier's keys hash every rule (~0.1 CPU-s at 1,000 rules per NSG), and a policy read back by
        a later command (``cli.prepared``) brings them along instead of hashing again."""
        found = self._digests.get(kind)
        if found is None:
            found = self._digests[kind] = compute(self)
        return found


__all__ = [
    "AnyRule",
    "Association",
    "NicPolicy",
    "NsgEvaluation",
    "ResolvedAdmin",
    "ResolvedNsg",
    "ResolvedRule",
    "RuleMatch",
    "Verdict",
    "rule_log_name",
]
