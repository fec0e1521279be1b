"""The state a write plans against and produces: resource groups, the models of a snapshot, the topology after
a change, and its validation as a whole (using the model's own checks, so nothing here re-implements NSG semantics)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opennsg import arm
from opennsg.api.catalog import STORED_COLLECTIONS, ModelKind
from opennsg.api.errors import ApiError, group_not_found, not_found
from opennsg.api.store import Row, Snapshot, kind_of
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import ResourceId, id_key, resource_group_id
from opennsg.model.resources import NetworkSecurityGroup, Resource
from opennsg.model.topology import Topology
from opennsg.model.validation import validate_nsg, validate_topology


def require_group(snapshot: Snapshot, subscription: str, group: str) -> Row:
    row = snapshot.row(resource_group_id(subscription, group))
    if row is None:
        raise group_not_found(group)
    return row


def parse_body(kind: str, body: Mapping[str, Any], resource_id: str) -> Any:
    try:
        return arm.parse_resource(kind, dict(body), resource_id)
    except OpenNsgError as error:
        raise ApiError.invalid(error) from None


def raise_invalid(errors: Iterable[ArmError]) -> None:
    problems = list(errors)
    if problems:
        raise ApiError.invalid(OpenNsgError(problems))


def current(topology: Topology, kind: ModelKind, resource_id: str) -> Resource | None:
    collection: Mapping[str, Resource] = getattr(topology, kind.collection)
    return collection.get(id_key(resource_id))


def replace_models(topology: Topology, *models: Resource, removed: Iterable[str] = ()) -> Topology:
    """The topology with these models put (by id) and the ``removed`` ids dropped, touching only their collections."""
    gone = {id_key(r) for r in removed}
    touched: dict[str, dict[str, Resource]] = {}
    for model in models:
        collection = kind_of(model).collection
        touched.setdefault(collection, dict(getattr(topology, collection)))[model.key] = model
    for key in gone:
        parsed = ResourceId.parse(key)
        if parsed is None:
            continue
        for kind_collection in STORED_COLLECTIONS:
            current: Mapping[str, Resource] = getattr(topology, kind_collection)
            if key in current:
                touched.setdefault(kind_collection, dict(current)).pop(key, None)
    if not touched:
        return topology
    return topology.with_(**{name: list(items.values()) for name, items in touched.items()})


def check_state(new: Topology, changed: Iterable[Resource], found: Iterable[ArmError] = ()) -> None:
    """Validate the resulting state: each changed NSG in full, and the references/limits of the whole topology;
    400 with those problems, else with the ones already ``found`` (a full subnet: ARM allocates only what it
    accepted, so an invalid request is refused for what it is, as the file loader refuses it)."""
    problems: list[ArmError] = []
    only_nsgs = True
    for model in changed:
        if isinstance(model, NetworkSecurityGroup):
            problems.extend(validate_nsg(model, new))
        else:
            only_nsgs = False
    if not only_nsgs:
        problems.extend(validate_topology(new))
    raise_invalid(problems or list(found))


def check_topology(new: Topology) -> None:
    """400 with every problem of the resulting state (nothing is written then)."""
    raise_invalid(validate_topology(new))


def missing(resource_id: str) -> ApiError:
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None
    return not_found(parsed.type, parsed.name, parsed.resource_group)


def model_in(topology: Topology, row: Row) -> Resource | None:
    for collection in STORED_COLLECTIONS:
        found: Resource | None = getattr(topology, collection).get(row.key)
        if found is not None:
            return found
    return None
