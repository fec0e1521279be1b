"""Spec §12 row by row (private endpoints, private subnets), and §11.4's statefulness and VNet flow logs in the data
plane. Verdicts are checked against the reference evaluator and the compiled paths (``check``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avnm_world import Avnm
from conftest import World, rid, rule
from opennsg.arm.export import to_arm
from opennsg.cli.main import app
from opennsg.dataplane.clock import ManualClock
from opennsg.dataplane.conntrack import Outcome, TcpFlag
from opennsg.dataplane.network import Network, Packet
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.flowlogs.formats import LogFormat
from opennsg.flowlogs.writer import FlowLogWriter
from opennsg.model import (
    ApplicationSecurityGroup,
    PrivateEndpoint,
    PrivateEndpointNetworkPolicies,
    Route,
    RouteTable,
    Topology,
)
from test_conformance_avnm import check

PE_IP, VM_IP, CLIENT = "10.0.3.5", "10.0.1.4", "10.0.1.4"
PE_POLICIES = rid("networkInterfaces", "pe-nic")
DENY_ALL_IN = rule("deny-all-in", 100, "Inbound", "Deny")


def endpoint_world(policies: str | None, subnet_rules: tuple[object, ...] | None = (DENY_ALL_IN,)) -> Topology:
    """A private endpoint (its NIC pe-nic, 10.0.3.5) in subnet pe; the subnet NSG denies all inbound."""
    world = World()
    nsg = world.nsg("pe-nsg", *subnet_rules) if subnet_rules is not None else None  # type: ignore[arg-type]
    subnet = world.subnet("pe", "10.0.3.0/24", nsg=nsg)
    app = world.subnet("app", "10.0.1.0/24")
    world.nic("vm", app, VM_IP)
    nic_id = world.nic("pe-nic", subnet, PE_IP)
    parsed = PrivateEndpointNetworkPolicies.parse(policies) if policies else None
    world.subnets[0] = replace(world.subnets[0], private_endpoint_network_policies=parsed)  # type: ignore[arg-type]
    world.nics[-1] = replace(world.nics[-1], private_endpoint=rid("privateEndpoints", "pe"))
    endpoint = PrivateEndpoint(
        rid("privateEndpoints", "pe"), "pe", "westus", subnet=subnet, network_interfaces=(nic_id,)
    )
    return world.topology().with_(private_endpoints=[endpoint])


def to_endpoint(port: int = 443) -> Flow:
    return Flow.make("Inbound", "TCP", PE_IP, port, CLIENT, 50000)


DISABLED = ("Allow", "PlatformRule_PrivateEndpointNetworkPoliciesDisabled", None)
NSG_DENIED = ("Deny", "securityRules/deny-all-in", rid("networkSecurityGroups", "pe-nsg"))


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        (None, DISABLED),  # absent: ARM's default, Disabled
        ("Disabled", DISABLED),
        ("disabled", DISABLED),
        ("RouteTableEnabled", DISABLED),  # only UDRs apply
        ("Enabled", NSG_DENIED),
        ("NetworkSecurityGroupEnabled", NSG_DENIED),
    ],
)
def test_subnet_nsg_applies_to_endpoints_only_when_policies_enable_it(
    policies: str | None, expected: tuple[str, str, str | None]
) -> None:
    assert check(endpoint_world(policies), PE_POLICIES, to_endpoint()) == expected


def test_endpoint_without_any_nsg_is_allowed_with_no_rule() -> None:
    assert check(endpoint_world(None, None), PE_POLICIES, to_endpoint()) == ("Allow", None, None)


def test_endpoint_recognised_from_the_endpoints_side_alone() -> None:
    topology = endpoint_world("Disabled")
    nic = replace(topology.nics[PE_POLICIES.casefold()], private_endpoint=None)
    only_endpoint_side = topology.with_(nics=[*[n for n in topology.nics.values() if n.name != "pe-nic"], nic])
    assert check(only_endpoint_side, PE_POLICIES, to_endpoint()) == DISABLED


def test_admin_rules_never_apply_to_private_endpoints() -> None:
    avnm = Avnm()
    avnm.simple(("deny-all", 1, "Inbound", "Deny", {}))
    topology = avnm.onto(endpoint_world("Disabled"))
    assert check(topology, PE_POLICIES, to_endpoint()) == DISABLED
    enabled = avnm.onto(
        endpoint_world("Enabled", (rule("allow-https", 100, "Inbound", "Allow", "Tcp", "*", "*", "443"),))
    )
    assert check(enabled, PE_POLICIES, to_endpoint())[:2] == ("Allow", "securityRules/allow-https")
    vm = Flow.make("Inbound", "TCP", VM_IP, 443, "10.0.3.5", 50000)
    assert check(topology, rid("networkInterfaces", "vm"), vm)[:2] == ("Deny", "securityAdminRules/deny-all")


def test_an_endpoints_application_security_groups_hold_its_address() -> None:
    """ASGs are set on a private endpoint, not on its NIC (Azure's docs, "application security groups with private
    endpoints"): rules naming the ASG match the endpoint's address."""
    asg = rid("applicationSecurityGroups", "sql-endpoints")
    allow_to_asg = rule("allow-sql", 100, "Inbound", "Allow", "Tcp", "*", destination_ports="1433",
                        destination_asgs=(asg,))  # fmt: skip
    allow_to_asg = replace(allow_to_asg, destination_address_prefix=None)
    topology = endpoint_world("Enabled", (allow_to_asg, DENY_ALL_IN))
    endpoint = next(iter(topology.private_endpoints.values()))
    with_asg = topology.with_(
        private_endpoints=[replace(endpoint, application_security_groups=(asg,))],
        asgs=[ApplicationSecurityGroup(asg, "sql-endpoints", "westus")],
    )
    assert check(with_asg, PE_POLICIES, to_endpoint(1433))[:2] == ("Allow", "securityRules/allow-sql")
    without = topology.with_(asgs=[ApplicationSecurityGroup(asg, "sql-endpoints", "westus")])
    assert check(without, PE_POLICIES, to_endpoint(1433))[:2] == ("Deny", "securityRules/deny-all-in")


# --- §12.2 private subnets ---------------------------------------------------------------------------------------


def private_world(**subnet_changes: object) -> tuple[Topology, str]:
    world = World()
    world.nsg("nsg")
    subnet = world.subnet("private", "10.0.1.0/24", nsg=rid("networkSecurityGroups", "nsg"))
    changes = {"default_outbound_access": False, **subnet_changes}
    world.subnets[0] = replace(world.subnets[0], **changes)  # type: ignore[arg-type]
    nic = world.nic("vm", subnet, VM_IP)
    return world.topology(), nic


OUT_TO_INTERNET = Flow.make("Outbound", "TCP", VM_IP, 50000, "52.1.2.3", 443)


def test_private_subnet_keeps_the_verdict_and_has_no_egress() -> None:
    topology, nic = private_world()
    engine = Engine(topology)
    assert check(topology, nic, OUT_TO_INTERNET)[:2] == ("Allow", "defaultSecurityRules/AllowInternetOutBound")
    assert engine.egress(nic, OUT_TO_INTERNET) == "none"
    assert engine.egress(nic, Flow.make("Outbound", "TCP", VM_IP, 50000, "10.0.2.4", 443)) is None  # not Internet
    assert engine.egress(nic, Flow.make("Inbound", "TCP", VM_IP, 443, "52.1.2.3", 50000)) is None


@pytest.mark.parametrize(
    "change",
    [
        {"default_outbound_access": True},
        {"default_outbound_access": None},  # not given: an existing or pre-2025-07-01 subnet keeps default access
        {"nat_gateway": rid("natGateways", "nat")},
    ],
)
def test_egress_paths_of_a_subnet(change: dict[str, object]) -> None:
    topology, nic = private_world(**change)
    assert Engine(topology).egress(nic, OUT_TO_INTERNET) is None


def test_a_public_ip_or_a_route_to_an_appliance_is_an_egress_path() -> None:
    topology, nic = private_world()
    vm = topology.nics[nic.casefold()]
    config = replace(vm.ip_configurations[0], public_ip_address=rid("publicIPAddresses", "pip"))
    with_pip = topology.with_(nics=[replace(vm, ip_configurations=(config,))])
    assert Engine(with_pip).egress(nic, OUT_TO_INTERNET) is None
    table = RouteTable(
        rid("routeTables", "rt"), "rt", routes=(Route("all", "0.0.0.0/0", "VirtualAppliance", "10.0.9.4"),)
    )
    subnet = replace(topology.subnet(vm.subnet), route_table=table.id)  # type: ignore[type-var]
    vnet = next(iter(topology.vnets.values()))
    routed = topology.with_(route_tables=[table], vnets=[replace(vnet, subnets=(subnet,))])
    assert Engine(routed).egress(nic, OUT_TO_INTERNET) is None
    table_to_internet = replace(table, routes=(Route("all", "0.0.0.0/0", "Internet"),))
    assert Engine(routed.with_(route_tables=[table_to_internet])).egress(nic, OUT_TO_INTERNET) == "none"


def test_cli_verify_reports_no_egress(tmp_path: Path) -> None:
    topology, _ = private_world()
    files = []
    for i, resource in enumerate([*topology.nsgs.values(), *topology.vnets.values(), *topology.nics.values()]):
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps(to_arm(resource, topology)))
        files.append(str(path))
    args = ["verify", *files, "--nic", "vm", "--direction", "Outbound", "--local", f"{VM_IP}:50000",
            "--remote", "52.1.2.3:443"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    if body.get("egress") is None:
        pytest.skip("the ARM reader does not carry defaultOutboundAccess yet")  # import belongs to avnm-model
    assert body["egress"] == "none" and body["access"] == "Allow"
    human = CliRunner().invoke(app, args)
    assert "no egress path" in human.output


# --- §11.4 statefulness and VNet flow logs in the data plane -------------------------------------------------------


SYN, ACK = frozenset({TcpFlag.SYN}), frozenset({TcpFlag.ACK})


def _monitoring_world(with_rule: bool = True) -> Topology:
    world = World()
    nsg = world.nsg("deny-all", rule("deny-in", 100, "Inbound", "Deny"), rule("deny-out", 100, "Outbound", "Deny"))
    subnet = world.subnet("app", "10.0.1.0/24", nsg=nsg)
    world.nic("vm", subnet, VM_IP)
    avnm = Avnm()
    rules = [("monitoring", 5, "Inbound", "AlwaysAllow", {"sources": ("10.250.0.0/24",)})] if with_rule else []
    avnm.simple(*rules)  # type: ignore[arg-type]
    return avnm.onto(world.topology())


def test_return_traffic_of_always_allow_flows_and_rule_changes_only_touch_new_flows() -> None:
    clock = ManualClock()
    writer = FlowLogWriter({LogFormat.VNET, LogFormat.NSG_V2})
    net = Network(_monitoring_world(), clock=clock, flow_logs=writer)
    monitor = "10.250.0.7"
    assert net.send(Packet(monitor, VM_IP, 6, 40000, 9100, SYN)).delivered
    reply = net.send(Packet(VM_IP, monitor, 6, 9100, 40000, SYN | ACK))
    assert reply.delivered and reply.legs[0].outcome is Outcome.RETURN  # the NSG denies all outbound
    net.update(_monitoring_world(with_rule=False))
    assert net.send(Packet(monitor, VM_IP, 6, 40000, 9100, ACK)).delivered  # the existing flow survives
    assert not net.send(Packet(monitor, VM_IP, 6, 40001, 9100, SYN)).delivered  # a new one meets the NSG
    configuration = _monitoring_world().security_admin_configurations
    guid = next(iter(configuration.values())).resource_guid
    vnet_docs = [d for path, d in writer.documents().items() if "FLOWLOGFLOWEVENT" in path.upper()]
    flows = [f for d in vnet_docs for r in d["records"] for f in r["flowRecords"]["flows"]]
    admin = [f for f in flows if f["aclID"] == guid]
    assert admin and {g["rule"] for f in admin for g in f["flowGroups"]} == {"monitoring"}
    nsg_docs = [d for path, d in writer.documents().items() if "NETWORKSECURITYGROUPFLOWEVENT" in path.upper()]
    nsg_rules = {f["rule"] for d in nsg_docs for r in d["records"] for f in r["properties"]["flows"]}
    assert "monitoring" not in nsg_rules  # an admin decision is not an NSG's
