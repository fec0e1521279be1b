"""Azure Virtual Network Manager's resources (semantics §11): groups, members, configurations, admin rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from ipaddress import IPv4Network

from opennsg.model.avnm import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminRule,
    AdminRuleCollection,
    GroupMemberType,
    StaticMember,
)
from opennsg.model.errors import ArmError
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.policy import MAX_ADMIN_RULE_PRIORITY, MAX_DESCRIPTION_LENGTH, MIN_ADMIN_RULE_PRIORITY
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import Finding, Problem, canonical_tag, name_finding, reference
from opennsg.model.values import parse_port_range, parse_prefix


def avnm_findings(topology: Topology) -> Iterator[Finding]:
    """Every problem of the network managers' resources, as ARM would refuse each PUT (and each commit)."""
    yield from _avnm_parent_findings(topology)
    for group in topology.network_groups.values():
        yield from name_finding(group.id, group.name)
    for member in topology.static_members.values():
        yield from _static_member_findings(topology, member)
    for configuration in topology.security_admin_configurations.values():
        yield from name_finding(configuration.id, configuration.name)
    for collection in topology.admin_rule_collections.values():
        yield from name_finding(collection.id, collection.name)
        yield from _rule_collection_findings(topology, collection)
    for rule in topology.admin_rules.values():
        yield from name_finding(rule.id, rule.name)
        for code, message, target in admin_rule_problems(rule, topology):
            yield Finding(rule.id, ArmError(code, message, target))
    yield from _admin_priority_conflicts(topology)
    yield from _deployment_findings(topology)


def _avnm_parent_findings(topology: Topology) -> Iterator[Finding]:
    """A child given without its parent (ARM would answer the PUT with "parent not found")."""
    children: list[tuple[str, str, bool]] = [
        *((g.id, g.network_manager_id, topology.network_manager(g.network_manager_id) is not None)
          for g in topology.network_groups.values()),
        *((m.id, m.network_group_id, topology.network_group(m.network_group_id) is not None)
          for m in topology.static_members.values()),
        *((c.id, c.network_manager_id, topology.network_manager(c.network_manager_id) is not None)
          for c in topology.security_admin_configurations.values()),
        *((c.id, c.configuration_id, topology.security_admin_configuration(c.configuration_id) is not None)
          for c in topology.admin_rule_collections.values()),
        *((r.id, r.rule_collection_id, topology.admin_rule_collection(r.rule_collection_id) is not None)
          for r in topology.admin_rules.values()),
    ]  # fmt: skip
    for child_id, parent, exists in children:
        yield from reference(child_id, parent, exists, child_id, "id")


def _static_member_findings(topology: Topology, member: StaticMember) -> Iterator[Finding]:
    yield from name_finding(member.id, member.name)
    group = topology.network_group(member.network_group_id)
    if group is None:
        return
    parsed = ResourceId.parse(member.resource_id)
    actual = parsed.type.casefold() if parsed else ""
    wanted = group.effective_member_type
    expected = {
        GroupMemberType.VIRTUAL_NETWORK: "microsoft.network/virtualnetworks",
        GroupMemberType.SUBNET: "microsoft.network/virtualnetworks/subnets",
    }[wanted]
    if actual != expected:
        message = Message.STATIC_MEMBER_TYPE_MISMATCH.format(
            member_id=member.id,
            resource_id=member.resource_id,
            expected="subnet" if wanted is GroupMemberType.SUBNET else "virtual network",
            group_id=group.id,
            member_type=wanted.value,
        )
        yield Finding(member.id, ArmError(Code.STATIC_MEMBER_TYPE_MISMATCH, message, "properties.resourceId"))


def _rule_collection_findings(topology: Topology, collection: AdminRuleCollection) -> Iterator[Finding]:
    for i, group_id in enumerate(collection.applies_to_groups):
        target = f"properties.appliesToGroups[{i}].networkGroupId"
        group = topology.network_group(group_id)
        if group is None:
            message = Message.RULE_COLLECTION_GROUP_NOT_FOUND.format(collection_id=collection.id, group_id=group_id)
            yield Finding(collection.id, ArmError(Code.RULE_COLLECTION_GROUP_NOT_FOUND, message, target))
        elif id_key(group.network_manager_id) != id_key(collection.network_manager_id):
            message = Message.RULE_COLLECTION_GROUP_OF_OTHER_MANAGER.format(
                collection_id=collection.id, group_id=group_id, manager_id=collection.network_manager_id
            )
            yield Finding(collection.id, ArmError(Code.RULE_COLLECTION_GROUP_OF_OTHER_MANAGER, message, target))


def admin_rule_problems(rule: AdminRule, topology: Topology) -> Iterator[Problem]:
    """One admin rule's own problems (priority range, ports, addresses, description), targets in its JSON."""
    if not MIN_ADMIN_RULE_PRIORITY <= rule.priority <= MAX_ADMIN_RULE_PRIORITY:
        message = Message.ADMIN_RULE_INVALID_PRIORITY.format(rule_id=rule.id, priority=rule.priority)
        yield Code.ADMIN_RULE_INVALID_PRIORITY, message, "properties.priority"
    if rule.description is not None and len(rule.description) > MAX_DESCRIPTION_LENGTH:
        message = Message.ADMIN_RULE_DESCRIPTION_TOO_LONG.format(
            rule_id=rule.id, length=len(rule.description), max_length=MAX_DESCRIPTION_LENGTH
        )
        yield Code.ADMIN_RULE_DESCRIPTION_TOO_LONG, message, "properties.description"
    for field_name, ports in (
        ("sourcePortRanges", rule.source_port_ranges),
        ("destinationPortRanges", rule.destination_port_ranges),
    ):
        for j, value in enumerate(ports):
            if value.strip() == "*" or parse_port_range(value) is None:
                message = Message.ADMIN_RULE_INVALID_PORT_RANGE.format(rule_id=rule.id, value=value)
                yield Code.ADMIN_RULE_INVALID_PORT_RANGE, message, f"properties.{field_name}[{j}]"
    for field_name, items in (("sources", rule.sources), ("destinations", rule.destinations)):
        yield from _admin_address_problems(rule, field_name, items, topology)


def _admin_address_problems(
    rule: AdminRule, field_name: str, items: tuple[AddressPrefixItem, ...], topology: Topology
) -> Iterator[Problem]:
    v4: str | None = None
    v6: str | None = None
    for j, item in enumerate(items):
        path = f"properties.{field_name}[{j}].addressPrefix"
        value = item.address_prefix
        expected: str | None = None
        if item.address_prefix_type is AddressPrefixType.IP_PREFIX:
            network = parse_prefix(value)
            if network is None and value.strip() != "*":
                expected = "expected '*', an IP address or a CIDR prefix"
            elif isinstance(network, IPv4Network):
                v4 = v4 or value
            elif network is not None:
                v6 = v6 or value
        elif item.address_prefix_type is AddressPrefixType.SERVICE_TAG:
            if canonical_tag(value, topology.service_tags) is None:
                expected = "expected a service tag usable in security rules"
        elif topology.network_group(value) is None:
            message = Message.INVALID_REFERENCE.format(referenced=value, referrer=rule.id)
            yield Code.INVALID_REFERENCE, message, path
        if expected is not None:
            message = Message.ADMIN_RULE_INVALID_ADDRESS_PREFIX.format(
                rule_id=rule.id, value=value, prefix_type=item.address_prefix_type.value, expected=expected
            )
            yield Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX, message, path
    if v4 and v6:
        message = Message.ADMIN_RULE_MIXED_FAMILIES.format(rule_id=rule.id, side=field_name, ipv4=v4, ipv6=v6)
        yield Code.MIXED_FAMILIES, message, f"properties.{field_name}"


def _admin_priority_conflicts(topology: Topology) -> Iterator[Finding]:
    for collection_key in sorted({id_key(r.rule_collection_id) for r in topology.admin_rules.values()}):
        seen: dict[int, AdminRule] = {}
        for rule in topology.admin_rules_of(collection_key):
            existing = seen.setdefault(rule.priority, rule)
            if existing is not rule:
                message = Message.ADMIN_RULE_PRIORITY_CONFLICT.format(
                    new=rule.name, existing=existing.name, collection_id=rule.rule_collection_id
                )
                yield Finding(rule.id, ArmError(Code.ADMIN_RULE_PRIORITY_CONFLICT, message, "properties.priority"))


def deployed_configurations_by_region(topology: Topology, manager_id: str) -> dict[str, list[str]]:
    """Region -> ids of this manager's configurations a deployment status lists as ``Deployed`` there."""
    out: dict[str, list[str]] = defaultdict(list)
    for configuration in topology.configurations_of(manager_id):
        regions = {
            "".join(status.region.split()).casefold(): status.region
            for status in topology.deployment_statuses
            if topology.configuration_deployed(configuration.id, status.region)
        }
        for region in regions.values():
            out[region].append(configuration.id)
    return out


def _deployment_findings(topology: Topology) -> Iterator[Finding]:
    for manager in topology.network_managers.values():
        if not topology.has_deployment_status(manager.id):
            continue
        for region, configurations in sorted(deployed_configurations_by_region(topology, manager.id).items()):
            if len(configurations) > 1:
                message = Message.CONFIGURATIONS_PER_REGION.format(
                    manager_id=manager.id,
                    count=len(configurations),
                    region=region,
                    configurations=", ".join(configurations),
                )
                yield Finding(manager.id, ArmError(Code.CONFIGURATIONS_PER_REGION, message, None))


def topology_notes(topology: Topology) -> list[str]:
    """What ``validate`` says besides problems: the project decisions that shaped the answer (semantics §11.6)."""
    notes: list[str] = []
    for manager in sorted(topology.network_managers.values(), key=lambda m: m.key):
        configurations = topology.configurations_of(manager.id)
        if configurations and not topology.has_deployment_status(manager.id):
            notes.append(
                Message.NO_DEPLOYMENT_STATUS.format(
                    manager_id=manager.id, configurations=", ".join(c.name for c in configurations)
                )
            )
    return notes
