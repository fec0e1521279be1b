"""Reading a request body into a model: ARM's read-only fields (child ids, ``resourceGuid``), the immutable
location and the tags object."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

from opennsg.api.errors import ApiError
from opennsg.api.planning.state import parse_body
from opennsg.api.store import Document
from opennsg.arm.parse.reader import bound_text
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup, Resource, VirtualNetwork
from opennsg.model.validation import Code

R = TypeVar("R", bound=Resource)


def check_location(body: Mapping[str, Any], existing: Resource | Document | None) -> None:
    """A location is required on create and immutable afterwards (semantics §7.1)."""
    given = body.get("location")
    if existing is None:
        if not isinstance(given, str) or not given.strip():
            raise ApiError(400, Code.LOCATION_REQUIRED, "The location property is required for this definition.")
        return
    old = existing.location if isinstance(existing, Resource) else str(existing.body.get("location", ""))
    given = bound_text(given)  # as the resource is read: ``true`` is the location "true", not no location
    if given is not None and old and given.replace(" ", "").casefold() != old.replace(" ", "").casefold():
        raise ApiError(
            400,
            Code.INVALID_RESOURCE_LOCATION,
            f"The resource already exists in location '{old}'. A resource with the same name cannot be created "
            f"in location '{given}'.",
        )


def keep_guid(model: R, existing: Resource | None) -> R:
    """``resourceGuid`` is read-only: assigned on create, kept across updates."""
    if not hasattr(model, "resource_guid"):
        return model
    guid = getattr(existing, "resource_guid", None) or getattr(model, "resource_guid", None) or str(uuid.uuid4())
    changes: dict[str, Any] = {"resource_guid": guid}
    return dataclasses.replace(model, **changes)


#: Children held inside a resource's body: (attribute, URL segment). Their ids are read-only, derived from the
#: parent's id and the child's name (an id given in the body could name another resource, even in another
#: subscription).
NESTED_CHILDREN: dict[type, tuple[tuple[str, str], ...]] = {
    NetworkSecurityGroup: (("security_rules", "securityRules"),),
    VirtualNetwork: (("subnets", "subnets"), ("peerings", "virtualNetworkPeerings")),
    NetworkInterface: (("ip_configurations", "ipConfigurations"),),
}


def with_child_ids(model: Resource) -> Resource:
    changes: dict[str, Any] = {}
    for attribute, segment in NESTED_CHILDREN.get(type(model), ()):
        children = getattr(model, attribute)
        changes[attribute] = tuple(
            dataclasses.replace(child, id=f"{model.id}/{segment}/{child.name}") for child in children
        )
    return dataclasses.replace(model, **changes) if changes else model


def tags_of(body: Mapping[str, Any]) -> dict[str, str]:
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        message = "Cannot parse the request: 'tags' must map strings to strings."
        raise ApiError(400, Code.INVALID_REQUEST_FORMAT, message)
    return dict(tags)


def parse_model(kind: str, body: Mapping[str, Any], resource_id: str) -> Resource:
    """A PUT body as a model value; 400 with every problem when it cannot be read."""
    model = parse_body(kind, body, resource_id)
    assert isinstance(model, Resource)
    return model
