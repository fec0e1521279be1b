"""Real packets between namespaces, many at once: TCP connects, UDP datagrams, ICMP echoes; which arrived.

Listeners are opened in the destination namespaces first; every probe is then started without waiting and all
are watched together until each has an answer or the deadline passes (a denied packet is dropped silently, so
"no answer by the deadline" is how a drop looks). The deadline stays under TCP's first SYN retransmission
(1 s), so each probe puts exactly one packet of its flow through the rules.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Literal

from opennsg.enforce.kernel import socket_in

ProbeProtocol = Literal["tcp", "udp", "icmp"]
DEFAULT_DEADLINE = 0.8


@dataclass(frozen=True, slots=True)
class Probe:
    protocol: ProbeProtocol
    source_netns: str
    destination_netns: str
    #: The address the sender addresses (a private, public or Internet address).
    destination: str
    port: int | None = None
    source_port: int | None = None
    #: The address the receiver listens on, when NAT makes it differ from ``destination``.
    listen_address: str | None = None


def _family(address: str) -> int:
    return socket.AF_INET if ip_address(address).version == 4 else socket.AF_INET6


def _listener(netns: str, protocol: ProbeProtocol, family: int, port: int) -> socket.socket:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket_in(netns, family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    if protocol == "tcp":
        sock.listen(4096)
    sock.setblocking(False)
    return sock


def run_probes(probes: Sequence[Probe], deadline: float = DEFAULT_DEADLINE) -> list[bool]:
    """Send every probe at once; True where it was delivered (TCP: connected; UDP: received; ICMP: answered)."""
    selector = selectors.DefaultSelector()
    listeners: dict[tuple[str, str, int, int], socket.socket] = {}
    senders: list[socket.socket] = []
    delivered = [False] * len(probes)
    tokens: dict[bytes, int] = {}
    pending: dict[int, tuple[socket.socket, float]] = {}
    try:
        for probe in probes:
            if probe.protocol == "icmp" or probe.port is None:
                continue
            family = _family(probe.listen_address or probe.destination)
            key = (probe.destination_netns, probe.protocol, family, probe.port)
            if key not in listeners:
                listener = _listener(probe.destination_netns, probe.protocol, family, probe.port)
                listeners[key] = listener
                selector.register(listener, selectors.EVENT_READ, ("listener", probe.protocol))
        for index, probe in enumerate(probes):
            family = _family(probe.destination)
            if probe.protocol == "tcp":
                sock = socket_in(probe.source_netns, family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if probe.source_port is not None:
                    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", probe.source_port))
                sock.setblocking(False)
                if sock.connect_ex((probe.destination, probe.port or 0)) in (0, errno.EINPROGRESS):
                    selector.register(sock, selectors.EVENT_WRITE, ("tcp", index))
                    pending[index] = (sock, time.monotonic())
            elif probe.protocol == "udp":
                sock = socket_in(probe.source_netns, family, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if probe.source_port is not None:
                    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", probe.source_port))
                token = f"opennsg-probe-{index}-{time.monotonic_ns()}".encode()
                tokens[token] = index
                try:
                    sock.sendto(token, (probe.destination, probe.port or 0))
                except OSError:  # dropped by the sender's own outbound rules (EPERM) or unroutable
                    tokens.pop(token)
            else:
                proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
                sock = socket_in(probe.source_netns, family, socket.SOCK_DGRAM, proto)
                echo = 8 if family == socket.AF_INET else 128
                sock.setblocking(False)
                try:
                    request = struct.pack("!BBHHH", echo, 0, 0, 0, index & 0xFFFF) + b"opennsg"
                    sock.sendto(request, (probe.destination, 0))
                    selector.register(sock, selectors.EVENT_READ, ("icmp", index))
                    pending[index] = (sock, time.monotonic())
                except OSError:
                    pass
            senders.append(sock)
        end = time.monotonic() + deadline
        while (pending or tokens) and (remaining := end - time.monotonic()) > 0:
            for ready, _ in selector.select(min(remaining, 0.05)):
                what, detail = ready.data
                ready_sock = ready.fileobj
                assert isinstance(ready_sock, socket.socket)
                if what == "listener":
                    _drain(ready_sock, detail, tokens, delivered)
                    continue
                selector.unregister(ready_sock)
                pending.pop(detail, None)
                if what == "tcp":
                    delivered[detail] = ready_sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                else:
                    try:
                        ready_sock.recv(512)
                        delivered[detail] = True
                    except OSError:
                        delivered[detail] = False
            now = time.monotonic()
            for index, (sock, started) in list(pending.items()):
                if now - started > deadline:  # no answer: dropped. Closing now stops TCP from retransmitting
                    selector.unregister(sock)
                    sock.close()
                    del pending[index]
        for listener in listeners.values():
            _drain(listener, "udp" if listener.type == socket.SOCK_DGRAM else "tcp", tokens, delivered)
        return delivered
    finally:
        selector.close()
        for sock in (*senders, *listeners.values()):
            sock.close()


def _drain(sock: socket.socket, protocol: str, tokens: dict[bytes, int], delivered: list[bool]) -> None:
    while True:
        try:
            if protocol == "tcp":
                conn, _ = sock.accept()
                conn.close()
            else:
                data = sock.recv(256)
                index = tokens.pop(data, None)
                if index is not None:
                    delivered[index] = True
        except (BlockingIOError, InterruptedError):
            return
