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

from dataclasses import dataclass

from opennsg.engine.addresses import AddressSet, PortSet, subtract_intervals
from opennsg.engine.evaluate import evaluate
from opennsg.engine.ir import NicPolicy, ResolvedRule, RuleMatch
from opennsg.engine.resolve import outside_internet, tag_set
from opennsg.model.enums import IANA_ICMP, IANA_ICMPV6, IANA_TCP, IANA_UDP, PORTED_PROTOCOLS, Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.netwatcher import DiagnosticProfile, DiagnosticResult
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, SMTP_PORT
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code
from opennsg.model.values import parse_address, parse_port_range, parse_prefix

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


def _address(topology: Topology, policy: NicPolicy, text: str) -> AddressSet:
    if text == "*":
        return AddressSet.any()
    network = parse_prefix(text)
    if network is not None:
        return AddressSet.of([network])
    tagged = tag_set(topology, policy.nic, text)
    if tagged is None:  # ``arm.netwatcher.parse_profile`` admits known tags only
        raise OpenNsgError([ArmError(Code.INVALID_PARAMETER, f"'{text}' is not an IP, a CIDR, '*' or a service tag.")])
    return tagged


def profile_test(topology: Topology, policy: NicPolicy, profile: DiagnosticProfile) -> ProfileTest:
    """The profile's sets at this NIC (tags resolved here)."""
    ports = parse_port_range(profile.destination_port)
    assert ports is not None, "parse_profile checks the port"
    return ProfileTest(
        profile.direction,
        PROFILE_PROTOCOLS[profile.protocol.casefold()],
        _address(topology, policy, profile.source),
        _address(topology, policy, profile.destination),
        PortSet.of([ports]),
    )


def diagnose(topology: Topology, policy: NicPolicy, profile: DiagnosticProfile) -> DiagnosticResult:
    """The chain evaluated over the profile's whole set; a note when the remote address is in an IANA
    special-purpose range (neither Internet nor VirtualNetwork, semantics §0)."""
    test = profile_test(topology, policy, profile)
    verdict = evaluate(policy, test.direction, test, detail=True)
    remote = parse_address(profile.source if test.direction is Direction.INBOUND else profile.destination)
    outside = outside_internet(policy, remote) if remote is not None else None
    return DiagnosticResult(verdict, (str(outside),) if outside is not None else ())
