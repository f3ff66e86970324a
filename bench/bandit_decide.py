"""Does the bandit slow decisions down? ``GET /v1/decide`` with rules only vs with a bandit.

The same decision API, the same seeded profiles (the embedded store, as in
``bench/decision_api.py``), the packaged rules; the second run adds a ``bandit:`` block with
``share: 1`` to both slots and allows every variant to everyone, so every treated request
takes the bandit path at its most expensive (context vector, allowed variants, a policy choice
among 3-4 variants over published statistics trained on 20,000 outcomes) and logs the context
with the decision. Measured in process (no network, no scheduling: the ratio a busy
machine does not blur):

- CPU microseconds per request through the whole Flask app;
- microseconds per :func:`~personalization.decision.decide` call alone;
- and, for reference, one choice by River's ``bandit.LinUCBDisjoint`` against ours.

    .venv/bin/python bench/bandit_decide.py
    .venv/bin/python bench/bandit_decide.py --policy thompson --requests 5000
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from decision_api import cpu_per_request, seed_store  # noqa: E402

from personalization.api import create_app  # noqa: E402
from personalization.bandit.context import DIM  # noqa: E402
from personalization.bandit.policy import LinearArms, PolicyView, state_dict  # noqa: E402
from personalization.decision import decide  # noqa: E402
from personalization.rules import DEFAULT_RULES_FILE, RulesSource, load_rules  # noqa: E402
from personalization.stores import Checkpoint  # noqa: E402
from personalization.stores.embedded import EmbeddedStore  # noqa: E402
from tracker.settings import Settings  # noqa: E402


def bandit_rules(policy: str) -> str:
    """The packaged rules with a bandit block on every slot and every variant allowed to every
    visitor (the worst case: each treated request runs the policy over all the variants)."""
    text = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    conditions = "segment|intent_min|intent_max|cart|cart_value_min|campaign|source|device|" \
                 "returning|customer"
    text = re.sub(rf"when:\n(?:\s+(?:{conditions}): .*\n)+", "when: {cart_value_min: 0}\n",
                  text)
    block = (f"    bandit:\n      share: 1\n      policy: {policy}\n      reward: click\n"
             f"      explore: 0.05\n")
    for slot in ("  hero:\n", "  recommended:\n"):
        text = text.replace(slot, slot + block, 1)
    return text


def trained_state() -> dict[str, object]:
    rng = np.random.default_rng(1)
    slots = {}
    for slot, variants in (("hero", ("default", "discount", "free_shipping", "bestsellers")),
                           ("recommended", ("bestsellers", "complete_your_order",
                                            "picked_for_you"))):
        arms = LinearArms()
        for _ in range(20_000 // len(variants)):
            for v in variants:
                x = (rng.random(DIM) < 0.2).astype(float)
                x[0] = 1.0
                arms.update(v, x, float(rng.random() < 0.1))
        slots[slot] = arms
    return state_dict(slots)


def decide_us(rules_path: Path, store: EmbeddedStore, visitors: list[str], count: int,
              bandits: dict[str, object]) -> float:
    rules = load_rules(rules_path)
    profiles = [store.read_profile(v) for v in visitors[:500]]
    rng = np.random.default_rng(2)
    started = time.perf_counter()
    for i in range(count):
        profile = profiles[i % len(profiles)]
        decide(rules, ("hero", "recommended")[i % 2], visitor_id=visitors[i % 500],
               profile=profile, popular=(), holdout_share=0.1, salt="s", now=time.time(),
               bandits=bandits, rng=rng)  # type: ignore[arg-type]
    return (time.perf_counter() - started) / count * 1e6


def river_reference(policy: str) -> tuple[float, float]:
    """Microseconds per choice among 4 variants after 1000 outcomes: River 0.26's
    ``bandit.LinUCBDisjoint`` (a Bayesian linear regression per arm, dict contexts) against
    :class:`~personalization.bandit.policy.PolicyView` on the same data."""
    from river import bandit

    rng = np.random.default_rng(3)
    river_policy = bandit.LinUCBDisjoint(alpha=1.0, beta=1.0, seed=1)
    ours = LinearArms()
    arms = ["a", "b", "c", "d"]
    x = np.zeros(DIM)
    for i in range(1000):
        x = (rng.random(DIM) < 0.2).astype(float)
        x[0] = 1.0
        reward = float(rng.random() < 0.1)
        river_policy.update(arms[i % 4], {f"x{j}": v for j, v in enumerate(x)}, reward)
        ours.update(arms[i % 4], x, reward)
    context = {f"x{j}": v for j, v in enumerate(x)}
    view, vector = PolicyView(ours), x.tolist()
    started = time.perf_counter()
    for _ in range(300):
        river_policy.pull(arms, context)
    river_us = (time.perf_counter() - started) / 300 * 1e6
    started = time.perf_counter()
    for _ in range(3000):
        view.pull(arms, vector, policy=policy, explore=0.0, rng=rng)
    return river_us, (time.perf_counter() - started) / 3000 * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--policy", default="linucb",
                        choices=("linucb", "thompson", "epsilon_greedy"))
    args = parser.parse_args()
    temp = Path(tempfile.mkdtemp(prefix="clickloop-bench-bandit-"))
    try:
        base = Settings.from_env()
        settings = dataclasses.replace(
            base, state_dir=temp / "state",
            personalization=dataclasses.replace(base.personalization, redis_url=None))
        store = EmbeddedStore(settings.state_dir / "personalization")
        visitors = seed_store(store, args.visitors)
        store.save(Checkpoint(group="bench", offsets={}, profiles=[], sources={},
                              worker_state=b"", summary={}, bandit=trained_state()))
        bandit_file = temp / "bandit_rules.yaml"
        bandit_file.write_text(bandit_rules(args.policy), encoding="utf-8")
        results = {}
        for name, path in (("rules only", DEFAULT_RULES_FILE), ("bandit", bandit_file)):
            app = create_app(settings, store=store, rules=RulesSource(path))
            svc = app.extensions["clickloop_personalization"]
            cpu = cpu_per_request(app, visitors, args.requests)
            svc.decisions.close()
            views = svc.bandits() if name == "bandit" else {}
            results[name] = (cpu, decide_us(path, store, visitors, args.requests * 3, views))
        print(f"{len(visitors)} profiles, embedded store, policy {args.policy}, "
              f"{args.requests} requests per app")
        print(f"{'':<12} {'CPU us/request':>15} {'us/decide()':>12}")
        for name, (cpu, pure) in results.items():
            print(f"{name:<12} {cpu:>15.0f} {pure:>12.1f}")
        (rc, rd), (bc, bd) = results["rules only"], results["bandit"]
        print(f"\nratio bandit / rules only: {bc / rc:.2f}x per request, {bd / rd:.2f}x per "
              f"decide() call")
        river_us, ours_us = river_reference(args.policy)
        print(f"one choice among 4 variants: River bandit.LinUCBDisjoint {river_us:.0f} us, "
              f"ours ({args.policy}) {ours_us:.0f} us ({river_us / ours_us:.0f}x)")
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
