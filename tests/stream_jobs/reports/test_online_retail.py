"""Lifecycle and basket reports on the imported Online Retail file, against pandas.

The expected figures are computed here with pandas straight from the CSV, following the
documented rules (docs/reports.md), with no code of the import or the reports: an invoice's
positive lines are one purchase, a line with more than 10,000 units is rejected, a customer is
the CustomerID (else the one-off ``import-g<invoice>``), RFM scores from percent ranks,
stages and cohorts by calendar month, pairs with support/confidence/lift. Every compared
figure must be equal (rounded the way Spark's ``round`` rounds: half up on the shortest
decimal text of the double).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from stream_jobs.importing.job import read_import
from stream_jobs.importing.job import run as run_import
from stream_jobs.reports.job import run as run_reports

pytestmark = pytest.mark.spark

RETAIL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "online-retail" / \
    "online_retail.csv.gz"
START, END = date(2010, 12, 1), date(2011, 1, 31)
TOP = 15


def rnd(value: float, places: int) -> float:
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places),
                                                     rounding=ROUND_HALF_UP))


@pytest.fixture(scope="module")
def written(spark, spark_settings, tmp_path_factory):
    if not RETAIL.is_file():
        pytest.skip(f"{RETAIL} is absent (../shared/data, see its README)")
    base = tmp_path_factory.mktemp("retail")
    settings = dataclasses.replace(spark_settings, state_dir=base / "state",
                                   lake_dir=base / "lake")
    run_import(spark, settings, read_import("orders", RETAIL, progress=False))
    _, reports = run_reports(spark, settings, START, END, ["lifecycle", "baskets"], top_n=TOP)
    return {w.name: w for w in reports}


@pytest.fixture(scope="module")
def purchases():
    """One row per purchase invoice: customer, day, revenue; and the purchase lines."""
    pd = pytest.importorskip("pandas")
    if not RETAIL.is_file():
        pytest.skip(f"{RETAIL} is absent")
    raw = pd.read_csv(RETAIL, dtype=str, keep_default_na=False)
    raw["q"] = raw["Quantity"].astype(int)
    raw = raw[raw["q"].abs() <= 10_000]
    lines = raw[~raw["InvoiceNo"].str.startswith("C") & (raw["q"] > 0)].copy()
    lines["amount"] = [Decimal(q) * Decimal(p) for q, p in zip(lines["q"], lines["UnitPrice"],
                                                                strict=True)]
    # the data is GMT all through (Dec-Jan): local time is UTC
    lines["day"] = pd.to_datetime(lines["InvoiceDate"]).dt.date
    lines["customer"] = [c if c else f"import-g{i}"
                         for c, i in zip(lines["CustomerID"], lines["InvoiceNo"], strict=True)]
    invoices = lines.groupby("InvoiceNo").agg(customer=("customer", "first"),
                                              day=("day", "min"), amount=("amount", "sum"))
    invoices["revenue"] = [float(a.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
                           for a in invoices["amount"]]
    return invoices.reset_index(), lines


def table(written, report: str, name: str) -> list[dict]:
    t = written[report].tables[name]
    return [dict(zip(t.columns, row, strict=True)) for row in t.rows]


def rfm(invoices):
    per = invoices.groupby("customer").agg(orders=("InvoiceNo", "nunique"),
                                           revenue=("revenue", "sum"), last=("day", "max"))
    per["revenue"] = [rnd(v, 2) for v in per["revenue"]]
    per["recency"] = [(END - d).days for d in per["last"]]
    n = len(per)

    def score(column: str, lower_is_better: bool = False):
        pr = (per[column].rank(method="min") - 1) / (n - 1)
        raw = [min(5, 1 + math.floor(p * 5)) for p in pr]
        return [6 - r for r in raw] if lower_is_better else raw

    per["r"], per["f"] = score("recency", True), score("orders")

    def seg(r, f):
        if r >= 4 and f >= 4:
            return "Champions"
        if r >= 3 and f >= 3:
            return "Loyal"
        if r >= 4 and f == 1:
            return "New customers"
        if r >= 4:
            return "Potential loyalists"
        if r == 3:
            return "Needs attention"
        return "At risk" if f >= 3 else "Hibernating"

    per["segment"] = [seg(r, f) for r, f in zip(per["r"], per["f"], strict=True)]
    return per


def test_rfm_segments_and_the_80_20_share_match_pandas(written, purchases):
    invoices, _ = purchases
    per = rfm(invoices)
    total = sum(per["revenue"])
    got = {r["segment"]: r for r in table(written, "lifecycle", "rfm_segments")}
    expected_segments = per.groupby("segment").agg(customers=("orders", "size"),
                                                    revenue=("revenue", "sum"))
    assert sum(r["customers"] for r in got.values()) == len(per)
    for segment, row in got.items():
        want = expected_segments.loc[segment] if segment in expected_segments.index else None
        assert row["customers"] == (0 if want is None else want["customers"]), segment
        if want is not None:
            assert row["revenue"] == rnd(want["revenue"], 2), segment
            assert row["revenue_share_pct"] == rnd(row["revenue"] * 100.0 / rnd(total, 2), 2)
    ranked = per.sort_values(["revenue"], ascending=False)
    k = math.ceil(len(per) * 0.2)
    (summary,) = table(written, "lifecycle", "summary")
    top = rnd(ranked["revenue"].iloc[:k].sum(), 2)
    assert (summary["customers"], summary["orders"], summary["top20_customers"]) == (
        len(per), len(invoices), k)
    assert summary["top20_revenue"] == top
    assert summary["revenue"] == rnd(total, 2)


def months(day) -> int:
    return day.year * 12 + day.month - 1


def test_cohorts_and_stage_movements_match_pandas(written, purchases):
    invoices, _ = purchases
    invoices = invoices.assign(month=[months(d) for d in invoices["day"]])
    active = invoices.groupby(["customer", "month"]).agg(revenue=("revenue", "sum")).reset_index()
    first = active.groupby("customer")["month"].min()
    active["first"] = [first[c] for c in active["customer"]]
    sizes = active[active["month"] == active["first"]].groupby("first").size()
    expected = sorted(
        (f, m - f, int(sizes[f]), int(n))
        for (f, m), n in active.groupby(["first", "month"]).size().items())
    got = sorted((months(r["cohort"]), r["months_since"], r["cohort_customers"], r["customers"])
                 for r in table(written, "lifecycle", "cohorts"))
    assert got == expected
    assert len(expected) == 3  # two cohorts: Dec (months 0, 1) and Jan (month 0)

    bought = {(c, m) for c, m in zip(active["customer"], active["month"], strict=True)}
    stages = {months(r["month"]): r for r in table(written, "lifecycle", "stages")}
    assert sorted(stages) == [months(START), months(END)]
    for month, row in stages.items():
        here = active[active["month"] == month]
        new = here[here["first"] == month]
        came_back = here["customer"].map(lambda c, m=month: (c, m - 1) in bought).astype(bool)
        repeat = here[(here["first"] != month) & came_back]
        lapsed = {c for c, m in bought if m == month - 1} - set(here["customer"])
        won_back = len(here) - len(new) - len(repeat)
        assert (row["new"], row["repeat"], row["won_back"], row["lapsed"]) == (
            len(new), len(repeat), won_back, len(lapsed)), month
        assert row["revenue_new"] == rnd(new["revenue"].sum(), 2)
        assert row["revenue_repeat"] == rnd(repeat["revenue"].sum(), 2)
    assert stages[months(END)]["repeat"] > 0 and stages[months(END)]["lapsed"] > 0


def test_product_pairs_match_pandas(written, purchases):
    invoices, lines = purchases
    n = len(invoices)
    held = lines[["InvoiceNo", "StockCode"]].drop_duplicates()
    counts = held.groupby("StockCode").size()
    least = max(3, math.ceil(0.02 * n))  # the documented minimum support
    frequent = held[held["StockCode"].map(counts) >= least]
    both = frequent.merge(frequent, on="InvoiceNo")
    both = both[both["StockCode_x"] < both["StockCode_y"]]
    pair_counts = both.groupby(["StockCode_x", "StockCode_y"]).size().reset_index(name="b")
    pair_counts = pair_counts[pair_counts["b"] >= least]
    pair_counts["ba"] = pair_counts["StockCode_x"].map(counts)
    pair_counts["bb"] = pair_counts["StockCode_y"].map(counts)
    pair_counts["lift"] = [rnd(b * float(n) / (a * c), 4) for b, a, c in zip(
        pair_counts["b"], pair_counts["ba"], pair_counts["bb"], strict=True)]
    best = pair_counts.sort_values(["b", "lift", "StockCode_x", "StockCode_y"],
                                   ascending=[False, False, True, True]).head(TOP)
    # the importer trims cells, as the docs say: names without surrounding spaces
    trimmed = lines.assign(Description=lines["Description"].str.strip())
    names = trimmed[trimmed["Description"] != ""].groupby("StockCode")["Description"].min()
    expected = [(x, names.get(x), y, names.get(y), int(b), int(a), int(c), rnd(b / float(n), 6),
                 rnd(b / a, 4), rnd(b / c, 4), lift)
                for x, y, b, a, c, lift in best[["StockCode_x", "StockCode_y", "b", "ba", "bb",
                                                "lift"]].itertuples(index=False)]
    got = [tuple(r.values()) for r in table(written, "baskets", "product_pairs")]
    assert got == expected
    assert len(got) == TOP


def test_basket_size_by_day_matches_pandas(written, purchases):
    invoices, lines = purchases
    per_invoice = lines.groupby("InvoiceNo").agg(units=("q", "sum"),
                                                 products=("StockCode", "nunique"))
    joined = invoices.set_index("InvoiceNo").join(per_invoice)
    days = {r["date"]: r for r in table(written, "baskets", "daily")}
    assert len(days) == (END - START).days + 1
    for day, group in joined.groupby("day"):
        row = days[day]
        k = len(group)
        assert (row["orders"], row["avg_units"], row["avg_products"]) == (
            k, rnd(group["units"].sum() / k, 2), rnd(group["products"].sum() / k, 2)), day
        assert row["revenue"] == rnd(group["revenue"].sum(), 2)
    assert sum(r["orders"] for r in days.values()) == len(invoices)
    (summary,) = table(written, "baskets", "summary")
    assert summary["baskets"] == len(invoices)
