"""Loaded inputs kept on disk: a later command over the same files skips reading, validating and resolving them.

What is kept is the validated topology, the notes its loading said, and the NIC policies the command resolved (the
engine's ``resolved_policies``), pickled together, under a key that hashes everything they were made from: a
format number, Python's version, a fingerprint of the opennsg package (each source and data file's path, size and
modification time, as Python's own bytecode cache checks its sources), the command's input options, and the path
and bytes of every file read: the inputs, the service tags file in effect, parameter and variable files. Equal keys
load equal topologies, so a hit is as good as a load; anything else is a miss.

Only inputs that read no other file are kept: regular ``.json`` files (ARM JSON, lists, Terraform plans and state),
not directories, Terraform modules or ARM templates with a ``templateLink`` (those read files beside them). Reading
a pickle runs what it names, so the directory (``cache_dir()/inputs``) and each file must be this user's and
writable by no one else, or they are not read; the file mechanics (checksums, atomic writes, the size bound) are
``opennsg.model.cachefiles``'. ``OPENNSG_NO_CACHE=1`` or ``--no-cache`` turns it off.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import pickle
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opennsg.model.cachefiles import CacheFiles, cache_disabled, private_to_user
from opennsg.model.files import cache_dir

if TYPE_CHECKING:
    from opennsg.cli.common import InputOptions
    from opennsg.engine import Engine
    from opennsg.engine.ir import NicPolicy
    from opennsg.model.topology import Topology

#: Bumped when what is pickled changes shape (the package fingerprint changes with any code edit anyway).
FORMAT = 1
MAGIC = b"ONSGINP1"
SUFFIX = ".inputs"
MAX_BYTES = 256 * 1024 * 1024
_PACKAGE = Path(__file__).resolve().parent.parent

_fingerprint_lock = threading.Lock()
_fingerprint: bytes | None = None


def package_fingerprint() -> bytes:
    """A digest of every file of the opennsg package by path, size and modification time (ns), of ``FORMAT``
    and of Python's version."""
    global _fingerprint
    with _fingerprint_lock:
        if _fingerprint is None:
            digest = hashlib.blake2b(f"{FORMAT}:{sys.version}:{pickle.HIGHEST_PROTOCOL}".encode(), digest_size=32)
            for entry in sorted(_package_files(_PACKAGE), key=lambda e: e.path):
                status = entry.stat()
                digest.update(f"{entry.path}\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
            _fingerprint = digest.digest()
        return _fingerprint


def _package_files(directory: Path) -> list[os.DirEntry[str]]:
    found: list[os.DirEntry[str]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    found.extend(_package_files(Path(entry.path)))
            elif entry.is_file():
                found.append(entry)
    return found


def _file_bytes(path: Path) -> bytes | None:
    """A regular file's bytes (None for anything else, or when it cannot be read: the loader reports that)."""
    try:
        if not path.is_file():
            return None
        return path.read_bytes()
    except OSError:
        return None


def input_key(paths: Sequence[Path], options: InputOptions, service_tags: Path | None) -> str | None:
    """The key of loading ``paths`` with ``options`` (``service_tags``: the tags file in effect), or None when the
    load may read files the key cannot name (see the module)."""
    digest = hashlib.blake2b(package_fingerprint(), digest_size=20)
    digest.update(repr(options).encode())
    digest.update(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("TF_VAR_"))).encode())
    groups = (paths, () if service_tags is None else (service_tags,), options.var_files, options.parameters_files)
    for inputs, group in enumerate(groups):
        digest.update(f"\0{len(group)}".encode())
        for path in group:
            data = _file_bytes(path)
            if data is None:
                return None
            if inputs == 0 and (path.suffix.lower() != ".json" or b"templatelink" in data.lower()):
                return None
            resolved = str(path.resolve()).encode()
            digest.update(len(resolved).to_bytes(8, "little") + resolved + len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    """Unpickles a read-only mapping of the model (``types.MappingProxyType`` cannot be pickled by itself)."""
    return MappingProxyType(mapping)


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {MappingProxyType: lambda m: (_proxy, (dict(m),))}
    pickler.dump(value)
    return buffer.getvalue()


@dataclass(slots=True)
class Prepared:
    """A command's loaded inputs (``load``), and how to keep them for the next one (``keep``)."""

    topology: Topology
    notes: tuple[str, ...]
    policies: dict[str, NicPolicy] = field(default_factory=dict)
    key: str | None = None
    files: CacheFiles | None = None
    stored: bool = False

    def engine(self, *, disk_cache: bool | None = None) -> Engine:
        """An engine over the topology, holding the NIC policies a cache hit brought back."""
        from opennsg.engine import Engine

        return Engine(self.topology, disk_cache=disk_cache, policies=self.policies)

    def keep(self, engine: Engine) -> None:
        """Store the topology with every NIC policy ``engine`` resolved, unless the file already holds them."""
        if self.key is None or self.files is None:
            return
        policies = engine.resolved_policies()
        if self.stored and policies.keys() <= self.policies.keys():
            return
        self.policies = {**self.policies, **policies}
        try:
            payload = _dumps((self.topology, self.notes, self.policies))
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return  # something in the model that pickle cannot carry: just not cached
        self.files.write(self.key, payload)
        self.stored = True


def load(paths: Sequence[Path], options: InputOptions, *, cache: bool = True) -> Prepared:
    """The inputs as one validated topology (raises ``OpenNsgError`` with every problem, as ``options.load``),
    from the cache when it holds them; notes are printed on stderr either way."""
    from opennsg.cli.common import print_notes, service_tags_path

    files = CacheFiles(cache_dir() / "inputs", SUFFIX, MAGIC, MAX_BYTES)
    key = None
    if cache and not cache_disabled():
        key = input_key(paths, options, service_tags_path(options.service_tags))
    if key is not None:
        found = _read(files, key)
        if found is not None:
            topology, notes, policies = found
            print_notes(notes)
            return Prepared(topology, notes, policies, key, files, stored=True)
    said: list[str] = []
    topology = options.load(paths, notes=said)
    print_notes(said)
    return Prepared(topology, tuple(said), {}, key, files if key is not None else None)


def _read(files: CacheFiles, key: str) -> tuple[Topology, tuple[str, ...], dict[str, NicPolicy]] | None:
    if not private_to_user(files.directory) or not private_to_user(files.path(key)):
        return None
    payload = files.read(key)
    if payload is None:
        return None
    from opennsg.engine.ir import NicPolicy
    from opennsg.model.topology import Topology

    try:
        with collector_paused():
            found = pickle.loads(payload)
    except Exception:  # a file of the right checksum that does not unpickle here: a miss
        files.discard(key)
        return None
    if (
        isinstance(found, tuple)
        and len(found) == 3
        and isinstance(found[0], Topology)
        and isinstance(found[1], tuple)
        and isinstance(found[2], dict)
        and all(isinstance(p, NicPolicy) for p in found[2].values())
    ):
        return found
    files.discard(key)
    return None


@contextmanager
def collector_paused(*, resume: bool = True) -> Iterator[None]:
    """Python's cyclic garbage collector off, then as it was: for work that makes many lasting objects and no
    garbage cycles. Unpickling 1,000 rules per NSG makes ~10^5 tracked objects, whose 80-90 collections (a full
    one among them) cost ~35 ms of a ~50 ms read; ``verify --flows`` imports numpy, pyarrow and the batch code
    (~75 collections, 25-35 ms) and then works on arrays, which hold no cycles. ``resume=False`` leaves it off, for
    a process that ends when the work does: turned on again, its first collection scans every object the work
    made (~14 ms for a warm one-flow ``verify --flows``) to free nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and resume:
            gc.enable()
