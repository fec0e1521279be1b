"""The ARM JSON edge: all the JSON users have in (``load_paths``, ``load_documents``, ``parse_resource``), and out."""

from opennsg.arm.export import export_topology, to_arm
from opennsg.arm.loader import load_documents, load_paths
from opennsg.arm.parse import KIND_TYPES, ArmResource, parse_resource
from opennsg.arm.template import TEMPLATE_LOCATION, TEMPLATE_RESOURCE_GROUP, TEMPLATE_SUBSCRIPTION_ID

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
