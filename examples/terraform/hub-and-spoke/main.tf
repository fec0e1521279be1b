# The hub-and-spoke estate of examples/hub-and-spoke.json and examples/hub-and-spoke-avnm.json, as an azurerm
# module: the network here, the Azure Virtual Network Manager in avnm.tf.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 4.0"
    }
  }
}

provider "azurerm" {
  subscription_id = "5f0c2a8e-7d41-4b9a-9c3e-2b7f6a1d0e44"
  features {}
}

variable "location" {
  type    = string
  default = "westeurope"
}

locals {
  storage_account_id = "/subscriptions/5f0c2a8e-7d41-4b9a-9c3e-2b7f6a1d0e44/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stcontosodata"

  # NSG name => its rules (defaults: any source port, any destination, TCP).
  nsg_rules = {
    "nsg-hub-mgmt" = []
    "nsg-spoke1-web" = [
      { name = "allow-https-internet", priority = 100, source = "Internet", port = "443" },
      { name = "allow-ssh-anywhere", priority = 110, source = "*", port = "22" },
    ]
    "nsg-spoke2-app" = [
      { name = "allow-app-from-web", priority = 100, source = "10.1.1.0/24", port = "8080" },
      { name = "deny-other-vnet-inbound", priority = 4000, source = "VirtualNetwork", port = "*", access = "Deny", protocol = "*" },
    ]
    "nsg-spoke1-pe" = [
      { name = "deny-all-inbound", priority = 4000, source = "*", port = "*", access = "Deny", protocol = "*" },
    ]
    "nsg-spoke2-pe" = [
      { name = "allow-https-from-app", priority = 100, source = "10.2.1.0/24", port = "443" },
      { name = "deny-all-inbound", priority = 4000, source = "*", port = "*", access = "Deny", protocol = "*" },
    ]
    "nsg-spoke2-batch" = []
  }
}

resource "azurerm_resource_group" "network" {
  name     = "rg-network"
  location = var.location
}

resource "azurerm_network_security_group" "nsg" {
  for_each            = local.nsg_rules
  name                = each.key
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name

  dynamic "security_rule" {
    for_each = each.value
    content {
      name                       = security_rule.value.name
      priority                   = security_rule.value.priority
      direction                  = "Inbound"
      access                     = lookup(security_rule.value, "access", "Allow")
      protocol                   = lookup(security_rule.value, "protocol", "Tcp")
      source_address_prefix      = security_rule.value.source
      source_port_range          = "*"
      destination_address_prefix = "*"
      destination_port_range     = security_rule.value.port
    }
  }
}
