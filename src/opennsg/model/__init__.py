"""Pure data and validation: the ARM resources of the NSG world as immutable values."""

from opennsg.model.defaults import DEFAULT_RULE_NAMES, default_security_rules
from opennsg.model.enums import Access, Direction, Protocol
from opennsg.model.errors import ArmError, ArmErrorResponse, OpenNsgError
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    PublicIpAddress,
    Resource,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.servicetags import ServiceTag, ServiceTags
from opennsg.model.topology import Topology

__all__ = [
    "DEFAULT_RULE_NAMES",
    "Access",
    "ApplicationSecurityGroup",
    "ArmError",
    "ArmErrorResponse",
    "Direction",
    "IpConfiguration",
    "NetworkInterface",
    "NetworkSecurityGroup",
    "OpenNsgError",
    "Protocol",
    "PublicIpAddress",
    "Resource",
    "ResourceId",
    "Route",
    "RouteTable",
    "SecurityRule",
    "ServiceTag",
    "ServiceTags",
    "Subnet",
    "Subscription",
    "Topology",
    "VirtualMachine",
    "VirtualNetwork",
    "VirtualNetworkPeering",
    "default_security_rules",
    "id_key",
]
