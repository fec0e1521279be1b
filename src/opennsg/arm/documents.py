"""The AVNM documents users have that are not ARM resources (semantics §11.5), recognised by their content.

* deployment status: ``POST …/listDeploymentStatus`` / ``az network manager list-deploy-status`` (``{"value":
  [{region, deploymentStatus, configurationIds, deploymentType, commitTime}]}``), or its entries alone;
* active admin rules: ``POST …/listActiveSecurityAdminRules`` (entries with ``region`` and ``commitTime`` naming
  rule ids): read as "the rule's configuration is deployed in that region";
* the management-group tree: ``az account management-group show --expand --recurse`` (or the REST answer, with
  ``properties``), and the flat ``az account management-group list``;
* a VNet's effective admin rules: ``POST …/virtualNetworks/{vnet}/listNetworkManagerEffectiveSecurityAdminRules`` /
  ``az network manager list-effective-security-admin-rule``, with a ``virtualNetworkId`` beside ``value`` (the
  answer itself does not say which VNet it is for).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opennsg.arm.keys import lookup
from opennsg.arm.parse import Reader, parse_admin_rule, properties_of
from opennsg.model.avnm import (
    DeploymentState,
    DeploymentStatus,
    EffectiveAdminRule,
    ManagementGroup,
    VnetEffectiveAdminRules,
)
from opennsg.model.ids import ResourceId, id_key, management_group_id, name_of
from opennsg.model.validation import Code, Message

MANAGEMENT_GROUP_TYPE = "Microsoft.Management/managementGroups"
#: The key OpenNSG reads beside an effective admin rules answer to know its VNet.
VIRTUAL_NETWORK_ID_PROPERTY = "virtualNetworkId"


def is_deployment_status(body: Mapping[str, Any]) -> bool:
    """One deployment-status entry: ``region`` and ``deploymentStatus``, no ARM ``type``."""
    return lookup(body, "type") is None and lookup(body, "deploymentStatus") is not None and "region" in _keys(body)


def is_active_admin_rule(body: Mapping[str, Any]) -> bool:
    """One ``listActiveSecurityAdminRules`` entry: a rule with the ``region`` and ``commitTime`` it is active in."""
    keys = _keys(body)
    return "region" in keys and "committime" in keys and "rulecollectionappliestogroups" in keys


def is_effective_admin_rule(body: Mapping[str, Any]) -> bool:
    """One effective admin rule entry (semantics §11.5 shape 2): a rule with the descriptions of its collection."""
    keys = _keys(body)
    return (
        lookup(body, "type") is None
        and "rulecollectionappliestogroups" in keys
        and "region" not in keys
        and "committime" not in keys
    )


def is_effective_admin_rules(data: Any) -> bool:
    """A whole effective admin rules answer: ``{"value": [entries], "virtualNetworkId"?, "skipToken"?}``."""
    if not isinstance(data, Mapping):
        return False
    value = lookup(data, "value")
    if not isinstance(value, list) or lookup(data, "type") is not None:
        return False
    if value:
        return all(isinstance(v, Mapping) and is_effective_admin_rule(v) for v in value)
    return lookup(data, VIRTUAL_NETWORK_ID_PROPERTY) is not None  # "no admin rules on this VNet"


def is_management_group(body: Mapping[str, Any]) -> bool:
    kind = lookup(body, "type")
    return isinstance(kind, str) and kind.strip().casefold() == MANAGEMENT_GROUP_TYPE.casefold()


def _keys(body: Mapping[str, Any]) -> set[str]:
    return {k.casefold() for k in body if isinstance(k, str)}


def _time(body: Mapping[str, Any], reader: Reader, path: str) -> datetime | None:
    raw = reader.text(body, "commitTime", path)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        reader.invalid("commitTime", f"{path}commitTime", "an ISO 8601 date and time", raw)
        return None


def parse_deployment_status(body: Mapping[str, Any], reader: Reader, path: str) -> DeploymentStatus | None:
    before = len(reader.problems)
    region = reader.text(body, "region", path, required=True)
    state = reader.enum(
        body, "deploymentStatus", path, DeploymentState, Code.INVALID_REQUEST_FORMAT, required=True,
        subject="Deployment status entry",
    )  # fmt: skip
    status = DeploymentStatus(
        region=region or "",
        deployment_status=state or DeploymentState.NOT_STARTED,
        configuration_ids=reader.texts(body, "configurationIds", path),
        deployment_type=reader.text(body, "deploymentType", path) or "SecurityAdmin",
        commit_time=_time(body, reader, path),
        error_message=reader.text(body, "errorMessage", path) or None,
    )
    return status if len(reader.problems) == before else None


def parse_active_admin_rule(body: Mapping[str, Any], reader: Reader, path: str) -> DeploymentStatus | None:
    """An active rule as the deployment it proves: its configuration is ``Deployed`` in its region."""
    rule_id = reader.text(body, "id", path, required=True)
    region = reader.text(body, "region", path, required=True)
    if not rule_id or not region:
        return None
    parsed = ResourceId.parse(rule_id)
    collection = parsed.parent if parsed else None
    configuration = collection.parent if collection else None
    manager = configuration.parent if configuration else None
    if configuration is None or manager is None:
        reader.invalid("id", f"{path}id", "the id of a security admin rule", rule_id)
        return None
    return DeploymentStatus(
        region=region,
        deployment_status=DeploymentState.DEPLOYED,
        configuration_ids=(str(configuration),),
        deployment_type="SecurityAdmin",
        commit_time=_time(body, reader, path),
        network_manager_id=str(manager),
    )


def parse_management_groups(body: Mapping[str, Any], reader: Reader, path: str) -> list[ManagementGroup]:
    """A management group and, recursively, the groups and subscriptions under it."""
    out: list[ManagementGroup] = []
    _management_group(body, None, reader, path, out)
    return out


def _management_group(
    body: Mapping[str, Any], parent: str | None, reader: Reader, path: str, out: list[ManagementGroup]
) -> None:
    props, pp = properties_of(body, path)
    group_id = management_group_id(
        reader.text(body, "id", path) or reader.text(body, "name", path, required=True) or ""
    )
    details = reader.get(props, "details")
    if parent is None and isinstance(details, Mapping):
        given_parent = reader.get(details, "parent")
        if isinstance(given_parent, Mapping):
            parent_ref = reader.text(given_parent, "id", f"{pp}details.parent.")
            parent = management_group_id(parent_ref) if parent_ref else None
    child_groups: list[str] = []
    subscriptions: list[str] = []
    for child, cpath in reader.objects(props, "children", pp):
        child_id = reader.text(child, "id", cpath) or ""
        child_type = (reader.text(child, "type", cpath) or "").strip().casefold()
        if child_id.strip().casefold().startswith("/subscriptions/") or child_type.endswith("subscriptions"):
            name = reader.text(child, "name", cpath)
            subscriptions.append(f"/subscriptions/{name_of(child_id) if child_id else name}")
        else:
            child_groups.append(management_group_id(child_id or reader.text(child, "name", cpath) or ""))
            _management_group(child, group_id, reader, cpath, out)
    out.append(
        ManagementGroup(
            id=group_id,
            name=reader.text(body, "name", path) or name_of(group_id),
            display_name=reader.text(props, "displayName", pp),
            parent_id=parent,
            child_groups=tuple(child_groups),
            subscriptions=tuple(subscriptions),
        )
    )


def merge_management_groups(first: ManagementGroup, second: ManagementGroup) -> ManagementGroup:
    """One group seen in two documents (a tree and a flat list, say): what either says, children united."""

    def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
        seen = {id_key(x) for x in a}
        return (*a, *(x for x in b if id_key(x) not in seen))

    return ManagementGroup(
        id=first.id,
        name=first.name,
        display_name=first.display_name or second.display_name,
        parent_id=first.parent_id or second.parent_id,
        child_groups=union(first.child_groups, second.child_groups),
        subscriptions=union(first.subscriptions, second.subscriptions),
    )


def parse_effective_admin_rules(data: Mapping[str, Any], reader: Reader, path: str = "") -> VnetEffectiveAdminRules:
    """A VNet's effective admin rules answer; its VNet is ``virtualNetworkId`` beside ``value``."""
    vnet_id = reader.text(data, VIRTUAL_NETWORK_ID_PROPERTY, path)
    if not vnet_id:
        message = Message.EFFECTIVE_RULES_WITHOUT_VNET.format(property=VIRTUAL_NETWORK_ID_PROPERTY)
        reader.add(Code.MISSING_REQUIRED_PROPERTY, message, f"{path}{VIRTUAL_NETWORK_ID_PROPERTY}")
    rules: list[EffectiveAdminRule] = []
    for item, ipath in reader.objects(data, "value", path):
        rule_id = reader.text(item, "id", ipath, required=True)
        if not rule_id:
            continue
        rule = parse_admin_rule(item, rule_id, reader, ipath)
        if rule is None:
            continue
        groups = [
            reader.text(g, "networkGroupId", gpath, required=True) or ""
            for g, gpath in reader.objects(item, "ruleCollectionAppliesToGroups", ipath)
        ]
        rule_groups = [reader.text(g, "id", gpath) or "" for g, gpath in reader.objects(item, "ruleGroups", ipath)]
        rules.append(
            EffectiveAdminRule(
                rule=rule,
                configuration_description=reader.text(item, "configurationDescription", ipath),
                rule_collection_description=reader.text(item, "ruleCollectionDescription", ipath),
                rule_collection_applies_to_groups=tuple(g for g in groups if g),
                rule_groups=tuple(g for g in rule_groups if g),
            )
        )
    return VnetEffectiveAdminRules(virtual_network_id=vnet_id or "", rules=tuple(rules))


__all__ = [
    "MANAGEMENT_GROUP_TYPE",
    "VIRTUAL_NETWORK_ID_PROPERTY",
    "is_active_admin_rule",
    "is_deployment_status",
    "is_effective_admin_rule",
    "is_effective_admin_rules",
    "is_management_group",
    "merge_management_groups",
    "parse_active_admin_rule",
    "parse_deployment_status",
    "parse_effective_admin_rules",
    "parse_management_groups",
]
