"""A network watcher's flow logs (``…/networkWatchers/{nw}/flowLogs/{name}``, semantics §9): PUT, GET, PATCH (tags),
DELETE and list, as ARM answers them; and the watcher's per-target actions over the same resources,
``configureFlowLog`` and ``queryFlowLogStatus``.

A flow log is a model value (``opennsg.model.flowlog.FlowLog``) stored one row each under its watcher (a document
the model does not know) and validated with the whole topology on every write: its target must be an existing NSG,
VNet, subnet or NIC (and readable by the caller: ``linked.REFERENCE_FIELDS``), its filter and record types must
parse (``opennsg.flowlogs.filtering``). Creating a flow log on an NSG is refused as Azure refuses it since
2025-06-30 (``NsgFlowLogCreationBlocked``); an NSG flow log that already exists (imported) may still be updated.
PUT and DELETE are long-running as in Azure: 201/200 with ``Azure-AsyncOperation``, 202 with ``Location``; the work
is done when they answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from opennsg.api import planning
from opennsg.api.catalog import FLOW_LOG_KIND, NETWORK_WATCHER_TYPE
from opennsg.api.errors import ApiError, not_found
from opennsg.api.gateway import caller_of
from opennsg.api.http import check_subscription, json_body
from opennsg.api.linked import FLOW_LOG_TARGET_READ, Caller, authorize_references, authorize_target
from opennsg.api.lro import StoredChild, accepted, install_child_routes
from opennsg.api.schemas import request_body
from opennsg.api.store import Change, Row, Snapshot, Store
from opennsg.arm.export import flow_log_to_arm
from opennsg.arm.keys import lookup as arm_lookup
from opennsg.model.errors import OpenNsgError
from opennsg.model.flowlog import FLOW_LOG_TYPE, FlowLog, TargetKind
from opennsg.model.ids import ResourceId, id_key, name_of, network_id
from opennsg.model.validation import Code, Message, validate_topology
from opennsg.model.validation.flowlog import same_region

WATCHERS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/networkWatchers"
)


def watcher_id(subscription: str, group: str, watcher: str) -> str:
    check_subscription(subscription)
    return network_id(subscription, group, "networkWatchers", watcher)


def require_watcher(snapshot: Snapshot, subscription: str, group: str, watcher: str) -> Row:
    """The watcher's row, or 404 for its resource group or for it."""
    planning.require_group(snapshot, subscription, group)
    row = snapshot.row(watcher_id(subscription, group, watcher))
    if row is None:
        raise not_found(NETWORK_WATCHER_TYPE, watcher, group)
    return row


def _location(body: Mapping[str, Any], existing: FlowLog | None, watcher: Row, flow_log_id: str) -> str:
    """A flow log's location: given (its watcher's region), else the one it has, else its watcher's; immutable once
    created."""
    given = arm_lookup(body, "location")
    if existing is not None and existing.location:
        if isinstance(given, str) and not same_region(given, existing.location):
            raise ApiError(
                400,
                Code.INVALID_RESOURCE_LOCATION,
                f"The resource already exists in location '{existing.location}'. A resource with the same name "
                f"cannot be created in location '{given}'.",
            )
        return existing.location
    region = str(watcher.body.get("location", ""))
    if isinstance(given, str) and given.strip():
        if region and not same_region(given, region):
            message = Message.FLOW_LOG_WATCHER_REGION.format(
                flow_log_id=flow_log_id, region=given, watcher_id=watcher.id, watcher_region=region
            )
            raise ApiError(400, Code.FLOW_LOG_REGION_MISMATCH, message)
        return given
    return region


def creates_nsg_flow_log(model: FlowLog, existing: FlowLog | None) -> bool:
    """Whether this write makes a flow log record an NSG it did not record before: a new NSG flow log (refused
    since 2025-06-30). Changing the settings of an NSG flow log that exists is still allowed."""
    if not model.is_nsg_flow_log:
        return False
    return existing is None or existing.target_key != model.target_key


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """The flow log a request names: subscription, resource group, watcher and flow-log name (from the URL)."""

    subscription: str
    group: str
    watcher: str
    name: str

    @property
    def id(self) -> str:
        return f"{watcher_id(self.subscription, self.group, self.watcher)}/flowLogs/{self.name}"


def put_flow_log(
    snapshot: Snapshot, where: Where, body: Mapping[str, Any], conditions: planning.Preconditions, caller: Caller
) -> Change[bool]:
    """PUT of a flow log (create or replace). Result: whether it was created."""
    watcher = require_watcher(snapshot, where.subscription, where.group, where.watcher)
    topology = snapshot.topology
    existing = topology.flow_log(where.id)
    row = snapshot.row(where.id)
    conditions.check(row.etag if row else None)
    stored_id = existing.id if existing else f"{watcher.id}/flowLogs/{where.name}"
    model = planning.parse_model(FLOW_LOG_KIND.arm_kind, body, stored_id)
    assert isinstance(model, FlowLog)
    model = dataclasses.replace(
        model, id=stored_id, name=name_of(stored_id), location=_location(body, existing, watcher, stored_id)
    )
    authorize_references(caller, model, existing, f"{FLOW_LOG_TYPE}/write", stored_id)
    if creates_nsg_flow_log(model, existing):
        raise ApiError(400, Code.NSG_FLOW_LOG_CREATION_BLOCKED, Message.NSG_FLOW_LOG_CREATION_BLOCKED)
    new = planning.replace_models(topology, model)
    problems = [*validate_topology(new), *planning.flow_log_selection_problems([model])]
    if problems:
        raise ApiError.invalid(OpenNsgError(problems))
    return Change(put=(model,), topology=new, result=existing is None)


def delete_flow_log(snapshot: Snapshot, where: Where, conditions: planning.Preconditions) -> Change[bool]:
    """DELETE of a flow log. Result: whether it existed (a missing watcher or group is a 404)."""
    require_watcher(snapshot, where.subscription, where.group, where.watcher)
    existing = snapshot.topology.flow_log(where.id)
    row = snapshot.row(where.id)
    conditions.check(row.etag if row is not None and existing is not None else None)
    if existing is None:
        return Change(result=False)
    return planning.delete_resource(snapshot, FLOW_LOG_KIND, existing.id)


# --- the older per-target actions: configureFlowLog and queryFlowLogStatus -------------------------------------


def flow_log_information(flow_log: FlowLog | None, target: str) -> dict[str, Any]:
    """``FlowLogInformation``: a target's flow-log settings, as configureFlowLog and queryFlowLogStatus answer them
    (a target without a flow log: not enabled, no storage)."""
    if flow_log is None:
        return {"targetResourceId": target, "properties": {"storageId": "", "enabled": False}}
    body = flow_log_to_arm(flow_log)
    given = body["properties"]
    properties = {name: given[name] for name in _INFORMATION_PROPERTIES if name in given}
    out: dict[str, Any] = {
        "targetResourceId": flow_log.target_resource_id,
        "properties": properties,
        "flowAnalyticsConfiguration": given["flowAnalyticsConfiguration"],
    }
    if "identity" in body:
        out["identity"] = body["identity"]
    return out


_INFORMATION_PROPERTIES = (
    "storageId",
    "enabledFilteringCriteria",
    "recordTypes",
    "enabled",
    "retentionPolicy",
    "format",
)


def flow_log_of_target(snapshot: Snapshot, watcher: Row, target: str) -> FlowLog | None:
    """The flow log of this watcher that records ``target``."""
    return next(
        (f for f in snapshot.topology.flow_logs_of_target(target) if id_key(f.network_watcher_id) == watcher.key), None
    )


def _target(body: Mapping[str, Any]) -> str:
    target = arm_lookup(body, "targetResourceId")
    if not isinstance(target, str) or not target.strip():
        message = Message.MISSING_REQUIRED_PROPERTY.format(name="targetResourceId", path="targetResourceId")
        raise ApiError(400, Code.MISSING_REQUIRED_PROPERTY, message)
    return target.strip()


def configure_flow_log(
    snapshot: Snapshot, watcher: Where, body: Mapping[str, Any], caller: Caller
) -> Change[dict[str, Any]]:
    """``configureFlowLog``: set the flow log of a target (the one this watcher has for it, else a new one named as
    Azure names them, ``Microsoft.Network{resource group}{target name}``). Result: its ``FlowLogInformation``."""
    row = require_watcher(snapshot, watcher.subscription, watcher.group, watcher.watcher)
    target = _target(body)
    properties = arm_lookup(body, "properties")
    if not isinstance(properties, Mapping):
        message = Message.MISSING_REQUIRED_PROPERTY.format(name="properties", path="properties")
        raise ApiError(400, Code.MISSING_REQUIRED_PROPERTY, message)
    existing = flow_log_of_target(snapshot, row, target)
    parsed = ResourceId.parse(target)
    name = existing.name if existing else f"Microsoft.Network{parsed.resource_group if parsed else ''}{name_of(target)}"
    analytics = arm_lookup(body, "flowAnalyticsConfiguration")
    resource: dict[str, Any] = {
        "properties": {
            **properties,
            "targetResourceId": target,
            **({"flowAnalyticsConfiguration": analytics} if analytics is not None else {}),
        }
    }
    identity = arm_lookup(body, "identity")
    if identity is not None:
        resource["identity"] = identity
    where = dataclasses.replace(watcher, name=name)
    change = put_flow_log(snapshot, where, resource, planning.Preconditions(), caller)
    model = change.put[0]
    assert isinstance(model, FlowLog)
    return Change(put=change.put, topology=change.topology, result=flow_log_information(model, target))


def flow_log_status(snapshot: Snapshot, watcher: Row, target: str) -> dict[str, Any]:
    """``queryFlowLogStatus``: the target's flow-log settings; 400 for a target no flow log can have, 404 for one
    that does not exist."""
    kind = TargetKind.of(target)
    if kind is None:
        message = Message.INVALID_FLOW_LOG_TARGET.format(flow_log_id=f"{watcher.id}/flowLogs", target=target)
        raise ApiError(400, Code.INVALID_FLOW_LOG_TARGET, message)
    if snapshot.topology.flow_log_target_of(target) is None:
        parsed = ResourceId.parse(target)
        assert parsed is not None
        raise not_found(parsed.type, "/".join(parsed.names), parsed.resource_group)
    return flow_log_information(flow_log_of_target(snapshot, watcher, target), target)


def _where(resource_id: str) -> Where:
    parsed = ResourceId.parse(resource_id)
    assert parsed is not None and parsed.resource_group is not None and len(parsed.names) == 2
    return Where(parsed.subscription, parsed.resource_group, *parsed.names)


def _require_watcher_id(snapshot: Snapshot, watcher: str) -> Row:
    parsed = ResourceId.parse(watcher)
    assert parsed is not None and parsed.resource_group is not None
    return require_watcher(snapshot, parsed.subscription, parsed.resource_group, parsed.name)


def _flow_log_location(snapshot: Snapshot, resource_id: str) -> str:
    found = snapshot.topology.flow_log(resource_id)
    return found.location if found is not None else ""


FLOW_LOGS = StoredChild(
    resource_type=FLOW_LOG_TYPE,
    ancestor=WATCHERS + "/{networkWatcherName}",
    segments=("flowLogs",),
    parameters=("flowLogName",),
    ancestor_id=lambda p: watcher_id(p["subscriptionId"], p["resourceGroupName"], p["networkWatcherName"]),
    require_parent=_require_watcher_id,
    stored=lambda snapshot, rid: snapshot.topology.flow_log(rid) is not None,
    put=lambda s, rid, body, conditions, caller: put_flow_log(s, _where(rid), body, conditions, caller),
    delete=lambda s, rid, conditions: delete_flow_log(s, _where(rid), conditions),
    location=_flow_log_location,
    operation_prefix="FlowLogs",
    tags=("FlowLogs",),
    schema="flowLogs",
    patch_kind=FLOW_LOG_KIND,
)


class FlowLogRoutes:
    """Registers the flow-log routes on the app."""

    def __init__(self, store: Store, page_size: int) -> None:
        self.store = store
        self.page_size = page_size
        self.router = APIRouter()

    def install(self, app: FastAPI) -> None:
        store = self.store
        install_child_routes(self.router, store, dataclasses.replace(FLOW_LOGS, page_size=self.page_size))
        actions: list[str | Enum] = ["NetworkWatchers"]

        @self.router.post(
            WATCHERS + "/{networkWatcherName}/configureFlowLog",
            tags=actions,
            operation_id="NetworkWatchers_SetFlowLogConfiguration",
            **request_body("configureFlowLog"),
        )
        async def configure(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            watcher = Where(subscriptionId, resourceGroupName, networkWatcherName, "")
            body = await json_body(request)
            caller = caller_of(request.scope)
            snapshot, change, _ = await store.write(
                lambda s: configure_flow_log(s, watcher, body, caller), subscriptionId
            )
            assert change.result is not None
            operation = store.record(subscriptionId, change.result)
            row = require_watcher(snapshot, subscriptionId, resourceGroupName, networkWatcherName)
            return accepted(request, subscriptionId, str(row.body.get("location", "")), operation)

        @self.router.post(
            WATCHERS + "/{networkWatcherName}/queryFlowLogStatus",
            tags=actions,
            operation_id="NetworkWatchers_GetFlowLogStatus",
            **request_body("queryFlowLogStatus"),
        )
        async def query(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            snapshot = store.snapshot
            row = require_watcher(snapshot, subscriptionId, resourceGroupName, networkWatcherName)
            body = await json_body(request)
            target = _target(body)
            action = f"{NETWORK_WATCHER_TYPE}/queryFlowLogStatus/action"
            authorize_target(caller_of(request.scope), target, action, row.id, FLOW_LOG_TARGET_READ)
            information = flow_log_status(snapshot, row, target)
            operation = store.record(subscriptionId, information)
            return accepted(request, subscriptionId, str(row.body.get("location", "")), operation)

        configure.__name__, query.__name__ = "watcher_configureFlowLog", "watcher_queryFlowLogStatus"
        app.include_router(self.router)


__all__ = [
    "FlowLogRoutes",
    "Where",
    "configure_flow_log",
    "creates_nsg_flow_log",
    "delete_flow_log",
    "flow_log_information",
    "flow_log_status",
    "put_flow_log",
]
