"""Why an address is not ``Internet``: addresses in IANA special-purpose ranges outside the NIC's VNet match neither
``Internet`` nor ``VirtualNetwork`` (semantics §0), and `verify` and NSG diagnostics say so (issue 16, item 5).
The ranges and what they are are written here again from the IANA registries, not imported."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netwatcher import diagnose_json
from opennsg.cli.main import app
from test_engine_api import _profile, three_tier

EXAMPLE = Path(__file__).parent.parent / "examples" / "how-nsgs-filter-traffic.json"
runner = CliRunner()


def verify(remote: str) -> dict[str, object]:
    args = ["verify", str(EXAMPLE), "--nic", "vm1", "--direction", "Inbound", "--local", "10.0.1.4:80"]
    result = runner.invoke(app, [*args, "--remote", remote, "--json"])
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.stdout)
    return body


@pytest.mark.parametrize(
    ("remote", "prefix", "what"),
    [
        ("203.0.113.7:50000", "203.0.113.0/24", "TEST-NET-3"),
        ("198.51.100.9:50000", "198.51.100.0/24", "TEST-NET-2"),
        ("192.0.2.1:50000", "192.0.2.0/24", "TEST-NET-1"),
        ("192.168.7.7:50000", "192.168.0.0/16", "RFC 1918"),
        ("100.64.0.1:50000", "100.64.0.0/10", "RFC 6598"),
    ],
)
def test_verify_says_why_an_address_is_not_internet(remote: str, prefix: str, what: str) -> None:
    body = verify(remote)
    assert body["access"] == "Deny"  # the example allows HTTP from Internet only
    [note] = body["notes"]  # type: ignore[misc]
    assert prefix in note and what in note and "Internet" in note and "semantics.md" in note


@pytest.mark.parametrize("remote", ["52.1.1.1:50000", "10.0.1.5:50000"])
def test_no_note_for_internet_or_vnet_addresses(remote: str) -> None:
    assert "notes" not in verify(remote)


def test_human_output_carries_the_note() -> None:
    args = ["verify", str(EXAMPLE), "--nic", "vm1", "--direction", "Inbound", "--local", "10.0.1.4:80"]
    result = runner.invoke(app, [*args, "--remote", "203.0.113.7:50000"])
    assert result.exit_code == 0 and "note: 203.0.113.7 is neither Internet nor VirtualNetwork" in result.stdout


def test_diagnostics_say_it_too() -> None:
    engine, _ = three_tier()
    documentation = diagnose_json(engine, "web", _profile(source="2001:db8::7"))["networkSecurityGroupResult"]
    assert "2001:db8::/32" in documentation["notes"][0]
    public = diagnose_json(engine, "web", _profile())["networkSecurityGroupResult"]
    assert "notes" not in public


def test_the_engine_names_the_range_for_ipv6() -> None:
    engine, _ = three_tier()
    outside = engine.outside_internet("web", ip_address("fc00::1"))  # fd00::/48 is this VNet's
    assert outside is not None and outside.prefix == "fc00::/7"
    assert engine.outside_internet("web", ip_address("2603:1000::1")) is None
