"""No input makes the service answer 5xx: schemathesis against /openapi.json, and hypothesis mutating valid ARM
bodies of every writable resource (bounded example counts keep this within the suite's time budget)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api.conftest import API, SUB, TOKENS, auth, rid, rule_body

from opennsg.api import ServiceConfig, create_app

#: Examples per operation; raise it (e.g. OPENNSG_FUZZ_EXAMPLES=200) for a deeper run outside the default suite.
EXAMPLES = int(os.environ.get("OPENNSG_FUZZ_EXAMPLES", "8"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(ServiceConfig(db_url=str(tmp_path_factory.mktemp("fuzz") / "fuzz.db"), tokens=TOKENS))


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
@FUZZ_SETTINGS
def test_schemathesis_finds_no_server_error(case: Any) -> None:
    response = case.call(headers=auth())
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])


# --- structured mutation of valid bodies -------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
INTERESTING_TEXT = st.sampled_from(
    ["*", "", " ", "10.0.0.0/33", "::/0", "Internet", "VirtualNetwork", "1-0", "65536", "0-65535", "a" * 200,
     "/subscriptions/x", "Tcp", "tcp", "Deny", "Outbound", "🙂", "\x00", "1.2.3.4", "fe80::1/64",
     # issue 9's classes: lone surrogates, other scripts' digits, underscores in numbers, zone ids, bad prefixes
     "\ud800", "a\udfffb", "８０", "1_000", "fe80::1%eth0", "999.1.1.1/99", "not-a-prefix", "Teleport",
     "not-an-id", "10.30.1.999"]
)  # fmt: skip


def mutate(body: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> Any:
    """Replace one value somewhere in ``body`` (a leaf, a list or an object) with random or tricky JSON."""
    if isinstance(body, dict) and body and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(body)))
        return {**body, key: mutate(body[key], draw)}
    if isinstance(body, list) and body and draw(st.booleans()):
        index = draw(st.integers(0, len(body) - 1))
        return [*body[:index], mutate(body[index], draw), *body[index + 1 :]]
    return draw(JSON_VALUES | INTERESTING_TEXT)


@pytest.fixture(scope="module")
def seeded(fuzz_app: Any) -> Iterator[TestClient]:
    """A client on a database holding one of everything, so mutated writes reach deep validation."""
    with TestClient(fuzz_app, headers=auth()) as client:
        for group in ("rg1", "NetworkWatcherRG"):
            client.put(f"/subscriptions/{SUB}/resourcegroups/{group}?{API}", json={"location": "westus"})
        for path, body in VALID_BODIES:
            response = client.put(f"{path}?{API}", json=body)
            assert response.status_code in (200, 201), (path, response.text)
        yield client


NSG = rid("networkSecurityGroups", "nsg1")
VNET = rid("virtualNetworks", "vnet1")
ASG = rid("applicationSecurityGroups", "asg1")
NIC = rid("networkInterfaces", "nic1")
ROUTES = rid("routeTables", "rt1")
PIP = rid("publicIPAddresses", "pip1")
WATCHER = rid("networkWatchers", "NetworkWatcher_westus", group="NetworkWatcherRG")
VALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    (ASG, {"location": "westus"}),
    (NSG, {"location": "westus", "properties": {"securityRules": [{"name": "r1", **rule_body(100)}]}}),
    (NSG + "/securityRules/r2", rule_body(200)),
    (
        VNET,
        {
            "location": "westus",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {"name": "app", "properties": {"addressPrefix": "10.0.0.0/24", "networkSecurityGroup": {"id": NSG}}}
                ],
            },
        },
    ),
    (VNET + "/subnets/other", {"properties": {"addressPrefix": "10.0.1.0/24"}}),
    (
        NIC,
        {
            "location": "westus",
            "properties": {
                "ipConfigurations": [
                    {
                        "name": "ipconfig1",
                        "properties": {
                            "privateIPAddress": "10.0.0.4",
                            "subnet": {"id": VNET + "/subnets/app"},
                            "applicationSecurityGroups": [{"id": ASG}],
                        },
                    }
                ],
                "networkSecurityGroup": {"id": NSG},
            },
        },
    ),
    (WATCHER, {"location": "westus"}),
    (
        ROUTES,
        {
            "location": "westus",
            "properties": {
                "routes": [
                    {
                        "name": "fw",
                        "properties": {
                            "addressPrefix": "0.0.0.0/0",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.0.10",
                        },
                    }
                ]
            },
        },
    ),
    (PIP, {"location": "westus", "properties": {"ipAddress": "20.1.2.3"}}),
]
ACTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        WATCHER + "/ipFlowVerify",
        {
            "targetResourceId": NIC,
            "direction": "Inbound",
            "protocol": "TCP",
            "localIPAddress": "10.0.0.4",
            "localPort": "443",
            "remoteIPAddress": "52.1.2.3",
            "remotePort": "1000",
        },
    ),
    (
        WATCHER + "/networkConfigurationDiagnostic",
        {
            "targetResourceId": NIC,
            "profiles": [
                {
                    "direction": "Inbound",
                    "protocol": "TCP",
                    "source": "52.1.2.3",
                    "destination": "10.0.0.4",
                    "destinationPort": "443",
                }
            ],
        },
    ),
    (WATCHER + "/securityGroupView", {"targetResourceId": NIC}),
    (
        WATCHER + "/nextHop",
        {"targetResourceId": NIC, "sourceIPAddress": "10.0.0.4", "destinationIPAddress": "52.1.2.3"},
    ),
]


@given(data=st.data())
@settings(max_examples=EXAMPLES * 12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_mutated_bodies_never_cause_server_errors(seeded: TestClient, data: st.DataObject) -> None:
    method, path, body = data.draw(
        st.sampled_from([("PUT", p, b) for p, b in VALID_BODIES] + [("POST", p, b) for p, b in ACTIONS])
    )
    mutated = mutate(body, data.draw)
    # json.dumps escapes what UTF-8 cannot carry (a lone surrogate), as a hostile client's bytes would
    payload = json.dumps(mutated).encode()
    response = seeded.request(method, f"{path}?{API}", content=payload, headers={"content-type": "application/json"})
    assert response.status_code < 500, (method, path, mutated, response.text[:500])
    if response.status_code >= 400:
        assert "error" in response.json() and response.json()["error"]["code"]


def test_schema_documents_every_arm_route(fuzz_schema: Any) -> None:
    operations = {op.ok().label for op in fuzz_schema.get_all_operations()}
    watcher = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network"
    assert f"POST {watcher}/networkWatchers/{{networkWatcherName}}/ipFlowVerify" in operations
    assert len(operations) > 60


def test_lro_headers_of_a_watcher_with_a_non_latin1_location_are_percent_encoded(client: TestClient) -> None:
    """Found by the mutation fuzzer: a location outside latin-1 made the 202's headers unencodable (a 500).
    Built on a fresh database like ``seeded``'s: the fuzz tests leave that one mutated."""
    for group in ("rg1", "NetworkWatcherRG"):
        client.put(f"/subscriptions/{SUB}/resourcegroups/{group}?{API}", json={"location": "westus"})
    for resource, resource_body in VALID_BODIES:
        assert client.put(f"{resource}?{API}", json=resource_body).status_code in (200, 201)
    odd = rid("networkWatchers", "nw-odd", group="NetworkWatcherRG")
    assert client.put(f"{odd}?{API}", json={"location": "west\U00026588us"}).status_code in (200, 201)
    path, body = ACTIONS[0]
    answer = client.post(f"{path.replace(WATCHER, odd)}?{API}", json=body)
    assert answer.status_code == 202, answer.text
    assert "%F0%A6%96%88" in answer.headers["Azure-AsyncOperation"]
    assert client.get(answer.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"


# --- issue 9's classes of bad values outside NSG rules: each must be refused with its code, wherever it goes -------

BAD_PREFIXES = st.sampled_from(
    ["10.50.0.0/33", "not-a-prefix", "999.1.1.1/99", "10.0.0.0", "fe80::1%eth0/64", "1_0.0.0.0/8"]
)
BAD_ADDRESSES = st.sampled_from(["not-an-ip", "10.30.1.999", "１0.0.0.4", "10.0.0.4/32", "fe80::1%eth0"])
OVERSIZED_TAGS = st.one_of(
    st.integers(51, 70).map(lambda n: {f"t{i}": "v" for i in range(n)}),
    st.integers(513, 600).map(lambda n: {"n" * n: "v"}),
    st.integers(257, 300).map(lambda n: {"n": "v" * n}),
    st.sampled_from(["<", ">", "%", "&", "\\", "?", "/", "\x01"]).map(lambda c: {f"a{c}b": "v"}),
)
NOT_OBJECTS = st.one_of(st.text(max_size=5), st.integers(), st.lists(st.integers(), max_size=2), st.booleans())
NIC_CFG = ["properties", "ipConfigurations", 0, "properties"]
TOO_MANY_CONFIGURATIONS = [
    {"name": f"c{i}", "properties": {"subnet": {"id": f"{VNET}/subnets/app"}}} for i in range(257)
]
ROUTE = ["properties", "routes", 0, "properties"]
#: (resource, JSON path in its valid body, bad values, the codes that may answer).
HOSTILE_FIELDS: list[tuple[str, list[Any], st.SearchStrategy[Any], set[str]]] = [
    (VNET, ["properties", "addressSpace", "addressPrefixes", 0], BAD_PREFIXES, {"InvalidAddressPrefixFormat"}),
    (VNET, ["properties", "subnets", 0, "properties", "addressPrefix"], BAD_PREFIXES, {"InvalidAddressPrefixFormat"}),
    (VNET, ["properties", "subnets", 0, "properties", "addressPrefix"], st.sampled_from(["10.1.0.0/24", "0.0.0.0/0"]),
     {"NetcfgSubnetRangeOutsideVnet"}),
    (VNET, ["properties", "virtualNetworkPeerings"],
     st.sampled_from(["not-an-id", "subscriptions/x", VNET, VNET.upper() + "/"]).map(
         lambda remote: [{"name": "p", "properties": {"remoteVirtualNetwork": {"id": remote}}}]),
     {"LinkedInvalidPropertyId", "VirtualNetworkCannotPeerWithItself"}),
    (VNET, ["tags"], OVERSIZED_TAGS,
     {"InvalidTagCount", "InvalidTagName", "InvalidTagValueLength", "InvalidTagNameCharacters"}),
    (VNET, ["properties"], NOT_OBJECTS, {"InvalidRequestFormat"}),
    (VNET, ["properties", "addressSpace"], NOT_OBJECTS, {"InvalidRequestFormat"}),
    (NIC, [*NIC_CFG, "privateIPAddress"], BAD_ADDRESSES, {"InvalidPrivateIPAddressFormat"}),
    (NIC, [*NIC_CFG, "privateIPAddress"], st.sampled_from(["10.0.1.4", "10.0.0.0", "10.0.0.255", "10.0.0.2"]),
     {"PrivateIPAddressNotInSubnet", "PrivateIPAddressInReservedRange"}),
    (NIC, ["properties", "ipConfigurations"],
     st.sampled_from([[], TOO_MANY_CONFIGURATIONS]),
     {"NetworkInterfaceMustHaveIpConfiguration", "IpConfigurationsPerNetworkInterfaceLimitReached"}),
    (NIC, NIC_CFG, NOT_OBJECTS, {"InvalidRequestFormat"}),
    (NIC, ["tags"], OVERSIZED_TAGS,
     {"InvalidTagCount", "InvalidTagName", "InvalidTagValueLength", "InvalidTagNameCharacters"}),
    (ROUTES, [*ROUTE, "addressPrefix"], BAD_PREFIXES, {"InvalidAddressPrefixFormat"}),
    (ROUTES, [*ROUTE, "nextHopType"], st.sampled_from(["Teleport", "VNetPeering", "Vnet_Local", ""]),
     {"InvalidRouteNextHopType"}),
    (ROUTES, [*ROUTE, "nextHopIpAddress"], BAD_ADDRESSES | st.just(""),
     {"InvalidIPAddress", "RouteNextHopIpAddressRequired"}),
    (PIP, ["properties", "ipAddress"], BAD_ADDRESSES, {"InvalidIPAddress"}),
    (NSG, ["tags"], OVERSIZED_TAGS,
     {"InvalidTagCount", "InvalidTagName", "InvalidTagValueLength", "InvalidTagNameCharacters"}),
]  # fmt: skip


def _with(body: Any, path: list[Any], value: Any) -> Any:
    out = json.loads(json.dumps(body))
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


@given(data=st.data())
@settings(max_examples=EXAMPLES * 6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_bad_addresses_limits_and_shapes_are_refused_with_their_codes(seeded: TestClient, data: st.DataObject) -> None:
    resource, path, values, codes = data.draw(st.sampled_from(HOSTILE_FIELDS))
    value = data.draw(values)
    body = _with(dict(VALID_BODIES)[resource], path, value)
    before = seeded.get(f"{resource}?{API}").json()
    response = seeded.put(f"{resource}?{API}", json=body)
    assert response.status_code == 400, (resource, path, value, response.text[:500])
    error = response.json()["error"]
    answered = {error["code"], *(d["code"] for d in error["details"])}
    assert answered & codes, (value, answered)
    assert seeded.get(f"{resource}?{API}").json() == before
