"""Tenant isolation: nothing of one subscription is visible to, or changeable by, a token of another.

The authorisation matrix: every route x every kind of credential; every reference-carrying field
(``opennsg.api.linked.REFERENCE_FIELDS``) x every foreign subscription (one holding the referenced resource, one
that holds nothing); Network Watcher's diagnostics aimed at another subscription. Each asserts the refusal ARM gives,
that it says the same whether or not the foreign resource exists, that no response carries the other subscription's
data and that no subscription's state changed.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opennsg.api import ServiceConfig, create_app
from opennsg.api.auth import Tokens
from opennsg.api.catalog import MODEL_KINDS
from opennsg.api.linked import REFERENCE_FIELDS
from opennsg.model import resources
from opennsg.model.avnm import AdminRule, AdminRuleCollection, NetworkManager, StaticMember
from opennsg.model.flowlog import FlowLog
from opennsg.model.loadbalancer import LoadBalancer

API = "api-version=2024-05-01"
A = "aaaaaaaa-0000-0000-0000-00000000000a"
B = "bbbbbbbb-0000-0000-0000-00000000000b"
C = "cccccccc-0000-0000-0000-00000000000c"  # a subscription no one has written to
ALL, A_ONLY, B_ONLY, A_AND_B = "token-all", "token-a", "token-b", "token-a-and-b"
TOKENS = Tokens.of({ALL: ["*"], A_ONLY: [A], B_ONLY: [B], A_AND_B: [A.upper(), B]})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rid(sub: str, kind: str, name: str, provider: str = "Microsoft.Network", group: str = "rg1") -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{provider}/{kind}/{name}"


def ids(sub: str) -> dict[str, str]:
    """The ids of the one-of-everything world ``populate`` writes into ``sub``."""
    vnet = rid(sub, "virtualNetworks", "vnet")
    return {
        "asg": rid(sub, "applicationSecurityGroups", "asg"),
        "nsg": rid(sub, "networkSecurityGroups", "nsg"),
        "route_table": rid(sub, "routeTables", "rt"),
        "vnet": vnet,
        "subnet": f"{vnet}/subnets/app",
        "public_ip": rid(sub, "publicIPAddresses", "pip"),
        "nic": rid(sub, "networkInterfaces", "nic"),
        "ip_configuration": rid(sub, "networkInterfaces", "nic") + "/ipConfigurations/ipconfig1",
        "vm": rid(sub, "virtualMachines", "vm", "Microsoft.Compute"),
        "watcher": rid(sub, "networkWatchers", "nw"),
        "pool": rid(sub, "loadBalancers", "lb") + "/backendAddressPools/pool",
        "inbound_nat_rule": rid(sub, "loadBalancers", "lb") + "/inboundNatRules/rdp",
        "nat_gateway": rid(sub, "natGateways", "nat"),
        "private_endpoint": rid(sub, "privateEndpoints", "pe"),
        "public_ip_prefix": rid(sub, "publicIPPrefixes", "prefix"),
        "app_gateway_ip_configuration": rid(sub, "applicationGateways", "agw") + "/gatewayIPConfigurations/gw",
        "private_link_service": rid(sub, "privateLinkServices", "pls"),
        "service_endpoint_policy": rid(sub, "serviceEndpointPolicies", "sep"),
        "gateway_load_balancer": rid(sub, "loadBalancers", "gwlb") + "/frontendIPConfigurations/fe",
        "subscription": f"/subscriptions/{sub}",
        "network_manager": rid(sub, "networkManagers", "nm"),
        "network_group": rid(sub, "networkManagers", "nm") + "/networkGroups/g",
        "rule_collection": rid(sub, "networkManagers", "nm") + "/securityAdminConfigurations/c/ruleCollections/rc",
        "storage_account": rid(sub, "storageAccounts", "st", "Microsoft.Storage"),
        "workspace": rid(sub, "workspaces", "la", "Microsoft.OperationalInsights"),
        "flow_log": rid(sub, "networkWatchers", "nw") + "/flowLogs/fl",
    }


def rule(priority: int = 100, **fields: Any) -> dict[str, Any]:
    properties = {
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "443",
        "access": "Allow",
        "priority": priority,
        "direction": "Inbound",
    }
    properties.update(fields)
    return {k: v for k, v in properties.items() if v is not None}


def vnet_body(subnet: dict[str, Any] | None = None, peerings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "location": "westus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.0.0/24", **(subnet or {})}}],
            "virtualNetworkPeerings": peerings or [],
        },
    }


def load_balancer_body(frontend: dict[str, Any]) -> dict[str, Any]:
    return {
        "location": "westus",
        "sku": {"name": "Standard"},
        "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": frontend}]},
    }


def nic_body(sub: str, configuration: dict[str, Any] | None = None, **properties: Any) -> dict[str, Any]:
    config = {"subnet": {"id": ids(sub)["subnet"]}, **(configuration or {})}
    return {
        "location": "westus",
        "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": config}], **properties},
    }


def flow_log_body(target: str, storage: str) -> dict[str, Any]:
    return {"location": "westus", "properties": {"targetResourceId": target, "storageId": storage, "enabled": True}}


def populate(client: TestClient, sub: str) -> None:
    """One of everything in ``sub``, written with the all-subscriptions token."""
    own = ids(sub)
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/subscriptions/{sub}/resourceGroups/rg1", {"location": "westus"}),
        (own["asg"], {"location": "westus"}),
        (own["nsg"], {"location": "westus", "properties": {"securityRules": [{"name": "r1", "properties": rule()}]}}),
        (own["route_table"], {"location": "westus", "properties": {"routes": []}}),
        (own["vnet"], vnet_body({"networkSecurityGroup": {"id": own["nsg"]}})),
        (own["public_ip"], {"location": "westus", "properties": {"ipAddress": "52.0.0.1"}}),
        (
            own["nic"],
            nic_body(sub, {"privateIPAddress": "10.0.0.4", "applicationSecurityGroups": [{"id": own["asg"]}]}),
        ),
        (
            own["vm"],
            {"location": "westus", "properties": {"networkProfile": {"networkInterfaces": [{"id": own["nic"]}]}}},
        ),
        (own["watcher"], {"location": "westus"}),
        (
            own["network_manager"],
            {
                "location": "westus",
                "properties": {"networkManagerScopes": {"subscriptions": [f"/subscriptions/{sub}"]}},
            },
        ),
        (own["network_group"], {"properties": {"memberType": "VirtualNetwork"}}),
        (own["network_manager"] + "/securityAdminConfigurations/c", {"properties": {}}),
        (own["rule_collection"], {"properties": {"appliesToGroups": [{"networkGroupId": own["network_group"]}]}}),
        (own["flow_log"], flow_log_body(own["vnet"], own["storage_account"])),
    ]
    for path, body in writes:
        answer = client.put(f"{path}?{API}", json=body, headers=bearer(ALL))
        assert answer.status_code in (200, 201), (path, answer.text)


@pytest.fixture
def world(tmp_path: Any) -> Iterator[TestClient]:
    """Subscriptions A and B, each with one of everything (C holds nothing)."""
    with TestClient(create_app(ServiceConfig(db_url=str(tmp_path / "iso.db"), tokens=TOKENS))) as client:
        populate(client, A)
        populate(client, B)
        yield client


def state(client: TestClient, subscriptions: tuple[str, ...] = (A, B, C)) -> str:
    """Everything stored in these subscriptions (read with the all-subscriptions token), as one comparable text."""
    out: dict[str, Any] = {}
    for sub in subscriptions:
        out[f"{sub}/groups"] = client.get(f"/subscriptions/{sub}/resourcegroups?{API}", headers=bearer(ALL)).json()
        for kind in [k.type for k in MODEL_KINDS] + ["Microsoft.Network/networkWatchers"]:
            if kind.endswith("/networkManagers"):  # their children are listed under each manager
                for child in ("networkGroups", "securityAdminConfigurations"):
                    listed = client.get(f"{rid(sub, 'networkManagers', 'nm')}/{child}?{API}", headers=bearer(ALL))
                    out[f"{sub}/nm/{child}"] = listed.json()
            listed = client.get(f"/subscriptions/{sub}/providers/{kind}?{API}", headers=bearer(ALL))
            out[f"{sub}/{kind}"] = listed.json()
        flow_logs = client.get(f"{rid(sub, 'networkWatchers', 'nw')}/flowLogs?{API}", headers=bearer(ALL))
        out[f"{sub}/nw/flowLogs"] = flow_logs.json()
    return json.dumps(out, sort_keys=True)


# --- every reference-carrying field x every foreign subscription ---------------------------------------------------


@dataclass(frozen=True)
class ReferenceCase:
    """A write by subscription A's token whose body puts ``foreign`` into one reference-carrying field."""

    covers: tuple[tuple[type, str], ...]  # (model type, REFERENCE_FIELDS path)
    target: str  # which of ``ids(...)`` the field refers to
    path: str  # the URL written (always in subscription A)
    body: Callable[[str], dict[str, Any]]


def reference_cases() -> list[ReferenceCase]:
    own = ids(A)
    nsg, vnet, nic = resources.NetworkSecurityGroup, resources.VirtualNetwork, resources.NetworkInterface

    def asg_rule(side: str) -> Callable[[str], dict[str, Any]]:
        return lambda ref: {
            "properties": rule(**{f"{side}AddressPrefix": None, f"{side}ApplicationSecurityGroups": [{"id": ref}]})
        }

    def nsg_with_asg_rule(side: str) -> Callable[[str], dict[str, Any]]:
        return lambda ref: {
            "location": "westus",
            "properties": {"securityRules": [{"name": "r", **asg_rule(side)(ref)}]},
        }

    new_nsg = rid(A, "networkSecurityGroups", "new-nsg")
    new_vnet = rid(A, "virtualNetworks", "new-vnet")
    new_nic = rid(A, "networkInterfaces", "new-nic")
    return [
        *(
            ReferenceCase(((nsg, f"security_rules[].{side}_asgs[]"),), "asg", new_nsg, nsg_with_asg_rule(side))
            for side in ("source", "destination")
        ),
        *(
            ReferenceCase(
                ((resources.SecurityRule, f"{side}_asgs[]"),), "asg", own["nsg"] + "/securityRules/new", asg_rule(side)
            )
            for side in ("source", "destination")
        ),
        ReferenceCase(
            ((vnet, "subnets[].network_security_group"),),
            "nsg",
            new_vnet,
            lambda ref: vnet_body({"networkSecurityGroup": {"id": ref}}),
        ),
        ReferenceCase(
            ((vnet, "subnets[].route_table"),),
            "route_table",
            new_vnet,
            lambda ref: vnet_body({"routeTable": {"id": ref}}),
        ),
        ReferenceCase(
            ((vnet, "peerings[].remote_virtual_network"),),
            "vnet",
            new_vnet,
            lambda ref: vnet_body(peerings=[{"name": "p", "properties": {"remoteVirtualNetwork": {"id": ref}}}]),
        ),
        ReferenceCase(
            ((resources.Subnet, "network_security_group"),),
            "nsg",
            own["vnet"] + "/subnets/new",
            lambda ref: {"properties": {"addressPrefix": "10.0.9.0/24", "networkSecurityGroup": {"id": ref}}},
        ),
        ReferenceCase(
            ((resources.Subnet, "route_table"),),
            "route_table",
            own["vnet"] + "/subnets/new",
            lambda ref: {"properties": {"addressPrefix": "10.0.9.0/24", "routeTable": {"id": ref}}},
        ),
        ReferenceCase(
            ((resources.VirtualNetworkPeering, "remote_virtual_network"),),
            "vnet",
            own["vnet"] + "/virtualNetworkPeerings/new",
            lambda ref: {"properties": {"remoteVirtualNetwork": {"id": ref}}},
        ),
        ReferenceCase(
            ((nic, "network_security_group"),),
            "nsg",
            new_nic,
            lambda ref: nic_body(A, networkSecurityGroup={"id": ref}),
        ),
        ReferenceCase(((nic, "virtual_machine"),), "vm", new_nic, lambda ref: nic_body(A, virtualMachine={"id": ref})),
        ReferenceCase(
            ((nic, "ip_configurations[].subnet"),), "subnet", new_nic, lambda ref: nic_body(A, {"subnet": {"id": ref}})
        ),
        ReferenceCase(
            ((nic, "ip_configurations[].application_security_groups[]"),),
            "asg",
            new_nic,
            lambda ref: nic_body(A, {"applicationSecurityGroups": [{"id": ref}]}),
        ),
        ReferenceCase(
            ((nic, "ip_configurations[].public_ip_address"),),
            "public_ip",
            new_nic,
            lambda ref: nic_body(A, {"publicIPAddress": {"id": ref}}),
        ),
        ReferenceCase(
            ((nic, "ip_configurations[].load_balancer_backend_address_pools[]"),),
            "pool",
            new_nic,
            lambda ref: nic_body(A, {"loadBalancerBackendAddressPools": [{"id": ref}]}),
        ),
        ReferenceCase(
            ((nic, "ip_configurations[].load_balancer_inbound_nat_rules[]"),),
            "inbound_nat_rule",
            new_nic,
            lambda ref: nic_body(A, {"loadBalancerInboundNatRules": [{"id": ref}]}),
        ),
        ReferenceCase(
            (
                (resources.VirtualMachine, "network_interfaces[]"),
                (resources.VirtualMachine, "primary_network_interface"),
            ),
            "nic",
            rid(A, "virtualMachines", "new-vm", "Microsoft.Compute"),
            lambda ref: {
                "location": "westus",
                "properties": {"networkProfile": {"networkInterfaces": [{"id": ref, "properties": {"primary": True}}]}},
            },
        ),
        ReferenceCase(
            ((vnet, "subnets[].nat_gateway"),),
            "nat_gateway",
            new_vnet,
            lambda ref: vnet_body({"natGateway": {"id": ref}}),
        ),
        ReferenceCase(
            ((vnet, "subnets[].application_gateway_ip_configurations[]"),),
            "app_gateway_ip_configuration",
            new_vnet,
            lambda ref: vnet_body({"applicationGatewayIPConfigurations": [{"id": ref}]}),
        ),
        ReferenceCase(
            ((LoadBalancer, "frontend_ip_configurations[].public_ip_address"),),
            "public_ip",
            rid(A, "loadBalancers", "new-lb"),
            lambda ref: load_balancer_body({"publicIPAddress": {"id": ref}}),
        ),
        ReferenceCase(
            ((LoadBalancer, "frontend_ip_configurations[].subnet"),),
            "subnet",
            rid(A, "loadBalancers", "new-lb"),
            lambda ref: load_balancer_body({"subnet": {"id": ref}}),
        ),
        ReferenceCase(
            ((vnet, "subnets[].service_endpoint_policies[]"),),
            "service_endpoint_policy",
            new_vnet,
            lambda ref: vnet_body({"serviceEndpointPolicies": [{"id": ref}]}),
        ),
        ReferenceCase(
            ((vnet, "subnets[].service_endpoints[].network_identifier"),),
            "public_ip",
            new_vnet,
            lambda ref: vnet_body(
                {"serviceEndpoints": [{"service": "Microsoft.Storage", "networkIdentifier": {"id": ref}}]}
            ),
        ),
        ReferenceCase(
            ((resources.Subnet, "service_endpoint_policies[]"),),
            "service_endpoint_policy",
            own["vnet"] + "/subnets/new",
            lambda ref: {"properties": {"addressPrefix": "10.0.9.0/24", "serviceEndpointPolicies": [{"id": ref}]}},
        ),
        ReferenceCase(
            ((resources.Subnet, "service_endpoints[].network_identifier"),),
            "public_ip",
            own["vnet"] + "/subnets/new",
            lambda ref: {
                "properties": {
                    "addressPrefix": "10.0.9.0/24",
                    "serviceEndpoints": [{"service": "Microsoft.Storage", "networkIdentifier": {"id": ref}}],
                }
            },
        ),
        ReferenceCase(
            ((nic, "ip_configurations[].gateway_load_balancer"),),
            "gateway_load_balancer",
            new_nic,
            lambda ref: nic_body(A, {"gatewayLoadBalancer": {"id": ref}}),
        ),
        ReferenceCase(
            ((resources.Subnet, "nat_gateway"),),
            "nat_gateway",
            own["vnet"] + "/subnets/new",
            lambda ref: {"properties": {"addressPrefix": "10.0.9.0/24", "natGateway": {"id": ref}}},
        ),
        ReferenceCase(
            ((resources.Subnet, "application_gateway_ip_configurations[]"),),
            "app_gateway_ip_configuration",
            own["vnet"] + "/subnets/new",
            lambda ref: {
                "properties": {"addressPrefix": "10.0.9.0/24", "applicationGatewayIPConfigurations": [{"id": ref}]}
            },
        ),
        ReferenceCase(
            ((nic, "private_endpoint"),),
            "private_endpoint",
            new_nic,
            lambda ref: nic_body(A, privateEndpoint={"id": ref}),
        ),
        ReferenceCase(
            ((resources.PublicIpAddress, "nat_gateway"),),
            "nat_gateway",
            rid(A, "publicIPAddresses", "new-pip"),
            lambda ref: {"location": "westus", "properties": {"natGateway": {"id": ref}}},
        ),
        *(
            ReferenceCase(
                ((resources.PrivateEndpoint, path),),
                target,
                rid(A, "privateEndpoints", "new-pe"),
                body,
            )
            for path, target, body in (
                ("subnet", "subnet", lambda ref: {"location": "westus", "properties": {"subnet": {"id": ref}}}),
                (
                    "network_interfaces[]",
                    "nic",
                    lambda ref: {
                        "location": "westus",
                        "properties": {"subnet": {"id": own["subnet"]}, "networkInterfaces": [{"id": ref}]},
                    },
                ),
                (
                    "application_security_groups[]",
                    "asg",
                    lambda ref: {
                        "location": "westus",
                        "properties": {"subnet": {"id": own["subnet"]}, "applicationSecurityGroups": [{"id": ref}]},
                    },
                ),
                (
                    "connections[].private_link_service_id",
                    "private_link_service",
                    lambda ref: {
                        "location": "westus",
                        "properties": {
                            "subnet": {"id": own["subnet"]},
                            "privateLinkServiceConnections": [
                                {"name": "c", "properties": {"privateLinkServiceId": ref}}
                            ],
                        },
                    },
                ),
            )
        ),
        *(
            ReferenceCase(((resources.NatGateway, path),), target, rid(A, "natGateways", "new-nat"), body)
            for path, target, body in (
                (
                    "public_ip_addresses[]",
                    "public_ip",
                    lambda ref: {"location": "westus", "properties": {"publicIpAddresses": [{"id": ref}]}},
                ),
                (
                    "public_ip_prefixes[]",
                    "public_ip_prefix",
                    lambda ref: {"location": "westus", "properties": {"publicIpPrefixes": [{"id": ref}]}},
                ),
                ("subnets[]", "subnet", lambda ref: {"location": "westus", "properties": {"subnets": [{"id": ref}]}}),
            )
        ),
        ReferenceCase(
            ((NetworkManager, "scope_subscriptions[]"),),
            "subscription",
            rid(A, "networkManagers", "new-nm"),
            lambda ref: {"location": "westus", "properties": {"networkManagerScopes": {"subscriptions": [ref]}}},
        ),
        ReferenceCase(
            ((StaticMember, "resource_id"),),
            "vnet",
            own["network_group"] + "/staticMembers/new",
            lambda ref: {"properties": {"resourceId": ref}},
        ),
        ReferenceCase(
            ((AdminRuleCollection, "applies_to_groups[]"),),
            "network_group",
            own["network_manager"] + "/securityAdminConfigurations/c/ruleCollections/new",
            lambda ref: {"properties": {"appliesToGroups": [{"networkGroupId": ref}]}},
        ),
        *(
            ReferenceCase(
                ((AdminRule, f"{side}[].address_prefix"),),
                "network_group",
                own["rule_collection"] + f"/rules/new-{side}",
                lambda ref, side=side: {
                    "kind": "Custom",
                    "properties": {
                        "protocol": "Tcp",
                        "access": "Deny",
                        "direction": "Inbound",
                        "priority": 10,
                        "sources": [{"addressPrefixType": "IPPrefix", "addressPrefix": "*"}],
                        "destinations": [{"addressPrefixType": "IPPrefix", "addressPrefix": "*"}],
                        side: [{"addressPrefixType": "NetworkGroup", "addressPrefix": ref}],
                    },
                },
            )
            for side in ("sources", "destinations")
        ),
        ReferenceCase(
            ((FlowLog, "target_resource_id"),),
            "vnet",
            own["watcher"] + "/flowLogs/new",
            lambda ref: flow_log_body(ref, own["storage_account"]),
        ),
        ReferenceCase(
            ((FlowLog, "storage_id"),),
            "storage_account",
            own["watcher"] + "/flowLogs/new",
            lambda ref: flow_log_body(own["vnet"], ref),
        ),
        ReferenceCase(
            ((FlowLog, "workspace_resource_id"),),
            "workspace",
            own["watcher"] + "/flowLogs/new",
            lambda ref: {
                **flow_log_body(own["vnet"], own["storage_account"]),
                "properties": {
                    **flow_log_body(own["vnet"], own["storage_account"])["properties"],
                    "flowAnalyticsConfiguration": {
                        "networkWatcherFlowAnalyticsConfiguration": {"enabled": True, "workspaceResourceId": ref}
                    },
                },
            },
        ),
        ReferenceCase(
            ((resources.PublicIpAddress, "ip_configuration"),),
            "ip_configuration",
            rid(A, "publicIPAddresses", "new-pip"),
            lambda ref: {"location": "westus", "properties": {"ipConfiguration": {"id": ref}}},
        ),
    ]


def test_every_reference_field_is_in_the_matrix() -> None:
    covered = {cover for case in reference_cases() for cover in case.covers}
    listed = {(kind, field.path) for kind, fields in REFERENCE_FIELDS.items() for field in fields}
    assert covered == listed


#: Attributes of model values that hold text but never another resource's id.
NOT_REFERENCES = frozenset(
    {
        "id", "name", "location", "description", "mac_address", "resource_guid", "peering_state",
        "private_ip_address", "private_ip_address_version", "ip_address", "address_prefix", "next_hop_type",
        "next_hop_ip_address", "source_address_prefix", "source_address_prefixes", "source_port_range",
        "source_port_ranges", "destination_address_prefix", "destination_address_prefixes",
        "destination_port_range", "destination_port_ranges", "address_space", "address_prefixes",
        "remote_address_space", "gateway_prefixes", "tags",
        # names and values, not ids
        "delegations", "local_subnet_names", "remote_subnet_names", "sku_name", "sku_tier",
        "public_ip_address_version", "custom_network_interface_name",
        "flag", "network_group_address_space_aggregation_option", "region", "sku", "request_path",
        # a management-group scope grants nothing by itself: the VNets a manager reaches are its groups' static
        # members, each authorised (StaticMember.resource_id)
        "scope_management_groups[]",
        # a load-balancing rule's frontend, pool and probe must be its own load balancer's (validation refuses others)
        "load_balancing_rules[].frontend_ip_configuration", "load_balancing_rules[].backend_address_pool",
        "load_balancing_rules[].probe",
        # values of subnets, VNets, public IPs and private endpoints
        "service_name", "service", "locations",
        "bgp_community", "enforcement", "zones", "domain_name_label", "domain_name_label_scope", "fqdn",
        "reverse_fqdn", "group_id", "member_name", "group_ids", "request_message", "ip_version_type",
        # a flow log's filter and record types; traffic analytics and identity are kept as the JSON given (the
        # workspace id in it is authorised through FlowLog.workspace_resource_id; the identity's is not a reference
        # a write makes)
        "enabled_filtering_criteria", "record_types", "flow_analytics_configuration", "identity",
        # an NSG's default rules are always the six built-in ones, never read from a body
        "default_security_rules[].source_asgs[]", "default_security_rules[].destination_asgs[]",
    }
)  # fmt: skip


def _text_fields(kind: type, prefix: str = "") -> Iterator[str]:
    """Attribute paths (``REFERENCE_FIELDS`` syntax) of every text-holding field of a model type, nested values
    included."""
    hints = typing.get_type_hints(kind)
    for field in dataclasses.fields(kind):
        hint = hints[field.name]
        args = typing.get_args(hint)
        many = typing.get_origin(hint) is tuple
        inner = args[0] if many else hint
        nested = [a for a in (*args, inner) if dataclasses.is_dataclass(a)]
        if nested:
            yield from _text_fields(typing.cast(type, nested[0]), f"{prefix}{field.name}{'[]' if many else ''}.")
        elif str in (inner, *typing.get_args(inner), *args):
            yield f"{prefix}{field.name}{'[]' if many else ''}"


def test_every_id_holding_field_of_every_model_type_is_classified() -> None:
    """A new model type or field fails here until it is listed in ``REFERENCE_FIELDS`` (authorised on every write)
    or its attribute name is declared in ``NOT_REFERENCES``."""

    def subclasses(kind: type) -> Iterator[type]:
        for sub in kind.__subclasses__():
            yield sub
            yield from subclasses(sub)

    # ``dataclass(slots=True)`` replaces each class: only the one its module exports is the model type
    model_types = sorted(
        {k for k in subclasses(resources.Resource) if getattr(sys.modules[k.__module__], k.__name__, None) is k},
        key=lambda k: k.__name__,
    )
    unclassified = []
    for kind in [*model_types, resources.SecurityRule, resources.Subnet, resources.VirtualNetworkPeering, FlowLog]:
        listed = {field.path for field in REFERENCE_FIELDS.get(kind, ())}
        for path in _text_fields(kind):
            declared = path in NOT_REFERENCES or path.rsplit(".", 1)[-1].removesuffix("[]") in NOT_REFERENCES
            if path not in listed and not declared:
                unclassified.append(f"{kind.__name__}.{path}")
    assert not unclassified, f"classify these in REFERENCE_FIELDS or NOT_REFERENCES: {unclassified}"


def _without(text: str, *values: str) -> str:
    for value in values:
        text = text.replace(value, "<ref>")
    return text


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: f"{c.covers[0][0].__name__}.{c.covers[0][1]}")
def test_a_reference_into_a_subscription_the_caller_cannot_read_is_refused_alike(
    world: TestClient, case: ReferenceCase
) -> None:
    before = state(world)
    answers = []
    for foreign in (ids(B)[case.target], ids(C)[case.target], ids(B)[case.target].replace("/rg1/", "/nowhere/")):
        answer = world.put(f"{case.path}?{API}", json=case.body(foreign), headers=bearer(A_ONLY))
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "LinkedAuthorizationFailed"
        answers.append(_without(answer.text, foreign, B, C))
    assert answers[0] == answers[1] == answers[2], "the refusal must not tell whether the foreign resource exists"
    assert state(world) == before


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: f"{c.covers[0][0].__name__}.{c.covers[0][1]}")
def test_a_reference_into_a_subscription_the_caller_can_read_passes_the_linked_check(
    world: TestClient, case: ReferenceCase
) -> None:
    """With a token for both subscriptions the write is judged on its merits (ARM allows cross-subscription
    references, peering included, to a caller who may use both ends)."""
    answer = world.put(f"{case.path}?{API}", json=case.body(ids(B)[case.target]), headers=bearer(A_AND_B))
    assert answer.status_code < 500 and answer.status_code != 403, answer.text


def test_cross_subscription_peering_with_access_to_both_connects(world: TestClient) -> None:
    peering = ids(A)["vnet"] + "/virtualNetworkPeerings/to-b"
    body = {"properties": {"remoteVirtualNetwork": {"id": ids(B)["vnet"]}}}
    assert world.put(f"{peering}?{API}", json=body, headers=bearer(A_AND_B)).status_code == 201
    back = ids(B)["vnet"] + "/virtualNetworkPeerings/to-a"
    body = {"properties": {"remoteVirtualNetwork": {"id": ids(A)["vnet"]}}}
    assert world.put(f"{back}?{API}", json=body, headers=bearer(A_AND_B)).status_code == 201
    state_of_a = world.get(f"{peering}?{API}", headers=bearer(A_ONLY)).json()["properties"]["peeringState"]
    assert state_of_a == "Connected"


def test_a_reference_the_resource_already_had_stays_writable(world: TestClient) -> None:
    """Linked once by a caller who could use both ends, a reference survives a re-PUT by a token of one side."""
    path = rid(A, "networkInterfaces", "linked")
    body = nic_body(A, networkSecurityGroup={"id": ids(B)["nsg"]})
    assert world.put(f"{path}?{API}", json=body, headers=bearer(A_AND_B)).status_code == 201
    body["tags"] = {"touched": "yes"}
    assert world.put(f"{path}?{API}", json=body, headers=bearer(A_ONLY)).status_code == 200
    other = nic_body(A, networkSecurityGroup={"id": ids(B)["nsg"].replace("/nsg", "/nsg2")})
    assert world.put(f"{path}?{API}", json=other, headers=bearer(A_ONLY)).status_code == 403


def test_nested_child_ids_are_derived_from_the_parent(world: TestClient) -> None:
    """An id in a body cannot place a child under another resource (nor another subscription)."""
    body = vnet_body()
    body["properties"]["subnets"][0]["id"] = ids(B)["subnet"]
    path = rid(A, "virtualNetworks", "derived")
    answer = world.put(f"{path}?{API}", json=body, headers=bearer(A_ONLY))
    assert answer.status_code == 201, answer.text
    assert answer.json()["properties"]["subnets"][0]["id"] == f"{path}/subnets/app"
    assert B not in answer.text


# --- Network Watcher diagnostics aimed at another subscription ----------------------------------------------------


def diagnostics(target: str) -> list[tuple[str, dict[str, Any]]]:
    flow = {
        "direction": "Inbound",
        "protocol": "TCP",
        "localIPAddress": "10.0.0.4",
        "localPort": "443",
        "remoteIPAddress": "52.1.2.3",
        "remotePort": "1000",
    }
    profile = {"direction": "Inbound", "protocol": "TCP", "source": "52.1.2.3", "destination": "10.0.0.4",
               "destinationPort": "443"}  # fmt: skip
    return [
        ("ipFlowVerify", {"targetResourceId": target, **flow}),
        ("ipFlowVerify", {"targetResourceId": ids(A)["vm"], "targetNicResourceId": target, **flow}),
        ("networkConfigurationDiagnostic", {"targetResourceId": target, "profiles": [profile]}),
        ("securityGroupView", {"targetResourceId": target}),
        ("queryFlowLogStatus", {"targetResourceId": target}),
        ("nextHop", {"targetResourceId": target, "sourceIPAddress": "10.0.0.4", "destinationIPAddress": "52.1.2.3"}),
    ]


@pytest.mark.parametrize("target", ["nic", "vm"])
def test_diagnostics_refuse_targets_in_subscriptions_the_caller_cannot_read(world: TestClient, target: str) -> None:
    before = state(world)
    watcher = ids(A)["watcher"]
    for index in range(len(diagnostics(""))):
        answers = []
        for foreign in (ids(B)[target], ids(C)[target], ids(B)[target] + "-missing"):
            action, body = diagnostics(foreign)[index]
            answer = world.post(f"{watcher}/{action}?{API}", json=body, headers=bearer(A_ONLY))
            assert answer.status_code == 403, (action, answer.text)
            assert answer.json()["error"]["code"] == "LinkedAuthorizationFailed"
            assert "Deny" not in answer.text and "r1" not in answer.text and "Allow" not in answer.text
            answers.append(_without(answer.text, foreign, B, C))
            assert "Location" not in answer.headers and "Azure-AsyncOperation" not in answer.headers
        assert answers[0] == answers[1] == answers[2], action
    assert state(world) == before


def test_diagnostics_of_a_readable_subscription_still_answer(world: TestClient) -> None:
    watcher = ids(A)["watcher"]
    for token in (A_AND_B, ALL):
        for action, body in diagnostics(ids(B)["nic"]):
            answer = world.post(f"{watcher}/{action}?{API}", json=body, headers=bearer(token))
            assert answer.status_code == 202, (action, answer.text)
    for action, body in diagnostics(ids(A)["nic"]):
        assert world.post(f"{watcher}/{action}?{API}", json=body, headers=bearer(A_ONLY)).status_code == 202


# --- every route x every kind of credential -----------------------------------------------------------------------

CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "empty": {"Authorization": ""},
    "scheme-only": {"Authorization": "Bearer"},
    "unknown-token": bearer("not-a-token"),
    "basic": {"Authorization": f"Basic {A_ONLY}"},
    "token-in-wrong-case": bearer(A_ONLY.upper()),
    "foreign-subscription": bearer(B_ONLY),
}
PATH_VALUES = {
    "subscriptionId": A,
    "resourceGroupName": "rg1",
    "location": "westus",
    "operationId": "0" * 32,
    "networkWatcherName": "nw",
    "networkInterfaceName": "nic",
    "virtualNetworkName": "vnet",
    "networkManagerName": "nm",
    "networkGroupsName": "g",
    "staticMembersName": "m",
    "securityAdminConfigurationsName": "c",
    "ruleCollectionsName": "rc",
    "rulesName": "r",
    "flowLogName": "fl",
}
NAMES = {
    "networkSecurityGroups": ("nsg", "r1"),
    "applicationSecurityGroups": ("asg", ""),
    "virtualNetworks": ("vnet", "app"),
    "networkInterfaces": ("nic", "ipconfig1"),
    "routeTables": ("rt", "r"),
    "publicIPAddresses": ("pip", ""),
    "virtualMachines": ("vm", ""),
    "networkWatchers": ("nw", ""),
}


def routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    out = []
    for template, operations in schema["paths"].items():
        if not template.startswith("/subscriptions"):
            continue
        kind = next((k for k in NAMES if f"/{k}/" in template), None)
        parent, child = NAMES.get(kind, ("x", "y")) if kind else ("x", "y")
        values = {**PATH_VALUES, "resourceName": parent, "parentName": parent, "childName": child}
        path = template.format(**values)
        out.extend((method.upper(), path) for method in operations)
    return out


def test_every_route_refuses_every_foreign_or_missing_credential(world: TestClient) -> None:
    before = state(world)
    checked = 0
    for method, path in routes(world):
        for kind, headers in CREDENTIALS.items():
            answer = world.request(method, f"{path}?{API}", headers=headers, json={"location": "westus"})
            expected = 403 if kind == "foreign-subscription" else 401
            assert answer.status_code == expected, (kind, method, path, answer.text)
            checked += 1
            if method == "HEAD":
                continue
            code = answer.json()["error"]["code"]
            assert code == ("AuthorizationFailed" if expected == 403 else "AuthenticationFailed")
            assert "nsg" not in answer.text and "westus" not in answer.text
    assert checked > 400
    assert state(world) == before


def test_no_route_shows_a_token_anything_of_another_subscription(world: TestClient) -> None:
    """A's own token on every route of A (B is populated alike): no answer names B, B's state never changes, and
    no answer is a 5xx. Writes and deletes run too, last, so reads see the full world first."""
    others_before = state(world, (B, C))
    ordered = sorted(routes(world), key=lambda mr: mr[0] in ("PUT", "PATCH", "DELETE", "POST"))
    for method, path in ordered:
        answer = world.request(method, f"{path}?{API}", headers=bearer(A_ONLY), json={"location": "westus"})
        assert answer.status_code < 500, (method, path, answer.text)
        assert B not in answer.text and B not in json.dumps(dict(answer.headers)), (method, path)
    assert state(world, (B, C)) == others_before
    for kind in [k.type for k in MODEL_KINDS]:
        listed = world.get(f"/subscriptions/{B}/providers/{kind}?{API}", headers=bearer(B_ONLY))
        assert A not in listed.text, kind
