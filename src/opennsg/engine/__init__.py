"""The evaluation engine: a topology's NICs resolved once, then flows, paths, effective rules and diagnostics.

``Engine(topology)`` is the entry point of every consumer (CLI, service, data plane, batch verify, flow-log replay,
Spark): they use this module's names only, never its submodules (import-linter contracts check it). The topology
is immutable, so each NIC's ``NicPolicy`` is resolved once and cached. NICs are named by ARM id or unique name; a VM
(by id or name) stands for its primary NIC. Bad references raise ``OpenNsgError``.

Deciding many flows (a third party's batch tool does as ``opennsg.batch`` does)::

    engine = Engine(topology)
    classifier = engine.classifier("vm1-nic")          # compiled once; kept, and stored on disk by content
    columns = FlowColumns.from_flows(flows)            # or numpy columns built directly (see FlowColumns)
    mine = classifier.owns(columns)                    # flows whose local IP is the NIC's (others are errors)
    codes = classifier.classify(columns).result        # per flow an index into classifier.results
    verdicts = [classifier.results[c] for c in codes]  # Verdict: access, rule_name, nsg_id, applied_to, rule

The names needing numpy (``FlowColumns``, ``CompiledPolicy``, ``BatchVerdicts``, ``NO_PORT``, ``INBOUND_CODE``,
``OUTBOUND_CODE``, ``halves``) are imported on first use, so a single verify does not pay for numpy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any, Literal

from opennsg.engine.addresses import AddressSet
from opennsg.engine.evaluate import PathVerdict, decide, decide_path
from opennsg.engine.flow import PROTOCOL_NAMES, PROTOCOL_NUMBERS, Flow, parse_flow_protocol
from opennsg.engine.ir import NicPolicy, Verdict
from opennsg.engine.resolve import OutsideInternet, asg_addresses, outside_internet, resolve_policy
from opennsg.model.addressing import configuration_holds, configuration_span
from opennsg.model.enums import Direction
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.netwatcher import DiagnosticProfile, DiagnosticResult, EffectiveGroup, NicSecurityView
from opennsg.model.resources import NetworkInterface, VirtualMachine
from opennsg.model.routes import EffectiveRoute
from opennsg.model.topology import Topology
from opennsg.model.validation import Code
from opennsg.model.values import IPAddress, parse_address

if TYPE_CHECKING:  # the compiled classifier (numpy, numba) is imported only when a NIC is asked about often
    from opennsg.engine.compiled import (
        INBOUND_CODE,
        NO_PORT,
        OUTBOUND_CODE,
        BatchVerdicts,
        CompiledPolicy,
        FlowColumns,
        ProgramStore,
        halves,
    )

#: The batch vocabulary, from ``opennsg.engine.compiled`` on first use (see ``__getattr__``).
_COMPILED_NAMES = frozenset(
    {"BatchVerdicts", "CompiledPolicy", "FlowColumns", "INBOUND_CODE", "NO_PORT", "OUTBOUND_CODE", "halves"}
)


def __getattr__(name: str) -> Any:
    if name in _COMPILED_NAMES:
        from opennsg.engine import compiled

        return getattr(compiled, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Verifies of one NIC after which ``Engine.verify`` compiles its policy (see ``Engine.verify``).
COMPILE_AFTER_VERIFIES = 32


class Engine:
    """Exact answers for one immutable topology (semantics §3, §0, §8)."""

    def __init__(
        self, topology: Topology, *, disk_cache: bool | None = None, policies: Mapping[str, NicPolicy] | None = None
    ) -> None:
        """``disk_cache``: read and store compiled programs in ``cache_dir()/compiled`` (default: yes, unless
        ``OPENNSG_NO_CACHE`` is set); the answers are the same either way. ``policies``: NIC policies an earlier
        engine resolved from this same topology (``resolved_policies``, e.g. kept by a cache of loaded inputs),
        by NIC key; the others are resolved when asked for."""
        self.topology = topology
        self._disk_cache = disk_cache
        self._policies: dict[str, NicPolicy] = dict(policies or {})
        self._asgs: Mapping[str, AddressSet] | None = None
        self._ip_index: _NicAddressIndex | None = None
        self._asked: dict[str, int] = {}
        self._compiled: dict[str, CompiledPolicy] = {}

    # --- lookups ------------------------------------------------------------------------------------

    def nic(self, nic_or_vm: str | NetworkInterface) -> NetworkInterface:
        """The NIC named by id or unique name, or a VM's primary NIC; ``OpenNsgError`` when there is none."""
        if isinstance(nic_or_vm, NetworkInterface):
            return nic_or_vm
        found = self.topology.find_nic(nic_or_vm)
        if found is None:
            raise OpenNsgError(
                [
                    ArmError(
                        Code.NETWORK_INTERFACE_NOT_FOUND,
                        f"No network interface or virtual machine (with a primary NIC) is named '{nic_or_vm}', "
                        "or the name is ambiguous: use the ARM id.",
                        nic_or_vm,
                    )
                ]
            )
        return found

    def nic_for_flow(self, nic_or_vm: str | NetworkInterface, local_ip: IPAddress) -> NetworkInterface:
        """IP flow verify's target: a NIC as named; of a VM, the NIC holding ``local_ip`` (Azure asks for
        ``targetNicResourceId`` only when it cannot tell, semantics §8.1), else its primary NIC."""
        if isinstance(nic_or_vm, str):
            for nic in self.topology.vm_nics(nic_or_vm):
                if any(configuration_holds(c, local_ip) for c in nic.ip_configurations):
                    return nic
        return self.nic(nic_or_vm)

    def for_nic_ip(self, address: str | IPAddress) -> NetworkInterface | None:
        """The NIC holding ``address`` as a private IP; None if none does, ``OpenNsgError`` if several do."""
        parsed = parse_address(address) if isinstance(address, str) else address
        if parsed is None:
            raise OpenNsgError([ArmError(Code.INVALID_IP_ADDRESS, f"'{address}' is not an IP address.", str(address))])
        if self._ip_index is None:
            self._ip_index = _NicAddressIndex(self.topology)
        holders = self._ip_index.holders(parsed)
        if len(holders) > 1:
            raise OpenNsgError(
                [
                    ArmError(
                        Code.AMBIGUOUS_IP_ADDRESS,
                        f"{parsed} is a private IP of several NICs ({', '.join(n.name for n in holders)}); "
                        "name the NIC.",
                        str(parsed),
                    )
                ]
            )
        return holders[0] if holders else None

    def policy(self, nic_or_vm: str | NetworkInterface) -> NicPolicy:
        """The NIC's resolved NSG chain (cached)."""
        nic = self.nic(nic_or_vm)
        cached = self._policies.get(nic.key)
        if cached is None:
            if self._asgs is None:
                self._asgs = asg_addresses(self.topology)
            cached = resolve_policy(self.topology, nic, self._asgs)
            self._policies[nic.key] = cached
        return cached

    def resolved_policies(self) -> dict[str, NicPolicy]:
        """The NIC policies resolved so far, by NIC key (what ``Engine(topology, policies=...)`` takes back)."""
        return dict(self._policies)

    # --- flows --------------------------------------------------------------------------------------

    def verify(
        self, nic_or_vm: str | NetworkInterface, flow: Flow, detail: bool = False, trace: bool = True
    ) -> Verdict:
        """IP flow verify: the verdict for ``flow`` at the NIC (of a VM: ``nic_for_flow``), whose local IP must be one
        of the NIC's.

        With ``trace=False`` (the service's ipFlowVerify, which answers only access and rule) the verdict carries no
        per-NSG trace, and a NIC asked about often switches from the exact scan to its compiled classifier: the same
        verdicts (property-tested) in microseconds, for a compile of milliseconds that a NIC asked about a few times
        is not worth.
        """
        policy = self.policy(self.nic_for_flow(nic_or_vm, flow.local_ip))
        _check_flow(policy, flow)
        if detail or trace:
            return decide(policy, flow, detail)
        key = policy.nic.key
        compiled = self._compiled.get(key)
        if compiled is None:
            asked = self._asked.get(key, 0) + 1
            self._asked[key] = asked
            if asked < COMPILE_AFTER_VERIFIES:
                return dataclasses.replace(decide(policy, flow), trace=())
            compiled = self._compiled[key] = self.classifier(policy.nic)
        return compiled.decide(flow)

    def verifies_quickly(self, nic_or_vm: str | NetworkInterface, flow: Flow) -> bool:
        """Whether ``verify(..., trace=False)`` of this flow would neither resolve nor compile a policy: microseconds of
        work that the service answers on its event loop instead of handing it to a thread."""
        try:
            key = self.nic_for_flow(nic_or_vm, flow.local_ip).key
        except OpenNsgError:
            return True  # the same refusal again, at once
        if key not in self._policies:
            return False
        return key in self._compiled or self._asked.get(key, 0) + 1 < COMPILE_AFTER_VERIFIES

    def verify_path(
        self,
        source_nic: str | NetworkInterface,
        destination_nic: str | NetworkInterface,
        protocol: str | int,
        source_ip: str | IPAddress | None,
        source_port: int | None,
        destination_ip: str | IPAddress | None,
        destination_port: int | None,
    ) -> PathVerdict:
        """VM to VM: the source NIC's outbound chain, then the destination NIC's inbound chain, one verdict.

        A missing IP means the NIC's primary IP (of the other side's family when that one is given).
        """
        source = self.policy(source_nic)
        destination = self.policy(destination_nic)
        number = parse_flow_protocol(protocol)
        if number is None:
            raise OpenNsgError(
                [ArmError(Code.INVALID_FLOW_PROTOCOL, f"'{protocol}' is not a protocol name or number.")]
            )
        src = _address_of(source.nic, source_ip, destination_ip)
        dst = _address_of(destination.nic, destination_ip, src)
        outbound = Flow(Direction.OUTBOUND, number, src, source_port, dst, destination_port)
        inbound = Flow(Direction.INBOUND, number, dst, destination_port, src, source_port)
        _check_flow(source, outbound)
        _check_flow(destination, inbound)
        return decide_path(source, outbound, destination, inbound)

    def egress(self, nic_or_vm: str | NetworkInterface, flow: Flow) -> Literal["none"] | None:
        """Spec §12.2: ``"none"`` when an outbound flow to the Internet has no egress path from a private subnet
        (the verdict is unchanged; see ``opennsg.engine.egress``)."""
        from opennsg.engine.egress import egress

        return egress(self.topology, self.policy(self.nic_for_flow(nic_or_vm, flow.local_ip)), flow)

    def decide(self, nic_or_vm: str | NetworkInterface, flow: Flow) -> Verdict:
        """The verdict at the NIC for a flow its caller knows to be the NIC's own (the data plane's packets, sent
        from or delivered to its private IPs): ``verify``'s scan, without its argument checks."""
        return decide(self.policy(nic_or_vm), flow)

    def compile(self, nic_or_vm: str | NetworkInterface) -> CompiledPolicy:
        """The NIC's compiled classifier, not kept: bulk callers over many NICs (flow-log replay, Spark) compile
        each once and hold only the ones in use. Its tables come from the disk cache when a process stored them.

        ``classify(FlowColumns)`` gives per flow a result code (``.result``) indexing ``results`` (each a
        ``Verdict``) and ``.allow``; ``owns(FlowColumns)`` marks flows whose local IP is the NIC's own; ``decide``
        answers one ``Flow``. The verdicts are those of ``verify`` (property-tested), without a trace."""
        from opennsg.engine.compiled import compile_policy

        return compile_policy(self.policy(nic_or_vm), self._program_store())

    def classifier(self, nic_or_vm: str | NetworkInterface) -> CompiledPolicy:
        """``compile``'s classifier, kept in a process-wide bounded cache (by content): callers deciding batch
        after batch at a few NICs (batch verify, the service) ask again and get the same object."""
        from opennsg.engine.compiled import get_compiled

        return get_compiled(self.policy(nic_or_vm), store=self._program_store())

    def _program_store(self) -> ProgramStore | None:
        from opennsg.engine.compiled import ProgramStore

        if self._disk_cache is None:
            return ProgramStore.default()
        return ProgramStore.in_cache_dir() if self._disk_cache else None

    def public_ip_admits(self, nic_or_vm: str | NetworkInterface, public_ip_id: str) -> bool:
        """Inbound from the Internet through this public IP of the NIC reaches its NSGs (semantics §12.3)."""
        from opennsg.engine.egress import public_ip_admits

        return public_ip_admits(self.topology, self.nic(nic_or_vm), public_ip_id)

    # --- Network Watcher views ------------------------------------------------------------------------

    def outside_internet(self, nic_or_vm: str | NetworkInterface, address: IPAddress) -> OutsideInternet | None:
        """Why ``address`` matches neither ``Internet`` nor ``VirtualNetwork`` rules at the NIC, if a special-purpose
        range is the reason (semantics §0)."""
        return outside_internet(self.policy(nic_or_vm), address)

    def effective_rules(self, nic_or_vm: str | NetworkInterface) -> tuple[EffectiveGroup, ...]:
        """Effective security rules of the NIC (semantics §8.2), per resource of its chain."""
        from opennsg.engine.effective import effective_groups

        return effective_groups(self.policy(nic_or_vm))

    def effective_routes(self, nic_or_vm: str | NetworkInterface) -> tuple[EffectiveRoute, ...]:
        """The NIC's effective route table: system routes, overridden by its subnet's user routes."""
        from opennsg.engine.routes import effective_routes

        return effective_routes(self.topology, self.nic(nic_or_vm))

    def security_group_view(self, vm_or_nic: str) -> tuple[NicSecurityView, ...]:
        """Security group view of a VM (all its NICs) or of one NIC (semantics §8.3)."""
        from opennsg.engine.effective import security_group_view

        vm = self.topology.vm(vm_or_nic) or _unique_vm(self.topology, vm_or_nic)
        nic_ids = vm.network_interfaces if vm is not None and vm.network_interfaces else (self.nic(vm_or_nic).id,)
        return tuple(security_group_view(self.policy(self.nic(n))) for n in nic_ids)

    def diagnose(self, nic_or_vm: str | NetworkInterface, profile: DiagnosticProfile) -> DiagnosticResult:
        """NSG diagnostics for one traffic profile (semantics §8.4; read one with ``arm.netwatcher.parse_profile``)."""
        from opennsg.engine.diagnostics import diagnose

        return diagnose(self.topology, self.policy(nic_or_vm), profile)


def _unique_vm(topology: Topology, name: str) -> VirtualMachine | None:
    folded = name.casefold()
    vms = [v for v in topology.vms.values() if v.name.casefold() == folded]
    return vms[0] if len(vms) == 1 else None


def _address_of(nic: NetworkInterface, given: str | IPAddress | None, other: str | IPAddress | None) -> IPAddress:
    if given is not None:
        parsed = parse_address(given) if isinstance(given, str) else given
        if parsed is None:
            raise OpenNsgError([ArmError(Code.INVALID_IP_ADDRESS, f"'{given}' is not an IP address.", str(given))])
        return parsed
    wanted = None
    if other is not None:
        other_ip = parse_address(other) if isinstance(other, str) else other
        wanted = other_ip.version if other_ip is not None else None
    for cfg in sorted(nic.ip_configurations, key=lambda c: not c.primary):
        if cfg.private_ip_address:
            ip = ip_address(cfg.private_ip_address)
            if wanted is None or ip.version == wanted:
                return ip
    raise OpenNsgError([ArmError(Code.IP_ADDRESS_NOT_FOUND, f"Network interface {nic.id} has no suitable private IP.")])


def _check_flow(policy: NicPolicy, flow: Flow) -> None:
    problems = []
    if not policy.local_addresses.contains(flow.local_ip):
        problems.append(
            ArmError(
                Code.IP_ADDRESS_NOT_ON_NIC,
                f"{flow.local_ip} is not a private IP address of network interface {policy.nic.id}.",
                str(flow.local_ip),
            )
        )
    if flow.local_ip.version != flow.remote_ip.version:
        problems.append(
            ArmError(
                Code.ADDRESS_FAMILY_MISMATCH,
                f"Local address {flow.local_ip} and remote address {flow.remote_ip} are of different IP versions.",
            )
        )
    if problems:
        raise OpenNsgError(problems)


class _NicAddressIndex:
    """Which NICs hold an address: exact addresses in one dict, address blocks (``privateIPAddressPrefixLength``)
    in one dict per (IP version, block length) keyed by the block's first address, so a lookup costs one probe per
    block length in use instead of a scan of every NIC."""

    def __init__(self, topology: Topology) -> None:
        self._exact: dict[IPAddress, list[NetworkInterface]] = {}
        self._blocks: dict[tuple[int, int], dict[int, list[tuple[int, NetworkInterface]]]] = {}
        for position, nic in enumerate(topology.nics.values()):
            for cfg in nic.ip_configurations:
                ip = parse_address(cfg.private_ip_address) if cfg.private_ip_address else None
                if ip is None:
                    continue
                self._exact.setdefault(ip, []).append(nic)
                span = configuration_span(cfg) if cfg.private_ip_address_prefix_length is not None else None
                if span is not None and span[1] != span[2]:
                    length = (32 if ip.version == 4 else 128) - (span[2] - span[1] + 1).bit_length() + 1
                    holders = self._blocks.setdefault((ip.version, length), {}).setdefault(span[1], [])
                    if not holders or holders[-1][1] is not nic:
                        holders.append((position, nic))

    def holders(self, address: IPAddress) -> list[NetworkInterface]:
        """The NICs holding ``address``: by exact address, else those whose block contains it (in topology order)."""
        exact = self._exact.get(address)
        if exact:
            return exact
        bits = 32 if address.version == 4 else 128
        found: dict[int, NetworkInterface] = {}
        for (version, length), starts in self._blocks.items():
            if version == address.version:
                start = int(address) & ~((1 << (bits - length)) - 1)
                found.update(starts.get(start, []))
        return [found[position] for position in sorted(found)]


__all__ = [
    "INBOUND_CODE",
    "NO_PORT",
    "OUTBOUND_CODE",
    "PROTOCOL_NAMES",
    "PROTOCOL_NUMBERS",
    "BatchVerdicts",
    "CompiledPolicy",
    "Engine",
    "Flow",
    "FlowColumns",
    "NicPolicy",
    "PathVerdict",
    "Verdict",
    "halves",
    "parse_flow_protocol",
]
