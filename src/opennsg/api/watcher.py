"""Network Watcher diagnostics, the operation-status endpoints and service tag discovery.

Every answer comes from ``opennsg.engine.Engine`` over the snapshot's topology (cached per write version). Actions
are long-running operations as in Azure: 202 with ``Location`` (the result) and ``Azure-AsyncOperation`` (the
status); the work is already done, so the first poll says ``Succeeded`` and the SDK's pollers never wait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from itertools import islice
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from opennsg.api.catalog import NETWORK_WATCHER_TYPE
from opennsg.api.dispatch import AtOnce
from opennsg.api.errors import ApiError, bad_request, not_found
from opennsg.api.gateway import Scope, caller_of
from opennsg.api.http import GUID, check_subscription, json_response, parse_json
from opennsg.api.linked import Caller, authorize_target
from opennsg.api.lro import answered, run_action
from opennsg.api.schemas import request_body
from opennsg.api.store import Snapshot, Store
from opennsg.arm.netwatcher import (
    diagnostic_result_to_arm,
    effective_groups_to_arm,
    parse_profile,
    security_group_view_to_arm,
)
from opennsg.arm.routes import effective_route_table_to_arm
from opennsg.engine import Engine, Flow
from opennsg.engine.routes import next_hop
from opennsg.model.addressing import (
    addresses_in_use,
    configuration_holds,
    free_addresses,
    is_platform_reserved,
    subnet_networks,
)
from opennsg.model.errors import OpenNsgError
from opennsg.model.ids import ResourceId, network_id
from opennsg.model.resources import NetworkInterface, VirtualNetwork
from opennsg.model.routes import NextHopType, RouteSource
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation import Code
from opennsg.model.values import IPAddress, parse_address

WATCHER = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/networkWatchers/"
    "{networkWatcherName}"
)
LOCATION = "/subscriptions/{subscriptionId}/providers/Microsoft.Network/locations/{location}"
IP_FLOW_FIELDS = ("direction", "protocol", "localPort", "remotePort", "localIPAddress", "remoteIPAddress")


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    stripped = value.strip() if isinstance(value, str) else ""
    if not stripped:
        raise bad_request(f"The request is missing the required property '{name}' (a non-empty string).")
    return stripped


@dataclass(frozen=True, slots=True)
class Action:
    """One diagnostic request: who asks, through which watcher (for the linked-access check), with what body."""

    name: str
    watcher_id: str
    caller: Caller
    body: Mapping[str, Any]

    def authorize(self) -> None:
        """Every target the body names must lie in a subscription the caller may read: refused before any lookup,
        so a target elsewhere gets the same answer whether or not it exists."""
        for field in TARGET_FIELDS:
            value = self.body.get(field)
            if isinstance(value, str) and value.strip():
                linked = _VM_READ if "/microsoft.compute/" in value.casefold() else _NIC_READ
                action = f"{NETWORK_WATCHER_TYPE}/{self.name}/action"
                authorize_target(self.caller, value, action, self.watcher_id, linked)


TARGET_FIELDS = ("targetResourceId", "targetNicResourceId")
#: Actions whose swagger operation id is not the action's name capitalised.
_OPERATION_NAMES = {"nextHop": "GetNextHop"}
_VM_READ = "Microsoft.Compute/virtualMachines/read"
_NIC_READ = "Microsoft.Network/networkInterfaces/read"


def target_nic(snapshot: Snapshot, body: Mapping[str, Any]) -> NetworkInterface:
    """The NIC a diagnostic is about: ``targetNicResourceId``, else ``targetResourceId`` (a VM's primary NIC or a
    NIC)."""
    topology = snapshot.topology
    nic_id = body.get("targetNicResourceId")
    target = nic_id if isinstance(nic_id, str) and nic_id.strip() else _text(body, "targetResourceId")
    parsed = ResourceId.parse(target)
    if parsed is None:
        raise bad_request(
            f"The target resource id '{target}' is not a valid ARM resource id.", Code.INVALID_TARGET_RESOURCE_ID
        )
    nic = topology.nic(target)
    if nic is None and parsed.type.casefold() == "microsoft.compute/virtualmachines":
        nic = topology.find_nic(target)  # a VM stored as a resource, or known only from its NICs' virtualMachine
    if nic is None:
        raise not_found(parsed.type, parsed.name, parsed.resource_group)
    return nic


def ip_flow_verify(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, Any]:
    """A VM target without ``targetNicResourceId`` is verified at its NIC holding ``localIPAddress`` (Azure asks
    for the NIC only when it cannot tell, semantics §8.1), else at its primary NIC."""
    return _verdict_of(snapshot, *_flow_at(snapshot, body))


def _verdict_of(snapshot: Snapshot, nic: NetworkInterface, flow: Flow) -> dict[str, Any]:
    verdict = snapshot.engine.verify(nic.id, flow, trace=False)
    result: dict[str, Any] = {"access": str(verdict.access)}
    if verdict.rule_name:
        result["ruleName"] = verdict.rule_name
    return result


def quick_ip_flow_verify(snapshot: Snapshot, body: Mapping[str, Any]) -> Callable[[], dict[str, Any]] | None:
    """``ip_flow_verify`` of this body when it needs no policy resolved or compiled (a refused request is quick
    too), else None; the request is parsed once for both the question and the answer."""
    try:
        nic, flow = _flow_at(snapshot, body)
    except (ApiError, OpenNsgError):
        return lambda: ip_flow_verify(snapshot, body)  # the same refusal again
    if not snapshot.engine.verifies_quickly(nic, flow):
        return None
    return lambda: _verdict_of(snapshot, nic, flow)


def _flow_at(snapshot: Snapshot, body: Mapping[str, Any]) -> tuple[NetworkInterface, Flow]:
    """The NIC IP flow verify decides at, and the flow."""
    nic = target_nic(snapshot, body)
    values = {name: _text(body, name) for name in IP_FLOW_FIELDS}
    try:
        flow = Flow.make(
            values["direction"],
            values["protocol"],
            values["localIPAddress"],
            values["localPort"],
            values["remoteIPAddress"],
            values["remotePort"],
        )
    except ValueError:
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
        raise bad_request(f"The flow is not valid: {shown}.", Code.INVALID_PARAMETER) from None
    if not body.get("targetNicResourceId") and snapshot.topology.nic(_text(body, "targetResourceId")) is None:
        nic = snapshot.engine.nic_for_flow(_text(body, "targetResourceId"), flow.local_ip)
    return nic, flow


def configuration_diagnostic(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, Any]:
    nic = target_nic(snapshot, body)
    profiles = body.get("profiles")
    if not isinstance(profiles, list) or not profiles or not all(isinstance(p, dict) for p in profiles):
        raise bad_request("The request needs 'profiles': a non-empty array of objects.")
    tags = snapshot.topology.service_tags
    parsed = [parse_profile(profile, tags) for profile in profiles]
    return {
        "results": [
            {
                "profile": dict(profile),
                "networkSecurityGroupResult": diagnostic_result_to_arm(snapshot.engine.diagnose(nic, p)),
            }
            for profile, p in zip(profiles, parsed, strict=True)
        ]
    }


def security_group_view(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, Any]:
    """Every NIC of the target VM (or the one target NIC)."""
    target = _text(body, "targetResourceId")
    if snapshot.topology.vm(target) is None:
        target = target_nic(snapshot, body).id
    return security_group_view_to_arm(snapshot.engine.security_group_view(target), snapshot.topology.service_tags)


def _address(body: Mapping[str, Any], name: str) -> IPAddress:
    text = _text(body, name)
    parsed = parse_address(text)
    if parsed is None:
        raise bad_request(f"The {name} '{text}' is not an IP address.", Code.INVALID_PARAMETER)
    return parsed


#: What next hop names as the route table of a route no route table holds (the REST API's NextHopResult).
SYSTEM_ROUTE = "System Route"


def next_hop_of(snapshot: Snapshot, body: Mapping[str, Any]) -> dict[str, Any]:
    """Where the NIC sends a packet to ``destinationIPAddress``: the effective route it follows (longest prefix,
    user over system routes, the one routing definition of ``engine.routes``), its next hop address when it has one,
    and the route table holding it (``System Route`` for Azure's own routes). A VM target without
    ``targetNicResourceId`` is looked at through its NIC holding ``sourceIPAddress``."""
    source, destination = _address(body, "sourceIPAddress"), _address(body, "destinationIPAddress")
    nic = target_nic(snapshot, body)
    if not body.get("targetNicResourceId") and snapshot.topology.nic(_text(body, "targetResourceId")) is None:
        nic = snapshot.engine.nic_for_flow(_text(body, "targetResourceId"), source)
    if not any(configuration_holds(c, source) for c in nic.ip_configurations):
        raise bad_request(
            f"The sourceIPAddress '{source}' is not an IP address of the network interface {nic.id}.",
            Code.INVALID_PARAMETER,
        )
    route = next_hop(snapshot.engine.effective_routes(nic), destination)
    if route is None:  # no route covers the address (an IPv6 destination at a NIC without IPv6): dropped
        return {"nextHopType": NextHopType.NONE.value, "routeTableId": SYSTEM_ROUTE}
    result: dict[str, Any] = {"nextHopType": route.next_hop_type.value}
    if route.next_hop_ip_addresses:
        result["nextHopIpAddress"] = route.next_hop_ip_addresses[0]
    subnet = snapshot.topology.subnet(nic.subnet)
    user = route.source is RouteSource.USER and subnet is not None and subnet.route_table
    result["routeTableId"] = subnet.route_table if user and subnet is not None else SYSTEM_ROUTE
    return result


#: Actions whose answer may be computed on the event loop: each gives that computation when it is quick (no thread
#: hand-off), else None.
QUICK: dict[str, Callable[[Snapshot, Mapping[str, Any]], Callable[[], dict[str, Any]] | None]] = {
    "ipFlowVerify": quick_ip_flow_verify
}


class Diagnostics:
    """Registers the action routes, operation status/results and service tags."""

    def __init__(self, store: Store, service_tags: ServiceTags | None) -> None:
        self.store = store
        self.service_tags = service_tags
        self.router = APIRouter()
        #: Answers some routes give at once, by operation id (``opennsg.api.dispatch.HotRoutes``).
        self.at_once: dict[str, AtOnce] = {}

    def install(self, app: FastAPI) -> None:
        tags: list[str | Enum] = ["networkWatchers"]
        actions: dict[str, Callable[[Snapshot, Mapping[str, Any]], dict[str, Any]]] = {
            "ipFlowVerify": ip_flow_verify,
            "networkConfigurationDiagnostic": configuration_diagnostic,
            "securityGroupView": security_group_view,
            "nextHop": next_hop_of,
        }
        for action, compute in actions.items():
            self._watcher_action(action, compute, tags, QUICK.get(action))
        self._effective()
        self._ip_availability()
        self._operations()
        app.include_router(self.router)

    def _watcher_action(
        self,
        action: str,
        compute: Callable[[Snapshot, Mapping[str, Any]], dict[str, Any]],
        tags: list[str | Enum],
        quick: Callable[[Snapshot, Mapping[str, Any]], Callable[[], dict[str, Any]] | None] | None,
    ) -> None:
        op = "NetworkWatchers_" + _OPERATION_NAMES.get(action, action[0].upper() + action[1:])

        def prepare(
            request: Request, raw: bytes, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> tuple[str, Callable[[], dict[str, Any]] | None, Callable[[], dict[str, Any]]]:
            """The watcher's location, the action's computation when it is quick (else None) and its careful
            computation; raises the request's refusals, in the order they are checked."""
            check_subscription(subscriptionId)
            watcher_id = network_id(subscriptionId, resourceGroupName, "networkWatchers", networkWatcherName)
            row = self.store.snapshot.row(watcher_id)
            if row is None:
                raise not_found(NETWORK_WATCHER_TYPE, networkWatcherName, resourceGroupName)
            body = parse_json(raw)
            Action(action, row.id, caller_of(request.scope), body).authorize()
            snapshot = self.store.snapshot
            now = quick(snapshot, body) if quick is not None else None
            return str(row.body.get("location", "")), now, lambda: compute(snapshot, body)

        async def handler(
            request: Request, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response:
            raw = await request.body()
            location, now, careful = prepare(request, raw, subscriptionId, resourceGroupName, networkWatcherName)
            if now is not None:
                return answered(request, self.store, subscriptionId, location, now())
            return await run_action(request, self.store, subscriptionId, location, careful)

        def at_once(
            scope: Scope, raw: bytes, subscriptionId: str, resourceGroupName: str, networkWatcherName: str
        ) -> Response | None:
            """``handler``'s answer when the action is quick and nothing refuses it (``Gateway.answer_at_once``);
            None, or the refusal raised, when ``handler`` must answer (nothing is recorded before the answer)."""
            request = Request(scope)
            location, now, _ = prepare(request, raw, subscriptionId, resourceGroupName, networkWatcherName)
            return None if now is None else answered(request, self.store, subscriptionId, location, now())

        handler.__name__ = f"watcher_{action}"
        if quick is not None:
            self.at_once[op] = at_once
        self.router.add_api_route(
            f"{WATCHER}/{action}", handler, methods=["POST"], tags=tags, operation_id=op, **request_body(action)
        )

    def _effective(self) -> None:
        """The NIC actions Network Watcher's portal uses: effective security rules and effective routes (LROs)."""
        self._nic_action(
            "effectiveNetworkSecurityGroups",
            "NetworkInterfaces_ListEffectiveNetworkSecurityGroups",
            lambda engine, nic_id: {
                "value": effective_groups_to_arm(engine.effective_rules(nic_id), engine.topology.service_tags)
            },
        )
        self._nic_action(
            "effectiveRouteTable",
            "NetworkInterfaces_GetEffectiveRouteTable",
            lambda engine, nic_id: effective_route_table_to_arm(engine.effective_routes(nic_id)),
        )

    def _nic_action(self, action: str, operation_id: str, compute: Callable[[Engine, str], dict[str, Any]]) -> None:
        path = (
            "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/"
            f"networkInterfaces/{{networkInterfaceName}}/{action}"
        )

        async def handler(
            request: Request, subscriptionId: str, resourceGroupName: str, networkInterfaceName: str
        ) -> Response:
            check_subscription(subscriptionId)
            nic_id = network_id(subscriptionId, resourceGroupName, "networkInterfaces", networkInterfaceName)
            snapshot = self.store.snapshot
            nic = snapshot.topology.nic(nic_id)
            if nic is None:
                raise not_found("Microsoft.Network/networkInterfaces", networkInterfaceName, resourceGroupName)
            engine, found = snapshot.engine, nic.id
            return await run_action(request, self.store, subscriptionId, nic.location, lambda: compute(engine, found))

        handler.__name__ = f"nic_{action}"
        self.router.add_api_route(
            path, handler, methods=["POST"], tags=["networkInterfaces"], operation_id=operation_id
        )

    def _ip_availability(self) -> None:
        path = (
            "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/"
            "virtualNetworks/{virtualNetworkName}/CheckIPAddressAvailability"
        )

        @self.router.get(path, tags=["virtualNetworks"], operation_id="VirtualNetworks_CheckIPAddressAvailability")
        async def check_ip_address_availability(
            subscriptionId: str, resourceGroupName: str, virtualNetworkName: str, ipAddress: str
        ) -> Response:
            check_subscription(subscriptionId)
            vnet_id = network_id(subscriptionId, resourceGroupName, "virtualNetworks", virtualNetworkName)
            topology = self.store.snapshot.topology
            vnet = topology.vnet(vnet_id)
            if vnet is None:
                raise not_found("Microsoft.Network/virtualNetworks", virtualNetworkName, resourceGroupName)
            return json_response(ip_address_availability(topology, vnet, ipAddress))

    def _operations(self) -> None:
        tags: list[str | Enum] = ["operations"]

        @self.router.get(f"{LOCATION}/operations/{{operationId}}", tags=tags, operation_id="Operations_GetStatus")
        async def status(subscriptionId: str, location: str, operationId: str) -> Response:
            check_subscription(subscriptionId)
            found = self.store.recent_operation(subscriptionId, operationId) or await run_in_threadpool(
                self.store.operation, subscriptionId, operationId
            )
            if found is None:
                raise ApiError(404, Code.OPERATION_NOT_FOUND, f"The operation '{operationId}' could not be found.")
            return json_response({"status": found[0]})

        def result_at_once(
            _scope: Scope, _raw: bytes, subscriptionId: str, location: str, operationId: str
        ) -> Response | None:
            """``result``'s answer for the result of an operation this process keeps in memory (what a poller asks
            for right after the action), for ``Gateway.answer_at_once``; None when ``result`` must answer."""
            if not GUID.match(subscriptionId):
                return None  # check_subscription's refusal
            found = self.store.recent_operation(subscriptionId, operationId)
            return json_response(found[1]) if found is not None and found[1] is not None else None

        self.at_once["Operations_GetResult"] = result_at_once

        @self.router.get(f"{LOCATION}/operationResults/{{operationId}}", tags=tags, operation_id="Operations_GetResult")
        async def result(subscriptionId: str, location: str, operationId: str) -> Response:
            check_subscription(subscriptionId)
            found = self.store.recent_operation(subscriptionId, operationId) or await run_in_threadpool(
                self.store.operation, subscriptionId, operationId
            )
            if found is None:
                raise ApiError(404, Code.OPERATION_NOT_FOUND, f"The operation '{operationId}' could not be found.")
            if found[1] is None:
                return Response(status_code=204)
            return json_response(found[1])

        @self.router.get(f"{LOCATION}/serviceTags", tags=["serviceTags"], operation_id="ServiceTags_List")
        async def service_tags(subscriptionId: str, location: str) -> Response:
            check_subscription(subscriptionId)
            tags_file = self.service_tags
            values = tags_file.to_json()["values"] if tags_file is not None else []
            for value in values:
                value["id"] = value["name"]
            return json_response(
                {
                    "name": "Public",
                    "id": f"/subscriptions/{subscriptionId}/providers/Microsoft.Network/serviceTags/Public",
                    "type": "Microsoft.Network/serviceTags",
                    "changeNumber": str(tags_file.change_number if tags_file else 0),
                    "cloud": tags_file.cloud if tags_file else "Public",
                    "values": values,
                }
            )


#: How many other free addresses CheckIPAddressAvailability offers when the one asked for is taken.
OFFERED_ADDRESSES = 5


def ip_address_availability(topology: Topology, vnet: VirtualNetwork, text: str) -> dict[str, Any]:
    """``IPAddressAvailabilityResult``: is the address free in its subnet; if not, the next free ones."""
    address = parse_address(text)
    if address is None:
        raise bad_request(f"'{text}' is not a valid IP address.", Code.INVALID_IP_ADDRESS)
    for subnet in vnet.subnets:
        for network in subnet_networks(subnet):
            if network.version != address.version or address not in network:
                continue
            reserved = is_platform_reserved(network, address)
            used = addresses_in_use(topology, subnet)
            if not reserved and not used.holds(address):
                return {"available": True}
            offered = list(islice(free_addresses(subnet, used, address.version, address), OFFERED_ADDRESSES))
            return {"available": False, "availableIPAddresses": offered, "isPlatformReserved": reserved}
    raise bad_request(
        f"Private IP address {address} does not belong to any subnet of virtual network {vnet.id}.",
        Code.PRIVATE_IP_NOT_IN_ANY_SUBNET,
    )
