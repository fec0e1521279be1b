"""ARM resource ids: parsed, built and compared case-insensitively (ARM convention, semantics §7.7)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PROVIDER = "Microsoft.Network"
#: Namespace of the GUIDs derived for resources whose JSON gave none (flow logs and their targets name GUIDs).
GUID_NAMESPACE = uuid.UUID("6f0c2a44-27b3-4f7e-9d3e-0e5a4e3b9c11")


def id_key(resource_id: str) -> str:
    """The comparison key of an ARM id: ARM ids are case-insensitive and ignore a trailing slash."""
    return resource_id.strip().rstrip("/").casefold()


def is_fully_qualified_id(text: str) -> bool:
    """ARM's linked-id rule: a reference starts with ``/subscriptions/{subscriptionId}/`` or ``/providers/``."""
    parts = text.strip().split("/")
    if len(parts) < 3 or parts[0] != "":
        return False
    head = parts[1].casefold()
    return (head == "subscriptions" and bool(parts[2]) and len(parts) > 3) or (head == "providers" and bool(parts[2]))


@dataclass(frozen=True, slots=True)
class ResourceId:
    """A parsed ``/subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}[/{type}/{name}...]``."""

    subscription: str
    resource_group: str | None
    namespace: str | None
    types: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ResourceId | None:
        """Parse an ARM id; None when ``text`` is not shaped like one."""
        parts = [p for p in text.strip().split("/")]
        if len(parts) < 3 or parts[0] != "" or parts[1].casefold() != "subscriptions" or not parts[2]:
            return None
        parts = parts[1:]
        if parts and parts[-1] == "":
            parts = parts[:-1]
        subscription = parts[1]
        rest = parts[2:]
        group: str | None = None
        if len(rest) >= 2 and rest[0].casefold() == "resourcegroups":
            group, rest = rest[1], rest[2:]
        namespace: str | None = None
        if rest:
            if len(rest) < 2 or rest[0].casefold() != "providers":
                return None
            namespace, rest = rest[1], rest[2:]
        if len(rest) % 2:
            return None
        if any(not p for p in rest):
            return None
        return cls(subscription, group, namespace, tuple(rest[0::2]), tuple(rest[1::2]))

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else (self.resource_group or self.subscription)

    @property
    def type(self) -> str:
        """Full type, e.g. ``Microsoft.Network/networkSecurityGroups/securityRules``."""
        return "/".join([self.namespace or "", *self.types])

    @property
    def parent(self) -> ResourceId | None:
        if len(self.types) <= 1:
            return None
        return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])

    @property
    def top(self) -> ResourceId:
        """The top-level resource this one belongs to (a rule's NSG, a rule collection's network manager)."""
        return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:1], self.names[:1])

    def __str__(self) -> str:
        out = f"/subscriptions/{self.subscription}"
        if self.resource_group is not None:
            out += f"/resourceGroups/{self.resource_group}"
        if self.namespace is not None:
            out += f"/providers/{self.namespace}"
        for t, n in zip(self.types, self.names, strict=True):
            out += f"/{t}/{n}"
        return out


def resource_group_id(subscription: str, resource_group: str) -> str:
    """``/subscriptions/{s}/resourceGroups/{g}``."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def resource_id(subscription: str, resource_group: str, resource_type: str, *names: str) -> str:
    """Build an id as ARM's ``resourceId()`` does: ``resource_id(s, g, "Microsoft.Network/virtualNetworks/subnets",
    "vnet1", "default")`` (the type's namespace first, then one name per type segment)."""
    namespace, _, types = resource_type.strip("/").partition("/")
    segments = types.split("/")
    if not types or len(segments) != len(names):
        raise ValueError(f"{resource_type} takes {len(segments)} name(s), not {len(names)}")
    pairs = "/".join(f"{t}/{n}" for t, n in zip(segments, names, strict=True))
    return f"{resource_group_id(subscription, resource_group)}/providers/{namespace}/{pairs}"


def network_id(subscription: str, resource_group: str, *type_name_pairs: str) -> str:
    """Build a Microsoft.Network id: ``network_id(sub, rg, "networkSecurityGroups", "nsg1")``."""
    if len(type_name_pairs) % 2:
        raise ValueError("type/name pairs expected")
    return resource_id(
        subscription, resource_group, "/".join((PROVIDER, *type_name_pairs[0::2])), *type_name_pairs[1::2]
    )


def parent_id(resource_id: str) -> str:
    """The id of a child resource's parent (a subnet's VNet, a rule's NSG): the id less its last type/name pair,
    as written (casing kept; ``id_key`` it to compare)."""
    return resource_id.strip().rstrip("/").rsplit("/", 2)[0]


def name_of(resource_id: str) -> str:
    """The last segment of an id (the resource's own name)."""
    return resource_id.strip().rstrip("/").rsplit("/", 1)[-1]


def resource_guid(resource_id: str, given: str | None) -> str:
    """A resource's GUID: the one ARM gave, else a stable one derived from its id (case-insensitive)."""
    return given or str(uuid.uuid5(GUID_NAMESPACE, id_key(resource_id)))


def subscription_of(resource_id: str) -> str | None:
    """The subscription segment of an id (as written), or None when it names none. Looser than ``ResourceId.parse``
    on purpose: an id the parser refuses (``.../nsg1//``) still belongs to its subscription (for authorisation)."""
    parts = resource_id.strip().split("/")
    if len(parts) >= 3 and parts[0] == "" and parts[1].casefold() == "subscriptions" and parts[2]:
        return parts[2]
    return None


def resource_group_scope(resource_id: str) -> str | None:
    """The ``/subscriptions/{s}/resourceGroups/{g}`` an id lives in (as written), or None when it names none."""
    parsed = ResourceId.parse(resource_id)
    if parsed is None or parsed.resource_group is None:
        return None
    return resource_group_id(parsed.subscription, parsed.resource_group)


def management_group_id(name_or_id: str) -> str:
    """A management group id from its name or id (ARM ids look like
    ``/providers/Microsoft.Management/managementGroups/{name}``)."""
    text = name_or_id.strip().rstrip("/")
    return text if text.startswith("/") else f"/providers/Microsoft.Management/managementGroups/{text}"


def subscription_scope_id(name_or_id: str) -> str:
    """``/subscriptions/{s}`` from a subscription id or a scope id."""
    text = name_or_id.strip().rstrip("/")
    return text if text.startswith("/") else f"/subscriptions/{text}"


def subscription_of_scope(scope_id: str) -> str:
    """The subscription GUID of a ``/subscriptions/{s}`` scope."""
    return name_of(scope_id)
