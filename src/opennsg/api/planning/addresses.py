"""Private addresses Azure allocates: Dynamic addresses of IP configurations, at PUT and at import."""

from __future__ import annotations

import dataclasses

from opennsg.api.planning.state import replace_models
from opennsg.model.addressing import free_addresses
from opennsg.model.ids import id_key
from opennsg.model.resources import IpConfiguration, NetworkInterface, Resource, Subnet
from opennsg.model.topology import Topology


def with_primary(nic: NetworkInterface) -> NetworkInterface:
    """A NIC's only IP configuration is its primary one, as Azure reports it."""
    if len(nic.ip_configurations) != 1 or nic.ip_configurations[0].primary:
        return nic
    return dataclasses.replace(nic, ip_configurations=(dataclasses.replace(nic.ip_configurations[0], primary=True),))


def with_dynamic_addresses(topology: Topology, nic: NetworkInterface, existing: Resource | None) -> NetworkInterface:
    """An IP configuration without a private address gets one, as Azure's Dynamic allocation does: the address it
    already had, else the lowest free one in its subnet (Azure reserves the first four and the last)."""
    before = (
        {(c.name.casefold(), id_key(c.subnet or "")): c.private_ip_address for c in existing.ip_configurations}
        if isinstance(existing, NetworkInterface)
        else {}
    )
    taken: dict[str, set[str]] = {}  # subnet key -> addresses in use there
    for other in [n for n in topology.nics.values() if n.key != nic.key] + [nic]:
        for c in other.ip_configurations:
            if c.private_ip_address and c.subnet:
                taken.setdefault(id_key(c.subnet), set()).add(c.private_ip_address)
    configurations: list[IpConfiguration] = []
    for configuration in nic.ip_configurations:
        address = configuration.private_ip_address or before.get(
            (configuration.name.casefold(), id_key(configuration.subnet or ""))
        )
        # a configuration asking for a block of addresses (privateIPAddressPrefixLength) gets no single address
        if address is None and configuration.subnet and configuration.private_ip_address_prefix_length is None:
            in_subnet = taken.setdefault(id_key(configuration.subnet), set())
            address = _free_address(
                topology.subnet(configuration.subnet), configuration.private_ip_address_version, in_subnet
            )
            if address is not None:
                in_subnet.add(address)
        configurations.append(dataclasses.replace(configuration, private_ip_address=address))
    return dataclasses.replace(nic, ip_configurations=tuple(configurations))


def with_imported_dynamic_addresses(
    new: Topology, old: Topology, models: list[Resource]
) -> tuple[Topology, list[Resource]]:
    """Imported NICs get their Dynamic addresses as PUT NICs do, one NIC after another (each sees the addresses
    given before it; every static address of the import is already taken)."""
    out: list[Resource] = []
    for model in models:
        if isinstance(model, NetworkInterface):
            model = with_dynamic_addresses(new, model, old.nics.get(model.key))
            new = replace_models(new, model)
        out.append(model)
    return new, out


def _free_address(subnet: Subnet | None, version: str, taken: set[str]) -> str | None:
    """The lowest usable address of the subnet not in ``taken`` (None when the subnet is unknown or full)."""
    if subnet is None:
        return None
    return next(free_addresses(subnet, taken, 6 if version.casefold() == "ipv6" else 4), None)
