"""The service's small pieces: path casing, ETag matching, token files, certificates, database URLs, JSON bodies."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from opennsg.api import http
from opennsg.api.auth import Tokens, create_token_file
from opennsg.api.db import normalise_url, sqlite_path
from opennsg.api.errors import ApiError, bad_request
from opennsg.api.gateway import canonical_path
from opennsg.api.http import parse_json
from opennsg.api.planning import Preconditions
from opennsg.api.tls import self_signed
from opennsg.model.errors import OpenNsgError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "/SUBSCRIPTIONS/s/RESOURCEGROUPS/Rg/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/Providers/SECURITYRULES/Subnets",
            "/subscriptions/s/resourceGroups/Rg/providers/Microsoft.Network/networkSecurityGroups/Providers/securityRules/Subnets",
        ),
        (
            "/subscriptions/s/resourcegroups/subscriptions",
            "/subscriptions/s/resourceGroups/subscriptions",
        ),
        (
            "/subscriptions/s/providers/microsoft.network/LOCATIONS/WestUS/OPERATIONS/abc",
            "/subscriptions/s/providers/Microsoft.Network/locations/WestUS/operations/abc",
        ),
        (
            "/subscriptions/s/resourceGroups/g/providers/microsoft.compute/VIRTUALMACHINES/vm",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm",
        ),
        ("/healthz", "/healthz"),
        ("/", "/"),
    ],
)
def test_canonical_path_fixes_keywords_and_keeps_names(given: str, expected: str) -> None:
    assert canonical_path(given) == expected


def test_preconditions_compare_etags_weakly_and_accept_lists_and_star() -> None:
    etag = 'W/"abc"'
    Preconditions(if_match='W/"abc"').check(etag)
    Preconditions(if_match='"abc"').check(etag)
    Preconditions(if_match='"zzz", W/"abc"').check(etag)
    Preconditions(if_match="*").check(etag)
    Preconditions(if_none_match="*").check(None)
    Preconditions(if_none_match='"zzz"').check(etag)
    for failing, current in (
        (Preconditions(if_match='"zzz"'), etag),
        (Preconditions(if_match="*"), None),
        (Preconditions(if_none_match="*"), etag),
        (Preconditions(if_none_match='W/"abc"'), etag),
    ):
        with pytest.raises(ApiError) as error:
            failing.check(current)
        assert error.value.status == 412 and error.value.code == "PreconditionFailed"


def test_token_file_is_created_private_and_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "opennsg.db.tokens.json"
    tokens, token = create_token_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Tokens.load(path)
    assert loaded == tokens
    granted = loaded.subscriptions(token)
    assert granted is not None and Tokens.allows(granted, "ANY-subscription")
    assert loaded.subscriptions("other") is None


def test_token_file_errors(tmp_path: Path) -> None:
    scoped = tmp_path / "scoped.json"
    scoped.write_text(json.dumps({"t": ["AbC"]}))
    granted = Tokens.load(scoped).subscriptions("t")
    assert granted is not None and Tokens.allows(granted, "abc") and not Tokens.allows(granted, "def")
    cases = {"missing.json": None, "bad.json": "{", "shape.json": json.dumps({"t": "all"}), "list.json": "[]"}
    codes = set()
    for name, text in cases.items():
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(OpenNsgError) as error:
            Tokens.load(tmp_path / name)
        codes.add(error.value.errors[0].code)
    assert codes == {"FileNotFound", "InvalidJson", "InvalidTokensFile"}


def test_self_signed_certificate_names_loopback_and_keeps_key_private(tmp_path: Path) -> None:
    cert_path, key_path = self_signed(tmp_path, "10.1.2.3")
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    addresses = {str(a) for a in names.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "::1", "10.1.2.3"} <= addresses
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_database_urls(tmp_path: Path) -> None:
    assert normalise_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    local = normalise_url(str(tmp_path / "x.db"))
    assert local.startswith("sqlite:///") and sqlite_path(local) == tmp_path / "x.db"
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"[]", b'"x"', b"1", b'{"a": Infinity}', b"[" * 50000])
def test_request_bodies_must_be_json_objects(raw: bytes) -> None:
    with pytest.raises(ApiError) as error:
        parse_json(raw)
    assert error.value.status == 400 and error.value.code == "InvalidRequestFormat"


def test_request_body_object() -> None:
    assert parse_json(b' {"location": "westus"} ') == {"location": "westus"}


def careful_parse_json(raw: bytes) -> dict[str, Any]:
    """``parse_json`` as it was: ``json.loads`` with the option each time, every text searched for surrogates."""
    if not raw.strip():
        raise bad_request("Cannot parse the request: the request body is empty.")
    try:
        data = json.loads(raw, parse_constant=http._reject_constant)
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"Cannot parse the request: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise bad_request("Cannot parse the request: the request body must be a JSON object.")
    where = http._lone_surrogate(data, "")
    if where is not None:
        raise bad_request(f"Cannot parse the request: the text at '{where or 'the body'}' is not valid Unicode.")
    return data


def outcome(parse: Callable[[bytes], dict[str, Any]], raw: bytes) -> Any:
    try:
        return "parsed", json.dumps(parse(raw))  # dumps: NaN, -0.0 and lone surrogates compared as written
    except ApiError as error:
        return "refused", error.status, error.code, error.message


json_texts = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
bodies = st.one_of(
    st.binary(max_size=40),
    st.builds(
        lambda value, ascii, encoding, bom: (
            (b"\xef\xbb\xbf" if bom else b"") + json.dumps(value, ensure_ascii=ascii).encode(encoding, "surrogatepass")
        ),
        json_texts,
        st.booleans(),
        st.sampled_from(ENCODINGS),
        st.booleans(),
    ),
    st.sampled_from(
        [b'{"a": "\\ud800"}', b'{"\\uD83D": 1}', b'{"a": "\xed\xa0\x80"}', b'{"a": NaN}', b"\xef\xbb\xbf{}"]
    ),
)


@settings(max_examples=600, deadline=None)
@given(raw=bodies)
def test_parse_json_answers_as_json_loads_did(raw: bytes) -> None:
    assert outcome(parse_json, raw) == outcome(careful_parse_json, raw)


def test_operation_ids_are_random_hex_unique_across_buffer_fills_and_forks() -> None:
    import os
    import re

    from opennsg.api.store import _RandomIds

    ids = _RandomIds()
    drawn = [ids.next() for _ in range(3 * _RandomIds.IDS_PER_FILL + 5)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in drawn) and len(set(drawn)) == len(drawn)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child's next id must not be the one the parent draws next from its buffer
        os.write(write, ids.next().encode())
        os._exit(0)
    os.waitpid(child, 0)
    os.close(write)
    assert os.read(read, 64).decode() != ids.next()
    os.close(read)
