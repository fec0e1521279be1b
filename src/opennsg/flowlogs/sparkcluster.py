"""A Spark standalone cluster on this machine, from the pyspark distribution: a master and its workers, bound to
loopback on free ports, with their own work and log folders, stopped by their process ids.

For the tests and benchmarks of the Spark paths (a real cluster, not ``local[*]``), and for users who want to try
``--engine spark --master spark://…`` without installing Spark itself. The daemons run with the ``PATH`` given, so
a caller can prove that nothing needs a ``python3`` from it (the workers run the driver's interpreter).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from opennsg.extras import require

#: How long a daemon may take to come up (a loaded machine starts a JVM slowly).
START_TIMEOUT_S = 240.0
#: What the daemons' scripts (bash) and the JVM call; no Python among them.
SHELL_TOOLS = ("java", "bash", "sh", "uname", "dirname", "basename", "ps", "readlink", "sed", "cat", "head", "tail",
               "grep", "nohup", "sleep", "mkdir", "rm", "ls", "tr", "cut", "awk", "find", "id", "hostname")  # fmt: skip
_MASTER_READY = "I have been elected leader"
_WORKER_READY = "Successfully registered with master"


#: prctl(2)'s option that signals a child when its parent dies.
_PR_SET_PDEATHSIG = 1


class ClusterError(RuntimeError):
    """A daemon did not start; the message ends with its log."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tools_without_python(folder: Path) -> Path:
    """A ``bin`` folder of links to the shell tools Spark's scripts need, and no Python: a PATH for proving that
    nothing depends on the shell's ``python3``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SHELL_TOOLS:
        found = shutil.which(name)
        if found is not None and not (folder / name).exists():
            (folder / name).symlink_to(Path(found).resolve())
    return folder


def _dies_with_this_process() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=…)``: the daemon gets SIGTERM when this process dies, even by SIGKILL (when no
    ``stop`` or ``atexit`` can run). Linux only, and only from the main thread: the signal follows the thread that
    started the child."""
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return die_with_parent


@dataclass
class StandaloneCluster:
    """``with StandaloneCluster(base) as cluster:`` starts a master and ``workers`` workers; ``cluster.url`` is the
    master's ``spark://127.0.0.1:PORT``. The daemons stop with the ``with`` block, at this process's exit, or
    (on Linux) when this process is killed."""

    base: Path
    workers: int = 1
    cores: int = 2
    memory: str = "1g"
    path: str | None = None
    url: str = ""
    _started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[Path] = field(default_factory=list)

    def __enter__(self) -> StandaloneCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _environment(self) -> dict[str, str]:
        pyspark = require("pyspark", "spark", "A Spark standalone cluster")
        assert pyspark.__file__ is not None
        (self.base / "conf").mkdir(parents=True, exist_ok=True)
        return {
            "PATH": self.path if self.path is not None else os.environ.get("PATH", ""),
            "HOME": str(self.base),
            "LANG": "C.UTF-8",
            "SPARK_HOME": str(Path(pyspark.__file__).parent),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_CONF_DIR": str(self.base / "conf"),
            "SPARK_LOG_DIR": str(self.base / "logs"),
        }

    def start(self, wait_for_workers: bool = True) -> None:
        """The master, up; the workers launched and (unless told not to) registered with it. Not waiting lets a
        driver start its own JVM while the workers start theirs (see ``wait_for_workers``)."""
        env = self._environment()
        atexit.unregister(self.stop)
        atexit.register(self.stop)
        spark_class = str(Path(env["SPARK_HOME"]) / "bin" / "spark-class")
        port = _free_port()
        self.url = f"spark://127.0.0.1:{port}"
        master = ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                  "--webui-port", str(_free_port())]  # fmt: skip
        self._launch(spark_class, master, env, self.base / "master.log")
        self._wait(0, _MASTER_READY, "master")
        for k in range(self.workers):
            worker = ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", str(_free_port()),
                      "--webui-port", str(_free_port()), "--cores", str(self.cores), "--memory", self.memory,
                      "--work-dir", str(self.base / f"work-{k}"), self.url]  # fmt: skip
            self._launch(spark_class, worker, env, self.base / f"worker-{k}.log")
        if wait_for_workers:
            self.wait_for_workers()

    def wait_for_workers(self) -> None:
        for k in range(self.workers):
            self._wait(k + 1, _WORKER_READY, f"worker {k}")

    def _launch(self, spark_class: str, args: list[str], env: dict[str, str], log: Path) -> None:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [spark_class, *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_dies_with_this_process(),  # only prctl in the child, looked up before the fork
            )
        self._started.append(process)
        self._logs.append(log)

    def _wait(self, index: int, ready: str, what: str) -> None:
        process, log = self._started[index], self._logs[index]
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if ready in log.read_text(errors="replace"):
                return
            if process.poll() is not None:
                break
            time.sleep(0.2)
        raise ClusterError(f"the Spark {what} did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")

    @property
    def process_groups(self) -> tuple[int, ...]:
        """The running daemons' process ids, each also the id of its process group (which holds what it started:
        a worker's executors; their Python workers make a group of their own), for measuring the cluster's CPU."""
        return tuple(process.pid for process in self._started if process.poll() is None)

    def stop(self) -> None:
        """Each daemon with what it started (a worker's executors), by its process group: the daemon's own PID."""
        for process in reversed(self._started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        self._started.clear()
        self._logs.clear()
        atexit.unregister(self.stop)
