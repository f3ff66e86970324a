"""Progress of a long parse on the terminal: lines read, rate and time left.

Spark's task counts move only when a task ends, and a big file is read in a few large tasks (a
226 MB log in 2), so a share of tasks jumps 0 -> 50 -> 100 %. The SQL metrics of a running
query move sooner: executors report their tasks' accumulators with every heartbeat, so the rows
a scan has produced so far (``Scan text`` while reading the files, ``InMemoryTableScan`` while a
later step reads the cached lines) are known within a heartbeat. A step's lines are the most
rows any of its queries has scanned; the total is the input size over the average line length
of the detection sample while reading, the exact count after. When those metrics cannot be read
(Spark's SQL status store is reached through py4j and is not a public API), the share of tasks
done is shown instead. A thread polls every ``interval`` seconds and prints one line to ``out``
(stderr by default, so the summary on stdout stays clean).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any


def progress_line(step: str, fraction: float, elapsed: float, lines_total: int | None,
                  lines_done: int | None = None) -> str:
    """One progress line: ``fraction`` (0..1) of ``step`` done after ``elapsed`` seconds;
    ``lines_done``: the lines counted so far (else estimated from ``fraction``)."""
    parts = [f"{step}: {fraction:4.0%}"]
    if lines_total:
        done = int(lines_total * fraction) if lines_done is None else lines_done
        parts.append(f"{'~' if lines_done is None else ''}{done:,} of ~{lines_total:,} lines")
        if elapsed > 0 and done:
            parts.append(f"{done / elapsed:,.0f} lines/s")
    if 0.01 <= fraction < 1:  # from the first few rows a rate says nothing yet
        parts.append(f"ETA {elapsed / fraction * (1 - fraction):,.0f} s")
    return ", ".join(parts)


def estimated_lines(files: Sequence[Any]) -> int | None:
    """Lines of ``files`` estimated from their sizes and sample line lengths (None when a
    file is compressed or its line length is unknown)."""
    total = 0.0
    for f in files:
        if not f.line_bytes or f.path.endswith((".gz", ".bz2")):
            return None
        total += f.size / f.line_bytes
    return round(total)


SCANS = ("Scan text", "InMemoryTableScan")  # plan nodes whose output rows are lines read


def _number(text: str) -> int:
    """A SQL metric's value as Spark's status store shows it (``"1,234"``)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return int(digits) if digits else 0


class ScannedRows:
    """Rows the scans of each SQL query have produced, live (see the module doc)."""

    def __init__(self, spark: Any) -> None:
        self._store = spark._jsparkSession.sharedState().statusStore()

    def executions(self) -> set[int]:
        """The ids of every SQL query this session has run or is running."""
        ids = set()
        queries = self._store.executionsList().iterator()
        while queries.hasNext():
            ids.add(queries.next().executionId())
        return ids

    def rows(self, execution_id: int) -> int:
        """The lines one query has read so far: its text scans' rows added up (one per file),
        or the most rows one scan of a cached table produced (batches Spark skips by their
        statistics are not read, so not counted)."""
        values = self._store.executionMetrics(execution_id)
        text = cached = 0
        nodes = self._store.planGraph(execution_id).allNodes().iterator()
        while nodes.hasNext():
            node = nodes.next()
            name = node.name().strip()
            if not name.startswith(SCANS):
                continue
            metrics = node.metrics().iterator()
            while metrics.hasNext():
                metric = metrics.next()
                if metric.name() == "number of output rows":
                    value = values.get(metric.accumulatorId())
                    n = _number(value.get()) if value.isDefined() else 0
                    if name.startswith("Scan text"):
                        text += n
                    else:
                        cached = max(cached, n)
        return max(text, cached)


def scanned_rows(spark: Any) -> ScannedRows | None:
    """The live row counter, or None where Spark's SQL status store cannot be reached."""
    try:
        return ScannedRows(spark)
    except Exception:  # a fake or remote session, or another Spark's internals: task shares
        return None


class Progress:
    """Prints progress of the steps of a parse while Spark works (see module doc)."""

    def __init__(self, spark: Any, out: IO[str] | None = None, interval: float = 2.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._tracker = spark.sparkContext.statusTracker()
        self._out = out or sys.stderr
        self._interval = interval
        self._clock = clock
        self._step = ""
        self._lines: int | None = None
        self._ended: set[int] = set()
        self._scanned = scanned_rows(spark)
        self._before: set[int] = set()  # the SQL queries of earlier steps
        self._best = 0  # the most lines a query of this step has read: never goes back
        self._since = clock()
        self._begun = clock()
        self._stop = threading.Event()
        # a poll reads the step and its jobs in one go: never a new step with the last one's share
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._poll, name="log-progress", daemon=True)

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def step(self, name: str, files: Sequence[Any], lines: int | None = None) -> None:
        """A new step begins; ``lines``: the exact count once the reading pass has ended."""
        with self._lock:
            now = self._clock()
            if lines is not None and self._step == "reading":
                took = now - self._since
                rate = f" ({lines / took:,.0f} lines/s)" if took > 0 else ""
                self._print(f"read {lines:,} lines in {took:.1f} s{rate}")
            self._step, self._since = name, now
            self._lines = lines if lines is not None else estimated_lines(files)
            # the status tracker learns that a job ended a little after its action returned:
            # the jobs it still calls active now belong to the step that just ended
            self._ended = set(self._tracker.getActiveJobsIds())
            self._best = 0
            if self._scanned is not None:
                try:
                    self._before = self._scanned.executions()
                except Exception as exc:
                    self._lost_scans(exc)

    def lines_done(self) -> int | None:
        """The most lines one SQL query of this step has scanned so far (None: unknown)."""
        if self._scanned is None:
            return None
        try:
            for execution_id in self._scanned.executions() - self._before:
                self._best = max(self._best, self._scanned.rows(execution_id))
        except Exception as exc:
            self._lost_scans(exc)
            return None
        return self._best or None

    def _lost_scans(self, exc: Exception) -> None:
        """The SQL status store failed: task shares from now on."""
        self._scanned = None
        self._print(f"(progress by tasks from now on: {type(exc).__name__})")

    def fraction(self) -> float | None:
        """Share of the tasks of the running Spark jobs that are done (None: nothing runs)."""
        total = done = 0
        for job_id in set(self._tracker.getActiveJobsIds()) - self._ended:
            job = self._tracker.getJobInfo(job_id)
            for stage_id in (job.stageIds if job else ()):
                stage = self._tracker.getStageInfo(stage_id)
                if stage is not None:
                    total += stage.numTasks
                    done += stage.numCompletedTasks
        return done / total if total else None

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if not self._step:
                    continue
                done = self.lines_done() if self._lines else None
                if done is not None and self._lines:
                    # the total is an estimate while reading: a step is not over until it ends
                    fraction = min(done / self._lines, 0.99)
                else:
                    fraction = self.fraction()
                if fraction is not None:
                    self._print(progress_line(self._step, fraction,
                                              self._clock() - self._since, self._lines, done))

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
