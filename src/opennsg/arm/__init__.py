"""The ARM JSON edge: all the JSON users have in (``load_paths``, ``load_documents``, ``parse_resource``), and out.

Each name is imported from its module on first use: a command that needs only one part (a cached load needs none)
does not pay for the template language or the exporter."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opennsg.arm.export import export_topology, to_arm
    from opennsg.arm.loader import load_documents, load_paths
    from opennsg.arm.parse import KIND_TYPES, ArmResource, parse_resource
    from opennsg.arm.template import TEMPLATE_LOCATION, TEMPLATE_RESOURCE_GROUP, TEMPLATE_SUBSCRIPTION_ID

_MODULE_OF = {
    "export_topology": "opennsg.arm.export",
    "to_arm": "opennsg.arm.export",
    "load_documents": "opennsg.arm.loader",
    "load_paths": "opennsg.arm.loader",
    "KIND_TYPES": "opennsg.arm.parse",
    "ArmResource": "opennsg.arm.parse",
    "parse_resource": "opennsg.arm.parse",
    "TEMPLATE_LOCATION": "opennsg.arm.template",
    "TEMPLATE_RESOURCE_GROUP": "opennsg.arm.template",
    "TEMPLATE_SUBSCRIPTION_ID": "opennsg.arm.template",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "KIND_TYPES",
    "TEMPLATE_LOCATION",
    "TEMPLATE_RESOURCE_GROUP",
    "TEMPLATE_SUBSCRIPTION_ID",
    "ArmResource",
    "export_topology",
    "load_documents",
    "load_paths",
    "parse_resource",
    "to_arm",
]
