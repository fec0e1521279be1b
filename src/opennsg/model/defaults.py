"""The six default rules every NSG carries, exactly as ARM returns them (semantics §2)."""

from __future__ import annotations

from opennsg.model.enums import Access, Direction, Protocol
from opennsg.model.resources import SecurityRule

_DEFAULTS = (
    ("AllowVnetInBound", Direction.INBOUND, 65000, "VirtualNetwork", "VirtualNetwork", Access.ALLOW,
     "Allow inbound traffic from all VMs in VNET"),
    ("AllowAzureLoadBalancerInBound", Direction.INBOUND, 65001, "AzureLoadBalancer", "*", Access.ALLOW,
     "Allow inbound traffic from azure load balancer"),
    ("DenyAllInBound", Direction.INBOUND, 65500, "*", "*", Access.DENY, "Deny all inbound traffic"),
    ("AllowVnetOutBound", Direction.OUTBOUND, 65000, "VirtualNetwork", "VirtualNetwork", Access.ALLOW,
     "Allow outbound traffic from all VMs to all VMs in VNET"),
    ("AllowInternetOutBound", Direction.OUTBOUND, 65001, "*", "Internet", Access.ALLOW,
     "Allow outbound traffic from all VMs to Internet"),
    ("DenyAllOutBound", Direction.OUTBOUND, 65500, "*", "*", Access.DENY, "Deny all outbound traffic"),
)  # fmt: skip

DEFAULT_RULE_NAMES = tuple(d[0] for d in _DEFAULTS)


def default_security_rules(nsg_id: str | None = None) -> tuple[SecurityRule, ...]:
    """The six default rules, in ARM's order, with ids under ``nsg_id`` when given."""
    return tuple(
        SecurityRule(
            name=name,
            priority=priority,
            direction=direction,
            access=access,
            protocol=Protocol.ANY,
            source_address_prefix=src,
            source_port_range="*",
            destination_address_prefix=dst,
            destination_port_range="*",
            description=description,
            is_default=True,
            id=f"{nsg_id}/defaultSecurityRules/{name}" if nsg_id else None,
        )
        for name, direction, priority, src, dst, access, description in _DEFAULTS
    )


def is_default_rule_name(name: str) -> bool:
    return name.casefold() in {n.casefold() for n in DEFAULT_RULE_NAMES}
