"""Uplift of personalization over the holdout: conversion and revenue per visitor, with CIs.

The unit is the *visitor* (profile), counted from their first exposure to personalized content
(the first ``personalization_shown`` event carrying an arm); outcomes are the purchases and
revenue after that moment. Visitors are assigned to arms by a stable hash before anything
happens to them (:mod:`personalization.holdout`), so arms are comparable populations and a
difference in outcomes is the effect of what they were shown.

For each treated arm (``rules``, ``bandit``) against the holdout, and the bandit against the
rules when a slot has both (does learning beat what the marketer wrote?):

- conversion: difference of proportions, normal-approximation (Wald) interval;
- revenue per visitor: difference of means, Welch's standard error, normal interval (revenue is
  skewed; with the hundreds of visitors per arm an experiment needs, the mean is close enough
  to normal — with fewer, read the interval as indicative).

>>> rows = [("holdout", False, 0.0)] * 90 + [("holdout", True, 50.0)] * 10 \\
...      + [("rules", False, 0.0)] * 80 + [("rules", True, 50.0)] * 20
>>> report = uplift(rows)
>>> c = report.comparisons[0]
>>> c.arm, round(c.conversion_diff, 3), c.conversion_ci[0] > 0
('rules', 0.1, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from personalization.holdout import BANDIT, HOLDOUT, RULES
from personalization.profile import Profile


@dataclass
class ArmStats:
    arm: str
    visitors: int = 0
    converted: int = 0
    revenue: float = 0.0
    _sum_sq: float = 0.0

    def add(self, converted: bool, revenue: float) -> None:
        self.visitors += 1
        self.converted += int(converted)
        self.revenue += revenue
        self._sum_sq += revenue * revenue

    @property
    def conversion(self) -> float:
        return self.converted / self.visitors if self.visitors else 0.0

    @property
    def revenue_per_visitor(self) -> float:
        return self.revenue / self.visitors if self.visitors else 0.0

    @property
    def revenue_variance(self) -> float:
        n = self.visitors
        if n < 2:
            return 0.0
        mean = self.revenue / n
        return max(0.0, (self._sum_sq - n * mean * mean) / (n - 1))


@dataclass
class Comparison:
    arm: str
    conversion_diff: float
    conversion_ci: tuple[float, float]
    conversion_relative: float | None
    revenue_diff: float
    revenue_ci: tuple[float, float]
    versus: str = HOLDOUT


@dataclass
class UpliftReport:
    confidence: float
    arms: dict[str, ArmStats]
    comparisons: list[Comparison] = field(default_factory=list)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "arms": {a.arm: {"visitors": a.visitors, "converted": a.converted,
                             "conversion": round(a.conversion, 6),
                             "revenue": round(a.revenue, 2),
                             "revenue_per_visitor": round(a.revenue_per_visitor, 4)}
                     for a in self.arms.values()},
            "comparisons": [{"arm": c.arm, "versus": c.versus,
                             "conversion_diff": round(c.conversion_diff, 6),
                             "conversion_ci": [round(v, 6) for v in c.conversion_ci],
                             "conversion_relative": None if c.conversion_relative is None
                             else round(c.conversion_relative, 4),
                             "revenue_per_visitor_diff": round(c.revenue_diff, 4),
                             "revenue_per_visitor_ci": [round(v, 4) for v in c.revenue_ci]}
                            for c in self.comparisons],
            "note": self.note,
        }


def exposed_rows(profiles: Iterable[Profile], slot: str | None = None,
                 since: float | None = None) -> Iterator[tuple[str, bool, float]]:
    """(arm, converted, revenue) per exposed visitor (in ``slot`` if given)."""
    for profile in profiles:
        if slot is not None:
            exposure = profile.exposures.get(slot)
            if exposure is None:
                continue
            arm, first = exposure.arm, exposure.first
        else:
            if profile.arm is None or profile.exposed_at is None:
                continue
            arm, first = profile.arm, profile.exposed_at
        if since is not None and first < since:
            continue
        yield arm, profile.purchases_after_exposure > 0, profile.revenue_after_exposure


def uplift(rows: Iterable[tuple[str, bool, float]], confidence: float = 0.95) -> UpliftReport:
    """Per-arm figures and each treated arm against the holdout."""
    arms: dict[str, ArmStats] = {}
    for arm, converted, revenue in rows:
        arms.setdefault(arm, ArmStats(arm)).add(converted, revenue)
    report = UpliftReport(confidence, dict(sorted(arms.items())))
    holdout = arms.get(HOLDOUT)
    if holdout is None or holdout.visitors < 2:
        report.note = "no holdout visitors yet: nothing to compare with"
        return report
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    for arm in report.arms.values():
        if arm.arm != HOLDOUT and arm.visitors >= 2:
            report.comparisons.append(_compare(arm, holdout, z))
    bandit, rules = arms.get(BANDIT), arms.get(RULES)
    if bandit is not None and rules is not None and min(bandit.visitors, rules.visitors) >= 2:
        report.comparisons.append(_compare(bandit, rules, z))
    return report


def _compare(arm: ArmStats, base: ArmStats, z: float) -> Comparison:
    p1, p0 = arm.conversion, base.conversion
    se_c = math.sqrt(p1 * (1 - p1) / arm.visitors + p0 * (1 - p0) / base.visitors)
    d_c = p1 - p0
    se_r = math.sqrt(arm.revenue_variance / arm.visitors + base.revenue_variance / base.visitors)
    d_r = arm.revenue_per_visitor - base.revenue_per_visitor
    return Comparison(arm.arm, d_c, (d_c - z * se_c, d_c + z * se_c), d_c / p0 if p0 else None,
                      d_r, (d_r - z * se_r, d_r + z * se_r), base.arm)


def slots_of(profiles: Iterable[Profile]) -> list[str]:
    """Every slot someone was exposed in, for a report per slot."""
    return sorted({slot for profile in profiles for slot in profile.exposures})


def format_report(report: UpliftReport, title: str) -> str:
    """A plain-text table for a terminal or an e-mail."""
    pct = f"{report.confidence:.0%}"
    lines = [title, "", f"{'arm':<10} {'visitors':>9} {'converted':>10} {'conversion':>11} "
                        f"{'revenue/visitor':>16}"]
    for a in report.arms.values():
        lines.append(f"{a.arm:<10} {a.visitors:>9} {a.converted:>10} {a.conversion:>10.2%} "
                     f"{a.revenue_per_visitor:>16.2f}")
    for c in report.comparisons:
        rel = f" ({c.conversion_relative:+.1%} relative)" if c.conversion_relative is not None \
            else ""
        lines += ["", f"{c.arm} vs {c.versus}:",
                  f"  conversion       {c.conversion_diff * 100:+.2f} points{rel}, {pct} CI "
                  f"[{c.conversion_ci[0] * 100:+.2f}, {c.conversion_ci[1] * 100:+.2f}]",
                  f"  revenue/visitor  {c.revenue_diff:+.2f}, {pct} CI "
                  f"[{c.revenue_ci[0]:+.2f}, {c.revenue_ci[1]:+.2f}]",
                  "  " + _verdict(c)]
    if report.note:
        lines += ["", report.note]
    return "\n".join(lines)


def _verdict(c: Comparison) -> str:
    low, high = c.conversion_ci
    who = "personalization" if c.versus == HOLDOUT else f"the {c.arm}"
    if low > 0:
        return f"{who} converts better than the {c.versus} (the interval excludes zero)"
    if high < 0:
        return f"{who} converts WORSE than the {c.versus} (the interval excludes zero)"
    return "no clear difference yet (the interval includes zero): keep the experiment running"
