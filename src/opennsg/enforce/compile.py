"""A NIC's evaluation chain → one nftables JSON ruleset (table ``inet opennsg``), applied in one transaction.

Layout, per direction (``inbound`` = hook input: packets delivered to the NIC's addresses; ``outbound`` = hook
output: packets it sends), both with policy drop:

1. ``ct state established,related accept`` — stateful as Azure is (semantics §3.3): return traffic and tracked flows
   pass without rules, and a rule change touches only new connections.
2. loopback, invalid packets (dropped), IPv6 neighbour discovery and MLD (the platform's, never an NSG's), and a
   TCP packet that is not a connection's first SYN (dropped: a flow cut by ``flushConnection`` stays cut, in both
   directions, whichever side sends next).
3. outbound only: flows to a platform service (AzurePlatformDNS/IMDS/LKM) go to a chain holding only the rules
   naming its tag (semantics §0 "Platform exemption").
4. one chain per stage of the NIC's chain (subnet NSG then NIC NSG inbound, the reverse outbound): rules in
   priority order, first match; a Deny counts, logs (nflog group ``LOG_GROUP``, the rule's mark as prefix) and
   drops; an Allow writes its rule's mark into ``meta mark`` and returns, so the next stage decides next.
5. ``final``: outbound TCP 25 to the Internet is dropped when the platform blocks SMTP (semantics §6); otherwise the
   mark — the last Allow met, which is the rule IP flow verify reports — is copied to ``ct mark`` (flow logs read
   it from conntrack events) and counted on that rule's counter through a ``mark : counter`` map, then accepted.

Each packet that starts a flow therefore increments exactly one counter: the one of the rule the engine reports.
Address and port sets are named sets with ``flags interval``, shared by content (a service tag named by many rules
is one set); rules with several restricted fields use one concatenated interval set (``ip saddr . th dport``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from opennsg.engine.addresses import V4_MAX, V6_MAX, AddressSet, Interval, PortSet
from opennsg.engine.chain import Outcome, Stage
from opennsg.engine.ir import NicPolicy, ResolvedRule, rule_log_name
from opennsg.model.avnm import AdminRule
from opennsg.model.enums import IANA_TCP, IANA_UDP, PORTED_PROTOCOLS, Access, Direction
from opennsg.model.policy import KMS_PORT, PLATFORM_LKM_TAG, PLATFORM_RULE_PREFIX, SMTP_PORT, SMTP_RULE_NAME
from opennsg.model.resources import NetworkSecurityGroup
from opennsg.model.values import parse_prefix

TABLE = "opennsg"
FAMILY = "inet"
#: nflog group of logged drops (read by the lab's flow-log collector).
LOG_GROUP = 17
#: Rulesets whose concatenated set would hold more elements than this use one set per field instead.
CONCAT_LIMIT = 4096
#: Lists (naming no tag) whose combinations are at most this many become that many rules with literals.
EXPAND_LIMIT = 2
#: Rules per block of a long stage (each block skipped with one lookup when the packet cannot match it).
BLOCK_SIZE = 32
#: Mark bit a rule inside a block sets when it ends the stage (rule marks stay below it).
STAGE_DONE = 1 << 31
#: Marks below this are the platform's and the ruleset's own decisions; rule marks are above it.
FIRST_RULE_MARK = 64

JSON = dict[str, Any]

_PLATFORM_MARKS = {"AzurePlatformDNS": 1, "AzurePlatformIMDS": 2, "AzurePlatformLKM": 3}
SMTP_MARK = 4
NOT_NEW_MARK = 5
INVALID_MARK = 6
#: Allowed with no rule deciding (no NSG at all; ``Chain.unmatched_rule_name`` names it when set).
_UNMATCHED_MARKS = {Direction.INBOUND: 7, Direction.OUTBOUND: 8}

_FULL_PORTS: tuple[Interval, ...] = ((0, 65535),)
_FULL = {4: ((0, V4_MAX),), 6: ((0, V6_MAX),)}
_ADDR_PROTOCOL = {4: "ip", 6: "ip6"}
_ADDR_TYPE = {4: "ipv4_addr", 6: "ipv6_addr"}
_NDP_AND_MLD = [
    "nd-router-solicit",
    "nd-router-advert",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
    "mld-listener-query",
    "mld-listener-report",
    "mld-listener-done",
    "mld2-listener-report",
]


@dataclass(frozen=True, slots=True)
class RuleRef:
    """What one mark (and its counter) stands for: the deciding rule as the engine names it."""

    mark: int
    direction: Direction
    access: Access
    #: IP flow verify naming (``securityRules/x``, ``PlatformRule_…``); None: allowed with no NSG.
    rule_name: str | None
    #: Flow-log naming (``UserRule_x``, ``DefaultRule_x``, platform names unchanged).
    log_name: str | None
    nsg_id: str | None
    nsg_guid: str | None = None
    #: The stage's kind (``nsg``, ``admin``) and what VNet flow logs report as its ``aclID`` (semantics §11.4).
    stage_kind: str = "nsg"
    acl_id: str | None = None
    acl_guid: str | None = None

    def to_json(self) -> JSON:
        return {
            "mark": self.mark,
            "direction": self.direction.value,
            "access": self.access.value,
            "ruleName": self.rule_name,
            "logName": self.log_name,
            "nsgId": self.nsg_id,
            "nsgGuid": self.nsg_guid,
            "stageKind": self.stage_kind,
            "aclId": self.acl_id,
            "aclGuid": self.acl_guid,
        }

    @classmethod
    def from_json(cls, data: JSON) -> RuleRef:
        direction = Direction.parse(data["direction"])
        access = Access.parse(data["access"])
        assert isinstance(direction, Direction) and isinstance(access, Access)
        return cls(
            data["mark"],
            direction,
            access,
            data["ruleName"],
            data["logName"],
            data["nsgId"],
            data.get("nsgGuid"),
            data.get("stageKind", "nsg"),
            data.get("aclId"),
            data.get("aclGuid"),
        )


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A compiled NIC: the nftables commands (one transaction) and what each counter/mark means."""

    nic_id: str
    commands: tuple[JSON, ...]
    rules: dict[int, RuleRef]
    #: Per stage (``inbound/subnet`` …): a digest of what it enforces, and whether its NSG flushes connections.
    stages: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def document(self) -> JSON:
        """The ``nft -j -f`` input: replace table ``inet opennsg`` atomically."""
        return {"nftables": list(self.commands)}

    @property
    def rule_count(self) -> int:
        return sum(1 for c in self.commands if "rule" in c.get("add", {}))


def _table() -> JSON:
    return {"family": FAMILY, "name": TABLE}


def replace_table_commands() -> list[JSON]:
    """Create-if-missing then delete: the rest of the transaction rebuilds the table from nothing."""
    return [{"add": {"table": _table()}}, {"delete": {"table": _table()}}, {"add": {"table": _table()}}]


def fail_closed_document() -> JSON:
    """The ruleset of a NIC that has none yet: everything but loopback dropped."""
    commands = replace_table_commands()
    for name, hook, iface in (("inbound", "input", "iifname"), ("outbound", "output", "oifname")):
        commands.append({"add": {"chain": _base_chain(name, hook)}})
        commands.append(_rule(name, [_eq({"meta": {"key": iface}}, "lo"), {"accept": None}]))
    return {"nftables": commands}


def _base_chain(name: str, hook: str) -> JSON:
    return {**_in_table(), "name": name, "type": "filter", "hook": hook, "prio": 0, "policy": "drop"}


def _in_table() -> JSON:
    return {"family": FAMILY, "table": TABLE}


def _rule(chain: str, expr: list[JSON]) -> JSON:
    return {"add": {"rule": {**_in_table(), "chain": chain, "expr": expr}}}


def _eq(left: JSON, right: Any, op: str = "==") -> JSON:
    return {"match": {"op": op, "left": left, "right": right}}


def _set_mark(mark: int) -> JSON:
    return {"mangle": {"key": {"meta": {"key": "mark"}}, "value": mark}}


def _payload(protocol: str, name: str) -> JSON:
    return {"payload": {"protocol": protocol, "field": name}}


@functools.lru_cache(maxsize=65536)
def _address_text(family: int, value: int) -> str:
    return str(IPv4Address(value) if family == 4 else IPv6Address(value))


def _element(family: int | None, span: Interval) -> Any:
    """A set element: one value or a range (``family`` None: ports)."""
    lo, hi = span
    if family is None:
        return lo if lo == hi else {"range": [lo, hi]}
    if lo == hi:
        return _address_text(family, lo)
    return {"range": [_address_text(family, lo), _address_text(family, hi)]}


@dataclass(frozen=True, slots=True)
class _Field:
    """One restricted field of a rule: which packet expression, its set type and its intervals."""

    expression: JSON
    type: str
    family: int | None
    intervals: tuple[Interval, ...]
    #: The rule field's text (prefixes, ASGs): its set is called after the tag when it names exactly one.
    label: tuple[tuple[str, ...], tuple[str, ...]] | None


class _Compiler:
    def __init__(self, policy: NicPolicy) -> None:
        self.policy = policy
        self.commands: list[JSON] = []
        self.sets: dict[tuple[str, tuple[Any, ...]], str] = {}
        self.set_bodies: dict[str, JSON] = {}
        self.set_names: set[str] = set()
        self.rules: dict[int, RuleRef] = {}
        self.final = ""
        self.marks: dict[tuple[str, str, str], int] = {}
        self.chains: list[JSON] = []
        self.body: list[JSON] = []
        self.stages: dict[str, tuple[str, bool]] = {}

    # --- sets ----------------------------------------------------------------------------------

    def set_of(self, fields: list[_Field]) -> str:
        """A named interval set (concatenated when several fields), shared by content."""
        types = tuple(f.type for f in fields)
        key = (" . ".join(types), tuple(f.intervals for f in fields))
        found = self.sets.get(key)
        if found is not None:
            return found
        if len(fields) == 1:
            elements: list[Any] = [_element(fields[0].family, span) for span in fields[0].intervals]
        else:
            elements = [
                {"concat": [_element(f.family, span) for f, span in zip(fields, combo, strict=True)]}
                for combo in _product([f.intervals for f in fields])
            ]
        label = _tag_label(*fields[0].label) if len(fields) == 1 and fields[0].label else None
        name = _safe_name(f"tag_{label}_{fields[0].family}") if label else ""
        if not name or name in self.set_names:
            name = f"s{len(self.sets)}"
        self.sets[key] = name
        self.set_names.add(name)
        body: JSON = {**_in_table(), "name": name, "type": types[0] if len(types) == 1 else list(types)}
        body["flags"] = ["interval"]
        body["elem"] = elements
        self.set_bodies[name] = body
        self.commands.append({"add": {"set": body}})
        return name

    def match(self, fields: list[_Field]) -> list[list[JSON]]:
        """Alternative match lists for the restricted fields (a packet matches the rule if it matches any).

        One interval is a literal (value or range). A short list that names no tag becomes a few rules with
        literals (``EXPAND_LIMIT``): binding a named set to a rule is what costs most in an nftables transaction.
        Tags are named sets shared by every rule naming them; other lists are sets, concatenated when a rule
        restricts several fields (``ip saddr . th dport``).
        """
        single = [f for f in fields if len(f.intervals) == 1]
        multi = [f for f in fields if len(f.intervals) > 1]
        head = [_eq(f.expression, _element(f.family, f.intervals[0])) for f in single]
        listed = [f for f in multi if f.label is None or _tag_label(*f.label) is None]
        tagged = [f for f in multi if f not in listed]
        size = 1
        for f in listed:
            size *= len(f.intervals)
        expanded: list[list[JSON]] = [[]]
        if listed and size <= EXPAND_LIMIT:
            expanded = [
                [_eq(f.expression, _element(f.family, span)) for f, span in zip(listed, combo, strict=True)]
                for combo in _product([f.intervals for f in listed])
            ]
            listed = []
        shared = [_eq(f.expression, f"@{self.set_of([f])}") for f in tagged]
        if len(listed) > 1 and size <= CONCAT_LIMIT:
            shared.append(_eq({"concat": [f.expression for f in listed]}, f"@{self.set_of(listed)}"))
        else:
            shared += [_eq(f.expression, f"@{self.set_of([f])}") for f in listed]
        return [head + alternative + shared for alternative in expanded]

    # --- marks ---------------------------------------------------------------------------------

    def mark_for(self, stage: Stage, rule: ResolvedRule) -> int:
        key = (stage.resource_id.casefold(), rule.rule.name.casefold(), stage.direction.value)
        mark = self.marks.get(key)
        if mark is not None:
            return mark
        mark = FIRST_RULE_MARK + zlib.crc32("|".join(key).encode()) % ((1 << 31) - FIRST_RULE_MARK)
        while mark in self.rules:
            mark = FIRST_RULE_MARK + (mark + 1 - FIRST_RULE_MARK) % ((1 << 31) - FIRST_RULE_MARK)
        self.marks[key] = mark
        nsg = self._nsg_of(stage)
        self.rules[mark] = RuleRef(
            mark,
            stage.direction,
            Access.DENY if rule.access.value == Access.DENY.value else Access.ALLOW,  # admin AlwaysAllow/Allow allow
            rule.rule.verify_name,
            rule_log_name(rule.rule),
            stage.resource_id,
            nsg.resource_guid if nsg is not None else None,
            stage.kind.value,
            stage.acl_id,
            stage.acl_guid,
        )
        return mark

    def _nsg_of(self, stage: Stage) -> NetworkSecurityGroup | None:
        """The NSG a stage's rules come from (for its GUID and ``flushConnection``), if it is an NSG stage."""
        for resolved in (self.policy.subnet_nsg, self.policy.nic_nsg):
            if resolved is not None and resolved.nsg.id.casefold() == stage.resource_id.casefold():
                return resolved.nsg
        return None

    # --- rules ---------------------------------------------------------------------------------

    def rule_matches(self, rule: ResolvedRule) -> Iterator[list[JSON]]:
        """Alternative match lists: a rule splits by address family, and a ``*``-protocol rule with ports into its
        TCP/UDP part (ports checked) and the rest (ports ignored, semantics §0)."""
        protocols = rule.protocols
        ports_restricted = rule.source_ports.intervals != _FULL_PORTS or rule.destination_ports.intervals != _FULL_PORTS
        l4 = {"meta": {"key": "l4proto"}}
        # (protocol matches, check ports): literals only — an anonymous set per rule costs a set in the kernel.
        variants: list[tuple[list[JSON], bool]]
        if protocols is None:
            variants = [([], False)]
            if ports_restricted:
                variants = [([_eq(l4, IANA_TCP)], True), ([_eq(l4, IANA_UDP)], True)]
                variants.append(([_eq(l4, IANA_TCP, "!="), _eq(l4, IANA_UDP, "!=")], False))
        else:
            check = ports_restricted and bool(protocols & PORTED_PROTOCOLS)
            variants = [([_eq(l4, number)], check and number in PORTED_PROTOCOLS) for number in sorted(protocols)]
        port_fields = [
            _Field(_payload("th", name), "inet_service", None, ports.intervals, None)
            for ports, name in ((rule.source_ports, "sport"), (rule.destination_ports, "dport"))
            if ports.intervals != _FULL_PORTS
        ]
        families: list[tuple[JSON | None, list[_Field]]] = []
        if all(side.v4 == _FULL[4] and side.v6 == _FULL[6] for side in (rule.source, rule.destination)):
            families.append((None, []))  # one family-less rule covers IPv4 and IPv6
        else:
            for family in (4, 6):
                source = rule.source.v4 if family == 4 else rule.source.v6
                destination = rule.destination.v4 if family == 4 else rule.destination.v6
                if not source or not destination:
                    continue
                fields = [
                    _Field(_payload(_ADDR_PROTOCOL[family], name), _ADDR_TYPE[family], family, intervals,
                           (addresses, asgs))
                    for intervals, name, (addresses, asgs) in (
                        (source, "saddr", _address_labels(rule, "source")),
                        (destination, "daddr", _address_labels(rule, "destination")),
                    )
                    if intervals != _FULL[family]
                ]  # fmt: skip
                nfproto = None if fields else _eq({"meta": {"key": "nfproto"}}, "ipv4" if family == 4 else "ipv6")
                families.append((nfproto, fields))
        for nfproto, address_fields in families:
            for proto_matches, check_ports in variants:
                head = [*([nfproto] if nfproto is not None else []), *proto_matches]
                for alternative in self.match(address_fields + (port_fields if check_ports else [])):
                    yield head + alternative

    def digest(self, rules: list[JSON]) -> str:
        """What some rules enforce, as a digest: the rules and the contents of the sets they use."""
        text = json.dumps(rules, sort_keys=True)
        used = sorted(set(re.findall(r'"@([A-Za-z0-9_]+)"', text)))
        body = text + json.dumps([self.set_bodies[name]["elem"] for name in used if name in self.set_bodies])
        return hashlib.blake2s(body.encode(), digest_size=8).hexdigest()

    def stage_chain(self, chain: str, stage: Stage, exempt: str | None = None) -> None:
        """One stage as one chain: per rule, what its outcome means (``engine.chain``) as nftables statements.

        A long stage is cut into blocks of ``BLOCK_SIZE`` rules, each entered only when the packet's remote address
        is in the union of what the block's rules admit there (a packet none of them can match skips the block
        with one set lookup). A rule that ends the stage inside a block sets ``STAGE_DONE`` in the mark and
        returns; the stage returns after a block that set it, and the base chain clears it.
        """
        self.chains.append({"add": {"chain": {**_in_table(), "name": chain}}})
        entries = [(r, o) for r, o in stage.entries() if exempt is None or r.platform_tag == exempt]
        if len(entries) <= BLOCK_SIZE:
            self._rules_into(chain, stage, entries, in_block=False)
            return
        remote = "saddr" if stage.direction is Direction.INBOUND else "daddr"
        for number, first in enumerate(range(0, len(entries), BLOCK_SIZE)):
            block = entries[first : first + BLOCK_SIZE]
            block_chain = f"{chain}_b{number}"
            self.chains.append({"add": {"chain": {**_in_table(), "name": block_chain}}})
            self._rules_into(block_chain, stage, block, in_block=True)
            sides = [r.source if stage.direction is Direction.INBOUND else r.destination for r, _ in block]
            union = AddressSet.union_all(sides) if sides else AddressSet()
            if union.v4 == _FULL[4] and union.v6 == _FULL[6]:
                self.body.append(_rule(chain, [{"jump": {"target": block_chain}}]))
            else:
                for family, intervals in ((4, union.v4), (6, union.v6)):
                    if not intervals:
                        continue
                    guard = _Field(
                        _payload(_ADDR_PROTOCOL[family], remote), _ADDR_TYPE[family], family, intervals, None
                    )
                    nfproto = _eq({"meta": {"key": "nfproto"}}, "ipv4" if family == 4 else "ipv6")
                    tests = [nfproto] if intervals == _FULL[family] else self._guard(guard)
                    self.body.append(_rule(chain, [*tests, {"jump": {"target": block_chain}}]))
            done = {"&": [{"meta": {"key": "mark"}}, STAGE_DONE]}
            self.body.append(_rule(chain, [_eq(done, STAGE_DONE), {"return": None}]))

    def _guard(self, field: _Field) -> list[JSON]:
        """One lookup (never expanded into several rules): a literal for one interval, else a set."""
        if len(field.intervals) == 1:
            return [_eq(field.expression, _element(field.family, field.intervals[0]))]
        return [_eq(field.expression, f"@{self.set_of([field])}")]

    def _rules_into(
        self, chain: str, stage: Stage, entries: list[tuple[ResolvedRule, Outcome]], in_block: bool
    ) -> None:
        done = STAGE_DONE if in_block else 0
        for rule, outcome in entries:
            mark = self.mark_for(stage, rule)
            if outcome is Outcome.DROP:
                action = [
                    _set_mark(mark),
                    {"counter": _counter_name(mark)},
                    {"log": {"group": LOG_GROUP, "prefix": str(mark)}},
                    {"drop": None},
                ]
            elif outcome is Outcome.DELIVER:
                action = [_set_mark(mark), {"goto": {"target": self.final}}]
            elif outcome is Outcome.CANDIDATE:
                action = [_set_mark(mark | done), {"return": None}]
            elif in_block:  # CONTINUE: on to the next stage, never the reported rule
                action = [_mark_or(done), {"return": None}]
            else:
                action = [{"return": None}]
            for matches in self.rule_matches(rule):
                self.body.append(_rule(chain, matches + action))

    def direction(self, direction: Direction) -> None:
        policy = self.policy
        word = "inbound" if direction is Direction.INBOUND else "outbound"
        hook = "input" if direction is Direction.INBOUND else "output"
        iface = "iifname" if direction is Direction.INBOUND else "oifname"
        final = self.final = f"{word}_final"
        self.chains.append({"add": {"chain": _base_chain(word, hook)}})
        base: list[list[JSON]] = [
            [_eq({"ct": {"key": "state"}}, ["established", "related"], "in"), {"accept": None}],
            [_eq({"meta": {"key": iface}}, "lo"), {"accept": None}],
            [_eq({"ct": {"key": "state"}}, "invalid", "in"), {"counter": _counter_name(INVALID_MARK)}, {"drop": None}],
            [_eq(_payload("icmpv6", "type"), {"set": _NDP_AND_MLD}), {"accept": None}],
            [
                _eq({"&": [_payload("tcp", "flags"), ["fin", "syn", "rst", "ack"]]}, "syn", "!="),
                {"counter": _counter_name(NOT_NEW_MARK)},
                {"drop": None},
            ],
        ]
        chain = policy.chain(direction)
        unmatched = _UNMATCHED_MARKS[direction]
        self.rules[unmatched] = _platform_ref(unmatched, chain.unmatched_rule_name, Access.ALLOW, direction)
        base.append([_set_mark(unmatched)])
        if direction is Direction.OUTBOUND and chain.stages:
            for tag, addresses in policy.platform_tags.items():
                exempt_chain = f"exempt_{tag}"
                self.chains.append({"add": {"chain": {**_in_table(), "name": exempt_chain}}})
                self.body.append(_rule(exempt_chain, [_set_mark(_PLATFORM_MARKS[tag])]))
                for index, stage in enumerate(chain.stages):
                    stage_chain = f"{exempt_chain}_{index}_{stage.association}"
                    self.stage_chain(stage_chain, stage, exempt=tag)
                    self.body.append(_rule(exempt_chain, [{"jump": {"target": stage_chain}}]))
                    self.body.append(_rule(exempt_chain, [_clear_stage_done()]))
                self.body.append(_rule(exempt_chain, [{"goto": {"target": final}}]))
                name = f"{PLATFORM_RULE_PREFIX}{tag}" if chain.names_platform_exemption else chain.unmatched_rule_name
                ref = _platform_ref(_PLATFORM_MARKS[tag], name, Access.ALLOW, direction)
                self.rules[ref.mark] = ref
                for family, intervals in ((4, addresses.v4), (6, addresses.v6)):
                    if not intervals:
                        continue
                    matches = [_Field(_payload(_ADDR_PROTOCOL[family], "daddr"), _ADDR_TYPE[family], family,
                                      intervals, ((tag,), ()))]  # fmt: skip
                    (head,) = self.match(matches)  # a tag: one shared set, one alternative
                    if tag == PLATFORM_LKM_TAG:
                        head += [_eq({"meta": {"key": "l4proto"}}, IANA_TCP), _eq(_payload("th", "dport"), KMS_PORT)]
                    base.append([*head, {"goto": {"target": exempt_chain}}])
        for index, stage in enumerate(chain.stages):
            stage_chain = f"{word}_{index}_{stage.association}"
            first = len(self.body)
            self.stage_chain(stage_chain, stage)
            base.append([{"jump": {"target": stage_chain}}])
            base.append([_clear_stage_done()])
            digest = self.digest(self.body[first:])
            nsg = self._nsg_of(stage)
            key = f"{word}/{stage.kind.value}/{stage.association}"
            self.stages[key] = (f"{stage.resource_id.casefold()}:{digest}", bool(nsg and nsg.flush_connection))
        base.append([{"goto": {"target": final}}])
        self.chains.append({"add": {"chain": {**_in_table(), "name": final}}})
        if direction is Direction.OUTBOUND and policy.smtp_blocked:
            self.rules[SMTP_MARK] = _platform_ref(SMTP_MARK, SMTP_RULE_NAME, Access.DENY, direction)
            for family, intervals in ((4, policy.internet.v4), (6, policy.internet.v6)):
                if not intervals:
                    continue
                internet = _Field(_payload(_ADDR_PROTOCOL[family], "daddr"), _ADDR_TYPE[family], family, intervals,
                                  (("Internet",), ()))  # fmt: skip
                self.body.append(
                    _rule(
                        final,
                        [
                            _eq({"meta": {"key": "l4proto"}}, IANA_TCP),
                            _eq(_payload("th", "dport"), SMTP_PORT),
                            *self.match([internet])[0],
                            _set_mark(SMTP_MARK),
                            {"counter": _counter_name(SMTP_MARK)},
                            {"log": {"group": LOG_GROUP, "prefix": str(SMTP_MARK)}},
                            {"drop": None},
                        ],
                    )
                )
        self.body.append(
            _rule(
                final,
                [
                    {"mangle": {"key": {"ct": {"key": "mark"}}, "value": {"meta": {"key": "mark"}}}},
                    {"counter": {"map": {"key": {"meta": {"key": "mark"}}, "data": "@rule_counter"}}},
                    {"accept": None},
                ],
            )
        )
        for expr in base:
            self.body.append(_rule(word, expr))

    def build(self) -> Ruleset:
        self.rules[NOT_NEW_MARK] = _platform_ref(NOT_NEW_MARK, None, Access.DENY, None)
        self.rules[INVALID_MARK] = _platform_ref(INVALID_MARK, None, Access.DENY, None)
        self.direction(Direction.INBOUND)
        self.direction(Direction.OUTBOUND)
        counters = [{"add": {"counter": {**_in_table(), "name": _counter_name(m)}}} for m in sorted(self.rules)]
        counter_map = {
            **_in_table(),
            "name": "rule_counter",
            "type": "mark",
            "map": "counter",
            "elem": [[m, _counter_name(m)] for m in sorted(self.rules)],
        }
        commands = [
            *replace_table_commands(),
            *counters,
            {"add": {"map": counter_map}},
            *self.commands,
            *self.chains,
            *self.body,
        ]
        return Ruleset(self.policy.nic.id, tuple(commands), dict(self.rules), self.stages)


def _mark_or(bits: int) -> JSON:
    return {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, bits]}}}


def _clear_stage_done() -> JSON:
    kept = ~STAGE_DONE & 0xFFFFFFFF
    return {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"&": [{"meta": {"key": "mark"}}, kept]}}}


def _platform_ref(mark: int, name: str | None, access: Access, direction: Direction | None) -> RuleRef:
    return RuleRef(mark, direction or Direction.INBOUND, access, name, name, None)


def _counter_name(mark: int) -> str:
    return f"r{mark}"


def mark_of_counter(name: str) -> int | None:
    return int(name[1:]) if re.fullmatch(r"r\d+", name) else None


def _safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return cleaned[:60] if cleaned[:1].isalpha() else ""


def _tag_label(addresses: tuple[str, ...], asgs: tuple[str, ...]) -> str | None:
    """The tag a rule field names, when it names exactly one (its set is then called after it)."""
    if asgs or len(addresses) != 1:
        return None
    text = addresses[0].strip()
    if not text or text == "*" or text[0].isdigit() or ":" in text or "/" in text:
        return None  # an address or prefix (tags are names)
    return None if parse_prefix(text) is not None else text


def _product(lists: list[tuple[Interval, ...]]) -> Iterator[tuple[Interval, ...]]:
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head, *rest)


def compile_policy(policy: NicPolicy) -> Ruleset:
    """The nftables ruleset enforcing ``policy`` (see the module docstring)."""
    return _Compiler(policy).build()


# Protocol numbers the compiler relies on being the ported ones (ports are matched with ``th``).
assert {IANA_TCP, IANA_UDP} == set(PORTED_PROTOCOLS)

__all__ = [
    "FAMILY",
    "LOG_GROUP",
    "TABLE",
    "AddressSet",
    "PortSet",
    "RuleRef",
    "Ruleset",
    "compile_policy",
    "fail_closed_document",
    "mark_of_counter",
]


def _address_labels(rule: ResolvedRule, side: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A rule side's prefixes and ASGs as written (an admin rule's sources/destinations have no ASGs)."""
    if isinstance(rule.rule, AdminRule):
        items = rule.rule.sources if side == "source" else rule.rule.destinations
        return tuple(i.address_prefix for i in items), ()
    if side == "source":
        return rule.rule.source_addresses, rule.rule.source_asgs
    return rule.rule.destination_addresses, rule.rule.destination_asgs
