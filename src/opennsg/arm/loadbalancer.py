"""Azure Load Balancer JSON (ARM GET, ``az network lb show``, lists of them) → ``LoadBalancer`` values.

Accepts the same file shapes as the rest of the ARM edge: one resource, an array, ``{"value": [...]}``, and
directories of ``*.json``; other resource types in those files are ignored. ``az`` output hoists
``properties`` to the top level, so both placements are read. Every problem is reported at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.loadbalancer import (
    BackendAddressPool,
    FrontendIpConfiguration,
    LoadBalancer,
    LoadBalancingRule,
    Probe,
    ProbeProtocol,
    TransportProtocol,
)

LOAD_BALANCER_TYPE = "microsoft.network/loadbalancers"


class _Reader:
    """Field access that records a problem (with its JSON path) instead of raising."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.errors: list[ArmError] = []

    def missing(self, path: str, what: str) -> None:
        self.errors.append(ArmError("MissingRequiredProperty", f"{what} is required.", f"{self.target}: {path}"))

    def text(self, body: dict[str, Any], key: str, path: str) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.errors.append(ArmError("InvalidRequestFormat", f"'{key}' must be a string.", f"{self.target}: {path}"))
            return None
        return value

    def ref(self, body: dict[str, Any], key: str, path: str) -> str | None:
        value = body.get(key)
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("id"), str):
            self.errors.append(
                ArmError("InvalidRequestFormat", f"'{key}' must be an object with an id.", f"{self.target}: {path}")
            )
            return None
        return str(value["id"])

    def integer(self, body: dict[str, Any], key: str, path: str, low: int, high: int) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.errors.append(
                ArmError("InvalidRequestFormat", f"'{key}' must be an integer {low}–{high}.", f"{self.target}: {path}")
            )
            return None
        return value

    def enum(self, body: dict[str, Any], key: str, path: str, choices: dict[str, Any]) -> Any:
        value = self.text(body, key, path)
        if value is None:
            self.missing(f"{path}.{key}", f"'{key}'")
            return None
        found = choices.get(value.casefold())
        if found is None:
            self.errors.append(
                ArmError(
                    "InvalidRequestFormat",
                    f"'{key}' must be one of {', '.join(sorted(choices))}; got '{value}'.",
                    f"{self.target}: {path}",
                )
            )
        return found


def _properties(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    return props if isinstance(props, dict) else body


def _items(reader: _Reader, props: dict[str, Any], key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    values = props.get(key) or []
    if not isinstance(values, list):
        reader.errors.append(ArmError("InvalidRequestFormat", f"'{key}' must be an array.", f"{reader.target}: {key}"))
        return
    for i, item in enumerate(values):
        path = f"properties.{key}[{i}]"
        if not isinstance(item, dict):
            reader.errors.append(ArmError("InvalidRequestFormat", "must be an object.", f"{reader.target}: {path}"))
            continue
        yield path, item


def _child(lb_id: str, collection: str, item: dict[str, Any], reader: _Reader, path: str) -> tuple[str, str] | None:
    """(id, name) of a child resource; the id is built from the parent when only the name is given."""
    name = item.get("name") if isinstance(item.get("name"), str) else None
    ident = item.get("id") if isinstance(item.get("id"), str) else None
    if name is None and ident is not None:
        name = ident.rstrip("/").rsplit("/", 1)[-1]
    if name is None:
        reader.missing(f"{path}.name", "'name'")
        return None
    return (ident or f"{lb_id}/{collection}/{name}", name)


def parse_load_balancer(body: dict[str, Any], target: str = "loadBalancer") -> LoadBalancer:
    """One load balancer; ``OpenNsgError`` with every problem when the JSON is not one."""
    reader = _Reader(target)
    lb_id = reader.text(body, "id", "id")
    name = reader.text(body, "name", "name")
    if lb_id is None:
        reader.missing("id", "'id'")
        raise OpenNsgError(reader.errors)
    name = name or lb_id.rstrip("/").rsplit("/", 1)[-1]
    props = _properties(body)
    frontends: list[FrontendIpConfiguration] = []
    for path, item in _items(reader, props, "frontendIPConfigurations"):
        child = _child(lb_id, "frontendIPConfigurations", item, reader, path)
        p = _properties(item)
        private = reader.text(p, "privateIPAddress", f"{path}.properties.privateIPAddress")
        public = reader.ref(p, "publicIPAddress", f"{path}.properties.publicIPAddress")
        if private is None and public is None:
            reader.missing(f"{path}.properties", "'privateIPAddress' or 'publicIPAddress'")
        if child:
            subnet = reader.ref(p, "subnet", f"{path}.properties.subnet")
            frontends.append(FrontendIpConfiguration(child[0], child[1], private, public, subnet))
    pools = [
        BackendAddressPool(*child)
        for path, item in _items(reader, props, "backendAddressPools")
        if (child := _child(lb_id, "backendAddressPools", item, reader, path))
    ]
    probes: list[Probe] = []
    probe_protocols = {p.value.casefold(): p for p in ProbeProtocol}
    for path, item in _items(reader, props, "probes"):
        child = _child(lb_id, "probes", item, reader, path)
        p = _properties(item)
        protocol = reader.enum(p, "protocol", f"{path}.properties", probe_protocols)
        port = reader.integer(p, "port", f"{path}.properties.port", 1, 65535)
        if p.get("port") is None:
            reader.missing(f"{path}.properties.port", "'port'")
        interval = reader.integer(p, "intervalInSeconds", f"{path}.properties.intervalInSeconds", 5, 2147483647)
        if child and protocol and port is not None:
            request_path = reader.text(p, "requestPath", f"{path}.properties.requestPath")
            probes.append(Probe(child[0], child[1], protocol, port, interval or 5, request_path))
    rules: list[LoadBalancingRule] = []
    transports = {t.value.casefold(): t for t in TransportProtocol}
    for path, item in _items(reader, props, "loadBalancingRules"):
        child = _child(lb_id, "loadBalancingRules", item, reader, path)
        p = _properties(item)
        frontend = reader.ref(p, "frontendIPConfiguration", f"{path}.properties.frontendIPConfiguration")
        pool = reader.ref(p, "backendAddressPool", f"{path}.properties.backendAddressPool")
        if pool is None and isinstance(p.get("backendAddressPools"), list) and p["backendAddressPools"]:
            first = p["backendAddressPools"][0]
            pool = first.get("id") if isinstance(first, dict) and isinstance(first.get("id"), str) else None
        protocol = reader.enum(p, "protocol", f"{path}.properties", transports)
        front_port = reader.integer(p, "frontendPort", f"{path}.properties.frontendPort", 0, 65534)
        back_port = reader.integer(p, "backendPort", f"{path}.properties.backendPort", 0, 65535)
        for value, key in ((frontend, "frontendIPConfiguration"), (pool, "backendAddressPool")):
            if value is None:
                reader.missing(f"{path}.properties.{key}", f"'{key}'")
        for key in ("frontendPort", "backendPort"):
            if p.get(key) is None:
                reader.missing(f"{path}.properties.{key}", f"'{key}'")
        probe = reader.ref(p, "probe", f"{path}.properties.probe")
        floating = bool(p.get("enableFloatingIP", False))
        if child and frontend and pool and protocol and front_port is not None and back_port is not None:
            rules.append(
                LoadBalancingRule(child[0], child[1], frontend, pool, protocol, front_port, back_port, probe, floating)
            )
    if reader.errors:
        raise OpenNsgError(reader.errors)
    sku = body.get("sku")
    return LoadBalancer(
        id=lb_id,
        name=name,
        location=str(body.get("location") or ""),
        tags=dict(body.get("tags") or {}),
        sku=str(sku.get("name") or "Standard") if isinstance(sku, dict) else "Standard",
        frontend_ip_configurations=tuple(frontends),
        backend_address_pools=tuple(pools),
        probes=tuple(probes),
        load_balancing_rules=tuple(rules),
    )


def _candidates(document: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(document, list):
        for i, item in enumerate(document):
            for path, found in _candidates(item):
                yield f"[{i}]{path}", found
    elif isinstance(document, dict):
        if isinstance(document.get("value"), list) and "type" not in document:
            for path, found in _candidates(document["value"]):
                yield f".value{path}", found
        elif str(document.get("type", "")).casefold() == LOAD_BALANCER_TYPE:
            yield "", document


def load_load_balancers(paths: Iterable[Path]) -> tuple[LoadBalancer, ...]:
    """Every load balancer in the files (directories: ``*.json`` recursively); all problems at once."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.json")) if path.is_dir() else [path])
    found: list[LoadBalancer] = []
    errors: list[ArmError] = []
    for file in files:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            errors.append(ArmError("InvalidJson", f"Cannot read JSON: {exc}", str(file)))
            continue
        for where, body in _candidates(document):
            try:
                found.append(parse_load_balancer(body, f"{file}{where}"))
            except OpenNsgError as exc:
                errors.extend(exc.errors)
    if errors:
        raise OpenNsgError(errors)
    return tuple(found)
