"""One validation for the CLI and the service (issue 9's addresses and limits, issue 16's "one validation"): every
invalid case is fed to the loader (``opennsg validate`` / ``serve --import``) and to an API PUT, and both must
refuse it with the same ARM codes, all problems at once, and the service must store nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import API, SUB, TOKENS, auth, rid
from typer.testing import CliRunner

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_paths
from opennsg.cli.main import app as cli_app
from opennsg.model.errors import OpenNsgError

VNET = rid("virtualNetworks", "vnet1")
SUBNET = f"{VNET}/subnets/app"
NIC = rid("networkInterfaces", "nic1")
ROUTES = rid("routeTables", "rt1")
PIP = rid("publicIPAddresses", "pip1")
TYPES = {
    "virtualNetworks": "Microsoft.Network/virtualNetworks",
    "networkInterfaces": "Microsoft.Network/networkInterfaces",
    "routeTables": "Microsoft.Network/routeTables",
    "publicIPAddresses": "Microsoft.Network/publicIPAddresses",
    "networkSecurityGroups": "Microsoft.Network/networkSecurityGroups",
}


def world() -> dict[str, dict[str, Any]]:
    """A valid estate (id -> PUT body); each case breaks one resource of it."""
    return {
        VNET: {
            "location": "westus",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [
                    {"name": "app", "properties": {"addressPrefix": "10.0.0.0/24"}},
                    {"name": "db", "properties": {"addressPrefix": "10.0.1.0/24"}},
                ],
            },
        },
        ROUTES: {
            "location": "westus",
            "properties": {
                "routes": [
                    {
                        "name": "to-fw",
                        "properties": {
                            "addressPrefix": "0.0.0.0/0",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.1.4",
                        },
                    }
                ]
            },
        },
        PIP: {"location": "westus", "sku": {"name": "Standard"}, "properties": {"ipAddress": "20.30.1.9"}},
        NIC: {
            "location": "westus",
            "properties": {
                "ipConfigurations": [
                    {"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4", "subnet": {"id": SUBNET}}}
                ]
            },
        },
    }


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    change: Callable[[dict[str, Any]], None]
    codes: frozenset[str]
    #: Refused while reading (before validation): the loader may then also report what the half-read resource lacks.
    parse_error: bool = False


def _vnet(body: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = body["properties"]
    return props


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        node: Any = body
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


def _many_configs(count: int) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["properties"]["ipConfigurations"] = [
            {"name": f"c{i}", "properties": {"subnet": {"id": SUBNET}}} for i in range(count)
        ]

    return change


def _subnet_prefix(index: int, value: str) -> Callable[[dict[str, Any]], None]:
    return _set(["properties", "subnets", index, "properties", "addressPrefix"], value)


def _peering(remote: str) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        _vnet(body)["virtualNetworkPeerings"] = [{"name": "p1", "properties": {"remoteVirtualNetwork": {"id": remote}}}]

    return change


def _both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        for one in changes:
            one(body)

    return change


def _snake_case_nic(body: dict[str, Any]) -> None:
    body.clear()
    body.update({"location": "westus", "ip_configurations": [{"name": "c", "subnet": {"id": SUBNET}}]})


ROUTE0 = ["properties", "routes", 0, "properties"]
CASES = [
    Case("vnet-prefix-length", VNET, _set(["properties", "addressSpace", "addressPrefixes"], ["10.50.0.0/33"]),
         frozenset({"InvalidAddressPrefixFormat"})),
    Case("subnet-not-a-prefix", VNET, _subnet_prefix(1, "not-a-prefix"), frozenset({"InvalidAddressPrefixFormat"})),
    Case("subnet-bare-address", VNET, _subnet_prefix(1, "10.0.1.0"), frozenset({"InvalidAddressPrefixFormat"})),
    Case("subnet-host-bits", VNET, _subnet_prefix(1, "10.0.1.5/24"), frozenset({"InvalidCIDRNotation"})),
    Case("subnet-outside-vnet", VNET, _subnet_prefix(1, "10.9.0.0/24"), frozenset({"NetcfgSubnetRangeOutsideVnet"})),
    Case("subnets-overlap", VNET, _subnet_prefix(1, "10.0.0.128/25"), frozenset({"NetcfgSubnetRangesOverlap"})),
    Case("all-problems-at-once", VNET,
         _both(_set(["properties", "addressSpace", "addressPrefixes"], ["10.0.0.0/16", "10.50.0.0/33"]),
               _subnet_prefix(1, "not-a-prefix")),
         frozenset({"InvalidAddressPrefixFormat"})),
    Case("peering-not-an-id", VNET, _peering("not-an-id"), frozenset({"LinkedInvalidPropertyId"})),
    Case("peering-to-itself", VNET, _peering(VNET.upper()), frozenset({"VirtualNetworkCannotPeerWithItself"})),
    Case("vnet-tags-count", VNET, _set(["tags"], {f"t{i}": "v" for i in range(51)}), frozenset({"InvalidTagCount"})),
    Case("vnet-tag-name-length", VNET, _set(["tags"], {"n" * 513: "v"}), frozenset({"InvalidTagName"})),
    Case("vnet-tag-value-length", VNET, _set(["tags"], {"n": "v" * 257}), frozenset({"InvalidTagValueLength"})),
    Case("vnet-tag-name-characters", VNET, _set(["tags"], {"a<b": "v"}), frozenset({"InvalidTagNameCharacters"})),
    Case("vnet-properties-a-string", VNET, _set(["properties"], "10.0.0.0/16"), frozenset({"InvalidRequestFormat"}),
         parse_error=True),
    Case("vnet-address-space-a-list", VNET, _set(["properties", "addressSpace"], ["10.0.0.0/16"]),
         frozenset({"InvalidRequestFormat"}), parse_error=True),
    Case("nic-not-an-ip", NIC, _set(["properties", "ipConfigurations", 0, "properties", "privateIPAddress"],
                                    "not-an-ip"), frozenset({"InvalidPrivateIPAddressFormat"})),
    Case("nic-ip-outside-subnet", NIC, _set(["properties", "ipConfigurations", 0, "properties", "privateIPAddress"],
                                            "10.0.1.10"), frozenset({"PrivateIPAddressNotInSubnet"})),
    Case("nic-ip-reserved", NIC, _set(["properties", "ipConfigurations", 0, "properties", "privateIPAddress"],
                                      "10.0.0.1"), frozenset({"PrivateIPAddressInReservedRange"})),
    Case("nic-subnet-not-an-id", NIC, _set(["properties", "ipConfigurations", 0, "properties", "subnet"],
                                           {"id": "subnets/app"}), frozenset({"LinkedInvalidPropertyId"})),
    Case("nic-public-ip-missing", NIC, _set(["properties", "ipConfigurations", 0, "properties", "publicIPAddress"],
         {"id": rid("publicIPAddresses", "no-such-ip")}), frozenset({"InvalidResourceReference"})),
    Case("nic-backend-pool-of-absent-load-balancer", NIC,
         _set(["properties", "ipConfigurations", 0, "properties", "loadBalancerBackendAddressPools"],
              [{"id": f"{rid('loadBalancers', 'no-such-lb')}/backendAddressPools/pool"}]),
         frozenset({"InvalidResourceReference"})),
    Case("nic-inbound-nat-rule-of-absent-load-balancer", NIC,
         _set(["properties", "ipConfigurations", 0, "properties", "loadBalancerInboundNatRules"],
              [{"id": f"{rid('loadBalancers', 'no-such-lb')}/inboundNatRules/rdp"}]),
         frozenset({"InvalidResourceReference"})),
    Case("nic-too-many-ip-configurations", NIC, _many_configs(257),
         frozenset({"IpConfigurationsPerNetworkInterfaceLimitReached"})),
    Case("nic-without-ip-configuration", NIC, _set(["properties", "ipConfigurations"], []),
         frozenset({"NetworkInterfaceMustHaveIpConfiguration"})),
    Case("nic-no-properties", NIC, lambda body: body.pop("properties"),
         frozenset({"NetworkInterfaceMustHaveIpConfiguration"})),
    Case("nic-snake-case", NIC, _snake_case_nic, frozenset({"InvalidRequestFormat"}), parse_error=True),
    Case("nic-configuration-properties-a-list", NIC, _set(["properties", "ipConfigurations", 0, "properties"], [1]),
         frozenset({"InvalidRequestFormat"}), parse_error=True),
    Case("route-prefix", ROUTES, _set([*ROUTE0, "addressPrefix"], "999.1.1.1/99"),
         frozenset({"InvalidAddressPrefixFormat"})),
    Case("route-next-hop-type", ROUTES, _set([*ROUTE0, "nextHopType"], "Teleport"),
         frozenset({"InvalidRouteNextHopType"})),
    Case("route-appliance-without-address", ROUTES, lambda body: body["properties"]["routes"][0]["properties"].pop(
        "nextHopIpAddress"), frozenset({"RouteNextHopIpAddressRequired"})),
    Case("route-appliance-not-an-ip", ROUTES, _set([*ROUTE0, "nextHopIpAddress"], "10.0.1.999"),
         frozenset({"InvalidIPAddress"})),
    Case("public-ip-address", PIP, _set(["properties", "ipAddress"], "10.30.1.999"), frozenset({"InvalidIPAddress"})),
]  # fmt: skip


def _arm_document(estate: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The estate as a file ``opennsg validate`` reads: ARM resources with id, name and type."""
    out = []
    for resource_id, body in estate.items():
        kind = resource_id.split("/")[-2]
        out.append({"id": resource_id, "name": resource_id.rsplit("/", 1)[-1], "type": TYPES[kind], **body})
    return out


def _broken(case: Case) -> dict[str, dict[str, Any]]:
    estate = copy.deepcopy(world())
    case.change(estate[case.target])
    return estate


def _error_codes(error: dict[str, Any]) -> set[str]:
    return {error["code"], *(d["code"] for d in error.get("details", ()))}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(ServiceConfig(db_url=str(tmp_path_factory.mktemp("one") / "one.db"), tokens=TOKENS))
    with TestClient(app, headers=auth()) as client:
        client.put(f"/subscriptions/{SUB}/resourcegroups/rg1?{API}", json={"location": "westus"})
        for resource_id, body in world().items():
            answer = client.put(f"{resource_id}?{API}", json=body)
            assert answer.status_code in (200, 201), answer.text
        yield client


def test_the_valid_estate_loads(tmp_path: Path) -> None:
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(_arm_document(world())))
    topology = load_paths([path])
    assert topology.nic(NIC) is not None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_loader_and_the_service_refuse_with_the_same_codes(case: Case, service: TestClient, tmp_path: Path) -> None:
    estate = _broken(case)
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(_arm_document(estate)))
    with pytest.raises(OpenNsgError) as raised:
        load_paths([path])
    loaded = {e.code for e in raised.value.errors}

    before = service.get(f"{case.target}?{API}").json()
    answer = service.put(f"{case.target}?{API}", json=estate[case.target])
    assert answer.status_code == 400, answer.text
    served = _error_codes(answer.json()["error"])
    assert service.get(f"{case.target}?{API}").json() == before  # nothing stored

    assert served == set(case.codes), answer.text
    if case.parse_error:
        assert set(case.codes) <= loaded, raised.value.errors
    else:
        assert loaded == served, raised.value.errors


def test_every_problem_is_reported_at_once(service: TestClient) -> None:
    estate = _broken(next(c for c in CASES if c.name == "all-problems-at-once"))
    answer = service.put(f"{VNET}?{API}", json=estate[VNET])
    details = answer.json()["error"]["details"]
    targets = {d["target"] for d in details}
    assert any("addressSpace.addressPrefixes[1]" in t for t in targets), details
    assert any("subnets[1].properties.addressPrefix" in t for t in targets), details


def test_validate_command_exits_2_with_the_codes_as_json(tmp_path: Path) -> None:
    estate = _broken(next(c for c in CASES if c.name == "nic-ip-outside-subnet"))
    path = tmp_path / "estate.json"
    path.write_text(json.dumps(_arm_document(estate)))
    result = CliRunner().invoke(cli_app, ["validate", str(path), "--json"])
    assert result.exit_code == 2, result.output
    assert "PrivateIPAddressNotInSubnet" in result.output


def test_a_subnet_put_is_checked_against_its_vnet(service: TestClient) -> None:
    """A subnet child PUT meets the same subnet rules as the VNet PUT (outside the space, overlapping)."""
    for prefix, code in (("10.9.0.0/24", "NetcfgSubnetRangeOutsideVnet"), ("10.0.0.0/25", "NetcfgSubnetRangesOverlap")):
        answer = service.put(f"{VNET}/subnets/extra?{API}", json={"properties": {"addressPrefix": prefix}})
        assert answer.status_code == 400 and code in _error_codes(answer.json()["error"]), answer.text


def test_tag_limits_apply_to_patches_and_resource_groups(service: TestClient) -> None:
    too_many = {f"t{i}": "v" for i in range(51)}
    answer = service.patch(f"{VNET}?{API}", json={"tags": too_many})
    assert answer.status_code == 400 and "InvalidTagCount" in _error_codes(answer.json()["error"]), answer.text
    group = f"/subscriptions/{SUB}/resourcegroups/rg-tags?{API}"
    answer = service.put(group, json={"location": "westus", "tags": {"n" * 513: "v"}})
    assert answer.status_code == 400 and "InvalidTagName" in _error_codes(answer.json()["error"]), answer.text
    assert service.get(group).status_code == 404
