"""Bulk import (``opennsg serve --import``): a whole topology put at once, validated as a whole."""

from __future__ import annotations

from opennsg import arm
from opennsg.api.catalog import NETWORK_WATCHER_TYPE, RESOURCE_GROUP_TYPE, SUBSCRIPTION_TYPE
from opennsg.api.planning.addresses import with_imported_dynamic_addresses
from opennsg.api.planning.flowlogs import flow_log_selection_problems
from opennsg.api.planning.peerings import with_synced_peerings
from opennsg.api.planning.state import raise_invalid, replace_models
from opennsg.api.store import Change, Document, Snapshot
from opennsg.model.ids import ResourceId, id_key, name_of, resource_group_id, subscription_scope_id
from opennsg.model.resources import Resource
from opennsg.model.topology import Topology
from opennsg.model.validation import validate_topology


def import_topology(snapshot: Snapshot, imported: Topology) -> Change[int]:
    """Put every resource of an imported topology at once (``opennsg serve --import``), creating missing resource
    groups; the merged state is validated as a whole, so nothing is stored when anything is invalid.
    Result: the number of resources written."""
    models: list[Resource] = [
        *imported.asgs.values(),
        *imported.nsgs.values(),
        *imported.route_tables.values(),
        *imported.public_ips.values(),
        *imported.vnets.values(),
        *imported.nics.values(),
        *imported.vms.values(),
        *imported.nat_gateways.values(),
        *imported.private_endpoints.values(),
        *imported.flow_logs.values(),
    ]
    groups: dict[str, Document] = {}
    for model in models:
        parsed = ResourceId.parse(model.id)
        if parsed is None or parsed.resource_group is None:
            continue
        rg_id = resource_group_id(parsed.subscription, parsed.resource_group)
        if snapshot.row(rg_id) is None and id_key(rg_id) not in groups:
            body = {
                "id": rg_id,
                "name": parsed.resource_group,
                "type": RESOURCE_GROUP_TYPE,
                "location": model.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            }
            groups[id_key(rg_id)] = Document(rg_id, RESOURCE_GROUP_TYPE, body)
    watchers: dict[str, Document] = {}
    for flow_log in imported.flow_logs.values():  # a flow log lives under its network watcher
        watcher = flow_log.network_watcher_id
        if snapshot.row(watcher) is None and id_key(watcher) not in watchers:
            body = {
                "id": watcher,
                "name": name_of(watcher),
                "type": NETWORK_WATCHER_TYPE,
                "location": flow_log.location,
                "tags": {},
                "properties": {"provisioningState": "Succeeded"},
            }
            watchers[id_key(watcher)] = Document(watcher, NETWORK_WATCHER_TYPE, body)
    subscriptions = [
        Document(subscription_scope_id(sub.subscription_id), SUBSCRIPTION_TYPE, arm.to_arm(sub))
        for sub in imported.subscriptions.values()
    ]
    new = replace_models(snapshot.topology, *models).with_(
        subscriptions=[*snapshot.topology.subscriptions.values(), *imported.subscriptions.values()]
    )
    new, models, full_subnets = with_imported_dynamic_addresses(new, snapshot.topology, models)
    new, models = with_synced_peerings(new, snapshot.topology, models)
    raise_invalid([*full_subnets, *validate_topology(new), *flow_log_selection_problems(imported.flow_logs.values())])
    return Change(
        put=(*groups.values(), *watchers.values(), *subscriptions, *models),
        topology=new,
        result=len(models) + len(subscriptions),
    )
