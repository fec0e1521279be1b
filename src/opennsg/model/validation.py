"""Azure's validation of NSGs and the resources around them (semantics §1, §5, §7.5 and the decisions of §0).

Every check reports through ``ArmError(code, message, target)``; codes and message templates live in
``Code`` and ``Message`` below so they are easy to find and test. Checks never stop at the first problem.

Decisions taken here where Azure is silent (each in one place):

- Dangling references (subnet -> NSG, NIC -> subnet, rule -> ASG, VM -> NIC, ...) use ``InvalidResourceReference``
  and name both ends.
- NICs of one ASG in different VNets use ``AllNetworkInterfacesInApplicationSecurityGroupMustBeFromSameVnet``.
- The 4,000 "IP addresses and ranges" limit is counted per NSG and per side (source, destination) over all user
  rules; every entry of a singular or plural prefix field counts as one, a service tag or ``*`` included
  (each is one value the user specified); ASGs are counted by their own limits instead.
- "One service tag per rule" is enforced per address field: Azure's own ``AllowVnetInBound`` carries
  ``VirtualNetwork`` on both sides, so a per-rule limit of one would reject it. A field holds at most one tag
  because the singular field takes one value and the plural field refuses tags.
- IPv4 and IPv6 literals may not be mixed within one address field (the documented case: a plural prefix list
  holding both families). Whether Azure also rejects an IPv4 source with an IPv6 destination is unconfirmed
  (semantics §1.4), so that is accepted; such a rule can never match and is left to the analysis to report.
- Names are checked (``NAME_PATTERN``) on NSGs and rules, the resources this project's rules are about; rule names
  are unique per NSG, case-insensitively (``DuplicateSecurityRuleName``).
- Both or neither of a slot's two fields use the documented two-field message (semantics §0), for addresses as for
  ports; an ASG list beside a prefix (a case Azure's message is not known for) names all three alternatives.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Network

from opennsg.model.avnm import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminRule,
    AdminRuleCollection,
    GroupMemberType,
    StaticMember,
)
from opennsg.model.errors import ArmError
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.loadbalancer import LoadBalancer, ProbeProtocol
from opennsg.model.policy import (
    MAX_ADMIN_RULE_PRIORITY,
    MAX_ASGS_PER_IP_CONFIGURATION,
    MAX_ASGS_PER_NSG,
    MAX_ASGS_PER_REGION,
    MAX_ASGS_PER_RULE_FIELD,
    MAX_DESCRIPTION_LENGTH,
    MAX_FLOW_TIMEOUT_MINUTES,
    MAX_IP_CONFIGURATIONS_PER_ASG,
    MAX_NAME_LENGTH,
    MAX_NSGS_PER_REGION,
    MAX_PREFIXES_PER_SIDE,
    MAX_RULES_PER_NSG,
    MAX_USER_PRIORITY,
    MIN_ADMIN_RULE_PRIORITY,
    MIN_FLOW_TIMEOUT_MINUTES,
    MIN_USER_PRIORITY,
    NAME_PATTERN,
)
from opennsg.model.resources import NetworkSecurityGroup, Resource, SecurityRule
from opennsg.model.servicetags import ServiceTags
from opennsg.model.tags import builtin_tag
from opennsg.model.topology import Topology
from opennsg.model.values import parse_port_range, parse_prefix


class Code:
    """ARM error codes (semantics §7.5; section 0 and this module's docstring for the ones Azure does not document)."""

    INVALID_PRIORITY = "SecurityRuleInvalidPriority"
    CONFLICT = "SecurityRuleConflict"
    DUPLICATE_RULE_NAME = "DuplicateSecurityRuleName"
    INVALID_NAME = "InvalidResourceName"
    DESCRIPTION_TOO_LONG = "SecurityRuleDescriptionTooLong"
    PARAMETER_CONFLICT = "SecurityRuleParameterConflict"
    INVALID_PORT_RANGE = "SecurityRuleInvalidPortRange"
    INVALID_PORT_RANGES = "SecurityRuleParameterContainsInvalidPortRanges"
    INVALID_ADDRESS_PREFIX = "SecurityRuleInvalidAddressPrefix"
    UNSUPPORTED_VALUE = "SecurityRuleParameterContainsUnsupportedValue"
    MIXED_FAMILIES = "ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies"
    ASGS_PER_RULE_FIELD = "NumberOfApplicationSecurityGroupsReferencedInSecurityRuleLimitReached"
    RULE_ASGS_SAME_VNET = "AllApplicationSecurityGroupsInSecurityRuleMustBeFromSameVnet"
    ASG_NICS_SAME_VNET = "AllNetworkInterfacesInApplicationSecurityGroupMustBeFromSameVnet"
    INVALID_REFERENCE = "InvalidResourceReference"
    DEFAULT_RULE_READ_ONLY = "DefaultSecurityRuleReadOnly"
    RULES_PER_NSG = "SecurityRulesPerNetworkSecurityGroupLimitReached"
    PREFIXES_PER_SIDE = "AddressPrefixesPerNetworkSecurityGroupLimitReached"
    ASGS_PER_NSG = "ApplicationSecurityGroupsPerNetworkSecurityGroupLimitReached"
    ASGS_PER_IP_CONFIGURATION = "ApplicationSecurityGroupsPerIpConfigurationLimitReached"
    IP_CONFIGURATIONS_PER_ASG = "IpConfigurationsPerApplicationSecurityGroupLimitReached"
    NSGS_PER_REGION = "NetworkSecurityGroupsPerRegionLimitReached"
    ASGS_PER_REGION = "ApplicationSecurityGroupsPerRegionLimitReached"
    INVALID_FLOW_TIMEOUT = "InvalidFlowTimeoutInMinutes"
    INVALID_PROTOCOL = "SecurityRuleInvalidProtocol"
    INVALID_ACCESS = "SecurityRuleInvalidAccess"
    INVALID_DIRECTION = "SecurityRuleInvalidDirection"
    # --- AVNM security admin rules and private endpoints (semantics §11, §12): Azure's codes are not documented, so
    # these are descriptive ones of OpenNSG's own ---
    ADMIN_RULE_INVALID_PRIORITY = "SecurityAdminRuleInvalidPriority"
    ADMIN_RULE_PRIORITY_CONFLICT = "SecurityAdminRulePriorityConflict"
    ADMIN_RULE_INVALID_PORT_RANGE = "SecurityAdminRuleInvalidPortRange"
    ADMIN_RULE_INVALID_ADDRESS_PREFIX = "SecurityAdminRuleInvalidAddressPrefix"
    ADMIN_RULE_DESCRIPTION_TOO_LONG = "SecurityAdminRuleDescriptionTooLong"
    INVALID_ADMIN_RULE_KIND = "SecurityAdminRuleInvalidKind"
    INVALID_ADMIN_RULE_PROTOCOL = "SecurityAdminRuleInvalidProtocol"
    INVALID_ADMIN_RULE_ACCESS = "SecurityAdminRuleInvalidAccess"
    INVALID_ADMIN_RULE_DIRECTION = "SecurityAdminRuleInvalidDirection"
    INVALID_ADDRESS_PREFIX_TYPE = "SecurityAdminRuleInvalidAddressPrefixType"
    INVALID_MEMBER_TYPE = "NetworkGroupInvalidMemberType"
    STATIC_MEMBER_TYPE_MISMATCH = "StaticMemberResourceTypeMismatch"
    RULE_COLLECTION_GROUP_NOT_FOUND = "RuleCollectionNetworkGroupNotFound"
    RULE_COLLECTION_GROUP_OF_OTHER_MANAGER = "RuleCollectionNetworkGroupOfOtherNetworkManager"
    INVALID_SCOPE_ACCESS = "NetworkManagerInvalidScopeAccess"
    INVALID_NETWORK_INTENT_POLICY_SERVICE = "SecurityAdminConfigurationInvalidNetworkIntentPolicyBasedService"
    CONFIGURATIONS_PER_REGION = "MultipleSecurityAdminConfigurationsDeployedInRegion"
    INVALID_PRIVATE_ENDPOINT_NETWORK_POLICIES = "InvalidPrivateEndpointNetworkPolicies"
    NSG_ON_PRIVATE_ENDPOINT_NIC = "PrivateEndpointNetworkInterfaceCannotHaveNetworkSecurityGroup"
    # --- load balancers (semantics §6): descriptive codes of OpenNSG's own, Azure's are not documented ---
    LOAD_BALANCER_INVALID_PORT = "LoadBalancerInvalidPort"
    LOAD_BALANCER_INVALID_PROBE_INTERVAL = "LoadBalancerProbeInvalidIntervalInSeconds"
    LOAD_BALANCER_PROBE_REQUEST_PATH = "LoadBalancerProbeRequestPathRequired"
    LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS = "LoadBalancerFrontendIPConfigurationWithoutAddress"
    # --- reading ARM JSON (``opennsg.arm``) ---
    INVALID_JSON = "InvalidJson"
    INVALID_REQUEST_FORMAT = "InvalidRequestFormat"
    MISSING_REQUIRED_PROPERTY = "MissingRequiredProperty"
    MISSING_REFERENCE_ID = "MissingJsonReferenceId"
    INVALID_TEMPLATE = "InvalidTemplate"
    CONFLICTING_DEFINITIONS = "ConflictingResourceDefinitions"
    UNSUPPORTED_RESOURCE_TYPE = "UnsupportedResourceType"
    FILE_NOT_FOUND = "FileNotFound"


class Message:
    """Message templates (``str.format`` fields); the documented ones are verbatim from semantics §1 and §7.5."""

    LOAD_BALANCER_INVALID_PORT = "{what} of {child_id} is {value}; it must be {low}-{high}."
    LOAD_BALANCER_INVALID_PROBE_INTERVAL = (
        "Probe {child_id} has intervalInSeconds {value}; it must be at least {low} seconds."
    )
    LOAD_BALANCER_PROBE_REQUEST_PATH = "Probe {child_id} uses protocol {protocol}, which needs a requestPath."
    LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS = (
        "Frontend IP configuration {child_id} needs a publicIPAddress (a public frontend) or a subnet "
        "(an internal frontend)."
    )

    INVALID_PRIORITY = (
        "Security rule has invalid Priority. Value provided: {priority} Allowed range "
        f"{MIN_USER_PRIORITY}-{MAX_USER_PRIORITY}."
    )
    CONFLICT = "Security rule {new} conflicts with rule {existing}. Rules cannot have the same Priority and Direction."
    DUPLICATE_RULE_NAME = (
        "Network security group {nsg_id} has more than one security rule named {name}. Rule names are unique "
        "within a network security group (compared case-insensitively)."
    )
    INVALID_NAME = (
        "Resource name {name} is invalid. The name can be up to {max_length} characters long. It must begin with a "
        "word character, and it must end with a word character or with '_'. The name may contain word characters "
        "or '.', '-', '_'."
    )
    DESCRIPTION_TOO_LONG = (
        "Security rule {rule_id} has a description of {length} characters. The description is restricted to "
        "{max_length} characters."
    )
    PARAMETER_CONFLICT = (
        "Security rule with Id {rule_id} must specify a non-empty value for either {singular} or {plural}, "
        "but not both."
    )
    ADDRESS_PARAMETER_CONFLICT = (
        "Security rule with Id {rule_id} must specify a non-empty value for either {singular} or {plural} "
        "or {asgs}, but not more than one of them."
    )
    INVALID_PORT_RANGE = (
        "Security rule has invalid Port range. Value provided: {value}. Value should be an integer OR integer range "
        "with '-' delimiter. Valid range 0-65535."
    )
    INVALID_PORT_RANGES = (
        "Security rule parameter {parameter} for rule with Id {rule_id} contains invalid port ranges. "
        "'*' may only be used alone, in {singular}. Value provided: {value}."
    )
    INVALID_ADDRESS_PREFIX = "Security rule {rule_id} has invalid Address prefix. Value provided: {value}"
    UNSUPPORTED_VALUE = (
        "Security rule parameter {parameter} for rule with Id {rule_id} cannot specify existing VIRTUALNETWORK, "
        "INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: {value}."
    )
    MIXED_FAMILIES = (
        "Security rule {rule_id} cannot contain address prefixes from different address families: "
        "IPv4 prefix {ipv4} and IPv6 prefix {ipv6}."
    )
    ASGS_PER_RULE_FIELD = (
        "A security rule may have up to {limit} Application Security Group in the source or destination fields. "
        "The requested configuration has {count} in the {field} field."
    )
    RULE_ASGS_SAME_VNET = (
        "Security Rule {rule_id} has Application Security Groups (ASGs) from multiple virtual networks ({vnets}). "
        "All ASGs on the Security Rule must be from the same virtual network."
    )
    ASG_NICS_SAME_VNET = (
        "Application security group {asg_id} has members in multiple virtual networks ({vnets}). "
        "All IP configurations of an application security group must be in the same virtual network."
    )
    INVALID_REFERENCE = "Resource {referenced} referenced by {referrer} was not found."
    DEFAULT_RULE_READ_ONLY = (
        "Default security rule {name} of network security group {nsg_id} is read-only and cannot be changed."
    )
    RULES_PER_NSG = (
        "Network security group {nsg_id} has {count} security rules. A network security group may have up to "
        "{limit} security rules."
    )
    PREFIXES_PER_SIDE = (
        "Network security group {nsg_id} specifies {count} {side} address prefixes in its security rules. "
        "Up to {limit} IP addresses and ranges may be specified for the {side} of a network security group."
    )
    ASGS_PER_NSG = (
        "Network security group {nsg_id} references {count} application security groups in its security rules. "
        "Up to {limit} may be referenced."
    )
    ASGS_PER_IP_CONFIGURATION = (
        "IP configuration {ip_configuration_id} is a member of {count} application security groups. "
        "An IP configuration may be a member of up to {limit}."
    )
    IP_CONFIGURATIONS_PER_ASG = (
        "Application security group {asg_id} has {count} IP configurations. An application security group may "
        "have up to {limit}."
    )
    NSGS_PER_REGION = (
        "Subscription {subscription} has {count} network security groups in region {region}. Up to {limit} are "
        "allowed per region per subscription."
    )
    ASGS_PER_REGION = (
        "Subscription {subscription} has {count} application security groups in region {region}. Up to {limit} "
        "are allowed per region per subscription."
    )
    INVALID_FLOW_TIMEOUT = (
        "Virtual network {vnet_id} has invalid flowTimeoutInMinutes. Value provided: {value}. Allowed range "
        f"{MIN_FLOW_TIMEOUT_MINUTES}-{MAX_FLOW_TIMEOUT_MINUTES}."
    )
    INVALID_ENUM = "Security rule {rule_id} has invalid {property}. Value provided: {value}. Allowed values: {allowed}."
    # --- AVNM and private endpoints ---
    ADMIN_RULE_INVALID_PRIORITY = (
        "Security admin rule {rule_id} has invalid Priority. Value provided: {priority} Allowed range "
        f"{MIN_ADMIN_RULE_PRIORITY}-{MAX_ADMIN_RULE_PRIORITY}."
    )
    ADMIN_RULE_PRIORITY_CONFLICT = (
        "Security admin rule {new} conflicts with rule {existing} of rule collection {collection_id}. "
        "Rules of a rule collection cannot have the same Priority."
    )
    ADMIN_RULE_INVALID_PORT_RANGE = (
        "Security admin rule {rule_id} has invalid Port range. Value provided: {value}. Value should be an integer "
        "OR integer range with '-' delimiter. Valid range 0-65535."
    )
    ADMIN_RULE_INVALID_ADDRESS_PREFIX = (
        "Security admin rule {rule_id} has invalid address prefix {value} of addressPrefixType {prefix_type}: "
        "{expected}."
    )
    ADMIN_RULE_MIXED_FAMILIES = (
        "Security admin rule {rule_id} cannot contain {side} from different address families: "
        "IPv4 prefix {ipv4} and IPv6 prefix {ipv6}."
    )
    ADMIN_RULE_DESCRIPTION_TOO_LONG = (
        "Security admin rule {rule_id} has a description of {length} characters. The description is restricted to "
        "{max_length} characters."
    )
    INVALID_ENUM_VALUE = "{subject} has invalid {property}. Value provided: {value}. Allowed values: {allowed}."
    STATIC_MEMBER_TYPE_MISMATCH = (
        "Static member {member_id} refers to {resource_id}, which is not a {expected}: network group {group_id} "
        "has memberType {member_type}."
    )
    RULE_COLLECTION_GROUP_NOT_FOUND = (
        "Rule collection {collection_id} applies to network group {group_id}, which was not found."
    )
    RULE_COLLECTION_GROUP_OF_OTHER_MANAGER = (
        "Rule collection {collection_id} applies to network group {group_id}, which belongs to another network "
        "manager. A rule collection may only apply to groups of its own network manager {manager_id}."
    )
    CONFIGURATIONS_PER_REGION = (
        "Network manager {manager_id} has {count} security admin configurations deployed in region {region} "
        "({configurations}). A network manager deploys at most one security admin configuration per region."
    )
    NSG_ON_PRIVATE_ENDPOINT_NIC = (
        "Network interface {nic_id} belongs to private endpoint {endpoint_id} and cannot have a network security "
        "group ({nsg_id}). Associate the network security group with the subnet instead."
    )
    NO_DEPLOYMENT_STATUS = (
        "No deployment status names a security admin configuration of network manager {manager_id}: each of its "
        "configurations ({configurations}) counts as deployed in every region."
    )
    EFFECTIVE_RULES_WITHOUT_VNET = (
        "An effective security admin rules answer does not say which virtual network it is for: add "
        '"{property}": "/subscriptions/.../virtualNetworks/..." beside "value".'
    )
    # --- reading ARM JSON (``opennsg.arm``) ---
    INVALID_JSON = "{source} is not valid JSON: {reason}."
    EMPTY_DOCUMENT = "{source} is empty; expected a JSON document."
    MISSING_REQUIRED_PROPERTY = "Required property '{name}' is missing. Path {path}."
    INVALID_VALUE = "Property '{name}' must be {expected}. Path {path}. Value provided: {value}."
    MISSING_REFERENCE_ID = "Value for reference id is missing. Path {path}."
    UNKNOWN_TYPE = "Cannot tell the resource type at {path}: it has neither a 'type' nor an ARM 'id'."
    UNSUPPORTED_RESOURCE_TYPE = "Resource type '{kind}' is not supported. Supported: {supported}."
    UNSUPPORTED_FUNCTION = "The template function '{name}' at {path} is not supported. Supported: {supported}."
    CONFLICTING_DEFINITIONS = "Resource {resource_id} is defined more than once with different content ({where})."
    FILE_NOT_FOUND = "{source} does not exist."


_NAME_RE = re.compile(NAME_PATTERN)


def canonical_tag(text: str, service_tags: ServiceTags | None) -> str | None:
    """The canonical name of a tag usable in an NSG rule (built-in, classic spelling or NSG-enabled), else None."""
    builtin = builtin_tag(text)
    if builtin is not None:
        return builtin
    tag = service_tags.nsg_tag(text.strip().casefold()) if service_tags is not None else None
    return tag.name if tag is not None else None


def is_known_tag(text: str, service_tags: ServiceTags | None) -> bool:
    """True for any tag name, usable in NSGs or not (to tell "a tag in the wrong field" from garbage)."""
    folded = text.strip().casefold()
    return (
        canonical_tag(text, service_tags) is not None
        or (service_tags is not None and service_tags.get(folded) is not None)
        or folded == "*"
    )


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and _NAME_RE.match(name) is not None


def rule_id(nsg: NetworkSecurityGroup, rule: SecurityRule) -> str:
    """The rule's ARM id: its own, or the one ARM gives it under its NSG."""
    return rule.id or f"{nsg.id}/securityRules/{rule.name}"


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem located in one resource: ``error.target`` is the path inside that resource's ARM JSON."""

    resource_id: str
    error: ArmError


def validate_nsg(nsg: NetworkSecurityGroup, topology: Topology) -> list[ArmError]:
    """Every problem of one NSG as a PUT of it would meet, targets relative to the NSG's JSON."""
    return [f.error for f in _nsg_findings(nsg, topology, _AsgMembership.of(topology))]


def validate_topology(topology: Topology) -> list[ArmError]:
    """Every problem of a whole topology; targets are ``{resource id}#{path in its JSON}``."""
    return [
        ArmError(
            f.error.code,
            f.error.message,
            f"{f.resource_id}#{f.error.target}" if f.error.target else f.resource_id,
            f.error.hint,
        )
        for f in topology_findings(topology)
    ]


def topology_findings(topology: Topology) -> list[Finding]:
    """Every problem of a whole topology, each tied to the resource it is in."""
    findings: list[Finding] = []
    membership = _AsgMembership.of(topology)
    for nsg in topology.nsgs.values():
        findings.extend(_nsg_findings(nsg, topology, membership))
    findings.extend(_region_limit_findings(topology))
    findings.extend(_vnet_findings(topology))
    findings.extend(_nic_findings(topology))
    findings.extend(_asg_membership_findings(topology, membership))
    findings.extend(_vm_findings(topology))
    findings.extend(avnm_findings(topology))
    findings.extend(_private_endpoint_findings(topology))
    findings.extend(_load_balancer_findings(topology))
    return findings


# --- NSGs and rules ----------------------------------------------------------------------------------


def _nsg_findings(nsg: NetworkSecurityGroup, topology: Topology, membership: _AsgMembership) -> list[Finding]:
    errors: list[Finding] = []

    def add(code: str, message: str, target: str | None = None) -> None:
        errors.append(
            Finding(nsg.id, ArmError(code, message, target, service_tag_hint(code, message, topology.service_tags)))
        )

    if not is_valid_name(nsg.name):
        add(Code.INVALID_NAME, Message.INVALID_NAME.format(name=nsg.name, max_length=MAX_NAME_LENGTH), "name")
    if len(nsg.security_rules) > MAX_RULES_PER_NSG:
        add(
            Code.RULES_PER_NSG,
            Message.RULES_PER_NSG.format(nsg_id=nsg.id, count=len(nsg.security_rules), limit=MAX_RULES_PER_NSG),
            "properties.securityRules",
        )
    for i, rule in enumerate(nsg.security_rules):
        for code, message, field in _rule_problems(nsg, rule, topology, membership):
            add(code, message, f"properties.securityRules[{i}]" + (f".{field}" if field else ""))
    for code, message, target in _nsg_wide_problems(nsg):
        add(code, message, target)
    return errors


_Problem = tuple[str, str, str | None]  # code, message, field path inside the rule


def _rule_problems(
    nsg: NetworkSecurityGroup, rule: SecurityRule, topology: Topology, membership: _AsgMembership
) -> Iterator[_Problem]:
    rid = rule_id(nsg, rule)
    if rule.is_default:
        yield (
            Code.DEFAULT_RULE_READ_ONLY,
            Message.DEFAULT_RULE_READ_ONLY.format(name=rule.name, nsg_id=nsg.id),
            None,
        )
    if not is_valid_name(rule.name):
        yield Code.INVALID_NAME, Message.INVALID_NAME.format(name=rule.name, max_length=MAX_NAME_LENGTH), "name"
    if not MIN_USER_PRIORITY <= rule.priority <= MAX_USER_PRIORITY:
        yield (
            Code.INVALID_PRIORITY,
            Message.INVALID_PRIORITY.format(priority=rule.priority),
            "properties.priority",
        )
    if rule.description is not None and len(rule.description) > MAX_DESCRIPTION_LENGTH:
        message = Message.DESCRIPTION_TOO_LONG.format(
            rule_id=rid, length=len(rule.description), max_length=MAX_DESCRIPTION_LENGTH
        )
        yield Code.DESCRIPTION_TOO_LONG, message, "properties.description"
    for side in ("source", "destination"):
        yield from _port_problems(rid, rule, side)
        yield from _address_problems(rid, rule, side, topology.service_tags)
        yield from _asg_problems(rid, rule, side, topology)
        yield from _family_problems(rid, rule, side)
    yield from _same_vnet_problems(rid, rule, membership)


def _camel(side: str, suffix: str) -> str:
    return f"{side}{suffix}"


def _pascal(side: str, suffix: str) -> str:
    return f"{side.capitalize()}{suffix}"


def _port_problems(rid: str, rule: SecurityRule, side: str) -> Iterator[_Problem]:
    singular: str | None = getattr(rule, f"{side}_port_range")
    plural: tuple[str, ...] = getattr(rule, f"{side}_port_ranges")
    if bool(singular) == bool(plural):
        message = Message.PARAMETER_CONFLICT.format(
            rule_id=rid, singular=_pascal(side, "PortRange"), plural=_pascal(side, "PortRanges")
        )
        yield Code.PARAMETER_CONFLICT, message, f"properties.{_camel(side, 'PortRange')}"
    if singular and parse_port_range(singular) is None:
        message = Message.INVALID_PORT_RANGE.format(value=singular)
        yield Code.INVALID_PORT_RANGE, message, f"properties.{_camel(side, 'PortRange')}"
    for j, value in enumerate(plural):
        path = f"properties.{_camel(side, 'PortRanges')}[{j}]"
        if value.strip() == "*":
            message = Message.INVALID_PORT_RANGES.format(
                parameter=_pascal(side, "PortRanges"), rule_id=rid, singular=_pascal(side, "PortRange"), value=value
            )
            yield Code.INVALID_PORT_RANGES, message, path
        elif parse_port_range(value) is None:
            yield Code.INVALID_PORT_RANGE, Message.INVALID_PORT_RANGE.format(value=value), path


def _address_problems(rid: str, rule: SecurityRule, side: str, tags: ServiceTags | None) -> Iterator[_Problem]:
    singular: str | None = getattr(rule, f"{side}_address_prefix")
    plural: tuple[str, ...] = getattr(rule, f"{side}_address_prefixes")
    asgs: tuple[str, ...] = getattr(rule, f"{side}_asgs")
    if sum(map(bool, (singular, plural, asgs))) != 1:
        if asgs:
            message = Message.ADDRESS_PARAMETER_CONFLICT.format(
                rule_id=rid,
                singular=_pascal(side, "AddressPrefix"),
                plural=_pascal(side, "AddressPrefixes"),
                asgs=_pascal(side, "ApplicationSecurityGroups"),
            )
        else:
            message = Message.PARAMETER_CONFLICT.format(
                rule_id=rid, singular=_pascal(side, "AddressPrefix"), plural=_pascal(side, "AddressPrefixes")
            )
        yield Code.PARAMETER_CONFLICT, message, f"properties.{_camel(side, 'AddressPrefix')}"
    if (
        singular
        and singular.strip() != "*"
        and parse_prefix(singular) is None
        and canonical_tag(singular, tags) is None
    ):
        message = Message.INVALID_ADDRESS_PREFIX.format(rule_id=rid, value=singular)
        yield Code.INVALID_ADDRESS_PREFIX, message, f"properties.{_camel(side, 'AddressPrefix')}"
    for j, value in enumerate(plural):
        path = f"properties.{_camel(side, 'AddressPrefixes')}[{j}]"
        if parse_prefix(value) is not None:
            continue
        if is_known_tag(value, tags):
            message = Message.UNSUPPORTED_VALUE.format(
                parameter=_pascal(side, "AddressPrefix"), rule_id=rid, value=value
            )
            yield Code.UNSUPPORTED_VALUE, message, path
        else:
            yield (
                Code.INVALID_ADDRESS_PREFIX,
                Message.INVALID_ADDRESS_PREFIX.format(rule_id=rid, value=value),
                path,
            )


_TAG_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")


def service_tag_hint(code: str, message: str, tags: ServiceTags | None) -> str | None:
    """What to do when a rule's address looks like a service tag that is not known (most real NSGs use tags)."""
    if code != Code.INVALID_ADDRESS_PREFIX:
        return None
    value = message.rpartition("Value provided: ")[2].strip()  # the end of Message.INVALID_ADDRESS_PREFIX
    if not _TAG_LIKE.match(value):
        return None
    if tags is None:
        return (
            f"'{value}' looks like a service tag: service tags need Azure's \"Service Tags – Public\" file. "
            "Pass it with --service-tags FILE (or set OPENNSG_SERVICE_TAGS), "
            "or run 'opennsg service-tags update' once to download and cache the current one."
        )
    where = tags.source or "the service tags file"
    known = tags.get(value)
    if known is not None:
        return f"The service tag '{known.name}' of {where} cannot be used in NSG rules (no 'NSG' network feature)."
    return f"'{value}' is not a service tag of {where} (changeNumber {tags.change_number})."


def _asg_problems(rid: str, rule: SecurityRule, side: str, topology: Topology) -> Iterator[_Problem]:
    asgs: tuple[str, ...] = getattr(rule, f"{side}_asgs")
    field = _camel(side, "ApplicationSecurityGroups")
    if len(asgs) > MAX_ASGS_PER_RULE_FIELD:
        message = Message.ASGS_PER_RULE_FIELD.format(
            limit=MAX_ASGS_PER_RULE_FIELD, count=len(asgs), field=_pascal(side, "ApplicationSecurityGroups")
        )
        yield Code.ASGS_PER_RULE_FIELD, message, f"properties.{field}"
    for j, asg_id in enumerate(asgs):
        if topology.asg(asg_id) is None:
            message = Message.INVALID_REFERENCE.format(referenced=asg_id, referrer=rid)
            yield Code.INVALID_REFERENCE, message, f"properties.{field}[{j}].id"


def _family_problems(rid: str, rule: SecurityRule, side: str) -> Iterator[_Problem]:
    v4: str | None = None
    v6: str | None = None
    for value in getattr(rule, f"{side}_address_prefixes"):
        network = parse_prefix(value)
        if network is None:
            continue
        if isinstance(network, IPv4Network):
            v4 = v4 or value
        else:
            v6 = v6 or value
    if v4 and v6:
        message = Message.MIXED_FAMILIES.format(rule_id=rid, ipv4=v4, ipv6=v6)
        yield Code.MIXED_FAMILIES, message, f"properties.{_camel(side, 'AddressPrefixes')}"


@dataclass(frozen=True, slots=True)
class _AsgMembership:
    """Per ASG key: how many IP configurations are members, and their VNets (key -> id as first written)."""

    counts: dict[str, int]
    vnets: dict[str, dict[str, str]]

    @classmethod
    def of(cls, topology: Topology) -> _AsgMembership:
        counts: dict[str, int] = defaultdict(int)
        vnets: dict[str, dict[str, str]] = defaultdict(dict)
        for nic in topology.nics.values():
            for cfg in nic.ip_configurations:
                for asg_key in {id_key(a) for a in cfg.application_security_groups}:
                    counts[asg_key] += 1
                    if cfg.subnet:
                        vnet_id = cfg.subnet.strip().rstrip("/").rsplit("/", 2)[0]
                        vnets[asg_key].setdefault(id_key(vnet_id), vnet_id)
        return cls(dict(counts), dict(vnets))


def _same_vnet_problems(rid: str, rule: SecurityRule, membership: _AsgMembership) -> Iterator[_Problem]:
    vnets: dict[str, str] = {}
    for asg_id in (*rule.source_asgs, *rule.destination_asgs):
        for key, vnet_id in sorted(membership.vnets.get(id_key(asg_id), {}).items()):
            vnets.setdefault(key, vnet_id)
    if len(vnets) > 1:
        message = Message.RULE_ASGS_SAME_VNET.format(rule_id=rid, vnets=", ".join(sorted(vnets.values())))
        yield Code.RULE_ASGS_SAME_VNET, message, "properties"


def _nsg_wide_problems(nsg: NetworkSecurityGroup) -> Iterator[tuple[str, str, str]]:
    by_slot: dict[tuple[str, int], SecurityRule] = {}
    for i, rule in enumerate(nsg.security_rules):
        slot = (rule.direction.value, rule.priority)
        existing = by_slot.get(slot)
        if existing is None:
            by_slot[slot] = rule
        else:
            message = Message.CONFLICT.format(new=rule.name, existing=existing.name)
            yield Code.CONFLICT, message, f"properties.securityRules[{i}].properties.priority"
    seen_names: set[str] = set()
    for i, rule in enumerate(nsg.security_rules):
        if rule.name.casefold() in seen_names:
            message = Message.DUPLICATE_RULE_NAME.format(nsg_id=nsg.id, name=rule.name)
            yield Code.DUPLICATE_RULE_NAME, message, f"properties.securityRules[{i}].name"
        seen_names.add(rule.name.casefold())
    for side in ("source", "destination"):
        count = sum(len(getattr(r, f"{side}_addresses")) for r in nsg.security_rules)
        if count > MAX_PREFIXES_PER_SIDE:
            message = Message.PREFIXES_PER_SIDE.format(
                nsg_id=nsg.id, count=count, side=side, limit=MAX_PREFIXES_PER_SIDE
            )
            yield Code.PREFIXES_PER_SIDE, message, "properties.securityRules"
    distinct_asgs = {id_key(a) for r in nsg.security_rules for a in (*r.source_asgs, *r.destination_asgs)}
    if len(distinct_asgs) > MAX_ASGS_PER_NSG:
        message = Message.ASGS_PER_NSG.format(nsg_id=nsg.id, count=len(distinct_asgs), limit=MAX_ASGS_PER_NSG)
        yield Code.ASGS_PER_NSG, message, "properties.securityRules"


# --- the rest of the topology ---------------------------------------------------------------------------


def _region_limit_findings(topology: Topology) -> Iterator[Finding]:
    for resources, limit, code, template in (
        (topology.nsgs.values(), MAX_NSGS_PER_REGION, Code.NSGS_PER_REGION, Message.NSGS_PER_REGION),
        (topology.asgs.values(), MAX_ASGS_PER_REGION, Code.ASGS_PER_REGION, Message.ASGS_PER_REGION),
    ):
        groups: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for resource in resources:
            groups[(resource.subscription_id.casefold(), resource.location.casefold())].append(resource)
        for group in groups.values():
            if len(group) > limit:
                first = group[0]
                message = template.format(
                    subscription=first.subscription_id, count=len(group), region=first.location, limit=limit
                )
                yield Finding(group[limit].id, ArmError(code, message, None))


def _reference(referrer: str, referenced: str | None, exists: bool, resource_id: str, target: str) -> Iterable[Finding]:
    if referenced and not exists:
        message = Message.INVALID_REFERENCE.format(referenced=referenced, referrer=referrer)
        return [Finding(resource_id, ArmError(Code.INVALID_REFERENCE, message, target))]
    return []


def _vnet_findings(topology: Topology) -> Iterator[Finding]:
    for vnet in topology.vnets.values():
        timeout = vnet.flow_timeout_in_minutes
        if timeout is not None and not MIN_FLOW_TIMEOUT_MINUTES <= timeout <= MAX_FLOW_TIMEOUT_MINUTES:
            error = ArmError(
                Code.INVALID_FLOW_TIMEOUT,
                Message.INVALID_FLOW_TIMEOUT.format(vnet_id=vnet.id, value=timeout),
                "properties.flowTimeoutInMinutes",
            )
            yield Finding(vnet.id, error)
        for i, subnet in enumerate(vnet.subnets):
            base = f"properties.subnets[{i}].properties"
            nsg_id, rt_id = subnet.network_security_group, subnet.route_table
            yield from _reference(
                subnet.id, nsg_id, topology.nsg(nsg_id) is not None, vnet.id, f"{base}.networkSecurityGroup.id"
            )
            yield from _reference(
                subnet.id, rt_id, topology.route_table(rt_id) is not None, vnet.id, f"{base}.routeTable.id"
            )


def _nic_findings(topology: Topology) -> Iterator[Finding]:
    for nic in topology.nics.values():
        nsg_id = nic.network_security_group
        yield from _reference(
            nic.id, nsg_id, topology.nsg(nsg_id) is not None, nic.id, "properties.networkSecurityGroup.id"
        )
        for i, cfg in enumerate(nic.ip_configurations):
            base = f"properties.ipConfigurations[{i}].properties"
            yield from _reference(
                cfg.id, cfg.subnet, topology.subnet(cfg.subnet) is not None, nic.id, f"{base}.subnet.id"
            )
            for j, asg_id in enumerate(cfg.application_security_groups):
                yield from _reference(
                    cfg.id,
                    asg_id,
                    topology.asg(asg_id) is not None,
                    nic.id,
                    f"{base}.applicationSecurityGroups[{j}].id",
                )
            if len(cfg.application_security_groups) > MAX_ASGS_PER_IP_CONFIGURATION:
                message = Message.ASGS_PER_IP_CONFIGURATION.format(
                    ip_configuration_id=cfg.id,
                    count=len(cfg.application_security_groups),
                    limit=MAX_ASGS_PER_IP_CONFIGURATION,
                )
                target = f"{base}.applicationSecurityGroups"
                yield Finding(nic.id, ArmError(Code.ASGS_PER_IP_CONFIGURATION, message, target))


def _asg_membership_findings(topology: Topology, membership: _AsgMembership) -> Iterator[Finding]:
    for asg in topology.asgs.values():
        count = membership.counts.get(asg.key, 0)
        if count > MAX_IP_CONFIGURATIONS_PER_ASG:
            message = Message.IP_CONFIGURATIONS_PER_ASG.format(
                asg_id=asg.id, count=count, limit=MAX_IP_CONFIGURATIONS_PER_ASG
            )
            yield Finding(asg.id, ArmError(Code.IP_CONFIGURATIONS_PER_ASG, message, None))
        asg_vnets = membership.vnets.get(asg.key, {})
        if len(asg_vnets) > 1:
            message = Message.ASG_NICS_SAME_VNET.format(asg_id=asg.id, vnets=", ".join(sorted(asg_vnets.values())))
            yield Finding(asg.id, ArmError(Code.ASG_NICS_SAME_VNET, message, None))


def _vm_findings(topology: Topology) -> Iterator[Finding]:
    for vm in topology.vms.values():
        for i, nic_id in enumerate(vm.network_interfaces):
            target = f"properties.networkProfile.networkInterfaces[{i}].id"
            yield from _reference(vm.id, nic_id, topology.nic(nic_id) is not None, vm.id, target)


# --- AVNM security admin rules (semantics §11) and private endpoints (semantics §12) ---------------------------------


def avnm_findings(topology: Topology) -> Iterator[Finding]:
    """Every problem of the network managers' resources, as ARM would refuse each PUT (and each commit)."""
    yield from _avnm_parent_findings(topology)
    for group in topology.network_groups.values():
        yield from _name_finding(group.id, group.name)
    for member in topology.static_members.values():
        yield from _static_member_findings(topology, member)
    for configuration in topology.security_admin_configurations.values():
        yield from _name_finding(configuration.id, configuration.name)
    for collection in topology.admin_rule_collections.values():
        yield from _name_finding(collection.id, collection.name)
        yield from _rule_collection_findings(topology, collection)
    for rule in topology.admin_rules.values():
        yield from _name_finding(rule.id, rule.name)
        for code, message, target in admin_rule_problems(rule, topology):
            yield Finding(rule.id, ArmError(code, message, target))
    yield from _admin_priority_conflicts(topology)
    yield from _deployment_findings(topology)


def _name_finding(resource_id: str, name: str) -> Iterator[Finding]:
    if not is_valid_name(name):
        message = Message.INVALID_NAME.format(name=name, max_length=MAX_NAME_LENGTH)
        yield Finding(resource_id, ArmError(Code.INVALID_NAME, message, "name"))


def _avnm_parent_findings(topology: Topology) -> Iterator[Finding]:
    """A child given without its parent (ARM would answer the PUT with "parent not found")."""
    children: list[tuple[str, str, bool]] = [
        *((g.id, g.network_manager_id, topology.network_manager(g.network_manager_id) is not None)
          for g in topology.network_groups.values()),
        *((m.id, m.network_group_id, topology.network_group(m.network_group_id) is not None)
          for m in topology.static_members.values()),
        *((c.id, c.network_manager_id, topology.network_manager(c.network_manager_id) is not None)
          for c in topology.security_admin_configurations.values()),
        *((c.id, c.configuration_id, topology.security_admin_configuration(c.configuration_id) is not None)
          for c in topology.admin_rule_collections.values()),
        *((r.id, r.rule_collection_id, topology.admin_rule_collection(r.rule_collection_id) is not None)
          for r in topology.admin_rules.values()),
    ]  # fmt: skip
    for child_id, parent, exists in children:
        yield from _reference(child_id, parent, exists, child_id, "id")


def _static_member_findings(topology: Topology, member: StaticMember) -> Iterator[Finding]:
    yield from _name_finding(member.id, member.name)
    group = topology.network_group(member.network_group_id)
    if group is None:
        return
    parsed = ResourceId.parse(member.resource_id)
    actual = parsed.type.casefold() if parsed else ""
    wanted = group.effective_member_type
    expected = {
        GroupMemberType.VIRTUAL_NETWORK: "microsoft.network/virtualnetworks",
        GroupMemberType.SUBNET: "microsoft.network/virtualnetworks/subnets",
    }[wanted]
    if actual != expected:
        message = Message.STATIC_MEMBER_TYPE_MISMATCH.format(
            member_id=member.id,
            resource_id=member.resource_id,
            expected="subnet" if wanted is GroupMemberType.SUBNET else "virtual network",
            group_id=group.id,
            member_type=wanted.value,
        )
        yield Finding(member.id, ArmError(Code.STATIC_MEMBER_TYPE_MISMATCH, message, "properties.resourceId"))


def _rule_collection_findings(topology: Topology, collection: AdminRuleCollection) -> Iterator[Finding]:
    for i, group_id in enumerate(collection.applies_to_groups):
        target = f"properties.appliesToGroups[{i}].networkGroupId"
        group = topology.network_group(group_id)
        if group is None:
            message = Message.RULE_COLLECTION_GROUP_NOT_FOUND.format(collection_id=collection.id, group_id=group_id)
            yield Finding(collection.id, ArmError(Code.RULE_COLLECTION_GROUP_NOT_FOUND, message, target))
        elif id_key(group.network_manager_id) != id_key(collection.network_manager_id):
            message = Message.RULE_COLLECTION_GROUP_OF_OTHER_MANAGER.format(
                collection_id=collection.id, group_id=group_id, manager_id=collection.network_manager_id
            )
            yield Finding(collection.id, ArmError(Code.RULE_COLLECTION_GROUP_OF_OTHER_MANAGER, message, target))


def admin_rule_problems(rule: AdminRule, topology: Topology) -> Iterator[_Problem]:
    """One admin rule's own problems (priority range, ports, addresses, description), targets in its JSON."""
    if not MIN_ADMIN_RULE_PRIORITY <= rule.priority <= MAX_ADMIN_RULE_PRIORITY:
        message = Message.ADMIN_RULE_INVALID_PRIORITY.format(rule_id=rule.id, priority=rule.priority)
        yield Code.ADMIN_RULE_INVALID_PRIORITY, message, "properties.priority"
    if rule.description is not None and len(rule.description) > MAX_DESCRIPTION_LENGTH:
        message = Message.ADMIN_RULE_DESCRIPTION_TOO_LONG.format(
            rule_id=rule.id, length=len(rule.description), max_length=MAX_DESCRIPTION_LENGTH
        )
        yield Code.ADMIN_RULE_DESCRIPTION_TOO_LONG, message, "properties.description"
    for field_name, ports in (
        ("sourcePortRanges", rule.source_port_ranges),
        ("destinationPortRanges", rule.destination_port_ranges),
    ):
        for j, value in enumerate(ports):
            if value.strip() == "*" or parse_port_range(value) is None:
                message = Message.ADMIN_RULE_INVALID_PORT_RANGE.format(rule_id=rule.id, value=value)
                yield Code.ADMIN_RULE_INVALID_PORT_RANGE, message, f"properties.{field_name}[{j}]"
    for field_name, items in (("sources", rule.sources), ("destinations", rule.destinations)):
        yield from _admin_address_problems(rule, field_name, items, topology)


def _admin_address_problems(
    rule: AdminRule, field_name: str, items: tuple[AddressPrefixItem, ...], topology: Topology
) -> Iterator[_Problem]:
    v4: str | None = None
    v6: str | None = None
    for j, item in enumerate(items):
        path = f"properties.{field_name}[{j}].addressPrefix"
        value = item.address_prefix
        expected: str | None = None
        if item.address_prefix_type is AddressPrefixType.IP_PREFIX:
            network = parse_prefix(value)
            if network is None and value.strip() != "*":
                expected = "expected '*', an IP address or a CIDR prefix"
            elif isinstance(network, IPv4Network):
                v4 = v4 or value
            elif network is not None:
                v6 = v6 or value
        elif item.address_prefix_type is AddressPrefixType.SERVICE_TAG:
            if canonical_tag(value, topology.service_tags) is None:
                expected = "expected a service tag usable in security rules"
        elif topology.network_group(value) is None:
            message = Message.INVALID_REFERENCE.format(referenced=value, referrer=rule.id)
            yield Code.INVALID_REFERENCE, message, path
        if expected is not None:
            message = Message.ADMIN_RULE_INVALID_ADDRESS_PREFIX.format(
                rule_id=rule.id, value=value, prefix_type=item.address_prefix_type.value, expected=expected
            )
            yield Code.ADMIN_RULE_INVALID_ADDRESS_PREFIX, message, path
    if v4 and v6:
        message = Message.ADMIN_RULE_MIXED_FAMILIES.format(rule_id=rule.id, side=field_name, ipv4=v4, ipv6=v6)
        yield Code.MIXED_FAMILIES, message, f"properties.{field_name}"


def _admin_priority_conflicts(topology: Topology) -> Iterator[Finding]:
    for collection_key in sorted({id_key(r.rule_collection_id) for r in topology.admin_rules.values()}):
        seen: dict[int, AdminRule] = {}
        for rule in topology.admin_rules_of(collection_key):
            existing = seen.setdefault(rule.priority, rule)
            if existing is not rule:
                message = Message.ADMIN_RULE_PRIORITY_CONFLICT.format(
                    new=rule.name, existing=existing.name, collection_id=rule.rule_collection_id
                )
                yield Finding(rule.id, ArmError(Code.ADMIN_RULE_PRIORITY_CONFLICT, message, "properties.priority"))


def deployed_configurations_by_region(topology: Topology, manager_id: str) -> dict[str, list[str]]:
    """Region -> ids of this manager's configurations a deployment status lists as ``Deployed`` there."""
    out: dict[str, list[str]] = defaultdict(list)
    for configuration in topology.configurations_of(manager_id):
        regions = {
            "".join(status.region.split()).casefold(): status.region
            for status in topology.deployment_statuses
            if topology.configuration_deployed(configuration.id, status.region)
        }
        for region in regions.values():
            out[region].append(configuration.id)
    return out


def _deployment_findings(topology: Topology) -> Iterator[Finding]:
    for manager in topology.network_managers.values():
        if not topology.has_deployment_status(manager.id):
            continue
        for region, configurations in sorted(deployed_configurations_by_region(topology, manager.id).items()):
            if len(configurations) > 1:
                message = Message.CONFIGURATIONS_PER_REGION.format(
                    manager_id=manager.id,
                    count=len(configurations),
                    region=region,
                    configurations=", ".join(configurations),
                )
                yield Finding(manager.id, ArmError(Code.CONFIGURATIONS_PER_REGION, message, None))


def _private_endpoint_findings(topology: Topology) -> Iterator[Finding]:
    for nic in topology.nics.values():
        endpoint = topology.private_endpoint_of_nic(nic.id)
        endpoint_id = endpoint.id if endpoint is not None else nic.private_endpoint
        if endpoint_id and nic.network_security_group:
            message = Message.NSG_ON_PRIVATE_ENDPOINT_NIC.format(
                nic_id=nic.id, endpoint_id=endpoint_id, nsg_id=nic.network_security_group
            )
            target = "properties.networkSecurityGroup.id"
            yield Finding(nic.id, ArmError(Code.NSG_ON_PRIVATE_ENDPOINT_NIC, message, target))
    for endpoint in topology.private_endpoints.values():
        subnet_id = endpoint.subnet
        exists = topology.subnet(subnet_id) is not None
        yield from _reference(endpoint.id, subnet_id, exists, endpoint.id, "properties.subnet.id")
    for vnet in topology.vnets.values():
        for i, subnet in enumerate(vnet.subnets):
            nat_gateway = subnet.nat_gateway
            target = f"properties.subnets[{i}].properties.natGateway.id"
            exists = topology.nat_gateway(nat_gateway) is not None
            yield from _reference(subnet.id, nat_gateway, exists, vnet.id, target)


# --- load balancers (semantics §6) -------------------------------------------------------------------------

MIN_PROBE_INTERVAL_SECONDS = 5
_LB_PORTS = (("frontendPort", 0, 65534), ("backendPort", 0, 65535))


def _load_balancer_findings(topology: Topology) -> Iterator[Finding]:
    for lb in topology.load_balancers.values():
        yield from _load_balancer_problems(lb, topology)
    for nic in topology.nics.values():
        for i, cfg in enumerate(nic.ip_configurations):
            for j, pool_id in enumerate(cfg.load_balancer_backend_address_pools):
                owner = topology.load_balancer_of_pool(pool_id)
                if owner is None:
                    continue  # the load balancer is not in the input: nothing to check the pool against
                exists = any(id_key(p.id) == id_key(pool_id) for p in owner.backend_address_pools)
                target = f"properties.ipConfigurations[{i}].properties.loadBalancerBackendAddressPools[{j}].id"
                yield from _reference(cfg.id, pool_id, exists, nic.id, target)


def _load_balancer_problems(lb: LoadBalancer, topology: Topology) -> Iterator[Finding]:
    def problem(code: str, message: str, target: str) -> Finding:
        return Finding(lb.id, ArmError(code, message, target))

    for i, frontend in enumerate(lb.frontend_ip_configurations):
        base = f"properties.frontendIPConfigurations[{i}].properties"
        if frontend.public_ip_address is None and frontend.subnet is None:
            message = Message.LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS.format(child_id=frontend.id)
            yield problem(Code.LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS, message, base)
        exists = topology.subnet(frontend.subnet) is not None
        yield from _reference(frontend.id, frontend.subnet, exists, lb.id, f"{base}.subnet.id")
    for i, probe in enumerate(lb.probes):
        base = f"properties.probes[{i}].properties"
        if not 1 <= probe.port <= 65535:
            message = Message.LOAD_BALANCER_INVALID_PORT.format(
                what="port", child_id=probe.id, value=probe.port, low=1, high=65535
            )
            yield problem(Code.LOAD_BALANCER_INVALID_PORT, message, f"{base}.port")
        if probe.interval_in_seconds < MIN_PROBE_INTERVAL_SECONDS:
            message = Message.LOAD_BALANCER_INVALID_PROBE_INTERVAL.format(
                child_id=probe.id, value=probe.interval_in_seconds, low=MIN_PROBE_INTERVAL_SECONDS
            )
            yield problem(Code.LOAD_BALANCER_INVALID_PROBE_INTERVAL, message, f"{base}.intervalInSeconds")
        if probe.protocol is not ProbeProtocol.TCP and not probe.request_path:
            message = Message.LOAD_BALANCER_PROBE_REQUEST_PATH.format(child_id=probe.id, protocol=probe.protocol.value)
            yield problem(Code.LOAD_BALANCER_PROBE_REQUEST_PATH, message, f"{base}.requestPath")
    children = {
        "frontendIPConfiguration": {id_key(f.id) for f in lb.frontend_ip_configurations},
        "backendAddressPool": {id_key(p.id) for p in lb.backend_address_pools},
        "probe": {id_key(p.id) for p in lb.probes},
    }
    for i, rule in enumerate(lb.load_balancing_rules):
        base = f"properties.loadBalancingRules[{i}].properties"
        for (name, low, high), value in zip(_LB_PORTS, (rule.frontend_port, rule.backend_port), strict=True):
            if not low <= value <= high:
                message = Message.LOAD_BALANCER_INVALID_PORT.format(
                    what=name, child_id=rule.id, value=value, low=low, high=high
                )
                yield problem(Code.LOAD_BALANCER_INVALID_PORT, message, f"{base}.{name}")
        for name, referenced in (
            ("frontendIPConfiguration", rule.frontend_ip_configuration),
            ("backendAddressPool", rule.backend_address_pool),
            ("probe", rule.probe),
        ):
            exists = referenced is not None and id_key(referenced) in children[name]
            yield from _reference(rule.id, referenced, exists, lb.id, f"{base}.{name}.id")


def topology_notes(topology: Topology) -> list[str]:
    """What ``validate`` says besides problems: the project decisions that shaped the answer (semantics §11.6)."""
    notes: list[str] = []
    for manager in sorted(topology.network_managers.values(), key=lambda m: m.key):
        configurations = topology.configurations_of(manager.id)
        if configurations and not topology.has_deployment_status(manager.id):
            notes.append(
                Message.NO_DEPLOYMENT_STATUS.format(
                    manager_id=manager.id, configurations=", ".join(c.name for c in configurations)
                )
            )
    return notes


__all__ = [
    "Code",
    "Finding",
    "Message",
    "admin_rule_problems",
    "avnm_findings",
    "canonical_tag",
    "deployed_configurations_by_region",
    "is_known_tag",
    "is_valid_name",
    "rule_id",
    "topology_findings",
    "topology_notes",
    "validate_nsg",
    "validate_topology",
]
