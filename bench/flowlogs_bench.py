"""Flow log parse and replay rates (flow tuples per second), the local replay and optionally Spark local mode.

    python bench/flowlogs_bench.py [--tuples 1000000] [--nics 8] [--rules 100] [--repeat 3] [--format nsg2|vnet]
                                   [--spark] [--check] [--json]

Synthetic NSG v2 logs are written first (not timed): ``--nics`` NICs, each with an NSG of ``--rules`` user rules;
flows from random Internet clients with random ephemeral ports, each flow logged as B, C and E (so about a
third as many distinct flows as tuples), a quarter of them denied. Then three timings:

- parse: the streaming reader, files → fold keys (``FlowLogReader.flow_keys``, what replay reads), and files → Arrow
  batches (``FlowLogReader.batches``, what ``stats`` and a filtered replay read);
- replay: parse + fold into distinct flows + NIC attribution + compiled classification, against a proposed config
  where every NSG lost one rule (so some verdicts change);
- spark (with ``--spark``): the same replay with ``--engine spark`` (pyspark local mode).

Then ``opennsg flowlogs replay`` as a whole process (wall, CPU time and peak RSS from ``wait4``), next to two
baselines measured in the same run: ``json.loads`` of the same files (CPU-s; the floor of any reader decoding the
JSON in Python) and the same command on a one-tuple log (its fixed start-up: imports, Arrow's first compute call,
the config). Issue #15's goals are printed with it: >= 2 M tuples/s and <= 250 MB peak RSS; the peak RSS is the
memory regression guard, and ``--check`` exits 1 when a goal is missed. ``--nics 1`` writes one blob (one NIC's
hour, the way Azure writes them).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opennsg.flowlogs.keys import retain_freed_memory
from opennsg.flowlogs.reader import FlowLogReader
from opennsg.flowlogs.replay import replay

SUB, RG = "00000000-0000-0000-0000-0000000be4c4", "bench"
BASE_TIME = 1_735_722_000  # 2025-01-01T09:00:00Z
TUPLES_PER_RECORD = 2_000
#: Issue #15's goals for a replay of 1 M tuples as a whole process (the peak RSS is also the regression guard).
GOAL_TUPLES_S = 2_000_000
GOAL_RSS_MB = 250


def nid(*parts: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/" + "/".join(parts)


def config(nics: int, rules: int, drop_one: bool) -> list[dict[str, Any]]:
    """ARM JSON: one VNet, a subnet and an NSG per NIC; rule i allows TCP port 1000+i from a /16 of clients."""
    resources: list[dict[str, Any]] = []
    subnets = []
    for n in range(nics):
        nsg_rules = [
            {
                "name": f"allow-{i}",
                "properties": {
                    "priority": 100 + i,
                    "direction": "Inbound",
                    "access": "Allow",
                    "protocol": "Tcp",
                    "sourceAddressPrefix": f"{20 + i % 100}.{i // 100}.0.0/16",
                    "sourcePortRange": "*",
                    "destinationAddressPrefix": "*",
                    "destinationPortRange": str(1000 + i),
                },
            }
            for i in range(rules)
            if not (drop_one and i == 0)
        ]
        nsg_id = nid("networkSecurityGroups", f"nsg{n}")
        resources.append(
            {
                "id": nsg_id,
                "name": f"nsg{n}",
                "location": "westeurope",
                "type": "Microsoft.Network/networkSecurityGroups",
                "properties": {"securityRules": nsg_rules},
            }
        )
        subnet_id = nid("virtualNetworks", "vnet", "subnets", f"s{n}")
        subnets.append(
            {
                "id": subnet_id,
                "name": f"s{n}",
                "properties": {"addressPrefix": f"10.0.{n}.0/24", "networkSecurityGroup": {"id": nsg_id}},
            }
        )
        ipconfig = {
            "name": "ipconfig1",
            "id": nid("networkInterfaces", f"nic{n}", "ipConfigurations", "c"),
            "properties": {"privateIPAddress": f"10.0.{n}.4", "primary": True, "subnet": {"id": subnet_id}},
        }
        resources.append(
            {
                "id": nid("networkInterfaces", f"nic{n}"),
                "name": f"nic{n}",
                "location": "westeurope",
                "type": "Microsoft.Network/networkInterfaces",
                "properties": {
                    "macAddress": f"00-0D-3A-00-{n // 256:02X}-{n % 256:02X}",
                    "ipConfigurations": [ipconfig],
                },
            }
        )
    space = {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": subnets}
    resources.append(
        {
            "id": nid("virtualNetworks", "vnet"),
            "name": "vnet",
            "location": "westeurope",
            "type": "Microsoft.Network/virtualNetworks",
            "properties": space,
        }
    )
    return resources


def write_logs(out: Path, tuples: int, nics: int, rules: int, seed: int = 7, fmt: str = "nsg2") -> int:
    """NSG v2 or VNet flow log files, one per NIC (its NSG, its MAC); returns the number of tuples written."""
    rng = random.Random(seed)
    per_nic = tuples // nics // 3
    written = 0
    for n in range(nics):
        mac = f"000D3A00{n // 256:02X}{n % 256:02X}"
        allowed: list[str] = []
        denied: list[str] = []
        for f in range(per_nic):
            i = rng.randrange(rules)
            t = BASE_TIME + f * 3600 // per_nic
            port = 1000 + i
            src = f"{20 + i % 100}.{i // 100}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            sport = rng.randrange(1024, 65536)
            if fmt == "vnet":  # epoch milliseconds, IANA protocol number, state (D for denied), encryption
                head = f"{src},10.0.{n}.4,{sport},{port},6,I"
                ms = t * 1000
                if f % 4 == 3:
                    who = f"{rng.randrange(1, 20)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                    denied.extend(f"{ms + k},{who},10.0.{n}.4,{sport},{port},6,I,D,NX,1,60,0,0" for k in range(3))
                else:
                    allowed.extend([f"{ms},{head},B,NX,0,0,0,0", f"{ms + 30_000},{head},C,NX,10,1500,8,9000",
                                    f"{ms + 60_000},{head},E,NX,2,120,2,400"])  # fmt: skip
                continue
            head = f"{src},10.0.{n}.4,{sport},{port},T,I"
            if f % 4 == 3:
                stranger = f"{rng.randrange(1, 20)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                denied.extend(f"{t + k},{stranger},10.0.{n}.4,{sport},{port},T,I,D,B,,,," for k in range(3))
            else:
                allowed.extend([f"{t},{head},A,B,,,,", f"{t + 30},{head},A,C,10,1500,8,9000",
                                f"{t + 60},{head},A,E,2,120,2,400"])  # fmt: skip
        records = []
        for rule, items in (("UserRule_allow-x", allowed), ("DefaultRule_DenyAllInBound", denied)):
            for start in range(0, len(items), TUPLES_PER_RECORD):
                chunk = items[start : start + TUPLES_PER_RECORD]
                written += len(chunk)
                if fmt == "vnet":
                    records.append({"time": "2025-01-01T09:01:00.0000000Z", "flowLogVersion": 4,
                                    "flowLogGUID": f"00000000-0000-0000-0000-{n:012d}", "macAddress": mac,
                                    "category": "FlowLogFlowEvent",
                                    "flowLogResourceID": nid("networkWatchers", "nw", "flowLogs", "vnetlog").upper(),
                                    "targetResourceID": nid("virtualNetworks", "vnet"),
                                    "operationName": "FlowLogFlowEvent",
                                    "flowRecords": {"flows": [{"aclID": f"00000000-0000-0000-0000-{n:012d}",
                                                    "flowGroups": [{"rule": rule, "flowTuples": chunk}]}]},
                                    })  # fmt: skip
                    continue
                records.append({"time": "2025-01-01T09:01:00.0000000Z", "systemId": f"guid-{n}",
                                "category": "NetworkSecurityGroupFlowEvent",
                                "resourceId": nid("networkSecurityGroups", f"nsg{n}").upper(),
                                "operationName": "NetworkSecurityGroupFlowEvents",
                                "properties": {"Version": 2, "flows": [{"rule": rule, "flows": [
                                    {"mac": mac, "flowTuples": chunk}]}]}})  # fmt: skip
        target = out / f"nic{n}" / "PT1H.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"records": records}, separators=(",", ":")))
    return written


def timed(label: str, action: Any, repeat: int) -> tuple[Any, float, float]:
    """Run ``action`` ``repeat`` times; the median wall time and the median CPU time of this process (all its
    threads: on a shared machine the CPU time is the figure that load does not inflate)."""
    times = []
    cpu_times = []
    result = None
    for _ in range(repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        result = action()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    elapsed, cpu = statistics.median(times), statistics.median(cpu_times)
    shown = ", ".join(f"{t:.2f}" for t in times)
    print(f"  {label}: median {elapsed:.2f} s of {shown}; CPU {cpu:.2f} s", file=sys.stderr)
    return result, elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tuples", type=int, default=1_000_000)
    parser.add_argument("--nics", type=int, default=8)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the median is reported")
    parser.add_argument("--format", choices=("nsg2", "vnet"), default="nsg2", help="flow log format written")
    parser.add_argument("--spark", action="store_true", help="also time the Spark local-mode replay (run once)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal (rate, peak RSS) is missed")
    args = parser.parse_args()

    from opennsg.arm import load_paths

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        proposed = root / "proposed.json"
        proposed.write_text(json.dumps(config(args.nics, args.rules, drop_one=True)))
        topology = load_paths([proposed])
        logs = root / "logs"
        count = write_logs(logs, args.tuples, args.nics, args.rules, fmt=args.format)
        size = sum(p.stat().st_size for p in logs.rglob("*.json"))
        print(f"{count} tuples in {args.nics} files, {size / 1e6:.0f} MB", file=sys.stderr)

        retain_freed_memory()  # as the CLI's replay does

        def parse() -> int:
            reader = FlowLogReader([logs])
            return sum(part.num_rows for part in reader.flow_keys())

        def parse_batches() -> int:
            reader = FlowLogReader([logs])
            return sum(batch.num_rows for batch in reader.batches())

        parsed, parse_s, parse_cpu = timed("parse (keys)", parse, args.repeat)
        _, batches_s, batches_cpu = timed("parse (Arrow batches)", parse_batches, args.repeat)

        def run(engine: str) -> Any:
            reader = FlowLogReader([logs])
            return replay(topology, reader.flow_keys(), reader.stats, engine=engine)  # type: ignore[arg-type]

        result, replay_s, replay_cpu = timed("parse + replay (local)", lambda: run("local"), args.repeat)
        figures: dict[str, Any] = {
            "tuples": count,
            "bytes": size,
            "distinctFlows": result.flows,
            "changedFlows": len(result.changed),
            "parseSeconds": round(parse_s, 3),
            "parseTuplesPerSecond": round(parsed / parse_s),
            "parseCpuSeconds": round(parse_cpu, 3),
            "parseBatchesSeconds": round(batches_s, 3),
            "parseBatchesCpuSeconds": round(batches_cpu, 3),
            "parseBatchesTuplesPerSecond": round(parsed / batches_s),
            "replaySeconds": round(replay_s, 3),
            "replayTuplesPerSecond": round(count / replay_s),
            "replayCpuSeconds": round(replay_cpu, 3),
        }
        if args.spark:
            spark_result, spark_s, _ = timed("parse + replay (spark local)", lambda: run("spark"), 1)
            assert spark_result.changed == result.changed, "spark and local disagree"
            figures.update({"sparkSeconds": round(spark_s, 3), "sparkTuplesPerSecond": round(count / spark_s)})
        figures.update(whole_process(root, logs, proposed, count, args.format))
    missed = [name for name, ok in figures.items() if name.startswith("goal ") and not ok]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            shown = ("ok" if value else "MISSED") if isinstance(value, bool) else f"{value:,}"
            print(f"{key:>40}: {shown}")
    if args.check and missed:
        sys.exit(1)


def whole_process(root: Path, logs: Path, proposed: Path, count: int, fmt: str) -> dict[str, Any]:
    """``opennsg flowlogs replay`` as its own process, with its baselines (json.loads; a one-tuple log)."""
    from e2e import measured

    files = sorted(logs.rglob("*.json"))
    started = time.process_time()
    for file in files:
        json.loads(file.read_bytes())
    floor_s = time.process_time() - started
    one = root / "one"
    write_logs(one, 3, 1, 1, fmt=fmt)  # a single flow's B, C and E tuples
    command = [sys.executable, "-m", "opennsg", "flowlogs", "replay", "--config", str(proposed), "--json"]
    start_up = min((measured([*command, str(one)]) for _ in range(2)), key=lambda r: r.cpu)
    process = measured([*command, str(logs)])
    assert json.loads(process.stdout)["totals"]["tuples"] == count
    beyond_start_up = max(process.wall - start_up.wall, 1e-9)
    return {
        "processWallSeconds": round(process.wall, 3),
        "processCpuSeconds": round(process.cpu, 3),
        "processTuplesPerSecond": round(count / process.wall),
        "processTuplesPerCpuSecond": round(count / process.cpu),
        "processPeakRssMB": round(process.rss_mb),
        "startUpWallSeconds (one-tuple log)": round(start_up.wall, 3),
        "startUpCpuSeconds (one-tuple log)": round(start_up.cpu, 3),
        "tuplesPerSecondBeyondStartUp": round(count / beyond_start_up),
        "jsonLoadsCpuSeconds (baseline)": round(floor_s, 3),
        "cpuRatioToJsonLoads": round(process.cpu / floor_s, 1),
        f"goal >= {GOAL_TUPLES_S:,} tuples/s": count / process.wall >= GOAL_TUPLES_S,
        f"goal peak RSS <= {GOAL_RSS_MB} MB (guard)": process.rss_mb <= GOAL_RSS_MB,
    }


if __name__ == "__main__":
    main()
