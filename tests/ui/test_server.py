"""The UI's server side without a browser: authentication of every data endpoint, what each token may see, the file
viewer's loopback guard and inputs, the ``opennsg ui`` command, and the topology layout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.realworld import REALWORLD, needs_realworld
from tests.ui.conftest import (
    EXAMPLES,
    FLOWLOG_DATA,
    HOW_NSGS_FILTER,
    NOBODY_TOKEN,
    ROOT,
    THREE_TIER,
    THREE_TIER_TOKEN,
    TOKEN,
    TOKENS,
)

from opennsg.api import ServiceConfig, create_app
from opennsg.arm import load_paths
from opennsg.engine import Engine
from opennsg.model import Direction
from opennsg.model.ids import name_of
from opennsg.ui import create_file_app
from opennsg.ui.graph import layout
from opennsg.ui.routes import UiRoutes
from opennsg.ui.source import FileSource, View, split_inputs, visible_part


@pytest.fixture(scope="module")
def service_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("ui-api") / "opennsg.db"
    seed = load_paths([HOW_NSGS_FILTER, THREE_TIER])
    with ThreadPoolExecutor(1) as pool:  # the seed import runs its own event loop
        app = pool.submit(create_app, ServiceConfig(db_url=str(db), tokens=TOKENS), seed).result()
    with TestClient(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ui_data_routes() -> list[tuple[str, str]]:
    """Every data endpoint the UI declares (its router is what the service mounts)."""
    routes = UiRoutes(FileSource([HOW_NSGS_FILTER]), TOKENS).router.routes
    found = []
    for route in routes:
        if isinstance(route, APIRoute) and route.path.startswith("/ui/api/"):
            path = route.path.replace("{page:path}", "verify").replace("{revision_id}", "no-such-revision")
            found.extend((method, path) for method in sorted(route.methods))
    return found


def test_every_ui_data_endpoint_refuses_requests_without_a_valid_token(service_client: TestClient) -> None:
    routes = ui_data_routes()
    assert {path for _, path in routes} >= {"/ui/api/whoami", "/ui/api/page/verify", "/ui/api/diff", "/ui/api/flowlogs"}
    for method, path in routes:
        for headers in ({}, bearer("wrong"), {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
            response = service_client.request(method, path, headers=headers, json={"logs": []})
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["code"] == "AuthenticationFailed"
            assert "nic" not in response.text.casefold()
        granted = service_client.request(method, path, headers=bearer(TOKEN), json={"logs": []})
        assert granted.status_code in (200, 201, 204, 400, 404), (method, path, granted.text)  # answered, not refused


def test_pages_carry_no_data_before_the_token(service_client: TestClient) -> None:
    for address in ("/ui/", "/ui/nic/vm1-nic", "/ui/nsg/NSG1", "/ui/verify?nic=vm1-nic", "/ui/reach", "/ui/flowlogs"):
        response = service_client.get(address)
        assert response.status_code == 200
        assert 'data-testid="token-input"' in response.text
        for name in ("vm1-nic", "NSG1", "nic-vm-web1", "10.0.1.4"):
            assert name not in response.text.split("<main", 1)[1], (address, name)


def test_a_token_sees_only_its_subscriptions(service_client: TestClient) -> None:
    everything = service_client.get("/ui/api/page/", headers=bearer(TOKEN)).text
    assert "vm1-nic" in everything and "nic-vm-web1" in everything
    mine = service_client.get("/ui/api/page/", headers=bearer(THREE_TIER_TOKEN)).text
    assert "nic-vm-web1" in mine and "vm1-nic" not in mine and "NSG1" not in mine
    assert service_client.get("/ui/api/page/nic/vm1-nic", headers=bearer(THREE_TIER_TOKEN)).status_code == 404
    assert service_client.get("/ui/api/page/nsg/NSG1", headers=bearer(THREE_TIER_TOKEN)).status_code == 404
    flow = "nic=vm1-nic&direction=Inbound&protocol=TCP&local=10.0.1.4:80&remote=8.8.8.8:5000"
    refused = service_client.get(f"/ui/api/page/verify?{flow}", headers=bearer(THREE_TIER_TOKEN)).text
    assert "NetworkInterfaceNotFound" in refused and 'data-testid="verify-access"' not in refused
    allowed = service_client.get(f"/ui/api/page/verify?{flow}", headers=bearer(TOKEN)).text
    assert re.search(r'data-testid="verify-access">Allow<', allowed)
    nothing = service_client.get("/ui/api/page/", headers=bearer(NOBODY_TOKEN)).text
    assert "Nothing to show" in nothing and "nic-vm-web1" not in nothing
    assert service_client.get("/ui/api/whoami", headers=bearer(THREE_TIER_TOKEN)).json()["subscriptions"] == [
        "8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    ]


def test_bad_verify_input_is_reported_all_at_once(service_client: TestClient) -> None:
    flow = "nic=nope&direction=Sideways&protocol=XYZ&local=10.0.1.4:80&remote=not-an-ip:1"
    page = service_client.get(f"/ui/api/page/verify?{flow}", headers=bearer(TOKEN)).text
    for code in ("NetworkInterfaceNotFound", "InvalidParameter", "InvalidIPAddress"):
        assert code in page
    assert page.count("InvalidParameter") == 2  # direction and protocol
    off_nic = "nic=vm1-nic&direction=Inbound&protocol=TCP&local=10.9.9.9:80&remote=8.8.8.8:1"
    assert (
        "IpAddressNotOnNetworkInterface"
        in service_client.get(f"/ui/api/page/verify?{off_nic}", headers=bearer(TOKEN)).text
    )


def test_favicon_and_assets_ship_in_the_package(service_client: TestClient) -> None:
    for path in ("/favicon.ico", "/ui/static/favicon.svg", "/ui/static/ui.css", "/ui/static/ui.js"):
        response = service_client.get(path)
        assert response.status_code == 200 and response.content, path
    assert service_client.get("/ui/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")


def test_the_viewer_answers_only_requests_to_its_loopback_address(tmp_path: Path) -> None:
    app = create_file_app([HOW_NSGS_FILTER], port=8765)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        page = client.get("/ui/")
        assert page.status_code == 200 and "vm1-nic" in page.text  # no token on loopback: the page is whole
        assert client.get("/ui/", headers={"Host": "localhost:8765"}).status_code == 200
        rebound = client.get("/ui/api/page/", headers={"Host": "attacker.example:8765"})
        assert rebound.status_code == 421 and "vm1-nic" not in rebound.text
        assert client.get("/", follow_redirects=False).headers["location"] == "/ui/"


def test_verify_says_when_the_remote_address_is_not_internet() -> None:
    """A documentation address is neither Internet nor VirtualNetwork (semantics §0): the page says so."""
    app = create_file_app([HOW_NSGS_FILTER], port=8765)
    asked = "/ui/verify?nic=vm1-nic&direction=Inbound&protocol=TCP&local=10.0.1.4:80&remote="
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        documentation = client.get(asked + "203.0.113.7:50000").text
        assert 'data-testid="verify-note"' in documentation and "203.0.113.0/24" in documentation
        assert 'data-testid="verify-note"' not in client.get(asked + "52.160.10.9:50000").text


def test_inputs_are_told_apart_by_content(tmp_path: Path) -> None:
    shutil.copy(HOW_NSGS_FILTER, tmp_path / "network.json")
    (tmp_path / "y=2018" / "m=11").mkdir(parents=True)
    shutil.copy(FLOWLOG_DATA / "vnet.json", tmp_path / "y=2018" / "m=11" / "PT1H.json")
    shutil.copy(FLOWLOG_DATA / "nsg_v1.json", tmp_path / "nsg.json")
    (tmp_path / "notes.txt").write_text("not read")
    config, logs = split_inputs([tmp_path])
    assert config == [tmp_path / "network.json"]
    assert sorted(p.name for p in logs) == ["PT1H.json", "nsg.json"]


@needs_realworld
def test_real_flow_log_samples_are_recognised() -> None:
    samples = sorted((REALWORLD / "flowlogs").rglob("*.json"))
    assert samples
    for sample in samples:
        assert split_inputs([sample]) == ([], [sample]), sample


def test_the_viewer_follows_the_files_and_keeps_the_last_valid_state(tmp_path: Path) -> None:
    network = tmp_path / "network.json"
    shutil.copy(HOW_NSGS_FILTER, network)
    source = FileSource([tmp_path])

    def priorities(view: View) -> set[int]:
        return {r.priority for nsg in view.nsgs() for r in nsg.security_rules}

    assert priorities(source.view(None)) == {100}
    network.write_text(network.read_text().replace('"priority": 100', '"priority": 222'))
    os.utime(network, (time.time() + 5, time.time() + 5))
    assert priorities(source.view(None)) == {222}
    network.write_text("{ half saved")
    os.utime(network, (time.time() + 10, time.time() + 10))
    view = source.view(None)
    assert priorities(view) == {222} and "invalid" in view.origin


def test_the_layout_places_every_nic_once_without_overlap() -> None:
    topology = load_paths([HOW_NSGS_FILTER, THREE_TIER])
    graph = layout(topology, lambda nic: f"/ui/nic/{nic.name}", lambda nsg_id: nsg_id)
    assert sorted(n.name for n in graph.nics) == sorted(n.name for n in topology.nics.values())
    boxes = [n.box for n in graph.nics] + [n.box for n in graph.nsgs]
    for a, b in combinations(boxes, 2):
        assert a.right <= b.x or b.right <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a, b)
    for nic in graph.nics:  # inside its subnet's box
        assert any(s.box.x <= nic.box.x and nic.box.right <= s.box.right for s in graph.subnets)
    associations = sum(1 for s in topology.subnets if s.network_security_group) + sum(
        1 for n in topology.nics.values() if n.network_security_group
    )
    assert sum(1 for e in graph.edges if e.kind == "association") == associations
    assert all(n.box.x >= 0 and n.box.right <= graph.width and n.box.y + n.box.h <= graph.height for n in graph.nics)


def test_admin_configurations_and_private_endpoints_are_on_the_map() -> None:
    """The hub-and-spoke example: each deployed security admin configuration is a node with an edge to every VNet
    its rules reach (independently: the VNets holding a NIC whose chain has an admin stage of it), and private
    endpoint NICs say so."""
    topology = load_paths([ROOT / "examples" / "hub-and-spoke.json", ROOT / "examples" / "hub-and-spoke-avnm.json"])
    graph = layout(topology, lambda nic: f"/ui/nic/{nic.name}", lambda nsg_id: nsg_id)
    assert graph.admins, "the example deploys admin rules"
    engine = Engine(topology)
    expected: dict[str, set[str]] = {}
    for nic in topology.nics.values():
        vnet = topology.vnet_of_subnet(nic.subnet) if nic.subnet else None
        for stage in engine.policy(nic.id).chain(Direction.INBOUND).stages:
            if stage.association == "networkManager" and vnet is not None:
                configuration = next(iter({r.rule.configuration_id for r in stage.rules}), None)
                if configuration is not None:
                    expected.setdefault(name_of(configuration), set()).add(vnet.name)
    drawn: dict[str, set[str]] = {}
    for edge in graph.edges:
        if edge.kind == "admin":
            source, target = edge.label.split(" → ")
            drawn.setdefault(source, set()).add(target)
    for name, vnets in expected.items():
        assert vnets <= drawn.get(name, set()), (name, vnets, drawn)
    boxes = [n.box for n in graph.nics] + [n.box for n in graph.nsgs] + [a.box for a in graph.admins]
    for a, b in combinations(boxes, 2):
        assert a.right <= b.x or b.right <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a, b)
    endpoint_nics = {n.name for n in topology.nics.values() if topology.private_endpoint_of_nic(n.id)}
    assert endpoint_nics and all("private endpoint" in n.detail for n in graph.nics if n.name in endpoint_nics)


def test_opennsg_ui_prints_its_url_and_serves_read_only(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "opennsg", "ui", str(HOW_NSGS_FILTER), "--port", "0", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        printed = ""
        while not printed.endswith("}\n"):  # one JSON document, printed before the server starts
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            printed += line
        url = json.loads(printed)["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ui/", url)
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200 and "vm4-nic" in response.text
        assert httpx.put(url, timeout=2).status_code == 405
    finally:
        process.terminate()
        process.wait(timeout=10)
    missing = subprocess.run(
        [sys.executable, "-m", "opennsg", "ui", str(tmp_path / "nope.json"), "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2 and "FileNotFound" in missing.stderr and "Traceback" not in missing.stderr


def test_a_grant_narrows_every_kind_of_resource() -> None:
    """Admin configurations, private endpoints, load balancers, flow logs…: nothing of another subscription is
    left in a caller's view, whatever its kind, and nothing of the caller's own is lost."""
    topology = load_paths(
        [EXAMPLES / name for name in ("hub-and-spoke.json", "hub-and-spoke-avnm.json", "three-tier.json")]
    )
    subscriptions = {vnet.id.split("/")[2].casefold() for vnet in topology.vnets.values()}
    assert len(subscriptions) >= 2
    for subscription in subscriptions:
        visible = visible_part(topology, frozenset({subscription}))
        for (name, everything), (_, shown) in zip(topology.collections(), visible.collections(), strict=True):
            owned = [
                item
                for item in everything
                if (
                    getattr(item, "id", None)
                    or getattr(item, "virtual_network_id", None)
                    or getattr(item, "network_manager_id", None)
                    or ""
                )
                .casefold()
                .startswith(f"/subscriptions/{subscription}/")
                or getattr(item, "subscription_id", "").casefold() == subscription
            ]
            if name == "management_groups":
                owned = []
            assert list(shown) == owned, (subscription, name)
    assert visible_part(topology, frozenset({"*"})) is topology


def test_load_balancers_are_on_the_map_with_their_backend_nics() -> None:
    """The scenario topology: the load balancer is a node, with an edge to every NIC whose IP configuration names
    one of its pools (read from the JSON itself), and its frontend address and rules are shown."""
    path = ROOT / "examples" / "scenarios" / "topology.json"
    document = json.loads(path.read_text())
    resources = document["value"] if isinstance(document, dict) else document
    expected: dict[str, set[str]] = {}
    for resource in resources:
        if resource["type"].casefold() != "microsoft.network/networkinterfaces":
            continue
        for configuration in resource["properties"]["ipConfigurations"]:
            for pool in configuration["properties"].get("loadBalancerBackendAddressPools", []):
                balancer = pool["id"].split("/loadBalancers/")[1].split("/")[0]
                expected.setdefault(balancer, set()).add(resource["name"])
    assert expected, "the scenario has a load balancer with backends"
    topology = load_paths([path])
    graph = layout(topology, lambda nic: f"/ui/nic/{nic.name}", lambda nsg_id: nsg_id)
    assert {b.name for b in graph.load_balancers} == set(expected)
    drawn: dict[str, set[str]] = {}
    for edge in graph.edges:
        if edge.kind == "backend":
            source, target = edge.label.split(" → ")
            drawn.setdefault(source, set()).add(target)
    assert drawn == expected
    node = graph.load_balancers[0]
    assert "⇡" in node.detail and "→" in node.rules
    boxes = [n.box for n in graph.nics] + [n.box for n in graph.nsgs] + [b.box for b in graph.load_balancers]
    for a, b in combinations(boxes, 2):
        assert a.right <= b.x or b.right <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y, (a, b)
    for nic in graph.nics:
        assert ("⚖web-lb" in nic.chips) == (nic.name in expected["web-lb"]), nic


def test_diff_uploads_read_terraform_modules_with_their_folders(service_client: TestClient) -> None:
    """A folder upload sends names with folders (``three-tier/modules/spoke/main.tf``): the module finds its
    child modules, as the CLI does on the directory; a problem names the uploaded file, not a temporary path."""
    module = EXAMPLES / "terraform" / "three-tier"
    files = [
        {"name": str(p.relative_to(module.parent)), "text": p.read_text()}
        for p in sorted(module.rglob("*"))
        if p.is_file()
    ]
    assert any("/modules/" in f["name"] for f in files), "the example has a child module"
    same = service_client.post("/ui/api/diff", json={"old": files, "new": files}, headers=bearer(TOKEN))
    assert same.status_code == 200 and 'data-changed-flows="0"' in same.text, same.text[:2000]
    broken = [
        {"name": "main.tf", "text": 'resource "azurerm_network_security_group" "x" {\n  name = data.foo.bar\n}\n'}
    ]
    refused = service_client.post("/ui/api/diff", json={"old": files, "new": broken}, headers=bearer(TOKEN)).text
    assert "TerraformDataSourceNotSupported" in refused and "main.tf:2" in refused and "opennsg-upload-" not in refused
    escape = [{"name": "../../etc/x.tf", "text": ""}]
    assert (
        "InvalidFileName"
        in service_client.post("/ui/api/diff", json={"old": escape, "new": files}, headers=bearer(TOKEN)).text
    )
