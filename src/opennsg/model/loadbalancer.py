"""Azure Load Balancer, as far as NSGs see it (semantics §6): frontends, backend pools, probes and rules.

Backend pool membership is held by NIC IP configurations (``IpConfiguration.load_balancer_backend_address_pools``),
as in ARM; a pool here is only a name and an id.
"""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.model.enums import CaseInsensitiveEnum
from opennsg.model.ids import id_key
from opennsg.model.resources import Resource


class ProbeProtocol(CaseInsensitiveEnum):
    TCP = "Tcp"
    HTTP = "Http"
    HTTPS = "Https"


class TransportProtocol(CaseInsensitiveEnum):
    """``TransportProtocol`` of load-balancing rules."""

    TCP = "Tcp"
    UDP = "Udp"
    ALL = "All"


@dataclass(frozen=True, slots=True)
class FrontendIpConfiguration:
    """A frontend: public (``public_ip_address`` is a public IP resource id) or internal (a private IP)."""

    id: str
    name: str
    private_ip_address: str | None = None
    public_ip_address: str | None = None
    subnet: str | None = None

    @property
    def is_public(self) -> bool:
        return self.public_ip_address is not None


@dataclass(frozen=True, slots=True)
class BackendAddressPool:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Probe:
    id: str
    name: str
    protocol: ProbeProtocol
    port: int
    interval_in_seconds: int = 5
    request_path: str | None = None


@dataclass(frozen=True, slots=True)
class LoadBalancingRule:
    id: str
    name: str
    frontend_ip_configuration: str
    backend_address_pool: str
    protocol: TransportProtocol
    frontend_port: int
    backend_port: int
    probe: str | None = None
    enable_floating_ip: bool = False

    def carries(self, protocol_number: int, port: int | None) -> bool:
        """This rule takes a packet of IANA ``protocol_number`` to ``port`` on its frontend (HA ports: 0/All)."""
        wanted = {TransportProtocol.TCP: {6}, TransportProtocol.UDP: {17}, TransportProtocol.ALL: {6, 17}}
        if protocol_number not in wanted[self.protocol]:
            return False
        return self.frontend_port == 0 or self.frontend_port == port


@dataclass(frozen=True, slots=True)
class LoadBalancer(Resource):
    sku: str = "Standard"
    frontend_ip_configurations: tuple[FrontendIpConfiguration, ...] = ()
    backend_address_pools: tuple[BackendAddressPool, ...] = ()
    probes: tuple[Probe, ...] = ()
    load_balancing_rules: tuple[LoadBalancingRule, ...] = ()

    def probe(self, probe_id: str | None) -> Probe | None:
        if probe_id is None:
            return None
        key = id_key(probe_id)
        return next((p for p in self.probes if id_key(p.id) == key), None)

    def frontend(self, frontend_id: str) -> FrontendIpConfiguration | None:
        key = id_key(frontend_id)
        return next((f for f in self.frontend_ip_configurations if id_key(f.id) == key), None)
