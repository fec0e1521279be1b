"""Default rules (semantics §2), platform rules (semantics §0, §4.2, §6), IPv6 and port-less protocols."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import SUB, World, rule
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import ServiceTag, ServiceTags, Subscription, Topology

VM = "10.0.1.4"
VM6 = "fd00::1:4"


def single_nic(
    *rules: object,
    on: str = "subnet",
    route_table_next_hop: str | None = None,
    subscription: Subscription | None = None,
    service_tags: ServiceTags | None = None,
    nic_rules: tuple[object, ...] | None = None,
) -> Topology:
    """One NIC (10.0.1.4, fd00::1:4); ``rules`` go in an NSG on its subnet (or NIC); ``nic_rules`` in a NIC NSG."""
    world = World()
    nsg = world.nsg("nsg", *rules)  # type: ignore[arg-type]
    nic_nsg = world.nsg("nic-nsg", *nic_rules) if nic_rules is not None else None  # type: ignore[arg-type]
    table = world.route_table("rt", route_table_next_hop) if route_table_next_hop else None
    subnet = world.subnet("s1", "10.0.1.0/24", "fd00::1:0/112", nsg=nsg if on == "subnet" else None, route_table=table)
    world.nic("nic", subnet, VM, VM6, nsg=nsg if on == "nic" else nic_nsg)
    return world.topology(subscription, service_tags)


def verify(
    topology: Topology,
    direction: str,
    protocol: str,
    remote: str,
    remote_port: int | None,
    local_port: int | None = 40000,
) -> tuple[str, str | None, str | None]:
    local = VM6 if ":" in remote else VM
    verdict = Engine(topology).verify("nic", Flow.make(direction, protocol, local, local_port, remote, remote_port))
    return verdict.access.value, verdict.rule_name, verdict.nsg_id.rsplit("/", 1)[-1] if verdict.nsg_id else None


# --- default rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "remote", "expected"),
    [
        ("Inbound", "10.0.9.9", ("Allow", "defaultSecurityRules/AllowVnetInBound", "nsg")),
        ("Inbound", "52.1.2.3", ("Deny", "defaultSecurityRules/DenyAllInBound", "nsg")),
        ("Outbound", "10.0.9.9", ("Allow", "defaultSecurityRules/AllowVnetOutBound", "nsg")),
        ("Outbound", "8.8.8.8", ("Allow", "defaultSecurityRules/AllowInternetOutBound", "nsg")),
        ("Outbound", "192.168.1.1", ("Deny", "defaultSecurityRules/DenyAllOutBound", "nsg")),
        ("Inbound", "fd00::9", ("Allow", "defaultSecurityRules/AllowVnetInBound", "nsg")),
        ("Outbound", "2001:4860::8888", ("Allow", "defaultSecurityRules/AllowInternetOutBound", "nsg")),
        ("Outbound", "2001:db8::1", ("Deny", "defaultSecurityRules/DenyAllOutBound", "nsg")),
    ],
)
def test_default_rules(direction: str, remote: str, expected: tuple[str, str, str]) -> None:
    assert verify(single_nic(), direction, "TCP", remote, 443) == expected


def test_load_balancer_default_rule_is_reached_only_outside_virtual_network() -> None:
    """168.63.129.16 is in VirtualNetwork (semantics §0), so AllowVnetInBound wins while the NIC's IP is in the VNet;
    AllowAzureLoadBalancerInBound decides for a local address outside the VNet's space."""
    world = World()
    world.address_space = ("10.0.0.0/16",)
    nsg = world.nsg("nsg")
    subnet = world.subnet("s1", "10.0.1.0/24", "192.168.7.0/24", nsg=nsg)
    world.nic("nic", subnet, VM, "192.168.7.4")
    engine = Engine(world.topology())
    probe_in_vnet = engine.verify("nic", Flow.make("Inbound", "TCP", VM, 80, "168.63.129.16", 1234))
    probe_outside = engine.verify("nic", Flow.make("Inbound", "TCP", "192.168.7.4", 80, "168.63.129.16", 1234))
    assert probe_in_vnet.rule_name == "defaultSecurityRules/AllowVnetInBound"
    assert probe_outside.rule_name == "defaultSecurityRules/AllowAzureLoadBalancerInBound"
    assert probe_outside.allowed


def test_no_nsg_allows_everything_without_a_rule() -> None:
    world = World()
    world.nic("nic", world.subnet("s1", "10.0.1.0/24"), VM)
    topology = world.topology(Subscription(SUB, offer_type="EnterpriseAgreement"))
    assert verify(topology, "Inbound", "UDP", "52.1.2.3", 53) == ("Allow", None, None)
    assert verify(topology, "Outbound", "ESP", "52.1.2.3", None) == ("Allow", None, None)


# --- DNS / IMDS exemption -----------------------------------------------------------------------------

DENY_ALL_OUT = rule("deny-all-out", 4000, "Outbound", "Deny")


@pytest.mark.parametrize(
    ("remote", "tag", "protocol", "port"),
    [
        ("168.63.129.16", "AzurePlatformDNS", "UDP", 53),
        ("168.63.129.16", "AzurePlatformDNS", "TCP", 80),
        ("169.254.169.254", "AzurePlatformIMDS", "TCP", 80),
        ("169.254.169.254", "AzurePlatformIMDS", "ICMP", None),
    ],
)
@pytest.mark.parametrize("on", ["subnet", "nic"])
def test_platform_exemption_ignores_deny_all(remote: str, tag: str, protocol: str, port: int | None, on: str) -> None:
    assert verify(single_nic(DENY_ALL_OUT, on=on), "Outbound", protocol, remote, port) == (
        "Allow",
        f"PlatformRule_{tag}",
        None,
    )
    # With only the default rules (DenyAllOutBound is skipped too).
    assert verify(single_nic(on=on), "Outbound", protocol, remote, port)[1] == f"PlatformRule_{tag}"


@pytest.mark.parametrize(
    ("remote", "tag"), [("168.63.129.16", "AzurePlatformDNS"), ("169.254.169.254", "AzurePlatformIMDS")]
)
@pytest.mark.parametrize("on", ["subnet", "nic"])
def test_explicit_platform_tag_deny(remote: str, tag: str, on: str) -> None:
    deny = rule("deny-platform", 300, "Outbound", "Deny", "*", "*", tag.lower())
    assert verify(single_nic(deny, on=on), "Outbound", "UDP", remote, 53) == (
        "Deny",
        "securityRules/deny-platform",
        "nsg",
    )


def test_explicit_platform_allow_in_nic_nsg_and_deny_in_subnet_nsg() -> None:
    allow = rule("allow-dns", 300, "Outbound", "Allow", "Udp", "*", "AzurePlatformDNS", "53")
    deny = rule("deny-dns", 300, "Outbound", "Deny", "*", "*", "AzurePlatformDNS")
    topology = single_nic(deny, nic_rules=(allow,))
    assert verify(topology, "Outbound", "UDP", "168.63.129.16", 53) == ("Deny", "securityRules/deny-dns", "nsg")
    # Without the subnet deny, the NIC NSG's allow is the last rule matched.
    topology = single_nic(DENY_ALL_OUT, nic_rules=(allow,))
    assert verify(topology, "Outbound", "UDP", "168.63.129.16", 53) == ("Allow", "securityRules/allow-dns", "nic-nsg")
    # A flow the explicit rule does not match (TCP) still falls back to the platform rule.
    assert verify(topology, "Outbound", "TCP", "168.63.129.16", 53)[1] == "PlatformRule_AzurePlatformDNS"


def test_platform_exemption_with_no_nsg_has_no_rule() -> None:
    world = World()
    world.nic("nic", world.subnet("s1", "10.0.1.0/24"), VM)
    assert verify(world.topology(), "Outbound", "UDP", "168.63.129.16", 53) == ("Allow", None, None)


def test_inbound_from_host_ip_is_never_exempt() -> None:
    deny_in = rule("deny-all-in", 100, "Inbound", "Deny")
    assert verify(single_nic(deny_in), "Inbound", "TCP", "168.63.129.16", 5000) == (
        "Deny",
        "securityRules/deny-all-in",
        "nsg",
    )
    deny_lb = rule("deny-lb", 100, "Inbound", "Deny", "*", "AzureLoadBalancer")
    assert verify(single_nic(deny_lb), "Inbound", "TCP", "168.63.129.16", 5000)[1] == "securityRules/deny-lb"


# --- KMS ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kms", ["20.118.99.224", "40.83.235.53", "23.102.135.246"])
def test_kms_exempt_without_forced_tunnelling(kms: str) -> None:
    assert verify(single_nic(DENY_ALL_OUT), "Outbound", "TCP", kms, 1688) == (
        "Allow",
        "PlatformRule_AzurePlatformLKM",
        None,
    )
    internet_route = single_nic(DENY_ALL_OUT, route_table_next_hop="Internet")
    assert verify(internet_route, "Outbound", "TCP", kms, 1688)[1] == "PlatformRule_AzurePlatformLKM"


@pytest.mark.parametrize(("protocol", "port"), [("TCP", 1689), ("UDP", 1688), ("TCP", 443)])
def test_kms_exemption_is_tcp_1688_only(protocol: str, port: int) -> None:
    assert verify(single_nic(DENY_ALL_OUT), "Outbound", protocol, "20.118.99.224", port) == (
        "Deny",
        "securityRules/deny-all-out",
        "nsg",
    )


@pytest.mark.parametrize("next_hop", ["VirtualAppliance", "VirtualNetworkGateway", "None"])
def test_kms_not_exempt_under_forced_tunnelling(next_hop: str) -> None:
    topology = single_nic(DENY_ALL_OUT, route_table_next_hop=next_hop)
    assert verify(topology, "Outbound", "TCP", "20.118.99.224", 1688) == ("Deny", "securityRules/deny-all-out", "nsg")
    # DNS stays exempt: forced tunnelling only affects the KMS rule.
    assert verify(topology, "Outbound", "UDP", "168.63.129.16", 53)[1] == "PlatformRule_AzurePlatformDNS"


def test_kms_addresses_from_service_tags_file() -> None:
    tags = ServiceTags.of([ServiceTag("AzurePlatformLKM", ("20.200.0.0/30",), ("API",))])
    topology = single_nic(DENY_ALL_OUT, service_tags=tags)
    assert verify(topology, "Outbound", "TCP", "20.200.0.2", 1688)[1] == "PlatformRule_AzurePlatformLKM"
    assert verify(topology, "Outbound", "TCP", "20.118.99.224", 1688)[1] == "securityRules/deny-all-out"


# --- SMTP --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription", "blocked"),
    [
        (None, True),
        (Subscription(SUB), True),
        (Subscription(SUB, offer_type="EnterpriseAgreement"), False),
        (Subscription(SUB, offer_type="enterpriseagreement"), False),
        (Subscription(SUB, quota_id="EnterpriseAgreement_2014-09-01"), False),
        (Subscription(SUB, quota_id="PayAsYouGo_2014-09-01"), True),
        (Subscription(SUB, quota_id="Sponsored_2016-01-01"), True),
        (Subscription(SUB, offer_type="PayAsYouGo"), True),
        (Subscription(SUB, offer_type="EnterpriseDevTest"), True),
        (Subscription(SUB, offer_type="EnterpriseDevTest", smtp_exemption=True), False),
        (Subscription(SUB, offer_type="MSDN", smtp_exemption=True), True),
        (Subscription(SUB, offer_type="CSP"), True),
        (Subscription(SUB, offer_type="FreeTrial"), True),
        (Subscription(SUB, offer_type="PayAsYouGo", created_date=date(2017, 11, 14)), False),
        (Subscription(SUB, offer_type="PayAsYouGo", created_date=date(2017, 11, 15)), True),
        (Subscription(SUB, offer_type="EnterpriseAgreement", quota_id="PayAsYouGo_2014-09-01"), False),
    ],
)
def test_outbound_smtp_by_subscription(subscription: Subscription | None, blocked: bool) -> None:
    topology = single_nic(subscription=subscription)
    expected = (
        ("Deny", "PlatformRule_OutboundSmtpBlocked", None)
        if blocked
        else ("Allow", "defaultSecurityRules/AllowInternetOutBound", "nsg")
    )
    assert verify(topology, "Outbound", "TCP", "52.1.2.3", 25) == expected


def test_smtp_block_only_hits_tcp_25_to_internet() -> None:
    topology = single_nic()
    assert verify(topology, "Outbound", "TCP", "52.1.2.3", 587)[0] == "Allow"
    assert verify(topology, "Outbound", "UDP", "52.1.2.3", 25)[0] == "Allow"
    assert verify(topology, "Outbound", "TCP", "10.0.9.9", 25)[1] == "defaultSecurityRules/AllowVnetOutBound"
    assert verify(topology, "Inbound", "TCP", "52.1.2.3", 25)[1] == "defaultSecurityRules/DenyAllInBound"


def test_smtp_nsg_deny_reported_before_platform_block() -> None:
    deny = rule("deny-smtp", 100, "Outbound", "Deny", "Tcp", "*", "*", "25")
    assert verify(single_nic(deny), "Outbound", "TCP", "52.1.2.3", 25) == ("Deny", "securityRules/deny-smtp", "nsg")


def test_smtp_blocked_without_any_nsg() -> None:
    world = World()
    world.nic("nic", world.subnet("s1", "10.0.1.0/24"), VM)
    assert verify(world.topology(), "Outbound", "TCP", "52.1.2.3", 25) == (
        "Deny",
        "PlatformRule_OutboundSmtpBlocked",
        None,
    )


# --- IPv6 and port-less protocols -------------------------------------------------------------------------


def test_ipv6_rules_only_match_ipv6_flows() -> None:
    allow6 = rule("allow-https-v6", 200, "Inbound", "Allow", "Tcp", "2001:4860::/32", "*", "443")
    topology = single_nic(allow6)
    assert verify(topology, "Inbound", "TCP", "2001:4860::8888", 50000, 443) == (
        "Allow",
        "securityRules/allow-https-v6",
        "nsg",
    )
    assert verify(topology, "Inbound", "TCP", "2001:4861::1", 50000, 443)[1] == "defaultSecurityRules/DenyAllInBound"
    assert verify(topology, "Inbound", "TCP", "52.1.2.3", 50000, 443)[1] == "defaultSecurityRules/DenyAllInBound"


def test_icmp_rule_covers_icmpv6() -> None:
    allow_icmp = rule("allow-icmp", 200, "Inbound", "Allow", "Icmp")
    topology = single_nic(allow_icmp)
    assert verify(topology, "Inbound", "ICMPv6", "2001:4860::8888", None)[1] == "securityRules/allow-icmp"
    assert verify(topology, "Inbound", "ICMP", "52.1.2.3", None)[1] == "securityRules/allow-icmp"
    assert verify(topology, "Inbound", "ESP", "52.1.2.3", None)[1] == "defaultSecurityRules/DenyAllInBound"


@pytest.mark.parametrize("protocol", ["ICMP", "ESP", "AH", "47"])
def test_port_fields_ignored_for_portless_flows(protocol: str) -> None:
    any_port_80 = rule("any-80", 200, "Inbound", "Allow", "*", "*", "*", "80", source_ports="1000-2000")
    assert verify(single_nic(any_port_80), "Inbound", protocol, "52.1.2.3", None, None)[1] == "securityRules/any-80"


@pytest.mark.parametrize(("rule_protocol", "flow_protocol"), [("Icmp", "ICMP"), ("Esp", "ESP"), ("Ah", "AH")])
def test_portless_protocol_rule_with_ports(rule_protocol: str, flow_protocol: str) -> None:
    odd = rule("odd-ports", 200, "Inbound", "Allow", rule_protocol, "*", "*", "22")
    assert verify(single_nic(odd), "Inbound", flow_protocol, "52.1.2.3", None, None)[1] == "securityRules/odd-ports"
    assert verify(single_nic(odd), "Inbound", "TCP", "52.1.2.3", 5000, 22)[1] == "defaultSecurityRules/DenyAllInBound"


def test_flow_without_port_matches_only_rules_covering_every_port() -> None:
    some = rule("some-ports", 200, "Inbound", "Allow", "Tcp", "*", "*", ("0-100", "101-65535"))
    narrow = rule("narrow", 100, "Inbound", "Deny", "Tcp", "*", "*", "22")
    topology = single_nic(narrow, some)
    assert verify(topology, "Inbound", "TCP", "52.1.2.3", 999, local_port=None)[1] == "securityRules/some-ports"
    assert verify(topology, "Inbound", "TCP", "52.1.2.3", 999, local_port=22)[1] == "securityRules/narrow"
