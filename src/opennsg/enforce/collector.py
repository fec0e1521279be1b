"""The lab's kernel-event recorder: conntrack events (begin, end, counters) and logged drops of every NIC.

``python -m opennsg.enforce.collector OUT NIC_ID=NETNS...`` — one process for the whole lab: it enters each NIC's
namespace in turn (``setns``), opens two netfilter netlink sockets there (a conntrack event subscription and an
nflog group binding; sockets stay in the namespace they were made in), returns, and then records every event as
one JSON line in OUT. ``lab flowlogs`` turns the lines into flow logs.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any, TextIO

from opennsg.enforce.compile import LOG_GROUP
from opennsg.enforce.kernel import CLONE_NEWNET, netns_path

NETLINK_NETFILTER = 12
NF_NETLINK_CONNTRACK_NEW = 1
NF_NETLINK_CONNTRACK_DESTROY = 4
NFNL_SUBSYS_CTNETLINK = 1
NFNL_SUBSYS_ULOG = 4
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_DELETE = 2
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1
NFULA_CFG_CMD = 1
NFULA_CFG_MODE = 2
NFULNL_CFG_CMD_BIND = 1
NFULNL_COPY_PACKET = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NLA_TYPE_MASK = 0x3FFF
# conntrack attributes
CTA_TUPLE_ORIG = 1
CTA_TUPLE_IP = 1
CTA_TUPLE_PROTO = 2
CTA_MARK = 8
CTA_COUNTERS_ORIG = 9
CTA_COUNTERS_REPLY = 10
CTA_ID = 12
CTA_TIMESTAMP = 20
CTA_TIMESTAMP_START = 1
CTA_TIMESTAMP_STOP = 2
# nflog attributes
NFULA_MARK = 2
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10
RECEIVE_BUFFER = 8 << 20
SO_RCVBUFFORCE = 33
READY = "ready"

_libc = ctypes.CDLL(None, use_errno=True)


def _attributes(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("HH", data, offset)
        if length < 4:
            return
        yield kind & NLA_TYPE_MASK, data[offset + 4 : offset + length]
        offset += (length + 3) & ~3


def _messages(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 16 <= len(data):
        length, kind, _flags, _seq, _pid = struct.unpack_from("IHHII", data, offset)
        if length < 16:
            return
        yield kind, data[offset + 16 : offset + length]
        offset += (length + 3) & ~3


def _address(kind: int, value: bytes) -> str:
    return str(IPv4Address(value) if len(value) == 4 else IPv6Address(value))


def parse_conntrack_event(kind: int, body: bytes) -> dict[str, Any] | None:
    """A ctnetlink NEW/DESTROY message → the flow's original tuple, mark, counters and times."""
    subsystem, message = kind >> 8, kind & 0xFF
    if subsystem != NFNL_SUBSYS_CTNETLINK or message not in (IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_DELETE):
        return None
    event: dict[str, Any] = {"kind": "begin" if message == IPCTNL_MSG_CT_NEW else "end"}
    for attr, value in _attributes(body[4:]):
        if attr == CTA_TUPLE_ORIG:
            for part, inner in _attributes(value):
                if part == CTA_TUPLE_IP:
                    addresses = dict(_attributes(inner))
                    src = addresses.get(1) or addresses.get(3)
                    dst = addresses.get(2) or addresses.get(4)
                    if src and dst:
                        event["src"], event["dst"] = _address(0, src), _address(0, dst)
                elif part == CTA_TUPLE_PROTO:
                    fields = dict(_attributes(inner))
                    if 1 in fields:
                        event["protocol"] = fields[1][0]
                    if 2 in fields and 3 in fields:
                        event["sport"] = struct.unpack("!H", fields[2][:2])[0]
                        event["dport"] = struct.unpack("!H", fields[3][:2])[0]
        elif attr == CTA_MARK:
            event["mark"] = struct.unpack("!I", value[:4])[0]
        elif attr == CTA_ID:
            event["id"] = struct.unpack("!I", value[:4])[0]
        elif attr in (CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY):
            counters = dict(_attributes(value))
            side = "orig" if attr == CTA_COUNTERS_ORIG else "reply"
            event[f"packets_{side}"] = struct.unpack("!Q", counters.get(1, b"\0" * 8)[:8])[0]
            event[f"bytes_{side}"] = struct.unpack("!Q", counters.get(2, b"\0" * 8)[:8])[0]
        elif attr == CTA_TIMESTAMP:
            stamps = dict(_attributes(value))
            if CTA_TIMESTAMP_START in stamps:
                event["start_ns"] = struct.unpack("!Q", stamps[CTA_TIMESTAMP_START][:8])[0]
    return event if "src" in event else None


def parse_nflog_packet(kind: int, body: bytes) -> dict[str, Any] | None:
    """An nflog packet message → the dropped packet's addresses, protocol, ports and the rule mark (prefix)."""
    if kind >> 8 != NFNL_SUBSYS_ULOG or kind & 0xFF != NFULNL_MSG_PACKET:
        return None
    attrs = dict(_attributes(body[4:]))
    payload = attrs.get(NFULA_PAYLOAD)
    prefix = attrs.get(NFULA_PREFIX, b"").rstrip(b"\0").decode(errors="replace")
    if not payload or not prefix.isdigit():
        return None
    version = payload[0] >> 4
    if version == 4 and len(payload) >= 20:
        header = (payload[0] & 0x0F) * 4
        protocol, src, dst = payload[9], payload[12:16], payload[16:20]
    elif version == 6 and len(payload) >= 40:
        header, protocol, src, dst = 40, payload[6], payload[8:24], payload[24:40]
    else:
        return None
    event: dict[str, Any] = {
        "kind": "drop",
        "src": _address(0, src),
        "dst": _address(0, dst),
        "protocol": protocol,
        "mark": int(prefix),
    }
    if protocol in (6, 17) and len(payload) >= header + 4:
        event["sport"], event["dport"] = struct.unpack_from("!HH", payload, header)
    return event


def _nflog_config(group: int, command: bytes) -> bytes:
    attr = struct.pack("HH", 4 + len(command), NFULA_CFG_CMD) + command
    attr += b"\0" * ((4 - len(attr) % 4) % 4)
    mode = struct.pack("HH", 10, NFULA_CFG_MODE) + struct.pack("!IBB", 256, NFULNL_COPY_PACKET, 0) + b"\0\0"
    body = struct.pack("BBH", socket.AF_UNSPEC, 0, socket.htons(group)) + attr + mode
    header = struct.pack("IHHII", 16 + len(body), (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG, NLM_F_REQUEST, 1, 0)
    return header + body


@dataclass
class _Watch:
    nic: str
    conntrack: socket.socket
    nflog: socket.socket


def _open_in(netns: str) -> tuple[socket.socket, socket.socket]:
    """Both sockets, made inside ``netns`` (this thread enters it and comes back)."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(netns_path(netns), os.O_RDONLY)
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        try:
            conntrack = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            conntrack.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            conntrack.bind((0, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY))
            nflog = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            nflog.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
            nflog.bind((0, 0))
            nflog.send(_nflog_config(LOG_GROUP, struct.pack("B", NFULNL_CFG_CMD_BIND)))
        finally:
            _libc.setns(home, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(home)
    return conntrack, nflog


def _write(out: TextIO, event: dict[str, Any]) -> None:
    out.write(json.dumps(event, separators=(",", ":")) + "\n")


def collect(out_path: Path, namespaces: dict[str, str]) -> None:
    """Record events until SIGTERM (see the module docstring)."""
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    watches = []
    for nic, netns in namespaces.items():
        conntrack, nflog = _open_in(netns)
        watches.append(_Watch(nic, conntrack, nflog))
    by_fd: dict[int, tuple[_Watch, str]] = {}
    for watch in watches:
        by_fd[watch.conntrack.fileno()] = (watch, "conntrack")
        by_fd[watch.nflog.fileno()] = (watch, "nflog")
    with out_path.open("a", encoding="utf-8", buffering=1) as out:
        _write(out, {"kind": READY, "time": time.time()})
        while not stop["now"]:
            try:
                ready, _, _ = select.select(list(by_fd), [], [], 0.5)
            except InterruptedError:
                continue
            for fd in ready:
                watch, what = by_fd[fd]
                sock = watch.conntrack if what == "conntrack" else watch.nflog
                try:
                    data = sock.recv(1 << 16)
                except OSError as exc:  # ENOBUFS under a burst: events were lost, say so
                    _write(out, {"kind": "lost", "nic": watch.nic, "time": time.time(), "error": str(exc)})
                    continue
                now = time.time()
                for kind, body in _messages(data):
                    if kind == NLMSG_ERROR:
                        continue
                    event = parse_conntrack_event(kind, body) if what == "conntrack" else parse_nflog_packet(kind, body)
                    if event is not None:
                        event["nic"] = watch.nic
                        event["time"] = now
                        _write(out, event)


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    namespaces = dict(item.rsplit("=", 1) for item in argv[1:])
    collect(out, namespaces)


if __name__ == "__main__":
    main(sys.argv[1:])
