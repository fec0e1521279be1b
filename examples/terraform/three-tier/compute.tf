locals {
  nics = {
    "nic-vm-web1"         = { tier = "web", host = 4, asg = "web" }
    "nic-vm-web1-backend" = { tier = "app", host = 10, asg = null }
    "nic-vm-app1"         = { tier = "app", host = 4, asg = "app" }
    "nic-vm-db1"          = { tier = "db", host = 4, asg = "db" }
  }
  tier_prefix = { web = "10.1.1.0/24", app = "10.1.2.0/24", db = "10.1.3.0/24" }
}

resource "azurerm_public_ip" "web1" {
  name                = "pip-vm-web1"
  location            = var.location
  resource_group_name = azurerm_resource_group.spoke.name
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_network_interface" "spoke" {
  for_each            = local.nics
  name                = each.key
  location            = var.location
  resource_group_name = azurerm_resource_group.spoke.name

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = module.spoke.subnet_ids[each.value.tier]
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(local.tier_prefix[each.value.tier], each.value.host)
    public_ip_address_id          = each.key == "nic-vm-web1" ? azurerm_public_ip.web1.id : null
  }
}

resource "azurerm_network_interface_application_security_group_association" "spoke" {
  for_each                      = { for name, nic in local.nics : name => nic.asg if nic.asg != null }
  network_interface_id          = azurerm_network_interface.spoke[each.key].id
  application_security_group_id = local.asg[each.value]
}

resource "azurerm_network_interface" "nva" {
  name                  = "nic-vm-nva1"
  location              = var.location
  resource_group_name   = azurerm_resource_group.hub.name
  ip_forwarding_enabled = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = one([for s in azurerm_virtual_network.hub.subnet : s.id if s.name == "snet-nva"])
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.100.1.4"
  }
}

resource "azurerm_windows_virtual_machine" "web1" {
  name                  = "vm-web1"
  location              = var.location
  resource_group_name   = azurerm_resource_group.spoke.name
  size                  = "Standard_D2s_v5"
  admin_username        = "azureuser"
  admin_password        = "not-a-real-password-1!"
  network_interface_ids = [azurerm_network_interface.spoke["nic-vm-web1"].id, azurerm_network_interface.spoke["nic-vm-web1-backend"].id]

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }
}

resource "azurerm_linux_virtual_machine" "tier" {
  for_each              = toset(["app", "db"])
  name                  = "vm-${each.key}1"
  location              = var.location
  resource_group_name   = azurerm_resource_group.spoke.name
  size                  = "Standard_B2s"
  admin_username        = "azureuser"
  network_interface_ids = [azurerm_network_interface.spoke["nic-vm-${each.key}1"].id]

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }
}

resource "azurerm_virtual_machine" "nva" {
  name                         = "vm-nva1"
  location                     = var.location
  resource_group_name          = azurerm_resource_group.hub.name
  vm_size                      = "Standard_D2s_v5"
  network_interface_ids        = [azurerm_network_interface.nva.id]
  primary_network_interface_id = azurerm_network_interface.nva.id

  storage_os_disk {
    name              = "nva-os"
    create_option     = "FromImage"
    managed_disk_type = "Standard_LRS"
  }
}
