"""Peering state and the remote address space, kept in step with both sides of each peering."""

from __future__ import annotations

import dataclasses

from opennsg.api.planning.state import replace_models
from opennsg.model.ids import id_key
from opennsg.model.resources import Resource, VirtualNetwork, VirtualNetworkPeering
from opennsg.model.topology import Topology

PEERING_INITIATED = "Initiated"
PEERING_CONNECTED = "Connected"
PEERING_DISCONNECTED = "Disconnected"


def sync_peerings(new: Topology, old: Topology) -> list[VirtualNetwork]:
    """Peering state and remoteAddressSpace follow both sides: Initiated until the remote VNet peers back, then
    Connected; Disconnected once a Connected remote side goes away. Returns the VNets that changed."""
    changed: list[VirtualNetwork] = []
    for vnet in new.vnets.values():
        old_vnet = old.vnet(vnet.id)
        before = {p.name.casefold(): p for p in old_vnet.peerings} if old_vnet else {}
        peerings: list[VirtualNetworkPeering] = []
        for peering in vnet.peerings:
            remote = new.vnet(peering.remote_virtual_network)
            reciprocal = remote is not None and any(
                p.remote_virtual_network and id_key(p.remote_virtual_network) == vnet.key for p in remote.peerings
            )
            previous = before.get(peering.name.casefold())
            was = previous.peering_state if previous is not None else PEERING_INITIATED
            if reciprocal:
                state = PEERING_CONNECTED
            elif was in (PEERING_CONNECTED, PEERING_DISCONNECTED):
                state = PEERING_DISCONNECTED
            else:
                state = PEERING_INITIATED
            space = remote.address_space if remote is not None else peering.remote_address_space
            peerings.append(dataclasses.replace(peering, peering_state=state, remote_address_space=space))
        if tuple(peerings) != vnet.peerings:
            changed.append(dataclasses.replace(vnet, peerings=tuple(peerings)))
    return changed


def with_synced_peerings(new: Topology, old: Topology, models: list[Resource]) -> tuple[Topology, list[Resource]]:
    synced = sync_peerings(new, old)
    if not synced:
        return new, models
    by_key = {m.key: m for m in models}
    for vnet in synced:
        by_key[vnet.key] = vnet
    return replace_models(new, *synced), list(by_key.values())
