# The picture of "How network security groups filter network traffic" (examples/how-nsgs-filter-traffic.json),
# written as Terraform: for_each over NSGs, a dynamic security_rule block, inline subnets, count over VMs.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
  subscription_id = "5f1c0c3e-6a4b-4c2d-9e1f-2a3b4c5d6e7f"
}

resource "azurerm_resource_group" "demo" {
  name     = var.resource_group
  location = var.location
}

resource "azurerm_network_security_group" "nsg" {
  for_each            = toset(local.nsg_names)
  name                = each.key
  location            = azurerm_resource_group.demo.location
  resource_group_name = azurerm_resource_group.demo.name

  dynamic "security_rule" {
    for_each = local.http_rules
    content {
      name                       = security_rule.value.name
      description                = security_rule.value.description
      priority                   = security_rule.value.priority
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = tostring(security_rule.value.port)
      source_address_prefix      = "Internet"
      destination_address_prefix = "*"
    }
  }
}

resource "azurerm_virtual_network" "vnet1" {
  name                = "VNet1"
  location            = azurerm_resource_group.demo.location
  resource_group_name = azurerm_resource_group.demo.name
  address_space       = [var.address_space]

  dynamic "subnet" {
    for_each = local.subnets
    iterator = s
    content {
      name             = s.key
      address_prefixes = [s.value.prefix]
      security_group   = s.value.nsg == null ? null : azurerm_network_security_group.nsg[s.value.nsg].id
    }
  }
}

resource "azurerm_network_interface" "vm" {
  count               = length(local.vms)
  name                = lower(format("%s-nic", local.vms[count.index].name))
  location            = azurerm_resource_group.demo.location
  resource_group_name = azurerm_resource_group.demo.name

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.vnet1.id}/subnets/${local.vms[count.index].subnet}"
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(local.subnets[local.vms[count.index].subnet].prefix, local.vms[count.index].host)
  }
}

resource "azurerm_network_interface_security_group_association" "nic_nsg" {
  for_each = { for i, vm in local.vms : vm.name => i if vm.nic_nsg != null }

  network_interface_id      = azurerm_network_interface.vm[each.value].id
  network_security_group_id = azurerm_network_security_group.nsg[local.vms[each.value].nic_nsg].id
}

resource "azurerm_linux_virtual_machine" "vm" {
  count                 = length(local.vms)
  name                  = local.vms[count.index].name
  location              = azurerm_resource_group.demo.location
  resource_group_name   = azurerm_resource_group.demo.name
  size                  = "Standard_B1s"
  admin_username        = "azureuser"
  network_interface_ids = [azurerm_network_interface.vm[count.index].id]

  admin_ssh_key {
    username   = "azureuser"
    public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTheDocs azureuser"
  }

  os_disk {
    caching              = "ReadWrite"
    storage_account_type = "Standard_LRS"
  }

  source_image_reference {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "server"
    version   = "latest"
  }
}
