"""Progress of a long parse on the terminal: lines read, rate and time left.

Spark does not say how many lines it has read until a pass ends, so while the reading pass
runs the lines are estimated from the share of its tasks done and the input size (bytes over
the average line length of the detection sample); once the pass ends the count is exact. A
thread polls Spark's status tracker every ``interval`` seconds and prints one line to
``out`` (stderr by default, so the summary on stdout stays clean).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any


def progress_line(step: str, fraction: float, elapsed: float, lines_total: int | None) -> str:
    """One progress line: ``fraction`` (0..1) of ``step`` done after ``elapsed`` seconds."""
    parts = [f"{step}: {fraction:4.0%}"]
    if lines_total:
        done = int(lines_total * fraction)
        parts.append(f"~{done:,} of ~{lines_total:,} lines")
        if elapsed > 0 and done:
            parts.append(f"{done / elapsed:,.0f} lines/s")
    if 0 < fraction < 1:
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
                fraction = self.fraction()
                if fraction is not None and self._step:
                    self._print(progress_line(self._step, fraction,
                                              self._clock() - self._since, self._lines))

    def _print(self, text: str) -> None:
        print(text, file=self._out, flush=True)
