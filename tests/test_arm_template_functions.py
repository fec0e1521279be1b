# ruff: noqa: E501  (the documented examples read best one per line)
"""Every category of Azure's template function reference: the documented examples (inputs and documented outputs),
argument checking, and the published uniqueString input/output pairs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from opennsg.arm.parse import Reader
from opennsg.arm.template import DeploymentContext, Unknown, expand
from opennsg.arm.template.functions import REGISTRY
from opennsg.arm.template.functions.hashing import murmur64, unique_string

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def evaluate(expression: str, *, context: DeploymentContext | None = None, **sections: Any) -> Any:
    """The value of ``expression`` as an output of an otherwise empty template (problems raise)."""
    template = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": []}
    template["outputs"] = {"o": {"type": "object", "value": expression}}
    reader = Reader("t.json: ")
    outputs = expand(template, reader, context=context).outputs
    assert not reader.problems, reader.problems
    return outputs["o"]["value"]


def problems(expression: str, **sections: Any) -> list[str]:
    template = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", **sections, "resources": []}
    template["outputs"] = {"o": {"type": "object", "value": expression}}
    reader = Reader("t.json: ")
    expand(template, reader)
    return [p.message for p in reader.problems]


DOCUMENTED = [
    # string functions
    ("[base64('one, two, three')]", "b25lLCB0d28sIHRocmVl"),
    ("[base64ToString('b25lLCB0d28sIHRocmVl')]", "one, two, three"),
    ("[base64ToJson('eyJvbmUiOiAiYSIsICJ0d28iOiAiYiJ9')]", {"one": "a", "two": "b"}),
    ("[contains('OneTwoThree', 'e')]", True),
    ("[contains('OneTwoThree', 'z')]", False),
    ('[contains(json(\'{"one": "a", "two": "b"}\'), \'one\')]', True),
    ("[contains(createArray('one', 'two', 'three'), 'three')]", True),
    ("[contains(createArray('one', 'two', 'three'), 'four')]", False),
    ("[dataUri('Hello')]", "data:text/plain;charset=utf8;base64,SGVsbG8="),
    ("[dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')]", "Hello, World!"),
    ("[empty('')]", True),
    ("[empty(createArray())]", True),
    ("[empty(json('{}'))]", True),
    ("[endsWith('abcdef', 'ef')]", True),
    ("[endsWith('abcdef', 'F')]", True),
    ("[endsWith('abcdef', 'e')]", False),
    ("[startsWith('abcdef', 'ab')]", True),
    ("[startsWith('abcdef', 'A')]", True),
    ("[startsWith('abcdef', 'e')]", False),
    ("[first('One Two Three')]", "O"),
    ("[first(createArray('one', 'two', 'three'))]", "one"),
    ("[last('One Two Three')]", "e"),
    ("[last(createArray('one', 'two', 'three'))]", "three"),
    (
        "[format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)]",
        "Hello, User. Formatted number: 8,175,133",
    ),
    ("[format('{0:D5}|{0,4}|{0,-4}|{{x}}', 12)]", "00012|  12|12  |{x}"),
    ("[indexOf('test', 't')]", 0),
    ("[indexOf('abcdef', 'CD')]", 2),
    ("[indexOf('abcdef', 'z')]", -1),
    ("[lastIndexOf('test', 't')]", 3),
    ("[lastIndexOf('abcdef', 'AB')]", 0),
    ("[indexOf(createArray('abc', 'def', 'ghi'), 'def')]", 1),
    ("[join(createArray('one', 'two', 'three'), ',')]", "one,two,three"),
    ("[join(createArray('one', 'two', 'three'), ';')]", "one;two;three"),
    ("[length('One Two Three')]", 13),
    ("[length(createArray('one', 'two', 'three'))]", 3),
    ('[length(json(\'{"a": 1, "b": {"c": 2}}\'))]', 2),
    ("[padLeft('123', 10, '0')]", "0000000123"),
    ("[replace('123-123-1234', '-', '')]", "1231231234"),
    ("[replace('123-123-1234', '1234', 'xxxx')]", "123-123-xxxx"),
    ("[skip('one two three', 4)]", "two three"),
    ("[skip(createArray('one', 'two', 'three'), 2)]", ["three"]),
    ("[split('one,two,three', ',')]", ["one", "two", "three"]),
    ("[split('one;two,three', createArray(',', ';'))]", ["one", "two", "three"]),
    ('[string(json(\'{"valueA": 10, "valueB": "Example Text"}\'))]', '{"valueA":10,"valueB":"Example Text"}'),
    ("[string(createArray('a', 'b', 'c'))]", '["a","b","c"]'),
    ("[string(5)]", "5"),
    ("[substring('one two three', 4, 3)]", "two"),
    ("[take('one two three', 2)]", "on"),
    ("[take(createArray('one', 'two', 'three'), 2)]", ["one", "two"]),
    ("[toLower('One Two Three')]", "one two three"),
    ("[toUpper('One Two Three')]", "ONE TWO THREE"),
    ("[trim('    one two three   ')]", "one two three"),
    (
        "[uri('http://contoso.com/resources/', 'nested/azuredeploy.json')]",
        "http://contoso.com/resources/nested/azuredeploy.json",
    ),
    ("[uri('http://contoso.org/firstpath', 'myscript.sh')]", "http://contoso.org/myscript.sh"),
    (
        "[uri('http://contoso.org/firstpath/azuredeploy.json', 'myscript.sh')]",
        "http://contoso.org/firstpath/myscript.sh",
    ),
    (
        "[uriComponent('http://contoso.com/resources/nested/azuredeploy.json')]",
        "http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json",
    ),
    (
        "[uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')]",
        "http://contoso.com/resources/nested/azuredeploy.json",
    ),
    ("[concat('prefix-', 5, '-', 'suffix')]", "prefix-5-suffix"),
    ("[concat(createArray('1-1', '1-2'), createArray('2-1'))]", ["1-1", "1-2", "2-1"]),
    # array functions
    ("[array('efgh')]", ["efgh"]),
    ("[array(1)]", [1]),
    ("[createArray(1, 2, 3)]", [1, 2, 3]),
    ("[intersection(createArray('one', 'two', 'three'), createArray('two', 'three'))]", ["two", "three"]),
    (
        '[intersection(json(\'{"one": "a", "two": "b", "three": "c"}\'), '
        'json(\'{"one": "a", "two": "z", "three": "c"}\'))]',
        {"one": "a", "three": "c"},
    ),
    ("[union(createArray('one', 'two', 'three'), createArray('three', 'four'))]", ["one", "two", "three", "four"]),
    (
        '[union(json(\'{"one": "a", "two": "b", "three": "c1"}\'), '
        'json(\'{"three": "c2", "four": "d", "five": "e"}\'))]',
        {"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"},
    ),
    (
        '[union(json(\'{"nested": {"a": 1, "arr": [1]}}\'), json(\'{"nested": {"b": 2, "arr": [2]}}\'))]',
        {"nested": {"a": 1, "arr": [2], "b": 2}},
    ),
    ("[max(createArray(0, 3, 2, 5, 4))]", 5),
    ("[max(0, 3, 2, 5, 4)]", 5),
    ("[min(createArray(0, 3, 2, 5, 4))]", 0),
    ("[range(1, 5)]", [1, 2, 3, 4, 5]),
    ("[range(5, 0)]", []),
    (
        "[flatten(createArray(createArray('one', 'two'), createArray('three'), createArray('four', 'five')))]",
        ["one", "two", "three", "four", "five"],
    ),
    # comparison functions
    ("[coalesce(null(), null(), 'default')]", "default"),
    ("[coalesce(null(), null())]", None),
    ("[equals(1, 1)]", True),
    ("[equals('a', 'A')]", False),
    ("[equals(createArray('a', 'b'), createArray('a', 'b'))]", True),
    ('[equals(json(\'{"a": "b"}\'), json(\'{"a": "b"}\'))]', True),
    ("[greater(10, 5)]", True),
    ("[greater('A', 'a')]", True),
    ("[greaterOrEquals(10, 10)]", True),
    ("[less(10, 5)]", False),
    ("[less('A', 'a')]", False),
    ("[lessOrEquals(5, 5)]", True),
    # logical functions
    ("[and(true(), false())]", False),
    ("[and(true(), true(), true())]", True),
    ("[or(true(), false())]", True),
    ("[or(false(), false())]", False),
    ("[not(true())]", False),
    ("[bool('true')]", True),
    ("[bool('False')]", False),
    ("[bool(0)]", False),
    ("[bool(1)]", True),
    ("[if(equals('a', 'a'), 'yes', 'no')]", "yes"),
    (
        "[if(equals('a', 'b'), substring('x', 5, 1), 'only the branch taken is evaluated')]",
        "only the branch taken is evaluated",
    ),
    # numeric functions
    ("[add(5, 3)]", 8),
    ("[sub(7, 3)]", 4),
    ("[mul(5, 3)]", 15),
    ("[div(8, 3)]", 2),
    ("[div(-8, 3)]", -2),
    ("[mod(7, 3)]", 1),
    ("[mod(-7, 3)]", -1),
    ("[int('4')]", 4),
    ("[float('3.5')]", 3.5),
    # object functions
    (
        "[createObject('intProp', 1, 'stringProp', 'abc', 'boolProp', true())]",
        {"intProp": 1, "stringProp": "abc", "boolProp": True},
    ),
    (
        '[items(json(\'{"item002": {"enabled": false}, "item001": {"enabled": true}}\'))]',
        [{"key": "item001", "value": {"enabled": True}}, {"key": "item002", "value": {"enabled": False}}],
    ),
    ('[objectKeys(json(\'{"a": 1, "b": 2}\'))]', ["a", "b"]),
    ('[shallowMerge(createArray(json(\'{"one": "a"}\'), json(\'{"two": "b"}\')))]', {"one": "a", "two": "b"}),
    (
        '[shallowMerge(createArray(json(\'{"one": "a", "nested": {"a": 1, "nested": {"c": 3}}}\'), '
        'json(\'{"two": "b", "nested": {"b": 2}}\')))]',
        {"one": "a", "nested": {"b": 2}, "two": "b"},
    ),
    ("[tryGet(json('{\"a\": 1}'), 'b')]", None),
    ("[tryGet(json('{\"a\": {\"b\": 2}}'), 'a', 'b')]", 2),
    ('[json(\'{"a": "b"}\').a]', "b"),
    ("[json('null')]", None),
    ("[null()]", None),
    # CIDR functions
    (
        "[parseCidr('10.144.0.0/20')]",
        {
            "network": "10.144.0.0",
            "netmask": "255.255.240.0",
            "broadcast": "10.144.15.255",
            "firstUsable": "10.144.0.1",
            "lastUsable": "10.144.15.254",
            "cidr": 20,
        },
    ),
    (
        "[parseCidr('fdad:3236:5555::/48')]",
        {
            "network": "fdad:3236:5555::",
            "netmask": "ffff:ffff:ffff::",
            "firstUsable": "fdad:3236:5555::",
            "lastUsable": "fdad:3236:5555:ffff:ffff:ffff:ffff:ffff",
            "cidr": 48,
        },
    ),
    ("[cidrSubnet('10.144.0.0/20', 24, 0)]", "10.144.0.0/24"),
    ("[cidrSubnet('10.144.0.0/20', 24, 15)]", "10.144.15.0/24"),
    ("[cidrSubnet('fdad:3236:5555::/48', 52, 1)]", "fdad:3236:5555:1000::/52"),
    ("[cidrHost('10.144.3.0/24', 0)]", "10.144.3.1"),
    ("[cidrHost('10.144.3.0/24', 253)]", "10.144.3.254"),
    # date functions
    ("[dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')]", "2023-04-07T14:53:14Z"),
    ("[dateTimeAdd('2020-04-07 14:53:14Z', '-PT9H')]", "2020-04-07T05:53:14Z"),
    ("[dateTimeAdd('2020-04-07 14:53:14Z', 'PT1H', 'yyyy-MM-dd')]", "2020-04-07"),
    ("[dateTimeFromEpoch(1683040573)]", "2023-05-02T15:16:13Z"),
    ("[dateTimeToEpoch('2023-05-02T15:16:13Z')]", 1683040573),
    # lambda functions
    ("[map(createArray(1, 2, 3), lambda('x', mul(lambdaVariables('x'), 2)))]", [2, 4, 6]),
    (
        "[map(createArray('a', 'b'), lambda('x', 'i', concat(lambdaVariables('x'), string(lambdaVariables('i')))))]",
        ["a0", "b1"],
    ),
    ("[filter(createArray(1, 6, 3, 8), lambda('x', greaterOrEquals(lambdaVariables('x'), 5)))]", [6, 8]),
    (
        "[reduce(createArray(1, 2, 3), 0, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next'))))]",
        6,
    ),
    ("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), lambdaVariables('b'))))]", [1, 2, 3]),
    (
        "[toObject(createArray('a', 'bb'), lambda('x', lambdaVariables('x')), lambda('x', length(lambdaVariables('x'))))]",
        {"a": 1, "bb": 2},
    ),
    (
        "[groupBy(createArray('foo', 'bar', 'baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))]",
        {"f": ["foo"], "b": ["bar", "baz"]},
    ),
    ("[mapValues(json('{\"foo\": \"foo\"}'), lambda('v', toUpper(lambdaVariables('v'))))]", {"foo": "FOO"}),
    # deployment and scope functions
    ("[environment().name]", "AzureCloud"),
    ("[environment().suffixes.storage]", "core.windows.net"),
    ("[deployment().name]", "opennsg-deployment"),
    ("[resourceGroup().location]", "eastus"),
    ("[subscription().subscriptionId]", "00000000-0000-0000-0000-000000000000"),
    # resource functions
    (
        "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'abc')]",
        "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/abc",
    ),
    (
        "[tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p')]",
        "/providers/Microsoft.Authorization/policyDefinitions/p",
    ),
    (
        "[extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'lock')]",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/opennsg-template/providers/"
        "Microsoft.Authorization/locks/lock",
    ),
    (
        "[managementGroupResourceId('mg1', 'Microsoft.Authorization/policyDefinitions', 'p')]",
        "/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/policyDefinitions/p",
    ),
    (
        "[resourceId('microsoft.insights/components/', 'app')]",
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/opennsg-template/providers/"
        "microsoft.insights/components/app",
    ),
    # expression syntax
    ("[json('{\"a\": [10, 20]}')['a'][1]]", 20),
    ("[json('{\"A\": 1}').a]", 1),
    ("[json('{\"a\": null}').?a.?b]", None),
    ("['it''s']", "it's"),
    ("[[not an expression]", "[not an expression]"),
]


@pytest.mark.parametrize(("expression", "expected"), DOCUMENTED)
def test_documented_examples(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


# Published input/output pairs of uniqueString (people who re-derived the algorithm checked them against Azure).
@pytest.mark.parametrize(
    ("args", "expected"),
    [(("test",), "rbgf3xv4ufgzg"), (("hello", "world"), "a7wkljktk6wne"), (("tyeth",), "zcztcwvu6iyg6")],
)
def test_unique_string_matches_azure(args: tuple[str, ...], expected: str) -> None:
    assert unique_string(*args) == expected
    quoted = ", ".join(f"'{a}'" for a in args)
    assert evaluate(f"[uniqueString({quoted})]") == expected


def test_unique_string_hash_is_the_published_64_bit_value() -> None:
    assert murmur64(b"hello-world") == 571013382255652050


def test_guid_is_a_version_5_uuid_of_the_hyphen_joined_arguments_in_azures_namespace() -> None:
    value = evaluate("[guid('a', 'b')]")
    parsed = uuid.UUID(value)
    assert (parsed.version, parsed.variant) == (5, uuid.RFC_4122)
    assert value == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b"))
    assert evaluate("[guid('a-b')]") == value != evaluate("[guid('b', 'a')]")


def test_the_context_sets_scope_functions() -> None:
    context = DeploymentContext(subscription_id="sub-1", resource_group="rg-1", location="westeurope")
    assert evaluate("[resourceGroup().id]", context=context) == "/subscriptions/sub-1/resourceGroups/rg-1"
    assert evaluate("[resourceGroup().location]", context=context) == "westeurope"
    assert evaluate("[uniqueString(resourceGroup().id)]", context=context) == unique_string(
        "/subscriptions/sub-1/resourceGroups/rg-1"
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "[substring('abc', 2, 5)]",
            "The template language function 'substring': the index and length parameters (2, 5) must refer to a location within the string 'abc' (length 3).",
        ),
        (
            "[add(1, 'a')]",
            "The template language function 'add' expects its second parameter to be of type 'Integer'. The provided value is of type 'String'.",
        ),
        ("[div(1, 0)]", "The template language function 'div' cannot divide by zero."),
        (
            "[uniqueString()]",
            "The template language function 'uniqueString' expects at least 1 parameter(s); 0 were given.",
        ),
        ("[padLeft('a', 3, 'xy')]", "The template language function 'padLeft' expects a single padding character."),
        (
            "[newGuid()]",
            "The template function 'newGuid' can be used only in the defaultValue of a parameter (Azure refuses it elsewhere).",
        ),
        (
            "[copyIndex()]",
            "The template function 'copyIndex' is not expected here: it is used outside a resource or output copy loop (copyIndex can be used only inside a copy loop, named when the loop is a property or variable loop).",
        ),
        ("[range(0, 10001)]", "The template language function 'range': the count 10001 must be from 0 to 10000."),
        (
            "[json('{')]",
            "The template language function 'json': the text is not valid JSON (Expecting property name enclosed in double quotes).",
        ),
        (
            "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v')]",
            "Unable to evaluate template language function 'resourceId': the type 'Microsoft.Network/virtualNetworks/subnets' requires '2' resource name argument(s); 1 were given.",
        ),
        (
            "[createArray(1)[3]]",
            "The language expression property array index '3' is out of bounds (the array has 1 item(s)) in 'createArray(1)[3]'.",
        ),
    ],
)
def test_argument_checking(expression: str, message: str) -> None:
    assert problems(expression) == [message]


def test_every_category_of_the_reference_is_registered() -> None:
    expected = {
        "array",
        "concat",
        "contains",
        "createarray",
        "empty",
        "first",
        "flatten",
        "indexof",
        "intersection",
        "last",
        "lastindexof",
        "length",
        "max",
        "min",
        "range",
        "skip",
        "take",
        "union",
        "parsecidr",
        "cidrsubnet",
        "cidrhost",
        "coalesce",
        "equals",
        "greater",
        "greaterorequals",
        "less",
        "lessorequals",
        "datetimeadd",
        "datetimefromepoch",
        "datetimetoepoch",
        "utcnow",
        "deployment",
        "environment",
        "parameters",
        "variables",
        "filter",
        "groupby",
        "lambda",
        "lambdavariables",
        "map",
        "mapvalues",
        "reduce",
        "sort",
        "toobject",
        "and",
        "bool",
        "false",
        "if",
        "not",
        "or",
        "true",
        "add",
        "copyindex",
        "div",
        "float",
        "int",
        "mod",
        "mul",
        "sub",
        "createobject",
        "items",
        "json",
        "null",
        "objectkeys",
        "shallowmerge",
        "tryget",
        "extensionresourceid",
        "managementgroupresourceid",
        "pickzones",
        "providers",
        "reference",
        "references",
        "resourceid",
        "subscriptionresourceid",
        "tenantresourceid",
        "managementgroup",
        "resourcegroup",
        "subscription",
        "tenant",
        "base64",
        "base64tojson",
        "base64tostring",
        "datauri",
        "datauritostring",
        "endswith",
        "format",
        "guid",
        "join",
        "newguid",
        "padleft",
        "replace",
        "split",
        "startswith",
        "string",
        "substring",
        "tolower",
        "toupper",
        "trim",
        "uniquestring",
        "uri",
        "uricomponent",
        "uricomponenttostring",
        # newer entries of the reference (and Bicep's functions that compile to ARM functions of the same name)
        "deployer",
        "distinct",
        "like",
        "fail",
        "indexfromend",
        "tryindexfromend",
        "tologicalzone",
        "tologicalzones",
        "tophysicalzone",
        "tophysicalzones",
        "parseuri",
        "builduri",
        "extensions",
    }
    assert expected <= set(REGISTRY)


def test_run_time_functions_are_typed_placeholders_that_flow() -> None:
    value = evaluate("[concat(reference('elsewhere').ipAddress, '/32')]")
    assert isinstance(value, Unknown) and value.kind == "string" and value.origin == "reference('elsewhere').ipAddress"
    keys = evaluate("[listKeys(resourceId('Microsoft.Storage/storageAccounts', 's'), '2023-01-01').keys[0].value]")
    assert isinstance(keys, Unknown) and "listKeys" in keys.origin
    assert isinstance(evaluate("[pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')]"), Unknown)
    assert evaluate("[providers('Microsoft.Network', 'virtualNetworks').namespace]") == "Microsoft.Network"
    assert isinstance(evaluate("[subscription().tenantId]"), Unknown)
    assert evaluate("[if(true(), 'known', reference('x').y)]") == "known"
    assert evaluate("[and(false(), reference('x').flag)]") is False
    assert isinstance(evaluate("[and(true(), reference('x').flag)]"), Unknown)


def test_new_guid_and_utc_now_are_allowed_as_parameter_defaults() -> None:
    """They are concrete, so names made of them exist: utcNow() is the deployment's time (one for the whole
    deployment), newGuid() a GUID per parameter that is the same on every read of the same deployment."""
    parameters = {
        "stamp": {"type": "string", "defaultValue": "[utcNow('yyyyMMdd-HHmm')]"},
        "plain": {"type": "string", "defaultValue": "[utcNow()]"},
        "id1": {"type": "string", "defaultValue": "[newGuid()]"},
        "id2": {"type": "string", "defaultValue": "[newGuid()]"},
    }
    at = DeploymentContext(deployed_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    value = "[createArray(parameters('stamp'), parameters('plain'), parameters('id1'), parameters('id2'))]"
    stamp, plain, id1, id2 = evaluate(value, context=at, parameters=parameters)
    assert (stamp, plain) == ("20260304-0506", "20260304T050607Z")
    assert uuid.UUID(id1) != uuid.UUID(id2)
    assert evaluate(value, context=at, parameters=parameters)[2:] == [id1, id2]


def test_user_defined_functions() -> None:
    functions = [
        {
            "namespace": "contoso",
            "members": {
                "uniqueName": {
                    "parameters": [{"name": "namePrefix", "type": "string"}],
                    "output": {"type": "string", "value": "[concat(toLower(parameters('namePrefix')), '-x')]"},
                }
            },
        }
    ]
    assert evaluate("[contoso.uniqueName('WEB')]", functions=functions) == "web-x"
    assert problems("[contoso.other('a')]", functions=functions)[0].startswith("The template function 'contoso.other'")


NEWER = [
    ("[distinct(createArray(1, 2, 1, 'a', 'a', createArray(1), createArray(1)))]", [1, 2, "a", [1]]),
    ("[distinct(createArray())]", []),
    ("[like('abcdef', 'a*f')]", True),
    ("[like('abcdef', 'A*')]", True),
    ("[like('abcdef', '*e')]", False),
    ("[like('a.c', 'a.c')]", True),
    ("[like('abc', 'a.c')]", False),
    # Json.NET reads JSON leniently, as ARM does: the docs' base64ToJson example of "{'one': 'a', 'two': 'b'}"
    ("[base64ToJson(base64('{''one'': ''a'', ''two'': ''b''}'))]", {"one": "a", "two": "b"}),
    ("[json('{a: 1, /* comment */ ''b'': [1, 2,],}')]", {"a": 1, "b": [1, 2]}),
    # Bicep's arr[?^n] compiles to tryGet with an index from the end
    ("[tryGet(createArray(1, 2, 3), createObject('value', 1, 'fromEnd', true()))]", 3),
    ("[tryGet(createArray(1, 2, 3), createObject('value', 4, 'fromEnd', true()))]", None),
    ("[tryGet(createObject('a', createArray(5, 6)), 'a', createObject('value', 0, 'fromEnd', false()))]", 5),
    # parseUri/buildUri as .NET's Uri reads and writes URIs (the scheme's default port implied, then left out)
    (
        "[parseUri('https://example.org/a/b?x=1')]",
        {"scheme": "https", "host": "example.org", "port": 443, "path": "/a/b", "query": "?x=1"},
    ),
    ("[parseUri('http://h:8080').port]", 8080),
    ("[buildUri(parseUri('https://example.org/a/b?x=1'))]", "https://example.org/a/b?x=1"),
    (
        "[buildUri(createObject('scheme', 'http', 'host', 'h', 'port', 8080, 'path', 'p', 'query', 'q=2'))]",
        "http://h:8080/p?q=2",
    ),
]


@pytest.mark.parametrize(("expression", "expected"), NEWER)
def test_newer_functions(expression: str, expected: Any) -> None:
    assert evaluate(expression) == expected


def test_fail_stops_the_deployment_with_the_templates_message() -> None:
    assert problems("[fail('region not supported')]") == [
        "The template stopped the deployment with fail(): region not supported"
    ]


def test_json_that_not_even_json_net_reads_is_refused() -> None:
    assert problems("[json('{a: ')]")[0].startswith("The template language function 'json': the text is not valid JSON")


def test_deployer_and_zone_mappings_are_known_only_to_azure() -> None:
    assert isinstance(evaluate("[deployer().objectId]"), Unknown)
    zone = evaluate("[toPhysicalZone(subscription().subscriptionId, 'westeurope', '1')]")
    assert isinstance(zone, Unknown) and zone.kind == "string"
