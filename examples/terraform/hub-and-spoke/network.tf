# The hub keeps its subnets inline; the spokes have standalone subnets with association resources.

resource "azurerm_virtual_network" "hub" {
  name                = "vnet-hub"
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "snet-monitoring"
    address_prefixes = [cidrsubnet("10.0.0.0/16", 8, 1)]
    security_group   = azurerm_network_security_group.nsg["nsg-hub-mgmt"].id
  }

  subnet {
    name             = "snet-shared"
    address_prefixes = [cidrsubnet("10.0.0.0/16", 8, 2)]
    security_group   = azurerm_network_security_group.nsg["nsg-hub-mgmt"].id
  }
}

locals {
  spokes = {
    spoke1 = { space = "10.1.0.0/16" }
    spoke2 = { space = "10.2.0.0/16" }
  }
  # "spoke/subnet" => what the subnet has.
  spoke_subnets = {
    "spoke1/snet-web"   = { netnum = 1, nsg = "nsg-spoke1-web" }
    "spoke1/snet-pe"    = { netnum = 2, nsg = "nsg-spoke1-pe", endpoint_policies = "Disabled" }
    "spoke2/snet-app"   = { netnum = 1, nsg = "nsg-spoke2-app" }
    "spoke2/snet-pe"    = { netnum = 2, nsg = "nsg-spoke2-pe", endpoint_policies = "Enabled" }
    "spoke2/snet-batch" = { netnum = 3, nsg = "nsg-spoke2-batch", private = true }
  }
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = local.spokes
  name                = "vnet-${each.key}"
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name
  address_space       = [each.value.space]
}

resource "azurerm_subnet" "spoke" {
  for_each                          = local.spoke_subnets
  name                              = split("/", each.key)[1]
  resource_group_name               = azurerm_resource_group.network.name
  virtual_network_name              = azurerm_virtual_network.spoke[split("/", each.key)[0]].name
  address_prefixes                  = [cidrsubnet(local.spokes[split("/", each.key)[0]].space, 8, each.value.netnum)]
  private_endpoint_network_policies = lookup(each.value, "endpoint_policies", null)
  default_outbound_access_enabled   = lookup(each.value, "private", false) ? false : null
}

resource "azurerm_subnet_network_security_group_association" "spoke" {
  for_each                  = local.spoke_subnets
  subnet_id                 = azurerm_subnet.spoke[each.key].id
  network_security_group_id = azurerm_network_security_group.nsg[each.value.nsg].id
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  for_each                     = local.spokes
  name                         = "hub-to-${each.key}"
  resource_group_name          = azurerm_resource_group.network.name
  virtual_network_name         = azurerm_virtual_network.hub.name
  remote_virtual_network_id    = azurerm_virtual_network.spoke[each.key].id
  allow_virtual_network_access = true
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  for_each                  = local.spokes
  name                      = "${each.key}-to-hub"
  resource_group_name       = azurerm_resource_group.network.name
  virtual_network_name      = azurerm_virtual_network.spoke[each.key].name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
}

locals {
  hub_subnet_ids = { for s in azurerm_virtual_network.hub.subnet : s.name => s.id }
  # VM NIC name => (subnet id, static address).
  nics = {
    "nic-vm-monitor" = { subnet = local.hub_subnet_ids["snet-monitoring"], address = "10.0.1.4" }
    "nic-vm-jump"    = { subnet = local.hub_subnet_ids["snet-shared"], address = "10.0.2.4" }
    "nic-vm-web1"    = { subnet = azurerm_subnet.spoke["spoke1/snet-web"].id, address = "10.1.1.4" }
    "nic-vm-app1"    = { subnet = azurerm_subnet.spoke["spoke2/snet-app"].id, address = "10.2.1.4" }
    "nic-vm-batch1"  = { subnet = azurerm_subnet.spoke["spoke2/snet-batch"].id, address = "10.2.3.4" }
  }
}

resource "azurerm_network_interface" "vm" {
  for_each            = local.nics
  name                = each.key
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = each.value.subnet
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.address
  }
}

# Blob storage in each spoke; Azure creates each endpoint's NIC, named by custom_network_interface_name.
resource "azurerm_private_endpoint" "blob" {
  for_each                      = toset(keys(local.spokes))
  name                          = "pe-blob-${each.key}"
  location                      = azurerm_resource_group.network.location
  resource_group_name           = azurerm_resource_group.network.name
  subnet_id                     = azurerm_subnet.spoke["${each.key}/snet-pe"].id
  custom_network_interface_name = "pe-blob-${each.key}.nic"

  private_service_connection {
    name                           = "pe-blob-${each.key}-conn"
    private_connection_resource_id = local.storage_account_id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  ip_configuration {
    name               = "ipconfig1"
    private_ip_address = cidrhost(azurerm_subnet.spoke["${each.key}/snet-pe"].address_prefixes[0], 5)
    subresource_name   = "blob"
    member_name        = "blob"
  }
}
