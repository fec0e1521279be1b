"""Azure Virtual Network Manager resources (semantics §11.1): managers, network groups and their static members,
security admin configurations, rule collections and admin rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.avnm import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    AdminRule,
    AdminRuleCollection,
    AdminRuleKind,
    GroupMemberType,
    NetworkGroup,
    NetworkIntentPolicyBasedService,
    NetworkManager,
    ScopeAccess,
    SecurityAdminConfiguration,
    StaticMember,
)
from opennsg.model.enums import Direction
from opennsg.model.validation import Code


def parse_network_manager(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkManager:
    props, pp = properties_of(body, path)
    scopes = reader.get(props, "networkManagerScopes")
    subscriptions: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    if isinstance(scopes, Mapping):
        subscriptions = reader.texts(scopes, "subscriptions", f"{pp}networkManagerScopes.")
        groups = reader.texts(scopes, "managementGroups", f"{pp}networkManagerScopes.")
    elif scopes is None:
        reader.missing("networkManagerScopes", f"{pp}networkManagerScopes")
    else:
        reader.invalid("networkManagerScopes", f"{pp}networkManagerScopes", "an object", scopes)
    return NetworkManager(
        **reader.tracked(body, resource_id, path),
        description=reader.text(props, "description", pp),
        scope_subscriptions=subscriptions,
        scope_management_groups=groups,
        scope_accesses=reader.enums(
            props,
            "networkManagerScopeAccesses",
            pp,
            ScopeAccess,
            Code.INVALID_SCOPE_ACCESS,
            subject=f"Network manager {resource_id}",
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_network_group(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkGroup:
    props, pp = properties_of(body, path)
    return NetworkGroup(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        description=reader.text(props, "description", pp),
        member_type=reader.enum(
            props, "memberType", pp, GroupMemberType, Code.INVALID_MEMBER_TYPE, subject=f"Network group {resource_id}"
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_static_member(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> StaticMember:
    props, pp = properties_of(body, path)
    return StaticMember(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        resource_id=reader.text(props, "resourceId", pp, required=True) or "",
        region=reader.text(props, "region", pp),
    )


def parse_security_admin_configuration(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = ""
) -> SecurityAdminConfiguration:
    props, pp = properties_of(body, path)
    return SecurityAdminConfiguration(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        description=reader.text(props, "description", pp),
        apply_on_network_intent_policy_based_services=reader.enums(
            props,
            "applyOnNetworkIntentPolicyBasedServices",
            pp,
            NetworkIntentPolicyBasedService,
            Code.INVALID_NETWORK_INTENT_POLICY_SERVICE,
            subject=f"Security admin configuration {resource_id}",
        ),
        network_group_address_space_aggregation_option=reader.text(
            props, "networkGroupAddressSpaceAggregationOption", pp
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_rule_collection(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = ""
) -> AdminRuleCollection:
    props, pp = properties_of(body, path)
    groups: list[str] = []
    if reader.get(props, "appliesToGroups") is None:
        reader.missing("appliesToGroups", f"{pp}appliesToGroups")
    for item, ipath in reader.objects(props, "appliesToGroups", pp):
        group = reader.text(item, "networkGroupId", ipath, required=True)
        if group:
            groups.append(group)
    return AdminRuleCollection(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        applies_to_groups=tuple(groups),
        description=reader.text(props, "description", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def _address_items(
    props: Mapping[str, Any], name: str, reader: Reader, path: str, rule_id: str
) -> tuple[AddressPrefixItem, ...]:
    out: list[AddressPrefixItem] = []
    for item, ipath in reader.objects(props, name, path):
        prefix = reader.text(item, "addressPrefix", ipath, required=True)
        kind = reader.enum(
            item,
            "addressPrefixType",
            ipath,
            AddressPrefixType,
            Code.INVALID_ADDRESS_PREFIX_TYPE,
            required=True,
            subject=f"Security admin rule {rule_id}",
        )
        if prefix is not None and kind is not None:
            out.append(AddressPrefixItem(prefix, kind))
    return tuple(out)


def parse_admin_rule(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> AdminRule | None:
    """A security admin rule, ``kind`` Custom or Default (``kind`` is outside ``properties`` in both shapes).

    An absent ``kind`` means ``Custom``: the only kind a client creates (Default rules are Azure's, read-only), and
    azure-mgmt-network 33 sends no ``kind`` for its ``AdminRule`` model."""
    before = len(reader.problems)
    props, pp = properties_of(body, path)
    subject = f"Security admin rule {resource_id}"
    kind = reader.enum(body, "kind", path, AdminRuleKind, Code.INVALID_ADMIN_RULE_KIND, subject=subject)
    protocol = reader.enum(
        props, "protocol", pp, AdminProtocol, Code.INVALID_ADMIN_RULE_PROTOCOL, required=True, subject=subject
    )
    access = reader.enum(
        props, "access", pp, AdminAccess, Code.INVALID_ADMIN_RULE_ACCESS, required=True, subject=subject
    )
    direction = reader.enum(
        props, "direction", pp, Direction, Code.INVALID_ADMIN_RULE_DIRECTION, required=True, subject=subject
    )
    priority = reader.integer(props, "priority", pp, required=True)
    rule = AdminRule(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        priority=priority if priority is not None else 0,
        direction=direction or Direction.INBOUND,
        access=access or AdminAccess.DENY,
        protocol=protocol or AdminProtocol.ANY,
        kind=kind or AdminRuleKind.CUSTOM,
        sources=_address_items(props, "sources", reader, pp, resource_id),
        destinations=_address_items(props, "destinations", reader, pp, resource_id),
        source_port_ranges=reader.texts(props, "sourcePortRanges", pp),
        destination_port_ranges=reader.texts(props, "destinationPortRanges", pp),
        description=reader.text(props, "description", pp),
        flag=reader.text(props, "flag", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )
    return rule if len(reader.problems) == before else None
