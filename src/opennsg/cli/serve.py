"""``opennsg serve``: run the ARM-compatible service (FastAPI on uvicorn)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer

from opennsg.cli.common import (
    JsonOption,
    ServiceTagsOption,
    bad_input_exits,
    fail,
    load_service_tags,
    print_json,
    stdout,
)
from opennsg.model.errors import ArmError

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


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: str = HostOption,
        port: int = PortOption,
        db: str = DbOption,
        tls_cert: Path | None = TlsCertOption,
        tls_key: Path | None = TlsKeyOption,
        tls_self_signed: bool = SelfSignedOption,
        tokens: Path | None = TokensOption,
        service_tags: Path | None = ServiceTagsOption,
        import_paths: list[Path] | None = ImportOption,
        json: bool = JsonOption,
    ) -> None:
        """Serve the ARM-compatible API (NSGs, VNets, NICs, VMs, Network Watcher diagnostics) over HTTP(S)."""
        import uvicorn

        from opennsg.api import ServiceConfig, create_app
        from opennsg.api.auth import Tokens, create_token_file
        from opennsg.api.tls import ensure_self_signed
        from opennsg.arm import load_paths

        if (tls_cert is None) != (tls_key is None) or (tls_self_signed and tls_cert is not None):
            fail(ArmError("InvalidTlsOptions", "Use --tls-cert with --tls-key, or --tls-self-signed alone."), json)
        created_token: str | None = None
        with bad_input_exits(json):
            tags = load_service_tags(service_tags)
            token_path = tokens or _token_file(db)
            if tokens is None and not token_path.exists():
                grants, created_token = create_token_file(token_path)
            else:
                grants = Tokens.load(token_path)
        if tls_self_signed:
            tls_cert, tls_key = ensure_self_signed(_data_dir(db) / "tls", host)
        scheme = "https" if tls_cert else "http"
        shown_host = f"[{host}]" if ":" in host else host
        info = {
            "url": f"{scheme}://{shown_host}:{port}",
            "database": db,
            "tokens": str(token_path),
            "certificate": str(tls_cert) if tls_cert else None,
        }
        if created_token:
            info["token"] = created_token
        if json:
            print_json(info)
        else:
            stdout.print(f"OpenNSG ARM API on [bold]{info['url']}[/] (database {db})")
            if created_token:
                stdout.print(f"Created an all-subscriptions token in {token_path} (mode 0600):\n  {created_token}")
            else:
                stdout.print(f"Bearer tokens from {token_path}")
            if tls_cert:
                stdout.print(f"TLS certificate: {tls_cert}  (SDK: connection_verify='{tls_cert}')")
            stdout.print(
                f'Try: curl {"--cacert " + str(tls_cert) + " " if tls_cert else ""}-H "Authorization: Bearer <token>" '
                f'"{info["url"]}/subscriptions/<subscription id>/resourcegroups?api-version=2021-04-01"'
            )
        logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
        with bad_input_exits(json):
            seed = load_paths(import_paths, service_tags=tags) if import_paths else None
            asgi = create_app(ServiceConfig(db_url=db, tokens=grants, service_tags=tags), seed=seed)
        uvicorn.run(
            asgi,
            host=host,
            port=port,
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            log_level="warning",
            access_log=False,
        )
