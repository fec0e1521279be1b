"""The read-only back-references ARM reports on a resource (a subnet's ipConfigurations, a NIC's virtualMachine, ...),
indexed once per snapshot so that rendering a list stays linear in the number of resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from opennsg.model.ids import id_key
from opennsg.model.topology import Topology


@dataclass(frozen=True, slots=True)
class BackReferences:
    ip_configurations_by_subnet: Mapping[str, tuple[str, ...]]  # subnet key -> NIC IP configuration ids
    subnets_by_route_table: Mapping[str, tuple[str, ...]]  # route table key -> subnet ids
    virtual_machine_by_nic: Mapping[str, str]  # NIC key -> VM id
    ip_configuration_by_public_ip: Mapping[str, str]  # public IP key -> NIC IP configuration id

    @classmethod
    def of(cls, topology: Topology) -> BackReferences:
        by_subnet: dict[str, list[str]] = {}
        by_public_ip: dict[str, str] = {}
        for nic in topology.nics.values():
            for configuration in nic.ip_configurations:
                if configuration.subnet:
                    by_subnet.setdefault(id_key(configuration.subnet), []).append(configuration.id)
                if configuration.public_ip_address:
                    by_public_ip.setdefault(id_key(configuration.public_ip_address), configuration.id)
        by_table: dict[str, list[str]] = {}
        for subnet in topology.subnets:
            if subnet.route_table:
                by_table.setdefault(id_key(subnet.route_table), []).append(subnet.id)
        by_nic: dict[str, str] = {}
        for vm in topology.vms.values():
            for nic_id in vm.network_interfaces:
                by_nic.setdefault(id_key(nic_id), vm.id)
        return cls(
            MappingProxyType({k: tuple(v) for k, v in by_subnet.items()}),
            MappingProxyType({k: tuple(v) for k, v in by_table.items()}),
            MappingProxyType(by_nic),
            MappingProxyType(by_public_ip),
        )
