"""The Azure SDK pointed at a test server: the clients every SDK test uses, with the test token, over its TLS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.credentials import AccessToken
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from tests.api.conftest import SUB, TOKEN, RunningServer

LOCATION = "westus"


class StaticToken:
    """A TokenCredential that always returns the test token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(TOKEN, int(time.time()) + 3600)


def clients(server: RunningServer) -> tuple[NetworkManagementClient, ResourceManagementClient]:
    """Network and resource clients of the test subscription, trusting the server's certificate."""
    common: dict[str, Any] = {"base_url": server.url, "connection_verify": str(server.certificate)}
    credential = StaticToken()
    return (
        NetworkManagementClient(credential, SUB, **common),  # type: ignore[arg-type]
        ResourceManagementClient(credential, SUB, **common),  # type: ignore[arg-type]
    )


@contextmanager
def connected(
    server: RunningServer, group: str = "rg1"
) -> Iterator[tuple[NetworkManagementClient, ResourceManagementClient]]:
    """``clients`` with ``group`` created in ``LOCATION``, closed on the way out."""
    network, resources = clients(server)
    try:
        resources.resource_groups.create_or_update(group, {"location": LOCATION})
        yield network, resources
    finally:
        network.close()
        resources.close()
