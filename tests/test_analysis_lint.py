"""``opennsg lint``: each finding on a scenario made for it, properties against ``Engine.verify`` (shadowed rules
win no flow, deleting a redundant rule changes no verdict), SARIF validated against the 2.1.0 schema's
requirements for what we emit, line numbers pointing at the rule's JSON object."""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from conftest import World, rule
from opennsg.analysis.lint import Linter, lint_topology
from opennsg.analysis.space import Box, intersect
from opennsg.analysis.symbolic import FAMILIES, evaluate_boxes, exempt_regions, first_match, split
from opennsg.arm import export_topology
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import Access, Direction, ServiceTag, ServiceTags, Topology
from opennsg.model.ids import id_key
from opennsg.model.loadbalancer import BackendAddressPool, LoadBalancer
from strategies import topology_and_flows

_LB = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
POOL = f"{_LB}/backendAddressPools/p"
#: The load balancer a NIC's backend pool belongs to (a pool of a load balancer not given is InvalidResourceReference).
POOLED_BY = LoadBalancer(_LB, "lb", "westus", {}, backend_address_pools=(BackendAddressPool(POOL, "p"),))

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

#: The parts of the OASIS SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that constrain what OpenNSG writes,
#: transcribed from the standard: required members, the version constant, level enum, 1-based lines.
SARIF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {
                                                        "level": {"enum": ["none", "note", "warning", "error"]}
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "artifacts": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"location": {"$ref": "#/$defs/artifactLocation"}}},
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                                    "properties": {"text": {"type": "string"}},
                                },
                                "locations": {"type": "array", "items": {"$ref": "#/$defs/location"}},
                                "relatedLocations": {"type": "array", "items": {"$ref": "#/$defs/location"}},
                            },
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "artifactLocation": {
            "type": "object",
            "properties": {"uri": {"type": "string", "format": "uri-reference"}, "index": {"type": "integer"}},
        },
        "location": {
            "type": "object",
            "properties": {
                "id": {"type": "integer", "minimum": -1},
                "physicalLocation": {
                    "type": "object",
                    "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}],
                    "properties": {
                        "artifactLocation": {"$ref": "#/$defs/artifactLocation"},
                        "region": {
                            "type": "object",
                            "properties": {"startLine": {"type": "integer", "minimum": 1}},
                        },
                    },
                },
            },
        },
    },
}


def _ids(findings: list[Any], rule_id: str) -> set[str]:
    return {f.resource.rsplit("/", 1)[-1] for f in findings if f.rule_id == rule_id}


def _scenario(world: World) -> Topology:
    subnet_nsg = world.nsg(
        "subnsg",
        rule("allow-ssh", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "22"),
        rule("allow-ssh-again", 110, "Inbound", "Allow", "Tcp", "8.8.8.0/24", "*", "22"),
        rule("allow-web", 120, "Inbound", "Allow", "Tcp", "*", "*", "80"),
        rule("allow-web-wide", 130, "Inbound", "Allow", "Tcp", "*", "*", "80-81"),
        rule("icmp-ports", 140, "Inbound", "Allow", "Icmp", "10.0.0.5/24", "*", "22"),
        rule("allow-sql", 150, "Inbound", "Allow", "Tcp", "Internet", "*", "1433"),
        rule("block-probes", 160, "Inbound", "Deny", "*", "AzureLoadBalancer", "*", "*"),
    )
    nic_nsg = world.nsg(
        "nicnsg",
        rule("deny-81", 100, "Inbound", "Deny", "Tcp", "*", "*", "81"),
        rule("deny-ssh", 110, "Inbound", "Deny", "Tcp", "*", "*", "22"),
        rule("allow-most", 200, "Inbound", "Allow", "*", "*", "*", "*"),
    )
    world.nsg("orphan", rule("anything", 100, "Inbound", "Allow", "*", "*", "*", "*"))
    empty = world.asg("empty")
    world.nsgs["subnsg"] = replace(
        world.nsgs["subnsg"],
        security_rules=(
            *world.nsgs["subnsg"].security_rules,
            replace(
                rule("to-empty", 170, "Inbound", "Allow", "Tcp", "*", "*", "8080", destination_asgs=(empty,)),
                id=f"{subnet_nsg}/securityRules/to-empty",
            ),
        ),
    )
    subnet = world.subnet("app", "10.0.1.0/24", nsg=subnet_nsg)
    world.nic("vm1", subnet, "10.0.1.4", nsg=nic_nsg)
    topology = world.topology()
    nic = next(iter(topology.nics.values()))
    configs = (replace(nic.ip_configurations[0], load_balancer_backend_address_pools=(POOL,)),)
    return topology.with_(nics=[replace(nic, ip_configurations=configs)], load_balancers=[POOLED_BY])


def test_each_finding_on_its_scenario(world: World) -> None:
    findings = lint_topology(_scenario(world))
    assert _ids(findings, "shadowed-rule") == {"allow-ssh-again"}
    shadowed = next(f for f in findings if f.rule_id == "shadowed-rule")
    assert [r.rsplit("/", 1)[-1] for r in shadowed.related_resources] == ["allow-ssh"]
    # allow-ssh: the NIC NSG denies 22; allow-web-wide wins only 81, which the NIC NSG denies.
    assert _ids(findings, "ineffective-rule") == {"allow-ssh", "allow-web-wide"}
    assert "allow-web" in _ids(findings, "redundant-rule")  # allow-web-wide would allow 80 anyway
    exposed = [f for f in findings if f.rule_id == "internet-exposed-port"]
    assert {f.resource.rsplit("/", 1)[-1] for f in exposed} == {"allow-most", "anything"}
    at_nic = next(f for f in exposed if f.nics)
    assert "1433" in at_nic.message and "22 " not in at_nic.message
    assert at_nic.witness is not None and at_nic.witness.remote_port  # an allowed flow, checked below
    assert _ids(findings, "overly-permissive-rule") == {"allow-most", "anything"}
    assert _ids(findings, "unattached-nsg") == {"orphan"}
    assert _ids(findings, "empty-asg") == {"to-empty"}
    assert _ids(findings, "ports-on-portless-protocol") == {"icmp-ports"}
    assert _ids(findings, "host-bits-set") == {"icmp-ports"}
    assert _ids(findings, "deny-load-balancer-probes") == {"block-probes"}


def test_witnesses_verify(world: World) -> None:
    topology = _scenario(world)
    engine = Engine(topology)
    for finding in lint_topology(topology):
        if finding.witness is None:
            continue
        w = finding.witness
        flow = Flow.make(w.direction, w.protocol, w.local_ip, w.local_port, w.remote_ip, w.remote_port)
        verdict = engine.verify(w.target_resource_id, flow)
        expected = "Deny" if finding.rule_id == "deny-load-balancer-probes" else "Allow"
        assert verdict.access.value == expected, finding


def test_bastion_subnet_missing_rules(world: World) -> None:
    nsg = world.nsg(
        "bastion-nsg",
        rule("https", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("gateway-manager", 110, "Inbound", "Allow", "Tcp", "GatewayManager", "*", "443"),
        rule("deny-rest", 4000, "Inbound", "Deny", "*", "*", "*", "*"),
    )
    world.subnet("AzureBastionSubnet", "10.0.9.0/26", nsg=nsg)
    tags = ServiceTags.of([ServiceTag("GatewayManager", ("51.12.0.0/16",), ("NSG",))])
    findings = [f for f in lint_topology(world.topology(service_tags=tags)) if f.rule_id == "missing-platform-ports"]
    assert len(findings) == 1
    message = findings[0].message
    assert "Inbound TCP 8080 from VirtualNetwork" in message and "Inbound TCP 443 from AzureLoadBalancer" in message
    assert "from Internet" not in message and "GatewayManager" not in message and "Outbound" not in message


@SETTINGS
@given(topology_and_flows(max_flows=25))
def test_shadowed_rules_win_no_flow_and_redundant_rules_change_nothing(
    tf: tuple[Topology, list[tuple[str, Flow]]],
) -> None:
    topology, flows = tf
    findings = lint_topology(topology)
    engine = Engine(topology)
    shadowed = {id_key(f.resource) for f in findings if f.rule_id == "shadowed-rule"}
    for nic_id, flow in flows:
        verdict = engine.verify(nic_id, flow)
        for step in verdict.trace:
            rule_id = step.matched_rule.id if step.matched_rule else None
            assert rule_id is None or id_key(rule_id) not in shadowed
    for finding in findings:
        if finding.rule_id != "redundant-rule":
            continue
        nsg = next(n for n in topology.nsgs.values() if id_key(finding.resource).startswith(n.key + "/"))
        without = replace(
            nsg, security_rules=tuple(r for r in nsg.security_rules if id_key(r.id or "") != id_key(finding.resource))
        )
        other = Engine(topology.with_(nsgs=[without if n.key == nsg.key else n for n in topology.nsgs.values()]))
        for nic_id, flow in flows:
            assert other.verify(nic_id, flow).access is engine.verify(nic_id, flow).access, (finding, flow)


def test_sarif_points_at_the_rule_lines(tmp_path: Path, world: World, monkeypatch: Any) -> None:
    topology = _scenario(world)
    document = json.dumps(export_topology(topology), indent=2)
    path = tmp_path / "net" / "topology.json"
    path.parent.mkdir()
    path.write_text(document)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["lint", "net", "--sarif", "out.sarif", "--json", "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    log = json.loads((tmp_path / "out.sarif").read_text())
    jsonschema.validate(log, SARIF_SCHEMA)
    lines = document.splitlines()
    checked = 0
    for item in log["runs"][0]["results"]:
        resource = item["properties"]["resource"]
        if "/securityRules/" not in resource:
            continue
        physical = item["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "net/topology.json"
        line = physical["region"]["startLine"]
        assert lines[line - 1].strip().endswith("{")
        window = "\n".join(lines[line - 1 : line + 3])
        assert f'"name": "{resource.rsplit("/", 1)[-1]}"' in window or f'"id": "{resource}"' in window
        checked += 1
    assert checked >= 5
    body = json.loads(result.stdout)
    assert {f["ruleId"] for f in body["findings"]} >= {"shadowed-rule", "internet-exposed-port"}
    assert set(body["findings"][0]) >= {"ruleId", "level", "resource", "message", "relatedResources", "nics"}


def test_fail_on_disable_enable(tmp_path: Path, world: World) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(export_topology(_scenario(world))))
    runner = CliRunner()
    assert runner.invoke(app, ["lint", str(path)]).exit_code == 1  # internet-exposed-port is an error
    assert runner.invoke(app, ["lint", str(path), "--fail-on", "none"]).exit_code == 0
    quiet = runner.invoke(app, ["lint", str(path), "--disable", "internet-exposed-port", "--json"])
    assert quiet.exit_code == 0
    assert "internet-exposed-port" not in {f["ruleId"] for f in json.loads(quiet.stdout)["findings"]}
    back = runner.invoke(
        app, ["lint", str(path), "--disable", "internet-exposed-port", "--enable", "internet-exposed-port"]
    )
    assert back.exit_code == 1
    assert (
        runner.invoke(app, ["lint", str(path), "--fail-on", "warning", "--disable", "internet-exposed-port"]).exit_code
        == 1
    )
    bad = runner.invoke(app, ["lint", str(path), "--disable", "no-such-rule", "--json"])
    assert bad.exit_code == 2 and "no-such-rule" in bad.stderr


def test_application_gateway_subnet_needs_gateway_manager_ports(world: World) -> None:
    nsg = world.nsg(
        "appgw-nsg",
        rule("web", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("deny-rest", 4000, "Inbound", "Deny", "*", "*", "*", "*"),
    )
    subnet_id = world.subnet("appgw", "10.0.8.0/24", nsg=nsg)
    world.subnets = [
        replace(s, application_gateway_ip_configurations=(f"{subnet_id}/gw",)) if s.id == subnet_id else s
        for s in world.subnets
    ]
    tags = ServiceTags.of([ServiceTag("GatewayManager", ("51.12.0.0/16",), ("NSG",))])
    findings = [f for f in lint_topology(world.topology(service_tags=tags)) if f.rule_id == "missing-platform-ports"]
    assert len(findings) == 1
    assert "Inbound TCP 65200-65535 from GatewayManager" in findings[0].message
    assert "Inbound any protocol 0-65535 from AzureLoadBalancer" in findings[0].message
    assert "Outbound" not in findings[0].message


def test_locator_finds_flattened_and_template_rules(tmp_path: Path) -> None:
    from opennsg.analysis.locate import Locator

    flattened = tmp_path / "az.json"
    flattened.write_text(
        json.dumps(
            [
                {
                    "name": "web-nsg",
                    "type": "Microsoft.Network/networkSecurityGroups",
                    "securityRules": [{"name": "ssh", "priority": 100, "direction": "Inbound", "access": "Allow"}],
                }
            ],
            indent=2,
        )
    )
    locator = Locator.of([flattened])
    rule_id = (
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/web-nsg/securityRules/ssh"
    )
    where = locator.find(rule_id)
    assert where is not None and flattened.read_text().splitlines()[where.line - 1].strip() == "{"
    assert flattened.read_text().splitlines()[where.line].strip() == '"name": "ssh",'
    nsg = locator.find(rule_id.rsplit("/securityRules/", 1)[0])
    assert nsg is not None and nsg.line == 2


def _rule_kinds_one_rule_at_a_time(topology: Topology) -> dict[str, str]:
    """The rule findings computed the plain way, one rule and one place at a time (no shared stage answers, no
    next-rule shortcut): won flows = its boxes minus the earlier rules of its NSG; effect and deletion by
    evaluating the whole chain over them, with and without the rule."""
    linter = Linter(topology)
    kinds: dict[str, str] = {}
    for nsg in topology.nsgs.values():
        for rule_ in nsg.security_rules:
            matches = won_any = effective = changes = False
            for ctx in linter.contexts.get(nsg.key, []):
                placed = ctx.stage(rule_.direction)
                for family in FAMILIES:
                    universe = ctx.compiled.universe(rule_.direction, family)
                    if universe is None or placed is None:
                        continue
                    rules = ctx.compiled.rules(placed[0], placed[1], family)
                    target = next((r for r in rules if r.rule is rule_), None)
                    if target is None:
                        continue
                    region = [(hit, None) for b in target.boxes if (hit := intersect(b, universe)) is not None]
                    matches = matches or bool(region)
                    earlier = [r for r in rules if r.rule.priority < rule_.priority]
                    # A platform-exempt flow meets only the rules naming its tag; the others meet every rule.
                    won: list[tuple[Box, None]] = []
                    for tag, exempt in exempt_regions(ctx.compiled, rule_.direction):
                        inside, region = split(region, exempt)
                        if target.resolved.platform_tag == tag:
                            won += first_match(inside, [r for r in earlier if r.resolved.platform_tag == tag])[1]
                    won += first_match(region, earlier)[1]
                    if not won:
                        continue
                    won_any = True
                    decided = evaluate_boxes(ctx.compiled, rule_.direction, won)
                    for _, _, d in decided:
                        if rule_.access is Access.ALLOW:
                            effective = effective or d.allowed
                        else:
                            effective = effective or (d.rule is rule_ and id_key(d.nsg_id or "") == nsg.key)
                    without = evaluate_boxes(ctx.compiled, rule_.direction, [(b, d) for b, _, d in decided], skip=rule_)
                    changes = changes or any(a.access is not b.access for _, a, b in without)
            if matches:
                kind = (
                    "shadowed-rule"
                    if not won_any
                    else "ineffective-rule"
                    if not effective
                    else "redundant-rule"
                    if not changes
                    else ""
                )
                if kind:
                    kinds[id_key(rule_.id or "")] = kind
    return kinds


@SETTINGS
@given(topology_and_flows(max_flows=1, avnm=True))
def test_rule_findings_equal_the_one_rule_at_a_time_computation(tf: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    """Lint shares one evaluation per NSG stage among its rules and skips flows whose next rule has the same
    outcome: its shadowed, ineffective and redundant rules must be those of the plain computation."""
    topology, _ = tf
    kinds = {"shadowed-rule", "ineffective-rule", "redundant-rule"}
    found = {id_key(f.resource): f.rule_id for f in lint_topology(topology) if f.rule_id in kinds}
    assert found == _rule_kinds_one_rule_at_a_time(topology)


def test_probe_and_platform_findings_hold_only_where_they_apply(world: World) -> None:
    """``deny-load-balancer-probes``: a user deny-all (it overrides AllowAzureLoadBalancerInBound) blocks probes,
    reported only at NICs in a backend pool; a deny of a few ports that probes may not use is not reported.
    ``missing-platform-ports``: an Application Gateway v2 or Bastion subnet whose NSG allows what the service
    needs has no finding."""
    deny_all = world.nsg(
        "deny-all",
        rule("web", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("deny-8080", 200, "Inbound", "Deny", "Tcp", "*", "*", "8080"),
        rule("deny-rest", 4000, "Inbound", "Deny", "*", "*", "*", "*"),
    )
    subnet = world.subnet("app", "10.0.1.0/24", nsg=deny_all)
    world.nic("pooled", subnet, "10.0.1.4")
    world.nic("alone", subnet, "10.0.1.5")
    gateway = world.nsg(
        "appgw-ok",
        rule("infra", 100, "Inbound", "Allow", "Tcp", "GatewayManager", "*", "65200-65535"),
        rule("web", 110, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
    )
    gateway_subnet = world.subnet("appgw", "10.0.8.0/24", nsg=gateway)
    world.subnets = [
        replace(s, application_gateway_ip_configurations=(f"{gateway_subnet}/gw",)) if s.id == gateway_subnet else s
        for s in world.subnets
    ]
    bastion = world.nsg(
        "bastion-ok",
        rule("https", 100, "Inbound", "Allow", "Tcp", "Internet", "*", "443"),
        rule("gateway-manager", 110, "Inbound", "Allow", "Tcp", "GatewayManager", "*", "443"),
        rule("lb", 120, "Inbound", "Allow", "Tcp", "AzureLoadBalancer", "*", "443"),
        rule("data-plane", 130, "Inbound", "Allow", "Tcp", "VirtualNetwork", "*", ("8080", "5701")),
        rule("deny-rest", 4000, "Inbound", "Deny", "*", "*", "*", "*"),
        rule("ssh-rdp", 100, "Outbound", "Allow", "Tcp", "*", "VirtualNetwork", ("22", "3389")),
        rule("data-plane-out", 110, "Outbound", "Allow", "Tcp", "*", "VirtualNetwork", ("8080", "5701")),
        rule("cloud", 120, "Outbound", "Allow", "Tcp", "*", "AzureCloud", "443"),
        rule("session", 130, "Outbound", "Allow", "Tcp", "*", "Internet", "80"),
    )
    world.subnet("AzureBastionSubnet", "10.0.9.0/26", nsg=bastion)
    tags = ServiceTags.of(
        [
            ServiceTag("GatewayManager", ("51.12.0.0/16",), ("NSG",)),
            ServiceTag("AzureCloud", ("13.64.0.0/11",), ("NSG",)),
        ]
    )
    topology = world.topology(service_tags=tags)
    pooled = next(n for n in topology.nics.values() if n.name == "pooled")
    configs = (replace(pooled.ip_configurations[0], load_balancer_backend_address_pools=(POOL,)),)
    topology = topology.with_(
        nics=[replace(n, ip_configurations=configs) if n is pooled else n for n in topology.nics.values()],
        load_balancers=[POOLED_BY],
    )
    findings = lint_topology(topology)
    probes = [f for f in findings if f.rule_id == "deny-load-balancer-probes"]
    assert [(f.resource.rsplit("/", 1)[-1], f.nics) for f in probes] == [("deny-rest", (pooled.id,))]
    assert probes[0].witness is not None and probes[0].witness.remote_ip == "168.63.129.16"
    assert not [f for f in findings if f.rule_id == "missing-platform-ports"]


#: A Terraform module whose rules lint reports: the SARIF lines must be the blocks' first lines (1-based).
TERRAFORM_MODULE = """\
provider "azurerm" {
  features {}
  subscription_id = "5f1c0c3e-6a4b-4c2d-9e1f-2a3b4c5d6e7f"
}

resource "azurerm_resource_group" "rg" {
  name     = "rg"
  location = "westeurope"
}

resource "azurerm_network_security_group" "web" {
  name                = "web-nsg" # a comment with { a brace
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  security_rule {
    name                       = "allow-ssh"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "allow-ssh-again"
    priority                   = 200
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }
}

resource "azurerm_network_security_rule" "telnet" {
  name                        = "allow-telnet"
  priority                    = 300
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Tcp"
  source_port_range           = "*"
  destination_port_ranges     = ["23", "${var.port}"]
  source_address_prefix       = "*"
  destination_address_prefix  = "*"
  resource_group_name         = azurerm_resource_group.rg.name
  network_security_group_name = azurerm_network_security_group.web.name
}

variable "port" {
  default = "2323"
}
"""


def test_sarif_points_at_terraform_blocks(tmp_path: Path, monkeypatch: Any) -> None:
    """Terraform input: each result's physicalLocation is the .tf file (relative to the working directory) and the
    first line of the rule's block (inline security_rule or azurerm_network_security_rule) or of the NSG."""
    module = tmp_path / "infra"
    module.mkdir()
    (module / "main.tf").write_text(TERRAFORM_MODULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["lint", "infra", "--sarif", "out.sarif", "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    log = json.loads((tmp_path / "out.sarif").read_text(encoding="utf-8"))
    lines = TERRAFORM_MODULE.splitlines()
    seen = {}
    for r in log["runs"][0]["results"]:
        (location,) = r["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "infra/main.tf"
        seen[r["ruleId"], physical["region"]["startLine"]] = lines[physical["region"]["startLine"] - 1].strip()
    assert seen[("shadowed-rule", 28)] == "security_rule {"  # allow-ssh-again, under allow-ssh
    assert seen[("internet-exposed-port", 16)] == "security_rule {"  # allow-ssh
    assert seen[("internet-exposed-port", 41)] == 'resource "azurerm_network_security_rule" "telnet" {'
    assert seen[("unattached-nsg", 11)] == 'resource "azurerm_network_security_group" "web" {'


def test_a_rule_naming_a_platform_tag_is_not_shadowed_by_rules_exempt_flows_skip(world: World) -> None:
    """Outbound flows to 168.63.129.16 consult only the rules naming AzurePlatformDNS (semantics §0): an earlier
    deny-all does not cover such a rule (found by the property above: lint called it shadowed)."""
    nsg = world.nsg(
        "platform",
        rule("deny-all-icmp", 500, "Outbound", "Deny", "Icmp", "*", "*", "*"),
        rule("deny-dns-icmp", 3000, "Outbound", "Deny", "Icmp", "*", "AzurePlatformDNS", "*"),
    )
    world.nic("vm", world.subnet("app", "10.0.1.0/24", nsg=nsg), "10.0.1.4")
    topology = world.topology()
    dns_rule = next(r for r in topology.nsgs[id_key(nsg)].security_rules if r.name == "deny-dns-icmp")
    kinds = {f.rule_id for f in lint_topology(topology) if id_key(f.resource) == id_key(dns_rule.id or "")}
    assert "shadowed-rule" not in kinds
    flow = Flow(Direction.OUTBOUND, 1, ip_address("10.0.1.4"), None, ip_address("168.63.129.16"), None)
    nic = next(iter(topology.nics.values()))
    step = Engine(topology).verify(nic.id, flow).trace[-1]
    assert step.matched_rule is not None and step.matched_rule.name == "deny-dns-icmp"
