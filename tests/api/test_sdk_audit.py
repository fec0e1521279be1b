"""Operation-by-operation audit of ``opennsg serve`` with the real Azure SDK: every NSG-world operation the SDK
exposes, response fields as Azure fills them, paging through the SDK's pagers, and errors as ``HttpResponseError``
carrying the ARM code. The server pages by two so that every list follows ``nextLink``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as nm
from azure.mgmt.resource.resources import ResourceManagementClient
from tests.api.conftest import SUB, RunningServer, rid
from tests.api.test_sdk import clients

from opennsg.model.servicetags import ServiceTags

LOCATION = "westus"
SERVICE_TAGS = Path(__file__).parents[2] / "src" / "opennsg" / "data" / "sample-service-tags.json"
WATCHER = ("NetworkWatcherRG", "NetworkWatcher_westus")


@pytest.fixture
def sdk(
    sqlite_url: str, start_server: Callable[..., RunningServer]
) -> Iterator[tuple[NetworkManagementClient, ResourceManagementClient]]:
    server = start_server(sqlite_url, page_size=2, service_tags=ServiceTags.load(SERVICE_TAGS))
    network, resources = clients(server)
    resources.resource_groups.create_or_update("rg1", {"location": LOCATION})
    yield network, resources
    network.close()
    resources.close()


def arm_code(call: Callable[[], object]) -> str:
    """The ARM error code the SDK surfaces when ``call`` fails."""
    with pytest.raises(HttpResponseError) as raised:
        call()
    assert raised.value.error is not None
    return str(raised.value.error.code)


def ids(items: Iterator[nm.SubResource] | list[nm.SubResource] | None) -> set[str]:
    return {str(item.id).casefold() for item in items or []}


def test_resource_groups(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    _, resources = sdk
    for name in ("rg2", "rg3", "rg4"):
        created = resources.resource_groups.create_or_update(name, {"location": LOCATION, "tags": {"k": name}})
        assert created.id == f"/subscriptions/{SUB}/resourceGroups/{name}"
        assert created.type == "Microsoft.Resources/resourceGroups"
        assert created.properties.provisioning_state == "Succeeded"
    got = resources.resource_groups.get("rg3")
    assert (got.name, got.location, got.tags) == ("rg3", LOCATION, {"k": "rg3"})
    assert sorted(g.name for g in resources.resource_groups.list()) == ["rg1", "rg2", "rg3", "rg4"]
    assert resources.resource_groups.check_existence("rg2") is True
    resources.resource_groups.begin_delete("rg2").result()
    assert resources.resource_groups.check_existence("rg2") is False
    assert arm_code(lambda: resources.resource_groups.get("rg2")) == "ResourceGroupNotFound"
    assert arm_code(lambda: resources.resource_groups.begin_delete("rg2").result()) == "ResourceGroupNotFound"


def test_nsgs_rules_and_asgs(sdk: tuple[NetworkManagementClient, ResourceManagementClient]) -> None:
    network, _ = sdk
    asgs = [
        network.application_security_groups.begin_create_or_update(
            "rg1", name, nm.ApplicationSecurityGroup(location=LOCATION, tags={"tier": name})
        ).result()
        for name in ("web", "app", "db")
    ]
    web = asgs[0]
    assert web.id == rid("applicationSecurityGroups", "web")
    assert web.type == "Microsoft.Network/applicationSecurityGroups"
    assert web.etag and web.provisioning_state == "Succeeded" and web.location == LOCATION
    assert network.application_security_groups.get("rg1", "app").tags == {"tier": "app"}
    assert sorted(a.name for a in network.application_security_groups.list("rg1")) == ["app", "db", "web"]
    assert sorted(a.name for a in network.application_security_groups.list_all()) == ["app", "db", "web"]
    tagged = network.application_security_groups.update_tags("rg1", "db", nm.TagsObject(tags={"x": "y"}))
    assert tagged.tags == {"x": "y"}

    nsg = network.network_security_groups.begin_create_or_update(
        "rg1",
        "nsg1",
        nm.NetworkSecurityGroup(
            location=LOCATION,
            security_rules=[
                nm.SecurityRule(
                    name="plural",
                    protocol="Tcp",
                    source_address_prefixes=["10.0.0.0/24", "10.0.1.0/24"],
                    source_port_range="*",
                    destination_address_prefix="*",
                    destination_port_ranges=["80", "443", "8000-8100"],
                    access="Allow",
                    priority=100,
                    direction="Inbound",
                )
            ],
        ),
    ).result()
    assert nsg.id == rid("networkSecurityGroups", "nsg1") and nsg.type == "Microsoft.Network/networkSecurityGroups"
    assert nsg.etag and nsg.provisioning_state == "Succeeded" and nsg.resource_guid
    plural = nsg.security_rules[0]
    assert plural.id == rid("networkSecurityGroups", "nsg1") + "/securityRules/plural"
    assert plural.type == "Microsoft.Network/networkSecurityGroups/securityRules"
    assert plural.source_address_prefixes == ["10.0.0.0/24", "10.0.1.0/24"]
    assert plural.destination_port_ranges == ["80", "443", "8000-8100"]
    defaults = {r.name: r for r in nsg.default_security_rules}
    assert set(defaults) == {
        "AllowVnetInBound", "AllowAzureLoadBalancerInBound", "DenyAllInBound",
        "AllowVnetOutBound", "AllowInternetOutBound", "DenyAllOutBound",
    }  # fmt: skip
    assert defaults["DenyAllInBound"].priority == 65500
    assert defaults["DenyAllInBound"].id == rid("networkSecurityGroups", "nsg1") + "/defaultSecurityRules/DenyAllInBound"

    rule = network.security_rules.begin_create_or_update(
        "rg1",
        "nsg1",
        "asg-rule",
        nm.SecurityRule(
            protocol="*",
            source_application_security_groups=[nm.ApplicationSecurityGroup(id=asgs[0].id)],
            destination_application_security_groups=[nm.ApplicationSecurityGroup(id=asgs[2].id)],
            source_port_range="*",
            destination_port_range="5432",
            access="Allow",
            priority=200,
            direction="Inbound",
        ),
    ).result()
    assert rule.name == "asg-rule" and rule.etag and rule.provisioning_state == "Succeeded"
    assert ids(rule.source_application_security_groups) == {asgs[0].id.casefold()}
    assert ids(rule.destination_application_security_groups) == {asgs[2].id.casefold()}
    network.security_rules.begin_create_or_update(
        "rg1",
        "nsg1",
        "out-deny",
        nm.SecurityRule(
            protocol="Udp",
            source_address_prefix="VirtualNetwork",
            source_port_range="*",
            destination_address_prefix="Internet",
            destination_port_range="53",
            access="Deny",
            priority=300,
            direction="Outbound",
        ),
    ).result()
    got = network.security_rules.get("rg1", "nsg1", "asg-rule")
    assert got.id == rid("networkSecurityGroups", "nsg1") + "/securityRules/asg-rule" and got.priority == 200
    assert sorted(r.name for r in network.security_rules.list("rg1", "nsg1")) == ["asg-rule", "out-deny", "plural"]
    assert len(list(network.default_security_rules.list("rg1", "nsg1"))) == 6
    allow_lb = network.default_security_rules.get("rg1", "nsg1", "AllowAzureLoadBalancerInBound")
    assert allow_lb.source_address_prefix == "AzureLoadBalancer" and allow_lb.priority == 65001

    network.security_rules.begin_delete("rg1", "nsg1", "out-deny").result()
    assert arm_code(lambda: network.security_rules.get("rg1", "nsg1", "out-deny")) == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        network.network_security_groups.get("rg1", "missing")
    assert arm_code(lambda: network.network_security_groups.get("nogroup", "nsg1")) == "ResourceGroupNotFound"

    for name in ("nsg2", "nsg3"):
        network.network_security_groups.begin_create_or_update(
            "rg1", name, nm.NetworkSecurityGroup(location=LOCATION)
        ).result()
    assert sorted(n.name for n in network.network_security_groups.list("rg1")) == ["nsg1", "nsg2", "nsg3"]
    assert sorted(n.name for n in network.network_security_groups.list_all()) == ["nsg1", "nsg2", "nsg3"]
    before = network.network_security_groups.get("rg1", "nsg2")
    after = network.network_security_groups.update_tags("rg1", "nsg2", nm.TagsObject(tags={"env": "prod"}))
    assert after.tags == {"env": "prod"} and after.etag != before.etag
    network.network_security_groups.begin_delete("rg1", "nsg3").result()
    assert sorted(n.name for n in network.network_security_groups.list("rg1")) == ["nsg1", "nsg2"]
    # a rule naming an ASG keeps it in use
    code = arm_code(lambda: network.application_security_groups.begin_delete("rg1", "web").result())
    assert code == "InUseApplicationSecurityGroupCannotBeDeleted"
    network.application_security_groups.begin_delete("rg1", "app").result()
    assert sorted(a.name for a in network.application_security_groups.list_all()) == ["db", "web"]
    bad_rule = nm.SecurityRule(
        protocol="Tcp",
        source_address_prefix="*",
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range="22",
        access="Allow",
        priority=200,
        direction="Inbound",
    )
    code = arm_code(lambda: network.security_rules.begin_create_or_update("rg1", "nsg1", "dup", bad_rule).result())
    assert code == "SecurityRuleConflict"
