"""NSG diagnostics (Network Watcher ``networkConfigurationDiagnostic``, semantics §8.4) for one traffic profile.

A profile names sets, not one flow: ``source``/``destination`` may be an IP, a CIDR, ``*`` or a service tag,
``protocol`` may be ``*``, ``destinationPort`` may be ``*``. OpenNSG's decision: a rule field *matches* a profile
when it covers the whole profile set (every flow the profile describes); so an IP/port profile is judged exactly
as IP flow verify judges that flow, and a wider profile is decided by the first rule that decides all of it
(source ports are always "any"). Port fields are ignored for an ICMP profile. The platform exemptions and the
SMTP block apply when the whole profile falls under them; a platform verdict is named in the extra
``platformRule`` field of ``networkSecurityGroupResult``; ``notes`` says when the remote address is in an IANA
special-purpose range (neither Internet nor VirtualNetwork). Rule names use the ``UserRule_``/``DefaultRule_`` form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opennsg.engine.addresses import AddressSet, PortSet, subtract_intervals
from opennsg.engine.evaluate import evaluate
from opennsg.engine.ir import NicPolicy, ResolvedRule, RuleMatch, Verdict, rule_log_name
from opennsg.engine.resolve import outside_internet, tag_set
from opennsg.model.enums import IANA_ICMP, IANA_ICMPV6, IANA_TCP, IANA_UDP, PORTED_PROTOCOLS, Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, PLATFORM_RULE_PREFIX, SMTP_PORT
from opennsg.model.topology import Topology
from opennsg.model.values import parse_address, parse_port_range, parse_prefix

PROFILE_FIELDS = ("direction", "protocol", "source", "destination", "destinationPort")
PROFILE_PROTOCOLS: dict[str, frozenset[int] | None] = {
    "*": None,
    "tcp": frozenset({IANA_TCP}),
    "udp": frozenset({IANA_UDP}),
    "icmp": frozenset({IANA_ICMP, IANA_ICMPV6}),
}


def _subset(inner: AddressSet, outer: AddressSet) -> bool:
    return not inner.empty and inner.difference(outer).empty


def _ports_subset(inner: PortSet, outer: PortSet) -> bool:
    return not subtract_intervals(inner.intervals, outer.intervals)


@dataclass(frozen=True, slots=True)
class ProfileTest:
    """A diagnostics profile as sets; a rule field matches when it contains the profile's whole set."""

    direction: Direction
    protocols: frozenset[int] | None
    source: AddressSet
    destination: AddressSet
    destination_ports: PortSet

    @property
    def portless(self) -> bool:
        return self.protocols is not None and not (self.protocols & PORTED_PROTOCOLS)

    def _protocol(self, rule: ResolvedRule) -> bool:
        return rule.protocols is None or (self.protocols is not None and self.protocols <= rule.protocols)

    def explain(self, rule: ResolvedRule) -> RuleMatch:
        return RuleMatch(
            rule=rule.rule,
            protocol_matched=self._protocol(rule),
            source_matched=_subset(self.source, rule.source),
            source_port_matched=self.portless or _ports_subset(PortSet.any(), rule.source_ports),
            destination_matched=_subset(self.destination, rule.destination),
            destination_port_matched=self.portless or _ports_subset(self.destination_ports, rule.destination_ports),
        )

    def matches(self, rule: ResolvedRule) -> bool:
        return self.explain(rule).matched

    def exempt_tag(self, policy: NicPolicy) -> str | None:
        if self.direction is not Direction.OUTBOUND:
            return None
        for tag, addresses in policy.platform_tags.items():
            if _subset(self.destination, addresses):
                kms = self.protocols == frozenset({IANA_TCP}) and self.destination_ports == PortSet.of(
                    [(KMS_PORT, KMS_PORT)]
                )
                if tag == PLATFORM_LKM_TAG and not kms:
                    continue
                return tag
        return None

    def smtp_blocked(self, policy: NicPolicy) -> bool:
        return (
            policy.smtp_blocked
            and self.direction is Direction.OUTBOUND
            and self.protocols == frozenset({IANA_TCP})
            and self.destination_ports == PortSet.of([(SMTP_PORT, SMTP_PORT)])
            and _subset(self.destination, policy.internet)
        )


def _address(topology: Topology, policy: NicPolicy, field: str, value: Any, problems: list[ArmError]) -> AddressSet:
    text = str(value).strip()
    if text == "*":
        return AddressSet.any()
    network = parse_prefix(text)
    if network is not None:
        return AddressSet.of([network])
    tagged = tag_set(topology, policy.nic, text)
    if tagged is None:
        problems.append(
            ArmError(
                "InvalidParameter", f"Profile {field} '{value}' is not an IP, a CIDR, '*' or a service tag.", field
            )
        )
        return AddressSet()
    return tagged


def profile_test(topology: Topology, policy: NicPolicy, profile: Mapping[str, Any]) -> ProfileTest:
    """Parse and check a profile; every problem is reported at once."""
    problems = [
        ArmError("MissingRequiredProperty", f"Profile property '{name}' is required.", name)
        for name in PROFILE_FIELDS
        if profile.get(name) in (None, "")
    ]
    if problems:
        raise OpenNsgError(problems)
    direction = Direction.parse(str(profile["direction"]))
    if not isinstance(direction, Direction):
        problems.append(ArmError("InvalidParameter", "Profile direction must be Inbound or Outbound.", "direction"))
    protocol_text = str(profile["protocol"]).strip().casefold()
    if protocol_text not in PROFILE_PROTOCOLS:
        problems.append(ArmError("InvalidParameter", "Profile protocol must be *, TCP, UDP or ICMP.", "protocol"))
    port_text = str(profile["destinationPort"]).strip()
    ports = parse_port_range(port_text)
    if ports is None or (port_text != "*" and ports[0] != ports[1]):
        problems.append(
            ArmError(
                "InvalidParameter", "Profile destinationPort must be '*' or a single port 0-65535.", "destinationPort"
            )
        )
    source = _address(topology, policy, "source", profile["source"], problems)
    destination = _address(topology, policy, "destination", profile["destination"], problems)
    if problems:
        raise OpenNsgError(problems)
    assert isinstance(direction, Direction) and ports is not None
    return ProfileTest(direction, PROFILE_PROTOCOLS[protocol_text], source, destination, PortSet.of([ports]))


def _result(verdict: Verdict) -> dict[str, Any]:
    groups = []
    for step in verdict.trace:
        group: dict[str, Any] = {"networkSecurityGroupId": step.nsg_id, "appliedTo": step.applied_to}
        if step.matched_rule is not None:
            group["matchedRule"] = {"ruleName": rule_log_name(step.matched_rule), "action": step.access.value}
        group["rulesEvaluationResult"] = [
            {
                "name": rule_log_name(r.rule),
                "protocolMatched": r.protocol_matched,
                "sourceMatched": r.source_matched,
                "sourcePortMatched": r.source_port_matched,
                "destinationMatched": r.destination_matched,
                "destinationPortMatched": r.destination_port_matched,
            }
            for r in step.rule_results
        ]
        groups.append(group)
    out: dict[str, Any] = {
        "securityRuleAccessResult": verdict.access.value,
        "evaluatedNetworkSecurityGroups": groups,
    }
    if verdict.rule_name is not None and verdict.rule_name.startswith(PLATFORM_RULE_PREFIX):
        out["platformRule"] = verdict.rule_name
    return out


def diagnose(topology: Topology, policy: NicPolicy, profile: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of the diagnostic's ``results``: the profile echoed and the NSG result."""
    test = profile_test(topology, policy, profile)
    verdict = evaluate(policy, test.direction, test, detail=True)
    result = _result(verdict)
    remote = parse_address(str(profile["source" if test.direction is Direction.INBOUND else "destination"]))
    outside = outside_internet(policy, remote) if remote is not None else None
    if outside is not None:
        result["notes"] = [str(outside)]  # OpenNSG's addition, like ``platformRule``
    return {"profile": dict(profile), "networkSecurityGroupResult": result}
