"""Which AVNM security admin rules reach a NIC (semantics §11.2, §11.6), per network manager, in evaluation order.

A configuration reaches a NIC's VNet when it is deployed in the VNet's region, the VNet's subscription is in its
manager's scope (listed, or under a listed management group), and one of its rule collections applies to a network
group that has the VNet as a member (``memberType: Subnet`` groups: the NIC's subnet, only). They never reach
private endpoints, NICs in the special subnets (gateway, firewall, bastion, route server, Application Gateway),
and, in VNets holding services with network intent policies, only as ``applyOnNetworkIntentPolicyBasedServices``
allows. A VNet's effective admin rules answer (semantics §11.5 shape 2), when given, says directly which rules are in
force on it and replaces the computation from the manager's resources (the subnet-level exceptions still apply).

Managers are ordered management-group-scoped first, then by id (case-insensitive); within a manager, the rules of
every collection that reaches the NIC form one list by priority, then collection name, then rule name.
"""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.model.avnm import (
    AdminAccess,
    AdminRule,
    GroupMemberType,
    NetworkIntentPolicyBasedService,
    SecurityAdminConfiguration,
)
from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import NetworkInterface, Subnet, VirtualNetwork
from opennsg.model.topology import Topology

#: Subnets admin rules do not apply to (semantics §11.2), by case-folded name.
EXEMPT_SUBNET_NAMES = frozenset(
    name.casefold()
    for name in (
        "GatewaySubnet",
        "AzureFirewallSubnet",
        "AzureFirewallManagementSubnet",
        "AzureBastionSubnet",
        "RouteServerSubnet",
    )
)
#: Delegations that make a subnet one of the gateway kinds admin rules skip (semantics §11.2), case-folded.
EXEMPT_SUBNET_DELEGATIONS = frozenset(
    d.casefold()
    for d in (
        "Microsoft.Network/applicationGateways",
        "Microsoft.Network/virtualNetworkGateways",
        "Microsoft.Network/vpnGateways",
        "Microsoft.Network/expressRouteGateways",
        "Microsoft.Network/virtualHubs",
    )
)
#: Delegations of services with network intent policies (semantics §11.2), case-folded.
NETWORK_INTENT_POLICY_DELEGATIONS = frozenset(
    d.casefold() for d in ("Microsoft.Sql/managedInstances", "Microsoft.Databricks/workspaces")
)
#: Admin accesses that still apply in a VNet with network intent policies under ``AllowRulesOnly``.
ALLOW_ACCESSES = frozenset({AdminAccess.ALLOW, AdminAccess.ALWAYS_ALLOW})


@dataclass(frozen=True, slots=True)
class AdminRuleSource:
    """One admin rule in force at a NIC, with the configuration it was deployed by (for flow logs' ``aclID``)."""

    rule: AdminRule
    configuration_id: str
    configuration_guid: str | None
    #: The rule collection's name (orders equal priorities, semantics §11.6).
    collection_name: str


@dataclass(frozen=True, slots=True)
class ManagerAdminRules:
    """One network manager's admin rules reaching a NIC's VNet, in evaluation order."""

    manager_id: str
    #: The VNet the rules apply at (reported as ``appliedTo``).
    virtual_network_id: str
    rules: tuple[AdminRuleSource, ...]


def subnet_exempt(subnet: Subnet) -> bool:
    """The subnet is one admin rules do not apply to at subnet level (semantics §11.2)."""
    if subnet.name.casefold() in EXEMPT_SUBNET_NAMES or subnet.application_gateway_ip_configurations:
        return True
    return any(d.casefold() in EXEMPT_SUBNET_DELEGATIONS for d in subnet.delegated_services)


def has_network_intent_policies(vnet: VirtualNetwork) -> bool:
    """The VNet holds a service with network intent policies (a subnet delegated to SQL MI or Databricks)."""
    return any(
        d.casefold() in NETWORK_INTENT_POLICY_DELEGATIONS for subnet in vnet.subnets for d in subnet.delegated_services
    )


def _intent_filter(configuration: SecurityAdminConfiguration, rule: AdminRule) -> bool:
    mode = configuration.network_intent_policy_mode
    if mode is NetworkIntentPolicyBasedService.ALL:
        return True
    return mode is NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY and rule.access in ALLOW_ACCESSES


def _order(rules: list[AdminRuleSource]) -> tuple[AdminRuleSource, ...]:
    return tuple(sorted(rules, key=lambda s: (s.rule.priority, s.collection_name.casefold(), s.rule.name.casefold())))


def _member_groups(topology: Topology, vnet: VirtualNetwork, subnet: Subnet | None) -> set[str]:
    """Id keys of the network groups reaching a NIC: VNet groups with its VNet, subnet groups with its subnet
    (``subnet`` None: the VNet itself, VNet groups only)."""
    keys: set[str] = set()
    for group in topology.groups_with_member(vnet.id):
        if group.effective_member_type is GroupMemberType.VIRTUAL_NETWORK:
            keys.add(group.key)
    for group in topology.groups_with_member(subnet.id) if subnet is not None else ():
        if group.effective_member_type is GroupMemberType.SUBNET:
            keys.add(group.key)
    return keys


def _from_managers(topology: Topology, vnet: VirtualNetwork, subnet: Subnet | None) -> dict[str, list[AdminRuleSource]]:
    groups = _member_groups(topology, vnet, subnet)
    if not groups:
        return {}
    intent = has_network_intent_policies(vnet)
    found: dict[str, list[AdminRuleSource]] = {}
    for manager in topology.network_managers.values():
        if not topology.manager_scopes_subscription(manager, vnet.subscription_id):
            continue
        for configuration in topology.configurations_of(manager.id):
            if not topology.configuration_deployed(configuration.id, vnet.location):
                continue
            for collection in topology.rule_collections_of(configuration.id):
                if not any(id_key(g) in groups for g in collection.applies_to_groups):
                    continue
                for rule in topology.admin_rules_of(collection.id):
                    if intent and not _intent_filter(configuration, rule):
                        continue
                    source = AdminRuleSource(rule, configuration.id, configuration.resource_guid, collection.name)
                    found.setdefault(manager.key, []).append(source)
    return found


def _from_effective_answer(topology: Topology, vnet: VirtualNetwork) -> dict[str, list[AdminRuleSource]] | None:
    answer = topology.effective_admin_rules.get(id_key(vnet.id))
    if answer is None:
        return None
    found: dict[str, list[AdminRuleSource]] = {}
    for entry in answer.rules:
        rule = entry.rule
        configuration = topology.security_admin_configuration(rule.configuration_id)
        guid = configuration.resource_guid if configuration is not None else None
        source = AdminRuleSource(rule, rule.configuration_id, guid, name_of(rule.rule_collection_id))
        found.setdefault(id_key(rule.network_manager_id), []).append(source)
    return found


def _manager_order(topology: Topology, manager_key: str) -> tuple[int, str]:
    manager = topology.network_managers.get(manager_key)
    return (0 if manager is not None and manager.has_management_group_scope else 1, manager_key)


def admin_rules_for(topology: Topology, nic: NetworkInterface) -> tuple[ManagerAdminRules, ...]:
    """The admin rules reaching ``nic``, one entry per network manager in evaluation order (see module docstring)."""
    if topology.is_private_endpoint_nic(nic.id):
        return ()
    subnet = topology.subnet(nic.subnet)
    vnet = topology.vnet_of_subnet(subnet.id) if subnet else None
    if subnet is None or vnet is None or subnet_exempt(subnet):
        return ()
    return _ordered(topology, vnet, subnet)


def admin_rules_for_vnet(topology: Topology, vnet_id: str) -> tuple[ManagerAdminRules, ...]:
    """The admin rules in force on a VNet as a whole (its ``listNetworkManagerEffectiveSecurityAdminRules``): scope,
    deployment in its region, ``VirtualNetwork`` groups with it as a member, the network-intent filter, or its
    imported effective answer; subnet groups and the subnet-level exceptions are per NIC (``admin_rules_for``)."""
    vnet = topology.vnet(vnet_id)
    return _ordered(topology, vnet, None) if vnet is not None else ()


def _ordered(topology: Topology, vnet: VirtualNetwork, subnet: Subnet | None) -> tuple[ManagerAdminRules, ...]:
    found = _from_effective_answer(topology, vnet)
    if found is None:
        found = _from_managers(topology, vnet, subnet)
    out = []
    for key in sorted(found, key=lambda k: _manager_order(topology, k)):
        sources = found[key]
        manager = topology.network_managers.get(key)
        manager_id = manager.id if manager is not None else sources[0].rule.network_manager_id
        out.append(ManagerAdminRules(manager_id, vnet.id, _order(sources)))
    return tuple(out)
