"""ARM resource kinds OpenNSG models: collection names, full types, and the parent of a child's id."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from opennsg.model.flowlog import FLOW_LOG_TYPE
from opennsg.model.ids import ResourceId

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


def kind_of_type(resource_type: str) -> str | None:
    """The collection name of a full ARM type (case-insensitive), None for types OpenNSG does not model."""
    return _KIND_BY_FOLDED_TYPE.get(resource_type.strip().casefold())


def kind_of_id(resource_id: str) -> str | None:
    parsed = ResourceId.parse(resource_id)
    return kind_of_type(parsed.type) if parsed and parsed.namespace else None


def canonical_kind(kind: str) -> str | None:
    return _KIND_BY_FOLDED_NAME.get(kind.strip().casefold())


def parent_id(child_id: str) -> str:
    """The id of a child resource's parent (``.../nsg1/securityRules/r1`` -> ``.../nsg1``); a child id that does not
    parse as an ARM id has no parent to find and is returned as it is (the lookup of that parent then fails)."""
    parsed = ResourceId.parse(child_id)
    parent = parsed.parent if parsed else None
    return str(parent) if parent else child_id.strip()
