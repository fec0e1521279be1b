"""Import of AVNM estates (semantics §11.5, both shapes), private endpoints and NAT gateways; export back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.avnm_arm import (
    COLLECTION,
    CONFIG,
    GROUP,
    NAT,
    NM,
    PE,
    PE_NIC,
    PE_SUBNET,
    PIP,
    SUB,
    SUBNET,
    VNET,
    az_collection,
    az_configuration,
    az_deploy_status,
    az_groups,
    az_management_group_tree,
    az_manager,
    az_members,
    az_nat_and_ip,
    az_nsg,
    az_pe_nic,
    az_private_endpoint,
    az_rule,
    az_vnet,
)
from tests.realworld import REALWORLD, needs_realworld

from opennsg.arm import load_documents, load_paths
from opennsg.arm.export import export_topology, to_arm
from opennsg.arm.parse import parse_resource
from opennsg.model import (
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    AdminRuleKind,
    DeploymentState,
    Direction,
    GroupMemberType,
    NetworkIntentPolicyBasedService,
    OpenNsgError,
    PrivateEndpointNetworkPolicies,
    ScopeAccess,
)
from opennsg.model.validation import Code, topology_notes

Writer = Callable[[str, Any], Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    def put(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return put


def manager_files(write: Writer) -> list[Path]:
    return [
        write("nm.json", az_manager()),
        write("groups.json", az_groups()),
        write("members.json", az_members()),
        write("config.json", az_configuration()),
        write("collections.json", [az_collection()]),
        write(
            "rules.json",
            [
                az_rule("deny-mgmt-from-internet", 10),
                az_rule(
                    "allow-monitoring",
                    5,
                    "AlwaysAllow",
                    sources=[{"addressPrefix": "10.250.0.0/24", "addressPrefixType": "IPPrefix"}],
                ),
            ],
        ),
    ]


def network_files(write: Writer) -> list[Path]:
    return [
        write("vnet.json", az_vnet()),
        write("nsg.json", az_nsg()),
        write("pe.json", az_private_endpoint()),
        write("pe-nic.json", az_pe_nic()),
        write("nat.json", az_nat_and_ip()),
    ]


# --- shape 1: the manager's resources ----------------------------------------------------------------


def test_az_manager_resources_import_with_every_property(write: Writer) -> None:
    topo = load_paths(
        [*manager_files(write), *network_files(write), write("status.json", az_deploy_status("westeurope"))]
    )
    manager = topo.network_manager(NM.upper())
    assert manager is not None
    assert manager.scope_subscriptions == (f"/subscriptions/{SUB}",)
    assert manager.scope_management_groups == ("/providers/Microsoft.Management/managementGroups/mg-platform",)
    assert manager.scope_accesses == (ScopeAccess.SECURITY_ADMIN, ScopeAccess.CONNECTIVITY)
    assert manager.location == "westeurope" and manager.tags == {"owner": "netops"}
    groups = {g.name: g for g in topo.network_groups_of(NM)}
    assert groups["spokes"].member_type is GroupMemberType.VIRTUAL_NETWORK
    assert groups["workload-subnets"].member_type is GroupMemberType.SUBNET
    assert [m.resource_id for m in topo.static_members_of(GROUP)] == [VNET]
    (configuration,) = topo.configurations_of(NM)
    assert configuration.apply_on_network_intent_policy_based_services == (
        NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY,
    )
    assert configuration.resource_guid == "bbbbbbbb-0000-4000-8000-000000000002"
    (collection,) = topo.rule_collections_of(CONFIG)
    assert collection.applies_to_groups == (GROUP,)
    rules = {r.name: r for r in topo.admin_rules_of(COLLECTION)}
    deny = rules["deny-mgmt-from-internet"]
    assert (deny.kind, deny.access, deny.protocol, deny.direction, deny.priority) == (
        AdminRuleKind.CUSTOM,
        AdminAccess.DENY,
        AdminProtocol.TCP,
        Direction.INBOUND,
        10,
    )
    assert deny.sources[0].address_prefix == "Internet"
    assert deny.sources[0].address_prefix_type is AddressPrefixType.SERVICE_TAG
    assert deny.destination_port_ranges == ("22", "3389") and deny.source_port_ranges == ()
    assert rules["allow-monitoring"].access is AdminAccess.ALWAYS_ALLOW
    (status,) = topo.deployment_statuses
    assert status.deployment_status is DeploymentState.DEPLOYED and status.region == "westeurope"
    assert topo.configuration_deployed(CONFIG, "westeurope")
    assert not topo.configuration_deployed(CONFIG, "northeurope")
    assert topology_notes(topo) == []


def test_private_endpoints_nat_gateways_and_subnet_policies_import(write: Writer) -> None:
    topo = load_paths(network_files(write))
    workload = topo.subnet(SUBNET)
    endpoints = topo.subnet(PE_SUBNET)
    assert workload is not None and endpoints is not None
    assert workload.private_endpoint_network_policies is PrivateEndpointNetworkPolicies.NETWORK_SECURITY_GROUP_ENABLED
    assert workload.default_outbound_access is False and not workload.has_default_outbound_access
    assert workload.nat_gateway == NAT
    assert workload.delegated_services == ("Microsoft.Sql/managedInstances",)
    assert endpoints.endpoint_network_policies is PrivateEndpointNetworkPolicies.DISABLED
    assert endpoints.default_outbound_access is None and endpoints.has_default_outbound_access
    endpoint = topo.private_endpoint_of_nic(PE_NIC)
    assert endpoint is not None and endpoint.subnet == PE_SUBNET
    assert endpoint.private_link_service_ids[0].endswith("/storageAccounts/stcorp")
    nic = topo.nic(PE_NIC)
    assert nic is not None and nic.private_endpoint == PE
    nat = topo.nat_gateway(NAT)
    assert nat is not None and nat.public_ip_addresses == (PIP,) and nat.sku_name == "Standard"
    pip = topo.public_ip(PIP)
    assert pip is not None and (pip.sku_name, pip.sku_tier, pip.nat_gateway) == ("Standard", "Regional", NAT)
    assert pip.closed_by_default


def test_all_four_private_endpoint_network_policies_values(write: Writer) -> None:
    for value in ("Enabled", "Disabled", "NetworkSecurityGroupEnabled", "RouteTableEnabled"):
        vnet = az_vnet()
        vnet["subnets"][1]["privateEndpointNetworkPolicies"] = value.lower()
        others = network_files(write)[1:]
        topo = load_paths([write("vnet.json", vnet), *others])
        subnet = topo.subnet(PE_SUBNET)
        assert subnet is not None and subnet.endpoint_network_policies.value == value


def test_without_deployment_status_validate_notes_it(write: Writer) -> None:
    topo = load_paths([*manager_files(write), *network_files(write)])
    assert topo.deployment_statuses == ()
    assert topo.configuration_deployed(CONFIG, "anywhere")
    (note,) = topology_notes(topo)
    assert NM in note and "baseline" in note and "every region" in note


def test_management_group_tree_gives_scope_through_nested_groups(write: Writer) -> None:
    topo = load_paths([*manager_files(write), *network_files(write), write("mg.json", az_management_group_tree())])
    assert set(topo.management_groups) == {
        "/providers/microsoft.management/managementgroups/mg-root",
        "/providers/microsoft.management/managementgroups/mg-platform",
    }
    root = topo.management_groups["/providers/microsoft.management/managementgroups/mg-root"]
    assert root.parent_id == "/providers/Microsoft.Management/managementGroups/tenant-root"
    assert root.subscriptions == ("/subscriptions/3f2c1a9e-0000-4000-8000-00000000c003",)
    manager = topo.network_manager(NM)
    assert manager is not None
    assert topo.manager_scopes_subscription(manager, "3f2c1a9e-0000-4000-8000-00000000b002")  # under mg-platform
    assert not topo.manager_scopes_subscription(manager, "3f2c1a9e-0000-4000-8000-00000000c003")  # mg-root only


def test_management_group_rest_shape_with_properties(write: Writer) -> None:
    tree = az_management_group_tree()
    rest = {
        "id": tree["id"],
        "name": tree["name"],
        "type": tree["type"],
        "properties": {k: tree[k] for k in ("children", "details", "displayName", "tenantId")},
    }
    topo = load_paths([write("mg.json", rest)])
    assert len(topo.management_groups) == 2


def test_active_admin_rules_answer_counts_as_deployment(write: Writer) -> None:
    rule = az_rule("deny-mgmt-from-internet", 10)
    active = {
        "id": rule["id"],
        "region": "westeurope",
        "commitTime": "2026-11-30T09:12:44.2578238+01:00",
        "configurationDescription": "Baseline",
        "ruleCollectionDescription": "Guardrails",
        "ruleCollectionAppliesToGroups": [{"networkGroupId": GROUP}],
        "ruleGroups": [],
        "kind": "Custom",
        "properties": {k: rule[k] for k in ("access", "direction", "priority", "protocol", "sources", "destinations")},
    }
    topo = load_paths([*manager_files(write), *network_files(write), write("active.json", {"value": [active]})])
    assert topo.configuration_deployed(CONFIG, "West Europe")
    assert not topo.configuration_deployed(CONFIG, "eastus")


# --- shape 2: a VNet's effective admin rules --------------------------------------------------------------


def effective_answer(*, with_vnet: bool = True) -> dict[str, Any]:
    rule = az_rule("deny-mgmt-from-internet", 10)
    answer: dict[str, Any] = {
        "skipToken": "",
        "value": [
            {
                "id": rule["id"],
                "configurationDescription": "Baseline",
                "ruleCollectionDescription": "Guardrails",
                "ruleCollectionAppliesToGroups": [{"networkGroupId": GROUP}],
                "ruleGroups": [{"id": GROUP, "properties": {"description": "All spoke VNets"}}],
                "kind": "Custom",
                "properties": {
                    k: rule[k]
                    for k in ("access", "direction", "priority", "protocol", "sources", "destinations", "description")
                },
            }
        ],
    }
    if with_vnet:
        answer["virtualNetworkId"] = VNET
    return answer


def test_effective_admin_rules_answer_with_virtual_network_id(write: Writer) -> None:
    topo = load_paths([*network_files(write), write("effective.json", effective_answer())])
    answer = topo.effective_admin_rules[VNET.casefold()]
    (entry,) = answer.rules
    assert entry.rule.name == "deny-mgmt-from-internet" and entry.rule.network_manager_id == NM
    assert entry.rule.access is AdminAccess.DENY and entry.rule.priority == 10
    assert entry.configuration_description == "Baseline" and entry.rule_groups == (GROUP,)
    assert entry.rule_collection_applies_to_groups == (GROUP,)
    assert topo.admin_rules == {}  # the answer names the rules in force; it defines no manager resources


def test_effective_admin_rules_answer_without_vnet_is_refused(write: Writer) -> None:
    with pytest.raises(OpenNsgError) as caught:
        load_paths([*network_files(write), write("effective.json", effective_answer(with_vnet=False))])
    (problem,) = caught.value.errors
    assert problem.code == Code.MISSING_REQUIRED_PROPERTY and "virtualNetworkId" in problem.message
    assert problem.target is not None and problem.target.endswith("effective.json: virtualNetworkId")


def test_empty_effective_answer_says_no_admin_rules(write: Writer) -> None:
    topo = load_paths(
        [*network_files(write), write("e.json", {"skipToken": "", "value": [], "virtualNetworkId": VNET})]
    )
    assert topo.effective_admin_rules[VNET.casefold()].rules == ()


# --- ARM list responses and templates ----------------------------------------------------------------------


def _wrapped(flat: dict[str, Any]) -> dict[str, Any]:
    """The ARM (GET) shape of an az-flattened resource: envelope outside, the rest in ``properties``."""
    outside = {"id", "name", "type", "location", "tags", "etag", "kind", "sku"}
    out = {k: v for k, v in flat.items() if k in outside}
    out["properties"] = {k: v for k, v in flat.items() if k not in outside and k != "resourceGroup"}
    return out


def test_arm_list_responses_import_like_az(write: Writer) -> None:
    az = load_paths([*manager_files(write), *network_files(write)])
    arm_docs: list[tuple[str, Any]] = [
        ("nm.json", {"value": [_wrapped(az_manager())]}),
        ("groups.json", {"value": [_wrapped(g) for g in az_groups()], "nextLink": None}),
        ("members.json", {"value": [_wrapped(m) for m in az_members()]}),
        ("configs.json", {"value": [_wrapped(az_configuration())]}),
        ("collections.json", {"value": [_wrapped(az_collection())]}),
        (
            "rules.json",
            {
                "value": [
                    _wrapped(az_rule("deny-mgmt-from-internet", 10)),
                    _wrapped(
                        az_rule(
                            "allow-monitoring",
                            5,
                            "AlwaysAllow",
                            sources=[{"addressPrefix": "10.250.0.0/24", "addressPrefixType": "IPPrefix"}],
                        )
                    ),
                ]
            },
        ),
        *((str(p), json.loads(p.read_text())) for p in network_files(write)),
    ]
    arm = load_documents(arm_docs)
    for name in ("network_managers", "network_groups", "static_members", "security_admin_configurations",
                 "admin_rule_collections", "admin_rules"):  # fmt: skip
        assert dict(getattr(arm, name)) == dict(getattr(az, name)), name


GROUP_ID_EXPRESSION = "[resourceId('Microsoft.Network/networkManagers/networkGroups', 'nm-tpl', 'spokes')]"


def test_arm_template_with_avnm_resources(write: Writer) -> None:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"sshPorts": {"type": "array", "defaultValue": ["22"]}},
        "resources": [
            {
                "type": "Microsoft.Network/networkManagers",
                "apiVersion": "2024-05-01",
                "name": "nm-tpl",
                "location": "westeurope",
                "properties": {
                    "networkManagerScopes": {"subscriptions": ["[subscription().id]"]},
                    "networkManagerScopeAccesses": ["SecurityAdmin"],
                },
            },
            {
                "type": "Microsoft.Network/networkManagers/networkGroups",
                "apiVersion": "2024-05-01",
                "name": "nm-tpl/spokes",
                "properties": {"memberType": "VirtualNetwork"},
                "dependsOn": ["[resourceId('Microsoft.Network/networkManagers', 'nm-tpl')]"],
            },
            {
                "type": "Microsoft.Network/networkManagers/securityAdminConfigurations",
                "apiVersion": "2024-05-01",
                "name": "nm-tpl/baseline",
                "properties": {"applyOnNetworkIntentPolicyBasedServices": ["None"]},
            },
            {
                "type": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections",
                "apiVersion": "2024-05-01",
                "name": "nm-tpl/baseline/guardrails",
                "properties": {"appliesToGroups": [{"networkGroupId": GROUP_ID_EXPRESSION}]},
            },
            {
                "type": "Microsoft.Network/networkManagers/securityAdminConfigurations/ruleCollections/rules",
                "apiVersion": "2024-05-01",
                "name": "nm-tpl/baseline/guardrails/deny-ssh",
                "kind": "Custom",
                "properties": {
                    "protocol": "Tcp",
                    "access": "Deny",
                    "direction": "Inbound",
                    "priority": 100,
                    "sources": [{"addressPrefixType": "ServiceTag", "addressPrefix": "Internet"}],
                    "destinations": [{"addressPrefixType": "IPPrefix", "addressPrefix": "*"}],
                    "sourcePortRanges": [],
                    "destinationPortRanges": "[parameters('sshPorts')]",
                },
            },
        ],
    }
    topo = load_paths([write("avnm.json", template)])
    (manager,) = topo.network_managers.values()
    (rule,) = topo.admin_rules.values()
    assert rule.destination_port_ranges == ("22",) and rule.network_manager_id.casefold() == manager.key
    (collection,) = topo.admin_rule_collections.values()
    (group,) = topo.network_groups.values()
    assert [g.casefold() for g in collection.applies_to_groups] == [group.key]
    assert len(manager.scope_subscriptions) == 1 and manager.scope_subscriptions[0].startswith("/subscriptions/")


# --- export ------------------------------------------------------------------------------------------------


def test_export_round_trips_every_avnm_document(write: Writer) -> None:
    topo = load_paths(
        [
            *manager_files(write),
            *network_files(write),
            write("status.json", az_deploy_status("westeurope")),
            write("mg.json", az_management_group_tree()),
            write("effective.json", effective_answer()),
        ]
    )
    again = load_documents([("export.json", json.loads(json.dumps(export_topology(topo))))])
    for name in (
        "network_managers", "network_groups", "static_members", "security_admin_configurations",
        "admin_rule_collections", "admin_rules", "deployment_statuses", "management_groups",
        "effective_admin_rules", "private_endpoints", "nat_gateways", "public_ips", "nics", "vnets",
    ):  # fmt: skip
        assert getattr(again, name) == getattr(topo, name), name


def test_to_arm_of_an_admin_rule_is_the_get_shape(write: Writer) -> None:
    topo = load_paths([*manager_files(write), *network_files(write)])
    rule = topo.admin_rule(f"{COLLECTION}/rules/deny-mgmt-from-internet")
    assert rule is not None
    body = to_arm(rule)
    assert body["kind"] == "Custom" and body["type"].endswith("/ruleCollections/rules")
    assert body["properties"]["sources"] == [{"addressPrefix": "Internet", "addressPrefixType": "ServiceTag"}]
    assert parse_resource("rules", body, rule.id) == rule


# --- the official REST examples (read in place; skipped when the checkout is absent) -------------------------


EXAMPLES_DIR = REALWORLD / "azure-rest-api-specs/network/2026-01-01/examples"


EXAMPLES = [
    ("networkManagers", "NetworkManagerGet.json"),
    ("networkGroups", "NetworkManagerGroupGet.json"),
    ("staticMembers", "NetworkManagerStaticMemberGet.json"),
    ("securityAdminConfigurations", "NetworkManagerSecurityAdminConfigurationGet.json"),
    ("ruleCollections", "NetworkManagerAdminRuleCollectionGet.json"),
    ("rules", "NetworkManagerAdminRuleGet.json"),
    ("rules", "NetworkManagerDefaultAdminRuleGet.json"),
    ("privateEndpoints", "PrivateEndpointGet.json"),
    ("natGateways", "NatGatewayGet.json"),
]


@needs_realworld
@pytest.mark.parametrize(("kind", "example"), EXAMPLES)
def test_official_examples_parse_and_export_back(kind: str, example: str) -> None:
    data = json.loads((EXAMPLES_DIR / example).read_text())
    body = data["responses"]["200"]["body"]
    resource = parse_resource(kind, body, body["id"])
    assert parse_resource(kind, to_arm(resource), body["id"]) == resource


@needs_realworld
def test_official_list_and_deployment_examples_load() -> None:
    folder = EXAMPLES_DIR
    names = [
        "NetworkManagerList.json",
        "NetworkManagerGroupList.json",
        "NetworkManagerStaticMemberList.json",
        "NetworkManagerSecurityAdminConfigurationList.json",
        "NetworkManagerAdminRuleCollectionList.json",
        "NetworkManagerAdminRuleList.json",
        "NetworkManagerDeploymentStatusList.json",
        "PrivateEndpointList.json",
        "NatGatewayList.json",
    ]
    docs = [(n, json.loads((folder / n).read_text())["responses"]["200"]["body"]) for n in names]
    topo = load_documents(docs, validate=False)
    assert topo.network_managers and topo.network_groups and topo.static_members
    assert topo.security_admin_configurations and topo.admin_rule_collections and topo.admin_rules
    assert {s.deployment_status for s in topo.deployment_statuses} == {
        DeploymentState.DEPLOYING,
        DeploymentState.DEPLOYED,
    }
    assert topo.private_endpoints and topo.nat_gateways
    effective = json.loads((folder / "NetworkManagerEffectiveSecurityAdminRulesList.json").read_text())
    body = {**effective["responses"]["200"]["body"], "virtualNetworkId": VNET}
    answer = load_documents([("effective.json", body)], validate=False).effective_admin_rules[VNET.casefold()]
    assert answer.rules[0].rule.kind is AdminRuleKind.DEFAULT and answer.rules[0].rule.flag == "AllowVnetInbound"


def test_validate_command_counts_avnm_resources_and_prints_the_note(write: Writer) -> None:
    from typer.testing import CliRunner

    from opennsg.cli.main import app

    paths = [str(p) for p in (*manager_files(write), *network_files(write))]
    result = CliRunner().invoke(app, ["validate", *paths, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["resources"]["securityAdminRules"] == 2 and out["resources"]["privateEndpoints"] == 1
    (note,) = out["notes"]
    assert "counts as deployed in every region" in note
    human = CliRunner().invoke(app, ["validate", *paths])
    assert human.exit_code == 0 and "note: No deployment status names" in human.output.replace("\n", " ")


def test_validate_command_exits_2_on_admin_rule_errors(write: Writer) -> None:
    from typer.testing import CliRunner

    from opennsg.cli.main import app

    files = manager_files(write)
    files[-1].write_text(json.dumps([az_rule("bad", 5000)]), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", *map(str, files), *map(str, network_files(write)), "--json"])
    assert result.exit_code == 2
    assert "SecurityAdminRuleInvalidPriority" in result.output
