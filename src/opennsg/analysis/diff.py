"""What a change opens or closes: per NIC and direction, the exact set of flows whose verdict differs.

Only flows that some changed rule matches can change (a flow matching none of them meets the same first match in
every NSG, since unchanged rules keep their order), so the region evaluated is the union of the changed rules'
boxes — plus the whole NIC when an NSG was associated or removed, and the platform filters' regions when those
moved. Both configurations are evaluated symbolically over that region, the second refining the first's pieces;
pieces whose access (with ``rules``: or deciding rule) differs are the answer, merged into few boxes.

A NIC is compared flow by flow at each of its IP configurations: the configuration's address before is paired with
its address after (configurations matched by name, then by equal address). When the address moved (a NIC moved to
another subnet gets a new one), a flow after — local address the new one — is compared with the same flow before at
the old address, over the whole flow space (every rule may tell the two addresses apart). Such a change carries
``beforeLocalAddresses`` and a ``beforeWitness`` (the witness at the old address), so each side verifies as stated.
Addresses only one side has (a configuration added or removed) are not compared: the NIC had, or has, no such flows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from opennsg.analysis.render import FlowBox, Witness, address_names, address_texts, flow_box
from opennsg.analysis.space import Box, Space, intersect, merge_boxes, subtract_all
from opennsg.analysis.symbolic import FAMILIES, CompiledPolicy, Decision, build_space, evaluate_boxes
from opennsg.engine import Engine
from opennsg.engine.addresses import AddressSet
from opennsg.engine.chain import Outcome, Stage
from opennsg.engine.ir import NicPolicy, ResolvedNsg, ResolvedRule
from opennsg.engine.resolve import asg_addresses
from opennsg.model.codes import Code
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import id_key
from opennsg.model.resources import NetworkInterface
from opennsg.model.topology import Topology

#: One IP configuration's address before and after: (IP family, address before, address after), as integers.
AddressPair = tuple[int, int, int]


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
    #: The NIC's address before, when the box's local address (after) moved: ``before`` holds there.
    before_local: str | None = None

    @property
    def before_witness(self) -> Witness:
        """The witness as the configuration before sees it: at the old local address when it moved."""
        witness = self.box.witness
        return witness if self.before_local is None else dataclasses.replace(witness, local_ip=self.before_local)

    @property
    def opened(self) -> bool:
        return not self.before.allowed and self.after.allowed

    @property
    def closed(self) -> bool:
        return self.before.allowed and not self.after.allowed

    def to_json(self) -> dict[str, Any]:
        out = {
            "nic": self.nic,
            "direction": self.direction.value,
            **{k: v for k, v in self.box.to_json().items()},
            "before": self.before.to_json(),
            "after": self.after.to_json(),
        }
        if self.before_local is not None:
            out["beforeLocalAddresses"] = [self.before_local]
            out["beforeWitness"] = self.before_witness.to_json()
        return out


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


def changed_region(
    old: CompiledPolicy, new: CompiledPolicy, direction: Direction, local: Mapping[int, int]
) -> list[Box]:
    """Disjoint boxes holding every flow whose verdict may differ between ``old`` and ``new`` at the local addresses
    ``local`` (a mask per family), which both sides have."""
    space = old.space
    universes: list[Box] = [
        (family, space.protocols.full, mask, space.ports.full, space.addresses(family).full, space.ports.full)
        for family, mask in local.items()
        if mask
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


#: A changed piece: direction, box (local addresses: after), decisions before and after, and the old local address
#: (family's integer) when the box's address moved, else None.
Piece = tuple[Direction, Box, Decision, Decision, int | None]


def diff_policies(
    space: Space, old: NicPolicy, new: NicPolicy, rules: bool = False, pairs: Sequence[AddressPair] | None = None
) -> list[Piece]:
    """The changed pieces at one NIC (both policies compiled in ``space``), merged per (before, after).

    ``pairs``: the NIC's addresses before and after (``address_pairs``; each registered in ``space`` as a set of its
    own, so that its class is that one address); None compares the addresses both policies have."""
    old_c, new_c = CompiledPolicy(space, old), CompiledPolicy(space, new)
    same: dict[int, int] = {}
    moved: list[tuple[int, int, int, int]] = []  # (family, old address, old class, new class)
    if pairs is None:
        for family in FAMILIES:
            a, b = old_c.universe(Direction.INBOUND, family), new_c.universe(Direction.INBOUND, family)
            if a is not None and b is not None:
                same[family] = a[2] & b[2]
    else:
        for family, before_ip, after_ip in pairs:
            addresses = space.addresses(family)
            before_class, after_class = addresses.value_mask(before_ip), addresses.value_mask(after_ip)
            if addresses.count(before_class) != 1 or addresses.count(after_class) != 1:
                raise ValueError("diff_policies: each paired address must be registered as a set of its own")
            if before_ip == after_ip:
                same[family] = same.get(family, 0) | after_class
            else:
                moved.append((family, before_ip, before_class, after_class))
    out: list[Piece] = []
    for direction in (Direction.INBOUND, Direction.OUTBOUND):
        compared: list[tuple[list[tuple[Box, Decision]], int | None]] = []
        region = changed_region(old_c, new_c, direction, same)
        if region:
            before = evaluate_boxes(old_c, direction, [(box, None) for box in region])
            compared.append(([(box, decision) for box, _, decision in before], None))
        for family, before_ip, before_class, after_class in moved:
            ports = space.ports.full
            whole: Box = (family, space.protocols.full, before_class, ports, space.addresses(family).full, ports)
            before = evaluate_boxes(old_c, direction, [(whole, None)])
            # The same flows at the new address: only the local address changes, every other field carries over.
            compared.append(
                ([((b[0], b[1], after_class, b[3], b[4], b[5]), decision) for b, _, decision in before], before_ip)
            )
        for items, moved_from in compared:
            after = evaluate_boxes(new_c, direction, items)
            groups: dict[tuple[Decision, Decision], list[Box]] = {}
            for box, was, now in after:
                if was.access is not now.access or (rules and was != now):
                    groups.setdefault((was, now), []).append(box)
            for (was, now), boxes in groups.items():
                out.extend((direction, box, was, now, moved_from) for box in merge_boxes(boxes))
    return out


def address_pairs(old: NetworkInterface, new: NetworkInterface) -> list[AddressPair]:
    """The NIC's private addresses before and after, paired by IP configuration: by name, then the configurations
    left whose address is unchanged. Configurations only one side has are left out (no flow of theirs exists on
    the other side)."""

    def addresses(nic: NetworkInterface) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        seen: set[tuple[int, int]] = set()
        for cfg in nic.ip_configurations:
            try:
                parsed = ip_address((cfg.private_ip_address or "").strip())
            except ValueError:
                continue
            value = (parsed.version, int(parsed))
            if value not in seen:
                seen.add(value)
                out[cfg.name.casefold()] = value
        return out

    before, after = addresses(old), addresses(new)
    pairs: list[AddressPair] = []
    for name, (family, value) in after.items():
        was = before.get(name)
        if was is not None and was[0] == family:
            pairs.append((family, was[1], value))
    paired_before = {(f, a) for f, a, _ in pairs}
    paired_after = {(f, b) for f, _, b in pairs}
    for family, value in after.values():
        if (family, value) not in paired_after and (family, value) in set(before.values()) - paired_before:
            pairs.append((family, value, value))
    return pairs


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


def _point(family: int, value: int) -> AddressSet:
    return AddressSet(((value, value),), ()) if family == 4 else AddressSet((), ((value, value),))


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
                    ArmError(
                        Code.NETWORK_INTERFACE_NOT_FOUND, f"--nic '{name}' names no NIC or VM on either side.", name
                    )
                )
            else:
                wanted.add(found.key)
        if problems:
            raise OpenNsgError(problems)
    common = [k for k in new_keys if k in old_keys and (wanted is None or k in wanted)]
    same_context = old.service_tags == new.service_tags and asg_addresses(old) == asg_addresses(new)
    policies = [_sharing(old_engine.policy(old_keys[k]), new_engine.policy(new_keys[k]), same_context) for k in common]
    addresses = [address_pairs(old_policy.nic, new_policy.nic) for old_policy, new_policy in policies]
    # Every paired address a class of its own: a flow is carried from its old address to its new one exactly.
    points = {(family, value) for pairs in addresses for family, a, b in pairs for value in (a, b)}
    space = build_space((p for pair in policies for p in pair), [_point(family, value) for family, value in points])
    changes: list[Change] = []
    for (old_policy, new_policy), pairs in zip(policies, addresses, strict=True):
        nic_id = new_policy.nic.id
        pieces = diff_policies(space, old_policy, new_policy, rules, pairs)
        names = address_names(new_policy) if pieces else {}
        for direction, box, was, now, before_ip in pieces:
            moved_from = None if before_ip is None else address_texts(box[0], ((before_ip, before_ip),))[0]
            flows = flow_box(space, box, nic_id, direction)
            changes.append(Change(nic_id, direction, flows, was, now, names, moved_from))
    changes.sort(key=lambda c: (id_key(c.nic), *_significance(c)))
    return DiffResult(
        tuple(changes),
        tuple(new_keys[k] for k in new_keys if k not in old_keys and (wanted is None or k in wanted)),
        tuple(old_keys[k] for k in old_keys if k not in new_keys and (wanted is None or k in wanted)),
        len(common),
    )


__all__ = ["Change", "DiffResult", "address_pairs", "diff_policies", "diff_topologies"]
