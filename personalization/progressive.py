"""Progressive validation of the intent model: every prediction is scored when its label comes.

Each prediction was made *before* the model saw its label (it is stored with its snapshot), so
these figures are honest out-of-sample estimates, computed online with nothing held out:

- ROC AUC (River's ``ROCAUC``, thresholded; 100 thresholds keep it within a point of the exact
  value for probabilities in the low range an intent model lives in);
- log loss (River's ``LogLoss``), with the no-skill log loss of always predicting the observed
  base rate next to it — a model must beat that to be worth anything;
- calibration by decile of the probability scale (0–0.1, 0.1–0.2, ...): mean prediction
  versus observed purchase rate in each bin.

>>> m = ProgressiveMetrics()
>>> for y, p in [(True, 0.9), (False, 0.2), (True, 0.7), (False, 0.1)]:
...     m.update(y, p)
>>> s = m.summary()
>>> s["labels"], s["positives"], s["roc_auc"]
(4, 2, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

from river import metrics


class ProgressiveMetrics:
    """ROC AUC, log loss and calibration of predictions scored at label time."""

    def __init__(self, n_thresholds: int = 100):
        self.n_thresholds = n_thresholds
        self.roc_auc = metrics.ROCAUC(n_thresholds=n_thresholds)
        self.log_loss = metrics.LogLoss()
        self.labels = 0
        self.positives = 0
        self.bins = [[0, 0.0, 0] for _ in range(10)]  # count, sum of p, positives

    def update(self, y: bool, p: float) -> None:
        p = min(1.0, max(0.0, p))
        self.roc_auc.update(y, p)
        self.log_loss.update(y, p)
        self.labels += 1
        self.positives += int(y)
        cell = self.bins[min(9, int(p * 10))]
        cell[0] += 1
        cell[1] += p
        cell[2] += int(y)

    def summary(self) -> dict[str, Any]:
        """Plain numbers for the API and logs (None where there is nothing to say yet)."""
        base = self.positives / self.labels if self.labels else None
        both_classes = 0 < self.positives < self.labels
        return {
            "labels": self.labels,
            "positives": self.positives,
            "base_rate": _round(base),
            "roc_auc": _round(self.roc_auc.get()) if both_classes else None,
            "log_loss": _round(self.log_loss.get()) if self.labels else None,
            "no_skill_log_loss": _round(_entropy(base)) if both_classes else None,
            "calibration": [
                {"bin": f"{i / 10:.1f}-{(i + 1) / 10:.1f}", "count": n,
                 "mean_predicted": _round(sp / n), "observed_rate": _round(pos / n)}
                for i, (n, sp, pos) in enumerate(self.bins) if n
            ],
        }


def _entropy(rate: float | None) -> float | None:
    if rate is None or rate <= 0 or rate >= 1:
        return None
    return -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
