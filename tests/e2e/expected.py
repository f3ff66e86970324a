"""What the reports of a simulator run must say, computed from the simulator's ground truth.

Written independently of the pipeline (plain Python over ``visits.jsonl``, no Spark code): a
report that disagrees points at a bug somewhere between the collector and the HTML page.

docs/demo.md says how each kind of visitor reaches the reports:

- people with cookies (JS and no-JS visitors): exactly one session per simulated visit, so
  every figure is exact;
- crawlers: flagged as bots and left out of the reports;
- Do-Not-Track visitors: cookieless, counted the collector's way (a hash of site, network and
  browser per day), which the simulator cannot know. Their sessions are therefore taken from
  the pipeline's own sessions table (``anon-`` visitor ids) and added as they are; what the
  truth does fix for them is checked apart: every page view arrives, and there are at most as
  many cookieless sessions as DNT visits (visits can only merge). Their orders carry no visitor
  id at all and are in no session.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

CHECKOUT = ("product_view", "add_to_cart", "begin_checkout", "purchase")  # the report's funnel
COOKIELESS = "anon-"


def path(url: str | None) -> str | None:
    return None if url is None else (urlsplit(url).path or "/")


def cookie_visits(visits: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """People's visits that carried the collector's cookie (neither crawlers nor DNT)."""
    return [v for v in visits if v["kind"] != "bot" and not v["dnt"]]


def session_shape(visit: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a visit must look like as a row of the sessions table."""
    return (visit["landing_path"], path(visit["exit_page"]), visit["page_views"],
            visit["cart_adds"], visit["purchases"], visit["purchased"],
            round(visit["revenue"], 2), visit["bounce"], visit["source"], visit["campaign"],
            visit["device"])


def row_shape(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["landing_page"], row["exit_page"], row["page_views"], row["cart_adds"],
            row["orders"], row["converted"], round(row["revenue"], 2), row["bounce"],
            row["referrer_class"], row["utm_campaign"], row["device"])


def funnel_reach(types: list[str]) -> int:
    """How many :data:`CHECKOUT` steps an ordered list of event types reaches (greedy)."""
    reached = 0
    for kind in types:
        if reached < len(CHECKOUT) and kind == CHECKOUT[reached]:
            reached += 1
    return reached


def visit_reach(visit: Mapping[str, Any]) -> int:
    """The truth's funnel depth counts page_view first: the checkout funnel is the rest."""
    return max(0, visit["funnel_depth"] - 1)


def report_figures(visits: list[dict[str, Any]], anon_sessions: list[dict[str, Any]],
                   anon_reach: Mapping[str, int]) -> dict[str, Any]:
    """Traffic summary, sessions by source, checkout funnel and campaigns, as the reports
    must show them: cookie visits from the truth plus the cookieless sessions as counted."""
    cookie = cookie_visits(visits)
    anon = [s for s in anon_sessions if not s["is_bot"]]
    by_source: Counter[str] = Counter(v["source"] for v in cookie)
    by_source.update(s["referrer_class"] or "(none)" for s in anon)
    funnel = [sum(1 for v in cookie if visit_reach(v) > i)
              + sum(1 for s in anon if anon_reach.get(s["session_id"], 0) > i)
              for i in range(len(CHECKOUT))]
    campaigns: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0])
    for v in cookie:
        row = campaigns[v["campaign"] or "(none)"]
        row[0] += 1
        row[1] += 1 if v["purchased"] else 0
        row[2] += round(v["revenue"] * 100)
    for s in anon:
        row = campaigns[s["utm_campaign"] or "(none)"]
        row[0] += 1
        row[1] += 1 if s["converted"] else 0
        row[2] += round(s["revenue"] * 100)
    return {
        "sessions": len(cookie) + len(anon),
        "visitors": len({v["visitor"] for v in cookie}) + len({s["visitor_id"] for s in anon}),
        "page_views": sum(v["page_views"] for v in cookie) + sum(s["page_views"] for s in anon),
        "bounces": sum(v["bounce"] for v in cookie) + sum(s["bounce"] for s in anon),
        "by_source": dict(by_source),
        "funnel": funnel,
        "campaigns": {name: (int(n), int(conv), cents / 100)
                      for name, (n, conv, cents) in campaigns.items()},
        "orders": sum(v["purchases"] for v in cookie),
        "revenue": sum(round(v["revenue"] * 100) for v in cookie) / 100,
    }


def pct(part: int, whole: int) -> str:
    """A rate as the report writes it (percent, two decimals)."""
    return f"{round(part * 100.0 / whole, 2):.2f}"


# --- the "cart not empty" baseline of the intent model -----------------------------------------


def cart_baseline_auc(events: list[dict[str, Any]], gap_s: float = 1800.0) -> float:
    """ROC AUC of "the cart is not empty" on the model's examples, from lake events.

    The worker's examples (docs/personalization.md): after every event but page pings, the
    visitor's state is a snapshot, labelled positive when a purchase follows in the same
    session (a new session after ``gap_s`` of inactivity), negative otherwise. The cart is the
    visitor's across sessions: adds add, removes remove the product, a purchase empties it.
    Crawlers are not learned from. (The worker keeps at most 30 snapshots per session by
    reservoir sampling; this counts them all, which moves the figure very little.)
    """
    by_visitor: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if not e["is_bot"] and e["visitor_id"]:  # a DNT order has no visitor: not learned
            by_visitor[e["visitor_id"]].append(e)
    scores: list[tuple[float, bool]] = []
    for rows in by_visitor.values():
        rows.sort(key=lambda e: (e["ts"], e["event_id"]))
        cart: dict[str, int] = {}
        session: list[float] = []  # cart-not-empty scores waiting for their label
        last = None
        for e in rows:
            ts = e["ts"].timestamp()
            if last is not None and ts - last > gap_s:
                scores.extend((s, False) for s in session)
                session = []
            last = ts
            kind = e["event_type"]
            if kind == "purchase":
                scores.extend((s, True) for s in session)
                session = []
                cart = {}
            elif kind == "add_to_cart" and e["sku"]:
                cart[e["sku"]] = cart.get(e["sku"], 0) + (e["quantity"] or 1)
            elif kind == "remove_from_cart" and e["sku"]:
                cart.pop(e["sku"], None)
            if kind != "page_ping":
                session.append(1.0 if cart else 0.0)
        scores.extend((s, False) for s in session)
    return auc(scores)


def auc(scored: list[tuple[float, bool]]) -> float:
    """Mann-Whitney ROC AUC (ties count one half)."""
    positives = [s for s, y in scored if y]
    negatives = sorted(s for s, y in scored if not y)
    if not positives or not negatives:
        raise ValueError("AUC needs positives and negatives")
    import bisect

    wins = 0.0
    for p in positives:
        below = bisect.bisect_left(negatives, p)
        ties = bisect.bisect_right(negatives, p) - below
        wins += below + 0.5 * ties
    return wins / (len(positives) * len(negatives))
