"""The uplift report: statistics checked against hand calculations, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clickloop.cli import main
from personalization.stores.embedded import EmbeddedStore
from personalization.uplift import exposed_rows, format_report, uplift
from tests.personalization.builders import buy, epoch, event, shown
from tests.personalization.helpers import seed


def rows(arm: str, visitors: int, converted: int, revenue_each: float) -> list:
    return [(arm, True, revenue_each)] * converted + [(arm, False, 0.0)] * (visitors - converted)


def test_conversion_and_revenue_differences_with_their_intervals() -> None:
    report = uplift(rows("holdout", 200, 10, 50.0) + rows("rules", 200, 30, 60.0))
    holdout, rules = report.arms["holdout"], report.arms["rules"]
    assert (holdout.visitors, holdout.converted, holdout.revenue) == (200, 10, 500.0)
    assert (rules.conversion, rules.revenue_per_visitor) == (0.15, 9.0)
    (c,) = report.comparisons
    # by hand: SE = sqrt(.15 x .85 / 200 + .05 x .95 / 200) = 0.029580, z = 1.959964
    assert c.conversion_diff == pytest.approx(0.10)
    assert c.conversion_ci == pytest.approx((0.042025, 0.157975), abs=1e-5)
    assert c.conversion_relative == pytest.approx(2.0)
    # by hand: var(rules) = 91800 / 199, var(holdout) = 23750 / 199, SE = 1.703898
    assert c.revenue_diff == pytest.approx(6.5)
    assert c.revenue_ci == pytest.approx((3.160423, 9.839577), abs=1e-5)
    text = format_report(report, "Uplift")
    assert "+10.00 points (+200.0% relative), 95% CI [+4.20, +15.80]" in text
    assert "interval excludes zero" in text


def test_an_interval_across_zero_says_keep_going_and_no_holdout_says_so() -> None:
    report = uplift(rows("holdout", 50, 5, 10.0) + rows("rules", 50, 6, 10.0))
    assert report.comparisons[0].conversion_ci[0] < 0 < report.comparisons[0].conversion_ci[1]
    assert "keep the experiment running" in format_report(report, "Uplift")
    lonely = uplift(rows("rules", 50, 6, 10.0))
    assert lonely.comparisons == [] and "no holdout visitors" in (lonely.note or "")


def exposure_story() -> list[dict]:
    """Ann (rules) buys after seeing the hero; Bob (holdout) bought before his exposure and
    not after; Cy (rules) only saw the recommended slot and buys; Di was never exposed."""
    return [
        shown("ann", 0, "hero", "discount", "rules", "d-a"),
        buy("ann", 5, "o-a", {"JK-1": 1}),
        buy("bob", 0, "o-b0", {"SH-1": 1}),
        shown("bob", 2, "hero", "default", "holdout", "d-b"),
        shown("cy", 0, "recommended", "bestsellers", "rules", "d-c"),
        buy("cy", 3, "o-c", {"SK-1": 2}),
        event("page_view", "di", 0),
        shown("ed", 0, "hero", "default", "holdout", "d-e"),
    ]


def test_rows_come_from_exposed_profiles_only(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    seed(store, exposure_story(), now=epoch(60))
    everyone = sorted(exposed_rows(store.iter_profiles()))
    assert everyone == [("holdout", False, 0.0), ("holdout", False, 0.0),
                        ("rules", True, 38.0), ("rules", True, 189.0)]
    assert sorted(exposed_rows(store.iter_profiles(), slot="hero")) == [
        ("holdout", False, 0.0), ("holdout", False, 0.0), ("rules", True, 189.0)]
    assert list(exposed_rows(store.iter_profiles(), since=epoch(1))) == [
        ("holdout", False, 0.0)]


def test_clickloop_report_uplift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    store = EmbeddedStore(tmp_path / "state" / "personalization")
    seed(store, exposure_story(), now=epoch(60))
    monkeypatch.setenv("CLICKLOOP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CLICKLOOP_REDIS_URL", raising=False)
    assert main(["report", "uplift", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["arms"]["rules"] == {"visitors": 2, "converted": 2, "conversion": 1.0,
                                     "revenue": 227.0, "revenue_per_visitor": 113.5}
    assert body["arms"]["holdout"]["visitors"] == 2
    assert body["comparisons"][0]["conversion_diff"] == 1.0
    assert main(["report", "uplift", "--slot", "hero"]) == 0
    assert "Uplift of personalization over the holdout in slot 'hero'" in capsys.readouterr().out
    assert main(["report", "uplift", "--since", "yesterday"]) == 2
    assert "is not a date" in capsys.readouterr().err
