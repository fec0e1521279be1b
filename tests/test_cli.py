"""The `opennsg` command end to end: exit codes, ARM-style errors, --json shapes, --flows JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opennsg.cli.main import app

SUB = "00000000-0000-0000-0000-000000000001"
RG = "/subscriptions/" + SUB + "/resourceGroups/rg1/providers/Microsoft.Network"


def _rule(name: str, priority: int, direction: str, access: str, port: str, source: str = "*") -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "priority": priority,
            "direction": direction,
            "access": access,
            "protocol": "Tcp",
            "sourceAddressPrefix": source,
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": port,
        },
    }


def _network(nsg_rules: list[dict[str, Any]]) -> dict[str, Any]:
    nsg_id = f"{RG}/networkSecurityGroups/web-nsg"
    return {
        "value": [
            {
                "id": nsg_id,
                "name": "web-nsg",
                "type": "Microsoft.Network/networkSecurityGroups",
                "location": "westeurope",
                "properties": {"securityRules": nsg_rules},
            },
            {
                "id": f"{RG}/virtualNetworks/vnet1",
                "name": "vnet1",
                "type": "Microsoft.Network/virtualNetworks",
                "location": "westeurope",
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [
                        {
                            "id": f"{RG}/virtualNetworks/vnet1/subnets/web",
                            "name": "web",
                            "properties": {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": nsg_id}},
                        }
                    ],
                },
            },
            {
                "id": f"{RG}/networkInterfaces/web-nic",
                "name": "web-nic",
                "type": "Microsoft.Network/networkInterfaces",
                "location": "westeurope",
                "properties": {
                    "macAddress": "00-0D-3A-12-34-56",
                    "ipConfigurations": [
                        {
                            "id": f"{RG}/networkInterfaces/web-nic/ipConfigurations/ipconfig1",
                            "name": "ipconfig1",
                            "properties": {
                                "privateIPAddress": "10.0.1.4",
                                "primary": True,
                                "subnet": {"id": f"{RG}/virtualNetworks/vnet1/subnets/web"},
                            },
                        }
                    ],
                },
            },
        ]
    }


@pytest.fixture
def network(tmp_path: Path) -> Path:
    path = tmp_path / "network.json"
    path.write_text(json.dumps(_network([_rule("allow-https", 100, "Inbound", "Allow", "443", "Internet")])))
    return path


runner = CliRunner()


def test_validate_counts_resources(network: Path) -> None:
    result = runner.invoke(app, ["validate", str(network), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["valid"] is True
    assert body["resources"]["networkSecurityGroups"] == 1
    assert body["resources"]["securityRules"] == 1


def test_validate_reports_every_problem_with_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            _network(
                [
                    _rule("too-low", 50, "Inbound", "Allow", "443"),
                    _rule("bad-port", 200, "Inbound", "Allow", "80,81"),
                ]
            )
        )
    )
    result = runner.invoke(app, ["validate", str(bad), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    codes = {d["code"] for d in error["details"]}
    assert {"SecurityRuleInvalidPriority", "SecurityRuleInvalidPortRange"} <= codes


def test_validate_rejects_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text("this is not json")
    result = runner.invoke(app, ["validate", str(bad), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["code"] == "InvalidJson"


def test_verify_allowed_by_user_rule(network: Path) -> None:
    args = ["verify", str(network), "--nic", "web-nic", "--direction", "Inbound", "--protocol", "TCP"]
    result = runner.invoke(app, [*args, "--local", "10.0.1.4:443", "--remote", "203.0.114.7:50000", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["access"] == "Allow"
    assert body["ruleName"] == "securityRules/allow-https"
    assert body["networkSecurityGroupId"].endswith("/networkSecurityGroups/web-nsg")
    assert body["appliedTo"].endswith("/subnets/web")


def test_verify_expect_mismatch_exits_1(network: Path) -> None:
    args = ["verify", str(network), "--nic", "web-nic", "--direction", "Inbound", "--protocol", "TCP"]
    result = runner.invoke(app, [*args, "--local", "10.0.1.4:22", "--remote", "203.0.114.7:50000", "--expect", "Allow"])
    assert result.exit_code == 1
    assert "DenyAllInBound" in result.stdout
    assert "expected Allow, got Deny (defaultSecurityRules/DenyAllInBound)" in " ".join(result.stderr.split())
    as_json = runner.invoke(
        app, [*args, "--local", "10.0.1.4:22", "--remote", "203.0.114.7:50000", "--expect", "Allow", "--json"]
    )
    assert as_json.exit_code == 1
    assert json.loads(as_json.stderr) == {
        "expectationFailed": {"expected": "Allow", "actual": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"}
    }


def test_verify_bad_arguments_exit_2_with_all_problems(network: Path) -> None:
    result = runner.invoke(
        app, ["verify", str(network), "--nic", "web-nic", "--direction", "Sideways", "--protocol", "XYZ", "--json"]
    )
    assert result.exit_code == 2
    error = json.loads(result.stderr)["error"]
    assert len(error["details"]) >= 4  # direction, protocol, --local, --remote


def test_verify_flows_json_lines(network: Path, tmp_path: Path) -> None:
    flows = tmp_path / "flows.jsonl"
    rows = [
        {
            "targetResourceId": "web-nic",
            "direction": "Inbound",
            "protocol": "TCP",
            "localIPAddress": "10.0.1.4",
            "localPort": "443",
            "remoteIPAddress": "203.0.114.7",
            "remotePort": "50000",
        },
        {
            "targetResourceId": "web-nic",
            "direction": "Outbound",
            "protocol": "UDP",
            "localIPAddress": "10.0.1.4",
            "localPort": "50000",
            "remoteIPAddress": "10.0.2.9",
            "remotePort": "53",
        },
    ]
    flows.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["verify", str(network), "--flows", str(flows)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["access"] for line in lines] == ["Allow", "Allow"]
    assert lines[0]["ruleName"] == "securityRules/allow-https"
    assert lines[1]["ruleName"] == "defaultSecurityRules/AllowVnetOutBound"


def test_effective_rules_json(network: Path) -> None:
    result = runner.invoke(app, ["effective", str(network), "--nic", "web-nic", "--json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["value"]
    assert len(groups) == 1
    names = [r["name"] for r in groups[0]["effectiveSecurityRules"]]
    assert "securityRules/allow-https" in names
    assert "defaultSecurityRules/DenyAllInBound" in names


def test_show_lists_rules_and_associations(network: Path) -> None:
    result = runner.invoke(app, ["show", str(network), "--json"])
    assert result.exit_code == 0, result.output
    nsg = json.loads(result.stdout)["networkSecurityGroups"][0]
    assert nsg["subnets"][0].endswith("/subnets/web")
    assert len(nsg["rules"]) == 7  # one user rule + six defaults
    human = runner.invoke(app, ["show", str(network)], env={"COLUMNS": "200"})
    assert human.exit_code == 0
    assert "allow-https" in human.stdout


def test_verify_flows_to_parquet_reports_a_summary_and_bad_rows_exit_2(network: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    flows = tmp_path / "flows.jsonl"
    good = {
        "targetResourceId": "web-nic",
        "direction": "Inbound",
        "protocol": "TCP",
        "localIPAddress": "10.0.1.4",
        "localPort": "443",
        "remoteIPAddress": "203.0.114.7",
        "remotePort": "50000",
    }
    flows.write_text(json.dumps(good) + "\n" + json.dumps({**good, "localIPAddress": "not-an-ip"}) + "\n")
    out = tmp_path / "verdicts.parquet"
    result = runner.invoke(app, ["verify", str(network), "--flows", str(flows), "--output", str(out), "--json"])
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert (summary["flows"], summary["allowed"], summary["errors"]) == (2, 1, 1)
    table = pq.read_table(out).to_pylist()
    assert table[0]["access"] == "Allow"
    assert table[1]["error"]["code"]


def test_verify_flows_unknown_or_missing_file_is_bad_input(network: Path, tmp_path: Path) -> None:
    odd = tmp_path / "flows.xml"
    odd.write_text("<flows/>")
    for path in (odd, tmp_path / "missing.jsonl"):
        result = runner.invoke(app, ["verify", str(network), "--flows", str(path), "--json"])
        assert result.exit_code == 2
        assert json.loads(result.stderr)["error"]["code"] in {"InvalidFlowsFile", "FileNotFound"}


def test_verify_flows_at_the_vm_nic_holding_the_local_ip(tmp_path: Path) -> None:
    """vm-web1 has two NICs; a flow on the backend NIC's address is decided there (semantics §8.1), in every path."""
    example = Path(__file__).resolve().parents[1] / "examples" / "three-tier.json"
    flow = {
        "targetResourceId": "vm-web1",
        "direction": "Inbound",
        "protocol": "TCP",
        "remoteIPAddress": "10.1.1.4",
        "remotePort": "50000",
    }
    rows = [
        {**flow, "localIPAddress": "10.1.2.10", "localPort": "8080"},
        {**flow, "localIPAddress": "10.1.1.4", "localPort": "443"},
    ]
    flows = tmp_path / "flows.jsonl"
    flows.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["verify", str(example), "--flows", str(flows)])
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    assert verdicts[0]["appliedTo"].endswith("/subnets/snet-app")
    assert verdicts[1]["appliedTo"].endswith("/subnets/snet-web")
