"""What a flow's evaluation answers (semantics §3, §8.1, §8.4): the verdict, the chain as evaluated, and the
per-field match results of each rule consulted. Plain values of model types, so the edges (CLI, service, UI)
render them without reaching into the engine that computes them (``opennsg.engine``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opennsg.model.avnm import AdminAccess, AdminRule
from opennsg.model.enums import Access
from opennsg.model.resources import SecurityRule

Association = Literal["subnet", "networkInterface", "networkManager"]
#: A rule of any stage: an NSG's security rule or an AVNM security admin rule.
AnyRule = SecurityRule | AdminRule


def rule_log_name(rule: AnyRule) -> str:
    """A rule as NSG diagnostics and flow logs name it: ``UserRule_x``/``DefaultRule_x``; an admin rule plainly
    (semantics §11.4)."""
    return rule.log_name if isinstance(rule, SecurityRule) else rule.name


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """Per-field match results of one rule, in the shape of NSG diagnostics (semantics §8.4)."""

    rule: AnyRule
    protocol_matched: bool
    source_matched: bool
    source_port_matched: bool
    destination_matched: bool
    destination_port_matched: bool

    @property
    def matched(self) -> bool:
        return (
            self.protocol_matched
            and self.source_matched
            and self.source_port_matched
            and self.destination_matched
            and self.destination_port_matched
        )


@dataclass(frozen=True, slots=True)
class NsgEvaluation:
    """One stage of the chain as evaluated: which rule matched (None if none did; a stage without a match
    passes the flow on). ``nsg_id`` is the stage's resource (``Stage.resource_id``)."""

    nsg_id: str
    applied_to: str
    association: Association
    matched_rule: AnyRule | None
    access: Access | AdminAccess
    rule_results: tuple[RuleMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one flow: access, the deciding rule (IP-flow-verify naming), where it was decided."""

    access: Access
    rule_name: str | None
    nsg_id: str | None
    applied_to: str | None
    trace: tuple[NsgEvaluation, ...] = ()
    rule: AnyRule | None = None
    #: The resource whose GUID VNet flow logs report as ``aclID`` (the NSG; for an admin rule, its security admin
    #: configuration) and that GUID when known; None when no stage decided.
    acl_id: str | None = None
    acl_guid: str | None = None

    @property
    def allowed(self) -> bool:
        return self.access is Access.ALLOW

    @property
    def by_admin_rule(self) -> bool:
        """An AVNM security admin rule decided (``Deny`` or ``AlwaysAllow``, semantics §11.3)."""
        return isinstance(self.rule, AdminRule)

    @property
    def log_rule_name(self) -> str | None:
        """The deciding rule in flow-log naming (``UserRule_``/``DefaultRule_``, admin rules plain; platform names
        unchanged)."""
        if self.rule is not None:
            return rule_log_name(self.rule)
        return self.rule_name
