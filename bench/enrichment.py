"""Enrichment throughput on one core, on the real user agents of the shared Apache log.

Every line of ``../shared/data/logs/apache_combined_sample.log`` becomes a page_view and goes
through the full ``enrich_event`` (user agent + bot flag, GeoIP City lookup, IP anonymisation,
UTM, referrer class, derived timestamp). Side by side, on the same lines, in the same process:

- the reference: plain ``user_agents.parse`` with ua-parser's legacy 200-entry cache emptied
  before every call (uncached), i.e. user agents alone, the way the issue measured ~1.2k/s;
- ``user_agents.parse`` as installed (its legacy cache left on);
- our ``user_agent_block`` with its LRU cleared before every call (ua-parser 1.x's Rust
  resolver alone) and warm (the LRU as in production);
- the whole ``enrich_event``, warm.

Then user agents alone, unique and cached (goals: >= 30k unique UAs/s, >= 200k/s on a realistic
cached mix), side by side with the references: ``user_agents.parse`` uncached and Matomo's
``device_detector.DeviceDetector(ua).parse()`` (the maintained lists, called per UA):

- unique, real traffic: every distinct UA of Intoli's and fake-useragent's real-browser lists
  and of the shared log (~2,300), each parsed once with our LRU empty (rules compiled);
- unique, long tail: uap-core's 16k device test UAs (old phones, apps, bots);
- cached mix: 200,000 draws from the real-traffic UAs with Zipf(1.1) popularity, LRU warm.

Ratios are against the reference. Runs pinned to one CPU; times are process CPU time.

    .venv/bin/python bench/enrichment.py [--lines 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import user_agents  # noqa: E402
from ua_parser import user_agent_parser  # noqa: E402

from enrichment import (  # noqa: E402
    Enrichers,
    RequestFacts,
    enrich_event,
    open_geo_reader,
    user_agent_block,
)
from enrichment import user_agent as ua_module  # noqa: E402
from tracker.contract import format_timestamp  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
LOG = SHARED / "logs" / "apache_combined_sample.log"
CITY_DB = SHARED / "geoip" / "GeoIP2-City-Test.mmdb"
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(?:\S+) (\S+)[^"]*" \d+ \S+ "([^"]*)" "([^"]*)"')


def load(lines: int) -> list[tuple[str, str, str, str, str]]:
    """(ip, time, url, referrer, user agent) of the log's parseable lines."""
    rows = []
    for text in LOG.read_text(errors="replace").splitlines()[:lines]:
        match = LINE.match(text)
        if match:
            ip, when, path, referrer, ua = match.groups()
            moment = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
            rows.append((ip, format_timestamp(moment), "http://semicomplete.com" + path,
                         referrer, ua))
    return rows


def measure(name: str, fn: Callable[[], int], repeat: int) -> float:
    """Best of ``repeat`` runs, in items per CPU second."""
    best = 0.0
    for _ in range(repeat):
        start = time.process_time()
        count = fn()
        best = max(best, count / (time.process_time() - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not LOG.exists():
        print(f"{LOG} is missing (shared test data)", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rows = load(args.lines)
    agents = [row[4] for row in rows]
    reader = open_geo_reader(CITY_DB) if CITY_DB.exists() else None
    enrichers = Enrichers(geo_reader=reader)
    events = [{"schema_version": 1, "event_id": "0b9f4f3e-8a43-4c3e-9d59-6f1e2f3a4b5c",
               "event_type": "page_view", "client_ts": ts, "url": url,
               "referrer": None if referrer == "-" else referrer}
              for _, ts, url, referrer, _ in rows]
    facts = [RequestFacts(collector_ts=ts, source="log", ip=ip, user_agent=ua)
             for ip, ts, _, _, ua in rows]

    def reference() -> int:
        for ua in agents:
            user_agent_parser._PARSE_CACHE.clear()
            user_agents.parse(ua)
        return len(agents)

    def installed() -> int:
        for ua in agents:
            user_agents.parse(ua)
        return len(agents)

    def ours_cold() -> int:
        for ua in agents:
            ua_module._describe.cache_clear()
            user_agent_block(ua)
        return len(agents)

    def ours_warm() -> int:
        for ua in agents:
            user_agent_block(ua)
        return len(agents)

    def full() -> int:
        for event, fact in zip(events, facts, strict=True):
            enrich_event(event, fact, enrichers)
        return len(events)

    for agent in set(agents):  # build the rule lists once, outside the timings
        user_agent_block(agent)
    print(f"{len(rows)} log lines, {len(set(agents))} distinct user agents, one core, "
          f"best of {args.repeat}\n")
    base = measure("reference", reference, args.repeat)
    results = [
        ("user_agents.parse, uncached (reference)", base),
        ("user_agents.parse, legacy 200-entry cache", measure("installed", installed,
                                                               args.repeat)),
        ("user_agent_block, LRU cleared each call", measure("cold", ours_cold, args.repeat)),
        ("user_agent_block, LRU warm", measure("warm", ours_warm, args.repeat)),
        ("enrich_event (UA+geo+IP+UTM+referrer+ts)", measure("full", full, args.repeat)),
    ]
    print(f"{'':44} {'per second':>12} {'ratio':>8}")
    for name, rate in results:
        print(f"{name:44} {rate:12,.0f} {rate / base:8.1f}x")
    user_agents_alone(agents, args.repeat)
    return 0


def user_agents_alone(log_agents: list[str], repeat: int) -> None:
    """Unique and cached UA throughput, ours against user_agents and device_detector."""
    from device_detector import DeviceDetector

    from tests.enrichment import ua_lists

    real = list(dict.fromkeys([ua for ua, _ in ua_lists.intoli_devices()]
                              + [ua for ua, _ in ua_lists.fake_useragent_devices()]
                              + log_agents))
    tail = [ua for ua, _ in ua_lists.uap_core()] if ua_lists.UAP_DEVICE.exists() else []
    rng = random.Random(7)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(real))]
    mix = rng.choices(real, weights=weights, k=200_000)
    for ua in real + tail:  # compile the rule lists and per-brand model matchers once
        user_agent_block(ua)

    def unique(agents_: list[str]) -> Callable[[], int]:
        def run() -> int:
            ua_module._describe.cache_clear()
            for ua in agents_:
                user_agent_block(ua)
            return len(agents_)
        return run

    def cached() -> int:
        for ua in mix:
            user_agent_block(ua)
        return len(mix)

    def reference(agents_: list[str]) -> Callable[[], int]:
        def run() -> int:
            for ua in agents_:
                user_agent_parser._PARSE_CACHE.clear()
                user_agents.parse(ua)
            return len(agents_)
        return run

    def matomo(agents_: list[str]) -> Callable[[], int]:
        def run() -> int:
            for ua in agents_:
                DeviceDetector(ua, check_cache=False).parse()
            return len(agents_)
        return run

    sample = real[:: max(1, len(real) // 300)]
    DeviceDetector(sample[0]).parse()  # its lazy regex loading, outside the timing
    base = measure("ref", reference(real), repeat)
    matomo_rate = measure("matomo", matomo(sample), 1)
    print(f"\nuser agents alone: {len(real)} real-traffic UAs, {len(tail)} long-tail UAs, "
          f"{len(mix):,} cached draws over {len(set(mix))} UAs\n")
    rows = [("user_agents.parse, uncached (reference)", base),
            (f"device_detector parse, uncached ({len(sample)} UAs)", matomo_rate),
            ("user_agent_block, unique real traffic", measure("u", unique(real), repeat))]
    if tail:
        rows.append(("user_agent_block, unique long tail", measure("t", unique(tail), repeat)))
    rows.append(("user_agent_block, cached Zipf mix", measure("c", cached, repeat)))
    print(f"{'':44} {'per second':>12} {'ratio':>8}")
    for name, rate in rows:
        print(f"{name:44} {rate:12,.0f} {rate / base:8.1f}x")


if __name__ == "__main__":
    sys.exit(main())
