"""The enforce lab's flow logs follow the flow-log resources as the data plane's do (semantics §9): the VNet flow
log covering each NIC writes with its ``enabledFilteringCriteria`` and ``recordTypes``, an NSG is logged only with
an enabled NSG flow log on it, in that log's version. Offline: the lab's plan and kernel events are built by hand
(no namespace), so only the flow-log writing is exercised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.test_flowlog_resources import DEMO, EXAMPLES, VNET, flow_log

from opennsg.arm import load_paths
from opennsg.enforce.apply import AppliedNic
from opennsg.enforce.compile import RuleRef
from opennsg.enforce.flowlogs import lab_flow_entries
from opennsg.enforce.lab import Lab, _plan_from_json, _plan_json
from opennsg.enforce.topology import LabPlan, plan_lab
from opennsg.flowlogs.formats import LogFormat
from opennsg.flowlogs.writer import FlowLogWriter
from opennsg.model import Access, Direction

WEB_NSG = f"{DEMO}/networkSecurityGroups/web-nsg"
APP_NSG = f"{DEMO}/networkSecurityGroups/app-nsg"
BASE = 1_735_722_000.0  # 2025-01-01T09:00:00Z


def _plan(tmp_path: Path, flow_logs: list[dict[str, Any]]) -> LabPlan:
    (tmp_path / "topology.json").write_text((EXAMPLES / "topology.json").read_text())
    paths = [tmp_path / "topology.json"]
    if flow_logs:
        (tmp_path / "flowlogs.json").write_text(json.dumps(flow_logs))
        paths.append(tmp_path / "flowlogs.json")
    return plan_lab(load_paths(paths), "fl")


def _lab(plan: LabPlan) -> Lab:
    """The lab with one allow and one deny mark per NIC, decided by its subnet's NSG."""
    rulesets = {}
    for nic in plan.nics:
        nsg = APP_NSG if nic.name.startswith("db") else WEB_NSG
        allow = RuleRef(1, Direction.INBOUND, Access.ALLOW, "securityRules/allow", "UserRule_allow", nsg, "guid-a")
        deny = RuleRef(2, Direction.INBOUND, Access.DENY, "securityRules/deny", "UserRule_deny", nsg, "guid-d")
        rulesets[nic.id] = AppliedNic(nic.id, {1: allow, 2: deny})
    return Lab(plan, (), rulesets)


def _events(plan: LabPlan) -> list[dict[str, Any]]:
    """For each NIC: an inbound SSH flow begun and ended, an inbound 5432 flow begun, a denied 3389."""
    events: list[dict[str, Any]] = []
    for i, nic in enumerate(plan.nics):
        local = nic.addresses[0]
        flow = {"nic": nic.id, "src": "52.174.10.25", "dst": local, "protocol": 6}
        at = BASE + i
        events += [
            {**flow, "kind": "begin", "id": 10 + i, "sport": 50022, "dport": 22, "mark": 1, "time": at},
            {**flow, "kind": "end", "id": 10 + i, "sport": 50022, "dport": 22, "mark": 1, "time": at + 5},
            {**flow, "kind": "begin", "id": 20 + i, "sport": 41000, "dport": 5432, "mark": 1, "time": at + 6},
            {**flow, "kind": "drop", "sport": 50100, "dport": 3389, "mark": 2, "time": at + 7},
        ]
    return events


def _written(lab: Lab) -> dict[str, list[str]]:
    """Blob folder's last segment -> every tuple written there (as the lab writes: its formats for the plan)."""
    formats = (LogFormat.NSG_V2, LogFormat.VNET) if lab.plan.nsg_flow_logs is None else tuple(LogFormat)
    writer = FlowLogWriter(formats)
    writer.extend(lab_flow_entries(lab, _events(lab.plan)))
    out: dict[str, list[str]] = {}
    for path, document in writer.documents().items():
        head = path.split("/y=")[0].rsplit("/", 1)[-1]
        for record in document["records"]:
            if "flowRecords" in record:
                tuples = [t for f in record["flowRecords"]["flows"] for g in f["flowGroups"] for t in g["flowTuples"]]
            else:
                version = record["properties"]["Version"]
                tuples = [
                    f"v{version}:{t}"
                    for r in record["properties"]["flows"]
                    for f in r["flows"]
                    for t in f["flowTuples"]
                ]
            out.setdefault(head, []).extend(tuples)
    return out


def test_without_flow_log_resources_every_vnet_and_nsg_is_logged(tmp_path: Path) -> None:
    written = _written(_lab(_plan(tmp_path, [])))
    assert set(written) == {"VNET-FLOWLOG", "WEB-NSG", "APP-NSG"}
    assert {t.split(",")[7] for t in written["VNET-FLOWLOG"]} == {"B", "E", "D"}


def test_the_covering_vnet_flow_log_filters_and_keeps_its_record_types(tmp_path: Path) -> None:
    logs = [
        flow_log("whole-vnet", VNET, recordTypes="B,D"),
        flow_log("web2-off", f"{DEMO}/networkInterfaces/web2-nic", enabled=False),
        flow_log("app-subnet", f"{VNET}/subnets/app", enabledFilteringCriteria="DstPort=5432 && Protocol=TCP"),
    ]
    plan = _plan(tmp_path, logs)
    written = _written(_lab(plan))
    assert set(written) == {"WHOLE-VNET", "APP-SUBNET"}, "web2's own flow log is off; no NSG flow log at all"
    assert {t.split(",")[7] for t in written["WHOLE-VNET"]} == {"B", "D"}, "recordTypes B,D: no End tuple"
    assert {t.split(",")[4] for t in written["APP-SUBNET"]} == {"5432"}, "the filter keeps DstPort 5432 only"
    web1 = next(n for n in plan.nics if n.name == "web1-nic")
    assert {t.split(",")[2] for t in written["WHOLE-VNET"]} == {web1.addresses[0]}


def test_nsg_flow_logs_only_where_enabled_in_their_version(tmp_path: Path) -> None:
    logs = [
        flow_log("web-nsg-log", WEB_NSG, format={"type": "JSON", "version": 1}),
        flow_log("app-nsg-log", APP_NSG, enabled=False),
    ]
    written = _written(_lab(_plan(tmp_path, logs)))
    assert set(written) == {"WEB-NSG"}
    assert {t.split(":")[0] for t in written["WEB-NSG"]} == {"v1"}


def test_the_lab_state_keeps_the_flow_log_resources(tmp_path: Path) -> None:
    logs = [
        flow_log("app-subnet", f"{VNET}/subnets/app", enabledFilteringCriteria="DstPort=5432", recordTypes="B"),
        flow_log("web-nsg-log", WEB_NSG),
    ]
    plan = _plan(tmp_path, logs)
    again = _plan_from_json(json.loads(json.dumps(_plan_json(plan))))
    assert again.nics == plan.nics and again.nsg_flow_logs == plan.nsg_flow_logs
    assert _written(_lab(again)) == _written(_lab(plan))
