"""The evaluation chain, defined once: per NIC and direction, the stages a flow meets and what a match means.

Every consumer reads this: the exact evaluator (``evaluate``), NSG diagnostics, effective rules, the compiled
single-flow path and both batch kernels (``compiled``). Adding a kind of stage means adding it here (where it
sits in the order, what its rules' accesses mean) and nowhere else.

A ``Chain`` is a tuple of ``Stage``s in evaluation order. In each stage the rules are scanned in priority order
and the first match (``Stage.outcomes[i]`` for ``Stage.rules[i]``) decides what happens:

* ``Outcome.DROP`` (``Deny``): the flow is dropped, the chain ends, this rule is reported;
* ``Outcome.DELIVER`` (an admin ``AlwaysAllow``): the flow is delivered, the chain ends, this rule is reported;
* ``Outcome.CONTINUE`` (an admin ``Allow``): on to the next stage; the rule is never the reported one;
* ``Outcome.CANDIDATE`` (an NSG ``Allow``): on to the next stage; the last candidate met is the reported rule.

A stage with no match passes the flow on. When nothing ends the chain, the verdict is Allow with the last
candidate; with none, platform-exempt traffic is named ``PlatformRule_<Tag>`` when the chain has an NSG
(``Chain.names_platform_exemption``), other traffic ``Chain.unmatched_rule_name`` (None: Allow with no rule, as
with no NSG at all). Platform-exempt flows (semantics §0) consult, in every stage, only the rules whose destination
names the exempting tag (``ResolvedRule.platform_tag``).

The order (semantics §3.2, §11.3, §11.6, §12.1):

1. the AVNM security admin rules of each network manager reaching the NIC, in manager order (one stage each:
   ``Deny`` drops, ``AlwaysAllow`` delivers, ``Allow`` passes on); never at a private endpoint;
2. the NSGs: inbound, subnet NSG then NIC NSG; outbound, NIC NSG then subnet NSG. Inbound to a private endpoint
   the subnet NSG applies only when the subnet's ``privateEndpointNetworkPolicies`` enable NSGs; when it is
   skipped, an Allow nothing decided is named ``PlatformRule_PrivateEndpointNetworkPoliciesDisabled``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TYPE_CHECKING

from opennsg.model.avnm import AdminAccess
from opennsg.model.enums import Access, Direction

if TYPE_CHECKING:
    from opennsg.engine.ir import Association, NicPolicy, ResolvedAdmin, ResolvedNsg, ResolvedRule


class Outcome(IntEnum):
    """What a rule's match does to the flow (the integer values are what the batch kernels read)."""

    DROP = 0
    DELIVER = 1
    CONTINUE = 2
    CANDIDATE = 3

    @property
    def ends_chain(self) -> bool:
        return self in (Outcome.DROP, Outcome.DELIVER)

    @property
    def access(self) -> Access:
        """The verdict's access when this outcome decides."""
        return Access.DENY if self is Outcome.DROP else Access.ALLOW


class StageKind(Enum):
    """The kinds of stage, each with its meaning for a rule's access (``MEANING``)."""

    ADMIN = "admin"
    NSG = "nsg"


#: Per kind of stage, what each access of a matching rule does.
MEANING: dict[StageKind, dict[str, Outcome]] = {
    StageKind.ADMIN: {
        AdminAccess.DENY.value: Outcome.DROP,
        AdminAccess.ALWAYS_ALLOW.value: Outcome.DELIVER,
        AdminAccess.ALLOW.value: Outcome.CONTINUE,
    },
    StageKind.NSG: {Access.ALLOW.value: Outcome.CANDIDATE, Access.DENY.value: Outcome.DROP},
}
#: Spec §12.1: the rule name of a flow to a private endpoint whose subnet NSG does not apply.
PRIVATE_ENDPOINT_RULE_NAME = "PlatformRule_PrivateEndpointNetworkPoliciesDisabled"


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the chain: a resource's rules of one direction, in priority order, with their outcomes."""

    kind: StageKind
    direction: Direction
    #: The resource whose rules these are (an NSG id; a network manager id), reported as ``networkSecurityGroupId``.
    resource_id: str
    #: Where it applies (a subnet or NIC id; a VNet id), reported as ``appliedTo``.
    applied_to: str
    association: Association
    rules: tuple[ResolvedRule, ...]
    outcomes: tuple[Outcome, ...]
    #: What VNet flow logs report as ``aclID`` for its decisions: the resource (the NSG; the security admin
    #: configuration) and its GUID when known.
    acl_id: str
    acl_guid: str | None = None

    def entries(self) -> Iterator[tuple[ResolvedRule, Outcome]]:
        return zip(self.rules, self.outcomes, strict=True)


@dataclass(frozen=True, slots=True)
class Chain:
    """The stages of one NIC and direction in evaluation order (see the module docstring)."""

    direction: Direction
    stages: tuple[Stage, ...]
    #: The rule name of an Allow that no stage decided (None: no rule named).
    unmatched_rule_name: str | None = None

    @property
    def names_platform_exemption(self) -> bool:
        """An exempt flow nothing decided is named ``PlatformRule_<Tag>`` only when an NSG was on the way (§0)."""
        return any(stage.kind is StageKind.NSG for stage in self.stages)


def _outcomes(kind: StageKind, rules: tuple[ResolvedRule, ...]) -> tuple[Outcome, ...]:
    meaning = MEANING[kind]
    return tuple(meaning[r.access.value] for r in rules)


def _nsg_stage(nsg: ResolvedNsg, direction: Direction) -> Stage:
    rules = nsg.rules(direction)
    return Stage(
        StageKind.NSG, direction, nsg.nsg.id, nsg.applied_to, nsg.association, rules,
        _outcomes(StageKind.NSG, rules), nsg.nsg.id, nsg.nsg.resource_guid,
    )  # fmt: skip


def _admin_stage(admin: ResolvedAdmin, direction: Direction) -> Stage:
    rules = admin.rules(direction)
    return Stage(
        StageKind.ADMIN, direction, admin.manager_id, admin.virtual_network_id, "networkManager", rules,
        _outcomes(StageKind.ADMIN, rules), admin.configuration_id, admin.configuration_guid,
    )  # fmt: skip


def build_chain(policy: NicPolicy, direction: Direction) -> Chain:
    """The chain of ``policy``'s NIC for ``direction``: the one place the evaluation order is written."""
    endpoint = policy.private_endpoint_policies
    stages: list[Stage] = []
    if endpoint is None:
        stages += [_admin_stage(a, direction) for a in policy.admin]
    subnet_nsg = policy.subnet_nsg
    unmatched = None
    if endpoint is not None and direction is Direction.INBOUND and subnet_nsg is not None and not endpoint.nsg_applies:
        subnet_nsg, unmatched = None, PRIVATE_ENDPOINT_RULE_NAME
    nsgs = (subnet_nsg, policy.nic_nsg) if direction is Direction.INBOUND else (policy.nic_nsg, subnet_nsg)
    stages += [_nsg_stage(n, direction) for n in nsgs if n is not None]
    return Chain(direction, tuple(stages), unmatched)


def chain_resources(policy: NicPolicy) -> tuple[tuple[Stage, ...], ...]:
    """The stages of both directions grouped by resource (kind, resource, where applied), in the order of
    first appearance inbound then outbound: one group per entry of effective security rules (semantics §8.2)."""
    groups: dict[tuple[StageKind, str, str], list[Stage]] = {}
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        for stage in policy.chain(direction).stages:
            groups.setdefault((stage.kind, stage.resource_id.casefold(), stage.applied_to.casefold()), []).append(stage)
    return tuple(tuple(stages) for stages in groups.values())
