"""Run a bench script's measured step in a child process and sample its peak memory.

Benches that compare engines (Spark against GoAccess or DuckDB) run each in a fresh child so
one engine's warm caches and heap never help another, and report the peak resident memory of
the child's whole process tree (a JVM included) beside the time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path


def run_child(script: str, args: list[str], cwd: Path) -> tuple[dict, int]:
    """``python script *args`` in ``cwd``: its last stdout line (JSON) and peak tree RSS bytes."""
    import psutil

    process = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE,
                               text=True, cwd=cwd)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(process.pid)
        while not stop.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"child {args} failed with {process.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak
