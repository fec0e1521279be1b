"""Azure Virtual Network Manager (AVNM) resources that security admin rules need (semantics §11.1), as immutable values.

ARM models a manager's pieces as separate child resources (groups, static members, configurations, rule
collections, rules), imported and PUT one by one; the topology keeps them the same way, flat and indexed by id,
and each knows its parent from its id (``network_manager_id``, ``configuration_id``, ...). The non-ARM documents
users hand us beside them (deployment status, the management-group tree, a VNet's effective admin rules) are
values here too. Address and port fields stay the strings ARM carries, as for NSG rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opennsg.model.enums import CaseInsensitiveEnum, Direction, Protocol
from opennsg.model.ids import id_key, parent_id
from opennsg.model.resources import Resource


class AdminRuleKind(CaseInsensitiveEnum):
    CUSTOM = "Custom"
    DEFAULT = "Default"


class AdminAccess(CaseInsensitiveEnum):
    """``SecurityConfigurationRuleAccess``: ``Deny`` drops, ``AlwaysAllow`` delivers, ``Allow`` defers to NSGs."""

    ALLOW = "Allow"
    DENY = "Deny"
    ALWAYS_ALLOW = "AlwaysAllow"


class AdminProtocol(CaseInsensitiveEnum):
    """``RuleProtocol`` of admin rules: as NSG protocols, but ``Any`` where NSGs say ``*``."""

    TCP = "Tcp"
    UDP = "Udp"
    ICMP = "Icmp"
    ESP = "Esp"
    ANY = "Any"
    AH = "Ah"

    @property
    def protocol(self) -> Protocol:
        """The NSG protocol with the same meaning (so one protocol-matching table serves both)."""
        return Protocol.ANY if self is AdminProtocol.ANY else Protocol(self.value)


class AddressPrefixType(CaseInsensitiveEnum):
    IP_PREFIX = "IPPrefix"
    SERVICE_TAG = "ServiceTag"
    NETWORK_GROUP = "NetworkGroup"


class GroupMemberType(CaseInsensitiveEnum):
    VIRTUAL_NETWORK = "VirtualNetwork"
    SUBNET = "Subnet"


class NetworkIntentPolicyBasedService(CaseInsensitiveEnum):
    NONE = "None"
    ALL = "All"
    ALLOW_RULES_ONLY = "AllowRulesOnly"


class ScopeAccess(CaseInsensitiveEnum):
    """``ConfigurationType``: what a manager may deploy."""

    SECURITY_ADMIN = "SecurityAdmin"
    CONNECTIVITY = "Connectivity"
    SECURITY_USER = "SecurityUser"
    ROUTING = "Routing"


class DeploymentState(CaseInsensitiveEnum):
    NOT_STARTED = "NotStarted"
    DEPLOYING = "Deploying"
    DEPLOYED = "Deployed"
    FAILED = "Failed"


#: ``deploymentType`` values that mean security admin configurations (the REST examples also say ``AdminPolicy``).
SECURITY_ADMIN_DEPLOYMENT_TYPES = frozenset({"securityadmin", "adminpolicy"})


def _parent(resource_id: str, levels: int = 1) -> str:
    """The id ``levels`` child steps up (each step drops a ``/{type}/{name}`` pair)."""
    out = resource_id
    for _ in range(levels):
        out = parent_id(out)
    return out


@dataclass(frozen=True, slots=True)
class NetworkManager(Resource):
    """``Microsoft.Network/networkManagers``: its scope (subscription ids ``/subscriptions/{s}`` and management group
    ids ``/providers/Microsoft.Management/managementGroups/{mg}``, as ARM writes them) and scope accesses."""

    description: str | None = None
    scope_subscriptions: tuple[str, ...] = ()
    scope_management_groups: tuple[str, ...] = ()
    scope_accesses: tuple[ScopeAccess, ...] = ()
    resource_guid: str | None = None

    @property
    def has_management_group_scope(self) -> bool:
        """Scoped at management-group level (evaluated before subscription-scoped managers, semantics §11.6)."""
        return bool(self.scope_management_groups)


@dataclass(frozen=True, slots=True)
class NetworkGroup(Resource):
    """``…/networkManagers/{nm}/networkGroups/{g}``. ``member_type`` None: not given (ARM treats it as VNets)."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    description: str | None = None
    member_type: GroupMemberType | None = None
    resource_guid: str | None = None

    @property
    def network_manager_id(self) -> str:
        return _parent(self.id)

    @property
    def effective_member_type(self) -> GroupMemberType:
        return self.member_type or GroupMemberType.VIRTUAL_NETWORK


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticMember(Resource):
    """``…/networkGroups/{g}/staticMembers/{m}``: one VNet or subnet id (``resource_id``) in the group."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    resource_id: str
    region: str | None = None

    @property
    def network_group_id(self) -> str:
        return _parent(self.id)

    @property
    def network_manager_id(self) -> str:
        return _parent(self.id, 2)


@dataclass(frozen=True, slots=True)
class SecurityAdminConfiguration(Resource):
    """``…/networkManagers/{nm}/securityAdminConfigurations/{c}``; ``resource_guid`` is the VNet flow log ``aclID``."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    description: str | None = None
    apply_on_network_intent_policy_based_services: tuple[NetworkIntentPolicyBasedService, ...] = ()
    network_group_address_space_aggregation_option: str | None = None
    resource_guid: str | None = None

    @property
    def network_manager_id(self) -> str:
        return _parent(self.id)

    @property
    def network_intent_policy_mode(self) -> NetworkIntentPolicyBasedService:
        """What applies in VNets with network-intent-policy services (semantics §11.2): ``All`` wins over
        ``AllowRulesOnly``, which wins over ``None`` (also the meaning of an empty list)."""
        given = set(self.apply_on_network_intent_policy_based_services)
        for mode in (NetworkIntentPolicyBasedService.ALL, NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY):
            if mode in given:
                return mode
        return NetworkIntentPolicyBasedService.NONE


@dataclass(frozen=True, slots=True)
class AdminRuleCollection(Resource):
    """``…/securityAdminConfigurations/{c}/ruleCollections/{rc}``; ``applies_to_groups`` are network group ids."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    applies_to_groups: tuple[str, ...] = ()
    description: str | None = None
    resource_guid: str | None = None

    @property
    def configuration_id(self) -> str:
        return _parent(self.id)

    @property
    def network_manager_id(self) -> str:
        return _parent(self.id, 2)


@dataclass(frozen=True, slots=True)
class AddressPrefixItem:
    """One entry of an admin rule's ``sources``/``destinations``: a prefix or ``*``, a service tag, or a group id."""

    address_prefix: str
    address_prefix_type: AddressPrefixType


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminRule(Resource):
    """``…/ruleCollections/{rc}/rules/{r}`` with every ARM property. ``kind`` Default rules carry a ``flag``.
    Empty port lists mean every port (semantics §11.1)."""

    def __hash__(self) -> int:  # tags (a dict) are not hashable; equal values have equal ids
        return hash(self.id)

    priority: int
    direction: Direction
    access: AdminAccess
    protocol: AdminProtocol
    kind: AdminRuleKind = AdminRuleKind.CUSTOM
    sources: tuple[AddressPrefixItem, ...] = ()
    destinations: tuple[AddressPrefixItem, ...] = ()
    source_port_ranges: tuple[str, ...] = ()
    destination_port_ranges: tuple[str, ...] = ()
    description: str | None = None
    flag: str | None = None
    resource_guid: str | None = None

    @property
    def rule_collection_id(self) -> str:
        return _parent(self.id)

    @property
    def configuration_id(self) -> str:
        return _parent(self.id, 2)

    @property
    def network_manager_id(self) -> str:
        return _parent(self.id, 3)

    @property
    def verify_name(self) -> str:
        """Name as IP flow verify reports an admin-rule decision (semantics §11.6)."""
        return f"securityAdminRules/{self.name}"

    @property
    def log_name(self) -> str:
        """Name as NSG diagnostics and VNet flow logs report it: the plain rule name (semantics §11.4)."""
        return self.name

    @property
    def is_default(self) -> bool:
        """Always False: an AVNM ``Default`` rule is the manager's, not one of an NSG's six default rules
        (``kind`` tells the two AVNM kinds apart)."""
        return False


@dataclass(frozen=True, slots=True)
class DeploymentStatus:
    """One entry of ``listDeploymentStatus`` / ``az network manager list-deploy-status``. ``configuration_ids`` are
    as given (ids, or names in some answers); ``network_manager_id`` is set when the source says which manager."""

    region: str
    deployment_status: DeploymentState
    configuration_ids: tuple[str, ...] = ()
    deployment_type: str = "SecurityAdmin"
    commit_time: datetime | None = None
    error_message: str | None = None
    network_manager_id: str | None = None

    @property
    def is_security_admin(self) -> bool:
        return self.deployment_type.strip().casefold() in SECURITY_ADMIN_DEPLOYMENT_TYPES


@dataclass(frozen=True, slots=True)
class ManagementGroup:
    """A management group of ``az account management-group show --expand --recurse``: its parent and its direct
    children (management group ids, and subscription ids written ``/subscriptions/{s}``)."""

    id: str
    name: str
    display_name: str | None = None
    parent_id: str | None = None
    child_groups: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return id_key(self.id)


@dataclass(frozen=True, slots=True)
class EffectiveAdminRule:
    """One entry of a VNet's ``listNetworkManagerEffectiveSecurityAdminRules`` answer: the rule (its id names its
    manager, configuration and collection) with the descriptions and groups the answer carries."""

    rule: AdminRule
    configuration_description: str | None = None
    rule_collection_description: str | None = None
    rule_collection_applies_to_groups: tuple[str, ...] = ()
    rule_groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VnetEffectiveAdminRules:
    """A VNet's effective admin rules answer (semantics §11.5 shape 2): the rules in force on ``virtual_network_id``,
    which replace what the manager resources would compute for that VNet."""

    virtual_network_id: str
    rules: tuple[EffectiveAdminRule, ...] = ()

    @property
    def key(self) -> str:
        return id_key(self.virtual_network_id)


__all__ = [
    "SECURITY_ADMIN_DEPLOYMENT_TYPES",
    "AddressPrefixItem",
    "AddressPrefixType",
    "AdminAccess",
    "AdminProtocol",
    "AdminRule",
    "AdminRuleCollection",
    "AdminRuleKind",
    "DeploymentState",
    "DeploymentStatus",
    "EffectiveAdminRule",
    "GroupMemberType",
    "ManagementGroup",
    "NetworkGroup",
    "NetworkIntentPolicyBasedService",
    "NetworkManager",
    "ScopeAccess",
    "SecurityAdminConfiguration",
    "StaticMember",
    "VnetEffectiveAdminRules",
]
