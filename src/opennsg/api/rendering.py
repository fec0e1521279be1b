"""GET bodies of stored resources, rendered as ARM answers them: the model's ARM JSON with etags, provisioning
states, back-references and ARM's defaults (every successful GET, the gateway's fast path and the routes alike)."""

from __future__ import annotations

import json
from typing import Any

from opennsg import arm
from opennsg.api import planning
from opennsg.api.store import Row, Snapshot
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.resources import NetworkInterface, PublicIpAddress, Resource, RouteTable, VirtualNetwork

CHILD_LISTS = (
    "securityRules",
    "defaultSecurityRules",
    "subnets",
    "virtualNetworkPeerings",
    "routes",
    "ipConfigurations",
)
CHILD_KEYS = {name.casefold(): name for name in CHILD_LISTS}


def decorate_child(body: dict[str, Any], etag: str) -> dict[str, Any]:
    """A child resource shares its parent's etag (as in ARM) and reports provisioningState."""
    body["etag"] = etag
    body.setdefault("properties", {})["provisioningState"] = "Succeeded"
    return body


def decorate(body: dict[str, Any], etag: str) -> dict[str, Any]:
    """Add what ARM adds on the way out: the etag and provisioningState, on the resource and on its children."""
    decorate_child(body, etag)
    for collection in CHILD_LISTS:
        for child in body["properties"].get(collection) or []:
            if isinstance(child, dict):
                decorate_child(child, etag)
    return body


def render(snapshot: Snapshot, row: Row) -> dict[str, Any]:
    """The GET body of a stored resource (with back-references from the current topology)."""

    def build() -> dict[str, Any]:
        model = model_of(snapshot, row)
        if model is None:
            body = dict(row.body)
            body["etag"] = row.etag
            return body
        body = arm.to_arm(model, snapshot.topology)
        add_back_references(snapshot, model, body)
        add_defaults(model, body)
        return decorate(body, row.etag)

    return snapshot.rendered(row.key, build)


def add_back_references(snapshot: Snapshot, model: Resource, body: dict[str, Any]) -> None:
    """What ARM reports on a resource about those that use it: a route table's subnets, a subnet's NIC IP
    configurations, a NIC's VM, a public IP's IP configuration."""
    references = snapshot.references
    properties = body["properties"]
    if isinstance(model, RouteTable):
        subnets = references.subnets_by_route_table.get(model.key)
        if subnets:
            properties["subnets"] = [{"id": s} for s in subnets]
        else:  # no key at all, as ARM answers (the schema allows an array or nothing, never null)
            properties.pop("subnets", None)
    if isinstance(model, VirtualNetwork):
        for subnet in properties.get("subnets") or []:
            if isinstance(subnet, dict) and isinstance(subnet.get("id"), str):
                users = references.ip_configurations_by_subnet.get(id_key(subnet["id"]))
                if users:
                    subnet.setdefault("properties", {})["ipConfigurations"] = [{"id": u} for u in users]
    if isinstance(model, NetworkInterface) and model.virtual_machine is None:
        owner = references.virtual_machine_by_nic.get(model.key)
        if owner is not None:
            properties["virtualMachine"] = {"id": owner}
    if isinstance(model, PublicIpAddress) and model.ip_configuration is None:
        user = references.ip_configuration_by_public_ip.get(model.key)
        if user is not None:
            properties["ipConfiguration"] = {"id": user}


def add_defaults(model: Resource, body: dict[str, Any]) -> None:
    """What ARM answers for properties a request left out (export keeps only what was given, so files round-trip):
    a NIC IP configuration's allocation method, a public IP's allocation method, idle timeout and IP version."""
    properties = body["properties"]
    if isinstance(model, NetworkInterface):
        for configuration, rendered in zip(
            model.ip_configurations, properties.get("ipConfigurations") or [], strict=True
        ):
            rendered.setdefault("properties", {}).setdefault(
                "privateIPAllocationMethod", configuration.allocation_method.value
            )
    if isinstance(model, PublicIpAddress):
        properties.setdefault("publicIPAllocationMethod", model.allocation_method.value)
        properties.setdefault("idleTimeoutInMinutes", model.idle_timeout)
        properties.setdefault("publicIPAddressVersion", model.ip_version)


def model_of(snapshot: Snapshot, row: Row) -> Resource | None:
    return planning.model_in(snapshot.topology, row)


def lookup(snapshot: Snapshot, resource_id: str) -> dict[str, Any] | None:
    """The GET body of a stored resource or of a child inside one (rule, default rule, subnet, peering); None when
    there is none. Every successful GET goes through here (the gateway's fast path and the routes alike)."""
    row = snapshot.row(resource_id)
    if row is not None:
        return render(snapshot, row)
    child = ResourceId.parse(resource_id)
    if child is None or len(child.types) < 2 or child.types[-1].casefold() not in CHILD_KEYS:
        return None  # not a child resource (an operation's result, for one: asked for as often as verifies are)
    parent = snapshot.row(str(child.parent))
    if parent is None:
        return None
    items = render(snapshot, parent).get("properties", {}).get(CHILD_KEYS[child.types[-1].casefold()]) or []
    folded = child.name.casefold()
    return next((c for c in items if isinstance(c, dict) and str(c.get("name", "")).casefold() == folded), None)


def encoded_lookup(snapshot: Snapshot, resource_id: str) -> tuple[bytes, bytes | None] | None:
    """``lookup``'s answer as the gateway sends it (JSON bytes and the ETag header), encoded once per snapshot: a
    resource read again and again costs a dictionary probe, not a render and a JSON encoding."""

    def encode() -> tuple[bytes, bytes | None] | None:
        body = lookup(snapshot, resource_id)
        if body is None:
            return None
        etag = body.get("etag")
        return json.dumps(body).encode(), etag.encode() if isinstance(etag, str) else None

    return snapshot.encoded(resource_id, encode)  # the exact path: the answer of any other spelling is its own
