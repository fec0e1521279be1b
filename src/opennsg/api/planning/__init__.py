"""Write planning: each function turns a request into a ``Change`` against a snapshot, or raises ApiError.

The RESULTING state is what gets validated (an NSG PUT replaces its rules; a rule PUT is checked against the whole
NSG; a subnet association needs the NSG to exist), using the model's own validation; nothing here re-implements
NSG semantics. What is ARM's own bookkeeping lives here, one concern per module: preconditions (``conditions``),
reading bodies and read-only fields (``bodies``), the resulting state (``state``), allocated addresses
(``addresses``), peering states (``peerings``), flow logs that follow their targets (``flowlogs``), refusing to
delete what is still in use (``in_use``), and the writes themselves (``top_level``, ``children``, ``documents``,
``imports``).
"""

from opennsg.api.planning.bodies import keep_guid, parse_model
from opennsg.api.planning.children import delete_child, parent_of, put_child
from opennsg.api.planning.conditions import Preconditions
from opennsg.api.planning.documents import delete_document, delete_group, patch_document_tags, put_document
from opennsg.api.planning.flowlogs import flow_log_selection_problems, orphaned_flow_logs
from opennsg.api.planning.imports import import_topology
from opennsg.api.planning.peerings import sync_peerings
from opennsg.api.planning.state import check_topology, model_in, replace_models, require_group
from opennsg.api.planning.top_level import (
    delete_resource,
    delete_resource_tree,
    patch_tags,
    put_resource,
    with_outbound_access_defaults,
)

__all__ = [
    "Preconditions",
    "check_topology",
    "delete_child",
    "delete_document",
    "delete_group",
    "delete_resource",
    "delete_resource_tree",
    "flow_log_selection_problems",
    "import_topology",
    "keep_guid",
    "model_in",
    "orphaned_flow_logs",
    "parent_of",
    "parse_model",
    "patch_document_tags",
    "patch_tags",
    "put_child",
    "put_document",
    "put_resource",
    "replace_models",
    "require_group",
    "sync_peerings",
    "with_outbound_access_defaults",
]
