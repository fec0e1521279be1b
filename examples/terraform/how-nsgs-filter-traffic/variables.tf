variable "resource_group" {
  type    = string
  default = "rg-nsg-demo"
}

variable "location" {
  type    = string
  default = "eastus"
}

variable "address_space" {
  type    = string
  default = "10.0.0.0/16"
}

variable "http_port" {
  description = "The one port both NSGs open to the Internet (a string in tfvars converts to a number)."
  type        = number
  default     = 8080
}

locals {
  nsg_names = ["NSG1", "NSG2"]

  http_rules = [
    {
      name        = "Allow-Internet-HTTP-Inbound"
      description = "Allow HTTP (TCP ${var.http_port}) from the Internet"
      priority    = 100
      port        = var.http_port
    },
  ]

  subnets = {
    Subnet1 = { prefix = cidrsubnet(var.address_space, 8, 1), nsg = "NSG1" }
    Subnet2 = { prefix = cidrsubnet(var.address_space, 8, 2), nsg = null }
    Subnet3 = { prefix = cidrsubnet(var.address_space, 8, 3), nsg = null }
  }

  vms = [
    { name = "VM1", subnet = "Subnet1", host = 4, nic_nsg = "NSG2" },
    { name = "VM2", subnet = "Subnet1", host = 5, nic_nsg = null },
    { name = "VM3", subnet = "Subnet2", host = 4, nic_nsg = "NSG2" },
    { name = "VM4", subnet = "Subnet3", host = 4, nic_nsg = null },
  ]
}
