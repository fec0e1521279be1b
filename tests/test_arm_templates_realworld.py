"""Every real template of ../shared/realworld/arm-templates (Azure Stack quick-start templates that declare NSGs,
verbatim, with provenance in their SOURCES.md): ``validate`` and ``show`` accept it, or refuse it only for a reason
Azure would refuse it too. The outcomes are published in docs/templates.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.realworld import REALWORLD
from typer.testing import CliRunner

from opennsg.cli.main import app

TEMPLATES = REALWORLD / "arm-templates" / "azurestack"

# Why Azure refuses a template too, as the words of our message that say it.
REASONS = {
    "no-value": ("has no value", "have no value"),  # required parameters the parameters file does not give
    "undeclared": "is given a value but the template does not declare it",  # Azure refuses undeclared parameters
    "not-allowed": "is not one of the allowed values",
    "empty-name": ("resource is empty", "a resource name is empty"),  # parameters files published with "" values
    "outside": "was not found",  # references a resource that exists outside the template (not given as input)
}
ACCEPTED = "accepted"
# template -> (parameters file or None, outcome). Linked templates are deployed by the template linking them;
# alone they lack the parameters it passes, as they would in Azure.
OUTCOMES: dict[str, tuple[str | None, str | frozenset[str]]] = {
    "101-availabilityset-multiplevm-create/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101-create-nsg/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101-create-vnet-nsg-only/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101-simple-windows-vm-custom-managed-disk/azuredeploy.json": (
        "azuredeploy.parameters.json",
        frozenset({"undeclared", "no-value"}),
    ),
    "101-vm-linux-create-with-extension-diagnostic/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101-vm-linux-docker-registry/azuredeploy.json": ("azuredeploy.parameters.json", frozenset({"empty-name"})),
    "101-vm-windows-create/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101-vm-windows-create-api-profile/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "101Linux-EmptyDataDisk-managed/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "201-vm-linux-comprehensive-with-managed-disks/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "201-vm-ubuntu-apply-extension-ospatching/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "201-vm-windows-comprehensive/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "201-vm-windows-comprehensive/storageAccount.json": (None, frozenset({"no-value"})),
    "AzureBackupServer/azuredeploy.json": ("azuredeploy.parameters.json", frozenset({"no-value", "outside"})),
    "MultiVm-Windows-AvailabilitySet-managed/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "anti-malware-ext-win/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "bootstorm-vm-boot-time/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "ethereum-consortium-blockchain/marketplace/ConsortiumLeader/mainTemplate.json": (None, frozenset({"no-value"})),
    "ethereum-consortium-blockchain/quickstart/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "ethereum-consortium-blockchain-poa/common/mainTemplate.json": (None, frozenset({"not-allowed"})),
    "hadoop-cluster/hadoop_cluster.json": ("parameters.json", ACCEPTED),
    "hadoop-cluster/jumpbox_node.json": (None, frozenset({"no-value"})),
    "hadoop-cluster/master_node.json": (None, frozenset({"no-value"})),
    "hadoop-cluster/worker_node.json": (None, frozenset({"no-value"})),
    "iostorm-vm-iops-latency/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "jetstress-2013-exchange-loadtest/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "mongodb-cluster/hadoop_cluster.json": ("parameters.json", ACCEPTED),
    "mongodb-cluster/jumpbox_node.json": (None, frozenset({"no-value"})),
    "mongodb-cluster/master_node.json": (None, frozenset({"no-value"})),
    "mongodb-cluster/worker_node.json": (None, frozenset({"no-value"})),
    "mysql-standalone-server-windows/azuredeploy.json": ("azuredeploy.parameters.json", frozenset({"no-value"})),
    "sample-hybrid-application/Hybrid-Deployment/Hybrid-Azure/azuredeploy.json": (
        "azuredeploy.parameters.json",
        frozenset({"empty-name"}),
    ),
    "sql-2014-non-ha/azuredeploy.json": ("azuredeploy.parameters.json", ACCEPTED),
    "sql-2014-non-ha/deploySqlStandalone.json": (None, frozenset({"no-value"})),
    "sql-2014-non-ha/sqlVmTemplate.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/azuredeploy.json": ("azuredeploy.parameters.json", frozenset({"no-value"})),
    "sql-2016-alwayson/configuringAlwaysOn.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/creatingADNIC.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/creatingNICS.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/preparingSqlServer.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/provisioningADVM.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/provisioningSQLVMs.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/setupLBs-e.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/storageAccountVirtualNetworkPublicIP.json": (None, frozenset({"no-value"})),
    "sql-2016-alwayson/vnet-with-dns-server.json": (None, frozenset({"no-value"})),
}

pytestmark = pytest.mark.skipif(not TEMPLATES.is_dir(), reason=f"real-world templates not present at {TEMPLATES}")


def _is_template(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError:
        return False
    return isinstance(data, dict) and "resources" in data and ("$schema" in data or "contentVersion" in data)


def test_every_template_of_the_folder_has_a_recorded_outcome() -> None:
    found = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.json") if _is_template(p)}
    assert found == set(OUTCOMES)


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_validate_and_show_give_the_recorded_outcome(name: str) -> None:
    parameters, outcome = OUTCOMES[name]
    template = TEMPLATES / name
    args = [str(template), *([str(template.parent / parameters)] if parameters else [])]
    runner = CliRunner()
    for command in ("validate", "show"):
        result = runner.invoke(app, [command, "--json", *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        if outcome == ACCEPTED:
            assert result.exit_code == 0, result.stderr
            continue
        assert result.exit_code == 2, result.stdout
        error = json.loads(result.stderr)["error"]
        details = error["details"] or [error]
        reasons = {
            reason
            for d in details
            for reason, words in REASONS.items()
            if any(w in d["message"] for w in ((words,) if isinstance(words, str) else words))
        }
        unexplained = [
            d["message"]
            for d in details
            if not any(
                w in d["message"] for words in REASONS.values() for w in ((words,) if isinstance(words, str) else words)
            )
        ]
        assert unexplained == [] and reasons == outcome
