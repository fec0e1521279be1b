"""Effective routes in the shape of ``NetworkInterfaces_GetEffectiveRouteTable`` (``EffectiveRoute``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opennsg.model.routes import EffectiveRoute


def effective_route_to_arm(route: EffectiveRoute) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.name is not None:
        out["name"] = route.name
        out["disableBgpRoutePropagation"] = route.disable_bgp_route_propagation
    out["source"] = route.source.value
    out["state"] = route.state.value
    out["addressPrefix"] = list(route.address_prefixes)
    out["nextHopType"] = route.next_hop_type.value
    out["nextHopIpAddress"] = list(route.next_hop_ip_addresses)
    return out


def effective_route_table_to_arm(routes: Iterable[EffectiveRoute]) -> dict[str, Any]:
    """The ``EffectiveRouteListResult`` body: ``{"value": [...]}``."""
    return {"value": [effective_route_to_arm(r) for r in routes]}
