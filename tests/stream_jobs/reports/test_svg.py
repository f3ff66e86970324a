"""The report charts' SVG (pure functions: no Spark, no browser)."""

from __future__ import annotations

import re

from stream_jobs.reports.svg import funnel_chart, line_chart


def _values(svg: str) -> list[tuple[str, str]]:
    """(attributes, text) of each value label."""
    return re.findall(r'<text class="value"([^>]*)>([^<]*)</text>', svg)


def test_a_funnel_number_goes_beside_a_bar_too_narrow_for_it() -> None:
    svg = funnel_chart(["Viewed", "Bought"], [10_000.0, 3.0], ["10000", "3"], "f", chart_id="f")
    (wide_attrs, wide), (narrow_attrs, narrow) = _values(svg)
    assert (wide, narrow) == ("10000", "3")
    assert 'fill="#fff"' in wide_attrs and 'text-anchor="middle"' in wide_attrs
    assert 'fill="#222"' in narrow_attrs and "text-anchor" not in narrow_attrs
    bar_right = [float(x) + float(w) for x, w in
                 re.findall(r'<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]
    narrow_x = float(re.search(r'x="([\d.]+)"', narrow_attrs).group(1))
    assert narrow_x > bar_right[1]  # starts right of the narrow bar


def test_line_chart_end_ticks_are_anchored_inside_the_plot() -> None:
    days = ["2026-11-01", "2026-11-02", "2026-11-03"]
    svg = line_chart(days, [("visitors", [1.0, 2.0, 3.0], ["1", "2", "3"])], "t", chart_id="t")
    ticks = dict((label, anchor) for anchor, label in
                 re.findall(r'<text class="tick" [^>]*text-anchor="(\w+)">(\d{4}-[^<]+)</text>',
                            svg))
    assert ticks == {"2026-11-01": "start", "2026-11-02": "middle", "2026-11-03": "end"}
    single = line_chart(days[:1], [("v", [1.0], ["1"])], "t", chart_id="t")
    assert 'text-anchor="middle">2026-11-01<' in single
