"""Platform filters outside the NSG rules (semantics §0, §4.2, §6): which subscriptions Azure blocks SMTP for.

The constants live in ``opennsg.model.policy``; this module holds the decisions that are functions of them.
"""

from __future__ import annotations

from opennsg.model.policy import (
    DEFAULT_OFFER_TYPE,
    OFFER_TYPES,
    QUOTA_ID_OFFER_PREFIXES,
    SMTP_GRANDFATHER_DATE,
)
from opennsg.model.resources import Subscription

_CANONICAL_OFFERS = {offer.casefold(): offer for offer in OFFER_TYPES}


def offer_type_of(subscription: Subscription | None) -> str:
    """The subscription's offer type: ``offerType``, else an unambiguous quotaId prefix, else PayAsYouGo (semantics §0).

    An unknown ``offerType`` or quotaId falls back to the default as well: what cannot be classified is treated
    like most new subscriptions are.
    """
    if subscription is None:
        return DEFAULT_OFFER_TYPE
    if subscription.offer_type:
        return _CANONICAL_OFFERS.get(subscription.offer_type.strip().casefold(), DEFAULT_OFFER_TYPE)
    quota = (subscription.quota_id or "").strip().casefold()
    for prefix, offer in QUOTA_ID_OFFER_PREFIXES.items():
        if quota.startswith(prefix):
            return offer
    return DEFAULT_OFFER_TYPE


def smtp_blocked(subscription: Subscription | None) -> bool:
    """Outbound TCP 25 to the Internet is blocked, unless the subscription predates 2017-11-15, is an Enterprise
    Agreement, or is Enterprise Dev/Test with the SMTP exemption granted (semantics §0 "Outbound SMTP", §6)."""
    if subscription is not None and subscription.created_date and subscription.created_date < SMTP_GRANDFATHER_DATE:
        return False
    offer = offer_type_of(subscription)
    if offer == "EnterpriseAgreement":
        return False
    return not (offer == "EnterpriseDevTest" and subscription is not None and subscription.smtp_exemption)
