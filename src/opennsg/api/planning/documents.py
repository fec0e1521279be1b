"""Documents: resources the model does not know (resource groups, network watchers), stored as given with ARM's
read-only fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.api.catalog import RESOURCE_GROUP_TYPE
from opennsg.api.planning.bodies import check_location, tags_of
from opennsg.api.planning.conditions import Preconditions
from opennsg.api.planning.state import missing, model_in, raise_invalid, replace_models
from opennsg.api.planning.top_level import delete_models
from opennsg.api.store import Change, Document, Snapshot
from opennsg.model.ids import name_of, resource_group_id
from opennsg.model.resources import Resource
from opennsg.model.validation import tag_problems


def put_document(
    snapshot: Snapshot, resource_id: str, resource_type: str, body: dict[str, Any], conditions: Preconditions
) -> Change[bool]:
    """PUT of a resource the model does not know: stored as given, with ARM's read-only fields."""
    row = snapshot.row(resource_id)
    conditions.check(row.etag if row else None)
    existing = Document(row.id, row.type, row.body) if row else None
    check_location(body, existing)
    stored_id = row.id if row else resource_id
    raise_invalid(tag_problems(stored_id, tags_of(body)))
    document = {
        "id": stored_id,
        "name": name_of(stored_id),
        "type": resource_type,
        "location": body["location"] if "location" in body else (existing.body.get("location") if existing else ""),
        "tags": body.get("tags") or {},
        "properties": {"provisioningState": "Succeeded"},
    }
    if resource_type == RESOURCE_GROUP_TYPE:
        managed_by = body.get("managedBy")
        if isinstance(managed_by, str):
            document["managedBy"] = managed_by
    return Change(put=(Document(stored_id, resource_type, document),), result=row is None)


def patch_document_tags(
    snapshot: Snapshot, resource_id: str, body: Mapping[str, Any], conditions: Preconditions
) -> Change[bool]:
    """PATCH of a resource group or network watcher: the tags are replaced when given, the rest is kept."""
    row = snapshot.row(resource_id)
    if row is None:
        raise missing(resource_id)
    kept = {k: v for k, v in row.body.items() if k in ("location", "tags", "managedBy")}
    if "tags" in body:
        kept["tags"] = tags_of(body)
    return put_document(snapshot, resource_id, row.type, kept, conditions)


def delete_group(snapshot: Snapshot, subscription: str, group: str) -> Change[bool]:
    """Deleting a resource group deletes everything in it, unless something outside still uses it."""
    row = snapshot.row(resource_group_id(subscription, group))
    if row is None:
        return Change(result=False)
    group_key = group.casefold()
    models: list[Resource] = []
    documents: list[str] = [row.id]
    for stored in snapshot.rows.values():
        if stored.key == row.key or stored.parsed.subscription.casefold() != subscription.casefold():
            continue
        if stored.group_key != group_key:
            continue
        model = model_in(snapshot.topology, stored)
        if model is not None:
            models.append(model)
        else:
            documents.append(stored.id)
    return delete_models(snapshot, models, documents)


def delete_document(snapshot: Snapshot, resource_id: str) -> Change[bool]:
    """DELETE of a resource the model does not know, with the modelled children stored under it (a network
    watcher's flow logs)."""
    row = snapshot.row(resource_id)
    if row is None:
        return Change(result=False)
    prefix = row.key + "/"
    children = [r.id for r in snapshot.rows.values() if r.key.startswith(prefix)]
    if not children:
        return Change(delete=(row.id,), result=True)
    return Change(delete=(row.id, *children), topology=replace_models(snapshot.topology, removed=children), result=True)
