"""The ARM resources of the NSG world as immutable, typed values.

Rules keep their address and port fields as the strings ARM carries (so export round-trips exactly);
``opennsg.model.values`` parses them and ``opennsg.model.validation`` checks them.
References to other resources are ARM ids (compare them with ``ids.id_key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from opennsg.model.enums import Access, Direction, IpAllocationMethod, PrivateEndpointNetworkPolicies, Protocol
from opennsg.model.ids import ResourceId, id_key, parent_id
from opennsg.model.pickling import quick_setstate


@quick_setstate  # read back often from the inputs cache
@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One NSG rule with every ARM property (semantics §1.1). ``*_asgs`` hold ASG ids."""

    name: str
    priority: int
    direction: Direction
    access: Access
    protocol: Protocol
    source_address_prefix: str | None = None
    source_address_prefixes: tuple[str, ...] = ()
    source_asgs: tuple[str, ...] = ()
    source_port_range: str | None = None
    source_port_ranges: tuple[str, ...] = ()
    destination_address_prefix: str | None = None
    destination_address_prefixes: tuple[str, ...] = ()
    destination_asgs: tuple[str, ...] = ()
    destination_port_range: str | None = None
    destination_port_ranges: tuple[str, ...] = ()
    description: str | None = None
    is_default: bool = False
    id: str | None = None

    @property
    def source_addresses(self) -> tuple[str, ...]:
        """Prefixes/tags of the source slot, singular or plural, whichever is supplied."""
        return (self.source_address_prefix,) if self.source_address_prefix else self.source_address_prefixes

    @property
    def destination_addresses(self) -> tuple[str, ...]:
        return (
            (self.destination_address_prefix,) if self.destination_address_prefix else self.destination_address_prefixes
        )

    @property
    def source_ports(self) -> tuple[str, ...]:
        return (self.source_port_range,) if self.source_port_range else self.source_port_ranges

    @property
    def destination_ports(self) -> tuple[str, ...]:
        return (self.destination_port_range,) if self.destination_port_range else self.destination_port_ranges

    @property
    def kind(self) -> str:
        """``securityRules`` or ``defaultSecurityRules``: the collection, as IP flow verify names it."""
        return "defaultSecurityRules" if self.is_default else "securityRules"

    @property
    def verify_name(self) -> str:
        """Name as IP flow verify and effective rules report it (semantics §0)."""
        return f"{self.kind}/{self.name}"

    @property
    def log_name(self) -> str:
        """Name as NSG diagnostics and flow logs report it (semantics §0)."""
        return f"{'DefaultRule' if self.is_default else 'UserRule'}_{self.name}"


@dataclass(frozen=True, slots=True)
class Resource:
    """Base of every top-level ARM resource."""

    id: str
    name: str
    location: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def subscription_id(self) -> str:
        parsed = ResourceId.parse(self.id)
        return parsed.subscription if parsed else ""

    @property
    def resource_group(self) -> str:
        parsed = ResourceId.parse(self.id)
        return (parsed.resource_group or "") if parsed else ""


@dataclass(frozen=True, slots=True)
class NetworkSecurityGroup(Resource):
    security_rules: tuple[SecurityRule, ...] = ()
    default_security_rules: tuple[SecurityRule, ...] = ()
    flush_connection: bool = False
    resource_guid: str | None = None

    def rules(self, direction: Direction) -> tuple[SecurityRule, ...]:
        """User and default rules of one direction, in evaluation order (ascending priority)."""
        chosen = [r for r in (*self.security_rules, *self.default_security_rules) if r.direction == direction]
        return tuple(sorted(chosen, key=lambda r: r.priority))

    def rule(self, name: str) -> SecurityRule | None:
        folded = name.casefold()
        return next((r for r in self.security_rules if r.name.casefold() == folded), None)


@dataclass(frozen=True, slots=True)
class ApplicationSecurityGroup(Resource):
    resource_guid: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    address_prefix: str
    next_hop_type: str
    next_hop_ip_address: str | None = None


@dataclass(frozen=True, slots=True)
class RouteTable(Resource):
    routes: tuple[Route, ...] = ()
    disable_bgp_route_propagation: bool = False

    @property
    def forces_tunnelling(self) -> bool:
        """A 0.0.0.0/0 route whose next hop is not the Internet (semantics §0 "KMS and forced tunnelling")."""
        return any(
            r.address_prefix.strip() == "0.0.0.0/0" and r.next_hop_type.casefold() != "internet" for r in self.routes
        )


@dataclass(frozen=True, slots=True)
class Delegation:
    """A subnet delegation: its name and the service (``Microsoft.Sql/managedInstances``, ...) it delegates to."""

    name: str
    service_name: str


@dataclass(frozen=True, slots=True)
class ServiceEndpoint:
    """A subnet's service endpoint (``Microsoft.Storage``, ...) and the regions it reaches (empty: Azure's default)."""

    service: str
    locations: tuple[str, ...] = ()
    #: ``networkIdentifier``: the id of the resource a service endpoint with a network identifier is bound to.
    network_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    name: str
    address_prefixes: tuple[str, ...] = ()
    network_security_group: str | None = None
    route_table: str | None = None
    nat_gateway: str | None = None
    #: None: not given (ARM's default, ``Disabled``); see ``endpoint_network_policies``.
    private_endpoint_network_policies: PrivateEndpointNetworkPolicies | None = None
    #: None: not given. ARM GETs of subnets created with API >= 2025-07-01 say ``false``; older ones have no
    #: value and keep default outbound access (semantics §12.2).
    default_outbound_access: bool | None = None
    #: Delegations; their services matter to semantics §11.2's exceptions (``delegated_services``).
    delegations: tuple[Delegation, ...] = ()
    #: Application Gateway IP configurations using the subnet (semantics §11.2: such subnets get no admin rules).
    application_gateway_ip_configurations: tuple[str, ...] = ()
    service_endpoints: tuple[ServiceEndpoint, ...] = ()
    #: Ids of the service endpoint policies applied (a resource type OpenNSG keeps as references only).
    service_endpoint_policies: tuple[str, ...] = ()

    @property
    def delegated_services(self) -> tuple[str, ...]:
        """``serviceName`` of each delegation."""
        return tuple(d.service_name for d in self.delegations)

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def endpoint_network_policies(self) -> PrivateEndpointNetworkPolicies:
        """``privateEndpointNetworkPolicies`` as it applies, with ARM's default."""
        return self.private_endpoint_network_policies or PrivateEndpointNetworkPolicies.DISABLED

    @property
    def has_default_outbound_access(self) -> bool:
        """False only for a private subnet (``defaultOutboundAccess: false``, semantics §12.2)."""
        return self.default_outbound_access is not False

    @property
    def vnet_id(self) -> str:
        return parent_id(self.id)


@dataclass(frozen=True, slots=True)
class VirtualNetworkPeering:
    id: str
    name: str
    remote_virtual_network: str | None
    remote_address_space: tuple[str, ...] = ()
    peering_state: str = "Connected"
    allow_virtual_network_access: bool = True
    allow_forwarded_traffic: bool = False
    allow_gateway_transit: bool = False
    use_remote_gateways: bool = False
    #: False: subnet peering, only ``local_subnet_names`` of this VNet and ``remote_subnet_names`` of the remote one.
    peer_complete_vnets: bool = True
    local_subnet_names: tuple[str, ...] = ()
    remote_subnet_names: tuple[str, ...] = ()
    #: Peer only the IPv6 address space.
    enable_only_ipv6_peering: bool = False

    @property
    def connected(self) -> bool:
        return self.peering_state.casefold() == "connected"

    def peers_subnet(self, subnet_name: str) -> bool:
        """Does this peering connect the local subnet of that name (every subnet, unless it is a subnet peering)?"""
        folded = subnet_name.casefold()
        return self.peer_complete_vnets or any(n.casefold() == folded for n in self.local_subnet_names)


@dataclass(frozen=True, slots=True)
class VirtualNetworkEncryption:
    """``encryption`` of a VNet: whether traffic between its VMs is encrypted, and what happens to unencrypted traffic
    (``enforcement``: ``AllowUnencrypted`` or ``DropUnencrypted``; None when not given)."""

    enabled: bool
    enforcement: str | None = None


@dataclass(frozen=True, slots=True)
class VirtualNetwork(Resource):
    address_space: tuple[str, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    peerings: tuple[VirtualNetworkPeering, ...] = ()
    flow_timeout_in_minutes: int | None = None
    #: On-premises prefixes reachable through this VNet's gateways, when modelled (semantics §0 VirtualNetwork tag).
    gateway_prefixes: tuple[str, ...] = ()
    resource_guid: str | None = None
    #: ``bgpCommunities.virtualNetworkCommunity`` (``12076:20000``, ...); the regional community is Azure's, read-only.
    bgp_community: str | None = None
    encryption: VirtualNetworkEncryption | None = None


@dataclass(frozen=True, slots=True)
class IpConfiguration:
    id: str
    name: str
    private_ip_address: str | None
    subnet: str | None
    private_ip_address_version: str = "IPv4"
    application_security_groups: tuple[str, ...] = ()
    primary: bool = False
    public_ip_address: str | None = None
    load_balancer_backend_address_pools: tuple[str, ...] = ()
    #: Inbound NAT rules of load balancers forwarding to this configuration (references: the rules are not modelled).
    load_balancer_inbound_nat_rules: tuple[str, ...] = ()
    #: ``Static`` (the address given) or ``Dynamic`` (Azure picks it); None: not given (``allocation_method``).
    private_ip_allocation_method: IpAllocationMethod | None = None
    #: A block of addresses (``/28``, ...) asked for instead of one address.
    private_ip_address_prefix_length: int | None = None
    #: The gateway load balancer's frontend IP configuration chained to this one (a reference, not modelled).
    gateway_load_balancer: str | None = None

    @property
    def allocation_method(self) -> IpAllocationMethod:
        """How the private address is assigned, with Azure's default (``Dynamic``)."""
        return self.private_ip_allocation_method or IpAllocationMethod.DYNAMIC

    @property
    def private_ip_block(self) -> str | None:
        """What the configuration holds as ARM writes ``privateIPAddress``: its block (``172.20.2.16/28``) when it
        has ``privateIPAddressPrefixLength``, else its one address."""
        address = self.private_ip_address
        if address and self.private_ip_address_prefix_length is not None:
            return f"{address.strip()}/{self.private_ip_address_prefix_length}"
        return address


@dataclass(frozen=True, slots=True)
class NetworkInterface(Resource):
    ip_configurations: tuple[IpConfiguration, ...] = ()
    network_security_group: str | None = None
    mac_address: str | None = None
    virtual_machine: str | None = None
    enable_ip_forwarding: bool = False
    resource_guid: str | None = None
    #: The private endpoint owning this NIC (ARM's read-only ``privateEndpoint`` reference, semantics §12.1).
    private_endpoint: str | None = None
    enable_accelerated_networking: bool = False
    #: Connection tracking off for the NIC (Azure then does not track flows statefully).
    disable_tcp_state_tracking: bool = False

    @property
    def primary_ip_configuration(self) -> IpConfiguration | None:
        for cfg in self.ip_configurations:
            if cfg.primary:
                return cfg
        return self.ip_configurations[0] if self.ip_configurations else None

    @property
    def subnet(self) -> str | None:
        """The NIC's subnet: that of its primary IP configuration (all of a NIC's configs share one VNet)."""
        cfg = self.primary_ip_configuration
        return cfg.subnet if cfg else None

    @property
    def normalized_mac(self) -> str | None:
        """MAC as flow logs print it: 12 upper-case hex digits, no separators (semantics §9.1)."""
        return normalize_mac(self.mac_address) if self.mac_address else None


def normalize_mac(mac: str) -> str:
    """12 upper-case hex digits without separators (semantics §9.1); comparisons use this form."""
    return "".join(ch for ch in mac if ch.isalnum()).upper()


@dataclass(frozen=True, slots=True)
class VirtualMachine(Resource):
    network_interfaces: tuple[str, ...] = ()
    primary_network_interface: str | None = None


@dataclass(frozen=True, slots=True)
class PublicIpDnsSettings:
    """A public IP's ``dnsSettings`` as written (``fqdn`` is Azure's answer, kept when given)."""

    domain_name_label: str | None = None
    domain_name_label_scope: str | None = None
    fqdn: str | None = None
    reverse_fqdn: str | None = None


#: A public IP's idle timeout when none is given (minutes).
IDLE_TIMEOUT_DEFAULT = 4

#: Public IP SKUs closed to inbound traffic unless an NSG allows it (semantics §12.3); ``Basic`` is open.
CLOSED_BY_DEFAULT_PUBLIC_IP_SKUS = frozenset({"standard", "standardv2"})


@dataclass(frozen=True, slots=True)
class PublicIpAddress(Resource):
    ip_address: str | None = None
    ip_configuration: str | None = None
    #: ``sku.name`` (``Basic``, ``Standard``, ``StandardV2``) and ``sku.tier`` as given; None when absent.
    sku_name: str | None = None
    sku_tier: str | None = None
    public_ip_address_version: str | None = None
    #: The NAT gateway using this address (ARM's read-only ``natGateway`` reference).
    nat_gateway: str | None = None
    zones: tuple[str, ...] = ()
    #: None: not given (see ``allocation_method``).
    public_ip_allocation_method: IpAllocationMethod | None = None
    idle_timeout_in_minutes: int | None = None
    dns_settings: PublicIpDnsSettings | None = None

    @property
    def allocation_method(self) -> IpAllocationMethod:
        """As given, else Azure's default for the SKU: ``Dynamic`` for Basic, ``Static`` for the Standard ones."""
        if self.public_ip_allocation_method is not None:
            return self.public_ip_allocation_method
        basic = (self.sku_name or "").casefold() == "basic"
        return IpAllocationMethod.DYNAMIC if basic else IpAllocationMethod.STATIC

    @property
    def idle_timeout(self) -> int:
        """Minutes, as given, else Azure's default."""
        return self.idle_timeout_in_minutes if self.idle_timeout_in_minutes is not None else IDLE_TIMEOUT_DEFAULT

    @property
    def ip_version(self) -> str:
        return self.public_ip_address_version or "IPv4"

    @property
    def closed_by_default(self) -> bool:
        """Standard SKUs deny inbound when neither subnet nor NIC has an NSG (semantics §12.3). ARM's default SKU for
        a new public IP is Standard, so an absent SKU counts as Standard."""
        return (self.sku_name or "Standard").casefold() in CLOSED_BY_DEFAULT_PUBLIC_IP_SKUS


@dataclass(frozen=True, slots=True)
class PrivateEndpointIpConfiguration:
    """A static private address of a private endpoint, for one member of one group of the linked service."""

    name: str
    private_ip_address: str | None = None
    group_id: str | None = None
    member_name: str | None = None


@dataclass(frozen=True, slots=True)
class PrivateLinkServiceConnection:
    """A private endpoint's connection to a private link service (or to a resource such as a storage account)."""

    name: str
    private_link_service_id: str | None = None
    group_ids: tuple[str, ...] = ()
    request_message: str | None = None
    #: A ``manualPrivateLinkServiceConnections`` entry (approved by the service's owner) rather than an automatic one.
    manual: bool = False


@dataclass(frozen=True, slots=True)
class PrivateEndpoint(Resource):
    """``Microsoft.Network/privateEndpoints`` (semantics §12.1): its subnet, the NIC(s) it owns and its private IPs."""

    subnet: str | None = None
    network_interfaces: tuple[str, ...] = ()
    application_security_groups: tuple[str, ...] = ()
    ip_configurations: tuple[PrivateEndpointIpConfiguration, ...] = ()
    custom_network_interface_name: str | None = None
    connections: tuple[PrivateLinkServiceConnection, ...] = ()
    #: ``ipVersionType``: ``IPv4``, ``IPv6`` or ``DualStack``; None when not given.
    ip_version_type: str | None = None

    @property
    def private_ip_addresses(self) -> tuple[str, ...]:
        """Static private addresses of ``ipConfigurations``."""
        return tuple(c.private_ip_address for c in self.ip_configurations if c.private_ip_address)

    @property
    def private_link_service_ids(self) -> tuple[str, ...]:
        """``privateLinkServiceId`` of each (manual or automatic) connection."""
        return tuple(c.private_link_service_id for c in self.connections if c.private_link_service_id)


@dataclass(frozen=True, slots=True)
class NatGateway(Resource):
    """``Microsoft.Network/natGateways``: an outbound path to the internet for its subnets (semantics §12.2, §12.3)."""

    sku_name: str | None = None
    public_ip_addresses: tuple[str, ...] = ()
    public_ip_prefixes: tuple[str, ...] = ()
    #: Subnets using it (read-only back-references; the subnet's ``natGateway`` is what associates them).
    subnets: tuple[str, ...] = ()
    idle_timeout_in_minutes: int | None = None
    resource_guid: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """What SMTP filtering needs to know of a subscription (semantics §0 "Outbound SMTP")."""

    subscription_id: str
    quota_id: str | None = None
    offer_type: str | None = None
    created_date: date | None = None
    smtp_exemption: bool = False
    display_name: str | None = None

    @property
    def key(self) -> str:
        return self.subscription_id.casefold()
