"""Flow logs as other writes see them: their filters' problems, and the flow logs a deletion leaves without a target."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from opennsg.api.planning.state import replace_models
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.flowlog import FlowLog
from opennsg.model.topology import Topology


def flow_log_selection_problems(flow_logs: Iterable[FlowLog]) -> list[ArmError]:
    """Every problem of the flow logs' ``enabledFilteringCriteria`` and ``recordTypes`` (their grammar is
    ``opennsg.flowlogs.filtering``), each pointing at its flow log."""
    flow_logs = list(flow_logs)
    if not flow_logs:
        return []
    from opennsg.flowlogs.filtering import selection_of  # numpy and pyarrow: not for every service start

    problems: list[ArmError] = []
    for flow_log in flow_logs:
        try:
            selection_of(flow_log)
        except OpenNsgError as error:
            problems.extend(
                dataclasses.replace(e, target=f"{flow_log.id}#{e.target}" if e.target else flow_log.id)
                for e in error.errors
            )
    return problems


def orphaned_flow_logs(new: Topology, old: Topology) -> list[str]:
    """Flow logs whose target this change removes (an NSG, VNet, subnet or NIC deleted): they go with it, as
    Network Watcher deletes a flow log with the resource it records."""
    return [
        flow_log.id
        for flow_log in new.flow_logs.values()
        if new.flow_log_target(flow_log) is None and old.flow_log_target(flow_log) is not None
    ]


def without_orphaned_flow_logs(new: Topology, old: Topology) -> tuple[Topology, tuple[str, ...]]:
    gone = orphaned_flow_logs(new, old)
    return (replace_models(new, removed=gone), tuple(gone)) if gone else (new, ())
