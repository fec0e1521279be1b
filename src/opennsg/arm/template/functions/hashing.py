"""``uniqueString`` and ``guid``: Azure's exact outputs.

``uniqueString`` joins its arguments with ``-``, hashes the UTF-8 bytes with Azure's 64-bit variant of MurmurHash
(two 32-bit lanes, MurmurHash3's x86 constants, zero seed) and writes the 64 bits as 13 characters of the
alphabet ``a-z2-7``, five bits at a time from the top. ``guid`` is a name-based (version 5, SHA-1) UUID of the
arguments joined with ``-`` in the namespace ``11fb06fb-712d-4ddd-98c7-e71bbd588830``. Both were re-derived in
public (see docs/templates.md) and are tested against published input/output pairs.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from opennsg.arm.template.functions import function, want_str

if TYPE_CHECKING:
    from opennsg.arm.template.scope import Scope

_MASK = 0xFFFFFFFF
_C1 = 0x239B961B
_C2 = 0xAB0E9789
_FMIX1 = 0x85EBCA6B
_FMIX2 = 0xC2B2AE35
_ADD1 = 0x561CCD1B
_ADD2 = 0x0BCAA747
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _fmix(h: int) -> int:
    h ^= h >> 16
    h = (h * _FMIX1) & _MASK
    h ^= h >> 13
    h = (h * _FMIX2) & _MASK
    return h ^ (h >> 16)


def murmur64(data: bytes) -> int:
    """Azure's 64-bit MurmurHash variant (the hash behind ``uniqueString``)."""
    h1 = h2 = 0
    size = len(data)
    body = size - size % 8
    for i in range(0, body, 8):
        k1 = int.from_bytes(data[i : i + 4], "little")
        k2 = int.from_bytes(data[i + 4 : i + 8], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 15) * _C2) & _MASK
        h1 = (_rotl(h1, 19) + h2) & _MASK
        h1 = (h1 * 5 + _ADD1) & _MASK
        h2 ^= (_rotl((k2 * _C2) & _MASK, 17) * _C1) & _MASK
        h2 = (_rotl(h2, 13) + h1) & _MASK
        h2 = (h2 * 5 + _ADD2) & _MASK
    rest = data[body:]
    if rest:
        k1 = int.from_bytes(rest[:4], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 15) * _C2) & _MASK
        if len(rest) > 4:
            k2 = int.from_bytes(rest[4:], "little")
            h2 ^= (_rotl((k2 * _C2) & _MASK, 17) * _C1) & _MASK
    h1 ^= size & _MASK
    h2 ^= size & _MASK
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = _fmix(h1), _fmix(h2)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    value = murmur64("-".join(values).encode("utf-8"))
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[value >> 59])
        value = (value << 5) & 0xFFFFFFFFFFFFFFFF
    return "".join(chars)


def arm_guid(*values: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(values)))


@function("uniqueString", 1, None, returns="string")
def _unique_string(scope: Scope, args: list[Any]) -> str:
    return unique_string(*(want_str("uniqueString", args, i) for i in range(len(args))))


@function("guid", 1, None, returns="string")
def _guid(scope: Scope, args: list[Any]) -> str:
    return arm_guid(*(want_str("guid", args, i) for i in range(len(args))))
