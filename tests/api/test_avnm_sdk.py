"""AVNM end to end with the real Azure SDK (azure-mgmt-network) against a real server over TLS: a manager, a group
with a static member, a security admin configuration, a rule collection and rules, a commit, the deployment status,
then IP flow verify answering with the admin rule (semantics §11.3, §11.6)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import ResourceManagementClient
from tests.api.conftest import SUB, RunningServer, rid
from tests.api.sdk import LOCATION, connected


def _admin_rule(priority: int, access: str, port: str, source: str, source_type: str = "IPPrefix") -> nm.AdminRule:
    return nm.AdminRule(
        protocol="Tcp",
        access=access,
        direction="Inbound",
        priority=priority,
        sources=[nm.AddressPrefixItem(address_prefix=source, address_prefix_type=source_type)],
        destinations=[nm.AddressPrefixItem(address_prefix="*", address_prefix_type="IPPrefix")],
        source_port_ranges=[],
        destination_port_ranges=[port],
    )


def build(
    network: NetworkManagementClient, resources: ResourceManagementClient
) -> Callable[[str, str], tuple[str, str]]:
    """The estate, through the SDK only (``rg1`` exists); returns IP flow verify for (remote address, local port) to
    the VM's NIC."""
    nsg = network.network_security_groups.begin_create_or_update(
        "rg1",
        "nsg",
        nm.NetworkSecurityGroup(
            location=LOCATION,
            security_rules=[
                nm.SecurityRule(
                    name="allow-ssh-anywhere",
                    protocol="Tcp",
                    source_port_range="*",
                    destination_port_range="22",
                    source_address_prefix="*",
                    destination_address_prefix="*",
                    access="Allow",
                    priority=100,
                    direction="Inbound",
                )
            ],
        ),
    ).result()
    vnet = network.virtual_networks.begin_create_or_update(
        "rg1",
        "spoke",
        nm.VirtualNetwork(
            location=LOCATION,
            address_space=nm.AddressSpace(address_prefixes=["10.0.0.0/16"]),
            subnets=[nm.Subnet(name="app", address_prefix="10.0.1.0/24")],
        ),
    ).result()
    assert vnet.subnets[0].default_outbound_access is False  # created with the SDK's api-version (>= 2025-07-01)
    subnet_id = vnet.subnets[0].id
    network.network_interfaces.begin_create_or_update(
        "rg1",
        "nic",
        nm.NetworkInterface(
            location=LOCATION,
            network_security_group=nm.NetworkSecurityGroup(id=nsg.id),
            ip_configurations=[
                nm.NetworkInterfaceIPConfiguration(
                    name="ipconfig1", private_ip_address="10.0.1.4", subnet=nm.Subnet(id=subnet_id)
                )
            ],
        ),
    ).result()

    manager = network.network_managers.create_or_update(
        "rg1",
        "nm",
        nm.NetworkManager(
            location=LOCATION,
            network_manager_scopes=nm.NetworkManagerPropertiesNetworkManagerScopes(
                subscriptions=[f"/subscriptions/{SUB}"]
            ),
            network_manager_scope_accesses=["SecurityAdmin"],
        ),
    )
    assert manager.provisioning_state == "Succeeded" and manager.etag
    group = network.network_groups.create_or_update(
        "rg1", "nm", "spokes", nm.NetworkGroup(member_type="VirtualNetwork")
    )
    member = network.static_members.create_or_update(
        "rg1", "nm", "spokes", "spoke", nm.StaticMember(resource_id=vnet.id)
    )
    assert member.resource_id == vnet.id
    configuration = network.security_admin_configurations.create_or_update(
        "rg1", "nm", "baseline", nm.SecurityAdminConfiguration(apply_on_network_intent_policy_based_services=["None"])
    )
    network.admin_rule_collections.create_or_update(
        "rg1",
        "nm",
        "baseline",
        "guardrails",
        nm.AdminRuleCollection(applies_to_groups=[nm.NetworkManagerSecurityGroupItem(network_group_id=group.id)]),
    )
    deny = network.admin_rules.create_or_update(
        "rg1",
        "nm",
        "baseline",
        "guardrails",
        "deny-ssh-from-internet",
        _admin_rule(10, "Deny", "22", "Internet", "ServiceTag"),
    )
    assert isinstance(deny, nm.AdminRule) and deny.access == "Deny" and deny.priority == 10
    network.admin_rules.create_or_update(
        "rg1", "nm", "baseline", "guardrails", "always-monitoring", _admin_rule(5, "AlwaysAllow", "22", "52.100.0.0/24")
    )
    listed = network.admin_rules.list("rg1", "nm", "baseline", "guardrails")
    assert sorted(r.name for r in listed) == ["always-monitoring", "deny-ssh-from-internet"]

    committed = network.network_manager_commits.begin_post(
        "rg1",
        "nm",
        nm.NetworkManagerCommit(
            target_locations=[LOCATION], configuration_ids=[configuration.id], commit_type="SecurityAdmin"
        ),
    ).result()
    assert committed.configuration_ids == [configuration.id]
    statuses = network.network_manager_deployment_status.list(
        "rg1", "nm", nm.NetworkManagerDeploymentStatusParameter(regions=[LOCATION], deployment_types=["SecurityAdmin"])
    )
    (status,) = statuses.value
    assert (status.region, status.deployment_status, status.configuration_ids) == (
        LOCATION,
        "Deployed",
        [configuration.id],
    )
    active = network.list_active_security_admin_rules("rg1", "nm", nm.ActiveConfigurationParameter(regions=[LOCATION]))
    assert sorted(r.id.rsplit("/", 1)[-1] for r in active.value) == ["always-monitoring", "deny-ssh-from-internet"]

    resources.resource_groups.create_or_update("NetworkWatcherRG", {"location": LOCATION})
    network.network_watchers.create_or_update("NetworkWatcherRG", "nw", nm.NetworkWatcher(location=LOCATION))
    nic_id = rid("networkInterfaces", "nic")

    def verify(remote: str, port: str) -> tuple[str, str]:
        parameters = nm.VerificationIPFlowParameters(
            target_resource_id=nic_id,
            direction="Inbound",
            protocol="TCP",
            local_port=port,
            remote_port="50000",
            local_ip_address="10.0.1.4",
            remote_ip_address=remote,
        )
        result: Any = network.network_watchers.begin_verify_ip_flow("NetworkWatcherRG", "nw", parameters).result()
        return result.access, result.rule_name

    return verify


def test_manager_configuration_rules_commit_and_status_through_the_sdk(
    sqlite_url: str, start_server: Callable[..., RunningServer]
) -> None:
    with connected(start_server(sqlite_url)) as (network, resources):
        verify = build(network, resources)
        # not an admin-rule question: the NSG decides
        assert verify("52.10.20.30", "80") == ("Deny", "defaultSecurityRules/DenyAllInBound")


def test_ip_flow_verify_answers_with_the_admin_rule(
    sqlite_url: str, start_server: Callable[..., RunningServer]
) -> None:
    with connected(start_server(sqlite_url)) as (network, resources):
        verify = build(network, resources)
        # the NSG allows SSH from anywhere, the admin Deny from Internet wins first (semantics §11.3)
        assert verify("52.10.20.30", "22") == ("Deny", "securityAdminRules/deny-ssh-from-internet")
        # AlwaysAllow for the monitoring range, whatever the NSGs say
        assert verify("52.100.0.7", "22") == ("Allow", "securityAdminRules/always-monitoring")
        # from inside the VNet no admin rule matches: the NSG's allow is the answer
        assert verify("10.0.1.9", "22") == ("Allow", "securityRules/allow-ssh-anywhere")
