"""Cold start of the CLI and the service (issue 15, goal 4), each the best of several fresh processes:

    python bench/cold_start.py [--repeat 5]

- ``opennsg verify <example> --nic VM1 ...`` for one flow (goal <= 0.4 s wall), beside ``python -c pass`` and the
  import of ``opennsg.cli.main`` alone, so the cost outside imports is visible;
- ``opennsg serve`` until ``/healthz`` answers 200, on an empty database (goal <= 2 s) and with a 1,000-rule NSG
  imported (``--import``, goal <= 5 s);
- the modules whose own import time is largest in the verify run (``python -X importtime``).

Wall time is what the goals name; CPU time (user + system of the process) is printed beside it because on a shared,
loaded machine wall time mostly measures the other processes. As in ``bench/e2e.py``, the measured processes keep
their bytecode in the run's directory, compiled by a warm-up run of each command (an installed package has its
bytecode from ``pip install``; with ``PYTHONDONTWRITEBYTECODE`` set every start compiled every module, ~0.4 CPU-s of
``serve``); ``--source-every-time`` measures that way.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e
from e2e import EXAMPLE, SEED, Run, measured, measured_environment, opennsg, serve_until_healthy
from workloads import workload

from opennsg.arm.export import export_topology

GOALS = {"verify_one_s": 0.4, "serve_empty_s": 2.0, "serve_1000_rules_s": 5.0}
VERIFY = ("verify", str(EXAMPLE), "--nic", "VM1", "--direction", "Inbound", "--protocol", "TCP",
          "--local", "10.0.1.4:22", "--remote", "52.10.20.30:50000")  # fmt: skip


def best(args: list[str], repeat: int, cwd: Path) -> Run:
    return min((measured(args, cwd=cwd) for _ in range(repeat)), key=lambda r: r.wall)


def import_costs(tmp: Path, top: int) -> list[tuple[str, float]]:
    """Own import time (seconds) of the modules the verify run imports, summed per top-level package and, inside
    opennsg, per sub-package."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "opennsg", *VERIFY],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=measured_environment(),
    )
    totals: dict[str, float] = defaultdict(float)
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, _cumulative, name = line[len("import time:") :].split("|", 2)
        if not own.strip().isdigit():
            continue
        parts = name.strip().split(".")
        group = ".".join(parts[:2]) if parts[0] == "opennsg" else parts[0]
        totals[group] += int(own) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per figure (the best is kept)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--source-every-time",
        action="store_true",
        help="keep this environment's bytecode settings (PYTHONDONTWRITEBYTECODE: every run compiles its modules)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"load_average": os.getloadavg()[0], "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        e2e.PYCACHE = None if args.source_every_time else tmp / "pycache"
        measured(opennsg(*VERIFY), cwd=tmp)  # warm-up: compiles the bytecode the measured runs read
        serve_until_healthy(tmp, "warm-up")
        python = best([sys.executable, "-c", "pass"], args.repeat, tmp)
        cli = best([sys.executable, "-c", "import opennsg.cli.main"], args.repeat, tmp)
        one = best(opennsg(*VERIFY), args.repeat, tmp)
        results.update(python_s=python.wall, python_cpu_s=python.cpu, import_cli_s=cli.wall, import_cli_cpu_s=cli.cpu)
        results.update(verify_one_s=one.wall, verify_one_cpu_s=one.cpu)
        empty = [serve_until_healthy(tmp, f"empty{k}") for k in range(args.repeat)]
        w = workload(500, SEED)  # 500 rules per direction: 1,000 rules on one NSG, Azure's limit
        assert w.topology.service_tags is not None
        (tmp / "net.json").write_text(json.dumps(export_topology(w.topology)))
        (tmp / "tags.json").write_text(json.dumps(w.topology.service_tags.to_json()))
        imported = ("--import", str(tmp / "net.json"), "--service-tags", str(tmp / "tags.json"))
        full = [serve_until_healthy(tmp, f"rules{k}", *imported) for k in range(args.repeat)]
        results.update(serve_empty_s=min(e[0] for e in empty), serve_empty_cpu_s=min(e[1] for e in empty))
        results.update(serve_1000_rules_s=min(f[0] for f in full), serve_1000_rules_cpu_s=min(f[1] for f in full))
        results["imports"] = import_costs(tmp, 12)
    if args.json:
        print(json.dumps(results))
        return
    print(f"load average {results['load_average']:.2f} on {results['cores']} cores; best of {args.repeat} runs each")
    print(f"{'':34} {'wall s':>7} {'CPU s':>7} {'goal s':>7}")
    rows = [
        ("python -c pass", "python_s", "python_cpu_s"),
        ("import opennsg.cli.main", "import_cli_s", "import_cli_cpu_s"),
        ("opennsg verify, one flow", "verify_one_s", "verify_one_cpu_s"),
        ("serve -> /healthz, empty database", "serve_empty_s", "serve_empty_cpu_s"),
        ("serve -> /healthz, 1,000 rules", "serve_1000_rules_s", "serve_1000_rules_cpu_s"),
    ]
    for label, wall, cpu in rows:
        goal = GOALS.get(wall)
        print(f"{label:34} {results[wall]:7.2f} {results[cpu]:7.2f} {goal if goal else '':>7}")
    for name, goal in GOALS.items():
        print(f"{'MET ' if results[name] <= goal else 'MISSED'} {name} <= {goal} s (wall)")
    print(
        "largest own import times in the verify run (wall s): "
        + ", ".join(f"{n} {s:.3f}" for n, s in results["imports"])
    )


if __name__ == "__main__":
    main()
