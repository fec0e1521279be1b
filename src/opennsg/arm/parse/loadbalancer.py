"""Load balancers: what NSGs see of them (semantics §6): frontends, backend pools, probes and rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opennsg.arm.parse.reader import Reader, properties_of
from opennsg.model.loadbalancer import (
    BackendAddressPool,
    FrontendIpConfiguration,
    LoadBalancer,
    LoadBalancingRule,
    Probe,
    ProbeProtocol,
    TransportProtocol,
)
from opennsg.model.validation import Code


def parse_load_balancer(body: Mapping[str, Any], resource_id: str, reader: Reader, path: str = "") -> LoadBalancer:
    """A load balancer's frontends, backend pools, probes and load-balancing rules (value checks: validation)."""
    props, pp = properties_of(body, path)
    frontends = tuple(
        FrontendIpConfiguration(
            child.id,
            reader.name(child.body, child.id, child.path),
            private_ip_address=reader.text(child.properties, "privateIPAddress", child.properties_path),
            public_ip_address=reader.reference(child.properties, "publicIPAddress", child.properties_path),
            subnet=reader.reference(child.properties, "subnet", child.properties_path),
        )
        for child in reader.children(resource_id, "frontendIPConfigurations", props, pp)
    )
    pools = tuple(
        BackendAddressPool(child.id, reader.name(child.body, child.id, child.path))
        for child in reader.children(resource_id, "backendAddressPools", props, pp)
    )
    probes: list[Probe] = []
    for child in reader.children(resource_id, "probes", props, pp):
        name = reader.name(child.body, child.id, child.path)
        inner, ip = child.properties, child.properties_path
        protocol = reader.enum(inner, "protocol", ip, ProbeProtocol, Code.INVALID_REQUEST_FORMAT, required=True)
        port = reader.integer(inner, "port", ip, required=True)
        interval = reader.integer(inner, "intervalInSeconds", ip)
        if protocol is not None and port is not None:
            probes.append(
                Probe(child.id, name, protocol, port, 5 if interval is None else interval,
                      reader.text(inner, "requestPath", ip))
            )  # fmt: skip
    rules: list[LoadBalancingRule] = []
    for child in reader.children(resource_id, "loadBalancingRules", props, pp):
        name = reader.name(child.body, child.id, child.path)
        inner, ip = child.properties, child.properties_path
        frontend = reader.reference(inner, "frontendIPConfiguration", ip)
        pool = reader.reference(inner, "backendAddressPool", ip) or next(
            iter(reader.references(inner, "backendAddressPools", ip)), None
        )
        transport = reader.enum(inner, "protocol", ip, TransportProtocol, Code.INVALID_REQUEST_FORMAT, required=True)
        frontend_port = reader.integer(inner, "frontendPort", ip, required=True)
        backend_port = reader.integer(inner, "backendPort", ip, required=True)
        for value, key in ((frontend, "frontendIPConfiguration"), (pool, "backendAddressPool")):
            if value is None and reader.get(inner, key) is None:
                reader.missing(key, f"{ip}{key}")
        if frontend and pool and transport is not None and frontend_port is not None and backend_port is not None:
            rules.append(
                LoadBalancingRule(
                    child.id, name, frontend, pool, transport, frontend_port, backend_port,
                    reader.reference(inner, "probe", ip), reader.flag(inner, "enableFloatingIP", ip),
                )
            )  # fmt: skip
    return LoadBalancer(
        **reader.tracked(body, resource_id, path),
        sku=reader.sku(body, path)[0] or "Standard",
        frontend_ip_configurations=frontends,
        backend_address_pools=pools,
        probes=tuple(probes),
        load_balancing_rules=tuple(rules),
    )
