"""What a change opens or closes: per NIC and direction, the exact set of flows whose verdict differs.

Only flows that some changed rule matches can change (a flow matching none of them meets the same first match in
every NSG, since unchanged rules keep their order), so the region evaluated is the union of the changed rules'
boxes — plus the whole NIC when an NSG was associated or removed, and the platform filters' regions when those
moved. Both configurations are evaluated symbolically over that region, the second refining the first's pieces;
pieces whose access (with ``rules``: or deciding rule) differs are the answer, merged into few boxes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opennsg.analysis.render import FlowBox, address_names, flow_box
from opennsg.analysis.space import Box, Space, intersect, merge_boxes, subtract_all
from opennsg.analysis.symbolic import FAMILIES, CompiledPolicy, Decision, build_space, evaluate_boxes
from opennsg.engine import Engine
from opennsg.engine.chain import Outcome, Stage
from opennsg.engine.ir import NicPolicy, ResolvedNsg, ResolvedRule
from opennsg.engine.resolve import asg_addresses
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.topology import Topology


@dataclass(frozen=True, slots=True)
class Change:
    """Flows at one NIC and direction whose verdict changed from ``before`` to ``after``."""

    nic: str
    direction: Direction
    box: FlowBox
    before: Decision
    after: Decision
    #: Address lists people know by a name (``Internet``, ``VirtualNetwork``) at this NIC, for descriptions.
    names: Mapping[tuple[str, ...], str] = field(default_factory=dict, compare=False)

    @property
    def opened(self) -> bool:
        return not self.before.allowed and self.after.allowed

    @property
    def closed(self) -> bool:
        return self.before.allowed and not self.after.allowed

    def to_json(self) -> dict[str, Any]:
        return {
            "nic": self.nic,
            "direction": self.direction.value,
            **{k: v for k, v in self.box.to_json().items()},
            "before": self.before.to_json(),
            "after": self.after.to_json(),
        }


@dataclass(frozen=True, slots=True)
class DiffResult:
    changes: tuple[Change, ...]
    added_nics: tuple[str, ...]
    removed_nics: tuple[str, ...]
    compared_nics: int

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        return {
            "nics": len({id_key(c.nic) for c in self.changes}),
            "changedBoxes": len(self.changes),
            "changedFlows": sum(c.box.flows for c in self.changes),
            "opened": sum(c.box.flows for c in self.changes if c.opened),
            "closed": sum(c.box.flows for c in self.changes if c.closed),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "addedNics": list(self.added_nics),
            "removedNics": list(self.removed_nics),
            "summary": self.summary(),
        }


def _same_rule(a: ResolvedRule, a_outcome: Outcome, b: ResolvedRule, b_outcome: Outcome) -> bool:
    """Everything about a rule that can change a verdict or its name (sets compared by identity first)."""

    def same(x: object, y: object) -> bool:
        return x is y or x == y

    return (
        a_outcome is b_outcome
        and a.rule.verify_name.casefold() == b.rule.verify_name.casefold()
        and a.priority == b.priority
        and a.protocols == b.protocols
        and a.platform_tag == b.platform_tag
        and same(a.source, b.source)
        and same(a.destination, b.destination)
        and same(a.source_ports, b.source_ports)
        and same(a.destination_ports, b.destination_ports)
    )


def _changed_rules(a: Stage, b: Stage) -> tuple[list[tuple[ResolvedRule, Outcome]], list[tuple[ResolvedRule, Outcome]]]:
    """The rules of ``a`` not in ``b`` unchanged, and those of ``b`` not in ``a`` (matched by name and priority)."""
    old = {(r.rule.verify_name.casefold(), r.priority): (r, o) for r, o in a.entries()}
    new = {(r.rule.verify_name.casefold(), r.priority): (r, o) for r, o in b.entries()}
    gone = [ro for key, ro in old.items() if key not in new or not _same_rule(*ro, *new[key])]
    came = [ro for key, ro in new.items() if key not in old or not _same_rule(*old[key], *ro)]
    return gone, came


def _stage_key(stage: Stage) -> tuple[object, ...]:
    return (stage.kind, id_key(stage.resource_id), id_key(stage.applied_to), stage.association)


def _disjoint(boxes: Iterable[Box]) -> list[Box]:
    out: list[Box] = []
    for box in boxes:
        out.extend(subtract_all([box], out))
    return out


def changed_region(old: CompiledPolicy, new: CompiledPolicy, direction: Direction) -> list[Box]:
    """Disjoint boxes holding every flow whose verdict may differ between ``old`` and ``new``."""
    universes = [
        box
        for family in FAMILIES
        if (ours := old.universe(direction, family)) is not None
        and (new_universe := new.universe(direction, family)) is not None
        and (box := intersect(ours, new_universe)) is not None
    ]
    if not universes:
        return []
    old_stages, new_stages = old.stages(direction), new.stages(direction)
    same_chain = [_stage_key(s) for s in old_stages] == [_stage_key(s) for s in new_stages]
    if (
        not same_chain
        or old.policy.chain(direction).unmatched_rule_name != new.policy.chain(direction).unmatched_rule_name
    ):
        return universes
    candidates: list[Box] = []
    for a, b in zip(old_stages, new_stages, strict=True):
        gone, came = _changed_rules(a, b)
        for family in FAMILIES:
            for side, rules in ((old, gone), (new, came)):
                for rule, outcome in rules:
                    candidates.extend(side.compile_rule(rule, direction, family, outcome).boxes)
    candidates.extend(_platform_regions(old, new, direction))
    region = [hit for box in candidates for u in universes if (hit := intersect(box, u)) is not None]
    return _disjoint(region)


def _platform_regions(old: CompiledPolicy, new: CompiledPolicy, direction: Direction) -> list[Box]:
    """Where the platform filters (exemptions, SMTP) differ between the two policies."""
    if direction is not Direction.OUTBOUND:
        return []
    out: list[Box] = []
    a, b = old.policy, new.policy
    for tag in set(a.platform_tags) | set(b.platform_tags):
        if a.platform_tags.get(tag) != b.platform_tags.get(tag):
            for side in (old, new):
                addresses = side.policy.platform_tags.get(tag)
                if addresses is not None:
                    out.extend(side.address_box(f, addresses) for f in FAMILIES)
    if a.smtp_blocked != b.smtp_blocked or a.internet != b.internet:
        for side in (old, new):
            out.extend(side.address_box(f, side.policy.internet, side.tcp) for f in FAMILIES)
    return [box for box in out if box[4]]


def diff_policies(
    space: Space, old: NicPolicy, new: NicPolicy, rules: bool = False
) -> list[tuple[Direction, Box, Decision, Decision]]:
    """The changed pieces at one NIC (both policies compiled in ``space``), merged per (before, after)."""
    old_c, new_c = CompiledPolicy(space, old), CompiledPolicy(space, new)
    out: list[tuple[Direction, Box, Decision, Decision]] = []
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        region = changed_region(old_c, new_c, direction)
        if not region:
            continue
        before = evaluate_boxes(old_c, direction, [(box, None) for box in region])
        after = evaluate_boxes(new_c, direction, [(box, decision) for box, _, decision in before])
        groups: dict[tuple[Decision, Decision], list[Box]] = {}
        for box, was, now in after:
            if was.access is not now.access or (rules and was != now):
                groups.setdefault((was, now), []).append(box)
        for (was, now), boxes in groups.items():
            out.extend((direction, box, was, now) for box in merge_boxes(boxes))
    return out


def _sharing(old: NicPolicy, new: NicPolicy, same_context: bool) -> tuple[NicPolicy, NicPolicy]:
    """``new`` with every rule whose text is unchanged replaced by ``old``'s resolution of it, when both resolve
    tags alike (same service tags, ASG members, VNet tags): equal sets become the same objects, so comparing and
    compiling them costs nothing."""
    if not same_context or old.virtual_network != new.virtual_network or old.platform_tags != new.platform_tags:
        return old, new
    known = {
        rule.rule: rule
        for nsg in (old.subnet_nsg, old.nic_nsg)
        if nsg is not None
        for rule in (*nsg.inbound, *nsg.outbound)
    }

    def shared(nsg: ResolvedNsg | None) -> ResolvedNsg | None:
        if nsg is None:
            return None
        return dataclasses.replace(
            nsg,
            inbound=tuple(known.get(r.rule, r) for r in nsg.inbound),
            outbound=tuple(known.get(r.rule, r) for r in nsg.outbound),
        )

    return old, dataclasses.replace(new, subnet_nsg=shared(new.subnet_nsg), nic_nsg=shared(new.nic_nsg))


def _significance(change: Change) -> tuple[int, int, int]:
    return (
        0 if change.direction is Direction.INBOUND else 1,
        0 if change.opened else 1 if change.closed else 2,
        -change.box.flows,
    )


def diff_topologies(old: Topology, new: Topology, nics: Sequence[str] = (), rules: bool = False) -> DiffResult:
    """Every NIC present in both topologies (or the ``nics`` named, by name or id in either), compared exactly."""
    old_engine, new_engine = Engine(old), Engine(new)
    old_keys = {k: n.id for k, n in old.nics.items()}
    new_keys = {k: n.id for k, n in new.nics.items()}
    wanted: set[str] | None = None
    if nics:
        wanted = set()
        problems: list[ArmError] = []
        for name in nics:
            found = new.find_nic(name) or old.find_nic(name)
            if found is None:
                problems.append(
                    ArmError("NetworkInterfaceNotFound", f"--nic '{name}' names no NIC or VM on either side.", name)
                )
            else:
                wanted.add(found.key)
        if problems:
            raise OpenNsgError(problems)
    common = [k for k in new_keys if k in old_keys and (wanted is None or k in wanted)]
    same_context = old.service_tags == new.service_tags and asg_addresses(old) == asg_addresses(new)
    pairs = [_sharing(old_engine.policy(old_keys[k]), new_engine.policy(new_keys[k]), same_context) for k in common]
    space = build_space(p for pair in pairs for p in pair)
    changes: list[Change] = []
    for old_policy, new_policy in pairs:
        nic_id = new_policy.nic.id
        pieces = diff_policies(space, old_policy, new_policy, rules)
        names = address_names(new_policy) if pieces else {}
        for direction, box, was, now in pieces:
            changes.append(Change(nic_id, direction, flow_box(space, box, nic_id, direction), was, now, names))
    changes.sort(key=lambda c: (id_key(c.nic), *_significance(c)))
    return DiffResult(
        tuple(changes),
        tuple(new_keys[k] for k in new_keys if k not in old_keys and (wanted is None or k in wanted)),
        tuple(old_keys[k] for k in old_keys if k not in new_keys and (wanted is None or k in wanted)),
        len(common),
    )


__all__ = ["Change", "DiffResult", "diff_policies", "diff_topologies"]
