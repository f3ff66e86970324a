"""Benchmark: parse a 1-million-line combined access log, Clickloop (Spark) vs GoAccess.

    .venv/bin/python bench/log_parse_vs_goaccess.py [--lines 1000000] [--work DIR]

The log is the shared 10,000-line Apache sample (``../shared/data/logs/``) repeated and shifted
in time (each copy 4 days after the previous one), so it has real browsers, bots, static files
and one truncated line per copy. Then, on the same file:

- ``stream_jobs.logs.job`` (Spark ``local[2]``): parse, classify, enrich (user agent, address,
  referrer), write ``page_view`` events to Parquet and rejects to JSON;
- GoAccess (Debian package ``goaccess``, single-threaded in 1.7, installed with apt-get when
  missing and run as root): parse and build its JSON report.

Each runs in a child process whose whole process tree's resident memory is sampled every
0.2 s. Spark's JVM start-up is measured separately and left out of lines/s. Prints lines/s, wall
time, CPU time and peak memory of each, the ratio, the ratio of CPU time (the work each tool
did; Clickloop's counts its JVM, JIT and GC threads included, and its driver; on a shared VM it
rises under contention much as wall time does), where Clickloop's time went (its passes), the
Spark floor (the lines read and split into fields, nothing else: what Spark itself costs here),
and the end-to-end time of ``clickloop logs parse`` on a 10,000-line file, start-up included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from peak_memory import run_child  # bench/ is sys.path[0] when a bench runs as a script

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "logs" / "apache_combined_sample.log"
STAMP = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")
SHIFT = timedelta(days=4)


def build_log(path: Path, lines: int) -> Path:
    """Repeat the sample, each copy shifted by 4 more days, until ``lines`` lines."""
    if path.exists() and sum(1 for _ in path.open("rb")) == lines:
        return path
    sample = SAMPLE.read_text(encoding="utf-8").splitlines()
    parts = []
    for line in sample:
        match = STAMP.search(line)
        if match is None:
            parts.append((line, None, "", ""))
            continue
        moment = datetime.strptime(match.group(1), "%d/%b/%Y:%H:%M:%S")
        parts.append((line[: match.start(1)], moment, match.group(2), line[match.end(2):]))
    with path.open("w", encoding="utf-8") as out:
        written, copy = 0, 0
        while written < lines:
            delta = SHIFT * copy
            for head, moment, zone, tail in parts:
                if written == lines:
                    break
                if moment is None:
                    out.write(head + "\n")
                else:
                    stamp = (moment + delta).strftime("%d/%b/%Y:%H:%M:%S")
                    out.write(f"{head}{stamp} {zone}{tail}\n")
                written += 1
            copy += 1
    return path


def _spark_child(work: Path, memory: str) -> None:
    """This child process's settings (read once by ``Settings.from_env``) and import path."""
    os.environ.update({
        "CLICKLOOP_LAKE_DIR": str(work / "lake"), "CLICKLOOP_STATE_DIR": str(work / "state"),
        "CLICKLOOP_SPARK_MASTER": "local[2]", "CLICKLOOP_SPARK_DRIVER_MEMORY": memory,
        "CLICKLOOP_SPARK_SHUFFLE_PARTITIONS": "4",
    })
    sys.path.insert(0, str(ROOT))


def run_clickloop(log: Path, work: Path, memory: str) -> dict:
    _spark_child(work, memory)
    import psutil  # as peak_memory does: a bench-only need

    from stream_jobs.logs.enrich_requests import start_warm_up
    from stream_jobs.logs.input_files import Site, prepare_files
    from stream_jobs.logs.job import run
    from stream_jobs.spark_session import build_spark
    from tracker.settings import Settings

    shutil.rmtree(work / "lake", ignore_errors=True)
    settings = Settings.from_env()
    t0 = time.perf_counter()
    warming = start_warm_up()  # as `clickloop logs parse` does, while the JVM starts
    spark = build_spark(settings, "bench-parse-logs",  # no progress bar in the output
                        extra={"spark.ui.showConsoleProgress": "false"})
    warming.join()
    jvm = psutil.Process(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    cpu_before = sum(jvm.cpu_times()[:2]) + time.process_time()  # user + system, all threads
    started = time.perf_counter()
    files = prepare_files([log], "combined")
    summary = run(spark, settings, files, site=Site("http", "semicomplete.com"))
    done = time.perf_counter()
    cpu_s = sum(jvm.cpu_times()[:2]) + time.process_time() - cpu_before
    spark.stop()
    return {"seconds": done - started, "startup_s": started - t0, "lines": summary["lines"],
            "cpu_s": cpu_s,
            "detail": {k: summary[k] for k in ("page_views", "static", "filtered", "bots",
                                               "rejects", "events_written", "timings")}}


def run_floor(log: Path, work: Path, memory: str) -> dict:
    """What any Spark parser of this file pays before its own rules (the floor): read the lines
    and cut each into the combined format's fields with two splits (on quotes, then on spaces
    of the part before the request), the time parsed; nothing classified, nothing written
    (``noop`` sink). Run twice on one JVM: the second, warm, time is the floor."""
    _spark_child(work, memory)
    from pyspark.sql import functions as F

    from stream_jobs.spark_session import build_spark
    from tracker.settings import Settings

    spark = build_spark(Settings.from_env(), "bench-parse-floor",
                        extra={"spark.ui.showConsoleProgress": "false"})
    quoted = F.split("value", '"')
    head = F.split(quoted[0], " ")
    fields = spark.read.text(str(log)).select(
        head[0].alias("host"), head[2].alias("user"),
        F.to_timestamp(F.substring(head[3], 2, 20), "dd/MMM/yyyy:HH:mm:ss").alias("ts"),
        quoted[1].alias("request"), F.split(F.trim(quoted[2]), " ")[0].alias("status"),
        quoted[3].alias("referrer"), quoted[5].alias("user_agent"))
    times = []
    for _ in range(2):
        started = time.perf_counter()
        fields.write.format("noop").mode("overwrite").save()
        times.append(time.perf_counter() - started)
    lines = spark.read.text(str(log)).count()
    spark.stop()
    return {"seconds": times[1], "cold_s": times[0], "lines": lines}


def run_end_to_end(log: Path, work: Path) -> dict:
    """``clickloop logs parse`` as a user runs it: a new process, Spark start-up included."""
    env = {**os.environ, "CLICKLOOP_LAKE_DIR": str(work / "lake-e2e"),
           "CLICKLOOP_STATE_DIR": str(work / "state-e2e")}
    shutil.rmtree(work / "lake-e2e", ignore_errors=True)
    started = time.perf_counter()
    command = str(Path(sys.executable).parent / "clickloop")
    done = subprocess.run([command, "logs", "parse", str(log),
                           "--format", "combined", "--progress-interval", "5"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return {"seconds": time.perf_counter() - started, "output": done.stdout.splitlines()[-1]}


def ensure_goaccess() -> bool:
    """Install GoAccess (Debian package ``goaccess``) when it is missing and we may."""
    if shutil.which("goaccess"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing goaccess with apt-get …", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        if subprocess.run(["apt-get", "install", "-y", "-q", "goaccess"], **quiet).returncode:
            subprocess.run(["apt-get", "update", "-q"], **quiet)
            subprocess.run(["apt-get", "install", "-y", "-q", "goaccess"], **quiet)
    return shutil.which("goaccess") is not None


def run_goaccess(log: Path, work: Path) -> dict:
    report = work / "goaccess.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["goaccess", str(log), "--log-format=COMBINED", "--no-global-config",
                    "-o", str(report)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    done = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    general = json.loads(report.read_text())["general"]
    return {"seconds": done - started, "startup_s": 0.0, "lines": general["total_requests"],
            "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "detail": {"valid_requests": general["valid_requests"],
                       "failed_requests": general["failed_requests"]}}


def measured(args: list[str]) -> tuple[dict, int]:
    """Run this script as a child for one tool; its JSON line and peak process-tree RSS."""
    return run_child(__file__, args, ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/clickloop-bench-logs"))
    parser.add_argument("--spark-memory", default="2g")
    parser.add_argument("--end-to-end-lines", type=int, default=10_000,
                        help="also time `clickloop logs parse` on a file this long, start-up "
                             "included (0: skip)")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the Spark floor (read and split the lines, nothing else)")
    parser.add_argument("--tool", choices=("clickloop", "spark-floor", "goaccess"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    log = args.work / "access.log"
    if args.tool:  # child mode
        run = {"clickloop": run_clickloop, "spark-floor": run_floor,
               "goaccess": lambda log, work, _memory: run_goaccess(log, work)}[args.tool]
        result = run(log, args.work, args.spark_memory)
        print(json.dumps(result), flush=True)
        return 0
    if not SAMPLE.is_file():
        print(f"the shared sample {SAMPLE} is missing", file=sys.stderr)
        return 2
    if not ensure_goaccess():
        print("GoAccess is not installed: apt-get install goaccess", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    build_log(log, args.lines)
    print(f"log: {log} ({args.lines:,} lines, {log.stat().st_size / 2**20:.0f} MB; built in "
          f"{time.perf_counter() - t0:.1f} s or reused)", flush=True)
    results = {}
    for tool in ("clickloop", "goaccess"):
        result, peak = measured(["--work", str(args.work), "--spark-memory", args.spark_memory,
                                 "--tool", tool])
        result["peak_rss"] = peak
        results[tool] = result
        print(f"{tool}: {result['detail']}", flush=True)
    print(f"\n{'tool':<10} {'lines':>10} {'seconds':>9} {'lines/s':>10} {'CPU s':>7} "
          f"{'peak RSS':>10}")
    for tool, r in results.items():
        print(f"{tool:<10} {r['lines']:>10,} {r['seconds']:>9.1f} "
              f"{r['lines'] / r['seconds']:>10,.0f} {r['cpu_s']:>7.1f} "
              f"{r['peak_rss'] / 2**20:>8,.0f} MB")
    print(f"(Spark startup, not counted: {results['clickloop']['startup_s']:.1f} s)")
    ratio = ((results["clickloop"]["lines"] / results["clickloop"]["seconds"])
             / (results["goaccess"]["lines"] / results["goaccess"]["seconds"]))
    print(f"ratio Clickloop/GoAccess lines/s: {ratio:.2f} "
          f"(machine load average at the end: {os.getloadavg()[0]:.1f})")
    print(f"CPU time GoAccess/Clickloop: "
          f"{results['goaccess']['cpu_s'] / results['clickloop']['cpu_s']:.2f} "
          f"(Clickloop: JVM and driver, start-up excluded)")
    print(f"where Clickloop's time went: {results['clickloop']['detail']['timings']}")
    if args.floor:
        floor, _peak = measured(["--work", str(args.work), "--spark-memory", args.spark_memory,
                                 "--tool", "spark-floor"])
        goaccess_rate = results["goaccess"]["lines"] / results["goaccess"]["seconds"]
        for name, seconds in (("cold JVM", floor["cold_s"]), ("warm JVM", floor["seconds"])):
            rate = floor["lines"] / seconds
            print(f"Spark floor ({name}: read + split each line into fields, nothing else): "
                  f"{seconds:.1f} s, {rate:,.0f} lines/s, {rate / goaccess_rate:.2f}x GoAccess")
    if args.end_to_end_lines:
        small = build_log(args.work / "small.log", args.end_to_end_lines)
        e2e = run_end_to_end(small, args.work)
        print(f"end to end, `clickloop logs parse` on {args.end_to_end_lines:,} lines: "
              f"{e2e['seconds']:.1f} s (Spark start-up included); {e2e['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
