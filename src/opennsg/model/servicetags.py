"""Azure's downloadable "Service Tags – Public" JSON (semantics §4.4), loaded into immutable values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import InputError, read_json_file


@dataclass(frozen=True, slots=True)
class ServiceTag:
    name: str
    address_prefixes: tuple[str, ...]
    network_features: tuple[str, ...] = ()
    region: str = ""
    system_service: str = ""
    change_number: int = 0

    @property
    def usable_in_nsg(self) -> bool:
        return any(f.casefold() == "nsg" for f in self.network_features)


@dataclass(frozen=True)
class ServiceTags:
    """A service tags file: tags by case-folded name (tag names are case-insensitive, semantics §4.3)."""

    tags: Mapping[str, ServiceTag]
    change_number: int = 0
    cloud: str = "Public"
    source: str | None = None

    @classmethod
    def of(cls, tags: Iterable[ServiceTag], change_number: int = 0, cloud: str = "Public") -> ServiceTags:
        return cls(MappingProxyType({t.name.casefold(): t for t in tags}), change_number, cloud)

    def get(self, name: str) -> ServiceTag | None:
        return self.tags.get(name.strip().casefold())

    def nsg_tag(self, name: str) -> ServiceTag | None:
        """The tag if it exists and may be used in NSG rules (``networkFeatures`` contains ``NSG``)."""
        tag = self.get(name)
        return tag if tag is not None and tag.usable_in_nsg else None

    @classmethod
    def from_json(cls, data: Any, source: str | None = None) -> ServiceTags:
        where = source or "service tags"
        if not isinstance(data, dict) or not isinstance(data.get("values"), list):
            raise OpenNsgError(
                [ArmError(Code.INVALID_SERVICE_TAGS_FILE, f"{where}: expected an object with a 'values' array.")]
            )
        tags: list[ServiceTag] = []
        problems: list[ArmError] = []
        for i, entry in enumerate(data["values"]):
            props = entry.get("properties") if isinstance(entry, dict) else None
            name = entry.get("name") or entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not isinstance(props, dict):
                problems.append(
                    ArmError(Code.INVALID_SERVICE_TAGS_FILE, f"{where}: values[{i}] needs 'name' and 'properties'.")
                )
                continue
            prefixes = props.get("addressPrefixes") or []
            features = props.get("networkFeatures") or []
            if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
                problems.append(
                    ArmError(Code.INVALID_SERVICE_TAGS_FILE, f"{where}: values[{i}].properties.addressPrefixes.")
                )
                continue
            tags.append(
                ServiceTag(
                    name=name,
                    address_prefixes=tuple(prefixes),
                    network_features=tuple(str(f) for f in features) if isinstance(features, list) else (),
                    region=str(props.get("region") or ""),
                    system_service=str(props.get("systemService") or ""),
                    change_number=int(props.get("changeNumber") or 0),
                )
            )
        if problems:
            raise OpenNsgError(problems)
        out = cls.of(tags, int(data.get("changeNumber") or 0), str(data.get("cloud") or "Public"))
        return ServiceTags(out.tags, out.change_number, out.cloud, source)

    @classmethod
    def load(cls, path: str | Path) -> ServiceTags:
        p = Path(path)
        try:
            data = read_json_file(p)
        except InputError as exc:
            if exc.missing:
                raise OpenNsgError([ArmError(Code.FILE_NOT_FOUND, f"Service tags file {p} does not exist.")]) from None
            raise OpenNsgError([ArmError(Code.INVALID_JSON, f"Service tags file {exc}.", str(p))]) from None
        return cls.from_json(data, str(p))

    def to_json(self) -> dict[str, Any]:
        return {
            "changeNumber": self.change_number,
            "cloud": self.cloud,
            "values": [
                {
                    "name": t.name,
                    "id": t.name,
                    "properties": {
                        "changeNumber": t.change_number,
                        "region": t.region,
                        "regionId": 0,
                        "platform": "Azure",
                        "systemService": t.system_service,
                        "addressPrefixes": list(t.address_prefixes),
                        "networkFeatures": list(t.network_features),
                    },
                }
                for t in self.tags.values()
            ],
        }


@dataclass(frozen=True, slots=True)
class TagChange:
    """One tag present in both files whose prefixes differ."""

    name: str
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceTagsDiff:
    """What changed between two service tags files: whole tags added or removed, and prefix changes per tag."""

    old_change_number: int
    new_change_number: int
    added_tags: tuple[ServiceTag, ...]
    removed_tags: tuple[ServiceTag, ...]
    changed_tags: tuple[TagChange, ...]

    @property
    def empty(self) -> bool:
        return not (self.added_tags or self.removed_tags or self.changed_tags)


def compare(old: ServiceTags, new: ServiceTags) -> ServiceTagsDiff:
    """Tags and prefixes added and removed from ``old`` to ``new`` (tag names compare case-insensitively)."""
    changed = []
    for key in sorted(old.tags.keys() & new.tags.keys()):
        before, after = set(old.tags[key].address_prefixes), set(new.tags[key].address_prefixes)
        if before != after:
            changed.append(TagChange(new.tags[key].name, tuple(sorted(after - before)), tuple(sorted(before - after))))
    return ServiceTagsDiff(
        old_change_number=old.change_number,
        new_change_number=new.change_number,
        added_tags=tuple(new.tags[k] for k in sorted(new.tags.keys() - old.tags.keys())),
        removed_tags=tuple(old.tags[k] for k in sorted(old.tags.keys() - new.tags.keys())),
        changed_tags=tuple(changed),
    )
