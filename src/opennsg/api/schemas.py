"""OpenAPI request-body schemas (documentation, and what the fuzz tests generate from). Bodies are parsed by
``opennsg.arm``, not by these schemas, so they stay loose where ARM is loose."""

from __future__ import annotations

from typing import Any

_REF = {"type": "object", "properties": {"id": {"type": "string"}}}
_STRINGS = {"type": "array", "items": {"type": "string"}}

SECURITY_RULE_PROPERTIES: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "protocol": {"type": "string", "enum": ["Tcp", "Udp", "Icmp", "Esp", "*", "Ah"]},
        "sourcePortRange": {"type": "string"},
        "sourcePortRanges": _STRINGS,
        "destinationPortRange": {"type": "string"},
        "destinationPortRanges": _STRINGS,
        "sourceAddressPrefix": {"type": "string"},
        "sourceAddressPrefixes": _STRINGS,
        "sourceApplicationSecurityGroups": {"type": "array", "items": _REF},
        "destinationAddressPrefix": {"type": "string"},
        "destinationAddressPrefixes": _STRINGS,
        "destinationApplicationSecurityGroups": {"type": "array", "items": _REF},
        "access": {"type": "string", "enum": ["Allow", "Deny"]},
        "priority": {"type": "integer"},
        "direction": {"type": "string", "enum": ["Inbound", "Outbound"]},
    },
}
SECURITY_RULE = {"type": "object", "properties": {"name": {"type": "string"}, "properties": SECURITY_RULE_PROPERTIES}}


def _resource(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "properties": {"type": "object", "properties": properties},
        },
    }


def _child(properties: dict[str, Any]) -> dict[str, Any]:
    """A child resource's body: only ``properties`` (no location, no tags)."""
    return {"type": "object", "properties": {"properties": {"type": "object", "properties": properties}}}


_ADDRESS_ITEM = {
    "type": "object",
    "properties": {
        "addressPrefix": {"type": "string"},
        "addressPrefixType": {"type": "string", "enum": ["IPPrefix", "ServiceTag", "NetworkGroup"]},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "group": {
        "type": "object",
        "properties": {"location": {"type": "string"}, "tags": {"type": "object"}},
    },
    "tags": {"type": "object", "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "networkSecurityGroups": _resource(
        {"flushConnection": {"type": "boolean"}, "securityRules": {"type": "array", "items": SECURITY_RULE}}
    ),
    "securityRules": {"type": "object", "properties": {"properties": SECURITY_RULE_PROPERTIES}},
    "applicationSecurityGroups": _resource({}),
    "virtualNetworks": _resource(
        {
            "addressSpace": {"type": "object", "properties": {"addressPrefixes": _STRINGS}},
            "subnets": {"type": "array", "items": {"type": "object"}},
            "virtualNetworkPeerings": {"type": "array", "items": {"type": "object"}},
        }
    ),
    "subnets": {
        "type": "object",
        "properties": {
            "properties": {
                "type": "object",
                "properties": {
                    "addressPrefix": {"type": "string"},
                    "addressPrefixes": _STRINGS,
                    "networkSecurityGroup": _REF,
                    "routeTable": _REF,
                    "natGateway": _REF,
                    "privateEndpointNetworkPolicies": {
                        "type": "string",
                        "enum": ["Enabled", "Disabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"],
                    },
                    "defaultOutboundAccess": {"type": "boolean"},
                },
            }
        },
    },
    "virtualNetworkPeerings": {
        "type": "object",
        "properties": {
            "properties": {
                "type": "object",
                "properties": {"remoteVirtualNetwork": _REF, "allowVirtualNetworkAccess": {"type": "boolean"}},
            }
        },
    },
    "networkInterfaces": _resource(
        {"ipConfigurations": {"type": "array", "items": {"type": "object"}}, "networkSecurityGroup": _REF}
    ),
    "routeTables": _resource({"routes": {"type": "array", "items": {"type": "object"}}}),
    "routes": {
        "type": "object",
        "properties": {
            "properties": {
                "type": "object",
                "properties": {
                    "addressPrefix": {"type": "string"},
                    "nextHopType": {"type": "string"},
                    "nextHopIpAddress": {"type": "string"},
                },
            }
        },
    },
    "publicIPAddresses": _resource({"ipAddress": {"type": "string"}}),
    "virtualMachines": _resource(
        {"networkProfile": {"type": "object", "properties": {"networkInterfaces": {"type": "array", "items": _REF}}}}
    ),
    "privateEndpoints": _resource(
        {
            "subnet": _REF,
            "applicationSecurityGroups": {"type": "array", "items": _REF},
            "ipConfigurations": {"type": "array", "items": {"type": "object"}},
            "privateLinkServiceConnections": {"type": "array", "items": {"type": "object"}},
            "manualPrivateLinkServiceConnections": {"type": "array", "items": {"type": "object"}},
            "customNetworkInterfaceName": {"type": "string"},
        }
    ),
    "natGateways": _resource(
        {
            "idleTimeoutInMinutes": {"type": "integer"},
            "publicIpAddresses": {"type": "array", "items": _REF},
            "publicIpPrefixes": {"type": "array", "items": _REF},
        }
    ),
    "loadBalancers": _resource(
        {
            name: {"type": "array", "items": {"type": "object"}}
            for name in ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules")
        }
    ),
    "networkManagers": _resource(
        {
            "description": {"type": "string"},
            "networkManagerScopes": {
                "type": "object",
                "properties": {"subscriptions": _STRINGS, "managementGroups": _STRINGS},
            },
            "networkManagerScopeAccesses": {
                "type": "array",
                "items": {"type": "string", "enum": ["SecurityAdmin", "Connectivity", "SecurityUser", "Routing"]},
            },
        }
    ),
    "networkGroups": _child(
        {"description": {"type": "string"}, "memberType": {"type": "string", "enum": ["VirtualNetwork", "Subnet"]}}
    ),
    "staticMembers": _child({"resourceId": {"type": "string"}}),
    "securityAdminConfigurations": _child(
        {
            "description": {"type": "string"},
            "applyOnNetworkIntentPolicyBasedServices": {
                "type": "array",
                "items": {"type": "string", "enum": ["None", "All", "AllowRulesOnly"]},
            },
        }
    ),
    "ruleCollections": _child(
        {
            "description": {"type": "string"},
            "appliesToGroups": {
                "type": "array",
                "items": {"type": "object", "properties": {"networkGroupId": {"type": "string"}}},
            },
        }
    ),
    "rules": {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": ["Custom", "Default"]},
            "properties": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "protocol": {"type": "string", "enum": ["Tcp", "Udp", "Icmp", "Esp", "Any", "Ah"]},
                    "sources": {"type": "array", "items": _ADDRESS_ITEM},
                    "destinations": {"type": "array", "items": _ADDRESS_ITEM},
                    "sourcePortRanges": _STRINGS,
                    "destinationPortRanges": _STRINGS,
                    "access": {"type": "string", "enum": ["Allow", "Deny", "AlwaysAllow"]},
                    "priority": {"type": "integer"},
                    "direction": {"type": "string", "enum": ["Inbound", "Outbound"]},
                },
            },
        },
    },
    "flowLogs": _resource(
        {
            "targetResourceId": {"type": "string"},
            "storageId": {"type": "string"},
            "enabled": {"type": "boolean"},
            "enabledFilteringCriteria": {"type": "string"},
            "recordTypes": {"type": "string"},
            "retentionPolicy": {
                "type": "object",
                "properties": {"days": {"type": "integer"}, "enabled": {"type": "boolean"}},
            },
            "format": {
                "type": "object",
                "properties": {"type": {"type": "string", "enum": ["JSON"]}, "version": {"type": "integer"}},
            },
            "flowAnalyticsConfiguration": {"type": "object"},
        }
    ),
    "configureFlowLog": {
        "type": "object",
        "required": ["targetResourceId", "properties"],
        "properties": {
            "targetResourceId": {"type": "string"},
            "properties": {
                "type": "object",
                "required": ["storageId", "enabled"],
                "properties": {
                    "storageId": {"type": "string"},
                    "enabled": {"type": "boolean"},
                    "enabledFilteringCriteria": {"type": "string"},
                    "recordTypes": {"type": "string"},
                    "retentionPolicy": {"type": "object"},
                    "format": {"type": "object"},
                },
            },
            "flowAnalyticsConfiguration": {"type": "object"},
            "identity": {"type": "object"},
        },
    },
    "queryFlowLogStatus": {
        "type": "object",
        "required": ["targetResourceId"],
        "properties": {"targetResourceId": {"type": "string"}},
    },
    "commit": {
        "type": "object",
        "required": ["targetLocations", "commitType"],
        "properties": {
            "targetLocations": _STRINGS,
            "configurationIds": _STRINGS,
            "commitType": {"type": "string", "enum": ["SecurityAdmin", "Connectivity", "Routing"]},
        },
    },
    "ipFlowVerify": {
        "type": "object",
        "required": [
            "targetResourceId",
            "direction",
            "protocol",
            "localPort",
            "remotePort",
            "localIPAddress",
            "remoteIPAddress",
        ],
        "properties": {
            "targetResourceId": {"type": "string"},
            "targetNicResourceId": {"type": "string"},
            "direction": {"type": "string", "enum": ["Inbound", "Outbound"]},
            "protocol": {"type": "string", "enum": ["TCP", "UDP"]},
            "localPort": {"type": "string"},
            "remotePort": {"type": "string"},
            "localIPAddress": {"type": "string"},
            "remoteIPAddress": {"type": "string"},
        },
    },
    "networkConfigurationDiagnostic": {
        "type": "object",
        "required": ["targetResourceId", "profiles"],
        "properties": {
            "targetResourceId": {"type": "string"},
            "verbosityLevel": {"type": "string", "enum": ["Normal", "Minimum", "Full"]},
            "profiles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "direction": {"type": "string"},
                        "protocol": {"type": "string"},
                        "source": {"type": "string"},
                        "destination": {"type": "string"},
                        "destinationPort": {"type": "string"},
                    },
                },
            },
        },
    },
    "securityGroupView": {"type": "object", "properties": {"targetResourceId": {"type": "string"}}},
    "nextHop": {
        "type": "object",
        "required": ["targetResourceId", "sourceIPAddress", "destinationIPAddress"],
        "properties": {
            "targetResourceId": {"type": "string"},
            "targetNicResourceId": {"type": "string"},
            "sourceIPAddress": {"type": "string"},
            "destinationIPAddress": {"type": "string"},
        },
    },
}


def request_body(name: str) -> dict[str, Any]:
    """Keyword arguments for a FastAPI route whose JSON body the handler parses itself."""
    return {
        "openapi_extra": {"requestBody": {"required": True, "content": {"application/json": {"schema": SCHEMAS[name]}}}}
    }
