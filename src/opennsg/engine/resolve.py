"""Topology → ``NicPolicy``: every rule field of the NSGs that apply at one NIC, as integer interval sets.

Tags are computed per NIC as semantics §0 decides (``VirtualNetwork``, ``Internet``, ``AzureLoadBalancer``, the
``AzurePlatform*`` tags), service tags come from ``topology.service_tags`` (only tags usable in NSGs, names
case-insensitive, regional variants are entries of their own), ASGs become the private IPs of their member
IP configurations (an empty ASG matches nothing). ``Icmp`` covers ICMPv6 (``model.enums.RULE_PROTOCOL_NUMBERS``).
References validation should have rejected (unknown tags, ASGs or NSGs) raise ``OpenNsgError``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import ip_network
from types import MappingProxyType

from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.admin import ManagerAdminRules, admin_rules_for
from opennsg.engine.ir import AnyRule, Association, NicPolicy, ResolvedAdmin, ResolvedNsg, ResolvedRule
from opennsg.engine.peering import peered_prefixes
from opennsg.engine.platform import smtp_blocked
from opennsg.model.avnm import AddressPrefixItem, AddressPrefixType, AdminRule
from opennsg.model.defaults import default_security_rules
from opennsg.model.enums import RULE_PROTOCOL_NUMBERS, Direction, PrivateEndpointNetworkPolicies
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.policy import (
    AZURE_LOAD_BALANCER_PREFIXES,
    HOST_VIRTUAL_IP,
    NOT_INTERNET_PREFIXES,
    NOT_INTERNET_RANGES,
    PLATFORM_DNS_TAG,
    PLATFORM_IMDS_TAG,
    PLATFORM_LKM_TAG,
    PLATFORM_TAG_PREFIXES,
)
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup, SecurityRule, Subnet, VirtualNetwork
from opennsg.model.tags import (
    AZURE_LOAD_BALANCER_TAG,
    BUILTIN_TAGS,
    INTERNET_TAG,
    PLATFORM_TAGS,
    VIRTUAL_NETWORK_TAG,
    unpublished_service_tag,
)
from opennsg.model.topology import Topology
from opennsg.model.validation import Code, Message, canonical_tag
from opennsg.model.values import IPAddress, parse_port_range, parse_prefix, prefix_span


def _networks(prefixes: Iterable[str]) -> AddressSet:
    spans = [prefix_span(p) for p in prefixes]
    return AddressSet.of_spans(s for s in spans if s is not None)


def virtual_network_prefixes(
    vnet: VirtualNetwork | None, subnet: Subnet | None = None, topology: Topology | None = None
) -> tuple[str, ...]:
    """The ``VirtualNetwork`` tag of a NIC in ``subnet`` of ``vnet`` (semantics §0): own address spaces, what the
    Connected peerings connect to that subnet (``engine.peering``), gateway (on-premises) prefixes, and the host
    virtual IP."""
    if vnet is None:
        return (f"{HOST_VIRTUAL_IP}/32",)
    peered = peered_prefixes(topology, vnet, subnet)
    return (*vnet.address_space, *peered, *vnet.gateway_prefixes, f"{HOST_VIRTUAL_IP}/32")


def asg_addresses(topology: Topology) -> Mapping[str, AddressSet]:
    """Each ASG (by id key) → the private IPs of its members: NIC IP configurations that name it, and the NICs of
    private endpoints that name it (an endpoint's ASGs are set on the endpoint, semantics §12.1)."""
    members: dict[str, list[str]] = defaultdict(list)
    for nic in topology.nics.values():
        endpoint = topology.private_endpoint_of_nic(nic.id)
        endpoint_asgs = endpoint.application_security_groups if endpoint is not None else ()
        for cfg in nic.ip_configurations:
            block = cfg.private_ip_block  # an address block (privateIPAddressPrefixLength) is held whole
            if block:
                for asg in {id_key(a) for a in (*cfg.application_security_groups, *endpoint_asgs)}:
                    members[asg].append(block)
    return MappingProxyType({key: _networks(members.get(key, ())) for key in topology.asgs})


class _TagResolver:
    """Resolves the address strings of rules at one NIC, remembering each tag's set (tags can be large)."""

    def __init__(self, topology: Topology, virtual_network: AddressSet, asgs: Mapping[str, AddressSet]) -> None:
        self.topology = topology
        self.asgs = asgs
        self.platform = platform_tag_sets(topology)
        self.builtin = {
            VIRTUAL_NETWORK_TAG: virtual_network,
            INTERNET_TAG: internet_set(virtual_network),
            AZURE_LOAD_BALANCER_TAG: _networks(AZURE_LOAD_BALANCER_PREFIXES),
        }
        self._service: dict[str, AddressSet] = {}
        self.errors: list[ArmError] = []

    def tag(self, text: str) -> AddressSet | None:
        """The set a tag names, or None when ``text`` is not a tag usable in NSG rules."""
        folded = text.strip().casefold()
        if folded in BUILTIN_TAGS:
            return self.builtin[BUILTIN_TAGS[folded]]
        if folded in PLATFORM_TAGS:
            return self.platform[PLATFORM_TAGS[folded]]
        if folded in self._service:
            return self._service[folded]
        found = self.topology.service_tags.nsg_tag(folded) if self.topology.service_tags else None
        if found is None:
            return None
        resolved = _networks(found.address_prefixes)
        self._service[folded] = resolved
        return resolved

    def addresses(self, rule: SecurityRule, prefixes: tuple[str, ...], asgs: tuple[str, ...]) -> AddressSet:
        if asgs:
            members_of: list[AddressSet] = []
            for asg in asgs:
                members = self.asgs.get(id_key(asg))
                if members is None:
                    self.errors.append(
                        ArmError(
                            Code.INVALID_REFERENCE,
                            f"Application security group {asg} referenced by security rule "
                            f"{rule.id or rule.name} was not found.",
                            rule.id,
                        )
                    )
                    continue
                members_of.append(members)
            return AddressSet.union_all(members_of)
        networks: list[tuple[int, int, int]] = []
        tags: list[AddressSet] = []
        for text in prefixes:
            if text.strip() == "*":
                return AddressSet.any()
            span = prefix_span(text)
            if span is not None:
                networks.append(span)
                continue
            found = self.tag(text)
            if found is None:
                unpublished = unpublished_service_tag(text)
                if unpublished is not None:
                    message = Message.SERVICE_TAG_PREFIXES_UNKNOWN.format(rule_id=rule.id or rule.name, tag=unpublished)
                    self.errors.append(ArmError(Code.SERVICE_TAG_PREFIXES_UNKNOWN, message, rule.id))
                    continue
                self.errors.append(
                    ArmError(
                        Code.INVALID_ADDRESS_PREFIX,
                        f"Security rule {rule.id or rule.name} has invalid Address prefix. Value provided: {text}",
                        rule.id,
                    )
                )
                continue
            tags.append(found)
        return AddressSet.union_all([AddressSet.of_spans(networks), *tags])

    def ports(self, rule: AnyRule, texts: tuple[str, ...]) -> PortSet:
        ranges = []
        for text in texts:
            parsed = parse_port_range(text)
            if parsed is None:
                self.errors.append(
                    ArmError(
                        Code.INVALID_PORT_RANGE,
                        f"Security rule has invalid Port range. Value provided: {text}. Value should be an integer "
                        "OR integer range with '-' delimiter. Valid range 0-65535.",
                        rule.id,
                    )
                )
                continue
            ranges.append(parsed)
        return PortSet.of(ranges)

    def group_prefixes(self, rule: AdminRule, group_id: str) -> AddressSet:
        """A network group as an address: its members' address spaces (VNets) or prefixes (subnets), semantics §11.6."""
        if self.topology.network_group(group_id) is None:
            self.errors.append(
                ArmError(
                    Code.INVALID_REFERENCE,
                    f"Network group {group_id} referenced by security admin rule {rule.id} was not found.",
                    rule.id,
                )
            )
            return AddressSet()
        prefixes: list[str] = []
        for member in self.topology.static_members_of(group_id):
            vnet = self.topology.vnet(member.resource_id)
            subnet = self.topology.subnet(member.resource_id)
            if vnet is not None:
                prefixes += vnet.address_space
            elif subnet is not None:
                prefixes += subnet.address_prefixes
        return _networks(prefixes)

    def admin_addresses(self, rule: AdminRule, items: tuple[AddressPrefixItem, ...]) -> AddressSet:
        """An admin rule's ``sources``/``destinations``; none given means every address."""
        if not items:
            return AddressSet.any()
        sets: list[AddressSet] = []
        for item in items:
            text = item.address_prefix.strip()
            if item.address_prefix_type is AddressPrefixType.NETWORK_GROUP:
                sets.append(self.group_prefixes(rule, text))
                continue
            if item.address_prefix_type is AddressPrefixType.IP_PREFIX:
                if text == "*":
                    return AddressSet.any()
                network = parse_prefix(text)
                found = AddressSet.of([network]) if network is not None else None
            else:
                found = self.tag(text)
            service_tag = item.address_prefix_type is not AddressPrefixType.IP_PREFIX
            unpublished = unpublished_service_tag(text) if found is None and service_tag else None
            if unpublished is not None:
                message = Message.SERVICE_TAG_PREFIXES_UNKNOWN.format(rule_id=rule.id, tag=unpublished)
                self.errors.append(ArmError(Code.SERVICE_TAG_PREFIXES_UNKNOWN, message, rule.id))
                continue
            if found is None:
                self.errors.append(
                    ArmError(
                        Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX,
                        f"Security admin rule {rule.id} has an invalid {item.address_prefix_type.value} address "
                        f"prefix. Value provided: {text}",
                        rule.id,
                    )
                )
                continue
            sets.append(found)
        return AddressSet.union_all(sets)

    def admin_rule(self, rule: AdminRule) -> ResolvedRule:
        platform = next(
            (
                PLATFORM_TAGS[folded]
                for item in rule.destinations
                if item.address_prefix_type is AddressPrefixType.SERVICE_TAG
                and (folded := item.address_prefix.strip().casefold()) in PLATFORM_TAGS
            ),
            None,
        )
        return ResolvedRule(
            rule=rule,
            protocols=RULE_PROTOCOL_NUMBERS[rule.protocol.protocol],
            source=self.admin_addresses(rule, rule.sources),
            source_ports=self.ports(rule, rule.source_port_ranges) if rule.source_port_ranges else PortSet.any(),
            destination=self.admin_addresses(rule, rule.destinations),
            destination_ports=(
                self.ports(rule, rule.destination_port_ranges) if rule.destination_port_ranges else PortSet.any()
            ),
            platform_tag=platform,
        )

    def rule(self, rule: SecurityRule) -> ResolvedRule:
        named = (rule.destination_address_prefix or "").strip().casefold()
        return ResolvedRule(
            rule=rule,
            protocols=RULE_PROTOCOL_NUMBERS[rule.protocol],
            source=self.addresses(rule, rule.source_addresses, rule.source_asgs),
            source_ports=self.ports(rule, rule.source_ports),
            destination=self.addresses(rule, rule.destination_addresses, rule.destination_asgs),
            destination_ports=self.ports(rule, rule.destination_ports),
            platform_tag=PLATFORM_TAGS.get(named) if not rule.is_default else None,
        )


def internet_set(virtual_network: AddressSet) -> AddressSet:
    """The ``Internet`` tag: every address outside the IANA special-purpose ranges and ``VirtualNetwork`` (§0)."""
    return AddressSet.any().difference(_networks(NOT_INTERNET_PREFIXES)).difference(virtual_network)


@dataclass(frozen=True, slots=True)
class OutsideInternet:
    """An address in neither ``Internet`` nor ``VirtualNetwork`` at a NIC, and the special-purpose range it is in."""

    address: IPAddress
    prefix: str
    what: str

    def __str__(self) -> str:
        return (
            f"{self.address} is neither Internet nor VirtualNetwork at this NIC: {self.prefix} is {self.what}, an "
            "IANA special-purpose range that Azure's Internet tag leaves out (docs/semantics.md §0); rules naming "
            "Internet do not match it"
        )


def outside_internet(policy: NicPolicy, address: IPAddress) -> OutsideInternet | None:
    """Why ``address`` is not ``Internet`` here, when it lies in an IANA special-purpose range outside the NIC's
    ``VirtualNetwork``: the answer to "why did my Internet rule not match?" (semantics §0)."""
    if policy.internet.contains(address) or policy.virtual_network.contains(address):
        return None
    for prefix, what in NOT_INTERNET_RANGES.items():
        network = ip_network(prefix)
        if network.version == address.version and address in network:
            return OutsideInternet(address, prefix, what)
    return None


def platform_tag_sets(topology: Topology) -> dict[str, AddressSet]:
    """The AzurePlatform* tags' addresses; ``AzurePlatformLKM`` from the service tags file when it defines it."""
    sets = {tag: _networks(prefixes) for tag, prefixes in PLATFORM_TAG_PREFIXES.items()}
    lkm = topology.service_tags.get(PLATFORM_LKM_TAG) if topology.service_tags else None
    if lkm is not None:
        sets[PLATFORM_LKM_TAG] = _networks(lkm.address_prefixes)
    return sets


def forces_tunnelling(topology: Topology, nic: NetworkInterface) -> bool:
    """The NIC's subnet routes 0.0.0.0/0 somewhere other than the Internet (§0 "KMS and forced tunnelling")."""
    subnet = topology.subnet(nic.subnet)
    table = topology.route_table(subnet.route_table) if subnet else None
    return table is not None and table.forces_tunnelling


def _nsg_rules(nsg: NetworkSecurityGroup) -> tuple[SecurityRule, ...]:
    """User rules plus default rules; an NSG built without its six default rules gets them (semantics §0)."""
    defaults = nsg.default_security_rules or default_security_rules(nsg.id)
    return (*nsg.security_rules, *defaults)


def _resolve_nsg(
    resolver: _TagResolver, nsg: NetworkSecurityGroup, applied_to: str, association: Association
) -> ResolvedNsg:
    rules = sorted((resolver.rule(r) for r in _nsg_rules(nsg)), key=lambda r: r.priority)
    return ResolvedNsg(
        nsg=nsg,
        applied_to=applied_to,
        association=association,
        inbound=tuple(r for r in rules if r.rule.direction is Direction.INBOUND),
        outbound=tuple(r for r in rules if r.rule.direction is Direction.OUTBOUND),
    )


def resolve_policy(
    topology: Topology, nic: NetworkInterface, asgs: Mapping[str, AddressSet] | None = None
) -> NicPolicy:
    """The NIC's NSG chain with every field resolved; ``asgs`` (from ``asg_addresses``) saves recomputing it."""
    errors: list[ArmError] = []
    subnet = topology.subnet(nic.subnet)
    if nic.subnet and subnet is None:
        errors.append(
            ArmError(Code.INVALID_REFERENCE, f"Subnet {nic.subnet} of network interface {nic.id} was not found.")
        )
    vnet = topology.vnet_of_subnet(subnet.id) if subnet else None
    virtual_network = _networks(virtual_network_prefixes(vnet, subnet, topology))
    resolver = _TagResolver(topology, virtual_network, asgs if asgs is not None else asg_addresses(topology))

    def resolved(nsg_id: str | None, applied_to: str, association: Association) -> ResolvedNsg | None:
        if not nsg_id:
            return None
        nsg = topology.nsg(nsg_id)
        if nsg is None:
            errors.append(
                ArmError(Code.INVALID_REFERENCE, f"Network security group {nsg_id} of {applied_to} was not found.")
            )
            return None
        return _resolve_nsg(resolver, nsg, applied_to, association)

    subnet_nsg = resolved(subnet.network_security_group, subnet.id, "subnet") if subnet else None
    nic_nsg = resolved(nic.network_security_group, nic.id, "networkInterface")
    admin = tuple(_resolve_admin(resolver, manager) for manager in admin_rules_for(topology, nic))
    errors.extend(resolver.errors)
    if errors:
        raise OpenNsgError(errors)
    platform = {
        PLATFORM_DNS_TAG: resolver.platform[PLATFORM_DNS_TAG],
        PLATFORM_IMDS_TAG: resolver.platform[PLATFORM_IMDS_TAG],
    }
    if not forces_tunnelling(topology, nic):
        platform[PLATFORM_LKM_TAG] = resolver.platform[PLATFORM_LKM_TAG]
    return NicPolicy(
        nic=nic,
        subnet_nsg=subnet_nsg,
        nic_nsg=nic_nsg,
        local_addresses=_networks(c.private_ip_block for c in nic.ip_configurations if c.private_ip_block),
        virtual_network=virtual_network,
        internet=resolver.builtin[INTERNET_TAG],
        platform_tags=platform,
        smtp_blocked=smtp_blocked(topology.subscription(nic.subscription_id)),
        admin=admin,
        private_endpoint_policies=(
            (subnet.endpoint_network_policies if subnet else PrivateEndpointNetworkPolicies.DISABLED)
            if topology.is_private_endpoint_nic(nic.id)
            else None
        ),
    )


def _resolve_admin(resolver: _TagResolver, manager: ManagerAdminRules) -> ResolvedAdmin:
    rules = [resolver.admin_rule(source.rule) for source in manager.rules]  # already in evaluation order
    first = manager.rules[0]
    return ResolvedAdmin(
        manager_id=manager.manager_id,
        virtual_network_id=manager.virtual_network_id,
        configuration_id=first.configuration_id,
        configuration_guid=first.configuration_guid,
        inbound=tuple(r for r in rules if r.rule.direction is Direction.INBOUND),
        outbound=tuple(r for r in rules if r.rule.direction is Direction.OUTBOUND),
    )


def tag_set(topology: Topology, nic: NetworkInterface, name: str) -> AddressSet | None:
    """A tag's addresses as seen from ``nic`` (e.g. a diagnostics profile naming a tag), None if unknown."""
    subnet = topology.subnet(nic.subnet)
    vnet = topology.vnet_of_subnet(subnet.id) if subnet else None
    return _TagResolver(topology, _networks(virtual_network_prefixes(vnet, subnet, topology)), {}).tag(name)


def canonical_tag_name(text: str, topology: Topology) -> str | None:
    """The canonical spelling of a tag usable in NSG rules (``virtual_network`` → ``VirtualNetwork``), else None."""
    return canonical_tag(text, topology.service_tags)
