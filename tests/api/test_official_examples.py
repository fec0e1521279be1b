"""Microsoft's REST API examples (Microsoft.Network 2026-01-01) replayed against the service.

Every example whose operation the service routes is sent, with what it refers to created first through the API;
every response body (the initial one, and the final one of a long-running operation) must match the swagger's
response schema. The operations the service does not implement are listed here, so a new route shows up as a
failure until it leaves the list (and its examples are then replayed).

Nothing written is lost: every writable (not ``readOnly``) property of every example request, and of requests
written here for the properties no shared example carries, comes back in the PUT's answer and in a later GET; the
same bodies survive the ARM import/export round trip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import TOKENS, auth
from tests.api.official_examples import (
    SPEC,
    Example,
    Replay,
    documented_statuses,
    examples,
    replay,
    request_schema,
    schema_problems,
    writable_differences,
)

from opennsg import arm
from opennsg.api import ServiceConfig, create_app

pytestmark = pytest.mark.skipif(not SPEC.is_dir(), reason=f"the official REST API specification is not at {SPEC}")

#: Operations with examples that the service does not implement (operation ids of the swagger files).
NOT_IMPLEMENTED = frozenset(
    {
        "AddressPrefixSets_CreateOrUpdate",  # network manager IPAM: not modelled
        "AddressPrefixSets_Delete",
        "AddressPrefixSets_List",
        "ServiceTagInformation_List",
    }
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One in-process service for every example (each example works in a subscription of its own)."""
    database = Path(tmp_path_factory.mktemp("official")) / "opennsg.db"
    with TestClient(create_app(ServiceConfig(db_url=str(database), tokens=TOKENS)), headers=auth()) as client:
        yield client


@pytest.fixture(scope="module")
def replayed(service: TestClient) -> Callable[[Example], Replay]:
    """Each example replayed once per module (the schema and the writable-property tests read the same answers)."""
    done: dict[str, Replay] = {}

    def get(example: Example) -> Replay:
        if example.file.name not in done:
            done[example.file.name] = replay(service, example)
        return done[example.file.name]

    return get


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path).casefold()


@pytest.fixture(scope="module")
def routed(service: TestClient) -> frozenset[tuple[str, str]]:
    """(path template, method) of every operation the service publishes in its OpenAPI document."""
    document = service.get("/openapi.json").json()
    return frozenset((_template(path), method) for path, item in document["paths"].items() for method in item)


def implemented(example: Example, routed: frozenset[tuple[str, str]]) -> bool:
    return (_template(example.path), example.method) in routed


def test_the_not_implemented_operations_are_exactly_the_listed_ones(routed: frozenset[tuple[str, str]]) -> None:
    missing = {e.operation_id for e in examples() if not implemented(e, routed)}
    assert missing == NOT_IMPLEMENTED, (
        f"newly implemented (remove from NOT_IMPLEMENTED): {sorted(NOT_IMPLEMENTED - missing)}; "
        f"not implemented and not listed: {sorted(missing - NOT_IMPLEMENTED)}"
    )
    assert len(examples()) == len(list(SPEC.glob("examples/*.json"))), "every example file belongs to an operation"


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.name)
def test_every_response_matches_the_official_schema(
    example: Example, replayed: Callable[[Example], Replay], routed: frozenset[tuple[str, str]]
) -> None:
    if not implemented(example, routed):
        assert example.operation_id in NOT_IMPLEMENTED
        pytest.skip(f"{example.operation_id} is not implemented")
    result = replayed(example)
    assert not result.setup_failures, result.setup_failures
    problems: list[str] = []
    for exchange in result.exchanges:
        if exchange.status not in documented_statuses(example):
            problems.append(f"{exchange.label}: undocumented status {exchange.status}: {exchange.body}")
            continue
        problems += [
            f"{exchange.label} {exchange.status}: {p}" for p in schema_problems(example, exchange.status, exchange.body)
        ]
    assert not problems, "\n".join(problems)


WRITES = [e for e in examples() if e.method in ("put", "patch") and request_schema(e) is not None]


@pytest.mark.parametrize("example", WRITES, ids=lambda e: e.name)
def test_every_writable_property_of_an_example_request_comes_back(
    example: Example, service: TestClient, replayed: Callable[[Example], Replay], routed: frozenset[tuple[str, str]]
) -> None:
    if not implemented(example, routed):
        pytest.skip(f"{example.operation_id} is not implemented")
    result = replayed(example)
    schema = request_schema(example)
    assert schema is not None and result.body is not None
    answered = result.exchanges[0]
    assert answered.status in (200, 201), answered.body
    later = service.get(result.url)
    problems = writable_differences(*schema, result.body, answered.body)
    problems += [f"later GET: {p}" for p in writable_differences(*schema, result.body, later.json())]
    assert not problems, "\n".join(problems)


# --- properties no shared example carries ----------------------------------------------------------------------------

SUB = "11111111-2222-3333-4444-555555555555"
GROUP = f"/subscriptions/{SUB}/resourceGroups/written"
NET = f"{GROUP}/providers/Microsoft.Network"
VNET = f"{NET}/virtualNetworks/hub"
REMOTE = f"{NET}/virtualNetworks/spoke"


def _operation(operation_id: str) -> Example:
    """The swagger operation (any of its examples carries it)."""
    return next(e for e in examples() if e.operation_id == operation_id)


def written_bodies() -> list[tuple[str, str, str, dict[str, Any]]]:
    """(operation id, ARM kind, resource id, body) for writable properties the shared examples never send."""
    subnet = {
        "name": "app",
        "properties": {
            "addressPrefix": "10.1.0.0/24",
            "serviceEndpoints": [
                {"service": "Microsoft.Storage", "locations": ["eastus", "westus"]},
                {"service": "Microsoft.Sql"},
            ],
            "serviceEndpointPolicies": [{"id": f"{NET}/serviceEndpointPolicies/storage-only"}],
            "delegations": [{"name": "to-sql", "properties": {"serviceName": "Microsoft.Sql/managedInstances"}}],
        },
    }
    hub = {
        "location": "eastus",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
            "subnets": [subnet, {"name": "web", "properties": {"addressPrefix": "10.1.1.0/24"}}],
            "bgpCommunities": {"virtualNetworkCommunity": "12076:20000"},
            "encryption": {"enabled": True, "enforcement": "AllowUnencrypted"},
        },
    }
    peering = {
        "properties": {
            "remoteVirtualNetwork": {"id": REMOTE},
            "allowVirtualNetworkAccess": True,
            "allowForwardedTraffic": True,
            "allowGatewayTransit": False,
            "useRemoteGateways": False,
            "peerCompleteVnets": False,
            "localSubnetNames": ["web"],
            "remoteSubnetNames": ["db"],
            "enableOnlyIPv6Peering": False,
        }
    }
    public_ip = {
        "location": "eastus",
        "zones": ["1", "2", "3"],
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4",
            "idleTimeoutInMinutes": 15,
            "dnsSettings": {"domainNameLabel": "written-app", "domainNameLabelScope": "TenantReuse"},
        },
    }
    nic = {
        "location": "eastus",
        "properties": {
            "enableAcceleratedNetworking": True,
            "disableTcpStateTracking": True,
            "ipConfigurations": [
                {
                    "name": "primary",
                    "properties": {
                        "primary": True,
                        "privateIPAllocationMethod": "Static",
                        "privateIPAddress": "10.1.1.10",
                        "subnet": {"id": f"{VNET}/subnets/web"},
                        "publicIPAddress": {"id": f"{NET}/publicIPAddresses/written-ip"},
                        "gatewayLoadBalancer": {"id": f"{NET}/loadBalancers/gwlb/frontendIPConfigurations/fe"},
                    },
                },
                {
                    "name": "block",
                    "properties": {"privateIPAddressPrefixLength": 28, "subnet": {"id": f"{VNET}/subnets/web"}},
                },
            ],
        },
    }
    return [
        ("VirtualNetworks_CreateOrUpdate", "virtualNetworks", VNET, hub),
        (
            "VirtualNetworkPeerings_CreateOrUpdate",
            "virtualNetworkPeerings",
            f"{VNET}/virtualNetworkPeerings/p",
            peering,
        ),
        ("PublicIPAddresses_CreateOrUpdate", "publicIPAddresses", f"{NET}/publicIPAddresses/written-ip", public_ip),
        ("NetworkInterfaces_CreateOrUpdate", "networkInterfaces", f"{NET}/networkInterfaces/written-nic", nic),
    ]


def test_properties_no_example_shows_come_back_and_match_the_schema(service: TestClient) -> None:
    api = "api-version=2026-01-01"
    assert service.put(f"{GROUP}?{api}", json={"location": "eastus"}).status_code == 201
    spoke = {"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.2.0.0/16"]}}}
    spoke["properties"]["subnets"] = [{"name": "db", "properties": {"addressPrefix": "10.2.0.0/24"}}]
    assert service.put(f"{REMOTE}?{api}", json=spoke).status_code == 201
    # the gateway load balancer the NIC chains to (a reference to a missing one is refused, as in Azure)
    frontend = {"name": "fe", "properties": {"subnet": {"id": f"{REMOTE}/subnets/db"}}}
    gateway = {"location": "eastus", "sku": {"name": "Gateway"}, "properties": {"frontendIPConfigurations": [frontend]}}
    assert service.put(f"{NET}/loadBalancers/gwlb?{api}", json=gateway).status_code == 201
    problems: list[str] = []
    for operation_id, _, resource_id, body in written_bodies():
        operation = _operation(operation_id)
        schema = request_schema(operation)
        assert schema is not None
        answered = service.put(f"{resource_id}?{api}", json=body)
        assert answered.status_code in (200, 201), answered.text
        later = service.get(f"{resource_id}?{api}").json()
        for label, got in (("PUT", answered.json()), ("GET", later)):
            problems += [f"{operation_id} {label}: {p}" for p in writable_differences(*schema, body, got)]
            problems += [f"{operation_id} {label} schema: {p}" for p in schema_problems(operation, 200, got)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", written_bodies(), ids=lambda c: c[1])
def test_written_properties_survive_the_arm_round_trip(case: tuple[str, str, str, dict[str, Any]]) -> None:
    operation_id, kind, resource_id, body = case
    model = arm.parse_resource(kind, body, resource_id)
    exported = arm.to_arm(model)
    schema = request_schema(_operation(operation_id))
    assert schema is not None
    assert writable_differences(*schema, body, exported) == []
    assert arm.parse_resource(kind, exported, resource_id) == model
