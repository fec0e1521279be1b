# examples/three-tier.json as Terraform: a local module for the spoke, the hub in the root, peerings both ways,
# ASGs with for_each, NIC/ASG association resources, a legacy azurerm_virtual_machine for the appliance.
# No subscription here: give --subscription 8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f (tests do).

provider "azurerm" {
  features {}
}

variable "location" {
  type = string
}

variable "prefix" {
  type    = string
  default = "three-tier"
}

resource "azurerm_resource_group" "spoke" {
  name     = "rg-${var.prefix}"
  location = var.location
}

resource "azurerm_resource_group" "hub" {
  name     = "rg-hub"
  location = var.location
}

resource "azurerm_application_security_group" "tier" {
  for_each            = toset(["web", "app", "db"])
  name                = format("asg-%s", each.key)
  location            = var.location
  resource_group_name = azurerm_resource_group.spoke.name
}

resource "azurerm_route_table" "forced" {
  name                          = "rt-forced-tunnel"
  location                      = var.location
  resource_group_name           = azurerm_resource_group.spoke.name
  bgp_route_propagation_enabled = false

  route {
    name                   = "default-to-firewall"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = azurerm_network_interface.nva.private_ip_address
  }
}

locals {
  asg = { for tier, asg in azurerm_application_security_group.tier : tier => asg.id }
}

module "spoke" {
  source                  = "./modules/spoke"
  name                    = "vnet-spoke"
  resource_group_name     = azurerm_resource_group.spoke.name
  location                = var.location
  address_space           = "10.1.0.0/16"
  flow_timeout_in_minutes = 10
  tiers = {
    web = {
      netnum = 1
      rules = [
        { name = "Allow-Internet-HTTPS-To-Web", description = "HTTPS from the Internet to the web tier", priority = 100,
          access = "Allow", protocol = "Tcp", source = ["Internet"], destination_asgs = [local.asg.web], ports = ["443"] },
        { name = "Allow-Hub-Management", description = "SSH and node exporter from the hub", priority = 110,
          access = "Allow", protocol = "Tcp", source = [for n in [1, 2] : cidrsubnet(azurerm_virtual_network.hub.address_space[0], 8, n)],
          destination_asgs = [local.asg.web], ports = ["22", "9100-9110"] },
        { name = "Deny-Internet-Other", priority = 4000, access = "Deny", protocol = "*", source = ["Internet"],
          destination = ["*"], ports = ["*"] },
      ]
    }
    app = {
      netnum      = 2
      route_table = azurerm_route_table.forced.id
      rules = [
        { name = "Allow-Web-To-App", description = "Web tier calls the app tier on 8080", priority = 100,
          access = "Allow", protocol = "Tcp", source_asgs = [local.asg.web], destination_asgs = [local.asg.app], ports = ["8080"] },
        { name = "Deny-VNet-Inbound", description = "Nothing else from inside the VNet", priority = 4000, access = "Deny",
          protocol = "*", source = ["VirtualNetwork"], destination = ["VirtualNetwork"], ports = ["*"] },
        { name = "Allow-Kms-Outbound", description = "Windows activation", priority = 200, direction = "Outbound",
          access = "Allow", protocol = "Tcp", source = ["*"], destination = ["AzurePlatformLKM"], ports = ["1688"] },
      ]
    }
    db = {
      netnum = 3
      rules = [
        { name = "Allow-App-To-Db", description = "App tier reaches SQL Server", priority = 100, access = "Allow",
          protocol = "Tcp", source_asgs = [local.asg.app], destination_asgs = [local.asg.db], ports = ["1433"] },
        { name = "Deny-All-Inbound", priority = 4096, access = "Deny", protocol = "*", source = ["*"],
          destination = ["*"], ports = ["*"] },
        { name = "Deny-Internet-Outbound", description = "Databases never talk to the Internet", priority = 100,
          direction = "Outbound", access = "Deny", protocol = "*", source = ["*"], destination = ["Internet"], ports = ["*"] },
      ]
    }
  }
}

resource "azurerm_virtual_network" "hub" {
  name                = "vnet-hub"
  location            = var.location
  resource_group_name = azurerm_resource_group.hub.name
  address_space       = ["10.100.0.0/16"]

  subnet {
    name             = "snet-nva"
    address_prefixes = ["10.100.1.0/24"]
  }

  subnet {
    name             = "snet-management"
    address_prefixes = ["10.100.2.0/24"]
  }
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  name                      = "spoke-to-hub"
  resource_group_name       = azurerm_resource_group.spoke.name
  virtual_network_name      = "vnet-spoke"
  remote_virtual_network_id = azurerm_virtual_network.hub.id
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  name                         = "hub-to-spoke"
  resource_group_name          = azurerm_resource_group.hub.name
  virtual_network_name         = azurerm_virtual_network.hub.name
  remote_virtual_network_id    = module.spoke.vnet_id
  allow_virtual_network_access = true
}
