"""Scenarios: every example runs as its comments say; the language rejects bad input whole; LB JSON parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opennsg.arm import load_documents, load_paths
from opennsg.arm.export import export_topology
from opennsg.cli.main import app
from opennsg.dataplane.scenario import parse_duration, run_scenario
from opennsg.model.errors import OpenNsgError
from opennsg.model.loadbalancer import ProbeProtocol, TransportProtocol

EXAMPLES = Path(__file__).parent.parent / "examples" / "scenarios"
runner = CliRunner()


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_example_meets_its_expectations(name: str, tmp_path: Path) -> None:
    out = tmp_path / "logs"
    result = runner.invoke(app, ["simulate", str(EXAMPLES / name), "--flowlogs-out", str(out), "--json"])
    assert result.exit_code == 0, result.stdout
    body = json.loads(result.stdout)
    assert body["summary"]["expectationsFailed"] == 0
    assert body["summary"]["flowLogFiles"] and all(Path(f).is_file() for f in body["summary"]["flowLogFiles"])


def test_ssh_example_story() -> None:
    run = run_scenario(EXAMPLES / "ssh-survives-rule-deletion.yaml")
    story = [(e.step, e.kind, e.delivered) for e in run.events if e.kind in ("send", "connect", "change")]
    assert (3, "change", None) in story
    after = [(e.description.split(" ")[0], e.delivered, e.reason) for e in run.events if e.step in (4, 5, 6)]
    assert after[0][1] and "tracked flow" in after[0][2]
    assert after[1][1] and "return traffic" in after[1][2]
    assert not after[2][1] and "DefaultRule_DenyAllInBound" in after[2][2]
    entries = run.flow_logs.entries
    assert [(e.tuple.state.value, e.rule) for e in entries] == [
        ("B", "UserRule_allow-ssh"),
        ("D", "DefaultRule_DenyAllInBound"),
        ("E", "UserRule_allow-ssh"),  # the session ends under the rule that admitted it, though it is gone
    ]
    end = entries[2].tuple
    assert (end.packets_sent, end.bytes_sent, end.packets_received, end.bytes_received) == (
        33,
        6000 + 3 * 60,
        12,
        9000 + 2 * 60,
    )  # data, plus SYN/ACK/FIN and SYN-ACK/FIN


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "topology.json").write_text((EXAMPLES / "topology.json").read_text())
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_invalid_scenarios_report_every_problem_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "start: yesterday\nflowLogs: {formats: [nsg3]}\nsteps:\n  - {wait: 1m, probe: x}\n  - 3\n")
    result = runner.invoke(app, ["simulate", str(path), "--json"])
    assert result.exit_code == 2
    details = json.loads(result.stderr)["error"]["details"]
    assert {d["target"] for d in details} == {"topology", "start", "flowLogs", "steps[0]", "steps[1]"}


def test_a_failing_step_names_its_place(tmp_path: Path) -> None:
    path = write(
        tmp_path, "topology: topology.json\nsteps:\n  - wait: 1m\n  - delete-rule: {nsg: web-nsg, rule: nope}\n"
    )
    with pytest.raises(OpenNsgError) as info:
        run_scenario(path)
    assert info.value.errors[0].target == "steps[1].delete-rule" and "nope" in info.value.errors[0].message


def test_an_invalid_added_rule_is_rejected_like_arm(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "topology: topology.json\nsteps:\n  - add-rule:\n      nsg: web-nsg\n      rule: {name: bad, properties: "
        "{priority: 100, direction: Inbound, access: Allow, protocol: Tcp, sourceAddressPrefix: '*', sourcePortRange: "
        "'*', destinationAddressPrefix: '*', destinationPortRange: '22'}}\n",
    )
    with pytest.raises(OpenNsgError) as info:
        run_scenario(path)
    assert "SecurityRuleConflict" in {e.code for e in info.value.errors}  # priority 100 is allow-ssh's


def test_unmet_expectation_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "topology: topology.json\nsteps:\n  - connect: {name: a, from: '52.1.1.1:1000', "
                           "to: 'db1-nic:22'}\n    expect: delivered\n")  # fmt: skip
    result = runner.invoke(app, ["simulate", str(path)])
    assert result.exit_code == 1 and "unexpected" in result.stdout


def test_flow_table_limit_from_the_command_line(tmp_path: Path) -> None:
    steps = "".join(f"  - packet: {{from: '52.1.1.1:{1000 + i}', to: 'web1-nic:22', flags: [SYN]}}\n" for i in range(3))
    path = write(tmp_path, "topology: topology.json\nsteps:\n" + steps)
    result = runner.invoke(app, ["simulate", str(path), "--max-flows-per-nic", "2", "--json"])
    body = json.loads(result.stdout)
    assert [e["delivered"] for e in body["events"]] == [True, True, False]
    assert "flow table full" in body["events"][2]["reason"]
    assert body["summary"]["refusedByFullFlowTable"] == {"web1-nic": 1}


def test_associations_and_icmp_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "topology: topology.json\nsteps:\n"
        "  - connect: {name: ping, from: web1-nic, to: db1-nic, protocol: icmp}\n    expect: dropped\n"
        "  - associate: {nsg: null, subnet: vnet/app}\n"
        "  - connect: {name: ping2, from: web1-nic, to: db1-nic, protocol: icmp}\n    expect: delivered\n"
        "  - associate: {nsg: app-nsg, nic: web1-nic}\n"
        "  - send: {connection: ping2, direction: reply}\n    expect: delivered\n",
    )
    run = run_scenario(path)
    assert run.expectations_failed == 0


def test_durations() -> None:
    assert [parse_duration(v) for v in (90, "30s", "5m", "1h", "250ms")] == [
        parse_duration("1.5m"), parse_duration(30), parse_duration(300), parse_duration(3600), parse_duration(0.25)
    ]  # fmt: skip
    assert parse_duration("soon") is None and parse_duration(-1) is None and parse_duration(True) is None


def test_load_balancer_json_shapes(tmp_path: Path) -> None:
    """Load balancers are ordinary resources: read by the one loader, in the topology (ARM and az shapes)."""
    lb = next(iter(load_paths([EXAMPLES / "topology.json"]).load_balancers.values()))
    assert lb.name == "web-lb" and lb.sku == "Standard"
    assert lb.probes[0].protocol is ProbeProtocol.TCP and lb.probes[0].port == 8080
    rule = lb.load_balancing_rules[0]
    assert (rule.protocol, rule.frontend_port, rule.backend_port) == (TransportProtocol.TCP, 80, 8080)
    assert rule.carries(6, 80) and not rule.carries(17, 80) and not rule.carries(6, 81)
    # az output: properties hoisted, child ids omitted, wrapped in a {"value": [...]} list.
    ilb_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/ilb"
    frontend: dict[str, object] = {"name": "fe", "privateIPAddress": "10.0.0.10"}
    flat = {"id": ilb_id, "name": "ilb", "type": "Microsoft.Network/loadBalancers",
            "frontendIPConfigurations": [frontend], "backendAddressPools": [{"name": "pool"}],
            "loadBalancingRules": [{"name": "ha",
                                    "frontendIPConfiguration": {"id": f"{ilb_id}/frontendIPConfigurations/fe"},
                                    "backendAddressPools": [{"id": f"{ilb_id}/backendAddressPools/pool"}],
                                    "protocol": "All", "frontendPort": 0, "backendPort": 0}]}  # fmt: skip
    (tmp_path / "ilb.json").write_text(json.dumps({"value": [flat]}))
    with pytest.raises(OpenNsgError) as info:  # an internal frontend names its subnet
        load_paths([tmp_path])
    assert [e.code for e in info.value.errors] == ["LoadBalancerFrontendIPConfigurationWithoutAddress"]
    vnet_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v"
    vnet = {"id": vnet_id, "name": "v", "type": "Microsoft.Network/virtualNetworks", "location": "westus",
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                           "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}  # fmt: skip
    frontend["subnet"] = {"id": f"{vnet_id}/subnets/s"}
    (tmp_path / "ilb.json").write_text(json.dumps({"value": [flat, vnet]}))
    topology = load_paths([tmp_path])
    [ilb] = topology.load_balancers.values()
    assert ilb.frontend_ip_configurations[0].id == f"{ilb_id}/frontendIPConfigurations/fe"
    assert ilb.load_balancing_rules[0].carries(17, 5353)  # HA ports: every port of TCP and UDP
    assert load_documents([("export", export_topology(topology))]).load_balancers == topology.load_balancers


def test_load_balancer_problems_are_reported_together(tmp_path: Path) -> None:
    lb_id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/bad"
    shape_errors = {"id": lb_id, "type": "Microsoft.Network/loadBalancers",
                    "properties": {
                        "probes": [{"name": "q", "properties": {"protocol": "Icmp", "port": 80}}],
                        "loadBalancingRules": [{"name": "r", "properties": {"protocol": "Tcp"}}]}}  # fmt: skip
    (tmp_path / "shape.json").write_text(json.dumps(shape_errors))
    with pytest.raises(OpenNsgError) as info:
        load_paths([tmp_path / "shape.json"])
    codes = sorted(e.code for e in info.value.errors)
    # probe q's protocol; rule r's frontendIPConfiguration, backendAddressPool, frontendPort and backendPort
    assert codes == ["InvalidRequestFormat", *["MissingRequiredProperty"] * 4], codes
    value_errors = {"id": lb_id, "type": "Microsoft.Network/loadBalancers",
                    "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": {}}],
                                   "probes": [{"name": "p", "properties": {"protocol": "Http", "port": 70000,
                                                                           "intervalInSeconds": 1}}],
                                   "loadBalancingRules": [{"name": "s", "properties": {
                                       "protocol": "Udp", "frontendPort": 70000, "backendPort": 53,
                                       "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/fe"},
                                       "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/none"},
                                   }}]}}  # fmt: skip
    (tmp_path / "values.json").write_text(json.dumps(value_errors))
    with pytest.raises(OpenNsgError) as info:
        load_paths([tmp_path / "values.json"])
    assert sorted(e.code for e in info.value.errors) == [
        "InvalidResourceReference",  # the rule's backend pool
        "LoadBalancerFrontendIPConfigurationWithoutAddress",
        "LoadBalancerInvalidPort",  # probe port 70000
        "LoadBalancerInvalidPort",  # frontendPort 70000
        "LoadBalancerProbeInvalidIntervalInSeconds",
        "LoadBalancerProbeRequestPathRequired",
    ]
    assert all((e.target or "").startswith(f"{tmp_path / 'values.json'}") for e in info.value.errors)
