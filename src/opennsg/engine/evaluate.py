"""The exact evaluator: a NIC's chain (``opennsg.engine.chain``) scanned rule by rule, and the SMTP block.

The chain says the order of stages and what a match means in each (semantics §3, §0, §11.3); this module scans it:
in each stage the first matching rule (ascending priority) decides that stage.
Outbound flows to AzurePlatformDNS/IMDS (any protocol and port) or AzurePlatformLKM (TCP 1688, unless forced
tunnelling) consult only the user rules naming that tag; with none matching they are allowed by
``PlatformRule_<Tag>``. Outbound TCP 25 to an Internet address that the NSGs allow is denied by
``PlatformRule_OutboundSmtpBlocked`` when the subscription is blocked — also with no NSG, since that block is a
platform filter independent of NSGs (semantics §6).

A port-bearing flow (TCP/UDP) with no port (``*``, as IP flow verify allows for the local port) stands for every
port: a port field matches it only when the rule's ports cover all of 0–65535. Port-less protocols ignore ports.

The chain logic is written once over ``RuleTest``: ``FlowTest`` matches one flow; NSG diagnostics (``diagnostics``)
supplies a test over sets of flows.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Literal, Protocol

from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.chain import Outcome, Stage
from opennsg.engine.flow import Flow
from opennsg.engine.ir import NicPolicy, NsgEvaluation, ResolvedRule, RuleMatch, Verdict
from opennsg.model.enums import IANA_TCP, Access, Direction
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, PLATFORM_RULE_PREFIX, SMTP_PORT, SMTP_RULE_NAME

ALL_PORTS = PortSet.any().intervals
_ABOVE_ANY = 1 << 129  # sorts after every (value, hi) pair with the same value


class RuleTest(Protocol):
    """What the chain needs to know of the traffic being decided."""

    def matches(self, rule: ResolvedRule) -> bool: ...

    def explain(self, rule: ResolvedRule) -> RuleMatch: ...

    def exempt_tag(self, policy: NicPolicy) -> str | None:
        """The AzurePlatform* tag whose exemption applies to all of this traffic, if any."""
        ...

    def smtp_blocked(self, policy: NicPolicy) -> bool:
        """This traffic is outbound TCP 25 to the Internet from a subscription the platform blocks."""
        ...


def _in_intervals(intervals: tuple[tuple[int, int], ...], value: int) -> bool:
    i = bisect_right(intervals, (value, _ABOVE_ANY)) - 1
    return i >= 0 and intervals[i][1] >= value


class FlowTest:
    """One flow, matched by membership; the flow's fields are unpacked once, rules are scanned many times."""

    __slots__ = ("_destination", "_destination_port", "_ported", "_source", "_source_port", "_v6", "flow")

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        source, self._source_port = flow.source
        destination, self._destination_port = flow.destination
        self._source = int(source)
        self._destination = int(destination)
        self._v6 = source.version == 6
        self._ported = flow.has_ports

    def _ports_match(self, rule_ports: PortSet, port: int | None) -> bool:
        if not self._ported:
            return True
        if port is None:
            return rule_ports.intervals == ALL_PORTS
        return _in_intervals(rule_ports.intervals, port)

    def _protocol_match(self, rule: ResolvedRule) -> bool:
        return rule.protocols is None or self.flow.protocol in rule.protocols

    def _address_match(self, addresses: AddressSet, value: int) -> bool:
        return _in_intervals(addresses.v6 if self._v6 else addresses.v4, value)

    def matches(self, rule: ResolvedRule) -> bool:
        return (
            self._protocol_match(rule)
            and self._ports_match(rule.destination_ports, self._destination_port)
            and self._address_match(rule.destination, self._destination)
            and self._address_match(rule.source, self._source)
            and self._ports_match(rule.source_ports, self._source_port)
        )

    def explain(self, rule: ResolvedRule) -> RuleMatch:
        return RuleMatch(
            rule=rule.rule,
            protocol_matched=self._protocol_match(rule),
            source_matched=self._address_match(rule.source, self._source),
            source_port_matched=self._ports_match(rule.source_ports, self._source_port),
            destination_matched=self._address_match(rule.destination, self._destination),
            destination_port_matched=self._ports_match(rule.destination_ports, self._destination_port),
        )

    def exempt_tag(self, policy: NicPolicy) -> str | None:
        flow = self.flow
        if flow.direction is not Direction.OUTBOUND:
            return None  # inbound from 168.63.129.16 is never exempt: AzureLoadBalancer rules govern probes
        for tag, addresses in policy.platform_tags.items():
            if addresses.contains(flow.remote_ip):
                if tag == PLATFORM_LKM_TAG and (flow.protocol != IANA_TCP or flow.remote_port != KMS_PORT):
                    continue
                return tag
        return None

    def smtp_blocked(self, policy: NicPolicy) -> bool:
        flow = self.flow
        return (
            policy.smtp_blocked
            and flow.direction is Direction.OUTBOUND
            and flow.protocol == IANA_TCP
            and flow.remote_port == SMTP_PORT
            and policy.internet.contains(flow.remote_ip)
        )


def evaluate(policy: NicPolicy, direction: Direction, test: RuleTest, detail: bool = False) -> Verdict:
    """The verdict of the NIC's chain for ``test``'s traffic (see the module docstring)."""
    exempt = test.exempt_tag(policy)
    verdict = _chain(policy, direction, test, exempt, detail)
    if verdict.allowed and test.smtp_blocked(policy):
        return Verdict(Access.DENY, SMTP_RULE_NAME, None, None, verdict.trace)
    return verdict


def _chain(policy: NicPolicy, direction: Direction, test: RuleTest, exempt: str | None, detail: bool) -> Verdict:
    chain = policy.chain(direction)
    trace: list[NsgEvaluation] = []
    candidate: tuple[Stage, NsgEvaluation, ResolvedRule] | None = None
    for stage in chain.stages:
        results: list[RuleMatch] = []
        matched: tuple[ResolvedRule, Outcome] | None = None
        for rule, outcome in stage.entries():
            if exempt is not None and rule.platform_tag != exempt:
                continue
            if detail:
                result = test.explain(rule)
                results.append(result)
                hit = result.matched
            else:
                hit = test.matches(rule)
            if hit:
                matched = (rule, outcome)
                break
        step = NsgEvaluation(
            nsg_id=stage.resource_id,
            applied_to=stage.applied_to,
            association=stage.association,
            matched_rule=matched[0].rule if matched else None,
            access=matched[0].access if matched else Access.ALLOW,
            rule_results=tuple(results),
        )
        trace.append(step)
        if matched is None:
            continue
        rule, outcome = matched
        if outcome.ends_chain:
            return _rule_verdict(stage, rule, outcome, tuple(trace))
        if outcome is Outcome.CANDIDATE:
            candidate = (stage, step, rule)
    if candidate is not None:
        stage, step, rule = candidate
        return _rule_verdict(stage, rule, Outcome.CANDIDATE, tuple(trace))
    if exempt is not None and chain.names_platform_exemption:
        return Verdict(Access.ALLOW, f"{PLATFORM_RULE_PREFIX}{exempt}", None, None, tuple(trace))
    return Verdict(Access.ALLOW, chain.unmatched_rule_name, None, None, tuple(trace))


def _rule_verdict(stage: Stage, rule: ResolvedRule, outcome: Outcome, trace: tuple[NsgEvaluation, ...]) -> Verdict:
    """The verdict a stage's rule gives (the compiled classifier builds its result table with this too)."""
    return Verdict(
        outcome.access, rule.rule.verify_name, stage.resource_id, stage.applied_to, trace, rule.rule,
        stage.acl_id, stage.acl_guid,
    )  # fmt: skip


def rule_verdict(stage: Stage, rule: ResolvedRule, outcome: Outcome) -> Verdict:
    """``_rule_verdict`` without a trace: the verdict of one rule of a stage, as the compiled paths report it."""
    return _rule_verdict(stage, rule, outcome, ())


def decide(policy: NicPolicy, flow: Flow, detail: bool = False) -> Verdict:
    """The verdict for one flow at the policy's NIC; ``detail`` fills every NSG's per-rule match results."""
    return evaluate(policy, flow.direction, FlowTest(flow), detail)


Leg = Literal["source", "destination"]


@dataclass(frozen=True, slots=True)
class PathVerdict:
    """VM to VM: the source NIC's outbound chain, then the destination NIC's inbound chain (semantics §3.2)."""

    access: Access
    rule_name: str | None
    nsg_id: str | None
    applied_to: str | None
    #: Which leg decided: the first that denied, else the last leg that had an NSG; None when no NSG applies.
    decided_by: Leg | None
    outbound: Verdict
    inbound: Verdict

    @property
    def allowed(self) -> bool:
        return self.access is Access.ALLOW


def decide_path(source: NicPolicy, outbound: Flow, destination: NicPolicy, inbound: Flow) -> PathVerdict:
    """Combine both legs: a Deny on the outbound leg wins, then one on the inbound leg, else the last Allow."""
    out_verdict = decide(source, outbound)
    in_verdict = decide(destination, inbound)
    legs: tuple[tuple[Leg, Verdict], ...] = (("source", out_verdict), ("destination", in_verdict))
    denied = next(((leg, v) for leg, v in legs if not v.allowed), None)
    deciding = denied or next(((leg, v) for leg, v in reversed(legs) if v.rule_name is not None), None)
    if deciding is None:
        return PathVerdict(Access.ALLOW, None, None, None, None, out_verdict, in_verdict)
    leg, verdict = deciding
    return PathVerdict(
        verdict.access, verdict.rule_name, verdict.nsg_id, verdict.applied_to, leg, out_verdict, in_verdict
    )
