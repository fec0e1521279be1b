"""The kernel side: commands run in a network namespace, nftables transactions, counters, sockets in a namespace.

Everything goes through ``nsenter --net`` (no mount namespace, unlike ``ip netns exec``: cheaper, and nft needs
nothing else), or runs in the caller's own namespace when ``netns`` is None (``opennsg enforce`` on a host).
"""

from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opennsg.enforce.compile import FAMILY, TABLE, fail_closed_document, mark_of_counter
from opennsg.model.codes import Code
from opennsg.model.errors import ArmError, OpenNsgError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class KernelError(OpenNsgError):
    """The kernel refused something (an nft transaction, a namespace operation): reported like bad input."""

    def __init__(self, code: str, message: str, target: str | None = None) -> None:
        super().__init__([ArmError(code, message, target)])


def netns_path(netns: str) -> Path:
    return NETNS_DIR / netns


def netns_exists(netns: str) -> bool:
    return netns_path(netns).exists()


def in_netns(netns: str | None, argv: Sequence[str]) -> list[str]:
    return [*(("nsenter", f"--net={netns_path(netns)}") if netns else ()), *argv]


def run(
    netns: str | None, argv: Sequence[str], stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in ``netns``; a failure raises ``KernelError`` carrying the command's stderr."""
    result = execute(in_netns(netns, argv), stdin)
    if check and result.returncode != 0:
        where = f" in namespace {netns}" if netns else ""
        raise KernelError(
            Code.KERNEL_COMMAND_FAILED,
            f"'{' '.join(argv)}'{where} failed: {result.stderr.strip() or result.returncode}",
        )
    return result


def execute(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool; a missing one (nft, conntrack, ip, nsenter) is reported as what it is, not a traceback."""
    try:
        return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise KernelError(
            Code.KERNEL_TOOL_MISSING,
            f"'{argv[0]}' was not found: enforcement needs nftables, conntrack, iproute2 and util-linux (nsenter).",
        ) from None
    except PermissionError:
        raise KernelError(
            Code.KERNEL_PERMISSION_DENIED, f"'{argv[0]}' cannot be run: enforcement needs root."
        ) from None


def nft_apply(netns: str | None, document: dict[str, Any]) -> None:
    """Apply one ``nft -j -f`` transaction: all of it, or (on any error) none of it."""
    result = run(netns, ["nft", "-j", "-f", "-"], stdin=json.dumps(document), check=False)
    if result.returncode != 0:
        where = f"namespace {netns}" if netns else "the host namespace"
        raise KernelError(
            Code.NFTABLES_APPLY_FAILED,
            f"nftables refused the ruleset for {where}; the previous ruleset stays in force: "
            f"{result.stderr.strip()[:2000]}",
            netns,
        )


def table_present(netns: str | None) -> bool:
    return run(netns, ["nft", "list", "table", FAMILY, TABLE], check=False).returncode == 0


def fail_closed(netns: str | None) -> None:
    """Drop everything (loopback aside) in ``netns`` until a ruleset applies."""
    nft_apply(netns, fail_closed_document())


def list_ruleset(netns: str | None) -> dict[str, Any] | None:
    """Table ``inet opennsg`` as nft prints it in JSON, or None when absent."""
    result = run(netns, ["nft", "-j", "list", "table", FAMILY, TABLE], check=False)
    if result.returncode != 0:
        return None
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def rule_counters(netns: str | None) -> dict[int, int]:
    """Packets counted per mark (each rule's counter), from the kernel."""
    result = run(netns, ["nft", "-j", "list", "counters", "table", FAMILY, TABLE], check=False)
    if result.returncode != 0:
        return {}
    out: dict[int, int] = {}
    for item in json.loads(result.stdout).get("nftables", []):
        counter = item.get("counter")
        if counter is None:
            continue
        mark = mark_of_counter(str(counter.get("name", "")))
        if mark is not None:
            out[mark] = int(counter.get("packets", 0))
    return out


_libc = ctypes.CDLL(None, use_errno=True)


def socket_in(netns: str | None, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket living in ``netns``: made by a short-lived thread that entered the namespace (``setns`` is per
    thread), so the calling thread never leaves its own namespace."""
    if netns is None:
        return socket.socket(family, kind, proto)
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"setns({netns}): {os.strerror(errno)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=make, name=f"setns-{netns}")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return made[0]
