"""Item-to-item recommendations, learned online: viewed together, bought together, popular.

Counts, not a model, because they are explainable to a merchandiser, exact under restarts
(the worker stores them as increments in the same transaction as its Kafka offsets) and merge
across several workers by simple addition:

- *viewed together*: when a session views product B for the first time, every product A viewed
  earlier in that session gets ``A<->B`` +1;
- *bought together*: every pair of products in one order gets +1 (weighted 3 in the score:
  a purchase says more than a glance);
- *popularity*: views + 5 x orders, the fallback when the graph knows nothing useful.

A visitor's candidates are scored from seeds (cart items weigh 2; the last 5 products viewed
this session, or in earlier sessions between visits, and products just bought weigh 1):
``score(c) = sum(weight(s) * (viewed_together(s, c) + 3 * bought_together(s, c)))``, ties
broken by popularity then SKU, topped up from popularity. Never recommended: what is in the
cart, what was bought in the last 30 days, the product being looked at, and products we know no
name or URL for (nothing to link to).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from personalization.observation import Item
from personalization.profile import Profile

BUY_WEIGHT = 3
POPULAR_BUY_WEIGHT = 5
MAX_NEIGHBOURS = 200  # per item, in memory; the weakest are pruned beyond this
RECENTLY_BOUGHT_S = 30 * 86_400


@dataclass
class GraphDelta:
    """Increments since the last checkpoint, for the store to add atomically."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalogue upserts
    views: Counter[str] = field(default_factory=Counter)
    buys: Counter[str] = field(default_factory=Counter)
    coview: Counter[tuple[str, str]] = field(default_factory=Counter)
    cobuy: Counter[tuple[str, str]] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.items or self.views or self.buys or self.coview or self.cobuy)


def page_url(url: str | None) -> str | None:
    """A product page URL without query or fragment (no UTM tags, no session ids)."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class ItemGraph:
    """Catalogue, popularity and co-occurrence counts, with the increments not yet stored."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.views: Counter[str] = Counter()
        self.buys: Counter[str] = Counter()
        self.coview: dict[str, Counter[str]] = {}
        self.cobuy: dict[str, Counter[str]] = {}
        self.delta = GraphDelta()

    # --- learning -----------------------------------------------------------------------------

    def observe_item(self, item: Item, url: str | None = None) -> None:
        """Remember what an event says about a product (name, price, category, page URL)."""
        known = self.items.get(item.sku, {})
        info = {
            "sku": item.sku,
            "name": item.name or known.get("name"),
            "url": page_url(url) or known.get("url"),
            "price": item.price if item.price is not None else known.get("price"),
            "category": item.category or known.get("category"),
        }
        if info != known:
            self.items[item.sku] = info
            self.delta.items[item.sku] = info

    def observe_view(self, sku: str, viewed_before: Iterable[str]) -> None:
        self.views[sku] += 1
        self.delta.views[sku] += 1
        for other in viewed_before:
            if other != sku:
                self._pair(self.coview, self.delta.coview, sku, other, 1)

    def observe_order(self, skus: Iterable[str]) -> None:
        distinct = list(dict.fromkeys(skus))
        for sku in distinct:
            self.buys[sku] += 1
            self.delta.buys[sku] += 1
        for i, a in enumerate(distinct):
            for b in distinct[i + 1:]:
                self._pair(self.cobuy, self.delta.cobuy, a, b, 1)

    def _pair(self, graph: dict[str, Counter[str]], delta: Counter[tuple[str, str]],
              a: str, b: str, n: int) -> None:
        for x, y in ((a, b), (b, a)):
            neighbours = graph.setdefault(x, Counter())
            neighbours[y] += n
            delta[(x, y)] += n
            if len(neighbours) > MAX_NEIGHBOURS:
                for weakest, _ in neighbours.most_common()[MAX_NEIGHBOURS // 2:]:
                    del neighbours[weakest]

    def clear_delta(self) -> None:
        """Forget the increments: the store has them now."""
        self.delta = GraphDelta()

    def load(self, items: Mapping[str, dict[str, Any]], views: Mapping[str, int],
             buys: Mapping[str, int], coview: Iterable[tuple[str, str, int]],
             cobuy: Iterable[tuple[str, str, int]]) -> None:
        """Replace the counts with what a store holds (the worker's start, or a refresh)."""
        self.items = {sku: dict(info) for sku, info in items.items()}
        self.views = Counter(views)
        self.buys = Counter(buys)
        self.coview, self.cobuy = {}, {}
        for a, b, n in coview:
            self.coview.setdefault(a, Counter())[b] = n
        for a, b, n in cobuy:
            self.cobuy.setdefault(a, Counter())[b] = n
        # increments not yet stored stay pending, and count locally too
        pending = self.delta
        for sku, info in pending.items.items():
            self.items[sku] = info
        self.views.update(pending.views)
        self.buys.update(pending.buys)
        for (a, b), n in pending.coview.items():
            self.coview.setdefault(a, Counter())[b] += n
        for (a, b), n in pending.cobuy.items():
            self.cobuy.setdefault(a, Counter())[b] += n

    # --- recommending -------------------------------------------------------------------------

    def popularity(self, sku: str) -> int:
        return self.views[sku] + POPULAR_BUY_WEIGHT * self.buys[sku]

    def _linkable(self, sku: str) -> bool:
        info = self.items.get(sku)
        return bool(info and info.get("name") and info.get("url"))

    def public(self, sku: str) -> dict[str, Any]:
        info = self.items[sku]
        return {"sku": sku, "name": info["name"], "url": info["url"], "price": info.get("price")}

    def popular(self, k: int = 20, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The ``k`` most popular linkable items not in ``exclude``."""
        skip = set(exclude)
        ranked = sorted((sku for sku in self.items if sku not in skip and self._linkable(sku)),
                        key=lambda sku: (-self.popularity(sku), sku))
        return [self.public(sku) for sku in ranked[:k]]

    def popular_order(self) -> list[str]:
        """Every linkable sku, most popular first: :meth:`popular` of any ``exclude`` is its
        first ``k`` not excluded. A checkpoint recommends for thousands of profiles against the
        same counts, so it sorts the catalogue once for all of them, not once per profile."""
        return sorted((sku for sku in self.items if self._linkable(sku)),
                      key=lambda sku: (-self.popularity(sku), sku))

    def recommend(self, seeds: Mapping[str, float], exclude: Iterable[str],
                  k: int = 4, popular_order: list[str] | None = None) -> list[dict[str, Any]]:
        """Up to ``k`` items for ``seeds`` (sku -> weight), never one of ``exclude``; the
        shortfall from the most popular items (``popular_order``, when the caller has it)."""
        skip = set(exclude)
        scores: Counter[str] = Counter()
        for seed, weight in seeds.items():
            for other, n in self.coview.get(seed, {}).items():
                scores[other] += weight * n
            for other, n in self.cobuy.get(seed, {}).items():
                scores[other] += weight * BUY_WEIGHT * n
        ranked = sorted((sku for sku in scores if sku not in skip and self._linkable(sku)),
                        key=lambda sku: (-scores[sku], -self.popularity(sku), sku))
        chosen = ranked[:k]
        if len(chosen) < k and popular_order is not None:
            taken = skip | set(chosen)
            for sku in popular_order:
                if sku not in taken:
                    chosen.append(sku)
                    if len(chosen) == k:
                        break
        elif len(chosen) < k:
            chosen += [item["sku"] for item in self.popular(k - len(chosen), skip | set(chosen))]
        return [self.public(sku) for sku in chosen]

    def for_profile(self, profile: Profile, now: float, k: int = 4,
                    popular_order: list[str] | None = None) -> list[dict[str, Any]]:
        """Recommendations for a visitor's current state (see the module docstring)."""
        return self.recommend(*seeds_and_exclusions(profile, now), k=k,
                              popular_order=popular_order)


def seeds_and_exclusions(profile: Profile, now: float) -> tuple[dict[str, float], set[str]]:
    """Seeds (sku -> weight) and the skus never to recommend to ``profile`` at ``now``."""
    seeds: dict[str, float] = {}
    exclude = set(profile.cart)
    for sku, when in profile.history.bought.items():
        if now - when <= RECENTLY_BOUGHT_S:
            exclude.add(sku)
            seeds[sku] = 1.0
    session = profile.session
    viewed = session.viewed if session is not None else profile.history.viewed
    for sku in viewed[-5:]:
        seeds[sku] = seeds.get(sku, 0.0) + 1.0
    if session is not None and session.viewed:
        exclude.add(session.viewed[-1])  # the product being looked at
    for sku in profile.cart:
        seeds[sku] = seeds.get(sku, 0.0) + 2.0
    return seeds, exclude
