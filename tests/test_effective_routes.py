"""Effective routes of a NIC: Azure's system routes, user routes overriding them, the next hop of an address; the CLI
command and the service's ``effectiveRouteTable`` against the official example."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path

from fastapi.testclient import TestClient
from tests.api.conftest import TOKENS, auth
from tests.conftest import rid
from tests.realworld import REALWORLD, needs_realworld
from typer.testing import CliRunner

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import export_topology
from opennsg.cli.main import app
from opennsg.engine.routes import effective_routes, next_hop
from opennsg.model import Topology
from opennsg.model.resources import (
    IpConfiguration,
    NetworkInterface,
    Route,
    RouteTable,
    Subnet,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.routes import NextHopType, RouteSource, RouteState

EXAMPLE = REALWORLD / "azure-rest-api-specs" / "network" / "2026-01-01" / "examples"


def _world(routes: tuple[Route, ...] = (), disable_bgp: bool = False) -> tuple[Topology, str]:
    """A hub VNet (IPv4 and IPv6 space) peered with a spoke, one NIC in its app subnet, maybe a route table."""
    table = RouteTable(
        rid("routeTables", "rt"), "rt", "westus", routes=routes, disable_bgp_route_propagation=disable_bgp
    )
    hub_id = rid("virtualNetworks", "hub")
    subnet = Subnet(f"{hub_id}/subnets/app", "app", ("10.0.1.0/24",), route_table=table.id if routes else None)
    peering = VirtualNetworkPeering(f"{hub_id}/virtualNetworkPeerings/to-spoke", "to-spoke",
                                    rid("virtualNetworks", "spoke"), ("10.9.0.0/16",))  # fmt: skip
    idle = VirtualNetworkPeering(f"{hub_id}/virtualNetworkPeerings/idle", "idle", rid("virtualNetworks", "other"),
                                 ("10.8.0.0/16",), peering_state="Initiated")  # fmt: skip
    hub = VirtualNetwork(hub_id, "hub", "westus", {}, ("10.0.0.0/16", "fd00:1::/48"), (subnet,), (peering, idle))
    nic_id = rid("networkInterfaces", "app-nic")
    config = IpConfiguration(f"{nic_id}/ipConfigurations/ip0", "ip0", "10.0.1.4", subnet.id, primary=True)
    nic = NetworkInterface(nic_id, "app-nic", "westus", {}, (config,))
    topology = Topology.of(vnets=[hub], nics=[nic], route_tables=[table] if routes else [])
    return topology, nic_id


def test_system_routes_in_network_watchers_order() -> None:
    topology, nic = _world()
    routes = effective_routes(topology, topology.nic(nic))  # type: ignore[arg-type]
    assert [(r.address_prefixes, r.next_hop_type) for r in routes] == [
        (("10.0.0.0/16",), NextHopType.VNET_LOCAL),
        (("fd00:1::/48",), NextHopType.VNET_LOCAL),
        (("10.9.0.0/16",), NextHopType.VNET_PEERING),
        (("0.0.0.0/0",), NextHopType.INTERNET),
        (("10.0.0.0/8",), NextHopType.NONE),
        (("100.64.0.0/10",), NextHopType.NONE),
        (("172.16.0.0/12",), NextHopType.NONE),
        (("192.168.0.0/16",), NextHopType.NONE),
        (("::/0",), NextHopType.INTERNET),
    ]
    assert {r.source for r in routes} == {RouteSource.DEFAULT}
    assert {r.state for r in routes} == {RouteState.ACTIVE}


def test_next_hop_is_the_longest_active_prefix() -> None:
    topology, nic = _world()
    routes = effective_routes(topology, topology.nic(nic))  # type: ignore[arg-type]

    def hop(address: str) -> NextHopType | None:
        found = next_hop(routes, ip_address(address))
        return found.next_hop_type if found else None

    assert hop("10.0.2.9") is NextHopType.VNET_LOCAL
    assert hop("10.9.1.4") is NextHopType.VNET_PEERING
    assert hop("10.200.0.1") is NextHopType.NONE  # a private range nobody claims
    assert hop("52.1.2.3") is NextHopType.INTERNET
    assert hop("fd00:1::5") is NextHopType.VNET_LOCAL
    assert hop("2603:1000::1") is NextHopType.INTERNET


def test_a_user_route_with_a_system_prefix_makes_that_route_invalid_and_wins() -> None:
    routes_in = (
        Route("to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.0.4"),
        Route("blackhole-spoke", "10.9.1.0/24", "None"),
    )
    topology, nic = _world(routes_in)
    routes = effective_routes(topology, topology.nic(nic))  # type: ignore[arg-type]
    internet = next(r for r in routes if r.address_prefixes == ("0.0.0.0/0",) and r.source is RouteSource.DEFAULT)
    assert internet.state is RouteState.INVALID
    user = [r for r in routes if r.source is RouteSource.USER]
    assert [(r.name, r.next_hop_type, r.next_hop_ip_addresses) for r in user] == [
        ("to-firewall", NextHopType.VIRTUAL_APPLIANCE, ("10.0.0.4",)),
        ("blackhole-spoke", NextHopType.NONE, ()),
    ]
    appliance = next_hop(routes, ip_address("52.1.2.3"))
    assert appliance is not None and appliance.name == "to-firewall"
    dropped = next_hop(routes, ip_address("10.9.1.7"))
    assert dropped is not None and dropped.next_hop_type is NextHopType.NONE  # /24 beats the peering's /16
    peered = next_hop(routes, ip_address("10.9.2.7"))
    assert peered is not None and peered.next_hop_type is NextHopType.VNET_PEERING


def test_routes_command_json_and_table(tmp_path: Path) -> None:
    topology, _ = _world((Route("to-firewall", "0.0.0.0/0", "VirtualAppliance", "10.0.0.4"),))
    path = tmp_path / "net.json"
    path.write_text(json.dumps(export_topology(topology)))
    result = CliRunner().invoke(app, ["routes", str(path), "--nic", "app-nic", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)["value"]
    assert body[-1] == {
        "name": "to-firewall",
        "disableBgpRoutePropagation": False,
        "source": "User",
        "state": "Active",
        "addressPrefix": ["0.0.0.0/0"],
        "nextHopType": "VirtualAppliance",
        "nextHopIpAddress": ["10.0.0.4"],
    }
    human = CliRunner().invoke(app, ["routes", str(path), "--nic", "app-nic"])
    assert human.exit_code == 0 and "VirtualAppliance" in human.stdout
    missing = CliRunner().invoke(app, ["routes", str(path), "--nic", "nope", "--json"])
    assert missing.exit_code == 2
    assert json.loads(missing.stderr)["error"]["code"] == "NetworkInterfaceNotFound"


@needs_realworld
def test_service_answers_the_official_effective_route_table_example(tmp_path: Path) -> None:
    example = json.loads((EXAMPLE / "NetworkInterfaceEffectiveRouteTableList.json").read_text())
    params = example["parameters"]
    sub = "00000000-0000-0000-0000-000000000001"
    base = f"/subscriptions/{sub}/resourceGroups/{params['resourceGroupName']}/providers/Microsoft.Network"
    api = f"api-version={params['api-version']}"
    service = create_app(ServiceConfig(db_url=str(tmp_path / "opennsg.db"), tokens=TOKENS))
    with TestClient(service, headers=auth()) as client:
        group = client.put(
            f"/subscriptions/{sub}/resourcegroups/rg1?api-version=2021-04-01", json={"location": "westus"}
        )
        assert group.status_code == 201
        vnet = {"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["172.20.2.0/24"]},
                "subnets": [{"name": "default", "properties": {"addressPrefix": "172.20.2.0/24"}}]}}  # fmt: skip
        assert client.put(f"{base}/virtualNetworks/vnet1?{api}", json=vnet).status_code == 201
        nic = {"location": "westus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
               "subnet": {"id": f"{base}/virtualNetworks/vnet1/subnets/default"}, "privateIPAddress": "172.20.2.4",
               "privateIPAllocationMethod": "Static"}}]}}  # fmt: skip
        nic_url = f"{base}/networkInterfaces/{params['networkInterfaceName']}"
        assert client.put(f"{nic_url}?{api}", json=nic).status_code == 201
        accepted = client.post(f"{nic_url}/effectiveRouteTable?{api}")
        assert accepted.status_code == 202
        answer = client.get(accepted.headers["location"])
        assert answer.status_code == 200
        assert answer.json() == example["responses"]["200"]["body"]
        missing = client.post(f"{base}/networkInterfaces/nope/effectiveRouteTable?{api}")
        assert missing.status_code == 404
    # `opennsg routes` answers the same estate, read from files, with the same body
    files = [
        {"id": f"{base}/virtualNetworks/vnet1", "type": "Microsoft.Network/virtualNetworks", "name": "vnet1", **vnet},
        {"id": nic_url, "type": "Microsoft.Network/networkInterfaces", "name": params["networkInterfaceName"], **nic},
    ]
    (tmp_path / "estate.json").write_text(json.dumps(files))
    command = ["routes", str(tmp_path / "estate.json"), "--nic", params["networkInterfaceName"], "--json"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == example["responses"]["200"]["body"]
