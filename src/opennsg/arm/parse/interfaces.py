"""Network interfaces (IP configurations), virtual machines (their NICs) and private endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.network import allocation_method
from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.enums import IpAllocationMethod
from opennsg.model.ids import name_of
from opennsg.model.resources import (
    IpConfiguration,
    NetworkInterface,
    PrivateEndpoint,
    PrivateEndpointIpConfiguration,
    PrivateLinkServiceConnection,
    VirtualMachine,
)
from opennsg.model.validation import Code, Message


def _private_address(
    props: Mapping[str, Any], resource_id: str, reader: Reader, path: str
) -> tuple[str | None, int | None]:
    """``privateIPAddress`` and ``privateIPAddressPrefixLength``: ARM writes an allocated block as
    ``<address>/<prefix-length>`` with the length also in its own field (the block form without it is refused); the
    model keeps the address and the length."""
    text = reader.text(props, "privateIPAddress", path)
    length = reader.integer(props, "privateIPAddressPrefixLength", path)
    if text is None or "/" not in text:
        return text, length
    address, _, suffix = text.strip().partition("/")
    given = int(suffix) if suffix.isdigit() else None
    if given is None or length is None or length != given:  # the block form comes with its length, as ARM answers
        message = Message.INVALID_PRIVATE_IP_BLOCK.format(
            value=text, ip_configuration_id=resource_id, length="none" if length is None else length
        )
        reader.add(Code.INVALID_PRIVATE_IP_ADDRESS_FORMAT, message, f"{path}privateIPAddress")
        return address, length
    return address, given


def _ip_configuration(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str) -> IpConfiguration:
    props, pp = properties_of(body, path)
    address, block_length = _private_address(props, resource_id, reader, pp)
    configuration = IpConfiguration(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        private_ip_address=address,
        subnet=reader.reference(props, "subnet", pp),
        private_ip_address_version=reader.text(props, "privateIPAddressVersion", pp) or "IPv4",
        application_security_groups=reader.references(props, "applicationSecurityGroups", pp),
        primary=reader.flag(props, "primary", pp),
        public_ip_address=reader.reference(props, "publicIPAddress", pp),
        load_balancer_backend_address_pools=reader.references(props, "loadBalancerBackendAddressPools", pp),
        load_balancer_inbound_nat_rules=reader.references(props, "loadBalancerInboundNatRules", pp),
        private_ip_allocation_method=allocation_method(props, "privateIPAllocationMethod", reader, pp, resource_id),
        private_ip_address_prefix_length=block_length,
        gateway_load_balancer=reader.reference(props, "gatewayLoadBalancer", pp),
    )
    if configuration.private_ip_allocation_method is IpAllocationMethod.STATIC and not configuration.private_ip_address:
        message = Message.PRIVATE_IP_ADDRESS_MISSING.format(id=resource_id)
        reader.add(Code.PRIVATE_IP_ADDRESS_MISSING, message, f"{pp}privateIPAddress")
    return configuration


def parse_nic(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkInterface:
    props, pp = properties_of(body, path)
    configs = [
        _ip_configuration(child.body, child.id, reader, child.path)
        for child in reader.children(resource_id, "ipConfigurations", props, pp)
    ]
    return NetworkInterface(
        **reader.tracked(body, resource_id, path),
        ip_configurations=tuple(configs),
        network_security_group=reader.reference(props, "networkSecurityGroup", pp),
        mac_address=reader.text(props, "macAddress", pp),
        virtual_machine=reader.reference(props, "virtualMachine", pp),
        enable_ip_forwarding=reader.flag(props, "enableIPForwarding", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
        private_endpoint=reader.reference(props, "privateEndpoint", pp),
        enable_accelerated_networking=reader.flag(props, "enableAcceleratedNetworking", pp),
        disable_tcp_state_tracking=reader.flag(props, "disableTcpStateTracking", pp),
    )


def parse_vm(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> VirtualMachine:
    """Only what NSGs need of a VM: its NICs and which one is primary."""
    props, pp = properties_of(body, path)
    profile = reader.get(props, "networkProfile")
    nics: list[str] = []
    primary: str | None = None
    if isinstance(profile, Mapping):
        for item, ipath in reader.objects(profile, "networkInterfaces", f"{pp}networkProfile."):
            nic_id = reader.text(item, "id", ipath)
            if not nic_id:
                reader.add(Code.MISSING_REFERENCE_ID, Message.MISSING_REFERENCE_ID.format(path=ipath), ipath)
                continue
            nics.append(nic_id)
            nic_props, npath = properties_of(item, ipath)
            if reader.flag(nic_props, "primary", npath):
                primary = nic_id
    elif profile is not None:
        reader.invalid("networkProfile", f"{pp}networkProfile", "an object", profile)
    return VirtualMachine(
        **reader.tracked(body, resource_id, path),
        network_interfaces=tuple(nics),
        primary_network_interface=primary,
    )


def parse_private_endpoint(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = ""
) -> PrivateEndpoint:
    """A private endpoint (semantics §12.1): its subnet, NICs and static private IPs."""
    props, pp = properties_of(body, path)
    configurations: list[PrivateEndpointIpConfiguration] = []
    for i, (item, ipath) in enumerate(reader.objects(props, "ipConfigurations", pp)):
        inner, ip = properties_of(item, ipath)
        configurations.append(
            PrivateEndpointIpConfiguration(
                name=reader.text(item, "name", ipath) or f"ipconfig{i + 1}",
                private_ip_address=reader.text(inner, "privateIPAddress", ip),
                group_id=reader.text(inner, "groupId", ip),
                member_name=reader.text(inner, "memberName", ip),
            )
        )
    connections: list[PrivateLinkServiceConnection] = []
    for collection in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections"):
        for item, ipath in reader.objects(props, collection, pp):
            inner, ip = properties_of(item, ipath)
            service = reader.text(inner, "privateLinkServiceId", ip)
            connections.append(
                PrivateLinkServiceConnection(
                    name=reader.text(item, "name", ipath) or (name_of(service) if service else ""),
                    private_link_service_id=service,
                    group_ids=reader.texts(inner, "groupIds", ip),
                    request_message=reader.text(inner, "requestMessage", ip),
                    manual=collection.startswith("manual"),
                )
            )
    return PrivateEndpoint(
        **reader.tracked(body, resource_id, path),
        subnet=reader.reference(props, "subnet", pp),
        network_interfaces=reader.references(props, "networkInterfaces", pp),
        application_security_groups=reader.references(props, "applicationSecurityGroups", pp),
        ip_configurations=tuple(configurations),
        custom_network_interface_name=reader.text(props, "customNetworkInterfaceName", pp),
        connections=tuple(connections),
        ip_version_type=reader.text(props, "ipVersionType", pp),
    )
