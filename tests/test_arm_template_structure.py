# ruff: noqa: E501  (templates and outcome tables read best one entry per line)
"""Template structure: copy loops (resources, properties, variables, outputs) against their unrolled twins,
symbolic-name templates (what Bicep emits) against classic ones, nested deployments in both expression scopes,
linked templates, placeholders that are an error only when a verdict needs them, and the CLI's deployment inputs."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opennsg.arm import load_documents, load_paths
from opennsg.arm.template import DeploymentContext, TemplateInputs
from opennsg.cli.main import app
from opennsg.model import OpenNsgError
from opennsg.model.topology import Topology

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
RG = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/opennsg-template"


def template(resources: Any, **sections: Any) -> dict[str, Any]:
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": resources}


def rule(name: str, priority: int, port: str, direction: str = "Inbound", access: str = "Allow") -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "protocol": "Tcp",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": port,
            "access": access,
            "priority": priority,
            "direction": direction,
        },
    }


def nsg(name: str, properties: Any) -> dict[str, Any]:
    return {
        "type": "Microsoft.Network/networkSecurityGroups",
        "apiVersion": "2024-05-01",
        "name": name,
        "location": "[resourceGroup().location]",
        "properties": properties,
    }


def load(doc: dict[str, Any], inputs: TemplateInputs | None = None) -> Topology:
    return load_documents([("t.json", doc)], inputs=inputs)


def errors(doc: dict[str, Any], inputs: TemplateInputs | None = None) -> list[tuple[str, str, str | None]]:
    with pytest.raises(OpenNsgError) as raised:
        load_documents([("t.json", doc)], inputs=inputs)
    return [(e.code, e.message, e.target) for e in raised.value.errors]


def rules_of(topology: Topology) -> dict[str, list[tuple[Any, ...]]]:
    return {
        n.name: sorted(
            (r.name, r.priority, r.direction.value, r.access.value, r.destination_port_range) for r in n.security_rules
        )
        for n in topology.nsgs.values()
    }


PORTS = st.lists(st.integers(min_value=1, max_value=65535), min_size=0, max_size=30, unique=True)


@settings(max_examples=25, deadline=None)
@given(ports=PORTS, offset=st.integers(min_value=100, max_value=3000))
def test_a_property_copy_loop_equals_its_unrolled_template(ports: list[int], offset: int) -> None:
    looped = template(
        [
            nsg(
                "nsg",
                {
                    "copy": [
                        {
                            "name": "securityRules",
                            "count": "[length(parameters('ports'))]",
                            "input": {
                                "name": "[concat('allow-', parameters('ports')[copyIndex('securityRules')])]",
                                "properties": {
                                    "protocol": "Tcp",
                                    "sourceAddressPrefix": "*",
                                    "sourcePortRange": "*",
                                    "destinationAddressPrefix": "*",
                                    "destinationPortRange": "[string(parameters('ports')[copyIndex('securityRules')])]",
                                    "access": "Allow",
                                    "priority": "[copyIndex('securityRules', parameters('offset'))]",
                                    "direction": "Inbound",
                                },
                            },
                        }
                    ]
                },
            )
        ],
        parameters={
            "ports": {"type": "array", "defaultValue": ports},
            "offset": {"type": "int", "defaultValue": offset},
        },
    )
    unrolled = template(
        [nsg("nsg", {"securityRules": [rule(f"allow-{p}", offset + i, str(p)) for i, p in enumerate(ports)]})]
    )
    assert rules_of(load(looped)) == rules_of(load(unrolled))


@settings(max_examples=20, deadline=None)
@given(count=st.integers(min_value=0, max_value=12), start=st.integers(min_value=0, max_value=5))
def test_a_resource_copy_loop_equals_its_unrolled_template(count: int, start: int) -> None:
    looped = template(
        [
            {
                **nsg(
                    "[format('nsg-{0}', copyIndex(parameters('start')))]", {"securityRules": [rule("ssh", 100, "22")]}
                ),
                "copy": {"name": "nsgs", "count": "[parameters('count')]", "mode": "Serial", "batchSize": 2},
            }
        ],
        parameters={"count": {"type": "int", "defaultValue": count}, "start": {"type": "int", "defaultValue": start}},
    )
    unrolled = template([nsg(f"nsg-{i + start}", {"securityRules": [rule("ssh", 100, "22")]}) for i in range(count)])
    assert rules_of(load(looped)) == rules_of(load(unrolled))


def test_variable_and_output_loops_and_child_rules_by_resource_copy() -> None:
    doc = template(
        [
            nsg("web", {"securityRules": "[variables('rules')]"}),
            {
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "apiVersion": "2024-05-01",
                "name": "[concat('web/out-', copyIndex())]",
                "copy": {"name": "outbound", "count": 2},
                "dependsOn": ["[resourceId('Microsoft.Network/networkSecurityGroups', 'web')]"],
                "properties": "[union(variables('base'), createObject('priority', add(200, copyIndex())))]",
            },
        ],
        variables={
            "copy": [
                {
                    "name": "rules",
                    "count": 2,
                    "input": rule("[concat('in-', copyIndex('rules'))]", "[add(100, copyIndex('rules'))]", "443"),
                }
            ],
            "base": {**rule("x", 1, "80", "Outbound", "Deny")["properties"]},
        },
        outputs={"names": {"type": "array", "copy": {"count": 2, "input": "[concat('in-', copyIndex())]"}}},
    )
    assert rules_of(load(doc)) == {
        "web": [
            ("in-0", 100, "Inbound", "Allow", "443"),
            ("in-1", 101, "Inbound", "Allow", "443"),
            ("out-0", 200, "Outbound", "Deny", "80"),
            ("out-1", 201, "Outbound", "Deny", "80"),
        ]
    }


def test_copy_count_limits_are_azures() -> None:
    doc = template([{**nsg("[concat('n', copyIndex())]", {}), "copy": {"name": "l", "count": 801}}])
    assert errors(doc) == [
        (
            "InvalidTemplate",
            "The copy count 801 is out of range: it must be from 0 to 800.",
            "t.json: resources[0].copy.count",
        )
    ]


# --- Bicep's symbolic-name output and its classic twin -------------------------------------------------

BICEP_SYMBOLIC = {
    "$schema": SCHEMA,
    "languageVersion": "2.0",
    "contentVersion": "1.0.0.0",
    "metadata": {"_generator": {"name": "bicep", "version": "0.30.23.60470", "templateHash": "1"}},
    "definitions": {"portList": {"type": "array", "items": {"type": "int"}}},
    "functions": [
        {
            "namespace": "__bicep",
            "members": {
                "ruleName": {
                    "parameters": [{"type": "int", "name": "port"}],
                    "output": {"type": "string", "value": "[format('allow-{0}', parameters('port'))]"},
                }
            },
        }
    ],
    "parameters": {
        "prefix": {"type": "string", "defaultValue": "app"},
        "ports": {"$ref": "#/definitions/portList", "defaultValue": [22, 443]},
    },
    "variables": {"vnetName": "[format('{0}-vnet', parameters('prefix'))]"},
    "resources": {
        "nsg": {
            "type": "Microsoft.Network/networkSecurityGroups",
            "apiVersion": "2024-05-01",
            "name": "[format('{0}-nsg', parameters('prefix'))]",
            "location": "[resourceGroup().location]",
            "properties": {
                "copy": [
                    {
                        "name": "securityRules",
                        "count": "[length(parameters('ports'))]",
                        "input": {
                            "name": "[__bicep.ruleName(parameters('ports')[copyIndex('securityRules')])]",
                            "properties": {
                                "protocol": "Tcp",
                                "sourceAddressPrefix": "*",
                                "sourcePortRange": "*",
                                "destinationAddressPrefix": "*",
                                "destinationPortRange": "[string(parameters('ports')[copyIndex('securityRules')])]",
                                "access": "Allow",
                                "priority": "[add(100, copyIndex('securityRules'))]",
                                "direction": "Inbound",
                            },
                        },
                    }
                ]
            },
        },
        "hub": {
            "existing": True,
            "type": "Microsoft.Network/virtualNetworks",
            "apiVersion": "2024-05-01",
            "name": "hub-vnet",
        },
        "vnet": {
            "type": "Microsoft.Network/virtualNetworks",
            "apiVersion": "2024-05-01",
            "name": "[variables('vnetName')]",
            "location": "[resourceGroup().location]",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {
                        "name": "front",
                        "properties": {
                            "addressPrefix": "[cidrSubnet('10.0.0.0/16', 24, 0)]",
                            "networkSecurityGroup": {
                                "id": "[resourceId('Microsoft.Network/networkSecurityGroups', format('{0}-nsg', parameters('prefix')))]"
                            },
                        },
                    }
                ],
            },
            "dependsOn": ["nsg"],
        },
    },
    "outputs": {
        "nsgId": {
            "type": "string",
            "value": "[resourceId('Microsoft.Network/networkSecurityGroups', format('{0}-nsg', parameters('prefix')))]",
        }
    },
}

CLASSIC_TWIN = template(
    [
        nsg("app-nsg", {"securityRules": [rule("allow-22", 100, "22"), rule("allow-443", 101, "443")]}),
        {
            "type": "Microsoft.Network/virtualNetworks",
            "apiVersion": "2024-05-01",
            "name": "app-vnet",
            "location": "[resourceGroup().location]",
            "dependsOn": ["[resourceId('Microsoft.Network/networkSecurityGroups', 'app-nsg')]"],
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {
                        "name": "front",
                        "properties": {
                            "addressPrefix": "10.0.0.0/24",
                            "networkSecurityGroup": {
                                "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'app-nsg')]"
                            },
                        },
                    }
                ],
            },
        },
    ]
)


def test_a_bicep_symbolic_name_template_and_its_classic_twin_give_the_same_topology() -> None:
    symbolic, classic = load(BICEP_SYMBOLIC), load(CLASSIC_TWIN)
    assert symbolic == classic
    assert rules_of(symbolic) == {
        "app-nsg": [("allow-22", 100, "Inbound", "Allow", "22"), ("allow-443", 101, "Inbound", "Allow", "443")]
    }
    (vnet,) = symbolic.vnets.values()
    assert vnet.subnets[0].network_security_group == f"{RG}/providers/Microsoft.Network/networkSecurityGroups/app-nsg"


def test_a_symbolic_dependency_on_nothing_is_refused() -> None:
    doc = copy.deepcopy(BICEP_SYMBOLIC)
    doc["resources"]["vnet"]["dependsOn"] = ["ghost"]
    assert [e[2] for e in errors(doc)] == ["t.json: resources.vnet.dependsOn[0]"]


# --- nested deployments ---------------------------------------------------------------------------------


def nested(
    scope: str | None, inner_template: dict[str, Any], resource_group: str | None = None, **extra: Any
) -> dict[str, Any]:
    properties: dict[str, Any] = {"mode": "Incremental", "template": inner_template, **extra}
    if scope:
        properties["expressionEvaluationOptions"] = {"scope": scope}
    placed = {"resourceGroup": resource_group} if resource_group else {}
    return {
        "type": "Microsoft.Resources/deployments",
        "apiVersion": "2022-09-01",
        "name": "inner",
        **placed,
        "properties": properties,
    }


def test_nested_deployment_in_the_outer_scope_uses_the_outer_parameters_and_variables() -> None:
    inner = template([nsg("[variables('name')]", {"securityRules": [rule("r", "[parameters('priority')]", "22")]})])
    doc = template(
        [nested(None, inner)],
        parameters={"priority": {"type": "int", "defaultValue": 150}},
        variables={"name": "outer-nsg"},
    )
    assert rules_of(load(doc)) == {"outer-nsg": [("r", 150, "Inbound", "Allow", "22")]}


def test_nested_deployment_in_the_inner_scope_takes_parameters_and_returns_outputs() -> None:
    inner = template(
        [nsg("[parameters('name')]", {"securityRules": [rule("r", 100, "[parameters('port')]")]})],
        parameters={"name": {"type": "string"}, "port": {"type": "string", "defaultValue": "80"}},
        outputs={"nsgName": {"type": "string", "value": "[parameters('name')]"}},
    )
    described = rule("r", 100, "22")
    described["properties"]["description"] = "[concat('from ', reference('inner').outputs.nsgName.value)]"
    outer = template(
        [
            nested("inner", inner, "other-rg", parameters={"name": {"value": "[variables('n')]"}}),
            nsg("outer-nsg", {"securityRules": [described]}),
        ],
        variables={"n": "inner-nsg"},
    )
    topology = load(outer)
    by_name = {n.name: n for n in topology.nsgs.values()}
    assert by_name["inner-nsg"].id == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/other-rg/providers/"
        "Microsoft.Network/networkSecurityGroups/inner-nsg"
    )
    assert by_name["outer-nsg"].security_rules[0].description == "from inner-nsg"


def test_an_outer_scope_deployment_cannot_take_parameters() -> None:
    doc = template([nested(None, template([]), parameters={"x": {"value": 1}})])
    assert [e[2] for e in errors(doc)] == ["t.json: resources[0].properties.parameters"]


def test_a_linked_template_by_relative_path_is_read_from_the_file_system(tmp_path: Path) -> None:
    child = template(
        [nsg("[parameters('name')]", {"securityRules": [rule("r", 100, "22")]})],
        parameters={"name": {"type": "string"}},
    )
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "nsg.json").write_text(json.dumps(child))
    main = template(
        [
            {
                "type": "Microsoft.Resources/deployments",
                "apiVersion": "2022-09-01",
                "name": "linked",
                "properties": {
                    "mode": "Incremental",
                    "templateLink": {"relativePath": "nested/nsg.json"},
                    "parameters": {"name": {"value": "linked-nsg"}},
                },
            }
        ]
    )
    (tmp_path / "main.json").write_text(json.dumps(main))
    # the linked template is deployed by the main one, not again on its own (it would lack its parameter)
    assert [n.name for n in load_paths([tmp_path]).nsgs.values()] == ["linked-nsg"]


def test_a_linked_template_that_is_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    """Linked files are read by the one safe reader (``model.files``): a FIFO is refused before it is opened."""
    os.mkfifo(tmp_path / "linked.json")
    link = {"relativePath": "linked.json"}
    main = template([{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "linked",
                      "properties": {"mode": "Incremental", "templateLink": link}}])  # fmt: skip
    (tmp_path / "main.json").write_text(json.dumps(main))
    with pytest.raises(OpenNsgError) as info:
        load_paths([tmp_path / "main.json"])
    assert "linked.json" in str(info.value)


def test_a_linked_template_nested_too_deep_is_one_clean_error(tmp_path: Path) -> None:
    deep: Any = {}
    for _ in range(200):
        deep = {"x": deep}
    (tmp_path / "linked.json").write_text(json.dumps(deep))
    link = {"relativePath": "linked.json"}
    main = template([{"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "linked",
                      "properties": {"mode": "Incremental", "templateLink": link}}])  # fmt: skip
    (tmp_path / "main.json").write_text(json.dumps(main))
    with pytest.raises(OpenNsgError) as info:
        load_paths([tmp_path / "main.json"])
    assert "linked.json" in str(info.value) and "cannot be read" in str(info.value)


def test_a_missing_relative_path_link_is_refused_and_a_missing_uri_link_is_noted(tmp_path: Path) -> None:
    def linked(name: str, link: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Microsoft.Resources/deployments",
            "apiVersion": "2022-09-01",
            "name": name,
            "properties": {"mode": "Incremental", "templateLink": link},
        }

    (tmp_path / "main.json").write_text(json.dumps(template([linked("a", {"relativePath": "nested/gone.json"})])))
    with pytest.raises(OpenNsgError) as raised:
        load_paths([tmp_path / "main.json"])
    ((problem),) = raised.value.errors
    assert problem.target == f"{tmp_path / 'main.json'}: resources[0].properties.templateLink"
    assert f"is not at {tmp_path / 'nested/gone.json'}" in problem.message

    remote = template([linked("b", {"uri": "https://example.org/t/vnet.json"}), nsg("n", {"securityRules": []})])
    (tmp_path / "main.json").write_text(json.dumps(remote))
    notes: list[str] = []
    assert [n.name for n in load_paths([tmp_path / "main.json"], notes=notes).nsgs.values()] == ["n"]
    (note,) = notes
    assert "'b' links 'https://example.org/t/vnet.json', which is not on disk" in note


def test_a_subscription_template_deploys_resource_groups_and_modules_into_them() -> None:
    """Bicep's targetScope = 'subscription': a resource group and a module deployed into it."""
    inner = template(
        [nsg("[format('{0}-nsg', resourceGroup().name)]", {"securityRules": [rule("r", 100, "22")]})],
        outputs={"where": {"type": "string", "value": "[resourceGroup().location]"}},
    )
    module = nested("inner", inner, "[parameters('rg')]")
    module["properties"]["expressionEvaluationOptions"] = {"scope": "inner"}
    module["dependsOn"] = ["[subscriptionResourceId('Microsoft.Resources/resourceGroups', parameters('rg'))]"]
    doc = template(
        [
            {
                "type": "Microsoft.Resources/resourceGroups",
                "apiVersion": "2022-09-01",
                "name": "[parameters('rg')]",
                "location": "[deployment().location]",
            },
            module,
        ],
        parameters={"rg": {"type": "string", "defaultValue": "net-rg"}},
        outputs={"sub": {"type": "string", "value": "[subscription().id]"}},
    )
    doc["$schema"] = "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
    inputs = TemplateInputs(context=DeploymentContext(location="westeurope"))
    (found,) = load(doc, inputs).nsgs.values()
    assert found.id == (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net-rg/providers/"
        "Microsoft.Network/networkSecurityGroups/net-rg-nsg"
    )
    doc["outputs"] = {"bad": {"type": "string", "value": "[resourceGroup().name]"}}
    ((_code, message, target),) = errors(doc, inputs)
    assert "not at a resource group's scope" in message and target == "t.json: outputs.bad.value"


def test_a_module_parameter_chosen_by_an_expression_may_be_a_key_vault_reference() -> None:
    inner = template(
        [nsg("[parameters('name')]", {"securityRules": [rule("r", 100, "22")]})],
        parameters={"name": {"type": "string"}, "secret": {"type": "securestring"}},
    )
    vault = (
        "createObject('keyVault', createObject('id', resourceId('Microsoft.KeyVault/vaults', 'kv')), 'secretName', 's')"
    )
    parameters = {
        "name": "[if(true(), createObject('value', 'chosen'), createObject('value', 'other'))]",
        "secret": f"[if(true(), createObject('reference', {vault}), createObject('value', 'plain'))]",
    }
    doc = template([nested("inner", inner, parameters=parameters)])
    doc["resources"][0]["properties"]["expressionEvaluationOptions"] = {"scope": "inner"}
    assert [n.name for n in load(doc).nsgs.values()] == ["chosen"]


def test_an_nsg_named_by_new_guid_exists_with_the_same_name_on_every_read() -> None:
    doc = template(
        [nsg("[parameters('name')]", {"securityRules": [rule("r", 100, "22")]})],
        parameters={"name": {"type": "string", "defaultValue": "[format('nsg-{0}', newGuid())]"}},
    )
    first, second = ([n.name for n in load(doc).nsgs.values()] for _ in range(2))
    assert first == second and first[0].startswith("nsg-") and len(first[0]) == 40


def test_extensibility_resources_and_run_time_names_do_not_break_dependencies() -> None:
    """Bicep extensibility resources (Kubernetes, Graph) are not Azure resources, and a resource named by
    reference() exists only at deployment; both may be named in dependsOn."""
    doc = template(
        {
            "k8sApp": {"import": "kubernetes", "type": "apps/Deployment@v1", "properties": {}},
            "image": {
                "type": "Microsoft.VirtualMachineImages/imageTemplates",
                "apiVersion": "2022-02-14",
                "name": "[parameters('imageName')]",
            },
            "guard": {**nsg("guard", {"securityRules": []}), "dependsOn": ["k8sApp", "image"]},
        },
        languageVersion="2.0",
        parameters={"imageName": {"type": "string", "defaultValue": "[reference('elsewhere').imageName]"}},
    )
    assert [n.name for n in load(doc).nsgs.values()] == ["guard"]


# --- placeholders, parameters, errors -------------------------------------------------------------------


def test_a_placeholder_is_an_error_only_when_the_verdict_needs_it() -> None:
    harmless = template(
        [
            nsg("n", {"securityRules": [rule("r", 100, "22")]}),
            {
                "type": "Microsoft.Storage/storageAccounts",
                "name": "s",
                "properties": {"key": "[listKeys('s', '2023-01-01').keys[0].value]"},
            },
        ],
        outputs={"ip": {"type": "string", "value": "[reference('pip').ipAddress]"}},
    )
    load(harmless)
    needed = template(
        [
            nsg(
                "n",
                {
                    "securityRules": [
                        {
                            **rule("r", 100, "22"),
                            "properties": {
                                **rule("r", 100, "22")["properties"],
                                "sourceAddressPrefix": "[reference('pip').ipAddress]",
                            },
                        }
                    ]
                },
            )
        ]
    )
    (only,) = errors(needed)
    assert only[0] == "DeploymentTimeValueNeeded"
    assert "reference('pip').ipAddress" in only[1] and "Microsoft.Network/networkSecurityGroups 'n'" in only[1]
    assert only[2] == "t.json: resources[0].properties.securityRules[0].properties.sourceAddressPrefix"


def test_every_missing_parameter_is_listed_once_and_nothing_downstream() -> None:
    doc = template(
        [
            nsg("[parameters('a')]", {"securityRules": [rule("r", "[parameters('b')]", "22")]}),
            {
                "type": "Microsoft.Network/virtualNetworks",
                "name": "v",
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [
                        {
                            "name": "s",
                            "properties": {
                                "addressPrefix": "10.0.0.0/24",
                                "networkSecurityGroup": {
                                    "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'x')]"
                                },
                            },
                        }
                    ],
                },
            },
        ],
        parameters={
            "a": {"type": "string"},
            "b": {"type": "int"},
            "c": {"type": "string", "defaultValue": "[parameters('a')]"},
        },
        variables={"v": "[parameters('a')]"},
    )
    found = errors(doc)
    missing = [e for e in found if "have no value" in e[1]]
    assert [e[2] for e in missing] == ["t.json: parameters"]  # one problem naming both, at once
    assert "'a', 'b' have no value" in missing[0][1]
    assert [e for e in found if e not in missing and "was not found" not in e[1]] == []


def test_deployment_inputs_give_parameters_and_context() -> None:
    doc = template(
        [nsg("[concat(parameters('env'), '-nsg')]", {"securityRules": [rule("r", "[parameters('priority')]", "22")]})],
        parameters={"env": {"type": "string", "allowedValues": ["dev", "prod"]}, "priority": {"type": "int"}},
    )
    inputs = TemplateInputs(
        context=DeploymentContext(subscription_id="sub-9", resource_group="rg-9", location="westeurope"),
        parameters={"env": "prod"},
        cli_values={"priority": "300"},
    )
    (n,) = load(doc, inputs).nsgs.values()
    assert (n.id, n.location, n.security_rules[0].priority) == (
        "/subscriptions/sub-9/resourceGroups/rg-9/providers/Microsoft.Network/networkSecurityGroups/prod-nsg",
        "westeurope",
        300,
    )
    refused = errors(doc, TemplateInputs(parameters={"env": "test", "priority": 1}))
    assert [e[2] for e in refused] == ["t.json: parameters.env"]


def test_cli_parameters_and_context_options(tmp_path: Path) -> None:
    doc = template(
        [nsg("[parameters('name')]", {"securityRules": [rule("r", 100, "[parameters('port')]")]})],
        parameters={"name": {"type": "string"}, "port": {"type": "string"}, "secret": {"type": "securestring"}},
    )
    (tmp_path / "main.json").write_text(json.dumps(doc))
    values = {
        "parameters": {
            "name": {"value": "cli-nsg"},
            "secret": {"reference": {"keyVault": {"id": "/kv"}, "secretName": "s"}},
        }
    }
    (tmp_path / "values.json").write_text(
        json.dumps(
            {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", **values}
        )
    )
    runner = CliRunner()
    args = [
        "show",
        "--json",
        str(tmp_path / "main.json"),
        "--parameters",
        str(tmp_path / "values.json"),
        "--parameter",
        "port=8443",
        "--subscription",
        "s-1",
        "--resource-group",
        "g-1",
        "--location",
        "northeurope",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (shown,) = json.loads(result.stdout)["networkSecurityGroups"]
    assert (
        shown["id"] == "/subscriptions/s-1/resourceGroups/g-1/providers/Microsoft.Network/networkSecurityGroups/cli-nsg"
    )
    assert [r["destinationPorts"] for r in shown["rules"] if not r["default"]] == [["8443"]]
    missing = runner.invoke(app, ["validate", "--json", str(tmp_path / "main.json")])
    assert missing.exit_code == 2
    error = json.loads(missing.stderr)["error"]
    assert error["target"].rsplit(": ", 1)[1] == "parameters" and error["details"] == []
    assert "The 3 template parameters 'name', 'port', 'secret' have no value" in error["message"]
    bad = runner.invoke(app, ["validate", str(tmp_path / "main.json"), "--parameter", "novalue"])
    assert bad.exit_code == 2 and "must be NAME=VALUE" in bad.stderr
