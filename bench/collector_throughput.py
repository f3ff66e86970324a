"""Collector throughput and latency under load, side by side with a bare Flask endpoint.

Both run under gunicorn with the production configuration (``collector/gunicorn.conf.py``) on
loopback; ``wrk`` (apt-get install wrk) posts 20-event text/plain batches from a separate
process, as a browser's sendBeacon would. The collector validates, enriches, sets the cookie
and waits for Kafka's ``acks=all`` for every batch; the bare endpoint reads the body and answers
204. Printed: requests/s, events/s, p50/p99 latency, the ratio to the bare endpoint, and the
loss check (records in a fresh Kafka topic vs events acknowledged).

    .venv/bin/python bench/collector_throughput.py                 # production config
    .venv/bin/python bench/collector_throughput.py --sweep         # linger x compression
    .venv/bin/python bench/collector_throughput.py --duration 30 --connections 32

Uses ``CLICKLOOP_KAFKA_BOOTSTRAP`` when set, else starts a dedicated embedded broker.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded import kafka_broker, kafka_topics  # noqa: E402
from embedded.ports import free_port  # noqa: E402
from tests.fixtures.collector import (  # noqa: E402
    collector_settings,
    end_offsets,
    start_collector,
)
from tracker.contract import new_event  # noqa: E402
from tracker.settings import Settings  # noqa: E402

BATCH = 20
ORIGIN = "https://shop.example.com"
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")


def batch_bodies(count: int = 50) -> list[str]:
    """Distinct 20-event batches over a 1,000-page catalogue with a few referrers, so URL
    caches see realistic repetition rather than one body over and over."""
    rng = random.Random(7)
    referrers = ["https://www.google.com/", "https://www.bing.com/search?q=shoes",
                 "https://t.co/x", "https://shop.example.com/cart", ""]
    bodies = []
    for _ in range(count):
        events = [new_event("page_view",
                            url=f"https://shop.example.com/p/{rng.randrange(1000)}"
                                f"{rng.choice(['', '?utm_source=news&utm_medium=email'])}",
                            referrer=rng.choice(referrers) or None, title="Trail shoe",
                            session_id="s-1", context={"screen_width": 1920,
                                                       "language": "en-GB"})
                  for _ in range(BATCH)]
        bodies.append(json.dumps({"events": events}))
    return bodies


def wrk_script(directory: Path, close: bool = False) -> Path:
    script = directory / "post.lua"
    bodies = ",\n".join(f"[==[{body}]==]" for body in batch_bodies())
    script.write_text(
        'wrk.method = "POST"\n'
        + ('wrk.headers["Connection"] = "close"\n' if close else "")
        + 'wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"\n'
        f'wrk.headers["Origin"] = "{ORIGIN}"\n'
        f'wrk.headers["User-Agent"] = "{UA}"\n'
        f"local bodies = {{{bodies}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[n])\n"
        "end\n"
    )
    return script


def run_wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency",
               "--timeout", "10s", "-s", str(script), url + "/v1/events"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {
        "requests": total,
        "ok": total - (int(non_2xx.group(1)) if non_2xx else 0),
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def start_bare(port: int, workers: int | None, threads: int | None, log: Path
               ) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "--config",
               str(ROOT / "collector" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
               "--pythonpath", str(ROOT / "bench")]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    command.append("bare_flask:create_app()")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.post(f"http://127.0.0.1:{port}/v1/events", data=b"{}", timeout=1)
            return process
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"bare app did not start:\n{log.read_text()}") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def kafka_count(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = sum(end_offsets(bootstrap, topic).values())
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def bench_bare(work: Path, args: argparse.Namespace, script: Path) -> dict[str, float]:
    port = free_port()
    bare = start_bare(port, args.workers, args.threads, work / "bare.log")
    try:
        run_wrk(f"http://127.0.0.1:{port}", script, args.warmup, args.connections)
        return run_wrk(f"http://127.0.0.1:{port}", script, args.duration, args.connections)
    finally:
        stop(bare)


def bench_collector(bootstrap: str, work: Path, args: argparse.Namespace, script: Path,
                    producer: dict[str, object] | None) -> dict[str, float]:
    settings = collector_settings(work / f"state-{time.monotonic_ns()}", bootstrap,
                                  allowed_origins=(ORIGIN,), produce_timeout_s=5.0)
    kafka_topics.ensure_topics(bootstrap, [settings.kafka.topic,
                                             settings.kafka.dead_letter_topic],
                                 partitions=3, replication=1)
    extra = {"CLICKLOOP_FLASK_PRODUCER_CONFIG": json.dumps(producer)} if producer else {}
    server = start_collector(settings, workers=args.workers or _conf("workers"),
                             threads=args.threads or _conf("threads"), extra_env=extra,
                             log_path=work / "collector.log")
    try:
        run_wrk(server.url, script, args.warmup, args.connections)
        result = run_wrk(server.url, script, args.duration, args.connections)
        # every event the collector acknowledged (to wrk or to a connection wrk dropped at the
        # end of its run) must be in Kafka: compare its own count with the topic's
        accepted = accepted_total(server.url)
        result["kafka"] = kafka_count(bootstrap, settings.kafka.topic, accepted)
        result["expected"] = accepted
        result["acked_to_wrk"] = result["ok"] * BATCH
    finally:
        server.stop()
    return result


def accepted_total(url: str) -> int:
    previous = -1
    while True:  # settle: requests wrk abandoned may still be finishing
        text = requests.get(url + "/metrics", timeout=10).text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("clickloop_collector_events_accepted_total{"))
        if total == previous:
            return int(total)
        previous = total
        time.sleep(1.0)


def _conf(name: str) -> int:
    namespace: dict[str, object] = {"__file__": str(ROOT / "collector" / "gunicorn.conf.py")}
    exec((ROOT / "collector" / "gunicorn.conf.py").read_text(), namespace)
    return int(namespace[name])  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=2,
                        help="measure every configuration this many times (median ratio)")
    parser.add_argument("--close", action="store_true",
                        help="a new connection per request (many browsers' beacons) instead of "
                        "wrk's keep-alive connections, which gunicorn pins to one worker each")
    parser.add_argument("--sweep", action="store_true",
                        help="also try producer linger_ms x compression_type")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="clickloop-bench-"))
    base = Settings.from_env()
    broker_settings = None
    bootstrap = base.kafka.bootstrap
    if not bootstrap:
        broker_settings = dataclasses.replace(base, state_dir=work / "kafka-state")
        bootstrap = kafka_broker.start(broker_settings)
    script = wrk_script(work, close=args.close)
    workers, threads = args.workers or _conf("workers"), args.threads or _conf("threads")
    connections = "connections, a new one per request" if args.close else "keep-alive connections"
    print(f"gunicorn {workers} workers x {threads} threads (gthread); wrk 1 thread, "
          f"{args.connections} {connections}, "
          f"{args.duration}s; {BATCH}-event batches; "
          f"{os.cpu_count()} cores shared by wrk, gunicorn and Kafka\n")
    try:
        configs: list[tuple[str, dict[str, object] | None]] = [("production config", None)]
        if args.sweep:
            configs += [(f"linger={linger} {compression or 'none'}",
                         {"linger_ms": linger, "compression_type": compression or None})
                        for linger in (0, 5, 20) for compression in ("", "lz4", "gzip")]
        print(f"{'endpoint':28} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'ratio':>6}  loss check")
        ratios: dict[str, list[float]] = {}
        for round_ in range(1, args.rounds + 1):
            # the bare reference is measured again before each configuration: on a shared
            # machine the load drifts, and the ratio must compare like with like
            for name, producer in configs:
                reference = bench_bare(work, args, script)
                result = bench_collector(bootstrap, work, args, script, producer)
                _row(f"bare Flask 204 (round {round_})", reference, reference, None)
                _row(f"collector, {name}", result, reference, result)
                ratios.setdefault(name, []).append(result["rps"] / reference["rps"])
        if args.rounds > 1:
            print()
            for name, values in ratios.items():
                print(f"median ratio, collector {name}: {statistics.median(values):.2f} "
                      f"over {len(values)} rounds")
    finally:
        if broker_settings is not None:
            kafka_broker.stop(broker_settings)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _row(name: str, result: dict[str, float], reference: dict[str, float],
         kafka: dict[str, float] | None) -> None:
    ratio = result["rps"] / reference["rps"]
    check = ""
    if kafka is not None:
        lost = int(kafka["expected"] - kafka["kafka"])
        verdict = ("none lost" if lost == 0 else f"{lost} LOST" if lost > 0 else
                   f"none lost, {-lost} duplicates from timed-out produces that were spooled")
        check = (f"accepted {int(kafka['expected'])} events, Kafka holds {int(kafka['kafka'])} "
                 f"({verdict}); "
                 f"non-2xx {int(result['requests'] - result['ok'])}, "
                 f"socket errors {int(result['socket_errors'])}")
    print(f"{name:28} {result['rps']:8.0f} {result['rps'] * BATCH:9.0f} "
          f"{result['p50_ms']:7.1f} {result['p99_ms']:7.1f} {ratio:6.2f}  {check}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
