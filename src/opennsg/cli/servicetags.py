"""``opennsg service-tags``: download Azure's "Service Tags – Public" file into the cache, compare two files.

Most real NSG rules name service tags, and the tags' prefixes change weekly, so users need the current file
without hunting for it. ``update`` takes it from Microsoft's public download (the download page names the file
of the week) or, given a token, from the Service Tag Discovery API of a subscription; every command then uses the
cached copy when no ``--service-tags`` is given.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from opennsg.cli.common import (
    JsonOption,
    bad_input_exits,
    cached_service_tags_path,
    fail,
    print_json,
    stdout,
)
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.servicetags import ServiceTags, compare
from opennsg.model.validation.codes import Code

#: Microsoft's download page for the public cloud's file; it links the current ServiceTags_Public_YYYYMMDD.json.
PUBLIC_DOWNLOAD_PAGE = "https://www.microsoft.com/en-us/download/details.aspx?id=56519"
ARM_ENDPOINT = "https://management.azure.com"
DISCOVERY_API_VERSION = "2026-01-01"
_FILE_LINK = re.compile(r"https://download\.microsoft\.com/[^\"'<> ]*ServiceTags_Public_\d{8}\.json")
#: Seconds to wait for each HTTP exchange.
HTTP_TIMEOUT = 60.0

service_tags_app = typer.Typer(
    help="Azure's 'Service Tags – Public' file: download the current one into the cache, compare two files.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(service_tags_app, name="service-tags")


def _download_error(url: str, why: str) -> OpenNsgError:
    return OpenNsgError(
        [ArmError(Code.SERVICE_TAGS_DOWNLOAD_FAILED, f"Could not download service tags from {url}: {why}")]
    )


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    """(content type, body) of a GET, following redirects; any failure is an ``OpenNsgError``."""
    import httpx

    try:
        response = httpx.get(url, headers=headers, follow_redirects=True, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise _download_error(url, str(exc) or type(exc).__name__) from None
    if response.status_code != 200:
        raise _download_error(url, f"HTTP {response.status_code}")
    return response.headers.get("content-type", ""), response.content


def _parse(body: bytes, source: str) -> ServiceTags:
    try:
        data: Any = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _download_error(source, f"the answer is not JSON ({exc})") from None
    return ServiceTags.from_json(data, source)


def _from_public_download(url: str) -> tuple[ServiceTags, bytes, str]:
    """The file at ``url``, or, when ``url`` is a page, the ServiceTags_Public file it links."""
    content_type, body = _get(url)
    if "html" in content_type or body.lstrip()[:1] == b"<":
        match = _FILE_LINK.search(body.decode("utf-8", "replace"))
        if match is None:
            raise _download_error(url, "the page links no ServiceTags_Public_YYYYMMDD.json file")
        url = match.group(0)
        _, body = _get(url)
    return _parse(body, url), body, url


def _from_discovery_api(endpoint: str, subscription: str, location: str, token: str) -> tuple[ServiceTags, bytes, str]:
    url = (
        f"{endpoint.rstrip('/')}/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}"
        f"/serviceTags?api-version={DISCOVERY_API_VERSION}"
    )
    _, body = _get(url, {"Authorization": f"Bearer {token}"})
    return _parse(body, url), body, url


def _write_atomically(path: Path, body: bytes) -> None:
    """Replace the cached file in one step, so a failed download never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@service_tags_app.command()
def update(
    url: str = typer.Option(
        PUBLIC_DOWNLOAD_PAGE, "--url", help="The file, or a page linking ServiceTags_Public_YYYYMMDD.json."
    ),
    subscription: str | None = typer.Option(
        None, "--subscription", help="Use the Service Tag Discovery API of this subscription instead (needs a token)."
    ),
    location: str = typer.Option("westeurope", "--location", help="Region asked by the Service Tag Discovery API."),
    token: str | None = typer.Option(
        None, "--token", envvar="AZURE_ACCESS_TOKEN", help="Bearer token for the Service Tag Discovery API."
    ),
    endpoint: str = typer.Option(ARM_ENDPOINT, "--endpoint", help="ARM endpoint of the Service Tag Discovery API."),
    as_json: bool = JsonOption,
) -> None:
    """Download the current service tags file into the cache; every command uses it when no --service-tags is given."""
    with bad_input_exits(as_json):
        if subscription is not None:
            if not token:
                fail(
                    ArmError(
                        Code.MISSING_TOKEN,
                        "The Service Tag Discovery API needs a bearer token: pass --token or set AZURE_ACCESS_TOKEN "
                        "(e.g. from 'az account get-access-token --query accessToken -o tsv').",
                    ),
                    as_json,
                )
            tags, body, source = _from_discovery_api(endpoint, subscription, location, token)
        else:
            tags, body, source = _from_public_download(url)
        path = cached_service_tags_path()
        _write_atomically(path, body)
    result = {"path": str(path), "source": source, "changeNumber": tags.change_number, "tags": len(tags.tags)}
    if as_json:
        print_json(result)
        return
    stdout.print(f"Service tags changeNumber {tags.change_number} ({len(tags.tags)} tags) from {source}")
    stdout.print(f"cached in {path}; commands use it when no --service-tags is given")


@service_tags_app.command()
def diff(
    old: Path = typer.Argument(..., help="The older service tags file."),
    new: Path = typer.Argument(..., help="The newer service tags file."),
    as_json: bool = JsonOption,
) -> None:
    """Tags and prefixes added and removed between two service tags files."""
    with bad_input_exits(as_json):
        change = compare(ServiceTags.load(old), ServiceTags.load(new))
    if as_json:
        print_json(
            {
                "oldChangeNumber": change.old_change_number,
                "newChangeNumber": change.new_change_number,
                "addedTags": [{"name": t.name, "addressPrefixes": list(t.address_prefixes)} for t in change.added_tags],
                "removedTags": [
                    {"name": t.name, "addressPrefixes": list(t.address_prefixes)} for t in change.removed_tags
                ],
                "changedTags": [
                    {"name": c.name, "addedPrefixes": list(c.added), "removedPrefixes": list(c.removed)}
                    for c in change.changed_tags
                ],
            }
        )
        return
    stdout.print(f"changeNumber {change.old_change_number} → {change.new_change_number}")
    if change.empty:
        stdout.print("no tag or prefix changed")
        return
    table = Table("tag", "change", "prefixes added", "prefixes removed")
    for tag in change.added_tags:
        table.add_row(tag.name, "tag added", str(len(tag.address_prefixes)), "")
    for tag in change.removed_tags:
        table.add_row(tag.name, "tag removed", "", str(len(tag.address_prefixes)))
    for c in change.changed_tags:
        table.add_row(c.name, "prefixes changed", _sample(c.added), _sample(c.removed))
    stdout.print(table)


def _sample(prefixes: tuple[str, ...], shown: int = 3) -> str:
    """A few prefixes and how many more, so one busy tag does not fill the screen."""
    head = ", ".join(prefixes[:shown])
    more = len(prefixes) - shown
    return f"{head} (+{more} more)" if more > 0 else head
