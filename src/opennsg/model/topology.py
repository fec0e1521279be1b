"""A whole network: every resource of an import, indexed by ARM id (case-insensitive)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from opennsg.model.avnm import (
    AdminRule,
    AdminRuleCollection,
    DeploymentState,
    DeploymentStatus,
    ManagementGroup,
    NetworkGroup,
    NetworkManager,
    SecurityAdminConfiguration,
    StaticMember,
    VnetEffectiveAdminRules,
)
from opennsg.model.flowlog import FlowLog, TargetKind
from opennsg.model.ids import id_key, name_of, parent_id, subscription_of_scope
from opennsg.model.loadbalancer import LoadBalancer
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PublicIpAddress,
    Resource,
    RouteTable,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
)
from opennsg.model.servicetags import ServiceTags


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


R = TypeVar("R", bound=_Keyed)


def _index(items: Iterable[R]) -> Mapping[str, R]:
    return MappingProxyType({item.key: item for item in items})


def _children(items: Iterable[R], parent_of: Callable[[R], str]) -> Mapping[str, tuple[R, ...]]:
    """Children grouped by their parent's id key, each group in name order (case-insensitive)."""
    grouped: dict[str, list[R]] = {}
    for item in items:
        grouped.setdefault(id_key(parent_of(item)), []).append(item)
    return MappingProxyType(
        {k: tuple(sorted(v, key=lambda i: i.key)) for k, v in grouped.items()}  # ids differ only in the last name
    )


@dataclass(frozen=True)
class Topology:
    """Immutable set of resources. Build it with ``Topology.of(...)``; replace pieces with ``with_(...)``."""

    nsgs: Mapping[str, NetworkSecurityGroup] = field(default_factory=dict)
    asgs: Mapping[str, ApplicationSecurityGroup] = field(default_factory=dict)
    vnets: Mapping[str, VirtualNetwork] = field(default_factory=dict)
    route_tables: Mapping[str, RouteTable] = field(default_factory=dict)
    nics: Mapping[str, NetworkInterface] = field(default_factory=dict)
    vms: Mapping[str, VirtualMachine] = field(default_factory=dict)
    public_ips: Mapping[str, PublicIpAddress] = field(default_factory=dict)
    subscriptions: Mapping[str, Subscription] = field(default_factory=dict)
    service_tags: ServiceTags | None = None
    private_endpoints: Mapping[str, PrivateEndpoint] = field(default_factory=dict)
    nat_gateways: Mapping[str, NatGateway] = field(default_factory=dict)
    load_balancers: Mapping[str, LoadBalancer] = field(default_factory=dict)
    # --- AVNM (semantics §11): ARM's child resources kept flat, by id; ``*_of`` give a parent's children ---
    network_managers: Mapping[str, NetworkManager] = field(default_factory=dict)
    network_groups: Mapping[str, NetworkGroup] = field(default_factory=dict)
    static_members: Mapping[str, StaticMember] = field(default_factory=dict)
    security_admin_configurations: Mapping[str, SecurityAdminConfiguration] = field(default_factory=dict)
    admin_rule_collections: Mapping[str, AdminRuleCollection] = field(default_factory=dict)
    admin_rules: Mapping[str, AdminRule] = field(default_factory=dict)
    deployment_statuses: tuple[DeploymentStatus, ...] = ()
    management_groups: Mapping[str, ManagementGroup] = field(default_factory=dict)
    #: Effective admin rules answers (semantics §11.5 shape 2), by VNet id key.
    effective_admin_rules: Mapping[str, VnetEffectiveAdminRules] = field(default_factory=dict)
    #: Network Watcher flow-log resources (semantics §9), by id.
    flow_logs: Mapping[str, FlowLog] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        nsgs: Iterable[NetworkSecurityGroup] = (),
        asgs: Iterable[ApplicationSecurityGroup] = (),
        vnets: Iterable[VirtualNetwork] = (),
        route_tables: Iterable[RouteTable] = (),
        nics: Iterable[NetworkInterface] = (),
        vms: Iterable[VirtualMachine] = (),
        public_ips: Iterable[PublicIpAddress] = (),
        subscriptions: Iterable[Subscription] = (),
        service_tags: ServiceTags | None = None,
        private_endpoints: Iterable[PrivateEndpoint] = (),
        nat_gateways: Iterable[NatGateway] = (),
        load_balancers: Iterable[LoadBalancer] = (),
        network_managers: Iterable[NetworkManager] = (),
        network_groups: Iterable[NetworkGroup] = (),
        static_members: Iterable[StaticMember] = (),
        security_admin_configurations: Iterable[SecurityAdminConfiguration] = (),
        admin_rule_collections: Iterable[AdminRuleCollection] = (),
        admin_rules: Iterable[AdminRule] = (),
        deployment_statuses: Iterable[DeploymentStatus] = (),
        management_groups: Iterable[ManagementGroup] = (),
        effective_admin_rules: Iterable[VnetEffectiveAdminRules] = (),
        flow_logs: Iterable[FlowLog] = (),
    ) -> Topology:
        return cls(
            nsgs=_index(nsgs),
            asgs=_index(asgs),
            vnets=_index(vnets),
            route_tables=_index(route_tables),
            nics=_index(nics),
            vms=_index(vms),
            public_ips=_index(public_ips),
            subscriptions=MappingProxyType({s.key: s for s in subscriptions}),
            service_tags=service_tags,
            private_endpoints=_index(private_endpoints),
            nat_gateways=_index(nat_gateways),
            load_balancers=_index(load_balancers),
            network_managers=_index(network_managers),
            network_groups=_index(network_groups),
            static_members=_index(static_members),
            security_admin_configurations=_index(security_admin_configurations),
            admin_rule_collections=_index(admin_rule_collections),
            admin_rules=_index(admin_rules),
            deployment_statuses=tuple(deployment_statuses),
            management_groups=_index(management_groups),
            effective_admin_rules=_index(effective_admin_rules),
            flow_logs=_index(flow_logs),
        )

    # --- lookups (all case-insensitive by id) -------------------------------------------------

    def nsg(self, resource_id: str | None) -> NetworkSecurityGroup | None:
        return self.nsgs.get(id_key(resource_id)) if resource_id else None

    def asg(self, resource_id: str) -> ApplicationSecurityGroup | None:
        return self.asgs.get(id_key(resource_id))

    def vnet(self, resource_id: str | None) -> VirtualNetwork | None:
        return self.vnets.get(id_key(resource_id)) if resource_id else None

    def route_table(self, resource_id: str | None) -> RouteTable | None:
        return self.route_tables.get(id_key(resource_id)) if resource_id else None

    def nic(self, resource_id: str | None) -> NetworkInterface | None:
        return self.nics.get(id_key(resource_id)) if resource_id else None

    def vm(self, resource_id: str | None) -> VirtualMachine | None:
        return self.vms.get(id_key(resource_id)) if resource_id else None

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id.casefold())

    @property
    def subnets(self) -> Iterator[Subnet]:
        for vnet in self.vnets.values():
            yield from vnet.subnets

    def subnet(self, resource_id: str | None) -> Subnet | None:
        if not resource_id:
            return None
        key = id_key(resource_id)
        vnet = self.vnets.get(parent_id(key))
        if vnet is None:
            return None
        return next((s for s in vnet.subnets if s.key == key), None)

    def vnet_of_subnet(self, subnet_id: str) -> VirtualNetwork | None:
        return self.vnets.get(parent_id(id_key(subnet_id)))

    def find_nic(self, name_or_id: str) -> NetworkInterface | None:
        """A NIC by ARM id, or by name when the name is unique; a VM name or id gives its primary NIC."""
        found = self.nic(name_or_id)
        if found is not None:
            return found
        vm = self.vm(name_or_id)
        if vm is None:
            folded = name_or_id.casefold()
            nics = [n for n in self.nics.values() if n.name.casefold() == folded]
            if len(nics) == 1:
                return nics[0]
            vms = [v for v in self.vms.values() if v.name.casefold() == folded]
            if len(vms) != 1:
                return self._only_nic_of_unlisted_vm(name_or_id)
            vm = vms[0]
        primary = vm.primary_network_interface or (vm.network_interfaces[0] if vm.network_interfaces else None)
        if primary is None:
            nics = [n for n in self.nics.values() if n.virtual_machine and id_key(n.virtual_machine) == vm.key]
            return nics[0] if len(nics) == 1 else None
        return self.nic(primary)

    def _only_nic_of_unlisted_vm(self, name_or_id: str) -> NetworkInterface | None:
        """A VM known only from its NICs' ``virtualMachine.id`` (``az network nic list`` without ``az vm list``):
        its NIC when it has exactly one (several need the NIC id, or the local IP: ``vm_nics``)."""
        nics = self._nics_of_unlisted_vm(name_or_id)
        return nics[0] if len(nics) == 1 else None

    def _nics_of_unlisted_vm(self, name_or_id: str) -> tuple[NetworkInterface, ...]:
        """The NICs naming one VM in ``virtualMachine.id``, by VM id or by a VM name only one VM has."""
        folded = name_or_id.strip().casefold()
        key = id_key(name_or_id) if name_or_id.strip().startswith("/") else None
        vm_keys = {
            id_key(n.virtual_machine)
            for n in self.nics.values()
            if n.virtual_machine
            and (id_key(n.virtual_machine) == key or name_of(n.virtual_machine).casefold() == folded)
        }
        if len(vm_keys) != 1:
            return ()
        (vm_key,) = vm_keys
        return tuple(n for n in self.nics.values() if n.virtual_machine and id_key(n.virtual_machine) == vm_key)

    def vm_nics(self, name_or_id: str) -> tuple[NetworkInterface, ...]:
        """Every NIC of the VM named by id or unique name (listed, or known from its NICs); () when it names none
        or names a NIC (by id, or by a name only one NIC has: NIC names win, as in ``find_nic``)."""
        folded = name_or_id.strip().casefold()
        if self.nic(name_or_id) is not None or sum(n.name.casefold() == folded for n in self.nics.values()) == 1:
            return ()
        vm = self.vm(name_or_id)
        if vm is None:
            vms = [v for v in self.vms.values() if v.name.casefold() == folded]
            vm = vms[0] if len(vms) == 1 else None
        if vm is None:
            return self._nics_of_unlisted_vm(name_or_id)
        listed = (self.nic(n) for n in vm.network_interfaces)
        return tuple(n for n in listed if n is not None)

    def nics_in_asg(self, asg_id: str) -> Iterator[NetworkInterface]:
        key = id_key(asg_id)
        for nic in self.nics.values():
            if any(key in {id_key(a) for a in cfg.application_security_groups} for cfg in nic.ip_configurations):
                yield nic

    def subnets_using_nsg(self, nsg_id: str) -> list[Subnet]:
        key = id_key(nsg_id)
        return [s for s in self.subnets if s.network_security_group and id_key(s.network_security_group) == key]

    def nics_using_nsg(self, nsg_id: str) -> list[NetworkInterface]:
        key = id_key(nsg_id)
        return [n for n in self.nics.values() if n.network_security_group and id_key(n.network_security_group) == key]

    # --- private endpoints, NAT gateways, public IPs (semantics §12) ---------------------------------------

    def private_endpoint(self, resource_id: str | None) -> PrivateEndpoint | None:
        return self.private_endpoints.get(id_key(resource_id)) if resource_id else None

    def nat_gateway(self, resource_id: str | None) -> NatGateway | None:
        return self.nat_gateways.get(id_key(resource_id)) if resource_id else None

    def load_balancer(self, resource_id: str | None) -> LoadBalancer | None:
        return self.load_balancers.get(id_key(resource_id)) if resource_id else None

    def load_balancer_of_pool(self, pool_id: str) -> LoadBalancer | None:
        """The load balancer owning a backend pool (its id is the pool id's parent)."""
        parent, _, _ = id_key(pool_id).rpartition("/backendaddresspools/")
        return self.load_balancers.get(parent)

    def public_ip(self, resource_id: str | None) -> PublicIpAddress | None:
        return self.public_ips.get(id_key(resource_id)) if resource_id else None

    def private_endpoint_of_nic(self, nic_id: str) -> PrivateEndpoint | None:
        """The private endpoint owning a NIC: the NIC's ``privateEndpoint`` reference, else an endpoint that lists
        the NIC in ``networkInterfaces`` (az prints either side alone)."""
        nic = self.nic(nic_id)
        if nic is not None and nic.private_endpoint:
            found = self.private_endpoint(nic.private_endpoint)
            if found is not None:
                return found
        return self._endpoint_by_nic.get(id_key(nic_id))

    def is_private_endpoint_nic(self, nic_id: str) -> bool:
        nic = self.nic(nic_id)
        return bool(nic and nic.private_endpoint) or id_key(nic_id) in self._endpoint_by_nic

    @cached_property
    def _endpoint_by_nic(self) -> Mapping[str, PrivateEndpoint]:
        return MappingProxyType(
            {id_key(n): pe for pe in self.private_endpoints.values() for n in pe.network_interfaces}
        )

    # --- AVNM (semantics §11) ---------------------------------------------------------------------------

    def network_manager(self, resource_id: str | None) -> NetworkManager | None:
        return self.network_managers.get(id_key(resource_id)) if resource_id else None

    def network_group(self, resource_id: str | None) -> NetworkGroup | None:
        return self.network_groups.get(id_key(resource_id)) if resource_id else None

    def security_admin_configuration(self, resource_id: str | None) -> SecurityAdminConfiguration | None:
        return self.security_admin_configurations.get(id_key(resource_id)) if resource_id else None

    def admin_rule_collection(self, resource_id: str | None) -> AdminRuleCollection | None:
        return self.admin_rule_collections.get(id_key(resource_id)) if resource_id else None

    def admin_rule(self, resource_id: str | None) -> AdminRule | None:
        return self.admin_rules.get(id_key(resource_id)) if resource_id else None

    def network_groups_of(self, manager_id: str) -> tuple[NetworkGroup, ...]:
        return self._groups_by_manager.get(id_key(manager_id), ())

    def static_members_of(self, group_id: str) -> tuple[StaticMember, ...]:
        return self._members_by_group.get(id_key(group_id), ())

    def configurations_of(self, manager_id: str) -> tuple[SecurityAdminConfiguration, ...]:
        return self._configurations_by_manager.get(id_key(manager_id), ())

    def rule_collections_of(self, configuration_id: str) -> tuple[AdminRuleCollection, ...]:
        return self._collections_by_configuration.get(id_key(configuration_id), ())

    def admin_rules_of(self, collection_id: str) -> tuple[AdminRule, ...]:
        return self._rules_by_collection.get(id_key(collection_id), ())

    def groups_with_member(self, member_id: str) -> tuple[NetworkGroup, ...]:
        """Network groups listing a VNet or subnet id as a static member (any manager)."""
        keys = {m.network_group_id.casefold() for m in self._members_by_resource.get(id_key(member_id), ())}
        return tuple(g for k in sorted(keys) if (g := self.network_groups.get(k)) is not None)

    @cached_property
    def _groups_by_manager(self) -> Mapping[str, tuple[NetworkGroup, ...]]:
        return _children(self.network_groups.values(), lambda g: g.network_manager_id)

    @cached_property
    def _members_by_group(self) -> Mapping[str, tuple[StaticMember, ...]]:
        return _children(self.static_members.values(), lambda m: m.network_group_id)

    @cached_property
    def _members_by_resource(self) -> Mapping[str, tuple[StaticMember, ...]]:
        return _children(self.static_members.values(), lambda m: m.resource_id)

    @cached_property
    def _configurations_by_manager(self) -> Mapping[str, tuple[SecurityAdminConfiguration, ...]]:
        return _children(self.security_admin_configurations.values(), lambda c: c.network_manager_id)

    @cached_property
    def _collections_by_configuration(self) -> Mapping[str, tuple[AdminRuleCollection, ...]]:
        return _children(self.admin_rule_collections.values(), lambda c: c.configuration_id)

    @cached_property
    def _rules_by_collection(self) -> Mapping[str, tuple[AdminRule, ...]]:
        return _children(self.admin_rules.values(), lambda r: r.rule_collection_id)

    def management_groups_above(self, subscription_id: str) -> tuple[str, ...]:
        """Id keys of every management group a subscription is under (nearest first), from the imported tree."""
        sub = name_of(subscription_id).casefold()
        parent = self._group_of_subscription.get(sub)
        out: list[str] = []
        while parent is not None and parent not in out:
            out.append(parent)
            group = self.management_groups.get(parent)
            parent = id_key(group.parent_id) if group is not None and group.parent_id else None
        return tuple(out)

    @cached_property
    def _group_of_subscription(self) -> Mapping[str, str]:
        return MappingProxyType(
            {name_of(s).casefold(): g.key for g in self.management_groups.values() for s in g.subscriptions}
        )

    def manager_scopes_subscription(self, manager: NetworkManager, subscription_id: str) -> bool:
        """Whether a subscription is in a manager's scope: listed, or under a listed management group (§11.2)."""
        sub = name_of(subscription_id).casefold()
        if any(subscription_of_scope(s).casefold() == sub for s in manager.scope_subscriptions):
            return True
        above = set(self.management_groups_above(sub))
        return any(id_key(g) in above for g in manager.scope_management_groups)

    def _status_names(self, status: DeploymentStatus, configuration: SecurityAdminConfiguration) -> bool:
        if status.network_manager_id and id_key(status.network_manager_id) != id_key(configuration.network_manager_id):
            return False
        for given in status.configuration_ids:
            if given.strip().startswith("/"):
                if id_key(given) == configuration.key:
                    return True
            elif given.strip().casefold() == configuration.name.casefold():
                return True
        return False

    def has_deployment_status(self, manager_id: str) -> bool:
        """Whether any security admin deployment-status entry names a configuration of this manager (§11.6)."""
        configurations = self.configurations_of(manager_id)
        return any(
            self._status_names(status, c)
            for status in self.deployment_statuses
            if status.is_security_admin
            for c in configurations
        )

    def configuration_deployed(self, configuration_id: str, region: str) -> bool:
        """Whether a security admin configuration applies in a region (semantics §11.6 "No deployment status given"):
        every region when no status entry names any configuration of its manager; else only where an entry lists
        it as ``Deployed``."""
        configuration = self.security_admin_configuration(configuration_id)
        if configuration is None:
            return False
        if not self.has_deployment_status(configuration.network_manager_id):
            return True
        folded = _region_key(region)
        return any(
            status.is_security_admin
            and status.deployment_status is DeploymentState.DEPLOYED
            and _region_key(status.region) == folded
            and self._status_names(status, configuration)
            for status in self.deployment_statuses
        )

    # --- flow logs (semantics §9) -------------------------------------------------------------------------

    def flow_log(self, resource_id: str | None) -> FlowLog | None:
        return self.flow_logs.get(id_key(resource_id)) if resource_id else None

    def flow_logs_of_target(self, target_id: str) -> tuple[FlowLog, ...]:
        """The flow logs whose ``targetResourceId`` names this resource, in id order."""
        return self._flow_logs_by_target.get(id_key(target_id), ())

    @cached_property
    def _flow_logs_by_target(self) -> Mapping[str, tuple[FlowLog, ...]]:
        return _children(self.flow_logs.values(), lambda f: f.target_resource_id)

    def flow_log_target(self, flow_log: FlowLog) -> Resource | Subnet | None:
        """The NSG, VNet, subnet or NIC a flow log records; None when it names none that exists."""
        return self.flow_log_target_of(flow_log.target_resource_id)

    def flow_log_target_of(self, target: str) -> Resource | Subnet | None:
        """The NSG, VNet, subnet or NIC a ``targetResourceId`` names; None when it names none that exists."""
        kind = TargetKind.of(target)
        if kind is TargetKind.NETWORK_SECURITY_GROUP:
            return self.nsg(target)
        if kind is TargetKind.VIRTUAL_NETWORK:
            return self.vnet(target)
        if kind is TargetKind.SUBNET:
            return self.subnet(target)
        if kind is TargetKind.NETWORK_INTERFACE:
            return self.nic(target)
        return None

    def vnet_flow_log_of_nic(self, nic: NetworkInterface) -> FlowLog | None:
        """The VNet flow log that records a NIC's traffic: the one on the NIC, else on its subnet, else on its VNet
        (the most specific wins, enabled or not); None when none covers it."""
        subnet_id = nic.subnet
        scopes = [nic.id]
        if subnet_id:
            scopes += [subnet_id, parent_id(subnet_id)]
        for scope in scopes:
            found = [
                f for f in self.flow_logs_of_target(scope) if f.target_kind is not TargetKind.NETWORK_SECURITY_GROUP
            ]
            if found:
                return found[0]
        return None

    def collections(self) -> Iterator[tuple[str, Sequence[Any]]]:
        """Every collection of resources by its ``of``/``with_`` keyword (all but ``service_tags``)."""
        for item in fields(self):
            if item.name == "service_tags":
                continue
            value = getattr(self, item.name)
            yield item.name, tuple(value.values()) if isinstance(value, Mapping) else tuple(value)

    def with_(self, **changes: object) -> Topology:
        """A copy with some collections replaced (each given as an iterable of resources)."""
        current: dict[str, object] = dict(self.collections())
        current["service_tags"] = self.service_tags
        unknown = set(changes) - set(current)
        if unknown:
            raise TypeError(f"unknown collections: {sorted(unknown)}")
        current.update(changes)
        return Topology.of(**current)  # type: ignore[arg-type]


def _region_key(region: str) -> str:
    """Regions compare ignoring case and spaces (``East US`` is ``eastus``)."""
    return "".join(region.split()).casefold()
