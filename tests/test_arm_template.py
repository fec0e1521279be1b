"""ARM templates: every supported expression, nested children, dependsOn, parameters files, clear errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from opennsg.arm import TEMPLATE_RESOURCE_GROUP, TEMPLATE_SUBSCRIPTION_ID, load_documents, load_paths
from opennsg.model import OpenNsgError

TEMPLATES = Path(__file__).parent / "data" / "arm" / "template"
BASE = f"/subscriptions/{TEMPLATE_SUBSCRIPTION_ID}/resourceGroups/{TEMPLATE_RESOURCE_GROUP}/providers/Microsoft.Network"
DESCRIPTION = "resources[0].properties.securityRules[0].properties.description"
SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def template(resources: list[dict[str, Any]], **sections: Any) -> dict[str, Any]:
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": resources}


def nsg_with_description(description: Any, **sections: Any) -> dict[str, Any]:
    """A template of one NSG whose only rule's description is ``description`` (an expression to evaluate)."""
    rule = {
        "name": "r1",
        "properties": {
            "description": description,
            "protocol": "Tcp",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "22",
            "access": "Allow",
            "priority": 100,
            "direction": "Inbound",
        },
    }
    resource = {
        "type": "Microsoft.Network/networkSecurityGroups",
        "name": "nsg",
        "properties": {"securityRules": [rule]},
    }
    return template([resource], **sections)


def description_of(doc: dict[str, Any]) -> str | None:
    (nsg,) = load_documents([("t.json", doc)]).nsgs.values()
    return nsg.security_rules[0].description


def template_errors(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    with pytest.raises(OpenNsgError) as raised:
        load_documents([("t.json", doc)])
    return [(e.code, e.message, e.target) for e in raised.value.errors]


@pytest.mark.parametrize(
    ("expression", "expected", "sections"),
    [
        ("plain text", "plain text", {}),
        ("[[literal]", "[literal]", {}),
        ("['it''s quoted']", "it's quoted", {}),
        ("[parameters('who')]", "ops", {"parameters": {"who": {"type": "string", "defaultValue": "ops"}}}),
        ("[variables('v')]", "from a variable", {"variables": {"v": "from a variable"}}),
        ("[variables('chain')]", "x-y", {"variables": {"a": "x", "chain": "[concat(variables('a'), '-y')]"}}),
        ("[concat('a', 'b', 3)]", "ab3", {}),
        ("[format('{0}/{1}-{0}', 'p', 'q')]", "p/q-p", {}),
        ("[format('{{literal}} {0}', 1)]", "{literal} 1", {}),
        ("[resourceGroup().location]", "eastus", {}),
        ("[resourceGroup().name]", TEMPLATE_RESOURCE_GROUP, {}),
        ("[subscription().subscriptionId]", TEMPLATE_SUBSCRIPTION_ID, {}),
        ("[variables('o').inner.name]", "deep", {"variables": {"o": {"inner": {"name": "deep"}}}}),
        ("[variables('o')['inner']['name']]", "deep", {"variables": {"o": {"inner": {"name": "deep"}}}}),
        ("[variables('list')[1]]", "second", {"variables": {"list": ["first", "second"]}}),
        ("[concat(variables('l1'), variables('l2'))[2]]", "c", {"variables": {"l1": ["a", "b"], "l2": ["c"]}}),
        ("[resourceId('Microsoft.Network/networkSecurityGroups', 'n')]", f"{BASE}/networkSecurityGroups/n", {}),
        (
            "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's')]",
            f"{BASE}/virtualNetworks/v/subnets/s",
            {},
        ),
        (
            "[resourceId('other-rg', 'Microsoft.Network/routeTables', 'rt')]",
            f"/subscriptions/{TEMPLATE_SUBSCRIPTION_ID}/resourceGroups/other-rg/providers/Microsoft.Network/routeTables/rt",
            {},
        ),
        (
            "[resourceId('sub-2', 'rg-2', 'Microsoft.Network/routeTables', 'rt')]",
            "/subscriptions/sub-2/resourceGroups/rg-2/providers/Microsoft.Network/routeTables/rt",
            {},
        ),
        (
            "[ concat( format('{0}', parameters('p')) , '-' ) ]",
            "P-",
            {"parameters": {"p": {"type": "string", "defaultValue": "P"}}},
        ),
    ],
)
def test_supported_expressions(expression: str, expected: str, sections: dict[str, Any]) -> None:
    assert description_of(nsg_with_description(expression, **sections)) == expected


def test_parameter_defaults_may_use_expressions_and_earlier_parameters() -> None:
    sections = {
        "parameters": {
            "region": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "label": {"type": "string", "defaultValue": "[concat('in-', parameters('region'))]"},
        }
    }
    assert description_of(nsg_with_description("[parameters('label')]", **sections)) == "in-eastus"


def test_an_unknown_function_is_named_with_its_path() -> None:
    assert template_errors(nsg_with_description("[noSuchFunction('x')]")) == [
        (
            "InvalidTemplate",
            "The template function 'noSuchFunction' is not valid: it is neither one of Azure's template functions "
            "nor a user-defined function of this template (see https://aka.ms/arm-functions).",
            f"t.json: {DESCRIPTION}",
        )
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("[parameters('nope')]", "The template parameter 'nope' is not declared in the template's 'parameters'."),
        ("[variables('nope')]", "The template variable 'nope' is not declared in the template's 'variables'."),
        (
            "[concat('a']",
            "The expression '[concat('a']' is not valid: ',' or ')' expected in the arguments of 'concat' "
            "(at 'the end').",
        ),
        (
            "[concat('a',]",
            "The expression '[concat('a',]' is not valid: ')' expected to close the arguments of 'concat' "
            "(at 'the end').",
        ),
        (
            "[concat('a') extra]",
            "The expression '[concat('a') extra]' is not valid: unexpected text after the expression (at 'extra').",
        ),
        (
            "[format('{1}', 'only')]",
            "The format string '{1}' refers to argument {1}, but 'format' was given only 1 argument(s) after it.",
        ),
        (
            "[resourceGroup().nothing]",
            "The language expression property 'nothing' doesn't exist, available properties are 'id, name, type, "
            "location, managedBy, tags, properties' (in 'resourceGroup().nothing').",
        ),
        ("['unterminated]", "The expression '['unterminated]' cannot be parsed near ''unterminated'."),
        (
            "[toLower(1)]",
            "The template language function 'toLower' expects its first parameter to be of type 'String'. "
            "The provided value is of type 'Integer'.",
        ),
        (
            "[toLower('a', 'b')]",
            "The template language function 'toLower' expects exactly 1 parameter(s); 2 were given.",
        ),
    ],
)
def test_expression_errors(expression: str, message: str) -> None:
    assert template_errors(nsg_with_description(expression)) == [("InvalidTemplate", message, f"t.json: {DESCRIPTION}")]


def test_a_parameter_without_value_or_default() -> None:
    doc = nsg_with_description("x", parameters={"needed": {"type": "string"}})
    assert template_errors(doc) == [
        (
            "InvalidTemplate",
            "The template parameter 'needed' has no value: give it in a parameters file (--parameters FILE), "
            "with --parameter needed=VALUE, or as a defaultValue.",
            "t.json: parameters.needed",
        )
    ]


def test_a_variable_that_refers_to_itself() -> None:
    doc = nsg_with_description("[variables('a')]", variables={"a": "[variables('a')]"})
    assert template_errors(doc) == [
        (
            "InvalidTemplate",
            "The template variable 'a' refers to itself (a circular definition).",
            "t.json: variables.a",
        )
    ]


def test_fixture_template_with_its_parameters_file() -> None:
    t = load_paths([TEMPLATES])
    (nsg,) = t.nsgs.values()
    assert nsg.id == f"{BASE}/networkSecurityGroups/prod-nsg"
    assert (nsg.location, dict(nsg.tags)) == ("eastus", {"owner": "team-prod"})
    ssh, web = nsg.security_rules
    assert (ssh.description, ssh.source_address_prefix, ssh.destination_port_range) == (
        "SSH from 192.168.10.0/24, it's fine",
        "192.168.10.0/24",
        "22",
    )
    assert (web.id, web.description, web.destination_port_ranges) == (
        f"{nsg.id}/securityRules/allow-web",
        "[not an expression]",
        ("80", "443"),
    )
    (vnet,) = t.vnets.values()
    assert [(s.name, s.network_security_group) for s in vnet.subnets] == [("front", nsg.id), ("back", None)]
    (peering,) = vnet.peerings
    assert peering.remote_virtual_network == (
        "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-hub/providers/Microsoft.Network/"
        "virtualNetworks/hub"
    )


def test_without_the_parameters_file_defaults_apply() -> None:
    t = load_paths([TEMPLATES / "network.json"])
    assert [n.name for n in t.nsgs.values()] == ["dev-nsg"]


def test_the_only_parameters_file_applies_to_the_only_template(tmp_path: Path) -> None:
    (tmp_path / "main.json").write_text((TEMPLATES / "network.json").read_text())
    (tmp_path / "values.json").write_text((TEMPLATES / "network.parameters.json").read_text())
    assert [n.name for n in load_paths([tmp_path]).nsgs.values()] == ["prod-nsg"]


def test_a_parameters_file_without_its_template() -> None:
    params = json.loads((TEMPLATES / "network.parameters.json").read_text())
    with pytest.raises(OpenNsgError) as raised:
        load_documents([("x.parameters.json", params)])
    assert [(e.code, e.target) for e in raised.value.errors] == [("InvalidTemplate", "x.parameters.json")]


def test_depends_on_must_name_a_resource_of_the_template() -> None:
    doc = json.loads((TEMPLATES / "network.json").read_text())
    doc["resources"][1]["dependsOn"] = ["[resourceId('Microsoft.Network/networkSecurityGroups', 'ghost')]", "dev-nsg"]
    assert template_errors(doc) == [
        (
            "InvalidTemplate",
            f"The resource '{BASE}/networkSecurityGroups/ghost' named in dependsOn is not defined in the template "
            "(Azure refuses the deployment): name a resource of this template by name, resource id or symbolic name.",
            "t.json: resources[1].dependsOn[0]",
        )
    ]


def test_condition_false_skips_a_resource_and_copy_repeats_one() -> None:
    doc = json.loads((TEMPLATES / "network.json").read_text())
    skipped = copy.deepcopy(doc)
    skipped["resources"][2]["condition"] = "[equals(1, 2)]"
    (vnet,) = load_documents([("t.json", skipped)]).vnets.values()
    assert [s.name for s in vnet.subnets] == ["front"]
    looped = copy.deepcopy(doc)
    extra = copy.deepcopy(doc["resources"][0])
    extra["copy"] = {"name": "loop", "count": 2}
    extra["name"] = "[concat(parameters('prefix'), '-extra', copyIndex(1))]"
    looped["resources"].append(extra)
    looped["resources"][1]["dependsOn"] = ["loop"]
    names = sorted(n.name for n in load_documents([("t.json", looped)]).nsgs.values())
    assert names == ["dev-extra1", "dev-extra2", "dev-nsg"]


def test_template_errors_come_with_the_rest() -> None:
    doc = nsg_with_description("[noSuchFunction('x')]")
    bad_nsg = {"id": f"{BASE}/networkSecurityGroups/other", "properties": {"securityRules": [{"name": "r"}]}}
    with pytest.raises(OpenNsgError) as raised:
        load_documents([("t.json", doc), ("n.json", bad_nsg)])
    assert [e.code for e in raised.value.errors] == ["InvalidTemplate", *["MissingRequiredProperty"] * 4]


def test_a_parameters_file_may_only_set_declared_parameters() -> None:
    doc = json.loads((TEMPLATES / "network.json").read_text())
    params = json.loads((TEMPLATES / "network.parameters.json").read_text())
    params["parameters"]["typo"] = {"value": 1}
    with pytest.raises(OpenNsgError) as raised:
        load_documents([("n.json", doc), ("n.parameters.json", params)])
    assert [(e.code, e.message, e.target) for e in raised.value.errors] == [
        (
            "InvalidTemplate",
            "The parameter 'typo' is given a value but the template does not declare it (Azure refuses undeclared "
            "parameters).",
            "n.json: parameters",
        )
    ]


def test_an_expression_nested_thousands_deep_is_one_clean_error() -> None:
    deep = "[string(" + "not(" * 3000 + "true()" + ")" * 3001 + "]"  # 15,000 characters: within Azure's limit
    ((code, message, target),) = template_errors(nsg_with_description(deep))
    assert code == "InvalidTemplate" and target == f"t.json: {DESCRIPTION}"
    assert "more than 100 levels deep" in message and len(message) < 400


def test_an_expression_nested_as_deep_as_allowed_evaluates() -> None:
    assert description_of(nsg_with_description("[" + "concat(" * 100 + "'a'" + ")" * 100 + "]")) == "a"


def test_an_expression_longer_than_azure_allows_is_refused() -> None:
    long = "[concat(" + ", ".join(["'abcdefghij'"] * 2100) + ")]"
    ((_code, message, _target),) = template_errors(nsg_with_description(long))
    assert "longer than the 24,576 characters Azure allows" in message and len(message) < 400
