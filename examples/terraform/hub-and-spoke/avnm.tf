# nm-contoso governs both spokes with one security admin configuration, deployed in westeurope.

resource "azurerm_network_manager" "contoso" {
  name                = "nm-contoso"
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name
  description         = "Contoso network manager"
  scope_accesses      = ["SecurityAdmin", "Connectivity"]

  scope {
    subscription_ids = ["/subscriptions/5f0c2a8e-7d41-4b9a-9c3e-2b7f6a1d0e44"]
  }
}

resource "azurerm_network_manager_network_group" "spokes" {
  name               = "ng-spokes"
  network_manager_id = azurerm_network_manager.contoso.id
  description        = "Every spoke VNet"
  member_type        = "VirtualNetwork"
}

resource "azurerm_network_manager_static_member" "spoke" {
  for_each                  = azurerm_virtual_network.spoke
  name                      = each.value.name
  network_group_id          = azurerm_network_manager_network_group.spokes.id
  target_virtual_network_id = each.value.id
}

resource "azurerm_network_manager_security_admin_configuration" "baseline" {
  name                                          = "sac-baseline"
  network_manager_id                            = azurerm_network_manager.contoso.id
  description                                   = "Organisation-wide baseline"
  apply_on_network_intent_policy_based_services = ["None"]
}

resource "azurerm_network_manager_admin_rule_collection" "baseline" {
  name                            = "rc-baseline"
  security_admin_configuration_id = azurerm_network_manager_security_admin_configuration.baseline.id
  network_group_ids               = [azurerm_network_manager_network_group.spokes.id]
  description                     = "Baseline for spokes"
}

locals {
  admin_rules = {
    AlwaysAllowMonitoring = {
      description = "The monitoring range reaches every spoke VM, whatever the spoke NSGs say"
      priority    = 100
      action      = "AlwaysAllow"
      protocol    = "Any"
      source      = { type = "IPPrefix", prefix = "10.0.1.0/24" }
      ports       = []
    }
    DenyHighRiskFromInternet = {
      description = "SSH, RDP, SMB, Telnet and NetBIOS never from the Internet"
      priority    = 200
      action      = "Deny"
      protocol    = "Tcp"
      source      = { type = "ServiceTag", prefix = "Internet" }
      ports       = ["22", "3389", "445", "23", "135-139"]
    }
    AllowAppFromVnets = {
      description = "Application traffic inside the estate; the spokes' NSGs narrow it"
      priority    = 300
      action      = "Allow"
      protocol    = "Tcp"
      source      = { type = "ServiceTag", prefix = "VirtualNetwork" }
      ports       = ["8080"]
    }
  }
}

resource "azurerm_network_manager_admin_rule" "baseline" {
  for_each                 = local.admin_rules
  name                     = each.key
  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.baseline.id
  description              = each.value.description
  priority                 = each.value.priority
  direction                = "Inbound"
  action                   = each.value.action
  protocol                 = each.value.protocol
  source_port_ranges       = []
  destination_port_ranges  = each.value.ports

  source {
    address_prefix_type = each.value.source.type
    address_prefix      = each.value.source.prefix
  }

  destination {
    address_prefix_type = "IPPrefix"
    address_prefix      = "*"
  }
}

resource "azurerm_network_manager_deployment" "baseline" {
  network_manager_id = azurerm_network_manager.contoso.id
  location           = azurerm_resource_group.network.location
  scope_access       = "SecurityAdmin"
  configuration_ids  = [azurerm_network_manager_security_admin_configuration.baseline.id]
  depends_on         = [azurerm_network_manager_admin_rule.baseline]
}
