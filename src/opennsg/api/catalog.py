"""What the service stores: ARM types, how each maps to the model (``opennsg.arm`` kind, Topology collection)."""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.model.codes import Code

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"
#: Subscriptions imported with ``serve --import`` (offer type, creation date, SMTP exemption: semantics §0).
SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions"
NETWORK_WATCHER_TYPE = "Microsoft.Network/networkWatchers"


@dataclass(frozen=True, slots=True)
class ModelKind:
    """A top-level resource type that the model knows: parsed by ``opennsg.arm``, held in a Topology collection."""

    type: str  # canonical ARM type, e.g. Microsoft.Network/networkSecurityGroups
    arm_kind: str  # the ``kind`` of opennsg.arm.parse_resource
    collection: str  # the Topology field
    in_use_code: str  # ARM's code when deleting a resource still referenced

    @property
    def segment(self) -> str:
        return self.type.split("/", 1)[1]


MODEL_KINDS = (
    ModelKind(
        "Microsoft.Network/networkSecurityGroups",
        "networkSecurityGroups",
        "nsgs",
        Code.IN_USE_NSG,
    ),
    ModelKind(
        "Microsoft.Network/applicationSecurityGroups",
        "applicationSecurityGroups",
        "asgs",
        Code.IN_USE_ASG,
    ),
    ModelKind("Microsoft.Network/virtualNetworks", "virtualNetworks", "vnets", Code.IN_USE_SUBNET),
    ModelKind("Microsoft.Network/networkInterfaces", "networkInterfaces", "nics", Code.IN_USE_NIC),
    ModelKind("Microsoft.Network/routeTables", "routeTables", "route_tables", Code.IN_USE_ROUTE_TABLE),
    ModelKind("Microsoft.Network/publicIPAddresses", "publicIPAddresses", "public_ips", Code.IN_USE_PUBLIC_IP),
    ModelKind("Microsoft.Compute/virtualMachines", "virtualMachines", "vms", Code.IN_USE_VM),
    ModelKind(
        "Microsoft.Network/privateEndpoints", "privateEndpoints", "private_endpoints", Code.IN_USE_PRIVATE_ENDPOINT
    ),
    ModelKind("Microsoft.Network/natGateways", "natGateways", "nat_gateways", Code.IN_USE_NAT_GATEWAY),
    ModelKind("Microsoft.Network/loadBalancers", "loadBalancers", "load_balancers", Code.IN_USE_LOAD_BALANCER),
    ModelKind("Microsoft.Network/networkManagers", "networkManagers", "network_managers", Code.IN_USE_NETWORK_MANAGER),
)

_MANAGER = "Microsoft.Network/networkManagers"
#: The network manager's child resources (semantics §11.1): stored one row each, routed by ``opennsg.api.avnm``.
AVNM_CHILD_KINDS = (
    ModelKind(f"{_MANAGER}/networkGroups", "networkGroups", "network_groups", Code.IN_USE_NETWORK_GROUP),
    ModelKind(f"{_MANAGER}/networkGroups/staticMembers", "staticMembers", "static_members", Code.IN_USE_STATIC_MEMBER),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations",
        "securityAdminConfigurations",
        "security_admin_configurations",
        Code.IN_USE_ADMIN_CONFIGURATION,
    ),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations/ruleCollections",
        "ruleCollections",
        "admin_rule_collections",
        Code.IN_USE_RULE_COLLECTION,
    ),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations/ruleCollections/rules",
        "rules",
        "admin_rules",
        Code.IN_USE_ADMIN_RULE,
    ),
)
#: A commit's record of what a manager deploys in one region (a document, id ``{manager}/deploymentStatus/{region}``).
DEPLOYMENT_STATUS_TYPE = f"{_MANAGER}/deploymentStatus"

#: A network watcher's flow logs (semantics §9): stored one row each under the watcher, routed by
#: ``opennsg.api.flowlogs_routes``.
FLOW_LOG_KIND = ModelKind(f"{NETWORK_WATCHER_TYPE}/flowLogs", "flowLogs", "flow_logs", Code.IN_USE_FLOW_LOG)

#: The Topology collections of every stored model kind.
STORED_COLLECTIONS = tuple(kind.collection for kind in (*MODEL_KINDS, *AVNM_CHILD_KINDS, FLOW_LOG_KIND))

KIND_BY_TYPE = {kind.type.casefold(): kind for kind in (*MODEL_KINDS, *AVNM_CHILD_KINDS, FLOW_LOG_KIND)}
