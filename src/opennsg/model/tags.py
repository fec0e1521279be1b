"""The tags every NSG knows without a service tags file (semantics §4.1, §4.2, §4.3): one table for all layers.

Validation (is this a tag?), resolution (what addresses is it at this NIC?) and output (its canonical spelling)
all read these; the addresses of the platform tags are semantics §0 decisions in ``opennsg.model.policy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from opennsg.model.policy import PLATFORM_TAG_PREFIXES

VIRTUAL_NETWORK_TAG = "VirtualNetwork"
INTERNET_TAG = "Internet"
AZURE_LOAD_BALANCER_TAG = "AzureLoadBalancer"

#: The per-NIC built-in tags by case-folded spelling, classic-model spellings (semantics §4.3) included.
BUILTIN_TAGS: Mapping[str, str] = MappingProxyType(
    {
        "virtualnetwork": VIRTUAL_NETWORK_TAG,
        "virtual_network": VIRTUAL_NETWORK_TAG,
        "internet": INTERNET_TAG,
        "azureloadbalancer": AZURE_LOAD_BALANCER_TAG,
        "azure_loadbalancer": AZURE_LOAD_BALANCER_TAG,
    }
)
#: Service tags Azure accepts in NSG rules that its "Service Tags – Public" download does not list (Microsoft's
#: corporate-network tags, used by published templates that deploy), by case-folded name. Rules may name them; their
#: prefixes are not public, so a verdict at a NIC whose rules name one needs a service tags file that lists it.
UNPUBLISHED_SERVICE_TAGS: Mapping[str, str] = MappingProxyType(
    {"corpnetsaw": "CorpNetSaw", "corpnetpublic": "CorpNetPublic"}
)
#: The AzurePlatform* tags (semantics §0 "Platform exemption") by case-folded name.
PLATFORM_TAGS: Mapping[str, str] = MappingProxyType({tag.casefold(): tag for tag in PLATFORM_TAG_PREFIXES})


def builtin_tag(text: str) -> str | None:
    """The canonical name of a built-in or platform tag in any accepted spelling, else None."""
    folded = text.strip().casefold()
    return BUILTIN_TAGS.get(folded) or PLATFORM_TAGS.get(folded)


def unpublished_service_tag(text: str) -> str | None:
    """The canonical name of a service tag Azure accepts but does not publish (``CorpNetSaw``), else None."""
    return UNPUBLISHED_SERVICE_TAGS.get(text.strip().casefold())
