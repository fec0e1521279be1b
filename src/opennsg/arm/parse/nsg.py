"""Network security groups, their security rules (user and default) and application security groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.defaults import default_security_rules
from opennsg.model.enums import Access, Direction, Protocol
from opennsg.model.ids import id_key
from opennsg.model.resources import ApplicationSecurityGroup, NetworkSecurityGroup, SecurityRule
from opennsg.model.validation import Code, Message

_ENUMS: tuple[tuple[str, type[Protocol] | type[Access] | type[Direction], str], ...] = (
    ("protocol", Protocol, Code.INVALID_PROTOCOL),
    ("access", Access, Code.INVALID_ACCESS),
    ("direction", Direction, Code.INVALID_DIRECTION),
)


def parse_rule(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "", *, is_default: bool = False
) -> SecurityRule | None:
    """A security rule (user or default); ``resource_id`` is its ARM id."""
    before = len(reader.problems)
    name = reader.name(body, resource_id, path)
    props, pp = properties_of(body, path)
    enums: dict[str, Any] = {}
    for prop, enum, code in _ENUMS:
        raw = reader.text(props, prop, pp, required=True)
        if raw is None:
            continue
        member = enum.parse(raw)
        if member is None:
            allowed = ", ".join(m.value for m in enum)
            message = Message.INVALID_ENUM.format(
                rule_id=resource_id, property=prop.capitalize(), value=raw, allowed=allowed
            )
            reader.add(code, message, f"{pp}{prop}")
        enums[prop] = member
    priority = reader.integer(props, "priority", pp, required=True)
    rule = SecurityRule(
        name=name,
        priority=priority if priority is not None else 0,
        direction=enums.get("direction") or Direction.INBOUND,
        access=enums.get("access") or Access.DENY,
        protocol=enums.get("protocol") or Protocol.ANY,
        source_address_prefix=reader.text(props, "sourceAddressPrefix", pp) or None,
        source_address_prefixes=reader.texts(props, "sourceAddressPrefixes", pp),
        source_asgs=reader.references(props, "sourceApplicationSecurityGroups", pp),
        source_port_range=reader.text(props, "sourcePortRange", pp) or None,
        source_port_ranges=reader.texts(props, "sourcePortRanges", pp),
        destination_address_prefix=reader.text(props, "destinationAddressPrefix", pp) or None,
        destination_address_prefixes=reader.texts(props, "destinationAddressPrefixes", pp),
        destination_asgs=reader.references(props, "destinationApplicationSecurityGroups", pp),
        destination_port_range=reader.text(props, "destinationPortRange", pp) or None,
        destination_port_ranges=reader.texts(props, "destinationPortRanges", pp),
        description=reader.text(props, "description", pp),
        is_default=is_default,
        id=resource_id,
    )
    return rule if len(reader.problems) == before else None


def _rule_meaning(rule: SecurityRule) -> tuple[object, ...]:
    """What a default rule says, ignoring spelling (for the read-only check)."""

    def fold(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().casefold() for v in values)

    return (
        rule.name.casefold(),
        rule.priority,
        rule.direction,
        rule.access,
        rule.protocol,
        fold(rule.source_addresses),
        fold(rule.destination_addresses),
        fold(rule.source_ports),
        fold(rule.destination_ports),
        rule.source_asgs,
        rule.destination_asgs,
    )


def check_default_rule(nsg_id: str, body: Mapping[str, Any], resource_id: str, reader: Reader, path: str) -> None:
    """A default rule given in input must be one of the six, unchanged: default rules are read-only."""
    given = parse_rule(body, resource_id, reader, path, is_default=True)
    if given is None:
        return
    standard = {r.name.casefold(): r for r in default_security_rules(nsg_id)}
    expected = standard.get(given.name.casefold())
    if expected is None or _rule_meaning(expected) != _rule_meaning(given):
        reader.add(
            Code.DEFAULT_RULE_READ_ONLY, Message.DEFAULT_RULE_READ_ONLY.format(name=given.name, nsg_id=nsg_id), path
        )


def parse_nsg(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkSecurityGroup:
    props, pp = properties_of(body, path)
    rules: list[SecurityRule] = []
    for child in reader.children(resource_id, "securityRules", props, pp):
        reader.rule_paths[id_key(child.id)] = (child.path, child.properties is child.body)
        rule = parse_rule(child.body, child.id, reader, child.path)
        if rule is not None:
            rules.append(rule)
    for child in reader.children(resource_id, "defaultSecurityRules", props, pp):
        check_default_rule(resource_id, child.body, child.id, reader, child.path)
    return NetworkSecurityGroup(
        **reader.tracked(body, resource_id, path),
        security_rules=tuple(rules),
        default_security_rules=default_security_rules(resource_id),
        flush_connection=reader.flag(props, "flushConnection", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_asg(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> ApplicationSecurityGroup:
    props, pp = properties_of(body, path)
    return ApplicationSecurityGroup(
        **reader.tracked(body, resource_id, path),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )
