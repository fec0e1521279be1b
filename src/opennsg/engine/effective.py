"""Effective security rules (semantics §8.2) and the security group view (§8.3) of a NIC, from its ``NicPolicy``.

Groups follow the inbound evaluation order of ``opennsg.engine.chain``: the admin rules of each network manager
(association ``networkManager``, semantics §11.4), then the subnet's NSG, then the NIC's. Each rule carries the
prefixes its sides stand for at this NIC; ``opennsg.arm.netwatcher`` renders Azure's JSON from these values.
"""

from __future__ import annotations

from opennsg.engine.chain import StageKind, chain_resources
from opennsg.engine.ir import NicPolicy, ResolvedNsg, ResolvedRule
from opennsg.model.netwatcher import EffectiveGroup, EffectiveRule, NicSecurityView, SecurityGroupAssociation
from opennsg.model.resources import SecurityRule


def effective_rule(resolved: ResolvedRule) -> EffectiveRule:
    return EffectiveRule(resolved.rule, tuple(resolved.source.networks()), tuple(resolved.destination.networks()))


def effective_groups(policy: NicPolicy) -> tuple[EffectiveGroup, ...]:
    """One group per resource of the chain, in inbound evaluation order, with its inbound then outbound rules."""
    groups = []
    for stages in chain_resources(policy):
        first = stages[0]
        # an NSG is associated with a subnet or NIC; admin rules with their network manager (semantics §11.4)
        associated = first.resource_id if first.kind is StageKind.ADMIN else first.applied_to
        rules = tuple(effective_rule(r) for stage in stages for r in stage.rules)
        groups.append(EffectiveGroup(first.resource_id, first.association, associated, rules))
    return tuple(groups)


def _association(resolved: ResolvedNsg) -> SecurityGroupAssociation:
    every = (r.rule for r in (*resolved.inbound, *resolved.outbound))
    rules = tuple(r for r in every if isinstance(r, SecurityRule) and not r.is_default)
    return SecurityGroupAssociation(resolved.applied_to, resolved.nsg.id, rules)


def security_group_view(policy: NicPolicy) -> NicSecurityView:
    """One NIC's security group view: each association's rules, the default rules, the effective rules."""
    present = [r for r in (policy.nic_nsg, policy.subnet_nsg) if r is not None]
    defaults: tuple[SecurityRule, ...] = ()
    defaults_nsg: str | None = None
    if present:
        first = present[0]
        defaults = tuple(
            r.rule for r in (*first.inbound, *first.outbound) if isinstance(r.rule, SecurityRule) and r.rule.is_default
        )
        defaults_nsg = first.nsg.id
    return NicSecurityView(
        nic_id=policy.nic.id,
        network_interface=_association(policy.nic_nsg) if policy.nic_nsg is not None else None,
        subnet=_association(policy.subnet_nsg) if policy.subnet_nsg is not None else None,
        default_rules_nsg_id=defaults_nsg,
        default_rules=defaults,
        effective=tuple(effective_rule(r) for resolved in present for r in (*resolved.inbound, *resolved.outbound)),
    )
