"""One builder and parser of ARM ids (``opennsg.model.ids``), as ARM writes and reads them."""

from __future__ import annotations

import pytest

from opennsg.model.ids import (
    ResourceId,
    name_of,
    network_id,
    parent_id,
    resource_group_id,
    resource_group_scope,
    resource_id,
    subscription_of,
)

SUB = "00000000-0000-0000-0000-000000000001"
SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default"


def test_resource_id_takes_a_type_and_one_name_per_segment_as_arms_resourceId_does() -> None:
    assert resource_id(SUB, "rg", "Microsoft.Network/virtualNetworks/subnets", "vnet1", "default") == SUBNET
    assert resource_id(SUB, "rg", "Microsoft.Compute/virtualMachines", "vm1") == (
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    )
    assert network_id(SUB, "rg", "virtualNetworks", "vnet1", "subnets", "default") == SUBNET
    with pytest.raises(ValueError):
        resource_id(SUB, "rg", "Microsoft.Network/virtualNetworks/subnets", "vnet1")


def test_the_parts_of_an_id_read_back_as_written() -> None:
    assert parent_id(SUBNET) == SUBNET.rsplit("/subnets/", 1)[0]
    assert name_of(SUBNET + "/") == "default"
    assert resource_group_id(SUB, "rg") == f"/subscriptions/{SUB}/resourceGroups/rg"
    assert resource_group_scope(SUBNET.replace("resourceGroups", "RESOURCEGROUPS")) == resource_group_id(SUB, "rg")
    assert resource_group_scope(f"/subscriptions/{SUB}") is None
    parsed = ResourceId.parse(SUBNET)
    assert parsed is not None and str(parsed) == SUBNET and str(parsed.top) == parent_id(SUBNET)


def test_subscription_of_is_looser_than_the_parser_for_authorisation() -> None:
    broken = f"/Subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1//"
    assert ResourceId.parse(broken) is None
    assert subscription_of(broken) == SUB
    assert subscription_of("/providers/Microsoft.Management/managementGroups/mg") is None
    assert subscription_of("subscriptions/x") is None
