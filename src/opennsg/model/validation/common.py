"""What every group of checks shares: findings, names, tags usable in rules, dangling references."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from opennsg.model.errors import ArmError
from opennsg.model.ids import is_fully_qualified_id
from opennsg.model.policy import (
    MAX_NAME_LENGTH,
    MAX_TAG_NAME_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MAX_TAGS_PER_RESOURCE,
    NAME_PATTERN,
    TAG_NAME_RESERVED_CHARACTERS,
)
from opennsg.model.servicetags import ServiceTags
from opennsg.model.tags import builtin_tag, unpublished_service_tag
from opennsg.model.validation.codes import Code, Message

_NAME_RE = re.compile(NAME_PATTERN)
#: Spelt like a service tag (``Storage``, ``Sql.WestEurope``): the shape refused values are checked against.
TAG_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")


def canonical_tag(text: str, service_tags: ServiceTags | None) -> str | None:
    """The canonical name of a tag usable in an NSG rule (built-in, classic spelling, NSG-enabled in the service tags
    file, or one Azure accepts without publishing it), else None."""
    builtin = builtin_tag(text)
    if builtin is not None:
        return builtin
    tag = service_tags.nsg_tag(text.strip().casefold()) if service_tags is not None else None
    return tag.name if tag is not None else unpublished_service_tag(text)


def is_known_tag(text: str, service_tags: ServiceTags | None) -> bool:
    """True for any tag name, usable in NSGs or not (to tell "a tag in the wrong field" from garbage)."""
    folded = text.strip().casefold()
    return (
        canonical_tag(text, service_tags) is not None
        or (service_tags is not None and service_tags.get(folded) is not None)
        or folded == "*"
    )


def is_valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and _NAME_RE.match(name) is not None


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem located in one resource: ``error.target`` is the path inside that resource's ARM JSON."""

    resource_id: str
    error: ArmError


Problem = tuple[str, str, str | None]  # code, message, field path inside the resource (or the rule)


def reference(referrer: str, referenced: str | None, exists: bool, resource_id: str, target: str) -> Iterable[Finding]:
    """A reference from ``referrer`` (inside ``resource_id``'s JSON at ``target``) that is not an ARM id, or that
    names nothing."""
    if referenced and not is_fully_qualified_id(referenced):
        message = Message.LINKED_INVALID_PROPERTY_ID.format(value=referenced, path=target)
        return [Finding(resource_id, ArmError(Code.LINKED_INVALID_PROPERTY_ID, message, target))]
    if referenced and not exists:
        message = Message.INVALID_REFERENCE.format(referenced=referenced, referrer=referrer)
        return [Finding(resource_id, ArmError(Code.INVALID_REFERENCE, message, target))]
    return []


def name_finding(resource_id: str, name: str) -> Iterator[Finding]:
    if not is_valid_name(name):
        message = Message.INVALID_NAME.format(name=name, max_length=MAX_NAME_LENGTH)
        yield Finding(resource_id, ArmError(Code.INVALID_NAME, message, "name"))


def _shown(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tag_problems(resource_id: str, tags: Mapping[str, str]) -> list[ArmError]:
    """ARM's limits on a resource's tags: how many, how long each name and value, no reserved characters in names.
    Used for every resource, resource groups and network watchers included."""
    problems: list[ArmError] = []
    if len(tags) > MAX_TAGS_PER_RESOURCE:
        message = Message.INVALID_TAG_COUNT.format(
            resource_id=resource_id, count=len(tags), limit=MAX_TAGS_PER_RESOURCE
        )
        problems.append(ArmError(Code.INVALID_TAG_COUNT, message, "tags"))
    reserved = [
        name for name in tags if any(c in TAG_NAME_RESERVED_CHARACTERS or ord(c) < 32 or ord(c) == 127 for c in name)
    ]
    if reserved:
        names = ",".join(_shown(name) for name in reserved)
        message = Message.INVALID_TAG_NAME_CHARACTERS.format(names=names, resource_id=resource_id)
        problems.append(ArmError(Code.INVALID_TAG_NAME_CHARACTERS, message, "tags"))
    for name, value in tags.items():
        if len(name) > MAX_TAG_NAME_LENGTH:
            message = Message.INVALID_TAG_NAME.format(
                name=_shown(name), resource_id=resource_id, length=len(name), limit=MAX_TAG_NAME_LENGTH
            )
            problems.append(ArmError(Code.INVALID_TAG_NAME, message, "tags"))
        if len(value) > MAX_TAG_VALUE_LENGTH:
            message = Message.INVALID_TAG_VALUE_LENGTH.format(
                name=_shown(name), resource_id=resource_id, length=len(value), limit=MAX_TAG_VALUE_LENGTH
            )
            problems.append(ArmError(Code.INVALID_TAG_VALUE_LENGTH, message, "tags"))
    return problems


def tag_findings(resource_id: str, tags: Mapping[str, str]) -> Iterator[Finding]:
    yield from (Finding(resource_id, problem) for problem in tag_problems(resource_id, tags))
