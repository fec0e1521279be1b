"""The project's decisions where Azure is silent (semantics §0), each in one named place so it can change."""

from __future__ import annotations

from datetime import date

# --- limits (semantics §5) ----------------------------------------------------------------------
MIN_USER_PRIORITY = 100
MAX_USER_PRIORITY = 4096
DEFAULT_RULE_PRIORITIES = frozenset({65000, 65001, 65500})
MAX_NAME_LENGTH = 80
MAX_DESCRIPTION_LENGTH = 140
MAX_RULES_PER_NSG = 1000
MAX_PREFIXES_PER_SIDE = 4000
MAX_ASGS_PER_RULE_FIELD = 10
MAX_ASGS_PER_NSG = 100
MAX_ASGS_PER_IP_CONFIGURATION = 20
MAX_IP_CONFIGURATIONS_PER_ASG = 4000
MAX_NSGS_PER_REGION = 5000
MAX_ASGS_PER_REGION = 3000
MAX_FLOWS_PER_NIC = 500_000
NAME_PATTERN = r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$"
#: IP configurations (private addresses) per network interface ("Networking limits": 256 private IPs per NIC).
MAX_IP_CONFIGURATIONS_PER_NIC = 256
#: ARM's tag limits (every resource type modelled here): 50 tags, names up to 512 characters, values up to 256.
MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_NAME_LENGTH = 512
MAX_TAG_VALUE_LENGTH = 256
#: Characters ARM refuses in tag names (besides control characters).
TAG_NAME_RESERVED_CHARACTERS = "<>%&\\?/"
#: Security admin rule priorities (semantics §11.1): 1-4096, unique within a rule collection.
MIN_ADMIN_RULE_PRIORITY = 1
MAX_ADMIN_RULE_PRIORITY = 4096

# --- built-in tags (semantics §0) ------------------------------------------------------------------
HOST_VIRTUAL_IP = "168.63.129.16"
IMDS_IP = "169.254.169.254"
AZURE_LOAD_BALANCER_PREFIXES = ("168.63.129.16/32",)
#: IANA special-purpose ranges excluded from the ``Internet`` tag (besides the VirtualNetwork prefixes), each with
#: what it is, so that a verdict can say why an address is not ``Internet``.
NOT_INTERNET_RANGES: dict[str, str] = {
    "0.0.0.0/8": "'this network' (RFC 791)",
    "10.0.0.0/8": "private-use (RFC 1918)",
    "100.64.0.0/10": "shared address space for carrier-grade NAT (RFC 6598)",
    "127.0.0.0/8": "loopback (RFC 1122)",
    "169.254.0.0/16": "link-local (RFC 3927)",
    "172.16.0.0/12": "private-use (RFC 1918)",
    "192.0.0.0/24": "IETF protocol assignments (RFC 6890)",
    "192.0.2.0/24": "documentation, TEST-NET-1 (RFC 5737)",
    "192.88.99.0/24": "6to4 relay anycast (RFC 7526)",
    "192.168.0.0/16": "private-use (RFC 1918)",
    "198.18.0.0/15": "benchmarking (RFC 2544)",
    "198.51.100.0/24": "documentation, TEST-NET-2 (RFC 5737)",
    "203.0.113.0/24": "documentation, TEST-NET-3 (RFC 5737)",
    "224.0.0.0/4": "multicast (RFC 5771)",
    "240.0.0.0/4": "reserved (RFC 1112)",
    "::/128": "the unspecified address (RFC 4291)",
    "::1/128": "loopback (RFC 4291)",
    "fc00::/7": "unique local (RFC 4193)",
    "fe80::/10": "link-local (RFC 4291)",
    "ff00::/8": "multicast (RFC 4291)",
    "2001:db8::/32": "documentation (RFC 3849)",
    "64:ff9b:1::/48": "local-use IPv4/IPv6 translation (RFC 8215)",
    "100::/64": "discard-only (RFC 6666)",
}
NOT_INTERNET_PREFIXES = tuple(NOT_INTERNET_RANGES)

# --- platform exemptions (semantics §0 "Platform exemption", §4.2) ------------------------------------
PLATFORM_DNS_TAG = "AzurePlatformDNS"
PLATFORM_IMDS_TAG = "AzurePlatformIMDS"
PLATFORM_LKM_TAG = "AzurePlatformLKM"
PLATFORM_TAG_PREFIXES: dict[str, tuple[str, ...]] = {
    PLATFORM_DNS_TAG: ("168.63.129.16/32",),
    PLATFORM_IMDS_TAG: ("169.254.169.254/32",),
    PLATFORM_LKM_TAG: ("20.118.99.224/32", "40.83.235.53/32", "23.102.135.246/32"),
}
#: The LKM exemption covers TCP 1688 only; DNS and IMDS cover every port and protocol.
KMS_PORT = 1688
PLATFORM_RULE_PREFIX = "PlatformRule_"

# --- outbound SMTP (semantics §0 "Outbound SMTP", §6) --------------------------------------------
SMTP_PORT = 25
SMTP_RULE_NAME = "PlatformRule_OutboundSmtpBlocked"
SMTP_GRANDFATHER_DATE = date(2017, 11, 15)
DEFAULT_OFFER_TYPE = "PayAsYouGo"
OFFER_TYPES = (
    "EnterpriseAgreement", "EnterpriseDevTest", "PayAsYouGo", "MSDN", "AzurePass",
    "AzureInOpen", "Education", "FreeTrial", "CSP",
)  # fmt: skip
QUOTA_ID_OFFER_PREFIXES = {
    "enterpriseagreement_": "EnterpriseAgreement",
    "payasyougo_": "PayAsYouGo",
    "msdn_": "MSDN",
    "freetrial_": "FreeTrial",
    "azurepass_": "AzurePass",
    "azureinopen_": "AzureInOpen",
    "csp_": "CSP",
}

# --- flows (semantics §0 "Flow idle timeout", §3.3) ----------------------------------------------
DEFAULT_FLOW_TIMEOUT_MINUTES = 4
MIN_FLOW_TIMEOUT_MINUTES = 4
MAX_FLOW_TIMEOUT_MINUTES = 30

# --- ARM ----------------------------------------------------------------------------------------
DEFAULT_API_VERSION = "2024-05-01"
LATEST_KNOWN_API_VERSION = "2026-01-01"
#: From this API version on, subnets of VNets created by a PUT default to ``defaultOutboundAccess: false``
#: (private subnets, semantics §12.2).
PRIVATE_SUBNETS_API_VERSION = "2025-07-01"
