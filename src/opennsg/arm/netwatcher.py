"""Network Watcher's JSON (semantics §8): effective security rules, the security group view, NSG diagnostics and the
verdict trace, rendered from the values ``opennsg.engine`` computes (``opennsg.model.netwatcher``,
``opennsg.model.verdict``); and diagnostics profiles read from their JSON.

Formatting follows what Azure returns: names ``securityRules/x`` / ``defaultSecurityRules/x`` (admin rules
``securityAdminRules/x``), protocol ``All`` for ``*``, ports as ``lo-hi`` (``0-65535`` for ``*``), ``0.0.0.0/0`` for
a ``*`` address, CIDRs normalised (host bits cleared, single addresses as /32 or /128), tags in their canonical
spelling. Tags and ASGs are expanded to the prefixes they stand for at the NIC in ``expandedSourceAddressPrefix`` /
``expandedDestinationAddressPrefix`` (empty for plain prefixes and ``*``); ``tagMap`` maps every tag a group's rules
name to its prefixes. Diagnostics and flow logs name rules ``UserRule_x`` / ``DefaultRule_x``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.export import rule_to_arm
from opennsg.model.avnm import AddressPrefixItem, AddressPrefixType, AdminProtocol, AdminRule
from opennsg.model.codes import Code
from opennsg.model.enums import Direction, Protocol
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.netwatcher import (
    DiagnosticProfile,
    DiagnosticResult,
    EffectiveGroup,
    EffectiveRule,
    NicSecurityView,
)
from opennsg.model.policy import PLATFORM_RULE_PREFIX
from opennsg.model.resources import SecurityRule
from opennsg.model.servicetags import ServiceTags
from opennsg.model.validation import canonical_tag
from opennsg.model.values import IPNetwork, parse_port_range, parse_prefix
from opennsg.model.verdict import NsgEvaluation, Verdict, rule_log_name

ANY_ADDRESS = "0.0.0.0/0"
PROFILE_FIELDS = ("direction", "protocol", "source", "destination", "destinationPort")
PROFILE_PROTOCOLS = ("*", "tcp", "udp", "icmp")


# --- effective security rules (semantics §8.2) ------------------------------------------------------------


def _ports(texts: tuple[str, ...]) -> list[str]:
    out = []
    for text in texts:
        parsed = parse_port_range(text)
        if parsed is not None:
            out.append(f"{parsed[0]}-{parsed[1]}")
    return out


def _prefix_text(text: str, tags: ServiceTags | None) -> str:
    """``*`` → ``0.0.0.0/0``, a tag → its canonical name, an address or CIDR → the normalised network."""
    if text.strip() == "*":
        return ANY_ADDRESS
    network = parse_prefix(text)
    if network is not None:
        return str(network)
    return canonical_tag(text, tags) or text


def _texts(networks: tuple[IPNetwork, ...]) -> list[str]:
    return [str(n) for n in networks]


def _address_fields(
    side: str,
    singular: str | None,
    plural: tuple[str, ...],
    asgs: tuple[str, ...],
    networks: tuple[IPNetwork, ...],
    tags: ServiceTags | None,
) -> dict[str, Any]:
    """The four address properties of one side (``source`` or ``destination``) of an effective NSG rule."""
    fields: dict[str, Any] = {}
    is_tag = singular is not None and singular.strip() != "*" and parse_prefix(singular) is None
    if singular:
        fields[f"{side}AddressPrefix"] = _prefix_text(singular, tags)
        fields[f"{side}AddressPrefixes"] = [fields[f"{side}AddressPrefix"]]
    else:
        fields[f"{side}AddressPrefixes"] = [_prefix_text(p, tags) for p in plural]
    if asgs:
        fields[f"{side}ApplicationSecurityGroups"] = [{"id": a} for a in asgs]
    fields[f"expanded{side[0].upper()}{side[1:]}AddressPrefix"] = _texts(networks) if is_tag or asgs else []
    return fields


def _admin_side(
    side: str, items: tuple[AddressPrefixItem, ...], networks: tuple[IPNetwork, ...], tags: ServiceTags | None
) -> dict[str, Any]:
    """An admin rule's sources or destinations: prefixes normalised, tags canonical, network groups by id; tags and
    groups expanded."""
    texts: list[str] = []
    expand = False
    for item in items or (AddressPrefixItem("*", AddressPrefixType.IP_PREFIX),):
        if item.address_prefix_type is AddressPrefixType.IP_PREFIX:
            texts.append(_prefix_text(item.address_prefix, tags))
        elif item.address_prefix_type is AddressPrefixType.SERVICE_TAG:
            texts.append(canonical_tag(item.address_prefix, tags) or item.address_prefix)
            expand = True
        else:
            texts.append(item.address_prefix)
            expand = True
    fields: dict[str, Any] = {f"{side}AddressPrefixes": texts}
    if len(texts) == 1:
        fields[f"{side}AddressPrefix"] = texts[0]
    fields[f"expanded{side[0].upper()}{side[1:]}AddressPrefix"] = _texts(networks) if expand else []
    return fields


def _admin_rule(effective: EffectiveRule, rule: AdminRule, tags: ServiceTags | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rule.verify_name,
        "protocol": "All" if rule.protocol is AdminProtocol.ANY else rule.protocol.value,
    }
    for side, texts in (("source", rule.source_port_ranges), ("destination", rule.destination_port_ranges)):
        out[f"{side}PortRanges"] = _ports(texts) if texts else ["0-65535"]
    out.update(_admin_side("source", rule.sources, effective.source, tags))
    out.update(_admin_side("destination", rule.destinations, effective.destination, tags))
    out.update({"access": rule.access.value, "priority": rule.priority, "direction": rule.direction.value})
    return out


def effective_rule_to_arm(effective: EffectiveRule, tags: ServiceTags | None) -> dict[str, Any]:
    """One rule in ``EffectiveNetworkSecurityRule`` shape (semantics §8.2, §11.4)."""
    rule = effective.rule
    if isinstance(rule, AdminRule):
        return _admin_rule(effective, rule, tags)
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
            "source", rule.source_address_prefix, rule.source_address_prefixes, rule.source_asgs, effective.source,
            tags,
        )
    )  # fmt: skip
    out.update(
        _address_fields(
            "destination", rule.destination_address_prefix, rule.destination_address_prefixes,
            rule.destination_asgs, effective.destination, tags,
        )
    )  # fmt: skip
    out.update({"access": rule.access.value, "priority": rule.priority, "direction": rule.direction.value})
    return out


def _tags_named(effective: EffectiveRule) -> tuple[tuple[str | None, tuple[IPNetwork, ...]], ...]:
    """The (tag text, its prefixes) pairs a rule names: an NSG rule's singular prefixes, an admin rule's single
    ``ServiceTag`` source or destination."""
    rule = effective.rule
    if isinstance(rule, SecurityRule):
        return (
            (rule.source_address_prefix, effective.source),
            (rule.destination_address_prefix, effective.destination),
        )
    out: list[tuple[str | None, tuple[IPNetwork, ...]]] = []
    for items, networks in ((rule.sources, effective.source), (rule.destinations, effective.destination)):
        if len(items) == 1 and items[0].address_prefix_type is AddressPrefixType.SERVICE_TAG:
            out.append((items[0].address_prefix, networks))
    return tuple(out)


def _tag_map(rules: tuple[EffectiveRule, ...], tags: ServiceTags | None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for rule in rules:
        for text, networks in _tags_named(rule):
            name = canonical_tag(text, tags) if text else None
            if name is not None and name not in found:
                found[name] = _texts(networks)
    return found


def effective_groups_to_arm(groups: tuple[EffectiveGroup, ...], tags: ServiceTags | None) -> list[dict[str, Any]]:
    """The ``value`` list of ``effectiveNetworkSecurityGroups`` (semantics §8.2)."""
    return [
        {
            "networkSecurityGroup": {"id": group.resource_id},
            "association": {group.association: {"id": group.associated_id}},
            "effectiveSecurityRules": [effective_rule_to_arm(r, tags) for r in group.rules],
            "tagMap": _tag_map(group.rules, tags),
        }
        for group in groups
    ]


def security_group_view_to_arm(views: tuple[NicSecurityView, ...], tags: ServiceTags | None) -> dict[str, Any]:
    """``securityGroupView`` for the NICs of a VM (semantics §8.3)."""
    interfaces = []
    for view in views:
        associations: dict[str, Any] = {}
        for association, key in ((view.network_interface, "networkInterfaceAssociation"),
                                 (view.subnet, "subnetAssociation")):  # fmt: skip
            if association is not None:
                associations[key] = {
                    "id": association.applied_to,
                    "securityRules": [rule_to_arm(r, association.nsg_id) for r in association.rules],
                }
        associations["defaultSecurityRules"] = [rule_to_arm(r, view.default_rules_nsg_id) for r in view.default_rules]
        associations["effectiveSecurityRules"] = [effective_rule_to_arm(r, tags) for r in view.effective]
        interfaces.append({"id": view.nic_id, "securityRuleAssociations": associations})
    return {"networkInterfaces": interfaces}


# --- NSG diagnostics (semantics §8.4) and the verdict trace --------------------------------------------------


def parse_profile(body: Mapping[str, Any], tags: ServiceTags | None) -> DiagnosticProfile:
    """A diagnostics profile's JSON; every problem at once (addresses: an IP, a CIDR, ``*`` or a known tag)."""
    problems = [
        ArmError(Code.MISSING_REQUIRED_PROPERTY, f"Profile property '{name}' is required.", name)
        for name in PROFILE_FIELDS
        if body.get(name) in (None, "")
    ]
    if problems:
        raise OpenNsgError(problems)
    direction = Direction.parse(str(body["direction"]))
    if not isinstance(direction, Direction):
        problems.append(ArmError(Code.INVALID_PARAMETER, "Profile direction must be Inbound or Outbound.", "direction"))
    protocol = str(body["protocol"]).strip()
    if protocol.casefold() not in PROFILE_PROTOCOLS:
        problems.append(ArmError(Code.INVALID_PARAMETER, "Profile protocol must be *, TCP, UDP or ICMP.", "protocol"))
    port = str(body["destinationPort"]).strip()
    ports = parse_port_range(port)
    if ports is None or (port != "*" and ports[0] != ports[1]):
        message = "Profile destinationPort must be '*' or a single port 0-65535."
        problems.append(ArmError(Code.INVALID_PARAMETER, message, "destinationPort"))
    for field in ("source", "destination"):
        text = str(body[field]).strip()
        if text != "*" and parse_prefix(text) is None and canonical_tag(text, tags) is None:
            message = f"Profile {field} '{body[field]}' is not an IP, a CIDR, '*' or a service tag."
            problems.append(ArmError(Code.INVALID_PARAMETER, message, field))
    if problems:
        raise OpenNsgError(problems)
    assert isinstance(direction, Direction)
    return DiagnosticProfile(direction, protocol, str(body["source"]).strip(), str(body["destination"]).strip(), port)


def _matched_rule(step: NsgEvaluation) -> dict[str, str] | None:
    if step.matched_rule is None:
        return None
    return {"ruleName": rule_log_name(step.matched_rule), "action": step.access.value}


def _rule_results(step: NsgEvaluation) -> list[dict[str, Any]]:
    return [
        {
            "name": rule_log_name(r.rule),
            "protocolMatched": r.protocol_matched,
            "sourceMatched": r.source_matched,
            "sourcePortMatched": r.source_port_matched,
            "destinationMatched": r.destination_matched,
            "destinationPortMatched": r.destination_port_matched,
        }
        for r in step.rule_results
    ]


def diagnostic_result_to_arm(result: DiagnosticResult) -> dict[str, Any]:
    """``networkSecurityGroupResult`` (semantics §8.4); a platform verdict is named in the extra ``platformRule``,
    and ``notes`` (OpenNSG's too) say what a reader could not guess."""
    groups = []
    for step in result.verdict.trace:
        group: dict[str, Any] = {"networkSecurityGroupId": step.nsg_id, "appliedTo": step.applied_to}
        matched = _matched_rule(step)
        if matched is not None:
            group["matchedRule"] = matched
        group["rulesEvaluationResult"] = _rule_results(step)
        groups.append(group)
    out: dict[str, Any] = {
        "securityRuleAccessResult": result.verdict.access.value,
        "evaluatedNetworkSecurityGroups": groups,
    }
    rule_name = result.verdict.rule_name
    if rule_name is not None and rule_name.startswith(PLATFORM_RULE_PREFIX):
        out["platformRule"] = rule_name
    if result.notes:
        out["notes"] = list(result.notes)
    return out


def verdict_to_json(verdict: Verdict, detail: bool) -> dict[str, Any]:
    """``opennsg verify --json``: IP flow verify's answer with the chain as evaluated (each stage's association and
    matched rule; with ``detail``, every rule's per-field results as NSG diagnostics shows them)."""
    out: dict[str, Any] = {"access": verdict.access.value}
    if verdict.rule_name is not None:
        out["ruleName"] = verdict.rule_name
    out["networkSecurityGroupId"] = verdict.nsg_id
    out["appliedTo"] = verdict.applied_to
    trace = []
    for step in verdict.trace:
        item: dict[str, Any] = {
            "networkSecurityGroupId": step.nsg_id,
            "appliedTo": step.applied_to,
            "association": step.association,
            "matchedRule": _matched_rule(step),
        }
        if detail:
            item["rulesEvaluationResult"] = _rule_results(step)
        trace.append(item)
    out["evaluatedNetworkSecurityGroups"] = trace
    return out


__all__ = [
    "diagnostic_result_to_arm",
    "effective_groups_to_arm",
    "effective_rule_to_arm",
    "parse_profile",
    "security_group_view_to_arm",
    "verdict_to_json",
]
