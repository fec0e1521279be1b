"""Model values -> ARM JSON as a GET returns it (no etag: the service adds it), and whole topologies as lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse import GATEWAY_PREFIXES_PROPERTY, IP_CONFIGURATION_TYPE, KIND_TYPES
from opennsg.model.avnm import (
    AddressPrefixItem,
    AdminRule,
    AdminRuleCollection,
    AdminRuleKind,
    DeploymentStatus,
    ManagementGroup,
    NetworkGroup,
    NetworkManager,
    SecurityAdminConfiguration,
    StaticMember,
    VnetEffectiveAdminRules,
)
from opennsg.model.defaults import default_security_rules
from opennsg.model.flowlog import FlowLog, thawed_json
from opennsg.model.ids import id_key, name_of, resource_guid, subscription_scope_id
from opennsg.model.loadbalancer import LoadBalancer
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    IpConfiguration,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PrivateLinkServiceConnection,
    PublicIpAddress,
    Resource,
    RouteTable,
    SecurityRule,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.topology import Topology

SUCCEEDED = "Succeeded"

Exportable = (
    Resource
    | SecurityRule
    | Subnet
    | VirtualNetworkPeering
    | Subscription
    | NetworkGroup
    | StaticMember
    | SecurityAdminConfiguration
    | AdminRuleCollection
    | AdminRule
)


def _ref(resource_id: str | None) -> dict[str, str] | None:
    return {"id": resource_id} if resource_id else None


def _refs(ids: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _envelope(resource: Resource, kind: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": KIND_TYPES[kind],
        "location": resource.location,
        "tags": dict(resource.tags),
        "properties": {"provisioningState": SUCCEEDED, **_without_none(properties)},
    }


def rule_to_arm(rule: SecurityRule, nsg_id: str | None = None) -> dict[str, Any]:
    """A security rule (user or default). ARM echoes the unused plural fields as empty lists; so do we."""
    collection = "defaultSecurityRules" if rule.is_default else "securityRules"
    rule_id = rule.id or (f"{nsg_id}/{collection}/{rule.name}" if nsg_id else None)
    properties: dict[str, Any] = {
        "provisioningState": SUCCEEDED,
        "description": rule.description,
        "protocol": rule.protocol.value,
        "sourcePortRange": rule.source_port_range,
        "sourcePortRanges": list(rule.source_port_ranges),
        "destinationPortRange": rule.destination_port_range,
        "destinationPortRanges": list(rule.destination_port_ranges),
        "sourceAddressPrefix": rule.source_address_prefix,
        "sourceAddressPrefixes": list(rule.source_address_prefixes),
        "sourceApplicationSecurityGroups": _refs(rule.source_asgs) or None,
        "destinationAddressPrefix": rule.destination_address_prefix,
        "destinationAddressPrefixes": list(rule.destination_address_prefixes),
        "destinationApplicationSecurityGroups": _refs(rule.destination_asgs) or None,
        "access": rule.access.value,
        "priority": rule.priority,
        "direction": rule.direction.value,
    }
    return _without_none(
        {
            "id": rule_id,
            "name": rule.name,
            "type": f"{KIND_TYPES['networkSecurityGroups']}/{collection}",
            "properties": _without_none(properties),
        }
    )


def _nsg(nsg: NetworkSecurityGroup, topology: Topology | None) -> dict[str, Any]:
    defaults = nsg.default_security_rules or default_security_rules(nsg.id)
    properties: dict[str, Any] = {
        "resourceGuid": nsg.resource_guid,
        "flushConnection": nsg.flush_connection,
        "securityRules": [rule_to_arm(r, nsg.id) for r in nsg.security_rules],
        "defaultSecurityRules": [rule_to_arm(r, nsg.id) for r in defaults],
    }
    if topology is not None:
        subnets = topology.subnets_using_nsg(nsg.id)
        nics = topology.nics_using_nsg(nsg.id)
        properties["subnets"] = [{"id": s.id} for s in subnets] or None
        properties["networkInterfaces"] = [{"id": n.id} for n in nics] or None
    return _envelope(nsg, "networkSecurityGroups", properties)


def subnet_to_arm(subnet: Subnet) -> dict[str, Any]:
    prefixes = subnet.address_prefixes
    properties = {
        "provisioningState": SUCCEEDED,
        "addressPrefix": prefixes[0] if len(prefixes) == 1 else None,
        "addressPrefixes": list(prefixes) if len(prefixes) != 1 else None,
        "networkSecurityGroup": _ref(subnet.network_security_group),
        "routeTable": _ref(subnet.route_table),
        "natGateway": _ref(subnet.nat_gateway),
        "privateEndpointNetworkPolicies": (
            subnet.private_endpoint_network_policies.value if subnet.private_endpoint_network_policies else None
        ),
        "defaultOutboundAccess": subnet.default_outbound_access,
        "delegations": [
            {
                "id": f"{subnet.id}/delegations/{delegation.name}",
                "name": delegation.name,
                "type": f"{KIND_TYPES['subnets']}/delegations",
                "properties": {"provisioningState": SUCCEEDED, "serviceName": delegation.service_name},
            }
            for delegation in subnet.delegations
        ]
        or None,
        "applicationGatewayIPConfigurations": _refs(subnet.application_gateway_ip_configurations) or None,
        "serviceEndpoints": [
            _without_none(
                {
                    "provisioningState": SUCCEEDED,
                    "service": endpoint.service,
                    "locations": list(endpoint.locations) or None,
                    "networkIdentifier": _ref(endpoint.network_identifier),
                }
            )
            for endpoint in subnet.service_endpoints
        ]
        or None,
        "serviceEndpointPolicies": _refs(subnet.service_endpoint_policies) or None,
    }
    return {
        "id": subnet.id,
        "name": subnet.name,
        "type": KIND_TYPES["subnets"],
        "properties": _without_none(properties),
    }


def peering_to_arm(peering: VirtualNetworkPeering) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": SUCCEEDED,
        "peeringState": peering.peering_state,
        "remoteVirtualNetwork": _ref(peering.remote_virtual_network),
        "remoteAddressSpace": {"addressPrefixes": list(peering.remote_address_space)},
        "allowVirtualNetworkAccess": peering.allow_virtual_network_access,
        "allowForwardedTraffic": peering.allow_forwarded_traffic,
        "allowGatewayTransit": peering.allow_gateway_transit,
        "useRemoteGateways": peering.use_remote_gateways,
        "peerCompleteVnets": peering.peer_complete_vnets,
        "enableOnlyIPv6Peering": peering.enable_only_ipv6_peering,
    }
    if peering.local_subnet_names or not peering.peer_complete_vnets:
        properties["localSubnetNames"] = list(peering.local_subnet_names)
    if peering.remote_subnet_names or not peering.peer_complete_vnets:
        properties["remoteSubnetNames"] = list(peering.remote_subnet_names)
    return {
        "id": peering.id,
        "name": peering.name,
        "type": KIND_TYPES["virtualNetworkPeerings"],
        "properties": _without_none(properties),
    }


def _vnet(vnet: VirtualNetwork) -> dict[str, Any]:
    properties = {
        "resourceGuid": vnet.resource_guid,
        "addressSpace": {"addressPrefixes": list(vnet.address_space)},
        "subnets": [subnet_to_arm(s) for s in vnet.subnets],
        "virtualNetworkPeerings": [peering_to_arm(p) for p in vnet.peerings],
        "flowTimeoutInMinutes": vnet.flow_timeout_in_minutes,
        GATEWAY_PREFIXES_PROPERTY: list(vnet.gateway_prefixes) or None,
        "bgpCommunities": {"virtualNetworkCommunity": vnet.bgp_community} if vnet.bgp_community else None,
        "encryption": (
            _without_none({"enabled": vnet.encryption.enabled, "enforcement": vnet.encryption.enforcement})
            if vnet.encryption
            else None
        ),
    }
    return _envelope(vnet, "virtualNetworks", properties)


def _route_table(table: RouteTable) -> dict[str, Any]:
    routes = [
        {
            "id": f"{table.id}/routes/{route.name}",
            "name": route.name,
            "type": KIND_TYPES["routes"],
            "properties": _without_none(
                {
                    "provisioningState": SUCCEEDED,
                    "addressPrefix": route.address_prefix,
                    "nextHopType": route.next_hop_type,
                    "nextHopIpAddress": route.next_hop_ip_address,
                }
            ),
        }
        for route in table.routes
    ]
    properties = {"disableBgpRoutePropagation": table.disable_bgp_route_propagation, "routes": routes}
    return _envelope(table, "routeTables", properties)


def _ip_configuration(cfg: IpConfiguration) -> dict[str, Any]:
    properties = {
        "provisioningState": SUCCEEDED,
        "privateIPAddress": cfg.private_ip_block,
        "privateIPAllocationMethod": (
            cfg.private_ip_allocation_method.value if cfg.private_ip_allocation_method else None
        ),
        "privateIPAddressPrefixLength": cfg.private_ip_address_prefix_length,
        "privateIPAddressVersion": cfg.private_ip_address_version,
        "subnet": _ref(cfg.subnet),
        "primary": cfg.primary,
        "publicIPAddress": _ref(cfg.public_ip_address),
        "applicationSecurityGroups": _refs(cfg.application_security_groups) or None,
        "loadBalancerBackendAddressPools": _refs(cfg.load_balancer_backend_address_pools) or None,
        "loadBalancerInboundNatRules": _refs(cfg.load_balancer_inbound_nat_rules) or None,
        "gatewayLoadBalancer": _ref(cfg.gateway_load_balancer),
    }
    return {"id": cfg.id, "name": cfg.name, "type": IP_CONFIGURATION_TYPE, "properties": _without_none(properties)}


def _nic(nic: NetworkInterface) -> dict[str, Any]:
    properties = {
        "resourceGuid": nic.resource_guid,
        "ipConfigurations": [_ip_configuration(c) for c in nic.ip_configurations],
        "networkSecurityGroup": _ref(nic.network_security_group),
        "macAddress": nic.mac_address,
        "virtualMachine": _ref(nic.virtual_machine),
        "enableIPForwarding": nic.enable_ip_forwarding,
        "enableAcceleratedNetworking": nic.enable_accelerated_networking,
        "disableTcpStateTracking": nic.disable_tcp_state_tracking,
        "privateEndpoint": _ref(nic.private_endpoint),
    }
    return _envelope(nic, "networkInterfaces", properties)


def _vm(vm: VirtualMachine) -> dict[str, Any]:
    nics: list[dict[str, Any]] = []
    for nic_id in vm.network_interfaces:
        entry: dict[str, Any] = {"id": nic_id}
        if vm.primary_network_interface is not None:
            entry["properties"] = {"primary": nic_id == vm.primary_network_interface}
        nics.append(entry)
    return _envelope(vm, "virtualMachines", {"networkProfile": {"networkInterfaces": nics}})


def _sku(name: str | None, tier: str | None = None) -> dict[str, str] | None:
    return _without_none({"name": name, "tier": tier}) if name or tier else None


def _public_ip(address: PublicIpAddress) -> dict[str, Any]:
    properties = {
        "ipAddress": address.ip_address,
        "ipConfiguration": _ref(address.ip_configuration),
        "publicIPAddressVersion": address.public_ip_address_version,
        "publicIPAllocationMethod": (
            address.public_ip_allocation_method.value if address.public_ip_allocation_method else None
        ),
        "idleTimeoutInMinutes": address.idle_timeout_in_minutes,
        "dnsSettings": _public_ip_dns(address),
        "natGateway": _ref(address.nat_gateway),
    }
    return _without_none(
        {
            **_envelope(address, "publicIPAddresses", properties),
            "sku": _sku(address.sku_name, address.sku_tier),
            "zones": list(address.zones) or None,
        }
    )


def _public_ip_dns(address: PublicIpAddress) -> dict[str, str] | None:
    dns = address.dns_settings
    if dns is None:
        return None
    return _without_none(
        {
            "domainNameLabel": dns.domain_name_label,
            "domainNameLabelScope": dns.domain_name_label_scope,
            "fqdn": dns.fqdn,
            "reverseFqdn": dns.reverse_fqdn,
        }
    )


def _private_endpoint(endpoint: PrivateEndpoint) -> dict[str, Any]:
    properties = {
        "subnet": _ref(endpoint.subnet),
        "networkInterfaces": _refs(endpoint.network_interfaces),
        "applicationSecurityGroups": _refs(endpoint.application_security_groups),
        "ipConfigurations": [
            {
                "name": c.name,
                "properties": _without_none(
                    {"groupId": c.group_id, "memberName": c.member_name, "privateIPAddress": c.private_ip_address}
                ),
            }
            for c in endpoint.ip_configurations
        ],
        "privateLinkServiceConnections": [_connection(c) for c in endpoint.connections if not c.manual],
        "manualPrivateLinkServiceConnections": [_connection(c) for c in endpoint.connections if c.manual] or None,
        "customNetworkInterfaceName": endpoint.custom_network_interface_name,
        "ipVersionType": endpoint.ip_version_type,
    }
    return _envelope(endpoint, "privateEndpoints", properties)


def _connection(connection: PrivateLinkServiceConnection) -> dict[str, Any]:
    properties = {
        "provisioningState": SUCCEEDED,
        "privateLinkServiceId": connection.private_link_service_id,
        "groupIds": list(connection.group_ids) or None,
        "requestMessage": connection.request_message,
    }
    return {"name": connection.name, "properties": _without_none(properties)}


def _nat_gateway(gateway: NatGateway) -> dict[str, Any]:
    properties = {
        "resourceGuid": gateway.resource_guid,
        "idleTimeoutInMinutes": gateway.idle_timeout_in_minutes,
        "publicIpAddresses": _refs(gateway.public_ip_addresses),
        "publicIpPrefixes": _refs(gateway.public_ip_prefixes),
        "subnets": _refs(gateway.subnets) or None,
    }
    return _without_none({**_envelope(gateway, "natGateways", properties), "sku": _sku(gateway.sku_name)})


def _lb_child(name: str, child_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": child_id, "name": name, "properties": {"provisioningState": SUCCEEDED, **_without_none(properties)}}


def _load_balancer(lb: LoadBalancer) -> dict[str, Any]:
    properties = {
        "frontendIPConfigurations": [
            _lb_child(f.name, f.id, {
                "privateIPAddress": f.private_ip_address,
                "privateIPAllocationMethod": "Static" if f.private_ip_address else None,
                "publicIPAddress": _ref(f.public_ip_address),
                "subnet": _ref(f.subnet),
            })
            for f in lb.frontend_ip_configurations
        ],
        "backendAddressPools": [_lb_child(p.name, p.id, {}) for p in lb.backend_address_pools],
        "probes": [
            _lb_child(p.name, p.id, {
                "protocol": p.protocol.value, "port": p.port, "intervalInSeconds": p.interval_in_seconds,
                "requestPath": p.request_path,
            })
            for p in lb.probes
        ],
        "loadBalancingRules": [
            _lb_child(r.name, r.id, {
                "frontendIPConfiguration": _ref(r.frontend_ip_configuration),
                "backendAddressPool": _ref(r.backend_address_pool),
                "protocol": r.protocol.value, "frontendPort": r.frontend_port, "backendPort": r.backend_port,
                "probe": _ref(r.probe), "enableFloatingIP": r.enable_floating_ip,
            })
            for r in lb.load_balancing_rules
        ],
    }  # fmt: skip
    return {**_envelope(lb, "loadBalancers", properties), "sku": _sku(lb.sku)}


# --- AVNM (semantics §11.1) ----------------------------------------------------------------------------------


def _child(resource_id: str, name: str, kind: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": resource_id,
        "name": name,
        "type": KIND_TYPES[kind],
        "properties": {"provisioningState": SUCCEEDED, **_without_none(properties)},
    }


def _network_manager(manager: NetworkManager) -> dict[str, Any]:
    properties = {
        "description": manager.description,
        "networkManagerScopes": {
            "managementGroups": list(manager.scope_management_groups),
            "subscriptions": list(manager.scope_subscriptions),
        },
        "networkManagerScopeAccesses": [a.value for a in manager.scope_accesses],
        "resourceGuid": manager.resource_guid,
    }
    return _envelope(manager, "networkManagers", properties)


def _address_item(item: AddressPrefixItem) -> dict[str, str]:
    return {"addressPrefix": item.address_prefix, "addressPrefixType": item.address_prefix_type.value}


def admin_rule_properties(rule: AdminRule) -> dict[str, Any]:
    """An admin rule's ``properties`` as ARM returns them (also the body of effective and active rule answers)."""
    return _without_none(
        {
            "provisioningState": SUCCEEDED,
            "description": rule.description,
            "flag": rule.flag if rule.kind is AdminRuleKind.DEFAULT else None,
            "protocol": rule.protocol.value,
            "sources": [_address_item(i) for i in rule.sources],
            "destinations": [_address_item(i) for i in rule.destinations],
            "sourcePortRanges": list(rule.source_port_ranges),
            "destinationPortRanges": list(rule.destination_port_ranges),
            "access": rule.access.value,
            "priority": rule.priority,
            "direction": rule.direction.value,
            "resourceGuid": rule.resource_guid,
        }
    )


def _admin_rule(rule: AdminRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "type": KIND_TYPES["rules"],
        "kind": rule.kind.value,
        "properties": admin_rule_properties(rule),
    }


def deployment_status_to_arm(status: DeploymentStatus) -> dict[str, Any]:
    """One ``listDeploymentStatus`` entry."""
    return _without_none(
        {
            "commitTime": status.commit_time.isoformat().replace("+00:00", "Z") if status.commit_time else None,
            "region": status.region,
            "deploymentStatus": status.deployment_status.value,
            "configurationIds": list(status.configuration_ids),
            "deploymentType": status.deployment_type,
            "errorMessage": status.error_message or "",
        }
    )


def management_groups_to_arm(groups: Mapping[str, ManagementGroup]) -> list[dict[str, Any]]:
    """The management-group forest as ``az account management-group show --expand --recurse`` prints each root."""

    def node(group: ManagementGroup, seen: frozenset[str]) -> dict[str, Any]:
        children: list[dict[str, Any]] = []
        for child_id in group.child_groups:
            child = groups.get(id_key(child_id))
            if child is not None and child.key not in seen:
                children.append(node(child, seen | {child.key}))
        for subscription in group.subscriptions:
            children.append({"id": subscription, "name": name_of(subscription), "type": "/subscriptions"})
        out: dict[str, Any] = {
            "id": group.id,
            "name": group.name,
            "type": "Microsoft.Management/managementGroups",
            "displayName": group.display_name,
            "children": children,
        }
        if group.parent_id and id_key(group.parent_id) not in groups:
            out["details"] = {"parent": {"id": group.parent_id, "name": name_of(group.parent_id)}}
        return _without_none(out)

    roots = [g for g in groups.values() if not g.parent_id or id_key(g.parent_id) not in groups]
    return [node(root, frozenset({root.key})) for root in roots]


def effective_admin_rules_to_arm(answer: VnetEffectiveAdminRules) -> dict[str, Any]:
    """A VNet's effective admin rules answer, with OpenNSG's ``virtualNetworkId`` beside ``value``."""
    return {
        "virtualNetworkId": answer.virtual_network_id,
        "value": [
            _without_none(
                {
                    "id": entry.rule.id,
                    "configurationDescription": entry.configuration_description,
                    "ruleCollectionDescription": entry.rule_collection_description,
                    "ruleCollectionAppliesToGroups": [
                        {"networkGroupId": g} for g in entry.rule_collection_applies_to_groups
                    ],
                    "ruleGroups": [{"id": g} for g in entry.rule_groups],
                    "kind": entry.rule.kind.value,
                    "properties": admin_rule_properties(entry.rule),
                }
            )
            for entry in answer.rules
        ],
    }


def subscription_to_arm(subscription: Subscription) -> dict[str, Any]:
    """``GET /subscriptions/{id}`` plus OpenNSG's SMTP properties (semantics §0 "Outbound SMTP")."""
    out: dict[str, Any] = {
        "id": subscription_scope_id(subscription.subscription_id),
        "subscriptionId": subscription.subscription_id,
        "displayName": subscription.display_name,
        "state": "Enabled",
        "subscriptionPolicies": _without_none({"quotaId": subscription.quota_id}),
        "offerType": subscription.offer_type,
        "createdDate": subscription.created_date.isoformat() if subscription.created_date else None,
        "smtpExemption": subscription.smtp_exemption,
    }
    return _without_none(out)


def _avnm_child(
    resource: NetworkGroup | StaticMember | SecurityAdminConfiguration | AdminRuleCollection,
) -> dict[str, Any]:
    properties: dict[str, Any]
    if isinstance(resource, NetworkGroup):
        properties = {
            "description": resource.description,
            "memberType": resource.member_type.value if resource.member_type else None,
            "resourceGuid": resource.resource_guid,
        }
        return _child(resource.id, resource.name, "networkGroups", properties)
    if isinstance(resource, StaticMember):
        properties = {"resourceId": resource.resource_id, "region": resource.region}
        return _child(resource.id, resource.name, "staticMembers", properties)
    if isinstance(resource, SecurityAdminConfiguration):
        properties = {
            "description": resource.description,
            "applyOnNetworkIntentPolicyBasedServices": [
                s.value for s in resource.apply_on_network_intent_policy_based_services
            ],
            "networkGroupAddressSpaceAggregationOption": resource.network_group_address_space_aggregation_option,
            "resourceGuid": resource.resource_guid,
        }
        return _child(resource.id, resource.name, "securityAdminConfigurations", properties)
    if isinstance(resource, AdminRuleCollection):
        properties = {
            "description": resource.description,
            "appliesToGroups": [{"networkGroupId": g} for g in resource.applies_to_groups],
            "resourceGuid": resource.resource_guid,
        }
        return _child(resource.id, resource.name, "ruleCollections", properties)
    raise TypeError(f"cannot export {type(resource).__name__}")


def _target_guid(flow_log: FlowLog, topology: Topology) -> str | None:
    """``targetResourceGuid``: the target's ``resourceGuid`` (a stable derived one when its JSON gave none)."""
    resource = topology.flow_log_target(flow_log)
    if resource is None:
        return None
    return resource_guid(resource.id, getattr(resource, "resource_guid", None))


def flow_log_to_arm(flow_log: FlowLog, topology: Topology | None = None) -> dict[str, Any]:
    """A flow log as ARM answers it: ``format``, ``retentionPolicy`` and ``flowAnalyticsConfiguration`` always
    present (defaults filled in), ``targetResourceGuid`` from the target in ``topology``."""
    properties = {
        "targetResourceId": flow_log.target_resource_id,
        "targetResourceGuid": _target_guid(flow_log, topology) if topology is not None else None,
        "storageId": flow_log.storage_id,
        "enabledFilteringCriteria": flow_log.enabled_filtering_criteria,
        "recordTypes": flow_log.record_types,
        "enabled": flow_log.enabled,
        "flowAnalyticsConfiguration": thawed_json(flow_log.flow_analytics_configuration) or {},
        "retentionPolicy": {"days": flow_log.retention_days, "enabled": flow_log.retention_enabled},
        "format": {"type": flow_log.format_type.value, "version": flow_log.format_version},
    }
    body = _envelope(flow_log, "flowLogs", properties)
    identity = thawed_json(flow_log.identity)
    if identity is not None:
        body["identity"] = identity
    return body


def to_arm(resource: Exportable, topology: Topology | None = None) -> dict[str, Any]:
    """ARM JSON of one resource as a GET returns it; NSGs get ``subnets``/``networkInterfaces`` from ``topology``."""
    if isinstance(resource, SecurityRule):
        return rule_to_arm(resource)
    if isinstance(resource, Subnet):
        return subnet_to_arm(resource)
    if isinstance(resource, VirtualNetworkPeering):
        return peering_to_arm(resource)
    if isinstance(resource, Subscription):
        return subscription_to_arm(resource)
    if isinstance(resource, NetworkSecurityGroup):
        return _nsg(resource, topology)
    if isinstance(resource, VirtualNetwork):
        return _vnet(resource)
    if isinstance(resource, RouteTable):
        return _route_table(resource)
    if isinstance(resource, NetworkInterface):
        return _nic(resource)
    if isinstance(resource, VirtualMachine):
        return _vm(resource)
    if isinstance(resource, PublicIpAddress):
        return _public_ip(resource)
    if isinstance(resource, ApplicationSecurityGroup):
        return _envelope(resource, "applicationSecurityGroups", {"resourceGuid": resource.resource_guid})
    if isinstance(resource, PrivateEndpoint):
        return _private_endpoint(resource)
    if isinstance(resource, NatGateway):
        return _nat_gateway(resource)
    if isinstance(resource, LoadBalancer):
        return _load_balancer(resource)
    if isinstance(resource, NetworkManager):
        return _network_manager(resource)
    if isinstance(resource, NetworkGroup | StaticMember | SecurityAdminConfiguration | AdminRuleCollection):
        return _avnm_child(resource)
    if isinstance(resource, AdminRule):
        return _admin_rule(resource)
    if isinstance(resource, FlowLog):
        return flow_log_to_arm(resource, topology)
    raise TypeError(f"cannot export {type(resource).__name__}")


def export_topology(topology: Topology) -> dict[str, Any]:
    """The whole topology as an ARM list ``{"value": [...]}`` that ``load_documents`` reads back unchanged."""
    resources: list[Exportable] = [
        *topology.subscriptions.values(),
        *topology.asgs.values(),
        *topology.route_tables.values(),
        *topology.nsgs.values(),
        *topology.vnets.values(),
        *topology.public_ips.values(),
        *topology.nics.values(),
        *topology.vms.values(),
        *topology.nat_gateways.values(),
        *topology.load_balancers.values(),
        *topology.private_endpoints.values(),
        *topology.network_managers.values(),
        *topology.network_groups.values(),
        *topology.static_members.values(),
        *topology.security_admin_configurations.values(),
        *topology.admin_rule_collections.values(),
        *topology.admin_rules.values(),
        *topology.flow_logs.values(),
    ]
    documents: list[dict[str, Any]] = [to_arm(r, topology) for r in resources]
    documents.extend(deployment_status_to_arm(s) for s in topology.deployment_statuses)
    documents.extend(management_groups_to_arm(topology.management_groups))
    documents.extend(effective_admin_rules_to_arm(a) for a in topology.effective_admin_rules.values())
    return {"value": documents}


__all__ = [
    "admin_rule_properties",
    "deployment_status_to_arm",
    "effective_admin_rules_to_arm",
    "export_topology",
    "flow_log_to_arm",
    "management_groups_to_arm",
    "peering_to_arm",
    "rule_to_arm",
    "subnet_to_arm",
    "subscription_to_arm",
    "to_arm",
]
