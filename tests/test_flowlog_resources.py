"""Flow-log resources read from ARM JSON drive the data plane's flow-log writer (``opennsg simulate --flowlogs-out``):
what is written is what the resources covering each NIC keep — the most specific VNet flow log (NIC, subnet, VNet),
only when enabled, with its filter and record types; NSG flow logs only for NSGs with an enabled one, in its format
version. The resources round-trip through the loader and the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.arm import export_topology, load_documents, load_paths
from opennsg.cli.main import app
from opennsg.dataplane.scenario import run_scenario
from opennsg.model.errors import OpenNsgError
from opennsg.model.flowlog import FlowLog

EXAMPLES = Path(__file__).parent.parent / "examples" / "scenarios"
SUB = "00000000-0000-0000-0000-00000000c0de"
DEMO = f"/subscriptions/{SUB}/resourceGroups/demo/providers/Microsoft.Network"
VNET = f"{DEMO}/virtualNetworks/vnet"
WATCHERS = f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers"
WATCHER = f"{WATCHERS}/NetworkWatcher_westeurope"
STORAGE = f"/subscriptions/{SUB}/resourceGroups/demo/providers/Microsoft.Storage/storageAccounts/logs"
runner = CliRunner()

STEPS = """
steps:
  - connect: {name: ssh1, from: "52.174.10.25:50022", to: "web1-nic:22", protocol: tcp}
    expect: delivered
  - connect: {name: ssh2, from: "52.174.10.25:50023", to: "web2-nic:22", protocol: tcp}
    expect: delivered
  - connect: {name: sql, from: "web1-nic:41000", to: "db1-nic:5432"}
    expect: delivered
  - connect: {name: other, from: "52.174.10.25:50024", to: "db1-nic:22", protocol: tcp}
    expect: dropped
  - close: {connection: ssh1}
  - close: {connection: ssh2}
  - close: {connection: sql}
  - wait: 2m
"""


def flow_log(name: str, target: str, **properties: Any) -> dict[str, Any]:
    return {
        "id": f"{WATCHER}/flowLogs/{name}",
        "type": "Microsoft.Network/networkWatchers/flowLogs",
        "location": "westeurope",
        "properties": {"targetResourceId": target, "storageId": STORAGE, "enabled": True, **properties},
    }


def scenario(tmp_path: Path, flow_logs: list[dict[str, Any]], formats: str = "") -> Path:
    (tmp_path / "topology.json").write_text((EXAMPLES / "topology.json").read_text())
    (tmp_path / "flowlogs.json").write_text(json.dumps(flow_logs))
    path = tmp_path / "s.yaml"
    path.write_text(f"topology: [topology.json, flowlogs.json]\nstart: 2025-01-01T09:00:00Z\n{formats}{STEPS}")
    return path


def written(run: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Blob folder (the flow log or NSG it is for) -> (MAC, rule, tuple) of every tuple written."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    for path, document in run.flow_logs.documents().items():
        head = path.split("/y=")[0]
        for record in document["records"]:
            if "flowRecords" in record:
                for flow in record["flowRecords"]["flows"]:
                    for group in flow["flowGroups"]:
                        out.setdefault(head, []).extend(
                            (record["macAddress"], group["rule"], t) for t in group["flowTuples"]
                        )
            else:
                for rule in record["properties"]["flows"]:
                    for flows in rule["flows"]:
                        out.setdefault(head, []).extend((flows["mac"], rule["rule"], t) for t in flows["flowTuples"])
    return out


def _heads(run: Any) -> dict[str, str]:
    return {h.rsplit("/", 1)[-1]: h for h in written(run)}


def test_without_flow_log_resources_every_vnet_and_nsg_is_logged_as_before(tmp_path: Path) -> None:
    run = run_scenario(scenario(tmp_path, []))
    heads = set(_heads(run))
    assert heads == {"VNET-FLOWLOG", "WEB-NSG", "APP-NSG"}


def test_the_most_specific_enabled_vnet_flow_log_writes_with_its_filter_and_record_types(tmp_path: Path) -> None:
    logs = [
        flow_log("whole-vnet", VNET, recordTypes="B,D"),
        flow_log("web2-off", f"{DEMO}/networkInterfaces/web2-nic", enabled=False),
        flow_log("app-subnet", f"{VNET}/subnets/app", enabledFilteringCriteria="DstPort=5432 && Protocol=TCP"),
    ]
    run = run_scenario(scenario(tmp_path, logs))
    assert not run.expectations_failed
    out = written(run)
    heads = _heads(run)
    assert set(heads) == {"WHOLE-VNET", "APP-SUBNET"}, "web2's own (disabled) flow log silences it; no NSG flow log"
    whole = out[heads["WHOLE-VNET"]]
    assert {mac for mac, _, _ in whole} == {"000D3A000001"}, "only web1 is left to the VNet's flow log"
    assert {t.split(",")[7] for _, _, t in whole} == {"B"}, "recordTypes B,D: no End tuple (and nothing denied)"
    app_subnet = out[heads["APP-SUBNET"]]
    assert {mac for mac, _, _ in app_subnet} == {"000D3A000003"}
    ports = {t.split(",")[4] for _, _, t in app_subnet}
    assert ports == {"5432"}, "the denied SSH to db1 is filtered out"
    assert {t.split(",")[7] for _, _, t in app_subnet} == {"B", "E"}
    head = run.flow_logs.documents()
    record = next(d for p, d in head.items() if p.startswith(heads["APP-SUBNET"]))["records"][0]
    assert record["flowLogResourceID"] == f"{WATCHER}/flowLogs/app-subnet".upper()
    assert record["targetResourceID"] == f"{VNET}/subnets/app"


def test_nsg_flow_logs_only_for_nsgs_with_an_enabled_one_in_its_version(tmp_path: Path) -> None:
    logs = [
        flow_log("web-nsg-log", f"{DEMO}/networkSecurityGroups/web-nsg", format={"type": "JSON", "version": 1}),
        flow_log("app-nsg-log", f"{DEMO}/networkSecurityGroups/app-nsg", enabled=False),
    ]
    run = run_scenario(scenario(tmp_path, logs))
    paths = list(run.flow_logs.documents())
    assert paths and all("NETWORKSECURITYGROUPS/WEB-NSG/" in p and not p.startswith("v1/") for p in paths)
    record = run.flow_logs.documents()[paths[0]]["records"][0]
    assert record["properties"]["Version"] == 1
    assert not any("flowRecords" in r for d in run.flow_logs.documents().values() for r in d["records"])


def test_a_scenarios_formats_still_choose_what_is_written(tmp_path: Path) -> None:
    logs = [flow_log("web-nsg-log", f"{DEMO}/networkSecurityGroups/web-nsg"), flow_log("v", VNET)]
    run = run_scenario(scenario(tmp_path, logs, "flowLogs: {formats: [vnet]}\n"))
    assert set(_heads(run)) == {"V"}


def test_an_invalid_filter_in_a_flow_log_file_is_bad_input(tmp_path: Path) -> None:
    logs = [flow_log("v", VNET, enabledFilteringCriteria="DstPort=99999", recordTypes="B,Z")]
    path = scenario(tmp_path, logs)
    with pytest.raises(OpenNsgError) as caught:
        run_scenario(path)
    assert [e.code for e in caught.value.errors] == ["InvalidFilteringCriteria", "InvalidRecordTypes"]
    result = runner.invoke(app, ["simulate", str(path), "--json"])
    assert result.exit_code == 2
    assert "InvalidFilteringCriteria" in result.output


def test_flow_logs_load_from_az_and_arm_shapes_and_round_trip(tmp_path: Path) -> None:
    az_flattened = {
        "id": f"{WATCHER}/flowLogs/az",
        "name": "az",
        "type": "Microsoft.Network/networkWatchers/FlowLogs",
        "location": "westeurope",
        "targetResourceId": VNET,
        "storageId": STORAGE,
        "enabled": True,
        "enabledFilteringCriteria": "Direction=Inbound",
        "recordTypes": "B,C,E,D",
        "format": {"type": "JSON", "version": 2},
        "retentionPolicy": {"days": 30, "enabled": True},
        "flowAnalyticsConfiguration": {"networkWatcherFlowAnalyticsConfiguration": {"enabled": False}},
    }
    (tmp_path / "topology.json").write_text((EXAMPLES / "topology.json").read_text())
    (tmp_path / "flowlogs.json").write_text(json.dumps([az_flattened]))
    topology = load_paths([tmp_path / "topology.json", tmp_path / "flowlogs.json"])
    (loaded,) = topology.flow_logs.values()
    assert isinstance(loaded, FlowLog)
    assert (loaded.enabled, loaded.format_version, loaded.retention_days) == (True, 2, 30)
    assert loaded.record_types == "B,C,E,D"
    db1 = topology.find_nic("db1-nic")
    assert db1 is not None and topology.vnet_flow_log_of_nic(db1) == loaded
    again = load_documents([("export", export_topology(topology))])
    assert again.flow_logs == topology.flow_logs


def test_a_flow_log_naming_a_missing_or_unsupported_target_is_refused_by_the_loader(tmp_path: Path) -> None:
    (tmp_path / "topology.json").write_text((EXAMPLES / "topology.json").read_text())
    logs = [flow_log("gone", f"{VNET}/subnets/nope"), flow_log("odd", f"{DEMO}/routeTables/rt")]
    (tmp_path / "flowlogs.json").write_text(json.dumps(logs))
    with pytest.raises(OpenNsgError) as caught:
        load_paths([tmp_path / "topology.json", tmp_path / "flowlogs.json"])
    assert sorted(e.code for e in caught.value.errors) == ["FlowLogInvalidTargetResourceId", "InvalidResourceReference"]
