"""The UI in a real browser (Debian's Chromium through Playwright): every page of both set-ups loads without a
console error and draws something, the token is asked once and kept out of URLs, the verify form answers exactly as
``opennsg verify`` does, and the topology's NIC nodes are DOM text that opens the NIC's page."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from PIL import Image
from tests.ui.conftest import (
    DESKTOP,
    HOW_NSGS_FILTER,
    NOBODY_TOKEN,
    PHONE,
    THREE_TIER_TOKEN,
    TOKEN,
    Server,
)
from typer.testing import CliRunner

from opennsg.arm import load_paths
from opennsg.cli.main import app as cli

PAGES = [
    "/ui/",
    "/ui/nic/vm1-nic",
    "/ui/nsg/NSG1",
    "/ui/verify",
    "/ui/verify?nic=vm1-nic&direction=Inbound&protocol=TCP&local=10.0.1.4%3A80&remote=203.0.113.9%3A50000",
    "/ui/reach",
    "/ui/diff",
    "/ui/flowlogs",
]
NAVIGATION = ["Topology", "Verify", "Reachability", "Diff", "Flow logs"]


def assert_not_blank(path: Path) -> None:
    """A screenshot with real content: many colours, and no single colour covering nearly all of it."""
    image = Image.open(path).convert("RGB")
    small = image.resize((image.width // 4 or 1, image.height // 4 or 1))
    colours = small.getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 20, f"{path.name}: only {len(colours)} colours"
    commonest = max(count for count, _ in colours)
    assert commonest < 0.97 * small.width * small.height, f"{path.name} is nearly one colour"


def sign_in(page: Any, server: Server, token: str = TOKEN) -> None:
    page.goto(f"{server.url}/ui/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("token-submit").click()


def test_service_asks_for_the_token_once_and_keeps_it_out_of_urls(service: Server, open_page: Any) -> None:
    page, console = open_page()
    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r))
    page.goto(f"{service.url}/ui/")
    assert page.get_by_test_id("token-input").is_visible()
    assert page.get_by_test_id("topology").count() == 0  # nothing shown before the token
    page.get_by_test_id("token-input").fill(TOKEN)
    page.get_by_test_id("token-submit").click()
    topology = page.get_by_test_id("topology")
    topology.get_by_text("nic-vm-web1", exact=True).wait_for()
    assert topology.get_by_text("vm1-nic", exact=True).count() == 1
    assert page.evaluate("sessionStorage.getItem('opennsg.ui.token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0 and page.context.cookies() == []
    page.goto(f"{service.url}/ui/verify")  # a new page load of the same tab: no second prompt
    page.get_by_test_id("verify-nic").wait_for()
    assert not page.get_by_test_id("token-input").is_visible()
    data = [r for r in requests if "/ui/api/" in r.url]
    assert data and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in data)
    assert all(TOKEN not in r.url for r in requests)
    assert console.problems == []


def test_service_shows_only_the_subscriptions_of_the_token(service: Server, open_page: Any) -> None:
    page, console = open_page()
    sign_in(page, service, THREE_TIER_TOKEN)
    topology = page.get_by_test_id("topology")
    topology.get_by_text("nic-vm-web1", exact=True).wait_for()
    assert topology.get_by_text("vm1-nic", exact=True).count() == 0
    assert "vm1-nic" not in page.content() and "NSG1" not in page.content()
    page.goto(f"{service.url}/ui/verify")
    page.get_by_test_id("verify-nic").wait_for()
    options = page.get_by_test_id("verify-nic").locator("option").all_inner_texts()
    assert "nic-vm-web1" in options and "vm1-nic" not in options
    assert console.problems == []
    page, _ = open_page()
    sign_in(page, service, NOBODY_TOKEN)
    page.get_by_text("Nothing to show").wait_for()
    assert "nic-vm-web1" not in page.content()


def test_a_refused_token_is_asked_again(service: Server, open_page: Any) -> None:
    page, _ = open_page()
    sign_in(page, service, "not-a-token")
    page.get_by_text("refused").wait_for()
    assert page.get_by_test_id("token-input").is_visible()
    assert page.evaluate("sessionStorage.getItem('opennsg.ui.token')") is None


LOADED = "document.querySelector('main [data-title]') && !document.getElementById('content').hasAttribute('aria-busy')"


@pytest.mark.parametrize(
    ("setup", "viewport", "scheme"),
    [
        ("service", DESKTOP, "light"),
        ("viewer", DESKTOP, "light"),
        ("viewer", DESKTOP, "dark"),
        ("viewer", PHONE, "light"),
        ("viewer", PHONE, "dark"),
    ],
    ids=["service", "viewer-desktop-light", "viewer-desktop-dark", "viewer-phone-light", "viewer-phone-dark"],
)
def test_every_page_loads_cleanly(
    setup: str,
    viewport: dict[str, int],
    scheme: str,
    service: Server,
    viewer: Server,
    open_page: Any,
    tmp_path: Path,
) -> None:
    """No console error, every navigation link once, something drawn, nothing wider than the screen."""
    server = service if setup == "service" else viewer
    page, console = open_page(viewport, scheme)
    if setup == "service":
        sign_in(page, server)
        page.get_by_test_id("topology").wait_for()
    for address in PAGES:
        page.goto(server.url + address)
        page.wait_for_function(LOADED)
        assert page.title().endswith("OpenNSG")
        for label in NAVIGATION:
            link = page.get_by_role("link", name=label, exact=True)
            assert link.count() == 1, f"{address}: {link.count()} links read {label!r}"
        shot = tmp_path / f"{quote(address, safe='')}.png"
        page.screenshot(path=str(shot))
        assert_not_blank(shot)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"] + 1, f"{address} is {width}px wide at {viewport['width']}px"
    assert console.problems == []


def test_navigation_bar_opens_each_page(viewer: Server, open_page: Any) -> None:
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/")
    expected = {
        "Verify": "/ui/verify",
        "Reachability": "/ui/reach",
        "Diff": "/ui/diff",
        "Flow logs": "/ui/flowlogs",
        "Topology": "/ui/",
    }
    for label, path in expected.items():
        page.get_by_role("link", name=label, exact=True).click()
        page.wait_for_url(f"**{path}")
        page.locator("main [data-title]").first.wait_for()
        assert page.get_by_role("link", name=label, exact=True).get_attribute("aria-current") == "page"
    page.reload()  # every address is a real page
    page.get_by_test_id("topology").wait_for()
    assert console.problems == []


def test_clicking_a_nic_node_opens_its_page(viewer: Server, open_page: Any) -> None:
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/")
    nodes = page.get_by_test_id("topology").locator("[data-testid=topology-nic]")
    assert "vm1-nic" in page.get_by_test_id("topology").inner_text()
    assert "vm1-nic" in nodes.all_inner_texts()[0]
    names = {n.get_attribute("data-nic") for n in nodes.all()}
    assert {"vm1-nic", "vm2-nic", "vm3-nic", "vm4-nic"} <= names
    page.get_by_test_id("topology").get_by_text("vm3-nic", exact=True).click()
    page.wait_for_url("**/ui/nic/vm3-nic")
    page.get_by_role("heading", level=1, name="vm3-nic").wait_for()
    assert page.get_by_test_id("effective-rules").count() == 1  # NSG2 only
    assert console.problems == []


def test_rules_table_holds_every_rule_defaults_apart(viewer: Server, open_page: Any) -> None:
    nsg = next(n for n in load_paths([HOW_NSGS_FILTER]).nsgs.values() if n.name == "NSG1")
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/nsg/NSG1")
    table = page.get_by_test_id("rules-table")
    rows = table.locator("tr[data-rule]")
    assert rows.count() == len(nsg.security_rules) + len(nsg.default_security_rules)
    defaults = table.locator("tbody.defaults tr[data-rule]")
    assert sorted(defaults.evaluate_all("rows => rows.map(r => r.dataset.rule)")) == sorted(
        r.name for r in nsg.default_security_rules
    )
    assert table.locator("tbody.user tr[data-rule]").count() == len(nsg.security_rules)
    assert console.problems == []


def _random_flows(seed: int, count: int) -> list[dict[str, str]]:
    topology = load_paths([HOW_NSGS_FILTER])
    rng = random.Random(seed)
    nics = sorted(topology.nics.values(), key=lambda n: n.name)
    addresses = [c.private_ip_address for n in nics for c in n.ip_configurations if c.private_ip_address]
    remotes = [*addresses, "203.0.113.9", "8.8.8.8", "168.63.129.16", "10.0.9.9", "52.1.2.3"]
    flows = []
    for _ in range(count):
        nic = rng.choice(nics)
        local_ip = nic.ip_configurations[0].private_ip_address
        protocol = rng.choice(["TCP", "TCP", "UDP", "ICMP"])
        local_port = rng.choice([22, 25, 80, 443, 3389, rng.randint(1, 65535)])
        remote_port = rng.choice([80, 443, rng.randint(1024, 65535)])
        remote_ip = rng.choice(remotes)
        ported = protocol in ("TCP", "UDP")
        flows.append(
            {
                "nic": nic.name,
                "direction": rng.choice(["Inbound", "Outbound"]),
                "protocol": protocol,
                "local": f"{local_ip}:{local_port}" if ported else str(local_ip),
                "remote": f"{remote_ip}:{remote_port}" if ported else remote_ip,
            }
        )
    return flows


def test_verify_form_answers_as_the_cli_does(viewer: Server, open_page: Any) -> None:
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/verify")
    runner = CliRunner()
    answers = set()
    for flow in _random_flows(seed=18, count=16):
        args = [str(HOW_NSGS_FILTER), "--json"] + [x for key, value in flow.items() for x in (f"--{key}", value)]
        result = runner.invoke(cli, ["verify", *args])
        assert result.exit_code == 0, result.output
        expected = json.loads(result.stdout)
        page.get_by_test_id("verify-nic").select_option(flow["nic"])
        page.get_by_test_id("verify-direction").select_option(flow["direction"])
        page.get_by_test_id("verify-protocol").select_option(flow["protocol"])
        page.get_by_test_id("verify-local").fill(flow["local"])
        page.get_by_test_id("verify-remote").fill(flow["remote"])
        page.get_by_test_id("verify-submit").click()
        query = "/ui/verify?" + urlencode(flow)  # the answer's own address, set once the answer is shown
        page.wait_for_url(lambda url, query=query: url.endswith(query))
        access = page.get_by_test_id("verify-access")
        assert access.inner_text() == expected["access"], flow
        assert page.get_by_test_id("verify-rule").inner_text() == expected.get("ruleName", ""), flow
        steps = page.get_by_test_id("verify-trace").locator("li.step")
        assert steps.count() == len(expected["evaluatedNetworkSecurityGroups"]), flow
        for step, want in zip(steps.all(), expected["evaluatedNetworkSecurityGroups"], strict=True):
            if want["matchedRule"]:
                assert want["matchedRule"]["ruleName"] in step.inner_text()
        answers.add(expected["access"])
    assert answers == {"Allow", "Deny"}  # the sample exercised both verdicts
    page.reload()  # a verify answer is linkable
    page.get_by_test_id("verify-access").wait_for()
    assert console.problems == []


def test_flow_log_bars_are_per_minute_with_zeros(viewer: Server, open_page: Any, tmp_path: Path) -> None:
    page, console = open_page()
    page.goto(f"{viewer.url}/ui/flowlogs")
    bars = page.get_by_test_id("flowlogs-timeline").locator("g.bar")
    assert bars.count() >= 1
    assert page.get_by_test_id("rules-never-hit").count() == 1
    # An upload with a gap: 12:00 and 12:05 logged, the four minutes between drawn as zero bars.
    log = {
        "records": [
            {
                "time": "2024-05-01T12:05:30Z",
                "category": "NetworkSecurityGroupFlowEvent",
                "resourceId": "/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/N",
                "operationName": "NetworkSecurityGroupFlowEvents",
                "properties": {
                    "Version": 1,
                    "flows": [
                        {
                            "rule": "DefaultRule_DenyAllInBound",
                            "flows": [
                                {
                                    "mac": "000D3AF87856",
                                    "flowTuples": [
                                        "1714564810,1.2.3.4,10.0.0.4,1000,22,T,I,D",
                                        "1714565110,1.2.3.4,10.0.0.4,1001,22,T,I,D",
                                    ],
                                }
                            ],
                        }
                    ],
                },
            }
        ]
    }
    upload = tmp_path / "PT1H.json"
    upload.write_text(json.dumps(log))
    page.get_by_test_id("flowlogs-files").set_input_files(str(upload))
    page.get_by_test_id("flowlogs-submit").click()
    page.get_by_text("6 minute(s)").wait_for()
    counts = bars.evaluate_all("bars => bars.map(b => [b.dataset.minute, +b.dataset.denied])")
    assert [denied for _, denied in counts] == [1, 0, 0, 0, 0, 1]
    assert console.problems == []
