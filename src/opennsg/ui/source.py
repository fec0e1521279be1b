"""What the UI shows: a view of one configuration, from files (``opennsg ui``) or from the service's store.

A ``View`` holds the topology a caller may see (only the subscriptions of their token, in the service) and the
``Engine`` over the *whole* configuration: verdicts are the service's verdicts (an NSG may use an ASG or a peering
of another subscription), while names, lists and graphs only ever come from the visible part.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from opennsg.engine import Engine
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError
from opennsg.model.ids import ResourceId, id_key
from opennsg.model.resources import NetworkInterface, NetworkSecurityGroup, Resource
from opennsg.model.servicetags import ServiceTags
from opennsg.model.topology import Topology

if TYPE_CHECKING:
    from opennsg.api.revisions import Revisions

#: A flow log file (``PT1H.json``) says so in its first bytes: a ``records`` list of flow records.
_FLOW_LOG_HEAD = re.compile(rb'^\s*\{\s*"records"\s*:\s*\[')
_FLOW_LOG_MARKERS = (b'"flowRecords"', b'"flows"', b"FlowLogFlowEvent", b'"flowLogVersion"')
_PEEK = 64 * 1024


@dataclass(frozen=True)
class View:
    """One caller's view: the visible topology, the engine over everything, and the flow logs at hand."""

    topology: Topology
    engine: Engine
    flow_logs: tuple[Path, ...] = ()
    #: Where the configuration came from, for the page header ("3 files", "service, version 42").
    origin: str = ""
    #: Whether the configuration can be compared against uploads as "the current state".
    live: bool = False
    visible_subscriptions: frozenset[str] | None = None
    #: The service's saved revisions (None for files): the diff page compares one with the current state.
    revisions: Revisions | None = None

    def nics(self) -> list[NetworkInterface]:
        return sorted(self.topology.nics.values(), key=lambda n: (n.name.casefold(), n.key))

    def nsgs(self) -> list[NetworkSecurityGroup]:
        return sorted(self.topology.nsgs.values(), key=lambda n: (n.name.casefold(), n.key))

    def nics_named(self, name: str) -> list[NetworkInterface]:
        """Visible NICs with this name (case-insensitive), or the one with this ARM id."""
        by_id = self.topology.nic(name) if name.startswith("/") else None
        if by_id is not None:
            return [by_id]
        folded = name.casefold()
        return [n for n in self.nics() if n.name.casefold() == folded]

    def nsgs_named(self, name: str) -> list[NetworkSecurityGroup]:
        by_id = self.topology.nsg(name) if name.startswith("/") else None
        if by_id is not None:
            return [by_id]
        folded = name.casefold()
        return [n for n in self.nsgs() if n.name.casefold() == folded]

    def unique_name(self, resource: Resource) -> bool:
        """Whether the resource's name alone finds it (else the UI links it by ARM id)."""
        pool: Iterable[Resource] = (
            self.topology.nics.values() if isinstance(resource, NetworkInterface) else self.topology.nsgs.values()
        )
        folded = resource.name.casefold()
        return sum(1 for r in pool if r.name.casefold() == folded) == 1


class Source(Protocol):
    """Where views come from; ``grant`` is the caller's subscriptions (None: no authentication, all of it)."""

    def view(self, grant: frozenset[str] | None) -> View: ...


def visible_part(topology: Topology, grant: frozenset[str] | None) -> Topology:
    """The resources of the granted subscriptions only (``"*"`` grants every subscription).

    Every collection is narrowed, whatever its kind, so a resource type added to ``Topology`` later cannot leak
    another tenant's names into the pages; tenant-level records (management groups) are never shown to a
    subscription-scoped token.
    """
    if grant is None or "*" in grant:
        return topology

    def granted(resource_id: str) -> bool:
        parsed = ResourceId.parse(resource_id)
        return parsed is not None and parsed.subscription.casefold() in grant

    changes: dict[str, object] = {}
    for name, value in topology.collections():
        if name == "subscriptions":
            changes[name] = [s for s in value if s.key in grant]
        elif name == "management_groups":
            changes[name] = []
        elif name == "effective_admin_rules":
            changes[name] = [e for e in value if granted(e.virtual_network_id)]
        elif name == "deployment_statuses":
            changes[name] = [d for d in value if d.network_manager_id is not None and granted(d.network_manager_id)]
        else:
            changes[name] = [r for r in value if granted(r.id)]
    return topology.with_(**changes)


def is_flow_log(path: Path) -> bool:
    """A flow log file (NSG v1/v2 or VNet flow log), told from ARM JSON by its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_PEEK)
    except OSError:
        return False
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return bool(_FLOW_LOG_HEAD.match(head)) or (b'"records"' in head and any(m in head for m in _FLOW_LOG_MARKERS))


def split_inputs(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The given files and directories as (configuration files, flow log files); directories are walked."""
    config: list[Path] = []
    logs: list[Path] = []
    problems: list[ArmError] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                if file.suffix.casefold() == ".json":
                    (logs if is_flow_log(file) else config).append(file)
                elif file.suffix.casefold() in (".tf", ".hcl", ".bicepparam"):
                    config.append(file)
        elif path.exists():
            (logs if path.suffix.casefold() == ".json" and is_flow_log(path) else config).append(path)
        else:
            problems.append(ArmError(Code.FILE_NOT_FOUND, f"{path} does not exist.", str(path)))
    if problems:
        raise OpenNsgError(problems)
    return config, logs


def load_configuration(files: Sequence[Path], service_tags: ServiceTags | None) -> Topology:
    """ARM (and whatever else ``opennsg verify`` reads) files into one validated topology."""
    from opennsg.arm import load_paths

    return load_paths(list(files), service_tags=service_tags)


class FileSource:
    """``opennsg ui PATH...``: the files, read-only, reloaded when one of them changes on disk."""

    def __init__(self, paths: Sequence[Path], service_tags: ServiceTags | None = None) -> None:
        self.paths = tuple(paths)
        self.service_tags = service_tags
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[str, float, int], ...] = ()
        self._view: View | None = None
        self._view = self._load()

    def _files(self) -> tuple[list[Path], list[Path]]:
        return split_inputs(self.paths)

    def _stamps(self, files: Iterable[Path]) -> tuple[tuple[str, float, int], ...]:
        out = []
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            out.append((str(file), stat.st_mtime, stat.st_size))
        return tuple(out)

    def _load(self) -> View:
        config, logs = self._files()
        topology = load_configuration(config, self.service_tags) if config else Topology.of()
        self._stamp = self._stamps([*config, *logs])
        count = len(config)
        origin = f"{count} configuration file{'s' if count != 1 else ''}" + (
            f", {len(logs)} flow log file{'s' if len(logs) != 1 else ''}" if logs else ""
        )
        return View(topology, Engine(topology), tuple(logs), origin)

    def view(self, grant: frozenset[str] | None) -> View:
        with self._lock:
            current = self._view
            assert current is not None
            config, logs = self._files()
            stamps = self._stamps([*config, *logs])
            if stamps != self._stamp:
                try:
                    current = self._view = self._load()
                except OpenNsgError as exc:
                    # A half-saved file: keep showing the last valid configuration, and say so, until it is valid.
                    self._stamp = stamps
                    problem = exc.errors[0].message if exc.errors else "invalid input"
                    origin = current.origin.split(" — ")[0]
                    stale = f"{origin} — a change on disk is invalid ({problem}); showing the last valid state"
                    current = self._view = dataclasses.replace(current, origin=stale)
            return current


class SnapshotLike(Protocol):
    @property
    def version(self) -> int: ...
    @property
    def topology(self) -> Topology: ...
    @property
    def engine(self) -> Engine: ...


class StoreSource:
    """``opennsg serve``: the store's current snapshot, narrowed to the subscriptions of the caller's token."""

    def __init__(self, snapshot: Callable[[], SnapshotLike], revisions: Revisions | None = None) -> None:
        self._snapshot = snapshot
        self._revisions = revisions
        self._cache: dict[tuple[int, frozenset[str] | None], View] = {}
        self._lock = threading.Lock()

    def view(self, grant: frozenset[str] | None) -> View:
        snapshot = self._snapshot()
        key = (snapshot.version, grant)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                if len(self._cache) > 64:  # old versions are never asked again
                    self._cache.clear()
                visible = visible_part(snapshot.topology, grant)
                cached = View(
                    visible,
                    snapshot.engine,
                    (),
                    f"service state, version {snapshot.version}",
                    live=True,
                    visible_subscriptions=grant,
                    revisions=self._revisions,
                )
                self._cache[key] = cached
            return cached


def documents_from_uploads(uploads: Sequence[tuple[str, str]], service_tags: ServiceTags | None) -> Topology:
    """A topology from uploaded files (name, text): JSON decoded here; Terraform (``.tf``, ``.tfvars``) written to a
    private folder, one module, and read like files on disk, with problems naming the uploaded files."""
    from opennsg.arm import load_documents

    if not uploads:
        raise OpenNsgError([ArmError(Code.MISSING_CONFIGURATION, "No configuration files were given.")])
    if any(Path(name).suffix.casefold() in _TERRAFORM_SUFFIXES for name, _ in uploads):
        return _terraform_uploads(uploads, service_tags)
    problems: list[ArmError] = []
    docs = []
    for name, text in uploads:
        try:
            docs.append((name, json.loads(text)))
        except json.JSONDecodeError as exc:
            problems.append(
                ArmError(Code.INVALID_JSON, f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}).", name)
            )
    if problems:
        raise OpenNsgError(problems)
    return load_documents(docs, service_tags)


_TERRAFORM_SUFFIXES = (".tf", ".tfvars")


def _terraform_uploads(uploads: Sequence[tuple[str, str]], service_tags: ServiceTags | None) -> Topology:
    """Uploads recreated in a private folder: a name with folders (a browser's folder upload sends
    ``module/sub/main.tf``) keeps them, so a root module finds its local child modules; each top folder is one
    root module, as a directory given to the CLI."""
    import tempfile

    from opennsg.arm import load_paths

    with tempfile.TemporaryDirectory(prefix="opennsg-upload-") as folder:
        paths: list[Path] = []
        for index, (name, text) in enumerate(uploads):
            parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
            if not parts or ".." in parts:
                raise OpenNsgError([ArmError(Code.INVALID_FILE_NAME, f"'{name}' is not a file name OpenNSG can read.")])
            path = Path(folder, *parts)
            if path.exists():  # two loose files with one name: keep both
                path = path.with_name(f"{index}-{path.name}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            top = Path(folder, parts[0])
            if top not in paths and (len(parts) > 1 or top == path):
                paths.append(top)
            elif len(parts) == 1:
                paths.append(path)
        try:
            return load_paths(paths, service_tags)
        except OpenNsgError as exc:
            raise OpenNsgError([_as_uploaded(e, folder.rstrip("/") + "/") for e in exc.errors]) from None


def _as_uploaded(error: ArmError, folder: str) -> ArmError:
    """A problem naming the uploaded file (``main.tf:12``), not the private folder it was read from."""
    target = error.target.replace(folder, "") if error.target is not None else None
    return dataclasses.replace(error, message=error.message.replace(folder, ""), target=target)


def same_id(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and id_key(a) == id_key(b)
