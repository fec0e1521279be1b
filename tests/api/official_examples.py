"""Microsoft's own REST API specification (Microsoft.Network 2026-01-01) as a test oracle for the service.

Reads the swagger files and their ``x-ms-examples`` in place (``tests/realworld.py``), resolves ``$ref``s across
files, and turns each example into a request against the in-process service with what it needs created first.
Response bodies are checked with ``jsonschema`` against the operation's response schema: ``readOnly`` properties are
of course allowed in responses, ``x-nullable: true`` admits ``null`` and nothing else does.

``applicationGateway.json`` is not part of the shared copy (see its SOURCES.md); the two definitions taken from it
(application gateway backend pools and IP configurations, which OpenNSG never returns) are accepted as any value.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import referencing
import referencing.jsonschema
from fastapi.testclient import TestClient
from httpx import Response
from jsonschema import Draft4Validator
from tests.realworld import REALWORLD

SPEC = REALWORLD / "azure-rest-api-specs" / "network" / "2026-01-01"
BASE = "https://spec.invalid/"
METHODS = ("get", "put", "post", "patch", "delete", "head")
#: Files the shared copy leaves out on purpose (SOURCES.md); a reference into one accepts any value.
ABSENT_FILES = ("applicationGateway.json",)
LOCATION = "eastus"


# --- the specification ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One ``x-ms-examples`` entry of one operation."""

    operation_id: str
    method: str
    path: str  # the swagger path template
    swagger: str  # file name
    file: Path
    parameters: tuple[dict[str, Any], ...]  # the operation's parameters, ``$ref``s resolved
    long_running: bool
    data: dict[str, Any] = field(repr=False, hash=False, compare=False)

    @property
    def name(self) -> str:
        return self.file.stem

    @property
    def pointer(self) -> str:
        return f"/paths/{_escape(self.path)}/{self.method}"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


@cache
def swaggers() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SPEC.glob("*.json"))}


def resolve(document: str, value: Any) -> tuple[str, Any]:
    """Follow ``$ref``s (``./file.json#/pointer`` or ``#/pointer``) from ``document``; the final file and value."""
    while isinstance(value, Mapping) and "$ref" in value:
        target, _, pointer = value["$ref"].partition("#")
        document = Path(target).name if target else document
        value = swaggers()[document]
        for token in pointer.strip("/").split("/"):
            value = value[token.replace("~1", "/").replace("~0", "~")]
    return document, value


@cache
def examples() -> tuple[Example, ...]:
    """Every example of every operation, in file order."""
    out: list[Example] = []
    for name, document in swaggers().items():
        for path, item in document.get("paths", {}).items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                shared = [resolve(name, p)[1] for p in item.get("parameters", [])]
                own = [resolve(name, p)[1] for p in operation.get("parameters", [])]
                names = {(p["name"], p.get("in")) for p in own}
                parameters = tuple([*own, *(p for p in shared if (p["name"], p.get("in")) not in names)])
                for reference in operation.get("x-ms-examples", {}).values():
                    file = (SPEC / reference["$ref"]).resolve()
                    if not file.is_file():  # examples of operations the shared copy does not cover
                        continue
                    out.append(
                        Example(
                            operation["operationId"],
                            method,
                            path,
                            name,
                            file,
                            parameters,
                            bool(operation.get("x-ms-long-running-operation")),
                            json.loads(file.read_text(encoding="utf-8")),
                        )
                    )
    return tuple(out)


def _nullable(value: Any) -> Any:
    """The swagger as JSON Schema: ``x-nullable: true`` admits null; references into absent files admit anything."""
    if isinstance(value, list):
        return [_nullable(v) for v in value]
    if not isinstance(value, dict):
        return value
    reference = value.get("$ref")
    if isinstance(reference, str) and any(reference.split("#")[0].endswith(f) for f in ABSENT_FILES):
        return {}
    out = {k: _nullable(v) for k, v in value.items()}
    if out.pop("x-nullable", False) is True:
        return {"anyOf": [{"type": "null"}, out]}
    return out


@cache
def registry() -> referencing.Registry[Any]:
    resources = [
        (BASE + name, referencing.jsonschema.DRAFT4.create_resource(_nullable(document)))
        for name, document in swaggers().items()
    ]
    return referencing.Registry().with_resources(resources)


def response_validator(example: Example, status: int) -> Draft4Validator | None:
    """The validator of the operation's response schema for ``status``; None when that status has no body."""
    responses = swaggers()[example.swagger]["paths"][example.path][example.method]["responses"]
    response = responses.get(str(status))
    if response is None or "schema" not in response:
        return None
    pointer = f"{example.pointer}/responses/{status}/schema"
    schema = {"$ref": BASE + example.swagger + "#" + quote(pointer, safe="/~")}
    return Draft4Validator(schema, registry=registry())


def documented_statuses(example: Example) -> set[int]:
    responses = swaggers()[example.swagger]["paths"][example.path][example.method]["responses"]
    return {int(code) for code in responses if code.isdigit()}


def schema_problems(example: Example, status: int, body: Any) -> list[str]:
    validator = response_validator(example, status)
    if validator is None:
        return []
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:300]}"
        for error in validator.iter_errors(body)
    ]


def request_schema(example: Example) -> tuple[str, Any] | None:
    """(file, schema) of the operation's body parameter."""
    for parameter in example.parameters:
        if parameter.get("in") == "body":
            return example.swagger, parameter["schema"]
    return None


# --- writable properties --------------------------------------------------------------------------------------------


def _properties(document: str, schema: Any) -> Iterator[tuple[str, str, Any]]:
    """(name, file, schema) of every property of an object schema, through ``allOf`` and ``$ref``s."""
    document, schema = resolve(document, schema)
    for part in schema.get("allOf", []):
        yield from _properties(document, part)
    for name, child in schema.get("properties", {}).items():
        yield name, document, child


def _is_read_only(document: str, schema: Any) -> bool:
    if isinstance(schema, Mapping) and schema.get("readOnly") is True:
        return True
    return bool(resolve(document, schema)[1].get("readOnly") is True)


def writable_differences(document: str, schema: Any, sent: Any, got: Any, path: str = "") -> list[str]:
    """Where ``got`` does not carry back a writable (not ``readOnly``) property of ``sent`` as sent.

    Objects are compared property by property (properties of nested resources included), arrays item by item
    (matched by ``name`` when the items have one), values exactly except for ids, which ARM compares case-insensitively.
    """
    document, schema = resolve(document, schema)
    if isinstance(sent, Mapping):
        if not isinstance(got, Mapping):
            return [f"{path or '(body)'}: sent an object, got {_short(got)}"]
        known = {name: (doc, child) for name, doc, child in _properties(document, schema)}
        problems: list[str] = []
        for name, value in sent.items():
            if name not in known or _is_read_only(*known[name]):
                continue
            if name not in got:
                problems.append(f"{path}{name}: dropped (sent {_short(value)})")
                continue
            problems += writable_differences(*known[name], value, got[name], f"{path}{name}.")
        return problems
    if isinstance(sent, list):
        if not isinstance(got, list):
            return [f"{path.rstrip('.')}: sent {_short(sent)}, got {_short(got)}"]
        item_document, item_schema = resolve(document, schema.get("items", {}))
        problems = []
        for index, value in enumerate(sent):
            counterpart = _counterpart(value, index, got)
            where = f"{path.rstrip('.')}[{index}]."
            if counterpart is None:
                problems.append(f"{where.rstrip('.')}: dropped (sent {_short(value)})")
            else:
                problems += writable_differences(item_document, item_schema, value, counterpart, where)
        return problems
    if _same(sent, got, path):
        return []
    return [f"{path.rstrip('.')}: sent {_short(sent)}, got {_short(got)}"]


def _counterpart(value: Any, index: int, got: list[Any]) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        folded = value["name"].casefold()
        return next((g for g in got if isinstance(g, Mapping) and str(g.get("name", "")).casefold() == folded), None)
    return got[index] if index < len(got) else None


def _same(sent: Any, got: Any, path: str) -> bool:
    if isinstance(sent, str) and isinstance(got, str) and path.rstrip(".").endswith("id"):
        return sent.casefold() == got.casefold()
    return bool(sent == got and type(sent) is type(got))


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


# --- replaying an example against the service --------------------------------------------------------------------

_SUBSCRIPTION = re.compile(r"(/subscriptions/)([^/\"?]+)", re.IGNORECASE)
_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/[^/]+/.+", re.IGNORECASE)


def localized(example: Example) -> tuple[dict[str, Any], str]:
    """The example's parameters and responses with each subscription id it names (placeholders such as ``subid``
    or the zero GUID) replaced by a GUID of the example's own, so examples replayed in one service do not meet; and
    the GUID of the subscription it is sent to."""
    original = str(example.data["parameters"].get("subscriptionId", ""))
    mapping: dict[str, str] = {}

    def mapped(value: str) -> str:
        folded = value.casefold()
        if folded not in mapping:
            seed = example.file.name if folded == original.casefold() else f"{example.file.name}/{folded}"
            mapping[folded] = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
        return mapping[folded]

    text = _SUBSCRIPTION.sub(lambda m: m.group(1) + mapped(m.group(2)), json.dumps(example.data))
    data = json.loads(text)
    subscription = mapped(original)
    data["parameters"]["subscriptionId"] = subscription
    correct = CORRECTIONS.get(example.name)
    if correct is not None:
        correct(data["parameters"])
    return data, subscription


@dataclass
class Exchange:
    """One request of a replay and what the service answered."""

    label: str  # "initial" or "final"
    status: int
    body: Any


@dataclass
class Replay:
    example: Example
    url: str
    body: Any
    exchanges: list[Exchange]
    setup_failures: list[str]


def build_request(example: Example, parameters: Mapping[str, Any]) -> tuple[str, Any]:
    path = example.path
    query: list[str] = []
    body: Any = None
    for parameter in example.parameters:
        name, where = parameter["name"], parameter.get("in")
        if where == "body":
            body = parameters.get(name)
            continue
        if name not in parameters:
            continue
        value = parameters[name]
        if where == "path":
            text = str(value)
            path = path.replace("{" + name + "}", text if parameter.get("x-ms-skip-url-encoding") else quote(text))
        elif where == "query":
            query.append(f"{quote(name)}={quote(str(value).lower() if isinstance(value, bool) else str(value))}")
    return path + ("?" + "&".join(query) if query else ""), body


class World:
    """Creates, through the API, whatever an example's request refers to that does not exist yet."""

    def __init__(self, client: TestClient, api_version: str) -> None:
        self.client = client
        self.api = f"api-version={api_version}"
        self.failures: list[str] = []
        self._subnets = 0

    def _put(self, resource_id: str, body: Mapping[str, Any]) -> None:
        response = self.client.put(f"{resource_id}?{self.api}", json=body)
        if response.status_code not in (200, 201):
            self.failures.append(f"setup PUT {resource_id}: {response.status_code} {response.text[:300]}")

    def exists(self, resource_id: str) -> bool:
        return self.client.get(f"{resource_id}?{self.api}").status_code == 200

    def group(self, subscription: str, group: str) -> None:
        resource_id = f"/subscriptions/{subscription}/resourceGroups/{group}"
        if not self.exists(resource_id):
            self._put(resource_id, {"location": LOCATION})

    def ensure_all(self, value: Any) -> None:
        """Every ARM id the value holds (references, targets of diagnostics) names an existing resource; a subnet
        made for it holds the static private addresses the value names."""
        addresses = [a for a in _values(value, "privateIPAddress") if isinstance(a, str)]
        hints = {"subnet_address": addresses[0]} if addresses else {}
        for resource_id in sorted(set(_ids(value)), key=len):
            self.ensure(resource_id, hints)

    def ensure(self, resource_id: str, hints: Mapping[str, Any] | None = None) -> None:
        parts = resource_id.strip("/").split("/")
        if len(parts) < 4 or parts[2].casefold() != "resourcegroups":
            return
        self.group(parts[1], parts[3])
        if len(parts) < 8 or self.exists(resource_id):
            return
        maker = _MAKERS.get(_kind_path(parts))
        if maker is not None:
            maker(self, resource_id, parts, hints or {})

    def next_subnet(self) -> str:
        self._subnets += 1
        return f"10.{200 + self._subnets // 256}.{self._subnets % 256}.0/24"


def _ids(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _ids(v)
    elif isinstance(value, str) and _ID.match(value):
        yield value


def _values(value: Any, name: str) -> Iterator[Any]:
    """Every value of property ``name`` anywhere in ``value``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == name:
                yield item
            yield from _values(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, name)


def _kind_path(parts: list[str]) -> str:
    """``Microsoft.Network/virtualNetworks/subnets`` of an id's segments (types only, folded)."""
    types = [parts[5], parts[6], *parts[8::2]]
    return "/".join(types).casefold()


def _parent(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 2)[0]


def _sibling(parts: list[str], path: str) -> str:
    """A Microsoft.Network resource in the resource group of the id split into ``parts``."""
    return f"/subscriptions/{parts[1]}/resourceGroups/{parts[3]}/providers/Microsoft.Network/{path}"


def _location_only(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    world._put(resource_id, {"location": LOCATION})


def _vnet(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    prefixes = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", *hints.get("prefixes", [])]
    spaces = [str(n) for n in ipaddress.collapse_addresses(ipaddress.ip_network(p, strict=False) for p in prefixes)]
    world._put(resource_id, {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": spaces}}})


def _subnet(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    world.ensure(_parent(resource_id))
    address = hints.get("subnet_address")
    prefix = str(ipaddress.ip_network(f"{address}/24", strict=False)) if address else world.next_subnet()
    world._put(resource_id, {"properties": {"addressPrefix": prefix}})


def _nic(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    """A NIC in a subnet of its own; with the private address a diagnostic's request names, when it names one."""
    vnet = _sibling(parts, "virtualNetworks/auto-vnet")
    subnet = f"{vnet}/subnets/{parts[7]}"
    properties: dict[str, Any] = {"subnet": {"id": subnet}}
    address = hints.get("address")
    if isinstance(address, str):
        world.ensure(vnet)
        world._put(subnet, {"properties": {"addressPrefix": str(ipaddress.ip_network(f"{address}/24", strict=False))}})
        properties.update(privateIPAddress=address, privateIPAllocationMethod="Static")
    else:
        world.ensure(subnet)
    configuration = {"name": hints.get("ipconfig", "ipconfig1"), "properties": properties}
    world._put(resource_id, {"location": LOCATION, "properties": {"ipConfigurations": [configuration]}})


def _private_endpoint(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    subnet = _sibling(parts, "virtualNetworks/auto-vnet/subnets/" + parts[7])
    world.ensure(subnet)
    service = _sibling(parts, "privateLinkServices/auto-pls")
    connection = {"name": "auto", "properties": {"privateLinkServiceId": service}}
    properties = {"subnet": {"id": subnet}, "privateLinkServiceConnections": [connection]}
    world._put(resource_id, {"location": LOCATION, "properties": properties})


def _vm(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    nic = _sibling(parts, f"networkInterfaces/{parts[7]}-nic")
    world.ensure(nic, hints)
    profile = {"networkInterfaces": [{"id": nic, "properties": {"primary": True}}]}
    world._put(resource_id, {"location": LOCATION, "properties": {"networkProfile": profile}})


def _nested(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    """A child the service holds inside its parent but cannot PUT on its own (a NIC's IP configuration)."""
    world.ensure(_parent(resource_id), {"ipconfig": parts[-1]})


def _child(body: Mapping[str, Any]) -> Any:
    def make(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
        world.ensure(_parent(resource_id))
        world._put(resource_id, body)

    return make


def _peering(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    world.ensure(_parent(resource_id))
    remote = _parent(_parent(resource_id)) + "/virtualNetworks/auto-remote-vnet"
    if not world.exists(remote):
        body = {"location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["100.64.0.0/16"]}}}
        world._put(remote, body)
    world._put(resource_id, {"properties": {"remoteVirtualNetwork": {"id": remote}}})


def _network_manager(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    scopes = {"subscriptions": [f"/subscriptions/{parts[1]}"]}
    properties = {"networkManagerScopes": scopes, "networkManagerScopeAccesses": ["SecurityAdmin"]}
    world._put(resource_id, {"location": LOCATION, "properties": properties})


def _rule_collection(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    world.ensure(_parent(resource_id))
    manager = "/".join(resource_id.split("/")[:9])
    group = f"{manager}/networkGroups/auto-group"
    world.ensure(group)
    world._put(resource_id, {"properties": {"appliesToGroups": [{"networkGroupId": group}]}})


def _static_member(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    world.ensure(_parent(resource_id))
    vnet = _sibling(parts, "virtualNetworks/auto-member")
    world.ensure(vnet)
    world._put(resource_id, {"properties": {"resourceId": vnet}})


def _flow_log(world: World, resource_id: str, parts: list[str], hints: Mapping[str, Any]) -> None:
    """A VNet flow log (creating NSG flow logs is refused since 2025-06-30) under its network watcher."""
    world.ensure(_parent(resource_id))
    vnet = _sibling(parts, "virtualNetworks/auto-flowlog-vnet")
    world.ensure(vnet)
    storage = f"/subscriptions/{parts[1]}/resourceGroups/{parts[3]}/providers/Microsoft.Storage/storageAccounts/auto"
    properties = {"targetResourceId": vnet, "storageId": storage, "enabled": True}
    world._put(resource_id, {"location": LOCATION, "properties": properties})


_ADMIN_RULE = {
    "kind": "Custom",
    "properties": {
        "protocol": "Tcp",
        "access": "Deny",
        "priority": 100,
        "direction": "Inbound",
        "sources": [{"addressPrefix": "Internet", "addressPrefixType": "ServiceTag"}],
        "destinations": [{"addressPrefix": "*", "addressPrefixType": "IPPrefix"}],
        "destinationPortRanges": ["22"],
    },
}
_SECURITY_RULE = {
    "properties": {
        "protocol": "Tcp",
        "sourceAddressPrefix": "*",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "8080",
        "access": "Allow",
        "priority": 4000,
        "direction": "Inbound",
    }
}

_N = "microsoft.network/"
_MAKERS = {
    _N + "networksecuritygroups": _location_only,
    _N + "applicationsecuritygroups": _location_only,
    _N + "routetables": _location_only,
    _N + "publicipaddresses": _location_only,
    _N + "natgateways": _location_only,
    _N + "networkwatchers": _location_only,
    _N + "virtualnetworks": _vnet,
    _N + "virtualnetworks/subnets": _subnet,
    _N + "virtualnetworks/virtualnetworkpeerings": _peering,
    _N + "networkinterfaces": _nic,
    _N + "networkinterfaces/ipconfigurations": _nested,
    _N + "networksecuritygroups/defaultsecurityrules": _nested,
    _N + "privateendpoints": _private_endpoint,
    _N + "networksecuritygroups/securityrules": _child(_SECURITY_RULE),
    _N + "routetables/routes": _child({"properties": {"addressPrefix": "10.99.0.0/16", "nextHopType": "VnetLocal"}}),
    "microsoft.compute/virtualmachines": _vm,
    _N + "networkmanagers": _network_manager,
    _N + "networkmanagers/networkgroups": _child({"properties": {"memberType": "VirtualNetwork"}}),
    _N + "networkmanagers/networkgroups/staticmembers": _static_member,
    _N + "networkmanagers/securityadminconfigurations": _child({"properties": {}}),
    _N + "networkmanagers/securityadminconfigurations/rulecollections": _rule_collection,
    _N + "networkmanagers/securityadminconfigurations/rulecollections/rules": _child(_ADMIN_RULE),
    _N + "networkwatchers/flowlogs": _flow_log,
}


def target_of(example: Example, url: str) -> str | None:
    """The resource a non-creating operation acts on (or lists the children of), as an id."""
    path = url.split("?", 1)[0]
    parts = path.strip("/").split("/")
    if len(parts) < 8:
        return None
    if example.method == "put":  # creating: the parent must exist
        return _parent(path) if len(parts) > 8 else None
    if len(parts) % 2 == 1:  # a collection (list) or an action: its owner
        return "/" + "/".join(parts[:-1])
    return path


def replay(client: TestClient, example: Example) -> Replay:
    """Create what the example needs, send its request, follow a long-running operation to its end."""
    data, subscription = localized(example)
    parameters = data["parameters"]
    url, body = build_request(example, parameters)
    world = World(client, str(parameters.get("api-version", "2026-01-01")))
    group = parameters.get("resourceGroupName")
    if isinstance(group, str):
        world.group(subscription, group)
    target = target_of(example, url)
    if target is not None:
        world.ensure(target, _hints(body))
    if isinstance(body, Mapping) and isinstance(body.get("targetResourceId"), str):
        # the NIC a diagnostic names holds the address it asks about (IP flow verify's local, next hop's source)
        hints = {"address": body.get("localIPAddress") or body.get("sourceIPAddress")}
        if isinstance(body.get("targetNicResourceId"), str):
            world.ensure(body["targetNicResourceId"], hints)
        world.ensure(body["targetResourceId"], hints)
    world.ensure_all(body)
    response = client.request(example.method.upper(), url, json=body if body is not None else None)
    exchanges = [Exchange("initial", response.status_code, _json(response))]
    final = _final(client, example, url, response)
    if final is not None:
        exchanges.append(final)
    return Replay(example, url, body, exchanges, world.failures)


def _hints(body: Any) -> dict[str, Any]:
    prefixes: list[str] = []
    if isinstance(body, Mapping):
        properties = body.get("properties") or {}
        if isinstance(properties, Mapping):
            prefixes += [properties["addressPrefix"]] if isinstance(properties.get("addressPrefix"), str) else []
            prefixes += [p for p in properties.get("addressPrefixes") or [] if isinstance(p, str)]
    return {"prefixes": prefixes}


def _json(response: Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _final(client: TestClient, example: Example, url: str, response: Response) -> Exchange | None:
    """A long-running operation's final answer: the resource for PUT/PATCH, the ``Location`` result otherwise."""
    if not example.long_running or response.status_code >= 300 or example.method == "delete":
        return None
    status = response.headers.get("Azure-AsyncOperation")
    if status:
        for _ in range(20):
            state = client.get(status).json().get("status")
            if state not in ("InProgress", "Running", None):
                break
    if example.method in ("put", "patch"):
        final = client.get(url)
        return Exchange("final", final.status_code, _json(final))
    location = response.headers.get("Location")
    if response.status_code == 202 and location:
        final = client.get(location)
        return Exchange("final", final.status_code, _json(final))
    return None


# --- mistakes of the examples themselves, corrected before sending (each would be refused by Azure too) ----------


def _with_location(parameters: dict[str, Any]) -> None:
    """A network manager is a tracked resource: ARM requires its location (the example's response has none)."""
    parameters["parameters"]["location"] = LOCATION


def _member_id(parameters: dict[str, Any]) -> None:
    """The example's member id says ``resourceGroup/`` (not ``resourceGroups/``): it names no resource at all."""
    member = parameters["parameters"]["properties"]
    member["resourceId"] = member["resourceId"].replace("/resourceGroup/", "/resourceGroups/")


def _vnet_flow_log(parameters: dict[str, Any]) -> None:
    """The example creates an NSG flow log, which Azure refuses since 2025-06-30 (``NsgFlowLogCreationBlocked``,
    tested in tests/api/test_flowlogs_api.py): the same flow log on a virtual network of its resource group."""
    body = parameters["parameters"]
    holder = body["properties"] if "targetResourceId" in body["properties"] else body
    group = holder["targetResourceId"].split("/providers/")[0]
    holder["targetResourceId"] = f"{group}/providers/Microsoft.Network/virtualNetworks/auto-flowlog-vnet"
    if "location" in body:  # in its watcher's region, where the prerequisites are (a watcher is regional)
        body["location"] = LOCATION


def _asg_id(parameters: dict[str, Any]) -> None:
    """The example's ASG id says ``provders/…/applicationSecurityGroup/`` (misspelt provider segment, singular
    type): it names no resource, and Azure refuses a reference to nothing; the id it means."""
    for asg in parameters["parameters"]["properties"].get("applicationSecurityGroups", []):
        asg["id"] = (
            asg["id"]
            .replace("/provders/", "/providers/")
            .replace("/applicationSecurityGroup/", "/applicationSecurityGroups/")
        )


CORRECTIONS = {
    "PrivateEndpointCreateWithASG": _asg_id,
    "NetworkManagerPut": _with_location,
    "NetworkManagerStaticMemberPut": _member_id,
    "NetworkWatcherFlowLogCreate": _vnet_flow_log,
    "NetworkWatcherFlowLogConfigure": _vnet_flow_log,
}

__all__ = [
    "SPEC",
    "Example",
    "Replay",
    "documented_statuses",
    "examples",
    "replay",
    "request_schema",
    "schema_problems",
    "writable_differences",
]
