"""``opennsg serve``: run the ARM-compatible service (FastAPI on uvicorn)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from opennsg.cli.common import (
    NO_INPUTS,
    InputOptions,
    JsonOption,
    bad_input_exits,
    fail,
    input_options,
    load_service_tags,
    print_json,
    stdout,
)
from opennsg.model.errors import ArmError
from opennsg.model.ids import ResourceId
from opennsg.model.topology import Topology
from opennsg.model.validation.codes import Code

DEFAULT_DB = "./opennsg.db"

HostOption = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
PortOption = typer.Option(8080, "--port", help="TCP port.")
DbOption = typer.Option(
    DEFAULT_DB, "--db", help="SQLite file (default ./opennsg.db, created on first start) or postgresql://URL."
)
TlsCertOption = typer.Option(None, "--tls-cert", help="PEM certificate (with --tls-key).")
TlsKeyOption = typer.Option(None, "--tls-key", help="PEM private key.")
SelfSignedOption = typer.Option(
    False, "--tls-self-signed", help="Generate a self-signed certificate in the data directory."
)
ImportOption = typer.Option(
    None,
    "--import",
    help="ARM JSON files or directories (az -o json, ARM lists, templates) to load into the database on start.",
)
TokensOption = typer.Option(
    None, "--tokens", help='JSON {"<token>": ["<subscription id>" | "*"]}; default: a token made on first start.'
)


def _data_dir(db_url: str) -> Path:
    """Where the token file and a generated certificate live: beside a SQLite file, else the current directory."""
    from opennsg.api.db import normalise_url, sqlite_path

    path = sqlite_path(normalise_url(db_url))
    return path.parent if path is not None else Path.cwd()


def _token_file(db_url: str) -> Path:
    from opennsg.api.db import normalise_url, sqlite_path

    path = sqlite_path(normalise_url(db_url))
    return Path(f"{path}.tokens.json") if path is not None else Path.cwd() / "opennsg.tokens.json"


def _subscriptions(topology: Topology) -> list[str]:
    """The subscription ids of the imported resources, in the casing first seen."""
    seen: dict[str, str] = {}
    for collection in (topology.nsgs, topology.vnets, topology.nics, topology.asgs, topology.route_tables):
        for resource in collection.values():
            parsed = ResourceId.parse(resource.id)
            if parsed is not None:
                seen.setdefault(parsed.subscription.casefold(), parsed.subscription)
    return list(seen.values())


def _print_next_steps(info: dict[str, object], created_token: str | None, tls_cert: Path | None) -> None:
    """What a new user needs to talk to the service: where, with which token, about which subscriptions."""
    stdout.print(f"OpenNSG ARM API on [bold]{info['url']}[/] (database {info['database']})")
    if created_token:
        stdout.print(f"Created an all-subscriptions token in {info['tokens']} (mode 0600):\n  {created_token}")
    else:
        stdout.print(f"Bearer tokens from {info['tokens']} ('opennsg token' shows them, '--rotate' replaces them)")
    subscriptions = info["subscriptions"]
    if isinstance(subscriptions, list) and subscriptions:
        stdout.print(f"Imported subscription(s): {', '.join(subscriptions)}")
    if tls_cert:
        stdout.print(f"TLS certificate: {tls_cert}  (SDK: connection_verify='{tls_cert}')")
    subscription = subscriptions[0] if isinstance(subscriptions, list) and subscriptions else "<subscription id>"
    token = created_token or "$(opennsg token --value)"
    cacert = f"--cacert {tls_cert} " if tls_cert else ""
    stdout.print(
        f'Try:  curl {cacert}-H "Authorization: Bearer {token}" '
        f'"{info["url"]}/subscriptions/{subscription}/providers/Microsoft.Network/networkSecurityGroups'
        f'?api-version=2026-01-01"'
    )
    stdout.print(f"Web UI: {info['url']}/ui/   API reference: {info['url']}/docs   OpenAPI: {info['url']}/openapi.json")


def register(app: typer.Typer) -> None:
    @app.command()
    def token(
        db: str = DbOption,
        tokens: Path | None = TokensOption,
        rotate: bool = typer.Option(
            False, "--rotate", help="Replace the all-subscriptions token by a new one (restart serve to use it)."
        ),
        value: bool = typer.Option(False, "--value", help="Print only the all-subscriptions token (for scripts)."),
        json: bool = JsonOption,
    ) -> None:
        """Show the service's bearer tokens, or rotate the all-subscriptions one."""
        from opennsg.api.auth import ALL_SUBSCRIPTIONS, Tokens, rotate_token_file

        token_path = tokens or _token_file(db)
        with bad_input_exits(json):
            if rotate:
                rotate_token_file(token_path)
            grants = Tokens.load(token_path).grants
        everything = [t for t, subs in grants.items() if ALL_SUBSCRIPTIONS in subs]
        if value:
            if not everything:
                fail(ArmError(Code.TOKEN_NOT_FOUND, f"{token_path} has no all-subscriptions token."), json)
            sys.stdout.write(everything[0] + "\n")
            return
        listed = [{"token": t, "subscriptions": sorted(subs)} for t, subs in grants.items()]
        if json:
            print_json({"tokens": str(token_path), "grants": listed, "rotated": rotate})
            return
        stdout.print(
            f"Tokens in {token_path}{' (rotated: restart opennsg serve to use the new one)' if rotate else ''}:"
        )
        for entry in listed:
            stdout.print(f"  {entry['token']}  {', '.join(entry['subscriptions'])}", markup=False)

    @app.command()
    @input_options
    def serve(
        host: str = HostOption,
        port: int = PortOption,
        db: str = DbOption,
        tls_cert: Path | None = TlsCertOption,
        tls_key: Path | None = TlsKeyOption,
        tls_self_signed: bool = SelfSignedOption,
        tokens: Path | None = TokensOption,
        import_paths: list[Path] | None = ImportOption,
        inputs: InputOptions = NO_INPUTS,
        json: bool = JsonOption,
    ) -> None:
        """Serve the ARM-compatible API (NSGs, VNets, NICs, VMs, Network Watcher diagnostics) over HTTP(S)."""
        from opennsg.api import ServiceConfig, create_app
        from opennsg.api.auth import Tokens, create_token_file
        from opennsg.api.server import ServerLimits, TurnBufferedHandler, run
        from opennsg.extras import refuse_pandas

        refuse_pandas()

        if (tls_cert is None) != (tls_key is None) or (tls_self_signed and tls_cert is not None):
            fail(ArmError(Code.INVALID_TLS_OPTIONS, "Use --tls-cert with --tls-key, or --tls-self-signed alone."), json)
        created_token: str | None = None
        with bad_input_exits(json):
            tags = load_service_tags(inputs.service_tags)
            token_path = tokens or _token_file(db)
            if tokens is None and not token_path.exists():
                grants, created_token = create_token_file(token_path)
            else:
                grants = Tokens.load(token_path)
        if tls_self_signed:
            from opennsg.api.tls import ensure_self_signed  # here: cryptography's import is ~0.05 s of every start

            tls_cert, tls_key = ensure_self_signed(_data_dir(db) / "tls", host)
        logging.basicConfig(handlers=[TurnBufferedHandler(sys.stderr)], level=logging.INFO, format="%(message)s")
        with bad_input_exits(json):
            seed = inputs.load(import_paths) if import_paths else None
            limits = ServerLimits()
            config = ServiceConfig(db_url=db, tokens=grants, service_tags=tags, body_timeout=limits.body_timeout)
            asgi = create_app(config, seed=seed)
        scheme = "https" if tls_cert else "http"
        shown_host = f"[{host}]" if ":" in host else host
        subscriptions = _subscriptions(seed) if seed is not None else []
        info: dict[str, object] = {
            "url": f"{scheme}://{shown_host}:{port}",
            "database": db,
            "tokens": str(token_path),
            "certificate": str(tls_cert) if tls_cert else None,
            "subscriptions": subscriptions,
            "ui": f"{scheme}://{shown_host}:{port}/ui/",
        }
        if created_token:
            info["token"] = created_token
        if json:
            print_json(info)
        else:
            _print_next_steps(info, created_token, tls_cert)
        run(
            asgi,
            host,
            port,
            limits,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
        )
