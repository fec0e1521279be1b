"""A directory of checksummed cache files, the one place of the file mechanics every opennsg cache shares.

Files are written whole under a temporary name and renamed into place (readers see the old file or the new one;
concurrent writers of one name write the same bytes), and carry a magic number and a checksum: a truncated,
corrupted or foreign file reads as a miss and is removed. The directory is kept under ``max_bytes``, least recently
used first (a hit refreshes the modification time). Any failure to read or write is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Temporary files older than this were left by a process that died while writing.
STALE_TEMPORARY_SECONDS = 3600.0
CHECKSUM_BYTES = 32
_TEMPORARY_PREFIX = ".tmp-"


def cache_disabled() -> bool:
    """``OPENNSG_NO_CACHE`` set to anything but empty or 0."""
    return os.environ.get("OPENNSG_NO_CACHE", "") not in ("", "0")


def private_to_user(path: Path) -> bool:
    """``path`` is owned by this user and writable by no one else: what a cache holding pickles must be, since
    reading a pickle runs what it names (as ``ssh`` refuses a key file others can write)."""
    try:
        status = path.stat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


@dataclass(frozen=True, slots=True)
class CacheFiles:
    """Files ``<name><suffix>`` in ``directory``, each ``magic + payload + blake2b(payload)``."""

    directory: Path
    suffix: str
    magic: bytes
    max_bytes: int

    def path(self, name: str) -> Path:
        return self.directory / f"{name}{self.suffix}"

    def read(self, name: str) -> bytes | None:
        """The payload stored under ``name``, or None (absent, unreadable, damaged: then removed)."""
        path = self.path(name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        payload = data[len(self.magic) : -CHECKSUM_BYTES]
        checksum = hashlib.blake2b(payload, digest_size=CHECKSUM_BYTES).digest()
        if (
            not data.startswith(self.magic)
            or len(data) < len(self.magic) + CHECKSUM_BYTES
            or data[-CHECKSUM_BYTES:] != checksum
        ):
            self.discard(name)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return payload

    def write(self, name: str, payload: bytes) -> None:
        """Store ``payload`` under ``name`` atomically; errors such as a read-only directory are ignored."""
        data = self.magic + payload + hashlib.blake2b(payload, digest_size=CHECKSUM_BYTES).digest()
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=_TEMPORARY_PREFIX, suffix=self.suffix)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, self.path(name))
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            self.prune()
        except OSError:
            return

    def discard(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self.path(name).unlink(missing_ok=True)

    def prune(self) -> None:
        """Remove the least recently used files beyond ``max_bytes``, and temporaries left by dead writers."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for path in self.directory.iterdir():
            try:
                status = path.stat()
            except OSError:
                continue
            if path.name.startswith(_TEMPORARY_PREFIX):
                if now - status.st_mtime > STALE_TEMPORARY_SECONDS:
                    path.unlink(missing_ok=True)
            elif path.name.endswith(self.suffix):
                entries.append((status.st_mtime, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
