"""Findings about rules and NSGs: dead, redundant, ineffective, exposed, permissive, misconfigured.

Flow-based findings are exact: each NSG is analysed at every NIC where it applies (its subnets' NICs and the NICs
it is attached to), with the NIC's whole chain; an NSG that applies to no NIC is analysed as if it were the only
NSG of a NIC with every address (so a lone ``az network nsg show`` file is still checked). A rule's *won* flows
are those it matches that no earlier rule of its NSG and direction matches:

- ``shadowed-rule``: the rule matches flows somewhere but wins none anywhere; ``relatedResources`` is an
  irreducible set of earlier rules covering it.
- ``ineffective-rule``: it wins flows, but for an ``Allow`` the rest of the chain denies all of them, and for a
  ``Deny`` none of them reach its NSG (denied earlier).
- ``redundant-rule``: it wins flows, but deleting it changes the access of none of them.
- ``internet-exposed-port``: TCP or UDP to a management/database port allowed from some ``Internet`` address.
- the others are checks of the rule text (semantics §0) and of the platform's needs.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from opennsg.analysis.render import Witness, witness
from opennsg.analysis.space import Box, intersect, merge_boxes, subtract_all
from opennsg.analysis.symbolic import (
    FAMILIES,
    CompiledPolicy,
    CompiledRule,
    Decision,
    bound_of,
    build_space,
    evaluate_boxes,
    exempt_regions,
    first_match,
    split,
)
from opennsg.engine import Engine
from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.chain import Outcome, Stage, StageKind
from opennsg.engine.ir import AnyRule, NicPolicy
from opennsg.engine.resolve import resolve_policy
from opennsg.model.enums import IANA_TCP, IANA_UDP, Access, Direction, Protocol
from opennsg.model.ids import id_key, name_of
from opennsg.model.resources import IpConfiguration, NetworkInterface, NetworkSecurityGroup, SecurityRule
from opennsg.model.topology import Topology
from opennsg.model.values import has_host_bits

Level = Literal["error", "warning", "note"]
LEVELS: tuple[Level, ...] = ("error", "warning", "note")

#: Management and database ports whose exposure to the Internet is reported (issue 11), with their service.
EXPOSED_PORTS: dict[int, str] = {
    22: "SSH",
    3389: "RDP",
    5985: "WinRM",
    5986: "WinRM over HTTPS",
    23: "Telnet",
    445: "SMB",
    1433: "SQL Server",
    3306: "MySQL",
    5432: "PostgreSQL",
    6379: "Redis",
    27017: "MongoDB",
    9200: "Elasticsearch",
}
#: Sources that make an all-ports Allow overly permissive (case-insensitive; AzureCloud regional tags too).
BROAD_SOURCES = ("*", "internet", "0.0.0.0/0", "::/0", "azurecloud")


@dataclass(frozen=True, slots=True)
class LintRule:
    id: str
    level: Level
    title: str
    help: str


RULES: dict[str, LintRule] = {
    r.id: r
    for r in (
        LintRule(
            "shadowed-rule",
            "warning",
            "Rule never matches a flow",
            "Higher-priority rules of the same NSG and direction cover every flow this rule matches.",
        ),
        LintRule(
            "redundant-rule",
            "warning",
            "Rule changes no verdict",
            "Deleting this rule would change the verdict of no flow at any NIC where it applies.",
        ),
        LintRule(
            "ineffective-rule",
            "warning",
            "Rule has no effect on the chain",
            "An Allow whose flows the other NSG (or an admin rule) always denies, or a Deny whose flows are "
            "always denied before they reach it.",
        ),
        LintRule(
            "internet-exposed-port",
            "error",
            "Management or database port reachable from the Internet",
            "After the whole chain, some Internet address can open a connection to this port.",
        ),
        LintRule(
            "overly-permissive-rule",
            "warning",
            "Allow from any or a multi-tenant source to all ports",
            "An Allow whose source is *, Internet, 0.0.0.0/0 or AzureCloud and whose destination ports are all ports.",
        ),
        LintRule("unattached-nsg", "note", "NSG not associated", "The NSG is associated with no subnet or NIC."),
        LintRule(
            "empty-asg",
            "warning",
            "Rule names an empty application security group",
            "An ASG without member IP configurations matches no address.",
        ),
        LintRule(
            "ports-on-portless-protocol",
            "warning",
            "Ports on a protocol without ports",
            "ICMP, ESP and AH carry no ports: the port fields of this rule are ignored (semantics §0).",
        ),
        LintRule(
            "host-bits-set",
            "note",
            "CIDR with host bits set",
            "The prefix is accepted and normalised to its network (semantics §0); write the network address.",
        ),
        LintRule(
            "deny-load-balancer-probes",
            "warning",
            "Rule blocks load balancer health probes",
            "A rule naming AzureLoadBalancer, or denying all ports, denies inbound flows from 168.63.129.16 to a NIC "
            "in a load balancer backend pool.",
        ),
        LintRule(
            "missing-platform-ports",
            "warning",
            "Platform service lacks its required rules",
            "Azure Bastion and Application Gateway v2 subnets need documented inbound and outbound rules.",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    level: Level
    resource: str
    message: str
    related_resources: tuple[str, ...] = ()
    nics: tuple[str, ...] = ()
    witness: Witness | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ruleId": self.rule_id,
            "level": self.level,
            "resource": self.resource,
            "message": self.message,
            "relatedResources": list(self.related_resources),
            "nics": list(self.nics),
        }
        if self.witness is not None:
            out["witness"] = self.witness.to_json()
        return out


@dataclass(slots=True)
class _Context:
    """One place an NSG applies: a NIC's compiled policy (the NSG is one of its chain's stages)."""

    compiled: CompiledPolicy
    nsg_key: str
    nic_id: str | None  # None: the NSG analysed alone

    def stage(self, direction: Direction) -> tuple[int, Stage] | None:
        """The NSG's stage in the chain of ``direction``, with its index."""
        for index, stage in enumerate(self.compiled.stages(direction)):
            if stage.kind is StageKind.NSG and id_key(stage.resource_id) == self.nsg_key:
                return index, stage
        return None


#: Per rule of a stage (by position), the flows it wins with the chain's final decision on each.
_StageAnswers = dict[int, list[tuple[Box, Decision]]]


@dataclass(slots=True)
class _RuleFacts:
    matches: bool = False
    won: bool = False
    ineffective: bool = True
    redundant: bool = True
    nics: list[str] = field(default_factory=list)
    witness: Witness | None = None


def _rule_id(nsg: NetworkSecurityGroup, rule: SecurityRule) -> str:
    return rule.id or f"{nsg.id}/securityRules/{rule.name}"


def _standalone_policy(topology: Topology, nsg: NetworkSecurityGroup) -> NicPolicy:
    """The NSG as the only one of a NIC holding every address (in the VNet of a subnet it is on, if any)."""
    subnets = topology.subnets_using_nsg(nsg.id)
    subnet = subnets[0].id if subnets else None
    nic = NetworkInterface(
        f"{nsg.id}/standalone",
        f"{nsg.name}-standalone",
        nsg.location,
        {},
        (IpConfiguration(f"{nsg.id}/standalone/ipConfigurations/any", "any", None, subnet, primary=True),),
        nsg.id,
    )
    policy = resolve_policy(topology, nic)
    return dataclasses.replace(policy, subnet_nsg=None, local_addresses=AddressSet.any())


T = TypeVar("T")
#: The position of "no rule of this stage": a platform-exempt flow that no rule naming its tag matches.
NO_RULE = -1


def _stage_first_match(
    compiled: CompiledPolicy, direction: Direction, items: list[tuple[Box, T]], rules: Sequence[CompiledRule]
) -> tuple[list[tuple[Box, T, CompiledRule | None]], list[tuple[Box, T]]]:
    """``first_match`` of one NSG stage as the chain meets it: a platform-exempt flow consults only the rules naming
    its tag (semantics §0), so its first match is among those, or none (``None``); the other flows meet every rule."""
    out: list[tuple[Box, T, CompiledRule | None]] = []
    normal = items
    for tag, region in exempt_regions(compiled, direction):
        inside, normal = split(normal, region)
        if inside:
            matched, unmatched = first_match(inside, [r for r in rules if r.resolved.platform_tag == tag])
            out.extend(matched)
            out.extend((box, payload, None) for box, payload in unmatched)
    matched, unmatched = first_match(normal, rules)
    out.extend(matched)
    return out, unmatched


class Linter:
    """Computes every finding of a topology (``lint_topology`` is the entry point)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.engine = Engine(topology)
        self.contexts: dict[str, list[_Context]] = defaultdict(list)
        self._positions: dict[int, tuple[tuple[CompiledRule, ...], dict[int, tuple[int, CompiledRule]]]] = {}
        self._answers: dict[
            tuple[int, int, Direction, int], tuple[CompiledPolicy, dict[int, list[tuple[Box, Decision]]]]
        ] = {}
        policies: list[tuple[NicPolicy, str | None]] = []
        for nic in topology.nics.values():
            policies.append((self.engine.policy(nic.id), nic.id))
        applied = {id_key(r.nsg.id) for p, _ in policies for r in (p.subnet_nsg, p.nic_nsg) if r is not None}
        for nsg in topology.nsgs.values():
            if nsg.key not in applied:
                policies.append((_standalone_policy(topology, nsg), None))
        self.space = build_space(
            [p for p, _ in policies],
            ports=[PortSet.of((port, port) for port in EXPOSED_PORTS)] + [PortSet.of([(p, p)]) for p in EXPOSED_PORTS],
        )
        self.policies: list[tuple[CompiledPolicy, str | None]] = []
        for policy, nic_id in policies:
            compiled = CompiledPolicy(self.space, policy)
            self.policies.append((compiled, nic_id))
            for resolved in (policy.subnet_nsg, policy.nic_nsg):
                if resolved is not None:
                    self.contexts[resolved.nsg.key].append(_Context(compiled, resolved.nsg.key, nic_id))

    # --- flow-based findings about rules ------------------------------------------------------------

    def _stage_answers(self, ctx: _Context, index: int, stage: Stage, family: int) -> _StageAnswers:
        """Per rule of the stage (by position), the flows of the NIC's universe it wins, each with the chain's
        final decision. Every NSG stage of the chain is answered at once: the universe is split by each NSG
        stage's first match in turn (pieces carry the rule they meet at every NSG stage), then the chain is
        evaluated once with those stages known (not scanned again), instead of one evaluation per rule or stage."""
        key = (id(ctx.compiled), index, stage.direction, family)
        answers = self._answers.get(key)
        if answers is not None:
            return answers[1]
        compiled = ctx.compiled
        stages = compiled.stages(stage.direction)
        nsg_stages = [i for i, s in enumerate(stages) if s.kind is StageKind.NSG]
        found: dict[int, _StageAnswers] = {i: defaultdict(list) for i in nsg_stages}
        universe = compiled.universe(stage.direction, family)
        if universe is not None:
            lists = {i: compiled.rules(i, stages[i], family) for i in nsg_stages}
            order = {i: n for n, i in enumerate(nsg_stages)}
            pieces: list[tuple[Box, tuple[int, ...]]] = [(universe, ())]
            for i in nsg_stages:
                position = {id(r): p for p, r in enumerate(lists[i])}
                matched, unmatched = _stage_first_match(compiled, stage.direction, pieces, lists[i])
                if unmatched:  # an NSG given without its catch-all default rules: answer this stage alone
                    return self._one_stage_answers(ctx, index, stage, family)
                pieces = [(box, (*at, NO_RULE if rule is None else position[id(rule)])) for box, at, rule in matched]

            def rule_of(at: tuple[int, ...], i: int) -> CompiledRule:
                return lists[i][at[order[i]]]

            known = (frozenset(nsg_stages), rule_of)
            for box, at, decision in evaluate_boxes(compiled, stage.direction, pieces, known=known):
                for i in nsg_stages:
                    found[i][at[order[i]]].append((box, decision))
        for i in nsg_stages:
            self._answers[(id(compiled), i, stage.direction, family)] = (compiled, found[i])
        return found[index]

    def _one_stage_answers(self, ctx: _Context, index: int, stage: Stage, family: int) -> _StageAnswers:
        """``_stage_answers`` for one stage: its first match over the universe, then the chain with it known."""
        rules = ctx.compiled.rules(index, stage, family)
        universe = ctx.compiled.universe(stage.direction, family)
        found: _StageAnswers = defaultdict(list)
        if universe is not None:
            position = {id(r): i for i, r in enumerate(rules)}
            matched, _ = _stage_first_match(ctx.compiled, stage.direction, [(universe, None)], rules)
            won = [(box, NO_RULE if rule is None else position[id(rule)]) for box, _, rule in matched]
            known = (frozenset((index,)), lambda at, _stage: rules[at])
            for box, at, decision in evaluate_boxes(ctx.compiled, stage.direction, won, known=known):
                found[at].append((box, decision))
        self._answers[(id(ctx.compiled), index, stage.direction, family)] = (ctx.compiled, found)
        return found

    def _rule_facts(self, nsg: NetworkSecurityGroup, rule: SecurityRule) -> tuple[_RuleFacts, list[CompiledRule]]:
        facts = _RuleFacts()
        decided_at: list[tuple[_Context, int, Stage, int, CompiledRule, list[tuple[Box, Decision]]]] = []
        matched_at: list[tuple[_Context, int, Stage, int, CompiledRule, list[tuple[Box, None]]]] = []
        for ctx in self.contexts.get(nsg.key, []):
            for family in FAMILIES:
                universe = ctx.compiled.universe(rule.direction, family)
                placed = ctx.stage(rule.direction)
                if universe is None or placed is None:
                    continue
                index, stage = placed
                rules = ctx.compiled.rules(index, stage, family)
                located = self._locate(rules, rule)
                if located is None:
                    continue
                position, target = located
                region = [(hit, None) for b in target.boxes if (hit := intersect(b, universe)) is not None]
                if not region:
                    continue
                facts.matches = True
                matched_at.append((ctx, index, stage, family, target, region))
                decided = self._stage_answers(ctx, index, stage, family).get(position, [])
                if not decided:
                    continue
                facts.won = True
                decided_at.append((ctx, index, stage, family, target, decided))
                self._effect(facts, ctx, rule, decided)
        coverers: list[CompiledRule] = []
        if facts.matches and not facts.won:
            # Shadowed: which earlier rules cover it (for relatedResources).
            for ctx, index, stage, family, target, region in matched_at:
                earlier = ctx.compiled.touching(index, stage, family, target.bound)
                earlier = tuple(r for r in earlier if r is not target and r.rule.priority < rule.priority)
                covered, _ = first_match(region, earlier)
                coverers.extend(r for _, _, r in covered)
        if facts.won and not facts.ineffective:
            facts.redundant = not any(self._deletion_matters(*at) for at in decided_at)
        return facts, coverers

    def _deletion_matters(
        self,
        ctx: _Context,
        index: int,
        stage: Stage,
        family: int,
        target: CompiledRule,
        decided: list[tuple[Box, Decision]],
    ) -> bool:
        """Would deleting the rule change the access of a flow it wins? Those flows then meet the next matching
        rule of the stage; where its outcome is the rule's own, the chain goes on as before (the access cannot
        change), so only the other flows are evaluated again without the rule. A rule naming a platform tag is
        consulted differently by exempt flows, and one in two stages (its NSG on the subnet and the NIC) is deleted
        from both: all their flows are evaluated again."""
        won = [(box, None) for box in merge_boxes([box for box, _ in decided])]
        located = self._locate(ctx.compiled.rules(index, stage, family), target.rule)
        stages = ctx.compiled.stages(stage.direction)
        twice = sum(s.kind is StageKind.NSG and id_key(s.resource_id) == ctx.nsg_key for s in stages) > 1
        if target.resolved.platform_tag is not None or located is None or twice:
            # A rule naming a platform tag, or one whose NSG is on the subnet and the NIC (it sits in two stages).
            return self._changes_access(ctx, stage, target, won)
        # Exempt flows never consult a rule that names no platform tag: deleting it changes nothing for them.
        regions = [region for _, region in exempt_regions(ctx.compiled, stage.direction)]
        won = [(b, None) for b in subtract_all([b for b, _ in won], regions)]
        if not won:
            return False
        touching = set(map(id, ctx.compiled.touching(index, stage, family, bound_of(b for b, _ in won))))
        later = [r for r in ctx.compiled.rules(index, stage, family)[located[0] + 1 :] if id(r) in touching]
        only_nsgs_before = all(s.kind is StageKind.NSG for s in stages[:index])
        if target.outcome is Outcome.CANDIDATE and only_nsgs_before:
            # An Allow: a flow the chain allowed whose next rule drops it is denied without the rule (nothing before
            # the stage delivers flows). The pieces carry whether the chain allowed them; the scan stops at the first.
            flagged = [
                (b, allowed)
                for allowed in (True, False)
                for b in subtract_all(merge_boxes([b for b, d in decided if d.allowed is allowed]), regions)
            ]

            def drops_allowed(allowed: bool, rule: CompiledRule) -> bool:
                return allowed and rule.outcome is Outcome.DROP

            found, unmatched_flagged = first_match(flagged, later, until=drops_allowed)
            if found and drops_allowed(found[-1][1], found[-1][2]):
                return True
            matched = [(box, None, r) for box, _, r in found]
            unmatched = [(box, None) for box, _ in unmatched_flagged]
        else:
            matched, unmatched = first_match(won, later)
        differing = [(box, r) for box, _, r in matched if r.outcome is not target.outcome]
        if unmatched or not only_nsgs_before:
            rest = merge_boxes([b for b, _ in differing] + [b for b, _ in unmatched])
            return bool(rest) and self._changes_access(ctx, stage, target, [(b, None) for b in rest])
        # Only NSG stages before it, so nothing delivers a flow before the rule's stage.
        if target.outcome is Outcome.CANDIDATE:
            # No allowed flow's next rule drops it (the scan above would have stopped): what else changes?
            others = [b for b, r in differing if r.outcome is not Outcome.DROP]
            return bool(others) and self._changes_access(ctx, stage, target, [(b, None) for b in merge_boxes(others)])
        if target.outcome is Outcome.DROP:
            # A Deny: with it every flow it wins is denied; without it, are some allowed?
            # Their first match without it is the next rule (known): the stage is not scanned again.
            rules = ctx.compiled.rules(index, stage, family)
            passed: list[tuple[Box, int]] = []
            for box, r in differing:
                at = self._locate(rules, r.rule)
                assert at is not None
                passed.append((box, at[0]))
            known = (frozenset((index,)), lambda at, _stage: rules[at])
            return any(d.allowed for _, _, d in evaluate_boxes(ctx.compiled, stage.direction, passed, known=known))
        rest = merge_boxes([b for b, _ in differing])
        return bool(rest) and self._changes_access(ctx, stage, target, [(b, None) for b in rest])

    def _changes_access(self, ctx: _Context, stage: Stage, target: CompiledRule, items: list[tuple[Box, None]]) -> bool:
        """Does the chain decide some flow of ``items`` with another access once ``target`` is deleted?"""
        with_rule = evaluate_boxes(ctx.compiled, stage.direction, items)
        without = evaluate_boxes(ctx.compiled, stage.direction, [(b, d) for b, _, d in with_rule], skip=target.rule)
        return any(before.access is not after.access for _, before, after in without)

    def _find(self, rules: tuple[CompiledRule, ...], rule: SecurityRule) -> CompiledRule | None:
        """The compiled form of ``rule`` in a stage's list (an index per list, built once)."""
        found = self._locate(rules, rule)
        return None if found is None else found[1]

    def _locate(self, rules: tuple[CompiledRule, ...], rule: AnyRule) -> tuple[int, CompiledRule] | None:
        """``rule``'s position in a stage's list and its compiled form."""
        index = self._positions.get(id(rules))
        if index is None or index[0] is not rules:
            index = (rules, {id(r.rule): (i, r) for i, r in enumerate(rules)})
            self._positions[id(rules)] = index
        return index[1].get(id(rule))

    def _effect(
        self, facts: _RuleFacts, ctx: _Context, rule: SecurityRule, decided: list[tuple[Box, Decision]]
    ) -> None:
        """Does the rule matter for some flow it wins: an Allow whose flows the chain allows, a Deny that decides?"""
        for box, decision in decided:
            if rule.access is Access.ALLOW:
                effective = decision.allowed
            else:
                effective = decision.rule is rule and id_key(decision.nsg_id or "") == ctx.nsg_key
            if effective:
                facts.ineffective = False
                if ctx.nic_id is not None and ctx.nic_id not in facts.nics:
                    facts.nics.append(ctx.nic_id)
                if facts.witness is None and ctx.nic_id is not None:
                    facts.witness = witness(self.space, box, ctx.nic_id, rule.direction)
                return

    def _minimal_cover(
        self, nsg: NetworkSecurityGroup, rule: SecurityRule, candidates: list[CompiledRule]
    ) -> list[str]:
        """An irreducible subset of the earlier rules that still covers ``rule`` at every context (no rule of it can
        be left out): one rule when one covers it all, else the earlier rules that won its flows, each dropped in
        turn (highest priority first) when the others still cover what it covers."""
        unique: dict[int, SecurityRule] = {}
        hits: dict[int, int] = defaultdict(int)
        for c in candidates:
            if isinstance(c.rule, SecurityRule):
                unique.setdefault(id(c.rule), c.rule)
                hits[id(c.rule)] += 1
        regions = self._regions(nsg, rule)
        # Usually one earlier rule covers it all: try the rules that covered most pieces alone first.
        for single in sorted(unique.values(), key=lambda r: -hits[id(r)])[:3]:
            if self._covers_alone(regions, single):
                return [_rule_id(nsg, single)]
        chosen = sorted(unique.values(), key=lambda r: r.priority)
        for candidate in sorted(chosen, key=lambda r: -r.priority):
            trial = [r for r in chosen if r is not candidate]
            if self._covered_without(regions, candidate, trial):
                chosen = trial
        return [_rule_id(nsg, r) for r in chosen]

    def _regions(
        self, nsg: NetworkSecurityGroup, rule: SecurityRule
    ) -> list[tuple[tuple[CompiledRule, ...], list[Box]]]:
        """Per context and family where the rule matches something: its stage's rules and the flows it matches."""
        out: list[tuple[tuple[CompiledRule, ...], list[Box]]] = []
        for ctx in self.contexts.get(nsg.key, []):
            placed = ctx.stage(rule.direction)
            if placed is None:
                continue
            for family in FAMILIES:
                universe = ctx.compiled.universe(rule.direction, family)
                if universe is None:
                    continue
                rules = ctx.compiled.rules(placed[0], placed[1], family)
                target = self._find(rules, rule)
                if target is None:
                    continue
                region = [hit for b in target.boxes if (hit := intersect(b, universe)) is not None]
                if region:
                    out.append((rules, region))
        return out

    def _covers_alone(self, regions: list[tuple[tuple[CompiledRule, ...], list[Box]]], cover: SecurityRule) -> bool:
        for rules, region in regions:
            compiled = self._find(rules, cover)
            if compiled is None or subtract_all(region, compiled.boxes):
                return False
        return True

    def _covered_without(
        self,
        regions: list[tuple[tuple[CompiledRule, ...], list[Box]]],
        dropped: SecurityRule,
        rest: Sequence[SecurityRule],
    ) -> bool:
        """Do ``rest`` cover the rule's flows without ``dropped``, given that ``rest`` and ``dropped`` do? Only the
        flows ``dropped`` matches need another rule, so only they are checked."""
        for rules, region in regions:
            compiled = self._find(rules, dropped)
            if compiled is None:
                continue
            part = [(hit, None) for b in region for d in compiled.boxes if (hit := intersect(b, d)) is not None]
            if not part:
                continue
            kept = [c for r in rest if (c := self._find(rules, r)) is not None]
            _, uncovered = first_match(part, kept)
            if uncovered:
                return False
        return True

    def rule_findings(self) -> Iterable[Finding]:
        for nsg in self.topology.nsgs.values():
            for rule in nsg.security_rules:
                facts, coverers = self._rule_facts(nsg, rule)
                rid = _rule_id(nsg, rule)
                if not facts.matches:
                    continue
                if not facts.won:
                    cover = self._minimal_cover(nsg, rule, coverers)
                    names = ", ".join(name_of(c) for c in cover)
                    yield Finding(
                        "shadowed-rule",
                        RULES["shadowed-rule"].level,
                        rid,
                        f"Rule '{rule.name}' (priority {rule.priority}, {rule.direction.value}) never matches a flow: "
                        f"higher-priority rules cover it ({names}).",
                        tuple(cover),
                        tuple(self._nics_of(nsg)),
                    )
                elif facts.ineffective:
                    why = (
                        "the rest of the chain denies every flow it allows"
                        if rule.access is Access.ALLOW
                        else "every flow it denies is denied before it is reached"
                    )
                    yield Finding(
                        "ineffective-rule",
                        RULES["ineffective-rule"].level,
                        rid,
                        f"Rule '{rule.name}' ({rule.access.value}, priority {rule.priority}) has no effect: {why}.",
                        (),
                        tuple(self._nics_of(nsg)),
                    )
                elif facts.redundant:
                    yield Finding(
                        "redundant-rule",
                        RULES["redundant-rule"].level,
                        rid,
                        f"Rule '{rule.name}' ({rule.access.value}, priority {rule.priority}) is redundant: deleting it "
                        "changes no verdict at any NIC where it applies.",
                        (),
                        tuple(self._nics_of(nsg)),
                    )

    def _nics_of(self, nsg: NetworkSecurityGroup) -> list[str]:
        return [c.nic_id for c in self.contexts.get(nsg.key, []) if c.nic_id is not None]

    # --- exposure and probes -------------------------------------------------------------------------

    def exposure_findings(self) -> Iterable[Finding]:
        """One finding per allowing rule (or NIC without NSGs), listing every exposed port it lets in."""
        if not self.policies:  # no NIC, nothing exposed (and the flow space holds no ports to ask about)
            return
        grouped: dict[str, dict[int, list[tuple[str | None, Box]]]] = defaultdict(lambda: defaultdict(list))
        space = self.space
        ported = space.protocols.mask(((IANA_TCP, IANA_TCP), (IANA_UDP, IANA_UDP)))
        ports = space.ports.mask(PortSet.of((p, p) for p in EXPOSED_PORTS).intervals)
        for compiled, nic_id in self.policies:
            policy = compiled.policy
            for family in FAMILIES:
                universe = compiled.universe(Direction.INBOUND, family)
                if universe is None:
                    continue
                addresses = space.addresses(family)
                internet = addresses.mask(policy.internet.v4 if family == 4 else policy.internet.v6)
                region = intersect(universe, (family, ported, addresses.full, ports, internet, space.ports.full))
                if region is None:
                    continue
                for box, _, decision in evaluate_boxes(compiled, Direction.INBOUND, [(region, None)]):
                    if not decision.allowed:
                        continue
                    resource = _decided_resource(decision.rule, policy, nic_id)
                    for port in EXPOSED_PORTS:
                        hit = intersect(box, (family, box[1], box[2], space.ports.value_mask(port), box[4], box[5]))
                        if hit is not None:
                            grouped[resource][port].append((nic_id, hit))
        for resource in sorted(grouped, key=str.casefold):
            by_port = grouped[resource]
            hits = [h for port in sorted(by_port) for h in by_port[port]]
            nics = tuple(dict.fromkeys(n for n, _ in hits if n is not None))
            first = next(((n, b) for n, b in hits if n is not None), None)
            listed = ", ".join(f"{p} ({EXPOSED_PORTS[p]})" for p in sorted(by_port))
            where = f"at {len(nics)} NIC(s)" if nics else "wherever this NSG applies alone"
            how = f"allowed by {name_of(resource)}" if "/securityrules/" in resource.casefold() else "no NSG applies"
            fronted = [n for n in nics if self._internet_facing(n)]
            path = (
                ""
                if not nics or fronted
                else " None of these NICs has a public IP or a load balancer today: adding one exposes them."
            )
            yield Finding(
                "internet-exposed-port",
                RULES["internet-exposed-port"].level,
                resource,
                f"Reachable from the Internet {where}, {how}: port(s) {listed}.{path}",
                (),
                nics,
                witness(space, first[1], first[0], Direction.INBOUND) if first else None,
            )

    def _internet_facing(self, nic_id: str) -> bool:
        """A public IP or a load balancer backend pool on one of the NIC's IP configurations (semantics §12.3)."""
        nic = self.topology.nic(nic_id)
        return nic is not None and any(
            c.public_ip_address or c.load_balancer_backend_address_pools for c in nic.ip_configurations
        )

    def probe_findings(self) -> Iterable[Finding]:
        space = self.space
        grouped: dict[str, list[tuple[str, Box]]] = defaultdict(list)
        for compiled, nic_id in self.policies:
            nic = compiled.policy.nic
            if nic_id is None or not any(c.load_balancer_backend_address_pools for c in nic.ip_configurations):
                continue
            probes = AddressSet.of([_HOST_VIP])
            for family in FAMILIES:
                universe = compiled.universe(Direction.INBOUND, family)
                if universe is None:
                    continue
                region = intersect(universe, compiled.address_box(family, probes))
                if region is None:
                    continue
                for box, _, decision in evaluate_boxes(compiled, Direction.INBOUND, [(region, None)]):
                    if (
                        not decision.allowed
                        and isinstance(decision.rule, SecurityRule)
                        and _blocks_probes(decision.rule)
                    ):
                        grouped[decision.rule.id or decision.rule.name].append((nic_id, box))
        for resource, hits in grouped.items():
            nics = tuple(dict.fromkeys(n for n, _ in hits))
            yield Finding(
                "deny-load-balancer-probes",
                RULES["deny-load-balancer-probes"].level,
                resource,
                f"Rule '{name_of(resource)}' denies load balancer health probes (AzureLoadBalancer, "
                f"168.63.129.16) to {len(nics)} NIC(s) in a backend pool: the load balancer will mark them down.",
                (),
                nics,
                witness(space, hits[0][1], hits[0][0], Direction.INBOUND),
            )

    # --- findings from the rule text ---------------------------------------------------------------

    def text_findings(self) -> Iterable[Finding]:
        topology = self.topology
        member_asgs = {
            id_key(a)
            for nic in topology.nics.values()
            for c in nic.ip_configurations
            for a in c.application_security_groups
        }
        for nsg in topology.nsgs.values():
            attached = topology.subnets_using_nsg(nsg.id) or topology.nics_using_nsg(nsg.id)
            if not attached:
                yield Finding(
                    "unattached-nsg",
                    RULES["unattached-nsg"].level,
                    nsg.id,
                    f"NSG '{nsg.name}' is associated with no subnet or network interface: its rules apply nowhere.",
                )
            nics = tuple(self._nics_of(nsg))
            for rule in nsg.security_rules:
                rid = _rule_id(nsg, rule)
                if rule.access is Access.ALLOW and rule.direction is Direction.INBOUND and _all_ports(rule):
                    broad = [s for s in rule.source_addresses if _is_broad(s)]
                    if broad:
                        yield Finding(
                            "overly-permissive-rule",
                            RULES["overly-permissive-rule"].level,
                            rid,
                            f"Rule '{rule.name}' allows {rule.protocol.value} on all ports from '{broad[0]}'.",
                            (),
                            nics,
                        )
                empty = [a for a in (*rule.source_asgs, *rule.destination_asgs) if id_key(a) not in member_asgs]
                if empty:
                    yield Finding(
                        "empty-asg",
                        RULES["empty-asg"].level,
                        rid,
                        f"Rule '{rule.name}' names application security group(s) without members "
                        f"({', '.join(name_of(a) for a in empty)}): that side matches no address.",
                        tuple(empty),
                        nics,
                    )
                if rule.protocol in (Protocol.ICMP, Protocol.ESP, Protocol.AH):
                    ported = [p for p in (*rule.source_ports, *rule.destination_ports) if p.strip() != "*"]
                    if ported:
                        yield Finding(
                            "ports-on-portless-protocol",
                            RULES["ports-on-portless-protocol"].level,
                            rid,
                            f"Rule '{rule.name}' has protocol {rule.protocol.value}, which carries no ports, but "
                            f"names ports ({', '.join(ported)}): they are ignored.",
                            (),
                            nics,
                        )
                hosts = [p for p in (*rule.source_addresses, *rule.destination_addresses) if has_host_bits(p)]
                if hosts:
                    yield Finding(
                        "host-bits-set",
                        RULES["host-bits-set"].level,
                        rid,
                        f"Rule '{rule.name}' has prefix(es) with host bits set ({', '.join(hosts)}); "
                        "they are treated as their networks.",
                        (),
                        nics,
                    )

    def platform_findings(self) -> Iterable[Finding]:
        from opennsg.analysis.platform import missing_platform_ports

        yield from missing_platform_ports(self.topology)


_HOST_VIP = __import__("ipaddress").ip_network("168.63.129.16/32")


def _blocks_probes(rule: SecurityRule) -> bool:
    """A user Deny that means probes: it names the load balancer, or denies every port (a user deny-all that
    overrides ``AllowAzureLoadBalancerInBound``); a Deny of a few ports only hits probes aimed at those ports."""
    if rule.is_default:
        return False
    named = any(s.strip().casefold() in _PROBE_SOURCES for s in rule.source_addresses)
    return named or _all_ports(rule)


_PROBE_SOURCES = ("azureloadbalancer", "azure_loadbalancer", "168.63.129.16", "168.63.129.16/32")


def _all_ports(rule: SecurityRule) -> bool:
    return any(p.strip() in ("*", "0-65535") for p in rule.destination_ports)


def _is_broad(source: str) -> bool:
    folded = source.strip().casefold()
    return folded in BROAD_SOURCES or folded.startswith("azurecloud.")


def _decided_resource(rule: AnyRule | None, policy: NicPolicy, nic_id: str | None) -> str:
    if rule is not None:
        if rule.id:
            return rule.id
        if not isinstance(rule, SecurityRule):
            return rule.name
        for resolved in (policy.subnet_nsg, policy.nic_nsg):
            if resolved is not None and any(r.rule is rule for r in (*resolved.inbound, *resolved.outbound)):
                return _rule_id(resolved.nsg, rule)
    return nic_id or policy.nic.id


def lint_topology(topology: Topology, disabled: Iterable[str] = (), enabled: Iterable[str] = ()) -> list[Finding]:
    """Every finding, ordered by level then resource; ``disabled`` rule ids are skipped unless ``enabled``."""
    off = {d.casefold() for d in disabled} - {e.casefold() for e in enabled}
    linter = Linter(topology)
    findings: list[Finding] = []
    for source in (
        linter.rule_findings,
        linter.exposure_findings,
        linter.probe_findings,
        linter.text_findings,
        linter.platform_findings,
    ):
        findings.extend(f for f in source() if f.rule_id not in off)
    order = {level: i for i, level in enumerate(LEVELS)}
    findings.sort(key=lambda f: (order[f.level], f.rule_id, f.resource.casefold()))
    return findings


def fails(findings: Sequence[Finding], fail_on: str) -> bool:
    """``--fail-on``: a finding at or above the level exists (``none`` never fails)."""
    if fail_on == "none":
        return False
    limit = [str(level) for level in LEVELS].index(fail_on)
    return any(LEVELS.index(f.level) <= limit for f in findings)
