"""Which bandit policy a slot should use by default: regret on the seeded ground-truth shop.

Runs :func:`simulation.bandit_exam.simulate` (real decisions, real engine, rewards
delayed to the end of the session, statistics republished every 100 visitors) for each policy
and seed, and prints the cumulative expected regret of the bandit's choices (conversion lost
against showing each visitor their best variant) next to the two references on the same
visitors: a uniformly random allowed variant, and the best single fixed variant. Lower is
better; the figures are deterministic (seeded), so no reference run is needed.

``--grid`` also sweeps the exploration constants of Thompson sampling (its posterior scale) and
LinUCB (alpha), which is how :mod:`personalization.bandit.policy`'s values were chosen.

    .venv/bin/python bench/bandit_policy.py
    .venv/bin/python bench/bandit_policy.py --visitors 10000 --seeds 1 2 3 4 5 --grid
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from personalization.bandit import policy as policies  # noqa: E402
from personalization.holdout import BANDIT, HOLDOUT  # noqa: E402
from simulation.bandit_exam import Outcome, regret_table, simulate  # noqa: E402


def summary(name: str, outcomes: list[Outcome]) -> str:
    def mean(values: list[float]) -> float:
        return statistics.fmean(values)

    regret = mean([o.bandit_regret for o in outcomes])
    fixed = mean([o.best_fixed_regret for o in outcomes])
    random = mean([o.random_regret for o in outcomes])
    second = mean([o.halves()[1] / max(o.halves()[0], 1e-9) for o in outcomes])
    lift = mean([o.report.arms[BANDIT].conversion - o.report.arms[HOLDOUT].conversion
                 for o in outcomes if o.report])
    return (f"{name:<24} regret {regret:7.1f}  ({regret / fixed:.2f}x best fixed, "
            f"{regret / random:.2f}x random; 2nd half / 1st half {second:.2f}; "
            f"bandit - holdout conversion {lift * 100:+.1f} points)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=6000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--grid", action="store_true", help="sweep the exploration constants")
    args = parser.parse_args()

    started = time.perf_counter()
    runs: dict[str, list[Outcome]] = {}
    for name in ("linucb", "thompson", "epsilon_greedy"):
        runs[name] = [simulate(args.visitors, seed=seed, policy=name) for seed in args.seeds]
    if args.grid:
        for value in (0.05, 0.1, 0.25, 0.5, 1.0):
            for name, constant in (("thompson", "THOMPSON_SCALE"), ("linucb", "LINUCB_ALPHA")):
                saved = getattr(policies, constant)
                setattr(policies, constant, value)
                try:
                    runs[f"{name} {constant.split('_')[1].lower()}={value}"] = [
                        simulate(args.visitors, seed=seed, policy=name) for seed in args.seeds]
                finally:
                    setattr(policies, constant, saved)
        for eps in (0.05, 0.1, 0.2):
            saved_eps = policies.EPSILON
            policies.EPSILON = eps
            try:
                runs[f"epsilon_greedy eps={eps}"] = [
                    simulate(args.visitors, seed=seed, policy="epsilon_greedy")
                    for seed in args.seeds]
            finally:
                policies.EPSILON = saved_eps

    print(f"{args.visitors} visitors per run (20 % holdout, half the rest to the bandit), "
          f"seeds {args.seeds}, explore floor 5 %; constants in use: thompson scale "
          f"{policies.THOMPSON_SCALE}, linucb alpha {policies.LINUCB_ALPHA}, epsilon "
          f"{policies.EPSILON}\n")
    for line in regret_table((f"{name} s{seed}", o) for name, outcomes in runs.items()
                             if " " not in name for seed, o in zip(args.seeds, outcomes,
                                                                  strict=True)):
        print(line)
    print("\nmean over seeds (regret: expected purchases lost against the best variant per "
          "visitor):")
    for name, outcomes in runs.items():
        print(summary(name, outcomes))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
