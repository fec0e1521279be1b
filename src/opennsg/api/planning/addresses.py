"""Private addresses Azure allocates: Dynamic addresses and address blocks of IP configurations, at PUT and at
import, or Azure's ``SubnetIsFull`` when the subnet has no room left."""

from __future__ import annotations

import dataclasses

from opennsg.api.planning.state import replace_models
from opennsg.model.addressing import UsedAddresses, free_addresses, free_block
from opennsg.model.errors import ArmError
from opennsg.model.ids import id_key
from opennsg.model.resources import IpConfiguration, NetworkInterface, Resource, Subnet
from opennsg.model.topology import Topology
from opennsg.model.validation import Code, Message


def with_primary(nic: NetworkInterface) -> NetworkInterface:
    """A NIC's only IP configuration is its primary one, as Azure reports it."""
    if len(nic.ip_configurations) != 1 or nic.ip_configurations[0].primary:
        return nic
    return dataclasses.replace(nic, ip_configurations=(dataclasses.replace(nic.ip_configurations[0], primary=True),))


def _with_subnet_of_primary(nic: NetworkInterface) -> NetworkInterface:
    """A secondary IP configuration that names no subnet is in its primary's, as Azure answers it."""
    primary = nic.primary_ip_configuration
    if primary is None or primary.subnet is None or all(c.subnet for c in nic.ip_configurations):
        return nic
    configurations = tuple(
        c if c.subnet else dataclasses.replace(c, subnet=primary.subnet) for c in nic.ip_configurations
    )
    return dataclasses.replace(nic, ip_configurations=configurations)


def _version(configuration: IpConfiguration) -> int:
    return 6 if configuration.private_ip_address_version.casefold() == "ipv6" else 4


def dynamic_addresses(
    topology: Topology, nic: NetworkInterface, existing: Resource | None
) -> tuple[NetworkInterface, list[ArmError]]:
    """The NIC with an address for each IP configuration that has none, as Azure's Dynamic allocation gives it:
    the address (or block) it already had, else the lowest free address in its subnet or, for a configuration with
    ``privateIPAddressPrefixLength``, the lowest aligned free block of that length (Azure reserves the first four
    addresses and the last, and no block may hold them). A subnet without room gives ``SubnetIsFull``; the problems
    are returned (targets ``{NIC id}#{path}``, as ``validate_topology``'s) to be reported with the others."""
    nic = _with_subnet_of_primary(nic)
    before = (
        {
            (c.name.casefold(), id_key(c.subnet or ""), c.private_ip_address_prefix_length): c.private_ip_address
            for c in existing.ip_configurations
        }
        if isinstance(existing, NetworkInterface)
        else {}
    )
    wanted = {id_key(c.subnet) for c in nic.ip_configurations if c.subnet and not c.private_ip_address}
    if not wanted:
        return nic, []
    used: dict[str, UsedAddresses] = {key: UsedAddresses() for key in wanted}
    for other in [n for n in topology.nics.values() if n.key != nic.key] + [nic]:
        for c in other.ip_configurations:
            if c.subnet and id_key(c.subnet) in used:
                used[id_key(c.subnet)].add_configuration(c)
    configurations: list[IpConfiguration] = []
    problems: list[ArmError] = []
    for i, configuration in enumerate(nic.ip_configurations):
        length = configuration.private_ip_address_prefix_length
        address = configuration.private_ip_address or before.get(
            (configuration.name.casefold(), id_key(configuration.subnet or ""), length)
        )
        subnet = topology.subnet(configuration.subnet) if configuration.subnet else None
        if address is None and subnet is not None:
            in_subnet = used[subnet.key]
            version = _version(configuration)
            if length is None:
                address = next(free_addresses(subnet, in_subnet, version), None)
            else:
                address = free_block(subnet, in_subnet, version, length)
            if address is None:
                problems.append(_subnet_full(nic.id, subnet, version, length, i))
        configuration = dataclasses.replace(configuration, private_ip_address=address)
        if address is not None and subnet is not None:
            used[subnet.key].add_configuration(configuration)
        configurations.append(configuration)
    return dataclasses.replace(nic, ip_configurations=tuple(configurations)), problems


def _subnet_full(nic_id: str, subnet: Subnet, version: int, prefix_length: int | None, index: int) -> ArmError:
    bits = 32 if version == 4 else 128
    count = 1 if prefix_length is None or not 0 < prefix_length <= bits else 1 << (bits - prefix_length)
    message = Message.SUBNET_IS_FULL.format(
        subnet_id=subnet.id, prefixes=", ".join(subnet.address_prefixes), count=count
    )
    target = f"{nic_id}#properties.ipConfigurations[{index}].properties.subnet.id"
    return ArmError(Code.SUBNET_IS_FULL, message, target)


def with_imported_dynamic_addresses(
    new: Topology, old: Topology, models: list[Resource]
) -> tuple[Topology, list[Resource], list[ArmError]]:
    """Imported NICs get their Dynamic addresses as PUT NICs do, one NIC after another (each sees the addresses
    given before it; every static address of the import is already taken). Returns every full subnet met, each
    targeted at its NIC."""
    out: list[Resource] = []
    problems: list[ArmError] = []
    for model in models:
        if isinstance(model, NetworkInterface):
            model, found = dynamic_addresses(new, model, old.nics.get(model.key))
            problems.extend(found)
            new = replace_models(new, model)
        out.append(model)
    return new, out, problems
