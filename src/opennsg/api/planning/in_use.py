"""Refusing to delete what is still in use (ARM's ``InUse…CannotBeDeleted`` answers)."""

from __future__ import annotations

from collections.abc import Iterable

from opennsg.api.errors import ApiError
from opennsg.api.store import kind_of
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError
from opennsg.model.ids import id_key, parent_id
from opennsg.model.resources import Resource, Subnet, VirtualNetwork
from opennsg.model.topology import Topology


def in_use_error(code: str, resource_id: str, users: Iterable[str]) -> ApiError:
    names = ", ".join(sorted(set(users)))
    return ApiError(
        400, code, f"Resource {resource_id} is in use by {names} and cannot be deleted.", (ArmError(code, names),)
    )


def refuse_subnets_in_use(topology: Topology, subnets: Iterable[Subnet], gone: set[str] | None = None) -> None:
    for subnet in subnets:
        users = [
            cfg.id
            for nic in topology.nics.values()
            if gone is None or nic.key not in gone
            for cfg in nic.ip_configurations
            if cfg.subnet and id_key(cfg.subnet) == subnet.key
        ]
        if users:
            raise in_use_error(Code.IN_USE_SUBNET, subnet.id, users)


def refuse_in_use(topology: Topology, models: Iterable[Resource], gone: set[str]) -> None:
    """Deleting ``models`` (ids in ``gone``) must leave no reference from a resource that stays."""
    for model in models:
        kind = kind_of(model)
        users: list[str] = []
        if kind.collection == "nsgs":
            users = [s.id for s in topology.subnets_using_nsg(model.id) if id_key(s.vnet_id) not in gone]
            users += [n.id for n in topology.nics_using_nsg(model.id) if n.key not in gone]
        elif kind.collection == "asgs":
            users = [n.id for n in topology.nics_in_asg(model.id) if n.key not in gone]
            users += [
                nsg.id
                for nsg in topology.nsgs.values()
                if nsg.key not in gone
                and any(
                    model.key in {id_key(a) for a in (*r.source_asgs, *r.destination_asgs)} for r in nsg.security_rules
                )
            ]
        elif isinstance(model, VirtualNetwork):
            refuse_subnets_in_use(topology, model.subnets, gone)
        elif kind.collection == "route_tables":
            users = [s.id for s in topology.subnets if s.route_table and id_key(s.route_table) == model.key]
            users = [u for u in users if id_key(parent_id(u)) not in gone]
        elif kind.collection == "nics":
            users = [
                vm.id
                for vm in topology.vms.values()
                if vm.key not in gone and model.key in {id_key(n) for n in vm.network_interfaces}
            ]
            users += [
                e.id
                for e in topology.private_endpoints.values()
                if e.key not in gone and model.key in {id_key(n) for n in e.network_interfaces}
            ]
        elif kind.collection == "nat_gateways":
            users = [s.id for s in topology.subnets if s.nat_gateway and id_key(s.nat_gateway) == model.key]
            users = [u for u in users if id_key(parent_id(u)) not in gone]
        elif kind.collection == "network_groups":
            users = [
                c.id
                for c in topology.admin_rule_collections.values()
                if c.key not in gone and model.key in {id_key(g) for g in c.applies_to_groups}
            ]
        elif kind.collection == "public_ips":
            users = [
                nic.id
                for nic in topology.nics.values()
                if nic.key not in gone
                and any(c.public_ip_address and id_key(c.public_ip_address) == model.key for c in nic.ip_configurations)
            ]
            users += [
                lb.id
                for lb in topology.load_balancers.values()
                if lb.key not in gone
                and any(f.public_ip_address and id_key(f.public_ip_address) == model.key
                        for f in lb.frontend_ip_configurations)
            ]  # fmt: skip
        elif kind.collection == "load_balancers":
            users = [
                nic.id
                for nic in topology.nics.values()
                if nic.key not in gone
                and any(
                    id_key(pool).startswith(f"{model.key}/")
                    for c in nic.ip_configurations
                    for pool in c.load_balancer_backend_address_pools
                )
            ]
        if users:
            raise in_use_error(kind.in_use_code, model.id, users)
