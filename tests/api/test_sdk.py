"""End to end with the real Azure SDK (azure-mgmt-network, azure-mgmt-resource) against a real server over TLS,
on SQLite and on PostgreSQL, restarting the server mid-test."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import ResourceManagementClient
from tests.api.conftest import RunningServer, rid
from tests.api.sdk import LOCATION, clients


def rule(
    name: str, priority: int, access: str, port: str, source: str = "*", asg: str | None = None
) -> nm.SecurityRule:
    return nm.SecurityRule(
        name=name,
        protocol="Tcp",
        source_port_range="*",
        destination_port_range=port,
        destination_address_prefix="*",
        source_address_prefix=None if asg else source,
        source_application_security_groups=[nm.ApplicationSecurityGroup(id=asg)] if asg else None,
        access=access,
        priority=priority,
        direction="Inbound",
    )


def build_network(network: NetworkManagementClient, resources: ResourceManagementClient) -> None:
    """RG, ASGs, NSGs with rules, two peered VNets, NICs, a VM and a network watcher, all through the SDK."""
    assert resources.resource_groups.create_or_update("rg1", {"location": LOCATION}).name == "rg1"
    resources.resource_groups.create_or_update("NetworkWatcherRG", {"location": LOCATION})
    web_asg = network.application_security_groups.begin_create_or_update(
        "rg1", "web-asg", nm.ApplicationSecurityGroup(location=LOCATION)
    ).result()
    network.application_security_groups.begin_create_or_update(
        "rg1", "db-asg", nm.ApplicationSecurityGroup(location=LOCATION)
    ).result()
    nsg = network.network_security_groups.begin_create_or_update(
        "rg1",
        "subnet-nsg",
        nm.NetworkSecurityGroup(
            location=LOCATION,
            security_rules=[
                rule("allow-https", 100, "Allow", "443", "Internet"),
                rule("deny-ssh", 110, "Deny", "22", "*"),
            ],
        ),
    ).result()
    assert [r.name for r in nsg.security_rules] == ["allow-https", "deny-ssh"]
    assert len(nsg.default_security_rules) == 6
    network.network_security_groups.begin_create_or_update(
        "rg1", "db-nsg", nm.NetworkSecurityGroup(location=LOCATION)
    ).result()
    created = network.security_rules.begin_create_or_update(
        "rg1",
        "db-nsg",
        "allow-web-to-db",
        rule("allow-web-to-db", 200, "Allow", "5432", asg=web_asg.id),
    ).result()
    assert created.priority == 200 and created.provisioning_state == "Succeeded"
    network.security_rules.begin_create_or_update(
        "rg1", "db-nsg", "deny-other-5432", rule("deny-other-5432", 300, "Deny", "5432", "Internet")
    ).result()

    spoke = network.virtual_networks.begin_create_or_update(
        "rg1",
        "spoke",
        nm.VirtualNetwork(
            location=LOCATION,
            address_space=nm.AddressSpace(address_prefixes=["10.0.0.0/16"]),
            subnets=[
                nm.Subnet(
                    name="app", address_prefix="10.0.1.0/24", network_security_group=nm.NetworkSecurityGroup(id=nsg.id)
                )
            ],
        ),
    ).result()
    hub = network.virtual_networks.begin_create_or_update(
        "rg1",
        "hub",
        nm.VirtualNetwork(location=LOCATION, address_space=nm.AddressSpace(address_prefixes=["10.1.0.0/16"])),
    ).result()
    network.subnets.begin_create_or_update("rg1", "hub", "shared", nm.Subnet(address_prefix="10.1.0.0/24")).result()
    first = network.virtual_network_peerings.begin_create_or_update(
        "rg1",
        "spoke",
        "spoke-to-hub",
        nm.VirtualNetworkPeering(remote_virtual_network=nm.SubResource(id=hub.id), allow_virtual_network_access=True),
    ).result()
    assert first.peering_state == "Initiated"
    second = network.virtual_network_peerings.begin_create_or_update(
        "rg1",
        "hub",
        "hub-to-spoke",
        nm.VirtualNetworkPeering(remote_virtual_network=nm.SubResource(id=spoke.id), allow_virtual_network_access=True),
    ).result()
    assert second.peering_state == "Connected"
    assert second.remote_address_space.address_prefixes == ["10.0.0.0/16"]
    back = network.virtual_network_peerings.get("rg1", "spoke", "spoke-to-hub")
    assert back.peering_state == "Connected"
    assert back.remote_address_space.address_prefixes == ["10.1.0.0/16"]

    app_subnet = network.subnets.get("rg1", "spoke", "app")
    shared_subnet = network.subnets.get("rg1", "hub", "shared")
    db_nsg = network.network_security_groups.get("rg1", "db-nsg")
    for name, address, asg, nsg_ref, subnet in (
        ("nic-web", "10.0.1.4", "web-asg", None, app_subnet),
        ("nic-db", "10.0.1.5", "db-asg", db_nsg.id, app_subnet),
        ("nic-hub", "10.1.0.10", None, None, shared_subnet),
    ):
        configuration = nm.NetworkInterfaceIPConfiguration(
            name="ipconfig1",
            private_ip_address=address,
            private_ip_allocation_method="Static",
            subnet=nm.Subnet(id=subnet.id),
            primary=True,
            application_security_groups=[nm.ApplicationSecurityGroup(id=rid("applicationSecurityGroups", asg))]
            if asg
            else None,
        )
        body = nm.NetworkInterface(
            location=LOCATION,
            ip_configurations=[configuration],
            network_security_group=nm.NetworkSecurityGroup(id=nsg_ref) if nsg_ref else None,
        )
        network.network_interfaces.begin_create_or_update("rg1", name, body).result()

    vm_id = rid("virtualMachines", "vm-web", provider="Microsoft.Compute")
    resources.resources.begin_create_or_update_by_id(
        vm_id,
        {
            "location": LOCATION,
            "properties": {
                "networkProfile": {
                    "networkInterfaces": [{"id": rid("networkInterfaces", "nic-web"), "properties": {"primary": True}}]
                }
            },
        },
        api_version="2024-07-01",
    ).result()
    network.network_watchers.create_or_update(
        "NetworkWatcherRG", "NetworkWatcher_westus", nm.NetworkWatcher(location=LOCATION)
    )


def check_diagnostics(network: NetworkManagementClient) -> None:
    """IP flow verify (VM and NIC targets), NSG diagnostics and effective rules, as the SDK returns them."""
    watcher = ("NetworkWatcherRG", "NetworkWatcher_westus")
    vm_id = rid("virtualMachines", "vm-web", provider="Microsoft.Compute")

    def verify(target: str, port: str, remote: str, local: str, nic: str | None = None) -> tuple[str, str | None]:
        parameters = nm.VerificationIPFlowParameters(
            target_resource_id=target,
            direction="Inbound",
            protocol="TCP",
            local_port=port,
            remote_port="50000",
            local_ip_address=local,
            remote_ip_address=remote,
            target_nic_resource_id=nic,
        )
        result = network.network_watchers.begin_verify_ip_flow(*watcher, parameters).result()
        return result.access, result.rule_name

    assert verify(vm_id, "443", "52.10.20.30", "10.0.1.4") == ("Allow", "securityRules/allow-https")
    assert verify(vm_id, "22", "52.10.20.30", "10.0.1.4") == ("Deny", "securityRules/deny-ssh")
    assert verify(vm_id, "8080", "52.10.20.30", "10.0.1.4") == ("Deny", "defaultSecurityRules/DenyAllInBound")
    db_nic = rid("networkInterfaces", "nic-db")
    # web ASG -> db: the subnet NSG allows (VirtualNetwork), the NIC NSG's ASG rule is the last allow reported
    assert verify(db_nic, "5432", "10.0.1.4", "10.0.1.5") == ("Allow", "securityRules/allow-web-to-db")
    # the peered hub is VirtualNetwork: allowed by the default rule of the NIC NSG
    assert verify(db_nic, "5432", "10.1.0.10", "10.0.1.5") == ("Allow", "defaultSecurityRules/AllowVnetInBound")
    # targetNicResourceId wins over targetResourceId
    assert verify(vm_id, "5432", "10.0.1.4", "10.0.1.5", nic=db_nic)[0] == "Allow"

    diagnostic = network.network_watchers.begin_get_network_configuration_diagnostic(
        *watcher,
        nm.NetworkConfigurationDiagnosticParameters(
            target_resource_id=vm_id,
            profiles=[
                nm.NetworkConfigurationDiagnosticProfile(
                    direction="Inbound",
                    protocol="TCP",
                    source="52.10.20.30",
                    destination="10.0.1.4",
                    destination_port=port,
                )
                for port in ("443", "22")
            ],
        ),
    ).result()
    allowed, denied = diagnostic.results
    assert allowed.network_security_group_result.security_rule_access_result == "Allow"
    evaluated = allowed.network_security_group_result.evaluated_network_security_groups
    assert [e.matched_rule.rule_name for e in evaluated] == ["UserRule_allow-https"]
    assert evaluated[0].network_security_group_id.casefold() == rid("networkSecurityGroups", "subnet-nsg").casefold()
    assert denied.network_security_group_result.security_rule_access_result == "Deny"
    assert denied.network_security_group_result.evaluated_network_security_groups[0].matched_rule.rule_name == (
        "UserRule_deny-ssh"
    )

    effective = network.network_interfaces.begin_list_effective_network_security_groups("rg1", "nic-db").result()
    groups = {g.network_security_group.id.rsplit("/", 1)[-1]: g for g in effective.value}
    assert set(groups) == {"subnet-nsg", "db-nsg"}
    assert groups["subnet-nsg"].association.subnet.id.casefold().endswith("/subnets/app")
    assert groups["db-nsg"].association.network_interface.id.casefold().endswith("/networkinterfaces/nic-db")
    names = [r.name for r in groups["db-nsg"].effective_security_rules]
    assert "securityRules/allow-web-to-db" in names and "defaultSecurityRules/DenyAllInBound" in names


def snapshot_state(network: NetworkManagementClient) -> dict[str, str]:
    """Every resource's etag, read through the SDK (what must survive a restart unchanged)."""
    state = {n.id.casefold(): n.etag for n in network.network_security_groups.list_all()}
    state |= {v.id.casefold(): v.etag for v in network.virtual_networks.list_all()}
    state |= {n.id.casefold(): n.etag for n in network.network_interfaces.list_all()}
    state |= {a.id.casefold(): a.etag for a in network.application_security_groups.list_all()}
    return state


def test_sdk_end_to_end_with_restart(db_url: str, start_server: Callable[..., RunningServer]) -> None:
    server = start_server(db_url)
    network, resources = clients(server)
    build_network(network, resources)
    check_diagnostics(network)
    before = snapshot_state(network)
    assert len(before) == 2 + 2 + 3 + 2

    network.close()
    resources.close()
    server.stop()
    restarted = start_server(db_url)
    network, resources = clients(restarted)
    assert snapshot_state(network) == before
    db_nsg = network.network_security_groups.get("rg1", "db-nsg")
    assert [r.name for r in db_nsg.security_rules] == ["allow-web-to-db", "deny-other-5432"]
    assert {i.id.casefold() for i in db_nsg.network_interfaces} == {rid("networkInterfaces", "nic-db").casefold()}
    subnet_nsg = network.network_security_groups.get("rg1", "subnet-nsg")
    assert [s.id.rsplit("/", 1)[-1] for s in subnet_nsg.subnets] == ["app"]
    check_diagnostics(network)

    with pytest.raises(HttpResponseError) as in_use:
        network.network_security_groups.begin_delete("rg1", "subnet-nsg").result()
    assert in_use.value.error is not None and in_use.value.error.code == "InUseNetworkSecurityGroupCannotBeDeleted"
    network.security_rules.begin_delete("rg1", "db-nsg", "deny-other-5432").result()
    assert [r.name for r in network.security_rules.list("rg1", "db-nsg")] == ["allow-web-to-db"]
    assert resources.resource_groups.check_existence("rg1")
    assert not resources.resource_groups.check_existence("nope")
    network.network_interfaces.begin_delete("rg1", "nic-hub").result()
    with pytest.raises(ResourceNotFoundError):
        network.network_interfaces.get("rg1", "nic-hub")
    tags = network.network_security_groups.update_tags("rg1", "db-nsg", nm.TagsObject(tags={"env": "test"}))
    assert tags.tags == {"env": "test"}
    assert sorted(g.name for g in resources.resource_groups.list()) == ["NetworkWatcherRG", "rg1"]
    resources.resource_groups.begin_delete("NetworkWatcherRG").result()
    assert [g.name for g in resources.resource_groups.list()] == ["rg1"]
