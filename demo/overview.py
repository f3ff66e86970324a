"""What ``clickloop demo`` prints at the end: a few report figures as terminal tables.

Read from the reports' own CSV files (the numbers a marketer downloads), never recomputed, so
what the terminal shows is what the HTML pages show.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a report CSV (empty when the file is missing)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table; numeric-looking cells are right-aligned."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def numeric(text: str) -> bool:
        return text.replace(",", "").replace(".", "", 1).replace("%", "").lstrip("-").isdigit()

    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if n and numeric(c) else c.ljust(w) for c, w in zip(row, widths,
                                                                                  strict=True)]
        lines.append("  " + "  ".join(parts).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _int(text: str) -> str:
    try:
        return f"{int(float(text)):,}"
    except ValueError:
        return text or "-"


def _pct(text: str) -> str:
    return f"{text} %" if text else "-"


def traffic_table(folder: Path) -> str | None:
    """Sessions, visitors and page views in total and by traffic source."""
    summary = read_csv(folder / "summary.csv")
    sources = read_csv(folder / "sources.csv")
    if not summary:
        return None
    s = summary[0]
    rows = [["all sources", _int(s["sessions"]), _int(s["visitors"]), _int(s["page_views"]),
             _pct(s["bounce_rate_pct"])]]
    rows += [[r["source"], _int(r["sessions"]), _int(r["visitors"]), "", ""] for r in sources]
    return text_table(["traffic", "sessions", "visitors", "page views", "bounce rate"], rows)


def funnel_table(folder: Path, funnel: str = "Checkout") -> str | None:
    """One funnel's steps: units reaching each step and the conversion from the first."""
    steps = [r for r in read_csv(folder / "funnel_steps.csv") if r["funnel"] == funnel]
    if not steps:
        return None
    unit = steps[0]["unit"]
    rows = [[f"{r['step']}. {r['step_name']}", _int(r[unit]), _pct(r["conversion_step_pct"]),
             _pct(r["conversion_overall_pct"])] for r in steps]
    return text_table([f"funnel {funnel!r}", unit, "from previous", "from first"], rows)


def model_line(summary: dict[str, Any] | None) -> str:
    """The intent model's progressive validation in one sentence."""
    if not summary:
        return ("intent model: no checkpoint yet (the worker learns once sessions close, 30 "
                "minutes of event time after their last event)")
    auc = summary.get("roc_auc")
    labels = summary.get("labels") or 0
    base = summary.get("base_rate")
    parts = [f"intent model ({summary.get('model', '?')}): progressive ROC AUC "
             f"{auc:.3f}" if auc is not None else
             f"intent model ({summary.get('model', '?')}): no AUC yet (needs buyers and "
             f"non-buyers among closed sessions)",
             f"over {labels:,} labelled page states"]
    if auc is not None and summary.get("cart_rule_auc") is not None:
        parts.append(f"the cart-not-empty rule scores {summary['cart_rule_auc']:.3f} on the same "
                     f"states")
    if base is not None:
        parts.append(f"base rate {base * 100:.1f} %")
    if summary.get("log_loss") is not None and summary.get("no_skill_log_loss") is not None:
        parts.append(f"log loss {summary['log_loss']:.3f} (no skill: "
                     f"{summary['no_skill_log_loss']:.3f})")
    return ", ".join(parts)
