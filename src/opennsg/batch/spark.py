"""Batch IP flow verify on Apache Spark: the flow file's batches decided in Spark tasks, the verdicts written here.

The driver reads the file with the same reader as the single-process path (so every row means the same, bad rows
included) and writes the same output; Spark spreads the deciding. Each batch is one task: a worker decides it with
the same ``FlowDecider`` as ``verify_flows_file`` does, against the broadcast topology (``opennsg.flowlogs.spark``),
and sends back per row an index into its verdicts or problems. The driver renumbers those into one table, so the
output is byte for byte the single-process one. Batches go out in waves of a few per core, the next wave read
while Spark decides the current one, so the driver holds a bounded number of batches whatever the file's size.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
from rich.progress import Progress

from opennsg.batch import parse
from opennsg.batch.verify import Decided, FlowDecider, rows_hint
from opennsg.engine import Engine
from opennsg.flowlogs.spark import Stamp, engine_for, file_stamp, spark_session, topology_payload
from opennsg.model.verdict import Verdict

#: Batches sent to Spark at a time, per core of the cluster: enough to keep every core busy while the driver reads
#: the next wave, few enough to bound the driver's memory.
BATCHES_PER_CORE = 2

#: A task's answer for one batch: its place in the file (share, batch within the share), per row an index into
#: the verdicts or the problems, and those.
_TaskResult = tuple[tuple[int, int], npt.NDArray[np.int32], npt.NDArray[np.int32], list[Verdict], list[tuple[str, str]]]


def _decided(engine: Engine, place: tuple[int, int], raw: parse.RawFlows) -> _TaskResult:
    """One batch decided as the single-process path decides it; its verdicts slimmed to what the output shows
    (access, rule, NSG, applied to), which is all that travels back."""
    decider = FlowDecider(engine)
    code, problem = decider.decide(raw)
    verdicts = [Verdict(v.access, v.rule_name, v.nsg_id, v.applied_to) for v in decider.verdicts]
    return place, code, problem, verdicts, decider.problems


def _decide_partition(payload: bytes, items: Iterable[tuple[int, parse.RawFlows]]) -> Iterator[_TaskResult]:
    """Inside a task: batches the driver read and sent."""
    engine = engine_for(payload)
    for index, raw in items:
        yield _decided(engine, (index, 0), raw)


def _decide_row_groups(
    payload: bytes, path: str, stamp: Stamp, items: Iterable[tuple[int, int]]
) -> Iterator[_TaskResult]:
    """Inside a task: Parquet row groups read here, from the path the driver read (checked to be the same file)."""
    if file_stamp(path) != stamp:
        raise RuntimeError(f"{path} on this Spark worker is not the file the driver read (size and mtime differ)")
    engine = engine_for(payload)
    for index, row_group in items:
        for part, raw in enumerate(parse.iter_parquet(Path(path), row_groups=[row_group])):
            yield _decided(engine, (index, part), raw)


def _row_groups_readable(context: Any, path: Path) -> tuple[int, Stamp] | None:
    """(row groups, stamp) when every core's task sees this very Parquet file at its path (a cluster on this
    machine, or shared storage): its tasks then read their row groups themselves and nothing but answers travels."""
    if parse.file_format(path) != "parquet":
        return None
    metadata = pq.ParquetFile(path).metadata
    stamp = file_stamp(str(path.resolve()))
    if metadata.num_rows == 0 or metadata.num_row_groups < 2 or stamp is None:
        return None
    where = str(path.resolve())
    cores = int(context.defaultParallelism)
    seen = set(context.parallelize(range(cores), cores).map(lambda _: file_stamp(where)).collect())
    return (int(metadata.num_row_groups), stamp) if seen == {stamp} else None


@dataclass(slots=True)
class _Merged:
    """The tasks' answers renumbered into one verdict table and one problem table, in batch order."""

    code: list[npt.NDArray[np.int32]] = field(default_factory=list)
    problem: list[npt.NDArray[np.int32]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    _problem_index: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, result: _TaskResult) -> None:
        _, code, problem, verdicts, problems = result
        offset = len(self.verdicts)
        self.verdicts.extend(verdicts)
        self.code.append(np.where(code >= 0, code + offset, -1).astype(np.int32))
        renumber = np.asarray([self._problem(p) for p in problems] + [-1], dtype=np.int32)
        self.problem.append(renumber[problem])  # -1 (no problem) picks the trailing -1

    def _problem(self, key: tuple[str, str]) -> int:
        found = self._problem_index.get(key)
        if found is None:
            found = self._problem_index[key] = len(self.problems)
            self.problems.append(key)
        return found

    def decided(self) -> Decided:
        return Decided(self.code, self.problem, self.verdicts, self.problems)


def decide_file_on_spark(path: Path, engine: Engine, progress: Progress | None, master: str) -> Decided:
    """``verify_flows_file``'s decisions for ``path``, made by Spark tasks on ``master``.

    The file's first batch is read before Spark starts, so a missing or unreadable file fails at once. A Parquet
    file the tasks can see is read by them, row group by row group; any other file is read here and its batches
    sent out."""
    try:
        batches = _started(parse.iter_flows(path))
    except parse.NotSimpleJson:
        batches = None
    spark = spark_session(master)
    context = spark.sparkContext
    shared = context.broadcast(topology_payload(engine.topology))
    wave = max(2, BATCHES_PER_CORE * int(context.defaultParallelism))
    total = rows_hint(path)
    try:
        readable = _row_groups_readable(context, path) if batches is not None else None
        if readable is not None:
            row_groups, stamp = readable
            where = str(path.resolve())

            def read_there(part: Iterable[tuple[int, int]]) -> Iterator[_TaskResult]:
                return _decide_row_groups(shared.value, where, stamp, part)

            return _decide_waves(context, enumerate(range(row_groups)), read_there, wave, progress, total)

        def sent(part: Iterable[tuple[int, parse.RawFlows]]) -> Iterator[_TaskResult]:
            return _decide_partition(shared.value, part)

        if batches is not None:
            try:
                return _decide_waves(context, enumerate(batches), sent, wave, progress, total)
            except parse.NotSimpleJson:  # found further on: start again, as the single-process path does
                pass
        return _decide_waves(context, enumerate(_slices(parse.read_json(path))), sent, wave, progress, None)
    finally:
        shared.unpersist()


def _started(batches: Iterator[parse.RawFlows]) -> Iterator[parse.RawFlows]:
    """``batches`` with the first one already read (its errors raised here)."""
    first = next(batches, None)
    return batches if first is None else itertools.chain([first], batches)


def _decide_waves(
    context: Any,
    items: Iterator[tuple[int, Any]],
    task: Callable[[Iterable[Any]], Iterator[_TaskResult]],
    wave: int,
    progress: Progress | None,
    total: int | None,
) -> Decided:
    """``items`` sent to Spark ``wave`` at a time, one task each, the next wave taken while Spark decides this one."""
    bar = progress.add_task("deciding flows on Spark", total=total) if progress is not None else None
    merged = _Merged()

    def run(chunk: list[tuple[int, Any]]) -> list[_TaskResult]:
        results: list[_TaskResult] = context.parallelize(chunk, len(chunk)).mapPartitions(task).collect()
        return sorted(results, key=lambda result: result[0])

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-wave") as pool:
        pending: Future[list[_TaskResult]] | None = None
        while True:
            chunk = [item for _, item in zip(range(wave), items, strict=False)]
            if pending is not None:
                for result in pending.result():
                    merged.add(result)
                    if progress is not None and bar is not None:
                        progress.advance(bar, len(result[1]))
            if not chunk:
                break
            pending = pool.submit(run, chunk)
    return merged.decided()


def _slices(raw: parse.RawFlows) -> Iterator[parse.RawFlows]:
    """One careful read cut into batches of ``parse.BATCH_ROWS`` rows (rows keep their problems)."""
    rows = len(raw)
    for start in range(0, max(rows, 1), parse.BATCH_ROWS):
        stop = min(start + parse.BATCH_ROWS, rows)
        columns = {name: column.slice(start, stop - start) for name, column in raw.columns.items()}
        unreadable = {row - start: message for row, message in raw.unreadable.items() if start <= row < stop}
        yield parse.RawFlows(columns, unreadable)
