"""The stateful data plane: return traffic, rule changes vs existing flows, flushConnection, timeouts, limits, LBs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from opennsg.dataplane.clock import ManualClock
from opennsg.dataplane.conntrack import Outcome, TcpFlag
from opennsg.dataplane.network import Network, Packet
from opennsg.flowlogs.formats import FlowState, LogFormat
from opennsg.flowlogs.writer import FlowLogWriter
from opennsg.model import (
    Access,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    Protocol,
    PublicIpAddress,
    SecurityRule,
    Subnet,
    Topology,
    VirtualNetwork,
    default_security_rules,
)
from opennsg.model.ids import network_id
from opennsg.model.loadbalancer import (
    BackendAddressPool,
    FrontendIpConfiguration,
    LoadBalancer,
    LoadBalancingRule,
    Probe,
    ProbeProtocol,
    TransportProtocol,
)

SUB, RG = "00000000-0000-0000-0000-000000000001", "rg"
SYN, ACK, FIN, RST = (frozenset({f}) for f in (TcpFlag.SYN, TcpFlag.ACK, TcpFlag.FIN, TcpFlag.RST))
TCP, UDP = 6, 17
CLIENT = "203.0.114.7"  # a public address (Internet)


def nid(*parts: str) -> str:
    return network_id(SUB, RG, *parts)


def rule(
    name: str, priority: int, direction: Direction, access: Access, protocol: Protocol, port: str, source: str = "*"
):
    return SecurityRule(
        name=name, priority=priority, direction=direction, access=access, protocol=protocol,
        source_address_prefix=source, source_port_range="*", destination_address_prefix="*",
        destination_port_range=port, id=nid("networkSecurityGroups", "x", "securityRules", name),
    )  # fmt: skip


ALLOW_SSH = rule("allow-ssh", 100, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "22")
ALLOW_HTTP = rule("allow-http", 110, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "80", "Internet")
DENY_OUT = rule("deny-all-out", 4000, Direction.OUTBOUND, Access.DENY, Protocol.ANY, "*")


def nsg(name: str, *rules: SecurityRule, flush: bool = False) -> NetworkSecurityGroup:
    ident = nid("networkSecurityGroups", name)
    return NetworkSecurityGroup(
        id=ident, name=name, location="westeurope", security_rules=rules,
        default_security_rules=default_security_rules(ident), flush_connection=flush,
    )  # fmt: skip


POOL = nid("loadBalancers", "lb", "backendAddressPools", "pool")


def nic(name: str, ip: str, subnet: str, *, nsg_name: str | None = None, pip: str | None = None, pool: bool = False):
    ident = nid("networkInterfaces", name)
    cfg = IpConfiguration(
        id=f"{ident}/ipConfigurations/ipconfig1", name="ipconfig1", private_ip_address=ip,
        subnet=nid("virtualNetworks", "vnet", "subnets", subnet), primary=True,
        public_ip_address=nid("publicIPAddresses", pip) if pip else None,
        load_balancer_backend_address_pools=(POOL,) if pool else (),
    )  # fmt: skip
    return NetworkInterface(
        id=ident, name=name, location="westeurope", ip_configurations=(cfg,),
        network_security_group=nid("networkSecurityGroups", nsg_name) if nsg_name else None,
    )  # fmt: skip


def world(
    web_rules: tuple[SecurityRule, ...] = (ALLOW_SSH, ALLOW_HTTP, DENY_OUT),
    flush: bool = False,
    timeout: int | None = None,
) -> Topology:
    """VNet 10.0.0.0/16: subnet web (NSG web-nsg) with web1 (public IP) and web2, subnet app with app1 (NIC NSG)."""
    vnet_id = nid("virtualNetworks", "vnet")
    subnets = (
        Subnet(f"{vnet_id}/subnets/web", "web", ("10.0.1.0/24",), nid("networkSecurityGroups", "web-nsg")),
        Subnet(f"{vnet_id}/subnets/app", "app", ("10.0.2.0/24",)),
    )
    vnet = VirtualNetwork(
        id=vnet_id, name="vnet", location="westeurope", address_space=("10.0.0.0/16",), subnets=subnets,
        flow_timeout_in_minutes=timeout,
    )  # fmt: skip
    return Topology.of(
        nsgs=[nsg("web-nsg", *web_rules, flush=flush), nsg("app-nsg")],
        vnets=[vnet],
        nics=[
            nic("web1", "10.0.1.4", "web", pip="web1-pip", pool=True),
            nic("web2", "10.0.1.5", "web", pool=True),
            nic("app1", "10.0.2.4", "app", nsg_name="app-nsg"),
        ],
        public_ips=[
            PublicIpAddress(nid("publicIPAddresses", "web1-pip"), "web1-pip", "westeurope", ip_address="20.1.1.1"),
            PublicIpAddress(nid("publicIPAddresses", "lb-pip"), "lb-pip", "westeurope", ip_address="20.2.2.2"),
        ],
    )


def load_balancer() -> LoadBalancer:
    lb = nid("loadBalancers", "lb")
    return LoadBalancer(
        id=lb, name="lb", location="westeurope",
        frontend_ip_configurations=(
            FrontendIpConfiguration(f"{lb}/frontendIPConfigurations/fe", "fe",
                                    public_ip_address=nid("publicIPAddresses", "lb-pip")),
        ),
        backend_address_pools=(BackendAddressPool(POOL, "pool"),),
        probes=(Probe(f"{lb}/probes/http", "http", ProbeProtocol.TCP, 80),),
        load_balancing_rules=(
            LoadBalancingRule(f"{lb}/loadBalancingRules/web", "web", f"{lb}/frontendIPConfigurations/fe", POOL,
                              TransportProtocol.TCP, 80, 8080, probe=f"{lb}/probes/http"),
        ),
    )  # fmt: skip


def tcp(src: str, sport: int, dst: str, dport: int, flags: frozenset[TcpFlag] = ACK, size: int = 60) -> Packet:
    return Packet(src, dst, TCP, sport, dport, flags, 1, size)


def handshake(net: Network, client: tuple[str, int], server: tuple[str, int]) -> list[bool]:
    """SYN, SYN-ACK, ACK; the delivery of each."""
    return [
        net.send(tcp(*client, *server, SYN)).delivered,
        net.send(tcp(*server, *client, SYN | ACK)).delivered,
        net.send(tcp(*client, *server, ACK)).delivered,
    ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def test_inbound_initiated_return_traffic_passes_an_outbound_deny_all(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    assert handshake(net, (CLIENT, 50000), ("10.0.1.4", 22)) == [True, True, True]
    reply = net.send(tcp("10.0.1.4", 22, CLIENT, 50000))
    assert reply.legs[0].outcome is Outcome.RETURN
    # A flow the NIC itself starts is decided by the rules: the outbound deny-all drops it.
    new = net.send(tcp("10.0.1.4", 40000, CLIENT, 443, SYN))
    assert not new.delivered and new.legs[0].rule == "UserRule_deny-all-out"


def test_outbound_initiated_return_traffic_passes_deny_all_inbound(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    query = net.send(Packet("10.0.2.4", "8.8.8.8", UDP, 53000, 53))
    assert query.delivered and query.legs[0].rule == "DefaultRule_AllowInternetOutBound"
    answer = net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000))
    assert answer.delivered and answer.legs[0].outcome is Outcome.RETURN
    unsolicited = net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53001))
    assert not unsolicited.delivered and unsolicited.legs[0].rule == "DefaultRule_DenyAllInBound"


def test_icmp_echo_reply_returns_through_the_pseudo_connection(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    assert net.send(Packet("10.0.2.4", "1.1.1.1", 1)).delivered
    assert net.send(Packet("1.1.1.1", "10.0.2.4", 1)).legs[0].outcome is Outcome.RETURN


def test_ssh_session_survives_deletion_of_its_allow_rule(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    assert handshake(net, (CLIENT, 50000), ("10.0.1.4", 22)) == [True, True, True]
    net.update(world(web_rules=(ALLOW_HTTP, DENY_OUT)))
    clock.advance(timedelta(seconds=30))
    assert net.send(tcp(CLIENT, 50000, "10.0.1.4", 22, size=1200)).delivered
    assert net.send(tcp("10.0.1.4", 22, CLIENT, 50000, size=800)).delivered
    refused = net.send(tcp(CLIENT, 50001, "10.0.1.4", 22, SYN))
    assert not refused.delivered and refused.legs[0].rule == "DefaultRule_DenyAllInBound"


def test_flush_connection_drops_existing_flows_now_denied(clock: ManualClock) -> None:
    net = Network(world(flush=True), clock=clock)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    handshake(net, (CLIENT, 50002), ("10.0.1.4", 80))
    dropped = net.update(world(web_rules=(ALLOW_HTTP, DENY_OUT), flush=True))
    assert [e.connection.key.local_port for e in dropped] == [22]
    assert not net.send(tcp(CLIENT, 50000, "10.0.1.4", 22)).delivered
    assert net.send(tcp(CLIENT, 50002, "10.0.1.4", 80)).delivered


def test_enabling_flush_connection_reevaluates_once(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    net.update(world(web_rules=(ALLOW_HTTP, DENY_OUT)))  # flag off: the session survives
    assert net.send(tcp(CLIENT, 50000, "10.0.1.4", 22)).delivered
    dropped = net.update(world(web_rules=(ALLOW_HTTP, DENY_OUT), flush=True))
    assert len(dropped) == 1
    assert not net.send(tcp(CLIENT, 50000, "10.0.1.4", 22)).delivered


def test_idle_timeout_default_four_minutes(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    net.send(Packet("10.0.2.4", "8.8.8.8", UDP, 53000, 53))
    clock.advance(timedelta(minutes=3, seconds=59))
    assert net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000)).delivered
    clock.advance(timedelta(minutes=4))
    assert not net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000)).delivered


def test_idle_timeout_follows_the_vnet_setting(clock: ManualClock) -> None:
    net = Network(world(timeout=10), clock=clock)
    net.send(Packet("10.0.2.4", "8.8.8.8", UDP, 53000, 53))
    clock.advance(timedelta(minutes=9, seconds=59))
    assert net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000)).delivered
    clock.advance(timedelta(minutes=10))
    assert not net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000)).delivered


def test_tcp_fin_and_rst_end_the_flow(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    net.send(tcp(CLIENT, 50000, "10.0.1.4", 22, FIN))
    assert net.send(tcp("10.0.1.4", 22, CLIENT, 50000, FIN)).delivered  # the second FIN still passes
    assert not net.send(tcp("10.0.1.4", 22, CLIENT, 50000)).delivered  # flow gone: outbound deny-all
    handshake(net, (CLIENT, 50001), ("10.0.1.4", 22))
    net.send(tcp(CLIENT, 50001, "10.0.1.4", 22, RST))
    assert not net.send(tcp("10.0.1.4", 22, CLIENT, 50001)).delivered


def test_flow_table_overflow_refuses_and_counts(clock: ManualClock) -> None:
    net = Network(world(), clock=clock, max_flows_per_nic=2)
    outcomes = [net.send(tcp(CLIENT, 50000 + i, "10.0.1.4", 22, SYN)).legs[0].outcome for i in range(4)]
    assert outcomes == [Outcome.NEW_ALLOWED, Outcome.NEW_ALLOWED, Outcome.REFUSED, Outcome.REFUSED]
    web1 = net.topology.find_nic("web1")
    assert web1 is not None
    assert net.table(web1).refused == 2 and len(net.table(web1)) == 2
    # Tracked flows still pass at a full table.
    assert net.send(tcp("10.0.1.4", 22, CLIENT, 50000, SYN | ACK)).delivered


def test_vm_to_vm_meets_both_chains_with_their_own_conntrack(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    first = net.send(tcp("10.0.2.4", 40000, "10.0.1.4", 22, SYN))
    assert first.delivered
    assert [(leg.nic, leg.direction, leg.outcome) for leg in first.legs] == [
        ("app1", Direction.OUTBOUND, Outcome.NEW_ALLOWED),
        ("web1", Direction.INBOUND, Outcome.NEW_ALLOWED),
    ]
    reply = net.send(tcp("10.0.1.4", 22, "10.0.2.4", 40000, SYN | ACK))
    assert reply.delivered and [leg.outcome for leg in reply.legs] == [Outcome.RETURN, Outcome.RETURN]
    # web1 may not start flows to app1 (deny-all-out); app1 refuses unsolicited inbound anyway.
    assert not net.send(tcp("10.0.1.4", 41000, "10.0.2.4", 22, SYN)).delivered


def test_inbound_to_public_ip_is_evaluated_at_the_private_ip(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    result = net.send(tcp(CLIENT, 50000, "20.1.1.1", 22, SYN))
    assert result.delivered and result.translated_to == ("10.0.1.4", 22)
    assert result.legs[0].nic == "web1" and result.legs[0].rule == "UserRule_allow-ssh"


def test_load_balancer_frontend_to_backend_keeps_the_client_address(clock: ManualClock) -> None:
    web_rules = (ALLOW_SSH, rule("allow-8080", 120, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "8080", "Internet"))
    net = Network(world(web_rules=web_rules).with_(load_balancers=[load_balancer()]), clock=clock)
    result = net.send(tcp(CLIENT, 50000, "20.2.2.2", 80, SYN))
    assert result.delivered and result.translated_to in {("10.0.1.4", 8080), ("10.0.1.5", 8080)}
    assert result.legs[0].rule == "UserRule_allow-8080"
    backend = result.translated_to
    assert backend is not None
    assert net.send(tcp(backend[0], 8080, CLIENT, 50000, SYN | ACK)).delivered
    # Without an allow for the *backend* port (the frontend port is irrelevant), data traffic is denied.
    denied = Network(world().with_(load_balancers=[load_balancer()]), clock=clock).send(
        tcp(CLIENT, 50000, "20.2.2.2", 80, SYN)
    )
    assert not denied.delivered and denied.legs[0].rule == "DefaultRule_DenyAllInBound"


def test_internal_client_recognises_replies_from_the_backend(clock: ManualClock) -> None:
    web_rules = (rule("allow-8080", 120, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "8080"),)
    net = Network(world(web_rules=web_rules).with_(load_balancers=[load_balancer()]), clock=clock)
    result = net.send(tcp("10.0.2.4", 40000, "20.2.2.2", 80, SYN))
    assert result.delivered and result.translated_to is not None
    reply = net.send(tcp(result.translated_to[0], 8080, "10.0.2.4", 40000, SYN | ACK))
    assert reply.translated_from == ("20.2.2.2", 80)
    assert [leg.outcome for leg in reply.legs] == [Outcome.RETURN, Outcome.RETURN]


def test_probes_are_judged_by_azure_load_balancer_rules(clock: ManualClock) -> None:
    web_rules = (rule("allow-8080", 120, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "8080", "Internet"),)
    net = Network(world(web_rules=web_rules).with_(load_balancers=[load_balancer()]), clock=clock)
    healthy = net.probe(load_balancer())
    assert [(p.nic, p.healthy) for p in healthy] == [("web1", True), ("web2", True)]
    # 168.63.129.16 is in the VirtualNetwork tag too (semantics §0), so AllowVnetInBound (65000) lets probes in first.
    assert healthy[0].result.legs[0].rule == "DefaultRule_AllowVnetInBound"
    block = rule("deny-probes", 100, Direction.INBOUND, Access.DENY, Protocol.ANY, "*", "AzureLoadBalancer")
    net.update(world(web_rules=(block, *web_rules)).with_(load_balancers=[load_balancer()]))
    assert [p.healthy for p in net.probe(load_balancer())] == [False, False]
    dead = net.send(tcp(CLIENT, 50001, "20.2.2.2", 80, SYN))
    assert not dead.delivered and "healthy backend" in dead.reason


def test_flow_log_events_begin_continue_every_five_minutes_end_with_deltas(clock: ManualClock) -> None:
    writer = FlowLogWriter({LogFormat.NSG_V2})
    net = Network(world(), clock=clock, flow_logs=writer)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    for _ in range(11):  # one packet a minute keeps the flow alive
        clock.advance(timedelta(minutes=1))
        net.send(tcp(CLIENT, 50000, "10.0.1.4", 22, size=100))
    net.send(tcp("10.0.1.4", 22, CLIENT, 50000, RST))
    net.send(tcp(CLIENT, 50001, "10.0.1.4", 3389, SYN))
    states = [(e.tuple.state, e.tuple.access, e.rule) for e in writer.entries]
    assert states == [
        (FlowState.BEGIN, Access.ALLOW, "UserRule_allow-ssh"),
        (FlowState.CONTINUING, Access.ALLOW, "UserRule_allow-ssh"),
        (FlowState.CONTINUING, Access.ALLOW, "UserRule_allow-ssh"),
        (FlowState.END, Access.ALLOW, "UserRule_allow-ssh"),
        (FlowState.DENIED, Access.DENY, "DefaultRule_DenyAllInBound"),
    ]
    sent = sum(e.tuple.packets_sent or 0 for e in writer.entries)
    received = sum(e.tuple.packets_received or 0 for e in writer.entries)
    assert (sent, received) == (2 + 11, 2)  # deltas add up to the flow's totals
    first_c = writer.entries[1].tuple
    assert first_c.timestamp - writer.entries[0].tuple.timestamp == timedelta(minutes=5)
    assert (first_c.packets_sent, first_c.bytes_sent) == (2 + 4, 120 + 400)


def test_rules_of_other_nics_do_not_matter_and_update_keeps_flows(clock: ManualClock) -> None:
    """Association change: moving web1 under a deny-everything NIC NSG leaves its session alone (no flush)."""
    net = Network(world(), clock=clock)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    topo = world()
    web1 = topo.find_nic("web1")
    assert web1 is not None
    moved = replace(web1, network_security_group=nid("networkSecurityGroups", "app-nsg"))
    net.update(topo.with_(nics=[*(n for n in topo.nics.values() if n.name != "web1"), moved]))
    assert net.send(tcp(CLIENT, 50000, "10.0.1.4", 22)).delivered
    assert not net.send(tcp(CLIENT, 50001, "10.0.1.4", 22, SYN)).delivered


def test_disabling_flush_connection_reevaluates_nothing(clock: ManualClock) -> None:
    net = Network(world(flush=True), clock=clock)
    handshake(net, (CLIENT, 50000), ("10.0.1.4", 22))
    assert net.update(world(web_rules=(ALLOW_HTTP, DENY_OUT), flush=False)) == []
    assert net.send(tcp(CLIENT, 50000, "10.0.1.4", 22)).delivered


def test_flush_applies_to_changes_of_the_flushing_nsg_only(clock: ManualClock) -> None:
    """app1's NIC NSG (no flush) changes under a flushing subnet NSG that does not: app1's flows are kept."""
    topology = world()
    vnet = next(iter(topology.vnets.values()))
    flushing = nsg("app-subnet-nsg", rule("allow-all-in", 100, Direction.INBOUND, Access.ALLOW, Protocol.ANY, "*"),
                   flush=True)  # fmt: skip
    subnets = tuple(replace(s, network_security_group=flushing.id) if s.name == "app" else s for s in vnet.subnets)
    app_nic_allow = nsg("app-nsg", rule("allow-ssh", 100, Direction.INBOUND, Access.ALLOW, Protocol.TCP, "22"))
    start = topology.with_(vnets=[replace(vnet, subnets=subnets)], nsgs=[*topology.nsgs.values(), flushing])
    start = start.with_(nsgs=[app_nic_allow if n.name == "app-nsg" else n for n in start.nsgs.values()])
    net = Network(start, clock=clock)
    assert handshake(net, (CLIENT, 50000), ("10.0.2.4", 22)) == [True, True, True]
    without_ssh = start.with_(nsgs=[nsg("app-nsg") if n.name == "app-nsg" else n for n in start.nsgs.values()])
    assert net.update(without_ssh) == []
    assert net.send(tcp(CLIENT, 50000, "10.0.2.4", 22)).delivered
    # A change to the flushing NSG itself re-evaluates app1's flows against the whole chain.
    tightened = replace(flushing, security_rules=(rule("allow-rdp", 100, Direction.INBOUND, Access.ALLOW,
                                                       Protocol.TCP, "3389"),))  # fmt: skip
    dropped = net.update(without_ssh.with_(nsgs=[tightened if n.key == flushing.key else n
                                                 for n in without_ssh.nsgs.values()]))  # fmt: skip
    assert len(dropped) == 1 and not net.send(tcp(CLIENT, 50000, "10.0.2.4", 22)).delivered


def test_a_new_vnet_flow_timeout_applies_to_tracked_flows(clock: ManualClock) -> None:
    net = Network(world(), clock=clock)
    net.send(Packet("10.0.2.4", "8.8.8.8", UDP, 53000, 53))
    net.update(world(timeout=30))
    clock.advance(timedelta(minutes=29))
    assert net.send(Packet("8.8.8.8", "10.0.2.4", UDP, 53, 53000)).delivered


def test_internal_load_balancer_frontend(clock: ManualClock) -> None:
    public = load_balancer()
    internal = replace(
        public,
        frontend_ip_configurations=(
            FrontendIpConfiguration(f"{public.id}/frontendIPConfigurations/fe", "fe", private_ip_address="10.0.1.100"),
        ),
        load_balancing_rules=(replace(public.load_balancing_rules[0], protocol=TransportProtocol.ALL, frontend_port=0,
                                      backend_port=0),),  # HA ports
    )  # fmt: skip
    web_rules = (rule("allow-vnet-5000", 100, Direction.INBOUND, Access.ALLOW, Protocol.UDP, "5000", "VirtualNetwork"),)
    net = Network(world(web_rules=web_rules).with_(load_balancers=[internal]), clock=clock)
    result = net.send(Packet("10.0.2.4", "10.0.1.100", UDP, 40000, 5000))
    assert result.delivered and result.translated_to in {("10.0.1.4", 5000), ("10.0.1.5", 5000)}
    assert [leg.nic for leg in result.legs] == ["app1", result.legs[1].nic] and result.legs[
        1
    ].rule == "UserRule_allow-vnet-5000"
    assert result.translated_to is not None
    reply = net.send(Packet(result.translated_to[0], "10.0.2.4", UDP, 5000, 40000))
    assert reply.delivered and reply.translated_from == ("10.0.1.100", 5000)


@pytest.mark.parametrize(
    ("sku", "subnet_nsg", "delivered"),
    [("Standard", False, False), (None, False, False), ("Basic", False, True), ("Standard", True, True)],
)
def test_a_standard_public_ip_is_closed_while_no_nsg_applies(
    clock: ManualClock, sku: str | None, subnet_nsg: bool, delivered: bool
) -> None:
    """Semantics §12.3: the internet reaches a NIC through a Standard SKU public IP (the default SKU) only when an
    NSG applies at the NIC or its subnet; a Basic one is open."""
    topology = world()
    vnet = next(iter(topology.vnets.values()))
    web = replace(
        vnet.subnets[0], network_security_group=vnet.subnets[0].network_security_group if subnet_nsg else None
    )
    pip = replace(topology.public_ips[nid("publicIPAddresses", "web1-pip").casefold()], sku_name=sku)
    topology = topology.with_(
        vnets=[replace(vnet, subnets=(web, vnet.subnets[1]))],
        public_ips=[pip, *(p for p in topology.public_ips.values() if p.key != pip.key)],
    )
    result = Network(topology, clock=clock).send(tcp(CLIENT, 50000, "20.1.1.1", 22, SYN))
    assert result.delivered is delivered, result.reason
    if not delivered:
        assert "closed while no NSG applies" in result.reason
