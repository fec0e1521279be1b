"""ARM's linked-access check: what a request names outside the resource it acts on is authorised against the
caller's token.

A write may reference resources of other subscriptions (a NIC in another subscription's subnet, a peering to a
remote VNet): ARM allows it only when the caller may act on the referenced scope too, and otherwise answers 403
``LinkedAuthorizationFailed`` before looking at the referenced resource, so the answer is the same whether or not it
exists. Network Watcher's diagnostics read their target the same way.

Which fields carry references is one table, ``REFERENCE_FIELDS`` (model type -> attribute paths): a new resource
kind plugs in with one line there, and ``tests/api/test_isolation.py`` fails until every id-holding field of every
model type is either listed or declared not to be a reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from opennsg.api.auth import ALL_SUBSCRIPTIONS
from opennsg.api.errors import ApiError
from opennsg.model.avnm import AdminRule, AdminRuleCollection, NetworkManager, StaticMember
from opennsg.model.errors import ArmError
from opennsg.model.flowlog import FlowLog
from opennsg.model.ids import id_key, subscription_of
from opennsg.model.loadbalancer import LoadBalancer
from opennsg.model.resources import (
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PublicIpAddress,
    SecurityRule,
    Subnet,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.validation import Code

LINKED_AUTHORIZATION_FAILED = Code.LINKED_AUTHORIZATION_FAILED


@dataclass(frozen=True, slots=True)
class Caller:
    """The subscriptions the request's token grants (case-folded; ``*`` for all)."""

    subscriptions: frozenset[str]

    @classmethod
    def anyone(cls) -> Caller:
        """The operator (``serve --import``): every subscription."""
        return cls(frozenset({ALL_SUBSCRIPTIONS}))

    def can_read(self, resource_id: str) -> bool:
        """Whether the caller may act on the subscription ``resource_id`` lies in. An id naming no subscription
        cannot match any stored resource (stored ids all start with one), so it needs no grant: the model's
        validation reports it as a reference to nothing."""
        subscription = subscription_of(id_key(resource_id))
        if subscription is None:
            return True
        return ALL_SUBSCRIPTIONS in self.subscriptions or subscription in self.subscriptions


@dataclass(frozen=True, slots=True)
class ReferenceField:
    """One reference-carrying field of a model type.

    ``path`` walks attributes from the model: ``ip_configurations[].subnet`` is the ``subnet`` of every IP
    configuration; a trailing ``[]`` means the attribute holds several ids. ``action`` is the permission ARM checks
    on the referenced scope (it is named in the refusal)."""

    path: str
    action: str


def _fields(*pairs: tuple[str, str]) -> tuple[ReferenceField, ...]:
    return tuple(ReferenceField(path, action) for path, action in pairs)


_NSG_JOIN = "Microsoft.Network/networkSecurityGroups/join/action"
_SUBNET_JOIN = "Microsoft.Network/virtualNetworks/subnets/join/action"
_ROUTE_TABLE_JOIN = "Microsoft.Network/routeTables/join/action"
_ASG_JOIN_IP_CONFIGURATION = "Microsoft.Network/applicationSecurityGroups/joinIpConfiguration/action"
_ASG_JOIN_RULE = "Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action"
_PUBLIC_IP_JOIN = "Microsoft.Network/publicIPAddresses/join/action"
_NIC_JOIN = "Microsoft.Network/networkInterfaces/join/action"
_PEER = "Microsoft.Network/virtualNetworks/peer/action"
_BACKEND_POOL_JOIN = "Microsoft.Network/loadBalancers/backendAddressPools/join/action"
_INBOUND_NAT_RULE_JOIN = "Microsoft.Network/loadBalancers/inboundNatRules/join/action"
_VM_READ = "Microsoft.Compute/virtualMachines/read"
_NIC_READ = "Microsoft.Network/networkInterfaces/read"

_RULE_FIELDS = (("source_asgs[]", _ASG_JOIN_RULE), ("destination_asgs[]", _ASG_JOIN_RULE))
_NAT_GATEWAY_JOIN = "Microsoft.Network/natGateways/join/action"
_PUBLIC_IP_PREFIX_JOIN = "Microsoft.Network/publicIPPrefixes/join/action"
_PRIVATE_ENDPOINT_READ = "Microsoft.Network/privateEndpoints/read"
_PRIVATE_LINK_SERVICE_READ = "Microsoft.Network/privateLinkServices/read"
_APPLICATION_GATEWAY_READ = "Microsoft.Network/applicationGateways/read"
_SUBNET_READ = "Microsoft.Network/virtualNetworks/subnets/read"
_VNET_JOIN = "Microsoft.Network/virtualNetworks/join/action"
_NETWORK_GROUP_JOIN = "Microsoft.Network/networkManagers/networkGroups/join/action"
_SUBSCRIPTION_READ = "Microsoft.Resources/subscriptions/read"
_SERVICE_ENDPOINT_POLICY_JOIN = "Microsoft.Network/serviceEndpointPolicies/join/action"
_GATEWAY_LOAD_BALANCER_JOIN = "Microsoft.Network/loadBalancers/frontendIPConfigurations/join/action"
#: What Network Watcher checks on a flow log's target (a NSG, VNet, subnet or NIC, all read the same way) and on the
#: storage account it writes to.
FLOW_LOG_TARGET_READ = "Microsoft.Network/*/read"
_STORAGE_ACCOUNT_SAS = "Microsoft.Storage/storageAccounts/listServiceSas/action"
#: Traffic analytics writes to a Log Analytics workspace with its shared keys.
_WORKSPACE_SHARED_KEYS = "Microsoft.OperationalInsights/workspaces/sharedKeys/action"
_SUBNET_FIELDS = (
    ("network_security_group", _NSG_JOIN),
    ("route_table", _ROUTE_TABLE_JOIN),
    ("nat_gateway", _NAT_GATEWAY_JOIN),
    ("application_gateway_ip_configurations[]", _APPLICATION_GATEWAY_READ),
    ("service_endpoint_policies[]", _SERVICE_ENDPOINT_POLICY_JOIN),
    ("service_endpoints[].network_identifier", _PUBLIC_IP_JOIN),
)

#: Every reference a write can carry, per model type (top-level resources and the children PUT on their own).
REFERENCE_FIELDS: dict[type, tuple[ReferenceField, ...]] = {
    NetworkSecurityGroup: _fields(*((f"security_rules[].{p}", a) for p, a in _RULE_FIELDS)),
    SecurityRule: _fields(*_RULE_FIELDS),
    VirtualNetwork: _fields(
        *((f"subnets[].{p}", a) for p, a in _SUBNET_FIELDS), ("peerings[].remote_virtual_network", _PEER)
    ),
    Subnet: _fields(*_SUBNET_FIELDS),
    VirtualNetworkPeering: _fields(("remote_virtual_network", _PEER)),
    NetworkInterface: _fields(
        ("network_security_group", _NSG_JOIN),
        ("virtual_machine", _VM_READ),
        ("ip_configurations[].subnet", _SUBNET_JOIN),
        ("ip_configurations[].application_security_groups[]", _ASG_JOIN_IP_CONFIGURATION),
        ("ip_configurations[].public_ip_address", _PUBLIC_IP_JOIN),
        ("ip_configurations[].load_balancer_backend_address_pools[]", _BACKEND_POOL_JOIN),
        ("ip_configurations[].load_balancer_inbound_nat_rules[]", _INBOUND_NAT_RULE_JOIN),
        ("ip_configurations[].gateway_load_balancer", _GATEWAY_LOAD_BALANCER_JOIN),
        ("private_endpoint", _PRIVATE_ENDPOINT_READ),
    ),
    VirtualMachine: _fields(("network_interfaces[]", _NIC_JOIN), ("primary_network_interface", _NIC_JOIN)),
    PublicIpAddress: _fields(("ip_configuration", _NIC_READ), ("nat_gateway", _NAT_GATEWAY_JOIN)),
    PrivateEndpoint: _fields(
        ("subnet", _SUBNET_JOIN),
        ("network_interfaces[]", _NIC_READ),
        ("application_security_groups[]", _ASG_JOIN_IP_CONFIGURATION),
        ("connections[].private_link_service_id", _PRIVATE_LINK_SERVICE_READ),
    ),
    # AVNM (semantics §11.1): a scope, a member, the groups a collection applies to, and group-typed rule addresses
    # (an IP prefix or tag there names no subscription, so it needs no grant)
    NetworkManager: _fields(("scope_subscriptions[]", _SUBSCRIPTION_READ)),
    StaticMember: _fields(("resource_id", _VNET_JOIN)),
    AdminRuleCollection: _fields(("applies_to_groups[]", _NETWORK_GROUP_JOIN)),
    AdminRule: _fields(
        ("sources[].address_prefix", _NETWORK_GROUP_JOIN), ("destinations[].address_prefix", _NETWORK_GROUP_JOIN)
    ),
    LoadBalancer: _fields(
        ("frontend_ip_configurations[].public_ip_address", _PUBLIC_IP_JOIN),
        ("frontend_ip_configurations[].subnet", _SUBNET_JOIN),
    ),
    FlowLog: _fields(
        ("target_resource_id", FLOW_LOG_TARGET_READ),
        ("storage_id", _STORAGE_ACCOUNT_SAS),
        ("workspace_resource_id", _WORKSPACE_SHARED_KEYS),
    ),
    NatGateway: _fields(
        ("public_ip_addresses[]", _PUBLIC_IP_JOIN),
        ("public_ip_prefixes[]", _PUBLIC_IP_PREFIX_JOIN),
        ("subnets[]", _SUBNET_READ),
    ),
}


def _walk(value: Any, steps: list[str]) -> Iterator[str]:
    if value is None:
        return
    if not steps:
        if isinstance(value, str):
            yield value
        return
    step, rest = steps[0], steps[1:]
    many = step.endswith("[]")
    attribute = getattr(value, step.removesuffix("[]"))
    for item in attribute if many else (attribute,):
        yield from _walk(item, rest)


def references_of(model: Any) -> Iterator[tuple[ReferenceField, str]]:
    """Every (field, referenced id) the model carries, per ``REFERENCE_FIELDS``."""
    for field in REFERENCE_FIELDS.get(type(model), ()):
        for referenced in _walk(model, field.path.split(".")):
            if referenced.strip():
                yield field, referenced


def authorize_references(caller: Caller, model: Any, before: Any, write_action: str, scope: str) -> None:
    """Refuse (403 ``LinkedAuthorizationFailed``) a write whose ``model`` references a subscription the caller may
    not read. References the resource already had (``before``) were authorised when they were written."""
    kept = {id_key(referenced) for _, referenced in references_of(before)} if before is not None else set()
    refused = [
        (field, referenced)
        for field, referenced in references_of(model)
        if id_key(referenced) not in kept and not caller.can_read(referenced)
    ]
    if refused:
        raise linked_failure(write_action, scope, refused)


def authorize_target(caller: Caller, target: str, action: str, scope: str, linked_action: str) -> None:
    """Refuse a diagnostic whose target lies in a subscription the caller may not read (before any lookup)."""
    if not caller.can_read(target):
        raise linked_failure(action, scope, [(ReferenceField("target", linked_action), target)])


def _camel(path: str) -> str:
    """``ip_configurations[].subnet`` as the JSON names it: ``ipConfigurations[].subnet``."""
    head, *rest = path.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def linked_failure(action: str, scope: str, refused: Iterable[tuple[ReferenceField, str]]) -> ApiError:
    """ARM's refusal, naming only what the caller sent (nothing about the referenced resources)."""
    items = list(refused)
    actions = ",".join(dict.fromkeys(field.action for field, _ in items))
    scopes = ",".join(dict.fromkeys(referenced for _, referenced in items))
    message = (
        f"The client has permission to perform action '{action}' on scope '{scope}'; however, it does not have "
        f"permission to perform action(s) '{actions}' on the linked scope(s) '{scopes}' or the linked scope(s) "
        "are invalid."
    )
    details = [
        ArmError(
            LINKED_AUTHORIZATION_FAILED,
            f"No permission to perform action '{field.action}' on the linked scope '{referenced}'.",
            _camel(field.path),
        )
        for field, referenced in items
    ]
    return ApiError(403, LINKED_AUTHORIZATION_FAILED, message, details if len(details) > 1 else ())
