"""An obviously-correct NSG evaluator, written straight from the spec (Appendix A, §0, §11, §12) on a ``Topology``.

It shares nothing with ``opennsg.engine`` but the ``Flow`` type, and no constant with the implementation: the
special-purpose ranges, platform addresses and the six default rules are written out here again from the spec, so a
wrong constant in the implementation shows up as a disagreement. Plain ``ipaddress`` membership, a linear scan of
rules sorted by priority, tags computed on the spot. Slow on purpose; every fast path is checked against it.

AVNM security admin rules (§11) are read from the raw resources (ids, scopes, the management-group tree, the
deployment status entries), not through the model's helper methods, so the §11.2/§11.6 decisions are written a
second time here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date

from opennsg.engine.flow import Flow
from opennsg.model import (
    AdminRule,
    Direction,
    IpConfiguration,
    NetworkInterface,
    NetworkSecurityGroup,
    SecurityRule,
    Subnet,
    Subscription,
    Topology,
    VirtualNetworkPeering,
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

PROTOCOLS = {"tcp": {6}, "udp": {17}, "icmp": {1, 58}, "esp": {50}, "ah": {51}}
DNS, IMDS, LKM = "AzurePlatformDNS", "AzurePlatformIMDS", "AzurePlatformLKM"

#: Spec §0 "Internet tag": the IANA special-purpose ranges that are not globally reachable.
NOT_GLOBAL = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32", "64:ff9b:1::/48", "100::/64",
)  # fmt: skip
#: Spec §11.2: subnets admin rules never reach, and delegations that make a subnet a gateway's.
ADMIN_FREE_SUBNETS = ("gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet", "azurebastionsubnet",
                      "routeserversubnet")  # fmt: skip
ADMIN_FREE_DELEGATIONS = ("microsoft.network/applicationgateways", "microsoft.network/virtualnetworkgateways",
                          "microsoft.network/vpngateways", "microsoft.network/expressroutegateways",
                          "microsoft.network/virtualhubs")  # fmt: skip
#: Spec §11.2: services with network intent policies.
INTENT_POLICY_DELEGATIONS = ("microsoft.sql/managedinstances", "microsoft.databricks/workspaces")
#: Spec §12.1.
PRIVATE_ENDPOINT_RULE = "PlatformRule_PrivateEndpointNetworkPoliciesDisabled"
#: Spec §0 "Platform exemption": the KMS addresses of AzurePlatformLKM when no service tags file defines the tag.
KMS_ADDRESSES = ("20.118.99.224/32", "40.83.235.53/32", "23.102.135.246/32")


@dataclass(frozen=True)
class RefRule:
    """The fields of a rule the reference matches on: a user rule as given, or one of the six default rules."""

    name: str
    default: bool
    direction: str
    priority: int
    protocol: str
    access: str
    source_prefixes: tuple[str, ...]
    source_asgs: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    destination_ports: tuple[str, ...]
    destination_prefix: str

    @classmethod
    def of(cls, rule: SecurityRule) -> RefRule:
        return cls(
            rule.name, False, rule.direction.value, rule.priority, rule.protocol.value, rule.access.value,
            rule.source_addresses, rule.source_asgs, rule.source_ports,
            rule.destination_addresses, rule.destination_asgs, rule.destination_ports,
            rule.destination_address_prefix or "",
        )  # fmt: skip


def _default(name: str, direction: str, priority: int, source: str, destination: str, access: str) -> RefRule:
    return RefRule(name, True, direction, priority, "*", access, (source,), (), ("*",), (destination,), (), ("*",),
                   destination)  # fmt: skip


#: Spec §2: the six default rules of every NSG.
DEFAULT_RULES = (
    _default("AllowVnetInBound", "Inbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow"),
    _default("AllowAzureLoadBalancerInBound", "Inbound", 65001, "AzureLoadBalancer", "*", "Allow"),
    _default("DenyAllInBound", "Inbound", 65500, "*", "*", "Deny"),
    _default("AllowVnetOutBound", "Outbound", 65000, "VirtualNetwork", "VirtualNetwork", "Allow"),
    _default("AllowInternetOutBound", "Outbound", 65001, "*", "Internet", "Allow"),
    _default("DenyAllOutBound", "Outbound", 65500, "*", "*", "Deny"),
)


@dataclass(frozen=True)
class RefVerdict:
    access: str
    rule_name: str | None
    nsg_id: str | None


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def _holds(cfg: IpConfiguration, address: Address) -> bool:
    """An IP configuration holds its private address or, with privateIPAddressPrefixLength, the whole block
    (the REST API: "the service will allocate a CIDR block instead of a single IP address")."""
    assert cfg.private_ip_address is not None
    if cfg.private_ip_address_prefix_length is None:
        return ipaddress.ip_address(cfg.private_ip_address) == address
    block = ipaddress.ip_network(f"{cfg.private_ip_address}/{cfg.private_ip_address_prefix_length}", strict=False)
    return block.version == address.version and address in block


def _in(address: Address, prefix: str) -> bool:
    network = ipaddress.ip_network(prefix.strip(), strict=False)
    return network.version == address.version and address in network


class Reference:
    def __init__(self, topology: Topology, nic_id: str) -> None:
        self.topology = topology
        nic = next(n for n in topology.nics.values() if _same(n.id, nic_id))
        self.nic: NetworkInterface = nic
        primary = next((c for c in nic.ip_configurations if c.primary), nic.ip_configurations[0])
        self.subnet = next((s for v in topology.vnets.values() for s in v.subnets if _same(s.id, primary.subnet)), None)
        self.vnet = next((v for v in topology.vnets.values() if any(s is self.subnet for s in v.subnets)), None)

    # --- tags -------------------------------------------------------------------------------------

    def virtual_network(self) -> list[str]:
        prefixes = ["168.63.129.16/32"]
        if self.vnet is not None:
            prefixes += list(self.vnet.address_space) + list(self.vnet.gateway_prefixes)
            for peering in self.vnet.peerings:
                if peering.peering_state.lower() == "connected":
                    prefixes += self.peered(peering)
        return prefixes

    def peered(self, peering: VirtualNetworkPeering) -> list[str]:
        """Subnet peering (the REST API's peerCompleteVnets false): only listed local subnets gain anything, and
        only the listed remote subnets' prefixes; IPv6-only peering keeps IPv6 prefixes."""
        prefixes = list(peering.remote_address_space)
        if not peering.peer_complete_vnets:
            local = [n.lower() for n in peering.local_subnet_names]
            if self.subnet is None or self.subnet.name.lower() not in local:
                return []
            remote = next(
                (v for v in self.topology.vnets.values() if _same(v.id, peering.remote_virtual_network)), None
            )
            if remote is not None:
                names = [n.lower() for n in peering.remote_subnet_names]
                prefixes = [p for s in remote.subnets if s.name.lower() in names for p in s.address_prefixes]
        if peering.enable_only_ipv6_peering:
            prefixes = [p for p in prefixes if ipaddress.ip_network(p, strict=False).version == 6]
        return prefixes

    def is_internet(self, address: Address) -> bool:
        special = list(NOT_GLOBAL) + self.virtual_network()
        return not any(_in(address, p) for p in special)

    def lkm_prefixes(self) -> list[str]:
        tags = self.topology.service_tags
        if tags is not None:
            for tag in tags.tags.values():
                if tag.name.lower() == LKM.lower():
                    return list(tag.address_prefixes)
        return list(KMS_ADDRESSES)

    def tag_contains(self, name: str, address: Address) -> bool:
        tag = name.strip().lower()
        if tag in ("virtualnetwork", "virtual_network"):
            return any(_in(address, p) for p in self.virtual_network())
        if tag == "internet":
            return self.is_internet(address)
        if tag in ("azureloadbalancer", "azure_loadbalancer"):
            return address == ipaddress.ip_address("168.63.129.16")
        if tag == DNS.lower():
            return address == ipaddress.ip_address("168.63.129.16")
        if tag == IMDS.lower():
            return address == ipaddress.ip_address("169.254.169.254")
        if tag == LKM.lower():
            return any(_in(address, p) for p in self.lkm_prefixes())
        tags = self.topology.service_tags
        for entry in tags.tags.values() if tags else ():
            if entry.name.lower() == tag and "nsg" in [f.lower() for f in entry.network_features]:
                return any(_in(address, p) for p in entry.address_prefixes)
        raise KeyError(f"unknown tag {name}")

    # --- rule fields ------------------------------------------------------------------------------

    def address_matches(self, prefixes: tuple[str, ...], asgs: tuple[str, ...], address: Address) -> bool:
        if asgs:
            for nic in self.topology.nics.values():
                # a private endpoint's ASGs are set on the endpoint and hold its NIC's address (Azure's docs:
                # "application security groups with private endpoints")
                by_endpoint = [
                    g
                    for e in self.topology.private_endpoints.values()
                    if any(_same(n, nic.id) for n in e.network_interfaces)
                    or (nic.private_endpoint is not None and _same(nic.private_endpoint, e.id))
                    for g in e.application_security_groups
                ]
                for cfg in nic.ip_configurations:
                    groups = (*cfg.application_security_groups, *by_endpoint)
                    member = any(_same(a, b) for a in asgs for b in groups)
                    if member and cfg.private_ip_address and _holds(cfg, address):
                        return True
            return False
        for text in prefixes:
            if text.strip() == "*":
                return True
            try:
                network = ipaddress.ip_network(text.strip(), strict=False)
            except ValueError:
                if self.tag_contains(text, address):
                    return True
                continue
            if network.version == address.version and address in network:
                return True
        return False

    @staticmethod
    def port_matches(texts: tuple[str, ...], port: int | None, protocol: int) -> bool:
        if protocol not in (6, 17):
            return True  # ICMP, ESP, AH, ... carry no ports: port fields are ignored (semantics §0)
        ranges = []
        for text in texts:
            if text.strip() == "*":
                ranges.append((0, 65535))
            else:
                first, _, last = text.partition("-")
                ranges.append((int(first), int(last or first)))
        if port is None:  # "any port": only a rule covering every port matches it
            covered = -1
            for lo, hi in sorted(ranges):
                if lo > covered + 1:
                    return False
                covered = max(covered, hi)
            return covered >= 65535
        return any(lo <= port <= hi for lo, hi in ranges)

    @staticmethod
    def protocol_matches(rule: RefRule, protocol: int) -> bool:
        name = rule.protocol.lower()
        return name == "*" or protocol in PROTOCOLS[name]

    def rule_matches(self, rule: RefRule, flow: Flow) -> bool:
        if flow.direction is Direction.INBOUND:
            src, sport, dst, dport = flow.remote_ip, flow.remote_port, flow.local_ip, flow.local_port
        else:
            src, sport, dst, dport = flow.local_ip, flow.local_port, flow.remote_ip, flow.remote_port
        return (
            self.protocol_matches(rule, flow.protocol)
            and self.address_matches(rule.source_prefixes, rule.source_asgs, src)
            and self.port_matches(rule.source_ports, sport, flow.protocol)
            and self.address_matches(rule.destination_prefixes, rule.destination_asgs, dst)
            and self.port_matches(rule.destination_ports, dport, flow.protocol)
        )

    # --- platform -----------------------------------------------------------------------------------

    def forced_tunnelling(self) -> bool:
        if self.subnet is None or self.subnet.route_table is None:
            return False
        table = next((t for t in self.topology.route_tables.values() if _same(t.id, self.subnet.route_table)), None)
        if table is None:
            return False
        return any(r.address_prefix == "0.0.0.0/0" and r.next_hop_type.lower() != "internet" for r in table.routes)

    def exempt_tag(self, flow: Flow) -> str | None:
        if flow.direction is not Direction.OUTBOUND:
            return None
        if flow.remote_ip == ipaddress.ip_address("168.63.129.16"):
            return DNS
        if flow.remote_ip == ipaddress.ip_address("169.254.169.254"):
            return IMDS
        if (
            flow.protocol == 6
            and flow.remote_port == 1688
            and not self.forced_tunnelling()
            and any(_in(flow.remote_ip, p) for p in self.lkm_prefixes())
        ):
            return LKM
        return None

    def smtp_blocked(self) -> bool:
        sub = next(
            (s for s in self.topology.subscriptions.values() if s.subscription_id.lower() == self.subscription_id()),
            None,
        )
        return smtp_blocked(sub)

    def subscription_id(self) -> str:
        return self.nic.id.split("/")[2].lower()

    # --- AVNM security admin rules (§11.2, §11.6) -----------------------------------------------------

    def is_private_endpoint(self) -> bool:
        if self.nic.private_endpoint:
            return True
        endpoints = self.topology.private_endpoints.values()
        return any(_same(n, self.nic.id) for pe in endpoints for n in pe.network_interfaces)

    def subnet_without_admin_rules(self, subnet: Subnet) -> bool:
        return (
            subnet.name.lower() in ADMIN_FREE_SUBNETS
            or bool(subnet.application_gateway_ip_configurations)
            or any(d.lower() in ADMIN_FREE_DELEGATIONS for d in subnet.delegated_services)
        )

    def management_groups_of(self, subscription: str) -> set[str]:
        """Lower-cased ids of every management group the subscription sits under, from the imported tree."""
        groups = list(self.topology.management_groups.values())
        found = {
            g.id.lower()
            for g in groups
            if any(s.strip().rstrip("/").split("/")[-1].lower() == subscription for s in g.subscriptions)
        }
        while True:
            more = {g.parent_id.lower() for g in groups if g.id.lower() in found and g.parent_id}
            more |= {g.id.lower() for g in groups if any(c.lower() in found for c in g.child_groups)}
            if more <= found:
                return found
            found |= more

    def manager_reaches(self, manager_id: str, subscription: str) -> bool:
        manager = next(m for m in self.topology.network_managers.values() if _same(m.id, manager_id))
        if any(s.strip().rstrip("/").split("/")[-1].lower() == subscription for s in manager.scope_subscriptions):
            return True
        above = self.management_groups_of(subscription)
        return any(g.strip().rstrip("/").lower() in above for g in manager.scope_management_groups)

    @staticmethod
    def parent(resource_id: str, steps: int = 1) -> str:
        for _ in range(steps):
            resource_id = resource_id.strip().rstrip("/").rsplit("/", 2)[0]
        return resource_id

    def configuration_deployed(self, manager_id: str, configuration_id: str, region: str) -> bool:
        """§11.6: every configuration counts as deployed while no status entry names one of its manager's."""
        configurations = [
            c for c in self.topology.security_admin_configurations.values() if _same(self.parent(c.id), manager_id)
        ]

        def names(entry: object, configuration_id: str) -> bool:
            manager = getattr(entry, "network_manager_id", None)
            if manager is not None and not _same(manager, manager_id):
                return False
            name = configuration_id.rstrip("/").split("/")[-1].lower()
            return any(
                _same(given, configuration_id) if given.strip().startswith("/") else given.strip().lower() == name
                for given in getattr(entry, "configuration_ids", ())
            )

        entries = [
            e
            for e in self.topology.deployment_statuses
            if e.deployment_type.strip().lower() in ("securityadmin", "adminpolicy")
        ]
        if not any(names(e, c.id) for e in entries for c in configurations):
            return True
        here = "".join(region.split()).lower()
        return any(
            e.deployment_status.value == "Deployed"
            and "".join(e.region.split()).lower() == here
            and names(e, configuration_id)
            for e in entries
        )

    def group_members(self, group_id: str) -> list[str]:
        return [m.resource_id for m in self.topology.static_members.values() if _same(self.parent(m.id), group_id)]

    def admin_rules_by_manager(self) -> list[tuple[str, list[AdminRule]]]:
        """(manager id, its rules in order) for each manager whose admin rules reach this NIC, in manager order."""
        subnet, vnet = self.subnet, self.vnet
        if self.is_private_endpoint() or subnet is None or vnet is None or self.subnet_without_admin_rules(subnet):
            return []
        collection_names: dict[str, str] = {}
        found: dict[str, list[AdminRule]] = {}
        answer = next(
            (a for a in self.topology.effective_admin_rules.values() if _same(a.virtual_network_id, vnet.id)), None
        )
        if answer is not None:
            for entry in answer.rules:
                found.setdefault(self.parent(entry.rule.id, 3).lower(), []).append(entry.rule)
        else:
            subscription = vnet.id.split("/")[2].lower()
            intent = any(d.lower() in INTENT_POLICY_DELEGATIONS for s in vnet.subnets for d in s.delegated_services)
            for manager in self.topology.network_managers.values():
                if not self.manager_reaches(manager.id, subscription):
                    continue
                for configuration in self.topology.security_admin_configurations.values():
                    if not _same(self.parent(configuration.id), manager.id):
                        continue
                    if not self.configuration_deployed(manager.id, configuration.id, vnet.location):
                        continue
                    modes = [m.value for m in configuration.apply_on_network_intent_policy_based_services]
                    for collection in self.topology.admin_rule_collections.values():
                        if not _same(self.parent(collection.id), configuration.id):
                            continue
                        reached = False
                        for group_id in collection.applies_to_groups:
                            group = next(
                                (g for g in self.topology.network_groups.values() if _same(g.id, group_id)), None
                            )
                            if group is None:
                                continue
                            kind = group.member_type.value if group.member_type else "VirtualNetwork"
                            target = subnet.id if kind == "Subnet" else vnet.id
                            reached = reached or any(_same(m, target) for m in self.group_members(group.id))
                        if not reached:
                            continue
                        for rule in self.topology.admin_rules.values():
                            if not _same(self.parent(rule.id), collection.id):
                                continue
                            allowed_here = "All" in modes or ("AllowRulesOnly" in modes and rule.access.value != "Deny")
                            if intent and not allowed_here:
                                continue
                            collection_names[rule.id.lower()] = collection.name
                            found.setdefault(manager.id.lower(), []).append(rule)
        for rule in (r for rules in found.values() for r in rules):
            collection_names.setdefault(rule.id.lower(), self.parent(rule.id).split("/")[-1])

        def manager_order(key: str) -> tuple[int, str]:
            manager = next((m for m in self.topology.network_managers.values() if m.id.lower() == key), None)
            return (0 if manager is not None and manager.scope_management_groups else 1, key)

        out = []
        for key in sorted(found, key=manager_order):
            rules = sorted(
                found[key], key=lambda r: (r.priority, collection_names[r.id.lower()].lower(), r.name.lower())
            )
            manager = next((m for m in self.topology.network_managers.values() if m.id.lower() == key), None)
            out.append((manager.id if manager else self.parent(rules[0].id, 3), rules))
        return out

    def group_prefixes(self, group_id: str) -> list[str]:
        prefixes: list[str] = []
        for member in self.group_members(group_id):
            for vnet in self.topology.vnets.values():
                if _same(vnet.id, member):
                    prefixes += vnet.address_space
                prefixes += [p for s in vnet.subnets if _same(s.id, member) for p in s.address_prefixes]
        return prefixes

    def admin_address_matches(self, items: tuple[object, ...], address: Address) -> bool:
        if not items:
            return True  # no sources (destinations) given: every address
        for item in items:
            kind = item.address_prefix_type.value.lower()
            text = str(item.address_prefix).strip()
            if kind == "ipprefix" and (text == "*" or _in(address, text)):
                return True
            if kind == "servicetag" and self.tag_contains(text, address):
                return True
            if kind == "networkgroup" and any(_in(address, p) for p in self.group_prefixes(text)):
                return True
        return False

    def admin_rule_matches(self, rule: AdminRule, flow: Flow) -> bool:
        if flow.direction is Direction.INBOUND:
            src, sport, dst, dport = flow.remote_ip, flow.remote_port, flow.local_ip, flow.local_port
        else:
            src, sport, dst, dport = flow.local_ip, flow.local_port, flow.remote_ip, flow.remote_port
        protocol = rule.protocol.value.lower()
        return (
            (protocol == "any" or flow.protocol in PROTOCOLS[protocol])
            and self.admin_address_matches(rule.sources, src)
            and self.port_matches(rule.source_port_ranges or ("0-65535",), sport, flow.protocol)
            and self.admin_address_matches(rule.destinations, dst)
            and self.port_matches(rule.destination_port_ranges or ("0-65535",), dport, flow.protocol)
        )

    @staticmethod
    def admin_platform_tag(rule: AdminRule) -> str | None:
        for item in rule.destinations:
            if item.address_prefix_type.value == "ServiceTag" and item.address_prefix.strip().lower() in (
                DNS.lower(),
                IMDS.lower(),
                LKM.lower(),
            ):
                return item.address_prefix.strip().lower()
        return None

    def admin_decide(self, flow: Flow, exempt: str | None) -> RefVerdict | None:
        """§11.3/§11.6: managers in order; Deny or AlwaysAllow ends, Allow or no match goes on."""
        for manager_id, rules in self.admin_rules_by_manager():
            for rule in rules:
                if rule.direction is not flow.direction:
                    continue
                if exempt is not None and self.admin_platform_tag(rule) != exempt.lower():
                    continue
                if self.admin_rule_matches(rule, flow):
                    if rule.access.value == "Deny":
                        return RefVerdict("Deny", f"securityAdminRules/{rule.name}", manager_id)
                    if rule.access.value == "AlwaysAllow":
                        return RefVerdict("Allow", f"securityAdminRules/{rule.name}", manager_id)
                    break
        return None

    # --- the chain ----------------------------------------------------------------------------------

    def nsg(self, nsg_id: str | None) -> NetworkSecurityGroup | None:
        return next((n for n in self.topology.nsgs.values() if _same(n.id, nsg_id)), None)

    def decide(self, flow: Flow) -> RefVerdict:
        exempt = self.exempt_tag(flow)
        decided = self.admin_decide(flow, exempt)
        verdict = decided if decided is not None else self.nsg_decide(flow, exempt)
        smtp = (
            flow.direction is Direction.OUTBOUND
            and flow.protocol == 6
            and flow.remote_port == 25
            and self.is_internet(flow.remote_ip)
            and self.smtp_blocked()
        )
        if smtp and verdict.access == "Allow":
            return RefVerdict("Deny", "PlatformRule_OutboundSmtpBlocked", None)
        return verdict

    def nsg_decide(self, flow: Flow, exempt: str | None) -> RefVerdict:
        subnet_nsg = self.nsg(self.subnet.network_security_group) if self.subnet else None
        nic_nsg = self.nsg(self.nic.network_security_group)
        endpoint_skips_subnet = False
        if flow.direction is Direction.INBOUND and self.is_private_endpoint() and subnet_nsg is not None:
            assert self.subnet is not None
            policies = self.subnet.private_endpoint_network_policies
            if policies is None or policies.value.lower() not in ("enabled", "networksecuritygroupenabled"):
                subnet_nsg, endpoint_skips_subnet = None, True
        chain = [subnet_nsg, nic_nsg] if flow.direction is Direction.INBOUND else [nic_nsg, subnet_nsg]
        last: RefVerdict | None = None
        evaluated = 0
        for nsg in chain:
            if nsg is None:
                continue
            evaluated += 1
            rules = [RefRule.of(r) for r in nsg.security_rules] + list(DEFAULT_RULES)
            rules = sorted((r for r in rules if r.direction == flow.direction.value), key=lambda r: r.priority)
            if exempt is not None:
                rules = [r for r in rules if not r.default and r.destination_prefix.strip().lower() == exempt.lower()]
            for rule in rules:
                if self.rule_matches(rule, flow):
                    name = ("defaultSecurityRules/" if rule.default else "securityRules/") + rule.name
                    if rule.access == "Deny":
                        return RefVerdict("Deny", name, nsg.id)
                    last = RefVerdict("Allow", name, nsg.id)
                    break
        if last is None:
            rule_name = f"PlatformRule_{exempt}" if exempt is not None and evaluated else None
            if rule_name is None and endpoint_skips_subnet:
                rule_name = PRIVATE_ENDPOINT_RULE
            last = RefVerdict("Allow", rule_name, None)
        return last


def smtp_blocked(sub: Subscription | None) -> bool:
    """Spec §0 "Outbound SMTP", read literally."""
    if sub is None:
        return True  # no information: PayAsYouGo
    if sub.created_date is not None and sub.created_date < date(2017, 11, 15):
        return False
    offer = sub.offer_type
    if offer is None:
        quota = (sub.quota_id or "").lower()
        offer = "PayAsYouGo"
        for name in ("EnterpriseAgreement", "PayAsYouGo", "MSDN", "FreeTrial", "AzurePass", "AzureInOpen", "CSP"):
            if quota.startswith(name.lower() + "_"):
                offer = name
    if offer.lower() == "enterpriseagreement":
        return False
    return not (offer.lower() == "enterprisedevtest" and sub.smtp_exemption)


def reference_decide(topology: Topology, nic_id: str, flow: Flow) -> RefVerdict:
    """The reference verdict for ``flow`` at the NIC ``nic_id``."""
    return Reference(topology, nic_id).decide(flow)
