"""Independent conformance audit: black-box tests through the public entry points, on JSON shaped like what
``az ... -o json`` prints (flattened properties, echoed empty alternatives, etag/type/resourceGroup fields)."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.arm import load_documents
from opennsg.cli.main import app
from opennsg.engine import Engine, Flow
from opennsg.model.enums import Direction
from opennsg.model.errors import OpenNsgError

SUB = "00000000-1111-2222-3333-444444444444"
RG = "rg-prod"
NET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"
INBOUND, OUTBOUND = Direction.INBOUND, Direction.OUTBOUND
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58


def vm_id(name: str, group: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachines/{name}"


def az_rule(nsg: str, name: str, priority: int, direction: str, access: str, **overrides: Any) -> dict[str, Any]:
    """A rule as ``az network nsg show`` prints it: flattened, the unused plural alternatives echoed as []."""
    rule: dict[str, Any] = {
        "access": access,
        "description": None,
        "destinationAddressPrefix": "*",
        "destinationAddressPrefixes": [],
        "destinationPortRange": "*",
        "destinationPortRanges": [],
        "direction": direction,
        "etag": 'W/"3f0c5e1a-0000-0000-0000-000000000000"',
        "id": f"{NET}/networkSecurityGroups/{nsg}/securityRules/{name}",
        "name": name,
        "priority": priority,
        "protocol": "*",
        "provisioningState": "Succeeded",
        "resourceGroup": RG,
        "sourceAddressPrefix": "*",
        "sourceAddressPrefixes": [],
        "sourcePortRange": "*",
        "sourcePortRanges": [],
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
    }
    rule.update(overrides)
    return rule


_DEFAULTS = (
    ("AllowVnetInBound", "Inbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow",
     "Allow inbound traffic from all VMs in VNET"),
    ("AllowAzureLoadBalancerInBound", "Inbound", 65001, "AzureLoadBalancer", "*", "Allow",
     "Allow inbound traffic from azure load balancer"),
    ("DenyAllInBound", "Inbound", 65500, "*", "*", "Deny", "Deny all inbound traffic"),
    ("AllowVnetOutBound", "Outbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow",
     "Allow outbound traffic from all VMs to all VMs in VNET"),
    ("AllowInternetOutBound", "Outbound", 65001, "*", "Internet", "Allow",
     "Allow outbound traffic from all VMs to Internet"),
    ("DenyAllOutBound", "Outbound", 65500, "*", "*", "Deny", "Deny all outbound traffic"),
)  # fmt: skip


def az_nsg(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``az network nsg show``: flattened, with the six ``defaultSecurityRules`` and null back-references."""
    defaults = []
    for rule_name, direction, priority, src, dst, access, description in _DEFAULTS:
        rule = az_rule(
            name, rule_name, priority, direction, access,
            sourceAddressPrefix=src, destinationAddressPrefix=dst, description=description,
            id=f"{NET}/networkSecurityGroups/{name}/defaultSecurityRules/{rule_name}",
            type="Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
        )  # fmt: skip
        defaults.append(rule)
    return {
        "defaultSecurityRules": defaults,
        "etag": 'W/"a1"',
        "flushConnection": False,
        "id": f"{NET}/networkSecurityGroups/{name}",
        "location": "eastus",
        "name": name,
        "networkInterfaces": None,
        "provisioningState": "Succeeded",
        "resourceGroup": RG,
        "resourceGuid": "11111111-2222-3333-4444-555555555555",
        "securityRules": rules,
        "subnets": None,
        "type": "Microsoft.Network/networkSecurityGroups",
    }


def az_vnet(name: str, spaces: list[str], subnets: list[tuple[str, str, str | None]]) -> dict[str, Any]:
    """``az network vnet show``: subnets (name, prefix(es) joined by ",", NSG name or None) with their az-only
    fields."""
    return {
        "addressSpace": {"addressPrefixes": spaces},
        "enableDdosProtection": False,
        "etag": 'W/"b2"',
        "id": f"{NET}/virtualNetworks/{name}",
        "location": "eastus",
        "name": name,
        "provisioningState": "Succeeded",
        "resourceGroup": RG,
        "resourceGuid": "22222222-2222-3333-4444-555555555555",
        "subnets": [
            {
                **({"addressPrefixes": prefix.split(",")} if "," in prefix else {"addressPrefix": prefix}),
                "delegations": [],
                "etag": 'W/"b3"',
                "id": f"{NET}/virtualNetworks/{name}/subnets/{subnet}",
                "name": subnet,
                "networkSecurityGroup": {"id": f"{NET}/networkSecurityGroups/{nsg}", "resourceGroup": RG}
                if nsg
                else None,
                "privateEndpointNetworkPolicies": "Disabled",
                "privateLinkServiceNetworkPolicies": "Enabled",
                "provisioningState": "Succeeded",
                "resourceGroup": RG,
                "type": "Microsoft.Network/virtualNetworks/subnets",
            }
            for subnet, prefix, nsg in subnets
        ],
        "type": "Microsoft.Network/virtualNetworks",
        "virtualNetworkPeerings": [],
    }


def az_nic(name: str, vm: str | None, vnet: str, subnet: str, ip: str, nsg: str | None = None) -> dict[str, Any]:
    """``az network nic show``: camelCase as az prints it (``privateIpAddress``, ``enableIpForwarding``)."""
    return {
        "auxiliaryMode": "None",
        "disableTcpStateTracking": False,
        "dnsSettings": {"appliedDnsServers": [], "dnsServers": []},
        "enableAcceleratedNetworking": False,
        "enableIpForwarding": False,
        "etag": 'W/"c4"',
        "hostedWorkloads": [],
        "id": f"{NET}/networkInterfaces/{name}",
        "ipConfigurations": [
            {
                "etag": 'W/"c5"',
                "id": f"{NET}/networkInterfaces/{name}/ipConfigurations/ipconfig1",
                "name": "ipconfig1",
                "primary": True,
                "privateIpAddress": ip,
                "privateIpAddressVersion": "IPv4",
                "privateIpAllocationMethod": "Dynamic",
                "provisioningState": "Succeeded",
                "resourceGroup": RG,
                "subnet": {"id": f"{NET}/virtualNetworks/{vnet}/subnets/{subnet}", "resourceGroup": RG},
                "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
            }
        ],
        "location": "eastus",
        "macAddress": "00-0D-3A-12-34-56",
        "name": name,
        "networkSecurityGroup": {"id": f"{NET}/networkSecurityGroups/{nsg}", "resourceGroup": RG} if nsg else None,
        "nicType": "Standard",
        "primary": True,
        "provisioningState": "Succeeded",
        "resourceGroup": RG,
        "resourceGuid": "33333333-2222-3333-4444-555555555555",
        "tapConfigurations": [],
        "type": "Microsoft.Network/networkInterfaces",
        # az prints the VM's resource group as ARM stores it, often upper case
        "virtualMachine": {"id": vm_id(vm, RG.upper()), "resourceGroup": RG.upper()} if vm else None,
        "vnetEncryptionSupported": False,
    }


def how_nsgs_filter_docs() -> list[tuple[str, Any]]:
    """Spec §3.4's picture, as three az outputs (``nsg list``, ``vnet show``, ``nic list``); no ``az vm`` output."""
    nsgs = [
        az_nsg("NSG1", []),
        az_nsg(
            "NSG2", [az_rule("NSG2", "allow-http", 100, "Inbound", "Allow", protocol="Tcp", destinationPortRange="80")]
        ),
    ]
    vnet = az_vnet("vnet1", ["10.0.0.0/16"], [("Subnet1", "10.0.1.0/24", "NSG1"), ("Subnet2", "10.0.2.0/24", None),
                                             ("Subnet3", "10.0.3.0/24", None)])  # fmt: skip
    nics = [
        az_nic("vm1-nic", "VM1", "vnet1", "Subnet1", "10.0.1.4", "NSG2"),
        az_nic("vm2-nic", "VM2", "vnet1", "Subnet1", "10.0.1.5"),
        az_nic("vm3-nic", "VM3", "vnet1", "Subnet2", "10.0.2.4", "NSG2"),
        az_nic("vm4-nic", "VM4", "vnet1", "Subnet3", "10.0.3.4"),
    ]
    return [("nsg-list.json", nsgs), ("vnet.json", vnet), ("nic-list.json", nics)]


def flow(direction: Direction, protocol: int, local: str, local_port: int | None, remote: str,
         remote_port: int | None) -> Flow:  # fmt: skip
    return Flow(direction, protocol, ip_address(local), local_port, ip_address(remote), remote_port)


# --- VMs known only from their NICs' virtualMachine.id ------------------------------------------------------


@pytest.mark.parametrize("target", ["VM3", "vm3", vm_id("VM3"), vm_id("VM3", RG.upper()).lower()])
def test_a_vm_known_only_from_its_nic_is_a_verify_target(target: str) -> None:
    engine = Engine(load_documents(how_nsgs_filter_docs()))
    verdict = engine.verify(target, flow(INBOUND, TCP, "10.0.2.4", 80, "52.1.2.3", 60000))
    assert (verdict.access.value, verdict.rule_name) == ("Allow", "securityRules/allow-http")
    assert verdict.applied_to == f"{NET}/networkInterfaces/vm3-nic"


def test_a_vm_with_two_nics_and_no_vm_resource_needs_the_nic_id() -> None:
    docs = how_nsgs_filter_docs()
    docs.append(("extra-nic.json", az_nic("vm3-nic2", "VM3", "vnet1", "Subnet2", "10.0.2.5")))
    engine = Engine(load_documents(docs))
    with pytest.raises(OpenNsgError) as raised:
        engine.nic("VM3")
    assert raised.value.errors[0].code == "NetworkInterfaceNotFound"


def test_cli_verify_flows_accepts_vm_ids_from_nic_output(tmp_path: Path) -> None:
    for name, doc in how_nsgs_filter_docs():
        (tmp_path / name).write_text(json.dumps(doc))
    questions = [
        {"targetResourceId": vm_id("VM1"), "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.1.4",
         "localPort": "80", "remoteIPAddress": "52.1.2.3", "remotePort": "60000"},
        {"targetResourceId": "VM4", "direction": "Outbound", "protocol": "UDP", "localIPAddress": "10.0.3.4",
         "localPort": "*", "remoteIPAddress": "8.8.8.8", "remotePort": "53"},
    ]  # fmt: skip
    flows = tmp_path / "flows.jsonl"
    flows.write_text("".join(json.dumps(q) + "\n" for q in questions))
    result = CliRunner().invoke(app, ["verify", str(tmp_path), "--flows", str(flows)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first == {
        "access": "Deny",
        "ruleName": "defaultSecurityRules/DenyAllInBound",
        "networkSecurityGroupId": f"{NET}/networkSecurityGroups/NSG1",
        "appliedTo": f"{NET}/virtualNetworks/vnet1/subnets/Subnet1",
    }
    assert second["access"] == "Allow" and "ruleName" not in second


# --- validation of az-shaped rules (semantics §0, §1.4, §7.5) ----------------------------------------------------


def load_errors(docs: list[tuple[str, Any]]) -> list[tuple[str, str, str | None]]:
    with pytest.raises(OpenNsgError) as raised:
        load_documents(docs)
    return [(e.code, e.message, e.target) for e in raised.value.errors]


def rule_id(name: str, nsg: str = "N") -> str:
    return f"{NET}/networkSecurityGroups/{nsg}/securityRules/{name}"


@pytest.mark.parametrize(
    ("overrides", "singular", "plural"),
    [
        ({"sourceAddressPrefix": None}, "SourceAddressPrefix", "SourceAddressPrefixes"),
        ({"destinationAddressPrefix": ""}, "DestinationAddressPrefix", "DestinationAddressPrefixes"),
        ({"destinationAddressPrefixes": ["10.0.0.0/8"]}, "DestinationAddressPrefix", "DestinationAddressPrefixes"),
        ({"sourcePortRange": None}, "SourcePortRange", "SourcePortRanges"),
        ({"destinationPortRanges": ["80"]}, "DestinationPortRange", "DestinationPortRanges"),
    ],
)
def test_both_or_neither_of_a_pair_uses_the_documented_message(
    overrides: dict[str, Any], singular: str, plural: str
) -> None:
    docs: list[tuple[str, Any]] = [("n.json", az_nsg("N", [az_rule("N", "r", 100, "Inbound", "Allow", **overrides)]))]
    assert load_errors(docs) == [
        (
            "SecurityRuleParameterConflict",
            f"Security rule with Id {rule_id('r')} must specify a non-empty value for either {singular} or {plural}, "
            "but not both.",
            f"n.json: securityRules[0].{singular[0].lower()}{singular[1:]}",
        )
    ]


# --- a VM with several NICs: IP flow verify picks the NIC holding the local IP (semantics §8.1) -------------------


def test_a_vm_with_several_nics_is_verified_at_the_nic_holding_the_local_ip() -> None:
    docs = how_nsgs_filter_docs()
    docs.append(("extra-nic.json", az_nic("vm3-nic2", "VM3", "vnet1", "Subnet3", "10.0.3.9")))
    engine = Engine(load_documents(docs))
    on_second = engine.verify(vm_id("VM3"), flow(INBOUND, TCP, "10.0.3.9", 80, "52.1.2.3", 60000))
    assert (on_second.access.value, on_second.rule_name) == ("Allow", None)  # Subnet3, no NSG
    on_first = engine.verify("VM3", flow(INBOUND, TCP, "10.0.2.4", 80, "52.1.2.3", 60000))
    assert on_first.applied_to == f"{NET}/networkInterfaces/vm3-nic"


def test_a_listed_vm_with_several_nics_is_verified_at_the_nic_holding_the_local_ip() -> None:
    docs = how_nsgs_filter_docs()
    docs.append(("extra-nic.json", az_nic("vm1-nic2", "VM1", "vnet1", "Subnet3", "10.0.3.7")))
    vm = {
        "id": vm_id("VM1"),
        "name": "VM1",
        "location": "eastus",
        "type": "Microsoft.Compute/virtualMachines",
        "networkProfile": {
            "networkInterfaces": [
                {"id": f"{NET}/networkInterfaces/vm1-nic", "primary": True, "resourceGroup": RG},
                {"id": f"{NET}/networkInterfaces/vm1-nic2", "primary": False, "resourceGroup": RG},
            ]
        },
    }
    docs.append(("vm.json", vm))
    engine = Engine(load_documents(docs))
    assert engine.verify("VM1", flow(INBOUND, TCP, "10.0.3.7", 80, "52.1.2.3", 1)).rule_name is None
    primary = engine.verify(vm_id("VM1"), flow(INBOUND, TCP, "10.0.1.4", 80, "52.1.2.3", 1))
    assert primary.rule_name == "defaultSecurityRules/DenyAllInBound"
    with pytest.raises(OpenNsgError) as raised:
        engine.verify("VM1", flow(INBOUND, TCP, "10.0.9.9", 80, "52.1.2.3", 1))
    assert [e.code for e in raised.value.errors] == ["IpAddressNotOnNetworkInterface"]


# --- error targets point at the rule as written ---------------------------------------------------------------


def test_validation_targets_keep_the_input_index_when_an_earlier_rule_cannot_be_read() -> None:
    unreadable = az_rule("N", "no-priority", 100, "Inbound", "Allow")
    del unreadable["priority"]
    rules = [unreadable, az_rule("N", "bad-port", 200, "Inbound", "Allow", destinationPortRange="80,81")]
    errors = load_errors([("n.json", az_nsg("N", rules))])
    assert [(code, target) for code, _, target in errors] == [
        ("MissingRequiredProperty", "n.json: securityRules[0].priority"),
        ("SecurityRuleInvalidPortRange", "n.json: securityRules[1].destinationPortRange"),
    ]


def test_a_problem_of_a_rule_shown_on_its_own_points_at_its_own_file() -> None:
    lone = az_rule("N", "low", 50, "Inbound", "Allow")  # az network nsg rule show
    errors = load_errors([("n.json", az_nsg("N", [])), ("rule.json", lone)])
    assert [(code, target) for code, _, target in errors] == [("SecurityRuleInvalidPriority", "rule.json: priority")]


# --- semantics on one az-shaped network: tags, peerings, ASGs, IPv6, ports, platform rules --------------------

SAMPLE_TAGS = Path(__file__).resolve().parents[1] / "src" / "opennsg" / "data" / "sample-service-tags.json"


def peering(name: str, state: str, space: list[str]) -> dict[str, Any]:
    """A peering as ``az network vnet show`` prints it (both address-space spellings of newer api-versions)."""
    return {
        "allowForwardedTraffic": False,
        "allowGatewayTransit": False,
        "allowVirtualNetworkAccess": True,
        "etag": 'W/"p"',
        "id": f"{NET}/virtualNetworks/spoke/virtualNetworkPeerings/{name}",
        "name": name,
        "peeringState": state,
        "peeringSyncLevel": "FullyInSync",
        "provisioningState": "Succeeded",
        "remoteAddressSpace": {"addressPrefixes": space},
        "remoteVirtualNetwork": {"id": f"{NET}/virtualNetworks/{name}", "resourceGroup": RG},
        "remoteVirtualNetworkAddressSpace": {"addressPrefixes": space},
        "resourceGroup": RG,
        "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "useRemoteGateways": False,
    }


def asg_ref(name: str) -> dict[str, str]:
    return {"id": f"{NET}/applicationSecurityGroups/{name}", "resourceGroup": RG}


@pytest.fixture(scope="module")
def spoke() -> Engine:
    """One NIC (IPv4 primary, IPv6 and a second IPv4 config in ASG ``web``) in a peered spoke VNet."""
    from opennsg.model.servicetags import ServiceTags

    rules = [
        az_rule("N", "deny-storage-west", 100, "Outbound", "Deny", destinationAddressPrefix="storage.WESTUS"),
        az_rule("N", "deny-dns", 110, "Outbound", "Deny", protocol="Udp", destinationAddressPrefix="AzurePlatformDNS"),
        az_rule("N", "web-https", 120, "Inbound", "Allow", protocol="Tcp", destinationAddressPrefix=None,
                destinationApplicationSecurityGroups=[asg_ref("web")], destinationPortRange="443"),
        az_rule("N", "ssh-v6", 130, "Inbound", "Allow", protocol="Tcp", sourceAddressPrefix="2a01:111::/32",
                destinationPortRange="22"),
        az_rule("N", "no-icmp-from-internet", 140, "Inbound", "Deny", protocol="Icmp", sourceAddressPrefix="Internet",
                destinationPortRange="8"),
        az_rule("N", "from-empty-asg", 150, "Inbound", "Allow", sourceAddressPrefix=None,
                sourceApplicationSecurityGroups=[asg_ref("empty")]),
        az_rule("N", "edges", 160, "Inbound", "Allow", protocol="Udp", sourceAddressPrefix="Internet",
                destinationPortRange=None, destinationPortRanges=["0", "1000-2000", "65535"]),
        az_rule("N", "any-proto-port-80", 170, "Outbound", "Deny", destinationAddressPrefix="52.9.9.9",
                destinationPortRange="80"),
    ]  # fmt: skip
    vnet = az_vnet("spoke", ["10.0.0.0/16", "fd00:1::/48"], [("s1", "10.0.1.0/24,fd00:1::/64", "N")])
    vnet["virtualNetworkPeerings"] = [
        peering("hub", "Connected", ["10.100.0.0/16"]),
        peering("gone", "Disconnected", ["10.200.0.0/16"]),
        peering("half", "Initiated", ["10.201.0.0/16"]),
    ]
    nic = az_nic("nic1", "vm1", "spoke", "s1", "10.0.1.4")
    subnet = nic["ipConfigurations"][0]["subnet"]
    nic["ipConfigurations"] += [
        {"id": f"{NET}/networkInterfaces/nic1/ipConfigurations/v6", "name": "v6", "primary": False,
         "privateIpAddress": "fd00:1::4", "privateIpAddressVersion": "IPv6", "subnet": subnet},
        {"id": f"{NET}/networkInterfaces/nic1/ipConfigurations/web", "name": "web", "primary": False,
         "privateIpAddress": "10.0.1.9", "privateIpAddressVersion": "IPv4", "subnet": subnet,
         "applicationSecurityGroups": [asg_ref("web")]},
    ]  # fmt: skip
    asgs = [
        {"id": asg_ref(n)["id"], "name": n, "location": "eastus", "resourceGroup": RG, "etag": 'W/"a"',
         "provisioningState": "Succeeded", "type": "Microsoft.Network/applicationSecurityGroups"}
        for n in ("web", "empty")
    ]  # fmt: skip
    docs: list[tuple[str, Any]] = [
        ("n.json", az_nsg("N", rules)),
        ("v.json", vnet),
        ("nic.json", nic),
        ("a.json", asgs),
    ]
    return Engine(load_documents(docs, service_tags=ServiceTags.load(SAMPLE_TAGS)))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # VirtualNetwork: own spaces and Connected peerings only (semantics §0)
        ((INBOUND, TCP, "10.0.1.4", 80, "10.100.0.5", 1000), ("Allow", "defaultSecurityRules/AllowVnetInBound")),
        ((INBOUND, TCP, "10.0.1.4", 80, "10.200.0.5", 1000), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        ((INBOUND, TCP, "10.0.1.4", 80, "10.201.0.5", 1000), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        ((INBOUND, TCP, "fd00:1::4", 80, "fd00:1::9", 1000), ("Allow", "defaultSecurityRules/AllowVnetInBound")),
        # the host IP is in VirtualNetwork, so a probe meets AllowVnetInBound first; inbound is never exempt
        ((INBOUND, TCP, "10.0.1.4", 80, "168.63.129.16", 1000), ("Allow", "defaultSecurityRules/AllowVnetInBound")),
        # a regional service tag, written in another casing (sample file: Storage.WestUS = 192.0.2.0/27)
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "192.0.2.1", 443), ("Deny", "securityRules/deny-storage-west")),
        # ASG: only the member IP configuration matches; an empty ASG matches nothing
        ((INBOUND, TCP, "10.0.1.9", 443, "52.1.1.1", 1000), ("Allow", "securityRules/web-https")),
        ((INBOUND, TCP, "10.0.1.4", 443, "52.1.1.1", 1000), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        # IPv6 rule, flow on the NIC's IPv6 configuration
        ((INBOUND, TCP, "fd00:1::4", 22, "2a01:111::5", 1000), ("Allow", "securityRules/ssh-v6")),
        ((INBOUND, TCP, "10.0.1.4", 22, "52.1.1.1", 1000), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        # port-less protocols ignore a rule's ports; Icmp covers ICMPv6; documentation space is not Internet
        ((INBOUND, ICMP, "10.0.1.4", None, "52.1.1.1", None), ("Deny", "securityRules/no-icmp-from-internet")),
        ((INBOUND, ICMPV6, "fd00:1::4", None, "2a02:1::1", None), ("Deny", "securityRules/no-icmp-from-internet")),
        ((INBOUND, ICMPV6, "fd00:1::4", None, "2001:db8::1", None), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        ((OUTBOUND, 47, "10.0.1.4", None, "52.9.9.9", None), ("Deny", "securityRules/any-proto-port-80")),
        ((OUTBOUND, ICMP, "10.0.1.4", None, "52.9.9.9", None), ("Deny", "securityRules/any-proto-port-80")),
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "52.9.9.9", 81), ("Allow", "defaultSecurityRules/AllowInternetOutBound")),
        # port boundaries, inclusive ranges
        ((INBOUND, UDP, "10.0.1.4", 0, "52.1.1.1", 1), ("Allow", "securityRules/edges")),
        ((INBOUND, UDP, "10.0.1.4", 65535, "52.1.1.1", 1), ("Allow", "securityRules/edges")),
        ((INBOUND, UDP, "10.0.1.4", 1000, "52.1.1.1", 1), ("Allow", "securityRules/edges")),
        ((INBOUND, UDP, "10.0.1.4", 2000, "52.1.1.1", 1), ("Allow", "securityRules/edges")),
        ((INBOUND, UDP, "10.0.1.4", 2001, "52.1.1.1", 1), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        ((INBOUND, UDP, "10.0.1.4", 1, "52.1.1.1", 1), ("Deny", "defaultSecurityRules/DenyAllInBound")),
        # platform exemptions: only rules naming the tag count, a miss is PlatformRule_<Tag>
        ((OUTBOUND, UDP, "10.0.1.4", 1000, "168.63.129.16", 53), ("Deny", "securityRules/deny-dns")),
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "168.63.129.16", 53), ("Allow", "PlatformRule_AzurePlatformDNS")),
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "169.254.169.254", 80), ("Allow", "PlatformRule_AzurePlatformIMDS")),
        # SMTP: no subscription information means PayAsYouGo, blocked after the NSGs allowed it
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "52.1.1.1", 25), ("Deny", "PlatformRule_OutboundSmtpBlocked")),
        ((OUTBOUND, TCP, "10.0.1.4", 1000, "10.100.0.1", 25), ("Allow", "defaultSecurityRules/AllowVnetOutBound")),
    ],
)
def test_semantics_on_an_az_shaped_network(
    spoke: Engine,
    question: tuple[Direction, int, str, int | None, str, int | None],
    expected: tuple[str, str | None],
) -> None:
    verdict = spoke.verify("vm1", flow(*question))
    assert (verdict.access.value, verdict.rule_name) == expected


# --- KMS under forced tunnelling and SMTP by subscription, from az/ARM output (semantics §0, §6) -------------------


def forced_tunnelling_docs(subscription: dict[str, Any] | None) -> list[tuple[str, Any]]:
    route_table = {
        "disableBgpRoutePropagation": False,
        "etag": 'W/"r"',
        "id": f"{NET}/routeTables/rt1",
        "location": "eastus",
        "name": "rt1",
        "provisioningState": "Succeeded",
        "resourceGroup": RG,
        "routes": [
            {"addressPrefix": "0.0.0.0/0", "id": f"{NET}/routeTables/rt1/routes/to-firewall", "name": "to-firewall",
             "nextHopIpAddress": "10.0.9.4", "nextHopType": "VirtualAppliance", "provisioningState": "Succeeded",
             "resourceGroup": RG, "type": "Microsoft.Network/routeTables/routes"}
        ],
        "subnets": [{"id": f"{NET}/virtualNetworks/vnet1/subnets/tunnelled", "resourceGroup": RG}],
        "type": "Microsoft.Network/routeTables",
    }  # fmt: skip
    vnet = az_vnet("vnet1", ["10.0.0.0/16"], [("tunnelled", "10.0.1.0/24", "N"), ("direct", "10.0.2.0/24", "N")])
    vnet["subnets"][0]["routeTable"] = {"id": route_table["id"], "resourceGroup": RG}
    nics = [
        az_nic("nic1", "vm1", "vnet1", "tunnelled", "10.0.1.4"),
        az_nic("nic2", "vm2", "vnet1", "direct", "10.0.2.4"),
    ]
    deny_kms = az_rule("N", "deny-kms-host", 4096, "Outbound", "Deny", destinationAddressPrefix="20.118.99.224")
    docs: list[tuple[str, Any]] = [("n.json", az_nsg("N", [deny_kms])), ("v.json", vnet), ("rt.json", route_table),
                                   ("nics.json", nics)]  # fmt: skip
    if subscription is not None:
        docs.append(("sub.json", subscription))
    return docs


def test_kms_is_exempt_only_without_forced_tunnelling() -> None:
    engine = Engine(load_documents(forced_tunnelling_docs(None)))
    direct = engine.verify("vm2", flow(OUTBOUND, TCP, "10.0.2.4", 50000, "20.118.99.224", 1688))
    tunnelled = engine.verify("vm1", flow(OUTBOUND, TCP, "10.0.1.4", 50000, "20.118.99.224", 1688))
    other_port = engine.verify("vm2", flow(OUTBOUND, TCP, "10.0.2.4", 50000, "20.118.99.224", 1689))
    assert (direct.access.value, direct.rule_name) == ("Allow", "PlatformRule_AzurePlatformLKM")
    assert (tunnelled.access.value, tunnelled.rule_name) == ("Deny", "securityRules/deny-kms-host")
    assert (other_port.access.value, other_port.rule_name) == ("Deny", "securityRules/deny-kms-host")


AZ_ACCOUNT_SHOW = {
    "environmentName": "AzureCloud",
    "homeTenantId": "t",
    "id": SUB,
    "isDefault": True,
    "managedByTenants": [],
    "name": "Prod",
    "state": "Enabled",
    "tenantId": "t",
    "user": {"name": "someone@example.com", "type": "user"},
}
ARM_SUBSCRIPTION_EA = {
    "id": f"/subscriptions/{SUB}",
    "subscriptionId": SUB,
    "displayName": "Prod",
    "state": "Enabled",
    "subscriptionPolicies": {
        "locationPlacementId": "Public_2014-09-01",
        "quotaId": "EnterpriseAgreement_2014-09-01",
        "spendingLimit": "Off",
    },
    "authorizationSource": "RoleBased",
}


@pytest.mark.parametrize(
    ("subscription", "expected"),
    [
        (None, ("Deny", "PlatformRule_OutboundSmtpBlocked")),
        (AZ_ACCOUNT_SHOW, ("Deny", "PlatformRule_OutboundSmtpBlocked")),
        (ARM_SUBSCRIPTION_EA, ("Allow", "defaultSecurityRules/AllowInternetOutBound")),
        (
            {**ARM_SUBSCRIPTION_EA, "createdDate": "2017-11-14", "offerType": "PayAsYouGo"},
            ("Allow", "defaultSecurityRules/AllowInternetOutBound"),
        ),
        ({**ARM_SUBSCRIPTION_EA, "offerType": "EnterpriseDevTest"}, ("Deny", "PlatformRule_OutboundSmtpBlocked")),
        (
            {**ARM_SUBSCRIPTION_EA, "offerType": "EnterpriseDevTest", "smtpExemption": True},
            ("Allow", "defaultSecurityRules/AllowInternetOutBound"),
        ),
    ],
)
def test_outbound_smtp_by_subscription(subscription: dict[str, Any] | None, expected: tuple[str, str | None]) -> None:
    engine = Engine(load_documents(forced_tunnelling_docs(subscription)))
    verdict = engine.verify("vm2", flow(OUTBOUND, TCP, "10.0.2.4", 50000, "52.1.1.1", 25))
    assert (verdict.access.value, verdict.rule_name) == expected


def test_a_reference_without_id_is_an_invalid_request_format_with_details(tmp_path: Path) -> None:
    """Spec §7.5: ``InvalidRequestFormat`` "Cannot parse the request." with details ``MissingJsonReferenceId``."""
    rule = az_rule("N", "r", 100, "Inbound", "Allow", sourceAddressPrefix=None, sourceApplicationSecurityGroups=[{}])
    path = tmp_path / "n.json"
    path.write_text(json.dumps(az_nsg("N", [rule])))
    result = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert (error["code"], error["message"]) == ("InvalidRequestFormat", "Cannot parse the request.")
    assert [(d["code"], d["message"]) for d in error["details"]] == [
        (
            "MissingJsonReferenceId",
            "Value for reference id is missing. Path securityRules[0].sourceApplicationSecurityGroups[0].",
        )
    ]


# --- default rules from az output (semantics §0, §2) ------------------------------------------------------------


def test_default_rules_from_az_output_are_recognised_not_duplicated() -> None:
    topology = load_documents([("n.json", az_nsg("N", []))])
    (nsg,) = topology.nsgs.values()
    assert [(r.name, r.priority, r.direction.value, r.access.value) for r in nsg.default_security_rules] == [
        ("AllowVnetInBound", 65000, "Inbound", "Allow"),
        ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow"),
        ("DenyAllInBound", 65500, "Inbound", "Deny"),
        ("AllowVnetOutBound", 65000, "Outbound", "Allow"),
        ("AllowInternetOutBound", 65001, "Outbound", "Allow"),
        ("DenyAllOutBound", 65500, "Outbound", "Deny"),
    ]
    assert nsg.security_rules == ()


def test_a_changed_default_rule_is_read_only() -> None:
    doc = az_nsg("N", [])
    doc["defaultSecurityRules"][2]["access"] = "Allow"  # DenyAllInBound turned into an allow
    assert [code for code, _, _ in load_errors([("n.json", doc)])] == ["DefaultSecurityRuleReadOnly"]
