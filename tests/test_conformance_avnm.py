"""Spec §11 (AVNM security admin rules) row by row: reach (§11.2), evaluation (§11.3), diagnostics and logs (§11.4),
the project decisions (§11.6). Every verdict is checked against the reference evaluator too."""

from __future__ import annotations

from dataclasses import replace

import pytest

from avnm_world import MG_CHILD, MG_ROOT, VNET, Avnm
from conftest import SUB, World, rid, rule
from netwatcher import diagnose_json, effective_json
from opennsg.engine import Engine
from opennsg.engine.compiled import FlowColumns, compile_policy
from opennsg.engine.flow import Flow
from opennsg.model import Delegation, ManagementGroup, Topology, VnetEffectiveAdminRules
from opennsg.model.avnm import EffectiveAdminRule
from reference import reference_decide

APP_IP, OTHER_IP = "10.0.1.4", "10.0.2.4"
INTERNET_CLIENT = "52.10.0.9"


def _world(subnet_nsg_rules: tuple[object, ...] | None = None, subnet_name: str = "app") -> tuple[World, str, str]:
    world = World()
    nsg = world.nsg("app-nsg", *subnet_nsg_rules) if subnet_nsg_rules is not None else None  # type: ignore[arg-type]
    app = world.subnet(subnet_name, "10.0.1.0/24", nsg=nsg)
    other = world.subnet("other", "10.0.2.0/24")
    return world, world.nic("app", app, APP_IP), world.nic("other", other, OTHER_IP)


def _flow(direction: str = "Inbound", port: int = 22, remote: str = INTERNET_CLIENT, protocol: str = "TCP") -> Flow:
    local = APP_IP
    return Flow.make(direction, protocol, local, port if direction == "Inbound" else 50000, remote,
                     50000 if direction == "Inbound" else port)  # fmt: skip


def check(topology: Topology, nic: str, flow: Flow) -> tuple[str, str | None, str | None]:
    """The engine's verdict (exact, compiled single flow, both batch paths), asserted equal to the reference's."""
    engine = Engine(topology)
    verdict = engine.verify(nic, flow)
    got = (verdict.access.value, verdict.rule_name, verdict.nsg_id)
    ref = reference_decide(topology, nic, flow)
    assert got == (ref.access, ref.rule_name, ref.nsg_id)
    compiled = compile_policy(engine.policy(nic))
    single = compiled.decide(flow)
    assert (single.access.value, single.rule_name, single.nsg_id, single.acl_id) == (*got, verdict.acl_id)
    for backend in ("numpy", "numba"):
        try:
            batch = compiled.classify(FlowColumns.from_flows([flow]), backend=backend)  # type: ignore[arg-type]
        except RuntimeError:
            continue  # numba absent
        result = compiled.results[int(batch.result[0])]
        assert (result.access.value, result.rule_name, result.nsg_id) == got
    return got


def deny_ssh_topology(avnm: Avnm | None = None, world: World | None = None) -> tuple[Topology, str, str, Avnm]:
    """An admin Deny of TCP 22 inbound on the World's VNet; the subnet NSG allows 22 from anywhere."""
    if world is None:
        world, nic, other = _world((rule("allow-ssh", 100, "Inbound", "Allow", "Tcp", "*", "*", "22"),))
    else:
        nic, other = rid("networkInterfaces", "app"), rid("networkInterfaces", "other")
    avnm = avnm or Avnm()
    if not avnm.managers:
        avnm.simple(("deny-ssh", 10, "Inbound", "Deny", {"protocol": "Tcp", "destination_ports": ("22",)}))
    return avnm.onto(world.topology()), nic, other, avnm


DENIED = ("Deny", "securityAdminRules/deny-ssh")
NSG_ALLOWED = ("Allow", "securityRules/allow-ssh")


# --- §11.3 evaluation ------------------------------------------------------------------------------------------


def test_deny_drops_and_the_nsgs_are_not_consulted() -> None:
    topology, nic, _, avnm = deny_ssh_topology()
    assert check(topology, nic, _flow()) == (*DENIED, avnm.managers[0].id)
    verdict = Engine(topology).verify(nic, _flow())
    assert [s.association for s in verdict.trace] == ["networkManager"]
    assert verdict.applied_to == VNET


def test_always_allow_delivers_whatever_the_nsgs_say() -> None:
    world, nic, _ = _world((rule("deny-all-in", 100, "Inbound", "Deny"),))
    avnm = Avnm()
    avnm.simple(("monitoring", 5, "Inbound", "AlwaysAllow", {"sources": ("10.250.0.0/24",)}))
    got = check(avnm.onto(world.topology()), nic, _flow(remote="10.250.0.7"))
    assert got == ("Allow", "securityAdminRules/monitoring", avnm.managers[0].id)


def test_allow_continues_into_the_nsgs_which_may_still_deny() -> None:
    world, nic, _ = _world((rule("deny-web", 100, "Inbound", "Deny", "Tcp", "*", "*", "80"),))
    avnm = Avnm()
    avnm.simple(("allow-web", 5, "Inbound", "Allow", {"protocol": "Tcp", "destination_ports": ("80", "443")}))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(port=80))[:2] == ("Deny", "securityRules/deny-web")
    assert check(topology, nic, _flow(port=443))[:2] == ("Deny", "defaultSecurityRules/DenyAllInBound")


def test_no_admin_match_leaves_the_nsg_verdict() -> None:
    topology, nic, _, _ = deny_ssh_topology()
    assert check(topology, nic, _flow(port=23))[:2] == ("Deny", "defaultSecurityRules/DenyAllInBound")
    assert check(topology, nic, _flow(direction="Outbound", port=22))[:2] == (
        "Allow",
        "defaultSecurityRules/AllowInternetOutBound",
    )


def test_admin_rules_work_without_any_nsg() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    avnm.simple(
        ("deny-ssh", 10, "Inbound", "Deny", {"protocol": "Tcp", "destination_ports": ("22",)}),
        ("allow-web", 20, "Inbound", "Allow", {"protocol": "Tcp", "destination_ports": ("80",)}),
    )
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(port=22))[:2] == DENIED
    assert check(topology, nic, _flow(port=80)) == ("Allow", None, None)  # an Allow never decides


def test_lowest_priority_number_first() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    avnm.simple(
        ("deny-late", 200, "Inbound", "Deny", {}),
        ("allow-early", 100, "Inbound", "AlwaysAllow", {"protocol": "Tcp"}),
    )
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow())[:2] == ("Allow", "securityAdminRules/allow-early")
    assert check(topology, nic, _flow(protocol="UDP"))[:2] == ("Deny", "securityAdminRules/deny-late")


def test_tags_resolve_per_nic_as_for_nsg_rules() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    avnm.simple(
        ("deny-internet", 10, "Inbound", "Deny", {"sources": ("Internet",)}),
        ("always-vnet", 20, "Inbound", "AlwaysAllow", {"sources": ("VirtualNetwork",)}),
    )
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(remote="52.1.1.1"))[:2] == ("Deny", "securityAdminRules/deny-internet")
    assert check(topology, nic, _flow(remote="10.0.2.4"))[:2] == ("Allow", "securityAdminRules/always-vnet")
    assert check(topology, nic, _flow(remote="192.168.0.1"))[:2] == ("Allow", None)


def test_outbound_admin_rules_and_direction() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    avnm.simple(("deny-smb-out", 10, "Outbound", "Deny", {"protocol": "Tcp", "destination_ports": ("445",)}))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow("Outbound", 445))[:2] == ("Deny", "securityAdminRules/deny-smb-out")
    assert check(topology, nic, _flow("Inbound", 445))[:2] == ("Allow", None)


# --- §11.2 reach -------------------------------------------------------------------------------------------------


def test_rules_reach_every_nic_of_the_vnet() -> None:
    topology, nic, other, _ = deny_ssh_topology()
    flow = Flow.make("Inbound", "TCP", OTHER_IP, 22, INTERNET_CLIENT, 50000)
    assert check(topology, other, flow)[:2] == DENIED
    assert check(topology, nic, _flow())[:2] == DENIED


def test_a_vnet_outside_every_group_gets_no_admin_rules() -> None:
    avnm = Avnm()
    manager = avnm.manager()
    group = avnm.group(manager, "empty")
    collection = avnm.collection(avnm.configuration(manager), "rc", group)
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED


def test_subnet_groups_reach_only_their_subnets() -> None:
    avnm = Avnm()
    manager = avnm.manager()
    group = avnm.group(manager, "apps", rid("virtualNetworks", "vnet", "subnets", "app"), member_type="Subnet")
    collection = avnm.collection(avnm.configuration(manager), "rc", group)
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    topology, nic, other, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == DENIED
    assert check(topology, other, Flow.make("Inbound", "TCP", OTHER_IP, 22, INTERNET_CLIENT, 50000)) == (
        "Allow",
        None,
        None,
    )


def test_a_subnet_listed_in_a_vnet_group_does_not_count() -> None:
    avnm = Avnm()
    manager = avnm.manager()
    group = avnm.group(manager, "vnets", rid("virtualNetworks", "vnet", "subnets", "app"))  # memberType VirtualNetwork
    collection = avnm.collection(avnm.configuration(manager), "rc", group)
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED


@pytest.mark.parametrize(
    ("statuses", "applies"),
    [
        ((), True),  # §11.6: no status names the manager's configurations: deployed everywhere
        ((("cfg", "westus", "Deployed"),), True),
        ((("cfg", "West US", "Deployed"),), True),
        ((("cfg", "eastus", "Deployed"),), False),
        ((("cfg", "westus", "Deploying"),), False),
        ((("cfg", "westus", "Failed"),), False),
        ((("other", "westus", "Deployed"),), False),  # a status names another configuration of the manager
    ],
)
def test_only_configurations_deployed_in_the_vnets_region_apply(
    statuses: tuple[tuple[str, str, str], ...], applies: bool
) -> None:
    avnm = Avnm()
    manager, _ = avnm.simple(("deny-ssh", 10, "Inbound", "Deny", {"protocol": "Tcp", "destination_ports": ("22",)}))
    avnm.configuration(manager, "other")
    for name, region, state in statuses:
        avnm.deployed(f"{manager}/securityAdminConfigurations/{name}", region, state)
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == (DENIED if applies else NSG_ALLOWED)


@pytest.mark.parametrize(
    ("subscriptions", "management_groups", "tree_subscription", "applies"),
    [
        ((SUB,), (), None, True),
        (("11111111-1111-1111-1111-111111111111",), (), None, False),
        ((), (MG_ROOT,), SUB, True),  # the subscription is under child, child under root
        ((), (MG_CHILD,), SUB, True),
        ((), (MG_ROOT,), "22222222-2222-2222-2222-222222222222", False),
        ((), (MG_ROOT,), None, False),  # no tree imported: nothing is known to be under root
    ],
)
def test_only_vnets_in_the_managers_scope(
    subscriptions: tuple[str, ...], management_groups: tuple[str, ...], tree_subscription: str | None, applies: bool
) -> None:
    avnm = Avnm()
    manager = avnm.manager(subscriptions=subscriptions, management_groups=management_groups)
    collection = avnm.collection(avnm.configuration(manager), "rc", avnm.group(manager, "all", VNET))
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    if tree_subscription:
        avnm.management_groups += [
            ManagementGroup(MG_ROOT, "root", child_groups=(MG_CHILD,)),
            ManagementGroup(
                MG_CHILD, "child", parent_id=MG_ROOT, subscriptions=(f"/subscriptions/{tree_subscription}",)
            ),
        ]
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == (DENIED if applies else NSG_ALLOWED)


@pytest.mark.parametrize(
    "subnet_name",
    ["GatewaySubnet", "AzureFirewallSubnet", "AzureFirewallManagementSubnet", "AzureBastionSubnet", "RouteServerSubnet",
     "gatewaysubnet"],
)  # fmt: skip
def test_special_subnets_get_no_admin_rules(subnet_name: str) -> None:
    world, nic, _ = _world((rule("allow-ssh", 100, "Inbound", "Allow", "Tcp", "*", "*", "22"),), subnet_name)
    topology, nic, _, _ = deny_ssh_topology(world=world)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED


@pytest.mark.parametrize(
    "change",
    [
        {"application_gateway_ip_configurations": (rid("applicationGateways", "agw", "gatewayIPConfigurations", "c"),)},
        {"delegations": (Delegation("gateways", "Microsoft.Network/applicationGateways"),)},
        {"delegations": (Delegation("gateways", "Microsoft.Network/virtualNetworkGateways"),)},
    ],
)
def test_application_gateway_and_gateway_subnets_get_no_admin_rules(change: dict[str, object]) -> None:
    world, nic, _ = _world((rule("allow-ssh", 100, "Inbound", "Allow", "Tcp", "*", "*", "22"),))
    world.subnets[0] = replace(world.subnets[0], **change)  # type: ignore[arg-type]
    topology, nic, _, _ = deny_ssh_topology(world=world)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED


@pytest.mark.parametrize("delegation", ["Microsoft.Sql/managedInstances", "Microsoft.Databricks/workspaces"])
@pytest.mark.parametrize(
    ("modes", "deny_applies", "allow_applies"),
    [((), False, False), (("None",), False, False), (("AllowRulesOnly",), False, True), (("All",), True, True)],
)
def test_network_intent_policy_vnets(
    delegation: str, modes: tuple[str, ...], deny_applies: bool, allow_applies: bool
) -> None:
    world, nic, _ = _world((rule("deny-web", 100, "Inbound", "Deny", "Tcp", "*", "*", "80"),
                            rule("allow-ssh", 110, "Inbound", "Allow", "Tcp", "*", "*", "22")))  # fmt: skip
    # another subnet of the VNet holds SQL MI
    world.subnets[1] = replace(world.subnets[1], delegations=(Delegation("delegation1", delegation),))
    avnm = Avnm()
    manager = avnm.manager()
    collection = avnm.collection(avnm.configuration(manager, intent=modes), "rc", avnm.group(manager, "all", VNET))
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    avnm.rule(collection, "always-web", 20, "Inbound", "AlwaysAllow", "Tcp", destination_ports=("80",))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(port=22))[:2] == (DENIED if deny_applies else NSG_ALLOWED)
    web = ("Allow", "securityAdminRules/always-web") if allow_applies else ("Deny", "securityRules/deny-web")
    assert check(topology, nic, _flow(port=80))[:2] == web


def test_a_vnets_effective_admin_rules_answer_replaces_the_computation() -> None:
    avnm = Avnm()
    manager = avnm.manager()
    collection = avnm.collection(avnm.configuration(manager), "rc", avnm.group(manager, "none"))
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED  # the group has no members
    answer = VnetEffectiveAdminRules(VNET, (EffectiveAdminRule(avnm.rules[0]),))
    with_answer = topology.with_(effective_admin_rules=[answer])
    assert check(with_answer, nic, _flow()) == (*DENIED, manager)


# --- §11.6 project decisions ---------------------------------------------------------------------------------------


def test_collections_merge_by_priority_then_collection_then_rule_name() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    manager = avnm.manager()
    group = avnm.group(manager, "all", VNET)
    configuration = avnm.configuration(manager)
    b_collection = avnm.collection(configuration, "b", group)
    a_collection = avnm.collection(configuration, "a", group)
    avnm.rule(b_collection, "deny-first", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    avnm.rule(a_collection, "allow-ssh", 20, "Inbound", "AlwaysAllow", "Tcp", destination_ports=("22",))
    avnm.rule(b_collection, "b-web", 30, "Inbound", "AlwaysAllow", "Tcp", destination_ports=("80",))
    avnm.rule(a_collection, "z-web", 30, "Inbound", "Deny", "Tcp", destination_ports=("80",))  # collection a first
    avnm.rule(a_collection, "b-rdp", 40, "Inbound", "Deny", "Tcp", destination_ports=("3389",))
    avnm.rule(a_collection, "a-rdp", 40, "Inbound", "AlwaysAllow", "Tcp", destination_ports=("3389",))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(port=22))[:2] == ("Deny", "securityAdminRules/deny-first")
    assert check(topology, nic, _flow(port=80))[:2] == ("Deny", "securityAdminRules/z-web")
    assert check(topology, nic, _flow(port=3389))[:2] == ("Allow", "securityAdminRules/a-rdp")


def test_static_members_outside_the_scope_get_no_rules() -> None:
    avnm = Avnm()
    manager = avnm.manager(subscriptions=("33333333-3333-3333-3333-333333333333",))
    collection = avnm.collection(avnm.configuration(manager), "rc", avnm.group(manager, "all", VNET))
    avnm.rule(collection, "deny-ssh", 10, "Inbound", "Deny", "Tcp", destination_ports=("22",))
    topology, nic, _, _ = deny_ssh_topology(avnm)
    assert check(topology, nic, _flow())[:2] == NSG_ALLOWED


def _two_managers(first: str, second: str, mg_scoped: str) -> tuple[Topology, str, dict[str, str]]:
    """Managers ``a`` and ``b`` (one of them scoped at management-group level) with one rule each on TCP 22."""
    world, nic, _ = _world((rule("allow-ssh", 100, "Inbound", "Allow", "Tcp", "*", "*", "22"),))
    avnm = Avnm()
    avnm.management_groups += [ManagementGroup(MG_ROOT, "root", subscriptions=(f"/subscriptions/{SUB}",))]
    ids = {}
    for name, access in (("a", first), ("b", second)):
        manager = (
            avnm.manager(name, subscriptions=(), management_groups=(MG_ROOT,))
            if name == mg_scoped
            else avnm.manager(name)
        )
        ids[name] = manager
        collection = avnm.collection(avnm.configuration(manager), "rc", avnm.group(manager, "g", VNET))
        avnm.rule(collection, f"{name}-{access.lower()}", 10, "Inbound", access, "Tcp", destination_ports=("22",))
    return avnm.onto(world.topology()), nic, ids


@pytest.mark.parametrize(
    ("first", "second", "mg_scoped", "expected"),
    [
        ("Deny", "AlwaysAllow", "b", ("Allow", "securityAdminRules/b-alwaysallow", "b")),  # b's scope is higher
        ("Deny", "AlwaysAllow", "a", ("Deny", "securityAdminRules/a-deny", "a")),
        ("Allow", "Deny", "a", ("Deny", "securityAdminRules/b-deny", "b")),  # Allow passes to the next manager
        ("Allow", "Allow", "a", ("Allow", "securityRules/allow-ssh", None)),  # ... and then to the NSGs
        ("Deny", "Deny", "none", ("Deny", "securityAdminRules/a-deny", "a")),  # ties by manager id
    ],
)
def test_several_managers_in_scope_order(
    first: str, second: str, mg_scoped: str, expected: tuple[str, str, str | None]
) -> None:
    topology, nic, ids = _two_managers(first, second, mg_scoped)
    access, name, manager = expected
    nsg = rid("networkSecurityGroups", "app-nsg")
    assert check(topology, nic, _flow()) == (access, name, ids[manager] if manager else nsg)


def test_ipv6_admin_rules() -> None:
    world, nic, _ = _world(None)
    nic6 = world.nic("six", world.subnets[0].id, "10.0.1.9", "fd00::1:9")
    avnm = Avnm()
    avnm.simple(("deny-v6-range", 10, "Inbound", "Deny", {"sources": ("2001:4860::/32",)}))
    topology = avnm.onto(world.topology())
    v6 = Flow.make("Inbound", "TCP", "fd00::1:9", 443, "2001:4860::8888", 50000)
    assert check(topology, nic6, v6)[:2] == ("Deny", "securityAdminRules/deny-v6-range")
    v4 = Flow.make("Inbound", "TCP", "10.0.1.9", 443, "52.1.1.1", 50000)
    assert check(topology, nic6, v4) == ("Allow", None, None)
    assert nic


def test_network_group_as_source_means_its_members_prefixes() -> None:
    world, nic, _ = _world(None)
    avnm = Avnm()
    manager, collection = avnm.simple()
    spokes = avnm.group(
        manager, "spoke-subnets", rid("virtualNetworks", "vnet", "subnets", "other"), member_type="Subnet"
    )
    avnm.rule(collection, "from-spokes", 10, "Inbound", "Deny", sources=(spokes,))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow(remote="10.0.2.77"))[:2] == ("Deny", "securityAdminRules/from-spokes")
    assert check(topology, nic, _flow(remote="10.0.3.1")) == ("Allow", None, None)


# --- §11.4 diagnostics, effective rules, logs, state -----------------------------------------------------------------


def test_diagnostics_list_the_admin_configuration_first() -> None:
    topology, nic, _, avnm = deny_ssh_topology()
    profile = {"direction": "Inbound", "protocol": "TCP", "source": "*", "destination": APP_IP, "destinationPort": "22"}
    result = diagnose_json(Engine(topology), nic, profile)["networkSecurityGroupResult"]
    assert result["securityRuleAccessResult"] == "Deny"
    first = result["evaluatedNetworkSecurityGroups"][0]
    assert first["networkSecurityGroupId"] == avnm.managers[0].id
    assert first["appliedTo"] == VNET
    assert first["matchedRule"] == {"ruleName": "deny-ssh", "action": "Deny"}
    assert [r["name"] for r in first["rulesEvaluationResult"]] == ["deny-ssh"]
    assert len(result["evaluatedNetworkSecurityGroups"]) == 1
    profile["destinationPort"] = "23"
    groups = diagnose_json(Engine(topology), nic, profile)["networkSecurityGroupResult"][
        "evaluatedNetworkSecurityGroups"
    ]
    assert [g["networkSecurityGroupId"] for g in groups] == [
        avnm.managers[0].id,
        rid("networkSecurityGroups", "app-nsg"),
    ]
    assert groups[1]["matchedRule"]["ruleName"] == "DefaultRule_DenyAllInBound"


def test_effective_rules_include_admin_rules_with_the_network_manager_association() -> None:
    topology, nic, _, avnm = deny_ssh_topology()
    groups = effective_json(Engine(topology), nic)
    admin = groups[0]
    assert admin["association"] == {"networkManager": {"id": avnm.managers[0].id}}
    (entry,) = admin["effectiveSecurityRules"]
    assert entry["name"] == "securityAdminRules/deny-ssh"
    assert (entry["access"], entry["priority"], entry["direction"], entry["protocol"]) == ("Deny", 10, "Inbound", "Tcp")
    assert entry["destinationPortRanges"] == ["22-22"]
    assert entry["sourcePortRanges"] == ["0-65535"]
    assert entry["sourceAddressPrefix"] == "0.0.0.0/0"
    assert [g["association"] for g in groups[1:]] == [
        {"subnet": {"id": rid("virtualNetworks", "vnet", "subnets", "app")}}
    ]


def test_verdict_carries_the_configuration_for_flow_logs() -> None:
    topology, nic, _, avnm = deny_ssh_topology()
    verdict = Engine(topology).verify(nic, _flow())
    configuration = avnm.configurations[0]
    assert (verdict.acl_id, verdict.acl_guid) == (configuration.id, configuration.resource_guid)
    assert verdict.log_rule_name == "deny-ssh"
    nsg_verdict = Engine(topology).verify(nic, _flow(port=23))
    assert nsg_verdict.acl_id == rid("networkSecurityGroups", "app-nsg")
    assert nsg_verdict.log_rule_name == "DefaultRule_DenyAllInBound"


def test_verify_path_is_admin_aware() -> None:
    world, nic, other = _world(None)
    avnm = Avnm()
    avnm.simple(("deny-east-west", 10, "Outbound", "Deny", {"destinations": ("10.0.1.0/24",)}))
    path = Engine(avnm.onto(world.topology())).verify_path(other, nic, "TCP", None, 40000, None, 22)
    assert (path.access.value, path.rule_name, path.decided_by) == (
        "Deny",
        "securityAdminRules/deny-east-west",
        "source",
    )


def test_the_platform_smtp_block_applies_after_always_allow() -> None:
    """Decision: ``AlwaysAllow`` skips the NSGs, not the platform's outbound TCP 25 block (semantics §0, §6)."""
    world, nic, _ = _world(None)
    avnm = Avnm()
    avnm.simple(("always-out", 10, "Outbound", "AlwaysAllow", {}))
    topology = avnm.onto(world.topology())
    assert check(topology, nic, _flow("Outbound", 25, remote="8.8.8.8")) == (
        "Deny",
        "PlatformRule_OutboundSmtpBlocked",
        None,
    )
    assert check(topology, nic, _flow("Outbound", 443, remote="8.8.8.8"))[:2] == (
        "Allow",
        "securityAdminRules/always-out",
    )
