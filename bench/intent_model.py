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
    .venv/bin/python bench/intent_model.py --label-delay       # positives at once vs at close

``--label-delay`` runs the default model three times over the same stream: learning a
purchase's snapshots at once (the first way), at their session's close like every other
snapshot (the engine's default) without the online calibration layer, and at the close with it
(the default: :mod:`personalization.calibration`); it prints the calibration per decile of each
(ranked deciles: :func:`personalization.progressive.calibration_by_decile`), the progressive ROC
AUC and log loss, and the share of positives in the labels learned during the first hours, when
traffic rises from nothing. ``--uncalibrated`` runs the model table without the layer.

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
from personalization.intent import MODELS, IntentModel, scaled_logreg  # noqa: E402
from personalization.observation import Observation, observe  # noqa: E402
from personalization.progressive import (  # noqa: E402
    ProgressiveMetrics,
    binned_auc,
    calibration_by_decile,
    max_gap_points,
)
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
        # the cut of scaled values (personalization.logistic.Z_CLIP; the default is 10)
        "logreg-cut-none": lambda: scaled_logreg(None),
        "logreg-cut-5": lambda: scaled_logreg(5.0),
        "logreg-cut-20": lambda: scaled_logreg(20.0),
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


def synthetic_stream(visitors: int, seed: int, days: float = 7.0) -> list[Observation]:
    return [observe(e) for e in generate(visitors, seed=seed, days=days)]


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


def run_model(kind: str, stream: list[Observation], calibrated: bool = True) -> dict[str, Any]:
    board = Scoreboard(len(stream))
    engine = Engine(IntentModel(kind, calibrated=calibrated), ItemGraph(), gap_s=GAP_S,
                    on_label=board)
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


def label_delay_run(stream: list[Observation], delay: str, kind: str = "logreg",
                    calibrated: bool = True) -> dict[str, Any]:
    """One pass with positives learned at once (``none``) or at the close (``session``)."""
    outcomes: list[bool] = []
    predictions: list[float] = []
    learned_at: list[float] = []  # stream time each label was learned

    engine: Engine

    def record(x: dict[str, float], y: bool, p: float) -> None:
        outcomes.append(y)
        predictions.append(p)
        learned_at.append(engine.event_time)

    engine = Engine(IntentModel(kind, calibrated=calibrated), ItemGraph(), gap_s=GAP_S,
                    on_label=record, delay=delay)
    for i, obs in enumerate(stream):
        engine.process(obs)
        if i % 50 == 0:
            engine.advance(obs.ts)
    engine.advance(engine.event_time + GAP_S + 1)
    start = stream[0].ts
    early = [y for y, t in zip(outcomes, learned_at, strict=True) if t - start < 2 * 3600]
    half = len(outcomes) // 2
    return {"rows": calibration_by_decile(outcomes, predictions),
            "late_rows": calibration_by_decile(outcomes[half:], predictions[half:]),
            "auc": engine.model.metrics.roc_auc(), "labels": len(outcomes),
            "log_loss": engine.model.metrics.log_loss.get(),
            "base_rate": sum(outcomes) / max(1, len(outcomes)),
            "early_positive_share": sum(early) / len(early) if early else None}


def label_delay_report(stream: list[Observation]) -> None:
    """Print the calibration per decile: positives at once, at the close without the online
    calibration layer, at the close with it (the default)."""
    columns = {"positives at once": ("none", False), "at the close, raw": ("session", False),
               "calibrated (default)": ("session", True)}
    runs = {name: label_delay_run(stream, delay, calibrated=cal)
            for name, (delay, cal) in columns.items()}
    first, last = runs["positives at once"], runs["calibrated (default)"]
    print(f"labels: {last['labels']} ({last['base_rate']:.1%} positive); positives among "
          f"the labels learned in the first 2 hours: at once "
          f"{first['early_positive_share']:.1%}, at the close "
          f"{last['early_positive_share']:.1%}\n")
    print(f"{'decile':>6} {'n':>6} | " + " | ".join(f"{name:^23}" for name in runs))
    print(f"{'':>6} {'':>6} | " + " | ".join(f"{'predicted':>9} {'observed':>7} {'gap':>5}"
                                              for _ in runs))
    for cells in zip(*(run["rows"] for run in runs.values()), strict=True):
        print(f"{cells[0].decile:>6} {cells[0].count:>6} | " + " | ".join(
            f"{c.mean_predicted:>9.3f} {c.observed_rate:>7.3f} {c.gap_points:>+5.1f}"
            for c in cells))
    print()
    for name, run in runs.items():
        print(f"{name:<21} largest gap {max_gap_points(run['rows']):4.1f} points (goal: within "
              f"5), second half of the labels {max_gap_points(run['late_rows']):4.1f}; "
              f"progressive ROC AUC {run['auc']:.3f}, log loss {run['log_loss']:.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--source", choices=("synthetic", "simulator"), default="synthetic")
    parser.add_argument("--tune", action="store_true",
                        help="compare the default logreg with other optimizers/learning rates")
    parser.add_argument("--label-delay", action="store_true",
                        help="calibration per decile, positives learned at once vs at the close")
    parser.add_argument("--uncalibrated", action="store_true",
                        help="model table without the online calibration layer")
    parser.add_argument("--days", type=float, default=7.0,
                        help="synthetic stream: days the visitors arrive over (fewer: busier)")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    if args.tune:
        MODELS.update(tuning_candidates())
        kinds = ["logreg", *tuning_candidates()]
    unknown = [k for k in kinds if k not in MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {sorted(MODELS)}")

    started = time.perf_counter()
    if args.source == "synthetic":
        stream = synthetic_stream(args.visitors, args.seed, args.days)
    else:
        stream = simulator_stream(args.visitors, args.seed)
    print(f"stream: {args.source}, {args.visitors} visitors, seed {args.seed}: {len(stream)} "
          f"events, built in {time.perf_counter() - started:.1f} s\n")
    if args.label_delay:
        label_delay_report(stream)
        return 0
    results = []
    for kind in kinds:
        result = run_model(kind, stream, calibrated=not args.uncalibrated)
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
