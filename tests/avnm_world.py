"""A small builder of AVNM resources (§11.1) on top of ``conftest.World``, for the §11/§12 conformance tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from conftest import SUB, World, rid
from opennsg.model import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    AdminRule,
    AdminRuleCollection,
    DeploymentState,
    DeploymentStatus,
    Direction,
    GroupMemberType,
    ManagementGroup,
    NetworkGroup,
    NetworkIntentPolicyBasedService,
    NetworkManager,
    SecurityAdminConfiguration,
    StaticMember,
    Topology,
)

VNET = rid("virtualNetworks", "vnet")
MG_ROOT = "/providers/Microsoft.Management/managementGroups/root"
MG_CHILD = "/providers/Microsoft.Management/managementGroups/child"


def items(*texts: str) -> tuple[AddressPrefixItem, ...]:
    """Address items: ``*`` and CIDRs are IPPrefix, ids starting with ``/`` NetworkGroup, the rest ServiceTag."""
    out = []
    for text in texts:
        if text == "*" or text[0].isdigit() or ":" in text:
            kind = AddressPrefixType.IP_PREFIX
        elif text.startswith("/"):
            kind = AddressPrefixType.NETWORK_GROUP
        else:
            kind = AddressPrefixType.SERVICE_TAG
        out.append(AddressPrefixItem(text, kind))
    return tuple(out)


@dataclass
class Avnm:
    """AVNM resources to add to a ``World``'s topology."""

    managers: list[NetworkManager] = field(default_factory=list)
    groups: list[NetworkGroup] = field(default_factory=list)
    members: list[StaticMember] = field(default_factory=list)
    configurations: list[SecurityAdminConfiguration] = field(default_factory=list)
    collections: list[AdminRuleCollection] = field(default_factory=list)
    rules: list[AdminRule] = field(default_factory=list)
    statuses: list[DeploymentStatus] = field(default_factory=list)
    management_groups: list[ManagementGroup] = field(default_factory=list)

    def manager(
        self, name: str = "nm", subscriptions: tuple[str, ...] = (SUB,), management_groups: tuple[str, ...] = ()
    ) -> str:
        manager_id = rid("networkManagers", name)
        self.managers.append(
            NetworkManager(
                id=manager_id,
                name=name,
                location="westus",
                scope_subscriptions=tuple(f"/subscriptions/{s}" for s in subscriptions),
                scope_management_groups=management_groups,
            )
        )
        return manager_id

    def group(self, manager_id: str, name: str, *members: str, member_type: str = "VirtualNetwork") -> str:
        group_id = f"{manager_id}/networkGroups/{name}"
        kind = GroupMemberType.parse(member_type)
        assert isinstance(kind, GroupMemberType)
        self.groups.append(NetworkGroup(id=group_id, name=name, member_type=kind))
        for i, member in enumerate(members):
            self.members.append(StaticMember(id=f"{group_id}/staticMembers/m{i}", name=f"m{i}", resource_id=member))
        return group_id

    def configuration(self, manager_id: str, name: str = "cfg", intent: tuple[str, ...] = ()) -> str:
        configuration_id = f"{manager_id}/securityAdminConfigurations/{name}"
        modes = tuple(NetworkIntentPolicyBasedService(m) for m in intent)
        self.configurations.append(
            SecurityAdminConfiguration(
                id=configuration_id,
                name=name,
                apply_on_network_intent_policy_based_services=modes,
                resource_guid=str(uuid.uuid5(uuid.NAMESPACE_URL, configuration_id.casefold())),
            )
        )
        return configuration_id

    def collection(self, configuration_id: str, name: str, *groups: str) -> str:
        collection_id = f"{configuration_id}/ruleCollections/{name}"
        self.collections.append(AdminRuleCollection(id=collection_id, name=name, applies_to_groups=groups))
        return collection_id

    def rule(
        self,
        collection_id: str,
        name: str,
        priority: int,
        direction: str,
        access: str,
        protocol: str = "Any",
        sources: tuple[str, ...] = ("*",),
        destinations: tuple[str, ...] = ("*",),
        destination_ports: tuple[str, ...] = (),
        source_ports: tuple[str, ...] = (),
    ) -> str:
        rule_id = f"{collection_id}/rules/{name}"
        parsed_direction = Direction.parse(direction)
        parsed_access = AdminAccess.parse(access)
        parsed_protocol = AdminProtocol.parse(protocol)
        assert isinstance(parsed_direction, Direction) and isinstance(parsed_access, AdminAccess)
        assert isinstance(parsed_protocol, AdminProtocol)
        self.rules.append(
            AdminRule(
                id=rule_id, name=name, priority=priority, direction=parsed_direction, access=parsed_access,
                protocol=parsed_protocol, sources=items(*sources), destinations=items(*destinations),
                source_port_ranges=source_ports, destination_port_ranges=destination_ports,
            )
        )  # fmt: skip
        return rule_id

    def deployed(self, configuration_id: str, region: str = "westus", state: str = "Deployed") -> None:
        parsed = DeploymentState.parse(state)
        assert isinstance(parsed, DeploymentState)
        self.statuses.append(
            DeploymentStatus(region=region, deployment_status=parsed, configuration_ids=(configuration_id,))
        )

    def simple(self, *rules: tuple[str, int, str, str, dict[str, object]]) -> tuple[str, str]:
        """One manager scoped to the subscription, one configuration, one collection for a group holding the
        World's VNet, with ``rules`` (name, priority, direction, access, keyword arguments).

        Returns the manager id and the collection id."""
        manager_id = self.manager()
        group_id = self.group(manager_id, "all", VNET)
        collection_id = self.collection(self.configuration(manager_id), "rc", group_id)
        for name, priority, direction, access, kwargs in rules:
            self.rule(collection_id, name, priority, direction, access, **kwargs)  # type: ignore[arg-type]
        return manager_id, collection_id

    def onto(self, topology: Topology) -> Topology:
        return topology.with_(
            network_managers=self.managers,
            network_groups=self.groups,
            static_members=self.members,
            security_admin_configurations=self.configurations,
            admin_rule_collections=self.collections,
            admin_rules=self.rules,
            deployment_statuses=self.statuses,
            management_groups=self.management_groups,
        )


def topology_of(world: World, avnm: Avnm) -> Topology:
    return avnm.onto(world.topology())
