"""Subscriptions, as ``GET /subscriptions/{id}`` or ``az account show`` print them (their offer decides SMTP)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from opennsg.arm.keys import lookup
from opennsg.arm.parse.reader import Reader
from opennsg.model.ids import name_of
from opennsg.model.resources import Subscription


def _date(value: Any, reader: Reader, path: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    reader.invalid("createdDate", path, "an ISO 8601 date", value)
    return None


def is_subscription(body: Mapping[str, Any]) -> bool:
    """``GET /subscriptions/{id}`` (has ``subscriptionId``) or ``az account show`` (``tenantId`` + ``isDefault``)."""
    kind = lookup(body, "type")
    if isinstance(kind, str) and kind:
        return False
    return lookup(body, "subscriptionId") is not None or (
        lookup(body, "tenantId") is not None and lookup(body, "isDefault") is not None
    )


def parse_subscription(body: Mapping[str, Any], reader: Reader, path: str = "") -> Subscription:
    """A subscription (semantics §0 "Outbound SMTP"); ``az account show`` spells the id ``id`` and the name ``name``."""
    sub_id = reader.text(body, "subscriptionId", path) or reader.text(body, "id", path, required=True) or ""
    sub_id = name_of(sub_id) if sub_id.startswith("/") else sub_id
    policies = reader.get(body, "subscriptionPolicies")
    quota = reader.text(policies, "quotaId", f"{path}subscriptionPolicies.") if isinstance(policies, Mapping) else None
    return Subscription(
        subscription_id=sub_id,
        quota_id=quota,
        offer_type=reader.text(body, "offerType", path),
        created_date=_date(reader.get(body, "createdDate"), reader, f"{path}createdDate"),
        smtp_exemption=reader.flag(body, "smtpExemption", path),
        display_name=reader.text(body, "displayName", path) or reader.text(body, "name", path),
    )
