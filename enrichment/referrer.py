"""Referrer class: what kind of traffic source brought a page view.

The rules, first match wins (documented in docs/collector.md):

1. ``paid``     -- the page URL carries an ad click id (gclid, gbraid, wbraid, dclid, msclkid,
                   fbclid, ttclid, twclid, li_fat_id, yclid) or ``utm_medium`` is a paid medium
                   (cpc, ppc, cpm, cpv, cpa, display, banner, retargeting, or anything starting
                   with ``paid``).
2. ``email``    -- ``utm_medium`` is email / e-mail / newsletter, or the referrer is a webmail
                   host (mail.google.com, outlook.live.com, mail.yahoo.com, ...).
3. ``social``   -- ``utm_medium`` is social / social-network / social-media / sm, or the
                   referrer is a social network (facebook.com, t.co, x.com, linkedin.com, ...).
4. ``search``   -- ``utm_medium`` is organic, or the referrer is a search engine (google.*,
                   bing.*, duckduckgo.com, yandex.*, baidu.com, ...).
5. ``internal`` -- the referrer is the page's own site (same host, ``www.`` ignored, or one a
                   subdomain of the other).
6. ``direct``   -- no referrer (absent, empty or ``-``) and no UTM parameters.
7. ``other``    -- anything else: a link from another site, or UTM tags with an unknown medium.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from enrichment.campaign import has_paid_click_id, query_params

PAID_MEDIA = frozenset({"cpc", "ppc", "cpm", "cpv", "cpa", "display", "banner", "retargeting"})
EMAIL_MEDIA = frozenset({"email", "e-mail", "e_mail", "newsletter"})
SOCIAL_MEDIA = frozenset({"social", "social-network", "social_network", "social-media",
                          "social_media", "sm"})
SEARCH_MEDIA = frozenset({"organic"})

WEBMAIL_HOSTS = frozenset({"mail.google.com", "outlook.live.com", "outlook.office.com",
                           "outlook.office365.com", "mail.yahoo.com", "mail.aol.com",
                           "mail.proton.me", "mail.yandex.ru"})
SOCIAL_HOSTS = frozenset({"facebook.com", "fb.com", "messenger.com", "instagram.com", "t.co",
                "twitter.com", "x.com", "linkedin.com", "lnkd.in", "pinterest.com", "reddit.com",
                "youtube.com", "tiktok.com", "tumblr.com", "vk.com", "threads.net",
                "mastodon.social", "news.ycombinator.com", "quora.com", "whatsapp.com",
                "snapchat.com", "bsky.app"})
# <engine>.<tld> or <engine>.<sld>.<cc>, on any subdomain: www.google.co.uk, search.yahoo.com.
SEARCH_HOST = re.compile(
    r"(?:^|\.)(?:google|bing|yahoo|duckduckgo|baidu|yandex|ecosia|qwant|ask|startpage|naver|"
    r"seznam|sogou|search\.brave|kagi|yahoo\.co)\.[a-z]{2,6}(?:\.[a-z]{2})?$"
)


def host_of(url: str | None) -> str | None:
    """Lower-case host of ``url`` without port; None for anything that has no host.

    >>> host_of("https://WWW.Google.co.uk:443/search?q=x")
    'www.google.co.uk'
    """
    if not url or url == "-":
        return None
    return _host_of(url)


@lru_cache(maxsize=8192)
def _host_of(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host[:256] if host else None


def referrer_class(page_url: str | None, referrer: str | None) -> str:
    """The traffic class of a page view (see the module docstring for the rules).

    >>> referrer_class("https://shop.example.com/?gclid=abc", "https://www.google.com/")
    'paid'
    >>> referrer_class("https://shop.example.com/", "https://www.google.co.uk/")
    'search'
    >>> referrer_class("https://shop.example.com/", None)
    'direct'
    """
    params = query_params(page_url)
    medium = params.get("utm_medium", "").strip().lower() if params else ""
    if params and (has_paid_click_id(page_url) or medium in PAID_MEDIA
                   or medium.startswith("paid")):
        return "paid"
    ref_host = host_of(referrer)
    kind = _host_kind(ref_host) if ref_host is not None else None
    if medium in EMAIL_MEDIA or kind == "email":
        return "email"
    if medium in SOCIAL_MEDIA or kind == "social":
        return "social"
    if medium in SEARCH_MEDIA or kind == "search":
        return "search"
    page_host = host_of(page_url)
    if ref_host is not None and page_host is not None and _same_site(ref_host, page_host):
        return "internal"
    if ref_host is None and not (referrer or "").strip(" -") and not _has_utm(params):
        return "direct"
    return "other"


@lru_cache(maxsize=8192)
def _host_kind(host: str) -> str | None:
    """email / social / search for a well-known referrer host, else None (cached)."""
    if _is_webmail(host):
        return "email"
    if _on(host, SOCIAL_HOSTS):
        return "social"
    if SEARCH_HOST.search(host) is not None:
        return "search"
    return None


def _on(host: str | None, domains: frozenset[str]) -> bool:
    """``host`` is one of ``domains`` or a subdomain of one (l.facebook.com)."""
    if host is None:
        return False
    labels = host.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels) - 1))


def _is_webmail(host: str | None) -> bool:
    return host is not None and (_on(host, WEBMAIL_HOSTS) or "webmail" in host)


def _same_site(a: str, b: str) -> bool:
    a, b = a.removeprefix("www."), b.removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _has_utm(params: dict[str, str]) -> bool:
    return any(key.startswith("utm_") and value for key, value in params.items())
