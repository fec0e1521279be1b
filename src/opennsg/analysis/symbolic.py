"""The exact evaluator of ``opennsg.engine.evaluate``, run over sets of flows instead of one flow.

``evaluate_boxes(compiled, direction, items)`` splits every box of ``items`` into pieces that one ``Decision`` holds
for, following the same chain as ``evaluate._chain``: outbound flows to an AzurePlatform* tag (LKM: TCP 1688 only)
consult only the user rules naming that tag and fall back to ``PlatformRule_<Tag>``; every other flow meets the
NSGs of ``NicPolicy.chain`` in order, first match per NSG, a Deny ending the chain, else the last NSG's Allow;
then the platform's SMTP block. Items carry a payload (any value) through the splits, so a second evaluation can
refine the first one's pieces (that is how ``diff`` compares two configurations).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from opennsg.analysis.space import Box, Space, intersect, merge_boxes, subtract
from opennsg.engine.addresses import AddressSet, PortSet
from opennsg.engine.chain import Outcome, Stage
from opennsg.engine.ir import AnyRule, NicPolicy, ResolvedRule
from opennsg.model.enums import IANA_TCP, PORTED_PROTOCOLS, Access, Direction
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, PLATFORM_RULE_PREFIX, SMTP_PORT, SMTP_RULE_NAME

T = TypeVar("T")
U = TypeVar("U")
FAMILIES = (4, 6)
_PORTED = tuple((p, p) for p in sorted(PORTED_PROTOCOLS))
_TCP = ((IANA_TCP, IANA_TCP),)


@dataclass(frozen=True, slots=True)
class Decision:
    """What decides a set of flows: access, the rule in IP-flow-verify naming, and where (None: platform)."""

    access: Access
    rule_name: str | None
    nsg_id: str | None = None
    association: str | None = None
    rule: AnyRule | None = field(default=None, compare=False)

    @property
    def allowed(self) -> bool:
        return self.access is Access.ALLOW

    def to_json(self) -> dict[str, object]:
        return {"access": self.access.value, "ruleName": self.rule_name}


_ALL_PROTOCOLS = ((0, 255),)


@functools.cache
def _protocol_intervals(protocols: frozenset[int] | None) -> tuple[tuple[int, int], ...]:
    if protocols is None:
        return _ALL_PROTOCOLS
    return tuple((p, p) for p in sorted(protocols))


def _family(addresses: AddressSet, family: int) -> tuple[tuple[int, int], ...]:
    return addresses.v4 if family == 4 else addresses.v6


def register_policy(space: Space, policy: NicPolicy) -> None:
    """Every boundary the policy's rules, addresses and platform filters put into the flow space."""
    space.protocols.register(_PORTED)
    space.protocols.register(_TCP)
    space.ports.register(((SMTP_PORT, SMTP_PORT),))
    space.ports.register(((KMS_PORT, KMS_PORT),))
    for addresses in (policy.local_addresses, policy.internet, policy.virtual_network, *policy.platform_tags.values()):
        register_addresses(space, addresses)
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        for rule in (r for stage in policy.chain(direction).stages for r in stage.rules):
            space.protocols.register(_protocol_intervals(rule.protocols))
            register_addresses(space, rule.source)
            register_addresses(space, rule.destination)
            space.ports.register(rule.source_ports.intervals)
            space.ports.register(rule.destination_ports.intervals)


def register_addresses(space: Space, addresses: AddressSet) -> None:
    space.v4.register(addresses.v4)
    space.v6.register(addresses.v6)


def build_space(
    policies: Iterable[NicPolicy], extra: Iterable[AddressSet] = (), ports: Iterable[PortSet] = ()
) -> Space:
    """One space for every policy (and extra address and port sets) a run compares."""
    space = Space()
    for policy in policies:
        register_policy(space, policy)
    for addresses in extra:
        register_addresses(space, addresses)
    for port_set in ports:
        space.ports.register(port_set.intervals)
    space.freeze()
    return space


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule as boxes in one direction and family: its ported part and its port-less part (ports ignored)."""

    resolved: ResolvedRule
    boxes: tuple[Box, ...]
    bound: Box | None
    outcome: Outcome = Outcome.CANDIDATE

    @property
    def rule(self) -> AnyRule:
        return self.resolved.rule


def _bound(boxes: Sequence[Box]) -> Box | None:
    if not boxes:
        return None
    family = boxes[0][0]
    return (
        family,
        _or(b[1] for b in boxes),
        _or(b[2] for b in boxes),
        _or(b[3] for b in boxes),
        _or(b[4] for b in boxes),
        _or(b[5] for b in boxes),
    )


def _or(values: Iterable[int]) -> int:
    out = 0
    for v in values:
        out |= v
    return out


#: Rule lists shorter than this are scanned without an index.
_INDEX_FROM = 24


def _span(mask: int) -> tuple[int, int]:
    """Lowest and highest class of a mask: two masks can only meet where these spans overlap."""
    return ((mask & -mask).bit_length() - 1, mask.bit_length() - 1)


def bound_of(boxes: Iterable[Box]) -> Box | None:
    """The smallest box (per field: the union of masks) containing every box given; None when there are none or
    they are of both families (no one box holds them)."""
    listed = list(boxes)
    if len({box[0] for box in listed}) > 1:
        return None
    return _bound(listed)


class RuleIndex:
    """Per rule and field, the span of classes its bound touches; a vectorised prefilter for region queries."""

    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        lo = np.full((len(rules), 5), 1, dtype=np.int64)
        hi = np.zeros((len(rules), 5), dtype=np.int64)
        for i, rule in enumerate(rules):
            if rule.bound is None:
                continue  # lo > hi: never touches anything
            for dim in range(5):
                lo[i, dim], hi[i, dim] = _span(rule.bound[dim + 1])
        self.lo = lo
        self.hi = hi

    def touching(self, rules: Sequence[CompiledRule], bound: Box) -> tuple[CompiledRule, ...]:
        spans = [_span(bound[dim + 1]) for dim in range(5)]
        qlo = np.asarray([s[0] for s in spans], dtype=np.int64)
        qhi = np.asarray([s[1] for s in spans], dtype=np.int64)
        hit = np.all((self.lo <= qhi) & (self.hi >= qlo), axis=1)
        return tuple(rules[int(i)] for i in np.flatnonzero(hit))


class CompiledPolicy:
    """A ``NicPolicy`` in a ``Space``: each rule's boxes per direction and family, computed on first use."""

    def __init__(self, space: Space, policy: NicPolicy) -> None:
        self.space = space
        self.policy = policy
        self._rules: dict[tuple[int, Direction, int], tuple[CompiledRule, ...]] = {}
        self._indexes: dict[tuple[int, Direction, int], RuleIndex] = {}
        protocols = space.protocols
        self.ported = protocols.mask(_PORTED)
        self.tcp = protocols.mask(_TCP)

    def compile_rule(
        self, rule: ResolvedRule, direction: Direction, family: int, outcome: Outcome = Outcome.CANDIDATE
    ) -> CompiledRule:
        space = self.space
        addresses = space.addresses(family)
        if direction is Direction.INBOUND:
            local, local_ports, remote, remote_ports = (
                rule.destination,
                rule.destination_ports,
                rule.source,
                rule.source_ports,
            )
        else:
            local, local_ports, remote, remote_ports = (
                rule.source,
                rule.source_ports,
                rule.destination,
                rule.destination_ports,
            )
        la = addresses.mask(_family(local, family))
        ra = addresses.mask(_family(remote, family))
        boxes: list[Box] = []
        if la and ra:
            protocols = space.protocols.mask(_protocol_intervals(rule.protocols))
            ported = protocols & self.ported
            portless = protocols & ~self.ported
            lp = space.ports.mask(local_ports.intervals)
            rp = space.ports.mask(remote_ports.intervals)
            if ported and lp and rp:
                boxes.append((family, ported, la, lp, ra, rp))
            if portless:
                boxes.append((family, portless, la, space.ports.full, ra, space.ports.full))
        return CompiledRule(rule, tuple(boxes), _bound(boxes), outcome)

    def rules(self, index: int, stage: Stage, family: int) -> tuple[CompiledRule, ...]:
        """The stage's rules (``index``: its place in the chain of ``stage.direction``) as boxes, cached."""
        key = (index, stage.direction, family)
        cached = self._rules.get(key)
        if cached is None:
            cached = self._rules[key] = tuple(
                self.compile_rule(rule, stage.direction, family, outcome) for rule, outcome in stage.entries()
            )
        return cached

    def touching(self, index: int, stage: Stage, family: int, bound: Box | None) -> tuple[CompiledRule, ...]:
        """The stage's rules (in order) that may meet ``bound``: the others cannot match any flow in it."""
        rules = self.rules(index, stage, family)
        if bound is None or len(rules) < _INDEX_FROM:
            return rules
        key = (index, stage.direction, family)
        index_ = self._indexes.get(key)
        if index_ is None:
            index_ = self._indexes[key] = RuleIndex(rules)
        return index_.touching(rules, bound)

    def stages(self, direction: Direction) -> tuple[Stage, ...]:
        return self.policy.chain(direction).stages

    def universe(self, direction: Direction, family: int) -> Box | None:
        """Every flow at this NIC in one direction and family (local addresses: the NIC's own)."""
        space = self.space
        addresses = space.addresses(family)
        local = addresses.mask(_family(self.policy.local_addresses, family))
        if not local:
            return None
        return (family, space.protocols.full, local, space.ports.full, addresses.full, space.ports.full)

    def universes(self, direction: Direction) -> list[Box]:
        return [box for family in FAMILIES if (box := self.universe(direction, family)) is not None]

    def address_box(
        self, family: int, remote: AddressSet, protocols: int | None = None, port: int | None = None
    ) -> Box:
        """Flows to remote addresses ``remote`` (optionally one protocol mask and one remote port)."""
        space = self.space
        addresses = space.addresses(family)
        return (
            family,
            space.protocols.full if protocols is None else protocols,
            addresses.full,
            space.ports.full,
            addresses.mask(_family(remote, family)),
            space.ports.full if port is None else space.ports.value_mask(port),
        )


def first_match(
    items: list[tuple[Box, T]],
    rules: Sequence[CompiledRule],
    until: Callable[[T, CompiledRule], bool] | None = None,
) -> tuple[list[tuple[Box, T, CompiledRule]], list[tuple[Box, T]]]:
    """Split ``items`` by the first rule of ``rules`` matching each piece; the pieces no rule matches come last.

    ``until(payload, rule)``: stop at the first piece it accepts (it is then the last one matched, and the answer is
    partial: the caller only wanted to know whether there is one)."""
    matched: list[tuple[Box, T, CompiledRule]] = []
    pending = items
    # A box holding every pending piece (pieces only shrink, so it stays one): rules missing it are skipped whole.
    reach = bound_of(box for box, _ in pending)
    for rule in rules:
        if not pending:
            break
        bound = rule.bound
        if bound is None or (reach is not None and intersect(bound, reach) is None):
            continue
        family, b1, b2, b3, b4, b5 = bound
        # The pieces the rule's bound meets (the test inlined: this loop is the analysis' innermost).
        touched = [
            i
            for i, (box, _) in enumerate(pending)
            if box[3] & b3 and box[4] & b4 and box[5] & b5 and box[1] & b1 and box[2] & b2 and box[0] == family
        ]
        if not touched:
            continue
        rest: list[tuple[Box, T]] = []
        last = 0
        for i in touched:
            rest.extend(pending[last:i])
            last = i + 1
            box, payload = pending[i]
            pieces = [box]
            for rule_box in rule.boxes:
                remaining: list[Box] = []
                for piece in pieces:
                    hit = intersect(piece, rule_box)
                    if hit is None:
                        remaining.append(piece)
                        continue
                    matched.append((hit, payload, rule))
                    if until is not None and until(payload, rule):
                        return matched, []
                    remaining.extend(subtract(piece, rule_box))
                pieces = remaining
            rest.extend((piece, payload) for piece in pieces)
        rest.extend(pending[last:])
        if len(rest) < len(pending) // 2:
            reach = bound_of(box for box, _ in rest)
        pending = rest
    return matched, pending


def split(items: list[tuple[Box, T]], region: Box) -> tuple[list[tuple[Box, T]], list[tuple[Box, T]]]:
    """Items inside ``region`` and outside it."""
    inside: list[tuple[Box, T]] = []
    outside: list[tuple[Box, T]] = []
    for box, payload in items:
        hit = intersect(box, region)
        if hit is None:
            outside.append((box, payload))
            continue
        inside.append((hit, payload))
        outside.extend((piece, payload) for piece in subtract(box, region))
    return inside, outside


def _merged(items: list[tuple[Box, U]]) -> list[tuple[Box, U]]:
    """Pieces carrying equal payloads merged into fewer boxes (the same flows: a cheaper next stage)."""
    if len(items) < 2:
        return items
    groups: dict[U, list[Box]] = {}
    try:
        for box, payload in items:
            groups.setdefault(payload, []).append(box)
    except TypeError:  # payloads that cannot be hashed are kept as they are
        return items
    return [(box, payload) for payload, boxes in groups.items() for box in merge_boxes(boxes)]


#: Stages whose first match is known per item: (the stages' indices in the chain, the rule of a payload at a stage).
Known = tuple[frozenset[int], Callable[[T, int], CompiledRule]]


def _chain(
    compiled: CompiledPolicy,
    direction: Direction,
    items: list[tuple[Box, T]],
    exempt: str | None,
    skip: AnyRule | None,
    known: Known[T] | None = None,
) -> list[tuple[Box, T, Decision]]:
    """``evaluate._chain`` over boxes: each stage's first match; DROP/DELIVER end the chain, CANDIDATE is
    remembered as the reported Allow, CONTINUE passes on; the fallbacks as in the engine."""
    out: list[tuple[Box, T, Decision]] = []
    chain = compiled.policy.chain(direction)
    by_family: dict[int, list[tuple[Box, tuple[T, Decision | None]]]] = {}
    for box, payload in items:
        by_family.setdefault(box[0], []).append((box, (payload, None)))
    for family, pieces in by_family.items():
        for index, stage in enumerate(chain.stages):
            if known is not None and index in known[0]:
                # Every piece lies where its payload's rule is the stage's first match (pieces only shrink).
                rule_of = known[1]
                matched = [(box, (payload, candidate), rule_of(payload, index)) for box, (payload, candidate) in pieces]
                pieces = []
                unmatched: list[tuple[Box, tuple[T, Decision | None]]] = []
            else:
                rules = compiled.touching(index, stage, family, bound_of(b for b, _ in pieces))
                if exempt is not None:
                    rules = tuple(r for r in rules if r.resolved.platform_tag == exempt)
                if skip is not None:
                    rules = tuple(r for r in rules if r.rule is not skip)
                matched, unmatched = first_match(pieces, rules)
            pieces = unmatched
            for box, (payload, candidate), rule in matched:
                decision = Decision(
                    rule.outcome.access, rule.rule.verify_name, stage.resource_id, stage.association, rule.rule
                )
                if rule.outcome.ends_chain:
                    out.append((box, payload, decision))
                elif rule.outcome is Outcome.CANDIDATE:
                    pieces.append((box, (payload, decision)))
                else:
                    pieces.append((box, (payload, candidate)))
            pieces = _merged(pieces)
        for box, (payload, candidate) in pieces:
            if candidate is not None:
                out.append((box, payload, candidate))
            elif exempt is not None and chain.names_platform_exemption:
                out.append((box, payload, Decision(Access.ALLOW, f"{PLATFORM_RULE_PREFIX}{exempt}")))
            else:
                out.append((box, payload, Decision(Access.ALLOW, chain.unmatched_rule_name)))
    return out


def exempt_regions(compiled: CompiledPolicy, direction: Direction) -> list[tuple[str, Box]]:
    """The flows a platform exemption takes out of the normal chain (outbound to an AzurePlatform* tag; LKM: TCP
    1688 only), per tag: they consult only the rules naming that tag."""
    out: list[tuple[str, Box]] = []
    if direction is Direction.OUTBOUND:
        for tag, addresses in compiled.policy.platform_tags.items():
            for family in FAMILIES:
                lkm = tag == PLATFORM_LKM_TAG
                region = compiled.address_box(
                    family, addresses, compiled.tcp if lkm else None, KMS_PORT if lkm else None
                )
                if region[4]:
                    out.append((tag, region))
    return out


def evaluate_boxes(
    compiled: CompiledPolicy,
    direction: Direction,
    items: list[tuple[Box, T]],
    skip: AnyRule | None = None,
    known: Known[T] | None = None,
) -> list[tuple[Box, T, Decision]]:
    """Every piece of ``items`` with the decision of the NIC's chain for all of its flows (see module docstring);
    ``skip`` evaluates as if that rule were deleted. ``known`` = (stage indices, rule of a payload at a stage):
    each item lies where that rule is the stage's plain first match, so the stage is not scanned again (items a platform
    exemption takes consult only the tag's rules, and are scanned as usual)."""
    policy = compiled.policy
    normal = items
    exempt_parts: list[tuple[str, list[tuple[Box, T]]]] = []
    for tag, region in exempt_regions(compiled, direction):
        inside, normal = split(normal, region)
        if inside:
            exempt_parts.append((tag, inside))
    out = _chain(compiled, direction, normal, None, skip, known)
    for tag, part in exempt_parts:
        out.extend(_chain(compiled, direction, part, tag, skip))
    if direction is Direction.OUTBOUND and policy.smtp_blocked:
        blocked_rule = Decision(Access.DENY, SMTP_RULE_NAME)
        final: list[tuple[Box, T, Decision]] = []
        for box, payload, decision in out:
            if not decision.allowed:
                final.append((box, payload, decision))
                continue
            region = compiled.address_box(box[0], policy.internet, compiled.tcp, SMTP_PORT)
            inside, outside = split([(box, payload)], region)
            final.extend((b, p, blocked_rule) for b, p in inside)
            final.extend((b, p, decision) for b, p in outside)
        out = final
    return out
