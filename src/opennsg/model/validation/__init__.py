"""Azure's validation of NSGs and the resources around them (semantics §1, §5, §7.5 and the decisions of §0).

Every check reports through ``ArmError(code, message, target)``; codes and message templates live in
``Code`` and ``Message`` below so they are easy to find and test. Checks never stop at the first problem.

Decisions taken here where Azure is silent (each in one place):

- Dangling references (subnet -> NSG, NIC -> subnet, rule -> ASG, VM -> NIC, ...) use ``InvalidResourceReference``
  and name both ends.
- NICs of one ASG in different VNets use ``AllNetworkInterfacesInApplicationSecurityGroupMustBeFromSameVnet``.
- The 4,000 "IP addresses and ranges" limit is counted per NSG and per side (source, destination) over all user
  rules; every entry of a singular or plural prefix field counts as one, a service tag or ``*`` included
  (each is one value the user specified); ASGs are counted by their own limits instead.
- "One service tag per rule" is enforced per address field: Azure's own ``AllowVnetInBound`` carries
  ``VirtualNetwork`` on both sides, so a per-rule limit of one would reject it. A field holds at most one tag
  because the singular field takes one value and the plural field refuses tags.
- IPv4 and IPv6 literals may not be mixed within one address field (the documented case: a plural prefix list
  holding both families). Whether Azure also rejects an IPv4 source with an IPv6 destination is unconfirmed
  (semantics §1.4), so that is accepted; such a rule can never match and is left to the analysis to report.
- Names are checked (``NAME_PATTERN``) on NSGs and rules, the resources this project's rules are about; rule names
  are unique per NSG, case-insensitively (``DuplicateSecurityRuleName``).
- Both or neither of a slot's two fields use the documented two-field message (semantics §0), for addresses as for
  ports; an ASG list beside a prefix (a case Azure's message is not known for) names all three alternatives.
"""

from __future__ import annotations

from collections.abc import Iterator

from opennsg.model.errors import ArmError
from opennsg.model.resources import NetworkSecurityGroup, Resource
from opennsg.model.topology import Topology
from opennsg.model.validation.avnm import (
    admin_rule_problems,
    avnm_findings,
    deployed_configurations_by_region,
    topology_notes,
)
from opennsg.model.validation.codes import Code, Message
from opennsg.model.validation.common import (
    Finding,
    canonical_tag,
    is_known_tag,
    is_valid_name,
    tag_findings,
    tag_problems,
)
from opennsg.model.validation.flowlog import flow_log_findings
from opennsg.model.validation.loadbalancer import load_balancer_findings
from opennsg.model.validation.network import (
    nic_findings,
    private_endpoint_findings,
    public_ip_findings,
    route_table_findings,
    vm_findings,
    vnet_findings,
)
from opennsg.model.validation.nsg import (
    AsgMembership,
    asg_membership_findings,
    nsg_findings,
    region_limit_findings,
    rule_id,
    service_tag_hint,
)


def validate_nsg(nsg: NetworkSecurityGroup, topology: Topology) -> list[ArmError]:
    """Every problem of one NSG as a PUT of it would meet, targets relative to the NSG's JSON."""
    return [f.error for f in nsg_findings(nsg, topology, lambda: AsgMembership.of(topology))]


def validate_topology(topology: Topology) -> list[ArmError]:
    """Every problem of a whole topology; targets are ``{resource id}#{path in its JSON}``."""
    return [
        ArmError(
            f.error.code,
            f.error.message,
            f"{f.resource_id}#{f.error.target}" if f.error.target else f.resource_id,
            f.error.hint,
        )
        for f in topology_findings(topology)
    ]


def topology_findings(topology: Topology) -> list[Finding]:
    """Every problem of a whole topology, each tied to the resource it is in."""
    findings: list[Finding] = []
    membership = AsgMembership.of(topology)
    for nsg in topology.nsgs.values():
        findings.extend(nsg_findings(nsg, topology, membership))
    findings.extend(region_limit_findings(topology))
    findings.extend(vnet_findings(topology))
    findings.extend(nic_findings(topology))
    findings.extend(asg_membership_findings(topology, membership))
    findings.extend(vm_findings(topology))
    findings.extend(avnm_findings(topology))
    findings.extend(private_endpoint_findings(topology))
    findings.extend(load_balancer_findings(topology))
    findings.extend(flow_log_findings(topology))
    findings.extend(route_table_findings(topology))
    findings.extend(public_ip_findings(topology))
    for resource in _resources_besides_nsgs(topology):
        findings.extend(tag_findings(resource.id, resource.tags))
    return findings


def _resources_besides_nsgs(topology: Topology) -> Iterator[Resource]:
    """Every resource with ARM tags except the NSGs (``validate_nsg`` checks theirs)."""
    for collection in (
        topology.asgs, topology.vnets, topology.route_tables, topology.nics, topology.vms, topology.public_ips,
        topology.private_endpoints, topology.nat_gateways, topology.network_managers, topology.network_groups,
        topology.static_members, topology.security_admin_configurations, topology.admin_rule_collections,
        topology.admin_rules, topology.load_balancers,
    ):  # fmt: skip
        yield from collection.values()


__all__ = [
    "Code",
    "Finding",
    "Message",
    "admin_rule_problems",
    "avnm_findings",
    "canonical_tag",
    "deployed_configurations_by_region",
    "is_known_tag",
    "is_valid_name",
    "rule_id",
    "service_tag_hint",
    "tag_problems",
    "topology_findings",
    "topology_notes",
    "validate_nsg",
    "validate_topology",
]
