"""Which online intent model? Progressive ROC AUC and log loss on a stream with known structure,
side by side with the two baselines a model must beat: no skill, and the rule "cart not empty".

Every candidate runs through the real worker logic (:class:`personalization.engine.Engine`):
same features, same delayed labels (a purchase labels the session's waiting snapshots positive,
30 minutes of inactivity in stream time labels them negative), same progressive validation (each
prediction scored when its label arrives, with the probability predicted back then). The
baselines are scored on exactly the same labelled snapshots, through the engine's label hook.

    .venv/bin/python bench/intent_model.py                    # 3000 visitors, all models
    .venv/bin/python bench/intent_model.py --visitors 8000 --models logreg,forest
    .venv/bin/python bench/intent_model.py --source simulator  # the demo's traffic model
    .venv/bin/python bench/intent_model.py --tune              # the learning rate choice

The stream (``--source synthetic``, default) is :mod:`simulation.intent_stream`: the demo's
visitors, sources, catalogue and visit intent (propensity, source, device, returning, carried
cart) set each session's purchase probability; browsing follows the fate with noise.
``--source simulator`` uses the demo shop's visitor model
(:mod:`simulation.simulator`) with the collector's enrichment applied in process.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from personalization.engine import Engine  # noqa: E402
from personalization.intent import MODELS, IntentModel  # noqa: E402
from personalization.observation import Observation, observe  # noqa: E402
from personalization.progressive import ProgressiveMetrics, binned_auc  # noqa: E402
from personalization.recommend import ItemGraph  # noqa: E402
from simulation.intent_stream import generate  # noqa: E402

GAP_S = 1800.0


def _logreg(optimizer: object, lr: float) -> object:
    from river import compose, linear_model, preprocessing

    from personalization.intent import PRIOR

    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(optimizer=optimizer,
                                        intercept_init=math.log(PRIOR / (1 - PRIOR)),
                                        intercept_lr=lr))


def tuning_candidates() -> dict[str, Any]:
    """Optimizer variants of the logistic regression (``--tune``): how the default was set."""
    from river import optim

    return {
        "logreg-sgd-0.02": lambda: _logreg(optim.SGD(0.02), 0.02),
        "logreg-sgd-0.005": lambda: _logreg(optim.SGD(0.005), 0.005),
        "logreg-sgd-0.001": lambda: _logreg(optim.SGD(0.001), 0.001),
        "logreg-adagrad-0.05": lambda: _logreg(optim.AdaGrad(0.05), 0.005),
        "logreg-adam-0.001": lambda: _logreg(optim.Adam(0.001), 0.001),
    }


class Scoreboard:
    """Model and baselines scored on the same labels; also the second half on its own, which
    shows where each model ends up once it has learned (the first half includes warm-up)."""

    def __init__(self, total_hint: int):
        self.model = ProgressiveMetrics()
        self.cart = ProgressiveMetrics()
        self.pairs: list[tuple[bool, float, bool]] = []  # (y, model p, cart rule)
        self.positives = 0

    def __call__(self, x: dict[str, float], y: bool, p: float) -> None:
        rule = x["cart_items"] > 0
        self.model.update(y, p)
        self.cart.update(y, 1.0 if rule else 0.0)
        self.pairs.append((y, p, rule))

    def late_auc(self) -> tuple[float | None, float | None]:
        half = self.pairs[len(self.pairs) // 2:]
        return _auc([(y, p) for y, p, _ in half]), _auc([(y, float(r)) for y, _, r in half])

    def no_skill_log_loss(self) -> float:
        """Log loss of predicting the running base rate (known only from past labels)."""
        total, positives, loss = 0, 0, 0.0
        for y, _, _ in self.pairs:
            rate = (positives + 1) / (total + 2)
            loss -= math.log(rate if y else 1 - rate)
            total += 1
            positives += int(y)
        return loss / total if total else float("nan")


def _auc(pairs: list[tuple[bool, float]]) -> float | None:
    pos, neg = [0] * 1000, [0] * 1000
    for y, p in pairs:
        (pos if y else neg)[min(999, int(p * 1000))] += 1
    return binned_auc(pos, neg)


def synthetic_stream(visitors: int, seed: int) -> list[Observation]:
    return [observe(e) for e in generate(visitors, seed=seed)]


def simulator_stream(visitors: int, seed: int) -> list[Observation]:
    """The demo's visitor model, enriched the way the collector would (same functions)."""
    from enrichment import RequestFacts, enrich_event
    from simulation.config import SimConfig
    from simulation.simulator import simulate

    hours = visitors / 30.0
    config = SimConfig(seed=seed, minutes=hours * 60, visitors_per_hour=30.0,
                       start=datetime(2026, 11, 2, tzinfo=UTC))
    requests, _ = simulate(config)
    out = []
    for request in requests:
        visitor = request.visitor
        for event in request.events:
            event = dict(event)
            event.setdefault("visitor_id", visitor.key)
            facts = RequestFacts(collector_ts=event["client_ts"], source="js",
                                 user_agent=visitor.user_agent)
            try:
                out.append(observe(enrich_event(event, facts)))
            except ValueError:
                continue
    out.sort(key=lambda o: o.ts)
    return out


def run_model(kind: str, stream: list[Observation]) -> dict[str, Any]:
    board = Scoreboard(len(stream))
    engine = Engine(IntentModel(kind), ItemGraph(), gap_s=GAP_S, on_label=board)
    started = time.perf_counter()
    for i, obs in enumerate(stream):
        engine.process(obs)
        if i % 50 == 0:
            engine.advance(obs.ts)  # stream time = event time, as in a replay
    engine.advance(engine.event_time + GAP_S + 1)
    elapsed = time.perf_counter() - started
    late_model, late_cart = board.late_auc()
    return {
        "kind": kind, "events_per_s": len(stream) / elapsed, "labels": board.model.labels,
        "base_rate": board.model.positives / max(1, board.model.labels),
        "auc": board.model.roc_auc(), "late_auc": late_model,
        "cart_auc": board.cart.roc_auc(), "late_cart_auc": late_cart,
        "log_loss": board.model.log_loss.get(), "no_skill_log_loss": board.no_skill_log_loss(),
        "calibration": board.model.summary()["calibration"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--source", choices=("synthetic", "simulator"), default="synthetic")
    parser.add_argument("--tune", action="store_true",
                        help="compare the default logreg with other optimizers/learning rates")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    if args.tune:
        MODELS.update(tuning_candidates())
        kinds = ["logreg", *tuning_candidates()]
    unknown = [k for k in kinds if k not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")

    started = time.perf_counter()
    stream = (synthetic_stream if args.source == "synthetic" else simulator_stream)(
        args.visitors, args.seed)
    print(f"stream: {args.source}, {args.visitors} visitors, seed {args.seed}: {len(stream)} "
          f"events, built in {time.perf_counter() - started:.1f} s\n")
    results = []
    for kind in kinds:
        result = run_model(kind, stream)
        results.append(result)
        print(f"  {kind}: done ({result['events_per_s']:.0f} events/s)", flush=True)
    first = results[0]
    print(f"\nlabelled snapshots: {first['labels']} ({first['base_rate']:.1%} positive)\n")
    print(f"{'predictor':<27} {'ROC AUC':>8} {'2nd half':>9} {'log loss':>9} "
          f"{'events/s':>9} {'AUC / cart rule':>16}")
    print(f"{'no skill':<27} {0.5:>8.3f} {0.5:>9.3f} {first['no_skill_log_loss']:>9.4f} "
          f"{'':>9} {0.5 / first['cart_auc']:>16.2f}")
    print(f"{'rule: cart not empty':<27} {first['cart_auc']:>8.3f} {first['late_cart_auc']:>9.3f}"
          f" {'':>9} {'':>9} {1.0:>16.2f}")
    for r in results:
        print(f"{'model: ' + r['kind']:<27} {r['auc']:>8.3f} {r['late_auc']:>9.3f} "
              f"{r['log_loss']:>9.4f} {r['events_per_s']:>9.0f} "
              f"{r['auc'] / r['cart_auc']:>16.2f}")
    best = max(results, key=lambda r: r["auc"])
    print(f"\nbest ROC AUC: {best['kind']}; calibration of {best['kind']} "
          f"(mean predicted vs observed purchase rate per probability decile):")
    for cell in best["calibration"]:
        print(f"  {cell['bin']}: n={cell['count']:>6}  predicted {cell['mean_predicted']:.3f}  "
              f"observed {cell['observed_rate']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
