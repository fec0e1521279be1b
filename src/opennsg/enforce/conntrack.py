"""The kernel's connection table in a namespace: list, count, delete (``conntrack`` from conntrack-tools)."""

from __future__ import annotations

from dataclasses import dataclass

from opennsg.enforce.kernel import run
from opennsg.model.enums import IANA_ICMP, IANA_ICMPV6, PORTED_PROTOCOLS


@dataclass(frozen=True, slots=True)
class KernelFlow:
    """A conntrack entry's original direction (the flow's first packet) and its mark (the deciding rule)."""

    protocol: int
    source: str
    destination: str
    source_port: int | None
    destination_port: int | None
    mark: int
    family: int
    #: The kernel's id of the entry and its counters (original direction, then reply), when accounting is on.
    id: int | None = None
    counters: tuple[int, int, int, int] | None = None


def parse_conntrack_line(line: str, family: int) -> KernelFlow | None:
    """One line of ``conntrack -L``: ``tcp 6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… … mark=0``."""
    tokens = line.split()
    if len(tokens) < 3 or not tokens[1].isdigit():
        return None
    fields: dict[str, str] = {}
    seen: dict[str, list[str]] = {}
    for token in tokens[2:]:
        key, sep, value = token.partition("=")
        if sep:
            fields.setdefault(key, value)
            seen.setdefault(key, []).append(value)
    if "src" not in fields or "dst" not in fields:
        return None
    protocol = int(tokens[1])
    ported = protocol in PORTED_PROTOCOLS
    packets, octets = seen.get("packets", []), seen.get("bytes", [])
    counters = None
    if len(packets) == 2 and len(octets) == 2:
        counters = (int(packets[0]), int(octets[0]), int(packets[1]), int(octets[1]))
    return KernelFlow(
        protocol,
        fields["src"],
        fields["dst"],
        int(fields["sport"]) if ported and "sport" in fields else None,
        int(fields["dport"]) if ported and "dport" in fields else None,
        int(fields.get("mark", "0")),
        family,
        int(fields["id"]) if fields.get("id", "").isdigit() else None,
        counters,
    )


def list_flows(netns: str | None) -> list[KernelFlow]:
    flows: list[KernelFlow] = []
    for family in (4, 6):
        result = run(netns, ["conntrack", "-L", "-f", f"ipv{family}", "-o", "id"], check=False)
        for line in result.stdout.splitlines():
            parsed = parse_conntrack_line(line, family)
            if parsed is not None:
                flows.append(parsed)
    return flows


def delete_flow(netns: str | None, flow: KernelFlow) -> None:
    """Remove one entry (by its original tuple): its next packet, from either side, is a new flow."""
    argv = ["conntrack", "-D", "-f", f"ipv{flow.family}", "-p", str(flow.protocol), "-s", flow.source]
    argv += ["-d", flow.destination]
    if flow.source_port is not None and flow.destination_port is not None:
        argv += ["--sport", str(flow.source_port), "--dport", str(flow.destination_port)]
    elif flow.protocol in (IANA_ICMP, IANA_ICMPV6):
        argv[argv.index("-p") + 1] = "icmp" if flow.protocol == IANA_ICMP else "icmpv6"
    run(netns, argv, check=False)  # exits 1 when the entry ended meanwhile


def connection_count(netns: str | None) -> int:
    result = run(netns, ["conntrack", "-C"], check=False)
    text = result.stdout.strip()
    return int(text) if text.isdigit() else 0
