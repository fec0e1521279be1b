"""``opennsg enforce --service URL``: keep one NIC's ruleset in step with an ``opennsg serve`` control plane.

Each poll lists, for the NIC's subscription, every collection the NIC's chain depends on (NSGs, ASGs, VNets,
NICs, route tables, public IPs, and the subscription itself for the SMTP rule), following ``nextLink``. The
resources' ETags are the change signal: when every (id, etag) pair is as at the previous poll nothing is
recompiled; otherwise the topology is rebuilt, the NIC's chain compiled, and the ruleset applied when it differs
from the one in force. The poll interval (0.25 s by default) keeps re-application within a second of a change.
An unreachable or failing service, or a configuration that does not compile, leaves the last good ruleset in
force; before the first good one the NIC is closed (fail-closed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from opennsg.enforce.apply import AppliedNic, apply_ruleset
from opennsg.enforce.compile import compile_policy
from opennsg.enforce.kernel import fail_closed, table_present
from opennsg.engine import Engine
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import ResourceId
from opennsg.model.servicetags import ServiceTags
from opennsg.model.validation.codes import Code

API_VERSION = "2024-05-01"
COLLECTIONS = (
    "networkSecurityGroups",
    "applicationSecurityGroups",
    "virtualNetworks",
    "networkInterfaces",
    "routeTables",
    "publicIPAddresses",
)
DEFAULT_INTERVAL = 0.25
MAX_PAGES = 1000


@dataclass(frozen=True, slots=True)
class FollowEvent:
    """One thing that happened while following: an apply, a kept ruleset, an error."""

    kind: str  # "applied", "unchanged", "unreachable", "invalid", "failed"
    message: str
    applied: AppliedNic | None = None


class ServiceSource:
    """Reads the configuration a NIC depends on from ``opennsg serve`` (ARM REST, bearer token)."""

    def __init__(self, url: str, token: str, nic_id: str, timeout: float = 5.0) -> None:
        parsed = ResourceId.parse(nic_id)
        if parsed is None or not parsed.types or parsed.types[-1].casefold() != "networkinterfaces":
            raise OpenNsgError(
                [
                    ArmError(
                        Code.INVALID_PARAMETER,
                        f"--nic must be the NIC's ARM id when following a service (got '{nic_id}').",
                        nic_id,
                    )
                ]
            )
        self.subscription = parsed.subscription
        self.base = url.rstrip("/")
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {token}"}, timeout=timeout, follow_redirects=False
        )

    def close(self) -> None:
        self.client.close()

    def _get(self, url: str) -> dict[str, Any]:
        response = self.client.get(url, params=None if "api-version=" in url else {"api-version": API_VERSION})
        if response.status_code == 404 and url.endswith(f"/subscriptions/{self.subscription}"):
            return {}
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _pages(self, collection: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{self.base}/subscriptions/{self.subscription}/providers/Microsoft.Network/{collection}"
        pages = 0
        while url and pages < MAX_PAGES:
            body = self._get(url)
            yield from (item for item in body.get("value", []) if isinstance(item, dict))
            url = body.get("nextLink") if isinstance(body.get("nextLink"), str) else None
            pages += 1

    def fetch(self) -> tuple[list[tuple[str, Any]], tuple[tuple[str, str], ...]]:
        """Every document the NIC's chain depends on, and the (id, etag) fingerprint of them all."""
        documents: list[tuple[str, Any]] = []
        fingerprint: list[tuple[str, str]] = []
        for collection in COLLECTIONS:
            items = list(self._pages(collection))
            documents.append((f"{self.base}/{collection}", {"value": items}))
            fingerprint.extend((str(i.get("id", "")).casefold(), str(i.get("etag", ""))) for i in items)
        subscription = self._get(f"{self.base}/subscriptions/{self.subscription}")
        if subscription:
            documents.append((f"{self.base}/subscriptions/{self.subscription}", subscription))
            fingerprint.append(("subscription", repr(sorted(subscription.items()))))
        return documents, tuple(sorted(fingerprint))


def follow(
    source: ServiceSource,
    nic_id: str,
    netns: str | None,
    service_tags: ServiceTags | None = None,
    interval: float = DEFAULT_INTERVAL,
    report: Callable[[FollowEvent], None] = lambda event: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Poll and apply until ``should_stop`` (see the module docstring)."""
    from opennsg.arm import load_documents

    if not table_present(netns):
        fail_closed(netns)
    seen: tuple[tuple[str, str], ...] | None = None
    in_force: str | None = None
    while not should_stop():
        started = time.monotonic()
        try:
            documents, fingerprint = source.fetch()
        except (httpx.HTTPError, ValueError) as exc:
            report(FollowEvent("unreachable", f"service unreachable, last good ruleset kept: {exc}"))
        else:
            if fingerprint != seen:
                try:
                    topology = load_documents(documents, service_tags)
                    ruleset = compile_policy(Engine(topology).policy(nic_id))
                    applied = AppliedNic.of(ruleset)
                    if applied.digest != in_force:
                        applied = apply_ruleset(ruleset, netns)
                        in_force = applied.digest
                        report(FollowEvent("applied", f"ruleset {applied.digest} applied", applied))
                    seen = fingerprint
                except OpenNsgError as exc:
                    report(FollowEvent("invalid", f"configuration refused, last good ruleset kept: {exc}"))
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
