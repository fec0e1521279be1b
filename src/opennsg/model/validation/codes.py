"""Message templates of every check; their codes are the table of ``opennsg.model.codes``."""

from __future__ import annotations

from opennsg.model.codes import Code
from opennsg.model.policy import (
    MAX_ADMIN_RULE_PRIORITY,
    MAX_FLOW_TIMEOUT_MINUTES,
    MAX_USER_PRIORITY,
    MIN_ADMIN_RULE_PRIORITY,
    MIN_FLOW_TIMEOUT_MINUTES,
    MIN_USER_PRIORITY,
)

__all__ = ["Code", "Message"]


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
    SERVICE_TAG_PREFIXES_UNKNOWN = (
        "Security rule {rule_id} names the service tag '{tag}', which Azure accepts but does not publish in its "
        "Service Tags - Public file: its prefixes are unknown, so no verdict can be computed where this rule applies. "
        "Give a service tags file that lists '{tag}' with --service-tags FILE."
    )
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
    #: ARM's own wording (as real deployments report it, e.g. a NIC naming a missing subnet).
    INVALID_REFERENCE = (
        "Resource {referenced} referenced by resource {referrer} was not found. Please make sure that the "
        "referenced resource exists, and that both resources are in the same region."
    )
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
    # --- addresses and limits of the resources around NSGs (ARM's wording where it is known) ---
    INVALID_ADDRESS_PREFIX_FORMAT = (
        "Address prefix {value} of resource {resource_id} is not formatted correctly. It should follow CIDR "
        "notation, for example 10.0.0.0/24."
    )
    INVALID_CIDR_NOTATION = (
        "The address prefix {value} in resource {resource_id} has an invalid CIDR notation. For the given prefix "
        "length, the address prefix should be {expected}."
    )
    SUBNET_RANGE_OUTSIDE_VNET = (
        "Subnet '{subnet}' is not valid because its IP address range is outside the IP address range of virtual "
        "network '{vnet}'."
    )
    SUBNET_RANGES_OVERLAP = (
        "Subnet '{subnet}' is not valid because its IP address range overlaps with that of an existing subnet in "
        "virtual network '{vnet}'."
    )
    INVALID_PRIVATE_IP_ADDRESS_FORMAT = (
        "Static IP address value '{value}' of IP configuration {ip_configuration_id} is invalid: expected an IPv4 "
        "or IPv6 address."
    )
    INVALID_PRIVATE_IP_BLOCK = (
        "Private IP address block '{value}' of IP configuration {ip_configuration_id} is invalid: expected "
        "<address>/<prefix-length> with the length of privateIPAddressPrefixLength ({length})."
    )
    PRIVATE_IP_BLOCK_NOT_ALIGNED = (
        "Private IP address block {block} of IP configuration {ip_configuration_id} does not start at a multiple "
        "of its size: an aligned block such as {aligned} is expected."
    )
    PRIVATE_IP_NOT_IN_SUBNET = (
        "IP configuration {ip_configuration_id} has private IP address {address}, which is outside the range of its "
        "subnet {subnet_id} ({prefixes})."
    )
    PRIVATE_IP_IN_RESERVED_RANGE = (
        "IP configuration {ip_configuration_id} has private IP address {address}, which Azure reserves in subnet "
        "{subnet_id} (the first four addresses of each range and, in IPv4, the last one)."
    )
    PRIVATE_IP_ALLOCATED = (
        "IP configuration {ip_configuration_id} is using the private IP address {address} which is already "
        "allocated to resource {other}."
    )
    INVALID_IP_ADDRESS = "{what} '{value}' of {resource_id} is not a valid IP address."
    LINKED_INVALID_PROPERTY_ID = (
        "Property id '{value}' at path '{path}' is invalid. Expect fully qualified resource Id that start with "
        "'/subscriptions/{{subscriptionId}}' or '/providers/{{resourceProviderNamespace}}/'."
    )
    INVALID_TAG_NAME = (
        "Tag name '{name}' of resource {resource_id} is {length} characters long. The maximum length of a tag name "
        "is {limit} characters."
    )
    INVALID_TAG_NAME_CHARACTERS = (
        "The tag names '{names}' of resource {resource_id} have reserved characters '<,>,%,&,\\,?,/' or control "
        "characters."
    )
    INVALID_TAG_VALUE_LENGTH = (
        "The value of tag '{name}' of resource {resource_id} is {length} characters long. The maximum length of a "
        "tag value is {limit} characters."
    )
    INVALID_TAG_COUNT = "Resource {resource_id} has {count} tags. A resource may have up to {limit} tags."
    NEXT_HOP_IP_ADDRESS_REQUIRED = (
        "Route {route_id} has nextHopType VirtualAppliance and must specify nextHopIpAddress, the address of the "
        "appliance."
    )
    PEERING_TO_ITSELF = (
        "Virtual network peering {peering_id} refers to its own virtual network {vnet_id}. A virtual network cannot "
        "be peered with itself."
    )
    IP_CONFIGURATIONS_PER_NIC = (
        "Network interface {nic_id} has {count} IP configurations. A network interface may have up to {limit}."
    )
    NIC_WITHOUT_IP_CONFIGURATION = (
        "Network interface {nic_id} has no IP configuration. A network interface needs at least one, in "
        "properties.ipConfigurations (each with a subnet reference)."
    )
    # --- flow logs ---
    #: Azure's answer to creating a flow log on an NSG (as ARM returns it since 2025-06-30).
    NSG_FLOW_LOG_CREATION_BLOCKED = (
        "On September 30, 2027, Network Security Group (NSG) flow logs will be retired. As part of this retirement, "
        "creation of new NSG flow logs is blocked starting June 30, 2025, but you will be able to continue using and "
        "modifying settings for existing NSG flow logs that are previously deployed/configured until Sept 30th 2027. "
        "We recommend migrating to virtual network flow logs, which overcome the limitations of NSG flow logs. For "
        "migration, please refer to https://learn.microsoft.com/en-us/azure/network-watcher/nsg-flow-logs-migrate."
    )
    INVALID_FLOW_LOG_TARGET = (
        "Flow log {flow_log_id} has targetResourceId '{target}', which is not the id of a network security group, "
        "virtual network, subnet or network interface."
    )
    INVALID_FLOW_LOG_STORAGE = (
        "Flow log {flow_log_id} has storageId '{storage}', which is not the id of a storage account "
        "(/subscriptions/{{subscription}}/resourceGroups/{{group}}/providers/Microsoft.Storage/storageAccounts/{{name}})."
    )
    INVALID_FLOW_LOG_FORMAT_VERSION = (
        "Flow log {flow_log_id} has invalid format.version. Value provided: {value}. Allowed values: {allowed}."
    )
    FLOW_LOG_TARGET_REGION = (
        "Flow log {flow_log_id} is in region '{region}' but its target {target} is in '{target_region}': a network "
        "watcher records only the resources of its own region."
    )
    FLOW_LOG_WATCHER_REGION = (
        "Flow log {flow_log_id} cannot be created in region '{region}': its network watcher {watcher_id} is in "
        "'{watcher_region}', and a flow log is in its network watcher's region."
    )
    INVALID_FLOW_LOG_RETENTION = (
        "Flow log {flow_log_id} has invalid retentionPolicy.days. Value provided: {value}. Allowed range 0-{limit} "
        "(0 keeps the records forever)."
    )
    # --- reading ARM JSON (``opennsg.arm``) ---
    INVALID_JSON = "{source} is not valid JSON: {reason}."
    EMPTY_DOCUMENT = "{source} is empty; expected a JSON document."
    MISSING_REQUIRED_PROPERTY = "Required property '{name}' is missing. Path {path}."
    INVALID_VALUE = "Property '{name}' must be {expected}. Path {path}. Value provided: {value}."
    SDK_SPELLING = (
        "Property '{name}' of {path} is the Python SDK's attribute name, not ARM JSON: ARM calls it '{camel}' (inside "
        "'properties') and ignores '{name}', which would leave the resource empty. Send the model object itself "
        "(the SDK serialises it) or use ARM's names, as in 'az ... -o json'."
    )
    MISSING_REFERENCE_ID = "Value for reference id is missing. Path {path}."
    PRIVATE_IP_ADDRESS_MISSING = (
        "Private IP address is required when privateIPAllocationMethod is Static in IP configuration {id}."
    )
    #: ARM's wording, as real deployments report it.
    SUBNET_IS_FULL = (
        "Subnet {subnet_id} with address prefix {prefixes} does not have enough capacity for {count} IP addresses."
    )
    UNKNOWN_TYPE = "Cannot tell the resource type at {path}: it has neither a 'type' nor an ARM 'id'."
    UNSUPPORTED_RESOURCE_TYPE = "Resource type '{kind}' is not supported. Supported: {supported}."
    UNSUPPORTED_FUNCTION = "The template function '{name}' at {path} is not supported. Supported: {supported}."
    CONFLICTING_DEFINITIONS = "Resource {resource_id} is defined more than once with different content ({where})."
    FILE_NOT_FOUND = "{source} does not exist."
