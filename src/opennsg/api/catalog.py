"""What the service stores: ARM types, how each maps to the model (``opennsg.arm`` kind, Topology collection)."""

from __future__ import annotations

from dataclasses import dataclass

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
        "InUseNetworkSecurityGroupCannotBeDeleted",
    ),
    ModelKind(
        "Microsoft.Network/applicationSecurityGroups",
        "applicationSecurityGroups",
        "asgs",
        "InUseApplicationSecurityGroupCannotBeDeleted",
    ),
    ModelKind("Microsoft.Network/virtualNetworks", "virtualNetworks", "vnets", "InUseSubnetCannotBeDeleted"),
    ModelKind("Microsoft.Network/networkInterfaces", "networkInterfaces", "nics", "NicInUse"),
    ModelKind("Microsoft.Network/routeTables", "routeTables", "route_tables", "InUseRouteTableCannotBeDeleted"),
    ModelKind("Microsoft.Network/publicIPAddresses", "publicIPAddresses", "public_ips", "PublicIPAddressInUse"),
    ModelKind("Microsoft.Compute/virtualMachines", "virtualMachines", "vms", "VirtualMachineInUse"),
    ModelKind("Microsoft.Network/privateEndpoints", "privateEndpoints", "private_endpoints", "PrivateEndpointInUse"),
    ModelKind("Microsoft.Network/natGateways", "natGateways", "nat_gateways", "InUseNatGatewayCannotBeDeleted"),
    ModelKind("Microsoft.Network/loadBalancers", "loadBalancers", "load_balancers", "InUseLoadBalancerCannotBeDeleted"),
    ModelKind(
        "Microsoft.Network/networkManagers", "networkManagers", "network_managers", "InUseNetworkManagerCannotBeDeleted"
    ),
)

_MANAGER = "Microsoft.Network/networkManagers"
#: The network manager's child resources (semantics §11.1): stored one row each, routed by ``opennsg.api.avnm``.
AVNM_CHILD_KINDS = (
    ModelKind(f"{_MANAGER}/networkGroups", "networkGroups", "network_groups", "InUseNetworkGroupCannotBeDeleted"),
    ModelKind(
        f"{_MANAGER}/networkGroups/staticMembers", "staticMembers", "static_members", "InUseStaticMemberCannotBeDeleted"
    ),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations",
        "securityAdminConfigurations",
        "security_admin_configurations",
        "InUseSecurityAdminConfigurationCannotBeDeleted",
    ),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations/ruleCollections",
        "ruleCollections",
        "admin_rule_collections",
        "InUseRuleCollectionCannotBeDeleted",
    ),
    ModelKind(
        f"{_MANAGER}/securityAdminConfigurations/ruleCollections/rules",
        "rules",
        "admin_rules",
        "InUseSecurityAdminRuleCannotBeDeleted",
    ),
)
#: A commit's record of what a manager deploys in one region (a document, id ``{manager}/deploymentStatus/{region}``).
DEPLOYMENT_STATUS_TYPE = f"{_MANAGER}/deploymentStatus"

#: A network watcher's flow logs (semantics §9): stored one row each under the watcher, routed by
#: ``opennsg.api.flowlogs_routes``.
FLOW_LOG_KIND = ModelKind(f"{NETWORK_WATCHER_TYPE}/flowLogs", "flowLogs", "flow_logs", "InUseFlowLogCannotBeDeleted")

#: The Topology collections of every stored model kind.
STORED_COLLECTIONS = tuple(kind.collection for kind in (*MODEL_KINDS, *AVNM_CHILD_KINDS, FLOW_LOG_KIND))

KIND_BY_TYPE = {kind.type.casefold(): kind for kind in (*MODEL_KINDS, *AVNM_CHILD_KINDS, FLOW_LOG_KIND)}
