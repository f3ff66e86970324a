"""Collector throughput and latency under load, side by side with a bare Flask endpoint.

Both run under gunicorn with the production configuration (``collector/gunicorn.conf.py``) on
loopback; ``wrk`` (installed with apt-get on first use, as the test command installs its Debian
packages) posts 20-event text/plain batches from a separate
process, as a browser's sendBeacon would. The collector validates, enriches, sets the cookie
and waits for Kafka's ``acks=all`` for every batch; the bare endpoint reads the body and answers
204. Printed: requests/s, events/s, p50/p99 latency, the ratio to the bare endpoint, and the
loss check (records in a fresh Kafka topic vs events acknowledged). Then the floor
(``bench/bare_kafka.py``): the bare endpoint storing the body in Kafka with the collector's
producer, as one record or one per event -- no collector with that durability can beat it here.
The broker it starts runs with ``CLICKLOOP_KAFKA_JIT=full``, as a production broker would.

    .venv/bin/python bench/collector_throughput.py                 # production config
    .venv/bin/python bench/collector_throughput.py --sweep         # linger x compression
    .venv/bin/python bench/collector_throughput.py --duration 30 --connections 32

Uses ``CLICKLOOP_KAFKA_BOOTSTRAP`` when set, else starts a dedicated embedded broker.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import itertools
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
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open_loop import open_loop  # noqa: E402  (bench/ is on sys.path)

from embedded import kafka_broker, kafka_topics, provision  # noqa: E402
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


BODIES = batch_bodies()


def wrk_script(directory: Path, close: bool = False) -> Path:
    script = directory / "post.lua"
    bodies = ",\n".join(f"[==[{body}]==]" for body in BODIES)
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


def fixed_rate(url: str, bodies: list[str], rate: float, duration: float,
               connections: int = 16) -> dict[str, float]:
    """Open loop at ``rate`` batches/s (see bench/open_loop.py)."""
    parts = urlsplit(url)
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": UA}
    payloads = [body.encode() for body in bodies]

    def make(i: int, rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
        return "POST", "/v1/events", payloads[i % len(payloads)], headers

    result = open_loop(parts.hostname or "127.0.0.1", parts.port or 80, make, rate, duration,
                       connections)
    return {"rate": rate, "errors": result["errors"], "p50_ms": result["p50"],
            "p99_ms": result["p99"]}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def start_bare(port: int, workers: int | None, threads: int | None, log: Path,
               app: str = "bare_flask:create_app()") -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "--config",
               str(ROOT / "collector" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
               "--pythonpath", str(ROOT / "bench")]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    command.append(app)
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.post(f"http://127.0.0.1:{port}/v1/events", data=BODIES[0], timeout=1)
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


def bench_bare(work: Path, args: argparse.Namespace, script: Path, rate: float | None,
               app: str = "bare_flask:create_app()") -> dict[str, float]:
    """wrk at full load, then the open loop at ``rate`` (None: skipped)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bare = start_bare(port, args.workers, args.threads, work / "bare.log", app)
    try:
        warm_up(url)  # the floor's producer waits for its producer id; the bare app answers at once
        run_wrk(url, script, args.warmup, args.connections)
        result = run_wrk(url, script, args.duration, args.connections)
        if rate is not None:
            result["half"] = fixed_rate(url, BODIES, rate, args.duration, args.connections)
        return result
    finally:
        stop(bare)


def bench_floor(bootstrap: str, work: Path, args: argparse.Namespace, script: Path,
                records: str) -> dict[str, float]:
    """The bare endpoint plus the collector's producer (bench/bare_kafka.py): what any
    collector with acks=all durability costs here, before it does any work of its own."""
    topic = f"bench.floor.{records}.{time.monotonic_ns()}"
    kafka_topics.ensure_topics(bootstrap, [topic], partitions=3, replication=1)
    app = f"bare_kafka:create_app({bootstrap!r}, {topic!r}, {records!r})"
    result = bench_bare(work, args, script, None, app)
    # wrk's warm-up and the requests it abandoned at the end are stored too: at least this many
    acked = int(result["ok"]) * (1 if records == "batch" else BATCH)
    stored = kafka_count(bootstrap, topic, acked)
    result["note"] = (f"wrk got {acked} records acknowledged, Kafka holds {stored}"
                      + ("" if stored >= acked else f" ({acked - stored} LOST)"))
    return result


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
        warm_up(server.url)
        run_wrk(server.url, script, args.warmup, args.connections)
        result = run_wrk(server.url, script, args.duration, args.connections)
        # latency at half this collector's maximum, open loop (the p99 goal is stated there)
        result["half"] = fixed_rate(server.url, BODIES, result["rps"] / 2, args.duration,
                                    args.connections)
        # every event the collector acknowledged (to wrk or to a connection wrk dropped at the
        # end of its run) must be in Kafka: compare its own count with the topic's
        accepted = accepted_total(server.url)
        result["kafka"] = kafka_count(bootstrap, settings.kafka.topic, accepted)
        result["expected"] = accepted
        result["acked_to_wrk"] = result["ok"] * BATCH
    finally:
        server.stop()
    return result


def warm_up(url: str, timeout: float = 120) -> None:
    """Wait until a batch is acknowledged promptly: a fresh broker makes the idempotent
    producer wait seconds for its producer id (the transaction coordinator is loading)."""
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": UA}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = requests.post(url + "/v1/events", data=BODIES[0], headers=headers, timeout=30)
        if response.status_code in (200, 204) and time.perf_counter() - started < 0.5:
            return
        time.sleep(0.2)
    raise RuntimeError("the collector never acknowledged a batch within 0.5 s")


def cpu_per_request(app: Any, count: int, threads: int = 8) -> float:
    """Process CPU seconds per request with the app called in this process through its WSGI
    test client (no gunicorn, no sockets), ``threads`` at a time as in a gthread worker; counts
    every thread of the process, the Kafka client's included. A busy machine slows the wall
    clock, not this, so it is the ratio to trust when the load average is high."""
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, "User-Agent": UA,
               "X-Forwarded-For": "81.2.69.142"}
    payloads = [body.encode() for body in BODIES]
    counter = itertools.count()

    def run() -> None:
        client = app.test_client()
        while (i := next(counter)) < count:
            response = client.post("/v1/events", data=payloads[i % len(payloads)],
                                   headers=headers)
            assert response.status_code < 300, response.get_data(as_text=True)

    for i in range(50):  # warm caches, connections and the producer id
        app.test_client().post("/v1/events", data=payloads[i % len(payloads)], headers=headers)
    started = time.process_time()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.process_time() - started) / count


def bench_cpu(bootstrap: str, work: Path, count: int) -> tuple[float, float]:
    """CPU per request of the collector (real Kafka sink) and of the bare endpoint."""
    from collector.app import create_app
    from collector.state import close_app

    settings = collector_settings(work / f"state-{time.monotonic_ns()}", bootstrap,
                                  allowed_origins=(ORIGIN,), produce_timeout_s=5.0)
    kafka_topics.ensure_topics(bootstrap, [settings.kafka.topic,
                                             settings.kafka.dead_letter_topic],
                                 partitions=3, replication=1)
    app = create_app(settings=settings)
    try:
        collector = cpu_per_request(app, count)
    finally:
        close_app(app)
    spec = importlib.util.spec_from_file_location("bare_flask", ROOT / "bench" / "bare_flask.py")
    bare = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bare)  # type: ignore[union-attr]
    return collector, cpu_per_request(bare.create_app(), count)


class KafkaPythonSink:
    """kafka-python with the settings the collector used before librdkafka (bench only)."""

    def __init__(self, bootstrap: str):
        from kafka import KafkaProducer

        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                      enable_idempotence=True, linger_ms=5,
                                      batch_size=128 * 1024, compression_type="lz4")

    def store(self, records: list[Any]) -> str:
        futures = [self.producer.send(r.topic, value=r.value, key=r.key) for r in records]
        for future in futures:
            future.get(timeout=10)
        return "kafka"

    def close(self, timeout: float = 10.0) -> None:
        self.producer.close(timeout)


def bench_producers(bootstrap: str, seconds: float = 8, threads: int = 8) -> None:
    """kafka-python against librdkafka: the same 20-record acks=all batches from ``threads``
    threads of this process; batches/s and process CPU per batch (client threads included)."""
    from collector.sinks import KafkaSink

    value = json.dumps(json.loads(BODIES[0])["events"][0]).encode() * 2  # ~ an enriched event
    print(f"\nproducers in-process, {threads} threads, 20-record batches, acks=all, "
          f"idempotent, lz4:")
    for name, make in (("kafka-python 2.x", lambda: KafkaPythonSink(bootstrap)),
                       ("confluent-kafka", lambda: KafkaSink(bootstrap, timeout_s=10))):
        topic = f"bench.producer.{time.monotonic_ns()}"
        kafka_topics.ensure_topics(bootstrap, [topic], partitions=3, replication=1)
        sink = make()
        try:
            _drive(sink, topic, value, 1.0, 1)  # warm up: connections, producer id
            batches, wall, cpu = _drive(sink, topic, value, seconds, threads)
        finally:
            sink.close(5)
        print(f"  {name:18} {batches / wall:7.0f} batches/s  {cpu / batches * 1e6:6.0f} µs CPU "
              f"per batch ({cpu / batches / BATCH * 1e6:.1f} per record)", flush=True)


def _drive(sink: Any, topic: str, value: bytes, seconds: float, threads: int
           ) -> tuple[int, float, float]:
    """Store 20-record batches from ``threads`` threads for ``seconds``: batches, wall, CPU."""
    from collector.sinks import Record

    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run() -> None:
        n = 0
        while time.monotonic() < stop:
            sink.store([Record(topic, f"v-{(n * 20 + j) % 997}".encode(), value)
                        for j in range(BATCH)])
            n += 1
        with lock:
            done[0] += n

    started, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return done[0], time.perf_counter() - started, time.process_time() - cpu


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
                        help="also try producer linger.ms x compression.type")
    parser.add_argument("--cpu-requests", type=int, default=3000,
                        help="requests for the in-process CPU-per-request ratio (0: skip)")
    parser.add_argument("--broker-jit", choices=("quick", "full"), default="full",
                        help="JIT of the embedded broker this bench starts (CLICKLOOP_KAFKA_JIT):"
                        " full, as a production broker runs, by default")
    parser.add_argument("--no-floor", dest="floor", action="store_false",
                        help="skip the floor: the bare endpoint that only stores the body in "
                        "Kafka with the collector's producer (bench/bare_kafka.py)")
    parser.add_argument("--producers", action="store_true",
                        help="also compare kafka-python with librdkafka in-process")
    args = parser.parse_args()
    try:
        provision.ensure_debian_packages({"wrk": "wrk"})
    except provision.ProvisionError as exc:
        print(f"wrk is needed: {exc}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="clickloop-bench-"))
    base = Settings.from_env()
    broker_settings = None
    bootstrap = base.kafka.bootstrap
    if not bootstrap:
        broker_settings = dataclasses.replace(
            base, state_dir=work / "kafka-state",
            kafka=dataclasses.replace(base.kafka, jit=args.broker_jit))
        bootstrap = kafka_broker.start(broker_settings)
    script = wrk_script(work, close=args.close)
    workers, threads = args.workers or _conf("workers"), args.threads or _conf("threads")
    connections = "connections, a new one per request" if args.close else "keep-alive connections"
    print(f"gunicorn {workers} workers x {threads} threads (gthread); wrk 1 thread, "
          f"{args.connections} {connections}, "
          f"{args.duration}s; {BATCH}-event batches; "
          f"{os.cpu_count()} cores shared by wrk, gunicorn and Kafka "
          f"({'an existing broker' if broker_settings is None else f'JIT {args.broker_jit}'})\n")
    try:
        configs: list[tuple[str, dict[str, object] | None]] = [("production config", None)]
        if args.sweep:
            configs += [(f"linger={linger} {compression}",
                         {"linger.ms": linger, "compression.type": compression})
                        for linger, compression in ((0, "lz4"), (0, "none"), (2, "lz4"),
                                                    (5, "lz4"))]
        print(f"{'endpoint':28} {'req/s':>8} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'ratio':>6} | open loop at half the collector's max: {'req/s':>6} "
              f"{'p50 ms':>7} {'p99 ms':>7} | loss check")
        ratios: dict[str, list[float]] = {}
        for round_ in range(1, args.rounds + 1):
            # the bare reference is measured again before each configuration: on a shared
            # machine the load drifts, and the ratio must compare like with like
            for name, producer in configs:
                result = bench_collector(bootstrap, work, args, script, producer)
                reference = bench_bare(work, args, script, result["half"]["rate"])
                _row(f"bare Flask 204 (round {round_})", reference, reference, None)
                _row(f"collector, {name}", result, reference, result)
                ratios.setdefault(f"collector, {name}", []).append(
                    result["rps"] / reference["rps"])
            if args.floor:
                # no collector can go faster here than the bare endpoint plus its durability
                for records in ("batch", "event"):
                    floor = bench_floor(bootstrap, work, args, script, records)
                    _row(f"floor, 1 record/{records}", floor, reference, None)
                    ratios.setdefault(f"floor, 1 record per {records}", []).append(
                        floor["rps"] / reference["rps"])
        if args.rounds > 1:
            print()
            for name, values in ratios.items():
                print(f"median ratio to the bare endpoint, {name}: "
                      f"{statistics.median(values):.2f} over {len(values)} rounds")
        if args.cpu_requests:
            collector, bare = bench_cpu(bootstrap, work, args.cpu_requests)
            print(f"\nCPU per request in-process (WSGI test client, 8 threads, "
                  f"{args.cpu_requests} requests): collector {collector * 1e6:.0f} µs, bare "
                  f"{bare * 1e6:.0f} µs; ratio of requests per CPU second "
                  f"{bare / collector:.2f}")
        if args.producers:
            bench_producers(bootstrap)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if broker_settings is not None:
            kafka_broker.stop(broker_settings)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _row(name: str, result: dict[str, float], reference: dict[str, float],
         kafka: dict[str, float] | None) -> None:
    ratio = result["rps"] / reference["rps"]
    check = result.get("note", "")
    if kafka is not None:
        lost = int(kafka["expected"] - kafka["kafka"])
        verdict = ("none lost" if lost == 0 else f"{lost} LOST" if lost > 0 else
                   f"none lost, {-lost} duplicates from timed-out produces that were spooled")
        check = (f"accepted {int(kafka['expected'])} events, Kafka holds {int(kafka['kafka'])} "
                 f"({verdict}); "
                 f"non-2xx {int(result['requests'] - result['ok'])}, "
                 f"socket errors {int(result['socket_errors'])}")
    half = result.get("half")
    if half is None:
        open_loop_columns = f"{'(not run)':>22}"
    else:
        errors = f" ({half['errors']} errors)" if half["errors"] else ""
        open_loop_columns = (f"{half['rate']:6.0f} {half['p50_ms']:7.1f} "
                             f"{half['p99_ms']:7.1f}{errors}")
    print(f"{name:28} {result['rps']:8.0f} {result['rps'] * BATCH:9.0f} "
          f"{result['p50_ms']:7.1f} {result['p99_ms']:7.1f} {ratio:6.2f} | {'':38}"
          f"{open_loop_columns} | {check}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
