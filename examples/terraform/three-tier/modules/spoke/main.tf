# A spoke VNet with one subnet per tier, each with its NSG; rules are standalone azurerm_network_security_rule
# resources flattened from var.tiers, associations are association resources.

variable "name" {
  type = string
}

variable "resource_group_name" {
  type = string
}

variable "location" {
  type = string
}

variable "address_space" {
  type = string
}

variable "flow_timeout_in_minutes" {
  type    = number
  default = null
}

variable "tiers" {
  description = "Tier name -> its subnet number, route table (or null) and rules."
  type = map(object({
    netnum      = number
    route_table = optional(string)
    rules = list(object({
      name                         = string
      description                  = optional(string)
      priority                     = number
      direction                    = optional(string, "Inbound")
      access                       = string
      protocol                     = string
      source                       = optional(list(string), [])
      source_asgs                  = optional(list(string), [])
      destination                  = optional(list(string), [])
      destination_asgs             = optional(list(string), [])
      ports                        = list(string)
    }))
  }))
}

resource "azurerm_virtual_network" "this" {
  name                    = var.name
  location                = var.location
  resource_group_name     = var.resource_group_name
  address_space           = [var.address_space]
  flow_timeout_in_minutes = var.flow_timeout_in_minutes
}

resource "azurerm_subnet" "tier" {
  for_each             = var.tiers
  name                 = "snet-${each.key}"
  resource_group_name  = var.resource_group_name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [cidrsubnet(var.address_space, 8, each.value.netnum)]
}

resource "azurerm_network_security_group" "tier" {
  for_each            = var.tiers
  name                = "nsg-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
}

locals {
  rules = flatten([
    for tier, spec in var.tiers : [
      for rule in spec.rules : merge(rule, { tier = tier, key = "${tier}/${rule.name}" })
    ]
  ])
}

resource "azurerm_network_security_rule" "rule" {
  for_each                    = { for rule in local.rules : rule.key => rule }
  name                        = each.value.name
  description                 = each.value.description
  priority                    = each.value.priority
  direction                   = each.value.direction
  access                      = each.value.access
  protocol                    = each.value.protocol
  source_port_range           = "*"
  destination_port_range      = length(each.value.ports) == 1 ? each.value.ports[0] : null
  destination_port_ranges     = length(each.value.ports) > 1 ? each.value.ports : null
  source_address_prefix       = length(each.value.source) == 1 ? each.value.source[0] : null
  source_address_prefixes     = length(each.value.source) > 1 ? each.value.source : null
  destination_address_prefix  = length(each.value.destination) == 1 ? each.value.destination[0] : null
  destination_address_prefixes = length(each.value.destination) > 1 ? each.value.destination : null
  source_application_security_group_ids      = length(each.value.source_asgs) > 0 ? each.value.source_asgs : null
  destination_application_security_group_ids = length(each.value.destination_asgs) > 0 ? each.value.destination_asgs : null
  resource_group_name         = var.resource_group_name
  network_security_group_name = azurerm_network_security_group.tier[each.value.tier].name
}

resource "azurerm_subnet_network_security_group_association" "tier" {
  for_each                  = var.tiers
  subnet_id                 = azurerm_subnet.tier[each.key].id
  network_security_group_id = azurerm_network_security_group.tier[each.key].id
}

resource "azurerm_subnet_route_table_association" "tier" {
  for_each       = { for tier, spec in var.tiers : tier => spec.route_table if spec.route_table != null }
  subnet_id      = azurerm_subnet.tier[each.key].id
  route_table_id = each.value
}

output "vnet_id" {
  value = azurerm_virtual_network.this.id
}

output "subnet_ids" {
  value = { for tier, subnet in azurerm_subnet.tier : tier => subnet.id }
}
