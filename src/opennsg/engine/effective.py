"""Effective security rules (§8.2) and the security group view (§8.3) of a NIC, from its ``NicPolicy``.

Formatting follows what Azure returns: names ``securityRules/x`` / ``defaultSecurityRules/x``, protocol ``All``
for ``*``, ports as ``lo-hi`` (``0-65535`` for ``*``), ``0.0.0.0/0`` for a ``*`` address, CIDRs normalised
(host bits cleared, single addresses as /32 or /128). Tags and ASGs are expanded to the prefixes they stand for
at this NIC in ``expandedSourceAddressPrefix`` / ``expandedDestinationAddressPrefix`` (empty for plain prefixes
and ``*``); ``tagMap`` maps every tag an NSG uses to its prefixes. Groups follow the inbound evaluation order of
``opennsg.engine.chain``: the admin rules of each network manager (association ``networkManager``, rules named
``securityAdminRules/x``, semantics §11.4), then the subnet's NSG, then the NIC's.
"""

from __future__ import annotations

from typing import Any

from opennsg.arm.export import rule_to_arm
from opennsg.engine.addresses import AddressSet
from opennsg.engine.chain import StageKind, chain_resources
from opennsg.engine.ir import NicPolicy, ResolvedNsg, ResolvedRule
from opennsg.engine.resolve import canonical_tag_name
from opennsg.model.avnm import AddressPrefixItem, AddressPrefixType, AdminProtocol, AdminRule
from opennsg.model.enums import Protocol
from opennsg.model.resources import SecurityRule
from opennsg.model.topology import Topology
from opennsg.model.values import parse_port_range, parse_prefix

ANY_ADDRESS = "0.0.0.0/0"


def _ports(texts: tuple[str, ...]) -> list[str]:
    out = []
    for text in texts:
        parsed = parse_port_range(text)
        if parsed is not None:
            out.append(f"{parsed[0]}-{parsed[1]}")
    return out


def _prefix_text(text: str, topology: Topology) -> str:
    """``*`` → ``0.0.0.0/0``, a tag → its canonical name, an address or CIDR → the normalised network."""
    if text.strip() == "*":
        return ANY_ADDRESS
    network = parse_prefix(text)
    if network is not None:
        return str(network)
    return canonical_tag_name(text, topology) or text


def _expanded(addresses: AddressSet) -> list[str]:
    return [str(n) for n in addresses.networks()]


def _address_fields(
    side: str,
    singular: str | None,
    plural: tuple[str, ...],
    asgs: tuple[str, ...],
    resolved: AddressSet,
    topology: Topology,
) -> dict[str, Any]:
    """The four address properties of one side (``source`` or ``destination``) of an effective rule."""
    fields: dict[str, Any] = {}
    is_tag = singular is not None and singular.strip() != "*" and parse_prefix(singular) is None
    if singular:
        fields[f"{side}AddressPrefix"] = _prefix_text(singular, topology)
        fields[f"{side}AddressPrefixes"] = [fields[f"{side}AddressPrefix"]]
    else:
        fields[f"{side}AddressPrefixes"] = [_prefix_text(p, topology) for p in plural]
    if asgs:
        fields[f"{side}ApplicationSecurityGroups"] = [{"id": a} for a in asgs]
    fields[f"expanded{side[0].upper()}{side[1:]}AddressPrefix"] = _expanded(resolved) if is_tag or asgs else []
    return fields


def _admin_side(
    side: str, items: tuple[AddressPrefixItem, ...], resolved: AddressSet, topology: Topology
) -> dict[str, Any]:
    """An admin rule's sources or destinations in effective-rule shape: prefixes normalised, tags canonical, network
    groups by id; tags and groups expanded."""
    texts: list[str] = []
    expand = False
    for item in items or (AddressPrefixItem("*", AddressPrefixType.IP_PREFIX),):
        if item.address_prefix_type is AddressPrefixType.IP_PREFIX:
            texts.append(_prefix_text(item.address_prefix, topology))
        elif item.address_prefix_type is AddressPrefixType.SERVICE_TAG:
            texts.append(canonical_tag_name(item.address_prefix, topology) or item.address_prefix)
            expand = True
        else:
            texts.append(item.address_prefix)
            expand = True
    fields: dict[str, Any] = {f"{side}AddressPrefixes": texts}
    if len(texts) == 1:
        fields[f"{side}AddressPrefix"] = texts[0]
    fields[f"expanded{side[0].upper()}{side[1:]}AddressPrefix"] = _expanded(resolved) if expand else []
    return fields


def effective_admin_rule(resolved: ResolvedRule, topology: Topology) -> dict[str, Any]:
    """One security admin rule in ``EffectiveNetworkSecurityRule`` shape (semantics §8.2, §11.4)."""
    rule = resolved.rule
    assert isinstance(rule, AdminRule)
    out: dict[str, Any] = {
        "name": rule.verify_name,
        "protocol": "All" if rule.protocol is AdminProtocol.ANY else rule.protocol.value,
    }
    for side, texts in (("source", rule.source_port_ranges), ("destination", rule.destination_port_ranges)):
        out[f"{side}PortRanges"] = _ports(texts) if texts else ["0-65535"]
    out.update(_admin_side("source", rule.sources, resolved.source, topology))
    out.update(_admin_side("destination", rule.destinations, resolved.destination, topology))
    out.update({"access": rule.access.value, "priority": rule.priority, "direction": rule.direction.value})
    return out


def effective_rule(resolved: ResolvedRule, topology: Topology) -> dict[str, Any]:
    """One rule in ``EffectiveNetworkSecurityRule`` shape."""
    rule = resolved.rule
    if isinstance(rule, AdminRule):
        return effective_admin_rule(resolved, topology)
    out: dict[str, Any] = {
        "name": rule.verify_name,
        "protocol": "All" if rule.protocol is Protocol.ANY else rule.protocol.value,
    }
    for side, singular, plural in (
        ("source", rule.source_port_range, rule.source_port_ranges),
        ("destination", rule.destination_port_range, rule.destination_port_ranges),
    ):
        ranges = _ports((singular,) if singular else plural)
        if singular:
            out[f"{side}PortRange"] = ranges[0] if ranges else singular
        out[f"{side}PortRanges"] = ranges
    out.update(
        _address_fields(
            "source",
            rule.source_address_prefix,
            rule.source_address_prefixes,
            rule.source_asgs,
            resolved.source,
            topology,
        )
    )
    out.update(
        _address_fields(
            "destination",
            rule.destination_address_prefix,
            rule.destination_address_prefixes,
            rule.destination_asgs,
            resolved.destination,
            topology,
        )
    )
    out.update({"access": rule.access.value, "priority": rule.priority, "direction": rule.direction.value})
    return out


def _tags_named(rule: ResolvedRule) -> tuple[tuple[str | None, AddressSet], ...]:
    """The (tag text, its addresses) pairs a rule names: an NSG rule's singular prefixes, an admin rule's single
    ``ServiceTag`` source or destination."""
    if isinstance(rule.rule, SecurityRule):
        return (
            (rule.rule.source_address_prefix, rule.source),
            (rule.rule.destination_address_prefix, rule.destination),
        )
    out: list[tuple[str | None, AddressSet]] = []
    for items, addresses in ((rule.rule.sources, rule.source), (rule.rule.destinations, rule.destination)):
        if len(items) == 1 and items[0].address_prefix_type is AddressPrefixType.SERVICE_TAG:
            out.append((items[0].address_prefix, addresses))
    return tuple(out)


def _tag_map(rules: tuple[ResolvedRule, ...], topology: Topology) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for rule in rules:
        for text, addresses in _tags_named(rule):
            name = canonical_tag_name(text, topology) if text else None
            if name is not None and name not in tags:
                tags[name] = _expanded(addresses)
    return tags


def _rules(resolved: ResolvedNsg, topology: Topology) -> list[dict[str, Any]]:
    return [effective_rule(r, topology) for r in (*resolved.inbound, *resolved.outbound)]


def effective_groups(topology: Topology, policy: NicPolicy) -> list[dict[str, Any]]:
    """The ``value`` list of ``effectiveNetworkSecurityGroups`` for the policy's NIC (semantics §8.2): one group per
    resource of the chain, in inbound evaluation order, with its inbound then outbound rules."""
    groups = []
    for stages in chain_resources(policy):
        first = stages[0]
        rules = tuple(r for stage in stages for r in stage.rules)
        groups.append(
            {
                "networkSecurityGroup": {"id": first.resource_id},
                # an NSG is associated with a subnet or NIC; admin rules with their network manager (semantics §11.4)
                "association": {
                    first.association: {"id": first.resource_id if first.kind is StageKind.ADMIN else first.applied_to}
                },
                "effectiveSecurityRules": [effective_rule(r, topology) for r in rules],
                "tagMap": _tag_map(rules, topology),
            }
        )
    return groups


def security_group_view(topology: Topology, policies: list[NicPolicy]) -> dict[str, Any]:
    """``securityGroupView`` for the NICs of a VM (§8.3): each association's rules, defaults, effective rules."""
    interfaces = []
    for policy in policies:
        associations: dict[str, Any] = {}
        defaults: list[dict[str, Any]] = []
        effective: list[dict[str, Any]] = []
        for resolved, key in (
            (policy.nic_nsg, "networkInterfaceAssociation"),
            (policy.subnet_nsg, "subnetAssociation"),
        ):
            if resolved is None:
                continue
            rules = [r.rule for r in (*resolved.inbound, *resolved.outbound) if isinstance(r.rule, SecurityRule)]
            user = [r for r in rules if not r.is_default]
            associations[key] = {
                "id": resolved.applied_to,
                "securityRules": [rule_to_arm(r, resolved.nsg.id) for r in user],
            }
            if not defaults:
                default_rules = [r for r in rules if r.is_default]
                defaults = [rule_to_arm(r, resolved.nsg.id) for r in default_rules]
            effective.extend(_rules(resolved, topology))
        associations["defaultSecurityRules"] = defaults
        associations["effectiveSecurityRules"] = effective
        interfaces.append({"id": policy.nic.id, "securityRuleAssociations": associations})
    return {"networkInterfaces": interfaces}
