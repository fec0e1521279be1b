"""azurerm's AVNM, private endpoint and NAT gateway resources, and the subnet settings they depend on, mapped into
the model field by field (HCL and plan/state JSON), validated as ARM is with problems at their block, and
exported back (``export --format terraform`` reads back to the same model)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from opennsg.arm import load_paths
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import OpenNsgError, Topology
from opennsg.model.avnm import (
    AddressPrefixItem,
    AddressPrefixType,
    AdminAccess,
    AdminProtocol,
    GroupMemberType,
    NetworkIntentPolicyBasedService,
    ScopeAccess,
)
from opennsg.model.enums import Direction, PrivateEndpointNetworkPolicies
from opennsg.terraform.export import export_module

SUB = "5f1c0c3e-0000-4c2d-9e1f-2a3b4c5d6e7f"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
NET = f"{RG}/providers/Microsoft.Network"
NM = f"{NET}/networkManagers/nm"
PREFIX = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/publicIPPrefixes/p"

NETWORK = f"""
provider "azurerm" {{
  subscription_id = "{SUB}"
  features {{}}
}}

resource "azurerm_virtual_network" "v" {{
  name                = "v"
  location            = "westeurope"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]

  subnet {{
    name                              = "inline"
    address_prefixes                  = ["10.0.9.0/24"]
    private_endpoint_network_policies = "NetworkSecurityGroupEnabled"
    default_outbound_access_enabled   = false
  }}
}}

resource "azurerm_subnet" "app" {{
  name                 = "app"
  resource_group_name  = "rg"
  virtual_network_name = azurerm_virtual_network.v.name
  address_prefixes     = ["10.0.1.0/24"]
}}

resource "azurerm_subnet" "pe" {{
  name                              = "pe"
  resource_group_name               = "rg"
  virtual_network_name              = azurerm_virtual_network.v.name
  address_prefixes                  = ["10.0.2.0/24"]
  private_endpoint_network_policies = "Enabled"
  default_outbound_access_enabled   = true
}}

resource "azurerm_network_security_group" "pe" {{
  name                = "nsg-pe"
  location            = "westeurope"
  resource_group_name = "rg"

  security_rule {{
    name                                       = "https-from-app"
    priority                                   = 100
    direction                                  = "Inbound"
    access                                     = "Allow"
    protocol                                   = "Tcp"
    source_address_prefix                      = "10.0.1.0/24"
    source_port_range                          = "*"
    destination_application_security_group_ids = [azurerm_application_security_group.data.id]
    destination_port_range                     = "443"
  }}

  security_rule {{
    name                       = "deny-rest"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_address_prefix      = "*"
    source_port_range          = "*"
    destination_address_prefix = "*"
    destination_port_range     = "*"
  }}
}}

resource "azurerm_subnet_network_security_group_association" "pe" {{
  subnet_id                 = azurerm_subnet.pe.id
  network_security_group_id = azurerm_network_security_group.pe.id
}}

resource "azurerm_application_security_group" "data" {{
  name                = "asg-data"
  location            = "westeurope"
  resource_group_name = "rg"
}}
"""

ENDPOINTS = """
resource "azurerm_private_endpoint" "sql" {
  name                          = "pe-sql"
  location                      = "westeurope"
  resource_group_name           = "rg"
  subnet_id                     = azurerm_subnet.pe.id
  custom_network_interface_name = "pe-sql-nic"

  private_service_connection {
    name                           = "sql"
    private_connection_resource_id = "/subscriptions/x/resourceGroups/data/providers/Microsoft.Sql/servers/db1"
    subresource_names              = ["sqlServer"]
    is_manual_connection           = false
  }

  ip_configuration {
    name               = "sql-ip"
    private_ip_address = "10.0.2.10"
    subresource_name   = "sqlServer"
    member_name        = "sqlServer"
  }
}

resource "azurerm_private_endpoint_application_security_group_association" "sql" {
  private_endpoint_id           = azurerm_private_endpoint.sql.id
  application_security_group_id = azurerm_application_security_group.data.id
}

resource "azurerm_private_endpoint" "blob" {
  name                = "pe-blob"
  location            = "westeurope"
  resource_group_name = "rg"
  subnet_id           = azurerm_subnet.pe.id

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = "/subscriptions/x/resourceGroups/d/providers/Microsoft.Storage/storageAccounts/s"
    is_manual_connection           = true
    request_message                = "please"
  }
}

output "sql_nic" {
  value = azurerm_private_endpoint.sql.network_interface[0].id
}
"""

NAT = """
resource "azurerm_public_ip" "nat" {
  name                = "pip-nat"
  location            = "westeurope"
  resource_group_name = "rg"
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_public_ip" "old" {
  name                = "pip-old"
  location            = "westeurope"
  resource_group_name = "rg"
  allocation_method   = "Static"
  sku                 = "Basic"
}

resource "azurerm_nat_gateway" "out" {
  name                    = "nat-out"
  location                = "westeurope"
  resource_group_name     = "rg"
  sku_name                = "Standard"
  idle_timeout_in_minutes = 10
  public_ip_address_ids   = [azurerm_public_ip.old.id]
}

resource "azurerm_nat_gateway_public_ip_association" "out" {
  nat_gateway_id       = azurerm_nat_gateway.out.id
  public_ip_address_id = azurerm_public_ip.nat.id
}

resource "azurerm_nat_gateway_public_ip_prefix_association" "out" {
  nat_gateway_id      = azurerm_nat_gateway.out.id
  public_ip_prefix_id = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/publicIPPrefixes/p"
}

resource "azurerm_subnet_nat_gateway_association" "app" {
  subnet_id      = azurerm_subnet.app.id
  nat_gateway_id = azurerm_nat_gateway.out.id
}
"""

AVNM = f"""
resource "azurerm_network_manager" "nm" {{
  name                = "nm"
  location            = "westeurope"
  resource_group_name = "rg"
  description         = "the manager"
  scope_accesses      = ["SecurityAdmin", "Connectivity"]

  scope {{
    subscription_ids     = ["/subscriptions/{SUB}", "{SUB}"]
    management_group_ids = ["mg-root"]
  }}
}}

resource "azurerm_network_manager_network_group" "all" {{
  name               = "all"
  network_manager_id = azurerm_network_manager.nm.id
  description        = "every VNet"
  member_type        = "VirtualNetwork"
}}

resource "azurerm_network_manager_static_member" "v" {{
  name                      = "v"
  network_group_id          = azurerm_network_manager_network_group.all.id
  target_virtual_network_id = azurerm_virtual_network.v.id
}}

resource "azurerm_network_manager_security_admin_configuration" "base" {{
  name                                          = "base"
  network_manager_id                            = azurerm_network_manager.nm.id
  description                                   = "baseline"
  apply_on_network_intent_policy_based_services = ["AllowRulesOnly"]
}}

resource "azurerm_network_manager_admin_rule_collection" "base" {{
  name                            = "rc"
  security_admin_configuration_id = azurerm_network_manager_security_admin_configuration.base.id
  network_group_ids               = [azurerm_network_manager_network_group.all.id]
  description                     = "rules"
}}

resource "azurerm_network_manager_admin_rule" "deny_ssh" {{
  name                     = "DenySsh"
  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.base.id
  action                   = "Deny"
  direction                = "Inbound"
  priority                 = 10
  protocol                 = "Tcp"
  source_port_ranges       = ["0-65535"]
  destination_port_ranges  = ["22", "3389"]
  description              = "no remote shells"

  source {{
    address_prefix_type = "ServiceTag"
    address_prefix      = "Internet"
  }}

  destination {{
    address_prefix_type = "IPPrefix"
    address_prefix      = "10.0.1.0/24"
  }}

  destination {{
    address_prefix_type = "IPPrefix"
    address_prefix      = "10.0.2.0/24"
  }}
}}

resource "azurerm_network_manager_admin_rule" "monitor" {{
  name                     = "AlwaysMonitor"
  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.base.id
  action                   = "AlwaysAllow"
  direction                = "Inbound"
  priority                 = 5
  protocol                 = "Any"

  source {{
    address_prefix_type = "IPPrefix"
    address_prefix      = "10.0.9.0/24"
  }}
}}

resource "azurerm_network_manager_deployment" "base" {{
  network_manager_id = azurerm_network_manager.nm.id
  location           = "westeurope"
  scope_access       = "SecurityAdmin"
  configuration_ids  = [azurerm_network_manager_security_admin_configuration.base.id]
}}
"""

NICS = """
resource "azurerm_network_interface" "app" {
  name                = "app1"
  location            = "westeurope"
  resource_group_name = "rg"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.app.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.1.4"
  }
}
"""


def module(tmp_path: Path, *parts: str) -> Path:
    directory = tmp_path / "module"
    directory.mkdir(exist_ok=True)
    (directory / "main.tf").write_text(textwrap.dedent("\n".join(parts)), encoding="utf-8")
    return directory


def errors(paths: list[Path]) -> list[str]:
    with pytest.raises(OpenNsgError) as caught:
        load_paths(paths)
    return [e.message for e in caught.value.errors]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Topology:
    return load_paths([module(tmp_path_factory.mktemp("estate"), NETWORK, ENDPOINTS, NAT, AVNM, NICS)])


def test_subnet_endpoint_policies_and_default_outbound_access_inline_and_standalone(estate: Topology) -> None:
    subnets = {s.name: s for s in estate.subnets}
    assert subnets["inline"].private_endpoint_network_policies is (
        PrivateEndpointNetworkPolicies.NETWORK_SECURITY_GROUP_ENABLED
    )
    assert subnets["inline"].default_outbound_access is False
    assert (subnets["pe"].private_endpoint_network_policies, subnets["pe"].default_outbound_access) == (
        PrivateEndpointNetworkPolicies.ENABLED,
        True,
    )
    assert (subnets["app"].private_endpoint_network_policies, subnets["app"].default_outbound_access) == (None, None)


@pytest.mark.parametrize(
    ("argument", "policies"),
    [
        ("private_endpoint_network_policies_enabled = true", PrivateEndpointNetworkPolicies.ENABLED),  # azurerm 3
        ("private_endpoint_network_policies_enabled = false", PrivateEndpointNetworkPolicies.DISABLED),
        ("enforce_private_link_endpoint_network_policies = true", PrivateEndpointNetworkPolicies.DISABLED),  # 2.x
        ('private_endpoint_network_policies = "RouteTableEnabled"', PrivateEndpointNetworkPolicies.ROUTE_TABLE_ENABLED),
    ],
)
def test_endpoint_policies_of_every_provider_version(
    tmp_path: Path, argument: str, policies: PrivateEndpointNetworkPolicies
) -> None:
    subnet = f"""
resource "azurerm_subnet" "x" {{
  name                 = "x"
  resource_group_name  = "rg"
  virtual_network_name = azurerm_virtual_network.v.name
  address_prefixes     = ["10.0.7.0/24"]
  {argument}
}}
"""
    topology = load_paths([module(tmp_path, NETWORK, subnet)])
    assert next(s for s in topology.subnets if s.name == "x").private_endpoint_network_policies is policies


def test_private_endpoint_and_the_nic_azure_creates_for_it(estate: Topology) -> None:
    sql = estate.private_endpoint(f"{NET}/privateEndpoints/pe-sql")
    assert sql is not None
    nic_id = f"{NET}/networkInterfaces/pe-sql-nic"
    assert (sql.subnet, sql.network_interfaces, sql.private_ip_addresses) == (
        f"{NET}/virtualNetworks/v/subnets/pe",
        (nic_id,),
        ("10.0.2.10",),
    )
    assert sql.application_security_groups == (f"{NET}/applicationSecurityGroups/asg-data",)
    assert sql.custom_network_interface_name == "pe-sql-nic"
    assert sql.private_link_service_ids == ("/subscriptions/x/resourceGroups/data/providers/Microsoft.Sql/servers/db1",)
    nic = estate.nic(nic_id)
    assert nic is not None and nic.private_endpoint == sql.id and nic.network_security_group is None
    (config,) = nic.ip_configurations
    assert (config.name, config.private_ip_address, config.subnet, config.primary) == (
        "sql-ip",
        "10.0.2.10",
        sql.subnet,
        True,
    )
    assert config.application_security_groups == sql.application_security_groups
    # Without custom_network_interface_name Azure picks the name; OpenNSG calls it {endpoint}.nic, no address yet.
    blob = estate.nic(f"{NET}/networkInterfaces/pe-blob.nic")
    assert blob is not None and blob.private_endpoint == f"{NET}/privateEndpoints/pe-blob"
    assert [(c.name, c.private_ip_address) for c in blob.ip_configurations] == [("ipconfig1", None)]


def test_endpoint_verdicts_follow_the_subnet_policies_and_the_endpoint_asg(estate: Topology) -> None:
    """Policies Enabled: nsg-pe applies at the endpoint, and its ASG rule matches through the association."""
    engine = Engine(estate)
    https = engine.verify("pe-sql-nic", Flow.make("Inbound", "TCP", "10.0.2.10", 443, "10.0.1.4", 50000))
    assert (https.access.value, https.rule_name) == ("Allow", "securityRules/https-from-app")
    other = engine.verify("pe-sql-nic", Flow.make("Inbound", "TCP", "10.0.2.10", 1433, "10.0.1.4", 50000))
    assert (other.access.value, other.rule_name) == ("Deny", "securityRules/deny-rest")


def test_nat_gateway_with_its_public_ips_prefixes_and_subnets(estate: Topology) -> None:
    gateway = estate.nat_gateway(f"{NET}/natGateways/nat-out")
    assert gateway is not None
    assert (gateway.sku_name, gateway.idle_timeout_in_minutes) == ("Standard", 10)
    assert gateway.public_ip_addresses == (
        f"{NET}/publicIPAddresses/pip-old",
        f"{NET}/publicIPAddresses/pip-nat",
    )
    assert gateway.public_ip_prefixes == (PREFIX,)
    assert gateway.subnets == (f"{NET}/virtualNetworks/v/subnets/app",)
    app = next(s for s in estate.subnets if s.name == "app")
    assert app.nat_gateway == gateway.id
    pips = {p.name: p for p in estate.public_ips.values()}
    assert (pips["pip-nat"].nat_gateway, pips["pip-nat"].sku_name, pips["pip-old"].sku_name) == (
        gateway.id,
        "Standard",
        "Basic",
    )
    outbound = Engine(estate).verify("app1", Flow.make("Outbound", "TCP", "10.0.1.4", 50000, "52.1.2.3", 443))
    assert outbound.access.value == "Allow"


def test_avnm_resources_field_by_field(estate: Topology) -> None:
    (manager,) = estate.network_managers.values()
    assert (manager.id, manager.description) == (NM, "the manager")
    assert manager.scope_subscriptions == (f"/subscriptions/{SUB}", f"/subscriptions/{SUB}")
    assert manager.scope_management_groups == ("/providers/Microsoft.Management/managementGroups/mg-root",)
    assert manager.scope_accesses == (ScopeAccess.SECURITY_ADMIN, ScopeAccess.CONNECTIVITY)
    (group,) = estate.network_groups.values()
    assert (group.id, group.description, group.member_type) == (
        f"{NM}/networkGroups/all",
        "every VNet",
        GroupMemberType.VIRTUAL_NETWORK,
    )
    (member,) = estate.static_members.values()
    assert (member.id, member.resource_id) == (f"{NM}/networkGroups/all/staticMembers/v", f"{NET}/virtualNetworks/v")
    (configuration,) = estate.security_admin_configurations.values()
    assert configuration.id == f"{NM}/securityAdminConfigurations/base"
    assert configuration.apply_on_network_intent_policy_based_services == (
        NetworkIntentPolicyBasedService.ALLOW_RULES_ONLY,
    )
    (collection,) = estate.admin_rule_collections.values()
    assert (collection.id, collection.applies_to_groups, collection.description) == (
        f"{configuration.id}/ruleCollections/rc",
        (group.id,),
        "rules",
    )
    rules = {r.name: r for r in estate.admin_rules.values()}
    deny = rules["DenySsh"]
    assert deny.id == f"{collection.id}/rules/DenySsh"
    assert (deny.access, deny.direction, deny.priority, deny.protocol) == (
        AdminAccess.DENY,
        Direction.INBOUND,
        10,
        AdminProtocol.TCP,
    )
    assert deny.sources == (AddressPrefixItem("Internet", AddressPrefixType.SERVICE_TAG),)
    assert deny.destinations == (
        AddressPrefixItem("10.0.1.0/24", AddressPrefixType.IP_PREFIX),
        AddressPrefixItem("10.0.2.0/24", AddressPrefixType.IP_PREFIX),
    )
    assert (deny.source_port_ranges, deny.destination_port_ranges, deny.description) == (
        ("0-65535",),
        ("22", "3389"),
        "no remote shells",
    )
    assert (rules["AlwaysMonitor"].access, rules["AlwaysMonitor"].protocol, rules["AlwaysMonitor"].destinations) == (
        AdminAccess.ALWAYS_ALLOW,
        AdminProtocol.ANY,
        (),
    )
    (status,) = estate.deployment_statuses
    assert (status.region, status.deployment_status.value, status.configuration_ids, status.network_manager_id) == (
        "westeurope",
        "Deployed",
        (configuration.id,),
        NM,
    )


def test_admin_rules_decide_before_the_nsgs(estate: Topology) -> None:
    engine = Engine(estate)
    ssh = engine.verify("app1", Flow.make("Inbound", "TCP", "10.0.1.4", 22, "52.1.2.3", 50000))
    assert (ssh.access.value, ssh.rule_name) == ("Deny", "securityAdminRules/DenySsh")
    monitor = engine.verify("app1", Flow.make("Inbound", "TCP", "10.0.1.4", 1433, "10.0.9.4", 50000))
    assert (monitor.access.value, monitor.rule_name) == ("Allow", "securityAdminRules/AlwaysMonitor")
    # Admin rules do not apply to private endpoints (semantics §11.2): the endpoint's NSG decides.
    endpoint = engine.verify("pe-sql-nic", Flow.make("Inbound", "TCP", "10.0.2.10", 22, "52.1.2.3", 50000))
    assert (endpoint.access.value, endpoint.rule_name) == ("Deny", "securityRules/deny-rest")


def test_a_deployment_elsewhere_leaves_the_rules_undeployed_here(tmp_path: Path) -> None:
    elsewhere = AVNM.replace(
        'location           = "westeurope"\n  scope_access', 'location           = "eastus"\n  scope_access'
    )
    topology = load_paths([module(tmp_path, NETWORK, elsewhere, NICS)])
    ssh = Engine(topology).verify("app1", Flow.make("Inbound", "TCP", "10.0.1.4", 22, "52.1.2.3", 50000))
    assert ssh.rule_name != "securityAdminRules/DenySsh"


RULE_BLOCK = 'resource "azurerm_network_manager_admin_rule" "deny_ssh"'
MONITOR_BLOCK = 'resource "azurerm_network_manager_admin_rule" "monitor"'
COLLECTION_LINE = "  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.base.id\n"
MONITOR_ACTION = '  action                   = "AlwaysAllow"'


@pytest.mark.parametrize(
    ("edit", "line_of", "message"),
    [
        (('= "Deny"', '= "Block"'), RULE_BLOCK, 'action "Block" is not one of Allow, Deny, AlwaysAllow'),
        (('= "ServiceTag"', '= "Tag"'), "  source {",
         'source: address_prefix_type "Tag" is not one of IPPrefix, ServiceTag, NetworkGroup'),
        (('= "VirtualNetwork"', '= "Vnet"'), 'resource "azurerm_network_manager_network_group"',
         'member_type "Vnet" is not one of VirtualNetwork, Subnet'),
        (('["SecurityAdmin", "Connectivity"]', '["Security"]'), 'resource "azurerm_network_manager" "nm"',
         'scope_accesses "Security" is not one of'),
        ((COLLECTION_LINE + MONITOR_ACTION, MONITOR_ACTION), MONITOR_BLOCK,
         'the argument "admin_rule_collection_id" is required'),
    ],
)  # fmt: skip
def test_bad_avnm_arguments_point_at_their_block(
    tmp_path: Path, edit: tuple[str, str], line_of: str, message: str
) -> None:
    text = AVNM.replace(*edit)
    assert text != AVNM
    directory = module(tmp_path, NETWORK, text)
    main = directory / "main.tf"
    written = main.read_text().splitlines()
    line = next(i for i, t in enumerate(written, 1) if t.startswith(line_of) and i > len(NETWORK.splitlines()) - 2)
    found = errors([directory])
    assert any(m.startswith(f"{main}:{line}: ") and message in m for m in found), found


def test_azure_validation_of_admin_rules_points_at_the_tf_block(tmp_path: Path) -> None:
    text = AVNM.replace("priority                 = 5\n", "priority                 = 0\n")
    directory = module(tmp_path, NETWORK, text)
    main = directory / "main.tf"
    line = main.read_text().splitlines().index('resource "azurerm_network_manager_admin_rule" "monitor" {') + 1
    found = errors([directory])
    assert len(found) == 1 and found[0].startswith(f'{main}:{line}: resource "azurerm_network_manager_admin_rule"')
    assert "riority" in found[0]


def test_associations_with_nothing_to_associate_are_named(tmp_path: Path) -> None:
    directory = module(
        tmp_path,
        NETWORK,
        """
resource "azurerm_nat_gateway_public_ip_association" "x" {
  nat_gateway_id       = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/gone"
  public_ip_address_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/p"
}
""",
    )
    (message,) = errors([directory])
    gone = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/natGateways/gone"
    assert message.endswith(f"NAT gateway {gone} is not in the Terraform input")


def test_the_endpoint_nic_id_is_an_attribute_expressions_can_read(tmp_path: Path) -> None:
    """``azurerm_private_endpoint.x.network_interface[0].id`` is known when the NIC is named by the module."""
    directory = module(
        tmp_path,
        NETWORK,
        ENDPOINTS,
        """
resource "azurerm_network_interface_security_group_association" "wrong" {
  network_interface_id      = azurerm_private_endpoint.sql.network_interface[0].id
  network_security_group_id = azurerm_network_security_group.pe.id
}
""",
    )
    with pytest.raises(OpenNsgError) as caught:
        load_paths([directory])
    (error,) = caught.value.errors
    main = directory / "main.tf"
    line = (
        main.read_text().splitlines().index('resource "azurerm_network_interface_security_group_association" "wrong" {')
    )
    assert error.code == "PrivateEndpointNetworkInterfaceCannotHaveNetworkSecurityGroup"
    assert error.message.startswith(
        f'{main}:{line + 1}: resource "azurerm_network_interface_security_group_association" "wrong": '
        f"Network interface {NET}/networkInterfaces/pe-sql-nic belongs to private endpoint"
    )


# --- plan and state JSON ----------------------------------------------------------------------------------


def _values(topology: Topology) -> dict[str, Any]:
    return {
        "endpoints": sorted(topology.private_endpoints.values(), key=lambda r: r.key),
        "gateways": sorted(topology.nat_gateways.values(), key=lambda r: r.key),
        "rules": sorted(topology.admin_rules.values(), key=lambda r: r.key),
        "collections": sorted(topology.admin_rule_collections.values(), key=lambda r: r.key),
        "members": sorted(topology.static_members.values(), key=lambda r: r.key),
        "statuses": topology.deployment_statuses,
        "nics": sorted(topology.nics.values(), key=lambda r: r.key),
    }


def _state_of(topology_module: Path, tmp_path: Path) -> Path:
    """A state document (``terraform show -json``) holding what the module evaluates to, ids included."""
    from opennsg.terraform.module import Inputs, evaluate_root, module_files

    instances, problems, _ = evaluate_root(topology_module, module_files(topology_module), Inputs(), SUB)
    assert not problems
    resources = []
    for instance in instances:
        kind, name = instance.address.split("[")[0].split(".")[-2:]
        values = json.loads(json.dumps(dict(instance.values), default=list))
        if kind == "azurerm_private_endpoint" and "custom_network_interface_name" not in values:
            values["network_interface"] = [
                {"id": f"{NET}/networkInterfaces/pe-blob.nic.8c1f", "name": "pe-blob.nic.8c1f"}
            ]
            values["private_service_connection"][0]["private_ip_address"] = "10.0.2.4"
        if kind == "azurerm_network_manager_static_member":
            values["region"] = "westeurope"
        resources.append({"address": instance.address, "mode": "managed", "type": kind, "name": name, "values": values})
    state = {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": {"resources": resources}}}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return path


def test_state_json_gives_the_same_model_with_what_azure_assigned(estate: Topology, tmp_path: Path) -> None:
    directory = module(tmp_path, NETWORK, ENDPOINTS, NAT, AVNM, NICS)
    state = load_paths([_state_of(directory, tmp_path)])
    mine, theirs = _values(state), _values(estate)
    assert [m.region for m in mine["members"]] == ["westeurope"]
    for kind in ("gateways", "rules", "collections", "statuses"):
        assert mine[kind] == theirs[kind], kind
    # Azure named the blob endpoint's NIC and gave it an address; the state says both.
    blob = state.nic(f"{NET}/networkInterfaces/pe-blob.nic.8c1f")
    assert blob is not None and [c.private_ip_address for c in blob.ip_configurations] == ["10.0.2.4"]
    assert state.private_endpoint(f"{NET}/privateEndpoints/pe-blob").network_interfaces == (blob.id,)  # type: ignore[union-attr]


def test_plan_ids_unknown_until_apply_resolve_along_the_avnm_chain(tmp_path: Path) -> None:
    """Every id unknown (a plan creating it all): each child's id follows from its parent's, references in the
    configuration name the parents, whatever order the plan lists them in."""
    directory = module(tmp_path, NETWORK, AVNM, NICS)
    state = json.loads(_state_of(directory, tmp_path).read_text())
    resources = list(reversed(state["values"]["root_module"]["resources"]))  # children before parents
    changes, configuration = [], []
    for resource in resources:
        values = resource["values"]
        unknown: dict[str, Any] = {"id": True}
        expressions: dict[str, Any] = {}
        for key in ("network_manager_id", "network_group_id", "security_admin_configuration_id",
                    "admin_rule_collection_id", "target_virtual_network_id", "subnet_id"):  # fmt: skip
            if key in values:
                target = next(r for r in resources if r["values"].get("id") == values[key] and r is not resource)
                expressions[key] = {"references": [f"{target['address']}.id", target["address"]]}
                unknown[key] = True
        for key in ("network_group_ids", "configuration_ids"):
            if key in values:
                targets = [next(r for r in resources if r["values"].get("id") == v) for v in values[key]]
                expressions[key] = {"references": [x for t in targets for x in (f"{t['address']}.id", t["address"])]}
                unknown[key] = [True] * len(values[key])
        for key in unknown:
            values.pop(key, None)
        names = {"address": resource["address"], "type": resource["type"], "name": resource["name"]}
        change = {"actions": ["create"], "before": None, "after": values, "after_unknown": unknown}
        changes.append({**names, "change": change})
        configuration.append({**names, "expressions": expressions})
    plan = {
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": resources}},
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "azurerm": {"name": "azurerm", "expressions": {"subscription_id": {"constant_value": SUB}}}
            },
            "root_module": {"resources": configuration},
        },
    }
    path = tmp_path / "elsewhere" / "plan.json"  # no module beside it: the configuration's references alone
    path.parent.mkdir()
    path.write_text(json.dumps(plan), encoding="utf-8")
    planned = load_paths([path])
    hcl = load_paths([directory])
    assert _values(planned)["rules"] == _values(hcl)["rules"]
    assert [replace(m, region=None) for m in _values(planned)["members"]] == _values(hcl)["members"]
    assert _values(planned)["statuses"] == _values(hcl)["statuses"]


# --- export -----------------------------------------------------------------------------------------------


def test_export_writes_the_resources_back_and_reads_the_same(estate: Topology, tmp_path: Path) -> None:
    written = export_module(estate, tmp_path / "out")
    text = written.read_text()
    for resource in ("azurerm_nat_gateway_public_ip_association", "azurerm_subnet_nat_gateway_association",
                     "azurerm_private_endpoint_application_security_group_association",
                     "azurerm_network_manager_deployment", "azurerm_network_manager_admin_rule"):  # fmt: skip
        assert f'resource "{resource}"' in text
    assert 'resource "azurerm_network_interface" "pe_sql_nic"' not in text  # Azure creates it with the endpoint
    back = load_paths([tmp_path / "out"])
    mine, theirs = _values(back), _values(estate)
    for kind in ("endpoints", "gateways", "rules", "collections", "members", "statuses"):
        assert mine[kind] == theirs[kind], kind
    assert {s.key: s for s in back.subnets} == {s.key: s for s in estate.subnets}
    by_key = {n.key: n for n in mine["nics"]}
    assert by_key == {n.key: n for n in theirs["nics"]}


def test_export_says_what_terraform_cannot_hold(estate: Topology, tmp_path: Path) -> None:
    from opennsg.model.avnm import DeploymentState, DeploymentStatus

    deploying = DeploymentStatus("eastus", DeploymentState.DEPLOYING, (f"{NM}/securityAdminConfigurations/base",))
    topology = estate.with_(deployment_statuses=[*estate.deployment_statuses, deploying])
    text = export_module(topology, tmp_path).read_text()
    assert "# Left out: the deployment status Deploying of" in text
    assert text.count('resource "azurerm_network_manager_deployment"') == 1
