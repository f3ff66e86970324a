"""UTM parameters of a page URL: which campaign brought the visitor."""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from urllib.parse import parse_qsl, urlsplit

UTM_KEYS = ("source", "medium", "campaign", "term", "content")
# Click ids that ad platforms append to landing-page URLs; their presence means paid traffic.
PAID_CLICK_IDS = frozenset(
    {"gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "twclid", "li_fat_id",
     "yclid"}
)


def query_params(url: str | None) -> MappingProxyType[str, str]:
    """The query parameters of ``url``, keys lower-cased, first value wins; empty if none.

    Cached (read-only result): pages and landing URLs repeat across visitors.
    """
    if not url or "?" not in url:
        return _EMPTY
    return _query_params(url)


_EMPTY: MappingProxyType[str, str] = MappingProxyType({})


@lru_cache(maxsize=8192)
def _query_params(url: str) -> MappingProxyType[str, str]:
    try:
        query = urlsplit(url).query
    except ValueError:
        return _EMPTY
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key.lower(), value)
    return MappingProxyType(params)


def utm_block(url: str | None) -> dict[str, str] | None:
    """The contract's ``enrichment.utm`` block from ``utm_*`` parameters; None if there are none.

    >>> utm_block("https://shop.example.com/?utm_source=news&utm_medium=email&x=1")
    {'source': 'news', 'medium': 'email'}
    """
    params = query_params(url)
    if not params:
        return None
    block = {key: params[f"utm_{key}"][:256] for key in UTM_KEYS if params.get(f"utm_{key}")}
    return block or None


def has_paid_click_id(url: str | None) -> bool:
    """True when ``url`` carries an ad click id (gclid, fbclid, msclkid, ...)."""
    params = query_params(url)
    return bool(params) and not PAID_CLICK_IDS.isdisjoint(params)
