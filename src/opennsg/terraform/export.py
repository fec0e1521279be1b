"""A topology -> an equivalent azurerm Terraform module (``opennsg export --format terraform DIR``).

References between exported resources are Terraform references (``azurerm_subnet.app.id``), so the module is
coherent and reading it back gives the same ids; references to resources outside the topology stay literal ids.
One ``azurerm`` provider per subscription (aliases beyond the first) carries ``subscription_id``. Subnets are
``azurerm_subnet`` resources with association resources, NSG rules inline ``security_rule`` blocks. What
Terraform cannot say is left out and listed in the module's header: Azure-assigned values (GUIDs, MACs, public
addresses, peering states), and VM settings OpenNSG does not model (size, image, credentials: placeholders).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opennsg.model.avnm import AddressPrefixItem, AddressPrefixType, AdminRuleKind, DeploymentState, DeploymentStatus
from opennsg.model.enums import IpAllocationMethod
from opennsg.model.flowlog import FlowLog, thawed_json
from opennsg.model.ids import ResourceId, id_key, subscription_of
from opennsg.model.ids import name_of as name_of_id
from opennsg.model.resources import (
    IpConfiguration,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    Resource,
    RouteTable,
    SecurityRule,
    VirtualMachine,
    VirtualNetwork,
)
from opennsg.model.topology import Topology
from opennsg.terraform.azurerm import TRAFFIC_ANALYTICS_FIELDS


@dataclass(frozen=True, slots=True)
class Ref:
    """A Terraform expression written as is (a reference), not as a string."""

    text: str


def _literal(value: Any) -> str:
    if isinstance(value, Ref):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_literal(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as HCL")


@dataclass
class _Block:
    header: str
    arguments: list[tuple[str, Any]] = field(default_factory=list)
    blocks: list[_Block] = field(default_factory=list)
    comment: str | None = None

    def set(self, name: str, value: Any) -> _Block:
        if value is not None and value != () and value != [] and value != {}:
            self.arguments.append((name, value))
        return self

    def render(self, indent: str = "") -> str:
        lines = [f"{indent}# {self.comment}"] if self.comment else []
        lines.append(f"{indent}{self.header} {{")
        width = max((len(name) for name, _ in self.arguments), default=0)
        for name, value in self.arguments:
            lines.append(f"{indent}  {name.ljust(width)} = {_literal(value)}")
        for block in self.blocks:
            lines.append("")
            lines.append(block.render(indent + "  "))
        lines.append(f"{indent}}}")
        return "\n".join(lines)


def _identifier(name: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_").lower() or "x"
    return text if text[0].isalpha() or text[0] == "_" else f"r_{text}"


class _Names:
    """Unique Terraform resource names per type."""

    def __init__(self) -> None:
        self.used: dict[str, set[str]] = {}

    def name(self, resource_type: str, wanted: str) -> str:
        used = self.used.setdefault(resource_type, set())
        base = _identifier(wanted)
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        return candidate


class _Exporter:
    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.names = _Names()
        self.addresses: dict[str, str] = {}  # id key -> "azurerm_x.name"
        self.blocks: list[_Block] = []
        self.providers: dict[str, str | None] = {}  # subscription (folded) -> alias (None: default)
        self.groups: dict[tuple[str, str], str] = {}  # (subscription, group) folded -> address
        self.left_out: list[str] = []  # what this topology holds that Terraform cannot say

    # --- references ---

    def ref(self, resource_id: str | None) -> Any:
        if not resource_id:
            return None
        address = self.addresses.get(id_key(resource_id))
        return Ref(f"{address}.id") if address else resource_id

    def _provider(self, resource: Resource | str, block: _Block) -> None:
        subscription = resource if isinstance(resource, str) else resource.subscription_id
        alias = self.providers.setdefault(
            subscription.casefold(), None if not self.providers else _identifier(f"s_{subscription}")
        )
        if alias:
            block.set("provider", Ref(f"azurerm.{alias}"))

    def _group(self, resource_id: str, location: str) -> Ref:
        parsed = ResourceId.parse(resource_id)
        subscription = parsed.subscription if parsed else ""
        group = (parsed.resource_group or "") if parsed else ""
        key = (subscription.casefold(), group.casefold())
        if key not in self.groups:
            name = self.names.name("azurerm_resource_group", group)
            address = f"azurerm_resource_group.{name}"
            block = (
                _Block(f'resource "azurerm_resource_group" "{name}"')
                .set("name", group)
                .set("location", location or "westeurope")
            )
            self._provider(subscription, block)
            self.blocks.append(block)
            self.groups[key] = address
        return Ref(f"{self.groups[key]}.name")

    def _resource(self, resource_type: str, resource: Resource, **extra: Any) -> _Block:
        name = self.names.name(resource_type, resource.name)
        self.addresses[resource.key] = f"{resource_type}.{name}"
        block = _Block(f'resource "{resource_type}" "{name}"')
        block.set("name", resource.name)
        block.set("location", resource.location or "westeurope")
        block.set("resource_group_name", self._group(resource.id, resource.location))
        for key, value in extra.items():
            block.set(key, value)
        self._provider(resource, block)
        if resource.tags:
            block.set("tags", dict(resource.tags))
        self.blocks.append(block)
        return block

    # --- resources, in dependency order ---

    def run(self) -> str:
        t = self.topology
        for asg in _sorted(t.asgs.values()):
            self._resource("azurerm_application_security_group", asg)
        for table in _sorted(t.route_tables.values()):
            self._route_table(table)
        for nsg in _sorted(t.nsgs.values()):
            self._nsg(nsg)
        for vnet in _sorted(t.vnets.values()):
            self._vnet(vnet)
        for pip in _sorted(t.public_ips.values()):
            self._resource(
                "azurerm_public_ip", pip, allocation_method=pip.allocation_method.value, sku=pip.sku_name or "Standard",
                sku_tier=pip.sku_tier, ip_version=pip.public_ip_address_version, zones=list(pip.zones),
                idle_timeout_in_minutes=pip.idle_timeout_in_minutes,
            )  # fmt: skip
        for gateway in _sorted(t.nat_gateways.values()):
            self._nat_gateway(gateway)
        for vnet in _sorted(t.vnets.values()):
            self._subnets(vnet)
        for vnet in _sorted(t.vnets.values()):
            self._peerings(vnet)
        for nic in _sorted(t.nics.values()):
            if not t.is_private_endpoint_nic(nic.id):  # Azure creates it with its endpoint
                self._nic(nic)
        for endpoint in _sorted(t.private_endpoints.values()):
            self._private_endpoint(endpoint)
        for vm in _sorted(t.vms.values()):
            self._vm(vm)
        self._avnm()
        for flow_log in _sorted(t.flow_logs.values()):
            self._flow_log(flow_log)
        return self.render()

    # --- Network Watcher flow logs (semantics §9) ---

    def _flow_log(self, flow_log: FlowLog) -> None:
        """The flow log under its watcher (declared once, at the flow log's location), writing to its storage
        account (an id: OpenNSG does not model storage accounts)."""
        watcher_id = flow_log.network_watcher_id
        if id_key(watcher_id) not in self.addresses:
            watcher = Resource(watcher_id, name_of_id(watcher_id), flow_log.location)
            self._resource("azurerm_network_watcher", watcher)
        watcher_address = self.addresses[id_key(watcher_id)]
        own_name = name_of_id(flow_log.id)  # a template may name it "{watcher}/{flow log}"
        name = self.names.name("azurerm_network_watcher_flow_log", own_name)
        self.addresses[flow_log.key] = f"azurerm_network_watcher_flow_log.{name}"
        block = _Block(f'resource "azurerm_network_watcher_flow_log" "{name}"')
        block.set("name", own_name).set("network_watcher_name", Ref(f"{watcher_address}.name"))
        block.set("resource_group_name", Ref(f"{watcher_address}.resource_group_name"))
        block.set("location", flow_log.location or None)
        block.set("target_resource_id", self.ref(flow_log.target_resource_id))
        block.set("storage_account_id", flow_log.storage_id).set("enabled", flow_log.enabled)
        block.set("version", flow_log.format_version)
        retention = _Block("retention_policy").set("enabled", flow_log.retention_enabled)
        block.blocks.append(retention.set("days", flow_log.retention_days))
        analytics = thawed_json(flow_log.flow_analytics_configuration)
        if analytics is not None:
            inner = analytics.get("networkWatcherFlowAnalyticsConfiguration") if isinstance(analytics, dict) else None
            said = _Block("traffic_analytics")
            for argument, arm in TRAFFIC_ANALYTICS_FIELDS.items():
                said.set(argument, inner.get(arm) if isinstance(inner, dict) else None)
            block.blocks.append(said)
            if (
                not isinstance(inner, dict)
                or set(analytics) != {"networkWatcherFlowAnalyticsConfiguration"}
                or (set(inner) - set(TRAFFIC_ANALYTICS_FIELDS.values()))
            ):
                self.left_out.append(f"the traffic analytics settings of {flow_log.id} azurerm has no argument for")
        for what, value in (
            ("enabledFilteringCriteria", flow_log.enabled_filtering_criteria),
            ("recordTypes", flow_log.record_types),
            ("identity", flow_log.identity),
        ):
            if value is not None:
                self.left_out.append(f"{what} of {flow_log.id} (azurerm has no argument for it)")
        self._provider(flow_log, block)
        if flow_log.tags:
            block.set("tags", dict(flow_log.tags))
        self.blocks.append(block)

    # --- NAT gateways and private endpoints (semantics §12) ---

    def _pair(self, kind: str, name: str, arguments: dict[str, Any], owner: Resource) -> None:
        block = _Block(f'resource "{kind}" "{self.names.name(kind, name)}"')
        for argument, value in arguments.items():
            block.set(argument, value)
        self._provider(owner, block)
        self.blocks.append(block)

    def _nat_gateway(self, gateway: NatGateway) -> None:
        block = self._resource("azurerm_nat_gateway", gateway, sku_name=gateway.sku_name)
        block.set("idle_timeout_in_minutes", gateway.idle_timeout_in_minutes)
        address = self.addresses[gateway.key]
        for kind, argument, targets in (
            ("azurerm_nat_gateway_public_ip_association", "public_ip_address_id", gateway.public_ip_addresses),
            ("azurerm_nat_gateway_public_ip_prefix_association", "public_ip_prefix_id", gateway.public_ip_prefixes),
        ):
            for target in targets:
                arguments = {"nat_gateway_id": Ref(f"{address}.id"), argument: self.ref(target)}
                self._pair(kind, f"{gateway.name}_{name_of_id(target)}", arguments, gateway)

    def _private_endpoint(self, endpoint: PrivateEndpoint) -> None:
        """The endpoint with its NIC's name and static addresses (Azure creates the NIC from them)."""
        owned = [n for n in self.topology.nics.values() if self.topology.private_endpoint_of_nic(n.id) == endpoint]
        nic = owned[0] if owned else None
        listed = endpoint.network_interfaces[0] if endpoint.network_interfaces else None
        nic_name = nic.name if nic else (name_of_id(listed) if listed else None)
        if endpoint.custom_network_interface_name is None and nic_name == f"{endpoint.name}.nic":
            nic_name = None  # the name OpenNSG gives the NIC of an endpoint without one (Azure adds a GUID)
        block = self._resource(
            "azurerm_private_endpoint", endpoint, subnet_id=self.ref(endpoint.subnet or (nic.subnet if nic else None)),
            custom_network_interface_name=nic_name,
        )  # fmt: skip
        address = self.addresses[endpoint.key]
        if not endpoint.connections:
            block.comment = "the endpoint's private_service_connection (its service) is not in the input"
        for i, given in enumerate(endpoint.connections):
            connection = _Block("private_service_connection").set("name", given.name or f"connection{i + 1}")
            connection.set("private_connection_resource_id", given.private_link_service_id)
            connection.set("subresource_names", list(given.group_ids)).set("is_manual_connection", given.manual)
            block.blocks.append(connection.set("request_message", given.request_message))
        groups = {c.name.casefold(): c for c in endpoint.ip_configurations}
        configs = [c for c in nic.ip_configurations if c.private_ip_address] if nic else []
        for cfg in configs:
            inner = _Block("ip_configuration").set("name", cfg.name).set("private_ip_address", cfg.private_ip_address)
            known = groups.get(cfg.name.casefold())
            if known is not None:
                inner.set("subresource_name", known.group_id).set("member_name", known.member_name)
            block.blocks.append(inner)
        asgs = list(endpoint.application_security_groups)
        for cfg in nic.ip_configurations if nic else ():
            asgs += [a for a in cfg.application_security_groups if id_key(a) not in {id_key(x) for x in asgs}]
        for asg in asgs:
            arguments = {"private_endpoint_id": Ref(f"{address}.id"), "application_security_group_id": self.ref(asg)}
            self._pair(
                "azurerm_private_endpoint_application_security_group_association",
                f"{endpoint.name}_{name_of_id(asg)}", arguments, endpoint,
            )  # fmt: skip

    # --- Azure Virtual Network Manager (semantics §11) ---

    def _child(self, resource_type: str, resource: Any, parent: tuple[str, str], **arguments: Any) -> _Block:
        """An AVNM child resource: named under its parent's id (``network_manager_id = azurerm_x.y.id``)."""
        name = self.names.name(resource_type, resource.name)
        self.addresses[resource.key] = f"{resource_type}.{name}"
        block = _Block(f'resource "{resource_type}" "{name}"').set("name", resource.name)
        block.set(parent[0], self.ref(parent[1]))
        for argument, value in arguments.items():
            block.set(argument, value)
        self._provider(subscription_of(resource.id) or resource.id, block)
        self.blocks.append(block)
        return block

    def _avnm(self) -> None:
        t = self.topology
        for manager in _sorted(t.network_managers.values()):
            block = self._resource(
                "azurerm_network_manager", manager, description=manager.description,
                scope_accesses=[a.value for a in manager.scope_accesses],
            )  # fmt: skip
            scope = _Block("scope").set("subscription_ids", list(manager.scope_subscriptions))
            scope.set("management_group_ids", list(manager.scope_management_groups))
            block.blocks.append(scope)
        for group in _sorted(t.network_groups.values()):
            self._child(
                "azurerm_network_manager_network_group", group, ("network_manager_id", group.network_manager_id),
                description=group.description, member_type=group.member_type.value if group.member_type else None,
            )  # fmt: skip
        for member in _sorted(t.static_members.values()):
            self._child(
                "azurerm_network_manager_static_member", member, ("network_group_id", member.network_group_id),
                target_virtual_network_id=self.ref(member.resource_id),
            )  # fmt: skip
        for configuration in _sorted(t.security_admin_configurations.values()):
            self._child(
                "azurerm_network_manager_security_admin_configuration", configuration,
                ("network_manager_id", configuration.network_manager_id), description=configuration.description,
                apply_on_network_intent_policy_based_services=[
                    m.value for m in configuration.apply_on_network_intent_policy_based_services
                ],
                network_group_address_space_aggregation_option=(
                    configuration.network_group_address_space_aggregation_option
                ),
            )  # fmt: skip
        for collection in _sorted(t.admin_rule_collections.values()):
            self._child(
                "azurerm_network_manager_admin_rule_collection", collection,
                ("security_admin_configuration_id", collection.configuration_id), description=collection.description,
                network_group_ids=[self.ref(g) for g in collection.applies_to_groups],
            )  # fmt: skip
        for rule in _sorted(t.admin_rules.values()):
            if rule.kind is AdminRuleKind.DEFAULT:
                self.left_out.append(f"the default admin rule {rule.id} (Azure's; azurerm has no resource for it)")
                continue
            block = self._child(
                "azurerm_network_manager_admin_rule", rule, ("admin_rule_collection_id", rule.rule_collection_id),
                action=rule.access.value, direction=rule.direction.value, priority=rule.priority,
                protocol=rule.protocol.value, description=rule.description,
                source_port_ranges=list(rule.source_port_ranges),
                destination_port_ranges=list(rule.destination_port_ranges),
            )  # fmt: skip
            for kind, items in (("source", rule.sources), ("destination", rule.destinations)):
                for item in items:
                    inner = _Block(kind).set("address_prefix_type", item.address_prefix_type.value)
                    block.blocks.append(inner.set("address_prefix", self._prefix(item)))
        for status in t.deployment_statuses:
            self._deployment(status)

    def _prefix(self, item: AddressPrefixItem) -> Any:
        return (
            self.ref(item.address_prefix)
            if item.address_prefix_type is AddressPrefixType.NETWORK_GROUP
            else (item.address_prefix)
        )

    def _deployment(self, status: DeploymentStatus) -> None:
        """A deployment status Terraform can say: Deployed security admin configurations of one manager."""
        t = self.topology
        configurations = [
            c for c in t.security_admin_configurations.values()
            if any(id_key(x) in (c.key, c.name.casefold()) for x in status.configuration_ids)
            and (status.network_manager_id is None or id_key(c.network_manager_id) == id_key(status.network_manager_id))
        ]  # fmt: skip
        managers = {id_key(c.network_manager_id): c.network_manager_id for c in configurations}
        if (
            status.deployment_status is not DeploymentState.DEPLOYED
            or not status.is_security_admin
            or len(managers) != 1
            or len(configurations) != len(status.configuration_ids)
        ):
            self.left_out.append(
                f"the deployment status {status.deployment_status.value} of {', '.join(status.configuration_ids)} "
                f"in {status.region} (Terraform deploys, and says only Deployed, configurations of one manager)"
            )
            return
        (manager_id,) = managers.values()
        kind = "azurerm_network_manager_deployment"
        block = _Block(f'resource "{kind}" "{self.names.name(kind, f"{name_of_id(manager_id)}_{status.region}")}"')
        block.set("network_manager_id", self.ref(manager_id)).set("location", status.region)
        block.set("scope_access", "SecurityAdmin").set("configuration_ids", [self.ref(c.id) for c in configurations])
        self._provider(subscription_of(manager_id) or manager_id, block)
        self.blocks.append(block)

    def _route_table(self, table: RouteTable) -> None:
        block = self._resource("azurerm_route_table", table)
        if table.disable_bgp_route_propagation:
            block.set("bgp_route_propagation_enabled", False)
        for route in table.routes:
            inner = _Block("route").set("name", route.name).set("address_prefix", route.address_prefix)
            inner.set("next_hop_type", route.next_hop_type).set("next_hop_in_ip_address", route.next_hop_ip_address)
            block.blocks.append(inner)

    def _nsg(self, nsg: NetworkSecurityGroup) -> None:
        block = self._resource("azurerm_network_security_group", nsg)
        for rule in nsg.security_rules:
            block.blocks.append(self._rule(rule))

    def _rule(self, rule: SecurityRule) -> _Block:
        block = _Block("security_rule").set("name", rule.name).set("priority", rule.priority)
        block.set("direction", rule.direction.value).set("access", rule.access.value)
        block.set("protocol", rule.protocol.value).set("description", rule.description)
        block.set("source_port_range", rule.source_port_range)
        block.set("source_port_ranges", list(rule.source_port_ranges))
        block.set("destination_port_range", rule.destination_port_range)
        block.set("destination_port_ranges", list(rule.destination_port_ranges))
        block.set("source_address_prefix", rule.source_address_prefix)
        block.set("source_address_prefixes", list(rule.source_address_prefixes))
        block.set("source_application_security_group_ids", [self.ref(a) for a in rule.source_asgs])
        block.set("destination_address_prefix", rule.destination_address_prefix)
        block.set("destination_address_prefixes", list(rule.destination_address_prefixes))
        block.set("destination_application_security_group_ids", [self.ref(a) for a in rule.destination_asgs])
        return block

    def _vnet(self, vnet: VirtualNetwork) -> None:
        self._resource(
            "azurerm_virtual_network",
            vnet,
            address_space=list(vnet.address_space),
            flow_timeout_in_minutes=vnet.flow_timeout_in_minutes,
        )

    def _subnets(self, vnet: VirtualNetwork) -> None:
        vnet_address = self.addresses[vnet.key]
        for subnet in vnet.subnets:
            name = self.names.name("azurerm_subnet", f"{vnet.name}_{subnet.name}")
            self.addresses[subnet.key] = f"azurerm_subnet.{name}"
            block = _Block(f'resource "azurerm_subnet" "{name}"').set("name", subnet.name)
            block.set("resource_group_name", self._group(subnet.id, vnet.location))
            block.set("virtual_network_name", Ref(f"{vnet_address}.name"))
            block.set("address_prefixes", list(subnet.address_prefixes))
            if subnet.private_endpoint_network_policies is not None:
                block.set("private_endpoint_network_policies", subnet.private_endpoint_network_policies.value)
            if subnet.default_outbound_access is not None:
                block.set("default_outbound_access_enabled", subnet.default_outbound_access)
            for given in subnet.delegations:
                delegation = _Block("delegation").set("name", given.name)
                delegation.blocks.append(_Block("service_delegation").set("name", given.service_name))
                block.blocks.append(delegation)
            self._provider(vnet, block)
            self.blocks.append(block)
            for kind, argument, target in (
                (
                    "azurerm_subnet_network_security_group_association",
                    "network_security_group_id",
                    subnet.network_security_group,
                ),
                ("azurerm_subnet_route_table_association", "route_table_id", subnet.route_table),
                ("azurerm_subnet_nat_gateway_association", "nat_gateway_id", subnet.nat_gateway),
            ):
                if target:
                    association = _Block(f'resource "{kind}" "{name}"').set(
                        "subnet_id", Ref(f"azurerm_subnet.{name}.id")
                    )
                    association.set(argument, self.ref(target))
                    self._provider(vnet, association)
                    self.blocks.append(association)

    def _peerings(self, vnet: VirtualNetwork) -> None:
        for peering in vnet.peerings:
            name = self.names.name("azurerm_virtual_network_peering", peering.name)
            block = _Block(f'resource "azurerm_virtual_network_peering" "{name}"').set("name", peering.name)
            block.set("resource_group_name", self._group(peering.id, vnet.location))
            block.set("virtual_network_name", Ref(f"{self.addresses[vnet.key]}.name"))
            block.set("remote_virtual_network_id", self.ref(peering.remote_virtual_network))
            if not peering.allow_virtual_network_access:
                block.set("allow_virtual_network_access", False)
            for argument, value, default in (
                ("allow_forwarded_traffic", peering.allow_forwarded_traffic, False),
                ("allow_gateway_transit", peering.allow_gateway_transit, False),
                ("use_remote_gateways", peering.use_remote_gateways, False),
                ("peer_complete_virtual_networks_enabled", peering.peer_complete_vnets, True),
                ("only_ipv6_peering_enabled", peering.enable_only_ipv6_peering, False),
            ):
                if value != default:
                    block.set(argument, value)
            block.set("local_subnet_names", list(peering.local_subnet_names))
            block.set("remote_subnet_names", list(peering.remote_subnet_names))
            self._provider(vnet, block)
            self.blocks.append(block)

    def _nic(self, nic: NetworkInterface) -> None:
        block = self._resource("azurerm_network_interface", nic)
        if nic.enable_ip_forwarding:
            block.set("ip_forwarding_enabled", True)
        primary = nic.primary_ip_configuration
        several = len(nic.ip_configurations) > 1
        for cfg in nic.ip_configurations:
            inner = _Block("ip_configuration").set("name", cfg.name).set("subnet_id", self.ref(cfg.subnet))
            inner.set("private_ip_address_allocation", _allocation(cfg).value)
            inner.set("private_ip_address", cfg.private_ip_address)
            if cfg.private_ip_address_version != "IPv4":
                inner.set("private_ip_address_version", cfg.private_ip_address_version)
            if several:
                inner.set("primary", cfg is primary)
            inner.set("public_ip_address_id", self.ref(cfg.public_ip_address))
            block.blocks.append(inner)
        address = self.addresses[nic.key]
        if nic.network_security_group:
            association = _Block(
                f'resource "azurerm_network_interface_security_group_association" "{address.split(".")[1]}"'
            )
            association.set("network_interface_id", Ref(f"{address}.id"))
            association.set("network_security_group_id", self.ref(nic.network_security_group))
            self._provider(nic, association)
            self.blocks.append(association)
        memberships: dict[str, list[str]] = {}
        for cfg in nic.ip_configurations:
            for asg in cfg.application_security_groups:
                memberships.setdefault(asg, []).append(cfg.name)
        for asg, configs in memberships.items():
            # azurerm 4 associates every IP configuration; some of several need the (2.x) ip_configuration_name.
            every = len(configs) == len(nic.ip_configurations)
            for config in [None] if every else configs:
                asg_resource = self.topology.asg(asg)
                name = self.names.name(
                    "azurerm_network_interface_application_security_group_association",
                    f"{address.split('.')[1]}_{asg_resource.name if asg_resource else 'asg'}",
                )
                kind = "azurerm_network_interface_application_security_group_association"
                association = _Block(f'resource "{kind}" "{name}"')
                association.set("network_interface_id", Ref(f"{address}.id"))
                association.set("application_security_group_id", self.ref(asg))
                association.set("ip_configuration_name", config)
                self._provider(nic, association)
                self.blocks.append(association)

    def _vm(self, vm: VirtualMachine) -> None:
        interfaces = list(vm.network_interfaces)
        if vm.primary_network_interface and vm.primary_network_interface in interfaces:
            interfaces.remove(vm.primary_network_interface)
            interfaces.insert(0, vm.primary_network_interface)
        block = self._resource(
            "azurerm_linux_virtual_machine",
            vm,
            size="Standard_B2s",
            admin_username="azureuser",
            network_interface_ids=[self.ref(n) for n in interfaces],
        )
        block.comment = "size, image and credentials are placeholders: OpenNSG models only the VM's NICs"
        key = (
            _Block("admin_ssh_key")
            .set("username", "azureuser")
            .set("public_key", "ssh-ed25519 REPLACE-WITH-YOUR-PUBLIC-KEY")
        )
        disk = _Block("os_disk").set("caching", "ReadWrite").set("storage_account_type", "Standard_LRS")
        image = _Block("source_image_reference").set("publisher", "Canonical").set("offer", "ubuntu-24_04-lts")
        image.set("sku", "server").set("version", "latest")
        block.blocks.extend([key, disk, image])

    # --- text ---

    def render(self) -> str:
        header = [
            "# Written by `opennsg export --format terraform`: the network as azurerm resources.",
            "# Not carried (Azure assigns them): resource GUIDs, MAC addresses, public IP addresses, peering states;",
            "# nor what azurerm has no argument for: NSG flushConnection, OpenNSG's gateway prefixes, subscriptions.",
            "",
            "terraform {",
            "  required_providers {",
            "    azurerm = {",
            '      source  = "hashicorp/azurerm"',
            '      version = ">= 4.0"',
            "    }",
            "  }",
            "}",
        ]
        header += [f"# Left out: {what}." for what in self.left_out]
        providers = []
        for subscription, alias in self.providers.items():
            block = _Block('provider "azurerm"')
            if alias:
                block.set("alias", alias)
            block.set("subscription_id", self._spelling(subscription))
            block.blocks.append(_Block("features"))
            providers.append(block.render())
        body = [b.render() for b in self.blocks]
        return "\n".join(header) + "\n\n" + "\n\n".join([*providers, *body]) + "\n"

    def _spelling(self, folded: str) -> str:
        for resource in self._all():
            if resource.subscription_id.casefold() == folded:
                return resource.subscription_id
        return folded

    def _all(self) -> Iterable[Resource]:
        t = self.topology
        for collection in (
            t.nsgs, t.asgs, t.vnets, t.route_tables, t.nics, t.vms, t.public_ips, t.nat_gateways,
            t.private_endpoints, t.network_managers, t.flow_logs,
        ):  # fmt: skip
            yield from collection.values()


def _allocation(configuration: IpConfiguration) -> IpAllocationMethod:
    """``private_ip_address_allocation`` as the model states it; azurerm requires the argument, so one not given
    (ARM's default) is written as what keeps the configuration's address: Static when it has one."""
    if configuration.private_ip_allocation_method is not None:
        return configuration.private_ip_allocation_method
    return IpAllocationMethod.STATIC if configuration.private_ip_address else IpAllocationMethod.DYNAMIC


def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda r: r.key)


def module_text(topology: Topology) -> str:
    """The module's ``main.tf``."""
    return _Exporter(topology).run()


def export_module(topology: Topology, directory: Path) -> Path:
    """Write ``main.tf`` into ``directory`` (created if needed); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "main.tf"
    path.write_text(module_text(topology), encoding="utf-8")
    return path


__all__ = ["export_module", "module_text"]
