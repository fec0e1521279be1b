"""One resource's ARM JSON -> model value, in either shape users have.

Accepts the wrapped ARM shape (``{"id", "name", "properties": {...}}``) and the flattened shape of
``az ... -o json`` (properties at the top level, camelCase of the SDK names such as ``privateIpAddress``);
property names match case-insensitively. Every problem is collected, never only the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from opennsg.model.avnm import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    AdminRule,
    AdminRuleCollection,
    AdminRuleKind,
    GroupMemberType,
    NetworkGroup,
    NetworkIntentPolicyBasedService,
    NetworkManager,
    ScopeAccess,
    SecurityAdminConfiguration,
    StaticMember,
)
from opennsg.model.defaults import default_security_rules
from opennsg.model.enums import (
    Access,
    CaseInsensitiveEnum,
    Direction,
    IpAllocationMethod,
    PrivateEndpointNetworkPolicies,
    Protocol,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import (
    DEFAULT_FORMAT_VERSION,
    FLOW_LOG_TYPE,
    FlowLog,
    FlowLogFormatType,
    frozen_json,
)
from opennsg.model.ids import ResourceId, id_key, name_of
from opennsg.model.loadbalancer import (
    BackendAddressPool,
    FrontendIpConfiguration,
    LoadBalancer,
    LoadBalancingRule,
    Probe,
    ProbeProtocol,
    TransportProtocol,
)
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    Delegation,
    IpConfiguration,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PrivateEndpointIpConfiguration,
    PrivateLinkServiceConnection,
    PublicIpAddress,
    PublicIpDnsSettings,
    Route,
    RouteTable,
    SecurityRule,
    ServiceEndpoint,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkEncryption,
    VirtualNetworkPeering,
)
from opennsg.model.validation import Code, Message

#: ARM collection name -> full resource type. Child kinds carry their parent in the id.
KIND_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "networkSecurityGroups": "Microsoft.Network/networkSecurityGroups",
        "securityRules": "Microsoft.Network/networkSecurityGroups/securityRules",
        "defaultSecurityRules": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
        "applicationSecurityGroups": "Microsoft.Network/applicationSecurityGroups",
        "virtualNetworks": "Microsoft.Network/virtualNetworks",
        "subnets": "Microsoft.Network/virtualNetworks/subnets",
        "virtualNetworkPeerings": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "networkInterfaces": "Microsoft.Network/networkInterfaces",
        "routeTables": "Microsoft.Network/routeTables",
        "routes": "Microsoft.Network/routeTables/routes",
        "virtualMachines": "Microsoft.Compute/virtualMachines",
        "publicIPAddresses": "Microsoft.Network/publicIPAddresses",
        "privateEndpoints": "Microsoft.Network/privateEndpoints",
        "natGateways": "Microsoft.Network/natGateways",
        "loadBalancers": "Microsoft.Network/loadBalancers",
        "networkManagers": "Microsoft.Network/networkManagers",
        "networkGroups": "Microsoft.Network/networkManagers/networkGroups",
        "staticMembers": "Microsoft.Network/networkManagers/networkGroups/staticMembers",
        "securityAdminConfigurations": "Microsoft.Network/networkManagers/securityAdminConfigurations",
        "ruleCollections": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections",
        "rules": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections/rules",
        "flowLogs": FLOW_LOG_TYPE,
    }
)
#: Kinds of Azure Virtual Network Manager (semantics §11.1), kept flat in the topology (not merged into a parent).
AVNM_KINDS = frozenset(
    {"networkManagers", "networkGroups", "staticMembers", "securityAdminConfigurations", "ruleCollections", "rules"}
)
_KIND_BY_FOLDED_TYPE = {t.casefold(): k for k, t in KIND_TYPES.items()}
_KIND_BY_FOLDED_NAME = {k.casefold(): k for k in KIND_TYPES}
IP_CONFIGURATION_TYPE = "Microsoft.Network/networkInterfaces/ipConfigurations"

E = TypeVar("E", bound=CaseInsensitiveEnum)

ArmResource = (
    NetworkSecurityGroup
    | SecurityRule
    | ApplicationSecurityGroup
    | VirtualNetwork
    | Subnet
    | VirtualNetworkPeering
    | NetworkInterface
    | RouteTable
    | Route
    | VirtualMachine
    | PublicIpAddress
    | PrivateEndpoint
    | NatGateway
    | LoadBalancer
    | NetworkManager
    | NetworkGroup
    | StaticMember
    | SecurityAdminConfiguration
    | AdminRuleCollection
    | AdminRule
    | FlowLog
)


def kind_of_type(resource_type: str) -> str | None:
    """The collection name of a full ARM type (case-insensitive), None for types OpenNSG does not model."""
    return _KIND_BY_FOLDED_TYPE.get(resource_type.strip().casefold())


def kind_of_id(resource_id: str) -> str | None:
    parsed = ResourceId.parse(resource_id)
    return kind_of_type(parsed.type) if parsed and parsed.namespace else None


def canonical_kind(kind: str) -> str | None:
    return _KIND_BY_FOLDED_NAME.get(kind.strip().casefold())


def lookup(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` matching the key case-insensitively (ARM and az spell some names differently)."""
    if name in obj:
        return obj[name]
    folded = name.casefold()
    for key, value in obj.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def properties_of(body: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], str]:
    """The property bag and its path: ``properties`` when wrapped, the body itself when flattened by az."""
    inner = lookup(body, "properties")
    if isinstance(inner, Mapping):
        return inner, f"{path}properties."
    return body, path


@dataclass
class Reader:
    """Collects every problem met while reading; ``where`` prefixes each target (a file name, say)."""

    where: str = ""
    problems: list[ArmError] = field(default_factory=list)
    #: Where each security rule read inside an NSG was (rule id key -> JSON path, flattened by az), so validation
    #: can point at the rule as written even when rules before it could not be read.
    rule_paths: dict[str, tuple[str, bool]] = field(default_factory=dict)
    #: Per object read: the object, its case-folded keys, and the (folded) names asked of it and not found.
    _folded: dict[int, tuple[Mapping[str, Any], dict[str, Any], set[str]]] = field(default_factory=dict, repr=False)
    #: Objects read since the last ``check_shape`` (their spelling not yet checked).
    _unchecked: list[int] = field(default_factory=list, repr=False)

    def get(self, obj: Mapping[str, Any], name: str) -> Any:
        """``lookup`` with each object's case-folded keys computed once (imports read many absent fields)."""
        if name in obj:
            return obj[name]
        entry = self._folded.get(id(obj))
        if entry is None or entry[0] is not obj:
            entry = (obj, {k.casefold(): v for k, v in obj.items() if isinstance(k, str)}, set())
            self._folded[id(obj)] = entry
            self._unchecked.append(id(obj))
        folded = name.casefold()
        if folded not in entry[1]:
            entry[2].add(folded)
        return entry[1].get(folded)

    def object(self, obj: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any] | None:
        """A nested object property (``addressSpace``, say); a value of another JSON type is reported."""
        value = self.get(obj, name)
        if value is None or isinstance(value, Mapping):
            return value
        self.invalid(name, f"{path}{name}", "an object", value)
        return None

    def check_shape(self, body: Mapping[str, Any], path: str) -> None:
        """What reading ``body`` would otherwise pass over silently, leaving an empty resource: a ``properties`` (at
        any depth) that is not an object, and properties spelt as the Python SDK's attributes (``ip_configurations``
        for ``ipConfigurations``), which ARM ignores: refused, so a body of snake_case keys is never stored empty."""
        pending: list[tuple[Any, str]] = [(body, path)]
        paths: dict[int, str] = {}
        while pending:
            value, where = pending.pop()
            if isinstance(value, list):
                pending.extend((item, f"{where.rstrip('.')}[{i}].") for i, item in enumerate(value))
                continue
            if not isinstance(value, Mapping):
                continue
            paths[id(value)] = where
            for key, inner in value.items():
                if not isinstance(key, str) or key.casefold() == "tags":
                    continue
                if key.casefold() == "properties" and inner is not None and not isinstance(inner, Mapping):
                    self.invalid(key, f"{where}{key}", "an object", inner)
                elif isinstance(inner, (Mapping, list)):
                    pending.append((inner, f"{where}{key}."))
        unchecked, self._unchecked = self._unchecked, []
        for key in unchecked:
            obj, _keys, asked = self._folded[key]
            where = paths.get(key, path)
            for name in obj:
                if isinstance(name, str) and "_" in name.strip("_") and _camel_folded(name) in asked:
                    shown = where.rstrip(".") or "the body"
                    message = Message.SDK_SPELLING.format(name=name, camel=_camel(name), path=shown)
                    self.add(Code.INVALID_REQUEST_FORMAT, message, f"{where}{name}")

    def add(self, code: str, message: str, path: str) -> None:
        self.problems.append(ArmError(code, message, f"{self.where}{path.rstrip('.')}"))

    def invalid(self, name: str, path: str, expected: str, value: Any) -> None:
        self.add(
            Code.INVALID_REQUEST_FORMAT,
            Message.INVALID_VALUE.format(name=name, path=path, expected=expected, value=_show(value)),
            path,
        )

    def missing(self, name: str, path: str) -> None:
        self.add(Code.MISSING_REQUIRED_PROPERTY, Message.MISSING_REQUIRED_PROPERTY.format(name=name, path=path), path)

    # --- typed getters: None/absent means "not supplied" ---

    def text(self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> str | None:
        value = self.get(obj, name)
        if value is None:
            if required:
                self.missing(name, f"{path}{name}")
            return None
        if not isinstance(value, str):
            self.invalid(name, f"{path}{name}", "a string", value)
            return None
        return value

    def texts(self, obj: Mapping[str, Any], name: str, path: str) -> tuple[str, ...]:
        value = self.get(obj, name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.invalid(name, f"{path}{name}", "an array of strings", value)
            return ()
        return tuple(value)

    def enum(
        self,
        obj: Mapping[str, Any],
        name: str,
        path: str,
        enum: type[E],
        code: str,
        *,
        required: bool = False,
        subject: str = "",
    ) -> E | None:
        """An enumeration value matched case-insensitively; an unknown one is reported with ``code``."""
        raw = self.text(obj, name, path, required=required)
        if raw is None:
            return None
        member = enum.parse(raw)
        if member is None:
            allowed = ", ".join(m.value for m in enum)
            message = Message.INVALID_ENUM_VALUE.format(
                subject=subject, property=name, value=raw, allowed=allowed, path=f"{path}{name}"
            )
            self.add(code, message, f"{path}{name}")
            return None
        return member  # type: ignore[return-value]

    def enums(
        self, obj: Mapping[str, Any], name: str, path: str, enum: type[E], code: str, *, subject: str = ""
    ) -> tuple[E, ...]:
        """An array of enumeration values; unknown ones are reported with ``code``."""
        values = self.texts(obj, name, path)
        out: list[E] = []
        for i, raw in enumerate(values):
            member = enum.parse(raw)
            if member is None:
                allowed = ", ".join(m.value for m in enum)
                message = Message.INVALID_ENUM_VALUE.format(
                    subject=subject, property=name, value=raw, allowed=allowed, path=f"{path}{name}[{i}]"
                )
                self.add(code, message, f"{path}{name}[{i}]")
            else:
                out.append(member)  # type: ignore[arg-type]
        return tuple(out)

    def flag(self, obj: Mapping[str, Any], name: str, path: str, default: bool = False) -> bool:
        value = self.get(obj, name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.invalid(name, f"{path}{name}", "true or false", value)
            return default
        return value

    def optional_flag(self, obj: Mapping[str, Any], name: str, path: str) -> bool | None:
        """A boolean whose absence means something of its own (``defaultOutboundAccess``, say)."""
        value = self.get(obj, name)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.invalid(name, f"{path}{name}", "true or false", value)
            return None
        return value

    def integer(self, obj: Mapping[str, Any], name: str, path: str, *, required: bool = False) -> int | None:
        value = self.get(obj, name)
        if value is None:
            if required:
                self.missing(name, f"{path}{name}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.invalid(name, f"{path}{name}", "an integer", value)
            return None
        return value

    def reference(self, obj: Mapping[str, Any], name: str, path: str) -> str | None:
        """A ``{"id": ...}`` sub-resource reference."""
        value = self.get(obj, name)
        return None if value is None else self._ref(value, f"{path}{name}", name)

    def references(self, obj: Mapping[str, Any], name: str, path: str) -> tuple[str, ...]:
        value = self.get(obj, name)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.invalid(name, f"{path}{name}", "an array of references", value)
            return ()
        refs = (self._ref(item, f"{path}{name}[{i}]", name) for i, item in enumerate(value))
        return tuple(r for r in refs if r is not None)

    def _ref(self, value: Any, path: str, name: str) -> str | None:
        if not isinstance(value, Mapping):
            self.invalid(name, path, 'a reference {"id": ...}', value)
            return None
        ref = self.get(value, "id")
        if not isinstance(ref, str) or not ref.strip():
            self.add(Code.MISSING_REFERENCE_ID, Message.MISSING_REFERENCE_ID.format(path=path), path)
            return None
        return ref

    def objects(self, obj: Mapping[str, Any], name: str, path: str) -> list[tuple[Mapping[str, Any], str]]:
        """The objects of an array property, each with its path."""
        value = self.get(obj, name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.invalid(name, f"{path}{name}", "an array", value)
            return []
        out: list[tuple[Mapping[str, Any], str]] = []
        for i, item in enumerate(value):
            if isinstance(item, Mapping):
                out.append((item, f"{path}{name}[{i}]."))
            else:
                self.invalid(name, f"{path}{name}[{i}]", "an object", item)
        return out

    def tags(self, body: Mapping[str, Any], path: str) -> Mapping[str, str]:
        value = self.get(body, "tags")
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.invalid("tags", f"{path}tags", "an object of strings", value)
            return MappingProxyType({})
        return MappingProxyType(dict(value))

    def name(self, body: Mapping[str, Any], resource_id: str, path: str) -> str:
        given = self.text(body, "name", path)
        return given if given else name_of(resource_id)


def _camel(name: str) -> str:
    """``ip_configurations`` -> ``ipConfigurations`` (the Python SDK's attribute -> ARM's JSON name)."""
    head, *rest = name.strip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _camel_folded(name: str) -> str:
    return _camel(name).casefold()


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _child_id(parent_id: str, collection: str, body: Mapping[str, Any], reader: Reader, path: str) -> str:
    given = reader.text(body, "id", path)
    if given:
        return given
    name = reader.text(body, "name", path, required=True) or ""
    return f"{parent_id}/{collection}/{name}"


# --- security rules ---------------------------------------------------------------------------------

_ENUMS: tuple[tuple[str, type[Protocol] | type[Access] | type[Direction], str], ...] = (
    ("protocol", Protocol, Code.INVALID_PROTOCOL),
    ("access", Access, Code.INVALID_ACCESS),
    ("direction", Direction, Code.INVALID_DIRECTION),
)


def parse_rule(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "", *, is_default: bool = False
) -> SecurityRule | None:
    """A security rule (user or default); ``resource_id`` is its ARM id."""
    before = len(reader.problems)
    name = reader.name(body, resource_id, path)
    props, pp = properties_of(body, path)
    enums: dict[str, Any] = {}
    for prop, enum, code in _ENUMS:
        raw = reader.text(props, prop, pp, required=True)
        if raw is None:
            continue
        member = enum.parse(raw)
        if member is None:
            allowed = ", ".join(m.value for m in enum)
            message = Message.INVALID_ENUM.format(
                rule_id=resource_id, property=prop.capitalize(), value=raw, allowed=allowed
            )
            reader.add(code, message, f"{pp}{prop}")
        enums[prop] = member
    priority = reader.integer(props, "priority", pp, required=True)
    rule = SecurityRule(
        name=name,
        priority=priority if priority is not None else 0,
        direction=enums.get("direction") or Direction.INBOUND,
        access=enums.get("access") or Access.DENY,
        protocol=enums.get("protocol") or Protocol.ANY,
        source_address_prefix=reader.text(props, "sourceAddressPrefix", pp) or None,
        source_address_prefixes=reader.texts(props, "sourceAddressPrefixes", pp),
        source_asgs=reader.references(props, "sourceApplicationSecurityGroups", pp),
        source_port_range=reader.text(props, "sourcePortRange", pp) or None,
        source_port_ranges=reader.texts(props, "sourcePortRanges", pp),
        destination_address_prefix=reader.text(props, "destinationAddressPrefix", pp) or None,
        destination_address_prefixes=reader.texts(props, "destinationAddressPrefixes", pp),
        destination_asgs=reader.references(props, "destinationApplicationSecurityGroups", pp),
        destination_port_range=reader.text(props, "destinationPortRange", pp) or None,
        destination_port_ranges=reader.texts(props, "destinationPortRanges", pp),
        description=reader.text(props, "description", pp),
        is_default=is_default,
        id=resource_id,
    )
    return rule if len(reader.problems) == before else None


def _rule_meaning(rule: SecurityRule) -> tuple[object, ...]:
    """What a default rule says, ignoring spelling (for the read-only check)."""

    def fold(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().casefold() for v in values)

    return (
        rule.name.casefold(),
        rule.priority,
        rule.direction,
        rule.access,
        rule.protocol,
        fold(rule.source_addresses),
        fold(rule.destination_addresses),
        fold(rule.source_ports),
        fold(rule.destination_ports),
        rule.source_asgs,
        rule.destination_asgs,
    )


def check_default_rule(nsg_id: str, body: Mapping[str, Any], resource_id: str, reader: Reader, path: str) -> None:
    """A default rule given in input must be one of the six, unchanged: default rules are read-only."""
    given = parse_rule(body, resource_id, reader, path, is_default=True)
    if given is None:
        return
    standard = {r.name.casefold(): r for r in default_security_rules(nsg_id)}
    expected = standard.get(given.name.casefold())
    if expected is None or _rule_meaning(expected) != _rule_meaning(given):
        reader.add(
            Code.DEFAULT_RULE_READ_ONLY, Message.DEFAULT_RULE_READ_ONLY.format(name=given.name, nsg_id=nsg_id), path
        )


# --- top-level resources --------------------------------------------------------------------------------


def parse_nsg(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkSecurityGroup:
    props, pp = properties_of(body, path)
    rules: list[SecurityRule] = []
    for item, ipath in reader.objects(props, "securityRules", pp):
        rid = _child_id(resource_id, "securityRules", item, reader, ipath)
        reader.rule_paths[id_key(rid)] = (ipath, not isinstance(reader.get(item, "properties"), Mapping))
        rule = parse_rule(item, rid, reader, ipath)
        if rule is not None:
            rules.append(rule)
    for item, ipath in reader.objects(props, "defaultSecurityRules", pp):
        rid = _child_id(resource_id, "defaultSecurityRules", item, reader, ipath)
        check_default_rule(resource_id, item, rid, reader, ipath)
    return NetworkSecurityGroup(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        security_rules=tuple(rules),
        default_security_rules=default_security_rules(resource_id),
        flush_connection=reader.flag(props, "flushConnection", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_asg(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> ApplicationSecurityGroup:
    props, pp = properties_of(body, path)
    return ApplicationSecurityGroup(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def _address_prefixes(obj: Mapping[str, Any], reader: Reader, path: str) -> tuple[str, ...]:
    """``{"addressPrefixes": [...]}`` objects such as ``addressSpace`` and ``remoteAddressSpace``."""
    return reader.texts(obj, "addressPrefixes", path)


def parse_subnet(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> Subnet:
    props, pp = properties_of(body, path)
    plural = reader.texts(props, "addressPrefixes", pp)
    singular = reader.text(props, "addressPrefix", pp)
    return Subnet(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        address_prefixes=plural or ((singular,) if singular else ()),
        network_security_group=reader.reference(props, "networkSecurityGroup", pp),
        route_table=reader.reference(props, "routeTable", pp),
        nat_gateway=reader.reference(props, "natGateway", pp),
        private_endpoint_network_policies=reader.enum(
            props,
            "privateEndpointNetworkPolicies",
            pp,
            PrivateEndpointNetworkPolicies,
            Code.INVALID_PRIVATE_ENDPOINT_NETWORK_POLICIES,
            subject=f"Subnet {resource_id}",
        ),
        default_outbound_access=reader.optional_flag(props, "defaultOutboundAccess", pp),
        delegations=_delegations(props, reader, pp),
        application_gateway_ip_configurations=reader.references(props, "applicationGatewayIPConfigurations", pp),
        service_endpoints=_service_endpoints(props, reader, pp),
        service_endpoint_policies=reader.references(props, "serviceEndpointPolicies", pp),
    )


def _delegations(props: Mapping[str, Any], reader: Reader, path: str) -> tuple[Delegation, ...]:
    """Each delegation's name and ``serviceName`` (wrapped in ``properties`` by ARM, flattened by az)."""
    out: list[Delegation] = []
    for i, (item, ipath) in enumerate(reader.objects(props, "delegations", path)):
        inner, ip = properties_of(item, ipath)
        service = reader.text(inner, "serviceName", ip)
        if service:
            out.append(Delegation(reader.text(item, "name", ipath) or f"delegation{i + 1}", service))
    return tuple(out)


def _service_endpoints(props: Mapping[str, Any], reader: Reader, path: str) -> tuple[ServiceEndpoint, ...]:
    out: list[ServiceEndpoint] = []
    for item, ipath in reader.objects(props, "serviceEndpoints", path):
        service = reader.text(item, "service", ipath, required=True)
        if service:
            out.append(
                ServiceEndpoint(
                    service,
                    reader.texts(item, "locations", ipath),
                    reader.reference(item, "networkIdentifier", ipath),
                )
            )
    return tuple(out)


def _encryption(props: Mapping[str, Any], reader: Reader, path: str) -> VirtualNetworkEncryption | None:
    item = reader.object(props, "encryption", path)
    if item is None:
        return None
    ipath = f"{path}encryption."
    enabled = reader.get(item, "enabled")
    if enabled is None:
        reader.missing("enabled", f"{ipath}enabled")
    return VirtualNetworkEncryption(reader.flag(item, "enabled", ipath), reader.text(item, "enforcement", ipath))


def _bgp_community(props: Mapping[str, Any], reader: Reader, path: str) -> str | None:
    found = reader.object(props, "bgpCommunities", path)
    if found is None:
        return None
    return reader.text(found, "virtualNetworkCommunity", f"{path}bgpCommunities.", required=True)


def parse_peering(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> VirtualNetworkPeering:
    props, pp = properties_of(body, path)
    space = reader.object(props, "remoteAddressSpace", pp)
    return VirtualNetworkPeering(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        remote_virtual_network=reader.reference(props, "remoteVirtualNetwork", pp),
        remote_address_space=(
            _address_prefixes(space, reader, f"{pp}remoteAddressSpace.") if isinstance(space, Mapping) else ()
        ),
        peering_state=reader.text(props, "peeringState", pp) or "Connected",
        allow_virtual_network_access=reader.flag(props, "allowVirtualNetworkAccess", pp, default=True),
        allow_forwarded_traffic=reader.flag(props, "allowForwardedTraffic", pp),
        allow_gateway_transit=reader.flag(props, "allowGatewayTransit", pp),
        use_remote_gateways=reader.flag(props, "useRemoteGateways", pp),
        peer_complete_vnets=reader.flag(props, "peerCompleteVnets", pp, default=True),
        local_subnet_names=reader.texts(props, "localSubnetNames", pp),
        remote_subnet_names=reader.texts(props, "remoteSubnetNames", pp),
        enable_only_ipv6_peering=reader.flag(props, "enableOnlyIPv6Peering", pp),
    )


#: OpenNSG's own VNet property for on-premises prefixes behind the VNet's gateways (semantics §0 VirtualNetwork tag);
#: ARM has no such property on a VNet, so export writes it only when the model has some.
GATEWAY_PREFIXES_PROPERTY = "gatewayAddressPrefixes"


def parse_vnet(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> VirtualNetwork:
    props, pp = properties_of(body, path)
    space = reader.object(props, "addressSpace", pp)
    subnets = [
        parse_subnet(item, _child_id(resource_id, "subnets", item, reader, ipath), reader, ipath)
        for item, ipath in reader.objects(props, "subnets", pp)
    ]
    peerings = [
        parse_peering(item, _child_id(resource_id, "virtualNetworkPeerings", item, reader, ipath), reader, ipath)
        for item, ipath in reader.objects(props, "virtualNetworkPeerings", pp)
    ]
    return VirtualNetwork(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        address_space=_address_prefixes(space, reader, f"{pp}addressSpace.") if isinstance(space, Mapping) else (),
        subnets=tuple(subnets),
        peerings=tuple(peerings),
        flow_timeout_in_minutes=reader.integer(props, "flowTimeoutInMinutes", pp),
        gateway_prefixes=reader.texts(props, GATEWAY_PREFIXES_PROPERTY, pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
        bgp_community=_bgp_community(props, reader, pp),
        encryption=_encryption(props, reader, pp),
    )


def parse_route(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> Route:
    props, pp = properties_of(body, path)
    return Route(
        name=reader.name(body, resource_id, path),
        address_prefix=reader.text(props, "addressPrefix", pp, required=True) or "",
        next_hop_type=reader.text(props, "nextHopType", pp, required=True) or "",
        next_hop_ip_address=reader.text(props, "nextHopIpAddress", pp),
    )


def parse_route_table(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> RouteTable:
    props, pp = properties_of(body, path)
    routes = [
        parse_route(item, _child_id(resource_id, "routes", item, reader, ipath), reader, ipath)
        for item, ipath in reader.objects(props, "routes", pp)
    ]
    return RouteTable(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        routes=tuple(routes),
        disable_bgp_route_propagation=reader.flag(props, "disableBgpRoutePropagation", pp),
    )


def _ip_configuration(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str) -> IpConfiguration:
    props, pp = properties_of(body, path)
    configuration = IpConfiguration(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        private_ip_address=reader.text(props, "privateIPAddress", pp),
        subnet=reader.reference(props, "subnet", pp),
        private_ip_address_version=reader.text(props, "privateIPAddressVersion", pp) or "IPv4",
        application_security_groups=reader.references(props, "applicationSecurityGroups", pp),
        primary=reader.flag(props, "primary", pp),
        public_ip_address=reader.reference(props, "publicIPAddress", pp),
        load_balancer_backend_address_pools=reader.references(props, "loadBalancerBackendAddressPools", pp),
        private_ip_allocation_method=_allocation(props, "privateIPAllocationMethod", reader, pp, resource_id),
        private_ip_address_prefix_length=reader.integer(props, "privateIPAddressPrefixLength", pp),
        gateway_load_balancer=reader.reference(props, "gatewayLoadBalancer", pp),
    )
    if configuration.private_ip_allocation_method is IpAllocationMethod.STATIC and not configuration.private_ip_address:
        message = Message.PRIVATE_IP_ADDRESS_MISSING.format(id=resource_id)
        reader.add(Code.PRIVATE_IP_ADDRESS_MISSING, message, f"{pp}privateIPAddress")
    return configuration


def _allocation(
    props: Mapping[str, Any], name: str, reader: Reader, path: str, resource_id: str
) -> IpAllocationMethod | None:
    """``privateIPAllocationMethod`` / ``publicIPAllocationMethod``: ``Static`` or ``Dynamic``."""
    return reader.enum(
        props, name, path, IpAllocationMethod, Code.INVALID_REQUEST_FORMAT, subject=f"Resource {resource_id}"
    )


def parse_nic(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkInterface:
    props, pp = properties_of(body, path)
    configs = [
        _ip_configuration(item, _child_id(resource_id, "ipConfigurations", item, reader, ipath), reader, ipath)
        for item, ipath in reader.objects(props, "ipConfigurations", pp)
    ]
    return NetworkInterface(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
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
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        network_interfaces=tuple(nics),
        primary_network_interface=primary,
    )


def parse_public_ip(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> PublicIpAddress:
    props, pp = properties_of(body, path)
    sku = _sku(body, reader, path)
    return PublicIpAddress(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        ip_address=reader.text(props, "ipAddress", pp),
        ip_configuration=reader.reference(props, "ipConfiguration", pp),
        sku_name=sku[0],
        sku_tier=sku[1],
        public_ip_address_version=reader.text(props, "publicIPAddressVersion", pp),
        nat_gateway=reader.reference(props, "natGateway", pp),
        zones=reader.texts(body, "zones", path),
        public_ip_allocation_method=_allocation(props, "publicIPAllocationMethod", reader, pp, resource_id),
        idle_timeout_in_minutes=reader.integer(props, "idleTimeoutInMinutes", pp),
        dns_settings=_public_ip_dns(props, reader, pp, reader.text(body, "location", path) or ""),
    )


def _public_ip_dns(props: Mapping[str, Any], reader: Reader, path: str, location: str) -> PublicIpDnsSettings | None:
    """``dnsSettings``; without an ``fqdn``, the one Azure assigns to the label: ``<label>.<region>.cloudapp.azure.com``
    (a scoped label gets a hashed name Azure alone knows, so none is made up then)."""
    item = reader.object(props, "dnsSettings", path)
    if item is None:
        return None
    ipath = f"{path}dnsSettings."
    label = reader.text(item, "domainNameLabel", ipath)
    scope = reader.text(item, "domainNameLabelScope", ipath)
    fqdn = reader.text(item, "fqdn", ipath)
    if fqdn is None and label and not scope and location:
        fqdn = f"{label}.{location.replace(' ', '').casefold()}.cloudapp.azure.com"
    return PublicIpDnsSettings(label, scope, fqdn, reader.text(item, "reverseFqdn", ipath))


def _sku(body: Mapping[str, Any], reader: Reader, path: str) -> tuple[str | None, str | None]:
    """``sku: {name, tier}`` (top level in both ARM and az shapes)."""
    sku = reader.get(body, "sku")
    if sku is None:
        return None, None
    if not isinstance(sku, Mapping):
        reader.invalid("sku", f"{path}sku", "an object", sku)
        return None, None
    return reader.text(sku, "name", f"{path}sku."), reader.text(sku, "tier", f"{path}sku.")


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
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        subnet=reader.reference(props, "subnet", pp),
        network_interfaces=reader.references(props, "networkInterfaces", pp),
        application_security_groups=reader.references(props, "applicationSecurityGroups", pp),
        ip_configurations=tuple(configurations),
        custom_network_interface_name=reader.text(props, "customNetworkInterfaceName", pp),
        connections=tuple(connections),
        ip_version_type=reader.text(props, "ipVersionType", pp),
    )


def parse_nat_gateway(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NatGateway:
    props, pp = properties_of(body, path)
    return NatGateway(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        sku_name=_sku(body, reader, path)[0],
        public_ip_addresses=(
            *reader.references(props, "publicIpAddresses", pp),
            *reader.references(props, "publicIpAddressesV6", pp),
        ),
        public_ip_prefixes=(
            *reader.references(props, "publicIpPrefixes", pp),
            *reader.references(props, "publicIpPrefixesV6", pp),
        ),
        subnets=reader.references(props, "subnets", pp),
        idle_timeout_in_minutes=reader.integer(props, "idleTimeoutInMinutes", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


# --- load balancers (semantics §6: what NSGs see of them) ---------------------------------------------------


def _lb_children(
    lb_id: str, collection: str, props: Mapping[str, Any], reader: Reader, path: str
) -> list[tuple[str, str, Mapping[str, Any], str]]:
    """(id, name, properties, properties path) of each child in ``collection``; ids built from the parent."""
    out = []
    for item, ipath in reader.objects(props, collection, path):
        child_id = _child_id(lb_id, collection, item, reader, ipath)
        inner, ip = properties_of(item, ipath)
        out.append((child_id, reader.name(item, child_id, ipath), inner, ip))
    return out


def parse_load_balancer(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> LoadBalancer:
    """A load balancer's frontends, backend pools, probes and load-balancing rules (value checks: validation)."""
    props, pp = properties_of(body, path)
    frontends = tuple(
        FrontendIpConfiguration(
            child_id,
            name,
            private_ip_address=reader.text(inner, "privateIPAddress", ip),
            public_ip_address=reader.reference(inner, "publicIPAddress", ip),
            subnet=reader.reference(inner, "subnet", ip),
        )
        for child_id, name, inner, ip in _lb_children(resource_id, "frontendIPConfigurations", props, reader, pp)
    )
    pools = tuple(
        BackendAddressPool(child_id, name)
        for child_id, name, _, _ in _lb_children(resource_id, "backendAddressPools", props, reader, pp)
    )
    probes: list[Probe] = []
    for child_id, name, inner, ip in _lb_children(resource_id, "probes", props, reader, pp):
        protocol = reader.enum(inner, "protocol", ip, ProbeProtocol, Code.INVALID_REQUEST_FORMAT, required=True)
        port = reader.integer(inner, "port", ip, required=True)
        interval = reader.integer(inner, "intervalInSeconds", ip)
        if protocol is not None and port is not None:
            probes.append(
                Probe(child_id, name, protocol, port, 5 if interval is None else interval,
                      reader.text(inner, "requestPath", ip))
            )  # fmt: skip
    rules: list[LoadBalancingRule] = []
    for child_id, name, inner, ip in _lb_children(resource_id, "loadBalancingRules", props, reader, pp):
        frontend = reader.reference(inner, "frontendIPConfiguration", ip)
        pool = reader.reference(inner, "backendAddressPool", ip) or next(
            iter(reader.references(inner, "backendAddressPools", ip)), None
        )
        transport = reader.enum(inner, "protocol", ip, TransportProtocol, Code.INVALID_REQUEST_FORMAT, required=True)
        frontend_port = reader.integer(inner, "frontendPort", ip, required=True)
        backend_port = reader.integer(inner, "backendPort", ip, required=True)
        for value, key in ((frontend, "frontendIPConfiguration"), (pool, "backendAddressPool")):
            if value is None and reader.get(inner, key) is None:
                reader.missing(key, f"{ip}{key}")
        if frontend and pool and transport is not None and frontend_port is not None and backend_port is not None:
            rules.append(
                LoadBalancingRule(
                    child_id, name, frontend, pool, transport, frontend_port, backend_port,
                    reader.reference(inner, "probe", ip), reader.flag(inner, "enableFloatingIP", ip),
                )
            )  # fmt: skip
    return LoadBalancer(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        sku=_sku(body, reader, path)[0] or "Standard",
        frontend_ip_configurations=frontends,
        backend_address_pools=pools,
        probes=tuple(probes),
        load_balancing_rules=tuple(rules),
    )


# --- Azure Virtual Network Manager (semantics §11.1) -------------------------------------------------------


def parse_network_manager(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkManager:
    props, pp = properties_of(body, path)
    scopes = reader.get(props, "networkManagerScopes")
    subscriptions: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    if isinstance(scopes, Mapping):
        subscriptions = reader.texts(scopes, "subscriptions", f"{pp}networkManagerScopes.")
        groups = reader.texts(scopes, "managementGroups", f"{pp}networkManagerScopes.")
    elif scopes is None:
        reader.missing("networkManagerScopes", f"{pp}networkManagerScopes")
    else:
        reader.invalid("networkManagerScopes", f"{pp}networkManagerScopes", "an object", scopes)
    return NetworkManager(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        description=reader.text(props, "description", pp),
        scope_subscriptions=subscriptions,
        scope_management_groups=groups,
        scope_accesses=reader.enums(
            props,
            "networkManagerScopeAccesses",
            pp,
            ScopeAccess,
            Code.INVALID_SCOPE_ACCESS,
            subject=f"Network manager {resource_id}",
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_network_group(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> NetworkGroup:
    props, pp = properties_of(body, path)
    return NetworkGroup(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        description=reader.text(props, "description", pp),
        member_type=reader.enum(
            props, "memberType", pp, GroupMemberType, Code.INVALID_MEMBER_TYPE, subject=f"Network group {resource_id}"
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_static_member(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> StaticMember:
    props, pp = properties_of(body, path)
    return StaticMember(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        resource_id=reader.text(props, "resourceId", pp, required=True) or "",
        region=reader.text(props, "region", pp),
    )


def parse_security_admin_configuration(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = ""
) -> SecurityAdminConfiguration:
    props, pp = properties_of(body, path)
    return SecurityAdminConfiguration(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        description=reader.text(props, "description", pp),
        apply_on_network_intent_policy_based_services=reader.enums(
            props,
            "applyOnNetworkIntentPolicyBasedServices",
            pp,
            NetworkIntentPolicyBasedService,
            Code.INVALID_NETWORK_INTENT_POLICY_SERVICE,
            subject=f"Security admin configuration {resource_id}",
        ),
        network_group_address_space_aggregation_option=reader.text(
            props, "networkGroupAddressSpaceAggregationOption", pp
        ),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def parse_rule_collection(
    body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = ""
) -> AdminRuleCollection:
    props, pp = properties_of(body, path)
    groups: list[str] = []
    if reader.get(props, "appliesToGroups") is None:
        reader.missing("appliesToGroups", f"{pp}appliesToGroups")
    for item, ipath in reader.objects(props, "appliesToGroups", pp):
        group = reader.text(item, "networkGroupId", ipath, required=True)
        if group:
            groups.append(group)
    return AdminRuleCollection(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        applies_to_groups=tuple(groups),
        description=reader.text(props, "description", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )


def _address_items(
    props: Mapping[str, Any], name: str, reader: Reader, path: str, rule_id: str
) -> tuple[AddressPrefixItem, ...]:
    out: list[AddressPrefixItem] = []
    for item, ipath in reader.objects(props, name, path):
        prefix = reader.text(item, "addressPrefix", ipath, required=True)
        kind = reader.enum(
            item,
            "addressPrefixType",
            ipath,
            AddressPrefixType,
            Code.INVALID_ADDRESS_PREFIX_TYPE,
            required=True,
            subject=f"Security admin rule {rule_id}",
        )
        if prefix is not None and kind is not None:
            out.append(AddressPrefixItem(prefix, kind))
    return tuple(out)


def parse_admin_rule(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> AdminRule | None:
    """A security admin rule, ``kind`` Custom or Default (``kind`` is outside ``properties`` in both shapes).

    An absent ``kind`` means ``Custom``: the only kind a client creates (Default rules are Azure's, read-only), and
    azure-mgmt-network 33 sends no ``kind`` for its ``AdminRule`` model."""
    before = len(reader.problems)
    props, pp = properties_of(body, path)
    subject = f"Security admin rule {resource_id}"
    kind = reader.enum(body, "kind", path, AdminRuleKind, Code.INVALID_ADMIN_RULE_KIND, subject=subject)
    protocol = reader.enum(
        props, "protocol", pp, AdminProtocol, Code.INVALID_ADMIN_RULE_PROTOCOL, required=True, subject=subject
    )
    access = reader.enum(
        props, "access", pp, AdminAccess, Code.INVALID_ADMIN_RULE_ACCESS, required=True, subject=subject
    )
    direction = reader.enum(
        props, "direction", pp, Direction, Code.INVALID_ADMIN_RULE_DIRECTION, required=True, subject=subject
    )
    priority = reader.integer(props, "priority", pp, required=True)
    rule = AdminRule(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        priority=priority if priority is not None else 0,
        direction=direction or Direction.INBOUND,
        access=access or AdminAccess.DENY,
        protocol=protocol or AdminProtocol.ANY,
        kind=kind or AdminRuleKind.CUSTOM,
        sources=_address_items(props, "sources", reader, pp, resource_id),
        destinations=_address_items(props, "destinations", reader, pp, resource_id),
        source_port_ranges=reader.texts(props, "sourcePortRanges", pp),
        destination_port_ranges=reader.texts(props, "destinationPortRanges", pp),
        description=reader.text(props, "description", pp),
        flag=reader.text(props, "flag", pp),
        resource_guid=reader.text(props, "resourceGuid", pp),
    )
    return rule if len(reader.problems) == before else None


# --- Network Watcher flow logs (semantics §9) ----------------------------------------------------------------


def _json_object(obj: Mapping[str, Any], name: str, reader: Reader, path: str) -> str | None:
    """A property kept as the JSON given (traffic analytics, identity): an object, or absent."""
    value = reader.get(obj, name)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        reader.invalid(name, f"{path}{name}", "an object", value)
        return None
    return frozen_json(value)


def parse_flow_log(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> FlowLog:
    """A flow-log resource (``FlowLog``): ``targetResourceId`` and ``storageId`` are required; ``format`` defaults
    to JSON version 1 and ``retentionPolicy`` to 0 days, not enabled, as ARM answers them."""
    props, pp = properties_of(body, path)
    subject = f"Flow log {resource_id}"
    fmt = reader.get(props, "format")
    format_type: FlowLogFormatType | None = None
    version: int | None = None
    if isinstance(fmt, Mapping):
        format_type = reader.enum(
            fmt, "type", f"{pp}format.", FlowLogFormatType, Code.INVALID_FLOW_LOG_FORMAT, subject=subject
        )
        version = reader.integer(fmt, "version", f"{pp}format.")
    elif fmt is not None:
        reader.invalid("format", f"{pp}format", "an object", fmt)
    retention = reader.get(props, "retentionPolicy")
    days: int | None = None
    keep = False
    if isinstance(retention, Mapping):
        days = reader.integer(retention, "days", f"{pp}retentionPolicy.")
        keep = reader.flag(retention, "enabled", f"{pp}retentionPolicy.")
    elif retention is not None:
        reader.invalid("retentionPolicy", f"{pp}retentionPolicy", "an object", retention)
    return FlowLog(
        id=resource_id,
        name=reader.name(body, resource_id, path),
        location=reader.text(body, "location", path) or "",
        tags=reader.tags(body, path),
        target_resource_id=reader.text(props, "targetResourceId", pp, required=True) or "",
        storage_id=reader.text(props, "storageId", pp, required=True) or "",
        enabled=reader.flag(props, "enabled", pp),
        format_type=format_type or FlowLogFormatType.JSON,
        format_version=DEFAULT_FORMAT_VERSION if version is None else version,
        retention_days=days or 0,
        retention_enabled=keep,
        enabled_filtering_criteria=reader.text(props, "enabledFilteringCriteria", pp),
        record_types=reader.text(props, "recordTypes", pp),
        flow_analytics_configuration=_json_object(props, "flowAnalyticsConfiguration", reader, pp),
        identity=_json_object(body, "identity", reader, path),
    )


def _date(value: Any, reader: Reader, path: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    reader.invalid("createdDate", path, "an ISO 8601 date", value)
    return None


def is_subscription(body: Mapping[str, Any]) -> bool:
    """``GET /subscriptions/{id}`` (has ``subscriptionId``) or ``az account show`` (``tenantId`` + ``isDefault``)."""
    kind = lookup(body, "type")
    if isinstance(kind, str) and kind:
        return False
    return lookup(body, "subscriptionId") is not None or (
        lookup(body, "tenantId") is not None and lookup(body, "isDefault") is not None
    )


def parse_subscription(body: Mapping[str, Any], reader: Reader, path: str = "") -> Subscription:
    """A subscription (semantics §0 "Outbound SMTP"); ``az account show`` spells the id ``id`` and the name ``name``."""
    sub_id = reader.text(body, "subscriptionId", path) or reader.text(body, "id", path, required=True) or ""
    sub_id = name_of(sub_id) if sub_id.startswith("/") else sub_id
    policies = reader.get(body, "subscriptionPolicies")
    quota = reader.text(policies, "quotaId", f"{path}subscriptionPolicies.") if isinstance(policies, Mapping) else None
    return Subscription(
        subscription_id=sub_id,
        quota_id=quota,
        offer_type=reader.text(body, "offerType", path),
        created_date=_date(reader.get(body, "createdDate"), reader, f"{path}createdDate"),
        smtp_exemption=reader.flag(body, "smtpExemption", path),
        display_name=reader.text(body, "displayName", path) or reader.text(body, "name", path),
    )


_Parser = Callable[[Mapping[str, Any], str, Reader, str], ArmResource | None]
PARSERS: Mapping[str, _Parser] = MappingProxyType(
    {
        "networkSecurityGroups": parse_nsg,
        "securityRules": parse_rule,
        "applicationSecurityGroups": parse_asg,
        "virtualNetworks": parse_vnet,
        "subnets": parse_subnet,
        "virtualNetworkPeerings": parse_peering,
        "networkInterfaces": parse_nic,
        "routeTables": parse_route_table,
        "routes": parse_route,
        "virtualMachines": parse_vm,
        "publicIPAddresses": parse_public_ip,
        "privateEndpoints": parse_private_endpoint,
        "natGateways": parse_nat_gateway,
        "loadBalancers": parse_load_balancer,
        "networkManagers": parse_network_manager,
        "networkGroups": parse_network_group,
        "staticMembers": parse_static_member,
        "securityAdminConfigurations": parse_security_admin_configuration,
        "ruleCollections": parse_rule_collection,
        "rules": parse_admin_rule,
        "flowLogs": parse_flow_log,
    }
)


def parse_resource(kind: str, body: dict[str, Any], resource_id: str) -> ArmResource:
    """One resource's ARM JSON as PUT to ARM (or as ``az`` prints it); raises ``OpenNsgError`` with every problem.

    ``kind`` is the ARM collection name (``networkSecurityGroups``, ``securityRules``, ...); for child kinds
    ``resource_id`` carries the parent (``.../networkSecurityGroups/nsg1/securityRules/r1``).
    """
    known = canonical_kind(kind)
    parser = PARSERS.get(known) if known else None
    if parser is None:
        supported = ", ".join(PARSERS)
        message = Message.UNSUPPORTED_RESOURCE_TYPE.format(kind=kind, supported=supported)
        raise OpenNsgError([ArmError(Code.UNSUPPORTED_RESOURCE_TYPE, message, None)])
    reader = Reader()
    if not isinstance(body, Mapping):
        reader.invalid("body", "", "a JSON object", body)
        raise OpenNsgError(reader.problems)
    resource = parser(body, resource_id, reader, "")
    reader.check_shape(body, "")
    if reader.problems or resource is None:
        raise OpenNsgError(reader.problems)
    return resource


def parent_id(child_id: str) -> str:
    """The id of a child resource's parent (``.../nsg1/securityRules/r1`` -> ``.../nsg1``)."""
    return child_id.strip().rstrip("/").rsplit("/", 2)[0]


__all__ = [
    "AVNM_KINDS",
    "GATEWAY_PREFIXES_PROPERTY",
    "IP_CONFIGURATION_TYPE",
    "KIND_TYPES",
    "PARSERS",
    "ArmResource",
    "Reader",
    "canonical_kind",
    "check_default_rule",
    "is_subscription",
    "kind_of_id",
    "kind_of_type",
    "lookup",
    "parent_id",
    "parse_admin_rule",
    "parse_flow_log",
    "parse_resource",
    "parse_subscription",
    "properties_of",
]
