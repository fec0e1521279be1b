"""The example networks in three forms (ARM JSON, hand-written HCL, plan/state JSON) give identical answers,
and ``export --format terraform`` round-trips any topology (verdicts and model)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from opennsg.arm import load_paths
from opennsg.engine import Engine
from opennsg.engine.flow import Flow
from opennsg.model import OpenNsgError, Topology
from opennsg.model.enums import IpAllocationMethod
from opennsg.model.ids import id_key
from opennsg.model.resources import IpConfiguration, PrivateEndpoint, PrivateEndpointIpConfiguration
from opennsg.model.validation import validate_topology
from opennsg.terraform import TerraformInputs
from opennsg.terraform.export import export_module
from strategies import flows_for, topology_and_flows

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TF = EXAMPLES / "terraform"
THREE_TIER_SUBSCRIPTION = "8d2e4f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"

FORMS: dict[str, dict[str, tuple[list[Path], TerraformInputs | None]]] = {
    "how-nsgs-filter-traffic": {
        "arm": ([EXAMPLES / "how-nsgs-filter-traffic.json"], None),
        "hcl": ([TF / "how-nsgs-filter-traffic"], None),
        "plan": ([TF / "how-nsgs-filter-traffic" / "plan.json"], None),
    },
    "hub-and-spoke": {
        "arm": ([EXAMPLES / "hub-and-spoke.json", EXAMPLES / "hub-and-spoke-avnm.json"], None),
        "hcl": ([TF / "hub-and-spoke"], None),
        "plan": ([TF / "hub-and-spoke" / "plan.json"], None),
    },
    "three-tier": {
        "arm": ([EXAMPLES / "three-tier.json"], None),
        "hcl": (
            [TF / "three-tier", TF / "three-tier" / "subscription.json"],
            TerraformInputs(subscription=THREE_TIER_SUBSCRIPTION),
        ),
        "plan": ([TF / "three-tier" / "plan.json", TF / "three-tier" / "subscription.json"], None),
        "state": ([TF / "three-tier" / "state.json", TF / "three-tier" / "subscription.json"], None),
    },
}
_CACHE: dict[tuple[str, str], Topology] = {}
KINDS = ("nsgs", "asgs", "vnets", "route_tables", "nics", "vms", "public_ips")
AVNM_KINDS = (
    "network_managers",
    "network_groups",
    "static_members",
    "security_admin_configurations",
    "admin_rule_collections",
    "admin_rules",
)


def form(network: str, kind: str) -> Topology:
    if (network, kind) not in _CACHE:
        paths, inputs = FORMS[network][kind]
        _CACHE[(network, kind)] = load_paths(paths, terraform=inputs)
    return _CACHE[(network, kind)]


def essence(topology: Topology) -> dict[str, Any]:
    """What every form can say: everything but Azure-assigned values (GUIDs, MACs, public addresses)."""

    def clean(resource: Any) -> Any:
        changes: dict[str, Any] = {}
        for attribute in ("resource_guid", "mac_address", "tags"):
            if hasattr(resource, attribute):
                changes[attribute] = None if attribute != "tags" else {}
        if hasattr(resource, "ip_address"):
            changes["ip_address"] = None
        return replace(resource, **changes)

    def subnets(vnet: Any) -> Any:
        """Subnet settings by what they mean (a plan states the provider's defaults, ARM leaves them out)."""
        return replace(
            vnet,
            subnets=tuple(
                replace(
                    s,
                    private_endpoint_network_policies=s.endpoint_network_policies,
                    default_outbound_access=s.has_default_outbound_access,
                )
                for s in vnet.subnets
            ),
        )

    out = {
        kind: {key: clean(r) for key, r in getattr(topology, kind).items()}
        for kind in (*KINDS, "nat_gateways", "private_endpoints", *AVNM_KINDS)
    }
    out["nics"] = {  # a VM back-reference to a VM not in the input is what azurerm has no argument for
        key: replace(
            n,
            virtual_machine=n.virtual_machine if topology.vm(n.virtual_machine or "") else None,
            ip_configurations=tuple(map(allocation_stated, n.ip_configurations)),
        )
        for key, n in out["nics"].items()
    }
    out["static_members"] = {key: replace(m, region=None) for key, m in out["static_members"].items()}
    out["vnets"] = {key: subnets(v) for key, v in out["vnets"].items()}
    out["public_ips"] = {  # by what the SKU means (azurerm states its default, Standard; ARM may leave it out)
        key: replace(
            p,
            sku_name="Standard" if p.closed_by_default else "Basic",
            sku_tier=None,
            public_ip_allocation_method=p.allocation_method,  # azurerm requires it; ARM has the SKU's default
        )
        for key, p in out["public_ips"].items()
    }
    return out


def allocation_stated(configuration: IpConfiguration) -> IpConfiguration:
    """azurerm requires ``private_ip_address_allocation``: an ARM configuration that leaves it out (a given address
    kept) says what a Terraform one says with Static, or Dynamic when it has no address."""
    if configuration.private_ip_allocation_method is not None:
        return configuration
    stated = IpAllocationMethod.STATIC if configuration.private_ip_address else IpAllocationMethod.DYNAMIC
    return replace(configuration, private_ip_allocation_method=stated)


def answer(engine: Engine, nic: str, flow: Flow) -> tuple[Any, ...]:
    verdict = engine.verify(nic, flow)
    return verdict.access, verdict.rule_name, id_key(verdict.nsg_id or ""), id_key(verdict.applied_to or "")


@pytest.mark.parametrize(("network", "kind"), [(n, k) for n, forms in FORMS.items() for k in forms if k != "arm"])
def test_every_form_is_the_same_model(network: str, kind: str) -> None:
    assert essence(form(network, kind)) == essence(form(network, "arm"))


@pytest.mark.parametrize("network", list(FORMS))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_every_verify_answer_is_identical_across_forms(network: str, data: st.DataObject) -> None:
    arm = form(network, "arm")
    engines = {kind: Engine(form(network, kind)) for kind in FORMS[network]}
    for _ in range(10):
        nic, flow = data.draw(flows_for(arm))
        answers = {kind: answer(engine, nic, flow) for kind, engine in engines.items()}
        assert len(set(answers.values())) == 1, answers


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(case=topology_and_flows(max_flows=12))
def test_export_round_trip_keeps_model_and_verdicts(
    case: tuple[Topology, list[tuple[str, Flow]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    topology, flows = expressible(case[0]), case[1]
    directory = tmp_path_factory.mktemp("export")
    export_module(topology, directory)
    expected = {e.code for e in validate_topology(topology)}  # random worlds are not always valid for ARM
    if expected:
        with pytest.raises(OpenNsgError) as caught:
            load_paths([directory], service_tags=topology.service_tags)
        assert {e.code for e in caught.value.errors} == expected
    back = load_paths([directory], service_tags=topology.service_tags, validate=False)
    assert essence_without_state(back) == essence_without_state(topology)
    before, after = (
        Engine(topology.with_(service_tags=topology.service_tags)),
        Engine(back.with_(service_tags=topology.service_tags, subscriptions=topology.subscriptions.values())),
    )
    for nic, flow in flows:
        assert answer(after, nic, flow) == answer(before, nic, flow)


def expressible(topology: Topology) -> Topology:
    """The topology as Terraform can say it: no gateway prefixes (OpenNSG's own), peering states and remote
    spaces as Azure derives them (Connected when the remote VNet peers back)."""
    vnets = {v.key: replace(v, gateway_prefixes=()) for v in topology.vnets.values()}

    def derived(vnet: Any, peering: Any) -> Any:
        remote = vnets.get(id_key(peering.remote_virtual_network or ""))
        if remote is None:
            return replace(peering, peering_state="Connected", remote_address_space=())
        back = any(id_key(p.remote_virtual_network or "") == vnet.key for p in remote.peerings)
        state = "Connected" if back else "Initiated"
        return replace(peering, peering_state=state, remote_address_space=remote.address_space)

    return topology.with_(vnets=[replace(v, peerings=tuple(derived(v, p) for p in v.peerings)) for v in vnets.values()])


def essence_without_state(topology: Topology) -> dict[str, Any]:
    """``essence`` less what Terraform cannot say: peering states and remote spaces (Azure decides them from
    both ends), NSG ``flushConnection`` and OpenNSG's gateway prefixes (no azurerm argument), an empty location
    (azurerm requires one: export writes a placeholder), the order of a configuration's ASGs (no meaning)."""
    out = essence(topology)
    out["vnets"] = {
        k: replace(
            v,
            gateway_prefixes=(),
            peerings=tuple(replace(p, peering_state="", remote_address_space=()) for p in v.peerings),
        )
        for k, v in out["vnets"].items()
    }
    out["nsgs"] = {k: replace(v, flush_connection=False) for k, v in out["nsgs"].items()}
    out["nics"] = {
        k: replace(
            v,
            ip_configurations=tuple(
                replace(c, application_security_groups=tuple(sorted(c.application_security_groups, key=id_key)))
                for c in v.ip_configurations
            ),
        )
        for k, v in out["nics"].items()
    }
    for kind, resources in out.items():
        out[kind] = {k: replace(v, location="") for k, v in resources.items()}
    return out


@pytest.mark.parametrize("network", list(FORMS))
def test_examples_export_round_trip(network: str, tmp_path: Path) -> None:
    topology = form(network, "arm")
    export_module(topology, tmp_path)
    assert essence(load_paths([tmp_path])) == essence(topology)


def expressible_avnm(topology: Topology) -> Topology:
    """An AVNM world as Terraform can say it: no management-group tree, effective-rules answers or default
    admin rules (no azurerm resource), rule ids ending in their names,
    deployment statuses only Deployed ones naming configuration ids; each
    private endpoint's NIC as Azure makes it (the endpoint's ASGs on every configuration, only addressed
    configurations, no public IP, pools, forwarding or VM; azurerm has no argument for those)."""
    topology = _subnet_ids_by_name(expressible(topology))
    statuses = [
        s
        for s in topology.deployment_statuses
        if s.deployment_status.value == "Deployed"
        and all(topology.security_admin_configuration(c) for c in s.configuration_ids)
        and len({id_key(topology.security_admin_configuration(c).network_manager_id) for c in s.configuration_ids})  # type: ignore[union-attr]
        == 1
    ]
    nics = []
    endpoints = []
    for endpoint in topology.private_endpoints.values():
        owned = [n for n in topology.nics.values() if topology.private_endpoint_of_nic(n.id) == endpoint]
        for nic in owned:
            configs = [c for c in nic.ip_configurations if c.private_ip_address] or list(nic.ip_configurations[:1])
            asgs = tuple(dict.fromkeys(a for c in configs for a in c.application_security_groups))
            nics.append(
                replace(
                    nic,
                    location=endpoint.location,
                    tags={},
                    enable_ip_forwarding=False,
                    virtual_machine=None,
                    private_endpoint=endpoint.id,
                    ip_configurations=tuple(
                        replace(
                            c,
                            primary=i == 0,
                            public_ip_address=None,
                            load_balancer_backend_address_pools=(),
                            application_security_groups=asgs,
                            subnet=endpoint.subnet,
                            private_ip_allocation_method=(
                                IpAllocationMethod.STATIC if c.private_ip_address else IpAllocationMethod.DYNAMIC
                            ),
                        )
                        for i, c in enumerate(configs)
                    ),
                )
            )
        addressed = [as_endpoint_block(endpoint, c) for n in owned for c in n.ip_configurations if c.private_ip_address]
        endpoints.append(
            replace(
                endpoint,  # as azurerm writes it: the NIC by name, its static addresses, its ASGs
                network_interfaces=tuple(n.id for n in owned[:1]) or endpoint.network_interfaces,
                custom_network_interface_name=owned[0].name if owned else None,
                ip_configurations=tuple(addressed),
                application_security_groups=tuple(
                    dict.fromkeys(a for n in owned for c in n.ip_configurations for a in c.application_security_groups)
                ),
            )
        )
    endpoint_nics = {n.key for n in nics}
    nics += [n for n in topology.nics.values() if n.key not in endpoint_nics]
    vms = [
        replace(v, network_interfaces=tuple(i for i in v.network_interfaces if id_key(i) not in endpoint_nics))
        for v in topology.vms.values()
    ]
    return topology.with_(
        nics=nics,
        vms=[v for v in vms if v.network_interfaces],
        private_endpoints=endpoints,
        management_groups=[],
        effective_admin_rules=[],
        admin_rules=[  # a Terraform resource's id ends in its name
            replace(r, id=f"{r.rule_collection_id}/rules/{r.name}")
            for r in topology.admin_rules.values()
            if r.kind.value == "Custom"
        ],
        deployment_statuses=statuses,
    )


def as_endpoint_block(endpoint: PrivateEndpoint, nic_configuration: IpConfiguration) -> PrivateEndpointIpConfiguration:
    """An addressed configuration of an endpoint's NIC as azurerm's ``ip_configuration`` block says it: the
    endpoint's group and member for it (``member_name`` defaults to ``subresource_name``)."""
    given = next(
        (c for c in endpoint.ip_configurations if c.name.casefold() == nic_configuration.name.casefold()), None
    )
    group = given.group_id if given else None
    member = (given.member_name or group) if given else None
    return PrivateEndpointIpConfiguration(nic_configuration.name, nic_configuration.private_ip_address, group, member)


def _subnet_ids_by_name(topology: Topology) -> Topology:
    """Subnet ids ending in their names (as Terraform derives them), every reference to them following."""
    renamed: dict[str, str] = {}
    vnets = []
    for vnet in topology.vnets.values():
        subnets = []
        for subnet in vnet.subnets:
            wanted = f"{vnet.id}/subnets/{subnet.name}"
            renamed[subnet.key] = wanted
            subnets.append(replace(subnet, id=wanted))
        vnets.append(replace(vnet, subnets=tuple(subnets)))

    def moved(subnet_id: str | None) -> str | None:
        return renamed.get(id_key(subnet_id), subnet_id) if subnet_id else subnet_id

    nics = [
        replace(n, ip_configurations=tuple(replace(c, subnet=moved(c.subnet)) for c in n.ip_configurations))
        for n in topology.nics.values()
    ]
    endpoints = [replace(e, subnet=moved(e.subnet)) for e in topology.private_endpoints.values()]
    members = [replace(m, resource_id=moved(m.resource_id) or "") for m in topology.static_members.values()]
    return topology.with_(vnets=vnets, nics=nics, private_endpoints=endpoints, static_members=members)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(case=topology_and_flows(max_flows=12, avnm=True))
def test_export_round_trip_keeps_admin_rules_endpoints_and_verdicts(
    case: tuple[Topology, list[tuple[str, Flow]]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """AVNM resources, private endpoints (with their NICs) and deployments survive HCL and back."""
    topology, flows = expressible_avnm(case[0]), case[1]
    directory = tmp_path_factory.mktemp("export-avnm")
    export_module(topology, directory)
    back = load_paths([directory], service_tags=topology.service_tags, validate=False)
    mine, theirs = essence_without_state(back), essence_without_state(topology)
    for kind in ("private_endpoints", *AVNM_KINDS):
        assert mine[kind] == theirs[kind], kind
    assert mine["nics"] == theirs["nics"]
    regions = {(s.region.casefold(), tuple(sorted(map(id_key, s.configuration_ids)))) for s in back.deployment_statuses}
    assert regions == {
        (
            s.region.casefold(),
            tuple(sorted(id_key(topology.security_admin_configuration(c).id) for c in s.configuration_ids)),
        )  # type: ignore[union-attr]
        for s in topology.deployment_statuses
    }
    before = Engine(topology)
    after = Engine(back.with_(service_tags=topology.service_tags, subscriptions=topology.subscriptions.values()))
    for nic, flow in flows:
        if before.nic(nic) is not None:
            assert answer(after, nic, flow) == answer(before, nic, flow)
