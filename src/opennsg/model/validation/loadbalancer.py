"""Load balancers (semantics §6): frontends, probes, rules and the pools NICs join."""

from __future__ import annotations

from collections.abc import Iterator

from opennsg.model.errors import ArmError
from opennsg.model.ids import id_key
from opennsg.model.loadbalancer import LoadBalancer, ProbeProtocol
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import Finding, reference

MIN_PROBE_INTERVAL_SECONDS = 5
_LB_PORTS = (("frontendPort", 0, 65534), ("backendPort", 0, 65535))


def load_balancer_findings(topology: Topology) -> Iterator[Finding]:
    for lb in topology.load_balancers.values():
        yield from _load_balancer_problems(lb, topology)
    for nic in topology.nics.values():
        for i, cfg in enumerate(nic.ip_configurations):
            base = f"properties.ipConfigurations[{i}].properties"
            for j, pool_id in enumerate(cfg.load_balancer_backend_address_pools):
                owner = topology.load_balancer_of_pool(pool_id)
                exists = owner is not None and any(id_key(p.id) == id_key(pool_id) for p in owner.backend_address_pools)
                target = f"{base}.loadBalancerBackendAddressPools[{j}].id"
                yield from reference(nic.id, pool_id, exists, nic.id, target)
            for j, rule_id in enumerate(cfg.load_balancer_inbound_nat_rules):
                # the rules themselves are not modelled: their load balancer must exist, as Azure checks
                exists = topology.load_balancer(_parent_load_balancer(rule_id, "/inboundnatrules/")) is not None
                target = f"{base}.loadBalancerInboundNatRules[{j}].id"
                yield from reference(nic.id, rule_id, exists, nic.id, target)


def _parent_load_balancer(child_id: str, segment: str) -> str:
    """The load balancer id of one of its children (``.../loadBalancers/lb/inboundNatRules/r``)."""
    return id_key(child_id).rpartition(segment)[0] or child_id


def _load_balancer_problems(lb: LoadBalancer, topology: Topology) -> Iterator[Finding]:
    def problem(code: str, message: str, target: str) -> Finding:
        return Finding(lb.id, ArmError(code, message, target))

    for i, frontend in enumerate(lb.frontend_ip_configurations):
        base = f"properties.frontendIPConfigurations[{i}].properties"
        if frontend.public_ip_address is None and frontend.subnet is None:
            message = Message.LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS.format(child_id=frontend.id)
            yield problem(Code.LOAD_BALANCER_FRONTEND_WITHOUT_ADDRESS, message, base)
        exists = topology.subnet(frontend.subnet) is not None
        yield from reference(frontend.id, frontend.subnet, exists, lb.id, f"{base}.subnet.id")
        exists = topology.public_ip(frontend.public_ip_address) is not None
        yield from reference(frontend.id, frontend.public_ip_address, exists, lb.id, f"{base}.publicIPAddress.id")
    for i, probe in enumerate(lb.probes):
        base = f"properties.probes[{i}].properties"
        if not 1 <= probe.port <= 65535:
            message = Message.LOAD_BALANCER_INVALID_PORT.format(
                what="port", child_id=probe.id, value=probe.port, low=1, high=65535
            )
            yield problem(Code.LOAD_BALANCER_INVALID_PORT, message, f"{base}.port")
        if probe.interval_in_seconds < MIN_PROBE_INTERVAL_SECONDS:
            message = Message.LOAD_BALANCER_INVALID_PROBE_INTERVAL.format(
                child_id=probe.id, value=probe.interval_in_seconds, low=MIN_PROBE_INTERVAL_SECONDS
            )
            yield problem(Code.LOAD_BALANCER_INVALID_PROBE_INTERVAL, message, f"{base}.intervalInSeconds")
        if probe.protocol is not ProbeProtocol.TCP and not probe.request_path:
            message = Message.LOAD_BALANCER_PROBE_REQUEST_PATH.format(child_id=probe.id, protocol=probe.protocol.value)
            yield problem(Code.LOAD_BALANCER_PROBE_REQUEST_PATH, message, f"{base}.requestPath")
    children = {
        "frontendIPConfiguration": {id_key(f.id) for f in lb.frontend_ip_configurations},
        "backendAddressPool": {id_key(p.id) for p in lb.backend_address_pools},
        "probe": {id_key(p.id) for p in lb.probes},
    }
    for i, rule in enumerate(lb.load_balancing_rules):
        base = f"properties.loadBalancingRules[{i}].properties"
        for (name, low, high), value in zip(_LB_PORTS, (rule.frontend_port, rule.backend_port), strict=True):
            if not low <= value <= high:
                message = Message.LOAD_BALANCER_INVALID_PORT.format(
                    what=name, child_id=rule.id, value=value, low=low, high=high
                )
                yield problem(Code.LOAD_BALANCER_INVALID_PORT, message, f"{base}.{name}")
        for name, referenced in (
            ("frontendIPConfiguration", rule.frontend_ip_configuration),
            ("backendAddressPool", rule.backend_address_pool),
            ("probe", rule.probe),
        ):
            exists = referenced is not None and id_key(referenced) in children[name]
            yield from reference(rule.id, referenced, exists, lb.id, f"{base}.{name}.id")
