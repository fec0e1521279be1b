"""One resource's ARM JSON -> model value, in either shape users have.

Accepts the wrapped ARM shape (``{"id", "name", "properties": {...}}``) and the flattened shape of
``az ... -o json`` (properties at the top level, camelCase of the SDK names such as ``privateIpAddress``);
property names match case-insensitively. Every problem is collected, never only the first.

The readers live by concern (``reader``: the shared reader; ``kinds``; ``nsg``; ``network``; ``interfaces``;
``loadbalancer``; ``avnm``; ``flowlog``; ``subscription``); this module is the one table of them and the entry point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from opennsg.arm.parse.avnm import (
    parse_admin_rule,
    parse_network_group,
    parse_network_manager,
    parse_rule_collection,
    parse_security_admin_configuration,
    parse_static_member,
)
from opennsg.arm.parse.flowlog import parse_flow_log
from opennsg.arm.parse.interfaces import parse_nic, parse_private_endpoint, parse_vm
from opennsg.arm.parse.kinds import (
    AVNM_KINDS,
    IP_CONFIGURATION_TYPE,
    KIND_TYPES,
    canonical_kind,
    kind_of_id,
    kind_of_type,
    parent_id,
)
from opennsg.arm.parse.loadbalancer import parse_load_balancer
from opennsg.arm.parse.network import (
    GATEWAY_PREFIXES_PROPERTY,
    parse_nat_gateway,
    parse_peering,
    parse_public_ip,
    parse_route,
    parse_route_table,
    parse_subnet,
    parse_vnet,
)
from opennsg.arm.parse.nsg import check_default_rule, parse_asg, parse_nsg, parse_rule
from opennsg.arm.parse.reader import Child, Reader, Tracked, properties_of
from opennsg.arm.parse.subscription import is_subscription, parse_subscription
from opennsg.model.avnm import (
    AdminRule,
    AdminRuleCollection,
    NetworkGroup,
    NetworkManager,
    SecurityAdminConfiguration,
    StaticMember,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import FlowLog
from opennsg.model.loadbalancer import LoadBalancer
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PublicIpAddress,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.validation import Code, Message

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


__all__ = [
    "AVNM_KINDS",
    "GATEWAY_PREFIXES_PROPERTY",
    "IP_CONFIGURATION_TYPE",
    "KIND_TYPES",
    "PARSERS",
    "ArmResource",
    "Child",
    "Reader",
    "Tracked",
    "canonical_kind",
    "check_default_rule",
    "is_subscription",
    "kind_of_id",
    "kind_of_type",
    "parent_id",
    "parse_admin_rule",
    "parse_flow_log",
    "parse_resource",
    "parse_subscription",
    "properties_of",
]
