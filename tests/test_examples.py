"""The bundled examples load, validate and resolve; the sample service tags file loads and is reproducible."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from tests.reference import KMS_ADDRESSES

from opennsg.arm import load_paths
from opennsg.model import ServiceTags, Topology
from opennsg.model.validation import validate_topology
from opennsg.model.values import parse_prefix

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SAMPLE_TAGS = ROOT / "src" / "opennsg" / "data" / "sample-service-tags.json"


def _by_name(topology: Topology) -> dict[str, tuple[str, str | None, str | None]]:
    """VM name -> (subnet name, subnet NSG name, NIC NSG name) of its primary NIC."""
    out = {}
    for vm in topology.vms.values():
        nic = topology.find_nic(vm.id)
        assert nic is not None
        subnet = topology.subnet(nic.subnet)
        assert subnet is not None
        subnet_nsg = topology.nsg(subnet.network_security_group)
        nic_nsg = topology.nsg(nic.network_security_group)
        out[vm.name] = (subnet.name, subnet_nsg.name if subnet_nsg else None, nic_nsg.name if nic_nsg else None)
    return out


@pytest.mark.parametrize("name", ["how-nsgs-filter-traffic.json", "how-nsgs-filter-traffic.template.json"])
def test_how_nsgs_filter_traffic_matches_the_article(name: str) -> None:
    topology = load_paths([EXAMPLES / name])
    assert validate_topology(topology) == []
    assert _by_name(topology) == {
        "VM1": ("Subnet1", "NSG1", "NSG2"),
        "VM2": ("Subnet1", "NSG1", None),
        "VM3": ("Subnet2", None, "NSG2"),
        "VM4": ("Subnet3", None, None),
    }
    (vnet,) = topology.vnets.values()
    assert vnet.address_space == ("10.0.0.0/16",)
    for nsg in topology.nsgs.values():
        (rule,) = nsg.security_rules
        assert (rule.direction, rule.access, rule.protocol, rule.source_address_prefix, rule.destination_ports) == (
            "Inbound",
            "Allow",
            "Tcp",
            "Internet",
            ("80",),
        )
    nsg1 = next(n for n in topology.nsgs.values() if n.name == "NSG1")
    assert [s.name for s in topology.subnets_using_nsg(nsg1.id)] == ["Subnet1"]
    assert topology.nics_using_nsg(nsg1.id) == []


def test_three_tier_example() -> None:
    topology = load_paths([EXAMPLES / "three-tier.json"])
    assert validate_topology(topology) == []
    spoke = next(v for v in topology.vnets.values() if v.name == "vnet-spoke")
    hub = next(v for v in topology.vnets.values() if v.name == "vnet-hub")
    assert [(p.connected, p.remote_address_space) for p in spoke.peerings] == [(True, hub.address_space)]
    assert [(p.connected, p.remote_address_space) for p in hub.peerings] == [(True, spoke.address_space)]
    forced = [s.name for s in topology.subnets if (rt := topology.route_table(s.route_table)) and rt.forces_tunnelling]
    assert forced == ["snet-app"]
    assert {a.name for a in topology.asgs.values()} == {"asg-web", "asg-app", "asg-db"}
    asg_rules = [r for n in topology.nsgs.values() for r in n.security_rules if r.source_asgs and r.destination_asgs]
    assert asg_rules, "rules with ASGs as both source and destination"
    assert any(len(vm.network_interfaces) == 2 for vm in topology.vms.values())
    (subscription,) = topology.subscriptions.values()
    assert subscription.offer_type == "EnterpriseAgreement"
    for asg in topology.asgs.values():
        assert list(topology.nics_in_asg(asg.id)), f"{asg.name} has members"


def test_the_examples_directory_loads_as_a_whole() -> None:
    """Every example side by side: distinct ids (the template sits under its placeholder subscription)."""
    names = sorted(n.name for n in load_paths([EXAMPLES]).nsgs.values())
    for expected in ("NSG1", "NSG2", "nsg-web", "nsg-app", "nsg-db"):
        assert expected in names
    assert names.count("NSG1") == 2  # the list and the template


# --- sample service tags -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> ServiceTags:
    return ServiceTags.load(SAMPLE_TAGS)


def test_sample_tags_load_with_the_required_tags(sample: ServiceTags) -> None:
    for name in (
        "Storage",
        "Storage.WestUS",
        "Sql",
        "Sql.WestEurope",
        "AzureCloud",
        "AzureCloud.eastus",
        "AzureMonitor",
    ):
        tag = sample.nsg_tag(name.upper())
        assert tag is not None and tag.name == name and tag.address_prefixes
    assert sample.get("SampleTagWithoutNsg") is not None
    assert sample.nsg_tag("SampleTagWithoutNsg") is None
    lkm = sample.nsg_tag("AzurePlatformLKM")
    assert lkm is not None and set(lkm.address_prefixes) == set(KMS_ADDRESSES)
    assert sample.get("Storage.WestUS").region == "westus"  # type: ignore[union-attr]


def test_sample_tags_have_a_large_dual_stack_tag(sample: ServiceTags) -> None:
    large = sample.nsg_tag("SampleLargeTag")
    assert large is not None
    networks = [parse_prefix(p) for p in large.address_prefixes]
    assert len(networks) >= 10_000
    assert {n.version for n in networks if n is not None} == {4, 6}
    assert None not in networks


def test_sample_tags_are_clearly_sample_data_in_unroutable_ranges() -> None:
    raw = json.loads(SAMPLE_TAGS.read_text())
    assert "NOT Azure's real" in raw["opennsgSampleData"]
    documentation = [
        parse_prefix(p) for p in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")
    ]
    kms = set(KMS_ADDRESSES)
    for value in raw["values"]:
        for prefix in value["properties"]["addressPrefixes"]:
            if prefix in kms:
                continue
            network = parse_prefix(prefix)
            assert network is not None
            assert any(
                d is not None and d.version == network.version and network.subnet_of(d)  # type: ignore[arg-type]
                for d in documentation
            ), prefix


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_sample_service_tags", ROOT / "scripts" / "make_sample_service_tags.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_file_is_what_the_script_generates(tmp_path: Path) -> None:
    generator = _generator()
    out = tmp_path / "tags.json"
    assert generator.main(["make", str(out)]) == 0
    assert out.read_text() == SAMPLE_TAGS.read_text()
