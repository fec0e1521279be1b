"""A whole network: every resource of an import, indexed by ARM id (case-insensitive)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    NetworkInterface,
    NetworkSecurityGroup,
    PublicIpAddress,
    Resource,
    RouteTable,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
)
from opennsg.model.servicetags import ServiceTags

R = TypeVar("R", bound=Resource)


def _index(items: Iterable[R]) -> Mapping[str, R]:
    return MappingProxyType({item.key: item for item in items})


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
        vnet = self.vnets.get(key.rsplit("/", 2)[0])
        if vnet is None:
            return None
        return next((s for s in vnet.subnets if s.key == key), None)

    def vnet_of_subnet(self, subnet_id: str) -> VirtualNetwork | None:
        return self.vnets.get(id_key(subnet_id).rsplit("/", 2)[0])

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

    def with_(self, **changes: object) -> Topology:
        """A copy with some collections replaced (each given as an iterable of resources)."""
        current: dict[str, object] = {
            "nsgs": self.nsgs.values(),
            "asgs": self.asgs.values(),
            "vnets": self.vnets.values(),
            "route_tables": self.route_tables.values(),
            "nics": self.nics.values(),
            "vms": self.vms.values(),
            "public_ips": self.public_ips.values(),
            "subscriptions": self.subscriptions.values(),
            "service_tags": self.service_tags,
        }
        unknown = set(changes) - set(current)
        if unknown:
            raise TypeError(f"unknown collections: {sorted(unknown)}")
        current.update(changes)
        return Topology.of(**current)  # type: ignore[arg-type]
