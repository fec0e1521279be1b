"""``opennsg ui PATH...``: the web UI over files, read-only, on loopback."""

from __future__ import annotations

from pathlib import Path

import typer

from opennsg.cli.common import JsonOption, ServiceTagsOption, bad_input_exits, load_service_tags, print_json, stdout
from opennsg.model.validation.codes import Code

UiPathsArgument = typer.Argument(
    ..., help="ARM JSON (az -o json, ARM lists, templates) and flow log files or directories, read-only."
)
UiPortOption = typer.Option(8765, "--port", min=0, max=65535, help="Loopback TCP port (0: any free port).")


def register(app: typer.Typer) -> None:
    @app.command()
    def ui(
        paths: list[Path] = UiPathsArgument,
        port: int = UiPortOption,
        service_tags: Path | None = ServiceTagsOption,
        json: bool = JsonOption,
    ) -> None:
        """Open the web UI over files: topology, rules, verify, reachability, diff, flow logs (Ctrl-C stops it)."""
        import socket

        import uvicorn

        from opennsg.ui import create_file_app

        host = "127.0.0.1"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with bad_input_exits(json):
            tags = load_service_tags(service_tags)
            try:
                listener.bind((host, port))
            except OSError as exc:
                from opennsg.model.errors import ArmError, OpenNsgError

                message = f"Cannot listen on {host}:{port}: {exc.strerror}. Choose another --port."
                raise OpenNsgError([ArmError(Code.PORT_UNAVAILABLE, message)]) from None
            bound = listener.getsockname()[1]
            asgi = create_file_app(paths, tags, port=bound)
        url = f"http://{host}:{bound}/ui/"
        if json:
            print_json({"url": url, "paths": [str(p) for p in paths]})
        else:
            stdout.print(f"OpenNSG UI on [bold]{url}[/] (read-only over {len(paths)} path(s); Ctrl-C stops it)")
        listener.listen(128)
        config = uvicorn.Config(asgi, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[listener])
