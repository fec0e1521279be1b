"""Operation-by-operation audit of ``opennsg serve`` with the real Azure SDK: every NSG-world operation the SDK
exposes, response fields as Azure fills them, paging through the SDK's pagers, and errors as ``HttpResponseError``
carrying the ARM code. The server pages by two so that every list follows ``nextLink``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import ResourceManagementClient
from tests.api.conftest import SUB, RunningServer, rid
from tests.api.sdk import LOCATION, connected

from opennsg.model.servicetags import ServiceTags

SERVICE_TAGS = Path(__file__).parents[2] / "src" / "opennsg" / "data" / "sample-service-tags.json"
WATCHER = ("NetworkWatcherRG", "NetworkWatcher_westus")


@pytest.fixture
def sdk(
    sqlite_url: str, start_server: Callable[..., RunningServer]
) -> Iterator[tuple[NetworkManagementClient, ResourceManagementClient]]:
    server = start_server(sqlite_url, page_size=2, service_tags=ServiceTags.load(SERVICE_TAGS))
    with connected(server) as sdk_clients:
        yield sdk_clients


def arm_code(call: Callable[[], object]) -> str:
    """The ARM error code the SDK surfaces when ``call`` fails."""
    with pytest.raises(HttpResponseError) as raised:
        call()
    assert raised.value.error is not None
    return str(raised.value.error.code)


def ids(items: Iterator[nm.SubResource] | list[nm.SubResource] | None) -> set[str]:
    return {str(item.id).casefold() for item in items or []}


def test_resource_groups(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    _, resources = sdk
    for name in ("rg2", "rg3", "rg4"):
        created = resources.resource_groups.create_or_update(name, {"location": LOCATION, "tags": {"k": name}})
        assert created.id == f"/subscriptions/{SUB}/resourceGroups/{name}"
        assert created.type == "Microsoft.Resources/resourceGroups"
        assert created.properties.provisioning_state == "Succeeded"
    got = resources.resource_groups.get("rg3")
    assert (got.name, got.location, got.tags) == ("rg3", LOCATION, {"k": "rg3"})
    assert sorted(g.name for g in resources.resource_groups.list()) == ["rg1", "rg2", "rg3", "rg4"]
    assert resources.resource_groups.check_existence("rg2") is True
    resources.resource_groups.begin_delete("rg2").result()
    assert resources.resource_groups.check_existence("rg2") is False
    assert arm_code(lambda: resources.resource_groups.get("rg2")) == "ResourceGroupNotFound"
    assert arm_code(lambda: resources.resource_groups.begin_delete("rg2").result()) == "ResourceGroupNotFound"


def test_nsgs_rules_and_asgs(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    asgs = [
        network.application_security_groups.begin_create_or_update(
            "rg1", name, nm.ApplicationSecurityGroup(location=LOCATION, tags={"tier": name})
        ).result()
        for name in ("web", "app", "db")
    ]
    web = asgs[0]
    assert web.id == rid("applicationSecurityGroups", "web")
    assert web.type == "Microsoft.Network/applicationSecurityGroups"
    assert web.etag and web.provisioning_state == "Succeeded" and web.location == LOCATION
    assert network.application_security_groups.get("rg1", "app").tags == {"tier": "app"}
    assert sorted(a.name for a in network.application_security_groups.list("rg1")) == ["app", "db", "web"]
    assert sorted(a.name for a in network.application_security_groups.list_all()) == ["app", "db", "web"]
    tagged = network.application_security_groups.update_tags("rg1", "db", nm.TagsObject(tags={"x": "y"}))
    assert tagged.tags == {"x": "y"}

    nsg = network.network_security_groups.begin_create_or_update(
        "rg1",
        "nsg1",
        nm.NetworkSecurityGroup(
            location=LOCATION,
            security_rules=[
                nm.SecurityRule(
                    name="plural",
                    protocol="Tcp",
                    source_address_prefixes=["10.0.0.0/24", "10.0.1.0/24"],
                    source_port_range="*",
                    destination_address_prefix="*",
                    destination_port_ranges=["80", "443", "8000-8100"],
                    access="Allow",
                    priority=100,
                    direction="Inbound",
                )
            ],
        ),
    ).result()
    assert nsg.id == rid("networkSecurityGroups", "nsg1") and nsg.type == "Microsoft.Network/networkSecurityGroups"
    assert nsg.etag and nsg.provisioning_state == "Succeeded" and nsg.resource_guid
    plural = nsg.security_rules[0]
    assert plural.id == rid("networkSecurityGroups", "nsg1") + "/securityRules/plural"
    assert plural.type == "Microsoft.Network/networkSecurityGroups/securityRules"
    assert plural.source_address_prefixes == ["10.0.0.0/24", "10.0.1.0/24"]
    assert plural.destination_port_ranges == ["80", "443", "8000-8100"]
    defaults = {r.name: r for r in nsg.default_security_rules}
    assert set(defaults) == {
        "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound",
        "AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound",
    }  # fmt: skip
    assert defaults["DenyAllInBound"].priority == 65500
    assert (
        defaults["DenyAllInBound"].id == rid("networkSecurityGroups", "nsg1") + "/defaultSecurityRules/DenyAllInBound"
    )

    rule = network.security_rules.begin_create_or_update(
        "rg1",
        "nsg1",
        "asg-rule",
        nm.SecurityRule(
            protocol="*",
            source_application_security_groups=[nm.ApplicationSecurityGroup(id=asgs[0].id)],
            destination_application_security_groups=[nm.ApplicationSecurityGroup(id=asgs[2].id)],
            source_port_range="*",
            destination_port_range="5432",
            access="Allow",
            priority=200,
            direction="Inbound",
        ),
    ).result()
    assert rule.name == "asg-rule" and rule.etag and rule.provisioning_state == "Succeeded"
    assert ids(rule.source_application_security_groups) == {asgs[0].id.casefold()}
    assert ids(rule.destination_application_security_groups) == {asgs[2].id.casefold()}
    network.security_rules.begin_create_or_update(
        "rg1",
        "nsg1",
        "out-deny",
        nm.SecurityRule(
            protocol="Udp",
            source_address_prefix="VirtualNetwork",
            source_port_range="*",
            destination_address_prefix="Internet",
            destination_port_range="53",
            access="Deny",
            priority=300,
            direction="Outbound",
        ),
    ).result()
    got = network.security_rules.get("rg1", "nsg1", "asg-rule")
    assert got.id == rid("networkSecurityGroups", "nsg1") + "/securityRules/asg-rule" and got.priority == 200
    assert sorted(r.name for r in network.security_rules.list("rg1", "nsg1")) == ["asg-rule", "out-deny", "plural"]
    assert len(list(network.default_security_rules.list("rg1", "nsg1"))) == 6
    allow_lb = network.default_security_rules.get("rg1", "nsg1", "AllowAzureLoadBalancerInBound")
    assert allow_lb.source_address_prefix == "AzureLoadBalancer" and allow_lb.priority == 65001

    network.security_rules.begin_delete("rg1", "nsg1", "out-deny").result()
    assert arm_code(lambda: network.security_rules.get("rg1", "nsg1", "out-deny")) == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        network.network_security_groups.get("rg1", "missing")
    assert arm_code(lambda: network.network_security_groups.get("nogroup", "nsg1")) == "ResourceGroupNotFound"

    for name in ("nsg2", "nsg3"):
        network.network_security_groups.begin_create_or_update(
            "rg1", name, nm.NetworkSecurityGroup(location=LOCATION)
        ).result()
    assert sorted(n.name for n in network.network_security_groups.list("rg1")) == ["nsg1", "nsg2", "nsg3"]
    assert sorted(n.name for n in network.network_security_groups.list_all()) == ["nsg1", "nsg2", "nsg3"]
    before = network.network_security_groups.get("rg1", "nsg2")
    after = network.network_security_groups.update_tags("rg1", "nsg2", nm.TagsObject(tags={"env": "prod"}))
    assert after.tags == {"env": "prod"} and after.etag != before.etag
    network.network_security_groups.begin_delete("rg1", "nsg3").result()
    assert sorted(n.name for n in network.network_security_groups.list("rg1")) == ["nsg1", "nsg2"]
    # a rule naming an ASG keeps it in use
    code = arm_code(lambda: network.application_security_groups.begin_delete("rg1", "web").result())
    assert code == "InUseApplicationSecurityGroupCannotBeDeleted"
    network.application_security_groups.begin_delete("rg1", "app").result()
    assert sorted(a.name for a in network.application_security_groups.list_all()) == ["db", "web"]
    bad_rule = nm.SecurityRule(
        protocol="Tcp",
        source_address_prefix="*",
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="22",
        access="Allow",
        priority=200,
        direction="Inbound",
    )
    code = arm_code(lambda: network.security_rules.begin_create_or_update("rg1", "nsg1", "dup", bad_rule).result())
    assert code == "SecurityRuleConflict"


def vnet(network: NetworkManagementClient, name: str, prefix: str, subnets: list[nm.Subnet]) -> nm.VirtualNetwork:
    body = nm.VirtualNetwork(
        location=LOCATION, address_space=nm.AddressSpace(address_prefixes=[prefix]), subnets=subnets
    )
    result: nm.VirtualNetwork = network.virtual_networks.begin_create_or_update("rg1", name, body).result()
    return result


def test_networks_subnets_peerings_routes(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    nsg = network.network_security_groups.begin_create_or_update(
        "rg1", "nsg", nm.NetworkSecurityGroup(location=LOCATION)
    ).result()
    table = network.route_tables.begin_create_or_update(
        "rg1",
        "rt",
        nm.RouteTable(
            location=LOCATION,
            routes=[nm.Route(name="default", address_prefix="0.0.0.0/0", next_hop_type="Internet")],
        ),
    ).result()
    assert table.id == rid("routeTables", "rt") and table.type == "Microsoft.Network/routeTables"
    assert table.etag and table.provisioning_state == "Succeeded"
    assert table.routes[0].id == rid("routeTables", "rt") + "/routes/default"
    route = network.routes.begin_create_or_update(
        "rg1",
        "rt",
        "to-fw",
        nm.Route(address_prefix="10.9.0.0/16", next_hop_type="VirtualAppliance", next_hop_ip_address="10.0.0.4"),
    ).result()
    assert route.name == "to-fw" and route.next_hop_ip_address == "10.0.0.4" and route.etag
    assert route.provisioning_state == "Succeeded"
    assert network.routes.get("rg1", "rt", "to-fw").address_prefix == "10.9.0.0/16"
    assert sorted(r.name for r in network.routes.list("rg1", "rt")) == ["default", "to-fw"]
    network.routes.begin_delete("rg1", "rt", "default").result()
    assert [r.name for r in network.route_tables.get("rg1", "rt").routes] == ["to-fw"]
    assert [t.name for t in network.route_tables.list("rg1")] == ["rt"]
    assert [t.name for t in network.route_tables.list_all()] == ["rt"]
    assert network.route_tables.update_tags("rg1", "rt", nm.TagsObject(tags={"a": "b"})).tags == {"a": "b"}

    spoke = vnet(
        network,
        "spoke",
        "10.0.0.0/16",
        [nm.Subnet(name=f"s{i}", address_prefix=f"10.0.{i}.0/24") for i in range(3)],
    )
    assert spoke.id == rid("virtualNetworks", "spoke") and spoke.type == "Microsoft.Network/virtualNetworks"
    assert spoke.etag and spoke.provisioning_state == "Succeeded" and spoke.resource_guid
    assert [s.id for s in spoke.subnets] == [rid("virtualNetworks", "spoke") + f"/subnets/s{i}" for i in range(3)]
    assert spoke.subnets[0].type == "Microsoft.Network/virtualNetworks/subnets"
    hub = vnet(network, "hub", "10.1.0.0/16", [nm.Subnet(name="shared", address_prefix="10.1.0.0/24")])
    vnet(network, "third", "10.2.0.0/16", [])
    assert sorted(v.name for v in network.virtual_networks.list("rg1")) == ["hub", "spoke", "third"]
    assert sorted(v.name for v in network.virtual_networks.list_all()) == ["hub", "spoke", "third"]
    assert network.virtual_networks.get("rg1", "hub").address_space.address_prefixes == ["10.1.0.0/16"]
    assert network.virtual_networks.update_tags("rg1", "hub", nm.TagsObject(tags={"t": "1"})).tags == {"t": "1"}
    network.virtual_networks.begin_delete("rg1", "third").result()
    assert sorted(v.name for v in network.virtual_networks.list_all()) == ["hub", "spoke"]

    associated = network.subnets.begin_create_or_update(
        "rg1",
        "spoke",
        "s1",
        nm.Subnet(
            address_prefix="10.0.1.0/24",
            network_security_group=nm.NetworkSecurityGroup(id=nsg.id),
            route_table=nm.RouteTable(id=table.id),
        ),
    ).result()
    assert associated.network_security_group.id.casefold() == nsg.id.casefold()
    assert associated.route_table.id.casefold() == table.id.casefold()
    assert associated.etag and associated.provisioning_state == "Succeeded"
    assert ids(network.network_security_groups.get("rg1", "nsg").subnets) == {associated.id.casefold()}
    assert ids(network.route_tables.get("rg1", "rt").subnets) == {associated.id.casefold()}
    code = arm_code(lambda: network.network_security_groups.begin_delete("rg1", "nsg").result())
    assert code == "InUseNetworkSecurityGroupCannotBeDeleted"
    assert arm_code(lambda: network.route_tables.begin_delete("rg1", "rt").result()) == "InUseRouteTableCannotBeDeleted"
    dissociated = network.subnets.begin_create_or_update(
        "rg1", "spoke", "s1", nm.Subnet(address_prefix="10.0.1.0/24")
    ).result()
    assert dissociated.network_security_group is None and dissociated.route_table is None
    assert not network.network_security_groups.get("rg1", "nsg").subnets
    assert network.subnets.get("rg1", "spoke", "s2").address_prefix == "10.0.2.0/24"
    assert [s.name for s in network.subnets.list("rg1", "spoke")] == ["s0", "s1", "s2"]
    network.subnets.begin_delete("rg1", "spoke", "s2").result()
    assert [s.name for s in network.subnets.list("rg1", "spoke")] == ["s0", "s1"]

    first = network.virtual_network_peerings.begin_create_or_update(
        "rg1",
        "spoke",
        "to-hub",
        nm.VirtualNetworkPeering(remote_virtual_network=nm.SubResource(id=hub.id), allow_virtual_network_access=True),
    ).result()
    assert first.peering_state == "Initiated" and first.etag and first.provisioning_state == "Succeeded"
    assert first.id == rid("virtualNetworks", "spoke") + "/virtualNetworkPeerings/to-hub"
    network.virtual_network_peerings.begin_create_or_update(
        "rg1",
        "hub",
        "to-spoke",
        nm.VirtualNetworkPeering(remote_virtual_network=nm.SubResource(id=spoke.id), allow_virtual_network_access=True),
    ).result()
    back = network.virtual_network_peerings.get("rg1", "spoke", "to-hub")
    assert back.peering_state == "Connected" and back.remote_virtual_network.id.casefold() == hub.id.casefold()
    assert [p.name for p in network.virtual_network_peerings.list("rg1", "hub")] == ["to-spoke"]
    network.virtual_network_peerings.begin_delete("rg1", "hub", "to-spoke").result()
    assert network.virtual_network_peerings.get("rg1", "spoke", "to-hub").peering_state == "Disconnected"

    nic = network.network_interfaces.begin_create_or_update(
        "rg1",
        "nic",
        nm.NetworkInterface(
            location=LOCATION,
            ip_configurations=[
                nm.NetworkInterfaceIPConfiguration(
                    name="ipconfig1",
                    private_ip_address="10.0.0.4",
                    private_ip_allocation_method="Static",
                    subnet=nm.Subnet(id=spoke.subnets[0].id),
                    primary=True,
                )
            ],
        ),
    ).result()
    code = arm_code(lambda: network.subnets.begin_delete("rg1", "spoke", "s0").result())
    assert code == "InUseSubnetCannotBeDeleted"
    assert ids(network.subnets.get("rg1", "spoke", "s0").ip_configurations) == {nic.ip_configurations[0].id.casefold()}


def test_nics_public_ips_and_watcher(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, resources = sdk
    asg = network.application_security_groups.begin_create_or_update(
        "rg1", "web", nm.ApplicationSecurityGroup(location=LOCATION)
    ).result()
    nsg = network.network_security_groups.begin_create_or_update(
        "rg1",
        "nic-nsg",
        nm.NetworkSecurityGroup(
            location=LOCATION,
            security_rules=[
                nm.SecurityRule(
                    name="web-https",
                    protocol="Tcp",
                    source_address_prefix="Internet",
                    source_port_range="*",
                    destination_application_security_groups=[nm.ApplicationSecurityGroup(id=asg.id)],
                    destination_port_range="443",
                    access="Allow",
                    priority=100,
                    direction="Inbound",
                )
            ],
        ),
    ).result()
    subnet = vnet(network, "vnet", "10.0.0.0/16", [nm.Subnet(name="app", address_prefix="10.0.0.0/24")]).subnets[0]
    public_ip = network.public_ip_addresses.begin_create_or_update(
        "rg1", "pip", nm.PublicIPAddress(location=LOCATION, ip_address="52.1.2.3")
    ).result()
    assert public_ip.id == rid("publicIPAddresses", "pip") and public_ip.type == "Microsoft.Network/publicIPAddresses"
    assert public_ip.etag and public_ip.provisioning_state == "Succeeded"
    assert network.public_ip_addresses.get("rg1", "pip").ip_address == "52.1.2.3"
    assert [p.name for p in network.public_ip_addresses.list("rg1")] == ["pip"]
    assert [p.name for p in network.public_ip_addresses.list_all()] == ["pip"]

    for index in range(3):
        nic = network.network_interfaces.begin_create_or_update(
            "rg1",
            f"nic{index}",
            nm.NetworkInterface(
                location=LOCATION,
                network_security_group=nm.NetworkSecurityGroup(id=nsg.id),
                ip_configurations=[
                    nm.NetworkInterfaceIPConfiguration(
                        name="ipconfig1",
                        private_ip_address=f"10.0.0.{4 + index}",
                        private_ip_allocation_method="Static",
                        subnet=nm.Subnet(id=subnet.id),
                        primary=True,
                        application_security_groups=[nm.ApplicationSecurityGroup(id=asg.id)],
                        public_ip_address=nm.PublicIPAddress(id=public_ip.id) if index == 0 else None,
                    )
                ],
            ),
        ).result()
        assert nic.id == rid("networkInterfaces", f"nic{index}") and nic.type == "Microsoft.Network/networkInterfaces"
        assert nic.etag and nic.provisioning_state == "Succeeded" and nic.location == LOCATION
        configuration = nic.ip_configurations[0]
        assert configuration.id == rid("networkInterfaces", f"nic{index}") + "/ipConfigurations/ipconfig1"
        assert configuration.subnet.id.casefold() == subnet.id.casefold()
        assert ids(configuration.application_security_groups) == {asg.id.casefold()}
        assert nic.network_security_group.id.casefold() == nsg.id.casefold()
    nic0 = network.network_interfaces.get("rg1", "nic0")
    configuration = network.network_interface_ip_configurations.get("rg1", "nic0", "ipconfig1")
    assert configuration.etag == nic0.etag and configuration.provisioning_state == "Succeeded"
    assert configuration.id == nic0.ip_configurations[0].id
    assert [c.name for c in network.network_interface_ip_configurations.list("rg1", "nic0")] == ["ipconfig1"]
    code = arm_code(lambda: network.network_interface_ip_configurations.get("rg1", "nic0", "nope"))
    assert code == "ResourceNotFound"
    assert nic0.ip_configurations[0].private_ip_address == "10.0.0.4"
    assert nic0.ip_configurations[0].public_ip_address.id.casefold() == public_ip.id.casefold()
    assert network.public_ip_addresses.get("rg1", "pip").ip_configuration.id.casefold() == (
        nic0.ip_configurations[0].id.casefold()
    )
    assert sorted(n.name for n in network.network_interfaces.list("rg1")) == ["nic0", "nic1", "nic2"]
    assert sorted(n.name for n in network.network_interfaces.list_all()) == ["nic0", "nic1", "nic2"]
    assert ids(network.network_security_groups.get("rg1", "nic-nsg").network_interfaces) == {
        rid("networkInterfaces", f"nic{i}").casefold() for i in range(3)
    }
    assert arm_code(lambda: network.public_ip_addresses.begin_delete("rg1", "pip").result()) == "PublicIPAddressInUse"
    code = arm_code(lambda: network.network_security_groups.begin_delete("rg1", "nic-nsg").result())
    assert code == "InUseNetworkSecurityGroupCannotBeDeleted"
    network.network_interfaces.begin_delete("rg1", "nic2").result()
    assert sorted(n.name for n in network.network_interfaces.list_all()) == ["nic0", "nic1"]

    effective = network.network_interfaces.begin_list_effective_network_security_groups("rg1", "nic1").result()
    (group,) = effective.value
    assert group.network_security_group.id.casefold() == nsg.id.casefold()
    assert group.association.network_interface.id.casefold() == rid("networkInterfaces", "nic1").casefold()
    https = next(r for r in group.effective_security_rules if r.name == "securityRules/web-https")
    assert https.access == "Allow" and https.destination_port_range == "443-443"
    assert https.expanded_destination_address_prefix == ["10.0.0.4/31"]  # the ASG: nic0 and nic1

    vm_id = rid("virtualMachines", "vm1", provider="Microsoft.Compute")
    resources.resources.begin_create_or_update_by_id(
        vm_id,
        {
            "location": LOCATION,
            "properties": {"networkProfile": {"networkInterfaces": [{"id": nic0.id, "properties": {"primary": True}}]}},
        },
        api_version="2024-07-01",
    ).result()
    assert network.network_interfaces.get("rg1", "nic0").virtual_machine.id.casefold() == vm_id.casefold()
    assert network.network_interfaces.get("rg1", "nic1").virtual_machine is None
    resources.resource_groups.create_or_update(WATCHER[0], {"location": LOCATION})
    watcher = network.network_watchers.create_or_update(*WATCHER, nm.NetworkWatcher(location=LOCATION))
    assert watcher.id == rid("networkWatchers", WATCHER[1], group=WATCHER[0])
    assert watcher.type == "Microsoft.Network/networkWatchers"
    assert watcher.etag and watcher.provisioning_state == "Succeeded" and watcher.location == LOCATION
    assert network.network_watchers.get(*WATCHER).name == WATCHER[1]
    assert [w.name for w in network.network_watchers.list(WATCHER[0])] == [WATCHER[1]]
    assert [w.name for w in network.network_watchers.list_all()] == [WATCHER[1]]

    def verify(target: str, port: str, nic: str | None = None) -> nm.VerificationIPFlowResult:
        parameters = nm.VerificationIPFlowParameters(
            target_resource_id=target,
            target_nic_resource_id=nic,
            direction="Inbound",
            protocol="TCP",
            local_port=port,
            remote_port="40000",
            local_ip_address="10.0.0.5" if nic else "10.0.0.4",
            remote_ip_address="52.200.1.1",
        )
        result: nm.VerificationIPFlowResult = network.network_watchers.begin_verify_ip_flow(
            *WATCHER, parameters
        ).result()
        return result

    assert (verify(vm_id, "443").access, verify(vm_id, "443").rule_name) == ("Allow", "securityRules/web-https")
    assert verify(vm_id, "80").rule_name == "defaultSecurityRules/DenyAllInBound"
    assert verify(vm_id, "443", nic=nic1_id()).access == "Allow"
    code = arm_code(lambda: verify(rid("virtualMachines", "ghost", provider="Microsoft.Compute"), "443"))
    assert code == "ResourceNotFound"

    diagnostic = network.network_watchers.begin_get_network_configuration_diagnostic(
        *WATCHER,
        nm.NetworkConfigurationDiagnosticParameters(
            target_resource_id=vm_id,
            profiles=[
                nm.NetworkConfigurationDiagnosticProfile(
                    direction="Inbound",
                    protocol="TCP",
                    source="52.200.1.1",
                    destination="10.0.0.4",
                    destination_port="443",
                ),
                nm.NetworkConfigurationDiagnosticProfile(
                    direction="Inbound",
                    protocol="TCP",
                    source="52.200.1.1",
                    destination="10.0.0.4",
                    destination_port="80",
                ),
                nm.NetworkConfigurationDiagnosticProfile(
                    direction="Outbound",
                    protocol="UDP",
                    source="10.0.0.4",
                    destination="8.8.8.8",
                    destination_port="53",
                ),
            ],
        ),
    ).result()
    accesses = [r.network_security_group_result.security_rule_access_result for r in diagnostic.results]
    assert accesses == ["Allow", "Deny", "Allow"]
    assert diagnostic.results[2].profile.direction == "Outbound"

    view = network.network_watchers.begin_get_vm_security_rules(
        *WATCHER, nm.SecurityGroupViewParameters(target_resource_id=vm_id)
    ).result()
    (interface,) = view.network_interfaces
    assert interface.id.casefold() == nic0.id.casefold()
    rules = interface.security_rule_associations.network_interface_association.security_rules
    assert [r.name for r in rules] == ["web-https"]
    assert len(interface.security_rule_associations.default_security_rules) == 6
    assert any(
        r.name == "securityRules/web-https" for r in interface.security_rule_associations.effective_security_rules
    )


def nic1_id() -> str:
    return rid("networkInterfaces", "nic1")


def test_service_tags(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    listed = network.service_tags.list(LOCATION)
    expected = ServiceTags.load(SERVICE_TAGS)
    assert listed.type == "Microsoft.Network/serviceTags" and listed.cloud == expected.cloud
    assert listed.change_number == str(expected.change_number)
    assert len(listed.values_property) == 10
    storage = next(v for v in listed.values_property if v.name == "Storage")
    assert storage.id == "Storage" and storage.properties.address_prefixes


def test_subnet_ranges_are_checked(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    outside = [nm.Subnet(name="far", address_prefix="10.9.0.0/24")]
    assert arm_code(lambda: vnet(network, "v", "10.0.0.0/16", outside)) == "NetcfgSubnetRangeOutsideVnet"
    overlapping = [nm.Subnet(name="a", address_prefix="10.0.0.0/24"), nm.Subnet(name="b", address_prefix="10.0.0.0/25")]
    assert arm_code(lambda: vnet(network, "v", "10.0.0.0/16", overlapping)) == "NetcfgSubnetRangesOverlap"
    vnet(network, "v", "10.0.0.0/16", overlapping[:1])
    put = network.subnets.begin_create_or_update
    code = arm_code(lambda: put("rg1", "v", "b", nm.Subnet(address_prefix="10.0.0.128/25")).result())
    assert code == "NetcfgSubnetRangesOverlap"
    code = arm_code(lambda: put("rg1", "v", "b", nm.Subnet(address_prefix="192.168.0.0/24")).result())
    assert code == "NetcfgSubnetRangeOutsideVnet"
    assert put("rg1", "v", "b", nm.Subnet(address_prefix="10.0.1.0/24")).result().address_prefix == "10.0.1.0/24"
    assert [v.name for v in network.virtual_networks.list_all()] == ["v"]


def test_tags_of_groups_and_watchers(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, resources = sdk
    updated = resources.resource_groups.update("rg1", {"tags": {"owner": "me"}})
    assert (updated.tags, updated.location) == ({"owner": "me"}, LOCATION)
    assert resources.resource_groups.get("rg1").tags == {"owner": "me"}
    assert arm_code(lambda: resources.resource_groups.update("gone", {"tags": {}})) == "ResourceGroupNotFound"
    network.network_watchers.create_or_update("rg1", "nw", nm.NetworkWatcher(location=LOCATION, tags={"a": "1"}))
    tagged = network.network_watchers.update_tags("rg1", "nw", nm.TagsObject(tags={"b": "2"}))
    assert (tagged.tags, tagged.location, tagged.provisioning_state) == ({"b": "2"}, LOCATION, "Succeeded")
    assert network.network_watchers.get("rg1", "nw").tags == {"b": "2"}
    code = arm_code(lambda: network.network_watchers.update_tags("rg1", "gone", nm.TagsObject(tags={})))
    assert code == "ResourceNotFound"


def test_dynamic_private_addresses(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    subnets = vnet(
        network,
        "v",
        "10.0.0.0/16",
        [nm.Subnet(name="a", address_prefix="10.0.0.0/24"), nm.Subnet(name="b", address_prefix="10.0.1.0/24")],
    ).subnets

    def nic(name: str, subnet: nm.Subnet, address: str | None = None) -> str | None:
        configuration = nm.NetworkInterfaceIPConfiguration(
            name="c",
            subnet=nm.Subnet(id=subnet.id),
            private_ip_address=address,
            private_ip_allocation_method="Static" if address else "Dynamic",
        )
        body = nm.NetworkInterface(location=LOCATION, ip_configurations=[configuration])
        created = network.network_interfaces.begin_create_or_update("rg1", name, body).result()
        assert created.ip_configurations[0].primary is True  # the only configuration is the primary one
        address_given: str | None = created.ip_configurations[0].private_ip_address
        return address_given

    assert nic("n1", subnets[0], "10.0.0.5") == "10.0.0.5"
    assert nic("n2", subnets[0]) == "10.0.0.4"
    assert nic("n3", subnets[0]) == "10.0.0.6"
    assert nic("n4", subnets[1]) == "10.0.1.4"
    assert nic("n2", subnets[0]) == "10.0.0.4"  # a re-PUT keeps its address
    assert nic("n4", subnets[0]) == "10.0.0.7"  # moved: a new address in the new subnet
    assert network.network_interfaces.get("rg1", "n3").ip_configurations[0].private_ip_address == "10.0.0.6"
