"""The AVNM and private-endpoint model: parents from ids, scope through management groups, deployment (§11.6)."""

from __future__ import annotations

from opennsg.model import (
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
    NetworkInterface,
    NetworkManager,
    PrivateEndpoint,
    PrivateEndpointNetworkPolicies,
    Protocol,
    PublicIpAddress,
    SecurityAdminConfiguration,
    StaticMember,
    Subnet,
    Topology,
)

SUB = "00000000-0000-0000-0000-000000000001"
OTHER_SUB = "00000000-0000-0000-0000-000000000002"
NM = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkManagers/nm"
GROUP = f"{NM}/networkGroups/spokes"
CONFIG = f"{NM}/securityAdminConfigurations/cfg"
COLLECTION = f"{CONFIG}/ruleCollections/rc"
VNET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v1"


def _rule(name: str, priority: int) -> AdminRule:
    return AdminRule(
        id=f"{COLLECTION}/rules/{name}",
        name=name,
        priority=priority,
        direction=Direction.INBOUND,
        access=AdminAccess.DENY,
        protocol=AdminProtocol.ANY,
    )


def _estate(*statuses: DeploymentStatus, managers: tuple[NetworkManager, ...] | None = None) -> Topology:
    manager = NetworkManager(id=NM, name="nm", scope_subscriptions=(f"/subscriptions/{SUB}",))
    return Topology.of(
        network_managers=managers or (manager,),
        network_groups=[NetworkGroup(id=GROUP, name="spokes", member_type=GroupMemberType.VIRTUAL_NETWORK)],
        static_members=[StaticMember(id=f"{GROUP}/staticMembers/m1", name="m1", resource_id=VNET.upper())],
        security_admin_configurations=[SecurityAdminConfiguration(id=CONFIG, name="cfg")],
        admin_rule_collections=[AdminRuleCollection(id=COLLECTION, name="rc", applies_to_groups=(GROUP,))],
        admin_rules=[_rule("b", 20), _rule("a", 10)],
        deployment_statuses=statuses,
    )


def test_children_know_their_parents_and_are_listed_under_them() -> None:
    topo = _estate()
    rule = topo.admin_rule(f"{COLLECTION}/rules/A")
    assert rule is not None
    assert (rule.rule_collection_id, rule.configuration_id, rule.network_manager_id) == (COLLECTION, CONFIG, NM)
    assert rule.verify_name == "securityAdminRules/a"
    assert [r.name for r in topo.admin_rules_of(COLLECTION.upper())] == ["a", "b"]
    assert [c.name for c in topo.rule_collections_of(CONFIG)] == ["rc"]
    assert [c.name for c in topo.configurations_of(NM)] == ["cfg"]
    assert [g.name for g in topo.network_groups_of(NM)] == ["spokes"]
    assert [m.name for m in topo.static_members_of(GROUP)] == ["m1"]
    assert [g.name for g in topo.groups_with_member(VNET)] == ["spokes"]


def test_admin_protocol_any_means_every_protocol_as_nsg_star() -> None:
    assert AdminProtocol.ANY.protocol is Protocol.ANY
    assert AdminProtocol.parse("tcp") is AdminProtocol.TCP
    assert AdminProtocol.TCP.protocol is Protocol.TCP


def test_without_deployment_status_every_configuration_is_deployed_everywhere() -> None:
    topo = _estate()
    assert not topo.has_deployment_status(NM)
    assert topo.configuration_deployed(CONFIG, "westeurope")


def test_with_deployment_status_only_deployed_regions_count() -> None:
    deployed = DeploymentStatus(
        region="East US", deployment_status=DeploymentState.DEPLOYED, configuration_ids=(CONFIG,)
    )
    failed = DeploymentStatus(region="westus", deployment_status=DeploymentState.FAILED, configuration_ids=(CONFIG,))
    topo = _estate(deployed, failed)
    assert topo.has_deployment_status(NM)
    assert topo.configuration_deployed(CONFIG, "eastus")
    assert not topo.configuration_deployed(CONFIG, "westus")
    assert not topo.configuration_deployed(CONFIG, "northeurope")


def test_deployment_status_of_connectivity_does_not_count() -> None:
    other = DeploymentStatus(
        region="eastus",
        deployment_status=DeploymentState.DEPLOYED,
        configuration_ids=(CONFIG,),
        deployment_type="Connectivity",
    )
    assert not _estate(other).has_deployment_status(NM)


def test_deployment_status_naming_configuration_by_name() -> None:
    status = DeploymentStatus(
        region="eastus",
        deployment_status=DeploymentState.DEPLOYED,
        configuration_ids=("CFG",),
        deployment_type="AdminPolicy",
    )
    topo = _estate(status)
    assert topo.configuration_deployed(CONFIG, "eastus")
    assert not topo.configuration_deployed(CONFIG, "westus")


def test_scope_through_nested_management_groups() -> None:
    root = "/providers/Microsoft.Management/managementGroups/root"
    child = "/providers/Microsoft.Management/managementGroups/child"
    groups = [
        ManagementGroup(id=root, name="root", child_groups=(child,)),
        ManagementGroup(id=child, name="child", parent_id=root, subscriptions=(f"/subscriptions/{OTHER_SUB}",)),
    ]
    manager = NetworkManager(id=NM, name="nm", scope_management_groups=(root.upper(),))
    topo = Topology.of(network_managers=[manager], management_groups=groups)
    assert topo.management_groups_above(OTHER_SUB) == (child.casefold(), root.casefold())
    assert topo.manager_scopes_subscription(manager, OTHER_SUB)
    assert not topo.manager_scopes_subscription(manager, SUB)
    assert manager.has_management_group_scope


def test_network_intent_policy_mode_strongest_given_wins() -> None:
    both = SecurityAdminConfiguration(
        id=CONFIG,
        name="cfg",
        apply_on_network_intent_policy_based_services=(
            NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY,
            NetworkIntentPolicyBasedService.ALL,
        ),
    )
    assert both.network_intent_policy_mode is NetworkIntentPolicyBasedService.ALL
    assert (
        SecurityAdminConfiguration(id=CONFIG, name="c").network_intent_policy_mode
        is NetworkIntentPolicyBasedService.NONE
    )


def test_private_endpoint_found_from_either_side() -> None:
    nic_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/pe.nic"
    pe_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe"
    endpoint = PrivateEndpoint(id=pe_id, name="pe", network_interfaces=(nic_id,))
    nic = NetworkInterface(id=nic_id, name="pe.nic")
    only_endpoint = Topology.of(private_endpoints=[endpoint], nics=[nic])
    assert only_endpoint.private_endpoint_of_nic(nic_id.upper()) == endpoint
    only_nic = Topology.of(nics=[NetworkInterface(id=nic_id, name="pe.nic", private_endpoint=pe_id)])
    assert only_nic.is_private_endpoint_nic(nic_id)
    assert not Topology.of(nics=[nic]).is_private_endpoint_nic(nic_id)


def test_subnet_defaults_for_endpoint_policies_and_outbound_access() -> None:
    plain = Subnet(id=f"{VNET}/subnets/s", name="s")
    assert plain.endpoint_network_policies is PrivateEndpointNetworkPolicies.DISABLED
    assert plain.has_default_outbound_access
    private = Subnet(id=f"{VNET}/subnets/s", name="s", default_outbound_access=False)
    assert not private.has_default_outbound_access
    assert PrivateEndpointNetworkPolicies.NETWORK_SECURITY_GROUP_ENABLED.nsg_applies
    assert not PrivateEndpointNetworkPolicies.ROUTE_TABLE_ENABLED.nsg_applies


def test_public_ip_sku_closed_by_default() -> None:
    assert PublicIpAddress(id="/x", name="x", sku_name="Standard").closed_by_default
    assert not PublicIpAddress(id="/x", name="x", sku_name="basic").closed_by_default
    assert PublicIpAddress(id="/x", name="x").closed_by_default
