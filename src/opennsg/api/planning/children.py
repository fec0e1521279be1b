"""Child resources stored inside their parent (security rules, subnets, peerings, routes): the parent is
re-validated as a whole."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opennsg.api.catalog import ModelKind
from opennsg.api.errors import bad_request
from opennsg.api.linked import Caller, authorize_references
from opennsg.api.planning.conditions import Preconditions
from opennsg.api.planning.flowlogs import without_orphaned_flow_logs
from opennsg.api.planning.in_use import refuse_subnets_in_use
from opennsg.api.planning.peerings import with_synced_peerings
from opennsg.api.planning.state import check_state, current, missing, parse_body, replace_models, require_group
from opennsg.api.store import Change, Snapshot
from opennsg.arm.keys import lookup as arm_lookup
from opennsg.model.ids import ResourceId
from opennsg.model.resources import Resource, Subnet, VirtualNetwork


def parent_of(snapshot: Snapshot, kind: ModelKind, parent_id: str) -> Resource:
    parsed = ResourceId.parse(parent_id)
    assert parsed is not None and parsed.resource_group is not None
    require_group(snapshot, parsed.subscription, parsed.resource_group)
    parent = current(snapshot.topology, kind, parent_id)
    if parent is None:
        raise missing(parent_id)
    return parent


def _children(parent: Resource, collection: str) -> tuple[Any, ...]:
    items: tuple[Any, ...] = getattr(parent, collection)
    return items


def _put_child(items: tuple[Any, ...], child: Any) -> tuple[tuple[Any, ...], bool]:
    folded = child.name.casefold()
    for i, item in enumerate(items):
        if item.name.casefold() == folded:
            return (*items[:i], dataclasses.replace(child, name=item.name), *items[i + 1 :]), False
    return (*items, child), True


def put_child(
    snapshot: Snapshot,
    kind: ModelKind,
    parent_id: str,
    collection: str,
    arm_kind: str,
    name: str,
    body: Mapping[str, Any],
    conditions: Preconditions,
    caller: Caller,
) -> Change[bool]:
    """PUT of a security rule, subnet, peering or route: the parent is re-validated as a whole."""
    given = arm_lookup(body, "name")
    if isinstance(given, str) and given.casefold() != name.casefold():
        raise bad_request(
            f"The resource name '{given}' in the request body does not match the name '{name}' in the request URI."
        )
    parent = parent_of(snapshot, kind, parent_id)
    items = _children(parent, collection)
    existing = next((c for c in items if c.name.casefold() == name.casefold()), None)
    conditions.check(snapshot.rows[parent.key].etag if existing is not None else None)
    segment = {
        "security_rules": "securityRules",
        "subnets": "subnets",
        "peerings": "virtualNetworkPeerings",
        "routes": "routes",
    }[collection]
    child_id = f"{parent.id}/{segment}/{existing.name if existing else name}"
    child = dataclasses.replace(parse_body(arm_kind, body, child_id), name=existing.name if existing else name)
    authorize_references(caller, child, existing, f"{kind.type}/{segment}/write", child_id)
    if isinstance(child, Subnet) and isinstance(existing, Subnet) and child.default_outbound_access is None:
        child = dataclasses.replace(child, default_outbound_access=existing.default_outbound_access)
    new_items, created = _put_child(items, child)
    model = dataclasses.replace(parent, **{collection: new_items})  # type: ignore[arg-type]
    topology = snapshot.topology
    models: list[Resource] = [model]
    new = replace_models(topology, model)
    if isinstance(model, VirtualNetwork):
        new, models = with_synced_peerings(new, topology, models)
    check_state(new, models)
    return Change(put=tuple(models), topology=new, result=created)


def delete_child(snapshot: Snapshot, kind: ModelKind, parent_id: str, collection: str, name: str) -> Change[bool]:
    parent = parent_of(snapshot, kind, parent_id)
    items = _children(parent, collection)
    existing = next((c for c in items if c.name.casefold() == name.casefold()), None)
    if existing is None:
        return Change(result=False)
    if isinstance(existing, Subnet):
        refuse_subnets_in_use(snapshot.topology, [existing])
    model = dataclasses.replace(parent, **{collection: tuple(c for c in items if c is not existing)})  # type: ignore[arg-type]
    topology = snapshot.topology
    models: list[Resource] = [model]
    new = replace_models(topology, model)
    if isinstance(model, VirtualNetwork):
        new, models = with_synced_peerings(new, topology, models)
    new, orphans = without_orphaned_flow_logs(new, topology)
    return Change(put=tuple(models), delete=orphans, topology=new, result=True)
