"""Inline SVG charts (no script, no CDN): a report page must open anywhere, even offline.

Every mark carries ``data-label`` and ``data-value``; ``data-value`` is the table cell's text as
written to the CSV, and the visible value labels are the same text, so what a marketer reads on
the chart is exactly what the spreadsheet holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 760
LABEL_WIDTH = 250
VALUE_WIDTH = 90
ROW = 24
PALETTE = ("#3867d6", "#20bf6b", "#fa8231", "#8854d0", "#eb3b5a", "#0fb9b1")


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(labels: Sequence[str], values: Sequence[float], texts: Sequence[str],
              title: str, *, chart_id: str) -> str:
    """Horizontal bars, one row per label, longest bar = largest value."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = ROW * len(labels) + 10
    parts = [f'<svg class="chart bar-chart" id="{escape(chart_id)}" role="img" '
             f'aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        y = 5 + i * ROW
        width = max(1.0, span * (value or 0.0) / top)
        parts.append(
            f'<g class="row"><title>{escape(label)}: {escape(text)}</title>'
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end">'
            f'{escape(_short(label))}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" '
            f'height="{ROW - 6}" fill="{PALETTE[0]}" data-label="{escape(label)}" '
            f'data-value="{escape(text)}"/>'
            f'<text class="value" x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 16}">'
            f'{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def funnel_chart(labels: Sequence[str], values: Sequence[float], texts: Sequence[str],
                 title: str, *, chart_id: str) -> str:
    """A funnel: centred bars whose width is the step's share of the first step."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    row = 46
    height = row * len(labels) + 10
    parts = [f'<svg class="chart funnel-chart" id="{escape(chart_id)}" role="img" '
             f'aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">']
    centre = LABEL_WIDTH + (WIDTH - LABEL_WIDTH) / 2
    span = WIDTH - LABEL_WIDTH - 20
    for i, (label, value, text) in enumerate(zip(labels, values, texts, strict=True)):
        y = 5 + i * row
        width = max(2.0, span * (value or 0.0) / top)
        if width >= _text_width(text) + 8:  # white on the bar
            value_mark = (f'<text class="value" x="{centre:.1f}" y="{y + 26}" '
                          f'text-anchor="middle" fill="#fff" stroke="#0006" '
                          f'stroke-width="0.3">{escape(text)}</text>')
        else:  # a bar too narrow for its number: dark, beside the bar
            value_mark = (f'<text class="value" x="{centre + width / 2 + 6:.1f}" y="{y + 26}" '
                          f'fill="#222">{escape(text)}</text>')
        parts.append(
            f'<g class="step"><title>{escape(label)}: {escape(text)}</title>'
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 26}" text-anchor="end">'
            f'{escape(_short(label))}</text>'
            f'<rect class="bar" x="{centre - width / 2:.1f}" y="{y + 4}" width="{width:.1f}" '
            f'height="{row - 10}" rx="3" fill="{PALETTE[i % len(PALETTE)]}" '
            f'data-label="{escape(label)}" data-value="{escape(text)}"/>'
            f'{value_mark}</g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float],
                                                                   Sequence[str]]],
               title: str, *, chart_id: str) -> str:
    """One line per series over ``x_labels`` (dates), with a legend and point markers."""
    height, left, right, top_pad, bottom = 300, 60, 20, 30, 50
    plot_w, plot_h = WIDTH - left - right, height - top_pad - bottom
    top = max((v for _, values, _ in series for v in values if v is not None),
              default=0.0) or 1.0
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top_pad + plot_h * (1 - (v or 0.0) / top)

    parts = [f'<svg class="chart line-chart" id="{escape(chart_id)}" role="img" '
             f'aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
             f'<line class="axis" x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" '
             f'y2="{top_pad + plot_h}" stroke="#999"/>',
             f'<line class="axis" x1="{left}" y1="{top_pad}" x2="{left}" '
             f'y2="{top_pad + plot_h}" stroke="#999"/>',
             f'<text class="tick" x="{left - 6}" y="{top_pad + 4}" text-anchor="end">'
             f'{escape(_number(top))}</text>',
             f'<text class="tick" x="{left - 6}" y="{top_pad + plot_h + 4}" text-anchor="end">'
             f'0</text>']
    step = max(1, n // 8)
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            # the end ticks sit on the plot's edges: anchored inwards so they are not clipped
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text class="tick" x="{x(i):.1f}" y="{top_pad + plot_h + 18}" '
                         f'text-anchor="{anchor}">{escape(label)}</text>')
    for s, (name, values, texts) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" '
                     f'stroke="{colour}" stroke-width="2" points="{points}"/>')
        for i, (v, text) in enumerate(zip(values, texts, strict=True)):
            parts.append(f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" '
                         f'fill="{colour}" data-series="{escape(name)}" '
                         f'data-label="{escape(x_labels[i])}" data-value="{escape(text)}">'
                         f'<title>{escape(name)} {escape(x_labels[i])}: {escape(text)}</title>'
                         f'</circle>')
        lx = left + 10 + s * 150
        parts.append(f'<rect x="{lx}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text class="legend" x="{lx + 16}" y="16">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _text_width(text: str) -> float:
    """A generous width estimate for ``text`` in the page's 13 px sans-serif (no font metrics
    without a browser)."""
    return 8.0 * len(text)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"
