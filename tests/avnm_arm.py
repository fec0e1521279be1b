"""The AVNM estate of the import tests as ARM JSON: ``az … -o json`` outputs (flattened as az prints them) of a
network manager, its groups, members, configuration, rule collection and rules, deployment status, and the spoke
VNet with its NSG, private endpoint and NAT gateway. Shared by the import and the validation tests."""

from __future__ import annotations

from typing import Any

SUB = "3f2c1a9e-0000-4000-8000-00000000a001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-hub"
NET = f"{RG}/providers/Microsoft.Network"
NM = f"{NET}/networkManagers/nm-corp"
GROUP = f"{NM}/networkGroups/spokes"
CONFIG = f"{NM}/securityAdminConfigurations/baseline"
COLLECTION = f"{CONFIG}/ruleCollections/guardrails"
VNET = f"{NET}/virtualNetworks/vnet-spoke1"
SUBNET = f"{VNET}/subnets/workload"
PE_SUBNET = f"{VNET}/subnets/endpoints"
NSG = f"{NET}/networkSecurityGroups/nsg-spoke1"
NAT = f"{NET}/natGateways/nat-spoke1"
PE = f"{NET}/privateEndpoints/pe-storage"
PE_NIC = f"{NET}/networkInterfaces/pe-storage.nic.0f1e"
PIP = f"{NET}/publicIPAddresses/pip-nat"
STORAGE_ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stcorp"


# --- az -o json outputs, flattened as az prints them ---------------------------------------------------


def az_manager() -> dict[str, Any]:
    return {
        "description": "Corporate guardrails",
        "etag": 'W/"1"',
        "id": NM,
        "location": "westeurope",
        "name": "nm-corp",
        "networkManagerScopeAccesses": ["SecurityAdmin", "Connectivity"],
        "networkManagerScopes": {
            "crossTenantScopes": [],
            "managementGroups": ["/providers/Microsoft.Management/managementGroups/mg-platform"],
            "subscriptions": [f"/subscriptions/{SUB}"],
        },
        "provisioningState": "Succeeded",
        "resourceGroup": "rg-hub",
        "resourceGuid": "aaaaaaaa-0000-4000-8000-000000000001",
        "tags": {"owner": "netops"},
        "type": "Microsoft.Network/networkManagers",
    }


def az_groups() -> list[dict[str, Any]]:
    return [
        {
            "description": "All spoke VNets",
            "id": GROUP,
            "memberType": "VirtualNetwork",
            "name": "spokes",
            "provisioningState": "Succeeded",
            "resourceGroup": "rg-hub",
            "type": "Microsoft.Network/networkManagers/networkGroups",
        },
        {
            "id": f"{NM}/networkGroups/workload-subnets",
            "memberType": "Subnet",
            "name": "workload-subnets",
            "resourceGroup": "rg-hub",
            "type": "Microsoft.Network/networkManagers/networkGroups",
        },
    ]


def az_members() -> list[dict[str, Any]]:
    return [
        {
            "id": f"{GROUP}/staticMembers/vnet-spoke1",
            "name": "vnet-spoke1",
            "region": "westeurope",
            "resourceGroup": "rg-hub",
            "resourceId": VNET,
            "type": "Microsoft.Network/networkManagers/networkGroups/staticMembers",
        },
        {
            "id": f"{NM}/networkGroups/workload-subnets/staticMembers/workload",
            "name": "workload",
            "resourceId": SUBNET,
            "type": "Microsoft.Network/networkManagers/networkGroups/staticMembers",
        },
    ]


def az_configuration() -> dict[str, Any]:
    return {
        "applyOnNetworkIntentPolicyBasedServices": ["AllowRulesOnly"],
        "description": "Baseline",
        "id": CONFIG,
        "name": "baseline",
        "networkGroupAddressSpaceAggregationOption": "None",
        "provisioningState": "Succeeded",
        "resourceGroup": "rg-hub",
        "resourceGuid": "bbbbbbbb-0000-4000-8000-000000000002",
        "type": "Microsoft.Network/networkManagers/securityAdminConfigurations",
    }


def az_collection() -> dict[str, Any]:
    return {
        "appliesToGroups": [{"networkGroupId": GROUP}],
        "description": "Guardrails for every spoke",
        "id": COLLECTION,
        "name": "guardrails",
        "resourceGroup": "rg-hub",
        "type": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections",
    }


def az_rule(name: str, priority: int, access: str = "Deny", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "access": access,
        "description": f"rule {name}",
        "destinationPortRanges": ["22", "3389"],
        "destinations": [{"addressPrefix": "*", "addressPrefixType": "IPPrefix"}],
        "direction": "Inbound",
        "id": f"{COLLECTION}/rules/{name}",
        "kind": "Custom",
        "name": name,
        "priority": priority,
        "protocol": "Tcp",
        "provisioningState": "Succeeded",
        "resourceGroup": "rg-hub",
        "sourcePortRanges": [],
        "sources": [{"addressPrefix": "Internet", "addressPrefixType": "ServiceTag"}],
        "type": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections/rules",
    }
    body.update(extra)
    return body


def az_deploy_status(*regions: str, configuration: str = CONFIG) -> dict[str, Any]:
    return {
        "skipToken": "",
        "value": [
            {
                "commitTime": "2026-11-30T09:12:44.5120000Z",
                "configurationIds": [configuration],
                "deploymentStatus": "Deployed",
                "deploymentType": "SecurityAdmin",
                "errorMessage": "",
                "region": region,
            }
            for region in regions
        ],
    }


def az_vnet(*, nsg_on_pe_subnet: bool = True) -> dict[str, Any]:
    return {
        "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
        "id": VNET,
        "location": "westeurope",
        "name": "vnet-spoke1",
        "resourceGroup": "rg-spoke",
        "subnets": [
            {
                "addressPrefix": "10.1.1.0/24",
                "defaultOutboundAccess": False,
                "delegations": [
                    {
                        "id": f"{SUBNET}/delegations/sqlmi",
                        "name": "sqlmi",
                        "serviceName": "Microsoft.Sql/managedInstances",
                        "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
                    }
                ],
                "id": SUBNET,
                "name": "workload",
                "natGateway": {"id": NAT, "resourceGroup": "rg-spoke"},
                "networkSecurityGroup": {"id": NSG},
                "privateEndpointNetworkPolicies": "NetworkSecurityGroupEnabled",
                "type": "Microsoft.Network/virtualNetworks/subnets",
            },
            {
                "addressPrefix": "10.1.2.0/24",
                "id": PE_SUBNET,
                "name": "endpoints",
                **({"networkSecurityGroup": {"id": NSG}} if nsg_on_pe_subnet else {}),
                "privateEndpointNetworkPolicies": "Disabled",
                "type": "Microsoft.Network/virtualNetworks/subnets",
            },
        ],
        "type": "Microsoft.Network/virtualNetworks",
    }


def az_nsg() -> dict[str, Any]:
    return {"id": NSG, "location": "westeurope", "name": "nsg-spoke1", "securityRules": [], "type": NSG_TYPE}


NSG_TYPE = "Microsoft.Network/networkSecurityGroups"


def az_private_endpoint() -> dict[str, Any]:
    return {
        "customDnsConfigs": [{"fqdn": "stcorp.blob.core.windows.net", "ipAddresses": ["10.1.2.4"]}],
        "id": PE,
        "ipConfigurations": [],
        "location": "westeurope",
        "name": "pe-storage",
        "networkInterfaces": [{"id": PE_NIC, "resourceGroup": "rg-spoke"}],
        "privateLinkServiceConnections": [
            {
                "groupIds": ["blob"],
                "id": f"{PE}/privateLinkServiceConnections/blob",
                "name": "blob",
                "privateLinkServiceId": STORAGE_ACCOUNT,
            }
        ],
        "subnet": {"id": PE_SUBNET},
        "type": "Microsoft.Network/privateEndpoints",
    }


def az_pe_nic(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": PE_NIC,
        "ipConfigurations": [
            {
                "id": f"{PE_NIC}/ipConfigurations/privateEndpointIpConfig.blob",
                "name": "privateEndpointIpConfig.blob",
                "primary": True,
                "privateIPAddress": "10.1.2.4",
                "subnet": {"id": PE_SUBNET},
            }
        ],
        "location": "westeurope",
        "name": "pe-storage.nic.0f1e",
        "privateEndpoint": {"id": PE},
        "type": "Microsoft.Network/networkInterfaces",
    }
    body.update(extra)
    return body


def az_nat_and_ip() -> list[dict[str, Any]]:
    return [
        {
            "id": NAT,
            "idleTimeoutInMinutes": 4,
            "location": "westeurope",
            "name": "nat-spoke1",
            "publicIpAddresses": [{"id": PIP}],
            "sku": {"name": "Standard"},
            "subnets": [{"id": SUBNET}],
            "type": "Microsoft.Network/natGateways",
        },
        {
            "id": PIP,
            "ipAddress": "20.50.1.7",
            "location": "westeurope",
            "name": "pip-nat",
            "natGateway": {"id": NAT},
            "publicIPAddressVersion": "IPv4",
            "sku": {"name": "Standard", "tier": "Regional"},
            "type": "Microsoft.Network/publicIPAddresses",
        },
    ]


def az_management_group_tree() -> dict[str, Any]:
    """``az account management-group show --name mg-root --expand --recurse -o json``."""
    return {
        "children": [
            {
                "children": [
                    {
                        "children": None,
                        "displayName": "Landing zone A",
                        "id": "/subscriptions/3f2c1a9e-0000-4000-8000-00000000b002",
                        "name": "3f2c1a9e-0000-4000-8000-00000000b002",
                        "type": "Microsoft.Management/managementGroups/subscriptions",
                    }
                ],
                "displayName": "Platform",
                "id": "/providers/Microsoft.Management/managementGroups/mg-platform",
                "name": "mg-platform",
                "type": "Microsoft.Management/managementGroups",
            },
            {
                "children": None,
                "displayName": "Sandbox",
                "id": "/subscriptions/3f2c1a9e-0000-4000-8000-00000000c003",
                "name": "3f2c1a9e-0000-4000-8000-00000000c003",
                "type": "/subscriptions",
            },
        ],
        "details": {
            "parent": {
                "displayName": "Tenant Root Group",
                "id": "/providers/Microsoft.Management/managementGroups/tenant-root",
                "name": "tenant-root",
            },
            "updatedBy": "00000000-0000-0000-0000-000000000000",
            "updatedTime": "2026-01-05T10:00:00Z",
            "version": 3,
        },
        "displayName": "Corp root",
        "id": "/providers/Microsoft.Management/managementGroups/mg-root",
        "name": "mg-root",
        "tenantId": "11111111-0000-4000-8000-000000000000",
        "type": "Microsoft.Management/managementGroups",
    }
