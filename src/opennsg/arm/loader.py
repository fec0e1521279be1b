"""Every JSON shape users have -> one validated ``Topology``, or one ``OpenNsgError`` with every problem.

Shapes: one resource; an array; an ARM list ``{"value": [...]}``; ``az ... -o json`` output (flattened);
subscription objects (``GET /subscriptions/{id}`` or ``az account show``); ARM templates (with an optional
``<name>.parameters.json`` beside ``<name>.json``, or the only parameters file given applies to the only
template); directories of such files (``*.json``, recursively). Child resources given on their own
(``az network vnet subnet list``, ``securityRules``, peerings, routes) merge into their parent.
Resource types OpenNSG does not model (storage accounts, say) are skipped.

Targets of problems read ``{file}: {JSON path}``; a dangling reference is ``InvalidResourceReference`` naming
both ends.

Terraform inputs (``.tf`` files, directories holding them, plan and state JSON) are told apart here, by
extension and content, and read by ``opennsg.terraform`` into the same resources (an ``ExternalInput``), so
every command reads them mixed freely with ARM files and validates them with the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from opennsg.arm.documents import (
    is_active_admin_rule,
    is_deployment_status,
    is_effective_admin_rules,
    is_management_group,
    merge_management_groups,
    parse_active_admin_rule,
    parse_deployment_status,
    parse_effective_admin_rules,
    parse_management_groups,
)
from opennsg.arm.keys import lookup
from opennsg.arm.parse import (
    AVNM_KINDS,
    PARSERS,
    ArmResource,
    Reader,
    check_default_rule,
    is_subscription,
    kind_of_id,
    kind_of_type,
    parent_id,
    parse_subscription,
)
from opennsg.arm.template import (
    DeploymentContext,
    Expansion,
    TemplateInputs,
    expand,
    is_parameters_file,
    is_template,
    parameter_values,
    parse_cli_value,
)
from opennsg.model.avnm import (
    AdminRule,
    AdminRuleCollection,
    DeploymentStatus,
    ManagementGroup,
    NetworkGroup,
    NetworkManager,
    SecurityAdminConfiguration,
    StaticMember,
    VnetEffectiveAdminRules,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.files import InputError, files_under, parse_json, read_text
from opennsg.model.flowlog import FlowLog
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.loadbalancer import LoadBalancer
from opennsg.model.resources import (
    ApplicationSecurityGroup,
    NatGateway,
    NetworkInterface,
    NetworkSecurityGroup,
    PrivateEndpoint,
    PublicIpAddress,
    Resource,
    Route,
    RouteTable,
    SecurityRule,
    Subnet,
    Subscription,
    VirtualMachine,
    VirtualNetwork,
    VirtualNetworkPeering,
)
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology
from opennsg.model.validation import Code, Finding, Message, topology_findings

if TYPE_CHECKING:
    from opennsg.terraform import TerraformInputs

C = TypeVar("C")
#: What the loader keeps by id: top-level resources and the (flat) AVNM child resources.
Keyed = Resource | NetworkGroup | StaticMember | SecurityAdminConfiguration | AdminRuleCollection | AdminRule
R = TypeVar("R", bound=Keyed)
_CHILD_KINDS = frozenset({"securityRules", "defaultSecurityRules", "subnets", "virtualNetworkPeerings", "routes"})


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a resource came from: file (or label), JSON path inside it, and whether az flattened it."""

    source: str
    path: str
    flattened: bool

    def locate(self, relative: str | None) -> str:
        """A target for a path relative to the resource's ARM JSON."""
        inner = relative or ""
        if self.flattened:
            inner = inner.removeprefix("properties.").replace(".properties.", ".")
            inner = "" if inner == "properties" else inner
        where = f"{self.path}{inner}".rstrip(".")
        return f"{self.source}: {where}" if where else self.source

    def report(self, error: ArmError, relative: str | None) -> ArmError:
        return ArmError(error.code, error.message, self.locate(relative), error.hint)


class Origin(Protocol):
    """Where a resource was written: a JSON path in an ARM file, or a block of a Terraform file."""

    def locate(self, relative: str | None) -> str: ...

    def report(self, error: ArmError, relative: str | None) -> ArmError: ...


@dataclass
class ExternalInput:
    """Resources another input reader built (Terraform), with their origins; children are merged into parents
    from any input, as ARM child resources are."""

    resources: list[tuple[str, Resource, Origin]] = field(default_factory=list)
    children: list[tuple[str, str, Any, Origin]] = field(default_factory=list)
    rule_origins: dict[str, Origin] = field(default_factory=dict)
    problems: list[ArmError] = field(default_factory=list)
    subscriptions: set[str] = field(default_factory=set)
    #: AVNM deployments the reader knows of (Terraform's ``azurerm_network_manager_deployment``).
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)


@dataclass
class _Child:
    kind: str
    resource_id: str
    value: ArmResource | None
    origin: Origin


@dataclass
class _Loader:
    problems: list[ArmError] = field(default_factory=list)
    origins: dict[str, Origin] = field(default_factory=dict)
    top: dict[str, dict[str, Keyed]] = field(default_factory=dict)
    children: list[_Child] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    deployment_statuses: list[DeploymentStatus] = field(default_factory=list)
    management_groups: dict[str, ManagementGroup] = field(default_factory=dict)
    effective_admin_rules: dict[str, tuple[VnetEffectiveAdminRules, str]] = field(default_factory=dict)
    #: Each security rule's own place (inside its NSG or a document of its own), by rule id key.
    rule_origins: dict[str, Origin] = field(default_factory=dict)
    context: DeploymentContext = field(default_factory=DeploymentContext)

    # --- documents ---

    def external(self, given: ExternalInput) -> None:
        self.problems.extend(given.problems)
        for kind, resource, origin in given.resources:
            self._add_top(kind, resource, origin)
        for kind, resource_id, value, origin in given.children:
            self.children.append(_Child(kind, resource_id, value, origin))
        for key, origin in given.rule_origins.items():
            self.rule_origins.setdefault(key, origin)
        for status in given.deployment_statuses:
            if status not in self.deployment_statuses:
                self.deployment_statuses.append(status)

    def document(self, label: str, data: Any, parameters: Mapping[str, Any] | None) -> None:
        if is_parameters_file(data):
            return
        if is_template(data):
            self.template(label, self.expand(label, data, parameters))
            return
        reader = Reader(f"{label}: ")
        if is_effective_admin_rules(data):
            self._effective_admin_rules(label, parse_effective_admin_rules(data, reader))
        elif isinstance(data, list):
            for i, item in enumerate(data):
                self.item(label, f"[{i}].", item, reader)
        elif isinstance(data, Mapping) and isinstance(lookup(data, "value"), list) and lookup(data, "type") is None:
            for i, item in enumerate(lookup(data, "value")):
                self.item(label, f"value[{i}].", item, reader)
        elif isinstance(data, Mapping):
            self.item(label, "", data, reader)
        else:
            reader.invalid("document", "", "a JSON object or array", data)
        self._finish(label, reader)

    def expand(self, label: str, data: Any, parameters: Mapping[str, Any] | None) -> tuple[Reader, Expansion]:
        """Deploy a template (linked templates are read relative to its file)."""
        reader = Reader(f"{label}: ")
        source = Path(label) if Path(label).is_file() else None
        return reader, expand(data, reader, parameters, context=self.context, source=source)

    def template(self, label: str, expanded: tuple[Reader, Expansion]) -> None:
        reader, expansion = expanded
        for resource in expansion.resources:
            mark = len(reader.problems)
            self.item(label, f"{resource.path}.", resource.body, reader)
            resource.explain(reader.problems, mark, reader.where)
        self._finish(label, reader)

    def _finish(self, label: str, reader: Reader) -> None:
        self.problems.extend(reader.problems)
        for key, (path, flattened) in reader.rule_paths.items():
            self.rule_origins.setdefault(key, _Origin(label, path, flattened))

    def item(self, label: str, path: str, body: Any, reader: Reader) -> None:
        if not isinstance(body, Mapping):
            reader.invalid("resource", path.rstrip("."), "a JSON object", body)
            return
        if is_subscription(body):
            subscription = parse_subscription(body, reader, path)
            self.subscriptions.setdefault(subscription.key, subscription)
            return
        if self._avnm_document(body, reader, path):
            return
        resource_type, given_id = lookup(body, "type"), lookup(body, "id")
        if isinstance(resource_type, str) and resource_type:
            kind = kind_of_type(resource_type)
        elif isinstance(given_id, str) and given_id:
            kind = kind_of_id(given_id)
        else:
            message = Message.UNKNOWN_TYPE.format(path=path.rstrip(".") or "the document root")
            reader.add(Code.INVALID_REQUEST_FORMAT, message, path.rstrip("."))
            return
        if kind is None:
            return  # a resource type OpenNSG does not model
        resource_id = given_id if isinstance(given_id, str) and given_id else self._placeholder_id(body, reader, path)
        if resource_id is None:
            return
        origin = _Origin(label, path, not isinstance(lookup(body, "properties"), Mapping))
        if kind == "defaultSecurityRules":
            check_default_rule(parent_id(resource_id), body, resource_id, reader, path)
            self.children.append(_Child(kind, resource_id, None, origin))
            return
        value = PARSERS[kind](body, resource_id, reader, path)
        reader.check_shape(body, path)
        if kind == "securityRules":
            self.rule_origins.setdefault(id_key(resource_id), origin)
        if kind in _CHILD_KINDS:
            self.children.append(_Child(kind, resource_id, value, origin))
        elif isinstance(value, Resource) or (kind in AVNM_KINDS and value is not None):
            self._add_top(kind, value, origin)  # type: ignore[arg-type]

    def _avnm_document(self, body: Mapping[str, Any], reader: Reader, path: str) -> bool:
        """The non-ARM AVNM documents of semantics §11.5 (or their entries); False for anything else."""
        if is_effective_admin_rules(body):
            self._effective_admin_rules(
                reader.where.removesuffix(": "), parse_effective_admin_rules(body, reader, path)
            )
            return True
        if is_deployment_status(body):
            status = parse_deployment_status(body, reader, path)
        elif is_active_admin_rule(body):
            status = parse_active_admin_rule(body, reader, path)
        elif is_management_group(body):
            for group in parse_management_groups(body, reader, path):
                known = self.management_groups.get(group.key)
                self.management_groups[group.key] = group if known is None else merge_management_groups(known, group)
            return True
        else:
            return False
        if status is not None and status not in self.deployment_statuses:
            self.deployment_statuses.append(status)
        return True

    def _effective_admin_rules(self, label: str, answer: VnetEffectiveAdminRules) -> None:
        if not answer.virtual_network_id:
            return
        known = self.effective_admin_rules.get(answer.key)
        if known is None:
            self.effective_admin_rules[answer.key] = (answer, label)
        elif known[0] != answer:
            message = Message.CONFLICTING_DEFINITIONS.format(
                resource_id=f"{answer.virtual_network_id} (effective security admin rules)",
                where=f"{known[1]} and {label}",
            )
            self.problems.append(ArmError(Code.CONFLICTING_DEFINITIONS, message, label))

    def _placeholder_id(self, body: Mapping[str, Any], reader: Reader, path: str) -> str | None:
        """An id for a resource written without one: under the template placeholders (or az's resourceGroup)."""
        resource_type, name = lookup(body, "type"), lookup(body, "name")
        if not isinstance(name, str) or not name:
            reader.missing("id", f"{path}id")
            return None
        group = lookup(body, "resourceGroup")
        namespace, _, types = str(resource_type).partition("/")
        pairs = list(zip(types.split("/"), name.split("/"), strict=False))
        rg = group if isinstance(group, str) and group else self.context.resource_group
        built = ResourceId(
            self.context.subscription_id, rg, namespace, tuple(t for t, _ in pairs), tuple(n for _, n in pairs)
        )
        return str(built)

    def _add_top(self, kind: str, value: Keyed, origin: Origin) -> None:
        bucket = self.top.setdefault(kind, {})
        existing = bucket.get(value.key)
        if existing is None:
            bucket[value.key] = value
            self.origins[value.key] = origin
        elif existing != value:
            self._conflict(value.id, self.origins[value.key], origin)

    def _conflict(self, resource_id: str, first: Origin, second: Origin) -> None:
        where = f"{first.locate(None)} and {second.locate(None)}"
        message = Message.CONFLICTING_DEFINITIONS.format(resource_id=resource_id, where=where)
        self.problems.append(ArmError(Code.CONFLICTING_DEFINITIONS, message, second.locate(None)))

    # --- children into parents ---

    def merge_children(self) -> None:
        """Every child resource into its parent: each parent is rebuilt once, children found by key in a dict
        (a 1,000-rule NSG given as 1,000 rule resources merges in linear time)."""
        parents_of = {
            "securityRules": "networkSecurityGroups",
            "defaultSecurityRules": "networkSecurityGroups",
            "subnets": "virtualNetworks",
            "virtualNetworkPeerings": "virtualNetworks",
            "routes": "routeTables",
        }
        merging: dict[tuple[str, str, str], _MergedChildren[Any]] = {}
        for child in self.children:
            parent_key = id_key(parent_id(child.resource_id))
            bucket_kind = parents_of[child.kind]
            parent = self.top.get(bucket_kind, {}).get(parent_key)
            if parent is None:
                message = Message.INVALID_REFERENCE.format(
                    referenced=parent_id(child.resource_id), referrer=child.resource_id
                )
                self.problems.append(ArmError(Code.INVALID_REFERENCE, message, child.origin.locate(None)))
                continue
            if child.value is None or not isinstance(parent, Resource):
                continue
            field_and_key = _child_field(parent, child.value)
            if field_and_key is None:
                continue
            name, key = field_and_key
            merged = merging.get((bucket_kind, parent_key, name))
            if merged is None:
                merged = merging[(bucket_kind, parent_key, name)] = _MergedChildren(getattr(parent, name), key)
            if not merged.add(child.value):
                self._conflict(child.resource_id, self.origins[parent_key], child.origin)
        for (bucket_kind, parent_key, name), merged in merging.items():
            if merged.changed:
                bucket = self.top[bucket_kind]
                changes: dict[str, Any] = {name: tuple(merged.items)}
                bucket[parent_key] = replace(bucket[parent_key], **changes)

    # --- result ---

    def topology(self, service_tags: ServiceTags | None) -> Topology:
        def of(kind: str, cls: type[R]) -> list[R]:
            return [v for v in self.top.get(kind, {}).values() if isinstance(v, cls)]

        return Topology.of(
            nsgs=of("networkSecurityGroups", NetworkSecurityGroup),
            asgs=of("applicationSecurityGroups", ApplicationSecurityGroup),
            vnets=of("virtualNetworks", VirtualNetwork),
            route_tables=of("routeTables", RouteTable),
            nics=of("networkInterfaces", NetworkInterface),
            vms=of("virtualMachines", VirtualMachine),
            public_ips=of("publicIPAddresses", PublicIpAddress),
            subscriptions=self.subscriptions.values(),
            service_tags=service_tags,
            private_endpoints=of("privateEndpoints", PrivateEndpoint),
            nat_gateways=of("natGateways", NatGateway),
            load_balancers=of("loadBalancers", LoadBalancer),
            network_managers=of("networkManagers", NetworkManager),
            network_groups=of("networkGroups", NetworkGroup),
            static_members=of("staticMembers", StaticMember),
            security_admin_configurations=of("securityAdminConfigurations", SecurityAdminConfiguration),
            admin_rule_collections=of("ruleCollections", AdminRuleCollection),
            admin_rules=of("rules", AdminRule),
            deployment_statuses=self.deployment_statuses,
            management_groups=self.management_groups.values(),
            effective_admin_rules=(answer for answer, _ in self.effective_admin_rules.values()),
            flow_logs=of("flowLogs", FlowLog),
        )

    def validation_problems(self, topology: Topology) -> list[ArmError]:
        out: list[ArmError] = []
        for finding in topology_findings(topology):
            origin, relative = self._origin_of(topology, finding)
            if origin is not None:
                out.append(origin.report(finding.error, relative))
                continue
            target = f"{finding.resource_id}#{finding.error.target or ''}".rstrip("#")
            out.append(ArmError(finding.error.code, finding.error.message, target, finding.error.hint))
        return out

    def _origin_of(self, topology: Topology, finding: Finding) -> tuple[Origin | None, str | None]:
        """Where a finding points: a rule's problem at the rule as written (the rules validation indexes are only
        those that could be read, and rules may come from documents of their own), else in its resource."""
        relative = finding.error.target
        matched = _RULE_TARGET.match(relative or "")
        nsg = topology.nsg(finding.resource_id) if matched else None
        if matched and nsg is not None and int(matched[1]) < len(nsg.security_rules):
            rule = nsg.security_rules[int(matched[1])]
            origin = self.rule_origins.get(id_key(rule.id)) if rule.id else None
            if origin is not None:
                return origin, matched[2].removeprefix(".")
        return self.origins.get(id_key(finding.resource_id)), relative


def _child_field(parent: Resource, value: Any) -> tuple[str, Callable[[Any], str]] | None:
    """The parent's field holding children like ``value``, and the key telling two such children apart."""
    if isinstance(parent, NetworkSecurityGroup) and isinstance(value, SecurityRule):
        return "security_rules", lambda r: id_key(r.id or "")
    if isinstance(parent, VirtualNetwork) and isinstance(value, Subnet):
        return "subnets", lambda s: s.key
    if isinstance(parent, VirtualNetwork) and isinstance(value, VirtualNetworkPeering):
        return "peerings", lambda p: id_key(p.id)
    if isinstance(parent, RouteTable) and isinstance(value, Route):
        return "routes", lambda r: r.name.casefold()
    return None


class _MergedChildren(Generic[C]):
    """One parent's children as they are merged: the list, and where each key is in it."""

    def __init__(self, items: tuple[C, ...], key: Callable[[C], str]) -> None:
        self.items = list(items)
        self.key = key
        self.at: dict[str, int] = {}
        for i, item in enumerate(self.items):
            self.at.setdefault(key(item), i)
        self.changed = False

    def add(self, value: C) -> bool:
        """``value`` added, or reconciled with the child of the same key; False when it contradicts it."""
        key = self.key(value)
        i = self.at.get(key)
        if i is None:
            self.at[key] = len(self.items)
            self.items.append(value)
            self.changed = True
            return True
        merged = _reconciled(self.items[i], value)
        if merged is None:
            return False
        if merged != self.items[i]:
            self.items[i] = merged
            self.changed = True
        return True


#: Subnet properties that ``az ... vnet show`` prints and ``az ... subnet list`` may leave out (or the reverse):
#: one document giving a value the other lacks is not a conflict.
_SUBNET_PARTIAL_FIELDS = (
    "nat_gateway",
    "private_endpoint_network_policies",
    "default_outbound_access",
    "delegations",
    "application_gateway_ip_configurations",
)


def _reconciled(existing: C, value: C) -> C | None:
    """One child given twice: the same value, or subnets differing only where one leaves a property out."""
    if existing == value:
        return existing
    if not isinstance(existing, Subnet) or not isinstance(value, Subnet):
        return None
    filled: dict[str, Any] = {}
    for name in _SUBNET_PARTIAL_FIELDS:
        mine, theirs = getattr(existing, name), getattr(value, name)
        if mine in (None, ()) or theirs in (None, ()):
            filled[name] = theirs if mine in (None, ()) else mine
    a, b = replace(existing, **filled), replace(value, **filled)
    return a if a == b else None


_RULE_TARGET = re.compile(r"^properties\.securityRules\[(\d+)\](.*)$")


def _stem(label: str) -> str:
    folded = label.casefold()
    for suffix in (".json", ".parameters"):
        folded = folded.removesuffix(suffix)
    return folded


def _pair_parameters(docs: list[tuple[str, Any]], problems: list[ArmError]) -> dict[str, Mapping[str, Any]]:
    """Template label -> parameter values, pairing ``x.parameters.json`` with ``x.json`` (or the only template)."""
    templates = [label for label, data in docs if is_template(data)]
    by_stem = {_stem(label): label for label in templates}
    paired: dict[str, Mapping[str, Any]] = {}
    for label, data in docs:
        if not is_parameters_file(data):
            continue
        template = by_stem.get(_stem(label)) or (templates[0] if len(templates) == 1 else None)
        if template is None:
            message = f"The parameters file {label} matches no template (expected a template named like it)."
            problems.append(ArmError(Code.INVALID_TEMPLATE, message, label))
        else:
            paired[template] = parameter_values(data)
    return paired


def load_documents(
    docs: Iterable[tuple[str, Any]],
    service_tags: ServiceTags | None = None,
    *,
    validate: bool = True,
    inputs: TemplateInputs | None = None,
) -> Topology:
    """A topology from already-parsed JSON documents, each with a source label (a file name, say).

    Raises one ``OpenNsgError`` carrying every problem (reading and, unless ``validate`` is false,
    ``validate_topology``'s); nothing is returned then. ``inputs`` give templates their deployment context and
    parameter values.
    """
    return _load(list(docs), service_tags, [], validate, inputs or TemplateInputs())


def _template_parameters(
    data: Any, paired: Mapping[str, Any] | None, inputs: TemplateInputs, declared_anywhere: set[str]
) -> dict[str, Any]:
    """A template's parameter values: its paired file, then ``--parameters`` files, then ``--parameter``."""
    declared = lookup(data, "parameters")
    specs = {k.casefold(): v for k, v in declared.items()} if isinstance(declared, Mapping) else {}
    values = dict(paired or {})
    for name, value in inputs.parameters.items():
        if name.casefold() in specs:
            values[name] = value
            declared_anywhere.add(name.casefold())
    for name, text in inputs.cli_values.items():
        spec = specs.get(name.casefold())
        if spec is not None:
            values[name] = parse_cli_value(text, lookup(spec, "type") if isinstance(spec, Mapping) else None)
            declared_anywhere.add(name.casefold())
    return values


def _load(
    docs: list[tuple[str, Any]],
    tags: ServiceTags | None,
    problems: list[ArmError],
    validate: bool,
    inputs: TemplateInputs,
    external: ExternalInput | None = None,
    notes: list[str] | None = None,
) -> Topology:
    loader = _Loader(problems=problems, context=inputs.context)
    parameters = _pair_parameters(docs, loader.problems)
    declared_anywhere: set[str] = set()
    expanded = {
        label: loader.expand(label, data, _template_parameters(data, parameters.get(label), inputs, declared_anywhere))
        for label, data in docs
        if is_template(data)
    }
    for name in [*inputs.parameters, *inputs.cli_values]:
        if name.casefold() not in declared_anywhere:
            message = f"The parameter '{name}' is given a value, but no template given declares it."
            loader.problems.append(ArmError(Code.INVALID_TEMPLATE, message, f"--parameter {name}"))
    linked = {file for _reader, expansion in expanded.values() for file in expansion.linked_files}
    if notes is not None:
        notes.extend(
            note
            for label, (_reader, expansion) in expanded.items()
            if Path(label).resolve() not in linked
            for note in expansion.notes
        )
    for label, data in docs:
        if label in expanded:
            if Path(label).resolve() not in linked:  # a linked template is deployed by the template linking it
                loader.template(label, expanded[label])
        else:
            loader.document(label, data, None)
    if external is not None:
        loader.external(external)
    loader.merge_children()
    topology = loader.topology(tags)
    if validate:
        loader.problems.extend(loader.validation_problems(topology))
    unknown = _UnknownResources(
        {resource_id.casefold() for _reader, expansion in expanded.values() for resource_id in expansion.failed_ids},
        {scope for _reader, expansion in expanded.values() for scope in expansion.unread_scopes},
    )
    if unknown:
        loader.problems[:] = [p for p in loader.problems if not unknown.covers(p)]
    if loader.problems:
        raise OpenNsgError(loader.problems)
    return topology


def load_external(
    external: ExternalInput, service_tags: ServiceTags | None = None, *, validate: bool = True
) -> Topology:
    """A topology from another reader's resources alone (a Terraform plan's prior state, say), validated."""
    return _load([], service_tags, [], validate, TemplateInputs(), external)


_REFERENCED = re.compile("^" + re.escape(Message.INVALID_REFERENCE.split("{referenced}")[0]) + r"(?P<referenced>\S+) ")


@dataclass(frozen=True, slots=True)
class _UnknownResources:
    """What the templates read may have created without OpenNSG seeing it, so a reference to it is unknown rather
    than missing: resources whose evaluation failed (reported once, at their root cause, not again by every
    resource referring to them) and anything inside the scopes where an unread nested deployment lands (a linked
    template not on disk, or one known only at deployment, may create any resource there). Every reference check
    reports ``InvalidResourceReference`` with ARM's one message, so this one filter covers them all."""

    failed: set[str]
    unread_scopes: set[str]

    def __bool__(self) -> bool:
        return bool(self.failed or self.unread_scopes)

    def covers(self, problem: ArmError) -> bool:
        matched = _REFERENCED.match(problem.message) if problem.code == Code.INVALID_REFERENCE else None
        if matched is None:
            return False
        referenced = matched["referenced"].casefold()
        return any(referenced == rid or referenced.startswith(f"{rid}/") for rid in self.failed) or any(
            referenced.startswith(f"{scope}/") for scope in self.unread_scopes
        )


def _json_files(path: Path) -> list[Path]:
    """``*.json`` under a directory, recursively, except inside Terraform modules (directories with ``.tf``
    files: their JSON is read only when named as its own path)."""
    modules = {p.parent for p in files_under(path, (".tf",)) if p.is_file() and p.parent != path}
    return sorted(p for p in files_under(path, (".json",)) if not any(m in p.parents for m in modules))


def read_json(path: Path, problems: list[ArmError]) -> Any | None:
    """A file's JSON, or None with the problem recorded (missing, not a regular file, empty, not text, not JSON,
    nested too deep)."""
    label = str(path)
    try:
        data = parse_json(read_text(path), label)
        if data is None:  # a document of its own, never an input: say so instead of reading nothing
            raise InputError(label, "holds only JSON null; expected an object or an array")
        return data
    except InputError as exc:
        if exc.missing:
            problems.append(ArmError(Code.FILE_NOT_FOUND, Message.FILE_NOT_FOUND.format(source=label), label))
        else:
            target = f"{label}:{exc.position}" if exc.position else label
            problems.append(ArmError(Code.INVALID_JSON, f"{label} {exc.reason}.", target))
        return None


def load_paths(
    paths: Sequence[str | Path],
    service_tags: ServiceTags | None = None,
    *,
    validate: bool = True,
    terraform: TerraformInputs | None = None,
    notes: list[str] | None = None,
    inputs: TemplateInputs | None = None,
) -> Topology:
    """A topology from files and directories (``*.json`` recursively), validated as a whole.

    Terraform inputs are read too: ``.tf`` files and directories holding them (one root module per directory),
    and plan/state JSON (told by content); ``terraform`` gives their ``--subscription`` and variables. When
    Terraform ids had to use the placeholder subscription, a line saying so is appended to ``notes``.
    Raises one ``OpenNsgError`` with every problem: unreadable files, parse errors and validation errors,
    each target naming its file.
    """
    from opennsg.terraform.detect import is_terraform_document, is_variables_file, terraform_files

    problems: list[ArmError] = []
    docs: list[tuple[str, Any]] = []
    modules: dict[Path, list[Path]] = {}
    terraform_docs: list[tuple[str, Any]] = []
    var_files: list[Path] = []
    for given in paths:
        path = Path(given)
        if is_variables_file(path):
            var_files.append(path)
            continue
        hcl = terraform_files(path)
        if hcl is not None:
            module = modules.setdefault(path if path.is_dir() else path.parent, [])
            module.extend(f for f in hcl if f not in module)
            continue
        files = _json_files(path) if path.is_dir() else [path]
        if not files:  # an empty folder (or one of other files) is a mistake, not an empty network
            message = f"{path} holds no ARM JSON (*.json) or Terraform (*.tf) files."
            problems.append(ArmError(Code.FILE_NOT_FOUND, message, str(path)))
        for file in files:
            data = read_json(file, problems)
            if data is None:
                continue
            (terraform_docs if is_terraform_document(data) else docs).append((str(file), data))
    external = None
    if modules or terraform_docs:
        from opennsg.terraform import TerraformInputs, read_terraform

        if var_files:
            context = terraform or TerraformInputs()
            terraform = replace(context, var_files=(*var_files, *context.var_files))
        external = read_terraform(list(modules.items()), terraform_docs, terraform)
    topology = _load(docs, service_tags, problems, validate, inputs or TemplateInputs(), external, notes)
    if external is not None and notes is not None:
        from opennsg.terraform.detect import PLACEHOLDER_SUBSCRIPTION, placeholder_note

        terraform_keys = {id_key(r.id) for _, r, _ in external.resources}
        if any(
            r.key in terraform_keys and r.subscription_id == PLACEHOLDER_SUBSCRIPTION
            for collection in (topology.nsgs, topology.asgs, topology.vnets, topology.nics, topology.vms)
            for r in collection.values()
        ):
            notes.append(placeholder_note())
    return topology


__all__ = ["ExternalInput", "Origin", "load_documents", "load_external", "load_paths", "read_json"]
