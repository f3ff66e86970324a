"""What identity stitching costs the worker: events/s of the engine on identified traffic,
side by side with the same traffic anonymous (the reference), in one process, pinned to one
core, several alternating rounds (the best of each is printed).

The traffic is :func:`simulation.intent_stream.generate`'s shop visitors; in the identified
run a share of visitors log in (an ``identify`` event at their second event, ``user_id`` on
every later one) and every other identified visitor is a second device of another's user, so
links, absorbs and link expiries all happen. Both runs go through the real
:class:`~personalization.engine.Engine` with an embedded store behind it (loads and link
lookups on a cache miss), without Kafka: the cost measured is the engine's.

    .venv/bin/python bench/stitching.py                 # 3000 visitors, 40 % identified
    .venv/bin/python bench/stitching.py --visitors 6000 --share 0.8
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from personalization.engine import Engine  # noqa: E402
from personalization.intent import IntentModel  # noqa: E402
from personalization.observation import Observation, observe  # noqa: E402
from personalization.recommend import ItemGraph  # noqa: E402
from personalization.stores.embedded import EmbeddedStore  # noqa: E402
from simulation.intent_stream import generate  # noqa: E402


def identified(events: list[dict[str, Any]], share: float) -> list[dict[str, Any]]:
    """``events`` where the first ``share`` of visitors log in at their second event; two
    visitors share each user (a phone and a laptop)."""
    visitors = list(dict.fromkeys(e["visitor_id"] for e in events))
    users = {v: f"user-{i // 2}" for i, v in enumerate(visitors[:int(len(visitors) * share)])}
    seen: dict[str, int] = {}
    out = []
    for event in events:
        visitor = event["visitor_id"]
        seen[visitor] = seen.get(visitor, 0) + 1
        user = users.get(visitor)
        if user is not None and seen[visitor] == 2:
            login = {k: v for k, v in event.items() if k in ("schema_version", "client_ts",
                                                            "visitor_id", "enrichment")}
            out.append({**login, "event_id": str(uuid.uuid4()), "event_type": "identify",
                        "user_id": user})
        if user is not None and seen[visitor] >= 2:
            event = {**event, "user_id": user}
        out.append(event)
    return out


def run(observations: list[Observation], folder: Path) -> float:
    store = EmbeddedStore(folder)
    engine = Engine(IntentModel("logreg"), ItemGraph(), load=store.load_profile,
                    identity=store.resolve)
    started = time.perf_counter()
    for i, obs in enumerate(observations):
        engine.process(obs)
        if i % 200 == 0:
            engine.advance(obs.ts)
    engine.publish(engine.event_time)
    elapsed = time.perf_counter() - started
    store.close()
    return len(observations) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--share", type=float, default=0.4, help="visitors who log in")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin this process to")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    anonymous = generate(args.visitors, seed=7)
    stitched = identified(copy.deepcopy(anonymous), args.share)
    plain = [observe(e) for e in anonymous]
    logged = [observe(e) for e in stitched]
    best = {"anonymous": 0.0, "identified": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for name, observations in (("anonymous", plain), ("identified", logged)):
                rate = run(observations, Path(tmp) / f"{name}-{n}")
                best[name] = max(best[name], rate)
    print(f"{args.visitors} visitors, {len(plain)} events anonymous, {len(logged)} with "
          f"{args.share:.0%} of visitors identified (2 devices per user); best of "
          f"{args.rounds}")
    print(f"{'run':<34} {'events/s':>10} {'ratio':>8}")
    print(f"{'anonymous (reference)':<34} {best['anonymous']:>10.0f} {1.0:>8.2f}")
    print(f"{'identified (stitching)':<34} {best['identified']:>10.0f} "
          f"{best['identified'] / best['anonymous']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
