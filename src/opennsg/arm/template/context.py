"""Where a template is deployed: subscription, resource group, location, tenant, deployment name.

A template read outside Azure has none of its own; the defaults below (documented in docs/templates.md) keep
ids consistent, and ``--subscription``, ``--resource-group`` and ``--location`` replace them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from opennsg.arm.template.values import Unknown

TEMPLATE_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
TEMPLATE_RESOURCE_GROUP = "opennsg-template"
TEMPLATE_LOCATION = "eastus"
TEMPLATE_DEPLOYMENT_NAME = "opennsg-deployment"
#: The management group a management-group template deploys to when none is given.
MANAGEMENT_GROUP = "opennsg-management-group"

#: ``environment()`` of Azure's public cloud (the values ``az cloud show -n AzureCloud`` lists).
AZURE_CLOUD: dict[str, Any] = {
    "name": "AzureCloud",
    "gallery": "https://gallery.azure.com/",
    "graph": "https://graph.windows.net/",
    "portal": "https://portal.azure.com",
    "graphAudience": "https://graph.windows.net/",
    "activeDirectoryDataLake": "https://datalake.azure.net/",
    "batch": "https://batch.core.windows.net/",
    "media": "https://rest.media.azure.net",
    "sqlManagement": "https://management.core.windows.net:8443/",
    "vmImageAliasDoc": (
        "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/"
        "aliases.json"
    ),
    "resourceManager": "https://management.azure.com/",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "suffixes": {
        "acrLoginServer": ".azurecr.io",
        "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        "azureDatalakeStoreFileSystem": "azuredatalakestore.net",
        "azureFrontDoorEndpointSuffix": "azurefd.net",
        "keyvaultDns": ".vault.azure.net",
        "sqlServerHostname": ".database.windows.net",
        "storage": "core.windows.net",
    },
}


@dataclass(frozen=True, slots=True)
class DeploymentContext:
    """The deployment's scope; ``location`` is the resource group's (and the deployment's) location."""

    subscription_id: str = TEMPLATE_SUBSCRIPTION_ID
    resource_group: str | None = TEMPLATE_RESOURCE_GROUP
    location: str = TEMPLATE_LOCATION
    deployment_name: str = TEMPLATE_DEPLOYMENT_NAME
    management_group: str | None = None
    tenant_id: str | None = None
    #: The deployment's time, ``utcNow()`` (set to the moment the template is read when not given).
    deployed_at: datetime | None = None

    def for_template(self, template: Any) -> DeploymentContext:
        """The scope a template's ``$schema`` deploys to (as ``az deployment sub|mg|tenant create`` would): a
        subscription, management group or tenant template has no resource group."""
        schema = template.get("$schema") if isinstance(template, dict) else None
        folded = schema.casefold() if isinstance(schema, str) else ""
        if "subscriptiondeploymenttemplate" in folded:
            return replace(self, resource_group=None)
        if "managementgroupdeploymenttemplate" in folded:
            return replace(self, resource_group=None, management_group=self.management_group or MANAGEMENT_GROUP)
        if "tenantdeploymenttemplate" in folded:
            return replace(self, resource_group=None)
        return self

    def at(self, subscription_id: str | None, resource_group: str | None) -> DeploymentContext:
        """The context of a nested deployment placed in another subscription and/or resource group."""
        sub = subscription_id or self.subscription_id
        group = resource_group or (self.resource_group if subscription_id is None else None)
        return replace(self, subscription_id=sub, resource_group=group)

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    def resource_group_object(self) -> dict[str, Any]:
        return {
            "id": self.resource_group_id,
            "name": self.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
            "managedBy": None,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription_object(self) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.subscription_id}",
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant(),
            "displayName": Unknown("subscription().displayName", "string", "the subscription's display name"),
        }

    def tenant(self) -> Any:
        if self.tenant_id:
            return self.tenant_id
        return Unknown("subscription().tenantId", "string", "the tenant id of the subscription")

    def tenant_object(self) -> dict[str, Any]:
        tenant = self.tenant()
        return {
            "id": f"/tenants/{tenant}" if isinstance(tenant, str) else Unknown("tenant().id", "string"),
            "tenantId": tenant,
            "countryCode": Unknown("tenant().countryCode", "string"),
            "displayName": Unknown("tenant().displayName", "string"),
        }


__all__ = [
    "AZURE_CLOUD",
    "TEMPLATE_DEPLOYMENT_NAME",
    "TEMPLATE_LOCATION",
    "TEMPLATE_RESOURCE_GROUP",
    "TEMPLATE_SUBSCRIPTION_ID",
    "DeploymentContext",
]
