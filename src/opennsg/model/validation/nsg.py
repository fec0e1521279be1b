"""NSGs and their rules (semantics §1, §5): ports, addresses, ASGs, priorities, names, NSG-wide limits."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network

from opennsg.model.errors import ArmError
from opennsg.model.ids import id_key, parent_id
from opennsg.model.policy import (
    MAX_ASGS_PER_NSG,
    MAX_ASGS_PER_REGION,
    MAX_ASGS_PER_RULE_FIELD,
    MAX_DESCRIPTION_LENGTH,
    MAX_IP_CONFIGURATIONS_PER_ASG,
    MAX_NAME_LENGTH,
    MAX_NSGS_PER_REGION,
    MAX_PREFIXES_PER_SIDE,
    MAX_RULES_PER_NSG,
    MAX_USER_PRIORITY,
    MIN_USER_PRIORITY,
)
from opennsg.model.resources import NetworkSecurityGroup, Resource, SecurityRule
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import (
    TAG_LIKE,
    Finding,
    Problem,
    canonical_tag,
    is_known_tag,
    is_valid_name,
    tag_findings,
)
from opennsg.model.values import parse_port_range, parse_prefix


def rule_id(nsg: NetworkSecurityGroup, rule: SecurityRule) -> str:
    """The rule's ARM id: its own, or the one ARM gives it under its NSG."""
    return rule.id or f"{nsg.id}/securityRules/{rule.name}"


def nsg_findings(
    nsg: NetworkSecurityGroup, topology: Topology, membership: AsgMembership | Callable[[], AsgMembership]
) -> list[Finding]:
    """Every problem of one NSG. ``membership`` may be a function: it is then called only if a rule names an ASG."""
    errors: list[Finding] = []
    members = _memo(membership)

    def add(code: str, message: str, target: str | None = None) -> None:
        errors.append(
            Finding(nsg.id, ArmError(code, message, target, service_tag_hint(code, message, topology.service_tags)))
        )

    if not is_valid_name(nsg.name):
        add(Code.INVALID_NAME, Message.INVALID_NAME.format(name=nsg.name, max_length=MAX_NAME_LENGTH), "name")
    if len(nsg.security_rules) > MAX_RULES_PER_NSG:
        add(
            Code.RULES_PER_NSG,
            Message.RULES_PER_NSG.format(nsg_id=nsg.id, count=len(nsg.security_rules), limit=MAX_RULES_PER_NSG),
            "properties.securityRules",
        )
    for i, rule in enumerate(nsg.security_rules):
        for code, message, field in RULE_CHECKS.problems(nsg, rule, topology, members):
            add(code, message, f"properties.securityRules[{i}]" + (f".{field}" if field else ""))
    for code, message, target in _nsg_wide_problems(nsg):
        add(code, message, target)
    errors.extend(tag_findings(nsg.id, nsg.tags))
    return errors


def _memo(membership: AsgMembership | Callable[[], AsgMembership]) -> Callable[[], AsgMembership]:
    if isinstance(membership, AsgMembership):
        return lambda: membership
    return functools.cache(membership)


class RuleChecks:
    """The problems of each rule on its own, remembered per rule object, so that re-validating an NSG after a
    write checks only the rules the write changed (unchanged rules are the same immutable objects) plus the
    NSG-wide checks. A rule's own problems depend only on the rule, its NSG's id (its ARM id when it has none), the
    service tags and, for a rule naming ASGs, the topology's ASGs and their members: the first three are the key
    (compared by identity and value), and a rule naming ASGs is always checked afresh. Bounded: when full, it is
    emptied (the next validation checks every rule again)."""

    def __init__(self, capacity: int = 1 << 16) -> None:
        self.capacity = capacity
        self._known: dict[int, tuple[SecurityRule, str, ServiceTags | None, tuple[Problem, ...]]] = {}

    def problems(
        self,
        nsg: NetworkSecurityGroup,
        rule: SecurityRule,
        topology: Topology,
        membership: Callable[[], AsgMembership],
    ) -> tuple[Problem, ...]:
        if rule.source_asgs or rule.destination_asgs:
            return tuple(_rule_problems(nsg, rule, topology, membership()))
        tags = topology.service_tags
        known = self._known.get(id(rule))
        if known is not None and known[0] is rule and known[2] is tags and known[1] == nsg.id:
            return known[3]
        found = tuple(_rule_problems(nsg, rule, topology, _NO_MEMBERS))
        if len(self._known) >= self.capacity:
            self._known.clear()
        self._known[id(rule)] = (rule, nsg.id, tags, found)  # holding the rule keeps its id from being reused
        return found

    def clear(self) -> None:
        self._known.clear()


#: The one memo of rules' own problems (writes, validation and lint share it; each answer is a pure function of
#: its key, so sharing it between threads is safe).
RULE_CHECKS = RuleChecks()


def _rule_problems(
    nsg: NetworkSecurityGroup, rule: SecurityRule, topology: Topology, membership: AsgMembership
) -> Iterator[Problem]:
    rid = rule_id(nsg, rule)
    if rule.is_default:
        yield (
            Code.DEFAULT_RULE_READ_ONLY,
            Message.DEFAULT_RULE_READ_ONLY.format(name=rule.name, nsg_id=nsg.id),
            None,
        )
    if not is_valid_name(rule.name):
        yield Code.INVALID_NAME, Message.INVALID_NAME.format(name=rule.name, max_length=MAX_NAME_LENGTH), "name"
    if not MIN_USER_PRIORITY <= rule.priority <= MAX_USER_PRIORITY:
        yield (
            Code.INVALID_PRIORITY,
            Message.INVALID_PRIORITY.format(priority=rule.priority),
            "properties.priority",
        )
    if rule.description is not None and len(rule.description) > MAX_DESCRIPTION_LENGTH:
        message = Message.DESCRIPTION_TOO_LONG.format(
            rule_id=rid, length=len(rule.description), max_length=MAX_DESCRIPTION_LENGTH
        )
        yield Code.DESCRIPTION_TOO_LONG, message, "properties.description"
    for side in ("source", "destination"):
        yield from _port_problems(rid, rule, side)
        yield from _address_problems(rid, rule, side, topology.service_tags)
        yield from _asg_problems(rid, rule, side, topology)
        yield from _family_problems(rid, rule, side)
    yield from _same_vnet_problems(rid, rule, membership)


def _camel(side: str, suffix: str) -> str:
    return f"{side}{suffix}"


def _pascal(side: str, suffix: str) -> str:
    return f"{side.capitalize()}{suffix}"


def _port_problems(rid: str, rule: SecurityRule, side: str) -> Iterator[Problem]:
    singular: str | None = getattr(rule, f"{side}_port_range")
    plural: tuple[str, ...] = getattr(rule, f"{side}_port_ranges")
    if bool(singular) == bool(plural):
        message = Message.PARAMETER_CONFLICT.format(
            rule_id=rid, singular=_pascal(side, "PortRange"), plural=_pascal(side, "PortRanges")
        )
        yield Code.PARAMETER_CONFLICT, message, f"properties.{_camel(side, 'PortRange')}"
    if singular and parse_port_range(singular) is None:
        message = Message.INVALID_PORT_RANGE.format(value=singular)
        yield Code.INVALID_PORT_RANGE, message, f"properties.{_camel(side, 'PortRange')}"
    for j, value in enumerate(plural):
        path = f"properties.{_camel(side, 'PortRanges')}[{j}]"
        if value.strip() == "*":
            message = Message.INVALID_PORT_RANGES.format(
                parameter=_pascal(side, "PortRanges"), rule_id=rid, singular=_pascal(side, "PortRange"), value=value
            )
            yield Code.INVALID_PORT_RANGES, message, path
        elif parse_port_range(value) is None:
            yield Code.INVALID_PORT_RANGE, Message.INVALID_PORT_RANGE.format(value=value), path


def _address_problems(rid: str, rule: SecurityRule, side: str, tags: ServiceTags | None) -> Iterator[Problem]:
    singular: str | None = getattr(rule, f"{side}_address_prefix")
    plural: tuple[str, ...] = getattr(rule, f"{side}_address_prefixes")
    asgs: tuple[str, ...] = getattr(rule, f"{side}_asgs")
    if sum(map(bool, (singular, plural, asgs))) != 1:
        if asgs:
            message = Message.ADDRESS_PARAMETER_CONFLICT.format(
                rule_id=rid,
                singular=_pascal(side, "AddressPrefix"),
                plural=_pascal(side, "AddressPrefixes"),
                asgs=_pascal(side, "ApplicationSecurityGroups"),
            )
        else:
            message = Message.PARAMETER_CONFLICT.format(
                rule_id=rid, singular=_pascal(side, "AddressPrefix"), plural=_pascal(side, "AddressPrefixes")
            )
        yield Code.PARAMETER_CONFLICT, message, f"properties.{_camel(side, 'AddressPrefix')}"
    if (
        singular
        and singular.strip() != "*"
        and parse_prefix(singular) is None
        and canonical_tag(singular, tags) is None
    ):
        message = Message.INVALID_ADDRESS_PREFIX.format(rule_id=rid, value=singular)
        yield Code.INVALID_ADDRESS_PREFIX, message, f"properties.{_camel(side, 'AddressPrefix')}"
    for j, value in enumerate(plural):
        path = f"properties.{_camel(side, 'AddressPrefixes')}[{j}]"
        if parse_prefix(value) is not None:
            continue
        if is_known_tag(value, tags):
            message = Message.UNSUPPORTED_VALUE.format(
                parameter=_pascal(side, "AddressPrefix"), rule_id=rid, value=value
            )
            yield Code.UNSUPPORTED_VALUE, message, path
        else:
            yield (
                Code.INVALID_ADDRESS_PREFIX,
                Message.INVALID_ADDRESS_PREFIX.format(rule_id=rid, value=value),
                path,
            )


def service_tag_hint(code: str, message: str, tags: ServiceTags | None) -> str | None:
    """What to do when a rule's address looks like a service tag that is not known (most real NSGs use tags)."""
    if code != Code.INVALID_ADDRESS_PREFIX:
        return None
    value = message.rpartition("Value provided: ")[2].strip()  # the end of Message.INVALID_ADDRESS_PREFIX
    if not TAG_LIKE.match(value):
        return None
    if tags is None:
        return (
            f"'{value}' looks like a service tag: service tags need Azure's \"Service Tags – Public\" file. "
            "Pass it with --service-tags FILE (or set OPENNSG_SERVICE_TAGS), "
            "or run 'opennsg service-tags update' once to download and cache the current one."
        )
    where = tags.source or "the service tags file"
    known = tags.get(value)
    if known is not None:
        return f"The service tag '{known.name}' of {where} cannot be used in NSG rules (no 'NSG' network feature)."
    return f"'{value}' is not a service tag of {where} (changeNumber {tags.change_number})."


def _asg_problems(rid: str, rule: SecurityRule, side: str, topology: Topology) -> Iterator[Problem]:
    asgs: tuple[str, ...] = getattr(rule, f"{side}_asgs")
    field = _camel(side, "ApplicationSecurityGroups")
    if len(asgs) > MAX_ASGS_PER_RULE_FIELD:
        message = Message.ASGS_PER_RULE_FIELD.format(
            limit=MAX_ASGS_PER_RULE_FIELD, count=len(asgs), field=_pascal(side, "ApplicationSecurityGroups")
        )
        yield Code.ASGS_PER_RULE_FIELD, message, f"properties.{field}"
    for j, asg_id in enumerate(asgs):
        if topology.asg(asg_id) is None:
            message = Message.INVALID_REFERENCE.format(referenced=asg_id, referrer=rid)
            yield Code.INVALID_REFERENCE, message, f"properties.{field}[{j}].id"


def _family_problems(rid: str, rule: SecurityRule, side: str) -> Iterator[Problem]:
    v4: str | None = None
    v6: str | None = None
    for value in getattr(rule, f"{side}_address_prefixes"):
        network = parse_prefix(value)
        if network is None:
            continue
        if isinstance(network, IPv4Network):
            v4 = v4 or value
        else:
            v6 = v6 or value
    if v4 and v6:
        message = Message.MIXED_FAMILIES.format(rule_id=rid, ipv4=v4, ipv6=v6)
        yield Code.MIXED_FAMILIES, message, f"properties.{_camel(side, 'AddressPrefixes')}"


@dataclass(frozen=True, slots=True)
class AsgMembership:
    """Per ASG key: how many IP configurations are members, and their VNets (key -> id as first written)."""

    counts: dict[str, int]
    vnets: dict[str, dict[str, str]]

    @classmethod
    def of(cls, topology: Topology) -> AsgMembership:
        counts: dict[str, int] = defaultdict(int)
        vnets: dict[str, dict[str, str]] = defaultdict(dict)
        for nic in topology.nics.values():
            for cfg in nic.ip_configurations:
                for asg_key in {id_key(a) for a in cfg.application_security_groups}:
                    counts[asg_key] += 1
                    if cfg.subnet:
                        vnet_id = parent_id(cfg.subnet)
                        vnets[asg_key].setdefault(id_key(vnet_id), vnet_id)
        return cls(dict(counts), dict(vnets))


_NO_MEMBERS = AsgMembership({}, {})  # what a rule naming no ASG is checked against (it reads no membership)


def _same_vnet_problems(rid: str, rule: SecurityRule, membership: AsgMembership) -> Iterator[Problem]:
    vnets: dict[str, str] = {}
    for asg_id in (*rule.source_asgs, *rule.destination_asgs):
        for key, vnet_id in sorted(membership.vnets.get(id_key(asg_id), {}).items()):
            vnets.setdefault(key, vnet_id)
    if len(vnets) > 1:
        message = Message.RULE_ASGS_SAME_VNET.format(rule_id=rid, vnets=", ".join(sorted(vnets.values())))
        yield Code.RULE_ASGS_SAME_VNET, message, "properties"


def _nsg_wide_problems(nsg: NetworkSecurityGroup) -> Iterator[tuple[str, str, str]]:
    by_slot: dict[tuple[str, int], SecurityRule] = {}
    for i, rule in enumerate(nsg.security_rules):
        slot = (rule.direction.value, rule.priority)
        existing = by_slot.get(slot)
        if existing is None:
            by_slot[slot] = rule
        else:
            message = Message.CONFLICT.format(new=rule.name, existing=existing.name)
            yield Code.CONFLICT, message, f"properties.securityRules[{i}].properties.priority"
    seen_names: set[str] = set()
    for i, rule in enumerate(nsg.security_rules):
        if rule.name.casefold() in seen_names:
            message = Message.DUPLICATE_RULE_NAME.format(nsg_id=nsg.id, name=rule.name)
            yield Code.DUPLICATE_RULE_NAME, message, f"properties.securityRules[{i}].name"
        seen_names.add(rule.name.casefold())
    for side in ("source", "destination"):
        count = sum(len(getattr(r, f"{side}_addresses")) for r in nsg.security_rules)
        if count > MAX_PREFIXES_PER_SIDE:
            message = Message.PREFIXES_PER_SIDE.format(
                nsg_id=nsg.id, count=count, side=side, limit=MAX_PREFIXES_PER_SIDE
            )
            yield Code.PREFIXES_PER_SIDE, message, "properties.securityRules"
    distinct_asgs = {id_key(a) for r in nsg.security_rules for a in (*r.source_asgs, *r.destination_asgs)}
    if len(distinct_asgs) > MAX_ASGS_PER_NSG:
        message = Message.ASGS_PER_NSG.format(nsg_id=nsg.id, count=len(distinct_asgs), limit=MAX_ASGS_PER_NSG)
        yield Code.ASGS_PER_NSG, message, "properties.securityRules"


def region_limit_findings(topology: Topology) -> Iterator[Finding]:
    for resources, limit, code, template in (
        (topology.nsgs.values(), MAX_NSGS_PER_REGION, Code.NSGS_PER_REGION, Message.NSGS_PER_REGION),
        (topology.asgs.values(), MAX_ASGS_PER_REGION, Code.ASGS_PER_REGION, Message.ASGS_PER_REGION),
    ):
        groups: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for resource in resources:
            groups[(resource.subscription_id.casefold(), resource.location.casefold())].append(resource)
        for group in groups.values():
            if len(group) > limit:
                first = group[0]
                message = template.format(
                    subscription=first.subscription_id, count=len(group), region=first.location, limit=limit
                )
                yield Finding(group[limit].id, ArmError(code, message, None))


def asg_membership_findings(topology: Topology, membership: AsgMembership) -> Iterator[Finding]:
    for asg in topology.asgs.values():
        count = membership.counts.get(asg.key, 0)
        if count > MAX_IP_CONFIGURATIONS_PER_ASG:
            message = Message.IP_CONFIGURATIONS_PER_ASG.format(
                asg_id=asg.id, count=count, limit=MAX_IP_CONFIGURATIONS_PER_ASG
            )
            yield Finding(asg.id, ArmError(Code.IP_CONFIGURATIONS_PER_ASG, message, None))
        asg_vnets = membership.vnets.get(asg.key, {})
        if len(asg_vnets) > 1:
            message = Message.ASG_NICS_SAME_VNET.format(asg_id=asg.id, vnets=", ".join(sorted(asg_vnets.values())))
            yield Finding(asg.id, ArmError(Code.ASG_NICS_SAME_VNET, message, None))
