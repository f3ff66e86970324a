"""Decision API latency and throughput on loopback, side by side with a bare Flask endpoint.

Both run under gunicorn with the production configuration (``personalization/gunicorn.conf.py``;
the API is started with ``clickloop personalization api``, exactly as in production). The API
reads profiles from the embedded store (or ``--store redis``: a temporary redis-server), seeded
with the profiles of a few thousand simulated visitors, so every request carries a real
visitor's cookie and does a real profile read, rules evaluation and decision log write. The
bare endpoint answers a fixed JSON of the same size.

Two measurements per server:

- *fixed rate* (the target: p99 under 10 ms at 500 requests/s): an open-loop generator sends
  requests at their scheduled times over keep-alive connections and measures latency from the
  scheduled time, so a stall counts against the server (no coordinated omission);
- *maximum throughput*: ``wrk`` (apt-get install wrk), closed loop, requests/s and p50/p99;
- the *backend route* (``POST /v1/decisions``, both slots of a page per call, bearer token) at
  the same fixed rate: the latency a site's server adds to a page it renders personalized;
- *CPU per request*: both apps called in this process (no network, no scheduling): the ratio
  that a busy machine does not blur.

    .venv/bin/python bench/decision_api.py
    .venv/bin/python bench/decision_api.py --rate 500 --duration 20 --store redis

The load generators share the machine's cores with gunicorn: the figures are a floor.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import pickle
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open_loop import open_loop  # noqa: E402  (bench/ is on sys.path)

from embedded.ports import free_port  # noqa: E402
from personalization.engine import Engine  # noqa: E402
from personalization.intent import IntentModel  # noqa: E402
from personalization.observation import observe  # noqa: E402
from personalization.recommend import ItemGraph  # noqa: E402
from personalization.stores import Checkpoint, Store  # noqa: E402
from simulation.intent_stream import generate  # noqa: E402
from tracker.settings import Settings  # noqa: E402

CONFIG = ROOT / "personalization" / "gunicorn.conf.py"
SLOTS = ("hero", "recommended")


def seed_store(store: Store, visitors: int) -> list[str]:
    """Profiles of ``visitors`` simulated visitors, checkpointed as the worker would."""
    engine = Engine(IntentModel("logreg"), ItemGraph(), load=store.load_profile)
    for i, raw in enumerate(generate(visitors, seed=3)):
        obs = observe(raw)
        engine.process(obs, "events:0")
        if i % 200 == 0:
            engine.advance(obs.ts)
    profiles = engine.publish(engine.event_time)
    store.save(Checkpoint(
        group="clickloop-personalization", offsets={}, profiles=profiles,
        sources={p.profile_id: "events:0" for p in profiles},
        worker_state=pickle.dumps({"model": engine.model}), summary=engine.model.summary(),
        graph=engine.graph.delta, popular=engine.graph.popular(20)))
    return [p.profile_id for p in profiles]


def start(command: list[str], env: dict[str, str], log: Path, port: int
          ) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/decide?slot=hero")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def browser_request(i: int, visitor: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    """The snippet's request: one slot, the visitor's cookie."""
    return "GET", f"/v1/decide?slot={SLOTS[i % 2]}", None, {"Cookie": f"cl_vid={visitor}"}


def backend_request(token: str) -> Any:
    """A site backend's request: both slots of a page at once, bearer token, page context."""
    def make(i: int, visitor: str) -> tuple[str, str, bytes | None, dict[str, str]]:
        body = json.dumps({"visitor_id": visitor, "slots": list(SLOTS),
                           "page": "https://shop.example.com/p/RS-1001",
                           "product": "RS-1001"}).encode()
        return "POST", "/v1/decisions", body, {"Authorization": f"Bearer {token}",
                                                "Content-Type": "application/json"}
    return make


def fixed_rate(port: int, visitors: list[str], rate: float, duration: float,
               threads: int = 16, make: Any = browser_request) -> dict[str, float]:
    """Open loop at ``rate`` requests/s (see bench/open_loop.py), each for a random visitor."""
    return open_loop("127.0.0.1", port, lambda i, rng: make(i, rng.choice(visitors)), rate,
                     duration, threads, ok=lambda status: status == 200)


def cpu_per_request(app: Any, visitors: list[str], count: int = 3000) -> float:
    """CPU microseconds per request of a WSGI app called in this process: no network, no
    scheduling, so it barely moves with the machine's load (unlike the latencies)."""
    import io

    def call(i: int) -> None:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": "/v1/decide",
            "QUERY_STRING": f"slot={SLOTS[i % 2]}", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
            "HTTP_COOKIE": f"cl_vid={visitors[i % len(visitors)]}", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}
        status: list[str] = []
        body = app(environ, lambda s, h, e=None: status.append(s))
        b"".join(body)
        if hasattr(body, "close"):  # optional in WSGI
            body.close()
        if not status[0].startswith("200"):
            raise RuntimeError(f"in-process request failed: {status[0]}")

    for i in range(200):
        call(i)
    started = time.process_time()
    for i in range(count):
        call(i)
    return (time.process_time() - started) / count * 1e6


def wrk_script(directory: Path, visitors: list[str]) -> Path:
    script = directory / "decide.lua"
    ids = ",".join(f'"{v}"' for v in visitors)
    script.write_text(
        f"local ids = {{{ids}}}\n"
        'local slots = {"hero", "recommended"}\n'
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  local path = "/v1/decide?slot=" .. slots[n % 2 + 1]\n'
        '  return wrk.format("GET", path, {["Cookie"] = "cl_vid=" .. ids[n % #ids + 1]})\n'
        "end\n")
    return script


def run_wrk(port: int, script: Path, duration: int, connections: int) -> dict[str, float]:
    if shutil.which("wrk") is None:
        return {}
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s", "--latency",
               "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/v1/decide"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(directory)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    time.sleep(0.5)
    return process, f"redis://127.0.0.1:{port}/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=500.0, help="fixed-rate requests/s")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--visitors", type=int, default=3000, help="seeded visitor profiles")
    parser.add_argument("--store", choices=("embedded", "redis"), default="embedded")
    args = parser.parse_args()

    temp = Path(tempfile.mkdtemp(prefix="clickloop-bench-api-"))
    base = Settings.from_env()
    redis_process = None
    processes: list[subprocess.Popen[bytes]] = []
    try:
        redis_url = None
        if args.store == "redis":
            redis_process, redis_url = start_redis(temp)
        token = secrets.token_urlsafe(16)
        settings = dataclasses.replace(
            base, state_dir=temp / "state",
            personalization=dataclasses.replace(base.personalization, redis_url=redis_url,
                                                api_token=token))
        from personalization.stores import open_store

        store = open_store(settings)
        visitors = seed_store(store, args.visitors)
        store.close()
        env = {**os.environ, **settings.to_env(), "PYTHONPATH": str(ROOT)}
        api_port, bare_port = free_port(), free_port()
        namespace: dict[str, Any] = {"__file__": str(CONFIG)}
        exec(CONFIG.read_text(), namespace)
        workers = settings.personalization.api_workers
        api = start([sys.executable, "-m", "clickloop.cli", "personalization", "api",
                     "--bind", f"127.0.0.1:{api_port}"], env, temp / "api.log", api_port)
        processes.append(api)
        bare = start([sys.executable, "-m", "gunicorn", "--config", str(CONFIG), "--bind",
                      f"127.0.0.1:{bare_port}", "--workers", str(workers), "--pythonpath",
                      str(ROOT / "bench"), "bare_decide:create_app()"], env, temp / "bare.log",
                     bare_port)
        processes.append(bare)
        script = wrk_script(temp, visitors)
        print(f"{len(visitors)} visitor profiles ({args.store} store); gunicorn {workers} "
              f"workers x {namespace['threads']} threads ({namespace['worker_class']}); "
              f"{os.cpu_count()} cores shared with the load generators; load average "
              f"{os.getloadavg()[0]:.1f}\n", flush=True)
        results = {}
        for name, port in (("bare Flask", bare_port), ("decision API", api_port)):
            fixed_rate(port, visitors, args.rate, 2)  # warm-up: imports, caches, connections
            results[name] = (fixed_rate(port, visitors, args.rate, args.duration),
                             run_wrk(port, script, args.duration, args.connections))
        backend = fixed_rate(api_port, visitors, args.rate, args.duration,
                             make=backend_request(token))
        sys.path.insert(0, str(ROOT / "bench"))
        import bare_decide

        from personalization.api import create_app

        api_app = create_app(settings)
        cpu_api = cpu_per_request(api_app, visitors)
        api_app.extensions["clickloop_personalization"].decisions.close()
        cpu_bare = cpu_per_request(bare_decide.create_app(), visitors)
        print(f"{'server':<14} | at {args.rate:.0f} req/s: {'p50 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'errors':>6} | wrk -c{args.connections}: {'req/s':>7} "
              f"{'p50 ms':>7} {'p99 ms':>7}")
        for name, (fixed, closed) in results.items():
            print(f"{name:<14} | {'':>11}{fixed['p50']:>7.2f} {fixed['p99']:>7.2f} "
                  f"{fixed['max']:>7.1f} {fixed['errors']:>6} | {'':>8}"
                  f"{closed.get('rps', float('nan')):>7.0f} {closed.get('p50', float('nan')):>7.2f}"
                  f" {closed.get('p99', float('nan')):>7.2f}")
        print(f"\nCPU per request in process (no network): bare Flask {cpu_bare:.0f} us, "
              f"decision API {cpu_api:.0f} us ({cpu_api / cpu_bare:.2f}x)")
        print(f"{'backend route':<14} | {'':>11}{backend['p50']:>7.2f} {backend['p99']:>7.2f} "
              f"{backend['max']:>7.1f} {backend['errors']:>6} | (POST /v1/decisions, 2 slots "
              f"per call)")
        (af, ac), (bf, bc) = results["decision API"], results["bare Flask"]
        print(f"\nratio decision API / bare Flask: p99 at {args.rate:.0f} req/s "
              f"{af['p99'] / bf['p99']:.2f}x, max throughput "
              f"{ac.get('rps', float('nan')) / bc.get('rps', float('nan')):.2f}x")
        verdict = "met" if af["p99"] < 10 and af["errors"] == 0 else "NOT met"
        print(f"target p99 < 10 ms at {args.rate:.0f} req/s: {verdict} "
              f"(p99 {af['p99']:.2f} ms, achieved {af['achieved']:.0f} req/s)")
        verdict = "met" if backend["p99"] < 10 and backend["errors"] == 0 else "NOT met"
        print(f"backend route, same target: {verdict} (p99 {backend['p99']:.2f} ms, achieved "
              f"{backend['achieved']:.0f} req/s)")
        verdict = "met" if ac.get("rps", 0) >= 0.8 * bc.get("rps", float("inf")) else "NOT met"
        print(f"target max throughput >= 0.8x bare Flask: {verdict}")
    finally:
        for process in processes:
            stop(process)
        if redis_process is not None:
            stop(redis_process)
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
